"""Free-space / satellite link physics: closed forms, fading statistics,
reproducibility, the Micius example against Liao et al. (2017), validation."""
import math
import pathlib

import numpy as np
import pytest
from scipy.integrate import trapezoid

from qchannel import atmosphere
from qchannel import fading
from qchannel import freespace as fs
from qchannel.freespace import FreeSpaceChannel

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


# ---------------------------------------------------------------- beams
def test_gaussian_beam_width():
    w0, lam = 0.15, 848.6e-9
    zr = fading.rayleigh_range(w0, lam)
    assert zr == pytest.approx(math.pi * w0 ** 2 / lam)
    assert fading.beam_radius(0.0, w0, lam) == pytest.approx(w0)
    assert fading.beam_radius(zr, w0, lam) == pytest.approx(math.sqrt(2.0) * w0)
    z = 1000e3  # far field (z = 12 zR): W -> lambda z / (pi W0) up to (zR/z)^2 / 2
    assert fading.beam_radius(z, w0, lam) == pytest.approx(lam * z / (math.pi * w0), rel=0.004)
    # a divergence equal to the diffraction limit reproduces the same beam
    theta = lam / (math.pi * w0)
    assert fading.beam_radius(z, w0, lam, theta) == pytest.approx(fading.beam_radius(z, w0, lam))
    assert fading.beam_radius(z, w0, lam, 5e-6) == pytest.approx(math.hypot(w0, 5.0), rel=1e-12)


def test_aperture_fraction_limits():
    assert fading.aperture_fraction(1.0, 1.0) == pytest.approx(1.0 - math.exp(-2.0))
    assert fading.aperture_fraction(100.0, 1.0) == pytest.approx(1.0)
    a, w = 1e-3, 1.0
    assert fading.aperture_fraction(a, w) == pytest.approx(2.0 * a * a / (w * w), rel=1e-5)
    # exact off-axis fraction: r = 0 is the centred one, far off-axis -> 0
    assert fading.aperture_fraction_offset(0.5, 1.0, 0.0) == pytest.approx(fading.aperture_fraction(0.5, 1.0))
    assert fading.aperture_fraction_offset(0.5, 1.0, 10.0) < 1e-20
    # small aperture: fraction ~ centred * exp(-2 r^2 / W^2)
    assert fading.aperture_fraction_offset(1e-3, 1.0, 0.7) == pytest.approx(
        fading.aperture_fraction(1e-3, 1.0) * math.exp(-2 * 0.49), rel=1e-5)


@pytest.mark.parametrize("a_over_w", [0.05, 0.3, 1.0, 2.0])
def test_vasylyev_closed_form_matches_exact(a_over_w):
    r = np.linspace(0.0, 3.0, 61)
    exact = fading.aperture_fraction_offset(a_over_w, 1.0, r)
    approx = fading.beam_wander_transmittance(r, a_over_w, 1.0)
    assert approx[0] == pytest.approx(exact[0], rel=1e-12)   # T0 exact on axis
    # not statistical: the closed form's own error, max 2.8e-9, 8.7e-5, 8.9e-3
    # and 1.26e-2 for a/W = 0.05, 0.3, 1, 2 (Vasylyev et al. 2012, Fig. 2)
    assert np.max(np.abs(approx - exact)) < 0.015


def test_mean_fraction_under_jitter_closed_form_vs_monte_carlo():
    a, w, sigma = 0.5, 2.0, 0.8
    x = sigma * fading.standard_normals(7, "test-x", 200_000)
    y = sigma * fading.standard_normals(7, "test-y", 200_000)
    samples = fading.aperture_fraction_offset(a, w, np.hypot(x, y))
    mean = fading.mean_aperture_fraction(a, w, sigma)
    se = samples.std() / math.sqrt(samples.size)
    assert abs(samples.mean() - mean) < 5 * se                  # 5 sigma
    # Vasylyev's closed form, same offsets: within its model error (not a
    # statistical tolerance: the same samples, ~1 % bias at a/W = 0.25)
    vas = fading.beam_wander_transmittance(np.hypot(x, y), a, w).mean()
    assert vas == pytest.approx(mean, rel=0.02)
    # and its transmittance pdf integrates to one with the same mean
    # (quadrature error of 4e5 trapezoids over the integrable 1/T singularity)
    t0 = float(fading.vasylyev_parameters(a, w)[0])
    t = np.linspace(1e-9, t0, 400_001)[:-1]
    pdf = fading.beam_wander_pdf(t, a, w, sigma)
    assert trapezoid(pdf, t) == pytest.approx(1.0, abs=2e-3)
    assert trapezoid(t * pdf, t) == pytest.approx(vas, rel=2e-3)


