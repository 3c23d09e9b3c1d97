"""SPDC link Monte Carlo against its closed forms (qchannel.theory.entanglement).

Statistical checks: 4 sigma at fixed seeds (counts: Poisson sigma; error
counts: binomial sigma); each test says which sigma."""
import math

import numpy as np
import pytest

from qchannel.theory import entanglement as th
from qchannel.dual_downlink import dual_downlink
from qchannel.links.entangled import (FLAG_ACCIDENTAL, EntangledLinkConfig, EntangledLinkModel,
                                       PairRecord)
from qchannel.jobs.entanglement import run_entanglement
from qchannel.theory.entanglement import expected_rates

SIG = 4.0
Z2 = ([0.0, math.pi / 4], [0.5, 0.5])


def cfg(source=None, channel=None, detector=None):
    s = {"pair_prob": 0.05, "visibility": 0.9}
    s.update(source or {})
    c = {"alice": {"loss_db": 3.0}, "bob": {"loss_db": 6.0}}
    c.update(channel or {})
    d = {"efficiency": 0.8, "dark_count_prob": 2e-4}
    d.update(detector or {})
    return EntangledLinkConfig.from_sections(s, c, d)


@pytest.mark.parametrize("stats", ["thermal", "poisson"])
def test_coincidences_and_accidentals_closed_form(stats):
    c = cfg({"statistics": stats, "pair_prob": 0.1})
    N = 5_000_000
    rec = EntangledLinkModel(c, *Z2, *Z2, N).simulate(21)
    er = expected_rates(c)
    for got, p in ((len(rec), er["coincidence"]),
                   (np.count_nonzero(rec.flags & FLAG_ACCIDENTAL), er["accidental"])):
        assert abs(got - N * p) < SIG * math.sqrt(N * p)


def test_accidentals_textbook_limit():
    # Multimode (Poisson) source: the closed form factorises exactly,
    # P_acc = e^{-x} (1 - D_A e^{-mu eA (1 - eB)}) (1 - D_B e^{-mu eB (1 - eA)}),
    # x = mu eA eB, so P_acc / (P_A P_B) - 1 = -x (1/P_A + 1/P_B - 1) + O(x^2):
    # the textbook S_A S_B tau for eta << 1 (no Monte Carlo: deterministic).
    c = cfg({"statistics": "poisson", "pair_prob": 0.02},
            {"alice": {"loss_db": 30.0}, "bob": {"loss_db": 30.0}})
    er = expected_rates(c)
    mu, eA, eB = 0.02, er["eta_a"], er["eta_b"]
    DA, DB = (1 - er["dark_a"]) ** 2, (1 - er["dark_b"]) ** 2
    x = mu * eA * eB
    assert er["accidental"] == pytest.approx(
        math.exp(-x) * (1 - DA * math.exp(-mu * eA * (1 - eB))) * (1 - DB * math.exp(-mu * eB * (1 - eA))),
        rel=1e-9)
    PA, PB = er["singles_a"], er["singles_b"]
    assert er["accidental"] / (PA * PB) - 1 == pytest.approx(-x * (1 / PA + 1 / PB - 1), rel=0.01)


def test_qber_vs_visibility_and_accidentals():
    V = 0.92
    c = cfg({"visibility": V, "pair_prob": 0.08})
    N = 8_000_000
    rec = EntangledLinkModel(c, [0.0], [1.0], [0.0], [1.0], N).simulate(5)
    q = np.mean(rec.a_bit != rec.b_bit)
    er = expected_rates(c)
    args = (0.08, er["eta_a"], er["eta_b"], er["dark_a"], er["dark_b"], V)
    exact = th.qber(*args)
    assert abs(q - exact) < SIG * math.sqrt(exact * (1 - exact) / len(rec))
    assert exact > (1 - V) / 2
    # (1 - V)/2 plus the accidental term: first order, valid for small pair_prob
    small = (0.002,) + args[1:]
    assert th.qber(*small) == pytest.approx(th.qber_first_order(*small), rel=0.02)


