"""Job ``tf-qkd``: twin-field QKD through an untrusted relay, ``variant =
"sns"`` (sending-or-not-sending, Wang, Yu, Hu PRA 98, 062323 (2018)),
``"sns-aopp"`` (SNS with actively odd-parity pairing of the Z-window bits,
Xu, Yu, Jiang, Hu, Wang PRA 101, 042330 (2020); :func:`aopp_pairing`) or
``"pm"`` (phase-matching, Ma, Zeng, Zhou PRX 8, 031043 (2018);
:func:`simulate_pm`, asymptotic only).

Schema (all keys optional)::

    [protocol] type = "tf-qkd", variant = "sns" | "sns-aopp" | "pm", finite_key
               (default true; false and required false for "pm")
    [source]   mu_z, send_prob (eps), z_window_prob, decoy_intensities
               = [mu_1, mu_2], decoy_probs = [p_0, p_1, p_2] (X window),
               phase_slice_rad (Delta: accepted |phase difference| window),
               rep_rate_hz
    [channel]  length_km (total, Charlie midway) or [channel.alice] /
               [channel.bob]; attenuation_db_per_km, visibility (mode
               overlap^2), laser_linewidth_hz (each laser),
               fiber_drift_rad2_per_s_km (phase diffusion of the fibers per
               km), tracking_period_s, tracking_error_rad
    [detector] efficiency, dark_count_prob
    [run]      pulses, seed, threads (the Monte Carlo's, see :class:`TfLink`, and the
               post-processing's; the same results for any)
    [postprocess] eps_sec, eps_cor, f_ec, ec

The relative phase at the relay drifts as a random walk of diffusion
D = 2 pi (2 laser_linewidth_hz) + fiber_drift_rad2_per_s_km * length [rad^2/s];
a phase reference every tracking_period_s resets it to an estimate with
error tracking_error_rad.  Run: :class:`TfLink` (:func:`qchannel._core.mdi.tf_blocks`
chunk by chunk; the phase walk runs on across blocks, so chunks are carried in
order, drawn ahead on other threads where clicks are sparse); key from
the Z window (effective events: exactly one click), decoy estimate of s1 and
e1_ph from the X window (:func:`qchannel.theory.twin_field.decoy_bounds`).
The key length is a finite key (:func:`finite_key`, the literature's bounds in
:func:`qchannel.theory.twin_field.finite_key`) or, with ``[protocol]
finite_key = false``, the asymptotic bounds on the observed counts; both
with the real leakage when ``ec`` runs (with AOPP: EC and PA on the kept bits).

[XYJ20] H. Xu, Z.-W. Yu, C. Jiang, X.-L. Hu, X.-B. Wang, PRA 101, 042330 (2020).
"""
import math
from types import SimpleNamespace

import numpy as np

from qchannel.jobs import Job, register
from qchannel.jobs.mdi import (RelayScenario, _fmt, arm_etas, chunk_blocks, click_probability,
                               finish_key, kernel_capacity, link_progress, parse_channel,
                               parse_detector, parse_run, refuse_sifted, report_key_lines, tiny)
from qchannel.links.base import Link
from qchannel.params import (check_choice, check_distribution, check_prob, check_real,
                             check_real_list, check_table, reject_unknown)
from qchannel.scenario import PostprocessConfig

BLOCK_SLOTS = 1 << 22    # slots per kernel call: bounds the memory of one block
VARIANTS = ("sns", "sns-aopp", "pm")
AOPP_BIT_BYTES = 48
AOPP_BLOCK = (1 << 32) - 1    # Philox blocks of the pairing permutations (and the one below)
# classes of each sender: Z send, Z not-send, X vacuum, X mu_1, X mu_2
Z_SEND, Z_NOT, X_0, X_1, X_2 = range(5)


