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
from qchannel._core.checks cimport int_arg

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


# --------------------------------------------------------------------------
# The attacked link's block work outside the GIL: lookups of the drawn
# combinations (independent part) and, after the detector pass, Eve's
# knowledge, the pulses sent and the counts (sequential part), so that no
# per-event NumPy work is left for the Python side (qchannel.eve).
# --------------------------------------------------------------------------
cdef enum:
    SAME = 0
    FLIP = 1
    RANDOM = 2
    MAX_CLASSES = 16


def draw_events(seed, block, block_start, n_slots, p_event,
                const double[::1] event_cdf not None, const uint8_t[::1] cls_of not None,
                const uint8_t[::1] a_of not None, const uint8_t[::1] b_of not None,
                const uint8_t[:, ::1] clicks_of not None, const uint8_t[::1] known_of not None,
                const uint8_t[::1] rel_of not None, expected_events=0.0):
    """:func:`run_block` for slots [block_start, block_start + n_slots) and the
    per-event lookups of the drawn combination c: class ``cls_of[c]``, bases
    ``a_of[c]``, ``b_of[c]``, primary clicks in the detector frame
    ``clicks_of[alice_bit, c]``, Eve's knowledge ``known_of[c]`` and guess
    relation ``rel_of[c]`` (SAME, FLIP or RANDOM).  Returns (slot (absolute),
    cls, a_basis, a_bit, b_basis, clicks, known, rel): the detector pass's
    inputs and what :func:`finish_block` needs of the primary events."""
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef uint32_t block_ = int_arg("block", block, 0, 2**32 - 1)
    cdef int64_t start = int_arg("block_start", block_start, 0, 2**62)
    cdef int64_t n_sl = int_arg("n_slots", n_slots, 0, 2**62 - start)
    cdef Py_ssize_t m = event_cdf.shape[0]
    for name, arr in (("cls_of", cls_of), ("a_of", a_of), ("b_of", b_of),
                      ("known_of", known_of), ("rel_of", rel_of)):
        if arr.shape[0] != m:
            raise ValueError(f"{name} has length {arr.shape[0]}, must be {m} "
                             "(one entry per combination of event_cdf)")
    if clicks_of.shape[0] != 2 or clicks_of.shape[1] != m:
        raise ValueError(f"clicks_of has shape ({clicks_of.shape[0]}, {clicks_of.shape[1]}), "
                         f"must be (2, {m})")
    off, combo_np, bit_np = run_block(seed_, block_, n_sl, p_event, event_cdf, expected_events)
    cdef const int64_t[::1] o = off
    cdef const int32_t[::1] combo = combo_np
    cdef const uint8_t[::1] bit = bit_np
    cdef Py_ssize_t n = o.shape[0], i
    slot_np = np.empty(n, np.int64)
    fields_np = np.empty((6, n), np.uint8)
    cdef int64_t[::1] slot = slot_np
    cdef uint8_t[:, ::1] f = fields_np
    cdef int32_t c
    with nogil:
        for i in range(n):
            c = combo[i]
            slot[i] = start + o[i]
            f[0, i] = cls_of[c]
            f[1, i] = a_of[c]
            f[2, i] = b_of[c]
            f[3, i] = clicks_of[bit[i], c]
            f[4, i] = known_of[c]
            f[5, i] = rel_of[c]
    return (slot_np, fields_np[0], fields_np[1], bit_np, fields_np[2], fields_np[3],
            fields_np[4], fields_np[5])


