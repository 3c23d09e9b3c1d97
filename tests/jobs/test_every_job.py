"""Every job of the registry through the same doors: sweeps (serial, local
pool, dask, resume), theory on every example, the shared [run]/[channel]
conventions.  The sweeps are the issue's three, shrunk to run in seconds."""
import json
import os
import subprocess
import sys

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from qchannel import jobs  # noqa: E402
from qchannel.cli import main  # noqa: E402
from qchannel.sweep import sweep  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")


def example(name):
    return os.path.join(EXAMPLES, name)


# (scenario, grid, shrink: overrides that keep the run short, field the row must carry)
SWEEPS = {
    "micius": ("micius-downlink.toml", {"channel.rx_aperture_m": [0.6, 1.0]},
               {"channel.time_bin_s": 1.0, "run.report_bin_s": 60.0}, "secret_key_bits"),
    "repeater": ("repeater.toml", {"repeater.segments": [2, 4, 8]},
                 {"repeater.realisations": 2000}, "waiting_time_mean"),
    "bbm92": ("bbm92_fiber.toml", {"source.visibility": [0.85, 0.95]},
              {"run.pulses": 10**7}, "chsh_s"),
}


def _scenario(name):
    file, _, shrink, _ = SWEEPS[name]
    return jobs.load(example(file)).replace(**shrink)


@pytest.fixture(scope="module")
def serial_tables():
    return {name: sweep(_scenario(name), grid, executor="serial", progress=False)
            for name, (_, grid, _, _) in SWEEPS.items()}


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_one_row_per_point_with_the_jobs_fields(serial_tables, name):
    _, grid, _, field = SWEEPS[name]
    df = serial_tables[name]
    (key, values), = grid.items()
    assert list(df[key]) == values
    assert field in df.columns and df[field].notna().any()
    assert df["seed"].nunique() == len(values)          # one seed per point


def test_sweep_rows_follow_the_physics(serial_tables):
    # a larger receiver collects more key; longer chains wait less; higher
    # visibility gives a larger S (each gap is far beyond the statistics)
    mic = serial_tables["micius"].set_index("channel.rx_aperture_m")
    assert mic.loc[1.0, "sifted_bits"] > 2 * mic.loc[0.6, "sifted_bits"]
    rep = serial_tables["repeater"].set_index("repeater.segments")
    # 400 km and 200 km segments with a 0.1 s cutoff need far more than the
    # example's max_attempts (1e9 slots): aborted rows with their reason
    for segments in (2, 4):
        assert bool(rep.loc[segments, "aborted"])
        assert "max_attempts" in rep.loc[segments, "abort_reason"]
    assert not rep.loc[8, "aborted"] and rep.loc[8, "waiting_time_mean"] > 0
    bb = serial_tables["bbm92"].set_index("source.visibility")
    assert bb.loc[0.95, "chsh_s"] > bb.loc[0.85, "chsh_s"] + 0.2


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_local_pool_and_resume_match_serial(serial_tables, tmp_path, name):
    _, grid, _, _ = SWEEPS[name]
    out = str(tmp_path / f"{name}.parquet")
    df = sweep(_scenario(name), grid, executor="local:2", out=out, progress=False)
    pd.testing.assert_frame_equal(df, serial_tables[name])
    again = sweep(_scenario(name), grid, executor="serial", out=out, resume=True, progress=False)
    pd.testing.assert_frame_equal(again, serial_tables[name])


def test_dask_matches_serial(serial_tables):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        for name, (_, grid, _, _) in SWEEPS.items():
            df = sweep(_scenario(name), grid, executor=client.get_executor(), progress=False)
            pd.testing.assert_frame_equal(df, serial_tables[name])


def test_cli_sweep_of_a_repeater_chain(tmp_path):
    scen = tmp_path / "rep.toml"
    scen.write_text(open(example("repeater.toml")).read().replace(
        "realisations = 100000", "realisations = 1000"))
    out = tmp_path / "b.parquet"
    assert main(["sweep", str(scen), "--grid", "repeater.segments=4,8", "--out", str(out),
                 "--executor", "serial"]) == 0
    df = pd.read_parquet(out)
    assert list(df["repeater.segments"]) == [4, 8] and "waiting_time_mean" in df


