"""Eavesdroppers on decoy BB84 (qchannel.eve): an attacked link through the
normal pipeline.  Fixed seeds; every statistical check states its tolerance
in standard deviations (SIG = 4 unless said otherwise).

Link: 25 km of fiber (5 dB), detector efficiency 0.1, dark counts 6e-7, no
afterpulses unless a test adds them, 1e8 pulses (~0.3 s a run), X with
probability 0.7 so that the Z-basis decoy statistics certify single photons
at this size.
"""
import dataclasses
import math

import numpy as np
import pytest

from qchannel._core import transport as _transport
from qchannel.eve import AttackedLinkModel, EveConfig, attack_tables, attacked_link, simulate_with_eve
from qchannel.links.prepare_measure import BLOCK_SLOTS, FLAG_AFTERPULSE, LinkModel
from qchannel.runner import simulate
from qchannel.scenario import Scenario, load_scenario

SIG = 4.0
ETA_DET = 0.1
T_FIBER = 10 ** (-0.5)
PDC = 6e-7


def link(pulses=1e8, seed=3, misalignment=0.005, intensities=(0.5, 0.1, 0.0002),
         probs=(0.6, 0.2, 0.2), afterpulse=0.0, length_km=25.0, dead_time_ns=0.0, ec="estimate"):
    return Scenario.from_dict({
        "source": {"key_basis_prob": 0.7, "intensities": list(intensities),
                   "intensity_probs": list(probs)},
        "channel": {"length_km": length_km, "misalignment": misalignment},
        "detector": {"efficiency": ETA_DET, "dark_count_prob": PDC, "afterpulse_prob": afterpulse,
                     "dead_time_ns": dead_time_ns},
        "run": {"pulses": pulses, "seed": seed},
        "postprocess": {"ec": ec}})


def binom_sigma(p, n):
    return math.sqrt(max(p * (1 - p), 1e-12) / n)


# ---------------------------------------------------------------- closed forms
def ir_rates(f, e, src, basis="random", t=T_FIBER, eta=ETA_DET, pdc=PDC):
    """Intercept-resend by Eve at Alice's side resending single photons (her
    detectors ideal), to first order in the dark counts: per slot, Bob's
    clicks and X- and Z-basis errors (weights cancel in ratios), and the
    clicks whose bit Eve knows in X.  Unattacked: 1 - e^(-mu t eta) with error
    e; attacked: (1 - e^-mu) t eta with error 1/4 + e/2 (random basis: wrong
    basis half the time, then a random bit) or, with Eve always in X, error e
    in X and 1/2 in Z; dark counts (2 detectors) error 1/2."""
    clicks = err_x = err_z = known_x = 0.0
    for mu, p in zip(src.intensities, src.intensity_probs):
        honest = -math.expm1(-mu * t * eta)
        attacked = -math.expm1(-mu) * t * eta
        ex, ez = {"random": (0.25 + e / 2, 0.25 + e / 2), "x": (e, 0.5)}[basis]
        share = {"random": 0.5, "x": 1.0}[basis]          # Eve's basis = Alice's (X)
        clicks += p * ((1 - f) * honest + f * attacked + 2 * pdc)
        err_x += p * ((1 - f) * honest * e + f * attacked * ex + pdc)
        err_z += p * ((1 - f) * honest * e + f * attacked * ez + pdc)
        known_x += p * f * attacked * share
    return clicks, err_x, err_z, known_x


