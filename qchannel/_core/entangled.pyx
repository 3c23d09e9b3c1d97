# Event-driven Monte Carlo of an entangled-pair (SPDC) link with two arms.
#
# Per slot (pulse, or coincidence time bin of a CW source) the source emits n
# pairs with P(n) (thermal or Poisson, tabulated by the caller).  Pairs are
# independent (distinguishable, multimode) photon pairs.  Photon A of every
# pair reaches Alice's detectors with probability etaA (transmittance x
# efficiency x window acceptance), photon B Bob's with etaB, independently.
# Each of the four detectors adds a dark/background click with probability
# dA (Alice's two) or dB (Bob's two) per slot.
#
# Given n, Alice's clicks and Bob's clicks are independent (all A-photon
# losses are independent of all B-photon losses), so with
#   qA(n) = P(no click at Alice | n) = (1 - dA)^2 (1 - etaA)^n,  qB likewise,
# an *event* has probability  P(E | n) = (1 - qA)(1 - qB)      (mode 0:
# coincidences) or 1 - qA qB (mode 1: any click, needed for dead time).
# Slots are visited event-driven: the gap to the next event is geometric with
# P(E) = sum_n P(n) P(E | n); at an event n is drawn from P(n | E) (table
# ``n_cdf``), then which side clicked (mode 1), then on each side with a click
# kA = #detected photons and the dark counts conditionally on >= 1 click
# (zero-truncated binomial by the first-success index), then which pairs were
# detected on both sides (a uniformly random kB-subset against the first kA
# pairs: exchangeability).  A pair detected on both sides gives correlated
# outcomes with P(a = b) = (1 + E[i, j]) / 2 for settings (i, j) (E is the
# caller's correlation table, uniform marginals: Bell-diagonal state after
# unital channels); a photon detected on one side only, or a dark click,
# hits either detector with probability 1/2.  Threshold detectors: a
# detector clicks if at least one photon or a dark count hits it; if both
# detectors of a side click, the bit is random (squashing) and a flag is set.
#
# Eve (optional): with probability ``eve_fraction`` the B photon of a pair is
# measured by Eve in a setting e drawn uniformly from nE settings and resent;
# then Eve's result r is uniform, P(a = r) = (1 + Eae[i, e]) / 2,
# P(b = r) = (1 + Eeb[e, j]) / 2.  Eve's choices come from stream
# (seed, EVE, block).
#
# Dead time (mode 1): detector k is blind for ``dead[side]`` slots after a click;
# ``last_click`` (4 entries: A0, A1, B0, B1) carries over from block to block.
#
# Randomness: stream (seed, ENTANGLEMENT, block) for the events of block
# ``block``; blocks are fixed slices of slots, so results do not depend on the
# chunking.  Pure function over arrays; every argument is checked on entry.
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, realloc, free
from libc.math cimport log, log1p, expm1, exp, floor, sqrt, INFINITY
from libc.float cimport DBL_MAX

from qchannel._core.philox cimport PhiloxStream, stream_init, next_u32, next_double
from qchannel._core.sampling cimport binomial
from qchannel._core.search cimport find_segment
from qchannel._core.checks cimport (int_arg, real_arg, check_len, check_doubles, check_i64,
                                    check_nondecreasing)

cdef enum:
    PURPOSE_ENTANGLEMENT = 30
    PURPOSE_EVE = 50

cdef enum:
    F_A_DOUBLE = 1
    F_B_DOUBLE = 2
    F_ACCIDENTAL = 4
    F_EVE = 8

FLAG_A_DOUBLE = F_A_DOUBLE        # both of Alice's detectors clicked (random bit)
FLAG_B_DOUBLE = F_B_DOUBLE        # both of Bob's detectors clicked
FLAG_ACCIDENTAL = F_ACCIDENTAL    # no pair had both photons detected
FLAG_EVE = F_EVE                  # Eve intercepted a pair detected on both sides

cdef int64_t NEVER = -(1LL << 62)
cdef int64_t MAX_SLOTS = 1LL << 60    # slot - last_click stays far from int64 overflow


