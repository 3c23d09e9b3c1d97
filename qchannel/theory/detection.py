"""The exact detection model of the decoy-BB84 Monte Carlo, in closed form.

Phase-randomised weak coherent pulses, active or passive basis choice, dark
counts, misalignment, double-click squashing and steady-state afterpulsing:
:func:`detection_stats`, :func:`fock_stats`, :func:`afterpulse_click_probs`.
Approximations kept for reference: :func:`lim_detection_model` ([Lim14]'s own
model) and :func:`dead_time_factor` (the Monte Carlo's dead time is not in the
exact model).

[Lim14]  C. C. W. Lim, M. Curty, N. Walenta, F. Xu, H. Zbinden, "Concise
         security bounds for practical decoy-state quantum key distribution",
         Phys. Rev. A 89, 022307 (2014).
[LMC05]  H.-K. Lo, X. Ma, K. Chen, "Decoy state quantum key distribution",
         Phys. Rev. Lett. 94, 230504 (2005).
"""
import math
from dataclasses import dataclass, fields
from itertools import product

import numpy as np

from qchannel.params import (check_choice, check_distribution, check_int, check_prob, check_real,
                             check_real_list)
from qchannel.theory.common import as_scalar, check_array, check_dark_count_prob, safe_div

__all__ = [
    "DetectionStats", "detection_stats", "fock_stats", "afterpulse_click_probs",
    "lim_detection_model", "dead_time_factor", "BASIS_CHOICES",
]

BASIS_CHOICES = ("active", "passive")


# --------------------------------------------------------------------------
# exact detection model
# --------------------------------------------------------------------------
# Detector routing.  For each (mode, Alice's basis a, Bob's basis b) a list of
# routing fractions r_j: the probability that one transmitted photon that
# reaches Bob (i.e. survives eta) lands on detector j.  Detector 0 of a pair is
# the one for Alice's bit value ("correct"), detector 1 the other one.
#   active, b == a : (1 - e, e);   active, b != a : (1/2, 1/2)
#   passive (a given): X pair gets p_X, Z pair 1 - p_X, within a pair the
#   active rule relative to a.  Detectors ordered (Xc, Xw, Zc, Zw).
def _routes(mode, a, b, e, p_x):
    if mode == "active":
        return ((1.0 - e, e) if a == b else (0.5, 0.5))
    px, pz = p_x, 1.0 - p_x
    x_pair = (px * (1.0 - e), px * e) if a == "X" else (0.5 * px, 0.5 * px)
    z_pair = (pz * (1.0 - e), pz * e) if a == "Z" else (0.5 * pz, 0.5 * pz)
    return x_pair + z_pair


def _patterns_coherent(mu_eta, routes, log1m_d):
    """P(click pattern) for a phase-randomised coherent state.

    Poisson splitting makes the detectors independent: detector j clicks with
    c_j = 1 - (1 - d_j) exp(-mu eta r_j), d_j its background click probability.
    Returns {bitmask: array}; computed with expm1 so tiny probabilities keep
    full relative precision.
    """
    log_off = [lm + (-mu_eta * r) for r, lm in zip(routes, log1m_d)]
    off = [np.exp(lo) for lo in log_off]
    on = [-np.expm1(lo) for lo in log_off]
    m = len(routes)
    out = {}
    for mask in range(1 << m):
        p = 1.0
        for j in range(m):
            p = p * (on[j] if mask >> j & 1 else off[j])
        out[mask] = p
    return out


def _patterns_fock(n, eta, routes, log1m_d):
    """P(click pattern) for an n-photon Fock state (exact multinomial routing).

    Dynamic programme over photons on the set of detectors hit (all terms
    positive), then each detector not hit still clicks with its background
    probability d_j.
    """
    m = len(routes)
    eta = np.asarray(eta, dtype=float)
    hit = {0: np.ones_like(eta)}
    for _ in range(n):
        new = {}
        for s, p in hit.items():
            new[s] = new.get(s, 0.0) + p * (1.0 - eta)
            for j, r in enumerate(routes):
                t = s | (1 << j)
                new[t] = new.get(t, 0.0) + p * eta * r
        hit = new
    d = [-np.expm1(lm) for lm in log1m_d]
    off = [np.exp(lm) for lm in log1m_d]
    out = {}
    for mask in range(1 << m):
        total = 0.0
        for s, p in hit.items():
            if s & ~mask:
                continue  # a hit detector always clicks
            term = p
            for j in range(m):
                if mask >> j & 1:
                    if not s >> j & 1:
                        term = term * d[j]
                else:
                    term = term * off[j]
            total = total + term
        out[mask] = total
    return out


