"""Entanglement rate versus link probability on a grid: single path versus
multipath with global link-state knowledge versus local knowledge, in the
memoryless model of Pant, Krovi, Towsley et al., "Routing entanglement in
the quantum internet", npj Quantum Information 5, 25 (2019) (their rate
versus p comparison on a square grid, here with swap success q = 1 and 0.9).

Alice and Bob sit on the middle row of a 7 x 7 grid, 4 hops apart, so
multipath can route around missing links.  The single-path curve is checked
against its closed form p^d q^(d-1); multipath rises steeply near the bond
percolation threshold of the square lattice (p = 1/2), as in the paper.

Run: ``python examples/routing_pant2019.py [out.png]`` (about 10 s).
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import qchannel  # noqa: E402
from qchannel import jobs  # noqa: E402
from qchannel.jobs.routing import grid_tables  # noqa: E402

SIDE, ALICE, BOB, SLOTS = 7, "n3_1", "n3_5", 20_000
PROBS = np.round(np.arange(0.1, 1.0001, 0.1), 2)
POLICIES = {"single-path": "single path (shortest)", "multipath": "multipath, global knowledge",
            "local": "local knowledge"}


def rates(policy, q):
    out = []
    for p in PROBS:
        sc = jobs.from_dict(grid_tables(SIDE, float(p), [[ALICE, BOB]], policy=policy,
                                        slots=SLOTS, swap_prob=q, seed=2019))
        out.append(qchannel.run_scenario(sc).to_dict()["requests"][0]["rate_per_slot"])
    return np.array(out)


def main(path="routing_pant2019.png"):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, q in zip(axes, (1.0, 0.9)):
        for policy, label in POLICIES.items():
            r = rates(policy, q)
            ax.semilogy(PROBS, np.where(r > 0, r, np.nan), "o-", label=label)
            print(f"q = {q}, {policy}: " + ", ".join(f"{x:.3g}" for x in r))
        ax.semilogy(PROBS, PROBS**4 * q**3, "k--", label="p^d q^(d-1), d = 4")
        ax.set_xlabel("link success probability p")
        ax.set_title(f"{SIDE}x{SIDE} grid, users 4 hops apart, q = {q}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("entangled pairs per time slot")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
