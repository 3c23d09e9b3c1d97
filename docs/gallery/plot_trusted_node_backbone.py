"""
A trusted-node backbone
=======================

A backbone shaped like the Beijing-Shanghai trunk (``examples/backbone.toml``:
about 2000 km in 33 fiber links with 32 trusted relays). Each link's key
rate comes from the asymptotic decoy-BB84 closed form for its length; keys
are relayed hop by hop (one-time pad at every trusted node), so the
end-to-end rate is the bottleneck of the widest path (and the max-flow over
all paths). Bars: every link's rate along the path; line: the end-to-end
rate. The job is analytic: it runs instantly.

Below, the same network with the bottleneck link split in two by one more
relay (a variant built with ``scenario.replace`` on the dotted keys).
"""
from pathlib import Path

import matplotlib.pyplot as plt

import qchannel

ROOT = Path(qchannel.__file__).resolve().parent.parent
sc = qchannel.load_scenario(ROOT / "examples" / "backbone.toml")
r = qchannel.run_scenario(sc).to_dict()
graph = sc.config.graph
path = r["path"]
hops = list(zip(path[:-1], path[1:]))
rates = [graph.edges[a, b]["key_rate_bps"] for a, b in hops]
lengths = [graph.edges[a, b]["length_km"] for a, b in hops]
print(f"{r['source']} -> {r['target']}: {r['hops']} hops, end to end "
      f"{r['end_to_end_key_rate_bps']:.4g} bit/s, bottleneck {r['bottleneck_link']}")

# %%
# Split the bottleneck link: a new relay halfway.
tables = sc.to_dict()
net = tables["network"]
a, b = r["bottleneck_link"]
i = next(k for k, link in enumerate(net["links"]) if {link["a"], link["b"]} == {a, b})
half = net["links"][i]["length_km"] / 2
net["nodes"].append({"name": "new relay", "role": "trusted-relay"})
net["links"][i] = {"a": a, "b": "new relay", "length_km": half}
net["links"].append({"a": "new relay", "b": b, "length_km": half})
r2 = qchannel.run_scenario(type(sc).from_dict(tables)).to_dict()
print(f"with a relay in {a}-{b}: {r2['end_to_end_key_rate_bps']:.4g} bit/s, "
      f"bottleneck {r2['bottleneck_link']}")

fig, ax = plt.subplots(figsize=(9, 5.5))
colors = ["C3" if {x, y} == {a, b} else "C0" for x, y in hops]
ax.bar(range(len(rates)), rates, color=colors)
ax.axhline(r["end_to_end_key_rate_bps"], color="k", ls="--",
           label=f"end to end: {r['end_to_end_key_rate_bps'] / 1e3:.1f} kbit/s (bottleneck in red)")
ax.axhline(r2["end_to_end_key_rate_bps"], color="C2", ls=":",
           label=f"bottleneck split by a new relay: {r2['end_to_end_key_rate_bps'] / 1e3:.1f} kbit/s")
ax.set_xticks(range(len(rates)))
ax.set_xticklabels([f"{x}-{y} ({L:.0f} km)" for (x, y), L in zip(hops, lengths)],
                   rotation=90, fontsize=6)
ax.set_ylabel("link key rate (bit/s)")
ax.set_yscale("log")
ax.legend(fontsize=8)
fig.tight_layout()
