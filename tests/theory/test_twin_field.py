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


# ---------------------------------------------------------------- AOPP
def test_aopp_counts_match_a_direct_pairing():
    """aopp_counts against pairing synthetic bits: Bob's bit-0 / bit-1 events
    with error and untagged labels, paired at random (Philox); survived pairs,
    their errors and the untagged pairs within 5 sigma (Poisson)."""
    from qchannel import rng

    n_b0, n_b1, err_b0, err_b1, n10, n01 = 40000, 30000, 8000, 600, 12000, 9000
    # bit-0 events: the first err_b0 wrong, the untagged ones among the correct
    wrong0 = np.arange(n_b0) < err_b0
    untag0 = (np.arange(n_b0) >= err_b0) & (np.arange(n_b0) < err_b0 + n01)
    wrong1 = np.arange(n_b1) < err_b1
    untag1 = (np.arange(n_b1) >= err_b1) & (np.arange(n_b1) < err_b1 + n10)
    n_g = min(n_b0, n_b1)
    p0 = rng.permutation(5, rng.Purpose.TWIN_FIELD, 1, n_b0)[:n_g]
    p1 = rng.permutation(5, rng.Purpose.TWIN_FIELD, 2, n_b1)[:n_g]
    kept = wrong0[p0] == wrong1[p1]              # Alice's parity odd: both or neither wrong
    errors = np.count_nonzero(wrong0[p0] & wrong1[p1])
    untagged = np.count_nonzero(untag0[p0] & untag1[p1])
    g, n_t, e_p, n1p = tf.aopp_counts(n_b0, err_b0, n_b1, err_b1, n10, n01)
    assert g == n_g
    for obs, exp in ((np.count_nonzero(kept), n_t), (errors, n_t * e_p), (untagged, n1p)):
        assert abs(obs - exp) < 5 * math.sqrt(exp)
    assert tf.aopp_phase_error(0.1) == pytest.approx(0.18)
    assert tf.aopp_phase_error(0.7) == pytest.approx(0.5)


def test_aopp_goes_beyond_original_sns():
    """Xu et al. 2020 / Liu et al. 2023: AOPP tolerates the large send
    probability whose bit-flip errors stop the original SNS, and keeps a key
    at 1002 km (0.16 dB/km, eta_d 0.6, 2e-11 dark counts) where the original
    SNS at its own best send probability has none."""
    eta = 10 ** (-0.16 * 1002 / 20) * 0.6
    pd, V = 2e-11, 0.98
    s1, e1 = tf.single_photon(eta, eta, pd, V, math.pi / 8, tf.residual_cos(10**5, 5e-8, 0.01))
    sns = max(tf.key_rate(0.4, eps, s1, e1, *tf.z_gains(0.4, eps, eta, eta, pd, V), 1.16)
              for eps in (0.02, 0.05, 0.1, 0.2))
    s10, s01 = tf.single_photon_arms(eta, eta, pd)
    assert s10 == s01 == pytest.approx(s1)
    aopp = tf.key_rate_aopp(0.4, 0.3, s10, s01, e1, tf.z_classes(0.4, 0.3, eta, eta, pd, V),
                            1.16)
    assert sns == 0.0 and aopp > 1e-11
    # the classes add up to the Z-window gain and error rate
    cl = tf.z_classes(0.4, 0.3, eta, eta, pd, V)
    s_z, e_z = tf.z_gains(0.4, 0.3, eta, eta, pd, V)
    assert sum(cl.values()) == pytest.approx(s_z, rel=1e-12)
    assert (cl["b0_err"] + cl["b1_err"]) / s_z == pytest.approx(e_z, rel=1e-12)


# ---------------------------------------------------------------- finite key
def _poisson_pmf(k, m):
    return math.exp(k * math.log(m) - m - math.lgamma(k + 1))


@pytest.mark.parametrize("mean", [3.0, 40.0, 400.0])
def test_chernoff_bounds_cover_the_expectation(mean):
    """P(E^U(x) < E) and P(E^L(x) > E) are each <= xi/2 for Poisson counts
    (summed exactly over x)."""
    xi = 0.02
    miss_hi = miss_lo = 0.0
    for x in range(int(mean * 4 + 40)):
        lo, hi = tf.chernoff_zhang(x, xi)
        assert lo <= x <= hi
        p = _poisson_pmf(x, mean)
        miss_hi += p if hi < mean else 0.0
        miss_lo += p if lo > mean else 0.0
    assert miss_hi <= xi / 2 and miss_lo <= xi / 2
    lo, hi = tf.observed_bounds(mean, xi)
    cover = sum(_poisson_pmf(x, mean) for x in range(int(mean * 4 + 40)) if lo <= x <= hi)
    assert cover >= 1 - xi


