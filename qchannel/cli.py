"""Command line: ``qchannel run|theory|optimize|sweep|plot|jobs [SCENARIO] ...``, every
verb through the job registry (:mod:`qchannel.jobs`).

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


def _print(d, args, text):
    print(json.dumps(d, indent=2) if args.json else text(d))


def _load(args):
    """The scenario named on the command line (any job), with --seed and
    --pulses applied through its schema."""
    from qchannel import jobs
    from qchannel.runner import with_overrides

    return with_overrides(jobs.load(args.scenario), getattr(args, "seed", None),
                          getattr(args, "pulses", None))


def _cmd_run(args):
    from qchannel import jobs
    from qchannel.links.base import check_threads, forced_threads
    from qchannel.runner import check_keys_out, run_scenario

    threads = None if args.threads is None else check_threads("--threads", args.threads)
    scenario = _load(args)
    job = jobs.job_for(scenario)
    # every check that can be made before the Monte Carlo
    if args.keys_out is not None:
        if not job.writes_keys:
            raise ValueError(f"--keys-out applies to decoy-bb84 scenarios, not to a {job.name} "
                             f"scenario")
        check_keys_out(scenario, args.keys_out)
    if args.plot:
        if not getattr(scenario, "is_free_space", False):
            raise ValueError("--plot draws a free-space or satellite pass of decoy BB84; this "
                             f"is a {job.name} scenario over "
                             f"{'fiber' if job.name == 'decoy-bb84' else 'its own links'}")
        from qchannel.outputs import check_image_file

        check_image_file(args.plot, "--plot")
    progress = Progress() if sys.stderr.isatty() else None
    try:
        with forced_threads(threads):      # None: [run] threads, else every core
            result = run_scenario(scenario, progress=progress, keys_out=args.keys_out)
    finally:
        if progress is not None:
            progress.close()
    d = result.to_dict()
    if args.plot:
        from qchannel.passplot import plot_pass

        plot_pass(d, args.plot)
    _print(d, args, job.report)
    return 0


def _cmd_theory(args):
    from qchannel import jobs

    scenario = _load(args)
    job = jobs.job_for(scenario)
    if job.theory is None:
        raise ValueError(f"the {job.name} job has no closed form: run it with qchannel run")
    kwargs = {}
    if job.name == "decoy-bb84":
        kwargs["decoy"] = args.decoy or "infinite"
        kwargs["convention"] = args.convention or "all-intensities"
    else:
        for opt in ("decoy", "convention"):
            if getattr(args, opt) is not None:
                raise ValueError(f"--{opt} applies to decoy-bb84 scenarios, not to a {job.name} "
                                 f"scenario")
    d = job.theory(scenario, **kwargs)
    _print(d, args, job.theory_report or (lambda x: json.dumps(x, indent=2)))
    return 0


def _optimize_text(d):
    """Text report of an optimiser without its own: the parameters and the rate."""
    lines = [f"  {k} = {json.dumps(v)}" for k, v in d["parameters"].items()]
    return "\n".join(["qchannel optimize:"] + lines +
                     [f"  expected key rate {d['key_rate_per_pulse']:.4g} per pulse"])


def _cmd_optimize(args):
    from qchannel import jobs

    scenario = jobs.load(args.scenario)
    job = jobs.job_for(scenario)
    if job.optimize is None:
        raise ValueError(f"the {job.name} job has no optimizer (decoy-bb84 has one)")
    d = job.optimize(scenario, pulses=args.pulses)
    _print(d, args, job.extra.get("optimize_report", _optimize_text))
    return 0


def _cmd_qrng(args):
    """Run a qrng scenario until N extracted bits exist and write them packed."""
    from qchannel import jobs
    from qchannel.outputs import check_output_file
    from qchannel.params import check_int
    from qchannel.qrng.generator import MAX_OUTPUT_BITS

    scenario = _load(args)
    job = jobs.job_for(scenario)
    if job.name != "qrng":
        raise ValueError(f"qchannel qrng needs a [protocol] type = \"qrng\" scenario, not "
                         f"{job.name}")
    bits = check_int("--bits", args.bits, 1, MAX_OUTPUT_BITS)
    check_output_file(args.out, "--out")
    progress = Progress() if sys.stderr.isatty() else None
    try:
        d = job.run(scenario, progress=progress, out=args.out, bits=bits).to_dict()
    finally:
        if progress is not None:
            progress.close()
    _print(d, args, job.report)
    return 1 if d["aborted"] else 0


def _cmd_jobs(args):
    from qchannel import jobs

    for name in jobs.names():
        job = jobs.get(name)
        twin = "theory" if job.theory is not None else "no closed form"
        if job.optimize is not None:
            twin += ", optimize"
        print(f"{name:22s} {job.summary} [{twin}]")
    return 0


def _cmd_sweep(args):
    from qchannel import jobs
    from qchannel.sweep import parse_grid, sweep

    scenario = jobs.load(args.scenario)
    grid = parse_grid(args.grid)
    executor = args.executor
    if executor is None:
        executor = "serial" if args.theory else "local"
    t0 = time.monotonic()
    df = sweep(scenario, grid, seed=args.seed, executor=executor, out=args.out,
               resume=args.resume, theory=args.theory, pulses=args.pulses, decoy=args.decoy,
               max_retries=args.retries, convention=args.convention, optimize=args.optimize)
    el = time.monotonic() - t0
    sys.stdout.write(f"qchannel sweep: {len(df)} points in {el:.3g} s -> {args.out}\n")
    return 0

def _cmd_plot(args):
    from qchannel.plotting import plot_sweep

    plot_sweep(args.results, x=args.x, y=args.y, log_y=args.log_y, output=args.output,
               decoy=args.decoy, overlay=not args.no_theory)
    sys.stdout.write(f"qchannel plot: wrote {args.output}\n")
    return 0

def add_sweep_commands(subparsers):
    """Register ``sweep`` and ``plot`` on the CLI's subparsers."""
    from qchannel.sweep import CONVENTIONS, DECOYS

    s = subparsers.add_parser(
        "sweep", help="run a scenario over a grid of parameters (Monte Carlo or theory)",
        description="Run SCENARIO at every point of the cartesian product of the --grid "
                    "options; write one Parquet table, one row per point.  Ranges "
                    "start:stop:step include stop when it lands on the grid.")
    s.add_argument("scenario", nargs="?", help="scenario TOML file (default: built-in)")
    s.add_argument("--grid", action="append", metavar="KEY=VALUES", required=True,
                   help="dotted key and values: start:stop:step, v1,v2,..., or a JSON list; "
                        "repeat for more keys")
    s.add_argument("--theory", action="store_true", help="analytic expectation, not Monte Carlo")
    s.add_argument("--decoy", choices=DECOYS, default="infinite",
                   help="decoy method for --theory (default: infinite)")
    s.add_argument("--convention", choices=CONVENTIONS, default=None,
                   help="key-rate convention for --theory: all-intensities (default, what the "
                        "Monte Carlo computes) or signal-only")
    s.add_argument("--optimize", action="store_true",
                   help="at each point, first choose the source parameters that maximise the "
                        "expected finite key (qchannel optimize), then run with them; the rows "
                        "carry them as opt.* columns")
    s.add_argument("--executor", metavar="SPEC", default=None,
                   help="local (default for Monte Carlo: one worker per core), local:N, serial "
                        "(default for --theory), dask:ADDRESS or dask:scheduler.json, mpi")
    s.add_argument("--out", required=True, help="result file (Parquet)")
    s.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    s.add_argument("--seed", type=parse_number, help="root seed (default: [run] seed)")
    s.add_argument("--pulses", type=parse_number,
                   help="pulses per point (default: [run] pulses); with --theory --optimize, "
                        "the run length the parameters are optimised for")
    s.add_argument("--retries", type=int, default=3,
                   help="resubmissions of a point whose worker died (default 3)")
    s.set_defaults(func=_cmd_sweep)
    p = subparsers.add_parser("plot", help="plot a sweep's results",
                              description="Plot FIELD against KEY from a sweep's Parquet file, "
                                          "one line per combination of the other grid keys, "
                                          "with theory and the PLOB bound overlaid.")
    p.add_argument("results", help="Parquet file written by qchannel sweep")
    p.add_argument("--x", required=True, help="grid key on the x axis, e.g. channel.length_km")
    p.add_argument("--y", required=True, help="result field, e.g. key_rate_per_pulse")
    p.add_argument("--log-y", action="store_true", help="logarithmic y axis")
    p.add_argument("--decoy", choices=DECOYS, default="infinite",
                   help="decoy method of the theory overlay")
    p.add_argument("--no-theory", action="store_true", help="no theory/PLOB overlay")
    p.add_argument("-o", "--output", required=True, help="image file (png, pdf, svg)")
    p.set_defaults(func=_cmd_plot)
    return subparsers


