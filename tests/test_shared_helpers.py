"""One helper per idea (binary entropy, bit validator, probability lists) and
an import graph without cycles, in which theory never reaches the Monte Carlo."""
import ast
import math
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from qchannel import theory
from qchannel.params import check_bits, check_distribution

PKG = pathlib.Path(__file__).resolve().parents[1] / "qchannel"


def _sources():
    return sorted(PKG.rglob("*.py"))


# ------------------------------------------------------------ binary entropy

def test_one_binary_entropy_definition():
    pattern = re.compile(r"^\s*def (h2|_h2|binary_entropy|_binary_entropy)\(", re.M)
    found = [f"{p.relative_to(PKG.parent)}:{m.group(1)}" for p in _sources()
             for m in pattern.finditer(p.read_text())]
    assert found == ["qchannel/theory/common.py:h2"], found
    from qchannel.protocols import finite_key, repeater
    assert finite_key.binary_entropy is theory.h2 and repeater.binary_entropy is theory.h2


def test_h2_values_and_edges():
    assert theory.h2(0.5) == 1.0 and theory.h2(0.0) == 0.0 and theory.h2(1.0) == 0.0
    assert theory.h2(-0.2) == 0.0 and theory.h2(1.5) == 0.0       # clipped to [0, 1]
    assert math.isnan(theory.h2(float("nan")))
    assert type(theory.h2(0.1)) is float
    for x in (1e-300, 1e-9, 0.01, 0.11, 0.3, 0.75, 1 - 1e-12):
        ref = -x * math.log2(x) - (1 - x) * math.log2(1 - x)
        assert theory.h2(x) == pytest.approx(ref, rel=1e-14, abs=1e-300)
        assert theory.h2(x) == pytest.approx(theory.h2(1 - x), rel=1e-9)


def test_h2_scalar_and_array_give_the_same_bits():
    # one code path: a value's entropy does not depend on how it is passed
    xs = np.concatenate([np.random.default_rng(5).random(2000),
                         10.0 ** np.linspace(-300, 0, 500), [0.0, 1.0, 0.5]])
    vec = theory.h2(xs)
    assert vec.shape == xs.shape
    assert np.array_equal(np.array([theory.h2(float(x)) for x in xs]), vec)
    assert np.array_equal(np.array([theory.h2(np.asarray(x)) for x in xs]), vec)


# ------------------------------------------------------------ bit validator

def test_check_bits_accepts_and_converts():
    u = np.array([0, 1, 1, 0], np.uint8)
    assert check_bits("k", u) is u                      # already right: no copy
    for a in (u.astype(bool), u.astype(np.int64), u.astype(np.int8), [0, 1, 1, 0]):
        out = check_bits("k", a)
        assert out.dtype == np.uint8 and out.flags.c_contiguous and np.array_equal(out, u)
    strided = np.array([0, 9, 1, 9, 1, 9], np.uint8)[::2]
    out = check_bits("k", strided)
    assert out.flags.c_contiguous and np.array_equal(out, [0, 1, 1])


@pytest.mark.parametrize("value, message", [
    (np.array([0, 1, 1, 2], np.int64), r"key_bits\[3\] = 2 is out of range"),
    (np.array([0, 255], np.uint8), r"key_bits\[1\] = 255 is out of range"),
    (np.array([1, -1], np.int8), r"key_bits\[1\] = -1 is out of range"),
    (np.array([0.0, 1.0]), "key_bits has dtype float64"),
    (np.zeros((2, 3), np.uint8), r"key_bits must be a 1-D array .* shape \(2, 3\)"),
    (np.zeros(0, np.uint8), "key_bits must hold at least 1 bit"),
    (np.uint8(1), r"shape \(\)"),
])
def test_check_bits_rejects(value, message):
    with pytest.raises(ValueError, match=message):
        check_bits("key_bits", value)


def test_postprocess_uses_the_one_bit_validator():
    pattern = re.compile(r"^\s*def \w*bits\w*\(name", re.M)
    found = [str(p.relative_to(PKG.parent)) for p in _sources() if pattern.search(p.read_text())]
    assert found == ["qchannel/params.py"], found


# ------------------------------------------------------------ probability lists

def test_check_distribution():
    assert check_distribution("p", [0.25, 0.75], 2, "mu") == (0.25, 0.75)
    with pytest.raises(ValueError, match="p has 3 entries but mu has 2: they must match"):
        check_distribution("p", [0.2, 0.3, 0.5], 2, "mu")
    with pytest.raises(ValueError, match=r"p = \[0.5, 0.6\] must sum to 1"):
        check_distribution("p", [0.5, 0.6], 2, "mu")
    with pytest.raises(ValueError, match=r"p\[1\] = -0.5"):
        check_distribution("p", [0.5, -0.5], 2, "mu")


# ------------------------------------------------------------ import graph

def _module_name(path):
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level_imports(tree, name, is_pkg):
    """Modules imported when the module runs (not inside functions, not under
    ``if TYPE_CHECKING``)."""
    out = []

    def visit(node):
        for ch in ast.iter_child_nodes(node):
            if isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(ch, ast.If) and "TYPE_CHECKING" in ast.dump(ch.test):
                continue
            if isinstance(ch, ast.Import):
                out.extend(a.name for a in ch.names)
            elif isinstance(ch, ast.ImportFrom):
                base = ch.module or ""
                if ch.level:
                    pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = ".".join(pkg[:len(pkg) - ch.level + 1] + ([base] if base else []))
                out.append(base)
                out.extend(f"{base}.{a.name}" for a in ch.names)
            visit(ch)

    visit(tree)
    return out


def test_no_module_level_import_cycle():
    mods = {_module_name(p): p for p in _sources()}
    graph = {}
    for name, path in mods.items():
        targets = set()
        for imp in _module_level_imports(ast.parse(path.read_text()), name,
                                         path.name == "__init__.py"):
            parts = imp.split(".")
            targets.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        # a package and its own submodules import each other by design
        graph[name] = {t for t in targets & mods.keys()
                       if t != name and not t.startswith(name + ".")
                       and not name.startswith(t + ".")}
    state, stack = {}, []

    def dfs(v):
        state[v] = 1
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(w):] + [w]))
            if w not in state:
                dfs(w)
        stack.pop()
        state[v] = 2

    for v in sorted(graph):
        if v not in state:
            dfs(v)


def _loaded_after(module):
    code = (f"import sys, {module}; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('qchannel'))))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=PKG.parent)
    assert res.returncode == 0, res.stderr
    return set(res.stdout.split())


def test_theory_loads_nothing_of_the_monte_carlo():
    loaded = _loaded_after("qchannel.theory")
    assert {m for m in loaded if m not in ("qchannel", "qchannel.params")
            and not m.startswith("qchannel.theory")} == set()


def test_atmosphere_and_fading_do_not_load_the_channel():
    loaded = _loaded_after("qchannel.atmosphere") | _loaded_after("qchannel.fading")
    assert not {"qchannel.freespace", "qchannel.scenario", "qchannel.runner"} & loaded
