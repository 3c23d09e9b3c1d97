"""
A satellite pass: loss, elevation and key per bin
=================================================

The Micius downlink of 19 December 2016 to Xinglong
(``examples/micius-downlink.toml``: a real TLE through ``sgp4``, Gaussian-beam
diffraction, extinction, turbulence, pointing jitter and fading; the loss is
held to Liao et al., Nature 549, 43 (2017), Fig. 3 in the validation table).
Top: elevation and channel loss per report bin (Monte Carlo, with fading)
and per time bin of the analytic twin (mean transmittance). Bottom: the
sifted rate of the Monte Carlo and the twin's asymptotic secret key rate
per bin; the finite key is computed once over the whole pass.

Run size: the example as published (100 MHz) with 1 s bins of constant
transmittance and 10 s report bins; about 4e10 pulses, a second or two.
"""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import qchannel
from qchannel import jobs

ROOT = Path(qchannel.__file__).resolve().parent.parent
sc = qchannel.load_scenario(ROOT / "examples" / "micius-downlink.toml")
sc = sc.replace(**{"run.time_bin_s": 1.0, "run.report_bin_s": 10.0})
result = qchannel.run_scenario(sc).to_dict()
twin = jobs.job_for(sc).theory(sc, "infinite")

mc = {k: np.array([b[k] for b in result["bins"]], dtype=float) for k in result["bins"][0]}
th = {k: np.array([b[k] if b[k] is not None else np.nan for b in twin["bins"]], dtype=float)
      for k in ("t_s", "elevation_deg", "loss_db", "secret_key_rate_bps")}
p = result["pass"]
print(f"pass: {p['duration_s']:.0f} s, closest {p['min_range_km']:.0f} km, "
      f"max elevation {p['max_elevation_deg']:.1f} deg, mean loss {p['mean_loss_db']:.1f} dB")
print(f"Monte Carlo: {result['pulses']:.3g} pulses, {result['detections']} detections, "
      f"QBER {result['qber']:.4f}, finite key {result['secret_key_bits']} bits")

fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True)
ax1.plot(th["t_s"], th["loss_db"], "C0-", lw=1, label="loss, twin (mean, per 1 s bin)")
ax1.plot(mc["t_s"], mc["loss_db"], "C0o", ms=3, label="loss, Monte Carlo (per 10 s bin)")
ax1.set_ylabel("channel loss (dB)")
ax1.invert_yaxis()
axe = ax1.twinx()
axe.plot(th["t_s"], th["elevation_deg"], "C2--", label="elevation")
axe.set_ylabel("elevation (deg)", color="C2")
ax1.legend(loc="lower center", fontsize=8)
ax2.semilogy(mc["t_s"], mc["sifted_rate_bps"], "C1o-", ms=3, label="sifted rate, Monte Carlo")
ax2.semilogy(th["t_s"], np.where(th["secret_key_rate_bps"] > 0, th["secret_key_rate_bps"],
                                 np.nan), "C3-", label="secret key rate, twin (asymptotic)")
ax2.set_xlabel("time since the pass starts (s)")
ax2.set_ylabel("bit/s")
ax2.set_title(f"finite key over the pass: {result['secret_key_bits']} bits", fontsize=10)
ax2.legend(fontsize=8)
fig.tight_layout()
