"""The two-sender kernel (qchannel._core.mdi) against a slow per-slot NumPy
reference that draws every pulse, phase and Poisson photon number, plus its
argument checks and reproducibility."""
import math

import numpy as np
import pytest

from qchannel._core import mdi

POL = np.array([[[1.0, 0.0], [0.0, 1.0]], [[1, 1], [1, -1]]]) / np.array([1.0, math.sqrt(2)])[:, None, None]
MU = np.array([0.6, 0.2])
PROB = np.array([0.3, 0.7])
BASIS = np.array([0, 1], np.uint8)


def _reference_mdi(n, eta_a, eta_b, pd, V, th, seed):
    """Per-slot reference: classes, bits, phases, Poisson photons, dark counts."""
    g = np.random.default_rng(seed)
    ka = g.choice(2, n, p=PROB)
    kb = g.choice(2, n, p=PROB)
    bits = g.integers(0, 4, n)
    phi = g.uniform(0, 2 * np.pi, n)
    pa = POL[BASIS[ka], bits & 1]
    pb0 = POL[BASIS[kb], bits >> 1]
    c, s = math.cos(th), math.sin(th)
    pb = np.stack([c * pb0[:, 0] - s * pb0[:, 1], s * pb0[:, 0] + c * pb0[:, 1]], 1)
    a = np.sqrt(eta_a * MU[ka])[:, None] * pa
    b = np.sqrt(eta_b * MU[kb])[:, None] * pb
    pattern = np.zeros(n, np.int64)
    for k, (sign, pol) in enumerate([(1, 0), (1, 1), (-1, 0), (-1, 1)]):
        lam = 0.5 * (a[:, pol] ** 2 + b[:, pol] ** 2) + sign * math.sqrt(V) * a[:, pol] * \
            b[:, pol] * np.cos(phi)
        click = (g.poisson(lam) > 0) | (g.random(n) < pd)
        pattern |= click.astype(np.int64) << k
    return ka * 2 + kb, bits, pattern


def _kernel_mdi(n, eta_a, eta_b, pd, V, th, seed):
    done, slot, data, noclick = mdi.mdi_block(seed, 0, n, MU, PROB, BASIS, MU, PROB, BASIS,
                                              eta_a, eta_b, pd, V, th, n)
    assert done and len(slot) + noclick.sum() == n
    return data[:, 0].astype(np.int64) * 2 + data[:, 1], data[:, 2], data[:, 3].astype(
        np.int64), noclick


def _zmax(counts_a, n_a, counts_b, n_b):
    """Largest two-sample z-score of proportions (pooled variance)."""
    z = 0.0
    for ka, kb in zip(counts_a, counts_b):
        p = (ka + kb) / (n_a + n_b)
        if 0 < p < 1:
            z = max(z, abs(ka / n_a - kb / n_b) / math.sqrt(p * (1 - p) * (1 / n_a + 1 / n_b)))
    return z


def test_mdi_kernel_matches_per_slot_reference():
    """Pattern frequencies per class pair and bits (16 patterns x 4 pairs x 4
    bit pairs), kernel vs reference, all within 5 sigma (fixed seeds)."""
    n, args = 300_000, (0.4, 0.25, 0.02, 0.9, 0.2)
    pr, br, patr = _reference_mdi(n, *args, seed=11)
    pk, bk, patk, noclick = _kernel_mdi(n, *args, seed=11)
    ref = np.bincount((pr * 4 + br) * 16 + patr, minlength=256)
    ker = np.bincount((pk * 4 + bk) * 16 + patk, minlength=256)
    ref[0::16] = 0                     # slots without a click: compared per pair below
    ker_none = noclick
    ref_none = np.bincount(pr[patr == 0], minlength=4)
    assert _zmax(ref, n, ker, n) < 5.0
    assert _zmax(ref_none, n, ker_none, n) < 5.0


