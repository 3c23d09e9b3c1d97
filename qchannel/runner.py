"""The main job: simulate a scenario's link and run its protocol."""
import numpy as np

from qchannel.links.prepare_measure import LinkModel
from qchannel.protocols.decoy_bb84 import DecoyCounts, build_result
from qchannel.rng import check_seed


def build_link(scenario, seed=None):
    """(link, series) for a decoy-BB84 scenario: the channel's segments of
    constant parameters (one for fiber, one per time bin for a pass) under
    the honest or, with ``[eve]``, the attacked link; ``series`` is the
    free-space time series (None for fiber)."""
    run = scenario.run
    segments = scenario.channel.segments(
        run.seed if seed is None else seed, scenario.source.rep_rate_hz, scenario.detector,
        pulses=None if scenario.is_free_space else (run.pulses or run.DEFAULT_PULSES),
        time_bin_s=run.time_bin_s)
    if scenario.eve is not None:          # Eve on the fiber: an attacked link (qchannel.eve)
        from qchannel.eve import attacked_link

        return attacked_link(scenario, segments.pulses), None
    return (LinkModel(scenario.source, scenario.channel, scenario.detector, segments.pulses,
                      segments), segments.series)


def simulate(scenario=None, seed=None, pulses=None, progress=None, keys_out=None):
    """Monte Carlo of a decoy-BB84 scenario's link followed by sifting,
    finite-key estimation and post-processing.  ``seed`` and ``pulses``
    override the scenario's [run] values (``pulses`` applies to fiber links
    only: a pass sets its own length).  Returns a result whose ``to_dict()``
    is the CLI's JSON report; with real error correction (``postprocess.ec``)
    ``keys_out`` is a directory that receives both final keys as packed
    binary files.  The job's checks (memory, outputs) run first.  Other
    jobs: :func:`run_scenario`.

    Examples
    --------
    A run far too short for a finite key says why there is none:

    >>> import qchannel
    >>> sc = qchannel.Scenario.from_dict({"channel": {"length_km": 25.0}})
    >>> r = qchannel.simulate(sc, seed=1, pulses=10**7).to_dict()
    >>> r["pulses"], 0.02 < r["qber"] < 0.03
    (10000000, True)
    >>> r["aborted"], r["abort_reason"]
    (True, 'no single-photon events certified in the Z basis: s_z1 lower bound is 0')
    """
    from qchannel.scenario import Scenario

    if scenario is None:
        scenario = Scenario.default()
    if not isinstance(scenario, Scenario):
        raise ValueError(f"simulate() runs decoy-BB84 scenarios, not "
                         f"{getattr(scenario, 'job', type(scenario).__name__)!r}: use "
                         f"qchannel.run_scenario")
    # the schema refuses run.pulses on a free-space channel (check_combined)
    scenario = with_overrides(scenario, check_seed(seed) if seed is not None else None, pulses)
    return run_scenario(scenario, progress=progress, keys_out=keys_out)


def run_decoy_bb84(scenario, progress=None, keys_out=None):
    """The decoy-BB84 job's work (its checks have run: :func:`run_scenario`)."""
    if keys_out is not None:
        check_keys_out(scenario, keys_out)
    run = scenario.run
    link, series = build_link(scenario)
    link.threads = run.threads          # None: every core (qchannel.links.base.threads)
    n_pulses = link.pulses
    report_slots = None
    if series is not None:
        report_slots = max(1, int(round(run.report_bin_s * scenario.source.rep_rate_hz)))
        link.bin_slots = report_slots          # the kernel counts the events per bin
    counts = DecoyCounts(len(scenario.source.intensities), bin_slots=report_slots,
                         keep_sifted=scenario.postprocess.ec != "estimate",
                         eve_keep_bits=scenario.eve.max_hash_bits if scenario.eve else 0)
    for record in link.blocks(run.seed, progress=progress):
        counts.add(record)
    result = build_result(counts, scenario, run.seed)
    if not scenario.is_free_space and scenario.channel.classical and scenario.eve is None:
        from qchannel.coexistence import run_summary   # classical light in the fiber

        result.extra = {**(result.extra or {}),
                        "coexistence": run_summary(scenario, result.qber)}
    if scenario.eve is not None:
        from qchannel.eve import add_eve_knowledge
        add_eve_knowledge(result, counts, scenario)
    if keys_out is not None:
        from qchannel.postprocess.pipeline import write_keys

        if result.keys is not None:
            write_keys(result.keys, keys_out)
    if series is not None:
        result.bins = pass_bins(counts, series, scenario, report_slots)
        result.pass_summary = {
            "duration_s": n_pulses / scenario.source.rep_rate_hz,
            "time_bin_s": series.time_bin_s,
            "report_bin_s": run.report_bin_s,
            "min_range_km": float(series.range_km.min()),
            "max_elevation_deg": float(series.elevation_deg.max()),
            "mean_loss_db": float(-10 * np.log10(np.mean(series.mean_transmittance))),
            "fading_model": series.fading_model,
        }
    return result


