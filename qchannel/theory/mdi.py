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
* :func:`four_intensity_bounds` and :func:`four_intensity_key`: the four-
  intensity protocol of [ZYW16] (signal z only in Z, decoys y > x only in
  X, vacuum o), its s11 / e11 estimate, with the statistical fluctuations
  of the counts (Chernoff bounds) or without (expected counts), and the
  key length.  Used on the Monte Carlo's observed counts and, by the
  analytic twin, on the expected counts.

[LCQ12] H.-K. Lo, M. Curty, B. Qi, PRL 108, 130503 (2012).
[MR12]  X. Ma, M. Razavi, PRA 86, 062319 (2012).
[ZYW16] Y.-H. Zhou, Z.-W. Yu, X.-B. Wang, PRA 93, 042324 (2016) (arXiv:1502.01262).
"""
import math

import numpy as np

from qchannel.theory.common import h2

__all__ = ["gains", "ma_razavi_gains", "single_photon_pair", "decoy_bounds", "key_rate",
           "chernoff_bounds", "four_intensity_bounds", "four_intensity_key", "FOUR_PAIRS",
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


def chernoff_bounds(x, eps):
    """Bounds on the expectation of a sum of independent Bernoulli trials
    from its observed value ``x``, each failing with probability <= eps
    (multiplicative Chernoff bounds P(X <= (1-d)E) <= e^{-d^2 E/2},
    P(X >= (1+d)E) <= e^{-d^2 E/(2+d)}, inverted exactly)."""
    L = math.log(1.0 / eps)
    upper = ((math.sqrt(2 * L) + math.sqrt(2 * L + 4 * x)) / 2.0) ** 2
    lower = max(x - (-L + math.sqrt(L * L + 8 * L * x)) / 2.0, 0.0)
    return lower, upper


#: The class pairs the four-intensity estimate uses ("ox": Alice vacuum, Bob x).
FOUR_PAIRS = ("zz", "yy", "xx", "ox", "xo", "oy", "yo", "oo")


def four_intensity_bounds(sent, succ, err_xx, y, x, eps=None):
    """Lower bound on the single-photon-pair yield s11 and upper bound on its
    X-basis error rate e11 in the four-intensity protocol of [ZYW16] (both
    parties use the same intensities: decoys 0 < x < y in X, vacuum o).

    ``sent``, ``succ``: {pair: pulse pairs sent, Bell-state successes} for
    the pairs of :data:`FOUR_PAIRS`; ``err_xx``: successes of the xx pairs
    with a bit error.  Counts may be observed (Monte Carlo) or expected
    (analytic twin).  ``eps``: None uses the counts as expectations; else
    every expectation the bound needs is replaced by the end of its Chernoff
    interval (:func:`chernoff_bounds`, failure eps each) that lowers s11 or
    raises e11.  As in [ZYW16], the vacuum-involved pairs enter only through
    the sums ox + xo and oy + yo (one observable each, not two: their
    Chernoff intervals are narrower than the sum of two, the joint treatment
    of the paper's symmetric case).  The paper's own equations could not be
    read for this implementation (only its abstract was reachable), so the
    inequalities are derived here, step by step:

    With a_k = e^{-x} x^k / k! (Poisson), the expected yields are
    S_xx = sum_{k,j} a_k a_j s_kj and S_ox = sum_j a_j s_0j, so
    G(x) = e^{2x} (S_xx - e^{-x} (S_ox + S_xo)) + S_oo
         = sum_{k,j>=1} x^{k+j} s_kj / (k! j!);
    y^3 G(x) - x^3 G(y) = x^2 y^2 (y - x) s11 + (terms with k + j >= 4,
    each <= 0 as x < y), hence
    s11 >= [y^3 G(x) - x^3 G(y)] / (x^2 y^2 (y - x))       (1)
    (G(x) taken low: S_xx low, S_ox + S_xo high, S_oo low; G(y) high: S_yy
    high, S_oy + S_yo low; the S_oo coefficient y^3 - x^3 > 0).
    Joint constraint: at long distance the few ox + xo counts fluctuate so
    much that (1) with each count at its own worst end collapses.  But the
    vacuum-involved yields of x and y are not independent: with
    V_x = S_ox + S_xo, e^x V_x - 2 S_oo = sum_{j>=1} x^j/j! (s_0j + s_j0)
    <= (x/y) (e^y V_y - 2 S_oo) term by term (x^j <= (x/y) y^j), so V_x
    is also bounded by the much larger y counts; put into (1), V_y appears
    once with the coefficient -x (y^2 - x^2) e^y:
    x^2 y^2 (y - x) s11 >= y^3 e^{2x} S_xx - x^3 e^{2y} S_yy
        - x (y^2 - x^2) e^y V_y + (2 x y^2 - y^3 - x^3) S_oo       (1')
    (S_xx low, S_yy high, V_y high, S_oo at the end its coefficient's sign
    asks for).  s11 is the larger of (1) and (1'), both valid; this is
    the idea of the joint constraints of [ZYW16] (and of Yu, Zhou, Wang,
    PRA 91, 032318 (2015)): relations between the expected values replace
    independent worst cases.
    Errors: in T_xx = sum a_k a_j s_kj e_kj every term is >= 0, and a pair
    in which one party sent vacuum has e_0j = e_k0 = 1/2 exactly (her bit is
    independent of everything Charlie sees); those terms sum to
    e^{-x} (S_ox + S_xo) / 2 - e^{-2x} S_oo / 2, so
    e11 <= (T_xx - e^{-x} (S_ox + S_xo) / 2 + e^{-2x} S_oo / 2)
           / (x^2 e^{-2x} s11)                                   (2)
    (T_xx high, S_ox + S_xo low, S_oo high, s11 low; the form of Xu, Curty,
    Qi, Lo, NJP 15, 113007 (2013), with the vacuum pairs' error rate 1/2).
    With few oo pairs the upper end of S_oo (a Chernoff bound on ~0
    counts) can dominate; two bounds free of it also hold, and the least
    of the three is taken: S_ox >= e^{-x} S_oo (its j = 0 term), so
    e^{-x} V_x - e^{-2x} S_oo >= e^{-x} V_x / 2 and the numerator of (2) is
    <= T_xx - e^{-x} V_x / 4; and, dropping every vacuum-involved term but
    the oo one, <= T_xx - e^{-2x} S_oo / 2 (S_oo low).
    A two-sided use of one observable (S_oo, S_ox + S_xo) counts as two
    failure events.  Returns (s11_lower, e11_upper); e11_upper = 0.5 when
    s11_lower = 0."""
    if not 0.0 < x < y:
        raise ValueError(f"four-intensity decoys need 0 < x < y, got x = {x}, y = {y}")

    def rate(count, n, side):
        """Expected count / n at the end ``side`` (-1 low, +1 high)."""
        if n <= 0:
            return 0.0
        if eps is None:
            return count / n
        lo, hi = chernoff_bounds(count, eps)
        return (lo if side < 0 else hi) / n

    s_xx = rate(succ["xx"], sent["xx"], -1)
    s_yy = rate(succ["yy"], sent["yy"], +1)
    s_ox = rate(succ["ox"] + succ["xo"], sent["ox"] + sent["xo"], +1) * 2.0
    s_oy = rate(succ["oy"] + succ["yo"], sent["oy"] + sent["yo"], -1) * 2.0
    s_oo = rate(succ["oo"], sent["oo"], -1)
    # (1); S_ox + S_xo = 2 (n_ox + n_xo) / (N_ox + N_xo) for the symmetric choice
    g_x = math.exp(2 * x) * s_xx - math.exp(x) * s_ox + s_oo
    g_y = math.exp(2 * y) * s_yy - math.exp(y) * s_oy + s_oo
    s11_direct = (y ** 3 * g_x - x ** 3 * g_y) / (x * x * y * y * (y - x))
    # (1'): the joint constraint between the vacuum-involved pairs of x and y
    c_oo = 2 * x * y * y - y ** 3 - x ** 3
    s11_joint = (y ** 3 * math.exp(2 * x) * s_xx - x ** 3 * math.exp(2 * y) * s_yy
                 - x * (y * y - x * x) * math.exp(y)
                 * rate(succ["oy"] + succ["yo"], sent["oy"] + sent["yo"], +1) * 2.0
                 + c_oo * rate(succ["oo"], sent["oo"], +1 if c_oo < 0 else -1)
                 ) / (x * x * y * y * (y - x))
    s11 = max(s11_direct, s11_joint, 0.0)
    if s11 <= 0.0:
        return 0.0, 0.5
    t_xx = rate(err_xx, sent["xx"], +1)
    s_ox_lo = rate(succ["ox"] + succ["xo"], sent["ox"] + sent["xo"], -1) * 2.0
    s_oo_hi = rate(succ["oo"], sent["oo"], +1)
    num = min(t_xx - math.exp(-x) * s_ox_lo / 2.0 + math.exp(-2 * x) * s_oo_hi / 2.0,
              t_xx - math.exp(-x) * s_ox_lo / 4.0, t_xx - math.exp(-2 * x) * s_oo / 2.0)
    e11 = num / (x * x * math.exp(-2 * x) * s11)
    return s11, float(min(max(e11, 0.0), 0.5))


def four_intensity_key(sent, succ, err_xx, err_zz, z, y, x, f_ec, eps_sec, eps_cor,
                       finite=True, leak_bits=None):
    """Key length of the four-intensity protocol [ZYW16] from the counts of
    :func:`four_intensity_bounds` plus ``err_zz`` (bit errors of the zz
    pairs, the key).  The single-photon-pair yield is basis independent
    (each party's single-photon state averaged over the bit is I/2 in both
    bases), so the zz pairs hold n11 >= N_zz z^2 e^{-2z} s11 single-photon
    pairs, and the X-basis xx pairs N_xx x^2 e^{-2x} s11 [ZYW16].

    ``finite``: counts bounded with failure eps_sec / 21 each, the phase
    error of the zz single-photon pairs bounded by e11 plus the random-
    sampling term of Fung et al. / Lim et al. (:func:`qchannel.protocols.
    finite_key.sampling_gamma`), and the privacy-amplification and
    correctness terms of Lim et al. 2014 (6 log2(21/eps_sec) +
    log2(2/eps_cor)), the same composable accounting as the decoy-BB84
    finite key; otherwise (asymptotic) expectations and e11 itself.
    l = n11 (1 - h(phase error)) - leak - terms, with ``leak_bits`` (a real
    EC's disclosure) or f_ec n_zz h(E_zz).  Returns a dict."""
    from qchannel.protocols.finite_key import EPS_TERMS, sampling_gamma

    eps = eps_sec / EPS_TERMS if finite else None
    s11, e11 = four_intensity_bounds(sent, succ, err_xx, y, x, eps)
    n11_z = sent["zz"] * z * z * math.exp(-2 * z) * s11
    n11_x = sent["xx"] * x * x * math.exp(-2 * x) * s11
    n_zz = succ["zz"]
    e_zz = err_zz / n_zz if n_zz > 0 else 0.5
    if leak_bits is None:
        leak_bits = f_ec * n_zz * float(h2(e_zz))
    phi = e11
    if finite:
        phi = 0.5
        if n11_z >= 1 and n11_x >= 1 and e11 < 0.5:
            b = e11 if e11 > 0.0 else 1.0 / n11_x     # gamma degenerates at 0
            phi = min(0.5, e11 + sampling_gamma(eps_sec, b, n11_x, n11_z))
        terms = 6 * math.log2(EPS_TERMS / eps_sec) + math.log2(2 / eps_cor)
    else:
        terms = 0.0
    length = n11_z * (1 - float(h2(phi))) - leak_bits - terms
    return {"method": "four-intensity", "finite": bool(finite), "s11_lower": s11,
            "e11_x_upper": e11, "phase_error_upper": phi, "n11_z_lower": n11_z,
            "n11_x_lower": n11_x, "qber_z": e_zz, "leaked_bits": float(leak_bits),
            "key_length_real": float(length),
            "key_length": max(0, int(math.floor(length))) if finite else max(0.0, length)}
