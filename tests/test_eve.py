"""Eavesdroppers on decoy BB84 (qchannel.eve): fixed seeds, tolerances in sigma.

Link: 25 km of fiber (5 dB), detector efficiency 0.1, dark counts 6e-7, no
afterpulses (they add ~p_ap/2 to the QBER and are tested elsewhere), 1e8
pulses (~0.3 s a run), X with probability 0.7 so that the Z-basis decoy
statistics certify single photons at this size.
"""
import math

import numpy as np
import pytest

from qchannel.jobs.entanglement import run_entanglement
from qchannel.eve import EveConfig, attack_tables, simulate_with_eve, split_eve
from qchannel.scenario import Scenario

SIG = 4.0
ETA_DET = 0.1
T_FIBER = 10 ** (-0.5)


def link(pulses=1e8, seed=3, misalignment=0.005, intensities=(0.5, 0.1, 0.0002),
         probs=(0.6, 0.2, 0.2), afterpulse=0.0, length_km=25.0):
    return Scenario.from_dict({
        "source": {"key_basis_prob": 0.7, "intensities": list(intensities),
                   "intensity_probs": list(probs)},
        "channel": {"length_km": length_km, "misalignment": misalignment},
        "detector": {"efficiency": ETA_DET, "afterpulse_prob": afterpulse},
        "run": {"pulses": pulses, "seed": seed}})


def binom_sigma(p, n):
    return math.sqrt(max(p * (1 - p), 1e-12) / n)


# ---------------------------------------------------------------- intercept-resend
def test_full_intercept_resend_gives_quarter_qber_and_aborts():
    r = simulate_with_eve(link(misalignment=0.0), {"attack": "intercept-resend"})
    n = r["sifted_bits"]
    assert abs(r["qber"] - 0.25) < SIG * binom_sigma(0.25, n)
    assert abs(r["qber_z"] - 0.25) < SIG * binom_sigma(0.25, r["finite_key"]["n_z_total"])
    assert r["aborted"] and r["secret_key_bits"] == 0 and r["abort_reason"]
    # Eve knows the bit when her basis was Alice's: half the sifted bits
    k = r["eve_knowledge"]
    assert abs(k["known_fraction"] - 0.5) < SIG * binom_sigma(0.5, n)
    assert r["eve_known_sifted_bits"] == k["known_bits"]
    # her guesses: right on known bits, 1/2 on the others -> 3/4 of Alice's bits
    assert abs(k["correct_guesses_alice"] / n - 0.75) < SIG * binom_sigma(0.75, n)


def test_intercept_resend_passive_receiver():
    sc = link(misalignment=0.0).replace(**{"detector.basis_choice": "passive"})
    r = simulate_with_eve(sc, {"attack": "intercept-resend"})
    assert abs(r["qber"] - 0.25) < SIG * binom_sigma(0.25, r["sifted_bits"])
    assert r["aborted"]


def qber_partial_ir(f, e, pdc, src, t=T_FIBER, eta=ETA_DET):
    """Closed form, Eve at Alice's side resending single photons (ideal
    detectors): attacked clicks (1 - e^-mu) t eta with error 1/4 + e/2,
    unattacked 1 - e^-(mu t eta) with error e, dark counts error 1/2."""
    clicks = errors = 0.0
    for mu, p in zip(src.intensities, src.intensity_probs):
        honest = -math.expm1(-mu * t * eta)
        attacked = -math.expm1(-mu) * t * eta
        clicks += p * ((1 - f) * honest + f * attacked + 2 * pdc)
        errors += p * ((1 - f) * honest * e + f * attacked * (0.25 + e / 2) + pdc)
    return errors / clicks


@pytest.mark.parametrize("f", [0.1, 0.3])
def test_partial_intercept_resend_qber(f):
    sc = link()
    r = simulate_with_eve(sc, {"attack": "intercept-resend", "fraction": f})
    n, e = r["sifted_bits"], sc.channel.misalignment
    q = qber_partial_ir(f, e, sc.detector.dark_count_prob, sc.source)
    assert abs(r["qber"] - q) < SIG * binom_sigma(q, n)
    assert r["eve"]["expected"]["qber_x"] == pytest.approx(q, rel=2e-3)
    # ~ f/4 + baseline, less because a resent photon is detected less often
    # than Alice's pulse (1 - e^-mu < mu): the attacked share of clicks is < f
    base = e
    assert 0.6 * f / 4 < r["qber"] - base < f / 4 + SIG * binom_sigma(q, n)


def test_fixed_basis_intercept_resend_caught_by_phase_errors():
    # Eve always in X (the key basis): X QBER stays low, Z QBER ~ 1/2 -> abort
    r = simulate_with_eve(link(misalignment=0.0), {"attack": "intercept-resend", "basis": "x"})
    assert r["qber"] < 0.01 and abs(r["qber_z"] - 0.5) < 0.02
    assert r["aborted"] and ("phase error" in r["abort_reason"]
                             or "single-photon" in r["abort_reason"])
    n = r["sifted_bits"]
    assert abs(r["eve_knowledge"]["known_fraction"] - 1.0) < SIG * math.sqrt(1.0 / n) + 1e-3


