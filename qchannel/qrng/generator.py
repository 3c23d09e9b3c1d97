"""A QRNG run: raw blocks from the device, entropy assessment, health tests,
Toeplitz extraction.

1. Raw bits come in fixed blocks of ``qrng.block_bits`` from streams
   (seed, QRNG, block).
2. The first ``qrng.assess_bits`` raw bits are assessed by SP 800-90B
   (:func:`qchannel.qrng.entropy.assess`); the device model gives its own
   min-entropy from the same block.  Extraction uses
   H = min(assessed, model, 1) per raw bit: never more than either.
3. Every raw block goes through the health tests (cutoffs from
   ``qrng.health_entropy`` when given -- the entropy the device is claimed
   to have -- otherwise from H); a run of identical bits that straddles two
   blocks is counted in each block separately.
4. Each block of n raw bits is hashed by a Toeplitz matrix (seed bits from
   stream (seed, QRNG_EXTRACTOR_SEED, block)) to
   m = floor(n H - 2 log2(1/eps)) bits (leftover hash lemma: the output is
   eps-close to uniform given the adversary's information when the block
   has n H bits of min-entropy).
"""
import math

import numpy as np

from qchannel import rng
from qchannel.postprocess.privacy import toeplitz_hash
from qchannel.qrng import entropy as E
from qchannel.qrng.devices import model_min_entropy, simulate_block

MAX_OUTPUT_BITS = 1 << 40


def output_per_block(n, h, eps):
    """Leftover hash lemma: floor(n H - 2 log2(1/eps)), at least 0."""
    return max(0, math.floor(n * h - 2.0 * math.log2(1.0 / eps)))


class _PackedWriter:
    """Appends bits to a file packed 8 per byte, most significant bit first
    (numpy.packbits order); the last byte is zero-padded."""

    def __init__(self, path):
        self.f = open(path, "wb") if path is not None else None
        self.carry = np.zeros(0, dtype=np.uint8)

    def write(self, bits):
        if self.f is None:
            return
        bits = np.concatenate((self.carry, bits))
        whole = bits.shape[0] - bits.shape[0] % 8
        self.f.write(np.packbits(bits[:whole]).tobytes())
        self.carry = bits[whole:]

    def close(self):
        if self.f is not None:
            if self.carry.shape[0]:
                self.f.write(np.packbits(self.carry).tobytes())
            self.f.close()


def generate(dev, seed, output_bits, out=None, progress=None, keep=False):
    """Run the device until ``output_bits`` extracted bits exist; write them
    packed to ``out`` (a path) when given.  Returns the report dict (and the
    extracted bits under ``"bits"`` when ``keep``)."""
    seed = rng.check_seed(seed)
    n = dev.block_bits
    b = dev.bits_per_sample
    first = simulate_block(dev, seed, 0, n)
    if first.bits.shape[0] < n:
        raise ValueError(f"the device made only {first.bits.shape[0]} of qrng.block_bits = {n} "
                         f"raw bits before the simulation's time limit (2^46 time bins or "
                         f"2^60 pulses): raise its click rate or lower qrng.block_bits")
    assessed = E.assess(first.bits[:dev.assess_bits])
    h_model, p_model = model_min_entropy(first, b)
    h = min(assessed["h_min"], h_model, 1.0)
    m = output_per_block(n, h, dev.eps)
    h_health = dev.health_entropy if dev.health_entropy is not None else h
    result = {
        "protocol": "qrng", "type": dev.type, "seed": seed, "block_bits": n,
        "assess_bits": dev.assess_bits, "eps": dev.eps,
        "min_entropy_per_bit": assessed["h_min"],
        "min_entropy_model": h_model, "p_guess_model": p_model,
        "min_entropy_used": h,
        "estimators": {k: v for k, v in assessed.items() if k != "h_min"},
        "ones_fraction": float(first.bits[:dev.assess_bits].mean()),
        "output_bits_per_block": m,
    }
    if m == 0 or h <= 0.0:
        result.update(raw_bits=n, output_bits=0, raw_bit_rate_bps=n / first.time_s,
                      output_rate_bps=0.0, health_failures=None, aborted=True,
                      abort_reason=f"no extractable output: {n} raw bits at H = {h:.4g} per bit "
                                   f"hold less than 2 log2(1/eps) = "
                                   f"{2 * math.log2(1 / dev.eps):.1f} bits")
        return result
    blocks = -(-output_bits // m)
    writer = _PackedWriter(out)
    kept = []
    raw_bits = 0
    time_s = 0.0
    counts = {}
    health = E.HealthTests(h_health)     # runs and windows carry across blocks
    produced = 0
    try:
        for k in range(blocks):
            blk = first if k == 0 else simulate_block(dev, seed, k, n)
            if blk.bits.shape[0] < n:
                raise ValueError(f"block {k} ended at the device's time limit with "
                                 f"{blk.bits.shape[0]} of {n} raw bits")
            raw_bits += n
            time_s += blk.time_s
            for key, v in blk.counts.items():
                counts[key] = counts.get(key, 0) + v
            health.feed(blk.bits)
            seed_bits = rng.bits(seed, rng.Purpose.QRNG_EXTRACTOR_SEED, k, n + m - 1)
            y = toeplitz_hash(blk.bits, seed_bits, m)
            take = min(m, output_bits - produced)
            y = y[:take]
            produced += take
            writer.write(y)
            if keep:
                kept.append(y)
            if progress is not None:
                progress(produced, output_bits)
    finally:
        writer.close()
    raw_rate = raw_bits / time_s
    ht = health.finish()
    result.update({
        "raw_bits": raw_bits, "output_bits": produced, "blocks": blocks,
        "device_time_s": time_s,
        "raw_bit_rate_bps": raw_rate,
        "output_rate_bps": raw_rate * m / n,
        "health_failures": ht["failures"],
        "health": {"entropy_per_bit": h_health, **{k: ht[k] for k in (
            "rct_cutoff", "apt_cutoff", "apt_window", "rct_failures", "apt_failures",
            "apt_windows")}},
        "clicks": counts,
        "aborted": False, "abort_reason": None,
    })
    if keep:
        result["bits"] = np.concatenate(kept) if kept else np.zeros(0, dtype=np.uint8)
    return result
