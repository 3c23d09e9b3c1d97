# Bell-diagonal two-qubit states as Pauli-frame weights c[4] over (I, X, Z, Y)
# = (Phi+, Psi+, Phi-, Psi-), shared by the repeater-chain and routing kernels.


cdef inline void swap_states(const double* a, const double* b, double* out) noexcept nogil:
    # Entanglement swapping: Pauli frames compose by XOR of their (x, z)
    # labels, I=0, X=1, Z=2, Y=3.
    cdef int c, k
    cdef double acc
    for c in range(4):
        acc = 0.0
        for k in range(4):
            acc += a[k] * b[k ^ c]
        out[c] = acc


cdef inline void dephase(double* c, double lam) noexcept nogil:
    # Dephasing that keeps a fraction lam of the coherence: the (I, Z) and
    # (X, Y) weights mix towards each other.
    cdef double keep = 0.5 * (1.0 + lam), mix = 0.5 * (1.0 - lam)
    cdef double c0 = c[0], c1 = c[1]
    c[0] = keep * c0 + mix * c[2]
    c[2] = keep * c[2] + mix * c0
    c[1] = keep * c1 + mix * c[3]
    c[3] = keep * c[3] + mix * c1
