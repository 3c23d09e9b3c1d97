# Binary searches over sorted tables, shared by the kernels (inline, no GIL).
from libc.stdint cimport int64_t


cdef inline int64_t search_cdf(const double* cdf, int64_t m, double u) noexcept nogil:
    # First index i with u < cdf[i]; cdf[m - 1] == 1 (> any u in (0, 1)).
    cdef int64_t lo = 0, hi = m - 1, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if u < cdf[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef inline int find_segment(const int64_t* seg_start, int n_seg, int64_t slot) noexcept nogil:
    # Last segment starting at or before ``slot``; always in [0, n_seg).
    cdef int lo = 0, hi = n_seg - 1, mid
    while lo < hi:
        mid = (lo + hi + 1) >> 1
        if seg_start[mid] <= slot:
            lo = mid
        else:
            hi = mid - 1
    return lo
