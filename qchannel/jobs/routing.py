"""Job ``entanglement-routing``: quantum routers distributing entanglement to
several user pairs over a network graph (:mod:`qchannel.protocols.routing`,
compiled kernel :mod:`qchannel._core.routing`).

Schema::

    [protocol]
    type = "entanglement-routing"
    [[network.nodes]]          # name, memories (default: degree),
    name = "A"                 # memory_t2_s, cutoff_s (optional)
    [[network.links]]          # a, b, success_prob or length_km (+ fiber keys),
    a = "A"                    # fidelity (Werner, default 1)
    b = "B"
    success_prob = 0.5
    [routing]                  # policy, swap_prob, slots, memory_slots,
    policy = "multipath"       # requests, slot_s
    requests = [["A", "B"]]
    [run]
    seed = 1

(``[network]`` here is a graph of quantum routers; the trusted-node-network
job reads a different ``[network]``: ``[protocol] type`` says which.)  The
size of a run is ``routing.slots``, so ``run.pulses`` does not apply.

Analytic twin (:mod:`qchannel.theory.routing`): per request, where the model
has one, the memoryless path rate ``prod(p) q^(n-1)`` (single path; exact
for one request, an upper bound when requests contend), the exact
connection probability of the users in the graph of successful links
(multipath, ``swap_prob = 1``: the fraction of slots that deliver; the rate
is at least that) and the repeater chain's mean waiting time (a line with
memories that never expire).
"""
import math

from qchannel.jobs import DictResult, Job, register
from qchannel.scenario import RunSection, TableScenario, reject_run_pulses


class RoutingScenario(TableScenario):
    job = "entanglement-routing"
    SECTIONS = ("protocol", "network", "routing", "run")

    @classmethod
    def parse(cls, tables):
        from qchannel.params import check_choice, reject_unknown
        from qchannel.protocols.routing import RoutingNetwork

        check_choice("protocol.type", tables["protocol"].get("type"), (cls.job,))
        reject_unknown("protocol", tables["protocol"], ("type",))
        reject_run_pulses(tables, cls.job, "its size is routing.slots")
        run = tables.get("run", {})
        reject_unknown("run", run, ("seed",))
        for name in ("network", "routing"):
            if name not in tables:
                raise ValueError(f"an entanglement-routing scenario needs a [{name}] section")
        return RoutingNetwork.from_tables(tables["network"], tables["routing"],
                                          seed=run.get("seed", 0))

    @classmethod
    def run_config(cls, tables, config):
        return RunSection(seed=config.seed, pulses=None)

    @classmethod
    def default(cls):
        return cls.from_dict(grid_tables(3, 0.6, requests=[["n0_0", "n2_2"]]))


def grid_tables(side, success_prob, requests, policy="multipath", slots=100_000,
                swap_prob=1.0, seed=1):
    """Scenario tables of a side x side grid of routers ``n{row}_{col}``."""
    nodes = [{"name": f"n{i}_{j}"} for i in range(side) for j in range(side)]
    links = []
    for i in range(side):
        for j in range(side):
            if j + 1 < side:
                links.append({"a": f"n{i}_{j}", "b": f"n{i}_{j + 1}",
                              "success_prob": success_prob})
            if i + 1 < side:
                links.append({"a": f"n{i}_{j}", "b": f"n{i + 1}_{j}",
                              "success_prob": success_prob})
    return {"protocol": {"type": "entanglement-routing"},
            "network": {"nodes": nodes, "links": links},
            "routing": {"policy": policy, "swap_prob": swap_prob, "slots": slots,
                        "requests": requests, "slot_s": 1e-3},
            "run": {"seed": seed}}


def run(scenario, progress=None, keys_out=None):
    from qchannel.protocols.routing import run_routing

    return DictResult(run_routing(scenario.config))


