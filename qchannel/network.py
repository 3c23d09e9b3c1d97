"""Trusted-node QKD networks: routing, max-flow and one-time-pad key relay.

A network is an undirected ``networkx.Graph``.  Nodes have a ``role``:
``"user"`` (end points that never forward key) or ``"trusted-relay"``.  Each
link carries ``key_rate_bps``, the secret-key rate its QKD pair produces,
given directly or computed from ``length_km`` by a *rate model*: a callable
``rate_model(length_km) -> key_rate_bps`` (e.g. a theory hook), or the
closed form :func:`decoy_bb84_key_rate_bps` selected by name.

Key relay between two users is hop-by-hop one-time pad through trusted
relays: relaying ``K`` bits consumes ``K`` bits of key from *every* link of
the path.  So a single path delivers at most its bottleneck rate (the widest
path maximises it) and all paths together at most the max-flow between the
users (users do not forward).  :meth:`TrustedNodeNetwork.simulate_key_relay`
runs the key pools over time against a demand.

``backbone_network`` builds a line shaped like the Beijing–Shanghai trunk
(about 2000 km in 33 links, 32 trusted relays including the Jinan and Hefei
hubs, users at Beijing and Shanghai).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import networkx as nx

from qchannel.params import check_choice, check_real, reject_unknown
from qchannel.theory import h2

__all__ = [
    "ROLES",
    "TrustedNodeNetwork",
    "NetworkResult",
    "RelayResult",
    "decoy_bb84_key_rate_bps",
    "decoy_bb84_key_rate_per_pulse",
    "backbone_network",
    "backbone_dict",
    "RATE_MODELS",
]

ROLES = ("user", "trusted-relay")
_NODE_KEYS = ("name", "role")
_LINK_KEYS = ("a", "b", "key_rate_bps", "length_km", "classical", "wavelength_nm")
_NET_KEYS = ("nodes", "links", "rate_model", "rate_model_params", "source", "target", "receiver")
_RECEIVER_KEYS = ("filter_bandwidth_nm", "gate_width_ns", "filter_isolation_db")


def decoy_bb84_key_rate_per_pulse(length_km, attenuation_db_per_km=0.21, detector_efficiency=0.045,
                                  dark_count_prob=1.7e-6, misalignment=0.033, ec_efficiency=1.22,
                                  mu=0.48, sifting=0.5, noise_click_prob=0.0):
    """Asymptotic decoy-state BB84 key per pulse with infinitely many decoys
    (Lo, Ma, Chen, PRL 94, 230504 (2005); GLLP), GYS parameters by default:

    ``eta = eta_det 10^(-alpha L / 10)``, ``Y1 = Y0 + eta - Y0 eta``,
    ``Q_mu = Y0 + 1 - exp(-eta mu)``,
    ``E_mu Q_mu = Y0 / 2 + e_d (1 - exp(-eta mu))``,
    ``Q1 = Y1 mu exp(-mu)``, ``e1 = (Y0 / 2 + e_d eta) / Y1``,
    ``R = q { -Q_mu f h2(E_mu) + Q1 [1 - h2(e1)] }`` (clipped at 0).

    ``noise_click_prob``: background clicks of the receiver per gate from
    classical channels sharing the fiber (:mod:`qchannel.coexistence`); they
    add to the dark counts, ``Y0 = 1 - (1 - p_dark)(1 - p_noise)``.
    """
    length_km = check_real("length_km", length_km, 0.0)
    noise_click_prob = check_real("noise_click_prob", noise_click_prob, 0.0, 1.0, hi_open=True)
    eta = detector_efficiency * 10.0 ** (-attenuation_db_per_km * length_km / 10.0)
    y0 = 1.0 - (1.0 - dark_count_prob) * (1.0 - noise_click_prob)
    y1 = y0 + eta - y0 * eta
    gain = 1.0 - math.exp(-eta * mu)
    q_mu = y0 + gain
    e_mu = (0.5 * y0 + misalignment * gain) / q_mu
    q1 = y1 * mu * math.exp(-mu)
    e1 = (0.5 * y0 + misalignment * eta) / y1
    r = sifting * (-q_mu * ec_efficiency * h2(e_mu) + q1 * (1.0 - h2(e1)))
    return max(0.0, r)


def decoy_bb84_key_rate_bps(length_km, rep_rate_hz=1e9, **kw):
    """:func:`decoy_bb84_key_rate_per_pulse` times the source repetition rate
    (default 1 GHz, an assumption of this model, not of the GYS paper)."""
    rep_rate_hz = check_real("rep_rate_hz", rep_rate_hz, 0.0, lo_open=True)
    return rep_rate_hz * decoy_bb84_key_rate_per_pulse(length_km, **kw)


RATE_MODELS = {"decoy_bb84": decoy_bb84_key_rate_bps}


class _Rate(float):
    """A link's key rate with the coexistence details it came from."""


