"""Parameter sweeps: grids, seeds, executors (serial, local pool, dask, MPI),
persistence, resume after a killed driver, retry after a killed worker, CLI.

Real engines only: a dask LocalCluster with worker processes, a real process
pool whose worker is SIGKILLed, a driver subprocess SIGKILLed mid-sweep, and
``mpiexec -n 3`` where OpenMPI and mpi4py are installed.
"""
import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import Executor, Future

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from qchannel import theory  # noqa: E402
from qchannel.rng import Purpose, derive_seed  # noqa: E402
from qchannel.scenario import Scenario, load_scenario  # noqa: E402
from qchannel.sweep import (SerialExecutor, expand, local_pool, parse_grid,  # noqa: E402
                            parse_values, point_seed, read_meta, sweep)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))

# Long links and few pulses: every point takes a few ms to ~0.1 s.
BASE = load_scenario(None)
GRID = {"channel.length_km": [120.0, 140.0, 160.0], "detector.efficiency": [0.1, 0.2]}
PULSES = 2 * 10**7


class CountingExecutor(SerialExecutor):
    """A real in-process executor that counts submissions."""

    def __init__(self):
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture(scope="module")
def serial_table():
    return sweep(BASE, GRID, seed=11, executor="serial", pulses=PULSES, progress=False)


# --------------------------------------------------------------------------
# grids and validation
# --------------------------------------------------------------------------
@pytest.mark.parametrize("grid, match", [
    ({"channel.lenght_km": [1.0]}, "channel.lenght_km"),
    ({"chanel.length_km": [1.0]}, "chanel.length_km"),
    ({"length_km": [1.0]}, "length_km"),
    ({"channel.length_km": []}, "channel.length_km has no values"),
    ({"channel.length_km": "0:10:5"}, "channel.length_km .* must be a list"),
    ({"channel.length_km": 5.0}, "channel.length_km .* must be a list"),
    ({"channel.length_km": ["far"]}, "channel.length_km = 'far' must be a number"),
    ({"channel.length_km": [10.0, -1.0]}, r"channel.length_km = -1.0 is out of range"),
    ({"channel.length_km": [10, 10.0]}, "twice"),
    ({"channel.length_km": [float("nan")]}, "channel.length_km"),
    ({"detector.basis_choice": ["active", "psychic"]}, "detector.basis_choice"),
    ({}, "non-empty"),
])
def test_bad_grid_raises_before_anything_runs(grid, match, tmp_path):
    ex = CountingExecutor()
    out = tmp_path / "r.parquet"
    with pytest.raises(ValueError, match=match):
        sweep(BASE, grid, executor=ex, out=str(out), pulses=PULSES, progress=False)
    assert ex.submitted == 0
    assert not out.exists() and not (tmp_path / "r.parquet.parts").exists()


def test_bad_point_late_in_grid_submits_nothing():
    ex = CountingExecutor()
    with pytest.raises(ValueError, match="detector.efficiency = 1.5"):
        sweep(BASE, {"channel.length_km": [100.0, 120.0], "detector.efficiency": [0.1, 1.5]},
              executor=ex, pulses=PULSES, progress=False)
    assert ex.submitted == 0


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="run.pulses is both"):
        sweep(BASE, {"run.pulses": [10**6]}, pulses=10**6, executor="serial")
    with pytest.raises(ValueError, match="run.pulses"):
        sweep(BASE, {"channel.length_km": [100.0]}, pulses=0, executor="serial")
    with pytest.raises(ValueError, match="seed"):
        sweep(BASE, {"channel.length_km": [100.0]}, seed=-1, executor="serial")
    with pytest.raises(ValueError, match="decoy"):
        sweep(BASE, {"channel.length_km": [100.0]}, theory=True, decoy="lots")
    with pytest.raises(ValueError, match="executor"):
        sweep(BASE, {"channel.length_km": [100.0]}, executor="cloud:9", pulses=PULSES)


