"""Closed forms for entanglement distribution, decoherence and teleportation.

Pure functions (NumPy only); this module never imports the Monte Carlo, so
tests can hold the simulation against it.  The model is the one of
``qchannel._core.entangled`` (see its header):

* **Pair statistics.**  n pairs per slot with probability generating function
  G(z) = E[z^n]: thermal (one mode) G = 1 / (1 + mu (1 - z)),
  Poisson (many modes) G = exp(-mu (1 - z)).  Pairs are independent
  (distinguishable), which is exact in the multimode limit and the usual
  approximation otherwise (Ma, Fung, Lo, PRA 76, 012307 (2007) treat the
  single-mode polarisation-entangled case).
* **Detection.**  Photon A of each pair is detected with etaA, photon B with
  etaB, independently; each detector has a dark/background click with dA (dB)
  per slot; D_A = (1 - dA)^2 is the probability of no dark click at Alice.
  - singles        P_A = 1 - D_A G(1 - etaA)
  - coincidences   P_c = 1 - D_A G(1-etaA) - D_B G(1-etaB) + D_A D_B G((1-etaA)(1-etaB))
  - accidentals (coincidences without a pair detected on both sides)
                   P_acc = G(1 - etaA etaB) - D_A G(1-etaA) - D_B G(1-etaB)
                           + D_A D_B G((1-etaA)(1-etaB))
    For small probabilities P_acc ~ P_A P_B (the textbook S_A S_B tau).
  - the click pattern of the four detectors in closed form by inclusion-
    exclusion (:func:`click_pattern_probs`), hence the exact QBER and
    observed correlation including multi-pair, dark counts and squashing.
    To first order QBER = [(1 - E)/2 P_true + P_acc / 2] / P_c, i.e.
    (1 - V)/2 plus the accidental term.
* **Polarisation correlations.**  Bloch (Poincare) axes x = diagonal,
  y = circular, z = H/V; a linear analyser at angle theta measures along
  (sin 2 theta, 0, cos 2 theta).  Werner source of visibility V:
  T = V diag(1, -1, 1), E(thA, thB) = V cos 2(thA - thB); CHSH settings
  0, 45 deg (Alice) and 22.5, 67.5 deg (Bob) give S = 2 sqrt(2) V
  (Clauser, Horne, Shimony, Holt, PRL 23, 880 (1969)).  Unital channels on
  the arms act as T -> M_A T M_B^T with Bloch matrices: depolarising
  (1 - p) I, dephasing diag(1 - 2p, 1 - 2p, 1), rotation of the
  polarisation by phi = rotation by 2 phi about y.
* **Drift.**  phi a random walk with <phi^2> = t / tau: <cos 2 phi> =
  exp(-2 t / tau); the Z-basis QBER of a visibility-V pair is
  (1 - V cos 2 phi) / 2.
* **Memory.**  T1/T2: M = diag(e^{-t/T2}, e^{-t/T2}, e^{-t/T1}); for one qubit
  of a Bell pair stored with pure dephasing F = (1 + e^{-t/T2}) / 2, with
  depolarising w(t) = w0 e^{-t/T} (REFERENCES.md).
* **Teleportation.**  The average fidelity of a qubit channel with Bloch
  matrix M (affine part c) over the Bloch sphere (or the six states
  +-x, +-y, +-z) is F = 1/2 + Tr(M)/6; classical limit (measure and
  prepare) 2/3 (Massar, Popescu, PRL 74, 1259 (1995)).  A linear-optics BSM
  with HOM visibility M_hom registers psi- when the photons were projected
  on psi+ with probability (1 - M_hom)/2: a Z error, Bloch diag(M_hom, M_hom, 1).
"""
from __future__ import annotations

import math

import numpy as np

STATISTICS = ("thermal", "poisson")
SQRT2 = math.sqrt(2.0)

#: Analyser angles (rad) of the CHSH test: Alice a, a'; Bob b, b'.
CHSH_ALICE = (0.0, math.pi / 4)
CHSH_BOB = (math.pi / 8, 3 * math.pi / 8)


