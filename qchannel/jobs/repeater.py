"""Job ``repeater-chain``: entanglement distribution over a chain of
heralded elementary links with nested swapping, memories and cutoffs
(:mod:`qchannel.protocols.repeater`).

Schema: ``[repeater]`` (:class:`qchannel.protocols.repeater.RepeaterConfig`)
and ``[run] seed`` and ``threads`` (``repeater.seed`` is still read when ``[run]`` has none;
giving both is an error).  The size of a run is ``repeater.realisations``
(delivered pairs), so ``run.pulses`` does not apply.

Analytic twin (:mod:`qchannel.theory.repeater`): the exact mean waiting time
of the chain without cutoff and the swapped Werner fidelity without memory
decoherence.  With a cutoff or finite memories those are bounds, and the
report names them so (``*_lower_bound`` / ``*_upper_bound``).
"""
from qchannel.jobs import DictResult, Job, register
from qchannel.params import reject_unknown
from qchannel.scenario import RunSection, TableScenario, reject_run_pulses


def _section(tables):
    """The [repeater] table with the seed of [run]."""
    section = dict(tables.get("repeater", {}))
    reject_run_pulses(tables, "repeater-chain", "its size is repeater.realisations")
    run = tables.get("run", {})
    reject_unknown("run", run, ("seed", "threads"))
    if "seed" in section:
        raise ValueError("repeater.seed: give the seed as run.seed")
    if "seed" in run:
        section["seed"] = run["seed"]
    return section


class RepeaterScenario(TableScenario):
    job = "repeater-chain"
    SECTIONS = ("protocol", "repeater", "run")

    @classmethod
    def normalize(cls, tables):
        """A legacy ``repeater.seed`` moves to ``run.seed`` (both given: an error)."""
        rep, run = tables.get("repeater"), tables.get("run", {})
        if isinstance(rep, dict) and "seed" in rep:
            if isinstance(run, dict) and "seed" in run:
                raise ValueError("the seed is given twice (run.seed and repeater.seed): "
                                 "keep run.seed")
            tables.setdefault("run", {})["seed"] = rep.pop("seed")
        return tables

    @classmethod
    def parse(cls, tables):
        from qchannel.params import check_choice
        from qchannel.protocols.repeater import RepeaterConfig

        check_choice("protocol.type", tables["protocol"].get("type"), (cls.job,))
        reject_unknown("protocol", tables["protocol"], ("type",))
        if "repeater" not in tables:
            raise ValueError("a repeater-chain scenario needs a [repeater] section "
                             "(segments, success_prob or total_length_km, ...)")
        return RepeaterConfig.from_dict(_section(tables))

    @classmethod
    def run_config(cls, tables, config):
        return RunSection(seed=config.seed, pulses=None,
                          threads=tables.get("run", {}).get("threads"))

    @classmethod
    def default(cls):
        return cls.from_dict({"repeater": {"segments": 4, "total_length_km": 400.0,
                                           "detector_efficiency": 0.9}})


def check(scenario):
    """Before any work: memory for the delivered pairs the run keeps (waiting
    time, state and fidelity of each realisation)."""
    from qchannel.jobs import memory as mem

    n = scenario.config.realisations
    return mem.refuse_if_too_big(n * mem.REPEATER_REALISATION_BYTES, f"{n:.3g} realisations",
                                 "lower repeater.realisations")


def run(scenario, progress=None, keys_out=None):
    """The chain's Monte Carlo; a chain that cannot deliver (a realisation
    past ``max_attempts``) is a result with ``aborted`` and its reason, as a
    decoy-BB84 run without key is, so that a sweep keeps its row."""
    from qchannel.protocols.repeater import ChainDidNotDeliver, plob_from_loss_db, run_repeater

    c = scenario.config
    try:
        return run_repeater(c)
    except ChainDidNotDeliver as err:
        plob = None if c.total_loss_db is None else plob_from_loss_db(c.total_loss_db)
        return DictResult({
            "protocol": "repeater-chain", "seed": c.seed, "segments": c.segments,
            "success_prob": c.success_prob, "attempt_time_s": c.attempt_time_s,
            "realisations": 0, "waiting_time_mean": None, "waiting_time_attempts_mean": None,
            "fidelity_mean": None, "key_rate_per_channel_use": 0.0, "key_rate_bps": 0.0,
            "plob_per_channel_use": plob, "beats_plob": None if plob is None else False,
            "aborted": True, "abort_reason": str(err)})


