"""Toeplitz hashing: exact against a naive GF(2) matrix-vector product on random
and edge-case sizes, for every method and instruction-set level; additive FFT
against direct polynomial evaluation; privacy amplification seeding; validation."""
import numpy as np
import pytest

from qchannel import rng as R
from qchannel._core import toeplitz as tk
from qchannel.postprocess import privacy_amplify, toeplitz_hash
from qchannel.postprocess.privacy import seed_words

LEVELS = list(range(tk.CPU_LEVEL + 1))


def naive(seed_bits, bits, m):
    """T @ bits mod 2 with T[i, j] = seed_bits[i - j + n - 1], built explicitly."""
    n = len(bits)
    T = seed_bits[np.arange(m)[:, None] - np.arange(n)[None, :] + n - 1]
    return (T.astype(np.int64) @ bits.astype(np.int64) % 2).astype(np.uint8)


def _words(method, level, s, b, n, m):
    sw, _ = tk.pack_bits(s)
    bw, _ = tk.pack_bits(b)
    return tk.unpack_bits(tk.middle_product_words(sw, bw, n, m, method=method, level=level), m)


def test_convention_first_row_and_column():
    rng = np.random.default_rng(0)
    n, m = 37, 23
    s = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    e0 = np.zeros(n, np.uint8)
    e0[0] = 1                                   # picks column 0
    assert np.array_equal(toeplitz_hash(e0, s, m), s[n - 1:n - 1 + m])
    for j in range(n):                          # row 0 is seed_bits[n-1::-1]
        ej = np.zeros(n, np.uint8)
        ej[j] = 1
        assert toeplitz_hash(ej, s, m)[0] == s[n - 1::-1][j]


EDGE = [(1, 1), (1, 2), (2, 1), (1, 200), (200, 1), (63, 1), (64, 64), (65, 63),
        (127, 129), (128, 128), (129, 1), (64, 1), (1, 64), (191, 65), (256, 256)]


@pytest.mark.parametrize("method", ["auto", "direct", "fft"])
def test_exact_vs_naive(method):
    rng = np.random.default_rng(1)
    sizes = EDGE + [(int(rng.integers(1, 900)), int(rng.integers(1, 900))) for _ in range(40)]
    for n, m in sizes:
        s = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
        b = rng.integers(0, 2, n, dtype=np.uint8)
        ref = naive(s, b, m)
        assert np.array_equal(toeplitz_hash(b, s, m, method=method), ref), (n, m)
        for level in LEVELS:
            assert np.array_equal(_words(method, level, s, b, n, m), ref), (n, m, level)


def test_all_ones_and_zeros():
    for n, m in [(100, 50), (1000, 999)]:
        s = np.ones(n + m - 1, np.uint8)
        b = np.ones(n, np.uint8)
        assert np.array_equal(toeplitz_hash(b, s, m, method="fft"), np.full(m, n % 2, np.uint8))
        assert not toeplitz_hash(np.zeros(n, np.uint8), s, m).any()


