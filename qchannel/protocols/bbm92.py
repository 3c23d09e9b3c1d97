"""Entanglement-based QKD: BBM92 and E91 over an SPDC link.

Protocols (analyser angles in polarisation space; bit 0 = the +1 outcome)
------------------------------------------------------------------------
* **BBM92** (Bennett, Brassard, Mermin, PRL 68, 557 (1992)).  Alice measures
  Z (0 deg) with probability ``basis_prob`` or X (45 deg).  Bob does the same
  in a fraction ``1 - chsh_fraction`` of rounds; in the other rounds he uses
  the CHSH settings 22.5 / 67.5 deg (half each), so S is estimated from those
  rounds against Alice's 0 / 45 deg settings (documented choice: S costs
  ``chsh_fraction`` of Bob's rounds and no extra setting at Alice).  Key from
  Z-Z coincidences; X-X coincidences estimate the phase error.
* **E91** (Ekert, PRL 67, 661 (1991), polarisation form): Alice 0, 22.5,
  45 deg, Bob 22.5, 45, 67.5 deg, uniform.  Key from 22.5/22.5 and 45/45;
  CHSH from Alice {0, 45} x Bob {22.5, 67.5}.

Estimators
----------
E = (N_same - N_diff) / N per setting pair; S = E(a,b) - E(a,b') + E(a',b) +
E(a',b'); chsh_s_std = sqrt(sum_k (1 - E_k^2) / N_k) (binomial errors of
independent coincidence sets).  ``qber`` is the key-basis error rate of the
sifted key; double clicks got random bits (squashing).  ``accidentals`` is the
Monte Carlo ground truth (coincidences in which no pair had both photons
detected); ``accidentals_expected`` is its closed form.

Finite key
----------
BBM92: n key bits (Z-Z), k phase-estimation bits (X-X) with error rate e_X.
Tomamichel, Lim, Gisin, Renner, Nat. Commun. 3, 634 (2012):
    l = floor( n [1 - h(e_X + mu)] - leak_EC - log2(2 / (eps_sec^2 eps_cor)) ),
    mu = sqrt( (n + k)/(n k) * (k + 1)/k * ln(2/eps_sec) )     (Serfling),
leak_EC = ceil(f_EC n h(e_Z)) (``finite_key.ec_leakage_estimate``).  The
uncertainty relation with MUBs (Z, X) gives q = 1; the bound treats the X-X
events as a random sample of the same pairs (basis choices are independent
of the pairs), and the detector model must be basis independent (it is here:
equal efficiencies, squashing).
E91: the key fraction of Acin et al., PRL 98, 230501 (2007) (device-
independent, collective attacks, asymptotic) r = 1 - h(e) - h((1 + sqrt((S/2)^2
- 1))/2), evaluated at S_low = S - z chsh_s_std with z = sqrt(2 ln(1/eps_sec))
(a Gaussian tail heuristic, not a composable finite-key proof), minus the
same leak and log terms.  Documented as an estimate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qchannel.theory import entanglement as th
from qchannel.params import check_choice, check_prob, check_real, reject_unknown
from qchannel.protocols.finite_key import binary_entropy, ec_leakage_estimate

DEG = math.pi / 180.0
PROTOCOLS = ("bbm92", "e91")


@dataclass(frozen=True)
class QKDProtocolConfig:
    type: str = "bbm92"
    basis_prob: float = 0.5
    chsh_fraction: float = 0.1
    eve_intercept_fraction: float = 0.0

    KEYS = ("type", "basis_prob", "chsh_fraction", "eve_intercept_fraction")

    @classmethod
    def from_dict(cls, d, section="protocol"):
        reject_unknown(section, d, cls.KEYS)
        n = lambda k: f"{section}.{k}"  # noqa: E731
        t = check_choice(n("type"), d.get("type", "bbm92"), PROTOCOLS)
        if t == "e91" and ("basis_prob" in d or "chsh_fraction" in d):
            raise ValueError(f"{n('basis_prob')} / {n('chsh_fraction')} apply to bbm92 only "
                             "(e91 uses three uniform settings per side)")
        return cls(t, check_prob(n("basis_prob"), d.get("basis_prob", 0.5), True, True),
                   check_real(n("chsh_fraction"), d.get("chsh_fraction", 0.1), 0.0, 1.0,
                              hi_open=True),
                   check_prob(n("eve_intercept_fraction"), d.get("eve_intercept_fraction", 0.0)))

    def settings(self):
        """(angles_a, probs_a, angles_b, probs_b, key pairs, phase pairs, chsh index)"""
        if self.type == "bbm92":
            pz, f = self.basis_prob, self.chsh_fraction
            aa, pa = [0.0, 45 * DEG], [pz, 1 - pz]
            ab = [0.0, 45 * DEG, 22.5 * DEG, 67.5 * DEG]
            pb = [(1 - f) * pz, (1 - f) * (1 - pz), f / 2, f / 2]
            # CHSH: (a, b), (a, b'), (a', b), (a', b')
            return aa, pa, ab, pb, [(0, 0)], [(1, 1)], [(0, 2), (0, 3), (1, 2), (1, 3)]
        aa = [0.0, 22.5 * DEG, 45 * DEG]
        ab = [22.5 * DEG, 45 * DEG, 67.5 * DEG]
        return (aa, [1 / 3] * 3, ab, [1 / 3] * 3, [(1, 0), (2, 1)], [],
                [(0, 0), (0, 2), (2, 0), (2, 2)])


@dataclass(frozen=True)
class PostprocessEnt:
    eps_sec: float = 1e-10
    eps_cor: float = 1e-15
    f_ec: float = 1.16

    KEYS = ("eps_sec", "eps_cor", "f_ec")

    @classmethod
    def from_dict(cls, d, section="postprocess"):
        reject_unknown(section, d, cls.KEYS)
        n = lambda k: f"{section}.{k}"  # noqa: E731
        return cls(check_real(n("eps_sec"), d.get("eps_sec", 1e-10), 0.0, 1.0, True, True),
                   check_real(n("eps_cor"), d.get("eps_cor", 1e-15), 0.0, 1.0, True, True),
                   check_real(n("f_ec"), d.get("f_ec", 1.16), 1.0, 10.0))


def chsh_from_counts(same, total):
    """S and its std from 4 (same, total) counts in CHSH order."""
    same, total = np.asarray(same, float), np.asarray(total, float)
    if np.any(total == 0):
        return None, None
    E = (2 * same - total) / total
    S = E[0] - E[1] + E[2] + E[3]
    return float(S), th.chsh_std(E, total)


class PairTally:
    """What the analysis needs of a run's coincidences, summed record by
    record as the link yields them (counts: the order and the chunking do not
    matter): per time bin and setting pair the coincidences ``tot`` and those
    with equal bits ``same``; the coincidences, the accidentals and the
    singles in all."""

    def __init__(self, model, n_a, n_b):
        self.bin_slots, self.n_bins, self.n_a, self.n_b = model.bin_slots, model.n_bins, n_a, n_b
        self.same = np.zeros((self.n_bins, n_a, n_b), np.int64)
        self.tot = np.zeros((self.n_bins, n_a, n_b), np.int64)
        self.coincidences = self.accidentals = 0
        self.singles = None

    def add(self, rec):
        n = self.n_bins * self.n_a * self.n_b
        bin_idx = np.minimum(rec.slot // self.bin_slots, self.n_bins - 1)
        idx = (bin_idx * self.n_a + rec.a_set) * self.n_b + rec.b_set
        self.tot.flat[:] += np.bincount(idx, minlength=n)
        self.same.flat[:] += np.bincount(idx[rec.a_bit == rec.b_bit], minlength=n)
        self.coincidences += len(rec)
        self.accidentals += int(np.count_nonzero(rec.flags & th_flags()["accidental"]))
        self.singles = rec.singles.copy() if self.singles is None else self.singles + rec.singles

    @classmethod
    def of_run(cls, model, proto, seed, chunk_blocks=None):
        """The tally of a whole run (counted on this thread while the link's
        threads simulate the next chunks)."""
        aa, _, ab, *_ = proto.settings()
        tally = cls(model, len(aa), len(ab))
        for rec in model.blocks(seed, chunk_blocks):
            tally.add(rec)
        return tally


def bbm92_key_length(n, k, e_z, e_x, eps_sec, eps_cor, f_ec):
    """(bits, mu, leak, reason) of the Tomamichel et al. 2012 bound above."""
    if n <= 0 or k <= 0:
        return 0, None, 0, "no key or no phase-estimation coincidences"
    mu = math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(2 / eps_sec))
    leak = ec_leakage_estimate(n, e_z, f_ec)
    if e_x + mu >= 0.5:
        return 0, mu, leak, f"phase error bound e_X + mu = {e_x + mu:.4f} >= 0.5"
    ell = math.floor(n * (1 - binary_entropy(e_x + mu)) - leak
                     - math.log2(2 / (eps_sec**2 * eps_cor)))
    if ell <= 0:
        return 0, mu, leak, "key length not positive (too few coincidences or too much noise)"
    return ell, mu, leak, ""


def e91_key_length(n, e, s, s_std, eps_sec, eps_cor, f_ec):
    if n <= 0 or s is None:
        return 0, None, 0, "no key or CHSH coincidences"
    z = math.sqrt(2 * math.log(1 / eps_sec))
    s_low = min(s - z * s_std, 2 * math.sqrt(2))
    leak = ec_leakage_estimate(n, e, f_ec)
    if s_low <= 2.0:
        return 0, s_low, leak, f"CHSH lower bound S - z sigma = {s_low:.4f} <= 2"
    h_eve = binary_entropy((1 + math.sqrt((s_low / 2) ** 2 - 1)) / 2)
    ell = math.floor(n * (1 - h_eve) - leak - math.log2(2 / (eps_sec**2 * eps_cor)))
    if ell <= 0:
        return 0, s_low, leak, "key length not positive (too few coincidences or too much noise)"
    return ell, s_low, leak, ""


@dataclass
class EntanglementQKDResult:
    protocol: str
    pulses: int
    rep_rate_hz: float
    pairs_expected: float
    coincidences: int
    accidentals: int
    accidentals_expected: float
    coincidences_expected: float
    sifted_bits: int
    qber: float | None
    qber_x: float | None
    chsh_s: float | None
    chsh_s_std: float | None
    secret_key_bits: int
    aborted: bool
    abort_reason: str
    finite_key: dict
    per_bin: dict
    singles: list
    seed: int
    theory: dict = field(default_factory=dict)
    scenario: dict = field(default_factory=dict)

    @property
    def duration_s(self):
        return self.pulses / self.rep_rate_hz

    def to_dict(self):
        return {
            "protocol": self.protocol, "seed": self.seed,
            "pulses": self.pulses, "pairs": self.pairs_expected,
            "duration_s": self.duration_s,
            "coincidences": self.coincidences, "accidentals": self.accidentals,
            "coincidences_expected": self.coincidences_expected,
            "accidentals_expected": self.accidentals_expected,
            "singles": self.singles,
            "sifted_bits": self.sifted_bits,
            "qber": self.qber, "qber_x": self.qber_x,
            "chsh_s": self.chsh_s, "chsh_s_std": self.chsh_s_std,
            "secret_key_bits": self.secret_key_bits,
            "key_rate_per_pulse": self.secret_key_bits / self.pulses,
            "secret_key_rate_bps": self.secret_key_bits / self.duration_s,
            "aborted": self.aborted, "abort_reason": self.abort_reason,
            "finite_key": self.finite_key, "per_bin": self.per_bin,
            "theory": self.theory, "scenario": self.scenario,
        }


def analyse(tally, model, proto, post, seed, scenario=None):
    """Sifting, QBER, CHSH (total and per time bin) and the finite key, from
    the run's :class:`PairTally`."""
    aa, pa, ab, pb, key_pairs, phase_pairs, chsh_idx = proto.settings()
    G = model.n_bins
    same, tot = tally.same, tally.tot
    S_same, S_tot = same.sum(0), tot.sum(0)

    def rate(pairs, s, t):
        n = sum(t[i, j] for i, j in pairs)
        err = sum(t[i, j] - s[i, j] for i, j in pairs)
        return int(n), (err / n if n else None)

    n_key, e_key = rate(key_pairs, S_same, S_tot)
    n_ph, e_ph = rate(phase_pairs, S_same, S_tot) if phase_pairs else (0, None)
    cs, ct = zip(*[(S_same[i, j], S_tot[i, j]) for i, j in chsh_idx])
    S, S_std = chsh_from_counts(cs, ct)
    per_bin = {"t_start_s": (np.arange(G) * model.bin_slots / model.config.source.rep_rate_hz).tolist(),
               "coincidences": tot.sum((1, 2)).tolist(), "qber": [], "chsh_s": [],
               "chsh_s_std": []}
    for g in range(G):
        per_bin["qber"].append(rate(key_pairs, same[g], tot[g])[1])
        s_g, sd_g = chsh_from_counts([same[g][i, j] for i, j in chsh_idx],
                                     [tot[g][i, j] for i, j in chsh_idx])
        per_bin["chsh_s"].append(s_g)
        per_bin["chsh_s_std"].append(sd_g)
    t = model.last_tables
    per_bin["drift_angle_a_rad"] = np.asarray(t["phi_a"]).tolist()
    per_bin["drift_angle_b_rad"] = np.asarray(t["phi_b"]).tolist()

    if tally.coincidences == 0:
        bits, fk, reason = 0, {}, "no coincidences"
    elif proto.type == "bbm92":
        bits, mu, leak, reason = bbm92_key_length(n_key, n_ph, e_key or 0.0, e_ph or 0.0,
                                                  post.eps_sec, post.eps_cor, post.f_ec)
        fk = {"method": "Tomamichel et al. 2012 (Serfling), BBM92", "n_key": n_key,
              "n_phase_sample": n_ph, "e_phase_observed": e_ph, "mu": mu, "leak_ec_bits": leak}
    else:
        bits, s_low, leak, reason = e91_key_length(n_key, e_key or 0.0, S, S_std or 0.0,
                                                   post.eps_sec, post.eps_cor, post.f_ec)
        fk = {"method": "Acin et al. 2007 at S - z sigma (estimate)", "n_key": n_key,
              "s_low": s_low, "leak_ec_bits": leak}
    fk.update(eps_sec=post.eps_sec, eps_cor=post.eps_cor, f_ec=post.f_ec)
    c = model.config
    exp_c = exp_a = 0.0
    eta_a, eta_b = model.eta_series
    for g in range(G):
        n_slots = min(model.bin_slots, model.pulses - g * model.bin_slots)
        er = th.expected_rates(c, None if eta_a is None else eta_a[g],
                            None if eta_b is None else eta_b[g])
        exp_c += er["coincidence"] * n_slots
        exp_a += er["accidental"] * n_slots
    er0 = th.expected_rates(c)
    T0 = th.werner_T(c.source.visibility)
    theory = {"chsh_s_werner": th.chsh_werner(c.source.visibility)}
    if eta_a is None and eta_b is None and c.alice.drift_time_s is None and c.bob.drift_time_s is None:
        Tn = c.alice.bloch() @ T0 @ c.bob.bloch().T
        if proto.eve_intercept_fraction > 0:
            Tn = c.alice.bloch() @ th.intercept_resend_T(T0, proto.eve_intercept_fraction) @ c.bob.bloch().T
        args = (c.source.pair_prob, er0["eta_a"], er0["eta_b"], er0["dark_a"], er0["dark_b"])
        theory["chsh_s_observed"] = th.chsh_observed(*args, Tn, c.source.statistics)
        i, j = key_pairs[0]
        pc, err = th.coincidence_stats(*args, th.correlation(aa[i], ab[j], Tn), c.source.statistics)
        theory["qber"] = err / pc
    return EntanglementQKDResult(
        protocol=proto.type, pulses=model.pulses, rep_rate_hz=c.source.rep_rate_hz,
        pairs_expected=model.pulses * c.source.pair_prob, coincidences=tally.coincidences,
        accidentals=tally.accidentals,
        accidentals_expected=exp_a, coincidences_expected=exp_c, sifted_bits=n_key,
        qber=e_key, qber_x=e_ph, chsh_s=S, chsh_s_std=S_std, secret_key_bits=int(bits),
        aborted=bits == 0, abort_reason=reason, finite_key=fk, per_bin=per_bin,
        singles=[int(x) for x in tally.singles] if model.mode == 1 else None, seed=seed,
        theory=theory, scenario=scenario or {})


