"""Key store of ``qchannel kms``: deliveries per second (one key of 256 bits
to the master, then to the slave: two transactions), in memory and in a WAL
file with synchronous FULL (an fsync per transaction).  The HTTP layer's
numbers come from tests/kms/test_load.py."""
import os

import pytest

pytest.importorskip("aiohttp")

from qchannel.kms.store import CHUNK_BYTES, KeyStore  # noqa: E402

KEYS = 100
LINKS = {"x--y": ("x", "y")}


def _cycle(store):
    hops = [("x--y", "x")]
    for _ in range(KEYS):
        (kid, key), = store.take(hops, "m", "s", 1, 256)
        store.give("m", "s", [kid])


@pytest.mark.parametrize("where", ["memory", "wal-file"])
def test_store_deliveries(benchmark, tmp_path, where):
    store = KeyStore(str(tmp_path / "k.sqlite") if where == "wal-file" else None, {}, LINKS)
    state = {"block": 0}

    def fill():
        chunks = [os.urandom(CHUNK_BYTES) for _ in range(KEYS)]
        store.add_chunks("x--y", state["block"], 0, chunks, chunks, True)
        state["block"] += 1
        return (store,), {}

    benchmark.pedantic(_cycle, setup=fill, rounds=3, iterations=1)
    if benchmark.enabled:
        t = benchmark.stats.stats.median
        benchmark.extra_info.update(keys_per_s=KEYS / t)
    assert store.pool_chunks("x--y") == 0 and store.delivered_count() == 0
