"""A prepare-and-measure link: source + channel + detectors -> detection records
(the link contract of :mod:`qchannel.links.base`).

This layer turns the physical models into the tables the transport kernel
needs and streams the simulation block by block with bounded memory.
"""
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from qchannel._core import transport as _transport
from qchannel.links.base import BLOCK_SLOTS, MAX_PULSES, Link, threads  # noqa: F401 - re-exported
from qchannel.params import check_int

#: A chunk of blocks (one kernel call, one record) aims at this many events:
#: enough that the per-chunk Python work (argument checks, record objects,
#: counting) is small against the kernels' (~25 ns per event).
CHUNK_EVENTS = 1 << 17
MAX_CHUNK_BLOCKS = 64
# Segments per slice of the kernel tables (a pass: tens of thousands of time
# bins), the unit the run's threads share; about 1 MiB of temporaries each.
TABLE_SLICE = 2048

FLAG_DOUBLE_CLICK = _transport.FLAG_DOUBLE_CLICK
FLAG_AFTERPULSE = _transport.FLAG_AFTERPULSE
FLAG_BASIS_TIE = _transport.FLAG_BASIS_TIE


@dataclass
class DetectionRecord:
    """Sparse record of the slots in which Bob registered a click.

    ``slot``: pulse index; ``intensity``: index into the source's intensities;
    bases: 0 = X (key basis), 1 = Z; ``flags``: FLAG_* bits.  ``sent`` counts
    the pulses sent per intensity over the slots this record covers.
    An attacked link (:class:`qchannel.eve.AttackedLinkModel`) also fills
    ``eve_known`` (1: Eve knows Alice's bit of this slot) and ``eve_guess``
    (her guess of Alice's bit); an honest link leaves them None.
    ``tally`` and ``double_clicks``, when not None, count the record's events
    (made by the kernel, see ``transport.carry_blocks``): ``tally[k, a, b, e]``
    events of intensity k, Alice's basis a, Bob's basis b, e = 1 for a bit
    error; counting (:class:`qchannel.protocols.decoy_bb84.DecoyCounts`) uses
    them instead of a pass over the arrays.  ``bin_kinds`` = (first bin,
    counts[n, 4]), when not None, counts them per time bin of the link's
    ``bin_slots`` (bases differ, Z-Z, X-X equal bits, X-X different bits),
    also made by the kernel.  An attacked link's kernel also
    counts Eve's knowledge of the sifted (X-X) events: ``eve_tally[0..3, k]``
    (count, known, Eve's guess = Alice's bit, = Bob's bit per class k) and
    ``eve_sifted`` (class, Alice's bit, known, guess of those events, in slot
    order; :class:`qchannel.protocols.decoy_bb84.EveTally` uses both)."""

    slot: np.ndarray
    intensity: np.ndarray
    alice_basis: np.ndarray
    alice_bit: np.ndarray
    bob_basis: np.ndarray
    bob_bit: np.ndarray
    flags: np.ndarray
    sent: np.ndarray
    first_slot: int
    n_slots: int
    eve_known: np.ndarray = None
    eve_guess: np.ndarray = None
    tally: np.ndarray = None
    double_clicks_total: int = None
    bin_kinds: tuple = None
    eve_tally: np.ndarray = None
    eve_sifted: tuple = None

    def __len__(self):
        return len(self.slot)

    @property
    def double_click(self):
        return (self.flags & FLAG_DOUBLE_CLICK) != 0

    @classmethod
    def concatenate(cls, records):
        records = list(records)
        fields = ("slot", "intensity", "alice_basis", "alice_bit", "bob_basis", "bob_bit", "flags")
        if records[0].eve_known is not None:
            fields += ("eve_known", "eve_guess")
        joined = {f: np.concatenate([getattr(r, f) for r in records]) for f in fields}
        if all(r.tally is not None for r in records):
            joined.update(tally=np.sum([r.tally for r in records], axis=0),
                          double_clicks_total=sum(r.double_clicks_total for r in records))
        if all(r.bin_kinds is not None for r in records):
            first = min(r.bin_kinds[0] for r in records)
            kinds = np.zeros((max(b + len(k) for b, k in (r.bin_kinds for r in records)) - first,
                              4), np.int64)
            for b, k in (r.bin_kinds for r in records):    # records may share a bin
                kinds[b - first:b - first + len(k)] += k
            joined.update(bin_kinds=(first, kinds))
        if all(r.eve_tally is not None for r in records):
            joined.update(eve_tally=np.sum([r.eve_tally for r in records], axis=0),
                          eve_sifted=tuple(np.concatenate(x) for x in
                                           zip(*(r.eve_sifted for r in records))))
        return cls(**joined, sent=np.sum([r.sent for r in records], axis=0),
                   first_slot=records[0].first_slot, n_slots=sum(r.n_slots for r in records))


