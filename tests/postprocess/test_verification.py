"""Verification hash: a single planted error is caught, equal keys pass, the tag
length follows eps_cor, and the Toeplitz family's collision rate is 2^-t."""
import math

import numpy as np
import pytest

from qchannel.postprocess import verify
from qchannel.postprocess.verification import VerificationResult, tag_length, verification_tag


def test_single_planted_error_caught_over_seeds():
    rng = np.random.default_rng(0)
    n = 20_000
    for seed in range(200):
        a = rng.integers(0, 2, n, dtype=np.uint8)
        b = a.copy()
        b[rng.integers(n)] ^= 1
        res = verify(a, b, 1e-9, seed=seed)
        assert res == VerificationResult(match=False, tag_bits=30)


def test_equal_keys_match_over_seeds():
    rng = np.random.default_rng(1)
    for seed in range(50):
        a = rng.integers(0, 2, int(rng.integers(1, 5000)), dtype=np.uint8)
        res = verify(a, a.copy(), 1e-12, seed=seed, block=seed % 3)
        assert res.match and res.tag_bits == 40


@pytest.mark.parametrize("eps,t", [(0.9, 1), (0.5, 1), (0.25, 2), (0.2, 3), (0.1, 4),
                                   (1e-9, 30), (2.0**-40, 40), (1e-12, 40), (1e-15, 50)])
def test_tag_length_follows_eps(eps, t):
    assert tag_length(eps) == t
    assert 2.0**-t <= eps
    a = np.ones(100, np.uint8)
    assert verify(a, a, eps, seed=1).tag_bits == t
    assert verification_tag(a, t, seed=1).shape == (t,)


def test_collision_rate_is_two_to_minus_t():
    # universal family: for fixed different keys the tags collide with
    # probability exactly 2^-t over the seed (t = 1 and 2 here)
    rng = np.random.default_rng(2)
    a = rng.integers(0, 2, 3000, dtype=np.uint8)
    b = a.copy()
    b[[5, 100, 2999]] ^= 1
    for eps, p in [(0.5, 0.5), (0.25, 0.25)]:
        hits = sum(verify(a, b, eps, seed=s).match for s in range(800))
        sd = math.sqrt(800 * p * (1 - p))
        assert abs(hits - 800 * p) < 4 * sd


def test_validation():
    a = np.zeros(10, np.uint8)
    for eps in (0.0, 1.0, -1e-3, 2.0, float("nan")):
        with pytest.raises(ValueError, match="eps_cor"):
            verify(a, a, eps, seed=1)
    with pytest.raises(ValueError, match="equal lengths"):
        verify(a, a[:-1], 1e-9, seed=1)
    bad = a.copy()
    bad[0] = 3
    with pytest.raises(ValueError, match="bob_bits"):
        verify(a, bad, 1e-9, seed=1)
    with pytest.raises(ValueError, match="seed"):
        verify(a, a, 1e-9, seed=-1)
    with pytest.raises(ValueError, match="block"):
        verify(a, a, 1e-9, seed=1, block=2**32)
