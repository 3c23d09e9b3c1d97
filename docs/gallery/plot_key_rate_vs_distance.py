"""
Key rate versus distance: Monte Carlo, theory and PLOB
======================================================

Decoy BB84 over fiber with the default source and detector (0.2 dB/km,
10 % detector efficiency, 6e-7 dark counts per gate). Points: the Monte
Carlo finite key (Lim et al. 2014) of ``qchannel.simulate``; lines: the
same finite key on the analytic twin's expected counts
(:func:`qchannel.optimize.expected_finite_key`), the twin's asymptotic rates
(:func:`qchannel.theory.expect`, infinite decoys and vacuum + weak decoy) and
the repeaterless PLOB bound -log2(1 - eta) for the same fiber.

Run size (kept small for the docs build): 1e9 pulses per distance, which is
why the finite key stops earlier than the 130 km of 1e10 pulses.
"""
import matplotlib.pyplot as plt
import numpy as np

import qchannel
from qchannel import theory
from qchannel.optimize import expected_finite_key

PULSES = 10**9
base = qchannel.Scenario.from_dict({})   # every default; leakage estimated (no real EC)

# %%
# The analytic twin and PLOB on a fine grid (each point is ~1 ms).
lengths = np.arange(0.0, 201.0, 5.0)
rate_inf, rate_vw, rate_fk, plob = [], [], [], []
for L in lengths:
    sc = base.replace(**{"channel.length_km": float(L)})
    rate_inf.append(theory.expect(sc, decoy="infinite")["key_rate_per_pulse"])
    rate_vw.append(theory.expect(sc, decoy="vacuum-weak")["key_rate_per_pulse"])
    fk, _ = expected_finite_key(sc, pulses=PULSES)
    rate_fk.append(fk.key_length / PULSES)
    eta = theory.channel_transmittance(L, sc.channel.attenuation_db_per_km)
    plob.append(theory.plob_bound(eta))

# %%
# The Monte Carlo: a finite key at a few distances (fixed seed).
mc_lengths = [10.0, 30.0, 50.0, 70.0, 90.0]
mc = []
for L in mc_lengths:
    r = qchannel.simulate(base.replace(**{"channel.length_km": L}), seed=1,
                          pulses=PULSES).to_dict()
    mc.append(r["key_rate_per_pulse"] if not r["aborted"] else np.nan)
    expected = expected_finite_key(base.replace(**{"channel.length_km": L}), PULSES)[0].key_length
    print(f"{L:5.0f} km: QBER {r['qber']:.4f}, finite key {r['secret_key_bits']} bits "
          f"(expected counts: {expected} bits)"
          + (f" (aborted: {r['abort_reason']})" if r["aborted"] else ""))

fig, ax = plt.subplots(figsize=(7, 4.5))
ax.semilogy(lengths, plob, "k:", label="PLOB bound (repeaterless)")
ax.semilogy(lengths, np.where(np.array(rate_inf) > 0, rate_inf, np.nan), "C0-",
            label="theory: infinite decoys (asymptotic)")
ax.semilogy(lengths, np.where(np.array(rate_vw) > 0, rate_vw, np.nan), "C1--",
            label="theory: vacuum + weak decoy (asymptotic)")
ax.semilogy(lengths, np.where(np.array(rate_fk) > 0, rate_fk, np.nan), "C3-", lw=1,
            label=f"finite key on expected counts, {PULSES:.0e} pulses")
ax.semilogy(mc_lengths, mc, "C3o", label=f"Monte Carlo finite key, {PULSES:.0e} pulses")
ax.set_xlabel("fiber length (km)")
ax.set_ylabel("secret key per pulse")
ax.set_ylim(1e-8, 1)
ax.legend()
fig.tight_layout()
