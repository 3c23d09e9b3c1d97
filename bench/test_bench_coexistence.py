"""Coexistence noise model: how long one channel plan takes (Raman and
leakage per channel, four-wave mixing over all co-propagating triples),
for a full 40-channel C-band DWDM grid at 100 GHz next to a quantum
channel in the grid, and for two channels (the examples).  Rates in
plans per second; the run's transport cost does not change (the noise is one
more per-gate probability)."""
import pytest

from qchannel import coexistence as cx

C = 299792458.0


def _grid(n):
    f0 = C / 1547.72e-9
    return [cx.ClassicalChannel(C / (f0 - (k + 1) * 100e9) * 1e9, 0.0,
                                "co" if k % 2 == 0 else "counter") for k in range(n)]


@pytest.mark.parametrize("n_channels", [2, 40])
def test_bench_noise_plan(benchmark, n_channels):
    chans = _grid(n_channels)
    out = benchmark(cx.noise_photons_per_gate, 25.0, 1547.72, 0.19, chans)
    assert out["noise_photons_per_gate"] > 0
    if benchmark.enabled:          # --benchmark-disable keeps no stats
        benchmark.extra_info["plans_per_s"] = 1.0 / benchmark.stats.stats.median
        benchmark.extra_info["fwm_products_in_band"] = len(out["fwm"])
