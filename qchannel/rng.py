"""Addressing of random streams: (seed, purpose, block).

Every random number in qchannel comes from the Philox4x64-10 generator of the
compiled core.  A stream is named by the user's 64-bit seed, a *purpose* (which
part of the simulation draws from it) and a *block* (which fixed slice of work).
Because no stream depends on how work is scheduled, one seed gives bit-identical
results whatever the number of threads, processes, workers or the chunk size.
There is no global generator and no unseeded fallback.
"""
from enum import IntEnum

import numpy as np

from qchannel._core import philox as _philox

SEED_MAX = 2**64 - 1
BLOCK_MAX = 2**32 - 1


class Purpose(IntEnum):
    """The purposes of random streams.  Values are part of the reproducibility
    contract: never renumber, only append."""

    TRANSPORT = 1          # photon transport: event gaps, classes, bases, clicks
    DETECTOR = 2           # sequential detector pass: afterpulses
    SENT_COUNTS = 3        # per-intensity counts of slots without a click
    SAMPLING = 4           # parameter-estimation sampling
    CASCADE = 10           # Cascade shuffles
    LDPC = 11              # LDPC code construction, puncturing, shortening
    VERIFICATION = 12      # verification hash seed
    PRIVACY_AMPLIFICATION = 13  # Toeplitz seed
    FADING = 20            # atmospheric fading series
    ENTANGLEMENT = 30      # entangled-pair sources
    REPEATER = 40          # repeater-chain Monte Carlo
    EVE = 50               # eavesdropper's choices
    SWEEP = 60             # per-point seed derivation in sweeps
    MDI = 70               # MDI-QKD two-sender link (qchannel._core.mdi)
    TWIN_FIELD = 71        # twin-field link: phases, residual phase walk
    ROUTING = 80           # entanglement-routing Monte Carlo
    QRNG = 90              # QRNG devices: clicks, afterpulses
    QRNG_EXTRACTOR_SEED = 91  # QRNG extractor: Toeplitz seed
    KMS = 100              # per-block seeds of the key pools of `qchannel kms`


def check_seed(seed, name="seed"):
    """Validate a user seed: an integer in [0, 2**64 - 1]."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"{name} = {seed!r} must be an integer in [0, {SEED_MAX}]")
    seed = int(seed)
    if not 0 <= seed <= SEED_MAX:
        raise ValueError(f"{name} = {seed} is out of range: must be in [0, {SEED_MAX}]")
    return seed


def _check_block(block):
    block = int(block)
    if not 0 <= block <= BLOCK_MAX:
        raise ValueError(f"block = {block} is out of range: must be in [0, {BLOCK_MAX}]")
    return block


def uint32(seed, purpose, block, n):
    """The first ``n`` 32-bit words of stream (seed, purpose, block)."""
    return _philox.stream_u32(check_seed(seed), int(purpose), _check_block(block), int(n))


def uint64(seed, purpose, block, n):
    """The first ``n`` 64-bit words of stream (seed, purpose, block)."""
    return _philox.stream_u64(check_seed(seed), int(purpose), _check_block(block), int(n))


def uniform(seed, purpose, block, n):
    """``n`` doubles uniform on the open interval (0, 1)."""
    return _philox.stream_uniform(check_seed(seed), int(purpose), _check_block(block), int(n))


def permutation(seed, purpose, block, n):
    """A uniform random permutation of ``range(n)`` (int64 array)."""
    return _philox.stream_permutation(check_seed(seed), int(purpose), _check_block(block),
                                      int(n))


def bits(seed, purpose, block, n):
    """``n`` random bits as a uint8 array of 0/1."""
    return _philox.stream_bits(check_seed(seed), int(purpose), _check_block(block), int(n))


def binomial_firsts(seed, purpose, blocks, n, p):
    """For each i, the first Binomial(n[i], p) deviate of stream (seed,
    purpose, blocks[i]) (int64 array): many one-draw streams in one call."""
    arrays = []
    for name, a in (("blocks", blocks), ("n", n)):
        a = np.asarray(a)
        if a.ndim != 1 or not (a.dtype.kind in "iu" or a.size == 0):
            raise ValueError(f"{name} must be a 1-D array of integers, got {a.dtype} "
                             f"with shape {a.shape}")
        arrays.append(np.ascontiguousarray(a, dtype=np.int64))
    return _philox.stream_binomial_firsts(check_seed(seed), int(purpose), *arrays, p)


def derive_seed(seed, purpose, *key):
    """A 64-bit child seed from a parent seed, a purpose and a key of integers
    or strings (e.g. a sweep point).  Deterministic and order-independent of
    how callers are scheduled."""
    import hashlib

    h = hashlib.blake2b(digest_size=8)
    h.update(check_seed(seed).to_bytes(8, "little"))
    h.update(int(purpose).to_bytes(4, "little"))
    for part in key:
        h.update(repr(part).encode())
        h.update(b"\x00")
    return int.from_bytes(h.digest(), "little")
