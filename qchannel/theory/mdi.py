"""Closed forms of measurement-device-independent QKD (polarisation encoding).

The model is the one of the Monte Carlo (:mod:`qchannel._core.mdi`): phase-
randomised coherent states from Alice and Bob, arm efficiencies ``eta_a``,
``eta_b`` (fiber times detector efficiency), a 50:50 beam splitter, four
threshold detectors c_H, c_V, d_H, d_V with dark-count probability ``pd``
each, Bob's polarisation rotated by ``misalign_rad`` (e_d = sin^2), mode
overlap ``visibility`` (HOM visibility).  A Bell-state measurement succeeds
when exactly two detectors of orthogonal polarisations click: psi- for
(c_H, d_V) or (c_V, d_H), psi+ for (c_H, c_V) or (d_H, d_V) [LCQ12].  Bob
flips his bit in Z always, in X for psi- only.

* :func:`gains`: gain and error gain of one intensity pair in one basis, by
  averaging the exact coherent-state click probabilities over the relative
  phase (trapezoid rule on a periodic integrand: exponentially accurate).
* :func:`ma_razavi_gains`: the closed forms of [MR12] (Appendix B, perfect
  mode overlap), an independent check of :func:`gains`.
* :func:`single_photon_pair`: the exact Y11 (Z, X) and e11 (X) of the model,
  the coefficients of mu_a mu_b in e^{mu_a + mu_b} Q(mu_a, mu_b), extracted by
  a discrete Cauchy integral (the infinite-decoy limit).
* :func:`decoy_bounds`: Y11 lower and e11 upper bounds from the gains of the
  intensities (mu, nu, 0) of each party (the practical decoy estimate; the
  Monte Carlo applies it to its observed gains).
* :func:`key_rate` and :func:`expect`: the asymptotic key rate of [MR12]
  R = Q11^Z (1 - h(e11^X)) - f Q^Z h(E^Z) per signal pair, and per pulse.

[LCQ12] H.-K. Lo, M. Curty, B. Qi, PRL 108, 130503 (2012).
[MR12]  X. Ma, M. Razavi, PRA 86, 062319 (2012).
"""
import math

import numpy as np

from qchannel.theory.common import h2

__all__ = ["gains", "ma_razavi_gains", "single_photon_pair", "decoy_bounds", "key_rate",
           "N_PHASE"]

N_PHASE = 64
_R = math.sqrt(0.5)
# polarisation vectors (H, V) per basis (0 = Z, 1 = X) and bit
POL = np.array([[[1.0, 0.0], [0.0, 1.0]], [[_R, _R], [_R, -_R]]])


def _pattern_probs(mu_a, mu_b, eta_a, eta_b, pd, visibility, misalign_rad, basis_a, basis_b,
                   bit_a, bit_b, n_phase=N_PHASE):
    """(P(psi-), P(psi+)) averaged over the relative phase; mu may be complex
    (analytic continuation for the Cauchy extraction)."""
    phi = 2.0 * np.pi * np.arange(n_phase) / n_phase
    cphi = np.cos(phi)
    amp_a = np.sqrt(np.asarray(eta_a * mu_a, dtype=complex))[..., None]
    amp_b = np.sqrt(np.asarray(eta_b * mu_b, dtype=complex))[..., None]
    pa = POL[basis_a, bit_a]
    pb0 = POL[basis_b, bit_b]
    ct, st = math.cos(misalign_rad), math.sin(misalign_rad)
    pb = (ct * pb0[0] - st * pb0[1], st * pb0[0] + ct * pb0[1])
    sv = math.sqrt(visibility)
    lam = []
    for sign in (1.0, -1.0):          # output c, then d
        for k in (0, 1):              # H, V
            a, b = amp_a * pa[k], amp_b * pb[k]
            lam.append(0.5 * (a * a + b * b) + sign * sv * a * b * cphi)
    c = [1.0 - (1.0 - pd) * np.exp(-x) for x in lam]
    n = [1.0 - x for x in c]
    minus = c[0] * n[1] * n[2] * c[3] + n[0] * c[1] * c[2] * n[3]
    plus = c[0] * c[1] * n[2] * n[3] + n[0] * n[1] * c[2] * c[3]
    return minus.mean(axis=-1), plus.mean(axis=-1)


def gains(mu_a, mu_b, eta_a, eta_b, pd, visibility=1.0, misalign_rad=0.0, basis=0):
    """(Q, EQ): probability per pulse pair (both in ``basis``, bits uniform)
    of a successful BSM, and of a successful BSM with an error after Bob's
    flip.  Vectorised over mu_a, mu_b (broadcast)."""
    q = eq = 0.0
    for bit_a in (0, 1):
        for bit_b in (0, 1):
            minus, plus = _pattern_probs(mu_a, mu_b, eta_a, eta_b, pd, visibility, misalign_rad,
                                         basis, basis, bit_a, bit_b)
            q = q + 0.25 * (minus + plus)
            # Z: flip for both; X: flip for psi- only.  Error: bits disagree after the flip
            err_minus = bit_a == bit_b
            err_plus = bit_a == bit_b if basis == 0 else bit_a != bit_b
            eq = eq + 0.25 * (minus * err_minus + plus * err_plus)
    if not (np.iscomplexobj(mu_a) or np.iscomplexobj(mu_b)):
        q, eq = np.real(q), np.real(eq)
    return np.asarray(q)[()], np.asarray(eq)[()]


def _i0(x):
    return np.i0(x)


