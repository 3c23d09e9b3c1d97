"""The qrng job through the registry and the ``qchannel qrng`` verb."""
import json
import math
import os

import numpy as np
import pytest

import qchannel
from qchannel import jobs, rng
from qchannel.cli import main
from qchannel.postprocess.privacy import toeplitz_hash
from qchannel.qrng.devices import simulate_block
from qchannel.qrng.generator import generate, output_per_block

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BS = os.path.join(ROOT, "examples", "qrng_beam_splitter.toml")
SMALL = {"qrng.assess_bits": 50_000, "qrng.block_bits": 60_000}


def small(path=BS, **over):
    return qchannel.load_scenario(path).replace(**{**SMALL, **over})


def test_output_is_the_toeplitz_hash_of_the_raw_block_with_the_extractor_stream():
    sc = small(**{"run.bits": 70_000})
    d = generate(sc.config, 5, 70_000, keep=True)
    n, m = 60_000, d["output_bits_per_block"]
    h = d["min_entropy_used"]
    assert h == min(d["min_entropy_per_bit"], d["min_entropy_model"], 1.0)
    assert m == math.floor(n * h - 2 * math.log2(1 / sc.config.eps)) == output_per_block(
        n, h, sc.config.eps)
    assert d["blocks"] == 2 and d["output_bits"] == 70_000 and d["raw_bits"] == 2 * n
    want = []
    for k in range(2):
        raw = simulate_block(sc.config, 5, k, n).bits
        seed_bits = rng.bits(5, rng.Purpose.QRNG_EXTRACTOR_SEED, k, n + m - 1)
        want.append(toeplitz_hash(raw, seed_bits, m))
    assert np.array_equal(d["bits"], np.concatenate(want)[:70_000])
    assert d["output_rate_bps"] == pytest.approx(d["raw_bit_rate_bps"] * m / n)


def test_cli_writes_packed_bits_and_reports(tmp_path, capsys):
    out = tmp_path / "bits.bin"
    sc = small()
    path = tmp_path / "s.toml"
    path.write_text(_toml(sc.to_dict()))
    assert main(["qrng", str(path), "--bits", "10001", "--out", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("raw_bits", "output_bits", "min_entropy_per_bit", "min_entropy_model",
                "output_rate_bps", "health_failures"):
        assert key in d
    assert d["output_bits"] == 10001
    data = out.read_bytes()
    assert len(data) == 1251                     # ceil(10001 / 8), last byte zero-padded
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    ref = generate(sc.config, sc.run.seed, 10001, keep=True)["bits"]
    assert np.array_equal(bits[:10001], ref) and not bits[10001:].any()
    assert d["min_entropy_per_bit"] <= 1.0 and d["min_entropy_used"] <= d["min_entropy_model"]


def test_cli_checks_the_output_and_bits_before_the_work(tmp_path, capsys):
    assert main(["qrng", BS, "--bits", "100", "--out", str(tmp_path / "no" / "f.bin")]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["qrng", BS, "--bits", "0", "--out", str(tmp_path / "f.bin")]) == 2
    assert "--bits" in capsys.readouterr().err
    other = os.path.join(ROOT, "examples", "repeater.toml")
    assert main(["qrng", other, "--bits", "10", "--out", str(tmp_path / "f.bin")]) == 2
    assert "qrng" in capsys.readouterr().err


def test_schema_sweepable_keys_and_run_section():
    sc = small()
    assert sc.replace(**{"qrng.split_ratio": 0.6}).config.split_ratio == 0.6
    assert sc.replace(**{"detector.dead_time_ns": 10.0}).config.detector.dead_time_ns == 10.0
    with pytest.raises(ValueError, match="run.pulses"):
        sc.replace(**{"run.pulses": 10})
    with pytest.raises(ValueError, match="run.bits"):
        sc.replace(**{"run.bits": 0})
    assert type(sc).from_dict(sc.to_dict()) == sc
    assert jobs.job_for(sc).name == "qrng"


def test_device_without_entropy_aborts_instead_of_extracting(tmp_path, capsys):
    # a detector that only sees dark counts (known to the adversary): nothing to extract
    sc = small(**{"qrng.mean_photon_number": 1e-9, "detector.dark_count_prob": 1e-3})
    d = qchannel.run_scenario(sc).to_dict()
    assert d["aborted"] and d["output_bits"] == 0 and "no extractable output" in d["abort_reason"]
    assert d["min_entropy_model"] < 0.01
    path = tmp_path / "s.toml"
    path.write_text(_toml(sc.to_dict()))
    out = tmp_path / "bits.bin"
    assert main(["qrng", str(path), "--bits", "100", "--out", str(out)]) == 1
    assert "ABORTED" in capsys.readouterr().out and not out.exists()


def _toml(tables):
    lines = []
    for name, section in tables.items():
        lines.append(f"[{name}]")
        for k, v in section.items():
            lines.append(f"{k} = {json.dumps(v)}")
    return "\n".join(lines) + "\n"
