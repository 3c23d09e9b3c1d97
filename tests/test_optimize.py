"""qchannel.optimize: source parameters that maximise the expected finite key."""
import json

import pytest

from qchannel.optimize import (BOUNDS, _params, expected_finite_key, format_optimize_report,
                               optimize)
from qchannel.runner import simulate
from qchannel.scenario import Scenario
from qchannel.sources import DecoyBB84Source

PULSES = 10**10


@pytest.fixture(scope="module")
def at_100km():
    sc = Scenario().replace(**{"channel.length_km": 100.0})
    return sc, optimize(sc, pulses=PULSES)


def test_optimum_gives_the_predicted_key_where_the_defaults_abort(at_100km):
    """The issue's 'done' criterion: the default source aborts at 100 km with
    1e10 pulses; with the optimised parameters the Monte Carlo gives a
    positive key within 25 % of the predicted rate.  (Measured: predicted
    4.259e-5 per pulse; Monte Carlo over seeds 1-8 4.17e-5 to 4.44e-5, mean
    4.32e-5, standard deviation 2.1 %: 25 % is about 12 standard deviations.)"""
    sc, d = at_100km
    default = simulate(sc, pulses=PULSES, seed=1).to_dict()
    assert default["aborted"] and "s_z1 lower bound is 0" in default["abort_reason"]
    assert d["initial"]["aborted"] and "s_z1" in d["initial"]["abort_reason"]

    assert not d["aborted"] and d["secret_key_bits"] > 0 and d["pulses"] == PULSES
    assert d["key_rate_per_pulse"] == pytest.approx(d["secret_key_bits"] / PULSES)
    mc = simulate(sc.replace(**d["parameters"]), pulses=PULSES, seed=1).to_dict()
    assert not mc["aborted"] and mc["secret_key_bits"] > 0
    assert mc["key_rate_per_pulse"] == pytest.approx(d["key_rate_per_pulse"], rel=0.25)


def test_optimum_respects_the_schema_and_is_a_local_maximum(at_100km):
    sc, d = at_100km
    p = d["parameters"]
    assert set(p) == {"source.intensities", "source.intensity_probs", "source.key_basis_prob"}
    mu1, mu2, mu3 = p["source.intensities"]
    assert mu1 > mu2 + mu3 and mu2 > mu3 >= 0.0
    assert sum(p["source.intensity_probs"]) == pytest.approx(1.0, abs=1e-12)
    assert all(q > 0 for q in p["source.intensity_probs"])
    assert 0.0 < p["source.key_basis_prob"] < 1.0
    DecoyBB84Source(intensities=p["source.intensities"], intensity_probs=p["source.intensity_probs"],
                    key_basis_prob=p["source.key_basis_prob"])   # the schema accepts them
    json.dumps(d, allow_nan=False)
    # No coordinate step of 2 % (of the variable) improves the expected key by
    # more than 0.1 %: the optimiser stopped at a maximum, not on a slope.
    best = d["key_rate_per_pulse"]
    x = [mu1, (mu2 + mu3) / mu1, mu3 / mu2, p["source.intensity_probs"][0],
         p["source.intensity_probs"][1] / (1 - p["source.intensity_probs"][0]),
         p["source.key_basis_prob"]]
    for i, (lo, hi) in enumerate(BOUNDS):
        for step in (-0.02, 0.02):
            y = list(x)
            y[i] = min(max(y[i] * (1 + step) if y[i] > 1e-6 else y[i] + 0.02 * step, lo), hi)
            fk, _ = expected_finite_key(sc, PULSES, *_params(y))
            assert fk.key_length / PULSES <= best * 1.001, (i, step)


def test_report_and_bad_input(at_100km):
    _, d = at_100km
    text = format_optimize_report(d)
    assert "source.intensities" in text and "per pulse" in text and "s_z1" in text
    sc = Scenario()
    with pytest.raises(ValueError, match="pulses"):
        optimize(sc, pulses=0)
    with pytest.raises(ValueError, match="source.intensities"):
        optimize(sc.replace(**{"source.intensities": [0.5, 0.1],
                               "source.intensity_probs": [0.5, 0.5]}))
    with pytest.raises(ValueError, match="seed"):
        optimize(sc, seed=-1)


def test_no_key_anywhere_is_reported_not_hidden():
    """Far beyond the reach of the detector every parameter set aborts: the
    optimiser says so (a short search suffices to show it)."""
    sc = Scenario().replace(**{"channel.length_km": 300.0})
    d = optimize(sc, pulses=10**9, maxiter=5, popsize=3)
    assert d["aborted"] and d["secret_key_bits"] == 0 and d["key_rate_per_pulse"] == 0.0
    assert d["abort_reason"]
    assert "no key at the optimum" in format_optimize_report(d)


def test_more_pulses_never_lower_the_optimum():
    """The finite key per pulse grows with the block: the optimum for 1e11
    pulses beats the one for 1e9 at 80 km (short searches, same seed)."""
    sc = Scenario().replace(**{"channel.length_km": 80.0})
    small = optimize(sc, pulses=10**9, maxiter=20, popsize=5)
    large = optimize(sc, pulses=10**11, maxiter=20, popsize=5)
    assert 0 < small["key_rate_per_pulse"] < large["key_rate_per_pulse"]
    # and the large-block optimum evaluated at 1e9 pulses is no better than
    # the 1e9 optimum (up to the short search's tolerance, 1 %)
    fk, _ = expected_finite_key(sc, 10**9, *_params_of(large))
    assert fk.key_length / 10**9 <= small["key_rate_per_pulse"] * 1.01


def _params_of(d):
    p = d["parameters"]
    return p["source.intensities"], p["source.intensity_probs"], p["source.key_basis_prob"]