def click_tables(intensities, intensity_probs, key_basis_prob, eta, misalignment,
                 dark_count_prob, n_detectors):
    """Per-class click tables for one segment of constant parameters, or for
    many at once (``eta`` and ``dark_count_prob`` arrays of one shape S: the
    tables get S as leading axes, each the same as for that segment alone).

    Photon numbers split into independent Poisson streams per detector
    (coherent states stay coherent under linear optics), so detector j has a
    primary click with a_j = 1 - (1 - p_dc) exp(-mu eta r_j), r_j its routing
    fraction.  Returns (det_prob[S..., K, 2, 2, 4] in Alice's frame,
    click_prob[S..., K])."""
    mu = np.asarray(intensities, dtype=float)
    e = misalignment
    px = key_basis_prob
    route = np.zeros((2, 2, 4))        # [alice basis, bob basis, detector]
    for a in range(2):
        for b in range(2):
            if n_detectors == 2:
                route[a, b, :2] = (1 - e, e) if a == b else (0.5, 0.5)
            else:
                for pair, weight in ((0, px), (1, 1 - px)):
                    within = (1 - e, e) if pair == a else (0.5, 0.5)
                    route[a, b, 2 * pair:2 * pair + 2] = np.multiply(weight, within)
    eta = np.asarray(eta, dtype=float)
    p_dc = np.asarray(dark_count_prob, dtype=float)
    lead = np.broadcast_shapes(eta.shape, p_dc.shape)
    per = (slice(None),) * len(lead) + (None,) * 4         # a segment's value on its tables
    det = 1.0 - (1.0 - np.broadcast_to(p_dc, lead)[per]) * np.exp(
        -mu[:, None, None, None] * np.broadcast_to(eta, lead)[per] * route)
    det[..., n_detectors:] = 0.0
    # The total click probability does not depend on the bases (routing sums to 1).
    click = 1.0 - np.prod(1.0 - det[..., 0, 0, :n_detectors], axis=-1)
    return np.ascontiguousarray(det), click


def outcome_codes(n_classes, n_detectors):
    """The joint outcomes of a slot with a click, in a fixed order: class k,
    Alice's basis a, Bob's basis b (always 0 when passive: the clicks decide)
    and the non-empty click mask m in Alice's frame, packed as
    k | a << 4 | b << 5 | m << 6."""
    bob_bases = (0, 1) if n_detectors == 2 else (0,)
    masks = range(1, 1 << n_detectors)
    return np.array([k | a << 4 | b << 5 | m << 6 for k in range(n_classes) for a in (0, 1)
                     for b in bob_bases for m in masks], dtype=np.uint16)


