"""Repeater chains: Monte Carlo against exact waiting times and fidelities.

References: E[max of two geometrics] = (3 - 2p) / (p (2 - p)); Shchukin,
Schmidt, van Loock, PRA 100, 032322 (2019), eq. (64) for four segments with
swap probability a; the exact Markov chain of qchannel.theory.repeater for
any number of segments, itself checked against those closed forms.  Statistical
checks use the sample standard error and a 4-sigma tolerance at fixed seeds.
"""
import math

import numpy as np
import pytest

from qchannel.protocols.repeater import (RepeaterConfig, bbm92_key_fraction,
                                         plob_from_loss_db, plob_per_channel_use,
                                         run_repeater, simulate_chain,
                                         swap_werner_fidelity)
from qchannel.theory.repeater import chain_werner_fidelity, mean_waiting_attempts

SIGMAS = 4.0


def cfg(**kw):
    d = {"segments": 2, "success_prob": 0.1, "attempt_time_s": 1e-3, "realisations": 100_000,
         "seed": 7}
    d.update(kw)
    return RepeaterConfig.from_dict(d)


def mean_sem(x):
    x = np.asarray(x, dtype=float)
    return x.mean(), x.std(ddof=1) / math.sqrt(x.size)


# ---------------------------------------------------------------- references
def two_segment_waiting(p, a=1.0):
    return (3 - 2 * p) / (a * p * (2 - p))


def shchukin_four_segments(p, a):
    """Shchukin, Schmidt, van Loock (2019), eq. (64): mean waiting time
    (in attempts) of the 4-segment doubling repeater, swap probability a."""
    num = (2 * a * a * p**4 * (p - 1) * (2 * p - 3)
           - a * (20 * p**5 - 72 * p**4 + 93 * p**3 - 53 * p**2 + 10 * p + 4)
           + 3 * (3 - 2 * p) ** 2 * (2 * p * p - 3 * p + 2))
    den = (a * a * p * (2 - p) * (a * p * p - (a + 2) * p + 3)
           * (-a * p**3 + 4 * p * p - 6 * p + 4))
    return num / den


def markov_waiting(levels, p, a):
    """The 2^levels chain's exact mean from qchannel.theory.repeater (held
    here against the closed forms above: test_references_agree)."""
    return mean_waiting_attempts(2 ** levels, p, a)


def expected_max_geometric(n, p):
    return sum((-1) ** (k + 1) * math.comb(n, k) / (1 - (1 - p) ** k) for k in range(1, n + 1))


def test_references_agree():
    for p in (0.05, 0.3, 0.9):
        # uneven splits (3 = 1 + 2) against E[max] where swaps always succeed
        assert mean_waiting_attempts(3, p, 1.0) == pytest.approx(expected_max_geometric(3, p),
                                                                 rel=1e-10)
        assert chain_werner_fidelity(0.9, 4) == pytest.approx(
            swap_werner_fidelity(swap_werner_fidelity(0.9, 0.9),
                                 swap_werner_fidelity(0.9, 0.9)), rel=1e-12)
        assert markov_waiting(1, p, 1.0) == pytest.approx(two_segment_waiting(p), rel=1e-12)
        assert markov_waiting(1, p, 0.6) == pytest.approx(two_segment_waiting(p, 0.6), rel=1e-12)
        assert shchukin_four_segments(p, 1.0) == pytest.approx(expected_max_geometric(4, p),
                                                               rel=1e-12)
        assert markov_waiting(3, p, 1.0) == pytest.approx(expected_max_geometric(8, p), rel=1e-10)
        for a in (0.3, 0.5, 0.9):
            assert markov_waiting(2, p, a) == pytest.approx(shchukin_four_segments(p, a),
                                                            rel=1e-10)


# ------------------------------------------------------------- waiting times
@pytest.mark.parametrize("p", [0.02, 0.1, 0.5])
def test_two_segments_closed_form(p):
    w = simulate_chain(cfg(success_prob=p, realisations=200_000)).wait_slots
    m, s = mean_sem(w)
    assert abs(m - two_segment_waiting(p)) < SIGMAS * s


def test_two_segments_probabilistic_swap():
    w = simulate_chain(cfg(success_prob=0.2, swap_prob=0.5, realisations=200_000)).wait_slots
    m, s = mean_sem(w)
    assert abs(m - two_segment_waiting(0.2, 0.5)) < SIGMAS * s


