"""Every example file through the job registry: it loads with
``qchannel.load_scenario`` (its whole schema, combined constraints and the
job's checks before the work), and a tiny version of it runs through
``qchannel.run_scenario`` and, where the job has one, its analytic twin."""
import glob
import json
import math
import os

import pytest

import qchannel
from qchannel import jobs
from qchannel.scenario import read_toml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.toml")))


def tiny(sc):
    """The same scenario made small enough for a test (the job's own ``tiny``)."""
    job = jobs.job_for(sc)
    assert job.tiny is not None, f"job {job.name!r} has no tiny version: give its Job one"
    return job.tiny(sc)


def test_there_are_examples_of_every_job():
    assert {qchannel.load_scenario(p).job for p in EXAMPLES} == set(jobs.names())


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_example_loads_and_a_tiny_version_runs(path):
    sc = qchannel.load_scenario(path)
    tables = read_toml(path)
    assert sc.job == jobs.job_name(tables)            # the job [protocol] type names
    assert type(sc).from_dict(sc.to_dict()) == sc     # the loaded scenario round-trips
    job = jobs.job_for(sc)
    small = tiny(sc)
    d = qchannel.run_scenario(small).to_dict()
    text = json.dumps(d, allow_nan=True)              # plain data, JSON-able
    assert json.loads(text)
    missing = [k for k in job.headline if k not in d]
    assert not missing, f"{job.name} result lacks its headline fields {missing}"
    assert job.report(d)                              # the text report formats it
    for k in ("aborted", "abort_reason"):
        if k in job.headline:
            assert (d["aborted"] is True) == bool(d["abort_reason"])
    if job.theory is not None and getattr(small, "eve", None) is not None:
        with pytest.raises(ValueError, match="eve"):    # no closed form for the attack
            job.theory(small)
    elif job.theory is not None:
        th = job.theory(small)
        json.dumps(th)
        numbers = [v for v in th.values() if isinstance(v, float)]
        assert numbers and all(math.isfinite(v) or math.isinf(v) for v in numbers)


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_example_passes_its_checks_before_the_work(path):
    """The full-size example passes its job's checks (memory, passes) on a
    machine with 2 GiB free: the examples are runnable as written."""
    from qchannel.jobs import memory

    sc = qchannel.load_scenario(path)
    job = jobs.job_for(sc)
    if job.check is None:
        return
    orig = memory.available_bytes
    try:
        memory.available_bytes = lambda: 2 * 2**30
        job.check(sc)
    finally:
        memory.available_bytes = orig
