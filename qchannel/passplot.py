"""Figure of a free-space or satellite pass: loss and key rate against time
and elevation, the Monte Carlo beside the closed-form expectation per bin."""
from types import SimpleNamespace

import numpy as np


def bin_theory_key_rate(report, decoy="infinite"):
    """Asymptotic secret key rate (bit/s) per report bin from qchannel.theory,
    for the bin's mean loss and background."""
    from qchannel import theory

    sc = report["scenario"]
    out = []
    for b in report["bins"]:
        pdc = 1.0 - (1.0 - sc["detector"]["dark_count_prob"]) * (1.0 - b["background_click_prob"])
        ns = SimpleNamespace(
            source=SimpleNamespace(**sc["source"]),
            channel=SimpleNamespace(length_km=0.0, attenuation_db_per_km=0.0,
                                    extra_loss_db=b["loss_db"],
                                    misalignment=sc["channel"]["misalignment"]),
            detector=SimpleNamespace(**{**sc["detector"], "dark_count_prob": pdc}),
            postprocess=SimpleNamespace(**sc["postprocess"]))
        out.append(theory.expect(ns, decoy=decoy)["secret_key_rate_bps"])
    return np.array(out)


def plot_pass(report, output):
    """Write a two-panel PNG: loss (with elevation) and rates against time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = report["bins"]
    if not bins:
        raise ValueError("the run has no time bins to plot")
    t = np.array([b["t_s"] for b in bins])
    el = np.array([b["elevation_deg"] for b in bins])
    loss = np.array([b["loss_db"] for b in bins])
    sampled = np.array([b["sampled_loss_db"] for b in bins])
    sifted = np.array([b["sifted_rate_bps"] or 0.0 for b in bins])
    key_th = bin_theory_key_rate(report)

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    ax1.plot(t, loss, label="mean channel loss")
    ax1.plot(t, sampled, lw=0.6, alpha=0.7, label="with fading (sampled)")
    ax1.set_ylabel("loss (dB)")
    ax1.invert_yaxis()
    ax1.legend(loc="upper left")
    axe = ax1.twinx()
    axe.plot(t, el, "k--", lw=0.8)
    axe.set_ylabel("elevation (deg), dashed")
    ax2.semilogy(t, np.where(sifted > 0, sifted, np.nan), label="sifted key rate (Monte Carlo)")
    ax2.semilogy(t, np.where(key_th > 0, key_th, np.nan),
                 label="asymptotic secret key rate (theory, per bin)")
    total = report["secret_key_rate_bps"]
    if total > 0:
        ax2.axhline(total, color="g", ls=":", label="finite-key secret key rate, whole pass")
    ax2.set_xlabel("time since the start of the pass (s)")
    ax2.set_ylabel("rate (bit/s)")
    ax2.legend(loc="lower center", fontsize=8)
    sc = report["scenario"]["channel"]
    fig.suptitle(f"{sc['type']} pass: {report['pass']['duration_s']:.0f} s, "
                 f"closest {report['pass']['min_range_km']:.0f} km, "
                 f"{report['secret_key_bits']} secret bits")
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    plt.close(fig)
    return output
