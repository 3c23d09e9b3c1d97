/* Batched layered self-corrected min-sum (SCMS) syndrome decoder in 8-bit
 * fixed point, 32 frames at once (included by ldpc.pyx).
 *
 * Why this decoder: sum-product needs two transcendental lookups and a float
 * message per edge; min-sum needs neither, but plain (normalised) min-sum does
 * not converge on the family's codes (variable degrees up to 40, check degrees
 * 20-110).  Self-correction (Savin 2008) erases a variable-to-check message
 * whose sign flipped since the previous iteration, which brings min-sum to
 * within a few per cent of sum-product efficiency on these codes while keeping
 * its cost: per edge a handful of byte-vector instructions, 32 frames per
 * 256-bit register, and only two bits of state per edge and frame.
 *
 * Layout: lane l of every vector is frame l of the batch (QC_SCMS_W lanes).
 *   L[v][l]      posterior LLR of variable v (int8, saturating), > 0 = bit 0;
 *   qsign[e], qnz[e]  bit l: sign / non-zero of the variable-to-check message
 *                     Q on edge e after its last update (R sign = par ^ qsign);
 *   m1s/m2s[c][l] scaled output magnitudes of check c, idx[c][l] the position
 *                 (within the check) of its smallest input;
 *   par[c]       bit l: syndrome bit XOR the signs of all Q of check c;
 *   syn[c]       bit l: Alice's syndrome bit of check c in frame l.
 * Check-to-variable message on edge j of check c: R = (-1)^(bit l of
 * par[c] ^ qsign[e]) * (idx == j ? m2s : m1s).  Scaling of the two minima:
 * s(x) = min(C, max(0, ((x * A + 8) >> 4) - B)), i.e. normalisation A/16,
 * offset B quanta and messages clipped at C (below the posterior's 127, so
 * that a saturated posterior still yields a strong extrinsic L - R).
 *
 * The AVX-512 (BW/VL, on 256-bit vectors), AVX2, SSE4.1 and portable scalar
 * kernels compute the same integer arithmetic lane by lane, so results are
 * bit-identical on every machine and independent of which frames share a
 * batch; the best one this CPU runs is picked at run time (no -march flag).
 */
#ifndef QC_LDPC_SCMS_H
#define QC_LDPC_SCMS_H

#include <stdint.h>
#include <string.h>

#define QC_SCMS_W 32
#define QC_SCMS_PF 48     /* prefetch distance in edges */

static inline int8_t qc_sat8(int v) {
    return (int8_t)(v > 127 ? 127 : (v < -128 ? -128 : v));
}

static inline uint8_t qc_scms_scale(unsigned x, int A, int B, int C) {
    int y = (int)((x * (unsigned)A + 8u) >> 4) - B;
    y = y < 0 ? 0 : y;
    return (uint8_t)(y > C ? C : y);
}

/* ------------------------------------------------------------ scalar kernel */

