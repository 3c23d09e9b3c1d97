"""Job ``decoy-bb84``: prepare-and-measure decoy-state BB84 over fiber or a
free-space/satellite pass, optionally attacked (``[eve]``).

Schema: :class:`qchannel.scenario.Scenario`.  Run: the link's Monte Carlo,
sifting, finite key and post-processing (:func:`qchannel.runner.simulate`).
Analytic twin: :func:`qchannel.theory.expect` for fiber; for a pass, the same
closed form per time bin of constant mean loss and background; both in either
key-rate convention (``convention``: "all-intensities", what the Monte Carlo
computes, or "signal-only").  Optimiser: :func:`qchannel.optimize.optimize`
(intensities, their probabilities and the basis probability that maximise the
expected finite key).
"""
from types import SimpleNamespace

import numpy as np

from qchannel.jobs import Job, register
from qchannel.optimize import PARAMETERS
from qchannel.scenario import MAX_PULSES, Scenario


def check_combined(sc):
    """Keys that are valid alone but not together.  Runs whenever a decoy-BB84
    scenario is built (load, ``replace``, every sweep point), so ``qchannel
    run`` and ``qchannel theory`` refuse them before any work."""
    sc.source.check_finite_key("source", passive=sc.detector.basis_choice == "passive")
    pp = sc.postprocess
    if pp.ldpc_decoder != "auto" and pp.ec != "ldpc":
        raise ValueError(f"postprocess.ldpc_decoder = {pp.ldpc_decoder!r} applies to "
                         f"postprocess.ec = 'ldpc' only, not {pp.ec!r}")
    if sc.is_free_space:
        if sc.run.pulses is not None:
            raise ValueError("run.pulses does not apply to a free-space or satellite channel: "
                             "the pass (or channel.duration_s) and source.rep_rate_hz set the "
                             "pulses")
        if sc.eve is not None:
            raise ValueError(f"[eve] needs a fiber channel (channel.type = 'fiber'), not "
                             f"channel.type = {sc.channel.type!r}")
        for key in ("filter_bandwidth_nm", "gate_width_ns", "filter_isolation_db"):
            if getattr(sc.detector, key) is not None:
                raise ValueError(f"detector.{key} applies to fiber channels shared with classical "
                                 f"light (channel.classical); a free-space channel sets its own "
                                 f"filter and gate in [channel]")
        return
    if sc.run.time_bin_s is not None:
        raise ValueError(f"run.time_bin_s = {sc.run.time_bin_s:g} applies to free-space and "
                         f"satellite channels: a fiber link has one constant loss; remove it")
    if sc.channel.classical:       # classical light sharing the fiber (qchannel.coexistence)
        if sc.eve is not None:
            raise ValueError("[eve] and channel.classical cannot be combined: the attacked link "
                             "does not model the classical channels' noise")
        from qchannel.coexistence import DEFAULT_GATE_WIDTH_NS

        gate = sc.detector.gate_width_ns
        shown = f"{gate:g}" if gate is not None else f"{DEFAULT_GATE_WIDTH_NS:g} (the default)"
        if (gate or DEFAULT_GATE_WIDTH_NS) * 1e-9 * sc.source.rep_rate_hz > 1.0 + 1e-12:
            raise ValueError(f"detector.gate_width_ns = {shown} is out of range: must be <= the "
                             f"pulse period 1/source.rep_rate_hz = "
                             f"{1e9 / sc.source.rep_rate_hz:g} ns")
        if sc.channel.background_click_prob(sc.detector) >= 1.0:
            n = sc.channel.noise(sc.detector)
            raise ValueError(f"channel.classical: {n['noise_photons_per_gate']:.3g} noise photons "
                             f"per gate blind the detectors (click probability 1): lower "
                             f"channel.classical[].power_dbm, raise detector.filter_isolation_db "
                             f"or keep classical wavelengths out of the quantum filter")

    if sc.eve is not None and sc.eve.position_km > sc.channel.length_km:
        raise ValueError(f"eve.position_km = {sc.eve.position_km:g} is out of range: must be "
                         f"<= channel.length_km = {sc.channel.length_km:g}")


