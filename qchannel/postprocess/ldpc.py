"""LDPC syndrome reconciliation (rate-adaptive, blind) for discrete-variable QKD.

Protocol (Alice's bits are the reference; Bob corrects his):

1. The key is cut into frames of ``frame_bits`` key bits (default 100 000;
   frames are balanced so that sizes differ by at most one bit).
2. Each frame is embedded in a codeword of a *mother code* of length
   ``n = k + d``: ``k`` key bits, ``d`` modulation bits (about 10 % of ``n``)
   that are either *punctured* (random bits known only to Alice) or
   *shortened* (random bits whose values are public).  The positions and the
   filler values come from the Philox stream ``(seed, Purpose.LDPC, frame)``;
   punctured bits go to variables of degree 3-8 (see PUNCTURE_MIN_DEGREE).
   The mother code is picked from a family of irregular codes and the split
   punctured/shortened from the QBER estimate so that the first attempt leaks
   about ``f_start * k * h2(qber)`` bits (Elkouss, Martinez-Mateo, Martin 2011).
3. Alice sends the syndrome ``H x`` (``m`` bits).  Bob decodes with LLR
   ``+-log((1-q)/q)`` on key bits, 0 on punctured bits and "known" on
   shortened bits.  Decoders (``decoder=``):

   * ``"scms"``: layered self-corrected min-sum (Savin 2008) in 8-bit fixed
     point, 32 frames per 256-bit register (``ldpc_scms.h``: AVX-512BW/VL
     mask registers where the CPU has them, else AVX2, SSE4.1 or scalar,
     picked at run time; all bit-identical).  Frames stream through a pool
     of 32 lanes; a lane is refilled as soon as its frame is done (a loaded
     lane's first iteration ignores its stale message state, so a load
     touches only its posteriors and syndrome bits).  A frame SCMS cannot
     decode in ``SCMS_MAX_ITER`` iterations is *rescued*: sum-product
     continues from SCMS's last messages on the same syndrome (no extra
     leakage), then blind rounds as below.  Rescues wait for a batch
     (``RESCUE_BATCH``) and share 8-lane pools.
   * ``"spa"``: layered sum-product BP in float (tabulated phi, see
     ``ldpc_impl.h``), 8 frames per AVX2 pass once there are
     ``SPA_BATCH_MIN`` frames (``ldpc_spa8.h``: lane by lane bit-identical
     to the one-frame kernel, which takes smaller batches and the blind
     rounds): about 4x slower than SCMS, f lower by 0.01 (QBER >= 3 %) to
     0.14 (QBER 1 %).
   * ``"auto"`` (default): SCMS where its calibrated first-attempt
     efficiency is at most ``SCMS_AUTO_F`` = 1.15 (QBER >= 3 %); from QBER
     2 % (``SCMS_CAPPED_MIN_QBER``) SCMS with the first attempt capped at f =
     1.149 (about 1 frame in 3 then rescued by SPA, no extra leak); SPA below.
   * ``"minsum"``: plain normalised min-sum, for comparison only (it does
     not converge on this family near capacity).

   The first attempt starts at a measured efficiency ``f_start(qber)`` per
   decoder (``_F_START_TABLE``, ``_F_START_SCMS``) just above the real
   finite-length threshold of the family.
4. Blind retry (Martinez-Mateo, Elkouss, Martin 2012): if BP does not converge
   to a word with Alice's syndrome, Alice reveals the values of a further
   ``step`` punctured bits (key bits once none are left) and Bob continues
   decoding from his current messages.  Up to ``max_rounds`` rounds.  A
   decoded word is accepted only if its syndrome (recomputed here) equals
   Alice's; otherwise the frame is flagged failed.

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
Ten irregular mother codes of rate 0.50 ... 0.95 (see ``_FAMILY``), designed
for the BSC by EXIT-chart linear programming (max variable degree 40, 20 at
rate 0.95), degree-2 variables in a staircase, concentrated check degrees.
Measured at 1e5 bits with sum-product: frames decode at f ~ 1.10 (QBER 5-8 %)
and f ~ 1.12 (QBER 1-3 %).  Graphs are drawn from the configuration model
over Philox-shuffled sockets and repaired by random edge swaps: girth >= 6
for rates <= 0.75; the dense high-rate codes only lose double edges and the
4-cycles among degree <= 3 variables.  Construction is deterministic from
``CODE_SEED`` and the (length, index) of the code, and codes are cached in
memory (optionally on disk, see ``QCHANNEL_CACHE_DIR``).
"""
from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from qchannel import rng
from qchannel._core import ldpc as _core
from qchannel.params import check_bits, check_int, check_real
from qchannel.theory import h2