static void qc_scms_check_scalar(int64_t c, const int32_t *rp, const int32_t *cols,
                                 const uint32_t *syn, int8_t *L, uint32_t *qsign,
                                 uint32_t *qnz, uint8_t *m1s, uint8_t *m2s, uint8_t *idx,
                                 uint32_t *par, int8_t *T, uint32_t *S, int A, int B,
                                 int C, uint32_t fresh, uint32_t *unsat, uint32_t *flips) {
    const int W = QC_SCMS_W;
    int64_t a = rp[c], d = rp[c + 1] - a, j;
    uint8_t *M1 = m1s + c * W, *M2 = m2s + c * W, *ID = idx + c * W;
    uint8_t mn1[QC_SCMS_W], mn2[QC_SCMS_W], id[QC_SCMS_W];
    uint32_t parold = par[c], parnew = syn[c], post = syn[c];
    int l;
    for (l = 0; l < W; l++) { mn1[l] = 255; mn2[l] = 255; id[l] = 0; }
    for (j = 0; j < d; j++) {
        int64_t e = a + j;
        const int8_t *Lv = L + (int64_t)cols[e] * W;
        int8_t *t = T + j * W;
        uint32_t rneg = parold ^ qsign[e], tsign = 0, tz = 0, lsign = 0, er, qs;
        for (l = 0; l < W; l++) {
            int mag = (fresh >> l) & 1u ? 0 : (ID[l] == (uint8_t)j ? M2[l] : M1[l]);
            int r = (rneg >> l) & 1u ? -mag : mag;
            lsign |= (uint32_t)(Lv[l] < 0) << l;
            t[l] = qc_sat8(Lv[l] - r);
            tsign |= (uint32_t)(t[l] < 0) << l;
            tz |= (uint32_t)(t[l] == 0) << l;
        }
        S[j] = lsign;
        er = qnz[e] & ~fresh & (tsign ^ qsign[e]);      /* sign flipped: erase */
        qs = tsign & ~er;
        qsign[e] = qs;
        qnz[e] = ~tz & ~er;
        parnew ^= qs;
        for (l = 0; l < W; l++) {
            int tt = (er >> l) & 1u ? 0 : t[l];
            uint8_t ab = (uint8_t)(tt < 0 ? -tt : tt);
            if (ab < mn1[l]) { mn2[l] = mn1[l]; mn1[l] = ab; id[l] = (uint8_t)j; }
            else if (ab < mn2[l]) mn2[l] = ab;
        }
    }
    for (l = 0; l < W; l++) {
        M1[l] = qc_scms_scale(mn1[l], A, B, C);
        M2[l] = qc_scms_scale(mn2[l], A, B, C);
        ID[l] = id[l];
    }
    par[c] = parnew;
    for (j = 0; j < d; j++) {
        int64_t e = a + j;
        int8_t *Lv = L + (int64_t)cols[a + j] * W;
        const int8_t *t = T + j * W;
        uint32_t rneg = parnew ^ qsign[e], lsign = 0;
        for (l = 0; l < W; l++) {
            int mag = ID[l] == (uint8_t)j ? M2[l] : M1[l];
            int r = (rneg >> l) & 1u ? -mag : mag;
            Lv[l] = qc_sat8(t[l] + r);
            lsign |= (uint32_t)(Lv[l] < 0) << l;
        }
        post ^= lsign;
        *flips |= lsign ^ S[j];
    }
    *unsat |= post;
}

/* -------------------------------------------------------------- AVX2 kernel */

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QC_SCMS_HAVE_AVX2 1

#define QC_AVX2 __attribute__((target("avx2")))

/* 32-bit lane mask -> byte mask (0xFF where the bit is set). */
QC_AVX2 static inline __m256i qc_scms_expand(uint32_t mask, __m256i shuf, __m256i bits) {
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)mask), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bits), bits);
}

QC_AVX2 static inline __m256i qc_scms_scale_avx2(__m256i x, __m256i A, __m256i B,
                                                  __m256i eight, __m256i C) {
    __m256i lo = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(x));
    __m256i hi = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(x, 1));
    lo = _mm256_subs_epu16(_mm256_srli_epi16(_mm256_add_epi16(_mm256_mullo_epi16(lo, A), eight), 4), B);
    hi = _mm256_subs_epu16(_mm256_srli_epi16(_mm256_add_epi16(_mm256_mullo_epi16(hi, A), eight), 4), B);
    x = _mm256_permute4x64_epi64(_mm256_packus_epi16(lo, hi), 0xD8);
    return _mm256_min_epu8(x, C);
}

/* A check's two smallest magnitudes scaled into its new messages (stored,
 * and returned in *M1, *M2 for the second pass), and the smallest's index. */
