"""The examples in the public API's docstrings and in the docs' pages run
as doctests (fast: fixed seeds, small runs).  Each listed object must keep
at least one example, so that deleting them fails here."""
import doctest
from pathlib import Path

import pytest

import qchannel.jobs
import qchannel.postprocess
import qchannel.runner
import qchannel.scenario
import qchannel.sweep
import qchannel.theory.decoy_bb84

ROOT = Path(__file__).resolve().parent.parent
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

OBJECTS = {
    "qchannel.load_scenario": qchannel.scenario.load_scenario,
    "qchannel.simulate": qchannel.runner.simulate,
    "qchannel.run_scenario": qchannel.runner.run_scenario,
    "qchannel.theory.expect": qchannel.theory.decoy_bb84.expect,
    "qchannel.sweep.sweep": qchannel.sweep.sweep,
    "qchannel.postprocess.reconcile": qchannel.postprocess.reconcile,
    "qchannel.jobs.get": qchannel.jobs.get,
}
PAGES = ["docs/concepts.md"]


def _run(test):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test)
    return runner.summarize(verbose=False)


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_docstring_examples(name):
    tests = [t for t in doctest.DocTestFinder(recurse=False).find(OBJECTS[name], name)
             if t.examples]
    assert tests, f"{name} has no example in its docstring"
    for test in tests:
        result = _run(test)
        assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"


@pytest.mark.parametrize("page", PAGES)
def test_docs_page_examples(page):
    path = ROOT / page
    test = doctest.DocTestParser().get_doctest(path.read_text(), {}, page, str(path), 0)
    assert test.examples, f"{page} has no example"
    result = _run(test)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {page} failed"
