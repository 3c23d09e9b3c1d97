"""Jobs ``bbm92`` and ``e91``: entanglement-based QKD over an SPDC link
(two fiber or free-space arms), or from a satellite to two ground stations
over a real pass (``[satellite]``).

Schema: the sections of :mod:`qchannel.links.entangled` (``[source]`` type
"spdc", ``[channel]`` with ``[channel.alice]``/``[channel.bob]``,
``[detector]``), ``[protocol]`` (:class:`qchannel.protocols.bbm92.QKDProtocolConfig`),
``[postprocess]``, ``[run]`` (``pulses``, ``seed``, ``chunk_blocks``; a
satellite pass sets its own pulses) and optionally ``[satellite]``
(:mod:`qchannel.dual_downlink`).  ``[channel] type = "fiber"`` is accepted
(the arms' loss is given per arm).

Analytic twin: expected coincidences and accidentals, the key-basis QBER,
the observed CHSH S (accidentals and squashing included) per setting pair
from the exact click model of :mod:`qchannel.theory.entanglement`, summed
over the time bins of a pass, and the asymptotic key of the protocol.
"""
import math
from types import SimpleNamespace

import numpy as np

from qchannel.jobs import Job, register
from qchannel.params import check_choice
from qchannel.scenario import RunSection, TableScenario

SECTIONS = ("protocol", "source", "channel", "detector", "run", "postprocess", "satellite")
CHANNEL_TYPES = ("fiber",)


def _link_tables(tables):
    """The tables the link parser takes: ``channel.type`` checked and removed."""
    out = {k: v for k, v in tables.items() if k not in ("satellite",)}
    channel = dict(out.get("channel", {}))
    if "type" in channel:
        check_choice("channel.type", channel.pop("type"), CHANNEL_TYPES)
    out["channel"] = channel
    return out


class EntanglementScenario(TableScenario):
    SECTIONS = SECTIONS

    @classmethod
    def parse(cls, tables):
        from qchannel.links.entangled import EntangledLinkConfig, parse_run
        from qchannel.protocols.bbm92 import PostprocessEnt, QKDProtocolConfig

        link = _link_tables(tables)
        proto = QKDProtocolConfig.from_dict(tables.get("protocol", {}))
        if proto.type != cls.job:
            raise ValueError(f"protocol.type = {proto.type!r} but this is a {cls.job} scenario")
        cfg = EntangledLinkConfig.from_sections(link.get("source"), link.get("channel"),
                                                link.get("detector"))
        post = PostprocessEnt.from_dict(tables.get("postprocess", {}))
        satellite = None
        run = dict(tables.get("run", {}))
        if "satellite" in tables:
            from qchannel.dual_downlink import parse_satellite

            satellite = parse_satellite(tables["satellite"])
            if "pulses" in run:
                raise ValueError("run.pulses does not apply to a satellite pass: the common "
                                 "visibility window and source.rep_rate_hz set the pulses")
            for arm in (cfg.alice, cfg.bob):
                if arm.transmittance != 1.0:
                    raise ValueError("with [satellite] the pass sets both links' loss: "
                                     "give no loss in [channel]")
            run["pulses"] = 1    # placeholder for validation; the pass sets the count
        pulses, seed, chunk = parse_run(run)
        if satellite is not None:
            if cfg.time_bin_s is not None:
                raise ValueError("channel.time_bin_s does not apply with [satellite]: the pass "
                                 "is cut into bins of satellite.time_bin_s")
            pulses = None
        else:
            _fiber_bins(cfg, pulses)
        return SimpleNamespace(link=cfg, protocol=proto, postprocess=post, pulses=pulses,
                               seed=seed, chunk_blocks=chunk, satellite=satellite)

    @classmethod
    def run_config(cls, tables, config):
        return RunSection(seed=config.seed, pulses=config.pulses,
                          threads=tables.get("run", {}).get("threads"))


