"""Sphinx extension: one page per registered qchannel job, generated from the
job registry (``qchannel.jobs.names()`` / ``get()``) at every build.

Nothing about a job is written by hand here.  For each job the page holds
its summary, its module docstring (autodoc), the scenario examples in
``examples/`` that name it, and one table per scenario section whose rows
come from the schema itself:

* the sections and keys are those the schema's own validation lists when it
  is given an unknown section or key (the "allowed sections: ..." and
  "allowed keys: ..." of its ValueError), so a key the schema accepts is a
  row and nothing else is;
* the value is the one of ``job.schema.default()`` (or, for a section the
  default scenario has not, of the job's first example that has it); a key
  the default scenario leaves out shows the value the parsed configuration
  holds for it, but only after checking that setting the key to that value
  changes nothing in the parsed scenario (otherwise it shows a dash);
* "allowed" is the schema's own error message for a value of the wrong type
  (and, where that message names no range, an out-of-range one), fed through
  ``scenario.replace(**{key: bad})``.

Section variants (a ``[channel]`` of type ``"satellite-downlink"`` accepts
other keys than a fiber) get a table each, taken from the examples.
The pages go to ``jobs/generated/`` (not versioned).
"""
from __future__ import annotations

import dataclasses
import math
import re
import types
from pathlib import Path

PROBE = "__docs_probe__"
BIG = 1e300
OUT_DIR = Path("jobs") / "generated"


# --------------------------------------------------------------------------
# probing the schema
# --------------------------------------------------------------------------
def _error(scenario, key, value):
    """The schema's ValueError message for ``key = value`` (None: accepted)."""
    try:
        scenario.replace(**{key: value})
    except ValueError as err:
        return str(err)
    except Exception as err:   # not the ValueError the project promises: show it as it is
        return f"{key}: the schema raised {type(err).__name__}: {err}"
    return None


def _listed(msg, what):
    """The names after "allowed <what>: " in a validation message."""
    m = msg and re.search(rf"allowed {what}: (.*)$", msg)
    return [s.strip() for s in m.group(1).split(",")] if m else None


def _plain(obj, depth=0, tables=None):
    """A parsed configuration as plain data, to compare two parses (a copy
    of the scenario's own tables inside it, kept for its report, is left
    out: it differs whenever a key is written out, even with its default)."""
    if depth > 12:
        return repr(obj)
    if tables is not None and isinstance(obj, dict) and (
            obj == tables or obj.get("protocol") == tables.get("protocol")):
        return "<the scenario's tables>"
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name), depth + 1, tables) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _plain(v, depth + 1, tables) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, depth + 1, tables) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return "nan"
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if callable(obj) and hasattr(obj, "__qualname__"):
        return obj.__qualname__
    if hasattr(obj, "__array__"):
        return _plain(list(obj), depth + 1, tables)
    if hasattr(obj, "__dict__"):
        return {k: _plain(v, depth + 1, tables) for k, v in vars(obj).items()}
    return repr(obj)


