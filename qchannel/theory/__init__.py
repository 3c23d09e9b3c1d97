"""Closed-form expectations and bounds: the analytic twin of the Monte Carlo.

Everything here is a plain function of floats (NumPy-vectorised where it is
natural) and this module never imports the Monte Carlo (``qchannel._core``,
``qchannel.runner``, ``qchannel.links``): tests hold one against the other.

Contents
--------
* Channel: :func:`channel_transmittance`.
* Exact detection model of the Monte Carlo (decoy BB84 with phase-randomised
  weak coherent pulses, active or passive basis choice, dark counts,
  misalignment, double-click squashing and steady-state afterpulsing):
  :func:`detection_stats`, :func:`fock_stats`, :func:`afterpulse_click_probs`.
* Approximations kept for reference: :func:`lim_detection_model` (Lim et al.
  2014's own detection model), :func:`dead_time_factor`.
* Asymptotic key rates: :func:`lmc_key_rate` (infinite decoys, Lo, Ma, Chen
  2005), :func:`two_decoy_bounds` (Ma, Qi, Zhao, Lo 2005),
  :func:`gllp_key_rate` (Gottesman, Lo, Lütkenhaus, Preskill 2004), and the
  textbook (Y0, e_d) channel model used in those papers:
  :func:`textbook_gain_qber`, :func:`decoy_rate_textbook`,
  :func:`vacuum_weak_rate_textbook`, :func:`gllp_rate_textbook`.
* Repeaterless limits: :func:`plob_bound`, :func:`tgw_bound`.
* :func:`expect`: everything above for one scenario, as a JSON-able dict,
  with the key rate per pulse in either of two named conventions
  (``CONVENTIONS``: "all-intensities", the Monte Carlo's and [Lim14]'s, or
  "signal-only", the textbook's); :func:`expected_counts`: the expected
  detection and error counts per intensity and basis that the [Lim14]
  finite key takes (used by :mod:`qchannel.optimize`).

References
----------
[LMC05]  H.-K. Lo, X. Ma, K. Chen, "Decoy state quantum key distribution",
         Phys. Rev. Lett. 94, 230504 (2005).
[MQZL05] X. Ma, B. Qi, Y. Zhao, H.-K. Lo, "Practical decoy state for quantum
         key distribution", Phys. Rev. A 72, 012326 (2005).
[GLLP04] D. Gottesman, H.-K. Lo, N. Lütkenhaus, J. Preskill, "Security of
         quantum key distribution with imperfect devices", Quantum Inf.
         Comput. 4, 325 (2004).
[Lim14]  C. C. W. Lim, M. Curty, N. Walenta, F. Xu, H. Zbinden, "Concise
         security bounds for practical decoy-state quantum key distribution",
         Phys. Rev. A 89, 022307 (2014).
[PLOB17] S. Pirandola, R. Laurenza, C. Ottaviani, L. Banchi, "Fundamental
         limits of repeaterless quantum communications", Nat. Commun. 8,
         15043 (2017).
[TGW14]  M. Takeoka, S. Guha, M. M. Wilde, "Fundamental rate-loss tradeoff
         for optical quantum key distribution", Nat. Commun. 5, 5235 (2014).
[GYS04]  C. Gobby, Z. L. Yuan, A. J. Shields, Appl. Phys. Lett. 84, 3762
         (2004): the parameter set (0.21 dB/km, e_d = 3.3 %, Y0 = 1.7e-6,
         eta_Bob = 4.5 %, f = 1.22) used by [LMC05] and [MQZL05].
"""
import math
from dataclasses import dataclass, fields
from itertools import product

import numpy as np

from qchannel.params import check_choice, check_int, check_prob, check_real, check_real_list

__all__ = [
    "channel_transmittance", "h2", "multi_photon_prob",
    "DetectionStats", "detection_stats", "fock_stats", "afterpulse_click_probs",
    "lim_detection_model", "dead_time_factor",
    "lmc_key_rate", "two_decoy_bounds", "gllp_key_rate",
    "textbook_gain_qber", "decoy_rate_textbook", "vacuum_weak_rate_textbook",
    "gllp_rate_textbook",
    "plob_bound", "tgw_bound", "expect", "expected_counts", "CONVENTIONS", "DECOY_METHODS",
]

DECOY_METHODS = ("infinite", "vacuum-weak", "none")
#: What "key rate per pulse" counts (see :func:`expect`).  "all-intensities"
#: is the convention of [Lim14] and of the Monte Carlo (``qchannel run``);
#: "signal-only" that of [GLLP04]/[LMC05]/[MQZL05].
CONVENTIONS = ("all-intensities", "signal-only")
BASIS_CHOICES = ("active", "passive")