def theory(scenario, decoy=None):
    from qchannel.theory import routing as th
    from qchannel.theory.repeater import mean_waiting_attempts

    if decoy is not None:
        raise ValueError("--decoy applies to decoy-bb84 scenarios, not to entanglement-routing")
    net = scenario.config
    paths = net.paths()
    link_of = {frozenset(ab): j for j, ab in enumerate(net.links)}
    degree = [0] * len(net.names)
    for a, b in net.links:
        degree[a] += 1
        degree[b] += 1
    enough_memory = all(m >= d for m, d in zip(net.memories, degree))
    memoryless = net.memory_slots == 1
    one = len(net.requests) == 1
    out = []
    for (s, t), path in zip(net.requests, paths):
        links = [link_of[frozenset(uv)] for uv in zip(path[:-1], path[1:])]
        probs = [net.success_prob[j] for j in links]
        d = {"source": net.names[s], "target": net.names[t], "hops": len(links)}
        rate = th.path_rate_memoryless(probs, net.swap_prob)
        if net.policy == "single-path" and memoryless and enough_memory:
            d["rate_per_slot" if one else "rate_per_slot_upper_bound"] = rate
            d["fidelity_mean"] = th.path_werner_fidelity([net.fidelity[j] for j in links])
        elif net.policy == "single-path" and one and enough_memory and len(set(probs)) == 1 \
                and len(net.links) == len(links) and net.memory_slots >= net.slots \
                and all(c is None for c in net.cutoff_s) \
                and (net.swap_prob == 1.0 or len(links) <= 2) and probs[0] > 0 \
                and net.swap_prob > 0:
            wait = mean_waiting_attempts(len(links), probs[0], net.swap_prob)
            d["latency_slots_mean"] = wait
            d["rate_per_slot"] = 1.0 / wait
        if net.policy == "multipath" and memoryless and enough_memory and one \
                and net.swap_prob == 1.0 and len(net.links) <= th.MAX_ENUMERATED_LINKS:
            pc = th.connection_probability(len(net.names), net.links, net.success_prob, s, t)
            d["success_slot_fraction"] = pc
            d["rate_per_slot_lower_bound"] = pc
        if net.policy in ("multipath", "local") and memoryless and one and enough_memory:
            d["single_path_rate_per_slot"] = rate
        for k in list(d):
            if k.startswith("rate_per_slot"):
                d[k.replace("per_slot", "per_s")] = d[k] / net.slot_s
        out.append(d)
    return {"policy": net.policy, "slot_s": net.slot_s, "swap_prob": net.swap_prob,
            "memory_slots": net.memory_slots,
            "model": "memoryless path rate prod(p) q^(n-1); exact connection probability of "
                     "the users (enumeration of link states); repeater-chain waiting time "
                     "(line with memories)",
            "requests": out}


def report(d):
    lines = [f"qchannel entanglement routing ({d['policy']}): {d['nodes']} nodes, "
             f"{d['links']} links, {d['slots']} slots of {d['slot_s']:.3g} s, "
             f"memory_slots {d['memory_slots']}, swap_prob {d['swap_prob']:.3g}"]
    for q in d["requests"]:
        fid = "n/a" if q["fidelity_mean"] is None else f"{q['fidelity_mean']:.4f}"
        lat = ("n/a" if q["latency_slots_mean"] is None else
               f"{q['latency_slots_mean']:.3g} slots (p50 {q['latency_slots_p50']}, p99 "
               f"{q['latency_slots_p99']})")
        lines.append(f"  {q['source']} -> {q['target']} ({q['hops']} hops): "
                     f"{q['rate_per_slot']:.4g} pairs/slot = {q['rate_per_s']:.4g} pairs/s, "
                     f"fidelity {fid}, latency {lat}")
    return "\n".join(lines)


def theory_report(d):
    lines = [f"qchannel theory entanglement routing ({d['policy']}): {d['model']}"]
    for q in d["requests"]:
        vals = ", ".join(f"{k} {v:.6g}" for k, v in q.items()
                         if isinstance(v, float) and math.isfinite(v))
        lines.append(f"  {q['source']} -> {q['target']} ({q['hops']} hops): "
                     + (vals or "no closed form for this case"))
    return "\n".join(lines)


def tiny(sc):
    """At most 2000 slots."""
    return sc.replace(**{"routing.slots": min(sc.config.slots, 2000)})


register(Job(
    name="entanglement-routing",
    summary="quantum routers: entanglement routing over a graph (single path, multipath, local)",
    schema=RoutingScenario, run=run, report=report, theory=theory,
    theory_report=theory_report,
    headline=("policy", "slots", "total_rate_per_slot"),
    tiny=tiny,
))
