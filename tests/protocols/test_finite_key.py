"""Tests for qchannel.protocols.finite_key.

Reference: Lim, Curty, Walenta, Xu, Zbinden, "Concise security bounds for
practical decoy-state quantum key distribution", PRA 89, 022307 (2014)
(arXiv:1311.7129), "the paper" below.

What is published and checked here
----------------------------------
The paper gives no table; its numbers are Fig. 1 (optimised key rate per
pulse vs fibre length for post-processing blocks n_X = 1e4 ... 1e9 and the
asymptotic curve) and two statements in the text of Sec. IV:

  (P1) "at a fiber length of 100 km, the secret key rate obtained with
       n_X = 1e9 is about 1.75 times the one based on n_X = 1e7";
  (P2) "even if we use a block size of 1e4, cryptographic keys can still be
       distributed over a fiber length of 135 km".

Parameters of the evaluation: eta_Bob = 10 %, p_dc = 6e-7, p_ap = 4 %,
0.2 dB/km, e_mis = 0.5 %, f_EC = 1.16, mu3 = 2e-4, eps_cor = 1e-15 and
eps_sec = kappa * l with kappa = 1e-15 (NOT a fixed 1e-10), optimised over
(q_x, p_mu1, p_mu2, mu1, mu2).

The optimised parameter sets below are inputs: they were found offline by differential
evolution (scipy, bounds q_x in [0.01, 0.999], p1 in [0.005, 0.98]) followed
by bisection on the distance; the tests only evaluate them, plus short local
Nelder-Mead searches, to stay within the time budget.  Results of the offline
optimisation (this implementation, eta_sys in e_k):

  n_X   : 1e4    1e5    1e6    1e7    1e8    1e9    asymptotic (3 intensities)
  d_max : 129.8  160.3  172.5  178.4  181.9  184.1  ~188 km
  (each +-0.5 km from the bisection; DE is stochastic, so these are lower
  bounds on the true optimum of the bounds)
  rate at 100 km, n_X = 1e7: 5.21e-5, n_X = 1e9: 8.80e-5, asymptotic: 1.64e-4

No number above is taken on trust from the module: the tests recompute the
rates from the paper in this file (helpers below: Sec. IV model, Eqs. (1)-(5),
eps_sec = kappa l by bisection) and hold the module to them.  The helpers
apply the clipping that keeps the bounds valid (as the module does); it is
active at these points (v_Z1 hits m_Z, s_X0 hits 0): without it the paper's
bare formulas give 4.17e-5 and 8.21e-5 at 100 km (ratio 1.97).
"""
import dataclasses
import json
import math

import numpy as np
import pytest
from scipy.optimize import minimize

from qchannel.protocols import finite_key as fk
from qchannel.protocols.finite_key import (
    FiniteKeyResult,
    binary_entropy,
    ec_leakage_estimate,
    finite_key_length,
    lim2014_expected_counts,
    lim2014_key_rate,
)

SYS = fk.LIM2014_SYSTEM
MU3 = SYS["mu3"]


def _ps(p1, p2):
    return (p1, p2, 1.0 - p1 - p2)


# Offline-optimised parameters: (q_x, (mu1, mu2, mu3), (p1, p2, p3)).
OPT_100KM = {
    1e7: (0.8742880793, (0.3929403482, 0.1897424383, MU3), _ps(0.4995405573, 0.3574877406)),
    1e9: (0.9386082593, (0.4475512372, 0.1712084467, MU3), _ps(0.7618094477, 0.1767007898)),
}
# Longest distance at which the offline optimiser still found l >= 1 bit,
# with the parameters that achieve it.
OPT_MAXDIST = {
    1e4: (129.375, 0.0482353730, (0.4912755770, 0.1047971033, MU3), _ps(0.0494488703, 0.5443313717)),
    1e5: (160.3125, 0.0330459263, (0.3943497788, 0.1423329141, MU3), _ps(0.1489261221, 0.5084659512)),
    1e6: (172.5, 0.0233112128, (0.3448789617, 0.1394987869, MU3), _ps(0.4303074724, 0.3460521534)),
    1e7: (178.4375, 0.0508831969, (0.3369107203, 0.1148792285, MU3), _ps(0.6746681602, 0.1870029624)),
    1e8: (181.875, 0.0613457590, (0.3439088861, 0.0870490294, MU3), _ps(0.8117211084, 0.1034875152)),
    1e9: (184.0625, 0.0426891971, (0.3546374879, 0.0613184226, MU3), _ps(0.8874679147, 0.0597292669)),
}


# --------------------------------------------------------------------------
# helpers written from the paper, independently of the module
# --------------------------------------------------------------------------
def _h(x):
    return 0.0 if x <= 0 or x >= 1 else -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def _fock_model(length_km, n, error_model="eta_sys"):
    """Yield and error probability of an n-photon pulse in the Sec. IV model.

    Y_n = [1 - (1 - 2 p_dc)(1 - eta_sys)^n](1 + p_ap),
    err_n = p_dc + e_mis [1 - (1 - eta)^n] + p_ap D_n / 2.
    Poisson-averaging these over n gives R_k and e_k exactly, because
    sum_n e^-k k^n/n! (1 - eta)^n = exp(-eta k).
    """
    eta_ch = 10 ** (-SYS["alpha_db_per_km"] * length_km / 10)
    eta = eta_ch * SYS["eta_det"]
    eta_mis = eta if error_model == "eta_sys" else eta_ch
    d_n = 1 - (1 - 2 * SYS["p_dc"]) * (1 - eta) ** n
    return d_n * (1 + SYS["p_ap"]), SYS["p_dc"] + SYS["e_mis"] * (1 - (1 - eta_mis) ** n) + SYS["p_ap"] * d_n / 2


def _tau(n, mus, ps):
    return sum(p * math.exp(-m) * m ** n for m, p in zip(mus, ps)) / math.factorial(n)


