/*
 * cache.c — the generic set-associative cache behind every translation cache.
 *
 * Storage is structure-of-arrays so the hot path touches as little memory as possible: the
 * keys of a set are contiguous (16 bytes per way), validity is a separate byte array, and
 * payloads live in a third array reached only on a hit. Two ways to find a key:
 *  - direct-mapped caches compare the one way of the set;
 *  - every other cache (the 64-entry fully associative IOTLB, 4-way set-associative ones,
 *    2048-entry ones in a size sweep) keeps a hash index from (set, key) to the entry, open
 *    addressing with linear probing at load <= 1/4 and backward-shift deletion, so a lookup
 *    costs about one probe whatever the associativity, with no data-dependent loop exit
 *    (a scan's exit at an unpredictable way mispredicts; measured slower even at 4 ways).
 * Only valid entries are in the index. Invalidation clears the valid byte (and the index
 * slot) and leaves the stale key in place, so the scan of a direct-mapped set checks the
 * valid byte as well as the key. Workload assumption: lookups
 * (mostly hits) dominate; inserts follow misses; invalidations are rarer and may scan the
 * whole cache. Nothing on the lookup/insert path allocates.
 */
#include "cache.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

/* Caches with at least this many ways find keys through the hash index. Measured: one
 * hashed probe beats even a branch-free scan of 4 ways, so only direct-mapped caches (one
 * compare) scan. Overridable at build time for experiments. */
#ifndef IOMMU_CACHE_INDEX_MIN_WAYS
#define IOMMU_CACHE_INDEX_MIN_WAYS 2u
#endif

struct iommu_cache {
    uint32_t entries;  /* sets * ways; 0 = absent cache (no arrays allocated)                */
    uint32_t sets;     /* power of two, >= 1 when present; 0 when absent                     */
    uint32_t ways;     /* >= 1 when present; 0 when absent (lookup loops run zero times)     */
    uint32_t set_mask; /* sets - 1 (0 when absent)                                          */
    uint32_t valid;    /* number of valid ways over all sets == sum of set_valid[]          */
    size_t payload_size;   /* bytes of payload per entry as requested                        */
    size_t payload_stride; /* payload_size rounded up to 8 (alignment of each payload)       */
    const struct iommu_repl_policy *pol; /* never NULL when present                        */
    void (*touch)(void *, uint32_t, uint32_t, uint32_t); /* == pol->touch (saves a load)   */
    struct iommu_cache_key *keys; /* [sets*ways], set-major; key of an invalid way is stale  */
    uint8_t *vld;                 /* [sets*ways], 1 = way holds a valid entry, else 0       */
    uint32_t *set_valid;          /* [sets], number of valid ways of each set (<= ways)      */
    unsigned char *payload;       /* [sets*ways*payload_stride], NULL if payload_size == 0  */
    void *pstate;                 /* policy state, pol->state_size(sets, ways) bytes        */
    uint32_t *index;     /* NULL, or [index_mask + 1] slots: entry number + 1 of a valid
                            entry, 0 = empty; every valid entry is in it exactly once and is
                            reachable by linear probing from its home slot without a gap   */
    uint32_t index_mask; /* slots - 1; slots is a power of two >= 4 * entries              */
    unsigned index_shift; /* 64 - log2(slots): home slot = mixed hash >> index_shift        */
    uint32_t memo;       /* entry number + 1 of the last entry touched, if nothing was filled
                            or invalidated since (its touch would be a no-op: policy.h), else 0 */
};

void iommu_cache_cfg_default(struct iommu_cache_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->entries = 64;
    cfg->ways = 64;
    strcpy(cfg->policy, "lru");
    cfg->seed = 1;
}

enum iommu_status iommu_cache_cfg_check(const struct iommu_cache_cfg *cfg,
                                        enum iommu_cache_cfg_field *field, const char **why)
{
    enum iommu_cache_cfg_field f = IOMMU_CACHE_CFG_ENTRIES;
    const char *r = NULL;
    const struct iommu_repl_policy *pol = NULL;

