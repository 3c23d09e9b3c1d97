/* Cascade information reconciliation: the C kernel of cascade.pyx (see its
 * header for the protocol and the simulation shortcut).  Included by cascade.pyx. */
#ifndef QC_CASCADE_IMPL_H
#define QC_CASCADE_IMPL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef void (*cs_keyfn)(uint64_t seed, uint32_t frame, uint32_t q, uint64_t *out);

#define CS_MAXPASS 1023        /* pass ids fit in 10 bits of a node key */
#define CS_MAXBITS ((1u << 27) - 1)  /* positions and ends fit in 27 bits */

typedef struct {
    int npasses;                /* normal passes */
    const int64_t *ksched;      /* k > 0: block size; k = -d: n // d */
    int sub_block_reuse;        /* cascade into known sub-blocks, not only top blocks */
    int biconf_streak;          /* 0: no BICONF; else stop after this many clean iterations */
    int biconf_max;             /* cap on BICONF iterations */
    int biconf_cascade;
    int biconf_complement;
    uint64_t seed;
    cs_keyfn keyfn;
} cs_params;

typedef struct { uint32_t pos, eid; } cs_pe;
/* a node of the BINARY tree of a top-level block: positions [lo, hi) of
   pass q, heap index h inside its top-level block (root 1, children 2h, 2h+1) */
typedef struct { uint32_t q, lo, hi, h; } cs_node;

typedef struct {
    /* errors */
    uint32_t n, nerr, ncorr;
    uint32_t *E;                /* bit index of error eid */
    uint8_t *alive;
    uint32_t cap_err;
    /* passes */
    int npass;
    uint32_t k[CS_MAXPASS];
    int w[CS_MAXPASS];
    int casc[CS_MAXPASS];
    int sh[CS_MAXPASS];              /* log2 of the heap-index range of a block tree */
    uint64_t key[CS_MAXPASS][4];
    cs_pe *plist[CS_MAXPASS];        /* (position, eid) of errors live at pass start, by position */
    uint32_t plen[CS_MAXPASS];
    uint32_t *pos[CS_MAXPASS];       /* pos[q][eid]; only for eids live when q started */
    uint32_t *bstart[CS_MAXPASS];    /* first plist index of every top-level block (+ end) */
    uint64_t *known[CS_MAXPASS];     /* bitmap: Alice's parity of the node is known to Bob */
    uint64_t *pend[CS_MAXPASS];      /* bitmap: parity requested in the current batch */
    /* priority queue: keys (size << 32 | seq), node of push seq in nodes[seq] */
    uint64_t *heap; size_t hlen, hcap;
    cs_node *nodes; size_t ncap; uint32_t seq;
    uint32_t *cnt; size_t cntcap;     /* counting-sort scratch */
    cs_pe *tmp; size_t tmpcap;
    /* pending asks */
    cs_node *ask_child; cs_node *ask_parent; size_t nask, askcap;
    /* accounting */
    uint64_t leak, rounds;
    uint32_t frame;
    const cs_params *P;
} cs_state;

/* ---------------- permutation ---------------- */
static inline uint32_t cs_round(uint32_t R, uint64_t k, int w) {
    uint64_t h = ((uint64_t)R ^ k) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29; h *= 0xBF58476D1CE4E5B9ULL; h ^= h >> 32;
    return (uint32_t)(h >> (64 - w));
}
static inline uint32_t cs_feistel(uint32_t x, int w, const uint64_t *key) {
    uint32_t mask = (1u << w) - 1, L = x >> w, R = x & mask, t;
    int r;
    for (r = 0; r < 4; r++) { t = L ^ cs_round(R, key[r], w); L = R; R = t; }
    return (L << w) | R;
}
/* position of bit x in a pass: Feistel with cycle walking into [0, n) */
static inline uint32_t cs_perm(uint32_t x, uint32_t n, int w, const uint64_t *key) {
    do { x = cs_feistel(x, w, key); } while (x >= n);
    return x;
}
static int cs_halfwidth(uint32_t n) {
    int w = 1;
    while (((uint64_t)1 << (2 * w)) < n) w++;
    return w;
}

/* ---------------- node bitmaps ---------------- */
static inline size_t cs_bit(const cs_state *S, const cs_node *v) {
    return ((size_t)(v->lo / S->k[v->q]) << S->sh[v->q]) + v->h;
}
static inline int cs_tst(const uint64_t *m, size_t i) { return (int)((m[i >> 6] >> (i & 63)) & 1); }
static inline void cs_set(uint64_t *m, size_t i) { m[i >> 6] |= (uint64_t)1 << (i & 63); }
static inline void cs_clr(uint64_t *m, size_t i) { m[i >> 6] &= ~((uint64_t)1 << (i & 63)); }
static inline int cs_known(const cs_state *S, const cs_node *v) { return cs_tst(S->known[v->q], cs_bit(S, v)); }
static inline void cs_learn(cs_state *S, const cs_node *v) { cs_set(S->known[v->q], cs_bit(S, v)); }

