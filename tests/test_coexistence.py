"""Classical channels sharing the fiber (qchannel.coexistence): closed forms,
the schema, and the Monte Carlo against the analytic twin."""
import math

import numpy as np
import pytest

from qchannel import coexistence as cx
from qchannel import theory
from qchannel.runner import simulate
from qchannel.scenario import Scenario


def _scenario(q_nm=1547.72, power_dbm=0.0, length_km=25.0, direction="co", **det):
    return Scenario.from_dict({
        "channel": {"length_km": length_km, "wavelength_nm": q_nm,
                    "classical": [{"wavelength_nm": 1550.12, "power_dbm": power_dbm,
                                   "direction": direction}]},
        "detector": {"filter_bandwidth_nm": 0.6, "gate_width_ns": 0.5, **det},
        "postprocess": {"f_ec": 1.16}})


# ---------------------------------------------------------------- closed forms
def test_raman_spectrum_peak_and_detailed_balance():
    thz = np.linspace(0.1, 40.0, 4000)
    assert thz[np.argmax(cx.raman_gain_shape(thz))] == pytest.approx(13.2, abs=0.1)
    # anti-Stokes / Stokes at the same |detuning| = n / (n + 1) = exp(-h dnu / kT),
    # times the photon-energy and per-nm factors of the two signal wavelengths
    nu_p, d, T = cx.C_LIGHT / 1550e-9, 5e12, 295.0
    lam_as, lam_s = cx.C_LIGHT / (nu_p + d) * 1e9, cx.C_LIGHT / (nu_p - d) * 1e9
    ratio = cx.raman_coefficient(1550.0, lam_as, T) / cx.raman_coefficient(1550.0, lam_s, T)
    expected = (math.exp(-cx.H_PLANCK * d / (cx.K_BOLTZMANN * T)) * (nu_p + d) / (nu_p - d)
                * (lam_s / lam_as) ** 2)
    assert ratio == pytest.approx(expected, rel=1e-9)
    # colder fiber: less anti-Stokes noise
    assert cx.raman_coefficient(1550.0, 1310.0, 250.0) < cx.raman_coefficient(1550.0, 1310.0, 295.0)


def test_ssmf_attenuation_curve():
    assert cx.ssmf_attenuation_db_per_km(1310.0) == pytest.approx(0.33, abs=1e-9)
    assert cx.ssmf_attenuation_db_per_km(1550.0) == pytest.approx(0.19, abs=1e-9)
    lam = np.arange(1260.0, 1650.0, 1.0)
    assert 1540 <= lam[np.argmin(cx.ssmf_attenuation_db_per_km(lam))] <= 1590


@pytest.mark.parametrize("direction", ["co", "counter"])
def test_raman_geometry_is_the_integral_over_the_fiber(direction):
    """The forward/backward closed forms ([Eraerds10] Eqs. (1)-(2), with
    different attenuations at the two wavelengths) against a direct sum of
    the light scattered at each point of the fiber."""
    a_c, a_q, L = cx._np(0.19), cx._np(0.33), 40.0
    z = np.linspace(0.0, L, 200001)
    if direction == "co":    # scattered at z, then travels L - z at the quantum wavelength
        f = np.exp(-a_c * z) * np.exp(-a_q * (L - z))
    else:                    # launched at the receiver: scattered at z from it, back z
        f = np.exp(-(a_c + a_q) * z)
    assert cx._raman_geometry(direction, a_c, a_q, L) == pytest.approx(np.trapezoid(f, z), rel=1e-8)
    # equal attenuations: the textbook limits L e^{-aL} and (1 - e^{-2aL}) / 2a
    a = cx._np(0.2)
    limit = L * math.exp(-a * L) if direction == "co" else -math.expm1(-2 * a * L) / (2 * a)
    assert cx._raman_geometry(direction, a, a, L) == pytest.approx(limit, rel=1e-12)


