"""The entangled, attacked and repeater links' chunks (one kernel call per
chunk without the GIL: ``entangled.run_blocks``; ``attacks.draw_events`` /
``attacks.finish_block`` around the detector pass) on one thread, and each
link's whole run on 1, 2 and all threads (the blocks of
qchannel.links.base.ThreadedBackend).

Run: ``pytest bench/test_bench_links.py --benchmark-only``; quick re-measure
with timelines on idle cores: ``python bench/scaling.py --link NAME``.
Stored in ``extra_info``: ``pair_slots_per_s`` (entangled), ``pulses_per_s``
and ``events_per_s`` (attacked), ``realisations_per_s`` (repeater),
``threads``, ``speedup`` and ``efficiency`` against the 1-thread median of
the same session, ``cpu_s``."""
import os

import pytest

from qchannel.links.base import available_cores
from qchannel.scenario import load_scenario
from thread_runs import time_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# example, the key that sets its size, the size (each ~0.5-1 s on one thread)
RUNS = {"entangled": ("bbm92_fiber.toml", "run.pulses", 4 * 10**9),
        "attack": ("eavesdropper.toml", "run.pulses", 5 * 10**8),
        "repeater": ("repeater.toml", "repeater.realisations", 200_000)}
THREADS = sorted({1, 2, available_cores()})
_one_thread = {}


def _size(name, benchmark):
    # a tenth of the size under --benchmark-disable (CI runs each body once)
    return RUNS[name][2] if benchmark.enabled else RUNS[name][2] // 10


def _scenario(name, size):
    path, key, _ = RUNS[name]
    return load_scenario(os.path.join(ROOT, "examples", path)).replace(**{key: size})


def test_entangled_chunks_one_thread(benchmark):
    from qchannel.links.entangled import EntangledLinkConfig, EntangledLinkModel
    from qchannel.protocols.bbm92 import QKDProtocolConfig

    t = _scenario("entangled", 1).to_dict()
    cfg = EntangledLinkConfig.from_sections(t["source"], t["channel"], t["detector"])
    aa, pa, ab, pb, *_ = QKDProtocolConfig.from_dict(t["protocol"]).settings()
    link = EntangledLinkModel(cfg, aa, pa, ab, pb, _size("entangled", benchmark))
    link.threads = 1
    n = benchmark.pedantic(lambda: sum(len(r) for r in link.blocks(2017)), rounds=3,
                           iterations=1)
    assert n > 0
    if benchmark.enabled:
        t = benchmark.stats.stats.median
        benchmark.extra_info.update(pair_slots_per_s=link.pulses / t, coincidences_per_s=n / t,
                                    chunk_blocks=link.chunk_hint(link.prepare(1)))


def test_attack_chunks_one_thread(benchmark):
    from qchannel.eve import attacked_link

    link = attacked_link(_scenario("attack", _size("attack", benchmark)))
    link.threads = 1
    n = benchmark.pedantic(lambda: sum(len(r) for r in link.blocks(1)), rounds=3, iterations=1)
    assert n > 0
    if benchmark.enabled:
        t = benchmark.stats.stats.median
        benchmark.extra_info.update(pulses_per_s=link.pulses / t, events_per_s=n / t)


@pytest.mark.parametrize("name", sorted(RUNS))
@pytest.mark.parametrize("threads", THREADS)
def test_link_run_threads(benchmark, threads, name):
    size = _size(name, benchmark)
    _, info = time_run(benchmark, _scenario(name, size), threads, _one_thread, name,
                       default=str)
    if info:
        rate = {"entangled": "pair_slots_per_s", "attack": "pulses_per_s",
                "repeater": "realisations_per_s"}[name]
        benchmark.extra_info.update(info, **{rate: size / info["seconds"]})
