"""Quick scaling check of one run over threads (re-run it on idle cores).

    python bench/scaling.py [--km 0 100] [--rounds 3] [--timeline]
    python bench/scaling.py --link entangled|attack|repeater [--size X] [--dead-time-ns D]

Prints, medians of ``--rounds``:
* the transport kernel on one thread at 0 km: ns of CPU time and of wall
  time per detection event (target: at most 20 ns per event on one core);
* for each fiber length (default 0 km with 2e9 pulses and 100 km with 2e11):
  the whole run (``run_scenario``, decoy BB84) on 1, 2 and all threads:
  wall and CPU time, speed-up, efficiency, the ratio t(2 threads) /
  t(1 thread) (target: at most 0.56 on two idle cores) and whether the JSON
  is identical for every thread count (it must be);
* ``--timeline``: where the threads of a 2-thread run spend their time
  (per thread: wall and CPU time drawing, carrying and counting, and the
  rest, i.e. waiting for work, the GIL or the carry turn), plus the ratio
  the CPU times allow on 2 idle cores: max(CPU(2) / 2, the busiest
  thread's stage CPU) / CPU(1), CPU(n) the process CPU time of the run on n
  threads (the wall time on one idle core).

``--link``: the same for the other links, each through its example
(``examples/bbm92_fiber.toml``, 2.4e10 pair slots; ``eavesdropper.toml``,
3e9 pulses; ``repeater.toml``, 1e6 realisations; ``--size`` replaces the
number): wall and CPU time for 1, 2 and all threads, t(2) / t(1), same JSON,
and the timeline of the link's ``draw_chunk`` / ``carry_chunk`` (plus the
counting for the attacked link) on 2 threads.  ``--dead-time-ns`` gives the
entangled link's detectors a dead time (its speculative parallel chunks).

Wall-clock ratios mean something on idle cores only; on a loaded machine
read the CPU times and the timeline.
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from qchannel.links.base import available_cores, forced_threads  # noqa: E402
from qchannel.links.prepare_measure import LinkModel  # noqa: E402
from qchannel.protocols.decoy_bb84 import DecoyCounts  # noqa: E402
from qchannel.runner import build_link, run_scenario  # noqa: E402
from qchannel.scenario import Scenario  # noqa: E402

PULSES = {0.0: 2e9, 100.0: 2e11}


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
    times, cpus, out = [], [], None
    for _ in range(rounds):
        with forced_threads(threads):
            t, c = time.perf_counter(), time.process_time()
            d = run_scenario(scenario).to_dict()
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        out = json.dumps(d, sort_keys=True)
    return statistics.median(times), statistics.median(cpus), out


class Timeline:
    """Wraps the decoy link's chunk stages and the counting to record, per
    thread, wall (perf_counter_ns) and CPU (thread_time_ns) time in each."""

    STAGES = (("draw", LinkModel, "draw_chunk"), ("carry", LinkModel, "carry_chunk"),
              ("count", DecoyCounts, "add"))

    def __init__(self, stages=None):
        self.stages = stages or self.STAGES
        self.wall = defaultdict(lambda: defaultdict(int))
        self.cpu = defaultdict(lambda: defaultdict(int))
        self.calls = defaultdict(int)
        self.lock = threading.Lock()
        self.saved = []

    def __enter__(self):
        for stage, cls, name in self.stages:
            orig = getattr(cls, name)
            self.saved.append((cls, name, orig))
            setattr(cls, name, self._wrap(stage, orig))
        return self

    def __exit__(self, *exc):
        for cls, name, orig in self.saved:
            setattr(cls, name, orig)

    def _wrap(self, stage, fn):
        def timed(*args, **kw):
            w, c = time.perf_counter_ns(), time.thread_time_ns()
            try:
                return fn(*args, **kw)
            finally:
                dw, dc = time.perf_counter_ns() - w, time.thread_time_ns() - c
                name = threading.current_thread().name
                with self.lock:
                    self.wall[name][stage] += dw
                    self.cpu[name][stage] += dc
                    self.calls[stage] += 1
        return timed


def timeline(scenario, cpu1, stages=None):
    tl = Timeline(stages)
    with tl, forced_threads(2):
        w, c = time.perf_counter(), time.process_time()
        run_scenario(scenario)
        wall, cpu = time.perf_counter() - w, time.process_time() - c
    print(f"  timeline, 2 threads: {wall:.3f} s wall, {cpu:.3f} s CPU; chunks drawn "
          f"{tl.calls['draw']}, carried {tl.calls['carry']}, counted {tl.calls['count']}")
    busiest = 0.0
    for name in sorted(tl.wall):
        stages = ", ".join(f"{s} {tl.wall[name][s] / 1e9:.3f}/{tl.cpu[name][s] / 1e9:.3f}"
                           for s, _, _ in tl.stages if s in tl.wall[name])
        busy = sum(tl.cpu[name].values()) / 1e9
        busiest = max(busiest, busy)
        rest = wall - sum(tl.wall[name].values()) / 1e9
        print(f"    {name:22s} wall/CPU s: {stages}; not in a stage {rest:.3f} s wall")
    print(f"  ratio the CPU times allow on 2 idle cores: {max(cpu / 2, busiest) / cpu1:.3f} "
          f"(max(CPU(2) / 2, busiest thread's stage CPU) / CPU(1); CPU(2) / CPU(1) = "
          f"{cpu / cpu1:.3f})")


LINKS = {"entangled": ("examples/bbm92_fiber.toml", "run.pulses", 2.4e10),
         "attack": ("examples/eavesdropper.toml", "run.pulses", 3e9),
         "repeater": ("examples/repeater.toml", "repeater.realisations", 10**6)}


def link_stages(name):
    """The chunk stages of a link (and the attacked link's counting)."""
    if name == "entangled":
        from qchannel.links.entangled import EntangledLinkModel as cls
    elif name == "attack":
        from qchannel.eve import AttackedLinkModel as cls
    else:
        from qchannel.links.repeater import RepeaterChainLink as cls
    stages = (("draw", cls, "draw_chunk"), ("carry", cls, "carry_chunk"))
    return stages + ((("count", DecoyCounts, "add"),) if name == "attack" else ())


def link_scaling(name, size, rounds, dead_time_ns=None):
    from qchannel.scenario import load_scenario

    path, key, default = LINKS[name]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    size = default if size is None else size
    over = {key: int(size)}
    if dead_time_ns is not None:
        over["detector.dead_time_ns"] = dead_time_ns
    sc = load_scenario(os.path.join(root, path)).replace(**over)
    print(f"{name} link ({path}, {key} = {size:.3g}"
          + (f", dead time {dead_time_ns:g} ns" if dead_time_ns is not None else "") + "):")
    cores = available_cores()
    counts = sorted({1, 2, cores}) if cores >= 2 else [1]
    base, ref, cpu1 = None, None, None
    for n in counts:
        t, c, out = run_time(sc, n, rounds)
        base, cpu1 = base or t, cpu1 or c
        ref = ref or out
        print(f"  threads {n:3d}: {t:7.3f} s wall, {c:7.3f} s CPU, speed-up {base / t:5.2f}, "
              f"efficiency {base / t / n:5.2f}, same JSON as 1 thread: {out == ref}")
        if n == 2:
            print(f"  t(2 threads) / t(1 thread) = {t / base:.3f} (target <= 0.56 on idle cores)")
    if cores >= 2:
        timeline(sc, cpu1, link_stages(name))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--link", choices=sorted(LINKS), default=None,
                   help="scale the entangled, attacked or repeater link instead")
    p.add_argument("--size", type=float, default=None,
                   help="with --link: pair slots, pulses or realisations")
    p.add_argument("--dead-time-ns", type=float, default=None,
                   help="with --link entangled: the detectors' dead time")
    p.add_argument("--km", type=float, nargs="+", default=sorted(PULSES),
                   help="fiber lengths (default: 0 and 100)")
    p.add_argument("--pulses", type=float, default=None,
                   help="pulses of every run (default: 2e9 at 0 km, 2e11 at 100 km, else 2e10)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--timeline", action="store_true", help="per-thread stage times, 2 threads")
    a = p.parse_args(argv)
    if a.link:
        link_scaling(a.link, a.size, a.rounds, a.dead_time_ns)
        print(f"cores available: {available_cores()}; load average: {os.getloadavg()[0]:.1f}")
        return
    events, cpu_ns, wall_ns = ns_per_event(4 * 10**8, a.rounds)
    print(f"transport, 0 km, one thread: {events} events, {cpu_ns:.1f} ns CPU / event, "
          f"{wall_ns:.1f} ns wall / event (median of {a.rounds})")
    cores = available_cores()
    counts = sorted({1, 2, cores}) if cores >= 2 else [1]
    for km in a.km:
        pulses = int(a.pulses or PULSES.get(km, 2e10))
        sc = Scenario().replace(**{"channel.length_km": km, "run.pulses": pulses})
        print(f"{km:g} km, {pulses:.3g} pulses:")
        base, ref, cpu1 = None, None, None
        for n in counts:
            t, c, out = run_time(sc, n, a.rounds)
            base, cpu1 = base or t, cpu1 or c
            ref = ref or out
            print(f"  threads {n:3d}: {t:7.3f} s wall, {c:7.3f} s CPU, speed-up {base / t:5.2f}, "
                  f"efficiency {base / t / n:5.2f}, same JSON as 1 thread: {out == ref}")
            if n == 2:
                print(f"  t(2 threads) / t(1 thread) = {t / base:.3f} at {km:g} km "
                      f"(target <= 0.56 on idle cores)")
        if a.timeline and cores >= 2:
            timeline(sc, cpu1)
    print(f"cores available: {cores}; load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
