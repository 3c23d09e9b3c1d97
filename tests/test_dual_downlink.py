"""Dual downlink over a real pass: both stations' geometry, per-bin losses, S."""
import os

import numpy as np
import pytest

from qchannel.dual_downlink import pass_transmittances, run_dual_downlink
from qchannel.scenario import read_toml

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "examples", "micius_dual_downlink_pass.toml")


def test_common_window_and_losses():
    data = read_toml(EXAMPLE)
    geo = pass_transmittances(data["satellite"])
    for side in ("alice", "bob"):
        assert geo[f"{side}_elevation_deg"].min() >= 10.0
        # A LEO at ~500 km: ranges between the altitude and the 10-degree horizon.
        assert 480 < geo[f"{side}_range_km"].min() and geo[f"{side}_range_km"].max() < 1800
        t = geo[f"{side}_transmittance"]
        assert np.all((t > 0) & (t < 1))
        # The lowest loss is where the station sees the satellite highest.
        assert np.argmax(t) == np.argmax(geo[f"{side}_elevation_deg"])


def test_bell_violation_over_the_pass_and_reproducible():
    data = read_toml(EXAMPLE)
    a = run_dual_downlink(data).to_dict()
    assert a["coincidences"] > 1000
    # Visibility 0.93: S well above 2 (4 sigma).
    assert a["chsh_s"] - 4 * a["chsh_s_std"] > 2.0
    assert len(a["per_bin"]["alice_loss_db"]) == a["pass"]["bins"]
    assert a == run_dual_downlink(data).to_dict()


def test_bad_satellite_section():
    data = read_toml(EXAMPLE)
    bad = {**data, "satellite": {**data["satellite"], "min_elevation_deg": 95.0}}
    with pytest.raises(ValueError, match="satellite.min_elevation_deg"):
        run_dual_downlink(bad)
    bad = {**data, "satellite": {**data["satellite"], "alice": {**data["satellite"]["alice"],
                                                                 "rx_aperture_m": -1.0}}}
    with pytest.raises(ValueError, match="satellite.alice.rx_aperture_m"):
        run_dual_downlink(bad)