QC_AVX2 static inline void qc_scms_store_minima(__m256i mn1, __m256i mn2, __m256i id, int A,
                                                int B, int C, uint8_t *M1p, uint8_t *M2p,
                                                uint8_t *IDp, __m256i *M1, __m256i *M2) {
    const __m256i Av = _mm256_set1_epi16((short)A), Bv = _mm256_set1_epi16((short)B);
    const __m256i eight = _mm256_set1_epi16(8);
    const __m256i Cv = _mm256_set1_epi8((char)C);
    *M1 = qc_scms_scale_avx2(mn1, Av, Bv, eight, Cv);
    *M2 = qc_scms_scale_avx2(mn2, Av, Bv, eight, Cv);
    _mm256_storeu_si256((__m256i *)M1p, *M1);
    _mm256_storeu_si256((__m256i *)M2p, *M2);
    _mm256_storeu_si256((__m256i *)IDp, id);
}

QC_AVX2 static void qc_scms_check_avx2(int64_t c, int64_t m, const int32_t *rp, const int32_t *cols,
                                       const uint32_t *syn, int8_t *L, uint32_t *qsign,
                                       uint32_t *qnz, uint8_t *m1s, uint8_t *m2s,
                                       uint8_t *idx, uint32_t *par, int8_t *T, uint32_t *S,
                                       int A, int B, int C, uint32_t fresh, uint32_t *unsat,
                                       uint32_t *flips) {
    const int W = QC_SCMS_W;
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bits = _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32,
                                          64, -128, 1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4,
                                          8, 16, 32, 64, -128);
    const __m256i one = _mm256_set1_epi8(1), zero = _mm256_setzero_si256();
    int64_t a = rp[c], d = rp[c + 1] - a, j, n_edges = rp[m];
    uint8_t *M1p = m1s + c * W, *M2p = m2s + c * W, *IDp = idx + c * W;
    __m256i M1 = _mm256_loadu_si256((const __m256i *)M1p);
    __m256i M2 = _mm256_loadu_si256((const __m256i *)M2p);
    __m256i ID = _mm256_loadu_si256((const __m256i *)IDp);
    __m256i mn1 = _mm256_set1_epi8(-1), mn2 = mn1, id = zero, jj = zero;
    uint32_t parold = par[c], parnew = syn[c], post = syn[c];
    if (fresh) {    /* lanes starting afresh: no check messages yet */
        __m256i fz = qc_scms_expand(fresh, shuf, bits);
        M1 = _mm256_andnot_si256(fz, M1);
        M2 = _mm256_andnot_si256(fz, M2);
    }
    for (j = 0; j < d; j++) {
        int64_t e = a + j;
        __m256i *Lv = (__m256i *)(L + (int64_t)cols[e] * W);
        uint32_t qs_old = qsign[e], tsign, tz, er, qs;
        __m256i mag = _mm256_blendv_epi8(M1, M2, _mm256_cmpeq_epi8(ID, jj));
        __m256i s = qc_scms_expand(parold ^ qs_old, shuf, bits);
        __m256i r = _mm256_sub_epi8(_mm256_xor_si256(mag, s), s);
        __m256i lold = _mm256_loadu_si256(Lv);
        __m256i t = _mm256_subs_epi8(lold, r);
        __m256i tt, ab, ge;
        /* The graph is random: hide the cache misses on L by fetching the
         * posteriors of the edges QC_SCMS_PF ahead (mostly the next checks). */
        if (e + QC_SCMS_PF < n_edges)
            _mm_prefetch((const char *)(L + (int64_t)cols[e + QC_SCMS_PF] * W), _MM_HINT_T0);
        _mm256_storeu_si256((__m256i *)(T + j * W), t);
        S[j] = (uint32_t)_mm256_movemask_epi8(lold);
        tsign = (uint32_t)_mm256_movemask_epi8(t);
        tz = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(t, zero));
        er = qnz[e] & ~fresh & (tsign ^ qs_old);
        qs = tsign & ~er;
        qsign[e] = qs;
        qnz[e] = ~tz & ~er;
        parnew ^= qs;
        tt = _mm256_andnot_si256(qc_scms_expand(er, shuf, bits), t);
        ab = _mm256_abs_epi8(tt);                       /* -128 -> 128 unsigned */
        ge = _mm256_cmpeq_epi8(_mm256_max_epu8(ab, mn1), ab);   /* ab >= mn1 */
        mn2 = _mm256_blendv_epi8(mn1, _mm256_min_epu8(mn2, ab), ge);
        id = _mm256_blendv_epi8(jj, id, ge);
        mn1 = _mm256_min_epu8(mn1, ab);
        jj = _mm256_add_epi8(jj, one);
    }
    qc_scms_store_minima(mn1, mn2, id, A, B, C, M1p, M2p, IDp, &M1, &M2);
    par[c] = parnew;
    jj = zero;
    uint32_t fl = 0;
    for (j = 0; j < d; j++) {
        int64_t e = a + j;
        __m256i *Lv = (__m256i *)(L + (int64_t)cols[e] * W);
        __m256i mag = _mm256_blendv_epi8(M1, M2, _mm256_cmpeq_epi8(id, jj));
        __m256i s = qc_scms_expand(parnew ^ qsign[e], shuf, bits);
        __m256i r = _mm256_sub_epi8(_mm256_xor_si256(mag, s), s);
        __m256i ln = _mm256_adds_epi8(_mm256_loadu_si256((const __m256i *)(T + j * W)), r);
        uint32_t lsign = (uint32_t)_mm256_movemask_epi8(ln);
        _mm256_storeu_si256(Lv, ln);
        post ^= lsign;
        fl |= lsign ^ S[j];
        jj = _mm256_add_epi8(jj, one);
    }
    *unsat |= post;
    *flips |= fl;
}

