"""Pass geometry: frames, SGP4 passes of a real Micius TLE, circular passes."""
import math

import numpy as np
import pytest

pytest.importorskip("sgp4")

from qchannel import orbits  # noqa: E402
from qchannel.orbits import (  # noqa: E402
    CircularPass,
    GroundStation,
    TLEOrbit,
    gmst_rad,
    julian_date,
    slant_range_km,
)

# Micius (NORAD 41731), epoch 2016-12-18 21:38 UTC; see examples/micius-downlink.toml
MICIUS_L1 = "1 41731U 16051A   16353.90152003  .00000364  00000-0  17957-4 0  9993"
MICIUS_L2 = "2 41731  97.3699 267.4500 0013200 178.5836 246.0824 15.23915303 19063"
XINGLONG = GroundStation(40.39587, 117.57746, 890.0)


def test_gmst_vallado_example():
    # Vallado, Fundamentals of Astrodynamics, Example 3-5: 1992-08-20 12:14 UT1
    assert math.degrees(gmst_rad(*julian_date("1992-08-20T12:14:00Z"))) == pytest.approx(152.578787810, abs=1e-6)


def test_geodetic_to_ecef_and_topocentric():
    assert np.allclose(orbits.geodetic_to_ecef(0.0, 0.0, 0.0), [6378.137, 0.0, 0.0])
    assert orbits.geodetic_to_ecef(90.0, 0.0, 0.0)[2] == pytest.approx(6356.752314, abs=1e-5)
    st = GroundStation(40.0, 117.0, 890.0)
    lat, lon = math.radians(40.0), math.radians(117.0)
    up = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
    az, el, rng = st.topocentric(st.ecef_km + 500.0 * up)
    assert el == pytest.approx(90.0, abs=1e-6) and rng == pytest.approx(500.0)
    north = np.array([-math.sin(lat) * math.cos(lon), -math.sin(lat) * math.sin(lon), math.cos(lat)])
    az, el, rng = st.topocentric(st.ecef_km + 100.0 * north)
    assert az == pytest.approx(0.0, abs=1e-6) and el == pytest.approx(0.0, abs=1e-6)


@pytest.fixture(scope="module")
def micius_pass():
    orbit = TLEOrbit(MICIUS_L1, MICIUS_L2)
    return orbit, orbit.find_next_pass(XINGLONG, "2016-12-19T16:30:00Z", 10.0)


def test_micius_pass_matches_liao_2017(micius_pass):
    _orbit, p = micius_pass
    # Liao et al., Nature 549, 43 (2017): the 19 Dec 2016 pass over Xinglong,
    # closest distance 645 km.
    assert p.rise_utc.strftime("%Y-%m-%d %H") == "2016-12-19 16"
    assert p.min_range_km == pytest.approx(645.0, abs=5.0)
    assert 40.0 < p.max_elevation_deg < 55.0
    assert 300.0 < p.duration_s < 600.0


def test_pass_elevation_peaks_where_range_is_minimal(micius_pass):
    orbit, p = micius_pass
    t = np.arange(0.0, p.duration_s, 0.5)
    g = orbit.geometry(XINGLONG, p.rise_utc, t)
    i_el, i_rng = int(np.argmax(g.elevation_deg)), int(np.argmin(g.range_km))
    assert abs(i_el - i_rng) <= 2                        # within 1 s
    assert g.elevation_deg[0] == pytest.approx(10.0, abs=0.01)
    assert g.elevation_deg.min() >= 10.0 - 0.01
    # slant range can never be shorter than the satellite's height above the station
    r_sat = np.linalg.norm(orbit.ecef_km(p.rise_utc, t), axis=1)
    r_sta = np.linalg.norm(XINGLONG.ecef_km)
    assert np.all(g.range_km >= r_sat - r_sta - 1e-6)
    assert np.all(g.range_km >= 450.0)                   # Micius flies at ~490-510 km
    # range and elevation are consistent with a spherical-Earth slant range to ~1 %
    approx = slant_range_km(g.elevation_deg, np.mean(r_sat) - r_sta)
    assert np.allclose(approx, g.range_km, rtol=0.02)


