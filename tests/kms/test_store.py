"""The key store: kill -9 of a real ``qchannel kms`` with ``--store`` and a
restart lose nothing and serve nothing twice; and its transactions alone."""
import base64
import os
import sqlite3

import pytest

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("cryptography")

from qchannel.kms.store import KeyStore
from tests.kms.conftest import KmsProcess, Sae, run, scenario_text


LINKS = {"alice-bob": ("alice", "bob")}


def test_kill_9_and_restart_lose_nothing_and_serve_nothing_twice(certs, tmp_path):
    scenario = tmp_path / "kms.toml"
    # a small pool: it is full (release paused in the middle of a block) when killed
    scenario.write_text(scenario_text(max_key_count=48))
    store = str(tmp_path / "keys.sqlite")

    async def before(kms):
        async with aiohttp.ClientSession() as s:
            a = Sae("sae-a", kms.url["alice"], kms.certs, s)
            b = Sae("sae-b", kms.url["bob"], kms.certs, s)
            await a.wait_keys("sae-b", 48)
            _, got = await a.enc_keys("sae-b", number=6)
            keys = got["keys"]
            code, dec = await b.dec_keys("sae-a", [k["key_ID"] for k in keys[:2]])
            assert code == 200 and dec["keys"] == keys[:2]
            _, st = await a.status("sae-b")
            return keys, st["stored_key_count"]

    kms = KmsProcess(str(scenario), certs, store=store, speedup=50, tmp=str(tmp_path))
    try:
        keys, stored = run(before(kms))
    finally:
        kms.kill()                                     # SIGKILL: no clean shutdown
    assert kms.proc.returncode == -9
    # undelivered chunks are on disk (the pool only grows between status and kill)
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        on_disk = db.execute("SELECT COUNT(*) FROM pool").fetchone()[0] // 1
        waiting = db.execute("SELECT COUNT(*) FROM delivered").fetchone()[0]
    assert on_disk >= stored and waiting == 4

    async def after(kms):
        async with aiohttp.ClientSession() as s:
            a = Sae("sae-a", kms.url["alice"], kms.certs, s)
            b = Sae("sae-b", kms.url["bob"], kms.certs, s)
            _, st = await a.status("sae-b")
            assert st["stored_key_count"] >= stored    # undelivered keys still there
            # a key delivered to the master before the kill is still there for the slave
            code, dec = await b.dec_keys("sae-a", [k["key_ID"] for k in keys[2:]])
            assert code == 200 and dec["keys"] == keys[2:]
            # ... and what the slave had is not served again
            assert (await b.dec_keys("sae-a", [keys[0]["key_ID"]]))[0] == 400
            # drain the pool and some more blocks: no key ID and no key bits twice
            new = []
            while len(new) < 120:
                code, got = await a.enc_keys("sae-b", number=8)
                if code == 503:
                    await a.wait_keys("sae-b", 8)
                    continue
                assert code == 200
                new += got["keys"]
                code, dec = await b.dec_keys("sae-a", [k["key_ID"] for k in got["keys"]])
                assert code == 200 and dec["keys"] == got["keys"]
            return new

    kms = KmsProcess(str(scenario), certs, store=store, speedup=50, tmp=str(tmp_path))
    try:
        new = run(after(kms))
    finally:
        kms.kill()
    ids = [k["key_ID"] for k in keys + new]
    material = [base64.b64decode(k["key"]) for k in keys + new]
    assert len(set(ids)) == len(ids)
    assert len(set(material)) == len(material)       # no chunk re-inserted after the restart


def _store(tmp_path, tables=None):
    return KeyStore(str(tmp_path / "s.sqlite"), tables or {"run": {"seed": 1}}, LINKS)


def _fill(store, n, block=0):
    a = [os.urandom(32) for _ in range(n)]
    b = [x for x in a]
    store.add_chunks("alice-bob", block, 0, a, b, True)
    return a


def test_take_and_give_are_all_or_nothing(tmp_path):
    st = _store(tmp_path)
    chunks = _fill(st, 5)
    hop = [("alice-bob", "alice")]
    assert st.take(hop, "sae-a", "sae-b", 3, 512) == "alice-bob"   # needs 6 chunks
    assert st.pool_chunks("alice-bob") == 5
    got = st.take(hop, "sae-a", "sae-b", 2, 512)
    assert [k for _, k in got] == [chunks[0] + chunks[1], chunks[2] + chunks[3]]
    assert st.pool_chunks("alice-bob") == 1 and st.delivered_count() == 2
    ids = [i for i, _ in got]
    with pytest.raises(KeyError):
        st.give("sae-a", "sae-b", ids + ["00000000-0000-4000-8000-000000000000"])
    with pytest.raises(KeyError):
        st.give("sae-x", "sae-b", ids)                 # another master's request
    assert st.delivered_count() == 2                   # nothing given by the failures
    assert st.give("sae-a", "sae-b", ids) == got
    assert st.delivered_count() == 0                   # erased once both sides have it
    with pytest.raises(KeyError):
        st.give("sae-a", "sae-b", ids[:1])
    st.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    st.close()
    # erased: none of the delivered material is left in the database file
    disk = (tmp_path / "s.sqlite").read_bytes()
    assert all(c not in disk for c in chunks[:4]) and chunks[4] in disk