def test_parse_values_and_grid():
    assert parse_values("0:200:50") == [0, 50, 100, 150, 200]
    assert parse_values("0:10:4") == [0, 4, 8]
    assert parse_values("0:1:0.1") == [round(0.1 * i, 12) for i in range(11)]
    assert parse_values("10:0:-5") == [10, 5, 0]
    assert parse_values("0.1,0.2,active,true") == [0.1, 0.2, "active", True]
    assert parse_values("[[0.5,0.1,0.0002],[0.6,0.1,0.0002]]") == [[0.5, 0.1, 0.0002],
                                                                    [0.6, 0.1, 0.0002]]
    assert list(parse_grid(["a.b=1,2", "c.d=0:2:1"]).items()) == [("a.b", [1, 2]),
                                                                   ("c.d", [0, 1, 2])]
    for bad, match in [("0:10:0", "step"), ("0:10:-1", "away"), ("0:x:1", "three numbers")]:
        with pytest.raises(ValueError, match=match):
            parse_values(bad, "k")
    for bad in (["a.b"], ["a.b="], ["a.b=1", "a.b=2"], []):
        with pytest.raises(ValueError):
            parse_grid(bad)


# --------------------------------------------------------------------------
# seeds and rows
# --------------------------------------------------------------------------
def test_seed_depends_on_point_not_position():
    pts = expand(BASE, GRID, seed=11, pulses=PULSES)
    rev = expand(BASE, {"detector.efficiency": [0.2, 0.1],
                        "channel.length_km": [160.0, 140, 120]}, seed=11, pulses=PULSES)
    by_key = {p["key"]: p["seed"] for p in pts}
    assert {p["key"]: p["seed"] for p in rev} == by_key
    p = pts[3]["point"]
    assert pts[3]["seed"] == derive_seed(11, Purpose.SWEEP, *sorted(p.items()))
    assert pts[3]["seed"] == point_seed(11, {"detector.efficiency": 0.2, "channel.length_km": 140.0})
    assert len(set(by_key.values())) == len(pts)
    # a sub-grid gives the same seeds to the points it shares
    sub = expand(BASE, {"channel.length_km": [140.0], "detector.efficiency": [0.2]}, seed=11)
    assert sub[0]["seed"] == by_key[sub[0]["key"]]


def test_rows_in_grid_order_with_results(serial_table):
    df = serial_table
    assert list(df["channel.length_km"]) == [120.0, 120.0, 140.0, 140.0, 160.0, 160.0]
    assert list(df["detector.efficiency"]) == [0.1, 0.2] * 3
    for col in ("pulses", "detections", "sifted_bits", "qber", "secret_key_bits",
                "key_rate_per_pulse", "secret_key_rate_bps", "aborted", "abort_reason",
                "plob_per_pulse", "seed", "point_key"):
        assert col in df.columns, col
    assert (df["pulses"] == PULSES).all()
    # a row is the simulation of its point with its derived seed
    from qchannel.runner import simulate

    row = df.iloc[3]
    sc = BASE.replace(**{"channel.length_km": 140.0, "detector.efficiency": 0.2})
    d = simulate(sc, seed=int(row["seed"]), pulses=PULSES).to_dict()
    assert row["detections"] == d["detections"] and row["sifted_bits"] == d["sifted_bits"]
    eta = theory.channel_transmittance(140.0, 0.2)
    assert row["plob_per_pulse"] == pytest.approx(-math.log2(1 - eta))
    # the grid's order changes the row order only
    rev = sweep(BASE, {"detector.efficiency": [0.2, 0.1], "channel.length_km": [160.0, 140.0, 120.0]},
                seed=11, executor="serial", pulses=PULSES, progress=False)
    a = df.set_index("point_key").sort_index()
    b = rev.set_index("point_key").sort_index()[a.columns]
    pd.testing.assert_frame_equal(a, b)