def _sec4_probs(length_km, mus):
    """(R_k, e_k) of the Sec. IV model, written here: D_k = 1 - (1 - 2 p_dc)
    exp(-eta_sys k), R_k = D_k (1 + p_ap), e_k = p_dc + e_mis (1 - exp(-eta_sys
    k)) + p_ap D_k / 2 (eta_sys in the misalignment term, see the module)."""
    eta = 10 ** (-0.2 * length_km / 10) * 0.10
    d = [1 - (1 - 2 * 6e-7) * math.exp(-eta * k) for k in mus]
    return ([x * 1.04 for x in d],
            [6e-7 + 0.005 * (1 - math.exp(-eta * k)) + 0.04 * x / 2 for k, x in zip(mus, d)])


def _lim2014_bounds(counts, errors, mus, ps, eps_sec, clip=True):
    """Eqs. (2)-(4) with (A1), (A7)-(A10): s_0, s_1 of one basis from its
    counts, and v_1 from its errors (None: not needed).  ``clip`` applies the
    rules that keep them valid bounds (the quantities bounded are parts of the
    observed totals): n^{+-} brackets in [0, total], s_0 in [0, n],
    s_1 in [0, n - s_0], v_1 in [0, m]; the paper prints the bare formulas."""
    eps = eps_sec / 21
    t0, t1 = _tau(0, mus, ps), _tau(1, mus, ps)
    mu1, mu2, mu3 = mus
    box = (lambda x, lo, hi: min(max(x, lo), hi)) if clip else (lambda x, lo, hi: x)

    def pm(c):
        d, tot = math.sqrt(sum(c) / 2 * math.log(1 / eps)), sum(c)
        return ([math.exp(m) / p * box(x + d, 0, tot) for m, p, x in zip(mus, ps, c)],
                [math.exp(m) / p * box(x - d, 0, tot) for m, p, x in zip(mus, ps, c)])
    n = sum(counts)
    plus, minus = pm(counts)
    s0 = box(t0 * (mu2 * minus[2] - mu3 * plus[1]) / (mu2 - mu3), 0, n)              # Eq. (2)
    s1 = box(t1 * mu1 * (minus[1] - plus[2] - (mu2 ** 2 - mu3 ** 2) / mu1 ** 2
                         * (plus[0] - s0 / t0)) / (mu1 * (mu2 - mu3) - mu2 ** 2 + mu3 ** 2),
             0, n - s0)                                                               # Eq. (3)
    v1 = None
    if errors is not None:
        mp, mm = pm(errors)
        v1 = box(t1 * (mp[1] - mm[2]) / (mu2 - mu3), 0, sum(errors))                 # Eq. (4)
    return s0, s1, v1


def _lim2014_raw_length(n_x, n_z, m_x, m_z, mus, ps, leak, eps_sec, eps_cor, clip=True):
    """Unfloored Eq. (1) with the phase-error bound of Eq. (5)."""
    sx0, sx1, _ = _lim2014_bounds(n_x, None, mus, ps, eps_sec, clip)
    _, sz1, vz1 = _lim2014_bounds(n_z, m_z, mus, ps, eps_sec, clip)
    b = vz1 / sz1
    assert sx1 > 0 and sz1 > 0 and 0 < b < 0.5
    gam = math.sqrt((sz1 + sx1) * (1 - b) * b / (sz1 * sx1 * math.log(2))
                    * math.log2((sz1 + sx1) / (sz1 * sx1 * (1 - b) * b) * 21 ** 2 / eps_sec ** 2))
    return (sx0 + sx1 - sx1 * _h(b + gam) - leak - 6 * math.log2(21 / eps_sec)
            - math.log2(2 / eps_cor))


def _lim2014_rate_from_scratch(n_x_block, length_km, q_x, mus, ps, kappa=1e-15, eps_cor=1e-15,
                               clip=True):
    """Sec. IV key rate per pulse from the paper alone: N pulses give n_X
    expected X detections, lambda_EC = f n_X h(e_obs), and eps_sec = kappa l
    with l the largest root of l = Eq. (1)(eps_sec = kappa l), by bisection
    below n_X (Eq. (1) grows only like log l through eps_sec).
    Returns (rate, l); l = 0 when no root is found."""
    r, e = _sec4_probs(length_km, mus)
    n_pulses = n_x_block / (q_x ** 2 * sum(p * x for p, x in zip(ps, r)))
    wx, wz = n_pulses * q_x ** 2, n_pulses * (1 - q_x) ** 2
    n_x, m_x = [wx * p * x for p, x in zip(ps, r)], [wx * p * x for p, x in zip(ps, e)]
    n_z, m_z = [wz * p * x for p, x in zip(ps, r)], [wz * p * x for p, x in zip(ps, e)]
    leak = 1.16 * n_x_block * _h(sum(m_x) / sum(n_x))

    def excess(ell):
        return _lim2014_raw_length(n_x, n_z, m_x, m_z, mus, ps, leak, kappa * ell, eps_cor, clip) - ell
    hi = float(n_x_block)
    assert excess(hi) < 0
    lo = hi / 2
    while excess(lo) <= 0:
        if lo < 1:
            return 0.0, 0
        hi, lo = lo, lo / 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    ell = math.floor(lo)
    return ell / n_pulses, ell


def _asymptotic_three_intensity_rate(length_km, q_x, mus, ps, f_ec=SYS["f_ec"]):
    """Per-pulse rate of Eqs. (1)-(5) in the limit N -> infinity.

    Eqs. (A4)-(A6) evaluated on the expected counts (delta = 0, gamma = 0, no
    eps terms): n*_{X,k} e^{mu_k} / p_k = N q_x^2 e^{mu_k} R_k, etc.
    """
    det, err = _sec4_probs(length_km, mus)
    mu1, mu2, mu3 = mus
    t0, t1 = _tau(0, mus, ps), _tau(1, mus, ps)
    big_n = [math.exp(m) * r for m, r in zip(mus, det)]
    big_m = [math.exp(m) * e for m, e in zip(mus, err)]
    s0 = max(t0 * (mu2 * big_n[2] - mu3 * big_n[1]) / (mu2 - mu3), 0.0)
    s1 = t1 * mu1 * (big_n[1] - big_n[2] - (mu2 ** 2 - mu3 ** 2) / mu1 ** 2 * (big_n[0] - s0 / t0)) / (
        mu1 * (mu2 - mu3) - mu2 ** 2 + mu3 ** 2)
    v1 = t1 * (big_m[1] - big_m[2]) / (mu2 - mu3)
    q = sum(p * r for p, r in zip(ps, det))
    e_obs = sum(p * e for p, e in zip(ps, err)) / q
    return q_x ** 2 * (s0 + s1 * (1 - _h(v1 / s1)) - f_ec * q * _h(e_obs))