def test_chunk_invariance_and_block_reproducibility():
    c = cfg()
    m = EntangledLinkModel(c, *Z2, *Z2, 3 * (1 << 24) + 1000)
    a = m.simulate(9, chunk_blocks=1)
    b = m.simulate(9, chunk_blocks=2)
    for f in ("slot", "a_set", "b_set", "a_bit", "b_bit", "flags"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    # the first full block does not depend on the run length
    short = EntangledLinkModel(c, *Z2, *Z2, 1 << 24).simulate(9)
    sel = a.slot < (1 << 24)
    assert np.array_equal(short.slot, a.slot[sel]) and np.array_equal(short.b_bit, a.b_bit[sel])


def _dead_time_chain(c, D):
    """Exact per-slot singles and coincidence probabilities with dead time.

    Slots are independent and identically distributed without dead time, so
    the four detectors (A0, A1, B0, B1) with their remaining blind slots
    r_j in {0..D} form a Markov chain: in each slot the click pattern K has the
    closed-form probability ``click_pattern_probs`` (mixed over the setting
    pairs of Z2 x Z2); detector j registers a click iff K_j and r_j == 0, then
    r_j = D, else r_j = max(r_j - 1, 0) (blind for D slots after a click, as
    in the kernel's ``slot - last <= dead``).  Returns the stationary
    (P(click at Alice), P(click at Bob), P(coincidence)) per slot."""
    er = expected_rates(c)
    args = (c.source.pair_prob, er["eta_a"], er["eta_b"], er["dark_a"], er["dark_b"])
    E = th.correlation_table(Z2[0], Z2[0], th.werner_T(c.source.visibility))
    pK = np.mean([th.click_pattern_probs(*args, e, c.source.statistics) for e in E.flat], axis=0)
    n = (D + 1) ** 4
    r = np.stack(np.unravel_index(np.arange(n), (D + 1,) * 4), axis=1)      # r[state, j]
    K = (np.arange(16)[:, None] >> np.arange(4)) & 1                          # K[mask, j]
    reg = K[None, :, :].astype(bool) & (r[:, None, :] == 0)                   # [state, mask, j]
    nxt = np.where(reg, D, np.maximum(r[:, None, :] - 1, 0))
    nxt_idx = np.ravel_multi_index(tuple(np.moveaxis(nxt, 2, 0)), (D + 1,) * 4)
    P = np.zeros((n, n))
    np.add.at(P, (np.repeat(np.arange(n), 16), nxt_idx.ravel()), np.tile(pK, n))
    # stationary pi: pi (P - I) = 0, sum pi = 1
    A = np.vstack([(P - np.eye(n)).T, np.ones(n)])
    pi = np.linalg.lstsq(A, np.append(np.zeros(n), 1.0), rcond=None)[0]
    click_a = reg[..., 0] | reg[..., 1]
    click_b = reg[..., 2] | reg[..., 3]
    w = pi[:, None] * pK[None, :]
    return float((w * click_a).sum()), float((w * click_b).sum()), float((w * (click_a & click_b)).sum())


@pytest.mark.parametrize("dead_time_ns", [0.5, 5.0])
def test_dead_time_singles_and_coincidences_exact(dead_time_ns):
    # 1 GHz: 0.5 ns -> blind for 0 slots (mode 1 without dead time: the plain
    # closed forms), 5 ns -> blind for the 4 slots after a click.  The run
    # crosses a block border (the detector state carries over).
    c = cfg(detector={"dead_time_ns": dead_time_ns}, source={"rep_rate_hz": 1e9, "pair_prob": 0.2})
    D = math.ceil(dead_time_ns - 1e-9) - 1
    N = (1 << 24) + 1_000_000
    m = EntangledLinkModel(c, *Z2, *Z2, N)
    rec = m.simulate(2)
    assert m.mode == 1
    pa, pb, pc = _dead_time_chain(c, D)
    if D == 0:
        er = expected_rates(c)
        assert (pa, pb, pc) == pytest.approx((er["singles_a"], er["singles_b"], er["coincidence"]),
                                             rel=1e-12)
    else:
        # the dead time matters here: >= 5 % fewer coincidences than without it
        assert pc < 0.95 * expected_rates(c)["coincidence"]
    # 4 sigma, Poisson sigma sqrt(N p): dead time makes the counts sub-Poissonian,
    # so this sigma is an upper bound
    for got, p in ((rec.singles[0], pa), (rec.singles[1], pb), (len(rec), pc)):
        assert abs(got - N * p) < SIG * math.sqrt(N * p), (got, N * p)


def test_drift_qber_follows_time():
    tau, bin_s, comp = 2.0, 0.1, 1.0
    c = cfg({"visibility": 1.0, "pair_prob": 0.01, "rep_rate_hz": 1e6},
            {"bob": {"loss_db": 3.0, "drift_time_s": tau, "compensation_interval_s": comp},
             "time_bin_s": bin_s}, {"dark_count_prob": 0.0})
    N = 40_000_000     # 40 s: 400 bins, 40 compensation intervals
    m = EntangledLinkModel(c, [0.0], [1.0], [0.0], [1.0], N)
    rec = m.simulate(8)
    phi = m.last_tables["phi_b"]
    g = rec.slot // m.bin_slots
    err = np.bincount(g, rec.a_bit != rec.b_bit, minlength=m.n_bins)
    tot = np.bincount(g, minlength=m.n_bins)
    # Per bin, given its coincidences, the errors are Binomial(tot, q) with q
    # the exact QBER for correlation cos 2 phi of the bin's drift angle.
    er = expected_rates(c)
    args = (0.01, er["eta_a"], er["eta_b"], er["dark_a"], er["dark_b"])
    q = np.array([th.qber(*args, math.cos(2 * p)) for p in phi])
    var = tot * q * (1 - q)
    # pooled over the 400 bins: a N(0, 1) deviate, 4 sigma
    assert abs((err - tot * q).sum()) < SIG * math.sqrt(var.sum())
    # chi^2 over the bins: mean 400, exact binomial variance
    # sum(2 + (1 - 6 q (1 - q)) / var); 4 sigma either side
    chi2 = ((err - tot * q) ** 2 / var).sum()
    sd_chi2 = math.sqrt((2 + (1 - 6 * q * (1 - q)) / var).sum())
    assert abs(chi2 - m.n_bins) < SIG * sd_chi2, (chi2, sd_chi2)
    # The drift itself, over many compensation intervals (angles only, no
    # Monte Carlo): t = k * bin after a reset, phi ~ N(0, t / tau), so
    # <cos 2 phi> = exp(-2 t / tau) (hence the mean QBER th.drift_qber) with
    # variance (1 + exp(-8 t / tau)) / 2 - exp(-4 t / tau); 4 sigma.
    long = EntangledLinkModel(c, [0.0], [1.0], [0.0], [1.0], 100_000 * m.bin_slots)
    phis = long.drift_angles(8)[1].reshape(-1, 10)          # 10 000 intervals x 10 bins
    assert np.all(phis[:, 0] == 0.0) and np.all(long.drift_angles(8)[0] == 0.0)
    for kk in range(1, 10):
        t = kk * bin_s
        mean_cos = np.cos(2 * phis[:, kk]).mean()
        sd = math.sqrt(((1 + math.exp(-8 * t / tau)) / 2 - math.exp(-4 * t / tau)) / len(phis))
        assert abs(mean_cos - th.drift_mean_cos(t, tau)) < SIG * sd, (kk, mean_cos)
        assert th.drift_qber(t, tau) == pytest.approx((1 - th.drift_mean_cos(t, tau)) / 2)


def test_dual_downlink_series_and_constant_loss():
    sc = {"source": {"pair_prob": 0.02, "visibility": 0.95, "rep_rate_hz": 1e8},
          "detector": {"efficiency": 0.5, "dark_count_prob": 1e-6},
          "protocol": {"type": "bbm92", "chsh_fraction": 0.5}, "run": {"seed": 3}}
    ta = np.array([1e-2, 2e-2, 3e-2])
    r = dual_downlink(sc, ta, ta[::-1], 0.05).to_dict()
    assert len(r["per_bin"]["pair_rate_hz"]) == 3 and r["coincidences"] > 0
    assert r["coincidences"] == pytest.approx(r["coincidences_expected"],
                                              abs=SIG * math.sqrt(r["coincidences_expected"]))
    r2 = dual_downlink(sc, 20.0, 20.0, 0.01).to_dict()
    assert r2["pulses"] == 1_000_000
    with pytest.raises(ValueError, match="differ in length"):
        dual_downlink(sc, ta, ta[:2], 0.01)
    with pytest.raises(ValueError, match="transmittance series"):
        dual_downlink(sc, [2.0], [0.1], 0.01)


@pytest.mark.parametrize("section,key,value,match", [
    ("source", "pair_prob", -0.1, "source.pair_prob"),
    ("source", "visibility", 1.5, "source.visibility"),
    ("source", "statistics", "bose", "source.statistics"),
    ("source", "colour", 1, "source.colour is not a known key"),
    ("channel", "loss_db", -3, "channel.alice.loss_db"),
    ("detector", "efficiency", 0.0, "detector.alice.efficiency"),
    ("detector", "coincidence_window_ns", 0, "detector.coincidence_window_ns"),
    ("protocol", "type", "b92", "protocol.type"),
    ("protocol", "chsh_fraction", 1.0, "protocol.chsh_fraction"),
    ("run", "pulses", 0, "run.pulses"),
    ("postprocess", "eps_sec", 0.0, "postprocess.eps_sec"),
])
def test_bad_inputs(section, key, value, match):
    sc = {"source": {"pair_prob": 0.01}, "channel": {}, "detector": {}, "protocol": {},
          "run": {"pulses": 1000}, "postprocess": {}}
    sc[section][key] = value
    with pytest.raises(ValueError, match=match):
        run_entanglement(sc)


def test_bad_channel_combinations():
    with pytest.raises(ValueError, match="exclusive"):
        EntangledLinkConfig.from_sections({}, {"bob": {"loss_db": 3, "length_km": 2}}, {})
    with pytest.raises(ValueError, match="needs"):
        EntangledLinkConfig.from_sections({}, {"bob": {"compensation_interval_s": 1}}, {})
    with pytest.raises(ValueError, match=r"\[eve\] is not a known section"):
        run_entanglement({"eve": {}, "run": {"pulses": 10}})


# --------------------------------------------------------------------------
# chunks of blocks and speculative dead-time draws (parallel blocks)
# --------------------------------------------------------------------------
def _sequential_kernel(m, seed):
    """The run as one in-order pass of the kernel block by block, the
    detectors' last clicks carried (what the link computed before its
    dead-time chunks were drawn in parallel)."""
    from qchannel._core import entangled as _ent

    ctx = m.prepare(seed)
    t, last, parts = ctx["tables"], np.full(4, -(1 << 62), np.int64), []
    for b in range(m.n_blocks):
        start, n = m.block_range(b)
        parts.append(_ent.run_block(seed, b, start, n, t["seg_start"], t["gap_scale"],
                                    t["n_cdf"], t["side"], ctx["a_cdf"], ctx["b_cdf"], t["corr"],
                                    ctx["mode"], m.eve_fraction, t["corr_ae"], t["corr_eb"],
                                    ctx["dead"][0], ctx["dead"][1], last))
    return [np.concatenate(x) if i < 6 else np.sum(x, axis=0)
            for i, x in enumerate(zip(*parts))]


@pytest.mark.parametrize("dead_time_ns, eve", [(0.0, 0.0), (30.0, 0.0), (400.0, 0.3)])
def test_chunks_and_threads_give_the_sequential_records(dead_time_ns, eve):
    """Any chunking and thread count gives the records of the plain in-order
    kernel, with dead time too (speculative chunks kept or redrawn: both
    happen here) and with Eve."""
    from qchannel.links.base import SerialBackend, ThreadedBackend

    c = cfg(detector={"dead_time_ns": dead_time_ns}, source={"pair_prob": 0.1})
    make = lambda: EntangledLinkModel(c, *Z2, *Z2, 23 * (1 << 16) + 5,   # noqa: E731
                                      eve_fraction=eve)
    m = make()
    m.block_size = 1 << 16             # many small blocks: many chunk borders
    ref = _sequential_kernel(m, 5)
    redrawn = []
    for backend, chunk in ((SerialBackend(), 1), (SerialBackend(), 3), (ThreadedBackend(2), 1),
                           (ThreadedBackend(3), 2), (ThreadedBackend(2), 7)):
        m = make()
        m.block_size = 1 << 16
        m.threads = 2                  # chunks on other threads: speculative draws
        ctx = m.prepare(5)
        rec = PairRecord.concatenate(r for _, _, r in backend.run(m, ctx, m.n_blocks, chunk))
        got = [rec.slot, rec.a_set, rec.b_set, rec.a_bit, rec.b_bit, rec.flags, rec.singles]
        assert all(np.array_equal(x, y) for x, y in zip(got, ref))
        redrawn.append(ctx["redrawn"])
    assert len(ref[0]) > 1000
    if dead_time_ns == 0.0:
        assert redrawn == [0] * 5
    if dead_time_ns == 400.0:   # 39 blind slots (100 MHz): some chunks redrawn, not all
        assert 0 < redrawn[0] < m.n_blocks and 0 < redrawn[1] < m.n_blocks


@pytest.mark.parametrize("threads, dead_time_ns", [(1, 400.0), (2, 4000.0)])
def test_dead_time_chunks_in_order_where_speculation_does_not_pay(threads, dead_time_ns):
    """One thread draws every chunk in order (nothing to redraw); with a dead
    time long against the click rate most speculative chunks would be
    redrawn, so speculation stops after a few.  Same records either way."""
    c = cfg(detector={"dead_time_ns": dead_time_ns}, source={"pair_prob": 0.1})
    m = EntangledLinkModel(c, *Z2, *Z2, 23 * (1 << 16) + 5)
    m.block_size = 1 << 16
    ref = _sequential_kernel(m, 5)
    m.threads = threads
    ctx = m.prepare(5)
    rec = PairRecord.concatenate(r for _, _, r in m.run_backend().run(m, ctx, m.n_blocks, 1))
    got = [rec.slot, rec.a_set, rec.b_set, rec.a_bit, rec.b_bit, rec.flags, rec.singles]
    assert all(np.array_equal(x, y) for x, y in zip(got, ref))
    assert not ctx["speculate"] and ctx["carried"] == m.n_blocks
    if threads == 1:
        assert ctx["redrawn"] == 0
    else:
        assert 4 <= ctx["redrawn"] < m.n_blocks


def test_chunk_hint_groups_cheap_blocks():
    far = EntangledLinkModel(cfg(channel={"alice": {"loss_db": 30.0}, "bob": {"loss_db": 30.0}}),
                             *Z2, *Z2, 10**9)
    near = EntangledLinkModel(cfg(), *Z2, *Z2, 10**9)
    assert far.chunk_hint(far.prepare(1)) > 1
    assert near.chunk_hint(near.prepare(1)) == 1


def test_run_blocks_checks_its_arguments():
    from qchannel._core import entangled as _ent

    m = EntangledLinkModel(cfg(detector={"dead_time_ns": 5.0}), *Z2, *Z2, 3 * (1 << 16))
    m.block_size = 1 << 16
    ctx = m.prepare(1)
    t = ctx["tables"]
    never = lambda: np.full(4, -(1 << 62), np.int64)  # noqa: E731

    def call(**over):
        a = dict(seed=1, block=0, n_blocks=3, block_size=1 << 16, total_slots=m.pulses,
                 last_click=never(), first_click=never(), expected_per_slot=0.0)
        a.update(over)
        return _ent.run_blocks(a["seed"], a["block"], a["n_blocks"], a["block_size"],
                               a["total_slots"], t["seg_start"], t["gap_scale"], t["n_cdf"],
                               t["side"], ctx["a_cdf"], ctx["b_cdf"], t["corr"], 1, 0.0,
                               t["corr_ae"], t["corr_eb"], 5, 5, a["last_click"],
                               a["first_click"], a["expected_per_slot"])
    assert len(call()[0]) > 0
    for over, name in (({"n_blocks": 4}, "total_slots"), ({"n_blocks": 0}, "n_blocks"),
                       ({"block_size": 0}, "block_size"),
                       ({"last_click": np.zeros(3, np.int64)}, "last_click"),
                       ({"last_click": np.full(4, 1 << 20, np.int64), "block": 1, "n_blocks": 2}, "last_click"),
                       ({"first_click": np.zeros(5, np.int64)}, "first_click"),
                       ({"expected_per_slot": 2.0}, "expected_per_slot")):
        with pytest.raises(ValueError, match=name):
            call(**over)
