"""Scenario files: the documented example loads, and every kind of bad input
is rejected with a message naming the key and the allowed range."""
import os

import pytest

from qchannel.scenario import Scenario, load_scenario

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_issue_example_loads_as_written():
    sc = load_scenario(os.path.join(ROOT, "examples", "decoy_bb84_50km.toml"))
    assert sc.source.intensities == (0.5, 0.1, 0.0002)
    assert sc.run.pulses == 10**10 and isinstance(sc.run.pulses, int)
    assert sc.channel.transmittance() == pytest.approx(0.1)


BAD = [
    ({"channel": {"length_km": -1.0}}, "channel.length_km"),
    ({"channel": {"length_km": float("nan")}}, "channel.length_km"),
    ({"channel": {"length_km": "50"}}, "channel.length_km"),
    ({"channel": {"misalignment": 0.7}}, "channel.misalignment"),
    ({"channel": {"lenght_km": 5.0}}, "channel.lenght_km"),
    ({"channel": {"type": "copper"}}, "channel.type"),
    ({"detector": {"efficiency": 1.5}}, "detector.efficiency"),
    ({"detector": {"dark_count_prob": -1e-6}}, "detector.dark_count_prob"),
    ({"detector": {"basis_choice": "random"}}, "detector.basis_choice"),
    ({"source": {"intensities": [0.1, 0.5, 0.0]}}, "source.intensities"),
    ({"source": {"intensity_probs": [0.8, 0.1, 0.2]}}, "source.intensity_probs"),
    ({"source": {"intensity_probs": [0.9, 0.1]}}, "source.intensity_probs"),
    ({"source": {"key_basis_prob": 0.0}}, "source.key_basis_prob"),
    ({"source": {"rep_rate_hz": 0.0}}, "source.rep_rate_hz"),
    ({"run": {"pulses": 0}}, "run.pulses"),
    ({"run": {"pulses": 1.5}}, "run.pulses"),
    ({"run": {"seed": -3}}, "run.seed"),
    ({"postprocess": {"eps_sec": 0.0}}, "postprocess.eps_sec"),
    ({"postprocess": {"f_ec": 0.9}}, "postprocess.f_ec"),
    ({"warp": {}}, "[warp]"),
    ({"channel": 5}, "channel"),
]


@pytest.mark.parametrize("patch,key", BAD, ids=[k for _, k in BAD])
def test_bad_values_name_the_key(patch, key):
    with pytest.raises(ValueError) as err:
        Scenario.from_dict(patch)
    assert key in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_scenario(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[source\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_scenario(bad)


def test_replace_validates():
    sc = Scenario()
    assert sc.replace(**{"channel.length_km": 80}).channel.length_km == 80.0
    with pytest.raises(ValueError, match="channel.foo"):
        sc.replace(**{"channel.foo": 1})
    with pytest.raises(ValueError, match="not a known key"):
        sc.replace(**{"nosection": 1})
