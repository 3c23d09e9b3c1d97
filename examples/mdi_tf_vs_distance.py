"""Key rate versus distance for MDI-QKD and SNS twin-field QKD: Monte Carlo
(asymptotic key on the observed counts, 3-intensity decoy bounds) against
the closed forms, the PLOB bound, and the distance where TF overtakes PLOB.
The numbers of the README validation table come from this script:
``python examples/mdi_tf_vs_distance.py``."""
import math

import numpy as np

from qchannel import jobs, load_scenario
from qchannel.theory import mdi as th_mdi, twin_field as th_tf


def _delta_sigma(rate, x, var):
    """1-sigma of rate(x) by the delta method (x: dict of independent counts'
    rates, var: their variances), central differences."""
    total = 0.0
    for k in x:
        h = max(math.sqrt(var[k]), 1e-300) * 0.1
        up, dn = dict(x), dict(x)
        up[k] += h
        dn[k] -= h
        total += ((rate(up) - rate(dn)) / (2 * h)) ** 2 * var[k]
    return math.sqrt(total)


def mdi_sigma(sc, d):
    """Statistical 1-sigma of the Monte Carlo's MDI key rate: every
    (pair, basis) has independent correct and error counts."""
    c = sc.config
    mu, nu = c.mus[0], c.mus[1]
    x, var = {}, {}
    for row in d["gains"]:
        key = (row["basis"], row["mu_a"], row["mu_b"])
        pb = [1.0 if m == 0 else (c.pz if row["basis"] == "Z" else 1 - c.pz) for m in key[1:]]
        n = c.pulses * math.prod(c.probs[c.mus.index(m)] * q for m, q in zip(key[1:], pb))
        for part, val in (("ok", row["gain"] - row["error_gain"]), ("err", row["error_gain"])):
            x[key + (part,)] = val
            var[key + (part,)] = max(val, 1.0 / n) / n

    def rate(x):
        q = {b: {(a, bb): x[(b, a, bb, "ok")] + x[(b, a, bb, "err")] for a in c.mus
                 for bb in c.mus} for b in "ZX"}
        e = {b: {(a, bb): x[(b, a, bb, "err")] for a in c.mus for bb in c.mus} for b in "ZX"}
        y11z, _, e11 = th_mdi.decoy_bounds(q["Z"], q["X"], e["X"], mu, nu)
        qs = q["Z"][(mu, mu)]
        return (c.probs[0] * c.pz) ** 2 * th_mdi.key_rate(mu, y11z, e11, qs, e["Z"][(mu, mu)] / qs,
                                                          c.postprocess.f_ec)
    return _delta_sigma(rate, x, var)


def tf_sigma(sc, d):
    c = sc.config
    g, n = d["gains"], c.pulses
    px = 1 - c.pz
    npairs = {"S_00": n * (c.pz * (1 - c.eps) + px * c.dprobs[0]) ** 2,
              "S_1": n * (px * c.dprobs[1]) ** 2, "S_2": n * (px * c.dprobs[2]) ** 2,
              "T": d["phase_selected_pairs"]}
    nz = n * c.pz ** 2
    x = {k: g[k] for k in npairs}
    var = {k: max(g[k], 1.0 / npairs[k]) / npairs[k] for k in npairs}
    x["z_ok"], x["z_err"] = g["S_Z"] * (1 - d["qber_z"]), g["S_Z"] * d["qber_z"]
    var["z_ok"], var["z_err"] = x["z_ok"] / nz, max(x["z_err"], 1 / nz) / nz

    def rate(x):
        s1, e1 = th_tf.decoy_bounds(x["S_00"], x["S_1"], x["S_2"], x["T"], *c.decoys)
        sz = x["z_ok"] + x["z_err"]
        return c.pz ** 2 * th_tf.key_rate(c.mu_z, c.eps, s1, e1, sz, x["z_err"] / sz,
                                          c.postprocess.f_ec)
    return _delta_sigma(rate, x, var)


def mc_vs_theory(path, lengths, pulses):
    sc0 = load_scenario(path)
    job = jobs.job_for(sc0)
    print(f"{job.name} ({path}):")
    for length, n in zip(lengths, pulses):
        sc = sc0.replace(**{"channel.length_km": length, "run.pulses": n,
                            "postprocess.ec": "estimate"})
        d, th = job.run(sc).to_dict(), job.theory(sc)
        sig = (mdi_sigma if job.name == "mdi-qkd" else tf_sigma)(sc, d)
        dev = (d["key_rate_per_pulse"] - th["key_rate_per_pulse_decoy"]) / sig
        print(f"  {length:6.0f} km  MC {d['key_rate_per_pulse']:.3e} +- {sig:.2e} "
              f"({dev:+.1f} sigma)  closed form (3-intensity) "
              f"{th['key_rate_per_pulse_decoy']:.3e} (infinite decoys "
              f"{th['key_rate_per_pulse']:.3e})  PLOB {th['plob_per_pulse']:.3e}  "
              f"[{n:.0e} pulses]")


def crossover(path, key="key_rate_per_pulse"):
    sc0 = load_scenario(path)
    job = jobs.job_for(sc0)
    first = last = None
    for length in np.arange(50.0, 1200.0, 5.0):
        th = job.theory(sc0.replace(**{"channel.length_km": float(length)}))
        if th[key] > th["plob_per_pulse"] and first is None:
            first = length
        if th[key] > 0:
            last = length
    return first, last


if __name__ == "__main__":
    mc_vs_theory("examples/mdi_yin2016.toml", [20.0, 60.0, 100.0], [10**8, 3 * 10**8, 10**9])
    mc_vs_theory("examples/tf_sns_300km.toml", [100.0, 200.0, 300.0], [10**8, 3 * 10**8, 10**9])
    for p in ("examples/tf_sns_300km.toml", "examples/tf_sns_liu2023.toml"):
        sc = load_scenario(p)
        for length in (800.0, 900.0):
            th = jobs.job_for(sc).theory(sc.replace(**{"channel.length_km": length}))
            print(p, length, "km:", th["key_rate_per_pulse"], th["key_rate_per_pulse_decoy"],
                  th["plob_per_pulse"])
        for key in ("key_rate_per_pulse", "key_rate_per_pulse_decoy"):
            first, last = crossover(p, key)
            print(f"{p} {key}: above PLOB from {first} km, key up to {last} km")
    for p in ("examples/mdi_yin2016.toml", "examples/tf_sns_liu2023.toml"):
        sc = load_scenario(p)
        th = jobs.job_for(sc).theory(sc)
        print(p, {k: th[k] for k in ("key_rate_per_pulse", "key_rate_per_pulse_decoy",
                                      "plob_per_pulse", "qber_z")})
