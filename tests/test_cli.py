"""The command line as a user meets it: reports, JSON, one-line errors."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "decoy_bb84_50km.toml")


def qchannel(*args):
    return subprocess.run([sys.executable, "-m", "qchannel", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_run_json_has_the_documented_keys():
    out = qchannel("run", EXAMPLE, "--pulses", "2e9", "--seed", "4", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    for key in ("pulses", "detections", "intensities", "sifted_bits", "qber", "secret_key_bits",
                "key_rate_per_pulse", "secret_key_rate_bps", "aborted", "abort_reason"):
        assert key in d
    assert d["pulses"] == 2 * 10**9 and d["seed"] == 4
    for row in d["intensities"]:
        assert set(row) >= {"mu", "sent", "gain", "qber_x", "qber_z"}
    assert d["ec"]["method"] == "estimate" and "estimated" in d["ec"]["note"]


def test_run_default_scenario_prints_a_report():
    out = qchannel("run", "--pulses", "1e9")
    assert out.returncode == 0, out.stderr
    assert "50 km" in out.stdout and "secret key" in out.stdout
    assert out.stderr == ""          # no progress bar when stderr is not a terminal


def test_theory_json():
    out = qchannel("theory", EXAMPLE, "--decoy", "vacuum-weak", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["transmittance"] == pytest.approx(0.1)
    assert 0 < d["key_rate_per_pulse"] < d["plob_per_pulse"]
    assert [row["mu"] for row in d["intensities"]] == [0.5, 0.1, 0.0002]


@pytest.mark.parametrize("toml,key", [
    ("[channel]\nlength_km = -5.0\n", "channel.length_km"),
    ("[detector]\nefficiency = 2\n", "detector.efficiency"),
    ("[source]\nintensity_probs = [0.5, 0.4, 0.4]\n", "source.intensity_probs"),
    ("[source]\nintensities = [0.1, 0.5, 0.0]\n", "source.intensities"),
    ("[channel]\nlength_km = nan\n", "channel.length_km"),
    ("[channel]\ncolour = 'red'\n", "channel.colour"),
    ("[run]\npulses = 'many'\n", "run.pulses"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, toml, key):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    for cmd in ("run", "theory"):
        out = qchannel(cmd, str(path))
        assert out.returncode == 2
        assert out.stderr.count("\n") == 1 and key in out.stderr
        assert "Traceback" not in out.stderr and out.stdout == ""


@pytest.mark.parametrize("args", [["run", "--pulses", "-1"], ["run", "--pulses", "lots"],
                                  ["run", "--seed", "-2"], ["run", "missing.toml"],
                                  ["theory", "--decoy", "some"], ["fly"]])
def test_bad_arguments_are_one_line_and_exit_2(args):
    out = qchannel(*args)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_satellite_pass_plot(tmp_path):
    sc = tmp_path / "sat.toml"
    sc.write_text("""
[source]
rep_rate_hz = 1.0e7
intensities = [0.6, 0.1, 0.0]
intensity_probs = [0.7, 0.2, 0.1]
key_basis_prob = 0.5
[channel]
type = "satellite-downlink"
tx_aperture_m = 0.3
rx_aperture_m = 1.0
altitude_km = 500.0
max_elevation_deg = 60.0
min_elevation_deg = 20.0
time_bin_s = 1.0
[detector]
efficiency = 0.6
[run]
report_bin_s = 20.0
""")
    png = tmp_path / "pass.png"
    out = qchannel("run", str(sc), "--json", "--plot", str(png))
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert {"t_s", "elevation_deg", "range_km", "loss_db", "gain", "qber"} <= set(d["bins"][0])
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    fiber = qchannel("run", "--pulses", "1e8", "--plot", str(tmp_path / "x.png"))
    assert fiber.returncode == 2 and "--plot" in fiber.stderr


def test_eavesdropper_example_reports_eve():
    out = qchannel("run", os.path.join(ROOT, "examples", "eavesdropper.toml"), "--pulses", "1e8",
                   "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["eve"]["attack"] == "pns" and d["eve_known_sifted_bits"] > 0
    assert "eve_info_final_key" in d


def test_repeater_network_and_entanglement_examples_run():
    for name, key in (("repeater.toml", "waiting_time_mean"), ("backbone.toml", "end_to_end_key_rate_bps"),
                      ("bbm92_fiber.toml", "chsh_s")):
        args = ["run", os.path.join(ROOT, "examples", name), "--json"]
        if name == "bbm92_fiber.toml":
            args += ["--pulses", "1e9"]
        out = qchannel(*args)
        assert out.returncode == 0, (name, out.stderr)
        assert key in json.loads(out.stdout)
