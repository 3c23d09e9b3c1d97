# Toeplitz hashing over GF(2): exact, sub-quadratic, compiled.
#
# out = T @ b (mod 2), T[i, j] = s[i - j + n - 1], i < m, j < n.  This is the
# window [n-1, n-1+m) of the carry-less polynomial product S(x) B(x) (a
# "middle product").  Two exact methods:
#
# * direct: schoolbook carry-less multiplication of 64-bit words, only the
#   needed output window; O(n m / 4096) word products.  Used when m is small
#   (verification tags) or the input is tiny.
# * fft: the bit polynomials are cut into 64-bit coefficients, embedded in
#   GF(2^128) (a product of two 64-bit polynomials has degree < 127, so no
#   reduction ever happens and field arithmetic equals polynomial arithmetic),
#   and multiplied with the additive FFT of Lin, Chung and Han (FOCS 2014) on
#   a Cantor basis (as in Chen, Cheng, Kuo, Li, Yang, "Faster multiplication
#   for long binary polynomials", arXiv:1708.09746): with a Cantor basis the
#   subspace vanishing polynomials s_i(y) have 0/1 coefficients, so the basis
#   conversion costs XORs only, and the twiddle of a block with index c is
#   omega(2c) at every layer.  b is cut into chunks; every chunk's product is
#   accumulated in the evaluation domain and one inverse transform ends it.
#
# Field multiplications use PCLMULQDQ, and AVX2 VPCLMULQDQ (two elements per
# instruction) when the CPU has them (runtime check, so the build stays
# portable), and a table-based software carry-less multiply otherwise; all
# levels give identical results (see CPU_LEVEL, and ``level=`` in the tests).
# Basis conversion: per recursion level the block is divided by s_{L-1}(y)
# (2^popcount(L-1) - 1 shifted XOR passes), fused with the butterflies so that
# small blocks stay in cache; the three lowest levels are one unrolled kernel.
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint64_t, int64_t

from qchannel._core.checks cimport int_arg

cnp.import_array()

cdef extern from "toeplitz_impl.h":
    ctypedef struct qc_u128:
        uint64_t lo
        uint64_t hi
    int qc_cpu_level()
    int qc_mp_direct(const uint64_t *S, const uint64_t *B, size_t n, size_t m, uint64_t *out, int hw) nogil
    double qc_fft_plan(size_t n, size_t m, int K, size_t *h_out, size_t *J_out) nogil
    int qc_mp_fft(const uint64_t *s, const uint64_t *b, size_t n, size_t m, uint64_t *out,
                  int level, const qc_u128 *tables, int nbytes, int K) nogil
    unsigned qc_pack_bits(const uint8_t *bits, size_t n, uint64_t *words) nogil
    void qc_unpack_bits(const uint64_t *words, size_t n, uint8_t *bits) nogil
    void qc_fft_run(int level, qc_u128 *x, int K, const qc_u128 *tables, int nbytes, int inverse) nogil


# ---------------------------------------------------------------------------
# GF(2^128) (modulus x^128 + x^7 + x^2 + x + 1) Cantor basis, computed once.

_MOD = (1 << 128) | 0x87
cdef int KMAX = 40  # twiddle tables cover transforms up to 2^KMAX points
# Largest transform the planner uses: 2^24 points, 256 MiB per array; longer
# inputs are cut into more chunks (same result, bounded memory).
cdef int KPLAN_MAX = 24


def _gf_mul(a, b):
    cdef object r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a >> 128:
            a ^= _MOD
    return r


def _cantor_basis(count):
    """beta_0 = 1, beta_i^2 + beta_i = beta_{i-1}: solve the GF(2)-linear map
    L(x) = x^2 + x (kernel {0, 1}) by elimination."""
    cdef object one = 1       # Python integers throughout (128-bit values)
    cdef object e
    cols = []
    for i in range(128):
        e = one << i
        cols.append(_gf_mul(e, e) ^ e)
    pivots = {}  # top bit -> (value, combination)
    for i in range(128):
        v = cols[i]
        comb = one << i
        while v:
            top = v.bit_length() - 1
            if top not in pivots:
                pivots[top] = (v, comb)
                break
            pv, pc = pivots[top]
            v ^= pv
            comb ^= pc
    def solve(c):
        x = 0
        while c:
            top = c.bit_length() - 1
            if top not in pivots:
                return None
            pv, pc = pivots[top]
            c ^= pv
            x ^= pc
        return x
    beta = [1]
    prev = 1
    while len(beta) < count:
        x = solve(prev)
        if x is None or (_gf_mul(x, x) ^ x) != prev:
            raise RuntimeError("Cantor basis construction failed")
        beta.append(x)
        prev = x
    return beta