@pytest.mark.parametrize("p,a", [(0.1, 1.0), (0.2, 0.5), (0.6, 0.3)])
def test_four_segments_shchukin(p, a):
    w = simulate_chain(cfg(segments=4, success_prob=p, swap_prob=a,
                           realisations=200_000)).wait_slots
    m, s = mean_sem(w)
    assert abs(m - shchukin_four_segments(p, a)) < SIGMAS * s


def test_eight_segments_markov():
    p, a = 0.3, 0.7
    w = simulate_chain(cfg(segments=8, success_prob=p, swap_prob=a,
                           realisations=100_000)).wait_slots
    m, s = mean_sem(w)
    assert abs(m - markov_waiting(3, p, a)) < SIGMAS * s


def test_single_segment_is_geometric():
    w = simulate_chain(cfg(segments=1, success_prob=0.25, realisations=100_000)).wait_slots
    assert w.min() >= 1
    m, s = mean_sem(w)
    assert abs(m - 4.0) < SIGMAS * s


def test_zero_cutoff_needs_simultaneous_links():
    # Both links must herald in the same slot: geometric with p^2.
    p = 0.3
    w = simulate_chain(cfg(success_prob=p, cutoff_s=0.0, realisations=100_000)).wait_slots
    m, s = mean_sem(w)
    assert abs(m - 1 / p**2) < SIGMAS * s


def test_cutoff_bounds_storage_and_raises_fidelity():
    base = dict(segments=2, success_prob=0.05, memory_t2_s=0.2, initial_fidelity=0.98,
                realisations=50_000)
    free = simulate_chain(cfg(**base))
    cut = simulate_chain(cfg(cutoff_s=5e-3, **base))    # 5 slots
    assert cut.stored_slots.max() <= 5
    assert free.stored_slots.max() > 5
    assert cut.fidelity.min() > free.fidelity.min()
    assert cut.wait_slots.mean() > free.wait_slots.mean()


def test_cutoff_that_never_finishes_is_reported():
    with pytest.raises(ValueError, match="max_attempts"):
        simulate_chain(cfg(segments=8, success_prob=1e-3, cutoff_s=0.0, realisations=10,
                           max_attempts=10_000))


# ----------------------------------------------------------------- fidelity
def test_werner_swap_rule():
    f1, f2 = 0.9, 0.8
    w1, w2 = (4 * f1 - 1) / 3, (4 * f2 - 1) / 3
    assert swap_werner_fidelity(f1, f2) == pytest.approx((1 + 3 * w1 * w2) / 4, rel=1e-14)
    assert swap_werner_fidelity(1.0, f2) == pytest.approx(f2)
    assert swap_werner_fidelity(0.25, f2) == pytest.approx(0.25)
    f0 = 0.95
    w0 = (4 * f0 - 1) / 3
    for n in (2, 3, 4, 8):
        # p = 1: every attempt succeeds, no storage, only swapping noise
        smp = simulate_chain(cfg(segments=n, success_prob=1.0, initial_fidelity=f0,
                                 memory_t2_s=1.0, realisations=100))
        assert np.all(smp.wait_slots == 1)
        np.testing.assert_allclose(smp.fidelity, (1 + 3 * w0**n) / 4, rtol=1e-13)
    two = simulate_chain(cfg(success_prob=1.0, initial_fidelity=f0, realisations=10))
    np.testing.assert_allclose(two.fidelity, swap_werner_fidelity(f0, f0), rtol=1e-13)


@pytest.mark.parametrize("deco", ["depolarising", "dephasing"])
def test_memory_decay_per_realisation(deco):
    # Pauli channels commute with swapping, so the delivered state is the
    # swapped Werner state sent through one channel of parameter
    # exp(-2 tau S / T2), S = summed storage slots of the pairs involved.
    f0, n, tau, t2 = 0.97, 4, 1e-3, 0.05
    smp = simulate_chain(cfg(segments=n, success_prob=0.05, initial_fidelity=f0,
                             memory_t2_s=t2, decoherence=deco, realisations=20_000))
    w = ((4 * f0 - 1) / 3) ** n
    lam = np.exp(-2 * tau * smp.stored_slots / t2)
    if deco == "depolarising":
        expect = (1 + 3 * w * lam) / 4
    else:
        p_i, p_z = (1 + 3 * w) / 4, (1 - w) / 4
        expect = (1 + lam) / 2 * p_i + (1 - lam) / 2 * p_z
    np.testing.assert_allclose(smp.fidelity, expect, rtol=1e-12)
    np.testing.assert_allclose(smp.states.sum(axis=1), 1.0, rtol=1e-12)
    assert smp.stored_slots.max() > 0