def _infinite_decoy_rate(length_km, q_x, mus, ps, f_ec=SYS["f_ec"]):
    """GLLP rate with the exact (infinite-decoy) vacuum and single-photon terms."""
    y0, _ = _fock_model(length_km, 0)
    y1, err1 = _fock_model(length_km, 1)
    det, err = _sec4_probs(length_km, mus)
    q = sum(p * r for p, r in zip(ps, det))
    e_obs = sum(p * e for p, e in zip(ps, err)) / q
    return q_x ** 2 * (_tau(0, mus, ps) * y0 + _tau(1, mus, ps) * y1 * (1 - _h(err1 / y1))
                       - f_ec * q * _h(e_obs))


def _unpack(x):
    """(q_x, p1, p2 fraction, mu1, mu2 fraction) -> parameters, or None if invalid."""
    q_x, p1, p2f, mu1, mu2f = x
    if not (0.001 < q_x < 0.9999 and 0.001 < p1 < 0.999 and 0.001 < p2f < 0.999
            and 3 * MU3 < mu1 < 1.5 and 0.001 < mu2f < 0.999):
        return None
    p2 = (1 - p1) * p2f
    mu2 = MU3 + (mu1 - 2 * MU3) * mu2f
    return q_x, (mu1, mu2, MU3), (p1, p2, 1 - p1 - p2)


def _pack(q_x, mus, ps):
    return [q_x, ps[0], ps[1] / (1 - ps[0]), mus[0], (mus[1] - MU3) / (mus[0] - 2 * MU3)]


def _best_raw_length(n_x, length_km, starts, eps_sec, maxfev=400):
    """Largest unfloored Eq. (1) key length found by Nelder-Mead from `starts`."""
    def neg(x):
        par = _unpack(x)
        if par is None:
            return 1e30
        r = lim2014_key_rate(n_x, length_km, *par, eps_sec=eps_sec)["result"]
        if r.abort_reason is not None and not r.abort_reason.startswith("no positive key"):
            return 1e29  # no single photons / phi >= 1/2: treat as hopeless
        return -r.key_length_raw
    best = -math.inf
    for x0 in starts:
        res = minimize(neg, x0, method="Nelder-Mead",
                       options={"maxfev": maxfev, "xatol": 1e-6, "fatol": 1e-3})
        best = max(best, -res.fun)
    return best


def _example_counts(length_km=50.0, n_pulses=1e10, q_x=0.8, mus=(0.5, 0.1, MU3), ps=(0.7, 0.2, 0.1)):
    return lim2014_expected_counts(n_pulses, length_km, q_x, mus, ps), mus, ps


# --------------------------------------------------------------------------
# the formulas themselves
# --------------------------------------------------------------------------
def test_equations_1_to_5_on_a_hand_example():
    """Eqs. (1)-(5) re-evaluated by hand on integer counts (no clipping active).

    Synthetic counts with mu3 = 0 and a large vacuum contribution so that every
    bound, including s_X0 and s_Z0, is strictly inside its clipping range.
    Tolerance 1e-9 relative: the same arithmetic in a different order, so only
    floating-point rounding may differ.
    """
    mus, ps = (0.5, 0.1, 0.0), (0.7, 0.2, 0.1)
    n_x, n_z = (60000000, 3000000, 150000), (4000000, 200000, 10000)
    m_x, m_z = (1200000, 70000, 75000), (80000, 8000, 5000)
    eps_sec, eps_cor, leak = 1e-10, 1e-15, 12000000
    r = finite_key_length(n_x, n_z, m_x, m_z, mus, ps, leak, eps_sec, eps_cor)

    eps = eps_sec / 21
    t0, t1 = _tau(0, mus, ps), _tau(1, mus, ps)
    mu1, mu2, mu3 = mus

    def bounds(counts):
        d = math.sqrt(sum(counts) / 2 * math.log(1 / eps))
        plus = [math.exp(m) / p * (c + d) for m, p, c in zip(mus, ps, counts)]
        minus = [math.exp(m) / p * (c - d) for m, p, c in zip(mus, ps, counts)]
        s0 = t0 * (mu2 * minus[2] - mu3 * plus[1]) / (mu2 - mu3)                     # Eq. (2)
        s1 = t1 * mu1 * (minus[1] - plus[2] - (mu2 ** 2 - mu3 ** 2) / mu1 ** 2
                         * (plus[0] - s0 / t0)) / (mu1 * (mu2 - mu3) - mu2 ** 2 + mu3 ** 2)  # Eq. (3)
        return s0, s1, plus, minus

    sx0, sx1, _, _ = bounds(n_x)
    sz0, sz1, _, _ = bounds(n_z)
    dm = math.sqrt(sum(m_z) / 2 * math.log(1 / eps))
    mp2 = math.exp(mu2) / ps[1] * (m_z[1] + dm)
    mm3 = math.exp(mu3) / ps[2] * (m_z[2] - dm)
    vz1 = t1 * (mp2 - mm3) / (mu2 - mu3)                                                  # Eq. (4)
    b = vz1 / sz1
    gam = math.sqrt((sz1 + sx1) * (1 - b) * b / (sz1 * sx1 * math.log(2))
                    * math.log2((sz1 + sx1) / (sz1 * sx1 * (1 - b) * b) * 21 ** 2 / eps_sec ** 2))
    phi = b + gam                                                                         # Eq. (5)
    ell = math.floor(sx0 + sx1 - sx1 * _h(phi) - leak - 6 * math.log2(21 / eps_sec)
                     - math.log2(2 / eps_cor))                                            # Eq. (1)

    # the example is in the regular regime: no bound clipped
    assert min(sx0, sx1, sz0, sz1, vz1) > 0 and vz1 < sum(m_z) and phi < 0.5
    for got, want in [(r.s_x0, sx0), (r.s_x1, sx1), (r.s_z0, sz0), (r.s_z1, sz1),
                      (r.v_z1, vz1), (r.phi_x, phi)]:
        assert got == pytest.approx(want, rel=1e-9)
    assert r.key_length == ell > 0 and not r.aborted and r.abort_reason is None
    assert r.eps_sec_bits == pytest.approx(6 * math.log2(21 / eps_sec), rel=1e-12)
    assert r.eps_cor_bits == pytest.approx(math.log2(2 / eps_cor), rel=1e-12)
    assert r.delta_n_x == pytest.approx(math.sqrt(sum(n_x) / 2 * math.log(21 / eps_sec)), rel=1e-12)
    assert r.n_x_total == sum(n_x) and r.m_x_total == sum(m_x)
    assert r.qber_x == pytest.approx(sum(m_x) / sum(n_x), rel=1e-12)


