"""Decoy-state BB84: sifting, counting, finite-key estimation, the report.

Counts are accumulated block by block from the sparse detection records, so
memory stays bounded whatever the number of pulses.  The key basis is X:
sifted key bits are the detections where Alice and Bob both used X (all
intensities, as in Lim et al., PRA 89, 022307 (2014)); Z detections estimate
the phase error.

Two sifted counts are reported:

* ``sifted_bits``: X-X detections of every intensity, the bits the key is
  distilled from (and ``sifted_rate_bps`` per report bin of a pass);
* ``sifted_bits_all_bases``: detections where Alice's and Bob's bases match,
  X-X plus Z-Z, every intensity (``sifted_rate_all_bases_bps`` per bin).  This
  is what experiments usually call the sifted key (e.g. Liao et al., Nature
  549, 43 (2017)); the Z-Z part is disclosed for parameter estimation.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from qchannel.protocols.finite_key import (binary_entropy, ec_leakage_estimate,
                                           finite_key_length)

X, Z = 0, 1


class EveTally:
    """Eve's knowledge of the sifted (X-X) bits of an attacked link, per
    intensity: how many bits, how many she knows, how many of her guesses
    match Alice's / Bob's bit; and (class, Alice's bit, known, Eve's guess)
    of every sifted bit while there are at most ``keep_bits`` of them."""

    def __init__(self, n_intensities, keep_bits=0):
        K = self.K = n_intensities
        self.n = np.zeros(K, dtype=np.int64)
        self.known = np.zeros(K, dtype=np.int64)
        self.right_alice = np.zeros(K, dtype=np.int64)
        self.right_bob = np.zeros(K, dtype=np.int64)
        self.keep_bits = int(keep_bits)
        self.keeping = self.keep_bits > 0
        self._parts, self._kept = [], 0

    def add(self, record, key):
        if record.eve_tally is not None:
            # counted by the attack kernel (no GIL held); ``key`` is not needed
            self.n += record.eve_tally[0]
            self.known += record.eve_tally[1]
            self.right_alice += record.eve_tally[2]
            self.right_bob += record.eve_tally[3]
            if self.keeping:
                self._kept += len(record.eve_sifted[0])
                if self._kept > self.keep_bits:
                    self.keeping, self._parts = False, []
                else:
                    self._parts.append(record.eve_sifted)
            return
        cls = record.intensity[key].astype(np.int64)
        alice, bob = record.alice_bit[key], record.bob_bit[key]
        known, guess = record.eve_known[key].astype(bool), record.eve_guess[key]
        count = lambda sel: np.bincount(cls[sel], minlength=self.K)  # noqa: E731
        self.n += np.bincount(cls, minlength=self.K)
        self.known += count(known)
        self.right_alice += count(guess == alice)
        self.right_bob += count(guess == bob)
        if self.keeping:
            self._kept += len(cls)
            if self._kept > self.keep_bits:
                self.keeping, self._parts = False, []
            else:
                self._parts.append((cls.astype(np.uint8), alice, known, guess))

    def kept(self):
        """(class, Alice's bit, known, Eve's guess) arrays over the sifted
        bits in slot order, or None when more than ``keep_bits`` were seen."""
        if not self.keeping:
            return None
        if not self._parts:
            return (np.empty(0, np.uint8), np.empty(0, np.uint8), np.empty(0, bool),
                    np.empty(0, np.uint8))
        return tuple(np.concatenate(x) for x in zip(*self._parts))


class DecoyCounts:
    """Per intensity k and basis pair (a, b): detections and bit errors.
    Records of an attacked link also feed ``eve`` (an :class:`EveTally`
    keeping at most ``eve_keep_bits`` sifted bits)."""

    def __init__(self, n_intensities, keep_sifted=False, bin_slots=None, eve_keep_bits=0):
        self.K = n_intensities
        self.eve = None
        self.eve_keep_bits = eve_keep_bits
        # Optional per-time-bin totals (bins of ``bin_slots`` pulse slots).
        self.bin_slots = bin_slots
        self.bin_sent = np.zeros(0, dtype=np.int64)
        self.bin_detections = np.zeros(0, dtype=np.int64)
        self.bin_sifted = np.zeros(0, dtype=np.int64)
        self.bin_sifted_all_bases = np.zeros(0, dtype=np.int64)
        self.bin_errors = np.zeros(0, dtype=np.int64)
        self.sent = np.zeros(n_intensities, dtype=np.int64)
        self.detections = np.zeros((n_intensities, 2, 2), dtype=np.int64)
        self.errors = np.zeros((n_intensities, 2, 2), dtype=np.int64)
        self.double_clicks = 0
        self.pulses = 0
        self.keep_sifted = keep_sifted
        self._alice, self._bob = [], []

    def add(self, record):
        K = self.K
        wrong = None
        if getattr(record, "tally", None) is not None:
            # counted by the kernel while it wrote the events (no GIL held)
            self.detections += record.tally.sum(axis=-1)
            self.errors += record.tally[..., 1]
            self.double_clicks += int(record.double_clicks_total)
        else:
            idx = (record.intensity.astype(np.int64) * 2 + record.alice_basis) * 2 \
                + record.bob_basis
            self.detections += np.bincount(idx, minlength=4 * K).reshape(K, 2, 2)
            wrong = record.alice_bit != record.bob_bit
            self.errors += np.bincount(idx[wrong], minlength=4 * K).reshape(K, 2, 2)
            self.double_clicks += int(np.count_nonzero(record.double_click))
        self.sent += record.sent
        self.pulses += record.n_slots
        if self.bin_slots:
            self._add_bins(record, wrong)
        if self.keep_sifted:
            key = (record.alice_basis == X) & (record.bob_basis == X)
            self._alice.append(record.alice_bit[key])
            self._bob.append(record.bob_bit[key])
        if record.eve_known is not None:
            if self.eve is None:
                self.eve = EveTally(K, self.eve_keep_bits)
            self.eve.add(record, None if record.eve_tally is not None
                         else (record.alice_basis == X) & (record.bob_basis == X))

    def _add_bins(self, record, wrong):
        first = record.first_slot // self.bin_slots
        last = (record.first_slot + record.n_slots - 1) // self.bin_slots + 1
        if last > len(self.bin_sent):
            grow = last - len(self.bin_sent)
            for name in ("bin_sent", "bin_detections", "bin_sifted", "bin_sifted_all_bases",
                         "bin_errors"):
                setattr(self, name, np.concatenate([getattr(self, name), np.zeros(grow, np.int64)]))
        # Slots sent per bin: the record covers a contiguous range of slots.
        edges = np.arange(first, last + 1) * self.bin_slots
        lo = np.clip(edges[:-1], record.first_slot, None)
        hi = np.clip(edges[1:], None, record.first_slot + record.n_slots)
        self.bin_sent[first:last] += np.maximum(hi - lo, 0)
        # The record's events per bin of four disjoint kinds: bases differ (0),
        # Z-Z (1), X-X right (2), X-X wrong (3) (X = 0, Z = 1: the kernel's
        # kinds, see transport.carry_blocks; the same bins [first, last)),
        # counted by the kernel if it did
        n = last - first
        kinds = getattr(record, "bin_kinds", None)
        if kinds is not None:
            tab = kinds[1]
        else:
            if wrong is None:
                wrong = record.alice_bit != record.bob_bit
            same = record.alice_basis == record.bob_basis
            key = same & (record.alice_basis == X)
            kind = same.astype(np.int64) + key + (key & wrong)
            tab = np.bincount((record.slot // self.bin_slots - first) * 4 + kind,
                              minlength=4 * n).reshape(n, 4)
        self.bin_detections[first:last] += tab.sum(axis=1)
        self.bin_sifted[first:last] += tab[:, 2] + tab[:, 3]
        self.bin_sifted_all_bases[first:last] += tab[:, 1:].sum(axis=1)
        self.bin_errors[first:last] += tab[:, 3]

    def sifted_key(self):
        """Alice's and Bob's sifted X-basis bits, in slot order."""
        if not self.keep_sifted:
            raise RuntimeError("sifted bits were not kept (keep_sifted=False)")
        cat = lambda parts: np.concatenate(parts) if parts else np.empty(0, np.uint8)
        return cat(self._alice), cat(self._bob)

    def n_basis(self, basis):
        return self.detections[:, basis, basis]

    @property
    def sifted_all_bases(self):
        """Detections with matching bases (X-X plus Z-Z), all intensities."""
        return int(self.n_basis(X).sum() + self.n_basis(Z).sum())

    def m_basis(self, basis):
        return self.errors[:, basis, basis]


def _ratio(num, den):
    return float(num) / float(den) if den else None


@dataclass
class DecoyBB84Result:
    """Everything a run reports; ``to_dict()`` is the CLI's JSON."""

    pulses: int
    rep_rate_hz: float
    intensities: list
    detections: int
    double_clicks: int
    sifted_bits: int
    sifted_bits_all_bases: int
    qber: float
    qber_z: float
    secret_key_bits: int
    aborted: bool
    abort_reason: str
    ec: dict
    finite_key: dict
    seed: int
    scenario: dict = field(default_factory=dict)
    bins: list = None
    pass_summary: dict = None
    keys: object = None          # KeyDistillation with both final keys (real EC only)
    extra: dict = None           # verification_bits, keys_match (real EC only)
    eve_report: dict = None      # attacked link: Eve's measured knowledge (qchannel.eve)

    @property
    def key_rate_per_pulse(self):
        return self.secret_key_bits / self.pulses

    @property
    def secret_key_rate_bps(self):
        return self.key_rate_per_pulse * self.rep_rate_hz

    def to_dict(self):
        return {
            "protocol": "decoy-bb84",
            "seed": self.seed,
            "pulses": self.pulses,
            "duration_s": self.pulses / self.rep_rate_hz,
            "detections": self.detections,
            "double_clicks": self.double_clicks,
            "intensities": self.intensities,
            "sifted_bits": self.sifted_bits,
            "sifted_bits_all_bases": self.sifted_bits_all_bases,
            "qber": self.qber,
            "qber_z": self.qber_z,
            "ec": self.ec,
            **(self.extra or {}),
            "secret_key_bits": self.secret_key_bits,
            "key_rate_per_pulse": self.key_rate_per_pulse,
            "secret_key_rate_bps": self.secret_key_rate_bps,
            "aborted": self.aborted,
            "abort_reason": self.abort_reason,
            "finite_key": self.finite_key,
            "scenario": self.scenario,
            **({"pass": self.pass_summary, "bins": self.bins} if self.bins is not None else {}),
            **(self.eve_report or {}),
        }