class TFScenario(RelayScenario):
    job = "tf-qkd"

    @classmethod
    def parse(cls, tables):
        proto = check_table("protocol", tables["protocol"])
        check_choice("protocol.type", proto.get("type"), (cls.job,))
        reject_unknown("protocol", proto, ("type", "variant", "finite_key"))
        variant = check_choice("protocol.variant", proto.get("variant", "sns"), VARIANTS) \
            or proto.get("variant", "sns")
        finite = proto.get("finite_key", variant != "pm")
        if not isinstance(finite, bool):
            raise ValueError(f"protocol.finite_key = {finite!r} must be true or false")
        if variant == "pm" and finite:
            raise ValueError("protocol.finite_key = true: variant 'pm' has the asymptotic "
                             "bounds only (on the observed counts); set it to false")
        src = check_table("source", tables.get("source", {}))
        reject_unknown("source", src, ("mu_z", "send_prob", "z_window_prob", "decoy_intensities",
                                       "decoy_probs", "phase_slice_rad", "rep_rate_hz"))
        mu_z = check_real("source.mu_z", src.get("mu_z", 0.4), 0.0, 10.0, lo_open=True)
        eps = check_prob("source.send_prob", src.get("send_prob", 0.05), True, True)
        pz = check_prob("source.z_window_prob", src.get("z_window_prob", 0.7), True, True)
        dec = check_real_list("source.decoy_intensities", src.get("decoy_intensities",
                                                                  [0.1, 0.4]), 0.0, 10.0, 2, 2)
        if not 0.0 < dec[0] < dec[1]:
            raise ValueError(f"source.decoy_intensities = {list(dec)} must be [mu_1, mu_2] "
                             f"with 0 < mu_1 < mu_2")
        dprobs = check_distribution("source.decoy_probs", src.get("decoy_probs",
                                                                  [0.2, 0.5, 0.3]), 3,
                                    "[0] + source.decoy_intensities")
        if min(dprobs) <= 0.0:
            raise ValueError(f"source.decoy_probs = {list(dprobs)}: every X-window intensity "
                             f"needs a probability > 0")
        delta = check_real("source.phase_slice_rad", src.get("phase_slice_rad", math.pi / 8),
                           0.0, math.pi, lo_open=True)
        rate = check_real("source.rep_rate_hz", src.get("rep_rate_hz", 1e9), 1.0, 1e12)
        ch = parse_channel(tables.get("channel", {}), {
            "visibility": (1.0, lambda n, v: check_prob(n, v)),
            "laser_linewidth_hz": (0.0, lambda n, v: check_real(n, v, 0.0, 1e9)),
            "fiber_drift_rad2_per_s_km": (0.0, lambda n, v: check_real(n, v, 0.0, 1e9)),
            "tracking_period_s": (1e-3, lambda n, v: check_real(n, v, 0.0, 1e3, lo_open=True)),
            "tracking_error_rad": (0.0, lambda n, v: check_real(n, v, 0.0, 10.0))})
        det = parse_detector(tables.get("detector", {}))
        pulses, seed, threads = parse_run(tables.get("run", {}), 10**9)
        post = PostprocessConfig.from_dict(check_table("postprocess",
                                                       tables.get("postprocess", {})))
        if post.ldpc_decoder != "auto" and post.ec != "ldpc":
            raise ValueError(f"postprocess.ldpc_decoder = {post.ldpc_decoder!r} applies to "
                             f"postprocess.ec = 'ldpc' only, not {post.ec!r}")
        track_slots = max(1, int(round(ch.tracking_period_s * rate)))
        diffusion = (2 * math.pi * 2 * ch.laser_linewidth_hz
                     + ch.fiber_drift_rad2_per_s_km * (ch.length_a_km + ch.length_b_km))
        if diffusion / rate > 100.0:
            raise ValueError(f"the phase drift of channel.laser_linewidth_hz and "
                             f"channel.fiber_drift_rad2_per_s_km is {diffusion / rate:.3g} rad^2 "
                             f"per pulse at source.rep_rate_hz = {rate:g}: must be <= 100 "
                             f"(beyond that the phase is uniformly random)")
        return SimpleNamespace(finite_key=finite, variant=variant, mu_z=mu_z, eps=eps, pz=pz,
                               decoys=dec,
                               dprobs=dprobs, delta=delta, rep_rate_hz=rate, channel=ch,
                               detector=det, pulses=pulses, seed=seed, threads=threads,
                               postprocess=post,
                               track_slots=track_slots, walk_var=diffusion / rate,
                               track_var=ch.tracking_error_rad ** 2)



def _classes(c):
    mu = np.array([c.mu_z, 0.0, 0.0, c.decoys[0], c.decoys[1]])
    px = 1.0 - c.pz
    prob = np.array([c.pz * c.eps, c.pz * (1 - c.eps), px * c.dprobs[0], px * c.dprobs[1],
                     px * c.dprobs[2]])
    return mu, prob


class TfLink(Link):
    """The twin-field two-sender link on the link contract: fixed blocks of
    BLOCK_SLOTS slots, block b from Philox stream (seed, TF, b).  The phase
    walk runs on from event to event, across blocks, so a chunk's events
    depend on the state the chunks before it leave: the residual phase at
    the last event and its slot.  They depend on it only through the chunk's
    first event, and only if the last event before it lies in the same
    tracking period; otherwise that event starts from a fresh reference and
    draws the same numbers whatever came before.

    So with more than one thread, and where few events share a tracking
    period (``p_click * track_slots < 1``: long distances, where runs are
    long), each chunk is drawn on any thread as if its first event started a
    period (``draw_chunk``); ``carry_chunk``, in order, keeps that draw when
    the true state confirms it and otherwise draws the chunk again from the
    true state.  The records are those of the sequential run in every case.
    A record is ``(b0, per-block event counts, data, phase, per-block
    no-click counts)`` of a chunk of blocks [b0, b1)."""

    block_size = BLOCK_SLOTS

    def __init__(self, c, mu, prob):
        self.c, self.mu, self.prob = c, mu, prob
        self.pulses = int(c.pulses)
        self.threads = c.threads

    def prepare(self, seed):
        eta_a, eta_b = arm_etas(self.c)
        pd = self.c.detector.dark_count_prob
        p_click = click_probability(self.mu, self.prob, eta_a, eta_b, pd, 2)
        speculate = self.draws_ahead() and p_click * self.c.track_slots < 1.0
        return SimpleNamespace(seed=seed, eta_a=eta_a, eta_b=eta_b, pd=pd, p_click=p_click,
                               walk_state=np.zeros(1), walk_slot=np.full(1, -1, np.int64),
                               speculate=speculate, redrawn=0)

    def chunk_hint(self, ctx):
        return chunk_blocks(ctx.p_click, self.block_size)

    def _kernel(self, ctx, b0, b1, walk_state, walk_slot):
        from qchannel._core import mdi as kernel

        c = self.c
        n = min(b1 * self.block_size, self.pulses) - b0 * self.block_size
        cap = kernel_capacity(n, ctx.p_click)
        while True:
            out = kernel.tf_blocks(
                ctx.seed, b0, b1, self.pulses, self.block_size, self.mu, self.prob, self.mu,
                self.prob, ctx.eta_a, ctx.eta_b, ctx.pd, c.channel.visibility, c.walk_var,
                c.track_slots, c.track_var, walk_state, walk_slot, cap)
            if out[0]:
                return out[1:]
            cap *= 2

    def draw_chunk(self, ctx, b0, b1):
        if not ctx.speculate:
            return None
        state, last = np.zeros(1), np.full(1, -1, np.int64)    # a fresh start
        return self._kernel(ctx, b0, b1, state, last), state, last

    def carry_chunk(self, ctx, b0, b1, drawn):
        if drawn is not None:
            (counts, slot, data, phase, noclick), state, last = drawn
            if not len(slot):                   # no event: the state passes through
                return b0, counts, data, phase, noclick
            first = int(slot[0])
            if ctx.walk_slot[0] < first - first % self.c.track_slots:
                ctx.walk_state[:], ctx.walk_slot[:] = state, last
                return b0, counts, data, phase, noclick
            ctx.redrawn += 1                    # the walk runs on into this chunk
        counts, slot, data, phase, noclick = self._kernel(ctx, b0, b1, ctx.walk_state,
                                                          ctx.walk_slot)
        return b0, counts, data, phase, noclick

    @staticmethod
    def concatenate(records):
        return (records[0][0], *(np.concatenate([r[i] for r in records]) for i in range(1, 5)))


