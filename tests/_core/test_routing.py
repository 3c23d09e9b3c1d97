"""The routing kernel's entry point checks its arrays (ValueError naming
them, never a crash) and its draws depend only on (seed, slot)."""
import numpy as np
import pytest

from qchannel._core import routing as core
from qchannel.protocols.routing import LATENCY_BINS, RoutingNetwork


def _net(policy="single-path", slots=1000):
    nodes = [{"name": n} for n in "abcd"]
    links = [{"a": "a", "b": "b", "success_prob": 0.5}, {"a": "b", "b": "c", "success_prob": 0.5},
             {"a": "c", "b": "d", "success_prob": 0.5}, {"a": "a", "b": "c", "success_prob": 0.2}]
    return RoutingNetwork.from_tables({"nodes": nodes, "links": links},
                                      {"policy": policy, "slots": slots, "slot_s": 1.0,
                                       "requests": [["a", "d"], ["b", "d"]]}, seed=3)


def _outputs(r=2):
    return dict(delivered=np.zeros(r, np.int64), fid_sum=np.zeros(r), fid_sq=np.zeros(r),
                hits=np.zeros(r, np.int64), lat_sum=np.zeros(r), lat_sq=np.zeros(r),
                lat_max=np.zeros(r, np.int64), lat_hist=np.zeros((r, 16), np.int64))


def _call(arrays, policy=0, slots=100, swap_prob=1.0, memory_slots=1, outputs=None):
    out = _outputs() if outputs is None else outputs
    core.simulate_routing(1, 80, slots, policy, swap_prob, memory_slots, **arrays, **out)
    return out


def test_valid_arrays_run_for_every_policy():
    for code in core.POLICY_CODES.values():
        out = _call(_net().arrays(), policy=code, slots=2000, memory_slots=4)
        assert out["delivered"].sum() > 0
        assert out["hits"].sum() == out["lat_hist"].sum()


@pytest.mark.parametrize("key, bad, match", [
    ("edge_a", np.array([0, 1, 2, 9], np.int32), "edge_a"),
    ("edge_b", np.array([1, 2, 3, -1], np.int32), "edge_b"),
    ("edge_b", np.array([0, 2, 3, 2], np.int32), "itself"),
    ("edge_p", np.array([0.5, 0.5, 1.5, 0.2]), "edge_p"),
    ("edge_p", np.array([0.5, np.nan, 0.5, 0.2]), "edge_p"),
    ("edge_f0", np.array([0.1, 1.0, 1.0, 1.0]), "edge_f0"),
    ("adj_edge", np.array([0, 3, 0, 1, 1, 2, 3, 0], np.int32), "adj_edge"),
    ("adj_ptr", np.array([0, 2, 4, 7], np.int32), "adj_ptr"),
    ("node_mem", np.array([1, 2, -3, 1], np.int32), "node_mem"),
    ("node_decay", np.array([0.0, -1.0, 0.0, 0.0]), "node_decay"),
    ("node_life", np.array([1, 0, 1, 1], np.int64), "node_life"),
    ("req_dst", np.array([3, 1], np.int32), "itself"),
    ("req_src", np.array([0, 7], np.int32), "req_src"),
    ("path_edge", np.array([3, 1, 2, 2], np.int32), "does not join"),
    ("path_node", np.array([1, 2, 3, 1, 2, 3], np.int32), "from its source"),
    ("dist", np.zeros(3, np.int32), "dist"),
])
def test_bad_arrays_are_refused(key, bad, match):
    arrays = _net().arrays()
    arrays[key] = bad
    with pytest.raises(ValueError, match=match):
        _call(arrays)


@pytest.mark.parametrize("kw, match", [
    ({"policy": 3}, "policy"), ({"swap_prob": -0.1}, "swap_prob"),
    ({"swap_prob": float("nan")}, "swap_prob"), ({"memory_slots": 0}, "memory_slots"),
    ({"slots": -1}, "slots"),
])
def test_bad_scalars_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        _call(_net().arrays(), **kw)


