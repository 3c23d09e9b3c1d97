"""Sifted counts of the decoy-BB84 report: X-X (the key) and both bases."""
import numpy as np
from types import SimpleNamespace as NS

from qchannel.protocols.decoy_bb84 import DecoyCounts, X, Z
from qchannel.runner import simulate
from qchannel.scenario import Scenario


def _record(alice_basis, bob_basis, slot, intensity=None, first_slot=0, n_slots=100):
    n = len(slot)
    return NS(intensity=np.zeros(n, np.uint8) if intensity is None else np.asarray(intensity),
              alice_basis=np.asarray(alice_basis, np.uint8), bob_basis=np.asarray(bob_basis, np.uint8),
              alice_bit=np.zeros(n, np.uint8), bob_bit=np.zeros(n, np.uint8),
              slot=np.asarray(slot, np.int64), sent=np.array([n_slots, 0, 0]),
              n_slots=n_slots, first_slot=first_slot, double_click=np.zeros(n, bool),
              eve_known=None, eve_guess=None)


def test_counts_by_hand_per_bin():
    """Ten detections in two bins of 50 slots: X-X 3, Z-Z 4, mismatched 3."""
    a = [X, X, X, Z, Z, Z, Z, X, Z, X]
    b = [X, X, X, Z, Z, Z, Z, Z, X, Z]
    slot = [1, 2, 60, 3, 61, 62, 99, 4, 70, 80]
    c = DecoyCounts(3, bin_slots=50)
    c.add(_record(a, b, slot, intensity=[0, 1, 2, 0, 1, 2, 0, 0, 0, 0]))
    assert int(c.n_basis(X).sum()) == 3 and c.sifted_all_bases == 7
    assert c.bin_sifted.tolist() == [2, 1]
    assert c.bin_sifted_all_bases.tolist() == [3, 4]
    assert c.bin_sent.tolist() == [50, 50]


def test_report_counts_both_bases_all_intensities():
    """sifted_bits is X-X, sifted_bits_all_bases adds Z-Z, both summed over
    intensities, and they agree with the per-intensity table."""
    sc = Scenario().replace(**{"source.key_basis_prob": 0.7})
    d = simulate(sc, pulses=10**8, seed=3).to_dict()
    xx = sum(r["detections_x"] for r in d["intensities"])
    zz = sum(r["detections_z"] for r in d["intensities"])
    assert d["sifted_bits"] == xx
    assert d["sifted_bits_all_bases"] == xx + zz
    # Z-Z / X-X is (0.3/0.7)^2 = 0.1837 in expectation (same gain in both
    # bases); the two counts are independent Poisson-like, so the ratio's
    # sigma is share * sqrt(1/zz + 1/xx).  Tolerance 4 sigma.
    share = zz / xx
    assert abs(share - (0.3 / 0.7) ** 2) < 4 * share * np.sqrt(1 / zz + 1 / xx)


def test_kernel_tally_counts_like_the_arrays():
    """Records of the decoy link carry the kernel's count of their events;
    DecoyCounts fed them matches DecoyCounts counting the arrays itself
    (detections, errors, double clicks, bins, sifted bits)."""
    from dataclasses import replace

    from qchannel.runner import build_link

    sc = Scenario.from_dict({"channel": {"length_km": 0.0}, "run": {"pulses": 3 * 10**6}})
    link, _ = build_link(sc)
    rec = link.simulate(5)
    assert rec.tally is not None and rec.double_clicks_total > 0
    a = DecoyCounts(3, keep_sifted=True, bin_slots=10**6)
    b = DecoyCounts(3, keep_sifted=True, bin_slots=10**6)
    a.add(rec)
    b.add(replace(rec, tally=None, double_clicks_total=None))
    for f in ("detections", "errors", "sent", "bin_sent", "bin_detections", "bin_sifted",
              "bin_errors"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert a.double_clicks == b.double_clicks > 0 and a.errors.sum() > 0
    assert all(np.array_equal(x, y) for x, y in zip(a.sifted_key(), b.sifted_key()))
