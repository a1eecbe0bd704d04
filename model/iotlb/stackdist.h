/*
 * stackdist.h — one-pass LRU stack-distance profiling (Mattson et al., 1970): a single
 * replay of an access stream yields the exact hit count of every LRU cache with `sets` sets
 * and 1..max_ways ways, with invalidations modelled exactly.
 *
 * Semantics. Each set keeps an LRU stack of positions, each holding a key or a *hole*. The
 * depth of an access is the 1-based position of its key counting keys and holes above it;
 * it hits in every cache of `ways` >= depth. Keys never seen, or pushed below max_ways
 * positions, miss in every tracked size.
 *  - miss: the key is pushed on top; the shift stops at the topmost hole, which is consumed
 *    (no hole: the whole stack shifts down and the entry at max_ways + 1 is forgotten);
 *  - hit at depth d with a hole above it: the key moves to the top, the topmost hole above
 *    it is consumed and position d becomes a hole;
 *  - hit with no hole above: plain move-to-front;
 *  - invalidation: the key's position becomes a hole.
 * Why holes: a size-k LRU cache that lost an entry to invalidation has a free way and does
 * not evict on its next miss. With holes, the top k positions of the stack are exactly the
 * contents of the size-k cache (holes = its free ways) after every operation, for every k
 * at once — so hit counts equal those of real LRU caches with invalidations (tested against
 * iommu_cache with "lru" for every size). Other policies (PLRU, FIFO, random) have no stack
 * property; sweep them with separate runs.
 *
 * Cost: per access O(log max_ways) — a hash map from (set, key) to a timestamp, and per set
 * two Fenwick trees over timestamps (positions occupied by keys or holes; holes), with
 * periodic renumbering so timestamps stay below 2 * max_ways. Memory is bounded by the
 * number of distinct live keys (at most sets × max_ways) plus ~12 × 2 × max_ways bytes per
 * set that has been touched, never by the trace length. Invalidation by predicate scans the
 * live keys (like a cache invalidation scans its entries).
 */
#ifndef IOMMU_IOTLB_STACKDIST_H
#define IOMMU_IOTLB_STACKDIST_H

#include "cache.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iommu_stackdist iommu_stackdist_t;

/* Largest accepted max_ways. */
#define IOMMU_STACKDIST_MAX_WAYS (1u << 24)

/* sets: a power of two (the set argument of access is reduced modulo sets); max_ways:
 * 1..IOMMU_STACKDIST_MAX_WAYS, the largest associativity reported. NULL when invalid or
 * on allocation failure. */
iommu_stackdist_t *iommu_stackdist_create(uint32_t sets, uint32_t max_ways);
void iommu_stackdist_destroy(iommu_stackdist_t *sd); /* accepts NULL */

uint32_t iommu_stackdist_sets(const iommu_stackdist_t *sd);
uint32_t iommu_stackdist_max_ways(const iommu_stackdist_t *sd);

/* Records one access to key in set. Returns the depth of the access (1..max_ways), or 0 for
 * a miss in every tracked size. *st (if not NULL) receives IOMMU_ERR_NOMEM if memory for a
 * new set or key could not be allocated (the access is then not recorded), else IOMMU_OK. */
uint32_t iommu_stackdist_access(iommu_stackdist_t *sd, uint32_t set,
                                const struct iommu_cache_key *key, enum iommu_status *st);

/* Invalidates every tracked key for which match(key, NULL, ctx) is true (match NULL = all):
 * each becomes a hole. The payload argument is always NULL: match functions used here must
 * decide from the key alone. Returns the number of keys invalidated, which equals what the
 * largest tracked cache (max_ways ways) would report. */
uint32_t iommu_stackdist_invalidate(iommu_stackdist_t *sd, iommu_cache_match_fn match,
                                    void *ctx);
/* Invalidates one key of one set; true if it was tracked. */
bool iommu_stackdist_invalidate_key(iommu_stackdist_t *sd, uint32_t set,
                                    const struct iommu_cache_key *key);

/* Accesses recorded since creation or the last reset_counts. */
uint64_t iommu_stackdist_accesses(const iommu_stackdist_t *sd);
/* Accesses that hit in an LRU cache of `sets` sets × `ways` ways (depth <= ways), for ways
 * in 1..max_ways; 0 for ways outside that range. O(ways). */
uint64_t iommu_stackdist_hits(const iommu_stackdist_t *sd, uint32_t ways);
/* Accesses recorded at exactly depth d (1..max_ways; 0 = misses in every tracked size). */
uint64_t iommu_stackdist_depth_count(const iommu_stackdist_t *sd, uint32_t depth);

/* Zeroes the counters but keeps every stack (the end of warm-up). */
void iommu_stackdist_reset_counts(iommu_stackdist_t *sd);

#ifdef __cplusplus
}
#endif
#endif
