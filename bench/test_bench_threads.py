"""One run on 1, 2 and all threads (the chunks of blocks of
qchannel.links.base.ThreadedBackend) at 0 km (cost per detection event, one
block a chunk) and 100 km (a few thousand events a block, dozens of blocks
a chunk): wall time, speed-up and efficiency against one thread, and ns per
detection event of the transport kernel at 0 km on one thread.

Run: ``pytest bench/test_bench_threads.py --benchmark-only``; quick
re-measure on idle cores: ``python bench/scaling.py``.  Stored in
``extra_info``: ``threads``, ``events_per_s``, ``speedup`` and
``efficiency`` (against the 1-thread median of the same session),
``cpu_s`` (process CPU time of the last round), ``ns_per_event_cpu`` /
``ns_per_event_wall``."""
import time

import pytest

from qchannel.links.base import available_cores
from qchannel.runner import build_link
from qchannel.scenario import Scenario
from thread_runs import time_run

# Large fiber runs: at 0 km the cost is per detection event (~3e7 events);
# at 100 km per block of slots (~5000 events each).
RUNS = {0.0: 10**9, 100.0: 10**11}
THREADS = sorted({1, 2, available_cores()})
_one_thread = {}


@pytest.mark.parametrize("km", sorted(RUNS))
@pytest.mark.parametrize("threads", THREADS)
def test_run_threads(benchmark, threads, km):
    run_sc = Scenario().replace(**{"channel.length_km": km, "run.pulses": RUNS[km]})
    d, info = time_run(benchmark, run_sc, threads, _one_thread, km)
    if info:
        t = info["seconds"]
        benchmark.extra_info.update(info, km=km, pulses=RUNS[km], pulses_per_s=RUNS[km] / t,
                                    events_per_s=d["detections"] / t)


def test_ns_per_event_one_thread(benchmark):
    link, _ = build_link(Scenario().replace(**{"channel.length_km": 0.0,
                                               "run.pulses": 4 * 10**8}))
    link.threads = 1
    cpu = []

    def run():
        c = time.process_time()
        n = sum(len(r) for r in link.blocks(seed=1))
        cpu.append(time.process_time() - c)
        return n

    events = benchmark.pedantic(run, rounds=5, iterations=1)
    assert events > 0
    if benchmark.enabled:
        cpu.sort()
        benchmark.extra_info.update(
            events=events, ns_per_event_wall=1e9 * benchmark.stats.stats.median / events,
            ns_per_event_cpu=1e9 * cpu[len(cpu) // 2] / events)