DECODERS = ("auto", "scms", "spa", "minsum")

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
MAX_THREADS = 1024
DEFAULT_FRAME_BITS = 100_000
MIN_FRAME_BITS = 256
MAX_FRAME_BITS = 2_000_000
CODE_SEED = 0x51434C4450433031      # fixed: the code family is public and shared
MOD_FRACTION = 0.10                 # modulation bits d / n
LENGTH_QUANTUM = 256                # code lengths are rounded up to a multiple
SHORTENED_LLR = 1.0e4
# Punctured bits are taken from variables of degree 3-8 (random ones among
# the modulation positions otherwise).  Puncturing degree-2 (staircase)
# variables left low-weight near-codewords: 2-3 % of 1e5-bit frames decoded to
# a wrong word with Alice's syndrome (2-5 key bits off), caught only by
# verification; puncturing the degree-40 variables stalls min-sum (SCMS first
# attempts failing 52 of 64 at QBER 2 %).  With degrees 3-8: none in 64 + 64
# frames (SCMS, QBER 2 and 5 %) and 12 + 8 (SPA), f unchanged within 0.005.
PUNCTURE_MIN_DEGREE = 3
PUNCTURE_MAX_DEGREE = 8
DEGREE2_MIN_CYCLE = 12
# Bumped whenever the construction changes, so that disk-cached codes of an
# older construction are not reused (2: degree-2 variables beyond the
# staircase placed by degree2_pairs).
CONSTRUCTION_VERSION = 2
PUNCTURE_TARGET = 0.5               # preferred punctured share of the modulation bits

def _cycle_swaps(index):
    """4-cycle repair budget (swaps per edge) of code ``index``: girth 6 for
    rates <= 0.75; the dense high-rate codes (check degrees 25-112) keep their
    4-cycles (repairing them by random swaps costs minutes) and are only made
    free of double edges."""
    return 3 if _FAMILY[index][0] <= 0.75 else 0

MINSUM_ALPHA = 0.75                 # normalisation of the optional min-sum decoder
# Batched 8-bit SCMS decoder: channel LLR magnitude in quanta (saturation at
# 127 is then ~10 channel LLRs; 24 quanta saturates too early and fails), the
# normalisation A/16 and offset B of the check-node minima and the message
# clip (first-attempt failures out of 64 frames at QBER 1/2/3/5/8 % and f
# 1.25/1.16/1.13/1.12/1.12 with A = 12: 3/35/42/52/47, A = 13: 0/5/9/4/0,
# A = 14: 13/10/12/9/8).
SCMS_CHANNEL = 12
SCMS_A = 13
SCMS_B = 0
SCMS_MAX = 48
SCMS_MAX_ITER = 100

# Mother codes: (design rate, edge-perspective variable degree distribution
# lambda = {degree: fraction of edges}).  Designed for the BSC and the
# sum-product decoder by linear programming on EXIT curves (VN curves exact for
# the BSC channel message with Gaussian a-priori messages, CN curves by the
# duality approximation), with concentrated check degrees, lambda_2 below the
# stability bound and maximum variable degree 40; the asymptotic design
# thresholds are f ~ 1.02 (rate 0.5) ... 1.15 (rate 0.95).  Degree-2
# variables form a staircase (no cycles among them).
_FAMILY = [
    (0.50, {2: 0.1809, 3: 0.2045, 6: 0.0628, 7: 0.0850, 10: 0.1629, 40: 0.3039}),
    (0.55, {2: 0.1679, 3: 0.2067, 6: 0.0075, 7: 0.1659, 10: 0.1077, 12: 0.0317, 40: 0.3126}),
    (0.60, {2: 0.1546, 3: 0.2065, 6: 0.0082, 7: 0.1548, 10: 0.1339, 12: 0.0130, 40: 0.3290}),
    (0.65, {2: 0.1421, 3: 0.2072, 7: 0.1633, 10: 0.1229, 12: 0.0281, 40: 0.3364}),
    (0.70, {2: 0.1313, 3: 0.2100, 7: 0.1384, 8: 0.0720, 12: 0.1206, 40: 0.3277}),
    (0.75, {2: 0.1181, 3: 0.2107, 7: 0.0740, 8: 0.1567, 12: 0.0924, 40: 0.3481}),
    (0.80, {2: 0.1069, 3: 0.2127, 7: 0.1806, 8: 0.0015, 12: 0.1653, 40: 0.3330}),
    (0.85, {2: 0.0908, 3: 0.2117, 7: 0.0335, 8: 0.2079, 12: 0.0767, 40: 0.3794}),
    (0.90, {2: 0.0768, 3: 0.2141, 7: 0.1491, 8: 0.0530, 12: 0.1166, 15: 0.0382, 40: 0.3522}),
    (0.95, {2: 0.0685, 3: 0.2550, 6: 0.0204, 7: 0.2536, 20: 0.4025}),
]
# Measured starting efficiencies (qber, f) for 100 000-bit frames, from a small
# Monte Carlo (3-4 frames per point, sum-product, PUNCTURE_TARGET 0.5): at QBER
# 1-3 % about 3 frames in 4 decode at once at f ~ 1.12 (the rest after 1-4
# blind rounds, mean f ~ 1.13-1.14); at 5-8 % all decoded at f = 1.10 (and at
# 1.08, with twice the iterations).  Checked again after the degree-2
# placement and the degree 3-8 puncturing (12 frames, Bernoulli errors): f =
# 1.15 / 1.12 / 1.10 / 1.10 at QBER 1 / 2 / 5 / 8 %.  Interpolated
# linearly, clamped at the ends.  Recalibrate when the family changes.
_F_START_TABLE = [
    (0.005, 1.15),
    (0.01, 1.12),
    (0.02, 1.12),
    (0.03, 1.12),
    (0.05, 1.10),
    (0.08, 1.10),
    (0.11, 1.10),
]
# The same for the batched SCMS decoder (64 frames of 100 000 bits per point,
# two data sets, Bernoulli errors, puncturing degrees 3-8, normalisation
# 13/16): the lowest f, in steps of 0.01-0.03, at which about 1 frame in 16
# or fewer fails its first attempt (those are rescued by sum-product at no
# extra leakage).  First-attempt failures out of 64 at QBER 1 %: 13 at f
# 1.22, 0 and 4 at 1.25; 2 %: 19 at 1.15, 5 at 1.16, 9 at 1.165; 3 %: 9 and
# 11 at 1.13, 4 at 1.14; 5 %: 25 at 1.10, 4 and 1 at 1.12, 0 at 1.125; 8 %:
# 11 at 1.10, 0 and 3 at 1.12; 11 %: 16 at 1.12 (the rate-0.5 code cannot go
# lower).  SCMS pays about 0.13 in f at QBER 1 %, 0.05 at 2 % and 0.02 from
# 3 %; "auto" uses it only where its f stays within SCMS_AUTO_F.
_F_START_SCMS = [
    (0.005, 1.30),
    (0.01, 1.25),
    (0.02, 1.175),
    (0.03, 1.14),
    (0.05, 1.125),
    (0.08, 1.12),
    (0.11, 1.12),
]
SCMS_AUTO_F = 1.15
# Below the QBER where SCMS's calibrated f exceeds SCMS_AUTO_F, "auto" still
# uses SCMS down to this QBER, with the first attempt capped at f =
# SCMS_AUTO_F: the frames it cannot decode there (16, 19 and 21 of 64 at QBER
# 2 %, three data sets) are rescued by sum-product on the same syndrome at no
# extra leak.  64 frames of 1e5 bits at QBER 2 %, loaded machine, CPU time:
# f 1.146 at 1.6 Mbit/s, against sum-product alone f 1.12 at 0.3 Mbit/s.
# At QBER 1 % SCMS fails most frames at f 1.22 already: sum-product there.
SCMS_CAPPED_MIN_QBER = 0.02
SCMS_CAPPED_F = 1.149       # the leak is rounded up to whole bits: stay within 1.15


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

    @property
    def var_degree(self):
        d = self.__dict__.get("_var_degree")
        if d is None:
            d = np.bincount(self.cols, minlength=self.n)
            object.__setattr__(self, "_var_degree", d)
        return d

    def syndrome(self, x):
        out = np.empty(self.m, dtype=np.uint8)
        _core.syndrome(self.row_ptr, self.cols, np.ascontiguousarray(x, dtype=np.uint8), out)
        return out


