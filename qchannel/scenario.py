"""Scenarios: TOML files with sections [source], [channel], [detector], [run],
[postprocess], validated into parameter objects.

Every key is checked: an unknown key, a wrong type or an out-of-range value
raises ``ValueError`` naming ``section.key`` and the allowed range.
"""
import math
from dataclasses import asdict, dataclass, field

from qchannel.channels import FiberChannel
from qchannel.freespace import CHANNEL_TYPES as FREE_SPACE_TYPES
from qchannel.freespace import FreeSpaceChannel
from qchannel.detectors import DetectorSet
from qchannel.eve import EveConfig
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
    """How much to simulate and with which seed.

    Fiber links run ``pulses`` pulses (default 1e10).  Free-space and
    satellite links run for their pass or ``duration_s``: the pulse count
    follows from the rep rate, ``time_bin_s`` is the width of the bins of
    constant transmittance (default: the channel's) and ``report_bin_s`` the
    width of the bins of the per-time report."""

    pulses: int = None
    seed: int = 1
    time_bin_s: float = None
    report_bin_s: float = 1.0

    KEYS = ("pulses", "seed", "time_bin_s", "report_bin_s")
    DEFAULT_PULSES = 10**10

    def __post_init__(self):
        if self.pulses is not None:
            object.__setattr__(self, "pulses", check_int("run.pulses", self.pulses, 1, MAX_PULSES))
        object.__setattr__(self, "seed", check_int("run.seed", self.seed, 0, SEED_MAX))
        if self.time_bin_s is not None:
            object.__setattr__(self, "time_bin_s",
                               check_real("run.time_bin_s", self.time_bin_s, 1e-6, 3600.0))
        object.__setattr__(self, "report_bin_s",
                           check_real("run.report_bin_s", self.report_bin_s, 1e-6, 1e6))

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
    ldpc_decoder: str = "auto"

    KEYS = ("eps_sec", "eps_cor", "f_ec", "ec", "ldpc_decoder")
    EC_METHODS = ("estimate", "cascade", "ldpc")
    LDPC_DECODERS = ("auto", "scms", "spa", "minsum")

    def __post_init__(self):
        s = "postprocess"
        object.__setattr__(self, "eps_sec", check_real(f"{s}.eps_sec", self.eps_sec, 0.0, 1.0, True, True))
        object.__setattr__(self, "eps_cor", check_real(f"{s}.eps_cor", self.eps_cor, 0.0, 1.0, True, True))
        object.__setattr__(self, "f_ec", check_real(f"{s}.f_ec", self.f_ec, 1.0, 10.0))
        check_choice(f"{s}.ec", self.ec, self.EC_METHODS)
        check_choice(f"{s}.ldpc_decoder", self.ldpc_decoder, self.LDPC_DECODERS)

    @classmethod
    def from_dict(cls, d, section="postprocess"):
        reject_unknown(section, d, cls.KEYS)
        return cls(**d)

    def to_dict(self):
        return asdict(self)


def channel_from_dict(d, section="channel"):
    """A fiber (``type = "fiber"``, the default) or a free-space/satellite channel."""
    if isinstance(d, dict) and d.get("type", "fiber") in FREE_SPACE_TYPES:
        return FreeSpaceChannel.from_dict(d, section)
    if isinstance(d, dict) and d.get("type", "fiber") != "fiber":
        raise ValueError(f"{section}.type = {d['type']!r} must be one of "
                         f"{', '.join(map(repr, ('fiber',) + tuple(FREE_SPACE_TYPES)))}")
    return FiberChannel.from_dict(d, section)


class _ChannelSection:
    from_dict = staticmethod(channel_from_dict)


SECTIONS = {
    "source": DecoyBB84Source,
    "channel": _ChannelSection,
    "detector": DetectorSet,
    "run": RunConfig,
    "postprocess": PostprocessConfig,
}


@dataclass(frozen=True)
class Scenario:
    """A complete link: what is sent, through what, detected how, simulated how."""

    source: DecoyBB84Source = field(default_factory=DecoyBB84Source)
    channel: object = field(default_factory=FiberChannel)
    detector: DetectorSet = field(default_factory=DetectorSet)
    run: RunConfig = field(default_factory=RunConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    eve: EveConfig = None        # an [eve] section: the link is attacked (qchannel.eve)

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise ValueError("a scenario must be a table of sections")
        unknown = sorted(set(d) - set(SECTIONS) - {"eve"})
        if unknown:
            raise ValueError(f"[{unknown[0]}] is not a known section; allowed sections: "
                             f"{', '.join(SECTIONS)}, eve")
        parts = {}
        for name, kind in SECTIONS.items():
            section = d.get(name, {})
            if not isinstance(section, dict):
                raise ValueError(f"{name} must be a section ([{name}]), not {section!r}")
            parts[name] = kind.from_dict(section, name)
        if "eve" in d:
            parts["eve"] = EveConfig.from_dict(d["eve"])
        return cls(**parts)

    def to_dict(self):
        out = {name: getattr(self, name).to_dict() for name in SECTIONS}
        if self.eve is not None:
            out["eve"] = self.eve.to_dict()
        return out

    @property
    def is_free_space(self):
        return isinstance(self.channel, FreeSpaceChannel)

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


def read_toml(path):
    """The raw tables of a scenario file, with one-line errors."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (FileNotFoundError, IsADirectoryError):
        raise ValueError(f"scenario file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"scenario file {path} is not valid TOML: {err}") from None


def scenario_kind(data):
    """Which job a scenario file describes: "decoy-bb84" (prepare and measure),
    "entanglement" (BBM92, E91, teleportation), "repeater" or "network"."""
    if "repeater" in data:
        return "repeater"
    if "network" in data:
        return "network"
    protocol = data.get("protocol", {})
    source = data.get("source", {})
    if (isinstance(protocol, dict) and protocol.get("type") in ("bbm92", "e91", "teleportation")) \
            or (isinstance(source, dict) and source.get("type") == "spdc"):
        return "entanglement"
    return "decoy-bb84"


def load_scenario(path=None):
    """Read and validate a decoy-BB84 scenario TOML file; ``None`` gives the
    default scenario."""
    if path is None:
        return Scenario()
    return Scenario.from_dict(read_toml(path))