def th_flags():
    from qchannel._core.entangled import FLAG_ACCIDENTAL
    return {"accidental": FLAG_ACCIDENTAL}


def run_qkd(sections, eta_a=None, eta_b=None):
    """BBM92/E91 from a dict of sections (the job `bbm92`/`e91`: :mod:`qchannel.jobs.entanglement`)."""
    from qchannel.links.entangled import (EntangledLinkConfig, EntangledLinkModel, parse_run,
                                          run_threads)
    allowed = {"source", "channel", "detector", "protocol", "run", "postprocess"}
    unknown = sorted(set(sections) - allowed)
    if unknown:
        raise ValueError(f"[{unknown[0]}] is not a known section; allowed sections: "
                         f"{', '.join(sorted(allowed))}")
    cfg = EntangledLinkConfig.from_sections(sections.get("source"), sections.get("channel"),
                                            sections.get("detector"))
    proto = QKDProtocolConfig.from_dict(sections.get("protocol", {}))
    post = PostprocessEnt.from_dict(sections.get("postprocess", {}))
    pulses, seed, chunk = parse_run(sections.get("run", {}))
    aa, pa, ab, pb, *_ = proto.settings()
    model = EntangledLinkModel(cfg, aa, pa, ab, pb, pulses, eta_a=eta_a, eta_b=eta_b,
                               eve_fraction=proto.eve_intercept_fraction)
    model.threads = run_threads(sections.get("run", {}))
    return analyse(PairTally.of_run(model, proto, seed, chunk), model, proto, post, seed,
                   scenario=_plain(sections))


def _plain(sections):
    return {k: v for k, v in sections.items()}
