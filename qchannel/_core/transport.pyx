"""Event-driven photon transport and detection for prepare-and-measure links.

Cost grows with detection events, not with pulses: within a segment of
constant link parameters the gap to the next slot with at least one primary
click (signal photon or dark count) is drawn from a geometric distribution;
at that slot the intensity class, both bases and which detectors clicked are
drawn jointly, conditionally on a click, from one 64-bit word (guided
inversion over precomputed 64-bit thresholds); Alice's bit is a spare bit of
the gap's word.  Dead time and afterpulsing run as a
sequential pass over the sparse events, in slot order, with state carried from
block to block.  The per-intensity number of pulses sent is exact: classes of
slots without a click are drawn as a multinomial with P(k | no click).

Randomness: stream (seed, TRANSPORT, block) for primary events, (seed,
DETECTOR, block) for the detector pass, (seed, SENT_COUNTS, block) for the
multinomial.  Blocks are fixed slices of slots, so a seed gives identical
events whatever the chunking.

Basis code: 0 = X (key basis), 1 = Z.  Detectors: active basis choice uses
detectors 0 (bit 0) and 1 (bit 1); passive uses 0, 1 (X pair) and 2, 3 (Z pair).
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, realloc, free
from cython.view cimport array as cvarray
from libc.math cimport log, log1p, exp, floor, ceil, sqrt, INFINITY
from libc.float cimport DBL_MAX

from qchannel._core.philox cimport (PhiloxStream, stream_init, next_u32, next_u64, next_double,
                                    WordStream, words_init, next_word)
from qchannel._core.sampling cimport multinomial
from qchannel._core.search cimport find_segment
from qchannel._core.checks cimport int_arg, real_arg, check_len, check_doubles, check_nondecreasing
from qchannel._core.heap cimport Heap, heap_free, heap_init, heap_pop, heap_push

cdef enum:
    MAX_CLASSES = 16
    PURPOSE_TRANSPORT = 1
    PURPOSE_DETECTOR = 2
    PURPOSE_SENT_COUNTS = 3

# Slots are absolute int64 indices; afterpulse heap keys are slot * 4 + detector,
# so slots stay below 2^60.
cdef int64_t MAX_SLOTS = 1LL << 60

cdef enum:
    F_DOUBLE_CLICK = 1
    F_AFTERPULSE = 2
    F_BASIS_TIE = 4

# Bits of the ``flags`` array of a detection record.
FLAG_DOUBLE_CLICK = F_DOUBLE_CLICK   # both detectors of Bob's basis clicked (random bit)
FLAG_AFTERPULSE = F_AFTERPULSE       # an afterpulse added a click to this slot
FLAG_BASIS_TIE = F_BASIS_TIE         # passive: both bases clicked (random basis)

cdef int64_t NEVER = -(1LL << 62)


# Geometric gaps without a log for most words.  The gap of a word is
# floor(log(u) * scale), u its uniform (top 53 bits m: u = (m + 0.5) 2^-53).
# A segment with short gaps (fiber up to ~55 km with the defaults) and many
# events in a draw gets a table over the top GAP_CELL_BITS bits of the word
# (96 KiB, made in ~0.2 ms and cached per gap scale for the rest of the
# run; the afterpulse draws keep theirs in the detector state).  In a cell
# where the gap takes one value k, or k + 1 below a threshold on m, it is
# read from the table; within a margin of the threshold, and in cells with
# more values (small u), the log is computed as before.  The margins
# (GAP_MARGIN in the gap, 2^-30 relative in u) exceed the log's error by
# orders of magnitude, so every gap is the one the log gives: the records
# do not change.  More cells (2^15, up to ~100 km) measured slower: the
# table no longer stays in the L2 cache.
cdef enum:
    GAP_CELL_BITS = 12
    GAP_CELLS = 1 << GAP_CELL_BITS
    GAP_TABLE_MAX_MEAN = 512         # mean gaps above: too few cells with one value
    GAP_TABLE_MIN_EVENTS = 1 << 16   # expected events of a draw below: no table (it costs ~1e4 logs)
cdef double GAP_MARGIN = 2.0 ** -20
GAP_TABLE_CELL_BITS = GAP_CELL_BITS
GAP_TABLE_SCALE_MIN = -GAP_TABLE_MAX_MEAN
cdef double U_SCALE = 1.0 / 9007199254740992.0   # 2^-53


cdef bint _gap_tables_on = True


def _set_gap_tables(bint on):
    """Test and benchmark hook: turn the gap tables off (every gap from the
    log) or on (the default); returns the previous setting."""
    global _gap_tables_on
    cdef bint was = _gap_tables_on
    _gap_tables_on = on
    return was


cdef struct GapCell:
    uint64_t lo        # m < lo: gap k + 1
    uint64_t hi        # lo <= m < hi: compute the log; m >= hi: gap k
    int64_t k


cdef inline int64_t log_gap(uint64_t word, double scale, int64_t room) noexcept nogil:
    """floor(log(u) * scale) for the word's uniform u, or ``room`` where it is
    at least ``room`` (no conversion overflow)."""
    cdef double gap = log(((word >> 11) + 0.5) * (1.0 / 9007199254740992.0)) * scale
    return <int64_t>gap if gap < <double>room else room


cdef void gap_table(double scale, GapCell* cells) noexcept nogil:
    """The cells for gap scale ``scale`` (< 0; see above)."""
    cdef int h
    cdef uint64_t m_min, m_max, width = (<uint64_t>1) << (53 - GAP_CELL_BITS)
    cdef double t_small, t_large, thr
    cdef int64_t k
    for h in range(GAP_CELLS):
        m_min = (<uint64_t>h) * width
        m_max = m_min + width - 1
        t_small = log((m_max + 0.5) * U_SCALE) * scale     # the smallest gap of the cell
        t_large = log((m_min + 0.5) * U_SCALE) * scale     # the largest
        k = <int64_t>t_small
        cells[h].k = k
        cells[h].lo = 0                                    # default: always the log
        cells[h].hi = 0xFFFFFFFFFFFFFFFF
        if t_small - k < GAP_MARGIN:
            continue
        if t_large < k + 1 - GAP_MARGIN:                   # one value
            cells[h].hi = 0
        elif t_large < k + 2 - GAP_MARGIN:                 # k, or k + 1 below u = e^((k+1)/scale)
            thr = exp((k + 1) / scale) / U_SCALE - 0.5
            cells[h].lo = <uint64_t>floor(thr * (1.0 - 2.0 ** -30)) if thr > 0.0 else 0
            cells[h].hi = <uint64_t>ceil(thr * (1.0 + 2.0 ** -30))


_gap_table_cache = {}


cdef bint gap_table_serves(double scale) noexcept nogil:
    """Whether gaps of ``scale`` get a table (tables on, mean gap in range)."""
    return _gap_tables_on and -GAP_TABLE_MAX_MEAN <= scale < 0.0


cdef object cached_gap_table(double scale):
    """The gap table for ``scale`` as a NumPy byte array of GAP_CELLS cells
    (None where gap_table_serves says no), made once per scale (a run's
    segments and its afterpulse draws share a few; at most 64 kept)."""
    if not gap_table_serves(scale):
        return None
    arr = _gap_table_cache.get(scale)
    if arr is None:
        arr = np.empty(GAP_CELLS * sizeof(GapCell), dtype=np.uint8)
        fill_gap_table(scale, arr)
        if len(_gap_table_cache) >= 64:
            _gap_table_cache.clear()
        _gap_table_cache[scale] = arr
    return arr


cdef void fill_gap_table(double scale, cnp.uint8_t[::1] arr):
    with nogil:
        gap_table(scale, <GapCell*>&arr[0])


cdef const GapCell* gap_cells(object table):
    """The cells of a table from cached_gap_table (NULL for None)."""
    cdef cnp.uint8_t[::1] b
    if table is None:
        return NULL
    b = table
    return <const GapCell*>&b[0]


cdef inline bint cell_sure(const GapCell* cell, uint64_t word) noexcept nogil:
    """Whether the word's gap is sure from its cell (else: the log)."""
    return (word >> 11) - cell.lo >= cell.hi - cell.lo


