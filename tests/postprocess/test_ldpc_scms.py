"""Batched 8-bit self-corrected min-sum (SCMS) LDPC decoder: kernel against an
independent NumPy reference, AVX2 against scalar, lane independence, and
reconciliation with decoder="scms" / "auto" end to end."""
import numpy as np
import pytest

from qchannel._core import ldpc as core
from qchannel.postprocess import ldpc as L

W = core.SCMS_LANES


def _scale(x, A, B, C):
    return np.minimum(C, np.maximum(0, ((x.astype(np.int64) * A + 8) >> 4) - B))


def _ref_iteration(rp, cols, syn, Lv, qs, qnz, M1, M2, ID, par, A, B, C):
    """One layered SCMS iteration over all checks, every lane at once, written
    from the algorithm's definition (ldpc_scms.h) in NumPy integers.  Bit
    masks are held as (.., 32) bool arrays.  Returns the lanes with a check
    unsatisfied right after its update."""
    unsat = np.zeros(W, bool)
    for c in range(len(rp) - 1):
        e = np.arange(rp[c], rp[c + 1])
        v = cols[e]
        j = np.arange(len(e))[:, None]
        mag = np.where(ID[c] == j, M2[c], M1[c]).astype(np.int64)
        r = np.where(par[c] ^ qs[e], -mag, mag)
        t = np.clip(Lv[v].astype(np.int64) - r, -128, 127)
        erase = qnz[e] & ((t < 0) != qs[e])          # sign flip of a live message
        tt = np.where(erase, 0, t)
        qs[e] = tt < 0
        qnz[e] = tt != 0
        par[c] = syn[c].astype(bool) ^ np.logical_xor.reduce(qs[e], axis=0)
        ab = np.abs(tt)
        srt = np.sort(ab, axis=0)
        M1[c] = _scale(srt[0], A, B, C)
        M2[c] = _scale(srt[1], A, B, C)
        ID[c] = np.argmin(ab, axis=0)                # first position of the minimum
        mag = np.where(ID[c] == j, M2[c], M1[c]).astype(np.int64)
        r = np.where(par[c] ^ qs[e], -mag, mag)
        Ln = np.clip(t + r, -128, 127)
        Lv[v] = Ln
        unsat |= syn[c].astype(bool) ^ np.logical_xor.reduce(Ln < 0, axis=0)
    return unsat


def _bits_to_bool(a):
    return ((a[:, None] >> np.arange(W, dtype=np.uint32)) & 1).astype(bool)


