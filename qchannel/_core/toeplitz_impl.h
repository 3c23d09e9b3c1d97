/* Toeplitz hashing over GF(2): the C kernels of toeplitz.pyx (see its header
 * for the methods: direct schoolbook carry-less products and the additive FFT
 * of Lin, Chung and Han on a Cantor basis).  Included by toeplitz.pyx. */
#ifndef QC_TOEPLITZ_IMPL_H
#define QC_TOEPLITZ_IMPL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#  define QC_X86 1
#  include <immintrin.h>
#  if defined(_MSC_VER)
#    include <intrin.h>
#  endif
#endif
#if defined(__GNUC__) || defined(__clang__)
#  define QC_TARGET_CLMUL __attribute__((target("pclmul,sse2,ssse3,sse4.1")))
#else
#  define QC_TARGET_CLMUL
#endif
#if defined(QC_X86) && defined(__x86_64__) && \
    ((defined(__clang__) && __clang_major__ >= 8) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 9))
#  define QC_HAVE_VPCLMUL 1
#  define QC_TARGET_VPCLMUL __attribute__((target("avx2,vpclmulqdq,pclmul,sse4.1")))
#endif
typedef struct { uint64_t lo, hi; } qc_u128;

/* transform context: byte tables for omega(2c) and prefix tables
   g[s][z] = sum_{j <= z} beta_{j+s} (s = 1, 2, 3) for twiddle recurrences */
typedef struct {
    const qc_u128 *wt;
    const qc_u128 *g1, *g2, *g3;
} qc_ctx;

static int qc_cpu_level(void) {
    /* 0: portable, 1: PCLMULQDQ, 2: PCLMULQDQ + AVX2 VPCLMULQDQ */
#if defined(QC_X86) && (defined(__GNUC__) || defined(__clang__))
    int lvl = 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1")) lvl = 1;
#  if defined(QC_HAVE_VPCLMUL)
    if (lvl && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("vpclmulqdq")) lvl = 2;
#  endif
    return lvl;
#elif defined(QC_X86) && defined(_MSC_VER)
    int info[4];
    __cpuid(info, 1);
    return (((info[2] >> 1) & 1) && ((info[2] >> 19) & 1)) ? 1 : 0;
#else
    return 0;
#endif
}

static inline unsigned qc_ctz(uint64_t x) {
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned r = 0;
    while (!(x & 1)) { x >>= 1; r++; }
    return r;
#endif
}

/* ---------------- portable carry-less arithmetic ---------------- */

static inline void qc_clmul64_sw(uint64_t a, uint64_t b, uint64_t *lo, uint64_t *hi) {
    uint64_t tl[16], th[16], rl = 0, rh = 0;
    int v, i;
    tl[0] = 0; th[0] = 0; tl[1] = a; th[1] = 0;
    for (v = 2; v < 16; v += 2) {
        tl[v] = tl[v >> 1] << 1;
        th[v] = (th[v >> 1] << 1) | (tl[v >> 1] >> 63);
        tl[v + 1] = tl[v] ^ a;
        th[v + 1] = th[v];
    }
    for (i = 60; i >= 0; i -= 4) {
        unsigned k = (unsigned)((b >> i) & 15);
        rh = (rh << 4) | (rl >> 60);
        rl <<= 4;
        rl ^= tl[k];
        rh ^= th[k];
    }
    *lo = rl; *hi = rh;
}

/* GF(2^128), x^128 = x^7 + x^2 + x + 1 */
static inline qc_u128 qc_gfmul_sw(qc_u128 a, qc_u128 b) {
    uint64_t l0, h0, l1, h1, l2, h2, l3, h3, r0, r1, r2, r3, L, H;
    qc_u128 r;
    qc_clmul64_sw(a.lo, b.lo, &l0, &h0);
    qc_clmul64_sw(a.hi, b.hi, &l3, &h3);
    qc_clmul64_sw(a.lo, b.hi, &l1, &h1);
    qc_clmul64_sw(a.hi, b.lo, &l2, &h2);
    r0 = l0; r1 = h0 ^ l1 ^ l2; r2 = h1 ^ h2 ^ l3; r3 = h3;
    L = r3 ^ (r3 << 1) ^ (r3 << 2) ^ (r3 << 7);
    H = (r3 >> 63) ^ (r3 >> 62) ^ (r3 >> 57);
    r1 ^= L; r2 ^= H;
    L = r2 ^ (r2 << 1) ^ (r2 << 2) ^ (r2 << 7);
    H = (r2 >> 63) ^ (r2 >> 62) ^ (r2 >> 57);
    r0 ^= L; r1 ^= H;
    r.lo = r0; r.hi = r1;
    return r;
}

static inline qc_u128 qc_x128(qc_u128 a, qc_u128 b) { a.lo ^= b.lo; a.hi ^= b.hi; return a; }

/* omega(2c) = sum_j c_j beta_{j+1} */
static inline qc_u128 qc_omega2(uint64_t c, const qc_u128 *wt) {
    qc_u128 r = {0, 0};
    int k = 0;
    while (c) {
        r = qc_x128(r, wt[256 * k + (c & 255)]);
        c >>= 8; k++;
    }
    return r;
}
/* omega(2^s c) = omega(2 (c << (s-1))) */
static inline qc_u128 qc_omega_s(uint64_t c, int s, const qc_u128 *wt) {
    return qc_omega2(c << (s - 1), wt);
}