# ---------------------------------------------------------------- intercept-resend
@pytest.mark.parametrize("f", [0.1, 0.3, 1.0])
def test_intercept_resend_qber_matches_closed_form(f):
    sc = link()
    r = simulate_with_eve(sc, {"attack": "intercept-resend", "fraction": f})
    n, e = r["sifted_bits"], sc.channel.misalignment
    clicks, err_x, err_z, known_x = ir_rates(f, e, sc.source)
    q = err_x / clicks                     # ~ f/4 + e (1 - f/2) at equal click rates
    assert abs(r["qber"] - q) < SIG * binom_sigma(q, n)                     # 4 sigma
    assert abs(r["qber_z"] - q) < SIG * binom_sigma(q, r["finite_key"]["n_z_total"])
    # the tables agree with the closed form up to its neglected O(p_dc^2) terms
    assert r["eve"]["expected"]["qber_x"] == pytest.approx(q, rel=2e-3)
    # Eve knows a bit when her basis was Alice's and she had a click
    k, kf = r["eve_known_sifted_bits"], known_x / clicks
    assert abs(k / n - kf) < SIG * binom_sigma(kf, n)                       # 4 sigma
    # her guesses: right on known bits, a fair coin (for Alice's bit) on the others
    right = r["eve_knowledge"]["correct_guesses_alice"]
    assert abs(right - (k + (n - k) / 2)) < SIG * math.sqrt((n - k) / 4)    # 4 sigma
    if f == 1.0:
        assert r["aborted"] and r["secret_key_bits"] == 0 and r["abort_reason"]


def test_intercept_resend_passive_receiver():
    sc = link(misalignment=0.0).replace(**{"detector.basis_choice": "passive"})
    r = simulate_with_eve(sc, {"attack": "intercept-resend"})
    clicks, err_x, _, _ = ir_rates(1.0, 0.0, sc.source)
    q = err_x / clicks
    assert abs(r["qber"] - q) < SIG * binom_sigma(q, r["sifted_bits"])      # 4 sigma
    assert r["aborted"]


def test_fixed_basis_intercept_resend_caught_by_phase_errors():
    # Eve always in X (the key basis): X QBER stays at the dark-count level,
    # Z QBER ~ 1/2 -> the phase-error bound aborts.
    sc = link(misalignment=0.0)
    r = simulate_with_eve(sc, {"attack": "intercept-resend", "basis": "x"})
    clicks, err_x, err_z, known_x = ir_rates(1.0, 0.0, sc.source, basis="x")
    n, nz = r["sifted_bits"], r["finite_key"]["n_z_total"]
    assert abs(r["qber"] - err_x / clicks) < SIG * binom_sigma(err_x / clicks, n)      # 4 sigma
    assert abs(r["qber_z"] - err_z / clicks) < SIG * binom_sigma(err_z / clicks, nz)   # 4 sigma
    assert abs(r["eve_known_sifted_bits"] / n - known_x / clicks) \
        < SIG * binom_sigma(known_x / clicks, n)                                       # 4 sigma
    assert r["aborted"] and ("phase error" in r["abort_reason"]
                             or "single-photon" in r["abort_reason"])


# ---------------------------------------------------------------- PNS
def test_pns_matches_signal_gain_and_is_caught_by_decoys():
    sc = link()
    r = simulate_with_eve(sc, {"attack": "pns"})
    gain = [row["gain"] for row in r["intensities"]]
    sent = [row["sent"] for row in r["intensities"]]
    honest = [1 - (1 - PDC) ** 2 * math.exp(-mu * T_FIBER * ETA_DET) for mu in sc.source.intensities]
    # Bob's signal count rate is the honest one (4 sigma, Poisson)...
    assert abs(gain[0] - honest[0]) < SIG * math.sqrt(honest[0] / sent[0])
    # ...but the decoy's is too low (by more than 10 sigma): what the decoy bounds see
    assert honest[1] - gain[1] > 10 * math.sqrt(honest[1] / sent[1])
    n, k = r["sifted_bits"], r["eve_known_sifted_bits"]
    exp_known = r["eve"]["expected"]["known_fraction"]
    assert abs(k / n - exp_known) < SIG * binom_sigma(exp_known, n)         # 4 sigma
    # caught: no key, or a key no longer than the sifted bits Eve does not know
    assert r["aborted"] or r["secret_key_bits"] <= n - k
    assert r["eve_info_final_key"]["secure_by_count"]


