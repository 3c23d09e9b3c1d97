"""Source parameters that maximise the expected finite key of decoy BB84.

Papers optimise the intensities, their probabilities and the basis
probability for each distance and block size (Lim et al., PRA 89, 022307
(2014), Sec. IV and Fig. 1); :func:`optimize` does the same for a scenario.

Objective: the key length of Lim et al. 2014, Eq. (1)
(:func:`qchannel.protocols.finite_key.finite_key_length`) evaluated on the
*expected* counts of the analytic twin (:func:`qchannel.theory.expected_counts`:
the exact expectations of the Monte Carlo's model, dead time excepted) for
``pulses`` pulses, with the leakage estimate f_ec n_X h(E_X) and the
scenario's eps_sec and eps_cor, divided by the number of pulses.  This is
the key rate per pulse a run of that size gives up to statistical
fluctuations, in the same convention ("all-intensities": X-X detections of
every intensity are key).

Variables (6): mu1, mu2, mu3, p1, p2 (p3 = 1 - p1 - p2) and key_basis_prob.
They are mapped from a box so that every point satisfies the constraints of
the scenario schema and of Lim et al.: mu1 > mu2 + mu3, mu2 > mu3 >= 0
(hence strictly decreasing intensities), probabilities > 0 summing to 1,
0 < key_basis_prob < 1:

    mu2 = a mu1 / (1 + b),  mu3 = b mu2,   a in (0, 1), b in [0, 1)
    p2 = (1 - p1) s,        p3 = (1 - p1)(1 - s)

The search is scipy's differential evolution (seeded, so deterministic)
followed by an L-BFGS-B polish, on the unfloored key length, which is
continuous in the parameters (where the protocol would abort it is
evaluated with phi_X = 1/2 and is negative).
"""
import math

import numpy as np

from qchannel.params import check_int, check_real
from qchannel.protocols.finite_key import binary_entropy, finite_key_length

__all__ = ["expected_finite_key", "optimize", "check", "format_optimize_report", "BOUNDS",
           "PARAMETERS"]

#: The scenario keys :func:`optimize` chooses (the keys of its ``parameters``).
PARAMETERS = ("source.intensities", "source.intensity_probs", "source.key_basis_prob")

#: Box of the search variables (mu1, a, b, p1, s, key_basis_prob), see the
#: module docstring.  mu1 up to 1.5 covers every published optimum (0.3-0.8).
BOUNDS = (
    (1e-3, 1.5),     # mu1
    (1e-3, 0.999),   # a: (mu2 + mu3) / mu1
    (0.0, 0.999),    # b: mu3 / mu2
    (1e-3, 0.999),   # p1
    (1e-3, 0.999),   # s: p2 / (p2 + p3)
    (1e-3, 0.999),   # key_basis_prob
)


def _params(x):
    """Search variables -> (intensities, probabilities, key_basis_prob)."""
    mu1, a, b, p1, s, p_x = (float(v) for v in x)
    mu2 = a * mu1 / (1.0 + b)
    mu3 = b * mu2
    p2 = (1.0 - p1) * s
    return [mu1, mu2, mu3], [p1, p2, 1.0 - p1 - p2], p_x


def _variables(source):
    """The scenario's own source as a point of the box (clipped into it)."""
    (mu1, mu2, mu3), (p1, p2, p3), p_x = source.intensities, source.intensity_probs, \
        source.key_basis_prob
    x = [mu1, (mu2 + mu3) / mu1, mu3 / mu2 if mu2 > 0 else 0.0, p1,
         p2 / (p2 + p3) if p2 + p3 > 0 else 0.5, p_x]
    return [min(max(v, lo), hi) for v, (lo, hi) in zip(x, BOUNDS)]


def check(scenario, pulses=None):
    """The checks :func:`optimize` makes before its search; returns the
    number of pulses it optimises for.  ValueError naming the key to change."""
    job = getattr(scenario, "job", None)
    if job != "decoy-bb84":
        raise ValueError(f"optimize covers decoy-bb84 scenarios, not a {job} scenario")
    if scenario.eve is not None:
        raise ValueError("optimize covers the honest link: remove [eve] (the expected counts "
                         "do not model the attack)")
    if getattr(scenario, "is_free_space", False):
        raise ValueError("optimize covers fiber links: a free-space or satellite pass changes "
                         "its loss over time, which the expected-count model does not follow")
    k = len(scenario.source.intensities)
    if k != 3:
        raise ValueError(f"source.intensities has {k} entries: the finite key of Lim et al. "
                         f"(2014) that optimize maximises needs exactly 3")
    if pulses is None:
        pulses = scenario.run.pulses or scenario.run.DEFAULT_PULSES
    pulses = check_int("pulses", int(check_real("pulses", pulses, 1.0, 2.0**56)), 1, 2**56)
    return pulses


def expected_finite_key(scenario, pulses=None, intensities=None, intensity_probs=None,
                        key_basis_prob=None):
    """Lim et al. 2014 finite key of ``scenario`` on expected counts.

    ``pulses`` defaults to the scenario's run.pulses; the source parameters
    default to the scenario's.  Returns (FiniteKeyResult, pulses)."""
    from qchannel import theory

    pulses = check(scenario, pulses)
    src = scenario.source
    mus = list(src.intensities if intensities is None else intensities)
    ps = list(src.intensity_probs if intensity_probs is None else intensity_probs)
    p_x = src.key_basis_prob if key_basis_prob is None else key_basis_prob
    sc = _Variant(scenario, mus, ps, p_x)
    c = theory.expected_counts(sc, pulses)
    pp = scenario.postprocess
    n_x = sum(c["n_x"])
    qber = sum(c["m_x"]) / n_x if n_x > 0 else 0.0
    leak = pp.f_ec * n_x * binary_entropy(qber)
    fk = finite_key_length(c["n_x"], c["n_z"], c["m_x"], c["m_z"], mus, ps, leak,
                           pp.eps_sec, pp.eps_cor)
    return fk, pulses


