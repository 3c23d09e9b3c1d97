"""Monte Carlo kernel for entanglement routing over a graph, slot by slot.

The network is given as arrays: ``E`` links (``edge_a``, ``edge_b``,
per-slot heralding probability ``edge_p``, Werner fidelity ``edge_f0``), a
CSR adjacency of link ids per node, per-node memories, dephasing rate (per
slot) and storage limit (slots).  Requests are (source, target) node pairs.

Every slot, in this order:

1. **Expiry.**  A stored pair of age ``t - birth`` (the birth of its oldest
   constituent) is dropped once the age reaches its lifetime
   ``min(memory_slots, life[a], life[b])`` (``memory_slots = 1``: the
   memoryless model of Pant et al., nothing outlives its slot).
2. **Generation.**  A link holds one qubit per end: it attempts one
   heralded generation when neither of its two link-end memories holds a
   qubit (of its own pair or of a swapped pair that came through it) and
   both nodes have a free memory in their pool of ``mem`` (links visited in
   an order rotated by the slot, so scarce memories are shared fairly);
   success with ``edge_p``.  A new pair is a Werner state of ``edge_f0``.
   A link whose pair went into a request's connection (single-path) stays
   reserved for it until that connection is delivered or lost, as in a
   repeater chain that restarts after each delivery.
3. **Routing** (policy):

   * ``SINGLE_PATH``: each request owns a fixed path.  In the rotating
     priority order of the requests (request ``(t + k) % R`` is k-th), a
     request claims the unclaimed link pairs on its path, then swaps as soon
     as possible, left to right: two adjacent pairs it owns are swapped at
     their common node (success ``swap_prob``; a failure loses both pairs).
     Swapped pairs stay in memory across slots (nested swapping) until they
     expire.  A pair spanning the whole path is delivered.
   * ``MULTIPATH`` (global link-state knowledge, Pant et al. npj QI 5, 25
     (2019)): in the graph of stored unclaimed link pairs, repeatedly take
     the request with the shortest path (ties: rotating priority), consume
     that path's pairs and swap along it (all ``n - 1`` swaps must succeed);
     until no request has a path.  A request can be served by several
     edge-disjoint paths in one slot.
   * ``LOCAL`` (local link-state knowledge): in rotating priority order, for
     each request every node other than its ends knows only its own links
     and the hop distances to the two ends; it swaps its link to the
     neighbour nearest the source (strictly nearer than itself) with its link
     to the neighbour nearest the target (strictly nearer).  Chains of such
     swaps that join source and target deliver a pair each; every pair a node
     swapped is consumed, whether or not its chain reached both ends (a node
     cannot know).

States are Bell-diagonal (Pauli frame I, X, Z, Y); swapping composes the
frames (XOR convolution); a stored pair dephases: each qubit at node ``v``
suffers a Z error channel of parameter ``exp(-decay[v] dt)``, so the pair's
(I, Z) and (X, Y) weights mix with ``lam = exp(-(decay[a] + decay[b]) dt)``.

Randomness: slot ``t`` reads stream (seed, purpose, block = t >> 16) from
counter ``(t & 0xFFFF) << 48``: the draws of a slot do not depend on how a
run is split.  The kernel is a pure function over arrays; every argument is
checked first (ValueError naming it).
"""
import numpy as np
from libc.stdint cimport uint32_t, uint64_t, int32_t, int64_t
from libc.math cimport exp, INFINITY
from libc.stdlib cimport malloc, free

from qchannel._core.philox cimport PhiloxStream, stream_init, next_double
from qchannel._core.checks cimport int_arg, real_arg, check_len, check_doubles, check_i32, check_i64
from qchannel._core.bell cimport dephase, swap_states

cdef enum:
    BLOCK_SHIFT = 16
    INDEX_SHIFT = 48

cdef enum:
    SINGLE_PATH = 0
    MULTIPATH = 1
    LOCAL = 2

POLICY_CODES = {"single-path": SINGLE_PATH, "multipath": MULTIPATH, "local": LOCAL}
MAX_SLOTS = 1 << 48


cdef struct Pair:
    int32_t a           # end nodes (for a request's pair: a = left end on its path)
    int32_t b
    int32_t ma          # link-end memories it occupies at a and b (2 * link + side)
    int32_t mb
    int32_t owner       # request owning it, -1 = unclaimed link pair
    int32_t edge        # link of an unclaimed pair
    int32_t pos_l       # path positions of a request's pair
    int32_t pos_r
    int64_t birth       # slot of the oldest constituent
    int64_t t           # slot up to which the state is decohered
    double c[4]