def _sifted_per_pulse(sc, transmittance, background_click_prob=0.0):
    """Expected sifted (X-X) detections per pulse: the link's click
    probability per intensity (afterpulses on top) times P(X, X)."""
    from qchannel.links.prepare_measure import click_tables

    src, det = sc.source, sc.detector
    pdc = 1.0 - (1.0 - det.dark_count_prob) * (1.0 - background_click_prob)
    _, click = click_tables(src.intensities, src.intensity_probs, src.key_basis_prob,
                            transmittance * det.efficiency, sc.channel.misalignment, pdc,
                            det.n_detectors)
    detections = float(np.dot(src.intensity_probs, click)) * (1.0 + det.afterpulse_prob)
    return detections * src.key_basis_prob ** 2


def _pass_bins(sc):
    """(duration_s, time_bin_s, bins) of a free-space run or satellite pass,
    as ``FreeSpaceChannel.pass_geometry`` will cut it, without its arrays
    (a TLE pass is searched: no pass is a ValueError here, before the work)."""
    import math

    from qchannel import orbits

    ch = sc.channel
    dt = sc.run.time_bin_s if sc.run.time_bin_s is not None else ch.time_bin_s
    if ch.type == "free-space":
        return ch.duration_s, dt, max(1, int(round(ch.duration_s / dt)))
    orbit = ch._orbit          # built by the channel's validation
    if isinstance(orbit, orbits.TLEOrbit):
        station = orbits.GroundStation(ch.station_lat_deg, ch.station_lon_deg, ch.station_alt_m)
        dur = orbit.find_next_pass(station, ch.start_utc, ch.min_elevation_deg,
                                   ch.pass_search_hours).duration_s
    else:
        dur = orbit.duration_s if ch.pass_duration_s is None else ch.pass_duration_s
    return dur, dt, max(1, int(math.floor(dur / dt)))


