"""The link contract and the kernel-backend seam.

Every link model (prepare-and-measure, attacked, entangled-pair, repeater
chain) is a :class:`Link`:

* ``pulses``: the exact number of slots (pulses, pair slots, realisations)
  the run covers;
* ``prepare(seed)``: the kernel inputs, i.e. compiled tables per segment of
  constant parameters (a fiber is one segment, a pass one per time bin), and
  the state the sequential part carries from block to block;
* work is split in fixed blocks of ``block_size`` slots (part of the
  reproducibility contract: block ``b`` draws from the Philox stream
  (seed, purpose, b) whatever the chunking, threads or workers);
* per block, ``draw(ctx, b, start, n)`` is the independent part (it may run
  on any thread, in any order) and ``carry(ctx, b, start, n, drawn)`` the
  sequential part (a detector pass with dead time and afterpulses), run in
  block order; it returns the block's record;
* ``blocks(seed, chunk_blocks=1, progress=None)`` yields records (one per
  chunk of blocks, identical concatenations for any chunking) and
  ``simulate(seed)`` returns the whole run as one record.

The backend decides how blocks are executed.  :class:`SerialBackend` runs
them in order on this thread; a multi-threaded or GPU backend replaces it
(``link.backend = ...``) without touching any protocol, provided it calls
``carry`` in block order.
"""
from qchannel.params import check_int
from qchannel.rng import check_seed

#: Fixed size of a block of slots.  Part of the reproducibility contract:
#: changing it changes which random numbers each slot sees.
BLOCK_SLOTS = 1 << 24
#: 2^32 blocks: the stream's block index is 32 bits.
MAX_PULSES = (1 << 32) * BLOCK_SLOTS


class SerialBackend:
    """Blocks one after the other on the calling thread."""

    name = "serial"

    def run(self, link, ctx, n_blocks):
        """Yield ``(b, start, n, record)`` for every block in order."""
        for b in range(n_blocks):
            start, n = link.block_range(b)
            yield b, start, n, link.carry(ctx, b, start, n, link.draw(ctx, b, start, n))


class Link:
    """Base of every link model (see the module docstring).  Subclasses set
    ``pulses`` and implement ``prepare``, ``carry`` (and ``draw`` where the
    block has an independent part) and ``concatenate``."""

    block_size = BLOCK_SLOTS
    backend = SerialBackend()
    pulses: int

    def prepare(self, seed):  # pragma: no cover - abstract
        raise NotImplementedError

    def draw(self, ctx, b, start, n):
        """The part of block ``b`` that depends on nothing but its stream."""
        return None

    def carry(self, ctx, b, start, n, drawn):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def concatenate(records):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def n_blocks(self):
        return -(-self.pulses // self.block_size)

    def block_range(self, b):
        start = b * self.block_size
        return start, min(self.block_size, self.pulses - start)

    def blocks(self, seed, chunk_blocks=1, progress=None):
        """Yield one record per chunk of ``chunk_blocks`` fixed blocks; their
        concatenation does not depend on ``chunk_blocks``."""
        seed = check_seed(seed)
        chunk_blocks = check_int("chunk_blocks", chunk_blocks, 1, 1 << 20)
        ctx = self.prepare(seed)
        n_blocks = self.n_blocks
        pending = []
        for b, start, n, record in self.backend.run(self, ctx, n_blocks):
            pending.append(record)
            if len(pending) == chunk_blocks or b == n_blocks - 1:
                yield pending[0] if len(pending) == 1 else self.concatenate(pending)
                pending = []
            if progress is not None:
                progress(start + n, self.pulses)

    def simulate(self, seed, chunk_blocks=1, progress=None):
        """The whole run as one record (for tests and small runs)."""
        return self.concatenate(list(self.blocks(seed, chunk_blocks, progress)))
