/*
 * stackdist.c — LRU stack distances with holes (see stackdist.h for the semantics).
 *
 * Representation. Every position of a set's stack carries a timestamp; a younger position
 * (nearer the top) has a larger stamp. Per set:
 *  - occ: Fenwick tree over stamps, 1 where a position (key or hole) lives;
 *  - hole: Fenwick tree over stamps, 1 where a hole lives;
 *  - who[stamp]: the key entry living at that stamp, or NO_ENT (a hole or nothing).
 * The depth of a key with stamp s is the number of occupied stamps >= s. "The topmost hole"
 * is the hole with the largest stamp (k-th hole, k = hole count, found by Fenwick descent).
 * A move to the top takes a fresh stamp; consuming a hole clears its stamp. The stack never
 * holds more than max_ways positions (the bottom one is dropped when a miss grows it past
 * that: positions below max_ways cannot affect any tracked cache). When a set's stamps run
 * out (clock == cap, cap >= 2 * max_ways), its live positions are renumbered 1..n in order
 * and both trees rebuilt in O(cap): at least cap - max_ways accesses separate two
 * renumberings, so the cost is amortised O(1).
 *
 * Keys live in an entry pool (index stable while live) found through an open-addressing
 * hash table on (set, key) with linear probing and backward-shift deletion (no tombstones).
 * Workload assumption: millions to billions of accesses, max_ways up to a few thousand,
 * sets up to a few thousand, invalidations much rarer than accesses.
 */
#include "stackdist.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define NO_ENT UINT32_MAX
#define FREE_SET UINT32_MAX

struct sd_set {
    uint32_t clock;     /* largest stamp handed out; stamps 1..clock may be live        */
    uint32_t npos;      /* positions (keys + holes) in the stack, <= max_ways            */
    uint32_t nholes;    /* holes among them                                              */
    uint32_t *occ;      /* Fenwick [cap + 1] (1-based) of occupied stamps; NULL = untouched */
    uint32_t *hole;     /* Fenwick [cap + 1] of hole stamps                               */
    uint32_t *who;      /* [cap + 1] entry at each stamp, NO_ENT for holes and free stamps */
};

struct sd_ent {
    struct iommu_cache_key key;
    uint32_t set;   /* FREE_SET when the entry is on the free list                      */
    uint32_t stamp; /* live: its stamp in sets[set]; free: next free entry or NO_ENT     */
};

struct iommu_stackdist {
    uint32_t sets, set_mask, max_ways;
    uint32_t cap;            /* stamps per set: power of two >= 2 * max_ways              */
    struct sd_set *set;      /* [sets]                                                    */
    struct sd_ent *ent;      /* entry pool [ent_cap]; [0, ent_used) ever handed out       */
    uint32_t ent_cap, ent_used, ent_free; /* ent_free: head of the free list or NO_ENT   */
    uint32_t live;           /* live entries == entries in the table                      */
    uint32_t *table;         /* [tab_size] entry index + 1, 0 = empty                     */
    uint32_t tab_size;       /* power of two; live <= tab_size / 2                        */
    uint64_t accesses;
    uint64_t *depth;         /* [max_ways + 1]; depth[0] = misses in every tracked size   */
};

/* ---- Fenwick trees (1-based, size = cap, cap a power of two) ------------------------ */

static inline void fw_add(uint32_t *t, uint32_t cap, uint32_t i, int32_t v)
{
    for (; i <= cap; i += i & (0u - i))
        t[i] += (uint32_t)v;
}

static inline uint32_t fw_prefix(const uint32_t *t, uint32_t i)
{
    uint32_t s = 0;
    for (; i; i -= i & (0u - i))
        s += t[i];
    return s;
}

/* Smallest index whose prefix sum is >= k (1 <= k <= total). */
static inline uint32_t fw_kth(const uint32_t *t, uint32_t cap, uint32_t k)
{
    uint32_t pos = 0;
    for (uint32_t step = cap; step; step >>= 1) {
        if (pos + step <= cap && t[pos + step] < k) {
            pos += step;
            k -= t[pos];
        }
    }
    return pos + 1;
}

/* Builds a Fenwick tree in place from 0/1 values stored at [1..cap]. */
static void fw_build(uint32_t *t, uint32_t cap)
{
    for (uint32_t i = 1; i <= cap; i++) {
        const uint32_t j = i + (i & (0u - i));
        if (j <= cap)
            t[j] += t[i];
    }
}

