"""Trusted-node networks: routing, max-flow, key relay, validation, backbone."""
import math
import pathlib
import tomllib

import networkx as nx
import pytest

from qchannel import rng
from qchannel.network import (TrustedNodeNetwork, backbone_dict, backbone_network,
                              decoy_bb84_key_rate_bps)

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def diamond():
    # A -> {R1, R2} -> B, plus a user U that must not forward key.
    return TrustedNodeNetwork.from_dict({
        "nodes": [{"name": "A", "role": "user"}, {"name": "B", "role": "user"},
                  {"name": "U", "role": "user"}, {"name": "R1"}, {"name": "R2"}],
        "links": [{"a": "A", "b": "R1", "key_rate_bps": 100.0},
                  {"a": "R1", "b": "B", "key_rate_bps": 60.0},
                  {"a": "A", "b": "R2", "key_rate_bps": 50.0},
                  {"a": "R2", "b": "B", "key_rate_bps": 80.0},
                  {"a": "A", "b": "U", "key_rate_bps": 1000.0},
                  {"a": "U", "b": "B", "key_rate_bps": 1000.0}],
        "source": "A", "target": "B"})


def test_diamond_routing():
    d = diamond().end_to_end().to_dict()
    assert d["path"] == ["A", "R1", "B"]
    assert d["end_to_end_key_rate_bps"] == 60.0
    assert d["bottleneck_link"] == ["R1", "B"]
    assert d["max_flow_bps"] == 110.0            # the user U does not relay
    assert sum(p["rate_bps"] for p in d["flow_paths"]) == pytest.approx(110.0)


def random_network(k, n=9, prob=0.4):
    g = nx.gnp_random_graph(n, prob, seed=k)
    rates = rng.uniform(1234, rng.Purpose.SWEEP, k, g.number_of_edges()) * 100.0
    net = TrustedNodeNetwork()
    for v in g.nodes:
        net.add_node(v, "user" if v in (0, n - 1) else "trusted-relay")
    for (a, b), r in zip(g.edges, rates):
        net.add_link(a, b, key_rate_bps=float(r))
    return net, g


def test_widest_and_max_flow_on_random_graphs():
    checked = 0
    for k in range(40):
        net, g = random_network(k)
        if not nx.has_path(g, 0, 8):
            with pytest.raises(ValueError, match="disconnected"):
                net.end_to_end(0, 8)
            continue
        checked += 1
        res = net.end_to_end(0, 8)
        # widest path against brute force over all simple paths
        best = max(min(net.graph.edges[e]["key_rate_bps"] for e in zip(p, p[1:]))
                   for p in nx.all_simple_paths(net.graph, 0, 8))
        assert res.end_to_end_key_rate_bps == pytest.approx(best, rel=1e-15)
        assert min(net.graph.edges[e]["key_rate_bps"]
                   for e in zip(res.path, res.path[1:])) == res.end_to_end_key_rate_bps
        # max-flow against networkx (all intermediate nodes are relays here)
        ref = nx.maximum_flow_value(net.graph, 0, 8, capacity="key_rate_bps")
        assert res.max_flow_bps == pytest.approx(ref, rel=1e-12)
        cut, _ = nx.minimum_cut(net.graph, 0, 8, capacity="key_rate_bps")
        assert res.max_flow_bps == pytest.approx(cut, rel=1e-12)
        assert res.max_flow_bps >= res.end_to_end_key_rate_bps - 1e-9
        # the path decomposition is feasible and carries the whole flow
        load = {}
        for p, r in res.flow_paths:
            assert p[0] == 0 and p[-1] == 8 and r > 0
            for e in zip(p, p[1:]):
                load[frozenset(e)] = load.get(frozenset(e), 0.0) + r
        for e, x in load.items():
            assert x <= net.graph.edges[tuple(e)]["key_rate_bps"] * (1 + 1e-9)
        assert sum(r for _, r in res.flow_paths) == pytest.approx(res.max_flow_bps, rel=1e-9)
    assert checked >= 20


def test_users_do_not_relay():
    net = TrustedNodeNetwork()
    for n, r in (("A", "user"), ("U", "user"), ("B", "user")):
        net.add_node(n, r)
    net.add_link("A", "U", key_rate_bps=10.0).add_link("U", "B", key_rate_bps=10.0)
    with pytest.raises(ValueError, match="'A' and 'B' are disconnected"):
        net.widest_path("A", "B")
    with pytest.raises(ValueError, match="disconnected"):
        net.max_flow("A", "B")