def intensity_table(counts, intensities):
    """Per-intensity gain and QBERs from accumulated counts."""
    rows = []
    for k, mu in enumerate(intensities):
        n_xx, n_zz = counts.detections[k, X, X], counts.detections[k, Z, Z]
        rows.append({
            "mu": float(mu),
            "sent": int(counts.sent[k]),
            "detections": int(counts.detections[k].sum()),
            "gain": _ratio(counts.detections[k].sum(), counts.sent[k]),
            "detections_x": int(n_xx),
            "detections_z": int(n_zz),
            "qber_x": _ratio(counts.errors[k, X, X], n_xx),
            "qber_z": _ratio(counts.errors[k, Z, Z], n_zz),
        })
    return rows


def finite_key_report(counts, source, postprocess, leak_ec_bits=None):
    """Finite-key length (Lim et al. 2014) from the counts; leakage estimated
    as f_ec * n_X * h(E_X) unless the real leakage is given."""
    if len(source.intensities) != 3:
        raise ValueError(
            f"source.intensities has {len(source.intensities)} entries: the finite-key "
            "analysis of Lim et al. (2014) needs exactly 3 (signal, decoy, vacuum-like)")
    n_x, m_x = counts.n_basis(X), counts.m_basis(X)
    n_total = int(n_x.sum())
    qber = _ratio(m_x.sum(), n_total)
    if leak_ec_bits is None:
        leak_ec_bits = ec_leakage_estimate(n_total, qber or 0.0, postprocess.f_ec) if n_total else 0
    return finite_key_length(n_x, counts.n_basis(Z), m_x, counts.m_basis(Z),
                             source.intensities, source.intensity_probs, leak_ec_bits,
                             postprocess.eps_sec, postprocess.eps_cor)