def test_partial_pns_key_is_covered_by_the_decoy_bounds():
    r = simulate_with_eve(link(), {"attack": "pns", "fraction": 0.5})
    n, k, ell = r["sifted_bits"], r["eve_known_sifted_bits"], r["secret_key_bits"]
    exp_known = r["eve"]["expected"]["known_fraction"]
    assert abs(k / n - exp_known) < SIG * binom_sigma(exp_known, n)         # 4 sigma
    assert ell > 0 and ell <= n - k
    assert r["finite_key"]["s_x1"] + r["finite_key"]["s_x0"] <= n - k
    fk = r["eve_info_final_key"]
    assert fk["secure_by_count"] and fk["info_lower_bound_bits"] == 0
    assert fk["hashed"] and abs(fk["z_score"]) < SIG                        # 4 sigma


def test_pns_fools_naive_signal_analysis_but_not_gllp():
    # The signal class alone, analysed as if every pulse were one photon.
    r = simulate_with_eve(link(), {"attack": "pns"})
    a = r["single_intensity_analyses"]
    naive, gllp = a["naive"], a["gllp"]
    n0 = a["sifted_bits"]
    k0 = r["eve_knowledge"]["per_intensity"][0]["known_bits"]
    assert naive["key_bits"] == math.floor(n0 * (1 - 2 * _h(a["qber_x"])))
    # Eve knows more than the bits the naive key leaves her: broken by count
    assert not naive["eve"]["secure_by_count"]
    assert naive["eve"]["info_lower_bound_bits"] == naive["key_bits"] - (n0 - k0) > 0
    # guessing the hashed bits one by one does not show it (parities of ~n/2 bits)
    assert naive["eve"]["hashed"] and abs(naive["eve"]["z_score"]) < SIG    # 4 sigma
    # GLLP: Delta = P(n>=2)/gain ~ 5.7 > 1 -> no key
    assert gllp["delta"] > 1 and gllp["key_bits"] == 0 and gllp["eve"]["secure_by_count"]


def _h(p):
    return 0.0 if p <= 0 or p >= 1 else -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def test_gllp_key_stays_below_unknown_bits_under_pns():
    # a weak signal: GLLP on the signal class gives a key; PNS does not break it
    r = simulate_with_eve(link(intensities=(0.02, 0.01, 0.0002)), {"attack": "pns"})
    a = r["single_intensity_analyses"]
    n0 = a["sifted_bits"]
    k0 = r["eve_knowledge"]["per_intensity"][0]["known_bits"]
    assert 0 < a["gllp"]["key_bits"] <= n0 - k0


# ---------------------------------------------------------------- beam splitting
def _known_expected(r, sc, tap, t1=1.0):
    """Eve holds a photon of a pulse of intensity mu with probability
    1 - exp(-mu t T1), independently of Bob's click (coherent states split
    into independent coherent states): binomial per class."""
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
    assert abs(k - mean) < SIG * sigma                                      # 4 sigma
    assert r["eve"]["tap_ratio"] == pytest.approx(tap)
    # passive: the decoy key is positive and shorter than the bits Eve does
    # not know; her hashed final-key guesses are right half the time
    n = r["sifted_bits"]
    assert not r["aborted"] and 0 < r["secret_key_bits"] <= n - k
    fk = r["eve_info_final_key"]
    assert fk["hashed"] and abs(fk["eve_correct_final_bits"] - fk["final_key_bits"] / 2) \
        < SIG * fk["sigma"]                                                 # 4 sigma


def test_beam_splitting_explicit_tap_at_position():
    sc = link()
    r = simulate_with_eve(sc, {"attack": "beam-splitting", "tap_ratio": 0.3, "position_km": 10.0})
    k, mean, sigma = _known_expected(r, sc, 0.3, t1=10 ** (-0.2))
    assert abs(k - mean) < SIG * sigma                                      # 4 sigma


