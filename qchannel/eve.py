"""Eavesdroppers on a weak-coherent-pulse decoy-BB84 fiber link.

Configuration: the ``[eve]`` section (:class:`EveConfig`); every key is
validated and a bad value raises ``ValueError`` naming ``eve.key``.

    attack        "intercept-resend" | "pns" | "beam-splitting"   (required)
    fraction      fraction of pulse slots attacked, each slot independently (default 1)
    position_km   where Eve sits on the fiber (default 0, Alice's side); the loss
                  before her is attenuation_db_per_km * position_km
    basis         intercept-resend only: "random" (X or Z, 1/2 each), "x" or "z"
    resend        intercept-resend only: "single-photon" (default) or "coherent"
    resend_mu     intercept-resend with resend = "coherent": mean photon number
                  of Eve's pulse (default: Alice's signal intensity)
    tap_ratio     beam-splitting only: fraction of the light Eve taps; omitted =
                  she replaces the fiber after her position by a lossless fiber
                  and a beam splitter of the same transmittance (Bob's statistics
                  unchanged)
    max_hash_bits runs with at most this many sifted bits keep them and hash
                  Eve's guess string (default 2**22; 0: never)

Attack models (T1 = fiber transmittance Alice -> Eve, T2 = the rest of the
link up to Bob's detectors: fiber after Eve and ``extra_loss_db``; eta =
Bob's detector efficiency; Alice's pulses are phase-randomised coherent
states, i.e. Poisson photon numbers)

* **intercept-resend**: Eve measures what reaches her (Poisson(mu T1)) with
  ideal threshold detectors (efficiency 1, no dark counts, no misalignment)
  in her basis (random 1/2-1/2 or fixed).  Same basis as Alice: she gets
  Alice's bit.  Other basis: each photon goes either way, a double click gets
  a random bit (squashing), so her bit is uniform.  She resends her basis and
  bit as a single photon (or a coherent pulse of ``resend_mu``) into the rest
  of the link (T2, then Bob's misalignment and detectors).  No click: she
  sends nothing (vacuum).  Eve knows a sifted bit when her basis was Alice's
  and she had a click; otherwise she guesses her own bit (wrong basis) or a
  random bit (no click).
* **pns** (photon-number splitting, Brassard, Lutkenhaus, Mor, Sanders, PRL
  85, 1330 (2000)): at ``position_km`` (default Alice's side) Eve measures the
  photon number n (QND).  n >= 2: she keeps one photon in a quantum memory
  and forwards n - 1 through a lossless channel (Bob: per-photon detection
  eta, his misalignment); after basis reconciliation she measures her photon
  in Alice's basis and knows Alice's bit.  n = 1: she blocks the pulse with
  probability b1 and forwards it losslessly otherwise.  b1 is set so that
  Bob's photon-induced gain of the *signal* intensity equals the honest
  link's, 1 - exp(-mu1 T1 T2 eta); if the multi-photon part alone exceeds it,
  b1 = 1 and she also blocks a fraction 1 - f_m of multi-photon pulses (she
  still holds one photon of those, so she knows their bit too).  Eve knows
  the bit of every sifted event whose pulse had n >= 2 photons at her position.
* **beam-splitting**: at ``position_km`` Eve taps a fraction t of the light
  with a beam splitter and keeps it in a quantum memory, measured after basis
  reconciliation.  Default t = 1 - T2_fiber with the fiber after her replaced
  by a lossless one (Bob's statistics unchanged: the attack is passive).  A
  coherent state splits into independent coherent states, so Eve holds a
  photon with probability 1 - exp(-mu t T1) whatever Bob sees: she knows that
  fraction of the sifted bits of intensity mu, exactly.

Detector model inside the attack kernel: dark counts, misalignment, active or
passive basis choice, double clicks squashed to a random bit, afterpulses as
in the transport kernel (per primary click, delay 1 + Exp(tau) gates, no
cascade; an afterpulse-only slot draws its class, bases and bit as in a slot
without a click, and Eve has no information about it).  Dead time is not
modelled: a scenario with ``detector.dead_time_ns > 0`` is rejected.

Eve's knowledge, measured: per sifted (X-X) event the simulation knows whether
Eve knows the key bit (Alice's bit; error correction makes Bob's equal to it)
and what she guesses.  ``eve_known_sifted_bits`` counts the first.  After
privacy amplification her knowledge is not computable in general; reported:

* ``info_lower_bound_bits`` = max(0, l - (n - k)): the Toeplitz hash maps the
  n - k bits Eve does not know to l output bits, so at least l - (n - k)
  independent parities of the final key are fixed by what she knows (exact
  bound, no assumption on the hash); ``secure_by_count`` = l <= n - k.
* on short runs (n <= ``max_hash_bits``): Eve's guess string is hashed with
  the same Toeplitz matrix as Alice's key (seed bits: Philox stream (run
  seed, PRIVACY_AMPLIFICATION, 0), as :func:`privacy_amplify`) and the
  final-key bits she gets right are counted; ~l/2 (sigma sqrt(l)/2) is what
  a secure key gives -- but also what most insecure ones give (a hashed bit
  is a parity of ~n/2 key bits), so the bound above is the real test.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from qchannel import rng as _rng
from qchannel.channels import FiberChannel
from qchannel.link import (FLAG_AFTERPULSE, FLAG_BASIS_TIE, FLAG_DOUBLE_CLICK,
                           BLOCK_SLOTS, DetectionRecord)
from qchannel.params import check_choice, check_int, check_prob, check_real, reject_unknown
from qchannel.protocols.finite_key import binary_entropy

__all__ = ["ATTACKS", "EveConfig", "EveResult", "attack_tables", "simulate_with_eve",
           "gf2_toeplitz_hash", "split_eve", "run_eve_file"]

ATTACKS = ("intercept-resend", "pns", "beam-splitting")
_ONLY = {"basis": ("intercept-resend",), "resend": ("intercept-resend",),
         "resend_mu": ("intercept-resend",), "tap_ratio": ("beam-splitting",)}
SAME, FLIP, RANDOM = 0, 1, 2          # Eve's guess relative to Alice's bit


@dataclass(frozen=True)
class EveConfig:
    """The ``[eve]`` section.  Use :meth:`from_dict` (it validates)."""

    attack: str
    fraction: float = 1.0
    position_km: float = 0.0
    basis: str = "random"
    resend: str = "single-photon"
    resend_mu: float = None
    tap_ratio: float = None
    max_hash_bits: int = 1 << 22

    KEYS = ("attack", "fraction", "position_km", "basis", "resend", "resend_mu", "tap_ratio",
            "max_hash_bits")

    @classmethod
    def from_dict(cls, d, section="eve"):
        if not isinstance(d, dict):
            raise ValueError(f"{section} must be a section ([{section}]), not {d!r}")
        reject_unknown(section, d, cls.KEYS)
        n = lambda k: f"{section}.{k}"  # noqa: E731
        if "attack" not in d:
            raise ValueError(f"{n('attack')} is required: one of {', '.join(map(repr, ATTACKS))}")
        attack = check_choice(n("attack"), d["attack"], ATTACKS)
        for key, attacks in _ONLY.items():
            if key in d and attack not in attacks:
                raise ValueError(f"{n(key)} applies to attack = {' / '.join(map(repr, attacks))} "
                                 f"only, not {attack!r}")
        resend = check_choice(n("resend"), d.get("resend", "single-photon"),
                              ("single-photon", "coherent"))
        resend_mu = d.get("resend_mu")
        if resend_mu is not None:
            if resend != "coherent":
                raise ValueError(f"{n('resend_mu')} applies to {n('resend')} = 'coherent' only")
            resend_mu = check_real(n("resend_mu"), resend_mu, 0.0, 100.0, lo_open=True)
        tap = d.get("tap_ratio")
        if tap is not None:
            tap = check_real(n("tap_ratio"), tap, 0.0, 1.0, hi_open=True)
        return cls(
            attack=attack,
            fraction=check_prob(n("fraction"), d.get("fraction", 1.0)),
            position_km=check_real(n("position_km"), d.get("position_km", 0.0), 0.0, 1.0e5),
            basis=check_choice(n("basis"), d.get("basis", "random"), ("random", "x", "z")),
            resend=resend, resend_mu=resend_mu, tap_ratio=tap,
            max_hash_bits=check_int(n("max_hash_bits"), d.get("max_hash_bits", 1 << 22), 0, 1 << 30),
        )

    def to_dict(self):
        # only the keys of this attack, so that from_dict(to_dict()) round-trips
        return {k: v for k, v in asdict(self).items()
                if v is not None and self.attack in _ONLY.get(k, (self.attack,))}


# --------------------------------------------------------------------------
# tables: what can happen in one pulse slot
# --------------------------------------------------------------------------
def _routing(c, y, b, e, px, n_det):
    """Where one photon prepared in basis c with bit y (relative to Alice's
    bit) goes at Bob, who measures in b (active) -- detectors in Alice's frame."""
    r = np.zeros(4)

    def pair(basis):
        if basis == c:
            return (e, 1.0 - e) if y else (1.0 - e, e)
        return (0.5, 0.5)

    if n_det == 2:
        r[:2] = pair(b)
    else:
        r[:2] = np.multiply(px, pair(0))
        r[2:] = np.multiply(1.0 - px, pair(1))
    return r


