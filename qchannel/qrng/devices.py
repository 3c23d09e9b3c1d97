"""Photonic QRNG devices: their parameters, raw bits from simulated clicks
(compiled kernels in :mod:`qchannel._core.qrng`), the model's min-entropy and
the closed forms they are checked against.

Beam splitter (``type = "beam-splitter"``): light pulses at ``pulse_rate_hz``
(weak coherent with mean photon number ``mean_photon_number``, or single
photons) meet a splitter that sends a photon to the path read as 0 with
probability ``split_ratio``.  Detector 0 has ``detector.efficiency``,
detector 1 that times ``efficiency_ratio`` (mismatch).  Dark counts
(``detector.dark_count_prob`` per pulse), dead time and afterpulses act per
detector.  A bit is read when one detector clicks; a double click is
discarded (``double_click = "discard"``) or read as 0 (``"zero"``).

Arrival time (``type = "arrival-time"``): a photon flux ``photon_rate_hz``
on one free-running detector; a clock of ``time_bins`` bins of
``bin_width_ps`` tags each click with its bin modulo ``time_bins``, giving
log2(time_bins) raw bits (most significant first), as in Wahl et al.,
APL 98, 171105 (2011).  Dark counts are ``detector.dark_count_prob`` per
time bin.  Dead time and afterpulses correlate successive samples.

Model min-entropy (the adversary's guessing probability).  Assumption,
stated once: the adversary knows everything classical -- which clicks are
dark counts or afterpulses (those bits she guesses with certainty), the
rule's output of a double click, and the timing of past clicks (so a bit
read while the other detector is dead, or a time bin given the moment the
detector re-armed, is guessed at best).  Only the photon's path, or its
arrival time after the detector is live, is unknown to her.  Per bit
p_guess = average over bits of max_b P(b | what she knows); it is estimated
from the simulation's labelled clicks with a 99% (2.576 sigma) upper bound,
and has closed forms without dead time and afterpulses
(:func:`beam_splitter_theory`, :func:`arrival_time_theory`).
"""
import math
from dataclasses import asdict, dataclass

import numpy as np

from qchannel._core import qrng as _k
from qchannel.detectors import DetectorSet, dead_gates
from qchannel.params import check_choice, check_int, check_real, reject_unknown
from qchannel.rng import Purpose

TYPES = ("beam-splitter", "arrival-time")
SOURCES = ("coherent", "single-photon")
DOUBLE_RULES = ("discard", "zero")
Z99 = 2.5758293035489008


