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

AOPP [XYJ20] (:func:`z_classes`, :func:`aopp_counts`, :func:`aopp_phase_error`,
:func:`key_rate_aopp`) and the finite key of both variants [JYH19, JHX20]
(:func:`finite_key`, with :func:`chernoff_zhang` [ZZR17],
:func:`observed_bounds`, :func:`sampling_upper`).  The finite-key formulas
follow the structure of those papers as we recall it (their full texts were
not readable from this workspace, so no equation numbers are cited).

[WYH18] X.-B. Wang, Z.-W. Yu, X.-L. Hu, PRA 98, 062323 (2018).
[XYJ20] H. Xu, Z.-W. Yu, C. Jiang, X.-L. Hu, X.-B. Wang, PRA 101, 042330 (2020)
        (SNS with actively odd-parity pairing).
[JYH19] C. Jiang, Z.-W. Yu, X.-L. Hu, X.-B. Wang, PRA 100, 062334 (2019)
        (SNS with finite pulses).
[JHX20] C. Jiang, X.-L. Hu, H. Xu, Z.-W. Yu, X.-B. Wang, New J. Phys. 22, 053048
        (2020) (zigzag approach: finite key with AOPP).
[ZZR17] Z. Zhang, Q. Zhao, M. Razavi, X. Ma, PRA 95, 012333 (2017).
[LZJ23] Y. Liu et al., PRL 130, 210801 (2023).
[MZZ18] X. Ma, P. Zeng, H. Zhou, PRX 8, 031043 (2018) (phase-matching QKD:
        :func:`pm_gains`, :func:`key_rate_pm`; asymptotic only).
"""
import math

import numpy as np

from qchannel.theory.common import h2

__all__ = ["one_click", "z_gains", "single_photon", "x_gains", "decoy_bounds", "key_rate",
           "residual_cos", "residual_nodes", "z_classes", "one_side_bounds",
           "single_photon_arms", "aopp_counts", "aopp_phase_error", "key_rate_aopp", "chernoff_zhang", "observed_bounds", "sampling_upper", "finite_key",
           "pm_gains", "key_rate_pm"]

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
    s1 = _one_photon_lower(s00, s1_gain, s2_gain, a, b)
    if s1 <= 0.0:
        return 0.0, 0.5
    e1 = (t_err - math.exp(-a) * s00 / 2.0) / (a * math.exp(-a) * s1)
    return s1, float(min(max(e1, 0.0), 0.5))


def _one_photon_lower(s00, g1, g2, a, b):
    """Vacuum + weak decoy lower bound on the one-photon yield from the gains
    g1, g2 of Poisson(a), Poisson(b) states (a < b) and the vacuum gain."""
    y1 = b / (a * b - a * a) * (g1 * math.exp(a) - g2 * math.exp(b) * a * a / (b * b)
                                - (b * b - a * a) / (b * b) * s00)
    return max(float(y1), 0.0)


def one_side_bounds(s00, g10, g20, g01, g02, mu1, mu2):
    """(s10, s01) lower bounds: the one-photon yields of Alice alone (|10>)
    and of Bob alone (|01>) from the X-window pairs where only one sends
    (gains g10, g20: Alice mu_1, mu_2 with Bob's vacuum; g01, g02 the
    reverse).  AOPP needs them separately: its untagged pairs take one
    untagged bit of each kind, and Eve may make the arms unequal."""
    if not 0.0 < mu1 < mu2:
        raise ValueError(f"decoy intensities need 0 < mu_1 < mu_2, got {mu1}, {mu2}")
    return (_one_photon_lower(s00, g10, g20, mu1, mu2),
            _one_photon_lower(s00, g01, g02, mu1, mu2))


def single_photon_arms(eta_a, eta_b, pd):
    """(s10, s01): the exact one-photon yields of |10> and |01> (one click)."""
    return tuple(e * (1 - pd) + (1 - e) * 2 * pd * (1 - pd) for e in (eta_a, eta_b))


def key_rate(mu_z, eps, s1, e1_ph, s_z, e_z, f_ec):
    """[WYH18] per Z-window pulse pair (>= 0)."""
    r = (2 * eps * (1 - eps) * mu_z * math.exp(-mu_z) * s1 * (1 - h2(e1_ph))
         - f_ec * s_z * h2(e_z))
    return max(float(r), 0.0)


# ------------------------------------------------------------------ AOPP
def z_classes(mu_z, eps, eta_a, eta_b, pd, visibility=1.0):
    """Effective events per Z-window pulse pair, split by Bob's bit (Bob's
    bit 0: he sent; bit 1: he did not) and by Alice's agreement: dict with
    ``b0_ok`` (Alice did not send), ``b0_err`` (both sent), ``b1_ok`` (Alice
    sent), ``b1_err`` (neither sent)."""
    q = {(sa, sb): pair_gain(mu_z * sa, mu_z * sb, eta_a, eta_b, pd, visibility)
         for sa in (0, 1) for sb in (0, 1)}
    return {"b0_ok": (1 - eps) * eps * q[(0, 1)], "b0_err": eps * eps * q[(1, 1)],
            "b1_ok": eps * (1 - eps) * q[(1, 0)], "b1_err": (1 - eps) ** 2 * q[(0, 0)]}


def aopp_counts(n_b0, err_b0, n_b1, err_b1, n10, n01):
    """Expected numbers after actively odd-parity pairing [XYJ20, JHX20]:
    Bob pairs n_g = min(n_b0, n_b1) of his bit-0 events with bit-1 events at
    random; Alice announces her parity and the odd pairs survive, keeping the
    bit of the earlier slot.  A pair survives if both or neither bit is wrong
    and carries an error if both are; a pair of two untagged bits (Alice sent
    one photon where Bob did not, and the reverse) always survives.

    Returns (n_g, n_t' survived pairs, E' their bit error rate, n_1' untagged
    pairs); ``n10``/``n01``: untagged bits among Bob's bit-1/bit-0 events."""
    n_g = min(n_b0, n_b1)
    if n_g <= 0:
        return 0.0, 0.0, 0.5, 0.0
    e0, e1 = err_b0 / n_b0, err_b1 / n_b1
    keep = (1 - e0) * (1 - e1) + e0 * e1
    n_t = n_g * keep
    n1 = n_g * min(n10 / n_b1, 1.0) * min(n01 / n_b0, 1.0)
    return n_g, n_t, (e0 * e1 / keep if keep > 0 else 0.5), n1


