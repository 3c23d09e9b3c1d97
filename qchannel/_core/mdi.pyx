# Event-driven Monte Carlo of the two-sender link of MDI-QKD and twin-field
# QKD: Alice and Bob send phase-randomised weak coherent pulses through their
# own fibers to an untrusted relay (Charlie) with a 50:50 beam splitter.
#
# Coherent states stay coherent.  Alice's pulse arrives as the coherent
# amplitude sqrt(eta_a mu_a) e^{i theta_a} (times her polarisation vector for
# MDI), Bob's as sqrt(eta_b mu_b) e^{i theta_b}; eta includes the arm's fiber
# and the detector efficiency (a detector efficiency common to all detectors
# commutes with the beam splitter).  Mode mismatch: Bob's pulse overlaps
# Alice's mode with amplitude sqrt(V) (V = HOM visibility, |<a|b>|^2); the
# rest sqrt(1 - V) is in an orthogonal mode that reaches both outputs
# without interfering.  The outputs c = (a + b)/sqrt2, d = (a - b)/sqrt2 are
# again coherent states, so every detector k sees an independent Poisson
# photon number of mean lambda_k; it clicks with 1 - (1 - pd) exp(-lambda_k).
#
# Event-driven: the sum of the lambda_k is eta_a mu_a + eta_b mu_b whatever
# the phases, bits and polarisations (energy conservation), so the
# probability of a slot with no click depends only on the intensity pair:
# q = (1 - pd)^D exp(-(eta_a mu_a + eta_b mu_b)) for D detectors.  The gap to
# the next slot with a click is geometric in P(click) = sum_pairs p (1 - q);
# at a click the class pair is drawn from P(pair | click), the bits and
# phases uniformly (independent of "a click happened"), and the detector
# pattern conditioned on at least one click (index of the first clicking
# detector from its exact law, the later ones independently).  Cost per
# slot with a click, not per pulse.  The slots without a click are split
# among the class pairs by one multinomial draw at the end.
#
# MDI (polarisation encoding, Lo-Curty-Qi 2012): four detectors c_H, c_V,
# d_H, d_V behind polarising beam splitters; Bob's polarisation reaches the
# relay rotated by ``misalign_rad`` relative to Alice's (the misalignment
# model of Ma and Razavi 2012, e_d = sin^2).  Z basis: H (bit 0) / V (bit 1);
# X basis: D (bit 0) / A (bit 1).  Both phases are uniform (phase
# randomisation), only the relative phase matters.
#
# TF (single-photon interference): two detectors c, d.  The relative phase at
# the relay is theta_a - theta_b + delta, with delta the residual of the
# phase tracking: between reference pulses every ``track_slots`` slots the
# fiber/laser phase drifts as a random walk of variance ``walk_var`` per
# slot; each tracking period starts from an estimation error of variance
# ``track_var``.  delta is sampled exactly at the event times (the walk is
# Gaussian), and its state carries over from block to block.
#
# Randomness: stream (seed, purpose, block), purpose 70 (MDI) or 71 (TF).
# Every argument is checked on entry (ValueError naming it).
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.math cimport log, log1p, expm1, exp, sqrt, cos, sin, floor, M_PI

from qchannel._core.philox cimport (PhiloxStream, stream_init, next_u32, next_double,
                                    next_geometric_gap)
from qchannel._core.sampling cimport multinomial
from qchannel._core.search cimport search_cdf
from qchannel._core.checks cimport int_arg, real_arg, check_len, check_doubles, check_i64

cdef enum:
    PURPOSE_MDI = 70
    PURPOSE_TF = 71
    MAX_CLASSES = 16

MAX_SLOTS_PER_BLOCK = 1 << 56


cdef inline int draw_cdf(PhiloxStream* s, const double* cdf, int k) noexcept nogil:
    # The first i with u < cdf[i] (cdf[k-1] = 1), u uniform from the stream.
    return <int>search_cdf(cdf, k, next_double(s))


