"""Closed forms of sending-or-not-sending twin-field QKD [WYH18].

The model is the one of the Monte Carlo (:mod:`qchannel._core.mdi`, TF
kernel): phase-randomised coherent states from Alice and Bob with arm
efficiencies ``eta_a``, ``eta_b`` (fiber times detector efficiency), a 50:50
beam splitter, two threshold detectors with dark-count probability ``pd``,
mode overlap sqrt(``visibility``) and a residual relative phase delta after
the phase tracking.  An *effective event* is a slot where exactly one
detector clicks.

Z window: each party sends mu_z with probability ``eps`` (Alice's bit 1,
Bob's bit 0) or nothing.  X window: intensities {0, mu_1, mu_2}; pairs of
mu_1 pulses whose announced phases differ by less than Delta/2 from 0
(detector c expected) or pi (detector d expected) estimate the phase error.

Asymptotic key per pulse [WYH18, Eq. (1)]:
R = p_z^2 [2 eps (1 - eps) mu_z e^{-mu_z} s1 (1 - h(e1_ph)) - f S_Z h(E_Z)].

* :func:`z_gains`: S_Z and E_Z (exact).
* :func:`single_photon`: s1 and e1_ph of the model (infinite decoys).
* :func:`x_gains`: X-window gains S_k (all phases) and the error gain T of
  the phase-selected mu_1 pairs (quadrature over phase and residual).
* :func:`decoy_bounds`: s1 lower and e1_ph upper bounds from (0, mu_1, mu_2)
  [WYH18 Eqs. (4), (5)] (the Monte Carlo applies them to its counts).

[WYH18] X.-B. Wang, Z.-W. Yu, X.-L. Hu, PRA 98, 062323 (2018).
"""
import math

import numpy as np

from qchannel.theory.common import h2

__all__ = ["one_click", "z_gains", "single_photon", "x_gains", "decoy_bounds", "key_rate",
           "residual_cos", "residual_nodes"]

N_PHASE = 64


def one_click(lam_c, lam_d, pd):
    """P(exactly one detector clicks) and P(only d clicks) for Poisson means."""
    cc = 1.0 - (1.0 - pd) * np.exp(-lam_c)
    cd = 1.0 - (1.0 - pd) * np.exp(-lam_d)
    return cc * (1.0 - cd) + cd * (1.0 - cc), cd * (1.0 - cc)


def _lams(ia, ib, visibility, rel_phase):
    inc = 0.5 * (ia + ib)
    cross = math.sqrt(visibility) * np.sqrt(ia * ib) * np.cos(rel_phase)
    return inc + cross, inc - cross


def pair_gain(mu_a, mu_b, eta_a, eta_b, pd, visibility=1.0):
    """P(effective event) of one intensity pair, phases independent and uniform."""
    phi = 2.0 * np.pi * np.arange(N_PHASE) / N_PHASE
    lc, ld = _lams(eta_a * mu_a, eta_b * mu_b, visibility, phi)
    return float(one_click(lc, ld, pd)[0].mean())


def z_gains(mu_z, eps, eta_a, eta_b, pd, visibility=1.0):
    """(S_Z, E_Z): effective events per Z-window pulse pair and their error
    rate (both sent or neither sent)."""
    q_nn = pair_gain(0.0, 0.0, eta_a, eta_b, pd, visibility)
    q_sn = pair_gain(mu_z, 0.0, eta_a, eta_b, pd, visibility)
    q_ns = pair_gain(0.0, mu_z, eta_a, eta_b, pd, visibility)
    q_ss = pair_gain(mu_z, mu_z, eta_a, eta_b, pd, visibility)
    wrong = eps * eps * q_ss + (1 - eps) ** 2 * q_nn
    s = wrong + eps * (1 - eps) * (q_sn + q_ns)
    return s, (wrong / s if s > 0 else 0.5)


def residual_nodes(track_slots, walk_var, track_var, n_u=16, n_h=16):
    """Nodes and weights of the residual phase delta: an estimation error of
    variance ``track_var`` plus a walk of ``walk_var`` per slot over a uniform
    position u in [0, track_slots) of the tracking period (midpoint rule in
    u, Gauss-Hermite in delta)."""
    x, w = np.polynomial.hermite_e.hermegauss(n_h)
    w = w / w.sum()
    u = (np.arange(n_u) + 0.5) / n_u * track_slots
    sig = np.sqrt(track_var + walk_var * u)
    return (sig[:, None] * x[None, :]).ravel(), np.repeat(np.full(n_u, 1.0 / n_u), n_h) * \
        np.tile(w, n_u)