def test_mean_fidelity_two_segments_closed_form():
    # The earlier link waits D = |T1 - T2| slots: P(D = 0) = p/(2-p),
    # P(D = d) = 2 p q^d / (2 - p); E[x^D] = p (1 + q x) / ((2 - p)(1 - q x)).
    p, tau, t2, f0 = 0.1, 1e-3, 0.02, 1.0
    q, x = 1 - p, math.exp(-2 * tau / t2)
    expect = 0.25 + 0.75 * ((4 * f0 - 1) / 3) ** 2 * p * (1 + q * x) / ((2 - p) * (1 - q * x))
    res = run_repeater({"segments": 2, "success_prob": p, "attempt_time_s": tau,
                        "memory_t2_s": t2, "initial_fidelity": f0, "realisations": 200_000,
                        "seed": 3})
    assert abs(res.fidelity_mean - expect) < SIGMAS * res.fidelity_sem
    # shorter memories, lower fidelity
    worse = run_repeater({"segments": 2, "success_prob": p, "attempt_time_s": tau,
                          "memory_t2_s": t2 / 4, "realisations": 50_000, "seed": 3})
    assert worse.fidelity_mean < res.fidelity_mean - 0.05


def test_purification_one_round_werner():
    f = 0.8
    ps = f * f + 2 * f * (1 - f) / 3 + 5 * (1 - f) ** 2 / 9
    f_out = (f * f + (1 - f) ** 2 / 9) / ps
    for scheme in ("dejmps", "bbpssw"):
        smp = simulate_chain(cfg(segments=1, success_prob=1.0, initial_fidelity=f,
                                 purification=scheme, realisations=100_000))
        np.testing.assert_allclose(smp.fidelity, f_out, rtol=1e-13)
        m, s = mean_sem(smp.wait_slots)      # one slot per try, success ps
        assert abs(m - 1 / ps) < SIGMAS * s
    # DEJMPS keeps the Bell-diagonal structure; BBPSSW twirls it to Werner
    smp = simulate_chain(cfg(segments=1, success_prob=1.0, initial_fidelity=f,
                             purification="bbpssw", realisations=10))
    np.testing.assert_allclose(smp.states[:, 1:], (1 - f_out) / 3, rtol=1e-13)


# ----------------------------------------------------------- reproducibility
def test_chunking_and_offsets_do_not_change_results():
    c = cfg(segments=4, success_prob=0.05, swap_prob=0.7, memory_t2_s=0.5, cutoff_s=0.02,
            purification="dejmps", initial_fidelity=0.95, realisations=70_000, seed=11)
    ref = simulate_chain(c, chunk_size=1 << 16)
    for chunk in (1000, 7777, 70_000):
        other = simulate_chain(c, chunk_size=chunk)
        np.testing.assert_array_equal(other.wait_slots, ref.wait_slots)
        np.testing.assert_array_equal(other.states, ref.states)
        np.testing.assert_array_equal(other.stored_slots, ref.stored_slots)
    part = simulate_chain(c, first=65_000, count=3_000, chunk_size=999)   # crosses a block
    np.testing.assert_array_equal(part.wait_slots, ref.wait_slots[65_000:68_000])
    np.testing.assert_array_equal(part.states, ref.states[65_000:68_000])
    again = simulate_chain(c)
    np.testing.assert_array_equal(again.wait_slots, ref.wait_slots)
    other_seed = simulate_chain(cfg(segments=4, success_prob=0.05, swap_prob=0.7,
                                    memory_t2_s=0.5, cutoff_s=0.02, purification="dejmps",
                                    initial_fidelity=0.95, realisations=70_000, seed=12))
    assert not np.array_equal(other_seed.wait_slots, ref.wait_slots)


