"""Figures of sweep results (matplotlib, Agg backend: no display needed).

``plot_sweep("results.parquet", x="channel.length_km", y="key_rate_per_pulse",
log_y=True, output="fig.png")`` draws FIELD against KEY, one line per
combination of the other grid keys.  For a Monte Carlo sweep it overlays the
analytic expectation (``theory.expect`` at the same points, dashed) where the
field is one theory gives, and for a key rate per pulse the PLOB bound
(dotted).
"""
import math
import os

# Fields that theory.expect also gives, so an MC sweep can be compared with it.
THEORY_FIELDS = ("key_rate_per_pulse", "secret_key_rate_bps", "qber", "qber_z",
                 "plob_per_pulse", "tgw_per_pulse", "transmittance")
PER_PULSE_RATES = ("key_rate_per_pulse", "key_rate_per_signal_pulse")


def _load(results):
    import pandas as pd

    from qchannel.sweep.store import read_meta

    if isinstance(results, pd.DataFrame):
        return results, None
    path = os.fspath(results)
    if not os.path.exists(path):
        raise ValueError(f"{path} does not exist")
    meta = read_meta(path)
    return pd.read_parquet(path), meta


def _theory_column(df, meta, field, decoy):
    """theory.expect(field) at every row's point (None where undefined)."""
    from qchannel import theory
    from qchannel.scenario import Scenario

    base = Scenario.from_dict(meta["scenario"])
    keys = [k for k in meta.get("grid_keys", []) if k in df.columns]
    out = []
    for _, row in df[keys].iterrows():
        over = {k: (list(v) if hasattr(v, "__len__") and not isinstance(v, str) else
                    v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        try:
            v = theory.expect(base.replace(**over), decoy=decoy).get(field)
        except ValueError:
            v = None
        out.append(math.nan if v is None else float(v))
    return out


def plot_sweep(results, x, y, log_y=False, output="sweep.png", decoy="infinite",
               overlay=True):
    """Draw ``y`` against ``x`` from a sweep's Parquet file (or DataFrame);
    write ``output``.  Raises ValueError with a one-line message on bad input."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    df, meta = _load(results)
    if df.empty:
        raise ValueError("the result file has no rows")
    for name, col in (("--x", x), ("--y", y)):
        if col not in df.columns:
            shown = [c for c in df.columns if c != "point_key"][:30]
            raise ValueError(f"{name} {col!r} is not a column; columns: {', '.join(shown)}")
    for name, col in (("--x", x), ("--y", y)):
        kind = df[col].dtype.kind
        if kind not in "iufb":
            raise ValueError(f"{name} {col!r} is not numeric (dtype {df[col].dtype})")
    grid_keys = (meta or {}).get("grid_keys") or [c for c in df.columns if "." in c and
                                                  c.split(".")[0] in ("source", "channel",
                                                                      "detector", "run",
                                                                      "postprocess")]
    others = [k for k in grid_keys if k in df.columns and k != x]
    mode = (meta or {}).get("mode")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups = df.groupby(others, sort=False, dropna=False) if others else [((), df)]
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    plob_seen = set()  # PLOB depends on the channel only: draw each curve once
    for n, (vals, g) in enumerate(groups):
        g = g.sort_values(x)
        vals = vals if isinstance(vals, tuple) else (vals,)
        label = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in zip(others, vals)) or None
        c = colors[n % len(colors)]
        xs = g[x].to_numpy(dtype=float)
        ys = g[y].to_numpy(dtype=float)
        if log_y:
            ys = np.where(ys > 0, ys, np.nan)
        ax.plot(xs, ys, "o-" if mode == "mc" else "-", color=c, ms=3,
                label=(("MC" if mode == "mc" else "theory") + (f" {label}" if label else "")))
        if overlay and meta is not None and mode == "mc" and y in THEORY_FIELDS:
            th = np.asarray(_theory_column(g, meta, y, decoy), dtype=float)
            if log_y:
                th = np.where(th > 0, th, np.nan)
            ax.plot(xs, th, "--", color=c, lw=1,
                    label=f"theory ({decoy})" + (f" {label}" if label else ""))
        if overlay and y in PER_PULSE_RATES:
            if "plob_per_pulse" in g.columns:
                pl = g["plob_per_pulse"].to_numpy(dtype=float)
            elif meta is not None:
                pl = np.asarray(_theory_column(g, meta, "plob_per_pulse", decoy), dtype=float)
            else:
                pl = None
            sig = None if pl is None else (tuple(xs), tuple(np.round(pl, 15)))
            if pl is not None and sig not in plob_seen:
                ax.plot(xs, pl, ":", color="k", lw=1.2,
                        label=None if plob_seen else "PLOB bound")
                plob_seen.add(sig)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if log_y:
        ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    title = "qchannel sweep" + (f" ({'Monte Carlo' if mode == 'mc' else 'theory'})" if mode else "")
    if meta and meta.get("mode") == "mc" and meta.get("seed") is not None:
        title += f", seed {meta['seed']}"
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    try:
        fig.savefig(output, dpi=120)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot write {output}: {err}") from None
    finally:
        plt.close(fig)
    return output