# ---------------------------------------------------------------- PNS
def test_pns_matches_signal_gain_and_is_caught_by_decoys():
    sc = link()
    r = simulate_with_eve(sc, {"attack": "pns"})
    gain = [row["gain"] for row in r["intensities"]]
    sent = [row["sent"] for row in r["intensities"]]
    pdc = sc.detector.dark_count_prob
    honest = [1 - (1 - pdc) ** 2 * math.exp(-mu * T_FIBER * ETA_DET) for mu in sc.source.intensities]
    # Bob's signal count rate is the honest one...
    assert abs(gain[0] - honest[0]) < SIG * math.sqrt(honest[0] / sent[0])
    # ...but the decoy's is too low: that is what the decoy bounds see
    assert honest[1] - gain[1] > 10 * math.sqrt(honest[1] / sent[1])
    n, k = r["sifted_bits"], r["eve_known_sifted_bits"]
    exp_known = r["eve"]["expected"]["known_fraction"]
    assert k / n > 0.6 and abs(k / n - exp_known) < SIG * binom_sigma(exp_known, n)
    # caught: no key, or a key no longer than the sifted bits Eve does not know
    assert r["aborted"] or r["secret_key_bits"] <= n - k
    assert r["eve_info_final_key"]["secure_by_count"]


def test_partial_pns_key_is_covered_by_the_decoy_bounds():
    r = simulate_with_eve(link(), {"attack": "pns", "fraction": 0.5})
    n, k, ell = r["sifted_bits"], r["eve_known_sifted_bits"], r["secret_key_bits"]
    assert ell > 0 and k > 0.25 * n
    assert ell <= n - k and r["finite_key"]["s_x1"] + r["finite_key"]["s_x0"] <= n - k
    fk = r["eve_info_final_key"]
    assert fk["secure_by_count"] and fk["info_lower_bound_bits"] == 0
    assert fk["hashed"] and abs(fk["z_score"]) < SIG


def test_pns_fools_naive_single_photon_analysis_but_not_gllp():
    sc = link(intensities=(0.5,), probs=(1.0,))
    r = simulate_with_eve(sc, {"attack": "pns"})
    a = r["single_intensity_analyses"]
    naive, gllp = a["naive"], a["gllp"]
    assert naive["key_bits"] > 0.8 * a["sifted_bits"]          # n (1 - 2 h(Q)), Q ~ 0.5 %
    # Eve knows > 50 % of the 'secret' key: at least l - (n - k) of its bits
    assert not naive["eve"]["secure_by_count"]
    assert naive["eve"]["info_lower_bound_fraction"] > 0.5
    # guessing the hashed bits one by one does not show it (parities of ~n/2 bits)
    assert naive["eve"]["hashed"] and abs(naive["eve"]["z_score"]) < SIG
    # GLLP: Delta = P(n>=2)/gain > 1 -> no key (and the main result is GLLP's)
    assert gllp["delta"] > 1 and gllp["key_bits"] == 0 and r["secret_key_bits"] == 0
    assert gllp["eve"]["secure_by_count"]


def test_gllp_key_stays_below_unknown_bits_under_pns():
    # a weak single-intensity source: GLLP gives a key; PNS does not break it
    sc = link(intensities=(0.02,), probs=(1.0,))
    r = simulate_with_eve(sc, {"attack": "pns"})
    a = r["single_intensity_analyses"]
    n, k = a["sifted_bits"], r["eve_known_sifted_bits"]
    assert 0 < a["gllp"]["key_bits"] <= n - k
    assert a["gllp"]["key_bits"] / n <= 1 - k / n
    assert r["secret_key_bits"] == a["gllp"]["key_bits"]


# ---------------------------------------------------------------- beam splitting
def _known_expected(r, sc, tap, t1=1.0):
    per = r["eve_knowledge"]["per_intensity"]
    n = np.array([p["sifted_bits"] for p in per], float)
    p = np.array([-math.expm1(-mu * t1 * tap) for mu in sc.source.intensities])
    k = sum(x["known_bits"] for x in per)
    return k, float(n @ p), math.sqrt(float(n @ (p * (1 - p))))


def test_beam_splitting_knowledge_matches_tap_and_photon_statistics():
    sc = link()
    r = simulate_with_eve(sc, {"attack": "beam-splitting"})
    tap = 1 - T_FIBER                       # she replaces the fiber's loss
    k, mean, sigma = _known_expected(r, sc, tap)
    assert abs(k - mean) < SIG * sigma
    assert r["eve"]["tap_ratio"] == pytest.approx(tap)
    # passive: Bob's statistics are the honest ones, the decoy key is positive
    # and shorter than the bits Eve does not know; final-key guesses ~ 1/2
    n = r["sifted_bits"]
    assert not r["aborted"] and 0 < r["secret_key_bits"] <= n - k
    fk = r["eve_info_final_key"]
    assert fk["hashed"] and abs(fk["eve_correct_final_bits"] - fk["final_key_bits"] / 2) \
        < SIG * fk["sigma"]