#: Highest QBER estimate each error-correction method is run at.
EC_QBER_LIMIT = {"ldpc": 0.11, "cascade": 0.15}


def build_result(counts, scenario, seed):
    """The report of a run.  With ``postprocess.ec = "estimate"`` the leakage
    is f_ec n h(QBER); with "cascade" or "ldpc" the sifted key is really
    reconciled, verified and privacy-amplified, and the key length comes from
    the real leakage."""
    src, pp = scenario.source, scenario.postprocess
    fk = finite_key_report(counts, src, pp)
    n_x = int(counts.n_basis(X).sum())
    qber = _ratio(counts.m_basis(X).sum(), n_x)
    qber_z = _ratio(counts.m_basis(Z).sum(), counts.n_basis(Z).sum())
    ec = {
        "method": "estimate",
        "note": "leakage estimated as f_ec * n * h(QBER); no error correction was run",
        "f_ec": pp.f_ec,
        "leaked_bits": int(fk.leak_ec_bits),
        "efficiency": pp.f_ec,
    }
    extra = {}
    key_bits, aborted, reason = int(fk.key_length), bool(fk.aborted), fk.abort_reason
    if pp.ec != "estimate":
        distilled, fk, key_bits, aborted, reason = _distill(counts, src, pp, seed, fk, qber_z,
                                                            threads=run_threads(scenario))
        ec = distilled.ec_dict() if distilled is not None else {"method": pp.ec, "leaked_bits": 0}
        extra = {
            "verification_bits": distilled.verification_bits if distilled else 0,
            "keys_match": bool(distilled.keys_match) if distilled else None,
        }
        extra["_keys"] = distilled
    result = DecoyBB84Result(
        pulses=int(counts.pulses), rep_rate_hz=src.rep_rate_hz,
        intensities=intensity_table(counts, src.intensities),
        detections=int(counts.detections.sum()), double_clicks=counts.double_clicks,
        sifted_bits=n_x, sifted_bits_all_bases=counts.sifted_all_bases, qber=qber, qber_z=qber_z,
        secret_key_bits=key_bits, aborted=aborted,
        abort_reason=reason, ec=ec, finite_key=fk.to_dict(), seed=seed,
        scenario=scenario.to_dict())
    result.keys = extra.pop("_keys", None)
    result.extra = extra
    return result


