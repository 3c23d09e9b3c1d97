"""Entanglement distribution from one satellite to two ground stations over a
real pass (Yin et al., Science 356, 1140 (2017)).

A ``[satellite]`` section gives the orbit (a TLE and a start time) and, in
``[satellite.alice]`` and ``[satellite.bob]``, each station and its downlink
optics (the keys of a ``satellite-downlink`` channel of ``qchannel.freespace``
without ``type``/TLE/start).  The pass is the part of the first pass over
Alice's station after ``start_utc`` during which both stations see the
satellite above ``min_elevation_deg``; each link's mean transmittance per time
bin comes from its own geometry and optics, and the pair source on the
satellite runs through ``qchannel.dual_downlink.dual_downlink``.
"""
import math

import numpy as np

from qchannel.params import check_real, check_table, reject_unknown

SATELLITE_KEYS = ("tle_line1", "tle_line2", "start_utc", "min_elevation_deg", "time_bin_s",
                  "pass_search_hours", "alice", "bob")


def _station_channel(common, side, name):
    from qchannel.freespace import FreeSpaceChannel

    check_table(f"satellite.{name}", side)
    for key in ("type", "tle_line1", "tle_line2", "start_utc", "min_elevation_deg", "time_bin_s"):
        if key in side:
            raise ValueError(f"satellite.{name}.{key} belongs in [satellite], not [satellite.{name}]")
    return FreeSpaceChannel.from_dict({"type": "satellite-downlink", **common, **side},
                                      section=f"satellite.{name}")


def parse_satellite(section):
    """Validate a ``[satellite]`` section (no orbit propagation): returns
    (min_elevation_deg, time_bin_s, pass_search_hours, station channels)."""
    check_table("satellite", section)
    reject_unknown("satellite", section, SATELLITE_KEYS)
    for key in ("tle_line1", "tle_line2", "start_utc", "alice", "bob"):
        if key not in section:
            raise ValueError(f"satellite.{key} is required")
    min_el = check_real("satellite.min_elevation_deg", section.get("min_elevation_deg", 10.0), 0.0, 89.0)
    dt = check_real("satellite.time_bin_s", section.get("time_bin_s", 1.0), 1e-3, 600.0)
    hours = check_real("satellite.pass_search_hours", section.get("pass_search_hours", 48.0), 0.1, 24.0 * 14)
    common = {k: section[k] for k in ("tle_line1", "tle_line2", "start_utc")}
    common["min_elevation_deg"] = min_el
    chan = {name: _station_channel(common, section[name], name) for name in ("alice", "bob")}
    return min_el, dt, hours, chan


def pass_transmittances(section):
    """Per-bin (t_s, elevation and range for both stations, mean transmittances)
    over the common visibility window of one pass."""
    from qchannel import orbits

    min_el, dt, hours, chan = parse_satellite(section)
    orbit = orbits.TLEOrbit(section["tle_line1"], section["tle_line2"], name="satellite.tle")
    stations = {name: orbits.GroundStation(c.station_lat_deg, c.station_lon_deg, c.station_alt_m)
                for name, c in chan.items()}
    start = orbits.parse_utc(section["start_utc"], "satellite.start_utc")
    searched = 0.0
    while searched < hours:
        pas = orbit.find_next_pass(stations["alice"], start, min_el, hours - searched)
        n = max(1, int(math.floor(pas.duration_s / dt)))
        t = np.arange(n) * dt
        geo = {name: orbit.geometry(st, pas.rise_utc, t + 0.5 * dt) for name, st in stations.items()}
        both = (geo["alice"].elevation_deg >= min_el) & (geo["bob"].elevation_deg >= min_el)
        if both.any():
            idx = np.flatnonzero(both)
            sel = slice(idx[0], idx[-1] + 1)      # one contiguous window of a single pass
            out = {"t_s": t[sel] - t[sel][0], "time_bin_s": dt,
                   "start_utc": (pas.rise_utc.timestamp() + t[sel][0])}
            for name in ("alice", "bob"):
                el, rng = geo[name].elevation_deg[sel], geo[name].range_km[sel]
                out[f"{name}_elevation_deg"] = el
                out[f"{name}_range_km"] = rng
                out[f"{name}_transmittance"] = np.clip(chan[name].link_budget(el, rng)["mean"], 0, 1)
            return out
        searched += (pas.set_utc - start).total_seconds() / 3600.0
        start = pas.set_utc
    raise ValueError(f"no pass within satellite.pass_search_hours = {hours} h in which both "
                     f"stations see the satellite above {min_el} deg")