# --------------------------------------------------------------------------
# pair statistics and detection
# --------------------------------------------------------------------------
def pgf(z, mu, statistics="thermal"):
    """E[z^n] of the pair number per slot."""
    z = np.asarray(z, dtype=float)
    if statistics == "thermal":
        return 1.0 / (1.0 + mu * (1.0 - z))
    if statistics == "poisson":
        return np.exp(-mu * (1.0 - z))
    raise ValueError(f"statistics = {statistics!r} must be one of {STATISTICS}")


def pair_number_probs(mu, statistics="thermal", tol=1e-16, n_max=4096):
    """P(n), n = 0..N-1, truncated where the tail falls below ``tol`` (the
    tail is added to the last entry so the table sums to 1)."""
    n = np.arange(n_max)
    if statistics == "thermal":
        p = (1.0 / (1.0 + mu)) * (mu / (1.0 + mu)) ** n
    elif statistics == "poisson":
        lg = np.array([math.lgamma(k + 1.0) for k in n])
        p = np.exp(-mu + n * math.log(mu) - lg) if mu > 0 else (n == 0).astype(float)
    else:
        raise ValueError(f"statistics = {statistics!r} must be one of {STATISTICS}")
    tail = 1.0 - np.cumsum(p)
    cut = int(np.argmax(tail < tol)) + 1 if np.any(tail < tol) else n_max
    cut = max(cut, 2)
    p = p[:cut].copy()
    p[-1] += max(0.0, 1.0 - p.sum())
    return p


def window_acceptance(window_s, jitter_s):
    """Probability that a click with Gaussian timing jitter (rms ``jitter_s``)
    falls inside a coincidence window of full width ``window_s`` centred on
    the expected arrival time: erf(w / (2 sqrt(2) sigma))."""
    if jitter_s <= 0.0:
        return 1.0
    return math.erf(window_s / (2.0 * SQRT2 * jitter_s))


def singles_prob(mu, eta, dark, statistics="thermal"):
    """P(at least one click on a side with two detectors)."""
    return float(1.0 - (1.0 - dark) ** 2 * pgf(1.0 - eta, mu, statistics))


def coincidence_prob(mu, eta_a, eta_b, dark_a, dark_b, statistics="thermal"):
    """P(click at Alice and at Bob) per slot."""
    Da, Db = (1.0 - dark_a) ** 2, (1.0 - dark_b) ** 2
    return float(1.0 - Da * pgf(1 - eta_a, mu, statistics) - Db * pgf(1 - eta_b, mu, statistics)
                 + Da * Db * pgf((1 - eta_a) * (1 - eta_b), mu, statistics))


def accidental_prob(mu, eta_a, eta_b, dark_a, dark_b, statistics="thermal"):
    """P(coincidence and no pair detected on both sides) per slot."""
    Da, Db = (1.0 - dark_a) ** 2, (1.0 - dark_b) ** 2
    return float(pgf(1 - eta_a * eta_b, mu, statistics) - Da * pgf(1 - eta_a, mu, statistics)
                 - Db * pgf(1 - eta_b, mu, statistics)
                 + Da * Db * pgf((1 - eta_a) * (1 - eta_b), mu, statistics))


def click_pattern_probs(mu, eta_a, eta_b, dark_a, dark_b, corr, statistics="thermal"):
    """P(exact set of clicking detectors), indexed by the 4-bit mask
    (bit 0: A0, 1: A1, 2: B0, 3: B1), for a setting pair with correlation
    ``corr``.  Inclusion-exclusion over P(no click outside T) =
    G(1 - h(complement of T)) (1 - d)^{...}, h(S) = P(a pair hits S)."""
    p11, p10, p01 = eta_a * eta_b, eta_a * (1 - eta_b), (1 - eta_a) * eta_b
    # per pair: probability of hitting each detector combination (disjoint)
    hits = {
        0b0101: p11 * (1 + corr) / 4, 0b1010: p11 * (1 + corr) / 4,
        0b1001: p11 * (1 - corr) / 4, 0b0110: p11 * (1 - corr) / 4,
        0b0001: p10 / 2, 0b0010: p10 / 2, 0b0100: p01 / 2, 0b1000: p01 / 2,
    }
    darks = (dark_a, dark_a, dark_b, dark_b)

    def none_in(S):
        h = sum(v for m, v in hits.items() if m & S)
        nd = np.prod([1 - darks[j] for j in range(4) if S >> j & 1])
        return float(pgf(1.0 - h, mu, statistics)) * nd

    out = np.zeros(16)
    for K in range(16):
        total = 0.0
        T = K
        while True:                      # subsets T of K
            total += (-1) ** bin(K & ~T).count("1") * none_in(15 & ~T)
            if T == 0:
                break
            T = (T - 1) & K
        out[K] = total
    return out


