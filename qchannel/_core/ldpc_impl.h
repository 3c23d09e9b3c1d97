/* Hot loops of the LDPC syndrome decoder (included by ldpc.pyx).
 *
 * Layered (check-serial) sum-product belief propagation in the "phi" domain:
 * for a check with incoming extrinsic LLRs t_j the outgoing message is
 *     r_j = (-1)^(syn + sum_{i != j} [t_i < 0]) * phi(sum_{i != j} phi(|t_i|)),
 * phi(x) = -log tanh(x / 2) = phi^-1(x).  phi is tabulated on a logarithmic
 * grid indexed directly by the IEEE-754 bits of x (exponent and the top
 * LDPC_PHI_MBITS mantissa bits: relative bin width 2^-LDPC_PHI_MBITS), over
 * [2^LDPC_PHI_EMIN, 2^LDPC_PHI_EMAX); inputs below are clamped to the first
 * bin (|message| <= phi(2^EMIN) ~ 11.8), inputs above to the last (~0).
 *
 * Conventions as in ldpc.pyx: CSR by checks, R indexed like cols, LLR > 0
 * means bit 0, check c demands XOR of its bits == syn[c].
 */
#ifndef QC_LDPC_IMPL_H
#define QC_LDPC_IMPL_H

#include <stdint.h>
#include <string.h>
#include <math.h>

#define LDPC_PHI_MBITS 6
#define LDPC_PHI_EMIN (-16)
#define LDPC_PHI_EMAX 6
#define LDPC_PHI_SIZE (((LDPC_PHI_EMAX) - (LDPC_PHI_EMIN)) << LDPC_PHI_MBITS)
#define LDPC_PHI_SHIFT (23 - LDPC_PHI_MBITS)
#define LDPC_PHI_BASE ((127 + (LDPC_PHI_EMIN)) << LDPC_PHI_MBITS)

static float qc_ldpc_phi_tab[LDPC_PHI_SIZE];
static int qc_ldpc_phi_ready = 0;

static void qc_ldpc_phi_init(void) {
    int i;
    if (qc_ldpc_phi_ready) return;
    for (i = 0; i < LDPC_PHI_SIZE; i++) {
        /* bin i covers [lo, hi) with lo = 2^(EMIN + e) (1 + k 2^-MBITS); use
         * the geometric centre of the bin. */
        int e = i >> LDPC_PHI_MBITS, k = i & ((1 << LDPC_PHI_MBITS) - 1);
        double lo = ldexp(1.0 + (double)k / (1 << LDPC_PHI_MBITS), LDPC_PHI_EMIN + e);
        double hi = ldexp(1.0 + (double)(k + 1) / (1 << LDPC_PHI_MBITS), LDPC_PHI_EMIN + e);
        double x = sqrt(lo * hi);
        double v = -log(tanh(0.5 * x));
        qc_ldpc_phi_tab[i] = (float)v;
    }
    qc_ldpc_phi_ready = 1;
}

static inline int32_t qc_ldpc_phi_index(float x) {
    uint32_t u;
    int32_t i;
    memcpy(&u, &x, sizeof u);
    i = (int32_t)(u >> LDPC_PHI_SHIFT) - LDPC_PHI_BASE;   /* x >= 0 assumed */
    i = i < 0 ? 0 : i;
    i = i > LDPC_PHI_SIZE - 1 ? LDPC_PHI_SIZE - 1 : i;
    return i;
}

static inline float qc_ldpc_phi(float x) {
    return qc_ldpc_phi_tab[qc_ldpc_phi_index(x)];
}

/* Full check: every check satisfied by the hard decisions L < 0? */
static int qc_ldpc_satisfied(const int32_t *rp, const int32_t *cols, const uint8_t *syn,
                             const float *L, int64_t m) {
    int64_t c, j;
    for (c = 0; c < m; c++) {
        uint32_t p = syn[c];
        for (j = rp[c]; j < rp[c + 1]; j++) {
            p ^= (uint32_t)(L[cols[j]] < 0.0f);
        }
        if (p & 1) return 0;
    }
    return 1;
}

/* Layered sum-product; T and P are scratch of length >= max check degree.
 * Returns the iterations used (>= 0) when every check is satisfied by the
 * hard decisions, else -max_iter.  A full syndrome check runs only after an
 * iteration in which every check was satisfied right after its own update. */
static int qc_ldpc_decode_spa(const int32_t *rp, const int32_t *cols, const uint8_t *syn,
                              int64_t m, float *R, float *L, float *T, float *P,
                              int max_iter) {
    int it;
    int64_t c, j, a, b;
    if (qc_ldpc_satisfied(rp, cols, syn, L, m)) return 0;
    for (it = 0; it < max_iter; it++) {
        int64_t unsat = 0;
        for (c = 0; c < m; c++) {
            float S = 0.0f;
            uint32_t par = syn[c], post = syn[c];
            a = rp[c];
            b = rp[c + 1];
            for (j = a; j < b; j++) {
                float t = L[cols[j]] - R[j];
                uint32_t u;
                float ph;
                memcpy(&u, &t, sizeof u);
                par ^= u >> 31;
                ph = qc_ldpc_phi(fabsf(t));
                T[j - a] = t;
                P[j - a] = ph;
                S += ph;
            }
            for (j = a; j < b; j++) {
                float t = T[j - a], d = S - P[j - a], r, l;
                uint32_t u, s, ru;
                d = d > 0.0f ? d : 0.0f;
                r = qc_ldpc_phi(d);
                memcpy(&u, &t, sizeof u);
                s = ((par ^ (u >> 31)) & 1u) << 31;
                memcpy(&ru, &r, sizeof ru);
                ru |= s;
                memcpy(&r, &ru, sizeof r);
                R[j] = r;
                l = t + r;
                L[cols[j]] = l;
                post ^= (uint32_t)(l < 0.0f);
            }
            unsat += post & 1;
        }
        if (unsat == 0 && qc_ldpc_satisfied(rp, cols, syn, L, m)) return it + 1;
    }
    return -max_iter;
}

#endif