def aopp_phase_error(e1_ph):
    """Phase-flip error of a surviving untagged pair [XYJ20]: after the parity
    Z1 Z2 is announced the kept bit's phase is X1 X2, wrong when exactly one
    of the two bits has a phase flip: 2 e (1 - e)."""
    e = min(max(e1_ph, 0.0), 0.5)
    return 2.0 * e * (1.0 - e)


def key_rate_aopp(mu_z, eps, s10, s01, e1_ph, classes, f_ec):
    """Asymptotic SNS-AOPP key per Z-window pulse pair from the expected
    counts per pair (``classes`` of :func:`z_classes`) and the one-photon
    yields s10, s01: n_1' (1 - h(2 e1 (1 - e1))) - f n_t' h(E') (>= 0)."""
    one = eps * (1 - eps) * mu_z * math.exp(-mu_z)
    n_b0 = classes["b0_ok"] + classes["b0_err"]
    n_b1 = classes["b1_ok"] + classes["b1_err"]
    _, n_t, e_p, n1 = aopp_counts(n_b0, classes["b0_err"], n_b1, classes["b1_err"],
                                  one * s10, one * s01)
    r = n1 * (1 - h2(aopp_phase_error(e1_ph))) - f_ec * n_t * h2(e_p)
    return max(float(r), 0.0)


# ------------------------------------------------------------ finite key
def chernoff_zhang(x, xi):
    """Lower and upper bounds on the expectation of a sum of independent
    Bernoulli variables observed as ``x``, each failing with probability
    ``xi`` [ZZR17, used by JYH19]: E^L = x / (1 + d1), E^U = x / (1 - d2) with
    (e^d1 / (1 + d1)^(1 + d1))^(x / (1 + d1)) = xi / 2 and
    (e^-d2 / (1 - d2)^(1 - d2))^(x / (1 - d2)) = xi / 2."""
    if x <= 0:
        # nothing observed: the lower bound is 0; the upper one is the
        # expectation at which seeing 0 has probability xi / 2
        return 0.0, math.log(2.0 / xi)
    target = math.log(xi / 2.0)

    def solve(f, lo, hi):
        for _ in range(200):                 # f decreases from 0 at d = 0
            mid = 0.5 * (lo + hi)
            if f(mid) > target:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def f1(d):
        return x / (1 + d) * (d - (1 + d) * math.log1p(d))

    def f2(d):
        return x / (1 - d) * (-d - (1 - d) * math.log1p(-d))

    hi = 1.0
    while f1(hi) > target:
        hi *= 2.0
    d1 = solve(f1, 0.0, hi)
    d2 = solve(f2, 0.0, 1.0 - 1e-15) if f2(1.0 - 1e-15) < target else 1.0 - 1e-15
    return x / (1 + d1), x / (1 - d2)