    if (!cfg) {
        r = "no configuration";
    } else if (!memchr(cfg->policy, '\0', sizeof cfg->policy)) {
        f = IOMMU_CACHE_CFG_POLICY;
        r = "replacement policy name too long";
    } else if (!(pol = iommu_repl_policy_find(cfg->policy))) {
        f = IOMMU_CACHE_CFG_POLICY;
        r = "unknown replacement policy (known: lru, plru, tree-plru, fifo, random)";
    } else if (cfg->entries == 0) {
        r = NULL; /* an absent cache: geometry and policy state are irrelevant */
    } else if (cfg->entries > IOMMU_CACHE_MAX_ENTRIES) {
        r = "entries must be at most 16777216";
    } else if (cfg->ways == 0) {
        f = IOMMU_CACHE_CFG_WAYS;
        r = "ways must be at least 1";
    } else if (cfg->ways > cfg->entries) {
        f = IOMMU_CACHE_CFG_WAYS;
        r = "ways must not exceed entries";
    } else if (cfg->entries % cfg->ways) {
        f = IOMMU_CACHE_CFG_WAYS;
        r = "ways must divide entries";
    } else {
        const uint32_t sets = cfg->entries / cfg->ways;
        if (sets & (sets - 1)) {
            r = "entries/ways must be a power of two";
        } else if (!pol->supports(sets, cfg->ways)) {
            f = IOMMU_CACHE_CFG_POLICY;
            r = pol == &iommu_repl_plru ? "tree-PLRU needs a power-of-two number of ways"
                                        : "the replacement policy does not support this geometry";
        }
    }
    if (!r)
        return IOMMU_OK;
    if (field)
        *field = f;
    if (why)
        *why = r;
    return IOMMU_ERR_INVAL;
}

enum iommu_status iommu_cache_cfg_validate(const struct iommu_cache_cfg *cfg, const char **why)
{
    return iommu_cache_cfg_check(cfg, NULL, why);
}

void iommu_cache_destroy(iommu_cache_t *c)
{
    if (!c)
        return;
    free(c->keys);
    free(c->vld);
    free(c->set_valid);
    free(c->payload);
    free(c->pstate);
    free(c->index);
    free(c);
}

iommu_cache_t *iommu_cache_create(const struct iommu_cache_cfg *cfg, size_t payload_size)
{
    if (iommu_cache_cfg_validate(cfg, NULL) != IOMMU_OK)
        return NULL;
    iommu_cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->pol = iommu_repl_policy_find(cfg->policy);
    c->touch = c->pol->touch;
    c->payload_size = payload_size;
    c->payload_stride = (payload_size + 7u) & ~(size_t)7u;
    if (cfg->entries == 0)
        return c; /* absent: sets = ways = 0, every loop is empty */

    c->entries = cfg->entries;
    c->ways = cfg->ways;
    c->sets = cfg->entries / cfg->ways;
    c->set_mask = c->sets - 1;
    const size_t n = c->entries;
    const size_t psz = c->pol->state_size(c->sets, c->ways);
    c->keys = calloc(n, sizeof *c->keys);
    c->vld = calloc(n, 1);
    c->set_valid = calloc(c->sets, sizeof *c->set_valid);
    c->pstate = calloc(psz ? psz : 1, 1);
    if (c->payload_stride)
        c->payload = calloc(n, c->payload_stride);
    if (c->ways >= IOMMU_CACHE_INDEX_MIN_WAYS) {
        uint32_t slots = 2, bits = 1;
        while (slots < 4 * n) {
            slots *= 2;
            bits++;
        }
        c->index = calloc(slots, sizeof *c->index);
        c->index_mask = slots - 1;
        c->index_shift = 64 - bits;
    }
    if (!c->keys || !c->vld || !c->set_valid || !c->pstate ||
        (c->payload_stride && !c->payload) || (c->ways >= IOMMU_CACHE_INDEX_MIN_WAYS && !c->index)) {
        iommu_cache_destroy(c);
        return NULL;
    }
    c->pol->init(c->pstate, c->sets, c->ways, cfg->seed);
    return c;
}

uint32_t iommu_cache_sets(const iommu_cache_t *c)
{
    return c->sets;
}

uint32_t iommu_cache_ways(const iommu_cache_t *c)
{
    return c->ways;
}

uint32_t iommu_cache_entries(const iommu_cache_t *c)
{
    return c->entries;
}

uint32_t iommu_cache_valid_count(const iommu_cache_t *c)
{
    return c->valid;
}

/* A zero-size payload still needs a non-NULL "hit" result: the entry's key is handed back
 * (callers of a payload-less cache must not write through it). */
static inline void *payload_at(const iommu_cache_t *c, size_t idx)
{
    return c->payload ? (void *)(c->payload + idx * c->payload_stride) : (void *)&c->keys[idx];
}

