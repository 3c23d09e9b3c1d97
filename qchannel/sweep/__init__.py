"""Parameter sweeps: one scenario, a grid of overrides, any executor.

>>> from qchannel import load_scenario
>>> from qchannel.sweep import sweep
>>> df = sweep(load_scenario("link.toml"),
...            {"channel.length_km": [0, 50, 100], "detector.efficiency": [0.1, 0.2]},
...            seed=7, pulses=10**8, out="results.parquet")

* The grid maps dotted scenario keys to lists of values; the sweep runs the
  cartesian product, in the grid's order (first key slowest).  Every point's
  scenario is validated before anything is submitted.
* Each point's seed is ``derive_seed(root, Purpose.SWEEP, *key)`` where the key
  is the point's sorted ``(dotted key, validated value)`` pairs: the same point
  gets the same seed whatever the executor, the number of workers, the grid's
  order or which other points the grid holds.
* Work goes to any ``concurrent.futures.Executor``: a local process pool (the
  default), ``dask.distributed.Client(...).get_executor()``,
  ``mpi4py.futures.MPIPoolExecutor()``.  What travels is :func:`run_point`, a
  top-level function, and plain dicts.
* With ``out``, only the driver writes: each finished point becomes one small
  JSON part file in ``out + ".parts/"`` (written to a temporary name in that
  directory, then ``os.replace``d, named by a hash of the point key, so a point
  is never stored twice).  At the end the table is written atomically to
  ``out`` (Parquet) and the parts are removed.  ``resume=True`` reads both and
  skips every finished point.  Killing the driver or a worker loses no
  finished point.  A point whose worker died (``BrokenProcessPool``, dask's
  ``KilledWorker``) is resubmitted up to ``max_retries`` times; a broken local
  process pool is replaced by a fresh one.
* ``optimize=True`` (jobs with an optimizer: decoy BB84 over fiber): each
  point first gets the source parameters that maximise its expected finite
  key (:func:`qchannel.optimize.optimize`, seeded, so every executor and a
  resumed sweep find the same ones), then runs (Monte Carlo, or theory) with
  them; the row carries them as ``opt.<key>`` columns
  (``opt.source.intensities``, ...) with the predicted ``opt.key_rate_per_pulse``.
"""
import collections
import math
import queue
from numbers import Integral, Real

from qchannel.sweep.executors import (SerialExecutor, _hint, _replacement, _window,  # noqa: F401
                                      check_executor_spec,
                                      _worker_lost, abandon, local_pool, make_executor)
from qchannel.sweep.grid import (_describe, check_grid, expand, parse_grid,  # noqa: F401
                                 parse_values, point_key, point_seed)
from qchannel.sweep.progress import _Progress
from qchannel.sweep.store import FORMAT, META_KEY, Store, read_meta  # noqa: F401

DECOYS = ("infinite", "vacuum-weak", "none")
CONVENTIONS = ("all-intensities", "signal-only")   # qchannel.theory.CONVENTIONS


def _flatten(d, prefix="", out=None, skip=("scenario",)):
    out = {} if out is None else out
    for k, v in d.items():
        if k in skip and not prefix:
            continue
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            _flatten(v, name + ".", out, ())
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, dict) for x in v):
            for i, x in enumerate(v):
                _flatten(x, f"{name}[{i}].", out, ())
        elif isinstance(v, (list, tuple)):
            out[name] = list(v)
        else:
            out[name] = v
    return out


def _plob(scenario):
    """PLOB bound of a decoy-BB84 fiber scenario (None elsewhere)."""
    from qchannel import theory

    ch = getattr(scenario, "channel", None)
    if getattr(scenario, "job", None) != "decoy-bb84" or getattr(ch, "type", None) != "fiber":
        return None
    try:
        eta = theory.channel_transmittance(ch.length_km, ch.attenuation_db_per_km,
                                           ch.extra_loss_db)
        v = float(theory.plob_bound(eta))
    except (AttributeError, ValueError, ZeroDivisionError):
        return None
    return v if math.isfinite(v) else None


def _opt_columns(opt):
    """The optimiser's choice and prediction as ``opt.*`` row columns."""
    cols = {f"opt.{k}": v for k, v in opt["parameters"].items()}
    for k in ("key_rate_per_pulse", "secret_key_bits", "pulses", "aborted"):
        if k in opt:
            cols[f"opt.{k}"] = opt[k]
    return cols


def run_point(task):
    """Run one sweep point (a plain dict from :func:`expand`) through its
    job; returns a plain dict of scalars (the job's headline fields first,
    then the rest of its report, nested keys dotted, bulky per-bin series
    left out).  With ``task["optimize"]`` the job's optimizer chooses the
    point's parameters first (``opt.*`` columns).  Top-level and picklable
    for any executor.  Its run uses one thread (the sweep spreads points
    over the cores: the two levels must not oversubscribe them)."""
    from qchannel.links.base import forced_threads

    with forced_threads(1):
        return _run_point(task)