cdef struct Net:
    PhiloxStream s
    int N, E, R
    double swap_prob
    int64_t memory_slots
    const int32_t* ea
    const int32_t* eb
    const double* ep
    const double* ef
    const int32_t* adj_ptr
    const int32_t* adj_edge
    const int32_t* mem
    const double* decay
    const int64_t* life
    const int32_t* src
    const int32_t* dst
    const int32_t* path_ptr
    const int32_t* path_node
    const int32_t* path_edge
    const int32_t* dist
    # state
    Pair* pool
    int32_t* free_ids
    int32_t n_free
    int32_t P
    int32_t* edge_pair
    int32_t* used
    int32_t* occ
    int32_t* cover
    int32_t* own
    int64_t* last
    int64_t* stamp
    int64_t stamp_now
    int32_t* queue
    int32_t* prev_edge
    int32_t* mate
    int32_t* chain
    # outputs
    int64_t* delivered
    double* fid_sum
    double* fid_sq
    int64_t* hits
    double* lat_sum
    double* lat_sq
    int64_t* lat_max
    int64_t* lat_hist
    int H


cdef inline int32_t other_end(const Net* x, int32_t e, int32_t v) noexcept nogil:
    return x.eb[e] if x.ea[e] == v else x.ea[e]


cdef inline void decohere(Net* x, Pair* p, int64_t t) noexcept nogil:
    cdef int64_t dt = t - p.t
    cdef double rate
    if dt <= 0:
        return
    p.t = t
    rate = x.decay[p.a] + x.decay[p.b]
    if rate <= 0.0:
        return
    dephase(p.c, exp(-rate * <double>dt))


cdef inline void compose(double* acc, const double* b) noexcept nogil:
    # acc <- the state after swapping acc with b (in place).
    cdef double out[4]
    cdef int c
    swap_states(acc, b, out)
    for c in range(4):
        acc[c] = out[c]


cdef inline bint swap_ok(Net* x) noexcept nogil:
    return x.swap_prob >= 1.0 or next_double(&x.s) < x.swap_prob


cdef inline void release(Net* x, int32_t i) noexcept nogil:
    # Drop pair i: its two memories are free again.
    x.used[x.pool[i].a] -= 1
    x.used[x.pool[i].b] -= 1
    x.occ[x.pool[i].ma] = 0
    x.occ[x.pool[i].mb] = 0
    x.free_ids[x.n_free] = i
    x.n_free += 1


cdef inline void record(Net* x, int r, double f, int64_t t) noexcept nogil:
    cdef int64_t lat
    x.delivered[r] += 1
    x.fid_sum[r] += f
    x.fid_sq[r] += f * f
    if x.last[r] < t:       # latency: slots since the previous slot that delivered
        lat = t - x.last[r]
        x.last[r] = t
        x.hits[r] += 1
        x.lat_sum[r] += <double>lat
        x.lat_sq[r] += <double>lat * <double>lat
        if lat > x.lat_max[r]:
            x.lat_max[r] = lat
        x.lat_hist[<int64_t>r * x.H + (lat if lat < x.H - 1 else x.H - 1)] += 1


cdef inline void uncover(Net* x, int r, int32_t lo, int32_t hi) noexcept nogil:
    # The links under a request's lost or delivered pair may generate again.
    cdef int32_t k
    for k in range(lo, hi):
        x.cover[x.path_edge[x.path_ptr[r] + k]] = 0


cdef void _expire_scan(Net* x, int64_t t) noexcept nogil:
    cdef int32_t i, r
    cdef int64_t life
    cdef Pair* p
    for i in range(x.P):
        p = &x.pool[i]
        if p.owner == -2:           # free
            continue
        life = x.memory_slots
        if x.life[p.a] < life:
            life = x.life[p.a]
        if x.life[p.b] < life:
            life = x.life[p.b]
        if t - p.birth < life:
            continue
        if p.owner < 0:
            x.edge_pair[p.edge] = -1
        else:
            r = p.owner
            x.own[x.path_ptr[r] + r + p.pos_l] = -1
            uncover(x, r, p.pos_l, p.pos_r)
        p.owner = -2
        release(x, i)


