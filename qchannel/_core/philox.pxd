# Philox4x32-10 counter-based generator (Salmon et al., SC'11; Random123).
#
# A stream is addressed by (seed, purpose, block): the 64-bit seed is the key,
# the 128-bit counter is (index_lo, index_hi, block, purpose).  Every stream is
# independent of every other, so work split in fixed blocks gives the same
# numbers whatever the thread, process or chunk layout.
from libc.stdint cimport uint32_t, uint64_t
from libc.math cimport log, log1p, floor

cdef enum:
    PHILOX_M0 = 0xD2511F53
    PHILOX_M1 = 0xCD9E8D57
    PHILOX_W0 = 0x9E3779B9
    PHILOX_W1 = 0xBB67AE85

cdef struct PhiloxStream:
    uint32_t key0
    uint32_t key1
    uint32_t block
    uint32_t purpose
    uint64_t index      # counter of the next 4-word output
    uint32_t buf[4]
    int pos             # next unused word of buf (4 = empty)


cdef inline void philox4x32_10(const uint32_t* ctr_in, uint32_t k0, uint32_t k1,
                               uint32_t* out) noexcept nogil:
    cdef uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3]
    cdef uint64_t p0, p1
    cdef int r
    for r in range(10):
        p0 = <uint64_t>PHILOX_M0 * c0
        p1 = <uint64_t>PHILOX_M1 * c2
        c0 = <uint32_t>(p1 >> 32) ^ c1 ^ k0
        c2 = <uint32_t>(p0 >> 32) ^ c3 ^ k1
        c1 = <uint32_t>p1
        c3 = <uint32_t>p0
        k0 = k0 + <uint32_t>PHILOX_W0
        k1 = k1 + <uint32_t>PHILOX_W1
    out[0] = c0
    out[1] = c1
    out[2] = c2
    out[3] = c3


cdef inline void stream_init(PhiloxStream* s, uint64_t seed, uint32_t purpose,
                             uint32_t block) noexcept nogil:
    s.key0 = <uint32_t>seed
    s.key1 = <uint32_t>(seed >> 32)
    s.block = block
    s.purpose = purpose
    s.index = 0
    s.pos = 4


cdef inline void _refill(PhiloxStream* s) noexcept nogil:
    cdef uint32_t ctr[4]
    ctr[0] = <uint32_t>s.index
    ctr[1] = <uint32_t>(s.index >> 32)
    ctr[2] = s.block
    ctr[3] = s.purpose
    philox4x32_10(ctr, s.key0, s.key1, s.buf)
    s.index += 1
    s.pos = 0


cdef inline uint32_t next_u32(PhiloxStream* s) noexcept nogil:
    if s.pos >= 4:
        _refill(s)
    s.pos += 1
    return s.buf[s.pos - 1]


cdef inline uint64_t next_u64(PhiloxStream* s) noexcept nogil:
    cdef uint64_t hi = next_u32(s)
    return (hi << 32) | next_u32(s)


cdef inline double next_double(PhiloxStream* s) noexcept nogil:
    # 53 random bits, centred in their cell: uniform on the open interval (0, 1).
    return ((next_u64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0)


cdef inline double next_float32ish(PhiloxStream* s) noexcept nogil:
    # 32 random bits, open interval (0, 1); enough for routing decisions.
    return (next_u32(s) + 0.5) * (1.0 / 4294967296.0)


cdef inline uint32_t next_below(PhiloxStream* s, uint32_t n) noexcept nogil:
    # Lemire's multiply-shift; bias < n / 2^32, negligible for the small n used.
    return <uint32_t>((<uint64_t>next_u32(s) * n) >> 32)


cdef inline uint64_t next_geometric_gap(PhiloxStream* s, double log1m_p) noexcept nogil:
    # Number of failures before the next success for success probability p,
    # given log1m_p = log(1 - p) < 0.  Inversion: floor(log U / log(1-p)).
    return <uint64_t>floor(log(next_double(s)) / log1m_p)
