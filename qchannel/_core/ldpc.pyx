# LDPC kernels for syndrome-based reconciliation.
#
# * build_graph: a random Tanner graph with prescribed variable- and check-node
#   degrees (configuration model over Philox-shuffled sockets), then repaired
#   by random edge swaps until it has no double edges and no 4-cycles (girth
#   >= 6).  Deterministic from (seed, block).
# * syndrome: s = H x over GF(2).
# * decode_layered: layered (row-serial) normalised min-sum belief propagation
#   for syndrome decoding.  The decoder state (check-to-variable messages R on
#   every edge, posterior LLRs L on every variable) lives in caller arrays, so
#   a decoding can be continued ("warm restart") after the caller changes some
#   channel LLRs, as blind reconciliation does when it reveals bits.
# * decode_spa: the same contract with layered sum-product (ldpc_impl.h).
# * decode_scms_lanes / scms_reset_lane: batched 8-bit self-corrected min-sum
#   on 32 frame lanes (ldpc_scms.h).
# * decode_spa_lanes / spa_load_lane: layered sum-product on 8 frame lanes,
#   bit-identical lane by lane to decode_spa (ldpc_spa8.h).
# * degree2_pairs: check pairs for degree-2 variables beyond a staircase with
#   no short cycle among degree-2 variables (no low-weight codewords).
#
# Conventions: H is held check-major (CSR): the variables of check c are
# cols[row_ptr[c]:row_ptr[c+1]]; R is indexed like cols.  LLR > 0 means bit 0.
# Check c demands XOR of its variables == syn[c].
from libc.stdint cimport int8_t, uint8_t, int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, calloc, free
from libc.math cimport fabsf

import numpy as np
cimport numpy as cnp

from qchannel._core.philox cimport PhiloxStream, stream_init, next_u32, next_below
from qchannel._core.checks cimport int_arg, real_arg, check_len, check_i32, check_csr

cnp.import_array()

cdef extern from "ldpc_impl.h" nogil:
    int PHI_SIZE "LDPC_PHI_SIZE"
    int PHI_MBITS "LDPC_PHI_MBITS"
    int PHI_EMIN "LDPC_PHI_EMIN"
    float* phi_tab "qc_ldpc_phi_tab"
    void phi_init "qc_ldpc_phi_init"() noexcept
    int decode_spa_c "qc_ldpc_decode_spa"(const int32_t* rp, const int32_t* cols,
                                          const uint8_t* syn, int64_t m, float* R,
                                          float* L, float* T, float* P,
                                          int max_iter) noexcept

cdef extern from "ldpc_scms.h" nogil:
    int SCMS_W "QC_SCMS_W"
    int scms_avx2_ok "qc_scms_avx2_ok"() noexcept
    int scms_sse41_ok "qc_scms_sse41_ok"() noexcept
    int scms_avx512_ok "qc_scms_avx512_ok"() noexcept
    uint32_t scms_run "qc_scms_run"(int64_t n, int64_t m, const int32_t* rp,
                                    const int32_t* cols, const uint32_t* syn,
                                    int8_t* L, uint32_t* qsign, uint32_t* qnz,
                                    uint8_t* m1s, uint8_t* m2s, uint8_t* idx,
                                    uint32_t* par, int8_t* T, uint32_t* S, int A,
                                    int B, int C, uint32_t active, int32_t* budget, int32_t* iters,
                                    uint8_t* hard, int simd) noexcept

cdef extern from "ldpc_spa8.h" nogil:
    int SPA_W "QC_SPA_W"
    int spa8_avx2_ok "qc_spa8_avx2_ok"() noexcept
    uint32_t spa8_run "qc_spa8_run"(int64_t m, const int32_t* rp, const int32_t* cols,
                                    const uint8_t* syn, float* R, float* L, float* T,
                                    float* P, uint32_t active, const int32_t* budget,
                                    int32_t* iters, int simd) noexcept

phi_init()
SCMS_LANES = SCMS_W
SPA_LANES = SPA_W
# Kernels of the batched sum-product decoder this CPU runs, best first.
SPA_KERNELS = (("avx2",) if spa8_avx2_ok() else ()) + ("scalar",)
_HAVE_AVX2 = bool(scms_avx2_ok())
# SIMD kernels this CPU runs, best first (all bit-identical to the scalar one).
SCMS_KERNELS = tuple(k for k, ok in (("avx512", scms_avx512_ok()), ("avx2", _HAVE_AVX2),
                                     ("sse4.1", scms_sse41_ok())) if ok) + ("scalar",)
_KERNEL_LEVEL = {"avx512": 3, "avx2": 2, "sse4.1": 1, "scalar": 0}


# ---------------------------------------------------------------- construction

cdef inline void _swap_edges(int32_t e1, int32_t e2, int32_t* ec, int32_t* eslot,
                             int32_t* cslot) noexcept nogil:
    # Exchange the check ends of edges e1 and e2.
    cdef int32_t c1 = ec[e1], c2 = ec[e2], s1 = eslot[e1], s2 = eslot[e2]
    ec[e1] = c2
    ec[e2] = c1
    cslot[s1] = e2
    cslot[s2] = e1
    eslot[e1] = s2
    eslot[e2] = s1


cdef inline int32_t _next_stamp(int32_t stamp, int32_t* mark, Py_ssize_t m) noexcept nogil:
    # Marks are stamps; restart them all before the stamp would overflow.
    cdef Py_ssize_t i
    if stamp == 0x7fffffff:
        for i in range(m):
            mark[i] = 0
        stamp = 0
    return stamp + 1