def test_beam_splitting_explicit_tap_at_position():
    sc = link()
    r = simulate_with_eve(sc, {"attack": "beam-splitting", "tap_ratio": 0.3, "position_km": 10.0})
    k, mean, sigma = _known_expected(r, sc, 0.3, t1=10 ** (-0.2))
    assert abs(k - mean) < SIG * sigma


# ---------------------------------------------------------------- honest limit, plumbing
def test_no_attack_matches_transport_kernel():
    from qchannel.runner import simulate

    sc = link(afterpulse=0.04)
    r = simulate_with_eve(sc, {"attack": "intercept-resend", "fraction": 0.0})
    h = simulate(sc).to_dict()
    for a, b in zip(r["intensities"], h["intensities"]):
        assert abs(a["gain"] - b["gain"]) < SIG * math.sqrt(2 * b["gain"] / b["sent"])
    q = h["qber"]
    assert abs(r["qber"] - q) < SIG * math.sqrt(2) * binom_sigma(q, h["sifted_bits"])
    assert r["eve_known_sifted_bits"] == 0


def test_reproducible_and_seed_dependent():
    sc = link(pulses=2e7)
    a = simulate_with_eve(sc, {"attack": "pns", "fraction": 0.3}, seed=7)
    b = simulate_with_eve(sc, {"attack": "pns", "fraction": 0.3}, seed=7)
    c = simulate_with_eve(sc, {"attack": "pns", "fraction": 0.3}, seed=8)
    assert a == b and a["detections"] != c["detections"]


def test_tables_are_normalised():
    sc = link()
    for eve in ({"attack": "intercept-resend"}, {"attack": "pns"}, {"attack": "beam-splitting"},
                {"attack": "intercept-resend", "resend": "coherent", "resend_mu": 0.3}):
        t = attack_tables(EveConfig.from_dict(eve), sc.source, sc.channel, sc.detector)
        assert t["p_event"] + t["noclick"].sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("d, key", [
    ({}, "eve.attack"),
    ({"attack": "photon-cloning"}, "eve.attack"),
    ({"attack": "pns", "fraction": 1.5}, "eve.fraction"),
    ({"attack": "pns", "fraction": "all"}, "eve.fraction"),
    ({"attack": "pns", "position_km": -1}, "eve.position_km"),
    ({"attack": "intercept-resend", "basis": "y"}, "eve.basis"),
    ({"attack": "pns", "basis": "x"}, "eve.basis"),
    ({"attack": "intercept-resend", "resend": "laser"}, "eve.resend"),
    ({"attack": "intercept-resend", "resend_mu": 0.5}, "eve.resend_mu"),
    ({"attack": "intercept-resend", "resend": "coherent", "resend_mu": 0}, "eve.resend_mu"),
    ({"attack": "beam-splitting", "tap_ratio": 1.0}, "eve.tap_ratio"),
    ({"attack": "pns", "tap_ratio": 0.5}, "eve.tap_ratio"),
    ({"attack": "pns", "max_hash_bits": -1}, "eve.max_hash_bits"),
    ({"attack": "pns", "colour": "red"}, "eve.colour"),
])
def test_bad_eve_inputs_name_the_key(d, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        EveConfig.from_dict(d)


def test_position_beyond_link_and_dead_time_rejected():
    with pytest.raises(ValueError, match=r"eve\.position_km"):
        simulate_with_eve(link(pulses=1e6), {"attack": "pns", "position_km": 30.0})
    sc = link(pulses=1e6).replace(**{"detector.dead_time_ns": 50.0})
    with pytest.raises(ValueError, match=r"detector\.dead_time_ns"):
        simulate_with_eve(sc, {"attack": "pns"})


def test_example_file_parses():
    import pathlib
    from qchannel.scenario import read_toml

    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "eavesdropper.toml"
    data, eve = split_eve(read_toml(path))
    sc = Scenario.from_dict(data)
    assert eve is not None and sc.channel.length_km == 25.0
    r = simulate_with_eve(sc, eve, pulses=1e7)
    assert r["eve"]["model"] == eve.attack


# ---------------------------------------------------------------- entanglement
@pytest.mark.parametrize("f", [0.8, 1.0])
def test_tapping_one_arm_drives_chsh_below_2(f):
    # Eve measures Bob's photon (Z or X) and resends: S = sqrt(2) (2 - f) V
    sc = {"source": {"type": "spdc", "pair_prob": 0.002, "visibility": 1.0, "rep_rate_hz": 1e8},
          "channel": {"alice": {"transmittance": 0.9}, "bob": {"transmittance": 0.8}},
          "detector": {"efficiency": 0.9, "dark_count_prob": 1e-8},
          "protocol": {"type": "e91", "eve_intercept_fraction": f},
          "run": {"pulses": 10_000_000, "seed": 5}}
    r = run_entanglement(sc).to_dict()
    assert r["chsh_s"] + SIG * r["chsh_s_std"] < 2.0
    assert abs(r["chsh_s"] - math.sqrt(2) * (2 - f)) < SIG * r["chsh_s_std"] + 0.01
    assert r["aborted"]
