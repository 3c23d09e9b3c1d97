"""Job ``mdi-qkd``: measurement-device-independent QKD with polarisation
encoding and decoy states (Lo, Curty, Qi 2012) through an untrusted relay.

Schema (all keys optional)::

    [protocol] finite_key = true (false: the key length uses the asymptotic
               bounds on the observed counts, with the real leakage),
               finite_key_method = "four-intensity" (default: the four-intensity
               method of Zhou, Yu, Wang, PRA 93, 042324 (2016)) or
               "chernoff-lim" (qchannel's own, three intensities only)
    [source]   intensities = [z, y, x, 0.0] (four-intensity: signal z in Z
               only, decoys y > x > 0 in X only, vacuum) or [mu, nu, 0.0]
               (three-intensity, each in both bases, with z_basis_prob),
               intensity_probs, rep_rate_hz     (the same for Alice and Bob)
    [channel]  length_km (total Alice-Bob, Charlie midway),
               attenuation_db_per_km, misalignment (e_d = sin^2 of Bob's
               polarisation rotation), visibility (HOM)
    [channel.alice], [channel.bob]   length_km, attenuation_db_per_km,
               extra_loss_db: the two arms (both or neither)
    [detector] efficiency, dark_count_prob (per detector and slot)
    [run]      pulses, seed, threads (the Monte Carlo's and the post-processing's
               threads; the same results for any)
    [postprocess] eps_sec, eps_cor, f_ec, ec ("estimate" | "cascade" | "ldpc")

Run: the two-sender kernel (:func:`qchannel._core.mdi.mdi_blocks`) on
chunks of blocks, on the run's threads (:class:`MdiLink`); Bell-state successes, sifting (Bob flips in Z, and in X on psi-), the
decoy estimate of the single-photon pairs from the observed counts
(:func:`qchannel.theory.mdi.four_intensity_bounds`, or
:func:`qchannel.theory.mdi.decoy_bounds` for three intensities), the
asymptotic key on the observed counts, a finite key
(:func:`qchannel.theory.mdi.four_intensity_key` or :func:`finite_key`), and
with ``ec`` a real error correction, verification and privacy amplification
of the sifted Z bits of signal pairs.  Analytic twin: :func:`theory` (the
same formulas on the expected counts).
"""
import math
from types import SimpleNamespace

import numpy as np

from qchannel import rng
from qchannel.jobs import DictResult, Job, register
from qchannel.links.base import Link, check_threads
from qchannel.params import (check_choice, check_distribution, check_int, check_prob,
                             check_real, check_real_list, check_table, reject_unknown)
from qchannel.scenario import PostprocessConfig, RunSection, TableScenario
from qchannel.theory.mdi import FOUR_PAIRS, chernoff_bounds  # noqa: F401 (tf-qkd imports it)

SECTIONS = ("protocol", "source", "channel", "detector", "run", "postprocess")
BLOCK_SLOTS = 1 << 22    # slots per kernel call: bounds the memory of one block
MAX_PULSES = (1 << 32) * BLOCK_SLOTS    # block indices are 32-bit (Philox stream)
EC_QBER_LIMIT = {"ldpc": 0.11, "cascade": 0.15}
ARM_KEYS = ("length_km", "attenuation_db_per_km", "extra_loss_db")
FK_METHODS = ("four-intensity", "chernoff-lim")
FK_NAMES = {"four-intensity": "four-intensity after Zhou-Yu-Wang 2016 (bounds derived here)",
            "chernoff-lim": "qchannel's Chernoff + Lim sampling, three intensities"}
DEFAULT_INTENSITIES = [0.4, 0.3, 0.1, 0.0]          # z, y, x, vacuum
DEFAULT_PROBS = {4: [0.5, 0.2, 0.2, 0.1], 3: [0.5, 0.3, 0.2]}


# ---------------------------------------------------------------- shared parsing
def parse_channel(ch, extra):
    """Arms of a two-sender fiber link: (arms namespace, extra values).
    ``extra``: {key: (default, checker)} for the job's own channel keys."""
    ch = dict(check_table("channel", ch))
    arms = {side: check_table(f"channel.{side}", ch.pop(side)) for side in ("alice", "bob")
            if side in ch}
    if ch.pop("type", "fiber") != "fiber":
        raise ValueError("channel.type must be 'fiber' (the two arms are fibers)")
    reject_unknown("channel", ch, ("length_km", "attenuation_db_per_km") + tuple(extra))
    att = check_real("channel.attenuation_db_per_km", ch.get("attenuation_db_per_km", 0.2),
                     0.0, 10.0)
    vals = {k: chk(f"channel.{k}", ch.get(k, d)) for k, (d, chk) in extra.items()}
    if len(arms) == 1:
        raise ValueError(f"[channel.{next(iter(arms))}] needs its partner: give both "
                         f"[channel.alice] and [channel.bob], or neither (Charlie midway)")
    if arms:
        if "length_km" in ch:
            raise ValueError("channel.length_km and [channel.alice]/[channel.bob] both given: "
                             "with the arms, give each arm's length_km")
        out = {}
        for side, arm in arms.items():
            reject_unknown(f"channel.{side}", arm, ARM_KEYS)
            if "length_km" not in arm:
                raise ValueError(f"channel.{side}.length_km is missing")
            length = check_real(f"channel.{side}.length_km", arm["length_km"], 0.0, 5000.0)
            a = check_real(f"channel.{side}.attenuation_db_per_km",
                           arm.get("attenuation_db_per_km", att), 0.0, 10.0)
            extra_db = check_real(f"channel.{side}.extra_loss_db", arm.get("extra_loss_db", 0.0),
                                  0.0, 300.0)
            out[side] = (length, a * length + extra_db)
    else:
        total = check_real("channel.length_km", ch.get("length_km", 100.0), 0.0, 5000.0)
        out = {side: (total / 2, att * total / 2) for side in ("alice", "bob")}
    return SimpleNamespace(length_a_km=out["alice"][0], length_b_km=out["bob"][0],
                           loss_a_db=out["alice"][1], loss_b_db=out["bob"][1],
                           eta_a=10 ** (-out["alice"][1] / 10), eta_b=10 ** (-out["bob"][1] / 10),
                           **vals)


