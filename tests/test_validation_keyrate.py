"""Validation rows (key rates): published experiments next to qchannel.

Each test is one row of the README's validation table; the docstrings give
the published number, what qchannel gives, and why they differ.  The Lim et
al. (2014) rows are in tests/protocols/test_finite_key.py.
"""
import os

import pytest
from scipy.optimize import differential_evolution

from qchannel import theory
from qchannel.optimize import expected_finite_key
from qchannel.runner import simulate
from qchannel.scenario import Scenario, load_scenario

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples")

# Boaron et al., PRL 121, 190502 (2018), Table I as transcribed in a public
# repository (the paper text was not available here to check it):
# (length_km, loss_db, mu1, mu2, block_bits, qber_percent, secret_key_bps)
BOARON = [
    (251.7, 42.7, 0.49, 0.18, 8.2e6, 0.5, 4.9e3),
    (302.1, 51.3, 0.48, 0.18, 8.2e6, 0.4, 0.79e3),
    (354.5, 60.6, 0.35, 0.15, 6.2e6, 0.7, 62.0),
    (404.9, 69.3, 0.35, 0.15, 4.1e5, 1.0, 6.5),
    (421.1, 71.9, 0.30, 0.13, 2.0e5, 2.1, 0.25),
]
BOARON_REP_HZ = 2.5e9
BOARON_E_MIS = 0.005      # the QBER at 251.7 km, where dark counts add < 1e-5


def _boaron_scenario(row, efficiency, pdc_per_eff):
    length, loss, mu1, mu2 = row[:4]
    return Scenario().replace(**{
        "source.rep_rate_hz": BOARON_REP_HZ, "source.intensities": [mu1, mu2, 0.0],
        "channel.length_km": length, "channel.attenuation_db_per_km": loss / length,
        "channel.misalignment": BOARON_E_MIS, "detector.efficiency": efficiency,
        "detector.dark_count_prob": pdc_per_eff * efficiency, "detector.afterpulse_prob": 0.0})


def _rate_for_block(sc, block):
    """Best expected Lim 2014 secret key rate (bit/s) for a key-basis block of
    ``block`` bits: probabilities and basis optimised (the paper's mu1, mu2
    kept, mu3 = 0), the run lasting as long as the block takes."""
    mus = list(sc.source.intensities)

    def evaluate(x):
        p1, s, p_x = x
        ps = [p1, (1 - p1) * s, (1 - p1) * (1 - s)]
        c = theory.expected_counts(sc.replace(**{"source.intensity_probs": ps,
                                                 "source.key_basis_prob": p_x}), 1.0)
        pulses = block / sum(c["n_x"])
        if pulses > 2.0**56:          # beyond any run: no key for this point
            return -1e300
        fk, _ = expected_finite_key(sc, pulses, mus, ps, p_x)
        return fk.key_length_raw * BOARON_REP_HZ / pulses

    res = differential_evolution(lambda x: -evaluate(x), [(0.01, 0.99), (0.01, 0.99), (0.3, 0.999)],
                                 seed=0, maxiter=40, popsize=8, tol=1e-8)
    return evaluate(res.x)


@pytest.fixture(scope="module")
def boaron():
    # Dark counts from the published QBER at 404.9 km (signal, key basis):
    # 1.0 % = e_mis + p_dc / (mu1 eta_ch eff)  ->  p_dc / eff.
    length, loss, mu1 = BOARON[3][:3]
    pdc_per_eff = (0.010 - BOARON_E_MIS) * mu1 * 10 ** (-loss / 10)
    # The efficiency (not available from the paper here) calibrated on the
    # 251.7 km row: the rate is linear in it at these losses.
    r0 = _rate_for_block(_boaron_scenario(BOARON[0], 0.2, pdc_per_eff), BOARON[0][4])
    eff = 0.2 * BOARON[0][6] / r0
    rates = {row[0]: _rate_for_block(_boaron_scenario(row, eff, pdc_per_eff), row[4])
             for row in BOARON}
    return eff, pdc_per_eff, rates


