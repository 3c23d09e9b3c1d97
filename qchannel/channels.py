"""Optical channels: validated parameter objects shared by every job.

One channel interface: ``segments(...)`` gives the transmittance and the
background per segment of constant parameters (one segment for a fiber,
one per time bin for a free-space pass: :mod:`qchannel.freespace`), and
:func:`db_to_transmittance` / :func:`fiber_loss_db` are the one place where
a length or a loss becomes a transmittance.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from qchannel.params import check_choice, check_prob, check_real, check_table, reject_unknown


def fiber_loss_db(length_km, attenuation_db_per_km, extra_loss_db=0.0):
    """Loss of a fiber in dB: ``attenuation_db_per_km * length_km + extra_loss_db``
    (scalars or arrays)."""
    return np.asarray(attenuation_db_per_km) * np.asarray(length_km) + extra_loss_db


def db_to_transmittance(loss_db):
    """``10^(-loss_db / 10)`` (scalars or arrays; a Python float for a scalar)."""
    t = 10.0 ** (-np.asarray(loss_db, dtype=float) / 10.0)
    return float(t) if t.ndim == 0 else t


@dataclass(frozen=True)
class ChannelSegments:
    """A channel as segments of constant parameters: segment g covers slots
    ``[start_slot[g], start_slot[g + 1])`` (the last one up to ``pulses``)
    with ``transmittance[g]`` (everything before the detectors) and
    ``background_click_prob[g]`` (extra clicks per gate per detector).
    ``series`` is the free-space time series behind them (None for fiber)."""

    start_slot: np.ndarray
    transmittance: np.ndarray
    background_click_prob: np.ndarray
    pulses: int
    series: object = None

    def as_list(self):
        """[(start_slot, transmittance, background_click_prob), ...]"""
        return [(int(s), float(t), float(b)) for s, t, b in
                zip(self.start_slot, self.transmittance, self.background_click_prob)]


@dataclass(frozen=True)
class FiberChannel:
    """Single-mode fiber: loss ``attenuation_db_per_km * length_km + extra_loss_db``;
    ``misalignment`` is the probability that a photon ends in the wrong detector
    of the matching basis (polarisation or phase error).

    Classical channels sharing the fiber (``classical``, a tuple of
    :class:`qchannel.coexistence.ClassicalChannel`) add Raman, four-wave-mixing
    and leakage noise at the receiver (:meth:`noise`).  ``wavelength_nm`` is the
    quantum signal's wavelength (1550 nm when not given); when it is given
    and ``attenuation_db_per_km`` is not, the attenuation follows the SSMF
    curve at that wavelength (:func:`qchannel.coexistence.ssmf_attenuation_db_per_km`),
    otherwise it defaults to 0.2 dB/km."""

    length_km: float = 50.0
    attenuation_db_per_km: float = None
    extra_loss_db: float = 0.0
    misalignment: float = 0.005
    type: str = field(default="fiber")
    wavelength_nm: float = None
    classical: tuple = ()
    temperature_k: float = None
    raman_efficiency_per_w_km: float = None
    attenuation_from_curve: bool = field(default=False, compare=False, repr=False)

    KEYS = ("type", "length_km", "attenuation_db_per_km", "extra_loss_db", "misalignment",
            "wavelength_nm", "classical", "temperature_k", "raman_efficiency_per_w_km")

    def __post_init__(self):
        from qchannel.coexistence import ClassicalChannel, ssmf_attenuation_db_per_km

        c = "channel"
        check_choice(f"{c}.type", self.type, ("fiber",))
        object.__setattr__(self, "length_km", check_real(f"{c}.length_km", self.length_km, 0.0, 1.0e5))
        if self.wavelength_nm is not None:
            object.__setattr__(self, "wavelength_nm",
                               check_real(f"{c}.wavelength_nm", self.wavelength_nm, 1000.0, 1700.0))
        if self.attenuation_db_per_km is None:
            curve = self.wavelength_nm is not None
            object.__setattr__(self, "attenuation_db_per_km",
                               ssmf_attenuation_db_per_km(self.wavelength_nm) if curve else 0.2)
            object.__setattr__(self, "attenuation_from_curve", curve)
        object.__setattr__(self, "attenuation_db_per_km",
                           check_real(f"{c}.attenuation_db_per_km", self.attenuation_db_per_km, 0.0, 100.0))
        object.__setattr__(self, "extra_loss_db",
                           check_real(f"{c}.extra_loss_db", self.extra_loss_db, 0.0, 1000.0))
        object.__setattr__(self, "misalignment", check_prob(f"{c}.misalignment", self.misalignment))
        if self.misalignment > 0.5:
            raise ValueError(f"{c}.misalignment = {self.misalignment} is out of range: must be in [0, 0.5]")
        classical = self.classical
        if isinstance(classical, (str, bytes, dict)) or not isinstance(classical, (list, tuple)):
            raise ValueError(f"{c}.classical must be a list of tables ([[{c}.classical]]), "
                             f"not {classical!r}")
        object.__setattr__(self, "classical", tuple(
            ch if isinstance(ch, ClassicalChannel) else ClassicalChannel.from_dict(ch, f"{c}.classical[{i}]")
            for i, ch in enumerate(classical)))
        if self.temperature_k is not None:
            object.__setattr__(self, "temperature_k",
                               check_real(f"{c}.temperature_k", self.temperature_k, 1.0, 400.0))
        if self.raman_efficiency_per_w_km is not None:
            object.__setattr__(self, "raman_efficiency_per_w_km",
                               check_real(f"{c}.raman_efficiency_per_w_km",
                                          self.raman_efficiency_per_w_km, 0.0, 100.0))

    @classmethod
    def from_dict(cls, d, section="channel"):
        reject_unknown(section, d, cls.KEYS)
        return cls(**d)

    def to_dict(self):
        d = {"length_km": self.length_km, "attenuation_db_per_km": self.attenuation_db_per_km,
             "extra_loss_db": self.extra_loss_db, "misalignment": self.misalignment,
             "type": self.type}
        if self.attenuation_from_curve:     # recomputed from wavelength_nm (a sweep may change it)
            del d["attenuation_db_per_km"]
        for key in ("wavelength_nm", "temperature_k", "raman_efficiency_per_w_km"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.classical:
            d["classical"] = [ch.to_dict() for ch in self.classical]
        return d

    @property
    def loss_db(self):
        return float(fiber_loss_db(self.length_km, self.attenuation_db_per_km, self.extra_loss_db))

    def transmittance(self):
        return db_to_transmittance(self.loss_db)

    def noise(self, detector):
        """Noise photons per gate at the receiver from the classical channels
        (:func:`qchannel.coexistence.noise_photons_per_gate`, a dict), with the
        receiver's filter and gate from ``detector``; None without classical
        channels."""
        if not self.classical:
            return None
        from qchannel import coexistence as cx

        def get(obj, key, default):
            value = getattr(obj, key, None)
            return default if value is None else value

        return cx.noise_photons_per_gate(
            self.length_km, get(self, "wavelength_nm", 1550.0), self.attenuation_db_per_km,
            self.classical,
            filter_bandwidth_nm=get(detector, "filter_bandwidth_nm", cx.DEFAULT_FILTER_BANDWIDTH_NM),
            gate_width_ns=get(detector, "gate_width_ns", cx.DEFAULT_GATE_WIDTH_NS),
            filter_isolation_db=get(detector, "filter_isolation_db", cx.DEFAULT_FILTER_ISOLATION_DB),
            temperature_k=get(self, "temperature_k", cx.DEFAULT_TEMPERATURE_K),
            raman_efficiency_per_w_km=get(self, "raman_efficiency_per_w_km",
                                          cx.DEFAULT_RAMAN_EFFICIENCY))

    def background_click_prob(self, detector):
        """Extra click probability per gate per detector from the classical
        channels' noise (0 without them)."""
        from qchannel.coexistence import noise_click_prob

        noise = self.noise(detector)
        if noise is None:
            return 0.0
        return noise_click_prob(noise["noise_photons_per_gate"], detector.efficiency,
                                detector.n_detectors)

    def segments(self, seed, rep_rate_hz, detector, pulses, time_bin_s=None):
        """One segment of constant transmittance and background (the classical
        channels' noise, none without them) over ``pulses`` slots."""
        return ChannelSegments(np.zeros(1, np.int64), np.array([self.transmittance()]),
                               np.array([self.background_click_prob(detector)]), int(pulses))


