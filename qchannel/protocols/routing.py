"""Entanglement routing over a network graph of quantum routers.

Model (the compiled kernel is :mod:`qchannel._core.routing`; its docstring
gives the exact order of events in a slot):

* **Nodes** have ``memories`` qubits (default: their degree, one per link,
  as in Pant et al.), an optional ``memory_t2_s`` (each stored qubit dephases:
  a pair stored at nodes a, b for t seconds keeps its (I, Z) coherence
  ``exp(-t (1/T2a + 1/T2b))``) and an optional ``cutoff_s`` (a qubit is
  never stored longer: a pair of age k slots is dropped once
  ``k * slot_s > cutoff_s``).
* **Links** make one heralded attempt per time slot of ``slot_s`` seconds
  while they hold no unused pair and both ends have a free memory; success
  ``success_prob`` or, from the fiber, as in the repeater chain
  (two-photon detection at the link midpoint):
  ``p = bsm_success_prob * detector_efficiency**2 * 10**(-alpha L / 10)``.
  A link holds at most one unused pair, a Werner state of ``fidelity``.
  ``slot_s`` defaults to the longest link's ``L / c_fiber`` (photon to the
  midpoint and herald back), ``c_fiber = 2e5 km/s``.
* **Storage.**  A pair survives ``memory_slots`` slots (1: the memoryless
  model of Pant et al., npj Quantum Information 5, 25 (2019): links live for
  one slot); a swapped pair keeps the birth of its oldest part.
* **Policies**: ``single-path`` (each request's shortest path by hops,
  swap as soon as possible, swapped pairs held across slots: nested
  swapping), ``multipath`` (global link-state knowledge: each slot, the
  shortest path in the graph of available link pairs, greedily
  shortest-first over the requests, repeated until no request has a path),
  ``local`` (each node knows only its own links and hop distances; it swaps
  its link towards the source with its link towards the target).  Swaps
  succeed with ``swap_prob``.
* **Contention**: requests are served in a rotating priority order (in slot
  t, request ``t mod R`` first); a link pair used by one request is gone for
  the others; memories are taken first come first served, links visited in
  an order rotated every slot.
* **Metrics** per request: delivered pairs per slot and per second, mean
  fidelity of the delivered pairs, latency (slots from the previous slot
  that delivered, or from the start, to the next one).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qchannel import rng
from qchannel.params import (check_choice, check_int, check_prob, check_real, key_name,
                             reject_unknown)

FIBER_LIGHT_SPEED_KM_PER_S = 2.0e5
POLICIES = ("single-path", "multipath", "local")
LATENCY_BINS = 4096
MAX_SLOTS = 2**40
NODE_KEYS = ("name", "memories", "memory_t2_s", "cutoff_s")
LINK_KEYS = ("a", "b", "success_prob", "length_km", "attenuation_db_per_km",
             "detector_efficiency", "bsm_success_prob", "fidelity")
ROUTING_KEYS = ("policy", "swap_prob", "slots", "memory_slots", "requests", "slot_s")


@dataclass(frozen=True)
class RoutingNetwork:
    """A validated network and run description (see the module docstring)."""

    names: tuple
    memories: tuple
    t2_s: tuple            # None: perfect memory
    cutoff_s: tuple        # None: no cutoff
    links: tuple           # (a index, b index)
    success_prob: tuple
    fidelity: tuple
    length_km: tuple       # None where given by success_prob
    policy: str
    swap_prob: float
    slots: int
    memory_slots: int
    requests: tuple        # (source index, target index)
    slot_s: float
    seed: int = 0

    # ------------------------------------------------------------------
    @classmethod
    def from_tables(cls, network, routing, seed=0):
        """Validate ``[network]`` and ``[routing]`` (ValueError naming the
        dotted key and the allowed range)."""
        if not isinstance(network, dict):
            raise ValueError("network must be a table ([network]) with nodes and links")
        reject_unknown("network", network, ("nodes", "links"))
        if not isinstance(routing, dict):
            raise ValueError("routing must be a table ([routing])")
        reject_unknown("routing", routing, ROUTING_KEYS)
        nodes = network.get("nodes")
        links = network.get("links")
        if not isinstance(nodes, list) or len(nodes) < 2:
            raise ValueError("network.nodes must list at least 2 nodes ([[network.nodes]] "
                             "with name, memories)")
        if not isinstance(links, list) or len(links) < 1:
            raise ValueError("network.links must list at least 1 link ([[network.links]] "
                             "with a, b, success_prob or length_km)")
        if len(nodes) > 100_000 or len(links) > 1_000_000:
            raise ValueError(f"network has {len(nodes)} nodes and {len(links)} links: at most "
                             "100000 nodes and 1000000 links")
        names, index = [], {}
        for i, nd in enumerate(nodes):
            key = f"network.nodes[{i}]"
            if not isinstance(nd, dict):
                raise ValueError(f"{key} must be a table with name, memories")
            reject_unknown(key, nd, NODE_KEYS)
            name = nd.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError(f"{key}.name = {name!r} must be a non-empty string")
            if name in index:
                raise ValueError(f"{key}.name = {name!r} is given twice: node names must be "
                                 "unique")
            index[name] = i
            names.append(name)
        ends, probs, fids, lengths, seen = [], [], [], [], {}
        for j, ln in enumerate(links):
            key = f"network.links[{j}]"
            if not isinstance(ln, dict):
                raise ValueError(f"{key} must be a table with a, b, success_prob or length_km")
            reject_unknown(key, ln, LINK_KEYS)
            ab = []
            for end in ("a", "b"):
                v = ln.get(end)
                if not isinstance(v, str) or v not in index:
                    raise ValueError(f"{key}.{end} = {v!r} must name a node of network.nodes")
                ab.append(index[v])
            if ab[0] == ab[1]:
                raise ValueError(f"{key}: a link joins two different nodes (a = b = "
                                 f"{ln['a']!r})")
            pair = (min(ab), max(ab))
            if pair in seen:
                raise ValueError(f"{key} joins {ln['a']!r} and {ln['b']!r} again (as "
                                 f"network.links[{seen[pair]}]): one link per node pair")
            seen[pair] = j
            ends.append(tuple(ab))
            p, length = _link_prob(key, ln)
            probs.append(p)
            lengths.append(length)
            fids.append(check_real(f"{key}.fidelity", ln.get("fidelity", 1.0), 0.25, 1.0))
        degree = [0] * len(names)
        for a, b in ends:
            degree[a] += 1
            degree[b] += 1
        mems, t2s, cuts = [], [], []
        for i, nd in enumerate(nodes):
            key = f"network.nodes[{i}]"
            mems.append(check_int(f"{key}.memories", nd.get("memories", degree[i]), 0, 2**20))
            t2 = nd.get("memory_t2_s")
            t2s.append(None if t2 is None else check_real(f"{key}.memory_t2_s", t2, 0.0,
                                                          lo_open=True))
            cut = nd.get("cutoff_s")
            cuts.append(None if cut is None else check_real(f"{key}.cutoff_s", cut, 0.0))
        if sum(mems) > 2**30:
            raise ValueError("network.nodes: the memories add up to more than 2**30")

        policy = check_choice("routing.policy", routing.get("policy", "single-path"), POLICIES)
        swap = check_prob("routing.swap_prob", routing.get("swap_prob", 1.0))
        slots = check_int("routing.slots", routing.get("slots", 100_000), 1, MAX_SLOTS)
        mslots = check_int("routing.memory_slots", routing.get("memory_slots", 1), 1, 2**62)
        if "slot_s" in routing:
            slot_s = check_real("routing.slot_s", routing["slot_s"], 0.0, lo_open=True)
        elif any(length is not None for length in lengths):
            slot_s = max(length for length in lengths if length is not None) \
                / FIBER_LIGHT_SPEED_KM_PER_S
            if not slot_s > 0:
                raise ValueError("routing.slot_s is required: every link has length_km = 0")
        else:
            raise ValueError("routing.slot_s is required (the duration of a time slot, s) when "
                             "no link gives length_km")
        reqs = routing.get("requests")
        if not isinstance(reqs, list) or not reqs:
            raise ValueError("routing.requests must list user pairs, e.g. [[\"A\", \"B\"]]")
        if len(reqs) > 1024 or len(reqs) * len(names) > 2**24:
            raise ValueError(f"routing.requests has {len(reqs)} pairs for {len(names)} nodes: "
                             f"at most 1024 pairs and 2**24 pairs x nodes (hop-distance "
                             f"tables)")
        requests = []
        for k, rq in enumerate(reqs):
            key = f"routing.requests[{k}]"
            if (not isinstance(rq, (list, tuple)) or len(rq) != 2
                    or not all(isinstance(v, str) for v in rq)):
                raise ValueError(f"{key} = {rq!r} must be a pair of node names, e.g. "
                                 "[\"A\", \"B\"]")
            for v in rq:
                if v not in index:
                    raise ValueError(f"{key}: {key_name(v)} is not a node of network.nodes")
            if rq[0] == rq[1]:
                raise ValueError(f"{key} = {list(rq)!r}: source and target must differ")
            requests.append((index[rq[0]], index[rq[1]]))
        net = cls(names=tuple(names), memories=tuple(mems), t2_s=tuple(t2s),
                  cutoff_s=tuple(cuts), links=tuple(ends), success_prob=tuple(probs),
                  fidelity=tuple(fids), length_km=tuple(lengths), policy=policy,
                  swap_prob=swap, slots=slots, memory_slots=mslots,
                  requests=tuple(requests), slot_s=slot_s, seed=rng.check_seed(seed, "run.seed"))
        net._check_connected()
        return net

    # ------------------------------------------------------------------
    def graph(self):
        """The network as a networkx Graph on node indices (link index in ``"link"``)."""
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(range(len(self.names)))
        for j, (a, b) in enumerate(self.links):
            g.add_edge(a, b, link=j, success_prob=self.success_prob[j])
        return g

    def _check_connected(self):
        import networkx as nx

        g = self.graph()
        for k, (s, t) in enumerate(self.requests):
            if not nx.has_path(g, s, t):
                raise ValueError(f"routing.requests[{k}] = [{self.names[s]!r}, "
                                 f"{self.names[t]!r}]: no path joins them in the network")

    def paths(self):
        """Each request's shortest path (by hops) as a list of node indices."""
        import networkx as nx

        g = self.graph()
        return [nx.shortest_path(g, s, t) for s, t in self.requests]

    def arrays(self):
        """The kernel's arrays (CSR adjacency, per-node limits, paths, distances)."""
        import networkx as nx

        n, e = len(self.names), len(self.links)
        ea = np.array([a for a, _ in self.links], dtype=np.int32)
        eb = np.array([b for _, b in self.links], dtype=np.int32)
        inc = [[] for _ in range(n)]
        for j, (a, b) in enumerate(self.links):
            inc[a].append(j)
            inc[b].append(j)
        adj_ptr = np.zeros(n + 1, dtype=np.int32)
        adj_ptr[1:] = np.cumsum([len(x) for x in inc])
        adj_edge = np.array([j for x in inc for j in x], dtype=np.int32)
        decay = np.array([0.0 if t2 is None else self.slot_s / t2 for t2 in self.t2_s])
        life = np.array([2**62 if c is None else min(2**62, math.floor(c / self.slot_s) + 1)
                         for c in self.cutoff_s], dtype=np.int64)
        g = self.graph()
        link_of = {(a, b): j for j, (a, b) in enumerate(self.links)}
        path_ptr, path_node, path_edge = [0], [], []
        for path in self.paths():
            path_node.extend(path)
            for u, v in zip(path[:-1], path[1:]):
                path_edge.append(link_of.get((u, v), link_of.get((v, u))))
            path_ptr.append(len(path_edge))
        dist = np.full((len(self.requests), 2, n), -1, dtype=np.int32)
        for k, (s, t) in enumerate(self.requests):
            for side, root in enumerate((s, t)):
                for v, d in nx.single_source_shortest_path_length(g, root).items():
                    dist[k, side, v] = d
        return dict(
            edge_a=ea, edge_b=eb, edge_p=np.array(self.success_prob, dtype=np.float64),
            edge_f0=np.array(self.fidelity, dtype=np.float64), adj_ptr=adj_ptr,
            adj_edge=adj_edge, node_mem=np.array(self.memories, dtype=np.int32),
            node_decay=decay, node_life=life,
            req_src=np.array([s for s, _ in self.requests], dtype=np.int32),
            req_dst=np.array([t for _, t in self.requests], dtype=np.int32),
            path_ptr=np.array(path_ptr, dtype=np.int32),
            path_node=np.array(path_node, dtype=np.int32),
            path_edge=np.array(path_edge, dtype=np.int32), dist=dist.ravel())


