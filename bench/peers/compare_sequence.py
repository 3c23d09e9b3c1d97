"""qchannel vs SeQUeNCe on a decoy-free BB84 fiber link, side by side.

Same physics in both: weak coherent pulses mu = 0.1 at 80 MHz (qchannel's
``simulate`` insists on three intensities for its finite-key analysis, so
0.2 % of its pulses are decoys: 0.05 and 0.0002), one basis
chosen with probability 1/2, fiber 0.2 dB/km, SeQUeNCe polarization_fidelity 0.97
(a random polarisation with probability 3 %, i.e. qchannel misalignment
0.015), detector efficiency 0.9 (SeQUeNCe's default) and 40 ns dead time
(its count_rate 25 MHz), no dark counts, no afterpulses.  Both tools simulate
the same number of pulses (``--pulses``, default 1e7) at 10 km and 50 km and
count sifted bits the same way: every detection whose bases match (X-X plus
Z-Z), partial keys included.  The table shows, per tool:

* sifted/s  - the headline: sifted bits per second of wall-clock time;
* pulses/s  - pulses simulated per second of wall-clock time;
* sifted per pulse and QBER - to check that both simulate the same link;
* ratio     - qchannel / SeQUeNCe for the two speeds.

Counting SeQUeNCe fairly.  Its BB84 sends bursts of 256/mu pulses and sifts
each burst after three classical messages; its key list ``throughputs`` holds
only whole 256-bit keys, and bursts still in flight when the run ends are
never sifted.  Counting whole keys over all emitted pulses reads its sifted
fraction 4-11 % low at 1e6 pulses.  Here the simulated time covers the
requested pulses plus the classical round trips, the sifted bits are the
whole keys plus the bits left in Alice's key buffer, and the sifted fraction
is taken over the pulses of the bursts that were sifted; the wall time still
includes the few unsifted bursts at the end (under 1 % of the pulses).

Neither number is a *secret* key rate: SeQUeNCe's BB84 stops at sifting
(its Cascade layer does error correction, no privacy amplification), and
without decoy states qchannel's finite-key analysis certifies no key at all
at these sizes, so the comparable "key bits" are sifted bits.

Run through ``bench/peers/run_peers.sh`` (it makes the virtual environment
that has SeQUeNCe); by hand: ``PEERS_VENV/bin/python compare_sequence.py
--qchannel-python /path/to/python-with-qchannel``.
"""
import argparse
import json
import os
import subprocess
import sys
import time

MU = 0.1
FREQ = 8e7
ATT_DB_KM = 0.2
FIDELITY = 0.97
EFF = 0.9
KEY_LEN = 256
DEAD_NS = 40.0  # SeQUeNCe's detector count_rate 25 MHz
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

QCHANNEL_SNIPPET = r"""
import json, sys, time
from qchannel.scenario import Scenario
from qchannel.runner import simulate
length, pulses = float(sys.argv[1]), int(float(sys.argv[2]))
sc = Scenario.from_dict({
    # simulate() runs the finite-key analysis of Lim et al., which needs 3
    # intensities: the two decoys get 0.1 %% of the pulses each (99.8 %% signal).
    "source": {"intensities": [%(mu)r, %(mu)r / 2, 0.0002],
               "intensity_probs": [0.998, 0.001, 0.001], "key_basis_prob": 0.5,
               "rep_rate_hz": %(freq)r},
    "channel": {"length_km": length, "attenuation_db_per_km": %(att)r,
                "misalignment": %(mis)r},
    "detector": {"efficiency": %(eff)r, "dark_count_prob": 0.0, "afterpulse_prob": 0.0,
                 "dead_time_ns": %(dead)r},
})
simulate(sc, seed=1, pulses=10**6)  # warm-up (imports, first call)
t = time.perf_counter()
d = simulate(sc, seed=1, pulses=pulses).to_dict()
wall = time.perf_counter() - t
# sifted in both bases (SeQUeNCe keeps both); qchannel's sifted_bits is the X basis only
print(json.dumps({"pulses": d["pulses"], "sifted_pulses": d["pulses"],
                  "sifted_bits": d["sifted_bits_all_bases"], "qber": d["qber"],
                  "wall_s": wall}))
""" % {"mu": MU, "freq": FREQ, "att": ATT_DB_KM, "mis": round((1 - FIDELITY) / 2, 12), "eff": EFF,
                    "dead": DEAD_NS}


