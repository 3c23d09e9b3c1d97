"""
Routing entanglement on a grid of quantum routers
=================================================

Pairs per time slot between two users four hops apart on a 7 x 7 grid, in
the memoryless model of Pant et al., npj Quantum Information 5, 25 (2019):
single-path routing follows its closed form p^d q^(d-1); multipath routing
with global link-state knowledge routes around missing links and rises
steeply near the square lattice's bond-percolation threshold p = 1/2.

Run size: 2000 slots per point (the example script
``examples/routing_pant2019.py`` uses 20 000 and two swap probabilities).
"""
import importlib.util
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import qchannel

ROOT = Path(qchannel.__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("pant", ROOT / "examples" / "routing_pant2019.py")
pant = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pant)
pant.SLOTS = 2000

fig, ax = plt.subplots(figsize=(7, 4.5))
for policy in ("single-path", "multipath"):
    r = pant.rates(policy, 1.0)
    print(f"{policy}: " + ", ".join(f"{x:.3g}" for x in r))
    ax.semilogy(pant.PROBS, np.where(r > 0, r, np.nan), "o-", label=pant.POLICIES[policy])
ax.semilogy(pant.PROBS, pant.PROBS ** 4, "k--", label="p^d, d = 4 (single path, q = 1)")
ax.set_xlabel("link success probability p")
ax.set_ylabel("entangled pairs per time slot")
ax.legend(fontsize=8)
fig.tight_layout()