@dataclass(frozen=True)
class QRNGDevice:
    """The ``[qrng]`` section (device and run sizes) with the ``[detector]``."""

    type: str = "beam-splitter"
    source: str = "coherent"
    split_ratio: float = 0.5
    mean_photon_number: float = 0.1
    pulse_rate_hz: float = 1.0e8
    efficiency_ratio: float = 1.0
    double_click: str = "discard"
    photon_rate_hz: float = 1.0e8
    time_bins: int = 16
    bin_width_ps: float = 100.0
    assess_bits: int = 1_000_000
    block_bits: int = 1 << 20
    eps: float = 1.0e-10
    health_entropy: float = None
    detector: DetectorSet = DetectorSet(efficiency=0.5, dark_count_prob=1e-7,
                                        afterpulse_prob=0.0, dead_time_ns=0.0)

    KEYS = ("type", "source", "split_ratio", "mean_photon_number", "pulse_rate_hz",
            "efficiency_ratio", "double_click", "photon_rate_hz", "time_bins", "bin_width_ps",
            "assess_bits", "block_bits", "eps", "health_entropy")

    @classmethod
    def from_tables(cls, qrng, detector):
        reject_unknown("qrng", qrng, cls.KEYS)
        det = dict(detector)
        if "basis_choice" in det:
            raise ValueError("detector.basis_choice does not apply to a QRNG (its detectors "
                             "are fixed by qrng.type)")
        defaults = cls.detector
        full = {**defaults.to_dict(), **det}
        full.pop("basis_choice", None)
        q = "qrng"
        kind = check_choice(f"{q}.type", qrng.get("type", "beam-splitter"), TYPES)
        d = cls(
            type=kind,
            source=check_choice(f"{q}.source", qrng.get("source", "coherent"), SOURCES),
            split_ratio=check_real(f"{q}.split_ratio", qrng.get("split_ratio", 0.5), 0.0, 1.0),
            mean_photon_number=check_real(f"{q}.mean_photon_number",
                                          qrng.get("mean_photon_number", 0.1), 0.0, 100.0,
                                          lo_open=True),
            pulse_rate_hz=check_real(f"{q}.pulse_rate_hz", qrng.get("pulse_rate_hz", 1e8),
                                     1.0, 1e12),
            efficiency_ratio=check_real(f"{q}.efficiency_ratio",
                                        qrng.get("efficiency_ratio", 1.0), 0.0, 10.0,
                                        lo_open=True),
            double_click=check_choice(f"{q}.double_click", qrng.get("double_click", "discard"),
                                      DOUBLE_RULES),
            photon_rate_hz=check_real(f"{q}.photon_rate_hz", qrng.get("photon_rate_hz", 1e8),
                                      1.0, 1e12),
            time_bins=check_int(f"{q}.time_bins", qrng.get("time_bins", 16), 2, 1 << 16),
            bin_width_ps=check_real(f"{q}.bin_width_ps", qrng.get("bin_width_ps", 100.0),
                                    0.1, 1e9),
            assess_bits=check_int(f"{q}.assess_bits", qrng.get("assess_bits", 1_000_000),
                                  10_000, 1 << 24),
            block_bits=check_int(f"{q}.block_bits", qrng.get("block_bits", 1 << 20),
                                 10_000, 1 << 24),
            eps=check_real(f"{q}.eps", qrng.get("eps", 1e-10), 0.0, 0.5, lo_open=True),
            health_entropy=None if qrng.get("health_entropy") is None else check_real(
                f"{q}.health_entropy", qrng["health_entropy"], 0.0, 1.0, lo_open=True),
            detector=DetectorSet.from_dict({**full, "basis_choice": "active"}),
        )
        if kind == "arrival-time" and d.time_bins & (d.time_bins - 1):
            raise ValueError(f"qrng.time_bins = {d.time_bins} must be a power of 2 (each "
                             f"sample gives log2(time_bins) bits)")
        if kind == "beam-splitter" and d.detector.efficiency * d.efficiency_ratio > 1.0:
            raise ValueError(f"qrng.efficiency_ratio = {d.efficiency_ratio}: detector 1's "
                             f"efficiency detector.efficiency * efficiency_ratio = "
                             f"{d.detector.efficiency * d.efficiency_ratio:.4g} must be <= 1")
        if d.detector.efficiency <= 0.0:
            raise ValueError("detector.efficiency = 0: the detectors never click; must be in "
                             "(0, 1]")
        if kind == "arrival-time":
            t_bin_ns = d.bin_width_ps * 1e-3
            if d.rates_per_bin()[0] > 1e3:
                raise ValueError(f"qrng.photon_rate_hz = {d.photon_rate_hz:g}: more than 1000 "
                                 f"detected photons per time bin (qrng.bin_width_ps = "
                                 f"{d.bin_width_ps:g}); lower one of them")
            for key, ns in (("dead_time_ns", d.detector.dead_time_ns),
                            ("afterpulse_decay_ns", d.detector.afterpulse_decay_ns)):
                if ns / t_bin_ns > 1e12:
                    raise ValueError(f"detector.{key} = {ns:g} is more than 1e12 time bins "
                                     f"of qrng.bin_width_ps = {d.bin_width_ps:g}")
        if d.assess_bits > d.block_bits:
            raise ValueError(f"qrng.assess_bits = {d.assess_bits} must be <= qrng.block_bits = "
                             f"{d.block_bits} (the assessment reads the first block)")
        if kind == "beam-splitter" and d.bit_prob_per_pulse() < 1e-12:
            raise ValueError("the beam-splitter device makes a bit in fewer than 1e-12 of its "
                             "pulses: raise qrng.mean_photon_number or detector.efficiency")
        return d

    @property
    def bits_per_sample(self):
        return 1 if self.type == "beam-splitter" else int(self.time_bins).bit_length() - 1

    # -- beam splitter ------------------------------------------------------
    def joint_table(self):
        """P(detector 0 in state a, detector 1 in state b), a, b in {none,
        photon only, dark}, at index 3a + b, per pulse, before dead time."""
        d = self.detector.dark_count_prob
        eta0 = self.detector.efficiency
        eta1 = eta0 * self.efficiency_ratio
        s = self.split_ratio
        if self.source == "coherent":
            # Poisson light splits into independent Poisson beams
            m0, m1 = self.mean_photon_number * s * eta0, self.mean_photon_number * (1 - s) * eta1
            one = lambda m: np.array([(1 - d) * math.exp(-m), (1 - d) * -math.expm1(-m), d])  # noqa: E731
            return np.outer(one(m0), one(m1)).ravel()
        # one photon: detected at 0, at 1, or lost; dark counts independent
        px = {0: s * eta0, 1: (1 - s) * eta1}
        px[None] = 1.0 - px[0] - px[1]
        table = np.zeros((3, 3))
        for where, p in px.items():
            st = []
            for j in (0, 1):
                st.append(np.array([(1 - d) * (where != j), (1 - d) * (where == j), d]))
            table += p * np.outer(st[0], st[1])
        return table.ravel()

    def bit_prob_per_pulse(self):
        t = self.joint_table().reshape(3, 3)
        single = t[1:, 0].sum() + t[0, 1:].sum()
        return single + (t[1:, 1:].sum() if self.double_click == "zero" else 0.0)

    # -- arrival time -------------------------------------------------------
    def rates_per_bin(self):
        """Primary avalanches per time bin: (photons detected, dark counts)."""
        t_bin = self.bin_width_ps * 1e-12
        return (self.photon_rate_hz * self.detector.efficiency * t_bin,
                -math.log1p(-self.detector.dark_count_prob))

    def to_dict(self):
        d = asdict(self)
        d["detector"] = self.detector.to_dict()
        return d


