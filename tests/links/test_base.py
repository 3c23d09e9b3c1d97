"""The link contract: every link model streams the same records whatever the
chunking and whatever order a backend runs the independent part of its
blocks in, as long as the sequential part runs in block order."""
import numpy as np
import pytest

from qchannel import jobs
from qchannel.links.base import BLOCK_SLOTS, Link, SerialBackend
from qchannel.scenario import Scenario


class ReversedDrawBackend(SerialBackend):
    """Draws every chunk's independent part last chunk first (as a thread pool
    might finish them), then carries them in order: what a parallel backend does."""

    def run(self, link, ctx, n_blocks, chunk=1):
        spans = [(b0, min(b0 + chunk, n_blocks)) for b0 in range(0, n_blocks, chunk)]
        drawn = {s: link.draw_chunk(ctx, *s) for s in reversed(spans)}
        for s in spans:
            yield (*s, link.carry_chunk(ctx, *s, drawn[s]))


FIELDS = ("slot", "intensity", "alice_basis", "alice_bit", "bob_basis", "bob_bit", "flags",
          "sent")


def _same(a, b, fields):
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in fields)


def _attacked():
    from qchannel.eve import attacked_link

    sc = Scenario.from_dict({"channel": {"length_km": 20.0},
                             "detector": {"dead_time_ns": 20.0, "afterpulse_prob": 0.05},
                             "eve": {"attack": "intercept-resend", "fraction": 0.3}})
    return attacked_link(sc, 2 * BLOCK_SLOTS + 999)


def _honest():
    from qchannel.runner import build_link

    sc = Scenario.from_dict({"channel": {"length_km": 20.0},
                             "detector": {"dead_time_ns": 20.0},
                             "run": {"pulses": 2 * BLOCK_SLOTS + 999}})
    return build_link(sc)[0]


@pytest.mark.parametrize("make", [_honest, _attacked])
def test_backend_order_and_chunking_do_not_change_records(make):
    ref = make().simulate(7)
    chunked = make().simulate(7, chunk_blocks=2)
    link = make()
    link.backend = ReversedDrawBackend()
    reordered = link.simulate(7)
    fields = FIELDS + (("eve_known", "eve_guess") if ref.eve_known is not None else ())
    assert _same(ref, chunked, fields) and _same(ref, reordered, fields)
    assert ref.n_slots == link.pulses and int(ref.sent.sum()) == link.pulses


def test_every_link_model_is_a_link():
    from qchannel.eve import AttackedLinkModel
    from qchannel.links.entangled import EntangledLinkModel
    from qchannel.links.prepare_measure import LinkModel
    from qchannel.links.repeater import RepeaterChainLink

    for cls in (LinkModel, AttackedLinkModel, EntangledLinkModel, RepeaterChainLink):
        assert issubclass(cls, Link)


def test_repeater_chain_blocks_do_not_change_samples():
    from qchannel.links.repeater import RepeaterChainLink

    sc = jobs.from_dict({"protocol": {"type": "repeater-chain"},
                         "repeater": {"segments": 4, "success_prob": 0.05,
                                      "attempt_time_s": 1e-3, "realisations": 3000},
                         "run": {"seed": 4}})
    a = RepeaterChainLink(sc.config, chunk_size=1000).simulate(4)
    b = RepeaterChainLink(sc.config, chunk_size=77).simulate(4)
    link = RepeaterChainLink(sc.config, chunk_size=500)
    link.backend = ReversedDrawBackend()
    c = link.simulate(4)
    for f in ("wait_slots", "states", "stored_slots"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
        assert np.array_equal(getattr(a, f), getattr(c, f))
