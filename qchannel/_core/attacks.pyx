"""Event-driven kernel for prepare-and-measure links under attack.

The physics lives in tables built by :mod:`qchannel.eve`: every pulse slot
ends in one *combination* (intensity class k, Alice's basis, Bob's basis,
Eve's latent outcome s -- attacked or not, what she measured, what she
forwarded -- and the set of Bob's detectors with a primary click, in Alice's
frame).  The slots are independent and identically distributed, so the slots
in which Bob has at least one click form a Bernoulli process of rate
``p_event``: the gap to the next one is geometric and its combination is
drawn from the conditional distribution (cumulative ``event_cdf``, binary
search).  Alice's bit is drawn uniformly at each event (the tables are in
Alice's frame).  Cost grows with Bob's clicks, not with pulses, whatever the
fraction of attacked pulses.

The per-class numbers of pulses sent are exact: event slots keep their
class, the other slots are a multinomial draw with P(k, no click).

Randomness: stream (seed, 1, block) for events, (seed, 3, block) for the
multinomial, where ``seed`` is the attack's child seed (see
:func:`qchannel.eve.simulate_with_eve`).
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t, int32_t
from libc.stdlib cimport malloc, realloc, free
from libc.math cimport log, log1p, floor

from qchannel._core.philox cimport PhiloxStream, stream_init, next_u32, next_double
from qchannel._core.sampling cimport multinomial

cdef enum:
    PURPOSE_EVENTS = 1
    PURPOSE_SENT_COUNTS = 3


cdef inline int64_t find_combo(const double* cdf, int64_t m, double u) noexcept nogil:
    # First index i with u < cdf[i]; cdf[m - 1] == 1 (> any u in (0, 1)).
    cdef int64_t lo = 0, hi = m - 1, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if u < cdf[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


def run_block(uint64_t seed, uint32_t block, int64_t n_slots, double p_event,
              const double[::1] event_cdf, const int32_t[::1] event_class,
              const double[::1] noclick_prob, double expected_events=0.0):
    """Slots [0, n_slots) of one block.  Returns (offset int64, combo int32,
    alice_bit uint8, sent int64[K]) with offsets relative to the block start,
    in increasing order."""
    cdef int64_t m = event_cdf.shape[0]
    cdef int K = noclick_prob.shape[0]
    assert event_class.shape[0] == m and m > 0 and K > 0
    cdef PhiloxStream es, cs
    stream_init(&es, seed, PURPOSE_EVENTS, block)
    stream_init(&cs, seed, PURPOSE_SENT_COUNTS, block)
    cdef int64_t cap = <int64_t>(expected_events * 1.1 + 10.0 * expected_events ** 0.5 + 64)
    cdef int64_t n = 0, pos = 0, slot, c, rest
    cdef int64_t* off = <int64_t*>malloc(cap * sizeof(int64_t))
    cdef int32_t* combo = <int32_t*>malloc(cap * sizeof(int32_t))
    cdef uint8_t* bit = <uint8_t*>malloc(cap)
    cdef void* grown
    cdef int err = 0, k
    cdef double scale, gap
    sent_np = np.zeros(K, dtype=np.int64)
    rest_np = np.zeros(K, dtype=np.int64)
    cdef int64_t[::1] sent = sent_np
    cdef int64_t[::1] restk = rest_np
    if off == NULL or combo == NULL or bit == NULL:
        free(off); free(combo); free(bit)
        raise MemoryError()
    with nogil:
        if p_event > 0.0:
            scale = 1.0 / log1p(-p_event) if p_event < 1.0 else -0.0
            while True:
                gap = log(next_double(&es)) * scale
                if gap >= <double>(n_slots - pos):
                    break
                slot = pos + <int64_t>gap
                pos = slot + 1
                c = find_combo(&event_cdf[0], m, next_double(&es))
                if n == cap:
                    cap *= 2
                    grown = realloc(off, cap * sizeof(int64_t))
                    if grown == NULL:
                        err = 1
                        break
                    off = <int64_t*>grown
                    grown = realloc(combo, cap * sizeof(int32_t))
                    if grown == NULL:
                        err = 1
                        break
                    combo = <int32_t*>grown
                    grown = realloc(bit, cap)
                    if grown == NULL:
                        err = 1
                        break
                    bit = <uint8_t*>grown
                off[n] = slot
                combo[n] = <int32_t>c
                bit[n] = next_u32(&es) & 1
                sent[event_class[c]] += 1
                n += 1
        if err == 0:
            multinomial(&cs, n_slots - n, &noclick_prob[0], K, &restk[0])
            for k in range(K):
                sent[k] += restk[k]
    if err:
        free(off); free(combo); free(bit)
        raise MemoryError("out of memory in the attack kernel")
    result = (np.asarray(<int64_t[:n]>off).copy() if n else np.empty(0, np.int64),
              np.asarray(<int32_t[:n]>combo).copy() if n else np.empty(0, np.int32),
              np.asarray(<uint8_t[:n]>bit).copy() if n else np.empty(0, np.uint8),
              sent_np)
    free(off); free(combo); free(bit)
    return result
