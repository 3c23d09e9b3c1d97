"""The Monte Carlo against the closed forms of qchannel.theory, and the finite
key against the PLOB bound."""
import numpy as np
import pytest

from qchannel import theory
from qchannel.scenario import Scenario
from qchannel.runner import simulate

DETECTORS = {
    "no noise": dict(dark_count_prob=0.0, afterpulse_prob=0.0),
    "dark counts": dict(dark_count_prob=1e-5, afterpulse_prob=0.0),
    "dark counts and afterpulses": dict(dark_count_prob=1e-5, afterpulse_prob=0.05),
    "passive, dark counts and afterpulses": dict(dark_count_prob=1e-5, afterpulse_prob=0.05,
                                                 basis_choice="passive"),
}
LOSSES_DB = [0, 10, 20, 30, 40, 50, 60]


def _scenario(loss_db, detector):
    base = Scenario()
    d = base.to_dict()
    d["channel"].update(length_km=0.0, extra_loss_db=float(loss_db), misalignment=0.02)
    d["detector"].update(efficiency=0.5, dead_time_ns=0.0, **detector)
    d["source"].update(intensities=[0.5, 0.1, 0.002], intensity_probs=[0.6, 0.2, 0.2],
                       key_basis_prob=0.6)
    return Scenario.from_dict(d)


@pytest.mark.parametrize("name", list(DETECTORS))
def test_monte_carlo_matches_theory_over_losses(name):
    # Every comparison gives a deviate z ~ N(0, 1): each must be within 4
    # sigma.  Pooled over the independent points (fixed seeds): the detections
    # summed over all points and classes minus their expectation, and the
    # same for the errors, over their summed binomial sigma (4 sigma each:
    # catches a common bias too small for any single point), and the sum of
    # all z^2 is chi^2 (mean k, sd sqrt(2k)): within 4 sigma.
    zs = []
    pooled = {"detections": [0.0, 0.0], "errors": [0.0, 0.0]}     # [obs - exp, variance]
    for i, loss in enumerate(LOSSES_DB):
        sc = _scenario(loss, DETECTORS[name])
        expected = theory.expect(sc)
        gain_max = max(row["gain"] for row in expected["intensities"])
        # Enough pulses for ~2e5 detections, at most 3e10 (event-driven, so cheap).
        pulses = int(min(3e10, max(1e6, 2e5 / gain_max)))
        got = simulate(sc, seed=100 + i, pulses=pulses).to_dict()
        for mc, th in zip(got["intensities"], expected["intensities"]):
            g = th["gain"]
            z = (mc["gain"] - g) / np.sqrt(g * (1 - g) / mc["sent"])
            zs.append(z)
            pooled["detections"][0] += (mc["gain"] - g) * mc["sent"]
            pooled["detections"][1] += g * (1 - g) * mc["sent"]
            assert abs(z) < 4, f"{name}, {loss} dB, mu={th['mu']}: gain {mc['gain']:.6g} vs {g:.6g} ({z:.1f} sigma)"
            for basis in ("x", "z"):
                n = mc[f"detections_{basis}"]
                e = th[f"qber_{basis}"]
                if n < 200 or e is None:
                    continue
                sigma = np.sqrt(max(e * (1 - e), 1.0 / n) / n)
                z = (mc[f"qber_{basis}"] - e) / sigma
                zs.append(z)
                pooled["errors"][0] += (mc[f"qber_{basis}"] - e) * n
                pooled["errors"][1] += sigma ** 2 * n ** 2
                assert abs(z) < 4, (f"{name}, {loss} dB, mu={th['mu']}: QBER {basis} "
                               f"{mc[f'qber_{basis}']:.5f} vs {e:.5f} ({z:.1f} sigma)")
    for what, (dev, var) in pooled.items():
        assert abs(dev) < 4 * np.sqrt(var), f"{name}: pooled {what} off by {dev / np.sqrt(var):.1f} sigma"
    k = len(zs)
    assert k >= 5 * len(LOSSES_DB)          # every gain, most QBERs (>= 200 detections)
    chi2 = float(np.sum(np.square(zs)))
    assert abs(chi2 - k) < 4 * np.sqrt(2 * k), f"{name}: chi^2 = {chi2:.1f} for {k} deviates"


