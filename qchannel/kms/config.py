"""The ``[kms]`` section of a scenario: which SAEs sit at which node, and the
ETSI GS QKD 014 limits every KME announces in its status."""
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

    KEYS = ("saes", "key_size", "max_key_size", "max_key_count", "max_key_per_request")
    SAE_KEYS = ("name", "node")

    @classmethod
    def from_dict(cls, d, section="kms", nodes=LINK_NODES):
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
        kw = {k: d[k] for k in cls.KEYS if k != "saes" and k in d}
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
        return {"saes": [{"name": n, "node": node} for n, node in self.saes],
                "key_size": self.key_size, "max_key_size": self.max_key_size,
                "max_key_count": self.max_key_count,
                "max_key_per_request": self.max_key_per_request}

    def node_of(self, sae):
        """The node an SAE is attached to, or None."""
        return dict(self.saes).get(sae)
