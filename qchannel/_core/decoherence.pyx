# Decoherence kernels: polarisation drift in fibre and single-qubit noise
# channels on batches of two-qubit density matrices.
#
# * ``drift_walk``: random walk of the polarisation rotation angle phi (the
#   physical rotation of linear polarisation; on the Bloch/Poincare sphere a
#   rotation by 2 phi).  One step per time bin: phi += sigma_step * N(0, 1),
#   sigma_step^2 = dt / tau_drift, so <phi(t)^2> = t / tau_drift (tau_drift is
#   the time for the rms angle to reach 1 rad).  With a compensation interval
#   the angle is reset to 0 at the first bin of every interval (an ideal
#   feedback that nulls the drift; Xavier et al., New J. Phys. 11, 045015
#   (2009) describe such active polarisation control in fibre QKD).
#   Gaussian deviates: Box-Muller on one Philox stream (seed, purpose, block).
# * ``depolarize``, ``dephase``, ``memory_decay``: Kraus channels on qubit 0 or 1
#   of each 4x4 density matrix of a batch (basis |q0 q1>, q0 the high bit),
#   with one parameter per batch element:
#     depolarising  rho -> (1 - p) rho + p I/2 (x) Tr_q rho
#                   Kraus sqrt(1 - 3p/4) I, sqrt(p/4) X, Y, Z;
#     dephasing     rho -> (1 - p) rho + p Z rho Z;
#     memory (T1, T2 for a storage time t): amplitude damping
#                   gamma = 1 - exp(-t/T1) followed by pure dephasing so that
#                   the coherence decays as exp(-t/T2) in total (T2 <= 2 T1):
#                   p_phi = (1 - exp(-t/T2 + t/(2 T1))) / 2.
#   (Nielsen & Chuang, Sec. 8.3.)  Every entry point checks its arguments
#   (ValueError naming them) before touching memory.
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint32_t, uint64_t, int64_t
from libc.math cimport log, sqrt, cos, sin, exp, M_PI

from libc.math cimport INFINITY
from libc.float cimport DBL_MAX, DBL_MIN

from qchannel._core.philox cimport PhiloxStream, stream_init, next_double
from qchannel._core.checks cimport int_arg, real_arg, check_len, check_doubles


cdef inline double gaussian(PhiloxStream* s) noexcept nogil:
    # Box-Muller; one of the pair is discarded so every step uses two doubles
    # (keeps the stream position a function of the step index only).
    cdef double u1 = next_double(s)
    cdef double u2 = next_double(s)
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2)


def drift_walk(seed, purpose, block, n_bins, step_sigma, reset_every):
    """Polarisation rotation angle (rad) in each of ``n_bins`` time bins.

    phi[0] = 0; phi[k] = 0 when ``reset_every > 0`` and k % reset_every == 0,
    else phi[k - 1] + step_sigma * N(0, 1) (``reset_every`` = 0: no reset).
    Step k always draws from the same stream position, so the series does not
    depend on how it is used."""
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef uint32_t purpose_ = int_arg("purpose", purpose, 0, 2**32 - 1)
    cdef uint32_t block_ = int_arg("block", block, 0, 2**32 - 1)
    cdef int64_t n = int_arg("n_bins", n_bins, 0, 2**63 - 1)
    cdef double sigma = real_arg("step_sigma", step_sigma, 0.0, DBL_MAX)
    cdef int64_t reset = int_arg("reset_every", reset_every, 0, 2**63 - 1)
    out_np = np.zeros(n, dtype=np.float64)
    cdef double[::1] out = out_np
    cdef PhiloxStream s
    cdef int64_t k
    cdef double phi = 0.0, g
    stream_init(&s, seed_, purpose_, block_)
    with nogil:
        for k in range(n):
            g = gaussian(&s)
            if k == 0 or (reset > 0 and k % reset == 0):
                phi = 0.0
            else:
                phi += sigma * g
            out[k] = phi
    return out_np


ctypedef double complex cplx


cdef inline void apply_left_right(const cplx* rho, cplx* acc, const cplx* K, int qubit,
                                  double weight) noexcept nogil:
    # acc += weight * (K on qubit) rho (K on qubit)^dagger, rho 4x4 row-major.
    cdef cplx tmp[16]
    cdef int i, j, bi, bj, ri, rj, m, sh = 1 - qubit
    cdef cplx v
    # tmp = (K (x) I or I (x) K) rho
    for i in range(4):
        bi = (i >> sh) & 1
        for j in range(4):
            v = 0.0
            for m in range(2):
                ri = (i & ~(1 << sh)) | (m << sh)
                v = v + K[bi * 2 + m] * rho[ri * 4 + j]
            tmp[i * 4 + j] = v
    # acc += tmp K^dagger
    for i in range(4):
        for j in range(4):
            bj = (j >> sh) & 1
            v = 0.0
            for m in range(2):
                rj = (j & ~(1 << sh)) | (m << sh)
                v = v + tmp[i * 4 + rj] * K[bj * 2 + m].conjugate()
            acc[i * 4 + j] = acc[i * 4 + j] + weight * v


