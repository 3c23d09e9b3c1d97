"""Philox4x64-10 against the Random123 known-answer vectors and NumPy's
independent implementation, and the addressing of streams."""
import numpy as np
import pytest

from qchannel import rng
from qchannel._core.philox import philox4x64_10_block

M = 2**64 - 1
# Random123 kat_vectors, philox4x64 with 10 rounds: (counter, key, expected).
KAT = [
    ((0, 0, 0, 0), (0, 0),
     (0x16554D9ECA36314C, 0xDB20FE9D672D0FDC, 0xD7E772CEE186176B, 0x7E68B68AEC7BA23B)),
    ((M, M, M, M), (M, M),
     (0x87B092C3013FE90B, 0x438C3C67BE8D0224, 0x9CC7D7C69CD777B6, 0xA09CAEBF594F0BA0)),
    ((0x243F6A8885A308D3, 0x13198A2E03707344, 0xA4093822299F31D0, 0x082EFA98EC4E6C89),
     (0x452821E638D01377, 0xBE5466CF34E90C6C),
     (0xA528F45403E61D95, 0x38C72DBD566E9788, 0xA5A1610E72FD18B5, 0x57BD43B5E52B7FE6)),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_known_answer_vectors(counter, key, expected):
    assert philox4x64_10_block(counter, key) == expected


def test_stream_equals_numpy_philox():
    # Stream (seed, purpose, block) = Philox4x64-10 with key (seed, 0) over
    # counters (i, 0, block, purpose), i = 0, 1, ...  NumPy's Philox is the
    # same function; it increments its counter before each block.
    seed, purpose, block = 0x0123456789ABCDEF, 13, 77
    ours = rng.uint64(seed, purpose, block, 4000)
    bitgen = np.random.Philox(key=np.array([seed, 0], dtype=np.uint64),
                              counter=np.array([0, 0, block, purpose], dtype=np.uint64))
    theirs = bitgen.random_raw(3996)          # counters 1, 2, ...
    first = np.array(philox4x64_10_block((0, 0, block, purpose), (seed, 0)), dtype=np.uint64)
    assert np.array_equal(ours[:4], first)
    assert np.array_equal(ours[4:], theirs[:3996])


def test_32_bit_draws_split_64_bit_words_high_half_first():
    w64 = rng.uint64(9, 1, 2, 8)
    w32 = rng.uint32(9, 1, 2, 16)
    assert np.array_equal(w32[0::2], (w64 >> 32).astype(np.uint32))
    assert np.array_equal(w32[1::2], (w64 & 0xFFFFFFFF).astype(np.uint32))


def test_streams_are_reproducible_and_distinct():
    a = rng.uint32(1, rng.Purpose.TRANSPORT, 0, 1000)
    assert np.array_equal(a, rng.uint32(1, rng.Purpose.TRANSPORT, 0, 1000))
    for other in (rng.uint32(2, rng.Purpose.TRANSPORT, 0, 1000),
                  rng.uint32(1, rng.Purpose.DETECTOR, 0, 1000),
                  rng.uint32(1, rng.Purpose.TRANSPORT, 1, 1000)):
        assert np.count_nonzero(a == other) < 5


def test_uniform_is_open_unit_interval_and_flat():
    u = rng.uniform(3, rng.Purpose.TRANSPORT, 0, 200_000)
    assert u.min() > 0.0 and u.max() < 1.0
    counts = np.histogram(u, bins=50, range=(0, 1))[0]
    expected = len(u) / 50
    chi2 = ((counts - expected) ** 2 / expected).sum()
    # chi-square with 49 dof: mean 49, sd ~9.9; 4 sd above the mean is ~89.
    assert chi2 < 49 + 4 * np.sqrt(2 * 49)


def test_bits_are_balanced():
    b = rng.bits(4, rng.Purpose.TRANSPORT, 0, 1_000_000)
    assert set(np.unique(b)) == {0, 1}
    # Binomial(1e6, 1/2): sd 500; allow 4 sd.
    assert abs(int(b.sum()) - 500_000) < 4 * 500


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, "1", True])
def test_bad_seed_rejected(seed):
    with pytest.raises(ValueError, match="seed"):
        rng.uniform(seed, rng.Purpose.TRANSPORT, 0, 3)


def test_derive_seed_depends_on_key_not_order():
    a = rng.derive_seed(1, rng.Purpose.SWEEP, "channel.length_km", 50.0)
    assert a == rng.derive_seed(1, rng.Purpose.SWEEP, "channel.length_km", 50.0)
    assert a != rng.derive_seed(1, rng.Purpose.SWEEP, "channel.length_km", 60.0)
    assert a != rng.derive_seed(2, rng.Purpose.SWEEP, "channel.length_km", 50.0)


def test_permutation_is_uniform_and_reproducible():
    from qchannel import rng
    p = rng.permutation(3, rng.Purpose.LDPC, 7, 1000)
    assert p.dtype == np.int64 and np.array_equal(np.sort(p), np.arange(1000))
    assert np.array_equal(p, rng.permutation(3, rng.Purpose.LDPC, 7, 1000))
    assert not np.array_equal(p, rng.permutation(3, rng.Purpose.LDPC, 8, 1000))
    # Position of element 0 in 4000 permutations of 5: each of the 5 places
    # with p = 1/5; every count within 4 sigma.
    counts = np.zeros(5)
    for b in range(4000):
        counts[int(np.nonzero(rng.permutation(11, rng.Purpose.LDPC, b, 5) == 0)[0][0])] += 1
    sigma = np.sqrt(4000 * 0.2 * 0.8)
    assert np.all(np.abs(counts - 800) < 4 * sigma), counts


def test_binomial_firsts_are_each_streams_first_draw():
    from qchannel import rng
    from qchannel._core import entangled

    blocks = np.array([0, 7, 2**31 + 5, 2**32 - 1], np.int64)
    n = np.array([0, 10, 4_000_000, 123_456], np.int64)
    got = rng.binomial_firsts(9, rng.Purpose.TWIN_FIELD, blocks, n, 0.3)
    want = [entangled.binomial_draw(9, rng.Purpose.TWIN_FIELD, int(b), int(k), 0.3)
            for b, k in zip(blocks, n)]
    assert list(got) == want
    with pytest.raises(ValueError, match="blocks\\[0\\]"):
        rng.binomial_firsts(9, 1, [-1], [3], 0.5)
    with pytest.raises(ValueError, match="n\\[0\\]"):
        rng.binomial_firsts(9, 1, [1], [-3], 0.5)
    with pytest.raises(ValueError, match="n has length"):
        rng.binomial_firsts(9, 1, [1, 2], [3], 0.5)
    with pytest.raises(ValueError, match="blocks must be a 1-D array of integers"):
        rng.binomial_firsts(9, 1, [1.5], [3], 0.5)