def test_expected_counts_follow_the_papers_model():
    """R_k, e_k of Sec. IV, and their photon-number decomposition (closed forms)."""
    mus, ps = (0.5, 0.1, MU3), (0.7, 0.2, 0.1)
    length, n_pulses, q_x = 75.0, 1e9, 0.9
    c = lim2014_expected_counts(n_pulses, length, q_x, mus, ps)
    eta_ch = 10 ** (-0.2 * 75 / 10)
    assert c["eta_ch"] == pytest.approx(eta_ch, rel=1e-12)
    assert c["eta_sys"] == pytest.approx(0.1 * eta_ch, rel=1e-12)
    for k, (mu, p) in enumerate(zip(mus, ps)):
        d_k = 1 - (1 - 2 * 6e-7) * math.exp(-0.1 * eta_ch * mu)
        e_k = 6e-7 + 0.005 * (1 - math.exp(-0.1 * eta_ch * mu)) + 0.04 * d_k / 2
        assert c["detection_prob"][k] == pytest.approx(d_k * 1.04, rel=1e-12)
        assert c["error_prob"][k] == pytest.approx(e_k, rel=1e-12)
        assert c["n_x"][k] == pytest.approx(n_pulses * q_x ** 2 * p * d_k * 1.04, rel=1e-12)
        assert c["m_z"][k] == pytest.approx(n_pulses * (1 - q_x) ** 2 * p * e_k, rel=1e-12)
        # Poisson mixture of the Fock-state model reproduces R_k and e_k
        # (series truncated at n = 40: the remainder is < mu^40/40! < 1e-60).
        pois = [math.exp(-mu) * mu ** n / math.factorial(n) for n in range(41)]
        fock = [_fock_model(length, n) for n in range(41)]
        assert sum(w * y for w, (y, _) in zip(pois, fock)) == pytest.approx(c["detection_prob"][k], rel=1e-12)
        assert sum(w * e for w, (_, e) in zip(pois, fock)) == pytest.approx(c["error_prob"][k], rel=1e-12)
    # Vacuum pulses: error rate of a detection is exactly 1/2 (1e-9: the
    # model's 1 - (1 - 2 p_dc) loses ~6 of 16 significant digits).
    y0, e0 = _fock_model(length, 0)
    assert e0 / y0 == pytest.approx(0.5, rel=1e-9)


def test_bounds_bracket_the_true_photon_number_contributions():
    """On expected counts the finite-key bounds must be on the safe side of the
    exact values of the model: s_X0, s_X1, s_Z1 below, v_Z1 and phi_X above."""
    for length in (0.0, 50.0, 120.0):
        for n_pulses in (1e8, 1e10, 1e12):
            mus, ps, q_x = (0.5, 0.1, MU3), (0.7, 0.2, 0.1), 0.8
            c = lim2014_expected_counts(n_pulses, length, q_x, mus, ps)
            r = finite_key_length(c["n_x"], c["n_z"], c["m_x"], c["m_z"], mus, ps, 0, 1e-10, 1e-15)
            y0, _ = _fock_model(length, 0)
            y1, err1 = _fock_model(length, 1)
            wx, wz = n_pulses * q_x ** 2, n_pulses * (1 - q_x) ** 2
            assert r.s_x0 <= wx * _tau(0, mus, ps) * y0
            assert r.s_x1 <= wx * _tau(1, mus, ps) * y1
            assert r.s_z1 <= wz * _tau(1, mus, ps) * y1
            assert r.v_z1 >= wz * _tau(1, mus, ps) * err1
            assert r.phi_x >= err1 / y1
            assert r.s_x0 + r.s_x1 <= r.n_x_total