cdef struct Buf:
    int64_t* slot
    uint8_t* data      # 5 fields: a_set, b_set, a_bit, b_bit, flags
    int64_t n
    int64_t cap


cdef int buf_init(Buf* b, int64_t cap) noexcept nogil:
    if cap < 64:
        cap = 64
    b.n = 0
    b.cap = cap
    b.slot = <int64_t*>malloc(cap * sizeof(int64_t))
    b.data = <uint8_t*>malloc(cap * 5)
    return -1 if (b.slot == NULL or b.data == NULL) else 0


cdef int buf_push(Buf* b, int64_t slot, int a_set, int b_set, int a_bit, int b_bit,
                  int flags) noexcept nogil:
    cdef int64_t* s
    cdef uint8_t* d
    if b.n == b.cap:
        s = <int64_t*>realloc(b.slot, 2 * b.cap * sizeof(int64_t))
        if s == NULL:
            return -1
        b.slot = s
        d = <uint8_t*>realloc(b.data, 2 * b.cap * 5)
        if d == NULL:
            return -1
        b.data = d
        b.cap *= 2
    b.slot[b.n] = slot
    d = b.data + 5 * b.n
    d[0] = a_set
    d[1] = b_set
    d[2] = a_bit
    d[3] = b_bit
    d[4] = flags
    b.n += 1
    return 0


cdef inline int draw_cdf(PhiloxStream* s, const double* cdf, int k) noexcept nogil:
    cdef double u = next_double(s)
    cdef int i = 0
    while i < k - 1 and u >= cdf[i]:
        i += 1
    return i


cdef inline int64_t truncated_binomial(PhiloxStream* s, int64_t n, double q) noexcept nogil:
    # Binomial(n, q) conditioned on >= 1: index J of the first success from the
    # truncated geometric law, then the n - J remaining trials unconditioned.
    cdef double log1m = log1p(-q) if q < 1.0 else -1e300
    cdef double p_any = -expm1(n * log1m) if q < 1.0 else 1.0
    cdef int64_t j
    if q >= 1.0:
        return n
    j = 1 + <int64_t>floor(log1p(-next_double(s) * p_any) / log1m)
    if j > n:
        j = n
    if j < 1:
        j = 1
    return 1 + binomial(s, n - j, q)


cdef inline int side_clicks(PhiloxStream* s, int64_t n, double eta, double d,
                            double q_none, int64_t* k_out) noexcept nogil:
    # Detected photon number and dark clicks of one side, conditioned on at
    # least one click; q_none = (1-d)^2 (1-eta)^n.  Returns the dark mask.
    cdef double p_photon = -expm1(n * log1p(-eta)) if eta < 1.0 else (1.0 if n > 0 else 0.0)
    cdef int dark = 0
    if n > 0 and next_double(s) * (1.0 - q_none) < p_photon:
        k_out[0] = truncated_binomial(s, n, eta)
        if next_double(s) < d:
            dark |= 1
        if next_double(s) < d:
            dark |= 2
    else:
        k_out[0] = 0
        # at least one dark count: P(first) = d / (1 - (1-d)^2) = 1 / (2 - d)
        if next_double(s) * (2.0 - d) < 1.0:
            dark = 1
            if next_double(s) < d:
                dark |= 2
        else:
            dark = 2
    return dark


cdef struct Tables:
    # The checked kernel inputs as plain pointers (rows of segment g at g * row).
    const int64_t* seg_start
    const double* gap_scale
    const double* n_cdf
    const double* side
    const double* a_cdf
    const double* b_cdf
    const double* corr
    const double* corr_ae
    const double* corr_eb
    int n_seg
    int NMAX
    int nA
    int nB
    int nE
    int mode
    bint eve_on
    uint32_t eve_thr
    int64_t dead_a
    int64_t dead_b
    uint64_t seed