@pytest.mark.parametrize("mutate,match", [
    (lambda d: d["links"][0].update(key_rate_bps=-1.0), r"key_rate_bps = -1\.0 is out of range"),
    (lambda d: d["links"][0].update(b="Nowhere"), r"unknown node 'Nowhere'"),
    (lambda d: d["nodes"][0].update(role="router"), r"role = 'router' must be one of"),
    (lambda d: d["nodes"].append({"name": "A", "role": "user"}), r"node 'A' is defined twice"),
    (lambda d: d["links"].append({"a": "A", "b": "A", "key_rate_bps": 1.0}), r"to itself"),
    (lambda d: d["links"].append({"a": "A", "b": "R1", "key_rate_bps": 1.0}), r"twice"),
    (lambda d: d["links"][0].pop("key_rate_bps"), r"needs key_rate_bps, or length_km"),
    (lambda d: d.update(colour="red"), r"network\.colour is not a known key"),
    (lambda d: d["links"][0].update(speed=1), r"network\.links\[0\]\.speed is not a known key"),
    (lambda d: d.update(target="Mars"), r"network\.target = 'Mars' is not a node"),
    (lambda d: d.update(rate_model="magic"), r"network\.rate_model = 'magic' must be one of"),
    (lambda d: d.update(nodes=[]), r"network\.nodes must be a non-empty list"),
])
def test_bad_topologies(mutate, match):
    d = {"nodes": [{"name": "A", "role": "user"}, {"name": "B", "role": "user"},
                   {"name": "R1", "role": "trusted-relay"}],
         "links": [{"a": "A", "b": "R1", "key_rate_bps": 10.0},
                   {"a": "R1", "b": "B", "key_rate_bps": 20.0}]}
    mutate(d)
    with pytest.raises(ValueError, match=match):
        TrustedNodeNetwork.from_dict(d)


def test_bad_queries():
    net = diamond()
    with pytest.raises(ValueError, match="same node"):
        net.end_to_end("A", "A")
    with pytest.raises(ValueError, match="source = 'Z' is not a node"):
        net.end_to_end("Z", "B")
    net.graph.remove_edge("R1", "B")
    net.graph.remove_edge("R2", "B")
    with pytest.raises(ValueError, match="disconnected"):
        net.end_to_end()
    with pytest.raises(ValueError, match="demand_bps = -5"):
        diamond().simulate_key_relay(demand_bps=-5)


def test_rate_model_hook_and_from_graph():
    calls = []

    def model(length_km):
        calls.append(length_km)
        return 1000.0 / (1.0 + length_km)

    net = TrustedNodeNetwork.from_dict({
        "nodes": [{"name": "A", "role": "user"}, {"name": "R"}, {"name": "B", "role": "user"}],
        "links": [{"a": "A", "b": "R", "length_km": 9.0},
                  {"a": "R", "b": "B", "length_km": 19.0, "key_rate_bps": 7.0}]},
        rate_model=model)
    assert calls == [9.0]
    assert net.end_to_end("A", "B").end_to_end_key_rate_bps == 7.0
    g = nx.path_graph(["A", "R", "B"])
    nx.set_node_attributes(g, {"A": "user", "B": "user"}, "role")
    nx.set_edge_attributes(g, 5.0, "key_rate_bps")
    assert TrustedNodeNetwork.from_graph(g).max_flow("A", "B")[0] == 5.0


def test_key_relay_pools():
    net = diamond()
    # over capacity: single path delivers its bottleneck, all paths the max-flow
    wide = net.simulate_key_relay(demand_bps=500.0, duration_s=200.0, request_bits=10.0)
    assert wide.throughput_bps == pytest.approx(60.0, rel=0.01)
    assert all(v >= -1e-9 for v in wide.final_pool_bits.values())
    # key left on the A-R1 link: it filled at 100 b/s and gave 60 b/s away
    assert wide.final_pool_bits[("A", "R1")] == pytest.approx(40.0 * 200.0, rel=0.01)
    flow = net.simulate_key_relay(demand_bps=500.0, duration_s=200.0, request_bits=10.0,
                                  routing="max_flow")
    assert flow.throughput_bps == pytest.approx(110.0, rel=0.01)
    # under capacity: everything served, latency one refill time at most
    easy = net.simulate_key_relay(demand_bps=30.0, duration_s=100.0, request_bits=10.0)
    assert easy.served == easy.requests == 300
    assert easy.max_latency_s <= 10.0 / 60.0 + 1e-9
    # pools pre-filled serve a burst at once
    burst = net.simulate_key_relay(demand_bps=1e4, duration_s=0.1, request_bits=10.0,
                                   initial_pool_bits=1e4)
    assert burst.served == burst.requests
    with pytest.raises(ValueError, match="request_bits"):
        net.simulate_key_relay(demand_bps=1.0, request_bits=10.0, pool_capacity_bits=5.0)
    d = flow.to_dict()
    assert d["routing"] == "max_flow" and len(d["routes"]) == 2