cdef inline int64_t table_gap(const GapCell* cells, uint64_t word, double scale,
                              int64_t room) noexcept nogil:
    """floor(log(u) * scale) for the word's uniform, from ``cells`` (made by
    gap_table for ``scale``; NULL: none) where they are sure, else from the
    log; ``room`` where it is at least ``room``."""
    cdef const GapCell* cell
    if cells != NULL:
        cell = &cells[word >> (64 - GAP_CELL_BITS)]
        if cell_sure(cell, word):
            return cell.k + ((word >> 11) < cell.lo)
    return log_gap(word, scale, room)


def _gap_table_gaps(double scale, const uint64_t[::1] words not None):
    """Test hook: (gap from the table or -1 where the cell defers to the log,
    floor(log(u) * scale)) for each word, for a scale in [-GAP_TABLE_MAX_MEAN, 0)."""
    if not -GAP_TABLE_MAX_MEAN <= scale < 0.0:
        raise ValueError(f"scale = {scale} must be in [-{GAP_TABLE_MAX_MEAN}, 0)")
    cells_np = np.empty(GAP_CELLS * sizeof(GapCell), dtype=np.uint8)
    fill_gap_table(scale, cells_np)
    cdef const GapCell* cells = gap_cells(cells_np)
    cdef Py_ssize_t i, n = words.shape[0]
    table = np.empty(n, dtype=np.int64)
    exact = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] tv = table, ev = exact
    cdef uint64_t w
    for i in range(n):
        w = words[i]
        ev[i] = log_gap(w, scale, MAX_SLOTS)
        tv[i] = table_gap(cells, w, scale, MAX_SLOTS) if cell_sure(
            &cells[w >> (64 - GAP_CELL_BITS)], w) else -1
    return table, exact


cdef class DetectorState:
    """What the detector pass carries from one block to the next: the last
    click of each detector (for dead time) and the pending afterpulses."""
    cdef int64_t last_click[4]
    cdef Heap heap              # pending afterpulses, key = slot * 4 + detector
    cdef public int64_t next_block   # blocks must be fed in order
    cdef public int64_t next_slot    # ... each starting where the last one ended
    cdef int64_t ap_countdown        # primary clicks left before the next afterpulse (-1: draw)
    # gap tables of the afterpulse countdown and delay draws (cached_gap_table;
    # None and NULL: the log) for the scales in ap_scale and delay_scale
    # (1: none yet)
    cdef object ap_table
    cdef object delay_table
    cdef const GapCell* ap_cells
    cdef const GapCell* delay_cells
    cdef double ap_scale
    cdef double delay_scale

    def __cinit__(self):
        cdef int j
        for j in range(4):
            self.last_click[j] = NEVER
        if heap_init(&self.heap) != 0:
            raise MemoryError()
        self.next_block = 0
        self.next_slot = 0
        self.ap_countdown = -1
        self.ap_cells = self.delay_cells = NULL
        self.ap_scale = self.delay_scale = 1.0

    def __dealloc__(self):
        heap_free(&self.heap)

    @property
    def pending_afterpulses(self):
        return int(self.heap.n)


cdef struct EventBuffer:
    int64_t* slot
    uint8_t* cls
    uint8_t* a_basis
    uint8_t* a_bit
    uint8_t* b_basis
    uint8_t* b_bit
    uint8_t* flags
    int64_t n
    int64_t cap
    # Counts of the events written, for the protocol's tally (decoy BB84),
    # made here so that no pass over the records is needed under the GIL:
    # tally[((b_basis * 2 + a_basis) * MAX_CLASSES + cls) * 2 + (a_bit != b_bit)],
    # i.e. (outcome code & 63) * 2 + error.
    int64_t tally[MAX_CLASSES * 8]
    int64_t double_clicks


cdef int buffer_init(EventBuffer* b, int64_t cap) noexcept nogil:
    cdef int i
    if cap < 64:
        cap = 64
    for i in range(MAX_CLASSES * 8):
        b.tally[i] = 0
    b.double_clicks = 0
    b.n = 0
    b.cap = cap
    b.slot = <int64_t*>malloc(cap * sizeof(int64_t))
    b.cls = <uint8_t*>malloc(cap * 6)
    if b.slot == NULL or b.cls == NULL:
        return -1
    b.a_basis = b.cls + cap
    b.a_bit = b.cls + 2 * cap
    b.b_basis = b.cls + 3 * cap
    b.b_bit = b.cls + 4 * cap
    b.flags = b.cls + 5 * cap
    return 0


cdef int buffer_grow(EventBuffer* b) noexcept nogil:
    cdef int64_t cap = 2 * b.cap
    cdef int64_t* slot = <int64_t*>realloc(b.slot, cap * sizeof(int64_t))
    cdef uint8_t* block = <uint8_t*>malloc(cap * 6)
    cdef int f
    cdef int64_t i
    if slot == NULL or block == NULL:
        return -1
    b.slot = slot
    for f in range(6):
        for i in range(b.n):
            block[f * cap + i] = b.cls[f * b.cap + i]
    free(b.cls)
    b.cls = block
    b.a_basis = block + cap
    b.a_bit = block + 2 * cap
    b.b_basis = block + 3 * cap
    b.b_bit = block + 4 * cap
    b.flags = block + 5 * cap
    b.cap = cap
    return 0


cdef void buffer_free(EventBuffer* b) noexcept nogil:
    free(b.slot)
    free(b.cls)


cdef inline int push(EventBuffer* out, int64_t slot, int cls, int a_basis, int a_bit,
                     int b_basis, int bit, int flags) noexcept nogil:
    """Append one event (and count it); -1 on allocation failure."""
    cdef int64_t d = out.n
    if d == out.cap:
        if buffer_grow(out) < 0:
            return -1
    out.slot[d] = slot
    out.cls[d] = cls
    out.a_basis[d] = a_basis
    out.a_bit[d] = a_bit
    out.b_basis[d] = b_basis
    out.b_bit[d] = bit
    out.flags[d] = flags
    out.tally[((b_basis * 2 + a_basis) * MAX_CLASSES + cls) * 2 + (a_bit ^ bit)] += 1
    out.double_clicks += flags & F_DOUBLE_CLICK
    out.n = d + 1
    return 0


cdef tuple buffer_arrays(EventBuffer* b):
    """The buffer's events as NumPy arrays (slot, cls, a_basis, a_bit,
    b_basis, b_bit, flags) that take over its memory (no copy; the buffer is
    left empty)."""
    cdef int64_t m = b.n, cap = b.cap
    if m == 0:
        buffer_free(b)
        return (np.empty(0, np.int64),) + tuple(np.empty(0, np.uint8) for _ in range(6))
    cdef cvarray slot_arr = <int64_t[:cap]>b.slot
    slot_arr.callback_free_data = free
    b.slot = NULL
    cdef cvarray byte_arr = <uint8_t[:6 * cap]>b.cls
    byte_arr.callback_free_data = free
    b.cls = NULL
    fields = np.asarray(byte_arr)
    return (np.asarray(slot_arr)[:m],) + tuple(fields[f * cap:f * cap + m] for f in range(6))


cdef struct Link:
    # Per-run constants and per-segment tables (views into NumPy arrays).
    int n_classes
    int n_det
    int passive
    uint64_t basis_threshold          # P(X) * 2^32
    double afterpulse_prob
    double afterpulse_gap_scale        # 1 / log(1 - afterpulse_prob)
    double afterpulse_tau_gates
    int64_t dead_gates
    int64_t total_slots
    const int64_t* seg_start           # n_seg + 1 boundaries (absolute slots)
    int n_seg
    const double* noclick_prob         # (n_seg, K)


cdef inline int draw_basis(PhiloxStream* s, uint64_t threshold) noexcept nogil:
    return 0 if <uint64_t>next_u32(s) < threshold else 1