cdef int check_tables(Tables* T, seed, mode, eve_fraction, dead_a, dead_b,
                      int64_t start, int64_t n_sl,
                      const int64_t[::1] seg_start, const double[::1] gap_scale,
                      const double[:, ::1] n_cdf, const double[:, ::1] side,
                      const double[::1] a_cdf, const double[::1] b_cdf,
                      const double[:, :, ::1] corr, const double[:, :, ::1] corr_ae,
                      const double[:, :, ::1] corr_eb) except -1:
    # Every argument for slots [start, start + n_sl) (ValueError naming it):
    # O(n_seg) for the segment boundaries, and the table rows of the segments
    # the slots touch; then T points into the arrays.
    T.seed = int_arg("seed", seed, 0, 2**64 - 1)
    T.mode = int_arg("mode", mode, 0, 1)
    cdef double eve_f = real_arg("eve_fraction", eve_fraction, 0.0, 1.0)
    T.dead_a = int_arg("dead_a", dead_a, 0, MAX_SLOTS)
    T.dead_b = int_arg("dead_b", dead_b, 0, MAX_SLOTS)
    cdef Py_ssize_t n_seg_ = gap_scale.shape[0], nA_ = a_cdf.shape[0], nB_ = b_cdf.shape[0]
    cdef Py_ssize_t nE_ = corr_ae.shape[2], rows, gi
    if not 1 <= n_seg_ <= 2**30:
        raise ValueError(f"gap_scale has {n_seg_} segments: must be in [1, 2**30]")
    check_len("seg_start", seg_start.shape[0], n_seg_ + 1)
    check_len("n_cdf rows", n_cdf.shape[0], n_seg_)
    check_len("side rows", side.shape[0], n_seg_)
    check_len("side columns", side.shape[1], 6)
    if not 1 <= n_cdf.shape[1] <= 2**20:
        raise ValueError(f"n_cdf has {n_cdf.shape[1]} photon numbers: must be in [1, 2**20]")
    if not (1 <= nA_ <= 256 and 1 <= nB_ <= 256):
        raise ValueError(f"a_cdf, b_cdf have {nA_}, {nB_} settings: each must be in [1, 256]")
    check_len("corr rows", corr.shape[0], n_seg_)
    check_len("corr axis 1 (Alice's settings)", corr.shape[1], nA_)
    check_len("corr axis 2 (Bob's settings)", corr.shape[2], nB_)
    if eve_f > 0.0:
        if not 1 <= nE_ <= 2**16:
            raise ValueError(f"corr_ae has {nE_} Eve settings: must be in [1, 65536] "
                             "when eve_fraction > 0")
        check_len("corr_ae rows", corr_ae.shape[0], n_seg_)
        check_len("corr_ae axis 1 (Alice's settings)", corr_ae.shape[1], nA_)
        check_len("corr_eb rows", corr_eb.shape[0], n_seg_)
        check_len("corr_eb axis 1 (Eve's settings)", corr_eb.shape[1], nE_)
        check_len("corr_eb axis 2 (Bob's settings)", corr_eb.shape[2], nB_)
    check_nondecreasing("seg_start", &seg_start[0], n_seg_ + 1)
    if seg_start[0] > start or seg_start[n_seg_] < start + n_sl:
        raise ValueError(f"slots [{start}, {start + n_sl}) are not inside the segments "
                         f"[{seg_start[0]}, {seg_start[n_seg_]})")
    # cumulative sums may end a rounding error above 1
    check_doubles("a_cdf", &a_cdf[0], nA_, 0.0, 1.0 + 1e-9)
    check_doubles("b_cdf", &b_cdf[0], nB_, 0.0, 1.0 + 1e-9)
    # Per-segment tables: only the rows of the segments these slots touch are read.
    cdef int g_lo = find_segment(&seg_start[0], <int>n_seg_, start)
    cdef int g_hi = find_segment(&seg_start[0], <int>n_seg_, start + n_sl - 1 if n_sl else start)
    rows = g_hi - g_lo + 1
    check_doubles("gap_scale", &gap_scale[g_lo], rows, -DBL_MAX, 0.0)
    check_doubles("n_cdf", &n_cdf[g_lo, 0], rows * n_cdf.shape[1], 0.0, 1.0 + 1e-9)
    for gi in range(g_lo, g_hi + 1):
        check_doubles("side (eta_a, eta_b, dark_a, dark_b)", &side[gi, 0], 4, 0.0, 1.0)
        # log1p(-eta) may be -inf (eta = 1), never NaN or positive
        check_doubles("side (log1p(-eta_a), log1p(-eta_b))", &side[gi, 4], 2, -INFINITY, 0.0)
    check_doubles("corr", &corr[g_lo, 0, 0], rows * nA_ * nB_, -1.0 - 1e-9, 1.0 + 1e-9)
    if eve_f > 0.0:
        check_doubles("corr_ae", &corr_ae[g_lo, 0, 0], rows * nA_ * nE_, -1.0 - 1e-9, 1.0 + 1e-9)
        check_doubles("corr_eb", &corr_eb[g_lo, 0, 0], rows * nE_ * nB_, -1.0 - 1e-9, 1.0 + 1e-9)
    T.seg_start = &seg_start[0]
    T.gap_scale = &gap_scale[0]
    T.n_cdf = &n_cdf[0, 0]
    T.side = &side[0, 0]
    T.a_cdf = &a_cdf[0]
    T.b_cdf = &b_cdf[0]
    T.corr = &corr[0, 0, 0]
    T.n_seg = <int>n_seg_
    T.NMAX = <int>n_cdf.shape[1]
    T.nA = <int>nA_
    T.nB = <int>nB_
    T.nE = <int>nE_
    T.eve_on = eve_f > 0.0
    T.eve_thr = <uint32_t>(eve_f * 4294967295.0) if eve_f < 1.0 else 0xFFFFFFFFu
    T.corr_ae = &corr_ae[0, 0, 0] if T.eve_on else NULL
    T.corr_eb = &corr_eb[0, 0, 0] if T.eve_on else NULL
    return 0


