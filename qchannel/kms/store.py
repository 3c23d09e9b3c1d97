"""Key pools and delivery state in SQLite (WAL mode, synchronous FULL).

Tables: ``pool`` holds both ends' copies of the distilled key in 256-bit
chunks, not yet delivered; ``delivered`` holds, for each key ID handed to a
master SAE, the slave's copy only (the master's copy is erased in the same
transaction); ``progress`` says which block and chunk of the distilled key
stream come next, updated in the same transaction as the chunks it covers,
so a restart neither re-inserts a chunk nor skips one.  Every change is one
transaction committed before the HTTP answer leaves: after a kill -9 a key
ID is never served twice, a key given to the master is still there for its
slave, and undelivered chunks are still in the pool.
"""
import hashlib
import json
import sqlite3
import uuid

from qchannel.kms.config import CHUNK_BITS

CHUNK_BYTES = CHUNK_BITS // 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS progress (link TEXT PRIMARY KEY, block INTEGER NOT NULL,
                                     chunk INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pool (id INTEGER PRIMARY KEY AUTOINCREMENT, link TEXT NOT NULL,
                                 block INTEGER NOT NULL, chunk INTEGER NOT NULL,
                                 a BLOB NOT NULL, b BLOB NOT NULL, UNIQUE (link, block, chunk));
CREATE TABLE IF NOT EXISTS delivered (key_id TEXT PRIMARY KEY, link TEXT NOT NULL,
                                      master TEXT NOT NULL, slave TEXT NOT NULL,
                                      slave_key BLOB NOT NULL);
