"""Scenarios: TOML files validated into parameter objects.

``[protocol] type`` names the job (:mod:`qchannel.jobs`); this module holds
what every job's schema shares (reading TOML, dotted keys, the table-backed
scenario base, the ``[run]`` section) and the decoy-BB84 scenario with its
sections [protocol], [source], [channel], [detector], [run], [postprocess].

Every key is checked: an unknown key, a wrong type or an out-of-range value
raises ``ValueError`` naming ``section.key`` and the allowed range.
"""
import copy
import math
import re
from dataclasses import asdict, dataclass, field
from typing import ClassVar

from qchannel.channels import FiberChannel
from qchannel.freespace import CHANNEL_TYPES as FREE_SPACE_TYPES
from qchannel.freespace import FreeSpaceChannel
from qchannel.detectors import DetectorSet
from qchannel.links.base import MAX_PULSES, check_threads
from qchannel.params import (check_choice, check_int, check_prob, check_real, key_name,
                             reject_unknown)
from qchannel.rng import SEED_MAX
from qchannel.sources import DecoyBB84Source

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MAX_SCENARIO_BYTES = 16 * 2**20   # a scenario file is read whole: /dev/zero must not be


@dataclass(frozen=True)
class RunConfig:
    """How much to simulate and with which seed.

    Fiber links run ``pulses`` pulses (default 1e10).  Free-space and
    satellite links run for their pass or ``duration_s``: the pulse count
    follows from the rep rate, ``time_bin_s`` is the width of the bins of
    constant transmittance (default: the channel's) and ``report_bin_s`` the
    width of the bins of the per-time report.  ``threads``: how many threads
    simulate the link's blocks (default: every core this process may use;
    the results do not depend on it; ``--threads`` overrides it)."""

    pulses: int = None
    seed: int = 1
    time_bin_s: float = None
    report_bin_s: float = 1.0
    threads: int = None

    KEYS = ("pulses", "seed", "time_bin_s", "report_bin_s", "threads")
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
        if self.threads is not None:
            object.__setattr__(self, "threads", check_threads("run.threads", self.threads))

    @classmethod
    def from_dict(cls, d, section="run"):
        reject_unknown(section, d, cls.KEYS)
        return cls(**d)

    def to_dict(self):
        d = asdict(self)
        if d["threads"] is None:        # an execution setting: echoed only when given
            del d["threads"]
        return d


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


@dataclass(frozen=True)
class ProtocolSection:
    """``[protocol]`` of a decoy-BB84 scenario: only its ``type``."""

    type: str = "decoy-bb84"

    KEYS = ("type",)

    def __post_init__(self):
        check_choice("protocol.type", self.type, ("decoy-bb84",))

    @classmethod
    def from_dict(cls, d, section="protocol"):
        reject_unknown(section, d, cls.KEYS)
        return cls(**d)

    def to_dict(self):
        return asdict(self)


SECTIONS = {
    "protocol": ProtocolSection,
    "source": DecoyBB84Source,
    "channel": _ChannelSection,
    "detector": DetectorSet,
    "run": RunConfig,
    "postprocess": PostprocessConfig,
}


# --------------------------------------------------------------------------
# dotted keys: "channel.length_km", "channel.bob.loss_db", "network.links[2].length_km"
# --------------------------------------------------------------------------
_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")


def _parts(key):
    if not isinstance(key, str) or not key:
        raise ValueError(f"{key!r} is not a known key: use section.key")
    parts = []
    for part in key.split("."):
        m = _PART.match(part)
        if not m:
            raise ValueError(f"{key!r} is not a known key: use section.key "
                             f"(e.g. channel.length_km or network.links[0].length_km)")
        parts.append((m.group(1), None if m.group(2) is None else int(m.group(2))))
    if len(parts) < 2:
        raise ValueError(f"{key!r} is not a known key: use section.key")
    return parts


def set_dotted(tables, key, value):
    """Set a dotted key in nested scenario tables (in place); missing tables
    are created, a list index must exist."""
    node = tables
    parts = _parts(key)
    for i, (name, index) in enumerate(parts):
        last = i == len(parts) - 1
        if not isinstance(node, dict):
            raise ValueError(f"{key} is not a scenario key: "
                             f"{'.'.join(p for p, _ in parts[:i])} is not a table")
        if index is None:
            if last:
                node[name] = value
                return
            node = node.setdefault(name, {})
            continue
        seq = node.get(name)
        if not isinstance(seq, list) or not 0 <= index < len(seq):
            raise ValueError(f"{key} is not a scenario key: {name}[{index}] does not exist")
        if last:
            seq[index] = value
            return
        node = seq[index]