def _link_prob(key, ln):
    """A link's success probability per slot and its length (None if given directly)."""
    fiber_keys = ("attenuation_db_per_km", "detector_efficiency", "bsm_success_prob")
    if "success_prob" in ln and "length_km" in ln:
        raise ValueError(f"{key}.success_prob and {key}.length_km are exclusive: give the "
                         "probability or the fiber it is derived from, not both")
    if "success_prob" in ln:
        for k in fiber_keys:
            if k in ln:
                raise ValueError(f"{key}.{k} needs {key}.length_km (fiber description)")
        return check_prob(f"{key}.success_prob", ln["success_prob"]), None
    if "length_km" not in ln:
        raise ValueError(f"{key} needs success_prob or length_km")
    length = check_real(f"{key}.length_km", ln["length_km"], 0.0, 10_000.0)
    alpha = check_real(f"{key}.attenuation_db_per_km", ln.get("attenuation_db_per_km", 0.2),
                       0.0, 10.0)
    eta = check_prob(f"{key}.detector_efficiency", ln.get("detector_efficiency", 1.0))
    p0 = check_prob(f"{key}.bsm_success_prob", ln.get("bsm_success_prob", 0.5))
    return p0 * eta**2 * 10.0 ** (-alpha * length / 10.0), length


def _quantile(hist, q):
    """The q-quantile (in slots) of a latency histogram (last bin: at least its index)."""
    total = hist.sum()
    if total == 0:
        return None
    k = int(np.searchsorted(np.cumsum(hist), q * total))
    return int(k)


