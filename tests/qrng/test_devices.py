"""QRNG device models: simulated clicks against their closed forms, the
model's min-entropy, reproducibility, and devices that must be caught.

Statistical checks use fixed seeds; tolerances are stated in standard
deviations of the quantity compared."""
import math

import numpy as np
import pytest

from qchannel.qrng import entropy as E
from qchannel.qrng.devices import QRNGDevice, model_min_entropy, simulate_block, theory

N = 400_000


def device(qrng, detector=None):
    return QRNGDevice.from_tables({"assess_bits": 100_000, "block_bits": N, **qrng},
                                  detector or {"afterpulse_prob": 0.0, "dead_time_ns": 0.0})


@pytest.mark.parametrize("qrng", [
    {"type": "beam-splitter", "split_ratio": 0.55, "efficiency_ratio": 0.9,
     "mean_photon_number": 0.3},
    {"type": "beam-splitter", "source": "single-photon", "split_ratio": 0.4,
     "double_click": "zero", "pulse_rate_hz": 1e7},
], ids=["coherent-mismatch", "single-photon-zero-rule"])
def test_beam_splitter_matches_closed_form(qrng):
    dev = device(qrng, {"afterpulse_prob": 0.0, "dead_time_ns": 0.0, "dark_count_prob": 1e-3})
    th = theory(dev)
    blk = simulate_block(dev, 3, 0, N)
    n = blk.bits.shape[0]
    assert n == N
    slots = blk.time_s * dev.pulse_rate_hz
    p = th["bits_per_pulse"]
    assert abs(n / slots - p) < 4 * math.sqrt(p * (1 - p) / slots)          # 4 sigma
    p0 = th["p_zero"]
    assert abs(np.mean(blk.bits == 0) - p0) < 4 * math.sqrt(p0 * (1 - p0) / n)
    # the model's mean guessing probability: per-bit guesses are 1 or g
    pg = blk.p_guess_sum / n
    f = (th["p_guess"] - blk.g_quantum) / (1 - blk.g_quantum)    # expected known fraction
    assert abs(pg - th["p_guess"]) < 4 * (1 - blk.g_quantum) * math.sqrt(f * (1 - f) / n)


def test_arrival_time_rate_with_dead_time_and_uniform_bins_without():
    # non-paralysable dead time: clicks = lam / (1 + lam tau)
    dev = device({"type": "arrival-time", "photon_rate_hz": 4e8, "time_bins": 16,
                  "bin_width_ps": 100.0},
                 {"efficiency": 0.5, "dead_time_ns": 20.0, "afterpulse_prob": 0.0,
                  "dark_count_prob": 1e-6})
    th = theory(dev)
    blk = simulate_block(dev, 4, 0, N)
    rate = blk.samples / blk.time_s
    # renewal process: relative sd of the count ~ CV / sqrt(n), CV = 1 / (1 + lam tau) < 1
    assert abs(rate / th["clicks_per_s"] - 1) < 4 / math.sqrt(blk.samples)
    # without dead time a stationary Poisson stream read by a free-running
    # clock is uniform over the bins, even at a high rate (lam = 0.1 per bin)
    dev = device({"type": "arrival-time", "photon_rate_hz": 2e9, "time_bins": 16,
                  "bin_width_ps": 100.0}, {"efficiency": 0.5, "dead_time_ns": 0.0,
                                           "afterpulse_prob": 0.0})
    blk = simulate_block(dev, 5, 0, N)
    sym = blk.bits.reshape(-1, 4) @ np.array([8, 4, 2, 1])
    counts = np.bincount(sym, minlength=16)
    expected = sym.shape[0] / 16
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 15 + 4 * math.sqrt(2 * 15)          # chi^2(15): mean 15, sd sqrt(30)