cdef object _WT = None


cdef int _NBYTES = (KMAX + 7) // 8


cdef object _omega_tables():
    """Byte tables for omega(2c) = sum_j c_j beta_{j+1}, c < 2^KMAX, followed by
    the prefix tables g_s[z] = sum_{j <= z} beta_{j+s}, s = 1, 2, 3 (64 each)."""
    global _WT
    if _WT is None:
        beta = _cantor_basis(KMAX + 70)
        nbytes = _NBYTES
        wt = np.zeros((nbytes * 256 + 3 * 64, 2), dtype=np.uint64)
        for sidx in range(3):
            acc = 0
            for z in range(64):
                acc ^= beta[z + sidx + 1]
                wt[nbytes * 256 + 64 * sidx + z, 0] = acc & 0xFFFFFFFFFFFFFFFF
                wt[nbytes * 256 + 64 * sidx + z, 1] = acc >> 64
        for k in range(nbytes):
            for v in range(256):
                acc = 0
                for j in range(8):
                    if (v >> j) & 1 and 8 * k + j + 1 < len(beta):
                        acc ^= beta[8 * k + j + 1]
                wt[256 * k + v, 0] = acc & 0xFFFFFFFFFFFFFFFF
                wt[256 * k + v, 1] = acc >> 64
        _WT = wt
    return _WT


#: 0: portable C, 1: PCLMULQDQ, 2: PCLMULQDQ + AVX2 VPCLMULQDQ (runtime check)
CPU_LEVEL = int(qc_cpu_level())
HAS_CLMUL = CPU_LEVEL >= 1


cdef int _level(level) except -1:
    if level is None:
        return CPU_LEVEL
    level = int_arg("level", level, 0, 2)
    if level > CPU_LEVEL:
        raise ValueError(f"level = {level} is not available on this CPU (max {CPU_LEVEL})")
    return level


def gf128_mul_reference(a, b):
    """Field product in GF(2^128) with Python integers (for tests)."""
    return _gf_mul(int_arg("a", a, 0, 2**128 - 1), int_arg("b", b, 0, 2**128 - 1))


def cantor_basis(count):
    """The first ``count`` Cantor basis elements of GF(2^128) as Python ints
    (there are 128: a Cantor basis spans the subfield GF(2^(2^k)), k <= 7)."""
    count = int_arg("count", count, 0, 128)
    return _cantor_basis(count)[:count]


def additive_fft(cnp.ndarray coeffs not None, K, bint inverse=False, level=None):
    """Forward (monomial coefficients -> values at omega(lambda), lambda < 2^K,
    omega(lambda) = sum_j lambda_j beta_j) or inverse additive FFT of 2^K
    GF(2^128) elements given as a (2^K, 2) uint64 array (lo, hi).  For tests."""
    # twiddle tables cover 2^KMAX points
    cdef int K_ = int_arg("K", K, 0, KMAX)
    if coeffs.ndim != 2 or coeffs.shape[0] != (1 << K) or coeffs.shape[1] != 2:
        raise ValueError(f"coeffs has shape {np.shape(coeffs)}: must be (2**K, 2) = "
                         f"({1 << K}, 2)")
    cdef cnp.ndarray[cnp.uint64_t, ndim=2] x = np.ascontiguousarray(coeffs, dtype=np.uint64).copy()
    cdef cnp.ndarray[cnp.uint64_t, ndim=2] wt = _omega_tables()
    cdef int lvl = _level(level)
    with nogil:
        qc_fft_run(lvl, <qc_u128 *>x.data, K_, <const qc_u128 *>wt.data, _NBYTES, inverse)
    return x


cdef tuple _sizes(n, m):
    # n input bits and m output bits: both >= 1, and n + m - 1 seed bits
    # addressable in size_t with room to spare
    n = int_arg("n", n, 1, 2**56)
    m = int_arg("m", m, 1, 2**56)
    return n, m


def fft_plan(n, m):
    """(K, h, J, cost) of the cheapest FFT plan, or None."""
    n, m = _sizes(n, m)
    cdef size_t h = 0, J = 0
    cdef double c
    best = None
    cdef Py_ssize_t words = (n + 63) // 64 + (m + 63) // 64 + 4
    for K in range(1, KPLAN_MAX + 1):
        if (1 << K) > 4 * words:
            break
        c = qc_fft_plan(n, m, K, &h, &J)
        if c < 0:
            continue
        if best is None or c < best[3]:
            best = (K, h, J, c)
    return best


# Cost of one direct 64x64 word product relative to one FFT plan unit (both
# measured on x86-64 with PCLMULQDQ/VPCLMULQDQ: ~1.1 ns vs ~2 ns).  Only the
# choice of method depends on it, never the result.
_DIRECT_WEIGHT = 0.55