/* ---- hash table --------------------------------------------------------------------- */

static inline uint32_t hash_of(uint32_t set, const struct iommu_cache_key *k)
{
    uint64_t h = k->lo * 0x9E3779B97F4A7C15ull;
    h ^= (k->hi + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
    h ^= (uint64_t)set * 0x165667B19E3779F9ull;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    return (uint32_t)(h >> 32);
}

static inline bool ent_is(const struct sd_ent *e, uint32_t set, const struct iommu_cache_key *k)
{
    return e->set == set && e->key.lo == k->lo && e->key.hi == k->hi;
}

/* Slot of (set, key) in the table, or of the empty slot where it would go. */
static inline uint32_t tab_find(const iommu_stackdist_t *sd, uint32_t set,
                                const struct iommu_cache_key *k)
{
    const uint32_t mask = sd->tab_size - 1;
    uint32_t i = hash_of(set, k) & mask;
    while (sd->table[i] && !ent_is(&sd->ent[sd->table[i] - 1], set, k))
        i = (i + 1) & mask;
    return i;
}

static void tab_remove_slot(iommu_stackdist_t *sd, uint32_t i)
{
    const uint32_t mask = sd->tab_size - 1;
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!sd->table[j])
            break;
        const struct sd_ent *e = &sd->ent[sd->table[j] - 1];
        const uint32_t home = hash_of(e->set, &e->key) & mask;
        /* move table[j] into the hole at i unless its home lies cyclically in (i, j] */
        const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            sd->table[i] = sd->table[j];
            i = j;
        }
    }
    sd->table[i] = 0;
}

static bool tab_grow(iommu_stackdist_t *sd)
{
    const uint32_t nsize = sd->tab_size * 2;
    uint32_t *nt = calloc(nsize, sizeof *nt);
    if (!nt)
        return false;
    uint32_t *old = sd->table;
    const uint32_t osize = sd->tab_size;
    sd->table = nt;
    sd->tab_size = nsize;
    for (uint32_t i = 0; i < osize; i++) {
        if (old[i]) {
            const struct sd_ent *e = &sd->ent[old[i] - 1];
            sd->table[tab_find(sd, e->set, &e->key)] = old[i];
        }
    }
    free(old);
    return true;
}

/* ---- entries ------------------------------------------------------------------------ */

static uint32_t ent_alloc(iommu_stackdist_t *sd)
{
    if (sd->ent_free != NO_ENT) {
        const uint32_t e = sd->ent_free;
        sd->ent_free = sd->ent[e].stamp;
        return e;
    }
    if (sd->ent_used == sd->ent_cap) {
        const uint32_t ncap = sd->ent_cap * 2;
        struct sd_ent *ne = realloc(sd->ent, (size_t)ncap * sizeof *ne);
        if (!ne)
            return NO_ENT;
        sd->ent = ne;
        sd->ent_cap = ncap;
    }
    return sd->ent_used++;
}

/* Removes a live entry from the table and returns it to the free list. */
static void ent_release(iommu_stackdist_t *sd, uint32_t e)
{
    struct sd_ent *x = &sd->ent[e];
    tab_remove_slot(sd, tab_find(sd, x->set, &x->key));
    x->set = FREE_SET;
    x->stamp = sd->ent_free;
    sd->ent_free = e;
    sd->live--;
}

/* ---- sets --------------------------------------------------------------------------- */

static bool set_init(iommu_stackdist_t *sd, struct sd_set *s)
{
    const size_t n = (size_t)sd->cap + 1;
    s->occ = calloc(n, sizeof *s->occ);
    s->hole = calloc(n, sizeof *s->hole);
    s->who = malloc(n * sizeof *s->who);
    if (!s->occ || !s->hole || !s->who) {
        free(s->occ);
        free(s->hole);
        free(s->who);
        s->occ = s->hole = s->who = NULL;
        return false;
    }
    for (size_t i = 0; i < n; i++)
        s->who[i] = NO_ENT;
    return true;
}

/* Turns a Fenwick tree back into its point values, in place (the inverse of fw_build:
 * visiting indices downwards, t[i] is still its tree value when it is subtracted from its
 * parent, because only i's children, all below i, change it). */
