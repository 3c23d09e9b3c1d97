#!/bin/bash
# A whole qchannel sweep inside ONE SLURM allocation (no dask-jobqueue):
# a dask scheduler and workers on the allocated nodes, the driver on the
# first node.  Resubmit the same script after a timeout: --resume skips the
# finished points.  Submit with:  sbatch examples/hpc/slurm_job.sh scenario.toml
#SBATCH --job-name=qchannel-sweep
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=32
#SBATCH --cpus-per-task=1
#SBATCH --mem=64G
#SBATCH --time=04:00:00
#SBATCH --signal=B:TERM@120
#SBATCH --output=qchannel-sweep-%j.log
set -euo pipefail

SCENARIO=${1:-}
OUT=${OUT:-sweep.parquet}
# module load python/3.11          # site specific
# source ~/venvs/qchannel/bin/activate

SCHED=$PWD/scheduler-$SLURM_JOB_ID.json
dask scheduler --scheduler-file "$SCHED" --no-dashboard &
SCHED_PID=$!
while [ ! -s "$SCHED" ]; do sleep 1; done

# one single-threaded worker per task, on every node
srun --ntasks=$SLURM_NTASKS --cpus-per-task=1 \
     dask worker --scheduler-file "$SCHED" --nthreads 1 --nworkers 1 \
     --memory-limit 2GB --local-directory "${TMPDIR:-/tmp}" &
WORKERS_PID=$!

# the driver: only it writes $OUT (and $OUT.parts/ while running)
python -m qchannel sweep $SCENARIO \
    --grid channel.length_km=0:250:5 \
    --grid detector.efficiency=0.1,0.2,0.3 \
    --pulses 1e11 --seed 7 \
    --executor dask:"$SCHED" \
    --out "$OUT" --resume

kill $WORKERS_PID $SCHED_PID 2>/dev/null || true
rm -f "$SCHED"
