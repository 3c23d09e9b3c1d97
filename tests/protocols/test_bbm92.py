"""BBM92 / E91: CHSH, QBER, Eve and the finite key (4 sigma, fixed seeds)."""
import math

import pytest

from qchannel.theory import entanglement as th
from qchannel.jobs.entanglement import run_entanglement
from qchannel.protocols.bbm92 import bbm92_key_length

SIG = 4.0
KEYS = {"qber", "chsh_s", "chsh_s_std", "coincidences", "accidentals", "secret_key_bits",
        "key_rate_per_pulse", "secret_key_rate_bps", "aborted", "abort_reason", "pairs", "pulses"}


def scenario(protocol, V=0.9, pulses=20_000_000, mu=0.002, seed=1, **chan):
    return {"source": {"type": "spdc", "pair_prob": mu, "visibility": V, "rep_rate_hz": 1e8},
            "channel": {"alice": {"transmittance": 0.9}, "bob": {"transmittance": 0.8, **chan}},
            "detector": {"efficiency": 0.9, "dark_count_prob": 1e-8},
            "protocol": protocol, "run": {"pulses": pulses, "seed": seed},
            "postprocess": {"eps_sec": 1e-10, "eps_cor": 1e-15, "f_ec": 1.16}}


@pytest.mark.parametrize("V", [1.0, 0.85, 0.6])
def test_e91_chsh_is_2sqrt2_V(V):
    r = run_entanglement(scenario({"type": "e91"}, V=V)).to_dict()
    assert KEYS <= set(r)
    # low pair_prob and dark counts: S -> 2 sqrt(2) V; exact model value in theory
    assert abs(r["chsh_s"] - th.chsh_werner(V)) < SIG * r["chsh_s_std"] + 0.01
    assert abs(r["chsh_s"] - r["theory"]["chsh_s_observed"]) < SIG * r["chsh_s_std"]
    assert r["qber"] == pytest.approx(r["theory"]["qber"],
                                      abs=SIG * math.sqrt(0.25 / r["sifted_bits"]))


def test_bbm92_chsh_rounds_and_key():
    r = run_entanglement(scenario({"type": "bbm92", "chsh_fraction": 0.3}, V=0.97)).to_dict()
    assert abs(r["chsh_s"] - r["theory"]["chsh_s_observed"]) < SIG * r["chsh_s_std"]
    assert r["qber"] == pytest.approx(0.015, abs=0.004)
    assert not r["aborted"] and r["secret_key_bits"] > 0
    assert r["secret_key_rate_bps"] == pytest.approx(r["secret_key_bits"] / 0.2)


def test_intercept_resend_breaks_bell_inequality():
    r = run_entanglement(scenario({"type": "e91", "eve_intercept_fraction": 1.0}, V=1.0)).to_dict()
    # measure-resend in a random basis: S = sqrt(2) V < 2, QBER 1/4
    assert r["chsh_s"] + SIG * r["chsh_s_std"] < 2.0
    assert abs(r["chsh_s"] - math.sqrt(2)) < SIG * r["chsh_s_std"] + 0.01
    assert r["aborted"] and "CHSH" in r["abort_reason"]
    b = run_entanglement(scenario({"type": "bbm92", "eve_intercept_fraction": 1.0,
                                   "chsh_fraction": 0.5}, V=1.0)).to_dict()
    assert b["qber"] == pytest.approx(0.25, abs=0.02) and b["aborted"]
    assert b["chsh_s"] < 2.0


def test_depolarizing_channel_lowers_S():
    p = 0.2
    r = run_entanglement(scenario({"type": "e91"}, V=1.0, depolarizing=p)).to_dict()
    assert abs(r["chsh_s"] - th.chsh_werner(1 - p)) < SIG * r["chsh_s_std"] + 0.01


def test_finite_key_bound_behaviour():
    b1, mu1, *_ = bbm92_key_length(10**6, 10**6, 0.02, 0.02, 1e-10, 1e-15, 1.16)
    b2, mu2, *_ = bbm92_key_length(10**4, 10**4, 0.02, 0.02, 1e-10, 1e-15, 1.16)
    assert b1 > 0 and mu2 > mu1 and b2 / 1e4 < b1 / 1e6
    assert bbm92_key_length(10**6, 10**6, 0.2, 0.2, 1e-10, 1e-15, 1.16)[0] == 0
    assert bbm92_key_length(0, 10, 0.0, 0.0, 1e-10, 1e-15, 1.16)[3]
    # asymptotically the rate tends to 1 - h(e_x) - f h(e_z)
    big = 10**12
    rate = bbm92_key_length(big, big, 0.02, 0.02, 1e-10, 1e-15, 1.0)[0] / big
    assert rate == pytest.approx(1 - 2 * th_h(0.02), abs=1e-3)


def th_h(x):
    return -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def test_no_coincidences_aborts():
    sc = scenario({"type": "bbm92"}, pulses=1000, mu=1e-6)
    r = run_entanglement(sc).to_dict()
    assert r["coincidences"] == 0 and r["aborted"] and r["secret_key_bits"] == 0