def test_theory_mode():
    grid = {"channel.length_km": [0.0, 50.0, 100.0], "detector.efficiency": [0.1, 0.2]}
    seen = []
    df = sweep(BASE, grid, theory=True, decoy="vacuum-weak", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (6, 6)
    assert len(df) == 6 and "seed" not in df.columns
    for _, row in df.iterrows():
        sc = BASE.replace(**{"channel.length_km": row["channel.length_km"],
                             "detector.efficiency": row["detector.efficiency"]})
        want = theory.expect(sc, decoy="vacuum-weak")
        assert row["key_rate_per_pulse"] == want["key_rate_per_pulse"]
        assert row["secret_key_rate_bps"] == want["secret_key_rate_bps"]
    assert df["plob_per_pulse"].isna().iloc[0]  # 0 km: unbounded
    assert df["plob_per_pulse"].iloc[2] == pytest.approx(-math.log2(1 - 10**-1))
    assert (df["key_rate_per_pulse"] < df["plob_per_pulse"].fillna(math.inf)).all()


# --------------------------------------------------------------------------
# persistence and resume
# --------------------------------------------------------------------------
def test_out_resume_and_mismatch(tmp_path, serial_table):
    out = str(tmp_path / "r.parquet")
    df = sweep(BASE, GRID, seed=11, executor="serial", pulses=PULSES, out=out, progress=False)
    pd.testing.assert_frame_equal(df, serial_table)
    assert not os.path.exists(out + ".parts")
    pd.testing.assert_frame_equal(pd.read_parquet(out), serial_table)
    meta = read_meta(out)
    assert meta["mode"] == "mc" and meta["seed"] == 11 and meta["grid_keys"] == list(GRID)
    with pytest.raises(ValueError, match="already exists"):
        sweep(BASE, GRID, seed=11, executor="serial", pulses=PULSES, out=out)
    ex = CountingExecutor()
    again = sweep(BASE, GRID, seed=11, executor=ex, pulses=PULSES, out=out, resume=True)
    assert ex.submitted == 0
    pd.testing.assert_frame_equal(again, serial_table)
    # a longer grid reuses the finished points
    ex = CountingExecutor()
    longer = dict(GRID, **{"channel.length_km": [120.0, 140.0, 160.0, 180.0]})
    df2 = sweep(BASE, longer, seed=11, executor=ex, pulses=PULSES, out=out, resume=True)
    assert ex.submitted == 2 and len(df2) == 8
    pd.testing.assert_frame_equal(df2.iloc[:6], serial_table)
    with pytest.raises(ValueError, match="differs in seed"):
        sweep(BASE, longer, seed=12, executor="serial", pulses=PULSES, out=out, resume=True)
    with pytest.raises(ValueError, match="outside this grid"):
        sweep(BASE, GRID, seed=11, executor="serial", pulses=PULSES, out=out, resume=True)


DRIVER = """
import sys
from qchannel import load_scenario
from qchannel.sweep import sweep

if __name__ == "__main__":
    grid = {"channel.length_km": [float(x) for x in range(60, 140, 4)],
            "detector.efficiency": [0.1, 0.2]}
    sweep(load_scenario(None), grid, seed=5, pulses=2 * 10**7, executor=sys.argv[2],
          out=sys.argv[1], progress=False)
"""
KILL_GRID = {"channel.length_km": [float(x) for x in range(60, 140, 4)],
             "detector.efficiency": [0.1, 0.2]}


def _session_pids(sid):
    import psutil

    pids = []
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getsid(p.pid) == sid:
                pids.append(p.pid)
        except (ProcessLookupError, PermissionError):
            pass
    return pids


def test_killed_driver_resumes_without_loss_or_duplicates(tmp_path):
    pytest.importorskip("psutil")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    out = str(tmp_path / "r.parquet")
    parts = out + ".parts"
    proc = subprocess.Popen([sys.executable, str(script), out, "local:2"], env=ENV,
                            cwd=str(tmp_path), start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        n = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if os.path.isdir(parts):
                n = sum(1 for f in os.listdir(parts) if f.endswith(".json") and f != "sweep.json")
                if n >= 6:
                    break
            time.sleep(0.01)
        assert proc.poll() is None, "the driver finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # the pool's workers die with the driver (no orphans burning cores)
        deadline = time.monotonic() + 10
        while _session_pids(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _session_pids(proc.pid) == []
    finally:
        for pid in _session_pids(proc.pid):  # only what this test started
            os.kill(pid, signal.SIGKILL)
    assert not os.path.exists(out)
    persisted = [f for f in os.listdir(parts) if f.endswith(".json") and f != "sweep.json"]
    assert 6 <= len(persisted) < 40
    ex = CountingExecutor()
    resumed = sweep(BASE, KILL_GRID, seed=5, pulses=2 * 10**7, executor=ex, out=out,
                    resume=True, progress=False)
    assert ex.submitted == 40 - len(persisted)
    fresh = sweep(BASE, KILL_GRID, seed=5, pulses=2 * 10**7, executor="serial", progress=False)
    pd.testing.assert_frame_equal(resumed, fresh)
    assert resumed["point_key"].is_unique and len(resumed) == 40
    pd.testing.assert_frame_equal(pd.read_parquet(out), fresh)


def test_killed_worker_point_is_retried(serial_table):
    pool = local_pool(2)
    killed = []

    def kill_one(done, total):
        if done == 1 and not killed:
            procs = list(getattr(pool, "_processes", {}).values())
            if procs:
                os.kill(procs[0].pid, signal.SIGKILL)
                killed.append(procs[0].pid)

    try:
        df = sweep(BASE, GRID, seed=11, executor=pool, pulses=PULSES, progress=kill_one)
    finally:
        pool.shutdown(wait=True)
    assert killed, "no worker was killed"
    pd.testing.assert_frame_equal(df, serial_table)


def test_worker_lost_too_often_gives_up():
    class AlwaysLost(Executor):
        def submit(self, fn, /, *args, **kwargs):
            from concurrent.futures.process import BrokenProcessPool

            f = Future()
            f.set_exception(BrokenProcessPool("worker died"))
            return f

    with pytest.raises(RuntimeError, match="lost 3 times"):
        sweep(BASE, {"channel.length_km": [100.0]}, executor=AlwaysLost(), max_retries=2,
              pulses=PULSES)


# --------------------------------------------------------------------------
# --optimize: the optimiser chooses each point's source first
# --------------------------------------------------------------------------
# The estimate (no error correction), 1e10 pulses: at 100 and 135 km every
# point takes < 1 s of Monte Carlo after ~5 s of optimisation.  The default
# source aborts at 135 km, the optimum does not.
OPT_BASE = Scenario()
OPT_GRID = {"channel.length_km": [100.0, 135.0]}
OPT_PULSES = 10**10
OPT_COLUMNS = ("opt.source.intensities", "opt.source.intensity_probs",
               "opt.source.key_basis_prob", "opt.key_rate_per_pulse")


@pytest.fixture(scope="module")
def optimized_table():
    return sweep(OPT_BASE, OPT_GRID, seed=3, executor="serial", pulses=OPT_PULSES,
                 optimize=True, progress=False)


def test_optimize_runs_each_point_with_its_optimum(optimized_table):
    from qchannel.optimize import optimize
    from qchannel.runner import simulate

    df = optimized_table
    for col in OPT_COLUMNS:
        assert col in df.columns, col
    plain = expand(OPT_BASE, OPT_GRID, seed=3, pulses=OPT_PULSES)
    assert list(df["seed"]) == [p["seed"] for p in plain]   # the points' seeds, as without
    assert list(df["opt.pulses"]) == [OPT_PULSES] * 2
    # one row recomputed here (the other is held to it by the next test)
    for _, row in df.iloc[1:].iterrows():
        sc = OPT_BASE.replace(**{"channel.length_km": row["channel.length_km"]})
        want = optimize(sc, pulses=OPT_PULSES)       # seeded: the same optimum here
        for key, value in want["parameters"].items():
            assert list(np.atleast_1d(row[f"opt.{key}"])) == list(np.atleast_1d(value)), key
        assert row["opt.key_rate_per_pulse"] == want["key_rate_per_pulse"]
        # the Monte Carlo of the row ran with the optimum
        assert [row[f"intensities[{i}].mu"] for i in range(3)] == \
            want["parameters"]["source.intensities"]
        d = simulate(sc.replace(**want["parameters"]), seed=int(row["seed"]),
                     pulses=OPT_PULSES).to_dict()
        assert row["secret_key_bits"] == d["secret_key_bits"] > 0
    # where the default source aborts (135 km) the optimised point has a key
    assert simulate(OPT_BASE.replace(**{"channel.length_km": 135.0}), seed=3,
                    pulses=OPT_PULSES).to_dict()["aborted"]


def test_optimize_same_rows_on_local_pool_and_after_resume(tmp_path, optimized_table):
    """Half the grid on a local process pool, the rest by resume on the serial
    executor: the point that comes back from the file (optimised in a worker
    process) and the one computed now make the serial table."""
    out = str(tmp_path / "opt.parquet")
    part = sweep(OPT_BASE, {"channel.length_km": [135.0]}, seed=3, executor="local:2",
                 pulses=OPT_PULSES, optimize=True, out=out, progress=False)
    pd.testing.assert_frame_equal(part.drop(columns="point_key"),
                                  optimized_table.iloc[1:].reset_index(drop=True)
                                  .drop(columns="point_key"))
    ex = CountingExecutor()
    again = sweep(OPT_BASE, OPT_GRID, seed=3, executor=ex, pulses=OPT_PULSES, optimize=True,
                  out=out, resume=True, progress=False)
    assert ex.submitted == 1 and read_meta(out)["optimize"] is True
    pd.testing.assert_frame_equal(again, optimized_table)
    pd.testing.assert_frame_equal(pd.read_parquet(out), optimized_table)
    # a sweep without --optimize is another sweep
    with pytest.raises(ValueError, match="differs in optimize"):
        sweep(OPT_BASE, OPT_GRID, seed=3, executor="serial", pulses=OPT_PULSES, out=out,
              resume=True)


def test_optimize_and_convention_bad_input_submits_nothing(tmp_path):
    out = tmp_path / "r.parquet"
    ex = CountingExecutor()
    cases = [
        (dict(grid={"source.key_basis_prob": [0.5, 0.9]}, optimize=True),
         "source.key_basis_prob is what --optimize chooses"),
        (dict(grid={"channel.length_km": [50.0]}, convention="signal-only"),
         "convention applies to theory sweeps"),
        (dict(grid={"channel.length_km": [50.0]}, convention="all", theory=True),
         "convention = 'all' must be one of"),
        (dict(grid={"channel.length_km": [50.0]}, optimize="yes"), "optimize = 'yes'"),
    ]
    for kwargs, match in cases:
        grid = kwargs.pop("grid")
        with pytest.raises(ValueError, match=match):
            sweep(OPT_BASE, grid, executor=ex, out=str(out), pulses=10**8, progress=False,
                  **kwargs)
    # two intensities: refused when the scenario is built (Lim 2014 needs three),
    # so no optimizer or sweep ever sees it
    with pytest.raises(ValueError, match="source.intensities"):
        OPT_BASE.replace(**{"source.intensities": [0.5, 0.1], "source.intensity_probs": [0.5, 0.5]})
    other = load_scenario(os.path.join(ROOT, "examples", "teleportation.toml"))
    with pytest.raises(ValueError, match="teleportation job has no optimizer"):
        sweep(other, {"channel.loss_db": [40.0]}, executor=ex, optimize=True, progress=False)
    with pytest.raises(ValueError, match="convention applies to decoy-bb84"):
        sweep(other, {"channel.loss_db": [40.0]}, executor=ex, theory=True,
              convention="signal-only", progress=False)
    assert ex.submitted == 0 and not out.exists() and not (tmp_path / "r.parquet.parts").exists()


def test_cli_theory_sweep_with_convention_and_optimize(tmp_path, capsys):
    """--theory --convention signal-only --optimize --pulses 1e9: each row is
    the signal-only closed form at the parameters optimised for 1e9 pulses."""
    from qchannel.optimize import optimize

    out = str(tmp_path / "t.parquet")
    rc, stdout, err = _cli(["sweep", "--theory", "--convention", "signal-only", "--optimize",
                            "--pulses", "1e9", "--grid", "channel.length_km=60", "--out", out],
                           capsys)
    assert rc == 0 and err == "" and "1 points" in stdout
    row = pd.read_parquet(out).iloc[0]
    meta = read_meta(out)
    assert meta["convention"] == "signal-only" and meta["optimize"] and meta["pulses"] == 10**9
    sc = load_scenario(None).replace(**{"channel.length_km": 60.0})
    best = optimize(sc, pulses=10**9)
    want = theory.expect(sc.replace(**best["parameters"]), convention="signal-only")
    assert row["convention"] == "signal-only"
    assert row["key_rate_per_pulse"] == want["key_rate_per_pulse"]
    assert row["opt.key_rate_per_pulse"] == best["key_rate_per_pulse"]
    assert list(row["opt.source.intensities"]) == best["parameters"]["source.intensities"]
    # the Monte Carlo computes the all-intensities rate: no --convention there
    bad = str(tmp_path / "bad.parquet")
    rc, stdout, err = _cli(["sweep", "--convention", "signal-only", "--grid",
                            "channel.length_km=60", "--out", bad], capsys)
    assert rc == 2 and stdout == "" and "theory sweeps" in err and err.count("\n") == 1
    assert not os.path.exists(bad)


# --------------------------------------------------------------------------
# dask and MPI
# --------------------------------------------------------------------------
def test_dask_local_cluster_matches_serial(serial_table):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        df = sweep(BASE, GRID, seed=11, executor=client.get_executor(), pulses=PULSES,
                   progress=False)
    pd.testing.assert_frame_equal(df, serial_table)


def _mpi_skip_reason():
    if shutil.which("mpiexec") is None:
        return "mpiexec not found (apt-get install -y openmpi-bin libopenmpi-dev)"
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py not installed (pip install mpi4py)"
    return None


@pytest.mark.skipif(_mpi_skip_reason() is not None, reason=str(_mpi_skip_reason()))
def test_mpiexec_matches_serial(tmp_path, serial_table):
    out = str(tmp_path / "mpi.parquet")
    grid = ["--grid", "channel.length_km=120:160:20", "--grid", "detector.efficiency=0.1,0.2"]
    env = dict(ENV, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe")
    cmd = ["mpiexec", "-n", "3", sys.executable, "-m", "mpi4py.futures",
           os.path.join(ROOT, "examples", "hpc", "mpi_sweep.py"), "--seed", "11",
           "--pulses", str(PULSES), "--out", out] + grid
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out), serial_table)


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------
def _cli(argv, capsys):
    """``qchannel ARGV`` through the CLI's own entry point: (exit status,
    stdout, stderr).  argparse errors leave main() by SystemExit(2)."""
    from qchannel.cli import main

    try:
        rc = main(argv)
    except SystemExit as stop:
        rc = stop.code
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line_error(rc, out, err, fragment):
    assert rc == 2 and out == ""
    assert err.startswith("qchannel: error: ") and err.count("\n") == 1 and fragment in err, err


def test_cli_sweep_and_plot(tmp_path, capsys, serial_table):
    out = str(tmp_path / "r.parquet")
    rc, stdout, err = _cli(["sweep", "--grid", "channel.length_km=120:160:20", "--grid",
                            "detector.efficiency=0.1,0.2", "--seed", "11", "--pulses", str(PULSES),
                            "--executor", "serial", "--out", out], capsys)
    assert rc == 0 and err == "" and stdout.startswith("qchannel sweep: 6 points") and out in stdout
    assert read_meta(out)["seed"] == 11
    # the flags reached sweep(): the same table as the Python API's
    pd.testing.assert_frame_equal(pd.read_parquet(out), serial_table)
    png = str(tmp_path / "fig.png")
    rc, stdout, _ = _cli(["plot", out, "--x", "channel.length_km", "--y", "key_rate_per_pulse",
                          "--log-y", "-o", png], capsys)
    assert rc == 0 and stdout == f"qchannel plot: wrote {png}\n"
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    tout = str(tmp_path / "t.parquet")
    rc, stdout, _ = _cli(["sweep", "--theory", "--grid", "channel.length_km=0:200:50", "--out", tout],
                         capsys)
    assert rc == 0 and "5 points" in stdout
    t = pd.read_parquet(tout)
    assert list(t["channel.length_km"]) == [0, 50, 100, 150, 200]
    assert t["key_rate_per_pulse"].iloc[1] == theory.expect(
        BASE.replace(**{"channel.length_km": 50.0}))["key_rate_per_pulse"]
    png2 = str(tmp_path / "theory.png")
    assert _cli(["plot", tout, "--x", "channel.length_km", "--y", "key_rate_per_pulse",
                 "-o", png2], capsys)[0] == 0
    assert os.path.getsize(png2) > 0
    # bad input: one line on stderr, exit status 2, nothing written
    _one_line_error(*_cli(["plot", out, "--x", "channel.length_km", "--y", "nope", "-o", png], capsys),
                    "--y 'nope' is not a column")
    _one_line_error(*_cli(["plot", out, "--x", "channel.length_km", "--y", "abort_reason", "-o", png],
                          capsys), "not numeric")
    bad = str(tmp_path / "bad.parquet")
    _one_line_error(*_cli(["sweep", "--grid", "channel.length_km=0:10:0", "--out", bad], capsys), "step")
    assert not os.path.exists(bad) and not os.path.exists(bad + ".parts")
    _one_line_error(*_cli(["plot", str(tmp_path / "missing.parquet"), "--x", "a", "--y", "b",
                           "-o", png], capsys), "does not exist")
    _one_line_error(*_cli(["sweep", "--out", bad], capsys), "--grid")      # argparse: required
