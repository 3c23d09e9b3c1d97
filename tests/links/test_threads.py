"""Parallel blocks (qchannel.links.base.ThreadedBackend): every link model
gives bit-identical records for any number of threads, errors reach the
caller, and the thread count resolves as documented."""
import json
import threading

import numpy as np
import pytest

from qchannel import jobs
from qchannel.links import base
from qchannel.links.base import (BLOCK_SLOTS, Link, SerialBackend, ThreadedBackend, forced_threads,
                                 threads)
from qchannel.scenario import Scenario


def _fields(rec):
    skip = ("first_slot", "n_slots")
    return {k: v for k, v in vars(rec).items() if k not in skip and v is not None}


def _same(a, b):
    fa, fb = _fields(a), _fields(b)
    return fa.keys() == fb.keys() and all(np.array_equal(fa[k], fb[k]) for k in fa)


def _honest():
    from qchannel.runner import build_link

    sc = Scenario.from_dict({"channel": {"length_km": 10.0},
                             "detector": {"dead_time_ns": 20.0, "afterpulse_prob": 0.1},
                             "run": {"pulses": 4 * BLOCK_SLOTS + 999}})
    return build_link(sc)[0]


def _passive():
    from qchannel.runner import build_link

    sc = Scenario.from_dict({"channel": {"length_km": 2.0},
                             "detector": {"basis_choice": "passive", "afterpulse_prob": 0.3},
                             "run": {"pulses": 3 * BLOCK_SLOTS + 5}})
    return build_link(sc)[0]


def _attacked():
    from qchannel.eve import attacked_link

    sc = Scenario.from_dict({"channel": {"length_km": 20.0},
                             "detector": {"dead_time_ns": 20.0, "afterpulse_prob": 0.05},
                             "eve": {"attack": "intercept-resend", "fraction": 0.3}})
    return attacked_link(sc, 3 * BLOCK_SLOTS + 999)


def _entangled(dead_ns):
    def make():
        from qchannel.links.entangled import EntangledLinkConfig, EntangledLinkModel

        c = EntangledLinkConfig.from_sections(
            {"pair_prob": 0.05, "visibility": 0.9}, {"alice": {"loss_db": 3.0}, "bob": {"loss_db": 6.0}},
            {"efficiency": 0.8, "dark_count_prob": 2e-4, "dead_time_ns": dead_ns})
        z2 = ([0.0, np.pi / 4], [0.5, 0.5])
        return EntangledLinkModel(c, *z2, *z2, 3 * BLOCK_SLOTS + 17)
    return make


def _repeater():
    from qchannel.links.repeater import RepeaterChainLink

    sc = jobs.from_dict({"protocol": {"type": "repeater-chain"},
                         "repeater": {"segments": 4, "success_prob": 0.05,
                                      "attempt_time_s": 1e-3, "realisations": 3000},
                         "run": {"seed": 4}})
    return RepeaterChainLink(sc.config, chunk_size=400)


MAKERS = {"honest, dead time and afterpulses": _honest, "passive": _passive,
          "attacked": _attacked, "entangled": _entangled(0.0),
          "entangled, dead time": _entangled(50.0), "repeater": _repeater}


@pytest.mark.parametrize("name", list(MAKERS))
def test_records_do_not_depend_on_threads(name):
    make = MAKERS[name]
    link = make()
    link.backend = SerialBackend()
    ref = link.simulate(7)
    assert len(ref) > 0 and link.n_blocks >= 3
    for n in (1, 2, 3):
        link = make()
        link.threads = n
        assert _same(link.simulate(7), ref), f"{n} threads"
    link = make()
    link.backend = ThreadedBackend(2)
    assert _same(link.simulate(7, chunk_blocks=2), ref)


def test_long_distance_runs_in_chunks_of_blocks():
    """Where blocks are cheap the decoy link runs several per chunk (one
    kernel call, one record, one count); records and counts do not depend on
    the chunking or the threads."""
    from qchannel.runner import build_link

    sc = Scenario.from_dict({"channel": {"length_km": 50.0},       # 2 blocks a chunk
                             "run": {"pulses": 9 * BLOCK_SLOTS + 3}})
    link = build_link(sc)[0]
    chunk = link.chunk_hint(link.prepare(1))
    assert 9 > chunk > 1
    link.backend = SerialBackend()
    ref = link.simulate(7, chunk_blocks=1)
    for n in (1, 2):
        link = build_link(sc)[0]
        link.threads = n
        records = list(link.blocks(7))
        assert len(records) == -(-9 // chunk)
        assert [r.n_slots for r in records][:-1] == [chunk * BLOCK_SLOTS] * (len(records) - 1)
        got = link.concatenate(records)
        assert _same(got, ref), f"{n} threads"


def test_run_json_does_not_depend_on_threads():
    sc = Scenario.from_dict({"channel": {"length_km": 30.0},
                             "run": {"pulses": 3 * BLOCK_SLOTS + 1}})
    from qchannel.runner import run_scenario

    out = []
    for n in (1, 2, 3):
        with forced_threads(n):
            out.append(json.dumps(run_scenario(sc).to_dict(), sort_keys=True))
    assert out[0] == out[1] == out[2]
    # [run] threads is an execution setting: same numbers whatever it says
    two = json.loads(json.dumps(run_scenario(sc.replace(**{"run.threads": 2})).to_dict()))
    one = json.loads(out[0])
    assert two["scenario"]["run"].pop("threads") == 2
    assert two == one


def test_distilled_keys_do_not_depend_on_threads():
    """Real post-processing (Cascade and LDPC frames, Toeplitz hashes) on 1
    and 2 threads: the same final keys and the same report."""
    import numpy as np

    from qchannel.runner import run_scenario

    for ec in ("cascade", "ldpc"):
        sc = Scenario.from_dict({"channel": {"length_km": 10.0}, "run": {"pulses": 10**9},
                                 "postprocess": {"ec": ec}})
        runs = []
        for n in (1, 2):
            with forced_threads(n):
                runs.append(run_scenario(sc))
        a, b = runs
        assert a.keys is not None and a.secret_key_bits > 0
        assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)
        assert a.keys.keys_match and len(a.keys.alice_key) > 0
        assert np.array_equal(a.keys.alice_key, b.keys.alice_key)
        assert np.array_equal(a.keys.bob_key, b.keys.bob_key)