def check(sc):
    """Before any work: the memory the run needs (bins of a pass, report
    bins, sifted bits kept for real error correction, Eve's kept bits),
    refused with the estimate and the key to change (see
    :mod:`qchannel.jobs.memory`)."""
    from qchannel.jobs import memory as mem
    from qchannel.links.prepare_measure import outcome_codes

    src, pp = sc.source, sc.postprocess
    parts = []   # (bytes, what, change)
    if not sc.is_free_space:
        pulses = sc.run.pulses or sc.run.DEFAULT_PULSES
        sifted = pulses * _sifted_per_pulse(sc, sc.channel.transmittance(),
                                            sc.channel.background_click_prob(sc.detector))
    else:
        dur, dt, n_bins = _pass_bins(sc)
        n_codes = len(outcome_codes(len(src.intensities), sc.detector.n_detectors))
        guide = 1 << (n_codes - 1).bit_length()
        parts.append((n_bins * (mem.PASS_BIN_BYTES + 8 * n_codes + 2 * guide),
                      f"{n_bins:.3g} time bins of {dt:g} s over {dur:.4g} s",
                      "raise run.time_bin_s"))
        slots_per_bin = max(1, int(round(dt * src.rep_rate_hz)))
        if slots_per_bin * n_bins > MAX_PULSES:
            horizontal = sc.channel.type == "free-space"
            raise ValueError(f"the {dur:.4g} s of the {'run' if horizontal else 'pass'} at "
                             f"source.rep_rate_hz = {src.rep_rate_hz:g} are "
                             f"{slots_per_bin * n_bins:.3g} pulses, more than 2^56: lower "
                             f"source.rep_rate_hz" + (" or channel.duration_s" if horizontal
                                                      else ""))
        report_slots = max(1, int(round(sc.run.report_bin_s * src.rep_rate_hz)))
        n_report = -(-slots_per_bin * n_bins // report_slots)
        parts.append((n_report * mem.REPORT_BIN_BYTES + min(n_report, n_bins)
                      * mem.REPORT_ROW_BYTES,
                      f"{n_report:.3g} report bins of {sc.run.report_bin_s:g} s",
                      "raise run.report_bin_s"))
        sifted = 0.0
        if pp.ec != "estimate" and sum(b for b, _, _ in parts) < (mem.available_bytes() or 2**62):
            # the pass's mean loss on a coarse grid (at most ~1000 bins)
            coarse = max(dt, dur / 1000.0)
            series = sc.channel.series(sc.run.seed, time_bin_s=coarse,
                                       detector_efficiency=sc.detector.efficiency,
                                       n_detectors=sc.detector.n_detectors)
            slots = coarse * src.rep_rate_hz
            sifted = sum(slots * _sifted_per_pulse(sc, float(t), float(b)) for t, b in
                         zip(series.mean_transmittance, series.background_click_prob))
    if pp.ec != "estimate":
        parts.append((sifted * mem.SIFTED_BIT_BYTES[pp.ec],
                      f"about {sifted:.3g} sifted bits kept for postprocess.ec = {pp.ec!r}",
                      ("lower run.pulses" if not sc.is_free_space else "shorten the pass")
                      + " or set postprocess.ec = 'estimate'"))
    if sc.eve is not None and sc.eve.max_hash_bits:
        kept = min(sifted, sc.eve.max_hash_bits)
        parts.append((kept * mem.EVE_BIT_BYTES, f"{kept:.3g} of Eve's guesses kept",
                      "lower eve.max_hash_bits"))
    if not parts:
        return mem.BASELINE_BYTES
    total = sum(b for b, _, _ in parts)
    parts.sort(key=lambda x: -x[0])
    what = "; ".join(f"{w}: {mem.fmt_bytes(b)}" for b, w, _ in parts if b >= 0.1 * total)
    return mem.refuse_if_too_big(total, what, parts[0][2])


def _fmt(x, spec=".4g"):
    return "n/a" if x is None else format(x, spec)


def run(scenario, progress=None, keys_out=None):
    from qchannel.runner import run_decoy_bb84

    return run_decoy_bb84(scenario, progress=progress, keys_out=keys_out)


def bin_expect(scenario_dict, loss_db, background_click_prob, decoy="infinite",
               convention="all-intensities"):
    """Closed-form expectation (``theory.expect``) for one time bin of a pass:
    the channel is a lossy line of ``loss_db`` (everything before the
    detectors) and the background adds to the dark counts per gate."""
    from qchannel import theory

    sc = scenario_dict
    pdc = 1.0 - (1.0 - sc["detector"]["dark_count_prob"]) * (1.0 - background_click_prob)
    ns = SimpleNamespace(
        source=SimpleNamespace(**sc["source"]),
        channel=SimpleNamespace(length_km=0.0, attenuation_db_per_km=0.0,
                                extra_loss_db=float(loss_db),
                                misalignment=sc["channel"]["misalignment"]),
        detector=SimpleNamespace(**{**sc["detector"], "dark_count_prob": pdc}),
        postprocess=SimpleNamespace(**sc["postprocess"]))
    return theory.expect(ns, decoy=decoy, convention=convention)


def theory(scenario, decoy="infinite", convention="all-intensities"):
    """The analytic twin: fiber -> ``theory.expect``; a pass -> per time bin
    of the channel's mean transmittance (no fading sample), summed.
    ``convention`` names which pulses make key (:func:`qchannel.theory.expect`)."""
    from qchannel import theory as th
    from qchannel.params import check_choice

    check_choice("convention", convention, th.CONVENTIONS)

    if scenario.eve is not None:
        raise ValueError("qchannel theory covers the honest link: remove [eve] (the attacked "
                         "link has no closed form here; its Monte Carlo reports Eve's knowledge)")
    if not scenario.is_free_space:
        return th.expect(scenario, decoy=decoy, convention=convention)
    from qchannel.jobs import memory as mem

    dur, dt, n_bins = _pass_bins(scenario)
    mem.refuse_if_too_big(n_bins * mem.THEORY_BIN_BYTES,
                          f"{n_bins:.3g} time bins of {dt:g} s over {dur:.4g} s",
                          "raise run.time_bin_s")
    series = scenario.channel.series(scenario.run.seed, time_bin_s=scenario.run.time_bin_s,
                                     detector_efficiency=scenario.detector.efficiency,
                                     n_detectors=scenario.detector.n_detectors)
    sc = scenario.to_dict()
    rep = scenario.source.rep_rate_hz
    pulses_per_bin = series.time_bin_s * rep
    bins, total_bits = [], 0.0
    for t, el, rng_km, loss, bg in zip(series.t_s, series.elevation_deg, series.range_km,
                                       series.loss_db, series.background_click_prob):
        d = bin_expect(sc, loss, bg, decoy, convention) if np.isfinite(loss) else None
        rate = d["key_rate_per_pulse"] if d else 0.0
        total_bits += rate * pulses_per_bin
        bins.append({"t_s": float(t), "elevation_deg": float(el), "range_km": float(rng_km),
                     "loss_db": float(loss), "background_click_prob": float(bg),
                     "key_rate_per_pulse": rate,
                     "secret_key_rate_bps": rate * rep,
                     "qber": d["qber"] if d else None})
    pulses = pulses_per_bin * len(bins)
    return {
        "decoy": decoy,
        "convention": convention,
        "model": "per time bin: mean transmittance and background of the bin, asymptotic key",
        "duration_s": float(series.time_bin_s * len(bins)),
        "time_bin_s": float(series.time_bin_s),
        "mean_loss_db": float(-10 * np.log10(np.mean(series.mean_transmittance))),
        "secret_key_bits": float(total_bits),
        "key_rate_per_pulse": float(total_bits / pulses) if pulses else 0.0,
        "secret_key_rate_bps": float(total_bits / (series.time_bin_s * len(bins))) if bins else 0.0,
        "bins": bins,
    }


def report(d):
    sc = d["scenario"]
    ch = sc["channel"]
    if "pass" in d:
        p = d["pass"]
        where = (f"{p['duration_s']:.4g} s, closest {p['min_range_km']:.0f} km, max elevation "
                 f"{p['max_elevation_deg']:.1f} deg, mean loss {p['mean_loss_db']:.1f} dB")
    else:
        where = f"{ch['length_km']:g} km"
    lines = [
        f"qchannel decoy-BB84 over {ch['type']}: {where}, seed {d['seed']}",
        f"  pulses {d['pulses']:.4g} ({d['duration_s']:.4g} s at {sc['source']['rep_rate_hz']:.3g} Hz), "
        f"detections {d['detections']}, double clicks {d['double_clicks']}",
        "  intensity        sent         gain     QBER X     QBER Z",
    ]
    for row in d["intensities"]:
        lines.append(f"  mu={row['mu']:<8g} {row['sent']:>12d} {_fmt(row['gain'], '12.4e')} "
                     f"{_fmt(row['qber_x'], '10.4f')} {_fmt(row['qber_z'], '10.4f')}")
    ec = d["ec"]
    lines += [
        f"  sifted key bits (X basis) {d['sifted_bits']}, QBER {_fmt(d['qber'], '.4%')}",
        f"  error correction: {ec['method']}, {ec['leaked_bits']} bits disclosed"
        + (f" ({ec['note']})" if ec.get("note") else "")
        + (f", efficiency f = {_fmt(ec.get('efficiency'), '.3f')}, {ec['frames']} frames, "
           f"{ec['frames_failed']} failed, {ec['rounds']} rounds" if "frames" in ec else ""),
    ]
    if "verification_bits" in d:
        lines.append(f"  verification: {d['verification_bits']} tag bits; keys match: "
                     f"{d['keys_match']}")
    if "eve" in d:
        e, info = d["eve"], d.get("eve_info_final_key") or {}
        lines.append(f"  eve: {e['attack']} on {e['fraction']:.3g} of the pulses at "
                     f"{e['position_km']:g} km; she knows {d['eve_known_sifted_bits']} of "
                     f"{d['sifted_bits']} sifted bits")
        if info.get("hashed"):
            lines.append(f"  eve's guesses of final-key bits: {info['correct_fraction']:.4f} right "
                         f"({info['z_score']:+.2f} sigma from 1/2)")
    if "coexistence" in d:
        from qchannel.coexistence import format_summary

        lines += format_summary(d["coexistence"])
    if d["aborted"]:
        lines.append(f"  ABORTED: {d['abort_reason']}")
    lines.append(f"  secret key: {d['secret_key_bits']} bits, {d['key_rate_per_pulse']:.4g} per pulse, "
                 f"{d['secret_key_rate_bps']:.4g} bit/s")
    return "\n".join(lines)


_CONVENTION_TEXT = {"all-intensities": "every intensity makes key, as in the Monte Carlo",
                    "signal-only": "only signal pulses make key"}


def theory_report(d):
    conv = f"{d['convention']} convention: {_CONVENTION_TEXT[d['convention']]}"
    if "bins" in d:
        return (f"qchannel theory ({d['decoy']} decoys), pass of {d['duration_s']:.4g} s in "
                f"{len(d['bins'])} bins of {d['time_bin_s']:g} s: mean loss "
                f"{d['mean_loss_db']:.1f} dB\n  asymptotic secret key {d['secret_key_bits']:.4g} "
                f"bits, {d['secret_key_rate_bps']:.4g} bit/s over the pass ({conv})")
    lines = [f"qchannel theory ({d['decoy']} decoys): channel transmittance {d['transmittance']:.4g}"]
    for row in d["intensities"]:
        lines.append(f"  mu={row['mu']:<8g} gain {row['gain']:.4e}  QBER {_fmt(row['qber'], '.4f')}")
    if "classical_noise" in d:
        n = d["classical_noise"]
        lines.append(f"  classical channels: {n['noise_photons_per_gate']:.3g} noise photons per "
                     f"gate (Raman {n['raman_photons_per_gate']:.3g}, FWM "
                     f"{n['fwm_photons_per_gate']:.3g}, leakage {n['leakage_photons_per_gate']:.3g}),"
                     f" click prob {d['noise_click_prob']:.3g} per detector")
    lines.append(f"  asymptotic key rate {d['key_rate_per_pulse']:.4g} per pulse "
                 f"(PLOB bound {_fmt(d['plob_per_pulse'])}, TGW {_fmt(d['tgw_per_pulse'])})")
    lines.append(f"  {conv}")
    return "\n".join(lines)


def optimize(scenario, pulses=None):
    """The optimiser of this job: :func:`qchannel.optimize.optimize`."""
    from qchannel.optimize import optimize as opt

    return opt(scenario, pulses=pulses)


def optimize_check(scenario, pulses=None):
    """The checks :func:`optimize` makes before its search (a sweep runs
    them on every point before submitting any)."""
    from qchannel.optimize import check

    check(scenario, pulses)


def optimize_report(d):
    from qchannel.optimize import format_optimize_report

    return format_optimize_report(d)


def tiny(sc):
    """A run of seconds: 1e6 pulses on fiber, a few short bins of a pass."""
    if not sc.is_free_space:
        return sc.replace(**{"run.pulses": 10**6})
    if sc.channel.type == "free-space":
        return sc.replace(**{"channel.duration_s": 2.0, "run.time_bin_s": 0.5,
                             "run.report_bin_s": 1.0})
    return sc.replace(**{"source.rep_rate_hz": 1e6, "run.time_bin_s": 10.0,
                         "run.report_bin_s": 60.0})


JOB = register(Job(
    name="decoy-bb84",
    summary="decoy-state BB84 (weak coherent pulses) over fiber or a free-space/satellite pass",
    schema=Scenario,
    run=run,
    report=report,
    theory=theory,
    theory_report=theory_report,
    headline=("seed", "pulses", "detections", "sifted_bits", "qber", "secret_key_bits",
              "key_rate_per_pulse", "secret_key_rate_bps", "aborted", "abort_reason"),
    sweep_skip=("bins",),
    writes_keys=True,
    optimize=optimize,
    # what the optimiser chooses (a sweep may not also grid over them), its
    # checks before any work and its text report
    extra={"optimize_keys": PARAMETERS,
           "optimize_check": optimize_check,
           "optimize_report": optimize_report},
    check=check,
    tiny=tiny,
))
