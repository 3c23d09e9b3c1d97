"""The ``[kms]`` section of a scenario: which SAEs sit at which node, and the
ETSI GS QKD 014 limits every KME announces in its status."""
import copy
import re
from dataclasses import dataclass

from qchannel.params import check_int, check_table, reject_unknown

#: Pool unit: keys are cut from the distilled key stream in 256-bit chunks,
#: so every key size is a multiple of it (ETSI sizes are in bits).
CHUNK_BITS = 256
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

#: The nodes of a two-party (decoy-bb84) link, in KME port order.
LINK_NODES = ("alice", "bob")


def check_name(name, what):
    """An SAE or KME name: it becomes a certificate CN, a URL path segment and
    a file name, so it is 1-64 letters, digits, '.', '_' or '-'."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"{what} = {name!r} must be 1 to 64 letters, digits, '.', '_' or '-' "
                         f"(starting with a letter or digit)")
    return name


@dataclass(frozen=True)
class KmsConfig:
    """``[kms]``: ``[[kms.saes]]`` tables (``name``, ``node``), the default key
    size and the limits of the key delivery API."""

    saes: tuple = ()                 # ((name, node), ...)
    key_size: int = 256              # bits, default size of a delivered key
    max_key_size: int = 4096
    max_key_count: int = 1024        # pool capacity, in keys of key_size
    max_key_per_request: int = 128
    distil: dict = None              # trusted-node network: the link whose keys fill pools

    KEYS = ("saes", "key_size", "max_key_size", "max_key_count", "max_key_per_request",
            "distil")
    SAE_KEYS = ("name", "node")

    @classmethod
    def from_dict(cls, d, section="kms", nodes=LINK_NODES, distil=False):
        """``nodes``: the scenario's node names; ``distil``: whether a
        ``distil`` table (a decoy-BB84 link) is allowed (trusted-node
        networks, whose link rates are closed forms)."""
        check_table(section, d)
        reject_unknown(section, d, cls.KEYS)
        saes = d.get("saes", [])
        if not isinstance(saes, list) or not saes:
            raise ValueError(f"{section}.saes must be a non-empty list of tables "
                             f"([[{section}.saes]] with name and node)")
        seen = set()
        parsed = []
        for i, sae in enumerate(saes):
            where = f"{section}.saes[{i}]"
            check_table(where, sae)
            reject_unknown(where, sae, cls.SAE_KEYS)
            for k in cls.SAE_KEYS:
                if k not in sae:
                    raise ValueError(f"{where}.{k} is missing")
            name = check_name(sae["name"], f"{where}.name")
            if sae["node"] not in nodes:
                raise ValueError(f"{where}.node = {sae['node']!r} must be one of "
                                 f"{', '.join(map(repr, nodes))}")
            if name in seen or name in nodes:
                raise ValueError(f"{where}.name = {name!r} is used twice (SAE names and node "
                                 f"names must all differ: they are certificate names)")
            seen.add(name)
            parsed.append((name, sae["node"]))
        kw = {k: d[k] for k in cls.KEYS if k not in ("saes", "distil") and k in d}
        if "distil" in d:
            if not distil:
                raise ValueError(f"{section}.distil applies to trusted-node-network scenarios: "
                                 f"a decoy-bb84 scenario distils its own link's keys")
            kw["distil"] = check_distil(d["distil"], f"{section}.distil")
        return cls(saes=tuple(parsed), **kw)

    def __post_init__(self):
        s = "kms"
        for key in ("key_size", "max_key_size"):
            v = check_int(f"{s}.{key}", getattr(self, key), CHUNK_BITS, 2**16)
            if v % CHUNK_BITS:
                raise ValueError(f"{s}.{key} = {v} must be a multiple of {CHUNK_BITS} bits")
            object.__setattr__(self, key, v)
        if self.key_size > self.max_key_size:
            raise ValueError(f"kms.key_size = {self.key_size} must be <= kms.max_key_size = "
                             f"{self.max_key_size}")
        object.__setattr__(self, "max_key_count",
                           check_int(f"{s}.max_key_count", self.max_key_count, 1, 10**7))
        object.__setattr__(self, "max_key_per_request",
                           check_int(f"{s}.max_key_per_request", self.max_key_per_request, 1,
                                     10**4))

    def to_dict(self):
        d = {"saes": [{"name": n, "node": node} for n, node in self.saes],
             "key_size": self.key_size, "max_key_size": self.max_key_size,
             "max_key_count": self.max_key_count,
             "max_key_per_request": self.max_key_per_request}
        if self.distil is not None:
            d["distil"] = copy.deepcopy(self.distil)
        return d

    def __hash__(self):
        return hash((self.saes, self.key_size, self.max_key_count))

    def node_of(self, sae):
        """The node an SAE is attached to, or None."""
        return dict(self.saes).get(sae)


#: The link whose distilled keys fill the pools of a trusted-node network's
#: links when ``[kms.distil]`` is not given (examples/kms-link.toml's physics:
#: 5 km of fiber, 1e7 pulses per block, Cascade; about 4.6e4 bits a block).
DEFAULT_DISTIL = {
    "source": {"type": "decoy-bb84", "rep_rate_hz": 2.0e6, "intensities": [0.5, 0.1, 0.0002],
               "intensity_probs": [0.6, 0.3, 0.1], "key_basis_prob": 0.7},
    "channel": {"type": "fiber", "length_km": 5.0, "attenuation_db_per_km": 0.2,
                "misalignment": 0.005},
    "detector": {"efficiency": 0.5, "dark_count_prob": 6.0e-7},
    "run": {"pulses": 10**7, "seed": 1},
    "postprocess": {"ec": "cascade"},
}


def check_distil(tables, section="kms.distil"):
    """A decoy-BB84 fiber link with real error correction (its tables)."""
    from qchannel.scenario import Scenario

    check_table(section, tables)
    try:
        sc = Scenario.from_dict(tables)
    except ValueError as err:
        raise ValueError(f"{section}.{err}") from None
    if sc.kms is not None or sc.eve is not None:
        raise ValueError(f"{section} is the link that distils keys: no [kms] or [eve] in it")
    if sc.is_free_space:
        raise ValueError(f"{section}.channel.type must be 'fiber'")
    if sc.postprocess.ec == "estimate":
        raise ValueError(f"{section}.postprocess.ec = 'estimate' distils no key: set 'cascade' "
                         f"or 'ldpc'")
    return sc.to_dict()
