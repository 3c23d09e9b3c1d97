# A min-heap of int64 keys (pending afterpulses of the detector passes in
# transport.pyx and qrng.pyx: key = slot or time, with the detector in the
# low bits).  Inline, no GIL; push returns -1 when out of memory.
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, realloc, free


cdef struct Heap:
    int64_t* a
    int64_t n
    int64_t cap


cdef inline int heap_init(Heap* h) noexcept nogil:
    h.cap = 64
    h.n = 0
    h.a = <int64_t*>malloc(h.cap * sizeof(int64_t))
    return 0 if h.a != NULL else -1


cdef inline void heap_free(Heap* h) noexcept nogil:
    free(h.a)
    h.a = NULL
    h.n = 0
    h.cap = 0


cdef inline int heap_push(Heap* h, int64_t key) noexcept nogil:
    cdef int64_t i, parent
    cdef int64_t* grown
    if h.n == h.cap:
        grown = <int64_t*>realloc(h.a, 2 * h.cap * sizeof(int64_t))
        if grown == NULL:
            return -1
        h.a = grown
        h.cap *= 2
    i = h.n
    h.n += 1
    while i > 0:
        parent = (i - 1) >> 1
        if h.a[parent] <= key:
            break
        h.a[i] = h.a[parent]
        i = parent
    h.a[i] = key
    return 0


cdef inline int64_t heap_pop(Heap* h) noexcept nogil:
    """The smallest key, removed (the heap must not be empty)."""
    cdef int64_t top = h.a[0]
    cdef int64_t last, i, child
    h.n -= 1
    if h.n == 0:
        return top
    last = h.a[h.n]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= h.n:
            break
        if child + 1 < h.n and h.a[child + 1] < h.a[child]:
            child += 1
        if h.a[child] >= last:
            break
        h.a[i] = h.a[child]
        i = child
    h.a[i] = last
    return top
