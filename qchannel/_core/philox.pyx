"""Python entry points to the Philox4x64-10 generator of the compiled core."""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint32_t, uint64_t, int64_t

from qchannel._core.philox cimport (PhiloxStream, philox4x64_10, stream_init,
                                    next_u32, next_u64, next_double, next_below)
from qchannel._core.sampling cimport binomial


def philox4x64_10_block(counter, key):
    """One Philox4x64-10 evaluation: ``counter`` 4 words, ``key`` 2 words -> 4 words."""
    cdef uint64_t ctr[4]
    cdef uint64_t out[4]
    cdef int i
    for i in range(4):
        ctr[i] = <uint64_t>int(counter[i])
    philox4x64_10(ctr, <uint64_t>int(key[0]), <uint64_t>int(key[1]), out)
    return (out[0], out[1], out[2], out[3])


def stream_u64(uint64_t seed, uint32_t purpose, uint32_t block, Py_ssize_t n):
    """The first ``n`` 64-bit words of stream (seed, purpose, block)."""
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] out = np.empty(n, dtype=np.uint64)
    cdef uint64_t[::1] v = out
    cdef PhiloxStream s
    cdef Py_ssize_t i
    stream_init(&s, seed, purpose, block)
    with nogil:
        for i in range(n):
            v[i] = next_u64(&s)
    return out


def stream_u32(uint64_t seed, uint32_t purpose, uint32_t block, Py_ssize_t n):
    """The first ``n`` 32-bit words of stream (seed, purpose, block)."""
    cdef cnp.ndarray[cnp.uint32_t, ndim=1] out = np.empty(n, dtype=np.uint32)
    cdef uint32_t[::1] v = out
    cdef PhiloxStream s
    cdef Py_ssize_t i
    stream_init(&s, seed, purpose, block)
    with nogil:
        for i in range(n):
            v[i] = next_u32(&s)
    return out


def stream_uniform(uint64_t seed, uint32_t purpose, uint32_t block, Py_ssize_t n):
    """``n`` doubles uniform on (0, 1) from stream (seed, purpose, block)."""
    cdef cnp.ndarray[cnp.float64_t, ndim=1] out = np.empty(n, dtype=np.float64)
    cdef double[::1] v = out
    cdef PhiloxStream s
    cdef Py_ssize_t i
    stream_init(&s, seed, purpose, block)
    with nogil:
        for i in range(n):
            v[i] = next_double(&s)
    return out


def stream_permutation(uint64_t seed, uint32_t purpose, uint32_t block, Py_ssize_t n):
    """A uniform random permutation of ``range(n)`` (int64), by a Fisher-Yates
    shuffle driven by stream (seed, purpose, block)."""
    if n >= 2**32:
        raise ValueError(f"n = {n} is out of range: must be below 2**32")
    out = np.arange(n, dtype=np.int64)
    cdef int64_t[::1] v = out
    cdef PhiloxStream s
    cdef Py_ssize_t i, j
    cdef int64_t tmp
    stream_init(&s, seed, purpose, block)
    with nogil:
        i = n - 1
        while i > 0:
            j = <Py_ssize_t>next_below(&s, <uint32_t>(i + 1))
            tmp = v[i]
            v[i] = v[j]
            v[j] = tmp
            i -= 1
    return out


def stream_bits(uint64_t seed, uint32_t purpose, uint32_t block, Py_ssize_t n):
    """``n`` random bits (uint8 0/1) from stream (seed, purpose, block)."""
    cdef cnp.ndarray[cnp.uint8_t, ndim=1] out = np.empty(n, dtype=np.uint8)
    cdef unsigned char[::1] v = out
    cdef PhiloxStream s
    cdef Py_ssize_t i
    cdef uint32_t w = 0
    stream_init(&s, seed, purpose, block)
    with nogil:
        for i in range(n):
            if (i & 31) == 0:
                w = next_u32(&s)
            v[i] = (w >> (i & 31)) & 1
    return out


def stream_binomial(uint64_t seed, uint32_t purpose, uint32_t block, int64_t n, double p,
                    Py_ssize_t size):
    """``size`` Binomial(n, p) draws from stream (seed, purpose, block); exposes
    the kernels' sampler (inversion / BTRS) to tests."""
    cdef cnp.ndarray[cnp.int64_t, ndim=1] out = np.empty(size, dtype=np.int64)
    cdef int64_t[::1] v = out
    cdef PhiloxStream s
    cdef Py_ssize_t i
    stream_init(&s, seed, purpose, block)
    with nogil:
        for i in range(size):
            v[i] = binomial(&s, n, p)
    return out
