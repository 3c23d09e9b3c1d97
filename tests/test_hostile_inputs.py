"""Hostile input on the command line (issue 13): each gives exactly one line
on stderr and exit status 2 (130 for Ctrl-C), never a traceback, and is
refused before any work.

"Before any work" is tested, not timed: in-process cases run with every
job's ``run`` replaced by a function that fails the test, so an input that
is refused only after (or during) the Monte Carlo fails here.  The few
inputs that must run do so with tiny sizes.  A handful go through a real
``python -m qchannel`` subprocess (encoding of the message, exit status,
SIGINT).
"""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from qchannel import jobs
from qchannel.cli import main
from qchannel.jobs import memory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EX = os.path.join(ROOT, "examples")

SAT = """
[source]
rep_rate_hz = 1.0e6
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
time_bin_s = 10.0
[detector]
efficiency = 0.6
[run]
report_bin_s = 60.0
"""
CASCADE = '[postprocess]\nec = "cascade"\n'
REPEATER = """[protocol]
type = "repeater-chain"
[repeater]
segments = 2
success_prob = 0.3
attempt_time_s = 1e-3
realisations = 200
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Scenario files and paths the cases refer to as {name}."""
    d = tmp_path_factory.mktemp("hostile")

    def put(name, data):
        p = d / name
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
        return str(p)

    f = {"tmp": str(d), "dir": str(d / "adir"), "file": put("afile", "x\n"),
         "missing": str(d / "missing" / "x"), "sat": put("sat.toml", SAT),
         "casc": put("casc.toml", CASCADE), "repeater": put("rep.toml", REPEATER),
         "fiber": os.path.join(EX, "decoy_bb84_50km.toml"),
         "binary": put("bin.toml", bytes(range(256)) * 3),
         "utf16": put("u16.toml", "[run]\nseed = 3\n".encode("utf-16")),
         "utf32": put("u32.toml", "[run]\nseed = 3\n".encode("utf-32")),
         "nul": put("nul.toml", "[run]\nseed = 3\x00\n"),
         "badtoml": put("bad.toml", "[source\n"),
         "deep": put("deep.toml", "x = " + "[" * 5000 + "]" * 5000 + "\n"),
         "longint": put("longint.toml", "[run]\nseed = " + "9" * 5000 + "\n"),
         "big": put("big.toml", "#" * (17 * 2**20)),
         "empty": put("empty.toml", ""),
         "bom": put("bom.toml", "\ufeff[run]\nseed = 3\n".encode("utf-8")),
         "kb1": put("kb1.toml", "[source]\nkey_basis_prob = 1\n"),
         "passive_kb1": put("pkb1.toml", "[source]\nkey_basis_prob = 1.0\n[detector]\n"
                                         "basis_choice = \"passive\"\n"),
         "p100": put("p100.toml", "[source]\nintensity_probs = [1, 0, 0]\n"),
         "mu": put("mu.toml", "[source]\nintensities = [0.5, 0.4, 0.2]\n"),
         "two": put("two.toml", "[source]\nintensities = [0.5, 0.1]\n"
                                "intensity_probs = [0.9, 0.1]\n"),
         "one": put("one.toml", "[source]\nintensities = [0.5]\nintensity_probs = [1.0]\n"),
         "four": put("four.toml", "[source]\nintensities = [0.6, 0.3, 0.1, 0.0]\n"
                                  "intensity_probs = [0.7, 0.1, 0.1, 0.1]\n"),
         "fiber_bin": put("fbin.toml", "[run]\ntime_bin_s = 0.1\n"),
         "sat_pulses": put("satp.toml", SAT + "pulses = 1000000\n"),
         "sat_eve": put("sate.toml", SAT + "[eve]\nattack = \"pns\"\n"),
         "eve_far": put("evefar.toml", "[channel]\nlength_km = 10.0\n[eve]\nattack = \"pns\"\n"
                                       "position_km = 20.0\n"),
         "sat_1us": put("sat1us.toml", SAT + "time_bin_s = 1e-6\n"),
         "decoder": put("dec.toml", '[postprocess]\nldpc_decoder = "spa"\n'),
         "ent_bin": put("entbin.toml", '[protocol]\ntype = "bbm92"\n[channel]\n'
                                       'time_bin_s = 1e308\n[run]\npulses = 1000\n'),
         "ent_bins": put("entbins.toml", '[protocol]\ntype = "bbm92"\n[channel]\n'
                                         'time_bin_s = 1e-6\n[run]\npulses = 1e12\n'),
         "rep_huge": put("rephuge.toml", REPEATER.replace("200", "1e14")),
         "tel_huge": put("telhuge.toml", '[protocol]\ntype = "teleportation"\n[channel]\n'
                                         'loss_db = 3.0\n[run]\npulses = 7e16\n'),
         "casc_huge": put("casch.toml", CASCADE + "[run]\npulses = 1e16\n"),
         "rep_seed": put("rep9.toml", REPEATER + "[run]\nseed = 9\n"),
         "rep_seed2": put("rep99.toml", REPEATER.replace("segments = 2", "segments = 2\nseed = 4")
                          + "[run]\nseed = 9\n"),
         "legacy_rep": put("legacy.toml", "[repeater]\nsegments = 2\n"),
         "unknown_job": put("job.toml", '[protocol]\ntype = "mdi"\n'),
         "section_scalar": put("scal.toml", "source = 5\n"),
         "section_list": put("list.toml", "[[source]]\nx = 1\n"),
         "nan_len": put("nan.toml", "[channel]\nlength_km = nan\n"),
         "inf_len": put("inf.toml", "[channel]\nlength_km = inf\n"),
         "big_float": put("bigf.toml", "[channel]\nlength_km = 1e400\n"),
         "huge_int": put("hugei.toml", "[run]\npulses = 1000000000000000000000000000000\n"),
         "neg_pulses": put("negp.toml", "[run]\npulses = -5\n"),
         "zero_pulses": put("zerop.toml", "[run]\npulses = 0\n"),
         "frac_pulses": put("fracp.toml", "[run]\npulses = 1.5\n"),
         "str_pulses": put("strp.toml", "[run]\npulses = \"1e6\"\n"),
         "bool_seed": put("bools.toml", "[run]\nseed = true\n"),
         "big_seed": put("bigs.toml", "[run]\nseed = 18446744073709551616\n"),
         "neg_eff": put("nege.toml", "[detector]\nefficiency = -0.1\n"),
         "unicode_key": put("ukey.toml", "[channel]\n\"längë_km\" = 5\n"),
         "unicode_val": put("uval.toml", "[channel]\ntype = \"fïber\"\n"),
         "date_val": put("date.toml", "[channel]\nlength_km = 2016-12-19\n"),
         "list_val": put("lval.toml", "[channel]\nlength_km = [50]\n"),
         "table_val": put("tval.toml", "[channel]\nlength_km = {a = 1}\n"),
         "no_pass": put("nopass.toml", SAT.replace(
             "altitude_km = 500.0\nmax_elevation_deg = 60.0\n",
             'tle_line1 = "1 41731U 16051A   16353.90152003  .00000364  00000-0  17957-4 0  '
             '9993"\ntle_line2 = "2 41731  97.3699 267.4500 0013200 178.5836 246.0824 '
             '15.23915303 19063"\nstation_lat_deg = 89.9\nstation_lon_deg = 0.0\n'
             'start_utc = "2016-12-19T16:30:00Z"\npass_search_hours = 0.1\n')),
         }
    os.mkdir(f["dir"])
    parquet = d / "done.parquet"
    f["parquet"] = str(parquet)
    return f