static inline bool key_eq(const struct iommu_cache_key *a, const struct iommu_cache_key *b)
{
    return ((a->lo ^ b->lo) | (a->hi ^ b->hi)) == 0;
}

/* Home slot of (set, key) in the index: multiplicative (Fibonacci) hashing of a mix of the
 * three words, so sequential page numbers spread evenly. */
static inline uint32_t home_slot(const iommu_cache_t *c, uint32_t set,
                                 const struct iommu_cache_key *key)
{
    const uint64_t x = (key->lo ^ (key->hi * 0xC2B2AE3D27D4EB4Full) ^ ((uint64_t)set << 40)) *
                       0x9E3779B97F4A7C15ull;
    return (uint32_t)(x >> c->index_shift);
}

/* Adds entry idx (valid, key already stored) of set to the index. */
static void index_add(iommu_cache_t *c, uint32_t set, size_t idx)
{
    uint32_t h = home_slot(c, set, &c->keys[idx]);
    while (c->index[h])
        h = (h + 1) & c->index_mask;
    c->index[h] = (uint32_t)idx + 1;
}

/* Removes entry idx of set from the index (it must be there). */
static void index_del(iommu_cache_t *c, uint32_t set, size_t idx)
{
    const uint32_t mask = c->index_mask;
    uint32_t i = home_slot(c, set, &c->keys[idx]);
    while (c->index[i] != (uint32_t)idx + 1) {
        assert(c->index[i] != 0);
        i = (i + 1) & mask;
    }
    /* backward-shift deletion: pull later members of the probe run into the gap unless
     * their home lies cyclically in (gap, j] */
    for (uint32_t j = i;;) {
        j = (j + 1) & mask;
        const uint32_t v = c->index[j];
        if (!v)
            break;
        const uint32_t home = home_slot(c, (v - 1) / c->ways, &c->keys[v - 1]);
        const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            c->index[i] = v;
            i = j;
        }
    }
    c->index[i] = 0;
}

/* Index of the valid way of `set` (already reduced) holding key, or UINT32_MAX. */
static inline uint32_t find_way(const iommu_cache_t *c, uint32_t set,
                                const struct iommu_cache_key *key)
{
    const size_t base = (size_t)set * c->ways;
    if (c->index) {
        for (uint32_t h = home_slot(c, set, key);; h = (h + 1) & c->index_mask) {
            const uint32_t v = c->index[h];
            if (!v)
                return UINT32_MAX;
            const size_t w = (size_t)(v - 1) - base; /* wraps (huge) for other sets */
            if (w < c->ways && key_eq(&c->keys[v - 1], key))
                return (uint32_t)w;
        }
    }
    /* no index (direct-mapped, unless the build lowered the threshold to 1): a scan without
     * an early exit; at most one valid way matches */
    const struct iommu_cache_key *k = c->keys + base;
    const uint8_t *v = c->vld + base;
    const uint32_t ways = c->ways;
    uint32_t acc = 0; /* (w + 1) of the valid matching way, 0 if none */
    for (uint32_t w = 0; w < ways; w++) {
        const uint64_t d = (k[w].lo ^ key->lo) | (k[w].hi ^ key->hi);
        const uint32_t eq = (uint32_t)(((d | (0 - d)) >> 63) ^ 1); /* 1 iff d == 0 */
        acc += (eq & (uint32_t)(v[w] != 0)) * (w + 1);
    }
    return acc - 1; /* UINT32_MAX when nothing matched */
}

/* The search of a lookup that missed the memo: kept out of line so the memo path (a run of
 * hits on one entry, e.g. one device's context) stays small enough to inline. */
static __attribute__((noinline)) void *lookup_search(iommu_cache_t *c, uint32_t set, size_t base,
                                                     const struct iommu_cache_key *key)
{
    const uint32_t w = find_way(c, set, key);
    if (w == UINT32_MAX)
        return NULL;
    c->touch(c->pstate, set, w, c->ways);
    c->memo = (uint32_t)(base + w) + 1;
    return payload_at(c, base + w);
}

void *iommu_cache_lookup(iommu_cache_t *c, uint32_t set, const struct iommu_cache_key *key)
{
    if (!c->entries)
        return NULL;
    set &= c->set_mask;
    const size_t base = (size_t)set * c->ways;
    /* a run of hits on one entry (the pages of a DMA buffer, one device's context): the
     * repeated touch would change nothing, so skip the search and the policy */
    const uint32_t m = c->memo;
    if (m && (size_t)(m - 1) - base < c->ways && key_eq(&c->keys[m - 1], key))
        return payload_at(c, m - 1);
    return lookup_search(c, set, base, key);
}

