"""QRNG throughput: raw bits/s simulated per device (beam splitter,
arrival time), SP 800-90B assessment of 1e6 bits (Mbit/s assessed), and the
whole pipeline (simulate, health tests, Toeplitz) in extracted Mbit/s of
wall time.  Rates use the median wall time; on a shared machine compare
only runs made under the same load."""
import os

import pytest

import qchannel
from qchannel.qrng import entropy as E
from qchannel.qrng.devices import simulate_block
from qchannel.qrng.generator import generate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = {"beam-splitter": "qrng_beam_splitter.toml", "arrival-time": "qrng_arrival_time.toml"}
RAW = 1 << 20


def _device(kind):
    return qchannel.load_scenario(os.path.join(ROOT, "examples", EXAMPLES[kind])).config


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_bench_qrng_raw(benchmark, kind):
    dev = _device(kind)
    out = {}

    def run():
        out["blk"] = simulate_block(dev, 1, 0, RAW)

    benchmark.pedantic(run, rounds=3, iterations=1)
    assert out["blk"].bits.shape[0] == RAW
    if benchmark.enabled:
        benchmark.extra_info["raw_mbit_per_s"] = round(RAW / benchmark.stats.stats.median / 1e6, 2)


def test_bench_qrng_assess_1e6(benchmark):
    bits = simulate_block(_device("beam-splitter"), 1, 0, 10**6).bits
    out = {}

    def run():
        out["h"] = E.assess(bits)["h_min"]

    benchmark.pedantic(run, rounds=3, iterations=1)
    assert 0.0 < out["h"] <= 1.0
    if benchmark.enabled:
        benchmark.extra_info["assessed_mbit_per_s"] = round(1.0 / benchmark.stats.stats.median, 3)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_bench_qrng_extracted(benchmark, kind):
    """Blocks after the first (the assessment) dominate long runs: 4 blocks of 2^20."""
    dev = _device(kind)
    n_out = 4 * RAW // 2
    out = {}

    def run():
        out["d"] = generate(dev, 1, n_out)

    benchmark.pedantic(run, rounds=1 if not benchmark.enabled else 3, iterations=1)
    assert out["d"]["output_bits"] == n_out
    benchmark.extra_info["device_output_mbit_per_s"] = round(out["d"]["output_rate_bps"] / 1e6, 3)
    if benchmark.enabled:
        benchmark.extra_info["extracted_mbit_per_s"] = round(
            n_out / benchmark.stats.stats.median / 1e6, 2)