def _parse_receiver(receiver, section):
    """``[network.receiver]``: the filter and gate of every receiver whose
    link carries classical channels (defaults of :mod:`qchannel.coexistence`)."""
    from qchannel import coexistence as cx

    if not isinstance(receiver, dict):
        raise ValueError(f"{section}.receiver must be a table")
    reject_unknown(f"{section}.receiver", receiver, _RECEIVER_KEYS)
    rx = {"filter_bandwidth_nm": check_real(f"{section}.receiver.filter_bandwidth_nm",
                                            receiver.get("filter_bandwidth_nm",
                                                         cx.DEFAULT_FILTER_BANDWIDTH_NM),
                                            0.0, 100.0, lo_open=True),
          "gate_width_ns": check_real(f"{section}.receiver.gate_width_ns",
                                      receiver.get("gate_width_ns", cx.DEFAULT_GATE_WIDTH_NS),
                                      0.0, 1e6, lo_open=True),
          "filter_isolation_db": check_real(f"{section}.receiver.filter_isolation_db",
                                            receiver.get("filter_isolation_db",
                                                         cx.DEFAULT_FILTER_ISOLATION_DB),
                                            0.0, 300.0)}
    return rx


def _noisy_link_rate(ln, where, model, rx, section):
    """The key rate of a link sharing its fiber with classical channels: the
    named decoy-BB84 rate model with the noise of those channels as extra
    background clicks (:mod:`qchannel.coexistence`); ``wavelength_nm`` puts
    the quantum signal elsewhere (attenuation from the SSMF curve)."""
    from qchannel import coexistence as cx

    if "key_rate_bps" in ln:
        raise ValueError(f"{where}: classical/wavelength_nm need the rate from the model "
                         f"(length_km), not key_rate_bps")
    if model is None or not hasattr(model, "params") or "length_km" not in ln:
        raise ValueError(f"{where}: classical/wavelength_nm need length_km and "
                         f"{section}.rate_model = 'decoy_bb84'")
    length = check_real(f"{where}.length_km", ln["length_km"], 0.0, 1e5)
    params = model.params
    over = {}
    wl = 1550.0
    if "wavelength_nm" in ln:
        wl = check_real(f"{where}.wavelength_nm", ln["wavelength_nm"], 1000.0, 1700.0)
        over["attenuation_db_per_km"] = cx.ssmf_attenuation_db_per_km(wl)
    att = over.get("attenuation_db_per_km", params.get("attenuation_db_per_km", 0.21))
    chans = ln.get("classical", [])
    if not isinstance(chans, list):
        raise ValueError(f"{where}.classical must be a list of tables")
    chans = [cx.ClassicalChannel.from_dict(c, f"{where}.classical[{i}]") for i, c in enumerate(chans)]
    noise = cx.noise_photons_per_gate(length, wl, att, chans, **rx)
    eff = params.get("detector_efficiency", 0.045)
    # the closed form's Y0 is the whole receiver's: all noise photons count
    p_noise = cx.noise_click_prob(noise["noise_photons_per_gate"], eff, 1)
    if p_noise >= 1.0:
        raise ValueError(f"{where}.classical: {noise['noise_photons_per_gate']:.3g} noise photons "
                         f"per gate blind the receiver: lower the power_dbm or raise "
                         f"{section}.receiver.filter_isolation_db")
    rate = _Rate(model(length, noise_click_prob=p_noise, **over))
    rate.info = {"noise_photons_per_gate": noise["noise_photons_per_gate"],
                 "noise_click_prob": p_noise,
                 "key_rate_bps_without_classical": model(length, **over)}
    return rate


