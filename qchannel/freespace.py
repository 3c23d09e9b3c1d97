"""Free-space and satellite optical links: mean loss, fading and background.

This module is the physics layer of the free-space channels.  It turns a
``[channel]`` section (``type = "satellite-downlink" | "satellite-uplink" |
"free-space"``) into per-time-bin series of the channel transmittance (mean and
faded) and of the background light reaching the detectors.

Conventions
-----------
* Beam radii ``W`` are 1/e^2 intensity radii: I(rho) ~ exp(-2 rho^2 / W^2).
  Apertures are given as diameters (``*_aperture_m``); formulas use the radius a.
* Divergences are far-field 1/e^2 *half* angles; ``fov_urad`` is a *full* angle.
  Papers often quote a divergence without its convention; a quoted value
  converts with :func:`divergence_half_angle` (1/e^2 full angle: x 1/2; FWHM
  full angle: x 1/(2 sqrt(ln 2 / 2)) = 0.849).  The choice is worth 6 dB in
  the far field: quote the convention in every scenario.
* Pointing jitter ``pointing_jitter_urad`` is the rms angle per axis.

Loss definition
---------------
``loss_db`` (:class:`LinkSeries`, the report's per-bin ``loss_db``) is
-10 log10 of the *mean* channel transmittance from the transmitter's exit
aperture to the detector's input, i.e. the product of

  geometric    diffraction (and, downlink, turbulence beam spreading) into
               the receiver aperture, averaged over pointing jitter and beam
               wander (:func:`mean_aperture_fraction`);
  atmospheric  extinction (air mass or visibility);
  fov          seeing-limited coupling through the receiver's field stop;
  rx           receiver optics ``rx_efficiency`` (telescope, relay optics,
               filters, polarisation analyser, coupling to the detectors).

:func:`loss_budget_db` splits it into these terms.  Scintillation is a
zero-mean-log fluctuation with unit mean, so it changes the faded samples,
not ``loss_db``.  The source's mean photon numbers are defined at the
transmitter's exit aperture (transmitter optics belong to the source), and
the detector efficiency is *not* part of ``loss_db``: it belongs to
``[detector]`` and multiplies the channel transmittance inside the
transport kernel.  This is the definition of the "channel loss" of Liao et
al., Nature 549, 43 (2017), Fig. 3 (see ``examples/micius-downlink.toml``).

Formulas and sources
--------------------
Gaussian beams (Siegman, *Lasers*, ch. 17):
    W(z) = W0 sqrt(1 + (z/zR)^2),  zR = pi W0^2 / lambda,
  or, with a far-field half-angle divergence theta given directly,
    W(z) = sqrt(W0^2 + (theta z)^2)   (identical when theta = lambda/(pi W0)).
  Fraction into a centred circular aperture of radius a: 1 - exp(-2 a^2/W^2).
  For a beam offset by r the exact fraction is 1 - Q1(2r/W, 2a/W) (Marcum Q);
  the fading samples use the closed form of Vasylyev, Semenov & Vogel,
  PRL 108, 220501 (2012), Eqs. (6)-(8):
    T(r) = T0 exp[-(r/R)^lam],  T0 = 1 - exp(-2a^2/W^2),
    lam = 8 x e^{-4x} I1(4x) / (1 - e^{-4x} I0(4x)) / ln(2 T0 / (1 - e^{-4x} I0(4x))),
    R = a [ln(2 T0 / (1 - e^{-4x} I0(4x)))]^{-1/lam},   x = a^2/W^2
  (T here is the intensity transmittance, T^2 of their amplitude notation).
  Averaged over an isotropic Gaussian offset (rms sigma per axis) the mean
  intensity is again Gaussian with W_LT^2 = W^2 + 4 sigma^2, so the mean
  fraction is exactly 1 - exp(-2 a^2 / (W^2 + 4 sigma^2)).

Atmospheric extinction:
  slant paths T(zeta) = T_zenith^X(zeta), X the Kasten & Young (Appl. Opt. 28,
  4735 (1989)) relative air mass X = 1/(cos z + 0.50572 (96.07995 - z)^-1.6364),
  z in degrees, here normalised by X(0) = 0.99971 so that X(zenith) = 1 exactly.
  Horizontal paths from the visibility V (Kim, McArthur & Korevaar, Proc. SPIE
  4214, 26 (2001); Kruse et al. 1962): sigma = 3.91/V (lambda/550 nm)^-q [1/km],
  T = exp(-sigma L), with q(V) of Kim or Kruse.

Turbulence (Andrews & Phillips, *Laser Beam Propagation through Random Media*,
2nd ed., SPIE 2005, ch. 12; Bourgoin et al., NJP 15, 023006 (2013)):
  Hufnagel-Valley: Cn2(h) = 0.00594 (v/27)^2 (1e-5 h)^10 e^{-h/1000}
                            + 2.7e-16 e^{-h/1500} + A e^{-h/100}
  with A = ``cn2_ground`` (1.7e-14 m^-2/3) and v = ``wind_speed_m_per_s``
  (21 m/s) for HV-5/7 (r0 = 5 cm, theta0 = 7 urad at 0.5 um, zenith); h is the
  height above the station.
  Fried parameter on a slant path (plane wave; a downlink, and the turbulence
  seen by an uplink transmitter): r0 = [0.423 k^2 sec(zeta) int Cn2 dh]^-3/5.
  At the satellite of an uplink (spherical wave from the ground) the weight
  ((h - h0)/(H - h0))^(5/3) enters the integral, which makes r0 metres large.
  Isoplanatic angle theta0 = [2.914 k^2 sec^(8/3)(zeta) int Cn2 h^(5/3) dh]^-3/5.
  Rytov variance, downlink: 2.25 k^(7/6) sec^(11/6)(zeta) int Cn2 h^(5/6) dh;
  uplink (spherical): the weight (1 - h/H)^(5/6) enters, > 0.95 below 30 km for
  LEO, so the link budget uses the downlink integral; horizontal plane
  wave: 1.23 Cn2 k^(7/6) L^(11/6).  Scintillation index for all regimes
  (plane wave, zero inner scale; Andrews & Phillips 2005, ch. 9):
    s2 = exp[0.49 sR2 / (1 + 1.11 sR^(12/5))^(7/6) + 0.51 sR2 / (1 + 0.69 sR^(12/5))^(5/6)] - 1,
  reduced by aperture averaging: downlink A = [1 + 1.1 (D^2/(lambda H_t sec zeta))^(7/6)]^-1
  with H_t = [int Cn2 h^2 / int Cn2 h^(5/6)]^(6/7) (Fried 1967); horizontal and
  uplink A = [1 + 1.062 k D^2 / (4 L)]^(-7/6).
  Uplink beam wander (dominant uplink effect; A&P 2005 ch. 12, infinite outer scale):
    <r_c^2> = 0.54 L^2 (lambda / 2W0)^2 (2W0 / r0)^(5/3)   (radial mean square),
  short-term beam (Yura 1973): W_ST^2 = W^2 + 2 [4.2 L/(k r0) (1 - 0.26 (r0/W0)^(1/3))]^2.
  Horizontal collimated beams: <r_c^2> = 2.42 Cn2 L^3 W0^(-1/3).
  Downlink long-term beam spreading (A&P 2005 ch. 12, the downlink counterpart
  of their uplink result): W_LT^2 = W^2 [1 + 4.35 mu_2d Lam^(5/6) k^(7/6)
  (H - h0)^(5/6) sec^(11/6)(zeta)], Lam = 2L/(k W^2), mu_2d = int Cn2(h)
  ((h - h0)/(H - h0))^(5/3) dh: the turbulence sits at the receiver end of the
  path, so the weight (h/H)^(5/3) makes it ~1e-3 dB for a LEO downlink (kept
  for completeness; downlink loss is diffraction, pointing, extinction, optics).
  Seeing: the long-exposure spot in the focal plane is taken Gaussian with
  FWHM^2 = (0.98 lambda/r0)^2 + (1.03 lambda/D)^2; a field stop of full angle
  ``fov_urad`` passes 1 - 2^-(fov/FWHM)^2 of it.

Fading time series: every fluctuating quantity (log-amplitude of the
scintillation; x and y of the beam offset from pointing jitter plus beam
wander) is driven by a stationary unit Gauss-Markov (AR(1), the sampled
Ornstein-Uhlenbeck) process z_n = rho z_{n-1} + sqrt(1 - rho^2) xi_n with
rho = exp(-dt/tau), tau = ``coherence_time_ms`` (``pointing_correlation_ms``
for the pointing part); its autocorrelation is exp(-|t|/tau).  Log-normal
scintillation: T_s = exp(sigma z - sigma^2/2), sigma^2 = ln(1 + s2), so
<T_s> = 1 and var T_s = s2.  The xi_n come from the counter-based Philox streams
(seed, Purpose.FADING, block) in fixed blocks of ``BLOCK_BINS`` time bins, one
child seed per component, via Box-Muller: the same seed gives the same series.

Background light (Miao et al., NJP 7, 215 (2005); Bourgoin et al. 2013):
    N_b = H_b * Omega_fov * (pi a^2) * d_lambda * d_t / (h c / lambda) * eta_rx
  mean photons per gate reaching the detectors, with H_b the sky (or, for an
  uplink, Earth) radiance in W m^-2 sr^-1 nm^-1, Omega_fov = 2 pi (1 - cos(fov/2))
  the solid angle of the field stop, a the receiver aperture radius, d_lambda
  the filter bandwidth [nm], d_t the gate (coincidence window).  The extra
  click probability per gate per detector, for ``n_detectors`` sharing the
  light evenly: p_b = 1 - exp(-eta_det N_b / n_detectors).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
from scipy import integrate, special

from qchannel import rng as _rng
from qchannel.params import check_choice, check_int, check_prob, check_real, reject_unknown

H_PLANCK = 6.62607015e-34
C_LIGHT = 299792458.0

#: time bins per block of the fading random streams (part of the reproducibility contract)
BLOCK_BINS = 65536

#: indicative sky radiances at ~850 nm, W m^-2 sr^-1 nm^-1 (order-of-magnitude
#: estimates, see examples/micius_night_vs_day.md): a dark site on a moonless
#: night (~20 mag/arcsec^2 in the I band incl. airglow), a full-moon night, a
#: clear daytime sky away from the Sun.
SKY_RADIANCE_PRESETS = {"night": 1.5e-8, "full-moon": 1.5e-6, "day": 1.0e-2}

CHANNEL_TYPES = ("satellite-downlink", "satellite-uplink", "free-space")
FADING_MODELS = ("auto", "none", "lognormal", "beam-wander", "combined")

_TURB_TOP_M = 30000.0


# ==========================================================================
# Gaussian beams and apertures
# ==========================================================================
def rayleigh_range(w0_m, wavelength_m):
    """zR = pi W0^2 / lambda [m]."""
    return math.pi * w0_m ** 2 / wavelength_m


def beam_radius(z_m, w0_m, wavelength_m, divergence_rad=None):
    """1/e^2 beam radius at distance z from the waist.  Without
    ``divergence_rad``: W0 sqrt(1 + (z/zR)^2); with it (far-field half angle):
    sqrt(W0^2 + (theta z)^2)."""
    z = np.asarray(z_m, dtype=float)
    if divergence_rad is None:
        zr = rayleigh_range(w0_m, wavelength_m)
        return w0_m * np.sqrt(1.0 + (z / zr) ** 2)
    return np.sqrt(w0_m ** 2 + (divergence_rad * z) ** 2)


#: conventions of a quoted far-field divergence and the factor that turns it
#: into the 1/e^2 half angle used here (Gaussian beam I ~ exp(-2 theta^2/theta_w^2):
#: half maximum at theta_w sqrt(ln 2 / 2))
DIVERGENCE_CONVENTIONS = {
    "half-1/e2": 1.0,
    "full-1/e2": 0.5,
    "half-fwhm": 1.0 / math.sqrt(math.log(2.0) / 2.0),
    "full-fwhm": 0.5 / math.sqrt(math.log(2.0) / 2.0),
}


def divergence_half_angle(value, convention):
    """The 1/e^2 half angle of a Gaussian beam whose divergence is quoted as
    ``value`` under ``convention`` (a key of ``DIVERGENCE_CONVENTIONS``), in
    the unit of ``value``."""
    factor = DIVERGENCE_CONVENTIONS.get(convention)
    if factor is None:
        raise ValueError(f"convention = {convention!r} must be one of "
                         f"{', '.join(map(repr, DIVERGENCE_CONVENTIONS))}")
    return check_real("divergence", value, 0.0, lo_open=True) * factor


def aperture_fraction(a_m, w_m):
    """Power fraction of a centred Gaussian beam (radius W) inside a circular
    aperture of radius a: 1 - exp(-2 a^2 / W^2)."""
    a = np.asarray(a_m, dtype=float)
    w = np.asarray(w_m, dtype=float)
    return -np.expm1(-2.0 * a ** 2 / w ** 2)


def aperture_fraction_offset(a_m, w_m, r_m):
    """Exact power fraction of a Gaussian beam whose centre is offset by r
    from the centre of the aperture: 1 - Q1(2r/W, 2a/W), a non-central
    chi-square with 2 degrees of freedom."""
    a, w, r = (np.asarray(v, dtype=float) for v in (a_m, w_m, r_m))
    return special.chndtr((2.0 * a / w) ** 2, 2.0, (2.0 * r / w) ** 2)


def mean_aperture_fraction(a_m, w_m, sigma_m):
    """Mean fraction for an isotropic Gaussian beam offset of rms ``sigma`` per
    axis (pointing jitter, beam wander): exactly 1 - exp(-2a^2/(W^2 + 4 sigma^2))."""
    w = np.asarray(w_m, dtype=float)
    s = np.asarray(sigma_m, dtype=float)
    return aperture_fraction(a_m, np.sqrt(w ** 2 + 4.0 * s ** 2))


def vasylyev_parameters(a_m, w_m):
    """(T0, lam, R) of the beam-wandering transmittance T(r) = T0 exp[-(r/R)^lam]
    (Vasylyev, Semenov, Vogel, PRL 108, 220501 (2012)); exponentially scaled
    Bessel functions keep it finite for any a/W."""
    a = np.asarray(a_m, dtype=float)
    x = a ** 2 / np.asarray(w_m, dtype=float) ** 2
    t0 = -np.expm1(-2.0 * x)
    e0 = special.i0e(4.0 * x)          # e^{-4x} I0(4x)
    e1 = special.i1e(4.0 * x)          # e^{-4x} I1(4x)
    one_m = 1.0 - e0
    lg = np.log(2.0 * t0 / one_m)
    lam = 8.0 * x * e1 / one_m / lg
    r_scale = a * lg ** (-1.0 / lam)
    return t0, lam, r_scale


def beam_wander_transmittance(r_m, a_m, w_m):
    """Transmittance of a beam offset by r (Vasylyev et al. 2012 closed form)."""
    t0, lam, r_scale = vasylyev_parameters(a_m, w_m)
    r = np.asarray(r_m, dtype=float)
    return t0 * np.exp(-(r / r_scale) ** lam)


def beam_wander_pdf(t, a_m, w_m, sigma_m):
    """Probability density of the transmittance for a beam wandering with an
    isotropic zero-mean Gaussian offset of rms ``sigma`` per axis: the
    log-negative Weibull law of Vasylyev et al. (2012), Eq. (9), for 0 < T <= T0."""
    t0, lam, r_scale = vasylyev_parameters(a_m, w_m)
    t = np.asarray(t, dtype=float)
    out = np.zeros_like(t)
    ok = (t > 0) & (t < t0)
    lt = np.log(t0 / t[ok])
    out[ok] = (r_scale ** 2 / (sigma_m ** 2 * lam * t[ok]) * lt ** (2.0 / lam - 1.0)
               * np.exp(-(r_scale ** 2) / (2.0 * sigma_m ** 2) * lt ** (2.0 / lam)))
    return out


# ==========================================================================
# Atmospheric extinction
# ==========================================================================
_KY_ZENITH = 1.0 / (1.0 + 0.50572 * 96.07995 ** -1.6364)


def air_mass(elevation_deg):
    """Kasten-Young relative air mass, normalised to exactly 1 at zenith.
    NaN below the horizon."""
    z = 90.0 - np.asarray(elevation_deg, dtype=float)
    with np.errstate(invalid="ignore"):
        x = 1.0 / (np.cos(np.radians(z)) + 0.50572 * (96.07995 - z) ** -1.6364)
    x = np.where(z <= 90.0, x, np.nan)
    return x / _KY_ZENITH


def slant_transmittance(zenith_transmittance, elevation_deg):
    """T_zenith ** air_mass; zero below the horizon."""
    el = np.asarray(elevation_deg, dtype=float)
    x = air_mass(np.maximum(el, 0.0))
    return np.where(el >= 0.0, zenith_transmittance ** x, 0.0)


def visibility_q(visibility_km, model="kim"):
    """Size-distribution exponent q of the visibility extinction law."""
    v = float(visibility_km)
    if model == "kruse":
        return 1.6 if v > 50 else 1.3 if v > 6 else 0.585 * v ** (1.0 / 3.0)
    if v > 50:
        return 1.6
    if v > 6:
        return 1.3
    if v > 1:
        return 0.16 * v + 0.34
    if v > 0.5:
        return v - 0.5
    return 0.0


def visibility_attenuation_per_km(visibility_km, wavelength_nm, model="kim"):
    """Extinction coefficient sigma [1/km] (T = exp(-sigma L)) from the
    visibility: 3.91/V (lambda/550 nm)^-q (Kim 2001, Kruse 1962)."""
    q = visibility_q(visibility_km, model)
    return 3.91 / visibility_km * (wavelength_nm / 550.0) ** (-q)


def horizontal_transmittance(visibility_km, wavelength_nm, length_km, model="kim"):
    return math.exp(-visibility_attenuation_per_km(visibility_km, wavelength_nm, model) * length_km)


# ==========================================================================
# Turbulence
# ==========================================================================
def cn2_hufnagel_valley(h_m, cn2_ground=1.7e-14, wind_speed_m_per_s=21.0):
    """Hufnagel-Valley Cn2 [m^-2/3] at height h [m] above the station."""
    h = np.asarray(h_m, dtype=float)
    return (0.00594 * (wind_speed_m_per_s / 27.0) ** 2 * (1e-5 * h) ** 10 * np.exp(-h / 1000.0)
            + 2.7e-16 * np.exp(-h / 1500.0) + cn2_ground * np.exp(-h / 100.0))


def cn2_moment(power, cn2_ground=1.7e-14, wind_speed_m_per_s=21.0, top_m=_TURB_TOP_M,
               weight=None):
    """int_0^top Cn2(h) h^power [weight(h)] dh for the HV profile."""
    def f(h):
        val = cn2_hufnagel_valley(h, cn2_ground, wind_speed_m_per_s) * h ** power
        return val * weight(h) if weight is not None else val

    pts = [100.0, 500.0, 1500.0, 5000.0, 10000.0, 15000.0]
    return integrate.quad(f, 0.0, top_m, points=pts, limit=400, epsabs=0.0, epsrel=1e-9)[0]


def _sec(elevation_deg):
    return 1.0 / np.sin(np.radians(np.asarray(elevation_deg, dtype=float)))


def fried_parameter_slant(wavelength_m, elevation_deg, cn2_ground=1.7e-14,
                          wind_speed_m_per_s=21.0, direction="downlink", altitude_m=500e3):
    """Fried parameter r0 [m] on a slant path.  ``downlink``: plane wave seen
    at the ground (also the one that governs an uplink transmitter's beam
    spread); ``uplink``: spherical wave from the ground seen at the satellite
    at ``altitude_m`` (weight ((h/H)^(5/3)))."""
    k = 2.0 * math.pi / wavelength_m
    if direction == "downlink":
        mu = cn2_moment(0.0, cn2_ground, wind_speed_m_per_s)
    elif direction == "uplink":
        mu = cn2_moment(0.0, cn2_ground, wind_speed_m_per_s,
                        weight=lambda h: (h / altitude_m) ** (5.0 / 3.0))
    else:
        raise ValueError(f"direction = {direction!r} must be 'downlink' or 'uplink'")
    return (0.423 * k ** 2 * _sec(elevation_deg) * mu) ** (-0.6)


def isoplanatic_angle(wavelength_m, elevation_deg, cn2_ground=1.7e-14, wind_speed_m_per_s=21.0):
    """theta0 [rad] = [2.914 k^2 sec^(8/3) int Cn2 h^(5/3) dh]^-3/5."""
    k = 2.0 * math.pi / wavelength_m
    mu = cn2_moment(5.0 / 3.0, cn2_ground, wind_speed_m_per_s)
    return (2.914 * k ** 2 * _sec(elevation_deg) ** (8.0 / 3.0) * mu) ** (-0.6)


def rytov_variance_slant(wavelength_m, elevation_deg, cn2_ground=1.7e-14,
                         wind_speed_m_per_s=21.0, direction="downlink", altitude_m=500e3):
    """Rytov variance sigma_R^2 on a slant path (see module docstring)."""
    k = 2.0 * math.pi / wavelength_m
    if direction == "downlink":
        mu = cn2_moment(5.0 / 6.0, cn2_ground, wind_speed_m_per_s)
    else:
        mu = cn2_moment(5.0 / 6.0, cn2_ground, wind_speed_m_per_s,
                        weight=lambda h: np.clip(1.0 - h / altitude_m, 0.0, 1.0) ** (5.0 / 6.0))
    return 2.25 * k ** (7.0 / 6.0) * _sec(elevation_deg) ** (11.0 / 6.0) * mu


def rytov_variance_horizontal(cn2, wavelength_m, length_m):
    """Plane-wave Rytov variance 1.23 Cn2 k^(7/6) L^(11/6)."""
    k = 2.0 * math.pi / wavelength_m
    return 1.23 * cn2 * k ** (7.0 / 6.0) * length_m ** (11.0 / 6.0)


def downlink_beam_spread(wavelength_m, elevation_deg, range_m, w_m, altitude_m,
                         cn2_ground=1.7e-14, wind_speed_m_per_s=21.0, mu53=None):
    """(W_LT / W)^2 of a downlink beam of radius ``w_m`` at the ground (A&P
    2005 ch. 12, see the module docstring): 1 + 4.35 mu_2d Lam^(5/6) k^(7/6)
    H^(5/6) sec^(11/6)(zeta), Lam = 2L/(k W^2), mu_2d = int Cn2 (h/H)^(5/3) dh
    = H^(-5/3) int Cn2 h^(5/3) dh with H the satellite's altitude above the
    station (arrays allowed).  ~1 + 3e-4 for LEO: the turbulence is at the
    receiver end of the path.  ``mu53`` may pass int Cn2 h^(5/3) dh."""
    k = 2.0 * math.pi / wavelength_m
    if mu53 is None:
        mu53 = cn2_moment(5.0 / 3.0, cn2_ground, wind_speed_m_per_s)
    h_sat = np.asarray(altitude_m, dtype=float)
    lam = 2.0 * np.asarray(range_m, dtype=float) / (k * np.asarray(w_m, dtype=float) ** 2)
    return 1.0 + 4.35 * mu53 * h_sat ** (-5.0 / 6.0) * lam ** (5.0 / 6.0) * k ** (7.0 / 6.0) \
        * _sec(elevation_deg) ** (11.0 / 6.0)


def scintillation_index(rytov_variance):
    """Point-receiver scintillation index, weak to strong turbulence (plane wave,
    zero inner scale; Andrews & Phillips 2005).  ~ sigma_R^2 when weak."""
    s2 = np.asarray(rytov_variance, dtype=float)
    s125 = s2 ** (6.0 / 5.0)
    return np.expm1(0.49 * s2 / (1.0 + 1.11 * s125) ** (7.0 / 6.0)
                    + 0.51 * s2 / (1.0 + 0.69 * s125) ** (5.0 / 6.0))


def lognormal_moments(scint_index):
    """(mu, sigma) of ln T for a log-normal T with <T> = 1, var T = scint_index."""
    s2 = np.log1p(np.asarray(scint_index, dtype=float))
    return -0.5 * s2, np.sqrt(s2)


def seeing_fov_fraction(fov_rad, wavelength_m, r0_m, rx_diameter_m):
    """Fraction of the long-exposure focal spot inside a field stop of full
    angle ``fov``: Gaussian spot of FWHM^2 = (0.98 l/r0)^2 + (1.03 l/D)^2."""
    fwhm2 = (0.98 * wavelength_m / np.asarray(r0_m, dtype=float)) ** 2 \
        + (1.03 * wavelength_m / rx_diameter_m) ** 2
    return -np.expm1(-math.log(2.0) * fov_rad ** 2 / fwhm2)


# ==========================================================================
# Background light
# ==========================================================================
def background_photons_per_gate(sky_radiance_w_m2_sr_nm, fov_rad, rx_aperture_m,
                                filter_bandwidth_nm, gate_width_s, wavelength_m,
                                rx_efficiency=1.0):
    """Mean background photons per gate at the detectors:
    N_b = H_b Omega_fov pi a^2 d_lambda d_t / (h c / lambda) eta_rx."""
    omega = 2.0 * math.pi * (1.0 - math.cos(0.5 * fov_rad))
    area = math.pi * (0.5 * rx_aperture_m) ** 2
    power = sky_radiance_w_m2_sr_nm * omega * area * filter_bandwidth_nm
    return power * gate_width_s / (H_PLANCK * C_LIGHT / wavelength_m) * rx_efficiency


def background_click_prob(photons_per_gate, detector_efficiency=1.0, n_detectors=1):
    """Extra click probability per gate per detector: 1 - exp(-eta N_b / n)."""
    return -np.expm1(-detector_efficiency * np.asarray(photons_per_gate, dtype=float) / n_detectors)


def loss_budget_db(budget):
    """The terms of ``loss_db`` in dB (positive = loss) from a
    :meth:`FreeSpaceChannel.link_budget` dict: ``geometric`` (diffraction,
    downlink beam spreading, pointing jitter and beam wander into the
    aperture), ``atmospheric`` (extinction), ``fov`` (field-stop coupling),
    ``rx`` (receiver optics) and ``total`` = their sum = -10 log10(mean).
    The detector efficiency is not a term of the channel loss."""
    with np.errstate(divide="ignore"):
        out = {key: -10.0 * np.log10(np.asarray(budget[key], dtype=float))
               for key in ("geometric", "atmospheric", "fov", "rx")}
        out["total"] = -10.0 * np.log10(np.asarray(budget["mean"], dtype=float))
    return out


# ==========================================================================
# Correlated Gaussian series from the Philox streams
# ==========================================================================
def standard_normals(seed, component, n):
    """``n`` standard normal deviates of stream (seed, FADING, component),
    generated in fixed blocks of BLOCK_BINS by Box-Muller."""
    sub = _rng.derive_seed(seed, _rng.Purpose.FADING, component)
    n_blocks = -(-int(n) // BLOCK_BINS)
    out = np.empty(n_blocks * BLOCK_BINS)
    for b in range(n_blocks):
        u = _rng.uniform(sub, _rng.Purpose.FADING, b, BLOCK_BINS)
        rad = np.sqrt(-2.0 * np.log(u[0::2]))
        ang = 2.0 * math.pi * u[1::2]
        blk = out[b * BLOCK_BINS:(b + 1) * BLOCK_BINS]
        blk[0::2] = rad * np.cos(ang)
        blk[1::2] = rad * np.sin(ang)
    return out[:n]


def ar1_filter(xi, rho):
    """z_0 = xi_0, z_n = rho z_{n-1} + sqrt(1 - rho^2) xi_n, vectorised.

    Within chunks of m steps (rho^-m <= e^600) the recursion is the scaled
    cumulative sum z_{c+i} = rho^i [rho z_{c-1} ... ]; chunk boundaries depend
    only on rho, so a bin's value never depends on the series length."""
    xi = np.asarray(xi, dtype=float)
    n = xi.size
    if n == 0:
        return xi.copy()
    s = math.sqrt(max(0.0, 1.0 - rho * rho))
    if rho <= 0.0 or -math.log(rho) > 20.0:          # rho < 2e-9: independent
        z = s * xi
        z[0] = xi[0]
        return z
    if rho >= 1.0:
        return np.full(n, xi[0])
    lr = -math.log(rho)
    m = max(1, int(600.0 / lr))
    j = np.arange(min(m, n), dtype=float)
    up = np.exp(j * lr)          # rho^-j
    down = np.exp(-j * lr)       # rho^j
    z = np.empty(n)
    z[0] = xi[0]
    prev = xi[0]
    start = 1
    while start < n:
        stop = min(start + m, n)
        k = stop - start
        c = np.cumsum(s * xi[start:stop] * up[:k])
        # z_{start+i} = rho^(i+1) prev + sum_{l<=i} rho^(i-l) s xi_{start+l}
        z[start:stop] = down[:k] * (rho * prev + c)
        prev = z[stop - 1]
        start = stop
    return z