def _degree_sequences(n, index):
    """(var_deg, chk_deg, n2) of code ``index`` at length ``n``.

    Node counts follow the edge-perspective distribution lambda of the family
    (largest remainder rounding); variables are ordered by degree, degree-2
    first; check degrees are concentrated on two consecutive values.  ``n2``
    is the number of degree-2 variables laid out as a staircase (the rest,
    at high rates, get check pairs from ``degree2_pairs``).
    """
    rate, lam = _FAMILY[index]
    m = _code_m(n, index)
    degs = np.array(sorted(lam), dtype=np.int64)
    w = np.array([lam[d] / d for d in sorted(lam)])
    w = w / w.sum() * n
    cnt = np.floor(w).astype(np.int64)
    rest = n - int(cnt.sum())
    cnt[np.argsort(-(w - cnt), kind="stable")[:rest]] += 1
    var_deg = np.repeat(degs, cnt).astype(np.int32)
    E = int(var_deg.sum())
    d0, extra = divmod(E, m)
    chk_deg = np.full(m, d0, dtype=np.int32)
    chk_deg[:extra] += 1
    n2 = min(int(cnt[0]) if degs[0] == 2 else 0, m - 1)
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
    tag = rng.derive_seed(CODE_SEED, rng.Purpose.LDPC, "family", repr(_FAMILY[index]),
                          CONSTRUCTION_VERSION, DEGREE2_MIN_CYCLE)
    return os.path.join(root, "ldpc", f"code_{tag:016x}_{n}_{index}.npz")


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
            n2_all = int(np.count_nonzero(var_deg == 2))
            fixed = np.empty(2 * n2_all, dtype=np.int32)
            fixed[0:2 * n2:2] = perm[:n2]
            fixed[1:2 * n2:2] = perm[1:n2 + 1]
            if n2_all > n2:
                # More degree-2 variables than a staircase holds: place the rest
                # so that cycles of degree-2 variables alone -- codewords of
                # their length -- are at least DEGREE2_MIN_CYCLE long (random
                # placement left weight-4 codewords that frames decoded to).
                # The reachable girth shrinks as the degree-2 graph gets
                # denser (rate 0.95: mean degree ~8) or smaller: the search
                # ball (radius min_cycle - 2) must leave most checks outside.
                mean = 2.0 * n2_all / m
                reach = math.log(m / 8.0) / math.log(max(mean - 1.0, 1.5))
                min_cycle = int(max(4, min(DEGREE2_MIN_CYCLE, math.floor(reach) + 2)))
                pairs, _ = _core.degree2_pairs(m, perm[:n2 + 1].astype(np.int32),
                                               n2_all - n2, seed, int(rng.Purpose.LDPC), 2,
                                               min_cycle, int(math.ceil(mean)) + 4)
                fixed[2 * n2:] = pairs.ravel()
            E = int(var_deg.sum())
            row_ptr, cols, unresolved = _core.build_graph(var_deg, chk_deg, seed,
                                                           int(rng.Purpose.LDPC), 0, fixed,
                                                           50 * E, _cycle_swaps(key[1]) * E)
            if unresolved:      # double edges left: never seen; refuse rather than decode wrong
                raise RuntimeError(f"LDPC code ({n}, {index}): {unresolved} double edges left")
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
    """(design rate, {variable degree: edge fraction}) of every mother code."""
    return tuple((r, dict(lam)) for r, lam in _FAMILY)


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
    ``first_attempt_failures`` counts frames the first decoder attempt did not
    decode; with decoder "scms" those are ``rescued_frames``, handed to
    sum-product on the same syndrome.
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
    decoder: str = "spa"
    rescued_frames: int = 0


