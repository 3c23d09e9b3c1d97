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
    """No file: the default scenario runs real error correction (LDPC),
    verification and privacy amplification and ends with two identical keys."""
    out = qchannel("run", "--pulses", "1e9")
    assert out.returncode == 0, out.stderr
    assert "50 km" in out.stdout and "secret key" in out.stdout
    assert "error correction: ldpc" in out.stdout and "keys match: True" in out.stdout
    assert out.stderr == ""          # no progress bar when stderr is not a terminal


def test_default_scenario_keys_are_written_and_identical(tmp_path):
    """``qchannel run --keys-out`` needs no file: both keys, bit for bit equal,
    as long as the report's key."""
    from qchannel.cli import main

    assert main(["run", "--pulses", "5e8", "--keys-out", str(tmp_path), "--json"]) == 0
    files = sorted(p for p in tmp_path.iterdir() if p.is_file())
    assert len(files) == 2, files
    a, b = (p.read_bytes() for p in files)
    assert a == b and len(a) > 0


def test_file_without_postprocess_keeps_the_estimate(tmp_path):
    path = tmp_path / "link.toml"
    path.write_text("[channel]\nlength_km = 50.0\n")
    out = qchannel("run", str(path), "--pulses", "1e8", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["ec"]["method"] == "estimate"


def test_theory_json():
    out = qchannel("theory", EXAMPLE, "--decoy", "vacuum-weak", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["transmittance"] == pytest.approx(0.1)
    assert 0 < d["key_rate_per_pulse"] < d["plob_per_pulse"]
    assert [row["mu"] for row in d["intensities"]] == [0.5, 0.1, 0.0002]
    assert d["convention"] == "all-intensities"          # the Monte Carlo's, by default


@pytest.mark.parametrize("convention", ["all-intensities", "signal-only"])
def test_theory_convention(convention, capsys):
    """--convention reaches theory.expect: the JSON is the Python API's, and
    the text report names the convention."""
    from qchannel import theory
    from qchannel.cli import main
    from qchannel.scenario import load_scenario

    assert main(["theory", EXAMPLE, "--decoy", "vacuum-weak", "--convention", convention,
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    want = theory.expect(load_scenario(EXAMPLE), decoy="vacuum-weak", convention=convention)
    assert d == json.loads(json.dumps(want))
    assert d["key_rate_per_pulse"] == d[f"key_rate_per_pulse_{convention.replace('-', '_')}"]
    assert main(["theory", EXAMPLE, "--convention", convention]) == 0
    text = capsys.readouterr().out
    assert f"{convention} convention" in text
    # the text run uses infinite decoys (the default)
    inf = theory.expect(load_scenario(EXAMPLE), convention=convention)["key_rate_per_pulse"]
    assert f"asymptotic key rate {inf:.4g} per pulse" in text


def test_theory_convention_of_a_pass_and_other_jobs(tmp_path, capsys):
    """A pass: the per-bin closed forms take the convention too (signal-only
    drops the decoys' key: lower); other jobs refuse the option."""
    from qchannel.cli import main

    sc = tmp_path / "sat.toml"
    sc.write_text(SATELLITE)
    rates = {}
    for convention in ("all-intensities", "signal-only"):
        assert main(["theory", str(sc), "--convention", convention, "--json"]) == 0
        d = json.loads(capsys.readouterr().out)
        assert d["convention"] == convention and d["bins"]
        rates[convention] = d["secret_key_bits"]
    assert 0 < rates["signal-only"] < rates["all-intensities"]
    assert main(["theory", str(sc), "--convention", "signal-only"]) == 0
    assert "signal-only convention" in capsys.readouterr().out
    rc = main(["theory", os.path.join(ROOT, "examples", "bbm92_fiber.toml"), "--convention",
               "signal-only"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--convention applies to decoy-bb84" in err


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


SATELLITE = """
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
"""


def test_satellite_pass_plot(tmp_path):
    sc = tmp_path / "sat.toml"
    sc.write_text(SATELLITE)
    png = tmp_path / "pass.png"
    out = qchannel("run", str(sc), "--json", "--plot", str(png))
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert {"t_s", "elevation_deg", "range_km", "loss_db", "gain", "qber"} <= set(d["bins"][0])
    # per bin, both-bases sifted rate: X-X + Z-Z detections per second; over
    # the pass they add up to sifted_bits_all_bases (exact counts)
    rep = d["scenario"]["source"]["rep_rate_hz"]
    both = [b["sifted_rate_all_bases_bps"] * b["pulses"] / rep for b in d["bins"]]
    assert sum(round(x) for x in both) == d["sifted_bits_all_bases"]
    assert all(x >= b["sifted_bits"] for x, b in zip(both, d["bins"]))
    assert sum(b["sifted_bits"] for b in d["bins"]) == d["sifted_bits"] < d["sifted_bits_all_bases"]
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
