"""Command line: ``qchannel run|theory [SCENARIO] ...``.

Bad input (an unknown key, a wrong type, an out-of-range value, a missing
file) prints one line on stderr and exits with status 2, never a traceback.
"""
import argparse
import json
import sys
import time

from qchannel.params import parse_number


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        sys.stderr.write(f"qchannel: error: {message}\n")
        sys.exit(2)


class Progress:
    """A progress bar with ETA on stderr, shown only on a terminal and only
    for runs that last more than a second."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False

    def __call__(self, done, total):
        now = time.monotonic()
        elapsed = now - self.start
        if elapsed < 1.0 or (now - self.last < 0.2 and done < total):
            return
        self.last = now
        frac = done / total
        eta = elapsed * (1 - frac) / frac if frac > 0 else 0.0
        bar = "#" * int(30 * frac)
        self.stream.write(f"\r[{bar:<30}] {100 * frac:5.1f}%  {done:.3g}/{total:.3g} pulses  "
                          f"ETA {eta:6.1f} s")
        self.stream.flush()
        self.shown = True

    def close(self):
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _fmt(x, spec=".4g"):
    return "n/a" if x is None else format(x, spec)


def format_run_report(d):
    sc = d["scenario"]
    ch = sc["channel"]
    if "pass" in d:
        p = d["pass"]
        where = (f"{p['duration_s']:.4g} s, closest {p['min_range_km']:.0f} km, max elevation "
                 f"{p['max_elevation_deg']:.1f} deg, mean loss {p['mean_loss_db']:.1f} dB")
    else:
        where = f"{ch['length_km']:g} km"
    lines = [
        f"qchannel decoy-BB84 over {ch['type']}: {where}, seed {d['seed']}",
        f"  pulses {d['pulses']:.4g} ({d['duration_s']:.4g} s at {sc['source']['rep_rate_hz']:.3g} Hz), "
        f"detections {d['detections']}, double clicks {d['double_clicks']}",
        "  intensity        sent         gain     QBER X     QBER Z",
    ]
    for row in d["intensities"]:
        lines.append(f"  mu={row['mu']:<8g} {row['sent']:>12d} {_fmt(row['gain'], '12.4e')} "
                     f"{_fmt(row['qber_x'], '10.4f')} {_fmt(row['qber_z'], '10.4f')}")
    ec = d["ec"]
    lines += [
        f"  sifted key bits (X basis) {d['sifted_bits']}, QBER {_fmt(d['qber'], '.4%')}",
        f"  error correction: {ec['method']}, {ec['leaked_bits']} bits disclosed"
        + (f" ({ec['note']})" if ec.get("note") else "")
        + (f", efficiency f = {_fmt(ec.get('efficiency'), '.3f')}, {ec['frames']} frames, "
           f"{ec['frames_failed']} failed, {ec['rounds']} rounds" if "frames" in ec else ""),
    ]
    if "verification_bits" in d:
        lines.append(f"  verification: {d['verification_bits']} tag bits; keys match: "
                     f"{d['keys_match']}")
    if "eve" in d:
        e, info = d["eve"], d.get("eve_info_final_key") or {}
        lines.append(f"  eve: {e['attack']} on {e['fraction']:.3g} of the pulses at "
                     f"{e['position_km']:g} km; she knows {d['eve_known_sifted_bits']} of "
                     f"{d['sifted_bits']} sifted bits")
        if info.get("hashed"):
            lines.append(f"  eve's guesses of final-key bits: {info['correct_fraction']:.4f} right "
                         f"({info['z_score']:+.2f} sigma from 1/2)")
    if d["aborted"]:
        lines.append(f"  ABORTED: {d['abort_reason']}")
    lines.append(f"  secret key: {d['secret_key_bits']} bits, {d['key_rate_per_pulse']:.4g} per pulse, "
                 f"{d['secret_key_rate_bps']:.4g} bit/s")
    return "\n".join(lines)


def format_theory_report(d):
    lines = [f"qchannel theory ({d['decoy']} decoys): channel transmittance {d['transmittance']:.4g}"]
    for row in d["intensities"]:
        lines.append(f"  mu={row['mu']:<8g} gain {row['gain']:.4e}  QBER {_fmt(row['qber'], '.4f')}")
    lines.append(f"  asymptotic key rate {d['key_rate_per_pulse']:.4g} per pulse "
                 f"(PLOB bound {d['plob_per_pulse']:.4g}, TGW {d['tgw_per_pulse']:.4g})")
    return "\n".join(lines)


def format_generic_report(d, title):
    lines = [title]
    for key, value in d.items():
        if isinstance(value, (dict, list)):
            continue
        lines.append(f"  {key}: {_fmt(value) if isinstance(value, float) else value}")
    return "\n".join(lines)


def _cmd_run(args):
    from qchannel.runner import run_file

    progress = Progress() if sys.stderr.isatty() else None
    try:
        result = run_file(args.scenario, seed=args.seed, pulses=args.pulses, progress=progress,
                          keys_out=args.keys_out)
    finally:
        if progress is not None:
            progress.close()
    d = result.to_dict()
    if d.get("protocol") != "decoy-bb84":
        if args.plot:
            raise ValueError("--plot draws a free-space or satellite pass of decoy BB84")
        print(json.dumps(d, indent=2) if args.json
              else format_generic_report(d, f"qchannel run {args.scenario}"))
        return 0
    if args.plot:
        if "bins" not in d:
            raise ValueError("--plot draws a free-space or satellite pass; this channel is fiber")
        from qchannel.passplot import plot_pass

        plot_pass(d, args.plot)
    print(json.dumps(d, indent=2) if args.json else format_run_report(d))
    return 0


def _cmd_theory(args):
    from qchannel import theory
    from qchannel.scenario import load_scenario

    if args.scenario is not None:
        from qchannel.scenario import read_toml, scenario_kind

        kind = scenario_kind(read_toml(args.scenario))
        if kind != "decoy-bb84":
            raise ValueError(f"qchannel theory covers decoy-BB84 scenarios; {args.scenario} is a "
                             f"{kind} scenario: run it with qchannel run")
    scenario = load_scenario(args.scenario)
    if scenario.is_free_space:
        raise ValueError("qchannel theory covers fiber links; for a free-space pass, "
                         "qchannel run --plot draws the closed form per time bin")
    d = theory.expect(scenario, decoy=args.decoy)
    print(json.dumps(d, indent=2) if args.json else format_theory_report(d))
    return 0


def build_parser():
    p = _Parser(prog="qchannel", description="Photonic channel simulator for QKD.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("run", help="Monte Carlo of a scenario and its post-processing")
    r.add_argument("scenario", nargs="?", help="scenario TOML file (default: built-in 50 km link)")
    r.add_argument("--seed", type=parse_number, help="override [run] seed")
    r.add_argument("--pulses", type=parse_number, help="override [run] pulses")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.add_argument("--keys-out", metavar="DIR", help="write both final keys (packed binary) "
                   "to DIR; needs [postprocess] ec = \"cascade\" or \"ldpc\"")
    r.add_argument("--plot", metavar="PNG", help="free-space/satellite: draw loss and key rate "
                   "against time and elevation")
    r.set_defaults(func=_cmd_run)
    t = sub.add_parser("theory", help="analytic expectation of a scenario")
    t.add_argument("scenario", nargs="?", help="scenario TOML file (default: built-in)")
    t.add_argument("--decoy", choices=("infinite", "vacuum-weak", "none"), default="infinite")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    t.set_defaults(func=_cmd_theory)
    from qchannel.sweep import add_sweep_commands

    add_sweep_commands(sub)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        sys.stderr.write(f"qchannel: error: {err}\n")
        return 2
    except BrokenPipeError:  # e.g. piped into head
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("qchannel: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