# ---------------------------------------------------------------- atmosphere
def test_air_mass_and_extinction():
    assert atmosphere.air_mass(90.0) == pytest.approx(1.0, abs=1e-12)
    assert atmosphere.air_mass(30.0) == pytest.approx(1.9927 / 0.99971, rel=1e-3)   # ~ sec(60 deg)
    assert atmosphere.air_mass(0.0) == pytest.approx(38.09, rel=1e-2)               # Kasten-Young horizon
    am = atmosphere.air_mass(np.linspace(5.0, 90.0, 50))
    assert np.all(np.diff(am) < 0)
    assert atmosphere.slant_transmittance(0.8, 90.0) == pytest.approx(0.8)
    assert atmosphere.slant_transmittance(0.8, -1.0) == 0.0
    # visibility: 3.91/V at 550 nm (q plays no role there); Kim's q
    assert atmosphere.visibility_attenuation_per_km(23.0, 550.0) == pytest.approx(3.91 / 23.0)
    assert atmosphere.visibility_q(60.0) == 1.6 and atmosphere.visibility_q(10.0) == 1.3
    assert atmosphere.visibility_q(3.0) == pytest.approx(0.82) and atmosphere.visibility_q(0.3) == 0.0
    assert atmosphere.visibility_q(3.0, "kruse") == pytest.approx(0.585 * 3 ** (1 / 3))
    assert atmosphere.horizontal_transmittance(23.0, 550.0, 2.0) == pytest.approx(math.exp(-2 * 3.91 / 23))


# ---------------------------------------------------------------- turbulence
def test_hufnagel_valley_5_7():
    """HV 5/7: r0 = 5 cm and theta0 = 7 urad at 0.5 um, zenith."""
    assert atmosphere.fried_parameter_slant(0.5e-6, 90.0) == pytest.approx(0.05, rel=0.02)
    assert atmosphere.isoplanatic_angle(0.5e-6, 90.0) == pytest.approx(7e-6, rel=0.03)
    r0 = atmosphere.fried_parameter_slant(0.5e-6, 90.0)
    assert atmosphere.fried_parameter_slant(1.0e-6, 90.0) == pytest.approx(r0 * 2 ** 1.2, rel=1e-9)
    assert atmosphere.fried_parameter_slant(0.5e-6, 30.0) == pytest.approx(r0 * 2 ** -0.6, rel=1e-9)
    # the satellite end of an uplink sees a much larger coherence width
    assert atmosphere.fried_parameter_slant(0.5e-6, 90.0, direction="uplink") > 20 * r0
    assert atmosphere.cn2_hufnagel_valley(0.0) == pytest.approx(1.7e-14 + 2.7e-16)


def test_scintillation_index_weak_limit_and_rytov():
    assert atmosphere.scintillation_index(1e-3) == pytest.approx(1e-3, rel=2e-3)
    assert atmosphere.scintillation_index(100.0) == pytest.approx(1.0, abs=0.2)    # saturation
    assert atmosphere.rytov_variance_horizontal(1e-14, 1e-6, 1000.0) == pytest.approx(
        1.23e-14 * (2 * math.pi / 1e-6) ** (7 / 6) * 1000.0 ** (11 / 6))
    low = atmosphere.rytov_variance_slant(850e-9, 20.0)
    assert low > atmosphere.rytov_variance_slant(850e-9, 90.0)
    assert atmosphere.rytov_variance_slant(850e-9, 90.0) == pytest.approx(
        low * (math.sin(math.radians(20.0))) ** (11 / 6))


