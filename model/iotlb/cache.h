/*
 * cache.h — one generic set-associative cache of tags plus fixed-size payloads.
 *
 * Every translation cache of the IOMMU (IOTLB, context cache, PASID cache, the
 * paging-structure caches, later the IEC and the device-TLB) is a configured instance of
 * this structure. The cache knows nothing about what it stores: the instance computes a set
 * index and a 128-bit key, and owns the meaning of the payload bytes. Replacement is a
 * policy chosen by name (policy/policy.h), with its state kept per set.
 *
 * Geometry: `entries` = sets × ways; sets must be a power of two (the instance indexes with
 * `set & (sets - 1)`); `ways == entries` is fully associative (one set). entries == 0 is an
 * absent cache: every lookup misses and inserts are dropped.
 *
 * Hot-path contract: lookup and insert never allocate. Except in direct-mapped caches, a
 * lookup goes through a hash index of the valid entries rather than scanning the set, so it
 * costs O(1) even for a fully associative cache of thousands of entries; the replacement
 * policies are O(1) per operation (tree-PLRU O(log ways)).
 */
#ifndef IOMMU_IOTLB_CACHE_H
#define IOMMU_IOTLB_CACHE_H

#include "../common/status.h"
#include "../common/types.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iommu_cache_cfg {
    uint32_t entries; /* total entries (0 = absent)                                     */
    uint32_t ways;    /* associativity, divides entries; == entries: fully associative  */
    char policy[16];  /* replacement policy name: "lru", "plru", "fifo", "random"        */
    uint64_t seed;    /* seed of the "random" policy (ignored by the others)             */
};

/* 64 entries, fully associative, LRU, seed 1. */
void iommu_cache_cfg_default(struct iommu_cache_cfg *cfg);

/* Checks geometry and policy name. On error returns IOMMU_ERR_INVAL and, when `why` is not
 * NULL, points it at a constant one-line reason ("ways must divide entries"). */
enum iommu_status iommu_cache_cfg_validate(const struct iommu_cache_cfg *cfg, const char **why);

/* Which field of a cache configuration an error is about (iommu_cache_cfg_check). */
enum iommu_cache_cfg_field {
    IOMMU_CACHE_CFG_ENTRIES = 0,
    IOMMU_CACHE_CFG_WAYS = 1,
    IOMMU_CACHE_CFG_POLICY = 2,
};

/* Like iommu_cache_cfg_validate, and on error also names the offending field in *field
 * (when not NULL): geometry errors of the set count name ENTRIES, errors of the ways name
 * WAYS, an unknown policy name or a geometry the policy cannot handle names POLICY. Used by
 * the instances (IOTLB, PWC) to report configuration keys ("iotlb_2m.ways"). */
enum iommu_status iommu_cache_cfg_check(const struct iommu_cache_cfg *cfg,
                                        enum iommu_cache_cfg_field *field, const char **why);

/* Largest accepted `entries` (a sanity bound against typos such as 1e9). */
#define IOMMU_CACHE_MAX_ENTRIES (1u << 24)

struct iommu_cache_key {
    uint64_t hi, lo; /* compared for equality only; meaning chosen by the instance */
};

typedef struct iommu_cache iommu_cache_t;

/* NULL if cfg does not validate or allocation fails. payload_size may be 0: lookup and
 * insert then still return a non-NULL pointer on a hit / fill, which must not be written. */
iommu_cache_t *iommu_cache_create(const struct iommu_cache_cfg *cfg, size_t payload_size);
void iommu_cache_destroy(iommu_cache_t *c); /* accepts NULL */

uint32_t iommu_cache_sets(const iommu_cache_t *c);    /* 0 for an absent cache */
uint32_t iommu_cache_ways(const iommu_cache_t *c);
uint32_t iommu_cache_entries(const iommu_cache_t *c);
uint32_t iommu_cache_valid_count(const iommu_cache_t *c); /* valid entries now */

/* Looks key up in set (set is reduced modulo the number of sets). On a hit updates the
 * replacement state and returns the payload; NULL on a miss. */
void *iommu_cache_lookup(iommu_cache_t *c, uint32_t set, const struct iommu_cache_key *key);

/* Like lookup but without touching the replacement state (for inspection and tests). */
void *iommu_cache_probe(const iommu_cache_t *c, uint32_t set, const struct iommu_cache_key *key);

/* Inserts key into set: an entry with the same key is overwritten in place (and touched);
 * else an invalid way is used (lowest index first); else the policy picks a victim. Returns
 * the payload to fill (zeroed for a new entry). *evicted (if not NULL) is set when a valid
 * entry with another key was displaced. NULL for an absent cache. */
void *iommu_cache_insert(iommu_cache_t *c, uint32_t set, const struct iommu_cache_key *key,
                         bool *evicted);

/* insert, and when a valid entry with another key was displaced also copies that entry's
 * key to *victim (if not NULL) before the way is reused — instances that keep per-kind
 * counts (the IOTLB's per-page-size valid counts) need to know what left. */
void *iommu_cache_insert_ex(iommu_cache_t *c, uint32_t set, const struct iommu_cache_key *key,
                            bool *evicted, struct iommu_cache_key *victim);

/* Invalidates every valid entry for which match(key, payload, ctx) is true (match NULL =
 * all entries). Returns the number invalidated. Replacement state of freed ways is kept;
 * freed ways are refilled before any valid way is evicted. */
typedef bool (*iommu_cache_match_fn)(const struct iommu_cache_key *key, const void *payload,
                                     void *ctx);
uint32_t iommu_cache_invalidate(iommu_cache_t *c, iommu_cache_match_fn match, void *ctx);

/* Like iommu_cache_invalidate restricted to one set (set reduced modulo the number of
 * sets): lets instances invalidate an address range by visiting only the sets its pages
 * index instead of scanning the whole cache. */
uint32_t iommu_cache_invalidate_set(iommu_cache_t *c, uint32_t set, iommu_cache_match_fn match,
                                    void *ctx);

/* Invalidates one key in one set; returns true if it was present. */
bool iommu_cache_invalidate_key(iommu_cache_t *c, uint32_t set, const struct iommu_cache_key *key);

/* Calls fn on every valid entry (for stats and tests), in set/way order. */
void iommu_cache_foreach(const iommu_cache_t *c,
                         void (*fn)(const struct iommu_cache_key *key, const void *payload,
                                    void *ctx),
                         void *ctx);

#ifdef __cplusplus
}
#endif
#endif
