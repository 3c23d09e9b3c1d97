"""Job entanglement-routing against its closed forms (qchannel.theory.routing
and the repeater chain's waiting time), its contention rule, its
reproducibility and its refusals.  Statistical checks use fixed seeds and
state their tolerance in standard deviations (4 sigma)."""
import math

import pytest

import qchannel
from qchannel import jobs
from qchannel.jobs.routing import grid_tables
from qchannel.theory import routing as th
from qchannel.theory.repeater import mean_waiting_attempts

SIGMAS = 4.0


def line_tables(n, p, policy="single-path", slots=100_000, seed=1, **routing):
    nodes = [{"name": f"n{i}"} for i in range(n + 1)]
    links = [{"a": f"n{i}", "b": f"n{i + 1}", "success_prob": p} for i in range(n)]
    r = {"policy": policy, "slots": slots, "requests": [["n0", f"n{n}"]], "slot_s": 1e-3,
         **routing}
    return {"protocol": {"type": "entanglement-routing"},
            "network": {"nodes": nodes, "links": links}, "routing": r, "run": {"seed": seed}}


def run(tables):
    sc = jobs.from_dict(tables)
    return qchannel.run_scenario(sc).to_dict(), sc


def within_binomial(count, slots, prob):
    sigma = math.sqrt(prob * (1 - prob) / slots)
    return abs(count / slots - prob) <= SIGMAS * sigma


@pytest.mark.parametrize("policy", ["single-path", "multipath", "local"])
def test_memoryless_line_delivers_p_n_q_n_minus_1(policy):
    n, p, q, slots = 3, 0.6, 0.8, 100_000
    d, sc = run(line_tables(n, p, policy, slots, swap_prob=q))
    expect = p**n * q ** (n - 1)
    (r,) = d["requests"]
    assert within_binomial(r["delivered"], slots, expect), (r["rate_per_slot"], expect)
    assert r["rate_per_s"] == pytest.approx(r["rate_per_slot"] / 1e-3)
    if policy == "single-path":
        assert jobs.job_for(sc).theory(sc)["requests"][0]["rate_per_slot"] == \
            pytest.approx(expect)


def test_memoryless_fidelity_is_the_product_of_werner_parameters():
    t = line_tables(3, 0.7, slots=5000)
    for ln, f in zip(t["network"]["links"], (0.95, 0.9, 0.99)):
        ln["fidelity"] = f
    d, sc = run(t)
    expect = th.path_werner_fidelity([0.95, 0.9, 0.99])
    assert d["requests"][0]["fidelity_mean"] == pytest.approx(expect, rel=1e-12)
    assert jobs.job_for(sc).theory(sc)["requests"][0]["fidelity_mean"] == pytest.approx(expect)


def test_multipath_on_a_grid_is_the_exact_connection_probability():
    # 3x3 grid, 12 links: with swaps that always succeed a slot delivers iff
    # the corners are connected in the graph of successful links (2^12 states).
    slots, p = 60_000, 0.5
    d, sc = run(grid_tables(3, p, [["n0_0", "n2_2"]], slots=slots))
    r = d["requests"][0]
    pc = jobs.job_for(sc).theory(sc)["requests"][0]["success_slot_fraction"]
    assert 0.2 < pc < 0.8
    assert within_binomial(r["success_slot_fraction"] * slots, slots, pc)
    assert r["rate_per_slot"] >= r["success_slot_fraction"]


def test_connection_probability_enumeration_matches_a_series_parallel_graph():
    # two parallel 2-link paths between 0 and 3: 1 - (1 - p^2)^2
    links = [(0, 1), (1, 3), (0, 2), (2, 3)]
    assert th.connection_probability(4, links, [0.3] * 4, 0, 3) == \
        pytest.approx(1 - (1 - 0.09) ** 2, rel=1e-12)


