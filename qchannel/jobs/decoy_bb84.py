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
from qchannel.scenario import Scenario


def _fmt(x, spec=".4g"):
    return "n/a" if x is None else format(x, spec)


def run(scenario, progress=None, keys_out=None):
    from qchannel.runner import simulate

    return simulate(scenario, progress=progress, keys_out=keys_out)


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
))