def test_sampling_bound_covers_a_hypergeometric_draw():
    """sampling_upper: the error fraction of n_z bits given e_x of n_x others
    from the same population exceeds the bound with probability <= eps
    (exact hypergeometric tail)."""
    from scipy.stats import hypergeom

    n_x, n_z, total_err, eps = 400, 300, 70, 1e-3
    # split 700 bits with 70 errors at random: errors among the n_z part
    dist = hypergeom(n_x + n_z, total_err, n_z)
    fail = 0.0
    for k in range(total_err + 1):              # k errors land in the n_z part
        if total_err - k > n_x:
            continue
        bound = tf.sampling_upper((total_err - k) / n_x, n_x, n_z, eps)
        if k / n_z > bound:
            fail += dist.pmf(k)
    assert fail <= eps


def test_finite_key_approaches_the_asymptotic_key():
    """Expected counts at 300 km: no key from 1e9 pulses, then a fraction of
    the asymptotic key that grows with the pulses (SNS and AOPP)."""
    from qchannel import jobs

    sc0 = jobs.load("examples/tf_sns_300km.toml")
    for variant, eps in (("sns", 0.05), ("sns-aopp", 0.25)):
        fr = []
        for n in (10**9, 10**11, 10**13):
            sc = sc0.replace(**{"protocol.variant": variant, "source.send_prob": eps,
                                "run.pulses": n})
            th = jobs.job_for(sc).theory(sc)
            fr.append(th["key_rate_per_pulse_finite"] / th["key_rate_per_pulse_decoy"])
        assert fr[0] == 0.0 and 0.0 < fr[1] < fr[2] < 1.0 and fr[2] > 0.8, (variant, fr)


def test_one_side_bounds_bracket_unequal_arms():
    """AOPP's per-sender one-photon yields from the one-sided X-window gains:
    lower bounds within 10 % of the exact yields, also for unequal arms."""
    pd, V = 1e-8, 0.98
    for eta_a, eta_b in ((1e-3, 1e-3), (3e-3, 2e-4)):
        g = {(m, side): tf.pair_gain(m if side == 0 else 0.0, m if side == 1 else 0.0,
                                     eta_a, eta_b, pd, V) for m in (0.05, 0.4) for side in (0, 1)}
        s00 = tf.pair_gain(0.0, 0.0, eta_a, eta_b, pd, V)
        lo = tf.one_side_bounds(s00, g[(0.05, 0)], g[(0.4, 0)], g[(0.05, 1)], g[(0.4, 1)],
                                0.05, 0.4)
        for bound, exact in zip(lo, tf.single_photon_arms(eta_a, eta_b, pd)):
            assert 0.9 * exact < bound <= exact


# ---------------------------------------------------------------- PM-QKD
def test_pm_gains_limits_and_square_root_scaling():
    """Ma-Zeng-Zhou PM-QKD: with a vanishing slice and no residual the error
    is the fringe visibility's, P(only d) for means eta mu (1 -+ sqrt V);
    the key per pulse scales with sqrt(eta) (slope 0.5 between 200 and 300 km)."""
    still = (np.zeros(1), np.ones(1))
    eta, mu, V = 1e-2, 0.05, 0.9
    q, e = tf.pm_gains(mu, eta, eta, 0.0, V, 1e-9, still)
    lc, ld = eta * mu * (1 + math.sqrt(V)), eta * mu * (1 - math.sqrt(V))
    p_c, p_d = -math.expm1(-lc), -math.expm1(-ld)
    assert q == pytest.approx(p_c * (1 - p_d) + p_d * (1 - p_c), rel=1e-9)
    assert e == pytest.approx(p_d * (1 - p_c) / q, rel=1e-9)
    nodes = tf.residual_nodes(10**5, 5e-8, 0.01)
    rates = []
    for length in (200.0, 300.0):
        eta = 10 ** (-0.16 * length / 20) * 0.6
        y1 = tf.single_photon(eta, eta, 1e-8, 0.98, 0.0, 1.0)[0]
        q, e = tf.pm_gains(0.05, eta, eta, 1e-8, 0.98, math.pi / 8, nodes)
        rates.append(tf.key_rate_pm(0.05, y1, q, e, 1 / 8, 1.16))
    slope = math.log(rates[1] / rates[0]) / math.log(10 ** (-0.16 * 100 / 10))
    assert slope == pytest.approx(0.5, abs=0.03)
