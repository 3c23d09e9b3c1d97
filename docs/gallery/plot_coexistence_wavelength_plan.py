"""
A quantum channel sharing fiber with classical data
===================================================

Which wavelength plan keeps a key at 50 km when 0 dBm of classical data
share the fiber? ``examples/coexistence_oband.toml`` puts the quantum signal
in the O-band (1310 nm, more fiber loss, far from the data's Raman
spectrum), ``coexistence_cband.toml`` next to the data in the C-band
(1547.72 nm). The data channel (1550.12 nm, co-propagating) and a return
channel 3 dB weaker are swept in launch power; curves are the closed form
(spontaneous Raman, four-wave mixing and leakage noise added to the dark
counts; asymptotic decoy key), the same model the Monte Carlo uses.

Run size: closed forms only (41 powers per plan, milliseconds each); the
example script adds Monte Carlo points with ``--mc``.
"""
import importlib.util
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import qchannel

ROOT = Path(qchannel.__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location(
    "plan", ROOT / "examples" / "coexistence_wavelength_plan.py")
plan = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plan)

powers = np.arange(-30.0, 10.01, 1.0)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for (name, file), color in zip(plan.PLANS.items(), ("C0", "C3")):
    table = plan.sweep(qchannel.load_scenario(ROOT / "examples" / file), powers, 50.0)
    at0 = table[np.argmin(np.abs(table[:, 0]))]
    print(f"{name}: at 0 dBm, {at0[1]:.3g} noise photons per gate, QBER {at0[2]:.2%}, "
          f"key {at0[3]:.4g} bit/s")
    axes[0].semilogy(table[:, 0], np.where(table[:, 3] > 0, table[:, 3], np.nan), color=color,
                     label=name)
    axes[1].plot(table[:, 0], 100 * table[:, 2], color=color, label=name)
axes[0].axvline(0.0, color="grey", lw=0.8, ls="--")
axes[0].set(xlabel="data launch power (dBm)", ylabel="secret key rate (bit/s)")
axes[1].set(xlabel="data launch power (dBm)", ylabel="QBER, X basis (%)")
axes[0].legend(fontsize=8)
fig.tight_layout()