def run_dual_downlink(data):
    """Run an entanglement scenario whose two links come from ``[satellite]``."""
    geo = pass_transmittances(data["satellite"])
    rest = {k: v for k, v in data.items() if k != "satellite"}
    result = dual_downlink(rest, geo["alice_transmittance"], geo["bob_transmittance"],
                           geo["time_bin_s"])
    d = result.to_dict()
    loss = {name: -10 * np.log10(np.maximum(geo[f"{name}_transmittance"], 1e-300))
            for name in ("alice", "bob")}
    d["pass"] = {
        "duration_s": float(len(geo["t_s"]) * geo["time_bin_s"]),
        "bins": int(len(geo["t_s"])),
        "min_total_loss_db": float((loss["alice"] + loss["bob"]).min()),
        "max_total_loss_db": float((loss["alice"] + loss["bob"]).max()),
        "alice_elevation_deg": [float(geo["alice_elevation_deg"].min()), float(geo["alice_elevation_deg"].max())],
        "bob_elevation_deg": [float(geo["bob_elevation_deg"].min()), float(geo["bob_elevation_deg"].max())],
        "alice_range_km": [float(geo["alice_range_km"].min()), float(geo["alice_range_km"].max())],
        "bob_range_km": [float(geo["bob_range_km"].min()), float(geo["bob_range_km"].max())],
    }
    d["per_bin"]["alice_loss_db"] = loss["alice"].tolist()
    d["per_bin"]["bob_loss_db"] = loss["bob"].tolist()
    return _Result(d)


def _loss_series(x, name, n=None):
    """Transmittance array from an array of transmittances or a loss in dB."""
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        loss = check_real(f"{name}_loss_db", x, 0.0, 1000.0)
        return None if n is None else np.full(n, 10.0 ** (-loss / 10.0))
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0) \
            or np.any(arr > 1):
        raise ValueError(f"{name} transmittance series must be a 1-D array of values in [0, 1]")
    return arr


def dual_downlink(scenario, transmittance_a, transmittance_b, bin_duration_s):
    """Satellite source, two downlinks (Yin et al., Science 356, 1140 (2017)).

    ``transmittance_a``/``transmittance_b``: per-time-bin transmittances of
    the two links (arrays, e.g. from :mod:`qchannel.freespace`) or constant
    losses in dB.  ``bin_duration_s``: duration of each bin.  The scenario's
    [channel] must not give losses (the series replaces them); [run] pulses
    is derived as bins x bin slots.  Returns the BBM92/E91 result, whose
    ``per_bin`` lists coincidences (pair rate) and S over the pass."""
    from qchannel.links.entangled import (EntangledLinkConfig, EntangledLinkModel, parse_run,
                                          run_threads)
    from qchannel.protocols.bbm92 import PairTally, PostprocessEnt, QKDProtocolConfig, analyse

    scenario = dict(scenario)
    bin_duration_s = check_real("bin_duration_s", bin_duration_s, 0.0, lo_open=True)
    n = None
    for x in (transmittance_a, transmittance_b):
        if not isinstance(x, (int, float)):
            n = len(np.asarray(x))
    run = dict(check_table("run", scenario.get("run", {})))
    if n is None:
        n = 1
    cfg = EntangledLinkConfig.from_sections(scenario.get("source"), scenario.get("channel"),
                                            scenario.get("detector"))
    ta = _loss_series(transmittance_a, "alice", n)
    tb = _loss_series(transmittance_b, "bob", n)
    if len(ta) != len(tb):
        raise ValueError(f"the two transmittance series differ in length ({len(ta)} vs {len(tb)})")
    bin_slots = max(1, int(round(bin_duration_s * cfg.source.rep_rate_hz)))
    run["pulses"] = bin_slots * len(ta)
    pulses, seed, chunk = parse_run(run)
    proto = QKDProtocolConfig.from_dict(scenario.get("protocol", {}))
    post = PostprocessEnt.from_dict(scenario.get("postprocess", {}))
    aa, pa, ab, pb, *_ = proto.settings()
    model = EntangledLinkModel(cfg, aa, pa, ab, pb, pulses, bin_slots=bin_slots, eta_a=ta,
                               eta_b=tb, eve_fraction=proto.eve_intercept_fraction)
    model.threads = run_threads(run)
    res = analyse(PairTally.of_run(model, proto, seed, chunk), model, proto, post, seed,
                  scenario=scenario)
    res.per_bin["pair_rate_hz"] = [c / bin_duration_s for c in res.per_bin["coincidences"]]
    res.per_bin["loss_db_a"] = (-10 * np.log10(np.maximum(ta, 1e-300))).tolist()
    res.per_bin["loss_db_b"] = (-10 * np.log10(np.maximum(tb, 1e-300))).tolist()
    return res


class _Result:
    def __init__(self, d):
        self._d = d

    def to_dict(self):
        return self._d