def residual_cos(track_slots, walk_var, track_var):
    """E[cos delta], exact for a walk sampled at slots uniform in the period:
    e^{-track_var/2} (1/T) sum_{u<T} e^{-walk_var u / 2}."""
    a = walk_var / 2.0
    t = float(track_slots)
    mean = 1.0 if a == 0 else -math.expm1(-a * t) / (t * -math.expm1(-a))
    return math.exp(-track_var / 2.0) * mean


def single_photon(eta_a, eta_b, pd, visibility, delta_rad, cos_residual):
    """(s1, e1_ph): yield of the one-photon states |10>, |01> (averaged) and
    the bit error of the X-window one-photon state (|10> + e^{i d}|01>)/sqrt2
    for d uniform in [-delta_rad/2, delta_rad/2] plus the residual
    (E[cos] = ``cos_residual``)."""
    s1_arm = [e * (1 - pd) + (1 - e) * 2 * pd * (1 - pd) for e in (eta_a, eta_b)]
    s1 = 0.5 * sum(s1_arm)
    if s1 <= 0.0:
        return 0.0, 0.5
    half = delta_rad / 2.0
    sinc = math.sin(half) / half if half > 0 else 1.0
    ecos = sinc * cos_residual
    lost = 1.0 - 0.5 * (eta_a + eta_b)
    p_wrong = (0.25 * (eta_a + eta_b - 2 * math.sqrt(visibility * eta_a * eta_b) * ecos)
               * (1 - pd) + lost * pd * (1 - pd))
    return s1, p_wrong / s1


def x_gains(mu1, mu2, eta_a, eta_b, pd, visibility, delta_rad, nodes):
    """X-window expectations: dict with S_00, S_1, S_2 (effective events per
    pair of both sending 0, mu_1, mu_2; all phases) and T (error events per
    mu_1 pair in the phase-selected set, i.e. per pair whose announced phase
    difference lies within delta_rad/2 of 0 or pi)."""
    out = {"S_00": pair_gain(0.0, 0.0, eta_a, eta_b, pd, visibility),
           "S_1": pair_gain(mu1, mu1, eta_a, eta_b, pd, visibility),
           "S_2": pair_gain(mu2, mu2, eta_a, eta_b, pd, visibility)}
    xg, wg = np.polynomial.legendre.leggauss(32)
    sel = 0.5 * delta_rad * xg                       # announced difference - 0
    res, wres = nodes
    rel = sel[:, None] + res[None, :]
    w = 0.5 * wg[:, None] * wres[None, :]
    lc, ld = _lams(eta_a * mu1, eta_b * mu1, visibility, rel)
    # around 0 detector d is wrong; around pi (cos -> -cos) detector c is, same law
    out["T"] = float((one_click(lc, ld, pd)[1] * w).sum())
    return out


def decoy_bounds(s00, s1_gain, s2_gain, t_err, mu1, mu2):
    """[WYH18] s1 lower bound from the X-window gains (the two-mode state of
    two phase-randomised pulses of mu is Poisson(2 mu) in total photon number)
    and the upper bound e1_ph <= (T - e^{-2 mu1} S_00 / 2) / (2 mu1 e^{-2 mu1} s1)."""
    if not 0.0 < mu1 < mu2:
        raise ValueError(f"decoy intensities need 0 < mu_1 < mu_2, got {mu1}, {mu2}")
    a, b = 2.0 * mu1, 2.0 * mu2
    s1 = b / (a * b - a * a) * (s1_gain * math.exp(a) - s2_gain * math.exp(b) * a * a / (b * b)
                                - (b * b - a * a) / (b * b) * s00)
    s1 = max(s1, 0.0)
    if s1 <= 0.0:
        return 0.0, 0.5
    e1 = (t_err - math.exp(-a) * s00 / 2.0) / (a * math.exp(-a) * s1)
    return s1, float(min(max(e1, 0.0), 0.5))


def key_rate(mu_z, eps, s1, e1_ph, s_z, e_z, f_ec):
    """[WYH18] per Z-window pulse pair (>= 0)."""
    r = (2 * eps * (1 - eps) * mu_z * math.exp(-mu_z) * s1 * (1 - h2(e1_ph))
         - f_ec * s_z * h2(e_z))
    return max(float(r), 0.0)
