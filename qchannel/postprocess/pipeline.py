"""From sifted bits to identical secret keys: error correction, verification,
privacy amplification, with every disclosed bit counted.

The sifted X-basis key is reconciled frame by frame (frames of 2^16 bits for
Cascade, 1e5 for LDPC, the LDPC ones decoded in groups of up to 128); each
frame is verified with a universal hash whose tag
bits count as leakage, and a frame that fails verification is discarded,
never kept.  The finite-key length (Lim et al. 2014) is then computed from the
real leakage, minus one bit per discarded bit (removing m bits of a string
lowers its smooth min-entropy by at most m), and both parties hash their
corrected keys with the same Toeplitz matrix.  Both ends hold the same key,
or no key and a reason.
"""
from dataclasses import dataclass, field

import numpy as np

from qchannel import rng
from qchannel.params import check_int
from qchannel.theory import h2

#: Sifted bits reconciled and verified together: one frame of the method, so
#: that a frame failing verification costs only its own bits.
FRAME_BITS = {"cascade": 1 << 16, "ldpc": 100_000}
#: Frames handed to one reconcile call (LDPC: enough to keep the 32 decoder
#: lanes busy; Cascade frames are independent anyway).
GROUP_FRAMES = {"cascade": 1, "ldpc": 128}
#: Smallest QBER handed to the codes: the estimate comes from a finite sample.
MIN_QBER_ESTIMATE = 0.005


@dataclass
class KeyDistillation:
    """Outcome of error correction, verification and privacy amplification."""

    method: str
    leaked_bits: int = 0
    verification_bits: int = 0
    frames: int = 0
    frames_failed: int = 0
    frames_discarded: int = 0
    discarded_bits: int = 0
    rounds: int = 0
    corrected_bits: int = 0
    qber_estimate: float = 0.0
    qber_actual: float = 0.0
    efficiency: float = None
    decoder: str = None
    alice_key: np.ndarray = field(default=None, repr=False)
    bob_key: np.ndarray = field(default=None, repr=False)

    @property
    def keys_match(self):
        return self.alice_key is not None and np.array_equal(self.alice_key, self.bob_key)

    def ec_dict(self):
        extra = {"decoder": self.decoder} if self.decoder else {}
        return {
            "method": self.method,
            **extra,
            "leaked_bits": int(self.leaked_bits),
            "efficiency": self.efficiency,
            "frames": int(self.frames),
            "frames_failed": int(self.frames_failed),
            "frames_discarded": int(self.frames_discarded),
            "discarded_bits": int(self.discarded_bits),
            "rounds": int(self.rounds),
            "qber_estimate": self.qber_estimate,
            "qber_actual": self.qber_actual,
        }


