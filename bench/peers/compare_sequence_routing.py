"""qchannel entanglement routing vs SeQUeNCe on the same small network.

Network: a line of three quantum routers r0 - r1 - r2, two 10 km fiber
links (0.2 dB/km) with a Bell-state measurement at each link midpoint, one
request r0 -> r2, pairs delivered continuously.  Both tools simulate the
same span of network time (``--sim-s``) and we report delivered end-to-end
pairs, pairs per simulated second and, the headline, simulated network
seconds and delivered pairs per second of wall-clock time.

The physics is NOT the same model in both, so only the speed is compared:

* SeQUeNCe 0.8.5 (``RouterNetTopo``, ``RequestApp`` at both ends, 10
  memories per router of which 5 are reserved for the request, its default
  hardware: Barrett-Kok heralding with its default memory and detector
  parameters, classical delays L / (2e5 km/s), ket-vector states): a
  discrete-event simulation with one event per photon, message and
  protocol step.
* qchannel (``entanglement-routing``, single-path, memories that never
  expire, detector efficiency 0.9, BSM success 1/2, one pair per link at a
  time): slots of L / c = 50 us, p = 0.26 per link and slot.

The two rates of pairs per simulated second come out similar (a few
thousand per second) by coincidence of the parameters, not by construction.

Run (from the repository root): ``PEERS_VENV/bin/python
bench/peers/compare_sequence_routing.py --qchannel-python /path/to/python``
(``run_peers.sh`` makes a venv with SeQUeNCe).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KM = 10.0

QCHANNEL_SNIPPET = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from qchannel.protocols.routing import RoutingNetwork, run_routing
km, sim_s = float(sys.argv[2]), float(sys.argv[3])
nodes = [{"name": f"r{i}"} for i in range(3)]
links = [{"a": f"r{i}", "b": f"r{i + 1}", "length_km": km, "detector_efficiency": 0.9}
         for i in range(2)]
slot_s = km / 2e5
net = RoutingNetwork.from_tables({"nodes": nodes, "links": links},
                                 {"policy": "single-path", "memory_slots": 2**40,
                                  "slots": int(round(sim_s / slot_s)),
                                  "requests": [["r0", "r2"]]}, seed=1)
t0 = time.perf_counter()
d = run_routing(net)
wall = time.perf_counter() - t0
print(json.dumps({"pairs": d["requests"][0]["delivered"], "sim_s": sim_s, "wall_s": wall,
                  "fidelity": d["requests"][0]["fidelity_mean"]}))
"""


def run_sequence(sim_s, memo=10):
    from sequence.app.request_app import RequestApp
    from sequence.topology.router_net_topo import RouterNetTopo

    names = ["r0", "r1", "r2"]
    cfg = {
        "nodes": [{"name": n, "type": "QuantumRouter", "seed": i, "memo_size": memo}
                  for i, n in enumerate(names)],
        "qconnections": [{"node1": names[i], "node2": names[i + 1], "attenuation": 0.0002,
                          "distance": KM * 1000, "type": "meet_in_the_middle"}
                         for i in range(2)],
        "cconnections": [{"node1": a, "node2": b, "delay": int((j - i) * KM / 2e5 * 1e12)}
                         for i, a in enumerate(names) for j, b in enumerate(names) if j > i],
        "stop_time": int(sim_s * 1e12), "is_parallel": False,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cfg, f)
    try:
        topo = RouterNetTopo(f.name)
    finally:
        os.unlink(f.name)
    tl = topo.get_timeline()
    routers = {r.name: r for r in topo.get_nodes_by_type(RouterNetTopo.QUANTUM_ROUTER)}
    app = RequestApp(routers["r0"])
    RequestApp(routers["r2"])        # the responder frees its memories after each pair
    tl.init()
    start_ps = 10**9                 # 1 ms for the reservation messages
    app.start("r2", start_ps, int(sim_s * 1e12), memo // 2, 0.5)
    t0 = time.perf_counter()
    tl.run()
    wall = time.perf_counter() - t0
    return {"pairs": app.memory_counter, "sim_s": sim_s - start_ps * 1e-12, "wall_s": wall}


def run_qchannel(python, sim_s):
    out = subprocess.run([python, "-c", QCHANNEL_SNIPPET, ROOT, str(KM), str(sim_s)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qchannel-python", default=sys.executable)
    ap.add_argument("--sim-s", type=float, default=0.2, help="SeQUeNCe's network time (s)")
    ap.add_argument("--qchannel-sim-s", type=float, default=50.0,
                    help="qchannel's network time (s): longer, so its wall time is measurable")
    a = ap.parse_args()
    rows = [("SeQUeNCe", run_sequence(a.sim_s)),
            ("qchannel", run_qchannel(a.qchannel_python, a.qchannel_sim_s))]
    print("| tool | network time (s) | pairs | pairs per network s | wall (s) | "
          "network s per wall s | pairs per wall s |")
    print("|---|---|---|---|---|---|---|")
    speed = {}
    for name, r in rows:
        speed[name] = r["pairs"] / r["wall_s"]
        print(f"| {name} | {r['sim_s']:.3g} | {r['pairs']} | {r['pairs'] / r['sim_s']:.4g} | "
              f"{r['wall_s']:.3g} | {r['sim_s'] / r['wall_s']:.3g} | {speed[name]:.3g} |")
    print(f"qchannel / SeQUeNCe, pairs per wall second: x{speed['qchannel'] / speed['SeQUeNCe']:.3g}")


if __name__ == "__main__":
    main()