def test_lognormal_sampling_moments():
    """T = exp(sigma z - sigma^2/2): mean 1, variance = scintillation index."""
    s2 = 0.3
    mu, sig = fading.lognormal_moments(s2)
    n = 400_000
    t = np.exp(mu + sig * fading.gauss_markov(11, "scintillation", n, 1e-3, 0.0))
    # moments of a mean-one log-normal: E[T^k] = exp(sigma^2 k (k-1) / 2)
    m = [math.exp(sig ** 2 * k * (k - 1) / 2) for k in range(5)]
    var = m[2] - 1.0
    mu4 = m[4] - 4 * m[3] + 6 * m[2] - 3
    assert var == pytest.approx(s2)
    assert abs(t.mean() - 1.0) < 5 * math.sqrt(var / n)
    assert abs(t.var() - var) < 5 * math.sqrt((mu4 - var ** 2) / n)


def test_correlation_time_of_series():
    n, dt, tau = 200_000, 1e-3, 10e-3
    z = fading.gauss_markov(5, "scintillation", n, dt, tau)
    rho = math.exp(-dt / tau)
    assert abs(z.mean()) < 5 * math.sqrt((1 + rho) / (1 - rho) / n)          # 5 sigma
    # sample variance of an AR(1) series: sigma = sqrt(2 (1 + rho^2) / ((1 - rho^2) n))
    # = 0.010 here; 5 sigma
    assert z.var() == pytest.approx(1.0, abs=5 * math.sqrt(2 * (1 + rho**2) / ((1 - rho**2) * n)))
    for lag in (1, 5, 10, 30):
        r = np.dot(z[:-lag] - z.mean(), z[lag:] - z.mean()) / ((n - lag) * z.var())
        expect = math.exp(-lag * dt / tau)
        se = math.sqrt((1 + rho) / (1 - rho) / n)   # rough standard error
        assert abs(r - expect) < 5 * se
    # independent when tau = 0: lag-1 correlation within 5 sigma = 5 / sqrt(n)
    z0 = fading.gauss_markov(5, "scintillation", 50_000, dt, 0.0)
    assert abs(np.corrcoef(z0[:-1], z0[1:])[0, 1]) < 5 / math.sqrt(50_000)


def test_reproducibility_and_blocks():
    a = fading.gauss_markov(123, "pointing-x", 150_000, 1e-3, 5e-3)
    b = fading.gauss_markov(123, "pointing-x", 150_000, 1e-3, 5e-3)
    assert np.array_equal(a, b)
    # prefixes agree across the BLOCK_BINS boundary: a bin never depends on the length
    c = fading.gauss_markov(123, "pointing-x", 70_000, 1e-3, 5e-3)
    assert np.array_equal(a[:70_000], c)
    assert not np.array_equal(a, fading.gauss_markov(124, "pointing-x", 150_000, 1e-3, 5e-3))
    assert not np.array_equal(a, fading.gauss_markov(123, "pointing-y", 150_000, 1e-3, 5e-3))


# ---------------------------------------------------------------- background
def test_background_formula():
    nb = atmosphere.background_photons_per_gate(1e-3, 100e-6, 1.0, 1.0, 1e-9, 850e-9, 0.5)
    omega = math.pi * (50e-6) ** 2
    expect = 1e-3 * omega * math.pi * 0.25 * 1.0 * 1e-9 / (atmosphere.H_PLANCK * atmosphere.C_LIGHT / 850e-9) * 0.5
    assert nb == pytest.approx(expect, rel=1e-6)
    assert atmosphere.background_click_prob(1e-6, 0.5, 4) == pytest.approx(1.25e-7, rel=1e-6)
    assert atmosphere.background_click_prob(50.0, 1.0, 1) == pytest.approx(1.0)


# ---------------------------------------------------------------- conventions, loss definition
def test_divergence_conventions():
    """A Gaussian beam I ~ exp(-2 theta^2 / theta_w^2) is at half maximum at
    theta_w sqrt(ln 2 / 2): its FWHM full angle is 1.1774 theta_w."""
    tw = 10.0
    assert fading.divergence_half_angle(tw, "half-1/e2") == tw
    assert fading.divergence_half_angle(2 * tw, "full-1/e2") == pytest.approx(tw, rel=1e-15)
    fwhm_full = 2 * tw * math.sqrt(math.log(2) / 2)
    assert math.exp(-2 * (fwhm_full / 2) ** 2 / tw ** 2) == pytest.approx(0.5, rel=1e-15)
    assert fading.divergence_half_angle(fwhm_full, "full-fwhm") == pytest.approx(tw, rel=1e-14)
    assert fading.divergence_half_angle(fwhm_full / 2, "half-fwhm") == pytest.approx(tw, rel=1e-14)
    with pytest.raises(ValueError, match="convention"):
        fading.divergence_half_angle(10.0, "full")
    with pytest.raises(ValueError, match="divergence"):
        fading.divergence_half_angle(-1.0, "full-1/e2")


