"""A repeater chain as a link (:mod:`qchannel.links.base`): one slot of the
contract is one realisation, i.e. one end-to-end delivery of the chain (the
model is in :mod:`qchannel.protocols.repeater`; the kernel is
:mod:`qchannel._core.repeater`).

Realisation ``r`` draws from the Philox stream addressed by ``r`` alone, so
blocks are independent (``draw``; nothing is carried) and the samples do
not depend on the block size.  The first block holds only ``FIRST_CHUNK``
realisations: a chain that cannot deliver (a cutoff far too short) is
reported at once, not after every realisation ran into ``max_attempts``.
The rest is cut into at least ``SPLIT_BLOCKS`` blocks (of at least
``MIN_BLOCK`` realisations, at most ``chunk_size``) so that the threads of
:class:`qchannel.links.base.ThreadedBackend` share the work evenly (one
block of 65536 realisations and one of 34448 kept one thread busy while the
other idled).
"""
import math
from dataclasses import dataclass

import numpy as np

from qchannel import rng
from qchannel.links.base import Link
from qchannel.params import check_int

#: Realisations of the first block.
FIRST_CHUNK = 16
#: Without an explicit ``chunk_size`` the realisations after the first block
#: form at least this many blocks (threads balance) of at least MIN_BLOCK
#: realisations each (a block's Python work, ~30 us, stays small against
#: the kernel's: microseconds per realisation or more).
SPLIT_BLOCKS = 64
MIN_BLOCK = 256


class ChainDidNotDeliver(ValueError):
    """A realisation ran past ``max_attempts`` slots."""


@dataclass
class ChainSamples:
    """Per-realisation arrays from the kernel."""

    wait_slots: np.ndarray      # int64, slots until delivery
    states: np.ndarray          # (n, 4) Pauli-frame probabilities I, X, Z, Y
    stored_slots: np.ndarray    # summed storage time of the pairs in the delivered one

    @property
    def fidelity(self):
        return self.states[:, 0]

    def __len__(self):
        return len(self.wait_slots)

    @classmethod
    def concatenate(cls, parts):
        parts = list(parts)
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("wait_slots", "states", "stored_slots")))


class RepeaterChainLink(Link):
    """Realisations ``first .. first + count - 1`` of a
    :class:`qchannel.protocols.repeater.RepeaterConfig`, in blocks of
    ``chunk_size`` (after a first block of ``FIRST_CHUNK``; None: blocks of
    at most the config's ``chunk_size``, at least ``SPLIT_BLOCKS`` of them
    where each keeps ``MIN_BLOCK`` realisations)."""

    def __init__(self, config, first=0, count=None, chunk_size=None):
        self.config = config
        self.first = check_int("first", first, 0, 2**47)
        self.pulses = config.realisations if count is None else check_int("count", count, 0, 2**47)
        head = min(self.pulses, FIRST_CHUNK)
        if chunk_size is None:
            split = -(-(self.pulses - head) // SPLIT_BLOCKS)
            self.block_size = max(1, min(config.chunk_size, max(MIN_BLOCK, split)))
        else:
            self.block_size = check_int("chunk_size", chunk_size, 1)
        self._bounds = [0] + list(range(head, self.pulses, self.block_size)) + [self.pulses]
        if head == self.pulses:
            self._bounds = [0, self.pulses]

    @property
    def n_blocks(self):
        return len(self._bounds) - 1

    def block_range(self, b):
        return self._bounds[b], self._bounds[b + 1] - self._bounds[b]

    def prepare(self, seed):
        from qchannel._core import repeater as _k

        c = self.config
        f0 = c.initial_fidelity
        if c.memory_t2_s is None:
            deco, decay = _k.DECOHERENCE_CODES["none"], 0.0
        else:
            deco = _k.DECOHERENCE_CODES[c.decoherence]
            decay = 2.0 * c.attempt_time_s / c.memory_t2_s  # both qubits of a stored pair
        cutoff = -1 if c.cutoff_s is None else int(math.floor(c.cutoff_s / c.attempt_time_s
                                                              * (1 + 1e-12)))
        return {"kernel": _k, "seed": seed, "deco": deco, "decay": decay, "cutoff": cutoff,
                "init": np.array([f0, (1 - f0) / 3, (1 - f0) / 3, (1 - f0) / 3]),
                "log1m_p": math.log1p(-c.success_prob) if c.success_prob < 1.0 else -math.inf}

    def draw(self, ctx, b, start, n):
        c, k = self.config, ctx["kernel"]
        wait = np.empty(n, dtype=np.int64)
        states = np.empty((n, 4), dtype=np.float64)
        stored = np.empty(n, dtype=np.float64)
        lost = k.simulate_chain(
            ctx["seed"], int(rng.Purpose.REPEATER), self.first + start, n, c.segments,
            ctx["log1m_p"], c.swap_prob, ctx["init"], ctx["deco"], ctx["decay"],
            k.PURIFICATION_CODES[c.purification], ctx["cutoff"], c.max_attempts,
            wait, states, stored)
        if lost:
            raise ChainDidNotDeliver(
                f"{lost} of {n} realisations took more than max_attempts = {c.max_attempts} "
                "slots; the cutoff_s is too short (or success_prob too small) for the chain "
                "to deliver: raise cutoff_s or max_attempts")
        return ChainSamples(wait, states, stored)

    def carry(self, ctx, b, start, n, drawn):
        return drawn            # nothing sequential: realisations are independent

    @staticmethod
    def concatenate(records):
        return ChainSamples.concatenate(records)
