# Cascade information reconciliation (Brassard & Salvail 1993), simulated
# exactly with both parties' strings.
#
# The protocol is the usual one (as specified in Martinez-Mateo et al.,
# "Demystifying the information reconciliation protocol Cascade", QIC 15
# (2015) 453, and Rijsman's reference implementation): per pass a public
# permutation, top-level blocks of size k_i, Alice discloses all top-level
# parities (one message), BINARY on every odd block (left-half parity asked,
# right half inferred), and the cascade effect: every corrected bit flips the
# parity of the blocks containing it in all other passes, and those that become
# odd are corrected again (smallest block first).  Parity requests that can be
# answered in the same message are batched; every batch is one round.
#
# Simulation shortcut (exact, not an approximation): Bob's parity of a block
# differs from Alice's iff the block holds an odd number of errors, so the
# kernel tracks only the error positions.  Which parities are disclosed, how
# many bits leak and how many rounds it takes are exactly those of the real
# protocol; the cost is O(#errors x passes x log k) instead of O(n x passes).
#
# Permutations are pseudo-random permutations computable pointwise: a 4-round
# balanced Feistel network on 2w >= log2(n) bits with cycle walking; the round
# keys of pass q of frame f are the 64-bit words 4q .. 4q+3 of the Philox
# stream (seed, Purpose.CASCADE, f).  (Cascade's permutations are public; they only
# need to decorrelate error positions.)
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t

from qchannel._core.philox cimport philox4x64_10
from qchannel._core.checks cimport int_arg, check_len

cnp.import_array()

cdef enum:
    PURPOSE_CASCADE = 10

cdef extern from "cascade_impl.h":
    ctypedef void (*cs_keyfn)(uint64_t seed, uint32_t frame, uint32_t q, uint64_t *out) noexcept nogil
    ctypedef struct cs_params:
        int npasses
        const int64_t *ksched
        int sub_block_reuse
        int biconf_streak
        int biconf_max
        int biconf_cascade
        int biconf_complement
        uint64_t seed
        cs_keyfn keyfn
    int CS_MAXPASS
    unsigned int CS_MAXBITS
    int cs_run(const cs_params *P, const uint8_t *a, const uint8_t *b, uint8_t *bob, size_t N,
               size_t frames, uint64_t *leak, uint64_t *rounds, uint32_t *residual,
               uint32_t *biconf_iters, uint32_t *errors) nogil
    int cs_run_range(const cs_params *P, const uint8_t *a, const uint8_t *b, uint8_t *bob,
                     size_t N, size_t frames, size_t f_lo, size_t f_hi, uint64_t *leak,
                     uint64_t *rounds, uint32_t *residual, uint32_t *biconf_iters,
                     uint32_t *errors) nogil
    void cs_perm_all(uint32_t n, const uint64_t *key, uint32_t *out) nogil
    int cs_halfwidth(uint32_t n) nogil


cdef void _pass_keys(uint64_t seed, uint32_t frame, uint32_t q, uint64_t *out) noexcept nogil:
    # the Philox4x64-10 block at counter (q, 0, frame, CASCADE), key (seed, 0):
    # 64-bit words 4q .. 4q+3 of stream (seed, Purpose.CASCADE, frame)
    cdef uint64_t ctr[4]
    ctr[0] = q
    ctr[1] = 0
    ctr[2] = frame
    ctr[3] = PURPOSE_CASCADE
    philox4x64_10(ctr, seed, 0, out)


MAX_PASSES = CS_MAXPASS
MAX_FRAME_BITS = CS_MAXBITS


def pass_keys(seed, frame, q):
    """The four 64-bit Feistel round keys of pass ``q`` of frame ``frame``."""
    cdef uint64_t k[4]
    _pass_keys(int_arg("seed", seed, 0, 2**64 - 1), int_arg("frame", frame, 0, 2**32 - 1),
               int_arg("q", q, 0, 2**32 - 1), k)
    return [k[0], k[1], k[2], k[3]]


def permutation(n, seed, frame, q):
    """Positions of bits 0..n-1 in pass ``q`` of frame ``frame`` (uint32 array)."""
    cdef uint64_t k[4]
    cdef uint32_t n_ = int_arg("n", n, 0, 2**32 - 1)
    _pass_keys(int_arg("seed", seed, 0, 2**64 - 1), int_arg("frame", frame, 0, 2**32 - 1),
               int_arg("q", q, 0, 2**32 - 1), k)
    cdef cnp.ndarray[cnp.uint32_t, ndim=1] out = np.empty(n_, dtype=np.uint32)
    if n_:
        with nogil:
            cs_perm_all(n_, k, <uint32_t *>out.data)
    return out


def halfwidth(n):
    """Half width w (bits) of the Feistel network for n positions: 4^w >= n."""
    return cs_halfwidth(int_arg("n", n, 0, 2**32 - 1))