cdef inline double gauss(PhiloxStream* s) noexcept nogil:
    # Box-Muller (one of the pair): exact standard normal.
    cdef double u1 = next_double(s), u2 = next_double(s)
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2)


cdef inline int conditioned_pattern(PhiloxStream* s, const double* lam, int n, double lpd,
                                    double q0) noexcept nogil:
    # Click pattern of n independent detectors (click prob 1 - (1-pd) e^-lam[k],
    # lpd = log(1 - pd)) conditioned on at least one click; q0 = P(no click)
    # of the whole set.
    # The first clicking detector J has P(J = k | >= 1) = prod_{l<k}(1-c_l) c_k
    # / (1 - q0); the detectors after J are unconditioned.
    cdef double u = next_double(s) * (1.0 - q0)
    cdef double none_before = 1.0, c
    cdef int k, first = n - 1, pattern = 0
    for k in range(n):
        c = -expm1(lpd - lam[k])
        if u < none_before * c:
            first = k
            break
        u -= none_before * c
        none_before *= 1.0 - c
    pattern = 1 << first
    for k in range(first + 1, n):
        if next_double(s) < -expm1(lpd - lam[k]):
            pattern |= 1 << k
    return pattern


cdef object _check_classes(str who, const double[::1] mu, const double[::1] prob):
    if mu.shape[0] < 1 or mu.shape[0] > MAX_CLASSES:
        raise ValueError(f"{who}_mu has length {mu.shape[0]}, must be in [1, {MAX_CLASSES}]")
    check_len(f"{who}_prob", prob.shape[0], mu.shape[0])
    check_doubles(f"{who}_mu", &mu[0], mu.shape[0], 0.0, 1e3)
    check_doubles(f"{who}_prob", &prob[0], prob.shape[0], 0.0, 1.0)
    cdef double tot = 0.0
    cdef Py_ssize_t i
    for i in range(prob.shape[0]):
        tot += prob[i]
    if not (abs(tot - 1.0) < 1e-9):
        raise ValueError(f"{who}_prob sums to {tot}, must sum to 1")


cdef object _pair_tables(const double[::1] mu_a, const double[::1] p_a,
                         const double[::1] mu_b, const double[::1] p_b,
                         double eta_a, double eta_b, double pd, int n_det,
                         double[::1] cdf_click, double[::1] p_noclick, double[::1] q_pair):
    # Per pair k = ia * nb + ib: q (no click), P(pair | click) as a CDF,
    # P(pair | no click); returns P(click) of a slot.
    cdef int na = mu_a.shape[0], nb = mu_b.shape[0], i, j, k
    cdef double w, tot_click = 0.0, tot_none = 0.0
    for i in range(na):
        for j in range(nb):
            k = i * nb + j
            q_pair[k] = exp(n_det * log1p(-pd) - eta_a * mu_a[i] - eta_b * mu_b[j])
            w = p_a[i] * p_b[j]
            tot_click += w * (1.0 - q_pair[k])
            cdf_click[k] = tot_click
            p_noclick[k] = w * q_pair[k]
            tot_none += p_noclick[k]
    if tot_click > 0.0:
        for k in range(na * nb):
            cdf_click[k] /= tot_click
        cdf_click[na * nb - 1] = 1.0
    return tot_click


def _common_args(seed, block, n_slots, eta_a, eta_b, dark_prob, visibility, capacity):
    return (int_arg("seed", seed, 0, 2**64 - 1), int_arg("block", block, 0, 2**32 - 1),
            int_arg("n_slots", n_slots, 0, MAX_SLOTS_PER_BLOCK),
            real_arg("eta_a", eta_a, 0.0, 1.0), real_arg("eta_b", eta_b, 0.0, 1.0),
            real_arg("dark_prob", dark_prob, 0.0, 0.5),
            real_arg("visibility", visibility, 0.0, 1.0),
            int_arg("capacity", capacity, 1, 2**40))