"""


def fingerprint(tables):
    """What a store's keys were distilled from: the scenario without the
    SAEs and limits of [kms] (but with the link ``kms.distil`` names)."""
    core = {k: v for k, v in tables.items() if k != "kms"}
    core["kms.distil"] = (tables.get("kms") or {}).get("distil")
    return hashlib.sha256(json.dumps(core, sort_keys=True, default=str).encode()).hexdigest()


class KeyStore:
    """One SQLite database (a file with ``--store``, else in memory) used from
    the event loop's thread only; ``links`` maps a link name to its two nodes
    (the first holds copy ``a``, the second copy ``b``)."""

    def __init__(self, path, tables, links):
        self.links = dict(links)
        self.path = path
        try:
            self.db = sqlite3.connect(path or ":memory:", isolation_level=None)
            if path:
                mode = self.db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise ValueError(f"--store {path}: SQLite cannot use WAL mode there ({mode})")
                # FULL: a delivery is on disk before its answer (even a power
                # loss cannot hand the same chunks out again)
                self.db.execute("PRAGMA synchronous=FULL")
                # deleted key material is overwritten with zeros in the
                # database pages (older WAL frames keep it until the next
                # checkpoint overwrites them)
                self.db.execute("PRAGMA secure_delete=ON")
            self.db.executescript(_SCHEMA)
            self._check_owner(tables)
        except sqlite3.DatabaseError as err:
            raise ValueError(f"--store {path}: not a usable SQLite key store ({err})") from None

    def _check_owner(self, tables):
        fp = fingerprint(tables)
        row = self.db.execute("SELECT v FROM meta WHERE k = 'scenario'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('scenario', ?)", (fp,))
        elif row[0] != fp:
            raise ValueError(f"--store {self.path} holds the keys of another scenario: give a "
                             f"new file (keys of different scenarios must not mix)")

    def close(self):
        self.db.close()

    # -- filling -----------------------------------------------------------
    def progress(self, link):
        """(block, chunk) of the key stream that comes next on ``link``."""
        row = self.db.execute("SELECT block, chunk FROM progress WHERE link = ?",
                              (link,)).fetchone()
        return (0, 0) if row is None else (row[0], row[1])

    def add_chunks(self, link, block, first, a_chunks, b_chunks, block_done):
        """Chunks ``first, first+1, ...`` of ``block`` into the pool, and the
        progress past them, in one transaction."""
        nxt = (block + 1, 0) if block_done else (block, first + len(a_chunks))
        with self._tx():
            self.db.executemany(
                "INSERT INTO pool (link, block, chunk, a, b) VALUES (?, ?, ?, ?, ?)",
                [(link, block, first + i, a, b) for i, (a, b) in enumerate(zip(a_chunks, b_chunks))])
            self.db.execute("INSERT OR REPLACE INTO progress VALUES (?, ?, ?)", (link, *nxt))

    def pool_chunks(self, link):
        return self.db.execute("SELECT COUNT(*) FROM pool WHERE link = ?", (link,)).fetchone()[0]

    def delivered_count(self):
        return self.db.execute("SELECT COUNT(*) FROM delivered").fetchone()[0]

    # -- delivery ----------------------------------------------------------
    def take(self, hops, master, slave, number, size_bits):
        """``number`` new keys of ``size_bits`` for ``master``, carried over
        ``hops`` ([(link, near node), ...] from the master's node to the
        slave's): [(key_ID, master's copy)], or the name of a link whose pool
        holds too few chunks (nothing changes then).

        One hop: the master gets its end's copy, the slave will get the other
        end's.  More hops: trusted-node one-time-pad relay.  The key is the
        master's copy of the first hop; each relay decrypts what it received
        with its copy of the previous hop (for the first relay: takes its copy
        of the first hop), encrypts it with its copy of the next hop (XOR)
        and passes it on; the slave's node decrypts with its copy of the
        last hop.  Every hop's chunks are erased as they are used."""
        per_key = size_bits // CHUNK_BITS
        need = number * per_key
        try:
            return self._take(hops, master, slave, number, per_key, need)
        except _Short as short:       # rolled back: no hop lost a chunk
            return short.args[0]

    def _take(self, hops, master, slave, number, per_key, need):
        with self._tx():
            near, far = [], []
            for link, near_node in hops:
                rows = self.db.execute("SELECT id, a, b FROM pool WHERE link = ? ORDER BY id "
                                       "LIMIT ?", (link, need)).fetchall()
                if len(rows) < need:
                    raise _Short(link)
                self.db.executemany("DELETE FROM pool WHERE id = ?", [(r[0],) for r in rows])
                a_near = self.links[link][0] == near_node
                near.append(b"".join(r[1] if a_near else r[2] for r in rows))
                far.append(b"".join(r[2] if a_near else r[1] for r in rows))
            master_bits = near[0]
            carried = far[0]                            # what the first relay (or slave) holds
            for x, y in zip(near[1:], far[1:]):
                wire = _xor(carried, x)                 # on the classical channel
                carried = _xor(wire, y)                 # decrypted at the next node
            out, delivered = [], []
            size = per_key * CHUNK_BYTES
            path = "/".join(link for link, _ in hops)
            for k in range(number):
                key_id = str(uuid.uuid4())
                part = slice(k * size, (k + 1) * size)
                out.append((key_id, master_bits[part]))
                delivered.append((key_id, path, master, slave, carried[part]))
            self.db.executemany("INSERT INTO delivered VALUES (?, ?, ?, ?, ?)", delivered)
        return out

    def give(self, master, slave, key_ids):
        """The slave's copies of ``key_ids`` (all or none), erased as they go:
        [(key_ID, key)], or the first key ID that is not waiting for this
        (master, slave) pair."""
        with self._tx():
            out = []
            for key_id in key_ids:
                row = self.db.execute(
                    "SELECT slave_key FROM delivered WHERE key_id = ? AND master = ? AND slave = ?",
                    (key_id, master, slave)).fetchone()
                if row is None:
                    raise KeyError(key_id)
                out.append((key_id, row[0]))
            self.db.executemany("DELETE FROM delivered WHERE key_id = ?",
                                [(k,) for k in key_ids])
        return out

    def _tx(self):
        return _Transaction(self.db)


class _Short(Exception):
    """A hop's pool holds too few chunks (rolls the transaction back)."""


def _xor(x, y):
    return (int.from_bytes(x, "big") ^ int.from_bytes(y, "big")).to_bytes(len(x), "big")


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, tb):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False