def test_fwm_phase_matched_limit_and_degeneracy():
    """At zero dispersion (channels at lambda0) the efficiency is 1 and the
    product is (D/3)^2 gamma^2 P^3 e^{-aL} L_eff^2 ([Inoue92])."""
    f0 = cx.C_LIGHT / (cx.SSMF_ZERO_DISPERSION_NM * 1e-9)
    a, L, P = cx._np(0.35), 10.0, 1e-3
    leff = -math.expm1(-a * L) / a
    ref = cx.DEFAULT_GAMMA ** 2 * P ** 3 * math.exp(-a * L) * leff ** 2
    p_deg = cx.fwm_power_w(P, P, P, f0, f0, f0 - 1e6, L, a, degenerate=True)
    assert p_deg == pytest.approx(ref, rel=1e-6)
    p_non = cx.fwm_power_w(P, P, P, f0 + 1e6, f0, f0 - 1e6, L, a)
    assert p_non == pytest.approx(4 * ref, rel=1e-6)
    # at 1550 nm (17 ps/nm/km) and 100 GHz spacing the mixing is far from phase matched
    f = cx.C_LIGHT / 1550e-9
    assert cx.fwm_power_w(P, P, P, f, f, f - 100e9, L, cx._np(0.19), degenerate=True) < 1e-3 * ref


def test_fwm_product_lands_in_the_quantum_band():
    chans = [cx.ClassicalChannel(1549.32, 5.0), cx.ClassicalChannel(1548.51, 5.0)]
    n = cx.noise_photons_per_gate(20.0, 1547.72, 0.19, chans)
    assert [r["channels"] for r in n["fwm"]] == [[1, 1, 0]]   # 2 f(1548.51) - f(1549.32)
    assert n["fwm_photons_per_gate"] > 0
    # counter-propagating channels make no product towards the receiver
    counter = [cx.ClassicalChannel(1549.32, 5.0, "counter"), cx.ClassicalChannel(1548.51, 5.0, "counter")]
    assert cx.noise_photons_per_gate(20.0, 1547.72, 0.19, counter)["fwm"] == []


def test_leakage_inside_the_filter_is_unattenuated():
    inside = cx.noise_photons_per_gate(10.0, 1550.0, 0.19, [cx.ClassicalChannel(1550.1, -60.0)])
    outside = cx.noise_photons_per_gate(10.0, 1550.0, 0.19, [cx.ClassicalChannel(1551.0, -60.0)])
    assert inside["per_channel"][0]["in_band"] and not outside["per_channel"][0]["in_band"]
    ratio = inside["leakage_photons_per_gate"] / outside["leakage_photons_per_gate"]
    a_in, a_out = (cx.ssmf_attenuation_db_per_km(x) for x in (1550.1, 1551.0))
    assert ratio == pytest.approx(1e12 * 10 ** (-(a_in - a_out) * 10.0 / 10.0), rel=1e-9)


