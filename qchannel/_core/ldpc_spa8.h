/* Batched layered sum-product on 8 frame lanes (float; included by ldpc.pyx
 * after ldpc_impl.h).
 *
 * Why: frames the 8-bit SCMS decoder cannot decode are rescued by sum-product
 * on the same syndrome (no extra leakage); at QBER 2 % about one frame in
 * three is, and the one-frame-at-a-time float decoder (qc_ldpc_decode_spa)
 * then took three quarters of the reconciliation time.  Here lane l of every
 * 8-float vector is frame l: the posteriors of a variable for all lanes are
 * one 32-byte load, the two phi lookups per edge are AVX2 gathers.
 *
 * Every lane performs exactly the float operations of qc_ldpc_decode_spa in
 * the same order (no reassociation, no FMA: there is no product), so a lane's
 * messages, posteriors and iteration count are bit-identical to the scalar
 * decoder's on that frame alone -- whichever frames share the batch, and with
 * the AVX2 or the portable kernel.
 *
 * Layout: L[v * 8 + l] posterior of variable v in lane l, R[e * 8 + l] the
 * check-to-variable message on edge e, syn[c] bit l = syndrome bit of check
 * c in lane l; T and P scratch of 8 dmax floats each.
 */
#ifndef QC_LDPC_SPA8_H
#define QC_LDPC_SPA8_H

#include <stdint.h>
#include <string.h>
#include "ldpc_impl.h"

#define QC_SPA_W 8
#define QC_SPA_PF 64     /* prefetch distance in edges */

/* Lanes (mask) whose hard decisions L < 0 satisfy every check. */
static uint32_t qc_spa8_satisfied(const int32_t *rp, const int32_t *cols, const uint8_t *syn,
                                  const float *L, int64_t m) {
    const int W = QC_SPA_W;
    uint32_t bad = 0;
    int64_t c, j;
    int l;
    for (c = 0; c < m; c++) {
        uint32_t p = syn[c];
        for (j = rp[c]; j < rp[c + 1]; j++) {
            const float *Lv = L + (int64_t)cols[j] * W;
            for (l = 0; l < W; l++) p ^= (uint32_t)(Lv[l] < 0.0f) << l;
        }
        bad |= p;
        if (bad == 0xFFu) break;
    }
    return ~bad & 0xFFu;
}

/* One layered iteration, portable kernel; returns the lanes with a check
 * left unsatisfied right after its own update. */
