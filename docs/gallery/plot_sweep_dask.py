"""
A sweep on Dask, and its plot
=============================

``qchannel.sweep.sweep`` runs a scenario at every point of a grid on any
``concurrent.futures.Executor``. Here a local ``dask.distributed`` cluster
(two worker processes; on SLURM, ``dask_jobqueue.SLURMCluster`` gives the
same ``Client``: see the sweeps page) runs decoy BB84 over fiber at several
lengths and two detector efficiencies; each point's seed derives from the
root seed and the point itself, so the table is identical on any executor.
Lines: the same finite key on the analytic twin's expected counts
(:func:`qchannel.optimize.expected_finite_key`), and a theory sweep
(``theory=True``: the twin's asymptotic vacuum + weak decoy rate, dashed).

Run size: 2e8 pulses per point, 8 points (the finite key of so short a run
ends near 60 km).
"""
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client, LocalCluster

import qchannel
from qchannel.optimize import expected_finite_key
from qchannel.sweep import sweep

GRID = {"detector.efficiency": [0.1, 0.2], "channel.length_km": [10, 25, 40, 55]}
PULSES = 2 * 10**8


def run_sweeps():
    base = qchannel.Scenario.from_dict({})   # every default; leakage estimated (no real EC)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        mc = sweep(base, GRID, seed=7, pulses=PULSES, executor=client.get_executor(),
                   progress=False)
    th = sweep(base, {"detector.efficiency": GRID["detector.efficiency"],
                      "channel.length_km": list(np.arange(0.0, 101.0, 5.0))},
               theory=True, decoy="vacuum-weak", progress=False)
    return mc, th


def plot(mc, th):
    base = qchannel.Scenario.from_dict({})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, eff in enumerate(GRID["detector.efficiency"]):
        m = mc[mc["detector.efficiency"] == eff]
        t = th[th["detector.efficiency"] == eff]
        lengths = np.arange(0.0, 80.0, 2.0)
        fk = [expected_finite_key(base.replace(**{"detector.efficiency": eff,
                                                  "channel.length_km": float(L)}),
                                  PULSES)[0].key_length / PULSES for L in lengths]
        ax.semilogy(lengths, np.where(np.array(fk) > 0, fk, np.nan), f"C{i}-",
                    label=f"finite key, expected counts, efficiency {eff}")
        ax.semilogy(t["channel.length_km"], t["key_rate_per_pulse"].where(t["key_rate_per_pulse"] > 0),
                    f"C{i}--", lw=0.8, label=f"asymptotic (theory sweep), efficiency {eff}")
        ax.semilogy(m["channel.length_km"], m["key_rate_per_pulse"].where(~m["aborted"]),
                    f"C{i}o", label=f"Monte Carlo on Dask, efficiency {eff}")
    ax.set_xlabel("fiber length (km)")
    ax.set_ylabel("secret key per pulse")
    ax.set_xlim(0, 100)
    ax.set_ylim(1e-5, 3e-2)
    ax.legend(fontsize=7)
    fig.tight_layout()


# Worker processes are spawned: the work runs only in the main module.
if __name__ == "__main__":
    mc, th = run_sweeps()
    print(mc[["detector.efficiency", "channel.length_km", "qber", "secret_key_bits",
              "key_rate_per_pulse", "seed"]].to_string(index=False))
    plot(mc, th)