def _pattern_probs(state, r, pdc, n_det):
    """P(the set of detectors with a primary click = C), C over 2^n_det sets.

    ``state``: ("vac",) | ("coh", m, c, y) (Poisson mean m at the detectors,
    i.e. after efficiency) | ("fock", {n: w}, eta, c, y) (photon-number
    mixture, per-photon detection eta).  P(no click in A) is closed form;
    the exact distribution follows by Moebius inversion."""
    m = 1 << n_det
    none = np.zeros(m)               # none[A] = P(no click in the detectors of A)
    for A in range(m):
        ra = sum(r[j] for j in range(n_det) if A >> j & 1)
        if state[0] == "vac":
            p = 1.0
        elif state[0] == "coh":
            p = math.exp(-state[1] * ra)
        else:
            w = state[1]
            p = sum(wn * (1.0 - state[2] * ra) ** k for k, wn in w.items()) / sum(w.values())
        none[A] = p * (1.0 - pdc) ** bin(A).count("1")
    sub = np.array([none[(m - 1) ^ C] for C in range(m)])     # P(clicks subset of C)
    out = np.zeros(m)
    for C in range(m):
        D = C
        while True:
            out[C] += (-1) ** (bin(C ^ D).count("1")) * sub[D]
            if D == 0:
                break
            D = (D - 1) & C
    return np.clip(out, 0.0, 1.0)