typedef struct {
    void (*fwd)(qc_u128 *, size_t, size_t, uint64_t, const qc_ctx *);
    void (*inv)(qc_u128 *, size_t, size_t, uint64_t, const qc_ctx *);
    void (*fwd8)(qc_u128 *, size_t, uint64_t, const qc_ctx *);
    void (*inv8)(qc_u128 *, size_t, uint64_t, const qc_ctx *);
    void (*pmul)(qc_u128 *, const qc_u128 *, const qc_u128 *, size_t, int);
} qc_gfops;

/* One template, instantiated for the portable and the PCLMULQDQ element
   types.  E: element; LD/ST: load/store a qc_u128; XR: xor; MUL: field
   product; MKT: qc_u128 -> E.
   fwd/inv: one butterfly layer over nblk consecutive blocks of 2h elements,
   block indices c0 .. c0+nblk-1 with c0 a multiple of a power of two >= nblk
   (so omega(2(c0+b)) = omega(2 c0) ^ omega(2 b), updated by prefix tables).
   fwd8/inv8: the three lowest levels (basis conversion + butterflies) on
   nblk blocks of 8 elements, block indices c0 .. (same alignment). */
#define QC_GEN_OPS(SFX, ATTR, E, LD, ST, XR, MUL, MKT)                                   \
ATTR static void qc_bfly_fwd_##SFX(qc_u128 *d, size_t nblk, size_t h, uint64_t c0,       \
                                   const qc_ctx *cx) {                                   \
    size_t b, j;                                                                         \
    qc_u128 tw = qc_omega2(c0, cx->wt);                                                  \
    for (b = 0; b < nblk; b++) {                                                         \
        qc_u128 *x = d + 2 * h * b, *y = x + h;                                          \
        if (b) tw = qc_x128(tw, cx->g1[qc_ctz(b)]);                                      \
        if (!(tw.lo | tw.hi)) {                                                          \
            for (j = 0; j < h; j++) ST(y + j, XR(LD(y + j), LD(x + j)));                 \
            continue;                                                                    \
        }                                                                                \
        {                                                                                \
            E t = MKT(tw);                                                               \
            for (j = 0; j < h; j++) {                                                    \
                E a = LD(x + j), bb = LD(y + j);                                         \
                a = XR(a, MUL(t, bb));                                                   \
                bb = XR(bb, a);                                                          \
                ST(x + j, a); ST(y + j, bb);                                             \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
}                                                                                        \
ATTR static void qc_bfly_inv_##SFX(qc_u128 *d, size_t nblk, size_t h, uint64_t c0,       \
                                   const qc_ctx *cx) {                                   \
    size_t b, j;                                                                         \
    qc_u128 tw = qc_omega2(c0, cx->wt);                                                  \
    for (b = 0; b < nblk; b++) {                                                         \
        qc_u128 *x = d + 2 * h * b, *y = x + h;                                          \
        if (b) tw = qc_x128(tw, cx->g1[qc_ctz(b)]);                                      \
        if (!(tw.lo | tw.hi)) {                                                          \
            for (j = 0; j < h; j++) ST(y + j, XR(LD(y + j), LD(x + j)));                 \
            continue;                                                                    \
        }                                                                                \
        {                                                                                \
            E t = MKT(tw);                                                               \
            for (j = 0; j < h; j++) {                                                    \
                E a = LD(x + j), bb = LD(y + j);                                         \
                bb = XR(bb, a);                                                          \
                a = XR(a, MUL(t, bb));                                                   \
                ST(x + j, a); ST(y + j, bb);                                             \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
}                                                                                        \
ATTR static void qc_fwd8_##SFX(qc_u128 *d, size_t nblk, uint64_t c0, const qc_ctx *cx) {  \
    size_t b;                                                                            \
    qc_u128 w3 = qc_omega_s(c0, 1, cx->wt), w2 = qc_omega_s(c0, 2, cx->wt),               \
            w1 = qc_omega_s(c0, 3, cx->wt);                                              \
    qc_u128 b1 = cx->g1[0], b2 = qc_x128(cx->g1[1], cx->g1[0]);                          \
    for (b = 0; b < nblk; b++) {                                                         \
        qc_u128 *x = d + 8 * b;                                                          \
        E x0, x1, x2, x3, x4, x5, x6, x7, t;                                             \
        if (b) {                                                                         \
            unsigned z = qc_ctz(b);                                                      \
            w3 = qc_x128(w3, cx->g1[z]); w2 = qc_x128(w2, cx->g2[z]);                    \
            w1 = qc_x128(w1, cx->g3[z]);                                                 \
        }                                                                                \
        x0 = LD(x); x1 = LD(x + 1); x2 = LD(x + 2); x3 = LD(x + 3);                      \
        x4 = LD(x + 4); x5 = LD(x + 5); x6 = LD(x + 6); x7 = LD(x + 7);                  \
        /* divide by s_2 = y^4 + y */                                                    \
        x3 = XR(x3, x6); x4 = XR(x4, x7); x1 = XR(x1, x4); x2 = XR(x2, x5);              \
        t = MKT(w3);                                                                     \
        x0 = XR(x0, MUL(t, x4)); x4 = XR(x4, x0);                                        \
        x1 = XR(x1, MUL(t, x5)); x5 = XR(x5, x1);                                        \
        x2 = XR(x2, MUL(t, x6)); x6 = XR(x6, x2);                                        \
        x3 = XR(x3, MUL(t, x7)); x7 = XR(x7, x3);                                        \
        /* divide each half by s_1 = y^2 + y */                                          \
        x2 = XR(x2, x3); x1 = XR(x1, x2); x6 = XR(x6, x7); x5 = XR(x5, x6);              \
        t = MKT(w2);                                                                     \
        x0 = XR(x0, MUL(t, x2)); x2 = XR(x2, x0);                                        \
        x1 = XR(x1, MUL(t, x3)); x3 = XR(x3, x1);                                        \
        t = MKT(qc_x128(w2, b1));                                                        \
        x4 = XR(x4, MUL(t, x6)); x6 = XR(x6, x4);                                        \
        x5 = XR(x5, MUL(t, x7)); x7 = XR(x7, x5);                                        \
        /* lowest level: s_0 = y, no conversion */                                       \
        t = MKT(w1); x0 = XR(x0, MUL(t, x1)); x1 = XR(x1, x0);                           \
        t = MKT(qc_x128(w1, b1)); x2 = XR(x2, MUL(t, x3)); x3 = XR(x3, x2);              \
        t = MKT(qc_x128(w1, b2)); x4 = XR(x4, MUL(t, x5)); x5 = XR(x5, x4);              \
        t = MKT(qc_x128(w1, qc_x128(b1, b2))); x6 = XR(x6, MUL(t, x7)); x7 = XR(x7, x6); \
        ST(x, x0); ST(x + 1, x1); ST(x + 2, x2); ST(x + 3, x3);                          \
        ST(x + 4, x4); ST(x + 5, x5); ST(x + 6, x6); ST(x + 7, x7);                      \
    }                                                                                    \
}                                                                                        \
ATTR static void qc_inv8_##SFX(qc_u128 *d, size_t nblk, uint64_t c0, const qc_ctx *cx) {  \
    size_t b;                                                                            \
    qc_u128 w3 = qc_omega_s(c0, 1, cx->wt), w2 = qc_omega_s(c0, 2, cx->wt),               \
            w1 = qc_omega_s(c0, 3, cx->wt);                                              \
    qc_u128 b1 = cx->g1[0], b2 = qc_x128(cx->g1[1], cx->g1[0]);                          \
    for (b = 0; b < nblk; b++) {                                                         \
        qc_u128 *x = d + 8 * b;                                                          \
        E x0, x1, x2, x3, x4, x5, x6, x7, t;                                             \
        if (b) {                                                                         \
            unsigned z = qc_ctz(b);                                                      \
            w3 = qc_x128(w3, cx->g1[z]); w2 = qc_x128(w2, cx->g2[z]);                    \
            w1 = qc_x128(w1, cx->g3[z]);                                                 \
        }                                                                                \
        x0 = LD(x); x1 = LD(x + 1); x2 = LD(x + 2); x3 = LD(x + 3);                      \
        x4 = LD(x + 4); x5 = LD(x + 5); x6 = LD(x + 6); x7 = LD(x + 7);                  \
        t = MKT(w1); x1 = XR(x1, x0); x0 = XR(x0, MUL(t, x1));                           \
        t = MKT(qc_x128(w1, b1)); x3 = XR(x3, x2); x2 = XR(x2, MUL(t, x3));              \
        t = MKT(qc_x128(w1, b2)); x5 = XR(x5, x4); x4 = XR(x4, MUL(t, x5));              \
        t = MKT(qc_x128(w1, qc_x128(b1, b2))); x7 = XR(x7, x6); x6 = XR(x6, MUL(t, x7)); \
        t = MKT(w2);                                                                     \
        x2 = XR(x2, x0); x0 = XR(x0, MUL(t, x2));                                        \
        x3 = XR(x3, x1); x1 = XR(x1, MUL(t, x3));                                        \
        t = MKT(qc_x128(w2, b1));                                                        \
        x6 = XR(x6, x4); x4 = XR(x4, MUL(t, x6));                                        \
        x7 = XR(x7, x5); x5 = XR(x5, MUL(t, x7));                                        \
        /* multiply back by s_1 (ascending) */                                           \
        x1 = XR(x1, x2); x2 = XR(x2, x3); x5 = XR(x5, x6); x6 = XR(x6, x7);              \
        t = MKT(w3);                                                                     \
        x4 = XR(x4, x0); x0 = XR(x0, MUL(t, x4));                                        \
        x5 = XR(x5, x1); x1 = XR(x1, MUL(t, x5));                                        \
        x6 = XR(x6, x2); x2 = XR(x2, MUL(t, x6));                                        \
        x7 = XR(x7, x3); x3 = XR(x3, MUL(t, x7));                                        \
        /* multiply back by s_2 (ascending chunks) */                                    \
        x1 = XR(x1, x4); x2 = XR(x2, x5); x3 = XR(x3, x6); x4 = XR(x4, x7);              \
        ST(x, x0); ST(x + 1, x1); ST(x + 2, x2); ST(x + 3, x3);                          \
        ST(x + 4, x4); ST(x + 5, x5); ST(x + 6, x6); ST(x + 7, x7);                      \
    }                                                                                    \
}                                                                                        \
ATTR static void qc_pmul_##SFX(qc_u128 *acc, const qc_u128 *x, const qc_u128 *y, size_t n, \
                               int accumulate) {                                         \
    size_t i;                                                                            \
    for (i = 0; i < n; i++) {                                                            \
        E p = MUL(LD(x + i), LD(y + i));                                                 \
        if (accumulate) p = XR(p, LD(acc + i));                                          \
        ST(acc + i, p);                                                                  \
    }                                                                                    \
}

#define QC_SW_LD(p) (*(p))
#define QC_SW_ST(p, v) (*(p) = (v))
#define QC_SW_MKT(t) (t)
QC_GEN_OPS(sw, , qc_u128, QC_SW_LD, QC_SW_ST, qc_x128, qc_gfmul_sw, QC_SW_MKT)
static const qc_gfops qc_ops_sw = {qc_bfly_fwd_sw, qc_bfly_inv_sw, qc_fwd8_sw, qc_inv8_sw, qc_pmul_sw};

/* ---------------- PCLMULQDQ arithmetic ---------------- */
#if defined(QC_X86)
QC_TARGET_CLMUL static inline __m128i qc_gfmul_hw(__m128i a, __m128i b) {
    __m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
    __m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
    __m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01),
                                _mm_clmulepi64_si128(a, b, 0x10));
    const __m128i R = _mm_set_epi64x(0, 0x87);
    __m128i t, u;
    lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
    hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
    t = _mm_clmulepi64_si128(hi, R, 0x01);
    hi = _mm_xor_si128(hi, _mm_srli_si128(t, 8));
    lo = _mm_xor_si128(lo, _mm_slli_si128(t, 8));
    u = _mm_clmulepi64_si128(hi, R, 0x00);
    return _mm_xor_si128(lo, u);
}
#define QC_HW_LD(p) _mm_loadu_si128((const __m128i *)(p))
#define QC_HW_ST(p, v) _mm_storeu_si128((__m128i *)(p), (v))
#define QC_HW_MKT(t) _mm_set_epi64x((long long)(t).hi, (long long)(t).lo)
QC_GEN_OPS(hw, QC_TARGET_CLMUL, __m128i, QC_HW_LD, QC_HW_ST, _mm_xor_si128, qc_gfmul_hw, QC_HW_MKT)
static const qc_gfops qc_ops_hw = {qc_bfly_fwd_hw, qc_bfly_inv_hw, qc_fwd8_hw, qc_inv8_hw, qc_pmul_hw};

