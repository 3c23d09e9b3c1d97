"""Wavelength plan for a quantum channel sharing fiber with classical data:
O-band quantum (1310 nm) with C-band data versus both in the C-band, over
the data launch power.  Which plan keeps a key at 50 km with 0 dBm of data?

    python examples/coexistence_wavelength_plan.py [-o coexistence_wavelength_plan.png]
                                                   [--length-km 50] [--mc]

The links are examples/coexistence_oband.toml and coexistence_cband.toml
(co-propagating data at 1550.12 nm and a counter-propagating return channel
3 dB weaker); the launch power of both classical channels is swept.  Curves
are the closed form (qchannel theory: asymptotic decoy key, infinite decoys);
with --mc, Monte Carlo points (1e9 pulses each, finite key) at a few powers.
"""
import argparse
import pathlib

import numpy as np

from qchannel import load_scenario, run_scenario, theory

HERE = pathlib.Path(__file__).resolve().parent
PLANS = {"O-band quantum (1310 nm), C-band data": "coexistence_oband.toml",
         "C-band quantum (1547.72 nm), C-band data": "coexistence_cband.toml"}


def at_power(scenario, power_dbm, length_km):
    return scenario.replace(**{"channel.length_km": length_km,
                               "channel.classical[0].power_dbm": power_dbm,
                               "channel.classical[1].power_dbm": power_dbm - 3.0})


def sweep(scenario, powers_dbm, length_km):
    rows = []
    for p in powers_dbm:
        d = theory.expect(at_power(scenario, p, length_km))
        rows.append((p, d["noise_photons_per_gate"], d["qber_x"], d["secret_key_rate_bps"]))
    return np.array(rows, dtype=float)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default="coexistence_wavelength_plan.png")
    ap.add_argument("--length-km", type=float, default=50.0)
    ap.add_argument("--mc", action="store_true", help="add Monte Carlo points (slower)")
    args = ap.parse_args()
    powers = np.arange(-30.0, 10.01, 1.0)
    results = {}
    for name, path in PLANS.items():
        sc = load_scenario(HERE / path)
        table = sweep(sc, powers, args.length_km)
        results[name] = (sc, table)
        at0 = table[np.argmin(np.abs(table[:, 0]))]
        print(f"{name}: attenuation {sc.channel.attenuation_db_per_km:.3f} dB/km; at 0 dBm over "
              f"{args.length_km:g} km: {at0[1]:.3g} noise photons/gate, QBER {at0[2]:.2%}, "
              f"key {at0[3]:.4g} bit/s -> {'KEY' if at0[3] > 0 else 'NO KEY'}")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for (name, (sc, t)), color in zip(results.items(), ("C0", "C3")):
        key = np.where(t[:, 3] > 0, t[:, 3], np.nan)
        axes[0].semilogy(t[:, 0], key, color=color, label=name)
        axes[1].plot(t[:, 0], 100 * t[:, 2], color=color, label=name)
        if args.mc:
            for p in (-20.0, -10.0, 0.0):
                r = run_scenario(at_power(sc, p, args.length_km).replace(**{"run.pulses": 10**9})).to_dict()
                if r["secret_key_rate_bps"] > 0:
                    axes[0].semilogy([p], [r["secret_key_rate_bps"]], "o", color=color)
                axes[1].plot([p], [100 * r["qber"]], "o", color=color)
    axes[0].axvline(0.0, color="grey", lw=0.8, ls="--")
    axes[0].set(xlabel="data launch power per channel (dBm)", ylabel="secret key rate (bit/s)",
                title=f"{args.length_km:g} km of SSMF, decoy BB84 at 1 GHz")
    axes[1].set(xlabel="data launch power per channel (dBm)", ylabel="QBER, X basis (%)",
                title="noise from Raman scattering and leakage")
    axes[0].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