def simulate(c, keep_bits=False, progress=None):
    """Counts: sent and effective events per class pair, Z errors, and the
    phase-selected mu_1 pairs (kept, errors); sifted Z bits if asked."""
    from qchannel import rng

    mu, prob = _classes(c)
    nc = len(mu)
    sent = np.zeros((nc, nc), np.int64)
    eff = np.zeros((nc, nc), np.int64)
    z_err = 0
    sel_pairs = sel_err = 0
    detections = 0
    bits_a, bits_b = [], []
    half = c.delta / 2.0
    link = TfLink(c, mu, prob)
    for b0, counts, data, phase, noclick in link.blocks(c.seed, progress=link_progress(progress)):
        ka, kb = data[:, 0].astype(np.int64), data[:, 1].astype(np.int64)
        pair = ka * nc + kb
        sent += (noclick.sum(axis=0) + np.bincount(pair, minlength=nc * nc)).reshape(nc, nc)
        detections += len(data)
        pat = data[:, 2]
        one = (pat == 1) | (pat == 2)
        eff += np.bincount(pair[one], minlength=nc * nc).reshape(nc, nc)
        zz = one & (ka <= Z_NOT) & (kb <= Z_NOT)
        bit_a = (ka == Z_SEND).astype(np.uint8)
        bit_b = (kb == Z_NOT).astype(np.uint8)       # Bob: not sending is bit 1
        z_err += int(np.count_nonzero(zz & (bit_a != bit_b)))
        if keep_bits:
            bits_a.append(bit_a[zz])
            bits_b.append(bit_b[zz])
        # X window: mu_1 pairs whose announced phases differ by ~0 or ~pi
        x11 = (ka == X_1) & (kb == X_1)
        diff = np.mod(phase[:, 0] - phase[:, 1], 2 * np.pi)
        near0 = x11 & ((diff < half) | (diff > 2 * np.pi - half))
        nearpi = x11 & (np.abs(diff - np.pi) < half)
        sel_pairs += int(np.count_nonzero(near0 | nearpi))
        sel_err += int(np.count_nonzero(near0 & (pat == 2)) + np.count_nonzero(nearpi
                                                                                 & (pat == 1)))
        # the mu_1 pairs without a click fall in the selection with P = Delta / pi
        # (their phases are uniform and independent of "no click"): one draw per
        # block, from stream 2^31 + block
        blocks = (1 << 31) + b0 + np.arange(len(noclick))
        sel_pairs += int(rng.binomial_firsts(c.seed, rng.Purpose.TWIN_FIELD, blocks,
                                             noclick[:, X_1 * nc + X_1], c.delta / math.pi).sum())
    cat = (lambda p: np.concatenate(p) if p else np.empty(0, np.uint8))
    return SimpleNamespace(sent=sent, eff=eff, z_err=z_err, sel_pairs=sel_pairs,
                           sel_err=sel_err, detections=detections, keep_bits=keep_bits,
                           bits_a=cat(bits_a),
                           bits_b=cat(bits_b))


def _observed(c, sim):
    def gain(ia, ib):
        ia, ib = list(ia), list(ib)
        n = sim.sent[np.ix_(ia, ib)].sum()
        return sim.eff[np.ix_(ia, ib)].sum() / n if n else 0.0
    vac = (Z_NOT, X_0)
    zwin = (Z_SEND, Z_NOT)
    n_z = sim.sent[np.ix_(zwin, zwin)].sum()
    s_z = sim.eff[np.ix_(zwin, zwin)].sum() / n_z if n_z else 0.0
    e_z = sim.z_err / sim.eff[np.ix_(zwin, zwin)].sum() if s_z > 0 else None
    return SimpleNamespace(s00=gain(vac, vac), s1=gain([X_1], [X_1]), s2=gain([X_2], [X_2]),
                           t=sim.sel_err / sim.sel_pairs if sim.sel_pairs else 0.0,
                           n_z=int(n_z), s_z=s_z, e_z=e_z)