static void fw_unbuild(uint32_t *t, uint32_t cap)
{
    for (uint32_t i = cap; i >= 1; i--) {
        const uint32_t j = i + (i & (0u - i));
        if (j <= cap)
            t[j] -= t[i];
    }
}

/* Renumbers the live positions of s to stamps 1..npos, keeping their order, and rebuilds
 * both trees. O(cap). */
static void set_compact(iommu_stackdist_t *sd, struct sd_set *s)
{
    const uint32_t cap = sd->cap;
    fw_unbuild(s->occ, cap);
    fw_unbuild(s->hole, cap);
    uint32_t n = 0;
    for (uint32_t i = 1; i <= s->clock; i++) {
        if (!s->occ[i])
            continue;
        ++n; /* n <= i: slot n has been read already (or is i itself) */
        const uint32_t e = s->who[i], h = s->hole[i];
        s->occ[i] = 0;
        s->hole[i] = 0;
        s->who[i] = NO_ENT;
        s->occ[n] = 1;
        s->hole[n] = h;
        s->who[n] = e;
        if (e != NO_ENT)
            sd->ent[e].stamp = n;
    }
    assert(n == s->npos);
    fw_build(s->occ, cap);
    fw_build(s->hole, cap);
    s->clock = n;
}

/* ---- public ------------------------------------------------------------------------- */

iommu_stackdist_t *iommu_stackdist_create(uint32_t sets, uint32_t max_ways)
{
    if (sets == 0 || (sets & (sets - 1)) || max_ways == 0 || max_ways > IOMMU_STACKDIST_MAX_WAYS)
        return NULL;
    iommu_stackdist_t *sd = calloc(1, sizeof *sd);
    if (!sd)
        return NULL;
    sd->sets = sets;
    sd->set_mask = sets - 1;
    sd->max_ways = max_ways;
    sd->cap = 2;
    while (sd->cap < 2 * max_ways)
        sd->cap *= 2;
    sd->set = calloc(sets, sizeof *sd->set);
    sd->ent_cap = 64;
    sd->ent = malloc(sd->ent_cap * sizeof *sd->ent);
    sd->ent_free = NO_ENT;
    sd->tab_size = 128;
    sd->table = calloc(sd->tab_size, sizeof *sd->table);
    sd->depth = calloc((size_t)max_ways + 1, sizeof *sd->depth);
    if (!sd->set || !sd->ent || !sd->table || !sd->depth) {
        iommu_stackdist_destroy(sd);
        return NULL;
    }
    return sd;
}

void iommu_stackdist_destroy(iommu_stackdist_t *sd)
{
    if (!sd)
        return;
    if (sd->set) {
        for (uint32_t i = 0; i < sd->sets; i++) {
            free(sd->set[i].occ);
            free(sd->set[i].hole);
            free(sd->set[i].who);
        }
    }
    free(sd->set);
    free(sd->ent);
    free(sd->table);
    free(sd->depth);
    free(sd);
}

uint32_t iommu_stackdist_sets(const iommu_stackdist_t *sd)
{
    return sd->sets;
}

uint32_t iommu_stackdist_max_ways(const iommu_stackdist_t *sd)
{
    return sd->max_ways;
}

/* Consumes the hole with stamp h. */
static inline void consume_hole(iommu_stackdist_t *sd, struct sd_set *s, uint32_t h)
{
    fw_add(s->hole, sd->cap, h, -1);
    fw_add(s->occ, sd->cap, h, -1);
    s->nholes--;
    s->npos--;
}