def _block_span(b0, b1, pulses, block_slots):
    """Checked (b0, b1, pulses, block_slots) of a chunk of blocks [b0, b1):
    block b covers slots [b * block_slots, min((b + 1) * block_slots, pulses))."""
    cdef int64_t bs = int_arg("block_slots", block_slots, 1, MAX_SLOTS_PER_BLOCK)
    cdef int64_t total = int_arg("pulses", pulses, 1, 2**62)
    cdef int64_t n_blocks = (total + bs - 1) // bs
    if n_blocks > 2**32:
        raise ValueError(f"pulses = {total}: more than 2^32 blocks of {bs} slots")
    cdef int64_t lo = int_arg("b0", b0, 0, n_blocks - 1)
    cdef int64_t hi = int_arg("b1", b1, lo + 1, n_blocks)
    return lo, hi, total, bs


# ------------------------------------------------------------------ MDI

cdef struct PairTables:
    # The class pairs of a two-sender kernel (see _pair_tables)
    int na, nb, npair
    double p_click, log1m
    double cdf[MAX_CLASSES * MAX_CLASSES]
    double p_none[MAX_CLASSES * MAX_CLASSES]
    double q[MAX_CLASSES * MAX_CLASSES]


cdef _fill_pairs(PairTables* P, const double[::1] a_mu, const double[::1] a_prob,
                 const double[::1] b_mu, const double[::1] b_prob, double ea, double eb,
                 double pd, int n_det):
    """Checks the classes of both senders and fills the pair tables."""
    _check_classes("a", a_mu, a_prob)
    _check_classes("b", b_mu, b_prob)
    P.na = a_mu.shape[0]
    P.nb = b_mu.shape[0]
    P.npair = P.na * P.nb
    cdef double[::1] cdf = np.zeros(P.npair), p_none = np.zeros(P.npair), q = np.zeros(P.npair)
    P.p_click = _pair_tables(a_mu, a_prob, b_mu, b_prob, ea, eb, pd, n_det, cdf, p_none, q)
    P.log1m = log1p(-P.p_click) if P.p_click < 1.0 else -1e300
    cdef Py_ssize_t i
    for i in range(P.npair):
        P.cdf[i] = cdf[i]
        P.p_none[i] = p_none[i]
        P.q[i] = q[i]


cdef inline bint next_click(PhiloxStream* s, const PairTables* P, int64_t n,
                            int64_t* t) noexcept nogil:
    # Advances *t to the next slot with a click; False when the block ends first.
    cdef uint64_t gap = next_geometric_gap(s, P.log1m) if P.p_click < 1.0 else 0
    if gap >= <uint64_t>(n - t[0]):
        return False
    t[0] += <int64_t>gap
    return True


cdef struct MdiTables:
    PairTables P
    double ct, st, sv, lpd
    double amp_a[MAX_CLASSES]
    double amp_b[MAX_CLASSES]
    uint8_t basis_a[MAX_CLASSES]
    uint8_t basis_b[MAX_CLASSES]
    double pol[2][2][2]


cdef _mdi_tables(MdiTables* T, const double[::1] a_mu, const double[::1] a_prob,
                 const uint8_t[::1] a_basis, const double[::1] b_mu,
                 const double[::1] b_prob, const uint8_t[::1] b_basis,
                 double ea, double eb, double pd, double V, double th):
    """Checks the class arguments and fills the tables of the MDI kernel."""
    _fill_pairs(&T.P, a_mu, a_prob, b_mu, b_prob, ea, eb, pd, 4)
    check_len("a_basis", a_basis.shape[0], a_mu.shape[0])
    check_len("b_basis", b_basis.shape[0], b_mu.shape[0])
    cdef Py_ssize_t i
    for i in range(a_basis.shape[0]):
        if a_basis[i] > 1:
            raise ValueError(f"a_basis: element {i} = {a_basis[i]} must be 0 (Z) or 1 (X)")
    for i in range(b_basis.shape[0]):
        if b_basis[i] > 1:
            raise ValueError(f"b_basis: element {i} = {b_basis[i]} must be 0 (Z) or 1 (X)")
    for i in range(T.P.na):
        T.amp_a[i] = sqrt(ea * a_mu[i])
        T.basis_a[i] = a_basis[i]
    for i in range(T.P.nb):
        T.amp_b[i] = sqrt(eb * b_mu[i])
        T.basis_b[i] = b_basis[i]
    # polarisation vectors (H, V components, real): [basis][bit]
    cdef double r = 0.7071067811865476
    T.pol[0][0][0] = 1.0; T.pol[0][0][1] = 0.0
    T.pol[0][1][0] = 0.0; T.pol[0][1][1] = 1.0
    T.pol[1][0][0] = r;   T.pol[1][0][1] = r
    T.pol[1][1][0] = r;   T.pol[1][1][1] = -r
    T.ct = cos(th)
    T.st = sin(th)
    T.sv = sqrt(V)
    T.lpd = log1p(-pd)


