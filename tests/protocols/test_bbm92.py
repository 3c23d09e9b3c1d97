"""BBM92 / E91: CHSH, QBER, Eve and the finite key.

Statistical checks are 4 sigma at fixed seeds: S against its exact closed
form with the estimator's sigma ``chsh_s_std``, the QBER with the binomial
sigma sqrt(q (1 - q) / n) of the n sifted bits.  The expected values are
computed here from the scenario's inputs with qchannel.theory.entanglement
(click-pattern model: multi-pair emission, dark counts, squashing), not
taken from the result's ``theory`` block."""
import math

import pytest

from qchannel.theory import entanglement as th
from qchannel.jobs.entanglement import run_entanglement
from qchannel.protocols.bbm92 import bbm92_key_length

SIG = 4.0
KEYS = {"qber", "chsh_s", "chsh_s_std", "coincidences", "accidentals", "secret_key_bits",
        "key_rate_per_pulse", "secret_key_rate_bps", "aborted", "abort_reason", "pairs", "pulses"}
DEG = math.pi / 180
# eta = transmittance x efficiency (no jitter, heralding 1); dark counts per detector
ETA_A, ETA_B, DARK = 0.9 * 0.9, 0.8 * 0.9, 1e-8


def scenario(protocol, V=0.9, pulses=20_000_000, mu=0.002, seed=1, **chan):
    return {"source": {"type": "spdc", "pair_prob": mu, "visibility": V, "rep_rate_hz": 1e8},
            "channel": {"alice": {"transmittance": 0.9}, "bob": {"transmittance": 0.8, **chan}},
            "detector": {"efficiency": 0.9, "dark_count_prob": DARK},
            "protocol": protocol, "run": {"pulses": pulses, "seed": seed},
            "postprocess": {"eps_sec": 1e-10, "eps_cor": 1e-15, "f_ec": 1.16}}


def expected(T, key_angles, mu=0.002):
    """(S, QBER) of the recorded coincidences for the correlation matrix T
    (CHSH settings 0/45 and 22.5/67.5 deg; key from the equal-angle pairs
    ``key_angles``, equally likely, so the QBER is their mean)."""
    args = (mu, ETA_A, ETA_B, DARK, DARK)
    S = th.chsh_observed(*args, T)
    q = [th.qber(*args, th.correlation(a, a, T)) for a in key_angles]
    return S, sum(q) / len(q)


def check_qber(r, q):
    assert abs(r["qber"] - q) < SIG * math.sqrt(q * (1 - q) / r["sifted_bits"]), (r["qber"], q)


def check_s(r, S):
    assert abs(r["chsh_s"] - S) < SIG * r["chsh_s_std"], (r["chsh_s"], S, r["chsh_s_std"])


@pytest.mark.parametrize("V", [1.0, 0.85, 0.6])
def test_e91_chsh_is_2sqrt2_V(V):
    r = run_entanglement(scenario({"type": "e91"}, V=V, pulses=100_000_000)).to_dict()
    assert KEYS <= set(r)
    S, q = expected(th.werner_T(V), (22.5 * DEG, 45 * DEG))
    check_s(r, S)
    check_qber(r, q)
    # Deterministic: S -> 2 sqrt(2) V; multi-pair and accidental coincidences
    # (counted as uncorrelated in the worst case) lower it by at most a
    # fraction 2 mu + P_acc / P_c.
    pc = th.coincidence_prob(0.002, ETA_A, ETA_B, DARK, DARK)
    pa = th.accidental_prob(0.002, ETA_A, ETA_B, DARK, DARK)
    assert 0 < th.chsh_werner(V) - S < th.chsh_werner(V) * (2 * 0.002 + pa / pc)


def test_bbm92_chsh_rounds_and_key():
    r = run_entanglement(scenario({"type": "bbm92", "chsh_fraction": 0.3}, V=0.97,
                                  pulses=100_000_000)).to_dict()
    S, q = expected(th.werner_T(0.97), (0.0,))
    check_s(r, S)
    check_qber(r, q)
    assert (1 - 0.97) / 2 < q < (1 - 0.97) / 2 + 0.002     # (1 - V)/2 plus multi-pair errors
    assert not r["aborted"] and r["secret_key_bits"] > 0
    assert r["secret_key_rate_bps"] == pytest.approx(r["secret_key_bits"] / 1.0)   # 1e8 pulses at 100 MHz


def test_intercept_resend_breaks_bell_inequality():
    # Eve measures every B photon in Z or X and resends: T -> (T P_z + T P_x)/2,
    # S = sqrt(2) V < 2 and correlation 1/2 in the key bases (QBER ~ 1/4).
    T = th.intercept_resend_T(th.werner_T(1.0), 1.0)
    r = run_entanglement(scenario({"type": "e91", "eve_intercept_fraction": 1.0}, V=1.0)).to_dict()
    S, q = expected(T, (22.5 * DEG, 45 * DEG))
    assert S == pytest.approx(math.sqrt(2), rel=2 * 0.002 + 1e-3)
    check_s(r, S)
    assert r["chsh_s"] + SIG * r["chsh_s_std"] < 2.0
    assert r["aborted"] and "CHSH" in r["abort_reason"]
    b = run_entanglement(scenario({"type": "bbm92", "eve_intercept_fraction": 1.0,
                                   "chsh_fraction": 0.5}, V=1.0)).to_dict()
    S, q = expected(T, (0.0,))
    check_qber(b, q)
    check_s(b, S)
    assert b["chsh_s"] + SIG * b["chsh_s_std"] < 2.0 and b["aborted"]


