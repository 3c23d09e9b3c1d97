"""Optical channels: validated parameter objects that yield transmittance."""
from dataclasses import asdict, dataclass, field

from qchannel.params import check_choice, check_prob, check_real, reject_unknown


@dataclass(frozen=True)
class FiberChannel:
    """Single-mode fiber: loss ``attenuation_db_per_km * length_km + extra_loss_db``;
    ``misalignment`` is the probability that a photon ends in the wrong detector
    of the matching basis (polarisation or phase error)."""

    length_km: float = 50.0
    attenuation_db_per_km: float = 0.2
    extra_loss_db: float = 0.0
    misalignment: float = 0.005
    type: str = field(default="fiber")

    KEYS = ("type", "length_km", "attenuation_db_per_km", "extra_loss_db", "misalignment")

    def __post_init__(self):
        c = "channel"
        check_choice(f"{c}.type", self.type, ("fiber",))
        object.__setattr__(self, "length_km", check_real(f"{c}.length_km", self.length_km, 0.0, 1.0e5))
        object.__setattr__(self, "attenuation_db_per_km",
                           check_real(f"{c}.attenuation_db_per_km", self.attenuation_db_per_km, 0.0, 100.0))
        object.__setattr__(self, "extra_loss_db",
                           check_real(f"{c}.extra_loss_db", self.extra_loss_db, 0.0, 1000.0))
        object.__setattr__(self, "misalignment", check_prob(f"{c}.misalignment", self.misalignment))
        if self.misalignment > 0.5:
            raise ValueError(f"{c}.misalignment = {self.misalignment} is out of range: must be in [0, 0.5]")

    @classmethod
    def from_dict(cls, d, section="channel"):
        reject_unknown(section, d, cls.KEYS)
        return cls(**d)

    def to_dict(self):
        return asdict(self)

    @property
    def loss_db(self):
        return self.attenuation_db_per_km * self.length_km + self.extra_loss_db

    def transmittance(self):
        return 10.0 ** (-self.loss_db / 10.0)
