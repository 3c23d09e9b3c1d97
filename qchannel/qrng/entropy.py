"""Min-entropy of raw binary data by NIST SP 800-90B (non-IID track, section 6.3)
and the continuous health tests of section 4.4.

No maintained Python implementation exists (the PyPI package ``sp800_90b``,
a 2020 binding of NIST's C++ tool, needs libdivsufsort and has had no
release since), so the ten estimators are implemented here from the
standard, following the conventions of NIST's reference implementation
(SP800-90B_EntropyAssessment: Z = 2.5758293035489008, window sizes, tie
rules, dictionary limits).  The data are bits; the collision, Markov and
compression estimates are defined for binary data only, which is what a
QRNG's raw bitstring is.  The four predictors run in the compiled core
(:mod:`qchannel._core.qrng`); the rest is vectorised numpy.

Every estimator returns min-entropy per bit; :func:`assess` takes the minimum.
"""
import math

import numpy as np

from qchannel._core import qrng as _k
from qchannel.params import check_bits, check_real

ZALPHA = 2.5758293035489008   # the 99% upper confidence bound of the standard
MIN_SAMPLES = 4096 + 1        # MultiMCW's largest window needs this many

__all__ = ["assess", "most_common_value", "collision", "markov", "compression",
           "t_tuple_and_lrs", "multi_mcw", "lag", "multi_mmc", "lz78y", "prediction_estimate",
           "rct_cutoff", "apt_cutoff", "health_tests", "HealthTests", "ZALPHA"]


def _upper(p, n):
    return min(1.0, p + ZALPHA * math.sqrt(p * (1.0 - p) / (n - 1.0)))


def most_common_value(bits):
    """6.3.1: -log2 of the 99% upper bound on the most common value's probability."""
    n = bits.shape[0]
    p = max(int(bits.sum()), n - int(bits.sum())) / n
    return -math.log2(_upper(p, n))


def collision(bits):
    """6.3.2 (binary), in the closed form of the NIST tool: the lower bound on
    the mean collision time X' solves X' = -2p^2 + 2p + 2."""
    v, total, s2 = _k.collision_walk(bits)
    if v < 2:
        return 1.0
    x = total / v
    s = math.sqrt(max(0.0, (s2 - total * x) / (v - 1)))
    x = max(2.0, x - ZALPHA * s / math.sqrt(v))
    if x < 2.5:
        return -math.log2(0.5 + math.sqrt(1.25 - 0.5 * x))
    return 1.0


def markov(bits):
    """6.3.3 (binary): the most likely 128-bit sequence under the fitted
    first-order Markov chain, per bit (capped at 1)."""
    n = bits.shape[0]
    a, b = bits[:-1], bits[1:]
    c0 = int(n - 1 - a.sum())
    c00 = int(np.count_nonzero((a == 0) & (b == 0)))
    c10 = int(np.count_nonzero((a == 1) & (b == 0)))
    c1 = n - 1 - c0
    p00 = c00 / c0 if c0 else 0.0
    p01 = 1.0 - p00 if c0 else 0.0
    p10 = c10 / c1 if c1 else 0.0
    p11 = 1.0 - p10 if c1 else 0.0
    p0 = (c0 + (1 if bits[-1] == 0 else 0)) / n
    p1 = 1.0 - p0
    lg = lambda x: math.log2(x)  # noqa: E731
    h = 128.0
    if p00 > 0:
        h = min(h, -lg(p0) - 127 * lg(p00))
    if p01 > 0 and p10 > 0:
        h = min(h, -lg(p0) - 64 * lg(p01) - 63 * lg(p10))
        h = min(h, -lg(p1) - 64 * lg(p10) - 63 * lg(p01))
    if p01 > 0 and p11 > 0:
        h = min(h, -lg(p0) - lg(p01) - 126 * lg(p11))
    if p10 > 0 and p00 > 0:
        h = min(h, -lg(p1) - lg(p10) - 126 * lg(p00))
    if p11 > 0:
        h = min(h, -lg(p1) - 127 * lg(p11))
    return min(h / 128.0, 1.0)


def _bisect_decreasing(f, target, lo, hi, iters=200):
    """p in [lo, hi] with f(p) = target for f non-increasing (f(lo) >= target)."""
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if f(mid) > target:
            lo = mid
        else:
            hi = mid
    return hi