cdef int64_t _first_conflict(int32_t v, const int32_t* vptr, const int32_t* ev,
                             const int32_t* ec, const int32_t* cptr,
                             const int32_t* cslot, int32_t* mark,
                             int32_t stamp, int32_t cycle_deg=0x7fffffff) noexcept nogil:
    # First edge of variable v that is a double edge or lies on a 4-cycle
    # through another variable u, both of degree <= cycle_deg; -1 if none.
    cdef int32_t e, e2, e3, c, u, j
    for e in range(vptr[v], vptr[v + 1]):
        if mark[ec[e]] == stamp:
            return e
        mark[ec[e]] = stamp
    if vptr[v + 1] - vptr[v] > cycle_deg:
        return -1
    for e in range(vptr[v], vptr[v + 1]):
        c = ec[e]
        for j in range(cptr[c], cptr[c + 1]):
            u = ev[cslot[j]]
            if u == v or vptr[u + 1] - vptr[u] > cycle_deg:
                continue
            for e3 in range(vptr[u], vptr[u + 1]):
                if ec[e3] != c and mark[ec[e3]] == stamp:
                    return e
    return -1


def build_graph(const int32_t[::1] var_deg not None, const int32_t[::1] chk_deg not None,
                seed, purpose, block, const int32_t[::1] fixed_checks=None, max_swaps=-1,
                cycle_swaps=-1):
    """Random Tanner graph with the given node degrees and girth >= 6.

    Repair runs in two phases: 4-cycles and double edges are removed by
    random swaps until ``cycle_swaps`` swaps were spent (default: the whole
    ``max_swaps`` budget, default 50 E); a second phase then removes any
    double edges left (which would make H differ from the decoder's graph)
    and the 4-cycles among variables of degree <= 3 (two degree-2 variables
    on the same two checks are a weight-2 trap BP cannot leave), at most
    ``max_swaps`` swaps in all.  With a small ``cycle_swaps`` other 4-cycles
    may remain (dense high-rate codes); ``unresolved`` counts the variables
    still in conflict for the second phase (0 in practice).

    ``fixed_checks`` (optional) gives the check ends of the first edges in
    variable order (e.g. a degree-2 staircase); those edges are kept and all
    other check sockets are shuffled and repaired around them.  Variables
    whose edges are all fixed must not lie on 4-cycles among themselves.

    Returns ``(row_ptr, cols, unresolved)``: the check-major CSR of H (columns
    sorted within each row) and the number of variables still on a 4-cycle or
    double edge when the swap budget ran out (0 in practice).  Every
    argument is checked first (ValueError naming it).
    """
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef uint32_t purpose_ = int_arg("purpose", purpose, 0, 2**32 - 1)
    cdef uint32_t block_ = int_arg("block", block, 0, 2**32 - 1)
    cdef int64_t swap_cap = int_arg("max_swaps", max_swaps, -2**63, 2**63 - 1)
    cdef int64_t cycle_cap = int_arg("cycle_swaps", cycle_swaps, -2**63, 2**63 - 1)
    cdef Py_ssize_t n = var_deg.shape[0], m = chk_deg.shape[0]
    cdef int64_t E = 0, Ec = 0, i
    if n > 2**30 or m > 2**30:
        raise ValueError(f"var_deg, chk_deg have {n}, {m} entries: at most 2**30 each")
    check_i32("var_deg", &var_deg[0], n, 0, 2**31 - 1)
    check_i32("chk_deg", &chk_deg[0], m, 0, 2**31 - 1)
    for i in range(n):
        E += var_deg[i]
    for i in range(m):
        Ec += chk_deg[i]
    if E != Ec:
        raise ValueError(f"variable and check degree sums differ: {E} != {Ec}")
    if not 1 <= E < 2**31 - 1:
        raise ValueError(f"the graph has {E} edges: must be in [1, 2**31 - 1)")
    if swap_cap < 0:
        swap_cap = 50 * E
    if cycle_cap < 0 or cycle_cap > swap_cap:
        cycle_cap = swap_cap

    vptr_a = np.zeros(n + 1, dtype=np.int32)
    cptr_a = np.zeros(m + 1, dtype=np.int32)
    np.cumsum(var_deg, out=vptr_a[1:])
    np.cumsum(chk_deg, out=cptr_a[1:])
    ev_a = np.repeat(np.arange(n, dtype=np.int32), var_deg)
    ec_a = np.repeat(np.arange(m, dtype=np.int32), chk_deg)
    eslot_a = np.empty(E, dtype=np.int32)
    cslot_a = np.empty(E, dtype=np.int32)
    mark_a = np.zeros(m, dtype=np.int32)
    cdef int32_t[::1] vptr = vptr_a, cptr = cptr_a, ev = ev_a, ec = ec_a
    cdef int32_t[::1] eslot = eslot_a, cslot = cslot_a, mark = mark_a
    cdef int32_t* fill
    cdef int32_t* queue
    cdef PhiloxStream s
    cdef int64_t j, qhead, qtail, qcap, swaps = 0, unresolved = 0
    cdef int32_t tmp, v, c, stamp = 0, r, e
    cdef int64_t conflict, nfix = 0, budget, own
    cdef int phase
    cdef bint cycles
    if fixed_checks is not None:
        nfix = fixed_checks.shape[0]
        if nfix >= E:
            raise ValueError(f"fixed_checks has {nfix} entries: must be below the {E} edges")
        check_i32("fixed_checks", &fixed_checks[0], nfix, 0, m - 1)
        # Put the fixed check ends first, the remaining sockets after them.
        left = np.asarray(chk_deg, dtype=np.int64) - np.bincount(
            np.asarray(fixed_checks), minlength=m)[:m]
        if not (left >= 0).all():
            raise ValueError("fixed_checks: fixed edges exceed check degrees")
        ec_a[:nfix] = fixed_checks
        ec_a[nfix:] = np.repeat(np.arange(m, dtype=np.int32), left)

    qcap = 4 * n + 16
    queue = <int32_t*>malloc(qcap * sizeof(int32_t))
    fill = <int32_t*>malloc((m + 1) * sizeof(int32_t))
    if queue == NULL or fill == NULL:
        free(queue)
        free(fill)
        raise MemoryError()
    try:
        with nogil:
            stream_init(&s, seed_, purpose_, block_)
            # Fisher-Yates shuffle of the check sockets = uniform configuration model.
            j = E - 1
            while j > nfix:
                r = <int32_t>(nfix + next_below(&s, <uint32_t>(j + 1 - nfix)))
                tmp = ec[j]
                ec[j] = ec[r]
                ec[r] = tmp
                j -= 1
            for i in range(m):
                fill[i] = cptr[i]
            for e in range(E):
                c = ec[e]
                cslot[fill[c]] = e
                eslot[e] = fill[c]
                fill[c] += 1
            # Repair: a circular work queue of variables to (re)check; phase 0
            # removes 4-cycles and double edges, phase 1 double edges and 4-cycles
            # among variables of degree <= 3.
            for phase in range(2):
                cycles = phase == 0
                budget = cycle_cap if cycles else swap_cap
                unresolved = 0
                for i in range(n):
                    queue[i] = <int32_t>i
                qhead = 0
                qtail = n          # number of entries pushed so far (mod qcap)
                while qhead < qtail:
                    v = queue[qhead % qcap]
                    qhead += 1
                    if vptr[v + 1] <= nfix:
                        continue            # all edges fixed: repaired from the other side
                    # edges of v that may be swapped: if no free edge belongs to
                    # another variable, no swap can repair v (and drawing one would
                    # never end)
                    own = vptr[v + 1] - (vptr[v] if vptr[v] > nfix else nfix)
                    while True:
                        stamp = _next_stamp(stamp, &mark[0], m)
                        conflict = _first_conflict(v, &vptr[0], &ev[0], &ec[0], &cptr[0],
                                                   &cslot[0], &mark[0], stamp,
                                                   0x7fffffff if cycles else 3)
                        if conflict < 0:
                            break
                        if swaps >= budget:
                            unresolved += 1
                            break
                        if conflict < nfix or own >= E - nfix:
                            unresolved += 1
                            break
                        r = <int32_t>(nfix + next_below(&s, <uint32_t>(E - nfix)))
                        if ev[r] == v:
                            continue
                        _swap_edges(<int32_t>conflict, r, &ec[0], &eslot[0], &cslot[0])
                        swaps += 1
                        # Any new short cycle passes through ev[r]: check it again.
                        if qtail - qhead < qcap:
                            queue[qtail % qcap] = ev[r]
                            qtail += 1
                if unresolved > 0:
                    # count each variable once (the queue may hold it several
                    # times); no random draw, so no result changes
                    unresolved = 0
                    for v in range(n):
                        if vptr[v + 1] <= nfix:
                            continue
                        stamp = _next_stamp(stamp, &mark[0], m)
                        if _first_conflict(v, &vptr[0], &ev[0], &ec[0], &cptr[0], &cslot[0],
                                           &mark[0], stamp, 0x7fffffff if cycles else 3) >= 0:
                            unresolved += 1
                if cycles and unresolved == 0:
                    break
    finally:
        free(queue)
        free(fill)

    # Check-major CSR with sorted rows.
    order = np.lexsort((ev_a, ec_a))
    cols_a = np.ascontiguousarray(ev_a[order], dtype=np.int32)
    return cptr_a, cols_a, int(unresolved)


