"""Geometric gaps read from the transport kernel's cell tables are exactly the
gaps the log gives (floor(log(u) * scale)), so records do not depend on
whether a segment got a table."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qchannel._core import transport as T
from qchannel.runner import build_link
from qchannel.scenario import Scenario

SCALES = [-1e-3, -0.5, -1.0, -3.3, -36.0, -99.7, -340.0, T.GAP_TABLE_SCALE_MIN]


@pytest.mark.parametrize("scale", SCALES)
def test_table_gaps_are_the_log_gaps(scale):
    words = np.random.default_rng(11).integers(0, 2**64, 400_000, dtype=np.uint64)
    table, exact = T._gap_table_gaps(scale, words)
    used = table >= 0
    assert np.array_equal(table[used], exact[used])
    # the table serves nearly every word (the rest: cells with small u)
    assert used.mean() > (0.99 if scale > -4 else 0.97 if scale > -128 else 0.9)


def _near(m):
    """Words whose top 53 bits are m (clipped to the range), low bits random."""
    m = np.clip(np.asarray(m, dtype=np.float64), 0, 2**53 - 1).astype(np.uint64)
    low = np.random.default_rng(int(m.sum() % 2**32)).integers(0, 2**11, m.size,
                                                                dtype=np.uint64)
    return (m << np.uint64(11)) | low


@pytest.mark.parametrize("scale", SCALES)
def test_table_gaps_at_thresholds_and_cell_edges(scale):
    """The words where a table could go wrong: at the edges of the margins
    around each gap threshold (u = e^(k / scale)) and at the cells' edges."""
    ks = np.arange(1, 40 * int(-scale) + 40)
    thr = np.exp(ks / scale) * 2.0**53 - 0.5
    d = np.arange(-3, 4)
    m = np.concatenate([np.floor(thr * (1 - 2.0**-30))[:, None] + d,
                        np.ceil(thr * (1 + 2.0**-30))[:, None] + d,
                        np.round(thr)[:, None] + d]).ravel()
    bits = T.GAP_TABLE_CELL_BITS
    width = 2**(53 - bits)
    edges = np.arange(2**bits, dtype=np.float64) * width
    m = np.concatenate([m, edges, edges + width - 1, edges + 1])
    words = _near(m)
    table, exact = T._gap_table_gaps(scale, words)
    used = table >= 0
    assert used.sum() > 1000
    assert np.array_equal(table[used], exact[used])


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(scale=st.floats(T.GAP_TABLE_SCALE_MIN, -1e-6), words=st.lists(st.integers(0, 2**64 - 1), min_size=1,
                                                       max_size=64))
def test_fuzz_table_gaps(scale, words):
    table, exact = T._gap_table_gaps(scale, np.array(words, dtype=np.uint64))
    used = table >= 0
    assert np.array_equal(table[used], exact[used])


def test_scale_outside_the_table_range_is_refused():
    with pytest.raises(ValueError, match="scale"):
        T._gap_table_gaps(T.GAP_TABLE_SCALE_MIN * 1.01, np.zeros(1, dtype=np.uint64))
    with pytest.raises(ValueError, match="scale"):
        T._gap_table_gaps(0.0, np.zeros(1, dtype=np.uint64))


def test_records_are_the_same_without_tables():
    """A 0 km block (short gaps, many events: it gets a table) drawn with and
    without the tables gives the same events."""
    link, _ = build_link(Scenario().replace(**{"channel.length_km": 0.0, "run.pulses": 2**24}))
    assert T.GAP_TABLE_SCALE_MIN <= link.prepare(0)["tables"]["gap_scale"][0] < 0   # tabled
    recs = []
    for on in (True, False):
        was = T._set_gap_tables(on)
        try:
            recs.append(next(iter(link.blocks(seed=9))))
        finally:
            T._set_gap_tables(was)
    assert len(recs[0]) > 100_000
    for f in ("slot", "intensity", "alice_basis", "alice_bit", "bob_basis", "bob_bit", "flags",
              "sent"):
        assert np.array_equal(getattr(recs[0], f), getattr(recs[1], f)), f
