"""
An eavesdropper caught
======================

Decoy BB84 over 25 km of fiber (``examples/eavesdropper.toml``) with Eve
running an intercept-resend attack on a growing fraction of the pulses.
Each attacked sifted bit is wrong with probability about 1/4, so the QBER
grows as roughly e_0 + f/4; the Lim et al. (2014) finite key shrinks and
aborts well before Eve knows much. The Monte Carlo also tallies what Eve
actually knows (her bits are in the records), so the secret key can be
checked against her real knowledge.

The photon-number-splitting attack of the example itself raises no QBER:
there the decoy-state bounds shrink the key instead, and Eve's guesses of
the final key are no better than chance (see the text output).

Run size: 1e8 pulses per point.
"""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import qchannel

ROOT = Path(qchannel.__file__).resolve().parent.parent
base = qchannel.load_scenario(ROOT / "examples" / "eavesdropper.toml").replace(
    **{"run.pulses": 10**8})

fractions = np.array([0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0])
qber, key, known = [], [], []
for f in fractions:
    r = qchannel.run_scenario(base.replace(**{"eve.attack": "intercept-resend",
                                              "eve.fraction": float(f)})).to_dict()
    qber.append(r["qber"])
    key.append(r["secret_key_bits"])
    known.append(r["eve_knowledge"]["known_fraction"])
    print(f"fraction {f:.2f}: QBER {r['qber']:.4f}, Eve knows {known[-1]:.3f} of the sifted "
          f"bits, key {r['secret_key_bits']} bits"
          + (f" (aborted: {r['abort_reason']})" if r["aborted"] else ""))

pns = qchannel.run_scenario(base).to_dict()
print(f"PNS on half of the pulses: QBER {pns['qber']:.4f}, Eve knows "
      f"{pns['eve_knowledge']['known_fraction']:.3f} of the sifted bits, key "
      f"{pns['secret_key_bits']} bits, Eve guesses {pns['eve_info_final_key']['correct_fraction']:.4f} "
      f"of the final key bits (1/2 is no knowledge)")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
ax1.plot(fractions, qber, "C0o", label="Monte Carlo QBER")
ax1.plot(fractions, qber[0] + fractions / 4, "k:", label="e_0 + f/4 (guide)")
ax1.plot(fractions, known, "C1s", label="fraction of sifted bits Eve knows")
ax1.set_xlabel("fraction of pulses attacked")
ax1.set_ylabel("QBER; fraction Eve knows")
ax1.legend(fontsize=8)
ax2.plot(fractions, key, "C3o-")
ax2.set_xlabel("fraction of pulses attacked")
ax2.set_ylabel("finite secret key (bits)")
ax2.set_title("no key once Eve is noticed", fontsize=10)
fig.tight_layout()