def observed_bounds(expected, eps):
    """Bounds on the observed value of a sum of independent Bernoulli
    variables of expectation ``expected``, each failing with probability
    <= eps (multiplicative Chernoff: P(X <= (1-d)E) <= e^{-d^2 E/2},
    P(X >= (1+d)E) <= e^{-d^2 E/(2+d)}, inverted exactly)."""
    if expected <= 0:
        return 0.0, 0.0
    L = math.log(1.0 / eps)
    lower = max(expected - math.sqrt(2 * expected * L), 0.0)
    upper = expected + (L + math.sqrt(L * L + 8 * L * expected)) / 2.0
    return lower, upper


def sampling_upper(e_x, n_x, n_z, eps):
    """Upper bound on the error fraction of ``n_z`` bits given a fraction
    ``e_x`` among ``n_x`` others drawn from the same population, failing with
    probability <= eps: the random-sampling bound gamma^U of [JYH19] (after
    Fung, Ma, Chau 2010): e_x + gamma with
    gamma = ((1 - 2e) A G / (n+k) + sqrt(A^2 G^2 / (n+k)^2 + 4 e (1-e) G))
            / (2 + 2 A^2 G / (n+k)^2),
    A = max(n, k), G = (n+k) / (n k) ln((n+k) / (2 pi n k e (1-e) eps^2))."""
    e = min(max(e_x, 1.0 / max(n_x, 1.0)), 0.5)
    n, k = n_z, n_x
    if n <= 0 or k <= 0:
        return 0.5
    arg = (n + k) / (2 * math.pi * n * k * e * (1 - e) * eps * eps)
    if arg <= 1.0:
        return min(e, 0.5)
    a, g, s = max(n, k), (n + k) / (n * k) * math.log(arg), n + k
    gamma = (((1 - 2 * e) * a * g / s + math.sqrt(a * a * g * g / (s * s) + 4 * e * (1 - e) * g))
             / (2 + 2 * a * a * g / (s * s)))
    return min(e + gamma, 0.5)


