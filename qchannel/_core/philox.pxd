# Philox4x64-10 counter-based generator (Salmon et al., SC'11; Random123).
#
# A stream is addressed by (seed, purpose, block): the key is (seed, 0), the
# 256-bit counter is (index, 0, block, purpose).  Every stream is
# independent of every other, so work split in fixed blocks gives the same
# numbers whatever the thread, process or chunk layout.  The generator itself
# lives in philox_impl.h so that it is always inlined into the hot loops.
from libc.stdint cimport uint32_t, uint64_t
from libc.math cimport log, floor

cdef extern from "philox_impl.h" nogil:
    ctypedef struct PhiloxStream "qc_philox_stream":
        uint64_t key0
        uint64_t key1
        uint64_t block
        uint64_t purpose
        uint64_t index
        uint64_t buf[4]
        int pos
    void philox4x64_10 "qc_philox4x64_10"(const uint64_t* ctr, uint64_t k0, uint64_t k1,
                                           uint64_t* out) noexcept
    void stream_init "qc_stream_init"(PhiloxStream* s, uint64_t seed, uint32_t purpose,
                                      uint32_t block) noexcept
    uint32_t next_u32 "qc_next_u32"(PhiloxStream* s) noexcept
    uint64_t next_u64 "qc_next_u64"(PhiloxStream* s) noexcept
    double next_double "qc_next_double"(PhiloxStream* s) noexcept
    ctypedef struct WordStream "qc_word_stream":
        int pos
    void words_init "qc_words_init"(WordStream* s, uint64_t seed, uint32_t purpose,
                                    uint32_t block) noexcept
    uint64_t next_word "qc_next_word"(WordStream* s) noexcept


cdef inline uint32_t next_below(PhiloxStream* s, uint32_t n) noexcept nogil:
    # Lemire's multiply-shift; bias < n / 2^32, negligible for the small n used.
    return <uint32_t>((<uint64_t>next_u32(s) * n) >> 32)


cdef inline uint64_t next_geometric_gap(PhiloxStream* s, double log1m_p) noexcept nogil:
    # Number of failures before the next success for success probability p,
    # given log1m_p = log(1 - p) < 0.  Inversion: floor(log U / log(1-p)).
    # Saturates at 2^62: casting a double at or past 2^64 (tiny p) or a NaN
    # to an integer is undefined behaviour.
    cdef double g = floor(log(next_double(s)) / log1m_p)
    return <uint64_t>g if 0.0 <= g < 4611686018427387904.0 else (1ULL << 62)
