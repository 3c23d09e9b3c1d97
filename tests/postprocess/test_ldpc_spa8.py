"""Batched 8-lane sum-product decoder (ldpc_spa8.h, the SCMS rescue): every
kernel bit-identical lane by lane to the one-frame decoder decode_spa, lanes
independent of their neighbours and of refills, argument checks, and the
rescue path of reconcile_ldpc equal to the one-frame rescue."""
import numpy as np
import pytest

from qchannel._core import ldpc as core
from qchannel.postprocess import ldpc as L

W = core.SPA_LANES


def _problem(n, q, seed, frames):
    """A (3, 6)-regular code and ``frames`` frames: syndromes and float
    channel LLRs (some known bits at +-1e4, some punctured at 0)."""
    row_ptr, cols, bad = core.build_graph(np.full(n, 3, np.int32),
                                          np.full(n // 2, 6, np.int32), 5, 11, 0)
    assert bad == 0
    r = np.random.default_rng(seed)
    out = []
    for _ in range(frames):
        x = r.integers(0, 2, n).astype(np.uint8)
        y = x ^ (r.random(n) < q).astype(np.uint8)
        s = np.empty(n // 2, np.uint8)
        core.syndrome(row_ptr, cols, x, s)
        ch = np.where(y == 1, -1.0, 1.0).astype(np.float32) * np.float32(np.log((1 - q) / q))
        pos = r.permutation(n)
        ch[pos[:n // 50]] = np.where(x[pos[:n // 50]] == 1, -1e4, 1e4)     # shortened
        ch[pos[n // 50:n // 25]] = 0.0                                     # punctured
        out.append((s, ch, x))
    return row_ptr, cols, out


def _one_frame(rp, cols, s, ch, budget):
    R = np.zeros(len(cols), np.float32)
    Lv = ch.copy()
    it = core.decode_spa(rp, cols, s, R, Lv, budget)
    return it, R, Lv


def _bits(a):
    return a.view(np.uint32)


@pytest.mark.parametrize("simd", core.SPA_KERNELS)
def test_lanes_bit_identical_to_one_frame_decoder(simd):
    # 13 frames stream through the 8 lanes (a finished lane is refilled while
    # the others continue), near the code's threshold so that iteration
    # counts differ and some frames exhaust their budget of 40: each frame's
    # iterations, messages and posteriors equal decode_spa's on it alone.
    n, budget = 1200, 40
    rp, cols, frames = _problem(n, 0.075, 3, 13)
    ref = [_one_frame(rp, cols, s, ch, budget) for s, ch, _ in frames]
    assert any(it < 0 for it, _, _ in ref) and len({it for it, _, _ in ref}) > 4
    Ls = np.zeros((n, W), np.float32)
    Rs = np.zeros((len(cols), W), np.float32)
    syn = np.zeros(n // 2, np.uint8)
    bud = np.full(W, budget, np.int32)
    iters = np.zeros(W, np.int32)
    lane, queue, active, got = [None] * W, list(range(len(frames)))[::-1], 0, {}
    while True:
        for l in range(W):
            if lane[l] is None and queue:
                fi = queue.pop()
                core.spa_load_lane(l, frames[fi][1], frames[fi][0], syn, Ls, Rs)
                lane[l], iters[l] = fi, 0
                active |= 1 << l
        if not active:
            break
        done = core.decode_spa_lanes(rp, cols, syn, Rs, Ls, active, bud, iters, simd)
        for l in range(W):
            if (active >> l) & 1 and ((done >> l) & 1 or iters[l] >= budget):
                it = int(iters[l]) if (done >> l) & 1 else -budget
                got[lane[l]] = (it, Rs[:, l].copy(), Ls[:, l].copy())
                lane[l] = None
                active &= ~(1 << l)
    for fi, (it, R, Lv) in enumerate(ref):
        assert got[fi][0] == it, fi
        assert np.array_equal(_bits(got[fi][1]), _bits(R)), fi
        assert np.array_equal(_bits(got[fi][2]), _bits(Lv)), fi
        if it >= 0:
            assert np.array_equal((Lv < 0).astype(np.uint8), frames[fi][2])


def test_satisfied_at_load_takes_no_iteration():
    # A lane whose channel hard decisions already satisfy the syndrome
    # finishes with 0 iterations, as decode_spa returns 0.
    n = 600
    rp, cols, frames = _problem(n, 0.05, 4, 1)
    s, _, x = frames[0]
    ch = np.where(x == 1, -3.0, 3.0).astype(np.float32)
    assert _one_frame(rp, cols, s, ch, 10)[0] == 0
    Ls, Rs = np.zeros((n, W), np.float32), np.zeros((len(cols), W), np.float32)
    syn, iters = np.zeros(n // 2, np.uint8), np.zeros(W, np.int32)
    core.spa_load_lane(5, ch, s, syn, Ls, Rs)
    assert core.decode_spa_lanes(rp, cols, syn, Rs, Ls, 1 << 5, np.full(W, 10, np.int32),
                                 iters) == 1 << 5
    assert iters[5] == 0


def test_kernel_validates_arguments():
    n = 600
    rp, cols, frames = _problem(n, 0.05, 5, 1)
    s, ch, _ = frames[0]
    E, m = len(cols), n // 2
    Ls, Rs = np.zeros((n, W), np.float32), np.zeros((E, W), np.float32)
    syn, iters, bud = np.zeros(m, np.uint8), np.zeros(W, np.int32), np.full(W, 5, np.int32)
    with pytest.raises(ValueError, match="lane"):
        core.spa_load_lane(W, ch, s, syn, Ls, Rs)
    with pytest.raises(ValueError, match="frame_syn"):
        core.spa_load_lane(0, ch, np.full(m, 2, np.uint8), syn, Ls, Rs)
    with pytest.raises(ValueError, match="shapes"):
        core.spa_load_lane(0, ch[:-1], s, syn, Ls, Rs)
    with pytest.raises(ValueError, match="shapes"):
        core.decode_spa_lanes(rp, cols, syn, Rs[:-1], Ls, 1, bud, iters)
    with pytest.raises(ValueError, match="simd"):
        core.decode_spa_lanes(rp, cols, syn, Rs, Ls, 1, bud, iters, "avx1024")
    with pytest.raises(ValueError, match="active"):
        core.decode_spa_lanes(rp, cols, syn, Rs, Ls, 1 << W, bud, iters)
    with pytest.raises(ValueError, match="budget"):
        core.decode_spa_lanes(rp, cols, syn, Rs, Ls, 1, np.zeros(W, np.int32), iters)
    bad_cols = cols.copy()
    bad_cols[0] = n
    with pytest.raises(ValueError):
        core.decode_spa_lanes(rp, bad_cols, syn, Rs, Ls, 1, bud, iters)


def test_batched_rescue_equals_one_frame_rescue(monkeypatch):
    # SCMS at f_start 1.08 on 10 frames of 4 000 bits at QBER 5 %: most
    # frames fail their first attempt and are rescued in one batch by the
    # 8-lane kernel; forcing the one-frame path gives the same bits, leak and
    # counters (blind rounds continue from the batched state).
    r = np.random.default_rng(6)
    a = r.integers(0, 2, 40_000).astype(np.uint8)
    b = a ^ (r.random(a.size) < 0.05).astype(np.uint8)
    kw = dict(seed=4, frame_bits=4_000, decoder="scms", f_start=1.08, step=0.03)
    batched = L.reconcile_ldpc(a, b, 0.05, **kw)
    assert batched.rescued_frames >= L.SPA_BATCH_MIN
    assert batched.rounds > 1                      # some rescues needed blind rounds
    monkeypatch.setattr(L, "SPA_BATCH_MIN", 10**9)
    single = L.reconcile_ldpc(a, b, 0.05, **kw)
    assert np.array_equal(batched.bob_corrected, single.bob_corrected)
    assert np.array_equal(batched.frame_failed, single.frame_failed)
    for key in ("leaked_bits", "rounds", "iterations", "first_attempt_failures",
                "rescued_frames", "undetected_frames"):
        assert getattr(batched, key) == getattr(single, key), key


def test_spa_decoder_batched_equals_one_frame(monkeypatch):
    # decoder "spa" decodes its frames in 8-lane pools once there are enough
    # of them: 12 frames of 2 000 bits at QBER 3 %, f_start 1.05 (first
    # attempts fail, blind rounds follow) give the same bits, leak and
    # counters as one frame at a time.
    r = np.random.default_rng(7)
    a = r.integers(0, 2, 24_000).astype(np.uint8)
    b = a ^ (r.random(a.size) < 0.03).astype(np.uint8)
    kw = dict(seed=9, frame_bits=2_000, decoder="spa", f_start=1.05)
    batched = L.reconcile_ldpc(a, b, 0.03, **kw)
    assert batched.first_attempt_failures > 0 and batched.frames == 12
    monkeypatch.setattr(L, "SPA_BATCH_MIN", 10**9)
    single = L.reconcile_ldpc(a, b, 0.03, **kw)
    assert np.array_equal(batched.bob_corrected, single.bob_corrected)
    assert np.array_equal(batched.frame_failed, single.frame_failed)
    for key in ("leaked_bits", "rounds", "iterations", "first_attempt_failures",
                "undetected_frames"):
        assert getattr(batched, key) == getattr(single, key), key


def test_scms_messages_reproduce_the_posteriors():
    # The rescue starts sum-product from SCMS's check-to-variable messages
    # (_LanePool.messages).  With channel 12 quanta, variable degree 3 and
    # messages clipped at 30 no posterior ever saturates (|L| <= 12 + 3 * 30),
    # so the layered invariant L = ch + sum of the messages holds exactly in
    # every lane: a wrong sign or a swapped minimum would break it.
    n = 600
    rp, cols, bad = core.build_graph(np.full(n, 3, np.int32), np.full(n // 2, 6, np.int32),
                                     5, 11, 0)
    code = L.LdpcCode(0, n, n // 2, rp, cols)
    pool = L._LanePool(code)
    r = np.random.default_rng(8)
    W32 = core.SCMS_LANES
    ch = np.where(r.random((n, W32)) < 0.08, -12, 12).astype(np.int8)
    pool.L[:] = ch
    pool.syn[:] = r.integers(0, 2**32, n // 2, dtype=np.uint32)
    pool.budget[:] = 7
    core.decode_scms_lanes(rp, cols, pool.syn, pool.L, pool.qsign, pool.qnz, pool.m1s,
                           pool.m2s, pool.idx, pool.par, 2**32 - 1, pool.budget, pool.iters,
                           pool.hard, L.SCMS_A, L.SCMS_B, 30)
    assert (pool.iters == 7).all() and np.abs(pool.L).max() < 127
    for l in range(W32):
        msg = pool.messages(l)
        assert msg.dtype == np.int8 and np.abs(msg).max() > 0
        post = ch[:, l].astype(np.int64) + np.bincount(cols, weights=msg, minlength=n)
        assert np.array_equal(post, pool.L[:, l].astype(np.int64)), l
