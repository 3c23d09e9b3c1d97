"""Classical light in a quantum fiber: spontaneous Raman scattering,
four-wave mixing and filter leakage as noise photons per gate.

A fiber channel may carry classical (DWDM) channels next to the quantum
signal (``[[channel.classical]]``: ``wavelength_nm``, ``power_dbm`` launch
power, ``direction`` "co" or "counter" relative to the quantum signal).  This
module turns them into the mean number of noise photons per detector gate at
the receiver input (after the receiver's filter, before detector
efficiency), per classical channel and in total.  Nothing here is random;
:class:`qchannel.channels.FiberChannel` feeds the result to the transport
kernel as a background click probability per gate (like a dark count) and
the closed forms (:mod:`qchannel.theory.decoy_bb84`) take the same number.

Models (all lengths in km, attenuations in Np/km inside the formulas):

* **Attenuation** of standard single-mode fiber versus wavelength
  (:func:`ssmf_attenuation_db_per_km`): Rayleigh scattering ``R / lambda^4``
  plus the infrared absorption tail ``B exp(-48.48 / lambda)`` (lambda in um)
  plus a small OH peak at 1383 nm, with R and the constant fitted to the
  typical ITU-T G.652.D values 0.33 dB/km at 1310 nm and 0.19 dB/km at
  1550 nm ([G652]).  Any channel can override it.
* **Spontaneous Raman scattering** ([Eraerds10] Eqs. (1)-(2), [Patel12]):
  a classical channel of launch power P0 scatters into the quantum band a
  spectral power density ``P beta(lambda_c, lambda_q)`` per km.  Summed over
  the fiber, the power within a filter of width d_lambda at the receiver is

      co-propagating (forward scattering):
          P_f = P0 beta d_lambda (exp(-a_q L) - exp(-a_c L)) / (a_c - a_q)
                (-> P0 beta d_lambda L exp(-a L) for a_c = a_q, [Eraerds10] (1))
      counter-propagating (backward scattering, launched at the receiver):
          P_b = P0 beta d_lambda (1 - exp(-(a_c + a_q) L)) / (a_c + a_q)
                (-> P0 beta d_lambda (1 - exp(-2 a L)) / (2 a), [Eraerds10] (2))

  ``beta`` comes from the measured Raman gain spectrum of silica, here the
  13-mode intermediate-broadening fit of Hollenbeck and Cantrell ([HC02]
  Table 1) normalised to 1 at its peak (13.2 THz), times the Bose-Einstein
  factor of the detuning at the fiber temperature: ``n + 1`` on the Stokes
  side (quantum wavelength longer than the classical one) and ``n`` on the
  anti-Stokes side, ``n = 1 / (exp(h |dnu| / k T) - 1)`` ([Agrawal] Sec. 8.1,
  the spontaneous limit of the Raman gain).  The absolute scale is the peak
  Raman gain efficiency ``g_R / A_eff`` (``raman_efficiency_per_w_km``,
  default 0.5 /(W km) at a 1550 nm pump, scaling with the pump frequency)
  times the photon energy:  ``beta_nu = (g_R/A_eff) g(|dnu|) h nu_q (n [+1])``
  per Hz, converted to per nm with ``c / lambda_q^2``.  With the default this
  gives beta = 3.2e-9 /(km nm) at 1530 nm for a 1550 nm pump at 295 K, the
  value public coexistence models use there (attributed to the measured
  effective Raman cross-section of [Eraerds10]-type experiments, not
  re-checked).  Against the measured SSMF gain spectrum ([GNPy]: peak
  depolarised g_R/A_eff 0.42 /(W km) at a 1454 nm pump, 0.39 at 1550 nm)
  the default sits between the per-polarisation-mode reading of detailed
  balance (3.0e-9 at 1530 nm, +6 %) and the both-polarisation one
  (6.0e-9, -47 %), at every detuning from 0.5 to 38 THz: the scale is
  uncertain by up to a factor 2 upwards (README, validation table;
  ``tests/test_coexistence_published.py``).
* **Four-wave mixing** among co-propagating classical channels whose
  product ``f_i + f_j - f_k`` falls in the quantum filter ([Inoue92],
  [Eraerds10] Eq. (3)):

      P_ijk = eta (D/3)^2 gamma^2 P_i P_j P_k exp(-a L) L_eff^2,
      L_eff = (1 - exp(-a L)) / a,
      eta = a^2 / (a^2 + db^2) [1 + 4 exp(-a L) sin^2(db L / 2) / (1 - exp(-a L))^2],
      db = (2 pi lambda^2 / c) |f_i - f_k| |f_j - f_k|
           [D_c + (lambda^2 / 2c) (dD_c/dlambda) (|f_i - f_k| + |f_j - f_k|)],

  D = 3 (degenerate, i = j) or 6, gamma the fiber nonlinearity (1.3 /(W km)
  for SSMF) and D_c the SSMF dispersion ``S0/4 (lambda - lambda0^4 /
  lambda^3)`` (lambda0 = 1313 nm, S0 = 0.092 ps/(nm^2 km), the Corning
  SMF-28 data-sheet form).  Counter-propagating channels produce no
  phase-matched product travelling towards the receiver.
* **Leakage** through finite filter isolation: the classical power at the
  receiver's demultiplexer (co: P0 exp(-a_c L); counter: P0 itself, the
  near-end crosstalk of the multiplexer at the receiver) times
  ``10^(-filter_isolation_db / 10)``, or unattenuated when the classical
  wavelength lies inside the quantum filter.

Photons per gate are ``P t_gate / (h c / lambda_q)`` (classical light is
taken as continuous, its mean power).  ``channel.extra_loss_db`` is placed
at the transmitter: it attenuates the quantum signal, not the noise.

References
----------
[Eraerds10] P. Eraerds, N. Walenta, M. Legre, N. Gisin, H. Zbinden,
            "Quantum key distribution and 1 Gbps data encryption over a
            single fibre", New J. Phys. 12, 063027 (2010).
[Patel12]   K. A. Patel et al., "Coexistence of high-bit-rate quantum key
            distribution and data on optical fiber", Phys. Rev. X 2, 041010
            (2012).
[HC02]      D. Hollenbeck, C. D. Cantrell, "Multiple-vibrational-mode model
            for fiber-optic Raman gain spectrum and response function",
            J. Opt. Soc. Am. B 19, 2886 (2002).
[Inoue92]   K. Inoue, "Four-wave mixing in an optical fiber in the
            zero-dispersion wavelength region", J. Lightwave Technol. 10,
            1553 (1992).
[Agrawal]   G. P. Agrawal, Nonlinear Fiber Optics, Ch. 8 and 10.
[GNPy]      Telecom Infra Project, oopt-gnpy, gnpy/core/parameters.py,
            DEFAULT_RAMAN_COEFFICIENT (commit 5481b937): the measured SSMF
            Raman gain profile, citing A. D'Amico et al., J. Lightwave
            Technol. 40, 3499 (2022), Sec. III.D.
[G652]      ITU-T Rec. G.652, Characteristics of a single-mode optical fibre
            and cable (typical G.652.D attenuation).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qchannel.params import check_choice, check_real, check_table, reject_unknown

H_PLANCK = 6.62607015e-34
C_LIGHT = 299792458.0
K_BOLTZMANN = 1.380649e-23
_CM1_TO_THZ = C_LIGHT * 100.0 / 1e12      # 1 cm^-1 in THz

#: [HC02] Table 1: position (cm^-1), relative amplitude, Gaussian FWHM and
#: Lorentzian FWHM (cm^-1) of the 13 vibrational modes of silica.
_HC_MODES = np.array([
    (56.25, 1.00, 52.10, 17.37), (100.00, 11.40, 110.42, 38.81),
    (231.25, 36.67, 175.00, 58.33), (362.50, 67.67, 162.50, 54.17),
    (463.00, 74.00, 135.33, 45.11), (497.00, 4.50, 24.50, 8.17),
    (611.50, 6.80, 41.50, 13.83), (691.67, 4.60, 155.00, 51.67),
    (793.67, 4.20, 59.50, 19.83), (835.50, 4.50, 64.30, 21.43),
    (930.00, 2.70, 150.00, 50.00), (1080.00, 3.10, 91.00, 30.33),
    (1215.00, 3.00, 160.00, 53.33)])

DEFAULT_RAMAN_EFFICIENCY = 0.5      # peak g_R / A_eff at a 1550 nm pump, 1/(W km)
DEFAULT_GAMMA = 1.3                 # nonlinear coefficient of SSMF, 1/(W km)
DEFAULT_TEMPERATURE_K = 295.0
DEFAULT_FILTER_BANDWIDTH_NM = 0.6
DEFAULT_GATE_WIDTH_NS = 1.0
DEFAULT_FILTER_ISOLATION_DB = 120.0
SSMF_ZERO_DISPERSION_NM = 1313.0
SSMF_DISPERSION_SLOPE = 0.092       # ps/(nm^2 km) at lambda0
DIRECTIONS = ("co", "counter")


def _hc_raw(wavenumber_cm1):
    """Im of the [HC02] intermediate-broadening response at a shift (cm^-1):
    sum_i A_i (pi/2) [V(k - k_i) - V(k + k_i)], V a Voigt profile with
    sigma = Gaussian FWHM / (2 sqrt 2) and gamma = Lorentzian FWHM / 2 (the
    Fourier transform of the model's exp(-g t - G^2 t^2 / 4) sin(w_i t))."""
    from scipy.special import voigt_profile

    k = np.abs(np.asarray(wavenumber_cm1, dtype=float))[..., None]
    pos, amp, g, lor = _HC_MODES.T
    sigma, gam = g / (2.0 * math.sqrt(2.0)), lor / 2.0
    return (amp * (voigt_profile(k - pos, sigma, gam) - voigt_profile(k + pos, sigma, gam))).sum(-1)


_HC_PEAK = float(_hc_raw(np.linspace(400.0, 480.0, 801)).max())


def raman_gain_shape(detuning_thz):
    """The Raman gain spectrum of silica versus |detuning| (THz), 1 at its
    13.2 THz peak ([HC02])."""
    return np.asarray(_hc_raw(np.asarray(detuning_thz, dtype=float) / _CM1_TO_THZ)) / _HC_PEAK


def bose_einstein(detuning_thz, temperature_k):
    """Phonon occupation ``1 / (exp(h |dnu| / k T) - 1)``."""
    x = H_PLANCK * np.abs(np.asarray(detuning_thz, dtype=float)) * 1e12 / (K_BOLTZMANN * temperature_k)
    with np.errstate(divide="ignore"):
        return 1.0 / np.expm1(np.maximum(x, 1e-300))


def raman_coefficient(pump_nm, signal_nm, temperature_k=DEFAULT_TEMPERATURE_K,
                      efficiency_per_w_km=DEFAULT_RAMAN_EFFICIENCY):
    """Effective spontaneous Raman scattering coefficient beta (1/(km nm)):
    the power per nm at ``signal_nm`` generated per km by 1 W at ``pump_nm``
    (see the module docstring: [HC02] shape, Bose-Einstein factor, the peak
    g_R/A_eff scaled with the pump frequency)."""
    nu_p, nu_s = C_LIGHT / (pump_nm * 1e-9), C_LIGHT / (signal_nm * 1e-9)
    det = (nu_p - nu_s) / 1e12
    if det == 0.0:
        return 0.0
    n = float(bose_einstein(det, temperature_k))
    thermal = n + 1.0 if det > 0 else n
    eff = efficiency_per_w_km * nu_p / (C_LIGHT / 1550e-9)
    beta_hz = eff * float(raman_gain_shape(det)) * H_PLANCK * nu_s * thermal
    return beta_hz * C_LIGHT / (signal_nm * 1e-9) ** 2 * 1e-9


def ssmf_attenuation_db_per_km(wavelength_nm):
    """Attenuation of standard single-mode fiber (ITU-T G.652.D, typical):
    Rayleigh + infrared absorption + a small OH peak at 1383 nm, fitted to
    0.33 dB/km at 1310 nm and 0.19 dB/km at 1550 nm (module docstring)."""
    lam = np.asarray(wavelength_nm, dtype=float) / 1000.0
    ir = 7.81e11 * np.exp(-48.48 / lam)
    oh = 0.05 * np.exp(-0.5 * ((lam - 1.383) / 0.010) ** 2)
    out = _RAYLEIGH / lam ** 4 + ir + oh + _EXCESS
    return float(out) if out.ndim == 0 else out


def _fit_rayleigh():
    ir = lambda lam: 7.81e11 * math.exp(-48.48 / lam)  # noqa: E731
    a = np.array([[1 / 1.31 ** 4, 1.0], [1 / 1.55 ** 4, 1.0]])
    b = np.array([0.33 - ir(1.31), 0.19 - ir(1.55)])
    r, c = np.linalg.solve(a, b)
    return float(r), float(c)


_RAYLEIGH, _EXCESS = _fit_rayleigh()


def ssmf_dispersion(wavelength_nm):
    """(D in ps/(nm km), dD/dlambda in ps/(nm^2 km)) of SSMF:
    D = S0/4 (lambda - lambda0^4 / lambda^3)."""
    lam, l0, s0 = float(wavelength_nm), SSMF_ZERO_DISPERSION_NM, SSMF_DISPERSION_SLOPE
    return s0 / 4.0 * (lam - l0 ** 4 / lam ** 3), s0 / 4.0 * (1.0 + 3.0 * l0 ** 4 / lam ** 4)


def fwm_power_w(p_i, p_j, p_k, f_i, f_j, f_k, length_km, alpha_np_per_km,
                gamma_per_w_km=DEFAULT_GAMMA, degenerate=False):
    """Power (W) at the fiber end of the four-wave-mixing product
    f_i + f_j - f_k of co-propagating channels launched with p_i, p_j, p_k
    (W) ([Inoue92]; module docstring)."""
    lam = C_LIGHT / f_k
    d_c, slope = ssmf_dispersion(lam * 1e9)
    d_si, s_si = d_c * 1e-6, slope * 1e3          # s/m^2, s/m^3
    dik, djk = abs(f_i - f_k), abs(f_j - f_k)
    dbeta = (2 * math.pi * lam ** 2 / C_LIGHT) * dik * djk * (
        d_si + lam ** 2 / (2 * C_LIGHT) * s_si * (dik + djk)) * 1e3   # 1/km
    a, L = alpha_np_per_km, length_km
    if L <= 0.0:
        return 0.0
    loss = math.exp(-a * L)
    leff = (1 - loss) / a if a > 0 else L
    if a > 0:
        eta = a ** 2 / (a ** 2 + dbeta ** 2) * (
            1 + 4 * loss * math.sin(dbeta * L / 2) ** 2 / (1 - loss) ** 2)
    else:
        eta = 1.0 if dbeta == 0 else (math.sin(dbeta * L / 2) / (dbeta * L / 2)) ** 2
    deg = 1.0 if degenerate else 4.0               # (D/3)^2, D = 3 or 6
    return eta * deg * gamma_per_w_km ** 2 * p_i * p_j * p_k * loss * leff ** 2


# --------------------------------------------------------------------------
# scenario entries
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class ClassicalChannel:
    """One classical channel sharing the fiber (``[[channel.classical]]``)."""

    wavelength_nm: float
    power_dbm: float
    direction: str = "co"
    attenuation_db_per_km: float = None

    KEYS = ("wavelength_nm", "power_dbm", "direction", "attenuation_db_per_km")

    @classmethod
    def from_dict(cls, d, section):
        check_table(section, d)
        reject_unknown(section, d, cls.KEYS)
        for key in ("wavelength_nm", "power_dbm"):
            if key not in d:
                raise ValueError(f"{section}.{key} is required for a classical channel")
        att = d.get("attenuation_db_per_km")
        return cls(
            wavelength_nm=check_real(f"{section}.wavelength_nm", d["wavelength_nm"], 1000.0, 1700.0),
            power_dbm=check_real(f"{section}.power_dbm", d["power_dbm"], -80.0, 30.0),
            direction=check_choice(f"{section}.direction", d.get("direction", "co"), DIRECTIONS),
            attenuation_db_per_km=None if att is None else check_real(
                f"{section}.attenuation_db_per_km", att, 0.0, 100.0))

    def to_dict(self):
        d = {"wavelength_nm": self.wavelength_nm, "power_dbm": self.power_dbm,
             "direction": self.direction}
        if self.attenuation_db_per_km is not None:
            d["attenuation_db_per_km"] = self.attenuation_db_per_km
        return d

    @property
    def power_w(self):
        return 1e-3 * 10.0 ** (self.power_dbm / 10.0)

    @property
    def attenuation(self):
        """dB/km: the override or the SSMF curve at this wavelength."""
        if self.attenuation_db_per_km is not None:
            return self.attenuation_db_per_km
        return ssmf_attenuation_db_per_km(self.wavelength_nm)


def _np(db_per_km):
    return db_per_km * math.log(10.0) / 10.0


def _raman_geometry(direction, a_c, a_q, L):
    """km: the length factor of the forward/backward closed forms."""
    if direction == "co":
        if abs(a_c - a_q) < 1e-12:
            return L * math.exp(-a_q * L)
        return (math.exp(-a_q * L) - math.exp(-a_c * L)) / (a_c - a_q)
    s = a_c + a_q
    return (-math.expm1(-s * L)) / s if s > 0 else L


def noise_photons_per_gate(length_km, quantum_wavelength_nm, quantum_attenuation_db_per_km,
                           classical, filter_bandwidth_nm=DEFAULT_FILTER_BANDWIDTH_NM,
                           gate_width_ns=DEFAULT_GATE_WIDTH_NS,
                           filter_isolation_db=DEFAULT_FILTER_ISOLATION_DB,
                           temperature_k=DEFAULT_TEMPERATURE_K,
                           raman_efficiency_per_w_km=DEFAULT_RAMAN_EFFICIENCY,
                           gamma_per_w_km=DEFAULT_GAMMA):
    """Noise photons per gate at the receiver input (after the filter,
    before detector efficiency) from ``classical`` (a sequence of
    :class:`ClassicalChannel`).  Returns a JSON-able dict: the totals
    ``raman_photons_per_gate``, ``fwm_photons_per_gate``,
    ``leakage_photons_per_gate``, ``noise_photons_per_gate`` and
    ``per_channel`` (one row per classical channel) and ``fwm`` (one row per
    product in the quantum band)."""
    L = float(length_km)
    lam_q = float(quantum_wavelength_nm)
    a_q = _np(quantum_attenuation_db_per_km)
    photon_j = H_PLANCK * C_LIGHT / (lam_q * 1e-9)
    to_photons = gate_width_ns * 1e-9 / photon_j
    iso = 10.0 ** (-filter_isolation_db / 10.0)
    rows, raman_total, leak_total = [], 0.0, 0.0
    for i, ch in enumerate(classical):
        a_c = _np(ch.attenuation)
        beta = raman_coefficient(ch.wavelength_nm, lam_q, temperature_k, raman_efficiency_per_w_km)
        p_raman = ch.power_w * beta * filter_bandwidth_nm * _raman_geometry(ch.direction, a_c, a_q, L)
        at_rx = ch.power_w * (math.exp(-a_c * L) if ch.direction == "co" else 1.0)
        in_band = abs(ch.wavelength_nm - lam_q) <= 0.5 * filter_bandwidth_nm
        p_leak = at_rx * (1.0 if in_band else iso)
        n_r, n_l = p_raman * to_photons, p_leak * to_photons
        raman_total += n_r
        leak_total += n_l
        rows.append({"index": i, "wavelength_nm": ch.wavelength_nm, "power_dbm": ch.power_dbm,
                     "direction": ch.direction, "attenuation_db_per_km": ch.attenuation,
                     "raman_coefficient_per_km_nm": beta,
                     "raman_photons_per_gate": n_r, "leakage_photons_per_gate": n_l,
                     "fwm_photons_per_gate": 0.0, "in_band": in_band})
    fwm_rows, fwm_total = [], 0.0
    co = [(i, ch) for i, ch in enumerate(classical) if ch.direction == "co"]
    f_q = C_LIGHT / (lam_q * 1e-9)
    half_band = 0.5 * C_LIGHT * filter_bandwidth_nm * 1e-9 / (lam_q * 1e-9) ** 2
    for a in range(len(co)):
        for b in range(a, len(co)):
            for c in range(len(co)):
                if c in (a, b):
                    continue
                (i, ci), (j, cj), (k, ck) = co[a], co[b], co[c]
                f = [C_LIGHT / (x.wavelength_nm * 1e-9) for x in (ci, cj, ck)]
                f_new = f[0] + f[1] - f[2]
                if abs(f_new - f_q) > half_band:
                    continue
                alpha = _np(float(np.mean([ci.attenuation, cj.attenuation, ck.attenuation])))
                p = fwm_power_w(ci.power_w, cj.power_w, ck.power_w, *f, L, alpha,
                                gamma_per_w_km, degenerate=(a == b))
                n = p * to_photons
                fwm_total += n
                fwm_rows.append({"channels": [i, j, k], "wavelength_nm": C_LIGHT / f_new * 1e9,
                                 "photons_per_gate": n})
                for idx in {i, j, k}:    # each product shared among the channels it mixes
                    rows[idx]["fwm_photons_per_gate"] += n / len({i, j, k})
    for r in rows:
        r["noise_photons_per_gate"] = (r["raman_photons_per_gate"] + r["leakage_photons_per_gate"]
                                       + r["fwm_photons_per_gate"])
    return {"raman_photons_per_gate": raman_total, "fwm_photons_per_gate": fwm_total,
            "leakage_photons_per_gate": leak_total,
            "noise_photons_per_gate": raman_total + fwm_total + leak_total,
            "filter_bandwidth_nm": filter_bandwidth_nm, "gate_width_ns": gate_width_ns,
            "filter_isolation_db": filter_isolation_db,
            "quantum_wavelength_nm": lam_q,
            "quantum_attenuation_db_per_km": float(quantum_attenuation_db_per_km),
            "per_channel": rows, "fwm": fwm_rows}


def noise_click_prob(photons_per_gate, detector_efficiency, n_detectors):
    """Extra click probability per gate per detector: the noise photons
    (unpolarised, random basis) split evenly over the detectors,
    ``1 - exp(-eta N / n_detectors)``."""
    return float(-math.expm1(-detector_efficiency * photons_per_gate / n_detectors))


def run_summary(scenario, measured_qber=None):
    """What ``qchannel run`` reports for a fiber with classical channels: the
    noise per gate (totals and per channel), the extra click probability,
    and the QBER the noise adds: expected (closed form with and without the
    classical channels, :func:`qchannel.theory.expect`) and, given the
    run's QBER, measured against the noise-free expectation."""
    from qchannel import theory

    noise = scenario.channel.noise(scenario.detector)
    with_noise = theory.expect(scenario)
    quiet = theory.expect(scenario.replace(**{"channel.classical": []}))
    out = {"raman_photons_per_gate": noise["raman_photons_per_gate"],
           "fwm_photons_per_gate": noise["fwm_photons_per_gate"],
           "leakage_photons_per_gate": noise["leakage_photons_per_gate"],
           "noise_photons_per_gate": noise["noise_photons_per_gate"],
           "noise_click_prob": scenario.channel.background_click_prob(scenario.detector),
           "qber_expected": with_noise["qber_x"],
           "qber_expected_without_classical": quiet["qber_x"],
           "extra_qber_expected": with_noise["qber_x"] - quiet["qber_x"],
           "per_channel": noise["per_channel"], "fwm": noise["fwm"]}
    if measured_qber is not None:
        out["extra_qber"] = measured_qber - quiet["qber_x"]
    return out


def format_summary(c):
    """Text lines for a report."""
    lines = [f"  classical channels: {c['noise_photons_per_gate']:.3g} noise photons per gate "
             f"(Raman {c['raman_photons_per_gate']:.3g}, FWM {c['fwm_photons_per_gate']:.3g}, "
             f"leakage {c['leakage_photons_per_gate']:.3g}), click prob "
             f"{c['noise_click_prob']:.3g} per detector"]
    for r in c["per_channel"]:
        lines.append(f"    {r['wavelength_nm']:g} nm {r['power_dbm']:+g} dBm {r['direction']:<7s} "
                     f"Raman {r['raman_photons_per_gate']:.3g}, leakage "
                     f"{r['leakage_photons_per_gate']:.3g}, FWM {r['fwm_photons_per_gate']:.3g}")
    extra = c.get("extra_qber", c["extra_qber_expected"])
    lines.append(f"    extra QBER from the classical light: {extra:+.4%} (closed form "
                 f"{c['extra_qber_expected']:+.4%})")
    return lines