def parse_detector(d):
    d = check_table("detector", d)
    reject_unknown("detector", d, ("efficiency", "dark_count_prob"))
    return SimpleNamespace(
        efficiency=check_prob("detector.efficiency", d.get("efficiency", 0.6), lo_open=True),
        dark_count_prob=check_real("detector.dark_count_prob", d.get("dark_count_prob", 1e-7),
                                   0.0, 0.5))


def parse_run(r, default_pulses):
    """``(pulses, seed, threads)`` of ``[run]`` (threads None: every core)."""
    r = check_table("run", r)
    reject_unknown("run", r, ("pulses", "seed", "threads"))
    pulses = check_int("run.pulses", r.get("pulses", default_pulses), 1, MAX_PULSES)
    seed = rng.check_seed(r.get("seed", 1), "run.seed")
    threads = None if r.get("threads") is None else check_threads("run.threads", r["threads"])
    return pulses, seed, threads


def distill(alice, bob, qber, pp, seed, key_length_fn, threads=1):
    """Real error correction, verification and privacy amplification of the
    sifted bits; ``key_length_fn(leaked_bits)`` gives the final length;
    ``threads``: the reconciliation's native threads (same keys for any).
    Returns (ec dict, key_bits, keys_match, aborted, reason, distilled)."""
    from qchannel.postprocess.pipeline import amplify, reconcile_and_verify

    limit = EC_QBER_LIMIT[pp.ec]
    if len(alice) == 0:
        return {"method": pp.ec, "leaked_bits": 0}, 0, None, True, "no sifted bits", None
    if qber > limit:
        return ({"method": pp.ec, "leaked_bits": 0}, 0, None, True,
                f"QBER {qber:.4f} is above {limit:.2f}, the highest {pp.ec} supports", None)
    out, kept_a, kept_b = reconcile_and_verify(
        alice, bob, qber, pp.ec, seed, pp.eps_cor,
        decoder=pp.ldpc_decoder if pp.ec == "ldpc" else None, threads=threads)
    leak = out.leaked_bits + out.verification_bits
    key_bits = max(0, int(key_length_fn(leak)) - out.discarded_bits)
    key_bits = min(key_bits, len(kept_a))
    amplify(out, kept_a, kept_b, key_bits, seed, threads=threads)
    reason = "" if key_bits > 0 else "no key left after error correction and the finite-key terms"
    return out.ec_dict(), key_bits, bool(out.keys_match), key_bits == 0, reason, out


# ---------------------------------------------------------------- schema
def finish_key(d, c, bits_a, bits_b, qber, length, key_bits, aborted, reason, keys_out,
               per_pulse_field=False):
    """The key part of a two-sender result ``d``: with ``postprocess.ec`` real
    error correction, verification and privacy amplification of the sifted
    bits (both final keys written to ``keys_out`` if given) replace the
    estimate ``key_bits``/``aborted``/``reason``; then the key fields."""
    from qchannel.links.base import threads

    pp = c.postprocess
    if pp.ec != "estimate":
        # the run's threads (``--threads``, [run] threads, else every core), as decoy BB84
        ec, key_bits, match, aborted, reason, out = distill(
            bits_a, bits_b, qber, pp, c.seed, length,
            threads=threads(getattr(c, "threads", None)))
        d["ec"], d["keys_match"] = ec, match
        if keys_out is not None and out is not None:
            from qchannel.postprocess.pipeline import write_keys
            write_keys(out, keys_out)
    d.update(secret_key_bits=int(key_bits), aborted=bool(aborted), abort_reason=reason,
             key_length_from="finite key" if c.finite_key else "asymptotic bounds")
    if per_pulse_field:
        d["key_rate_per_pulse_finite"] = key_bits / c.pulses
    d["secret_key_rate_bps"] = key_bits / (c.pulses / c.rep_rate_hz)
    return DictResult(d)


def report_key_lines(d):
    """The error-correction and verdict lines of a two-sender report."""
    lines = [f"  error correction: {d['ec']['method']}, {d['ec']['leaked_bits']} bits disclosed"]
    if "keys_match" in d:
        lines.append(f"  keys match: {d['keys_match']}")
    if d["aborted"]:
        lines.append(f"  NO KEY: {d['abort_reason']}")
    return lines


