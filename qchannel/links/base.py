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
them in order on this thread; :class:`ThreadedBackend` draws blocks on a pool
of native threads (the kernels release the GIL) and carries them in order on
the calling thread, so the records are bit-identical for any number of
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
    """Blocks one after the other on the calling thread."""

    name = "serial"

    def run(self, link, ctx, n_blocks):
        """Yield ``(b, start, n, record)`` for every block in order."""
        for b in range(n_blocks):
            start, n = link.block_range(b)
            yield b, start, n, link.carry(ctx, b, start, n, link.draw(ctx, b, start, n))


class ThreadedBackend:
    """Blocks on ``n_threads`` native threads.  Each thread draws a block (in
    any order) and then, if no other thread is carrying, carries every block
    whose turn has come and whose draw is done, in block order; the calling
    thread only consumes the records, in order.  At most ``2 * n_threads``
    blocks are in flight (bounded memory).  Same records as
    :class:`SerialBackend` for any number of threads: ``draw`` depends on its
    block's stream alone and ``carry`` runs in block order, one at a time.
    The kernels release the GIL, so the threads run on separate cores."""

    name = "threads"

    def __init__(self, n_threads):
        self.n_threads = check_threads("threads", n_threads)

    def run(self, link, ctx, n_blocks):
        if self.n_threads == 1 or n_blocks == 1:
            yield from SerialBackend().run(link, ctx, n_blocks)
            return
        cond = threading.Condition()
        drawn, done = {}, {}             # block -> (ok, value)
        state = {"next": 0, "carrying": False, "failed": False}

        def carry_ready():
            # Carries the blocks whose turn has come, one thread at a time.
            while True:
                with cond:
                    b = state["next"]
                    if state["failed"] or b not in drawn:
                        state["carrying"] = False
                        return
                    ok, value = drawn.pop(b)
                if ok:
                    try:
                        value = link.carry(ctx, b, *link.block_range(b), value)
                    except BaseException as err:   # handed to the consumer
                        ok, value = False, err
                with cond:
                    done[b] = (ok, value)
                    state["next"] = b + 1
                    state["failed"] = state["failed"] or not ok
                    cond.notify_all()

        def task(b):
            try:
                result = (True, link.draw(ctx, b, *link.block_range(b)))
            except BaseException as err:
                result = (False, err)
            with cond:
                drawn[b] = result
                if state["carrying"]:
                    return
                state["carrying"] = True
            carry_ready()

        ahead = 2 * self.n_threads
        submitted, futures = 0, deque()    # futures of blocks b, b + 1, ...
        with ThreadPoolExecutor(self.n_threads, thread_name_prefix="qchannel-block") as pool:
            try:
                for b in range(n_blocks):
                    while submitted < n_blocks and submitted < b + ahead:
                        futures.append(pool.submit(task, submitted))
                        submitted += 1
                    with cond:
                        while b not in done:
                            cond.wait()
                        ok, value = done.pop(b)
                    futures.popleft()
                    if not ok:
                        raise value
                    yield (b, *link.block_range(b), value)
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
        for b, start, n, record in self.run_backend().run(self, ctx, n_blocks):
            pending.append(record)
            if len(pending) == chunk_blocks or b == n_blocks - 1:
                yield pending[0] if len(pending) == 1 else self.concatenate(pending)
                pending = []
            if progress is not None:
                progress(start + n, self.pulses)

    def simulate(self, seed, chunk_blocks=1, progress=None):
        """The whole run as one record (for tests and small runs)."""
        return self.concatenate(list(self.blocks(seed, chunk_blocks, progress)))