def choose_method(n, m):
    """"direct" or "fft" for an n-bit input and m-bit output (the cheaper by
    the cost model; both are exact)."""
    n, m = _sizes(n, m)
    nw = (n + 63) // 64
    direct = nw * ((m + 63) // 64 + 2) * _DIRECT_WEIGHT
    plan = fft_plan(n, m)
    if plan is None or direct <= plan[3]:
        return "direct"
    return "fft"


def pack_bits(cnp.ndarray bits not None):
    """uint8 0/1 array -> (uint64 little-endian bit words, OR of all bytes)."""
    cdef const uint8_t[::1] v = np.ascontiguousarray(bits, dtype=np.uint8)
    cdef Py_ssize_t n = v.shape[0]
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] w = np.zeros((n + 63) // 64 + 1, dtype=np.uint64)
    cdef unsigned orr = 0
    if n:
        with nogil:
            orr = qc_pack_bits(&v[0], n, <uint64_t *>w.data)
    return w, orr


def unpack_bits(cnp.ndarray words not None, n):
    """uint64 little-endian bit words -> uint8 0/1 array of length n."""
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] w = np.ascontiguousarray(words, dtype=np.uint64)
    cdef Py_ssize_t n_ = int_arg("n", n, 0, 64 * w.shape[0])
    cdef cnp.ndarray[cnp.uint8_t, ndim=1] out = np.empty(n_, dtype=np.uint8)
    if n_:
        with nogil:
            qc_unpack_bits(<const uint64_t *>w.data, n_, <uint8_t *>out.data)
    return out


def middle_product_words(cnp.ndarray s_words not None, cnp.ndarray b_words not None, n, m,
                         method="auto", level=None, fft_k=None):
    """Packed Toeplitz product: s_words holds n + m - 1 seed bits, b_words n
    input bits (little-endian uint64 words; bits past the ends are ignored).
    Returns ceil(m / 64) words holding T @ b.  ``method`` ("auto", "direct",
    "fft") and ``level`` (instruction set, see CPU_LEVEL) never change the
    result, only the speed."""
    n, m = _sizes(n, m)
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] s = np.ascontiguousarray(s_words, dtype=np.uint64)
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] b = np.ascontiguousarray(b_words, dtype=np.uint64)
    if s.shape[0] * 64 < n + m - 1:
        raise ValueError(f"s_words has {s.shape[0]} words: needs n + m - 1 = {n + m - 1} bits")
    if b.shape[0] * 64 < n:
        raise ValueError(f"b_words has {b.shape[0]} words: needs n = {n} bits")
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"method = {method!r} must be one of 'auto', 'direct', 'fft'")
    cdef Py_ssize_t nw = (n + 63) // 64
    if n & 63:
        # bits of b past n must be zero
        b = b[:nw].copy()
        b[nw - 1] &= (np.uint64(1) << np.uint64(n & 63)) - np.uint64(1)
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] out = np.zeros((m + 63) // 64 + 1, dtype=np.uint64)
    cdef cnp.ndarray[cnp.uint64_t, ndim=2] wt
    cdef int lvl = _level(level)
    cdef int hw = 1 if lvl >= 1 else 0
    cdef int rc = 0
    cdef int K
    cdef size_t n_ = n, m_ = m
    if method == "auto":
        method = choose_method(n, m)
    if method == "direct":
        with nogil:
            rc = qc_mp_direct(<const uint64_t *>s.data, <const uint64_t *>b.data, n_, m_,
                              <uint64_t *>out.data, hw)
    elif method == "fft":
        plan = fft_plan(n, m)
        if plan is None:
            raise ValueError(f"no FFT plan for n = {n}, m = {m}: use method='direct'")
        # fft_k: tuning/tests only; too small a K is reported by the kernel (rc -2)
        K = plan[0] if fft_k is None else int_arg("fft_k", fft_k, 1, KPLAN_MAX)
        wt = _omega_tables()
        with nogil:
            rc = qc_mp_fft(<const uint64_t *>s.data, <const uint64_t *>b.data, n_, m_,
                           <uint64_t *>out.data, lvl, <const qc_u128 *>wt.data, _NBYTES, K)
    else:
        raise ValueError(f"method = {method!r} must be one of 'auto', 'direct', 'fft'")
    if rc == -1:
        raise MemoryError("toeplitz: out of memory")
    if rc == -2:
        raise ValueError(f"fft_k = {fft_k} is too small for n = {n}, m = {m}")
    if rc != 0:
        raise RuntimeError(f"toeplitz kernel failed ({rc})")
    return out[: (m + 63) // 64]