def test_asymptotic_limit_equals_closed_form_three_intensity_rate():
    """N -> infinity: l/N tends to the closed-form rate of Eqs. (A4)-(A6)
    evaluated on expectations, which lies below the infinite-decoy rate and
    approaches it when the decoys mu2, mu3 go to 0.

    Tolerance 1e-5 relative for N = 1e24 pulses: the finite-size terms scale
    as sqrt(ln(21/eps)/n) * e^mu/p/(mu2 - mu3) with n >= 1e18 detections, i.e.
    <= 1e-6, the eps terms are ~300 bits out of >1e17.
    """
    length, q_x = 50.0, 0.9
    mus, ps = (0.5, 0.1, MU3), (0.7, 0.2, 0.1)
    n_pulses = 1e24
    c = lim2014_expected_counts(n_pulses, length, q_x, mus, ps)
    leak = SYS["f_ec"] * sum(c["n_x"]) * binary_entropy(sum(c["m_x"]) / sum(c["n_x"]))
    r = finite_key_length(c["n_x"], c["n_z"], c["m_x"], c["m_z"], mus, ps, leak, 1e-10, 1e-15)
    r_asym = _asymptotic_three_intensity_rate(length, q_x, mus, ps)
    assert r.key_length / n_pulses == pytest.approx(r_asym, rel=1e-5)

    # Three intensities can only do worse than infinitely many decoys ...
    r_inf = _infinite_decoy_rate(length, q_x, mus, ps)
    assert 0 < r_asym < r_inf
    # ... and the gap closes as the decoys become weak: the s_X1 bound errs by
    # O(mu2) (second-order photon terms), so the gap must shrink with mu2.
    gaps = []
    for mu2 in (0.1, 0.01, 0.001):
        mus_w = (0.5, mu2, mu2 / 100)
        gaps.append(1 - _asymptotic_three_intensity_rate(length, q_x, mus_w, ps)
                    / _infinite_decoy_rate(length, q_x, mus_w, ps))
    assert gaps[0] > gaps[1] > gaps[2] > 0
    assert gaps[2] < 1e-3  # mu2 = 1e-3: O(mu2) gap, observed ~1e-4


def test_finite_rate_increases_with_block_size_towards_asymptote():
    """Fixed parameters (the 1e9 optimum at 100 km): l/N grows with n_X and
    tends to the asymptotic closed form from below.  The relative gap scales
    ~ n_X^(-1/2); at n_X = 1e15 it must be below 1 %."""
    q_x, mus, ps = OPT_100KM[1e9]
    r_asym = _asymptotic_three_intensity_rate(100.0, q_x, mus, ps)
    rates = [lim2014_key_rate(n, 100.0, q_x, mus, ps)["rate"] for n in (1e7, 1e9, 1e11, 1e13, 1e15)]
    assert all(a < b for a, b in zip(rates, rates[1:]))
    assert rates[-1] < r_asym
    assert rates[-1] > 0.99 * r_asym


# --------------------------------------------------------------------------
# published results of Lim et al. 2014, Fig. 1 / Sec. IV
# --------------------------------------------------------------------------
def test_published_rate_ratio_1e9_vs_1e7_at_100km():
    """(P1): R(n_X = 1e9) / R(n_X = 1e7) at 100 km is "about 1.75".

    The rates are recomputed from the paper in this file
    (_lim2014_rate_from_scratch: Sec. IV model, Eqs. (1)-(5), eps_sec = kappa l
    by bisection): 8.80e-5 and 5.21e-5 per pulse, ratio 1.690; the module must
    give the same key lengths to 2 bits (it stops its fixed-point iteration
    within 1e-6 l + 1 bits).  Tolerance +-0.1 on the ratio: the published
    number is an "about" read from an optimised curve, and the optimum is flat
    (a 1 % change of either rate moves the ratio by 0.017).  A local
    Nelder-Mead search from the stored optima must not improve either rate by
    more than 1 %, which shows they are (near-)optimal.
    """
    rates = {}
    for n_x, (q_x, mus, ps) in OPT_100KM.items():
        out = lim2014_key_rate(n_x, 100.0, q_x, mus, ps)
        rates[n_x], ell = _lim2014_rate_from_scratch(n_x, 100.0, q_x, mus, ps)
        assert abs(out["key_length"] - ell) <= 2 and out["rate"] == pytest.approx(rates[n_x], rel=1e-6)
        eps = out["eps_sec"]
        assert eps == pytest.approx(1e-15 * out["key_length"], rel=1e-3)  # eps_sec = kappa * l

        def neg_rate(x, n_x=n_x):
            par = _unpack(x)
            return 0.0 if par is None else -lim2014_key_rate(n_x, 100.0, *par)["rate"]
        res = minimize(neg_rate, _pack(q_x, mus, ps), method="Nelder-Mead",
                       options={"maxfev": 150})
        assert -res.fun <= 1.01 * rates[n_x]
    assert rates[1e9] / rates[1e7] == pytest.approx(1.75, abs=0.1)


def test_published_max_distance_for_1e4_block():
    """(P2): n_X = 1e4 still gives a key at 135 km.

    Our optimum gives a key up to 129.8 km with q_x >= 0.01 (129.4 km with the
    stored parameters below) and up to ~131.5 km in the limit q_x -> 0 (the
    Z sample, hence the phase-error estimate, grows without bound while n_X
    stays 1e4); none at 135 km, i.e. 3-4 % short of the published distance.
    The tolerance is a bracket: key at >= 125 km (135 km - 7.5 %) and none at
    140 km (+3.7 %), the latter from a Nelder-Mead search (q_x down to 1e-3)
    with eps_sec = kappa * n_X >= kappa * l, which can only lengthen the key,
    so it is conservative (best found: l = -485 bits).
    """
    d, q_x, mus, ps = OPT_MAXDIST[1e4]
    assert d >= 125.0
    assert lim2014_key_rate(1e4, d, q_x, mus, ps)["key_length"] > 0
    assert _lim2014_rate_from_scratch(1e4, d, q_x, mus, ps)[1] > 0
    starts = [_pack(q_x, mus, ps), [0.2, 0.05, 0.55, 0.5, 0.2], [0.05, 0.3, 0.5, 0.4, 0.3]]
    best = _best_raw_length(1e4, 140.0, starts, eps_sec=1e-15 * 1e4)
    assert best < 1.0


