"""The whole distillation inside `qchannel run`: real error correction,
verification and privacy amplification on the simulated sifted key."""
import numpy as np
import pytest

import qchannel.postprocess as pp_module
from qchannel import rng
from qchannel.postprocess import pipeline
from qchannel.protocols.finite_key import finite_key_length
from qchannel.runner import simulate
from qchannel.scenario import Scenario


def _scenario(ec, **extra):
    return Scenario().replace(**{"postprocess.ec": ec, **extra})


@pytest.fixture(scope="module")
def cascade_run():
    """The run, plus what privacy amplification was given (Alice's kept
    corrected key, the key length, the seed), captured on the way."""
    sc = _scenario("cascade")
    seen = {}
    real = pipeline.amplify

    def spy(out, alice_kept, bob_kept, key_length, seed, threads=1):
        seen.update(alice_kept=alice_kept.copy(), key_length=key_length, seed=seed)
        return real(out, alice_kept, bob_kept, key_length, seed, threads=threads)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "amplify", spy)
        res = simulate(sc, pulses=1e10, seed=21)
    res.pa_input = seen
    return sc, res


def test_cascade_keys_match_and_length_respects_the_bound(cascade_run):
    sc, res = cascade_run
    d = res.to_dict()
    assert not d["aborted"] and d["keys_match"] is True
    assert d["secret_key_bits"] == len(res.keys.alice_key) > 0
    assert np.array_equal(res.keys.alice_key, res.keys.bob_key)
    ec = d["ec"]
    assert ec["method"] == "cascade" and ec["frames_failed"] == 0 and ec["rounds"] > 0
    assert 1.0 < ec["efficiency"] < 1.25
    # The key length is the finite-key bound evaluated with the real leakage
    # (EC parities + verification tags), never more.
    fk = d["finite_key"]
    assert fk["leak_ec_bits"] == ec["leaked_bits"] + d["verification_bits"]
    n_x = [row["detections_x"] for row in d["intensities"]]
    n_z = [row["detections_z"] for row in d["intensities"]]
    m_x = [round(row["qber_x"] * row["detections_x"]) for row in d["intensities"]]
    m_z = [round(row["qber_z"] * row["detections_z"]) for row in d["intensities"]]
    bound = finite_key_length(n_x, n_z, m_x, m_z, sc.source.intensities, sc.source.intensity_probs,
                              fk["leak_ec_bits"], sc.postprocess.eps_sec, sc.postprocess.eps_cor)
    assert d["secret_key_bits"] <= bound.key_length


def test_final_keys_are_the_toeplitz_hash_not_the_sifted_key(cascade_run):
    _, res = cascade_run
    key = res.keys.alice_key
    kept, L = res.pa_input["alice_kept"], res.pa_input["key_length"]
    n = len(kept)
    assert len(key) == L == res.to_dict()["secret_key_bits"] and 0 < L < n
    # Rows of the Toeplitz matrix recomputed here (privacy.py convention
    # T[i, j] = s[i - j + n - 1], seed bits = Philox stream (seed', PA, 0)):
    # 64 output bits must be exactly the GF(2) products of the kept key.
    pa_seed = rng.derive_seed(res.pa_input["seed"], rng.Purpose.PRIVACY_AMPLIFICATION)
    s = rng.bits(pa_seed, rng.Purpose.PRIVACY_AMPLIFICATION, 0, n + L - 1)
    rows = np.random.default_rng(5).choice(L, 64, replace=False)
    j = np.arange(n)
    want = [int(np.dot(s[i - j + n - 1].astype(np.int64), kept)) & 1 for i in rows]
    assert key[rows].tolist() == want
    # Not the sifted key: the hash output agrees with any L bits of its input
    # like a fair coin, and it is balanced (4 sigma each).
    assert abs(np.mean(key == kept[:L]) - 0.5) < 4 * 0.5 / np.sqrt(L)
    assert abs(np.mean(key == kept[-L:]) - 0.5) < 4 * 0.5 / np.sqrt(L)
    assert abs(key.mean() - 0.5) < 4 * 0.5 / np.sqrt(L)