/* ---------------- heap (smallest block first, then FIFO) ---------------- */
static int cs_push(cs_state *S, cs_node v) {
    size_t i;
    uint64_t key;
    if (S->hlen == S->hcap) {
        size_t nc = S->hcap ? 2 * S->hcap : 256;
        uint64_t *nh = (uint64_t *)realloc(S->heap, nc * sizeof(uint64_t));
        if (!nh) return -1;
        S->heap = nh; S->hcap = nc;
    }
    if (S->seq == S->ncap) {
        size_t nc = S->ncap ? 2 * S->ncap : 1024;
        cs_node *nn = (cs_node *)realloc(S->nodes, nc * sizeof(cs_node));
        if (!nn) return -1;
        S->nodes = nn; S->ncap = nc;
    }
    S->nodes[S->seq] = v;
    key = ((uint64_t)(v.hi - v.lo) << 32) | S->seq++;
    i = S->hlen++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (S->heap[p] <= key) break;
        S->heap[i] = S->heap[p]; i = p;
    }
    S->heap[i] = key;
    return 0;
}
static cs_node cs_pop(cs_state *S) {
    uint64_t top = S->heap[0], last = S->heap[--S->hlen];
    size_t i = 0, n = S->hlen;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && S->heap[c + 1] < S->heap[c]) c++;
        if (S->heap[c] >= last) break;
        S->heap[i] = S->heap[c]; i = c;
    }
    if (n) S->heap[i] = last;
    return S->nodes[(uint32_t)top];
}

/* ---------------- error bookkeeping ---------------- */
/* first index in plist[q] with pos >= v: linear from the start of v's
   top-level block (blocks hold few entries) */
static inline size_t cs_lower(const cs_state *S, uint32_t q, uint32_t v) {
    const cs_pe *a = S->plist[q];
    size_t i = S->bstart[q][v / S->k[q]], n = S->plen[q];
    while (i < n && a[i].pos < v) i++;
    return i;
}
/* parity of the errors still present in positions [lo, hi) of pass q */
static inline int cs_errpar(const cs_state *S, uint32_t q, uint32_t lo, uint32_t hi) {
    const cs_pe *a = S->plist[q];
    size_t i = cs_lower(S, q, lo), n = S->plen[q];
    int par = 0;
    for (; i < n && a[i].pos < hi; i++) par ^= S->alive[a[i].eid];
    return par;
}

static int cs_sort_pe(const void *a, const void *b) {
    uint32_t x = ((const cs_pe *)a)->pos, y = ((const cs_pe *)b)->pos;
    return (x > y) - (x < y);
}

