"""Pool filling: real distilled blocks, per-link seeds, and the release
clock (never faster than the link's rate times the speedup)."""
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("cryptography")


from qchannel import jobs
from qchannel.kms import source
from qchannel.kms.store import CHUNK_BYTES, KeyStore
from qchannel.kms.topology import Link, Topology
from tests.kms.conftest import EXAMPLE


def test_blocks_are_real_distilled_keys_with_their_own_seeds():
    tables = {k: v for k, v in jobs.load(EXAMPLE).to_dict().items() if k != "kms"}
    seeds = {source.block_seed(1, b, i, 3) for b in range(4) for i in range(3)}
    assert len(seeds) == 12
    assert source.block_seed(1, 5) == source.block_seed(1, 5, 0, 1)
    a, b, duration, why = source.distil_block(tables, source.block_seed(1, 0))
    assert why is None and a == b and len(a) % CHUNK_BYTES == 0 and len(a) > 100 * CHUNK_BYTES
    assert duration == 5.0                                   # 1e7 pulses at 2 MHz
    assert source.distil_block(tables, source.block_seed(1, 0))[0] == a      # reproducible
    a2 = source.distil_block(tables, source.block_seed(1, 1))[0]
    assert a2 != a[:len(a2)]
    bits = np.unpackbits(np.frombuffer(a, np.uint8))
    # privacy-amplified key looks uniform: bit mean within 5 sigma of 1/2
    assert abs(bits.mean() - 0.5) < 5 * 0.5 / np.sqrt(bits.size)


def test_release_never_outruns_the_rate(tmp_path, monkeypatch):
    """A fake 40-chunk block at 2560 bit/s x speedup 10 = 100 chunks/s."""
    block = bytes(range(256)) * (40 * CHUNK_BYTES // 256)
    monkeypatch.setattr(source, "distil_block", lambda tables, seed: (block, block, 1.0, None))
    topo = Topology(None, ("x", "y"), [Link("x--y", "x", "y", 0, 2560.0)], {}, 1)
    store = KeyStore(None, {}, topo.store_links())
    samples = []

    async def go():
        with ThreadPoolExecutor(1) as ex:
            filler = source.LinkFiller(store, topo.links["x--y"], topo, 10.0, 10**6, ex)
            task = asyncio.ensure_future(filler.run())
            while store.pool_chunks("x--y") == 0:
                await asyncio.sleep(0.005)
            t0 = time.monotonic()
            for _ in range(8):
                await asyncio.sleep(0.1)
                samples.append((time.monotonic() - t0, store.pool_chunks("x--y")))
            task.cancel()

    asyncio.run(go())
    for elapsed, n in samples:
        assert n <= 100 * elapsed + 2, samples               # the clock's upper bound
    assert samples[-1][1] >= 20, samples                     # and it does release
    assert store.progress("x--y")[0] >= 1                     # the blocks' progress is kept
