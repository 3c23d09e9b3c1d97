"""Sweep grids: dotted scenario keys -> lists of values, their points, the
seed of each point, and the command-line value syntax."""
import itertools
import json
import math

MAX_POINTS = 10**7
MAX_RANGE_POINTS = 10**6


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
    ValueError naming the key.  Whether a key exists is the job's schema's
    call: :func:`expand` validates every point through it."""
    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid must be a non-empty mapping of dotted keys to lists of values, "
                         "e.g. {'channel.length_km': [0, 50, 100]}")
    items = []
    n = 1
    for key, values in grid.items():
        if not isinstance(key, str) or "." not in key:
            raise ValueError(f"grid key {key!r} must be a dotted scenario key 'section.key' "
                             f"(e.g. channel.length_km)")
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
    """The validated value of a key in a point's scenario (``1`` and ``1.0``
    are one point where the schema stores floats)."""
    return _plain(scenario.value(key))


def point_key(point):
    """The identity of a point: JSON of its sorted ``[key, value]`` pairs."""
    return json.dumps(sorted([k, _jsonable(v)] for k, v in point.items()), separators=(",", ":"))


def point_seed(root_seed, point):
    """The seed of a point: from the root seed and the point's sorted
    (dotted key, value) pairs, never its position."""
    from qchannel.rng import Purpose, check_seed, derive_seed

    pairs = sorted((k, _hashable(v)) for k, v in point.items())
    return derive_seed(check_seed(root_seed, "seed"), Purpose.SWEEP, *pairs)


def _describe(point):
    return ", ".join(f"{k}={v}" for k, v in point.items())


def _check_point(sc, point):
    """The job's checks beyond the schema (memory, passes) for one Monte
    Carlo point, before any point runs."""
    from qchannel import jobs

    job = jobs.job_for(sc)
    if job.check is not None:
        try:
            job.check(sc)
        except ValueError as err:
            raise ValueError(f"grid point {_describe(point)}: {err}") from None


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
            _check_point(sc, point)
        entry["scenario"] = sc.to_dict()
        points.append(entry)
    return points


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
