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