cdef void pauli_channel(cplx* rho, const double* w, int qubit) noexcept nogil:
    # rho -> sum_k w[k] P_k rho P_k, k over (I, X, Y, Z).
    cdef cplx acc[16]
    cdef cplx P[16]
    cdef int k, i
    for i in range(16):
        acc[i] = 0.0
        P[i] = 0.0
    P[0] = 1.0
    P[3] = 1.0          # I
    P[5] = 1.0
    P[6] = 1.0          # X
    P[9] = -1j
    P[10] = 1j          # Y
    P[12] = 1.0
    P[15] = -1.0        # Z
    for k in range(4):
        if w[k] != 0.0:
            apply_left_right(rho, acc, &P[4 * k], qubit, w[k])
    for i in range(16):
        rho[i] = acc[i]


cdef int _check_batch(const cplx[:, :, ::1] rho, const double[::1] v, str name) except -1:
    # rho: (N, 4, 4); v: one parameter per matrix
    if rho.shape[1] != 4 or rho.shape[2] != 4:
        raise ValueError(f"rho has shape ({rho.shape[0]}, {rho.shape[1]}, {rho.shape[2]}): "
                         "must be (N, 4, 4)")
    check_len(name, v.shape[0], rho.shape[0])
    return 0


def depolarize(cplx[:, :, ::1] rho not None, const double[::1] p not None, qubit):
    """In place: depolarising channel of probability p[n] on ``qubit`` of rho[n]."""
    cdef int q = int_arg("qubit", qubit, 0, 1)
    _check_batch(rho, p, "p")
    check_doubles("p", &p[0], p.shape[0], 0.0, 1.0)
    cdef Py_ssize_t n
    cdef double w[4]
    with nogil:
        for n in range(rho.shape[0]):
            w[0] = 1.0 - 0.75 * p[n]
            w[1] = 0.25 * p[n]
            w[2] = 0.25 * p[n]
            w[3] = 0.25 * p[n]
            pauli_channel(&rho[n, 0, 0], w, q)
    return np.asarray(rho)


def dephase(cplx[:, :, ::1] rho not None, const double[::1] p not None, qubit):
    """In place: phase flip Z with probability p[n] on ``qubit`` of rho[n]."""
    cdef int q = int_arg("qubit", qubit, 0, 1)
    _check_batch(rho, p, "p")
    check_doubles("p", &p[0], p.shape[0], 0.0, 1.0)
    cdef Py_ssize_t n
    cdef double w[4]
    with nogil:
        for n in range(rho.shape[0]):
            w[0] = 1.0 - p[n]
            w[1] = 0.0
            w[2] = 0.0
            w[3] = p[n]
            pauli_channel(&rho[n, 0, 0], w, q)
    return np.asarray(rho)


def memory_decay(cplx[:, :, ::1] rho not None, const double[::1] t not None, t1, t2, qubit):
    """In place: T1/T2 decay of ``qubit`` stored for t[n] seconds (t1, t2 > 0,
    t2 <= 2 t1; t1 = inf allowed for pure dephasing).  |0> is the ground state."""
    cdef int q = int_arg("qubit", qubit, 0, 1)
    cdef double t1_ = real_arg("t1", t1, DBL_MIN, INFINITY)
    cdef double t2_ = real_arg("t2", t2, DBL_MIN, INFINITY)
    if t2_ > 2.0 * t1_ * (1 + 1e-12):
        raise ValueError(f"t2 = {t2_} must not exceed 2 t1 = {2.0 * t1_}")
    _check_batch(rho, t, "t")
    check_doubles("t", &t[0], t.shape[0], 0.0, DBL_MAX)
    cdef Py_ssize_t n
    cdef int i
    cdef double gamma, pphi
    cdef cplx K0[4]
    cdef cplx K1[4]
    cdef cplx acc[16]
    cdef double w[4]
    with nogil:
        for n in range(rho.shape[0]):
            gamma = 1.0 - exp(-t[n] / t1_)
            # amplitude damping: K0 = diag(1, sqrt(1-gamma)), K1 = sqrt(gamma)|0><1|
            K0[0] = 1.0
            K0[1] = 0.0
            K0[2] = 0.0
            K0[3] = sqrt(1.0 - gamma)
            K1[0] = 0.0
            K1[1] = sqrt(gamma)
            K1[2] = 0.0
            K1[3] = 0.0
            for i in range(16):
                acc[i] = 0.0
            apply_left_right(&rho[n, 0, 0], acc, K0, q, 1.0)
            apply_left_right(&rho[n, 0, 0], acc, K1, q, 1.0)
            for i in range(16):
                rho[n, i >> 2, i & 3] = acc[i]
            pphi = 0.5 * (1.0 - exp(-t[n] / t2_ + 0.5 * t[n] / t1_))
            if pphi > 0.0:
                w[0] = 1.0 - pphi
                w[1] = 0.0
                w[2] = 0.0
                w[3] = pphi
                pauli_channel(&rho[n, 0, 0], w, q)
    return np.asarray(rho)