# -------------------------------------------------------------------- schema
@pytest.mark.parametrize("tables, message", [
    ({"channel": {"classical": [{"wavelength_nm": 1550, "power_dbm": 0, "colour": 1}]}},
     "channel.classical[0].colour is not a known key"),
    ({"channel": {"classical": [{"wavelength_nm": 1550, "power_dbm": 0, "direction": "up"}]}},
     "channel.classical[0].direction"),
    ({"channel": {"classical": [{"wavelength_nm": 1550, "power_dbm": 50}]}},
     "channel.classical[0].power_dbm = 50.0 is out of range"),
    ({"channel": {"classical": [{"power_dbm": 0}]}}, "channel.classical[0].wavelength_nm is required"),
    ({"channel": {"classical": {"wavelength_nm": 1550}}}, "channel.classical must be a list"),
    ({"channel": {"wavelength_nm": 800}}, "channel.wavelength_nm = 800.0 is out of range"),
    ({"detector": {"filter_bandwidth_nm": 0}}, "detector.filter_bandwidth_nm = 0.0 is out of range"),
    ({"detector": {"gate_width_ns": -1}}, "detector.gate_width_ns"),
    ({"detector": {"filter_isolation_db": 400}}, "detector.filter_isolation_db = 400.0"),
    ({"channel": {"classical": [{"wavelength_nm": 1560, "power_dbm": 0}]},
      "detector": {"gate_width_ns": 2.0}}, "detector.gate_width_ns = 2 is out of range"),
    ({"channel": {"classical": [{"wavelength_nm": 1560, "power_dbm": 0}]},
      "eve": {"attack": "intercept-resend"}}, "[eve] and channel.classical cannot be combined"),
    ({"channel": {"wavelength_nm": 1550.0,
                  "classical": [{"wavelength_nm": 1550.1, "power_dbm": 30, "direction": "counter"}]}},
     "blind the detectors"),
    ({"source": {"rep_rate_hz": 2.5e9},
      "channel": {"classical": [{"wavelength_nm": 1560, "power_dbm": 0}]}},
     "detector.gate_width_ns = 1 (the default) is out of range"),
    ({"channel": {"type": "free-space", "beam_waist_m": 0.05, "length_km": 10.0},
      "detector": {"filter_bandwidth_nm": 1.0}},
     "detector.filter_bandwidth_nm applies to fiber channels"),
])
def test_schema_rejects(tables, message):
    with pytest.raises(ValueError, match=None) as err:
        Scenario.from_dict(tables)
    assert message in str(err.value)


def test_schema_round_trip_and_sweepable_wavelength():
    sc = _scenario(q_nm=1310.0)
    assert sc.channel.attenuation_db_per_km == pytest.approx(0.33)
    assert Scenario.from_dict(sc.to_dict()) == sc
    moved = sc.replace(**{"channel.wavelength_nm": 1547.72})
    assert moved.channel.attenuation_db_per_km == pytest.approx(0.19, abs=1e-3)   # recomputed
    fixed = sc.replace(**{"channel.attenuation_db_per_km": 0.35})
    assert fixed.replace(**{"channel.wavelength_nm": 1547.72}).channel.attenuation_db_per_km == 0.35
    louder = sc.replace(**{"channel.classical[0].power_dbm": 3.0})
    assert louder.channel.classical[0].power_dbm == 3.0
    # a scenario without classical channels keeps its tables and has no noise
    plain = Scenario.from_dict({})
    assert "classical" not in plain.to_dict()["channel"]
    assert "filter_bandwidth_nm" not in plain.to_dict()["detector"]
    assert plain.channel.background_click_prob(plain.detector) == 0.0
    assert "raman_photons_per_gate" not in theory.expect(plain)


# ------------------------------------------------------- Monte Carlo vs theory
POWERS = (-20.0, -10.0, -5.0)


def test_noise_qber_and_key_monotonic_in_launch_power_mc_vs_closed_form():
    """C-band quantum 1.5 nm from a 25 km co-propagating data channel: the
    noise, the QBER and the key move monotonically with the launch power in
    the closed form, and the Monte Carlo's X-basis QBER and signal gain agree
    with it within 4 standard deviations (fixed seeds)."""
    pulses = 2 * 10**7
    rows = []
    for i, p in enumerate(POWERS):
        sc = _scenario(power_dbm=p)
        th = theory.expect(sc)
        r = simulate(sc, seed=11 + i, pulses=pulses).to_dict()
        for mc, t in zip(r["intensities"], th["intensities"]):
            g = t["gain"]
            z = (mc["gain"] - g) / math.sqrt(g * (1 - g) / mc["sent"])
            assert abs(z) < 4, (p, t["mu"], "gain", z)
            e, n = t["qber_x"], mc["detections_x"]
            if n >= 200:
                z = (mc["qber_x"] - e) / math.sqrt(e * (1 - e) / n)
                assert abs(z) < 4, (p, t["mu"], "qber_x", z)
        n_x = r["sifted_bits"]
        z = (r["qber"] - th["qber_x"]) / math.sqrt(th["qber_x"] * (1 - th["qber_x"]) / n_x)
        assert abs(z) < 4, (p, "overall qber", z)
        c = r["coexistence"]
        assert c["noise_photons_per_gate"] == pytest.approx(th["noise_photons_per_gate"])
        assert c["extra_qber_expected"] > 0
        rows.append((th["noise_photons_per_gate"], th["qber_x"], th["key_rate_per_pulse"],
                     r["qber"]))
    noise, qber, key, mc_qber = map(np.array, zip(*rows))
    assert np.all(np.diff(noise) > 0) and np.all(np.diff(qber) > 0) and np.all(np.diff(key) < 0)
    assert np.all(np.diff(mc_qber) > 0)
    # 10 dB more launch power: 10x the Raman noise (linear in the pump)
    assert noise[1] / noise[0] == pytest.approx(10.0, rel=1e-3)