cdef bint _mdi_block(const MdiTables* T, uint64_t seed, uint32_t block, int64_t n,
                     int64_t* slot, uint8_t* data, int64_t cap, int64_t* n_ev_out,
                     int64_t* noclick) noexcept nogil:
    """One block of ``n`` slots from stream (seed, PURPOSE_MDI, block): the
    events go to slot[i], data[4 i : 4 i + 4] for i < cap (their number to
    *n_ev_out), the slots without a click per class pair to noclick.
    Returns False (*n_ev_out = cap, nothing counted) when more than ``cap``
    slots click."""
    cdef PhiloxStream s
    cdef int64_t t = 0, n_ev = 0
    cdef double amp_a, amp_b, ah, av, bh, bv, cphi, cross_h, cross_v, inc_h, inc_v
    cdef double lam[4]
    cdef int pair, ka, kb, bits, bit_a, bit_b, basis_a, basis_b, nb = T.P.nb
    stream_init(&s, seed, PURPOSE_MDI, block)
    if T.P.p_click > 0.0 and n > 0:
        while next_click(&s, &T.P, n, &t):
            if n_ev == cap:
                n_ev_out[0] = n_ev
                return False
            pair = draw_cdf(&s, &T.P.cdf[0], T.P.npair)
            ka = pair // nb
            kb = pair - ka * nb
            bits = next_u32(&s) & 3
            bit_a = bits & 1
            bit_b = bits >> 1
            basis_a = T.basis_a[ka]
            basis_b = T.basis_b[kb]
            amp_a = T.amp_a[ka]
            amp_b = T.amp_b[kb]
            ah = amp_a * T.pol[basis_a][bit_a][0]
            av = amp_a * T.pol[basis_a][bit_a][1]
            # Bob's polarisation rotated by th on the way
            bh = amp_b * (T.ct * T.pol[basis_b][bit_b][0] - T.st * T.pol[basis_b][bit_b][1])
            bv = amp_b * (T.st * T.pol[basis_b][bit_b][0] + T.ct * T.pol[basis_b][bit_b][1])
            cphi = cos(2.0 * M_PI * next_double(&s))
            # |a + sqrt(V) b e^{i phi}|^2 / 2 plus the non-interfering part
            inc_h = 0.5 * (ah * ah + bh * bh)
            inc_v = 0.5 * (av * av + bv * bv)
            cross_h = T.sv * ah * bh * cphi
            cross_v = T.sv * av * bv * cphi
            lam[0] = inc_h + cross_h
            lam[1] = inc_v + cross_v
            lam[2] = inc_h - cross_h
            lam[3] = inc_v - cross_v
            slot[n_ev] = t
            data[4 * n_ev] = ka
            data[4 * n_ev + 1] = kb
            data[4 * n_ev + 2] = bits
            data[4 * n_ev + 3] = conditioned_pattern(&s, lam, 4, T.lpd, T.P.q[pair])
            n_ev += 1
            t += 1
            if t >= n:
                break
    multinomial(&s, n - n_ev, &T.P.p_none[0], T.P.npair, noclick)
    n_ev_out[0] = n_ev
    return True