def _sift_active(pat):
    """Two detectors (c = bit of Alice, w = other): (P(detection), P(detection & error))."""
    det = pat[0b01] + pat[0b10] + pat[0b11]
    err = pat[0b10] + 0.5 * pat[0b11]       # w alone, or a double click -> random bit
    return det, err


def _passive_weights():
    """For each 4-detector pattern (Xc, Xw, Zc, Zw): (w_X, w_Z, err_X, err_Z).

    w_b: probability Bob assigns basis b (clicks in both pairs -> uniform);
    err_b: probability the resulting bit is wrong given basis b, relative to
    the pair's "correct" detector (double click within the pair -> 1/2)."""
    out = {}
    for mask in range(16):
        x, z = mask & 0b0011, (mask >> 2) & 0b0011
        if x and z:
            wx = wz = 0.5
        else:
            wx, wz = float(bool(x)), float(bool(z))
        ex = {0: 0.0, 0b01: 0.0, 0b10: 1.0, 0b11: 0.5}[x]
        ez = {0: 0.0, 0b01: 0.0, 0b10: 1.0, 0b11: 0.5}[z]
        out[mask] = (wx, wz, ex, ez)
    return out


_PASSIVE_W = _passive_weights()


def _joint(patterns_for, mode, p_x):
    """Joint outcome probabilities per Alice basis a in {X, Z}.

    Returns J[a] = {"det": {b: P(det, Bob basis b | a)}, "err": {b: P(det, b, error | a)}}
    (error = Bob's bit differs from Alice's) and, for the active scheme, the
    conditional quantities ``cond[a][b] = (P(det | a, b), P(det & err | a, b))``
    which stay defined when P(b) = 0.
    """
    pb = {"X": p_x, "Z": 1.0 - p_x}
    J, cond = {}, {}
    for a in ("X", "Z"):
        if mode == "active":
            J[a] = {"det": {}, "err": {}}
            cond[a] = {}
            for b in ("X", "Z"):
                det, err = _sift_active(patterns_for(a, b))
                cond[a][b] = (det, err)
                J[a]["det"][b] = pb[b] * det
                J[a]["err"][b] = pb[b] * err
        else:
            pat = patterns_for(a, None)
            dx = dz = ex = ez = 0.0
            for mask, p in pat.items():
                wx, wz, erx, erz = _PASSIVE_W[mask]
                if wx:
                    dx = dx + wx * p
                    ex = ex + wx * erx * p
                if wz:
                    dz = dz + wz * p
                    ez = ez + wz * erz * p
            J[a] = {"det": {"X": dx, "Z": dz}, "err": {"X": ex, "Z": ez}}
            cond[a] = None
    return J, cond


def _cond_basis(J, cond, a, mode, p_x):
    """(yield, error-rate) for Alice basis a measured by Bob in basis a,
    normalised by P(Bob's basis = a) (active: the conditional probability)."""
    if mode == "active":
        det, err = cond[a][a]
        return det, safe_div(err, det)
    pb = p_x if a == "X" else 1.0 - p_x
    det = J[a]["det"][a]
    return safe_div(det, pb), safe_div(J[a]["err"][a], det)


def _validate_model(eta, misalignment, dark_count_prob, afterpulse_prob, key_basis_prob,
                    basis_choice):
    eta = check_array("eta", eta, 0.0, 1.0)
    e = check_real("misalignment", misalignment, 0.0, 0.5)
    pdc = check_dark_count_prob("dark_count_prob", dark_count_prob)
    pap = check_prob("afterpulse_prob", afterpulse_prob)
    p_x = check_prob("key_basis_prob", key_basis_prob, lo_open=True)
    check_choice("basis_choice", basis_choice, BASIS_CHOICES)
    return np.asarray(eta, dtype=float), e, pdc, pap, p_x


