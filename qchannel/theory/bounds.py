"""Fiber transmittance and the repeaterless limits it sets.

[PLOB17] S. Pirandola, R. Laurenza, C. Ottaviani, L. Banchi, "Fundamental
         limits of repeaterless quantum communications", Nat. Commun. 8,
         15043 (2017).
[TGW14]  M. Takeoka, S. Guha, M. M. Wilde, "Fundamental rate-loss tradeoff
         for optical quantum key distribution", Nat. Commun. 5, 5235 (2014).
"""
import math

import numpy as np

from qchannel.params import check_real
from qchannel.theory.common import as_scalar, check_array

__all__ = ["channel_transmittance", "plob_bound", "tgw_bound"]


def channel_transmittance(length_km, attenuation_db_per_km, extra_loss_db=0.0):
    """Fiber transmittance ``10**(-(attenuation_db_per_km*length_km + extra_loss_db)/10)``.

    Vectorised over ``length_km``.  Detector efficiency is *not* included.
    """
    length_km = check_array("length_km", length_km, 0.0)
    att = check_real("attenuation_db_per_km", attenuation_db_per_km, 0.0)
    extra = check_real("extra_loss_db", extra_loss_db, 0.0)
    return as_scalar(10.0 ** (-(att * np.asarray(length_km) + extra) / 10.0))



# --------------------------------------------------------------------------
# repeaterless limits
# --------------------------------------------------------------------------
def plob_bound(eta):
    """PLOB bound ``-log2(1 - eta)`` secret bits per channel use of a pure-loss
    channel of transmittance eta ([PLOB17]).  Vectorised; eta = 1 -> inf."""
    eta = np.asarray(check_array("eta", eta, 0.0, 1.0))
    with np.errstate(divide="ignore"):
        return as_scalar(-np.log1p(-eta) / math.log(2.0))


def tgw_bound(eta):
    """TGW bound ``log2((1 + eta)/(1 - eta))`` bits per channel use ([TGW14]);
    always >= PLOB.  Vectorised; eta = 1 -> inf."""
    eta = np.asarray(check_array("eta", eta, 0.0, 1.0))
    with np.errstate(divide="ignore"):
        return as_scalar((np.log1p(eta) - np.log1p(-eta)) / math.log(2.0))