class _Failing(Link):
    """Blocks of a few slots; draw or carry of block ``bad`` raises."""

    block_size = 10

    def __init__(self, where, bad, pulses=200):
        self.where, self.bad, self.pulses = where, bad, pulses
        self.carried = []

    def prepare(self, seed):
        return {}

    def draw(self, ctx, b, start, n):
        if self.where == "draw" and b == self.bad:
            raise ValueError(f"draw {b}")
        return b

    def carry(self, ctx, b, start, n, drawn):
        assert drawn == b and b == len(self.carried)     # in block order
        if self.where == "carry" and b == self.bad:
            raise ValueError(f"carry {b}")
        self.carried.append(b)
        return [b]

    @staticmethod
    def concatenate(records):
        return sum(records, [])


@pytest.mark.parametrize("where", ["draw", "carry"])
def test_errors_reach_the_caller_in_block_order(where):
    link = _Failing(where, bad=5)
    link.backend = ThreadedBackend(3)
    got = []
    with pytest.raises(ValueError, match=f"{where} 5"):
        for rec in link.blocks(1):
            got += rec
    assert got == [0, 1, 2, 3, 4] and link.carried == [0, 1, 2, 3, 4]


def test_abandoned_run_stops_and_memory_stays_bounded():
    link = _Failing("none", bad=-1, pulses=10**4)
    link.backend = ThreadedBackend(2)
    before = threading.active_count()
    gen = link.blocks(1)
    assert next(gen) == [0]
    gen.close()
    # at most 2 * threads blocks were in flight: the rest was never carried
    assert len(link.carried) <= 1 + 2 * 2
    assert threading.active_count() == before
    link.backend, link.threads, link.carried = None, 4, []
    assert link.simulate(1) == list(range(1000))


def test_thread_count_resolution(monkeypatch):
    monkeypatch.setattr(base, "available_cores", lambda: 6)
    assert threads() == 6 and threads(2) == 2
    with forced_threads(3):
        assert threads() == 3 and threads(2) == 3
        with forced_threads(None):
            assert threads(2) == 3
        with forced_threads(1):
            assert threads(8) == 1
    assert threads() == 6
    for bad in (0, -1, 1.5, True, 10**6):
        with pytest.raises(ValueError, match="run.threads"):
            threads(bad)
        with pytest.raises(ValueError, match="threads"):
            with forced_threads(bad):
                pass


def test_run_threads_key():
    sc = Scenario.from_dict({"run": {"threads": 3}})
    assert sc.run.threads == 3 and sc.replace(**{"run.seed": 5}).run.threads == 3
    assert "threads" not in Scenario().to_dict()["run"]
    with pytest.raises(ValueError, match=r"run\.threads = 0 .*\[1, 4096\]"):
        Scenario.from_dict({"run": {"threads": 0}})
    from qchannel.links.entangled import parse_run

    with pytest.raises(ValueError, match=r"run\.threads"):
        parse_run({"pulses": 10, "threads": -2})


def test_sweep_points_run_on_one_thread(monkeypatch):
    from qchannel import sweep

    seen = []
    monkeypatch.setattr(sweep, "_run_point", lambda task: seen.append(threads(8)) or {})
    with forced_threads(4):
        sweep.run_point({})
        assert threads() == 4
    assert seen == [1]


def test_cli_threads(capsys):
    from qchannel.cli import main

    args = ["run", "--pulses", str(2 * BLOCK_SLOTS + 3), "--json"]
    assert main(args + ["--threads", "1"]) == 0
    one = capsys.readouterr().out
    assert main(args + ["--threads", "2"]) == 0
    assert capsys.readouterr().out == one
    assert main(args + ["--threads", "0"]) == 2
    assert "--threads = 0" in capsys.readouterr().err