def _validate_source(intensities, intensity_probs):
    seq = [intensities] if np.ndim(intensities) == 0 else list(intensities)
    mus = check_real_list("intensities", seq, 0.0, 100.0)
    if intensity_probs is None:
        probs = tuple(1.0 / len(mus) for _ in mus)
    else:
        seq = [intensity_probs] if np.ndim(intensity_probs) == 0 else list(intensity_probs)
        probs = check_distribution("intensity_probs", seq, len(mus), "intensities")
    return np.asarray(mus, dtype=float), np.asarray(probs, dtype=float)


def _afterpulse(mus, probs, eta, e, pdc, pap, p_x, mode):
    """Steady-state afterpulse click probability per slot, A = p_ap * abar,
    for (X-pair / active detectors, Z-pair detectors); shapes of ``eta``."""
    if pap == 0.0:
        z = np.zeros_like(eta)
        return z, z
    mu_eta = eta[..., None] * mus               # (..., K)
    l1 = math.log1p(-pdc)
    prim = lambda r: -np.expm1(l1 - mu_eta * r)  # noqa: E731  primary click prob
    pa = {"X": p_x, "Z": 1.0 - p_x}
    if mode == "active":
        tot = 0.0
        for a, b in product("XZ", "XZ"):
            rc, rw = _routes(mode, a, b, e, p_x)
            tot = tot + pa[a] * pa[b] * 0.5 * (prim(rc) + prim(rw))
        abar = (tot * probs).sum(axis=-1)
        return pap * abar, pap * abar
    abar_x = abar_z = 0.0
    for a in "XZ":
        r = _routes(mode, a, None, e, p_x)
        abar_x = abar_x + pa[a] * 0.5 * (prim(r[0]) + prim(r[1]))
        abar_z = abar_z + pa[a] * 0.5 * (prim(r[2]) + prim(r[3]))
    return pap * (abar_x * probs).sum(axis=-1), pap * (abar_z * probs).sum(axis=-1)


def afterpulse_click_probs(intensities, eta, misalignment, dark_count_prob, afterpulse_prob,
                           key_basis_prob=0.5, basis_choice="active", intensity_probs=None):
    """Steady-state probability that a detector fires an afterpulse in a slot.

    Each primary click (signal or dark) triggers, with probability
    ``afterpulse_prob``, exactly one afterpulse of the same detector in a later
    slot, without cascades ([Lim14]'s model).  At steady state and with no dead
    time, a detector therefore fires an afterpulse in any slot with
    probability ``A = afterpulse_prob * abar``, where ``abar`` is its primary
    click probability averaged over all slots (all intensities, bases, bits).

    Returns ``(A_x, A_z)``: for the active scheme both are the value of the
    two detectors; for the passive scheme, the X-pair and Z-pair values.
    """
    eta, e, pdc, pap, p_x = _validate_model(eta, misalignment, dark_count_prob, afterpulse_prob,
                                            key_basis_prob, basis_choice)
    mus, probs = _validate_source(intensities, intensity_probs)
    ax, az = _afterpulse(mus, probs, eta, e, pdc, pap, p_x, basis_choice)
    return as_scalar(ax), as_scalar(az)


@dataclass(frozen=True)
class DetectionStats:
    """Expected detection statistics of the exact model.

    Per-intensity fields have shape ``eta.shape + (K,)``; the others have
    ``eta.shape`` (floats for scalar ``eta``).

    intensities      the K mean photon numbers.
    gain             P(detection | k): at least one click, any bases.
    gain_xx, gain_zz P(detection with Bob's basis = b | k, Alice's basis = b)
                     divided by P(Bob's basis = b) (= key_basis_prob for X).
                     Active: exactly P(detection | k, a = b_Bob = b).  With this
                     normalisation the sifted X rate per pulse of intensity k is
                     ``key_basis_prob**2 * gain_xx``.
    qber_x, qber_z   P(error | detection, k, both bases b).
    qber             sifted QBER of intensity k (both bases together).
    qber_mismatch    P(Bob's bit != Alice's | detection, k, bases differ): 1/2.
    sifted_gain      P(detection and bases agree | k).
    qber_overall, qber_x_overall, qber_z_overall
                     the same error rates over all intensities (weights p_k).
    yield0_x/z, yield1_x/z, error1_x/z
                     exact vacuum and single-photon yields (same normalisation
                     as gain_xx) and single-photon error rates.
    afterpulse_click_prob_x/z
                     steady-state afterpulse probability per slot of an X-pair
                     (active: every) detector and of a Z-pair detector.
    """

    intensities: np.ndarray
    intensity_probs: np.ndarray
    gain: np.ndarray
    gain_xx: np.ndarray
    gain_zz: np.ndarray
    qber_x: np.ndarray
    qber_z: np.ndarray
    qber: np.ndarray
    qber_mismatch: np.ndarray
    sifted_gain: np.ndarray
    qber_overall: object
    qber_x_overall: object
    qber_z_overall: object
    yield0_x: object
    yield0_z: object
    yield1_x: object
    yield1_z: object
    error1_x: object
    error1_z: object
    afterpulse_click_prob_x: object
    afterpulse_click_prob_z: object

    def to_dict(self):
        """JSON-able dict (lists and floats; nan -> None)."""
        def conv(v):
            v = np.asarray(v, dtype=float)
            if v.ndim == 0:
                f = float(v)
                return None if math.isnan(f) else f
            return [conv(x) for x in v]
        return {f.name: conv(getattr(self, f.name)) for f in fields(self)}