def compression(bits):
    """6.3.4 (binary): Maurer-style compression on 6-bit blocks, d = 1000
    dictionary blocks; the entropy of a block divided by 6."""
    b, d = 6, 1000
    nb = bits.shape[0] // b
    if nb <= d:
        raise ValueError(f"the compression estimate needs more than {b * d} bits")
    blocks = bits[:nb * b].reshape(nb, b).astype(np.int64) @ (1 << np.arange(b - 1, -1, -1))
    order = np.argsort(blocks, kind="stable")
    prev = np.full(nb, -1, dtype=np.int64)
    same = blocks[order[1:]] == blocks[order[:-1]]
    prev[order[1:][same]] = order[:-1][same]
    i = np.arange(d, nb)
    dist = np.where(prev[d:] >= 0, i - prev[d:], i + 1)
    lg = np.log2(dist)
    v = nb - d
    x = lg.sum() / v
    sigma = 0.5907 * math.sqrt(max(0.0, (lg @ lg) / (v - 1.0) - x * x))
    x -= ZALPHA * sigma / math.sqrt(v)

    k = 1 << b
    u = np.arange(1, nb + 1, dtype=np.float64)
    log2u = np.log2(u)

    def G(z):
        # G(z) = 1/v sum_{t=d+1}^{L} [z^2 A_{t-1} + z a_t], a_u = log2(u) (1-z)^(u-1)
        a = log2u * np.exp((u - 1.0) * math.log1p(-z))     # z < 1 here
        A = np.cumsum(a)
        return (z * z * A[d - 1:nb - 1].sum() + z * a[d:nb].sum()) / v

    def expected(p):
        q = (1.0 - p) / (k - 1)
        return G(p) + (k - 1) * G(q)

    if expected(1.0 / k) <= x:
        return 1.0
    # expected() decreases from its value at p = 1/k to 0 at p = 1
    p = _bisect_decreasing(expected, x, 1.0 / k, 1.0, iters=100)
    return min(1.0, -math.log2(p) / b)