def run_qchannel(python, length_km, pulses):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([python, "-c", QCHANNEL_SNIPPET, str(length_km), str(pulses)],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"qchannel run failed ({python}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_sequence(length_km, pulses):
    import numpy as np
    from sequence.components.optical_channel import ClassicalChannel, QuantumChannel
    from sequence.kernel.timeline import Timeline
    from sequence.qkd.BB84 import BB84MsgType, pair_bb84_protocols
    from sequence.topology.node import QKDNode

    np.random.seed(1)
    # Light travels ~5 us/km in fiber; a burst is sifted three classical
    # messages after it ends, so run long enough for the requested pulses
    # to be sifted: 4 one-way delays and 2 bursts beyond them.
    burst_ps = KEY_LEN / MU / FREQ * 1e12
    margin_ps = 4 * length_km * 5.0e6 + 2 * burst_ps
    sim_ps = int(round(pulses / FREQ * 1e12 + margin_ps))
    tl = Timeline(sim_ps)
    tl.show_progress = False
    ls = {"LightSource": {"frequency": FREQ, "mean_photon_num": MU}}
    alice = QKDNode("alice", tl, stack_size=1, component_templates=ls)
    bob = QKDNode("bob", tl, stack_size=1, component_templates=ls)
    alice.set_seed(1)
    bob.set_seed(2)
    for i in range(2):
        bob.components["bob.qsdetector"].set_detector(i, efficiency=EFF, dark_count=0)
    pair_bb84_protocols(alice.protocol_stack[0], bob.protocol_stack[0])
    dist = length_km * 1e3
    for a, b, n in ((alice, bob, "qc0"), (bob, alice, "qc1")):  # BB84 wants both directions
        qc = QuantumChannel(n, tl, distance=dist, polarization_fidelity=FIDELITY,
                            attenuation=ATT_DB_KM / 1e3)
        qc.set_ends(a, b.name)
    for a, b, n in ((alice, bob, "cc0"), (bob, alice, "cc1")):
        cc = ClassicalChannel(n, tl, distance=dist)
        cc.set_ends(a, b.name)

    emitted = [0]
    src = alice.components["alice.lightsource"]
    emit = src.emit

    def counting_emit(state_list, *args, **kwargs):
        emitted[0] += len(state_list)
        return emit(state_list, *args, **kwargs)

    src.emit = counting_emit
    p = alice.protocol_stack[0]
    sifted_bursts = [0]
    received = p.received_message

    def counting_received(src_name, msg):
        # Alice appends a burst's sifted bits on MATCHING_INDICES, if still running.
        if (msg.msg_type is BB84MsgType.MATCHING_INDICES and p.working
                and tl.now() < p.end_run_times[0]):
            sifted_bursts[0] += 1
        return received(src_name, msg)

    p.received_message = counting_received
    tl.init()
    p.push(KEY_LEN, 10**9, sim_ps)
    t = time.perf_counter()
    tl.run()
    wall = time.perf_counter() - t
    keys = len(p.throughputs)
    qber = float(np.mean(p.error_rates)) if p.error_rates else None
    burst = round(KEY_LEN / MU)   # pulses per burst (BB84.begin_photon_pulse)
    return {"pulses": emitted[0], "sifted_pulses": sifted_bursts[0] * burst,
            "sifted_bits": keys * KEY_LEN + len(p.key_bits),   # whole keys + partial key
            "whole_key_bits": keys * KEY_LEN, "qber": qber, "wall_s": wall}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qchannel-python", default=os.environ.get("QCHANNEL_PYTHON", "python3"))
    ap.add_argument("--lengths", default="10,50", help="km, comma-separated")
    ap.add_argument("--pulses", type=float, default=1e7,
                    help="pulses per run, the same for both tools (default 1e7)")
    a = ap.parse_args(argv)
    rows = []
    for L in (float(x) for x in a.lengths.split(",")):
        seq = run_sequence(L, int(a.pulses))
        qc = run_qchannel(a.qchannel_python, L, int(a.pulses))
        rows.append((L, qc, seq))
    hdr = (f"{'km':>4} {'tool':<9} {'pulses':>10} {'wall s':>8} {'sifted/s':>10} "
           f"{'pulses/s':>10} {'sifted/pulse':>12} {'QBER':>7}")
    print(hdr)
    for L, qc, seq in rows:
        for name, r in (("qchannel", qc), ("SeQUeNCe", seq)):
            pps = r["pulses"] / r["wall_s"]
            sps = r["sifted_bits"] / r["wall_s"]
            spp = r["sifted_bits"] / r["sifted_pulses"] if r["sifted_pulses"] else float("nan")
            q = "n/a" if r["qber"] is None else f"{r['qber']:.4f}"
            print(f"{L:4g} {name:<9} {r['pulses']:10.4g} {r['wall_s']:8.3g} {sps:10.3g} "
                  f"{pps:10.3g} {spp:12.4g} {q:>7}")
        rp = (qc["pulses"] / qc["wall_s"]) / (seq["pulses"] / seq["wall_s"])
        rs = ((qc["sifted_bits"] / qc["wall_s"]) / (seq["sifted_bits"] / seq["wall_s"])
              if seq["sifted_bits"] else float("inf"))
        print(f"{L:4g} ratio qchannel/SeQUeNCe: sifted bits/s x{rs:.3g}, pulses/s x{rp:.3g}")
        if "whole_key_bits" in seq and seq["sifted_pulses"]:
            print(f"{L:4g} SeQUeNCe whole 256-bit keys only over all emitted pulses: "
                  f"{seq['whole_key_bits'] / seq['pulses']:.4g} per pulse "
                  f"(its own count, {seq['sifted_bits'] / seq['sifted_pulses']:.4g} counted here)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
