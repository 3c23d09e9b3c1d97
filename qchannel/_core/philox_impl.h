/* Philox4x64-10 (Salmon, Moraes, Dror, Shaw, SC'11; Random123), always inlined
 * so that the hot loops of the kernels pay no call overhead. */
#ifndef QCHANNEL_PHILOX_IMPL_H
#define QCHANNEL_PHILOX_IMPL_H
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define QC_INLINE static inline __attribute__((always_inline))
#define QC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define QC_INLINE static __forceinline
#define QC_UNLIKELY(x) (x)
#endif

typedef struct {
    uint64_t key0, key1;
    uint64_t block, purpose;
    uint64_t index;      /* counter of the next 4-word output */
    uint64_t buf[4];
    int pos;             /* next unused 32-bit half of buf, high half first (8 = empty) */
    int refilled;        /* refills so far (capped at 2) */
    uint64_t ahead[4];   /* the output of counter ahead_index, made one refill early */
    uint64_t ahead_index;
} qc_philox_stream;

QC_INLINE uint64_t qc_mulhilo64(uint64_t a, uint64_t b, uint64_t *hi) {
#if defined(__SIZEOF_INT128__)
    unsigned __int128 p = (unsigned __int128)a * b;
    *hi = (uint64_t)(p >> 64);
    return (uint64_t)p;
#else
    uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return (mid << 32) | (uint32_t)p00;
#endif
}

/* Philox4x64-10: 4 x 64-bit counter, 2 x 64-bit key. */
QC_INLINE void qc_philox4x64_10(const uint64_t *ctr, uint64_t k0, uint64_t k1, uint64_t *out) {
    uint64_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    for (int r = 0; r < 10; r++) {
        uint64_t hi0, hi1;
        uint64_t lo0 = qc_mulhilo64(0xD2E7470EE14C6C93ULL, c0, &hi0);
        uint64_t lo1 = qc_mulhilo64(0xCA5A826395121157ULL, c2, &hi1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B97F4A7C15ULL;
        k1 += 0xBB67AE8584CAA73BULL;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* Stream (seed, purpose, block): key = (seed, 0), counter = (index, 0, block, purpose). */
QC_INLINE void qc_stream_init(qc_philox_stream *s, uint64_t seed, uint32_t purpose, uint32_t block) {
    s->key0 = seed;
    s->key1 = 0;
    s->block = block;
    s->purpose = purpose;
    s->index = 0;
    s->pos = 8;
    s->refilled = 0;
    s->ahead_index = UINT64_MAX;
}

/* A stream refilled more than once computes the output it will need at its
 * next refill one refill early: the ten dependent rounds then run while the
 * caller uses the current words, instead of stalling a sequential loop
 * (the detector pass) at every refill.  Short streams (one refill) pay
 * nothing; longer ones one unused evaluation at their end.  The words are
 * the same either way; a caller that moves ``index`` only misses the early
 * output. */
static void qc_refill(qc_philox_stream *s) {
    uint64_t ctr[4] = {s->index, 0, s->block, s->purpose};
    if (s->ahead_index == s->index) {
        memcpy(s->buf, s->ahead, sizeof s->buf);
    } else {
        qc_philox4x64_10(ctr, s->key0, s->key1, s->buf);
        if (s->refilled < 2) s->refilled++;
    }
    if (s->refilled == 2) {
        ctr[0] = s->index + 1;
        qc_philox4x64_10(ctr, s->key0, s->key1, s->ahead);
        s->ahead_index = s->index + 1;
    }
    s->index++;
    s->pos = 0;
}

/* The stream is a sequence of 64-bit words; 32-bit draws take their high
 * half first, and a 64-bit draw equals two successive 32-bit draws. */
QC_INLINE uint32_t qc_next_u32(qc_philox_stream *s) {
    if (s->pos >= 8) qc_refill(s);
    uint64_t w = s->buf[s->pos >> 1];
    uint32_t v = (s->pos & 1) ? (uint32_t)w : (uint32_t)(w >> 32);
    s->pos++;
    return v;
}

QC_INLINE uint64_t qc_next_u64(qc_philox_stream *s) {
    if (s->pos >= 8) qc_refill(s);
    if (!(s->pos & 1)) {
        uint64_t v = s->buf[s->pos >> 1];
        s->pos += 2;
        return v;
    }
    uint64_t hi = qc_next_u32(s);
    return (hi << 32) | qc_next_u32(s);
}

/* 53 random bits, centred in their cell: uniform on the open interval (0, 1). */
QC_INLINE double qc_next_double(qc_philox_stream *s) {
    return ((double)(qc_next_u64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
/* Two successive blocks of one stream at once: out[4 l + i] is word i of
 * counter index + l, the same words as two qc_refill calls.  The two lanes
 * are independent, so their multiplies pipeline instead of waiting on each
 * other's latency, and both still fit in the registers (batched random
 * words for the hot loops). */
QC_INLINE void qc_philox4x64_10_x2(uint64_t index, uint64_t block, uint64_t purpose,
                                   uint64_t k0, uint64_t k1, uint64_t *out) {
    uint64_t a0 = index, a1 = 0, a2 = block, a3 = purpose;
    uint64_t b0 = index + 1, b1 = 0, b2 = block, b3 = purpose;
    for (int r = 0; r < 10; r++) {
        uint64_t ha0, ha1, hb0, hb1;
        uint64_t la0 = qc_mulhilo64(0xD2E7470EE14C6C93ULL, a0, &ha0);
        uint64_t la1 = qc_mulhilo64(0xCA5A826395121157ULL, a2, &ha1);
        uint64_t lb0 = qc_mulhilo64(0xD2E7470EE14C6C93ULL, b0, &hb0);
        uint64_t lb1 = qc_mulhilo64(0xCA5A826395121157ULL, b2, &hb1);
        a0 = ha1 ^ a1 ^ k0; a1 = la1; a2 = ha0 ^ a3 ^ k1; a3 = la0;
        b0 = hb1 ^ b1 ^ k0; b1 = lb1; b2 = hb0 ^ b3 ^ k1; b3 = lb0;
        k0 += 0x9E3779B97F4A7C15ULL;
        k1 += 0xBB67AE8584CAA73BULL;
    }
    out[0] = a0; out[1] = a1; out[2] = a2; out[3] = a3;
    out[4] = b0; out[5] = b1; out[6] = b2; out[7] = b3;
}

/* A stream read 64 bits at a time from batches of 8 words (two blocks):
 * the same sequence as qc_next_u64 on a fresh qc_philox_stream. */
typedef struct {
    uint64_t key0, block, purpose, index;
    uint64_t buf[8];
    int pos;
} qc_word_stream;

QC_INLINE void qc_words_init(qc_word_stream *s, uint64_t seed, uint32_t purpose, uint32_t block) {
    s->key0 = seed; s->block = block; s->purpose = purpose; s->index = 0; s->pos = 8;
}

QC_INLINE uint64_t qc_next_word(qc_word_stream *s) {
    if (QC_UNLIKELY(s->pos >= 8)) {
        qc_philox4x64_10_x2(s->index, s->block, s->purpose, s->key0, 0, s->buf);
        s->index += 2;
        s->pos = 0;
    }
    return s->buf[s->pos++];
}
#endif