# --------------------------------------------------------------------------
# validation helpers (messages come from qchannel.params)
# --------------------------------------------------------------------------
def _check_array(name, value, lo=None, hi=None, lo_open=False, hi_open=False):
    """A real scalar (-> float) or array (-> float ndarray), each entry checked
    with :func:`qchannel.params.check_real` so the message names the entry."""
    if np.ndim(value) == 0:
        if isinstance(value, np.ndarray):
            value = value.item()
        return check_real(name, value, lo, hi, lo_open, hi_open)
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r} must be a number or an array of numbers") from None
    if np.asarray(value).dtype == bool:
        raise ValueError(f"{name} = {value!r} must be a number or an array of numbers")
    flat = arr.ravel()
    bad = ~np.isfinite(flat)
    if lo is not None:
        bad |= (flat < lo) | ((flat == lo) if lo_open else False)
    if hi is not None:
        bad |= (flat > hi) | ((flat == hi) if hi_open else False)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        idx = np.unravel_index(i, arr.shape)
        check_real(f"{name}[{', '.join(map(str, idx))}]", float(flat[i]), lo, hi, lo_open, hi_open)
    return arr


def _pdc(name, value):
    value = check_prob(name, value)
    if value >= 1.0:
        raise ValueError(f"{name} = {value} is out of range: must be in [0, 1)")
    return value