@pytest.mark.parametrize("file", sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".toml")))
def test_theory_on_every_example(file, capsys):
    """A JSON object, or one line and exit status 2 naming why."""
    rc = main(["theory", example(file), "--json"])
    out, err = capsys.readouterr()
    if rc == 0:
        assert isinstance(json.loads(out), dict) and err == ""
    else:
        assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1


def test_theory_twins_track_their_monte_carlo():
    """Each job's analytic twin against its Monte Carlo on the same scenario
    (tolerances: 4 sigma of the Monte Carlo's statistics)."""
    bb = jobs.load(example("bbm92_fiber.toml")).replace(**{"run.pulses": 2 * 10**8})
    th = jobs.job_for(bb).theory(bb)
    mc = jobs.job_for(bb).run(bb).to_dict()
    n = mc["coincidences"]
    assert abs(n - th["coincidences_expected"]) < 4 * th["coincidences_expected"] ** 0.5
    # the drift (rms 1 rad after 600 s, reset every 60 s) adds <= 1/4 (1 - e^{-2/10})
    # to the QBER over 20 s: the closed form without drift must sit at or below the MC
    sig_q = (th["qber"] * (1 - th["qber"]) / mc["sifted_bits"]) ** 0.5
    assert mc["qber"] > th["qber"] - 4 * sig_q
    # repeater without cutoff or memory decay: the waiting time is the exact
    # Markov chain's mean, the fidelity the swapped Werner one
    rep = jobs.load(example("repeater.toml")).replace(
        **{"repeater.cutoff_s": None, "repeater.memory_t2_s": None,
           "repeater.total_length_km": 400.0, "repeater.realisations": 20000})
    th = jobs.job_for(rep).theory(rep)
    mc = jobs.job_for(rep).run(rep).to_dict()
    assert abs(mc["waiting_time_attempts_mean"] - th["waiting_time_attempts_mean"]) \
        < 4 * mc["waiting_time_attempts_sem"]
    assert mc["fidelity_mean"] == pytest.approx(th["fidelity"], abs=1e-9)


def test_run_seed_and_channel_type_in_every_job(tmp_path):
    rep = tmp_path / "rep.toml"
    rep.write_text(open(example("repeater.toml")).read().replace(
        "realisations = 100000", "realisations = 500").replace("seed = 2024", "seed = 9"))
    sc = jobs.load(str(rep))
    assert sc.run.seed == 9 and sc.config.seed == 9
    d = jobs.job_for(sc).run(sc).to_dict()
    assert d["seed"] == 9 and d["realisations"] == 500
    ent = jobs.from_dict({"protocol": {"type": "bbm92"}, "source": {"type": "spdc"},
                          "channel": {"type": "fiber", "length_km": 10.0},
                          "run": {"pulses": 10**6, "seed": 3}})
    assert jobs.job_for(ent).run(ent).to_dict()["pulses"] == 10**6
    with pytest.raises(ValueError, match="channel.type"):
        jobs.from_dict({"protocol": {"type": "bbm92"}, "channel": {"type": "free-space"},
                        "run": {"pulses": 10}})


def test_the_job_is_never_guessed():
    with pytest.raises(ValueError, match='type = "repeater-chain"'):
        jobs.from_dict({"repeater": {"segments": 2, "success_prob": 0.1,
                                     "attempt_time_s": 1e-3}})
    with pytest.raises(ValueError, match="protocol.type"):
        jobs.from_dict({"protocol": {"type": "bb84-please"}})


def test_jobs_verb_lists_every_job():
    res = subprocess.run([sys.executable, "-m", "qchannel", "jobs"], capture_output=True,
                         text=True, cwd=ROOT)
    assert res.returncode == 0
    for name in ("decoy-bb84", "bbm92", "e91", "teleportation", "repeater-chain",
                 "trusted-node-network"):
        assert name in res.stdout