def ma_razavi_gains(mu_a, mu_b, eta_a, eta_b, pd, e_d):
    """Closed forms of [MR12] Appendix B (polarisation encoding, perfect mode
    overlap, misalignment e_d): (Q^Z, E^Z Q^Z, Q^X, E^X Q^X)."""
    mu_p = eta_a * mu_a + eta_b * mu_b
    x = math.sqrt(eta_a * mu_a * eta_b * mu_b) / 2.0
    y = (1.0 - pd) * math.exp(-mu_p / 4.0)
    qc = (2.0 * (1.0 - pd) ** 2 * math.exp(-mu_p / 2.0)
          * (1.0 - (1.0 - pd) * math.exp(-eta_a * mu_a / 2.0))
          * (1.0 - (1.0 - pd) * math.exp(-eta_b * mu_b / 2.0)))
    qe = (2.0 * pd * (1.0 - pd) ** 2 * math.exp(-mu_p / 2.0)
          * (_i0(2.0 * x) - (1.0 - pd) * math.exp(-mu_p / 2.0)))
    qz = qc + qe
    eqz = e_d * qc + (1.0 - e_d) * qe
    qx = 2.0 * y * y * (1.0 + 2.0 * y * y - 4.0 * y * _i0(x) + _i0(2.0 * x))
    eqx = 0.5 * qx - 2.0 * (0.5 - e_d) * y * y * (_i0(2.0 * x) - 1.0)
    return float(qz), float(eqz), float(qx), float(eqx)


def _coefficient_11(f, m=24, r=1.0):
    """Coefficient of a b in the power series of f(a, b) (discrete Cauchy
    integral on circles of radius r; aliasing ~ r^m / m!)."""
    w = r * np.exp(2j * np.pi * np.arange(m) / m)
    a, b = np.meshgrid(w, w, indexing="ij")
    vals = f(a, b)
    return float(np.real(np.mean(vals / (a * b))))


def single_photon_pair(eta_a, eta_b, pd, visibility=1.0, misalign_rad=0.0):
    """Exact single-photon-pair quantities of the model (infinite decoys):
    dict with y11_z, y11_x (yields) and e11_x, e11_z (error rates)."""
    out = {}
    for basis, name in ((0, "z"), (1, "x")):
        def f_q(a, b, basis=basis):
            return np.exp(a + b) * gains(a, b, eta_a, eta_b, pd, visibility, misalign_rad,
                                         basis)[0]

        def f_e(a, b, basis=basis):
            return np.exp(a + b) * gains(a, b, eta_a, eta_b, pd, visibility, misalign_rad,
                                         basis)[1]
        y = _coefficient_11(f_q)
        out[f"y11_{name}"] = y
        out[f"e11_{name}"] = _coefficient_11(f_e) / y if y > 0 else 0.5
    return out


def _g(q, mu_a, mu_b):
    """e^{mu_a + mu_b} Q_{mu_a mu_b} - e^{mu_a} Q_{mu_a 0} - e^{mu_b} Q_{0 mu_b} + Q_00
    = sum over n, m >= 1 of mu_a^n mu_b^m / (n! m!) Y_nm."""
    return (math.exp(mu_a + mu_b) * q[(mu_a, mu_b)] - math.exp(mu_a) * q[(mu_a, 0.0)]
            - math.exp(mu_b) * q[(0.0, mu_b)] + q[(0.0, 0.0)])


def decoy_bounds(qz, qx, eqx, mu, nu):
    """Practical decoy estimate from the gains of intensities (mu, nu, 0)
    (the same for both parties).  ``qz``, ``qx``, ``eqx``: dicts (mu_a, mu_b)
    -> gain / error gain per pulse pair of that intensity pair in that basis
    (intensity 0 as 0.0).  Returns (y11_z_lower, y11_x_lower, e11_x_upper).

    Lower bound: G(s) = sum_{n,m>=1} s^{n+m} Y_nm / (n! m!); the terms with
    n + m >= 3 of G(nu) are at most (nu/mu)^3 times those of G(mu), so
    Y11 >= (mu^3 G(nu) - nu^3 G(mu)) / (mu^2 nu^2 (mu - nu)) (nu < mu).
    Upper bound on e11: the same combination of error gains at (nu, nu) is
    >= nu^2 e11 Y11."""
    if not 0.0 < nu < mu:
        raise ValueError(f"decoy intensities need 0 < nu < mu, got mu = {mu}, nu = {nu}")

    def y11_lower(q):
        return (mu ** 3 * _g(q, nu, nu) - nu ** 3 * _g(q, mu, mu)) / (mu * mu * nu * nu
                                                                       * (mu - nu))
    yz, yx = max(y11_lower(qz), 0.0), max(y11_lower(qx), 0.0)
    if yx <= 0.0:
        return yz, yx, 0.5
    e11 = _g(eqx, nu, nu) / (nu * nu * yx)
    return yz, yx, float(min(max(e11, 0.0), 0.5))


def key_rate(mu, y11_z, e11_x, q_z, e_z, f_ec):
    """[MR12] R = mu^2 e^{-2 mu} Y11^Z (1 - h(e11^X)) - f Q^Z h(E^Z) per pulse
    pair in which both sent the signal intensity ``mu`` in Z (>= 0)."""
    r = mu * mu * math.exp(-2.0 * mu) * y11_z * (1.0 - h2(e11_x)) - f_ec * q_z * h2(e_z)
    return max(float(r), 0.0)


def intensity_gains(mus, eta_a, eta_b, pd, visibility, misalign_rad):
    """Gains of every pair of intensities in both bases:
    {basis: ({(mu_a, mu_b): Q}, {(mu_a, mu_b): EQ})}."""
    out = {}
    for basis in (0, 1):
        q, eq = {}, {}
        for ma in mus:
            for mb in mus:
                q[(ma, mb)], eq[(ma, mb)] = (float(v) for v in gains(
                    ma, mb, eta_a, eta_b, pd, visibility, misalign_rad, basis))
        out[basis] = (q, eq)
    return out
