"""Entangled-pair (SPDC) links: source, two arms, two detector pairs.

Configuration (plain dicts of TOML sections, every key validated):

``[source]``  type = "spdc"; ``pair_prob`` mean pairs per slot (pulse of a
pulsed pump, or one coincidence bin of a CW pump: then set
``rep_rate_hz = 1 / coincidence window``); ``statistics`` "thermal" (single
mode) or "poisson" (multimode); ``visibility`` V of the emitted state
V |Phi+><Phi+| + (1 - V) I/4; ``heralding_efficiency`` (coupling of each
photon into its arm; multiplies both arms); ``position`` "middle" (two
channels) or "alice" (Alice's arm has no channel unless given).

``[channel.alice]``, ``[channel.bob]`` (or ``[channel]`` keys for both):
loss as ``transmittance`` or ``loss_db`` or ``length_km`` *
``attenuation_db_per_km`` (+ ``extra_loss_db``); ``background_prob`` extra
clicks per detector per slot (stray light); unital noise ``depolarizing``,
``dephasing`` (H/V phase flip); polarisation drift ``drift_time_s`` (rms
rotation 1 rad after that time, random walk) and ``compensation_interval_s``
(ideal reset of the rotation).  ``[channel]`` also takes ``time_bin_s``, the
duration of a reporting/drift time bin (default: the whole run is one bin).

``[detector]`` (both sides; ``[detector.alice]`` / ``[detector.bob]``
override): ``efficiency``, ``dark_count_prob`` per detector per slot,
``dead_time_ns``, ``jitter_ps`` (rms timing jitter), and (top level only)
``coincidence_window_ns``: a click counts if it lies within the window
centred on the expected arrival; acceptance erf(w / (2 sqrt 2 sigma)) per
photon (dark counts are per window already).

The source, arms and detectors are the shared objects
:class:`qchannel.sources.SPDCSource`, :class:`qchannel.channels.ArmChannel`
and :class:`qchannel.detectors.SideDetector`.  The Monte Carlo is
``qchannel._core.entangled`` (event-driven, a :class:`qchannel.links.base.Link`:
blocks of 2^24 slots, the block index is the Philox stream block).  Drift
series use stream (seed, ENTANGLEMENT, DRIFT_BLOCK + arm).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qchannel._core import decoherence as _deco
from qchannel._core import entangled as _ent
from qchannel.channels import ArmChannel
from qchannel.detectors import SideDetector
from qchannel.links.base import BLOCK_SLOTS, Link, check_threads
from qchannel.params import check_int, check_real, check_table, reject_unknown
from qchannel.rng import Purpose, check_seed
from qchannel.sources import SPDCSource
from qchannel.theory import entanglement as th

#: Stream blocks reserved for drift series (above the slot blocks).
DRIFT_BLOCK = 2**32 - 256
MAX_PULSES = DRIFT_BLOCK * BLOCK_SLOTS
#: Time bins at most (segments of the kernel).
MAX_BINS = 1_000_000
#: A chunk of blocks (one kernel call, one record) aims at this many events.
CHUNK_EVENTS = 1 << 15
MAX_CHUNK_BLOCKS = 64
#: No click yet (the kernel's NEVER).
NEVER = -(1 << 62)

FLAG_A_DOUBLE = _ent.FLAG_A_DOUBLE
FLAG_B_DOUBLE = _ent.FLAG_B_DOUBLE
FLAG_ACCIDENTAL = _ent.FLAG_ACCIDENTAL
FLAG_EVE = _ent.FLAG_EVE


@dataclass(frozen=True)
class EntangledLinkConfig:
    """Source + two arms + two detector pairs (+ window and time bins)."""

    source: SPDCSource
    alice: ArmChannel
    bob: ArmChannel
    det_alice: SideDetector
    det_bob: SideDetector
    coincidence_window_ns: float = 1.0
    time_bin_s: float | None = None

    CHANNEL_KEYS = ("alice", "bob", "time_bin_s") + ArmChannel.KEYS
    DETECTOR_KEYS = ("alice", "bob", "coincidence_window_ns") + SideDetector.KEYS

    @classmethod
    def from_sections(cls, source, channel, detector):
        src = SPDCSource.from_dict(source or {}, "source")
        channel = dict(check_table("channel", channel or {}))
        reject_unknown("channel", channel, cls.CHANNEL_KEYS)
        common = {k: v for k, v in channel.items() if k in ArmChannel.KEYS}
        arms = {}
        for name in ("alice", "bob"):
            sub = check_table(f"channel.{name}", channel.get(name, {}))
            merged = {**common, **sub}
            if name == "alice" and src.position == "alice" and not sub:
                merged = {k: v for k, v in common.items()
                          if k not in ("transmittance", "loss_db", "length_km",
                                       "attenuation_db_per_km", "extra_loss_db")}
            arms[name] = ArmChannel.from_dict(merged, f"channel.{name}")
        tb = channel.get("time_bin_s")
        if tb is not None:
            tb = check_real("channel.time_bin_s", tb, 0.0, lo_open=True)
        detector = dict(check_table("detector", detector or {}))
        reject_unknown("detector", detector, cls.DETECTOR_KEYS)
        dcommon = {k: v for k, v in detector.items() if k in SideDetector.KEYS}
        dets = {name: SideDetector.from_dict({**dcommon, **check_table(f"detector.{name}", detector.get(name, {}))},
                                             f"detector.{name}")
                for name in ("alice", "bob")}
        win = check_real("detector.coincidence_window_ns", detector.get("coincidence_window_ns", 1.0),
                         0.0, 1e9, lo_open=True)
        return cls(src, arms["alice"], arms["bob"], dets["alice"], dets["bob"], win, tb)

    def to_dict(self):
        return {"source": self.source.to_dict(),
                "channel": {"alice": self.alice.to_dict(), "bob": self.bob.to_dict(),
                            "time_bin_s": self.time_bin_s},
                "detector": {"alice": self.det_alice.to_dict(), "bob": self.det_bob.to_dict(),
                             "coincidence_window_ns": self.coincidence_window_ns}}

    # ---------------------------------------------------------------- derived
    def side_eta(self, arm, det, transmittance=None):
        T = arm.transmittance if transmittance is None else transmittance
        acc = th.window_acceptance(self.coincidence_window_ns * 1e-9, det.jitter_ps * 1e-12)
        return T * self.source.heralding_efficiency * det.efficiency * acc

    def side_dark(self, arm, det):
        return 1.0 - (1.0 - det.dark_count_prob) * (1.0 - arm.background_prob)


@dataclass
class PairRecord:
    """Coincidences of a run: slot, setting indices, bits (0 = the +1
    outcome of the analyser), FLAG_* bits; ``singles`` (mode 1 only)."""

    slot: np.ndarray
    a_set: np.ndarray
    b_set: np.ndarray
    a_bit: np.ndarray
    b_bit: np.ndarray
    flags: np.ndarray
    singles: np.ndarray

    @classmethod
    def concatenate(cls, parts):
        parts = list(parts)
        f = ("slot", "a_set", "b_set", "a_bit", "b_bit", "flags")
        return cls(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in f},
                   singles=np.sum([p.singles for p in parts], axis=0))

    def __len__(self):
        return len(self.slot)


class EntangledLinkModel(Link):
    """Kernel tables for a link, measurement settings and optional Eve.

    ``angles_a``/``angles_b`` analyser angles (rad) with probabilities
    ``probs_a``/``probs_b``.  ``eta_a``/``eta_b`` optional per-bin
    transmittances of the arms (replacing the channels' constant ones), for
    free-space passes.  ``bin_slots`` slots per time bin (drift steps and
    reporting); default: one bin."""

    def __init__(self, config, angles_a, probs_a, angles_b, probs_b, pulses,
                 bin_slots=None, eta_a=None, eta_b=None, eve_fraction=0.0,
                 eve_angles=(0.0, math.pi / 4)):
        self.config = c = config
        self.pulses = int(pulses)
        self.angles_a, self.angles_b = np.asarray(angles_a, float), np.asarray(angles_b, float)
        self.probs_a, self.probs_b = np.asarray(probs_a, float), np.asarray(probs_b, float)
        if bin_slots is None:
            if c.time_bin_s is not None:
                bin_slots = max(1, int(round(c.time_bin_s * c.source.rep_rate_hz)))
            else:
                n_arr = len(eta_a) if eta_a is not None else 1
                bin_slots = -(-self.pulses // n_arr)
        self.bin_slots = int(bin_slots)
        self.n_bins = -(-self.pulses // self.bin_slots)
        if self.n_bins > MAX_BINS:
            raise ValueError(f"channel.time_bin_s gives {self.n_bins} time bins: at most {MAX_BINS}")
        for name, arr in (("alice", eta_a), ("bob", eta_b)):
            if arr is not None and len(arr) != self.n_bins:
                raise ValueError(f"transmittance series for {name} has {len(arr)} entries, "
                                 f"the run has {self.n_bins} time bins")
        self.eta_series = (eta_a, eta_b)
        self.eve_fraction = float(eve_fraction)
        self.eve_angles = np.asarray(eve_angles, float)

    def drift_angles(self, seed):
        c = self.config
        dt = self.bin_slots / c.source.rep_rate_hz
        out = []
        for k, arm in enumerate((c.alice, c.bob)):
            if arm.drift_time_s is None:
                out.append(np.zeros(self.n_bins))
                continue
            reset = 0
            if arm.compensation_interval_s is not None:
                reset = max(1, int(round(arm.compensation_interval_s / dt)))
            out.append(_deco.drift_walk(seed, int(Purpose.ENTANGLEMENT), DRIFT_BLOCK + k,
                                        self.n_bins, math.sqrt(dt / arm.drift_time_s), reset))
        return out

    def tables(self, seed, mode):
        c, src = self.config, self.config.source
        G = self.n_bins
        pn = th.pair_number_probs(src.pair_prob, src.statistics)
        nn = np.arange(len(pn))
        phi_a, phi_b = self.drift_angles(seed)
        T0 = th.werner_T(src.visibility)
        side = np.zeros((G, 6))
        gap = np.zeros(G)
        ncdf = np.zeros((G, len(pn)))
        corr = np.zeros((G, len(self.angles_a), len(self.angles_b)))
        nE = len(self.eve_angles)
        cae = np.zeros((G, len(self.angles_a), nE))
        ceb = np.zeros((G, nE, len(self.angles_b)))
        p_event = np.zeros(G)
        an_a = np.array([th.analyser(t) for t in self.angles_a])
        an_b = np.array([th.analyser(t) for t in self.angles_b])
        an_e = np.array([th.analyser(t) for t in self.eve_angles])
        dA, dB = c.side_dark(c.alice, c.det_alice), c.side_dark(c.bob, c.det_bob)
        cache = {}
        for g in range(G):
            ta = None if self.eta_series[0] is None else float(self.eta_series[0][g])
            tb = None if self.eta_series[1] is None else float(self.eta_series[1][g])
            eA = c.side_eta(c.alice, c.det_alice, ta)
            eB = c.side_eta(c.bob, c.det_bob, tb)
            key = (eA, eB)
            if key not in cache:
                qA = (1 - dA) ** 2 * (1 - eA) ** nn
                qB = (1 - dB) ** 2 * (1 - eB) ** nn
                pe = (1 - qA) * (1 - qB) if mode == 0 else 1 - qA * qB
                w = pn * pe
                tot = float(w.sum())
                cache[key] = (tot, np.cumsum(w) / tot if tot > 0 else np.ones(len(pn)))
            tot, cdf = cache[key]
            p_event[g] = tot
            ncdf[g] = cdf
            if tot > 0.0:
                gap[g] = 1.0 / math.log1p(-tot) if tot < 1.0 else -0.0
            side[g] = (eA, eB, dA, dB, math.log1p(-eA) if eA < 1 else -745.0,
                       math.log1p(-eB) if eB < 1 else -745.0)
            MA, MB = c.alice.bloch(phi_a[g]), c.bob.bloch(phi_b[g])
            corr[g] = an_a @ (MA @ T0 @ MB.T) @ an_b.T
            cae[g] = an_a @ (MA @ T0) @ an_e.T
            ceb[g] = an_e @ MB.T @ an_b.T
        return dict(seg_start=np.append(np.arange(G, dtype=np.int64) * self.bin_slots,
                                        np.int64(self.pulses)),
                    gap_scale=gap, n_cdf=np.ascontiguousarray(ncdf), side=side,
                    corr=corr, corr_ae=cae, corr_eb=ceb, p_event=p_event,
                    phi_a=phi_a, phi_b=phi_b)

    def prepare(self, seed):
        c = self.config
        rate = c.source.rep_rate_hz
        mode = 1 if (c.det_alice.dead_time_ns > 0 or c.det_bob.dead_time_ns > 0) else 0
        t = self.tables(seed, mode)
        self.last_tables = t
        self.mode = mode
        return {"seed": seed, "tables": t, "mode": mode,
                "dead": [d.dead_gates(rate) for d in (c.det_alice, c.det_bob)],
                "last": np.full(4, NEVER, dtype=np.int64),   # detectors' last clicks
                "redrawn": 0,       # blocks whose speculative draw was redone (mode 1)
                "carried": 0,       # blocks carried (mode 1)
                # speculative draws (mode 1) only where chunks run on other
                # threads: one thread carries every chunk right after its draw
                "speculate": mode == 1 and self.draws_ahead(),
                "a_cdf": np.cumsum(self.probs_a) / self.probs_a.sum(),
                "b_cdf": np.cumsum(self.probs_b) / self.probs_b.sum()}

    def _kernel(self, ctx, b0, b1, last, first):
        """Blocks [b0, b1) in one kernel call without the GIL (``last`` carried
        through them and updated, ``first`` filled: see ``run_blocks``)."""
        t = ctx["tables"]
        return PairRecord(*_ent.run_blocks(
            ctx["seed"], b0, b1 - b0, self.block_size, self.pulses, t["seg_start"],
            t["gap_scale"], t["n_cdf"], t["side"], ctx["a_cdf"], ctx["b_cdf"], t["corr"],
            ctx["mode"], self.eve_fraction, t["corr_ae"], t["corr_eb"], ctx["dead"][0],
            ctx["dead"][1], last, first, float(t["p_event"].max())))

    def chunk_hint(self, ctx):
        """Blocks per chunk: about CHUNK_EVENTS expected events (a few blocks
        for a fiber link, dozens where events are rare, e.g. a satellite
        pass), so that the per-chunk Python work stays small."""
        per_block = max(1.0, float(ctx["tables"]["p_event"].max()) * self.block_size)
        return int(min(MAX_CHUNK_BLOCKS, max(1, CHUNK_EVENTS // per_block)))

    def draw_chunk(self, ctx, b0, b1):
        """Blocks [b0, b1) on any thread.  Without dead time (mode 0) they
        depend on their streams alone.  With dead time (mode 1) which random
        numbers a slot uses depends on the detectors' last clicks before the
        chunk: the chunk is drawn as if there were none (``NEVER``) and
        :meth:`carry_chunk` keeps the draw if the real last clicks could not
        have blanked any click of it, else redraws the chunk in order."""
        if ctx["mode"] == 1 and not ctx["speculate"]:
            return None                 # drawn in order by carry_chunk
        last = np.full(4, NEVER, dtype=np.int64)
        first = np.full(4, NEVER, dtype=np.int64)
        return self._kernel(ctx, b0, b1, last, first), last, first

    def carry_chunk(self, ctx, b0, b1, drawn):
        """Blocks [b0, b1) in order.  Mode 1: detector k's first click f_k of
        the speculative draw is unblanked by the real last click l_k iff
        f_k - l_k > dead; if that holds for every k, every later click sees
        the same last clicks in both runs, so the draw is exact; its last
        clicks replace the carried ones where the chunk has a click.  Where
        more than half the chunks had to be redrawn (a long dead time against
        the click rate) speculation stops: the later chunks are drawn here,
        in order (the same records either way)."""
        if ctx["mode"] == 0:
            return drawn[0]
        carried = ctx["last"]
        ctx["carried"] += b1 - b0
        if drawn is not None:
            record, last, first = drawn
            dead = np.repeat(np.asarray(ctx["dead"], dtype=np.int64), 2)     # A0, A1, B0, B1
            if np.all((first == NEVER) | (first - carried > dead)):
                ctx["last"] = np.where(last == NEVER, carried, last)
                return record
            ctx["redrawn"] += b1 - b0
            if ctx["carried"] >= 8 and 2 * ctx["redrawn"] > ctx["carried"]:
                ctx["speculate"] = False
        return self._kernel(ctx, b0, b1, carried, np.full(4, NEVER, dtype=np.int64))

    def draw(self, ctx, b, start, n):
        return self.draw_chunk(ctx, b, b + 1)

    def carry(self, ctx, b, start, n, drawn):
        return self.carry_chunk(ctx, b, b + 1, drawn)

    @staticmethod
    def concatenate(records):
        return PairRecord.concatenate(records)


# --------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------
RUN_KEYS = ("pulses", "seed", "chunk_blocks", "threads")


def parse_run(d, section="run"):
    """(pulses, seed, chunk_blocks) from a [run] table; chunk_blocks None when
    not given (the link's :meth:`EntangledLinkModel.chunk_hint`)."""
    d = check_table(section, d)
    reject_unknown(section, d, RUN_KEYS)
    if "pulses" not in d:
        raise ValueError(f"{section}.pulses is required")
    pulses = check_int(f"{section}.pulses", d["pulses"], 1, MAX_PULSES)
    seed = check_seed(check_int(f"{section}.seed", d.get("seed", 1), 0, 2**64 - 1),
                      f"{section}.seed")
    chunk = d.get("chunk_blocks")          # None: the link's chunk_hint
    if chunk is not None:
        chunk = check_int(f"{section}.chunk_blocks", chunk, 1, 4096)
    run_threads(d, section)
    return pulses, seed, chunk


def run_threads(d, section="run"):
    """``[run] threads`` (validated) or None: how many threads simulate the
    blocks (results do not depend on it; see :func:`qchannel.links.base.threads`)."""
    return None if d.get("threads") is None else check_threads(f"{section}.threads",
                                                                 d["threads"])