@dataclass(frozen=True)
class ArmChannel:
    """One arm of an entangled-pair link (fiber or free space, loss given as
    ``transmittance``, ``loss_db`` or ``length_km`` x ``attenuation_db_per_km``,
    plus ``extra_loss_db``): background clicks, unital noise and
    polarisation drift."""

    transmittance: float = 1.0
    loss_db: float | None = None
    length_km: float | None = None
    attenuation_db_per_km: float | None = None
    extra_loss_db: float = 0.0
    background_prob: float = 0.0
    depolarizing: float = 0.0
    dephasing: float = 0.0
    drift_time_s: float | None = None
    compensation_interval_s: float | None = None
    section: str = field(default="channel", compare=False, repr=False)

    KEYS = ("transmittance", "loss_db", "length_km", "attenuation_db_per_km", "extra_loss_db",
            "background_prob", "depolarizing", "dephasing", "drift_time_s",
            "compensation_interval_s")

    @classmethod
    def from_dict(cls, d, section="channel.bob"):
        d = dict(check_table(section, d))
        reject_unknown(section, d, cls.KEYS)
        n = lambda k: f"{section}.{k}"  # noqa: E731
        given = [k for k in ("transmittance", "loss_db", "length_km") if k in d]
        if len(given) > 1:
            raise ValueError(f"{n(given[1])} and {n(given[0])} are exclusive: give the loss one way")
        if "attenuation_db_per_km" in d and "length_km" not in d:
            raise ValueError(f"{n('attenuation_db_per_km')} needs {n('length_km')}")
        extra = check_real(n("extra_loss_db"), d.get("extra_loss_db", 0.0), 0.0, 1000.0)
        if "length_km" in d:
            L = check_real(n("length_km"), d["length_km"], 0.0, 1.0e5)
            a = check_real(n("attenuation_db_per_km"), d.get("attenuation_db_per_km", 0.2),
                           0.0, 100.0)
            T = db_to_transmittance(fiber_loss_db(L, a, extra))
        elif "loss_db" in d:
            loss = check_real(n("loss_db"), d["loss_db"], 0.0, 1000.0)
            T = db_to_transmittance(loss + extra)
        else:
            T = check_prob(n("transmittance"), d.get("transmittance", 1.0)) * db_to_transmittance(extra)
        if not T > 0.0:
            raise ValueError(f"{section}: the transmittance underflows to 0; reduce the loss")
        tau = d.get("drift_time_s")
        if tau is not None:
            tau = check_real(n("drift_time_s"), tau, 0.0, lo_open=True)
        comp = d.get("compensation_interval_s")
        if comp is not None:
            comp = check_real(n("compensation_interval_s"), comp, 0.0, lo_open=True)
            if tau is None:
                raise ValueError(f"{n('compensation_interval_s')} needs {n('drift_time_s')}")
        return cls(
            transmittance=T, loss_db=d.get("loss_db"), length_km=d.get("length_km"),
            attenuation_db_per_km=d.get("attenuation_db_per_km"), extra_loss_db=extra,
            background_prob=check_real(n("background_prob"), d.get("background_prob", 0.0),
                                       0.0, 1.0, hi_open=True),
            depolarizing=check_prob(n("depolarizing"), d.get("depolarizing", 0.0)),
            dephasing=check_real(n("dephasing"), d.get("dephasing", 0.0), 0.0, 0.5),
            drift_time_s=tau, compensation_interval_s=comp, section=section)

    def to_dict(self):
        d = asdict(self)
        d.pop("section")
        return {k: v for k, v in d.items() if v is not None}

    def bloch(self, phi=0.0):
        """Bloch matrix of the arm's unital noise for drift angle phi."""
        from qchannel.theory import entanglement as th

        return (th.bloch_rotation(phi) @ th.bloch_dephasing(self.dephasing)
                @ th.bloch_depolarizing(self.depolarizing))
