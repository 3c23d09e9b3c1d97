"""A full 5-minute satellite pass at 100 MHz (3e10 pulses), end to end:
pass geometry, fading series, event-driven transport, finite key."""
from qchannel.runner import simulate
from qchannel.scenario import Scenario


def _pass():
    d = Scenario().to_dict()
    d["source"].update(rep_rate_hz=1e8, intensities=[0.8, 0.1, 0.0], intensity_probs=[0.5, 0.25, 0.25],
                       key_basis_prob=0.5)
    d["channel"] = dict(type="satellite-downlink", wavelength_nm=848.6, tx_aperture_m=0.3,
                        divergence_half_angle_urad=5.0, rx_aperture_m=1.0, altitude_km=500.0,
                        max_elevation_deg=60.0, pass_duration_s=300.0, min_elevation_deg=10.0,
                        zenith_transmittance=0.6, rx_efficiency=0.3, time_bin_s=0.01)
    d["detector"].update(efficiency=0.5, dark_count_prob=1e-7, afterpulse_prob=0.0)
    d["run"] = dict(seed=1, report_bin_s=1.0)
    return Scenario.from_dict(d)


def test_five_minute_pass(benchmark):
    sc = _pass()
    result = benchmark.pedantic(simulate, args=(sc,), rounds=3, iterations=1)
    d = result.to_dict()
    if benchmark.enabled:   # --benchmark-disable (CI fast mode) keeps no stats
        t = benchmark.stats.stats.median
        benchmark.extra_info.update(pulses=d["pulses"], seconds=t, pulses_per_s=d["pulses"] / t,
                                    detections=d["detections"])
    assert d["pulses"] >= 2.9e10 and d["bins"]