def test_max_distance_grows_with_block_size_and_stays_below_asymptote():
    """Fig. 1: the curves end further out for larger n_X, all inside the
    asymptotic (three-intensity) curve.

    Lower bounds: the stored parameters give l >= 1 at d_s.  Upper bounds: a
    Nelder-Mead search from the smaller block's optimum (with the conservative
    eps_sec = kappa n_X >= kappa l) finds no key at the next block's d_s.
    Asymptotic: the closed-form rate is still positive at 186 km, beyond every
    finite d_s (parameters: the offline optimum of the closed form at 186 km,
    where it gives 2.1e-7 per pulse).  The lower bounds are checked with the
    module and with the from-scratch evaluation of the paper in this file.
    """
    items = sorted(OPT_MAXDIST.items())
    for n_x, (d, q_x, mus, ps) in items:
        assert lim2014_key_rate(n_x, d, q_x, mus, ps)["key_length"] > 0, n_x
        assert _lim2014_rate_from_scratch(n_x, d, q_x, mus, ps)[1] > 0, n_x
    for (n_small, (_, *par)), (_, (d_next, *_)) in zip(items, items[1:]):
        assert _best_raw_length(n_small, d_next, [_pack(*par)], eps_sec=1e-15 * n_small,
                                maxfev=300) < 1.0, n_small
    assert all(a[1][0] < b[1][0] for a, b in zip(items, items[1:]))
    r_asym = _asymptotic_three_intensity_rate(186.0, 1.0, (0.416, 0.000616, MU3), (0.999, 0.00099, 0.00001))
    assert r_asym > 0 and max(d for d, *_ in OPT_MAXDIST.values()) < 186.0


def test_literal_eta_ch_error_model_contradicts_the_published_figure():
    """The paper prints e_mis (1 - exp(-eta_ch k)) in e_k.  Taken literally the
    misalignment QBER is e_mis/eta_Bob = 5 % and n_X = 1e4 gives no key at
    100 km, contradicting (P2); with eta_sys (our default) it gives a key up to
    ~130 km.  This pins the choice of eta_sys."""
    mus, ps = (0.5, 0.1, MU3), (0.7, 0.2, 0.1)
    lit = lim2014_expected_counts(1e10, 100.0, 0.5, mus, ps, error_model="eta_ch_as_printed")
    ours = lim2014_expected_counts(1e10, 100.0, 0.5, mus, ps)
    extra_qber = sum(lit["m_x"]) / sum(lit["n_x"]) - sum(ours["m_x"]) / sum(ours["n_x"])
    # Linear regime (eta k << 1): the literal formula adds e_mis (1/eta_det - 1)
    # / (1 + p_ap) = 4.3 % QBER.  2 %: dark counts (~0.3 % of detections at
    # 100 km) and the O(eta k) curvature of 1 - exp(-eta k).
    assert extra_qber == pytest.approx(0.005 * (1 / 0.1 - 1) / 1.04, rel=0.02)
    q_x, mus_o, ps_o = OPT_100KM[1e7]
    starts = [_pack(*OPT_MAXDIST[1e4][1:]), _pack(q_x, mus_o, ps_o)]

    def best_literal(x):
        par = _unpack(x)
        if par is None:
            return 1e30
        c = lim2014_expected_counts(1.0, 100.0, par[0], par[1], par[2], error_model="eta_ch_as_printed")
        n_pulses = 1e4 / sum(c["n_x"])
        c = lim2014_expected_counts(n_pulses, 100.0, par[0], par[1], par[2], error_model="eta_ch_as_printed")
        leak = 1.16 * 1e4 * binary_entropy(sum(c["m_x"]) / 1e4)
        r = finite_key_length(c["n_x"], c["n_z"], c["m_x"], c["m_z"], par[1], par[2], leak, 1e-11, 1e-15)
        return -r.key_length_raw if r.abort_reason is None or "key length" in r.abort_reason else 1e29
    assert max(-minimize(best_literal, x0, method="Nelder-Mead", options={"maxfev": 400}).fun
               for x0 in starts) < 1.0
    d, q_x, mus, ps = OPT_MAXDIST[1e4]
    assert lim2014_key_rate(1e4, 100.0, q_x, mus, ps)["key_length"] > 0


# --------------------------------------------------------------------------
# monotonicity and sanity
# --------------------------------------------------------------------------
def test_more_leakage_gives_shorter_key_bit_for_bit():
    c, mus, ps = _example_counts()
    base = finite_key_length(c["n_x"], c["n_z"], c["m_x"], c["m_z"], mus, ps, 0, 1e-10, 1e-15)
    prev = base.key_length
    for leak in (1e3, 1e5, 1e6, 1e7, 1e8):
        r = finite_key_length(c["n_x"], c["n_z"], c["m_x"], c["m_z"], mus, ps, leak, 1e-10, 1e-15)
        assert r.key_length <= prev
        if r.key_length > 0:  # Eq. (1) is linear in lambda_EC
            assert base.key_length - r.key_length in (int(leak), int(leak) + 1)
        prev = r.key_length
    assert prev == 0 and r.aborted and r.abort_reason.startswith("no positive key length")


def test_smaller_eps_sec_gives_shorter_key():
    c, mus, ps = _example_counts()
    lengths = [finite_key_length(c["n_x"], c["n_z"], c["m_x"], c["m_z"], mus, ps, 1e6, e, 1e-15).key_length
               for e in (1e-3, 1e-6, 1e-10, 1e-20, 1e-40)]
    assert all(a > b for a, b in zip(lengths, lengths[1:]))
    lengths = [finite_key_length(c["n_x"], c["n_z"], c["m_x"], c["m_z"], mus, ps, 1e6, 1e-10, e).key_length
               for e in (1e-3, 1e-15, 1e-30)]
    assert all(a > b for a, b in zip(lengths, lengths[1:]))