def test_master_at_bob_gets_bobs_copy(tmp_path):
    st = _store(tmp_path)
    st.add_chunks("alice-bob", 0, 0, [b"a" * 32], [b"b" * 32], True)
    (kid, key), = st.take([("alice-bob", "bob")], "sae-b", "sae-a", 1, 256)
    assert key == b"b" * 32
    assert st.give("sae-b", "sae-a", [kid]) == [(kid, b"a" * 32)]


def test_progress_and_reopen(tmp_path):
    st = _store(tmp_path)
    st.add_chunks("alice-bob", 3, 0, [b"x" * 32] * 2, [b"x" * 32] * 2, False)
    assert st.progress("alice-bob") == (3, 2)
    with pytest.raises(sqlite3.IntegrityError):        # a chunk cannot enter twice
        st.add_chunks("alice-bob", 3, 1, [b"y" * 32], [b"y" * 32], False)
    assert st.progress("alice-bob") == (3, 2)
    st.close()
    st = _store(tmp_path)
    assert st.progress("alice-bob") == (3, 2) and st.pool_chunks("alice-bob") == 2
    st.close()
    with pytest.raises(ValueError, match="another scenario"):
        _store(tmp_path, {"run": {"seed": 2}})
    # the SAEs may change, the link that distils the keys may not
    net = {"network": {"x": 1}, "kms": {"saes": [1], "distil": {"run": {"seed": 1}}}}
    KeyStore(str(tmp_path / "n.sqlite"), net, LINKS).close()
    KeyStore(str(tmp_path / "n.sqlite"), dict(net, kms={"saes": [2], "distil": {"run": {"seed": 1}}}),
             LINKS).close()
    with pytest.raises(ValueError, match="another scenario"):
        KeyStore(str(tmp_path / "n.sqlite"), dict(net, kms={"distil": {"run": {"seed": 2}}}), LINKS)
    (tmp_path / "junk.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(ValueError, match="--store"):
        KeyStore(str(tmp_path / "junk.sqlite"), {}, LINKS)


def test_trusted_node_relay_is_a_one_time_pad_chain(tmp_path):
    """Three hops a--r1--r2--b (the middle link stored r2-first): the master
    gets its copy of the first hop; the slave gets what the relays' XOR chain
    delivers, which is the same key when every link's two copies agree, and
    differs exactly by the disagreement when one link's copies differ."""
    import os

    links = {"a--r1": ("a", "r1"), "r2--r1": ("r2", "r1"), "r2--b": ("r2", "b")}
    st = KeyStore(str(tmp_path / "r.sqlite"), {}, links)
    hops = [("a--r1", "a"), ("r2--r1", "r1"), ("r2--b", "r2")]
    raw = {name: os.urandom(64) for name in links}
    for name in links:
        st.add_chunks(name, 0, 0, [raw[name][:32], raw[name][32:]],
                      [raw[name][:32], raw[name][32:]], True)
    (kid, key), = st.take(hops, "sae-a", "sae-b", 1, 256)
    assert key == raw["a--r1"][:32]
    assert st.give("sae-a", "sae-b", [kid]) == [(kid, key)]
    assert all(st.pool_chunks(name) == 1 for name in links)    # one chunk used on every hop
    # the last chunks: link r2--r1 now has copies that differ in one byte
    st2 = KeyStore(str(tmp_path / "r2.sqlite"), {}, links)
    for name in links:
        other = raw[name][:32]
        if name == "r2--r1":
            other = bytes([other[0] ^ 0x5A]) + other[1:]
        st2.add_chunks(name, 0, 0, [raw[name][:32]], [other], True)
    (kid, key), = st2.take(hops, "sae-a", "sae-b", 1, 256)
    (_, slave), = st2.give("sae-a", "sae-b", [kid])
    assert slave[0] == key[0] ^ 0x5A and slave[1:] == key[1:]
    # a hop without key: None of the pools change
    assert st2.take(hops, "sae-a", "sae-b", 1, 256) == "a--r1"
    st2.add_chunks("a--r1", 1, 0, [b"z" * 32], [b"z" * 32], True)
    assert st2.take(hops, "sae-a", "sae-b", 1, 256) == "r2--r1"
    assert st2.pool_chunks("a--r1") == 1