# ---------------------------------------------------------------- the detector pass
def test_dead_time_with_passive_attack_matches_honest_link():
    # 50 ns at 1 GHz: each detector is dead 50 slots after a click, which
    # removes ~20 % of the clicks.  A passive beam splitter leaves Bob's
    # statistics unchanged, so the detections with dead time must equal the
    # honest link's with the same dead time.
    sc = link(pulses=5e7, dead_time_ns=50.0)
    honest = simulate(sc).to_dict()
    r = simulate_with_eve(sc, {"attack": "beam-splitting"})
    no_dead = simulate(link(pulses=5e7)).to_dict()
    d_h, d_e, d_0 = honest["detections"], r["detections"], no_dead["detections"]
    # independent runs, Poisson sigma (dead time makes counts sub-Poisson: conservative)
    assert abs(d_e - d_h) < SIG * math.sqrt(d_e + d_h)                      # 4 sigma
    assert d_0 - d_h > 20 * math.sqrt(d_0 + d_h)     # dead time really acts (> 20 sigma)
    for a, b in zip(r["intensities"], honest["intensities"]):
        assert abs(a["gain"] - b["gain"]) < SIG * math.sqrt((a["gain"] + b["gain"]) / b["sent"])


def test_no_attack_matches_honest_link_with_afterpulses_and_dead_time():
    sc = link(afterpulse=0.04, dead_time_ns=20.0)
    r = simulate_with_eve(sc, {"attack": "intercept-resend", "fraction": 0.0})
    h = simulate(sc).to_dict()
    for a, b in zip(r["intensities"], h["intensities"]):                    # 4 sigma
        assert abs(a["gain"] - b["gain"]) < SIG * math.sqrt((a["gain"] + b["gain"]) / b["sent"])
    q = h["qber"]                 # two independent estimates: sqrt(2) sigma, 4 of them
    assert abs(r["qber"] - q) < SIG * math.sqrt(2) * binom_sigma(q, h["sifted_bits"])
    assert r["eve_known_sifted_bits"] == 0


def test_records_identical_for_any_chunking():
    # Three blocks (and a bit): afterpulses and dead time carried across them.
    sc = link(afterpulse=0.05, dead_time_ns=10.0)
    pulses = 3 * BLOCK_SLOTS + 12345
    model = AttackedLinkModel(sc.source, sc.channel, sc.detector,
                              {"attack": "intercept-resend", "fraction": 0.5}, pulses)
    ref = model.simulate(11, chunk_blocks=1)
    assert ref.n_slots == pulses and int(ref.sent.sum()) == pulses
    assert np.all(np.diff(ref.slot) > 0)
    assert np.count_nonzero(ref.flags & FLAG_AFTERPULSE) > 0
    for chunk in (2, 3, 4):
        rec = model.simulate(11, chunk_blocks=chunk)
        for f in ("slot", "intensity", "alice_basis", "alice_bit", "bob_basis", "bob_bit",
                  "flags", "sent", "eve_known", "eve_guess"):
            assert np.array_equal(getattr(rec, f), getattr(ref, f)), (chunk, f)


def test_afterpulse_only_events_are_unknown_to_eve():
    from qchannel._core import attacks
    from qchannel.eve import _child

    sc = dataclasses.replace(link(afterpulse=0.2), eve=EveConfig.from_dict({"attack": "beam-splitting"}))
    n = 10**7                                   # one block
    model = attacked_link(sc, n)
    rec = model.simulate(5)
    t = model.tables()
    off, combo, _ = attacks.run_block(_child(5, "attack-kernel"), 0, n, t["p_event"], t["cdf"])
    ap_only = ~np.isin(rec.slot, off)
    assert ap_only.sum() > 0 and not rec.eve_known[ap_only].any()
    # slots with a primary click keep the knowledge the tables gave them
    i = np.searchsorted(off, rec.slot[~ap_only])
    assert np.array_equal(rec.eve_known[~ap_only], t["known"][combo[i]].astype(np.uint8))