def check_keys_out(scenario, keys_out):
    """Before any work: ``--keys-out`` needs real error correction and a directory that can be created and written."""
    from qchannel.outputs import check_output_dir

    from qchannel import jobs

    if not jobs.job_for(scenario).writes_keys:
        raise ValueError(f"--keys-out applies to decoy-bb84 scenarios, not to a "
                         f"{getattr(scenario, 'job', '?')} scenario")
    # decoy-bb84 keeps [postprocess] on the scenario, table jobs (mdi-qkd, tf-qkd) in config
    post = getattr(scenario, "postprocess", None) or scenario.config.postprocess
    if post.ec == "estimate":
        raise ValueError("--keys-out needs real error correction: set [postprocess] ec = "
                         "\"cascade\" or \"ldpc\"")
    check_output_dir(keys_out, "--keys-out")


def run_scenario(scenario, progress=None, keys_out=None):
    """Run a validated scenario of any job through the registry.

    Examples
    --------
    >>> import qchannel
    >>> sc = qchannel.jobs.get("repeater-chain").schema.default()   # 4 segments, 400 km
    >>> d = qchannel.run_scenario(sc.replace(**{"repeater.realisations": 200})).to_dict()
    >>> d["realisations"], d["beats_plob"]
    (200, True)
    """
    from qchannel import jobs
    from qchannel.links.base import forced_threads, threads

    job = jobs.job_for(scenario)            # ValueError for anything but a scenario
    if keys_out is not None and not job.writes_keys:
        raise ValueError(f"--keys-out applies to decoy-bb84 scenarios, not to a {job.name} "
                         f"scenario")
    if job.check is not None:
        job.check(scenario)
    # [run] threads (or --threads, which wins) for every thread the job starts
    with forced_threads(threads(getattr(getattr(scenario, "run", None), "threads", None))):
        return job.run(scenario, progress=progress, keys_out=keys_out)


def with_overrides(scenario, seed=None, pulses=None):
    """The scenario with ``[run] seed`` / ``pulses`` replaced (validated by
    the job's schema, which says where they do not apply)."""
    over = {}
    if seed is not None:
        over["run.seed"] = seed
    if pulses is not None:
        over["run.pulses"] = pulses
    return scenario.replace(**over) if over else scenario


def run_file(path=None, seed=None, pulses=None, progress=None, keys_out=None):
    """Run whatever job a scenario file names in ``[protocol] type`` and
    return a result with ``to_dict()``.  ``seed``/``pulses`` override [run]."""
    from qchannel import jobs

    scenario = with_overrides(jobs.load(path), seed, pulses)
    return run_scenario(scenario, progress=progress, keys_out=keys_out)


def pass_bins(counts, series, scenario, report_slots):
    """Per report bin: time, geometry, mean loss, gain, QBER and sifted rate."""
    rep = scenario.source.rep_rate_hz
    t_fine = series.t_s + 0.5 * series.time_bin_s
    bins = []
    n_report = len(counts.bin_sent)
    report_s = report_slots / rep
    # t_fine is sorted: report bin i holds the contiguous slice of time bins
    # with i * report_s <= t < (i + 1) * report_s (O(bins), not O(bins^2))
    edges = np.searchsorted(t_fine, np.arange(n_report + 1) * report_s, side="left")
    for i in range(n_report):
        sel = slice(edges[i], edges[i + 1])
        if edges[i + 1] <= edges[i]:
            continue
        sent = int(counts.bin_sent[i])
        sifted = int(counts.bin_sifted[i])
        bins.append({
            "t_s": i * report_s,
            "elevation_deg": float(series.elevation_deg[sel].mean()),
            "range_km": float(series.range_km[sel].mean()),
            "loss_db": float(-10 * np.log10(series.mean_transmittance[sel].mean())),
            "sampled_loss_db": float(-10 * np.log10(max(series.transmittance[sel].mean(), 1e-300))),
            "background_click_prob": float(series.background_click_prob[sel].mean()),
            "pulses": sent,
            "detections": int(counts.bin_detections[i]),
            "gain": counts.bin_detections[i] / sent if sent else None,
            "sifted_bits": sifted,
            "sifted_rate_bps": sifted / (sent / rep) if sent else None,
            "sifted_rate_all_bases_bps": int(counts.bin_sifted_all_bases[i]) / (sent / rep) if sent else None,
            "qber": counts.bin_errors[i] / sifted if sifted else None,
        })
    return bins