def _stats_for(patterns_for, mode, p_x):
    """Reduce joint outcome probabilities to (gain, yields, errors, sifted...)."""
    J, cond = _joint(patterns_for, mode, p_x)
    pa = {"X": p_x, "Z": 1.0 - p_x}
    gain = sum(pa[a] * (J[a]["det"]["X"] + J[a]["det"]["Z"]) for a in "XZ")
    yx, ex = _cond_basis(J, cond, "X", mode, p_x)
    yz, ez = _cond_basis(J, cond, "Z", mode, p_x)
    sift_det = pa["X"] * J["X"]["det"]["X"] + pa["Z"] * J["Z"]["det"]["Z"]
    sift_err = pa["X"] * J["X"]["err"]["X"] + pa["Z"] * J["Z"]["err"]["Z"]
    mis_det = pa["X"] * J["X"]["det"]["Z"] + pa["Z"] * J["Z"]["det"]["X"]
    mis_err = pa["X"] * J["X"]["err"]["Z"] + pa["Z"] * J["Z"]["err"]["X"]
    jx = (pa["X"] * J["X"]["det"]["X"], pa["X"] * J["X"]["err"]["X"])
    jz = (pa["Z"] * J["Z"]["det"]["Z"], pa["Z"] * J["Z"]["err"]["Z"])
    return dict(gain=gain, yx=yx, ex=ex, yz=yz, ez=ez, sift_det=sift_det, sift_err=sift_err,
                mis_det=mis_det, mis_err=mis_err, jx=jx, jz=jz)


def _log1m_backgrounds(mode, pdc, ax, az):
    l1 = math.log1p(-pdc)
    lx, lz = l1 + np.log1p(-ax), l1 + np.log1p(-az)
    return (lx, lx) if mode == "active" else (lx, lx, lz, lz)


