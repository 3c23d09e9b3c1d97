"""LDPC reconciliation throughput: decoded Mbit/s at QBER 2 % and 5 % (one
100 000-bit frame per call, code family cached), efficiency f beside."""
import time

import numpy as np
import pytest

from qchannel.postprocess import ldpc as L

N = 100_000


def _pair(q, seed):
    r = np.random.default_rng(seed)
    a = r.integers(0, 2, N).astype(np.uint8)
    e = np.zeros(N, np.uint8)
    e[r.choice(N, int(round(q * N)), replace=False)] = 1
    return a, a ^ e


@pytest.mark.parametrize("qber", [0.02, 0.05])
def test_bench_ldpc_reconcile(benchmark, qber):
    a, b = _pair(qber, 1)
    L.reconcile_ldpc(a, b, qber, seed=0)           # build and cache the codes
    out = {}

    def run():
        t = time.perf_counter()
        out["res"] = L.reconcile_ldpc(a, b, qber, seed=7)
        out["t"] = time.perf_counter() - t

    benchmark.pedantic(run, rounds=3, iterations=1)
    res = out["res"]
    assert res.frames_failed == 0
    benchmark.extra_info.update(
        qber=qber,
        efficiency=round(res.efficiency, 4),
        rounds=res.rounds,
        iterations=res.iterations,
        decoder_mbit_per_s=round(N / res.decode_seconds / 1e6, 4),
    )
    if benchmark.enabled:  # --benchmark-disable (CI fast mode) keeps no stats
        benchmark.extra_info["mbit_per_s"] = round(N / benchmark.stats.stats.median / 1e6, 4)