def _pass(slots, clicks, block=0, start=0, n=100, state=None, p_ap=0.0, dead=0, total=200):
    m = len(slots)
    z = np.zeros(m, np.uint8)
    return _transport.detector_pass(
        9, block, start, n, np.asarray(slots, np.int64), z, z, z, z,
        np.asarray(clicks, np.uint8), np.array([0, total], np.int64), np.ones((1, 1)),
        2, 1.0, p_ap, 0.0, dead, total, state if state is not None else _transport.DetectorState())


def test_detector_pass_dead_time_is_non_paralysable():
    # detector 0 clicks at 0, 5, 11, 30 with 10 dead gates: 5 is lost, 11 is not
    out = _pass([0, 5, 11, 30], [1, 1, 1, 1], dead=10)
    assert out[0].tolist() == [0, 11, 30]
    # the other detector is not dead: both clicks at 5 survive on detector 1
    out = _pass([0, 5], [1, 2], dead=10)
    assert out[0].tolist() == [0, 5] and out[5].tolist() == [0, 1]


def test_detector_pass_afterpulses_carry_to_the_next_block():
    # p_ap ~ 1, tau = 0: an afterpulse one slot after each primary click; the
    # one of slot 99 lands in the next block
    st = _transport.DetectorState()
    a = _pass([10, 99], [1, 1], state=st, p_ap=1 - 1e-12)
    assert a[0].tolist() == [10, 11, 99] and a[6].tolist() == [0, FLAG_AFTERPULSE, 0]
    assert st.pending_afterpulses == 1 and a[7].tolist() == [[1]]
    b = _pass([150], [2], block=1, start=100, state=st, p_ap=1 - 1e-12)
    assert b[0].tolist() == [100, 150, 151]


@pytest.mark.parametrize("kw, match", [
    ({"slots": [5, 3], "clicks": [1, 1]}, "strictly increasing"),
    ({"slots": [5], "clicks": [0]}, "clicks"),
    ({"slots": [5], "clicks": [4]}, "clicks"),
    ({"slots": [150], "clicks": [1]}, "slot"),
    ({"slots": [5], "clicks": [1], "block": 1}, "block"),
    ({"slots": [5], "clicks": [1], "dead": -1}, "dead_gates"),
    ({"slots": [5], "clicks": [1], "p_ap": 1.0}, "afterpulse_prob"),
    ({"slots": [5], "clicks": [1], "total": 50}, "total_slots"),
])
def test_detector_pass_rejects_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        _pass(**kw)


def test_attack_kernel_rejects_bad_input():
    from qchannel._core import attacks

    with pytest.raises(ValueError, match="event_cdf"):
        attacks.run_block(1, 0, 10, 0.1, np.array([0.5, 0.4, 1.0]))
    with pytest.raises(ValueError, match="event_cdf"):
        attacks.run_block(1, 0, 10, 0.1, np.array([0.5, 0.9]))
    with pytest.raises(ValueError, match="p_event"):
        attacks.run_block(1, 0, 10, float("nan"), np.array([1.0]))
    with pytest.raises(ValueError, match="n_rest"):
        attacks.sent_rest(1, 0, -1, np.array([0.5]))


# ---------------------------------------------------------------- real error correction
@pytest.mark.parametrize("ec", ["cascade", "ldpc"])
def test_real_error_correction_gives_identical_keys(ec):
    sc = dataclasses.replace(link(ec=ec), eve=EveConfig.from_dict({"attack": "beam-splitting"}))
    res = simulate(sc)
    d = res.to_dict()
    assert d["keys_match"] is True and not d["aborted"] and d["ec"]["method"] == ec
    assert len(res.keys.alice_key) == d["secret_key_bits"] > 0
    assert np.array_equal(res.keys.alice_key, res.keys.bob_key)
    # Eve's hashed guesses held against the real final key: ~1/2 right
    fk = d["eve_info_final_key"]
    assert fk["hashed"] and fk["secure_by_count"] and abs(fk["z_score"]) < SIG    # 4 sigma


