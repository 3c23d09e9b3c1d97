"""Which KMEs a scenario has, which QKD links join them, how fast each
link's pool fills, and the route of key between any two nodes.

- decoy-bb84: nodes ``alice`` and ``bob``, one link whose pool fills at the
  rate its own distilled blocks give (bits / simulated seconds).
- trusted-node-network: every node has a KME; each link's pool fills at the
  link's ``key_rate_bps`` (the network's closed form, or given) with key
  distilled by ``[kms.distil]`` (default :data:`DEFAULT_DISTIL`), every link
  with its own seeds; two nodes that are not neighbours get key by
  one-time-pad relay over the network job's widest path (the route
  ``qchannel run`` reports), so a pair gets at most its bottleneck's rate.
"""
from dataclasses import dataclass

from qchannel.kms.config import DEFAULT_DISTIL, LINK_NODES, check_name


@dataclass(frozen=True)
class Link:
    name: str
    a: str
    b: str
    index: int
    rate_bps: float = None      # None: each block's own bits per simulated second


class Topology:
    def __init__(self, kms, nodes, links, distil, seed, router=None):
        self.kms = kms              # the [kms] section (KmsConfig)
        self.nodes = tuple(nodes)
        self.links = {lk.name: lk for lk in links}
        self.distil = distil
        self.seed = seed
        self._router = router
        self._routes = {}

    def link_between(self, x, y):
        for lk in self.links.values():
            if {lk.a, lk.b} == {x, y}:
                return lk
        return None

    def hops(self, src, dst):
        """[(link name, near node), ...] from ``src`` to ``dst``, or None when
        key cannot travel between them."""
        if src == dst or src not in self.nodes or dst not in self.nodes:
            return None
        key = (src, dst)
        if key not in self._routes:
            path = [src, dst] if self.link_between(src, dst) else None
            if path is None and self._router is not None:
                try:
                    path = self._router(src, dst)
                except ValueError:      # disconnected through trusted relays
                    path = None
            self._routes[key] = None if path is None else [
                (self.link_between(x, y).name, x) for x, y in zip(path, path[1:])]
        return self._routes[key]

    def store_links(self):
        return {name: (lk.a, lk.b) for name, lk in self.links.items()}


def topology_of(scenario):
    """The topology of a decoy-bb84 or trusted-node-network scenario with
    ``[kms]`` (ValueError for anything else)."""
    job = getattr(scenario, "job", None)
    if job == "decoy-bb84":
        tables = {k: v for k, v in scenario.to_dict().items() if k != "kms"}
        link = Link(f"{LINK_NODES[0]}--{LINK_NODES[1]}", *LINK_NODES, index=0)
        if scenario.kms is None:
            raise ValueError("qchannel kms needs a [kms] section attaching SAEs to the nodes "
                             "alice and bob ([[kms.saes]] name = ..., node = ...)")
        return Topology(scenario.kms, LINK_NODES, [link], tables, scenario.run.seed)
    if job == "trusted-node-network":
        from qchannel.kms.config import KmsConfig

        tables = scenario.to_dict()
        net = scenario.config
        nodes = [n["name"] for n in tables["network"]["nodes"]]
        for n in nodes:
            check_name(n, "network node name (it names a KME certificate)")
        links = [Link(f"{a}--{b}", a, b, i, float(d["key_rate_bps"]))
                 for i, (a, b, d) in enumerate(net.graph.edges(data=True))]
        if "kms" not in tables:
            raise ValueError("qchannel kms needs a [kms] section attaching SAEs to nodes of the "
                             "network ([[kms.saes]] name = ..., node = ...)")
        cfg = KmsConfig.from_dict(tables["kms"], nodes=tuple(nodes), distil=True)
        return Topology(cfg, nodes, links, cfg.distil or DEFAULT_DISTIL, scenario.run.seed,
                        router=lambda s, t: net.widest_path(s, t)[0])
    raise ValueError(f"qchannel kms serves decoy-bb84 and trusted-node-network scenarios, not "
                     f"{job!r}")