cdef inline int32_t new_pair(Net* x) noexcept nogil:
    x.n_free -= 1
    return x.free_ids[x.n_free]


cdef inline void drop(Net* x, int32_t i) noexcept nogil:
    x.pool[i].owner = -2
    release(x, i)


cdef void generate(Net* x, int64_t t) noexcept nogil:
    cdef int k, e, a, b, j
    cdef int32_t i
    cdef double f
    cdef int start = <int>(t % x.E)
    for k in range(x.E):
        e = start + k
        if e >= x.E:
            e -= x.E
        if x.occ[2 * e] or x.occ[2 * e + 1] or x.cover[e]:
            continue
        a = x.ea[e]
        b = x.eb[e]
        if x.used[a] >= x.mem[a] or x.used[b] >= x.mem[b]:
            continue
        if next_double(&x.s) >= x.ep[e]:
            continue
        i = new_pair(x)
        x.used[a] += 1
        x.used[b] += 1
        x.pool[i].a = a
        x.pool[i].b = b
        x.pool[i].ma = 2 * e
        x.pool[i].mb = 2 * e + 1
        x.occ[2 * e] = 1
        x.occ[2 * e + 1] = 1
        x.pool[i].owner = -1
        x.pool[i].edge = e
        x.pool[i].birth = t
        x.pool[i].t = t
        f = x.ef[e]
        x.pool[i].c[0] = f
        for j in range(1, 4):
            x.pool[i].c[j] = (1.0 - f) / 3.0
        x.edge_pair[e] = i


cdef void single_path(Net* x, int r, int64_t t) noexcept nogil:
    cdef int32_t off = x.path_ptr[r]
    cdef int32_t n = x.path_ptr[r + 1] - off
    cdef int32_t* own = x.own + off + r
    cdef const int32_t* nodes = x.path_node + off + r
    cdef int32_t pos = 0, q, L, Rp, k
    cdef Pair* pl
    cdef Pair* pr
    # claim the unclaimed link pairs on the path
    while pos < n:
        q = own[pos]
        if q >= 0:
            pos = x.pool[q].pos_r
            continue
        q = x.edge_pair[x.path_edge[off + pos]]
        if q >= 0:
            x.edge_pair[x.path_edge[off + pos]] = -1
            x.cover[x.path_edge[off + pos]] = 1
            pl = &x.pool[q]
            pl.owner = r
            if pl.a != nodes[pos]:          # orient the pair along the path
                pl.a, pl.b = pl.b, pl.a
                pl.ma, pl.mb = pl.mb, pl.ma
            pl.pos_l = pos
            pl.pos_r = pos + 1
            own[pos] = q
        pos += 1
    # swap as soon as possible, left to right
    pos = 0
    while pos < n:
        L = own[pos]
        if L < 0:
            pos += 1
            continue
        k = x.pool[L].pos_r
        if k >= n:
            break
        Rp = own[k]
        if Rp < 0:
            pos = k
            continue
        pl = &x.pool[L]
        pr = &x.pool[Rp]
        decohere(x, pl, t)
        decohere(x, pr, t)
        own[k] = -1
        if swap_ok(x):
            compose(pl.c, pr.c)
            x.used[nodes[k]] -= 2          # the middle node's two qubits are measured
            x.occ[pl.mb] = 0
            x.occ[pr.ma] = 0
            pl.b = pr.b
            pl.mb = pr.mb
            pl.pos_r = pr.pos_r
            if pr.birth < pl.birth:
                pl.birth = pr.birth
            pr.owner = -2
            x.free_ids[x.n_free] = Rp
            x.n_free += 1
        else:
            own[pos] = -1
            uncover(x, r, pl.pos_l, pr.pos_r)
            drop(x, L)
            drop(x, Rp)
            pos = k
    L = own[0]
    if L >= 0 and x.pool[L].pos_r == n:
        decohere(x, &x.pool[L], t)
        record(x, r, x.pool[L].c[0], t)
        own[0] = -1
        uncover(x, r, 0, n)
        drop(x, L)