def _div(num, den):
    """num/den with 0/0 -> nan and no warnings."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out[()] if out.ndim == 0 else out


def _scalar(x):
    x = np.asarray(x)
    return x.item() if x.ndim == 0 else x


# --------------------------------------------------------------------------
# channel and small helpers
# --------------------------------------------------------------------------
def channel_transmittance(length_km, attenuation_db_per_km, extra_loss_db=0.0):
    """Fiber transmittance ``10**(-(attenuation_db_per_km*length_km + extra_loss_db)/10)``.

    Vectorised over ``length_km``.  Detector efficiency is *not* included.
    """
    length_km = _check_array("length_km", length_km, 0.0)
    att = check_real("attenuation_db_per_km", attenuation_db_per_km, 0.0)
    extra = check_real("extra_loss_db", extra_loss_db, 0.0)
    return _scalar(10.0 ** (-(att * np.asarray(length_km) + extra) / 10.0))


def h2(x):
    """Binary entropy in bits, vectorised; h2(0) = h2(1) = 0; input clipped to [0, 1]."""
    x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -x * np.log2(x) - (1.0 - x) * np.log2(1.0 - x)
    out = np.where((x <= 0.0) | (x >= 1.0), 0.0, out)
    return _scalar(out)


def multi_photon_prob(mu):
    """P(n >= 2) of a Poisson(mu) source, ``1 - (1 + mu) exp(-mu)``, computed
    without cancellation for small mu."""
    mu = np.asarray(mu, dtype=float)
    # 1 - (1+mu) e^-mu = -expm1(-mu) - mu e^-mu; for small mu use the series.
    small = mu < 1e-3
    series = mu**2 / 2 - mu**3 / 3 + mu**4 / 8 - mu**5 / 30
    direct = -np.expm1(-mu) - mu * np.exp(-mu)
    return _scalar(np.where(small, series, direct))


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
        return det, _div(err, det)
    pb = p_x if a == "X" else 1.0 - p_x
    det = J[a]["det"][a]
    return _div(det, pb), _div(J[a]["err"][a], det)


def _validate_model(eta, misalignment, dark_count_prob, afterpulse_prob, key_basis_prob,
                    basis_choice):
    eta = _check_array("eta", eta, 0.0, 1.0)
    e = check_real("misalignment", misalignment, 0.0, 0.5)
    pdc = _pdc("dark_count_prob", dark_count_prob)
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
        probs = check_real_list("intensity_probs", seq, 0.0, 1.0)
        if len(probs) != len(mus):
            raise ValueError(f"intensity_probs has {len(probs)} entries but intensities has "
                             f"{len(mus)}: they must match")
        if abs(sum(probs) - 1.0) > 1e-9:
            raise ValueError(f"intensity_probs = {list(probs)} must sum to 1 "
                             f"(they sum to {sum(probs):.12g})")
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
    return _scalar(ax), _scalar(az)


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
        return _scalar(_div((err * probs).sum(-1), (det * probs).sum(-1)))

    bshape = mu_eta.shape
    bc = lambda v: np.broadcast_to(np.asarray(v, dtype=float), bshape).copy()  # noqa: E731
    return DetectionStats(
        intensities=mus, intensity_probs=probs,
        gain=bc(coh["gain"]), gain_xx=bc(coh["yx"]), gain_zz=bc(coh["yz"]),
        qber_x=bc(coh["ex"]), qber_z=bc(coh["ez"]),
        qber=bc(_div(coh["sift_err"], coh["sift_det"])),
        qber_mismatch=bc(_div(coh["mis_err"], coh["mis_det"])),
        sifted_gain=bc(coh["sift_det"]),
        qber_overall=overall((coh["sift_det"], coh["sift_err"])),
        qber_x_overall=overall(coh["jx"]), qber_z_overall=overall(coh["jz"]),
        yield0_x=_scalar(s0["yx"]), yield0_z=_scalar(s0["yz"]),
        yield1_x=_scalar(s1["yx"]), yield1_z=_scalar(s1["yz"]),
        error1_x=_scalar(s1["ex"]), error1_z=_scalar(s1["ez"]),
        afterpulse_click_prob_x=_scalar(ax), afterpulse_click_prob_z=_scalar(az),
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
    ax = _check_array("afterpulse_click_prob[0]", afterpulse_click_prob[0], 0.0, 1.0, hi_open=True)
    az = _check_array("afterpulse_click_prob[1]", afterpulse_click_prob[1], 0.0, 1.0, hi_open=True)
    mode = basis_choice
    log1m_d = _log1m_backgrounds(mode, pdc, np.asarray(ax), np.asarray(az))
    s = _stats_for(lambda a, b: _patterns_fock(n, eta, _routes(mode, a, b, e, p_x), log1m_d),
                   mode, p_x)
    return {"yield_x": _scalar(s["yx"]), "error_x": _scalar(s["ex"]),
            "yield_z": _scalar(s["yz"]), "error_z": _scalar(s["ez"])}


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
    k = _check_array("intensity", intensity, 0.0)
    eta_ch = _check_array("eta_ch", eta_ch, 0.0, 1.0)
    eta_det = check_prob("eta_det", eta_det)
    pdc = check_real("dark_count_prob", dark_count_prob, 0.0, 0.5)
    pap = check_prob("afterpulse_prob", afterpulse_prob)
    e = check_real("misalignment", misalignment, 0.0, 0.5)
    k, eta_ch = np.asarray(k), np.asarray(eta_ch)
    d = 1.0 - (1.0 - 2.0 * pdc) * np.exp(-eta_ch * eta_det * k)
    r = d * (1.0 + pap)
    err = pdc + e * (-np.expm1(-eta_ch * k)) + pap * d / 2.0
    return {"detection_rate": _scalar(d), "detection_rate_ap": _scalar(r),
            "error_rate": _scalar(err), "qber": _scalar(_div(err, r))}


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
    c = _check_array("click_prob_per_gate", click_prob_per_gate, 0.0, 1.0)
    g = _check_array("dead_gates", dead_gates, 0.0)
    return _scalar(1.0 / (1.0 + np.asarray(c) * np.asarray(g)))


# --------------------------------------------------------------------------
# key rates
# --------------------------------------------------------------------------
def lmc_key_rate(q, gain, qber, gain1, error1, f_ec):
    """Asymptotic decoy key rate per pulse ([LMC05] Eq. (1), GLLP form):

        R = q { -Q_mu f H2(E_mu) + Q1 [1 - H2(e1)] },   clipped at 0,

    Q1 = Y1 mu exp(-mu) the single-photon gain, e1 the single-photon (phase)
    error rate, q the sifting factor.  e1 >= 1/2 gives no key from single
    photons.  Vectorised."""
    q = check_prob("q", q)
    f_ec = check_real("f_ec", f_ec, 0.0)
    gain, qber = np.asarray(gain, dtype=float), np.asarray(qber, dtype=float)
    gain1, error1 = np.asarray(gain1, dtype=float), np.asarray(error1, dtype=float)
    e1 = np.clip(error1, 0.0, 0.5)
    r = q * (-gain * f_ec * h2(qber) + np.maximum(gain1, 0.0) * (1.0 - h2(e1)))
    r = np.where(np.isfinite(r), r, 0.0)
    return _scalar(np.maximum(r, 0.0))


def two_decoy_bounds(mu, nu1, nu2, gain_mu, gain_nu1, gain_nu2, qber_nu1, qber_nu2):
    """Lower bounds on Y0 and Y1 and upper bound on e1 from one signal and two
    decoys, [MQZL05] Sec. IV (general two-decoy case, nu1 > nu2 >= 0,
    nu1 + nu2 < mu):

        Y0^L = max{ (nu1 Q_nu2 e^{nu2} - nu2 Q_nu1 e^{nu1}) / (nu1 - nu2), 0 }
        Y1^L = mu / (mu nu1 - mu nu2 - nu1^2 + nu2^2)
               * [ Q_nu1 e^{nu1} - Q_nu2 e^{nu2}
                   - (nu1^2 - nu2^2)/mu^2 (Q_mu e^{mu} - Y0^L) ]
        e1^U = (E_nu1 Q_nu1 e^{nu1} - E_nu2 Q_nu2 e^{nu2}) / ((nu1 - nu2) Y1^L)

    With nu2 = 0 they reduce to the vacuum + weak decoy formulas ([MQZL05]
    Eqs. (34)-(35)): Y1^L = mu/(mu nu - nu^2) [Q_nu e^nu - Q_mu e^mu nu^2/mu^2
    - (mu^2 - nu^2)/mu^2 Y0], e1^U = (E_nu Q_nu e^nu - E0 Y0)/(Y1^L nu).
    Y1^L <= 0 gives e1^U = 1/2.  Vectorised over the gains (e.g. over eta).

    Returns (Y0_L, Y1_L, e1_U)."""
    mu = check_real("mu", mu, 0.0, lo_open=True)
    nu1 = check_real("nu1", nu1, 0.0, lo_open=True)
    nu2 = check_real("nu2", nu2, 0.0)
    if not nu1 > nu2:
        raise ValueError(f"nu2 = {nu2} is out of range: must be < nu1 = {nu1}")
    if not nu1 + nu2 < mu:
        raise ValueError(f"nu1 + nu2 = {nu1 + nu2} is out of range: must be < mu = {mu}")
    qm, q1, q2 = (np.asarray(x, dtype=float) for x in (gain_mu, gain_nu1, gain_nu2))
    e1_, e2_ = np.asarray(qber_nu1, dtype=float), np.asarray(qber_nu2, dtype=float)
    a1, a2, am = q1 * math.exp(nu1), q2 * math.exp(nu2), qm * math.exp(mu)
    y0 = np.maximum((nu1 * a2 - nu2 * a1) / (nu1 - nu2), 0.0)
    y1 = mu / (mu * nu1 - mu * nu2 - nu1**2 + nu2**2) * (
        a1 - a2 - (nu1**2 - nu2**2) / mu**2 * (am - y0))
    num = e1_ * a1 - e2_ * a2
    with np.errstate(divide="ignore", invalid="ignore"):
        e1 = np.where(y1 > 0, num / ((nu1 - nu2) * np.where(y1 > 0, y1, 1.0)), 0.5)
    e1 = np.clip(e1, 0.0, 0.5)
    return _scalar(y0), _scalar(y1), _scalar(e1)


def gllp_key_rate(q, mu, gain, qber, f_ec, qber_phase=None, gain_phase=None):
    """GLLP key rate without decoys ([GLLP04]; form of [LMC05] Eq. (1) with
    Delta the multi-photon fraction):

        Delta = (1 - (1 + mu) e^{-mu}) / Q_mu
        R = q { -Q f H2(E) + Q (1 - Delta) [1 - H2(E / (1 - Delta))] },  clipped at 0.

    ``qber_phase``/``gain_phase`` (default: ``qber``/``gain``) are the test
    basis' error rate and gain that bound the phase error,
    E_phase / (1 - Delta_phase); they differ only for biased passive
    receivers.  Delta >= 1 or a phase bound >= 1/2 gives 0.  Vectorised
    (also over mu)."""
    mu = _check_array("mu", mu, 0.0, lo_open=True)
    return _gllp(q, multi_photon_prob(mu), gain, qber, f_ec, qber_phase, gain_phase)


def _gllp(q, pm, gain, qber, f_ec, qber_phase=None, gain_phase=None):
    """GLLP rate for a source that emits n >= 2 photons with probability
    ``pm`` per pulse (one intensity: P(n >= 2 | mu); a mixture of intensities:
    sum_k p_k P(n >= 2 | mu_k))."""
    q = check_prob("q", q)
    f_ec = check_real("f_ec", f_ec, 0.0)
    gain, qber = np.asarray(gain, dtype=float), np.asarray(qber, dtype=float)
    gp = gain if gain_phase is None else np.asarray(gain_phase, dtype=float)
    ep = qber if qber_phase is None else np.asarray(qber_phase, dtype=float)
    delta = _div(pm, gain)
    delta_p = _div(pm, gp)
    with np.errstate(divide="ignore", invalid="ignore"):
        untag = 1.0 - delta
        ephase = np.where(1.0 - delta_p > 0, ep / (1.0 - delta_p), np.inf)
        r = q * (-gain * f_ec * h2(qber) + gain * untag * (1.0 - h2(np.clip(ephase, 0, 0.5))))
    ok = (untag > 0) & (ephase < 0.5) & np.isfinite(r)
    return _scalar(np.maximum(np.where(ok, r, 0.0), 0.0))


# --------------------------------------------------------------------------
# textbook (Y0, e_d) channel model of [LMC05]/[MQZL05]
# --------------------------------------------------------------------------
def textbook_gain_qber(mu, eta, Y0, e_d, e0=0.5):
    """Gain and QBER of [LMC05]/[MQZL05] (Eqs. (2)-(3) of [MQZL05]):

        Q_mu = Y0 + 1 - exp(-eta mu),
        E_mu Q_mu = e0 Y0 + e_d (1 - exp(-eta mu)).

    Y0 is the background (dark) yield of the whole receiver (two detectors:
    Y0 ~ 2 p_dc), e_d the misalignment.  Vectorised over mu and eta."""
    mu = _check_array("mu", mu, 0.0)
    eta = _check_array("eta", eta, 0.0, 1.0)
    Y0 = check_prob("Y0", Y0)
    e_d = check_real("e_d", e_d, 0.0, 0.5)
    e0 = check_prob("e0", e0)
    det = -np.expm1(-np.asarray(eta) * np.asarray(mu))
    q = Y0 + det
    return _scalar(q), _scalar(_div(e0 * Y0 + e_d * det, q))


def _textbook_single(eta, Y0, e_d, e0):
    eta = np.asarray(eta, dtype=float)
    y1 = Y0 + eta - Y0 * eta
    return y1, _div(e0 * Y0 + e_d * eta, y1)


def decoy_rate_textbook(mu, eta, Y0, e_d, f, q=0.5, e0=0.5):
    """Infinite-decoy key rate per pulse of [LMC05] in the (Y0, e_d) model:

        Y1 = Y0 + eta - Y0 eta,   e1 = (e0 Y0 + e_d eta) / Y1,   Q1 = Y1 mu e^{-mu},
        R = q { -Q_mu f H2(E_mu) + Q1 [1 - H2(e1)] }.

    q = 1/2 is the standard BB84 sifting factor used there.  Vectorised."""
    Q, E = textbook_gain_qber(mu, eta, Y0, e_d, e0)
    y1, e1 = _textbook_single(eta, Y0, e_d, e0)
    return lmc_key_rate(q, Q, E, y1 * np.asarray(mu) * np.exp(-np.asarray(mu)), e1, f)


def vacuum_weak_rate_textbook(mu, nu1, nu2, eta, Y0, e_d, f, q=0.5, e0=0.5):
    """Two-decoy ([MQZL05]; nu2 = 0: vacuum + weak) key rate per pulse in the
    (Y0, e_d) model: bounds from :func:`two_decoy_bounds`, key from the
    signal's Q_mu, E_mu.  Vectorised over eta."""
    Qm, Em = textbook_gain_qber(mu, eta, Y0, e_d, e0)
    Q1_, E1_ = textbook_gain_qber(nu1, eta, Y0, e_d, e0)
    Q2_, E2_ = textbook_gain_qber(nu2, eta, Y0, e_d, e0)
    _, y1l, e1u = two_decoy_bounds(mu, nu1, nu2, Qm, Q1_, Q2_, E1_, E2_)
    return lmc_key_rate(q, Qm, Em, np.asarray(y1l) * mu * math.exp(-mu), e1u, f)


