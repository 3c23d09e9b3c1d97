"""Property-based fuzzing of the scenario loader (issue 13).

Valid documents come from each job's schema: its default scenario and every
example file of that job.  Hypothesis then mutates them: wrong types,
out-of-range and boundary numbers, NaN/inf, huge numbers, missing and extra
keys, unicode keys and values, sections replaced by scalars or lists, list
entries added or dropped.  ``qchannel.jobs.from_dict`` must return a
scenario or raise ``ValueError``; anything else (TypeError, KeyError,
OverflowError, RecursionError, ...) fails.  Every scenario that loads must
survive ``to_dict`` -> ``from_dict`` and ``replace()`` unchanged, and its
job's ``check`` hook (the checks made before any work) must also answer
with a ``ValueError`` or nothing.

Budget: 3000 + 300 + 600 + 200 examples, about 15 s on 2 shared cores
(``derandomize=True``: the same examples on every run).
"""
import copy
import datetime
import glob
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qchannel import jobs
from qchannel.scenario import read_toml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.toml")))

MUTATION_EXAMPLES = 3000
ROUNDTRIP_EXAMPLES = 300
FILE_EXAMPLES = 600


def _bases():
    """(label, tables) of valid documents: every job's default and every example."""
    out = []
    for name in jobs.names():
        out.append((f"default:{name}", jobs.get(name).schema.default().to_dict()))
    for path in EXAMPLES:
        out.append((os.path.basename(path), read_toml(path)))
    for label, doc in out:  # the seeds of the fuzzing must themselves be valid
        jobs.from_dict(copy.deepcopy(doc))
    return out


BASES = _bases()

# ---------------------------------------------------------------- values
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_unicode_key = st.sampled_from(["längë_km", "κ", "键", "🚀", "", " ", "type ", "a.b", "[x]",
                                "__class__", "\x00", "e\u0301", "\n", "a\nb"]) | _text
# from Python (not TOML) a table's keys can be anything hashable
_any_key = _unicode_key | st.sampled_from([0, 1, -1, 2.5, None, True, (1, 2), b"type"])
_floats = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 0.0,
                           1.0, -1.0, 0.5, 1.0 + 2**-52, 1 - 2**-53, 1e-300, 1e300, 2.0**63,
                           2.0**64, 1e19]) | st.floats(allow_nan=True, allow_infinity=True)
_ints = st.sampled_from([0, 1, -1, 2, 3, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64,
                         -2**63, 10**30, -10**30, 10**400]) | st.integers()
_scalars = (_floats | _ints | st.booleans() | _text
            | st.sampled_from([datetime.date(2016, 12, 19),
                               datetime.datetime(2016, 12, 19, 16, 30),
                               datetime.time(12, 0)]))
# the values that most often break a loader, tried on every key
_special = st.sampled_from([math.nan, math.inf, -math.inf, 10**400, -10**400, 10**5000, 1e308,
                            -1e308, 2**64, 2**63, -1, 0, 0.0, -0.0, 5e-324, True, False, "",
                            "nan", "∞", [], {}, [math.nan], [10**400], [[]], {"": None}])
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(_unicode_key, inner, max_size=3), max_leaves=6)


def _containers(node, path=()):
    """Every (path, container) of a document: tables and lists, nested."""
    yield path, node
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for k, v in items:
        if isinstance(v, (dict, list)):
            yield from _containers(v, path + (k,))


def _slots(doc):
    """Every (container, key) holding a value, sections included."""
    out = []
    for _, c in _containers(doc):
        keys = list(c) if isinstance(c, dict) else range(len(c))
        out.extend((c, k) for k in keys)
    return out


def _scale(v, factor):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return v
    try:
        r = v * factor
    except OverflowError:
        return math.inf
    return int(r) if isinstance(v, int) and isinstance(r, float) and math.isfinite(r) \
        and r == int(r) else r


@st.composite
def mutated_documents(draw):
    label, base = draw(st.sampled_from(BASES))
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace", "special", "special", "scale", "scale",
                                     "delete", "extra", "section", "list"]))
        slots = _slots(doc)
        if kind == "extra" or not slots:
            containers = [c for _, c in _containers(doc) if isinstance(c, dict)]
            target = draw(st.sampled_from(containers))
            target[draw(_any_key)] = copy.deepcopy(draw(_values))
            continue
        c, k = draw(st.sampled_from(slots))
        if kind == "replace":   # copies: drawn constants must not be mutated later
            c[k] = copy.deepcopy(draw(_values))
        elif kind == "special":
            c[k] = copy.deepcopy(draw(_special))
        elif kind == "scale":
            c[k] = _scale(c[k], draw(st.sampled_from(
                [-1, 0, 10, 1e3, 1e6, 1e12, 1e-3, 1e-9, 1e300, 2, 0.5, 1 + 1e-12])))
        elif kind == "delete":
            del c[k]
        elif kind == "section":
            sections = [s for s in doc if isinstance(doc[s], dict)]
            if sections:
                doc[draw(st.sampled_from(sections))] = copy.deepcopy(draw(
                    st.sampled_from([0, 1.5, "x", [], [{}], [1, 2], True, {}])))
        else:  # list: grow, shrink or empty a list (intensities, nodes, links, ...)
            lists = [x for _, x in _containers(doc) if isinstance(x, list)]
            if lists:
                lst = draw(st.sampled_from(lists))
                op = draw(st.sampled_from(["grow", "shrink", "empty", "dup"]))
                if op == "grow":
                    lst.append(copy.deepcopy(draw(_values)))
                elif op == "shrink" and lst:
                    lst.pop(draw(st.integers(0, len(lst) - 1)))
                elif op == "empty":
                    lst.clear()
                elif lst:
                    lst.append(copy.deepcopy(lst[0]))
    return label, doc