def test_real_error_correction_under_full_intercept_resend_aborts_with_reason():
    for ec in ("cascade", "ldpc"):
        d = simulate_with_eve(link(pulses=2e7, ec=ec), {"attack": "intercept-resend"})
        assert d["aborted"] and d["abort_reason"] and d["secret_key_bits"] == 0
        assert d["eve_info_final_key"]["note"] == "no final key: nothing to hash"


def test_eve_hash_uses_the_pipelines_toeplitz_matrix():
    from qchannel.eve import _final_key_info
    from qchannel.postprocess.pipeline import KeyDistillation, amplify
    from qchannel.rng import bits

    alice = bits(1, 4, 0, 5000)
    cls = np.zeros(5000, np.uint8)
    known = np.ones(5000, bool)
    out = amplify(KeyDistillation("cascade"), alice, alice, 1200, 77)
    # Eve who guesses every bit right gets every final-key bit right, both
    # against the pipeline's real key and through T(a + g)
    for final in (out.alice_key, None):
        info = _final_key_info(1200, 5000, 5000, 77, (cls, alice, known, alice.copy()),
                               final_key=final)
        assert info["eve_correct_final_bits"] == 1200
    wrong = alice ^ bits(1, 4, 1, 5000)
    a = _final_key_info(1200, 5000, 0, 77, (cls, alice, known, wrong), final_key=out.alice_key)
    b = _final_key_info(1200, 5000, 0, 77, (cls, alice, known, wrong))
    assert a["eve_correct_final_bits"] == b["eve_correct_final_bits"] < 1200


# ---------------------------------------------------------------- plumbing
def test_reproducible_and_seed_dependent():
    sc = link(pulses=2e7, afterpulse=0.01, dead_time_ns=10.0)
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
        assert np.all(np.diff(t["cdf"]) >= 0) and t["cdf"][-1] == 1.0


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


def test_bad_attacked_links_rejected_before_the_work():
    with pytest.raises(ValueError, match=r"eve\.position_km"):
        simulate_with_eve(link(pulses=1e6), {"attack": "pns", "position_km": 30.0})
    with pytest.raises(ValueError, match="fiber"):      # at load, before any work
        Scenario.from_dict({"channel": {"type": "free-space", "length_km": 1.0,
                                        "tx_aperture_m": 0.1}, "eve": {"attack": "pns"}})
    # the Lim et al. analysis needs three intensities, with Eve as without
    with pytest.raises(ValueError, match=r"source\.intensities"):
        simulate_with_eve(link(pulses=1e6, intensities=(0.5,), probs=(1.0,)), {"attack": "pns"})


def test_scenario_round_trip_and_example_file():
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "eavesdropper.toml"
    sc = load_scenario(path)
    assert sc.eve is not None and sc.eve.attack == "pns" and sc.channel.length_km == 25.0
    assert Scenario.from_dict(sc.to_dict()) == sc
    assert "eve" not in Scenario().to_dict()
    assert sc.replace(**{"eve.fraction": 0.25}).eve.fraction == 0.25
    r = simulate(sc, pulses=1e7).to_dict()
    assert r["eve"]["model"] == "pns" and r["scenario"]["eve"]["fraction"] == 0.5
    for key in ("eve_known_sifted_bits", "eve_knowledge", "eve_info_final_key",
                "single_intensity_analyses"):
        assert key in r