# ---------------------------------------------------------- outputs and key
def test_result_dict_and_rates():
    res = run_repeater({"segments": 4, "success_prob": 0.1, "attempt_time_s": 1e-4,
                        "initial_fidelity": 0.99, "total_loss_db": 40.0,
                        "realisations": 20_000, "seed": 5})
    d = res.to_dict()
    for key in ("waiting_time_mean", "waiting_time_attempts_mean", "fidelity_mean",
                "pairs_per_s", "key_rate_per_channel_use", "plob_per_channel_use",
                "waiting_time_quantiles_s", "waiting_time_quantiles_attempts"):
        assert key in d
    assert d["waiting_time_mean"] == pytest.approx(d["waiting_time_attempts_mean"] * 1e-4)
    assert d["pairs_per_s"] == pytest.approx(1 / d["waiting_time_mean"])
    w = (4 * 0.99 - 1) / 3
    e = (1 - w**4) / 2
    assert d["qber_x"] == pytest.approx(e) and d["qber_z"] == pytest.approx(e)
    assert d["key_rate_per_channel_use"] == pytest.approx(
        bbm92_key_fraction(e, e) / d["waiting_time_attempts_mean"])
    q = d["waiting_time_quantiles_attempts"]
    assert q["q05"] <= q["q50"] <= q["q95"] <= q["q99"]
    assert sum(d["waiting_time_histogram_attempts"]["counts"]) == 20_000
    assert d["plob_per_channel_use"] == pytest.approx(-math.log2(1 - 1e-4))
    assert d["beats_plob"] is True


def test_plob():
    assert plob_per_channel_use(0.5) == pytest.approx(1.0)
    assert plob_from_loss_db(10.0) == pytest.approx(-math.log2(0.9))
    assert plob_from_loss_db(200.0) == pytest.approx(1e-20 / math.log(2), rel=1e-9)
    with pytest.raises(ValueError, match="eta"):
        plob_per_channel_use(1.0)


def test_fiber_chain_beats_plob():
    d = {"segments": 8, "total_length_km": 600.0, "attenuation_db_per_km": 0.2,
         "detector_efficiency": 0.9, "memory_t2_s": 10.0, "initial_fidelity": 0.99,
         "cutoff_s": 0.1, "realisations": 5_000, "seed": 1}
    c = RepeaterConfig.from_dict(d)
    assert c.success_prob == pytest.approx(0.5 * 0.81 * 10 ** (-0.2 * 75 / 10))
    assert c.attempt_time_s == pytest.approx(75 / 2e5)
    assert c.total_loss_db == pytest.approx(120.0)
    res = run_repeater(c)
    assert res.key_rate_per_channel_use > 0
    assert res.key_rate_per_channel_use > 1e6 * res.plob_per_channel_use


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("bad,match", [
    ({"segments": 0}, r"repeater\.segments = 0 is out of range"),
    ({"success_prob": 0.0}, r"repeater\.success_prob = 0\.0 is out of range"),
    ({"success_prob": 1.2}, r"repeater\.success_prob"),
    ({"swap_prob": -0.1}, r"repeater\.swap_prob"),
    ({"initial_fidelity": 0.2}, r"repeater\.initial_fidelity = 0\.2 is out of range"),
    ({"memory_t2_s": -1.0}, r"repeater\.memory_t2_s"),
    ({"cutoff_s": -1.0}, r"repeater\.cutoff_s"),
    ({"purification": "magic"}, r"repeater\.purification = 'magic' must be one of"),
    ({"decoherence": "amplitude"}, r"repeater\.decoherence"),
    ({"realisations": 0}, r"repeater\.realisations"),
    ({"seed": -1}, r"repeater\.seed"),
    ({"colour": "red"}, r"repeater\.colour is not a known key"),
    ({"total_length_km": 100.0}, r"exclusive"),
    ({"attenuation_db_per_km": 0.2}, r"needs repeater\.total_length_km"),
])
def test_bad_config(bad, match):
    d = {"segments": 2, "success_prob": 0.1, "attempt_time_s": 1e-3}
    d.update(bad)
    with pytest.raises(ValueError, match=match):
        RepeaterConfig.from_dict(d)


def test_missing_keys():
    with pytest.raises(ValueError, match=r"repeater\.attempt_time_s is required"):
        RepeaterConfig.from_dict({"segments": 2, "success_prob": 0.1})
    with pytest.raises(ValueError, match=r"chain\.segments is required"):
        RepeaterConfig.from_dict({"success_prob": 0.1, "attempt_time_s": 1}, section="chain")
    with pytest.raises(ValueError, match=r"repeater\.total_length_km = -5"):
        RepeaterConfig.from_dict({"segments": 2, "total_length_km": -5})


