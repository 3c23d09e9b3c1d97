"""Closed forms of the nested-swapping repeater chain (the oracle of
:mod:`qchannel.protocols.repeater`; never imports the Monte Carlo).

* Mean waiting time, in attempt slots, of the swap-as-soon-as-possible chain
  with ``segments`` elementary links (a span of m segments splits into m // 2
  and m - m // 2), success probability p per attempt and swap probability a:
  exact, from the absorbing Markov chain over the states of the swap tree
  (one step per slot).  For m = 2 it is (3 - 2p) / (a p (2 - p)); for m = 4
  it reproduces Shchukin, Schmidt, van Loock, PRA 100, 032322 (2019), eq. (64).
  No cutoff: a cutoff only discards pairs, so with one this is a lower bound.
* Delivered fidelity without memory decoherence: Werner parameters multiply
  under swapping, w = w0^m, F = (1 + 3 w) / 4.  Decoherence only lowers it,
  so with memories of finite T2 this is an upper bound.
* Key: BBM92 asymptotic fraction 1 - 2 h2((1 - w) / 2) per delivered pair.
"""
from collections import defaultdict
from functools import lru_cache

import numpy as np

from qchannel.params import check_int, check_prob, check_real
from qchannel.theory.common import h2

#: The Markov chain's state space grows doubly exponentially with the depth.
MAX_STATES = 200_000


def _split(m):
    return (m // 2, m - m // 2)


def mean_waiting_attempts(segments, p, swap_prob=1.0):
    """Exact mean number of attempt slots until the chain delivers a pair."""
    segments = check_int("segments", segments, 1, 4096)
    p = check_prob("success_prob", p, lo_open=True)
    a = check_prob("swap_prob", swap_prob, lo_open=True)

    @lru_cache(maxsize=None)
    def empty(m):
        return 0 if m == 1 else tuple(empty(k) for k in _split(m))

    @lru_cache(maxsize=None)
    def step(state, m):
        """Distribution of the span's state after one slot: ((state, prob), ...)."""
        if state == "C":
            return (("C", 1.0),)
        if m == 1:
            return (("C", p), (0, 1.0 - p))
        ml, mr = _split(m)
        out = defaultdict(float)
        for left, pl in step(state[0], ml):
            for right, pr in step(state[1], mr):
                if left == "C" and right == "C":      # both halves ready: swap now
                    out["C"] += pl * pr * a
                    out[empty(m)] += pl * pr * (1.0 - a)
                else:
                    out[(left, right)] += pl * pr
        return tuple((s, q) for s, q in out.items() if q > 0.0)

    start = empty(segments)
    index, todo = {start: 0}, [start]
    while todo:
        state = todo.pop()
        for nxt, _ in step(state, segments):
            if nxt != "C" and nxt not in index:
                if len(index) >= MAX_STATES:
                    raise ValueError(f"segments = {segments}: the exact waiting-time chain has "
                                     f"more than {MAX_STATES} states (no closed form here)")
                index[nxt] = len(index)
                todo.append(nxt)
    # E[T] solves (I - Q) t = 1 over the transient states
    m = np.eye(len(index))
    for state, i in index.items():
        for nxt, q in step(state, segments):
            if nxt != "C":
                m[i, index[nxt]] -= q
    return float(np.linalg.solve(m, np.ones(len(index)))[0])


def chain_werner_fidelity(initial_fidelity, segments):
    """Fidelity of the delivered pair after swapping ``segments`` Werner pairs."""
    f0 = check_real("initial_fidelity", initial_fidelity, 0.25, 1.0)
    w = ((4.0 * f0 - 1.0) / 3.0) ** check_int("segments", segments, 1, 4096)
    return (1.0 + 3.0 * w) / 4.0


def bbm92_key_fraction_werner(fidelity):
    e = 2.0 * (1.0 - fidelity) / 3.0     # (1 - w) / 2 with w = (4F - 1) / 3
    return max(0.0, 1.0 - 2.0 * float(h2(e)))
