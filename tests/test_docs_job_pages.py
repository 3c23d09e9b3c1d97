"""The docs' job pages (docs/_ext/qchannel_jobs.py) are generated from the
registry and the schemas: every registered job gets a page, every section its
schema allows gets a table, and the key rows say what the schema says."""
import importlib.util
from pathlib import Path

import pytest

from qchannel import jobs

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("qchannel_jobs", ROOT / "docs/_ext/qchannel_jobs.py")
ext = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ext)


@pytest.fixture(scope="module")
def pages():
    return {name: "\n".join(ext.job_page(jobs.get(name), ROOT)) for name in jobs.names()}


def test_every_job_has_a_page_with_every_allowed_section(pages):
    for name, page in pages.items():
        job = jobs.get(name)
        assert job.summary[1:] in page
        sections = ext._listed(ext._error(job.schema.default(), f"{ext.PROBE}.x", 1), "sections")
        assert sections, name
        for section in sections:
            assert f"\n[{section}]" in page, f"{name}: no table for [{section}]"
        assert "``run.seed``" in page, name


def test_key_rows_quote_the_schema():
    page = "\n".join(ext.job_page(jobs.get("decoy-bb84"), ROOT))
    row = page[page.index("   * - ``channel.length_km``"):].splitlines()[:4]
    assert row[1].strip() == "- ``50.0``"
    assert row[2].strip() == "- number"
    assert row[3].strip() == "- must be a number in [0.0, 100000.0]"
    # a key the default scenario leaves out shows the value the schema fills in,
    # only after checking that writing it out changes nothing
    sc = jobs.get("repeater-chain").schema.default()
    rows = ext._rows(sc, "repeater")
    by_key = {r[0]: r for r in rows}
    assert by_key["repeater.swap_prob"][1:3] == (1.0, True)
    assert by_key["repeater.cutoff_s"][2] is False          # unset: no value claimed
    assert sc.replace(**{"repeater.swap_prob": 1.0}).config == sc.config


def test_an_unverifiable_default_is_not_claimed():
    sc = jobs.get("repeater-chain").schema.default()
    fp = ext._fingerprint(sc)
    # a wrong candidate (0.5 for swap_prob) is refused by the check
    value, ok = ext._implicit_default(sc, "repeater.swap_prob",
                                      [(("swap_prob",), 0.5)], fp)
    assert (value, ok) == (None, False)