@pytest.fixture
def no_work(monkeypatch):
    """Every job's run fails the test: the input must be refused before it."""
    for name in jobs.names():
        job = jobs.get(name)

        def refuse(*a, _name=name, **k):
            raise AssertionError(f"the {_name} run started: the input was not refused before "
                                 f"the work")

        monkeypatch.setitem(jobs._REGISTRY, name, dataclasses.replace(job, run=refuse))


def cli(capsys, args):
    """(exit status, stdout, stderr) of ``main(args)``."""
    try:
        rc = main(args)
    except SystemExit as e:   # argparse
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, out, err, *words):
    assert rc == 2, (rc, err)
    assert err.count("\n") == 1 and err.startswith("qchannel: error: "), err
    assert "Traceback" not in err and out == ""
    for w in words:
        assert w in err, (w, err)


# (args with {placeholders}, words the one line must hold)
REFUSED = [
    # output paths, checked before the work
    ("run {casc} --pulses 1e5 --keys-out {file}", ["--keys-out", "existing file"]),
    ("run {casc} --pulses 1e5 --keys-out {file}/sub", ["--keys-out", "is a file, not a folder"]),
    ("run {fiber} --pulses 1e5 --keys-out {tmp}/k", ["--keys-out", "real error correction"]),
    ("run {repeater} --keys-out {tmp}/k", ["--keys-out", "decoy-bb84"]),
    ("run {sat} --plot {missing}.png", ["--plot", "does not exist"]),
    ("run {sat} --plot {dir}", ["--plot", "is a folder"]),
    ("run {sat} --plot {file}/x.png", ["--plot", "is a file, not a folder"]),
    ("run {sat} --plot {tmp}/pass.xyz", ["--plot", ".xyz", ".png"]),
    ("run {fiber} --pulses 1e5 --plot {tmp}/x.png", ["--plot", "free-space"]),
    ("sweep --grid channel.length_km=10,20 --out {file}/x.parquet", ["out", "not a folder"]),
    ("sweep --grid channel.length_km=10,20 --out {dir}", ["out", "is a folder"]),
    ("sweep --grid channel.length_km=10,20 --out {missing}/x.parquet", ["does not exist"]),
    ("sweep --grid channel.length_km=10,20 --out {tmp}/c.parquet --executor cloud:9",
     ["executor", "cloud:9"]),
    ("sweep --grid channel.length_km=10,20 --out {tmp}/c.parquet --executor local:0",
     ["workers"]),
    ("sweep --grid channel.length_km=10,20 --out {tmp}/c.parquet --executor dask:",
     ["scheduler"]),
    ("sweep --grid channel.length_km=10,20 --out {tmp}/c.parquet --retries -1",
     ["max_retries"]),
    ("sweep --grid channel.nope=10,20 --out {tmp}/c.parquet", ["channel.nope"]),
    ("sweep --grid channel.length_km= --out {tmp}/c.parquet", ["KEY="]),
    ("sweep --grid channel.length_km=1:1e9:1e-9 --out {tmp}/c.parquet --theory",
     ["more than"]),
    ("sweep --grid channel.length_km=-1,10 --out {tmp}/c.parquet", ["channel.length_km"]),
    ("sweep --grid source.key_basis_prob=0.5,1.0 --out {tmp}/c.parquet --pulses 1e5 "
     "--executor serial", ["grid point", "source.key_basis_prob", "(0, 1)"]),
    ("sweep {sat} --grid run.time_bin_s=10,1e-6 --out {tmp}/c.parquet --executor serial",
     ["grid point", "run.time_bin_s", "memory"]),
    ("sweep {repeater} --grid repeater.segments=2,4 --out {tmp}/c.parquet --pulses 1e5",
     ["run.pulses", "does not apply"]),
    ("plot {file} --x a --y b -o {tmp}/p.png", ["Parquet"]),
    # scenario files
    ("run {binary}", ["bin.toml", "not UTF-8"]),
    ("theory {utf16}", ["u16.toml", "UTF-16"]),
    ("run {utf32}", ["u32.toml", "UTF-32"]),
    ("run {nul}", ["nul.toml", "NUL"]),
    ("run {dir}", ["adir", "is a directory"]),
    ("run {missing}.toml", ["does not exist"]),
    ("run /dev/zero", ["/dev/zero", "not a regular file"]),
    ("run {badtoml}", ["bad.toml", "not valid TOML"]),
    ("run {deep}", ["deep.toml", "nested too deeply"]),
    ("run {longint}", ["longint.toml", "not valid TOML"]),
    ("run {big}", ["big.toml", "larger than 16 MiB"]),
    ("run {unknown_job}", ["protocol.type", "'mdi'"]),
    ("run {legacy_rep}", ["[repeater]", "repeater-chain"]),
    ("run {section_scalar}", ["source"]),
    ("run {section_list}", ["source"]),
    # values: NaN, inf, huge, negative, wrong types, unicode
    ("run {nan_len}", ["channel.length_km", "finite"]),
    ("run {inf_len}", ["channel.length_km", "finite"]),
    ("run {big_float}", ["channel.length_km", "finite"]),
    ("run {huge_int}", ["run.pulses", "~10^30", "out of range"]),
    ("run {neg_pulses}", ["run.pulses", "out of range"]),
    ("run {zero_pulses}", ["run.pulses", "out of range"]),
    ("run {frac_pulses}", ["run.pulses", "integer"]),
    ("run {str_pulses}", ["run.pulses", "integer"]),
    ("run {bool_seed}", ["run.seed", "integer"]),
    ("run {big_seed}", ["run.seed", "out of range"]),
    ("run {neg_eff}", ["detector.efficiency", "out of range"]),
    ("run {unicode_key}", ["channel.", "not a known key"]),
    ("run {unicode_val}", ["channel.type", "fïber"]),
    ("run {date_val}", ["channel.length_km", "number"]),
    ("run {list_val}", ["channel.length_km", "number"]),
    ("run {table_val}", ["channel.length_km", "number"]),
    # command-line numbers
    ("run --pulses -5", ["run.pulses", "out of range"]),
    ("run --pulses 0", ["run.pulses", "out of range"]),
    ("run --pulses nan", ["run.pulses", "integer"]),
    ("run --pulses inf", ["run.pulses", "integer"]),
    ("run --pulses 1e300", ["run.pulses", "1e+300"]),
    ("run --pulses 1.5", ["run.pulses", "integer"]),
    ("run --pulses lots", ["not a number"]),
    ("run --seed 1.5 --pulses 1e5", ["run.seed", "integer"]),
    ("run --seed -1 --pulses 1e5", ["run.seed", "out of range"]),
    ("run --seed 1e300 --pulses 1e5", ["run.seed", "out of range"]),
    ("run --seed 1e20 --pulses 1e5", ["run.seed", "out of range"]),
    ("theory --decoy some", ["--decoy"]),
    ("fly", ["invalid choice"]),
    ("run {repeater} --pulses 1e6", ["run.pulses", "does not apply", "repeater"]),
    ("run " + os.path.join(EX, "backbone.toml") + " --pulses 1e6", ["run.pulses",
                                                                    "does not apply"]),
    ("run {sat} --pulses 1e6", ["run.pulses", "does not apply", "satellite"]),
    ("run " + os.path.join(EX, "micius_dual_downlink_pass.toml") + " --pulses 1e6",
     ["run.pulses", "does not apply"]),
    ("theory {repeater} --decoy infinite", ["--decoy"]),
    # keys that are valid alone, not together (refused by run AND theory)
    ("run {kb1}", ["source.key_basis_prob", "(0, 1)"]),
    ("theory {kb1}", ["source.key_basis_prob", "(0, 1)"]),
    ("theory {passive_kb1}", ["source.key_basis_prob", "beam splitter"]),
    ("run {p100}", ["source.intensity_probs[1]", "(0, 1]"]),
    ("theory {p100}", ["source.intensity_probs[1]", "(0, 1]"]),
    ("run {mu}", ["source.intensities", "mu1 > mu2 + mu3"]),
    ("theory {mu} --decoy vacuum-weak", ["source.intensities", "mu1 > mu2 + mu3"]),
    ("theory {one}", ["source.intensities", "exactly 3"]),
    ("run {two}", ["source.intensities", "exactly 3"]),
    ("theory {four}", ["source.intensities", "exactly 3"]),
    ("run {fiber_bin}", ["run.time_bin_s", "free-space"]),
    ("run {sat_pulses}", ["run.pulses", "does not apply"]),
    ("run {sat_eve}", ["[eve]", "fiber"]),
    ("run {eve_far}", ["eve.position_km", "channel.length_km"]),
    ("run {decoder}", ["postprocess.ldpc_decoder", "ldpc"]),
    ("run {ent_bin}", ["channel.time_bin_s", "out of range"]),
    ("run {ent_bins}", ["channel.time_bin_s", "time bins"]),
    ("run {rep_seed2}", ["seed"]),
    ("run {no_pass}", ["pass"]),
    # memory a run will need (this machine is given 1 GiB free, see the test)
    ("run {sat_1us}", ["memory", "run.time_bin_s", "time bins of 1e-06 s"]),
    ("theory {sat_1us}", ["memory", "run.time_bin_s"]),
    ("run {casc_huge}", ["memory", "sifted bits", "postprocess.ec"]),
    ("run {casc} --pulses 1e14", ["memory", "sifted bits"]),
    ("run {rep_huge}", ["memory", "repeater.realisations"]),
    ("run {tel_huge}", ["memory", "run.pulses"]),
    ("run " + os.path.join(EX, "bbm92_fiber.toml") + " --pulses 5e13",
     ["memory", "coincidence records"]),
]