def counts_of(c, sim):
    """The counts the finite key needs (:func:`qchannel.theory.twin_field.finite_key`)
    from the Monte Carlo's tables; with AOPP also Bob's bit-0/bit-1 events."""
    def tot(table, ia, ib):
        return int(table[np.ix_(list(ia), list(ib))].sum())
    vac = (Z_NOT, X_0)
    d = {"N_z": tot(sim.sent, (Z_SEND, Z_NOT), (Z_SEND, Z_NOT)),
         "N_00": tot(sim.sent, vac, vac), "n_00": tot(sim.eff, vac, vac),
         "N_11": tot(sim.sent, [X_1], [X_1]), "n_11": tot(sim.eff, [X_1], [X_1]),
         "N_22": tot(sim.sent, [X_2], [X_2]), "n_22": tot(sim.eff, [X_2], [X_2]),
         "M_sel": int(sim.sel_pairs), "m_err": int(sim.sel_err)}
    for i, k in ((1, X_1), (2, X_2)):          # one sender only (AOPP's s10, s01)
        d[f"N_10_{i}"], d[f"n_10_{i}"] = tot(sim.sent, [k], [X_0]), tot(sim.eff, [k], [X_0])
        d[f"N_01_{i}"], d[f"n_01_{i}"] = tot(sim.sent, [X_0], [k]), tot(sim.eff, [X_0], [k])
    if getattr(sim, "aopp", None) is not None:
        d.update({k: sim.aopp[k] for k in ("n_b0", "err_b0", "n_b1", "err_b1", "n_g")})
    return d


def finite_key(c, counts, leak_bits):
    """Finite key of the scenario's variant from ``counts`` (observed, or
    expected for the twin): :func:`qchannel.theory.twin_field.finite_key`."""
    from qchannel.theory import twin_field as th

    pp = c.postprocess
    return th.finite_key(counts, c.mu_z, c.eps, c.decoys[0], c.decoys[1], pp.eps_sec,
                         pp.eps_cor, leak_bits, aopp=c.variant == "sns-aopp")


def aopp_pairing(c, bits_a, bits_b):
    """Actively odd-parity pairing on the real Z-window bits [XYJ20]: Bob
    pairs each of n_g = min(#0, #1) of his bit-0 events with one of his
    bit-1 events at random (Philox permutations) and announces the pairs;
    Alice announces each pair's parity; odd pairs survive and both keep the
    bit of the earlier slot (so the announced pairs reveal nothing of it).
    Returns (kept Alice bits, kept Bob bits, stats dict)."""
    from qchannel import rng

    i0, i1 = np.flatnonzero(bits_b == 0), np.flatnonzero(bits_b == 1)
    n_g = min(len(i0), len(i1))
    p0 = i0[rng.permutation(c.seed, rng.Purpose.TWIN_FIELD, AOPP_BLOCK, len(i0))[:n_g]]
    p1 = i1[rng.permutation(c.seed, rng.Purpose.TWIN_FIELD, AOPP_BLOCK - 1, len(i1))[:n_g]]
    odd = (bits_a[p0] ^ bits_a[p1]) == 1
    first = np.minimum(p0, p1)[odd]
    ka, kb = bits_a[first], bits_b[first]
    stats = {"n_b0": int(len(i0)), "err_b0": int(np.count_nonzero(bits_a[i0] != 0)),
             "n_b1": int(len(i1)), "err_b1": int(np.count_nonzero(bits_a[i1] != 1)),
             "n_g": int(n_g), "survived": int(len(first)),
             "errors": int(np.count_nonzero(ka != kb))}
    return ka, kb, stats


# PM classes of each sender: signal (key), vacuum, decoy mu_1, decoy mu_2
PM_S, PM_V, PM_1, PM_2 = range(4)


def _pm_classes(c):
    px = 1.0 - c.pz
    return (np.array([c.mu_z, 0.0, c.decoys[0], c.decoys[1]]),
            np.array([c.pz, px * c.dprobs[0], px * c.dprobs[1], px * c.dprobs[2]]))


def simulate_pm(c, keep_bits=False, progress=None):
    """Phase-matching QKD [MZZ18] on the same kernel: each pulse's uniform
    phase theta is the key bit floor(theta/pi) plus a random phase theta mod
    pi; pairs of equal intensity whose random phases agree within
    phase_slice_rad/2 (circularly, modulo pi) are matched (Bob flips his bit
    when they match across the wrap 0 = pi, where the relative phase is pi).  Counts: matched
    pairs sent and effective events per intensity (the slots without a click
    are matched with probability Delta/pi, one binomial draw), the signal's
    bit errors (Bob flips on detector d), vacuum pairs; the key bits."""
    from qchannel import rng

    mu, prob = _pm_classes(c)
    nc = len(mu)
    sel_sent, sel_eff = np.zeros(nc, np.int64), np.zeros(nc, np.int64)
    vac_sent = vac_eff = err = detections = 0
    bits_a, bits_b = [], []
    link = TfLink(c, mu, prob)
    for b0, counts, data, phase, noclick in link.blocks(c.seed, progress=link_progress(progress)):
        ka, kb = data[:, 0].astype(np.int64), data[:, 1].astype(np.int64)
        pat = data[:, 2]
        one = (pat == 1) | (pat == 2)
        detections += len(data)
        gap = np.abs(np.mod(phase[:, 0], np.pi) - np.mod(phase[:, 1], np.pi))
        matched = (ka == kb) & (np.minimum(gap, np.pi - gap) < c.delta / 2.0)
        wrap = (gap > np.pi / 2).astype(np.uint8)   # matched across 0 = pi: Bob flips too
        for k in range(nc):
            mk = matched & (ka == k)
            # the unclicked pairs of class k matched with P = Delta / pi: stream
            # 2^31 + nc block + k
            blocks = (1 << 31) + nc * (b0 + np.arange(len(noclick))) + k
            sel_sent[k] += int(np.count_nonzero(mk)) + int(rng.binomial_firsts(
                c.seed, rng.Purpose.TWIN_FIELD, blocks, noclick[:, k * nc + k],
                c.delta / math.pi).sum())
            sel_eff[k] += int(np.count_nonzero(mk & one))
        vac = (ka == PM_V) & (kb == PM_V)
        vac_sent += int(noclick[:, PM_V * nc + PM_V].sum()) + int(np.count_nonzero(vac))
        vac_eff += int(np.count_nonzero(vac & one))
        key = matched & one & (ka == PM_S)
        bit_a = (phase[:, 0] >= np.pi).astype(np.uint8)
        bit_b = (phase[:, 1] >= np.pi).astype(np.uint8) ^ (pat == 2).astype(np.uint8) ^ wrap
        err += int(np.count_nonzero(key & (bit_a != bit_b)))
        if keep_bits:
            bits_a.append(bit_a[key])
            bits_b.append(bit_b[key])
    cat = (lambda p: np.concatenate(p) if p else np.empty(0, np.uint8))
    return SimpleNamespace(sel_sent=sel_sent, sel_eff=sel_eff, vac_sent=vac_sent,
                           vac_eff=vac_eff, err=err, detections=detections,
                           bits_a=cat(bits_a), bits_b=cat(bits_b))


