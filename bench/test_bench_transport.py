"""Transport kernel throughput: pulses per second and detection events per
second at 0, 50, 100 and 200 km (one core).  Rates go to extra_info.

Targets (README): at 100 km >= 1e10 pulses per wall second; at 0 km, where
the cost is per event, <= 50 ns per detection event (foundation), <= 20 ns of
CPU per event on one idle core (issue 19; ``bench/scaling.py`` prints it,
and ``test_transport_gap_tables`` below the draw with and without the gap
tables)."""
import pytest

from qchannel.scenario import Scenario
from qchannel.runner import build_link

PULSES = {0.0: 2 * 10**8, 50.0: 2 * 10**9, 100.0: 2 * 10**10, 200.0: 10**11}


@pytest.mark.parametrize("length_km", sorted(PULSES))
def test_transport_rate(benchmark, length_km):
    pulses = PULSES[length_km]
    link, _ = build_link(Scenario().replace(**{"channel.length_km": length_km,
                                               "run.pulses": pulses}))
    link.threads = 1            # one core (threads: bench/test_bench_threads.py)

    def run():
        return sum(len(rec) for rec in link.blocks(seed=1))

    events = benchmark.pedantic(run, rounds=3, iterations=1)
    if benchmark.enabled:          # --benchmark-disable (CI fast mode) keeps no stats
        t = benchmark.stats.stats.median
        benchmark.extra_info.update(pulses=pulses, events=events,
                                    pulses_per_s=pulses / t, events_per_s=events / t,
                                    ns_per_event=1e9 * t / max(events, 1))
    assert events > 0


@pytest.mark.parametrize("tables", [True, False], ids=["tables", "log"])
def test_transport_gap_tables(benchmark, tables):
    """0 km, one core: the geometric gaps from the cell tables or all from the
    log (the same records either way; tests/_core/test_transport_gaps.py)."""
    from qchannel._core import transport as T
    link, _ = build_link(Scenario().replace(**{"channel.length_km": 0.0,
                                               "run.pulses": PULSES[0.0]}))
    link.threads = 1

    def run():
        was = T._set_gap_tables(tables)
        try:
            return sum(len(rec) for rec in link.blocks(seed=1))
        finally:
            T._set_gap_tables(was)

    events = benchmark.pedantic(run, rounds=3, iterations=1)
    if benchmark.enabled:
        benchmark.extra_info.update(events=events,
                                    ns_per_event=1e9 * benchmark.stats.stats.median / events)
    assert events > 0
