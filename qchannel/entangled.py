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

The Monte Carlo is ``qchannel._core.entangled`` (event-driven, blocks of
2^24 slots; the block index is the Philox stream block).  Drift series use
stream (seed, ENTANGLEMENT, DRIFT_BLOCK + arm).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from qchannel.theory import entanglement as th
from qchannel._core import decoherence as _deco
from qchannel._core import entangled as _ent
from qchannel.params import (check_choice, check_int, check_prob, check_real, check_table,
                             reject_unknown)
from qchannel.rng import Purpose, check_seed

#: Fixed number of slots per block (reproducibility contract).
BLOCK_SLOTS = 1 << 24
#: Stream blocks reserved for drift series (above the slot blocks).
DRIFT_BLOCK = 2**32 - 256
MAX_PULSES = DRIFT_BLOCK * BLOCK_SLOTS
#: Time bins at most (segments of the kernel).
MAX_BINS = 1_000_000

FLAG_A_DOUBLE = _ent.FLAG_A_DOUBLE
FLAG_B_DOUBLE = _ent.FLAG_B_DOUBLE
FLAG_ACCIDENTAL = _ent.FLAG_ACCIDENTAL
FLAG_EVE = _ent.FLAG_EVE


@dataclass(frozen=True)
class SPDCSource:
    pair_prob: float = 0.01
    statistics: str = "thermal"
    visibility: float = 0.98
    heralding_efficiency: float = 1.0
    rep_rate_hz: float = 1.0e8
    position: str = "middle"
    type: str = "spdc"

    KEYS = ("type", "pair_prob", "statistics", "visibility", "heralding_efficiency",
            "rep_rate_hz", "position")

    def __post_init__(self):
        s = "source"
        check_choice(f"{s}.type", self.type, ("spdc",))
        object.__setattr__(self, "pair_prob", check_real(f"{s}.pair_prob", self.pair_prob,
                                                         0.0, 2.0, lo_open=True))
        check_choice(f"{s}.statistics", self.statistics, th.STATISTICS)
        object.__setattr__(self, "visibility", check_prob(f"{s}.visibility", self.visibility))
        object.__setattr__(self, "heralding_efficiency",
                           check_prob(f"{s}.heralding_efficiency", self.heralding_efficiency,
                                      lo_open=True))
        object.__setattr__(self, "rep_rate_hz", check_real(f"{s}.rep_rate_hz", self.rep_rate_hz,
                                                           0.0, 1.0e12, lo_open=True))
        check_choice(f"{s}.position", self.position, ("middle", "alice"))

    @classmethod
    def from_dict(cls, d, section="source"):
        reject_unknown(section, check_table(section, d), cls.KEYS)
        return cls(**d)

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class ArmChannel:
    """One arm: loss, background, unital noise and polarisation drift."""

    transmittance: float = 1.0
    loss_db: float | None = None
    length_km: float | None = None
    attenuation_db_per_km: float | None = None
    extra_loss_db: float = 0.0
    background_prob: float = 0.0
    depolarizing: float = 0.0
    dephasing: float = 0.0
    drift_time_s: float | None = None
    compensation_interval_s: float | None = None
    section: str = field(default="channel", compare=False, repr=False)

    KEYS = ("transmittance", "loss_db", "length_km", "attenuation_db_per_km", "extra_loss_db",
            "background_prob", "depolarizing", "dephasing", "drift_time_s",
            "compensation_interval_s")

    @classmethod
    def from_dict(cls, d, section="channel.bob"):
        d = dict(check_table(section, d))
        reject_unknown(section, d, cls.KEYS)
        n = lambda k: f"{section}.{k}"  # noqa: E731
        given = [k for k in ("transmittance", "loss_db", "length_km") if k in d]
        if len(given) > 1:
            raise ValueError(f"{n(given[1])} and {n(given[0])} are exclusive: give the loss one way")
        if "attenuation_db_per_km" in d and "length_km" not in d:
            raise ValueError(f"{n('attenuation_db_per_km')} needs {n('length_km')}")
        extra = check_real(n("extra_loss_db"), d.get("extra_loss_db", 0.0), 0.0, 1000.0)
        if "length_km" in d:
            L = check_real(n("length_km"), d["length_km"], 0.0, 1.0e5)
            a = check_real(n("attenuation_db_per_km"), d.get("attenuation_db_per_km", 0.2),
                           0.0, 100.0)
            loss = L * a + extra
            T = 10.0 ** (-loss / 10.0)
        elif "loss_db" in d:
            loss = check_real(n("loss_db"), d["loss_db"], 0.0, 1000.0)
            T = 10.0 ** (-(loss + extra) / 10.0)
        else:
            T = check_prob(n("transmittance"), d.get("transmittance", 1.0)) * 10.0 ** (-extra / 10.0)
        if not T > 0.0:
            raise ValueError(f"{section}: the transmittance underflows to 0; reduce the loss")
        tau = d.get("drift_time_s")
        if tau is not None:
            tau = check_real(n("drift_time_s"), tau, 0.0, lo_open=True)
        comp = d.get("compensation_interval_s")
        if comp is not None:
            comp = check_real(n("compensation_interval_s"), comp, 0.0, lo_open=True)
            if tau is None:
                raise ValueError(f"{n('compensation_interval_s')} needs {n('drift_time_s')}")
        return cls(
            transmittance=T, loss_db=d.get("loss_db"), length_km=d.get("length_km"),
            attenuation_db_per_km=d.get("attenuation_db_per_km"), extra_loss_db=extra,
            background_prob=check_real(n("background_prob"), d.get("background_prob", 0.0),
                                       0.0, 1.0, hi_open=True),
            depolarizing=check_prob(n("depolarizing"), d.get("depolarizing", 0.0)),
            dephasing=check_real(n("dephasing"), d.get("dephasing", 0.0), 0.0, 0.5),
            drift_time_s=tau, compensation_interval_s=comp, section=section)

    def to_dict(self):
        d = asdict(self)
        d.pop("section")
        return {k: v for k, v in d.items() if v is not None}

    def bloch(self, phi=0.0):
        """Bloch matrix of the arm's unital noise for drift angle phi."""
        return (th.bloch_rotation(phi) @ th.bloch_dephasing(self.dephasing)
                @ th.bloch_depolarizing(self.depolarizing))


