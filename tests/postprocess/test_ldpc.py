"""LDPC reconciliation: decoder kernel vs a NumPy reference, code construction,
end-to-end correctness over seeds and QBERs, leakage accounting, validation."""
import math

import numpy as np
import pytest

from qchannel._core import ldpc as core
from qchannel.postprocess import ldpc as L


# ------------------------------------------------------------ reference decoder

def _ref_layered_minsum(row_ptr, cols, syn, R, Lv, max_iter, alpha):
    """Pure-NumPy layered normalised min-sum, same schedule and float32 ops."""
    alpha = np.float32(alpha)
    m = len(row_ptr) - 1

    def satisfied():
        hard = (Lv < 0).astype(np.uint8)
        return all((int(hard[cols[row_ptr[c]:row_ptr[c + 1]]].sum()) + int(syn[c])) % 2 == 0
                   for c in range(m))

    if satisfied():
        return 0
    for it in range(max_iter):
        for c in range(m):
            a, b = row_ptr[c], row_ptr[c + 1]
            v = cols[a:b]
            t = (Lv[v] - R[a:b]).astype(np.float32)
            at = np.abs(t)
            order = np.argsort(at, kind="stable")      # first minimum wins ties
            i1 = order[0]
            min1 = np.float32(at[i1]) * alpha
            min2 = np.float32(at[order[1]]) * alpha
            par = (int(syn[c]) + int(np.count_nonzero(t < 0))) & 1
            mag = np.full(b - a, min1, dtype=np.float32)
            mag[i1] = min2
            neg = par ^ (t < 0).astype(np.int64)
            r = (mag * (np.float32(1.0) - np.float32(2.0) * neg.astype(np.float32))).astype(np.float32)
            R[a:b] = r
            Lv[v] = t + r
        if satisfied():
            return it + 1
    return -max_iter


def _ref_layered_spa(row_ptr, cols, syn, R, Lv, max_iter):
    """Pure-NumPy layered sum-product with the kernel's tabulated phi and its
    termination rule (full check only after an iteration in which every check
    was satisfied right after its own update)."""
    tab, mbits, emin = core.phi_table()
    base = (127 + emin) << mbits

    def phi(x):
        i = (np.asarray(x, np.float32).view(np.uint32) >> (23 - mbits)).astype(np.int64) - base
        return tab[np.clip(i, 0, len(tab) - 1)]

    m = len(row_ptr) - 1

    def satisfied():
        hard = (Lv < 0).astype(np.int64)
        return all((hard[cols[row_ptr[c]:row_ptr[c + 1]]].sum() + int(syn[c])) % 2 == 0
                   for c in range(m))

    if satisfied():
        return 0
    for it in range(max_iter):
        unsat = 0
        for c in range(m):
            a, b = row_ptr[c], row_ptr[c + 1]
            v = cols[a:b]
            t = (Lv[v] - R[a:b]).astype(np.float32)
            neg = np.signbit(t).astype(np.int64)
            par = (int(syn[c]) + int(neg.sum())) & 1
            P = phi(np.abs(t))
            S = np.float32(0)
            for p_ in P:                       # same summation order as the kernel
                S = np.float32(S + p_)
            mag = phi(np.maximum(S - P, np.float32(0)))
            r = np.where((par ^ neg) == 1, -mag, mag).astype(np.float32)
            R[a:b] = r
            Lv[v] = t + r
            unsat += (int(syn[c]) + int((Lv[v] < 0).sum())) & 1
        if unsat == 0 and satisfied():
            return it + 1
    return -max_iter