def gllp_rate_textbook(mu, eta, Y0, e_d, f, q=0.5, e0=0.5):
    """GLLP (no decoy) key rate per pulse in the (Y0, e_d) model.  Vectorised over eta."""
    Q, E = textbook_gain_qber(mu, eta, Y0, e_d, e0)
    return gllp_key_rate(q, mu, Q, E, f)


# --------------------------------------------------------------------------
# repeaterless limits
# --------------------------------------------------------------------------
def plob_bound(eta):
    """PLOB bound ``-log2(1 - eta)`` secret bits per channel use of a pure-loss
    channel of transmittance eta ([PLOB17]).  Vectorised; eta = 1 -> inf."""
    eta = np.asarray(_check_array("eta", eta, 0.0, 1.0))
    with np.errstate(divide="ignore"):
        return _scalar(-np.log1p(-eta) / math.log(2.0))


def tgw_bound(eta):
    """TGW bound ``log2((1 + eta)/(1 - eta))`` bits per channel use ([TGW14]);
    always >= PLOB.  Vectorised; eta = 1 -> inf."""
    eta = np.asarray(_check_array("eta", eta, 0.0, 1.0))
    with np.errstate(divide="ignore"):
        return _scalar((np.log1p(eta) - np.log1p(-eta)) / math.log(2.0))