# ------------------------------------------- kernel vs density-matrix reference
_S2 = 1 / math.sqrt(2)
_BELL = [np.array(v) * _S2 for v in ([1, 0, 0, 1], [0, 1, 1, 0], [1, 0, 0, -1], [0, 1, -1, 0])]
_PAULI = [np.eye(2), np.array([[0, 1], [1, 0]]), np.diag([1.0, -1.0]),
          np.array([[0, -1j], [1j, 0]])]


def _rho(c):
    return sum(ck * np.outer(b, b) for ck, b in zip(c, _BELL))


def _coeffs(rho):
    return np.array([np.real(b @ rho @ b) for b in _BELL])


def _cnot(control, target, n=4):
    m = np.zeros((2**n, 2**n))
    for i in range(2**n):
        bits = [(i >> (n - 1 - k)) & 1 for k in range(n)]
        if bits[control]:
            bits[target] ^= 1
        m[sum(bt << (n - 1 - k) for k, bt in enumerate(bits)), i] = 1
    return m


def reference_dejmps(c1, c2):
    """DEJMPS on density matrices: Alice Rx(pi/2), Bob Rx(-pi/2) on both
    pairs, bilateral CNOT (pair 1 controls), keep if the target pair's Z
    outcomes agree.  Qubit order A1 B1 A2 B2."""
    rho = np.kron(_rho(c1), _rho(c2))

    def rx(th):
        return np.array([[np.cos(th / 2), -1j * np.sin(th / 2)],
                         [-1j * np.sin(th / 2), np.cos(th / 2)]])

    u = np.kron(np.kron(rx(np.pi / 2), rx(-np.pi / 2)), np.kron(rx(np.pi / 2), rx(-np.pi / 2)))
    rho = u @ rho @ u.conj().T
    c = _cnot(0, 2) @ _cnot(1, 3)
    rho = (c @ rho @ c.T).reshape(4, 4, 4, 4)
    kept = rho[:, 0, :, 0] + rho[:, 3, :, 3]
    ps = np.trace(kept).real
    return ps, _coeffs(kept / ps)


def reference_swap(c1, c2):
    """Bell measurement on the middle qubits of (A B1)(B2 C) with the Pauli
    correction on C, averaged over outcomes."""
    psi = np.kron(_rho(c1), _rho(c2)).reshape([2] * 8)     # A B1 B2 C | A B1 B2 C
    out = np.zeros((4, 4), dtype=complex)
    for k, b in enumerate(_BELL):
        bm = b.reshape(2, 2).conj()
        # <bell_k| on (B1, B2), ket and bra sides
        red = np.einsum("ij,aijcbklm,kl->acbm", bm, psi, bm.conj()).reshape(4, 4)
        fix = np.kron(np.eye(2), _PAULI[k])
        out += fix @ red @ fix.conj().T
    return _coeffs(out)


def test_kernel_state_operations_match_density_matrices():
    from qchannel._core import repeater as k

    for i in range(6):
        u = rng_uniform(i, 8)
        c1 = u[:4] / u[:4].sum()
        c2 = u[4:] / u[4:].sum()
        np.testing.assert_allclose(k.swap_bell_diagonal(c1, c2), reference_swap(c1, c2),
                                   atol=1e-13)
        ps, out = k.purify_bell_diagonal(k.PURIFICATION_CODES["dejmps"], c1, c2)
        ps_ref, out_ref = reference_dejmps(c1, c2)
        assert ps == pytest.approx(ps_ref, rel=1e-12)
        np.testing.assert_allclose(out, out_ref, atol=1e-13)
        # BBPSSW = DEJMPS on the twirled inputs, output twirled
        tw = lambda c: np.array([c[0]] + [(1 - c[0]) / 3] * 3)  # noqa: E731
        ps_b, out_b = k.purify_bell_diagonal(k.PURIFICATION_CODES["bbpssw"], c1, c2)
        ps_t, out_t = reference_dejmps(tw(c1), tw(c2))
        assert ps_b == pytest.approx(ps_t, rel=1e-12)
        np.testing.assert_allclose(out_b, tw(out_t), atol=1e-13)


def rng_uniform(block, n):
    from qchannel import rng

    return rng.uniform(99, rng.Purpose.REPEATER, 1000 + block, n)