@pytest.mark.parametrize("length_km", [0.0, 25.0, 50.0, 100.0])
def test_finite_key_rate_stays_below_plob(length_km):
    sc = Scenario().replace(**{"channel.length_km": length_km})
    r = simulate(sc, pulses=1e9, seed=3).to_dict()
    plob = theory.plob_bound(sc.channel.transmittance())
    assert r["key_rate_per_pulse"] <= plob
    # ... and below the asymptotic (infinite-decoy) rate of the same link.
    assert r["key_rate_per_pulse"] <= theory.expect(sc)["key_rate_per_pulse"]


def test_default_scenario_gives_a_positive_key_at_50_km():
    r = simulate(Scenario(), pulses=1e10).to_dict()
    assert not r["aborted"] and r["secret_key_bits"] > 0
    assert sum(row["sent"] for row in r["intensities"]) == r["pulses"] == 10**10
    # The finite key cannot beat the asymptotic rate of the same link.
    assert r["key_rate_per_pulse"] < theory.expect(Scenario())["key_rate_per_pulse"]


def test_long_distance_aborts_with_a_reason():
    r = simulate(Scenario().replace(**{"channel.length_km": 300.0}), pulses=1e9).to_dict()
    assert r["aborted"] and r["secret_key_bits"] == 0 and r["abort_reason"]


def test_same_seed_same_report_different_seed_different():
    sc = Scenario().replace(**{"channel.length_km": 80.0})
    a = simulate(sc, seed=9, pulses=3e8).to_dict()
    assert a == simulate(sc, seed=9, pulses=3e8).to_dict()
    assert a["detections"] != simulate(sc, seed=10, pulses=3e8).to_dict()["detections"]


# ---------------------------------------------------------------- passes
def _pass_scenario(fading="none"):
    d = Scenario().to_dict()
    d["source"].update(rep_rate_hz=1e7, intensities=[0.6, 0.1, 0.0], intensity_probs=[0.7, 0.2, 0.1],
                       key_basis_prob=0.5)
    d["channel"] = dict(type="satellite-downlink", wavelength_nm=850.0, tx_aperture_m=0.3,
                        rx_aperture_m=1.0, altitude_km=500.0, max_elevation_deg=60.0,
                        min_elevation_deg=20.0, zenith_transmittance=0.7, rx_efficiency=0.5,
                        time_bin_s=0.5, fading_model=fading, misalignment=0.01)
    d["detector"].update(efficiency=0.6, dark_count_prob=1e-6, afterpulse_prob=0.0)
    d["run"] = dict(seed=5, report_bin_s=10.0)
    return Scenario.from_dict(d)


def test_satellite_pass_bins_follow_theory():
    sc = _pass_scenario()
    r = simulate(sc).to_dict()
    bins = r["bins"]
    assert len(bins) >= 10
    assert sum(b["pulses"] for b in bins) == r["pulses"]
    assert sum(b["detections"] for b in bins) == r["detections"]
    # Loss is lowest at the highest elevation.
    best = min(bins, key=lambda b: b["loss_db"])
    assert best["elevation_deg"] == max(b["elevation_deg"] for b in bins)
    # Without fading each bin's gain is the closed form at the bin's loss
    # (averaged over its 0.5 s sub-bins): within 4 sigma.
    from qchannel.runner import build_link

    series = build_link(sc)[1]
    per_fine = []
    for t, bg in zip(series.transmittance, series.background_click_prob):
        th = theory.detection_stats(sc.source.intensities, t * sc.detector.efficiency, 0.01,
                                    1 - (1 - sc.detector.dark_count_prob) * (1 - bg), 0.0,
                                    sc.source.key_basis_prob, "active", sc.source.intensity_probs)
        per_fine.append(float(np.dot(th.gain, sc.source.intensity_probs)))
    per_fine = np.array(per_fine)
    fine_per_report = int(round(10.0 / 0.5))
    for i, b in enumerate(bins):
        g = per_fine[i * fine_per_report:(i + 1) * fine_per_report].mean()
        z = abs(b["gain"] - g) / np.sqrt(g * (1 - g) / b["pulses"])
        assert z < 4, f"bin {i}: gain {b['gain']:.5g} vs {g:.5g} ({z:.1f} sigma)"


