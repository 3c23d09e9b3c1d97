"""Philox4x32-10 against the Random123 known-answer vectors, and stream addressing."""
import numpy as np
import pytest

from qchannel import rng
from qchannel._core.philox import philox4x32_10_block

# Random123 kat_vectors, philox4x32 with 10 rounds: (counter, key, expected).
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_known_answer_vectors(counter, key, expected):
    assert philox4x32_10_block(counter, key) == expected


def test_stream_layout_is_counter_index_block_purpose():
    # Stream (seed, purpose, block) word i comes from counter (i//4, 0, block, purpose).
    seed, purpose, block = 0x299F31D0A4093822, 7, 5
    words = rng.uint32(seed, purpose, block, 8)
    key = (seed & 0xFFFFFFFF, seed >> 32)
    assert tuple(words[:4]) == philox4x32_10_block((0, 0, block, purpose), key)
    assert tuple(words[4:]) == philox4x32_10_block((1, 0, block, purpose), key)


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