def _poisson(mean, n):
    return math.exp(-mean + n * math.log(mean) - math.lgamma(n + 1)) if mean > 0 else float(n == 0)


def _geometry(eve, channel, detector):
    if not isinstance(channel, FiberChannel):
        raise ValueError("[eve] needs a fiber channel (channel.type = 'fiber')")
    if eve.position_km > channel.length_km:
        raise ValueError(f"eve.position_km = {eve.position_km} is out of range: must be <= "
                         f"channel.length_km = {channel.length_km}")
    if detector.dead_time_ns > 0.0:
        raise ValueError(f"detector.dead_time_ns = {detector.dead_time_ns} is not modelled by "
                         "the attack kernel: use 0 with an [eve] section")
    a = channel.attenuation_db_per_km
    t1 = 10.0 ** (-a * eve.position_km / 10.0)
    t2_fiber = 10.0 ** (-a * (channel.length_km - eve.position_km) / 10.0)
    t2 = t2_fiber * 10.0 ** (-channel.extra_loss_db / 10.0)
    return t1, t2_fiber, t2


def _pns_strategy(mu1, t1, t2, eta):
    """(b1, f_m, target gain): single-photon blocking probability and the
    fraction of multi-photon pulses forwarded so that Bob's photon-induced
    gain of the signal intensity equals the honest link's."""
    m = mu1 * t1
    target = -math.expm1(-mu1 * t1 * t2 * eta)
    n_max = int(m + 12.0 * math.sqrt(m) + 30)
    q_multi = sum(_poisson(m, n) * (1.0 - (1.0 - eta) ** (n - 1)) for n in range(2, n_max))
    p1 = _poisson(m, 1)
    if q_multi >= target:
        return 1.0, (target / q_multi if q_multi > 0 else 0.0), target
    b1 = 1.0 - (target - q_multi) / (p1 * eta) if p1 * eta > 0 else 1.0
    return min(max(b1, 0.0), 1.0), 1.0, target


def _latents(eve, mu, a, t1, t2_fiber, t2, eta, mu1, pns):
    """Eve's outcomes for one pulse of intensity mu, Alice's basis a:
    list of (name, probability given attacked, Bob's state, known, guess)."""
    out = []
    if eve.attack == "intercept-resend":
        bases = {"random": ((0, 0.5), (1, 0.5)), "x": ((0, 1.0),), "z": ((1, 1.0),)}[eve.basis]
        m = mu * t1
        for e, pe in bases:
            name = "XZ"[e]
            click = -math.expm1(-m)
            out.append((f"ir:{name}:no-click", pe * math.exp(-m), ("vac",), False, RANDOM))
            for y in (0, 1):
                if eve.resend == "coherent":
                    st = ("coh", (eve.resend_mu or mu1) * t2 * eta, e, y)
                else:
                    st = ("fock", {1: 1.0}, t2 * eta, e, y)
                if e == a:
                    p = click if y == 0 else 0.0
                    known = True
                else:
                    p = 0.5 * click      # her bit is uniform (double clicks: random bit)
                    known = False
                out.append((f"ir:{name}:{'same' if y == 0 else 'flip'}", pe * p, st, known,
                            SAME if y == 0 else FLIP))
    elif eve.attack == "pns":
        b1, fm, _ = pns
        m = mu * t1
        n_max = int(m + 12.0 * math.sqrt(m) + 30)
        p0, p1 = _poisson(m, 0), _poisson(m, 1)
        multi = {n - 1: _poisson(m, n) for n in range(2, n_max)}
        pm = sum(multi.values())
        out.append(("pns:n=0", p0, ("vac",), False, RANDOM))
        out.append(("pns:n=1:blocked", p1 * b1, ("vac",), False, RANDOM))
        out.append(("pns:n=1:forwarded", p1 * (1 - b1), ("fock", {1: 1.0}, eta, a, 0), False, RANDOM))
        out.append(("pns:n>=2:forwarded", pm * fm,
                    ("fock", multi, eta, a, 0) if pm > 0 else ("vac",), True, SAME))
        out.append(("pns:n>=2:blocked", pm * (1 - fm), ("vac",), True, SAME))
    else:
        if eve.tap_ratio is None:
            tap, after = 1.0 - t2_fiber, t2 / t2_fiber
        else:
            tap, after = eve.tap_ratio, t2
        m_e = mu * t1 * tap
        st = ("coh", mu * t1 * (1.0 - tap) * after * eta, a, 0)
        out.append(("bs:eve-empty", math.exp(-m_e), st, False, RANDOM))
        out.append(("bs:eve-photon", -math.expm1(-m_e), st, True, SAME))
    return out