cdef int sim_block(const Tables* T, uint32_t block_, int64_t start, int64_t n_sl, Buf* out,
                   int64_t* last, int64_t* first, int64_t* singles) noexcept nogil:
    # Slots [start, start + n_sl) of block ``block_`` (its streams), events
    # appended to ``out``; mode 1: ``last`` carried, ``first`` (first click
    # per detector) set where still NEVER, ``singles`` incremented.
    # Returns -1 when out of memory.
    cdef PhiloxStream ts, es
    stream_init(&ts, T.seed, PURPOSE_ENTANGLEMENT, block_)
    stream_init(&es, T.seed, PURPOSE_EVE, block_)
    cdef int64_t block_end = start + n_sl
    cdef int64_t pos, seg_end, slot, n, kA, kB, need, i, both
    cdef int g, a_set, b_set, ca, cb, maskA, maskB, darkA, darkB, flags, a_bit, b_bit
    cdef int e_set, r, inB, k
    cdef double gap, scale, etaA, etaB, dA, dB, qA, qB, u, pa, pb, pab, E, la, lb
    cdef const double* ncdf
    cdef int n_seg = T.n_seg, NMAX = T.NMAX, nA = T.nA, nB = T.nB, nE = T.nE, mode_ = T.mode
    cdef int64_t dead_a_ = T.dead_a, dead_b_ = T.dead_b
    cdef uint32_t eve_thr = T.eve_thr
    cdef bint eve_on = T.eve_on
    g = find_segment(T.seg_start, n_seg, start)
    pos = start
    while g < n_seg and pos < block_end:
        seg_end = T.seg_start[g + 1] if T.seg_start[g + 1] < block_end else block_end
        scale = T.gap_scale[g]
        ncdf = T.n_cdf + <Py_ssize_t>g * NMAX
        etaA = T.side[6 * g + 0]
        etaB = T.side[6 * g + 1]
        dA = T.side[6 * g + 2]
        dB = T.side[6 * g + 3]
        la = T.side[6 * g + 4]
        lb = T.side[6 * g + 5]
        if scale < 0.0:
            while True:
                gap = log(next_double(&ts)) * scale
                if gap >= <double>(seg_end - pos):
                    break
                slot = pos + <int64_t>gap
                pos = slot + 1
                n = draw_cdf(&ts, ncdf, NMAX)
                qA = (1.0 - dA) * (1.0 - dA) * exp(n * la)
                qB = (1.0 - dB) * (1.0 - dB) * exp(n * lb)
                ca = 1
                cb = 1
                if mode_ == 1:
                    # which sides clicked, given at least one did
                    pa = (1.0 - qA) * qB
                    pb = qA * (1.0 - qB)
                    pab = (1.0 - qA) * (1.0 - qB)
                    u = next_double(&ts) * (pa + pb + pab)
                    if u < pa:
                        cb = 0
                    elif u < pa + pb:
                        ca = 0
                kA = 0
                kB = 0
                darkA = 0
                darkB = 0
                if ca:
                    darkA = side_clicks(&ts, n, etaA, dA, qA, &kA)
                if cb:
                    darkB = side_clicks(&ts, n, etaB, dB, qB, &kB)
                a_set = draw_cdf(&ts, T.a_cdf, nA)
                b_set = draw_cdf(&ts, T.b_cdf, nB)
                E = T.corr[(<Py_ssize_t>g * nA + a_set) * nB + b_set]
                # Alice's photons are pairs 0..kA-1; Bob's a random kB-subset.
                maskA = darkA
                maskB = darkB
                flags = 0
                both = 0
                need = kB
                for i in range(n):
                    if need == 0 and i >= kA:
                        break
                    inB = 0
                    if need > 0 and next_double(&ts) * (n - i) < need:
                        inB = 1
                        need -= 1
                    if i < kA and inB:
                        both += 1
                        if eve_on and next_u32(&es) <= eve_thr:
                            flags |= F_EVE
                            e_set = <int>((<uint64_t>next_u32(&es) * nE) >> 32)
                            r = next_u32(&es) & 1
                            a_bit = r if next_double(&ts) * 2.0 < 1.0 + T.corr_ae[(<Py_ssize_t>g * nA + a_set) * nE + e_set] else 1 - r
                            b_bit = r if next_double(&ts) * 2.0 < 1.0 + T.corr_eb[(<Py_ssize_t>g * nE + e_set) * nB + b_set] else 1 - r
                        else:
                            a_bit = next_u32(&ts) & 1
                            b_bit = a_bit if next_double(&ts) * 2.0 < 1.0 + E else 1 - a_bit
                        maskA |= 1 << a_bit
                        maskB |= 1 << b_bit
                    elif i < kA:
                        maskA |= 1 << (next_u32(&ts) & 1)
                    elif inB:
                        maskB |= 1 << (next_u32(&ts) & 1)
                if mode_ == 1:
                    # dead time, then singles
                    if maskA & 1 and slot - last[0] <= dead_a_:
                        maskA &= ~1
                    if maskA & 2 and slot - last[1] <= dead_a_:
                        maskA &= ~2
                    if maskB & 1 and slot - last[2] <= dead_b_:
                        maskB &= ~1
                    if maskB & 2 and slot - last[3] <= dead_b_:
                        maskB &= ~2
                    for k in range(4):
                        if ((maskA if k < 2 else maskB) >> (k & 1)) & 1:
                            last[k] = slot
                            if first[k] == NEVER:
                                first[k] = slot
                    if maskA:
                        singles[0] += 1
                    if maskB:
                        singles[1] += 1
                if maskA == 0 or maskB == 0:
                    continue
                if both == 0:
                    flags |= F_ACCIDENTAL
                if maskA == 3:
                    flags |= F_A_DOUBLE
                    a_bit = next_u32(&ts) & 1
                else:
                    a_bit = maskA >> 1
                if maskB == 3:
                    flags |= F_B_DOUBLE
                    b_bit = next_u32(&ts) & 1
                else:
                    b_bit = maskB >> 1
                if buf_push(out, slot, a_set, b_set, a_bit, b_bit, flags) < 0:
                    return -1
        pos = seg_end
        g += 1
    return 0


