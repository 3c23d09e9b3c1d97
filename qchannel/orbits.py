"""Satellite pass geometry: elevation and slant range seen from a ground station.

Two sources of geometry:

* :class:`TLEOrbit` -- a real two-line element set propagated with SGP4 (the
  ``sgp4`` package, Vallado's reference implementation).  SGP4 returns the
  position in the TEME frame; we rotate it to Earth-fixed coordinates with the
  Greenwich mean sidereal time (IAU-82 GMST, as in Vallado et al., "Revisiting
  Spacetrack Report #3", AIAA 2006-6753), ignoring polar motion and taking
  UT1 = UTC.  Accuracy: the frame shortcut costs at most ~15 m (polar motion)
  plus ~0.4 km (|UT1 - UTC| < 0.9 s of Earth rotation); SGP4 itself is good to
  ~1 km at the TLE epoch, growing by ~1-3 km per day of extrapolation for LEO.
  For a ~500 km orbit this gives elevation errors of order 0.1 deg and range
  errors of a few km within a few days of the epoch -- far below the dB-level
  uncertainty of the optical link model.  The station is placed on the WGS-84
  ellipsoid.

* :class:`CircularPass` -- a circular orbit over a spherical, non-rotating Earth
  (radius 6371 km): a great-circle ground track passing at a fixed angular
  distance from the station, chosen so that the culmination has the requested
  maximum elevation.  Used when no TLE is given.

Both return :class:`PassGeometry`: time offsets ``t_s`` and arrays
``elevation_deg``, ``range_km`` (and ``azimuth_deg`` for TLE passes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from qchannel.params import check_real

# WGS-84 ellipsoid
WGS84_A_KM = 6378.137
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
# Spherical Earth for the circular-orbit option
EARTH_RADIUS_KM = 6371.0
GM_EARTH_KM3_S2 = 398600.4418


# --------------------------------------------------------------------------
# time
# --------------------------------------------------------------------------
def parse_utc(value, name="start_utc"):
    """A timezone-aware UTC datetime from a datetime or an ISO-8601 string
    ("2016-12-19T16:40:00Z"; a naive value is taken as UTC)."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z") or text.endswith("z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{name} = {value!r} must be an ISO-8601 UTC time such as '2016-12-19T16:40:00Z'"
            ) from None
    else:
        raise ValueError(f"{name} = {value!r} must be an ISO-8601 UTC time string")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def julian_date(dt):
    """(jd, fr): Julian date of a UTC datetime split as sgp4 expects."""
    from sgp4.api import jday

    dt = parse_utc(dt)
    jd, fr = jday(dt.year, dt.month, dt.day, dt.hour, dt.minute,
                  dt.second + dt.microsecond * 1e-6)
    return jd, fr


def gmst_rad(jd, fr=0.0):
    """Greenwich mean sidereal time (IAU-82), radians in [0, 2 pi), UT1 = UTC."""
    jd = np.asarray(jd, dtype=float)
    fr = np.asarray(fr, dtype=float)
    t = ((jd - 2451545.0) + fr) / 36525.0
    # seconds of sidereal time; the 876600 h term is split to keep precision
    sec = (67310.54841 + (876600.0 * 3600.0 + 8640184.812866) * t
           + 0.093104 * t * t - 6.2e-6 * t * t * t)
    return np.mod(np.deg2rad(sec / 240.0), 2.0 * math.pi)


# --------------------------------------------------------------------------
# frames
# --------------------------------------------------------------------------
def teme_to_ecef(r_teme, jd, fr=0.0):
    """Rotate TEME position vectors (..., 3) [km] to Earth-fixed (PEF ~ ECEF,
    polar motion neglected) by the GMST angle about z."""
    r = np.asarray(r_teme, dtype=float)
    th = gmst_rad(jd, fr)
    c, s = np.cos(th), np.sin(th)
    x = c * r[..., 0] + s * r[..., 1]
    y = -s * r[..., 0] + c * r[..., 1]
    return np.stack([x, y, r[..., 2]], axis=-1)