def test_arrival_time_model_entropy_matches_closed_form():
    dev = device({"type": "arrival-time", "photon_rate_hz": 2e8, "time_bins": 8,
                  "bin_width_ps": 1000.0}, {"efficiency": 0.5, "dead_time_ns": 0.0,
                                            "afterpulse_prob": 0.0, "dark_count_prob": 1e-3})
    th = theory(dev)
    blk = simulate_block(dev, 6, 0, N)
    pg = blk.p_guess_sum / blk.samples
    g = blk.g_quantum
    f = (th["p_guess_per_sample"] - g) / (1 - g)          # dark fraction
    assert abs(pg - th["p_guess_per_sample"]) < 4 * (1 - g) * math.sqrt(f * (1 - f) / blk.samples)


def test_same_seed_same_bits_other_seed_other_bits():
    dev = device({"type": "beam-splitter"}, {"afterpulse_prob": 0.05, "dead_time_ns": 30.0})
    a = simulate_block(dev, 9, 0, 50_000)
    b = simulate_block(dev, 9, 0, 50_000)
    c = simulate_block(dev, 10, 0, 50_000)
    d = simulate_block(dev, 9, 1, 50_000)
    assert np.array_equal(a.bits, b.bits) and a.counts == b.counts
    assert not np.array_equal(a.bits, c.bits)
    assert not np.array_equal(a.bits, d.bits)


def test_biased_split_is_assessed_at_most_its_bias():
    dev = device({"type": "beam-splitter", "split_ratio": 0.55})
    blk = simulate_block(dev, 11, 0, N)
    h_model, _ = model_min_entropy(blk, 1)
    assert h_model <= -math.log2(0.55)
    assert E.assess(blk.bits)["h_min"] <= -math.log2(0.55)


def test_afterpulsing_device_is_assessed_lower_and_fails_the_clean_devices_health_tests():
    clean = device({"type": "beam-splitter", "mean_photon_number": 0.5},
                   {"afterpulse_prob": 0.0, "dead_time_ns": 0.0})
    # afterpulses one gate later repeat the bit
    dirty = device({"type": "beam-splitter", "mean_photon_number": 0.5},
                   {"afterpulse_prob": 0.4, "afterpulse_decay_ns": 5.0, "dead_time_ns": 0.0})
    b_clean = simulate_block(clean, 12, 0, N)
    b_dirty = simulate_block(dirty, 12, 0, N)
    h_clean = E.assess(b_clean.bits)["h_min"]
    h_dirty = E.assess(b_dirty.bits)["h_min"]
    assert h_dirty < h_clean - 0.1
    assert model_min_entropy(b_dirty, 1)[0] < model_min_entropy(b_clean, 1)[0] - 0.1
    assert E.health_tests(b_clean.bits, h_clean)["failures"] == 0
    assert E.health_tests(b_dirty.bits, h_clean)["failures"] > 0


@pytest.mark.parametrize("qrng, detector, match", [
    ({"split_ratio": 1.5}, {}, "qrng.split_ratio"),
    ({"type": "homodyne"}, {}, "qrng.type"),
    ({"type": "arrival-time", "time_bins": 12}, {}, "qrng.time_bins"),
    ({"efficiency_ratio": 3.0}, {"efficiency": 0.5}, "qrng.efficiency_ratio"),
    ({"assess_bits": 200_000, "block_bits": 100_000}, {}, "qrng.assess_bits"),
    ({"colour": "red"}, {}, "colour"),
    ({}, {"basis_choice": "passive"}, "detector.basis_choice"),
    ({}, {"efficiency": 0.0}, "detector.efficiency"),
    ({"eps": 0.0}, {}, "qrng.eps"),
    ({"type": "arrival-time", "photon_rate_hz": 1e12, "bin_width_ps": 1e9}, {},
     "qrng.photon_rate_hz"),
    ({"type": "arrival-time", "bin_width_ps": 0.1}, {"dead_time_ns": 1e9},
     "detector.dead_time_ns"),
    ({"mean_photon_number": 1e-9}, {"efficiency": 1e-6, "dark_count_prob": 0.0},
     "qrng.mean_photon_number"),
])
def test_bad_device_parameters_name_the_key(qrng, detector, match):
    with pytest.raises(ValueError, match=match.replace(".", r"\.")):
        QRNGDevice.from_tables(qrng, detector)
