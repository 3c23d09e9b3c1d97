"""The extracted output passes NIST SP 800-22 (the ``nistrng`` package); the
raw output of a biased device does not.

Sample: 50000 extracted bits per device (CI-sized; SP 800-22 recommends
1e6-bit sequences, at which the tests are proportionally more sensitive).
Each test runs on its own copy of the bits (nistrng's ``run_all_battery``
hands one array to every test and some tests change it in place), at its
significance level of 0.01, with a fixed seed.  The random excursion tests
are left out when the walk has fewer than J = 500 cycles, where SP 800-22
(2.14.4) says they do not apply; nistrng does not check that."""
import os

import numpy as np
import pytest
from nistrng import SP800_22R1A_BATTERY

import qchannel
from qchannel.qrng.devices import simulate_block
from qchannel.qrng.generator import generate

EXCURSIONS = ("random_excursion", "random_excursion_variant")
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "examples")


def cycles(bits):
    walk = np.cumsum(2 * bits.astype(np.int64) - 1)
    return int(np.count_nonzero(walk == 0)) + 1


def battery(bits, names=None):
    """{test: passed} for every test (of ``names``) that applies to ``bits``
    (int64: nistrng's cumulative sums overflow in int8)."""
    b = bits.astype(np.int64)
    out = {}
    for name, test in SP800_22R1A_BATTERY.items():
        if names is not None and name not in names:
            continue
        if name in EXCURSIONS and cycles(b) < 500:
            continue
        if test.is_eligible(b.copy()):
            out[name] = bool(test.run(b.copy())[0].passed)
    return out


@pytest.mark.parametrize("example", ["qrng_beam_splitter.toml", "qrng_arrival_time.toml"])
def test_extracted_output_passes_sp800_22(example):
    sc = qchannel.load_scenario(os.path.join(EXAMPLES, example)).replace(
        **{"qrng.assess_bits": 60_000, "qrng.block_bits": 60_000})
    d = generate(sc.config, 21, 50_000, keep=True)
    res = battery(d["bits"])
    assert len(res) >= 10, res            # monobit ... cumulative sums at this length
    assert all(res.values()), res


def test_raw_output_of_a_biased_device_fails_sp800_22():
    sc = qchannel.load_scenario(os.path.join(EXAMPLES, "qrng_beam_splitter.toml")).replace(
        **{"qrng.split_ratio": 0.55, "qrng.assess_bits": 60_000, "qrng.block_bits": 60_000})
    raw = simulate_block(sc.config, 21, 0, 50_000).bits
    res = battery(raw, ("monobit", "frequency_within_block", "runs", "cumulative sums"))
    # (the runs test does not apply to a sequence that fails the frequency prerequisite)
    assert len(res) >= 3 and not any(res.values()), res