def _problem(n, q, seed, shortened=0.0):
    """A (3, 6)-regular code and 32 frames: syndromes, channel LLRs (int8)."""
    row_ptr, cols, bad = core.build_graph(np.full(n, 3, np.int32),
                                          np.full(n // 2, 6, np.int32), 9, 11, 0)
    assert bad == 0
    r = np.random.default_rng(seed)
    x = r.integers(0, 2, (W, n)).astype(np.uint8)
    y = x ^ (r.random((W, n)) < q).astype(np.uint8)
    syn_bits = np.empty((n // 2, W), np.uint8)
    s = np.empty(n // 2, np.uint8)
    for l in range(W):
        core.syndrome(row_ptr, cols, x[l], s)
        syn_bits[:, l] = s
    syn = np.packbits(syn_bits, axis=1, bitorder="little").view("<u4").ravel().astype(np.uint32)
    ch = np.where(y.T == 1, -12, 12).astype(np.int8)
    known = r.random((n, W)) < shortened
    ch[known] = np.where(x.T[known] == 1, -127, 127)
    return row_ptr, cols, syn, syn_bits, ch, x


def _state(n, m, E):
    return dict(qsign=np.zeros(E, np.uint32), qnz=np.zeros(E, np.uint32),
                m1s=np.zeros((m, W), np.uint8), m2s=np.zeros((m, W), np.uint8),
                idx=np.zeros((m, W), np.uint8), par=np.zeros(m, np.uint32),
                budget=np.zeros(W, np.int32), iters=np.zeros(W, np.int32),
                hard=np.zeros((W, n), np.uint8))


def _run(rp, cols, syn, Lv, st, active, A=14, B=0, C=48, simd=True):
    return core.decode_scms_lanes(rp, cols, syn, Lv, st["qsign"], st["qnz"], st["m1s"],
                                  st["m2s"], st["idx"], st["par"], active, st["budget"],
                                  st["iters"], st["hard"], A, B, C, simd)


@pytest.mark.parametrize("simd", core.SCMS_KERNELS)
@pytest.mark.parametrize("A,B,C", [(14, 0, 48), (16, 1, 127)])
def test_kernel_matches_numpy_reference(simd, A, B, C):
    n = 480
    rp, cols, syn, syn_bits, ch, _ = _problem(n, 0.09, 1, shortened=0.05)
    m, E = n // 2, len(cols)
    Lv = ch.copy()
    st = _state(n, m, E)
    rL = ch.copy()
    rqs, rqnz = np.zeros((E, W), bool), np.zeros((E, W), bool)
    rM1, rM2, rID = (np.zeros((m, W), np.int64) for _ in range(3))
    rpar = np.zeros((m, W), bool)
    for it in range(12):                   # one iteration per call (budget 1)
        st["budget"][:] = 1
        _run(rp, cols, syn, Lv, st, 0xFFFFFFFF, A, B, C, simd)
        _ref_iteration(rp, cols, syn_bits, rL, rqs, rqnz, rM1, rM2, rID, rpar, A, B, C)
        assert np.array_equal(Lv, rL), f"posteriors differ after iteration {it + 1}"
        assert np.array_equal(_bits_to_bool(st["qsign"]), rqs)
        assert np.array_equal(_bits_to_bool(st["qnz"]), rqnz)
        assert np.array_equal(st["m1s"], rM1) and np.array_equal(st["m2s"], rM2)
        assert np.array_equal(st["idx"], rID)
        assert np.array_equal(_bits_to_bool(st["par"]), rpar)
    assert (st["iters"] == 12).all()


@pytest.mark.parametrize("simd", [k for k in core.SCMS_KERNELS if k != "scalar"])
def test_simd_and_scalar_bit_identical_to_convergence(simd):
    n = 2000
    rp, cols, syn, _, ch, x = _problem(n, 0.05, 2)
    out = []
    for simd in (simd, "scalar"):
        Lv = ch.copy()
        st = _state(n, n // 2, len(cols))
        st["budget"][:] = 60
        active, events = 0xFFFFFFFF, []
        while active:
            done = _run(rp, cols, syn, Lv, st, active, simd=simd)
            finished = done | sum(1 << l for l in range(W)
                                  if (active >> l) & 1 and st["budget"][l] <= 0)
            events.append((done, finished))
            active &= ~finished
        out.append((Lv, st, events))
    (L1, s1, e1), (L2, s2, e2) = out
    assert e1 == e2 and np.array_equal(L1, L2)
    for k in s1:
        assert np.array_equal(s1[k], s2[k]), k
    decoded = sum(bin(d).count("1") for d, _ in e1)
    assert decoded >= 28                   # 5 % errors on a rate-1/2 code: nearly all
    for l in range(W):
        if s1["iters"][l] < 60:
            assert np.array_equal(s1["hard"][l], x[l])


def test_lanes_are_independent():
    # Frame 3 decoded alone in lane 3, and among 31 other frames (shifted into
    # lane 20): same iterations, same hard decisions.
    n = 2000
    rp, cols, syn, syn_bits, ch, x = _problem(n, 0.06, 3)
    st = _state(n, n // 2, len(cols))
    st["budget"][:] = 80
    Lv = ch.copy()
    alone = 1 << 3
    while alone:
        done = _run(rp, cols, syn, Lv, st, alone)
        if done or st["budget"][3] <= 0:
            alone = 0
    it_alone, hard_alone = st["iters"][3], st["hard"][3].copy()

    perm = np.roll(np.arange(W), 17)        # lane l holds frame perm[l]; frame 3 -> lane 20
    syn2 = np.packbits(syn_bits[:, perm], axis=1, bitorder="little")
    syn2 = np.ascontiguousarray(syn2).view("<u4").ravel().astype(np.uint32)
    Lv2 = np.ascontiguousarray(ch[:, perm])
    st2 = _state(n, n // 2, len(cols))
    st2["budget"][:] = 80
    active = 0xFFFFFFFF
    while (active >> 20) & 1:
        done = _run(rp, cols, syn2, Lv2, st2, active)
        active &= ~done
        active &= ~sum(1 << l for l in range(W) if st2["budget"][l] <= 0)
    assert st2["iters"][20] == it_alone
    assert np.array_equal(st2["hard"][20], hard_alone)
    assert it_alone < 80 and np.array_equal(hard_alone, x[3])


def test_kernel_validates_shapes():
    n = 480
    rp, cols, syn, _, ch, _ = _problem(n, 0.05, 1)
    st = _state(n, n // 2, len(cols))
    with pytest.raises(ValueError, match="lane dimension"):
        _run(rp, cols, syn, np.zeros((n, 16), np.int8), st, 1)
    bad = cols.copy()
    bad[5] = n + 3
    with pytest.raises(ValueError, match="column index"):
        _run(rp, bad, syn, ch.copy(), st, 1)
    with pytest.raises(ValueError, match="A in"):
        _run(rp, cols, syn, ch.copy(), st, 1, A=0)
    with pytest.raises(ValueError, match="simd"):
        _run(rp, cols, syn, ch.copy(), st, 1, simd="neon")


# ------------------------------------------------------------ reconciliation

def _pair(n, q, seed):
    r = np.random.default_rng(seed)
    a = r.integers(0, 2, n).astype(np.uint8)
    e = np.zeros(n, np.uint8)
    e[r.choice(n, int(round(q * n)), replace=False)] = 1
    return a, a ^ e


@pytest.mark.parametrize("q", [0.03, 0.05, 0.08])
def test_scms_reconciles_100k_frames_within_calibrated_f(q):
    # 3 frames of 100 000 bits: keys identical; f at most the calibrated
    # first-attempt value plus one blind step (0.02) per frame.
    a, b = _pair(300_000, q, 31)
    res = L.reconcile_ldpc(a, b, q, seed=5, decoder="scms")
    assert res.decoder == "scms" and res.frames == 3
    assert res.frames_failed == 0 and res.undetected_frames == 0
    assert np.array_equal(res.bob_corrected, a)
    assert res.efficiency <= L._f_start(q, "scms") + 0.02
    assert res.efficiency <= 1.15


def test_auto_picks_the_decoder_that_meets_f_115():
    a, b = _pair(20_000, 0.015, 1)
    assert L.reconcile_ldpc(a, b, 0.015, seed=1, frame_bits=10_000).decoder == "spa"
    a, b = _pair(20_000, 0.05, 1)
    assert L.reconcile_ldpc(a, b, 0.05, seed=1, frame_bits=10_000).decoder == "scms"
    for q, _ in L._F_START_SCMS:
        if L._f_start(q, "scms") <= L.SCMS_AUTO_F:
            assert q >= 0.03
    # From QBER 2 % SCMS with the first attempt capped at f = 1.15: the same
    # run as decoder "scms", f_start 1.149 (f itself is checked on 1e5-bit
    # frames in test_ldpc.py::test_efficiency_100k_frames; 1e4-bit frames
    # need blind rounds at this f).
    assert L._auto_decoder(0.02) == ("scms", L.SCMS_CAPPED_F) and L.SCMS_CAPPED_F <= 1.15
    assert L._auto_decoder(0.019) == ("spa", None) and L._auto_decoder(0.05) == ("scms", None)
    a, b = _pair(20_000, 0.02, 2)
    res = L.reconcile_ldpc(a, b, 0.02, seed=1, frame_bits=10_000)
    fixed = L.reconcile_ldpc(a, b, 0.02, seed=1, frame_bits=10_000, decoder="scms",
                           f_start=L.SCMS_CAPPED_F)
    assert res.decoder == "scms" and res.leaked_bits == fixed.leaked_bits
    assert np.array_equal(res.bob_corrected, fixed.bob_corrected)
    assert np.array_equal(res.bob_corrected, a)


def test_scms_failures_are_rescued_by_sum_product():
    # Far too little syndrome for SCMS (f_start 1.0): every frame fails its
    # first attempt, sum-product with blind rounds must still deliver, and the
    # leak grows by exactly the revealed bits.
    a, b = _pair(20_000, 0.05, 9)
    res = L.reconcile_ldpc(a, b, 0.05, seed=2, frame_bits=10_000, decoder="scms",
                           f_start=1.0, step=0.05, max_rounds=30)
    assert res.first_attempt_failures == 2 and res.rescued_frames == 2
    assert res.frames_failed == 0 and np.array_equal(res.bob_corrected, a)
    n = res.code_length
    idx, p0 = L._choose_code(n, 10_000, lambda i: L._code_m(n, i), 0.05, 1.0)
    delta = max(1, int(np.ceil(0.05 * 10_000 * L.h2(0.05))))
    base = 2 * (L._code_m(n, idx) - p0)
    assert res.leaked_bits >= base and (res.leaked_bits - base) % delta == 0


def test_scms_result_independent_of_frame_grouping():
    # The same 100 000-bit frame decoded inside a 3-frame pool and inside a
    # 1-frame pool: same bits out, same leak for that frame.
    a, b = _pair(300_000, 0.05, 4)
    full = L.reconcile_ldpc(a, b, 0.05, seed=8, decoder="scms")
    one = L.reconcile_ldpc(a[:100_000], b[:100_000], 0.05, seed=8, decoder="scms")
    assert np.array_equal(full.bob_corrected[:100_000], one.bob_corrected)
    assert np.array_equal(one.bob_corrected, a[:100_000])


def test_scenario_lists_the_same_decoders():
    from qchannel.scenario import PostprocessConfig
    assert PostprocessConfig.LDPC_DECODERS == L.DECODERS
    assert PostprocessConfig(ec="ldpc", ldpc_decoder="scms").ldpc_decoder == "scms"
    with pytest.raises(ValueError, match="postprocess.ldpc_decoder"):
        PostprocessConfig(ec="ldpc", ldpc_decoder="fast")


@pytest.mark.parametrize("decoder", ["scms", "spa"])
def test_threads_give_identical_results(decoder):
    # 40 frames of 2 000 bits (more than one 32-lane pool) shared by 1, 2 or
    # 3 threads; with f_start 1.06 some frames fail their first attempt and
    # go through rescues / blind rounds: the same bits, leak and counters.
    a, b = _pair(80_000, 0.05, 12)
    runs = [L.reconcile_ldpc(a, b, 0.05, seed=3, frame_bits=2_000, decoder=decoder,
                             f_start=1.06, threads=t) for t in (1, 2, 3)]
    assert runs[0].first_attempt_failures > 0
    for res in runs[1:]:
        assert np.array_equal(res.bob_corrected, runs[0].bob_corrected)
        assert np.array_equal(res.frame_failed, runs[0].frame_failed)
        for key in ("leaked_bits", "rounds", "iterations", "first_attempt_failures",
                    "rescued_frames", "undetected_frames"):
            assert getattr(res, key) == getattr(runs[0], key), key
    with pytest.raises(ValueError, match="threads"):
        L.reconcile_ldpc(a, b, 0.05, seed=3, threads=0)


def test_load_lane_equals_reset_with_channel_llrs():
    # scms_load_lane (one pass in C) sets the lane's posteriors as
    # scms_reset_lane does for the same channel LLRs, and its syndrome bits;
    # it leaves the message state alone, which the kernel ignores in a lane's
    # first iteration (iters 0): decoding after either is identical, whatever
    # the message arrays held.
    n = 480
    rp, cols, syn, syn_bits, ch, _ = _problem(n, 0.05, 3)
    m, E = n // 2, len(cols)
    r = np.random.default_rng(2)
    perm = r.permutation(n).astype(np.int64)
    key, known = perm[:400], perm[440:]
    kb, nb = r.integers(0, 2, 400, dtype=np.uint8), r.integers(0, 2, 40, dtype=np.uint8)
    fsyn = r.integers(0, 2, m, dtype=np.uint8)
    a = _state(n, m, E)
    for k in ("qsign", "qnz", "par"):
        a[k][:] = r.integers(0, 2**32, a[k].shape, dtype=np.uint32)
    for k in ("m1s", "m2s", "idx"):
        a[k][:] = r.integers(0, 256, a[k].shape, dtype=np.uint8)
    b = {k: v.copy() for k, v in a.items()}
    La, Lb, sa = ch.copy(), ch.copy(), syn.copy()
    core.scms_load_lane(5, 12, key, kb, known, nb, fsyn, sa, La, a["qsign"], a["qnz"],
                        a["m1s"], a["m2s"], a["idx"], a["par"])
    chan = np.zeros(n, np.int8)
    chan[key] = np.where(kb == 1, -12, 12)
    chan[known] = np.where(nb == 1, -127, 127)
    core.scms_reset_lane(5, chan, Lb, b["qsign"], b["qnz"], b["m1s"], b["m2s"], b["idx"],
                         b["par"])
    assert np.array_equal(La, Lb)
    assert np.array_equal(sa, (syn & ~np.uint32(1 << 5)) | (fsyn.astype(np.uint32) << 5))
    for k in a:         # message state untouched by the load, cleared by the reset
        assert np.array_equal(a[k], b[k]) == (k in ("budget", "iters", "hard")), k
    for simd in core.SCMS_KERNELS:
        sts = []
        for st, Lv in ((a, La), (b, Lb)):
            st, Lv = {k: v.copy() for k, v in st.items()}, Lv.copy()
            st["budget"][:] = 3
            _run(rp, cols, sa, Lv, st, 1 << 5, simd=simd)
            sts.append((Lv, st))
        (L1, s1), (L2, s2) = sts
        assert s1["iters"][5] == s2["iters"][5] >= 1
        assert np.array_equal(L1[:, 5], L2[:, 5]) and np.array_equal(s1["hard"], s2["hard"])
        bit = np.uint32(1 << 5)
        for k in ("qsign", "qnz", "par"):
            assert np.array_equal(s1[k] & bit, s2[k] & bit), k
        for k in ("m1s", "m2s", "idx"):
            assert np.array_equal(s1[k][:, 5], s2[k][:, 5]), k
    bad = key.copy()
    bad[7] = n
    with pytest.raises(ValueError, match=r"key_pos/key_bits\[7\]"):
        core.scms_load_lane(5, 12, bad, kb, known, nb, fsyn, sa, La, a["qsign"], a["qnz"],
                            a["m1s"], a["m2s"], a["idx"], a["par"])
