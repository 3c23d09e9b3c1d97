"""Closed forms of MDI-QKD (qchannel.theory.mdi) against the literature and
their own limits."""
import math

import numpy as np
import pytest

from qchannel.theory import mdi
from qchannel.theory.bounds import plob_bound


@pytest.mark.parametrize("mu_a,mu_b,eta_a,eta_b,pd", [
    (0.3, 0.3, 0.05, 0.02, 1e-5), (0.5, 0.1, 0.3, 0.01, 1e-7), (0.4, 0.0, 0.1, 0.1, 1e-6),
    (0.02, 0.6, 1e-3, 2e-3, 1e-8)])
def test_phase_average_equals_ma_razavi_closed_forms(mu_a, mu_b, eta_a, eta_b, pd):
    qz, eqz = mdi.gains(mu_a, mu_b, eta_a, eta_b, pd, 1.0, 0.0, 0)
    qx, eqx = mdi.gains(mu_a, mu_b, eta_a, eta_b, pd, 1.0, 0.0, 1)
    ref = mdi.ma_razavi_gains(mu_a, mu_b, eta_a, eta_b, pd, 0.0)
    assert [qz, eqz, qx, eqx] == pytest.approx(ref, rel=1e-9)


def test_single_photon_pair_limits():
    # ideal detectors: Y11 = eta_a eta_b / 2 in both bases, e11 = e_d (rotation), (1-V)/2 in X
    ed = 0.015
    sp = mdi.single_photon_pair(0.05, 0.02, 0.0, 1.0, math.asin(math.sqrt(ed)))
    assert sp["y11_z"] == pytest.approx(5e-4, rel=1e-9)
    assert sp["y11_x"] == pytest.approx(5e-4, rel=1e-9)
    assert sp["e11_z"] == pytest.approx(ed, rel=1e-8)
    assert sp["e11_x"] == pytest.approx(ed, rel=1e-8)
    assert mdi.single_photon_pair(0.05, 0.02, 0.0, 0.9, 0.0)["e11_x"] == pytest.approx(0.05,
                                                                                        rel=1e-8)


def test_decoy_bounds_bracket_the_exact_values_and_converge():
    eta, pd, ang = 1e-2, 1e-6, math.asin(math.sqrt(0.01))
    sp = mdi.single_photon_pair(eta, eta, pd, 0.97, ang)
    prev = None
    for nu in (0.2, 0.05, 0.01):
        mus = (0.4, nu, 0.0)
        g = mdi.intensity_gains(mus, eta, eta, pd, 0.97, ang)
        yz, yx, e11 = mdi.decoy_bounds(g[0][0], g[1][0], g[1][1], 0.4, nu)
        assert yz <= sp["y11_z"] * (1 + 1e-9) and yx <= sp["y11_x"] * (1 + 1e-9)
        assert e11 >= sp["e11_x"] * (1 - 1e-9)
        if prev is not None:
            assert yz >= prev[0] and e11 <= prev[1]      # tighter as nu -> 0
        prev = (yz, e11)
    assert prev[0] == pytest.approx(sp["y11_z"], rel=0.05)


def _rate(length_km, pd=1e-10):
    eta = 10 ** (-0.2 * length_km / 2 / 10) * 0.6
    g = mdi.intensity_gains((0.3,), eta, eta, pd, 1.0, math.asin(0.1))
    sp = mdi.single_photon_pair(eta, eta, pd, 1.0, math.asin(0.1))
    q, eq = g[0][0][(0.3, 0.3)], g[0][1][(0.3, 0.3)]
    return mdi.key_rate(0.3, sp["y11_z"], sp["e11_x"], q, eq / q, 1.16), 10 ** (-0.02 * length_km)


def test_key_rate_scales_with_total_transmittance():
    (r1, t1), (r2, t2) = _rate(100.0), _rate(200.0)
    slope = math.log(r2 / r1) / math.log(t2 / t1)
    assert slope == pytest.approx(1.0, abs=0.02)
    assert r2 < plob_bound(t2)


def test_decoy_bounds_reject_bad_intensities():
    with pytest.raises(ValueError, match="nu < mu"):
        mdi.decoy_bounds({}, {}, {}, 0.1, 0.2)


