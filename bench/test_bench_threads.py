"""One run on 1, 2 and all threads (the blocks of qchannel.links.base.
ThreadedBackend): wall time, speed-up and efficiency against one thread,
and ns per detection event of the transport kernel at 0 km on one thread.

Run: ``pytest bench/test_bench_threads.py --benchmark-only``; quick
re-measure on idle cores: ``python bench/scaling.py``.  Stored in
``extra_info``: ``threads``, ``events_per_s``, ``speedup`` and
``efficiency`` (against the 1-thread median of the same session),
``ns_per_event_cpu`` / ``ns_per_event_wall``."""
import json
import time

import pytest

from qchannel.links.base import available_cores, forced_threads
from qchannel.runner import build_link, run_scenario
from qchannel.scenario import Scenario

# A large fiber run at 0 km: the cost is per detection event (~3e7 events).
RUN = Scenario().replace(**{"channel.length_km": 0.0, "run.pulses": 10**9})
THREADS = sorted({1, 2, available_cores()})
_one_thread = {}


@pytest.mark.parametrize("threads", THREADS)
def test_run_threads(benchmark, threads):
    out = {}

    def run():
        with forced_threads(threads):
            out["json"] = json.dumps(run_scenario(RUN).to_dict(), sort_keys=True)

    benchmark.pedantic(run, rounds=3, iterations=1)
    _one_thread.setdefault("json", out["json"])
    assert out["json"] == _one_thread["json"]          # same results for any thread count
    if benchmark.enabled:
        t = benchmark.stats.stats.median
        if threads == 1:
            _one_thread["t"] = t
        events = json.loads(out["json"])["detections"]
        info = dict(threads=threads, pulses=RUN.run.pulses, pulses_per_s=RUN.run.pulses / t,
                    events_per_s=events / t)
        if "t" in _one_thread:
            info.update(speedup=_one_thread["t"] / t, efficiency=_one_thread["t"] / t / threads)
        benchmark.extra_info.update(info)


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
