"""Entanglement-routing kernel throughput: time slots per second.

Run: ``pytest bench/test_bench_routing.py --benchmark-only``.  The rate is
stored in ``extra_info["slots_per_s"]``.  Networks: a 5x5 grid (40 links)
with two competing user pairs for each policy, memoryless (Pant et al.) and
with memories (pairs held 20 slots, dephasing), and a 4-link line with
memories (the repeater-chain case).  Goal: >= 1e5 slots/s on the grid for
every policy on one core (a slot visits every link, every stored pair and,
for multipath, one breadth-first search per request and path found).
"""
import pytest

from qchannel.jobs.routing import grid_tables
from qchannel.protocols.routing import RoutingNetwork, run_routing

SLOTS = 100_000


def _grid(policy, memory_slots):
    t = grid_tables(5, 0.5, [["n0_0", "n4_4"], ["n0_4", "n4_0"]], policy=policy,
                    slots=SLOTS, swap_prob=0.9)
    t["routing"]["memory_slots"] = memory_slots
    if memory_slots > 1:
        for nd in t["network"]["nodes"]:
            nd["memory_t2_s"] = 0.05
    return RoutingNetwork.from_tables(t["network"], t["routing"], seed=1)


def _line():
    nodes = [{"name": f"n{i}", "memory_t2_s": 0.05} for i in range(5)]
    links = [{"a": f"n{i}", "b": f"n{i + 1}", "success_prob": 0.1} for i in range(4)]
    return RoutingNetwork.from_tables({"nodes": nodes, "links": links},
                                      {"policy": "single-path", "slots": SLOTS,
                                       "memory_slots": 10**6, "slot_s": 1e-3,
                                       "requests": [["n0", "n4"]]}, seed=1)


def _bench(benchmark, net, label):
    d = benchmark.pedantic(run_routing, args=(net,), rounds=3, iterations=1)
    assert d["slots"] == SLOTS and d["total_rate_per_slot"] > 0
    benchmark.extra_info["total_rate_per_slot"] = d["total_rate_per_slot"]
    if benchmark.enabled:          # --benchmark-disable (CI fast mode) keeps no stats
        rate = SLOTS / benchmark.stats.stats.median
        benchmark.extra_info["slots_per_s"] = rate
        print(f"\n{label}: {rate:.3g} slots/s")


@pytest.mark.parametrize("memory_slots", [1, 20])
@pytest.mark.parametrize("policy", ["single-path", "multipath", "local"])
def test_bench_grid(benchmark, policy, memory_slots):
    _bench(benchmark, _grid(policy, memory_slots), f"5x5 grid {policy} memory_slots "
           f"{memory_slots}")


def test_bench_line_with_memories(benchmark):
    _bench(benchmark, _line(), "4-link line with memories")
