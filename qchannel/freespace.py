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
  converts with :func:`qchannel.fading.divergence_half_angle` (1/e^2 full angle: x 1/2; FWHM
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
               wander (:func:`qchannel.fading.mean_aperture_fraction`);
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

The formulas and their sources are in :mod:`qchannel.atmosphere` (extinction,
turbulence, background light) and :mod:`qchannel.fading` (Gaussian beams,
beam wander, scintillation, the fading time series).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from qchannel import rng as _rng
from qchannel.atmosphere import (SKY_RADIANCE_PRESETS, background_click_prob,
                                 background_photons_per_gate, cn2_moment, downlink_beam_spread,
                                 fried_parameter_slant, rytov_variance_horizontal,
                                 scintillation_index, sec_zenith, seeing_fov_fraction,
                                 slant_transmittance, visibility_attenuation_per_km)
from qchannel.fading import (beam_radius, beam_wander_transmittance, gauss_markov,
                             lognormal_moments, mean_aperture_fraction)
from qchannel.params import check_choice, check_int, check_prob, check_real, reject_unknown

CHANNEL_TYPES = ("satellite-downlink", "satellite-uplink", "free-space")
FADING_MODELS = ("auto", "none", "lognormal", "beam-wander", "combined")


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
            sec = sec_zenith(np.maximum(el, 1e-3))
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