def mdi_block(seed, block, n_slots,
              const double[::1] a_mu not None, const double[::1] a_prob not None,
              const uint8_t[::1] a_basis not None,
              const double[::1] b_mu not None, const double[::1] b_prob not None,
              const uint8_t[::1] b_basis not None,
              eta_a, eta_b, dark_prob, visibility, misalign_rad, capacity):
    """One block of ``n_slots`` pulse pairs of polarisation MDI-QKD.

    Alice's classes k (intensity ``a_mu[k]``, basis ``a_basis[k]``: 0 = Z,
    1 = X) have probabilities ``a_prob``; Bob's likewise.  Returns
    ``(complete, slot, data, noclick)``: ``slot`` int64 (slots with a click,
    increasing), ``data`` uint8 (n, 4) = (Alice's class, Bob's class,
    bit_a | bit_b << 1, pattern) with pattern bits c_H, c_V, d_H, d_V;
    ``noclick`` int64 (na * nb) slots without a click per class pair
    (Alice's class major).  ``complete`` is False when more than
    ``capacity`` slots clicked (call again with a larger capacity: the
    draws are the same)."""
    cdef uint64_t seed_
    cdef uint32_t block_
    cdef int64_t n_, cap
    cdef double ea, eb, pd, V
    seed_, block_, n_, ea, eb, pd, V, cap = _common_args(seed, block, n_slots, eta_a, eta_b,
                                                         dark_prob, visibility, capacity)
    cdef double th = real_arg("misalign_rad", misalign_rad, -M_PI, M_PI)
    cdef MdiTables T
    _mdi_tables(&T, a_mu, a_prob, a_basis, b_mu, b_prob, b_basis, ea, eb, pd, V, th)
    slot_arr = np.empty(cap, dtype=np.int64)
    data_arr = np.empty((cap, 4), dtype=np.uint8)
    noclick_arr = np.zeros(T.P.npair, dtype=np.int64)
    cdef int64_t[::1] slot = slot_arr
    cdef uint8_t[:, ::1] data = data_arr
    cdef int64_t[::1] noclick = noclick_arr
    cdef int64_t n_ev = 0
    cdef bint complete
    with nogil:
        complete = _mdi_block(&T, seed_, block_, n_, &slot[0], &data[0, 0], cap, &n_ev,
                              &noclick[0])
    if not complete:        # the first ``capacity`` events, no counts
        return False, slot_arr[:n_ev], data_arr[:n_ev], np.zeros(T.P.npair, dtype=np.int64)
    return True, slot_arr[:n_ev], data_arr[:n_ev], noclick_arr


def mdi_blocks(seed, b0, b1, pulses, block_slots,
               const double[::1] a_mu not None, const double[::1] a_prob not None,
               const uint8_t[::1] a_basis not None,
               const double[::1] b_mu not None, const double[::1] b_prob not None,
               const uint8_t[::1] b_basis not None,
               eta_a, eta_b, dark_prob, visibility, misalign_rad, capacity):
    """Blocks [b0, b1) of a run of ``pulses`` pulse pairs in blocks of
    ``block_slots`` (block b: stream b, slots [b block_slots, ...)), in one
    call without the GIL: exactly the events of :func:`mdi_block` on each
    block, concatenated in block order.  Returns ``(complete, data,
    noclick)``: ``data`` uint8 (n, 4) as in :func:`mdi_block`, ``noclick``
    int64 (na * nb) summed over the blocks; ``complete`` is False when more
    than ``capacity`` slots of the chunk clicked (call again with a larger
    capacity: the draws are the same)."""
    cdef int64_t lo, hi, total, bs
    lo, hi, total, bs = _block_span(b0, b1, pulses, block_slots)
    cdef uint64_t seed_
    cdef int64_t cap
    cdef double ea, eb, pd, V
    seed_, _, _, ea, eb, pd, V, cap = _common_args(seed, 0, 0, eta_a, eta_b, dark_prob,
                                                   visibility, capacity)
    cdef double th = real_arg("misalign_rad", misalign_rad, -M_PI, M_PI)
    cdef MdiTables T
    _mdi_tables(&T, a_mu, a_prob, a_basis, b_mu, b_prob, b_basis, ea, eb, pd, V, th)
    slot_arr = np.empty(cap, dtype=np.int64)
    data_arr = np.empty((cap, 4), dtype=np.uint8)
    noclick_arr = np.zeros(T.P.npair, dtype=np.int64)
    cdef int64_t[::1] slot = slot_arr
    cdef uint8_t[:, ::1] data = data_arr
    cdef int64_t[::1] noclick = noclick_arr
    cdef int64_t part[MAX_CLASSES * MAX_CLASSES]
    cdef int64_t b, n_ev = 0, got, k
    cdef bint complete = True
    with nogil:
        for b in range(lo, hi):
            if not _mdi_block(&T, seed_, <uint32_t>b, min(bs, total - b * bs), &slot[n_ev],
                              &data[0, 0] + 4 * n_ev, cap - n_ev, &got, part):
                complete = False
                break
            n_ev += got
            for k in range(T.P.npair):
                noclick[k] += part[k]
    if not complete:
        return False, data_arr[:0], np.zeros(T.P.npair, dtype=np.int64)
    return True, data_arr[:n_ev], noclick_arr