def run_pm(scenario, progress=None, keys_out=None):
    """PM-QKD: the asymptotic key [MZZ18] on the observed counts (Y1 from the
    matched decoy pairs, :func:`qchannel.theory.twin_field.decoy_bounds`),
    with real EC/PA of the matched signal bits when ``ec`` runs."""
    from qchannel.theory import twin_field as th
    from qchannel.theory.bounds import plob_bound
    from qchannel.theory.common import h2

    c = scenario.config
    pp = c.postprocess
    sim = simulate_pm(c, keep_bits=pp.ec != "estimate" or keys_out is not None,
                      progress=progress)
    gain = (lambda k: sim.sel_eff[k] / sim.sel_sent[k] if sim.sel_sent[k] else 0.0)
    s00 = sim.vac_eff / sim.vac_sent if sim.vac_sent else 0.0
    y1 = th.decoy_bounds(s00, gain(PM_1), gain(PM_2), 0.0, *c.decoys)[0]
    n_key = int(sim.sel_eff[PM_S])
    q = gain(PM_S)
    e = sim.err / n_key if n_key else 0.5
    n_ss = c.pulses * c.pz ** 2
    rate = c.pz ** 2 * th.key_rate_pm(c.mu_z, y1, q, e, sim.sel_sent[PM_S] / n_ss, pp.f_ec)
    q1 = min(2 * c.mu_z * math.exp(-2 * c.mu_z) * y1 / q, 1.0) if q > 0 else 0.0
    e_ph = min(1.0 - q1, 0.5)
    d = {"protocol": "tf-qkd", "variant": "pm", "seed": c.seed, "pulses": c.pulses,
         "duration_s": c.pulses / c.rep_rate_hz, "detections": int(sim.detections),
         "matched_pairs": int(sim.sel_sent[PM_S]), "sifted_bits": n_key, "qber_z": e,
         "y1_lower": y1, "q1_lower": q1, "phase_error_upper": e_ph,
         "gains": {"Q_mu": q, "S_00": s00, "Q_1": gain(PM_1), "Q_2": gain(PM_2)},
         "key_rate_per_pulse": rate,
         "plob_per_pulse": float(plob_bound(c.channel.eta_a * c.channel.eta_b))}
    leak_est = math.ceil(pp.f_ec * n_key * h2(e)) if n_key else 0

    def length(leak):
        return max(0, math.floor(n_key * (1 - h2(e_ph)) - leak - math.log2(2 / pp.eps_cor)))

    key_bits = length(leak_est)
    d["ec"] = {"method": "estimate", "leaked_bits": leak_est}
    aborted, reason = key_bits == 0, ("" if key_bits else "the key length is zero")
    return finish_key(d, c, sim.bits_a, sim.bits_b, e, length, key_bits, aborted, reason,
                      keys_out)


def theory_pm(c):
    """PM-QKD closed forms: matched signal gain and QBER (:func:`pm_gains`),
    Y1 exact (one photon in either arm) and from the matched decoy gains."""
    from qchannel.theory import twin_field as th
    from qchannel.theory.bounds import plob_bound

    eta_a, eta_b = arm_etas(c)
    pd, V = c.detector.dark_count_prob, c.channel.visibility
    nodes = th.residual_nodes(c.track_slots, c.walk_var, c.track_var)
    q, e = th.pm_gains(c.mu_z, eta_a, eta_b, pd, V, c.delta, nodes)
    q1g, q2g = (th.pm_gains(m, eta_a, eta_b, pd, V, c.delta, nodes)[0] for m in c.decoys)
    s00 = th.pair_gain(0.0, 0.0, eta_a, eta_b, pd, V)
    y1 = th.single_photon(eta_a, eta_b, pd, V, c.delta, 1.0)[0]
    y1l = th.decoy_bounds(s00, q1g, q2g, 0.0, *c.decoys)[0]
    f, pzz, match = c.postprocess.f_ec, c.pz ** 2, c.delta / math.pi
    r_inf = pzz * th.key_rate_pm(c.mu_z, y1, q, e, match, f)
    return {"model": "exact coherent-state clicks; Ma-Zeng-Zhou 2018 key rate (PM-QKD)",
            "variant": "pm", "eta_a": eta_a, "eta_b": eta_b,
            "transmittance": c.channel.eta_a * c.channel.eta_b, "qber_z": e, "y1": y1,
            "y1_lower": y1l, "gains": {"Q_mu": q, "S_00": s00, "Q_1": q1g, "Q_2": q2g},
            "matched_per_pulse": pzz * match,
            "key_rate_per_pulse": r_inf,
            "key_rate_per_pulse_decoy": pzz * th.key_rate_pm(c.mu_z, y1l, q, e, match, f),
            "secret_key_rate_bps": r_inf * c.rep_rate_hz,
            "plob_per_pulse": float(plob_bound(c.channel.eta_a * c.channel.eta_b))}