def test_downlink_turbulence_beam_spreading():
    """A&P downlink broadening: mu_2d = int Cn2 (h/H)^(5/3) dh equals
    H^(-5/3) int Cn2 h^(5/3) dh, and for a LEO downlink the broadening is
    below 0.002 dB (the turbulence is at the receiver end)."""
    H = 500e3
    weighted = atmosphere.cn2_moment(0.0, weight=lambda h: (h / H) ** (5.0 / 3.0))
    assert weighted == pytest.approx(atmosphere.cn2_moment(5.0 / 3.0) * H ** (-5.0 / 3.0), rel=1e-7)
    lam, el, L = 848.6e-9, 19.5, 1.2e6
    W = 10e-6 * L
    k = 2 * math.pi / lam
    expect = 1 + 4.35 * weighted * (2 * L / (k * W ** 2)) ** (5 / 6) * k ** (7 / 6) * H ** (5 / 6) \
        / math.sin(math.radians(el)) ** (11 / 6)
    f = atmosphere.downlink_beam_spread(lam, el, L, W, H)
    assert f == pytest.approx(expect, rel=1e-7)
    assert 0.0 < 10 * math.log10(f) < 0.002
    # a stronger ground layer broadens more (the term is linear in the integral)
    assert atmosphere.downlink_beam_spread(lam, el, L, W, H, cn2_ground=1.7e-13) > f


# ---------------------------------------------------------------- the Micius example
# Liao et al., Nature 549, 43 (2017) [L17], Fig. 3, as digitised by Baidu's
# QNET (github.com/baidu/QCompute, Extensions/QuantumNetwork/examples/data/
# micius2017_link_efficiency.csv, Apache-2.0): mean of the curve's 21 samples
# at 1 km steps over each window (approach half of the pass, [min, max] of
# the samples in the comment).  The loss excludes the detector efficiency.
L17_LOSS_DB = {
    (645, 665): 29.98,     # [29.5, 30.7]
    (690, 710): 30.81,     # [30.0, 31.5]
    (790, 810): 31.18,     # [30.7, 31.7]
    (890, 910): 32.93,     # [32.1, 34.6]
    (990, 1010): 34.33,    # [33.5, 35.1]
    (1140, 1160): 37.51,   # [36.8, 38.3]
    (1180, 1200): 38.62,   # [38.0, 40.3]
}
#: both-bases sifted rates quoted from [L17] (issue 21): ~12 kbit/s at the
#: 645 km closest approach, ~1 kbit/s at 1200 km
L17_SIFTED_645_BPS, L17_SIFTED_1200_BPS = 12e3, 1e3


