"""SPDC link Monte Carlo against its closed forms (qchannel.theory.entanglement).

Statistical checks: 4 sigma at fixed seeds (counts: Poisson sigma)."""
import math

import numpy as np
import pytest

from qchannel.theory import entanglement as th
from qchannel.dual_downlink import dual_downlink
from qchannel.entangled import FLAG_ACCIDENTAL, EntangledLinkConfig, EntangledLinkModel
from qchannel.jobs.entanglement import run_entanglement
from qchannel.theory.entanglement import expected_rates

SIG = 4.0
Z2 = ([0.0, math.pi / 4], [0.5, 0.5])


def cfg(source=None, channel=None, detector=None):
    s = {"pair_prob": 0.05, "visibility": 0.9}
    s.update(source or {})
    c = {"alice": {"loss_db": 3.0}, "bob": {"loss_db": 6.0}}
    c.update(channel or {})
    d = {"efficiency": 0.8, "dark_count_prob": 2e-4}
    d.update(detector or {})
    return EntangledLinkConfig.from_sections(s, c, d)


@pytest.mark.parametrize("stats", ["thermal", "poisson"])
def test_coincidences_and_accidentals_closed_form(stats):
    c = cfg({"statistics": stats, "pair_prob": 0.1})
    N = 5_000_000
    rec = EntangledLinkModel(c, *Z2, *Z2, N).simulate(21)
    er = expected_rates(c)
    for got, p in ((len(rec), er["coincidence"]),
                   (np.count_nonzero(rec.flags & FLAG_ACCIDENTAL), er["accidental"])):
        assert abs(got - N * p) < SIG * math.sqrt(N * p)


def test_accidentals_textbook_limit():
    # multimode source, eta << 1: P_acc -> P_A P_B (rate S_A S_B tau)
    c = cfg({"statistics": "poisson", "pair_prob": 0.02},
            {"alice": {"loss_db": 30.0}, "bob": {"loss_db": 30.0}})
    er = expected_rates(c)
    assert er["accidental"] == pytest.approx(er["singles_a"] * er["singles_b"], rel=0.01)


def test_qber_vs_visibility_and_accidentals():
    V = 0.92
    c = cfg({"visibility": V, "pair_prob": 0.08})
    N = 8_000_000
    rec = EntangledLinkModel(c, [0.0], [1.0], [0.0], [1.0], N).simulate(5)
    q = np.mean(rec.a_bit != rec.b_bit)
    er = expected_rates(c)
    args = (0.08, er["eta_a"], er["eta_b"], er["dark_a"], er["dark_b"], V)
    exact = th.qber(*args)
    assert abs(q - exact) < SIG * math.sqrt(exact * (1 - exact) / len(rec))
    assert exact > (1 - V) / 2
    # (1 - V)/2 plus the accidental term: first order, valid for small pair_prob
    small = (0.002,) + args[1:]
    assert th.qber(*small) == pytest.approx(th.qber_first_order(*small), rel=0.02)