cdef inline int draw_class(PhiloxStream* s, const double* probs, int k) noexcept nogil:
    # Inversion over (unnormalised) class probabilities.
    cdef double total = 0.0, u
    cdef int i
    for i in range(k):
        total += probs[i]
    u = next_double(s) * total
    for i in range(k - 1):
        if u < probs[i]:
            return i
        u -= probs[i]
    return k - 1


cdef void afterpulse_tables(DetectorState st, const Link* L):
    """The state's gap tables for the afterpulse countdown and delay draws
    of link ``L`` (looked up once per scale; NULL where a scale has none)."""
    if L.afterpulse_prob <= 0.0:
        return
    if st.ap_scale != L.afterpulse_gap_scale:
        st.ap_table = cached_gap_table(L.afterpulse_gap_scale)
        st.ap_cells = gap_cells(st.ap_table)
        st.ap_scale = L.afterpulse_gap_scale
    if st.delay_scale != -L.afterpulse_tau_gates:
        st.delay_table = cached_gap_table(-L.afterpulse_tau_gates)
        st.delay_cells = gap_cells(st.delay_table)
        st.delay_scale = -L.afterpulse_tau_gates


cdef int64_t AP_NO_MEMORY = -2


cdef int64_t afterpulse_clicks(const Link* L, DetectorState st, PhiloxStream* ds, int64_t slot,
                               int primary, int64_t countdown) noexcept nogil:
    """The afterpulses the primary clicks ``primary`` (detector bit mask) in
    ``slot`` trigger, pushed on the state's heap; returns the countdown of
    primary clicks to the next trigger (-1: to be drawn), AP_NO_MEMORY on
    allocation failure.
    Only primary (signal or dark) avalanches trigger afterpulses: no cascade,
    as in the detection model of Lim et al., PRA 89, 022307 (2014).  Which
    primary clicks trigger one is drawn as geometric gaps over the sequence
    of primary clicks (Bernoulli(p_ap) each), not one draw per click."""
    cdef int j, rest = primary
    cdef int64_t delay
    while rest:
        j = 0
        while not (rest >> j) & 1:
            j += 1
        rest &= rest - 1
        if countdown < 0:       # floor(log(u) * gap scale), u = next_double
            countdown = table_gap(st.ap_cells, next_u64(ds), L.afterpulse_gap_scale, MAX_SLOTS)
        if countdown > 0:
            countdown -= 1
        else:
            countdown = -1
            delay = 1           # 1 + floor(-tau log(u)), u = next_double
            if L.afterpulse_tau_gates > 0.0:
                delay += table_gap(st.delay_cells, next_u64(ds), -L.afterpulse_tau_gates,
                                   L.total_slots - slot)
            if delay < L.total_slots - slot:
                if heap_push(&st.heap, (slot + delay) * 4 + j) < 0:
                    return AP_NO_MEMORY
    return countdown


cdef inline int emit(EventBuffer* out, const Link* L, DetectorState st, PhiloxStream* ds,
              int64_t slot, int cls, int a_basis, int a_bit, int b_basis,
              int primary, int afterpulse) noexcept nogil:
    """Detector pass for one slot: dead time, afterpulse scheduling, squashing.
    ``primary`` and ``afterpulse`` are bit masks of detectors.  Returns -1 on
    allocation failure."""
    cdef int j, live, clicks, pair, flags = 0, bit
    if L.dead_gates > 0:
        live = 0
        for j in range(L.n_det):
            if slot - st.last_click[j] > L.dead_gates:
                live |= 1 << j
        primary &= live
        afterpulse &= live
        clicks = primary | afterpulse
        if clicks == 0:
            return 0
        for j in range(L.n_det):
            if clicks & (1 << j):
                st.last_click[j] = slot
    else:
        clicks = primary | afterpulse
    if L.afterpulse_prob > 0.0:
        st.ap_countdown = afterpulse_clicks(L, st, ds, slot, primary, st.ap_countdown)
        if st.ap_countdown == AP_NO_MEMORY:
            return -1
    if afterpulse & ~primary:
        flags |= F_AFTERPULSE
    if L.passive:
        pair = clicks & 3
        if pair and (clicks >> 2):
            flags |= F_BASIS_TIE
            b_basis = next_u32(ds) & 1
        else:
            b_basis = 0 if pair else 1
        pair = (clicks >> (2 * b_basis)) & 3
    else:
        pair = clicks
    if pair == 3:
        flags |= F_DOUBLE_CLICK
        bit = next_u32(ds) & 1      # squashing: a double click gets a random bit
    else:
        bit = pair >> 1
    return push(out, slot, cls, a_basis, a_bit, b_basis, bit, flags)


cdef int flush_afterpulses(EventBuffer* out, const Link* L, DetectorState st, PhiloxStream* ds,
                           int64_t before, int64_t* ap_only) noexcept nogil:
    """Emit pending afterpulses that land before ``before`` in slots without a
    primary click; their slot's attributes are drawn conditionally on no click."""
    cdef int64_t slot
    cdef int mask, seg, cls, a_basis, a_bit, b_basis
    while st.heap.n > 0 and (st.heap.a[0] >> 2) < before:
        slot = st.heap.a[0] >> 2
        mask = 0
        while st.heap.n > 0 and (st.heap.a[0] >> 2) == slot:
            mask |= 1 << (heap_pop(&st.heap) & 3)
        seg = find_segment(L.seg_start, L.n_seg, slot)
        cls = draw_class(ds, L.noclick_prob + seg * L.n_classes, L.n_classes)
        a_basis = draw_basis(ds, L.basis_threshold)
        a_bit = next_u32(ds) & 1
        b_basis = draw_basis(ds, L.basis_threshold)
        ap_only[seg * L.n_classes + cls] += 1
        if emit(out, L, st, ds, slot, cls, a_basis, a_bit, b_basis, 0, mask) < 0:
            return -1
    return 0


cdef class _Spare:
    """Buffers of a carried block, kept for reuse (see PrimaryEvents.__dealloc__)."""
    cdef int64_t* slot
    cdef uint16_t* word
    cdef int64_t cap

    def __cinit__(self):
        self.slot = NULL
        self.word = NULL

    def __dealloc__(self):
        free(self.slot)
        free(self.word)


# Spare draw buffers (list operations run under the GIL, so threads share it
# safely), at most MAX_SPARE_BYTES in all.
cdef list _spares = []
cdef int64_t _spare_bytes = 0
cdef int64_t MAX_SPARE_BYTES = 64 << 20


cdef int take_spare(PrimaryEvents ev, int64_t cap) except -1:
    """Give ``ev`` the buffers of a spare with at least ``cap`` events (1), or none (0)."""
    global _spare_bytes
    cdef _Spare sp
    cdef Py_ssize_t i
    for i in range(len(_spares) - 1, -1, -1):
        sp = _spares[i]
        if sp.cap >= cap:
            del _spares[i]
            _spare_bytes -= sp.cap * (sizeof(int64_t) + sizeof(uint16_t))
            ev.slot, ev.word, ev.cap = sp.slot, sp.word, sp.cap
            sp.slot = NULL
            sp.word = NULL
            return 1
    return 0


cdef class PrimaryEvents:
    """The independent part of one block (:func:`draw_block`): the slots with
    a primary click and their joint outcome, with the block's validated
    constants and tables.  Only :func:`draw_block` makes a usable one;
    :func:`carry_block` runs the sequential detector pass over it."""
    cdef int64_t* slot
    cdef uint16_t* word          # outcome code (click mask in the detector frame) | a_bit << 10
    cdef int64_t n
    cdef int64_t cap
    cdef Link L
    cdef uint64_t seed
    cdef uint32_t block
    cdef int64_t start
    cdef int64_t n_slots
    cdef object primary_np       # (g1 - g0, K) primary clicks per segment and class
    cdef int64_t* primary        # its data: row g - g0 is segment g
    cdef int g0, g1              # the segments the block overlaps: [g0, g1)
    cdef const int64_t[::1] seg_start
    cdef const double[:, ::1] noclick
    cdef bint ready

    def __cinit__(self):
        self.slot = NULL
        self.word = NULL
        self.n = 0
        self.cap = 0
        self.ready = False

    def __dealloc__(self):
        # Keep the buffers for the next block's draw: fresh memory costs page
        # faults and zeroing (a few ns per event), reused memory none.
        global _spare_bytes
        cdef int64_t size = self.cap * (sizeof(int64_t) + sizeof(uint16_t))
        cdef _Spare sp
        if self.slot != NULL and self.word != NULL and _spare_bytes + size <= MAX_SPARE_BYTES:
            sp = _Spare.__new__(_Spare)
            sp.slot, sp.word, sp.cap = self.slot, self.word, self.cap
            _spares.append(sp)
            _spare_bytes += size
        else:
            free(self.slot)
            free(self.word)

    def __len__(self):
        return int(self.n)

    @property
    def block(self):
        return int(self.block)