# ------------------------------------------------------------------- TF

cdef struct TfTables:
    PairTables P
    double sv, lpd, wv, tv
    int64_t tslots
    double ia[MAX_CLASSES]
    double ib[MAX_CLASSES]


cdef _tf_tables(TfTables* T, const double[::1] a_mu, const double[::1] a_prob,
                const double[::1] b_mu, const double[::1] b_prob, double ea, double eb,
                double pd, double V, walk_var, track_slots, track_var):
    """Checks the class and phase-walk arguments and fills the TF tables."""
    T.wv = real_arg("walk_var", walk_var, 0.0, 1e6)
    T.tslots = int_arg("track_slots", track_slots, 1, 2**62)
    T.tv = real_arg("track_var", track_var, 0.0, 1e6)
    _fill_pairs(&T.P, a_mu, a_prob, b_mu, b_prob, ea, eb, pd, 2)
    cdef Py_ssize_t i
    for i in range(T.P.na):
        T.ia[i] = ea * a_mu[i]
    for i in range(T.P.nb):
        T.ib[i] = eb * b_mu[i]
    T.sv = sqrt(V)
    T.lpd = log1p(-pd)


cdef bint _tf_block(const TfTables* T, uint64_t seed, uint32_t block, int64_t start,
                    int64_t n, double* delta_io, int64_t* last_io, int64_t* slot,
                    uint8_t* data, double* phase, int64_t cap, int64_t* n_ev_out,
                    int64_t* noclick) noexcept nogil:
    """One block of slots [start, start + n) from stream (seed, PURPOSE_TF,
    block): events to slot[i] (relative to start), data[3 i ...], phase[3 i
    ...] for i < cap (their number to *n_ev_out), the slots without a click
    per class pair to noclick, the walk state (residual phase at the last
    event, its absolute slot) updated.  Returns False (*n_ev_out = cap, state
    untouched) when more than ``cap`` slots click."""
    cdef PhiloxStream s
    cdef int64_t t = 0, n_ev = 0, abs_slot, last = last_io[0], period_start
    cdef double ia, ib, th_a, th_b, delta = delta_io[0], cross, inc
    cdef double lam[2]
    cdef int pair, ka, kb, nb = T.P.nb
    stream_init(&s, seed, PURPOSE_TF, block)
    if T.P.p_click > 0.0 and n > 0:
        while next_click(&s, &T.P, n, &t):
            if n_ev == cap:
                n_ev_out[0] = n_ev
                return False
            pair = draw_cdf(&s, &T.P.cdf[0], T.P.npair)
            ka = pair // nb
            kb = pair - ka * nb
            th_a = 2.0 * M_PI * next_double(&s)
            th_b = 2.0 * M_PI * next_double(&s)
            # residual phase: the walk since the last event of this
            # tracking period, or a fresh reference error plus the walk
            # since the period started
            abs_slot = start + t
            period_start = abs_slot - abs_slot % T.tslots
            if last >= period_start:
                delta += sqrt(T.wv * (abs_slot - last)) * gauss(&s)
            else:
                delta = sqrt(T.tv) * gauss(&s) + sqrt(T.wv * (abs_slot - period_start)) * gauss(&s)
            last = abs_slot
            ia = T.ia[ka]
            ib = T.ib[kb]
            inc = 0.5 * (ia + ib)
            cross = T.sv * sqrt(ia * ib) * cos(th_a - th_b + delta)
            lam[0] = inc + cross
            lam[1] = inc - cross
            slot[n_ev] = t
            data[3 * n_ev] = ka
            data[3 * n_ev + 1] = kb
            data[3 * n_ev + 2] = conditioned_pattern(&s, lam, 2, T.lpd, T.P.q[pair])
            phase[3 * n_ev] = th_a
            phase[3 * n_ev + 1] = th_b
            phase[3 * n_ev + 2] = delta
            n_ev += 1
            t += 1
            if t >= n:
                break
    multinomial(&s, n - n_ev, &T.P.p_none[0], T.P.npair, noclick)
    delta_io[0] = delta
    last_io[0] = last
    n_ev_out[0] = n_ev
    return True


