"""Filling a link's key pool from the simulation.

Block ``b`` of link ``i`` (of ``n``) is one run of a decoy-BB84 link (its
Monte Carlo, sifting, finite key, real error correction, verification and
privacy amplification) with the seed word ``i`` of stream
``(run.seed, Purpose.KMS, b)``; both ends' final keys are compared and a
block whose copies differ gives no key.  The block's final key is released
into the pool in 256-bit chunks at the link's rate times ``speedup``.  On a
two-party scenario that rate is the block's own simulated secret-key rate
(its bits over its simulated duration, ``run.pulses / source.rep_rate_hz``):
a block of ``duration`` simulated seconds takes ``duration / speedup``
seconds of wall time, an aborted block too (no key for that long).  On a
trusted-node network it is the link's ``key_rate_bps``.  Distillation
runs in a separate process one block ahead of the release; when it is
slower than the release clock the pool fills at the rate the computer
manages (the log says so).  A full pool pauses the release.
"""
import asyncio
import logging

import numpy as np

from qchannel.kms.config import CHUNK_BITS
from qchannel.kms.store import CHUNK_BYTES

log = logging.getLogger("qchannel.kms")


def block_seed(seed, block, link_index=0, n_links=1):
    """The seed of block ``block`` of link ``link_index``: word ``link_index``
    of stream (seed, KMS, block)."""
    from qchannel import rng

    return int(rng.uint64(seed, rng.Purpose.KMS, block, n_links)[link_index])


def distil_block(tables, seed):
    """Run the decoy-BB84 link ``tables`` (without [kms]) with ``seed``;
    returns (alice bytes, bob bytes, simulated seconds, why no key or None).
    The keys are cut to whole 256-bit chunks."""
    from qchannel import jobs
    from qchannel.runner import run_scenario

    tables = {k: v for k, v in tables.items() if k != "kms"}
    tables["run"] = dict(tables.get("run", {}), seed=seed)
    sc = jobs.from_dict(tables)
    result = run_scenario(sc)
    duration = result.pulses / result.rep_rate_hz
    keys = result.keys
    if result.aborted or keys is None or keys.alice_key is None:
        return b"", b"", duration, result.abort_reason or "no key"
    n = len(keys.alice_key) // CHUNK_BITS * CHUNK_BITS
    a = np.packbits(keys.alice_key[:n]).tobytes()
    b = np.packbits(keys.bob_key[:n]).tobytes()
    return a, b, duration, None


class LinkFiller:
    """The background task that fills one link's pool (see the module)."""

    def __init__(self, store, link, topology, speedup, capacity_chunks, executor):
        """``link``: a :class:`qchannel.kms.topology.Link` of ``topology``."""
        self.store, self.link, self.tables = store, link.name, topology.distil
        self.rate_bps = link.rate_bps
        self.seed_of = lambda block: block_seed(topology.seed, block, link.index,
                                                len(topology.links))
        self.speedup = speedup
        self.capacity = capacity_chunks
        self.executor = executor
        self.blocks_done = 0
        self.error = None
        self.warned = False

    async def run(self):
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except Exception as err:   # the pool stops filling; the KMEs keep serving it
            self.error = err
            log.error("link %s: key distillation stopped: %s", self.link, err)

    async def _run(self):
        loop = asyncio.get_running_loop()
        if self.rate_bps is not None and self.rate_bps <= 0:
            log.warning("link %s has no key rate: its pool stays empty", self.link)
            return
        block, first = self.store.progress(self.link)
        pending = loop.run_in_executor(self.executor, distil_block, self.tables,
                                       self.seed_of(block))
        next_t = None
        while True:
            a, b, duration, why = await pending
            # the next block is distilled while this one is released
            pending = loop.run_in_executor(self.executor, distil_block, self.tables,
                                           self.seed_of(block + 1))
            if self.rate_bps is not None:       # the network's rate for this link
                duration = len(a) * 8 / self.rate_bps
            now = loop.time()
            if next_t is not None and now > next_t + 1.0 and not self.warned:
                self.warned = True
                log.warning("link %s: distillation is slower than %g x the link's key rate; "
                            "the pool fills as fast as the computer distils", self.link,
                            self.speedup)
            next_t = now if next_t is None or next_t < now else next_t
            if a != b:      # verification should have caught it: never serve unequal keys
                log.error("link %s block %d: the two ends' keys differ; block dropped",
                          self.link, block)
                a = b = b""
            n = len(a) // CHUNK_BYTES
            if n == 0:
                log.warning("link %s block %d gave no key (%s)", self.link, block, why)
                self.store.add_chunks(self.link, block, 0, [], [], True)
                next_t += duration / self.speedup
            else:
                step = duration / n / self.speedup      # wall seconds per chunk
                i = first                               # > 0: resumed after a restart
                while i < n:
                    now = loop.time()
                    room = self.capacity - self.store.pool_chunks(self.link)
                    if room <= 0:                       # full: the release clock waits
                        next_t = max(next_t, now)
                        await asyncio.sleep(0.05)
                        continue
                    if now < next_t:
                        await asyncio.sleep(min(0.05, next_t - now))
                        continue
                    due = min(n - i, room, int((now - next_t) / step) + 1)
                    sl = [(j * CHUNK_BYTES, (j + 1) * CHUNK_BYTES) for j in range(i, i + due)]
                    self.store.add_chunks(self.link, block, i, [a[s:e] for s, e in sl],
                                          [b[s:e] for s, e in sl], i + due == n)
                    i += due
                    next_t += due * step
            log.info("link %s block %d: %d key bits released", self.link, block,
                     n * CHUNK_BITS)
            self.blocks_done += 1
            block, first = block + 1, 0