cdef int events_grow(PrimaryEvents ev) noexcept nogil:
    cdef int64_t cap = 2 * ev.cap if ev.cap >= 64 else 64
    cdef int64_t* slot = <int64_t*>realloc(ev.slot, cap * sizeof(int64_t))
    if slot == NULL:
        return -1
    ev.slot = slot
    cdef uint16_t* word = <uint16_t*>realloc(ev.word, cap * sizeof(uint16_t))
    if word == NULL:
        return -1
    ev.word = word
    ev.cap = cap
    return 0


cdef int check_order(DetectorState state, uint32_t block, int64_t start) except -1:
    if state.next_block != block:
        raise ValueError(f"block = {block}: blocks must be simulated in order, "
                         f"expected block {state.next_block}")
    if state.next_block > 0 and state.next_slot != start:
        raise ValueError(f"block_start = {start}: the previous block ended at slot "
                         f"{state.next_slot}")
    return 0


cdef struct DrawTables:
    # The validated tables of a draw (views into the caller's NumPy arrays).
    const int64_t* seg_start
    const double* gap_scale
    const uint64_t* outcome_thr        # (n_seg, n_out)
    const uint16_t* outcome_guide      # (n_seg, guide_len)
    const uint16_t* code               # (n_out, 2): the outcome's code for Alice's bit 0 and 1
    int n_seg
    int n_out
    int guide_len
    int guide_shift
    int K
    const GapCell** cells              # segment g's gap table at cells[g - g_lo], or NULL
    int g_lo


cdef int draw_events(PrimaryEvents ev, const DrawTables* T) noexcept nogil:
    """The primary clicks of one block (``ev``'s seed, block and slots) into
    ``ev``'s buffers, from the stream (seed, TRANSPORT, block) alone; -1 on
    allocation failure."""
    cdef WordStream ts
    words_init(&ts, ev.seed, PURPOSE_TRANSPORT, ev.block)
    cdef int64_t start = ev.start
    cdef int64_t block_end = start + ev.n_slots
    cdef int64_t pos, seg_end, slot, n = 0
    cdef int g, mask, o, c, k
    cdef int n_out = T.n_out, guide_shift = T.guide_shift, K = T.K, n_seg = T.n_seg
    cdef uint64_t u, word
    cdef double gap, scale
    cdef const uint64_t* othr
    cdef const uint16_t* guide
    cdef const uint16_t* code = T.code
    cdef const int64_t* seg_start = T.seg_start
    cdef int64_t* primary_k
    cdef int64_t* out_slot = ev.slot
    cdef uint16_t* out_word = ev.word
    cdef int64_t out_cap = ev.cap
    # primary clicks per class of the current segment: a local array, which
    # no store through the output pointers can alias (kept in L1, no reloads)
    cdef int64_t cnt[MAX_CLASSES]
    for k in range(MAX_CLASSES):
        cnt[k] = 0
    cdef const GapCell* cells
    cdef int64_t igap, room
    g = find_segment(seg_start, n_seg, start)
    pos = start
    while g < n_seg and pos < block_end:
        seg_end = seg_start[g + 1] if seg_start[g + 1] < block_end else block_end
        scale = T.gap_scale[g]
        othr = T.outcome_thr + <int64_t>g * n_out
        guide = T.outcome_guide + <int64_t>g * T.guide_len
        primary_k = ev.primary + <int64_t>(g - ev.g0) * K
        cells = T.cells[g - T.g_lo]
        if scale < 0.0:
            while True:
                # Geometric gap to the next slot with a primary click: the
                # top 53 bits of one word; its lowest bit is Alice's bit.
                word = next_word(&ts)
                room = seg_end - pos
                igap = table_gap(cells, word, scale, room)
                if igap >= room:
                    break
                slot = pos + igap
                pos = slot + 1
                # Everything else about the slot, jointly, from one word.
                u = next_word(&ts)
                o = guide[u >> guide_shift]
                # The guide leaves at most a step or two: take them without
                # branches (a random branch costs more than the compare).
                o += (o < n_out - 1) & (u >= othr[o])
                o += (o < n_out - 1) & (u >= othr[o])
                while o < n_out - 1 and u >= othr[o]:
                    o += 1
                # Alice's bit: the gap word's lowest bit.
                c = code[2 * o + (word & 1)]
                cnt[c & 15] += 1
                if n == out_cap:
                    ev.n = n
                    if events_grow(ev) < 0:
                        return -1
                    out_slot = ev.slot
                    out_word = ev.word
                    out_cap = ev.cap
                out_slot[n] = slot
                out_word[n] = <uint16_t>c
                n += 1
        for k in range(K):
            primary_k[k] += cnt[k]
            cnt[k] = 0
        pos = seg_end
        g += 1
    ev.n = n
    return 0