def _frame_layout(N, frame_bits):
    frames = -(-N // frame_bits)
    base, extra = divmod(N, frames)
    sizes = np.full(frames, base, dtype=np.int64)
    sizes[:extra] += 1
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return starts, sizes


def _f_start(qber, decoder="spa"):
    """Calibrated first-attempt efficiency at ``qber`` (see _F_START_TABLE)."""
    table = _F_START_SCMS if decoder == "scms" else _F_START_TABLE
    qs = [q for q, _ in table]
    fs = [f for _, f in table]
    return float(np.interp(qber, qs, fs))


def _auto_decoder(qber):
    """(decoder, first-attempt f or None for the calibrated one) of "auto"."""
    if _f_start(qber, "scms") <= SCMS_AUTO_F:
        return "scms", None
    if qber >= SCMS_CAPPED_MIN_QBER:
        return "scms", SCMS_CAPPED_F
    return "spa", None


def _choose_code(n, k, m_of, qber, f_start):
    """Mother-code index and initial number of punctured bits for one frame.

    The first attempt leaks ``ceil(f_start k h2(qber))`` bits: the code with
    ``m`` checks punctures ``p0 = m - leak`` of the ``d = n - k`` modulation
    bits and shortens the rest.  Among the codes for which this is possible
    the one with ``p0`` closest to ``PUNCTURE_TARGET * d`` is taken (punctured
    bits are what blind rounds reveal; too many of them cost threshold).
    """
    d = n - k
    target = f_start * k * h2(qber)
    best = None
    for idx in range(len(_FAMILY)):
        m = m_of(idx)
        p0 = int(math.floor(m - target))
        if 0 <= p0 <= d:
            score = abs(p0 - PUNCTURE_TARGET * d)
            if best is None or score < best[0]:
                best = (score, idx, p0)
    if best is None:            # out of the covered range: closest end
        idx = 0 if m_of(0) - target < 0 else len(_FAMILY) - 1
        p0 = min(max(int(math.floor(m_of(idx) - target)), 0), d)
        return idx, p0
    return best[1], best[2]


def reconcile_ldpc(alice_bits, bob_bits, qber, seed, frame_bits=None, *,
                   f_start=None, step=None, max_rounds=20, max_iter=None,
                   retry_iter=None, warm_restart="alternate", decoder="auto", threads=1):
    """Blind rate-adaptive LDPC reconciliation of Bob's bits to Alice's.

    Parameters
    ----------
    alice_bits, bob_bits : 1-D arrays of 0/1 of equal length.
    qber : estimated error rate in (0, 0.11].
    seed : user seed; puncturing/shortening positions and filler bits come
        from Philox streams (seed, Purpose.LDPC, 2*frame[+1]).
    frame_bits : key bits per frame (default 100 000; balanced frames).
    f_start : efficiency of the first attempt (default: calibrated per QBER
        so that about 90 % of 100 000-bit frames decode at once, ~1.07-1.12).
    step : extra leakage per blind round in units of ``k h2(qber)``
        (default 0.02).
    max_rounds : attempts per frame (1 syndrome + max_rounds - 1 reveals).
    max_iter, retry_iter : BP iteration caps of the first and later attempts
        (defaults 100 and 50).
    warm_restart : after a reveal, True continues BP from the previous
        messages, False restarts it from the channel LLRs, "alternate"
        (default) does both in turn, warm first.  Neither alone is reliable:
        frames were seen stuck for 20 warm rounds (stale messages hold a
        trapping set) that decode after one cold round, and the reverse.
    decoder : "auto" (default: "scms" where its calibrated efficiency is at
        most ``SCMS_AUTO_F`` = 1.15, i.e. QBER >= 3 %; "scms" with its first
        attempt at f = 1.149 from QBER 2 %; "spa" below), "scms"
        (layered self-corrected min-sum in 8-bit fixed point, 32 frames per
        AVX-512/AVX2 pass, see ``ldpc_scms.h``; frames it cannot decode are rescued
        by sum-product on the same syndrome), "spa" (layered sum-product in
        float, 8 frames per AVX2 pass: about 4x slower, f lower by 0.01-0.14) or
        "minsum" (plain normalised min-sum, kept for comparison: it does not
        converge on this family near capacity).
    threads : native threads decoding frames concurrently (default 1; the
        kernels run without the GIL).  A frame's outcome depends only on its
        own Philox streams, never on the lane, pool or thread that decodes it,
        so the result is bit-identical for any number of threads.
    """
    threads = check_int("threads", threads, 1, MAX_THREADS)
    alice = check_bits("alice_bits", alice_bits)
    bob = check_bits("bob_bits", bob_bits)
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
    if warm_restart not in (True, False, "alternate"):
        raise ValueError(f"warm_restart = {warm_restart!r} must be True, False or 'alternate'")
    if decoder not in DECODERS:
        raise ValueError(f"decoder = {decoder!r} must be one of {', '.join(DECODERS)}")
    if decoder == "auto":
        decoder, f_auto = _auto_decoder(qber)
        if f_start is None:
            f_start = f_auto
    f_start = _f_start(qber, decoder) if f_start is None else check_real("f_start", f_start, 0.5, 3.0)
    step = 0.02 if step is None else check_real("step", step, 1e-4, 1.0)
    max_rounds = check_int("max_rounds", max_rounds, 1, 1000)
    spa_iter = 100 if max_iter is None else check_int("max_iter", max_iter, 1, 100000)
    max_iter = SCMS_MAX_ITER if max_iter is None and decoder == "scms" else spa_iter
    retry_iter = 50 if retry_iter is None else check_int("retry_iter", retry_iter, 1, 100000)
    N = alice.shape[0]
    starts, sizes = _frame_layout(N, min(frame_bits, N))
    kmax = int(sizes.max())
    n = int(math.ceil(kmax / (1.0 - MOD_FRACTION)))
    n = -(-n // LENGTH_QUANTUM) * LENGTH_QUANTUM
    m_of = lambda idx: _code_m(n, idx)
    plan = [_choose_code(n, int(k), m_of, qber, f_start) for k in sizes]
    delta_of = lambda k: max(1, int(math.ceil(step * k * h2(qber))))
    Lc = math.log((1.0 - qber) / qber)

    out = bob.copy()
    failed = np.zeros(len(sizes), dtype=bool)

    def finish(st, fr, hard, leak, attempts, ptr):
        # Independent check of the decoder's verdict: the hard decisions must
        # reproduce Alice's syndrome and the revealed values.
        st["leaked"] += leak
        st["rounds"] = max(st["rounds"], attempts)
        if hard is not None and (not np.array_equal(fr.code.syndrome(hard), fr.syn) or (
                ptr and not np.array_equal(hard[fr.reveal[:ptr]], fr.x[fr.reveal[:ptr]]))):
            hard = None
        if hard is None:
            failed[fr.index] = True
            return
        decoded = hard[fr.key_pos]
        out[fr.s0:fr.s0 + fr.k] = decoded        # frames own disjoint slices
        if not np.array_equal(decoded, alice[fr.s0:fr.s0 + fr.k]):
            st["undetected"] += 1

    def setup(fi):
        idx, p0 = plan[fi]
        return _setup_frame(seed, fi, int(starts[fi]), int(sizes[fi]), p0,
                            get_code(n, idx), alice)

    def rescue(st, frs):
        for fr, res in _decode_spa_frames(frs, len(frs) >= SPA_BATCH_MIN, bob, np.float32(Lc),
                                          spa_iter, retry_iter, max_rounds, delta_of,
                                          warm_restart, st):
            st["rescued"] += 1
            finish(st, fr, *res)

    def spa_worker(st, take, batched):
        frames = (setup(fi) for fi in iter(take, None))
        for fr, (hard, leak, attempts, ptr) in _decode_spa_frames(
                frames, batched, bob, np.float32(Lc), max_iter, retry_iter, max_rounds,
                delta_of, warm_restart, st):
            if attempts > 1 or hard is None:
                st["first_fail"] += 1
            finish(st, fr, hard, leak, attempts, ptr)

    def float_worker(st, take):
        while (fi := take()) is not None:
            fr = setup(fi)
            hard, leak, attempts, ptr = _decode_frame_float(
                fr, bob, np.float32(Lc), decoder, max_iter, retry_iter, max_rounds,
                delta_of(fr.k), warm_restart, st)
            if attempts > 1 or hard is None:
                st["first_fail"] += 1
            finish(st, fr, hard, leak, attempts, ptr)

    # Workers take frames from a shared queue and keep their own statistics
    # (sums and maxima, merged at the end: independent of who took what).
    t0 = time.process_time()
    groups = [[fi for fi in range(len(sizes)) if plan[fi][0] == idx]
              for idx in sorted({c for c, _ in plan})]
    if decoder == "scms":
        # Frames sharing a mother code stream through pools of 32 lanes, one
        # pool per thread.
        jobs = [(lambda st, take, code=get_code(n, plan[g[0]][0]): _decode_pool_scms(
                    code, take, setup, bob, max_iter, st, finish, rescue), g) for g in groups]
    elif decoder == "spa":
        # 8-lane pools per mother code and thread once there are frames enough
        # to fill them (the outcome is the same either way).
        jobs = [(lambda st, take, b=len(g) >= SPA_BATCH_MIN * min(threads, len(g)):
                 spa_worker(st, take, b), g) for g in groups]
    else:
        jobs = [(float_worker, list(range(len(sizes))))]
    parts = []
    for work, frames in jobs:
        parts += _run_workers(work, frames, threads)
    t_dec = time.process_time() - t0
    stats = _new_stats()
    for st in parts:
        for key, v in st.items():
            stats[key] = max(stats[key], v) if key == "rounds" else stats[key] + v

    q_act = float(np.count_nonzero(alice != bob)) / N
    denom = N * h2(q_act)
    leaked = stats["leaked"]
    eff = leaked / denom if denom > 0 else float("inf")
    return LdpcResult(
        bob_corrected=out, leaked_bits=int(leaked), efficiency=float(eff),
        frames=len(sizes), frames_failed=int(failed.sum()), frame_failed=failed,
        rounds=int(stats["rounds"]), qber_actual=q_act,
        efficiency_nominal=float(leaked / (N * h2(qber))),
        frame_error_rate=float(failed.mean()), first_attempt_failures=int(stats["first_fail"]),
        undetected_frames=int(stats["undetected"]), iterations=int(stats["iter"]),
        frame_bits=int(kmax), code_length=int(n),
        mother_rates=tuple(get_code(n, idx).rate for idx, _ in plan),
        decode_seconds=float(t_dec), decoder=decoder, rescued_frames=int(stats["rescued"]),
    )


@dataclass
class _FrameSetup:
    """One frame embedded in its mother codeword (see the module docstring)."""

    index: int
    s0: int
    k: int
    p0: int
    code: LdpcCode
    perm: np.ndarray            # codeword positions: key, punctured, shortened
    x: np.ndarray               # Alice's codeword (key bits + fillers)
    syn: np.ndarray             # Alice's syndrome
    seed: int
    scms_r: np.ndarray = None   # SCMS messages (int8 quanta) after a failed first attempt

    @property
    def key_pos(self):
        return self.perm[:self.k]

    @property
    def punct(self):
        return self.perm[self.k:self.k + self.p0]

    @property
    def short(self):
        return self.perm[self.k + self.p0:]

    @property
    def reveal(self):
        """Blind-round reveal order: punctured bits, then key bits (random order)."""
        r = getattr(self, "_reveal", None)
        if r is None:
            sub = rng.derive_seed(self.seed, rng.Purpose.LDPC, "reveal", self.index)
            extra = self.key_pos[rng.permutation(sub, rng.Purpose.LDPC, 0, self.k)]
            r = self._reveal = np.concatenate([self.punct, extra])
        return r


def _setup_frame(seed, fi, s0, k, p0, code, alice):
    n = code.n
    perm = rng.permutation(seed, rng.Purpose.LDPC, 2 * fi, n)
    if p0:      # modulation positions: preferred puncturing degrees first
        mod = perm[k:]
        dg = code.var_degree[mod]
        low = (dg < PUNCTURE_MIN_DEGREE) | (dg > PUNCTURE_MAX_DEGREE)
        perm[k:] = np.concatenate([mod[~low], mod[low]])     # stable: still random
    x = rng.bits(seed, rng.Purpose.LDPC, 2 * fi + 1, n)      # punctured + shortened fillers
    x[perm[:k]] = alice[s0:s0 + k]
    return _FrameSetup(fi, s0, k, p0, code, perm, x, code.syndrome(x), seed)


def _frame_channel(fr, bob, Lc):
    """Channel LLRs of a frame: +-Lc on key bits (Bob's), 0 on punctured
    bits, +-SHORTENED_LLR on shortened bits (public values)."""
    ch = np.zeros(fr.code.n, dtype=np.float32)
    ch[fr.key_pos] = Lc * (1.0 - 2.0 * bob[fr.s0:fr.s0 + fr.k].astype(np.float32))
    ch[fr.short] = SHORTENED_LLR * (1.0 - 2.0 * fr.x[fr.short].astype(np.float32))
    return ch


def _float_bp(code, syn, decoder):
    """run_bp(R, Lv, iters) of a float decoder on one frame."""
    if decoder == "spa":
        return lambda R, Lv, iters: _core.decode_spa(code.row_ptr, code.cols, syn, R, Lv, iters)
    return lambda R, Lv, iters: _core.decode_layered(code.row_ptr, code.cols, syn, R, Lv,
                                                     iters, MINSUM_ALPHA)


def _spa_start(fr, ch, Lc):
    """(posteriors, messages) sum-product starts from: the channel LLRs and no
    messages, or for a frame SCMS failed on, SCMS's last check-to-variable
    messages in LLR units (quantum Lc / SCMS_CHANNEL) and the posteriors
    they give, L = ch + sum of R.  The same syndrome, so no leakage; on 128
    frames the rescues took 18 % fewer iterations than cold starts at QBER
    2 % (36 frames) and 6 instead of 89 at 8 % (4 frames), the same frames
    decoded."""
    if fr.scms_r is None:
        return ch.copy(), np.zeros(fr.code.edges, dtype=np.float32)
    R = fr.scms_r.astype(np.float32) * np.float32(Lc / np.float32(SCMS_CHANNEL))
    acc = np.bincount(fr.code.cols, weights=R, minlength=fr.code.n)   # fixed order: deterministic
    return (ch + acc.astype(np.float32)).astype(np.float32), R


def _decode_frame_float(fr, bob, Lc, decoder, max_iter, retry_iter, max_rounds, delta,
                        warm_restart, stats):
    """One frame with the float decoders; returns (hard or None, leak, attempts,
    revealed count).  The first attempt failed iff attempts > 1 or hard is None;
    adds the BP iterations run to stats["iter"]."""
    ch = _frame_channel(fr, bob, Lc)
    if decoder == "spa":
        Lv, R = _spa_start(fr, ch, Lc)
    else:
        Lv, R = ch.copy(), np.zeros(fr.code.edges, dtype=np.float32)
    run_bp = _float_bp(fr.code, fr.syn, decoder)
    it = run_bp(R, Lv, max_iter)
    stats["iter"] += abs(it)
    return _blind_rounds(fr, run_bp, ch, R, Lv, it, retry_iter, max_rounds, delta,
                         warm_restart, stats)


def _blind_rounds(fr, run_bp, ch, R, Lv, it, retry_iter, max_rounds, delta, warm_restart,
                  stats):
    """Blind rounds after a first attempt that ended with ``it`` (< 0: failed)
    in state (R, Lv): reveal punctured values first, then key bits."""
    attempts, ptr = 1, 0
    leak = fr.code.m - fr.p0
    while it < 0 and attempts < max_rounds:
        sel = fr.reveal[ptr:ptr + delta]
        if sel.size == 0:
            break
        ptr += sel.size
        new = SHORTENED_LLR * (1.0 - 2.0 * fr.x[sel].astype(np.float32))
        leak += int(sel.size)
        attempts += 1
        warm = warm_restart if warm_restart != "alternate" else attempts % 2 == 0
        if warm:                # continue from the current messages
            Lv[sel] += new - ch[sel]
            ch[sel] = new
        else:                   # fresh start: stale messages keep BP in trapping sets
            ch[sel] = new
            Lv[:] = ch
            R[:] = 0.0
        it = run_bp(R, Lv, retry_iter)
        stats["iter"] += abs(it)
    return ((Lv < 0).astype(np.uint8) if it >= 0 else None), leak, attempts, ptr


# Sum-product batches of at least this many frames (SCMS rescues; frames
# per thread with decoder "spa") go through the 8-lane kernel (bit-identical
# to the one-frame decoder; 1.1 against 4 ns per edge, frame and iteration
# when its lanes are full, but a pass costs about two one-frame iterations
# however few lanes are busy).
SPA_BATCH_MIN = 3
# SCMS failures wait for a rescue batch of this many frames (or the end of
# their pool): full sum-product lanes, and at most about 110 MB of frames
# held per thread.  One batch drains its lanes once: 64 against 32 gave 10 %
# more Mbit/s at QBER 2 % (36 rescues in 128 frames).
RESCUE_BATCH = 64


def _decode_spa_frames(frames, batched, bob, Lc, max_iter, retry_iter, max_rounds, delta_of,
                       warm_restart, stats):
    """Sum-product (from :func:`_spa_start`) on each frame of the iterable
    ``frames`` (all of one mother code), then blind rounds for those it
    cannot decode.
    Yields (frame, (hard or None, leak, attempts, revealed)); a frame's
    outcome is that of :func:`_decode_frame_float` with decoder "spa" whether
    it goes through the 8-lane kernel (``batched``; bit-identical, lanes
    refilled as they finish) or alone, and whichever frames share a batch."""
    if not batched:
        for fr in frames:
            yield fr, _decode_frame_float(fr, bob, Lc, "spa", max_iter, retry_iter,
                                          max_rounds, delta_of(fr.k), warm_restart, stats)
        return
    W = _core.SPA_LANES
    frames = iter(frames)
    code = L = R = None
    budget = np.full(W, max_iter, dtype=np.int32)
    iters = np.zeros(W, dtype=np.int32)
    lane = [None] * W
    active = 0
    more = True
    while True:
        for l in range(W):
            if lane[l] is None and more:
                fr = next(frames, None)
                if fr is None:
                    more = False
                    break
                if code is None:
                    code = fr.code
                    L = np.zeros((code.n, W), dtype=np.float32)
                    R = np.zeros((code.edges, W), dtype=np.float32)
                    syn = np.zeros(code.m, dtype=np.uint8)
                ch = _frame_channel(fr, bob, Lc)
                L0, R0 = _spa_start(fr, ch, Lc)
                _core.spa_load_lane(l, L0, fr.syn, syn, L, R)
                if fr.scms_r is not None:
                    R[:, l] = R0
                lane[l] = (fr, ch)
                iters[l] = 0
                active |= 1 << l
        if not active:
            return
        done = _core.decode_spa_lanes(code.row_ptr, code.cols, syn, R, L, active, budget, iters)
        for l in range(W):
            if not (active >> l) & 1:
                continue
            ok = bool((done >> l) & 1)
            if not ok and iters[l] < budget[l]:
                continue                        # still running
            fr, ch = lane[l]
            stats["iter"] += int(iters[l])
            it = int(iters[l]) if ok else -max_iter
            Rl = np.ascontiguousarray(R[:, l])
            Ll = np.ascontiguousarray(L[:, l])
            yield fr, _blind_rounds(fr, _float_bp(code, fr.syn, "spa"), ch, Rl, Ll, it,
                                    retry_iter, max_rounds, delta_of(fr.k), warm_restart,
                                    stats)
            lane[l] = None
            active &= ~(1 << l)


class _LanePool:
    """Decoder state of the 32-lane SCMS kernel for one mother code."""

    def __init__(self, code):
        W = _core.SCMS_LANES
        n, m, E = code.n, code.m, code.edges
        self.code = code
        self.L = np.zeros((n, W), dtype=np.int8)
        self.syn = np.zeros(m, dtype=np.uint32)
        self.qsign = np.zeros(E, dtype=np.uint32)
        self.qnz = np.zeros(E, dtype=np.uint32)
        self.m1s = np.zeros((m, W), dtype=np.uint8)
        self.m2s = np.zeros((m, W), dtype=np.uint8)
        self.idx = np.zeros((m, W), dtype=np.uint8)
        self.par = np.zeros(m, dtype=np.uint32)
        self.hard = np.zeros((W, n), dtype=np.uint8)
        self.budget = np.zeros(W, dtype=np.int32)
        self.iters = np.zeros(W, dtype=np.int32)

    def load(self, l, fr, bob, budget):
        """Start frame ``fr`` (Bob's bits as channel LLRs) afresh in lane ``l``."""
        short = fr.short
        _core.scms_load_lane(l, SCMS_CHANNEL, fr.key_pos, bob[fr.s0:fr.s0 + fr.k], short,
                             fr.x[short], fr.syn, self.syn, self.L, self.qsign, self.qnz,
                             self.m1s, self.m2s, self.idx, self.par)
        self.budget[l] = budget
        self.iters[l] = 0

    def messages(self, l):
        """Check-to-variable messages of lane ``l`` in quanta (int8): on edge
        j of check c, (-1)^(bit l of par[c] ^ qsign[e]) times m2s if idx[c] is
        j, else m1s (ldpc_scms.h)."""
        out = np.empty(self.code.edges, dtype=np.int8)
        _core.scms_messages(l, self.code.row_ptr, self.m1s, self.m2s, self.idx, self.par,
                            self.qsign, out)
        return out

    def run(self, active):
        c = self.code
        return _core.decode_scms_lanes(c.row_ptr, c.cols, self.syn, self.L, self.qsign,
                                       self.qnz, self.m1s, self.m2s, self.idx, self.par,
                                       active, self.budget, self.iters, self.hard,
                                       SCMS_A, SCMS_B, SCMS_MAX)


def _new_stats():
    return {"leaked": 0, "rounds": 1, "first_fail": 0, "undetected": 0, "iter": 0,
            "rescued": 0}


def _run_workers(work, frames, threads):
    """Run ``work(stats, take)`` on ``min(threads, ...)`` threads sharing the
    frame queue ``frames`` (``take()`` returns the next frame index or None);
    returns the workers' statistics dicts."""
    queue = list(reversed(frames))
    lock = threading.Lock()

    def take():
        with lock:
            return queue.pop() if queue else None

    nthreads = max(1, min(threads, len(frames)))
    parts = [_new_stats() for _ in range(nthreads)]
    if nthreads == 1:
        work(parts[0], take)
        return parts
    with ThreadPoolExecutor(max_workers=nthreads) as ex:
        for fut in [ex.submit(work, st, take) for st in parts]:
            fut.result()
    return parts


def _decode_pool_scms(code, take, setup, bob, max_iter, stats, finish, rescue):
    """First decoding attempt of frames (indices from ``take()`` until it
    returns None, all of mother code ``code``) with the batched SCMS kernel,
    refilling a lane as soon as its frame is finished.

    A frame's lane evolves independently of the other lanes, so its outcome
    does not depend on which frames share the pool, on the lane it gets or on
    the pool (thread) that takes it.  Decoded frames go to
    ``finish(stats, fr, hard, leak, 1, 0)``; frames SCMS could not decode go to
    ``rescue(stats, frames)`` in batches of up to RESCUE_BATCH (sum-product
    from SCMS's messages on the same syndrome, then blind rounds: a stronger
    decoder costs no leakage).
    """
    W = _core.SCMS_LANES
    pool = _LanePool(code)
    lane = [None] * W
    active = 0
    more = True
    pending = []
    while True:
        for l in range(W):
            if lane[l] is None and more:
                fi = take()
                if fi is None:
                    more = False
                    break
                lane[l] = setup(fi)
                pool.load(l, lane[l], bob, max_iter)
                active |= 1 << l
        if not active:
            if pending:
                rescue(stats, pending)
            return
        done = pool.run(active)
        for l in range(W):
            if not (active >> l) & 1:
                continue
            ok = bool((done >> l) & 1)
            if not ok and pool.budget[l] > 0:
                continue                        # still running
            fr = lane[l]
            stats["iter"] += int(pool.iters[l])
            if ok:
                finish(stats, fr, pool.hard[l].copy(), code.m - fr.p0, 1, 0)
            else:
                stats["first_fail"] += 1
                fr.scms_r = pool.messages(l)        # sum-product continues from them
                pending.append(fr)
                if len(pending) >= RESCUE_BATCH:
                    rescue(stats, pending)
                    pending = []
            lane[l] = None
            active &= ~(1 << l)