def finish_block(seed, guess_seed, guess_purpose, block, n_slots,
                 const int64_t[::1] slot not None, const uint8_t[::1] cls not None,
                 const uint8_t[::1] known_of_event not None, const uint8_t[::1] rel_of_event not None,
                 const int64_t[::1] out_slot not None, const uint8_t[::1] out_cls not None,
                 const uint8_t[::1] out_a_basis not None, const uint8_t[::1] out_a_bit not None,
                 const uint8_t[::1] out_b_basis not None, const uint8_t[::1] out_b_bit not None,
                 const uint8_t[::1] out_flags not None, const int64_t[::1] ap_only not None,
                 const double[::1] noclick_prob not None, double_click_flag):
    """The rest of an attacked block after the detector pass, without the GIL.

    ``slot``, ``cls``, ``known_of_event``, ``rel_of_event``: the block's
    primary events (:func:`draw_events`); ``out_*``: the detector pass's
    events (slots strictly increasing); ``ap_only[k]``: its afterpulse-only
    slots per class; ``noclick_prob``: P(k, no click);
    ``double_click_flag``: the bit of ``out_flags`` that marks a double click.

    Returns (sent[K], known[m], guess[m], tally[K, 2, 2, 2], double_clicks,
    eve_tally[4, K], sifted) with
    * ``sent``: pulses sent per class: the primary events' classes, the
      afterpulse-only slots and :func:`sent_rest` (stream (seed, 3, block)) for
      the rest;
    * ``known``, ``guess``: Eve's knowledge and guess of Alice's bit per event.
      An event keeps the slot of its primary click; afterpulse-only slots are
      unknown to her; a RANDOM guess is bit j of stream (guess_seed,
      guess_purpose, block) for event j;
    * ``tally[k, a, b, e]``: events of class k, Alice's basis a, Bob's b,
      e = 1 for a bit error; ``double_clicks``: events with the double-click flag;
    * ``eve_tally``: over the sifted (X-X) events per class: count, known,
      Eve's guess equal to Alice's bit, to Bob's bit;
    * ``sifted``: (class, Alice's bit, known, guess) of the sifted events, in
      slot order."""
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef uint64_t gseed = int_arg("guess_seed", guess_seed, 0, 2**64 - 1)
    cdef uint32_t gpurpose = int_arg("guess_purpose", guess_purpose, 0, 2**32 - 1)
    cdef uint32_t block_ = int_arg("block", block, 0, 2**32 - 1)
    cdef int64_t n_sl = int_arg("n_slots", n_slots, 0, 2**62)
    cdef uint8_t dflag = int_arg("double_click_flag", double_click_flag, 1, 255)
    cdef Py_ssize_t n = slot.shape[0], m = out_slot.shape[0], K = noclick_prob.shape[0]
    cdef Py_ssize_t i, j, p
    if not 1 <= K <= MAX_CLASSES:
        raise ValueError(f"noclick_prob has {K} classes: must be in [1, {MAX_CLASSES}]")
    if ap_only.shape[0] != K:
        raise ValueError(f"ap_only has length {ap_only.shape[0]}, must be {K} (classes)")
    if cls.shape[0] != n or known_of_event.shape[0] != n or rel_of_event.shape[0] != n:
        raise ValueError(f"cls, known_of_event and rel_of_event must have as many entries "
                         f"as slot ({n})")
    for name, arr in (("out_cls", out_cls), ("out_a_basis", out_a_basis),
                      ("out_a_bit", out_a_bit), ("out_b_basis", out_b_basis),
                      ("out_b_bit", out_b_bit), ("out_flags", out_flags)):
        if arr.shape[0] != m:
            raise ValueError(f"{name} has length {arr.shape[0]}, must be {m} (as out_slot)")
    for i in range(n):
        if cls[i] >= K or rel_of_event[i] > RANDOM or known_of_event[i] > 1 \
                or (i > 0 and slot[i] <= slot[i - 1]):
            raise ValueError(f"primary event {i}: slots must be strictly increasing, cls < {K}, "
                             "known 0 or 1, rel in {0, 1, 2}")
    for j in range(m):
        if out_cls[j] >= K or out_a_basis[j] > 1 or out_a_bit[j] > 1 or out_b_basis[j] > 1 \
                or out_b_bit[j] > 1 or (j > 0 and out_slot[j] <= out_slot[j - 1]):
            raise ValueError(f"event {j}: slots must be strictly increasing, cls < {K}, "
                             "bases and bits 0 or 1")
    cdef int64_t ap_total = 0
    for i in range(K):
        if ap_only[i] < 0:
            raise ValueError(f"ap_only[{i}] = {ap_only[i]} must be >= 0")
        ap_total += ap_only[i]
    cdef int64_t n_rest = n_sl - n - ap_total
    if n_rest < 0:
        raise ValueError(f"n_slots = {n_sl} is less than the {n} primary events and "
                         f"{ap_total} afterpulse-only slots")
    sent_np = sent_rest(seed_, block_, n_rest, noclick_prob)
    known_np = np.zeros(m, np.uint8)
    guess_np = np.empty(m, np.uint8)
    tally_np = np.zeros((K, 2, 2, 2), np.int64)
    eve_np = np.zeros((4, K), np.int64)
    cdef int64_t[::1] sent = sent_np
    cdef uint8_t[::1] known = known_np
    cdef uint8_t[::1] guess = guess_np
    cdef int64_t[:, :, :, ::1] tally = tally_np
    cdef int64_t[:, ::1] eve = eve_np
    cdef int64_t doubles = 0, n_sift = 0
    cdef int k, rel, a, e, kn, gu, sift
    cdef uint32_t w = 0
    # Eve's guess from (relation, Alice's bit, coin), without branches: SAME
    # -> a, FLIP -> 1 - a, RANDOM -> coin (the events' relations are random).
    cdef uint8_t guess_of[16]
    for rel in range(4):
        for a in range(2):
            for e in range(2):
                guess_of[rel << 2 | a << 1 | e] = a if rel == SAME else (a ^ 1 if rel == FLIP else e)
    cdef PhiloxStream gs
    stream_init(&gs, gseed, gpurpose, block_)
    s_cls = np.empty(m, np.uint8)
    s_alice = np.empty(m, np.uint8)
    s_known = np.empty(m, np.bool_)
    s_guess = np.empty(m, np.uint8)
    cdef uint8_t[::1] sc = s_cls, sa = s_alice, sg = s_guess
    cdef uint8_t[::1] sk = s_known.view(np.uint8)
    cdef uint8_t[::1] sb = np.empty(m, np.uint8)       # Bob's bit of the sifted events
    with nogil:
        for i in range(n):
            sent[cls[i]] += 1
        for i in range(K):
            sent[i] += ap_only[i]
        p = 0
        for j in range(m):
            if (j & 31) == 0:
                w = next_u32(&gs)
            while p < n and slot[p] < out_slot[j]:
                p += 1
            kn = 0
            rel = RANDOM
            if p < n and slot[p] == out_slot[j]:
                kn = known_of_event[p]
                rel = rel_of_event[p]
            a = out_a_bit[j]
            gu = guess_of[rel << 2 | a << 1 | ((w >> (j & 31)) & 1)]
            known[j] = kn
            guess[j] = gu
            k = out_cls[j]
            e = a ^ out_b_bit[j]
            tally[k, out_a_basis[j], out_b_basis[j], e] += 1
            doubles += (out_flags[j] & dflag) != 0
            # the sifted (X-X) events, written without a branch
            sift = (out_a_basis[j] | out_b_basis[j]) == 0
            sc[n_sift] = k
            sa[n_sift] = a
            sk[n_sift] = kn
            sg[n_sift] = gu
            sb[n_sift] = out_b_bit[j]
            n_sift += sift
        for j in range(n_sift):
            k = sc[j]
            eve[0, k] += 1
            eve[1, k] += sk[j]
            eve[2, k] += sg[j] == sa[j]
            eve[3, k] += sg[j] == sb[j]
    return (sent_np, known_np, guess_np, tally_np, int(doubles), eve_np,
            (s_cls[:n_sift].copy(), s_alice[:n_sift].copy(), s_known[:n_sift].copy(),
             s_guess[:n_sift].copy()))