# --------------------------------------------------------------------------
# scenario -> expectations
# --------------------------------------------------------------------------
def _get(obj, section, name):
    try:
        return getattr(getattr(obj, section), name)
    except AttributeError:
        raise ValueError(f"scenario has no {section}.{name}") from None


def expect(scenario, decoy="infinite", convention="all-intensities"):
    """Closed-form expectations for a decoy-BB84 scenario (a JSON-able dict).

    ``scenario`` needs: source.intensities, .intensity_probs, .key_basis_prob,
    .rep_rate_hz; channel.length_km, .attenuation_db_per_km, .extra_loss_db,
    .misalignment; detector.efficiency, .dark_count_prob, .afterpulse_prob,
    .basis_choice; postprocess.f_ec.  Dead time is not modelled.

    The key comes from the X basis when Alice and Bob both chose X (sifting
    factor q = key_basis_prob**2).  Two conventions say which pulses make key;
    both rates are per emitted pulse of any intensity:

    * ``convention="all-intensities"`` (default; [Lim14], and what the Monte
      Carlo's finite key computes): X-X detections of every intensity are key
      bits, so the error-correction leakage is paid on all of them and the
      vacuum and single-photon contributions are those of the whole mixture,
      tau_n = sum_k p_k e^{-mu_k} mu_k^n / n!:

          R = q { tau_0 Y_0 + tau_1 Y_1 [1 - H2(e_1)] - f Qbar H2(Ebar) },

      Qbar = sum_k p_k Q_k (``gain_xx``) and Ebar the X-basis QBER over all
      intensities.  With ``decoy="vacuum-weak"`` (Y_0, Y_1, e_1 from the
      bounds of [MQZL05] with nu1, nu2 = intensities[1], intensities[2]) this
      is exactly the N -> infinity limit of the [Lim14] key length per pulse:
      Eqs. (2)-(4) of [Lim14] are those bounds on the counts.  The Monte
      Carlo's finite key therefore stays below it (and below "infinite"),
      whatever the probabilities.
    * ``convention="signal-only"`` (textbook, [GLLP04]/[LMC05]): only signal
      pulses (the first, largest intensity mu) make key, the decoys only
      estimate:  R = p_signal q { -Q_mu f H2(E_mu) + Y_1 mu e^{-mu} [1 - H2(e_1)] }.
      With a large p_signal the two agree closely; with equal probabilities
      the Monte Carlo's finite key can exceed this rate (it keys from pulses
      this convention discards).

    Decoy methods (the bounds on the single-photon yield Y_1 and error e_1):

    * ``"infinite"`` ([LMC05]): the exact Y_0, Y_1 (X basis) and e_1 (Z basis,
      the phase error of X-basis single photons) of this model.
    * ``"vacuum-weak"`` ([MQZL05]): Y_0^L, Y_1^L from the X-basis gains and
      e_1^U from the Z-basis statistics of mu, nu1 = intensities[1],
      nu2 = intensities[2] (needs >= 3 intensities, nu1 + nu2 < mu).
    * ``"none"`` ([GLLP04]): Delta = P(n >= 2)/Q, with P(n >= 2) of the signal
      (signal-only) or of the whole mixture (all-intensities); no vacuum term.

    Keys: ``key_rate_per_pulse`` (the chosen convention; also under
    ``key_rate_per_pulse_all_intensities`` and
    ``key_rate_per_pulse_signal_only``), ``key_rate_per_signal_pulse``
    (R_signal of the signal-only convention, per signal pulse),
    ``secret_key_rate_bps = key_rate_per_pulse * rep_rate_hz``.
    ``plob_per_pulse``/``tgw_per_pulse`` use the channel transmittance
    (None where infinite, i.e. transmittance 1; undefined ratios are None too).
    ``qber`` is the sifted QBER over all intensities and both bases.
    """
    check_choice("decoy", decoy, DECOY_METHODS)
    check_choice("convention", convention, CONVENTIONS)
    v = _read_scenario(scenario)
    mus, probs, p_x, rep, f_ec, eff = (v[k] for k in ("mus", "probs", "p_x", "rep", "f_ec", "eff"))
    if decoy == "vacuum-weak":
        if len(mus) < 3:
            raise ValueError(f"source.intensities = {list(mus)} must have at least 3 entries "
                             f"(signal, nu1, nu2) for decoy = 'vacuum-weak'")
        if not mus[1] + mus[2] < mus[0]:
            raise ValueError(f"source.intensities = {list(mus)}: vacuum-weak bounds need "
                             f"intensities[1] + intensities[2] < intensities[0]")
    eta_ch, st = v["eta_ch"], _scenario_stats(v)
    r_sig, r_all = _key_rates(st, mus, probs, p_x, f_ec, decoy)
    rate = r_all if convention == "all-intensities" else probs[0] * r_sig

    def num(v):
        v = float(v)
        return v if math.isfinite(v) else None

    return {
        "decoy": decoy,
        "transmittance": float(eta_ch),
        "detector_efficiency": eff,
        "intensities": [
            {"mu": float(m), "prob": float(p), "gain": num(st.gain[i]),
             "gain_xx": num(st.gain_xx[i]), "gain_zz": num(st.gain_zz[i]),
             "qber": num(st.qber[i]), "qber_x": num(st.qber_x[i]), "qber_z": num(st.qber_z[i])}
            for i, (m, p) in enumerate(zip(mus, probs))],
        "qber": num(st.qber_overall),
        "qber_x": num(st.qber_x_overall),
        "qber_z": num(st.qber_z_overall),
        "yield1_x": num(st.yield1_x),
        "error1_z": num(st.error1_z),
        "afterpulse_click_prob": [num(st.afterpulse_click_prob_x),
                                  num(st.afterpulse_click_prob_z)],
        "sifting_factor": p_x**2,
        "convention": convention,
        "key_rate_per_signal_pulse": r_sig,
        "key_rate_per_pulse": rate,
        "key_rate_per_pulse_all_intensities": r_all,
        "key_rate_per_pulse_signal_only": probs[0] * r_sig,
        "secret_key_rate_bps": rate * rep,
        "plob_per_pulse": num(plob_bound(eta_ch)),
        "tgw_per_pulse": num(tgw_bound(eta_ch)),
    }


