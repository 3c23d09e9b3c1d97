"""A qchannel sweep over MPI ranks with mpi4py.futures.

Rank 0 runs this script (the driver: it alone writes the output); the other
ranks are workers.  Run it with

    mpiexec -n 3 python -m mpi4py.futures examples/hpc/mpi_sweep.py \
        --grid channel.length_km=0:200:10 --grid detector.efficiency=0.1,0.2 \
        --pulses 1e9 --seed 7 --out results.parquet [--resume] [scenario.toml]

(``-n K`` gives K - 1 workers).  As root inside a container, OpenMPI also
needs ``--allow-run-as-root`` and, with more ranks than cores,
``--oversubscribe``.  The same sweep through the CLI, once it is wired:
``mpiexec -n 3 python -m mpi4py.futures -m qchannel sweep ... --executor mpi``.
"""
import argparse
import sys

from mpi4py.futures import MPIPoolExecutor

from qchannel.scenario import load_scenario
from qchannel.sweep import parse_grid, sweep


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenario", nargs="?")
    p.add_argument("--grid", action="append", required=True, metavar="KEY=VALUES")
    p.add_argument("--seed", type=int)
    p.add_argument("--pulses", type=float)
    p.add_argument("--out", required=True)
    p.add_argument("--resume", action="store_true")
    a = p.parse_args(argv)
    pulses = None if a.pulses is None else int(a.pulses)
    with MPIPoolExecutor() as executor:
        df = sweep(load_scenario(a.scenario), parse_grid(a.grid), seed=a.seed, pulses=pulses,
                   executor=executor, out=a.out, resume=a.resume, progress=False)
    print(f"{len(df)} points -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