def finite_key(counts, mu_z, eps, mu1, mu2, eps_sec, eps_cor, leak_bits,
               aopp=False):
    """Finite key length of SNS [JYH19] and of SNS with AOPP [JHX20] from
    counts (observed, or expected for the analytic twin).

    ``counts``: dict of N_z (Z-window pulse pairs), N_00/n_00 (vacuum pairs,
    effective events), N_11/n_11 and N_22/n_22 (mu_1 and mu_2 pairs), M_sel
    (phase-selected mu_1 pairs), m_err (their errors); with AOPP also n_b0,
    err_b0, n_b1, err_b1 (Bob's bit-0/bit-1 events and their errors) and n_g
    (pairs formed).

    Every count of the decoy estimate is replaced by its Chernoff bound
    (:func:`chernoff_zhang`), s1 and the X-window phase error follow
    :func:`decoy_bounds`, the untagged Z-window bits n1 = 2 N_z eps (1-eps)
    mu_z e^-mu_z s1 get a Chernoff lower tail, their phase error the random-
    sampling bound (:func:`sampling_upper`).  Key length [JYH19]:
    l = n1 (1 - h(e1_ph)) - leak - log2(2/eps_cor) - 2 log2(1/(sqrt2 eps_PA eps_hat)),
    and with AOPP [JHX20, LZJ23]: the untagged pairs n1' (expected
    n_g n10 n01 / (n_b0 n_b1), Chernoff lower tail), their phase error
    2 e (1 - e) of e1_ph with a Chernoff upper tail on the pairs with one
    phase flip, and l = n1' (1 - h(e1_ph')) - leak - 2 log2(2/eps_cor) -
    4 log2(1/(sqrt2 eps_PA eps_hat)); with AOPP the untagged bits of each
    kind, n10 and n01, come from the one-sided X-window pairs
    (:func:`one_side_bounds`, Chernoff bounds on their four gains, Chernoff
    lower tails on n10, n01).  eps_sec = 2(eps_hat + k eps_bar + eps_PA) +
    eps_n1 with every term equal (k = 6, or 14 with AOPP).

    ``counts`` with AOPP also holds N_10_1/n_10_1, N_10_2/n_10_2 (Alice
    sends mu_1 / mu_2, Bob vacuum: pairs, effective events) and N_01_1/n_01_1,
    N_01_2/n_01_2 (the reverse)."""
    k = 14 if aopp else 6
    e = eps_sec / (2 * (2 + k) + 1)
    a = 2 * mu1

    def ratio(x, n, side):
        if n <= 0:
            return 0.0
        lo, hi = chernoff_zhang(x, e)
        return (lo if side < 0 else hi) / n

    s00_hi, s00_lo = ratio(counts["n_00"], counts["N_00"], 1), ratio(counts["n_00"],
                                                                      counts["N_00"], -1)
    s1 = decoy_bounds(s00_hi, ratio(counts["n_11"], counts["N_11"], -1),
                      ratio(counts["n_22"], counts["N_22"], 1), 0.0, mu1, mu2)[0]
    out = {"s1_lower": s1, "e1_ph_upper_x": 0.5, "untagged_bits_lower": 0.0,
           "phase_error_upper": 0.5, "key_length": 0}
    if s1 <= 0.0 or counts["M_sel"] <= 0:
        return out
    t_hi = ratio(counts["m_err"], counts["M_sel"], 1)
    e1x = min(max((t_hi - math.exp(-a) * s00_lo / 2) / (a * math.exp(-a) * s1), 0.0), 0.5)
    n1_exp = counts["N_z"] * 2 * eps * (1 - eps) * mu_z * math.exp(-mu_z) * s1
    n1 = observed_bounds(n1_exp, e)[0]
    n1_x = counts["M_sel"] * a * math.exp(-a) * s1       # one-photon pairs among them
    phi = sampling_upper(e1x, n1_x, n1, e) if n1 >= 1 else 0.5
    out.update(e1_ph_upper_x=e1x, untagged_bits_lower=n1, phase_error_upper=phi)
    if not aopp:
        length = (n1 * (1 - h2(phi)) - leak_bits - math.log2(2 / eps_cor)
                  - 2 * math.log2(1 / (math.sqrt(2) * e * e)))
    else:
        n_b0, n_b1 = counts["n_b0"], counts["n_b1"]
        s10, s01 = one_side_bounds(s00_hi, ratio(counts["n_10_1"], counts["N_10_1"], -1),
                                   ratio(counts["n_10_2"], counts["N_10_2"], 1),
                                   ratio(counts["n_01_1"], counts["N_01_1"], -1),
                                   ratio(counts["n_01_2"], counts["N_01_2"], 1), mu1, mu2)
        one = counts["N_z"] * eps * (1 - eps) * mu_z * math.exp(-mu_z)
        n10, n01 = observed_bounds(one * s10, e)[0], observed_bounds(one * s01, e)[0]
        pairs = (counts["n_g"] * min(n10 / n_b1, 1.0) * min(n01 / n_b0, 1.0)
                 if n_b0 > 0 and n_b1 > 0 else 0.0)
        n1p = observed_bounds(pairs, e)[0]
        phip = 0.5
        if n1p >= 1:
            phip = min(observed_bounds(n1p * aopp_phase_error(phi), e)[1] / n1p, 0.5)
        out.update(s10_lower=s10, s01_lower=s01, untagged_pairs_lower=n1p,
                   phase_error_upper_aopp=phip)
        length = (n1p * (1 - h2(phip)) - leak_bits - 2 * math.log2(2 / eps_cor)
                  - 4 * math.log2(1 / (math.sqrt(2) * e * e)))
    out["key_length"] = max(0, int(math.floor(length)))
    return out


# ------------------------------------------------------------------ PM-QKD
def pm_gains(mu, eta_a, eta_b, pd, visibility, delta_rad, nodes):
    """Phase-matching QKD [MZZ18]: (Q, E) of a pair of pulses of intensity
    ``mu`` whose random phases (modulo pi; the bit is the pi part) agree
    within delta_rad/2: effective events per matched pair and their bit
    error rate (the detector of the other parity clicks alone).  Quadrature
    over the mismatch in the slice and the tracking residual ``nodes``."""
    xg, wg = np.polynomial.legendre.leggauss(32)
    res, wres = nodes
    rel = 0.5 * delta_rad * xg[:, None] + res[None, :]
    w = 0.5 * wg[:, None] * wres[None, :]
    lc, ld = _lams(eta_a * mu, eta_b * mu, visibility, rel)
    both, wrong = one_click(lc, ld, pd)
    q = float((both * w).sum())
    return q, (float((wrong * w).sum()) / q if q > 0 else 0.5)


def key_rate_pm(mu, y1, q, e, match_prob, f_ec):
    """[MZZ18] per pair of signal pulses: P_match Q [1 - f h(E) - h(E_ph)]
    with the phase error E_ph <= 1 - q1, q1 = 2 mu e^{-2 mu} Y1 / Q the share
    of the matched events from one photon in total (the odd terms beyond one
    photon are dropped: a lower bound); P_match = Delta/pi (2/M for M phase
    slices) is the probability that the two phases match (>= 0)."""
    if q <= 0.0:
        return 0.0
    q1 = min(2 * mu * math.exp(-2 * mu) * y1 / q, 1.0)
    e_ph = min(1.0 - q1, 0.5)
    return max(float(match_prob * q * (1 - f_ec * h2(e) - h2(e_ph))), 0.0)