def count_4cycles_vars(const int32_t[::1] row_ptr not None, const int32_t[::1] cols not None, n):
    """Number of variables lying on a 4-cycle or double edge (test helper)."""
    n = int_arg("n", n, 0, 2**31 - 2)
    check_csr(row_ptr, cols, n)
    cdef Py_ssize_t m = row_ptr.shape[0] - 1, E = cols.shape[0]
    # variable-major view
    order = np.argsort(np.asarray(cols), kind="stable")
    rows = np.repeat(np.arange(m, dtype=np.int32), np.diff(np.asarray(row_ptr)))
    ec_a = np.ascontiguousarray(rows[order], dtype=np.int32)
    ev_a = np.ascontiguousarray(np.asarray(cols)[order], dtype=np.int32)
    vptr_a = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(np.asarray(cols), minlength=n), out=vptr_a[1:])
    # check slots -> edge ids in this variable-major numbering
    eidx = np.empty(E, dtype=np.int32)
    eidx[order] = np.arange(E, dtype=np.int32)
    cslot_a = np.ascontiguousarray(eidx, dtype=np.int32)
    mark_a = np.zeros(m, dtype=np.int32)
    cdef int32_t[::1] vptr = vptr_a, ev = ev_a, ec = ec_a, cslot = cslot_a, mark = mark_a
    cdef int32_t stamp = 0, v
    cdef int64_t bad = 0
    for v in range(n):
        stamp += 1
        if _first_conflict(v, &vptr[0], &ev[0], &ec[0], &row_ptr[0], &cslot[0],
                           &mark[0], stamp) >= 0:
            bad += 1
    return int(bad)


# ---------------------------------------------------------------- syndrome

cdef bint _csr_ok(const int32_t* rp, Py_ssize_t m, const int32_t* cols, Py_ssize_t E,
                  Py_ssize_t n) noexcept nogil:
    # The conditions of check_csr as branch-free reductions (vectorised):
    # the hot callers run this and call check_csr only for its error message.
    cdef Py_ssize_t c, j
    cdef uint32_t bad = 0, nn
    if m < 0 or rp[0] != 0 or rp[m] != E or n > <Py_ssize_t>0x7FFFFFFF:
        return False
    nn = <uint32_t>n
    for c in range(m):
        bad |= rp[c + 1] < rp[c]
    for j in range(E):
        bad |= <uint32_t>cols[j] >= nn     # negative columns wrap to >= n
    return bad == 0