class RelayScenario(TableScenario):
    """What the two relay jobs (mdi-qkd, tf-qkd) share: their sections, the
    [run] values of their config, a default with every section spelled out."""
    SECTIONS = SECTIONS

    @classmethod
    def run_config(cls, tables, config):
        return RunSection(seed=config.seed, pulses=config.pulses, threads=config.threads)

    @classmethod
    def default(cls):
        """Every section spelled out (the defaults of each key)."""
        return cls.from_dict({"source": {}, "channel": {}, "detector": {}, "run": {},
                              "postprocess": {}})


class MDIScenario(RelayScenario):
    job = "mdi-qkd"

    @classmethod
    def parse(cls, tables):
        proto = check_table("protocol", tables["protocol"])
        check_choice("protocol.type", proto.get("type"), (cls.job,))
        reject_unknown("protocol", proto, ("type", "finite_key", "finite_key_method"))
        finite = proto.get("finite_key", True)
        if not isinstance(finite, bool):
            raise ValueError(f"protocol.finite_key = {finite!r} must be true or false")
        src = check_table("source", tables.get("source", {}))
        reject_unknown("source", src, ("intensities", "intensity_probs", "z_basis_prob",
                                       "rep_rate_hz"))
        mus = check_real_list("source.intensities",
                              src.get("intensities", DEFAULT_INTENSITIES), 0.0, 10.0, 3, 4)
        four = len(mus) == 4
        method = check_choice("protocol.finite_key_method",
                              proto.get("finite_key_method", "four-intensity"), FK_METHODS)
        if four:
            if not (mus[0] > 0.0 and mus[1] > mus[2] > 0.0 and mus[3] == 0.0):
                raise ValueError(f"source.intensities = {list(mus)} must be [z, y, x, 0] with "
                                 f"z > 0 and y > x > 0 (signal in Z, two decoys in X, vacuum)")
            if method != "four-intensity":
                raise ValueError(f"protocol.finite_key_method = {method!r} needs three "
                                 f"source.intensities [mu, nu, 0]; four intensities use "
                                 f"'four-intensity'")
            if "z_basis_prob" in src:
                raise ValueError("source.z_basis_prob applies to three intensities only: with "
                                 "four, the signal z is sent in Z and the decoys y, x in X")
        else:
            if not (mus[0] > mus[1] > 0.0 and mus[2] == 0.0):
                raise ValueError(f"source.intensities = {list(mus)} must be [mu, nu, 0] with "
                                 f"mu > nu > 0 (signal, decoy, vacuum)")
            if method == "four-intensity":
                raise ValueError(f"protocol.finite_key_method = 'four-intensity' (the default) needs "
                                 f"four source.intensities [z, y, x, 0], got {list(mus)}; "
                                 f"with three, set finite_key_method = 'chernoff-lim' "
                                 f"(qchannel's own finite key)")
        probs = check_distribution("source.intensity_probs",
                                   src.get("intensity_probs", DEFAULT_PROBS[len(mus)]),
                                   len(mus), "source.intensities")
        if min(probs) <= 0.0:
            raise ValueError(f"source.intensity_probs = {list(probs)}: every intensity needs "
                             f"a probability > 0 (the decoy estimate uses all of them)")
        pz = (check_prob("source.z_basis_prob", src.get("z_basis_prob", 0.5), True, True)
              if not four else None)
        rate = check_real("source.rep_rate_hz", src.get("rep_rate_hz", 1e9), 1.0, 1e12)
        ch = parse_channel(tables.get("channel", {}), {
            "misalignment": (0.0, lambda n, v: check_real(n, v, 0.0, 0.5)),
            "visibility": (1.0, lambda n, v: check_prob(n, v))})
        det = parse_detector(tables.get("detector", {}))
        pulses, seed, threads = parse_run(tables.get("run", {}), 10**9)
        post = PostprocessConfig.from_dict(check_table("postprocess",
                                                       tables.get("postprocess", {})))
        if post.ldpc_decoder != "auto" and post.ec != "ldpc":
            raise ValueError(f"postprocess.ldpc_decoder = {post.ldpc_decoder!r} applies to "
                             f"postprocess.ec = 'ldpc' only, not {post.ec!r}")
        if four:     # (intensity, basis, probability); the vacuum's basis label is moot
            classes = tuple(zip(mus, (0, 1, 1, 0), probs))
        else:
            classes = tuple((m, b, p * (pz if b == 0 else 1 - pz))
                            for m, p in zip(mus, probs) for b in (0, 1))
        return SimpleNamespace(finite_key=finite, finite_key_method=method, four=four,
                               mus=mus, probs=probs, pz=pz, classes=classes,
                               rep_rate_hz=rate, channel=ch, detector=det, pulses=pulses,
                               seed=seed, threads=threads, postprocess=post)



def arm_etas(c):
    """Transmittance of each arm with the relay's detector efficiency."""
    return c.channel.eta_a * c.detector.efficiency, c.channel.eta_b * c.detector.efficiency


def _link(c):
    """Kernel parameters: eta per arm (with the detector), class tables."""
    eta_a, eta_b = arm_etas(c)
    cls_mu = np.array([m for m, _, _ in c.classes])
    cls_basis = np.array([b for _, b, _ in c.classes], dtype=np.uint8)
    cls_prob = np.array([p for _, _, p in c.classes])
    th = math.asin(math.sqrt(c.channel.misalignment))
    return eta_a, eta_b, cls_mu, cls_basis, cls_prob, th