def test_pass_in_progress_is_skipped(micius_pass):
    orbit, p = micius_pass
    nxt = orbit.find_next_pass(XINGLONG, p.culmination_utc, 10.0)
    assert nxt.rise_utc > p.set_utc


def test_circular_pass_geometry():
    c = CircularPass(altitude_km=500.0, max_elevation_deg=50.0, min_elevation_deg=10.0)
    dur = c.duration_s
    g = c.geometry(np.array([0.0, 0.5 * dur, dur]))
    assert g.elevation_deg[1] == pytest.approx(50.0, abs=1e-9)
    assert g.elevation_deg[0] == pytest.approx(10.0, abs=1e-9)
    assert g.elevation_deg[2] == pytest.approx(10.0, abs=1e-9)
    assert np.allclose(g.range_km, slant_range_km(g.elevation_deg, 500.0))
    zen = CircularPass(500.0, 90.0, 10.0)
    assert zen.geometry([0.5 * zen.duration_s]).range_km[0] == pytest.approx(500.0)
    assert zen.duration_s > dur
    t = np.linspace(0.0, dur, 201)
    g = c.geometry(t)
    assert np.all(g.range_km >= 500.0 - 1e-9)
    assert int(np.argmax(g.elevation_deg)) == int(np.argmin(g.range_km)) == 100
    # a ~500 km LEO pass above 10 deg lasts several minutes
    assert 300.0 < zen.duration_s < 700.0


def test_bad_inputs_name_the_key():
    with pytest.raises(ValueError, match="checksum"):
        TLEOrbit(MICIUS_L1[:-1] + "0", MICIUS_L2)
    with pytest.raises(ValueError, match="channel.tle"):
        TLEOrbit("garbage", MICIUS_L2)
    with pytest.raises(ValueError, match="station_lat_deg"):
        GroundStation(95.0, 0.0)
    with pytest.raises(ValueError, match="max_elevation_deg"):
        CircularPass(500.0, 5.0, 10.0)
    with pytest.raises(ValueError, match="altitude_km"):
        CircularPass(-1.0, 50.0)
    with pytest.raises(ValueError, match="start_utc"):
        orbits.parse_utc("yesterday")


def _sgp4_verification_cases():
    """Near-Earth cases of sgp4's own verification set (SGP4-VER.TLE and the
    reference output tcppver.out of Vallado's C++ SGP4, shipped with sgp4)."""
    import os

    import sgp4

    root = os.path.dirname(sgp4.__file__)
    tles = {}
    lines = [l.rstrip("\n") for l in open(os.path.join(root, "SGP4-VER.TLE")) if not l.startswith("#")]
    for l1, l2 in zip(lines[0::2], lines[1::2]):
        tles[int(l1[2:7])] = (l1[:69], l2[:69])
    expected, sat = {}, None
    for line in open(os.path.join(root, "tcppver.out")):
        parts = line.split()
        if len(parts) == 2 and parts[1] == "xx":
            sat = int(parts[0])
            expected[sat] = []
        elif sat is not None and len(parts) >= 4:
            expected[sat].append([float(x) for x in parts[:4]])
    return {s: (tles[s], np.array(expected[s])) for s in (5, 6251, 28057) if s in tles}


def test_tle_propagation_matches_sgp4_reference_output():
    # Our time handling (TLE epoch -> UTC -> Julian date + t) must land on the
    # reference positions (TEME, km) of the SGP4 verification run.
    from datetime import timedelta

    from qchannel.orbits import TLEOrbit, julian_date

    cases = _sgp4_verification_cases()
    assert cases
    for sat, ((l1, l2), ref) in cases.items():
        orbit = TLEOrbit(l1, l2)
        for tsince, x, y, z in ref:
            jd, fr = julian_date(orbit.epoch_utc + timedelta(minutes=tsince))
            err, r, _ = orbit.sat.sgp4(jd, fr)
            assert err == 0
            # 1 m: the epoch passes through a datetime with microsecond resolution.
            assert np.allclose(r, (x, y, z), atol=1e-3, rtol=0), (sat, tsince, r, (x, y, z))
