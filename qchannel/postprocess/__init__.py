"""Classical post-processing: reconciliation, verification, privacy amplification.

* :func:`reconcile` -- error correction of Bob's sifted key to Alice's:
  ``method="cascade"`` (interactive, :mod:`qchannel.postprocess.cascade`) or
  ``method="ldpc"`` (one-way syndrome decoding, :mod:`qchannel.postprocess.ldpc`).
* :func:`verify` -- universal-hash check that the corrected keys agree
  (collision probability <= ``eps_cor``).
* :func:`toeplitz_hash`, :func:`privacy_amplify` -- exact Toeplitz hashing.

All randomness is addressed through :mod:`qchannel.rng` streams (purposes
CASCADE, LDPC, VERIFICATION, PRIVACY_AMPLIFICATION).
"""

from qchannel import rng as _rng
from qchannel.params import check_bits, check_choice, check_int, check_real
from qchannel.postprocess.cascade import SCHEDULES, CascadeResult, reconcile_cascade
from qchannel.postprocess.privacy import privacy_amplify, toeplitz_hash
from qchannel.postprocess.verification import VerificationResult, verify

__all__ = [
    "reconcile",
    "verify",
    "toeplitz_hash",
    "privacy_amplify",
    "VerificationResult",
    "CascadeResult",
    "SCHEDULES",
    "METHODS",
]

METHODS = ("cascade", "ldpc")
DEFAULT_SCHEDULE = "option7"


def reconcile(alice_bits, bob_bits, qber, method="cascade", *, seed, schedule=None, frame_bits=None,
              decoder=None, threads=1):
    """Correct Bob's bits to Alice's.

    Parameters
    ----------
    alice_bits, bob_bits : array of 0/1
        1-D uint8 arrays of 0/1 (bool accepted), equal lengths.
    qber : float
        Estimated quantum bit error rate in (0, 0.5) (LDPC: see its range).
    method : str
        "cascade" or "ldpc".
    seed : int
        User seed (integer in [0, 2**64 - 1]) for the protocol's random choices.
    schedule : str, optional
        Cascade schedule, one of :data:`SCHEDULES` (default "option7",
        Martinez-Mateo et al. 2015); not used by LDPC.
    frame_bits : int, optional
        Bits per frame (method default when None).
    decoder : str, optional
        LDPC decoder, "auto" (default), "scms", "spa" or "minsum" (see
        :func:`qchannel.postprocess.ldpc.reconcile_ldpc`); not used by Cascade.
    threads : native threads decoding independent frames (default 1); the
        result is bit-identical for any number.

    Returns
    -------
    result
        An object with ``bob_corrected`` (uint8 array), ``leaked_bits``,
        ``efficiency`` (leaked / (N h2(Q_actual))), ``frames``, ``frames_failed``,
        ``rounds`` and ``method`` (plus method-specific diagnostics).

    Examples
    --------
    Bob's bits are Alice's with 3 % flips; Cascade corrects them, the hash
    tags agree, and privacy amplification gives both the same key:

    >>> from qchannel import postprocess, rng
    >>> alice = rng.bits(1, rng.Purpose.SAMPLING, 0, 100_000)
    >>> bob = alice ^ (rng.uniform(2, rng.Purpose.SAMPLING, 0, 100_000) < 0.03)
    >>> res = postprocess.reconcile(alice, bob, qber=0.03, seed=5)
    >>> bool((res.bob_corrected == alice).all()), 1.0 < res.efficiency < 1.1
    (True, True)
    >>> postprocess.verify(alice, res.bob_corrected, eps_cor=1e-15, seed=7).match
    True
    >>> ka = postprocess.privacy_amplify(alice, 50_000, seed=9)
    >>> kb = postprocess.privacy_amplify(res.bob_corrected, 50_000, seed=9)
    >>> ka.size, bool((ka == kb).all())
    (50000, True)
    """
    method = check_choice("method", method, METHODS)
    alice = check_bits("alice_bits", alice_bits)
    bob = check_bits("bob_bits", bob_bits)
    if alice.shape[0] != bob.shape[0]:
        raise ValueError(
            f"alice_bits and bob_bits must have equal lengths, got {alice.shape[0]} and {bob.shape[0]}"
        )
    qber = check_real("qber", qber, 0.0, 0.5, lo_open=True, hi_open=True)
    seed = _rng.check_seed(seed)
    threads = check_int("threads", threads, 1, 1024)
    if frame_bits is not None:
        frame_bits = check_int("frame_bits", frame_bits, 1)
    if method == "cascade":
        schedule = check_choice("schedule", DEFAULT_SCHEDULE if schedule is None else schedule, SCHEDULES)
        if decoder is not None:
            raise ValueError(f"decoder = {decoder!r} applies to method 'ldpc' only")
        return reconcile_cascade(alice, bob, qber, seed, schedule, frame_bits, threads=threads)
    if schedule is not None:
        raise ValueError(f"schedule = {schedule!r} applies to method 'cascade' only")
    try:
        from qchannel.postprocess.ldpc import reconcile_ldpc
    except ImportError as exc:  # the LDPC module or its compiled kernel is missing
        raise ImportError(
            "method = 'ldpc' needs qchannel.postprocess.ldpc (reconcile_ldpc) and its compiled "
            f"kernel qchannel._core.ldpc, which could not be imported: {exc}"
        ) from exc
    return reconcile_ldpc(alice, bob, qber, seed, frame_bits=frame_bits,
                          decoder="auto" if decoder is None else decoder, threads=threads)
