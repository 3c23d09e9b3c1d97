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
* consecutive blocks are run in chunks (``draw_chunk`` / ``carry_chunk``,
  by default the per-block methods in a loop; a link may fuse them): one
  record per chunk;
* ``blocks(seed, chunk_blocks=None, progress=None)`` yields records (one per
  chunk of blocks, identical concatenations for any chunking; None: the
  link's :meth:`Link.chunk_hint`) and ``simulate(seed)`` returns the whole
  run as one record.

The backend decides how chunks are executed.  :class:`SerialBackend` runs
them in order on this thread; :class:`ThreadedBackend` draws chunks on a pool
of native threads (the kernels release the GIL) and carries them in order, so the records are bit-identical for any number of
threads.  By default a link uses ``link.threads`` threads (None: the process
setting :func:`threads`, i.e. every core this process may use); another
backend (GPU, ...) replaces it with ``link.backend = ...`` without touching
any protocol, provided it calls ``carry`` in block order.
"""
import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from qchannel.params import check_int
from qchannel.rng import check_seed

#: Fixed size of a block of slots.  Part of the reproducibility contract:
#: changing it changes which random numbers each slot sees.
BLOCK_SLOTS = 1 << 24
#: 2^32 blocks: the stream's block index is 32 bits.
MAX_PULSES = (1 << 32) * BLOCK_SLOTS


#: Most threads a run may ask for (far above any node's core count).
MAX_THREADS = 4096

_forced = threading.local()


def available_cores():
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):      # not Linux
        return max(1, os.cpu_count() or 1)


def check_threads(name, value):
    """``value`` as a thread count in [1, MAX_THREADS] (ValueError naming ``name``)."""
    return check_int(name, value, 1, MAX_THREADS)


def threads(requested=None):
    """The number of threads a run uses: the one forced by :func:`forced_threads`
    (``--threads``, sweep workers) if any, else ``requested`` (``[run]
    threads``), else :func:`available_cores`."""
    forced = getattr(_forced, "n", None)
    if forced is not None:
        return forced
    if requested is not None:
        return check_threads("run.threads", requested)
    return available_cores()


@contextmanager
def forced_threads(n):
    """Within the block (on this thread), every run uses ``n`` threads whatever
    its ``[run] threads`` says: ``--threads N``, and 1 inside sweep workers so
    that points and blocks never oversubscribe the cores.  None: no change."""
    previous = getattr(_forced, "n", None)
    _forced.n = previous if n is None else check_threads("threads", n)
    try:
        yield _forced.n
    finally:
        _forced.n = previous


class SerialBackend:
    """Chunks one after the other on the calling thread."""

    name = "serial"

    def run(self, link, ctx, n_blocks, chunk=1):
        """Yield ``(b0, b1, record)`` for every chunk of blocks [b0, b1), in order."""
        for b0 in range(0, n_blocks, chunk):
            b1 = min(b0 + chunk, n_blocks)
            yield b0, b1, link.carry_chunk(ctx, b0, b1, link.draw_chunk(ctx, b0, b1))


class ThreadedBackend:
    """Chunks of blocks on ``n_threads`` native threads.  Each thread draws a
    chunk (in any order) and then, if no other thread is carrying, carries
    every chunk whose turn has come and whose draw is done, in order; the
    calling thread only consumes the records, in order.  At most
    ``2 * n_threads`` chunks are in flight (bounded memory).  Same records as
    :class:`SerialBackend` for any number of threads: ``draw`` depends on its
    block's stream alone and ``carry`` runs in block order, one at a time.
    The kernels release the GIL, so the threads run on separate cores; the
    work done with the GIL held is per chunk, not per block or event (a
    chunk spans several blocks where blocks are cheap: :meth:`Link.chunk_hint`)."""

    name = "threads"

    def __init__(self, n_threads):
        self.n_threads = check_threads("threads", n_threads)

    def run(self, link, ctx, n_blocks, chunk=1):
        n_chunks = -(-n_blocks // chunk)
        if self.n_threads == 1 or n_chunks == 1:
            yield from SerialBackend().run(link, ctx, n_blocks, chunk)
            return
        span = lambda c: (c * chunk, min((c + 1) * chunk, n_blocks))  # noqa: E731
        cond = threading.Condition()
        drawn, done = {}, {}             # chunk -> (ok, value)
        state = {"next": 0, "carrying": False, "failed": False}

        def carry_ready():
            # Carries the chunks whose turn has come, one thread at a time.
            while True:
                with cond:
                    c = state["next"]
                    if state["failed"] or c not in drawn:
                        state["carrying"] = False
                        return
                    ok, value = drawn.pop(c)
                if ok:
                    try:
                        value = link.carry_chunk(ctx, *span(c), value)
                    except BaseException as err:   # handed to the consumer
                        ok, value = False, err
                with cond:
                    done[c] = (ok, value)
                    state["next"] = c + 1
                    state["failed"] = state["failed"] or not ok
                    cond.notify_all()

        def task(c):
            try:
                result = (True, link.draw_chunk(ctx, *span(c)))
            except BaseException as err:
                result = (False, err)
            with cond:
                drawn[c] = result
                if state["carrying"]:
                    return
                state["carrying"] = True
            carry_ready()

        ahead = 2 * self.n_threads
        submitted, futures = 0, deque()    # futures of chunks c, c + 1, ...
        with ThreadPoolExecutor(self.n_threads, thread_name_prefix="qchannel-block") as pool:
            try:
                for c in range(n_chunks):
                    while submitted < n_chunks and submitted < c + ahead:
                        futures.append(pool.submit(task, submitted))
                        submitted += 1
                    with cond:
                        while c not in done:
                            cond.wait()
                        ok, value = done.pop(c)
                    futures.popleft()
                    if not ok:
                        raise value
                    yield (*span(c), value)
            finally:            # an error or an abandoned generator: stop carrying
                with cond:
                    state["failed"] = True
                for f in futures:
                    f.cancel()          # draws not started yet


class Link:
    """Base of every link model (see the module docstring).  Subclasses set
    ``pulses`` and implement ``prepare``, ``carry`` (and ``draw`` where the
    block has an independent part) and ``concatenate``.  ``threads``: how
    many threads draw blocks (None: :func:`threads`); ``backend``: None for
    the default (serial with one thread, else :class:`ThreadedBackend`) or an
    explicit backend."""

    block_size = BLOCK_SLOTS
    backend = None
    threads = None
    pulses: int

    def run_backend(self):
        """The backend that executes this link's blocks."""
        if self.backend is not None:
            return self.backend
        n = threads(self.threads)
        return SerialBackend() if n == 1 else ThreadedBackend(n)

    def draws_ahead(self):
        """Whether this link's backend draws chunks on other threads while
        earlier ones are carried: where a chunk's draw may have to be redone
        in ``carry_chunk`` (a speculative draw), it pays only then."""
        backend = self.run_backend()
        return isinstance(backend, ThreadedBackend) and backend.n_threads > 1

    def prepare(self, seed):  # pragma: no cover - abstract
        raise NotImplementedError

    def draw(self, ctx, b, start, n):
        """The part of block ``b`` that depends on nothing but its stream."""
        return None

    def chunk_hint(self, ctx):
        """Blocks per chunk when the caller does not choose (``chunk_blocks=None``):
        1 by default; a link whose blocks are cheap (few events) asks for more,
        so that the per-chunk Python work stays small against the kernels'."""
        return 1

    def draw_chunk(self, ctx, b0, b1):
        """The independent part of blocks [b0, b1) (any thread, any order)."""
        return [self.draw(ctx, b, *self.block_range(b)) for b in range(b0, b1)]

    def carry_chunk(self, ctx, b0, b1, drawn):
        """The sequential part of blocks [b0, b1), in order: one record."""
        records = [self.carry(ctx, b, *self.block_range(b), d)
                   for b, d in zip(range(b0, b1), drawn)]
        return records[0] if len(records) == 1 else self.concatenate(records)

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

    def blocks(self, seed, chunk_blocks=None, progress=None):
        """Yield one record per chunk of ``chunk_blocks`` fixed blocks (None:
        :meth:`chunk_hint`); their concatenation does not depend on
        ``chunk_blocks``."""
        seed = check_seed(seed)
        ctx = self.prepare(seed)
        if chunk_blocks is None:
            chunk_blocks = self.chunk_hint(ctx)
        chunk_blocks = check_int("chunk_blocks", chunk_blocks, 1, 1 << 20)
        for b0, b1, record in self.run_backend().run(self, ctx, self.n_blocks, chunk_blocks):
            yield record
            if progress is not None:
                start, n = self.block_range(b1 - 1)
                progress(start + n, self.pulses)

    def simulate(self, seed, chunk_blocks=None, progress=None):
        """The whole run as one record (for tests and small runs)."""
        return self.concatenate(list(self.blocks(seed, chunk_blocks, progress)))