def _fiber_bins(cfg, pulses):
    """(bin_slots, bins) of a run over constant arms, as the link model cuts
    it (``channel.time_bin_s``, default one bin); too many bins is a
    ValueError here, at load, instead of when the link is built."""
    from qchannel.links.entangled import MAX_BINS

    if cfg.time_bin_s is None:
        return pulses, 1
    from qchannel.scenario import MAX_PULSES

    rate = cfg.source.rep_rate_hz
    if cfg.time_bin_s * rate > MAX_PULSES:   # the link model would overflow its slot count
        raise ValueError(f"channel.time_bin_s = {cfg.time_bin_s:g} is out of range: must be <= "
                         f"{MAX_PULSES / rate:.4g} s (2^56 slots at source.rep_rate_hz)")
    bin_slots = max(1, int(round(cfg.time_bin_s * rate)))
    n_bins = -(-pulses // bin_slots)
    if n_bins > MAX_BINS:
        raise ValueError(f"channel.time_bin_s = {cfg.time_bin_s:g} cuts run.pulses = {pulses:.4g} "
                         f"({pulses / rate:.4g} s) into {n_bins:.4g} time bins: at most "
                         f"{MAX_BINS}; raise channel.time_bin_s to at least "
                         f"{pulses / rate / MAX_BINS:.3g} s")
    return bin_slots, n_bins


def check(scenario):
    """Before any work: the memory the run needs (time bins of the run or of
    the pass, coincidence records kept for the analysis), refused with the
    estimate and the key to change (:mod:`qchannel.jobs.memory`).  For a
    satellite pass, the pass is searched (no common pass is a ValueError)."""
    from qchannel.jobs import memory as mem
    from qchannel.theory import entanglement as th

    c = scenario.config
    rate = c.link.source.rep_rate_hz
    if c.satellite is None:
        _, n_bins = _fiber_bins(c.link, c.pulses)
        coinc = c.pulses * th.expected_rates(c.link)["coincidence"]
        bins_what = f"{n_bins:.3g} time bins"
        bins_change = "raise channel.time_bin_s"
        coinc_change = "lower run.pulses"
    else:
        from qchannel import orbits
        from qchannel.dual_downlink import pass_transmittances

        sat = scenario.to_dict()["satellite"]
        min_el, dt, hours, chan = c.satellite
        alice = chan["alice"]
        station = orbits.GroundStation(alice.station_lat_deg, alice.station_lon_deg,
                                       alice.station_alt_m)
        orbit = orbits.TLEOrbit(sat["tle_line1"], sat["tle_line2"], name="satellite.tle")
        dur = orbit.find_next_pass(station, orbits.parse_utc(sat["start_utc"],
                                                             "satellite.start_utc"),
                                   min_el, hours).duration_s
        n_bins = max(1, int(dur // dt))
        bins_what = f"up to {n_bins:.3g} time bins of {dt:g} s"
        bins_change = "raise satellite.time_bin_s"
        coinc_change = "shorten the pass (satellite.min_elevation_deg)"
        mem.refuse_if_too_big(n_bins * mem.ENTANGLEMENT_BIN_BYTES, bins_what, bins_change)
        # expected coincidences from the pass's mean loss on a coarse grid
        geo = pass_transmittances({**sat, "time_bin_s": min(max(dt, 1.0), 600.0)})
        slots = geo["time_bin_s"] * rate
        coinc = sum(slots * th.expected_rates(c.link, float(a), float(b))["coincidence"]
                    for a, b in zip(geo["alice_transmittance"], geo["bob_transmittance"]))
    parts = sorted([(n_bins * mem.ENTANGLEMENT_BIN_BYTES, bins_what, bins_change),
                    (coinc * mem.COINCIDENCE_BYTES, f"about {coinc:.3g} coincidence records",
                     coinc_change)], key=lambda x: -x[0])
    total = sum(b for b, _, _ in parts)
    what = "; ".join(f"{w}: {mem.fmt_bytes(b)}" for b, w, _ in parts)
    return mem.refuse_if_too_big(total, what, parts[0][2])


class BBM92Scenario(EntanglementScenario):
    job = "bbm92"

    @classmethod
    def default(cls):
        return cls.from_dict({"run": {"pulses": 10**8}})


class E91Scenario(EntanglementScenario):
    job = "e91"

    @classmethod
    def default(cls):
        return cls.from_dict({"protocol": {"type": "e91"}, "run": {"pulses": 10**8}})


def run(scenario, progress=None, keys_out=None):
    from qchannel.protocols.bbm92 import run_qkd

    tables = _link_tables(scenario.to_dict())
    if scenario.config.satellite is not None:
        from qchannel.dual_downlink import run_dual_downlink

        return run_dual_downlink({**tables, "satellite": scenario.to_dict()["satellite"]})
    return run_qkd(tables)


def run_entanglement(tables):
    """Run entanglement scenario tables: ``[protocol] type`` "bbm92" (the
    default here), "e91" or "teleportation"."""
    from qchannel import jobs

    if not isinstance(tables, dict):
        raise ValueError("a scenario must be a table of sections")
    protocol = tables.get("protocol", {})
    if isinstance(protocol, dict) and "type" not in protocol:
        tables = {**tables, "protocol": {**protocol, "type": "bbm92"}}
    scenario = jobs.from_dict(tables)
    return jobs.job_for(scenario).run(scenario)


def _arm_series(scenario):
    """(eta_a, eta_b, bin_slots, n_bins, pulses): per-bin arm transmittances
    (None for the constant arms of the link) and the run's binning."""
    c = scenario.config
    rate = c.link.source.rep_rate_hz
    if c.satellite is not None:
        from qchannel.dual_downlink import pass_transmittances

        geo = pass_transmittances(scenario.to_dict()["satellite"])
        bin_slots = max(1, int(round(geo["time_bin_s"] * rate)))
        n = len(geo["alice_transmittance"])
        return geo["alice_transmittance"], geo["bob_transmittance"], bin_slots, n, bin_slots * n
    return None, None, c.pulses, 1, c.pulses


def theory(scenario, decoy=None):
    """Closed-form expectation of the run (see the module docstring)."""
    from qchannel.theory import h2 as h
    from qchannel.theory import entanglement as th

    if decoy is not None:
        raise ValueError(f"--decoy applies to decoy-bb84 scenarios, not to {scenario.job}")
    c = scenario.config
    cfg, proto, post = c.link, c.protocol, c.postprocess
    aa, pa, ab, pb, key_pairs, phase_pairs, chsh_idx = proto.settings()
    eta_a, eta_b, bin_slots, n_bins, pulses = _arm_series(scenario)
    T = th.werner_T(cfg.source.visibility)
    if proto.eve_intercept_fraction > 0:
        T = th.intercept_resend_T(T, proto.eve_intercept_fraction)
    T = cfg.alice.bloch() @ T @ cfg.bob.bloch().T
    mu, stats = cfg.source.pair_prob, cfg.source.statistics
    n_cc = np.zeros((len(aa), len(ab)))
    n_err = np.zeros((len(aa), len(ab)))
    acc = 0.0
    for g in range(n_bins):
        slots = min(bin_slots, pulses - g * bin_slots)
        er = th.expected_rates(cfg, None if eta_a is None else eta_a[g],
                               None if eta_b is None else eta_b[g])
        args = (mu, er["eta_a"], er["eta_b"], er["dark_a"], er["dark_b"])
        acc += er["accidental"] * slots
        for i in range(len(aa)):
            for j in range(len(ab)):
                pc, err = th.coincidence_stats(*args, th.correlation(aa[i], ab[j], T), stats)
                n_cc[i, j] += slots * pa[i] * pb[j] * pc
                n_err[i, j] += slots * pa[i] * pb[j] * err

    def rate(pairs):
        n = sum(n_cc[i, j] for i, j in pairs)
        return n, (sum(n_err[i, j] for i, j in pairs) / n if n > 0 else None)

    n_key, e_key = rate(key_pairs)
    n_ph, e_ph = rate(phase_pairs) if phase_pairs else (0.0, None)
    E = [1.0 - 2.0 * n_err[i, j] / n_cc[i, j] if n_cc[i, j] > 0 else 0.0 for i, j in chsh_idx]
    S = E[0] - E[1] + E[2] + E[3]
    if proto.type == "bbm92":
        e_x = e_ph if e_ph is not None else 0.5
        frac = 1.0 - h(min(e_x, 0.5)) - post.f_ec * h(min(e_key or 0.5, 0.5))
        method = "Shor-Preskill, asymptotic: n_key [1 - h(e_X) - f h(e_Z)]"
    else:
        frac = (1.0 - post.f_ec * h(min(e_key or 0.5, 0.5))
                - (h((1 + math.sqrt((S / 2) ** 2 - 1)) / 2) if S > 2 else 1.0))
        method = "Acin et al. 2007, asymptotic: n_key [1 - f h(e) - h((1 + sqrt(S^2/4 - 1))/2)]"
    key_bits = max(0.0, n_key * frac)
    duration = pulses / cfg.source.rep_rate_hz
    drift = cfg.alice.drift_time_s is not None or cfg.bob.drift_time_s is not None
    return {
        "protocol": proto.type,
        "model": "exact click model per setting pair and time bin"
                 + ("; polarisation drift is NOT in the closed form" if drift else ""),
        "pulses": int(pulses),
        "duration_s": duration,
        "bins": int(n_bins),
        "coincidences_expected": float(n_cc.sum()),
        "accidentals_expected": float(acc),
        "coincidence_rate_hz": float(n_cc.sum() / duration),
        "sifted_bits_expected": float(n_key),
        "qber": e_key,
        "qber_x": e_ph,
        "chsh_s": float(S),
        "chsh_s_werner": th.chsh_werner(cfg.source.visibility),
        "key_method": method,
        "secret_key_bits_asymptotic": float(key_bits),
        "secret_key_rate_bps_asymptotic": float(key_bits / duration),
    }


def report(d):
    lines = [f"qchannel {d['protocol']}: seed {d['seed']}, {d['pulses']:.4g} slots "
             f"({d['duration_s']:.4g} s)",
             f"  coincidences {d['coincidences']} (expected {d['coincidences_expected']:.4g}), "
             f"accidentals {d['accidentals']}",
             f"  sifted key bits {d['sifted_bits']}, QBER "
             f"{'n/a' if d['qber'] is None else format(d['qber'], '.4%')}, CHSH S "
             f"{'n/a' if d['chsh_s'] is None else format(d['chsh_s'], '.4f')}"
             + ("" if d["chsh_s_std"] is None else f" +- {d['chsh_s_std']:.4f}")]
    if "pass" in d:
        p = d["pass"]
        lines.append(f"  pass: {p['duration_s']:.4g} s in {p['bins']} bins, total loss "
                     f"{p['min_total_loss_db']:.1f}-{p['max_total_loss_db']:.1f} dB")
    if d["aborted"]:
        lines.append(f"  ABORTED: {d['abort_reason']}")
    lines.append(f"  secret key: {d['secret_key_bits']} bits, {d['secret_key_rate_bps']:.4g} bit/s")
    return "\n".join(lines)


def theory_report(d):
    return "\n".join([
        f"qchannel theory {d['protocol']}: {d['pulses']:.4g} slots ({d['duration_s']:.4g} s, "
        f"{d['bins']} bins)",
        f"  coincidences {d['coincidences_expected']:.4g} ({d['coincidence_rate_hz']:.4g} Hz), "
        f"accidentals {d['accidentals_expected']:.4g}",
        f"  QBER {'n/a' if d['qber'] is None else format(d['qber'], '.4%')}, CHSH S "
        f"{d['chsh_s']:.4f} (Werner {d['chsh_s_werner']:.4f})",
        f"  asymptotic key {d['secret_key_bits_asymptotic']:.4g} bits "
        f"({d['secret_key_rate_bps_asymptotic']:.4g} bit/s); {d['model']}",
    ])


def tiny(sc):
    """A run of seconds: 1e6 pairs on fiber, long bins of a satellite pass."""
    if sc.config.satellite is not None:
        return sc.replace(**{"satellite.time_bin_s": 50.0, "source.rep_rate_hz": 1e5})
    return sc.replace(**{"run.pulses": 10**6})


_COMMON = dict(tiny=tiny, run=run, report=report, theory=theory, theory_report=theory_report,
               headline=("seed", "pulses", "coincidences", "sifted_bits", "qber", "chsh_s",
                         "chsh_s_std", "secret_key_bits", "secret_key_rate_bps", "aborted",
                         "abort_reason"),
               sweep_skip=("per_bin", "singles"), check=check)

register(Job(name="bbm92", schema=BBM92Scenario,
             summary="entanglement-based QKD (Bennett, Brassard, Mermin 1992) with CHSH checks",
             **_COMMON))
register(Job(name="e91", schema=E91Scenario,
             summary="Ekert 1991 QKD: key and CHSH test from one set of settings", **_COMMON))
