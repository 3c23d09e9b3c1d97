"""Finite-key decoy-state BB84 with three intensities (Lim et al. 2014).

Reference
---------
C. C. W. Lim, M. Curty, N. Walenta, F. Xu, H. Zbinden, "Concise security
bounds for practical decoy-state quantum key distribution",
Phys. Rev. A 89, 022307 (2014), arXiv:1311.7129.  Equation numbers below are
those of the published paper: main-text Eqs. (1)-(5), Appendix A Eqs.
(A1)-(A10), Appendix B Eqs. (B1)-(B4).

Conventions (as in the paper)
-----------------------------
* X is the key basis: the raw key is taken from the events where Alice and
  Bob both chose X.  Z (both chose Z) is only used to estimate the phase
  error rate of the single-photon X events.
* Three intensities ``mu1 > mu2 + mu3`` and ``mu2 > mu3 >= 0`` chosen with
  probabilities ``p1, p2, p3`` (sum 1, each > 0 since the bounds divide by
  ``p_k``).
* ``n_x[k], n_z[k]`` are the detection counts for intensity k in the X-X and
  Z-Z basis pairs, ``m_x[k], m_z[k]`` the bit-error counts among them.

Formulas implemented (eps := eps_sec / 21, see Eq. (B4))
--------------------------------------------------------
* Hoeffding deviation (A1), (A2):  delta(n, eps) = sqrt(n/2 * ln(1/eps)),
  with the TOTAL n_X (resp. n_Z, m_Z) of the basis, the same for every k.
* (A7)-(A10) / text below Eq. (2):
  n^{+-}_{X,k} = e^{mu_k}/p_k * [n_{X,k} +- delta(n_X, eps_sec/21)],
  m^{+-}_{Z,k} = e^{mu_k}/p_k * [m_{Z,k} +- delta(m_Z, eps_sec/21)].
  The bracket is clipped to [0, n_X] (resp. [0, m_Z]): the quantity it bounds,
  n*_{X,k} = sum_n p_{k|n} s_{X,n}, lies in that interval, so clipping keeps
  the bound valid and only matters for very small counts.
* tau_n = sum_k p_k e^{-mu_k} mu_k^n / n!          (definition below Eq. (2))
* Eq. (2): s_{X,0} >= tau_0 (mu2 n^-_{X,mu3} - mu3 n^+_{X,mu2}) / (mu2 - mu3)
* Eq. (3): s_{X,1} >= tau_1 mu1 [n^-_{X,mu2} - n^+_{X,mu3}
             - (mu2^2 - mu3^2)/mu1^2 (n^+_{X,mu1} - s_{X,0}/tau_0)]
             / [mu1 (mu2 - mu3) - mu2^2 + mu3^2]
  (the same two formulas with Z statistics give s_{Z,0}, s_{Z,1}).
  The lower bounds are clipped to s_0 in [0, n], s_1 in [0, n - s_0] (n the
  basis total), which keeps them valid lower bounds because the true vacuum
  and single-photon counts are disjoint parts of the n detections; it also
  guarantees l <= n_X.
* Eq. (4): v_{Z,1} <= tau_1 (m^+_{Z,mu2} - m^-_{Z,mu3}) / (mu2 - mu3),
  clipped to [0, m_Z] (single-photon errors are a subset of all errors).
* Eq. (5): phi_X <= v_{Z,1}/s_{Z,1} + gamma(eps_sec, v_{Z,1}/s_{Z,1}, s_{Z,1}, s_{X,1})
  gamma(a, b, c, d) = sqrt( (c+d)(1-b) b / (c d ln 2)
                            * log2( (c+d) / (c d (1-b) b) * 21^2 / a^2 ) )
  (main-text form, a = eps_sec; Eq. (B2) is the same with a = alpha_1 =
  eps_sec/21 and without the 21^2).
* Eq. (1): l = floor( s_{X,0} + s_{X,1} - s_{X,1} h(phi_X) - lambda_EC
                      - 6 log2(21/eps_sec) - log2(2/eps_cor) ).

Aborts (``aborted=True``, ``key_length=0``, reason in ``abort_reason``): no
detections in a basis; no certified single-photon events; phase-error bound
phi_X >= 1/2 (the protocol's phi_tol check, step 4 of the paper, with
phi_tol = 1/2 where h() stops being increasing); or l <= 0.

The paper's evaluation model (Sec. IV) is in :func:`lim2014_expected_counts`
and :func:`lim2014_key_rate`; they reproduce Fig. 1 from expected counts
without the Monte Carlo.  Note that in Sec. IV eps_sec is not fixed: it is set
proportional to the key length, eps_sec = kappa * l with kappa = 1e-15, and
that the misalignment term of e_k is evaluated with eta_sys (see
:func:`lim2014_expected_counts`).

The 1e4-bit block and eps_sec
-----------------------------
Sec. IV states that a block of n_X = 1e4 still gives a key at 135 km; with
eps_sec = kappa * l (kappa = 1e-15, so eps_sec ~ 1e-15 near the cutoff, where
l is a few bits) this implementation reaches about 130 km.  The gap is the
choice of eps_sec, not the bounds: the secrecy cost 6 log2(21/eps_sec) and
the Hoeffding/sampling terms move the cutoff by about 1.3 km per decade of
eps_sec, and a fixed eps_sec = 1e-10 reaches 135 km.  Measured here (q_x >=
0.01, the other parameters optimised by differential evolution at each
distance, cutoff = last distance with l >= 1 bit, +-0.1 km):

    eps_sec   1e-15    1e-13    1e-11    1e-10    1e-9
    cutoff    128.8    131.3    133.8    135.2    136.5 km

i.e. 1.23-1.37 km per decade; with the parameters held at their 135 km
optimum: 128.1 (1e-15), 132.4 (1e-12), 133.8 (1e-11), 135.2 (1e-10),
136.6 km (1e-9).  So Fig. 1's 135 km matches a fixed eps_sec = 1e-10
(qchannel's default, ``postprocess.eps_sec``), not kappa * l.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional, Sequence

from qchannel.params import check_choice, check_prob, check_real, check_real_list
from qchannel.theory import h2 as binary_entropy

__all__ = [
    "FiniteKeyResult",
    "LIM2014_SYSTEM",
    "binary_entropy",
    "ec_leakage_estimate",
    "finite_key_length",
    "hoeffding_delta",
    "lim2014_expected_counts",
    "lim2014_key_rate",
    "sampling_gamma",
]

#: Number of equal error terms in the Lim et al. secrecy budget, Eq. (B4):
#: eps_sec = 2[2 a1 + a2 + a3] + nu + 10 eps1 + 2 eps2 = 21 eps.
EPS_TERMS = 21

#: Example system of Lim et al. 2014, Sec. IV (dedicated fibre).
LIM2014_SYSTEM = {
    "eta_det": 0.10,         # eta_Bob, detection efficiency
    "p_dc": 6e-7,            # dark-count probability per detector and gate
    "p_ap": 4e-2,            # after-pulse probability
    "alpha_db_per_km": 0.2,  # fibre attenuation
    "e_mis": 5e-3,           # optical misalignment error
    "f_ec": 1.16,            # error-correction efficiency
    "mu3": 2e-4,             # weakest intensity
    "eps_cor": 1e-15,
    "kappa": 1e-15,          # eps_sec = kappa * l
}

_PROB_SUM_TOL = 1e-9


# --------------------------------------------------------------------------
# elementary functions
# --------------------------------------------------------------------------


def hoeffding_delta(n: float, eps: float) -> float:
    """delta(n, eps) = sqrt(n/2 ln(1/eps)), Lim et al. Eq. (A1) (natural log)."""
    if n <= 0.0:
        return 0.0
    return math.sqrt(0.5 * n * math.log(1.0 / eps))


def sampling_gamma(a: float, b: float, c: float, d: float) -> float:
    """gamma(a, b, c, d) of Lim et al. Eq. (5) (main-text form, a = eps_sec).

    Random sampling without replacement (Fung, Ma, Chau, PRA 81, 012318
    (2010)): with c sampled single-photon Z events of which a fraction b are
    errors, the phase-error fraction of the d single-photon X events exceeds
    b + gamma with probability at most eps_sec/21.

    For b = 0 the formula degenerates to 0 (its limit), which is not a
    meaningful confidence interval; callers must not pass b = 0 (see
    :func:`finite_key_length`, which substitutes b = 1/c).
    """
    if not (c > 0.0 and d > 0.0 and 0.0 < b < 1.0):
        raise ValueError(f"sampling_gamma needs c > 0, d > 0, 0 < b < 1; got b={b}, c={c}, d={d}")
    bb = (1.0 - b) * b
    arg = (c + d) / (c * d * bb) * (EPS_TERMS / a) ** 2
    if arg <= 1.0:
        # Only for c, d beyond ~(21/a)^2 / (b(1-b)): then the prefactor is
        # below (a b (1-b) / 21)^2 / ln 2 and gamma is negligible anyway.
        return 0.0
    return math.sqrt((c + d) * bb / (c * d * math.log(2.0)) * math.log2(arg))


def ec_leakage_estimate(n_bits, qber, f_ec) -> int:
    """Error-correction leakage estimate ceil(f_EC * n * h(qber)) in bits.

    This is the model of Lim et al. Sec. IV (lambda_EC = f_EC n_X h(e_obs)); it
    stands in until the real leakage of the reconciliation protocol is wired in.
    """
    n_bits = check_real("n_bits", n_bits, lo=0.0)
    qber = check_prob("qber", qber)
    f_ec = check_real("f_ec", f_ec, lo=1.0)
    return int(math.ceil(f_ec * n_bits * binary_entropy(qber)))


def _tau(n: int, intensities: Sequence[float], probs: Sequence[float]) -> float:
    """tau_n = sum_k p_k e^{-mu_k} mu_k^n / n!  (probability Alice sends n photons)."""
    return sum(p * math.exp(-mu) * mu ** n for mu, p in zip(intensities, probs)) / math.factorial(n)


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------
def _check_intensities(intensities, intensity_probs):
    mus = check_real_list("intensities", intensities, lo=0.0, min_len=3, max_len=3)
    ps = check_real_list("intensity_probs", intensity_probs, lo=0.0, hi=1.0, min_len=3, max_len=3)
    mu1, mu2, mu3 = mus
    if not mu2 > mu3:
        raise ValueError(
            f"intensities = {list(mus)!r} is out of range: must satisfy mu2 > mu3 >= 0 "
            f"(Lim et al. 2014), got mu2 = {mu2}, mu3 = {mu3}"
        )
    if not mu1 > mu2 + mu3:
        raise ValueError(
            f"intensities = {list(mus)!r} is out of range: must satisfy mu1 > mu2 + mu3 "
            f"(Lim et al. 2014), got mu1 = {mu1}, mu2 + mu3 = {mu2 + mu3}"
        )
    for i, p in enumerate(ps):
        check_real(f"intensity_probs[{i}]", p, 0.0, 1.0, lo_open=True)
    if abs(sum(ps) - 1.0) > _PROB_SUM_TOL:
        raise ValueError(f"intensity_probs = {list(ps)!r} must sum to 1, got {sum(ps)!r}")
    return mus, ps


def _check_counts(name, values):
    return check_real_list(name, values, lo=0.0, min_len=3, max_len=3)


def _check_eps(name, value):
    return check_real(name, value, 0.0, 1.0, lo_open=True, hi_open=True)


# --------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class FiniteKeyResult:
    """Outcome of the Lim et al. 2014 finite-key computation.

    All bounds are in numbers of events (bits), not rates.  ``key_length`` is
    the floored Eq. (1) value clipped at 0; ``key_length_raw`` is the unfloored
    value (with phi_x = 1/2 if the protocol aborted before Eq. (1)).
    ``eps_sec_bits`` = 6 log2(21/eps_sec) and ``eps_cor_bits`` = log2(2/eps_cor)
    are the two security terms of Eq. (1); ``delta_*`` are the Hoeffding
    deviations delta(n, eps_sec/21) of Eq. (A1)/(A2).  ``aborted`` is True when the protocol would abort (no usable
    statistics, phase-error bound >= 1/2, or l <= 0), and ``abort_reason``
    says why.
    """

    key_length: int
    aborted: bool
    abort_reason: Optional[str]
    key_length_raw: float
    n_x_total: float
    n_z_total: float
    m_x_total: float
    m_z_total: float
    qber_x: float
    qber_z: float
    tau0: float
    tau1: float
    delta_n_x: float
    delta_n_z: float
    delta_m_z: float
    s_x0: float
    s_x1: float
    s_z0: float
    s_z1: float
    v_z1: float
    phi_x: float
    leak_ec_bits: float
    eps_sec: float
    eps_cor: float
    eps_sec_bits: float
    eps_cor_bits: float

    def to_dict(self) -> dict:
        """A JSON-able dict (floats, ints, bools, str/None)."""
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = None
        return d


# --------------------------------------------------------------------------
# decoy bounds, Eqs. (2)-(4)
# --------------------------------------------------------------------------
def _bracket(count, total, mu, p, delta):
    """(e^mu/p) * clip(count +- delta, 0, total)  -> (plus, minus)."""
    scale = math.exp(mu) / p
    plus = min(max(count + delta, 0.0), total)
    minus = min(max(count - delta, 0.0), total)
    return scale * plus, scale * minus


def _s0_s1(counts, mus, ps, eps, tau0, tau1):
    """Eqs. (2) and (3) for one basis.  Returns (s0, s1, delta)."""
    mu1, mu2, mu3 = mus
    total = sum(counts)
    delta = hoeffding_delta(total, eps)
    n1p, _ = _bracket(counts[0], total, mu1, ps[0], delta)
    n2p, n2m = _bracket(counts[1], total, mu2, ps[1], delta)
    n3p, n3m = _bracket(counts[2], total, mu3, ps[2], delta)
    # Eq. (2).  Clipping a lower bound L to [0, total] keeps it a lower bound,
    # since 0 <= s0 and s0 + s1 <= total (disjoint subsets of the detections).
    s0 = min(max(tau0 * (mu2 * n3m - mu3 * n2p) / (mu2 - mu3), 0.0), total)
    den = mu1 * (mu2 - mu3) - mu2 ** 2 + mu3 ** 2  # > 0 when mu1 > mu2 + mu3
    s1 = tau1 * mu1 * (n2m - n3p - (mu2 ** 2 - mu3 ** 2) / mu1 ** 2 * (n1p - s0 / tau0)) / den
    s1 = min(max(s1, 0.0), total - s0)  # Eq. (3)
    return s0, s1, delta


def _v1(errors, mus, ps, eps, tau1):
    """Eq. (4): upper bound on single-photon bit errors.  Returns (v1, delta)."""
    _, mu2, mu3 = mus
    total = sum(errors)
    delta = hoeffding_delta(total, eps)
    m2p, _ = _bracket(errors[1], total, mu2, ps[1], delta)
    _, m3m = _bracket(errors[2], total, mu3, ps[2], delta)
    # v_{Z,1} <= m_Z always (single-photon errors are a subset of all errors).
    return min(max(tau1 * (m2p - m3m) / (mu2 - mu3), 0.0), total), delta


# --------------------------------------------------------------------------
# key length, Eq. (1)
# --------------------------------------------------------------------------
def finite_key_length(
    n_x,
    n_z,
    m_x,
    m_z,
    intensities,
    intensity_probs,
    leak_ec_bits,
    eps_sec,
    eps_cor,
) -> FiniteKeyResult:
    """Secret key length of three-intensity decoy BB84 (Lim et al. 2014, Eq. (1)).

    Parameters
    ----------
    n_x, n_z : 3 non-negative numbers
        Detections per intensity (mu1, mu2, mu3) in the X-X and Z-Z basis
        pairs.  Observed counts are integers; expected (model) counts may be
        non-integral, as in the paper's Fig. 1.
    m_x, m_z : 3 non-negative numbers, m <= n per intensity
        Bit errors among those detections.
    intensities : (mu1, mu2, mu3) with mu1 > mu2 + mu3 and mu2 > mu3 >= 0
    intensity_probs : (p1, p2, p3), each in (0, 1], summing to 1
    leak_ec_bits : >= 0
        lambda_EC, bits revealed by error correction (see
        :func:`ec_leakage_estimate`).
    eps_sec, eps_cor : in (0, 1)
        Secrecy and correctness parameters.
    """
    mus, ps = _check_intensities(intensities, intensity_probs)
    n_x = _check_counts("n_x", n_x)
    n_z = _check_counts("n_z", n_z)
    m_x = _check_counts("m_x", m_x)
    m_z = _check_counts("m_z", m_z)
    for name, ms, ns in (("m_x", m_x, n_x), ("m_z", m_z, n_z)):
        nname = "n" + name[1:]
        for i, (m, n) in enumerate(zip(ms, ns)):
            if m > n:
                raise ValueError(
                    f"{name}[{i}] = {m} is out of range: must be <= {nname}[{i}] = {n}"
                )
    leak = check_real("leak_ec_bits", leak_ec_bits, lo=0.0)
    eps_sec = _check_eps("eps_sec", eps_sec)
    eps_cor = _check_eps("eps_cor", eps_cor)

    eps = eps_sec / EPS_TERMS
    tau0 = _tau(0, mus, ps)
    tau1 = _tau(1, mus, ps)
    nx_tot, nz_tot = sum(n_x), sum(n_z)
    mx_tot, mz_tot = sum(m_x), sum(m_z)
    qber_x = mx_tot / nx_tot if nx_tot > 0 else 0.0
    qber_z = mz_tot / nz_tot if nz_tot > 0 else 0.0

    s_x0, s_x1, d_nx = _s0_s1(n_x, mus, ps, eps, tau0, tau1)
    s_z0, s_z1, d_nz = _s0_s1(n_z, mus, ps, eps, tau0, tau1)
    v_z1, d_mz = _v1(m_z, mus, ps, eps, tau1)

    sec_bits = 6.0 * math.log2(EPS_TERMS / eps_sec)
    cor_bits = math.log2(2.0 / eps_cor)

    reason = None
    phi_x = 0.5
    if nz_tot == 0:
        reason = "no detections in the Z basis"
    elif nx_tot == 0:
        reason = "no detections in the X basis"
    elif s_z1 <= 0.0:
        reason = "no single-photon events certified in the Z basis: s_z1 lower bound is 0"
    elif s_x1 <= 0.0:
        reason = "no single-photon events certified in the X basis: s_x1 lower bound is 0"
    else:
        b = v_z1 / s_z1
        if b >= 0.5:
            reason = f"phase error bound phi_x >= 0.5 (v_z1/s_z1 = {b:.4g})"
        else:
            # b = 0 happens only with m_z = 0, where the gamma formula collapses
            # to its limit 0; evaluate gamma as if one error had been seen
            # (gamma is increasing in b for b < 1/2), which is conservative.
            b_eval = b if b > 0.0 else min(1.0 / s_z1, 0.25)
            phi_x = b + sampling_gamma(eps_sec, b_eval, s_z1, s_x1)  # Eq. (5)
            if phi_x >= 0.5:
                reason = f"phase error bound phi_x >= 0.5 (phi_x = {phi_x:.4g})"
                phi_x = 0.5

    # Eq. (1); after an earlier abort it is evaluated with phi_x = 1/2 and only
    # reported (key_length_raw), never used as a key length.
    raw = s_x0 + s_x1 - s_x1 * binary_entropy(phi_x) - leak - sec_bits - cor_bits
    ell = 0
    if reason is None:
        ell = int(math.floor(raw))
        if ell <= 0:
            reason = f"no positive key length: l = {ell} bits"
            ell = 0

    return FiniteKeyResult(
        key_length=ell,
        aborted=reason is not None,
        abort_reason=reason,
        key_length_raw=float(raw),
        n_x_total=float(nx_tot),
        n_z_total=float(nz_tot),
        m_x_total=float(mx_tot),
        m_z_total=float(mz_tot),
        qber_x=float(qber_x),
        qber_z=float(qber_z),
        tau0=tau0,
        tau1=tau1,
        delta_n_x=d_nx,
        delta_n_z=d_nz,
        delta_m_z=d_mz,
        s_x0=s_x0,
        s_x1=s_x1,
        s_z0=s_z0,
        s_z1=s_z1,
        v_z1=v_z1,
        phi_x=phi_x,
        leak_ec_bits=leak,
        eps_sec=eps_sec,
        eps_cor=eps_cor,
        eps_sec_bits=sec_bits,
        eps_cor_bits=cor_bits,
    )


# --------------------------------------------------------------------------
# the paper's example system, Sec. IV
# --------------------------------------------------------------------------
def lim2014_expected_counts(
    n_pulses,
    length_km,
    q_x,
    intensities,
    intensity_probs,
    *,
    eta_det=LIM2014_SYSTEM["eta_det"],
    p_dc=LIM2014_SYSTEM["p_dc"],
    p_ap=LIM2014_SYSTEM["p_ap"],
    alpha_db_per_km=LIM2014_SYSTEM["alpha_db_per_km"],
    e_mis=LIM2014_SYSTEM["e_mis"],
    error_model="eta_sys",
) -> dict:
    """Expected counts of the Lim et al. 2014 Sec. IV fibre model.

    eta_ch = 10^(-alpha L / 10), eta_sys = eta_ch * eta_det,
    D_k = 1 - (1 - 2 p_dc) exp(-eta_sys k)       (detection, no after-pulses)
    R_k = D_k (1 + p_ap)                          (detection probability)
    e_k = p_dc + e_mis (1 - exp(-eta_sys k)) + p_ap D_k / 2  (error probability)

    The paper prints eta_ch (not eta_sys) in the misalignment term of e_k.
    Taken literally, misalignment errors would occur on photons that Bob never
    detects and the misalignment QBER would be e_mis / eta_det = 5 % instead of
    0.5 %.  With eta_sys the model reproduces the paper's Fig. 1 statements
    (rate ratio n_X = 1e9 vs 1e7 at 100 km "about 1.75": 1.69 here, 2.7 with
    eta_ch; n_X = 1e4 reaches ~129 km here against the published 135 km,
    while with eta_ch it has no key already at 100 km), so eta_sys is the
    default.  ``error_model="eta_ch_as_printed"`` gives the literal formula.

    Alice and Bob each pick X with probability q_x, so
    n_{X,k} = N q_x^2 p_k R_k, m_{X,k} = N q_x^2 p_k e_k and the same with
    (1 - q_x)^2 for Z.

    Returns a dict with lists ``n_x, n_z, m_x, m_z`` (one entry per
    intensity), ``detection_prob`` (R_k), ``error_prob`` (e_k), ``eta_ch`` and
    ``eta_sys``.
    """
    n_pulses = check_real("n_pulses", n_pulses, lo=0.0)
    length_km = check_real("length_km", length_km, lo=0.0)
    q_x = check_prob("q_x", q_x)
    mus, ps = _check_intensities(intensities, intensity_probs)
    eta_det = check_prob("eta_det", eta_det)
    p_dc = check_real("p_dc", p_dc, 0.0, 0.5)
    p_ap = check_prob("p_ap", p_ap)
    alpha = check_real("alpha_db_per_km", alpha_db_per_km, lo=0.0)
    e_mis = check_prob("e_mis", e_mis)
    error_model = check_choice("error_model", error_model, ("eta_sys", "eta_ch_as_printed"))

    eta_ch = 10.0 ** (-alpha * length_km / 10.0)
    eta_sys = eta_ch * eta_det
    eta_mis = eta_sys if error_model == "eta_sys" else eta_ch
    det, err = [], []
    for k in mus:
        d_k = 1.0 - (1.0 - 2.0 * p_dc) * math.exp(-eta_sys * k)
        det.append(d_k * (1.0 + p_ap))
        err.append(p_dc + e_mis * (1.0 - math.exp(-eta_mis * k)) + p_ap * d_k / 2.0)
    wx, wz = n_pulses * q_x * q_x, n_pulses * (1.0 - q_x) ** 2
    return {
        "n_x": [wx * p * r for p, r in zip(ps, det)],
        "n_z": [wz * p * r for p, r in zip(ps, det)],
        "m_x": [wx * p * e for p, e in zip(ps, err)],
        "m_z": [wz * p * e for p, e in zip(ps, err)],
        "detection_prob": det,
        "error_prob": err,
        "eta_ch": eta_ch,
        "eta_sys": eta_sys,
    }


def lim2014_key_rate(
    n_x_block,
    length_km,
    q_x,
    intensities,
    intensity_probs,
    *,
    f_ec=LIM2014_SYSTEM["f_ec"],
    kappa=LIM2014_SYSTEM["kappa"],
    eps_cor=LIM2014_SYSTEM["eps_cor"],
    eps_sec=None,
    **system,
) -> dict:
    """Secret key rate per pulse l/N for a post-processing block of n_X bits.

    Follows Lim et al. Sec. IV: N is the number of pulses needed for the
    expected X-basis detections to reach ``n_x_block`` (N = n_X / (q_x^2
    sum_k p_k R_k)), lambda_EC = f_EC n_X h(e_obs) with e_obs = m_X / n_X
    (not rounded up, as in the paper), and eps_sec = kappa * l solved as a
    fixed point (the largest l with l = l(eps_sec = kappa l)).  Pass
    ``eps_sec`` to fix it instead.  ``system`` overrides the example-system
    keys of :func:`lim2014_expected_counts`.

    Returns {"rate": l/N, "key_length", "n_pulses", "eps_sec", "result"}.
    """
    n_x_block = check_real("n_x_block", n_x_block, lo=0.0, lo_open=True)
    q_x = check_prob("q_x", q_x, lo_open=True)
    f_ec = check_real("f_ec", f_ec, lo=1.0)
    kappa = check_real("kappa", kappa, lo=0.0, lo_open=True)
    counts1 = lim2014_expected_counts(1.0, length_km, q_x, intensities, intensity_probs, **system)
    per_pulse_x = sum(counts1["n_x"])
    n_pulses = n_x_block / per_pulse_x
    c = lim2014_expected_counts(n_pulses, length_km, q_x, intensities, intensity_probs, **system)
    e_obs = sum(c["m_x"]) / sum(c["n_x"])
    leak = f_ec * n_x_block * binary_entropy(e_obs)

    def run(eps):
        return finite_key_length(c["n_x"], c["n_z"], c["m_x"], c["m_z"], intensities,
                                 intensity_probs, leak, eps, eps_cor)

    if eps_sec is not None:
        res = run(eps_sec)
    else:
        # l(eps) is increasing in eps; starting from l_0 = n_X >= l the
        # sequence l_{i+1} = l(kappa l_i) decreases to the largest fixed point.
        ell = n_x_block
        res = None
        for _ in range(60):
            eps_sec = min(kappa * ell, 0.5)
            res = run(eps_sec)
            if res.key_length <= 0:
                break
            if ell - res.key_length_raw < 1e-6 * ell + 1.0:
                break
            ell = res.key_length_raw
    return {
        "rate": res.key_length / n_pulses,
        "key_length": res.key_length,
        "n_pulses": n_pulses,
        "eps_sec": eps_sec,
        "result": res,
    }