def theory(scenario, decoy=None):
    from qchannel.protocols.repeater import plob_from_loss_db
    from qchannel.theory import repeater as th

    if decoy is not None:
        raise ValueError("--decoy applies to decoy-bb84 scenarios, not to repeater-chain")
    c = scenario.config
    if c.purification != "none":
        raise ValueError(f"repeater.purification = {c.purification!r}: the closed forms cover "
                         f"chains without purification")
    wait = th.mean_waiting_attempts(c.segments, c.success_prob, c.swap_prob)
    fid = th.chain_werner_fidelity(c.initial_fidelity, c.segments)
    frac = th.bbm92_key_fraction_werner(fid)
    bounded_wait = c.cutoff_s is not None
    bounded_fid = c.memory_t2_s is not None
    w_key = "waiting_time_attempts_mean" + ("_lower_bound" if bounded_wait else "")
    f_key = "fidelity" + ("_upper_bound" if bounded_fid else "")
    k_key = "key_rate_per_channel_use" + ("_upper_bound" if bounded_wait or bounded_fid else "")
    plob = None if c.total_loss_db is None else plob_from_loss_db(c.total_loss_db)
    return {
        "segments": c.segments,
        "success_prob": c.success_prob,
        "attempt_time_s": c.attempt_time_s,
        "model": "exact Markov chain of the swap tree (no cutoff); Werner swapping "
                 "(no memory decoherence)",
        w_key: wait,
        w_key.replace("_attempts", ""): wait * c.attempt_time_s,
        f_key: fid,
        "key_fraction" + ("_upper_bound" if bounded_fid else ""): frac,
        k_key: frac / wait,
        "plob_per_channel_use": plob,
    }


def report(d):
    if d["aborted"]:
        return (f"qchannel repeater chain: {d['segments']} segments, p = "
                f"{d['success_prob']:.4g} per attempt\n  ABORTED: {d['abort_reason']}")
    return "\n".join([
        f"qchannel repeater chain: {d['segments']} segments, p = {d['success_prob']:.4g} per "
        f"attempt, {d['realisations']} delivered pairs",
        f"  waiting time {d['waiting_time_mean']:.4g} s ({d['waiting_time_attempts_mean']:.4g} "
        f"+- {d['waiting_time_attempts_sem']:.2g} attempts)",
        f"  fidelity {d['fidelity_mean']:.4f} +- {d['fidelity_sem']:.1g}, QBER X "
        f"{d['qber_x']:.4f}, Z {d['qber_z']:.4f}",
        f"  key {d['key_rate_per_channel_use']:.4g} bits per channel use "
        f"({d['key_rate_bps']:.4g} bit/s); PLOB "
        + ("n/a" if d["plob_per_channel_use"] is None else f"{d['plob_per_channel_use']:.4g}"
           f", beats it: {d['beats_plob']}"),
    ])


def theory_report(d):
    lines = [f"qchannel theory repeater chain: {d['segments']} segments ({d['model']})"]
    for k, v in d.items():
        if k not in ("segments", "model") and v is not None:
            lines.append(f"  {k}: {v:.6g}")
    return "\n".join(lines)


def tiny(sc):
    """200 realisations of the chain."""
    return sc.replace(**{"repeater.realisations": 200})


register(Job(
    name="repeater-chain",
    summary="quantum repeater chain: nested swapping, memories, cutoffs, purification",
    schema=RepeaterScenario, run=run, report=report, theory=theory,
    theory_report=theory_report,
    headline=("segments", "realisations", "waiting_time_mean", "waiting_time_attempts_mean",
              "fidelity_mean", "key_rate_per_channel_use", "key_rate_bps",
              "plob_per_channel_use", "beats_plob", "aborted", "abort_reason"),
    sweep_skip=("waiting_time_histogram_attempts",),
    check=check,
    tiny=tiny,
))
