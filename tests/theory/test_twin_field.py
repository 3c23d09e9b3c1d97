"""Closed forms of sending-or-not-sending twin-field QKD
(qchannel.theory.twin_field): limits, square-root scaling, PLOB."""
import math

import numpy as np
import pytest

from qchannel.theory import twin_field as tf
from qchannel.theory.bounds import plob_bound


def _rates(length_km, pd=1e-8, eta_d=0.6, att=0.16):
    eta = 10 ** (-att * length_km / 2 / 10) * eta_d
    s_z, e_z = tf.z_gains(0.4, 0.05, eta, eta, pd, 0.98)
    cres = tf.residual_cos(10**5, 1e-7, 0.01)
    s1, e1 = tf.single_photon(eta, eta, pd, 0.98, math.pi / 8, cres)
    return tf.key_rate(0.4, 0.05, s1, e1, s_z, e_z, 1.16), 10 ** (-att * length_km / 10)


def test_key_rate_scales_with_square_root_of_transmittance():
    (r1, t1), (r2, t2) = _rates(200.0), _rates(300.0)
    slope = math.log(r2 / r1) / math.log(t2 / t1)
    assert slope == pytest.approx(0.5, abs=0.03)


def test_beats_plob_at_long_distance_with_realistic_detectors():
    # 60 % efficient detectors with 1e-8 dark counts per gate, 0.16 dB/km
    # per pulse, with both parties in the Z window 80 % of the time
    for length in (400.0, 500.0):
        r, t = _rates(length)
        assert 0.64 * r > 2 * plob_bound(t)
    r, t = _rates(100.0)
    assert r < plob_bound(t)            # and below it at short distance


def test_single_photon_limits():
    s1, e1 = tf.single_photon(0.1, 0.1, 0.0, 1.0, 1e-12, 1.0)
    assert s1 == pytest.approx(0.1) and e1 == pytest.approx(0.0, abs=1e-12)
    # fringe visibility sqrt(V): e1 = (1 - sqrt V) / 2
    s1, e1 = tf.single_photon(0.1, 0.1, 0.0, 0.81, 1e-12, 1.0)
    assert e1 == pytest.approx(0.05, rel=1e-9)


def test_residual_cos_matches_the_gauss_hermite_nodes():
    for args in ((1000, 1e-4, 0.02), (1, 0.0, 0.3), (10**5, 1e-6, 0.0)):
        x, w = tf.residual_nodes(*args, n_u=4000, n_h=20)
        assert np.sum(w * np.cos(x)) == pytest.approx(tf.residual_cos(*args), rel=1e-4)


def test_decoy_bounds_bracket_exact_values():
    eta, pd = 1e-3, 1e-8
    nodes = tf.residual_nodes(1000, 1e-5, 0.01)
    cres = tf.residual_cos(1000, 1e-5, 0.01)
    s1, e1 = tf.single_photon(eta, eta, pd, 0.98, math.pi / 8, cres)
    xg = tf.x_gains(0.05, 0.4, eta, eta, pd, 0.98, math.pi / 8, nodes)
    s1l, e1u = tf.decoy_bounds(xg["S_00"], xg["S_1"], xg["S_2"], xg["T"], 0.05, 0.4)
    assert s1l <= s1 and s1l > 0.9 * s1
    assert e1u >= e1 and e1u < e1 + 0.01
    with pytest.raises(ValueError, match="mu_1 < mu_2"):
        tf.decoy_bounds(0, 0, 0, 0, 0.4, 0.1)