def geodetic_to_ecef(lat_deg, lon_deg, alt_m):
    """WGS-84 geodetic coordinates -> ECEF position [km]."""
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    h = alt_m / 1000.0
    n = WGS84_A_KM / math.sqrt(1.0 - WGS84_E2 * math.sin(lat) ** 2)
    return np.array([
        (n + h) * math.cos(lat) * math.cos(lon),
        (n + h) * math.cos(lat) * math.sin(lon),
        (n * (1.0 - WGS84_E2) + h) * math.sin(lat),
    ])


@dataclass(frozen=True)
class GroundStation:
    """A ground station: geodetic latitude/longitude [deg], altitude [m]."""

    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0

    def __post_init__(self):
        check_real("channel.station_lat_deg", self.lat_deg, -90.0, 90.0)
        check_real("channel.station_lon_deg", self.lon_deg, -180.0, 360.0)
        check_real("channel.station_alt_m", self.alt_m, -500.0, 9000.0)

    @property
    def ecef_km(self):
        return geodetic_to_ecef(self.lat_deg, self.lon_deg, self.alt_m)

    def topocentric(self, r_ecef_km):
        """Azimuth [deg, from north through east], elevation [deg] and range
        [km] of Earth-fixed positions (..., 3) seen from the station (geodetic
        local vertical)."""
        d = np.asarray(r_ecef_km, dtype=float) - self.ecef_km
        lat, lon = math.radians(self.lat_deg), math.radians(self.lon_deg)
        sl, cl, so, co = math.sin(lat), math.cos(lat), math.sin(lon), math.cos(lon)
        east = -so * d[..., 0] + co * d[..., 1]
        north = -sl * co * d[..., 0] - sl * so * d[..., 1] + cl * d[..., 2]
        up = cl * co * d[..., 0] + cl * so * d[..., 1] + sl * d[..., 2]
        rng = np.sqrt(east ** 2 + north ** 2 + up ** 2)
        el = np.degrees(np.arcsin(np.clip(up / rng, -1.0, 1.0)))
        az = np.mod(np.degrees(np.arctan2(east, north)), 360.0)
        return az, el, rng


@dataclass(frozen=True)
class PassGeometry:
    """Geometry on a time grid.  ``t_s`` counts seconds from ``start_utc``
    (None for a circular pass, whose t = 0 is the start of the window)."""

    t_s: np.ndarray
    elevation_deg: np.ndarray
    range_km: np.ndarray
    azimuth_deg: np.ndarray | None = None
    start_utc: datetime | None = None


@dataclass(frozen=True)
class Pass:
    """One pass above ``min_elevation_deg``: rise, culmination and set times."""

    rise_utc: datetime
    culmination_utc: datetime
    set_utc: datetime
    max_elevation_deg: float
    min_range_km: float

    @property
    def duration_s(self):
        return (self.set_utc - self.rise_utc).total_seconds()