def gauss_markov(seed, component, n, dt_s, tau_s):
    """Stationary unit-variance AR(1) series with autocorrelation
    exp(-|t|/tau) sampled every dt (the exact discretisation of an
    Ornstein-Uhlenbeck process).  tau = 0 gives independent samples."""
    xi = standard_normals(seed, component, n)
    if n == 0 or tau_s <= 0.0:
        return xi
    return ar1_filter(xi, math.exp(-dt_s / tau_s))


# ==========================================================================
# Configuration
# ==========================================================================
_COMMON_KEYS = (
    "type", "wavelength_nm", "tx_aperture_m", "beam_waist_m", "divergence_half_angle_urad",
    "rx_aperture_m", "pointing_jitter_urad", "pointing_correlation_ms", "cn2_ground",
    "rx_efficiency", "sky_radiance_w_m2_sr_nm", "fov_urad", "filter_bandwidth_nm",
    "gate_width_ns", "time_bin_s", "coherence_time_ms", "fading_model", "misalignment",
)
_SAT_KEYS = (
    "zenith_transmittance", "wind_speed_m_per_s", "min_elevation_deg",
    "tle_line1", "tle_line2", "start_utc", "pass_search_hours",
    "station_lat_deg", "station_lon_deg", "station_alt_m",
    "altitude_km", "max_elevation_deg", "pass_duration_s",
)
_FS_KEYS = ("length_km", "visibility_km", "visibility_model", "duration_s")