cdef int _check_csr_fast(const int32_t[::1] row_ptr, const int32_t[::1] cols,
                         Py_ssize_t n) except -1:
    if row_ptr.shape[0] >= 1 and _csr_ok(&row_ptr[0], row_ptr.shape[0] - 1,
                                         &cols[0] if cols.shape[0] else NULL,
                                         cols.shape[0], n):
        return 0
    return check_csr(row_ptr, cols, n)


def syndrome(const int32_t[::1] row_ptr not None, const int32_t[::1] cols not None,
             const uint8_t[::1] x not None, uint8_t[::1] out not None):
    """out[c] = XOR of x over the variables of check c (the CSR is checked
    against len(x) first, in O(m + E))."""
    _check_csr_fast(row_ptr, cols, x.shape[0])
    cdef Py_ssize_t m = row_ptr.shape[0] - 1, c, j, a, b
    cdef uint8_t p0, p1, p2, p3
    if out.shape[0] < m:
        raise ValueError(f"out has length {out.shape[0]}: needs the {m} checks")
    with nogil:
        for c in range(m):
            # four independent XOR chains: the loads of a row overlap
            p0 = p1 = p2 = p3 = 0
            a = row_ptr[c]
            b = row_ptr[c + 1]
            j = a
            while j + 4 <= b:
                p0 ^= x[cols[j]]
                p1 ^= x[cols[j + 1]]
                p2 ^= x[cols[j + 2]]
                p3 ^= x[cols[j + 3]]
                j += 4
            while j < b:
                p0 ^= x[cols[j]]
                j += 1
            out[c] = (p0 ^ p1 ^ p2 ^ p3) & 1


# ---------------------------------------------------------------- decoding