cdef list draw_list(seed, list spans, const int64_t[::1] seg_start,
                    const double[::1] gap_scale, const uint64_t[:, ::1] outcome_thr,
                    const uint16_t[:, ::1] outcome_guide, const uint16_t[::1] outcome_code,
                    const double[:, ::1] noclick_prob, n_det, key_basis_prob, afterpulse_prob,
                    afterpulse_tau_gates, dead_gates, total_slots):
    """Checks every argument, then draws the blocks ``spans`` = [(block,
    start, n_slots, expected events)] in one section without the GIL."""
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef int64_t total = int_arg("total_slots", total_slots, 0, MAX_SLOTS)
    cdef int n_det_ = int_arg("n_det", n_det, 2, 4)
    cdef double basis_p = real_arg("key_basis_prob", key_basis_prob, 0.0, 1.0)
    cdef double ap_p = real_arg("afterpulse_prob", afterpulse_prob, 0.0, 1.0)
    cdef double ap_tau = real_arg("afterpulse_tau_gates", afterpulse_tau_gates, 0.0, INFINITY)
    cdef int64_t dead = int_arg("dead_gates", dead_gates, 0, MAX_SLOTS)
    cdef Py_ssize_t n_seg_ = gap_scale.shape[0]
    cdef Py_ssize_t n_out_ = outcome_code.shape[0]
    cdef Py_ssize_t guide_len_ = outcome_guide.shape[1]
    cdef Py_ssize_t K_ = noclick_prob.shape[1]
    cdef Py_ssize_t i
    if n_det_ == 3:
        raise ValueError("n_det = 3 is not allowed: must be 2 (active basis choice) or 4 (passive)")
    if not 1 <= n_seg_ <= 2**30:
        raise ValueError(f"gap_scale has {n_seg_} segments: must be in [1, 2**30]")
    check_len("seg_start", seg_start.shape[0], n_seg_ + 1)
    check_len("outcome_thr rows", outcome_thr.shape[0], n_seg_)
    check_len("outcome_guide rows", outcome_guide.shape[0], n_seg_)
    check_len("noclick_prob rows", noclick_prob.shape[0], n_seg_)
    check_len("outcome_thr columns", outcome_thr.shape[1], n_out_)
    if not 1 <= K_ <= MAX_CLASSES:
        raise ValueError(f"noclick_prob has {K_} classes: must be in [1, {MAX_CLASSES}]")
    if n_out_ < 1:
        raise ValueError("outcome_code must not be empty")
    # a power of two >= 2, so that the guide index u >> (64 - log2 M) is a shift below 64
    if not (2 <= guide_len_ <= 65536 and (guide_len_ & (guide_len_ - 1)) == 0):
        raise ValueError(f"outcome_guide has {guide_len_} columns: must be a power of 2 "
                         "in [2, 65536]")
    check_nondecreasing("seg_start", &seg_start[0], n_seg_ + 1)
    for i in range(n_out_):
        if (outcome_code[i] & 15) >= K_ or (outcome_code[i] >> 6) >= (1 << n_det_):
            raise ValueError(f"outcome_code[{i}] = {outcome_code[i]}: class must be below "
                             f"{K_} and click mask below {1 << n_det_}")
    cdef int64_t lo = total, hi = 0, start, n_sl
    cdef uint32_t block_
    blocks = []
    for span in spans:
        block_ = int_arg("block", span[0], 0, 2**32 - 1)
        start = int_arg("block_start", span[1], 0, total)
        n_sl = int_arg("n_slots", span[2], 0, total - start)
        real_arg("expected_events", span[3], 0.0, INFINITY)
        if seg_start[0] > start or seg_start[n_seg_] < start + n_sl:
            raise ValueError(f"slots [{start}, {start + n_sl}) are not inside the segments "
                             f"[{seg_start[0]}, {seg_start[n_seg_]})")
        lo = min(lo, start)
        hi = max(hi, start + n_sl)
        blocks.append((block_, start, n_sl, float(span[3])))
    if not blocks:
        return []
    # Per-segment tables: only the rows of the segments these blocks touch are
    # read, so only those are checked (a long run has many segments and blocks).
    cdef int g_lo = find_segment(&seg_start[0], <int>n_seg_, lo)
    cdef int g_hi = find_segment(&seg_start[0], <int>n_seg_, hi - 1 if hi > lo else lo)
    cdef const uint16_t* gp = &outcome_guide[g_lo, 0]
    check_doubles("gap_scale", &gap_scale[g_lo], g_hi - g_lo + 1, -DBL_MAX, 0.0)
    check_doubles("noclick_prob", &noclick_prob[g_lo, 0], (g_hi - g_lo + 1) * K_, 0.0, 1.0)
    for i in range((g_hi - g_lo + 1) * guide_len_):
        if gp[i] >= n_out_:
            raise ValueError(f"outcome_guide[{g_lo + i // guide_len_}, {i % guide_len_}] = "
                             f"{gp[i]} must be below the number of outcomes {n_out_}")

    # Alice's frame -> detectors: for bit 1, the clicks swap within each pair
    # and the code carries the bit (1 << 10).
    code_np = np.empty((n_out_, 2), dtype=np.uint16)
    cdef uint16_t[:, ::1] codes = code_np
    cdef int mask
    for i in range(n_out_):
        mask = outcome_code[i] >> 6
        mask = ((mask & 5) << 1) | ((mask & 10) >> 1)
        codes[i, 0] = outcome_code[i]
        codes[i, 1] = (outcome_code[i] & 63) | (mask << 6) | 1024
    cdef DrawTables T
    T.seg_start = &seg_start[0]
    T.gap_scale = &gap_scale[0]
    T.outcome_thr = &outcome_thr[0, 0]
    T.outcome_guide = &outcome_guide[0, 0]
    T.code = &codes[0, 0]
    T.n_seg = <int>n_seg_
    T.n_out = <int>n_out_
    T.guide_len = <int>guide_len_
    T.K = <int>K_
    T.guide_shift = 64
    while (1 << (64 - T.guide_shift)) < T.guide_len:
        T.guide_shift -= 1
    # Gap tables for the segments with many expected events in these blocks
    # (a table costs about as much as 10^4 gaps drawn with the log; it is
    # cached per gap scale for the rest of the run).
    cdef int n_touched = g_hi - g_lo + 1
    cdef int64_t seg_lo, seg_hi, inside
    cdef double need
    touched = [None] * n_touched
    cdef const GapCell** cells = <const GapCell**>malloc(n_touched * sizeof(GapCell*))
    if cells == NULL:
        raise MemoryError()
    for g in range(g_lo, g_hi + 1):
        cells[g - g_lo] = NULL
        need = GAP_TABLE_MIN_EVENTS * (1.0 - gap_scale[g])
        # the segment's own length first: a pass's short bins skip the blocks' loop
        if not gap_table_serves(gap_scale[g]) or seg_start[g + 1] - seg_start[g] <= need:
            continue
        inside = 0
        for block_, start, n_sl, exp_ev in blocks:
            seg_lo = max(seg_start[g], start)
            seg_hi = min(seg_start[g + 1], start + n_sl)
            inside += max(0, seg_hi - seg_lo)
        if inside > need:
            touched[g - g_lo] = cached_gap_table(gap_scale[g])
            cells[g - g_lo] = gap_cells(touched[g - g_lo])
    T.cells = cells
    T.g_lo = g_lo
    try:
        return draw_spans(seed_, blocks, &T, n_det_, basis_p, ap_p, ap_tau, dead, total,
                          seg_start, noclick_prob)
    finally:
        free(cells)


cdef list draw_spans(uint64_t seed_, list blocks, const DrawTables* T, int n_det_, double basis_p, double ap_p,
                     double ap_tau, int64_t dead, int64_t total,
                     const int64_t[::1] seg_start, const double[:, ::1] noclick_prob):
    """The blocks of draw_list, drawn with the checked tables ``T``."""
    cdef PrimaryEvents ev
    cdef int64_t[:, ::1] primary
    cdef double cap
    cdef list out = []
    cdef uint32_t block_
    cdef int64_t start, n_sl
    for block_, start, n_sl, exp_ev in blocks:
        ev = PrimaryEvents()
        ev.L.n_classes = T.K
        ev.L.n_det = n_det_
        ev.L.passive = n_det_ == 4
        ev.L.basis_threshold = <uint64_t>(basis_p * 4294967296.0)
        ev.L.afterpulse_prob = ap_p
        ev.L.afterpulse_gap_scale = 1.0 / log1p(-ap_p) if 0.0 < ap_p < 1.0 else -0.0
        ev.L.afterpulse_tau_gates = ap_tau
        ev.L.dead_gates = dead
        ev.L.total_slots = total
        ev.L.seg_start = &seg_start[0]
        ev.L.n_seg = T.n_seg
        ev.L.noclick_prob = &noclick_prob[0, 0]
        ev.seg_start = seg_start          # keeps the tables alive for carry_block
        ev.noclick = noclick_prob
        ev.seed = seed_
        ev.block = block_
        ev.start = start
        ev.n_slots = n_sl
        # only the block's own segments (a pass has tens of thousands)
        ev.g0 = find_segment(&seg_start[0], T.n_seg, start)
        ev.g1 = find_segment(&seg_start[0], T.n_seg, start + n_sl - 1 if n_sl > 0 else start) + 1
        ev.primary_np = np.zeros((ev.g1 - ev.g0, T.K), dtype=np.int64)
        primary = ev.primary_np
        ev.primary = &primary[0, 0]
        # initial capacity from the expected count, never above one event per slot
        cap = exp_ev * 1.1 + 10.0 * sqrt(exp_ev)
        if cap > <double>n_sl:
            cap = <double>n_sl
        if not take_spare(ev, <int64_t>cap + 64):
            ev.cap = <int64_t>cap + 64
            ev.slot = <int64_t*>malloc(ev.cap * sizeof(int64_t))
            ev.word = <uint16_t*>malloc(ev.cap * sizeof(uint16_t))
            if ev.slot == NULL or ev.word == NULL:
                raise MemoryError()
        out.append(ev)
    cdef Py_ssize_t m = len(out), j
    cdef void** evs = <void**>malloc(m * sizeof(void*))
    cdef int err = 0
    if evs == NULL:
        raise MemoryError()
    for j in range(m):
        evs[j] = <void*>out[j]            # kept alive by ``out``
    with nogil:
        for j in range(m):
            if draw_events(<PrimaryEvents>evs[j], T) < 0:
                err = 1
                break
    free(evs)
    if err:
        raise MemoryError("out of memory in the transport kernel")
    for ev in out:
        ev.ready = True
    return out