#if defined(QC_HAVE_VPCLMUL)
/* two field elements per 256-bit register (VPCLMULQDQ works per 128-bit lane) */
QC_TARGET_VPCLMUL static inline __m256i qc_gfmul_v2(__m256i a, __m256i b) {
    __m256i lo = _mm256_clmulepi64_epi128(a, b, 0x00);
    __m256i hi = _mm256_clmulepi64_epi128(a, b, 0x11);
    __m256i mid = _mm256_xor_si256(_mm256_clmulepi64_epi128(a, b, 0x01),
                                   _mm256_clmulepi64_epi128(a, b, 0x10));
    const __m256i R = _mm256_set_epi64x(0, 0x87, 0, 0x87);
    __m256i t, u;
    lo = _mm256_xor_si256(lo, _mm256_slli_si256(mid, 8));
    hi = _mm256_xor_si256(hi, _mm256_srli_si256(mid, 8));
    t = _mm256_clmulepi64_epi128(hi, R, 0x01);
    hi = _mm256_xor_si256(hi, _mm256_srli_si256(t, 8));
    lo = _mm256_xor_si256(lo, _mm256_slli_si256(t, 8));
    u = _mm256_clmulepi64_epi128(hi, R, 0x00);
    return _mm256_xor_si256(lo, u);
}
#define QC_V2_LD(p) _mm256_loadu_si256((const __m256i *)(p))
#define QC_V2_ST(p, v) _mm256_storeu_si256((__m256i *)(p), (v))
QC_TARGET_VPCLMUL static void qc_bfly_fwd_v2(qc_u128 *d, size_t nblk, size_t h, uint64_t c0,
                                             const qc_ctx *cx) {
    size_t b, j;
    qc_u128 tw;
    if (h < 2) { qc_bfly_fwd_hw(d, nblk, h, c0, cx); return; }
    tw = qc_omega2(c0, cx->wt);
    for (b = 0; b < nblk; b++) {
        qc_u128 *x = d + 2 * h * b, *y = x + h;
        if (b) tw = qc_x128(tw, cx->g1[qc_ctz(b)]);
        if (!(tw.lo | tw.hi)) {
            for (j = 0; j < h; j += 2) QC_V2_ST(y + j, _mm256_xor_si256(QC_V2_LD(y + j), QC_V2_LD(x + j)));
            continue;
        }
        {
            __m256i t = _mm256_set_epi64x((long long)tw.hi, (long long)tw.lo, (long long)tw.hi, (long long)tw.lo);
            for (j = 0; j < h; j += 2) {
                __m256i a = QC_V2_LD(x + j), bb = QC_V2_LD(y + j);
                a = _mm256_xor_si256(a, qc_gfmul_v2(t, bb));
                bb = _mm256_xor_si256(bb, a);
                QC_V2_ST(x + j, a); QC_V2_ST(y + j, bb);
            }
        }
    }
}
QC_TARGET_VPCLMUL static void qc_bfly_inv_v2(qc_u128 *d, size_t nblk, size_t h, uint64_t c0,
                                             const qc_ctx *cx) {
    size_t b, j;
    qc_u128 tw;
    if (h < 2) { qc_bfly_inv_hw(d, nblk, h, c0, cx); return; }
    tw = qc_omega2(c0, cx->wt);
    for (b = 0; b < nblk; b++) {
        qc_u128 *x = d + 2 * h * b, *y = x + h;
        if (b) tw = qc_x128(tw, cx->g1[qc_ctz(b)]);
        if (!(tw.lo | tw.hi)) {
            for (j = 0; j < h; j += 2) QC_V2_ST(y + j, _mm256_xor_si256(QC_V2_LD(y + j), QC_V2_LD(x + j)));
            continue;
        }
        {
            __m256i t = _mm256_set_epi64x((long long)tw.hi, (long long)tw.lo, (long long)tw.hi, (long long)tw.lo);
            for (j = 0; j < h; j += 2) {
                __m256i a = QC_V2_LD(x + j), bb = QC_V2_LD(y + j);
                bb = _mm256_xor_si256(bb, a);
                a = _mm256_xor_si256(a, qc_gfmul_v2(t, bb));
                QC_V2_ST(x + j, a); QC_V2_ST(y + j, bb);
            }
        }
    }
}
QC_TARGET_VPCLMUL static void qc_pmul_v2(qc_u128 *acc, const qc_u128 *x, const qc_u128 *y, size_t n,
                                         int accumulate) {
    size_t i;
    for (i = 0; i + 2 <= n; i += 2) {
        __m256i p = qc_gfmul_v2(QC_V2_LD(x + i), QC_V2_LD(y + i));
        if (accumulate) p = _mm256_xor_si256(p, QC_V2_LD(acc + i));
        QC_V2_ST(acc + i, p);
    }
    if (i < n) qc_pmul_hw(acc + i, x + i, y + i, n - i, accumulate);
}
static const qc_gfops qc_ops_v2 = {qc_bfly_fwd_v2, qc_bfly_inv_v2, qc_fwd8_hw, qc_inv8_hw, qc_pmul_v2};
#endif

