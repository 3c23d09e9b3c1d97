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