def _config_leaves(obj, path=(), out=None, depth=0):
    """(path, value) of every scalar or list in a parsed configuration."""
    out = [] if out is None else out
    if depth > 8:
        return out
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        items = [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    elif isinstance(obj, types.SimpleNamespace):
        items = list(vars(obj).items())
    elif isinstance(obj, dict):
        items = list(obj.items())
    elif hasattr(obj, "to_dict") and not isinstance(obj, type):
        try:
            items = list(obj.to_dict().items())
        except Exception:   # a to_dict that needs arguments: not a configuration
            items = []
    else:
        out.append((path, obj))
        return out
    for k, v in items:
        _config_leaves(v, path + (str(k),), out, depth + 1)
    return out


def _fingerprint(scenario):
    tables = scenario.to_dict()
    return (_plain(getattr(scenario, "config", scenario), tables=tables),
            _plain(scenario.run, tables=tables))


def _toml_value(value):
    if isinstance(value, tuple):
        return [_toml_value(v) for v in value]
    return value


def _implicit_default(scenario, key, leaves, fingerprint):
    """The value a key left out of the scenario takes: a candidate from the
    parsed configuration (same name, longest matching path), kept only if
    setting the key to it leaves the parsed scenario unchanged."""
    parts = [p.split("[")[0] for p in key.split(".")]
    scored = []
    for path, value in leaves:
        if not path or path[-1] != parts[-1] or value is None:
            continue
        score = 0
        for a, b in zip(reversed(path), reversed(parts)):
            if a != b:
                break
            score += 1
        scored.append((-score, -int(parts[0] in path), len(path), path, value))
    scored.sort(key=lambda t: t[:3])
    tried = set()
    for *_, value in scored:
        value = _toml_value(value)
        if repr(value) in tried:
            continue
        tried.add(repr(value))
        try:
            if _fingerprint(scenario.replace(**{key: value})) == fingerprint:
                return value, True
        except (ValueError, TypeError):
            continue
    return None, False


_MSG = re.compile(r"^(?P<key>\S+?) = (?P<value>.+?) (?P<rule>(?:must|is out of range|is not) .*)$")


def _rule(key, msg):
    """The part of a validation message that states what is allowed."""
    if msg is None:
        return None
    m = _MSG.match(msg)
    if m and m.group("key") == key:
        return m.group("rule").removeprefix("is out of range: ")
    if m and m.group("key").startswith(key + "["):
        return f"each entry {m.group('rule').removeprefix('is out of range: ')}"
    last = key.rsplit(".", 1)[-1]
    if m and m.group("key").rsplit(".", 1)[-1] == last:   # checked under another name
        return f"{m.group('rule').removeprefix('is out of range: ')} (as {m.group('key')})"
    if key in msg or last in msg:
        return msg
    return None


def _allowed(scenario, key, value):
    """What the schema accepts for a key, in its own words."""
    rules = []
    for bad in _probes(value):
        rule = _rule(key, _error(scenario, key, bad))
        if rule and rule not in rules:
            rules.append(rule)
        if rule and re.search(r"in [\[(]|>=|<=|> |< |one of", rule):
            break
    return rules


def _probes(value):
    yield PROBE                                    # wrong type: the message names the range
    if isinstance(value, bool):
        return
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float))
                                                          for v in value):
        yield [-BIG] * len(value)
        yield [BIG] * len(value)
    elif isinstance(value, (int, float)) or value is None:
        yield -BIG
        yield BIG


def _type_name(value, rules):
    text = " ".join(rules)
    if "must be an integer" in text:
        return "integer"
    if "must be a number" in text:
        return "number"
    if "must be one of" in text or isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return ""


def _section_keys(scenario, prefix):
    """The keys the schema allows under ``prefix`` (None: not a table)."""
    return _listed(_error(scenario, f"{prefix}.{PROBE}", 1), "keys")


def _walk(scenario, prefix, tables, rows, leaves, fingerprint):
    """Rows (key, value, verified, type, rules) for every key under ``prefix``."""
    from qchannel.scenario import get_dotted

    keys = _section_keys(scenario, prefix)
    if keys is None:
        node = get_dotted(tables, prefix)
        keys = sorted(node) if isinstance(node, dict) else []
    for name in keys:
        key = f"{prefix}.{name}"
        value = get_dotted(tables, key)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            rows.append((key, f"{len(value)} tables", True, "list of tables", []))
            _walk(scenario, f"{key}[0]", tables, rows, leaves, fingerprint)
            continue
        if isinstance(value, dict) or (value is None and _section_keys(scenario, key)):
            _walk(scenario, key, tables, rows, leaves, fingerprint)
            continue
        given = value is not None
        if not given:
            value, given = _implicit_default(scenario, key, leaves, fingerprint)
        rules = _allowed(scenario, key, value)
        rows.append((key, value, given, _type_name(value, rules), rules))
    return rows


# --------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------
def _literal(value):
    text = repr(value) if isinstance(value, str) else str(value).replace("'", '"')
    text = text.replace("`", "'")
    return f"``{text}``" if text else ""