def _tiny_code(seed=3, n=48, dv=3, dc=6):
    var_deg = np.full(n, dv, dtype=np.int32)
    chk_deg = np.full(n * dv // dc, dc, dtype=np.int32)
    row_ptr, cols, _ = core.build_graph(var_deg, chk_deg, seed, 11, 0)
    return row_ptr, cols


def _tiny_problem(code_seed, seed, q, llr, punctured, shortened):
    """The tiny code, a word, its syndrome and channel LLRs of a BSC(q) copy:
    the first ``punctured`` positions at 0, the next ``shortened`` known."""
    row_ptr, cols = _tiny_code(seed=code_seed)
    n, m = 48, len(row_ptr) - 1
    r = np.random.default_rng(seed)
    x = r.integers(0, 2, n).astype(np.uint8)
    y = x ^ (r.random(n) < q).astype(np.uint8)
    syn = np.empty(m, np.uint8)
    core.syndrome(row_ptr, cols, x, syn)
    ch = np.where(y == 1, -1.0, 1.0).astype(np.float32) * np.float32(llr)
    ch[:punctured] = 0.0
    sh = slice(punctured, punctured + shortened)
    ch[sh] = np.where(x[sh] == 1, -1e4, 1e4)
    return row_ptr, cols, x, syn, ch


@pytest.mark.parametrize("iters", [1, 2, 5])
def test_decoder_matches_numpy_reference(iters):
    row_ptr, cols, _, syn, ch = _tiny_problem(3, 7, 0.15, 1.7, 4, 2)
    R1, L1 = np.zeros(len(cols), np.float32), ch.copy()
    R2, L2 = np.zeros(len(cols), np.float32), ch.copy()
    a = core.decode_layered(row_ptr, cols, syn, R1, L1, iters, 0.75)
    b = _ref_layered_minsum(row_ptr, cols, syn, R2, L2, iters, 0.75)
    assert a == b
    np.testing.assert_allclose(R1, R2, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(L1, L2, rtol=1e-6, atol=1e-3)


@pytest.mark.parametrize("iters", [1, 3, 30])
def test_spa_decoder_matches_numpy_reference(iters):
    row_ptr, cols, _, syn, ch = _tiny_problem(4, 11, 0.08, 2.4, 3, 2)
    R1, L1 = np.zeros(len(cols), np.float32), ch.copy()
    R2, L2 = np.zeros(len(cols), np.float32), ch.copy()
    a = core.decode_spa(row_ptr, cols, syn, R1, L1, iters)
    b = _ref_layered_spa(row_ptr, cols, syn, R2, L2, iters)
    assert a == b
    np.testing.assert_allclose(R1, R2, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(L1, L2, rtol=1e-5, atol=1e-2)


def test_spa_phi_table_accuracy():
    tab, mbits, emin = core.phi_table()
    x = np.geomspace(2.0 ** (emin + 1), 30.0, 2000).astype(np.float32)
    i = (x.view(np.uint32) >> (23 - mbits)).astype(np.int64) - ((127 + emin) << mbits)
    exact = -np.log(np.tanh(x.astype(np.float64) / 2))
    # relative bin width 2^-mbits: |phi'(x)| x <= 1 for x small, tiny for x large
    assert np.all(np.abs(tab[i] - exact) <= 2.0 ** -mbits + 1e-6)


def test_decoder_warm_restart_matches_reference():
    row_ptr, cols, x, syn, ch = _tiny_problem(9, 1, 0.2, 1.0, 0, 0)
    states = []
    for fn in (core.decode_layered, _ref_layered_minsum):
        R, Lv = np.zeros(len(cols), np.float32), ch.copy()
        fn(row_ptr, cols, syn, R, Lv, 2, 0.8)
        Lv[10:14] += np.where(x[10:14] == 1, -1e4, 1e4).astype(np.float32) - ch[10:14]
        res = fn(row_ptr, cols, syn, R, Lv, 2, 0.8)
        states.append((res, R, Lv))
    assert states[0][0] == states[1][0]
    np.testing.assert_allclose(states[0][1], states[1][1], rtol=1e-6, atol=1e-5)


def test_build_graph_girth6_when_budget_allows():
    n = 6000
    var_deg = np.concatenate([np.full(3000, 2), np.full(2400, 3), np.full(600, 8)]).astype(np.int32)
    E = int(var_deg.sum())
    chk_deg = np.full(3000, E // 3000, np.int32)
    chk_deg[:E - chk_deg.sum()] += 1
    row_ptr, cols, bad = core.build_graph(var_deg, chk_deg, 7, 11, 0)
    assert bad == 0 and core.count_4cycles_vars(row_ptr, cols, n) == 0
    # cycle budget 0: only double edges are repaired
    row_ptr, cols, bad = core.build_graph(var_deg, chk_deg, 7, 11, 0, None, 50 * E, 0)
    same_row = np.repeat(np.arange(len(row_ptr) - 1), np.diff(row_ptr))
    assert bad == 0 and not np.any((np.diff(cols) <= 0) & (np.diff(same_row) == 0))


def test_decoder_corrects_regular_code():
    n = 4000
    row_ptr, cols, bad = core.build_graph(np.full(n, 3, np.int32), np.full(n // 2, 6, np.int32),
                                          5, 11, 0)
    assert bad == 0 and core.count_4cycles_vars(row_ptr, cols, n) == 0
    r = np.random.default_rng(2)
    x = r.integers(0, 2, n).astype(np.uint8)
    y = x ^ (r.random(n) < 0.03).astype(np.uint8)
    syn = np.empty(n // 2, np.uint8)
    core.syndrome(row_ptr, cols, x, syn)
    Lv = np.where(y == 1, -1.0, 1.0).astype(np.float32)
    R = np.zeros(len(cols), np.float32)
    ch = Lv.copy()
    assert core.decode_layered(row_ptr, cols, syn, R, Lv, 50, 0.8) > 0
    assert np.array_equal((Lv < 0).astype(np.uint8), x)
    R[:] = 0.0
    Lv = ch * np.float32(math.log(0.97 / 0.03))
    assert core.decode_spa(row_ptr, cols, syn, R, Lv, 50) > 0
    assert np.array_equal((Lv < 0).astype(np.uint8), x)


# ------------------------------------------------------------ code family

def test_code_construction_deterministic_cached_girth6():
    n = 8192
    a = L.get_code(n, 0)
    assert L.get_code(n, 0) is a                      # memory cache
    row_ptr, cols = a.row_ptr, a.cols
    L._CACHE.pop((n, 0))
    b = L.get_code(n, 0)
    assert np.array_equal(b.cols, cols) and np.array_equal(b.row_ptr, row_ptr)
    # No double edges (rows sorted, strictly increasing); 4-cycles are removed
    # within a budget of 3 swaps per edge -- complete at 1e5 bits for rates
    # <= 0.75, mostly at this short length with degree-40 variables.
    same_row = np.repeat(np.arange(len(row_ptr) - 1), np.diff(row_ptr))
    assert not np.any((np.diff(cols) <= 0) & (np.diff(same_row) == 0))
    assert core.count_4cycles_vars(row_ptr, cols, n) < 0.15 * n
    var_deg, chk_deg, _ = L._degree_sequences(n, 0)
    assert np.array_equal(np.bincount(cols, minlength=n), var_deg)
    assert np.array_equal(np.diff(row_ptr), chk_deg)
    assert a.m == L._code_m(n, 0)


def test_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("QCHANNEL_CACHE_DIR", str(tmp_path))
    n = 2048
    L._CACHE.pop((n, 1), None)
    a = L.get_code(n, 1)
    assert list(tmp_path.rglob("*.npz"))
    L._CACHE.pop((n, 1))
    b = L.get_code(n, 1)
    assert np.array_equal(a.cols, b.cols)
    L._CACHE.pop((n, 1))
    # A new construction version never reads files of an older one.
    old_path = L._disk_path(n, 1)
    monkeypatch.setattr(L, "CONSTRUCTION_VERSION", L.CONSTRUCTION_VERSION + 1)
    assert L._disk_path(n, 1) != old_path


# ------------------------------------------------------------ end to end

def _pair(n, q, seed):
    r = np.random.default_rng(seed)
    a = r.integers(0, 2, n).astype(np.uint8)
    e = np.zeros(n, np.uint8)
    e[r.choice(n, int(round(q * n)), replace=False)] = 1   # exact error count
    return a, a ^ e


@pytest.mark.parametrize("q", [0.01, 0.02, 0.03, 0.05, 0.08])
def test_keys_identical_over_seeds(q):
    for seed in range(3):
        a, b = _pair(20_000, q, 100 * seed + int(q * 1000))
        res = L.reconcile_ldpc(a, b, q, seed=seed, frame_bits=10_000)
        assert res.method == "ldpc" and res.frames == 2
        assert res.bob_corrected.dtype == np.uint8 and res.bob_corrected.shape == a.shape
        assert res.undetected_frames == 0
        for fi in range(res.frames):
            sl = slice(fi * 10_000, (fi + 1) * 10_000)
            if res.frame_failed[fi]:
                assert np.array_equal(res.bob_corrected[sl], b[sl])   # returned, flagged
            else:
                assert np.array_equal(res.bob_corrected[sl], a[sl])
        assert res.frames_failed == int(res.frame_failed.sum())
        assert res.frames_failed == 0
        assert res.leaked_bits > 0 and res.rounds >= 1


def test_reproducible_and_seed_dependent(monkeypatch):
    # The seed picks each frame's embedding in its mother code (key,
    # punctured and shortened positions, filler bits), hence Alice's public
    # syndrome: captured from _setup_frame on the way.
    real = L._setup_frame
    frames = {}

    def spy(seed, fi, *args):
        fr = real(seed, fi, *args)
        frames[fi] = (fr.perm.copy(), fr.x.copy(), fr.syn.copy())
        return fr

    monkeypatch.setattr(L, "_setup_frame", spy)
    a, b = _pair(12_000, 0.04, 5)
    runs = []
    for seed in (11, 11, 12):
        frames.clear()
        res = L.reconcile_ldpc(a, b, 0.04, seed=seed, frame_bits=6000)
        assert res.frames == 2 and res.frames_failed == 0 and np.array_equal(res.bob_corrected, a)
        runs.append((res, dict(frames)))
    (r1, f1), (r2, f2), (_, f3) = runs
    assert r1.leaked_bits == r2.leaked_bits and r1.iterations == r2.iterations
    assert np.array_equal(r1.bob_corrected, r2.bob_corrected)
    assert sorted(f1) == sorted(f3) == [0, 1]
    for fi in (0, 1):
        assert all(np.array_equal(u, v) for u, v in zip(f1[fi], f2[fi]))
        # another seed: another permutation, other fillers, another syndrome
        assert all(not np.array_equal(u, v) for u, v in zip(f1[fi], f3[fi]))


def test_leakage_accounting_exact():
    a, b = _pair(10_000, 0.03, 8)
    res = L.reconcile_ldpc(a, b, 0.03, seed=2, frame_bits=10_000, max_rounds=1)
    n = res.code_length
    idx, p0 = L._choose_code(n, 10_000, lambda i: L._code_m(n, i), 0.03,
                             L._f_start(0.03, res.decoder))
    assert res.leaked_bits == L._code_m(n, idx) - p0
    q = np.count_nonzero(a != b) / a.size
    assert math.isclose(res.efficiency, res.leaked_bits / (a.size * L.h2(q)))
    # With reveals the leak grows by exactly the revealed bits.
    res2 = L.reconcile_ldpc(a, b, 0.03, seed=2, frame_bits=10_000, f_start=1.0, step=0.05,
                            max_rounds=30)
    delta = max(1, math.ceil(0.05 * 10_000 * L.h2(0.03)))
    idx2, p02 = L._choose_code(n, 10_000, lambda i: L._code_m(n, i), 0.03, 1.0)
    assert res2.leaked_bits == L._code_m(n, idx2) - p02 + (res2.rounds - 1) * delta
    assert res2.rounds > 1 and res2.frames_failed == 0


def test_minsum_decoder_option():
    a, b = _pair(10_000, 0.03, 4)
    # min-sum is ~0.1-0.2 worse in f on these codes: give it room to converge
    res = L.reconcile_ldpc(a, b, 0.03, seed=1, frame_bits=10_000, decoder="minsum",
                           f_start=1.4, max_rounds=40)
    assert res.decoder == "minsum" and res.undetected_frames == 0
    assert res.frames_failed == 0 and np.array_equal(res.bob_corrected, a)
    with pytest.raises(ValueError, match="decoder"):
        L.reconcile_ldpc(a, b, 0.03, seed=1, decoder="bogus")


def test_failure_is_flagged_not_silent():
    # QBER far above the estimate with a single attempt: must fail and say so.
    a, b = _pair(5000, 0.10, 3)
    res = L.reconcile_ldpc(a, b, 0.01, seed=1, frame_bits=5000, max_rounds=1)
    assert res.frames_failed == 1 and res.frame_failed.tolist() == [True]
    assert res.frame_error_rate == 1.0
    assert np.array_equal(res.bob_corrected, b)


@pytest.mark.parametrize("q", [0.01, 0.02, 0.03, 0.05, 0.08])
def test_efficiency_100k_frames(q):
    # Fixed seeds; one 100 000-bit frame per QBER (FER reported, must be 0).
    a, b = _pair(100_000, q, 77)
    res = L.reconcile_ldpc(a, b, q, seed=3)
    print(f"q={q} f={res.efficiency:.3f} rounds={res.rounds} FER={res.frame_error_rate} "
          f"first-attempt failures={res.first_attempt_failures} iterations={res.iterations}")
    assert res.frames_failed == 0 and np.array_equal(res.bob_corrected, a)
    assert res.frame_error_rate == 0.0 and res.undetected_frames == 0
    assert res.efficiency <= 1.15


# ------------------------------------------------------------ validation

def test_validation_errors():
    a = np.zeros(1000, np.uint8)
    with pytest.raises(ValueError, match="equal lengths"):
        L.reconcile_ldpc(a, a[:-1], 0.02, seed=1)
    with pytest.raises(ValueError, match="alice_bits"):
        L.reconcile_ldpc(np.full(1000, 2), a, 0.02, seed=1)
    with pytest.raises(ValueError, match="bob_bits"):
        L.reconcile_ldpc(a, a.reshape(10, 100), 0.02, seed=1)
    with pytest.raises(ValueError, match=r"qber.*\(0, 0.11\]"):
        L.reconcile_ldpc(a, a, 0.12, seed=1)
    with pytest.raises(ValueError, match="qber"):
        L.reconcile_ldpc(a, a, 0.0, seed=1)
    with pytest.raises(ValueError, match="seed"):
        L.reconcile_ldpc(a, a, 0.02, seed=-1)
    with pytest.raises(ValueError, match="frame_bits"):
        L.reconcile_ldpc(a, a, 0.02, seed=1, frame_bits=10)


# ------------------------------------------------------------ degree-2 cycles

def _girth_at_least(m, edges, g):
    """True when the multigraph on range(m) has no cycle shorter than g
    (breadth-first search to depth g // 2 from every node)."""
    adj = [[] for _ in range(m)]
    for k, (a, b) in enumerate(edges):
        adj[a].append((b, k))
        adj[b].append((a, k))
    for s in range(m):
        dist, via, queue = {s: 0}, {s: -1}, [s]
        for u in queue:
            if dist[u] >= g // 2:
                continue
            for w, k in adj[u]:
                if k == via[u]:
                    continue
                if w in dist:
                    if dist[u] + dist[w] + 1 < g:
                        return False
                else:
                    dist[w], via[w] = dist[u] + 1, k
                    queue.append(w)
    return True


def test_degree2_pairs_keep_cycles_long():
    m = 3000
    chain = np.random.default_rng(1).permutation(m).astype(np.int32)
    pairs, relaxed = core.degree2_pairs(m, chain, 1000, 3, 11, 0, 12, 7)
    edges = list(zip(chain[:-1], chain[1:])) + [tuple(p) for p in pairs]
    assert relaxed == 0 and pairs.shape == (1000, 2)
    assert _girth_at_least(m, edges, 12)
    assert np.bincount(np.array(edges).ravel(), minlength=m).max() <= 6
    # Random placement of the same number of edges has short cycles: the
    # property is not automatic.
    r = np.random.default_rng(2)
    rand = [tuple(r.choice(m, 2, replace=False)) for _ in range(1000)]
    assert not _girth_at_least(m, list(zip(chain[:-1], chain[1:])) + rand, 12)


def test_family_code_degree2_subgraph_has_no_short_cycles():
    # Rate 0.8 at n = 20480: more degree-2 variables than checks; cycles made
    # only of degree-2 variables (codewords of that weight) must be >= 10 long
    # (the target 12 is cut to floor(log(m / 8) / log(mean degree - 1)) + 2
    # = 10 at this size; 12 at 1e5-bit frames).
    code = L.get_code(20480, 6)
    deg = code.var_degree
    rows = np.repeat(np.arange(code.m), np.diff(code.row_ptr))
    two = deg[code.cols] == 2
    order = np.argsort(code.cols[two], kind="stable")
    ends = rows[two][order].reshape(-1, 2)
    assert len(ends) > code.m                      # beyond a staircase
    assert _girth_at_least(code.m, [tuple(e) for e in ends], 10)
