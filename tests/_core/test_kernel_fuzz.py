"""Property-based fuzzing of every compiled entry point of ``qchannel._core``
(issue 13: no call from Python can crash a kernel).

Each case draws a valid argument set for one ``def`` of the compiled core
(right shapes, small sizes), then at most one mutation of one argument: an
array made short, long, empty, None, a list, of another dtype or number of
dimensions, non-contiguous, read-only, shuffled, or one element set to a
hostile value (NaN, inf, an out-of-range index, huge, negative); a scalar made
negative, huge, NaN/inf, fractional, a string or None.  The call must either
return a result that meets the entry point's contract (checked per case,
against a NumPy reference where one is cheap) or raise ValueError / TypeError.
Any other exception fails the test; a crash (segfault, SIGFPE) kills the run,
which fails it too, and a hang is ended by a faulthandler watchdog.

Unmutated draws must succeed: the checks reject bad input, never good input.
``derandomize=True`` draws the same examples on every run.  ``attacks.pyx``
is fuzzed with the attack models (another module owns it).
"""
import faulthandler
import math
import pathlib
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qchannel._core import cascade as k_cascade
from qchannel._core import decoherence as k_deco
from qchannel._core import entangled as k_ent
from qchannel._core import ldpc as k_ldpc
from qchannel._core import mdi as k_mdi
from qchannel._core import philox as k_philox
from qchannel._core import repeater as k_rep
from qchannel._core import toeplitz as k_tk
from qchannel._core import transport as k_tr

EXAMPLES = 150          # per entry point (40 entry points): about 15 s in all
WATCHDOG_S = 120        # a single entry point's examples take well under a second each

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

NAN, INF = float("nan"), float("inf")


@pytest.fixture(autouse=True)
def _watchdog():
    # A kernel that loops forever would stall the suite: dump the stacks and
    # exit instead (the run then fails).
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


# ------------------------------------------------------------------ arguments

class Arg:
    """One positional argument: ``kind`` selects its hostile values."""

    def __init__(self, value, kind):
        self.value = value
        self.kind = kind


# Integers a kernel must reject (or, for bool/float, refuse by type).  Sizes
# and budgets get no huge *valid* value (2^31 items would be a legitimate but
# enormous run); seeds and indices do.
BAD_INT = [-1, -(2**31) - 1, -(2**63), -(2**63) - 1, 2**63, 2**64, 2**70, 1.5, NAN, "3",
           None, np.float64(1.0), np.array([1, 2]), 1j]
BIG_OK_INT = [0, 2**31, 2**32 - 1, 2**32, 2**62, 2**64 - 1, np.uint64(2**64 - 1), True]
BAD_REAL = [NAN, INF, -INF, -0.5, 1.5, -1e-300, 1e300, -1e300, 2**2000, "0.5", None, 1j,
            np.float32("nan"), np.array([0.5, 0.5]), 0, 1]
BAD_OBJ = [None, "x", -1, 3, 2**70, NAN, 1.5, [], object()]


def _int_value(data, kind):
    pool = BAD_INT + (BIG_OK_INT if kind in ("u64", "u32", "int") else [])
    return data.draw(st.sampled_from(pool))


def _element_value(data, arr):
    dt = arr.dtype
    if dt.kind == "f":
        return data.draw(st.sampled_from([NAN, INF, -INF, -1.0, 2.0, 1e300, -1e300, 5e-324,
                                          -0.0, 0.5, 0.0, 1.0]))
    if dt.kind == "c":
        return data.draw(st.sampled_from([complex(NAN, 0), complex(INF, 1), 1e300 + 0j, 0j]))
    if dt.kind in "iu":
        info = np.iinfo(dt)
        n = arr.shape[0] if arr.ndim else 1
        special = [info.min, info.max, 0, 1, n, n + 1, n - 1]
        special = [v for v in special if info.min <= v <= info.max]
        if dt.kind == "i":
            special += [-1, -2]
        return data.draw(st.one_of(st.sampled_from(special),
                                   st.integers(int(info.min), int(info.max))))
    return data.draw(st.sampled_from([0, 1, 2, 255]))


ARRAY_MUTATIONS = ["none", "list", "dtype", "short", "long", "empty", "ndim", "noncontig",
                   "readonly", "element", "element", "element", "shuffle"]
DTYPES = [np.float64, np.float32, np.int64, np.int32, np.uint8, np.uint16, np.uint32,
          np.uint64, np.int8, np.complex128, np.bool_]


def _mutate_array(data, a):
    how = data.draw(st.sampled_from(ARRAY_MUTATIONS))
    if how == "none":
        return None
    if how == "list":
        return a.tolist()
    if how == "dtype":
        dt = data.draw(st.sampled_from([d for d in DTYPES if np.dtype(d) != a.dtype]))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")         # complex -> real drops imaginary parts
            return a.astype(dt)
    if how == "short":
        return a[:-1].copy() if a.shape[0] else a.copy()
    if how == "long":
        extra = a[-1:] if a.shape[0] else np.zeros((1,) + a.shape[1:], a.dtype)
        return np.concatenate([a, extra])
    if how == "empty":
        return a[:0].copy()
    if how == "ndim":
        return a.reshape((1,) + a.shape) if data.draw(st.booleans()) or a.ndim == 1 \
            else a.reshape(-1).copy()
    if how == "noncontig":
        return np.repeat(a, 2, axis=a.ndim - 1)[..., ::2]
    if how == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    if how == "shuffle":
        b = a.copy().reshape(-1)
        np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).shuffle(b)
        return b.reshape(a.shape)
    b = a.copy()                                     # "element"
    if b.size:
        flat = b.reshape(-1)
        i = data.draw(st.integers(0, flat.size - 1))
        with np.errstate(all="ignore"):
            flat[i] = _element_value(data, b)
    return b


def _mutate_list(data, v):
    how = data.draw(st.sampled_from(["element", "short", "long", "empty", "none", "str",
                                     "floats"]))
    v = list(v)
    if how == "element" and v:
        v[data.draw(st.integers(0, len(v) - 1))] = data.draw(st.sampled_from(BAD_INT + [0]))
    elif how == "short":
        v = v[:-1]
    elif how == "long":
        v = v + v[-1:] * data.draw(st.sampled_from([1, 1100]))
    elif how == "empty":
        v = []
    elif how == "none":
        return None
    elif how == "str":
        return "abcd"
    elif how == "floats":
        return np.asarray(v, dtype=float) + 0.5
    return v


def _mutate(data, arg):
    k = arg.kind
    if k in ("u64", "u32", "int", "size"):
        return _int_value(data, k)
    if k == "real":
        return data.draw(st.sampled_from(BAD_REAL))
    if k == "obj":
        return data.draw(st.sampled_from(BAD_OBJ))
    if k == "list":
        return _mutate_list(data, arg.value)
    if k == "state":
        s = k_tr.DetectorState()
        s.next_block = 3
        return data.draw(st.sampled_from([None, object(), s, 0]))
    if k == "arr":
        return _mutate_array(data, arg.value)
    raise AssertionError(k)