def _classes(c, basis, i):
    """Three intensities: class indices of intensity i in ``basis`` (vacuum:
    both labels; class 2 i + basis)."""
    return [2 * i, 2 * i + 1] if c.mus[i] == 0.0 else [2 * i + basis]


def _pair_sum(c, table, basis, i, j):
    return sum(table[ka, kb] for ka in _classes(c, basis, i) for kb in _classes(c, basis, j))


def _gain_dicts(c, sent, succ, err):
    """Observed gains per intensity pair and basis (dicts for decoy_bounds)."""
    out = {}
    for basis in (0, 1):
        q, eq = {}, {}
        for i, ma in enumerate(c.mus):
            for j, mb in enumerate(c.mus):
                n = _pair_sum(c, sent, basis, i, j)
                q[(ma, mb)] = _pair_sum(c, succ, basis, i, j) / n if n else 0.0
                eq[(ma, mb)] = _pair_sum(c, err, basis, i, j) / n if n else 0.0
        out[basis] = (q, eq)
    return out


FOUR_INDEX = {"z": 0, "y": 1, "x": 2, "o": 3}    # four-intensity class of each name


def _four_counts(c, sent, succ, err):
    """Four intensities: the counts of four_intensity_bounds/_key (sent and
    successes per pair of FOUR_PAIRS, errors of xx and zz) from the class-
    pair tables (observed or expected)."""
    idx = [(FOUR_INDEX[p[0]], FOUR_INDEX[p[1]]) for p in FOUR_PAIRS]
    n = {p: float(sent[i, j]) for p, (i, j) in zip(FOUR_PAIRS, idx)}
    k = {p: float(succ[i, j]) for p, (i, j) in zip(FOUR_PAIRS, idx)}
    return n, k, float(err[2, 2]), float(err[0, 0])


def _gain_rows(c):
    """(Alice's class, Bob's class, basis) of the gains reported: three
    intensities, every intensity pair in both bases (vacuum: both labels
    summed); four, the key pair zz and every pair of y, x, o in X."""
    if c.four:
        xs = ("y", "x", "o")
        return [("z", "z", 0)] + [(a, b, 1) for a in xs for b in xs]
    return [(i, j, basis) for basis in (0, 1) for i in range(3) for j in range(3)]


def gain_table(c, sent, succ, err):
    """The reported gains (list of dicts) from the class-pair tables."""
    rows = []
    for a, b, basis in _gain_rows(c):
        if c.four:
            ia, ib = FOUR_INDEX[a], FOUR_INDEX[b]
            n, k, e = sent[ia, ib], succ[ia, ib], err[ia, ib]
            mu_a, mu_b = c.mus[ia], c.mus[ib]
        else:
            n, k, e = (_pair_sum(c, t, basis, a, b) for t in (sent, succ, err))
            mu_a, mu_b = c.mus[a], c.mus[b]
        rows.append({"mu_a": mu_a, "mu_b": mu_b, "basis": "ZX"[basis],
                     "sent": float(n), "gain": float(k / n) if n else 0.0,
                     "error_gain": float(e / n) if n else 0.0})
    return rows


def expected_counts(c):
    """The analytic twin's class-pair tables: expected pulse pairs sent,
    Bell-state successes and errors (exact phase-averaged gains).  Pairs
    in different bases with no vacuum are left at 0 successes (no estimate
    uses them)."""
    from qchannel.theory import mdi as th

    eta_a, eta_b, cls_mu, cls_basis, cls_prob, ang = _link(c)
    nc = len(cls_mu)
    sent = c.pulses * cls_prob[:, None] * cls_prob[None, :]
    succ, err = np.zeros((nc, nc)), np.zeros((nc, nc))
    pd, V = c.detector.dark_count_prob, c.channel.visibility
    for i in range(nc):
        for j in range(nc):
            if cls_basis[i] != cls_basis[j] and cls_mu[i] > 0 and cls_mu[j] > 0:
                continue
            # the vacuum's basis label is moot: the other party's basis decides
            basis = int(cls_basis[i] if cls_mu[i] > 0 else cls_basis[j])
            q, eq = th.gains(cls_mu[i], cls_mu[j], eta_a, eta_b, pd, V, ang, basis)
            succ[i, j], err[i, j] = sent[i, j] * q, sent[i, j] * eq
    return sent, succ, err


