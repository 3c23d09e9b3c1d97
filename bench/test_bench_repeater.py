"""Repeater-chain kernel throughput: realisations per second.

Run: ``pytest bench/test_bench_repeater.py --benchmark-only``.  The rate is
stored in ``extra_info["realisations_per_s"]``.  Goal: >= 1e6 realisations/s
for a 4-segment chain at p = 0.1 on one core (attempts are drawn as geometric
gaps, so the cost grows with successes and restarts, not with attempts).
"""
import pytest

from qchannel.protocols.repeater import RepeaterConfig, simulate_chain

N = 200_000


@pytest.mark.parametrize("segments", [4, 8])
@pytest.mark.parametrize("physics", ["ideal", "noisy"])
def test_bench_chain(benchmark, segments, physics):
    d = {"segments": segments, "success_prob": 0.1, "attempt_time_s": 1e-4,
         "realisations": N, "seed": 1}
    if physics == "noisy":
        d.update(swap_prob=0.9, memory_t2_s=0.1, cutoff_s=2e-3, initial_fidelity=0.98,
                 decoherence="dephasing")
    cfg = RepeaterConfig.from_dict(d)
    smp = benchmark.pedantic(simulate_chain, args=(cfg,), rounds=3, iterations=1)
    assert smp.wait_slots.size == N
    benchmark.extra_info["mean_waiting_slots"] = float(smp.wait_slots.mean())
    if benchmark.enabled:          # --benchmark-disable (CI fast mode) keeps no stats
        rate = N / benchmark.stats.stats.median
        benchmark.extra_info["realisations_per_s"] = rate
        print(f"\n{segments} segments ({physics}): {rate:.3g} realisations/s")