cdef int32_t bfs(Net* x, int32_t s, int32_t d) noexcept nogil:
    """Shortest path s -> d over links holding an unclaimed pair; returns its
    length (prev_edge filled) or -1."""
    cdef int32_t head = 0, tail = 0, v, j, e, u
    x.stamp_now += 1
    x.stamp[s] = x.stamp_now
    x.queue[tail] = s
    x.prev_edge[s] = -1
    tail += 1
    while head < tail:
        v = x.queue[head]
        head += 1
        for j in range(x.adj_ptr[v], x.adj_ptr[v + 1]):
            e = x.adj_edge[j]
            if x.edge_pair[e] < 0:
                continue
            u = other_end(x, e, v)
            if x.stamp[u] == x.stamp_now:
                continue
            x.stamp[u] = x.stamp_now
            x.prev_edge[u] = e
            if u == d:
                return _path_len(x, s, d)
            x.queue[tail] = u
            tail += 1
    return -1


cdef int32_t _path_len(Net* x, int32_t s, int32_t d) noexcept nogil:
    cdef int32_t n = 0, v = d
    while v != s:
        v = other_end(x, x.prev_edge[v], v)
        n += 1
    return n


cdef void consume_chain(Net* x, int r, int32_t n, int64_t t, bint ok) noexcept nogil:
    """Swap along the ``n`` links in ``x.chain`` (their pairs are consumed);
    deliver to request r when every swap succeeds (``ok`` and the draws)."""
    cdef int32_t k, i
    cdef double c[4]
    cdef int j
    c[0] = c[1] = c[2] = c[3] = 0.0
    for k in range(n):
        i = x.edge_pair[x.chain[k]]
        decohere(x, &x.pool[i], t)
        if k == 0:
            for j in range(4):
                c[j] = x.pool[i].c[j]
        else:
            compose(c, x.pool[i].c)
            if ok and not swap_ok(x):
                ok = False
        x.edge_pair[x.chain[k]] = -1
        drop(x, i)
    if ok:
        record(x, r, c[0], t)


cdef void multipath(Net* x, int64_t t) noexcept nogil:
    cdef int k, r, best
    cdef int32_t n, best_n, v
    while True:
        best = -1
        best_n = 0
        for k in range(x.R):
            r = <int>((t + k) % x.R)
            n = bfs(x, x.src[r], x.dst[r])
            if n > 0 and (best < 0 or n < best_n):
                best = r
                best_n = n
        if best < 0:
            return
        bfs(x, x.src[best], x.dst[best])
        v = x.dst[best]
        for k in range(best_n):
            x.chain[k] = x.prev_edge[v]
            v = other_end(x, x.prev_edge[v], v)
        consume_chain(x, best, best_n, t, True)


cdef void local(Net* x, int r, int64_t t) noexcept nogil:
    cdef const int32_t* ds = x.dist + <int64_t>r * 2 * x.N
    cdef const int32_t* dt = ds + x.N
    cdef int32_t s = x.src[r], d = x.dst[r], v, j, e, u, e1, e2, b1, b2, n, cur, nxt
    cdef int k
    for k in range(2 * x.E):
        x.mate[k] = -1
    for v in range(x.N):
        if v == s or v == d or ds[v] < 0:
            continue
        e1 = -1
        e2 = -1
        b1 = ds[v]
        b2 = dt[v]
        for j in range(x.adj_ptr[v], x.adj_ptr[v + 1]):
            e = x.adj_edge[j]
            if x.edge_pair[e] < 0:
                continue
            u = other_end(x, e, v)
            if 0 <= ds[u] < b1:
                b1 = ds[u]
                e1 = e
        for j in range(x.adj_ptr[v], x.adj_ptr[v + 1]):
            e = x.adj_edge[j]
            if x.edge_pair[e] < 0 or e == e1:
                continue
            u = other_end(x, e, v)
            if 0 <= dt[u] < b2:
                b2 = dt[u]
                e2 = e
        if e1 >= 0 and e2 >= 0:
            x.mate[2 * e1 + (0 if x.ea[e1] == v else 1)] = e2
            x.mate[2 * e2 + (0 if x.ea[e2] == v else 1)] = e1
    # follow the chains that start at the source
    for j in range(x.adj_ptr[s], x.adj_ptr[s + 1]):
        e = x.adj_edge[j]
        if x.edge_pair[e] < 0:
            continue
        cur = s
        n = 0
        while n < x.E:
            x.chain[n] = e
            n += 1
            u = other_end(x, e, cur)
            if u == d:
                consume_chain(x, r, n, t, True)
                break
            if u == s:
                break
            nxt = x.mate[2 * e + (0 if x.ea[e] == u else 1)]
            if nxt < 0 or x.edge_pair[nxt] < 0:
                break
            cur = u
            e = nxt
    # every other pair a node swapped is consumed too (it cannot know the outcome)
    for e in range(x.E):
        if x.edge_pair[e] >= 0 and (x.mate[2 * e] >= 0 or x.mate[2 * e + 1] >= 0):
            drop(x, x.edge_pair[e])
            x.edge_pair[e] = -1


