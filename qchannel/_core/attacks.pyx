"""Event-driven kernel for prepare-and-measure links under attack.

The physics lives in tables built by :mod:`qchannel.eve`: every pulse slot
ends in one *combination* (intensity class k, Alice's basis, Bob's basis,
Eve's latent outcome s -- attacked or not, what she measured, what she
forwarded -- and the set of Bob's detectors with a primary click, in Alice's
frame).  The slots are independent and identically distributed, so the slots
in which Bob has at least one primary click form a Bernoulli process of rate
``p_event``: the gap to the next one is geometric and its combination is
drawn from the conditional distribution (cumulative ``event_cdf``, binary
search).  Alice's bit is drawn uniformly at each event (the tables are in
Alice's frame).  Cost grows with Bob's clicks, not with pulses, whatever the
fraction of attacked pulses.

This kernel draws *primary* clicks only: dead time, afterpulses and
squashing are the honest link's compiled detector pass
(:func:`qchannel._core.transport.detector_pass`).  The per-class numbers of
pulses sent are exact: event slots keep their class, afterpulse-only slots
the class the detector pass drew, the other slots are a multinomial draw with
P(k, no click) (:func:`sent_rest`).

Randomness: stream (seed, 1, block) for events, (seed, 3, block) for the
multinomial, where ``seed`` is the attack's child seed (see
:class:`qchannel.eve.AttackedLinkModel`).
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t, int32_t
from libc.stdlib cimport malloc, realloc, free
from libc.math cimport log, log1p, floor

from qchannel._core.philox cimport PhiloxStream, stream_init, next_u32, next_double
from qchannel._core.sampling cimport multinomial
from qchannel._core.search cimport search_cdf

cdef enum:
    PURPOSE_EVENTS = 1
    PURPOSE_SENT_COUNTS = 3


def run_block(uint64_t seed, uint32_t block, int64_t n_slots, double p_event,
              const double[::1] event_cdf not None, double expected_events=0.0):
    """Primary events in slots [0, n_slots) of one block.  Returns (offset
    int64, combo int32, alice_bit uint8) with offsets relative to the block
    start, in increasing order; ``combo`` indexes ``event_cdf``, the
    cumulative P(combination | event) (non-decreasing, last entry 1)."""
    cdef int64_t m = event_cdf.shape[0]
    cdef int64_t i
    if m < 1:
        raise ValueError("event_cdf must have at least one entry")
    if n_slots < 0:
        raise ValueError(f"n_slots = {n_slots} must be >= 0")
    if not (0.0 <= p_event <= 1.0):
        raise ValueError(f"p_event = {p_event} must be in [0, 1]")
    for i in range(m):
        if not (0.0 <= event_cdf[i] <= 1.0) or (i > 0 and event_cdf[i] < event_cdf[i - 1]):
            raise ValueError(f"event_cdf[{i}] = {event_cdf[i]}: must be non-decreasing in [0, 1]")
    if event_cdf[m - 1] != 1.0:
        raise ValueError(f"event_cdf[-1] = {event_cdf[m - 1]} must be 1")
    if not (expected_events >= 0.0) or expected_events > 1e12:
        expected_events = 0.0
    cdef PhiloxStream es
    stream_init(&es, seed, PURPOSE_EVENTS, block)
    cdef int64_t cap = <int64_t>(expected_events * 1.1 + 10.0 * expected_events ** 0.5 + 64)
    cdef int64_t n = 0, pos = 0, slot, c
    cdef int64_t* off = <int64_t*>malloc(cap * sizeof(int64_t))
    cdef int32_t* combo = <int32_t*>malloc(cap * sizeof(int32_t))
    cdef uint8_t* bit = <uint8_t*>malloc(cap)
    cdef void* grown
    cdef int err = 0
    cdef double scale, gap
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
                c = search_cdf(&event_cdf[0], m, next_double(&es))
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
                n += 1
    if err:
        free(off); free(combo); free(bit)
        raise MemoryError("out of memory in the attack kernel")
    result = (np.asarray(<int64_t[:n]>off).copy() if n else np.empty(0, np.int64),
              np.asarray(<int32_t[:n]>combo).copy() if n else np.empty(0, np.int32),
              np.asarray(<uint8_t[:n]>bit).copy() if n else np.empty(0, np.uint8))
    free(off); free(combo); free(bit)
    return result


def sent_rest(uint64_t seed, uint32_t block, int64_t n_rest,
              const double[::1] noclick_prob not None):
    """Classes of the ``n_rest`` slots of a block without any click: a
    multinomial draw with weights ``noclick_prob`` (P(k, no click),
    unnormalised), stream (seed, 3, block).  Returns int64[K]."""
    cdef int K = noclick_prob.shape[0]
    cdef int k
    if K < 1:
        raise ValueError("noclick_prob must have at least one entry")
    if n_rest < 0:
        raise ValueError(f"n_rest = {n_rest} must be >= 0")
    for k in range(K):
        if not (0.0 <= noclick_prob[k] <= 1.0):
            raise ValueError(f"noclick_prob[{k}] = {noclick_prob[k]} must be in [0, 1]")
    out_np = np.zeros(K, dtype=np.int64)
    cdef int64_t[::1] out = out_np
    cdef PhiloxStream cs
    stream_init(&cs, seed, PURPOSE_SENT_COUNTS, block)
    if n_rest > 0:
        with nogil:
            multinomial(&cs, n_rest, &noclick_prob[0], K, &out[0])
    return out_np
