"""The transport kernel's two halves (draw_block: independent, any thread;
carry_block: sequential detector pass) give exactly run_block's output, and
carry_block refuses events it cannot trust."""
import numpy as np
import pytest

from qchannel._core import transport as T
from qchannel.links.prepare_measure import LinkModel
from qchannel.channels import FiberChannel
from qchannel.detectors import DetectorSet
from qchannel.sources import DecoyBB84Source


def _link(**det):
    d = dict(efficiency=0.5, dark_count_prob=1e-3, afterpulse_prob=0.2, afterpulse_decay_ns=5.0)
    d.update(det)
    return LinkModel(DecoyBB84Source(), FiberChannel(length_km=5.0), DetectorSet(**d), 3 * 10**5)


def _args(link, ctx, b, start, n):
    return (ctx["seed"], b, start, n, *ctx["args"])


@pytest.mark.parametrize("det", [{}, {"dead_time_ns": 5.0}, {"basis_choice": "passive"},
                                 {"afterpulse_prob": 0.0}])
def test_draw_then_carry_is_run_block(det):
    link = _link(**det)
    ctx = link.prepare(3)
    s1, s2 = T.DetectorState(), T.DetectorState()
    for b, (start, n) in enumerate([(0, 10**5), (10**5, 10**5), (2 * 10**5, 10**5)]):
        ev = T.draw_block(*_args(link, ctx, b, start, n))
        split = T.carry_block(ev, s1)
        fused = T.run_block(*_args(link, ctx, b, start, n), s2)
        assert len(ev) > 0 and len(split[0]) > 0
        for x, y in zip(split, fused):
            assert np.array_equal(x, y)
        assert int(split[-1].sum()) == n


def test_carry_refuses_untrusted_events():
    link = _link()
    ctx = link.prepare(3)
    st = T.DetectorState()
    with pytest.raises(ValueError, match="not drawn by draw_block"):
        T.carry_block(T.PrimaryEvents(), st)
    with pytest.raises(TypeError):
        T.carry_block(None, st)
    ev1 = T.draw_block(*_args(link, ctx, 1, 10**5, 10**5))
    with pytest.raises(ValueError, match="in order"):
        T.carry_block(ev1, st)           # block 1 before block 0
    ev0 = T.draw_block(*_args(link, ctx, 0, 0, 10**5))
    T.carry_block(ev0, st)
    with pytest.raises(ValueError, match="already carried"):
        T.carry_block(ev0, st)
    T.carry_block(ev1, st)               # the refusal left the state as it was
    assert st.next_block == 2


def test_draw_validates_like_run_block():
    link = _link()
    ctx = link.prepare(3)
    args = list(_args(link, ctx, 0, 0, 10**5))
    args[3] = 10**6                       # n_slots past total_slots
    with pytest.raises(ValueError, match="n_slots"):
        T.draw_block(*args)


def _counted(out, K):
    """tally[k, a, b, error] and double clicks counted from the record arrays."""
    slot, cls, a_basis, a_bit, b_basis, b_bit, flags = out[:7]
    tally = np.zeros((K, 2, 2, 2), np.int64)
    np.add.at(tally, (cls, a_basis, b_basis, (a_bit != b_bit).astype(np.int64)), 1)
    return tally, int(np.count_nonzero(flags & T.FLAG_DOUBLE_CLICK))


@pytest.mark.parametrize("det", [{}, {"dead_time_ns": 5.0}, {"basis_choice": "passive"},
                                 {"afterpulse_prob": 0.0}])
def test_carry_blocks_is_carry_block_concatenated_and_counts_its_events(det):
    """One call over consecutive blocks: the blocks' records joined, the sent
    counts summed, and the kernel's tally equal to a count of the arrays
    (the fast detector loop and the general path both count)."""
    link = _link(**det)
    ctx = link.prepare(3)
    spans = [(0, 10**5), (10**5, 10**5), (2 * 10**5, 10**5)]
    s1, s2 = T.DetectorState(), T.DetectorState()
    parts = [T.carry_block(T.draw_block(*_args(link, ctx, b, *sp)), s1)
             for b, sp in enumerate(spans)]
    joined = T.carry_blocks([T.draw_block(*_args(link, ctx, b, *sp))
                             for b, sp in enumerate(spans)], s2)
    assert len(joined) == 10 and s2.next_block == 3 and s2.next_slot == 3 * 10**5
    for f in range(7):
        assert np.array_equal(joined[f], np.concatenate([p[f] for p in parts]))
    assert np.array_equal(joined[7], sum(p[7] for p in parts))
    tally, doubles = _counted(joined, 3)
    assert (joined[6] & T.FLAG_AFTERPULSE).any() or det.get("afterpulse_prob") == 0.0
    assert doubles > 0 and np.array_equal(joined[8], tally) and joined[9] == doubles


def test_carry_blocks_refuses_gaps_and_bad_lists():
    link = _link()
    ctx = link.prepare(3)
    st = T.DetectorState()
    ev = [T.draw_block(*_args(link, ctx, b, b * 10**5, 10**5)) for b in range(3)]
    with pytest.raises(ValueError, match="consecutive"):
        T.carry_blocks([ev[0], ev[2]], st)
    with pytest.raises(ValueError, match="no blocks"):
        T.carry_blocks([], st)
    with pytest.raises(ValueError, match="list"):
        T.carry_blocks(tuple(ev), st)
    assert st.next_block == 0            # nothing was carried
    T.carry_blocks(ev[:2], st)
    with pytest.raises(ValueError, match="already carried"):
        T.carry_blocks([ev[1], ev[2]], st)
    T.carry_blocks([ev[2]], st)
    assert st.next_block == 3


def test_draw_blocks_is_draw_block_per_block():
    link = _link()
    ctx = link.prepare(3)
    size = 70_000                         # 3e5 slots: blocks of 7e4, the last one 2e4
    many = T.draw_blocks(ctx["seed"], 1, 4, size, *ctx["args"], ctx["rate"])
    st1, st2 = T.DetectorState(), T.DetectorState()
    T.carry_block(T.draw_block(*_args(link, ctx, 0, 0, size)), st1)
    T.carry_block(T.draw_block(*_args(link, ctx, 0, 0, size)), st2)
    assert [ev.block for ev in many] == [1, 2, 3, 4] and len(many[-1]) < len(many[0])
    for ev in many:
        start = ev.block * size
        one = T.draw_block(*_args(link, ctx, ev.block, start, min(size, 3 * 10**5 - start)))
        for x, y in zip(T.carry_block(ev, st1), T.carry_block(one, st2)):
            assert np.array_equal(x, y)


def test_draw_blocks_checks_its_range():
    link = _link()
    ctx = link.prepare(3)
    with pytest.raises(ValueError, match="past total_slots"):
        T.draw_blocks(ctx["seed"], 3, 2, 10**5, *ctx["args"], 0.0)     # block 4 starts at 4e5
    with pytest.raises(ValueError, match="n_blocks"):
        T.draw_blocks(ctx["seed"], 0, 0, 10**5, *ctx["args"], 0.0)
    with pytest.raises(ValueError, match="event_rate"):
        T.draw_blocks(ctx["seed"], 0, 1, 10**5, *ctx["args"], float("nan"))
    args = list(ctx["args"])
    args[1] = np.full_like(args[1], 0.5)  # gap_scale must be <= 0
    with pytest.raises(ValueError, match="gap_scale"):
        T.draw_blocks(ctx["seed"], 0, 1, 10**5, *args, 0.0)
