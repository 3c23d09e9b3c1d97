"""Atmosphere of free-space and satellite optical links: extinction,
turbulence (Hufnagel-Valley Cn2, Fried parameter, Rytov variance,
scintillation, seeing) and background light.

Elevations are in degrees above the horizon; heights are above the station.
Used by :class:`qchannel.freespace.FreeSpaceChannel`.

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

Background light (Miao et al., NJP 7, 215 (2005); Bourgoin et al. 2013):
    N_b = H_b * Omega_fov * (pi a^2) * d_lambda * d_t / (h c / lambda) * eta_rx
  mean photons per gate reaching the detectors, with H_b the sky (or, for an
  uplink, Earth) radiance in W m^-2 sr^-1 nm^-1, Omega_fov = 2 pi (1 - cos(fov/2))
  the solid angle of the field stop, a the receiver aperture radius, d_lambda
  the filter bandwidth [nm], d_t the gate (coincidence window).  The extra
  click probability per gate per detector, for ``n_detectors`` sharing the
  light evenly: p_b = 1 - exp(-eta_det N_b / n_detectors).
"""
import math

import numpy as np
from scipy import integrate

H_PLANCK = 6.62607015e-34
C_LIGHT = 299792458.0

#: indicative sky radiances at ~850 nm, W m^-2 sr^-1 nm^-1 (order-of-magnitude
#: estimates, see examples/micius_night_vs_day.md): a dark site on a moonless
#: night (~20 mag/arcsec^2 in the I band incl. airglow), a full-moon night, a
#: clear daytime sky away from the Sun.
SKY_RADIANCE_PRESETS = {"night": 1.5e-8, "full-moon": 1.5e-6, "day": 1.0e-2}

_TURB_TOP_M = 30000.0


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


def sec_zenith(elevation_deg):
    """sec of the zenith angle, 1 / sin(elevation)."""
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
    return (0.423 * k ** 2 * sec_zenith(elevation_deg) * mu) ** (-0.6)


def isoplanatic_angle(wavelength_m, elevation_deg, cn2_ground=1.7e-14, wind_speed_m_per_s=21.0):
    """theta0 [rad] = [2.914 k^2 sec^(8/3) int Cn2 h^(5/3) dh]^-3/5."""
    k = 2.0 * math.pi / wavelength_m
    mu = cn2_moment(5.0 / 3.0, cn2_ground, wind_speed_m_per_s)
    return (2.914 * k ** 2 * sec_zenith(elevation_deg) ** (8.0 / 3.0) * mu) ** (-0.6)


def rytov_variance_slant(wavelength_m, elevation_deg, cn2_ground=1.7e-14,
                         wind_speed_m_per_s=21.0, direction="downlink", altitude_m=500e3):
    """Rytov variance sigma_R^2 on a slant path (see module docstring)."""
    k = 2.0 * math.pi / wavelength_m
    if direction == "downlink":
        mu = cn2_moment(5.0 / 6.0, cn2_ground, wind_speed_m_per_s)
    else:
        mu = cn2_moment(5.0 / 6.0, cn2_ground, wind_speed_m_per_s,
                        weight=lambda h: np.clip(1.0 - h / altitude_m, 0.0, 1.0) ** (5.0 / 6.0))
    return 2.25 * k ** (7.0 / 6.0) * sec_zenith(elevation_deg) ** (11.0 / 6.0) * mu


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
        * sec_zenith(elevation_deg) ** (11.0 / 6.0)


def scintillation_index(rytov_variance):
    """Point-receiver scintillation index, weak to strong turbulence (plane wave,
    zero inner scale; Andrews & Phillips 2005).  ~ sigma_R^2 when weak."""
    s2 = np.asarray(rytov_variance, dtype=float)
    s125 = s2 ** (6.0 / 5.0)
    return np.expm1(0.49 * s2 / (1.0 + 1.11 * s125) ** (7.0 / 6.0)
                    + 0.51 * s2 / (1.0 + 0.69 * s125) ** (5.0 / 6.0))


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