class _Variant:
    """The scenario with other source parameters, without re-validating the
    whole scenario at every evaluation (theory validates what it reads)."""

    def __init__(self, scenario, mus, ps, p_x):
        self.channel, self.detector, self.postprocess = (scenario.channel, scenario.detector,
                                                         scenario.postprocess)
        self.source = _Source(mus, ps, p_x, scenario.source.rep_rate_hz)


class _Source:
    def __init__(self, mus, ps, p_x, rep):
        self.intensities, self.intensity_probs = mus, ps
        self.key_basis_prob, self.rep_rate_hz = p_x, rep


def _summary(scenario, fk, pulses, mus, ps, p_x):
    rate = fk.key_length / pulses
    return {
        "parameters": dict(zip(PARAMETERS, ([float(m) for m in mus], [float(p) for p in ps],
                                            float(p_x)))),
        "key_rate_per_pulse": rate,
        "secret_key_rate_bps": rate * scenario.source.rep_rate_hz,
        "secret_key_bits": int(fk.key_length),
        "aborted": bool(fk.aborted),
        "abort_reason": fk.abort_reason,
    }


def optimize(scenario, pulses=None, seed=0, maxiter=80, popsize=10):
    """Source parameters that maximise the expected finite-key rate.

    Parameters
    ----------
    scenario : qchannel.scenario.Scenario
        A decoy-BB84 fiber scenario with three intensities; its channel,
        detector and post-processing are kept.
    pulses : int, optional
        Pulses of the run to optimise for (default: the scenario's
        run.pulses, 1e10 if unset).  The finite key depends on it.
    seed, maxiter, popsize : the differential evolution's seed, generations
        and population multiplier (the defaults take about 4000 evaluations,
        ~10 s; the optimum moves by ~1e-5 relative with larger settings).

    Returns
    -------
    dict (JSON-able): ``parameters`` (scenario key -> optimal value, ready for
    ``scenario.replace(**d["parameters"])``), ``key_rate_per_pulse`` (the
    expected finite-key rate, all-intensities convention, as ``qchannel run``),
    ``secret_key_rate_bps``, ``secret_key_bits``, ``pulses``, ``aborted`` and
    ``abort_reason`` (of the optimum: no key anywhere in the box), ``initial``
    (the same for the scenario's own parameters), ``finite_key`` (every term
    of Eq. (1) at the optimum) and ``evaluations``.
    """
    from scipy.optimize import differential_evolution

    pulses = check(scenario, pulses)
    check_int("seed", seed, 0, 2**32 - 1)
    check_int("maxiter", maxiter, 1, 100000)
    check_int("popsize", popsize, 1, 1000)
    counter = [0]

    def objective(x):
        counter[0] += 1
        mus, ps, p_x = _params(x)
        fk, _ = expected_finite_key(scenario, pulses, mus, ps, p_x)
        return -fk.key_length_raw / pulses

    x0 = _variables(scenario.source)
    res = differential_evolution(objective, BOUNDS, seed=seed, maxiter=maxiter, popsize=popsize,
                                 tol=1e-7, polish=True, x0=x0, init="sobol")
    mus, ps, p_x = _params(res.x)
    fk, _ = expected_finite_key(scenario, pulses, mus, ps, p_x)
    src = scenario.source
    try:
        fk0, _ = expected_finite_key(scenario, pulses)
        initial = _summary(scenario, fk0, pulses, src.intensities, src.intensity_probs,
                           src.key_basis_prob)
    except ValueError as err:   # e.g. mu1 <= mu2 + mu3: valid source, no Lim bound
        initial = {"aborted": True, "abort_reason": str(err), "key_rate_per_pulse": 0.0}
    out = {
        **_summary(scenario, fk, pulses, mus, ps, p_x),
        "pulses": pulses,
        "objective": "Lim et al. 2014 finite key on expected counts (qchannel.theory), "
                     "all intensities make key",
        "initial": initial,
        "finite_key": fk.to_dict(),
        "evaluations": counter[0],
    }
    if getattr(scenario.detector, "dead_time_ns", 0.0):
        out["note"] = "detector dead time is not in the expected counts"
    return out


def format_optimize_report(d):
    """The text report of :func:`optimize`'s result."""
    p = d["parameters"]
    fmt = lambda v: ", ".join(f"{x:.4g}" for x in v)  # noqa: E731
    lines = [f"qchannel optimize: {d['pulses']:.3g} pulses, expected finite key "
             f"(Lim et al. 2014)",
             f"  source.intensities     = [{fmt(p['source.intensities'])}]",
             f"  source.intensity_probs = [{fmt(p['source.intensity_probs'])}]",
             f"  source.key_basis_prob  = {p['source.key_basis_prob']:.4g}"]
    if d["aborted"]:
        lines.append(f"  no key at the optimum: {d['abort_reason']}")
    else:
        lines.append(f"  key rate {d['key_rate_per_pulse']:.4g} per pulse, "
                     f"{d['secret_key_rate_bps']:.4g} bit/s, {d['secret_key_bits']} bits")
    ini = d.get("initial")
    if ini is not None:
        got = ("aborts: " + ini["abort_reason"]) if ini["aborted"] else \
            f"{ini['key_rate_per_pulse']:.4g} per pulse"
        lines.append(f"  (the scenario's own parameters: {got})")
    if d.get("note"):
        lines.append(f"  note: {d['note']}")
    return "\n".join(lines)
