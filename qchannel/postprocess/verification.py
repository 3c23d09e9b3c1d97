"""Error verification: do Alice's and Bob's reconciled keys agree?

Both parties hash their key with the same random Toeplitz matrix of
``t = ceil(log2(1 / eps_cor))`` rows (the seed, ``n + t - 1`` bits, is the
public Philox stream ``(seed, Purpose.VERIFICATION, block)``); Alice sends her
``t``-bit tag and Bob compares it with his.  Toeplitz matrices with a uniform
seed form a universal family: for any two different keys ``x != y`` the tags
collide with probability exactly ``2**-t <= eps_cor`` (``T (x - y)`` is
uniform on ``{0,1}^t`` for every nonzero difference), so the protocol is
``eps_cor``-correct.  The ``t`` tag bits are public and count as leakage.
"""
import math
from dataclasses import dataclass

import numpy as np

from qchannel import rng as _rng
from qchannel._core import toeplitz as _tk
from qchannel.params import check_bits, check_int, check_real
from qchannel.postprocess.privacy import _pack, seed_words

__all__ = ["VerificationResult", "tag_length", "verification_tag", "verify"]


@dataclass(frozen=True)
class VerificationResult:
    """``match``: the tags agree; ``tag_bits``: bits disclosed (leakage)."""

    match: bool
    tag_bits: int


def tag_length(eps_cor):
    """Tag bits for a collision probability at most ``eps_cor`` in (0, 1)."""
    eps_cor = check_real("eps_cor", eps_cor, 0.0, 1.0, lo_open=True, hi_open=True)
    t = math.ceil(-math.log2(eps_cor))
    # guard against rounding of log2 at exact powers of two
    if 2.0 ** -(t - 1) <= eps_cor:
        t -= 1
    return max(1, t)


def _tag(words, n, t, seed, block, s_words=None):
    if s_words is None:
        s_words = seed_words(seed, _rng.Purpose.VERIFICATION, block, n + t - 1)
    return _tk.unpack_bits(_tk.middle_product_words(s_words, words, n, t), t)


def verification_tag(bits, tag_bits, seed, block=0):
    """The ``tag_bits``-bit Toeplitz tag of ``bits`` (uint8 array)."""
    bits = check_bits("bits", bits)
    n = bits.shape[0]
    t = check_int("tag_bits", tag_bits, 1)
    seed = _rng.check_seed(seed)
    block = check_int("block", block, 0, _rng.BLOCK_MAX)
    return _tag(_pack(bits), n, t, seed, block)


def verify(alice_bits, bob_bits, eps_cor, seed, block=0):
    """Compare Toeplitz tags of the two keys; ``match`` is True when they agree.

    Equal keys always match; different keys match with probability
    ``2**-tag_bits <= eps_cor`` over the seed.
    """
    alice = check_bits("alice_bits", alice_bits)
    bob = check_bits("bob_bits", bob_bits)
    n = alice.shape[0]
    if n != bob.shape[0]:
        raise ValueError(
            f"alice_bits and bob_bits must have equal lengths, got {n} and {bob.shape[0]}"
        )
    t = tag_length(eps_cor)
    seed = _rng.check_seed(seed)
    block = check_int("block", block, 0, _rng.BLOCK_MAX)
    aw, bw = _pack(alice), _pack(bob)
    s_words = seed_words(seed, _rng.Purpose.VERIFICATION, block, n + t - 1)
    ta = _tag(aw, n, t, seed, block, s_words)
    tb = _tag(bw, n, t, seed, block, s_words)
    return VerificationResult(match=bool(np.array_equal(ta, tb)), tag_bits=t)