@pytest.mark.parametrize("args,words", REFUSED, ids=[a for a, _ in REFUSED])
def test_refused_in_one_line_before_the_work(capsys, monkeypatch, files, no_work, args, words):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)
    argv = [a.format(**files) for a in args.split()]
    rc, out, err = cli(capsys, argv)
    assert_one_line_error(rc, out, err, *words)
    if "sweep" in argv:   # nothing left behind
        out_file = argv[argv.index("--out") + 1]
        assert not os.path.exists(out_file + ".parts") and (
            os.path.isdir(out_file) or not os.path.exists(out_file) or out_file == files["file"]
        )


def _section_keys():
    """(job, section) pairs of every job's default and examples."""
    pairs = set()
    for name in jobs.names():
        for sec in jobs.get(name).schema.default().to_dict():
            pairs.add((name, sec))
    pairs.add(("decoy-bb84", "eve"))
    pairs.add(("e91", "satellite"))
    return sorted(pairs)


UNKNOWN_KEYS = _section_keys()
BASE_FOR = {"decoy-bb84": "decoy_bb84_50km.toml", "bbm92": "bbm92_fiber.toml",
            "e91": "micius_dual_downlink.toml", "teleportation": "teleportation.toml",
            "repeater-chain": "repeater.toml", "trusted-node-network": "backbone.toml",
            "mdi-qkd": "mdi_yin2016.toml", "tf-qkd": "tf_sns_300km.toml"}


