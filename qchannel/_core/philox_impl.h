/* Philox4x32-10 (Salmon, Moraes, Dror, Shaw, SC'11; Random123), always inlined
 * so that the hot loops of the kernels pay no call overhead. */
#ifndef QCHANNEL_PHILOX_IMPL_H
#define QCHANNEL_PHILOX_IMPL_H
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define QC_INLINE static inline __attribute__((always_inline))
#else
#define QC_INLINE static __forceinline
#endif

typedef struct {
    uint32_t key0, key1, block, purpose;
    uint64_t index;      /* counter of the next 4-word output */
    uint32_t buf[4];
    int pos;             /* next unused word of buf (4 = empty) */
} qc_philox_stream;

QC_INLINE void qc_philox4x32_10(const uint32_t *ctr, uint32_t k0, uint32_t k1, uint32_t *out) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        c0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        c2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

QC_INLINE void qc_stream_init(qc_philox_stream *s, uint64_t seed, uint32_t purpose, uint32_t block) {
    s->key0 = (uint32_t)seed;
    s->key1 = (uint32_t)(seed >> 32);
    s->block = block;
    s->purpose = purpose;
    s->index = 0;
    s->pos = 4;
}

QC_INLINE void qc_refill(qc_philox_stream *s) {
    uint32_t ctr[4] = {(uint32_t)s->index, (uint32_t)(s->index >> 32), s->block, s->purpose};
    qc_philox4x32_10(ctr, s->key0, s->key1, s->buf);
    s->index++;
    s->pos = 0;
}

QC_INLINE uint32_t qc_next_u32(qc_philox_stream *s) {
    if (s->pos >= 4) qc_refill(s);
    return s->buf[s->pos++];
}

/* High word first: the same value as two successive next_u32 calls. */
QC_INLINE uint64_t qc_next_u64(qc_philox_stream *s) {
    if (s->pos <= 2) {
        uint64_t v = ((uint64_t)s->buf[s->pos] << 32) | s->buf[s->pos + 1];
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
#endif