def attack_tables(eve, source, channel, detector):
    """Every combination (class, Alice's basis, Bob's basis, latent, Bob's
    click pattern != 0) with its probability per slot, and per-class P(no
    click).  Returns a dict of NumPy arrays and the attack's parameters."""
    t1, t2_fiber, t2 = _geometry(eve, channel, detector)
    eta, pdc, e = detector.efficiency, detector.dark_count_prob, channel.misalignment
    n_det = detector.n_detectors
    px = source.key_basis_prob
    mus, probs = source.intensities, source.intensity_probs
    pns = _pns_strategy(mus[0], t1, t2, eta) if eve.attack == "pns" else None
    f = eve.fraction
    names = ["unattacked"]
    cols = {k: [] for k in ("k", "a", "b", "s", "pat", "known", "guess", "prob")}
    noclick = np.zeros(len(mus))
    bob_bases = ((0, px), (1, 1.0 - px)) if n_det == 2 else ((0, 1.0),)
    for k, (mu, pk) in enumerate(zip(mus, probs)):
        for a, pa in ((0, px), (1, 1.0 - px)):
            lat = [("unattacked", 1.0 - f, ("coh", mu * t1 * t2 * eta, a, 0), False, RANDOM)]
            lat += [(nm, f * p, st, kn, g) for nm, p, st, kn, g in
                    _latents(eve, mu, a, t1, t2_fiber, t2, eta, mus[0], pns)]
            for nm, p, st, known, guess in lat:
                if nm not in names:
                    names.append(nm)
                s = names.index(nm)
                for b, pb in bob_bases:
                    w = pk * pa * pb * p
                    if w <= 0.0:
                        continue
                    c, y = (st[2], st[3]) if st[0] == "coh" else (st[3], st[4]) if st[0] == "fock" else (0, 0)
                    pat = _pattern_probs(st, _routing(c, y, b, e, px, n_det), pdc, n_det)
                    noclick[k] += w * pat[0]
                    for C in range(1, len(pat)):
                        if pat[C] * w > 0.0:
                            for key, v in zip(cols, (k, a, b, s, C, known, guess, w * pat[C])):
                                cols[key].append(v)
    if not cols["prob"]:            # no click can ever happen: one dummy entry
        for key, v in zip(cols, (0, 0, 0, 0, 1, False, RANDOM, 0.0)):
            cols[key].append(v)
    t = {k: np.asarray(v) for k, v in cols.items()}
    p_event = float(t["prob"].sum())
    cdf = np.cumsum(t["prob"]) / p_event if p_event > 0 else np.ones(len(t["prob"]))
    cdf[-1] = 1.0
    info = {"t1": t1, "t2": t2, "latents": names}
    if pns is not None:
        info["pns"] = {"single_photon_block_prob": pns[0], "multi_photon_forward_fraction": pns[1],
                       "target_signal_gain": pns[2]}
    if eve.attack == "beam-splitting":
        info["tap_ratio"] = 1.0 - t2_fiber if eve.tap_ratio is None else eve.tap_ratio
    return dict(t, p_event=p_event, cdf=np.ascontiguousarray(cdf), noclick=noclick,
                n_det=n_det, info=info)


def expected_stats(tables, n_intensities):
    """Per class, from the tables (no afterpulses): sifted X-X probability per
    slot, its error rate, Z-Z error rate, and the fraction Eve knows."""
    t = tables
    K = n_intensities
    res = {"sifted_x": np.zeros(K), "err_x": np.zeros(K), "known_x": np.zeros(K),
           "sifted_z": np.zeros(K), "err_z": np.zeros(K), "gain": np.zeros(K)}
    for k, a, b, pat, known, p in zip(t["k"], t["a"], t["b"], t["pat"], t["known"], t["prob"]):
        res["gain"][k] += p
        for bb, err, w in _outcomes(int(pat), int(b), t["n_det"]):
            if bb == a:
                key = "x" if a == 0 else "z"
                res["sifted_" + key][k] += p * w
                res["err_" + key][k] += p * w * err
                if key == "x" and known:
                    res["known_x"][k] += p * w
    return res


