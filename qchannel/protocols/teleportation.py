"""Quantum teleportation with a linear-optics Bell-state measurement.

Setup (shaped like Ren et al., Nature 549, 70 (2017), ground-to-satellite
teleportation: input photon 1 and EPR photon 2 meet at the ground BSM, EPR
photon 3 travels up a 41-52 dB link; reported average fidelity over six
input states 0.80 +- 0.01, above the classical limit 2/3):

* **Sources.**  Input photons: n1 per trial from an SPDC source
  (``input_pair_prob``, same ``statistics``), prepared in one of the six
  states H, V, D, A, R, L (uniform).  EPR pairs: n2 per trial from [source]
  (``pair_prob``, ``visibility``: Werner state), ``statistics`` may be
  "single" (exactly one input photon and one pair per trial: ideal sources).
* **BSM.**  Beam splitter + PBSs; ``bell_states`` = 2 identifies psi- and
  psi+ (success 1/2), 1 only psi- (1/4).  Photons reach the BSM detectors
  with ``bsm_efficiency``; an event needs exactly two detected photons in a
  success pattern (more photons: higher order, neglected).  HOM visibility
  M: POVM E_psi-(+) = (1 + M)/2 |psi-(+)><..| + (1 - M)/2 |psi+(-)><..|, so
  genuine events get a Z error with probability (1 - M)/2.
  Classes: (k1, k2) = (1, 1) genuine; (0, 2) two EPR photons (double pair:
  Bob's photon uncorrelated with the input); (2, 0) two input photons
  (pattern probability (1 - n_z^2)/2 x weight; Bob only sees noise).
  ``input_herald_efficiency`` > 0 requires a herald click from the partners
  of the input photons (four-fold coincidence, 1 - (1 - eta_h)^n1), which
  suppresses the double-EPR-pair class (0, 2) relative to genuine events.
* **Bob.**  Photon 3 of the partner pair arrives with ``eta_3`` = channel
  transmittance x detector efficiency; its state is the input through the
  effective channel (Werner V, HOM Z error, channel depolarising /
  dephasing / static ``rotation_deg``, optional memory T1/T2 for
  ``memory_time_s``); other photons 3 (multi-pair) are random; dark counts
  ``dark_count_prob`` per detector.  Bob measures in the input's basis;
  double clicks get a random bit.  Fidelity = fraction of events with Bob's
  outcome equal to the input state (as measured in the experiment),
  fidelity_std = sqrt(F(1 - F)/events).

Monte Carlo: the number of events is Binomial(trials, P_success) from stream
(seed, ENTANGLEMENT, 0) (exact); each event's class is drawn from the exact
conditional table, then Bob's detector clicks photon by photon from stream
(seed, ENTANGLEMENT, 1).  ``theory`` reports the exact expectation of the
same model and the genuine-event fidelity 1/2 + Tr(M)/6.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def _bpmf(k, n, p):
    return math.comb(n, k) * p**k * (1 - p) ** (n - k) if 0 <= k <= n else 0.0

from qchannel.theory import entanglement as th
from qchannel import rng
from qchannel._core import entangled as _ent
from qchannel.params import (check_choice, check_int, check_prob, check_real, check_table,
                             reject_unknown)

SIX_STATES = np.array([[0, 0, 1], [0, 0, -1], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]],
                      float)
STATE_NAMES = ("H", "V", "D", "A", "R", "L")


@dataclass(frozen=True)
class TeleportationConfig:
    pair_prob: float = 0.01
    input_pair_prob: float = 0.01
    statistics: str = "thermal"
    visibility: float = 0.95
    rep_rate_hz: float = 1.0e8
    hom_visibility: float = 0.9
    bsm_efficiency: float = 0.5
    bell_states: int = 2
    input_herald_efficiency: float = 0.0
    transmittance: float = 1.0
    depolarizing: float = 0.0
    dephasing: float = 0.0
    rotation_deg: float = 0.0
    efficiency: float = 0.5
    dark_count_prob: float = 1e-6
    memory_time_s: float = 0.0
    memory_t1_s: float = math.inf
    memory_t2_s: float = math.inf
    trials: int = 10**9
    seed: int = 1
    extra: dict = field(default_factory=dict, compare=False)

    SOURCE_KEYS = ("type", "pair_prob", "statistics", "visibility", "rep_rate_hz")
    PROTOCOL_KEYS = ("type", "input_pair_prob", "hom_visibility", "bsm_efficiency",
                     "bell_states", "input_herald_efficiency", "memory_time_s", "memory_t1_s", "memory_t2_s")
    CHANNEL_KEYS = ("transmittance", "loss_db", "length_km", "attenuation_db_per_km",
                    "extra_loss_db", "depolarizing", "dephasing", "rotation_deg")
    DETECTOR_KEYS = ("efficiency", "dark_count_prob")
    RUN_KEYS = ("pulses", "seed")

    @classmethod
    def from_dict(cls, d):
        d = check_table("scenario", d)
        allowed = ("source", "channel", "detector", "protocol", "run")
        bad = sorted(set(d) - set(allowed))
        if bad:
            raise ValueError(f"[{bad[0]}] is not a known section; allowed sections: "
                             f"{', '.join(allowed)}")
        src, ch, det, pr, run = (check_table(k, d.get(k, {})) for k in allowed)
        reject_unknown("source", src, cls.SOURCE_KEYS)
        reject_unknown("channel", ch, cls.CHANNEL_KEYS)
        reject_unknown("detector", det, cls.DETECTOR_KEYS)
        reject_unknown("protocol", pr, cls.PROTOCOL_KEYS)
        reject_unknown("run", run, cls.RUN_KEYS)
        check_choice("source.type", src.get("type", "spdc"), ("spdc",))
        check_choice("protocol.type", pr.get("type", "teleportation"), ("teleportation",))
        stats = check_choice("source.statistics", src.get("statistics", "thermal"),
                             th.STATISTICS + ("single",))
        given = [k for k in ("transmittance", "loss_db", "length_km") if k in ch]
        if len(given) > 1:
            raise ValueError(f"channel.{given[1]} and channel.{given[0]} are exclusive")
        extra_db = check_real("channel.extra_loss_db", ch.get("extra_loss_db", 0.0), 0.0, 1000.0)
        if "loss_db" in ch:
            T = 10 ** (-check_real("channel.loss_db", ch["loss_db"], 0.0, 1000.0) / 10)
        elif "length_km" in ch:
            T = 10 ** (-check_real("channel.length_km", ch["length_km"], 0.0, 1e5)
                       * check_real("channel.attenuation_db_per_km",
                                    ch.get("attenuation_db_per_km", 0.2), 0.0, 100.0) / 10)
        else:
            T = check_prob("channel.transmittance", ch.get("transmittance", 1.0))
        T *= 10 ** (-extra_db / 10)
        if "pulses" not in run:
            raise ValueError("run.pulses is required")
        t1 = pr.get("memory_t1_s", math.inf)
        t2 = pr.get("memory_t2_s", math.inf)
        t1 = math.inf if t1 == math.inf else check_real("protocol.memory_t1_s", t1, 0.0, lo_open=True)
        t2 = math.inf if t2 == math.inf else check_real("protocol.memory_t2_s", t2, 0.0, lo_open=True)
        if t2 > 2 * t1:
            raise ValueError(f"protocol.memory_t2_s = {t2} is out of range: must be <= 2 memory_t1_s")
        mu = check_real("source.pair_prob", src.get("pair_prob", 0.01), 0.0, 2.0,
                        lo_open=stats != "single")
        mu_in = check_real("protocol.input_pair_prob", pr.get("input_pair_prob", 0.01), 0.0,
                           2.0, lo_open=stats != "single")
        return cls(
            pair_prob=mu, input_pair_prob=mu_in, statistics=stats,
            visibility=check_prob("source.visibility", src.get("visibility", 0.95)),
            rep_rate_hz=check_real("source.rep_rate_hz", src.get("rep_rate_hz", 1e8), 0.0,
                                   1e12, lo_open=True),
            hom_visibility=check_prob("protocol.hom_visibility", pr.get("hom_visibility", 0.9)),
            bsm_efficiency=check_prob("protocol.bsm_efficiency", pr.get("bsm_efficiency", 0.5),
                                      lo_open=True),
            bell_states=check_int("protocol.bell_states", pr.get("bell_states", 2), 1, 2),
            input_herald_efficiency=check_prob("protocol.input_herald_efficiency",
                                               pr.get("input_herald_efficiency", 0.0)),
            transmittance=T,
            depolarizing=check_prob("channel.depolarizing", ch.get("depolarizing", 0.0)),
            dephasing=check_real("channel.dephasing", ch.get("dephasing", 0.0), 0.0, 0.5),
            rotation_deg=check_real("channel.rotation_deg", ch.get("rotation_deg", 0.0),
                                    -180.0, 180.0),
            efficiency=check_prob("detector.efficiency", det.get("efficiency", 0.5), lo_open=True),
            dark_count_prob=check_real("detector.dark_count_prob", det.get("dark_count_prob", 1e-6),
                                       0.0, 1.0, hi_open=True),
            memory_time_s=check_real("protocol.memory_time_s", pr.get("memory_time_s", 0.0), 0.0),
            memory_t1_s=t1, memory_t2_s=t2,
            trials=check_int("run.pulses", run["pulses"], 1, 2**62),
            seed=rng.check_seed(check_int("run.seed", run.get("seed", 1), 0, 2**64 - 1)),
            extra={"scenario": d})

    # --------------------------------------------------------------- model
    def bloch(self):
        ch = (th.bloch_rotation(math.radians(self.rotation_deg))
              @ th.bloch_dephasing(self.dephasing) @ th.bloch_depolarizing(self.depolarizing))
        mem = None
        if self.memory_time_s > 0:
            mem = th.bloch_memory(self.memory_time_s, self.memory_t1_s, self.memory_t2_s)
        return th.teleportation_bloch(self.visibility, self.hom_visibility, ch, mem)

    def _numbers(self, mu):
        if self.statistics == "single":
            return np.array([0.0, 1.0])
        return th.pair_number_probs(mu, self.statistics, tol=1e-12)[:8]


def event_table(cfg):
    """Exact per-trial weights of successful events, by class.

    Rows: (state s, k1, partner present 0/1, random photons r, weight,
    P(correct | row)).  P(correct | row) is exact for the click model."""
    M, c = cfg.bloch()
    pc = np.clip(0.5 * (1 + np.einsum("si,ij,sj->s", SIX_STATES, M, SIX_STATES)
                        + SIX_STATES @ c), 0, 1)
    p1, p2 = cfg._numbers(cfg.input_pair_prob), cfg._numbers(cfg.pair_prob)
    eb, e3, d = cfg.bsm_efficiency, cfg.transmittance * cfg.efficiency, cfg.dark_count_prob
    nb = cfg.bell_states
    eh = cfg.input_herald_efficiency
    M_hom = cfg.hom_visibility
    rows = []
    for s in range(6):
        nz = SIX_STATES[s, 2]
        for k1, k2 in ((1, 1), (0, 2), (2, 0)):
            if k1 == 2:
                # |<psi+|chi chi>|^2 = (1 - nz^2)/2, in psi+ with weight (1+M)/2 and
                # in psi- with (1-M)/2
                b = (1 - nz**2) / 2 * ((1 - M_hom) / 2 + ((1 + M_hom) / 2 if nb == 2 else 0.0))
            else:
                b = 0.25 * nb
            if b == 0.0:
                continue
            acc = {}
            for n1, q1 in enumerate(p1):
                if n1 < k1 or q1 == 0:
                    continue
                w1 = q1 * _bpmf(k1, n1, eb) * (1 - (1 - eh) ** n1 if eh > 0 else 1.0)
                for n2, q2 in enumerate(p2):
                    if n2 < k2 or q2 == 0:
                        continue
                    w2 = q2 * _bpmf(k2, n2, eb)
                    m = n2 - 1 if k1 == 1 else n2
                    for partner in ((0, 1) if k1 == 1 else (0,)):
                        wp = (e3 if partner else 1 - e3) if k1 == 1 else 1.0
                        for r in range(m + 1):
                            wr = _bpmf(r, m, e3)
                            key = (partner, r)
                            acc[key] = acc.get(key, 0.0) + w1 * w2 * wp * wr
            for (partner, r), w in acc.items():
                p_click = 1 - (1 - d) ** 2 if (partner == 0 and r == 0) else 1.0
                rows.append((s, k1, partner, r, w * b * p_click / 6,
                             _p_correct(pc[s] if partner else None, r, d)))
    return np.array(rows)


def _p_correct(pc, r, d):
    """P(Bob's bit correct | >= 1 click): partner photon hits C with pc (None:
    no partner), r photons at random, dark counts d per detector."""
    tot = corr = 0.0
    for dest in ((0, 1) if pc is not None else (None,)):
        wd = 1.0 if dest is None else (pc if dest == 0 else 1 - pc)
        for j in range(r + 1):                       # random photons to C
            wj = math.comb(r, j) * 0.5**r
            for dc in (0, 1):
                for dw in (0, 1):
                    w = wd * wj * (d if dc else 1 - d) * (d if dw else 1 - d)
                    C = dest == 0 or j > 0 or dc
                    W = dest == 1 or (r - j) > 0 or dw
                    if not (C or W):
                        continue
                    tot += w
                    corr += w * (0.5 if (C and W) else (1.0 if C else 0.0))
    return corr / tot if tot > 0 else 0.5


@dataclass
class TeleportationResult:
    trials: int
    rep_rate_hz: float
    events: int
    correct: int
    fidelity: float | None
    fidelity_std: float | None
    success_prob: float
    per_state: dict
    genuine_fraction: float
    theory: dict
    seed: int
    config: dict

    def to_dict(self):
        return {"protocol": "teleportation", "seed": self.seed, "pulses": self.trials,
                "duration_s": self.trials / self.rep_rate_hz, "events": self.events,
                "event_rate_hz": self.events / (self.trials / self.rep_rate_hz),
                "fidelity": self.fidelity, "fidelity_std": self.fidelity_std,
                "success_prob": self.success_prob, "per_state": self.per_state,
                "genuine_fraction": self.genuine_fraction,
                "classical_limit": th.CLASSICAL_FIDELITY,
                "beats_classical": (None if self.fidelity is None else
                                    self.fidelity - 3 * self.fidelity_std > th.CLASSICAL_FIDELITY),
                "theory": self.theory, "config": self.config}


def _expectation(tab, M):
    w = tab[:, 4]
    p_succ = float(w.sum())
    return {"success_prob": p_succ,
            "fidelity": float((w * tab[:, 5]).sum() / p_succ) if p_succ > 0 else None,
            "fidelity_genuine": th.average_fidelity(M),
            "genuine_fraction": float(w[(tab[:, 1] == 1) & (tab[:, 2] == 1)].sum() / p_succ)
            if p_succ > 0 else None}


def expect_teleportation(cfg):
    """Closed form of a run: per-trial success probability, the average
    fidelity over the six input states (accidental events included), the
    genuine (no multi-pair, no dark count) fidelity and fraction, and the
    expected events and event rate."""
    theory = _expectation(event_table(cfg), cfg.bloch()[0])
    return {"protocol": "teleportation", "pulses": cfg.trials,
            "duration_s": cfg.trials / cfg.rep_rate_hz,
            "events_expected": theory["success_prob"] * cfg.trials,
            "event_rate_hz": theory["success_prob"] * cfg.rep_rate_hz,
            "classical_limit": th.CLASSICAL_FIDELITY, **theory}


def run_teleportation(config) -> TeleportationResult:
    """Run teleportation from a TeleportationConfig or a dict of sections."""
    if isinstance(config, dict):
        config = TeleportationConfig.from_dict(config)
    cfg = config
    tab = event_table(cfg)
    w = tab[:, 4]
    p_succ = float(w.sum())
    n_ev = _ent.binomial_draw(cfg.seed, int(rng.Purpose.ENTANGLEMENT), 0, cfg.trials,
                              min(p_succ, 1.0)) if p_succ > 0 else 0
    M, c = cfg.bloch()
    theory = _expectation(tab, M)
    per_state = {}
    if n_ev == 0:
        return TeleportationResult(cfg.trials, cfg.rep_rate_hz, 0, 0, None, None, p_succ / 1.0,
                                   {}, 0.0, theory, cfg.seed, _cfg_dict(cfg))
    u = rng.uniform(cfg.seed, rng.Purpose.ENTANGLEMENT, 1, 6 * n_ev).reshape(n_ev, 6)
    row = np.minimum(np.searchsorted(np.cumsum(w) / p_succ, u[:, 0], side="right"), len(w) - 1)
    s, partner, r = tab[row, 0].astype(int), tab[row, 2] > 0, tab[row, 3].astype(int)
    pc = np.clip(0.5 * (1 + np.einsum("si,ij,sj->s", SIX_STATES, M, SIX_STATES)
                        + SIX_STATES @ c), 0, 1)
    d = cfg.dark_count_prob
    # partner photon: to the correct detector (C) with pc[s]
    to_c = partner & (u[:, 1] < pc[s])
    to_w = partner & ~to_c
    # random photons: j ~ Bin(r, 1/2) to C, via inversion of the binomial cdf
    j = np.zeros(n_ev, dtype=int)
    cdf = 0.5 ** r.astype(float)
    for k in range(1, int(r.max()) + 1 if n_ev else 1):
        step = (u[:, 2] > cdf) & (k <= r)
        j += step
        cdf = cdf + np.array([math.comb(int(x), k) for x in r]) * 0.5 ** r.astype(float)
    C = to_c | (j > 0)
    W = to_w | ((r - j) > 0)
    dc, dw = u[:, 3] < d, u[:, 4] < d
    none = ~(partner | (r > 0))
    # no photon at all: darks conditioned on >= 1 click
    first = u[:, 3] * (2 - d) < 1.0
    dc = np.where(none, first, dc)
    dw = np.where(none, np.where(first, u[:, 4] < d, True), dw)
    C, W = C | dc, W | dw
    bit_ok = np.where(C & W, u[:, 5] < 0.5, C)
    correct = int(bit_ok.sum())
    F = correct / n_ev
    for k, name in enumerate(STATE_NAMES):
        sel = s == k
        if sel.any():
            per_state[name] = {"events": int(sel.sum()), "fidelity": float(bit_ok[sel].mean())}
    return TeleportationResult(
        trials=cfg.trials, rep_rate_hz=cfg.rep_rate_hz, events=int(n_ev), correct=correct,
        fidelity=F, fidelity_std=math.sqrt(max(F * (1 - F), 1e-300) / n_ev) if F * (1 - F) > 0
        else 1.0 / n_ev, success_prob=n_ev / cfg.trials, per_state=per_state,
        genuine_fraction=float(np.mean((tab[row, 1] == 1) & partner)), theory=theory,
        seed=cfg.seed, config=_cfg_dict(cfg))


def _cfg_dict(cfg):
    return {k: getattr(cfg, k) for k in cfg.__dataclass_fields__ if k != "extra"}
