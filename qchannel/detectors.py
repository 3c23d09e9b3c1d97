"""Single-photon detectors: validated parameter objects."""
import math
from dataclasses import asdict, dataclass

from qchannel.params import check_choice, check_prob, check_real, reject_unknown


@dataclass(frozen=True)
class DetectorSet:
    """Bob's detectors: two (active basis choice) or four (passive, a beam
    splitter picks the basis), all with the same efficiency.

    ``dark_count_prob`` is per gate per detector.  Each primary avalanche
    (signal or dark) triggers with ``afterpulse_prob`` one afterpulse of the
    same detector, delayed by 1 + Exp(``afterpulse_decay_ns``) gates (rounded
    down); afterpulses do not cascade (Lim et al., PRA 89, 022307 (2014)).
    After a click a detector is blind for gates that start less than
    ``dead_time_ns`` later."""

    efficiency: float = 0.1
    dark_count_prob: float = 6.0e-7
    afterpulse_prob: float = 0.04
    afterpulse_decay_ns: float = 10.0
    dead_time_ns: float = 0.0
    basis_choice: str = "active"

    KEYS = ("efficiency", "dark_count_prob", "afterpulse_prob", "afterpulse_decay_ns",
            "dead_time_ns", "basis_choice")

    def __post_init__(self):
        d = "detector"
        object.__setattr__(self, "efficiency", check_prob(f"{d}.efficiency", self.efficiency))
        object.__setattr__(self, "dark_count_prob", check_prob(f"{d}.dark_count_prob", self.dark_count_prob))
        if self.dark_count_prob >= 1.0:
            raise ValueError(f"{d}.dark_count_prob = {self.dark_count_prob} is out of range: must be in [0, 1)")
        object.__setattr__(self, "afterpulse_prob", check_prob(f"{d}.afterpulse_prob", self.afterpulse_prob))
        object.__setattr__(self, "afterpulse_decay_ns",
                           check_real(f"{d}.afterpulse_decay_ns", self.afterpulse_decay_ns, 0.0, 1.0e9))
        object.__setattr__(self, "dead_time_ns", check_real(f"{d}.dead_time_ns", self.dead_time_ns, 0.0, 1.0e9))
        check_choice(f"{d}.basis_choice", self.basis_choice, ("active", "passive"))

    @classmethod
    def from_dict(cls, d, section="detector"):
        reject_unknown(section, d, cls.KEYS)
        return cls(**d)

    def to_dict(self):
        return asdict(self)

    @property
    def n_detectors(self):
        return 2 if self.basis_choice == "active" else 4

    def dead_gates(self, rep_rate_hz):
        """Gates after a click during which the detector is blind."""
        gates = self.dead_time_ns * 1e-9 * rep_rate_hz
        return max(0, math.ceil(gates - 1e-9) - 1)

    def afterpulse_tau_gates(self, rep_rate_hz):
        return self.afterpulse_decay_ns * 1e-9 * rep_rate_hz