def test_pass_is_reproducible_with_fading_and_rejects_pulses():
    sc = _pass_scenario(fading="lognormal")
    a = simulate(sc).to_dict()
    assert a == simulate(sc).to_dict()
    with pytest.raises(ValueError, match="run.pulses"):
        simulate(sc, pulses=1e9)


def test_daylight_background_raises_the_qber_and_kills_the_key():
    night = _pass_scenario().replace(**{"source.rep_rate_hz": 1e6})
    day = night.replace(**{"channel.sky_radiance_w_m2_sr_nm": 1e-2})
    n, d = simulate(night).to_dict(), simulate(day).to_dict()
    assert n["qber"] < 0.03
    assert d["qber"] > 0.3 and d["aborted"] and d["secret_key_bits"] == 0
    # The rise is the background: it grows towards the low-elevation ends.
    low = [b["qber"] for b in d["bins"] if b["elevation_deg"] < 30]
    high = [b["qber"] for b in d["bins"] if b["elevation_deg"] > 50]
    assert np.mean(low) > np.mean(high)


@pytest.mark.parametrize("job,over", [
    ("repeater-chain", {"repeater.realisations": 3000}),
    ("bbm92", {"run.pulses": 10**6}),
])
def test_run_threads_reaches_the_blocks_and_the_result_does_not_depend_on_it(
        job, over, monkeypatch):
    """``[run] threads`` of any job that takes it sets the threads of its
    blocks (``--threads`` still wins), and the result is the same."""
    from qchannel import jobs, run_scenario
    from qchannel.links import base

    seen = []
    real = base.Link.run_backend

    def spy(self):
        backend = real(self)
        seen.append(getattr(backend, "n_threads", 1))
        return backend

    monkeypatch.setattr(base.Link, "run_backend", spy)
    sc = jobs.get(job).schema.default().replace(**over)
    one = run_scenario(sc.replace(**{"run.threads": 1})).to_dict()
    assert set(seen) == {1}
    seen.clear()
    two = run_scenario(sc.replace(**{"run.threads": 2})).to_dict()
    assert set(seen) == {2}
    seen.clear()
    with base.forced_threads(3):
        run_scenario(sc.replace(**{"run.threads": 2}))
    assert set(seen) == {3}
    for d in (one, two):
        d.get("scenario", {}).get("run", {}).pop("threads", None)
    assert one == two


@pytest.mark.parametrize("job", ["mdi-qkd", "tf-qkd"])
def test_run_threads_reaches_the_post_processing_of_mdi_and_tf(job, monkeypatch):
    """``[run] threads`` reaches the real EC/PA of the relay jobs (``--threads`` wins)."""
    from qchannel import jobs, run_scenario
    from qchannel.jobs import mdi

    seen = []
    real = mdi.distill

    def spy(*args, threads=1, **kw):
        seen.append(threads)
        return real(*args, threads=threads, **kw)

    monkeypatch.setattr(mdi, "distill", spy)
    sc = jobs.get(job).tiny(jobs.get(job).schema.default()).replace(
        **{"postprocess.ec": "cascade", "protocol.finite_key": False})
    run_scenario(sc.replace(**{"run.threads": 1}))
    run_scenario(sc.replace(**{"run.threads": 2}))
    assert seen == [1, 2]
