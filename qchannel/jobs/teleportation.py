"""Job ``teleportation``: quantum teleportation of a photonic qubit with an
SPDC input, a Bell-state measurement and one lossy channel (Ren et al.,
Nature 549, 70 (2017)).

Schema: :class:`qchannel.protocols.teleportation.TeleportationConfig`
(``[source]``, ``[channel]`` (``type = "fiber"`` accepted), ``[detector]``,
``[protocol]``, ``[run]`` ``pulses`` (trials) and ``seed``).  Analytic twin:
:func:`qchannel.protocols.teleportation.expect_teleportation`.
"""
from qchannel.jobs import Job, register
from qchannel.params import check_choice
from qchannel.scenario import RunSection, TableScenario


def _config_tables(tables):
    out = dict(tables)
    channel = dict(out.get("channel", {}))
    if "type" in channel:
        check_choice("channel.type", channel.pop("type"), ("fiber",))
    out["channel"] = channel
    return out


class TeleportationScenario(TableScenario):
    job = "teleportation"
    SECTIONS = ("protocol", "source", "channel", "detector", "run")

    @classmethod
    def parse(cls, tables):
        from qchannel.protocols.teleportation import TeleportationConfig

        return TeleportationConfig.from_dict(_config_tables(tables))

    @classmethod
    def run_config(cls, tables, config):
        return RunSection(seed=config.seed, pulses=config.trials)

    @classmethod
    def default(cls):
        return cls.from_dict({"run": {"pulses": 10**9}})


def check(scenario):
    """Before any work: memory for the heralded events the run draws (their
    expected number from the closed form), refused with the estimate."""
    from qchannel.jobs import memory as mem
    from qchannel.protocols.teleportation import expect_teleportation

    events = expect_teleportation(scenario.config)["events_expected"]
    return mem.refuse_if_too_big(events * mem.TELEPORTATION_EVENT_BYTES,
                                 f"about {events:.3g} heralded events", "lower run.pulses")


def run(scenario, progress=None, keys_out=None):
    from qchannel.protocols.teleportation import run_teleportation

    return run_teleportation(scenario.config)


def theory(scenario, decoy=None):
    from qchannel.protocols.teleportation import expect_teleportation

    if decoy is not None:
        raise ValueError("--decoy applies to decoy-bb84 scenarios, not to teleportation")
    return expect_teleportation(scenario.config)


def report(d):
    f = d["fidelity"]
    return "\n".join([
        f"qchannel teleportation: seed {d['seed']}, {d['pulses']:.4g} trials "
        f"({d['duration_s']:.4g} s)",
        f"  events {d['events']} ({d['event_rate_hz']:.4g} Hz)",
        "  average fidelity " + ("n/a" if f is None else
                                 f"{f:.4f} +- {d['fidelity_std']:.4f} (classical limit "
                                 f"{d['classical_limit']:.4f}; beats it: {d['beats_classical']})"),
    ])


def theory_report(d):
    f = d["fidelity"]
    return (f"qchannel theory teleportation: success probability {d['success_prob']:.4g} per "
            f"trial, {d['events_expected']:.4g} events expected, average fidelity "
            + ("n/a" if f is None else f"{f:.4f}") + f" (genuine {d['fidelity_genuine']:.4f})")


def tiny(sc):
    """1e6 pairs."""
    return sc.replace(**{"run.pulses": 10**6})


register(Job(
    name="teleportation",
    summary="photonic qubit teleportation over a lossy channel (six-state average fidelity)",
    schema=TeleportationScenario, run=run, report=report, theory=theory,
    theory_report=theory_report,
    headline=("seed", "pulses", "events", "event_rate_hz", "fidelity", "fidelity_std",
              "beats_classical"),
    sweep_skip=("per_state",),
    check=check,
    tiny=tiny,
))