def frame_edges(n, frame_bits):
    """Balanced frames (no short tail frame a code cannot serve well): sizes
    differ by at most one bit, the longer frames first -- the layout that
    :func:`qchannel.postprocess.ldpc.reconcile_ldpc` uses inside a call, so a
    group of consecutive frames keeps its boundaries there."""
    n_frames = max(1, -(-n // frame_bits))
    base, extra = divmod(n, n_frames)
    sizes = np.full(n_frames, base, dtype=np.int64)
    sizes[:extra] += 1
    return np.concatenate([[0], np.cumsum(sizes)])


def reconcile_and_verify(alice, bob, qber_estimate, method, seed, eps_cor, frame_bits=None,
                         decoder=None, threads=1):
    """Reconcile the sifted key frame by frame and verify each frame.

    LDPC frames go to the decoder ``GROUP_FRAMES`` at a time (its batched
    decoder fills 32 lanes); each frame is still verified, kept or discarded
    on its own.  ``threads`` (default 1): groups are reconciled on that many
    native threads (or, with fewer groups than threads, the threads share
    each group's frames); every group has its own seed, so the outcome is
    bit-identical for any number.  Returns (KeyDistillation without final
    keys, Alice's kept bits, Bob's kept corrected bits)."""
    from qchannel.postprocess import reconcile, verify

    threads = check_int("threads", threads, 1, 1024)
    q = float(min(max(qber_estimate, MIN_QBER_ESTIMATE), 0.11 if method == "ldpc" else 0.25))
    out = KeyDistillation(method=method, qber_estimate=q)
    n = len(alice)
    out.qber_actual = float(np.count_nonzero(alice != bob)) / n if n else 0.0
    kept_a, kept_b = [], []
    ec_seed = rng.derive_seed(seed, rng.Purpose.CASCADE if method == "cascade" else rng.Purpose.LDPC)
    frame_bits = frame_bits or FRAME_BITS[method]
    edges = frame_edges(n, frame_bits)
    group = GROUP_FRAMES.get(method, 1)
    extra = {} if decoder is None else {"decoder": decoder}
    groups = [(g0, min(g0 + group, len(edges) - 1)) for g0 in range(0, len(edges) - 1, group)]
    outer = max(1, min(threads, len(groups)))
    if method == "ldpc":
        extra["threads"] = max(1, threads // outer)

    def run_group(g):
        g0, g1 = g
        start, stop = int(edges[g0]), int(edges[g1])
        res = reconcile(alice[start:stop], bob[start:stop], q, method=method,
                        seed=rng.derive_seed(ec_seed, rng.Purpose.SAMPLING, g0),
                        frame_bits=int(edges[g0 + 1] - edges[g0]), **extra)
        if res.frames != g1 - g0:
            raise RuntimeError(f"reconcile returned {res.frames} frames for a group of {g1 - g0}")
        return res

    if outer == 1:
        results = map(run_group, groups)
    else:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=outer) as ex:
            results = list(ex.map(run_group, groups))
    for (g0, g1), res in zip(groups, results):    # in order: same sums, same keys
        start = int(edges[g0])
        a = alice[start:int(edges[g1])]
        out.frames += int(res.frames)
        out.frames_failed += int(res.frames_failed)
        out.leaked_bits += int(res.leaked_bits)
        out.rounds = max(out.rounds, int(res.rounds))
        out.decoder = getattr(res, "decoder", None)
        for f in range(g0, g1):
            lo, hi = int(edges[f]) - start, int(edges[f + 1]) - start
            fa, fb = a[lo:hi], res.bob_corrected[lo:hi]
            check = verify(fa, fb, eps_cor,
                           seed=rng.derive_seed(seed, rng.Purpose.VERIFICATION, f))
            out.verification_bits += int(check.tag_bits)
            if check.match:
                kept_a.append(fa)
                kept_b.append(fb)
            else:
                out.frames_discarded += 1
                out.discarded_bits += len(fa)
    out.corrected_bits = sum(len(k) for k in kept_a)
    if n and out.qber_actual > 0:
        out.efficiency = out.leaked_bits / (n * h2(out.qber_actual))
    cat = lambda parts: np.concatenate(parts) if parts else np.empty(0, np.uint8)
    return out, cat(kept_a), cat(kept_b)


def amplify(out, alice_kept, bob_kept, key_length, seed, threads=1):
    """Both parties hash their corrected keys down to ``key_length`` bits with
    the same Toeplitz matrix (seeded from the project RNG).  ``threads``: the
    two hashes run side by side, each split further over ``threads // 2``
    threads (exact: the same keys for any number)."""
    from qchannel.postprocess import privacy_amplify

    threads = check_int("threads", threads, 1, 1024)
    if key_length <= 0 or len(alice_kept) == 0:
        out.alice_key = out.bob_key = np.empty(0, np.uint8)
        return out
    pa_seed = rng.derive_seed(seed, rng.Purpose.PRIVACY_AMPLIFICATION)
    if threads < 2:
        out.alice_key = privacy_amplify(alice_kept, key_length, pa_seed)
        out.bob_key = privacy_amplify(bob_kept, key_length, pa_seed)
        return out
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as ex:
        fa, fb = (ex.submit(privacy_amplify, k, key_length, pa_seed, threads=threads // 2)
                  for k in (alice_kept, bob_kept))
        out.alice_key, out.bob_key = fa.result(), fb.result()
    return out


def write_keys(out, directory):
    """Both final keys as packed binary files (``alice.key``, ``bob.key``;
    ``np.packbits`` order: first bit = most significant bit of byte 0)."""
    import os

    os.makedirs(directory, exist_ok=True)
    # both keys to temporary names first, then renamed: an interrupted write
    # leaves no half pair of keys behind
    tmp = []
    try:
        for name, key in (("alice", out.alice_key), ("bob", out.bob_key)):
            path = os.path.join(directory, f".{name}.key.tmp-{os.getpid()}")
            tmp.append((path, os.path.join(directory, f"{name}.key")))
            with open(path, "wb") as f:
                f.write(np.packbits(key if key is not None else np.empty(0, np.uint8)).tobytes())
        for path, final in tmp:
            os.replace(path, final)
    finally:
        for path, _ in tmp:
            if os.path.exists(path):
                os.unlink(path)
