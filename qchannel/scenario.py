"""Scenarios: TOML files with sections [source], [channel], [detector], [run],
[postprocess], validated into parameter objects.

Every key is checked: an unknown key, a wrong type or an out-of-range value
raises ``ValueError`` naming ``section.key`` and the allowed range.
"""
import math
from dataclasses import asdict, dataclass, field

from qchannel.channels import FiberChannel
from qchannel.detectors import DetectorSet
from qchannel.params import (check_choice, check_int, check_prob, check_real,
                             reject_unknown)
from qchannel.rng import SEED_MAX
from qchannel.sources import DecoyBB84Source

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MAX_PULSES = 2**32 * 2**24   # 2^32 blocks of 2^24 slots


@dataclass(frozen=True)
class RunConfig:
    """How much to simulate and with which seed."""

    pulses: int = 10**10
    seed: int = 1

    KEYS = ("pulses", "seed")

    def __post_init__(self):
        object.__setattr__(self, "pulses", check_int("run.pulses", self.pulses, 1, MAX_PULSES))
        object.__setattr__(self, "seed", check_int("run.seed", self.seed, 0, SEED_MAX))

    @classmethod
    def from_dict(cls, d, section="run"):
        reject_unknown(section, d, cls.KEYS)
        return cls(**d)

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class PostprocessConfig:
    """Security parameters and error correction.  ``ec = "estimate"`` counts
    the leakage as f_ec * n * h(QBER) instead of running a real code."""

    eps_sec: float = 1.0e-10
    eps_cor: float = 1.0e-15
    f_ec: float = 1.16
    ec: str = "estimate"

    KEYS = ("eps_sec", "eps_cor", "f_ec", "ec")
    EC_METHODS = ("estimate",)

    def __post_init__(self):
        s = "postprocess"
        object.__setattr__(self, "eps_sec", check_real(f"{s}.eps_sec", self.eps_sec, 0.0, 1.0, True, True))
        object.__setattr__(self, "eps_cor", check_real(f"{s}.eps_cor", self.eps_cor, 0.0, 1.0, True, True))
        object.__setattr__(self, "f_ec", check_real(f"{s}.f_ec", self.f_ec, 1.0, 10.0))
        check_choice(f"{s}.ec", self.ec, self.EC_METHODS)

    @classmethod
    def from_dict(cls, d, section="postprocess"):
        reject_unknown(section, d, cls.KEYS)
        return cls(**d)

    def to_dict(self):
        return asdict(self)


SECTIONS = {
    "source": DecoyBB84Source,
    "channel": FiberChannel,
    "detector": DetectorSet,
    "run": RunConfig,
    "postprocess": PostprocessConfig,
}


@dataclass(frozen=True)
class Scenario:
    """A complete link: what is sent, through what, detected how, simulated how."""

    source: DecoyBB84Source = field(default_factory=DecoyBB84Source)
    channel: FiberChannel = field(default_factory=FiberChannel)
    detector: DetectorSet = field(default_factory=DetectorSet)
    run: RunConfig = field(default_factory=RunConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise ValueError("a scenario must be a table of sections")
        unknown = sorted(set(d) - set(SECTIONS))
        if unknown:
            raise ValueError(f"[{unknown[0]}] is not a known section; allowed sections: "
                             f"{', '.join(SECTIONS)}")
        parts = {}
        for name, kind in SECTIONS.items():
            section = d.get(name, {})
            if not isinstance(section, dict):
                raise ValueError(f"{name} must be a section ([{name}]), not {section!r}")
            parts[name] = kind.from_dict(section, name)
        return cls(**parts)

    def to_dict(self):
        return {name: getattr(self, name).to_dict() for name in SECTIONS}

    def replace(self, **dotted):
        """A copy with dotted keys replaced, e.g. ``replace(**{"channel.length_km": 80})``."""
        d = self.to_dict()
        for key, value in dotted.items():
            section, _, name = key.partition(".")
            if section not in d or not name:
                raise ValueError(f"{key} is not a known key: use section.key "
                                 f"with a section in {', '.join(SECTIONS)}")
            d[section][name] = value
        return Scenario.from_dict(d)


def load_scenario(path=None):
    """Read and validate a scenario TOML file; ``None`` gives the default scenario."""
    if path is None:
        return Scenario()
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"scenario file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"scenario file {path} is not valid TOML: {err}") from None
    return Scenario.from_dict(data)