def tf_block(seed, block, block_start, n_slots,
             const double[::1] a_mu not None, const double[::1] a_prob not None,
             const double[::1] b_mu not None, const double[::1] b_prob not None,
             eta_a, eta_b, dark_prob, visibility, walk_var, track_slots, track_var,
             double[::1] walk_state not None, int64_t[::1] walk_slot not None, capacity):
    """One block of twin-field slots [block_start, block_start + n_slots).

    Alice's classes (intensity ``a_mu[k]``, probability ``a_prob[k]``), Bob's
    likewise; every pulse has a uniform random phase.  ``walk_var``:
    variance of the relative phase drift per slot (rad^2); ``track_slots``:
    slots between phase references; ``track_var``: variance of each
    reference's estimate.  ``walk_state[0]`` / ``walk_slot[0]``: residual
    phase at the last event and its absolute slot (-1: none yet), updated in
    place.  Returns ``(complete, slot, data, phase, noclick)``: ``data``
    uint8 (n, 3) = (Alice's class, Bob's class, pattern: bit 0 detector c,
    bit 1 detector d); ``phase`` float64 (n, 3) = (theta_a, theta_b, delta)
    in [0, 2 pi), [0, 2 pi), residual (rad)."""
    cdef uint64_t seed_
    cdef uint32_t block_
    cdef int64_t n_, cap
    cdef double ea, eb, pd, V
    seed_, block_, n_, ea, eb, pd, V, cap = _common_args(seed, block, n_slots, eta_a, eta_b,
                                                         dark_prob, visibility, capacity)
    cdef int64_t start = int_arg("block_start", block_start, 0, 2**60)
    cdef TfTables T
    _tf_tables(&T, a_mu, a_prob, b_mu, b_prob, ea, eb, pd, V, walk_var, track_slots, track_var)
    _check_walk(walk_state, walk_slot, start)
    slot_arr = np.empty(cap, dtype=np.int64)
    data_arr = np.empty((cap, 3), dtype=np.uint8)
    phase_arr = np.empty((cap, 3), dtype=np.float64)
    noclick_arr = np.zeros(T.P.npair, dtype=np.int64)
    cdef int64_t[::1] slot = slot_arr
    cdef uint8_t[:, ::1] data = data_arr
    cdef double[:, ::1] phase = phase_arr
    cdef int64_t[::1] noclick = noclick_arr
    cdef int64_t n_ev = 0
    cdef bint complete
    with nogil:
        complete = _tf_block(&T, seed_, block_, start, n_, &walk_state[0], &walk_slot[0],
                             &slot[0], &data[0, 0], &phase[0, 0], cap, &n_ev, &noclick[0])
    if not complete:        # the first ``capacity`` events, no counts, state untouched
        return (False, slot_arr[:n_ev], data_arr[:n_ev], phase_arr[:n_ev],
                np.zeros(T.P.npair, np.int64))
    return True, slot_arr[:n_ev], data_arr[:n_ev], phase_arr[:n_ev], noclick_arr


