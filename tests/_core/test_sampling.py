"""The kernels' binomial sampler (inversion and BTRS) against SciPy's pmf."""
import numpy as np
import pytest
from scipy import stats

from qchannel._core.philox import stream_binomial


@pytest.mark.parametrize("n,p", [(20, 0.1), (1000, 0.003), (200, 0.3), (10**6, 0.4),
                                 (5000, 0.9), (2**24, 1e-6), (2**24, 0.8)])
def test_binomial_matches_pmf(n, p):
    size = 40_000
    x = stream_binomial(12345, 99, n % 1000, n, p, size)
    assert x.min() >= 0 and x.max() <= n
    # Mean within 4 standard errors.
    sd = np.sqrt(n * p * (1 - p))
    assert abs(x.mean() - n * p) < 4 * sd / np.sqrt(size)
    # Chi-square over bins holding >= 50 expected draws each.
    lo, hi = stats.binom.ppf([1e-4, 1 - 1e-4], n, p).astype(int)
    edges = np.unique(np.linspace(lo, hi + 1, 30).astype(int))
    cdf = stats.binom.cdf(edges - 1, n, p)
    expected = np.diff(np.concatenate([[0.0], cdf[1:-1], [1.0]])) * size
    observed = np.histogram(x, bins=np.concatenate([[-1], edges[1:-1], [n + 1]]))[0]
    keep = expected >= 50
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    dof = keep.sum() - 1
    # 4 standard deviations of a chi-square with dof degrees of freedom.
    assert chi2 < dof + 4 * np.sqrt(2 * dof)


@pytest.mark.parametrize("p", [float("nan"), -0.1, 1.5, float("inf")])
def test_binomial_rejects_p_outside_unit_interval(p):
    # issue 13: p = nan sent the BTRS rejection loop round for ever
    with pytest.raises(ValueError, match="p = "):
        stream_binomial(1, 2, 3, 1000, p, 5)


def test_binomial_edges():
    assert np.array_equal(stream_binomial(1, 2, 3, 1000, 0.0, 4), np.zeros(4))
    assert np.array_equal(stream_binomial(1, 2, 3, 1000, 1.0, 4), np.full(4, 1000))
    assert np.array_equal(stream_binomial(1, 2, 3, 0, 0.5, 4), np.zeros(4))
    with pytest.raises(ValueError, match="n = "):
        stream_binomial(1, 2, 3, -1, 0.5, 4)
