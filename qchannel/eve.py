"""Eavesdroppers on a weak-coherent-pulse decoy-BB84 fiber link: an attacked link.

An ``[eve]`` section turns the scenario's link into an
:class:`AttackedLinkModel`, a :class:`qchannel.links.base.Link` like the
honest :class:`qchannel.links.prepare_measure.LinkModel` (``blocks(seed)``
yields :class:`~qchannel.links.prepare_measure.DetectionRecord`\\ s).  Only the primary clicks come
from the attack kernel (:mod:`qchannel._core.attacks`); the honest link's
compiled detector pass then applies dead time, afterpulses and squashing, and
the decoy-BB84 protocol runs unchanged: sifting, Lim et al. (2014) finite
key, error correction (estimate, cascade, ldpc), verification and privacy
amplification.  The records also carry, per event, whether Eve knows Alice's
bit and her guess of it; :func:`add_eve_knowledge` turns their tally into
the report keys ``eve``, ``eve_known_sifted_bits``, ``eve_knowledge``,
``eve_info_final_key`` and ``single_intensity_analyses``.

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

Detector model: the attack tables give Bob's primary clicks (dark counts,
misalignment, active or passive basis choice); dead time, afterpulses and
squashing are the transport kernel's detector pass, the same code as the
honest link (:func:`qchannel._core.transport.detector_pass`).  An
afterpulse-only slot draws its class (P(k | no primary click) of the
attacked link), bases and bit as the honest link does, and Eve has no
information about it.  Dead time only removes clicks: Eve's knowledge of a
slot that keeps a click is unchanged.

Eve's knowledge, measured: per sifted (X-X) event the simulation knows whether
Eve knows the key bit (Alice's bit; error correction makes Bob's equal to it)
and what she guesses.  ``eve_known_sifted_bits`` counts the first.  After
privacy amplification her knowledge is not computable in general; reported:

* ``info_lower_bound_bits`` = max(0, l - (n - k)): the Toeplitz hash maps the
  n - k bits Eve does not know to l output bits, so at least l - (n - k)
  independent parities of the final key are fixed by what she knows (exact
  bound, no assumption on the hash); ``secure_by_count`` = l <= n - k.
* on short runs (n <= ``max_hash_bits``): Eve's guess string is hashed with
  the pipeline's Toeplitz matrix (:func:`qchannel.postprocess.privacy_amplify`
  seeded as :func:`qchannel.postprocess.pipeline.amplify`) and the final-key
  bits she gets right are counted -- against the real final key when error
  correction ran.  ~l/2 (sigma sqrt(l)/2) is what a secure key gives -- but
  also what most insecure ones give (a hashed bit is a parity of ~n/2 key
  bits), so the bound above is the real test.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass

import numpy as np

from qchannel import rng as _rng
from qchannel._core import attacks as _attacks
from qchannel._core import transport as _transport
from qchannel.channels import FiberChannel
from qchannel.links.base import BLOCK_SLOTS, MAX_PULSES, Link  # noqa: F401
from qchannel.links.prepare_measure import DetectionRecord
from qchannel.params import check_choice, check_int, check_prob, check_real, reject_unknown
from qchannel.protocols.finite_key import binary_entropy

__all__ = ["ATTACKS", "EveConfig", "attack_tables", "expected_stats", "AttackedLinkModel",
           "attacked_link", "add_eve_knowledge", "simulate_with_eve", "run_eve_file"]

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
        """The keys that apply to this attack (``from_dict`` reads them back)."""
        return {k: v for k, v in asdict(self).items()
                if v is not None and self.attack in _ONLY.get(k, ATTACKS)}


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


def _geometry(eve, channel):
    if not isinstance(channel, FiberChannel):
        raise ValueError("[eve] needs a fiber channel (channel.type = 'fiber')")
    if eve.position_km > channel.length_km:
        raise ValueError(f"eve.position_km = {eve.position_km} is out of range: must be <= "
                         f"channel.length_km = {channel.length_km}")
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
    t1, t2_fiber, t2 = _geometry(eve, channel)
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
    cum = np.cumsum(t["prob"])
    # Normalised by its own last entry: non-decreasing, ending exactly at 1.
    cdf = np.minimum(cum / cum[-1], 1.0) if cum[-1] > 0 else np.ones(len(cum))
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
# the attacked link
# --------------------------------------------------------------------------
def _child(seed, name):
    return _rng.derive_seed(seed, _rng.Purpose.EVE, name)


class AttackedLinkModel(Link):
    """Source, channel and detectors with Eve on the fiber: the contract of
    :class:`qchannel.links.base.Link` contract (``blocks``, ``simulate``), records with
    ``eve_known`` and ``eve_guess`` filled.

    Per fixed block of ``BLOCK_SLOTS`` slots: the attack kernel draws the
    slots with a primary click and their combination (class, bases, Eve's
    outcome, Bob's click pattern); the transport kernel's detector pass
    applies dead time and afterpulses (state carried from block to block) and
    squashing; the slots without a click get their classes from a
    multinomial.  Streams: events, detector pass and multinomial from the
    child seed (seed, EVE, "attack-kernel"), Eve's random guesses from
    (seed, EVE, "eve-guess"), each per block, so the records are the same
    whatever ``chunk_blocks``."""

    def __init__(self, source, channel, detector, eve, pulses):
        if isinstance(eve, dict):
            eve = EveConfig.from_dict(eve)
        if not isinstance(eve, EveConfig):
            raise ValueError(f"eve must be an EveConfig or an [eve] table, not {eve!r}")
        self.source, self.channel, self.detector, self.eve = source, channel, detector, eve
        self.pulses = check_int("pulses", pulses, 1, MAX_PULSES)
        self._tables = attack_tables(eve, source, channel, detector)   # validates the geometry

    def tables(self, total_slots=None):
        """The attack tables (see :func:`attack_tables`); the same for any run length."""
        return self._tables

    def prepare(self, seed):
        t, src = self._tables, self.source
        pat = t["pat"].astype(np.uint8)
        return {
            "ev_seed": _child(seed, "attack-kernel"), "guess_seed": _child(seed, "eve-guess"),
            "cls_of": t["k"].astype(np.uint8),
            "a_of": t["a"].astype(np.uint8), "b_of": t["b"].astype(np.uint8),
            # Alice's frame -> detectors: bit 1 swaps the detectors within each pair.
            "clicks_of": np.stack([pat, ((pat & 5) << 1) | ((pat & 10) >> 1)]).astype(np.uint8),
            "known_of": t["known"].astype(np.uint8), "rel_of": t["guess"].astype(np.uint8),
            "noclick": np.ascontiguousarray(t["noclick"], dtype=float),
            "noclick_seg": np.ascontiguousarray(t["noclick"], dtype=float)[None, :],
            "seg_start": np.array([0, self.pulses], dtype=np.int64),
            "state": _transport.DetectorState(), "K": len(src.intensities)}

    def draw(self, ctx, b, start, n):
        """The attack kernel: the slots of block ``b`` with a primary click,
        their joint outcome and its lookups (independent of every other block;
        no GIL held)."""
        t, c = self._tables, ctx
        return _attacks.draw_events(c["ev_seed"], b, start, n, t["p_event"], t["cdf"],
                                    c["cls_of"], c["a_of"], c["b_of"], c["clicks_of"],
                                    c["known_of"], c["rel_of"], t["p_event"] * n)

    def carry(self, ctx, b, start, n, drawn):
        """The compiled detector pass (dead time, afterpulses, squashing; its
        state carries to the next block), then Eve's knowledge per event, the
        pulses sent and the counts (``tally``, ``eve_tally``), compiled too."""
        slot, cls, a_basis, a_bit, b_basis, clicks, known_of, rel_of = drawn
        src, det, rep, c = self.source, self.detector, self.source.rep_rate_hz, ctx
        out = _transport.detector_pass(
            c["ev_seed"], b, start, n, slot, cls, a_basis, a_bit, b_basis, clicks,
            c["seg_start"], c["noclick_seg"], det.n_detectors, src.key_basis_prob,
            det.afterpulse_prob, det.afterpulse_tau_gates(rep), det.dead_gates(rep),
            self.pulses, c["state"])
        sent, known, guess, tally, doubles, eve_tally, sifted = _attacks.finish_block(
            c["ev_seed"], c["guess_seed"], int(_rng.Purpose.EVE), b, n, slot, cls, known_of,
            rel_of, *out[:7], out[7][0], c["noclick"], _transport.FLAG_DOUBLE_CLICK)
        return DetectionRecord(*out[:7], sent, first_slot=start, n_slots=n,
                               eve_known=known, eve_guess=guess, tally=tally,
                               double_clicks_total=doubles, eve_tally=eve_tally,
                               eve_sifted=sifted)

    @staticmethod
    def concatenate(records):
        return DetectionRecord.concatenate(records)

    @staticmethod
    def _eve(out_slot, alice_bit, slot, combo, known_of, rel_of, guess_seed, block):
        """Eve's knowledge and guess of Alice's bit for each recorded event, in
        NumPy (the reference :func:`qchannel._core.attacks.finish_block` is
        tested against).  Events keep the slot of their primary click;
        afterpulse-only slots (no primary click) are unknown to her and get a
        random guess."""
        m = len(out_slot)
        known = np.zeros(m, np.uint8)
        rel = np.full(m, RANDOM, np.uint8)
        if len(slot):
            i = np.minimum(np.searchsorted(slot, out_slot), len(slot) - 1)
            primary = slot[i] == out_slot
            known[primary] = known_of[combo[i[primary]]]
            rel[primary] = rel_of[combo[i[primary]]]
        coin = _rng.bits(guess_seed, _rng.Purpose.EVE, block, m + 1)[:m]
        guess = np.where(rel == SAME, alice_bit, np.where(rel == FLIP, alice_bit ^ 1, coin))
        return known, guess.astype(np.uint8)



def attacked_link(scenario, pulses=None):
    """The :class:`AttackedLinkModel` of a scenario with an ``[eve]`` section
    over ``pulses`` slots (default: the scenario's); ValueError for a
    free-space channel or Eve beyond the fiber's end."""
    if scenario.eve is None:
        raise ValueError("the scenario has no [eve] section")
    if pulses is None:
        pulses = scenario.run.pulses or scenario.run.DEFAULT_PULSES
    return AttackedLinkModel(scenario.source, scenario.channel, scenario.detector, scenario.eve,
                             pulses)


# --------------------------------------------------------------------------
# Eve's knowledge, from the records' tally and the pipeline's real hash
# --------------------------------------------------------------------------
def _pa_seed(seed):
    # The seed of the Toeplitz matrix, as qchannel.postprocess.pipeline.amplify.
    return _rng.derive_seed(seed, _rng.Purpose.PRIVACY_AMPLIFICATION)


def _final_key_info(ell, n, k, seed, kept, select=None, final_key=None):
    """Eve's knowledge of a final key of ``ell`` bits hashed from ``n`` sifted
    bits of which she knows ``k``.  ``kept``: the tally's sifted bits (or
    None); ``select``: only that intensity class; ``final_key``: Alice's real
    final key (hashed from all ``n`` sifted bits) to hold Eve's hashed guess
    against, else the hash of (Alice's bits xor Eve's guesses) is counted."""
    from qchannel.links.base import threads
    from qchannel.postprocess.privacy import privacy_amplify

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
        alice, guess = alice[cls == select], guess[cls == select]
    if ell > len(alice):
        out["note"] = "final key longer than the sifted key: nothing to hash"
        return out
    # the run's threads share the hash (the same bits for any number)
    if final_key is not None:      # T g against the real T a
        right = int(np.count_nonzero(privacy_amplify(guess, ell, _pa_seed(seed),
                                                     threads=threads()) == final_key))
    else:                          # T a + T g = T (a + g)
        right = ell - int(privacy_amplify(alice ^ guess, ell, _pa_seed(seed),
                                          threads=threads()).sum())
    sigma = math.sqrt(ell) / 2.0
    out.update(hashed=True, eve_correct_final_bits=right, correct_fraction=right / ell,
               expected_if_secure=ell / 2.0, sigma=sigma, z_score=(right - ell / 2.0) / sigma)
    return out


def _single_intensity(counts, src, pp, seed, kept):
    """Naive (every pulse a single photon) and GLLP analyses of the signal
    class alone: what a protocol without decoys would conclude."""
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
    k = int(counts.eve.known[0])
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


def add_eve_knowledge(result, counts, scenario):
    """Eve's measured knowledge into a decoy-BB84 result
    (:func:`qchannel.protocols.decoy_bb84.build_result`) of an attacked link;
    ``counts``: the :class:`~qchannel.protocols.decoy_bb84.DecoyCounts` fed
    with its records.  Adds ``eve_known_sifted_bits``, ``eve_knowledge``,
    ``eve_info_final_key``, ``single_intensity_analyses`` and ``eve`` (the
    attack, its parameters and the tables' expectations) to ``result.to_dict()``."""
    eve, src, seed = scenario.eve, scenario.source, result.seed
    tally = counts.eve
    kept = tally.kept()
    n, k = int(tally.n.sum()), int(tally.known.sum())
    d = {"eve_known_sifted_bits": k}
    d["eve_knowledge"] = {
        "sifted_bits": n, "known_bits": k,
        "known_fraction": k / n if n else None,
        "known_fraction_sigma": math.sqrt(max(k * (n - k), 1) / n) / n if n else None,
        "correct_guesses_alice": int(tally.right_alice.sum()),
        "correct_guesses_bob": int(tally.right_bob.sum()),
        "per_intensity": [{"sifted_bits": int(a), "known_bits": int(b),
                           "correct_guesses_alice": int(c)}
                          for a, b, c in zip(tally.n, tally.known, tally.right_alice)],
        "target": "Alice's sifted X-basis bit (= the reconciled key bit)",
    }
    keys = result.keys
    if keys is not None and keys.frames_discarded:
        # The final key was hashed from the verified frames only.
        info = _final_key_info(result.secret_key_bits, n, k, seed, None)
        if info["final_key_bits"] > 0:
            info["note"] = "frames discarded by verification: guess string not hashed"
    else:
        final = keys.alice_key if keys is not None else None
        info = _final_key_info(result.secret_key_bits, n, k, seed, kept, final_key=final)
    d["eve_info_final_key"] = info
    d["single_intensity_analyses"] = _single_intensity(counts, src, scenario.postprocess, seed,
                                                       kept)
    tab = attack_tables(eve, src, scenario.channel, scenario.detector)
    exp = expected_stats(tab, len(src.intensities))
    with np.errstate(invalid="ignore", divide="ignore"):
        sx, sz = exp["sifted_x"].sum(), exp["sifted_z"].sum()
        d["eve"] = {
            "model": eve.attack, **{k: v for k, v in asdict(eve).items() if v is not None},
            **tab["info"],
            "detector_model": "dark counts, misalignment, squashing; afterpulses and dead "
                              "time by the link's detector pass",
            "expected": {   # from the tables: primary clicks, no afterpulses or dead time
                "gain_per_class": (exp["gain"] / np.asarray(src.intensity_probs)).tolist(),
                "qber_x": float(exp["err_x"].sum() / sx) if sx else None,
                "qber_z": float(exp["err_z"].sum() / sz) if sz else None,
                "known_fraction": float(exp["known_x"].sum() / sx) if sx else None,
                "known_fraction_per_class": (exp["known_x"] / exp["sifted_x"]).tolist(),
            },
        }
    result.eve_report = d
    return result


# --------------------------------------------------------------------------
# conveniences (the runner does the work)
# --------------------------------------------------------------------------
def simulate_with_eve(scenario, eve, seed=None, pulses=None):
    """``qchannel.simulate`` of ``scenario`` with ``eve`` (an
    :class:`EveConfig` or an ``[eve]`` dict) attacking its link; returns the
    report dict (``to_dict()``).  ``seed`` and ``pulses`` override [run]."""
    from qchannel.runner import simulate

    if isinstance(eve, dict):
        eve = EveConfig.from_dict(eve)
    return simulate(dataclasses.replace(scenario, eve=eve), seed=seed, pulses=pulses).to_dict()


def run_eve_file(path, seed=None, pulses=None):
    """Run a decoy-BB84 scenario file that has an [eve] section; returns the
    report dict."""
    from qchannel.runner import simulate
    from qchannel.scenario import load_scenario

    scenario = load_scenario(path)
    if scenario.eve is None:
        raise ValueError(f"scenario file {path} has no [eve] section")
    return simulate(scenario, seed=seed, pulses=pulses).to_dict()
