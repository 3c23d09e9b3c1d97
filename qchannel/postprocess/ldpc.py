"""LDPC syndrome reconciliation (rate-adaptive, blind) for discrete-variable QKD.

Protocol (Alice's bits are the reference; Bob corrects his):

1. The key is cut into frames of ``frame_bits`` key bits (default 100 000;
   frames are balanced so that sizes differ by at most one bit).
2. Each frame is embedded in a codeword of a *mother code* of length
   ``n = k + d``: ``k`` key bits, ``d`` modulation bits (about 10 % of ``n``)
   that are either *punctured* (random bits known only to Alice) or
   *shortened* (random bits whose values are public).  The positions and the
   filler values come from the Philox stream ``(seed, Purpose.LDPC, frame)``.
   The mother code is picked from a family of irregular codes and the split
   punctured/shortened from the QBER estimate so that the first attempt leaks
   about ``f_start * k * h2(qber)`` bits (Elkouss, Martinez-Mateo, Martin 2011).
3. Alice sends the syndrome ``H x`` (``m`` bits).  Bob runs layered
   normalised min-sum BP with LLR ``+-log((1-q)/q)`` on key bits, 0 on
   punctured bits and +-infinity (large) on shortened bits.
4. Blind retry (Martinez-Mateo, Elkouss, Martin 2012): if BP does not converge
   to a word with Alice's syndrome, Alice reveals the values of a further
   ``step`` punctured bits (key bits once none are left) and Bob continues
   decoding from his current messages.  Up to ``max_rounds`` rounds.

Leakage, exactly: per frame ``m - p0 + revealed``, where ``p0`` is the number
of punctured bits of the first attempt (the syndrome is a function of the key
and ``p0`` independent uniform bits; punctured columns are linearly
independent with overwhelming probability, and counting ``m - p0`` is the
standard accounting) and every revealed bit costs one bit.  Shortened values
are public and independent of the key, so they leak nothing.
Efficiency ``f = leaked / (N h2(Q))`` with ``Q`` the actual error rate of the
input strings (a simulator knows it); ``efficiency_nominal`` uses ``qber``.

Code family
-----------
Seven IRA-like mother codes of rate 0.50 ... 0.95 (see ``_FAMILY``): m - 1
degree-2 variables in a staircase, degree-3 variables and a fraction of heavy
variables, concentrated check degrees.  Parameters were tuned by a small
min-sum simulation sweep, not by density evolution; their thresholds are
f ~ 1.15-1.2 at rate 0.5 and worse at high rate (see the tests).  Graphs are drawn
from the configuration model over Philox-shuffled sockets and repaired by
random edge swaps to girth >= 6; construction is deterministic from
``CODE_SEED`` and the (length, index) of the code, and codes are cached in
memory (optionally on disk, see ``QCHANNEL_CACHE_DIR``).
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from qchannel import rng
from qchannel._core import ldpc as _core
from qchannel.params import check_int, check_real

__all__ = [
    "LdpcResult",
    "LdpcCode",
    "reconcile_ldpc",
    "get_code",
    "code_family",
    "QBER_MAX",
    "DEFAULT_FRAME_BITS",
]

QBER_MAX = 0.11
DEFAULT_FRAME_BITS = 100_000
MIN_FRAME_BITS = 256
MAX_FRAME_BITS = 2_000_000
CODE_SEED = 0x51434C4450433031      # fixed: the code family is public and shared
MOD_FRACTION = 0.10                 # modulation bits d / n
LENGTH_QUANTUM = 256                # code lengths are rounded up to a multiple
SHORTENED_LLR = 1.0e4

# Mother codes: (design rate, heavy degree dh, fraction of heavy variables,
# min-sum normalisation alpha).
# Degree profile (node perspective): m - 1 degree-2 variables laid out as a
# staircase (accumulator, no cycles among degree-2 nodes), a fraction of
# degree-dh variables, the rest degree 3; check degrees concentrated on two
# consecutive values.  Parameters tuned by simulation of the min-sum decoder.
_FAMILY = [
    (0.50, 8, 0.175, 0.80),
    (0.60, 8, 0.20, 0.75),
    (0.70, 8, 0.20, 0.72),
    (0.80, 12, 0.12, 0.70),
    (0.85, 12, 0.12, 0.70),
    (0.90, 12, 0.12, 0.70),
    (0.95, 12, 0.12, 0.70),
]


def h2(p):
    """Binary entropy in bits."""
    p = float(p)
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -p * math.log2(p) - (1.0 - p) * math.log2(1.0 - p)


# --------------------------------------------------------------------- codes

@dataclass(frozen=True)
class LdpcCode:
    """A parity-check matrix in check-major CSR form."""

    index: int
    n: int
    m: int
    row_ptr: np.ndarray = field(repr=False)
    cols: np.ndarray = field(repr=False)

    @property
    def rate(self):
        return 1.0 - self.m / self.n

    @property
    def edges(self):
        return int(self.cols.shape[0])

    def syndrome(self, x):
        out = np.empty(self.m, dtype=np.uint8)
        _core.syndrome(self.row_ptr, self.cols, np.ascontiguousarray(x, dtype=np.uint8), out)
        return out


def _degree_sequences(n, index):
    """(var_deg, chk_deg, fixed_checks_seed_needed) of code ``index`` at length ``n``.

    Variables are ordered degree-2 first (the staircase), then degree 3, then
    heavy ones.
    """
    rate, dh, heavy, _alpha = _FAMILY[index]
    m = max(2, int(round((1.0 - rate) * n)))
    n2 = min(m - 1, n)
    nh = min(int(round(heavy * n)), n - n2)
    n3 = n - n2 - nh
    var_deg = np.concatenate([np.full(n2, 2), np.full(n3, 3), np.full(nh, dh)]).astype(np.int32)
    E = int(var_deg.sum())
    d0, extra = divmod(E, m)
    chk_deg = np.full(m, d0, dtype=np.int32)
    chk_deg[:extra] += 1
    return var_deg, chk_deg, n2


def _code_m(n, index):
    """Number of checks of code ``index`` at length ``n`` (without building it)."""
    return max(2, int(round((1.0 - _FAMILY[index][0]) * n)))


_CACHE = {}
_CACHE_LOCK = threading.Lock()
_M_CACHE = {}


def _disk_path(n, index):
    root = os.environ.get("QCHANNEL_CACHE_DIR")
    if not root:
        return None
    return os.path.join(root, "ldpc", f"code_{CODE_SEED:016x}_{n}_{index}.npz")


def get_code(n, index):
    """Mother code ``index`` of the family at length ``n`` (cached)."""
    key = (int(n), int(index))
    code = _CACHE.get(key)
    if code is not None:
        return code
    with _CACHE_LOCK:
        code = _CACHE.get(key)
        if code is not None:
            return code
        path = _disk_path(*key)
        if path and os.path.exists(path):
            with np.load(path) as z:
                code = LdpcCode(key[1], key[0], int(z["row_ptr"].shape[0] - 1),
                                np.ascontiguousarray(z["row_ptr"], dtype=np.int32),
                                np.ascontiguousarray(z["cols"], dtype=np.int32))
        else:
            var_deg, chk_deg, n2 = _degree_sequences(*key)
            seed = rng.derive_seed(CODE_SEED, rng.Purpose.LDPC, "mother-code", key[0], key[1])
            m = chk_deg.shape[0]
            # Staircase: degree-2 variable i joins checks perm[i] and perm[i + 1].
            perm = np.argsort(rng.uint32(seed, rng.Purpose.LDPC, 1, m), kind="stable")
            fixed = np.empty(2 * n2, dtype=np.int32)
            fixed[0::2] = perm[:n2]
            fixed[1::2] = perm[1:n2 + 1]
            row_ptr, cols, _unresolved = _core.build_graph(var_deg, chk_deg, seed,
                                                            int(rng.Purpose.LDPC), 0, fixed)
            code = LdpcCode(key[1], key[0], int(chk_deg.shape[0]), row_ptr, cols)
            if path:
                try:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    tmp = f"{path}.{os.getpid()}.tmp.npz"
                    np.savez(tmp, row_ptr=code.row_ptr, cols=code.cols)
                    os.replace(tmp, path)
                except OSError:
                    pass
        _CACHE[key] = code
        _M_CACHE[key] = code.m
        return code


def code_family():
    """(design rate, heavy degree, heavy fraction) of every mother code."""
    return tuple(_FAMILY)


# ------------------------------------------------------------------ protocol

@dataclass
class LdpcResult:
    """Outcome of :func:`reconcile_ldpc`.

    ``bob_corrected`` holds Bob's corrected bits; for frames that ultimately
    failed (``frame_failed``) it holds Bob's *uncorrected* bits.  A frame
    counts as decoded when BP reached a word with Alice's syndrome; the
    verification step of the protocol (a hash) is not part of this function.
    ``undetected_frames`` (simulation diagnostic: the inputs are known here)
    counts frames that matched the syndrome but still differ from Alice.
    """

    bob_corrected: np.ndarray
    leaked_bits: int
    efficiency: float
    frames: int
    frames_failed: int
    frame_failed: np.ndarray
    rounds: int
    method: str = "ldpc"
    qber_actual: float = 0.0
    efficiency_nominal: float = 0.0
    frame_error_rate: float = 0.0
    first_attempt_failures: int = 0
    undetected_frames: int = 0
    iterations: int = 0
    frame_bits: int = 0
    code_length: int = 0
    mother_rates: tuple = ()
    decode_seconds: float = 0.0


def _check_bits(name, a):
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of 0/1 bits, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8)
    if not (np.issubdtype(arr.dtype, np.integer)):
        if np.issubdtype(arr.dtype, np.floating) and np.all((arr == 0) | (arr == 1)):
            return arr.astype(np.uint8)
        raise ValueError(f"{name} must hold integer 0/1 bits, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must hold only 0/1 values")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _frame_layout(N, frame_bits):
    frames = -(-N // frame_bits)
    base, extra = divmod(N, frames)
    sizes = np.full(frames, base, dtype=np.int64)
    sizes[:extra] += 1
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return starts, sizes


def _choose_code(n, k, m_of, qber, f_start):
    """Mother-code index and initial number of punctured bits for one frame."""
    d = n - k
    target = f_start * k * h2(qber)
    best = None
    for idx in range(len(_FAMILY)):
        m = m_of(idx)
        p0 = int(math.floor(m - target))
        if 0 <= p0 <= d:
            score = abs(p0 - 0.5 * d)
            if best is None or score < best[0]:
                best = (score, idx, p0)
    if best is None:            # out of the covered range: closest end
        idx = 0 if m_of(0) - target < 0 else len(_FAMILY) - 1
        p0 = min(max(int(math.floor(m_of(idx) - target)), 0), d)
        return idx, p0
    return best[1], best[2]


def reconcile_ldpc(alice_bits, bob_bits, qber, seed, frame_bits=None, *,
                   f_start=None, step=None, max_rounds=20, max_iter=60,
                   retry_iter=60, warm_restart=False):
    """Blind rate-adaptive LDPC reconciliation of Bob's bits to Alice's.

    Parameters
    ----------
    alice_bits, bob_bits : 1-D arrays of 0/1 of equal length.
    qber : estimated error rate in (0, 0.11].
    seed : user seed; puncturing/shortening positions and filler bits come
        from Philox streams (seed, Purpose.LDPC, 2*frame[+1]).
    frame_bits : key bits per frame (default 100 000; balanced frames).
    f_start : efficiency of the first attempt (default 1.15).
    step : extra leakage per blind round in units of ``k h2(qber)``
        (default 0.04).
    max_rounds : attempts per frame (1 syndrome + max_rounds - 1 reveals).
    max_iter, retry_iter : BP iteration caps of the first and later attempts.
    warm_restart : continue BP from the previous messages after a reveal
        (faster, but more often stuck) instead of restarting it.
    """
    alice = _check_bits("alice_bits", alice_bits)
    bob = _check_bits("bob_bits", bob_bits)
    if alice.shape[0] != bob.shape[0]:
        raise ValueError(f"alice_bits and bob_bits must have equal lengths, got "
                         f"{alice.shape[0]} and {bob.shape[0]}")
    if isinstance(qber, bool) or not isinstance(qber, (int, float, np.floating, np.integer)):
        raise ValueError(f"qber = {qber!r} must be a number in (0, {QBER_MAX}]")
    qber = float(qber)
    if not (0.0 < qber <= QBER_MAX):
        raise ValueError(f"qber = {qber} is out of the supported range: LDPC reconciliation "
                         f"supports qber in (0, {QBER_MAX}]")
    seed = rng.check_seed(seed)
    if frame_bits is None:
        frame_bits = DEFAULT_FRAME_BITS
    frame_bits = check_int("frame_bits", frame_bits, MIN_FRAME_BITS, MAX_FRAME_BITS)
    f_start = 1.15 if f_start is None else check_real("f_start", f_start, 0.5, 3.0)
    step = 0.04 if step is None else check_real("step", step, 1e-4, 1.0)
    max_rounds = check_int("max_rounds", max_rounds, 1, 1000)
    max_iter = check_int("max_iter", max_iter, 1, 100000)
    retry_iter = check_int("retry_iter", retry_iter, 1, 100000)

    N = alice.shape[0]
    starts, sizes = _frame_layout(N, min(frame_bits, N))
    kmax = int(sizes.max())
    n = int(math.ceil(kmax / (1.0 - MOD_FRACTION)))
    n = -(-n // LENGTH_QUANTUM) * LENGTH_QUANTUM
    m_of = lambda idx: _code_m(n, idx)

    Lc = np.float32(math.log((1.0 - qber) / qber))
    out = bob.copy()
    failed = np.zeros(len(sizes), dtype=bool)
    leaked = 0
    rounds = 1
    first_fail = 0
    undetected = 0
    total_iter = 0
    rates = []
    t_dec = 0.0
    for fi in range(len(sizes)):
        s0, k = int(starts[fi]), int(sizes[fi])
        idx, p0 = _choose_code(n, k, m_of, qber, f_start)
        code = get_code(n, idx)
        alpha = np.float32(_FAMILY[idx][3])
        rates.append(code.rate)
        perm = np.argsort(rng.uint32(seed, rng.Purpose.LDPC, 2 * fi, n), kind="stable")
        perm = perm.astype(np.int64)
        filler = rng.bits(seed, rng.Purpose.LDPC, 2 * fi + 1, n)
        key_pos = perm[:k]
        punct = perm[k:k + p0]
        short = perm[k + p0:]
        x = filler.copy()                       # punctured + shortened fillers
        x[key_pos] = alice[s0:s0 + k]
        syn = code.syndrome(x)                  # Alice -> Bob: m bits
        leak = code.m - p0
        ch = np.zeros(n, dtype=np.float32)
        ch[key_pos] = Lc * (1.0 - 2.0 * bob[s0:s0 + k].astype(np.float32))
        ch[short] = SHORTENED_LLR * (1.0 - 2.0 * filler[short].astype(np.float32))
        Lv = ch.copy()
        R = np.zeros(code.edges, dtype=np.float32)
        t0 = time.perf_counter()
        it = _core.decode_layered(code.row_ptr, code.cols, syn, R, Lv, max_iter, alpha)
        total_iter += abs(it)
        attempt = 1
        if it < 0:
            first_fail += 1
        # Blind rounds: reveal punctured values first, then key bits.
        reveal = None
        ptr = 0
        delta = max(1, int(math.ceil(step * k * h2(qber))))
        while it < 0 and attempt < max_rounds:
            if reveal is None:
                extra = perm[:k][np.argsort(rng.uint32(seed, rng.Purpose.LDPC, 2 * fi, k + n)[n:],
                                            kind="stable")]
                reveal = np.concatenate([punct, extra])
            sel = reveal[ptr:ptr + delta]
            if sel.size == 0:
                break
            ptr += sel.size
            new = SHORTENED_LLR * (1.0 - 2.0 * x[sel].astype(np.float32))
            leak += int(sel.size)
            attempt += 1
            if warm_restart:        # continue from the current messages
                Lv[sel] += new - ch[sel]
                ch[sel] = new
            else:                   # fresh start: stale messages keep BP in trapping sets
                ch[sel] = new
                Lv[:] = ch
                R[:] = 0.0
            it = _core.decode_layered(code.row_ptr, code.cols, syn, R, Lv, retry_iter, alpha)
            total_iter += abs(it)
        t_dec += time.perf_counter() - t0
        rounds = max(rounds, attempt)
        leaked += leak
        if it < 0:
            failed[fi] = True
            continue
        decoded = (Lv[key_pos] < 0).astype(np.uint8)
        out[s0:s0 + k] = decoded
        if not np.array_equal(decoded, alice[s0:s0 + k]):
            undetected += 1

    q_act = float(np.count_nonzero(alice != bob)) / N
    denom = N * h2(q_act)
    eff = leaked / denom if denom > 0 else float("inf")
    return LdpcResult(
        bob_corrected=out, leaked_bits=int(leaked), efficiency=float(eff),
        frames=len(sizes), frames_failed=int(failed.sum()), frame_failed=failed,
        rounds=int(rounds), qber_actual=q_act,
        efficiency_nominal=float(leaked / (N * h2(qber))),
        frame_error_rate=float(failed.mean()), first_attempt_failures=int(first_fail),
        undetected_frames=int(undetected), iterations=int(total_iter),
        frame_bits=int(kmax), code_length=int(n), mother_rates=tuple(rates),
        decode_seconds=float(t_dec),
    )