def _gllp_infinite_decoy(length_km, mu=0.48):
    """Infinite-decoy GLLP rate per pulse written from the photon-number sums
    of Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005), GYS parameters
    (REFERENCES.md): Y_n = 1 - (1 - Y0)(1 - eta)^n, e_n Y_n = Y0/2 + e_d
    (1 - (1 - eta)^n), Q = sum P_n Y_n, E Q = sum P_n e_n Y_n (Poisson P_n,
    n < 60), R = 1/2 [-f Q h(E) + P_1 Y_1 (1 - h(e_1))]."""
    eta = 0.045 * 10 ** (-0.21 * length_km / 10)
    y0, e_d, f = 1.7e-6, 0.033, 1.22
    h = lambda x: -x * math.log2(x) - (1 - x) * math.log2(1 - x)  # noqa: E731
    pn = [math.exp(-mu) * mu ** n / math.factorial(n) for n in range(60)]
    yn = [1 - (1 - y0) * (1 - eta) ** n for n in range(60)]
    eyn = [y0 / 2 + e_d * (1 - (1 - eta) ** n) for n in range(60)]
    q = sum(p * y for p, y in zip(pn, yn))
    eq = sum(p * e for p, e in zip(pn, eyn))
    return 0.5 * (-f * q * h(eq / q) + pn[1] * yn[1] * (1 - h(eyn[1] / yn[1])))


def test_decoy_rate_closed_form():
    # Deterministic: the module's closed form (Q = Y0 + 1 - e^{-eta mu}, as
    # printed by Lo, Ma, Chen 2005) omits -Y0 (1 - e^{-eta mu}) of the exact sum,
    # a relative change of order Y0 = 1.7e-6: hence rel = 1e-5.
    for L in (0.0, 25.0, 50.0, 100.0, 130.0):
        assert decoy_bb84_key_rate_bps(L, rep_rate_hz=1.0) == pytest.approx(_gllp_infinite_decoy(L),
                                                                            rel=1e-5)
        assert decoy_bb84_key_rate_bps(L) == 1e9 * decoy_bb84_key_rate_bps(L, rep_rate_hz=1.0)
    # cut-off: where the independent form crosses zero (142.0 km), to 0.05 km
    lo, hi = 100.0, 200.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _gllp_infinite_decoy(mid) > 0 else (lo, mid)
    assert 141.5 < lo < 142.5
    assert decoy_bb84_key_rate_bps(lo - 0.05) > 0.0 and decoy_bb84_key_rate_bps(lo + 0.05) == 0.0
    assert decoy_bb84_key_rate_bps(200.0) == 0.0


def test_backbone():
    d = backbone_dict()
    toml = tomllib.loads((EXAMPLES / "backbone.toml").read_text())["network"]
    assert toml == d
    net = backbone_network()
    g = net.graph
    assert sum(1 for _, r in g.nodes(data="role") if r == "trusted-relay") == 32
    total = sum(L for *_, L in g.edges(data="length_km"))
    assert 1950 <= total <= 2050
    res = net.end_to_end().to_dict()
    assert res["path"][0] == "Beijing" and res["path"][-1] == "Shanghai"
    assert res["hops"] == 33
    longest = max(L for *_, L in g.edges(data="length_km"))
    assert res["end_to_end_key_rate_bps"] == pytest.approx(decoy_bb84_key_rate_bps(longest))
    assert res["max_flow_bps"] == pytest.approx(res["end_to_end_key_rate_bps"])
    # custom rate hook
    net2 = backbone_network(rate_model=lambda L: 1e6 * math.exp(-L / 50.0))
    assert net2.end_to_end().end_to_end_key_rate_bps == pytest.approx(1e6 * math.exp(-longest / 50))


def test_repeater_example_parses():
    from qchannel.protocols.repeater import RepeaterConfig

    d = tomllib.loads((EXAMPLES / "repeater.toml").read_text())["repeater"]
    c = RepeaterConfig.from_dict(d)
    assert c.segments == 8 and c.total_loss_db == pytest.approx(160.0)
