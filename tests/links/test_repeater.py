"""The repeater chain's link (qchannel.links.repeater): the default block
split shares the realisations between threads and changes no sample."""
import numpy as np

from qchannel import jobs
from qchannel.links.base import forced_threads
from qchannel.links.repeater import FIRST_CHUNK, MIN_BLOCK, SPLIT_BLOCKS, RepeaterChainLink


def _config(realisations, **over):
    return jobs.from_dict({"protocol": {"type": "repeater-chain"},
                           "repeater": {"segments": 4, "success_prob": 0.05,
                                        "attempt_time_s": 1e-3, "realisations": realisations,
                                        **over},
                           "run": {"seed": 4}}).config


def test_default_blocks_split_the_run_for_the_threads():
    link = RepeaterChainLink(_config(100_000))
    sizes = [link.block_range(b)[1] for b in range(link.n_blocks)]
    assert sizes[0] == FIRST_CHUNK and sum(sizes) == 100_000
    assert link.n_blocks - 1 >= SPLIT_BLOCKS and max(sizes) <= -(-100_000 // SPLIT_BLOCKS)
    # small runs keep blocks of MIN_BLOCK; the config's chunk_size stays the upper bound
    small = RepeaterChainLink(_config(3000))
    assert small.block_size == MIN_BLOCK
    capped = RepeaterChainLink(_config(100_000, chunk_size=100))
    assert capped.block_size == 100


def test_default_blocks_give_the_samples_of_one_block():
    cfg = _config(6000)
    ref = RepeaterChainLink(cfg, chunk_size=6000).simulate(4)
    for n in (1, 2, 3):
        with forced_threads(n):
            got = RepeaterChainLink(cfg).simulate(4)
        for f in ("wait_slots", "states", "stored_slots"):
            assert np.array_equal(getattr(ref, f), getattr(got, f))
