"""SP 800-90B estimators against NIST's reference tool, and the health tests.

Reference values: NIST's C++ SP800-90B_EntropyAssessment (``ea_non_iid -v -v
FILE 1``, the copy bundled in PyPI's sp800_90b 0.1.1, built against
libdivsufsort) run on the bit strings made below from qchannel's Philox
streams, written one bit per byte.  Every estimate printed with 17 digits."""
import math

import numpy as np
import pytest

from qchannel import rng
from qchannel.qrng import entropy as E

N = 1_000_000
KEYS = ("most_common_value", "collision", "markov", "compression", "t_tuple", "lrs",
        "multi_mcw", "lag", "multi_mmc", "lz78y")

NIST = {
    "uniform": (0.99625410453924268, 0.90438675856803019, 0.99932999585159299,
                0.85312480605010377, 0.93805159541601091, 0.92841506529120765,
                0.99526282540376276, 0.99698959676811816, 0.99605841594636124,
                0.99885954162782364),
    "biased55": (0.8584144781846581, 0.83260579113083089, 0.86118768078239949,
                 0.68118600759220849, 0.84991823017072832, 0.96721036945452077,
                 0.85998781010260139, 0.97976782384559902, 0.85850835476279352,
                 0.85845536324509253),
    "markov60": (0.99377835687086336, 0.46338978603244912, 0.73751176351336667,
                 0.54965773640848459, 0.72746664795876526, 0.94259713746270291,
                 0.96675157483610752, 0.73411060254767446, 0.73412355307135391,
                 0.73412113465586093),
    # one run of 40 ones in random bits: MultiMCW's local (longest-run) bound decides
    "run40": (0.99562110406404891, 0.91923336301180536, 0.9992309478442134,
              0.83757123932442168, 0.86734262188468292, 0.95109104435113812,
              0.64341869706951271, 0.99561678658319441, 0.90970780481472557,
              0.99713643664452356),
}


def dataset(name):
    if name == "uniform":
        return rng.bits(5, 1, 0, N)
    if name == "biased55":
        return (rng.uniform(7, 2, 0, N) < 0.45).astype(np.uint8)
    if name == "markov60":     # keep the previous bit with probability 0.6
        return (np.cumsum(rng.uniform(7, 2, 1, N) >= 0.6) % 2).astype(np.uint8)
    if name == "run40":
        c = rng.bits(7, 1, 3, N).copy()
        c[100000:100040] = 1
        return c
    raise KeyError(name)


@pytest.mark.parametrize("name", sorted(NIST))
def test_estimators_match_nist_reference_tool(name):
    got = E.assess(dataset(name))
    for key, want in zip(KEYS, NIST[name]):
        assert got[key] == pytest.approx(want, abs=1e-9), key
    assert got["h_min"] == pytest.approx(min(NIST[name]), abs=1e-9)


def test_biased_source_assessed_below_its_most_likely_value():
    # the most common value's upper bound p_u exceeds 0.55, so the minimum
    # over the estimators is at most -log2(0.55)
    h = E.assess(dataset("biased55"))["h_min"]
    assert h <= -math.log2(0.55)


def test_too_little_data_and_non_bits_are_refused():
    with pytest.raises(ValueError, match="6000 bits"):
        E.assess(np.zeros(5000, dtype=np.uint8))
    with pytest.raises(ValueError, match="bits"):
        E.assess(np.full(10000, 2, dtype=np.uint8))


def test_constant_and_periodic_data_have_no_entropy():
    # a repeat longer than 256 bits stops the tuple scan: LRS estimate 0
    for bits in (np.zeros(20000, dtype=np.uint8), np.tile(np.array([0, 1, 1], np.uint8), 7000)):
        est = E.assess(bits)
        assert est["lrs"] == 0.0
        assert est["h_min"] == pytest.approx(0.0, abs=1e-3)


def test_health_cutoffs_match_the_standard():
    # SP 800-90B 4.4.1: C = 1 + ceil(20 / H); Table 2 (binary, W = 1024): H = 1 -> 589
    assert E.rct_cutoff(1.0) == 21
    assert E.rct_cutoff(0.5) == 41
    assert E.apt_cutoff(1.0) == 589
    with pytest.raises(ValueError, match="H"):
        E.rct_cutoff(0.0)


def test_health_tests_flag_a_degraded_source():
    ok = E.health_tests(dataset("uniform"), 1.0)
    bad = E.health_tests(dataset("biased55"), 1.0)
    assert ok["failures"] <= 1          # alpha = 2^-20 per sample: ~1 false alarm per 1e6
    assert bad["apt_failures"] > 10     # windows opening on the 55% value: count ~ 563 +- 16, cutoff 589
    stuck = dataset("uniform").copy()
    stuck[5000:5030] = 0
    assert E.health_tests(stuck, 1.0)["rct_failures"] >= 1


@pytest.mark.parametrize("seed", range(6))
def test_health_tests_fed_in_pieces_count_as_one_stream(seed):
    """Runs and APT windows straddling the pieces (QRNG blocks) are counted as
    in the whole stream: the state carries over."""
    r = np.random.default_rng(seed)
    # long runs (stuck-at episodes) and biased stretches, cut at random places
    parts = [np.full(int(r.integers(1, 60)), r.integers(0, 2), np.uint8) if r.random() < 0.3
             else (r.random(int(r.integers(1, 3000))) < 0.9).astype(np.uint8)
             for _ in range(40)]
    stream = np.concatenate(parts)
    cuts = np.sort(r.choice(np.arange(1, stream.size), 12, replace=False))
    ht = E.HealthTests(0.5, window=512)
    for piece in np.split(stream, cuts):
        ht.feed(piece)
    whole = E.health_tests(stream, 0.5, window=512)
    assert ht.finish() == whole
    assert whole["rct_failures"] > 0 and whole["apt_failures"] > 0   # both tests exercised
    # the per-piece sum (the old behaviour) misses what straddles the cuts
    naive = sum(E.health_tests(p, 0.5, window=512)["rct_failures"] for p in np.split(stream, cuts))
    assert naive <= whole["rct_failures"]


def test_health_tests_count_runs_against_a_direct_loop():
    r = np.random.default_rng(3)
    bits = (r.random(20000) < 0.95).astype(np.uint8)
    c = E.rct_cutoff(0.4)
    fails, run = 0, 1
    for i in range(1, bits.size + 1):
        if i < bits.size and bits[i] == bits[i - 1]:
            run += 1
        else:
            fails += run >= c
            run = 1
    assert E.health_tests(bits, 0.4)["rct_failures"] == fails > 0
