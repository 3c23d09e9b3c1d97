"""Photon sources: validated parameter objects."""
from dataclasses import asdict, dataclass, field

import numpy as np

from qchannel.params import (check_choice, check_prob, check_real, check_real_list,
                             reject_unknown)

MAX_INTENSITIES = 16


@dataclass(frozen=True)
class DecoyBB84Source:
    """Phase-randomised weak coherent pulses with N intensities (signal first,
    then decoys, the last possibly vacuum), a random bit and a basis, X (the
    key basis) with probability ``key_basis_prob``."""

    rep_rate_hz: float = 1.0e9
    intensities: tuple = (0.5, 0.1, 0.0002)
    intensity_probs: tuple = (0.8, 0.1, 0.1)
    key_basis_prob: float = 0.9
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
        probs = check_real_list(f"{s}.intensity_probs", self.intensity_probs, 0.0, 1.0, 1,
                                MAX_INTENSITIES)
        if len(probs) != len(mus):
            raise ValueError(f"{s}.intensity_probs has {len(probs)} entries but "
                             f"{s}.intensities has {len(mus)}: they must match")
        if abs(sum(probs) - 1.0) > 1e-9:
            raise ValueError(f"{s}.intensity_probs = {list(probs)} must sum to 1 "
                             f"(they sum to {sum(probs):.12g})")
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