/* direct middle product, 128-bit accumulators A[q'] = sum_{i+j=q'} S_i * B_j */
QC_TARGET_CLMUL static void qc_direct_acc_hw(const uint64_t *S, size_t sw, const uint64_t *B, size_t nw,
                                             int64_t qa, int64_t qb, qc_u128 *A) {
    size_t j;
    for (j = 0; j < nw; j++) {
        int64_t lo = qa - (int64_t)j, hi = qb - (int64_t)j, i;
        if (lo < 0) lo = 0;
        if (hi > (int64_t)sw - 1) hi = (int64_t)sw - 1;
        if (lo > hi) continue;
        __m128i bj = _mm_set_epi64x(0, (long long)B[j]);
        __m128i *acc = (__m128i *)(A + (lo + (int64_t)j - qa));
        for (i = lo; i <= hi; i++, acc++) {
            __m128i si = _mm_set_epi64x(0, (long long)S[i]);
            _mm_storeu_si128(acc, _mm_xor_si128(_mm_loadu_si128(acc), _mm_clmulepi64_si128(si, bj, 0x00)));
        }
    }
}
#endif

static void qc_direct_acc_sw(const uint64_t *S, size_t sw, const uint64_t *B, size_t nw,
                             int64_t qa, int64_t qb, qc_u128 *A) {
    size_t j;
    for (j = 0; j < nw; j++) {
        int64_t lo = qa - (int64_t)j, hi = qb - (int64_t)j, i;
        if (lo < 0) lo = 0;
        if (hi > (int64_t)sw - 1) hi = (int64_t)sw - 1;
        for (i = lo; i <= hi; i++) {
            uint64_t l, h;
            qc_clmul64_sw(S[i], B[j], &l, &h);
            A[i + (int64_t)j - qa].lo ^= l;
            A[i + (int64_t)j - qa].hi ^= h;
        }
    }
}