def test_output_shapes_are_checked():
    out = _outputs()
    out["fid_sum"] = np.zeros(1)
    with pytest.raises(ValueError, match="fid_sum"):
        _call(_net().arrays(), outputs=out)


def test_slots_are_independent_streams():
    # the first 1000 slots of a 3000-slot run are the 1000-slot run:
    # outputs of the shorter run never exceed the longer one's
    a = _call(_net().arrays(), slots=1000, memory_slots=1)
    b = _call(_net().arrays(), slots=1000, memory_slots=1)
    c = _call(_net().arrays(), slots=3000, memory_slots=1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert (c["delivered"] >= a["delivered"]).all() and c["delivered"].sum() > a[
        "delivered"].sum()


def test_latency_histogram_overflow_bin():
    out = _outputs()
    _call(_net().arrays(), slots=5000, outputs=out)
    assert out["lat_hist"].shape[1] == 16 and out["lat_hist"][:, 0].sum() == 0
    assert (out["lat_max"] >= 1).all()
    assert LATENCY_BINS >= 1024


# ------------------------------------------------------------------ fuzzing
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hypothesis import settings  # noqa: E402

from tests._core.test_kernel_fuzz import FUZZ, Arg, _fuzz  # noqa: E402

# fewer examples than the other kernels: each one builds a network (networkx)
ROUTING_FUZZ = settings(FUZZ, max_examples=40)


def _random_network(data):
    n = data.draw(st.integers(2, 6))
    links = {(data.draw(st.integers(0, v - 1)), v) for v in range(1, n)}      # a spanning tree
    for _ in range(data.draw(st.integers(0, 4))):
        a, b = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1))
        if a != b:
            links.add((min(a, b), max(a, b)))
    reqs = []
    for _ in range(data.draw(st.integers(1, 3))):
        s = data.draw(st.integers(0, n - 1))
        t = data.draw(st.integers(0, n - 2))
        reqs.append([f"v{s}", f"v{t if t < s else t + 1}"])
    nodes = [{"name": f"v{i}", "memories": data.draw(st.integers(0, 4)),
              "memory_t2_s": data.draw(st.sampled_from([None, 0.01, 1.0])),
              "cutoff_s": data.draw(st.sampled_from([None, 0.0, 3.0]))} for i in range(n)]
    for nd in nodes:
        for k in [k for k, v in nd.items() if v is None]:
            del nd[k]
    return RoutingNetwork.from_tables(
        {"nodes": nodes,
         "links": [{"a": f"v{a}", "b": f"v{b}", "success_prob": data.draw(st.floats(0, 1)),
                    "fidelity": data.draw(st.floats(0.25, 1))} for a, b in sorted(links)]},
        {"policy": "multipath", "slots": 10, "slot_s": 1e-3, "requests": reqs})


@ROUTING_FUZZ
@given(data=st.data())
def test_fuzz_routing(data):
    net = _random_network(data)
    r = len(net.requests)
    args = [Arg(data.draw(st.integers(0, 2**64 - 1)), "u64"),
            Arg(data.draw(st.integers(0, 2**32 - 1)), "u32"),
            Arg(data.draw(st.integers(0, 100)), "size"),
            Arg(data.draw(st.integers(0, 2)), "size"),
            Arg(data.draw(st.floats(0, 1)), "real"),
            Arg(data.draw(st.integers(1, 2**62)), "int")]
    args += [Arg(a, "arr") for a in net.arrays().values()]
    args += [Arg(a, "arr") for a in _outputs(r).values()]

    def check(v, _):
        slots = v[2]
        delivered, fid_sum, hits, hist = (np.asarray(v[k]) for k in (21, 22, 24, 28))
        assert (delivered >= 0).all() and (hits <= slots).all() and (hits <= delivered).all()
        assert np.all(fid_sum <= delivered + 1e-9) and np.all(np.isfinite(fid_sum))
        assert np.array_equal(hist.sum(axis=1), hits)
    _fuzz(data, core.simulate_routing, args, check)
