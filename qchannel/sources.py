"""Photon sources: validated parameter objects shared by every job."""
from dataclasses import asdict, dataclass, field

import numpy as np

from qchannel.params import (check_choice, check_distribution, check_prob, check_real,
                             check_real_list, check_table, reject_unknown)
from qchannel.theory.entanglement import STATISTICS as PAIR_STATISTICS

MAX_INTENSITIES = 16


@dataclass(frozen=True)
class DecoyBB84Source:
    """Phase-randomised weak coherent pulses with N intensities (signal first,
    then decoys, the last possibly vacuum), a random bit and a basis, X (the
    key basis) with probability ``key_basis_prob``."""

    rep_rate_hz: float = 1.0e9
    # Defaults: within 31 % of the per-distance optimum of the expected finite
    # key from 0 to 120 km and a key up to 130 km (1e10 pulses, default fiber
    # and detector); see qchannel.optimize for other links.
    intensities: tuple = (0.5, 0.25, 0.0002)
    intensity_probs: tuple = (0.3, 0.5, 0.2)
    key_basis_prob: float = 0.8
    type: str = field(default="decoy-bb84")

    KEYS = ("type", "rep_rate_hz", "intensities", "intensity_probs", "key_basis_prob")

    def __post_init__(self):
        s = "source"
        check_choice(f"{s}.type", self.type, ("decoy-bb84",))
        object.__setattr__(self, "rep_rate_hz",
                           check_real(f"{s}.rep_rate_hz", self.rep_rate_hz, 0.0, 1.0e12, lo_open=True))
        mus = check_real_list(f"{s}.intensities", self.intensities, 0.0, 100.0, 1, MAX_INTENSITIES)
        for i in range(1, len(mus)):
            if not mus[i] < mus[i - 1]:
                raise ValueError(
                    f"{s}.intensities = {list(mus)} must be strictly decreasing (signal first)")
        if mus[0] <= 0.0:
            raise ValueError(f"{s}.intensities[0] = {mus[0]} must be > 0")
        probs = check_distribution(f"{s}.intensity_probs", self.intensity_probs, len(mus),
                                   f"{s}.intensities")
        object.__setattr__(self, "intensities", mus)
        object.__setattr__(self, "intensity_probs", probs)
        object.__setattr__(self, "key_basis_prob",
                           check_prob(f"{s}.key_basis_prob", self.key_basis_prob, lo_open=True))

    def check_finite_key(self, section="source", passive=False):
        """The combined constraints of the finite key of Lim et al., PRA 89,
        022307 (2014), which every decoy-BB84 run computes: exactly three
        intensities with mu1 > mu2 + mu3 and mu2 > mu3 >= 0, each sent
        (Eqs. (2)-(4) divide by p_k), and Z-basis pulses to estimate the
        phase error (key_basis_prob < 1).  ValueError naming the key."""
        s, mus, probs = section, list(self.intensities), list(self.intensity_probs)
        if len(mus) != 3:
            raise ValueError(f"{s}.intensities = {mus} has {len(mus)} entries: the finite key "
                             f"(Lim et al. 2014) needs exactly 3 (signal mu1, decoy mu2, weakest "
                             f"mu3)")
        if not mus[0] > mus[1] + mus[2]:
            raise ValueError(f"{s}.intensities = {mus} is out of range: the decoy bounds of Lim "
                             f"et al. 2014 need mu1 > mu2 + mu3 (here {mus[0]:g} <= "
                             f"{mus[1] + mus[2]:g}) and mu2 > mu3 >= 0")
        for k, p in enumerate(probs):
            if not p > 0.0:
                raise ValueError(f"{s}.intensity_probs[{k}] = {p:g} is out of range: must be in "
                                 f"(0, 1]: the finite key (Lim et al. 2014) needs every intensity "
                                 f"sent")
        if not self.key_basis_prob < 1.0:
            why = ("no Z-basis pulses are sent" + (" and Bob's beam splitter sends no light to "
                                                    "his Z detectors" if passive else ""))
            raise ValueError(f"{s}.key_basis_prob = {self.key_basis_prob:g} is out of range: must "
                             f"be in (0, 1): the finite key estimates the phase error from the Z "
                             f"basis, and with 1 {why}")

    @classmethod
    def from_dict(cls, d, section="source"):
        reject_unknown(section, d, cls.KEYS)
        return cls(**d)

    def to_dict(self):
        d = asdict(self)
        d["intensities"] = list(self.intensities)
        d["intensity_probs"] = list(self.intensity_probs)
        return d

    @property
    def mean_photon_number(self):
        return float(np.dot(self.intensities, self.intensity_probs))


@dataclass(frozen=True)
class SPDCSource:
    """Spontaneous parametric down-conversion pairs: ``pair_prob`` mean pairs
    per slot, ``statistics`` "thermal" (single mode) or "poisson" (multimode),
    emitted state V |Phi+><Phi+| + (1 - V) I/4 of ``visibility`` V,
    ``heralding_efficiency`` (coupling of each photon into its arm) and
    ``position`` "middle" (two channels) or "alice" (Alice's arm local)."""

    pair_prob: float = 0.01
    statistics: str = "thermal"
    visibility: float = 0.98
    heralding_efficiency: float = 1.0
    rep_rate_hz: float = 1.0e8
    position: str = "middle"
    type: str = "spdc"

    KEYS = ("type", "pair_prob", "statistics", "visibility", "heralding_efficiency",
            "rep_rate_hz", "position")

    def __post_init__(self):
        s = "source"
        check_choice(f"{s}.type", self.type, ("spdc",))
        object.__setattr__(self, "pair_prob", check_real(f"{s}.pair_prob", self.pair_prob,
                                                         0.0, 2.0, lo_open=True))
        check_choice(f"{s}.statistics", self.statistics, PAIR_STATISTICS)
        object.__setattr__(self, "visibility", check_prob(f"{s}.visibility", self.visibility))
        object.__setattr__(self, "heralding_efficiency",
                           check_prob(f"{s}.heralding_efficiency", self.heralding_efficiency,
                                      lo_open=True))
        object.__setattr__(self, "rep_rate_hz", check_real(f"{s}.rep_rate_hz", self.rep_rate_hz,
                                                           0.0, 1.0e12, lo_open=True))
        check_choice(f"{s}.position", self.position, ("middle", "alice"))

    @classmethod
    def from_dict(cls, d, section="source"):
        reject_unknown(section, check_table(section, d), cls.KEYS)
        return cls(**d)

    def to_dict(self):
        return asdict(self)