@dataclass(frozen=True)
class SideDetector:
    efficiency: float = 0.6
    dark_count_prob: float = 1.0e-6
    dead_time_ns: float = 0.0
    jitter_ps: float = 0.0

    KEYS = ("efficiency", "dark_count_prob", "dead_time_ns", "jitter_ps")

    @classmethod
    def from_dict(cls, d, section="detector"):
        reject_unknown(section, d, cls.KEYS)
        n = lambda k: f"{section}.{k}"  # noqa: E731
        return cls(
            efficiency=check_prob(n("efficiency"), d.get("efficiency", 0.6), lo_open=True),
            dark_count_prob=check_real(n("dark_count_prob"), d.get("dark_count_prob", 1e-6),
                                       0.0, 1.0, hi_open=True),
            dead_time_ns=check_real(n("dead_time_ns"), d.get("dead_time_ns", 0.0), 0.0, 1e9),
            jitter_ps=check_real(n("jitter_ps"), d.get("jitter_ps", 0.0), 0.0, 1e9))

    def to_dict(self):
        return asdict(self)


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


class EntangledLinkModel:
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

    def blocks(self, seed, chunk_blocks=1, progress=None):
        """Yield one PairRecord per chunk of ``chunk_blocks`` fixed blocks; the
        concatenation does not depend on ``chunk_blocks``."""
        seed = check_seed(seed)
        c = self.config
        rate = c.source.rep_rate_hz
        dead = [max(0, math.ceil(d.dead_time_ns * 1e-9 * rate - 1e-9) - 1)
                for d in (c.det_alice, c.det_bob)]
        mode = 1 if (c.det_alice.dead_time_ns > 0 or c.det_bob.dead_time_ns > 0) else 0
        t = self.tables(seed, mode)
        self.last_tables = t
        self.mode = mode
        last = np.full(4, -(1 << 62), dtype=np.int64)
        a_cdf = np.cumsum(self.probs_a) / self.probs_a.sum()
        b_cdf = np.cumsum(self.probs_b) / self.probs_b.sum()
        n_blocks = -(-self.pulses // BLOCK_SLOTS)
        parts = []
        for b in range(n_blocks):
            start = b * BLOCK_SLOTS
            n = min(BLOCK_SLOTS, self.pulses - start)
            out = _ent.run_block(seed, b, start, n, t["seg_start"], t["gap_scale"], t["n_cdf"],
                                 t["side"], a_cdf, b_cdf, t["corr"], mode, self.eve_fraction,
                                 t["corr_ae"], t["corr_eb"], dead[0], dead[1], last,
                                 float(t["p_event"].max()) * n)
            parts.append(PairRecord(*out))
            if len(parts) == chunk_blocks or b == n_blocks - 1:
                yield PairRecord.concatenate(parts)
                parts = []
            if progress is not None:
                progress(start + n, self.pulses)

    def simulate(self, seed, chunk_blocks=1, progress=None):
        """All coincidences of the run as one PairRecord."""
        return PairRecord.concatenate(self.blocks(seed, chunk_blocks, progress))


# --------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------
RUN_KEYS = ("pulses", "seed", "chunk_blocks")


def parse_run(d, section="run"):
    """(pulses, seed, chunk_blocks) from a [run] table."""
    d = check_table(section, d)
    reject_unknown(section, d, RUN_KEYS)
    if "pulses" not in d:
        raise ValueError(f"{section}.pulses is required")
    pulses = check_int(f"{section}.pulses", d["pulses"], 1, MAX_PULSES)
    seed = check_seed(check_int(f"{section}.seed", d.get("seed", 1), 0, 2**64 - 1),
                      f"{section}.seed")
    chunk = check_int(f"{section}.chunk_blocks", d.get("chunk_blocks", 1), 1, 4096)
    return pulses, seed, chunk