def test_oband_keeps_a_key_where_cband_does_not():
    """The wavelength plan of examples/coexistence_*.toml at 50 km, 0 dBm."""
    o = theory.expect(_scenario(q_nm=1310.0, power_dbm=0.0, length_km=50.0))
    c = theory.expect(_scenario(q_nm=1547.72, power_dbm=0.0, length_km=50.0))
    assert o["key_rate_per_pulse"] > 0 and c["key_rate_per_pulse"] == 0
    assert c["raman_photons_per_gate"] > 1e3 * o["raman_photons_per_gate"]


# ------------------------------------------------------------------ network
def _ring_link(power_dbm, **extra):
    return {"source": "A", "target": "B", "rate_model": "decoy_bb84",
            "rate_model_params": {"rep_rate_hz": 1e9},
            "nodes": [{"name": "A", "role": "user"}, {"name": "B", "role": "user"}],
            "links": [{"a": "A", "b": "B", "length_km": 20.0, "wavelength_nm": 1547.72,
                       "classical": [{"wavelength_nm": 1550.12, "power_dbm": power_dbm}],
                       **extra}]}


def test_network_links_take_the_noisy_rate():
    from qchannel.network import TrustedNodeNetwork, decoy_bb84_key_rate_bps

    rates = []
    for p in (-30.0, -20.0, -10.0):
        net = TrustedNodeNetwork.from_dict(_ring_link(p))
        (link,) = net.coexistence()
        n = cx.noise_photons_per_gate(20.0, 1547.72, cx.ssmf_attenuation_db_per_km(1547.72),
                                      [cx.ClassicalChannel(1550.12, p)],
                                      gate_width_ns=cx.DEFAULT_GATE_WIDTH_NS)
        p_noise = -math.expm1(-0.045 * n["noise_photons_per_gate"])
        expected = decoy_bb84_key_rate_bps(
            20.0, 1e9, attenuation_db_per_km=cx.ssmf_attenuation_db_per_km(1547.72),
            noise_click_prob=p_noise)
        assert link["key_rate_bps"] == pytest.approx(expected, rel=1e-12)
        assert link["key_rate_bps"] < link["key_rate_bps_without_classical"]
        rates.append(link["key_rate_bps"])
    assert rates[0] > rates[1] > rates[2]


@pytest.mark.parametrize("change, message", [
    ({"key_rate_bps": 5.0}, "need the rate from the model"),
    ({"classical": [{"wavelength_nm": 1550.12, "power_dbm": 0.0, "x": 1}]},
     "network.links[0].classical[0].x is not a known key"),
])
def test_network_coexistence_errors(change, message):
    from qchannel.network import TrustedNodeNetwork

    with pytest.raises(ValueError) as err:
        TrustedNodeNetwork.from_dict(_ring_link(0.0, **change))
    assert message in str(err.value)
    bad = {**_ring_link(0.0), "receiver": {"gate_ns": 1}}
    with pytest.raises(ValueError, match="network.receiver.gate_ns is not a known key"):
        TrustedNodeNetwork.from_dict(bad)