/* start a pass with block size k: positions of the live errors, sorted */
static int cs_start_pass(cs_state *S, uint32_t k, int casc) {
    int q = S->npass, d = 0;
    uint32_t e, m = 0, nb = (S->n + k - 1) / k, bi, j = 0;
    size_t nbits, nw;
    while (((uint32_t)1 << d) < k) d++;          /* tree depth: ceil(log2 k) */
    S->k[q] = k; S->w[q] = cs_halfwidth(S->n); S->casc[q] = casc; S->sh[q] = d + 1;
    S->P->keyfn(S->P->seed, S->frame, (uint32_t)q, S->key[q]);
    nbits = (size_t)nb << (d + 1);
    nw = (nbits + 63) / 64;
    S->plist[q] = (cs_pe *)malloc((S->nerr - S->ncorr + 1) * sizeof(cs_pe));
    S->pos[q] = (uint32_t *)malloc((S->nerr + 1) * sizeof(uint32_t));
    S->bstart[q] = (uint32_t *)malloc(((size_t)nb + 1) * sizeof(uint32_t));
    S->known[q] = (uint64_t *)calloc(nw, sizeof(uint64_t));
    S->pend[q] = (uint64_t *)calloc(nw, sizeof(uint64_t));
    S->npass = q + 1;
    if (!S->plist[q] || !S->pos[q] || !S->bstart[q] || !S->known[q] || !S->pend[q]) return -1;
    if (S->tmpcap < S->nerr + 1 || S->cntcap < (size_t)nb + 1) {
        size_t tc = S->nerr + 1 > S->tmpcap ? S->nerr + 1 : S->tmpcap;
        size_t cc = (size_t)nb + 1 > S->cntcap ? (size_t)nb + 1 : S->cntcap;
        cs_pe *t = (cs_pe *)realloc(S->tmp, tc * sizeof(cs_pe));
        uint32_t *c;
        if (!t) return -1;
        S->tmp = t; S->tmpcap = tc;
        c = (uint32_t *)realloc(S->cnt, cc * sizeof(uint32_t));
        if (!c) return -1;
        S->cnt = c; S->cntcap = cc;
    }
    memset(S->bstart[q], 0, ((size_t)nb + 1) * sizeof(uint32_t));
    for (e = 0; e < S->nerr; e++) {
        uint32_t p;
        if (!S->alive[e]) { S->pos[q][e] = 0xFFFFFFFFu; continue; }
        p = S->pos[q][e] = cs_perm(S->E[e], S->n, S->w[q], S->key[q]);
        S->tmp[m].pos = p; S->tmp[m].eid = e; m++;
        S->bstart[q][p / k + 1]++;
    }
    /* counting sort by block, insertion sort inside each (few entries) */
    for (bi = 0; bi < nb; bi++) S->bstart[q][bi + 1] += S->bstart[q][bi];
    memcpy(S->cnt, S->bstart[q], (size_t)nb * sizeof(uint32_t));
    for (j = 0; j < m; j++) S->plist[q][S->cnt[S->tmp[j].pos / k]++] = S->tmp[j];
    for (bi = 0; bi < nb; bi++) {
        uint32_t s0 = S->bstart[q][bi], s1 = S->bstart[q][bi + 1], x;
        cs_pe *a = S->plist[q];
        if (s1 - s0 > 32) { qsort(a + s0, s1 - s0, sizeof(cs_pe), cs_sort_pe); continue; }
        for (x = s0 + 1; x < s1; x++) {
            cs_pe t = a[x];
            uint32_t y = x;
            while (y > s0 && a[y - 1].pos > t.pos) { a[y] = a[y - 1]; y--; }
            a[y] = t;
        }
    }
    S->plen[q] = m;
    return 0;
}

/* cascade effect: blocks (and, with sub-block reuse, known sub-blocks) of
   every pass that contain the corrected error and are now odd */
static int cs_cascade(cs_state *S, uint32_t eid) {
    int q;
    for (q = 0; q < S->npass; q++) {
        uint32_t p, k;
        cs_node v;
        if (!S->casc[q]) continue;
        p = S->pos[q][eid];
        if (p == 0xFFFFFFFFu) continue;
        k = S->k[q];
        v.q = (uint32_t)q; v.lo = p - p % k; v.hi = v.lo + k; v.h = 1;
        if (v.hi > S->n) v.hi = S->n;
        if (!cs_known(S, &v)) continue;
        if (cs_errpar(S, v.q, v.lo, v.hi) && cs_push(S, v)) return -1;
        if (!S->P->sub_block_reuse) continue;
        while (v.hi - v.lo > 1) {
            uint32_t mid = v.lo + (v.hi - v.lo + 1) / 2;
            if (p < mid) { v.hi = mid; v.h = 2 * v.h; } else { v.lo = mid; v.h = 2 * v.h + 1; }
            /* parities are learnt top-down (asked or inferred below a known
               node), so below an unknown node nothing is known */
            if (!cs_known(S, &v)) break;
            if (cs_errpar(S, v.q, v.lo, v.hi) && cs_push(S, v)) return -1;
        }
    }
    return 0;
}

static int cs_correct(cs_state *S, uint32_t q, uint32_t pos) {
    size_t i = cs_lower(S, q, pos);
    uint32_t eid;
    /* BINARY on an odd node ends on a live error: plist[q][i] has this position */
    eid = S->plist[q][i].eid;
    S->alive[eid] = 0;
    S->ncorr++;
    if (S->casc[q]) return cs_cascade(S, eid);
    return 0;
}

static int cs_ask(cs_state *S, cs_node child, cs_node parent) {
    size_t bit = cs_bit(S, &child);
    if (cs_tst(S->pend[child.q], bit)) return 0;   /* already asked in this batch */
    cs_set(S->pend[child.q], bit);
    if (S->nask == S->askcap) {
        size_t nc = S->askcap ? 2 * S->askcap : 256;
        cs_node *a = (cs_node *)realloc(S->ask_child, nc * sizeof(cs_node));
        cs_node *b;
        if (!a) return -1;
        S->ask_child = a;
        b = (cs_node *)realloc(S->ask_parent, nc * sizeof(cs_node));
        if (!b) return -1;
        S->ask_parent = b; S->askcap = nc;
    }
    S->ask_child[S->nask] = child; S->ask_parent[S->nask] = parent; S->nask++;
    return 0;
}