cdef inline bint _satisfied(const int32_t* rp, const int32_t* cols, const uint8_t* syn,
                            const float* L, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t c, j
    cdef uint8_t p
    for c in range(m):
        p = syn[c]
        for j in range(rp[c], rp[c + 1]):
            p ^= (L[cols[j]] < 0)
        if p:
            return False
    return True


cdef int _decode(const int32_t* rp, const int32_t* cols, const uint8_t* syn,
                 Py_ssize_t m, float* R, float* L, float* T, int max_iter,
                 float alpha) noexcept nogil:
    # Layered normalised min-sum; returns iterations used (> 0) if every check
    # is satisfied, else -max_iter.
    cdef Py_ssize_t c, j, a, b, idx
    cdef int it
    cdef float t, at, min1, min2, mag, r
    cdef uint8_t par, neg
    if _satisfied(rp, cols, syn, L, m):
        return 0
    for it in range(max_iter):
        for c in range(m):
            a = rp[c]
            b = rp[c + 1]
            min1 = 3.0e38
            min2 = 3.0e38
            idx = a
            par = syn[c]
            for j in range(a, b):
                t = L[cols[j]] - R[j]
                T[j - a] = t
                at = fabsf(t)
                par ^= (t < 0)
                if at < min1:
                    min2 = min1
                    min1 = at
                    idx = j
                elif at < min2:
                    min2 = at
            min1 = min1 * alpha
            min2 = min2 * alpha
            for j in range(a, b):
                t = T[j - a]
                mag = min2 if j == idx else min1
                neg = par ^ (t < 0)
                r = mag * (1.0 - 2.0 * <float>neg)
                R[j] = r
                L[cols[j]] = t + r
        if _satisfied(rp, cols, syn, L, m):
            return it + 1
    return -max_iter


cdef int _check_decoder(const int32_t[::1] row_ptr, const int32_t[::1] cols,
                        const uint8_t[::1] syn, float[::1] R, float[::1] L) except -1:
    # O(m + E) once per call; a decoding costs O(E) per iteration.
    _check_csr_fast(row_ptr, cols, L.shape[0])
    check_len("R", R.shape[0], cols.shape[0])
    cdef Py_ssize_t c
    if syn.shape[0] < row_ptr.shape[0] - 1:
        raise ValueError(f"syn has length {syn.shape[0]}: needs the {row_ptr.shape[0] - 1} checks")
    for c in range(row_ptr.shape[0] - 1):
        # (the two decoders would read another byte differently)
        if syn[c] > 1:
            raise ValueError(f"syn[{c}] = {syn[c]}: syndrome entries must be bits 0/1")
    return 0


def decode_layered(const int32_t[::1] row_ptr not None, const int32_t[::1] cols not None,
                   const uint8_t[::1] syn not None, float[::1] R not None,
                   float[::1] L not None, max_iter, alpha):
    """Layered normalised min-sum syndrome decoding, in place on (R, L).

    Start a decoding with R = 0 and L = channel LLRs; to continue after a
    change of channel LLRs add the change to L and call again.  Returns the
    number of iterations run (>= 0) on success -- every check satisfied by the
    hard decisions L < 0 -- or -max_iter on failure.
    """
    _check_decoder(row_ptr, cols, syn, R, L)
    # max_iter >= 1: with 0 a failure would return -0, read as success
    cdef int iters = int_arg("max_iter", max_iter, 1, 2**31 - 1)
    cdef float alpha_ = real_arg("alpha", alpha, 0.0, 1.0)
    cdef Py_ssize_t m = row_ptr.shape[0] - 1, c, dmax = 1
    for c in range(m):
        if row_ptr[c + 1] - row_ptr[c] > dmax:
            dmax = row_ptr[c + 1] - row_ptr[c]
    cdef float* T = <float*>malloc(dmax * sizeof(float))
    if T == NULL:
        raise MemoryError()
    cdef int res
    with nogil:
        res = _decode(&row_ptr[0], &cols[0], &syn[0], m, &R[0], &L[0], T,
                      iters, alpha_)
    free(T)
    return res


def decode_spa(const int32_t[::1] row_ptr not None, const int32_t[::1] cols not None,
               const uint8_t[::1] syn not None, float[::1] R not None, float[::1] L not None,
               max_iter):
    """Layered sum-product syndrome decoding (tabulated phi), in place on (R, L).

    Same contract as :func:`decode_layered`: start with R = 0 and L = channel
    LLRs (a warm restart adds LLR changes to L); returns the iterations run
    (>= 0) when every check is satisfied by the hard decisions L < 0, else
    -max_iter.  The syndrome is checked in full only after an iteration in
    which every check was satisfied right after its own update, so success
    may be reported one iteration late, never early.
    """
    _check_decoder(row_ptr, cols, syn, R, L)
    # max_iter >= 1: with 0 a failure would return -0, read as success
    cdef int iters = int_arg("max_iter", max_iter, 1, 2**31 - 1)
    cdef Py_ssize_t m = row_ptr.shape[0] - 1, c, dmax = 1
    for c in range(m):
        if row_ptr[c + 1] - row_ptr[c] > dmax:
            dmax = row_ptr[c + 1] - row_ptr[c]
    cdef float* T = <float*>malloc(2 * dmax * sizeof(float))
    if T == NULL:
        raise MemoryError()
    cdef int res
    with nogil:
        res = decode_spa_c(&row_ptr[0], &cols[0], &syn[0], m, &R[0], &L[0], T, T + dmax,
                           iters)
    free(T)
    return res


def phi_table():
    """(table, mantissa bits, min exponent) of the tabulated phi (test helper)."""
    out = np.empty(PHI_SIZE, dtype=np.float32)
    cdef Py_ssize_t i
    for i in range(PHI_SIZE):
        out[i] = phi_tab[i]
    return out, PHI_MBITS, PHI_EMIN


def hard_decision(const float[::1] L not None, uint8_t[::1] out not None):
    """out[v] = 1 where L[v] < 0."""
    cdef Py_ssize_t i, n = L.shape[0]
    check_len("out", out.shape[0], n)
    with nogil:
        for i in range(n):
            out[i] = L[i] < 0



def scms_simd():
    """True when the batched SCMS decoder runs a SIMD kernel (AVX-512, AVX2 or
    SSE4.1) on this CPU."""
    return SCMS_KERNELS[0] != "scalar"


def scms_reset_lane(lane, const int8_t[::1] ch not None, int8_t[:, ::1] L not None,
                    uint32_t[::1] qsign not None, uint32_t[::1] qnz not None,
                    uint8_t[:, ::1] m1s not None, uint8_t[:, ::1] m2s not None,
                    uint8_t[:, ::1] idx not None, uint32_t[::1] par not None):
    """Start lane ``lane`` of the SCMS state afresh: posteriors = channel LLRs
    ``ch``, no messages (see :func:`decode_scms_lanes`)."""
    cdef Py_ssize_t n = L.shape[0], m = m1s.shape[0], E = qsign.shape[0], i
    cdef int lane_ = int_arg("lane", lane, 0, SCMS_W - 1)
    if ch.shape[0] != n or qnz.shape[0] != E or par.shape[0] != m or m2s.shape[0] != m \
            or idx.shape[0] != m or L.shape[1] != SCMS_W or m1s.shape[1] != SCMS_W \
            or m2s.shape[1] != SCMS_W or idx.shape[1] != SCMS_W:
        raise ValueError("scms_reset_lane: inconsistent state shapes")
    cdef uint32_t keep = ~(<uint32_t>1 << lane_)
    with nogil:
        for i in range(n):
            L[i, lane_] = ch[i]
        for i in range(E):
            qsign[i] &= keep
            qnz[i] &= keep
        for i in range(m):
            par[i] &= keep
            m1s[i, lane_] = 0
            m2s[i, lane_] = 0
            idx[i, lane_] = 0


def scms_load_lane(lane, chan, const int64_t[::1] key_pos not None,
                   const uint8_t[::1] key_bits not None, const int64_t[::1] known_pos not None,
                   const uint8_t[::1] known_bits not None, const uint8_t[::1] frame_syn not None,
                   uint32_t[::1] syn not None, int8_t[:, ::1] L not None,
                   uint32_t[::1] qsign not None, uint32_t[::1] qnz not None,
                   uint8_t[:, ::1] m1s not None, uint8_t[:, ::1] m2s not None,
                   uint8_t[:, ::1] idx not None, uint32_t[::1] par not None):
    """Load a frame into lane ``lane`` (one pass in C): posteriors 0
    (punctured), ``+-chan`` on the key positions (Bob's bits ``key_bits``: 1
    -> -chan), +-127 on the known (shortened) positions, the frame's syndrome
    bits ``frame_syn`` into bit ``lane`` of ``syn``.  The lane's message state
    is left as it is: the caller sets ``iters[lane] = 0``, and
    :func:`decode_scms_lanes` then starts the lane without messages (the same
    decoding as after :func:`scms_reset_lane`, without clearing O(edges)
    state per frame)."""
    cdef Py_ssize_t n = L.shape[0], m = m1s.shape[0], E = qsign.shape[0], i
    cdef int lane_ = int_arg("lane", lane, 0, SCMS_W - 1)
    cdef int ch_ = int_arg("chan", chan, 1, 127)
    if qnz.shape[0] != E or par.shape[0] != m or m2s.shape[0] != m or idx.shape[0] != m \
            or syn.shape[0] != m or frame_syn.shape[0] != m or L.shape[1] != SCMS_W \
            or m1s.shape[1] != SCMS_W or m2s.shape[1] != SCMS_W or idx.shape[1] != SCMS_W:
        raise ValueError("scms_load_lane: inconsistent state shapes")
    check_len("key_bits", key_bits.shape[0], key_pos.shape[0])
    check_len("known_bits", known_bits.shape[0], known_pos.shape[0])
    cdef Py_ssize_t bad = 0
    cdef int which = 0
    with nogil:
        for i in range(key_pos.shape[0]):
            if key_pos[i] < 0 or key_pos[i] >= n or key_bits[i] > 1:
                which, bad = 1, i
                break
        if which == 0:
            for i in range(known_pos.shape[0]):
                if known_pos[i] < 0 or known_pos[i] >= n or known_bits[i] > 1:
                    which, bad = 2, i
                    break
        if which == 0:
            for i in range(m):
                if frame_syn[i] > 1:
                    which, bad = 3, i
                    break
    if which:
        name = ("key_pos/key_bits", "known_pos/known_bits", "frame_syn")[which - 1]
        raise ValueError(f"scms_load_lane: {name}[{bad}]: positions must lie in [0, {n}) "
                         "and bits be 0/1")
    cdef uint32_t keep = ~(<uint32_t>1 << lane_)
    cdef int8_t c0 = <int8_t>ch_
    # the column is assembled contiguously, then written with one strided pass
    cdef int8_t* col = <int8_t*>calloc(n if n > 0 else 1, 1)
    if col == NULL:
        raise MemoryError()
    with nogil:
        # branch-free: Bob's bits are random, a branch on them mispredicts half the time
        for i in range(key_pos.shape[0]):
            col[key_pos[i]] = <int8_t>(c0 - 2 * c0 * key_bits[i])
        for i in range(known_pos.shape[0]):
            col[known_pos[i]] = <int8_t>(127 - 254 * known_bits[i])
        for i in range(n):
            L[i, lane_] = col[i]
    free(col)
    with nogil:
        for i in range(m):
            syn[i] = (syn[i] & keep) | (<uint32_t>frame_syn[i] << lane_)


def decode_scms_lanes(const int32_t[::1] row_ptr not None, const int32_t[::1] cols not None,
                      const uint32_t[::1] syn not None, int8_t[:, ::1] L not None,
                      uint32_t[::1] qsign not None, uint32_t[::1] qnz not None,
                      uint8_t[:, ::1] m1s not None, uint8_t[:, ::1] m2s not None,
                      uint8_t[:, ::1] idx not None, uint32_t[::1] par not None, active,
                      int32_t[::1] budget not None, int32_t[::1] iters not None,
                      uint8_t[:, ::1] hard not None, A, B, C=127, simd=True):
    """Layered self-corrected min-sum on 32 frame lanes (see ldpc_scms.h).

    State arrays, updated in place so that decoding continues across calls and
    lanes can be reloaded with new frames between calls: ``L`` (n, 32) int8
    posteriors, ``qsign``, ``qnz`` (E,) uint32 lane masks, ``m1s``, ``m2s``,
    ``idx`` (m, 32) uint8 and ``par`` (m,) uint32.  A lane starts a decoding
    with its column of ``L`` set to the channel LLRs and ``iters[l]`` 0: its
    first iteration ignores the lane's bits / columns of the other arrays
    (message state of an earlier frame) and rewrites them all.  ``syn[c]``
    holds the syndrome bit of check c of lane l in bit l.  Iterates the ``active`` lanes until one of them reaches
    its syndrome (hard decisions to ``hard[l]``; returned in the mask) or runs
    out of ``budget[l]`` iterations (returns 0); ``iters[l]`` counts the
    iterations run.  ``simd``: True picks the best kernel of this CPU
    (``SCMS_KERNELS[0]``), False the scalar one, or a name from
    ``SCMS_KERNELS``; all are bit-identical.
    """
    cdef int use
    if simd is True or simd is False:
        simd = SCMS_KERNELS[0] if simd else "scalar"
    if simd not in SCMS_KERNELS:
        raise ValueError(f"simd = {simd!r}: this CPU runs {', '.join(SCMS_KERNELS)} (or True/False)")
    use = _KERNEL_LEVEL[simd]
    _check_csr_fast(row_ptr, cols, L.shape[0])
    cdef uint32_t active_ = int_arg("active", active, 0, 2**32 - 1)
    cdef int A_ = int_arg("A", A, -2**31, 2**31 - 1)
    cdef int B_ = int_arg("B", B, -2**31, 2**31 - 1)
    cdef int C_ = int_arg("C", C, -2**31, 2**31 - 1)
    if not (0 < A_ <= 32 and 0 <= B_ <= 127 and 0 < C_ <= 127):
        raise ValueError(f"decode_scms_lanes: A = {A_}, B = {B_}, C = {C_}: need A in (0, 32], "
                         "B in [0, 127], C in (0, 127]")
    cdef Py_ssize_t n = L.shape[0], m = row_ptr.shape[0] - 1, E = cols.shape[0], c, dmax = 1
    if L.shape[1] != SCMS_W or m1s.shape[1] != SCMS_W or m2s.shape[1] != SCMS_W \
            or idx.shape[1] != SCMS_W or hard.shape[0] != SCMS_W or hard.shape[1] != n \
            or budget.shape[0] != SCMS_W or iters.shape[0] != SCMS_W:
        raise ValueError("decode_scms_lanes: lane dimension must be 32")
    if qsign.shape[0] != E or qnz.shape[0] != E or syn.shape[0] < m \
            or m1s.shape[0] != m or m2s.shape[0] != m or idx.shape[0] != m \
            or par.shape[0] != m:
        raise ValueError("decode_scms_lanes: inconsistent state shapes")
    for c in range(m):
        if row_ptr[c + 1] - row_ptr[c] > dmax:
            dmax = row_ptr[c + 1] - row_ptr[c]
    if dmax > 255:
        raise ValueError("decode_scms_lanes: check degree above 255")
    cdef int8_t* T = <int8_t*>malloc(dmax * SCMS_W)
    cdef uint32_t* S = <uint32_t*>malloc(dmax * sizeof(uint32_t))
    if T == NULL or S == NULL:
        free(T)
        free(S)
        raise MemoryError()
    cdef uint32_t done
    with nogil:
        done = scms_run(n, m, &row_ptr[0], &cols[0], &syn[0], &L[0, 0], &qsign[0],
                        &qnz[0], &m1s[0, 0], &m2s[0, 0], &idx[0, 0], &par[0], T, S, A_, B_, C_,
                        active_, &budget[0], &iters[0], &hard[0, 0], use)
    free(T)
    free(S)
    return int(done)


def degree2_pairs(m, const int32_t[::1] chain not None, count, seed, purpose, block,
                  min_cycle=12, max_deg=6):
    """Check pairs for ``count`` degree-2 variables beyond a staircase.

    Degree-2 variables are edges of a graph on the checks; a cycle of length L
    there is a codeword of weight L.  The staircase ``chain`` (edges chain[i] -
    chain[i+1]) is a path; each further edge joins two checks at distance
    >= ``min_cycle`` - 1 in the graph built so far (breadth-first search), so
    every cycle made only of degree-2 variables has length >= ``min_cycle``.
    Checks are drawn at random (Philox stream (seed, purpose, block)) among
    those with fewer than ``max_deg`` - 1 degree-2 neighbours.  Returns an
    int32 array (count, 2) and the number of pairs that had to accept a
    shorter cycle (still >= 4: after 10 000 draws any check at distance >= 3).
    Raises ValueError when the checks run out of room for ``count`` pairs
    (found by a scan that draws no random number, so it changes no result).
    """
    cdef int K = int_arg("max_deg", max_deg, 3, 2**16)
    cdef Py_ssize_t m_ = int_arg("m", m, 2, (2**31 - 1) // K)
    cdef Py_ssize_t count_ = int_arg("count", count, 0, 2**31 - 1)
    cdef int mc = int_arg("min_cycle", min_cycle, 3, 2**30)
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef uint32_t purpose_ = int_arg("purpose", purpose, 0, 2**32 - 1)
    cdef uint32_t block_ = int_arg("block", block, 0, 2**32 - 1)
    cdef Py_ssize_t i, head, tail, tries
    cdef int32_t c, c1, c2, u, w, depth_lim = mc - 2
    cdef int32_t stamp = 0
    cdef int64_t relaxed = 0, open_checks = m_
    cdef int err = 0
    check_i32("chain", &chain[0], chain.shape[0], 0, m_ - 1)
    adj_a = np.full(m_ * K, -1, dtype=np.int32)
    deg_a = np.zeros(m_, dtype=np.int32)
    mark_a = np.zeros(m_, dtype=np.int32)
    dist_a = np.zeros(m_, dtype=np.int32)
    queue_a = np.zeros(m_, dtype=np.int32)
    out_a = np.zeros((count_, 2), dtype=np.int32)
    cdef int32_t[::1] adj = adj_a, deg = deg_a, mark = mark_a, dist = dist_a, queue = queue_a
    cdef int32_t[:, ::1] out = out_a
    cdef PhiloxStream s
    for i in range(chain.shape[0] - 1):
        c1 = chain[i]
        c2 = chain[i + 1]
        if deg[c1] >= K or deg[c2] >= K:
            raise ValueError(f"chain: check {c1 if deg[c1] >= K else c2} appears in more "
                             f"than max_deg = {K} chain edges")
        adj[c1 * K + deg[c1]] = c2
        deg[c1] += 1
        adj[c2 * K + deg[c2]] = c1
        deg[c2] += 1
    for i in range(m_):
        if deg[i] >= K - 1:
            open_checks -= 1
    with nogil:
        stream_init(&s, seed_, purpose_, block_)
        for i in range(count_):
            if open_checks < 2:
                err = 1
                break
            c1 = <int32_t>next_below(&s, <uint32_t>m_)
            while deg[c1] >= K - 1:
                c1 = <int32_t>next_below(&s, <uint32_t>m_)
            # Ball of radius min_cycle - 2 around c1.
            stamp += 1
            mark[c1] = stamp
            dist[c1] = 0
            queue[0] = c1
            head = 0
            tail = 1
            while head < tail:
                u = queue[head]
                head += 1
                if dist[u] >= depth_lim:
                    continue
                for w in range(deg[u]):
                    c = adj[u * K + w]
                    if mark[c] != stamp:
                        mark[c] = stamp
                        dist[c] = dist[u] + 1
                        queue[tail] = c
                        tail += 1
            tries = 0
            while True:
                c2 = <int32_t>next_below(&s, <uint32_t>m_)
                tries += 1
                if deg[c2] < K - 1 and c2 != c1 and (
                        mark[c2] != stamp or (tries > 10000 and dist[c2] >= 3)):
                    break
                if tries == 10000:
                    # from now on any open check at distance >= 3 will do: is there one?
                    for c in range(m_):
                        if deg[c] < K - 1 and c != c1 and (mark[c] != stamp or dist[c] >= 3):
                            break
                    else:
                        err = 1
                        break
            if err:
                break
            if mark[c2] == stamp:
                relaxed += 1
            adj[c1 * K + deg[c1]] = c2
            deg[c1] += 1
            adj[c2 * K + deg[c2]] = c1
            deg[c2] += 1
            open_checks -= (deg[c1] == K - 1) + (deg[c2] == K - 1)
            out[i, 0] = c1
            out[i, 1] = c2
    if err:
        raise ValueError(f"degree2_pairs: no room for {count_} pairs among m = {m_} checks "
                         f"(max_deg = {K}, chain of {chain.shape[0]}): stopped at pair {i}")
    return out_a, int(relaxed)


def spa_load_lane(lane, const float[::1] ch not None, const uint8_t[::1] frame_syn not None,
                  uint8_t[::1] syn not None, float[:, ::1] L not None,
                  float[:, ::1] R not None):
    """Start a frame in lane ``lane`` of the batched sum-product state (see
    :func:`decode_spa_lanes`): posteriors = channel LLRs ``ch``, messages 0,
    the frame's syndrome bits ``frame_syn`` (0/1) into bit ``lane`` of ``syn``."""
    cdef int lane_ = int_arg("lane", lane, 0, SPA_W - 1)
    cdef Py_ssize_t n = L.shape[0], m = syn.shape[0], E = R.shape[0], i
    if ch.shape[0] != n or frame_syn.shape[0] != m or L.shape[1] != SPA_W \
            or R.shape[1] != SPA_W:
        raise ValueError("spa_load_lane: inconsistent state shapes")
    cdef uint8_t keep = <uint8_t>(~(1 << lane_) & 0xFF)
    cdef Py_ssize_t bad = -1
    with nogil:
        for i in range(m):
            if frame_syn[i] > 1:
                bad = i
                break
    if bad >= 0:
        raise ValueError(f"spa_load_lane: frame_syn[{bad}] = {frame_syn[bad]}: bits must be 0/1")
    with nogil:
        for i in range(n):
            L[i, lane_] = ch[i]
        for i in range(E):
            R[i, lane_] = 0.0
        for i in range(m):
            syn[i] = (syn[i] & keep) | <uint8_t>(frame_syn[i] << lane_)


def decode_spa_lanes(const int32_t[::1] row_ptr not None, const int32_t[::1] cols not None,
                     const uint8_t[::1] syn not None, float[:, ::1] R not None,
                     float[:, ::1] L not None, active, const int32_t[::1] budget not None,
                     int32_t[::1] iters not None, simd=True):
    """Layered sum-product on 8 frame lanes (ldpc_spa8.h), in place.

    State: ``L`` (n, 8) posteriors, ``R`` (E, 8) messages (a lane starts
    with its column of L = channel LLRs and of R = 0, see
    :func:`spa_load_lane`), ``syn[c]`` bit l = syndrome bit of check c in
    lane l.  Iterates the ``active`` lanes until one reaches its syndrome
    (returned in the mask) or has run ``budget[l]`` iterations
    (``iters[l]`` counts them; returns 0).  Lane by lane the same float
    operations as :func:`decode_spa` on that frame alone: a lane that
    succeeds took ``iters[l]`` iterations where decode_spa returns that
    number, and the state is bit-identical.  ``simd``: True (best kernel of
    this CPU), False or a name from ``SPA_KERNELS``.
    """
    if simd is True or simd is False:
        simd = SPA_KERNELS[0] if simd else "scalar"
    if simd not in SPA_KERNELS:
        raise ValueError(f"simd = {simd!r}: this CPU runs {', '.join(SPA_KERNELS)} (or True/False)")
    cdef int use = simd == "avx2"
    _check_csr_fast(row_ptr, cols, L.shape[0])
    cdef uint32_t active_ = int_arg("active", active, 0, 2**SPA_W - 1)
    cdef Py_ssize_t m = row_ptr.shape[0] - 1, E = cols.shape[0], c, dmax = 1, l
    if L.shape[1] != SPA_W or R.shape[1] != SPA_W or R.shape[0] != E or syn.shape[0] != m \
            or budget.shape[0] != SPA_W or iters.shape[0] != SPA_W:
        raise ValueError("decode_spa_lanes: inconsistent state shapes (lane dimension 8)")
    for l in range(SPA_W):
        if (active_ >> l) & 1 and not 0 <= iters[l] < budget[l]:
            raise ValueError(f"decode_spa_lanes: lane {l} has iters {iters[l]}, budget "
                             f"{budget[l]}: need 0 <= iters < budget")
    for c in range(m):
        if row_ptr[c + 1] - row_ptr[c] > dmax:
            dmax = row_ptr[c + 1] - row_ptr[c]
    cdef float* T = <float*>malloc(2 * dmax * SPA_W * sizeof(float))
    if T == NULL:
        raise MemoryError()
    cdef uint32_t done
    with nogil:
        done = spa8_run(m, &row_ptr[0], &cols[0], &syn[0], &R[0, 0], &L[0, 0], T,
                        T + dmax * SPA_W, active_, &budget[0], &iters[0], use)
    free(T)
    return int(done)


def scms_messages(lane, const int32_t[::1] row_ptr not None, const uint8_t[:, ::1] m1s not None,
                  const uint8_t[:, ::1] m2s not None, const uint8_t[:, ::1] idx not None,
                  const uint32_t[::1] par not None, const uint32_t[::1] qsign not None,
                  int8_t[::1] out not None):
    """Check-to-variable messages of SCMS lane ``lane`` in quanta: on edge e,
    the j-th of check c, out[e] = (-1)^(bit lane of par[c] ^ qsign[e]) times
    m2s[c, lane] if idx[c, lane] == j else m1s[c, lane] (ldpc_scms.h)."""
    cdef int lane_ = int_arg("lane", lane, 0, SCMS_W - 1)
    cdef Py_ssize_t m = row_ptr.shape[0] - 1, E = qsign.shape[0], c, j, a, b
    if m < 0 or m1s.shape[0] != m or m2s.shape[0] != m or idx.shape[0] != m \
            or par.shape[0] != m or out.shape[0] != E or m1s.shape[1] != SCMS_W \
            or m2s.shape[1] != SCMS_W or idx.shape[1] != SCMS_W:
        raise ValueError("scms_messages: inconsistent state shapes")
    if row_ptr[0] != 0 or row_ptr[m] != E:
        raise ValueError(f"scms_messages: row_ptr must run from 0 to len(qsign) = {E}")
    for c in range(m):
        if row_ptr[c + 1] < row_ptr[c]:
            raise ValueError("scms_messages: row_ptr must be non-decreasing")
    cdef int8_t mag
    cdef uint32_t neg
    with nogil:
        for c in range(m):
            a = row_ptr[c]
            b = row_ptr[c + 1]
            for j in range(a, b):
                mag = <int8_t>(m2s[c, lane_] if idx[c, lane_] == j - a else m1s[c, lane_])
                neg = ((par[c] ^ qsign[j]) >> lane_) & 1
                out[j] = -mag if neg else mag