def _outcomes(pat, b, n_det):
    """(Bob's basis, error probability, weight) for a pattern in Alice's frame."""
    def pair_err(p):
        return {1: 0.0, 2: 1.0, 3: 0.5}[p]
    if n_det == 2:
        return [(b, pair_err(pat & 3), 1.0)]
    p0, p1 = pat & 3, pat >> 2
    if p0 and p1:
        return [(0, pair_err(p0), 0.5), (1, pair_err(p1), 0.5)]
    return [(0, pair_err(p0), 1.0)] if p0 else [(1, pair_err(p1), 1.0)]


# --------------------------------------------------------------------------
# simulation
# --------------------------------------------------------------------------
def _child(seed, name):
    return _rng.derive_seed(seed, _rng.Purpose.EVE, name)


def _squash(mask, b_basis, rand_bit, rand_basis, n_det):
    """Bob's basis and bit from the detector mask (detector frame)."""
    flags = np.zeros(len(mask), np.uint8)
    if n_det == 4:
        p0, p1 = mask & 3, mask >> 2
        tie = (p0 > 0) & (p1 > 0)
        b_basis = np.where(tie, rand_basis, np.where(p0 > 0, 0, 1)).astype(np.uint8)
        flags[tie] |= FLAG_BASIS_TIE
        pair = np.where(b_basis == 0, p0, p1)
    else:
        pair = mask & 3
    dbl = pair == 3
    flags[dbl] |= FLAG_DOUBLE_CLICK
    bit = np.where(dbl, rand_bit, pair >> 1).astype(np.uint8)
    return b_basis, bit, flags


def _afterpulses(slot, mask, p_ap, tau, n_det, seed, block, total):
    """(slot, detector) of the afterpulses triggered by these primary clicks."""
    if p_ap <= 0.0 or len(slot) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    u = _rng.uniform(_child(seed, "ap-trigger"), _rng.Purpose.DETECTOR, block, len(slot) * n_det)
    u = u.reshape(len(slot), n_det)
    hit = ((mask[:, None] >> np.arange(n_det)) & 1).astype(bool) & (u < p_ap)
    ev, det = np.nonzero(hit)
    delay = np.ones(len(ev), np.int64)
    if tau > 0.0 and len(ev):
        v = _rng.uniform(_child(seed, "ap-delay"), _rng.Purpose.DETECTOR, block, len(ev))
        delay += np.floor(-tau * np.log(v)).astype(np.int64)
    s = slot[ev] + delay
    keep = s < total
    return s[keep], det[keep]


class _EveStats:
    """Sifted (X-X) bits per class: how many, how many Eve knows, how many of
    her guesses match Alice's / Bob's bit; optionally the bits themselves."""

    def __init__(self, K, keep_limit):
        self.n = np.zeros(K, np.int64)
        self.known = np.zeros(K, np.int64)
        self.right_alice = np.zeros(K, np.int64)
        self.right_bob = np.zeros(K, np.int64)
        self.keep_limit = keep_limit
        self.parts = []
        self.kept = 0
        self.keeping = keep_limit > 0

    def add(self, cls, a_bit, b_bit, known, guess, K):
        bc = lambda m: np.bincount(cls[m], minlength=K)  # noqa: E731
        everything = np.ones(len(cls), bool)
        self.n += bc(everything)
        self.known += bc(known)
        self.right_alice += bc(guess == a_bit)
        self.right_bob += bc(guess == b_bit)
        if self.keeping:
            self.kept += len(cls)
            if self.kept > self.keep_limit:
                self.keeping, self.parts = False, []
            else:
                self.parts.append((cls, a_bit, known, guess))

    def arrays(self):
        if not self.keeping:
            return None
        if not self.parts:
            return tuple(np.empty(0, np.uint8) for _ in range(4))
        return tuple(np.concatenate(x) for x in zip(*self.parts))


class EveResult(dict):
    """The result dict; ``to_dict()`` (a plain copy) as for every other
    result, so the CLI can print it unchanged."""

    def to_dict(self):
        return dict(self)