static uint32_t qc_spa8_iter_scalar(int64_t m, const int32_t *rp, const int32_t *cols,
                                    const uint8_t *syn, float *R, float *L, float *T,
                                    float *P) {
    const int W = QC_SPA_W;
    uint32_t unsat = 0;
    int64_t c, j, a, d;
    int l;
    for (c = 0; c < m; c++) {
        float S[QC_SPA_W];
        uint32_t par[QC_SPA_W], post = syn[c];
        a = rp[c];
        d = rp[c + 1] - a;
        for (l = 0; l < W; l++) { S[l] = 0.0f; par[l] = (syn[c] >> l) & 1u; }
        for (j = 0; j < d; j++) {
            const float *Lv = L + (int64_t)cols[a + j] * W;
            const float *Rj = R + (a + j) * W;
            for (l = 0; l < W; l++) {
                float t = Lv[l] - Rj[l], ph;
                uint32_t u;
                memcpy(&u, &t, sizeof u);
                par[l] ^= u >> 31;
                ph = qc_ldpc_phi(fabsf(t));
                T[j * W + l] = t;
                P[j * W + l] = ph;
                S[l] += ph;
            }
        }
        for (j = 0; j < d; j++) {
            float *Lv = L + (int64_t)cols[a + j] * W;
            float *Rj = R + (a + j) * W;
            for (l = 0; l < W; l++) {
                float t = T[j * W + l], dd = S[l] - P[j * W + l], r, lo;
                uint32_t u, s, ru;
                dd = dd > 0.0f ? dd : 0.0f;
                r = qc_ldpc_phi(dd);
                memcpy(&u, &t, sizeof u);
                s = ((par[l] ^ (u >> 31)) & 1u) << 31;
                memcpy(&ru, &r, sizeof ru);
                ru |= s;
                memcpy(&r, &ru, sizeof r);
                Rj[l] = r;
                lo = t + r;
                Lv[l] = lo;
                post ^= (uint32_t)(lo < 0.0f) << l;
            }
        }
        unsat |= post;
    }
    return unsat;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QC_SPA8_HAVE_AVX2 1
#define QC_SPA8_AVX2 __attribute__((target("avx2")))

QC_SPA8_AVX2 static inline __m256 qc_spa8_phi(__m256 x) {
    /* qc_ldpc_phi_index on 8 lanes (x >= 0, logical shift as in the scalar) */
    __m256i i = _mm256_sub_epi32(_mm256_srli_epi32(_mm256_castps_si256(x), LDPC_PHI_SHIFT),
                                 _mm256_set1_epi32(LDPC_PHI_BASE));
    i = _mm256_max_epi32(i, _mm256_setzero_si256());
    i = _mm256_min_epi32(i, _mm256_set1_epi32(LDPC_PHI_SIZE - 1));
    return _mm256_i32gather_ps(qc_ldpc_phi_tab, i, 4);
}

QC_SPA8_AVX2 static uint32_t qc_spa8_iter_avx2(int64_t m, const int32_t *rp, const int32_t *cols,
                                               const uint8_t *syn, float *R, float *L,
                                               float *T, float *P) {
    const int W = QC_SPA_W;
    const __m256i lanebit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    const __m256 zero = _mm256_setzero_ps();
    uint32_t unsat = 0;
    int64_t c, j, a, d, n_edges = rp[m];
    for (c = 0; c < m; c++) {
        __m256 S = zero;
        __m256i par = _mm256_and_si256(
            _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(syn[c]), lanebit), lanebit),
            sign);
        uint32_t post = syn[c];
        a = rp[c];
        d = rp[c + 1] - a;
        for (j = 0; j < d; j++) {
            int64_t e = a + j;
            __m256 t = _mm256_sub_ps(_mm256_loadu_ps(L + (int64_t)cols[e] * W),
                                     _mm256_loadu_ps(R + e * W));
            __m256 ph = qc_spa8_phi(_mm256_andnot_ps(_mm256_castsi256_ps(sign), t));
            /* the graph is random: fetch the posteriors of later edges early */
            if (e + QC_SPA_PF < n_edges)
                _mm_prefetch((const char *)(L + (int64_t)cols[e + QC_SPA_PF] * W), _MM_HINT_T0);
            par = _mm256_xor_si256(par, _mm256_castps_si256(t));
            _mm256_storeu_ps(T + j * W, t);
            _mm256_storeu_ps(P + j * W, ph);
            S = _mm256_add_ps(S, ph);
        }
        par = _mm256_and_si256(par, sign);
        for (j = 0; j < d; j++) {
            int64_t e = a + j;
            float *Lv = L + (int64_t)cols[e] * W;
            __m256 t = _mm256_loadu_ps(T + j * W);
            /* max(dd, +0): +0 for dd <= 0 (also -0), as dd > 0 ? dd : 0 */
            __m256 dd = _mm256_max_ps(_mm256_sub_ps(S, _mm256_loadu_ps(P + j * W)), zero);
            __m256i s = _mm256_and_si256(_mm256_xor_si256(par, _mm256_castps_si256(t)), sign);
            __m256 r = _mm256_or_ps(qc_spa8_phi(dd), _mm256_castsi256_ps(s));
            __m256 lo = _mm256_add_ps(t, r);
            _mm256_storeu_ps(R + e * W, r);
            _mm256_storeu_ps(Lv, lo);
            post ^= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(lo, zero, _CMP_LT_OQ));
        }
        unsat |= post;
    }
    return unsat;
}

static int qc_spa8_avx2_ok(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
#else
#define QC_SPA8_HAVE_AVX2 0
static int qc_spa8_avx2_ok(void) { return 0; }
#endif

/* Iterate the lanes in `active` until some lane finishes: its hard decisions
 * satisfy every check (bit set in the returned mask) or it has run
 * budget[l] iterations (iters[l] == budget[l], bit clear).  Success is tested
 * as in qc_ldpc_decode_spa: before the first iteration of a fresh lane
 * (iters[l] == 0), then after every iteration in which each of the lane's
 * checks was satisfied right after its own update, by a full check.  Lanes
 * never interact: the caller refills finished lanes between calls. */
static uint32_t qc_spa8_run(int64_t m, const int32_t *rp, const int32_t *cols,
                            const uint8_t *syn, float *R, float *L, float *T, float *P,
                            uint32_t active, const int32_t *budget, int32_t *iters,
                            int simd) {
    const int W = QC_SPA_W;
    uint32_t done = 0, fresh = 0, cand, unsat;
    int l, out;
    active &= 0xFFu;
    if (!active) return 0;
    for (l = 0; l < W; l++)
        if (((active >> l) & 1u) && iters[l] == 0) fresh |= 1u << l;
    if (fresh) done = qc_spa8_satisfied(rp, cols, syn, L, m) & fresh;
    if (done) return done;
    for (;;) {
        out = 0;
        for (l = 0; l < W; l++)
            if (((active >> l) & 1u) && iters[l] >= budget[l]) out = 1;
        if (out) return 0;
#if QC_SPA8_HAVE_AVX2
        if (simd)
            unsat = qc_spa8_iter_avx2(m, rp, cols, syn, R, L, T, P);
        else
#endif
            unsat = qc_spa8_iter_scalar(m, rp, cols, syn, R, L, T, P);
        for (l = 0; l < W; l++)
            if ((active >> l) & 1u) iters[l]++;
        cand = active & ~unsat;
        if (cand) done = qc_spa8_satisfied(rp, cols, syn, L, m) & cand;
        if (done) return done;
    }
}

#endif
