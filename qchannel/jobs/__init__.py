"""The job registry: ``[protocol] type`` names the job a scenario describes.

Every job type registers one :class:`Job`: its schema (a scenario class
with ``from_dict``/``to_dict``/``replace``, validated before any work), its
run, its text report and, where one exists, its analytic twin.  The CLI,
:func:`load`, :func:`qchannel.simulate`, sweeps and theory all go through
here; nothing is guessed from which sections a file happens to hold.

Adding a job: write ``qchannel/jobs/<name>.py`` that builds a ``Job`` and
calls :func:`register`, and add the module to ``_JOB_MODULES``.
"""
from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from typing import Callable

from qchannel.params import check_table

DEFAULT_JOB = "decoy-bb84"

# Modules that register jobs, imported on first use (keeps ``import qchannel`` cheap).
_JOB_MODULES = (
    "qchannel.jobs.decoy_bb84",
    "qchannel.jobs.entanglement",
    "qchannel.jobs.teleportation",
    "qchannel.jobs.repeater",
    "qchannel.jobs.network",
    "qchannel.jobs.mdi",
    "qchannel.jobs.twin_field",
    "qchannel.jobs.qrng",
    "qchannel.jobs.routing",
)

# Sections that once selected a job by their presence: a clear error instead of a guess.
_LEGACY_SECTIONS = {"repeater": "repeater-chain", "network": "trusted-node-network",
                    "satellite": "bbm92"}


@dataclass(frozen=True)
class Job:
    """One job type.

    ``schema.from_dict(tables)`` validates a whole scenario (every check that
    can be made before the work) and returns a scenario with ``to_dict()``,
    ``replace(**dotted)`` and ``run`` (its [run] section: ``seed``, ``pulses``).
    ``run(scenario, progress=None, keys_out=None)`` returns a result with
    ``to_dict()``.  ``check(scenario)`` (optional) makes the checks that need
    more than the schema (memory a run will need, ...) and raises ValueError
    naming the key to change; it runs before any work (and returns the
    memory estimate in bytes).  ``theory(scenario, decoy)`` returns a
    JSON-able dict or is None.  ``report(d)`` formats a result dict as text.  ``headline`` lists
    the result fields a sweep puts first; ``sweep_skip`` the bulky per-bin
    fields it leaves out of its rows (they stay in ``qchannel run --json``).
    ``tiny(scenario)`` returns the same scenario made small enough to run in
    seconds (the example tests, the sanitizer run and the docs use it)."""

    name: str
    summary: str
    schema: type
    run: Callable
    report: Callable
    theory: Callable | None = None
    theory_report: Callable | None = None
    headline: tuple = ()
    sweep_skip: tuple = ()
    writes_keys: bool = False
    optimize: Callable | None = None
    check: Callable | None = None
    tiny: Callable | None = None
    extra: dict = field(default_factory=dict)


class DictResult:
    """A result that is already its report: ``to_dict()`` returns a copy."""

    def __init__(self, d):
        self._d = d

    def to_dict(self):
        return dict(self._d)


_REGISTRY: dict[str, Job] = {}
_MODULE_OF: dict[str, str] = {}     # job name -> the module that registered it
_loaded = False


def register(job: Job) -> Job:
    if job.name in _REGISTRY:
        raise RuntimeError(f"job {job.name!r} is registered twice")
    _REGISTRY[job.name] = job
    _MODULE_OF[job.name] = sys._getframe(1).f_globals.get("__name__", "")
    return job


def _load_all():
    global _loaded
    if not _loaded:
        _loaded = True
        for mod in _JOB_MODULES:
            importlib.import_module(mod)


def names() -> tuple:
    """The registered job names in ``_JOB_MODULES`` order (then registration
    order within a module), whichever module happened to be imported first."""
    _load_all()
    rank = {mod: i for i, mod in enumerate(_JOB_MODULES)}
    order = list(_REGISTRY)
    return tuple(sorted(order, key=lambda n: (rank.get(_MODULE_OF[n], len(rank)),
                                              order.index(n))))


def get(name) -> Job:
    """The job called ``name`` (ValueError naming the allowed ones).

    >>> from qchannel import jobs
    >>> jobs.get("repeater-chain").name in jobs.names()
    True
    >>> jobs.get("bb84")
    Traceback (most recent call last):
    ...
    ValueError: protocol.type = 'bb84' must be one of ...
    """
    _load_all()
    if name not in _REGISTRY:
        raise ValueError(f"protocol.type = {name!r} must be one of "
                         f"{', '.join(map(repr, names()))}")
    return _REGISTRY[name]


def job_name(tables) -> str:
    """The job a scenario's tables name in ``[protocol] type`` (default decoy-bb84)."""
    if not isinstance(tables, dict):
        raise ValueError("a scenario must be a table of sections")
    protocol = check_table("protocol", tables.get("protocol", {}))
    if "type" not in protocol:
        for section, job in _LEGACY_SECTIONS.items():
            if section in tables:
                raise ValueError(f"a scenario with a [{section}] section needs [protocol] "
                                 f"type = \"{job}\" (the job is never guessed)")
    name = protocol.get("type", DEFAULT_JOB)
    if not isinstance(name, str):
        raise ValueError(f"protocol.type = {name!r} must be a string naming the job")
    return name


def job_of(tables) -> Job:
    return get(job_name(tables))


def from_dict(tables):
    """Validate scenario tables through their job's schema."""
    return job_of(tables).schema.from_dict(tables)


def load(path=None):
    """Read and validate a scenario file (any job); ``None`` gives the
    default scenario (decoy BB84 over 50 km of fiber)."""
    if path is None:
        return get(DEFAULT_JOB).schema.default()
    from qchannel.scenario import read_toml

    try:
        return from_dict(read_toml(path))
    except ValueError as err:
        msg, shown = str(err), str(path)
        raise ValueError(msg if shown in msg or repr(shown) in msg
                         else f"{shown}: {msg}") from None


def job_for(scenario) -> Job:
    """The job of a validated scenario object (ValueError for anything else)."""
    name = getattr(scenario, "job", None)
    job = get(name) if isinstance(name, str) and name in names() else None
    if job is None or not isinstance(scenario, job.schema):
        raise ValueError(f"expected a scenario (from qchannel.load_scenario or a job's "
                         f"schema.from_dict), not {type(scenario).__name__} {scenario!r:.60}")
    return job