@pytest.mark.parametrize("job,section", UNKNOWN_KEYS, ids=[f"{j}:{s}" for j, s in UNKNOWN_KEYS])
def test_unknown_keys_and_sections_in_every_job(capsys, tmp_path, no_work, job, section):
    base = open(os.path.join(EX, BASE_FOR[job])).read()
    if job == "e91" and section == "satellite":
        base = open(os.path.join(EX, "micius_dual_downlink_pass.toml")).read()
    if section == "eve":
        base = open(os.path.join(EX, "eavesdropper.toml")).read()
    key = f"nope_{section}"
    if f"[{section}]\n" in base:
        text = base.replace(f"[{section}]\n", f"[{section}]\n{key} = 1\n", 1)
    else:
        text = base + f"\n[{section}]\n{key} = 1\n"
    unknown_key = tmp_path / "k.toml"
    unknown_key.write_text(text)
    rc, out, err = cli(capsys, ["run", str(unknown_key)])
    assert_one_line_error(rc, out, err, key)
    unknown_section = tmp_path / "s.toml"
    unknown_section.write_text(base + f"\n[warp_{section}]\nx = 1\n")
    rc, out, err = cli(capsys, ["theory" if jobs.get(job).theory else "run",
                                str(unknown_section)])
    assert_one_line_error(rc, out, err, f"warp_{section}")