/* ------------------------------------------------------------ AVX-512 kernel
 * The AVX2 kernel with AVX-512BW/VL mask registers on the same 256-bit
 * vectors (32 lanes, same state layout): a lane bit mask is one kmov instead
 * of a broadcast, shuffle, and and compare, and sign flips and erasures
 * become masked single instructions.  The same integer
 * operations lane by lane, so bit-identical to the other kernels. */

#define QC_AVX512 __attribute__((target("avx2,avx512f,avx512bw,avx512vl")))

QC_AVX512 static void qc_scms_check_avx512(int64_t c, int64_t m, const int32_t *rp,
                                           const int32_t *cols, const uint32_t *syn,
                                           int8_t *L, uint32_t *qsign, uint32_t *qnz,
                                           uint8_t *m1s, uint8_t *m2s, uint8_t *idx,
                                           uint32_t *par, int8_t *T, uint32_t *S, int A,
                                           int B, int C, uint32_t fresh, uint32_t *unsat,
                                           uint32_t *flips) {
    const int W = QC_SCMS_W;
    const __m256i one = _mm256_set1_epi8(1), zero = _mm256_setzero_si256();
    int64_t a = rp[c], d = rp[c + 1] - a, j, n_edges = rp[m];
    uint8_t *M1p = m1s + c * W, *M2p = m2s + c * W, *IDp = idx + c * W;
    __m256i M1 = _mm256_loadu_si256((const __m256i *)M1p);
    __m256i M2 = _mm256_loadu_si256((const __m256i *)M2p);
    __m256i ID = _mm256_loadu_si256((const __m256i *)IDp);
    __m256i mn1 = _mm256_set1_epi8(-1), mn2 = mn1, id = zero, jj = zero;
    uint32_t parold = par[c], parnew = syn[c], post = syn[c], fl = 0;
    M1 = _mm256_maskz_mov_epi8((__mmask32)~fresh, M1);   /* fresh lanes: no messages yet */
    M2 = _mm256_maskz_mov_epi8((__mmask32)~fresh, M2);
    for (j = 0; j < d; j++) {
        int64_t e = a + j;
        __m256i *Lv = (__m256i *)(L + (int64_t)cols[e] * W);
        uint32_t qs_old = qsign[e], tsign, tz, er, qs;
        __m256i mag = _mm256_mask_blend_epi8(_mm256_cmpeq_epi8_mask(ID, jj), M1, M2);
        __m256i r = _mm256_mask_sub_epi8(mag, (__mmask32)(parold ^ qs_old), zero, mag);
        __m256i lold = _mm256_loadu_si256(Lv);
        __m256i t = _mm256_subs_epi8(lold, r), ab;
        __mmask32 lt;
        if (e + QC_SCMS_PF < n_edges)
            _mm_prefetch((const char *)(L + (int64_t)cols[e + QC_SCMS_PF] * W), _MM_HINT_T0);
        _mm256_storeu_si256((__m256i *)(T + j * W), t);
        S[j] = (uint32_t)_mm256_movemask_epi8(lold);
        tsign = (uint32_t)_mm256_movemask_epi8(t);
        tz = (uint32_t)_mm256_testn_epi8_mask(t, t);
        er = qnz[e] & ~fresh & (tsign ^ qs_old);
        qs = tsign & ~er;
        qsign[e] = qs;
        qnz[e] = ~tz & ~er;
        parnew ^= qs;
        ab = _mm256_maskz_abs_epi8((__mmask32)~er, t);  /* -128 -> 128 unsigned */
        /* two smallest: mn1 <= mn2 always, so min(mn2, max(ab, mn1)) is mn1
         * when ab < mn1 and min(mn2, ab) otherwise (no masked merge copies) */
        lt = _mm256_cmplt_epu8_mask(ab, mn1);
        mn2 = _mm256_min_epu8(mn2, _mm256_max_epu8(ab, mn1));
        id = _mm256_mask_mov_epi8(id, lt, jj);
        mn1 = _mm256_min_epu8(mn1, ab);
        jj = _mm256_add_epi8(jj, one);
    }
    qc_scms_store_minima(mn1, mn2, id, A, B, C, M1p, M2p, IDp, &M1, &M2);
    par[c] = parnew;
    jj = zero;
    for (j = 0; j < d; j++) {
        int64_t e = a + j;
        __m256i *Lv = (__m256i *)(L + (int64_t)cols[e] * W);
        __m256i mag = _mm256_mask_blend_epi8(_mm256_cmpeq_epi8_mask(id, jj), M1, M2);
        __m256i r = _mm256_mask_sub_epi8(mag, (__mmask32)(parnew ^ qsign[e]), zero, mag);
        __m256i ln = _mm256_adds_epi8(_mm256_loadu_si256((const __m256i *)(T + j * W)), r);
        uint32_t lsign = (uint32_t)_mm256_movemask_epi8(ln);
        _mm256_storeu_si256(Lv, ln);
        post ^= lsign;
        fl |= lsign ^ S[j];
        jj = _mm256_add_epi8(jj, one);
    }
    *unsat |= post;
    *flips |= fl;
}

