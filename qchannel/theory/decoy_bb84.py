"""Asymptotic decoy-BB84 key rates and the scenario-level expectations.

:func:`lmc_key_rate` (infinite decoys, [LMC05]), :func:`two_decoy_bounds`
([MQZL05]), :func:`gllp_key_rate` ([GLLP04]), the textbook (Y0, e_d) channel
model of those papers (:func:`textbook_gain_qber`, :func:`decoy_rate_textbook`,
:func:`vacuum_weak_rate_textbook`, :func:`gllp_rate_textbook`), and for one
scenario :func:`expect` (everything as a JSON-able dict, in either of the
``CONVENTIONS``) and :func:`expected_counts` (the counts the [Lim14] finite
key takes, used by :mod:`qchannel.optimize`).

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
"""
import math

import numpy as np

from qchannel.params import (check_choice, check_distribution, check_prob, check_real,
                             check_real_list)
from qchannel.theory.bounds import channel_transmittance, plob_bound, tgw_bound
from qchannel.theory.common import (as_scalar, check_array, check_dark_count_prob, h2,
                                    safe_div)
from qchannel.theory.detection import BASIS_CHOICES, detection_stats

__all__ = [
    "multi_photon_prob", "lmc_key_rate", "two_decoy_bounds", "gllp_key_rate",
    "textbook_gain_qber", "decoy_rate_textbook", "vacuum_weak_rate_textbook",
    "gllp_rate_textbook", "expect", "expected_counts", "CONVENTIONS", "DECOY_METHODS",
]

DECOY_METHODS = ("infinite", "vacuum-weak", "none")
#: What "key rate per pulse" counts (see :func:`expect`).  "all-intensities"
#: is the convention of [Lim14] and of the Monte Carlo (``qchannel run``);
#: "signal-only" that of [GLLP04]/[LMC05]/[MQZL05].
CONVENTIONS = ("all-intensities", "signal-only")


def multi_photon_prob(mu):
    """P(n >= 2) of a Poisson(mu) source, ``1 - (1 + mu) exp(-mu)``, computed
    without cancellation for small mu."""
    mu = np.asarray(mu, dtype=float)
    # 1 - (1+mu) e^-mu = -expm1(-mu) - mu e^-mu; for small mu use the series.
    small = mu < 1e-3
    series = mu**2 / 2 - mu**3 / 3 + mu**4 / 8 - mu**5 / 30
    direct = -np.expm1(-mu) - mu * np.exp(-mu)
    return as_scalar(np.where(small, series, direct))



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
    return as_scalar(np.maximum(r, 0.0))


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
    return as_scalar(y0), as_scalar(y1), as_scalar(e1)


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
    mu = check_array("mu", mu, 0.0, lo_open=True)
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
    delta = safe_div(pm, gain)
    delta_p = safe_div(pm, gp)
    with np.errstate(divide="ignore", invalid="ignore"):
        untag = 1.0 - delta
        ephase = np.where(1.0 - delta_p > 0, ep / (1.0 - delta_p), np.inf)
        r = q * (-gain * f_ec * h2(qber) + gain * untag * (1.0 - h2(np.clip(ephase, 0, 0.5))))
    ok = (untag > 0) & (ephase < 0.5) & np.isfinite(r)
    return as_scalar(np.maximum(np.where(ok, r, 0.0), 0.0))


# --------------------------------------------------------------------------
# textbook (Y0, e_d) channel model of [LMC05]/[MQZL05]
# --------------------------------------------------------------------------
def textbook_gain_qber(mu, eta, Y0, e_d, e0=0.5):
    """Gain and QBER of [LMC05]/[MQZL05] (Eqs. (2)-(3) of [MQZL05]):

        Q_mu = Y0 + 1 - exp(-eta mu),
        E_mu Q_mu = e0 Y0 + e_d (1 - exp(-eta mu)).

    Y0 is the background (dark) yield of the whole receiver (two detectors:
    Y0 ~ 2 p_dc), e_d the misalignment.  Vectorised over mu and eta."""
    mu = check_array("mu", mu, 0.0)
    eta = check_array("eta", eta, 0.0, 1.0)
    Y0 = check_prob("Y0", Y0)
    e_d = check_real("e_d", e_d, 0.0, 0.5)
    e0 = check_prob("e0", e0)
    det = -np.expm1(-np.asarray(eta) * np.asarray(mu))
    q = Y0 + det
    return as_scalar(q), as_scalar(safe_div(e0 * Y0 + e_d * det, q))


def _textbook_single(eta, Y0, e_d, e0):
    eta = np.asarray(eta, dtype=float)
    y1 = Y0 + eta - Y0 * eta
    return y1, safe_div(e0 * Y0 + e_d * eta, y1)


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

    Examples
    --------
    >>> from qchannel import Scenario, theory
    >>> sc = Scenario.from_dict({})                 # every default: 50 km of fiber
    >>> t = theory.expect(sc, decoy="vacuum-weak")
    >>> f"{t['key_rate_per_pulse']:.3e}", t["convention"]
    ('7.110e-04', 'all-intensities')
    >>> t["key_rate_per_pulse"] < theory.expect(sc)["key_rate_per_pulse"] < t["plob_per_pulse"]
    True
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

    coexist = {}
    if v["noise"] is not None:     # classical channels in the fiber
        n = v["noise"]
        coexist = {"raman_photons_per_gate": n["raman_photons_per_gate"],
                   "noise_photons_per_gate": n["noise_photons_per_gate"],
                   "noise_click_prob": v["p_noise"], "classical_noise": n}
    return {
        **coexist,
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
    probs = check_distribution("source.intensity_probs",
                               list(_get(scenario, "source", "intensity_probs")), len(mus),
                               "source.intensities")
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
    pdc = check_dark_count_prob("detector.dark_count_prob", _get(scenario, "detector", "dark_count_prob"))
    pap = check_prob("detector.afterpulse_prob", _get(scenario, "detector", "afterpulse_prob"))
    mode = check_choice("detector.basis_choice", _get(scenario, "detector", "basis_choice"),
                        BASIS_CHOICES)
    f_ec = check_real("postprocess.f_ec", _get(scenario, "postprocess", "f_ec"), 1.0)
    if mode == "passive" and p_x >= 1.0:
        raise ValueError(f"source.key_basis_prob = {p_x} is out of range: must be < 1 with a "
                         f"passive receiver (the Z pair estimates the phase error)")
    # classical channels sharing the fiber (qchannel.coexistence): their noise
    # is one more background click per gate per detector, like a dark count
    noise, p_noise = None, 0.0
    if hasattr(scenario.channel, "noise"):
        noise = scenario.channel.noise(scenario.detector)
        if noise is not None:
            p_noise = scenario.channel.background_click_prob(scenario.detector)
            pdc = 1.0 - (1.0 - pdc) * (1.0 - p_noise)
    return {"mus": mus, "probs": probs, "p_x": p_x, "rep": rep, "f_ec": f_ec, "eff": eff,
            "e": e, "pdc": pdc, "pap": pap, "mode": mode, "noise": noise, "p_noise": p_noise,
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
