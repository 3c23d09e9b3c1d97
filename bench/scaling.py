"""Quick scaling check of one run over threads (re-run it on idle cores).

    python bench/scaling.py [--pulses 2e9] [--km 0] [--rounds 3]

Prints, medians of ``--rounds``:
* the transport kernel on one thread at 0 km: ns of CPU time and of wall
  time per detection event (target: at most 20 ns per event on one core);
* the whole run (``run_scenario``, decoy BB84 over fiber) on 1, 2 and all
  threads: wall time, speed-up, efficiency, and the ratio
  t(2 threads) / t(1 thread) (target: at most 0.56 on two idle cores);
* whether the JSON is identical for every thread count (it must be).
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from qchannel.links.base import available_cores, forced_threads  # noqa: E402
from qchannel.runner import build_link, run_scenario  # noqa: E402
from qchannel.scenario import Scenario  # noqa: E402


def ns_per_event(pulses, rounds):
    link, _ = build_link(Scenario().replace(**{"channel.length_km": 0.0, "run.pulses": pulses}))
    link.threads = 1
    cpu, wall, events = [], [], 0
    for _ in range(rounds):
        c, w = time.process_time(), time.perf_counter()
        events = sum(len(r) for r in link.blocks(seed=1))
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return events, 1e9 * statistics.median(cpu) / events, 1e9 * statistics.median(wall) / events


def run_time(scenario, threads, rounds):
    times, out = [], None
    for _ in range(rounds):
        with forced_threads(threads):
            t = time.perf_counter()
            d = run_scenario(scenario).to_dict()
            times.append(time.perf_counter() - t)
        out = json.dumps(d, sort_keys=True)
    return statistics.median(times), out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pulses", type=float, default=2e9, help="pulses of the threaded run")
    p.add_argument("--km", type=float, default=0.0, help="fiber length of the threaded run")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(argv)
    events, cpu_ns, wall_ns = ns_per_event(4 * 10**8, a.rounds)
    print(f"transport, 0 km, one thread: {events} events, {cpu_ns:.1f} ns CPU / event, "
          f"{wall_ns:.1f} ns wall / event (median of {a.rounds})")
    sc = Scenario().replace(**{"channel.length_km": a.km, "run.pulses": int(a.pulses)})
    cores = available_cores()
    counts = sorted({1, 2, cores}) if cores >= 2 else [1]
    base, ref = None, None
    for n in counts:
        t, out = run_time(sc, n, a.rounds)
        base = base or t
        ref = ref or out
        print(f"threads {n:3d}: {t:7.3f} s wall, speed-up {base / t:5.2f}, "
              f"efficiency {base / t / n:5.2f}, same JSON as 1 thread: {out == ref}")
        if n == 2:
            print(f"t(2 threads) / t(1 thread) = {t / base:.3f} (target <= 0.56 on idle cores)")
    print(f"cores available: {cores}; load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