def chunk_blocks(p_click, block_slots):
    """Blocks per chunk of a relay link: about 2^17 clicks (the kernel's
    work per call dwarfs the Python around it), at least one and at most
    4096 blocks (1.7e10 slots: long sparse runs still make thousands of
    chunks)."""
    return int(min(4096, max(1, (1 << 17) // max(1.0, p_click * block_slots))))


def click_probability(mu, prob, eta_a, eta_b, dark_prob, n_detectors):
    """P(a slot has a click) of a two-sender link: both senders' classes
    (intensities ``mu``, probabilities ``prob``), ``n_detectors`` behind
    the relay's beam splitter (the kernel's own sum, for sizing chunks)."""
    q = np.exp(n_detectors * np.log1p(-dark_prob) - eta_a * mu[:, None] - eta_b * mu[None, :])
    return float(np.sum(prob[:, None] * prob[None, :] * (1 - q)))


def kernel_capacity(n_slots, p_click):
    """Event buffer of a kernel call: the expected clicks + 10 sigma + 1024
    (the call is repeated with twice the buffer if a chunk needs more)."""
    expect = n_slots * p_click
    return int(expect + 10 * math.sqrt(expect) + 1024)


class MdiLink(Link):
    """The MDI two-sender link on the link contract: fixed blocks of
    BLOCK_SLOTS pulse pairs, block b from Philox stream (seed, MDI, b).  A
    block has no sequential part, so chunks of blocks are drawn and counted
    on any thread (:func:`qchannel._core.mdi.mdi_blocks`, the GIL released
    for the whole chunk); each record is the chunk's counts per class pair
    (sent, Bell-state successes, errors), its detections and, with
    ``keep_bits``, the sifted Z bits of signal pairs.  Same records for any
    threads and chunking."""

    block_size = BLOCK_SLOTS

    def __init__(self, c, keep_bits=False):
        self.c, self.keep_bits = c, keep_bits
        self.pulses = int(c.pulses)
        self.threads = c.threads

    def prepare(self, seed):
        eta_a, eta_b, mu, basis, prob, th = _link(self.c)
        pd = self.c.detector.dark_count_prob
        return SimpleNamespace(seed=seed, eta_a=eta_a, eta_b=eta_b, mu=mu, basis=basis,
                               prob=prob, th=th, pd=pd,
                               p_click=click_probability(mu, prob, eta_a, eta_b, pd, 4))

    def chunk_hint(self, ctx):
        return chunk_blocks(ctx.p_click, self.block_size)

    def draw_chunk(self, ctx, b0, b1):
        from qchannel._core import mdi as kernel

        n = min(b1 * self.block_size, self.pulses) - b0 * self.block_size
        cap = kernel_capacity(n, ctx.p_click)
        while True:
            done, data, noclick = kernel.mdi_blocks(
                ctx.seed, b0, b1, self.pulses, self.block_size, ctx.mu, ctx.prob, ctx.basis,
                ctx.mu, ctx.prob, ctx.basis, ctx.eta_a, ctx.eta_b, ctx.pd,
                self.c.channel.visibility, ctx.th, cap)
            if done:
                return self._count(ctx, data, noclick)
            cap *= 2

    def _count(self, ctx, data, noclick):
        nc = len(ctx.mu)
        ka, kb = data[:, 0].astype(np.int64), data[:, 1].astype(np.int64)
        pair = ka * nc + kb
        pat = data[:, 3]
        minus = (pat == 0b1001) | (pat == 0b0110)
        plus = (pat == 0b0011) | (pat == 0b1100)
        ok = minus | plus
        bit_a = data[:, 2] & 1
        bit_b = (data[:, 2] >> 1) ^ ((ctx.basis[kb] == 0) | minus).astype(np.uint8)
        wrong = ok & (bit_a != bit_b)
        table = lambda sel: np.bincount(pair[sel], minlength=nc * nc).reshape(nc, nc)  # noqa: E731
        key = ok & (ka == 0) & (kb == 0)          # class 0: signal intensity, Z basis
        empty = np.empty(0, np.uint8)
        return SimpleNamespace(
            sent=noclick.reshape(nc, nc) + np.bincount(pair, minlength=nc * nc).reshape(nc, nc),
            succ=table(ok), err=table(wrong), detections=len(data),
            bits_a=bit_a[key].astype(np.uint8) if self.keep_bits else empty,
            bits_b=bit_b[key].astype(np.uint8) if self.keep_bits else empty)

    def carry_chunk(self, ctx, b0, b1, drawn):
        return drawn            # no sequential part

    @staticmethod
    def concatenate(records):
        cat = (lambda k: np.concatenate([getattr(r, k) for r in records]))  # noqa: E731
        return SimpleNamespace(sent=sum(r.sent for r in records),
                               succ=sum(r.succ for r in records),
                               err=sum(r.err for r in records),
                               detections=sum(r.detections for r in records),
                               bits_a=cat("bits_a"), bits_b=cat("bits_b"))


def link_progress(progress):
    """A link's progress(done, total) as the job's progress(fraction)."""
    return None if progress is None else (lambda done, total: progress(done / total))


def simulate(c, keep_bits=False, progress=None):
    """The Monte Carlo (:class:`MdiLink` on the run's threads): counts per
    class pair (sent, successes, errors), detections, and the sifted Z bits
    of signal pairs if ``keep_bits``."""
    return MdiLink(c, keep_bits).simulate(c.seed, progress=link_progress(progress))


def finite_key(c, sent, succ, err, leak_bits):
    """qchannel's own finite key of the three-intensity protocol
    (``finite_key_method = "chernoff-lim"``, not from the literature as a
    whole): every count used by the decoy estimate is replaced by its
    Chernoff bound (:func:`chernoff_bounds`, each failing with eps_sec/21),
    the estimate of Y11 and e11 is made with the worse end of each, and the
    phase error of the single-photon pairs in the key set gets the random-
    sampling term of Lim et al. 2014 (as the decoy-BB84 finite key does);
    l = s11 (1 - h(phi11)) - leak - 6 log2(21/eps_sec) - log2(2/eps_cor)
    (the structure of Curty et al., Nat. Commun. 5, 3732 (2014), with the
    bounds of the decoy-BB84 finite key).  Returns a dict."""
    from qchannel.protocols.finite_key import EPS_TERMS, sampling_gamma
    from qchannel.theory.common import h2

    pp = c.postprocess
    eps = pp.eps_sec / EPS_TERMS
    mu, nu = c.mus[0], c.mus[1]

    def bound(table, basis, i, j, side):
        n = _pair_sum(c, sent, basis, i, j)
        lo, hi = chernoff_bounds(_pair_sum(c, table, basis, i, j), eps)
        return (lo if side < 0 else hi) / n if n else 0.0

    def g(table, basis, a, b, sign):
        # e^{a+b} Q_ab - e^a Q_a0 - e^b Q_0b + Q_00 with each Q at the end that
        # moves the result in direction ``sign`` (+1 up, -1 down)
        ia, ib = c.mus.index(a), c.mus.index(b)
        return (math.exp(a + b) * bound(table, basis, ia, ib, sign)
                - math.exp(a) * bound(table, basis, ia, 2, -sign)
                - math.exp(b) * bound(table, basis, 2, ib, -sign)
                + bound(table, basis, 2, 2, sign))

    def y11_lower(basis):
        # (mu^3 G(nu) - nu^3 G(mu)) / (mu^2 nu^2 (mu - nu)): G(nu) low, G(mu) high
        return max((mu ** 3 * g(succ, basis, nu, nu, -1) - nu ** 3 * g(succ, basis, mu, mu, +1))
                   / (mu * mu * nu * nu * (mu - nu)), 0.0)

    y11z, y11x = y11_lower(0), y11_lower(1)
    n_zz = _pair_sum(c, sent, 0, 0, 0)
    n_xx = _pair_sum(c, sent, 1, 1, 1)
    s11_z = n_zz * mu * mu * math.exp(-2 * mu) * y11z
    s11_x = n_xx * nu * nu * math.exp(-2 * nu) * y11x
    e11 = (min(max(g(err, 1, nu, nu, +1) / (nu * nu * y11x), 0.0), 0.5) if y11x > 0 else 0.5)
    phi = 0.5
    if s11_z >= 1 and s11_x >= 1 and 0 < e11 < 0.5:
        phi = min(0.5, e11 + sampling_gamma(pp.eps_sec, e11, s11_z, s11_x))
    elif e11 == 0.0 and s11_z >= 1 and s11_x >= 1:
        phi = min(0.5, sampling_gamma(pp.eps_sec, 1.0 / s11_x, s11_z, s11_x))
    length = (s11_z * (1 - h2(phi)) - leak_bits - 6 * math.log2(EPS_TERMS / pp.eps_sec)
              - math.log2(2 / pp.eps_cor))
    return {"method": "chernoff-lim", "s11_z_lower": s11_z, "s11_x_lower": s11_x,
            "y11_z_lower": y11z,
            "e11_x_upper": e11, "phase_error_upper": phi,
            "key_length": max(0, int(math.floor(length)))}


def _estimate(c, sent, succ, err):
    """The decoy estimate and the asymptotic key (per pulse pair sent) of
    the class-pair tables, observed or expected: dict with y11_z_lower,
    y11_x_lower, e11_x_upper, key_rate_per_pulse, sifted (Z signal pairs),
    sifted_errors, qber_z, qber_x; and ``finite_key(leak_bits)``, the
    scenario's finite-key method on the same tables (a dict)."""
    from qchannel.theory import mdi as th
    from qchannel.theory.common import h2

    pp = c.postprocess
    if c.four:
        z, y, x = c.mus[:3]
        n4, k4, err_xx, err_zz = _four_counts(c, sent, succ, err)
        asym = th.four_intensity_key(n4, k4, err_xx, err_zz, z, y, x, pp.f_ec, pp.eps_sec,
                                     pp.eps_cor, finite=False)
        out = {"y11_z_lower": asym["s11_lower"], "y11_x_lower": asym["s11_lower"],
               "e11_x_upper": asym["e11_x_upper"],
               "key_rate_per_pulse": asym["key_length"] / c.pulses,
               "sifted": k4["zz"], "sifted_errors": err_zz, "n11_z": asym["n11_z_lower"],
               "qber_z": err_zz / k4["zz"] if k4["zz"] > 0 else None,
               "qber_x": err_xx / k4["xx"] if k4["xx"] > 0 else None}

        def fk(leak):
            return th.four_intensity_key(n4, k4, err_xx, err_zz, z, y, x, pp.f_ec, pp.eps_sec,
                                         pp.eps_cor, finite=True, leak_bits=leak)
    else:
        obs = _gain_dicts(c, sent, succ, err)
        mu, nu = c.mus[0], c.mus[1]
        (qz, eqz), (qx, eqx) = obs[0], obs[1]
        y11z, y11x, e11x = th.decoy_bounds(qz, qx, eqx, mu, nu)
        q_sig, q_x = qz[(mu, mu)], qx[(nu, nu)]
        e_sig = eqz[(mu, mu)] / q_sig if q_sig > 0 else None
        n_zz = _pair_sum(c, sent, 0, 0, 0)
        rate_sig = th.key_rate(mu, y11z, e11x, q_sig, e_sig if e_sig is not None else 0.5,
                               pp.f_ec)
        out = {"y11_z_lower": y11z, "y11_x_lower": y11x, "e11_x_upper": e11x,
               "key_rate_per_pulse": rate_sig * n_zz / c.pulses,
               "sifted": _pair_sum(c, succ, 0, 0, 0), "sifted_errors": _pair_sum(c, err, 0, 0, 0),
               "n11_z": n_zz * mu * mu * math.exp(-2 * mu) * y11z, "qber_z": e_sig,
               "qber_x": eqx[(nu, nu)] / q_x if q_x > 0 else None}

        def fk(leak):
            return finite_key(c, sent, succ, err, leak)
    sifted, m = out["sifted"], out["sifted_errors"]
    out["leak_estimate"] = math.ceil(pp.f_ec * sifted * float(h2(m / sifted))) if sifted else 0
    out["finite_key"] = fk
    return out


def run(scenario, progress=None, keys_out=None):
    from qchannel.theory.bounds import plob_bound
    from qchannel.theory.common import h2

    c = scenario.config
    pp = c.postprocess
    sim = simulate(c, keep_bits=pp.ec != "estimate" or keys_out is not None, progress=progress)
    est = _estimate(c, sim.sent, sim.succ, sim.err)
    leak_est = est["leak_estimate"]

    def length(leak):
        if c.finite_key:
            return est["finite_key"](leak)["key_length"]
        # asymptotic bounds on the observed counts, the real leakage
        return max(0, math.floor(est["n11_z"] * (1 - float(h2(est["e11_x_upper"]))) - leak
                                 - math.log2(2 / pp.eps_cor)))

    fk = est["finite_key"](leak_est)
    key_bits = length(leak_est)
    aborted = key_bits == 0
    reason = "" if not aborted else ("the finite-key length is zero (too few single-photon "
                                     "pairs)" if c.finite_key else "the key length is zero")
    d = {"protocol": "mdi-qkd", "seed": c.seed, "pulses": c.pulses,
         "intensities": "four" if c.four else "three",
         "finite_key_method": c.finite_key_method,
         "duration_s": c.pulses / c.rep_rate_hz, "detections": int(sim.detections),
         "bsm_successes": int(sim.succ.sum()), "sifted_bits": int(est["sifted"]),
         "qber_z": est["qber_z"], "qber_x": est["qber_x"],
         "y11_z_lower": est["y11_z_lower"], "y11_x_lower": est["y11_x_lower"],
         "e11_x_upper": est["e11_x_upper"],
         "key_rate_per_pulse": est["key_rate_per_pulse"],
         "plob_per_pulse": float(plob_bound(c.channel.eta_a * c.channel.eta_b)),
         "finite_key": fk, "ec": {"method": "estimate", "leaked_bits": leak_est}}
    d["gains"] = gain_table(c, sim.sent, sim.succ, sim.err)
    return finish_key(d, c, sim.bits_a, sim.bits_b, est["qber_z"] or 0.0, length, key_bits,
                      aborted, reason, keys_out, per_pulse_field=True)


def theory(scenario, decoy=None):
    """Expected gains and keys: ``key_rate_per_pulse`` with the exact
    single-photon-pair yield and error (infinite decoys),
    ``key_rate_per_pulse_decoy`` with the decoy bound of the scenario's
    intensities (three or four), both asymptotic and per pulse pair sent
    (the sifting included); ``finite_key``: the scenario's finite-key method
    on the expected counts of ``run.pulses`` (``key_rate_per_pulse_finite``,
    ``secret_key_rate_bps_finite``)."""
    from qchannel.theory import mdi as th
    from qchannel.theory.bounds import plob_bound

    if decoy not in (None, "infinite", "practical"):
        raise ValueError(f"--decoy = {decoy!r}: mdi-qkd gives both 'infinite' and "
                         f"'practical' (decoy-bound) rates")
    c = scenario.config
    eta_a, eta_b, _, _, _, ang = _link(c)
    pd, V = c.detector.dark_count_prob, c.channel.visibility
    sent, succ, err = expected_counts(c)
    est = _estimate(c, sent, succ, err)
    fk = est["finite_key"](est["leak_estimate"])
    sp = th.single_photon_pair(eta_a, eta_b, pd, V, ang)
    s = c.mus[0]                       # the signal (key) intensity, Z basis
    qz, eqz = (float(v) for v in th.gains(s, s, eta_a, eta_b, pd, V, ang, 0))
    ez = eqz / qz if qz > 0 else 0.5
    p_sig = c.classes[0][2] ** 2       # both send class 0: the signal in Z
    r_inf = th.key_rate(s, sp["y11_z"], sp["e11_x"], qz, ez, c.postprocess.f_ec)
    rows = gain_table(c, sent, succ, err)
    for row in rows:
        del row["sent"]
    return {"model": "phase-averaged coherent-state clicks (exact); Ma-Razavi 2012 key rate; "
                     + ("four-intensity decoy estimate (Zhou-Yu-Wang 2016)" if c.four
                        else "three-intensity decoy estimate"),
            "eta_a": eta_a, "eta_b": eta_b,
            "transmittance": c.channel.eta_a * c.channel.eta_b,
            "qber_z": ez, "qber_x": est["qber_x"],
            "gain_z_signal": qz, "y11_z": sp["y11_z"], "e11_x": sp["e11_x"],
            "y11_z_lower": est["y11_z_lower"], "e11_x_upper": est["e11_x_upper"],
            "key_rate_per_signal_pair": r_inf,
            "key_rate_per_pulse": p_sig * r_inf,
            "key_rate_per_pulse_decoy": est["key_rate_per_pulse"],
            "secret_key_rate_bps": p_sig * r_inf * c.rep_rate_hz,
            "finite_key_method": c.finite_key_method,
            "finite_key": fk,
            "key_rate_per_pulse_finite": fk["key_length"] / c.pulses,
            "secret_key_rate_bps_finite": fk["key_length"] / (c.pulses / c.rep_rate_hz),
            "plob_per_pulse": float(plob_bound(c.channel.eta_a * c.channel.eta_b)),
            "gains": rows}


def _fmt(x, spec=".4g"):
    return "n/a" if x is None else format(x, spec)


def report(d):
    lines = [f"qchannel mdi-qkd: {d['pulses']:.4g} pulse pairs, seed {d['seed']}",
             f"  detections {d['detections']}, Bell-state successes {d['bsm_successes']}, "
             f"sifted (Z, signal) {d['sifted_bits']}",
             f"  QBER Z {_fmt(d['qber_z'], '.4%')}, X (decoy) {_fmt(d['qber_x'], '.4%')}; "
             f"Y11 >= {d['y11_z_lower']:.4g}, e11 <= {d['e11_x_upper']:.4f}",
             f"  asymptotic key {d['key_rate_per_pulse']:.4g} per pulse (PLOB "
             f"{d['plob_per_pulse']:.4g})",
             f"  finite key ({FK_NAMES[d['finite_key_method']]}): phase error <= "
             f"{d['finite_key']['phase_error_upper']:.4f}, length "
             f"{d['finite_key']['key_length']} bits"]
    lines += report_key_lines(d)
    lines.append(f"  secret key ({d['key_length_from']}) {d['secret_key_bits']} bits "
                 f"({d['key_rate_per_pulse_finite']:.4g} per pulse, "
                 f"{d['secret_key_rate_bps']:.4g} bit/s)")
    return "\n".join(lines)


def theory_report(d):
    return "\n".join([
        f"qchannel theory mdi-qkd: arms eta_a {d['eta_a']:.4g}, eta_b {d['eta_b']:.4g} "
        f"(detector included)",
        f"  QBER Z {d['qber_z']:.4%}, X {_fmt(d['qber_x'], '.4%')}; Y11 {d['y11_z']:.4g} "
        f"(decoy bound {d['y11_z_lower']:.4g}), e11 {d['e11_x']:.4f} "
        f"(bound {d['e11_x_upper']:.4f})",
        f"  asymptotic key {d['key_rate_per_pulse']:.4g} per pulse (infinite decoys), "
        f"{d['key_rate_per_pulse_decoy']:.4g} (decoy bound); PLOB {d['plob_per_pulse']:.4g}",
        f"  finite key ({FK_NAMES[d['finite_key_method']]}) on the expected counts: "
        f"{d['finite_key']['key_length']} bits, {d['key_rate_per_pulse_finite']:.4g} per pulse, "
        f"{d['secret_key_rate_bps_finite']:.4g} bit/s"])


def check(scenario):
    """Memory: the sifted bits kept for real error correction."""
    from qchannel.jobs import memory as mem
    from qchannel.theory import mdi as th

    c = scenario.config
    if c.postprocess.ec == "estimate":
        return mem.BASELINE_BYTES
    eta_a, eta_b, _, _, _, ang = _link(c)
    mu = c.mus[0]
    q = float(th.gains(mu, mu, eta_a, eta_b, c.detector.dark_count_prob, c.channel.visibility,
                       ang, 0)[0])
    sifted = c.pulses * c.classes[0][2] ** 2 * q        # class 0: the signal in Z
    return refuse_sifted(sifted, c.postprocess.ec)


def refuse_sifted(sifted, ec):
    """The memory check of a two-sender run that keeps ``sifted`` bits for real EC."""
    from qchannel.jobs import memory as mem

    return mem.refuse_if_too_big(sifted * mem.SIFTED_BIT_BYTES[ec],
                                 f"about {sifted:.3g} sifted bits kept for postprocess.ec",
                                 "lower run.pulses or set postprocess.ec = 'estimate'")


def tiny(sc):
    """At most 2e6 pulses (both two-sender jobs)."""
    return sc.replace(**{"run.pulses": min(sc.config.pulses, 2 * 10**6)})


register(Job(
    name="mdi-qkd",
    summary="measurement-device-independent QKD (polarisation, decoys) through a relay",
    schema=MDIScenario, run=run, report=report, theory=theory, theory_report=theory_report,
    headline=("seed", "pulses", "detections", "bsm_successes", "sifted_bits", "qber_z",
              "key_rate_per_pulse", "plob_per_pulse", "secret_key_bits", "aborted",
              "abort_reason"),
    sweep_skip=("gains",),
    writes_keys=True,
    check=check,
    tiny=tiny,
))
