"""Job mdi-qkd: the Monte Carlo against its analytic twin, real keys, the
arms of the channel and bad input."""
import math

import pytest

from qchannel import jobs

BASE = {"protocol": {"type": "mdi-qkd"},
        "source": {"intensities": [0.4, 0.1, 0.0], "intensity_probs": [0.5, 0.35, 0.15],
                   "z_basis_prob": 0.5},
        "channel": {"length_km": 20.0, "misalignment": 0.01, "visibility": 0.95},
        "detector": {"efficiency": 0.8, "dark_count_prob": 1e-5},
        "run": {"pulses": 10**7, "seed": 5}}


def _scenario(**dotted):
    return jobs.from_dict(BASE).replace(**dotted)


def _run(sc):
    return jobs.job_for(sc).run(sc).to_dict()


def test_monte_carlo_gains_match_the_analytic_twin():
    """Gain and error gain of all 18 (intensity pair, basis) classes within
    5 sigma (binomial sigma of each count, fixed seed)."""
    sc = _scenario()
    d, th = _run(sc), jobs.job_for(sc).theory(sc)
    pz, probs = 0.5, [0.5, 0.35, 0.15]
    worst = 0.0
    for row, exp in zip(d["gains"], th["gains"]):
        assert (row["mu_a"], row["mu_b"], row["basis"]) == (exp["mu_a"], exp["mu_b"],
                                                           exp["basis"])
        pa = [probs[[0.4, 0.1, 0.0].index(m)] * (1.0 if m == 0 else
                                                  (pz if row["basis"] == "Z" else 1 - pz))
              for m in (row["mu_a"], row["mu_b"])]
        n = sc.config.pulses * pa[0] * pa[1]
        for key in ("gain", "error_gain"):
            p = exp[key]
            worst = max(worst, abs(row[key] - p) / math.sqrt(p * (1 - p) / n))
    assert worst < 5.0
    assert d["qber_z"] == pytest.approx(th["qber_z"], abs=5 * math.sqrt(
        th["qber_z"] / d["sifted_bits"]))


def test_signal_gain_follows_total_transmittance_in_monte_carlo():
    """Sifted signal pairs per pulse at 40 km and 90 km: the Monte Carlo ratio
    is the closed form's (5 sigma of the counts), and that is the ratio of
    the total transmittances up to the multi-photon saturation of the nearer
    link (14 %; the strict scaling at long distance: tests/theory/test_mdi.py)."""
    obs, exp = [], []
    for length, pulses in ((40.0, 10**7), (90.0, 10**8)):
        sc = _scenario(**{"channel.length_km": length, "run.pulses": pulses,
                          "detector.dark_count_prob": 1e-9})
        d, th = _run(sc), jobs.job_for(sc).theory(sc)
        obs.append((d["sifted_bits"], pulses))
        exp.append(th["gain_z_signal"])
    (k1, n1), (k2, n2) = obs
    ratio = (k2 / n2) / (k1 / n1)
    sigma = ratio * math.sqrt(1 / k1 + 1 / k2)
    assert abs(ratio - exp[1] / exp[0]) < 5 * sigma
    assert exp[1] / exp[0] == pytest.approx(10 ** (-0.02 * 50.0), rel=0.15)


@pytest.mark.parametrize("ec", ["cascade", "ldpc"])
def test_real_error_correction_gives_identical_keys(ec):
    sc = _scenario(**{"protocol.finite_key": False, "postprocess.ec": ec,
                      "channel.misalignment": 0.005, "detector.dark_count_prob": 1e-7,
                      "run.pulses": 2 * 10**7})
    d = _run(sc)
    assert d["keys_match"] is True and d["secret_key_bits"] > 1000
    assert d["ec"]["method"] == ec and d["ec"]["leaked_bits"] > 0


def test_finite_key_is_below_the_asymptotic_key():
    sc = _scenario(**{"run.pulses": 2 * 10**7})
    d = _run(sc)
    fk = d["finite_key"]
    assert fk["y11_z_lower"] <= d["y11_z_lower"] and fk["e11_x_upper"] >= d["e11_x_upper"]
    assert d["secret_key_bits"] == fk["key_length"]
    assert d["secret_key_bits"] <= d["key_rate_per_pulse"] * sc.config.pulses


def test_same_seed_same_result():
    sc = _scenario(**{"run.pulses": 2 * 10**6})
    assert _run(sc) == _run(sc)


def test_arms_default_to_charlie_midway():
    c = _scenario(**{"channel.length_km": 100.0}).config.channel
    assert c.length_a_km == c.length_b_km == 50.0
    arms = {**BASE, "channel": {"alice": {"length_km": 30.0},
                                "bob": {"length_km": 70.0, "attenuation_db_per_km": 0.16}}}
    c = jobs.from_dict(arms).config.channel
    assert c.loss_a_db == pytest.approx(6.0) and c.loss_b_db == pytest.approx(11.2)


@pytest.mark.parametrize("change,match", [
    ({"channel": {"alice": {"length_km": 3.0}}}, r"channel.alice\] needs its partner"),
    ({"channel": {"length_km": 3.0, "alice": {"length_km": 1.0}, "bob": {"length_km": 1.0}}},
     "both given"),
    ({"channel": {"alice": {"length_km": 1.0}, "bob": {}}}, "channel.bob.length_km"),
    ({"source": {"intensities": [0.1, 0.4, 0.0]}}, "source.intensities"),
    ({"source": {"intensity_probs": [1.0, 0.0, 0.0]}}, "source.intensity_probs"),
    ({"channel": {"visibility": 1.2}}, "channel.visibility"),
    ({"detector": {"dark_count_prob": -1}}, "detector.dark_count_prob"),
    ({"run": {"pulses": 0}}, "run.pulses"),
    ({"protocol": {"type": "mdi-qkd", "finite_key": "yes"}}, "protocol.finite_key"),
])
def test_bad_input_names_the_key(change, match):
    with pytest.raises(ValueError, match=match):
        jobs.from_dict({**BASE, **change})