def test_multipath_delivers_in_every_slot_the_single_path_does():
    # same seed, memoryless, swap_prob = 1: the generation draws are the same,
    # and a slot whose fixed shortest path is up has a shortest path for multipath
    t = grid_tables(4, 0.5, [["n0_0", "n3_3"]], slots=20_000)
    multi, _ = run(t)
    t["routing"]["policy"] = "single-path"
    single, _ = run(t)
    m, s = multi["requests"][0], single["requests"][0]
    assert m["success_slot_fraction"] >= s["success_slot_fraction"]
    assert m["rate_per_slot"] > 5 * s["rate_per_slot"]          # 0.5^6 vs percolation


@pytest.mark.parametrize("n, p, q", [(4, 0.3, 1.0), (3, 0.2, 1.0), (2, 0.3, 0.6)])
def test_line_with_memories_waits_as_the_repeater_chain(n, p, q):
    d, sc = run(line_tables(n, p, slots=100_000, swap_prob=q, memory_slots=10**9))
    r = d["requests"][0]
    expect = mean_waiting_attempts(n, p, q)
    assert abs(r["latency_slots_mean"] - expect) <= SIGMAS * r["latency_slots_sem"]
    assert jobs.job_for(sc).theory(sc)["requests"][0]["latency_slots_mean"] == \
        pytest.approx(expect)


def test_two_link_line_dephases_as_the_closed_form():
    slot_s, t2, p = 1e-3, 0.02, 0.2
    t = line_tables(2, p, slots=100_000, memory_slots=10**9)
    for nd in t["network"]["nodes"]:
        nd["memory_t2_s"] = t2
    d, _ = run(t)
    r = d["requests"][0]
    expect = th.two_link_dephased_fidelity(p, math.exp(-2 * slot_s / t2))
    assert expect < 0.95
    assert abs(r["fidelity_mean"] - expect) <= SIGMAS * r["fidelity_sem"]


def test_node_cutoff_and_memory_slots_are_the_same_limit():
    a = line_tables(3, 0.3, slots=20_000, memory_slots=3)
    b = line_tables(3, 0.3, slots=20_000, memory_slots=10**6)
    for nd in b["network"]["nodes"]:
        nd["cutoff_s"] = 2.5e-3            # ages 0, 1, 2 slots allowed
    ra, rb = run(a)[0], run(b)[0]
    assert ra["requests"] == rb["requests"]
    c = run(line_tables(3, 0.3, slots=20_000, memory_slots=10**6))[0]
    assert c["requests"][0]["rate_per_slot"] > ra["requests"][0]["rate_per_slot"]


def test_contending_requests_share_the_slots_in_rotating_priority():
    # two requests on the same path: the request with priority takes every
    # link pair of the slot, and priority alternates: each gets half
    n, p, slots = 2, 0.7, 100_000
    t = line_tables(n, p, slots=slots)
    t["routing"]["requests"] = [["n0", "n2"], ["n2", "n0"]]
    d, sc = run(t)
    for r in d["requests"]:
        assert within_binomial(r["delivered"], slots, p**n / 2)
    bound = jobs.job_for(sc).theory(sc)["requests"][0]["rate_per_slot_upper_bound"]
    assert bound == pytest.approx(p**n)


def test_same_seed_same_result_other_seed_other_result():
    t = grid_tables(3, 0.5, [["n0_0", "n2_2"], ["n0_2", "n2_0"]], policy="local",
                    slots=5000, swap_prob=0.9)
    first = run(t)[0]
    assert run(t)[0] == first
    t["run"]["seed"] = 2
    assert run(t)[0]["requests"] != first["requests"]


def test_fiber_links_derive_probability_and_slot():
    sc = qchannel.load_scenario("examples/routing_line.toml")
    net = sc.config
    assert net.success_prob[0] == pytest.approx(0.5 * 0.9**2 * 10 ** (-0.2 * 25 / 10))
    assert net.slot_s == pytest.approx(25 / 2e5)


