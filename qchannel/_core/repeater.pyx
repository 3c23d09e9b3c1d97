"""Monte Carlo kernel for nested quantum-repeater chains.

One realisation delivers one end-to-end pair.  Time is counted in attempt
slots: every elementary segment makes one heralded attempt per slot, in
parallel.  Attempt counts are *drawn*, never stepped: the slot of the next
success of a segment is a geometric gap (``next_geometric_gap``), so the cost
of a realisation grows with the number of successes and restarts, not with
the number of attempts.

Protocol (nested, swap as soon as possible; Shchukin, Schmidt, van Loock,
PRA 100, 032322 (2019) for N = 2^n): a span of ``m`` segments is split into a
left span of ``m // 2`` and a right span of ``m - m // 2`` segments (standard
doubling for ``m = 2^n``).  Both halves are built independently from the same
start slot; when both are ready the middle node swaps them in that slot.  A
failed swap (probability ``1 - swap_prob``) destroys both halves and the
whole span restarts from the next slot.  With a cutoff, a finished half that
has waited more than ``cutoff`` slots for its partner is discarded and rebuilt
(from the slot after the cutoff expires) while the partner keeps going.
Optional purification: each segment builds two elementary pairs in parallel
(two memories per side), purifies them with one round of DEJMPS or BBPSSW in
the slot the second arrives, and restarts on failure.

States are Bell-diagonal, stored as the probabilities of the Pauli frame
(I, X, Z, Y) = (Phi+, Psi+, Phi-, Psi-); entanglement swapping composes the
frames (a convolution over the Klein group), memory noise is a Pauli channel
applied lazily for the time a pair has been stored.  ``decay`` is the decay
constant *per slot* of a stored pair (both qubits in memory), i.e. the pair's
Pauli channel has parameter ``exp(-decay * dt)``.

Randomness: realisation ``r`` reads stream (seed, purpose, block = r >> 16)
from counter ``(r & 0xFFFF) << 48``, so each realisation has its own
substream and the arrays do not depend on how the realisations are chunked.

The kernel is a pure function over arrays; every entry point checks its
arguments (ValueError naming them); ``qchannel.protocols.repeater`` derives
them from a scenario.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint32_t, uint64_t, int64_t
from libc.math cimport exp, INFINITY

from qchannel._core.philox cimport PhiloxStream, stream_init, next_double, next_geometric_gap
from qchannel._core.checks cimport int_arg, real_arg, check_len, check_doubles
from qchannel._core.bell cimport dephase, swap_states

cdef enum:
    BLOCK_SHIFT = 16            # 65536 realisations per stream block
    INDEX_SHIFT = 48            # counter offset of a realisation within its block

cdef enum:
    DECO_NONE = 0
    DECO_DEPOLARISING = 1
    DECO_DEPHASING = 2

cdef enum:
    PUR_NONE = 0
    PUR_DEJMPS = 1
    PUR_BBPSSW = 2

DECOHERENCE_CODES = {"none": DECO_NONE, "depolarising": DECO_DEPOLARISING,
                     "dephasing": DECO_DEPHASING}
PURIFICATION_CODES = {"none": PUR_NONE, "dejmps": PUR_DEJMPS, "bbpssw": PUR_BBPSSW}
BLOCK_SIZE = 1 << BLOCK_SHIFT

# Realisation r reads stream block r >> 16, a uint32: r < 2^48.
cdef int64_t MAX_REALISATIONS = 1LL << 48
# Slot times saturate at max_slots + 1 (see ``later``); cutoffs and gaps are
# at most 2^62, so no sum of two times overflows int64.
cdef int64_t MAX_SLOTS = 1LL << 62


cdef struct Link:
    int64_t t           # slot from which the stored state is up to date
    double s            # storage time (slots) of every pair merged into this one
    double c[4]         # Pauli-frame probabilities (I, X, Z, Y)


cdef struct Ctx:
    PhiloxStream s
    double log1m_p
    double swap_prob
    double decay
    int deco
    int purif
    int64_t cutoff      # < 0: none
    int64_t max_t
    double init[4]
    bint overflow


cdef inline void decohere(Ctx* x, Link* a, int64_t t) noexcept nogil:
    cdef int64_t dt = t - a.t
    cdef double lam, mix
    if dt <= 0:
        return
    a.s += <double>dt
    a.t = t
    if x.deco == DECO_DEPOLARISING:
        lam = exp(-x.decay * <double>dt)
        mix = 0.25 * (1.0 - lam)
        a.c[0] = lam * a.c[0] + mix
        a.c[1] = lam * a.c[1] + mix
        a.c[2] = lam * a.c[2] + mix
        a.c[3] = lam * a.c[3] + mix
    elif x.deco == DECO_DEPHASING:
        dephase(a.c, exp(-x.decay * <double>dt))


cdef inline double purify(int scheme, double* a, double* b, double* out) noexcept nogil:
    """One round of DEJMPS (Deutsch et al., PRL 77, 2818 (1996)) on two
    Bell-diagonal pairs; BBPSSW (Bennett et al., PRL 76, 722 (1996)) twirls
    the inputs and the output to Werner form.  Returns the success probability;
    ``out`` is the state kept on success."""
    cdef double A1, B1, C1, D1, A2, B2, C2, D2, N, r
    if scheme == PUR_BBPSSW:
        r = (1.0 - a[0]) / 3.0
        a[1] = r
        a[2] = r
        a[3] = r
        r = (1.0 - b[0]) / 3.0
        b[1] = r
        b[2] = r
        b[3] = r
    # Deutsch et al. label A = Phi+, B = Psi-, C = Psi+, D = Phi-.
    A1 = a[0]
    B1 = a[3]
    C1 = a[1]
    D1 = a[2]
    A2 = b[0]
    B2 = b[3]
    C2 = b[1]
    D2 = b[2]
    N = (A1 + B1) * (A2 + B2) + (C1 + D1) * (C2 + D2)
    out[0] = (A1 * A2 + B1 * B2) / N
    out[3] = (C1 * D2 + D1 * C2) / N
    out[1] = (C1 * C2 + D1 * D2) / N
    out[2] = (A1 * B2 + B1 * A2) / N
    if scheme == PUR_BBPSSW:
        r = (1.0 - out[0]) / 3.0
        out[1] = r
        out[2] = r
        out[3] = r
    return N


cdef inline int64_t later(const Ctx* x, int64_t t, int64_t dt) noexcept nogil:
    # t + dt saturated at max_t + 1 (t <= max_t + 1, 0 <= dt <= 2^62).  Any
    # pair later than max_t loses its realisation whatever its exact slot, so
    # saturating changes no result and keeps every sum below 2^63.
    return t + dt if dt <= x.max_t - t else x.max_t + 1


cdef inline void raw_pair(Ctx* x, int64_t t0, Link* out) noexcept nogil:
    cdef int k
    cdef uint64_t g = next_geometric_gap(&x.s, x.log1m_p)     # <= 2^62
    out.t = later(x, later(x, t0, 1), <int64_t>g)
    out.s = 0.0
    for k in range(4):
        out.c[k] = x.init[k]


cdef inline bint apply_cutoff_elem(Ctx* x, Link* a, Link* b) noexcept nogil:
    # Rebuild whichever raw pair has waited longer than the cutoff.
    while True:
        if x.overflow or a.t > x.max_t or b.t > x.max_t:
            x.overflow = True
            return False
        if a.t < b.t - x.cutoff:
            raw_pair(x, later(x, a.t, x.cutoff), a)
        elif b.t < a.t - x.cutoff:
            raw_pair(x, later(x, b.t, x.cutoff), b)
        else:
            return True


cdef void elementary(Ctx* x, int64_t t0, Link* out) noexcept nogil:
    cdef Link a, b
    cdef int64_t t
    cdef double ps
    if x.purif == PUR_NONE:
        raw_pair(x, t0, out)
        return
    while True:
        raw_pair(x, t0, &a)
        raw_pair(x, t0, &b)
        if x.cutoff >= 0 and not apply_cutoff_elem(x, &a, &b):
            out.t = x.max_t + 1
            return
        t = a.t if a.t > b.t else b.t
        decohere(x, &a, t)
        decohere(x, &b, t)
        ps = purify(x.purif, a.c, b.c, out.c)
        if next_double(&x.s) < ps:
            out.t = t
            out.s = a.s + b.s
            return
        if t > x.max_t:
            x.overflow = True
            out.t = t
            return
        t0 = t


cdef void span(Ctx* x, int m, int64_t t0, Link* out) noexcept nogil:
    cdef Link a, b
    cdef int ml, mr
    cdef int64_t t
    if m == 1:
        elementary(x, t0, out)
        return
    ml = m // 2
    mr = m - ml
    while True:
        span(x, ml, t0, &a)
        if x.overflow:
            return
        span(x, mr, t0, &b)
        if x.overflow:
            return
        if x.cutoff >= 0:
            while True:
                if a.t < b.t - x.cutoff:
                    span(x, ml, later(x, a.t, x.cutoff), &a)
                elif b.t < a.t - x.cutoff:
                    span(x, mr, later(x, b.t, x.cutoff), &b)
                else:
                    break
                if x.overflow:
                    return
                if a.t > x.max_t or b.t > x.max_t:
                    x.overflow = True
                    return
        t = a.t if a.t > b.t else b.t
        decohere(x, &a, t)
        decohere(x, &b, t)
        if x.swap_prob >= 1.0 or next_double(&x.s) < x.swap_prob:
            swap_states(a.c, b.c, out.c)
            out.t = t
            out.s = a.s + b.s
            return
        if t > x.max_t:
            x.overflow = True
            return
        t0 = t


def simulate_chain(seed, purpose, first, count, segments, log1m_p, swap_prob,
                   const double[::1] initial_state not None, decoherence, decay_per_slot,
                   purification, cutoff_slots, max_slots,
                   int64_t[::1] wait_slots not None, double[:, ::1] states not None,
                   double[::1] stored_slots not None):
    """Simulate realisations ``first .. first + count - 1`` of a chain.

    Fills ``wait_slots[i]`` (slots until the end-to-end pair is delivered,
    -1 if the realisation passed ``max_slots``), ``states[i]`` (the delivered
    Pauli-frame probabilities I, X, Z, Y) and ``stored_slots[i]`` (summed
    storage time, in slots, of every pair that went into the delivered one;
    discarded pairs do not count).  ``log1m_p`` is
    log(1 - p) of one elementary attempt (< 0; -inf for p = 1);
    ``cutoff_slots < 0`` disables the cutoff.  Returns the number of
    realisations that passed ``max_slots``.  Every argument is checked first
    (ValueError naming it).  Cost: up to ``max_slots`` attempts per
    realisation when a chain can hardly deliver (e.g. ``swap_prob`` = 0).
    """
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef uint32_t purpose_ = int_arg("purpose", purpose, 0, 2**32 - 1)
    cdef int64_t first_ = int_arg("first", first, 0, MAX_REALISATIONS)
    cdef int64_t count_ = int_arg("count", count, 0, MAX_REALISATIONS - first_)
    cdef int segments_ = int_arg("segments", segments, 1, 2**20)
    cdef double log1m_p_ = real_arg("log1m_p", log1m_p, -INFINITY, -4.9406564584124654e-324)
    cdef double swap_p = real_arg("swap_prob", swap_prob, 0.0, 1.0)
    cdef int deco = int_arg("decoherence", decoherence, DECO_NONE, DECO_DEPHASING)
    cdef double decay = real_arg("decay_per_slot", decay_per_slot, 0.0, INFINITY)
    cdef int purif = int_arg("purification", purification, PUR_NONE, PUR_BBPSSW)
    cdef int64_t max_t = int_arg("max_slots", max_slots, 0, MAX_SLOTS)
    cdef int64_t cutoff = int_arg("cutoff_slots", cutoff_slots, -2**63, MAX_SLOTS)
    check_len("initial_state", initial_state.shape[0], 4)
    check_doubles("initial_state", &initial_state[0], 4, 0.0, 1.0)
    if wait_slots.shape[0] < count_ or states.shape[0] < count_ or stored_slots.shape[0] < count_:
        raise ValueError(f"wait_slots, states, stored_slots have {wait_slots.shape[0]}, "
                         f"{states.shape[0]}, {stored_slots.shape[0]} rows: each needs "
                         f"count = {count_}")
    check_len("states columns", states.shape[1], 4)
    cdef Ctx x
    cdef Link out
    cdef int64_t i, r, lost = 0
    cdef int k
    x.log1m_p = log1m_p_
    x.swap_prob = swap_p
    x.decay = decay
    x.deco = deco
    x.purif = purif
    x.cutoff = cutoff if cutoff >= 0 else -1
    x.max_t = max_t
    for k in range(4):
        x.init[k] = initial_state[k]
    with nogil:
        for i in range(count_):
            r = first_ + i
            stream_init(&x.s, seed_, purpose_, <uint32_t>(r >> BLOCK_SHIFT))
            x.s.index = (<uint64_t>(r & ((1 << BLOCK_SHIFT) - 1))) << INDEX_SHIFT
            x.overflow = False
            span(&x, segments_, 0, &out)
            if x.overflow or out.t > max_t:
                wait_slots[i] = -1
                lost += 1
                for k in range(4):
                    states[i, k] = 0.0
            else:
                wait_slots[i] = out.t
                for k in range(4):
                    states[i, k] = out.c[k]
            stored_slots[i] = 0.0 if wait_slots[i] < 0 else out.s
    return lost


cdef int _check_pair(const double[::1] a, const double[::1] b) except -1:
    check_len("a", a.shape[0], 4)
    check_len("b", b.shape[0], 4)
    check_doubles("a", &a[0], 4, 0.0, 1.0)
    check_doubles("b", &b[0], 4, 0.0, 1.0)
    return 0


def swap_bell_diagonal(const double[::1] a not None, const double[::1] b not None):
    """Entanglement swapping of two Bell-diagonal pairs (Pauli-frame
    probabilities I, X, Z, Y); exposed for tests against a state-vector
    reference."""
    _check_pair(a, b)
    out = np.empty(4, dtype=np.float64)
    cdef double[::1] o = out
    swap_states(&a[0], &b[0], &o[0])
    return out


def purify_bell_diagonal(scheme, const double[::1] a not None, const double[::1] b not None):
    """One purification round (scheme code from ``PURIFICATION_CODES``) on
    copies of ``a`` and ``b``; returns ``(success_prob, state)``."""
    scheme = int_arg("scheme", scheme, PUR_DEJMPS, PUR_BBPSSW)
    _check_pair(a, b)
    cdef double ca[4]
    cdef double cb[4]
    cdef int k
    for k in range(4):
        ca[k] = a[k]
        cb[k] = b[k]
    out = np.empty(4, dtype=np.float64)
    cdef double[::1] o = out
    ps = purify(scheme, ca, cb, &o[0])
    return ps, out