cdef int _run_range(const cs_params *P, const uint8_t *a, const uint8_t *b, Py_ssize_t N,
                    Py_ssize_t frames, Py_ssize_t lo, Py_ssize_t hi, tuple arrays):
    # frames [lo, hi) into the output arrays (disjoint slices per range)
    cdef cnp.ndarray out = arrays[0], leak = arrays[1], rounds = arrays[2]
    cdef cnp.ndarray resid = arrays[3], bic = arrays[4], nerr = arrays[5]
    cdef int rc
    with nogil:
        rc = cs_run_range(P, a, b, <uint8_t *>out.data, N, frames, lo, hi,
                          <uint64_t *>leak.data, <uint64_t *>rounds.data,
                          <uint32_t *>resid.data, <uint32_t *>bic.data, <uint32_t *>nerr.data)
    return rc


def run(const uint8_t[::1] alice not None, const uint8_t[::1] bob not None, frames, ksched,
        bint sub_block_reuse, biconf_streak, biconf_max, bint biconf_cascade,
        bint biconf_complement, seed, threads=1):
    """Run Cascade on ``frames`` balanced frames of the 0/1 strings ``alice``
    and ``bob`` (equal lengths, at most MAX_FRAME_BITS bits per frame).
    ``ksched``: the block size of each normal pass, k > 0 bits or -d for
    n // d (n = the frame's size); sizes above the frame are capped to it.
    Every argument is checked first (ValueError naming it; O(N) for the bits).
    ``threads`` (default 1): native threads running contiguous ranges of
    frames without the GIL; a frame depends only on its bits and index, so the
    result is bit-identical for any number.

    Returns (bob_corrected, leak[f], rounds[f], residual[f], biconf_iterations[f],
    errors[f]) -- ``errors``: initial number of differing bits per frame."""
    cdef Py_ssize_t N = alice.shape[0], i
    check_len("bob", bob.shape[0], N)
    cdef Py_ssize_t frames_ = int_arg("frames", frames, 1, max(N, 1))
    if N < 1:
        raise ValueError("alice must hold at least one bit")
    if (N + frames_ - 1) // frames_ > CS_MAXBITS:
        raise ValueError(f"frames = {frames_} gives frames of {(N + frames_ - 1) // frames_} "
                         f"bits: at most {CS_MAXBITS} (use more frames)")
    for i in range(N):
        if alice[i] > 1 or bob[i] > 1:
            raise ValueError(f"alice and bob must hold bits 0/1: alice[{i}] = {alice[i]}, "
                             f"bob[{i}] = {bob[i]}")
    cdef int streak = int_arg("biconf_streak", biconf_streak, 0, 2**31 - 1)
    cdef int bmax = int_arg("biconf_max", biconf_max, 0, 2**31 - 1)
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef Py_ssize_t nth = int_arg("threads", threads, 1, 1024)
    try:
        ks_list = [int_arg(f"ksched[{j}]", v, -(2**32 - 1), 2**63 - 1) for j, v in enumerate(ksched)]
    except TypeError as exc:
        raise TypeError(f"ksched must be a sequence of integers: {exc}") from None
    if not 1 <= len(ks_list) <= CS_MAXPASS:
        raise ValueError(f"ksched has {len(ks_list)} passes: must be in [1, {CS_MAXPASS}]")
    for j, v in enumerate(ks_list):
        if v == 0:
            raise ValueError(f"ksched[{j}] = 0: a block size must be > 0 (bits) or -d (n // d)")
    cdef cnp.ndarray[cnp.int64_t, ndim=1] ks = np.array(ks_list, dtype=np.int64)
    cdef cnp.ndarray[cnp.uint8_t, ndim=1] out = np.empty(N, dtype=np.uint8)
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] leak = np.zeros(frames_, dtype=np.uint64)
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] rounds = np.zeros(frames_, dtype=np.uint64)
    cdef cnp.ndarray[cnp.uint32_t, ndim=1] resid = np.zeros(frames_, dtype=np.uint32)
    cdef cnp.ndarray[cnp.uint32_t, ndim=1] bic = np.zeros(frames_, dtype=np.uint32)
    cdef cnp.ndarray[cnp.uint32_t, ndim=1] nerr = np.zeros(frames_, dtype=np.uint32)
    cdef cs_params P
    P.npasses = <int>ks.shape[0]
    P.ksched = <const int64_t *>ks.data
    P.sub_block_reuse = sub_block_reuse
    P.biconf_streak = streak
    P.biconf_max = bmax
    P.biconf_cascade = biconf_cascade
    P.biconf_complement = biconf_complement
    P.seed = seed_
    P.keyfn = _pass_keys
    nth = min(nth, frames_)
    bounds = [frames_ * i // nth for i in range(nth + 1)]
    arrays = (out, leak, rounds, resid, bic, nerr)

    def chunk(i):
        return _run_range(&P, &alice[0], &bob[0], N, frames_, bounds[i], bounds[i + 1], arrays)

    if nth == 1:
        rcs = [chunk(0)]
    else:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=nth) as ex:
            rcs = list(ex.map(chunk, range(nth)))
    if any(rc != 0 for rc in rcs):
        raise MemoryError("cascade: out of memory")
    return out, leak, rounds, resid, bic, nerr