def _load_or_value_error(doc):
    """The scenario, or None after a ValueError; anything else propagates."""
    try:
        sc = jobs.from_dict(doc)
    except ValueError as err:
        msg = str(err)
        assert msg and "\n" not in msg, f"multi-line or empty message: {msg!r}"
        return None
    return sc


def _assert_round_trip(sc):
    again = type(sc).from_dict(sc.to_dict())
    assert again == sc and again.to_dict() == sc.to_dict()
    assert sc.replace() == sc
    assert jobs.from_dict(sc.to_dict()) == sc


def _check_hook(sc):
    job = jobs.job_for(sc)
    if job.check is not None:
        try:
            job.check(sc)
        except ValueError as err:
            assert "\n" not in str(err)


@settings(derandomize=True, deadline=None, max_examples=MUTATION_EXAMPLES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_documents())
def test_loader_returns_a_scenario_or_raises_value_error(case):
    _, doc = case
    sc = _load_or_value_error(copy.deepcopy(doc))
    if sc is not None:
        _assert_round_trip(sc)
        _check_hook(sc)


# ------------------------------------------------- valid documents, varied
def _numeric_leaves(doc):
    out = []
    for c, k in _slots(doc):
        v = c[k]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append((c, k))
    return out


@st.composite
def valid_variations(draw):
    """Documents near the valid ones: numbers nudged by small factors, so most
    still load and the round trip is exercised on many distinct scenarios."""
    label, base = draw(st.sampled_from(BASES))
    doc = copy.deepcopy(base)
    leaves = _numeric_leaves(doc)
    for _ in range(draw(st.integers(0, 4))):
        if not leaves:
            break
        c, k = draw(st.sampled_from(leaves))
        c[k] = _scale(c[k], draw(st.sampled_from([0.5, 0.9, 0.99, 1.01, 1.1, 2.0])))
    return label, doc


@settings(derandomize=True, deadline=None, max_examples=ROUNDTRIP_EXAMPLES,
          suppress_health_check=[HealthCheck.too_slow])
@given(valid_variations())
def test_valid_scenarios_round_trip(case):
    _, doc = case
    sc = _load_or_value_error(copy.deepcopy(doc))
    if sc is not None:
        _assert_round_trip(sc)


@pytest.mark.parametrize("label,doc", BASES, ids=[b[0] for b in BASES])
def test_every_seed_document_round_trips(label, doc):
    sc = jobs.from_dict(copy.deepcopy(doc))
    _assert_round_trip(sc)
    assert sc.job == jobs.job_name(doc)


def test_the_mutator_reaches_both_outcomes():
    """The fuzzer is not vacuous: among a fixed sample, some mutants load and
    some are rejected (so both branches of the property are exercised)."""
    outcomes = set()

    @settings(derandomize=True, deadline=None, max_examples=200, database=None)
    @given(mutated_documents())
    def probe(case):
        outcomes.add(_load_or_value_error(copy.deepcopy(case[1])) is None)

    probe()
    assert outcomes == {True, False}


# ------------------------------------------------------------ files
_EXAMPLE_TEXTS = [open(p, "rb").read() for p in EXAMPLES]


@st.composite
def file_bytes(draw):
    """Scenario files as bytes: random bytes, or an example with bytes
    flipped, cut, inserted, or re-encoded (UTF-16, BOM, Latin-1)."""
    kind = draw(st.sampled_from(["random", "flip", "cut", "insert", "encode"]))
    if kind == "random":
        return draw(st.binary(max_size=200))
    text = bytearray(draw(st.sampled_from(_EXAMPLE_TEXTS)))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(text) - 1))
            text[i] = draw(st.integers(0, 255))
    elif kind == "cut":
        text = text[:draw(st.integers(0, len(text)))]
    elif kind == "insert":
        i = draw(st.integers(0, len(text)))
        text[i:i] = draw(st.sampled_from([b"\x00", b"[", b"]]", b"=", b"\"", b"\n[run]\n",
                                          b"\nx = 1e400\n", b"\ny = " + b"9" * 5000 + b"\n",
                                          b"\nz = " + b"[" * 2000 + b"\n", "\u00e9".encode()]))
    else:
        enc = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-8-sig", "latin-1", "utf-32"]))
        text = bytearray(bytes(text).decode("utf-8").encode(enc, errors="replace"))
    return bytes(text)


@settings(derandomize=True, deadline=None, max_examples=FILE_EXAMPLES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(file_bytes())
def test_any_file_loads_or_raises_one_line_value_error(data):
    import tempfile

    from qchannel.scenario import load_scenario

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s.toml")
        with open(path, "wb") as f:
            f.write(data)
        try:
            load_scenario(path)
        except ValueError as err:
            assert "\n" not in str(err) and path in str(err)