def _key_rates(st, mus, probs, p_x, f_ec, decoy):
    """(R_signal per signal pulse, R_all per pulse) of :func:`expect`'s two
    conventions from the detection statistics ``st``."""
    q = p_x**2
    mus, probs = np.asarray(mus, dtype=float), np.asarray(probs, dtype=float)
    mu = float(mus[0])
    qx, ex = float(st.gain_xx[0]), float(st.qber_x[0])
    # Mixture over intensities: photon-number weights and the X-basis gain and
    # QBER of every sifted X-X detection.
    tau0 = float(np.dot(probs, np.exp(-mus)))
    tau1 = float(np.dot(probs, mus * np.exp(-mus)))
    qbar = float(np.dot(probs, st.gain_xx))
    ebar = float(st.qber_x_overall)
    if decoy == "infinite":
        y0, y1, e1 = float(st.yield0_x), float(st.yield1_x), float(st.error1_z)
        r_sig = lmc_key_rate(q, qx, ex, y1 * mu * math.exp(-mu), e1, f_ec)
    elif decoy == "vacuum-weak":
        nu1, nu2 = mus[1], mus[2]
        y0, y1, _ = two_decoy_bounds(mu, nu1, nu2, *st.gain_xx[:3], *st.qber_x[1:3])
        _, _, e1 = two_decoy_bounds(mu, nu1, nu2, *st.gain_zz[:3], *st.qber_z[1:3])
        r_sig = lmc_key_rate(q, qx, ex, y1 * mu * math.exp(-mu), e1, f_ec)
    else:
        r_sig = gllp_key_rate(q, mu, qx, ex, f_ec, qber_phase=float(st.qber_z[0]),
                              gain_phase=float(st.gain_zz[0]))
        pm = float(np.dot(probs, multi_photon_prob(mus)))
        ebar_z = float(st.qber_z_overall)
        r_all = _gllp(q, pm, qbar, ebar, f_ec, qber_phase=ebar_z,
                      gain_phase=float(np.dot(probs, st.gain_zz)))
        return float(r_sig), float(r_all)
    # [Lim14] Eq. (1) per pulse with the counts replaced by expectations:
    # s_X0 + s_X1 [1 - h(phi_X)] - lambda_EC, phi_X -> e_1.
    e1 = min(max(float(e1), 0.0), 0.5)
    r_all = q * (tau0 * max(float(y0), 0.0) + tau1 * max(float(y1), 0.0) * (1.0 - float(h2(e1)))
                 - f_ec * qbar * float(h2(ebar)))
    r_all = r_all if math.isfinite(r_all) else 0.0
    return float(r_sig), max(r_all, 0.0)