def draw_block(seed, block, block_start, n_slots,
               const int64_t[::1] seg_start not None, const double[::1] gap_scale not None,
               const uint64_t[:, ::1] outcome_thr not None,
               const uint16_t[:, ::1] outcome_guide not None,
               const uint16_t[::1] outcome_code not None,
               const double[:, ::1] noclick_prob not None,
               n_det, key_basis_prob, afterpulse_prob, afterpulse_tau_gates, dead_gates,
               total_slots, expected_events=0.0):
    """The independent part of :func:`run_block` (same arguments, no state):
    the slots of block ``block`` with a primary click, drawn from the stream
    (seed, TRANSPORT, block) alone, so blocks may be drawn on any thread in
    any order.  Returns a :class:`PrimaryEvents` for :func:`carry_block`.
    The GIL is released while drawing."""
    return draw_list(seed, [(block, block_start, n_slots, expected_events)], seg_start,
                     gap_scale, outcome_thr, outcome_guide, outcome_code, noclick_prob, n_det,
                     key_basis_prob, afterpulse_prob, afterpulse_tau_gates, dead_gates,
                     total_slots)[0]


def draw_blocks(seed, block, n_blocks, block_size,
                const int64_t[::1] seg_start not None, const double[::1] gap_scale not None,
                const uint64_t[:, ::1] outcome_thr not None,
                const uint16_t[:, ::1] outcome_guide not None,
                const uint16_t[::1] outcome_code not None,
                const double[:, ::1] noclick_prob not None,
                n_det, key_basis_prob, afterpulse_prob, afterpulse_tau_gates, dead_gates,
                total_slots, event_rate=0.0):
    """:func:`draw_block` for ``n_blocks`` consecutive blocks ``block``,
    ``block`` + 1, ... of ``block_size`` slots (block b covers slots [b *
    block_size, min((b + 1) * block_size, total_slots))), checked once and
    drawn in one section without the GIL: a list of :class:`PrimaryEvents`,
    the same as one :func:`draw_block` per block (``event_rate``: expected
    events per slot, for the buffers' first size)."""
    cdef int64_t b0 = int_arg("block", block, 0, 2**32 - 1)
    cdef int64_t nb = int_arg("n_blocks", n_blocks, 1, 2**32 - b0)
    cdef int64_t size = int_arg("block_size", block_size, 1, MAX_SLOTS)
    cdef int64_t total = int_arg("total_slots", total_slots, 0, MAX_SLOTS)
    cdef double rate = real_arg("event_rate", event_rate, 0.0, 1.0)
    if (b0 + nb - 1) * size >= total:
        raise ValueError(f"blocks {b0}..{b0 + nb - 1} of {size} slots: the last one starts "
                         f"past total_slots = {total}")
    spans = []
    cdef int64_t b, start, n
    for b in range(b0, b0 + nb):
        start = b * size
        n = min(size, total - start)
        spans.append((b, start, n, rate * n))
    return draw_list(seed, spans, seg_start, gap_scale, outcome_thr, outcome_guide,
                     outcome_code, noclick_prob, n_det, key_basis_prob, afterpulse_prob,
                     afterpulse_tau_gates, dead_gates, total_slots)


cdef int carry_events(PrimaryEvents ev, DetectorState state, EventBuffer* out, int64_t* sent,
                      int64_t* ap_only, int64_t* seg_counts) noexcept nogil:
    """The detector pass of one drawn block, appended to ``out``, and its
    pulses sent per class added to ``sent``; ``ap_only`` (n_seg * K, of which
    the rows of the block's segments are used) and ``seg_counts`` (K) are
    scratch.  -1 on allocation failure."""
    cdef const Link* L = &ev.L
    cdef int K = L.n_classes, n_seg = L.n_seg
    cdef PhiloxStream ds, cs
    stream_init(&ds, ev.seed, PURPOSE_DETECTOR, ev.block)
    stream_init(&cs, ev.seed, PURPOSE_SENT_COUNTS, ev.block)
    cdef const int64_t* seg_start = L.seg_start
    cdef const int64_t* primary = ev.primary
    cdef int64_t i, n = ev.n, slot, rest, seg_lo, seg_hi
    cdef int64_t block_start = ev.start, block_end = ev.start + ev.n_slots
    cdef int c, g, k, ap_mask
    cdef const int64_t* ev_slot = ev.slot
    cdef const uint16_t* ev_word = ev.word
    # Afterpulse-only slots of this block lie in its own segments [g0, g1):
    # the previous block flushed every afterpulse before this block's start.
    for i in range(ev.g0 * K, ev.g1 * K):
        ap_only[i] = 0
    # Fast path of the default detector (active basis choice, no dead time):
    # a slot before the next pending afterpulse needs no dead-time
    # bookkeeping and no draw but the afterpulse triggers of its clicks and a
    # double click's random bit; the same numbers, drawn in the same order,
    # as emit().
    cdef bint simple = L.dead_gates == 0 and not L.passive
    cdef bint ap_on = L.afterpulse_prob > 0.0
    cdef int mask, npc, bit, flags, t
    # The fast loop keeps its state in locals (a store through the byte
    # arrays could alias any field reached through a pointer, which would
    # force reloads) and syncs it back before the general path runs.
    cdef int64_t next_ap, countdown, d, cap
    cdef int64_t* o_slot
    cdef uint8_t* o_cls
    cdef uint8_t* o_ab
    cdef uint8_t* o_abit
    cdef uint8_t* o_bb
    cdef uint8_t* o_bbit
    cdef uint8_t* o_flags
    cdef int64_t tl[MAX_CLASSES * 8]      # the fast loop's tally, added to out's at the end
    cdef int64_t doubles = 0
    for t in range(MAX_CLASSES * 8):
        tl[t] = 0
    i = 0
    while i < n:
        if simple:
            next_ap = (state.heap.a[0] >> 2) if state.heap.n > 0 else MAX_SLOTS
            countdown = state.ap_countdown if ap_on else MAX_SLOTS
            d, cap = out.n, out.cap
            o_slot, o_cls, o_ab, o_abit = out.slot, out.cls, out.a_basis, out.a_bit
            o_bb, o_bbit, o_flags = out.b_basis, out.b_bit, out.flags
            while i < n and d < cap:
                slot = ev_slot[i]
                c = ev_word[i]
                mask = (c >> 6) & 3
                npc = (mask & 1) + (mask >> 1)
                if slot >= next_ap:
                    break
                if countdown >= npc:
                    countdown -= npc
                else:       # a click triggers an afterpulse, or the countdown is drawn
                    countdown = afterpulse_clicks(L, state, &ds, slot, mask, countdown)
                    if countdown == AP_NO_MEMORY:
                        return -1
                    next_ap = (state.heap.a[0] >> 2) if state.heap.n > 0 else MAX_SLOTS
                if mask == 3:
                    flags = F_DOUBLE_CLICK
                    bit = next_u32(&ds) & 1
                    doubles += 1
                else:
                    flags = 0
                    bit = mask >> 1
                o_slot[d] = slot
                o_cls[d] = c & 15
                o_ab[d] = (c >> 4) & 1
                o_abit[d] = c >> 10
                o_bb[d] = (c >> 5) & 1
                o_bbit[d] = bit
                o_flags[d] = flags
                tl[(c & 63) * 2 + ((c >> 10) ^ bit)] += 1
                d += 1
                i += 1
            out.n = d
            if ap_on:
                state.ap_countdown = countdown
            if i == n:
                break
        # Detector pass, in slot order: earlier afterpulses first.
        slot = ev_slot[i]
        c = ev_word[i]
        ap_mask = 0
        if state.heap.n > 0:
            if flush_afterpulses(out, L, state, &ds, slot, ap_only) < 0:
                return -1
            while state.heap.n > 0 and (state.heap.a[0] >> 2) == slot:
                ap_mask |= 1 << (heap_pop(&state.heap) & 3)
        if emit(out, L, state, &ds, slot, c & 15, (c >> 4) & 1, c >> 10, (c >> 5) & 1,
                (c >> 6) & 15, ap_mask) < 0:
            return -1
        i += 1
    for t in range(MAX_CLASSES * 8):
        out.tally[t] += tl[t]
    out.double_clicks += doubles
    if flush_afterpulses(out, L, state, &ds, block_end, ap_only) < 0:
        return -1
    # Exact per-class counts of pulses sent: slots with events keep their
    # drawn class; the rest of each segment is a multinomial draw.
    for g in range(ev.g0, ev.g1):
        seg_lo = seg_start[g] if seg_start[g] > block_start else block_start
        seg_hi = seg_start[g + 1] if seg_start[g + 1] < block_end else block_end
        if seg_hi <= seg_lo:
            continue
        rest = seg_hi - seg_lo
        for k in range(K):
            rest -= primary[(g - ev.g0) * K + k] + ap_only[g * K + k]
            sent[k] += primary[(g - ev.g0) * K + k] + ap_only[g * K + k]
        multinomial(&cs, rest, L.noclick_prob + g * K, K, seg_counts)
        for k in range(K):
            sent[k] += seg_counts[k]
    state.next_block = ev.block + 1
    state.next_slot = block_end
    return 0