def _check_name(what, name):
    if isinstance(name, bool) or not isinstance(name, (str, int)) or name == "":
        raise ValueError(f"{what} = {name!r} must be a non-empty string (or an integer)")
    return name


def _sort_key(node):
    return (type(node).__name__, str(node))


@dataclass
class NetworkResult:
    source: object
    target: object
    end_to_end_key_rate_bps: float      # widest single path (bottleneck rate)
    path: list
    bottleneck_link: tuple | None
    max_flow_bps: float
    flow_paths: list = field(default_factory=list)   # [(path, rate_bps), ...]

    def to_dict(self):
        return {
            "source": self.source,
            "target": self.target,
            "end_to_end_key_rate_bps": self.end_to_end_key_rate_bps,
            "path": list(self.path),
            "hops": len(self.path) - 1,
            "bottleneck_link": None if self.bottleneck_link is None else list(self.bottleneck_link),
            "max_flow_bps": self.max_flow_bps,
            "flow_paths": [{"path": list(p), "rate_bps": r} for p, r in self.flow_paths],
        }


@dataclass
class RelayResult:
    routing: str
    duration_s: float
    demand_bps: float
    request_bits: float
    requests: int
    served: int
    delivered_bits: float
    throughput_bps: float
    mean_latency_s: float | None
    max_latency_s: float | None
    routes: list
    final_pool_bits: dict

    def to_dict(self):
        return {
            "routing": self.routing,
            "duration_s": self.duration_s,
            "demand_bps": self.demand_bps,
            "request_bits": self.request_bits,
            "requests": self.requests,
            "served": self.served,
            "delivered_bits": self.delivered_bits,
            "throughput_bps": self.throughput_bps,
            "mean_latency_s": self.mean_latency_s,
            "max_latency_s": self.max_latency_s,
            "routes": [{"path": list(p), "weight": w} for p, w in self.routes],
            "final_pool_bits": {f"{a}--{b}": v for (a, b), v in self.final_pool_bits.items()},
        }


