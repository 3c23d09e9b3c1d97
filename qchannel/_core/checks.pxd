# Argument checks shared by the compiled entry points.
#
# Every def reachable from Python runs these on its arguments before it forms
# a pointer or enters a loop; the hot loops then keep boundscheck=False.  A bad
# argument raises ValueError (TypeError for a wrong type) that names it, gives
# its value and the allowed range.  These are real checks, not ``assert``
# (which ``python -O`` removes).  Scalars are taken as Python objects and
# converted here, so an integer out of the C type's range is a ValueError
# naming the argument, not Cython's anonymous OverflowError.
from libc.stdint cimport int32_t, int64_t
from cpython.number cimport PyNumber_Index
from cpython.float cimport PyFloat_AsDouble

cdef inline str _bounds(lo, hi):
    return "[" + ("-inf" if lo is None else str(lo)) + ", " + ("inf" if hi is None else str(hi)) + "]"


cdef inline object int_arg(str name, object value, object lo, object hi):
    """``value`` as a Python int in [lo, hi] (None: unbounded on that side)."""
    cdef object v
    try:
        v = PyNumber_Index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}") from None
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{name} = {v} is out of range: must be in {_bounds(lo, hi)}")
    return v


cdef inline double real_arg(str name, object value, double lo, double hi) except? -1.0:
    """``value`` as a double in [lo, hi]; NaN is always rejected (pass
    -INFINITY / INFINITY as bounds to admit infinities)."""
    cdef double x
    try:
        x = PyFloat_AsDouble(value)
    except TypeError:
        raise TypeError(f"{name} must be a real number, not {type(value).__name__}") from None
    except OverflowError:
        raise ValueError(f"{name} = {value} is out of range: must be in [{lo}, {hi}]") from None
    if not (lo <= x <= hi):
        raise ValueError(f"{name} = {x} is out of range: must be in [{lo}, {hi}]")
    return x


cdef inline int check_len(str name, Py_ssize_t got, Py_ssize_t want) except -1:
    if got != want:
        raise ValueError(f"{name} has length {got}, must be {want}")
    return 0


cdef inline int check_doubles(str name, const double* p, Py_ssize_t n, double lo,
                              double hi) except -1:
    """Every p[i] in [lo, hi] (NaN rejected); O(n), once per call."""
    cdef Py_ssize_t i
    for i in range(n):
        if not (lo <= p[i] <= hi):
            raise ValueError(f"{name}: element {i} = {p[i]} is out of range: "
                             f"must be in [{lo}, {hi}]")
    return 0


cdef inline int check_i64(str name, const int64_t* p, Py_ssize_t n, int64_t lo,
                          int64_t hi) except -1:
    cdef Py_ssize_t i
    for i in range(n):
        if p[i] < lo or p[i] > hi:
            raise ValueError(f"{name}: element {i} = {p[i]} is out of range: "
                             f"must be in [{lo}, {hi}]")
    return 0


cdef inline int check_i32(str name, const int32_t* p, Py_ssize_t n, int64_t lo,
                          int64_t hi) except -1:
    cdef Py_ssize_t i
    for i in range(n):
        if p[i] < lo or p[i] > hi:
            raise ValueError(f"{name}: element {i} = {p[i]} is out of range: "
                             f"must be in [{lo}, {hi}]")
    return 0


cdef inline int check_nondecreasing(str name, const int64_t* p, Py_ssize_t n) except -1:
    cdef Py_ssize_t i
    for i in range(1, n):
        if p[i] < p[i - 1]:
            raise ValueError(f"{name} must be non-decreasing: element {i} = {p[i]} "
                             f"< element {i - 1} = {p[i - 1]}")
    return 0


cdef inline int check_csr(const int32_t[::1] row_ptr, const int32_t[::1] cols,
                          Py_ssize_t n) except -1:
    """Check-major CSR of a parity-check matrix with ``n`` variables:
    row_ptr[0] = 0, non-decreasing, row_ptr[-1] = len(cols), every column in
    [0, n).  O(m + E), once per call."""
    cdef Py_ssize_t m = row_ptr.shape[0] - 1, E = cols.shape[0], c, j
    if m < 0:
        raise ValueError("row_ptr must have at least one entry (row_ptr[0] = 0)")
    if row_ptr[0] != 0:
        raise ValueError(f"row_ptr[0] = {row_ptr[0]} must be 0")
    for c in range(m):
        if row_ptr[c + 1] < row_ptr[c]:
            raise ValueError(f"row_ptr must be non-decreasing: row_ptr[{c + 1}] = "
                             f"{row_ptr[c + 1]} < row_ptr[{c}] = {row_ptr[c]}")
    if row_ptr[m] != E:
        raise ValueError(f"row_ptr[-1] = {row_ptr[m]} must equal len(cols) = {E}")
    for j in range(E):
        if cols[j] < 0 or cols[j] >= n:
            raise ValueError(f"cols[{j}] = {cols[j]}: column index out of range, must be in "
                             f"[0, {n - 1}]")
    return 0