/* -------------------------------------------------------------- SSE4.1 kernel
 * The AVX2 kernel on two 128-bit halves (lanes 0-15 and 16-31), for x86-64
 * CPUs without AVX2 (SSSE3 shuffles and abs, SSE4.1 blends and widening):
 * the same integer operations lane by lane, so bit-identical to both others. */

#define QC_SSE41 __attribute__((target("sse4.1")))

QC_SSE41 static inline __m128i qc_scms_expand16(uint32_t mask, __m128i shuf, __m128i bits) {
    __m128i v = _mm_shuffle_epi8(_mm_set1_epi32((int)mask), shuf);
    return _mm_cmpeq_epi8(_mm_and_si128(v, bits), bits);
}

QC_SSE41 static inline __m128i qc_scms_scale_sse(__m128i x, __m128i A, __m128i B,
                                                 __m128i eight, __m128i C) {
    __m128i lo = _mm_cvtepu8_epi16(x);
    __m128i hi = _mm_cvtepu8_epi16(_mm_srli_si128(x, 8));
    lo = _mm_subs_epu16(_mm_srli_epi16(_mm_add_epi16(_mm_mullo_epi16(lo, A), eight), 4), B);
    hi = _mm_subs_epu16(_mm_srli_epi16(_mm_add_epi16(_mm_mullo_epi16(hi, A), eight), 4), B);
    return _mm_min_epu8(_mm_packus_epi16(lo, hi), C);
}

#define QC_MM(x) ((uint32_t)_mm_movemask_epi8(x))

