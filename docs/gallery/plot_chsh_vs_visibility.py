"""
CHSH S versus source visibility (BBM92)
=======================================

An SPDC source shared over two fiber arms (``examples/bbm92_fiber.toml``),
swept over the two-photon visibility. Points: the CHSH S the Monte Carlo
measures on its test rounds, with its standard error; line: the exact
click model of the analytic twin (accidentals and squashing included).
The local-realist limit is 2, Tsirelson's bound 2 sqrt 2; a Werner state of
visibility V gives 2 sqrt 2 V.

Run size: 5e7 pair slots per point (a tenth of them CHSH test rounds), each
point with its own seed.
"""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import qchannel
from qchannel import jobs

ROOT = Path(qchannel.__file__).resolve().parent.parent
base = qchannel.load_scenario(ROOT / "examples" / "bbm92_fiber.toml")
job = jobs.job_for(base)
PULSES = 5 * 10**7

visibilities = np.linspace(0.64, 1.0, 7)
s_mc, s_err, s_th = [], [], []
for i, v in enumerate(visibilities):
    sc = base.replace(**{"source.visibility": float(v), "run.pulses": PULSES,
                         "run.seed": 100 + i})
    r = qchannel.run_scenario(sc).to_dict()
    s_mc.append(r["chsh_s"])
    s_err.append(r["chsh_s_std"])
    s_th.append(job.theory(sc, None)["chsh_s"])
    print(f"V = {v:.2f}: S = {r['chsh_s']:.3f} +- {r['chsh_s_std']:.3f} "
          f"(twin {s_th[-1]:.3f}), QBER {r['qber']:.4f}")

fig, ax = plt.subplots(figsize=(7, 4.5))
ax.errorbar(visibilities, s_mc, yerr=s_err, fmt="C0o", capsize=3, label="Monte Carlo")
ax.plot(visibilities, s_th, "C0-", label="analytic twin (click model)")
ax.plot(visibilities, 2 * np.sqrt(2) * visibilities, "k:", label="Werner state: 2 sqrt(2) V")
ax.axhline(2.0, color="C3", ls="--", label="local realism: S = 2")
ax.axhline(2 * np.sqrt(2), color="grey", ls="-.", label="Tsirelson: 2 sqrt(2)")
ax.set_xlabel("source visibility V")
ax.set_ylabel("CHSH S")
ax.legend(fontsize=8)
fig.tight_layout()