class TrustedNodeNetwork:
    """A trusted-node QKD network on top of a ``networkx.Graph``
    (node attribute ``role``, edge attributes ``key_rate_bps`` and optionally
    ``length_km``)."""

    def __init__(self, rate_model=None):
        if rate_model is not None and not callable(rate_model):
            raise ValueError("rate_model must be a callable length_km -> key_rate_bps")
        self.graph = nx.Graph()
        self.rate_model = rate_model
        self.default_source = None
        self.default_target = None

    # ---------------------------------------------------------------- build
    def add_node(self, name, role="trusted-relay"):
        _check_name("node name", name)
        check_choice(f"node {name!r} role", role, ROLES)
        if name in self.graph:
            raise ValueError(f"node {name!r} is defined twice")
        self.graph.add_node(name, role=role)
        return self

    def add_link(self, a, b, key_rate_bps=None, length_km=None, rate_model=None):
        what = f"link {a!r}--{b!r}"
        for end in (a, b):
            if end not in self.graph:
                raise ValueError(f"{what}: unknown node {end!r}; define it in nodes first")
        if a == b:
            raise ValueError(f"{what} connects a node to itself")
        if self.graph.has_edge(a, b):
            raise ValueError(f"{what} is defined twice")
        attrs = {}
        if length_km is not None:
            attrs["length_km"] = check_real(f"{what} length_km", length_km, 0.0)
        if key_rate_bps is None:
            model = rate_model or self.rate_model
            if model is None or length_km is None:
                raise ValueError(f"{what} needs key_rate_bps, or length_km and a rate_model")
            key_rate_bps = model(attrs["length_km"])
        attrs["key_rate_bps"] = check_real(f"{what} key_rate_bps", key_rate_bps, 0.0)
        self.graph.add_edge(a, b, **attrs)
        return self

    @classmethod
    def from_graph(cls, graph, role_attr="role", rate_attr="key_rate_bps"):
        """Wrap an existing graph whose nodes carry ``role`` and edges
        ``key_rate_bps``; nodes without a role become trusted relays."""
        net = cls()
        for n, data in graph.nodes(data=True):
            net.add_node(n, data.get(role_attr, "trusted-relay"))
        for a, b, data in graph.edges(data=True):
            net.add_link(a, b, key_rate_bps=data.get(rate_attr), length_km=data.get("length_km"))
        return net

    @classmethod
    def from_dict(cls, d, section="network", rate_model=None):
        """Build from a TOML-shaped dict::

            rate_model = "decoy_bb84"          # optional; or pass a callable
            rate_model_params = {rep_rate_hz = 1e9}
            source = "Beijing"                 # optional default query
            target = "Shanghai"
            [[network.nodes]]  name = "Beijing"  role = "user"
            [[network.links]]  a = "Beijing"  b = "R01"  length_km = 62.0  # or key_rate_bps
        """
        if not isinstance(d, dict):
            raise ValueError(f"{section} must be a table")
        reject_unknown(section, d, _NET_KEYS)
        model = rate_model
        if model is None and d.get("rate_model") is not None:
            name = check_choice(f"{section}.rate_model", d["rate_model"], tuple(RATE_MODELS))
            params = d.get("rate_model_params", {}) or {}
            if not isinstance(params, dict):
                raise ValueError(f"{section}.rate_model_params must be a table")
            base = RATE_MODELS[name]
            try:
                base(50.0, **params)
            except TypeError as exc:
                raise ValueError(f"{section}.rate_model_params: {exc}") from None
            model = lambda length_km, **kw: base(length_km, **{**params, **kw})  # noqa: E731
            model.params = params
        elif "rate_model_params" in d and model is None:
            raise ValueError(f"{section}.rate_model_params needs {section}.rate_model")
        net = cls(rate_model=model)
        nodes = d.get("nodes")
        if not isinstance(nodes, list) or not nodes:
            raise ValueError(f"{section}.nodes must be a non-empty list of tables")
        for i, nd in enumerate(nodes):
            where = f"{section}.nodes[{i}]"
            if not isinstance(nd, dict):
                raise ValueError(f"{where} must be a table with name and role")
            reject_unknown(where, nd, _NODE_KEYS)
            if "name" not in nd:
                raise ValueError(f"{where}.name is required")
            net.add_node(nd["name"], nd.get("role", "trusted-relay"))
        links = d.get("links", [])
        rx = _parse_receiver(d.get("receiver", {}), section)
        if not isinstance(links, list):
            raise ValueError(f"{section}.links must be a list of tables")
        for i, ln in enumerate(links):
            where = f"{section}.links[{i}]"
            if not isinstance(ln, dict):
                raise ValueError(f"{where} must be a table with a, b and key_rate_bps or length_km")
            reject_unknown(where, ln, _LINK_KEYS)
            if "a" not in ln or "b" not in ln:
                raise ValueError(f"{where} needs both ends a and b")
            rate = ln.get("key_rate_bps")
            if "classical" in ln or "wavelength_nm" in ln:
                rate = _noisy_link_rate(ln, where, model, rx, section)
            try:
                net.add_link(ln["a"], ln["b"], rate, ln.get("length_km"))
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            if "classical" in ln:
                net.graph.edges[ln["a"], ln["b"]].update(rate.info)
        for key in ("source", "target"):
            if d.get(key) is not None:
                if d[key] not in net.graph:
                    raise ValueError(f"{section}.{key} = {d[key]!r} is not a node")
        net.default_source = d.get("source")
        net.default_target = d.get("target")
        return net

    def coexistence(self):
        """Per link carrying classical channels: its noise and its key rate
        with and without them (for the job's report)."""
        return [{"a": a, "b": b, "noise_photons_per_gate": e["noise_photons_per_gate"],
                 "noise_click_prob": e["noise_click_prob"], "key_rate_bps": e["key_rate_bps"],
                 "key_rate_bps_without_classical": e["key_rate_bps_without_classical"]}
                for a, b, e in self.graph.edges(data=True) if "noise_photons_per_gate" in e]

    # -------------------------------------------------------------- routing
    def _endpoints(self, source, target):
        source = self.default_source if source is None else source
        target = self.default_target if target is None else target
        for what, n in (("source", source), ("target", target)):
            if n is None:
                raise ValueError(f"{what} is required (no default in the network)")
            if n not in self.graph:
                raise ValueError(f"{what} = {n!r} is not a node of the network")
        if source == target:
            raise ValueError(f"source and target are the same node {source!r}")
        return source, target

    def routing_graph(self, source, target):
        """The graph key may travel on: trusted relays plus the two end
        points (other users never forward key)."""
        keep = [n for n, r in self.graph.nodes(data="role") if r == "trusted-relay"]
        keep += [source, target]
        return self.graph.subgraph(keep)

    def _connected(self, g, source, target):
        if not nx.has_path(g, source, target):
            raise ValueError(
                f"users {source!r} and {target!r} are disconnected: no path between them "
                "through trusted relays")

    def widest_path(self, source=None, target=None):
        """The path of maximal bottleneck key rate (ties: fewest hops, then
        node order); returns ``(path, bottleneck_bps)``."""
        source, target = self._endpoints(source, target)
        g = self.routing_graph(source, target)
        self._connected(g, source, target)
        # Dijkstra on (-width, hops); labels settle in decreasing width.
        best = {source: (-math.inf, 0)}
        prev = {source: None}
        heap = [(-math.inf, 0, _sort_key(source), source)]
        done = set()
        while heap:
            negw, hops, _, u = heapq.heappop(heap)
            if u in done:
                continue
            done.add(u)
            if u == target:
                break
            for v in sorted(g.neighbors(u), key=_sort_key):
                if v in done:
                    continue
                w = min(-negw, g.edges[u, v]["key_rate_bps"])
                label = (-w, hops + 1)
                if v not in best or label < best[v]:
                    best[v] = label
                    prev[v] = u
                    heapq.heappush(heap, (-w, hops + 1, _sort_key(v), v))
        path = [target]
        while prev[path[-1]] is not None:
            path.append(prev[path[-1]])
        path.reverse()
        return path, float(-best[target][0])

    def max_flow(self, source=None, target=None):
        """Max-flow key rate between the users (``networkx.maximum_flow`` on
        the routing graph, capacity ``key_rate_bps``); returns
        ``(value_bps, [(path, rate_bps), ...])`` with a path decomposition."""
        source, target = self._endpoints(source, target)
        g = self.routing_graph(source, target)
        self._connected(g, source, target)
        value, flow = nx.maximum_flow(g, source, target, capacity="key_rate_bps")
        return float(value), _decompose(flow, source, target)

    def end_to_end(self, source=None, target=None) -> NetworkResult:
        source, target = self._endpoints(source, target)
        path, width = self.widest_path(source, target)
        flow, paths = self.max_flow(source, target)
        bottleneck = None
        if len(path) > 1:
            bottleneck = min(zip(path, path[1:]),
                             key=lambda e: self.graph.edges[e]["key_rate_bps"])
        return NetworkResult(source, target, width, path, bottleneck, flow, paths)

    # ------------------------------------------------------------ key relay
    def simulate_key_relay(self, source=None, target=None, demand_bps=None, duration_s=1.0,
                           request_bits=256.0, routing="widest", initial_pool_bits=0.0,
                           pool_capacity_bits=None):
        """One-time-pad key relay against a constant demand, event by event.

        Every link's pool starts at ``initial_pool_bits`` and fills at its
        ``key_rate_bps`` (up to ``pool_capacity_bits`` if given).  Requests of
        ``request_bits`` arrive every ``request_bits / demand_bps`` seconds;
        ``routing = "widest"`` sends all of them over the widest path,
        ``"max_flow"`` spreads them over the max-flow paths in proportion to
        their flows (smooth weighted round robin).  Requests are served in
        arrival order, each as soon as every link on its path holds
        ``request_bits``; serving consumes ``request_bits`` from each of them.
        Time is continuous and exact (no stepping)."""
        source, target = self._endpoints(source, target)
        if demand_bps is None:
            raise ValueError("demand_bps is required")
        demand_bps = check_real("demand_bps", demand_bps, 0.0, lo_open=True)
        duration_s = check_real("duration_s", duration_s, 0.0, lo_open=True)
        request_bits = check_real("request_bits", request_bits, 0.0, lo_open=True)
        initial_pool_bits = check_real("initial_pool_bits", initial_pool_bits, 0.0)
        routing = check_choice("routing", routing, ("widest", "max_flow"))
        cap = math.inf
        if pool_capacity_bits is not None:
            cap = check_real("pool_capacity_bits", pool_capacity_bits, 0.0, lo_open=True)
            if request_bits > cap:
                raise ValueError(f"request_bits = {request_bits} is out of range: must be <= "
                                 f"pool_capacity_bits = {cap}")
            initial_pool_bits = min(initial_pool_bits, cap)
        n_req = int(math.floor(duration_s * demand_bps / request_bits * (1 + 1e-12)))
        if n_req > 10_000_000:
            raise ValueError(f"duration_s * demand_bps / request_bits = {n_req} requests is "
                             "out of range: must be <= 1e7 (raise request_bits)")
        if routing == "widest":
            path, _ = self.widest_path(source, target)
            routes = [(path, 1.0)]
        else:
            _, routes = self.max_flow(source, target)
            if not routes:
                routes = [(self.widest_path(source, target)[0], 1.0)]
        edges = [[tuple(sorted((u, v), key=_sort_key)) for u, v in zip(p, p[1:])]
                 for p, _ in routes]
        weights = [w for _, w in routes]
        total_w = sum(weights) or 1.0
        pool = {}
        last = {}
        rate = {}
        for es in edges:
            for e in es:
                pool[e] = initial_pool_bits
                last[e] = 0.0
                rate[e] = self.graph.edges[e]["key_rate_bps"]
        credit = [0.0] * len(routes)
        t_prev = 0.0
        served = 0
        lat_sum = 0.0
        lat_max = 0.0
        period = request_bits / demand_bps
        for k in range(n_req):
            arrival = k * period
            # smooth weighted round robin: deterministic, shares follow weights
            for i, w in enumerate(weights):
                credit[i] += w
            i = max(range(len(routes)), key=lambda j: credit[j])
            credit[i] -= total_w
            t = max(arrival, t_prev)
            for e in edges[i]:
                if pool[e] < request_bits:
                    # request_bits <= cap, so the cap never delays reaching it
                    if rate[e] <= 0.0:
                        t = math.inf
                        break
                    t = max(t, last[e] + (request_bits - pool[e]) / rate[e])
            if not t <= duration_s:
                break
            for e in edges[i]:
                have = min(cap, pool[e] + rate[e] * (t - last[e]))
                pool[e] = have - request_bits
                last[e] = t
            t_prev = t
            served += 1
            lat = t - arrival
            lat_sum += lat
            lat_max = max(lat_max, lat)
        final = {e: min(cap, pool[e] + rate[e] * (duration_s - last[e])) for e in pool}
        return RelayResult(
            routing=routing, duration_s=duration_s, demand_bps=demand_bps,
            request_bits=request_bits, requests=n_req, served=served,
            delivered_bits=served * request_bits,
            throughput_bps=served * request_bits / duration_s,
            mean_latency_s=lat_sum / served if served else None,
            max_latency_s=lat_max if served else None,
            routes=[(p, w) for p, w in routes], final_pool_bits=final)


