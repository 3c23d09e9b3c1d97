"""Sweep overhead per point: what the sweep machinery adds on top of the work.

Run: ``pytest bench/test_bench_sweep.py --benchmark-only`` (see bench/README.md
for baselines and comparisons).  Stored in ``extra_info``: ``points_per_s``,
``overhead_per_point_s`` (sweep time minus the same work done in a plain loop,
per point) and, for the persisted variant, the cost of the per-point part file.
Serial executor: measures the driver, not process start-up or IPC.
"""
import itertools
import time

import pytest

pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from qchannel import theory  # noqa: E402
from qchannel.scenario import load_scenario  # noqa: E402
from qchannel.runner import simulate  # noqa: E402
from qchannel.sweep import sweep  # noqa: E402

BASE = load_scenario(None)
THEORY_GRID = {"channel.length_km": [float(x) for x in range(0, 200, 2)],
               "detector.efficiency": [0.1, 0.2]}           # 200 points
MC_GRID = {"channel.length_km": [float(x) for x in range(150, 210, 3)]}  # 20 points
MC_PULSES = 10**6


def _plain_loop(grid, fn, rounds=3):
    """Best time of the same work in a plain loop (scenario.replace + fn)."""
    keys = list(grid)
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for combo in itertools.product(*grid.values()):
            fn(BASE.replace(**dict(zip(keys, combo))))
        best = min(best, time.perf_counter() - t)
    return best


def _record(benchmark, n, plain_s):
    if not benchmark.enabled:  # --benchmark-disable: no stats
        return
    best = benchmark.stats.stats.min
    benchmark.extra_info["points"] = n
    benchmark.extra_info["points_per_s"] = n / best
    benchmark.extra_info["overhead_per_point_s"] = (best - plain_s) / n
    print(f"\n{n / best:.4g} points/s, overhead {(best - plain_s) / n * 1e3:.3f} ms/point")


def test_bench_sweep_theory(benchmark):
    df = benchmark.pedantic(sweep, args=(BASE, THEORY_GRID),
                            kwargs={"theory": True, "executor": "serial", "progress": False},
                            rounds=3, iterations=1)
    assert len(df) == 200
    _record(benchmark, 200, _plain_loop(THEORY_GRID, theory.expect))


def test_bench_sweep_theory_persisted(benchmark, tmp_path):
    counter = itertools.count()

    def setup():
        out = str(tmp_path / f"r{next(counter)}.parquet")
        return (BASE, THEORY_GRID), {"theory": True, "executor": "serial", "out": out,
                                     "progress": False}

    df = benchmark.pedantic(sweep, setup=setup, rounds=3, iterations=1)
    assert len(df) == 200
    _record(benchmark, 200, _plain_loop(THEORY_GRID, theory.expect))


def test_bench_sweep_tiny_mc(benchmark):
    df = benchmark.pedantic(sweep, args=(BASE, MC_GRID),
                            kwargs={"pulses": MC_PULSES, "seed": 1, "executor": "serial",
                                    "progress": False},
                            rounds=3, iterations=1)
    assert len(df) == 20
    _record(benchmark, 20, _plain_loop(MC_GRID, lambda sc: simulate(sc, seed=1,
                                                                      pulses=MC_PULSES)))