/* ---------------- basis conversion (XOR only) ---------------- */

/* Divide blocks of 2^L coefficients by s_{L-1}(y) = sum_{t subset of L-1} y^(2^t)
   in place (upper half -> quotient, lower half -> remainder): long division
   from the top in two chunks of h/2 (no dependencies inside a chunk).
   qc_mulb is the inverse: x = remainder + s_{L-1} * quotient. */
#if defined(_MSC_VER)
#  define QC_RESTRICT __restrict
#else
#  define QC_RESTRICT __restrict__
#endif
#define QC_TILE 2048   /* uint64 words (16 KiB) */
#define QC_GEN_CONV(SFX, ATTR)                                                           \
ATTR static void qc_divb_##SFX(qc_u128 *x0, size_t nblk, int L) {                        \
    size_t h, half, r, b, off[64];                                                       \
    int no = 0, ch, o;                                                                   \
    unsigned m, t;                                                                       \
    if (L <= 1) return;                                                                  \
    h = (size_t)1 << (L - 1); half = h >> 1; m = (unsigned)(L - 1);                      \
    for (t = (m - 1) & m; ; t = (t - 1) & m) { off[no++] = (size_t)1 << t; if (!t) break; } \
    for (b = 0; b < nblk; b++) {                                                         \
        uint64_t *x = (uint64_t *)(x0 + 2 * h * b);                                      \
        for (ch = 1; ch >= 0; ch--) {                                                    \
            const uint64_t *QC_RESTRICT src = x + 2 * (h + (size_t)ch * half);           \
            size_t t0, tl;                                                               \
            /* tiles of src stay in L1 while every offset consumes them */               \
            for (t0 = 0; t0 < 2 * half; t0 += QC_TILE) {                                 \
                tl = (2 * half - t0 < QC_TILE) ? 2 * half - t0 : QC_TILE;                \
                for (o = 0; o < no; o++) {                                               \
                    uint64_t *QC_RESTRICT dst = x + 2 * ((size_t)ch * half + off[o]) + t0; \
                    const uint64_t *QC_RESTRICT sp = src + t0;                           \
                    for (r = 0; r < tl; r++) dst[r] ^= sp[r];                            \
                }                                                                        \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
}                                                                                        \
ATTR static void qc_mulb_##SFX(qc_u128 *x0, size_t nblk, int L) {                        \
    size_t h, half, r, b, off[64];                                                       \
    int no = 0, ch, o;                                                                   \
    unsigned m, t;                                                                       \
    if (L <= 1) return;                                                                  \
    h = (size_t)1 << (L - 1); half = h >> 1; m = (unsigned)(L - 1);                      \
    for (t = (m - 1) & m; ; t = (t - 1) & m) { off[no++] = (size_t)1 << t; if (!t) break; } \
    for (b = 0; b < nblk; b++) {                                                         \
        uint64_t *x = (uint64_t *)(x0 + 2 * h * b);                                      \
        for (ch = 0; ch <= 1; ch++) {                                                    \
            const uint64_t *QC_RESTRICT src = x + 2 * (h + (size_t)ch * half);           \
            size_t t0, tl;                                                               \
            /* tiles of src stay in L1 while every offset consumes them */               \
            for (t0 = 0; t0 < 2 * half; t0 += QC_TILE) {                                 \
                tl = (2 * half - t0 < QC_TILE) ? 2 * half - t0 : QC_TILE;                \
                for (o = 0; o < no; o++) {                                               \
                    uint64_t *QC_RESTRICT dst = x + 2 * ((size_t)ch * half + off[o]) + t0; \
                    const uint64_t *QC_RESTRICT sp = src + t0;                           \
                    for (r = 0; r < tl; r++) dst[r] ^= sp[r];                            \
                }                                                                        \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
}
QC_GEN_CONV(sw, )
#if defined(QC_HAVE_VPCLMUL)
QC_GEN_CONV(v2, QC_TARGET_VPCLMUL)
#endif

typedef struct {
    const qc_gfops *g;
    void (*divb)(qc_u128 *, size_t, int);
    void (*mulb)(qc_u128 *, size_t, int);
} qc_allops;

#define QC_SMALL 10

/* forward: monomial coefficients -> values at omega(c 2^k + lambda), lambda < 2^k */
static void qc_fft_fwd(const qc_allops *ops, qc_u128 *x, int k, uint64_t c, const qc_ctx *cx) {
    int L;
    size_t b;
    if (k == 0) return;
    if (k <= QC_SMALL) {
        int Lmin = (k >= 3) ? 4 : 1;
        for (L = k; L >= Lmin; L--) {
            size_t nblk = (size_t)1 << (k - L), bs = (size_t)1 << L;
            if (L >= 2) ops->divb(x, nblk, L);
            ops->g->fwd(x, nblk, bs >> 1, c << (k - L), cx);
        }
        if (k >= 3) ops->g->fwd8(x, (size_t)1 << (k - 3), c << (k - 3), cx);
        return;
    }
    ops->divb(x, 1, k);
    ops->g->fwd(x, 1, (size_t)1 << (k - 1), c, cx);
    qc_fft_fwd(ops, x, k - 1, 2 * c, cx);
    qc_fft_fwd(ops, x + ((size_t)1 << (k - 1)), k - 1, 2 * c + 1, cx);
}
static void qc_fft_inv(const qc_allops *ops, qc_u128 *x, int k, uint64_t c, const qc_ctx *cx) {
    int L;
    size_t b;
    if (k == 0) return;
    if (k <= QC_SMALL) {
        int Lmin = 1;
        if (k >= 3) { ops->g->inv8(x, (size_t)1 << (k - 3), c << (k - 3), cx); Lmin = 4; }
        for (L = Lmin; L <= k; L++) {
            size_t nblk = (size_t)1 << (k - L), bs = (size_t)1 << L;
            ops->g->inv(x, nblk, bs >> 1, c << (k - L), cx);
            if (L >= 2) ops->mulb(x, nblk, L);
        }
        return;
    }
    qc_fft_inv(ops, x, k - 1, 2 * c, cx);
    qc_fft_inv(ops, x + ((size_t)1 << (k - 1)), k - 1, 2 * c + 1, cx);
    ops->g->inv(x, 1, (size_t)1 << (k - 1), c, cx);
    ops->mulb(x, 1, k);
}

static const qc_allops qc_all_sw = {&qc_ops_sw, qc_divb_sw, qc_mulb_sw};
#if defined(QC_X86)
static const qc_allops qc_all_hw = {&qc_ops_hw, qc_divb_sw, qc_mulb_sw};
#endif
#if defined(QC_HAVE_VPCLMUL)
static const qc_allops qc_all_v2 = {&qc_ops_v2, qc_divb_v2, qc_mulb_v2};
#endif
static const qc_allops *qc_select_ops(int level) {
#if defined(QC_HAVE_VPCLMUL)
    if (level >= 2) return &qc_all_v2;
#endif
#if defined(QC_X86)
    if (level >= 1) return &qc_all_hw;
#endif
    (void)level;
    return &qc_all_sw;
}
static void qc_ctx_init(qc_ctx *cx, const qc_u128 *tables, int nbytes) {
    cx->wt = tables;
    cx->g1 = tables + 256 * nbytes;
    cx->g2 = cx->g1 + 64;
    cx->g3 = cx->g2 + 64;
}
/* ---------------- bit helpers ---------------- */

/* dst bit r = src bit (start + r) for 0 <= start + r < src_bits, else 0; r < len */
static void qc_extract_bits(const uint64_t *src, size_t src_bits, int64_t start, size_t len, uint64_t *dst) {
    size_t nw = (len + 63) / 64, w;
    size_t srcw = (src_bits + 63) / 64;
    for (w = 0; w < nw; w++) {
        int64_t pos = start + (int64_t)(64 * w);
        uint64_t v = 0;
        int64_t q;
        int sh;
        if (pos <= -64 || pos >= (int64_t)src_bits) { dst[w] = 0; continue; }
        if (pos < 0) {
            v = src[0] << (unsigned)(-pos);
        } else {
            q = pos >> 6; sh = (int)(pos & 63);
            v = src[q] >> sh;
            if (sh && (size_t)(q + 1) < srcw) v |= src[q + 1] << (64 - sh);
        }
        dst[w] = v;
    }
    /* clear bits at or beyond src_bits, and beyond len */
    {
        int64_t lim = (int64_t)src_bits - start;      /* bits r >= lim are outside src */
        for (w = 0; w < nw; w++) {
            int64_t r0 = 64 * (int64_t)w;
            if (lim <= r0) dst[w] = 0;
            else if (lim < r0 + 64) dst[w] &= (((uint64_t)1) << (lim - r0)) - 1;
        }
        if (len & 63) dst[nw - 1] &= (((uint64_t)1) << (len & 63)) - 1;
    }
}

/* ---------------- middle products ---------------- */

/* out bits [0, m) = bits [n-1, n-1+m) of S*B; S has n+m-1 bits, B has n bits */
static int qc_mp_direct(const uint64_t *S, const uint64_t *B, size_t n, size_t m, uint64_t *out, int hw) {
    size_t sbits = n + m - 1, sw = (sbits + 63) / 64, nw = (n + 63) / 64;
    int64_t q0 = (int64_t)((n - 1) / 64), q1 = (int64_t)((n + m - 2) / 64);
    int64_t qa = q0 - 1, qb = q1, q;
    size_t na = (size_t)(qb - qa + 1);
    qc_u128 *A = (qc_u128 *)calloc(na, sizeof(qc_u128));
    uint64_t *P = (uint64_t *)malloc((size_t)(q1 - q0 + 2) * sizeof(uint64_t));
    if (!A || !P) { free(A); free(P); return -1; }
#if defined(QC_X86)
    if (hw) qc_direct_acc_hw(S, sw, B, nw, qa, qb, A);
    else
#endif
    qc_direct_acc_sw(S, sw, B, nw, qa, qb, A);
    for (q = q0; q <= q1; q++) P[q - q0] = A[q - qa].lo ^ A[q - 1 - qa].hi;
    P[q1 - q0 + 1] = 0;
    qc_extract_bits(P, (size_t)(q1 - q0 + 1) * 64, (int64_t)(n - 1) - 64 * q0, m, out);
    free(A); free(P);
    return 0;
}

/* chunk plan for the FFT method: returns cost, fills h (words per b chunk) and J (chunks) */
static double qc_fft_plan(size_t n, size_t m, int K, size_t *h_out, size_t *J_out) {
    size_t N = (size_t)1 << K, nw = (n + 63) / 64, h, sw;
    /* product of S_j (ceil((m+64h-1)/64) words) and B_j (h words) has sw + h - 1 coefficients */
    size_t mwc = (m + 62) / 64 + 1;
    if (N < mwc + 2) return -1.0;
    h = (N + 1 - mwc) / 2;
    if (h > nw) h = nw;
    while (h > 0) {
        sw = (m + 64 * h - 1 + 63) / 64;
        if (sw + h - 1 <= N) break;
        h--;
    }
    if (h == 0) return -1.0;
    *h_out = h;
    *J_out = (nw + h - 1) / h;
    return (double)(2 * (*J_out) + 1) * (double)N * (double)K + (double)(*J_out) * (double)N * 2.0;
}

static int qc_mp_fft(const uint64_t *s, const uint64_t *b, size_t n, size_t m, uint64_t *out,
                     int level, const qc_u128 *tables, int nbytes, int K) {
    const qc_allops *ops = qc_select_ops(level);
    qc_ctx cxs, *wt = &cxs;
    size_t N = (size_t)1 << K, h = 0, J = 0, H, j, q, sw, nw = (n + 63) / 64;
    size_t sbits = n + m - 1;
    qc_u128 *A = NULL, *Bf = NULL, *acc = NULL;
    uint64_t *tmp = NULL;
    qc_ctx_init(&cxs, tables, nbytes);
    if (qc_fft_plan(n, m, K, &h, &J) < 0) return -2;
    H = 64 * h;
    sw = (m + H - 1 + 63) / 64;
    A = (qc_u128 *)malloc(N * sizeof(qc_u128));
    Bf = (qc_u128 *)malloc(N * sizeof(qc_u128));
    if (J > 1) acc = (qc_u128 *)malloc(N * sizeof(qc_u128));
    tmp = (uint64_t *)malloc((sw + 2) * sizeof(uint64_t));
    if (!A || !Bf || (J > 1 && !acc) || !tmp) { free(A); free(Bf); free(acc); free(tmp); return -1; }
    for (j = 0; j < J; j++) {
        int64_t w = (int64_t)n - (int64_t)((j + 1) * H);
        size_t bw0 = j * h, bwn = (bw0 + h <= nw) ? h : nw - bw0;
        qc_extract_bits(s, sbits, w, m + H - 1, tmp);
        for (q = 0; q < sw; q++) { A[q].lo = tmp[q]; A[q].hi = 0; }
        memset(A + sw, 0, (N - sw) * sizeof(qc_u128));
        for (q = 0; q < bwn; q++) { Bf[q].lo = b[bw0 + q]; Bf[q].hi = 0; }
        memset(Bf + bwn, 0, (N - bwn) * sizeof(qc_u128));
        qc_fft_fwd(ops, A, K, 0, wt);
        qc_fft_fwd(ops, Bf, K, 0, wt);
        if (J == 1) ops->g->pmul(A, A, Bf, N, 0);
        else ops->g->pmul(acc, A, Bf, N, j > 0);
    }
    if (J > 1) { qc_u128 *t = A; A = acc; acc = t; }
    qc_fft_inv(ops, A, K, 0, wt);
    /* product words P[q] = lo(c_q) ^ hi(c_{q-1}); reuse Bf as a word buffer */
    {
        uint64_t *P = (uint64_t *)Bf;
        size_t q0 = (H - 1) / 64, q1 = (H - 1 + m - 1) / 64;
        for (q = q0; q <= q1; q++) P[q - q0] = A[q].lo ^ (q ? A[q - 1].hi : 0);
        qc_extract_bits(P, (q1 - q0 + 1) * 64, (int64_t)(H - 1) - (int64_t)(64 * q0), m, out);
    }
    free(A); free(Bf); free(acc); free(tmp);
    return 0;
}

/* pack uint8 0/1 -> little-endian bit words; returns OR of all bytes (validation) */
static unsigned qc_pack_bits(const uint8_t *bits, size_t n, uint64_t *words) {
    size_t nw = (n + 63) / 64, w, i;
    uint64_t orr = 0;
    for (w = 0; w < nw; w++) {
        uint64_t v = 0;
        size_t base = 64 * w;
        if (base + 64 <= n) {
            for (i = 0; i < 8; i++) {
                uint64_t x;
                memcpy(&x, bits + base + 8 * i, 8);
                orr |= x;
                v |= ((x * 0x0102040810204080ULL) >> 56) << (8 * i);
            }
        } else {
            for (i = 0; base + i < n; i++) {
                orr |= bits[base + i];
                v |= (uint64_t)(bits[base + i] & 1) << i;
            }
        }
        words[w] = v;
    }
    orr |= orr >> 32; orr |= orr >> 16; orr |= orr >> 8;
    return (unsigned)(orr & 0xFF);
}
static void qc_unpack_bits(const uint64_t *words, size_t n, uint8_t *bits) {
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        uint64_t v = (words[i >> 6] >> (i & 63)) & 0xFF;
        uint64_t x = (v | (v << 28)) & 0x0000000F0000000FULL;
        x = (x | (x << 14)) & 0x0003000300030003ULL;
        x = (x | (x << 7)) & 0x0101010101010101ULL;
        memcpy(bits + i, &x, 8);
    }
    for (; i < n; i++) bits[i] = (uint8_t)((words[i >> 6] >> (i & 63)) & 1);
}

static void qc_fft_run(int level, qc_u128 *x, int K, const qc_u128 *tables, int nbytes, int inverse) {
    qc_ctx cx;
    qc_ctx_init(&cx, tables, nbytes);
    if (inverse) qc_fft_inv(qc_select_ops(level), x, K, 0, &cx);
    else qc_fft_fwd(qc_select_ops(level), x, K, 0, &cx);
}

#endif
