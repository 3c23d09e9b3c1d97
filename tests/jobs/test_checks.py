"""Checks made before the work: combined constraints at load (schema) and
each job's ``check`` hook (memory a run will need, passes that exist)."""
import dataclasses
import tracemalloc

import pytest

import qchannel
from qchannel import jobs
from qchannel.jobs import memory
from qchannel.scenario import Scenario

SAT = {"source": {"rep_rate_hz": 1e7, "intensities": [0.6, 0.1, 0.0],
                  "intensity_probs": [0.7, 0.2, 0.1], "key_basis_prob": 0.5},
       "channel": {"type": "satellite-downlink", "tx_aperture_m": 0.3, "rx_aperture_m": 1.0,
                   "altitude_km": 500.0, "max_elevation_deg": 60.0, "min_elevation_deg": 20.0,
                   "time_bin_s": 1.0},
       "detector": {"efficiency": 0.6}}


@pytest.fixture
def little_memory(monkeypatch):
    """The machine has 1 GiB free (whatever it really has)."""
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)


# ------------------------------------------------------------------ combined
# Lim et al. 2014: what the finite key of every decoy-BB84 run cannot take.
# Today, with other than 3 intensities, finite_key_report raised "needs
# exactly 3" after the Monte Carlo; probabilities 0 and mu1 <= mu2 + mu3
# raised from finite_key_length after it; key_basis_prob = 1 ran and aborted
# ("no detections in the Z basis").  All are refused at load now.
COMBINED = [
    ({"source": {"intensities": [0.5], "intensity_probs": [1.0]}}, "source.intensities",
     "exactly 3"),
    ({"source": {"intensities": [0.5, 0.1], "intensity_probs": [0.9, 0.1]}},
     "source.intensities", "exactly 3"),
    ({"source": {"intensities": [0.6, 0.3, 0.1, 0.0], "intensity_probs": [0.7, 0.1, 0.1, 0.1]}},
     "source.intensities", "exactly 3"),
    ({"source": {"intensities": [0.5, 0.4, 0.2]}}, "source.intensities", "mu1 > mu2 + mu3"),
    ({"source": {"intensities": [0.5, 0.25, 0.25]}}, "source.intensities", "strictly decreasing"),
    ({"source": {"intensity_probs": [1, 0, 0]}}, "source.intensity_probs[1]", "(0, 1]"),
    ({"source": {"intensity_probs": [0.5, 0.5, 0.0]}}, "source.intensity_probs[2]", "(0, 1]"),
    ({"source": {"key_basis_prob": 1.0}}, "source.key_basis_prob", "(0, 1)"),
    ({"source": {"key_basis_prob": 1.0}, "detector": {"basis_choice": "passive"}},
     "source.key_basis_prob", "beam splitter"),
    ({"postprocess": {"ldpc_decoder": "spa"}}, "postprocess.ldpc_decoder", "'ldpc' only"),
    ({"run": {"time_bin_s": 0.1}}, "run.time_bin_s", "free-space"),
    ({"channel": {"length_km": 10.0}, "eve": {"attack": "pns", "position_km": 20.0}},
     "eve.position_km", "<= channel.length_km"),
    ({**SAT, "run": {"pulses": 10**6}}, "run.pulses", "does not apply"),
    ({**SAT, "eve": {"attack": "pns"}}, "[eve]", "fiber"),
]


@pytest.mark.parametrize("tables,key,rule", COMBINED, ids=[c[1] + ":" + c[2] for c in COMBINED])
def test_combined_constraints_fail_at_load(tables, key, rule):
    with pytest.raises(ValueError) as err:
        Scenario.from_dict(tables)
    msg = str(err.value)
    assert key in msg and rule in msg and "\n" not in msg


def test_boundaries_of_the_combined_constraints_are_accepted():
    Scenario.from_dict({"source": {"intensities": [0.5, 0.1, 0.0]}})          # mu3 = 0
    Scenario.from_dict({"source": {"intensities": [0.5, 0.3, 0.19]}})         # 0.5 > 0.49
    Scenario.from_dict({"source": {"key_basis_prob": 0.999}})
    Scenario.from_dict({"source": {"intensity_probs": [0.98, 0.01, 0.01]}})
    Scenario.from_dict({"channel": {"length_km": 10.0}, "eve": {"attack": "pns",
                                                                 "position_km": 10.0}})


def test_replace_and_theory_refuse_them_too():
    sc = Scenario()
    with pytest.raises(ValueError, match=r"source\.intensity_probs\[1\]"):
        sc.replace(**{"source.intensity_probs": [1, 0, 0]})
    with pytest.raises(ValueError, match=r"source\.key_basis_prob"):
        jobs.from_dict({"source": {"key_basis_prob": 1}})   # what `qchannel theory` loads


