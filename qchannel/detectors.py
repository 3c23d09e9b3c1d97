"""Single-photon detectors: validated parameter objects shared by every job."""
import math
from dataclasses import asdict, dataclass

from qchannel.params import check_choice, check_prob, check_real, reject_unknown


def dead_gates(dead_time_ns, rep_rate_hz):
    """Gates after a click during which a detector is blind: those that start
    less than ``dead_time_ns`` after the click's gate."""
    gates = dead_time_ns * 1e-9 * rep_rate_hz
    return max(0, math.ceil(gates - 1e-9) - 1)


@dataclass(frozen=True)
class DetectorSet:
    """Bob's detectors: two (active basis choice) or four (passive, a beam
    splitter picks the basis), all with the same efficiency.

    ``dark_count_prob`` is per gate per detector.  Each primary avalanche
    (signal or dark) triggers with ``afterpulse_prob`` one afterpulse of the
    same detector, delayed by 1 + Exp(``afterpulse_decay_ns``) gates (rounded
    down); afterpulses do not cascade (Lim et al., PRA 89, 022307 (2014)).
    After a click a detector is blind for gates that start less than
    ``dead_time_ns`` later.

    Against classical light sharing the fiber (``channel.classical``,
    :mod:`qchannel.coexistence`): the quantum-channel filter
    ``filter_bandwidth_nm`` (default 0.6), its isolation against the
    classical wavelengths ``filter_isolation_db`` (default 120) and the gate
    ``gate_width_ns`` (default 1, at most the pulse period)."""

    efficiency: float = 0.1
    dark_count_prob: float = 6.0e-7
    afterpulse_prob: float = 0.04
    afterpulse_decay_ns: float = 10.0
    dead_time_ns: float = 0.0
    basis_choice: str = "active"
    filter_bandwidth_nm: float = None
    gate_width_ns: float = None
    filter_isolation_db: float = None

    KEYS = ("efficiency", "dark_count_prob", "afterpulse_prob", "afterpulse_decay_ns",
            "dead_time_ns", "basis_choice", "filter_bandwidth_nm", "gate_width_ns",
            "filter_isolation_db")
    #: receiver filtering against classical light sharing the fiber
    #: (qchannel.coexistence); omitted from to_dict() when not given
    _OPTIONAL = {"filter_bandwidth_nm": (0.0, 100.0), "gate_width_ns": (0.0, 1.0e6),
                 "filter_isolation_db": (0.0, 300.0)}

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
        for key, (lo, hi) in self._OPTIONAL.items():
            if getattr(self, key) is not None:
                object.__setattr__(self, key, check_real(f"{d}.{key}", getattr(self, key), lo, hi,
                                                         lo_open=key != "filter_isolation_db"))

    @classmethod
    def from_dict(cls, d, section="detector"):
        reject_unknown(section, d, cls.KEYS)
        return cls(**d)

    def to_dict(self):
        return {k: v for k, v in asdict(self).items()
                if v is not None or k not in self._OPTIONAL}

    @property
    def n_detectors(self):
        return 2 if self.basis_choice == "active" else 4

    def dead_gates(self, rep_rate_hz):
        return dead_gates(self.dead_time_ns, rep_rate_hz)

    def afterpulse_tau_gates(self, rep_rate_hz):
        return self.afterpulse_decay_ns * 1e-9 * rep_rate_hz


@dataclass(frozen=True)
class SideDetector:
    """The detector pair of one side of an entangled-pair link: efficiency,
    dark counts per slot, dead time and rms timing ``jitter_ps``."""

    efficiency: float = 0.6
    dark_count_prob: float = 1.0e-6
    dead_time_ns: float = 0.0
    jitter_ps: float = 0.0

    KEYS = ("efficiency", "dark_count_prob", "dead_time_ns", "jitter_ps")

    @classmethod
    def from_dict(cls, d, section="detector"):
        reject_unknown(section, d, cls.KEYS)
        n = lambda k: f"{section}.{k}"  # noqa: E731
        return cls(
            efficiency=check_prob(n("efficiency"), d.get("efficiency", 0.6), lo_open=True),
            dark_count_prob=check_real(n("dark_count_prob"), d.get("dark_count_prob", 1e-6),
                                       0.0, 1.0, hi_open=True),
            dead_time_ns=check_real(n("dead_time_ns"), d.get("dead_time_ns", 0.0), 0.0, 1e9),
            jitter_ps=check_real(n("jitter_ps"), d.get("jitter_ps", 0.0), 0.0, 1e9))

    def to_dict(self):
        return asdict(self)

    def dead_gates(self, rep_rate_hz):
        return dead_gates(self.dead_time_ns, rep_rate_hz)