cdef tuple buf_record(Buf* out, int64_t* singles):
    # The events as the record's arrays; frees the buffer.
    m = out.n
    if m:
        slots = np.asarray(<int64_t[:m]>out.slot).copy()
        data = np.asarray(<uint8_t[:m * 5]>out.data).reshape(m, 5).T.copy()
    else:
        slots = np.empty(0, np.int64)
        data = np.empty((5, 0), np.uint8)
    free(out.slot)
    free(out.data)
    return (slots, data[0], data[1], data[2], data[3], data[4],
            np.array([singles[0], singles[1]], dtype=np.int64))


def run_block(seed, block, block_start, n_slots,
              const int64_t[::1] seg_start not None, const double[::1] gap_scale not None,
              const double[:, ::1] n_cdf not None, const double[:, ::1] side not None,
              const double[::1] a_cdf not None, const double[::1] b_cdf not None,
              const double[:, :, ::1] corr not None, mode,
              eve_fraction, const double[:, :, ::1] corr_ae not None,
              const double[:, :, ::1] corr_eb not None,
              dead_a, dead_b, int64_t[::1] last_click not None,
              expected_events=0.0):
    """Simulate slots [block_start, block_start + n_slots).

    Per segment g: ``gap_scale[g]`` = 1 / log(1 - P(event)) (0: none);
    ``n_cdf[g, :]`` cumulative P(n | event), n = 0..N-1; ``side[g]`` =
    (etaA, etaB, dA, dB, log1p(-etaA), log1p(-etaB)); ``corr[g, i, j]``
    correlation of Alice's setting i and Bob's j.  ``a_cdf``, ``b_cdf``:
    cumulative setting probabilities.  ``mode`` 0: events are coincidences,
    1: any click (dead time; singles counted).  Eve tables
    ``corr_ae[g, i, e]``, ``corr_eb[g, e, j]`` (read only when
    ``eve_fraction`` > 0).

    Returns (slot, a_set, b_set, a_bit, b_bit, flags, singles[2]) for the
    coincidences; ``singles`` counts slots with a click at Alice / Bob
    (mode 1 only, else zeros).  ``last_click`` is updated in place.
    Every argument is checked first (ValueError naming it): O(n_seg) for the
    segment boundaries, and the table rows of the segments this block touches."""
    cdef uint32_t block_ = int_arg("block", block, 0, 2**32 - 1)
    cdef int64_t start = int_arg("block_start", block_start, 0, MAX_SLOTS)
    cdef int64_t n_sl = int_arg("n_slots", n_slots, 0, MAX_SLOTS - start)
    cdef double expected = real_arg("expected_events", expected_events, 0.0, INFINITY)
    cdef Tables T
    check_tables(&T, seed, mode, eve_fraction, dead_a, dead_b, start, n_sl, seg_start,
                 gap_scale, n_cdf, side, a_cdf, b_cdf, corr, corr_ae, corr_eb)
    check_len("last_click", last_click.shape[0], 4)
    # last clicks lie before this block (NEVER = -2^62 for none yet)
    check_i64("last_click", &last_click[0], 4, NEVER, start)
    cdef Buf out
    # initial capacity from the expected count, never above one event per slot
    cdef double cap = expected * 1.1 + 10.0 * sqrt(expected)
    if cap > <double>n_sl:
        cap = <double>n_sl
    if buf_init(&out, <int64_t>cap + 64) < 0:
        free(out.slot)
        free(out.data)
        raise MemoryError()
    cdef int64_t first[4]
    cdef int64_t singles[2]
    cdef int err, k
    for k in range(4):
        first[k] = NEVER
    singles[0] = singles[1] = 0
    with nogil:
        err = sim_block(&T, block_, start, n_sl, &out, &last_click[0], first, singles)
    if err:
        free(out.slot)
        free(out.data)
        raise MemoryError("out of memory in the entangled-pair kernel")
    return buf_record(&out, singles)