# --------------------------------------------------------------------------
# TLE orbits (SGP4)
# --------------------------------------------------------------------------
class TLEOrbit:
    """A satellite from a two-line element set, propagated with SGP4."""

    def __init__(self, line1, line2, name="channel.tle"):
        try:
            from sgp4.api import Satrec
        except ImportError as exc:  # pragma: no cover - dependency declared
            raise ImportError("TLE orbits need the 'sgp4' package (pip install sgp4)") from exc
        if not isinstance(line1, str) or not isinstance(line2, str):
            raise ValueError(f"{name} must be two strings (TLE line 1 and line 2)")
        line1, line2 = line1.strip(), line2.strip()
        if not (line1.startswith("1 ") and line2.startswith("2 ")) or len(line1) < 64 or len(line2) < 64:
            raise ValueError(f"{name} = {[line1, line2]!r} is not a valid two-line element set")
        for line in (line1, line2):
            if len(line) >= 69 and line[68].isdigit():
                digits = sum(int(c) if c.isdigit() else (c == "-") for c in line[:68])
                if digits % 10 != int(line[68]):
                    raise ValueError(f"{name}: checksum error in line {line[0]} of the TLE")
        sat = Satrec.twoline2rv(line1, line2)
        if sat.error != 0:
            raise ValueError(f"{name}: SGP4 rejected the TLE (error code {sat.error})")
        self.sat = sat
        self.line1, self.line2 = line1, line2

    @property
    def epoch_utc(self):
        jd = self.sat.jdsatepoch + self.sat.jdsatepochF
        return datetime(2000, 1, 1, 12, tzinfo=timezone.utc) + timedelta(days=jd - 2451545.0)

    def ecef_km(self, start_utc, t_s):
        """Earth-fixed positions [km], shape (n, 3), at ``start_utc + t_s``."""
        jd0, fr0 = julian_date(start_utc)
        t_s = np.atleast_1d(np.asarray(t_s, dtype=float))
        fr = fr0 + t_s / 86400.0
        jd = np.full_like(fr, jd0)
        err, r, _v = self.sat.sgp4_array(jd, fr)
        if np.any(err != 0):
            bad = int(np.flatnonzero(err)[0])
            raise ValueError(
                f"SGP4 failed (error code {int(err[bad])}) at t = {t_s[bad]} s after {start_utc}: "
                "the TLE is too far from its epoch or the orbit has decayed")
        return teme_to_ecef(r, jd, fr)

    def geometry(self, station, start_utc, t_s):
        """:class:`PassGeometry` of this satellite from ``station`` on the grid."""
        start = parse_utc(start_utc)
        t_s = np.atleast_1d(np.asarray(t_s, dtype=float))
        az, el, rng = station.topocentric(self.ecef_km(start, t_s))
        return PassGeometry(t_s=t_s, elevation_deg=el, range_km=rng, azimuth_deg=az,
                            start_utc=start)

    def find_next_pass(self, station, start_utc, min_elevation_deg=10.0,
                       search_hours=48.0, step_s=20.0):
        """The first pass after ``start_utc`` whose elevation exceeds
        ``min_elevation_deg``.  A coarse grid (``step_s``, short against the
        ~minutes a LEO pass lasts) brackets the crossings, which are then
        refined by bisection to ~1 ms; the culmination by golden-section search.
        A pass already in progress at ``start_utc`` is skipped.  Raises
        ValueError if none is found within ``search_hours``."""
        from scipy.optimize import brentq, minimize_scalar

        start = parse_utc(start_utc)
        min_el = check_real("channel.min_elevation_deg", min_elevation_deg, -5.0, 89.0)
        n = int(math.ceil(search_hours * 3600.0 / step_s)) + 1
        t = np.arange(n) * step_s

        def el_at(x):
            return float(self.geometry(station, start, [x]).elevation_deg[0]) - min_el

        # scan the grid in chunks (overlapping by one point) for the first
        # rising edge; a pass in progress at start has no rising edge
        chunk = 4096
        for i0 in range(0, n, chunk):
            tt = t[i0:i0 + chunk + 1]
            above = self.geometry(station, start, tt).elevation_deg > min_el
            idx = np.flatnonzero(above[1:] & ~above[:-1])
            if idx.size:
                k = int(idx[0])
                t_rise = brentq(el_at, tt[k], tt[k + 1], xtol=1e-3)
                # find set: scan forward from rise
                t_scan = t_rise
                t_set = None
                for _ in range(int(6 * 3600 / step_s)):
                    t_next = t_scan + step_s
                    if el_at(t_next) < 0:
                        t_set = brentq(el_at, t_scan, t_next, xtol=1e-3)
                        break
                    t_scan = t_next
                if t_set is None:
                    raise ValueError("the satellite stays above channel.min_elevation_deg "
                                     "for over 6 h: not a LEO pass")
                res = minimize_scalar(lambda x: -el_at(x), bounds=(t_rise, t_set),
                                      method="bounded", options={"xatol": 1e-2})
                t_cul = float(res.x)
                g = self.geometry(station, start, [t_cul])
                return Pass(
                    rise_utc=start + timedelta(seconds=t_rise),
                    culmination_utc=start + timedelta(seconds=t_cul),
                    set_utc=start + timedelta(seconds=t_set),
                    max_elevation_deg=float(g.elevation_deg[0]),
                    min_range_km=float(g.range_km[0]),
                )
        raise ValueError(
            f"no pass above channel.min_elevation_deg = {min_el} within {search_hours} h after {start.isoformat()}")