# ------------------------------------------------------------ must run
def test_seed_as_a_float_is_accepted_like_pulses(capsys):
    rc, out, err = cli(capsys, ["run", "--seed", "1e3", "--pulses", "1e5", "--json"])
    assert rc == 0, err
    d = json.loads(out)
    assert d["seed"] == 1000 and d["pulses"] == 10**5


def test_empty_and_bom_files_are_valid_scenarios(capsys, files):
    rc, out, err = cli(capsys, ["theory", files["empty"], "--json"])
    assert rc == 0, err
    rc, out, err = cli(capsys, ["run", files["bom"], "--pulses", "1e5", "--json"])
    assert rc == 0, err
    assert json.loads(out)["seed"] == 3


def test_fiber_channel_type_in_an_entanglement_scenario_runs(capsys, tmp_path):
    text = open(os.path.join(EX, "bbm92_fiber.toml")).read().replace(
        "[channel]\n", '[channel]\ntype = "fiber"\n', 1)
    path = tmp_path / "bbm92.toml"
    path.write_text(text)
    rc, out, err = cli(capsys, ["run", str(path), "--pulses", "1e6", "--json"])
    assert rc == 0, err
    d = json.loads(out)
    assert d["protocol"] == "bbm92" and d["pulses"] == 10**6
    assert d["scenario"]["channel"]["alice"]["length_km"] == 25.0


def test_repeater_with_a_run_seed_runs(capsys, files):
    rc, out, err = cli(capsys, ["run", files["rep_seed"], "--json"])
    assert rc == 0, err
    d = json.loads(out)
    assert d["seed"] == 9 and d["realisations"] in (0, 200)
    rc2, out2, _ = cli(capsys, ["run", files["rep_seed"], "--json", "--seed", "9"])
    assert rc2 == 0 and json.loads(out2) == d            # the seed is the seed


