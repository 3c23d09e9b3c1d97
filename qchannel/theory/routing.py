"""Closed forms of entanglement routing on a graph (the oracle of
:mod:`qchannel.protocols.routing`; never imports the Monte Carlo).

* A path of n links in the memoryless model (Pant et al., npj Quantum
  Information 5, 25 (2019)) delivers a pair in a slot when every link
  succeeds and every one of the n - 1 swaps succeeds:
  ``prod(p_i) * q**(n - 1)`` pairs per slot (``p**n q**(n-1)`` for equal
  links).  With Werner links the pair's Werner parameter is the product
  ``prod(w_i)``, ``F = (1 + 3 w) / 4``.
* With global link-state knowledge and swaps that always succeed, a slot
  delivers at least one pair exactly when the two users are connected in the
  graph of the links that succeeded in that slot: the fraction of slots that
  deliver is the two-terminal reliability of the graph, computed here exactly
  by enumerating the 2^E link states (small graphs).  Multipath can deliver
  several pairs in a slot, so the rate per slot is at least that probability.
* A line with memories that hold pairs indefinitely is the repeater chain:
  the mean waiting time is :func:`qchannel.theory.repeater.mean_waiting_attempts`
  (exact when every swap succeeds, or for 2 links; swap-as-soon-as-possible
  and the nested doubling scheme differ for longer chains with failing swaps).
"""
from __future__ import annotations

import math

import numpy as np

from qchannel.params import check_int, check_prob

#: Links enumerated exactly (2^E link states, vectorised).
MAX_ENUMERATED_LINKS = 16


def path_rate_memoryless(link_probs, swap_prob=1.0):
    """Pairs per slot of one path in the memoryless model: prod(p) q^(n-1)."""
    probs = [check_prob(f"link_probs[{i}]", p) for i, p in enumerate(link_probs)]
    if not probs:
        raise ValueError("link_probs must list at least one link")
    q = check_prob("swap_prob", swap_prob)
    return math.prod(probs) * q ** (len(probs) - 1)


def path_werner_fidelity(link_fidelities):
    """Fidelity of the pair swapped along Werner links of these fidelities."""
    w = math.prod((4.0 * f - 1.0) / 3.0 for f in link_fidelities)
    return (1.0 + 3.0 * w) / 4.0


def connection_probability(n_nodes, links, probs, source, target):
    """Probability that ``source`` and ``target`` are connected when each link
    ``(a, b)`` is present independently with probability ``probs[i]``: exact
    enumeration of the 2^E link states (E <= MAX_ENUMERATED_LINKS)."""
    n_nodes = check_int("n_nodes", n_nodes, 2, 256)
    e = len(links)
    if not 1 <= e <= MAX_ENUMERATED_LINKS:
        raise ValueError(f"the graph has {e} links: exact enumeration covers 1 to "
                         f"{MAX_ENUMERATED_LINKS}")
    if len(probs) != e:
        raise ValueError(f"probs has {len(probs)} entries for {e} links")
    states = np.arange(1 << e, dtype=np.int64)
    present = ((states[:, None] >> np.arange(e)) & 1).astype(bool)       # (2^E, E)
    weight = np.ones(1 << e)
    for i, p in enumerate(probs):
        p = check_prob(f"probs[{i}]", p)
        weight *= np.where(present[:, i], p, 1.0 - p)
    # label propagation: every node takes the smallest label among its present links
    label = np.tile(np.arange(n_nodes), (1 << e, 1))
    for _ in range(n_nodes):
        before = label.copy()
        for i, (a, b) in enumerate(links):
            m = np.minimum(label[:, a], label[:, b])
            label[:, a] = np.where(present[:, i], m, label[:, a])
            label[:, b] = np.where(present[:, i], m, label[:, b])
        if np.array_equal(before, label):
            break
    return float(weight[label[:, source] == label[:, target]].sum())


def two_link_dephased_fidelity(p, coherence_per_slot):
    """Mean fidelity delivered by a 2-link line with perfect links (F = 1),
    swaps that succeed and memories that never expire, when a stored pair
    keeps the coherence ``x = coherence_per_slot`` per slot of waiting
    (``x = exp(-slot_s (1/T2a + 1/T2b))`` for the pair's two nodes; both
    end-node pairs alike).  The first pair waits ``|G1 - G2|`` slots for the
    second (G1, G2 independent geometric on {1, 2, ...}), and a dephased pair
    has ``F = (1 + x^k) / 2``; with ``P(|D| = 0) = p / (2 - p)`` and
    ``P(|D| = k) = 2 p (1 - p)^k / (2 - p)``:
    ``E[x^|D|] = p / (2 - p) * (1 + 2 (1 - p) x / (1 - (1 - p) x))``."""
    p = check_prob("p", p, lo_open=True)
    x = check_prob("coherence_per_slot", coherence_per_slot)
    u = (1.0 - p) * x
    mean = p / (2.0 - p) * (1.0 + 2.0 * u / (1.0 - u))
    return 0.5 * (1.0 + mean)
