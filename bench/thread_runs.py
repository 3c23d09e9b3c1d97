"""The shared part of the benchmarks that time one whole run on 1, 2 and all
threads (``test_bench_threads.py``, ``test_bench_links.py``,
``test_bench_mdi.py``)."""
import json
import time

from qchannel.links.base import forced_threads
from qchannel.runner import run_scenario


def time_run(benchmark, scenario, threads, refs, key, default=None):
    """Times ``run_scenario(scenario)`` on ``threads`` threads (3 rounds),
    checks that its JSON is the one of the first thread count timed for
    ``key`` in ``refs`` (a dict kept by the calling module: the same results
    for any thread count), and returns ``(result dict, extra_info)`` with
    ``threads``, ``cpu_s`` and, against the 1-thread median of the session,
    ``speedup`` and ``efficiency`` (empty without stats: --benchmark-disable)."""
    out = {}

    def run():
        with forced_threads(threads):
            c = time.process_time()
            out["json"] = json.dumps(run_scenario(scenario).to_dict(), sort_keys=True,
                                     default=default)
            out["cpu"] = time.process_time() - c

    benchmark.pedantic(run, rounds=3, iterations=1)
    ref = refs.setdefault(key, {"json": out["json"]})
    assert out["json"] == ref["json"]          # same results for any thread count
    info = {}
    if benchmark.enabled:
        t = benchmark.stats.stats.median
        if threads == 1:
            ref["t"] = t
        info = {"threads": threads, "seconds": t, "cpu_s": out["cpu"]}
        if "t" in ref:
            info.update(speedup=ref["t"] / t, efficiency=ref["t"] / t / threads)
    return json.loads(out["json"]), info
