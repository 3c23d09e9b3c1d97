"""Actively odd-parity pairing (tf-qkd variant sns-aopp) throughput: sifted
Z-window bits paired per second (two Philox permutations, parity and kept
bits in NumPy), one core.

Run: ``pytest bench/test_bench_tf_aopp.py --benchmark-only``; the rate goes
to ``extra_info``."""
from types import SimpleNamespace

import numpy as np

from qchannel import rng
from qchannel.jobs.twin_field import aopp_pairing

N_BITS = 2 * 10**6


def test_aopp_pairing_rate(benchmark):
    # bits as SNS gives them: Bob's values balanced, a quarter of Alice's wrong
    bob = rng.bits(1, rng.Purpose.TWIN_FIELD, 7, N_BITS)
    flip = (rng.uniform(1, rng.Purpose.TWIN_FIELD, 8, N_BITS) < 0.25).astype(np.uint8)
    alice = bob ^ flip
    c = SimpleNamespace(seed=3)

    def run():
        return aopp_pairing(c, alice, bob)[2]["survived"]

    kept = benchmark.pedantic(run, rounds=3, iterations=1)
    if benchmark.enabled:
        benchmark.extra_info.update(bits=N_BITS, bits_per_s=N_BITS / benchmark.stats.stats.median)
    assert 0.5 * N_BITS * 0.5 < kept < 0.5 * N_BITS