@dataclass
class RawBlock:
    bits: np.ndarray          # uint8 0/1, the raw bit string of the block
    samples: int              # device outputs (clicks read)
    time_s: float             # device time the block took
    counts: dict              # labelled clicks (noise, ...)
    p_guess_sum: float        # sum over samples of the adversary's guessing probability
    g_quantum: float          # guessing probability of a fully quantum sample


MAX_SLOTS = 1 << 60


def simulate_block(dev, seed, block, n_bits):
    """``n_bits`` raw bits from stream (seed, QRNG, block); detectors start
    live and empty at each block (blocks are fixed, so a seed gives the same
    bits whatever the requested output)."""
    det = dev.detector
    if dev.type == "beam-splitter":
        rate = dev.pulse_rate_hz
        jt = dev.joint_table()
        bits, slots, counts = _k.beam_splitter(
            seed, int(Purpose.QRNG), block, jt, n_bits, dead_gates(det.dead_time_ns, rate),
            det.afterpulse_prob, det.afterpulse_decay_ns * 1e-9 * rate,
            dev.double_click == "zero", MAX_SLOTS)
        t = jt.reshape(3, 3)
        g = max(t[1, 0], t[0, 1]) / (t[1, 0] + t[0, 1]) if t[1, 0] + t[0, 1] > 0 else 1.0
        n = bits.shape[0]
        psum = counts["noise"] + counts["single_live"] + g * counts["both_live"]
        return RawBlock(bits, n, slots / rate, counts, psum, g)
    lp, ld = dev.rates_per_bin()
    nb = dev.time_bins
    b = dev.bits_per_sample
    n_samples = -(-n_bits // b)
    t_bin = dev.bin_width_ps * 1e-12
    samples, t_end, counts = _k.arrival_time(
        seed, int(Purpose.QRNG), block, lp, ld, nb, n_samples, det.dead_time_ns * 1e-9 / t_bin,
        det.afterpulse_prob, det.afterpulse_decay_ns * 1e-9 / t_bin, 2.0 ** 46)
    shifts = np.arange(b - 1, -1, -1, dtype=np.uint32)
    bits = ((samples[:, None] >> shifts) & 1).astype(np.uint8).ravel()[:n_bits]
    g = arrival_guess(lp + ld, nb)
    psum = counts["noise"] + g * (samples.shape[0] - counts["noise"])
    return RawBlock(bits, samples.shape[0], t_end * t_bin, counts, psum, g)


def arrival_guess(lam, n_bins):
    """Largest probability of one bin (mod n_bins) for an exponential arrival
    of rate ``lam`` per bin started at a known time: the bin that starts at
    that time, (1 - e^-lam) / (1 - e^-(lam n_bins))."""
    return math.expm1(-lam) / math.expm1(-lam * n_bins)


def model_min_entropy(blk, bits_per_sample):
    """Model min-entropy per raw bit from a block's labelled clicks: the mean
    guessing probability per sample with its 99% upper bound (per-sample
    guesses are 1 for known samples, ``g_quantum`` otherwise)."""
    n = blk.samples
    if n == 0:
        return 0.0, 1.0
    p = blk.p_guess_sum / n
    f = (blk.p_guess_sum - n * blk.g_quantum) / (n * (1 - blk.g_quantum)) \
        if blk.g_quantum < 1 else 1.0
    f = min(max(f, 0.0), 1.0)          # fraction of samples the adversary knows
    sd = math.sqrt(f * (1 - f)) * (1 - blk.g_quantum)
    p_u = min(1.0, p + Z99 * sd / math.sqrt(n))
    return -math.log2(p_u) / bits_per_sample, p


# --------------------------------------------------------------------------
# closed forms (no dead time, no afterpulses): the analytic twin
# --------------------------------------------------------------------------
def beam_splitter_theory(dev):
    t = dev.joint_table().reshape(3, 3)
    zero = dev.double_click == "zero"
    double = t[1:, 1:].sum()
    p_emit = dev.bit_prob_per_pulse()
    p0 = (t[1:, 0].sum() + (double if zero else 0.0)) / p_emit
    known = t[2, 0] + t[0, 2] + (double if zero else 0.0)
    p_guess = (known + max(t[1, 0], t[0, 1])) / p_emit
    return {"bits_per_pulse": p_emit, "raw_bit_rate_bps": p_emit * dev.pulse_rate_hz,
            "p_zero": p0, "p_guess": p_guess, "min_entropy_model": -math.log2(p_guess),
            "min_entropy_bias_only": -math.log2(max(p0, 1 - p0)),
            "double_click_prob": double}


def arrival_time_theory(dev):
    lp, ld = dev.rates_per_bin()
    lam = lp + ld
    b = dev.bits_per_sample
    tau = dev.detector.dead_time_ns * 1e-9 / (dev.bin_width_ps * 1e-12)
    clicks_per_bin = lam / (1 + lam * tau)     # non-paralysable dead time
    g = arrival_guess(lam, dev.time_bins)
    p_guess = ld / lam + (lp / lam) * g
    return {"clicks_per_s": clicks_per_bin / (dev.bin_width_ps * 1e-12),
            "raw_bit_rate_bps": b * clicks_per_bin / (dev.bin_width_ps * 1e-12),
            "p_guess_per_sample": p_guess, "min_entropy_model": -math.log2(p_guess) / b,
            "bits_per_sample": b}


def theory(dev):
    return beam_splitter_theory(dev) if dev.type == "beam-splitter" else arrival_time_theory(dev)