def detection_stats(intensities, eta, misalignment, dark_count_prob, afterpulse_prob=0.0,
                    key_basis_prob=0.5, basis_choice="active", intensity_probs=None):
    """Exact expected detection statistics of the Monte Carlo's decoy-BB84 model.

    Parameters
    ----------
    intensities : float or sequence of float
        Mean photon numbers mu_k of the source (signal first).  All of them are
        needed even for one intensity's statistics because the afterpulse
        background is an average over every slot.
    eta : float or array
        Overall transmittance channel * detector efficiency (``eta_ch*eta_d``),
        in [0, 1]; arrays broadcast (a distance sweep in one call).
    misalignment : float
        e_mis in [0, 0.5]: probability that a photon ends in the wrong
        detector when the bases match.
    dark_count_prob : float
        p_dc per gate per detector, in [0, 1).
    afterpulse_prob : float
        p_ap: probability that a primary click triggers one afterpulse later.
    key_basis_prob : float
        p_X in (0, 1]: Alice's (and, active, Bob's) probability of X; passive:
        the beam splitter's ratio to the X pair.
    basis_choice : "active" | "passive"
        Two detectors and a random basis, or four detectors behind a beam
        splitter (Bob's basis = the pair that clicked; clicks in both pairs ->
        uniform choice).
    intensity_probs : sequence of float, optional
        p_k (default uniform); only used for the afterpulse average and the
        ``*_overall`` rates.

    Model
    -----
    Detector j receives Poisson(mu eta r_j) photons independently of the
    others (r_j: routing fraction, see ``_routes``), so its primary click
    probability is a_j = 1 - (1 - p_dc) exp(-mu eta r_j).  Afterpulses add an
    independent click probability A_j per slot (:func:`afterpulse_click_probs`)
    and the effective click probability is 1 - (1 - a_j)(1 - A_j).  A double
    click within Bob's basis gives a random bit (squashing).  Without
    afterpulses the gain is 1 - (1-p_dc)^2 e^{-mu eta} (active) or
    1 - (1-p_dc)^4 e^{-mu eta} (passive).  Dead time is not modelled
    (:func:`dead_time_factor` gives a first-order correction).

    Returns
    -------
    DetectionStats
    """
    eta, e, pdc, pap, p_x = _validate_model(eta, misalignment, dark_count_prob, afterpulse_prob,
                                            key_basis_prob, basis_choice)
    mus, probs = _validate_source(intensities, intensity_probs)
    mode = basis_choice
    ax, az = _afterpulse(mus, probs, eta, e, pdc, pap, p_x, mode)
    log1m_d = _log1m_backgrounds(mode, pdc, ax, az)
    mu_eta = eta[..., None] * mus
    lbk = tuple(np.asarray(l)[..., None] for l in log1m_d)

    coh = _stats_for(lambda a, b: _patterns_coherent(mu_eta, _routes(mode, a, b, e, p_x), lbk),
                     mode, p_x)
    s0 = _stats_for(lambda a, b: _patterns_fock(0, eta, _routes(mode, a, b, e, p_x), log1m_d),
                    mode, p_x)
    s1 = _stats_for(lambda a, b: _patterns_fock(1, eta, _routes(mode, a, b, e, p_x), log1m_d),
                    mode, p_x)

    def overall(det_err):
        det, err = det_err
        det = np.broadcast_to(det, mu_eta.shape)
        err = np.broadcast_to(err, mu_eta.shape)
        return as_scalar(safe_div((err * probs).sum(-1), (det * probs).sum(-1)))

    bshape = mu_eta.shape
    bc = lambda v: np.broadcast_to(np.asarray(v, dtype=float), bshape).copy()  # noqa: E731
    return DetectionStats(
        intensities=mus, intensity_probs=probs,
        gain=bc(coh["gain"]), gain_xx=bc(coh["yx"]), gain_zz=bc(coh["yz"]),
        qber_x=bc(coh["ex"]), qber_z=bc(coh["ez"]),
        qber=bc(safe_div(coh["sift_err"], coh["sift_det"])),
        qber_mismatch=bc(safe_div(coh["mis_err"], coh["mis_det"])),
        sifted_gain=bc(coh["sift_det"]),
        qber_overall=overall((coh["sift_det"], coh["sift_err"])),
        qber_x_overall=overall(coh["jx"]), qber_z_overall=overall(coh["jz"]),
        yield0_x=as_scalar(s0["yx"]), yield0_z=as_scalar(s0["yz"]),
        yield1_x=as_scalar(s1["yx"]), yield1_z=as_scalar(s1["yz"]),
        error1_x=as_scalar(s1["ex"]), error1_z=as_scalar(s1["ez"]),
        afterpulse_click_prob_x=as_scalar(ax), afterpulse_click_prob_z=as_scalar(az),
    )