cdef int _check_graph(int N, int E, const int32_t[::1] edge_a, const int32_t[::1] edge_b,
                      const int32_t[::1] adj_ptr, const int32_t[::1] adj_edge) except -1:
    cdef int e, v, j
    check_i32("edge_a", &edge_a[0], E, 0, N - 1)
    check_i32("edge_b", &edge_b[0], E, 0, N - 1)
    for e in range(E):
        if edge_a[e] == edge_b[e]:
            raise ValueError(f"link {e} joins node {edge_a[e]} to itself")
    check_len("adj_ptr", adj_ptr.shape[0], N + 1)
    check_len("adj_edge", adj_edge.shape[0], 2 * E)
    check_i32("adj_ptr", &adj_ptr[0], N + 1, 0, 2 * E)
    if adj_ptr[0] != 0 or adj_ptr[N] != 2 * E:
        raise ValueError(f"adj_ptr must start at 0 and end at 2 E = {2 * E}")
    for v in range(N):
        if adj_ptr[v + 1] < adj_ptr[v]:
            raise ValueError(f"adj_ptr must be non-decreasing (node {v})")
        for j in range(adj_ptr[v], adj_ptr[v + 1]):
            e = adj_edge[j]
            if e < 0 or e >= E or (edge_a[e] != v and edge_b[e] != v):
                raise ValueError(f"adj_edge[{j}] = {e} is not a link of node {v}")
    return 0