def _read_scenario(scenario):
    """The validated inputs of the closed forms from a decoy-BB84 fiber scenario."""
    ctype = _get(scenario, "channel", "type") if hasattr(scenario.channel, "type") else "fiber"
    if ctype != "fiber":
        raise ValueError(f"channel.type = {ctype!r}: the closed forms cover fiber links (a "
                         f"free-space pass gets them per time bin from qchannel run --plot)")
    mus = check_real_list("source.intensities", list(_get(scenario, "source", "intensities")),
                          0.0, 100.0)
    probs = check_real_list("source.intensity_probs",
                            list(_get(scenario, "source", "intensity_probs")), 0.0, 1.0)
    if len(probs) != len(mus):
        raise ValueError(f"source.intensity_probs has {len(probs)} entries but "
                         f"source.intensities has {len(mus)}: they must match")
    if abs(sum(probs) - 1.0) > 1e-9:
        raise ValueError(f"source.intensity_probs = {list(probs)} must sum to 1 "
                         f"(they sum to {sum(probs):.12g})")
    if mus[0] <= 0.0 or any(m >= mus[0] for m in mus[1:]):
        raise ValueError(f"source.intensities = {list(mus)} must start with the largest "
                         f"(signal) intensity, > 0")
    p_x = check_prob("source.key_basis_prob", _get(scenario, "source", "key_basis_prob"),
                     lo_open=True)
    rep = check_real("source.rep_rate_hz", _get(scenario, "source", "rep_rate_hz"), 0.0,
                     lo_open=True)
    length = check_real("channel.length_km", _get(scenario, "channel", "length_km"), 0.0)
    att = check_real("channel.attenuation_db_per_km",
                     _get(scenario, "channel", "attenuation_db_per_km"), 0.0)
    extra = check_real("channel.extra_loss_db", _get(scenario, "channel", "extra_loss_db"), 0.0)
    e = check_real("channel.misalignment", _get(scenario, "channel", "misalignment"), 0.0, 0.5)
    eff = check_prob("detector.efficiency", _get(scenario, "detector", "efficiency"))
    pdc = _pdc("detector.dark_count_prob", _get(scenario, "detector", "dark_count_prob"))
    pap = check_prob("detector.afterpulse_prob", _get(scenario, "detector", "afterpulse_prob"))
    mode = check_choice("detector.basis_choice", _get(scenario, "detector", "basis_choice"),
                        BASIS_CHOICES)
    f_ec = check_real("postprocess.f_ec", _get(scenario, "postprocess", "f_ec"), 1.0)
    if mode == "passive" and p_x >= 1.0:
        raise ValueError(f"source.key_basis_prob = {p_x} is out of range: must be < 1 with a "
                         f"passive receiver (the Z pair estimates the phase error)")
    return {"mus": mus, "probs": probs, "p_x": p_x, "rep": rep, "f_ec": f_ec, "eff": eff,
            "e": e, "pdc": pdc, "pap": pap, "mode": mode,
            "eta_ch": float(channel_transmittance(length, att, extra))}