def t_tuple_and_lrs(bits):
    """6.3.5 and 6.3.6.  Tuple counts by refinement: the ranks of the
    (t+1)-tuples come from those of the t-tuples and one more bit (O(n) per
    length, bincount only), and only positions whose tuple repeats are
    carried on, so the cost follows the longest repeated substring.
    Returns (t-tuple estimate or None, LRS estimate or None).

    One departure from the standard, conservative: when some substring
    longer than ``LRS_CAP`` bits repeats (a stuck or periodic source), the
    scan stops there and the LRS estimate is 0 -- the standard's value would
    need a scan as long as the repeat (up to n steps), and its minimum is
    then decided by such a source's other estimates anyway."""
    n = bits.shape[0]
    Q, S = [0], [0]                      # Q[t]: largest count; S[t]: sum C(count, 2)
    g = bits.astype(np.int64)
    idx = np.arange(n, dtype=np.int64)
    t = 1
    while True:
        counts = np.bincount(g)
        Q.append(int(counts.max()))
        S.append(int((counts * (counts - 1) // 2).sum()))
        if Q[t] < 2:
            break
        if t == LRS_CAP:
            return _t_tuple(Q, n), 0.0
        keep = (counts[g] >= 2) & (idx + t < n)
        idx, g = idx[keep], g[keep]
        if idx.shape[0] == 0:
            break
        key = 2 * g + bits[idx + t]
        present = np.bincount(key) > 0
        g = (np.cumsum(present) - 1)[key]
        t += 1
    v = max(i for i in range(len(Q)) if Q[i] >= 2) if max(Q) >= 2 else 0
    u = _first_below_35(Q, v)
    tt, lrs = _t_tuple(Q, n), None
    if v >= u:
        pmax = max((S[i] / ((n - i) * (n - i + 1) / 2)) ** (1.0 / i) for i in range(u, v + 1))
        lrs = -math.log2(_upper(pmax, n))
    return tt, lrs


LRS_CAP = 256


def _first_below_35(Q, v):
    u = 1
    while u <= v and Q[u] >= 35:
        u += 1
    return u


def _t_tuple(Q, n):
    """6.3.5 from the largest tuple counts Q[1..] (None when Q[1] < 35)."""
    v = len(Q) - 1
    u = _first_below_35(Q, v)
    if u == 1:
        return None
    pmax = max((Q[i] / (n - i + 1)) ** (1.0 / i) for i in range(1, u))
    return -math.log2(_upper(pmax, n))


def _no_run_log_prob(p, r, N):
    """log P(no run of r correct predictions in N trials | success prob p)
    (SP 800-90B eq. in 6.3.7 step 4, with x the fixed point of
    x = 1 + q p^r x^(r+1))."""
    p = np.longdouble(p)
    q = 1 - p
    x, last = np.longdouble(1.0), np.longdouble(0.0)
    eps = np.finfo(np.longdouble).eps
    for _ in range(66):
        if x - last <= eps * x:
            break
        last = x
        x = 1 + q * p ** r * x ** (r + 1)
    return float(np.log(1 - p * x) - np.log((r + 1 - r * x) * q) - (N + 1) * np.log(x))


def prediction_estimate(C, N, r_max, k=2):
    """Min-entropy from a predictor's C correct predictions out of N and its
    longest run of correct ones (global and local bounds, 6.3.7 steps 3-5)."""
    p_glob = C / N
    if p_glob > 0:
        p_glob = _upper(p_glob, N)
    else:
        p_glob = 1.0 - 0.01 ** (1.0 / N)
    p = max(1.0 / k, p_glob)
    target = math.log(0.99)
    r = r_max + 1
    if p < 1.0 and _no_run_log_prob(p, r, N) > target:
        p = max(p, _bisect_decreasing(lambda x: _no_run_log_prob(x, r, N), target, p, 1.0,
                                      iters=200))
    return -math.log2(p)


def multi_mcw(bits):
    return prediction_estimate(*_k.multi_mcw(bits))


def lag(bits):
    return prediction_estimate(*_k.lag(bits))


def multi_mmc(bits):
    return prediction_estimate(*_k.multi_mmc(bits))


def lz78y(bits):
    return prediction_estimate(*_k.lz78y(bits))


def assess(bits):
    """All ten non-IID estimates of binary data (min-entropy per bit) and
    their minimum ``h_min``.  Needs at least 6001 bits (the compression
    estimate's dictionary); the standard asks for 1e6 samples."""
    bits = check_bits("bits", bits)
    if bits.shape[0] <= 6000:
        raise ValueError(f"entropy assessment needs more than 6000 bits, got {bits.shape[0]} "
                         f"(SP 800-90B asks for 1e6)")
    tt, lrs = t_tuple_and_lrs(bits)
    est = {
        "most_common_value": most_common_value(bits),
        "collision": collision(bits),
        "markov": markov(bits),
        "compression": compression(bits),
        "t_tuple": tt,
        "lrs": lrs,
        "multi_mcw": multi_mcw(bits),
        "lag": lag(bits),
        "multi_mmc": multi_mmc(bits),
        "lz78y": lz78y(bits),
    }
    values = [v for v in est.values() if v is not None]
    est["h_min"] = max(0.0, min(values))
    return est


# --------------------------------------------------------------------------
# health tests (4.4)
# --------------------------------------------------------------------------
ALPHA_LOG2 = 20            # false-positive probability alpha = 2^-20
APT_WINDOW_BINARY = 1024


def _check_h(h):
    return check_real("min-entropy per sample H", h, 0.0, 1.0, lo_open=True)


def rct_cutoff(h, alpha_log2=ALPHA_LOG2):
    """Repetition count test cutoff C = 1 + ceil(-log2(alpha) / H) (4.4.1)."""
    return 1 + math.ceil(alpha_log2 / _check_h(h))


def apt_cutoff(h, window=APT_WINDOW_BINARY, alpha_log2=ALPHA_LOG2):
    """Adaptive proportion test cutoff (4.4.2): C = 1 + CRITBINOM(W, 2^-H,
    1 - alpha), the standard's formula (CRITBINOM: the smallest c with
    P(Binomial(W, p) <= c) >= 1 - alpha; 589 for H = 1, W = 1024)."""
    from scipy.stats import binom

    p = 2.0 ** -_check_h(h)
    return 1 + int(binom.ppf(1.0 - 2.0 ** -alpha_log2, window, p))


class HealthTests:
    """The continuous tests of 4.4 over a stream fed in pieces: a run of
    identical bits or an APT window that straddles two pieces counts as it
    would in one stream (the run in progress and the partial window carry
    over).  ``feed`` the pieces in order, then ``finish`` (counts the last
    run; an incomplete last window is not a window)."""

    def __init__(self, h, window=APT_WINDOW_BINARY):
        self.c_rct, self.c_apt, self.window = rct_cutoff(h), apt_cutoff(h, window), window
        self.run_value, self.run_len = -1, 0     # the run still open at the end of the stream
        self.partial = np.empty(0, np.uint8)     # bits of the APT window still open
        self.rct = self.apt = self.windows = 0

    def feed(self, bits):
        bits = check_bits("bits", bits)
        if bits.shape[0] == 0:
            return self
        edges = np.flatnonzero(np.diff(bits)) + 1
        runs = np.diff(np.concatenate(([0], edges, [bits.shape[0]])))
        if bits[0] == self.run_value:
            runs[0] += self.run_len
        elif self.run_len >= self.c_rct:         # the open run ended at this piece's start
            self.rct += 1
        self.rct += int(np.count_nonzero(runs[:-1] >= self.c_rct))
        self.run_value, self.run_len = int(bits[-1]), int(runs[-1])
        stream = np.concatenate((self.partial, bits)) if self.partial.size else bits
        nw = stream.shape[0] // self.window
        w = stream[:nw * self.window].reshape(nw, self.window)
        self.apt += int(np.count_nonzero(np.count_nonzero(w == w[:, :1], axis=1) >= self.c_apt))
        self.windows += nw
        self.partial = stream[nw * self.window:].copy()
        return self

    def finish(self):
        """The counts of the whole stream fed so far (the open run included)."""
        rct = self.rct + int(self.run_len >= self.c_rct)
        return {"rct_cutoff": self.c_rct, "apt_cutoff": self.c_apt, "apt_window": self.window,
                "rct_failures": rct, "apt_failures": self.apt, "apt_windows": self.windows,
                "failures": rct + self.apt}


def health_tests(bits, h, window=APT_WINDOW_BINARY):
    """Run both tests over a bit stream with cutoffs for min-entropy ``h`` per
    bit.  A run of identical bits reaching the RCT cutoff is one RCT failure;
    a non-overlapping window of ``window`` bits in which the window's first
    value occurs at least the APT cutoff times is one APT failure."""
    return HealthTests(h, window).feed(bits).finish()
