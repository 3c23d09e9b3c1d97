"""Decoherence kernels against small NumPy density-matrix references."""
import math

import numpy as np
import pytest

from qchannel._core import decoherence as deco

I2 = np.eye(2)
X = np.array([[0, 1], [1, 0]], complex)
Y = np.array([[0, -1j], [1j, 0]])
Z = np.diag([1.0, -1.0]).astype(complex)


def on(q, K):
    return np.kron(K, I2) if q == 0 else np.kron(I2, K)


def kraus_ref(rho, ks, q):
    return sum(on(q, K) @ rho @ on(q, K).conj().T for K in ks)


def random_rho(n, seed=3):
    g = np.random.default_rng(seed)  # test data only
    a = g.normal(size=(n, 4, 4)) + 1j * g.normal(size=(n, 4, 4))
    r = a @ a.conj().transpose(0, 2, 1)
    return r / np.trace(r, axis1=1, axis2=2)[:, None, None]


@pytest.mark.parametrize("q", [0, 1])
def test_depolarize_matches_kraus(q):
    rho = random_rho(5)
    p = np.linspace(0, 1, 5)
    out = deco.depolarize(rho.copy(), p, q)
    for n in range(5):
        ks = [math.sqrt(1 - 3 * p[n] / 4) * I2] + [math.sqrt(p[n] / 4) * P for P in (X, Y, Z)]
        assert np.allclose(out[n], kraus_ref(rho[n], ks, q), atol=1e-13)
    # p = 1 replaces the qubit by I/2
    red = rho[4].reshape(2, 2, 2, 2)
    other = np.trace(red, axis1=0, axis2=2) if q == 0 else np.trace(red, axis1=1, axis2=3)
    ref = np.kron(I2 / 2, other) if q == 0 else np.kron(other, I2 / 2)
    assert np.allclose(out[4], ref, atol=1e-13)


@pytest.mark.parametrize("q", [0, 1])
def test_dephase_matches_kraus(q):
    rho = random_rho(4, 5)
    p = np.array([0.0, 0.1, 0.3, 0.5])
    out = deco.dephase(rho.copy(), p, q)
    for n in range(4):
        ks = [math.sqrt(1 - p[n]) * I2, math.sqrt(p[n]) * Z]
        assert np.allclose(out[n], kraus_ref(rho[n], ks, q), atol=1e-13)


@pytest.mark.parametrize("q", [0, 1])
def test_memory_t1_t2(q):
    rho = random_rho(3, 7)
    t = np.array([0.0, 0.5, 2.0])
    t1, t2 = 1.0, 0.8
    out = deco.memory_decay(rho.copy(), t, t1, t2, q)
    for n in range(3):
        g = 1 - math.exp(-t[n] / t1)
        ad = [np.array([[1, 0], [0, math.sqrt(1 - g)]]), np.array([[0, math.sqrt(g)], [0, 0]])]
        r1 = kraus_ref(rho[n], ad, q)
        pphi = 0.5 * (1 - math.exp(-t[n] / t2 + t[n] / (2 * t1)))
        ref = kraus_ref(r1, [math.sqrt(1 - pphi) * I2, math.sqrt(pphi) * Z], q)
        assert np.allclose(out[n], ref, atol=1e-13)
    # Bell pair, one qubit dephased: F = (1 + exp(-t/T2)) / 2 (REFERENCES.md)
    bell = np.zeros((1, 4, 4), complex)
    bell[0, 0, 0] = bell[0, 0, 3] = bell[0, 3, 0] = bell[0, 3, 3] = 0.5
    v = bell[0].copy()
    out = deco.memory_decay(bell, np.array([0.3]), math.inf, 1.0, q)
    assert np.real(np.trace(v @ out[0])) == pytest.approx((1 + math.exp(-0.3)) / 2, abs=1e-13)


def test_drift_walk_statistics_and_reset():
    n, sig = 4000, 0.05
    phi = deco.drift_walk(11, 30, 7, n, sig, 0)
    steps = np.diff(phi)
    assert steps.std() == pytest.approx(sig, rel=4 / math.sqrt(2 * n))
    assert abs(steps.mean()) < 4 * sig / math.sqrt(n)
    phi_r = deco.drift_walk(11, 30, 7, n, sig, 100)
    assert np.all(phi_r[::100] == 0.0)
    # same stream: identical increments between resets
    assert np.allclose(np.diff(phi_r)[1:99], steps[1:99])
    assert np.array_equal(phi, deco.drift_walk(11, 30, 7, n, sig, 0))
    # <phi^2> after m steps = m sig^2 over many walks (resets every 20)
    walks = deco.drift_walk(12, 30, 7, 20 * 2000, sig, 20).reshape(2000, 20)
    var = (walks[:, -1] ** 2).mean()
    assert var == pytest.approx(19 * sig**2, rel=4 * math.sqrt(2 / 2000))


@pytest.mark.parametrize("q", [0, 1])
def test_memory_decay_checks_t1_t2_on_both_qubits(q):
    # issue 13: `qubit == 0 or qubit == 1 and t2 > 0 ...` skipped the T1/T2
    # checks for qubit 0; the checks are real ValueErrors now (python -O too)
    rho, t = np.zeros((1, 4, 4), complex), np.ones(1)
    for t1, t2 in [(1.0, 5.0), (1.0, 0.0), (-1.0, 1.0), (math.nan, 1.0), (1.0, math.nan)]:
        with pytest.raises(ValueError, match="t1|t2"):
            deco.memory_decay(rho, t, t1, t2, q)
    with pytest.raises(ValueError, match="t"):
        deco.memory_decay(rho, np.array([-1.0]), 1.0, 1.0, q)
    with pytest.raises(ValueError, match="qubit"):
        deco.memory_decay(rho, t, 1.0, 1.0, 2)
