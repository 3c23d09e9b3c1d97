"""Closed-form expectations and bounds: the analytic twin of the Monte Carlo.

Everything here is a plain function of floats (NumPy-vectorised where it is
natural) and this module never imports the Monte Carlo (``qchannel._core``,
``qchannel.runner``, ``qchannel.links``): tests hold one against the other.

It does not import ``qchannel.protocols`` or ``qchannel.postprocess`` either
(``tests/test_shared_helpers.py`` checks what it loads).

Modules
-------
* :mod:`~qchannel.theory.common`: :func:`h2`, the one binary entropy of
  qchannel, and the array checks of the closed forms.
* :mod:`~qchannel.theory.bounds`: :func:`channel_transmittance` (fiber) and
  the repeaterless limits :func:`plob_bound`, :func:`tgw_bound`.
* :mod:`~qchannel.theory.detection`: the exact detection model of the
  decoy-BB84 Monte Carlo (:func:`detection_stats`, :func:`fock_stats`,
  :func:`afterpulse_click_probs`) and the approximations kept for reference
  (:func:`lim_detection_model`, :func:`dead_time_factor`).
* :mod:`~qchannel.theory.decoy_bb84`: asymptotic decoy-BB84 key rates
  (:func:`lmc_key_rate`, :func:`two_decoy_bounds`, :func:`gllp_key_rate`, the
  textbook forms) and, for one scenario, :func:`expect` and
  :func:`expected_counts`.
* :mod:`~qchannel.theory.entanglement`: SPDC pair links, BBM92/E91, CHSH and
  teleportation.
* :mod:`~qchannel.theory.repeater`: the nested-swapping repeater chain.

The public names of the first four are re-exported here
(``from qchannel import theory; theory.expect(...)``).
"""
from qchannel.theory.bounds import channel_transmittance, plob_bound, tgw_bound
from qchannel.theory.common import h2
from qchannel.theory.decoy_bb84 import (CONVENTIONS, DECOY_METHODS, decoy_rate_textbook, expect,
                                        expected_counts, gllp_key_rate, gllp_rate_textbook,
                                        lmc_key_rate, multi_photon_prob, textbook_gain_qber,
                                        two_decoy_bounds, vacuum_weak_rate_textbook)
from qchannel.theory.detection import (BASIS_CHOICES, DetectionStats, afterpulse_click_probs,
                                       dead_time_factor, detection_stats, fock_stats,
                                       lim_detection_model)

__all__ = [
    "channel_transmittance", "h2", "multi_photon_prob",
    "DetectionStats", "detection_stats", "fock_stats", "afterpulse_click_probs",
    "lim_detection_model", "dead_time_factor",
    "lmc_key_rate", "two_decoy_bounds", "gllp_key_rate",
    "textbook_gain_qber", "decoy_rate_textbook", "vacuum_weak_rate_textbook",
    "gllp_rate_textbook",
    "plob_bound", "tgw_bound", "expect", "expected_counts", "CONVENTIONS", "DECOY_METHODS",
    "BASIS_CHOICES",
]