def run(scenario, progress=None, keys_out=None):
    from qchannel.theory import twin_field as th
    from qchannel.theory.bounds import plob_bound
    from qchannel.theory.common import h2

    c = scenario.config
    if c.variant == "pm":
        return run_pm(scenario, progress, keys_out)
    pp = c.postprocess
    aopp = c.variant == "sns-aopp"
    sim = simulate(c, keep_bits=aopp or pp.ec != "estimate" or keys_out is not None,
                   progress=progress)
    o = _observed(c, sim)
    s1, e1 = th.decoy_bounds(o.s00, o.s1, o.s2, o.t, c.decoys[0], c.decoys[1])
    e_z = o.e_z if o.e_z is not None else 0.5
    n1 = o.n_z * 2 * c.eps * (1 - c.eps) * c.mu_z * math.exp(-c.mu_z) * s1
    sifted = len(sim.bits_a) if sim.keep_bits else int(sim.eff[:2, :2].sum())
    key_a, key_b, qber = sim.bits_a, sim.bits_b, e_z
    sim.aopp = None
    if aopp:
        key_a, key_b, st = aopp_pairing(c, sim.bits_a, sim.bits_b)
        sim.aopp = st
        qber = st["errors"] / st["survived"] if st["survived"] else 0.5
        cn = counts_of(c, sim)
        g = {k: cn["n_" + k] / cn["N_" + k] if cn["N_" + k] else 0.0
             for k in ("10_1", "10_2", "01_1", "01_2")}
        s10, s01 = th.one_side_bounds(o.s00, g["10_1"], g["10_2"], g["01_1"], g["01_2"],
                                      c.decoys[0], c.decoys[1])
        one = o.n_z * c.eps * (1 - c.eps) * c.mu_z * math.exp(-c.mu_z)
        n1p = th.aopp_counts(st["n_b0"], st["err_b0"], st["n_b1"], st["err_b1"], one * s10,
                             one * s01)[3]
        e1p = th.aopp_phase_error(e1)
        n_key, phase = n1p, e1p
        rate = max(n1p * (1 - h2(e1p)) - pp.f_ec * st["survived"] * h2(qber), 0.0) / c.pulses
    else:
        n_key, phase = n1, e1
        rate = th.key_rate(c.mu_z, c.eps, s1, e1, o.s_z, e_z, pp.f_ec) * o.n_z / c.pulses
    d = {"protocol": "tf-qkd", "variant": c.variant, "seed": c.seed, "pulses": c.pulses,
         "duration_s": c.pulses / c.rep_rate_hz, "detections": int(sim.detections),
         "sifted_bits": sifted, "qber_z": o.e_z,
         "phase_selected_pairs": int(sim.sel_pairs), "phase_error_x": o.t,
         "s1_lower": s1, "e1_ph_upper": e1, "untagged_bits": n1,
         "gains": {"S_Z": o.s_z, "S_00": o.s00, "S_1": o.s1, "S_2": o.s2, "T": o.t},
         "key_rate_per_pulse": rate,
         "plob_per_pulse": float(plob_bound(c.channel.eta_a * c.channel.eta_b))}
    if aopp:
        d["aopp"] = {"pairs": sim.aopp["n_g"], "survived_bits": sim.aopp["survived"],
                     "qber": qber if st["survived"] else None,
                     "s10_lower": s10, "s01_lower": s01,
                     "untagged_pairs": float(n1p), "phase_error_upper": e1p}
    n_bits = len(key_a) if aopp else sifted
    leak_est = math.ceil(pp.f_ec * n_bits * h2(qber)) if n_bits else 0
    counts = counts_of(c, sim)

    def length(leak):
        if c.finite_key:
            return finite_key(c, counts, leak)["key_length"]
        return max(0, math.floor(n_key * (1 - h2(phase)) - leak - math.log2(2 / pp.eps_cor)))

    d["finite_key"] = finite_key(c, counts, leak_est)
    key_bits = length(leak_est)
    d["ec"] = {"method": "estimate", "leaked_bits": leak_est}
    aborted, reason = key_bits == 0, ("" if key_bits else "the key length is zero")
    return finish_key(d, c, key_a, key_b, qber, length, key_bits, aborted, reason, keys_out)


def expected_counts(c, th_d):
    """The counts of :func:`counts_of` as expectations (the analytic twin's
    input to the finite key); ``th_d``: the gains of :func:`theory`."""
    n, pz, px = c.pulses, c.pz, 1 - c.pz
    g = th_d["gains"]
    n_00 = n * (pz * (1 - c.eps) + px * c.dprobs[0]) ** 2
    n_11, n_22 = n * (px * c.dprobs[1]) ** 2, n * (px * c.dprobs[2]) ** 2
    m_sel = n_11 * c.delta / math.pi
    cl = th_d["z_classes"]
    n_z = n * pz * pz
    d = {"N_z": n_z, "N_00": n_00, "n_00": n_00 * g["S_00"], "N_11": n_11,
         "n_11": n_11 * g["S_1"], "N_22": n_22, "n_22": n_22 * g["S_2"], "M_sel": m_sel,
         "m_err": m_sel * g["T"],
         "n_b0": n_z * (cl["b0_ok"] + cl["b0_err"]), "err_b0": n_z * cl["b0_err"],
         "n_b1": n_z * (cl["b1_ok"] + cl["b1_err"]), "err_b1": n_z * cl["b1_err"]}
    d["n_g"] = min(d["n_b0"], d["n_b1"])
    for i in (1, 2):
        npairs = n * (px * c.dprobs[0]) * (px * c.dprobs[i])
        d[f"N_10_{i}"], d[f"n_10_{i}"] = npairs, npairs * g[f"S_10_{i}"]
        d[f"N_01_{i}"], d[f"n_01_{i}"] = npairs, npairs * g[f"S_01_{i}"]
    return d