@dataclass(frozen=True)
class FreeSpaceChannel:
    """A free-space or satellite optical channel (the ``[channel]`` section).

    Keys (units in the names; apertures are diameters; divergence is the
    far-field 1/e^2 half angle; fov is the full angle; jitter is rms per axis):
    see ``_COMMON_KEYS``, ``_SAT_KEYS`` (satellite-*) and ``_FS_KEYS``
    (free-space).  A satellite pass comes from a TLE (``tle_line1/2``,
    ``station_*``, ``start_utc``: the first pass above ``min_elevation_deg``
    after it) or, without a TLE, from a circular orbit (``altitude_km``,
    ``max_elevation_deg``, optional ``pass_duration_s``).
    """

    type: str
    wavelength_nm: float = 850.0
    tx_aperture_m: float | None = None
    beam_waist_m: float | None = None
    divergence_half_angle_urad: float | None = None
    rx_aperture_m: float = 1.0
    pointing_jitter_urad: float = 0.0
    pointing_correlation_ms: float | None = None
    cn2_ground: float = 1.7e-14
    rx_efficiency: float = 1.0
    sky_radiance_w_m2_sr_nm: float = SKY_RADIANCE_PRESETS["night"]
    fov_urad: float = 100.0
    filter_bandwidth_nm: float = 1.0
    gate_width_ns: float = 1.0
    time_bin_s: float = 0.01
    coherence_time_ms: float = 10.0
    fading_model: str = "auto"
    misalignment: float = 0.01
    # satellite
    zenith_transmittance: float = 0.8
    wind_speed_m_per_s: float = 21.0
    min_elevation_deg: float = 10.0
    tle_line1: str | None = None
    tle_line2: str | None = None
    start_utc: str | None = None
    pass_search_hours: float = 48.0
    station_lat_deg: float | None = None
    station_lon_deg: float | None = None
    station_alt_m: float = 0.0
    altitude_km: float | None = None
    max_elevation_deg: float | None = None
    pass_duration_s: float | None = None
    # horizontal free space
    length_km: float | None = None
    visibility_km: float = 23.0
    visibility_model: str = "kim"
    duration_s: float = 1.0
    _orbit: object = field(default=None, repr=False, compare=False)

    # ---------------------------------------------------------------- input
    def to_dict(self):
        """The section's keys for this channel type (None for unset ones);
        ``from_dict(to_dict())`` gives the same channel."""
        allowed = _COMMON_KEYS + (_FS_KEYS if self.type == "free-space" else _SAT_KEYS)
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in allowed}

    @classmethod
    def from_dict(cls, d, section="channel"):
        """Build and validate from a scenario section; unknown keys rejected."""
        if not isinstance(d, dict):
            raise ValueError(f"{section} must be a table of keys")
        if "type" not in d:
            raise ValueError(f"{section}.type is required: one of {', '.join(map(repr, CHANNEL_TYPES))}")
        ctype = check_choice(f"{section}.type", d["type"], CHANNEL_TYPES)
        allowed = _COMMON_KEYS + (_FS_KEYS if ctype == "free-space" else _SAT_KEYS)
        reject_unknown(section, d, allowed)
        kw = dict(d)
        sky = kw.get("sky_radiance_w_m2_sr_nm")
        if isinstance(sky, str):
            kw["sky_radiance_w_m2_sr_nm"] = SKY_RADIANCE_PRESETS.get(sky, sky)
        obj = cls(**kw)
        obj._validate(section)
        return obj

    def _validate(self, s):
        p = f"{s}."
        check_real(p + "wavelength_nm", self.wavelength_nm, 200.0, 12000.0)
        if self.tx_aperture_m is None and self.beam_waist_m is None:
            raise ValueError(f"{p}tx_aperture_m or {p}beam_waist_m is required")
        if self.tx_aperture_m is not None:
            check_real(p + "tx_aperture_m", self.tx_aperture_m, 0.0, 20.0, lo_open=True)
        if self.beam_waist_m is not None:
            check_real(p + "beam_waist_m", self.beam_waist_m, 0.0, 10.0, lo_open=True)
        if self.divergence_half_angle_urad is not None:
            diff = self.wavelength_m / (math.pi * self.w0_m) * 1e6
            check_real(p + "divergence_half_angle_urad", self.divergence_half_angle_urad,
                       round(diff, 6), 1e5)
        check_real(p + "rx_aperture_m", self.rx_aperture_m, 0.0, 20.0, lo_open=True)
        check_real(p + "misalignment", self.misalignment, 0.0, 0.5)
        check_real(p + "pointing_jitter_urad", self.pointing_jitter_urad, 0.0, 1e4)
        if self.pointing_correlation_ms is not None:
            check_real(p + "pointing_correlation_ms", self.pointing_correlation_ms, 0.0, 1e7)
        check_real(p + "cn2_ground", self.cn2_ground, 0.0, 1e-10)
        check_prob(p + "rx_efficiency", self.rx_efficiency, lo_open=True)
        if isinstance(self.sky_radiance_w_m2_sr_nm, str):
            raise ValueError(
                f"{p}sky_radiance_w_m2_sr_nm = {self.sky_radiance_w_m2_sr_nm!r} must be a number "
                f">= 0 or one of {', '.join(map(repr, SKY_RADIANCE_PRESETS))}")
        check_real(p + "sky_radiance_w_m2_sr_nm", self.sky_radiance_w_m2_sr_nm, 0.0, 10.0)
        check_real(p + "fov_urad", self.fov_urad, 0.0, 1e5, lo_open=True)
        check_real(p + "filter_bandwidth_nm", self.filter_bandwidth_nm, 0.0, 1e3, lo_open=True)
        check_real(p + "gate_width_ns", self.gate_width_ns, 0.0, 1e6, lo_open=True)
        check_real(p + "time_bin_s", self.time_bin_s, 0.0, 3600.0, lo_open=True)
        check_real(p + "coherence_time_ms", self.coherence_time_ms, 0.0, 1e7)
        check_choice(p + "fading_model", self.fading_model, FADING_MODELS)
        if self.type == "free-space":
            if self.length_km is None:
                raise ValueError(f"{p}length_km is required for type = 'free-space'")
            check_real(p + "length_km", self.length_km, 0.0, 1000.0, lo_open=True)
            check_real(p + "visibility_km", self.visibility_km, 0.0, 1000.0, lo_open=True)
            check_choice(p + "visibility_model", self.visibility_model, ("kim", "kruse"))
            check_real(p + "duration_s", self.duration_s, 0.0, 1e6, lo_open=True)
            return
        check_prob(p + "zenith_transmittance", self.zenith_transmittance, lo_open=True)
        check_real(p + "wind_speed_m_per_s", self.wind_speed_m_per_s, 0.0, 200.0)
        check_real(p + "min_elevation_deg", self.min_elevation_deg, 0.0, 89.0)
        check_real(p + "station_alt_m", self.station_alt_m, -500.0, 9000.0)
        from qchannel import orbits

        if self.tle_line1 is not None or self.tle_line2 is not None:
            if self.tle_line1 is None or self.tle_line2 is None:
                raise ValueError(f"{p}tle_line1 and {p}tle_line2 must be given together")
            for key in ("station_lat_deg", "station_lon_deg", "start_utc"):
                if getattr(self, key) is None:
                    raise ValueError(f"{p}{key} is required with a TLE")
            for key in ("altitude_km", "max_elevation_deg", "pass_duration_s"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{p}{key} is for circular orbits: not allowed with a TLE")
            check_real(p + "pass_search_hours", self.pass_search_hours, 0.0, 24.0 * 30, lo_open=True)
            orbits.parse_utc(self.start_utc, p + "start_utc")
            orbits.GroundStation(self.station_lat_deg, self.station_lon_deg, self.station_alt_m)
            object.__setattr__(self, "_orbit", orbits.TLEOrbit(self.tle_line1, self.tle_line2,
                                                               name=p + "tle_line1/2"))
        else:
            for key in ("altitude_km", "max_elevation_deg"):
                if getattr(self, key) is None:
                    raise ValueError(f"{p}{key} is required for a satellite channel without a TLE")
            if self.pass_duration_s is not None:
                check_real(p + "pass_duration_s", self.pass_duration_s, 0.0, 86400.0, lo_open=True)
            object.__setattr__(self, "_orbit", orbits.CircularPass(
                self.altitude_km, self.max_elevation_deg, self.min_elevation_deg))

    # ------------------------------------------------------------ derived
    @property
    def wavelength_m(self):
        return self.wavelength_nm * 1e-9

    @property
    def w0_m(self):
        """Transmit beam waist: ``beam_waist_m``, else half of ``tx_aperture_m``."""
        return self.beam_waist_m if self.beam_waist_m is not None else 0.5 * self.tx_aperture_m

    @property
    def divergence_rad(self):
        d = self.divergence_half_angle_urad
        return None if d is None else d * 1e-6

    @property
    def is_satellite(self):
        return self.type != "free-space"

    @property
    def uplink(self):
        return self.type == "satellite-uplink"

    @property
    def effective_fading_model(self):
        if self.fading_model != "auto":
            return self.fading_model
        return "beam-wander" if self.uplink else "combined"

    # ------------------------------------------------------------ geometry
    def pass_geometry(self, time_bin_s=None):
        """Time grid over the usable pass (elevation >= min_elevation_deg) or,
        for free space, over ``duration_s``; geometry at bin centres.
        Returns (t_s, elevation_deg, range_km, extra) with t_s the bin starts."""
        from qchannel import orbits

        dt = self.time_bin_s if time_bin_s is None else check_real(
            "run.time_bin_s", time_bin_s, 0.0, 3600.0, lo_open=True)
        extra = {}
        if self.type == "free-space":
            n = max(1, int(round(self.duration_s / dt)))
            t = np.arange(n) * dt
            return t, np.zeros(n), np.full(n, self.length_km), extra
        if isinstance(self._orbit, orbits.TLEOrbit):
            station = orbits.GroundStation(self.station_lat_deg, self.station_lon_deg, self.station_alt_m)
            pas = self._orbit.find_next_pass(station, self.start_utc, self.min_elevation_deg,
                                             self.pass_search_hours)
            n = max(1, int(math.floor(pas.duration_s / dt)))
            t = np.arange(n) * dt
            g = self._orbit.geometry(station, pas.rise_utc, t + 0.5 * dt)
            extra = {"pass": pas, "azimuth_deg": g.azimuth_deg, "start_utc": pas.rise_utc}
            return t, g.elevation_deg, g.range_km, extra
        dur = self._orbit.duration_s if self.pass_duration_s is None else self.pass_duration_s
        n = max(1, int(math.floor(dur / dt)))
        t = np.arange(n) * dt
        g = self._orbit.geometry(t + 0.5 * dt, duration_s=dur)
        return t, g.elevation_deg, g.range_km, extra

    # ------------------------------------------------------------ physics
    def _turbulence_integrals(self):
        cache = getattr(self, "_turb_cache", None)
        if cache is None:
            args = (self.cn2_ground, self.wind_speed_m_per_s)
            cache = {
                "mu0": cn2_moment(0.0, *args),
                "mu56": cn2_moment(5.0 / 6.0, *args),
                "mu2": cn2_moment(2.0, *args),
                "mu53": cn2_moment(5.0 / 3.0, *args),
            }
            object.__setattr__(self, "_turb_cache", cache)
        return cache

    def link_budget(self, elevation_deg, range_km):
        """Mean-channel quantities for arrays of elevation [deg] and range [km].
        Returns a dict of arrays: beam_radius_m (short-term at the receiver;
        for a downlink the turbulence-broadened long-term radius),
        wander_sigma_m (rms per axis, pointing + beam wander), geometric
        (mean aperture fraction incl. jitter/wander), atmospheric, fov
        (seeing-limited field-stop coupling), rx (receiver optics), mean
        (product), r0_m (at the receiver), rytov, scint_index (aperture-averaged)."""
        el = np.asarray(elevation_deg, dtype=float)
        L = np.asarray(range_km, dtype=float) * 1e3
        lam = self.wavelength_m
        k = 2.0 * math.pi / lam
        a = 0.5 * self.rx_aperture_m
        w0 = self.w0_m
        w_diff = beam_radius(L, w0, lam, self.divergence_rad)
        sigma_point = self.pointing_jitter_urad * 1e-6 * L
        wander2 = np.zeros_like(L)  # <r_c^2>, radial mean square
        w_st = w_diff
        if self.type == "free-space":
            cn2 = self.cn2_ground
            r0_rx = (0.423 * 3.0 / 8.0 * k ** 2 * cn2 * L) ** (-0.6) if cn2 > 0 else np.full_like(L, np.inf)
            rytov = rytov_variance_horizontal(cn2, lam, L)
            aav = (1.0 + 1.062 * k * self.rx_aperture_m ** 2 / (4.0 * L)) ** (-7.0 / 6.0)
            atm = np.full_like(L, 1.0) * np.exp(
                -visibility_attenuation_per_km(self.visibility_km, self.wavelength_nm,
                                               self.visibility_model) * L / 1e3)
            if cn2 > 0:
                wander2 = 2.42 * cn2 * L ** 3 * w0 ** (-1.0 / 3.0)
                corr = np.clip(1.0 - 0.26 * (r0_rx / w0) ** (1.0 / 3.0), 0.0, None)
                w_st = np.sqrt(w_diff ** 2 + 2.0 * (4.2 * L / (k * r0_rx) * corr) ** 2)
        else:
            ti = self._turbulence_integrals()
            sec = _sec(np.maximum(el, 1e-3))
            atm = slant_transmittance(self.zenith_transmittance, el)
            with np.errstate(divide="ignore"):
                r0_ground = (0.423 * k ** 2 * sec * ti["mu0"]) ** (-0.6)
            if self.uplink:
                alt_m = np.maximum(L / sec, 1e5)
                # the satellite receiver sees a spherical wave: large r0
                r0_rx = self._uplink_r0_interp(el, alt_m)
                rytov = 2.25 * k ** (7.0 / 6.0) * sec ** (11.0 / 6.0) * ti["mu56"]
                aav = (1.0 + 1.062 * k * self.rx_aperture_m ** 2 / (4.0 * L)) ** (-7.0 / 6.0)
                wander2 = 0.54 * L ** 2 * (lam / (2.0 * w0)) ** 2 * (2.0 * w0 / r0_ground) ** (5.0 / 3.0)
                corr = np.clip(1.0 - 0.26 * (r0_ground / w0) ** (1.0 / 3.0), 0.0, None)
                w_st = np.sqrt(w_diff ** 2 + 2.0 * (4.2 * L / (k * r0_ground) * corr) ** 2)
            else:
                r0_rx = r0_ground
                rytov = 2.25 * k ** (7.0 / 6.0) * sec ** (11.0 / 6.0) * ti["mu56"]
                h_t = (ti["mu2"] / ti["mu56"]) ** (6.0 / 7.0)
                aav = 1.0 / (1.0 + 1.1 * (self.rx_aperture_m ** 2 / (lam * h_t * sec)) ** (7.0 / 6.0))
                # turbulence broadening of the downlink beam (negligible, kept
                # so that the loss definition is complete), with the satellite's
                # altitude above the station from range and elevation (spherical Earth)
                re_m = 6371e3
                alt_m = np.sqrt(re_m ** 2 + L ** 2 + 2.0 * re_m * L / sec) - re_m
                w_st = w_diff * np.sqrt(downlink_beam_spread(
                    lam, np.maximum(el, 1e-3), L, w_diff, np.maximum(alt_m, 1e5),
                    mu53=ti["mu53"]))
        sigma2 = sigma_point ** 2 + 0.5 * wander2
        sigma = np.sqrt(sigma2)
        geometric = mean_aperture_fraction(a, w_st, sigma)
        fov = seeing_fov_fraction(self.fov_urad * 1e-6, lam, r0_rx, self.rx_aperture_m)
        scint = aav * scintillation_index(rytov)
        mean = geometric * atm * fov * self.rx_efficiency
        return {
            "beam_radius_m": w_st, "diffraction_radius_m": w_diff, "wander_sigma_m": sigma,
            "pointing_sigma_m": sigma_point, "geometric": geometric, "atmospheric": atm,
            "fov": fov, "rx": np.full_like(L, self.rx_efficiency), "mean": mean,
            "r0_m": r0_rx, "rytov": rytov, "scint_index": scint,
        }

    def _uplink_r0_interp(self, el, alt_m):
        el = np.asarray(el, dtype=float)
        grid = np.linspace(max(float(np.min(el)), 0.5), max(float(np.max(el)), 0.6), 24)
        h = float(np.median(alt_m))
        vals = np.array([fried_parameter_slant(self.wavelength_m, e, self.cn2_ground,
                                               self.wind_speed_m_per_s, "uplink", h) for e in grid])
        return np.interp(el, grid, vals)

    def background_photons_per_gate(self):
        return background_photons_per_gate(
            self.sky_radiance_w_m2_sr_nm, self.fov_urad * 1e-6, self.rx_aperture_m,
            self.filter_bandwidth_nm, self.gate_width_ns * 1e-9, self.wavelength_m,
            self.rx_efficiency)

    def segments(self, seed, rep_rate_hz, detector, pulses=None, time_bin_s=None):
        """The channel interface (:class:`qchannel.channels.ChannelSegments`):
        one segment per time bin of the pass (or of ``duration_s``), its faded
        transmittance and background; the pass sets the pulses."""
        from qchannel.channels import ChannelSegments

        if pulses is not None:
            raise ValueError("run.pulses does not apply to a free-space or satellite channel: "
                             "the pass (or channel.duration_s) and the rep rate set the pulses")
        series = self.series(seed, time_bin_s=time_bin_s,
                             detector_efficiency=detector.efficiency,
                             n_detectors=detector.n_detectors)
        slots_per_bin = max(1, int(round(series.time_bin_s * rep_rate_hz)))
        n = len(series.transmittance)
        return ChannelSegments(np.arange(n, dtype=np.int64) * slots_per_bin,
                               np.asarray(series.transmittance, float),
                               np.asarray(series.background_click_prob, float),
                               slots_per_bin * n, series)

    # ------------------------------------------------------------ series
    def series(self, seed, time_bin_s=None, detector_efficiency=1.0, n_detectors=4):
        """Per-time-bin series of the channel.  Returns :class:`LinkSeries`.

        ``transmittance[i]`` is the faded transmittance of bin i (constant
        within the bin), ``mean_transmittance[i]`` its expectation; the same
        ``seed`` gives bit-identical series.  ``background_click_prob`` is the
        extra click probability per gate per detector for ``n_detectors``
        detectors of efficiency ``detector_efficiency``."""
        seed = _rng.check_seed(seed)
        detector_efficiency = check_prob("detector.efficiency", detector_efficiency)
        n_detectors = check_int("n_detectors", n_detectors, 1, 64)
        t, el, rng_km, extra = self.pass_geometry(time_bin_s)
        dt = self.time_bin_s if time_bin_s is None else float(time_bin_s)
        n = t.size
        lb = self.link_budget(el, rng_km)
        model = self.effective_fading_model
        trans = lb["mean"].copy()
        if model in ("beam-wander", "combined"):
            tau_p = (self.coherence_time_ms if self.pointing_correlation_ms is None
                     else self.pointing_correlation_ms) * 1e-3
            # beam wander is turbulence: it shares the coherence time; pointing
            # jitter may have its own.  Both are Gaussian offsets and add.
            sp = lb["pointing_sigma_m"]
            sw = np.sqrt(np.maximum(lb["wander_sigma_m"] ** 2 - sp ** 2, 0.0))
            tau_w = self.coherence_time_ms * 1e-3
            x = sp * gauss_markov(seed, "pointing-x", n, dt, tau_p) \
                + sw * gauss_markov(seed, "wander-x", n, dt, tau_w)
            y = sp * gauss_markov(seed, "pointing-y", n, dt, tau_p) \
                + sw * gauss_markov(seed, "wander-y", n, dt, tau_w)
            geo = beam_wander_transmittance(np.hypot(x, y), 0.5 * self.rx_aperture_m, lb["beam_radius_m"])
            trans = geo * lb["atmospheric"] * lb["fov"] * self.rx_efficiency
        if model in ("lognormal", "combined"):
            mu, sig = lognormal_moments(lb["scint_index"])
            z = gauss_markov(seed, "scintillation", n, dt, self.coherence_time_ms * 1e-3)
            trans = trans * np.exp(mu + sig * z)
        trans = np.clip(trans, 0.0, 1.0)
        nb = self.background_photons_per_gate()
        with np.errstate(divide="ignore"):
            loss_db = -10.0 * np.log10(lb["mean"])
        return LinkSeries(
            t_s=t, time_bin_s=dt, elevation_deg=el, range_km=rng_km,
            mean_transmittance=lb["mean"], transmittance=trans, loss_db=loss_db,
            background_photons_per_gate=np.full(n, nb),
            background_click_prob=np.full(n, float(background_click_prob(nb, detector_efficiency, n_detectors))),
            fading_model=model, budget=lb, extra=extra,
        )


#: the same class serves satellite links
SatelliteChannel = FreeSpaceChannel


@dataclass(frozen=True)
class LinkSeries:
    """Per-time-bin channel series (all arrays of length n_bins).

    t_s: bin start [s] from the start of the usable pass (rise above
    min_elevation_deg) or of the free-space run; elevation_deg, range_km:
    geometry at bin centres; mean_transmittance, loss_db (= -10 log10 of the
    mean); transmittance: faded sample; background_photons_per_gate: at the
    detectors (all of them together); background_click_prob: per gate per
    detector.  ``budget`` holds the link-budget components, ``extra`` the pass
    (TLE) and azimuths."""

    t_s: np.ndarray
    time_bin_s: float
    elevation_deg: np.ndarray
    range_km: np.ndarray
    mean_transmittance: np.ndarray
    transmittance: np.ndarray
    loss_db: np.ndarray
    background_photons_per_gate: np.ndarray
    background_click_prob: np.ndarray
    fading_model: str
    budget: dict
    extra: dict

    @property
    def sampled_loss_db(self):
        with np.errstate(divide="ignore"):
            return -10.0 * np.log10(self.transmittance)


def channel_from_dict(d, section="channel"):
    """Convenience: :meth:`FreeSpaceChannel.from_dict`."""
    return FreeSpaceChannel.from_dict(d, section)

