"""Fading of free-space optical links: Gaussian beams into circular apertures,
beam wander (Vasylyev et al.), log-normal scintillation and the correlated
Gauss-Markov series that drive them.

Beam radii ``W`` are 1/e^2 intensity radii, I(rho) ~ exp(-2 rho^2 / W^2); ``a`` is
an aperture radius.  Used by :class:`qchannel.freespace.FreeSpaceChannel`.

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
"""
import math

import numpy as np
from scipy import special

from qchannel import rng as _rng
from qchannel.params import check_real

#: time bins per block of the fading random streams (part of the reproducibility contract)
BLOCK_BINS = 65536


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


def lognormal_moments(scint_index):
    """(mu, sigma) of ln T for a log-normal T with <T> = 1, var T = scint_index."""
    s2 = np.log1p(np.asarray(scint_index, dtype=float))
    return -0.5 * s2, np.sqrt(s2)



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