def _load(name):
    with open(EXAMPLES / name, "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def micius_series():
    pytest.importorskip("sgp4")
    sc = _load("micius-downlink.toml")
    ch = FreeSpaceChannel.from_dict(sc["channel"])
    return ch, ch.series(sc["run"]["seed"], time_bin_s=sc["run"]["time_bin_s"],
                         detector_efficiency=sc["detector"]["efficiency"], n_detectors=4)


def _approach(s):
    near = int(np.argmin(s.range_km))
    return near, slice(0, near + 1)


def test_micius_loss_definition(micius_series):
    """loss_db = geometric x atmospheric x fov x rx, in dB; the detector
    efficiency is not in it."""
    ch, s = micius_series
    terms = fs.loss_budget_db(s.budget)
    total = terms["geometric"] + terms["atmospheric"] + terms["fov"] + terms["rx"]
    assert np.allclose(total, s.loss_db, rtol=0, atol=1e-9)
    assert np.allclose(terms["total"], s.loss_db, rtol=0, atol=1e-12)
    assert np.allclose(terms["rx"], -10 * math.log10(ch.rx_efficiency))
    # the geometric term is the mean aperture fraction of the documented beam
    near = int(np.argmin(s.range_km))
    L = s.range_km[near] * 1e3
    w = math.hypot(ch.w0_m, ch.divergence_rad * L)
    sig = ch.pointing_jitter_urad * 1e-6 * L
    geo = 1 - math.exp(-2 * 0.25 / (w ** 2 + 4 * sig ** 2))
    assert terms["geometric"][near] == pytest.approx(-10 * math.log10(geo), abs=0.002)
    other = ch.series(20161219, time_bin_s=1.0, detector_efficiency=0.1, n_detectors=4)
    same = ch.series(20161219, time_bin_s=1.0, detector_efficiency=0.9, n_detectors=4)
    assert np.array_equal(other.loss_db, same.loss_db)


def test_micius_pass_geometry_vs_published(micius_series):
    """[L17]: closest approach 645 km; [L17] Fig. 3 (QNET's micius2017_track.csv):
    131-143 s from 1196 km to 645 km.  The TLE's pass: 645.5 km, 136 s."""
    _ch, s = micius_series
    near, app = _approach(s)
    assert s.range_km[near] == pytest.approx(645.0, abs=1.0)
    t1196 = s.t_s[app][int(np.argmin(np.abs(s.range_km[app] - 1196.0)))]
    assert 131.0 <= s.t_s[near] - t1196 <= 143.0


@pytest.mark.parametrize("window", sorted(L17_LOSS_DB))
def test_micius_loss_vs_published(micius_series, window):
    """Mean loss over each range window against [L17] Fig. 3.  Tolerance
    1.5 dB: the model lies within 0.9 dB of the curve at every window, so a
    2 dB error of the model (level or slope between the ends) puts at least
    one window beyond 1.5 dB; the digitised curve itself scatters by up to
    +-1 dB inside a window (bracketed values above).  Not statistical: the
    mean loss has no Monte Carlo."""
    _ch, s = micius_series
    _near, app = _approach(s)
    sel = (s.range_km[app] >= window[0]) & (s.range_km[app] <= window[1])
    assert sel.sum() >= 300                   # >= 3 s of 10 ms bins in each window
    model = float(np.mean(s.loss_db[app][sel]))
    assert abs(model - L17_LOSS_DB[window]) < 1.5


def test_micius_loss_shape(micius_series):
    """On the approach the loss falls as the range shrinks (to 1e-4 dB: on
    the WGS-84 ellipsoid the elevation peaks a few seconds before the range
    minimum); 645 -> 1200 km adds 9.0 dB, [L17] Fig. 3 8.6 dB (window means)."""
    _ch, s = micius_series
    near, app = _approach(s)
    assert np.all(np.diff(s.range_km[app]) < 0)
    assert np.all(np.diff(s.loss_db[app]) < 1e-4)
    far = int(np.argmin(np.abs(s.range_km[app] - 1200.0)))
    published = L17_LOSS_DB[(1180, 1200)] - L17_LOSS_DB[(645, 665)]
    assert s.loss_db[far] - s.loss_db[near] == pytest.approx(published, abs=1.0)


def test_micius_series_contents(micius_series):
    ch, s = micius_series
    n = s.t_s.size
    for arr in (s.elevation_deg, s.range_km, s.mean_transmittance, s.transmittance,
                s.loss_db, s.background_photons_per_gate, s.background_click_prob):
        assert arr.shape == (n,)
    assert s.fading_model == "combined"
    assert np.all(s.elevation_deg >= 10.0 - 1e-6)
    assert np.all((s.transmittance >= 0) & (s.transmittance <= 1))
    assert np.allclose(s.loss_db, -10 * np.log10(s.mean_transmittance))
    # fading: ratio = log-normal scintillation (mean 1, var = scint index) x
    # Vasylyev transmittance of the jittered beam over its exact mean.  The
    # expected moments come from quadrature over the Rayleigh offset.
    ratio = s.transmittance / s.mean_transmittance
    b = s.budget
    m1, m2 = [], []
    for i in range(0, n, 50):
        sig = b["wander_sigma_m"][i]
        r = np.linspace(0.0, 8 * sig, 2001)
        pdf = r / sig ** 2 * np.exp(-r ** 2 / (2 * sig ** 2))
        t = fading.beam_wander_transmittance(r, 0.5 * ch.rx_aperture_m, b["beam_radius_m"][i])
        exact = fading.mean_aperture_fraction(0.5 * ch.rx_aperture_m, b["beam_radius_m"][i], sig)
        m1.append(trapezoid(t * pdf, r) / exact)
        m2.append((1 + b["scint_index"][i]) * trapezoid(t * t * pdf, r) / exact ** 2)
    mean, var = np.mean(m1), np.mean(m2) - np.mean(m1) ** 2
    rho = math.exp(-ch.time_bin_s / (ch.coherence_time_ms * 1e-3))
    # AR(1) standard errors of the sample mean and variance (5 sigma each)
    se_mean = math.sqrt(var * (1 + rho) / ((1 - rho) * n))
    se_var = var * math.sqrt(2 * (1 + rho ** 2) / ((1 - rho ** 2) * n))
    assert abs(ratio.mean() - mean) < 5 * se_mean
    assert abs(ratio.var() - var) < 5 * se_var
    # background at the detectors: the closed form with the example's receiver
    nb = atmosphere.background_photons_per_gate(1.5e-8, 100e-6, 1.0, 1.0, 1e-9, 848.6e-9, 0.2)
    assert np.allclose(s.background_photons_per_gate, nb, rtol=1e-12)
    # same seed, same series
    s2 = ch.series(20161219, time_bin_s=0.01, detector_efficiency=0.5, n_detectors=4)
    assert np.array_equal(s.transmittance, s2.transmittance)


@pytest.fixture(scope="module")
def micius_run():
    """The whole pass through the Monte Carlo (4.2e10 pulses; sparse, ~5 s)."""
    pytest.importorskip("sgp4")
    from qchannel.runner import simulate
    from qchannel.scenario import load_scenario

    return simulate(load_scenario(str(EXAMPLES / "micius-downlink.toml"))).to_dict()


def _both_bases_rate(d, lo, hi):
    """Both-bases sifted rate over the approach-side report bins in [lo, hi] km.
    The report's per-bin ``sifted_rate_bps`` counts X-X only; both bases are
    scaled from it by the pass-wide ratio (X-X + Z-Z) / X-X of the intensity
    table (2.00 here: key_basis_prob = 0.5)."""
    tab = d["intensities"]
    ratio = sum(r["detections_x"] + r["detections_z"] for r in tab) / sum(r["detections_x"] for r in tab)
    bins = d["bins"]
    rng = np.array([b["range_km"] for b in bins])
    near = int(np.argmin(rng))
    sel = [b for b in bins[:near + 1] if lo <= b["range_km"] <= hi]
    assert len(sel) >= 3
    sifted = sum(b["sifted_bits"] for b in sel)
    seconds = sum(b["pulses"] for b in sel) / d["scenario"]["source"]["rep_rate_hz"]
    return ratio * sifted / seconds, ratio * sifted


def test_micius_sifted_rates_vs_published(micius_run):
    """Both-bases sifted key rate against [L17]: ~12 kbit/s at 645 km, within
    1.5 dB (catches a 2 dB error; the Monte Carlo's Poisson error here is
    0.3 %, i.e. < 0.02 dB).  At 1200 km [L17] quote ~1 kbit/s, one significant
    figure, where their own loss curve moves by 2.3 dB (38.0 to 40.3) over the
    last 20 km: that point is held to [0.5, 2] kbit/s only, and the 2 dB test
    there is against the rate their loss curve implies (next test)."""
    d = micius_run
    near_rate, near_bits = _both_bases_rate(d, 645.0, 650.0)
    assert near_bits > 3e4                                     # Poisson sd < 0.6 %
    assert abs(10 * math.log10(near_rate / L17_SIFTED_645_BPS)) < 1.5
    far_rate, far_bits = _both_bases_rate(d, 1190.0, 1210.0)
    assert far_bits > 2e3
    assert 0.5 * L17_SIFTED_1200_BPS < far_rate < 2.0 * L17_SIFTED_1200_BPS


@pytest.mark.parametrize("window", [(645, 665), (790, 810), (990, 1010), (1180, 1200)])
def test_micius_sifted_rate_vs_published_loss(micius_run, window):
    """The sifted rate the published loss implies, R sum_k p_k (1 - exp(-mu_k
    eta_det 10^(-L/10))) x P(same basis) with eta_det = 0.5, against the
    Monte Carlo: within 1.5 dB (the loss agrees within 0.9 dB; MC error < 1 %)."""
    d = micius_run
    src = d["scenario"]["source"]
    px = src["key_basis_prob"]
    eta = 0.5 * 10 ** (-L17_LOSS_DB[window] / 10)
    clicks = sum(p * (1 - math.exp(-mu * eta)) for p, mu in zip(src["intensity_probs"], src["intensities"]))
    published = src["rep_rate_hz"] * clicks * (px ** 2 + (1 - px) ** 2)
    rate, bits = _both_bases_rate(d, *window)
    assert bits > 2e3
    assert abs(10 * math.log10(rate / published)) < 1.5


def test_micius_qber_and_key(micius_run):
    """[L17]: QBER about 1 % and a kilohertz key rate; the pass gives 1.1 %
    (misalignment 1 % plus dark counts; binomial sd 1e-4) and a positive
    finite key."""
    d = micius_run
    assert 0.005 < d["qber"] < 0.015
    assert not d["aborted"] and d["secret_key_bits"] > 0


def test_uplink_beam_wander_dominates():
    d = dict(type="satellite-uplink", wavelength_nm=850.0, beam_waist_m=0.1, rx_aperture_m=0.3,
             pointing_jitter_urad=0.5, altitude_km=500.0, max_elevation_deg=60.0, time_bin_s=0.05)
    ch = FreeSpaceChannel.from_dict(d)
    b = ch.link_budget(np.array([60.0]), np.array([570.0]))
    wander = math.sqrt(max(b["wander_sigma_m"][0] ** 2 - b["pointing_sigma_m"][0] ** 2, 0.0))
    assert wander > 2 * b["pointing_sigma_m"][0]
    assert b["beam_radius_m"][0] > b["diffraction_radius_m"][0]
    down = FreeSpaceChannel.from_dict(dict(d, type="satellite-downlink"))
    bd = down.link_budget(np.array([60.0]), np.array([570.0]))
    assert bd["wander_sigma_m"][0] == pytest.approx(bd["pointing_sigma_m"][0])
    # turbulence broadens the downlink beam negligibly: W_LT/W - 1 = 4.6e-4 for
    # this narrow (1.5 m) beam, 0.004 dB; but it does broaden it
    assert 1.0 < bd["beam_radius_m"][0] / bd["diffraction_radius_m"][0] < 1.001
    assert b["mean"][0] < bd["mean"][0]         # uplinks lose more than downlinks
    s = ch.series(3)
    assert s.fading_model == "beam-wander"
    # sampled mean against its expectation: Vasylyev's transmittance averaged
    # over the Rayleigh offset of each bin, times the log-normal mean 1,
    # over the exact mean (Vasylyev's closed form is ~1.7 % low here: a model
    # error, not noise); 5 sigma with the AR(1) standard error
    bb = s.budget
    expect = []
    for i in range(s.t_s.size):
        sig = bb["wander_sigma_m"][i]
        r = np.linspace(0.0, 8 * sig, 2001)
        pdf = r / sig ** 2 * np.exp(-r ** 2 / (2 * sig ** 2))
        t = fading.beam_wander_transmittance(r, 0.15, bb["beam_radius_m"][i])
        expect.append(trapezoid(t * pdf, r) * bb["atmospheric"][i] * bb["fov"][i] * bb["rx"][i])
    ratio = s.transmittance / np.asarray(expect)
    rho = math.exp(-ch.time_bin_s / (ch.coherence_time_ms * 1e-3))
    se = ratio.std() * math.sqrt((1 + rho) / ((1 - rho) * ratio.size))
    assert abs(ratio.mean() - 1.0) < 5 * se


def test_horizontal_example():
    """The 144 km example against the documented closed forms, written out
    here step by step (diffraction, Yura short-term spot, horizontal beam
    wander, Kim visibility extinction, seeing through the field stop)."""
    sc = _load("freespace_horizontal.toml")
    c = sc["channel"]
    ch = FreeSpaceChannel.from_dict(c)
    s = ch.series(sc["run"]["seed"], time_bin_s=sc["run"]["time_bin_s"])
    assert s.t_s.size == 60_000
    assert np.all(s.range_km == 144.0)
    lam, L, w0 = 850e-9, 144e3, 0.05
    k, cn2, a = 2 * math.pi / lam, 2e-17, 0.5
    w = math.sqrt(w0 ** 2 + (10e-6 * L) ** 2)
    r0 = (0.423 * 3 / 8 * k ** 2 * cn2 * L) ** -0.6          # spherical wave, constant Cn2
    w_st2 = w ** 2 + 2 * (4.2 * L / (k * r0) * (1 - 0.26 * (r0 / w0) ** (1 / 3))) ** 2
    sig2 = (1e-6 * L) ** 2 + 0.5 * 2.42 * cn2 * L ** 3 * w0 ** (-1 / 3)
    geo = 1 - math.exp(-2 * a ** 2 / (w_st2 + 4 * sig2))
    atm = math.exp(-3.91 / 150.0 * (850 / 550) ** -1.6 * 144.0)   # V > 50 km: q = 1.6
    fwhm2 = (0.98 * lam / r0) ** 2 + (1.03 * lam / 1.0) ** 2
    fov = 1 - 2 ** (-(200e-6) ** 2 / fwhm2)
    expect_db = -10 * math.log10(geo * atm * fov * 0.5)
    assert s.loss_db[0] == pytest.approx(expect_db, abs=1e-6)
    assert 19.0 < expect_db < 20.0                              # 19.5 dB
    # sampled mean over 60 s: Vasylyev's closed form vs the exact mean is a
    # model error of < 1 % here; 5 sigma with the AR(1) standard error, plus
    # that 1 % (the test of the closed form itself is above)
    ratio = s.transmittance / s.mean_transmittance
    rho = math.exp(-sc["run"]["time_bin_s"] / (c["coherence_time_ms"] * 1e-3))
    se = ratio.std() * math.sqrt((1 + rho) / ((1 - rho) * ratio.size))
    assert abs(ratio.mean() - 1.0) < 5 * se + 0.01


def test_day_background_swamps_night():
    sc = _load("micius-downlink.toml")["channel"]
    night = FreeSpaceChannel.from_dict(sc).background_photons_per_gate()
    day = FreeSpaceChannel.from_dict(dict(sc, sky_radiance_w_m2_sr_nm="day")).background_photons_per_gate()
    assert day / night == pytest.approx(1e-2 / 1.5e-8)


@pytest.mark.parametrize("bad, key", [
    ({"colour": 1}, "channel.colour"),
    ({"rx_efficiency": 1.5}, "channel.rx_efficiency"),
    ({"wavelength_nm": -1.0}, "channel.wavelength_nm"),
    ({"divergence_half_angle_urad": 0.1}, "channel.divergence_half_angle_urad"),
    ({"zenith_transmittance": 0.0}, "channel.zenith_transmittance"),
    ({"fading_model": "rician"}, "channel.fading_model"),
    ({"sky_radiance_w_m2_sr_nm": "dusk"}, "channel.sky_radiance_w_m2_sr_nm"),
    ({"max_elevation_deg": None}, "channel.max_elevation_deg"),
    ({"length_km": 10.0}, "channel.length_km"),
    ({"tle_line1": "1 x"}, "channel.tle_line"),
    ({"cn2_ground": -1e-15}, "channel.cn2_ground"),
    ({"type": "fibre"}, "channel.type"),
])
def test_bad_inputs_name_the_key(bad, key):
    d = dict(type="satellite-downlink", tx_aperture_m=0.3, altitude_km=500.0, max_elevation_deg=60.0)
    d.update(bad)
    d = {k: v for k, v in d.items() if v is not None}
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        FreeSpaceChannel.from_dict(d)


def test_free_space_requires_length_and_rejects_orbit_keys():
    with pytest.raises(ValueError, match=r"channel\.length_km"):
        FreeSpaceChannel.from_dict({"type": "free-space", "beam_waist_m": 0.05})
    with pytest.raises(ValueError, match=r"channel\.altitude_km"):
        FreeSpaceChannel.from_dict({"type": "free-space", "beam_waist_m": 0.05, "length_km": 1.0,
                                    "altitude_km": 500.0})
    with pytest.raises(ValueError, match=r"tx_aperture_m or"):
        FreeSpaceChannel.from_dict({"type": "free-space", "length_km": 1.0})