QC_SSE41 static void qc_scms_check_sse(int64_t c, int64_t m, const int32_t *rp, const int32_t *cols,
                                       const uint32_t *syn, int8_t *L, uint32_t *qsign,
                                       uint32_t *qnz, uint8_t *m1s, uint8_t *m2s,
                                       uint8_t *idx, uint32_t *par, int8_t *T, uint32_t *S,
                                       int A, int B, int C, uint32_t fresh, uint32_t *unsat,
                                       uint32_t *flips) {
    const int W = QC_SCMS_W;
    const __m128i shuf0 = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m128i shuf1 = _mm_setr_epi8(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m128i bits = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32,
                                       64, -128);
    const __m128i one = _mm_set1_epi8(1), zero = _mm_setzero_si128();
    int64_t a = rp[c], d = rp[c + 1] - a, j, n_edges = rp[m];
    uint8_t *M1p = m1s + c * W, *M2p = m2s + c * W, *IDp = idx + c * W;
    __m128i M1a = _mm_loadu_si128((const __m128i *)M1p);
    __m128i M1b = _mm_loadu_si128((const __m128i *)(M1p + 16));
    __m128i M2a = _mm_loadu_si128((const __m128i *)M2p);
    __m128i M2b = _mm_loadu_si128((const __m128i *)(M2p + 16));
    __m128i IDa = _mm_loadu_si128((const __m128i *)IDp);
    __m128i IDb = _mm_loadu_si128((const __m128i *)(IDp + 16));
    __m128i mn1a = _mm_set1_epi8(-1), mn1b = mn1a, mn2a = mn1a, mn2b = mn1a;
    __m128i ida = zero, idb = zero, jj = zero;
    uint32_t parold = par[c], parnew = syn[c], post = syn[c], fl = 0;
    if (fresh) {    /* lanes starting afresh: no check messages yet */
        __m128i fa = qc_scms_expand16(fresh, shuf0, bits);
        __m128i fb = qc_scms_expand16(fresh, shuf1, bits);
        M1a = _mm_andnot_si128(fa, M1a);
        M1b = _mm_andnot_si128(fb, M1b);
        M2a = _mm_andnot_si128(fa, M2a);
        M2b = _mm_andnot_si128(fb, M2b);
    }
    for (j = 0; j < d; j++) {
        int64_t e = a + j;
        int8_t *Lv = L + (int64_t)cols[e] * W;
        uint32_t qs_old = qsign[e], tsign, tz, er, qs, sg = parold ^ qs_old;
        __m128i maga = _mm_blendv_epi8(M1a, M2a, _mm_cmpeq_epi8(IDa, jj));
        __m128i magb = _mm_blendv_epi8(M1b, M2b, _mm_cmpeq_epi8(IDb, jj));
        __m128i sa = qc_scms_expand16(sg, shuf0, bits), sb = qc_scms_expand16(sg, shuf1, bits);
        __m128i ra = _mm_sub_epi8(_mm_xor_si128(maga, sa), sa);
        __m128i rb = _mm_sub_epi8(_mm_xor_si128(magb, sb), sb);
        __m128i la = _mm_loadu_si128((const __m128i *)Lv);
        __m128i lb = _mm_loadu_si128((const __m128i *)(Lv + 16));
        __m128i ta = _mm_subs_epi8(la, ra), tb = _mm_subs_epi8(lb, rb);
        __m128i ea, eb, aba, abb, ge;
        if (e + QC_SCMS_PF < n_edges)
            _mm_prefetch((const char *)(L + (int64_t)cols[e + QC_SCMS_PF] * W), _MM_HINT_T0);
        _mm_storeu_si128((__m128i *)(T + j * W), ta);
        _mm_storeu_si128((__m128i *)(T + j * W + 16), tb);
        S[j] = QC_MM(la) | (QC_MM(lb) << 16);
        tsign = QC_MM(ta) | (QC_MM(tb) << 16);
        tz = QC_MM(_mm_cmpeq_epi8(ta, zero)) | (QC_MM(_mm_cmpeq_epi8(tb, zero)) << 16);
        er = qnz[e] & ~fresh & (tsign ^ qs_old);
        qs = tsign & ~er;
        qsign[e] = qs;
        qnz[e] = ~tz & ~er;
        parnew ^= qs;
        ea = qc_scms_expand16(er, shuf0, bits);
        eb = qc_scms_expand16(er, shuf1, bits);
        aba = _mm_abs_epi8(_mm_andnot_si128(ea, ta));
        abb = _mm_abs_epi8(_mm_andnot_si128(eb, tb));
        ge = _mm_cmpeq_epi8(_mm_max_epu8(aba, mn1a), aba);
        mn2a = _mm_blendv_epi8(mn1a, _mm_min_epu8(mn2a, aba), ge);
        ida = _mm_blendv_epi8(jj, ida, ge);
        mn1a = _mm_min_epu8(mn1a, aba);
        ge = _mm_cmpeq_epi8(_mm_max_epu8(abb, mn1b), abb);
        mn2b = _mm_blendv_epi8(mn1b, _mm_min_epu8(mn2b, abb), ge);
        idb = _mm_blendv_epi8(jj, idb, ge);
        mn1b = _mm_min_epu8(mn1b, abb);
        jj = _mm_add_epi8(jj, one);
    }
    {
        const __m128i Av = _mm_set1_epi16((short)A), Bv = _mm_set1_epi16((short)B);
        const __m128i eight = _mm_set1_epi16(8);
        const __m128i Cv = _mm_set1_epi8((char)C);
        M1a = qc_scms_scale_sse(mn1a, Av, Bv, eight, Cv);
        M1b = qc_scms_scale_sse(mn1b, Av, Bv, eight, Cv);
        M2a = qc_scms_scale_sse(mn2a, Av, Bv, eight, Cv);
        M2b = qc_scms_scale_sse(mn2b, Av, Bv, eight, Cv);
    }
    _mm_storeu_si128((__m128i *)M1p, M1a);
    _mm_storeu_si128((__m128i *)(M1p + 16), M1b);
    _mm_storeu_si128((__m128i *)M2p, M2a);
    _mm_storeu_si128((__m128i *)(M2p + 16), M2b);
    _mm_storeu_si128((__m128i *)IDp, ida);
    _mm_storeu_si128((__m128i *)(IDp + 16), idb);
    par[c] = parnew;
    jj = zero;
    for (j = 0; j < d; j++) {
        int64_t e = a + j;
        int8_t *Lv = L + (int64_t)cols[e] * W;
        uint32_t sg = parnew ^ qsign[e], lsign;
        __m128i maga = _mm_blendv_epi8(M1a, M2a, _mm_cmpeq_epi8(ida, jj));
        __m128i magb = _mm_blendv_epi8(M1b, M2b, _mm_cmpeq_epi8(idb, jj));
        __m128i sa = qc_scms_expand16(sg, shuf0, bits), sb = qc_scms_expand16(sg, shuf1, bits);
        __m128i ra = _mm_sub_epi8(_mm_xor_si128(maga, sa), sa);
        __m128i rb = _mm_sub_epi8(_mm_xor_si128(magb, sb), sb);
        __m128i na = _mm_adds_epi8(_mm_loadu_si128((const __m128i *)(T + j * W)), ra);
        __m128i nb = _mm_adds_epi8(_mm_loadu_si128((const __m128i *)(T + j * W + 16)), rb);
        _mm_storeu_si128((__m128i *)Lv, na);
        _mm_storeu_si128((__m128i *)(Lv + 16), nb);
        lsign = QC_MM(na) | (QC_MM(nb) << 16);
        post ^= lsign;
        fl |= lsign ^ S[j];
        jj = _mm_add_epi8(jj, one);
    }
    *unsat |= post;
    *flips |= fl;
}