def test_eve_with_cascade_gives_matching_keys_or_an_abort_with_reason(capsys, tmp_path):
    text = open(os.path.join(EX, "eavesdropper.toml")).read().replace(
        "[postprocess]\n", '[postprocess]\nec = "cascade"\n', 1)
    path = tmp_path / "eve.toml"
    path.write_text(text)
    rc, out, err = cli(capsys, ["run", str(path), "--pulses", "2e8", "--json"])
    assert rc == 0, err
    d = json.loads(out)
    assert d["ec"]["method"] == "cascade" and "eve" in d
    if d["aborted"]:
        assert d["abort_reason"]
    else:
        assert d["keys_match"] is True and d["secret_key_bits"] > 0


def test_corrected_sweep_runs_after_a_refused_one(capsys, files, tmp_path):
    out_file = str(tmp_path / "s.parquet")
    args = ["sweep", "--grid", "channel.length_km=10,20", "--pulses", "1e5", "--out", out_file]
    rc, _, err = cli(capsys, args + ["--executor", "cloud:9"])
    assert rc == 2 and err.count("\n") == 1
    assert os.listdir(tmp_path) == []                   # nothing left behind
    rc, out, err = cli(capsys, args + ["--executor", "serial"])
    assert rc == 0, err
    assert "2 points" in out and os.path.isfile(out_file)
    assert not os.path.exists(out_file + ".parts")


def test_keys_out_into_a_new_folder_works(capsys, files, tmp_path):
    keys = tmp_path / "keys"
    rc, out, err = cli(capsys, ["run", files["casc"], "--pulses", "2e8", "--keys-out",
                                str(keys), "--json"])
    assert rc == 0, err
    d = json.loads(out)
    assert d["aborted"] or sorted(os.listdir(keys))


# ------------------------------------------------------------ real processes
def qchannel(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "qchannel", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout)


@pytest.mark.parametrize("args,word", [
    (["run", "{binary}"], "not UTF-8"),
    (["run", "--pulses", "nan"], "run.pulses"),
    (["theory", "{p100}"], "source.intensity_probs[1]"),
    (["run", "{sat_1us_huge}"], "memory"),
    (["sweep", "--grid", "channel.length_km=1,2", "--out", "{tmp}/p.parquet", "--executor",
      "cloud:9"], "cloud:9"),
])
def test_real_process_one_line_exit_2(files, tmp_path, args, word):
    # a pass of a day cut in 1 us bins: 8.6e10 bins, ~90 TB (more than any machine)
    huge = tmp_path / "huge.toml"
    huge.write_text(SAT.replace("min_elevation_deg = 20.0\n", "min_elevation_deg = 20.0\n"
                                "pass_duration_s = 86400.0\n") + "time_bin_s = 1e-6\n")
    argv = [a.format(**files, sat_1us_huge=str(huge)) for a in args]
    r = qchannel(*argv)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and word in r.stderr and "Traceback" not in r.stderr
    assert not os.path.exists(os.path.join(files["tmp"], "p.parquet.parts"))


def _interrupt(args, wait_for, group):
    """Start ``python -m qchannel args``, wait until ``wait_for()`` says the
    work runs, send SIGINT (to the process group: a terminal's Ctrl-C)."""
    p = subprocess.Popen([sys.executable, "-m", "qchannel", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not wait_for() and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.2)
        time.sleep(1.0)
        (os.killpg if group else os.kill)(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
    return p.returncode, out, err


@pytest.mark.parametrize("group", [True, False], ids=["ctrl-c", "sigint-to-driver"])
def test_sigint_during_a_long_run_exits_130_without_traceback(group):
    # 1e13 pulses: hours of work; SIGINT after the import and the start
    started = time.monotonic()
    # (a file with the leakage estimate: the no-file default keeps its sifted
    # bits for LDPC, which 1e13 pulses would not fit in memory)
    rc, out, err = _interrupt(["run", os.path.join(ROOT, "examples", "decoy_bb84_50km.toml"),
                               "--pulses", "1e13"],
                              lambda: time.monotonic() - started > 4, group)
    assert rc == 130, err
    assert err == "qchannel: interrupted\n" and out == ""


def test_sigint_during_a_sweep_on_a_local_pool(tmp_path):
    out_file = tmp_path / "s.parquet"
    parts = tmp_path / "s.parquet.parts"
    rc, out, err = _interrupt(["sweep", os.path.join(ROOT, "examples", "decoy_bb84_50km.toml"),
                               "--grid", "channel.length_km=10,20,30,40", "--pulses",
                               "1e13", "--executor", "local:2", "--out", str(out_file)],
                              lambda: parts.exists(), True)
    assert rc == 130, err
    assert err == "qchannel: interrupted\n"
    assert not out_file.exists()   # the finished parts (none yet) stay for --resume
