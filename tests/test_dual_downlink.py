"""Dual downlink over a real pass: both stations' geometry, per-bin losses, S
against its closed form, the pair rate against Yin et al., Science 356, 1140
(2017) [Y17]."""
import math
import os

import numpy as np
import pytest

from qchannel.theory import entanglement as th
from qchannel.dual_downlink import pass_transmittances, run_dual_downlink
from qchannel.links.entangled import EntangledLinkConfig
from qchannel.protocols.bbm92 import QKDProtocolConfig
from qchannel.scenario import read_toml

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "examples", "micius_dual_downlink_pass.toml")


def test_common_window_and_losses():
    data = read_toml(EXAMPLE)
    geo = pass_transmittances(data["satellite"])
    for side in ("alice", "bob"):
        assert geo[f"{side}_elevation_deg"].min() >= 10.0
        # A LEO at ~500 km: ranges between the altitude and the 10-degree horizon.
        assert 480 < geo[f"{side}_range_km"].min() and geo[f"{side}_range_km"].max() < 1800
        t = geo[f"{side}_transmittance"]
        assert np.all((t > 0) & (t < 1))
        # The lowest loss is where the station sees the satellite highest.
        assert np.argmax(t) == np.argmax(geo[f"{side}_elevation_deg"])
    # [Y17] abstract: at 1200 km the effective two-photon link efficiency is
    # "over 12 orders of magnitude" above 1203 km of 0.16 dB/km fiber (192.5
    # dB), i.e. the two downlinks with their detectors lose < 72.5 dB.  The
    # calibrated optics give 64.2-71.7 dB over the window; the earlier ones
    # (5 urad, receiver 0.3) gave 48.8-56.4 dB.  Not statistical.
    eta_det = data["detector"]["efficiency"]
    total = -10 * np.log10(geo["alice_transmittance"] * geo["bob_transmittance"] * eta_det ** 2)
    assert total.max() < 192.5 - 120.0
    assert total.min() > 60.0


def _closed_form_chsh(data, geo):
    """S of the pooled coincidences over the pass: per bin and CHSH setting
    pair, the exact coincidence and error probabilities of the click model
    (accidentals, multi-pairs and squashing included), summed over the
    equal-length bins; E_k = 1 - 2 sum(err) / sum(pc)."""
    cfg = EntangledLinkConfig.from_sections(data["source"], data.get("channel"), data["detector"])
    proto = QKDProtocolConfig.from_dict(data["protocol"])
    aa, _pa, ab, _pb, _key, _phase, chsh_idx = proto.settings()
    T = cfg.alice.bloch() @ th.werner_T(cfg.source.visibility) @ cfg.bob.bloch().T
    src = cfg.source
    dA, dB = cfg.side_dark(cfg.alice, cfg.det_alice), cfg.side_dark(cfg.bob, cfg.det_bob)
    E = []
    for i, j in chsh_idx:
        corr = th.correlation(aa[i], ab[j], T)
        pc = err = 0.0
        for ta, tb in zip(geo["alice_transmittance"], geo["bob_transmittance"]):
            eA = cfg.side_eta(cfg.alice, cfg.det_alice, ta)
            eB = cfg.side_eta(cfg.bob, cfg.det_bob, tb)
            p, e = th.coincidence_stats(src.pair_prob, eA, eB, dA, dB, corr, src.statistics)
            pc += p
            err += e
        E.append(1.0 - 2.0 * err / pc)
    return E[0] - E[1] + E[2] + E[3]


def test_bell_violation_vs_closed_form_and_reproducible():
    """S of the Monte Carlo against the closed form of the same pass.  One
    pass has ~400 coincidences (sigma_S = 0.22), so 16 passes with
    independent seeds are pooled: the mean of S is held to its closed form
    within 4 sigma of the mean (sigma from the reported chsh_s_std / 4), and
    the reported chsh_s_std to the spread of the 16 values (a sample sd from
    16 values has a relative sd of 1/sqrt(30) = 18 %: 3 sigma is a factor 1.55)."""
    data = read_toml(EXAMPLE)
    geo = pass_transmittances(data["satellite"])
    s_cf = _closed_form_chsh(data, geo)
    # V = 0.93 is 2.63 without noise; accidentals take 0.01-0.02 off
    assert 2.58 < s_cf < th.chsh_werner(0.93)
    runs = [run_dual_downlink({**data, "run": {"seed": 1140 + k}}).to_dict() for k in range(16)]
    S = np.array([r["chsh_s"] for r in runs])
    sd = np.array([r["chsh_s_std"] for r in runs])
    assert abs(S.mean() - s_cf) < 4 * np.sqrt(np.mean(sd ** 2) / len(S))
    assert 1 / 1.55 < S.std(ddof=1) / np.sqrt(np.mean(sd ** 2)) < 1.55
    a = runs[0]
    assert len(a["per_bin"]["alice_loss_db"]) == a["pass"]["bins"]
    assert a == run_dual_downlink({**data, "run": {"seed": 1140}}).to_dict()


def test_chsh_vs_closed_form_at_high_pair_rate():
    """The same pass with 20x the pair rate: ~9800 coincidences per pass,
    a fifth of them accidental (S drops to 2.03), so the Monte Carlo's
    accidentals, multi-pairs and time-varying links are tested against the
    exact click model: 8 seeds, mean within 4 sigma (sigma = 0.019)."""
    data = read_toml(EXAMPLE)
    data = {**data, "source": {**data["source"], "pair_prob": 20 * data["source"]["pair_prob"]}}
    geo = pass_transmittances(data["satellite"])
    s_cf = _closed_form_chsh(data, geo)
    runs = [run_dual_downlink({**data, "run": {"seed": 7 + k}}).to_dict() for k in range(8)]
    S = np.array([r["chsh_s"] for r in runs])
    sd = np.array([r["chsh_s_std"] for r in runs])
    assert abs(S.mean() - s_cf) < 4 * np.sqrt(np.mean(sd ** 2) / len(S))
    assert 1.9 < s_cf < 2.2


def test_pair_rate_vs_closed_form_and_published():
    """Coincidences against the closed-form expectation of the same pass
    (Poisson, 4 sigma), and the mean pair rate against [Y17]'s ~1.1 Hz: the
    model's 1.6 Hz is 1.7 dB above it; held within a factor 2 (3 dB), since
    [Y17]'s rate is an average over passes whose geometry we do not have
    (the 2 dB test of the downlink optics is the Micius one in test_freespace)."""
    data = read_toml(EXAMPLE)
    d = run_dual_downlink(data).to_dict()
    n_exp = d["coincidences_expected"]
    assert abs(d["coincidences"] - n_exp) < 4 * math.sqrt(n_exp)
    rate = n_exp / d["pass"]["duration_s"]
    assert 1.1 / 2 < rate < 1.1 * 2


def test_bad_satellite_section():
    data = read_toml(EXAMPLE)
    bad = {**data, "satellite": {**data["satellite"], "min_elevation_deg": 95.0}}
    with pytest.raises(ValueError, match="satellite.min_elevation_deg"):
        run_dual_downlink(bad)
    bad = {**data, "satellite": {**data["satellite"], "alice": {**data["satellite"]["alice"],
                                                                 "rx_aperture_m": -1.0}}}
    with pytest.raises(ValueError, match="satellite.alice.rx_aperture_m"):
        run_dual_downlink(bad)
