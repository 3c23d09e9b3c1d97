"""Slow pure-NumPy reference of the transport + detection model.

It visits every pulse: draws the class, bases and bit of each slot, the
photon number reaching each detector and its dark count, then runs the
detector pass (dead time, afterpulses) with a plain Python loop over the
slots that clicked.  It shares no code and no random numbers with the
compiled kernel; tests compare the two in distribution.
"""
import heapq

import numpy as np


def reference_link(n_pulses, intensities, intensity_probs, key_basis_prob, eta,
                   misalignment, dark_count_prob, afterpulse_prob=0.0,
                   afterpulse_tau_gates=0.0, dead_gates=0, basis_choice="active", seed=0):
    """Returns (events, sent): one row per registered detection with columns
    slot, class, Alice's basis, Alice's bit, Bob's basis, Bob's bit, double
    click, afterpulse (an afterpulse added a click on a detector without a
    primary click: the kernel's FLAG_AFTERPULSE); sent per class."""
    rng = np.random.default_rng(seed)
    mus = np.asarray(intensities)
    K = len(mus)
    n_det = 2 if basis_choice == "active" else 4
    cls = rng.choice(K, n_pulses, p=intensity_probs)
    a_basis = (rng.random(n_pulses) >= key_basis_prob).astype(np.uint8)
    a_bit = rng.integers(0, 2, n_pulses).astype(np.uint8)
    b_basis = (rng.random(n_pulses) >= key_basis_prob).astype(np.uint8)
    mean = mus[cls] * eta
    e = misalignment
    # Photons are routed one by one: to a basis (passive), then to the
    # detector of Alice's bit with 1 - e (bases equal) or 1/2 (bases differ).
    photons = rng.poisson(mean)
    clicks = np.zeros((n_pulses, n_det), dtype=bool)
    if n_det == 2:
        p_right = np.where(a_basis == b_basis, 1 - e, 0.5)
        n_right = rng.binomial(photons, p_right)
        right = np.stack([n_right, photons - n_right], axis=1) > 0   # [Alice's bit's detector, other]
        clicks[:, 0] = np.where(a_bit == 0, right[:, 0], right[:, 1])
        clicks[:, 1] = np.where(a_bit == 0, right[:, 1], right[:, 0])
    else:
        n_x = rng.binomial(photons, key_basis_prob)
        for pair, n_pair in ((0, n_x), (1, photons - n_x)):
            p_right = np.where(a_basis == pair, 1 - e, 0.5)
            n_right = rng.binomial(n_pair, p_right)
            hit_right, hit_other = n_right > 0, (n_pair - n_right) > 0
            clicks[:, 2 * pair] = np.where(a_bit == 0, hit_right, hit_other)
            clicks[:, 2 * pair + 1] = np.where(a_bit == 0, hit_other, hit_right)
    clicks |= rng.random((n_pulses, n_det)) < dark_count_prob

    # Sequential detector pass over slots with a primary click or an afterpulse.
    primary = {int(s): int(np.dot(clicks[s], 1 << np.arange(n_det)))
               for s in np.flatnonzero(clicks.any(axis=1))}
    last = [-10**18] * n_det
    pending = []
    events = []
    order = sorted(primary)
    i = 0
    while i < len(order) or pending:
        s_next = order[i] if i < len(order) else None
        if pending and (s_next is None or pending[0][0] < s_next):
            s = pending[0][0]
        else:
            s = s_next
            i += 1
        prim = primary.get(s, 0)
        ap = 0
        while pending and pending[0][0] == s:
            ap |= 1 << heapq.heappop(pending)[1]
        live = sum(1 << j for j in range(n_det) if s - last[j] > dead_gates)
        prim &= live
        ap &= live
        got = prim | ap
        if not got:
            continue
        ap_added = int(bool(ap & ~prim))
        for j in range(n_det):
            if got >> j & 1:
                last[j] = s
            if prim >> j & 1 and rng.random() < afterpulse_prob:
                d = 1 + (int(np.floor(-afterpulse_tau_gates * np.log(rng.random())))
                         if afterpulse_tau_gates > 0 else 0)
                if s + d < n_pulses:
                    heapq.heappush(pending, (s + d, j))
        bb = int(b_basis[s])
        if n_det == 4:
            xm, zm = got & 3, got >> 2
            bb = int(rng.integers(2)) if (xm and zm) else (0 if xm else 1)
            pair = (got >> (2 * bb)) & 3
        else:
            pair = got
        double = pair == 3
        bit = int(rng.integers(2)) if double else pair >> 1
        events.append((s, cls[s], a_basis[s], a_bit[s], bb, bit, double, ap_added))
    ev = np.array(events, dtype=np.int64).reshape(-1, 8)
    sent = np.bincount(cls, minlength=K)
    return ev, sent


def counts_table(intensity, alice_basis, bob_basis, alice_bit, bob_bit, K):
    """(detections, errors) per (class, Alice basis, Bob basis)."""
    idx = (np.asarray(intensity, np.int64) * 2 + alice_basis) * 2 + bob_basis
    det = np.bincount(idx, minlength=4 * K).reshape(K, 2, 2)
    err = np.bincount(idx[np.asarray(alice_bit) != np.asarray(bob_bit)],
                      minlength=4 * K).reshape(K, 2, 2)
    return det, err