uint32_t iommu_stackdist_access(iommu_stackdist_t *sd, uint32_t set,
                                const struct iommu_cache_key *key, enum iommu_status *st)
{
    if (st)
        *st = IOMMU_OK;
    set &= sd->set_mask;
    struct sd_set *s = &sd->set[set];
    if (!s->occ && !set_init(sd, s)) {
        if (st)
            *st = IOMMU_ERR_NOMEM;
        return 0;
    }
    if (s->clock == sd->cap)
        set_compact(sd, s);
    const uint32_t cap = sd->cap;
    const uint32_t slot = tab_find(sd, set, key);
    uint32_t e = sd->table[slot] ? sd->table[slot] - 1 : NO_ENT;
    uint32_t depth = 0;
    const uint32_t top = ++s->clock;

    if (e != NO_ENT) {
        const uint32_t old = sd->ent[e].stamp;
        depth = s->npos - fw_prefix(s->occ, old - 1);
        assert(depth >= 1 && depth <= sd->max_ways);
        const uint32_t h = s->nholes ? fw_kth(s->hole, cap, s->nholes) : 0;
        if (h > old) {
            /* the topmost hole above moves to the key's old position */
            fw_add(s->hole, cap, h, -1);
            fw_add(s->occ, cap, h, -1);
            fw_add(s->hole, cap, old, +1);
        } else {
            fw_add(s->occ, cap, old, -1); /* plain move to the front */
        }
        s->who[old] = NO_ENT;
        fw_add(s->occ, cap, top, +1);
        s->who[top] = e;
        sd->ent[e].stamp = top;
    } else {
        /* a miss everywhere: a new key on top */
        uint32_t slot_new = slot;
        if (sd->live + 1 > sd->tab_size / 2) {
            if (!tab_grow(sd)) {
                s->clock--;
                if (st)
                    *st = IOMMU_ERR_NOMEM;
                return 0;
            }
            slot_new = tab_find(sd, set, key);
        }
        e = ent_alloc(sd);
        if (e == NO_ENT) {
            s->clock--;
            if (st)
                *st = IOMMU_ERR_NOMEM;
            return 0;
        }
        sd->ent[e].key = *key;
        sd->ent[e].set = set;
        sd->ent[e].stamp = top;
        sd->table[slot_new] = e + 1;
        sd->live++;
        if (s->nholes)
            consume_hole(sd, s, fw_kth(s->hole, cap, s->nholes));
        fw_add(s->occ, cap, top, +1);
        s->who[top] = e;
        s->npos++;
        if (s->npos > sd->max_ways) {
            /* the bottom position falls out of every tracked cache */
            const uint32_t b = fw_kth(s->occ, cap, 1);
            if (s->who[b] == NO_ENT) {
                consume_hole(sd, s, b);
            } else {
                ent_release(sd, s->who[b]);
                s->who[b] = NO_ENT;
                fw_add(s->occ, cap, b, -1);
                s->npos--;
            }
        }
    }
    sd->accesses++;
    sd->depth[depth]++;
    return depth;
}

/* Turns the live entry e into a hole at its position. */
static void make_hole(iommu_stackdist_t *sd, uint32_t e)
{
    struct sd_set *s = &sd->set[sd->ent[e].set];
    const uint32_t stamp = sd->ent[e].stamp;
    s->who[stamp] = NO_ENT;
    fw_add(s->hole, sd->cap, stamp, +1);
    s->nholes++;
    ent_release(sd, e);
}

uint32_t iommu_stackdist_invalidate(iommu_stackdist_t *sd, iommu_cache_match_fn match,
                                    void *ctx)
{
    uint32_t n = 0;
    for (uint32_t e = 0; e < sd->ent_used; e++) {
        if (sd->ent[e].set == FREE_SET)
            continue;
        if (match && !match(&sd->ent[e].key, NULL, ctx))
            continue;
        make_hole(sd, e);
        n++;
    }
    return n;
}

bool iommu_stackdist_invalidate_key(iommu_stackdist_t *sd, uint32_t set,
                                    const struct iommu_cache_key *key)
{
    set &= sd->set_mask;
    const uint32_t slot = tab_find(sd, set, key);
    if (!sd->table[slot])
        return false;
    make_hole(sd, sd->table[slot] - 1);
    return true;
}

uint64_t iommu_stackdist_accesses(const iommu_stackdist_t *sd)
{
    return sd->accesses;
}

uint64_t iommu_stackdist_hits(const iommu_stackdist_t *sd, uint32_t ways)
{
    if (ways == 0 || ways > sd->max_ways)
        return 0;
    uint64_t h = 0;
    for (uint32_t d = 1; d <= ways; d++)
        h += sd->depth[d];
    return h;
}

uint64_t iommu_stackdist_depth_count(const iommu_stackdist_t *sd, uint32_t depth)
{
    return depth <= sd->max_ways ? sd->depth[depth] : 0;
}

void iommu_stackdist_reset_counts(iommu_stackdist_t *sd)
{
    sd->accesses = 0;
    memset(sd->depth, 0, ((size_t)sd->max_ways + 1) * sizeof *sd->depth);
}