static int qc_scms_avx2_ok(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

static int qc_scms_sse41_ok(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.1");
}

static int qc_scms_avx512_ok(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}
#else
#define QC_SCMS_HAVE_AVX2 0
static int qc_scms_avx2_ok(void) { return 0; }
static int qc_scms_sse41_ok(void) { return 0; }
static int qc_scms_avx512_ok(void) { return 0; }
#endif

/* ------------------------------------------------------------ driver */

/* Iterate the lanes in `active` (bit l = lane l holds a frame being
 * decoded) until some lane finishes: its hard decisions satisfy every check,
 * or its iteration budget budget[l] runs out.  A lane has reached its
 * syndrome when, in one iteration, every check was satisfied right after its
 * own update and no hard decision changed: the decisions were then the same
 * at every check's test, so they satisfy all checks at the end (exact, no
 * separate syndrome pass).  Each iteration decrements budget[l] and
 * increments iters[l] of every active lane; a lane that reaches its syndrome
 * gets its hard decisions in hard[l][0:n].  Returns the mask of lanes that
 * reached their syndrome (0 when the call ended because a budget ran out).
 * Lanes never interact, so the caller may refill finished lanes with new
 * frames between calls.  A lane with iters[l] == 0 starts afresh: its column
 * of L holds the channel LLRs, and its check messages (m1s, m2s, idx, par,
 * qsign, qnz) are taken as none, whatever the arrays hold, during that first
 * iteration -- which rewrites all of them -- so loading a frame never clears
 * the O(edges) message state.  T and S are scratch of 32 dmax bytes / dmax
 * words. */
static uint32_t qc_scms_run(int64_t n, int64_t m, const int32_t *rp, const int32_t *cols,
                            const uint32_t *syn, int8_t *L, uint32_t *qsign, uint32_t *qnz,
                            uint8_t *m1s, uint8_t *m2s, uint8_t *idx, uint32_t *par,
                            int8_t *T, uint32_t *S, int A, int B, int C, uint32_t active,
                            int32_t *budget, int32_t *iters, uint8_t *hard, int simd) {
    const int W = QC_SCMS_W;
    int l;
    int64_t c, v;
    if (!active) return 0;
    for (;;) {
        uint32_t unsat = 0, flips = 0, cand, fresh = 0;
        for (l = 0; l < W; l++)
            if (((active >> l) & 1u) && budget[l] <= 0) return 0;
        for (l = 0; l < W; l++)
            if (((active >> l) & 1u) && iters[l] == 0) fresh |= 1u << l;
        if (simd == 3) {
#if QC_SCMS_HAVE_AVX2
            for (c = 0; c < m; c++)
                qc_scms_check_avx512(c, m, rp, cols, syn, L, qsign, qnz, m1s, m2s, idx, par,
                                     T, S, A, B, C, fresh, &unsat, &flips);
#endif
        } else if (simd == 2) {
#if QC_SCMS_HAVE_AVX2
            for (c = 0; c < m; c++)
                qc_scms_check_avx2(c, m, rp, cols, syn, L, qsign, qnz, m1s, m2s, idx, par,
                                   T, S, A, B, C, fresh, &unsat, &flips);
#endif
        } else if (simd == 1) {
#if QC_SCMS_HAVE_AVX2
            for (c = 0; c < m; c++)
                qc_scms_check_sse(c, m, rp, cols, syn, L, qsign, qnz, m1s, m2s, idx, par,
                                  T, S, A, B, C, fresh, &unsat, &flips);
#endif
        } else {
            for (c = 0; c < m; c++)
                qc_scms_check_scalar(c, rp, cols, syn, L, qsign, qnz, m1s, m2s, idx, par,
                                     T, S, A, B, C, fresh, &unsat, &flips);
        }
        for (l = 0; l < W; l++)
            if ((active >> l) & 1u) { budget[l]--; iters[l]++; }
        cand = active & ~unsat & ~flips;
        if (!cand) continue;
        for (l = 0; l < W; l++) {
            if (!((cand >> l) & 1u)) continue;
            for (v = 0; v < n; v++) hard[(int64_t)l * n + v] = L[v * W + l] < 0;
        }
        return cand;
    }
}

#endif