/* BINARY from a known node with odd error parity */
static int cs_descend(cs_state *S, cs_node v) {
    while (v.hi - v.lo > 1) {
        uint32_t mid = v.lo + (v.hi - v.lo + 1) / 2;
        cs_node L = {v.q, v.lo, mid, 2 * v.h}, R = {v.q, mid, v.hi, 2 * v.h + 1};
        if (!cs_known(S, &L)) {
            if (cs_known(S, &R)) {
                cs_learn(S, &L);       /* parent and right sibling known: left inferred */
            } else {
                return cs_ask(S, L, v);
            }
        }
        if (cs_errpar(S, v.q, L.lo, L.hi)) {
            v = L;
        } else {
            cs_learn(S, &R);           /* inferred from parent and left */
            v = R;
        }
    }
    return cs_correct(S, v.q, v.lo);
}

static int cs_process(cs_state *S) {
    size_t i, sent;
    for (;;) {
        while (S->hlen) {
            cs_node v = cs_pop(S);
            if (!cs_errpar(S, v.q, v.lo, v.hi)) continue;
            if (cs_descend(S, v)) return -1;
        }
        if (!S->nask) break;
        /* one message: Alice answers every queued parity (questions whose
           answer Bob has meanwhile inferred are dropped before sending) */
        sent = 0;
        for (i = 0; i < S->nask; i++) sent += !cs_known(S, &S->ask_child[i]);
        S->leak += sent;
        if (sent) S->rounds++;
        for (i = 0; i < S->nask; i++) {
            cs_node c = S->ask_child[i];
            size_t bit = cs_bit(S, &c);
            cs_set(S->known[c.q], bit);
            cs_clr(S->pend[c.q], bit);
            if (cs_push(S, S->ask_parent[i])) return -1;
        }
        S->nask = 0;
    }
    return 0;
}

/* disclose the top-level parities [0, ntop) of the newest pass (one message) */
static int cs_top(cs_state *S, uint32_t ntop) {
    int q = S->npass - 1;
    uint32_t k = S->k[q], i, b, last = 0xFFFFFFFFu;
    int par = 0;
    for (b = 0; b < ntop; b++) cs_set(S->known[q], (size_t)b << S->sh[q] | 1u);
    S->leak += ntop;
    S->rounds++;
    /* odd blocks from the sorted live errors */
    for (i = 0; i <= S->plen[q]; i++) {
        b = (i < S->plen[q]) ? S->plist[q][i].pos / k : 0xFFFFFFFEu;
        if (b != last) {
            if (par && last < ntop) {
                cs_node v;
                v.q = (uint32_t)q; v.lo = last * k; v.hi = v.lo + k; v.h = 1;
                if (v.hi > S->n) v.hi = S->n;
                if (cs_push(S, v)) return -1;
            }
            par = 0; last = b;
        }
        if (i < S->plen[q]) par ^= S->alive[S->plist[q][i].eid];
    }
    return 0;
}

static void cs_free_passes(cs_state *S) {
    int q;
    for (q = 0; q < S->npass; q++) {
        free(S->plist[q]); free(S->pos[q]); free(S->bstart[q]); free(S->known[q]); free(S->pend[q]);
        S->plist[q] = NULL; S->pos[q] = NULL; S->bstart[q] = NULL; S->known[q] = NULL; S->pend[q] = NULL;
    }
    S->npass = 0;
}