def _fuzz(data, fn, args, check):
    """Call ``fn`` on the valid ``args`` or on one mutation of them."""
    values = [a.value for a in args]
    mutated = data.draw(st.integers(0, 5)) > 0            # 1 in 6 draws stays valid
    if mutated:
        i = data.draw(st.sampled_from([j for j, a in enumerate(args) if a.kind != "fixed"]))
        values[i] = _mutate(data, args[i])
    try:
        result = fn(*values)
    except (ValueError, TypeError) as exc:
        assert mutated, f"valid arguments rejected: {exc!r}"
        return
    check(values, result)


def _rng(data):
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))


def _seed_args(data):
    return [Arg(data.draw(st.integers(0, 2**64 - 1)), "u64"),
            Arg(data.draw(st.integers(0, 2**32 - 1)), "u32"),
            Arg(data.draw(st.integers(0, 2**32 - 1)), "u32")]


# ------------------------------------------------------------------ philox

def _check_stream(kind):
    def check(v, out):
        n = v[3]
        assert out.shape == (n,)
        if kind == "uniform":
            assert np.all((out > 0) & (out < 1))
        elif kind == "bits":
            assert np.all(out <= 1)
        elif kind == "perm":
            assert np.array_equal(np.sort(out), np.arange(n))
    return check


@pytest.mark.parametrize("name", ["stream_u64", "stream_u32", "stream_uniform", "stream_bits",
                                  "stream_permutation"])
@FUZZ
@given(data=st.data())
def test_fuzz_philox_streams(name, data):
    args = _seed_args(data) + [Arg(data.draw(st.integers(0, 200)), "size")]
    kind = {"stream_uniform": "uniform", "stream_bits": "bits",
            "stream_permutation": "perm"}.get(name, "words")
    _fuzz(data, getattr(k_philox, name), args, _check_stream(kind))


@FUZZ
@given(data=st.data())
def test_fuzz_philox_binomial(data):
    n = data.draw(st.one_of(st.integers(0, 100), st.integers(0, 2**62)))
    args = _seed_args(data) + [Arg(n, "int"), Arg(data.draw(st.floats(0, 1)), "real"),
                               Arg(data.draw(st.integers(0, 50)), "size")]

    def check(v, out):
        assert out.shape == (v[5],) and np.all((out >= 0) & (out <= v[3]))
    _fuzz(data, k_philox.stream_binomial, args, check)


@FUZZ
@given(data=st.data())
def test_fuzz_philox_block(data):
    args = [Arg([data.draw(st.integers(0, 2**64 - 1)) for _ in range(4)], "list"),
            Arg([data.draw(st.integers(0, 2**64 - 1)) for _ in range(2)], "list")]

    def check(v, out):
        assert len(out) == 4 and all(0 <= x < 2**64 for x in out)
    _fuzz(data, k_philox.philox4x64_10_block, args, check)


# ------------------------------------------------------------------ cascade

@FUZZ
@given(data=st.data())
def test_fuzz_cascade_permutation(data):
    args = [Arg(data.draw(st.integers(0, 300)), "size"),
            Arg(data.draw(st.integers(0, 2**64 - 1)), "u64"),
            Arg(data.draw(st.integers(0, 2**32 - 1)), "u32"),
            Arg(data.draw(st.integers(0, 2**32 - 1)), "u32")]

    def check(v, out):
        assert np.array_equal(np.sort(out), np.arange(v[0]))
    _fuzz(data, k_cascade.permutation, args, check)


@FUZZ
@given(data=st.data())
def test_fuzz_cascade_keys_and_width(data):
    args = [Arg(data.draw(st.integers(0, 2**64 - 1)), "u64"),
            Arg(data.draw(st.integers(0, 2**32 - 1)), "u32"),
            Arg(data.draw(st.integers(0, 2**32 - 1)), "u32")]
    def check_k(v, out):
        assert len(out) == 4 and all(0 <= x < 2**64 for x in out)
    _fuzz(data, k_cascade.pass_keys, args, check_k)

    def check_w(v, w):
        assert 4**w >= v[0] and (w == 1 or 4 ** (w - 1) < v[0])
    _fuzz(data, k_cascade.halfwidth, [Arg(data.draw(st.integers(0, 2**32 - 1)), "u32")], check_w)


@FUZZ
@given(data=st.data())
def test_fuzz_cascade_run(data):
    r = _rng(data)
    N = data.draw(st.integers(1, 300))
    a = r.integers(0, 2, N, dtype=np.uint8)
    b = a ^ (r.random(N) < data.draw(st.floats(0, 0.3))).astype(np.uint8)
    frames = data.draw(st.integers(1, min(N, 3)))
    ks = data.draw(st.lists(st.one_of(st.integers(1, 2 * N), st.sampled_from([-1, -2, -3])),
                            min_size=1, max_size=5))
    args = [Arg(a, "arr"), Arg(b, "arr"), Arg(frames, "size"), Arg(ks, "list"),
            Arg(data.draw(st.booleans()), "obj"), Arg(data.draw(st.integers(0, 3)), "size"),
            Arg(data.draw(st.integers(0, 20)), "size"), Arg(data.draw(st.booleans()), "obj"),
            Arg(data.draw(st.booleans()), "obj"), Arg(data.draw(st.integers(0, 2**64 - 1)), "u64")]

    def check(v, res):
        out, leak, rounds, resid, bic, nerr = res
        alice, bob, f = np.asarray(v[0]), np.asarray(v[1]), v[2]
        assert out.shape == alice.shape and np.all(out <= 1)
        assert leak.shape == (f,) and int(nerr.sum()) == int(np.count_nonzero(alice != bob))
        assert int(resid.sum()) == int(np.count_nonzero(out != alice))
    _fuzz(data, k_cascade.run, args, check)


# ------------------------------------------------------------------ decoherence

@FUZZ
@given(data=st.data())
def test_fuzz_drift_walk(data):
    args = _seed_args(data) + [Arg(data.draw(st.integers(0, 300)), "size"),
                               Arg(data.draw(st.floats(0, 1)), "real"),
                               Arg(data.draw(st.integers(0, 50)), "size")]

    def check(v, out):
        assert out.shape == (v[3],) and (v[3] == 0 or out[0] == 0.0)
    _fuzz(data, k_deco.drift_walk, args, check)


def _rho(r, n):
    return r.normal(size=(n, 4, 4)) + 1j * r.normal(size=(n, 4, 4))


