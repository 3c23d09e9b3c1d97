"""
Post-processing throughput
==========================

The classical stages on real bits, each called alone
(:mod:`qchannel.postprocess`): Cascade error correction (schedule
"option7") at three QBERs, with its efficiency f = leaked / (n h(Q)), then
verification and Toeplitz privacy amplification. Bob's bits are Alice's
with independent flips drawn from ``qchannel.rng`` streams (no global RNG).

The rates are measured on the machine that built this page, in one run,
during the build: they are indicative only (``bench/`` holds the medians;
see the performance page).

Run size: 2^20 bits per reconciliation, 1e6 and 1e7 bits hashed.
"""
import time

import matplotlib.pyplot as plt
import numpy as np

from qchannel import postprocess, rng

N = 2**20
alice = rng.bits(1, rng.Purpose.SAMPLING, 0, N)
rows = []
for q in (0.01, 0.03, 0.05):
    flips = (rng.uniform(2, rng.Purpose.SAMPLING, 0, N) < q).astype(np.uint8)
    bob = alice ^ flips
    t0 = time.perf_counter()
    res = postprocess.reconcile(alice, bob, qber=q, method="cascade", seed=5)
    dt = time.perf_counter() - t0
    check = postprocess.verify(alice, res.bob_corrected, 1e-15, seed=11)
    rows.append((q, N / dt / 1e6, res.efficiency))
    print(f"Cascade at QBER {q:.0%}: {N / dt / 1e6:.1f} Mbit/s, f = {res.efficiency:.3f}, "
          f"{res.leaked_bits} bits disclosed; verification: keys match {check.match}")

pa = []
for n in (10**6, 10**7):
    bits = rng.bits(3, rng.Purpose.PRIVACY_AMPLIFICATION, 0, n)
    t0 = time.perf_counter()
    out = postprocess.privacy_amplify(bits, n // 2, seed=9)
    dt = time.perf_counter() - t0
    pa.append((n, n / dt / 1e6))
    print(f"privacy amplification {n:.0e} -> {out.size:.0e} bits: {n / dt / 1e6:.0f} Mbit/s")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
ax1.bar([f"{q:.0%}" for q, _, _ in rows], [r for _, r, _ in rows], color="C0")
for k, (_, r, f) in enumerate(rows):
    ax1.text(k, r, f"f = {f:.3f}", ha="center", va="bottom", fontsize=8)
ax1.set_xlabel("QBER")
ax1.set_ylabel("Cascade throughput (Mbit/s)")
ax2.bar([f"{n:.0e} bits" for n, _ in pa], [r for _, r in pa], color="C2")
ax2.set_ylabel("privacy amplification (Mbit/s in)")
fig.suptitle("one core, measured during the docs build", fontsize=10)
fig.tight_layout()
