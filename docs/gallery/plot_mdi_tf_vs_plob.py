"""
MDI-QKD and twin-field QKD against the PLOB bound
=================================================

Key per pulse versus total Alice-Bob distance for the two relay protocols
(``examples/mdi_yin2016.toml`` and ``examples/tf_sns_300km.toml``, Charlie
midway), from their analytic twins (infinite decoys and the three-intensity
bound), against PLOB -log2(1 - eta) for the whole channel (the twin-field
example's fiber). MDI scales with
the channel transmittance eta, like every repeaterless link; twin-field with
sqrt(eta), so it crosses PLOB at long distance. One Monte Carlo point per
protocol (asymptotic key from the observed counts).

Run size: closed forms every 20 km; Monte Carlo 1e8 pulses (MDI, 40 km) and
1e8 pulses (TF, 150 km).
"""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import qchannel
from qchannel import jobs

ROOT = Path(qchannel.__file__).resolve().parent.parent
lengths = np.arange(20.0, 701.0, 20.0)
fig, ax = plt.subplots(figsize=(7, 4.5))
for name, file, color, mc_km in (("MDI-QKD", "mdi_yin2016.toml", "C0", 40.0),
                                 ("SNS twin-field", "tf_sns_300km.toml", "C3", 150.0)):
    sc = qchannel.load_scenario(ROOT / "examples" / file).replace(**{"postprocess.ec": "estimate"})
    job = jobs.job_for(sc)
    th = [job.theory(sc.replace(**{"channel.length_km": float(L)})) for L in lengths]
    inf = np.array([t["key_rate_per_pulse"] for t in th])
    three = np.array([t["key_rate_per_pulse_decoy"] for t in th])
    ax.semilogy(lengths, np.where(inf > 0, inf, np.nan), "-", color=color,
                label=f"{name}, infinite decoys")
    ax.semilogy(lengths, np.where(three > 0, three, np.nan), "--", color=color,
                label=f"{name}, decoy bound (scenario intensities)")
    d = job.run(sc.replace(**{"channel.length_km": mc_km, "run.pulses": 10**8})).to_dict()
    print(f"{name} at {mc_km:g} km: Monte Carlo {d['key_rate_per_pulse']:.3g} per pulse, "
          f"PLOB {d['plob_per_pulse']:.3g}")
    if d["key_rate_per_pulse"] > 0:
        ax.semilogy([mc_km], [d["key_rate_per_pulse"]], "o", color=color)
plob = [jobs.job_for(sc).theory(sc.replace(**{"channel.length_km": float(L)}))["plob_per_pulse"]
        for L in lengths]
ax.semilogy(lengths, plob, "k:", label="PLOB bound (whole channel)")
ax.set_xlabel("total Alice-Bob fiber (km)")
ax.set_ylabel("secret key per pulse")
ax.set_ylim(1e-12, 1)
ax.legend(fontsize=8)
fig.tight_layout()