def _scenario_stats(v):
    return detection_stats(v["mus"], v["eta_ch"] * v["eff"], v["e"], v["pdc"], v["pap"], v["p_x"],
                           v["mode"], v["probs"])


def expected_counts(scenario, pulses):
    """Expected counts of a decoy-BB84 fiber scenario over ``pulses`` pulses,
    in the form the [Lim14] finite key takes them (one entry per intensity):

        n_x[k] = N p_k p_X^2 Q^XX_k,   m_x[k] = n_x[k] E^X_k,
        n_z[k] = N p_k (1 - p_X)^2 Q^ZZ_k,   m_z[k] = n_z[k] E^Z_k,

    with Q^XX_k, E^X_k (``gain_xx``, ``qber_x``) of :func:`detection_stats`:
    the exact expectations of the Monte Carlo's model (dead time excepted).
    Returns a dict with lists ``n_x, n_z, m_x, m_z`` and ``transmittance``."""
    pulses = check_real("pulses", pulses, 0.0)
    v = _read_scenario(scenario)
    st = _scenario_stats(v)
    probs, p_x = np.asarray(v["probs"], dtype=float), v["p_x"]
    n_x = pulses * probs * p_x**2 * np.asarray(st.gain_xx, dtype=float)
    n_z = pulses * probs * (1.0 - p_x) ** 2 * np.asarray(st.gain_zz, dtype=float)
    m_x = n_x * np.nan_to_num(np.asarray(st.qber_x, dtype=float))
    m_z = n_z * np.nan_to_num(np.asarray(st.qber_z, dtype=float))
    return {"n_x": n_x.tolist(), "n_z": n_z.tolist(), "m_x": m_x.tolist(), "m_z": m_z.tolist(),
            "transmittance": v["eta_ch"]}