def test_chunk_invariance_and_block_reproducibility():
    c = cfg()
    m = EntangledLinkModel(c, *Z2, *Z2, 3 * (1 << 24) + 1000)
    a = m.simulate(9, chunk_blocks=1)
    b = m.simulate(9, chunk_blocks=2)
    for f in ("slot", "a_set", "b_set", "a_bit", "b_bit", "flags"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    # the first full block does not depend on the run length
    short = EntangledLinkModel(c, *Z2, *Z2, 1 << 24).simulate(9)
    sel = a.slot < (1 << 24)
    assert np.array_equal(short.slot, a.slot[sel]) and np.array_equal(short.b_bit, a.b_bit[sel])


def test_dead_time_mode_counts_singles_and_reduces_coincidences():
    c = cfg(detector={"dead_time_ns": 0.0})
    cd = cfg(detector={"dead_time_ns": 50.0}, source={"rep_rate_hz": 1e9, "pair_prob": 0.2})
    N = 2_000_000
    m = EntangledLinkModel(cd, *Z2, *Z2, N)
    rec = m.simulate(2)
    assert m.mode == 1
    er = expected_rates(cd)
    # with dead time singles fall below the closed form without it
    assert rec.singles[0] < er["singles_a"] * N
    # dead-time-free singles mode would match; check the coincidence count drops
    assert len(rec) < er["coincidence"] * N
    assert len(EntangledLinkModel(c, *Z2, *Z2, 10).simulate(1)) >= 0


def test_drift_qber_follows_time():
    tau, bin_s, comp = 2.0, 0.1, 1.0
    c = cfg({"visibility": 1.0, "pair_prob": 0.01, "rep_rate_hz": 1e6},
            {"bob": {"loss_db": 3.0, "drift_time_s": tau, "compensation_interval_s": comp},
             "time_bin_s": bin_s}, {"dark_count_prob": 0.0})
    N = 40_000_000     # 40 s: 400 bins, 40 compensation intervals
    m = EntangledLinkModel(c, [0.0], [1.0], [0.0], [1.0], N)
    rec = m.simulate(8)
    phi = m.last_tables["phi_b"]
    g = rec.slot // m.bin_slots
    err = np.bincount(g, rec.a_bit != rec.b_bit, minlength=m.n_bins)
    tot = np.bincount(g, minlength=m.n_bins)
    # per bin: exact QBER for correlation cos 2 phi (-> (1 - cos 2 phi)/2)
    er = expected_rates(c)
    args = (0.01, er["eta_a"], er["eta_b"], er["dark_a"], er["dark_b"])
    expected = np.array([th.qber(*args, math.cos(2 * p)) for p in phi])
    sd = np.sqrt(expected * (1 - expected) / tot)
    z = (err / tot - expected) / sd
    assert np.mean(np.abs(z) < 3) > 0.98 and abs(z.mean()) < SIG / math.sqrt(len(z)) * 1.5
    # averaged over intervals, vs <cos 2phi> = exp(-2 t / tau) at t = k * bin
    k = np.arange(m.n_bins) % 10
    for kk in (0, 5, 9):
        mean_q = (err[k == kk] / tot[k == kk]).mean()
        assert mean_q == pytest.approx(th.drift_qber(kk * bin_s, tau), abs=0.03)


def test_dual_downlink_series_and_constant_loss():
    sc = {"source": {"pair_prob": 0.02, "visibility": 0.95, "rep_rate_hz": 1e8},
          "detector": {"efficiency": 0.5, "dark_count_prob": 1e-6},
          "protocol": {"type": "bbm92", "chsh_fraction": 0.5}, "run": {"seed": 3}}
    ta = np.array([1e-2, 2e-2, 3e-2])
    r = dual_downlink(sc, ta, ta[::-1], 0.05).to_dict()
    assert len(r["per_bin"]["pair_rate_hz"]) == 3 and r["coincidences"] > 0
    assert r["coincidences"] == pytest.approx(r["coincidences_expected"],
                                              abs=SIG * math.sqrt(r["coincidences_expected"]))
    r2 = dual_downlink(sc, 20.0, 20.0, 0.01).to_dict()
    assert r2["pulses"] == 1_000_000
    with pytest.raises(ValueError, match="differ in length"):
        dual_downlink(sc, ta, ta[:2], 0.01)
    with pytest.raises(ValueError, match="transmittance series"):
        dual_downlink(sc, [2.0], [0.1], 0.01)


@pytest.mark.parametrize("section,key,value,match", [
    ("source", "pair_prob", -0.1, "source.pair_prob"),
    ("source", "visibility", 1.5, "source.visibility"),
    ("source", "statistics", "bose", "source.statistics"),
    ("source", "colour", 1, "source.colour is not a known key"),
    ("channel", "loss_db", -3, "channel.alice.loss_db"),
    ("detector", "efficiency", 0.0, "detector.alice.efficiency"),
    ("detector", "coincidence_window_ns", 0, "detector.coincidence_window_ns"),
    ("protocol", "type", "b92", "protocol.type"),
    ("protocol", "chsh_fraction", 1.0, "protocol.chsh_fraction"),
    ("run", "pulses", 0, "run.pulses"),
    ("postprocess", "eps_sec", 0.0, "postprocess.eps_sec"),
])
def test_bad_inputs(section, key, value, match):
    sc = {"source": {"pair_prob": 0.01}, "channel": {}, "detector": {}, "protocol": {},
          "run": {"pulses": 1000}, "postprocess": {}}
    sc[section][key] = value
    with pytest.raises(ValueError, match=match):
        run_entanglement(sc)


def test_bad_channel_combinations():
    with pytest.raises(ValueError, match="exclusive"):
        EntangledLinkConfig.from_sections({}, {"bob": {"loss_db": 3, "length_km": 2}}, {})
    with pytest.raises(ValueError, match="needs"):
        EntangledLinkConfig.from_sections({}, {"bob": {"compensation_interval_s": 1}}, {})
    with pytest.raises(ValueError, match=r"\[eve\] is not a known section"):
        run_entanglement({"eve": {}, "run": {"pulses": 10}})