def test_depolarizing_channel_lowers_S():
    p = 0.2
    r = run_entanglement(scenario({"type": "e91"}, V=1.0, pulses=100_000_000,
                                  depolarizing=p)).to_dict()
    # Bob's arm: Bloch matrix (1 - p) I, so T = (1 - p) T0: S ~ 2 sqrt(2) (1 - p)
    S, q = expected(th.werner_T(1.0) @ th.bloch_depolarizing(p).T, (22.5 * DEG, 45 * DEG))
    check_s(r, S)
    check_qber(r, q)
    assert S == pytest.approx(th.chsh_werner(1 - p), rel=2 * 0.002 + 1e-3)


def _tomamichel_length(n, k, e_z, e_x, eps_sec, eps_cor, f_ec):
    """Tomamichel, Lim, Gisin, Renner, Nat. Commun. 3, 634 (2012), written
    here from the paper: l = n [1 - h(e_X + mu)] - ceil(f n h(e_Z))
    - log2(2 / (eps_sec^2 eps_cor)), mu = sqrt((n + k)/(n k) (k + 1)/k ln(2/eps_sec))."""
    mu = math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(2 / eps_sec))
    leak = math.ceil(f_ec * n * th_h(e_z))
    return math.floor(n * (1 - th_h(e_x + mu)) - leak - math.log2(2 / (eps_sec ** 2 * eps_cor))), mu


def test_finite_key_bound_behaviour():
    # Deterministic: the formula evaluated independently, to the bit.
    for n, e in ((10**6, 0.02), (10**4, 0.02), (10**8, 0.05)):
        ell, mu = _tomamichel_length(n, n, e, e, 1e-10, 1e-15, 1.16)
        got = bbm92_key_length(n, n, e, e, 1e-10, 1e-15, 1.16)
        assert got[0] == max(ell, 0) and got[1] == pytest.approx(mu, rel=1e-12)
    b1, mu1, *_ = bbm92_key_length(10**6, 10**6, 0.02, 0.02, 1e-10, 1e-15, 1.16)
    b2, mu2, *_ = bbm92_key_length(10**4, 10**4, 0.02, 0.02, 1e-10, 1e-15, 1.16)
    assert b1 > 0 and mu2 > mu1 and b2 / 1e4 < b1 / 1e6
    assert bbm92_key_length(10**6, 10**6, 0.2, 0.2, 1e-10, 1e-15, 1.16)[0] == 0
    assert bbm92_key_length(0, 10, 0.0, 0.0, 1e-10, 1e-15, 1.16)[3]
    # asymptotically the rate tends to 1 - h(e_x) - f h(e_z); at n = 1e12 the
    # rest is mu h'(e) ~ 7e-6 * 5.6 plus ~100 bits: below 1e-4
    big = 10**12
    rate = bbm92_key_length(big, big, 0.02, 0.02, 1e-10, 1e-15, 1.0)[0] / big
    assert rate == pytest.approx(1 - 2 * th_h(0.02), abs=1e-4)


def th_h(x):
    return -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def test_no_coincidences_aborts():
    sc = scenario({"type": "bbm92"}, pulses=1000, mu=1e-6)
    r = run_entanglement(sc).to_dict()
    assert r["coincidences"] == 0 and r["aborted"] and r["secret_key_bits"] == 0


def test_pair_tally_streams_the_records_of_any_chunking():
    """The analysis counts the records as the link yields them: the tally is
    the same for any chunk size and equals one count over the whole run's
    record (time bins of a varying-transmittance run, accidentals, singles)."""
    import numpy as np

    from qchannel.links.entangled import EntangledLinkConfig, EntangledLinkModel
    from qchannel.protocols.bbm92 import PairTally, QKDProtocolConfig

    sc = scenario({"type": "e91"}, pulses=3 * (1 << 24) + 1000, mu=0.01)
    cfg = EntangledLinkConfig.from_sections(sc["source"], sc["channel"], sc["detector"])
    proto = QKDProtocolConfig.from_dict(sc["protocol"])
    aa, pa, ab, pb, *_ = proto.settings()
    G = 7
    bin_slots = -(-sc["run"]["pulses"] // G)
    eta = np.linspace(0.2, 1.0, G)
    model = EntangledLinkModel(cfg, aa, pa, ab, pb, G * bin_slots, bin_slots=bin_slots,
                               eta_a=eta, eta_b=eta[::-1].copy())
    model.threads = 1
    tallies = [PairTally.of_run(model, proto, 4, chunk) for chunk in (1, 2, 4)]
    rec = model.simulate(4)
    b = np.minimum(rec.slot // bin_slots, G - 1)
    idx = (b * len(aa) + rec.a_set) * len(ab) + rec.b_set
    tot = np.bincount(idx, minlength=G * len(aa) * len(ab)).reshape(G, len(aa), len(ab))
    same = np.bincount(idx[rec.a_bit == rec.b_bit],
                       minlength=G * len(aa) * len(ab)).reshape(G, len(aa), len(ab))
    for t in tallies:
        assert np.array_equal(t.tot, tot) and np.array_equal(t.same, same)
        assert t.coincidences == len(rec) > 1000
        assert np.array_equal(t.singles, rec.singles)
        assert t.accidentals == tallies[0].accidentals > 0