@pytest.mark.parametrize("name", ["depolarize", "dephase", "memory_decay"])
@FUZZ
@given(data=st.data())
def test_fuzz_qubit_channels(name, data):
    r = _rng(data)
    n = data.draw(st.integers(0, 4))
    rho = _rho(r, n)
    if name == "memory_decay":
        t1 = data.draw(st.floats(1e-3, 10))
        params = [Arg(r.random(n) * 5, "arr"), Arg(t1, "real"),
                  Arg(t1 * data.draw(st.floats(0.01, 2)), "real")]
    else:
        params = [Arg(r.random(n), "arr")]
    args = [Arg(rho, "arr")] + params + [Arg(data.draw(st.integers(0, 1)), "int")]
    trace0 = np.trace(rho, axis1=1, axis2=2).copy()

    def check(v, out):
        # every channel here is trace preserving, whatever the (finite) matrix;
        # rho changes in place, so compare with its trace before the call
        assert out.shape == np.shape(v[0])
        if v[0] is rho and np.all(np.isfinite(out)):
            assert np.allclose(np.trace(out, axis1=1, axis2=2), trace0, atol=1e-9)
    _fuzz(data, getattr(k_deco, name), args, check)


# ------------------------------------------------------------------ repeater

@FUZZ
@given(data=st.data())
def test_fuzz_repeater_chain(data):
    count = data.draw(st.integers(0, 4))
    p = data.draw(st.floats(0.05, 1.0))
    f0 = data.draw(st.floats(0.5, 1.0))
    rows = count + data.draw(st.integers(0, 2))
    args = [Arg(data.draw(st.integers(0, 2**64 - 1)), "u64"),
            Arg(data.draw(st.integers(0, 2**32 - 1)), "u32"),
            Arg(data.draw(st.integers(0, 2**40)), "int"), Arg(count, "size"),
            Arg(data.draw(st.integers(1, 8)), "size"),
            Arg(math.log1p(-p) if p < 1 else -INF, "real"),
            Arg(data.draw(st.floats(0.3, 1.0)), "real"),
            Arg(np.array([f0] + [(1 - f0) / 3] * 3), "arr"),
            Arg(data.draw(st.integers(0, 2)), "int"), Arg(data.draw(st.floats(0, 0.01)), "real"),
            Arg(data.draw(st.integers(0, 2)), "int"),
            Arg(data.draw(st.one_of(st.just(-1), st.integers(0, 50))), "size"),
            Arg(data.draw(st.integers(0, 3000)), "size"),
            Arg(np.zeros(rows, np.int64), "arr"), Arg(np.zeros((rows, 4)), "arr"),
            Arg(np.zeros(rows), "arr")]

    def check(v, lost):
        n, max_slots = v[3], v[12]
        wait, states = np.asarray(v[13])[:n], np.asarray(v[14])[:n]
        assert lost == int(np.count_nonzero(wait == -1))
        ok = wait >= 0
        assert np.all(wait[ok] >= 1) and np.all(wait[ok] <= max_slots)
        assert np.all(np.isfinite(states[ok]))
    _fuzz(data, k_rep.simulate_chain, args, check)


@pytest.mark.parametrize("name", ["swap", "purify"])
@FUZZ
@given(data=st.data())
def test_fuzz_bell_diagonal(name, data):
    r = _rng(data)
    a, b = r.dirichlet(np.ones(4)), r.dirichlet(np.ones(4))
    if name == "swap":
        fn, args = k_rep.swap_bell_diagonal, [Arg(a, "arr"), Arg(b, "arr")]
    else:
        fn = k_rep.purify_bell_diagonal
        args = [Arg(data.draw(st.sampled_from([1, 2])), "int"), Arg(a, "arr"), Arg(b, "arr")]

    def check(v, out):
        state = out if name == "swap" else out[1]
        assert state.shape == (4,)
        if name == "swap":   # a convolution: total probability multiplies
            assert math.isclose(state.sum(), np.sum(v[0]) * np.sum(v[1]), abs_tol=1e-12)
    _fuzz(data, fn, args, check)


# ------------------------------------------------------------------ entangled

def _segments(data, max_len=1500):
    g = data.draw(st.integers(1, 3))
    lens = [data.draw(st.integers(0, max_len)) for _ in range(g)]
    seg = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    total = int(seg[-1])
    start = data.draw(st.integers(0, total))
    return g, seg, start, data.draw(st.integers(0, total - start))


def _gap(p):
    return np.array([1.0 / math.log1p(-x) if x > 0 else 0.0 for x in p])


@FUZZ
@given(data=st.data())
def test_fuzz_entangled_block(data):
    r = _rng(data)
    G, seg, start, n = _segments(data)
    N = data.draw(st.integers(1, 4))
    pn = r.random((G, N)) + 1e-3
    ncdf = np.cumsum(pn, axis=1) / pn.sum(axis=1, keepdims=True)
    eta = r.random((G, 2)) * np.array(data.draw(st.sampled_from([[1, 1], [0, 1], [1, 0]])))
    eta[r.random((G, 2)) < 0.2] = 1.0
    dark = r.random((G, 2)) * 0.05
    lg = np.where(eta < 1, np.log1p(-eta.clip(0, 1 - 1e-12)), -745.0)
    side = np.ascontiguousarray(np.hstack([eta, dark, lg]))
    nA, nB = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    a_cdf = np.cumsum(r.random(nA) + 0.1)
    b_cdf = np.cumsum(r.random(nB) + 0.1)
    eve = data.draw(st.sampled_from([0.0, 0.0, 1.0, 0.37]))
    nE = data.draw(st.integers(1, 2)) if eve > 0 else data.draw(st.integers(0, 2))
    last = np.full(4, -(1 << 62), np.int64)
    if start > 0 and data.draw(st.booleans()):
        last = r.integers(-(1 << 62), start, 4).astype(np.int64)
    args = [Arg(data.draw(st.integers(0, 2**64 - 1)), "u64"),
            Arg(data.draw(st.integers(0, 2**32 - 1)), "u32"), Arg(start, "int"), Arg(n, "size"),
            Arg(seg, "arr"), Arg(_gap(r.random(G) * 0.3), "arr"), Arg(ncdf, "arr"),
            Arg(side, "arr"), Arg(a_cdf / a_cdf[-1], "arr"), Arg(b_cdf / b_cdf[-1], "arr"),
            Arg(r.uniform(-1, 1, (G, nA, nB)), "arr"), Arg(data.draw(st.integers(0, 1)), "int"),
            Arg(eve, "real"), Arg(r.uniform(-1, 1, (G, nA, nE)), "arr"),
            Arg(r.uniform(-1, 1, (G, nE, nB)), "arr"),
            Arg(data.draw(st.integers(0, 5)), "size"), Arg(data.draw(st.integers(0, 5)), "size"),
            Arg(last, "arr"), Arg(data.draw(st.floats(0, 1e4)), "real")]

    def check(v, res):
        slots, a_set, b_set, a_bit, b_bit, flags, singles = res
        lo, hi = v[2], v[2] + v[3]
        assert np.all(np.diff(slots) > 0) and np.all((slots >= lo) & (slots < hi))
        assert len({len(x) for x in (slots, a_set, b_set, a_bit, b_bit, flags)}) == 1
        assert np.all(a_set < len(v[8])) and np.all(b_set < len(v[9]))
        assert np.all(a_bit <= 1) and np.all(b_bit <= 1) and np.all(flags < 16)
        assert singles.shape == (2,) and np.all(singles >= 0)
    _fuzz(data, k_ent.run_block, args, check)


