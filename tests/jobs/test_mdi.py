"""Job mdi-qkd: the Monte Carlo against its analytic twin, real keys, the
arms of the channel and bad input."""
import math

import numpy as np
import pytest

from qchannel import jobs

BASE = {"protocol": {"type": "mdi-qkd"},
        "source": {"intensities": [0.4, 0.3, 0.05, 0.0], "intensity_probs": [0.4, 0.2, 0.3, 0.1]},
        "channel": {"length_km": 20.0, "misalignment": 0.01, "visibility": 0.95},
        "detector": {"efficiency": 0.8, "dark_count_prob": 1e-5},
        "run": {"pulses": 10**7, "seed": 5}}


def _scenario(**dotted):
    return jobs.from_dict(BASE).replace(**dotted)


def _run(sc):
    return jobs.job_for(sc).run(sc).to_dict()


THREE = {"protocol": {"type": "mdi-qkd", "finite_key_method": "chernoff-lim"},
         "source": {"intensities": [0.4, 0.1, 0.0], "intensity_probs": [0.5, 0.35, 0.15],
                    "z_basis_prob": 0.5}}


def _gains_within(d, th, limit=5.0):
    """Worst deviation (binomial sigmas of each count) of the Monte Carlo's
    gains and error gains from the closed form's, row by row."""
    worst = 0.0
    for row, exp in zip(d["gains"], th["gains"], strict=True):
        assert (row["mu_a"], row["mu_b"], row["basis"]) == (exp["mu_a"], exp["mu_b"],
                                                           exp["basis"])
        for key in ("gain", "error_gain"):
            p = exp[key]
            sigma = math.sqrt(max(p * (1 - p), 1.0 / row["sent"]) / row["sent"])
            worst = max(worst, abs(row[key] - p) / sigma)
    return worst


@pytest.mark.parametrize("three", [False, True])
def test_monte_carlo_gains_match_the_analytic_twin(three):
    """Gain and error gain of every (intensity pair, basis) row within 5
    sigma (binomial sigma of each count, fixed seed): the four-intensity
    rows (zz in Z, y/x/vacuum pairs in X) and the three-intensity ones."""
    sc = _scenario() if not three else jobs.from_dict({**BASE, **THREE})
    d, th = _run(sc), jobs.job_for(sc).theory(sc)
    assert len(d["gains"]) == (18 if three else 10)
    assert _gains_within(d, th) < 5.0
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


@pytest.mark.parametrize("three", [False, True])
def test_finite_key_is_below_the_asymptotic_key(three):
    sc = (_scenario(**{"run.pulses": 2 * 10**7}) if not three else
          jobs.from_dict({**BASE, **THREE}).replace(**{"run.pulses": 2 * 10**7}))
    d = _run(sc)
    fk = d["finite_key"]
    assert fk["method"] == ("chernoff-lim" if three else "four-intensity")
    s11 = fk["y11_z_lower"] if three else fk["s11_lower"]
    assert s11 <= d["y11_z_lower"] and fk["e11_x_upper"] >= d["e11_x_upper"]
    assert d["secret_key_bits"] == fk["key_length"]
    assert d["secret_key_bits"] <= d["key_rate_per_pulse"] * sc.config.pulses


FK_SCENARIO = {"source.intensities": [0.3, 0.6, 0.1, 0.0],
               "source.intensity_probs": [0.1, 0.1, 0.7, 0.1], "channel.length_km": 10.0,
               "channel.visibility": 0.98, "detector.efficiency": 0.9,
               "detector.dark_count_prob": 1e-8, "run.pulses": 4 * 10**7}


def test_monte_carlo_finite_key_matches_the_twin_on_expected_counts():
    """The four-intensity finite key (Chernoff ends of every count) on the
    Monte Carlo's observed counts against the same formula on the expected
    counts: s11 lower bound, e11 upper bound, the phase-error bound (with
    the sampling term) and the key length (before the floor at 0) within 5
    sigma, sigma by the delta method over the independent counts
    (successes without / with a bit error of each pair, Poisson variance).
    At 4e7 pulses the key itself is still negative (an MDI finite key needs
    ~1e10 pulses); no bound is clipped (e11 ~0.21, phase error ~0.28)."""
    from qchannel.jobs import mdi as J
    from qchannel.theory import mdi as th

    sc = _scenario(**FK_SCENARIO)
    c, pp = sc.config, sc.config.postprocess
    z, y, x = c.mus[:3]

    def fk(sent, succ, err):
        n, k, exx, ezz = J._four_counts(c, sent, succ, err)
        out = th.four_intensity_key(n, k, exx, ezz, z, y, x, pp.f_ec, pp.eps_sec, pp.eps_cor)
        return np.array([out["s11_lower"], out["e11_x_upper"], out["phase_error_upper"],
                         out["key_length_real"]])

    sim = J.simulate(c)
    obs = fk(sim.sent, sim.succ, sim.err)
    sent, succ, err = J.expected_counts(c)
    exp = fk(sent, succ, err)
    assert 0 < exp[0] and 0 < exp[1] < exp[2] < 0.4
    var = np.zeros(4)
    for table, dependent in ((succ, ()), (err, (succ,))):
        for i, j in zip(*np.nonzero(table)):
            # the count of one cell: successes without an error, or errors (a success too)
            m = table[i, j] - (err[i, j] if table is succ else 0.0)
            h = max(math.sqrt(m), 1.0) * 0.1
            ups, dns = [], []
            for sign, store in ((1, ups), (-1, dns)):
                s2, e2 = succ.copy(), err.copy()
                s2[i, j] += sign * h
                if table is err:
                    e2[i, j] += sign * h
                store.append(fk(sent, s2, e2))
            var += ((ups[0] - dns[0]) / (2 * h)) ** 2 * m
    sigma = np.sqrt(var)
    assert np.all(np.abs(obs - exp) < 5 * sigma), (obs, exp, sigma)
    d = _run(sc)
    assert d["finite_key"]["s11_lower"] == pytest.approx(obs[0], rel=1e-12)