def _decompose(flow, source, target, tol=1e-12):
    """Decompose a max-flow (dict of dicts, both arc directions) into
    source-target paths with their rates; cycles are dropped."""
    net = {}
    for u, nbrs in flow.items():
        for v, f in nbrs.items():
            x = f - flow.get(v, {}).get(u, 0.0)
            if x > tol:
                net.setdefault(u, {})[v] = x
    paths = []
    while True:
        # depth-first search along positive arcs
        stack = [(source, [source])]
        seen = {source}
        found = None
        while stack:
            u, p = stack.pop()
            if u == target:
                found = p
                break
            for v in sorted(net.get(u, {}), key=_sort_key, reverse=True):
                if v not in seen and net[u][v] > tol:
                    seen.add(v)
                    stack.append((v, p + [v]))
        if found is None:
            return paths
        r = min(net[u][v] for u, v in zip(found, found[1:]))
        for u, v in zip(found, found[1:]):
            net[u][v] -= r
        paths.append((found, float(r)))


# ------------------------------------------------------------------ backbone
# Users and relay counts along a Beijing-Shanghai-like trunk: sections
# (from, to, number of links, section length km).  32 trusted relays in all.
_BACKBONE_SECTIONS = (
    ("Beijing", "Jinan", 6, 420.0),
    ("Jinan", "Hefei", 15, 1000.0),
    ("Hefei", "Shanghai", 12, 580.0),
)
_BACKBONE_USERS = ("Beijing", "Shanghai")


