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
"""
import collections
import concurrent.futures as cf
import hashlib
import itertools
import json
import math
import os
import queue
import sys
import time
from numbers import Integral, Real

from qchannel.params import parse_number

FORMAT = "qchannel.sweep/1"
META_KEY = b"qchannel.sweep"
MAX_POINTS = 10**7
MAX_RANGE_POINTS = 10**6
DECOYS = ("infinite", "vacuum-weak", "none")
# Monte Carlo columns that come first; the rest of the result follows, dotted.
MC_FIELDS = ("seed", "pulses", "detections", "sifted_bits", "qber", "secret_key_bits",
             "key_rate_per_pulse", "secret_key_rate_bps", "aborted", "abort_reason")

# Exceptions that mean "the worker died", not "the point is bad": retried.
WORKER_LOST = ("BrokenProcessPool", "BrokenExecutor", "KilledWorker", "CommClosedError",
               "WorkerLostError", "StreamClosedError")


# --------------------------------------------------------------------------
# grid
# --------------------------------------------------------------------------
def _plain(v):
    """numpy scalars/arrays -> Python values; tuples/lists -> lists."""
    if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _jsonable(v):
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _hashable(v):
    return tuple(_hashable(x) for x in v) if isinstance(v, (list, tuple)) else v


def check_grid(scenario, grid):
    """Validate the shape of a grid: ``{dotted key: [values]}``.  Returns a
    list of ``(key, [values])`` with numpy values made plain.  Raises
    ValueError naming the key."""
    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid must be a non-empty mapping of dotted keys to lists of values, "
                         "e.g. {'channel.length_km': [0, 50, 100]}")
    base = scenario.to_dict()
    items = []
    n = 1
    for key, values in grid.items():
        if not isinstance(key, str):
            raise ValueError(f"grid key {key!r} must be a string 'section.key'")
        section, _, name = key.partition(".")
        if section not in base or not name:
            raise ValueError(f"grid key {key!r} is not a scenario key: use section.key with a "
                             f"section in {', '.join(base)}")
        if name not in base[section]:
            raise ValueError(f"grid key {key!r} is not a scenario key; {section} keys: "
                             f"{', '.join(sorted(base[section]))}")
        if isinstance(values, (str, bytes, dict, set, frozenset)) or not hasattr(values, "__iter__"):
            raise ValueError(f"grid {key} = {values!r} must be a list of values")
        values = [_plain(v) for v in values]
        if not values:
            raise ValueError(f"grid {key} has no values: give at least one")
        for v in values:
            if v is None or isinstance(v, dict) or (isinstance(v, float) and not math.isfinite(v)):
                raise ValueError(f"grid {key} value {v!r} is not a valid value")
        n *= len(values)
        if n > MAX_POINTS:
            raise ValueError(f"grid has more than {MAX_POINTS} points")
        items.append((key, values))
    return items


def _canonical(scenario, key):
    section, _, name = key.partition(".")
    return _plain(getattr(getattr(scenario, section), name))


def point_key(point):
    """The identity of a point: JSON of its sorted ``[key, value]`` pairs."""
    return json.dumps(sorted([k, _jsonable(v)] for k, v in point.items()), separators=(",", ":"))


def point_seed(root_seed, point):
    """The seed of a point: from the root seed and the point's sorted
    (dotted key, value) pairs, never its position."""
    from qchannel.rng import Purpose, check_seed, derive_seed

    pairs = sorted((k, _hashable(v)) for k, v in point.items())
    return derive_seed(check_seed(root_seed, "seed"), Purpose.SWEEP, *pairs)


def _key_hash(key):
    return hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


def _describe(point):
    return ", ".join(f"{k}={v}" for k, v in point.items())


def expand(scenario, grid, seed=None, pulses=None, theory=False):
    """The sweep's points, in grid order: a list of dicts with ``point`` (grid
    key -> validated value), ``key``, ``seed`` and ``scenario`` (a plain dict,
    the point's validated scenario with run.seed/run.pulses set)."""
    items = check_grid(scenario, grid)
    keys = [k for k, _ in items]
    if not theory and pulses is not None and "run.pulses" in keys:
        raise ValueError("run.pulses is both a grid key and given as pulses: give one")
    from qchannel.rng import check_seed

    root = check_seed(scenario.run.seed if seed is None else seed, "seed")
    points = []
    seen = set()
    for combo in itertools.product(*(v for _, v in items)):
        over = dict(zip(keys, combo))
        if not theory and pulses is not None:
            over["run.pulses"] = pulses
        try:
            sc = scenario.replace(**over)
        except ValueError as err:
            raise ValueError(f"grid point {_describe(dict(zip(keys, combo)))}: {err}") from None
        point = {k: _canonical(sc, k) for k in keys}
        key = point_key(point)
        if key in seen:
            raise ValueError(f"grid has the point {_describe(point)} twice: remove the "
                             f"duplicate value")
        seen.add(key)
        entry = {"point": point, "key": key}
        if theory:
            entry["seed"] = None
        else:
            entry["seed"] = point_seed(root, point)
            sc = sc.replace(**{"run.seed": entry["seed"]})
        entry["scenario"] = sc.to_dict()
        points.append(entry)
    return points


# --------------------------------------------------------------------------
# what runs on a worker
# --------------------------------------------------------------------------
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
    from qchannel import theory

    ch = scenario.channel
    try:
        eta = theory.channel_transmittance(ch.length_km, ch.attenuation_db_per_km,
                                           ch.extra_loss_db)
        v = float(theory.plob_bound(eta))
    except (AttributeError, ValueError, ZeroDivisionError):
        return None
    return v if math.isfinite(v) else None


def run_point(task):
    """Run one sweep point (a plain dict from :func:`expand`); returns a
    plain dict of scalars.  Top-level and picklable for any executor."""
    from qchannel.scenario import Scenario

    sc = Scenario.from_dict(task["scenario"])
    if task["mode"] == "theory":
        from qchannel import theory

        d = theory.expect(sc, decoy=task["decoy"])
        return _flatten(d, skip=("intensities",))
    from qchannel.runner import simulate

    d = simulate(sc).to_dict()
    row = {k: d.get(k) for k in MC_FIELDS}
    row["plob_per_pulse"] = _plob(sc)
    for k, v in _flatten(d, skip=("scenario",)).items():
        row.setdefault(k, v)
    return row


def _worker_init():
    """Local pool workers die with their parent, the driver (Linux), so a
    killed driver leaves no orphans burning cores."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
            if os.getppid() == 1:  # parent already gone
                os._exit(1)
        except Exception:  # pragma: no cover - best effort
            pass


# --------------------------------------------------------------------------
# executors
# --------------------------------------------------------------------------
class SerialExecutor(cf.Executor):
    """Runs each call at submit time in this process (debugging, theory mode)."""

    def submit(self, fn, /, *args, **kwargs):
        f = cf.Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: B902 - stored in the future
            f.set_exception(err)
        return f


def local_pool(workers=None):
    """A process pool on this machine, ``workers`` processes (default: one
    per core).  Workers are started with 'spawn', never 'fork' (safe in
    programs that hold threads, e.g. a dask client), as direct children of
    the driver, and on Linux they are killed when the driver dies
    (PR_SET_PDEATHSIG): a killed driver leaves no orphans.  ('forkserver'
    would make the fork server their parent, and it stays alive as long as
    they do.)"""
    import multiprocessing as mp

    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, Integral) or not 1 <= workers <= 4096:
        raise ValueError(f"workers = {workers!r} must be an integer in [1, 4096]")
    return cf.ProcessPoolExecutor(max_workers=int(workers), mp_context=mp.get_context("spawn"),
                                  initializer=_worker_init)


def make_executor(spec):
    """An executor from a spec string: ``serial``, ``local``, ``local:N``,
    ``dask:ADDRESS`` (a running scheduler, e.g. ``dask:tcp://host:8786`` or
    ``dask:scheduler.json``), ``mpi`` (needs ``mpiexec -n K python -m
    mpi4py.futures ...``).  Returns ``(executor, close)``."""
    if not isinstance(spec, str):
        raise ValueError(f"executor = {spec!r} must be an Executor or one of "
                         f"serial, local, local:N, dask:ADDRESS, mpi")
    kind, _, arg = spec.partition(":")
    if kind == "serial" and not arg:
        return SerialExecutor(), lambda: None
    if kind == "local":
        n = None
        if arg:
            try:
                n = int(arg)
            except ValueError:
                raise ValueError(f"executor = {spec!r}: N in local:N must be an integer") from None
        ex = local_pool(n)
        return ex, lambda: ex.shutdown(wait=True, cancel_futures=True)
    if kind == "dask":
        if not arg:
            raise ValueError("executor = 'dask' needs a scheduler: dask:ADDRESS or "
                             "dask:scheduler.json")
        try:
            from dask.distributed import Client
        except ImportError:
            raise ValueError("executor dask:... needs dask.distributed: "
                             "pip install 'dask[distributed]'") from None
        client = (Client(scheduler_file=arg) if arg.endswith(".json") and os.path.exists(arg)
                  else Client(arg))
        return client.get_executor(), client.close
    if kind == "mpi" and not arg:
        try:
            from mpi4py.futures import MPIPoolExecutor
        except ImportError:
            raise ValueError("executor mpi needs mpi4py: pip install mpi4py") from None
        ex = MPIPoolExecutor()
        return ex, lambda: ex.shutdown(wait=True)
    raise ValueError(f"executor = {spec!r} must be one of serial, local, local:N, "
                     f"dask:ADDRESS, mpi")


def _window(ex):
    """How many points to keep in flight: enough to keep every worker busy,
    few enough that a pool breaking takes few points with it."""
    if isinstance(ex, SerialExecutor):
        return 1
    n = getattr(ex, "_max_workers", None)
    if isinstance(n, int) and n > 0:
        return 2 * n
    return 100_000


def _hint(err):
    if type(err).__name__ == "BrokenProcessPool":
        return ("; workers of a local pool die at start when the calling script lacks an "
                "'if __name__ == \"__main__\":' guard")
    return ""


def _worker_lost(err):
    return any(c.__name__ in WORKER_LOST for c in type(err).__mro__)


def _replacement(ex):
    """A fresh pool like ``ex`` if ``ex`` is a broken local process pool."""
    if isinstance(ex, cf.ProcessPoolExecutor) and getattr(ex, "_broken", False):
        return cf.ProcessPoolExecutor(max_workers=ex._max_workers, mp_context=ex._mp_context,
                                      initializer=_worker_init)
    return None


# --------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------
class _SimpleBar:
    def __init__(self, total, initial, stream):
        self.total, self.n, self.stream = total, initial, stream
        self.start, self.start_n, self.last = time.monotonic(), initial, 0.0
        self._draw()

    def update(self, k=1):
        self.n += k
        now = time.monotonic()
        if now - self.last >= 0.2 or self.n >= self.total:
            self.last = now
            self._draw()

    def _draw(self):
        frac = self.n / self.total if self.total else 1.0
        done = self.n - self.start_n
        el = time.monotonic() - self.start
        eta = el * (self.total - self.n) / done if done else float("nan")
        bar = "#" * int(30 * frac)
        self.stream.write(f"\rsweep [{bar:<30}] {self.n}/{self.total} points  "
                          f"{el:6.1f} s  ETA {eta:6.1f} s")
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


class _Progress:
    def __init__(self, progress, total, initial):
        self.fn, self.bar = None, None
        if callable(progress) and not isinstance(progress, bool):
            self.fn = progress
        elif progress or (progress is None and sys.stderr.isatty()):
            try:
                from tqdm import tqdm

                try:  # a terminal that reports no width (some batch consoles): 80 columns
                    width = os.get_terminal_size(sys.stderr.fileno()).columns
                except (OSError, ValueError):
                    width = 0
                self.bar = tqdm(total=total, initial=initial, unit="pt", desc="sweep",
                                file=sys.stderr, dynamic_ncols=width > 0,
                                ncols=None if width > 0 else 80,
                                nrows=None if width > 0 else 24)
            except ImportError:
                self.bar = _SimpleBar(total, initial, sys.stderr)
        self.total, self.n = total, initial
        if self.fn:
            self.fn(self.n, self.total)

    def update(self):
        self.n += 1
        if self.bar is not None:
            self.bar.update(1)
        if self.fn:
            self.fn(self.n, self.total)

    def close(self):
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------
# storage
# --------------------------------------------------------------------------
def _atomic_write_bytes(path, data):
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, f".tmp-{os.path.basename(path)}-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Store:
    """Finished points of one sweep: part files in ``out + ".parts/"`` and
    the consolidated Parquet file ``out``.  Only the driver touches them."""

    def __init__(self, out, meta):
        self.out = os.fspath(out)
        self.parts = self.out + ".parts"
        self.meta = meta

    def exists(self):
        return os.path.exists(self.out) or os.path.isdir(self.parts)

    def _check_meta(self, found, where):
        want = {k: v for k, v in self.meta.items() if k != "grid_keys"}
        got = {k: v for k, v in found.items() if k != "grid_keys"}
        if json.loads(json.dumps(want)) != got:
            diff = sorted(k for k in set(want) | set(got) if json.loads(json.dumps(want.get(k))) != got.get(k))
            raise ValueError(f"{where} holds a different sweep (differs in {', '.join(diff)}): "
                             f"use another out file or remove it")

    def load(self):
        """Rows already finished: {point key: row}."""
        rows = {}
        if os.path.exists(self.out):
            import pyarrow.parquet as pq

            try:
                table = pq.read_table(self.out)
            except Exception as err:
                raise ValueError(f"{self.out} is not a readable Parquet file: {err}") from None
            raw = (table.schema.metadata or {}).get(META_KEY)
            if raw is None or "point_key" not in table.column_names:
                raise ValueError(f"{self.out} was not written by qchannel sweep")
            self._check_meta(json.loads(raw), self.out)
            for row in table.to_pylist():
                rows[row["point_key"]] = row
        if os.path.isdir(self.parts):
            mpath = os.path.join(self.parts, "sweep.json")
            if os.path.exists(mpath):
                with open(mpath) as f:
                    self._check_meta(json.load(f), self.parts)
            for name in os.listdir(self.parts):
                path = os.path.join(self.parts, name)
                if name.startswith(".tmp-"):
                    os.unlink(path)  # a write cut short by a kill
                    continue
                if not name.endswith(".json") or name == "sweep.json":
                    continue
                try:
                    with open(path) as f:
                        part = json.load(f)
                    rows[part["key"]] = part["row"]
                except (OSError, ValueError, KeyError, TypeError):
                    os.unlink(path)  # unreadable (e.g. a crash of the node): recompute
        return rows

    def begin(self):
        os.makedirs(self.parts, exist_ok=True)
        _atomic_write_bytes(os.path.join(self.parts, "sweep.json"),
                            json.dumps(self.meta, indent=1).encode())

    def put(self, key, row):
        data = json.dumps({"key": key, "row": row}, separators=(",", ":")).encode()
        _atomic_write_bytes(os.path.join(self.parts, _key_hash(key) + ".json"), data)

    def finish(self, df):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=False)
        md = dict(table.schema.metadata or {})
        md[META_KEY] = json.dumps(self.meta).encode()
        table = table.replace_schema_metadata(md)
        d = os.path.dirname(os.path.abspath(self.out))
        tmp = os.path.join(d, f".tmp-{os.path.basename(self.out)}-{os.getpid()}")
        pq.write_table(table, tmp)
        os.replace(tmp, self.out)
        if os.path.isdir(self.parts):
            import shutil

            shutil.rmtree(self.parts, ignore_errors=True)


def read_meta(path):
    """The sweep description stored in a result file (mode, seed, scenario, grid keys)."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except Exception as err:
        raise ValueError(f"{path} is not a readable Parquet file: {err}") from None
    raw = (schema.metadata or {}).get(META_KEY)
    return None if raw is None else json.loads(raw)


# --------------------------------------------------------------------------
# the sweep
# --------------------------------------------------------------------------
def _table(points, rows):
    import pandas as pd

    records = []
    for p in points:
        rec = dict(p["point"])
        res = rows[p["key"]]
        for k, v in res.items():
            if k not in rec and k != "point_key" and k not in p["point"]:
                rec[k] = v
        rec["point_key"] = p["key"]
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    if "seed" in df.columns:
        df["seed"] = df["seed"].astype("uint64")
    return df


def sweep(scenario, grid, seed=None, executor=None, out=None, resume=False, theory=False,
          pulses=None, progress=None, decoy="infinite", max_retries=3):
    """Run ``scenario`` at every point of ``grid``; returns a pandas DataFrame,
    one row per point in grid order: the grid columns, the result's scalar
    fields (nested ones dotted: ``ec.leaked_bits``, ``intensities[0].gain``,
    ``finite_key.s_x1``), ``plob_per_pulse``, ``seed`` (Monte Carlo) and
    ``point_key``.

    ``theory=True`` evaluates ``theory.expect(scenario, decoy)`` instead.
    ``executor``: a ``concurrent.futures.Executor`` (not shut down here) or a
    spec string for :func:`make_executor`; ``None`` means a local process
    pool with one worker per core (Monte Carlo) or ``"serial"`` (theory, whose
    points take ~1 ms, less than a round trip to a worker).
    ``progress``: None (a bar on a terminal), False, True, or ``f(done, total)``.
    """
    if decoy not in DECOYS:
        raise ValueError(f"decoy = {decoy!r} must be one of {', '.join(map(repr, DECOYS))}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, Integral) or max_retries < 0:
        raise ValueError(f"max_retries = {max_retries!r} must be an integer >= 0")
    theory = bool(theory)
    if theory and getattr(scenario, "is_free_space", False):
        raise ValueError("--theory covers fiber links: the closed forms of a free-space pass "
                         "are drawn per time bin by qchannel run --plot")
    if pulses is not None and not theory:
        if isinstance(pulses, bool) or not isinstance(pulses, Real):
            raise ValueError(f"pulses = {pulses!r} must be an integer >= 1")
    points = expand(scenario, grid, seed=seed, pulses=None if theory else pulses, theory=theory)
    from qchannel.rng import check_seed

    root = None if theory else check_seed(scenario.run.seed if seed is None else seed, "seed")
    meta = {
        "format": FORMAT,
        "mode": "theory" if theory else "mc",
        "decoy": decoy if theory else None,
        "seed": root,
        "pulses": None if theory else (int(pulses) if pulses is not None else None),
        "scenario": scenario.to_dict(),
        "grid_keys": [k for k in grid],
    }
    store = None
    rows = {}
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
    todo = [i for i, p in enumerate(points) if p["key"] not in rows]
    mode = meta["mode"]
    tasks = {i: {"scenario": points[i]["scenario"], "mode": mode, "decoy": decoy} for i in todo}

    close = None
    if executor is None:
        executor = "serial" if theory else "local"
    if isinstance(executor, str):
        executor, close = make_executor(executor)
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
    finally:
        bar.close()
        for f in pending:
            f.cancel()
        for ex in owned:
            ex.shutdown(wait=True, cancel_futures=True)
        if close is not None:
            close()
    df = _table(points, rows)
    if store is not None:
        store.finish(df)
    return df


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------
def _scalar(text, key):
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    if not t:
        raise ValueError(f"--grid {key}: empty value")
    return t


def parse_values(text, key="KEY"):
    """Values of one ``--grid KEY=...``:

    * ``start:stop:step`` - ``start, start+step, ...`` up to and including
      ``stop`` when it lands on the grid (``0:200:50`` -> 0, 50, 100, 150, 200;
      ``0:10:4`` -> 0, 4, 8); integers if all three are integers;
    * ``v1,v2,...`` - a list (numbers, true/false, or strings);
    * ``[...]`` - a JSON list, for list-valued keys:
      ``source.intensities=[[0.5,0.1,0.0002],[0.6,0.1,0.0002]]``.
    """
    text = text.strip()
    if text.startswith("["):
        try:
            values = json.loads(text)
        except ValueError as err:
            raise ValueError(f"--grid {key}: {text!r} is not a JSON list ({err})") from None
        if not isinstance(values, list):
            raise ValueError(f"--grid {key}: {text!r} is not a JSON list")
        return values
    if text.count(":") == 2 and "," not in text:
        parts = [_scalar(p, key) for p in text.split(":")]
        if not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in parts):
            raise ValueError(f"--grid {key}={text}: start:stop:step must be three numbers")
        start, stop, step = parts
        if step == 0 or not all(math.isfinite(p) for p in parts):
            raise ValueError(f"--grid {key}={text}: step must be a non-zero finite number")
        if (stop - start) * step < 0:
            raise ValueError(f"--grid {key}={text}: step goes away from stop")
        n = int(math.floor((stop - start) / step * (1 + 1e-12) + 1e-9)) + 1
        if n > MAX_RANGE_POINTS:
            raise ValueError(f"--grid {key}={text}: {n} values, more than {MAX_RANGE_POINTS}")
        if all(isinstance(p, int) for p in parts):
            return [start + i * step for i in range(n)]
        return [float(f"{start + i * step:.12g}") for i in range(n)]
    return [_scalar(p, key) for p in text.split(",")]


def parse_grid(specs):
    """``["KEY=VALUES", ...]`` -> an ordered grid dict."""
    grid = {}
    for spec in specs or ():
        key, eq, text = spec.partition("=")
        key = key.strip()
        if not eq or not key or not text.strip():
            raise ValueError(f"--grid {spec!r} must be KEY=start:stop:step or KEY=v1,v2,...")
        if key in grid:
            raise ValueError(f"--grid {key} is given twice")
        grid[key] = parse_values(text, key)
    if not grid:
        raise ValueError("give at least one --grid KEY=VALUES")
    return grid


def _cmd_sweep(args):
    from qchannel.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    grid = parse_grid(args.grid)
    executor = args.executor
    if executor is None:
        executor = "serial" if args.theory else "local"
    t0 = time.monotonic()
    df = sweep(scenario, grid, seed=args.seed, executor=executor, out=args.out,
               resume=args.resume, theory=args.theory, pulses=args.pulses, decoy=args.decoy,
               max_retries=args.retries)
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
    s.add_argument("--executor", metavar="SPEC", default=None,
                   help="local (default for Monte Carlo: one worker per core), local:N, serial "
                        "(default for --theory), dask:ADDRESS or dask:scheduler.json, mpi")
    s.add_argument("--out", required=True, help="result file (Parquet)")
    s.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    s.add_argument("--seed", type=parse_number, help="root seed (default: [run] seed)")
    s.add_argument("--pulses", type=parse_number, help="pulses per point (default: [run] pulses)")
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