def fock_stats(n, eta, misalignment, dark_count_prob, key_basis_prob=0.5, basis_choice="active",
               afterpulse_click_prob=(0.0, 0.0)):
    """Exact yield and error rate of an n-photon state in this model.

    Each of the n photons independently reaches detector j with probability
    eta r_j (or is lost); a detector clicks if hit, or with its background
    probability 1 - (1-p_dc)(1-A).  ``afterpulse_click_prob`` = (A_x, A_z) from
    :func:`afterpulse_click_probs` (a float means the same for both).  For the
    active scheme without afterpulses ``yield_x = Y0 + eta_n - Y0 eta_n`` with
    Y0 = 1-(1-p_dc)^2, eta_n = 1-(1-eta)^n, as in [LMC05].

    Returns dict(yield_x, error_x, yield_z, error_z); yields normalised as
    ``gain_xx`` in :func:`detection_stats`.
    """
    n = check_int("n", n, 0, 1000)
    eta, e, pdc, _, p_x = _validate_model(eta, misalignment, dark_count_prob, 0.0,
                                          key_basis_prob, basis_choice)
    if np.ndim(afterpulse_click_prob) == 0:
        afterpulse_click_prob = (afterpulse_click_prob, afterpulse_click_prob)
    ax = check_array("afterpulse_click_prob[0]", afterpulse_click_prob[0], 0.0, 1.0, hi_open=True)
    az = check_array("afterpulse_click_prob[1]", afterpulse_click_prob[1], 0.0, 1.0, hi_open=True)
    mode = basis_choice
    log1m_d = _log1m_backgrounds(mode, pdc, np.asarray(ax), np.asarray(az))
    s = _stats_for(lambda a, b: _patterns_fock(n, eta, _routes(mode, a, b, e, p_x), log1m_d),
                   mode, p_x)
    return {"yield_x": as_scalar(s["yx"]), "error_x": as_scalar(s["ex"]),
            "yield_z": as_scalar(s["yz"]), "error_z": as_scalar(s["ez"])}


# --------------------------------------------------------------------------
# approximations kept for reference
# --------------------------------------------------------------------------
def lim_detection_model(intensity, eta_ch, eta_det, dark_count_prob, afterpulse_prob,
                        misalignment):
    """[Lim14]'s own (approximate) detection model, Sec. IV, as printed:

        D_k = 1 - (1 - 2 p_dc) exp(-eta_sys k)        (detection rate, no afterpulses)
        R_k = D_k (1 + p_ap)                           (with afterpulses)
        e_k = p_dc + e_mis [1 - exp(-eta_ch k)] + p_ap D_k / 2

    with eta_sys = eta_ch * eta_Bob.  e_k is the probability *per pulse* of an
    erroneous detection ([Lim14] sets m_{X,k} proportional to e_k), so the
    QBER is e_k / R_k.  Note that the misalignment term uses the channel
    transmittance eta_ch as printed in the paper (the physically expected
    eta_sys makes it smaller by eta_Bob); the exact model is
    :func:`detection_stats`.  Vectorised over ``intensity`` and ``eta_ch``.

    Returns dict(detection_rate=D_k, detection_rate_ap=R_k, error_rate=e_k,
    qber=e_k/R_k).
    """
    k = check_array("intensity", intensity, 0.0)
    eta_ch = check_array("eta_ch", eta_ch, 0.0, 1.0)
    eta_det = check_prob("eta_det", eta_det)
    pdc = check_real("dark_count_prob", dark_count_prob, 0.0, 0.5)
    pap = check_prob("afterpulse_prob", afterpulse_prob)
    e = check_real("misalignment", misalignment, 0.0, 0.5)
    k, eta_ch = np.asarray(k), np.asarray(eta_ch)
    d = 1.0 - (1.0 - 2.0 * pdc) * np.exp(-eta_ch * eta_det * k)
    r = d * (1.0 + pap)
    err = pdc + e * (-np.expm1(-eta_ch * k)) + pap * d / 2.0
    return {"detection_rate": as_scalar(d), "detection_rate_ap": as_scalar(r),
            "error_rate": as_scalar(err), "qber": as_scalar(safe_div(err, r))}


def dead_time_factor(click_prob_per_gate, dead_gates):
    """First-order dead-time correction ``1 / (1 + click_prob_per_gate * dead_gates)``.

    Non-paralysable detector: with a click probability ``c`` per gate and
    ``dead_gates`` blind gates after each click, the detector is live a
    fraction ~ 1/(1 + c * dead_gates) of the gates (standard non-paralysable
    counter formula, rate_obs = rate/(1 + rate*tau)).  This is an
    *approximation* (it ignores that the blind fraction depends on which
    intensity/basis was sent and on afterpulses); :func:`detection_stats` and
    :func:`expect` assume dead time 0.  Vectorised.
    """
    c = check_array("click_prob_per_gate", click_prob_per_gate, 0.0, 1.0)
    g = check_array("dead_gates", dead_gates, 0.0)
    return as_scalar(1.0 / (1.0 + np.asarray(c) * np.asarray(g)))
