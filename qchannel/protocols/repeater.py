"""Quantum-repeater chains: waiting time, delivered fidelity and key rate.

Model (all of it documented here; the compiled kernel is
``qchannel._core.repeater``):

* **Segments and timing.**  ``segments`` elementary links make heralded
  attempts in parallel, one per *attempt slot* of ``attempt_time_s`` seconds;
  each attempt succeeds with probability ``success_prob``.  A slot is one use
  of every elementary channel, so rates "per channel use" are per slot.
  Attempt counts are drawn as geometric variables, never stepped.
* **Swapping.**  Nested, swap as soon as possible: a span of ``m`` segments
  is built from a left span of ``m // 2`` and a right span of ``m - m // 2``
  (the doubling scheme of Shchukin, Schmidt, van Loock, PRA 100, 032322
  (2019) for ``m = 2^n``; any ``m >= 1`` is accepted).  A swap succeeds with
  ``swap_prob``; a failed swap loses both halves and the span restarts.
  Swaps and heralds take no extra time (classical signalling is folded into
  ``attempt_time_s``).  Werner inputs give ``w = w1 w2``, i.e.
  ``F = F1 F2 + (1 - F1)(1 - F2) / 3``; the kernel tracks general
  Bell-diagonal states.
* **Elementary pairs.**  Werner states of fidelity ``initial_fidelity``.
  With the fiber description (``total_length_km`` instead of
  ``success_prob``), heralding is *two-photon detection at the segment
  midpoint* (each memory emits a photon that travels ``L_seg / 2`` to a
  linear-optics Bell-state measurement):
  ``p = bsm_success_prob * detector_efficiency**2 * 10**(-alpha L_seg / 10)``
  with ``bsm_success_prob = 1/2`` by default, and
  ``attempt_time_s = L_seg / c_fiber`` (photon to the midpoint and herald
  back), ``c_fiber = 2e5 km/s``.
* **Memories.**  Each stored qubit decoheres with time constant
  ``memory_t2_s``: depolarising (default) multiplies the Werner parameter by
  ``exp(-t / T2)`` per qubit, dephasing sends ``F -> (1 + exp(-t/T2)) / 2`` for
  one qubit of a Bell pair.  A stored *pair* has both qubits in memory, so its
  Werner parameter decays as ``w(t) = w0 exp(-2 t / T2)``.  Omit
  ``memory_t2_s`` for perfect memories.
* **Cutoff.**  ``cutoff_s``: a finished pair (elementary or swapped) that has
  waited more than ``floor(cutoff_s / attempt_time_s)`` slots for its partner
  is discarded and rebuilt; its partner keeps going.
* **Purification.**  ``purification = "dejmps"`` or ``"bbpssw"``: one round
  on the elementary links.  Each segment builds two pairs in parallel (two
  memories per side), applies one round of DEJMPS (Deutsch et al., PRL 77,
  2818 (1996)) or BBPSSW (Bennett et al., PRL 76, 722 (1996): twirl to
  Werner, then the same bilateral CNOT round) and restarts on failure.
* **Key.**  BBM92 with asymptotic key fraction
  ``r = max(0, 1 - h2(e_X) - h2(e_Z))`` from the QBERs of the average
  delivered state (Werner: ``e = (1 - w) / 2``), times the delivered pairs per
  slot (``1 / mean waiting slots``; the chain restarts after each delivery).
  Compare with the PLOB bound ``-log2(1 - eta)`` for the end-to-end fiber
  transmissivity (``plob_per_channel_use``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from qchannel import rng
from qchannel.links.repeater import (ChainDidNotDeliver, ChainSamples,  # noqa: F401
                                     RepeaterChainLink)
from qchannel.params import (check_choice, check_int, check_prob, check_real,
                             reject_unknown)
from qchannel.theory import h2 as binary_entropy

__all__ = [
    "RepeaterConfig",
    "RepeaterResult",
    "run_repeater",
    "simulate_chain",
    "ChainSamples",
    "plob_per_channel_use",
    "plob_from_loss_db",
    "swap_werner_fidelity",
    "bbm92_key_fraction",
    "binary_entropy",
    "FIBER_LIGHT_SPEED_KM_PER_S",
]

FIBER_LIGHT_SPEED_KM_PER_S = 2.0e5
DEFAULT_BLOCK = 1 << 16
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
_DECOHERENCE = ("depolarising", "dephasing")
_PURIFICATION = ("none", "dejmps", "bbpssw")


# --------------------------------------------------------------------------
# Closed forms used by the Python layer
# --------------------------------------------------------------------------
def swap_werner_fidelity(f1, f2):
    """Fidelity after swapping two Werner pairs: F1 F2 + (1 - F1)(1 - F2) / 3."""
    return f1 * f2 + (1 - f1) * (1 - f2) / 3


def bbm92_key_fraction(e_x, e_z):
    """Asymptotic BBM92 (entanglement-based BB84) key fraction per sifted pair,
    ``max(0, 1 - h2(e_X) - h2(e_Z))``, without sifting loss (efficient BB84)."""
    return max(0.0, 1.0 - binary_entropy(e_x) - binary_entropy(e_z))


def plob_per_channel_use(eta):
    """PLOB repeaterless bound -log2(1 - eta) in bits per channel use
    (Pirandola et al., Nat. Commun. 8, 15043 (2017))."""
    eta = check_real("eta", eta, 0.0, 1.0, hi_open=True)
    return -math.log2(1.0 - eta)


def plob_from_loss_db(loss_db):
    """PLOB bound for a channel of total loss ``loss_db`` (dB)."""
    loss_db = check_real("loss_db", loss_db, 0.0, lo_open=True)
    # -log2(1 - eta) with eta = 10^(-loss/10); log1p keeps precision for tiny eta
    eta = 10.0 ** (-loss_db / 10.0)
    return -math.log1p(-eta) / math.log(2.0)


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class RepeaterConfig:
    """Validated description of a repeater chain and its Monte Carlo run.

    Give either ``success_prob`` (+ ``attempt_time_s``) or the fiber
    description ``total_length_km`` (+ ``attenuation_db_per_km``,
    ``detector_efficiency``, ``bsm_success_prob``, optional
    ``attempt_time_s`` override).  See the module docstring for the model.
    """

    segments: int
    success_prob: float
    attempt_time_s: float
    memory_t2_s: float | None = None
    decoherence: str = "depolarising"
    swap_prob: float = 1.0
    initial_fidelity: float = 1.0
    cutoff_s: float | None = None
    purification: str = "none"
    realisations: int = 100_000
    seed: int = 0
    chunk_size: int = DEFAULT_BLOCK
    max_attempts: int = 10**12
    histogram_bins: int = 50
    # fiber description (kept for reporting and the PLOB comparison)
    total_length_km: float | None = None
    attenuation_db_per_km: float | None = None
    detector_efficiency: float | None = None
    bsm_success_prob: float | None = None
    total_loss_db: float | None = None

    FIBER_KEYS = ("total_length_km", "attenuation_db_per_km", "detector_efficiency",
                  "bsm_success_prob")

    @classmethod
    def allowed_keys(cls):
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_dict(cls, d, section="repeater"):
        """Build from a TOML-shaped dict; unknown keys and bad values raise
        ``ValueError`` naming ``section.key``."""
        if not isinstance(d, dict):
            raise ValueError(f"{section} must be a table of keys, got {type(d).__name__}")
        reject_unknown(section, d, cls.allowed_keys())
        n = lambda k: f"{section}.{k}"  # noqa: E731

        segments = check_int(n("segments"), _required(d, "segments", section), 1, 4096)
        fiber = "total_length_km" in d
        if fiber and "success_prob" in d:
            raise ValueError(
                f"{n('success_prob')} and {n('total_length_km')} are exclusive: give the "
                "success probability directly or the fiber it is derived from, not both")
        if not fiber:
            for k in cls.FIBER_KEYS[1:]:
                if k in d:
                    raise ValueError(f"{n(k)} needs {n('total_length_km')} (fiber description)")
        total_loss_db = None
        length = alpha = eta_det = p0 = None
        if fiber:
            length = check_real(n("total_length_km"), d["total_length_km"], 0.0, lo_open=True)
            alpha = check_real(n("attenuation_db_per_km"), d.get("attenuation_db_per_km", 0.2),
                               0.0, 10.0)
            eta_det = check_prob(n("detector_efficiency"), d.get("detector_efficiency", 1.0),
                                 lo_open=True)
            p0 = check_prob(n("bsm_success_prob"), d.get("bsm_success_prob", 0.5), lo_open=True)
            seg_len = length / segments
            p = p0 * eta_det**2 * 10.0 ** (-alpha * seg_len / 10.0)
            if not p > 0.0:
                raise ValueError(
                    f"{n('total_length_km')} = {length}: the derived per-attempt success "
                    f"probability {p:.3g} underflows; use more segments or less loss")
            if "attempt_time_s" in d:
                t_att = check_real(n("attempt_time_s"), d["attempt_time_s"], 0.0, lo_open=True)
            else:
                t_att = seg_len / FIBER_LIGHT_SPEED_KM_PER_S
            total_loss_db = alpha * length
            if "total_loss_db" in d:
                raise ValueError(f"{n('total_loss_db')} is derived from the fiber; do not give it")
        else:
            p = check_prob(n("success_prob"), _required(d, "success_prob", section),
                           lo_open=True)
            t_att = check_real(n("attempt_time_s"),
                               _required(d, "attempt_time_s", section),
                               0.0, lo_open=True)
            if d.get("total_loss_db") is not None:
                total_loss_db = check_real(n("total_loss_db"), d["total_loss_db"], 0.0,
                                           lo_open=True)

        t2 = d.get("memory_t2_s")
        if t2 is not None:
            if isinstance(t2, (int, float)) and not isinstance(t2, bool) and t2 == math.inf:
                t2 = None
            else:
                t2 = check_real(n("memory_t2_s"), t2, 0.0, lo_open=True)
        cutoff = d.get("cutoff_s")
        if cutoff is not None:
            cutoff = check_real(n("cutoff_s"), cutoff, 0.0)
        return cls(
            segments=segments,
            success_prob=p,
            attempt_time_s=t_att,
            memory_t2_s=t2,
            decoherence=check_choice(n("decoherence"), d.get("decoherence", "depolarising"),
                                     _DECOHERENCE),
            swap_prob=check_prob(n("swap_prob"), d.get("swap_prob", 1.0), lo_open=True),
            initial_fidelity=check_real(n("initial_fidelity"), d.get("initial_fidelity", 1.0),
                                        0.25, 1.0),
            cutoff_s=cutoff,
            purification=check_choice(n("purification"), d.get("purification", "none"),
                                      _PURIFICATION),
            realisations=check_int(n("realisations"), d.get("realisations", 100_000), 1,
                                   2**47),
            seed=rng.check_seed(d.get("seed", 0), n("seed")),
            chunk_size=check_int(n("chunk_size"), d.get("chunk_size", DEFAULT_BLOCK), 1,
                                 2**26),
            max_attempts=check_int(n("max_attempts"), d.get("max_attempts", 10**12), 1, 2**62),
            histogram_bins=check_int(n("histogram_bins"), d.get("histogram_bins", 50), 1,
                                     10_000),
            total_length_km=length,
            attenuation_db_per_km=alpha,
            detector_efficiency=eta_det,
            bsm_success_prob=p0,
            total_loss_db=total_loss_db,
        )

    def to_dict(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _required(d, key, section):
    if key not in d or d[key] is None:
        raise ValueError(f"{section}.{key} is required")
    return d[key]


# --------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------
def simulate_chain(config: RepeaterConfig, first=0, count=None, chunk_size=None):
    """Run realisations ``first .. first + count - 1`` of ``config`` through
    the chain's link (:class:`qchannel.links.repeater.RepeaterChainLink`) in
    blocks of ``chunk_size``; the arrays do not depend on the block size.
    Raises :class:`ChainDidNotDeliver` (a ``ValueError``) if a realisation
    runs past ``max_attempts`` slots (e.g. a cutoff too short to ever finish)."""
    if not isinstance(config, RepeaterConfig):
        raise ValueError("config must be a RepeaterConfig (use RepeaterConfig.from_dict)")
    link = RepeaterChainLink(config, first, count, chunk_size)
    if link.pulses == 0:
        return ChainSamples(np.empty(0, np.int64), np.empty((0, 4)), np.empty(0))
    return link.simulate(config.seed)


@dataclass
class RepeaterResult:
    config: RepeaterConfig
    samples: ChainSamples = field(repr=False)
    waiting_time_attempts_mean: float
    waiting_time_attempts_sem: float
    waiting_time_mean: float
    fidelity_mean: float
    fidelity_sem: float
    qber_x: float
    qber_z: float
    key_fraction: float
    pairs_per_attempt: float
    pairs_per_s: float
    key_rate_per_channel_use: float
    key_rate_bps: float
    plob_per_channel_use: float | None
    quantiles: dict
    histogram: dict

    def to_dict(self):
        return {
            "protocol": "repeater-chain",
            "seed": self.config.seed,
            "segments": self.config.segments,
            "success_prob": self.config.success_prob,
            "attempt_time_s": self.config.attempt_time_s,
            "realisations": int(self.samples.wait_slots.size),
            "waiting_time_mean": self.waiting_time_mean,
            "waiting_time_attempts_mean": self.waiting_time_attempts_mean,
            "waiting_time_attempts_sem": self.waiting_time_attempts_sem,
            "fidelity_mean": self.fidelity_mean,
            "fidelity_sem": self.fidelity_sem,
            "qber_x": self.qber_x,
            "qber_z": self.qber_z,
            "key_fraction": self.key_fraction,
            "pairs_per_attempt": self.pairs_per_attempt,
            "pairs_per_s": self.pairs_per_s,
            "key_rate_per_channel_use": self.key_rate_per_channel_use,
            "key_rate_bps": self.key_rate_bps,
            "plob_per_channel_use": self.plob_per_channel_use,
            "beats_plob": (None if self.plob_per_channel_use is None
                           else self.key_rate_per_channel_use > self.plob_per_channel_use),
            "waiting_time_quantiles_s": {k: v * self.config.attempt_time_s
                                         for k, v in self.quantiles.items()},
            "waiting_time_quantiles_attempts": dict(self.quantiles),
            "waiting_time_histogram_attempts": dict(self.histogram),
            "aborted": False,
            "abort_reason": "",
        }


def run_repeater(config) -> RepeaterResult:
    """Simulate a repeater chain (``RepeaterConfig`` or a dict for
    ``RepeaterConfig.from_dict``) and derive the waiting-time distribution,
    fidelity, pair rate, BBM92 key rate and the PLOB comparison."""
    if isinstance(config, dict):
        config = RepeaterConfig.from_dict(config)
    smp = simulate_chain(config)
    n = smp.wait_slots.size
    w = smp.wait_slots.astype(np.float64)
    mean_slots = float(w.mean())
    sem_slots = float(w.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    f = smp.fidelity
    e_z = float(np.mean(smp.states[:, 1] + smp.states[:, 3]))   # X or Y flips Z outcomes
    e_x = float(np.mean(smp.states[:, 2] + smp.states[:, 3]))   # Z or Y flips X outcomes
    frac = bbm92_key_fraction(e_x, e_z)
    pairs_per_attempt = 1.0 / mean_slots
    q = np.quantile(w, QUANTILES)
    counts, edges = np.histogram(w, bins=config.histogram_bins)
    plob = None if config.total_loss_db is None else plob_from_loss_db(config.total_loss_db)
    return RepeaterResult(
        config=config,
        samples=smp,
        waiting_time_attempts_mean=mean_slots,
        waiting_time_attempts_sem=sem_slots,
        waiting_time_mean=mean_slots * config.attempt_time_s,
        fidelity_mean=float(f.mean()),
        fidelity_sem=float(f.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
        qber_x=e_x,
        qber_z=e_z,
        key_fraction=frac,
        pairs_per_attempt=pairs_per_attempt,
        pairs_per_s=pairs_per_attempt / config.attempt_time_s,
        key_rate_per_channel_use=pairs_per_attempt * frac,
        key_rate_bps=pairs_per_attempt * frac / config.attempt_time_s,
        plob_per_channel_use=plob,
        quantiles={f"q{int(round(100 * k)):02d}": float(v) for k, v in zip(QUANTILES, q)},
        histogram={"edges": edges.tolist(), "counts": counts.tolist()},
    )