def test_boaron_2018_rates_versus_distance(boaron):
    """Boaron et al. 2018, secret key rate (bit/s) at 302-421 km with the
    paper's loss, intensities, block sizes and QBERs, the receiver efficiency
    calibrated on the 251.7 km row (0.298) and dark counts from the 404.9 km
    QBER (p_dc/eff = 2.06e-10 per slot, 0.15 counts/s).  Measured ratios
    qchannel/published: 0.85 (302.1 km), 1.06 (354.5), 0.56 (404.9),
    3.5 (421.1).

    * 302-355 km: within 25 % (the protocols differ: three-state one-decoy
      BB84 in the paper, three-intensity BB84 with the Lim 2014 bounds here).
    * 404.9 km: qchannel is low by 0.56x: at a 4.1e5-bit block the Hoeffding
      terms of Lim's three-intensity bounds (e^mu/p per intensity) cost more
      than the paper's one-decoy analysis; with a 10x larger block (4.1e6)
      qchannel gives 6.49 bit/s, the published value.  Bracket 0.4-1.0.
    * 421.1 km: qchannel is high by 3.5x.  The published QBER there (2.1 %)
      is above what the dark counts inferred at 404.9 km give (1.6 %), i.e.
      extra noise or a shorter effective acquisition at 421 km that this
      model cannot see.  Bracket 1.5-5.
    """
    eff, pdc_per_eff, rates = boaron
    assert 0.1 < eff < 0.9            # a plausible SNSPD receiver
    published = {row[0]: row[6] for row in BOARON}
    ratio = {L: rates[L] / published[L] for L in published}
    # the calibration itself (linear in eff up to O(eta mu) terms: 1e-3)
    assert ratio[251.7] == pytest.approx(1.0, rel=1e-3)
    assert 0.75 < ratio[302.1] < 1.25 and 0.75 < ratio[354.5] < 1.25
    assert 0.4 < ratio[404.9] < 1.0
    assert 1.5 < ratio[421.1] < 5.0
    # The QBER the model predicts at 421.1 km from the 404.9 km dark counts.
    mu1, loss = BOARON[4][2], BOARON[4][1]
    assert BOARON_E_MIS + pdc_per_eff / (mu1 * 10 ** (-loss / 10)) == pytest.approx(0.0159,
                                                                                   abs=5e-4)


def test_boaron_example_file_is_the_421_km_row(boaron):
    """examples/boaron_421km.toml holds the 421.1 km row with the calibrated
    receiver: its expected finite key (Lim 2014) gives the block and rate of
    the test above."""
    eff, pdc_per_eff, rates = boaron
    sc = load_scenario(os.path.join(EXAMPLES, "boaron_421km.toml"))
    assert sc.detector.efficiency == pytest.approx(eff, rel=0.01)
    assert sc.detector.dark_count_prob == pytest.approx(pdc_per_eff * eff, rel=0.01)
    assert sc.channel.transmittance() == pytest.approx(10 ** (-7.19), rel=1e-3)
    fk, pulses = expected_finite_key(sc)
    assert fk.n_x_total == pytest.approx(2.0e5, rel=0.01)
    assert fk.key_length / pulses * BOARON_REP_HZ == pytest.approx(rates[421.1], rel=0.02)


def test_yuan_2018_metro_rate_monte_carlo():
    """Yuan et al., J. Lightwave Technol. 36, 3427 (2018): 13.72 Mbit/s secret
    key over a 2 dB channel at 1 GHz with 1e8-bit blocks (abstract).  The
    receiver of examples/yuan_10km.toml is assumed (efficiency 0.3, p_dc 1e-6,
    afterpulses 4 %, e_mis 1 %, no dead time); the source is optimised.  The
    Monte Carlo of the whole 1e8-bit block (2.03e9 pulses) gives 14.92 Mbit/s
    (+8.7 %; expected-count finite key 15.06 Mbit/s).  The key rate is linear
    in the receiver efficiency here, so the row says: under the Lim 2014
    bounds the published rate needs a receiver efficiency of about 0.27.
    Tolerance 25 % (the assumed receiver); Monte Carlo vs expected counts
    within 3 % (measured 0.9 %: the finite key is not linear in the counts)."""
    sc = load_scenario(os.path.join(EXAMPLES, "yuan_10km.toml"))
    d = simulate(sc).to_dict()
    bps = d["secret_key_rate_bps"]
    assert not d["aborted"]
    assert d["sifted_bits"] == pytest.approx(1e8, rel=0.01)        # the published block
    assert bps == pytest.approx(13.72e6, rel=0.25)
    fk, pulses = expected_finite_key(sc)
    assert bps == pytest.approx(fk.key_length / pulses * 1e9, rel=0.03)
