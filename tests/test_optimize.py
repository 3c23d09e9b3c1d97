"""qchannel.optimize: source parameters that maximise the expected finite key."""
import json
import os

import pytest

from qchannel.optimize import (BOUNDS, PARAMETERS, _params, expected_finite_key,
                               format_optimize_report, optimize)
from qchannel.runner import simulate
from qchannel.scenario import Scenario
from qchannel.sources import DecoyBB84Source

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PULSES = 10**10
# The default source gives a key up to 130 km with 1e10 pulses (the optimum
# up to ~145 km): 135 km is where the defaults abort and the optimum does not.
FAR_KM = 135.0


@pytest.fixture(scope="module")
def far():
    sc = Scenario().replace(**{"channel.length_km": FAR_KM})
    return sc, optimize(sc, pulses=PULSES)


def _cli(argv, capsys):
    from qchannel.cli import main

    try:
        rc = main(argv)
    except SystemExit as stop:
        rc = stop.code
    out, err = capsys.readouterr()
    return rc, out, err


def _toml(tables):
    """A scenario file from plain tables (numbers and lists of numbers)."""
    lines = []
    for section, keys in tables.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def test_optimum_gives_the_predicted_key_where_the_defaults_abort(far, tmp_path, capsys):
    """The issue's 'done' criterion, through the command line: at 135 km the
    default source aborts with 1e10 pulses; ``qchannel optimize`` returns
    parameters with which ``qchannel run`` gives a positive key within 25 %
    of the predicted rate.  (Measured: predicted 2.644e-6 per pulse; Monte
    Carlo over seeds 1-16 2.26e-6 to 2.94e-6, mean 0.970 of the prediction,
    standard deviation 5.9 % of it: 25 % is 4.2 standard deviations, 3.7
    from the mean.  The spread is large this close to the optimum's own
    cutoff, ~145 km: the key is a small difference of large terms.)"""
    sc, d = far
    base = tmp_path / "far.toml"
    base.write_text(_toml({"channel": {"length_km": FAR_KM}}))
    rc, out, err = _cli(["run", str(base), "--json"], capsys)
    assert rc == 0, err
    default = json.loads(out)
    assert default["pulses"] == PULSES and default["aborted"] and default["secret_key_bits"] == 0
    assert d["initial"]["aborted"]

    rc, out, err = _cli(["optimize", str(base), "--json"], capsys)
    assert rc == 0 and err == "", err
    got = json.loads(out)
    assert got == json.loads(json.dumps(d))       # the CLI is the Python API, deterministic
    assert set(got["parameters"]) == set(PARAMETERS)
    assert not got["aborted"] and got["secret_key_bits"] > 0 and got["pulses"] == PULSES
    assert got["key_rate_per_pulse"] == pytest.approx(got["secret_key_bits"] / PULSES)

    tuned = tmp_path / "tuned.toml"
    src = {k.split(".", 1)[1]: v for k, v in got["parameters"].items()}
    tuned.write_text(_toml({"source": src, "channel": {"length_km": FAR_KM}}))
    rc, out, err = _cli(["run", str(tuned), "--json"], capsys)
    assert rc == 0, err
    mc = json.loads(out)
    assert mc["scenario"]["source"]["intensities"] == got["parameters"]["source.intensities"]
    assert not mc["aborted"] and mc["secret_key_bits"] > 0
    assert mc["key_rate_per_pulse"] == pytest.approx(got["key_rate_per_pulse"], rel=0.25)


def test_cli_text_report_and_jobs_without_an_optimizer(far, tmp_path, capsys):
    rc, out, err = _cli(["optimize", "--pulses", "1e8"], capsys)   # default scenario, 50 km
    assert rc == 0 and err == ""
    assert "source.intensities" in out and "key rate" in out and "per pulse" in out
    assert "1e+08 pulses" in out
    other = os.path.join(ROOT, "examples", "bbm92_fiber.toml")
    rc, out, err = _cli(["optimize", other], capsys)
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert "bbm92 job has no optimizer" in err
    for bad, fragment in ((["--pulses", "0"], "pulses"), (["--pulses", "lots"], "--pulses")):
        rc, out, err = _cli(["optimize", *bad], capsys)
        assert rc == 2 and out == "" and err.count("\n") == 1 and fragment in err


def test_optimum_respects_the_schema_and_is_a_local_maximum(far):
    sc, d = far
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


def test_report_and_bad_input(far):
    _, d = far
    text = format_optimize_report(d)
    assert "source.intensities" in text and "per pulse" in text
    assert d["initial"]["abort_reason"] in text          # the scenario's own source aborts
    sc = Scenario()
    with pytest.raises(ValueError, match="pulses"):
        optimize(sc, pulses=0)
    with pytest.raises(ValueError, match="source.intensities"):
        optimize(sc.replace(**{"source.intensities": [0.5, 0.1],
                               "source.intensity_probs": [0.5, 0.5]}))
    with pytest.raises(ValueError, match="seed"):
        optimize(sc, seed=-1)
    with pytest.raises(ValueError, match=r"remove \[eve\]"):
        optimize(Scenario.from_dict({"eve": {"attack": "pns"}}))


def test_no_key_anywhere_is_reported_not_hidden():
    """Far beyond the reach of the detector every parameter set aborts: the
    optimiser says so (a short search suffices to show it)."""
    sc = Scenario().replace(**{"channel.length_km": 300.0})
    d = optimize(sc, pulses=10**9, maxiter=5, popsize=3)
    assert d["aborted"] and d["secret_key_bits"] == 0 and d["key_rate_per_pulse"] == 0.0
    assert d["abort_reason"]
    assert "no key at the optimum" in format_optimize_report(d)


def test_default_source_keys_wherever_it_should():
    """The default source (1e10 pulses, default fiber and detector) gives a
    key at every 5 km from 0 to 130 km (the optimum reaches ~145 km; the
    former default, 0.5/0.1/0.0002 sent 0.8/0.1/0.1 with p_X = 0.9, has no
    key beyond 56 km on expected counts), and at 100 km it is
    within 10 % of a short search's optimum (measured 98 % of the full
    optimum, 4.17e-5 against 4.26e-5 per pulse)."""
    for km in range(0, 131, 5):
        sc = Scenario().replace(**{"channel.length_km": float(km)})
        fk, _ = expected_finite_key(sc, PULSES)
        assert not fk.aborted and fk.key_length > 0, km
    sc = Scenario().replace(**{"channel.length_km": 100.0})
    best = optimize(sc, pulses=PULSES, maxiter=20, popsize=5)
    fk, _ = expected_finite_key(sc, PULSES)
    assert fk.key_length / PULSES > 0.9 * best["key_rate_per_pulse"]


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