def _four_counts(z, y, x, probs, eta, pd, vis, ang, pulses):
    """Expected counts of the four-intensity protocol (both parties alike)."""
    mu = {"z": z, "y": y, "x": x, "o": 0.0}
    p = dict(zip("zyxo", probs))
    sent, succ = {}, {}
    err = {}
    for pair in mdi.FOUR_PAIRS:
        a, b = pair
        basis = 0 if pair == "zz" else 1
        q, eq = mdi.gains(mu[a], mu[b], eta, eta, pd, vis, ang, basis)
        sent[pair] = pulses * p[a] * p[b]
        succ[pair], err[pair] = sent[pair] * q, sent[pair] * eq
    return sent, succ, err


@pytest.mark.parametrize("length_km", [20.0, 150.0, 400.0])
def test_four_intensity_bounds_bracket_the_exact_values_and_converge(length_km):
    """On expected counts (no fluctuation) the four-intensity bounds hold
    (s11 <= exact Y11, e11 >= exact) and tighten as the weak decoy x -> 0,
    reaching the exact Y11 within 2 %."""
    eta = 10 ** (-0.2 * length_km / 2 / 10) * 0.8
    pd, vis, ang = 1e-8, 0.97, math.asin(math.sqrt(0.01))
    sp = mdi.single_photon_pair(eta, eta, pd, vis, ang)
    prev = None
    for x in (0.1, 0.03, 0.005):
        sent, succ, err = _four_counts(0.4, 0.3, x, (0.4, 0.2, 0.3, 0.1), eta, pd, vis, ang, 1e12)
        s11, e11 = mdi.four_intensity_bounds(sent, succ, err["xx"], 0.3, x)
        assert s11 <= sp["y11_x"] * (1 + 1e-9) and e11 >= sp["e11_x"] * (1 - 1e-9)
        if prev is not None:
            assert s11 >= prev[0] and e11 <= prev[1]
        prev = (s11, e11)
    assert prev[0] == pytest.approx(sp["y11_x"], rel=0.02)


def test_four_intensity_fluctuations_shrink_with_the_counts():
    """With the Chernoff ends, s11 is below and e11 above their values on
    the expectations, and approach them as the number of pulses grows."""
    eta = 10 ** (-0.2 * 50 / 10) * 0.8
    args = (0.4, 0.3, 0.05, (0.4, 0.2, 0.3, 0.1), eta, 1e-8, 0.97, math.asin(0.1))
    exact = mdi.four_intensity_bounds(*_four_counts(*args, 1e10)[:2],
                                      _four_counts(*args, 1e10)[2]["xx"], 0.3, 0.05)
    gaps = []
    for n in (1e10, 1e12, 1e14):
        sent, succ, err = _four_counts(*args, n)
        s11, e11 = mdi.four_intensity_bounds(sent, succ, err["xx"], 0.3, 0.05, eps=1e-10 / 21)
        assert s11 < exact[0] and e11 > exact[1]
        gaps.append((exact[0] - s11, e11 - exact[1]))
    assert gaps[0][0] > gaps[1][0] > gaps[2][0] and gaps[0][1] > gaps[1][1] > gaps[2][1]
    assert gaps[2][0] < 0.02 * exact[0]


def test_four_intensity_asymptotic_key_is_the_ma_razavi_rate():
    """Without fluctuations the key length is N p_z^2 times the [MR12] rate
    with the four-intensity bounds (f_ec Q h(E) leakage, no finite terms)."""
    eta, pd, ang = 10 ** (-0.2 * 30 / 10) * 0.8, 1e-8, math.asin(0.1)
    probs = (0.4, 0.2, 0.3, 0.1)
    sent, succ, err = _four_counts(0.4, 0.3, 0.05, probs, eta, pd, 0.97, ang, 1e10)
    out = mdi.four_intensity_key(sent, succ, err["xx"], err["zz"], 0.4, 0.3, 0.05, 1.16, 1e-10,
                                 1e-15, finite=False)
    q = succ["zz"] / sent["zz"]
    rate = mdi.key_rate(0.4, out["s11_lower"], out["e11_x_upper"], q, err["zz"] / succ["zz"],
                        1.16)
    assert out["key_length"] == pytest.approx(1e10 * probs[0] ** 2 * rate, rel=1e-9)
    fin = mdi.four_intensity_key(sent, succ, err["xx"], err["zz"], 0.4, 0.3, 0.05, 1.16, 1e-10,
                                 1e-15)
    assert fin["key_length"] < out["key_length"] and isinstance(fin["key_length"], int)


def test_four_intensity_bounds_reject_bad_decoys():
    with pytest.raises(ValueError, match="0 < x < y"):
        mdi.four_intensity_bounds({}, {}, 0.0, 0.1, 0.2)
