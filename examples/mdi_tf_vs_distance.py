"""Key rate versus distance for MDI-QKD and SNS twin-field QKD: Monte Carlo
(asymptotic key on the observed counts, the scenario's decoy bounds) against
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
    """Statistical 1-sigma of the Monte Carlo's MDI key rate: every reported
    (pair, basis) row has independent correct and error counts; the rate is
    recomputed from perturbed class-pair tables with the job's own estimate
    (three or four intensities)."""
    from qchannel.jobs import mdi as J

    c = sc.config
    sent, succ, err = J.expected_counts(c)       # the layout and the pairs sent (expected)
    rows = J._gain_rows(c)
    x, var = {}, {}
    for (a, b, basis), row in zip(rows, d["gains"]):
        n = row["sent"]
        for part, val in (("ok", row["gain"] - row["error_gain"]), ("err", row["error_gain"])):
            x[(a, b, basis, part)] = val
            var[(a, b, basis, part)] = max(val, 1.0 / n) / n

    def tables(x):
        k, e = np.zeros_like(succ), np.zeros_like(err)
        for (a, b, basis), row in zip(rows, d["gains"]):
            ok, bad = x[(a, b, basis, "ok")], x[(a, b, basis, "err")]
            if c.four:
                cells = [(J.FOUR_INDEX[a], J.FOUR_INDEX[b])]
            else:
                cells = [(i, j) for i in J._classes(c, basis, a) for j in J._classes(c, basis, b)]
            for i, j in cells:        # a row's rate applies to each of its cells
                k[i, j], e[i, j] = sent[i, j] * (ok + bad), sent[i, j] * bad
        return k, e

    def rate(x):
        k, e = tables(x)
        return J._estimate(c, sent, k, e)["key_rate_per_pulse"]
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
              f"({dev:+.1f} sigma)  closed form (decoy bound) "
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
        print(p, {k: th.get(k) for k in ("key_rate_per_pulse", "key_rate_per_pulse_decoy",
                                          "key_rate_per_pulse_finite", "plob_per_pulse",
                                          "qber_z")})