# --------------------------------------------------------------------------
# circular orbit over a spherical Earth
# --------------------------------------------------------------------------
def _central_angle_for_elevation(el_deg, r_orbit_km, r_earth_km=EARTH_RADIUS_KM):
    """Earth-central angle between station and sub-satellite point at which a
    satellite at orbital radius r is seen at elevation el."""
    el = np.radians(el_deg)
    return np.arccos(np.clip(r_earth_km * np.cos(el) / r_orbit_km, -1.0, 1.0)) - el


@dataclass(frozen=True)
class CircularPass:
    """A pass of a circular orbit of ``altitude_km`` over a spherical,
    non-rotating Earth.  The ground track is a great circle passing at the
    Earth-central angle beta from the station, with beta fixed by
    ``max_elevation_deg``; the satellite moves along its orbit at the Kepler
    rate omega = sqrt(GM / r^3).  With psi the central angle between station
    and sub-satellite point, cos psi(t) = cos beta cos(omega (t - t_c)),
    range d = sqrt(R^2 + r^2 - 2 R r cos psi), sin el = (r cos psi - R) / d.
    Earth rotation (which shifts the track by ~0.5 deg in a 10-min pass) is
    neglected."""

    altitude_km: float
    max_elevation_deg: float
    min_elevation_deg: float = 10.0

    def __post_init__(self):
        check_real("channel.altitude_km", self.altitude_km, 100.0, 40000.0)
        check_real("channel.max_elevation_deg", self.max_elevation_deg, 0.0, 90.0, lo_open=True)
        check_real("channel.min_elevation_deg", self.min_elevation_deg, -5.0, 89.0)
        if self.max_elevation_deg <= self.min_elevation_deg:
            raise ValueError(
                f"channel.max_elevation_deg = {self.max_elevation_deg} is out of range: "
                f"must be > channel.min_elevation_deg = {self.min_elevation_deg}")

    @property
    def r_orbit_km(self):
        return EARTH_RADIUS_KM + self.altitude_km

    @property
    def omega_rad_s(self):
        return math.sqrt(GM_EARTH_KM3_S2 / self.r_orbit_km ** 3)

    @property
    def beta_rad(self):
        return float(_central_angle_for_elevation(self.max_elevation_deg, self.r_orbit_km))

    @property
    def duration_s(self):
        """Time above ``min_elevation_deg``."""
        psi_max = float(_central_angle_for_elevation(self.min_elevation_deg, self.r_orbit_km))
        c = math.cos(psi_max) / math.cos(self.beta_rad)
        return 2.0 * math.acos(min(1.0, c)) / self.omega_rad_s

    def geometry_at(self, t_from_culmination_s):
        t = np.asarray(t_from_culmination_s, dtype=float)
        r, big_r = self.r_orbit_km, EARTH_RADIUS_KM
        cos_psi = math.cos(self.beta_rad) * np.cos(self.omega_rad_s * t)
        d = np.sqrt(big_r ** 2 + r ** 2 - 2.0 * big_r * r * cos_psi)
        el = np.degrees(np.arcsin(np.clip((r * cos_psi - big_r) / d, -1.0, 1.0)))
        return el, d

    def geometry(self, t_s, duration_s=None):
        """Geometry on ``t_s`` (seconds from the start of a window of
        ``duration_s``, default the time above ``min_elevation_deg``, centred
        on culmination)."""
        dur = self.duration_s if duration_s is None else check_real(
            "channel.pass_duration_s", duration_s, 0.0, 86400.0, lo_open=True)
        t_s = np.atleast_1d(np.asarray(t_s, dtype=float))
        el, d = self.geometry_at(t_s - 0.5 * dur)
        return PassGeometry(t_s=t_s, elevation_deg=el, range_km=d)


def slant_range_km(elevation_deg, altitude_km, station_alt_km=0.0, r_earth_km=EARTH_RADIUS_KM):
    """Slant range to a point at ``altitude_km`` seen at ``elevation_deg``
    from a station at ``station_alt_km`` (spherical Earth)."""
    el = np.radians(elevation_deg)
    rs = r_earth_km + station_alt_km
    r = r_earth_km + altitude_km
    return np.sqrt(r ** 2 - (rs * np.cos(el)) ** 2) - rs * np.sin(el)