def coincidence_stats(mu, eta_a, eta_b, dark_a, dark_b, corr, statistics="thermal"):
    """(P_coincidence, P(error and coincidence)) for a matched setting pair
    with correlation ``corr``: bits from single clicks, a random bit for a
    double click (squashing)."""
    P = click_pattern_probs(mu, eta_a, eta_b, dark_a, dark_b, corr, statistics)
    pc = err = 0.0
    for K in range(16):
        a, b = K & 3, K >> 2
        if not a or not b:
            continue
        pc += P[K]
        if a == 3 or b == 3:
            err += 0.5 * P[K]
        elif (a >> 1) != (b >> 1):
            err += P[K]
    return pc, err


def qber(mu, eta_a, eta_b, dark_a, dark_b, visibility, statistics="thermal"):
    """Exact QBER of matched bases (correlation = visibility) in this model."""
    pc, err = coincidence_stats(mu, eta_a, eta_b, dark_a, dark_b, visibility, statistics)
    return err / pc


def qber_first_order(mu, eta_a, eta_b, dark_a, dark_b, visibility, statistics="thermal"):
    """(1 - V)/2 for true coincidences, 1/2 for accidentals."""
    pc = coincidence_prob(mu, eta_a, eta_b, dark_a, dark_b, statistics)
    pa = accidental_prob(mu, eta_a, eta_b, dark_a, dark_b, statistics)
    return ((pc - pa) * (1 - visibility) / 2 + pa / 2) / pc


# --------------------------------------------------------------------------
# polarisation correlations and CHSH
# --------------------------------------------------------------------------
def analyser(theta):
    """Bloch vector measured by a linear analyser at angle theta (rad)."""
    return np.array([math.sin(2 * theta), 0.0, math.cos(2 * theta)])


def werner_T(visibility):
    """Correlation matrix of V |Phi+><Phi+| + (1 - V) I/4."""
    return visibility * np.diag([1.0, -1.0, 1.0])


def bloch_depolarizing(p):
    return (1.0 - p) * np.eye(3)


def bloch_dephasing(p):
    """Phase flip (Z = H/V) with probability p."""
    return np.diag([1 - 2 * p, 1 - 2 * p, 1.0])


def bloch_rotation(phi):
    """Rotation of linear polarisation by phi: rotation by 2 phi about y."""
    c, s = math.cos(2 * phi), math.sin(2 * phi)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def bloch_memory(t, t1, t2):
    """Unital part and shift of T1/T2 decay for storage time t."""
    e1 = math.exp(-t / t1) if math.isfinite(t1) else 1.0
    e2 = math.exp(-t / t2)
    return np.diag([e2, e2, e1]), np.array([0.0, 0.0, 1.0 - e1])


def correlation(theta_a, theta_b, T):
    """E(theta_a, theta_b) = a^T T b."""
    return float(analyser(theta_a) @ T @ analyser(theta_b))


def correlation_table(angles_a, angles_b, T):
    return np.array([[correlation(a, b, T) for b in angles_b] for a in angles_a])


def chsh(T, alice=CHSH_ALICE, bob=CHSH_BOB):
    """S = E(a,b) - E(a,b') + E(a',b) + E(a',b')."""
    (a, a2), (b, b2) = alice, bob
    return (correlation(a, b, T) - correlation(a, b2, T) + correlation(a2, b, T)
            + correlation(a2, b2, T))


def chsh_werner(visibility):
    """S = 2 sqrt(2) V."""
    return 2.0 * SQRT2 * visibility


