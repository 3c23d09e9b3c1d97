# Discrete distributions drawn from a Philox stream (nogil, exact).
from libc.stdint cimport uint32_t, uint64_t, int64_t
from libc.math cimport log, sqrt, floor, fabs, exp
from qchannel._core.philox cimport PhiloxStream, next_double

cdef extern from "<math.h>" nogil:
    # The reentrant log-gamma: the same values as lgamma(), which also writes
    # the global signgam, a store that threads drawing binomials at the same
    # time bounce between their cores (a 1000 km twin-field run took twice
    # the CPU on two threads).
    double lgamma_r(double x, int* sign)


cdef inline double lgamma_(double x) noexcept nogil:
    cdef int sign
    return lgamma_r(x, &sign)


cdef inline int64_t _binomial_inversion(PhiloxStream* s, int64_t n, double p) noexcept nogil:
    # Sequential inversion; cost ~ n p, used when n p is small.
    cdef double q = 1.0 - p
    cdef double r = p / q
    cdef double f = exp(n * log(q))   # P(X = 0)
    cdef double u = next_double(s)
    cdef int64_t k = 0
    while u > f and k < n:
        u -= f
        k += 1
        f *= r * (n - k + 1) / k
    return k


cdef inline int64_t _binomial_btrs(PhiloxStream* s, int64_t n, double p) noexcept nogil:
    # Transformed rejection with squeeze (Hormann, J. Stat. Comput. Simul. 46,
    # 101 (1993)), exact for p <= 1/2 and n p >= 10.
    cdef double q = 1.0 - p
    cdef double spq = sqrt(n * p * q)
    cdef double b = 1.15 + 2.53 * spq
    cdef double a = -0.0873 + 0.0248 * b + 0.01 * p
    cdef double c = n * p + 0.5
    cdef double v_r = 0.92 - 4.2 / b
    cdef double alpha = (2.83 + 5.1 / b) * spq
    cdef double lpq = log(p / q)
    cdef double m = floor((n + 1) * p)
    cdef double h = lgamma_(m + 1.0) + lgamma_(n - m + 1.0)
    cdef double u, v, us, kd
    while True:
        u = next_double(s) - 0.5
        v = next_double(s)
        us = 0.5 - fabs(u)
        kd = floor((2.0 * a / us + b) * u + c)
        if kd < 0 or kd > n:
            continue
        if us >= 0.07 and v <= v_r:
            return <int64_t>kd
        v = log(v * alpha / (a / (us * us) + b))
        if v <= h - lgamma_(kd + 1.0) - lgamma_(n - kd + 1.0) + (kd - m) * lpq:
            return <int64_t>kd


cdef inline int64_t binomial(PhiloxStream* s, int64_t n, double p) noexcept nogil:
    # Entry points reject a NaN p; should one slip through it draws 0 here
    # rather than sending the rejection loop below round forever.
    if n <= 0 or not (p > 0.0):
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - binomial(s, n, 1.0 - p)
    if n * p < 10.0:
        return _binomial_inversion(s, n, p)
    return _binomial_btrs(s, n, p)


cdef inline void multinomial(PhiloxStream* s, int64_t n, const double* probs, int k,
                             int64_t* out) noexcept nogil:
    # Conditional binomials; probs need not be normalised.
    cdef double rest = 0.0
    cdef int i
    for i in range(k):
        rest += probs[i]
    for i in range(k):
        if i == k - 1 or rest <= 0.0:
            out[i] = n
        else:
            out[i] = binomial(s, n, probs[i] / rest)
        n -= out[i]
        rest -= probs[i]