def test_key_never_exceeds_sifted_key_on_random_counts():
    """Property test on 300 random (also physically odd) count sets: 0 <= l <= n_X,
    s_X0 + s_X1 <= n_X, v_Z1 <= m_Z, phi_X in [0, 0.5].  Seeded, so deterministic."""
    rng = np.random.default_rng(2024)
    for _ in range(300):
        mu1 = rng.uniform(0.2, 1.0)
        mu3 = rng.uniform(0, 0.01)
        mu2 = rng.uniform(mu3 + 1e-3, mu1 - mu3 - 1e-3)
        p = rng.dirichlet([1, 1, 1]) * 0.97 + 0.01
        p = tuple(p / p.sum())
        n_x = rng.integers(0, 10 ** rng.integers(1, 8), size=3)
        n_z = rng.integers(0, 10 ** rng.integers(1, 7), size=3)
        m_x = rng.integers(0, n_x + 1)
        m_z = (rng.uniform(0, 0.2, size=3) * n_z).astype(int)
        r = finite_key_length(n_x, n_z, m_x, m_z, (mu1, mu2, mu3), p, 0, 1e-10, 1e-15)
        assert 0 <= r.key_length <= r.n_x_total
        assert r.s_x0 + r.s_x1 <= r.n_x_total + 1e-9 * r.n_x_total
        assert r.v_z1 <= r.m_z_total
        assert 0 <= r.phi_x <= 0.5
        assert r.aborted == (r.key_length == 0) == (r.abort_reason is not None)


# --------------------------------------------------------------------------
# aborts
# --------------------------------------------------------------------------
def test_intercept_resend_qber_aborts():
    """Intercept-resend on every pulse gives 25 % QBER in both bases; no key."""
    c, mus, ps = _example_counts()
    m_x = [0.25 * n for n in c["n_x"]]
    m_z = [0.25 * n for n in c["n_z"]]
    leak = ec_leakage_estimate(sum(c["n_x"]), 0.25, 1.16)
    r = finite_key_length(c["n_x"], c["n_z"], m_x, m_z, mus, ps, leak, 1e-10, 1e-15)
    assert r.aborted and r.key_length == 0
    assert r.abort_reason.startswith("no positive key length") or "phase error" in r.abort_reason
    assert r.qber_x == pytest.approx(0.25)
    assert r.phi_x >= 0.25  # the single-photon phase error cannot be below the observed 25 %
    # even with no error-correction leakage the key is empty at 25 % errors
    r0 = finite_key_length(c["n_x"], c["n_z"], m_x, m_z, mus, ps, 0, 1e-10, 1e-15)
    assert r0.key_length < 0.2 * r0.n_x_total


def test_phase_error_abort():
    c, mus, ps = _example_counts()
    m_z = [0.5 * n for n in c["n_z"]]
    r = finite_key_length(c["n_x"], c["n_z"], c["m_x"], m_z, mus, ps, 0, 1e-10, 1e-15)
    assert r.aborted and r.key_length == 0
    assert r.abort_reason.startswith("phase error bound phi_x >= 0.5")
    assert r.phi_x == 0.5


def test_zero_z_counts_abort():
    c, mus, ps = _example_counts()
    r = finite_key_length(c["n_x"], [0, 0, 0], c["m_x"], [0, 0, 0], mus, ps, 0, 1e-10, 1e-15)
    assert r.aborted and r.key_length == 0
    assert r.abort_reason == "no detections in the Z basis"
    r = finite_key_length([0, 0, 0], c["n_z"], [0, 0, 0], c["m_z"], mus, ps, 0, 1e-10, 1e-15)
    assert r.aborted and r.abort_reason == "no detections in the X basis"


def test_no_single_photons_certified_aborts():
    """Counts only from the strongest intensity: the decoy bounds certify nothing."""
    mus, ps = (0.5, 0.1, MU3), (0.7, 0.2, 0.1)
    r = finite_key_length([10000, 0, 0], [10000, 0, 0], [100, 0, 0], [100, 0, 0], mus, ps, 0, 1e-10, 1e-15)
    assert r.aborted and "single-photon" in r.abort_reason


def test_zero_observed_errors_is_not_treated_as_zero_phase_error():
    """m_Z = 0 makes the gamma formula collapse to 0; the module evaluates it
    at b = 1/s_Z1 instead, so phi_X > 0 and the key is below s_X0 + s_X1 - eps terms."""
    c, mus, ps = _example_counts()
    r = finite_key_length(c["n_x"], c["n_z"], [0, 0, 0], [0, 0, 0], mus, ps, 0, 1e-10, 1e-15)
    assert r.v_z1 == 0 and r.phi_x > 0
    assert r.key_length < r.s_x0 + r.s_x1 - r.eps_sec_bits - r.eps_cor_bits - 1