# ------------------------------------------------------------------ memory
def test_available_memory_is_known_here():
    avail = memory.available_bytes()
    assert avail is None or avail > 0


def test_satellite_time_bins_refused_with_the_estimate_and_the_key():
    sc = Scenario.from_dict({**SAT, "run": {"time_bin_s": 1e-6}})
    with pytest.raises(ValueError) as err:
        jobs.job_for(sc).check(sc)
    msg = str(err.value)
    # ~286 s above 20 deg: 2.9e8 bins of ~1 kB
    assert "run.time_bin_s" in msg and "time bins of 1e-06 s" in msg and " GB" in msg
    with pytest.raises(ValueError, match="run.time_bin_s"):   # the analytic twin too
        jobs.job_for(sc).theory(sc)


def test_satellite_as_given_fits(little_memory):
    sc = Scenario.from_dict(SAT)
    est = jobs.job_for(sc).check(sc)
    assert memory.BASELINE_BYTES < est < memory.BASELINE_BYTES + 2e6   # ~290 bins


def test_report_bins_are_counted(little_memory):
    sc = Scenario.from_dict({**SAT, "run": {"report_bin_s": 1e-6}})
    with pytest.raises(ValueError, match="raise run.report_bin_s"):
        jobs.job_for(sc).check(sc)


def test_kept_sifted_bits_of_real_error_correction(little_memory):
    sc = Scenario.from_dict({"run": {"pulses": 1e13}, "postprocess": {"ec": "cascade"}})
    with pytest.raises(ValueError) as err:
        jobs.job_for(sc).check(sc)
    assert "sifted bits kept for postprocess.ec = 'cascade'" in str(err.value)
    assert "postprocess.ec = 'estimate'" in str(err.value)
    # the same run without real error correction keeps nothing per pulse
    assert jobs.job_for(sc).check(sc.replace(**{"postprocess.ec": "estimate"})) \
        == memory.BASELINE_BYTES


def test_sifted_bit_estimate_bounds_the_measured_peak():
    """The kept-bits estimate is the right size: the traced peak of a real
    cascade run lies between 1/4 of it and the estimate itself."""
    sc = Scenario.from_dict({"source": {"key_basis_prob": 0.5}, "channel": {"length_km": 10.0},
                             "run": {"pulses": 3e8, "seed": 3}, "postprocess": {"ec": "cascade"}})
    est = jobs.job_for(sc).check(sc) - memory.BASELINE_BYTES
    tracemalloc.start()
    try:
        d = qchannel.run_scenario(sc).to_dict()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert d["sifted_bits"] > 10**6
    assert est / 4 < peak < est


@pytest.mark.parametrize("tables,key", [
    ({"protocol": {"type": "repeater-chain"}, "repeater": {"segments": 2, "success_prob": 0.5,
                                                          "attempt_time_s": 1e-3,
                                                          "realisations": 10**13}},
     "repeater.realisations"),
    ({"protocol": {"type": "teleportation"}, "channel": {"loss_db": 3.0},
      "run": {"pulses": 2**56}}, "run.pulses"),
    ({"protocol": {"type": "bbm92"}, "run": {"pulses": 2**56}}, "run.pulses"),
    ({"protocol": {"type": "bbm92"}, "channel": {"time_bin_s": 1e-3},
      "run": {"pulses": 10**12}}, "channel.time_bin_s"),
])
def test_other_jobs_refuse_runs_that_do_not_fit(little_memory, tables, key):
    with pytest.raises(ValueError) as err:
        sc = jobs.from_dict(tables)
        jobs.job_for(sc).check(sc)
    assert key in str(err.value) and "\n" not in str(err.value)


def test_run_scenario_runs_the_check_first(monkeypatch):
    sc = jobs.from_dict({"protocol": {"type": "repeater-chain"},
                         "repeater": {"segments": 2, "success_prob": 0.5,
                                      "attempt_time_s": 1e-3, "realisations": 10**6}})
    monkeypatch.setattr(memory, "available_bytes", lambda: 10**6)
    ran = []
    job = jobs.job_for(sc)
    monkeypatch.setitem(jobs._REGISTRY, job.name,
                        dataclasses.replace(job, run=lambda *a, **k: ran.append(1)))
    with pytest.raises(ValueError, match="repeater.realisations"):
        qchannel.run_scenario(sc)
    assert not ran


def test_sweep_checks_every_point_before_any_runs(little_memory, tmp_path):
    from qchannel.sweep import sweep

    sc = Scenario.from_dict({**SAT})
    out = tmp_path / "s.parquet"
    with pytest.raises(ValueError, match=r"grid point run\.time_bin_s=1e-06"):
        sweep(sc, {"run.time_bin_s": [1.0, 1e-6]}, executor="serial", out=str(out))
    assert not out.exists() and not (tmp_path / "s.parquet.parts").exists()