def _run_point(task):
    from qchannel import jobs

    sc = jobs.from_dict(task["scenario"])
    job = jobs.job_for(sc)
    opt = {}
    if task.get("optimize"):
        found = job.optimize(sc, pulses=task.get("opt_pulses"))
        sc = sc.replace(**found["parameters"])
        opt = _opt_columns(found)
    if task["mode"] == "theory":
        kwargs = {}
        if job.name == "decoy-bb84":
            kwargs = {"decoy": task["decoy"],
                      "convention": task.get("convention") or CONVENTIONS[0]}
        d = job.theory(sc, **kwargs)
        row = _flatten(d, skip=("intensities", "bins") + job.sweep_skip)
        row.update(opt)
        return row
    d = job.run(sc).to_dict()
    row = {k: d.get(k) for k in job.headline}
    if job.name == "decoy-bb84":
        row["plob_per_pulse"] = _plob(sc)
    row.update(opt)
    for k, v in _flatten(d, skip=("scenario",) + job.sweep_skip).items():
        row.setdefault(k, v)
    return row


def _table(points, rows, headline=()):
    """One row per point in grid order.  Columns: the grid keys, the job's
    headline fields, the other result fields sorted by name, ``point_key``;
    the same order whichever rows were computed now and which were read back
    on resume (points that aborted may lack fields: they hold missing values)."""
    import pandas as pd

    records, fields = [], set()
    for p in points:
        rec = dict(p["point"])
        for k, v in rows[p["key"]].items():
            if k not in rec and k != "point_key":
                rec[k] = v
                fields.add(k)
        records.append(rec)
    grid = list(points[0]["point"]) if points else []
    head = [k for k in headline if k in fields]
    columns = grid + head + sorted(fields - set(head) - set(grid))
    df = pd.DataFrame.from_records(records, columns=columns)
    df["point_key"] = [p["key"] for p in points]
    if "seed" in df.columns:
        df["seed"] = df["seed"].astype("uint64")
    return df


