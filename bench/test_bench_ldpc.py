"""LDPC reconciliation throughput: Mbit/s at QBER 2 % and 5 % (one 100 000-bit
frame per call, code family cached), efficiency f and decoder ns per
edge-iteration beside.  Times are CPU times (time.process_time): the bench
machines are shared."""
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
    warm = L.reconcile_ldpc(a, b, qber, seed=0)        # build and cache the codes
    for r in set(warm.mother_rates):
        L.get_code(warm.code_length, [f[0] for f in L.code_family()].index(r))
    out = {}

    def run():
        t = time.process_time()
        out["res"] = L.reconcile_ldpc(a, b, qber, seed=7)
        out["cpu"] = time.process_time() - t

    benchmark.pedantic(run, rounds=3, iterations=1)
    res = out["res"]
    assert res.frames_failed == 0 and np.array_equal(res.bob_corrected, a)
    idx = [f[0] for f in L.code_family()].index(res.mother_rates[0])
    edges = L.get_code(res.code_length, idx).edges
    benchmark.extra_info.update(
        qber=qber,
        efficiency=round(res.efficiency, 4),
        rounds=res.rounds,
        iterations=res.iterations,
        frame_error_rate=res.frame_error_rate,
        first_attempt_failures=res.first_attempt_failures,
        mbit_per_s_cpu=round(N / out["cpu"] / 1e6, 4),
        decoder_mbit_per_s_cpu=round(N / res.decode_seconds / 1e6, 4),
        ns_per_edge_iteration=round(res.decode_seconds / (res.iterations * edges) * 1e9, 3),
    )
    if benchmark.enabled:  # --benchmark-disable (CI fast mode) keeps no stats
        benchmark.extra_info["mbit_per_s_wall"] = round(N / benchmark.stats.stats.median / 1e6, 4)
