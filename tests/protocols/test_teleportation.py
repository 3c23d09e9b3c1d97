"""Teleportation: ideal = 1, fully depolarised = 1/2, HOM (2 + M)/3, MC vs
the exact expectation of the event model (4 sigma, fixed seeds)."""
import math

import pytest

from qchannel.theory import entanglement as th
from qchannel.jobs.entanglement import run_entanglement
from qchannel.protocols.teleportation import run_teleportation


def sc(pulses=200_000, seed=3, source=None, channel=None, detector=None, protocol=None):
    s = {"source": {"type": "spdc", "statistics": "single", "pair_prob": 1, "visibility": 1.0},
         "channel": {"transmittance": 0.5}, "detector": {"efficiency": 1.0, "dark_count_prob": 0.0},
         "protocol": {"type": "teleportation", "input_pair_prob": 1, "hom_visibility": 1.0,
                      "bsm_efficiency": 1.0},
         "run": {"pulses": pulses, "seed": seed}}
    if channel and "loss_db" in channel:
        del s["channel"]["transmittance"]
    for k, v in (("source", source), ("channel", channel), ("detector", detector),
                 ("protocol", protocol)):
        s[k].update(v or {})
    return s


def test_perfect_setup_fidelity_one():
    r = run_entanglement(sc()).to_dict()
    assert r["fidelity"] == 1.0 and r["events"] > 0
    # success: 1/2 (two Bell states) x transmittance 0.5
    assert r["success_prob"] == pytest.approx(0.25, abs=4 * math.sqrt(0.25 * 0.75 / 200_000))
    assert set(r["per_state"]) == {"H", "V", "D", "A", "R", "L"}


def test_fully_depolarized_is_one_half():
    r = run_teleportation(sc(channel={"depolarizing": 1.0})).to_dict()
    assert abs(r["fidelity"] - 0.5) < 4 * r["fidelity_std"]
    r = run_teleportation(sc(source={"visibility": 0.0})).to_dict()
    assert abs(r["fidelity"] - 0.5) < 4 * r["fidelity_std"]


@pytest.mark.parametrize("M", [0.0, 0.6])
def test_hom_visibility(M):
    r = run_teleportation(sc(protocol={"hom_visibility": M})).to_dict()
    assert r["theory"]["fidelity"] == pytest.approx((2 + M) / 3)
    assert abs(r["fidelity"] - (2 + M) / 3) < 4 * r["fidelity_std"]


def test_noisy_multipair_vs_exact_expectation():
    s = sc(pulses=2 * 10**9, source={"statistics": "thermal", "pair_prob": 0.02,
                                     "visibility": 0.93},
           channel={"loss_db": 10.0, "dephasing": 0.02}, detector={"efficiency": 0.6,
                                                                   "dark_count_prob": 1e-6},
           protocol={"input_pair_prob": 0.02, "hom_visibility": 0.9, "bsm_efficiency": 0.5,
                     "input_herald_efficiency": 0.5, "memory_time_s": 1e-3,
                     "memory_t1_s": 1e-2, "memory_t2_s": 1e-2})
    r = run_teleportation(s).to_dict()
    t = r["theory"]
    assert abs(r["fidelity"] - t["fidelity"]) < 4 * r["fidelity_std"]
    n = t["success_prob"] * 2e9
    assert abs(r["events"] - n) < 4 * math.sqrt(n)
    assert t["fidelity"] < t["fidelity_genuine"] < 1.0
    assert th.CLASSICAL_FIDELITY < t["fidelity_genuine"]


def test_ren_2017_example():
    """examples/teleportation.toml against Ren et al., Nature 549, 70 (2017):
    F = 0.80 +- 0.01 (abstract).  The example's exact expectation (0.814) is
    within 2 published sigma (0.02) of it; the Monte Carlo (3e11 trials,
    ~1700 events, ~2 s) is within 4 sigma of that expectation (sigma = the
    reported fidelity_std, binomial); and across the published 41-52 dB
    uplink loss the expectation moves by < 0.002 (the loss sets the rate)."""
    import pathlib
    from qchannel.scenario import read_toml

    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "teleportation.toml"
    data = read_toml(path)
    r = run_entanglement(data).to_dict()
    t = r["theory"]
    assert abs(t["fidelity"] - 0.80) < 2 * 0.01
    assert abs(r["fidelity"] - t["fidelity"]) < 4 * r["fidelity_std"]
    assert r["beats_classical"] and r["events"] > 1000
    f = []
    for loss in (41.0, 52.0):
        s = {**data, "channel": {**data["channel"], "loss_db": loss},
             "run": {"pulses": 10**6, "seed": 1}}
        f.append(run_teleportation(s).to_dict()["theory"]["fidelity"])
    assert abs(f[0] - f[1]) < 0.002 and abs(f[0] - t["fidelity"]) < 0.002


@pytest.mark.parametrize("section,key,value,match", [
    ("protocol", "hom_visibility", 1.2, "protocol.hom_visibility"),
    ("protocol", "bell_states", 3, "protocol.bell_states"),
    ("protocol", "memory_t2_s", 5.0, "memory_t2_s"),
    ("channel", "loss_db", -1, "channel.loss_db"),
    ("source", "statistics", "fock", "source.statistics"),
    ("detector", "jitter_ps", 1, "detector.jitter_ps is not a known key"),
])
def test_bad_inputs(section, key, value, match):
    s = sc()
    s[section][key] = value
    if key == "memory_t2_s":
        s["protocol"]["memory_t1_s"] = 1.0
    with pytest.raises(ValueError, match=match):
        run_teleportation(s)