def run_routing(net: RoutingNetwork):
    """The Monte Carlo: a dict with one entry per request (see the job docs)."""
    from qchannel._core import routing as core

    arr = net.arrays()
    r = len(net.requests)
    out = dict(delivered=np.zeros(r, np.int64), fid_sum=np.zeros(r), fid_sq=np.zeros(r),
               hits=np.zeros(r, np.int64), lat_sum=np.zeros(r), lat_sq=np.zeros(r),
               lat_max=np.zeros(r, np.int64),
               lat_hist=np.zeros((r, LATENCY_BINS), np.int64))
    core.simulate_routing(net.seed, int(rng.Purpose.ROUTING), net.slots,
                          core.POLICY_CODES[net.policy], net.swap_prob, net.memory_slots,
                          **arr, **out)
    paths = net.paths()
    requests = []
    for k, (s, t) in enumerate(net.requests):
        n, hits = int(out["delivered"][k]), int(out["hits"][k])
        fid = out["fid_sum"][k] / n if n else None
        fid_sem = (math.sqrt(max(0.0, out["fid_sq"][k] / n - fid * fid) / n)
                   if n > 1 else None)
        lat = out["lat_sum"][k] / hits if hits else None
        lat_sem = (math.sqrt(max(0.0, out["lat_sq"][k] / hits - lat * lat) / hits)
                   if hits > 1 else None)
        hist = out["lat_hist"][k]
        requests.append({
            "source": net.names[s], "target": net.names[t],
            "hops": len(paths[k]) - 1,
            "delivered": n,
            "rate_per_slot": n / net.slots,
            "rate_per_s": n / (net.slots * net.slot_s),
            "success_slot_fraction": hits / net.slots,
            "fidelity_mean": fid, "fidelity_sem": fid_sem,
            "latency_slots_mean": lat, "latency_slots_sem": lat_sem,
            "latency_s_mean": None if lat is None else lat * net.slot_s,
            "latency_slots_p50": _quantile(hist, 0.5),
            "latency_slots_p90": _quantile(hist, 0.9),
            "latency_slots_p99": _quantile(hist, 0.99),
            "latency_slots_max": int(out["lat_max"][k]) if hits else None,
        })
    return {
        "protocol": "entanglement-routing", "seed": net.seed, "policy": net.policy,
        "nodes": len(net.names), "links": len(net.links), "slots": net.slots,
        "slot_s": net.slot_s, "memory_slots": net.memory_slots, "swap_prob": net.swap_prob,
        "requests": requests,
        "total_rate_per_slot": sum(q["rate_per_slot"] for q in requests),
    }
