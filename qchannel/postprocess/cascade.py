"""Cascade information reconciliation (interactive, parity-based).

The protocol (Brassard & Salvail, EUROCRYPT '93) as specified by
Martinez-Mateo, Pacher, Peev, Ciurana & Martin, "Demystifying the information
reconciliation protocol Cascade", Quantum Inf. Comput. 15, 453 (2015)
(arXiv:1407.3257), with the conventions of Rijsman's reference implementation
(cascade-python / cascade-cpp):

* The key is cut into frames (default ``frame_bits`` = 2**16 bits; frames are
  balanced so their sizes differ by at most one bit) reconciled independently.
* Pass i applies a public pseudo-random permutation (Feistel network keyed by
  the Philox stream ``(seed, Purpose.CASCADE, frame)``, see
  :mod:`qchannel._core.cascade`) and splits the permuted frame into top-level
  blocks of ``k_i`` bits (the last one shorter).  Alice discloses every
  top-level parity in one message.
* BINARY on each block whose parity differs: Bob asks the parity of the left
  half (``ceil(size/2)`` bits); the right half's parity is inferred from the
  parent's; recurse into the odd half; flip the single bit found.
* Cascade effect (back-tracking): a flipped bit changes the parity of the
  blocks that contain it in every other pass; each of those whose parity is
  known and is now odd is corrected again, smallest block first.  With
  ``sub_block_reuse`` (the Demystifying paper's optimisation) this includes
  the sub-blocks whose parity was learnt in earlier BINARY runs.
* Parity questions that are independent are batched: each batch is one
  round trip (``rounds``); a parity Bob can infer is never asked.
* ``biconf``: after the normal passes, BICONF iterations (parity of a random
  half of the frame, BINARY if it differs) until ``streak`` clean iterations.

Leakage: ``leaked_bits`` counts every parity Alice discloses (one bit each);
Bob's messages are his requests and are not counted, as in the literature
("unrealistic efficiency" in Rijsman's terms).  The simulation tracks error
positions only (parity of Alice's block XOR Bob's = parity of the errors in
it), which is exact: the disclosed parities, leakage and rounds are those of
the real two-party protocol.

Schedules (``Q`` = the QBER estimate given, ``n`` = frame size):

========== ============================================================ ========
name       block sizes                                                  passes
========== ============================================================ ========
original   k1 = ceil(0.73/Q), k_i = 2 k_{i-1}  (Brassard-Salvail)        4
biconf     k1 = ceil(0.92/Q), k2 = 3 k1, then BICONF until 10 clean     2 + B
           (Demystifying "Cascade mod. (1)")
yanetal    k1 = ceil(0.8/Q), k2 = 5 k1, k_i = n/2 (Yan et al. 2008,       10
           Demystifying "opt. (2)")
option7    k1 = 2^ceil(log2(1/Q)), k2 = 4 k1, k_i = n/2, sub-block      14
           reuse (Demystifying "Cascade opt. (7)")
option8    a = log2(1/Q) - 1/2: k1 = 2^ceil(a), k2 = 2^ceil((a+12)/2),   14
           k3 = 4096, k_i = n/2, sub-block reuse ("Cascade opt. (8)",
           the paper's final recommendation; constants for n ~ 10^4)
========== ============================================================ ========

Block sizes are capped at the frame size (before any integer conversion, so
that a tiny QBER gives one block per frame, not a wrapped-around size).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qchannel._core import cascade as _core
from qchannel.params import check_choice, check_int, check_real
from qchannel.theory import h2

__all__ = ["CascadeResult", "SCHEDULES", "block_sizes", "reconcile_cascade", "h2"]

DEFAULT_FRAME_BITS = 1 << 16

SCHEDULES = ("original", "biconf", "yanetal", "option7", "option8")

_HALF = -2  # kernel code for "n // 2"


def _schedule_spec(schedule, qber, cap):
    """(kernel block-size list, sub_block_reuse, biconf_streak).

    Block sizes are capped at ``cap`` (the largest frame) while still exact
    Python numbers, before they reach the kernel's integer types: the kernel
    caps them at the frame anyway, so the result is the same, but a tiny QBER
    no longer gives a block size that overflows (int64) or wraps (uint32)."""
    q = qber

    def ceil_cap(x):  # ceil(x) for x > 0 (maybe inf), at most cap
        return cap if x >= cap else math.ceil(x)

    def mul_cap(f, k):
        return min(f * k, cap)

    if schedule == "original":
        k1 = ceil_cap(0.73 / q)
        return [k1, mul_cap(2, k1), mul_cap(4, k1), mul_cap(8, k1)], False, 0
    if schedule == "biconf":
        k1 = ceil_cap(0.92 / q)
        return [k1, mul_cap(3, k1)], False, 10
    if schedule == "yanetal":
        k1 = ceil_cap(0.80 / q)
        return [k1, mul_cap(5, k1)] + [_HALF] * 8, False, 0
    # log2(1/q) as -log2(q): 1/q overflows to inf for a subnormal q
    if schedule == "option7":
        k1 = min(2 ** math.ceil(-math.log2(q)), cap)
        return [k1, mul_cap(4, k1)] + [_HALF] * 12, True, 0
    if schedule == "option8":
        a = -math.log2(q) - 0.5
        return ([min(2 ** math.ceil(a), cap), min(2 ** math.ceil((a + 12.0) / 2.0), cap),
                 min(4096, cap)] + [_HALF] * 11, True, 0)
    raise ValueError(f"schedule = {schedule!r} must be one of {SCHEDULES}")


def block_sizes(schedule, qber, n):
    """Top-level block size of every normal pass for a frame of ``n`` bits."""
    schedule = check_choice("schedule", schedule, SCHEDULES)
    qber = check_real("qber", qber, 0.0, 0.5, lo_open=True, hi_open=True)
    n = check_int("n", n, 1)
    ks, _, _ = _schedule_spec(schedule, qber, n)
    return [min(max(1, (k if k > 0 else n // -k)), n) for k in ks]


@dataclass
class CascadeResult:
    """Outcome of :func:`reconcile_cascade`.

    ``frames_failed`` counts frames in which errors remain after the protocol
    (the simulation knows Alice's key; in practice verification detects them),
    ``residual_errors`` the bits still wrong (``frame_failed`` per frame).  ``efficiency`` is
    ``leaked_bits / (N h2(Q))`` with ``Q`` the actual error rate of the input
    strings (``qber_actual``); ``efficiency_nominal`` uses the ``qber``
    argument.  ``rounds`` is the number of round trips of the slowest frame
    (frames run side by side); ``rounds_total`` sums over frames.
    """

    bob_corrected: np.ndarray
    leaked_bits: int
    efficiency: float
    frames: int
    frames_failed: int
    rounds: int
    method: str = "cascade"
    schedule: str = ""
    qber_actual: float = 0.0
    efficiency_nominal: float = 0.0
    residual_errors: int = 0
    rounds_total: int = 0
    frame_bits: int = 0
    leaked_per_frame: np.ndarray | None = None
    frame_failed: np.ndarray | None = None
    biconf_iterations: int = 0


def reconcile_cascade(alice_bits, bob_bits, qber, seed, schedule="option7", frame_bits=None, *,
                      threads=1):
    """Reconcile Bob's bits to Alice's with Cascade.

    Parameters
    ----------
    alice_bits, bob_bits : 1-D uint8 arrays of 0/1 of equal length (validated
        by :func:`qchannel.postprocess.reconcile`; pass clean arrays here).
    qber : QBER estimate in (0, 0.5) that sets the block sizes.
    seed : user seed (permutations from Philox ``(seed, CASCADE, frame)``).
    schedule : one of :data:`SCHEDULES`.
    frame_bits : bits per frame (default 2**16, at most
        ``qchannel._core.cascade.MAX_FRAME_BITS``).
    threads : native threads running disjoint ranges of frames (default 1);
        bit-identical for any number.
    """
    a = np.ascontiguousarray(alice_bits, dtype=np.uint8)
    b = np.ascontiguousarray(bob_bits, dtype=np.uint8)
    N = a.shape[0]
    if frame_bits is None:
        frame_bits = DEFAULT_FRAME_BITS
    frame_bits = check_int("frame_bits", frame_bits, 1, _core.MAX_FRAME_BITS)
    schedule = check_choice("schedule", schedule, SCHEDULES)
    qber = check_real("qber", qber, 0.0, 0.5, lo_open=True, hi_open=True)
    frames = -(-N // frame_bits)
    ks, reuse, streak = _schedule_spec(schedule, qber, max(1, -(-N // max(frames, 1))))
    out, leak, rounds, resid, bic, nerr = _core.run(
        a, b, frames, ks, reuse, streak, 200, False, False, seed, threads=threads
    )
    leaked = int(leak.sum())
    errors = int(nerr.sum())
    q_act = errors / N
    h_act = h2(q_act)
    return CascadeResult(
        bob_corrected=out,
        leaked_bits=leaked,
        efficiency=leaked / (N * h_act) if h_act > 0 else (0.0 if leaked == 0 else math.inf),
        frames=frames,
        frames_failed=int(np.count_nonzero(resid)),
        rounds=int(rounds.max()),
        schedule=schedule,
        qber_actual=q_act,
        efficiency_nominal=leaked / (N * h2(qber)),
        residual_errors=int(resid.sum()),
        rounds_total=int(rounds.sum()),
        frame_bits=frame_bits,
        leaked_per_frame=leak.astype(np.int64),
        frame_failed=resid > 0,
        biconf_iterations=int(bic.sum()),
    )
