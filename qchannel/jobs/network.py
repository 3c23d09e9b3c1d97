"""Job ``trusted-node-network``: key relay over a graph of QKD links and
trusted nodes (:class:`qchannel.network.TrustedNodeNetwork`).

Schema: ``[network]`` (nodes, links with ``key_rate_bps`` or ``length_km``
and a rate model, the default ``source``/``target``) and ``[run] seed``.
The job is analytic: each link's rate comes from a closed-form model (or is
given), and the end-to-end rate is the widest path and the max-flow of the
graph, so its run and its analytic twin are the same computation (the seed
is recorded for uniformity; nothing here is random).
"""
from qchannel.jobs import DictResult, Job, register
from qchannel.scenario import RunSection, TableScenario, reject_run_pulses


class NetworkScenario(TableScenario):
    job = "trusted-node-network"
    SECTIONS = ("protocol", "network", "run", "kms")

    @classmethod
    def parse(cls, tables):
        from qchannel.network import TrustedNodeNetwork
        from qchannel.params import check_choice, check_int, reject_unknown
        from qchannel.rng import SEED_MAX

        check_choice("protocol.type", tables["protocol"].get("type"), (cls.job,))
        reject_unknown("protocol", tables["protocol"], ("type",))
        reject_run_pulses(tables, cls.job, "the network is analytic (link rates from "
                                           "closed forms)")
        run = tables.get("run", {})
        reject_unknown("run", run, ("seed",))
        check_int("run.seed", run.get("seed", 1), 0, SEED_MAX)
        if "network" not in tables:
            raise ValueError("a trusted-node-network scenario needs a [network] section")
        net = TrustedNodeNetwork.from_dict(tables["network"])
        if net.default_source is None or net.default_target is None:
            raise ValueError("network.source and network.target are required: the end-to-end "
                             "rate is between them")
        if "kms" in tables:     # SAEs for `qchannel kms` (qchannel.kms)
            from qchannel.kms.config import KmsConfig

            KmsConfig.from_dict(tables["kms"], nodes=tuple(net.graph.nodes), distil=True)
        return net

    @classmethod
    def run_config(cls, tables, config):
        return RunSection(seed=int(tables.get("run", {}).get("seed", 1)), pulses=None)

    @classmethod
    def default(cls):
        from qchannel.network import backbone_dict

        return cls.from_dict({"network": backbone_dict()})


def _compute(scenario):
    d = scenario.config.end_to_end().to_dict()
    noisy = scenario.config.coexistence()     # links sharing fiber with classical light
    return {"protocol": "trusted-node-network", "seed": scenario.run.seed, **d,
            **({"coexistence_links": noisy} if noisy else {})}


def run(scenario, progress=None, keys_out=None):
    return DictResult(_compute(scenario))


def theory(scenario, decoy=None):
    if decoy is not None:
        raise ValueError("--decoy applies to decoy-bb84 scenarios, not to trusted-node-network")
    return _compute(scenario)


def report(d):
    return "\n".join([
        f"qchannel trusted-node network: {d['source']} -> {d['target']}",
        f"  widest path ({d['hops']} hops): {' - '.join(map(str, d['path']))}, "
        f"{d['end_to_end_key_rate_bps']:.4g} bit/s (bottleneck {d['bottleneck_link']})",
        f"  max-flow over all paths: {d['max_flow_bps']:.4g} bit/s in "
        f"{len(d['flow_paths'])} paths",
    ] + [f"  link {c['a']}-{c['b']}: {c['noise_photons_per_gate']:.3g} noise photons/gate from "
         f"classical channels, {c['key_rate_bps']:.4g} bit/s (without them "
         f"{c['key_rate_bps_without_classical']:.4g})" for c in d.get("coexistence_links", [])])


register(Job(
    name="trusted-node-network",
    summary="key relay over trusted nodes: widest path and max-flow of a QKD link graph",
    schema=NetworkScenario, run=run, report=report, theory=theory, theory_report=report,
    headline=("seed", "end_to_end_key_rate_bps", "max_flow_bps", "hops"),
    sweep_skip=("flow_paths", "coexistence_links"),
    tiny=lambda sc: sc,  # analytic: already instant
))
