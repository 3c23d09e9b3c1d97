"""The compiled transport kernel against the per-pulse NumPy reference, and
its reproducibility contract (chunks, threads, processes)."""
import hashlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from qchannel.channels import FiberChannel
from qchannel.detectors import DetectorSet
from qchannel.links.prepare_measure import BLOCK_SLOTS, FLAG_AFTERPULSE, DetectionRecord, LinkModel
from qchannel.sources import DecoyBB84Source
from tests.reference import counts_table, reference_link

SOURCE = DecoyBB84Source(rep_rate_hz=1e9, intensities=(0.6, 0.2, 0.01),
                         intensity_probs=(0.5, 0.3, 0.2), key_basis_prob=0.7)

CASES = {
    "active, dark counts only": dict(dark_count_prob=2e-3),
    "active, afterpulses and dead time": dict(dark_count_prob=1e-3, afterpulse_prob=0.3,
                                              afterpulse_decay_ns=20.0, dead_time_ns=8.0),
    "passive, afterpulses": dict(dark_count_prob=1e-3, afterpulse_prob=0.3,
                                 afterpulse_decay_ns=3.0, basis_choice="passive"),
}


def _compare(a, b, what):
    """Two independent counts of the same expectation: |a - b| < 4 sigma,
    sigma = sqrt(a + b) (Poisson approximation of each count)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    sigma = np.sqrt(np.maximum(a + b, 1.0))
    z = np.abs(a - b) / sigma
    assert z.max() < 4.0, f"{what}: worst deviation {z.max():.2f} sigma at {np.unravel_index(z.argmax(), z.shape)}"


@pytest.mark.parametrize("name", list(CASES))
def test_kernel_matches_per_pulse_reference(name):
    det = DetectorSet(efficiency=0.5, **CASES[name])
    chan = FiberChannel(length_km=10.0, attenuation_db_per_km=0.2, misalignment=0.03)
    n = 1_500_000
    rec = LinkModel(SOURCE, chan, det, n).simulate(seed=11)
    ev, sent = reference_link(
        n, SOURCE.intensities, SOURCE.intensity_probs, SOURCE.key_basis_prob,
        chan.transmittance() * det.efficiency, chan.misalignment, det.dark_count_prob,
        det.afterpulse_prob, det.afterpulse_tau_gates(SOURCE.rep_rate_hz),
        det.dead_gates(SOURCE.rep_rate_hz), det.basis_choice, seed=7)
    K = len(SOURCE.intensities)
    d_mc, e_mc = counts_table(rec.intensity, rec.alice_basis, rec.bob_basis,
                              rec.alice_bit, rec.bob_bit, K)
    d_ref, e_ref = counts_table(ev[:, 1], ev[:, 2], ev[:, 4], ev[:, 3], ev[:, 5], K)
    _compare(d_mc, d_ref, "detections per (class, Alice basis, Bob basis)")
    _compare(d_mc.sum(axis=(1, 2)), d_ref.sum(axis=(1, 2)), "detections per class")
    _compare(e_mc, e_ref, "errors per (class, Alice basis, Bob basis)")
    _compare(rec.double_click.sum(), ev[:, 6].sum(), "double clicks")
    # Afterpulse probability itself: detections that an afterpulse added
    # (~17 000 in the active case, so a 10 % error is ~9 sigma; the totals
    # above move by only ~2 sigma since dead time hides part of it).
    _compare(np.count_nonzero(rec.flags & FLAG_AFTERPULSE), ev[:, 7].sum(), "afterpulse clicks")
    _compare(rec.sent, sent, "pulses sent per class")
    assert rec.sent.sum() == n
    # Gaps between successive clicks: same distribution near the dead time.
    gaps_mc = np.bincount(np.minimum(np.diff(rec.slot), 40), minlength=41)
    gaps_ref = np.bincount(np.minimum(np.diff(ev[:, 0]), 40), minlength=41)
    _compare(gaps_mc, gaps_ref, "gaps between detections")


def _digest(rec):
    h = hashlib.sha256()
    for f in ("slot", "intensity", "alice_basis", "alice_bit", "bob_basis", "bob_bit", "flags", "sent"):
        h.update(np.ascontiguousarray(getattr(rec, f)).tobytes())
    return h.hexdigest()


def _model(pulses=None):
    # Dead time and slow afterpulses make the detector state cross block borders.
    det = DetectorSet(efficiency=0.2, dark_count_prob=1e-5, afterpulse_prob=0.1,
                      afterpulse_decay_ns=2000.0, dead_time_ns=50.0)
    return LinkModel(SOURCE, FiberChannel(length_km=60.0), det, pulses or PULSES)


PULSES = 5 * BLOCK_SLOTS + 12345


def test_chunk_size_does_not_change_results():
    ref = _model().simulate(seed=5, chunk_blocks=1)
    assert len(ref) > 1000 and (ref.flags & 2).any()
    for chunk in (2, 3, 6):
        assert _digest(_model().simulate(seed=5, chunk_blocks=chunk)) == _digest(ref)
    chunks = list(_model().blocks(5, chunk_blocks=4))
    assert [c.n_slots for c in chunks] == [4 * BLOCK_SLOTS, BLOCK_SLOTS + 12345]
    assert _digest(DetectionRecord.concatenate(chunks)) == _digest(ref)


def test_threads_and_processes_do_not_change_results():
    serial = [_digest(_model().simulate(seed=s)) for s in (5, 6)]
    with ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(lambda s: _digest(_model().simulate(seed=s)), (5, 6)))
    assert threaded == serial
    code = ("from tests.links.test_prepare_measure import _model, _digest, PULSES;"
            "print(_digest(_model().simulate(seed=5)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == serial[0]


def test_different_seeds_differ():
    assert _digest(_model(BLOCK_SLOTS).simulate(seed=1)) != _digest(_model(BLOCK_SLOTS).simulate(seed=2))


def test_piecewise_constant_segments():
    # A link that is dark for its first half and lossless after: no event
    # before the switch, and the second half matches a lossless link's rate.
    det = DetectorSet(efficiency=0.5, dark_count_prob=0.0, afterpulse_prob=0.0)
    half = 3_000_000
    model = LinkModel(SOURCE, FiberChannel(length_km=0.0), det, 2 * half,
                      segments=[(0, 0.0, 0.0), (half, 1.0, 0.0)])
    rec = model.simulate(seed=3)
    assert rec.slot.min() >= half
    flat = LinkModel(SOURCE, FiberChannel(length_km=0.0), det, half).simulate(seed=4)
    _compare(len(rec), len(flat), "detections in the bright half")
    assert rec.sent.sum() == 2 * half


@pytest.mark.parametrize("basis_choice,slice_size,threads", [("active", 2048, 1),
                                                              ("passive", 2048, 1),
                                                              ("active", 7, 3)])
def test_tables_of_many_segments_are_each_segments_own(basis_choice, slice_size, threads,
                                                       monkeypatch):
    """A pass has tens of thousands of segments: their kernel tables are made
    all at once (in slices, on the run's threads), and each must be
    bit-identical to the tables of a link made of that segment alone (dark,
    lossless, noisy and ordinary segments)."""
    from qchannel.links import prepare_measure

    monkeypatch.setattr(prepare_measure, "TABLE_SLICE", slice_size)
    det = DetectorSet(efficiency=0.6, dark_count_prob=1e-5, basis_choice=basis_choice)
    g = np.random.default_rng(8)
    eta = np.concatenate([[0.0, 1.0, 1e-12], 10 ** g.uniform(-7, 0, 60)])
    noise = np.concatenate([[0.0, 0.0, 1.0], np.where(g.random(60) < 0.5, 0.0,
                                                        10 ** g.uniform(-8, -2, 60))])
    segments = [(1000 * i, e, nz) for i, (e, nz) in enumerate(zip(eta, noise))]
    link = LinkModel(SOURCE, FiberChannel(length_km=0.0), det, 10**6, segments)
    link.threads = threads
    many = link.tables(10**6)
    for i, (_, e, nz) in enumerate(segments):
        one = LinkModel(SOURCE, FiberChannel(length_km=0.0), det, 10**6,
                        [(0, e, nz)]).tables(10**6)
        for key in ("gap_scale", "outcome_thr", "outcome_guide", "noclick_prob", "click_prob"):
            a, b = many[key][i], one[key][0]
            assert np.array_equal(a, b) and np.array_equal(np.signbit(a), np.signbit(b)), (i, key)


def _numpy_bin_kinds(rec, bin_slots, first):
    same = rec.alice_basis == rec.bob_basis
    key = same & (rec.alice_basis == 0)
    kind = same.astype(np.int64) + key + (key & (rec.alice_bit != rec.bob_bit))
    n = (rec.first_slot + rec.n_slots - 1) // bin_slots + 1 - first
    return np.bincount((rec.slot // bin_slots - first) * 4 + kind, minlength=4 * n).reshape(n, 4)


def test_kernel_counts_events_per_report_bin():
    """With ``bin_slots`` set the carry kernel counts each record's events per
    report bin (bins straddle blocks and chunks here); the counts equal a
    NumPy count over the record, also after concatenation, and the
    protocol's per-bin totals are the same with and without them."""
    import dataclasses

    from qchannel.protocols.decoy_bb84 import DecoyCounts

    det = DetectorSet(efficiency=0.5, dark_count_prob=1e-4, dead_time_ns=20.0,
                      afterpulse_prob=0.05)
    pulses = 3 * BLOCK_SLOTS + 12_345
    link = LinkModel(SOURCE, FiberChannel(length_km=60.0), det, pulses,
                     segments=[(0, 0.02, 0.0), (BLOCK_SLOTS + 7, 0.001, 1e-5)])
    link.bin_slots = bin_slots = 1_000_003
    records = list(link.blocks(seed=5, chunk_blocks=2))
    assert len(records) == 2
    for rec in records:
        first, kinds = rec.bin_kinds
        assert first == rec.first_slot // bin_slots and kinds.sum() == len(rec)
        assert np.array_equal(kinds, _numpy_bin_kinds(rec, bin_slots, first))
    whole = LinkModel.concatenate(records)
    assert np.array_equal(whole.bin_kinds[1], _numpy_bin_kinds(whole, bin_slots, 0))
    tallies = []
    for strip in (False, True):
        counts = DecoyCounts(3, bin_slots=bin_slots)
        for rec in records:
            counts.add(dataclasses.replace(rec, bin_kinds=None) if strip else rec)
        tallies.append([getattr(counts, k).tolist() for k in (
            "bin_sent", "bin_detections", "bin_sifted", "bin_sifted_all_bases", "bin_errors")])
    assert tallies[0] == tallies[1] and sum(tallies[0][1]) == len(whole)