def run_blocks(seed, block, n_blocks, block_size, total_slots,
               const int64_t[::1] seg_start not None, const double[::1] gap_scale not None,
               const double[:, ::1] n_cdf not None, const double[:, ::1] side not None,
               const double[::1] a_cdf not None, const double[::1] b_cdf not None,
               const double[:, :, ::1] corr not None, mode,
               eve_fraction, const double[:, :, ::1] corr_ae not None,
               const double[:, :, ::1] corr_eb not None,
               dead_a, dead_b, int64_t[::1] last_click not None,
               int64_t[::1] first_click not None, expected_per_slot=0.0):
    """Blocks ``block .. block + n_blocks - 1`` of a run of ``total_slots``
    slots cut in blocks of ``block_size`` (block b: slots [b * block_size,
    min((b + 1) * block_size, total_slots)), stream block b), in order, in
    one call without the GIL: the concatenation of their :func:`run_block`
    records (same arguments, ``last_click`` carried from block to block and
    updated in place), singles summed.  ``first_click[k]`` (in place): the
    first slot of these blocks where detector k (A0, A1, B0, B1) clicked
    after dead time (mode 1), left as is where it is not NEVER already or
    detector k did not click.  ``expected_per_slot``: events per slot for
    the initial buffer (a hint)."""
    cdef uint32_t b0 = int_arg("block", block, 0, 2**32 - 1)
    cdef int64_t nb = int_arg("n_blocks", n_blocks, 1, 2**32 - b0)
    cdef int64_t bs = int_arg("block_size", block_size, 1, 2**40)
    cdef int64_t total = int_arg("total_slots", total_slots, 1, MAX_SLOTS)
    cdef double per_slot = real_arg("expected_per_slot", expected_per_slot, 0.0, 1.0)
    cdef int64_t start = b0 * bs
    if (b0 + nb - 1) * bs >= total:
        raise ValueError(f"blocks [{b0}, {b0 + nb}) of {bs} slots reach past total_slots = "
                         f"{total}: the last block must start before it")
    cdef int64_t end = min((b0 + nb) * bs, total)
    cdef Tables T
    check_tables(&T, seed, mode, eve_fraction, dead_a, dead_b, start, end - start, seg_start,
                 gap_scale, n_cdf, side, a_cdf, b_cdf, corr, corr_ae, corr_eb)
    check_len("last_click", last_click.shape[0], 4)
    check_i64("last_click", &last_click[0], 4, NEVER, start)
    check_len("first_click", first_click.shape[0], 4)
    check_i64("first_click", &first_click[0], 4, NEVER, MAX_SLOTS)
    cdef Buf out
    cdef double cap = per_slot * (end - start)
    cap = cap * 1.1 + 10.0 * sqrt(cap)
    if buf_init(&out, <int64_t>min(cap, <double>(end - start)) + 64) < 0:
        free(out.slot)
        free(out.data)
        raise MemoryError()
    cdef int64_t singles[2]
    cdef int err = 0
    cdef int64_t b, s
    singles[0] = singles[1] = 0
    with nogil:
        for b in range(b0, b0 + nb):
            s = b * bs
            err = sim_block(&T, <uint32_t>b, s, min(bs, total - s), &out, &last_click[0],
                            &first_click[0], singles)
            if err:
                break
    if err:
        free(out.slot)
        free(out.data)
        raise MemoryError("out of memory in the entangled-pair kernel")
    return buf_record(&out, singles)


def binomial_draw(seed, purpose, block, n, p):
    """One Binomial(n, p) deviate from stream (seed, purpose, block) (exact)."""
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef uint32_t purpose_ = int_arg("purpose", purpose, 0, 2**32 - 1)
    cdef uint32_t block_ = int_arg("block", block, 0, 2**32 - 1)
    cdef int64_t n_ = int_arg("n", n, 0, 2**63 - 1)
    cdef double p_ = real_arg("p", p, 0.0, 1.0)
    cdef PhiloxStream s
    stream_init(&s, seed_, purpose_, block_)
    return int(binomial(&s, n_, p_))
