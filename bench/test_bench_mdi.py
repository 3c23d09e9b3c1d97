"""Two-sender kernels (qchannel._core.mdi) throughput: detections (slots with
a click) per second and pulse pairs per second, one core; and whole mdi-qkd
/ tf-qkd runs on 1, 2 and all threads.

Run: ``pytest bench/test_bench_mdi.py --benchmark-only``; rates go to
``extra_info``.  The cost is per slot with a click (event-driven), so the
pulse rate grows with the loss while the detection rate stays flat."""
from pathlib import Path

import numpy as np
import pytest

from qchannel import jobs
from qchannel._core import mdi
from qchannel.links.base import available_cores
from thread_runs import time_run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

MU = np.array([0.4, 0.4, 0.1, 0.1, 0.0, 0.0])
PROB = np.array([0.25, 0.25, 0.15, 0.15, 0.1, 0.1])
BASIS = np.array([0, 1, 0, 1, 0, 1], np.uint8)
TF_MU = np.array([0.4, 0.0, 0.0, 0.1, 0.4])
TF_PROB = np.array([0.035, 0.665, 0.06, 0.15, 0.09])
# (total fiber km at 0.2 dB/km, pulses per run)
CAP = 4 * 10**6            # output buffer: more than the detections of any case
CASES = {20.0: 4 * 10**6, 100.0: 4 * 10**7, 200.0: 10**9}


def _eta(length_km):
    return 0.6 * 10 ** (-0.2 * length_km / 2 / 10)


def _record(benchmark, pulses, events):
    if benchmark.enabled:          # --benchmark-disable (CI fast mode) keeps no stats
        t = benchmark.stats.stats.median
        benchmark.extra_info.update(pulses=pulses, detections=events,
                                    detections_per_s=events / t, pulses_per_s=pulses / t)


@pytest.mark.parametrize("length_km", sorted(CASES))
def test_mdi_kernel_rate(benchmark, length_km):
    pulses, eta = CASES[length_km], _eta(length_km)

    def run():
        done, slot, data, noclick = mdi.mdi_block(1, 0, pulses, MU, PROB, BASIS, MU, PROB,
                                                  BASIS, eta, eta, 1e-7, 0.98, 0.1, CAP)
        return len(slot)

    events = benchmark.pedantic(run, rounds=3, iterations=1)
    _record(benchmark, pulses, events)
    assert events > 0


@pytest.mark.parametrize("length_km", sorted(CASES))
def test_tf_kernel_rate(benchmark, length_km):
    pulses, eta = CASES[length_km], _eta(length_km)

    def run():
        done, slot, data, phase, noclick = mdi.tf_block(
            1, 0, 0, pulses, TF_MU, TF_PROB, TF_MU, TF_PROB, eta, eta, 1e-7, 0.98, 1e-9,
            10**5, 0.01, np.zeros(1), np.full(1, -1, np.int64), CAP)
        return len(slot)

    events = benchmark.pedantic(run, rounds=3, iterations=1)
    _record(benchmark, pulses, events)
    assert events > 0


# Whole mdi-qkd / tf-qkd runs on 1, 2 and all threads (qchannel.links.base.
# ThreadedBackend): MDI blocks have no sequential part and are drawn on every
# thread; TF blocks carry the phase walk, so only the counting of one chunk
# runs beside the kernel's next.  Speed-up against the 1-thread median of the
# same session; the JSON must be the same for every thread count.
RELAY_RUNS = {"mdi_yin2016.toml": 2 * 10**11, "tf_sns_300km.toml": 2 * 10**10}
_relay_one = {}


@pytest.mark.parametrize("example", sorted(RELAY_RUNS))
@pytest.mark.parametrize("threads", sorted({1, 2, available_cores()}))
def test_relay_run_threads(benchmark, example, threads):
    pulses = RELAY_RUNS[example]
    if not benchmark.enabled:          # CI fast mode: a short run, same checks
        pulses //= 1000
    sc = jobs.load(str(EXAMPLES / example)).replace(**{"run.pulses": pulses})
    _, info = time_run(benchmark, sc, threads, _relay_one, (example, pulses))
    if info:
        benchmark.extra_info.update(info, pulses=pulses, pulses_per_s=pulses / info["seconds"])
