"""Post-processing throughput: Cascade corrected Mbit/s at QBER 1, 3.3 and 5 %
(efficiency f beside), Toeplitz privacy amplification Mbit/s at 10^6, 10^7
and 10^8 input bits (output n/2).  Rates use the median wall time; on a shared
machine compare only runs made under the same load."""
import time

import numpy as np
import pytest

from qchannel.postprocess import privacy_amplify, reconcile

CASCADE_BITS = 1 << 21


def _pair(n, q, seed):
    r = np.random.default_rng(seed)
    a = np.unpackbits(r.integers(0, 256, n // 8, dtype=np.uint8))
    return a, a ^ (r.random(n) < q).astype(np.uint8)


@pytest.mark.parametrize("schedule", ["option7", "original"])
@pytest.mark.parametrize("qber", [0.01, 0.033, 0.05])
def test_bench_cascade(benchmark, qber, schedule):
    a, b = _pair(CASCADE_BITS, qber, 1)
    out = {}

    def run():
        out["res"] = reconcile(a, b, qber, seed=7, schedule=schedule)

    benchmark.pedantic(run, rounds=3, iterations=1)
    res = out["res"]
    assert res.frames_failed == 0 and np.array_equal(res.bob_corrected, a)
    benchmark.extra_info.update(qber=qber, schedule=schedule, efficiency=round(res.efficiency, 4),
                                rounds=res.rounds, frame_bits=res.frame_bits)
    if benchmark.enabled:
        benchmark.extra_info["mbit_per_s"] = round(CASCADE_BITS / benchmark.stats.stats.median / 1e6, 2)


@pytest.mark.parametrize("n", [10**6, 10**7, 10**8])
def test_bench_privacy_amplification(benchmark, n):
    key = _pair(n, 0.0, 2)[0]
    out = {}

    def run():
        t = time.process_time()
        out["k"] = privacy_amplify(key, n // 2, seed=5)
        out["cpu"] = time.process_time() - t

    benchmark.pedantic(run, rounds=3, iterations=1)
    assert out["k"].shape == (n // 2,)
    benchmark.extra_info.update(input_bits=n, output_bits=n // 2,
                                cpu_mbit_per_s=round(n / out["cpu"] / 1e6, 2))
    if benchmark.enabled:
        benchmark.extra_info["mbit_per_s"] = round(n / benchmark.stats.stats.median / 1e6, 2)
