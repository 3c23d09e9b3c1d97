"""A qchannel sweep on a SLURM cluster through dask-jobqueue.

The driver (this script) runs on a login node or in a small job; dask-jobqueue
submits SLURM jobs that start dask workers; the sweep sends points to them
through ``client.get_executor()``.  Only the driver writes the output, so the
result file needs no shared locking, and ``--resume`` continues a sweep whose
driver or workers were killed (e.g. by the wall-clock limit).

    pip install "qchannel[sweep]" dask-jobqueue      # on the cluster
    python examples/hpc/slurm_dask.py scenario.toml \
        --grid channel.length_km=0:250:5 --grid detector.efficiency=0.1,0.2,0.3 \
        --pulses 1e11 --seed 7 --jobs 8 --out sweep.parquet [--resume]

Adapt ``queue``, ``account``, ``cores``/``memory`` and ``walltime`` to your
site.  Each worker process runs one point at a time (one core: the
simulation is single-threaded), so ``processes = cores``.
"""
import argparse
import sys

from qchannel.scenario import load_scenario
from qchannel.sweep import parse_grid, sweep


def main(argv=None):
    p = argparse.ArgumentParser(description="qchannel sweep on SLURM via dask-jobqueue")
    p.add_argument("scenario", nargs="?")
    p.add_argument("--grid", action="append", required=True, metavar="KEY=VALUES")
    p.add_argument("--seed", type=int)
    p.add_argument("--pulses", type=float)
    p.add_argument("--out", required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--jobs", type=int, default=4, help="SLURM jobs (each a dask worker group)")
    p.add_argument("--cores", type=int, default=32, help="cores per job")
    p.add_argument("--memory", default="64GB", help="memory per job")
    p.add_argument("--walltime", default="04:00:00")
    p.add_argument("--queue", default=None, help="SLURM partition")
    p.add_argument("--account", default=None)
    a = p.parse_args(argv)

    from dask.distributed import Client
    from dask_jobqueue import SLURMCluster

    cluster = SLURMCluster(
        queue=a.queue, account=a.account,
        cores=a.cores, processes=a.cores,          # one single-threaded process per core
        memory=a.memory, walltime=a.walltime,
        job_extra_directives=["--signal=B:TERM@120"],  # leave time to finish a point
        worker_extra_args=["--lifetime", "55m", "--lifetime-stagger", "4m"],
        local_directory="$TMPDIR",
        log_directory="dask-logs",
    )
    cluster.scale(jobs=a.jobs)          # or cluster.adapt(minimum_jobs=1, maximum_jobs=a.jobs)
    pulses = None if a.pulses is None else int(a.pulses)
    with Client(cluster) as client:
        print(f"dashboard: {client.dashboard_link}", file=sys.stderr)
        df = sweep(load_scenario(a.scenario), parse_grid(a.grid), seed=a.seed, pulses=pulses,
                   executor=client.get_executor(), out=a.out, resume=a.resume)
    cluster.close()
    print(f"{len(df)} points -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