def chsh_observed(mu, eta_a, eta_b, dark_a, dark_b, T, statistics="thermal",
                  alice=CHSH_ALICE, bob=CHSH_BOB):
    """S of the recorded coincidences, including accidentals and squashing:
    each observed E = 1 - 2 P(error | coincidence) of the exact click model."""
    def e_obs(ta, tb):
        pc, err = coincidence_stats(mu, eta_a, eta_b, dark_a, dark_b,
                                    correlation(ta, tb, T), statistics)
        return 1.0 - 2.0 * err / pc
    (a, a2), (b, b2) = alice, bob
    return e_obs(a, b) - e_obs(a, b2) + e_obs(a2, b) + e_obs(a2, b2)


def chsh_std(correlations, counts):
    """Standard deviation of S from four correlations E_k each estimated
    from counts N_k independent coincidences: sigma^2 = sum (1 - E_k^2)/N_k."""
    E = np.asarray(correlations, float)
    N = np.asarray(counts, float)
    return float(np.sqrt(np.sum((1.0 - E**2) / N)))


def intercept_resend_T(T, fraction=1.0):
    """Correlation matrix after Eve measures Bob's photon in Z or X (random)
    and resends: the intercepted part is (T P_z + T P_x)/2 -> S = sqrt(2) V."""
    Pz = np.diag([0.0, 0.0, 1.0])
    Px = np.diag([1.0, 0.0, 0.0])
    return (1 - fraction) * T + fraction * 0.5 * (T @ Pz + T @ Px)


# --------------------------------------------------------------------------
# drift and memory
# --------------------------------------------------------------------------
def drift_mean_cos(t, tau):
    """<cos 2 phi> for a random walk with <phi^2> = t / tau."""
    return np.exp(-2.0 * np.asarray(t, float) / tau)


def drift_qber(t, tau, visibility=1.0):
    """Mean Z-basis QBER a time t after the last compensation."""
    return 0.5 * (1.0 - visibility * drift_mean_cos(t, tau))


def dephased_bell_fidelity(t, t2):
    """F(t) = (1 + exp(-t/T2)) / 2 for one qubit of a Bell pair."""
    return 0.5 * (1.0 + math.exp(-t / t2))


def depolarized_werner(w0, t, tau):
    return w0 * math.exp(-t / tau)


# --------------------------------------------------------------------------
# teleportation
# --------------------------------------------------------------------------
def average_fidelity(M):
    """1/2 + Tr(M)/6 (Bloch sphere or six-state average)."""
    return 0.5 + float(np.trace(M)) / 6.0


def teleportation_bloch(visibility=1.0, hom_visibility=1.0, channel=None, memory=None):
    """Bloch matrix and shift of the genuine teleportation events: Werner
    resource (V), HOM Z error (diag(M, M, 1)), channel on the travelling
    photon (3x3), memory (M, c).  Returns (M, c)."""
    M = visibility * np.diag([hom_visibility, hom_visibility, 1.0])
    if channel is not None:
        M = channel @ M
    c = np.zeros(3)
    if memory is not None:
        Mm, cm = memory
        M = Mm @ M
        c = cm
    return M, c


CLASSICAL_FIDELITY = 2.0 / 3.0


def expected_rates(config, transmittance_a=None, transmittance_b=None):
    """Closed-form per-slot singles, coincidence and accidental probabilities of
    an SPDC link (``qchannel.links.entangled.EntangledLinkConfig``); optional arm
    transmittances replace the channels' constant ones (one time bin of a pass)."""
    c, s = config, config.source
    eA = c.side_eta(c.alice, c.det_alice, transmittance_a)
    eB = c.side_eta(c.bob, c.det_bob, transmittance_b)
    dA, dB = c.side_dark(c.alice, c.det_alice), c.side_dark(c.bob, c.det_bob)
    return {
        "eta_a": eA, "eta_b": eB, "dark_a": dA, "dark_b": dB,
        "singles_a": singles_prob(s.pair_prob, eA, dA, s.statistics),
        "singles_b": singles_prob(s.pair_prob, eB, dB, s.statistics),
        "coincidence": coincidence_prob(s.pair_prob, eA, eB, dA, dB, s.statistics),
        "accidental": accidental_prob(s.pair_prob, eA, eB, dA, dB, s.statistics),
    }