def backbone_dict(rate_model="decoy_bb84", rep_rate_hz=1e9):
    """The TOML-shaped description of the backbone (about 2000 km in 33 links,
    32 trusted relays including the Jinan and Hefei hubs, users Beijing and
    Shanghai).  Link lengths vary around
    the section mean by a fixed +-15 % pattern so the bottleneck is a specific
    link, as in a real trunk."""
    nodes = []
    links = []
    pattern = (0.0, 0.15, -0.1, 0.05, -0.15, 0.1, -0.05)
    relay = 0
    for s, (a, b, n_links, length) in enumerate(_BACKBONE_SECTIONS):
        if s == 0:
            nodes.append({"name": a, "role": "user"})
        raw = [1.0 + pattern[(s * 3 + i) % len(pattern)] for i in range(n_links)]
        scale = length / sum(raw)
        prev = a
        for i in range(n_links):
            if i == n_links - 1:
                name = b
                role = "user" if b in _BACKBONE_USERS else "trusted-relay"
                nodes.append({"name": b, "role": role})
            else:
                relay += 1
                name = f"R{relay:02d}"
                nodes.append({"name": name, "role": "trusted-relay"})
            links.append({"a": prev, "b": name, "length_km": round(raw[i] * scale, 1)})
            prev = name
    d = {"source": "Beijing", "target": "Shanghai", "nodes": nodes, "links": links}
    if rate_model is not None:
        d["rate_model"] = rate_model
        d["rate_model_params"] = {"rep_rate_hz": rep_rate_hz}
    return d


def backbone_network(rate_model=None, rep_rate_hz=1e9):
    """The backbone as a :class:`TrustedNodeNetwork`.  ``rate_model`` is a
    callable ``length_km -> key_rate_bps``; by default the decoy-BB84 closed
    form :func:`decoy_bb84_key_rate_bps` at ``rep_rate_hz``."""
    if rate_model is None:
        return TrustedNodeNetwork.from_dict(backbone_dict("decoy_bb84", rep_rate_hz))
    return TrustedNodeNetwork.from_dict(backbone_dict(None), rate_model=rate_model)
