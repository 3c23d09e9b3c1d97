"""Photonic QRNG devices (event-driven) and the sequential SP 800-90B predictors.

Devices
-------
``beam_splitter``: pulses at a fixed rate hit an unbalanced beam splitter with
one detector behind each output.  Per pulse the state of each detector is
none / photon (photon-only avalanche) / dark (dark count, with or without a
photon); the joint 3 x 3 table is given by the caller.  Slots with no primary
avalanche are skipped with a geometric gap; dead time and afterpulses
(1 + floor(Exp(tau)) slots after a primary click, not cascading) are applied in
slot order.  One detector clicking gives its bit (detector 0 is bit 0); a double
click is discarded or read as 0 (``double_zero``).

``arrival_time``: a continuous Poisson stream of primary avalanches (photons
and dark counts) on one detector, read by a free-running clock of ``n_bins``
bins of width 1 (times are in bins); each click gives the bin of its arrival
modulo ``n_bins`` (Wahl et al., APL 98, 171105 (2011)).  After a click the
detector is dead for ``dead_bins``; each primary click makes one afterpulse
with probability ``ap_prob``, Exp(``ap_tau_bins``) after the detector re-arms
(a free-running detector's afterpulse probability is quoted for the window
after its dead time); afterpulses do not cascade.

Both return, with the samples, the counts an adversary's guessing probability
needs (how many samples came from noise, how many from a detector that was the
only one live, ...).  Randomness: one Philox stream (seed, purpose, block).

Predictors
----------
MultiMCW, Lag, MultiMMC and LZ78Y of NIST SP 800-90B section 6.3.7-6.3.10 on
binary data, ported from the structure of NIST's reference implementation
(SP800-90B_EntropyAssessment, same window sizes, tie rules and dictionary
limits).  Each returns (C, N, longest run of correct predictions).
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, realloc, free, calloc
from libc.string cimport memset
from libc.math cimport log, floor

from qchannel._core.philox cimport PhiloxStream, stream_init, next_double, next_geometric_gap
from qchannel._core.checks cimport int_arg, real_arg, check_len, check_doubles
from qchannel._core.heap cimport Heap, heap_free, heap_init, heap_pop, heap_push

cdef int64_t NEVER = -(1LL << 62)


# ----------------------------------------------------------------------------
# beam-splitter QRNG
# ----------------------------------------------------------------------------
# detector states in the joint table: 0 none, 1 photon only, 2 dark count
def beam_splitter(seed, purpose, block, cnp.ndarray joint not None, n_samples, dead_gates,
                  ap_prob, ap_tau_gates, bint double_zero, max_slots):
    """Simulate until ``n_samples`` raw bits (or ``max_slots`` slots).

    ``joint``: 9 probabilities P(state of detector 0 = a, detector 1 = b) at
    index 3 a + b, summing to 1.  Returns (bits uint8, slots simulated,
    counts dict)."""
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef uint32_t purpose_ = int_arg("purpose", purpose, 0, 2**32 - 1)
    cdef uint32_t block_ = int_arg("block", block, 0, 2**32 - 1)
    cdef double[::1] jp = np.ascontiguousarray(joint, dtype=np.float64)
    check_len("joint", jp.shape[0], 9)
    check_doubles("joint", &jp[0], 9, 0.0, 1.0)
    cdef int64_t n = int_arg("n_samples", n_samples, 0, 2**40)
    cdef int64_t dead = int_arg("dead_gates", dead_gates, 0, 2**40)
    cdef double pap = real_arg("ap_prob", ap_prob, 0.0, 1.0)
    cdef double tau = real_arg("ap_tau_gates", ap_tau_gates, 0.0, 1e12)
    cdef int64_t smax = int_arg("max_slots", max_slots, 1, 1LL << 60)
    cdef double total = 0.0, p_event
    cdef int k
    for k in range(9):
        total += jp[k]
    if not (abs(total - 1.0) < 1e-9):
        raise ValueError(f"joint probabilities sum to {total}, must sum to 1")
    p_event = 1.0 - jp[0]
    if not (p_event > 0.0):
        raise ValueError("joint[0] = 1: no detector ever clicks")

    cdef cnp.ndarray[cnp.uint8_t, ndim=1] out = np.empty(n, dtype=np.uint8)
    cdef uint8_t[::1] bits = out
    # cumulative conditional table over the 8 event classes (index 1..8)
    cdef double cum[9]
    cdef double acc = 0.0
    cum[0] = 0.0
    for k in range(1, 9):
        acc += jp[k] / p_event
        cum[k] = acc
    cdef int last_nz = 1
    for k in range(1, 9):
        if jp[k] > 0.0:
            last_nz = k
    cdef double log1m = log(jp[0]) if jp[0] > 0.0 else -1e300
    cdef PhiloxStream s
    stream_init(&s, seed_, purpose_, block_)
    cdef Heap h
    if heap_init(&h) != 0:
        raise MemoryError()
    cdef int64_t got = 0, slot = -1, next_primary, t, key
    cdef int64_t last_click[2]
    cdef int prim[2]
    cdef int ap[2]
    cdef int click[2]
    cdef int cls, j, noise, live_both
    cdef double u
    cdef int64_t n_noise = 0, n_single_live = 0, n_both_live = 0, n_double = 0
    cdef int64_t n_discarded = 0, n_afterpulse = 0, n_dark = 0
    cdef int failed = 0
    last_click[0] = NEVER
    last_click[1] = NEVER
    with nogil:
        next_primary = slot + 1 + <int64_t>next_geometric_gap(&s, log1m)
        while got < n:
            t = next_primary
            if h.n > 0 and (h.a[0] >> 1) < t:
                t = h.a[0] >> 1
            if t >= smax:
                break
            prim[0] = 0
            prim[1] = 0
            ap[0] = 0
            ap[1] = 0
            if t == next_primary:
                u = next_double(&s)
                cls = last_nz
                for k in range(1, 9):
                    if u < cum[k]:
                        cls = k
                        break
                prim[0] = cls // 3
                prim[1] = cls % 3
                next_primary = t + 1 + <int64_t>next_geometric_gap(&s, log1m)
            while h.n > 0 and (h.a[0] >> 1) == t:
                key = heap_pop(&h)
                ap[key & 1] = 1
            live_both = 1
            noise = 0
            for j in range(2):
                click[j] = 0
                if t - last_click[j] <= dead:
                    live_both = 0
                    continue
                if prim[j] != 0 or ap[j]:
                    click[j] = 1
                    last_click[j] = t
                    # a dark count or an afterpulse in a firing detector: the
                    # adversary is granted knowledge of this bit
                    if prim[j] == 2:
                        noise = 1
                        n_dark += 1
                    if ap[j]:
                        noise = 1
                        n_afterpulse += 1
                    if prim[j] != 0 and pap > 0.0 and next_double(&s) < pap:
                        key = (t + 1 + <int64_t>floor(-tau * log(next_double(&s)))) * 2 + j
                        if heap_push(&h, key) != 0:
                            failed = 1
                            break
            if failed:
                break
            if click[0] and click[1]:
                n_double += 1
                if double_zero:
                    bits[got] = 0
                    got += 1
                    n_noise += 1      # a double click's bit is fixed by the rule
                else:
                    n_discarded += 1
            elif click[0] or click[1]:
                bits[got] = 0 if click[0] else 1
                got += 1
                if noise:
                    n_noise += 1
                elif live_both:
                    n_both_live += 1
                else:
                    n_single_live += 1
            slot = t
    heap_free(&h)
    if failed:
        raise MemoryError("afterpulse queue")
    counts = {"noise": n_noise, "single_live": n_single_live, "both_live": n_both_live,
              "double_clicks": n_double, "discarded": n_discarded,
              "afterpulse_clicks": n_afterpulse, "dark_clicks": n_dark}
    return out[:got], slot + 1, counts


# ----------------------------------------------------------------------------
# arrival-time QRNG
# ----------------------------------------------------------------------------
def arrival_time(seed, purpose, block, photon_rate, dark_rate, n_bins, n_samples, dead_bins,
                 ap_prob, ap_tau_bins, max_time):
    """Simulate until ``n_samples`` clicks (or ``max_time`` bins).

    Rates are primary avalanches per bin (photons detected, dark counts).
    Returns (samples uint32 in [0, n_bins), time simulated in bins, counts)."""
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef uint32_t purpose_ = int_arg("purpose", purpose, 0, 2**32 - 1)
    cdef uint32_t block_ = int_arg("block", block, 0, 2**32 - 1)
    cdef double lp = real_arg("photon_rate", photon_rate, 0.0, 1e6)
    cdef double ld = real_arg("dark_rate", dark_rate, 0.0, 1e6)
    cdef int64_t nb = int_arg("n_bins", n_bins, 2, 1 << 24)
    cdef int64_t n = int_arg("n_samples", n_samples, 0, 2**40)
    cdef double dead = real_arg("dead_bins", dead_bins, 0.0, 1e15)
    cdef double pap = real_arg("ap_prob", ap_prob, 0.0, 1.0)
    cdef double tau = real_arg("ap_tau_bins", ap_tau_bins, 0.0, 1e15)
    cdef double tmax = real_arg("max_time", max_time, 1.0, 2.0 ** 46)
    cdef double lam = lp + ld
    if not (lam > 0.0):
        raise ValueError("photon_rate + dark_rate must be > 0")
    cdef double p_dark = ld / lam
    cdef cnp.ndarray[cnp.uint32_t, ndim=1] out = np.empty(n, dtype=np.uint32)
    cdef uint32_t[::1] v = out
    cdef PhiloxStream s
    stream_init(&s, seed_, purpose_, block_)
    # Times are doubles in bins (below 2^46 bins the resolution is better than
    # 2^-6 bin).  Pending afterpulses are int64 heap keys of 2^-16 bin
    # resolution (afterpulse timing within a bin only matters at its edges).
    cdef Heap h
    if heap_init(&h) != 0:
        raise MemoryError()
    cdef double scale = 65536.0
    cdef int64_t got = 0, n_noise = 0, n_ap = 0, n_dk = 0, n_lost = 0
    cdef double t = 0.0           # time of the next primary avalanche
    cdef double live_at = -1.0    # detector live from this time on
    cdef double tc = 0.0, tap
    cdef int is_ap, failed = 0
    cdef int64_t key
    with nogil:
        t = -log(next_double(&s)) / lam
        while got < n:
            is_ap = 0
            tc = t
            if h.n > 0 and h.a[0] / scale < t:
                key = heap_pop(&h)
                tc = key / scale
                is_ap = 1
            if tc >= tmax:
                break
            if not is_ap:
                t = t + (-log(next_double(&s)) / lam)
            if tc < live_at:
                if not is_ap:
                    n_lost += 1
                continue
            live_at = tc + dead
            v[got] = <uint32_t>(<int64_t>floor(tc) % nb)
            got += 1
            if is_ap:
                n_noise += 1
                n_ap += 1
            else:
                if next_double(&s) < p_dark:
                    n_noise += 1
                    n_dk += 1
                if pap > 0.0 and next_double(&s) < pap:
                    tap = tc + dead - tau * log(next_double(&s))
                    if heap_push(&h, <int64_t>(tap * scale)) != 0:
                        failed = 1
                        break
    heap_free(&h)
    if failed:
        raise MemoryError("afterpulse queue")
    counts = {"noise": n_noise, "afterpulse_clicks": n_ap, "dark_clicks": n_dk,
              "lost_dead": n_lost}
    return out[:got], tc if got else 0.0, counts


# ----------------------------------------------------------------------------
# SP 800-90B predictors on binary data
# ----------------------------------------------------------------------------
cdef const uint8_t[::1] _binary(object data) except *:
    cdef const uint8_t[::1] v = np.ascontiguousarray(data, dtype=np.uint8)
    cdef Py_ssize_t i
    cdef uint8_t orr = 0
    for i in range(v.shape[0]):
        orr |= v[i]
    if orr > 1:
        raise ValueError("data must be bits (0/1)")
    return v


def multi_mcw(data):
    """MultiMCW prediction (6.3.7), windows 63, 255, 1023, 4095.  Returns (C, N, r_max)."""
    cdef const uint8_t[::1] S = _binary(data)
    cdef Py_ssize_t L = S.shape[0]
    cdef int64_t W[4]
    W[0] = 63; W[1] = 255; W[2] = 1023; W[3] = 4095
    if L < W[3] + 1:
        raise ValueError(f"MultiMCW needs at least {W[3] + 1} samples, got {L}")
    cdef int64_t score[4]
    cdef int64_t cnt[4][2]
    cdef int64_t pos[4][2]
    cdef int64_t maxc[4]
    cdef int freq[4]
    cdef int winner = 0, j, k
    cdef int64_t i, C = 0, run = 0, rmax = 0, maxpos
    for j in range(4):
        score[j] = 0
        maxc[j] = 0
        freq[j] = 0
        for k in range(2):
            cnt[j][k] = 0
            pos[j][k] = 0
    with nogil:
        for i in range(W[3]):
            for j in range(4):
                if i < W[j]:
                    cnt[j][S[i]] += 1
                    if maxc[j] <= cnt[j][S[i]]:
                        maxc[j] = cnt[j][S[i]]
                        freq[j] = S[i]
                    pos[j][S[i]] = i
        for i in range(W[0], L):
            if freq[winner] == S[i]:
                C += 1
                run += 1
                if run > rmax:
                    rmax = run
            else:
                run = 0
            for j in range(4):
                if i >= W[j] and freq[j] == S[i]:
                    score[j] += 1
                    if score[j] >= score[winner]:
                        winner = j
            for j in range(4):
                if i >= W[j]:
                    cnt[j][S[i - W[j]]] -= 1
                    cnt[j][S[i]] += 1
                    pos[j][S[i]] = i
                    if S[i - W[j]] != freq[j] and maxc[j] <= cnt[j][S[i]]:
                        maxc[j] = cnt[j][S[i]]
                        freq[j] = S[i]
                    elif S[i - W[j]] == freq[j]:
                        maxc[j] -= 1
                        maxpos = i - W[j]
                        for k in range(2):
                            if maxc[j] < cnt[j][k] or (maxc[j] == cnt[j][k] and maxpos <= pos[j][k]):
                                maxc[j] = cnt[j][k]
                                freq[j] = k
                                maxpos = pos[j][k]
    return C, L - W[0], rmax


def lag(data):
    """Lag prediction (6.3.8), D = 128.  Returns (C, N, r_max)."""
    cdef const uint8_t[::1] S = _binary(data)
    cdef Py_ssize_t L = S.shape[0]
    if L < 3:
        raise ValueError("Lag prediction needs at least 3 samples")
    cdef int64_t score[129]
    cdef int64_t i, d, dmax, C = 0, run = 0, rmax = 0
    cdef int winner = 1
    for d in range(129):
        score[d] = 0
    with nogil:
        for i in range(1, L):
            if S[i] == S[i - winner]:
                C += 1
                run += 1
                if run > rmax:
                    rmax = run
            else:
                run = 0
            dmax = 128 if i >= 128 else i
            for d in range(1, dmax + 1):
                if S[i - d] == S[i]:
                    score[d] += 1
                    if score[d] >= score[winner]:
                        winner = <int>d
    return C, L - 1, rmax


cdef enum:
    D_MMC = 16
    MMC_MAX_ENTRIES = 100000
    LZ_B = 16
    LZ_MAX_DICT = 65536


cdef int64_t** _dicts(int depth) except NULL:
    cdef int64_t** tab = <int64_t**>calloc(depth, sizeof(int64_t*))
    cdef int j
    if tab == NULL:
        raise MemoryError()
    for j in range(depth):
        tab[j] = <int64_t*>calloc(<size_t>1 << (j + 2), sizeof(int64_t))
        if tab[j] == NULL:
            _free_dicts(tab, depth)
            raise MemoryError()
    return tab


cdef void _free_dicts(int64_t** tab, int depth) noexcept:
    cdef int j
    for j in range(depth):
        free(tab[j])
    free(tab)


cdef inline int64_t* _entry(int64_t** tab, int d, uint32_t pattern) noexcept nogil:
    # the (count of next 0, count of next 1) pair of the length-d context `pattern`
    return tab[d - 1] + ((pattern & ((1U << d) - 1)) << 1)


def multi_mmc(data):
    """MultiMMC prediction (6.3.9), D = 16, binary.  Returns (C, N, r_max)."""
    cdef const uint8_t[::1] S = _binary(data)
    cdef Py_ssize_t L = S.shape[0]
    if L < D_MMC + 2:
        raise ValueError(f"MultiMMC needs at least {D_MMC + 2} samples")
    cdef int64_t** tab = _dicts(D_MMC)
    cdef int64_t score[D_MMC]
    cdef int64_t elems[D_MMC]
    cdef int64_t i, C = 0, run = 0, rmax = 0, cur_count
    cdef int d, winner = 0, cur_winner, pred
    cdef bint found
    cdef uint32_t pat = 0
    cdef int64_t* e
    for d in range(D_MMC):
        score[d] = 0
        pat = (pat << 1) | S[d]
        _entry(tab, d + 1, pat)[S[d + 1]] = 1
        elems[d] = 1
    with nogil:
        for i in range(2, L):
            found = False
            cur_winner = winner
            pat = 0
            d = 0
            while d < D_MMC and d <= i - 2:
                pat = pat | (<uint32_t>S[i - d - 1] << d)
                e = _entry(tab, d + 1, pat)
                if d == 0 or found:
                    if e[0] > e[1]:
                        pred = 0
                        cur_count = e[0]
                    else:
                        pred = 1
                        cur_count = e[1]
                    found = cur_count != 0
                if found:
                    if pred == S[i]:
                        score[d] += 1
                        if score[d] >= score[winner]:
                            winner = d
                        if d == cur_winner:
                            C += 1
                            run += 1
                            if run > rmax:
                                rmax = run
                    elif d == cur_winner:
                        run = 0
                    if e[S[i]] != 0:
                        e[S[i]] += 1
                    elif elems[d] < MMC_MAX_ENTRIES:
                        e[S[i]] = 1
                        elems[d] += 1
                elif elems[d] < MMC_MAX_ENTRIES:
                    e[S[i]] = 1
                    elems[d] += 1
                d += 1
    _free_dicts(tab, D_MMC)
    return C, L - 2, rmax


def lz78y(data):
    """LZ78Y prediction (6.3.10), B = 16, dictionary of 65536, binary.  Returns (C, N, r_max)."""
    cdef const uint8_t[::1] S = _binary(data)
    cdef Py_ssize_t L = S.shape[0]
    if L < LZ_B + 2:
        raise ValueError(f"LZ78Y needs at least {LZ_B + 2} samples")
    cdef int64_t** tab = _dicts(LZ_B)
    cdef int64_t i, C = 0, run = 0, rmax = 0, cur_count, max_count, elems = 0
    cdef int j, pred, round_pred
    cdef bint have
    cdef uint32_t pat = 0
    cdef int64_t* e
    for j in range(LZ_B):
        pat = pat | (<uint32_t>S[LZ_B - j - 1] << j)
        _entry(tab, j + 1, pat)[S[LZ_B]] = 1
        elems += 1
    with nogil:
        for i in range(LZ_B + 1, L):
            have = False
            pred = 2
            max_count = 0
            pat = 0
            for j in range(LZ_B):
                pat = (pat << 1) | S[i - LZ_B + j]
            j = LZ_B
            while j > 0:
                e = _entry(tab, j, pat)
                if e[0] > e[1]:
                    round_pred = 0
                    cur_count = e[0]
                else:
                    round_pred = 1
                    cur_count = e[1]
                if cur_count != 0:
                    if cur_count > max_count:
                        max_count = cur_count
                        have = True
                        pred = round_pred
                    e[S[i]] += 1
                elif elems < LZ_MAX_DICT:
                    e[S[i]] = 1
                    elems += 1
                j -= 1
            if have and pred == S[i]:
                C += 1
                run += 1
                if run > rmax:
                    rmax = run
            else:
                run = 0
    _free_dicts(tab, LZ_B)
    return C, L - LZ_B - 1, rmax


def collision_walk(data):
    """The collision estimate's walk (6.3.2, binary): from i = 0 take 2 samples
    when S[i] = S[i+1], else 3.  Returns (v, sum of t_v, sum of t_v^2)."""
    cdef const uint8_t[::1] S = _binary(data)
    cdef Py_ssize_t L = S.shape[0]
    cdef int64_t i = 0, v = 0, s2 = 0, t
    with nogil:
        while i < L - 1:
            if S[i] == S[i + 1]:
                t = 2
            elif i < L - 2:
                t = 3
            else:
                break
            v += 1
            s2 += t * t
            i += t
    return v, i, s2