@FUZZ
@given(data=st.data())
def test_fuzz_entangled_binomial(data):
    n = data.draw(st.integers(0, 2**40))
    args = _seed_args(data) + [Arg(n, "int"), Arg(data.draw(st.floats(0, 1)), "real")]
    def check(v, x):
        assert 0 <= x <= v[3]
    _fuzz(data, k_ent.binomial_draw, args, check)


# ------------------------------------------------------------- two senders

def _relay_classes(data, r, with_basis):
    out = []
    for _ in range(2):
        k = data.draw(st.integers(1, 4))
        p = r.random(k) + 0.05
        args = [Arg(np.round(r.random(k) * 0.8, 3), "arr"), Arg(p / p.sum(), "arr")]
        if with_basis:
            args.append(Arg(r.integers(0, 2, k).astype(np.uint8), "arr"))
        out.append(args)
    return out


def _relay_physics(data):
    return [Arg(data.draw(st.floats(0, 1)), "real"), Arg(data.draw(st.floats(0, 1)), "real"),
            Arg(data.draw(st.sampled_from([0.0, 1e-6, 0.01, 0.5])), "real"),
            Arg(data.draw(st.floats(0, 1)), "real")]


def _relay_span(data):
    bs = data.draw(st.integers(1, 5000))
    pulses = data.draw(st.integers(1, 6 * bs))
    n_blocks = -(-pulses // bs)
    b0 = data.draw(st.integers(0, n_blocks - 1))
    b1 = data.draw(st.integers(b0 + 1, n_blocks))
    return b0, b1, pulses, bs


def _check_events(na, nb, n_slots, data_col, noclick, n_ev):
    assert n_ev == len(data_col) and noclick.sum() + n_ev == n_slots
    assert np.all(noclick >= 0) and noclick.shape[-1] == na * nb
    assert np.all(data_col[:, 0] < na) and np.all(data_col[:, 1] < nb)


@FUZZ
@given(data=st.data())
def test_fuzz_mdi_blocks(data):
    """mdi_blocks (and mdi_block on one block): every slot of the chunk is
    either an event or counted without a click, per class pair."""
    r = _rng(data)
    (a, b) = _relay_classes(data, r, True)
    b0, b1, pulses, bs = _relay_span(data)
    one = data.draw(st.booleans())
    head = ([Arg(data.draw(st.integers(0, 2**64 - 1)), "u64"), Arg(b0, "u32"),
             Arg(min(bs, pulses - b0 * bs), "size")] if one else
            [Arg(data.draw(st.integers(0, 2**64 - 1)), "u64"), Arg(b0, "int"), Arg(b1, "int"),
             Arg(pulses, "size"), Arg(bs, "size")])
    args = head + a + b + _relay_physics(data) + [
        Arg(data.draw(st.floats(-3.14, 3.14)), "real"),
        Arg(data.draw(st.integers(1, 30_000)), "size")]

    def check(v, res):
        if one:
            complete, slot, ev, noclick = res
            n_slots = v[2]
        else:
            complete, ev, noclick = res
            n_slots = min(v[2] * v[4], v[3]) - v[1] * v[4]
        na, nb = len(v[len(head)]), len(v[len(head) + 3])
        if not complete:
            assert noclick.sum() == 0 and len(ev) <= v[-1]
            return
        assert ev.shape[1] == 4 and np.all((ev[:, 3] >= 1) & (ev[:, 3] < 16))
        _check_events(na, nb, n_slots, ev, noclick, len(ev))
    _fuzz(data, k_mdi.mdi_block if one else k_mdi.mdi_blocks, args, check)


@FUZZ
@given(data=st.data())
def test_fuzz_tf_blocks(data):
    """tf_blocks (and tf_block): events in increasing slots inside the chunk,
    the rest counted without a click, the walk state moved to the last
    event only when the call completes."""
    r = _rng(data)
    (a, b) = _relay_classes(data, r, False)
    b0, b1, pulses, bs = _relay_span(data)
    one = data.draw(st.booleans())
    start = b0 * bs
    last = -1 if start == 0 or data.draw(st.booleans()) else int(r.integers(0, start))
    walk = [Arg(np.array([data.draw(st.floats(-10, 10))]), "arr"),
            Arg(np.array([last], np.int64), "arr")]
    head = ([Arg(data.draw(st.integers(0, 2**64 - 1)), "u64"), Arg(b0, "u32"), Arg(start, "int"),
             Arg(min(bs, pulses - start), "size")] if one else
            [Arg(data.draw(st.integers(0, 2**64 - 1)), "u64"), Arg(b0, "int"), Arg(b1, "int"),
             Arg(pulses, "size"), Arg(bs, "size")])
    args = head + a + b + _relay_physics(data) + [
        Arg(data.draw(st.floats(0, 1e-3)), "real"), Arg(data.draw(st.integers(1, 10**6)), "size"),
        Arg(data.draw(st.floats(0, 1)), "real")] + walk + [
        Arg(data.draw(st.integers(1, 30_000)), "size")]
    fn = k_mdi.tf_block if one else k_mdi.tf_blocks

    def call(*v):       # the walk state as it was before the call, and the result
        return (np.array(v[-3], copy=True), np.array(v[-2], copy=True)), fn(*v)

    def check(v, out):
        (ws0, wl0), res = out
        na, nb = len(v[len(head)]), len(v[len(head) + 2])
        ws, wl = v[-3], v[-2]
        if one:
            complete, slot, ev, phase, noclick = res
            lo, n_slots = v[2], v[3]
            slot = slot + lo
        else:
            complete, counts, slot, ev, phase, noclick = res
            lo = v[1] * v[4]
            n_slots = min(v[2] * v[4], v[3]) - lo
        if not complete:            # the walk state untouched
            assert np.array_equal(ws, ws0) and np.array_equal(wl, wl0)
            return
        assert np.all(np.diff(slot) > 0) and np.all((slot >= lo) & (slot < lo + n_slots))
        assert len(phase) == len(ev) == len(slot)
        if len(slot):
            assert int(wl[0]) == slot[-1] and float(ws[0]) == phase[-1, 2]
        if not one:
            assert counts.sum() == len(slot)
        _check_events(na, nb, n_slots, ev, noclick, len(ev))
    _fuzz(data, call, args, check)


@FUZZ
@given(data=st.data())
def test_fuzz_philox_binomial_firsts(data):
    r = _rng(data)
    m = data.draw(st.integers(0, 6))
    args = [Arg(data.draw(st.integers(0, 2**64 - 1)), "u64"),
            Arg(data.draw(st.integers(0, 2**32 - 1)), "u32"),
            Arg(r.integers(0, 2**32, m).astype(np.int64), "arr"),
            Arg(r.integers(0, 10**6, m).astype(np.int64), "arr"),
            Arg(data.draw(st.floats(0, 1)), "real")]

    def check(v, out):
        assert out.shape == (len(v[2]),) and np.all((out >= 0) & (out <= np.asarray(v[3])))
    _fuzz(data, k_philox.stream_binomial_firsts, args, check)


# ------------------------------------------------------------------ transport

def _transport_tables(data, r, G, n_det, K):
    masks = range(1, 1 << n_det)
    code = np.array([k | a << 4 | b << 5 | m << 6 for k in range(K) for a in (0, 1)
                     for b in (0, 1) for m in masks], dtype=np.uint16)
    n_out = len(code)
    w = r.random((G, n_out)) + 1e-3
    cum = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
    thr = np.where(cum >= 1.0, 2.0**64 - 2048, np.ldexp(cum, 64)).astype(np.uint64)
    M = 1 << int(math.ceil(math.log2(n_out)))
    starts = np.arange(M, dtype=np.uint64) << np.uint64(64 - M.bit_length() + 1)
    guide = np.array([np.minimum(np.searchsorted(thr[g], starts, side="right"), n_out - 1)
                      for g in range(G)], dtype=np.uint16)
    return code, thr, guide


@FUZZ
@given(data=st.data())
def test_fuzz_transport_block(data):
    r = _rng(data)
    G, seg, start, n = _segments(data)
    n_det, K = data.draw(st.sampled_from([2, 4])), data.draw(st.integers(1, 3))
    code, thr, guide = _transport_tables(data, r, G, n_det, K)
    args = [Arg(data.draw(st.integers(0, 2**64 - 1)), "u64"), Arg(0, "u32"), Arg(start, "int"),
            Arg(n, "size"), Arg(seg, "arr"), Arg(_gap(r.random(G) * 0.3), "arr"),
            Arg(thr, "arr"), Arg(guide, "arr"), Arg(code, "arr"),
            Arg(r.random((G, K)) / K, "arr"), Arg(n_det, "int"),
            Arg(data.draw(st.floats(0, 1)), "real"),
            Arg(data.draw(st.sampled_from([0.0, 0.05, 1.0])), "real"),
            Arg(data.draw(st.sampled_from([0.0, 3.0, INF])), "real"),
            Arg(data.draw(st.integers(0, 5)), "size"), Arg(int(seg[-1]), "int"),
            Arg(k_tr.DetectorState(), "state"), Arg(data.draw(st.floats(0, 1e4)), "real")]

    def check(v, res):
        slot, cls, a_basis, a_bit, b_basis, b_bit, flags, sent = res
        lo, hi = v[2], v[2] + v[3]
        assert np.all(np.diff(slot) > 0) and np.all((slot >= lo) & (slot < hi))
        assert len({len(x) for x in (slot, cls, a_basis, a_bit, b_basis, b_bit, flags)}) == 1
        K_ = np.shape(v[9])[1]
        assert np.all(cls < K_) and np.all(a_basis <= 1) and np.all(b_basis <= 1)
        assert np.all(a_bit <= 1) and np.all(b_bit <= 1) and np.all(flags < 8)
        # every slot of the block is sent in exactly one class
        assert sent.shape == (K_,) and np.all(sent >= 0) and int(sent.sum()) == v[3]
    _fuzz(data, k_tr.run_block, args, check)


# ------------------------------------------------------------------ LDPC

def _csr(data, r):
    n, m = data.draw(st.integers(1, 30)), data.draw(st.integers(1, 15))
    rows = [np.sort(r.choice(n, data.draw(st.integers(0, n)), replace=False)) for _ in range(m)]
    row_ptr = np.concatenate([[0], np.cumsum([len(x) for x in rows])]).astype(np.int32)
    cols = np.concatenate(rows + [np.zeros(0)]).astype(np.int32)
    return n, m, row_ptr, cols


def _h_times(row_ptr, cols, x):
    rp, c, x = np.asarray(row_ptr), np.asarray(cols), np.asarray(x).astype(np.int64) & 1
    return np.array([int(x[c[rp[i]:rp[i + 1]]].sum()) & 1 for i in range(len(rp) - 1)],
                    dtype=np.uint8)


@FUZZ
@given(data=st.data())
def test_fuzz_ldpc_syndrome(data):
    r = _rng(data)
    n, m, rp, cols = _csr(data, r)
    args = [Arg(rp, "arr"), Arg(cols, "arr"), Arg(r.integers(0, 2, n, dtype=np.uint8), "arr"),
            Arg(np.zeros(m + data.draw(st.integers(0, 2)), np.uint8), "arr")]

    def check(v, res):
        m_ = len(v[0]) - 1
        assert np.array_equal(np.asarray(v[3])[:m_], _h_times(v[0], v[1], v[2]))
    _fuzz(data, k_ldpc.syndrome, args, check)


@pytest.mark.parametrize("name", ["decode_layered", "decode_spa"])
@FUZZ
@given(data=st.data())
def test_fuzz_ldpc_decoders(name, data):
    r = _rng(data)
    n, m, rp, cols = _csr(data, r)
    iters = data.draw(st.integers(1, 5))
    args = [Arg(rp, "arr"), Arg(cols, "arr"), Arg(r.integers(0, 2, m, dtype=np.uint8), "arr"),
            Arg(np.zeros(len(cols), np.float32), "arr"),
            Arg((r.normal(size=n) * 3).astype(np.float32), "arr"), Arg(iters, "size")]
    if name == "decode_layered":
        args.append(Arg(data.draw(st.floats(0.5, 1.0)), "real"))

    def check(v, res):
        assert -v[5] <= res <= v[5]
        if res >= 0:     # success: the hard decisions meet the syndrome
            hard = (np.asarray(v[4]) < 0).astype(np.uint8)
            assert np.array_equal(_h_times(v[0], v[1], hard), np.asarray(v[2])[:len(v[0]) - 1])
    _fuzz(data, getattr(k_ldpc, name), args, check)


@FUZZ
@given(data=st.data())
def test_fuzz_ldpc_small_helpers(data):
    r = _rng(data)
    n, m, rp, cols = _csr(data, r)
    L = r.normal(size=n).astype(np.float32)
    def check_h(v, _):
        assert np.array_equal(np.asarray(v[1]), (np.asarray(v[0]) < 0).astype(np.uint8))
    _fuzz(data, k_ldpc.hard_decision, [Arg(L, "arr"), Arg(np.zeros(n, np.uint8), "arr")],
          check_h)

    def check_c(v, res):
        assert 0 <= res <= v[2]
    _fuzz(data, k_ldpc.count_4cycles_vars, [Arg(rp, "arr"), Arg(cols, "arr"), Arg(n, "size")],
          check_c)
    table, mbits, emin = k_ldpc.phi_table()
    assert table.size > 0 and np.all(np.isfinite(table))
    assert k_ldpc.scms_simd() in (True, False)


@FUZZ
@given(data=st.data())
def test_fuzz_ldpc_build_graph(data):
    n = data.draw(st.integers(2, 30))
    vd = np.array([data.draw(st.integers(1, 3)) for _ in range(n)], np.int32)
    m = data.draw(st.integers(1, n))
    E = int(vd.sum())
    cd = np.array([E // m + (i < E % m) for i in range(m)], np.int32)
    fixed = None
    if data.draw(st.booleans()):
        fixed = np.repeat(np.arange(m, dtype=np.int32), cd)[:data.draw(st.integers(0, E - 1))]
    args = [Arg(vd, "arr"), Arg(cd, "arr")] + _seed_args(data) + [
        Arg(fixed, "arr" if fixed is not None else "fixed"),
        Arg(data.draw(st.sampled_from([-1, 0, 10, 200])), "size"),
        Arg(data.draw(st.sampled_from([-1, 0, 10, 200])), "size")]

    def check(v, res):
        row_ptr, cols, unresolved = res
        var_deg, chk_deg = np.asarray(v[0]), np.asarray(v[1])
        assert np.array_equal(np.diff(row_ptr), chk_deg)
        assert np.array_equal(np.bincount(cols, minlength=len(var_deg)), var_deg)
        assert 0 <= unresolved <= len(var_deg)
    _fuzz(data, k_ldpc.build_graph, args, check)


@FUZZ
@given(data=st.data())
def test_fuzz_ldpc_degree2_pairs(data):
    r = _rng(data)
    # valid draws leave room for every pair (m=2, count=2 has none: it used to
    # loop for ever and is now a ValueError)
    m = data.draw(st.integers(10, 40))
    chain = r.permutation(m)[:data.draw(st.integers(0, m))].astype(np.int32)
    count = data.draw(st.integers(0, m // 5))
    args = [Arg(m, "size"), Arg(chain, "arr"), Arg(count, "size")] + _seed_args(data) + [
        Arg(data.draw(st.integers(3, 12)), "size"), Arg(data.draw(st.integers(5, 7)), "size")]

    def check(v, res):
        pairs, relaxed = res
        assert pairs.shape == (v[2], 2) and np.all((pairs >= 0) & (pairs < v[0]))
        assert np.all(pairs[:, 0] != pairs[:, 1]) and 0 <= relaxed <= v[2]
    _fuzz(data, k_ldpc.degree2_pairs, args, check)


def _scms_state(r, n, m, E):
    W = k_ldpc.SCMS_LANES
    return dict(L=r.integers(-60, 60, (n, W), dtype=np.int8), qsign=np.zeros(E, np.uint32),
                qnz=np.zeros(E, np.uint32), m1s=np.zeros((m, W), np.uint8),
                m2s=np.zeros((m, W), np.uint8), idx=np.zeros((m, W), np.uint8),
                par=np.zeros(m, np.uint32))


@FUZZ
@given(data=st.data())
def test_fuzz_ldpc_scms(data):
    r = _rng(data)
    n, m, rp, cols = _csr(data, r)
    st_ = _scms_state(r, n, m, len(cols))
    W = k_ldpc.SCMS_LANES
    lanes = r.choice(W, data.draw(st.integers(2, W)), replace=False)
    active = int(np.bitwise_or.reduce(1 << lanes))
    budget = r.integers(1, 5, W).astype(np.int32)
    args = [Arg(rp, "arr"), Arg(cols, "arr"), Arg(r.integers(0, 2**32, m, dtype=np.uint32), "arr")]
    args += [Arg(st_[k], "arr") for k in ("L", "qsign", "qnz", "m1s", "m2s", "idx", "par")]
    args += [Arg(active, "u32"), Arg(budget, "arr"), Arg(np.zeros(W, np.int32), "arr"),
             Arg(np.zeros((W, n), np.uint8), "arr"), Arg(data.draw(st.integers(1, 32)), "int"),
             Arg(data.draw(st.integers(0, 10)), "int"), Arg(data.draw(st.integers(1, 127)), "int"),
             Arg(data.draw(st.booleans()), "obj")]

    # A huge budget is legitimate and would run long on a lane that never
    # converges; with one mutation at a time at least one of the two or more
    # active lanes keeps a budget below 5, which ends the call.
    def check(v, done):
        assert done & ~int(v[10]) == 0
    _fuzz(data, k_ldpc.decode_scms_lanes, args, check)
    lane = data.draw(st.integers(0, W - 1))
    st2 = _scms_state(r, n, m, len(cols))
    args2 = [Arg(lane, "int"), Arg(r.integers(-100, 100, n, dtype=np.int8), "arr")]
    args2 += [Arg(st2[k], "arr") for k in ("L", "qsign", "qnz", "m1s", "m2s", "idx", "par")]

    def check2(v, _):
        if isinstance(v[2], np.ndarray) and v[2] is st2["L"]:
            assert np.array_equal(v[2][:, int(v[0])], np.asarray(v[1]))
    _fuzz(data, k_ldpc.scms_reset_lane, args2, check2)
    st3 = _scms_state(r, n, m, len(cols))
    perm = r.permutation(n).astype(np.int64)
    nk = data.draw(st.integers(0, n))
    nknown = data.draw(st.integers(0, n - nk))
    args3 = [Arg(lane, "int"), Arg(data.draw(st.integers(1, 127)), "int"),
             Arg(perm[:nk].copy(), "arr"), Arg(r.integers(0, 2, nk, dtype=np.uint8), "arr"),
             Arg(perm[nk:nk + nknown].copy(), "arr"),
             Arg(r.integers(0, 2, nknown, dtype=np.uint8), "arr"),
             Arg(r.integers(0, 2, m, dtype=np.uint8), "arr"),
             Arg(np.zeros(m, np.uint32), "arr")]
    args3 += [Arg(st3[k], "arr") for k in ("L", "qsign", "qnz", "m1s", "m2s", "idx", "par")]

    def check3(v, _):
        if isinstance(v[8], np.ndarray) and v[8] is st3["L"] and isinstance(v[2], np.ndarray):
            col = v[8][:, int(v[0])]
            assert np.array_equal(np.abs(col[np.asarray(v[2])]), np.full(len(v[2]), int(v[1])))
    _fuzz(data, k_ldpc.scms_load_lane, args3, check3)


@FUZZ
@given(data=st.data())
def test_fuzz_ldpc_spa_lanes(data):
    r = _rng(data)
    n, m, rp, cols = _csr(data, r)
    W = k_ldpc.SPA_LANES
    lanes = r.choice(W, data.draw(st.integers(2, W)), replace=False)
    active = int(np.bitwise_or.reduce(1 << lanes))
    budget = r.integers(1, 5, W).astype(np.int32)
    args = [Arg(rp, "arr"), Arg(cols, "arr"), Arg(r.integers(0, 256, m, dtype=np.uint8), "arr"),
            Arg(np.zeros((len(cols), W), np.float32), "arr"),
            Arg((r.normal(size=(n, W)) * 3).astype(np.float32), "arr"), Arg(active, "u32"),
            Arg(budget, "arr"), Arg(np.zeros(W, np.int32), "arr"),
            Arg(data.draw(st.booleans()), "obj")]

    # As for SCMS: with one mutation at a time one of the two or more active
    # lanes keeps a budget below 5, which ends the call.
    def check(v, done):
        assert done & ~int(v[5]) == 0
        for l in range(W):
            if (done >> l) & 1:     # success: lane l's hard decisions meet its syndrome
                hard = (np.asarray(v[4])[:, l] < 0).astype(np.uint8)
                want = (np.asarray(v[2])[:len(v[0]) - 1] >> l) & 1
                assert np.array_equal(_h_times(v[0], v[1], hard), want)
    _fuzz(data, k_ldpc.decode_spa_lanes, args, check)
    lane = data.draw(st.integers(0, W - 1))
    Ls = np.zeros((n, W), np.float32)
    args2 = [Arg(lane, "int"), Arg(r.normal(size=n).astype(np.float32), "arr"),
             Arg(r.integers(0, 2, m, dtype=np.uint8), "arr"), Arg(np.zeros(m, np.uint8), "arr"),
             Arg(Ls, "arr"), Arg(np.ones((len(cols), W), np.float32), "arr")]

    def check2(v, _):
        if isinstance(v[4], np.ndarray) and v[4] is Ls and isinstance(v[1], np.ndarray):
            assert np.array_equal(v[4][:, int(v[0])], np.asarray(v[1]))
    _fuzz(data, k_ldpc.spa_load_lane, args2, check2)
    st4 = _scms_state(r, n, m, len(cols))
    for k in ("m1s", "m2s", "idx"):
        st4[k][:] = r.integers(0, 50, st4[k].shape, dtype=np.uint8)
    st4["par"][:] = r.integers(0, 2**32, m, dtype=np.uint32)
    st4["qsign"][:] = r.integers(0, 2**32, len(cols), dtype=np.uint32)
    args4 = [Arg(data.draw(st.integers(0, k_ldpc.SCMS_LANES - 1)), "int"), Arg(rp, "arr")]
    args4 += [Arg(st4[k], "arr") for k in ("m1s", "m2s", "idx", "par", "qsign")]
    args4 += [Arg(np.zeros(len(cols), np.int8), "arr")]

    def check4(v, _):
        rp_, l = np.asarray(v[1]), int(v[0])
        chk = np.repeat(np.arange(len(rp_) - 1), np.diff(rp_))
        pos = np.arange(len(chk)) - rp_[chk]
        mag = np.where(np.asarray(v[4])[chk, l] == pos, np.asarray(v[3])[chk, l],
                       np.asarray(v[2])[chk, l]).astype(np.int64)
        neg = ((np.asarray(v[5])[chk] ^ np.asarray(v[6])) >> l) & 1
        assert np.array_equal(np.asarray(v[7]), np.where(neg == 1, -mag, mag))
    _fuzz(data, k_ldpc.scms_messages, args4, check4)


# ------------------------------------------------------------------ Toeplitz

def _bits_of(words, nbits):
    w = np.ascontiguousarray(words, dtype=np.uint64)
    return np.unpackbits(w.view(np.uint8), bitorder="little")[:nbits]


@FUZZ
@given(data=st.data())
def test_fuzz_toeplitz_middle_product(data):
    r = _rng(data)
    n, m = data.draw(st.integers(1, 300)), data.draw(st.integers(1, 150))
    s = r.integers(0, 2, n + m - 1, dtype=np.uint8)
    b = r.integers(0, 2, n, dtype=np.uint8)
    methods = ["auto", "direct"] + (["fft"] if k_tk.fft_plan(n, m) is not None else [])
    args = [Arg(k_tk.pack_bits(s)[0], "arr"), Arg(k_tk.pack_bits(b)[0], "arr"), Arg(n, "size"),
            Arg(m, "size"), Arg(data.draw(st.sampled_from(methods)), "obj"),
            Arg(data.draw(st.sampled_from([None] + list(range(k_tk.CPU_LEVEL + 1)))), "obj"),
            Arg(None, "obj")]

    def check(v, out):
        n_, m_ = v[2], v[3]
        with np.errstate(all="ignore"):
            sb, bb = _bits_of(v[0], n_ + m_ - 1), _bits_of(v[1], n_)
        T = sb[np.arange(m_)[:, None] - np.arange(n_)[None, :] + n_ - 1].astype(np.int64)
        assert np.array_equal(k_tk.unpack_bits(out, m_), (T @ bb) % 2)
    _fuzz(data, k_tk.middle_product_words, args, check)


@FUZZ
@given(data=st.data())
def test_fuzz_toeplitz_helpers(data):
    r = _rng(data)
    bits = r.integers(0, 2, data.draw(st.integers(0, 300)), dtype=np.uint8)

    def check_pack(v, res):
        w, orr = res
        if orr <= 1:
            flat = np.asarray(v[0], dtype=np.uint8).reshape(-1)
            assert np.array_equal(k_tk.unpack_bits(w, flat.size), flat)
    _fuzz(data, k_tk.pack_bits, [Arg(bits, "arr")], check_pack)
    words = r.integers(0, 2**63, data.draw(st.integers(0, 5)), dtype=np.uint64)
    nbits = data.draw(st.integers(0, 64 * len(words)))

    def check_unpack(v, out):
        assert np.array_equal(out, _bits_of(v[0], v[1]))
    _fuzz(data, k_tk.unpack_bits, [Arg(words, "arr"), Arg(nbits, "size")], check_unpack)
    nm = [Arg(data.draw(st.integers(1, 10**5)), "size"),
          Arg(data.draw(st.integers(1, 10**5)), "size")]

    def check_plan(v, p):
        assert p is None or 1 <= p[0] <= 24
    _fuzz(data, k_tk.fft_plan, nm, check_plan)

    def check_choice(v, x):
        assert x in ("direct", "fft")
    _fuzz(data, k_tk.choose_method, nm, check_choice)
    ab = [Arg(data.draw(st.integers(0, 2**128 - 1)), "int"),
          Arg(data.draw(st.integers(0, 2**128 - 1)), "int")]

    def check_mul(v, x):
        assert 0 <= x < 2**128 and x == k_tk.gf128_mul_reference(v[1], v[0])
    _fuzz(data, k_tk.gf128_mul_reference, ab, check_mul)

    def check_basis(v, x):
        assert len(x) == v[0]
    _fuzz(data, k_tk.cantor_basis, [Arg(data.draw(st.integers(0, 16)), "size")], check_basis)


@FUZZ
@given(data=st.data())
def test_fuzz_toeplitz_additive_fft(data):
    r = _rng(data)
    K = data.draw(st.integers(0, 6))
    co = r.integers(0, 2**63, (1 << K, 2), dtype=np.uint64)
    args = [Arg(co, "arr"), Arg(K, "size"), Arg(data.draw(st.booleans()), "obj"),
            Arg(data.draw(st.sampled_from([None] + list(range(k_tk.CPU_LEVEL + 1)))), "obj")]

    def check(v, out):
        assert out.shape == (1 << v[1], 2)
        back = k_tk.additive_fft(out, v[1], not v[2])
        assert np.array_equal(back, np.ascontiguousarray(v[0], dtype=np.uint64))
    _fuzz(data, k_tk.additive_fft, args, check)


# ------------------------------------------------------------------ targeted cases

def test_repeater_times_saturate_instead_of_overflowing():
    # p ~ 1e-30: a geometric gap near 1e30 slots does not fit int64 (the cast
    # was undefined behaviour and delivered garbage); every realisation is
    # past max_slots, also with max_slots and the cutoff at 2^62.
    n = 5
    init = np.array([0.9] + [0.1 / 3] * 3)

    def run(log1m_p, cutoff, max_slots):
        wait, states, stored = np.zeros(n, np.int64), np.zeros((n, 4)), np.zeros(n)
        lost = k_rep.simulate_chain(1, 2, 0, n, 4, log1m_p, 0.9, init, 0, 0.0, 0, cutoff,
                                    max_slots, wait, states, stored)
        return lost, wait, states
    for cutoff, max_slots in [(-1, 10**6), (2**62, 2**62), (5, 2**62)]:
        lost, wait, _ = run(-1e-30, cutoff, max_slots)
        assert lost == n and np.all(wait == -1)
    # a cutoff of 2^62 slots never fires: same chains as no cutoff at all
    a, b = run(math.log1p(-0.01), -1, 2**62), run(math.log1p(-0.01), 2**62, 2**62)
    assert a[0] == b[0] == 0 and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])


def test_degree2_pairs_and_build_graph_stop_when_impossible():
    # both used to loop for ever: two checks cannot take two pairs at
    # distance >= 3, and one variable with a double edge has no swap partner
    with pytest.raises(ValueError, match="no room"):
        k_ldpc.degree2_pairs(2, np.zeros(0, np.int32), 2, 1, 2, 3, 3, 3)
    row_ptr, cols, unresolved = k_ldpc.build_graph(np.array([2], np.int32),
                                                   np.array([2], np.int32), 1, 2, 3)
    assert unresolved == 1 and cols.tolist() == [0, 0]


# ------------------------------------------------------------------ python -O

# Inputs that the kernels once guarded only with ``assert`` (or not at all):
# each must raise ValueError under ``python -O`` too, where asserts are gone.
_OPTIMISED_SCRIPT = textwrap.dedent('''
    import numpy as np
    from qchannel._core import (cascade, decoherence, entangled, ldpc, philox, repeater,
                                toeplitz, transport)
    i32, f32 = np.int32, np.float32
    rp, cols = np.array([0, 2, 9], i32), np.array([0, 1, 0, 1], i32)
    cases = {
        "transport short seg_start": lambda: transport.run_block(
            1, 0, 0, 10, np.array([0], np.int64), np.array([-1.0]),
            np.zeros((1, 2), np.uint64), np.zeros((1, 2), np.uint16),
            np.array([64, 128], np.uint16), np.full((1, 1), 0.5), 2, 0.5, 0.0, 0.0, 0, 10,
            transport.DetectorState()),
        "transport guide past outcomes": lambda: transport.run_block(
            1, 0, 0, 10, np.array([0, 10], np.int64), np.array([-1.0]),
            np.zeros((1, 2), np.uint64), np.full((1, 2), 9, np.uint16),
            np.array([64, 128], np.uint16), np.full((1, 1), 0.5), 2, 0.5, 0.0, 0.0, 0, 10,
            transport.DetectorState()),
        "entangled short side": lambda: entangled.run_block(
            1, 0, 0, 10, np.array([0, 10], np.int64), np.array([-1.0]), np.ones((1, 1)),
            np.zeros((0, 6)), np.ones(1), np.ones(1), np.zeros((1, 1, 1)), 0, 0.0,
            np.zeros((1, 1, 0)), np.zeros((1, 0, 1)), 0, 0, np.full(4, -2**62, np.int64)),
        "entangled binomial nan": lambda: entangled.binomial_draw(1, 2, 3, 100, float("nan")),
        "philox binomial nan": lambda: philox.stream_binomial(1, 2, 3, 100, float("nan"), 5),
        "repeater short state": lambda: repeater.simulate_chain(
            1, 2, 0, 3, 2, -0.1, 1.0, np.ones(4) / 4, 0, 0.0, 0, -1, 100,
            np.zeros(1, np.int64), np.zeros((1, 4)), np.zeros(1)),
        "repeater swap short": lambda: repeater.swap_bell_diagonal(np.ones(3), np.ones(4)),
        "decoherence t2 > 2 t1 on qubit 0": lambda: decoherence.memory_decay(
            np.zeros((1, 4, 4), complex), np.ones(1), 1.0, 5.0, 0),
        "decoherence short p": lambda: decoherence.depolarize(
            np.zeros((2, 4, 4), complex), np.ones(1), 0),
        "cascade short bob": lambda: cascade.run(
            np.zeros(10, np.uint8), np.zeros(5, np.uint8), 1, [4], 0, 0, 0, 0, 0, 1),
        "cascade zero block": lambda: cascade.run(
            np.zeros(10, np.uint8), np.zeros(10, np.uint8), 1, [0], 0, 0, 0, 0, 0, 1),
        "ldpc bogus row_ptr": lambda: ldpc.decode_spa(
            rp, cols, np.zeros(2, np.uint8), np.zeros(4, f32), np.zeros(2, f32), 5),
        "ldpc syndrome short x": lambda: ldpc.syndrome(
            np.array([0, 2], i32), np.array([0, 7], i32), np.zeros(2, np.uint8),
            np.zeros(1, np.uint8)),
        "ldpc degrees differ": lambda: ldpc.build_graph(
            np.array([2, 2], i32), np.array([3], i32), 1, 2, 3),
        "ldpc hard_decision short out": lambda: ldpc.hard_decision(
            np.zeros(8, f32), np.zeros(2, np.uint8)),
        "toeplitz short words": lambda: toeplitz.unpack_bits(np.zeros(1, np.uint64), 100),
        "toeplitz short seed": lambda: toeplitz.middle_product_words(
            np.zeros(1, np.uint64), np.zeros(2, np.uint64), 100, 50),
        "toeplitz K past tables": lambda: toeplitz.additive_fft(np.zeros((2, 2), np.uint64), 64),
    }
    bad = []
    for name, call in cases.items():
        try:
            call()
        except ValueError:
            continue
        except Exception as exc:
            bad.append(f"{name}: {exc!r}")
        else:
            bad.append(f"{name}: no error")
    print("\\n".join(bad) if bad else f"ok {len(cases)}")
''')


def test_bad_inputs_raise_value_error_under_python_O():
    root = pathlib.Path(__file__).resolve().parents[2]      # this checkout's qchannel
    proc = subprocess.run([sys.executable, "-O", "-c", _OPTIMISED_SCRIPT], capture_output=True,
                          text=True, timeout=60, cwd=root)
    # a crash shows as a negative return code (the signal), a hang as a timeout
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok 18", proc.stdout + proc.stderr[-2000:]