def get_dotted(tables, key, default=None):
    """The value of a dotted key in nested tables, or ``default``."""
    node = tables
    for name, index in _parts(key):
        if not isinstance(node, dict) or name not in node:
            return default
        node = node[name]
        if index is not None:
            if not isinstance(node, list) or not 0 <= index < len(node):
                return default
            node = node[index]
    return node


class ScenarioBase:
    """What every job's scenario offers: ``to_dict()`` (plain tables that
    ``from_dict`` accepts again), ``replace(**dotted)`` (a validated copy)
    and ``value(dotted)`` (a validated value, for sweep points)."""

    job: ClassVar[str] = None

    def replace(self, **dotted):
        """A validated copy with dotted keys replaced, e.g.
        ``replace(**{"channel.length_km": 80})``."""
        tables = self.to_dict()
        for key, value in dotted.items():
            set_dotted(tables, key, value)
        return type(self).from_dict(tables)

    def value(self, key):
        return get_dotted(self.to_dict(), key)


class TableScenario(ScenarioBase):
    """A scenario kept as its TOML tables, validated by the job's ``parse``
    (which returns the parsed configuration, ``self.config``).

    Subclasses set ``job``, ``SECTIONS`` (allowed sections), ``parse(tables)``
    and ``run_config(tables, config)`` (a :class:`RunSection`)."""

    SECTIONS: ClassVar[tuple] = ()

    def __init__(self, tables, config, run):
        self._tables = tables
        self.config = config
        self.run = run

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise ValueError("a scenario must be a table of sections")
        unknown = sorted(set(d) - set(cls.SECTIONS), key=str)
        if unknown:
            raise ValueError(f"[{key_name(unknown[0])}] is not a known section of a {cls.job} "
                             f"scenario; allowed sections: {', '.join(cls.SECTIONS)}")
        for name, section in d.items():
            if not isinstance(section, dict):
                raise ValueError(f"{name} must be a section ([{name}]), not {section!r}")
        tables = cls.normalize(copy.deepcopy(d))
        tables.setdefault("protocol", {}).setdefault("type", cls.job)
        config = cls.parse(tables)
        return cls(tables, config, cls.run_config(tables, config))

    @classmethod
    def normalize(cls, tables):
        """The canonical form of the tables (e.g. a legacy key moved to [run])."""
        return tables

    @classmethod
    def parse(cls, tables):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def run_config(cls, tables, config):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def default(cls):
        return cls.from_dict({})

    def to_dict(self):
        return copy.deepcopy(self._tables)

    def without(self, *sections):
        """The tables without some sections (for the protocol entry points)."""
        return {k: copy.deepcopy(v) for k, v in self._tables.items() if k not in sections}

    def __eq__(self, other):
        return type(other) is type(self) and other._tables == self._tables

    def __repr__(self):
        return f"{type(self).__name__}({self._tables!r})"


@dataclass(frozen=True)
class RunSection:
    """The [run] values every job shares: the seed, the pulses (trials)
    where the job has them (None where its size is set elsewhere), and the
    threads where its schema takes ``[run] threads`` (None: every core;
    :func:`qchannel.runner.run_scenario` applies it to the whole run)."""

    seed: int
    pulses: int = None
    threads: int = None

    def __post_init__(self):
        if self.threads is not None:
            object.__setattr__(self, "threads", check_threads("run.threads", self.threads))


def reject_run_pulses(tables, job, instead):
    """For jobs whose size is not a pulse count: a clear error for run.pulses."""
    run = tables.get("run", {})
    if "pulses" in run:
        raise ValueError(f"run.pulses does not apply to a {job} scenario: {instead}")