def test_planted_residual_error_is_caught_and_the_frame_discarded(monkeypatch):
    real = pp_module.reconcile
    calls = {"n": 0}

    def leaky(alice, bob, qber, method, seed, **kw):
        res = real(alice, bob, qber, method=method, seed=seed, **kw)
        calls["n"] += 1
        if calls["n"] == 2:          # the second frame keeps one wrong bit
            res.bob_corrected = res.bob_corrected.copy()
            res.bob_corrected[17] ^= 1
        return res

    monkeypatch.setattr(pp_module, "reconcile", leaky)
    sc = _scenario("cascade")
    d = simulate(sc, pulses=1e10, seed=21).to_dict()
    assert d["ec"]["frames_discarded"] == 1 and d["ec"]["discarded_bits"] > 0
    assert d["keys_match"] is True and not d["aborted"]


def test_qber_above_the_code_family_aborts_with_a_reason():
    sc = _scenario("ldpc", **{"channel.misalignment": 0.13, "channel.length_km": 10.0})
    d = simulate(sc, pulses=2e9, seed=3).to_dict()
    assert d["aborted"] and d["secret_key_bits"] == 0 and d["abort_reason"]


def test_keys_out_needs_real_error_correction(tmp_path):
    with pytest.raises(ValueError, match="keys-out"):
        simulate(Scenario(), pulses=1e8, keys_out=tmp_path)


@pytest.mark.parametrize("method", ["cascade", "ldpc"])
def test_distillation_on_a_synthetic_key(method):
    # 3e5 sifted bits at 3 % QBER: frames reconciled, verified, amplified.
    from qchannel import rng
    from qchannel.postprocess.pipeline import amplify, reconcile_and_verify

    n = 300_000
    alice = rng.bits(5, rng.Purpose.SAMPLING, 0, n)
    flips = (rng.uniform(5, rng.Purpose.SAMPLING, 1, n) < 0.03).astype(np.uint8)
    bob = alice ^ flips
    out, kept_a, kept_b = reconcile_and_verify(alice, bob, 0.03, method, seed=9, eps_cor=1e-15)
    assert out.frames >= 3 and out.verification_bits == out.frames * 50
    assert len(kept_a) + out.discarded_bits == n
    assert np.array_equal(kept_a, kept_b)
    assert 1.0 < out.efficiency < 1.25
    amplify(out, kept_a, kept_b, 1000, seed=9)
    assert out.keys_match and len(out.alice_key) == 1000


@pytest.mark.parametrize("method,group", [("cascade", 1), ("ldpc", 2), ("ldpc", 8)])
def test_threads_give_the_same_keys_and_leak(method, group, monkeypatch):
    # Groups on threads (group 1-2: more groups than threads) or frames of one
    # group shared by the threads (group 8): the same keys, leak and counts
    # for 1, 2 and 3 threads.
    from qchannel.postprocess.pipeline import amplify, reconcile_and_verify

    monkeypatch.setitem(pipeline.GROUP_FRAMES, method, group)
    n = 120_000
    alice = rng.bits(6, rng.Purpose.SAMPLING, 0, n)
    bob = alice ^ (rng.uniform(6, rng.Purpose.SAMPLING, 1, n) < 0.04).astype(np.uint8)
    runs = []
    for threads in (1, 2, 3):
        out, ka, kb = reconcile_and_verify(alice, bob, 0.04, method, seed=4, eps_cor=1e-12,
                                           frame_bits=15_000, threads=threads)
        amplify(out, ka, kb, 20_000, seed=4, threads=threads)
        runs.append(out)
    for out in runs[1:]:
        assert out.ec_dict() == runs[0].ec_dict()
        assert out.verification_bits == runs[0].verification_bits
        assert np.array_equal(out.alice_key, runs[0].alice_key)
        assert np.array_equal(out.bob_key, runs[0].bob_key)
    assert runs[0].keys_match and runs[0].frames == 8
    with pytest.raises(ValueError, match="threads"):
        reconcile_and_verify(alice, bob, 0.04, method, seed=4, eps_cor=1e-12, threads=0)
