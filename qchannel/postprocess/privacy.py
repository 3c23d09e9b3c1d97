"""Privacy amplification by Toeplitz hashing.

A Toeplitz matrix T (``out_len`` x ``n``) over GF(2) is fixed by
``n + out_len - 1`` seed bits; the family of such matrices with a uniformly
random seed is 2-universal, so by the leftover hash lemma it extracts
``out_len`` nearly uniform bits from an ``n``-bit key about which Eve's
smooth min-entropy exceeds ``out_len`` by the security margin.

Convention (used everywhere in qchannel)::

    T[i, j] = seed_bits[i - j + n - 1]        0 <= i < out_len, 0 <= j < n

* first column  T[:, 0] = seed_bits[n - 1 : n - 1 + out_len]
* first row     T[0, :] = seed_bits[n - 1 :: -1]   (seed_bits[n-1], ..., seed_bits[0])
* equivalently, ``T @ bits`` (mod 2) is the window [n - 1, n - 1 + out_len) of
  the GF(2) convolution of ``seed_bits`` with ``bits``.

The product is computed exactly by the compiled kernel
(:mod:`qchannel._core.toeplitz`): schoolbook carry-less multiplication of 64-bit
words for short outputs, and for long ones an additive FFT over GF(2^128)
(Lin-Chung-Han transform on a Cantor basis, 64 key bits per field element),
with PCLMULQDQ / VPCLMULQDQ when the CPU has them.  Both methods give the
bit-identical GF(2) matrix-vector product; the choice only affects speed.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from qchannel import rng as _rng
from qchannel._core import toeplitz as _tk
from qchannel.params import check_bits, check_int

__all__ = ["toeplitz_hash", "privacy_amplify", "seed_words"]

MAX_THREADS = 1024


def _pack(bits):
    """Checked bits (:func:`qchannel.params.check_bits`) -> little-endian uint64 words."""
    return _tk.pack_bits(bits)[0]


def seed_words(seed, purpose, block, nbits):
    """The first ``nbits`` bits of Philox stream (seed, purpose, block), packed
    little-endian in uint64 words: bit k is ``qchannel.rng.bits(...)[k]``.

    ``rng.bits`` consumes the stream as 32-bit words, high half of every 64-bit
    output first, so bit word i is the 64-bit output i rotated by 32."""
    nw = (nbits + 63) // 64
    w = _rng.uint64(seed, purpose, block, nw)
    w = (w >> np.uint64(32)) | (w << np.uint64(32))
    if nbits & 63:
        w[-1] &= (np.uint64(1) << np.uint64(nbits & 63)) - np.uint64(1)
    return w


def _bit_slice(words, start, nbits):
    """Bits [start, start + nbits) of little-endian packed ``words`` as packed
    words (bits past the end read as 0; bits past nbits left unspecified)."""
    q, r = divmod(start, 64)
    nw = (nbits + 63) // 64
    seg = np.zeros(nw + 1, dtype=np.uint64)
    part = words[q:q + nw + 1]
    seg[:part.shape[0]] = part
    if not r:
        return seg[:nw]
    return (seg[:nw] >> np.uint64(r)) | (seg[1:] << np.uint64(64 - r))


def _hash_words(key_words, n, s_words, out_len, method, threads=1):
    """T @ key.  With ``threads`` > 1 the key is cut into column blocks of
    whole words: T @ x = XOR over blocks J of T[:, J] @ x[J], and T[:, J] is
    again Toeplitz, with the seed bits [n - j1, n - j1 + |J| + out_len - 1)
    for J = [j0, j1).  Exact GF(2) algebra: the same bits for any thread
    count (each block costs an FFT of |J| + out_len, so the split pays when
    out_len is small against n)."""
    nw = (n + 63) // 64
    blocks = max(1, min(threads, nw))
    if blocks == 1:
        out = _tk.middle_product_words(s_words, key_words, n, out_len, method=method)
        return _tk.unpack_bits(out, out_len)
    bounds = [64 * (nw * i // blocks) for i in range(blocks)] + [n]

    def part(i):
        j0, j1 = bounds[i], bounds[i + 1]
        sub = _bit_slice(s_words, n - j1, j1 - j0 + out_len - 1)
        return _tk.middle_product_words(sub, key_words[j0 // 64:(j1 + 63) // 64], j1 - j0,
                                        out_len, method=method)

    with ThreadPoolExecutor(max_workers=blocks) as ex:
        parts = list(ex.map(part, range(blocks)))
    out = parts[0]
    for p in parts[1:]:
        out ^= p
    return _tk.unpack_bits(out, out_len)


def toeplitz_hash(bits, seed_bits, out_len, *, method="auto"):
    """``T @ bits`` (mod 2) for the Toeplitz matrix ``T[i, j] = seed_bits[i - j + n - 1]``.

    Parameters
    ----------
    bits : 1-D array of 0/1 (uint8 or bool), length n >= 1.
    seed_bits : 1-D array of 0/1, length ``n + out_len - 1``.  ``T[:, 0]`` is
        ``seed_bits[n-1 : n-1+out_len]`` and ``T[0, :]`` is ``seed_bits[n-1::-1]``.
    out_len : int >= 1, number of output bits.
    method : "auto", "direct" or "fft" -- speed only, the result is identical.

    Returns a uint8 array of ``out_len`` bits, exactly the GF(2) product.
    """
    bits = check_bits("bits", bits)
    n = bits.shape[0]
    out_len = check_int("out_len", out_len, 1)
    seed_bits = check_bits("seed_bits", seed_bits)
    if seed_bits.shape[0] != n + out_len - 1:
        raise ValueError(
            f"seed_bits has length {seed_bits.shape[0]}; must be n + out_len - 1 = {n + out_len - 1}"
        )
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"method = {method!r} must be one of 'auto', 'direct', 'fft'")
    return _hash_words(_pack(bits), n, _pack(seed_bits), out_len, method)


def privacy_amplify(key_bits, out_len, seed, block=0, *, threads=1):
    """Compress a reconciled key to ``out_len`` bits with a random Toeplitz hash.

    The ``len(key_bits) + out_len - 1`` seed bits are the Philox stream
    ``(seed, Purpose.PRIVACY_AMPLIFICATION, block)``, i.e. exactly
    ``qchannel.rng.bits(seed, Purpose.PRIVACY_AMPLIFICATION, block, n + out_len - 1)``,
    so Alice and Bob (sharing the public seed) get the same matrix.
    ``out_len`` may be 0 (nothing extractable): an empty array is returned.
    ``threads`` (default 1): native threads sharing the product (column
    blocks of the matrix, see ``_hash_words``); the output is bit-identical
    for any number.
    """
    key_bits = check_bits("key_bits", key_bits)
    n = key_bits.shape[0]
    out_len = check_int("out_len", out_len, 0, n)
    seed = _rng.check_seed(seed)
    block = check_int("block", block, 0, _rng.BLOCK_MAX)
    threads = check_int("threads", threads, 1, MAX_THREADS)
    if out_len == 0:
        return np.zeros(0, dtype=np.uint8)
    s_words = seed_words(seed, _rng.Purpose.PRIVACY_AMPLIFICATION, block, n + out_len - 1)
    return _hash_words(_pack(key_bits), n, s_words, out_len, "auto", threads)