def outcome_weights(code, det_prob, intensity_probs, key_basis_prob, n_detectors):
    """P(outcome and a click) for each packed outcome: p_k P(a) P(b) times the
    probability of exactly that click mask (detectors are independent).
    ``det_prob`` may carry leading segment axes (see :func:`click_tables`)."""
    k, a, b, m = code & 15, (code >> 4) & 1, (code >> 5) & 1, code >> 6
    basis = np.array([key_basis_prob, 1.0 - key_basis_prob])
    w = np.asarray(intensity_probs)[k] * basis[a] * (basis[b] if n_detectors == 2 else 1.0)
    for j in range(n_detectors):
        pj = det_prob[..., k, a, b, j]
        w = w * np.where((m >> j) & 1, pj, 1.0 - pj)
    return w


def _thresholds(prob):
    """Probabilities as 64-bit integer thresholds: u < t has probability
    t / 2^64 for u uniform on 64 bits (p = 1 maps to 2^64 - 1)."""
    prob = np.clip(np.asarray(prob, dtype=float), 0.0, 1.0)
    scaled = np.ldexp(prob, 64)
    out = np.where(scaled >= 2.0**64, np.float64(2**64 - 2048), scaled)
    return np.ascontiguousarray(out.astype(np.uint64))


class LinkModel(Link):
    """Source, channel and detectors composed into kernel inputs: a
    :class:`qchannel.links.base.Link` over ``pulses`` slots.

    ``segments``: the channel's segments of constant parameters, a
    :class:`qchannel.channels.ChannelSegments` or a sequence of
    (start_slot, transmittance, extra_noise_prob); by default one segment
    with the channel's transmittance and no background.  ``bin_slots``: set
    it (slots per report bin of a pass) to have the kernel count each
    record's events per bin (``DetectionRecord.bin_kinds``)."""

    bin_slots = None

    def __init__(self, source, channel, detector, pulses, segments=None):
        self.source = source
        self.channel = channel
        self.detector = detector
        self.pulses = check_int("pulses", pulses, 1, MAX_PULSES)
        if segments is None:
            segments = [(0, channel.transmittance(), 0.0)]
        elif hasattr(segments, "as_list"):
            segments = segments.as_list()
        self.segments = segments

    def tables(self, total_slots):
        """Kernel inputs for a run of ``total_slots`` pulses (see run_block).
        Every segment's tables at once (a pass has tens of thousands of
        segments), element by element the same arithmetic as one segment, in
        slices of TABLE_SLICE segments on the run's threads."""
        src, det = self.source, self.detector
        starts = [int(s[0]) for s in self.segments] + [int(total_slots)]
        n_seg, K, n_det = len(self.segments), len(src.intensities), det.n_detectors
        p = np.asarray(src.intensity_probs)
        code = outcome_codes(K, n_det)
        guide_len = 1 << int(np.ceil(np.log2(len(code))))
        guide_starts = np.arange(guide_len, dtype=np.uint64) << np.uint64(64 - guide_len.bit_length() + 1)
        eta = np.array([float(s[1]) for s in self.segments]) * det.efficiency
        noise = np.array([float(s[2]) for s in self.segments])
        out = dict(seg_start=np.asarray(starts, dtype=np.int64), gap_scale=np.zeros(n_seg),
                   outcome_thr=np.zeros((n_seg, len(code)), dtype=np.uint64),
                   outcome_guide=np.zeros((n_seg, guide_len), dtype=np.uint16),
                   outcome_code=code, noclick_prob=np.zeros((n_seg, K)),
                   click_prob=np.zeros(n_seg))

        def fill(lo, hi):
            p_dc = 1.0 - (1.0 - det.dark_count_prob) * (1.0 - noise[lo:hi])
            dp, click = click_tables(src.intensities, p, src.key_basis_prob, eta[lo:hi],
                                     self.channel.misalignment, p_dc, n_det)
            weight = outcome_weights(code, dp, p, src.key_basis_prob, n_det)
            total = np.array([np.dot(p, c) for c in click])     # np.dot per segment, as alone
            out["click_prob"][lo:hi] = total
            out["noclick_prob"][lo:hi] = p * (1.0 - click)
            on = total > 0.0
            below = on & (total < 1.0)
            gap = out["gap_scale"][lo:hi]
            gap[below] = 1.0 / np.log1p(-total[below])
            gap[on & ~below] = -0.0
            if on.any():
                w = weight[on]
                thr = _thresholds(np.cumsum(w, axis=1) / w.sum(axis=1)[:, None])
                out["outcome_thr"][lo:hi][on] = thr
                # guide[i]: first outcome whose threshold exceeds i * 2^64 / M, i.e.
                # the number of thresholds <= i * 2^64 / M (rows are sorted: what
                # searchsorted(side="right") gives)
                count = (thr[:, None, :] <= guide_starts[None, :, None]).sum(axis=2)
                out["outcome_guide"][lo:hi][on] = np.minimum(count, len(code) - 1)

        spans = [(lo, min(lo + TABLE_SLICE, n_seg)) for lo in range(0, n_seg, TABLE_SLICE)]
        n_threads = min(threads(self.threads), len(spans))
        if n_threads == 1:
            for lo, hi in spans:
                fill(lo, hi)
        else:       # NumPy releases the GIL on whole-array work
            with ThreadPoolExecutor(n_threads) as pool:
                list(pool.map(lambda span: fill(*span), spans))
        return out

    def prepare(self, seed):
        tables = self.tables(self.pulses)
        src, det = self.source, self.detector
        args = (tables["seg_start"], tables["gap_scale"], tables["outcome_thr"],
                tables["outcome_guide"], tables["outcome_code"], tables["noclick_prob"],
                det.n_detectors, src.key_basis_prob, det.afterpulse_prob,
                det.afterpulse_tau_gates(src.rep_rate_hz), det.dead_gates(src.rep_rate_hz),
                self.pulses)
        return {"seed": seed, "tables": tables, "args": args,
                "state": _transport.DetectorState(), "rate": float(tables["click_prob"].max())}

    def draw(self, ctx, b, start, n):
        """Block ``b``'s slots with a primary click and their outcomes (the
        transport kernel's independent part, stream (seed, TRANSPORT, b))."""
        return _transport.draw_block(ctx["seed"], b, start, n, *ctx["args"], ctx["rate"] * n)

    def draw_chunk(self, ctx, b0, b1):
        """Blocks [b0, b1) drawn in one kernel call (checked once, one section
        without the GIL): the same as :meth:`draw` block by block."""
        return _transport.draw_blocks(ctx["seed"], b0, b1 - b0, self.block_size, *ctx["args"],
                                      ctx["rate"])

    def carry(self, ctx, b, start, n, drawn):
        """Block ``b``'s detector pass (dead time, afterpulses) whose state
        ``ctx["state"]`` carries over to the next block, and the pulses sent."""
        return self.carry_chunk(ctx, b, b + 1, [drawn])

    def carry_chunk(self, ctx, b0, b1, drawn):
        """The detector pass of blocks [b0, b1) in one kernel call: one record
        (the blocks' records concatenated), its events already counted."""
        out = _transport.carry_blocks(list(drawn), ctx["state"], self.bin_slots or 0)
        start = self.block_range(b0)[0]
        end = sum(self.block_range(b1 - 1))
        return DetectionRecord(*out[:8], first_slot=start, n_slots=end - start,
                               tally=out[8], double_clicks_total=out[9],
                               bin_kinds=out[10] if self.bin_slots else None)

    def chunk_hint(self, ctx):
        """Blocks per chunk: about CHUNK_EVENTS expected events (1 block at
        short distance, dozens at 100 km, where a block has a few thousand)."""
        per_block = max(1.0, ctx["rate"] * self.block_size)
        return int(min(MAX_CHUNK_BLOCKS, max(1, CHUNK_EVENTS // per_block)))

    @staticmethod
    def concatenate(records):
        return DetectionRecord.concatenate(records)