# ---------------------------------------------------------------- entanglement
@pytest.mark.parametrize("f", [0.8, 1.0])
def test_tapping_one_arm_drives_chsh_below_2(f):
    from qchannel.jobs.entanglement import run_entanglement

    # Eve measures Bob's photon (Z or X) and resends: S = sqrt(2) (2 - f) V
    sc = {"source": {"type": "spdc", "pair_prob": 0.002, "visibility": 1.0, "rep_rate_hz": 1e8},
          "channel": {"alice": {"transmittance": 0.9}, "bob": {"transmittance": 0.8}},
          "detector": {"efficiency": 0.9, "dark_count_prob": 1e-8},
          "protocol": {"type": "e91", "eve_intercept_fraction": f},
          "run": {"pulses": 10_000_000, "seed": 5}}
    r = run_entanglement(sc).to_dict()
    s_obs = r["theory"]["chsh_s_observed"]   # exact click model: multi-pairs, accidentals
    assert abs(r["chsh_s"] - s_obs) < SIG * r["chsh_s_std"]                 # 4 sigma
    # multi-pair emission (pair_prob 0.002) lowers S by < 0.2 % below the ideal
    assert 0 <= math.sqrt(2) * (2 - f) - s_obs < 2e-3 * math.sqrt(2) * (2 - f)
    assert r["chsh_s"] + SIG * r["chsh_s_std"] < 2.0 and r["aborted"]       # 4 sigma below 2


# --------------------------------------------------------------------------
# the compiled block work (qchannel._core.attacks.draw_events / finish_block)
# against the NumPy steps it replaced
# --------------------------------------------------------------------------
def _numpy_carry(model, ctx, b, start, n):
    """One block the way the attacked link ran it before its per-event work
    moved into the kernel: run_block, NumPy lookups, the detector pass,
    NumPy sent counts and Eve's knowledge (AttackedLinkModel._eve)."""
    from qchannel._core import attacks as _attacks

    t, c, det, rep = model._tables, ctx, model.detector, model.source.rep_rate_hz
    off, combo, a_bit = _attacks.run_block(c["ev_seed"], b, n, t["p_event"], t["cdf"],
                                           t["p_event"] * n)
    slot = off + start
    out = _transport.detector_pass(
        c["ev_seed"], b, start, n, slot, c["cls_of"][combo], c["a_of"][combo], a_bit,
        c["b_of"][combo], c["clicks_of"][a_bit, combo], c["seg_start"], c["noclick"][None, :],
        det.n_detectors, model.source.key_basis_prob, det.afterpulse_prob,
        det.afterpulse_tau_gates(rep), det.dead_gates(rep), model.pulses, c["state"])
    ap_only = out[7][0]
    sent = (np.bincount(c["cls_of"][combo], minlength=c["K"]) + ap_only
            + _attacks.sent_rest(c["ev_seed"], b, n - len(slot) - int(ap_only.sum()),
                                 c["noclick"]))
    known, guess = model._eve(out[0], out[3], slot, combo, c["known_of"], c["rel_of"],
                              c["guess_seed"], b)
    return out[:7], sent, known, guess