void *iommu_cache_probe(const iommu_cache_t *c, uint32_t set, const struct iommu_cache_key *key)
{
    if (!c->entries)
        return NULL;
    set &= c->set_mask;
    const uint32_t w = find_way(c, set, key);
    return w == UINT32_MAX ? NULL : payload_at(c, (size_t)set * c->ways + w);
}

void *iommu_cache_insert_ex(iommu_cache_t *c, uint32_t set, const struct iommu_cache_key *key,
                            bool *evicted, struct iommu_cache_key *victim)
{
    if (evicted)
        *evicted = false;
    if (!c->entries)
        return NULL;
    set &= c->set_mask;
    const uint32_t ways = c->ways;
    const size_t base = (size_t)set * ways;
    uint32_t w = find_way(c, set, key);
    if (w != UINT32_MAX) {
        c->touch(c->pstate, set, w, ways); /* same key: overwrite in place */
        c->memo = (uint32_t)(base + w) + 1;
        return payload_at(c, base + w);
    }
    c->memo = 0; /* a fill changes the policy state around the last touched entry */
    if (c->set_valid[set] < ways) {
        /* the lowest invalid way */
        const uint8_t *f = memchr(c->vld + base, 0, ways);
        assert(f);
        w = (uint32_t)(f - (c->vld + base));
        c->vld[base + w] = 1;
        c->set_valid[set]++;
        c->valid++;
    } else {
        w = c->pol->victim(c->pstate, set, ways);
        assert(w < ways && c->vld[base + w]);
        if (evicted)
            *evicted = true;
        if (victim)
            *victim = c->keys[base + w];
        if (c->index)
            index_del(c, set, base + w);
    }
    c->keys[base + w] = *key;
    if (c->index)
        index_add(c, set, base + w);
    if (c->payload)
        memset(c->payload + (base + w) * c->payload_stride, 0, c->payload_stride);
    c->pol->fill(c->pstate, set, w, ways);
    return payload_at(c, base + w);
}

void *iommu_cache_insert(iommu_cache_t *c, uint32_t set, const struct iommu_cache_key *key,
                         bool *evicted)
{
    return iommu_cache_insert_ex(c, set, key, evicted, NULL);
}

static inline void kill_way(iommu_cache_t *c, uint32_t set, size_t idx)
{
    c->memo = 0;
    if (c->index)
        index_del(c, set, idx);
    c->vld[idx] = 0;
    c->set_valid[set]--;
    c->valid--;
}

static uint32_t invalidate_range_of_sets(iommu_cache_t *c, uint32_t first, uint32_t last,
                                         iommu_cache_match_fn match, void *ctx)
{
    uint32_t n = 0;
    for (uint32_t s = first; s <= last; s++) {
        if (!c->set_valid[s])
            continue;
        const size_t base = (size_t)s * c->ways;
        for (uint32_t w = 0; w < c->ways; w++) {
            const size_t i = base + w;
            if (c->vld[i] && (!match || match(&c->keys[i], payload_at(c, i), ctx))) {
                kill_way(c, s, i);
                n++;
            }
        }
    }
    return n;
}

uint32_t iommu_cache_invalidate(iommu_cache_t *c, iommu_cache_match_fn match, void *ctx)
{
    if (!c->entries || !c->valid)
        return 0;
    return invalidate_range_of_sets(c, 0, c->sets - 1, match, ctx);
}

uint32_t iommu_cache_invalidate_set(iommu_cache_t *c, uint32_t set, iommu_cache_match_fn match,
                                    void *ctx)
{
    if (!c->entries)
        return 0;
    set &= c->set_mask;
    return invalidate_range_of_sets(c, set, set, match, ctx);
}

bool iommu_cache_invalidate_key(iommu_cache_t *c, uint32_t set, const struct iommu_cache_key *key)
{
    if (!c->entries)
        return false;
    set &= c->set_mask;
    const uint32_t w = find_way(c, set, key);
    if (w == UINT32_MAX)
        return false;
    kill_way(c, set, (size_t)set * c->ways + w);
    return true;
}

void iommu_cache_foreach(const iommu_cache_t *c,
                         void (*fn)(const struct iommu_cache_key *key, const void *payload,
                                    void *ctx),
                         void *ctx)
{
    for (size_t i = 0; i < c->entries; i++)
        if (c->vld[i])
            fn(&c->keys[i], payload_at(c, i), ctx);
}