def sweep(scenario, grid, seed=None, executor=None, out=None, resume=False, theory=False,
          pulses=None, progress=None, decoy="infinite", max_retries=3, convention=None,
          optimize=False):
    """Run ``scenario`` at every point of ``grid``; returns a pandas DataFrame,
    one row per point in grid order: the grid columns, the result's scalar
    fields (nested ones dotted: ``ec.leaked_bits``, ``intensities[0].gain``,
    ``finite_key.s_x1``), ``plob_per_pulse``, ``seed`` (Monte Carlo) and
    ``point_key``.

    Any job of the registry sweeps (:mod:`qchannel.jobs`): the grid's keys
    are validated by the job's schema at every point, and the rows hold that
    job's report fields (``secret_key_bits``, ``chsh_s``, ``waiting_time_mean``...).
    ``theory=True`` evaluates the job's analytic twin instead (``decoy`` and
    ``convention``, "all-intensities" by default or "signal-only", apply to
    decoy BB84; see :func:`qchannel.theory.expect`).
    ``optimize=True``: each point runs with the parameters its job's
    optimizer chooses for it (``opt.*`` columns; for decoy BB84 the source
    parameters that maximise the expected finite key of the point's run
    length, or of ``pulses`` with ``theory=True``).  The optimised keys may
    not be grid keys.
    ``executor``: a ``concurrent.futures.Executor`` (not shut down here) or a
    spec string for :func:`make_executor`; ``None`` means a local process
    pool with one worker per core (Monte Carlo) or ``"serial"`` (theory, whose
    points take ~1 ms, less than a round trip to a worker).
    ``progress``: None (a bar on a terminal), False, True, or ``f(done, total)``.

    Examples
    --------
    >>> from qchannel import Scenario
    >>> from qchannel.sweep import sweep
    >>> df = sweep(Scenario.from_dict({}), {"channel.length_km": [0, 50, 100]},
    ...            theory=True, progress=False)
    >>> df["channel.length_km"].tolist()
    [0.0, 50.0, 100.0]
    >>> bool(df["key_rate_per_pulse"].is_monotonic_decreasing)
    True
    """
    if decoy not in DECOYS:
        raise ValueError(f"decoy = {decoy!r} must be one of {', '.join(map(repr, DECOYS))}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, Integral) or max_retries < 0:
        raise ValueError(f"max_retries = {max_retries!r} must be an integer >= 0")
    theory = bool(theory)
    if not isinstance(optimize, bool):
        raise ValueError(f"optimize = {optimize!r} must be True or False")
    from qchannel import jobs

    job = jobs.job_for(scenario)
    if theory and job.theory is None:
        raise ValueError(f"--theory: the {job.name} job has no closed form")
    if convention is not None:
        if convention not in CONVENTIONS:
            raise ValueError(f"convention = {convention!r} must be one of "
                             f"{', '.join(map(repr, CONVENTIONS))}")
        if not theory:
            raise ValueError("convention applies to theory sweeps (--theory); the Monte Carlo "
                             "computes the all-intensities rate")
        if job.name != "decoy-bb84":
            raise ValueError(f"convention applies to decoy-bb84 scenarios, not to a {job.name} "
                             f"scenario")
    if optimize:
        if job.optimize is None:
            raise ValueError(f"--optimize: the {job.name} job has no optimizer")
        chosen = [k for k in grid if k in job.extra.get("optimize_keys", ())] \
            if isinstance(grid, dict) else []
        if chosen:
            raise ValueError(f"grid key {chosen[0]} is what --optimize chooses: remove it from "
                             f"the grid or drop --optimize")
    if pulses is not None and not theory:
        if isinstance(pulses, bool) or not isinstance(pulses, Real):
            raise ValueError(f"pulses = {pulses!r} must be an integer >= 1")
    # the cheap checks first: the output path and the executor's spec
    if out is not None:
        from qchannel.outputs import check_output_file

        check_output_file(out, "out")
    if isinstance(executor, str):
        check_executor_spec(executor)
    points = expand(scenario, grid, seed=seed, pulses=None if theory else pulses, theory=theory)
    opt_pulses = pulses if theory else None   # Monte Carlo: the point's own run.pulses
    if optimize and "optimize_check" in job.extra:
        for p in points:   # every point, before anything is submitted or written
            try:
                job.extra["optimize_check"](jobs.from_dict(p["scenario"]), opt_pulses)
            except ValueError as err:
                raise ValueError(f"--optimize: grid point {_describe(p['point'])}: {err}") \
                    from None
    from qchannel.rng import check_seed

    root = None if theory else check_seed(scenario.run.seed if seed is None else seed, "seed")
    meta = {
        "format": FORMAT,
        "mode": "theory" if theory else "mc",
        "decoy": decoy if theory else None,
        "convention": (convention or CONVENTIONS[0]) if theory else None,
        "optimize": optimize,
        "seed": root,
        "pulses": None if (theory and not optimize) or pulses is None else int(pulses),
        "scenario": scenario.to_dict(),
        "grid_keys": [k for k in grid],
    }
    if out is not None:
        from qchannel.outputs import check_output_file

        check_output_file(out, "out")
    close = None
    if executor is None:
        executor = "serial" if theory else "local"
    if isinstance(executor, str):
        executor, close = make_executor(executor)   # a bad spec fails before anything is written
    store = None
    rows = {}
    try:
        if out is not None:
            store = Store(out, meta)
            if store.exists() and not resume:
                raise ValueError(f"{store.out} (or {store.parts}) already exists: resume it "
                                 f"(resume=True, --resume) or remove it")
            if resume:
                rows = store.load()
                wanted = {p["key"] for p in points}
                extra = [k for k in rows if k not in wanted]
                if extra:
                    raise ValueError(f"{store.out} holds {len(extra)} point(s) outside this grid "
                                     f"(e.g. {extra[0]}): use another out file")
            store.begin()
    except BaseException:
        if close is not None:
            close()
        raise
    todo = [i for i, p in enumerate(points) if p["key"] not in rows]
    mode = meta["mode"]
    tasks = {i: {"scenario": points[i]["scenario"], "mode": mode, "decoy": decoy,
                 "convention": convention, "optimize": optimize, "opt_pulses": opt_pulses}
             for i in todo}

    owned = []  # replacement pools we created
    bar = _Progress(progress, len(points), len(points) - len(todo))
    pending = {}
    finished = queue.Queue()  # futures, put by their done-callbacks: O(1) per point
    waiting = collections.deque(todo)
    attempts = {}
    current = executor
    try:
        window = _window(executor)

        def fill():
            while waiting and len(pending) < window:
                i = waiting.popleft()
                fut = current.submit(run_point, tasks[i])
                pending[fut] = i
                fut.add_done_callback(finished.put)

        fill()
        while pending:
            fut = finished.get()
            i = pending.pop(fut)
            try:
                res = fut.result()
            except BaseException as err:
                if not _worker_lost(err):
                    desc = _describe(points[i]["point"])
                    if isinstance(err, ValueError):
                        raise ValueError(f"sweep point {desc}: {err}") from err
                    raise
                attempts[i] = attempts.get(i, 0) + 1
                if attempts[i] > max_retries:
                    raise RuntimeError(f"sweep point {_describe(points[i]['point'])}: its "
                                       f"worker was lost {attempts[i]} times "
                                       f"({type(err).__name__}); giving up{_hint(err)}") from err
                fresh = _replacement(current)
                if fresh is not None:
                    owned.append(fresh)
                    current = fresh
                waiting.appendleft(i)
                fill()
                continue
            key = points[i]["key"]
            rows[key] = res
            if store is not None:
                store.put(key, res)
            bar.update()
            fill()
    except KeyboardInterrupt:   # stop the pools we made now, not after their points
        for ex in owned + ([executor] if close is not None else []):
            abandon(ex)
        raise
    finally:
        bar.close()
        for f in pending:
            f.cancel()
        for ex in owned:
            ex.shutdown(wait=True, cancel_futures=True)
        if close is not None:
            close()
    df = _table(points, rows, () if theory else job.headline)
    if store is not None:
        store.finish(df)
    return df