def theory(scenario, decoy=None):
    """Asymptotic key per pulse of the variant: ``key_rate_per_pulse`` with
    the exact s1, e1_ph (infinite decoys), ``key_rate_per_pulse_decoy`` with
    the 3-intensity bounds of the scenario's X window; and
    ``key_rate_per_pulse_finite``: the finite key (:func:`finite_key`) of
    ``run.pulses`` pulse pairs on the expected counts."""
    from qchannel.theory import twin_field as th
    from qchannel.theory.bounds import plob_bound
    from qchannel.theory.common import h2

    if decoy not in (None, "infinite", "practical"):
        raise ValueError(f"--decoy = {decoy!r}: tf-qkd gives both 'infinite' and "
                         f"'practical' (3-intensity) rates")
    c = scenario.config
    if c.variant == "pm":
        return theory_pm(c)
    aopp = c.variant == "sns-aopp"
    eta_a, eta_b = arm_etas(c)
    pd, V = c.detector.dark_count_prob, c.channel.visibility
    s_z, e_z = th.z_gains(c.mu_z, c.eps, eta_a, eta_b, pd, V)
    cres = th.residual_cos(c.track_slots, c.walk_var, c.track_var)
    s1, e1 = th.single_photon(eta_a, eta_b, pd, V, c.delta, cres)
    nodes = th.residual_nodes(c.track_slots, c.walk_var, c.track_var)
    xg = th.x_gains(c.decoys[0], c.decoys[1], eta_a, eta_b, pd, V, c.delta, nodes)
    for i, m in ((1, c.decoys[0]), (2, c.decoys[1])):   # one sender only
        xg[f"S_10_{i}"] = th.pair_gain(m, 0.0, eta_a, eta_b, pd, V)
        xg[f"S_01_{i}"] = th.pair_gain(0.0, m, eta_a, eta_b, pd, V)
    s1l, e1u = th.decoy_bounds(xg["S_00"], xg["S_1"], xg["S_2"], xg["T"], *c.decoys)
    f = c.postprocess.f_ec
    pzz = c.pz ** 2
    cl = th.z_classes(c.mu_z, c.eps, eta_a, eta_b, pd, V)
    arms = th.single_photon_arms(eta_a, eta_b, pd)
    arms_l = th.one_side_bounds(xg["S_00"], xg["S_10_1"], xg["S_10_2"], xg["S_01_1"],
                                xg["S_01_2"], *c.decoys)
    if aopp:
        r_inf = pzz * th.key_rate_aopp(c.mu_z, c.eps, *arms, e1, cl, f)
        r_dec = pzz * th.key_rate_aopp(c.mu_z, c.eps, *arms_l, e1u, cl, f)
    else:
        r_inf = pzz * th.key_rate(c.mu_z, c.eps, s1, e1, s_z, e_z, f)
        r_dec = pzz * th.key_rate(c.mu_z, c.eps, s1l, e1u, s_z, e_z, f)
    eta = c.channel.eta_a * c.channel.eta_b
    d = {"model": "exact coherent-state clicks; Wang-Yu-Hu 2018 key rate"
                  + (" with AOPP (Xu et al. 2020)" if aopp else ""),
         "variant": c.variant, "eta_a": eta_a, "eta_b": eta_b, "transmittance": eta,
         "qber_z": e_z, "gain_z": s_z, "s1": s1, "e1_ph": e1, "s1_lower": s1l,
         "e1_ph_upper": e1u, "phase_error_x": xg["T"], "gains": {"S_Z": s_z, **xg},
         "z_classes": cl, "residual_cos": cres,
         "key_rate_per_pulse": r_inf,
         "key_rate_per_pulse_decoy": r_dec,
         "secret_key_rate_bps": r_inf * c.rep_rate_hz,
         "plob_per_pulse": float(plob_bound(eta))}
    counts = expected_counts(c, d)
    if aopp:
        one = counts["N_z"] * c.eps * (1 - c.eps) * c.mu_z * math.exp(-c.mu_z)
        _, n_t, e_p, n1p = th.aopp_counts(counts["n_b0"], counts["err_b0"], counts["n_b1"],
                                          counts["err_b1"], one * arms[0], one * arms[1])
        d["aopp"] = {"pairs": counts["n_g"] / c.pulses, "survived_bits": n_t / c.pulses,
                     "qber": e_p, "untagged_pairs": n1p / c.pulses,
                     "phase_error": th.aopp_phase_error(e1)}
        leak = f * n_t * h2(e_p)
    else:
        leak = f * counts["N_z"] * s_z * h2(e_z)
    d["finite_key"] = finite_key(c, counts, leak)
    d["key_rate_per_pulse_finite"] = d["finite_key"]["key_length"] / c.pulses
    return d