/* one frame; a, b: n bytes; bob (output) gets b with the corrected bits flipped */
static int cs_frame(cs_state *S, const uint8_t *a, const uint8_t *b, uint8_t *bob, uint32_t n,
                    uint64_t *leak, uint64_t *rounds, uint32_t *residual, uint32_t *biconf_iters,
                    uint32_t *errors) {
    const cs_params *P = S->P;
    uint32_t i, e, nerr = 0;
    int q, rc = 0;
    memcpy(bob, b, n);
    for (i = 0; i < n; i++) nerr += (a[i] != b[i]);
    *errors = nerr;
    if (nerr > S->cap_err) {
        uint32_t *E = (uint32_t *)realloc(S->E, (size_t)nerr * sizeof(uint32_t));
        uint8_t *al;
        if (!E) return -1;
        S->E = E;
        al = (uint8_t *)realloc(S->alive, nerr);
        if (!al) return -1;
        S->alive = al; S->cap_err = nerr;
    }
    for (i = 0, e = 0; i < n; i++) if (a[i] != b[i]) S->E[e++] = i;
    if (nerr) memset(S->alive, 1, nerr);      /* alive is NULL while no frame had errors */
    S->n = n; S->nerr = nerr; S->ncorr = 0; S->npass = 0;
    S->leak = 0; S->rounds = 0; S->hlen = 0; S->seq = 0; S->nask = 0;
    *biconf_iters = 0;
    for (q = 0; q < P->npasses && rc == 0; q++) {
        /* block size: kk > 0 bits, kk = -d: n / d; capped at the frame in
           int64 before the narrowing cast (a block size past 2^32 would wrap);
           kk = 0 is rejected by the caller (it would divide by zero) */
        int64_t kk = P->ksched[q];
        int64_t kb = kk > 0 ? kk : ((kk < 0 && kk != INT64_MIN) ? (int64_t)n / (-kk) : 1);
        uint32_t k;
        if (kb > (int64_t)n) kb = (int64_t)n;
        if (kb < 1) kb = 1;
        k = (uint32_t)kb;
        if (cs_start_pass(S, k, 1)) { rc = -1; break; }
        if (cs_top(S, (n + k - 1) / k)) { rc = -1; break; }
        if (cs_process(S)) { rc = -1; break; }
    }
    if (rc == 0 && P->biconf_streak > 0) {
        int clean = 0, it = 0;
        uint32_t k = (n + 1) / 2;
        while (clean < P->biconf_streak && it < P->biconf_max && S->npass < CS_MAXPASS) {
            uint32_t before = S->ncorr;
            if (cs_start_pass(S, k, P->biconf_cascade)) { rc = -1; break; }
            if (cs_top(S, (P->biconf_complement && n > 1) ? 2u : 1u)) { rc = -1; break; }
            if (cs_process(S)) { rc = -1; break; }
            it++;
            if (S->ncorr == before) clean++; else clean = 0;
        }
        *biconf_iters = (uint32_t)it;
    }
    for (e = 0; e < nerr; e++) if (!S->alive[e]) bob[S->E[e]] ^= 1;
    *leak = S->leak; *rounds = S->rounds; *residual = S->nerr - S->ncorr;
    cs_free_passes(S);
    return rc;
}

static int cs_init(cs_state *S, const cs_params *P) {
    memset(S, 0, sizeof(*S));
    S->P = P;
    return 0;
}
static void cs_destroy(cs_state *S) {
    cs_free_passes(S);
    free(S->E); free(S->alive); free(S->heap); free(S->nodes); free(S->tmp); free(S->cnt);
    free(S->ask_child); free(S->ask_parent);
}

/* frames [f_lo, f_hi) of `frames` balanced ones (sizes differ by at most one
 * bit); a frame's result depends only on its own bits and index, so disjoint
 * ranges may run concurrently (each call has its own state) */
static int cs_run_range(const cs_params *P, const uint8_t *a, const uint8_t *b, uint8_t *bob,
                        size_t N, size_t frames, size_t f_lo, size_t f_hi, uint64_t *leak,
                        uint64_t *rounds, uint32_t *residual, uint32_t *biconf_iters,
                        uint32_t *errors) {
    cs_state *S = (cs_state *)malloc(sizeof(cs_state));
    size_t f, base = N / frames, extra = N % frames;
    size_t start = f_lo * base + (f_lo < extra ? f_lo : extra);
    int rc = 0;
    if (!S) return -1;
    if (cs_init(S, P)) { cs_destroy(S); free(S); return -1; }
    for (f = f_lo; f < f_hi && rc == 0; f++) {
        uint32_t n = (uint32_t)(base + (f < extra ? 1 : 0));
        S->frame = (uint32_t)f;
        rc = cs_frame(S, a + start, b + start, bob + start, n, leak + f, rounds + f,
                      residual + f, biconf_iters + f, errors + f);
        start += n;
    }
    cs_destroy(S);
    free(S);
    return rc;
}

/* all frames */
static int cs_run(const cs_params *P, const uint8_t *a, const uint8_t *b, uint8_t *bob, size_t N,
                  size_t frames, uint64_t *leak, uint64_t *rounds, uint32_t *residual,
                  uint32_t *biconf_iters, uint32_t *errors) {
    return cs_run_range(P, a, b, bob, N, frames, 0, frames, leak, rounds, residual,
                        biconf_iters, errors);
}

/* permutation of one pass (for tests): out[x] = position of bit x */
static void cs_perm_all(uint32_t n, const uint64_t *key, uint32_t *out) {
    uint32_t x;
    int w = cs_halfwidth(n);
    for (x = 0; x < n; x++) out[x] = cs_perm(x, n, w, key);
}

#endif