cdef _check_walk(double[::1] walk_state, int64_t[::1] walk_slot, int64_t start):
    check_len("walk_state", walk_state.shape[0], 1)
    check_len("walk_slot", walk_slot.shape[0], 1)
    real_arg("walk_state[0]", walk_state[0], -1e300, 1e300)
    check_i64("walk_slot", &walk_slot[0], 1, -1, start - 1 if start > 0 else -1)


def tf_blocks(seed, b0, b1, pulses, block_slots,
              const double[::1] a_mu not None, const double[::1] a_prob not None,
              const double[::1] b_mu not None, const double[::1] b_prob not None,
              eta_a, eta_b, dark_prob, visibility, walk_var, track_slots, track_var,
              double[::1] walk_state not None, int64_t[::1] walk_slot not None, capacity):
    """Blocks [b0, b1) of a twin-field run of ``pulses`` slots in blocks of
    ``block_slots``, in order and in one call without the GIL: exactly the
    events of :func:`tf_block` on each block (the phase walk carried from
    block to block in ``walk_state`` / ``walk_slot``, updated only if the
    call completes).  Returns ``(complete, counts, slot, data, phase,
    noclick)``: ``counts`` int64 (b1 - b0) events per block, ``slot`` int64
    their absolute slots, ``data`` and ``phase`` as in :func:`tf_block`,
    concatenated in block order, ``noclick`` int64 (b1 - b0, na * nb) per
    block; ``complete`` False when more than ``capacity`` slots of the chunk
    clicked (call again with a larger capacity)."""
    cdef int64_t lo, hi, total, bs
    lo, hi, total, bs = _block_span(b0, b1, pulses, block_slots)
    cdef uint64_t seed_
    cdef int64_t cap
    cdef double ea, eb, pd, V
    seed_, _, _, ea, eb, pd, V, cap = _common_args(seed, 0, 0, eta_a, eta_b, dark_prob,
                                                   visibility, capacity)
    cdef TfTables T
    _tf_tables(&T, a_mu, a_prob, b_mu, b_prob, ea, eb, pd, V, walk_var, track_slots, track_var)
    _check_walk(walk_state, walk_slot, lo * bs)
    slot_arr = np.empty(cap, dtype=np.int64)
    data_arr = np.empty((cap, 3), dtype=np.uint8)
    phase_arr = np.empty((cap, 3), dtype=np.float64)
    counts_arr = np.zeros(hi - lo, dtype=np.int64)
    noclick_arr = np.zeros((hi - lo, T.P.npair), dtype=np.int64)
    cdef int64_t[::1] slot = slot_arr
    cdef uint8_t[:, ::1] data = data_arr
    cdef double[:, ::1] phase = phase_arr
    cdef int64_t[::1] counts = counts_arr
    cdef int64_t[:, ::1] noclick = noclick_arr
    cdef double delta = walk_state[0]
    cdef int64_t last = walk_slot[0], b, n_ev = 0, got, k
    cdef bint complete = True
    with nogil:
        for b in range(lo, hi):
            if not _tf_block(&T, seed_, <uint32_t>b, b * bs, min(bs, total - b * bs), &delta,
                             &last, &slot[n_ev], &data[0, 0] + 3 * n_ev,
                             &phase[0, 0] + 3 * n_ev, cap - n_ev, &got, &noclick[b - lo, 0]):
                complete = False
                break
            for k in range(n_ev, n_ev + got):
                slot[k] += b * bs
            counts[b - lo] = got
            n_ev += got
    if not complete:
        return False, counts_arr, slot_arr[:0], data_arr[:0], phase_arr[:0], noclick_arr
    walk_state[0] = delta
    walk_slot[0] = last
    return True, counts_arr, slot_arr[:n_ev], data_arr[:n_ev], phase_arr[:n_ev], noclick_arr