def _cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(rows):
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 28 18 10 44", "",
             "   * - key", "     - value", "     - type", "     - allowed (the schema's message)"]
    for key, value, given, typ, rules in rows:
        shown = value if typ == "list of tables" else _literal(value) if given else "--"
        rules = [r.replace(repr(PROBE), "<a string>") for r in rules]
        allowed = "; ".join(_cell(r).replace("*", "\\*").replace("`", "'") for r in rules)
        lines += [f"   * - ``{key}``", f"     - {shown}", f"     - {typ}",
                  f"     - {allowed}"]
    return lines + [""]


def _examples_of(job, root):
    """(label, scenario) of the examples that name the job, then of those
    that name another job but are valid scenarios of this one once their
    ``protocol.type`` is changed (a [satellite] section shown for bbm92
    from an e91 example)."""
    from qchannel import load_scenario

    own, adapted = [], []
    for path in sorted((root / "examples").glob("*.toml")):
        try:
            sc = load_scenario(path)
        except ValueError:
            continue
        if sc.job == job.name:
            own.append((f"``examples/{path.name}``", sc))
            continue
        tables = sc.to_dict()
        tables.setdefault("protocol", {})["type"] = job.name
        try:
            adapted.append((f"``examples/{path.name}`` with ``protocol.type = \"{job.name}\"``",
                            job.schema.from_dict(tables)))
        except (ValueError, TypeError):
            continue
    return own, adapted