@dataclass(frozen=True)
class Scenario(ScenarioBase):
    """A decoy-BB84 link: what is sent, through what, detected how, simulated how."""

    job: ClassVar[str] = "decoy-bb84"

    protocol: ProtocolSection = field(default_factory=ProtocolSection)
    source: DecoyBB84Source = field(default_factory=DecoyBB84Source)
    channel: object = field(default_factory=FiberChannel)
    detector: DetectorSet = field(default_factory=DetectorSet)
    run: RunConfig = field(default_factory=RunConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    eve: object = None   # qchannel.eve.EveConfig: the link is attacked
    kms: object = None   # qchannel.kms.config.KmsConfig: SAEs served by `qchannel kms`

    def __post_init__(self):
        # keys that are valid alone but not together (qchannel.jobs.decoy_bb84)
        from qchannel.jobs.decoy_bb84 import check_combined

        check_combined(self)

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise ValueError("a scenario must be a table of sections")
        unknown = sorted(set(d) - set(SECTIONS) - {"eve", "kms"}, key=str)
        if unknown:
            raise ValueError(f"[{key_name(unknown[0])}] is not a known section of a decoy-bb84 "
                             f"scenario; allowed sections: {', '.join(SECTIONS)}")
        parts = {}
        for name, kind in SECTIONS.items():
            section = d.get(name, {})
            if not isinstance(section, dict):
                raise ValueError(f"{name} must be a section ([{name}]), not {section!r}")
            parts[name] = kind.from_dict(section, name)
        if "eve" in d:
            from qchannel.eve import EveConfig

            parts["eve"] = EveConfig.from_dict(d["eve"], "eve")
        if "kms" in d:
            from qchannel.kms.config import KmsConfig

            parts["kms"] = KmsConfig.from_dict(d["kms"], "kms")
        return cls(**parts)

    @classmethod
    def default(cls):
        """The scenario of ``qchannel run`` without a file: the defaults of
        every section, with real error correction (LDPC, batched SCMS
        decoder), verification and privacy amplification instead of the
        leakage estimate, so the run ends with two identical keys.  (A file
        that leaves ``[postprocess] ec`` out keeps the estimate.)"""
        return cls(postprocess=PostprocessConfig(ec="ldpc", ldpc_decoder="scms"))

    def to_dict(self):
        d = {name: getattr(self, name).to_dict() for name in SECTIONS}
        if self.eve is not None:
            d["eve"] = self.eve.to_dict()
        if self.kms is not None:
            d["kms"] = self.kms.to_dict()
        return d

    @property
    def is_free_space(self):
        return isinstance(self.channel, FreeSpaceChannel)


def read_toml(path):
    """The raw tables of a scenario file, with one-line errors naming the file."""
    import os
    import stat

    try:
        path = os.fspath(path)
        mode = os.stat(path).st_mode
    except TypeError:
        raise ValueError(f"a scenario file is given by its path, not {path!r}") from None
    except FileNotFoundError:
        raise ValueError(f"scenario file {path} does not exist") from None
    except (OSError, ValueError) as err:   # ValueError: a NUL byte in the name
        raise ValueError(f"scenario file {path!r} cannot be read: "
                         f"{getattr(err, 'strerror', None) or err}") from None
    if stat.S_ISDIR(mode):
        raise ValueError(f"scenario file {path} is a directory, not a TOML file")
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise ValueError(f"scenario file {path} is not a regular file (a device or a socket)")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_SCENARIO_BYTES + 1)
    except OSError as err:
        raise ValueError(f"scenario file {path} cannot be read: {err.strerror or err}") from None
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ValueError(f"scenario file {path} is larger than {MAX_SCENARIO_BYTES // 2**20} MiB: "
                         f"a scenario is a short text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        hint = (" (it looks like UTF-16 or UTF-32: save it as UTF-8)"
                if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or raw[:4] == b"\x00\x00\xfe\xff"
                else "")
        raise ValueError(f"scenario file {path} is not UTF-8 text: byte {err.start} "
                         f"cannot be decoded{hint}") from None
    if "\x00" in text:
        raise ValueError(f"scenario file {path} is not a text file (it holds NUL bytes)")
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))   # a UTF-8 byte-order mark is fine
    except RecursionError:
        raise ValueError(f"scenario file {path} is not valid TOML for qchannel: arrays or "
                         f"tables nested too deeply") from None
    except ValueError as err:   # TOMLDecodeError, or an integer too long to convert
        raise ValueError(f"scenario file {path} is not valid TOML: {err}") from None


def load_scenario(path=None):
    """Read and validate a scenario file of any job (see :mod:`qchannel.jobs`);
    ``None`` gives the default scenario (decoy BB84 over 50 km of fiber).

    Examples
    --------
    >>> import qchannel
    >>> sc = qchannel.load_scenario()            # no file: the default scenario
    >>> sc.job, sc.channel.length_km
    ('decoy-bb84', 50.0)
    >>> sc.replace(**{"channel.length_km": 80.0}).channel.length_km
    80.0
    >>> sc.replace(**{"channel.length_km": -1})
    Traceback (most recent call last):
    ...
    ValueError: channel.length_km = -1.0 is out of range: must be in [0.0, 100000.0]
    """
    from qchannel import jobs

    return jobs.load(path)