def test_threads_do_not_change_the_keys(monkeypatch):
    """[run] threads reaches the post-processing (as decoy BB84) and the
    keys do not depend on it."""
    from qchannel.postprocess import pipeline

    seen = []
    real = pipeline.reconcile_and_verify

    def spy(*a, **k):
        seen.append(k.get("threads"))
        return real(*a, **k)

    monkeypatch.setattr(pipeline, "reconcile_and_verify", spy)
    dicts = []
    for n in (1, 3):
        sc = _scenario(**{"protocol.finite_key": False, "postprocess.ec": "cascade",
                          "channel.misalignment": 0.005, "detector.dark_count_prob": 1e-7,
                          "run.pulses": 5 * 10**6, "run.threads": n})
        dicts.append(_run(sc))
    assert seen == [1, 3]
    assert dicts[0] == dicts[1] and dicts[0]["keys_match"] is True


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
    ({"source": {"intensities": [0.4, 0.1, 0.3, 0.0]}}, "source.intensities"),
    ({"source": {"intensities": [0.4, 0.1, 0.0]}}, "protocol.finite_key_method"),
    ({**THREE, "source": {"intensities": [0.1, 0.4, 0.0]}}, "source.intensities"),
    ({**THREE, "source": {"intensities": [0.4, 0.1, 0.0], "intensity_probs": [1.0, 0.0, 0.0]}},
     "source.intensity_probs"),
    ({"protocol": {"type": "mdi-qkd", "finite_key_method": "chernoff-lim"}},
     "protocol.finite_key_method"),
    ({"protocol": {"type": "mdi-qkd", "finite_key_method": "gllp"}},
     "protocol.finite_key_method"),
    ({"source": {"z_basis_prob": 0.7}}, "source.z_basis_prob"),
    ({"run": {"threads": 0}}, "run.threads"),
    ({"channel": {"visibility": 1.2}}, "channel.visibility"),
    ({"detector": {"dark_count_prob": -1}}, "detector.dark_count_prob"),
    ({"run": {"pulses": 0}}, "run.pulses"),
    ({"protocol": {"type": "mdi-qkd", "finite_key": "yes"}}, "protocol.finite_key"),
])
def test_bad_input_names_the_key(change, match):
    with pytest.raises(ValueError, match=match):
        jobs.from_dict({**BASE, **change})


def test_yin_example_finite_key_is_below_the_asymptotic_keys():
    """The Yin 2016 example's closed form at 200 km (1e13 pulses): a finite
    key, below the four-intensity asymptotic key, itself below the
    infinite-decoy key; at 404 km no finite key (README, Validation)."""
    from pathlib import Path

    from qchannel import load_scenario

    sc = load_scenario(Path(__file__).resolve().parents[2] / "examples" / "mdi_yin2016.toml")
    job = jobs.job_for(sc)
    th = job.theory(sc.replace(**{"channel.length_km": 200.0}))
    assert 0 < th["key_rate_per_pulse_finite"] < th["key_rate_per_pulse_decoy"] \
        < th["key_rate_per_pulse"]
    assert th["finite_key"]["method"] == "four-intensity"
    assert job.theory(sc)["finite_key"]["key_length"] == 0


def test_monte_carlo_is_the_same_for_any_threads_and_chunks():
    """The link's records do not depend on how blocks are chunked or on
    how many threads draw them (blocks of 2^22 pulse pairs: 8 here)."""
    from qchannel.jobs.mdi import MdiLink

    c = _scenario(**{"run.pulses": 3 * 10**7, "channel.length_km": 80.0,
                     "detector.dark_count_prob": 1e-6}).config
    ref = MdiLink(c, keep_bits=True)
    ref.threads = 1
    a = ref.simulate(c.seed, chunk_blocks=1)
    for threads, chunk in ((1, 5), (3, 1), (2, 3), (4, 8)):
        link = MdiLink(c, keep_bits=True)
        link.threads = threads
        b = link.simulate(c.seed, chunk_blocks=chunk)
        for key in ("sent", "succ", "err", "bits_a", "bits_b"):
            assert np.array_equal(getattr(a, key), getattr(b, key)), (threads, chunk, key)
        assert a.detections == b.detections
    assert a.sent.sum() == c.pulses and len(a.bits_a) > 1000