def simulate_with_eve(scenario, eve, seed=None, pulses=None):
    """Decoy BB84 over the scenario's fiber link with Eve attacking.

    ``eve``: an :class:`EveConfig` or a plain ``[eve]`` dict.  ``seed`` and
    ``pulses`` override the scenario's [run] values.  Returns the decoy-BB84
    result dict (``DecoyBB84Result.to_dict()`` keys; with 3 intensities the
    Lim et al. 2014 finite key, otherwise the GLLP key of the signal class)
    extended with ``eve``, ``eve_known_sifted_bits``, ``eve_knowledge``,
    ``eve_info_final_key`` and ``single_intensity_analyses`` (naive and
    GLLP analyses of the signal class)."""
    from qchannel._core import attacks as _attacks
    from qchannel.protocols.decoy_bb84 import DecoyCounts

    if isinstance(eve, dict):
        eve = EveConfig.from_dict(eve)
    if scenario.is_free_space:
        raise ValueError("[eve] needs a fiber channel (channel.type = 'fiber')")
    seed = scenario.run.seed if seed is None else _rng.check_seed(seed)
    total = int(pulses if pulses is not None else scenario.run.pulses or scenario.run.DEFAULT_PULSES)
    total = check_int("run.pulses", total, 1, 2**56)
    src, det = scenario.source, scenario.detector
    K, n_det = len(src.intensities), det.n_detectors
    tab = attack_tables(eve, src, scenario.channel, det)
    ev_seed = _child(seed, "attack-kernel")
    combo_class = np.ascontiguousarray(tab["k"].astype(np.int32))
    px = src.key_basis_prob
    p_ap = det.afterpulse_prob
    tau = det.afterpulse_tau_gates(src.rep_rate_hz)
    noclick_cdf = np.cumsum(tab["noclick"]) / tab["noclick"].sum()
    counts = DecoyCounts(K)
    stats = _EveStats(K, eve.max_hash_bits)
    pending_s, pending_d = np.empty(0, np.int64), np.empty(0, np.int64)
    n_blocks = -(-total // BLOCK_SLOTS)
    for blk in range(n_blocks):
        start = blk * BLOCK_SLOTS
        n = min(BLOCK_SLOTS, total - start)
        off, combo, x, sent = _attacks.run_block(ev_seed, blk, n, tab["p_event"], tab["cdf"],
                                                 combo_class, tab["noclick"], tab["p_event"] * n)
        slot = off + start
        cls = tab["k"][combo].astype(np.uint8)
        a_basis = tab["a"][combo].astype(np.uint8)
        b_basis = tab["b"][combo].astype(np.uint8)
        pat = tab["pat"][combo].astype(np.int64)
        mask = np.where(x == 1, ((pat & 5) << 1) | ((pat & 10) >> 1), pat)
        known = tab["known"][combo].astype(bool)
        grel = tab["guess"][combo]
        primary = mask.copy()
        # afterpulses (no cascade): merge into primary slots or make new events
        ap_s, ap_d = _afterpulses(slot, primary, p_ap, tau, n_det, ev_seed, blk, total)
        ap_s, ap_d = np.concatenate([pending_s, ap_s]), np.concatenate([pending_d, ap_d])
        now = ap_s < start + n
        pending_s, pending_d = ap_s[~now], ap_d[~now]
        ap_s, ap_d = ap_s[now], ap_d[now]
        ap_flag = np.zeros(len(slot), bool)
        if len(ap_s):
            useq, inv = np.unique(ap_s, return_inverse=True)
            ap_mask = np.zeros(len(useq), np.int64)
            np.bitwise_or.at(ap_mask, inv, np.left_shift(1, ap_d))
            pos = np.searchsorted(slot, useq)
            hit = (pos < len(slot)) & (slot[np.minimum(pos, len(slot) - 1)] == useq)
            hp = pos[hit]
            ap_flag[hp] = (ap_mask[hit] & ~primary[hp]) != 0
            mask[hp] |= ap_mask[hit]
            new_s, new_m = useq[~hit], ap_mask[~hit]
            m = len(new_s)
            if m:
                u = _rng.uniform(_child(seed, "ap-slot"), _rng.Purpose.DETECTOR, blk, 4 * m).reshape(4, m)
                slot = np.concatenate([slot, new_s])
                mask = np.concatenate([mask, new_m])
                cls = np.concatenate([cls, np.searchsorted(noclick_cdf, u[0], side="right")
                                      .clip(0, K - 1).astype(np.uint8)])
                a_basis = np.concatenate([a_basis, (u[1] >= px).astype(np.uint8)])
                x = np.concatenate([x, (u[2] < 0.5).astype(np.uint8)])
                b_basis = np.concatenate([b_basis, (u[3] >= px).astype(np.uint8)])
                known = np.concatenate([known, np.zeros(m, bool)])
                grel = np.concatenate([grel, np.full(m, RANDOM, grel.dtype)])
                ap_flag = np.concatenate([ap_flag, np.ones(m, bool)])
                order = np.argsort(slot, kind="stable")
                slot, mask, cls, a_basis, x, b_basis, known, grel, ap_flag = (
                    v[order] for v in (slot, mask, cls, a_basis, x, b_basis, known, grel, ap_flag))
        r = _rng.bits(_child(seed, "squash"), _rng.Purpose.DETECTOR, blk, 2 * len(slot) + 2)
        b_basis, b_bit, flags = _squash(mask, b_basis, r[:len(slot)], r[len(slot):2 * len(slot)],
                                        n_det)
        flags[ap_flag] |= FLAG_AFTERPULSE
        counts.add(DetectionRecord(slot, cls, a_basis, x, b_basis, b_bit, flags, sent,
                                   first_slot=start, n_slots=n))
        sift = (a_basis == 0) & (b_basis == 0)
        g = grel[sift]
        rb = _rng.bits(_child(seed, "eve-guess"), _rng.Purpose.EVE, blk, len(g) + 1)[:len(g)]
        xa = x[sift]
        guess = np.where(known[sift] | (g == SAME), xa, np.where(g == FLIP, xa ^ 1, rb)).astype(np.uint8)
        stats.add(cls[sift].astype(np.int64), xa, b_bit[sift], known[sift], guess, K)

    result = _analyse(counts, stats, scenario, src, seed)
    exp = expected_stats(tab, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        sx = exp["sifted_x"].sum()
        sz = exp["sifted_z"].sum()
        result["eve"] = {
            "model": eve.attack, **eve.to_dict(), **tab["info"],
            "detector_model": "dark counts, misalignment, squashing, afterpulses; no dead time",
            "expected": {   # from the tables, without afterpulses
                "gain_per_class": (exp["gain"] / np.asarray(src.intensity_probs)).tolist(),
                "qber_x": float(exp["err_x"].sum() / sx) if sx else None,
                "qber_z": float(exp["err_z"].sum() / sz) if sz else None,
                "known_fraction": float(exp["known_x"].sum() / sx) if sx else None,
                "known_fraction_per_class": (exp["known_x"] / exp["sifted_x"]).tolist(),
            },
        }
    return result


# --------------------------------------------------------------------------
# analyses and Eve's knowledge
# --------------------------------------------------------------------------
def gf2_toeplitz_hash(bits, seed_bits, out_len):
    """Exact GF(2) product T @ bits with T[i, j] = seed_bits[i - j + n - 1]
    (the convention of qchannel.postprocess.privacy).  Uses the compiled
    ``toeplitz_hash`` when available, else a NumPy convolution (O(n out_len),
    short keys only)."""
    try:
        from qchannel.postprocess.privacy import toeplitz_hash
    except ImportError:  # pragma: no cover - fallback until the kernel is merged
        toeplitz_hash = None
    if toeplitz_hash is not None:
        return toeplitz_hash(bits, seed_bits, out_len)
    bits = np.asarray(bits, np.int64)
    n = len(bits)
    full = np.convolve(np.asarray(seed_bits, np.int64), bits)
    return (full[n - 1:n - 1 + out_len] & 1).astype(np.uint8)


def _final_key_info(ell, n, k, seed, kept, select=None):
    """Eve's knowledge of a final key of ``ell`` bits hashed from ``n`` sifted
    bits of which she knows ``k``."""
    ell, n, k = int(ell), int(n), int(k)
    out = {"final_key_bits": ell, "sifted_bits": n, "eve_known_sifted_bits": k,
           "unknown_sifted_bits": n - k,
           "info_lower_bound_bits": max(0, ell - (n - k)),
           "info_lower_bound_fraction": (max(0, ell - (n - k)) / ell) if ell else 0.0,
           "secure_by_count": ell <= n - k,
           "hashed": False}
    if ell <= 0:
        out["note"] = "no final key: nothing to hash"
        return out
    if kept is None:
        out["note"] = "more sifted bits than eve.max_hash_bits: guess string not hashed"
        return out
    cls, alice, _, guess = kept
    if select is not None:
        sel = cls == select
        alice, guess = alice[sel], guess[sel]
    seed_bits = _rng.bits(seed, _rng.Purpose.PRIVACY_AMPLIFICATION, 0, len(alice) + ell - 1)
    wrong = gf2_toeplitz_hash(alice ^ guess, seed_bits, ell)   # T a + T g = T (a + g)
    right = ell - int(wrong.sum())
    sigma = math.sqrt(ell) / 2.0
    out.update(hashed=True, eve_correct_final_bits=right, correct_fraction=right / ell,
               expected_if_secure=ell / 2.0, sigma=sigma, z_score=(right - ell / 2.0) / sigma)
    return out


def _single_intensity(counts, stats, src, pp, seed, kept):
    """Naive (every pulse a single photon) and GLLP analyses of the signal class."""
    from qchannel import theory

    n = int(counts.detections[0, 0, 0])
    m = int(counts.errors[0, 0, 0])
    nz, mz = int(counts.detections[0, 1, 1]), int(counts.errors[0, 1, 1])
    ex = m / n if n else 0.0
    ez = mz / nz if nz else ex
    sent = int(counts.sent[0])
    det0 = int(counts.detections[0].sum())
    gain = det0 / sent if sent else 0.0
    mu = float(src.intensities[0])
    naive = max(0, math.floor(n * (1.0 - 2.0 * binary_entropy(ex)))) if n else 0
    rate = float(theory.gllp_key_rate(n / det0 if det0 else 0.0, mu, gain, ex, pp.f_ec,
                                      qber_phase=ez, gain_phase=gain)) if det0 else 0.0
    gllp = max(0, math.floor(rate * sent))
    delta = float(theory.multi_photon_prob(mu)) / gain if gain else math.inf
    k = int(stats.known[0])
    return {
        "intensity": mu, "sifted_bits": n, "qber_x": ex, "qber_z": ez, "gain": gain,
        "naive": {"formula": "l = n (1 - 2 h(E_x)): every pulse treated as a single photon",
                  "key_bits": naive,
                  "eve": _final_key_info(naive, n, k, seed, kept, select=0)},
        "gllp": {"formula": "asymptotic GLLP on observed counts: l = n [(1 - D)(1 - h(E_z/(1 - D)))"
                            " - f_ec h(E_x)], D = P(n>=2 | mu) / gain",
                 "delta": delta, "key_bits": gllp,
                 "eve": _final_key_info(gllp, n, k, seed, kept, select=0)},
    }


def _analyse(counts, stats, scenario, src, seed):
    from qchannel.protocols.decoy_bb84 import build_result, intensity_table

    kept = stats.arrays()
    single = _single_intensity(counts, stats, src, scenario.postprocess, seed, kept)
    if len(src.intensities) == 3:
        d = build_result(counts, scenario, seed).to_dict()
    else:
        n_x = int(counts.n_basis(0).sum())
        nz = int(counts.n_basis(1).sum())
        ell = single["gllp"]["key_bits"] if len(src.intensities) == 1 else 0
        reason = None if ell > 0 else (
            "no positive GLLP key length" if len(src.intensities) == 1
            else "the Lim et al. 2014 analysis needs exactly 3 intensities")
        rep = src.rep_rate_hz
        d = {"protocol": "decoy-bb84", "seed": seed, "pulses": int(counts.pulses),
             "duration_s": counts.pulses / rep, "detections": int(counts.detections.sum()),
             "double_clicks": counts.double_clicks,
             "intensities": intensity_table(counts, src.intensities), "sifted_bits": n_x,
             "qber": counts.m_basis(0).sum() / n_x if n_x else None,
             "qber_z": counts.m_basis(1).sum() / nz if nz else None,
             "ec": {"method": "estimate", "f_ec": scenario.postprocess.f_ec},
             "secret_key_bits": int(ell), "key_rate_per_pulse": ell / counts.pulses,
             "secret_key_rate_bps": ell / counts.pulses * rep, "aborted": ell <= 0,
             "abort_reason": reason,
             "finite_key": {"method": "GLLP, asymptotic, signal class (single intensity)"},
             "scenario": scenario.to_dict()}
    n, k = int(stats.n.sum()), int(stats.known.sum())
    d["eve_known_sifted_bits"] = k
    d["eve_knowledge"] = {
        "sifted_bits": n, "known_bits": k,
        "known_fraction": k / n if n else None,
        "known_fraction_sigma": math.sqrt(max(k * (n - k), 1) / n) / n if n else None,
        "correct_guesses_alice": int(stats.right_alice.sum()),
        "correct_guesses_bob": int(stats.right_bob.sum()),
        "per_intensity": [{"sifted_bits": int(a), "known_bits": int(b),
                           "correct_guesses_alice": int(c)}
                          for a, b, c in zip(stats.n, stats.known, stats.right_alice)],
        "target": "Alice's sifted X-basis bit (= the reconciled key bit)",
    }
    d["eve_info_final_key"] = _final_key_info(d["secret_key_bits"], n, k, seed, kept)
    d["single_intensity_analyses"] = single
    return EveResult(d)


# --------------------------------------------------------------------------
# scenario files with an [eve] section
# --------------------------------------------------------------------------
def split_eve(data):
    """(scenario tables without [eve], EveConfig or None) from the raw tables
    of a scenario file.  Validates [eve] (ValueError naming ``eve.key``)."""
    if "eve" not in data:
        return data, None
    rest = {k: v for k, v in data.items() if k != "eve"}
    return rest, EveConfig.from_dict(data["eve"])


def run_eve_file(path, seed=None, pulses=None):
    """Run a decoy-BB84 scenario file that has an [eve] section; returns the
    result dict of :func:`simulate_with_eve`."""
    from qchannel.scenario import Scenario, read_toml

    data, eve = split_eve(read_toml(path))
    if eve is None:
        raise ValueError(f"scenario file {path} has no [eve] section")
    return simulate_with_eve(Scenario.from_dict(data), eve, seed=seed, pulses=pulses)