cdef void bin_kinds(const EventBuffer* out, int64_t first_bin, int64_t bin_slots,
                    int64_t* counts) noexcept nogil:
    """Per time bin of ``bin_slots`` slots (bin index - first_bin), the events
    of ``out`` (slots increasing) of four kinds: bases differ (0), both in
    basis 1 (1), both in basis 0 with equal bits (2), with different bits (3)."""
    cdef int64_t i, b = 0, edge = (first_bin + 1) * bin_slots
    cdef int same, x
    for i in range(out.n):
        while out.slot[i] >= edge:
            b += 1
            edge += bin_slots
        # branch-free: the bases are random, a branch on them mispredicts
        same = out.a_basis[i] == out.b_basis[i]
        x = same & (out.a_basis[i] == 0)
        counts[4 * b + same + x + (x & (out.a_bit[i] != out.b_bit[i]))] += 1


cdef tuple carry_list(list events, DetectorState state, int64_t bin_slots=0):
    """Detector pass of consecutive drawn blocks, in order, into one buffer:
    (slot, cls, a_basis, a_bit, b_basis, b_bit, flags, sent, tally, double_clicks),
    and with ``bin_slots`` > 0 (first bin, per-bin kinds (n, 4), see bin_kinds)."""
    cdef Py_ssize_t m = len(events), j
    cdef PrimaryEvents ev
    cdef int K = 0, max_seg = 0
    cdef int64_t total = 0, block, start
    if m == 0:
        raise ValueError("events: no blocks to carry")
    block, start = state.next_block, state.next_slot
    for j in range(m):
        ev = events[j]
        if ev is None or not ev.ready:
            raise ValueError("events: not drawn by draw_block, or already carried")
        if j == 0:
            check_order(state, ev.block, ev.start)
            K = ev.L.n_classes
        elif ev.block != block or ev.start != start:
            raise ValueError(f"events[{j}] is block {ev.block} at slot {ev.start}: blocks must "
                             f"be consecutive (expected block {block} at slot {start})")
        elif ev.L.n_classes != K:
            raise ValueError(f"events[{j}] has {ev.L.n_classes} classes, events[0] {K}")
        block, start = ev.block + 1, ev.start + ev.n_slots
        if ev.L.n_seg > max_seg:
            max_seg = ev.L.n_seg
        total += ev.n
    sent_np = np.zeros(K, dtype=np.int64)
    scratch_np = np.zeros(max_seg * K + K, dtype=np.int64)
    cdef int64_t[::1] sent = sent_np
    cdef int64_t[::1] scratch = scratch_np
    cdef EventBuffer out
    cdef int err = 0
    if buffer_init(&out, total + total // 8 + 64) < 0:
        buffer_free(&out)
        raise MemoryError()
    for j in range(m):
        ev = events[j]
        ev.ready = False
        afterpulse_tables(state, &ev.L)
        with nogil:
            err = carry_events(ev, state, &out, &sent[0], &scratch[K], &scratch[0])
        if err:
            buffer_free(&out)
            raise MemoryError("out of memory in the transport kernel")
    # [b, a, class, error] -> [class, a, b, error]
    tally = np.asarray(<int64_t[:MAX_CLASSES * 8]>out.tally).reshape(2, 2, MAX_CLASSES, 2)
    tally = np.ascontiguousarray(tally[:, :, :K, :].transpose(2, 1, 0, 3))
    double_clicks = int(out.double_clicks)
    if bin_slots <= 0:
        return buffer_arrays(&out) + (sent_np, tally, double_clicks)
    cdef int64_t first_bin = (<PrimaryEvents>events[0]).start // bin_slots
    cdef int64_t end = (<PrimaryEvents>events[m - 1]).start + (<PrimaryEvents>events[m - 1]).n_slots
    cdef int64_t n_bins = (end - 1) // bin_slots + 1 - first_bin if end > 0 else 1
    bins_np = np.zeros((n_bins, 4), dtype=np.int64)
    cdef int64_t[:, ::1] bins = bins_np
    with nogil:
        bin_kinds(&out, first_bin, bin_slots, &bins[0, 0])
    return buffer_arrays(&out) + (sent_np, tally, double_clicks, (int(first_bin), bins_np))


def carry_block(PrimaryEvents events not None, DetectorState state not None):
    """The sequential part of :func:`run_block` on a block drawn by
    :func:`draw_block`: the detector pass (dead time, afterpulses, squashing;
    stream (seed, DETECTOR, block), state carried in ``state``) and the exact
    per-class count of pulses sent (stream (seed, SENT_COUNTS, block)).
    Blocks are carried in order.  Returns what :func:`run_block` returns."""
    return carry_list([events], state)[:8]


def carry_blocks(events, DetectorState state not None, bin_slots=0):
    """:func:`carry_block` on consecutive blocks (a list of what
    :func:`draw_block` returned, in block order) into one record: the same
    events as the blocks' records concatenated, ``sent`` summed, and two
    counts of its events: ``tally[k, a, b, e]`` = events of class k with
    Alice's basis a, Bob's basis b and e = (Alice's bit != Bob's bit), and
    the number of double clicks.  Returns (slot, cls, a_basis, a_bit,
    b_basis, b_bit, flags, sent, tally, double_clicks); with ``bin_slots`` >
    0 also ``(first_bin, kinds)``: per time bin of ``bin_slots`` slots from
    the first block's bin, the events of four kinds (bases differ, both in
    basis 1, both in basis 0 with equal / different bits), counted without
    the GIL."""
    if not isinstance(events, list):
        raise ValueError("events must be a list of drawn blocks")
    return carry_list(events, state, int_arg("bin_slots", bin_slots, 0, 2**62))


def run_block(seed, block, block_start, n_slots,
              const int64_t[::1] seg_start not None, const double[::1] gap_scale not None,
              const uint64_t[:, ::1] outcome_thr not None,
              const uint16_t[:, ::1] outcome_guide not None,
              const uint16_t[::1] outcome_code not None,
              const double[:, ::1] noclick_prob not None,
              n_det, key_basis_prob, afterpulse_prob, afterpulse_tau_gates, dead_gates,
              total_slots, DetectorState state not None, expected_events=0.0):
    """Simulate slots [block_start, block_start + n_slots) of a link:
    :func:`draw_block` then :func:`carry_block`.

    Per segment g (slots seg_start[g] .. seg_start[g+1]-1):
    ``gap_scale[g]`` = 1 / log(1 - P(any primary click)) (0: no clicks);
    ``outcome_thr[g, o]`` = P(outcome <= o | click) * 2^64, cumulative over the
    joint outcomes o = (class, Alice basis, Bob basis, click mask in Alice's
    frame), decoded by ``outcome_code[o]`` = class | a << 4 | b << 5 | mask << 6;
    ``outcome_guide[g, i]`` = the first outcome whose threshold exceeds
    i * 2^64 / M (M = row length, a power of 2): inversion starts there, so
    one 64-bit word picks the whole outcome in about one comparison;
    ``noclick_prob[g, k]`` = P(class k and no click).
    Alice's frame: detector 0 (2) of a pair is the one her bit 0 would hit.
    Blocks are fed in order (``block`` = 0, 1, ...), each starting where the
    previous one ended, with the same ``state``.
    Returns (slot, cls, a_basis, a_bit, b_basis, b_bit, flags, sent_per_class).
    Every argument is checked first (ValueError naming it): O(n_seg) for the
    segment boundaries, and the table rows of the segments this block touches.
    """
    ev = draw_block(seed, block, block_start, n_slots, seg_start, gap_scale, outcome_thr,
                    outcome_guide, outcome_code, noclick_prob, n_det, key_basis_prob,
                    afterpulse_prob, afterpulse_tau_gates, dead_gates, total_slots,
                    expected_events)
    return carry_block(ev, state)


def detector_pass(uint64_t seed, uint32_t block, int64_t block_start, int64_t n_slots,
                  const int64_t[::1] slot not None, const uint8_t[::1] cls not None,
                  const uint8_t[::1] a_basis not None, const uint8_t[::1] a_bit not None,
                  const uint8_t[::1] b_basis not None, const uint8_t[::1] clicks not None,
                  const int64_t[::1] seg_start not None, const double[:, ::1] noclick_prob not None,
                  int n_det, double key_basis_prob, double afterpulse_prob,
                  double afterpulse_tau_gates, int64_t dead_gates, int64_t total_slots,
                  DetectorState state not None):
    """The sequential detector pass of :func:`run_block` on primary clicks
    drawn elsewhere (e.g. by the attack kernel): dead time, afterpulses (state
    carried from block to block in ``state``) and squashing, with the same
    code and the same random stream (seed, DETECTOR, block).

    ``slot``: the slots of block ``block`` (absolute, strictly increasing, in
    [block_start, block_start + n_slots)) with at least one primary click;
    ``clicks``: their primary clicks per detector (bit j = detector j, the
    detector frame, non-zero); ``cls``, bases, ``a_bit``: the slot's
    attributes (Bob's basis matters with active choice only).  Afterpulse-only
    slots draw their class from ``noclick_prob[g]`` of their segment g
    (``seg_start``: n_seg + 1 boundaries) and their bases with P(X) =
    ``key_basis_prob``, as in :func:`run_block`.
    Returns (slot, cls, a_basis, a_bit, b_basis, b_bit, flags, ap_only[n_seg, K]):
    the records' events and the afterpulse-only slots per segment and class
    (they belong to the pulses sent without a primary click)."""
    cdef int64_t n = slot.shape[0]
    cdef int n_seg = seg_start.shape[0] - 1
    cdef int K = noclick_prob.shape[1]
    cdef int64_t i
    if n_det != 2 and n_det != 4:
        raise ValueError(f"n_det = {n_det} must be 2 (active basis choice) or 4 (passive)")
    if not (0 < K <= MAX_CLASSES):
        raise ValueError(f"noclick_prob has {K} classes; must be 1..{MAX_CLASSES}")
    if n_seg < 1 or noclick_prob.shape[0] != n_seg:
        raise ValueError(f"seg_start has {seg_start.shape[0]} entries and noclick_prob "
                         f"{noclick_prob.shape[0]} rows; must be n_seg + 1 and n_seg, n_seg >= 1")
    for i in range(n_seg):
        if not seg_start[i] < seg_start[i + 1]:
            raise ValueError("seg_start must be strictly increasing")
    if n_slots < 0 or block_start < seg_start[0] or block_start + n_slots > total_slots \
            or total_slots > seg_start[n_seg]:
        raise ValueError(f"slots [{block_start}, {block_start + n_slots}) must lie in "
                         f"[seg_start[0], total_slots = {total_slots}] <= seg_start[-1]")
    if not (0.0 <= key_basis_prob <= 1.0):
        raise ValueError(f"key_basis_prob = {key_basis_prob} must be in [0, 1]")
    if not (0.0 <= afterpulse_prob < 1.0):
        raise ValueError(f"afterpulse_prob = {afterpulse_prob} must be in [0, 1)")
    if not (afterpulse_tau_gates >= 0.0):
        raise ValueError(f"afterpulse_tau_gates = {afterpulse_tau_gates} must be >= 0")
    if dead_gates < 0:
        raise ValueError(f"dead_gates = {dead_gates} must be >= 0")
    if not (cls.shape[0] == a_basis.shape[0] == a_bit.shape[0] == b_basis.shape[0]
            == clicks.shape[0] == n):
        raise ValueError(f"cls, a_basis, a_bit, b_basis and clicks must have as many "
                         f"entries as slot ({n})")
    for i in range(n):
        if slot[i] < block_start or slot[i] >= block_start + n_slots \
                or (i > 0 and slot[i] <= slot[i - 1]):
            raise ValueError(f"slot[{i}] = {slot[i]}: slots must be strictly increasing "
                             f"within [{block_start}, {block_start + n_slots})")
        if cls[i] >= K or a_basis[i] > 1 or a_bit[i] > 1 or b_basis[i] > 1:
            raise ValueError(f"event {i}: cls must be < {K}, bases and bits 0 or 1")
        if clicks[i] == 0 or clicks[i] >> n_det:
            raise ValueError(f"clicks[{i}] = {clicks[i]} must be a non-empty mask of "
                             f"{n_det} detectors")
    if state.next_block != block:
        raise ValueError(f"block = {block}: blocks must be passed in order "
                         f"(next expected: {state.next_block})")

    cdef Link L
    L.n_classes = K
    L.n_det = n_det
    L.passive = n_det == 4
    L.basis_threshold = <uint64_t>(key_basis_prob * 4294967296.0)
    L.afterpulse_prob = afterpulse_prob
    L.afterpulse_gap_scale = 1.0 / log1p(-afterpulse_prob) if afterpulse_prob > 0.0 else -0.0
    L.afterpulse_tau_gates = afterpulse_tau_gates
    L.dead_gates = dead_gates
    L.total_slots = total_slots
    L.seg_start = &seg_start[0]
    L.n_seg = n_seg
    L.noclick_prob = &noclick_prob[0, 0]

    cdef PhiloxStream ds
    stream_init(&ds, seed, PURPOSE_DETECTOR, block)
    ap_only_np = np.zeros((n_seg, K), dtype=np.int64)
    cdef int64_t[:, ::1] ap_only = ap_only_np
    cdef EventBuffer out
    cdef int err = 0, ap_mask
    if buffer_init(&out, n + n // 8 + 64) < 0:
        buffer_free(&out)
        raise MemoryError()
    afterpulse_tables(state, &L)
    with nogil:
        for i in range(n):
            # In slot order: earlier afterpulses first, then this slot's own.
            if state.heap.n > 0:
                if flush_afterpulses(&out, &L, state, &ds, slot[i], &ap_only[0, 0]) < 0:
                    err = 1
                    break
            ap_mask = 0
            while state.heap.n > 0 and (state.heap.a[0] >> 2) == slot[i]:
                ap_mask |= 1 << (heap_pop(&state.heap) & 3)
            if emit(&out, &L, state, &ds, slot[i], cls[i], a_basis[i], a_bit[i], b_basis[i],
                    clicks[i], ap_mask) < 0:
                err = 1
                break
        if err == 0 and flush_afterpulses(&out, &L, state, &ds, block_start + n_slots,
                                          &ap_only[0, 0]) < 0:
            err = 1
    if err:
        buffer_free(&out)
        raise MemoryError("out of memory in the detector pass")
    state.next_block = block + 1
    return buffer_arrays(&out) + (ap_only_np,)