def _first_comment(path):
    """The first sentence of an example file's opening comment, as plain text."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line.startswith("#") or not line.lstrip("#").strip():
            if words or not line.startswith("#"):
                break
            continue
        words.append(line.lstrip("#").strip())
    text = " ".join(words)
    m = re.match(r"(.+?[a-z0-9)\]]{2}[.:;])(\s|$)", text)   # not at "J." or "S.-K."
    text = m.group(1).rstrip(":;") if m else text
    if len(text) > 240:
        text = text[:240].rsplit(" ", 1)[0] + " ..."
    return _cell(text).replace("\\", "\\\\").replace("*", "\\*").replace("`", "'").replace("_", "\\_")


def _title(text, char):
    return [text, char * len(text), ""]


def job_page(job, root):
    """The reStructuredText page of one job."""
    import inspect

    module = inspect.getmodule(job.run).__name__
    bases = []
    try:
        bases.append(("``schema.default()``", job.schema.default()))
    except (ValueError, TypeError, AttributeError):
        pass
    examples, adapted = _examples_of(job, root)
    bases += examples + adapted
    lines = _title(f"{job.name}", "=")
    lines += [job.summary[:1].upper() + job.summary[1:] + ".", "",
              f"``[protocol] type = \"{job.name}\"``; module :mod:`{module}`, "
              f"schema :class:`{job.schema.__module__}.{job.schema.__qualname__}`.", ""]
    lines += [f".. automodule:: {module}", "   :no-members:", "   :no-index:", ""]
    lines += _title("Examples", "-")
    if examples:
        for name, sc in examples:
            about = _first_comment(root / name.strip("`"))
            lines.append(f"* {name}" + (f": {about}" if about else ""))
        first = examples[0][0].strip("`")
        lines += ["", f"Run one with ``qchannel run {first}``, its analytic twin with "
                      f"``qchannel theory {first}``.", ""]
    else:
        lines += ["No scenario in ``examples/`` names this job yet.", ""]
    caps = [("analytic twin", job.theory is not None), ("optimiser", job.optimize is not None),
            ("writes keys", job.writes_keys)]
    lines += [f"Capabilities: {', '.join(n for n, ok in caps if ok) or 'Monte Carlo only'}.",
              f"Sweep headline fields: {', '.join(f'``{h}``' for h in job.headline) or '--'}.",
              ""]
    lines += _title("Scenario keys", "-")
    lines += ["Generated from the schema at build time: the keys are those its validation "
              "allows, the value is the one of the scenario named above each table (a dash: "
              "the key is optional and unset), and \"allowed\" is the schema's own error "
              "message for a wrong value.", ""]
    if not bases:
        return lines + ["(no default scenario and no example to read the keys from)", ""]
    sections = _listed(_error(bases[0][1], f"{PROBE}.x", 1), "sections")
    if sections is None:
        sections = list(bases[0][1].to_dict())
    for _, sc in bases:   # optional sections the message does not list ([eve])
        sections += [s for s in sc.to_dict() if s not in sections]
    for section in sections:
        for label, sc, rows in _section_tables(section, bases):
            tables = sc.to_dict()
            kind = tables.get(section, {}).get("type") if isinstance(tables.get(section),
                                                                     dict) else None
            head = f"[{section}]" + (f" with type = \"{kind}\"" if kind and len(bases) > 1
                                     and section != "protocol" else "")
            lines += _title(head, "~")
            lines += [f"Values from {label}" + ("" if section in tables else
                      f" (which has no [{section}]: the values the schema fills in)") + ".", ""]
            lines += _table(rows)
    return lines


def _rows(sc, section):
    leaves = _config_leaves(getattr(sc, "config", sc))
    if hasattr(sc, "config"):          # a table scenario: its [run] is parsed apart
        leaves += _config_leaves(sc.run, ("run",))
    return _walk(sc, section, sc.to_dict(), [], leaves, _fingerprint(sc))


def _section_tables(section, bases):
    """(label, scenario, rows) per variant of a section.  The default
    scenario comes first where the schema fills the section in by itself
    (most keys then validate alone); otherwise the first scenario that has
    the section (an [eve] needs its attack before any other key is checked).
    Scenarios whose section allows other keys (another channel type) add a
    table each."""
    out, seen = [], set()
    having = [(label, sc) for label, sc in bases if section in sc.to_dict()]
    first_label, first = bases[0]
    if section not in first.to_dict():
        rows = _rows(first, section)
        if rows and (not having or sum(bool(r[4]) for r in rows) >= len(rows) / 2):
            out.append((first_label, first, rows))
            seen.add(tuple(_section_keys(first, section) or ()))
    for label, sc in having:
        signature = tuple(_section_keys(sc, section) or ())
        if signature in seen:
            continue
        seen.add(signature)
        rows = _rows(sc, section)
        if rows:
            out.append((label, sc, rows))
    if not out and bases:
        rows = _rows(first, section)
        if rows:
            out.append((first_label, first, rows))
    return out


def generate(app):
    from sphinx.util import logging   # here: the tests import this module without Sphinx

    from qchannel import jobs

    logger = logging.getLogger(__name__)

    src = Path(app.srcdir)
    root = src.parent
    out = src / OUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    # the default job first, then by name (registration order depends on imports)
    names = sorted(jobs.names(), key=lambda n: (n != jobs.DEFAULT_JOB, n))
    wanted = {f"{n}.rst" for n in names} | {"index.rst"}
    for old in out.glob("*.rst"):
        if old.name not in wanted:
            old.unlink()
    for name in names:
        try:
            text = "\n".join(job_page(jobs.get(name), root)) + "\n"
        except Exception as err:   # one job's page must not hide the others': warn (-W fails)
            logger.warning(f"qchannel_jobs: the page of job {name!r} could not be generated: "
                           f"{type(err).__name__}: {err}")
            text = "\n".join(_title(name, "=") + [jobs.get(name).summary, "",
                              f"(page generation failed: {type(err).__name__})", ""])
        _write(out / f"{name}.rst", text)
    index = _title("Job types", "=") + [
        "Every scenario names its job in ``[protocol] type``. These pages are generated "
        "from the job registry (:func:`qchannel.jobs.names`), so a newly registered job "
        "gets its page, and its key table, with no edit here.", "",
        ".. list-table::", "   :header-rows: 1", "", "   * - job", "     - what it runs"]
    for name in names:
        index += [f"   * - :doc:`{name}`", f"     - {jobs.get(name).summary}"]
    index += ["", ".. toctree::", "   :hidden:", ""] + [f"   {n}" for n in names]
    _write(out / "index.rst", "\n".join(index) + "\n")


def _write(path, text):
    # rewrite only on change, so that Sphinx does not rebuild every page
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def setup(app):
    app.connect("builder-inited", generate)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