def _reference_tf(n, eta, pd, V, track, tv, seed):
    g = np.random.default_rng(seed)
    ka = g.choice(2, n, p=PROB)
    kb = g.choice(2, n, p=PROB)
    tha, thb = g.uniform(0, 2 * np.pi, n), g.uniform(0, 2 * np.pi, n)
    delta = np.repeat(g.normal(0, math.sqrt(tv), -(-n // track)), track)[:n]
    ia, ib = eta * MU[ka], eta * MU[kb]
    cross = math.sqrt(V) * np.sqrt(ia * ib) * np.cos(tha - thb + delta)
    pat = np.zeros(n, np.int64)
    for k, sign in enumerate((1, -1)):
        click = (g.poisson(0.5 * (ia + ib) + sign * cross) > 0) | (g.random(n) < pd)
        pat |= click.astype(np.int64) << k
    return ka * 2 + kb, tha - thb, pat


def test_tf_kernel_matches_per_slot_reference():
    """Click patterns per class pair and relative-phase quarter (the phase
    residual frozen per tracking period: no walk), within 5 sigma."""
    n, eta, pd, V, track, tv = 300_000, 0.5, 0.01, 0.95, 50, 0.09
    pr, dr, patr = _reference_tf(n, eta, pd, V, track, tv, 5)
    ws, wl = np.zeros(1), np.full(1, -1, np.int64)
    done, slot, data, phase, noclick = mdi.tf_block(5, 0, 0, n, MU, PROB, MU, PROB, eta, eta,
                                                    pd, V, 0.0, track, tv, ws, wl, n)
    assert done
    quarter = lambda d: (np.mod(d, 2 * np.pi) // (np.pi / 2)).astype(np.int64)
    pk = data[:, 0].astype(np.int64) * 2 + data[:, 1]
    ker = np.bincount((pk * 4 + quarter(phase[:, 0] - phase[:, 1])) * 4 + data[:, 2],
                      minlength=64)
    ref = np.bincount((pr * 4 + quarter(dr)) * 4 + patr, minlength=64)
    ref[0::4] = 0                      # slots without a click: compared per pair below
    assert _zmax(ref, n, ker, n) < 5.0
    assert _zmax(np.bincount(pr[patr == 0], minlength=4), n, noclick, n) < 5.0
    # the residual phase: constant within a period, variance tv across periods
    per = (slot // track)
    first = np.unique(per, return_index=True)[1]
    d = phase[first, 2]
    assert np.var(d) == pytest.approx(tv, rel=5 * math.sqrt(2 / len(d)))
    same = per[1:] == per[:-1]
    assert np.array_equal(phase[1:, 2][same], phase[:-1, 2][same])


def test_tf_walk_increments_have_the_stated_variance():
    n, wv = 2_000_000, 1e-4
    ws, wl = np.zeros(1), np.full(1, -1, np.int64)
    done, slot, data, phase, _ = mdi.tf_block(9, 0, 0, n, MU, PROB, MU, PROB, 0.05, 0.05, 0.0,
                                              1.0, wv, 10**9, 0.0, ws, wl, n)
    inc = np.diff(phase[:, 2]) / np.sqrt(wv * np.diff(slot))
    assert np.mean(inc) == pytest.approx(0.0, abs=5 / math.sqrt(len(inc)))
    assert np.var(inc) == pytest.approx(1.0, abs=5 * math.sqrt(2 / len(inc)))
    assert ws[0] == phase[-1, 2] and wl[0] == slot[-1]


def test_reproducible_and_capacity_retry_gives_the_same_draws():
    args = (3, 7, 10**6, MU, PROB, BASIS, MU, PROB, BASIS, 0.1, 0.1, 1e-4, 1.0, 0.0)
    full = mdi.mdi_block(*args, 10**6)
    again = mdi.mdi_block(*args, 10**6)
    assert all(np.array_equal(x, y) for x, y in zip(full[1:], again[1:]))
    short = mdi.mdi_block(*args, 10)
    assert short[0] is False and np.array_equal(short[1], full[1][:10])
    other = mdi.mdi_block(3, 8, *args[2:], 10**6)
    assert not np.array_equal(other[1][:50], full[1][:50])


@pytest.mark.parametrize("change,match", [
    ({"eta_a": 1.5}, "eta_a"), ({"dark_prob": float("nan")}, "dark_prob"),
    ({"a_prob": np.array([0.5, 0.6])}, "a_prob"), ({"capacity": 0}, "capacity"),
    ({"a_basis": np.array([0, 2], np.uint8)}, "a_basis"),
    ({"b_mu": np.array([0.1])}, "b_prob")])
def test_mdi_block_rejects_bad_arguments(change, match):
    kw = dict(seed=1, block=0, n_slots=100, a_mu=MU, a_prob=PROB, a_basis=BASIS, b_mu=MU,
              b_prob=PROB, b_basis=BASIS, eta_a=0.1, eta_b=0.1, dark_prob=0.0, visibility=1.0,
              misalign_rad=0.0, capacity=10)
    kw.update(change)
    with pytest.raises(ValueError, match=match):
        mdi.mdi_block(**kw)


def test_tf_block_rejects_bad_walk_state():
    with pytest.raises(ValueError, match="walk_slot"):
        mdi.tf_block(1, 1, 100, 10, MU, PROB, MU, PROB, 0.1, 0.1, 0.0, 1.0, 0.0, 10, 0.0,
                     np.zeros(1), np.array([500], np.int64), 10)
    with pytest.raises(ValueError, match="track_slots"):
        mdi.tf_block(1, 1, 100, 10, MU, PROB, MU, PROB, 0.1, 0.1, 0.0, 1.0, 0.0, 0, 0.0,
                     np.zeros(1), np.array([-1], np.int64), 10)


def test_mdi_blocks_are_the_blocks_one_by_one():
    """A chunk call gives exactly the events of mdi_block on each of its
    blocks, in block order, and the summed no-click counts; a chunk that
    overflows its buffer is reported incomplete and gives the same events
    when called again with more room."""
    bs, pulses = 50_000, 170_000                   # 4 blocks, the last one short
    args = (MU, PROB, BASIS, MU, PROB, BASIS, 0.1, 0.1, 1e-4, 0.9, 0.1)
    parts = [mdi.mdi_block(4, b, min(bs, pulses - b * bs), *args, 10**6) for b in range(4)]
    done, data, noclick = mdi.mdi_blocks(4, 1, 4, pulses, bs, *args, 10**6)
    assert done
    assert np.array_equal(data, np.concatenate([p[2] for p in parts[1:]]))
    assert np.array_equal(noclick, sum(p[3] for p in parts[1:]))
    short = mdi.mdi_blocks(4, 1, 4, pulses, bs, *args, len(data) - 1)
    assert short[0] is False


def test_tf_blocks_carry_the_walk_like_consecutive_tf_block_calls():
    bs, pulses = 40_000, 100_000
    args = (MU, PROB, MU, PROB, 0.1, 0.1, 1e-4, 0.9, 1e-3, 25_000, 0.01)
    ws, wl = np.zeros(1), np.full(1, -1, np.int64)
    parts = [mdi.tf_block(6, b, b * bs, min(bs, pulses - b * bs), *args, ws, wl, 10**6)
             for b in range(3)]
    ws2, wl2 = np.zeros(1), np.full(1, -1, np.int64)
    done, counts, slot, data, phase, noclick = mdi.tf_blocks(6, 0, 3, pulses, bs, *args, ws2,
                                                             wl2, 10**6)
    assert done and list(counts) == [len(p[1]) for p in parts]
    assert np.array_equal(slot, np.concatenate([p[1] + b * bs for b, p in enumerate(parts)]))
    assert np.array_equal(data, np.concatenate([p[2] for p in parts]))
    assert np.array_equal(phase, np.concatenate([p[3] for p in parts]))
    assert np.array_equal(noclick, np.stack([p[4] for p in parts]))
    assert ws2[0] == ws[0] and wl2[0] == wl[0]
    # an overflowing chunk leaves the walk state as it was
    ws3, wl3 = np.zeros(1), np.full(1, -1, np.int64)
    assert mdi.tf_blocks(6, 0, 3, pulses, bs, *args, ws3, wl3, 5)[0] is False
    assert ws3[0] == 0.0 and wl3[0] == -1


@pytest.mark.parametrize("b0,b1,pulses,block_slots,match", [
    (0, 0, 100, 10, "b1"), (3, 5, 30, 10, "b0"), (0, 4, 30, 10, "b1"),
    (0, 1, 0, 10, "pulses"), (0, 1, 100, 0, "block_slots"), (0, 1, 2**40, 1, "2\\^32")])
def test_chunk_entries_reject_bad_block_ranges(b0, b1, pulses, block_slots, match):
    with pytest.raises(ValueError, match=match):
        mdi.mdi_blocks(1, b0, b1, pulses, block_slots, MU, PROB, BASIS, MU, PROB, BASIS,
                       0.1, 0.1, 0.0, 1.0, 0.0, 10)
    with pytest.raises(ValueError, match=match):
        mdi.tf_blocks(1, b0, b1, pulses, block_slots, MU, PROB, MU, PROB, 0.1, 0.1, 0.0, 1.0,
                      0.0, 10, 0.0, np.zeros(1), np.full(1, -1, np.int64), 10)