def run_threads(scenario):
    """The threads post-processing may use: the run's (``--threads``, ``[run]
    threads``, else every core; 1 in sweep workers).  Results do not depend on it."""
    from qchannel.links.base import threads

    return threads(getattr(getattr(scenario, "run", None), "threads", None))


def _distill(counts, src, pp, seed, fk_estimate, qber_z, threads=1):
    """Real error correction, verification and privacy amplification
    (frames and hashes on ``threads`` native threads; the same keys for any number)."""
    from qchannel.postprocess.pipeline import amplify, reconcile_and_verify

    if fk_estimate.aborted:
        # Not even the optimistic leakage estimate leaves a key: no EC is run.
        return None, fk_estimate, 0, True, fk_estimate.abort_reason
    limit = EC_QBER_LIMIT[pp.ec]
    if qber_z is None or qber_z > limit:
        reason = (f"QBER estimate {qber_z:.4f} (Z basis) is above {limit:.2f}, the highest "
                  f"the {pp.ec} error correction supports" if qber_z is not None
                  else "no Z-basis detections to estimate the QBER")
        return None, fk_estimate, 0, True, reason
    alice, bob = counts.sifted_key()
    distilled, kept_a, kept_b = reconcile_and_verify(
        alice, bob, qber_z, pp.ec, seed, pp.eps_cor,
        decoder=pp.ldpc_decoder if pp.ec == "ldpc" else None, threads=threads)
    leak = distilled.leaked_bits + distilled.verification_bits
    fk = finite_key_report(counts, src, pp, leak_ec_bits=leak)
    # Discarded frames: each discarded bit lowers the min-entropy by at most one.
    key_bits = max(0, int(fk.key_length) - distilled.discarded_bits)
    aborted, reason = bool(fk.aborted), fk.abort_reason
    if key_bits == 0 and not aborted:
        aborted, reason = True, (f"no key left after discarding {distilled.frames_discarded} "
                                 f"frames that failed verification")
    amplify(distilled, kept_a, kept_b, key_bits, seed, threads=threads)
    return distilled, fk, key_bits, aborted, reason