@pytest.mark.parametrize("attack", ["pns", "intercept-resend"])
def test_compiled_block_work_matches_numpy(attack):
    """Records, sent counts, Eve's knowledge and guesses are the ones of the
    NumPy steps (bit for bit), and the kernel's counts (tally, double clicks,
    eve_tally, eve_sifted) are NumPy's counts of the record.  Afterpulses and
    dead time make afterpulse-only events (unknown to Eve, random guesses)."""
    sc = link(afterpulse=0.2, dead_time_ns=5.0, length_km=5.0)
    model = AttackedLinkModel(sc.source, sc.channel, sc.detector,
                              EveConfig.from_dict({"attack": attack, "fraction": 0.5}),
                              2 * BLOCK_SLOTS + 12345)
    new, ref = model.prepare(9), model.prepare(9)
    K = len(sc.source.intensities)
    saw_afterpulse_only = False
    for b in range(model.n_blocks):
        start, n = model.block_range(b)
        rec = model.carry(new, b, start, n, model.draw(new, b, start, n))
        arrays, sent, known, guess = _numpy_carry(model, ref, b, start, n)
        for got, want in zip((rec.slot, rec.intensity, rec.alice_basis, rec.alice_bit,
                              rec.bob_basis, rec.bob_bit, rec.flags), arrays):
            assert np.array_equal(got, want)
        assert np.array_equal(rec.sent, sent) and rec.sent.sum() == n
        assert np.array_equal(rec.eve_known, known) and np.array_equal(rec.eve_guess, guess)
        saw_afterpulse_only |= bool(np.any((rec.flags & FLAG_AFTERPULSE) != 0))
        idx = (rec.intensity.astype(np.int64) * 2 + rec.alice_basis) * 2 + rec.bob_basis
        err = rec.alice_bit != rec.bob_bit
        assert np.array_equal(rec.tally.sum(axis=-1),
                              np.bincount(idx, minlength=4 * K).reshape(K, 2, 2))
        assert np.array_equal(rec.tally[..., 1],
                              np.bincount(idx[err], minlength=4 * K).reshape(K, 2, 2))
        assert rec.double_clicks_total == int(np.count_nonzero(rec.double_click))
        key = (rec.alice_basis == 0) & (rec.bob_basis == 0)
        cls, g = rec.intensity[key], rec.eve_guess[key]
        count = lambda sel: np.bincount(cls[sel], minlength=K)  # noqa: E731
        assert np.array_equal(rec.eve_tally, [count(np.ones(len(cls), bool)),
                                              count(rec.eve_known[key] == 1),
                                              count(g == rec.alice_bit[key]),
                                              count(g == rec.bob_bit[key])])
        for got, want in zip(rec.eve_sifted, (cls, rec.alice_bit[key],
                                              rec.eve_known[key].astype(bool), g)):
            assert got.dtype == want.dtype and np.array_equal(got, want)
    assert saw_afterpulse_only


def test_compiled_block_work_checks_its_arguments():
    from qchannel._core import attacks as _attacks

    sc = link()
    model = AttackedLinkModel(sc.source, sc.channel, sc.detector, {"attack": "pns"},
                              BLOCK_SLOTS)
    c, t = model.prepare(1), model._tables
    args = [c["ev_seed"], 0, 0, 1000, t["p_event"], t["cdf"], c["cls_of"], c["a_of"],
            c["b_of"], c["clicks_of"], c["known_of"], c["rel_of"]]
    drawn = _attacks.draw_events(*args)
    with pytest.raises(ValueError, match="rel_of"):
        _attacks.draw_events(*args[:11], c["rel_of"][:-1])
    with pytest.raises(ValueError, match="clicks_of"):
        _attacks.draw_events(*args[:9], np.ascontiguousarray(c["clicks_of"][:1]), *args[10:])
    with pytest.raises(ValueError, match="n_slots"):
        _attacks.draw_events(*args[:3], -1, *args[4:])
    slot, cls, *_ , known, rel = drawn
    z8, z64 = np.zeros(0, np.uint8), np.zeros(0, np.int64)
    base = [c["ev_seed"], c["guess_seed"], 50, 0, 1000, slot, cls, known, rel,
            z64, z8, z8, z8, z8, z8, z8, np.zeros(c["K"], np.int64), c["noclick"], 1]
    _attacks.finish_block(*base)
    bad = list(base)
    bad[4] = len(slot) - 1                       # fewer slots than primary events
    with pytest.raises(ValueError, match="n_slots"):
        _attacks.finish_block(*bad)
    bad = list(base)
    bad[10] = np.zeros(1, np.uint8)              # out_cls longer than out_slot
    with pytest.raises(ValueError, match="out_cls"):
        _attacks.finish_block(*bad)
    bad = list(base)
    bad[16] = np.zeros(c["K"] + 1, np.int64)
    with pytest.raises(ValueError, match="ap_only"):
        _attacks.finish_block(*bad)
    bad = list(base)
    bad[18] = 0
    with pytest.raises(ValueError, match="double_click_flag"):
        _attacks.finish_block(*bad)