def report(d):
    if d["variant"] == "pm":
        lines = [f"qchannel tf-qkd (pm): {d['pulses']:.4g} pulse pairs, seed {d['seed']}",
                 f"  detections {d['detections']}, matched signal pairs {d['matched_pairs']}, "
                 f"key bits {d['sifted_bits']}, QBER {_fmt(d['qber_z'], '.4%')}",
                 f"  Y1 >= {d['y1_lower']:.4g}, one-photon share q1 >= {d['q1_lower']:.4f}, "
                 f"phase error <= {d['phase_error_upper']:.4f}",
                 f"  asymptotic key {d['key_rate_per_pulse']:.4g} per pulse (PLOB "
                 f"{d['plob_per_pulse']:.4g})"] + report_key_lines(d)
        lines.append(f"  secret key ({d['key_length_from']}) {d['secret_key_bits']} bits, "
                     f"{d['secret_key_rate_bps']:.4g} bit/s")
        return "\n".join(lines)
    lines = [f"qchannel tf-qkd ({d['variant']}): {d['pulses']:.4g} pulse pairs, seed {d['seed']}",
             f"  detections {d['detections']}, Z-window sifted {d['sifted_bits']}, QBER Z "
             f"{_fmt(d['qber_z'], '.4%')}, X-window phase error {d['phase_error_x']:.4%} "
             f"({d['phase_selected_pairs']} selected pairs)",
             f"  s1 >= {d['s1_lower']:.4g}, e1_ph <= {d['e1_ph_upper']:.4f}, untagged bits "
             f"{d['untagged_bits']:.4g}"]
    if "aopp" in d:
        a = d["aopp"]
        lines.append(f"  AOPP: {a['pairs']} pairs, {a['survived_bits']} odd-parity bits kept, "
                     f"QBER {_fmt(a['qber'], '.4%')}, untagged pairs {a['untagged_pairs']:.4g}, phase "
                     f"error <= {a['phase_error_upper']:.4f}")
    lines.append(f"  asymptotic key {d['key_rate_per_pulse']:.4g} per pulse (PLOB "
                 f"{d['plob_per_pulse']:.4g})")
    lines += report_key_lines(d)
    lines.append(f"  secret key ({d['key_length_from']}) {d['secret_key_bits']} bits, "
                 f"{d['secret_key_rate_bps']:.4g} bit/s")
    return "\n".join(lines)


def theory_report(d):
    if d["variant"] == "pm":
        return "\n".join([
            f"qchannel theory tf-qkd (pm): arms eta_a {d['eta_a']:.4g}, eta_b {d['eta_b']:.4g} "
            f"(detector included)",
            f"  matched signal gain {d['gains']['Q_mu']:.4g}, QBER {d['qber_z']:.4%}; Y1 "
            f"{d['y1']:.4g} (bound {d['y1_lower']:.4g})",
            f"  asymptotic key {d['key_rate_per_pulse']:.4g} per pulse (infinite decoys), "
            f"{d['key_rate_per_pulse_decoy']:.4g} (3 intensities); PLOB "
            f"{d['plob_per_pulse']:.4g}"])
    lines = [
        f"qchannel theory tf-qkd ({d['variant']}): arms eta_a {d['eta_a']:.4g}, eta_b "
        f"{d['eta_b']:.4g} (detector included)",
        f"  QBER Z {d['qber_z']:.4%}; s1 {d['s1']:.4g} (bound {d['s1_lower']:.4g}), e1_ph "
        f"{d['e1_ph']:.4f} (bound {d['e1_ph_upper']:.4f}); E[cos residual] "
        f"{d['residual_cos']:.4f}"]
    if "aopp" in d:
        a = d["aopp"]
        lines.append(f"  AOPP: QBER after pairing {a['qber']:.4%}, phase error "
                     f"{a['phase_error']:.4f}, kept bits {a['survived_bits']:.4g} per pulse")
    lines.append(f"  asymptotic key {d['key_rate_per_pulse']:.4g} per pulse (infinite decoys), "
                 f"{d['key_rate_per_pulse_decoy']:.4g} (3 intensities); finite key "
                 f"{d['key_rate_per_pulse_finite']:.4g} per pulse; PLOB {d['plob_per_pulse']:.4g}")
    return "\n".join(lines)


def check(scenario):
    from qchannel.jobs import memory as mem
    from qchannel.theory import twin_field as th

    c = scenario.config
    aopp = c.variant == "sns-aopp"
    if c.postprocess.ec == "estimate" and not aopp:
        return mem.BASELINE_BYTES
    eta_a, eta_b = arm_etas(c)
    s_z, _ = th.z_gains(c.mu_z, c.eps, eta_a, eta_b, c.detector.dark_count_prob,
                        c.channel.visibility)
    if c.variant == "pm":
        s_z = th.pair_gain(c.mu_z, c.mu_z, eta_a, eta_b, c.detector.dark_count_prob,
                           c.channel.visibility) * c.delta / math.pi
    sifted = c.pulses * c.pz ** 2 * s_z
    if c.postprocess.ec == "estimate":
        # AOPP pairs the real bits: 2 bytes a bit, ~5 int64 indices a bit while pairing
        return mem.refuse_if_too_big(sifted * AOPP_BIT_BYTES,
                                     f"about {sifted:.3g} sifted bits kept for the AOPP pairing",
                                     "lower run.pulses")
    return refuse_sifted(sifted, c.postprocess.ec) + (sifted * AOPP_BIT_BYTES if aopp else 0)


register(Job(
    name="tf-qkd",
    summary="twin-field QKD (sending-or-not-sending, with AOPP, or phase-matching) through a "
            "relay, with phase drift",
    schema=TFScenario, run=run, report=report, theory=theory, theory_report=theory_report,
    headline=("seed", "pulses", "detections", "sifted_bits", "qber_z", "key_rate_per_pulse",
              "plob_per_pulse", "secret_key_bits", "aborted", "abort_reason"),
    sweep_skip=("gains",),
    writes_keys=True,
    check=check,
    tiny=tiny,
))
