"""Python entry points to the Philox4x64-10 generator of the compiled core.

Every entry point checks its arguments (ValueError naming them): seed in
[0, 2^64), purpose and block in [0, 2^32), counts non-negative."""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint32_t, uint64_t, int64_t

from qchannel._core.philox cimport (PhiloxStream, philox4x64_10, stream_init,
                                    next_u32, next_u64, next_double, next_below)
from qchannel._core.sampling cimport binomial
from qchannel._core.checks cimport int_arg, real_arg, check_len


def philox4x64_10_block(counter, key):
    """One Philox4x64-10 evaluation: ``counter`` 4 words, ``key`` 2 words -> 4 words."""
    cdef uint64_t ctr[4]
    cdef uint64_t out[4]
    cdef uint64_t k0, k1
    cdef int i
    counter = list(counter)
    key = list(key)
    check_len("counter", len(counter), 4)
    check_len("key", len(key), 2)
    for i in range(4):
        ctr[i] = int_arg(f"counter[{i}]", counter[i], 0, 2**64 - 1)
    k0 = int_arg("key[0]", key[0], 0, 2**64 - 1)
    k1 = int_arg("key[1]", key[1], 0, 2**64 - 1)
    philox4x64_10(ctr, k0, k1, out)
    return (out[0], out[1], out[2], out[3])


cdef int _stream(PhiloxStream* s, seed, purpose, block) except -1:
    # stream (seed, purpose, block) after checking its address
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef uint32_t purpose_ = int_arg("purpose", purpose, 0, 2**32 - 1)
    cdef uint32_t block_ = int_arg("block", block, 0, 2**32 - 1)
    stream_init(s, seed_, purpose_, block_)
    return 0


def stream_u64(seed, purpose, block, n):
    """The first ``n`` 64-bit words of stream (seed, purpose, block)."""
    cdef PhiloxStream s
    _stream(&s, seed, purpose, block)
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] out = np.empty(int_arg("n", n, 0, 2**63 - 1), dtype=np.uint64)
    cdef uint64_t[::1] v = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(v.shape[0]):
            v[i] = next_u64(&s)
    return out


def stream_u32(seed, purpose, block, n):
    """The first ``n`` 32-bit words of stream (seed, purpose, block)."""
    cdef PhiloxStream s
    _stream(&s, seed, purpose, block)
    cdef cnp.ndarray[cnp.uint32_t, ndim=1] out = np.empty(int_arg("n", n, 0, 2**63 - 1), dtype=np.uint32)
    cdef uint32_t[::1] v = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(v.shape[0]):
            v[i] = next_u32(&s)
    return out


def stream_uniform(seed, purpose, block, n):
    """``n`` doubles uniform on (0, 1) from stream (seed, purpose, block)."""
    cdef PhiloxStream s
    _stream(&s, seed, purpose, block)
    cdef cnp.ndarray[cnp.float64_t, ndim=1] out = np.empty(int_arg("n", n, 0, 2**63 - 1),
                                                           dtype=np.float64)
    cdef double[::1] v = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(v.shape[0]):
            v[i] = next_double(&s)
    return out


def stream_permutation(seed, purpose, block, n):
    """A uniform random permutation of ``range(n)`` (int64), by a Fisher-Yates
    shuffle driven by stream (seed, purpose, block)."""
    cdef PhiloxStream s
    _stream(&s, seed, purpose, block)
    out = np.arange(int_arg("n", n, 0, 2**32 - 1), dtype=np.int64)
    cdef int64_t[::1] v = out
    cdef Py_ssize_t i, j
    cdef int64_t tmp
    with nogil:
        i = v.shape[0] - 1
        while i > 0:
            j = <Py_ssize_t>next_below(&s, <uint32_t>(i + 1))
            tmp = v[i]
            v[i] = v[j]
            v[j] = tmp
            i -= 1
    return out


def stream_bits(seed, purpose, block, n):
    """``n`` random bits (uint8 0/1) from stream (seed, purpose, block)."""
    cdef PhiloxStream s
    _stream(&s, seed, purpose, block)
    cdef cnp.ndarray[cnp.uint8_t, ndim=1] out = np.empty(int_arg("n", n, 0, 2**63 - 1), dtype=np.uint8)
    cdef unsigned char[::1] v = out
    cdef Py_ssize_t i
    cdef uint32_t w = 0
    with nogil:
        for i in range(v.shape[0]):
            if (i & 31) == 0:
                w = next_u32(&s)
            v[i] = (w >> (i & 31)) & 1
    return out


def stream_binomial(seed, purpose, block, n, p, size):
    """``size`` Binomial(n, p) draws from stream (seed, purpose, block); exposes
    the kernels' sampler (inversion / BTRS) to tests."""
    cdef PhiloxStream s
    _stream(&s, seed, purpose, block)
    cdef int64_t n_ = int_arg("n", n, 0, 2**63 - 1)
    cdef double p_ = real_arg("p", p, 0.0, 1.0)
    cdef cnp.ndarray[cnp.int64_t, ndim=1] out = np.empty(int_arg("size", size, 0, 2**63 - 1),
                                                         dtype=np.int64)
    cdef int64_t[::1] v = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(v.shape[0]):
            v[i] = binomial(&s, n_, p_)
    return out


def stream_binomial_firsts(seed, purpose, const int64_t[::1] blocks not None,
                           const int64_t[::1] n not None, p):
    """For each i, the first Binomial(n[i], p) deviate of stream (seed,
    purpose, blocks[i]): one draw per stream, as many streams as entries."""
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef uint32_t purpose_ = int_arg("purpose", purpose, 0, 2**32 - 1)
    cdef double p_ = real_arg("p", p, 0.0, 1.0)
    check_len("n", n.shape[0], blocks.shape[0])
    cdef Py_ssize_t i, m = blocks.shape[0]
    for i in range(m):
        if not 0 <= blocks[i] <= 0xFFFFFFFF:
            raise ValueError(f"blocks[{i}] = {blocks[i]} is out of range: must be in [0, 2^32)")
        if n[i] < 0:
            raise ValueError(f"n[{i}] = {n[i]} must be non-negative")
    out = np.empty(m, dtype=np.int64)
    cdef int64_t[::1] v = out
    cdef PhiloxStream s
    with nogil:
        for i in range(m):
            stream_init(&s, seed_, purpose_, <uint32_t>blocks[i])
            v[i] = binomial(&s, n[i], p_)
    return out