def test_sweep_keys_replace():
    sc = jobs.from_dict(grid_tables(3, 0.5, [["n0_0", "n2_2"]], slots=100))
    assert sc.replace(**{"routing.swap_prob": 0.5}).config.swap_prob == 0.5
    assert sc.replace(**{"network.links[0].success_prob": 0.2}).config.success_prob[0] == 0.2


def _hostile(edit):
    t = line_tables(2, 0.5, slots=100)
    edit(t)
    return t


@pytest.mark.parametrize("edit, match", [
    (lambda t: t["network"]["links"][0].update(a="nowhere"), r"network.links\[0\].a"),
    (lambda t: t["network"]["links"][1].update(success_prob=-0.1),
     r"network.links\[1\].success_prob"),
    (lambda t: t["network"]["links"][1].update(success_prob=float("nan")),
     r"network.links\[1\].success_prob"),
    (lambda t: t["network"]["links"][0].update(length_km=10.0), "exclusive"),
    (lambda t: t["network"]["links"].append({"a": "n0", "b": "n1", "success_prob": 0.1}),
     "again"),
    (lambda t: t["network"]["links"][0].update(b="n0"), "two different nodes"),
    (lambda t: t["network"]["nodes"].append({"name": "n0"}), "twice"),
    (lambda t: t["network"]["nodes"].append({"name": "island"})
     or t["routing"].update(requests=[["n0", "island"]]), r"routing.requests\[0\].*no path"),
    (lambda t: t["routing"].update(requests=[["n0", "n0"]]), "must differ"),
    (lambda t: t["routing"].update(requests=[["n0", "mars"]]), r"routing.requests\[0\]"),
    (lambda t: t["routing"].update(requests=["n0"]), r"routing.requests\[0\]"),
    (lambda t: t["routing"].update(requests=[]), "routing.requests"),
    (lambda t: t["routing"].update(policy="telepathy"), "routing.policy"),
    (lambda t: t["routing"].update(swap_prob=1.5), "routing.swap_prob"),
    (lambda t: t["routing"].update(memory_slots=0), "routing.memory_slots"),
    (lambda t: t["routing"].update(slots=-1), "routing.slots"),
    (lambda t: t["routing"].pop("slot_s"), "routing.slot_s"),
    (lambda t: t["routing"].update(hops=3), "routing.hops"),
    (lambda t: t["network"]["nodes"][0].update(memories=-1), r"network.nodes\[0\].memories"),
    (lambda t: t["network"]["nodes"][0].update(memory_t2_s=0), r"memory_t2_s"),
    (lambda t: t["network"]["nodes"][0].update(cutoff_s=-1), r"cutoff_s"),
    (lambda t: t["run"].update(pulses=10), "run.pulses"),
    (lambda t: t.pop("routing"), r"\[routing\]"),
])
def test_hostile_inputs_name_the_key(edit, match):
    with pytest.raises(ValueError, match=match):
        jobs.from_dict(_hostile(edit))


def test_network_without_protocol_type_is_not_guessed():
    t = line_tables(2, 0.5)
    del t["protocol"]
    with pytest.raises(ValueError, match="trusted-node-network"):
        jobs.from_dict(t)


def test_cli_refuses_bad_input_in_one_line(tmp_path, capsys):
    from qchannel.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text('[protocol]\ntype = "entanglement-routing"\n[routing]\nslot_s = 1e-3\n'
                   'requests = [["a", "b"]]\n[[network.nodes]]\nname = "a"\n'
                   '[[network.nodes]]\nname = "b"\n[[network.links]]\na = "a"\nb = "c"\n'
                   'success_prob = 0.5\n')
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "network.links[0].b" in err and "\n" not in err


def test_multipath_with_perfect_links_delivers_the_min_cut():
    # p = q = 1 on a 5x5 grid, users in the interior: 4 edge-disjoint paths per slot
    d, _ = run(grid_tables(5, 1.0, [["n2_1", "n2_3"]], slots=200))
    assert d["requests"][0]["rate_per_slot"] == 4.0