def build_parser():
    p = _Parser(prog="qchannel", description="Photonic channel simulator for QKD.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("run", help="Monte Carlo of a scenario and its post-processing")
    r.add_argument("scenario", nargs="?", help="scenario TOML file (default: built-in 50 km link)")
    r.add_argument("--seed", type=parse_number, help="override [run] seed")
    r.add_argument("--pulses", type=parse_number, help="override [run] pulses")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.add_argument("--threads", type=parse_number, help="threads simulating the link's blocks "
                   "(default: [run] threads, else every core this process may use); the "
                   "results do not depend on it")
    r.add_argument("--keys-out", metavar="DIR", help="write both final keys (packed binary) "
                   "to DIR; needs [postprocess] ec = \"cascade\" or \"ldpc\"")
    r.add_argument("--plot", metavar="PNG", help="free-space/satellite: draw loss and key rate "
                   "against time and elevation")
    r.set_defaults(func=_cmd_run)
    t = sub.add_parser("theory", help="analytic expectation of a scenario (its job's closed form)")
    t.add_argument("scenario", nargs="?", help="scenario TOML file (default: built-in)")
    t.add_argument("--decoy", choices=("infinite", "vacuum-weak", "none"), default=None,
                   help="decoy-bb84 only: decoy method (default: infinite)")
    t.add_argument("--convention", choices=("all-intensities", "signal-only"), default=None,
                   help="decoy-bb84 only: which pulses make key, every intensity (default, what "
                        "the Monte Carlo computes) or only the signal")
    t.add_argument("--seed", type=parse_number, help="override [run] seed (fading samples, passes)")
    t.add_argument("--pulses", type=parse_number, help="override [run] pulses")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    t.set_defaults(func=_cmd_theory)
    o = sub.add_parser("optimize", help="source parameters that maximise the expected finite key",
                       description="Maximise the expected finite-key rate (Lim et al. 2014 on "
                                   "the analytic twin's expected counts) over the source's "
                                   "intensities, their probabilities and the basis probability; "
                                   "print the optimal parameters (scenario key -> value) and "
                                   "the rate.  Jobs with an optimizer: decoy-bb84 (fiber).")
    o.add_argument("scenario", nargs="?", help="scenario TOML file (default: built-in)")
    o.add_argument("--pulses", type=parse_number,
                   help="pulses of the run to optimise for (default: [run] pulses, 1e10)")
    o.add_argument("--json", action="store_true", help="print one JSON object")
    o.set_defaults(func=_cmd_optimize)
    q = sub.add_parser("qrng", help="QRNG scenario: write N extracted random bits (packed)",
                       description="Simulate the [qrng] device, assess its raw bits (SP 800-90B "
                                   "and the device model), run the health tests and write N "
                                   "Toeplitz-extracted bits to FILE, packed 8 per byte, most "
                                   "significant bit first.  Exit status 1 (nothing "
                                   "written) when the device has too little min-entropy "
                                   "for the extractor's eps.")
    q.add_argument("scenario", help="scenario TOML file with [protocol] type = \"qrng\"")
    q.add_argument("--bits", type=parse_number, required=True, help="extracted bits to write")
    q.add_argument("--out", required=True, metavar="FILE", help="output file (packed bits)")
    q.add_argument("--seed", type=parse_number, help="override [run] seed")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.set_defaults(func=_cmd_qrng)
    j = sub.add_parser("jobs", help="list the job types ([protocol] type) and their closed forms")
    j.set_defaults(func=_cmd_jobs)
    add_sweep_commands(sub)
    from qchannel.kms.cli import add_kms_commands

    add_kms_commands(sub)
    return p


def _one_line(err):
    return " ".join(str(err).split())


def main(argv=None):
    """Every expected failure is one line on stderr and exit status 2 (130 for
    Ctrl-C); only a genuine bug shows a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        sys.stderr.write(f"qchannel: error: {_one_line(err)}\n")
        return 2
    except BrokenPipeError:  # e.g. piped into head
        return 0
    except MemoryError:
        sys.stderr.write("qchannel: error: out of memory: reduce the run's size (run.pulses, "
                         "run.time_bin_s, the grid) or free memory\n")
        return 2
    except OSError as err:  # unwritable output, full disk, ...
        where = f" {err.filename}" if getattr(err, "filename", None) else ""
        sys.stderr.write(f"qchannel: error:{where} {err.strerror or _one_line(err)}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("qchannel: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