@pytest.mark.parametrize("n,m", [(200_000, 50_000), (150_001, 3_000), (40_000, 90_001)])
def test_fft_equals_direct_large(n, m):
    # multi-chunk FFT plans (accumulation in the evaluation domain) vs schoolbook
    rng = np.random.default_rng(n)
    sw = rng.integers(0, 2**63, (n + m - 1 + 63) // 64, dtype=np.uint64)
    bw = rng.integers(0, 2**63, (n + 63) // 64, dtype=np.uint64)
    d = tk.middle_product_words(sw, bw, n, m, method="direct")
    for level in LEVELS:
        assert np.array_equal(tk.middle_product_words(sw, bw, n, m, method="fft", level=level), d)
    assert tk.fft_plan(n, m)[2] >= 1


def test_additive_fft_evaluates_on_cantor_subspace():
    beta = tk.cantor_basis(12)
    assert beta[0] == 1
    for i in range(1, 12):
        assert tk.gf128_mul_reference(beta[i], beta[i]) ^ beta[i] == beta[i - 1]
    K = 4
    rng = np.random.default_rng(2)
    co = rng.integers(0, 2**63, size=(1 << K, 2), dtype=np.uint64)
    vals = tk.additive_fft(co, K)
    for lam in range(1 << K):
        x = 0
        for j in range(K):
            if lam >> j & 1:
                x ^= beta[j]
        acc = 0
        for c in reversed(range(1 << K)):
            acc = tk.gf128_mul_reference(acc, x) ^ (int(co[c, 0]) | int(co[c, 1]) << 64)
        assert acc == int(vals[lam, 0]) | int(vals[lam, 1]) << 64
    for K in [1, 2, 3, 5, 9, 12]:
        co = rng.integers(0, 2**63, size=(1 << K, 2), dtype=np.uint64)
        ref = tk.additive_fft(co, K, level=0)
        for level in LEVELS:
            v = tk.additive_fft(co, K, level=level)
            assert np.array_equal(v, ref)
            assert np.array_equal(tk.additive_fft(v, K, inverse=True, level=level), co)


def test_pack_unpack_roundtrip():
    rng = np.random.default_rng(3)
    for n in [1, 7, 8, 63, 64, 65, 1000]:
        b = rng.integers(0, 2, n, dtype=np.uint8)
        w, orr = tk.pack_bits(b)
        assert orr <= 1
        assert np.array_equal(tk.unpack_bits(w, n), b)
        assert np.array_equal(np.packbits(b, bitorder="little"),
                              w.view(np.uint8)[: (n + 7) // 8])


def test_privacy_amplify_uses_philox_seed():
    rng = np.random.default_rng(4)
    key = rng.integers(0, 2, 5000, dtype=np.uint8)
    out = privacy_amplify(key, 1234, seed=77, block=3)
    s = R.bits(77, R.Purpose.PRIVACY_AMPLIFICATION, 3, 5000 + 1234 - 1)
    assert out.dtype == np.uint8 and out.shape == (1234,)
    assert np.array_equal(out, naive(s, key, 1234))
    assert np.array_equal(out, privacy_amplify(key, 1234, seed=77, block=3))
    assert not np.array_equal(out, privacy_amplify(key, 1234, seed=77, block=4))
    assert privacy_amplify(key, 0, seed=77).shape == (0,)
    # packed seed words are the same bits as qchannel.rng.bits
    words = seed_words(5, R.Purpose.VERIFICATION, 1, 200)
    assert np.array_equal(tk.unpack_bits(words, 200), R.bits(5, R.Purpose.VERIFICATION, 1, 200))
    # output is balanced
    big = privacy_amplify(rng.integers(0, 2, 100_000, dtype=np.uint8), 50_000, seed=1)
    assert abs(big.mean() - 0.5) < 0.01


def test_validation():
    b = np.zeros(10, np.uint8)
    s = np.zeros(14, np.uint8)
    with pytest.raises(ValueError, match="out_len"):
        toeplitz_hash(b, s, 0)
    with pytest.raises(ValueError, match="seed_bits"):
        toeplitz_hash(b, s[:-1], 5)
    bad = b.copy()
    bad[2] = 2
    with pytest.raises(ValueError, match="bits"):
        toeplitz_hash(bad, s, 5)
    with pytest.raises(ValueError, match="seed_bits"):
        toeplitz_hash(b, s.astype(float), 5)
    with pytest.raises(ValueError, match="bits"):
        toeplitz_hash(b[:0], s[:4], 5)
    with pytest.raises(ValueError, match="bits"):
        toeplitz_hash(b.reshape(2, 5), s, 5)
    with pytest.raises(ValueError, match="method"):
        toeplitz_hash(b, s, 5, method="ntt")
    with pytest.raises(ValueError, match="out_len"):
        privacy_amplify(b, 11, seed=1)
    with pytest.raises(ValueError, match="seed"):
        privacy_amplify(b, 5, seed=-3)
    with pytest.raises(ValueError, match="block"):
        privacy_amplify(b, 5, seed=3, block=-1)
    with pytest.raises(ValueError, match="key_bits"):
        privacy_amplify(bad, 5, seed=3)
    assert np.array_equal(toeplitz_hash(b.astype(bool), s.astype(np.int64), 5), np.zeros(5, np.uint8))


@pytest.mark.parametrize("threads", [2, 3, 7])
def test_column_blocks_on_threads_are_exact(threads):
    # The key cut into column blocks (one per thread, seed bits sliced at odd
    # offsets) gives the naive product bit for bit, and privacy_amplify the
    # same key for any thread count.
    from qchannel.postprocess.privacy import _hash_words, _pack

    rng = np.random.default_rng(threads)
    for n, m in [(1, 1), (64, 5), (65, 64), (130, 200), (700, 33), (1000, 1)]:
        s = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
        b = rng.integers(0, 2, n, dtype=np.uint8)
        assert np.array_equal(_hash_words(_pack(b), n, _pack(s), m, "auto", threads),
                              naive(s, b, m)), (n, m)
    key = rng.integers(0, 2, 300_001, dtype=np.uint8)
    one = privacy_amplify(key, 40_000, 77)
    assert np.array_equal(privacy_amplify(key, 40_000, 77, threads=threads), one)
    with pytest.raises(ValueError, match="threads"):
        privacy_amplify(key, 10, 77, threads=0)