# --------------------------------------------------------------------------
# result object, leakage estimate
# --------------------------------------------------------------------------
def test_result_is_frozen_and_json_able():
    c, mus, ps = _example_counts()
    r = finite_key_length(np.asarray(c["n_x"]), c["n_z"], c["m_x"], c["m_z"], mus, ps, 1e5, 1e-10, 1e-15)
    assert isinstance(r, FiniteKeyResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.key_length = 5
    d = json.loads(json.dumps(r.to_dict()))
    for key in ("key_length", "s_x0", "s_x1", "v_z1", "s_z1", "phi_x", "n_x_total", "m_x_total",
                "qber_x", "leak_ec_bits", "eps_sec", "eps_cor", "eps_sec_bits", "eps_cor_bits",
                "aborted", "abort_reason"):
        assert key in d
    assert d["key_length"] == r.key_length and isinstance(d["key_length"], int)
    # numpy integer counts (as produced by the Monte Carlo) are accepted
    r2 = finite_key_length(np.array([60000000, 3000000, 150000], dtype=np.int64), (4000000, 200000, 10000),
                           np.array([1200000, 70000, 75000]), (80000, 8000, 5000), (0.5, 0.1, 0.0),
                           (0.7, 0.2, 0.1), np.int64(0), 1e-10, 1e-15)
    assert r2.key_length > 0
    json.dumps(r2.to_dict())


def test_ec_leakage_estimate_closed_form():
    h011 = -0.11 * math.log2(0.11) - 0.89 * math.log2(0.89)
    assert ec_leakage_estimate(1000, 0.11, 1.16) == math.ceil(1.16 * 1000 * h011) == 580  # 579.90 -> 580
    assert ec_leakage_estimate(1000, 0.5, 1.0) == 1000
    assert ec_leakage_estimate(1000, 0.0, 1.2) == 0
    assert ec_leakage_estimate(0, 0.1, 1.2) == 0
    assert binary_entropy(0.5) == 1.0 and binary_entropy(0.0) == 0.0 and binary_entropy(1.0) == 0.0


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------
GOOD = dict(n_x=(1000, 100, 10), n_z=(1000, 100, 10), m_x=(10, 1, 5), m_z=(10, 1, 5),
            intensities=(0.5, 0.1, 0.0), intensity_probs=(0.7, 0.2, 0.1),
            leak_ec_bits=10, eps_sec=1e-10, eps_cor=1e-15)


@pytest.mark.parametrize("key,value,fragment", [
    ("intensities", (0.1, 0.08, 0.05), "mu1 > mu2 + mu3"),
    ("intensities", (0.5, 0.1, 0.1), "mu2 > mu3"),
    ("intensities", (0.5, 0.1, -0.01), "intensities[2]"),
    ("intensities", (0.5, 0.1), "intensities"),
    ("intensities", (0.5, float("nan"), 0.0), "intensities[1]"),
    ("intensity_probs", (0.7, 0.2, 0.2), "must sum to 1"),
    ("intensity_probs", (0.8, 0.2, 0.0), "intensity_probs[2]"),
    ("intensity_probs", (1.2, -0.1, -0.1), "intensity_probs[0]"),
    ("eps_sec", 0.0, "eps_sec"),
    ("eps_sec", 1.0, "eps_sec"),
    ("eps_sec", 2.0, "eps_sec"),
    ("eps_cor", 0.0, "eps_cor"),
    ("eps_cor", -1e-9, "eps_cor"),
    ("n_x", (1000, -1, 10), "n_x[1]"),
    ("n_z", (1000, 100), "n_z"),
    ("m_z", (10, 1, -5), "m_z[2]"),
    ("m_x", (1001, 1, 5), "m_x[0]"),
    ("m_z", (10, 101, 5), "m_z[1]"),
    ("leak_ec_bits", -1, "leak_ec_bits"),
    ("leak_ec_bits", "many", "leak_ec_bits"),
])
def test_bad_inputs_raise_value_error_naming_the_parameter(key, value, fragment):
    kwargs = dict(GOOD)
    kwargs[key] = value
    with pytest.raises(ValueError) as info:
        finite_key_length(**kwargs)
    assert fragment in str(info.value)
    if key.startswith(("n_", "m_", "eps", "leak", "intensit")):
        assert key in str(info.value)


def test_good_reference_inputs_do_not_raise():
    finite_key_length(**GOOD)


@pytest.mark.parametrize("args,fragment", [
    ((1000, 0.1, 0.9), "f_ec"),
    ((1000, 1.1, 1.2), "qber"),
    ((-1, 0.1, 1.2), "n_bits"),
])
def test_ec_leakage_estimate_validation(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        ec_leakage_estimate(*args)


def test_expected_counts_validation():
    mus, ps = (0.5, 0.1, MU3), (0.7, 0.2, 0.1)
    with pytest.raises(ValueError, match="length_km"):
        lim2014_expected_counts(1e9, -1.0, 0.5, mus, ps)
    with pytest.raises(ValueError, match="q_x"):
        lim2014_expected_counts(1e9, 10.0, 1.5, mus, ps)
    with pytest.raises(ValueError, match="error_model"):
        lim2014_expected_counts(1e9, 10.0, 0.5, mus, ps, error_model="other")
    with pytest.raises(ValueError, match="intensities"):
        lim2014_expected_counts(1e9, 10.0, 0.5, (0.1, 0.2, 0.0), ps)


# --------------------------------------------------------------------------
# the 135 km of (P2) and eps_sec (appended; see the module docstring)
# --------------------------------------------------------------------------
# Optimum at 135 km for n_X = 1e4 with a fixed eps_sec = 1e-10, found offline
# by differential evolution (q_x >= 0.01, where it sits): l = 16 bits.
P135_EPS_1E10 = (0.01, (0.4921553970, 0.1144832005, MU3), _ps(0.0607868977, 0.5601327889))


def _cutoff(n_x, params, eps_sec, lo=110.0, hi=150.0):
    """Last distance (+-0.01 km) with l >= 1 bit for fixed parameters."""
    while hi - lo > 0.01:
        mid = 0.5 * (lo + hi)
        ok = lim2014_key_rate(n_x, mid, *params, eps_sec=eps_sec)["result"].key_length_raw >= 1.0
        lo, hi = (mid, hi) if ok else (lo, mid)
    return lo


def test_135_km_for_1e4_block_is_eps_sec_1e_10():
    """(P2) explained: the 130 km vs 135 km gap to the paper is the choice of
    eps_sec.  With eps_sec = 1e-10 fixed these parameters give a key at
    135 km; with the paper's eps_sec = kappa * l they do not (no key even at
    the fixed point's first iterate, eps_sec = kappa n_X = 1e-11).
    The cutoff moves 1.37 km per decade of eps_sec with these parameters
    (measured 133.82, 135.19, 136.55 km at 1e-11, 1e-10, 1e-9; re-optimising
    at each eps_sec: 1.23-1.37 km per decade).  Bracket 1.1-1.6 km per decade:
    the issue's "about 1.3"; a mistake in the eps terms of Eq. (1) (e.g. 6 ->
    1 in 6 log2(21/eps)) moves it outside."""
    assert lim2014_key_rate(1e4, 135.0, *P135_EPS_1E10, eps_sec=1e-10)["key_length"] > 0
    assert lim2014_key_rate(1e4, 135.0, *P135_EPS_1E10)["key_length"] == 0   # kappa * l
    cut = {e: _cutoff(1e4, P135_EPS_1E10, e) for e in (1e-15, 1e-11, 1e-10, 1e-9)}
    assert cut[1e-10] == pytest.approx(135.0, abs=0.5)
    per_decade = [(cut[1e-10] - cut[1e-11]), (cut[1e-9] - cut[1e-10]),
                  (cut[1e-11] - cut[1e-15]) / 4]
    assert all(1.1 < d < 1.6 for d in per_decade), per_decade