def simulate_routing(seed, purpose, slots, policy, swap_prob, memory_slots,
                     const int32_t[::1] edge_a not None, const int32_t[::1] edge_b not None,
                     const double[::1] edge_p not None, const double[::1] edge_f0 not None,
                     const int32_t[::1] adj_ptr not None, const int32_t[::1] adj_edge not None,
                     const int32_t[::1] node_mem not None, const double[::1] node_decay not None,
                     const int64_t[::1] node_life not None,
                     const int32_t[::1] req_src not None, const int32_t[::1] req_dst not None,
                     const int32_t[::1] path_ptr not None, const int32_t[::1] path_node not None,
                     const int32_t[::1] path_edge not None, const int32_t[::1] dist not None,
                     int64_t[::1] delivered not None, double[::1] fid_sum not None,
                     double[::1] fid_sq not None, int64_t[::1] hits not None,
                     double[::1] lat_sum not None, double[::1] lat_sq not None,
                     int64_t[::1] lat_max not None, int64_t[:, ::1] lat_hist not None):
    """Run ``slots`` time slots of the network (see the module docstring).

    ``policy``: a code of ``POLICY_CODES``.  ``node_decay[v]``: dephasing
    rate of a qubit at v per slot (slot_s / T2; 0 = perfect memory);
    ``node_life[v]``: slots a qubit may be stored at v (>= 1).  For the
    single-path policy request r's path is ``path_edge[path_ptr[r]:
    path_ptr[r+1]]`` with nodes ``path_node[path_ptr[r] + r: path_ptr[r+1] + r
    + 1]``.  ``dist`` (R x 2 x N, -1 = unreachable): hop distances of each
    node to the request's source and target (local policy).  Adds to the
    per-request outputs (overwritten): pairs delivered, sum and sum of
    squares of their fidelities, slots with a delivery, latency sum, sum of
    squares, maximum and histogram (``lat_hist[r, k]``: latency of k slots,
    the last column collects the longer ones).
    """
    cdef uint64_t seed_ = int_arg("seed", seed, 0, 2**64 - 1)
    cdef uint32_t purpose_ = int_arg("purpose", purpose, 0, 2**32 - 1)
    cdef int64_t slots_ = int_arg("slots", slots, 0, MAX_SLOTS)
    cdef int policy_ = int_arg("policy", policy, SINGLE_PATH, LOCAL)
    cdef double swap_p = real_arg("swap_prob", swap_prob, 0.0, 1.0)
    cdef int64_t mslots = int_arg("memory_slots", memory_slots, 1, 2**62)
    cdef int N = node_mem.shape[0]
    cdef int E = edge_a.shape[0]
    cdef int R = req_src.shape[0]
    cdef int v, r, k
    cdef int64_t total_mem = 0
    if N < 2 or N > 2**24:
        raise ValueError(f"the network has {N} nodes: must be in [2, {2**24}]")
    if E < 1 or E > 2**24:
        raise ValueError(f"the network has {E} links: must be in [1, {2**24}]")
    if R < 1 or R > 2**16:
        raise ValueError(f"there are {R} requests: must be in [1, {2**16}]")
    check_len("edge_b", edge_b.shape[0], E)
    check_len("edge_p", edge_p.shape[0], E)
    check_len("edge_f0", edge_f0.shape[0], E)
    check_doubles("edge_p", &edge_p[0], E, 0.0, 1.0)
    check_doubles("edge_f0", &edge_f0[0], E, 0.25, 1.0)
    _check_graph(N, E, edge_a, edge_b, adj_ptr, adj_edge)
    check_len("node_decay", node_decay.shape[0], N)
    check_len("node_life", node_life.shape[0], N)
    check_i32("node_mem", &node_mem[0], N, 0, 2**20)
    check_doubles("node_decay", &node_decay[0], N, 0.0, 1e300)
    check_i64("node_life", &node_life[0], N, 1, 2**62)
    for v in range(N):
        total_mem += node_mem[v]
    if total_mem > 2**30:
        raise ValueError(f"node_mem adds up to {total_mem}: at most {2**30} memories")
    check_len("req_dst", req_dst.shape[0], R)
    check_i32("req_src", &req_src[0], R, 0, N - 1)
    check_i32("req_dst", &req_dst[0], R, 0, N - 1)
    for r in range(R):
        if req_src[r] == req_dst[r]:
            raise ValueError(f"request {r} joins node {req_src[r]} to itself")
    check_len("path_ptr", path_ptr.shape[0], R + 1)
    check_i32("path_ptr", &path_ptr[0], R + 1, 0, path_edge.shape[0])
    if path_ptr[0] != 0 or path_ptr[R] != path_edge.shape[0]:
        raise ValueError("path_ptr must start at 0 and end at len(path_edge)")
    check_len("path_node", path_node.shape[0], path_edge.shape[0] + R)
    if path_edge.shape[0] > 0:
        check_i32("path_edge", &path_edge[0], path_edge.shape[0], 0, E - 1)
    check_i32("path_node", &path_node[0], path_node.shape[0], 0, N - 1)
    for r in range(R):
        if path_ptr[r + 1] < path_ptr[r]:
            raise ValueError(f"path_ptr must be non-decreasing (request {r})")
        if policy_ == SINGLE_PATH and path_ptr[r + 1] == path_ptr[r]:
            raise ValueError(f"request {r} has no path (single-path policy)")
        if path_node[path_ptr[r] + r] != req_src[r] or path_node[path_ptr[r + 1] + r] != req_dst[r]:
            raise ValueError(f"the path of request {r} must run from its source to its target")
        for k in range(path_ptr[r], path_ptr[r + 1]):
            v = path_edge[k]
            if not ((edge_a[v] == path_node[k + r] and edge_b[v] == path_node[k + r + 1]) or
                    (edge_b[v] == path_node[k + r] and edge_a[v] == path_node[k + r + 1])):
                raise ValueError(f"path_edge[{k}] = {v} does not join the path's nodes")
    check_len("dist", dist.shape[0], 2 * <Py_ssize_t>R * N)
    check_i32("dist", &dist[0], dist.shape[0], -1, N)
    for name, arr in (("delivered", delivered), ("fid_sum", fid_sum), ("fid_sq", fid_sq),
                      ("hits", hits), ("lat_sum", lat_sum), ("lat_sq", lat_sq),
                      ("lat_max", lat_max)):
        check_len(name, arr.shape[0], R)
    check_len("lat_hist rows", lat_hist.shape[0], R)
    if lat_hist.shape[1] < 2:
        raise ValueError("lat_hist needs at least 2 columns")

    cdef Net x
    cdef int64_t t
    cdef int32_t i
    x.N = N
    x.E = E
    x.R = R
    x.swap_prob = swap_p
    x.memory_slots = mslots
    x.ea = &edge_a[0]
    x.eb = &edge_b[0]
    x.ep = &edge_p[0]
    x.ef = &edge_f0[0]
    x.adj_ptr = &adj_ptr[0]
    x.adj_edge = &adj_edge[0]
    x.mem = &node_mem[0]
    x.decay = &node_decay[0]
    x.life = &node_life[0]
    x.src = &req_src[0]
    x.dst = &req_dst[0]
    x.path_ptr = &path_ptr[0]
    x.path_node = &path_node[0]
    x.path_edge = &path_edge[0] if path_edge.shape[0] > 0 else NULL
    x.dist = &dist[0]
    x.delivered = &delivered[0]
    x.fid_sum = &fid_sum[0]
    x.fid_sq = &fid_sq[0]
    x.hits = &hits[0]
    x.lat_sum = &lat_sum[0]
    x.lat_sq = &lat_sq[0]
    x.lat_max = &lat_max[0]
    x.lat_hist = &lat_hist[0, 0]
    x.H = <int>min(lat_hist.shape[1], 2**30)
    # Every pair holds two memories: at most total_mem / 2 pairs are alive.
    x.P = <int32_t>(total_mem // 2 + 1)
    x.n_free = x.P
    x.stamp_now = 0
    x.pool = <Pair*>malloc(x.P * sizeof(Pair))
    x.free_ids = <int32_t*>malloc(x.P * sizeof(int32_t))
    x.edge_pair = <int32_t*>malloc(E * sizeof(int32_t))
    x.used = <int32_t*>malloc(N * sizeof(int32_t))
    x.occ = <int32_t*>malloc(2 * E * sizeof(int32_t))
    x.cover = <int32_t*>malloc(E * sizeof(int32_t))
    x.own = <int32_t*>malloc((path_node.shape[0] + 1) * sizeof(int32_t))
    x.last = <int64_t*>malloc(R * sizeof(int64_t))
    x.stamp = <int64_t*>malloc(N * sizeof(int64_t))
    x.queue = <int32_t*>malloc(N * sizeof(int32_t))
    x.prev_edge = <int32_t*>malloc(N * sizeof(int32_t))
    x.mate = <int32_t*>malloc(2 * E * sizeof(int32_t))
    x.chain = <int32_t*>malloc((E + 1) * sizeof(int32_t))
    try:
        if (x.pool == NULL or x.free_ids == NULL or x.edge_pair == NULL or x.used == NULL or x.occ == NULL or x.cover == NULL
                or x.own == NULL or x.last == NULL or x.stamp == NULL or x.queue == NULL
                or x.prev_edge == NULL or x.mate == NULL or x.chain == NULL):
            raise MemoryError("routing kernel: cannot allocate its state")
        for i in range(x.P):
            x.free_ids[i] = x.P - 1 - i
            x.pool[i].owner = -2
        for i in range(E):
            x.edge_pair[i] = -1
            x.occ[2 * i] = 0
            x.occ[2 * i + 1] = 0
            x.cover[i] = 0
        for i in range(N):
            x.used[i] = 0
            x.stamp[i] = 0
        for i in range(path_node.shape[0] + 1):
            x.own[i] = -1
        for i in range(R):
            x.last[i] = -1
            delivered[i] = 0
            fid_sum[i] = 0.0
            fid_sq[i] = 0.0
            hits[i] = 0
            lat_sum[i] = 0.0
            lat_sq[i] = 0.0
            lat_max[i] = 0
            for k in range(lat_hist.shape[1]):
                lat_hist[i, k] = 0
        with nogil:
            for t in range(slots_):
                stream_init(&x.s, seed_, purpose_, <uint32_t>(t >> BLOCK_SHIFT))
                x.s.index = (<uint64_t>(t & ((1 << BLOCK_SHIFT) - 1))) << INDEX_SHIFT
                _expire_scan(&x, t)
                generate(&x, t)
                if policy_ == MULTIPATH:
                    multipath(&x, t)
                else:
                    for k in range(R):
                        r = <int>((t + k) % R)
                        if policy_ == SINGLE_PATH:
                            single_path(&x, r, t)
                        else:
                            local(&x, r, t)
    finally:
        free(x.pool)
        free(x.free_ids)
        free(x.edge_pair)
        free(x.used)
        free(x.occ)
        free(x.cover)
        free(x.own)
        free(x.last)
        free(x.stamp)
        free(x.queue)
        free(x.prev_edge)
        free(x.mate)
        free(x.chain)
    return None
