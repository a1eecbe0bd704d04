/*
 * iova.h — an IOVA allocator that hands out the same addresses as Linux 6.1's
 * (drivers/iommu/iova.c under drivers/iommu/dma-iommu.c), so the host DMA-API model
 * reproduces a real kernel's IOVA reuse pattern and can charge the allocator's CPU cost
 * (tree walk lengths, range-cache traffic) from counters.
 *
 * One allocator is one IOVA domain (Linux: struct iova_domain plus dma-iommu's policy for
 * one device's DMA mask). Addresses are page-frame numbers (pfns) of the IOVA granule
 * (1 << page_shift bytes); sizes are in granules.
 *
 * What is reproduced (docs/models/iova.md has the full rules and the validation against a
 * real kernel's trace):
 *  - dma-iommu: a request of n granules is rounded up to a power of two when
 *    n < 2^(IOMMU_IOVA_RANGE_ORDERS-1) = 32; a PCI device whose limit lies above the 32-bit
 *    window first tries below limit_pfn32 without flushing the range caches (unless
 *    forcedac), then below its own limit with a flush-and-retry on failure.
 *  - iova.c: ranges are size-aligned (to the size rounded up to a power of two) and found
 *    top-down by walking the ordered ranges downwards from a cached position (one for
 *    searches limited to the 32-bit window, one for the others), retrying once from the top
 *    of the window, with the max32_alloc_size fast-fail; the cached positions move on every
 *    insert and delete exactly as Linux moves them.
 *  - range caches (rcache) for sizes of up to 2^(IOMMU_IOVA_RANGE_ORDERS-1) granules: per
 *    size order and CPU a loaded and a previous magazine of mag_size pfns, a global depot of
 *    at most depot_mags full magazines per order; a magazine that finds the depot full goes
 *    back to the tree.
 *
 * Workload assumptions: millions of allocations, up to ~1 M ranges live at once, 1..1024
 * CPUs. A range is one node of an intrusive red-black tree in a pool that doubles when it
 * runs out (so no allocation per call in steady state); magazines are preallocated. The
 * search is Linux's linear walk, so its cost (iova.tree_steps) grows with fragmentation
 * exactly as Linux's does. Deterministic: no randomness, no globals; not thread-safe (the
 * `cpu` arguments select per-CPU caches, they do not imply concurrency).
 */
#ifndef IOMMU_HOST_IOVA_H
#define IOMMU_HOST_IOVA_H

#include "../model/common/stats.h"
#include "../model/common/status.h"
#include "../model/common/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size orders with a range cache: sizes 1, 2, 4, .. 32 granules (Linux
 * IOVA_RANGE_CACHE_MAX_SIZE). Requests below 2^(ORDERS-1) granules are rounded up to a power
 * of two so that a freed range always fits the cache of its order. */
#define IOMMU_IOVA_RANGE_ORDERS 6u

/* Largest request accepted (granules); larger ones are IOMMU_ERR_INVAL. */
#define IOMMU_IOVA_MAX_PAGES (1ull << 52)

struct iommu_iova_cfg {
    uint64_t start_pfn;   /* lowest allocatable pfn, >= 1 (Linux: max(1, aperture start))  */
    uint64_t limit_pfn32; /* last pfn of the 32-bit window: (2^32 >> page_shift) - 1 for
                             the cached32 position, the fast-fail and the PCI first try   */
    uint8_t page_shift;   /* IOVA granule: 12 (4 KB) .. 30                                 */
    uint8_t dma_bits;     /* the device's reach in bits: min(DMA mask, domain aperture);
                             default limit pfn = (2^dma_bits - 1) >> page_shift            */
    uint32_t ncpus;       /* CPUs with their own magazines, 1 .. 1024                      */
    bool rcache;          /* per-CPU range caches (Linux always has them)                  */
    bool pci;             /* a PCI device: try a 32-bit address first (the SAC trick)      */
    bool forcedac;        /* iommu.forcedac=1: never try the 32-bit window first           */
    uint32_t mag_size;    /* pfns per magazine: 127 in Linux 6.0 .. 6.6 (128 before)       */
    uint32_t depot_mags;  /* full magazines per order in the global depot: 32 (6.1)        */
};

/* Linux 6.1 with 4 KB pages on x86: start_pfn 1, limit_pfn32 0xFFFFF, page_shift 12,
 * dma_bits 48 (a 64-bit-capable device behind a 48-bit VT-d domain), ncpus 1, rcache on,
 * pci on, forcedac off, mag_size 127, depot_mags 32. */
void iommu_iova_cfg_default(struct iommu_iova_cfg *cfg);
/* IOMMU_OK, or IOMMU_ERR_INVAL with *key naming the offending key ("iova.ncpus") and *why a
 * constant reason (either pointer may be NULL). */
enum iommu_status iommu_iova_cfg_validate(const struct iommu_iova_cfg *cfg, const char **key,
                                          const char **why);

typedef struct iommu_iova iommu_iova_t;

/* Creates an empty allocator (cfg must validate). With a registry, the counters below are
 * registered as prefix + name ("iova.allocs"; prefix NULL means "iova."); a prefix already
 * registered, like an invalid cfg or a failed allocation, makes create return NULL. */
iommu_iova_t *iommu_iova_create(const struct iommu_iova_cfg *cfg, iommu_stats_t *stats,
                                const char *prefix);
void iommu_iova_destroy(iommu_iova_t *a); /* accepts NULL */

/* Allocates npages granules for a DMA mapping made on CPU `cpu` below the configured limit
 * (dma_bits); *pfn receives the first pfn. IOMMU_ERR_NOMEM when no range fits even after
 * flushing the range caches (*pfn untouched); IOMMU_ERR_INVAL for npages 0 or above
 * IOMMU_IOVA_MAX_PAGES, or cpu >= ncpus. Requests of fewer than 32 granules occupy the
 * next power of two. */
enum iommu_status iommu_iova_alloc(iommu_iova_t *a, uint64_t npages, unsigned cpu,
                                   uint64_t *pfn);
/* The same with an explicit limit (last usable pfn, e.g. a device's coherent DMA mask
 * >> page_shift); limit_pfn must be >= start_pfn and >= 63. */
enum iommu_status iommu_iova_alloc_below(iommu_iova_t *a, uint64_t npages, unsigned cpu,
                                         uint64_t limit_pfn, uint64_t *pfn);

/* Gives back the range starting at pfn, allocated with npages (the rounded size is
 * accepted too), on CPU `cpu`: into that CPU's range cache when the size is cacheable,
 * otherwise (or with rcache off) straight back to the tree. IOMMU_ERR_NOTFOUND when pfn is
 * not the start of a live allocation (never allocated, freed already, reserved); nothing
 * changes then. IOMMU_ERR_INVAL for a size that does not match the allocation or a bad
 * cpu. */
enum iommu_status iommu_iova_free(iommu_iova_t *a, uint64_t pfn, uint64_t npages, unsigned cpu);

/* Takes [pfn_lo, pfn_hi] out of the allocatable space (Linux reserve_iova: MSI windows, PCI
 * host-bridge windows, RMRRs). Overlapping reservations merge as Linux merges them; a range
 * overlapping a live or cached allocation is IOMMU_ERR_OVERLAP (nothing changes);
 * pfn_lo > pfn_hi or pfn_hi == UINT64_MAX is IOMMU_ERR_INVAL. The cached positions are not
 * moved (as in Linux), so reserve before allocating. */
enum iommu_status iommu_iova_reserve(iommu_iova_t *a, uint64_t pfn_lo, uint64_t pfn_hi);

/* Returns every range held in the range caches (all CPUs, then the depots) to the tree, as
 * Linux does after a failed allocation; counted in rcache_flushes. */
void iommu_iova_flush_rcache(iommu_iova_t *a);

/* Counters (registered as <prefix><name>). Event counts only grow; the gauges (live_*,
 * cached_ranges, tree_nodes) are rewritten with the current value whenever it changes and
 * the max_* ones raised, so a registry reset at the end of warm-up leaves them meaningful. */
enum iommu_iova_stat {
    IOMMU_IOVA_ALLOCS,          /* allocs          */
    IOMMU_IOVA_ALLOC_FAILS,     /* alloc_fails     */
    IOMMU_IOVA_FREES,           /* frees           */
    IOMMU_IOVA_FREE_ERRORS,     /* free_errors     */
    IOMMU_IOVA_RCACHE_HITS,     /* rcache_hits     */
    IOMMU_IOVA_RCACHE_MISSES,   /* rcache_misses   */
    IOMMU_IOVA_RCACHE_PUTS,     /* rcache_puts     */
    IOMMU_IOVA_DEPOT_PUSHES,    /* depot_pushes    */
    IOMMU_IOVA_DEPOT_POPS,      /* depot_pops      */
    IOMMU_IOVA_MAG_SPILLS,      /* mag_spills      */
    IOMMU_IOVA_RCACHE_FLUSHES,  /* rcache_flushes  */
    IOMMU_IOVA_TREE_ALLOCS,     /* tree_allocs     */
    IOMMU_IOVA_TREE_FAILS,      /* tree_fails      */
    IOMMU_IOVA_TREE_STEPS,      /* tree_steps      */
    IOMMU_IOVA_TREE_RETRIES,    /* tree_retries    */
    IOMMU_IOVA_FAST_FAILS,      /* fast_fails      */
    IOMMU_IOVA_WINDOW32_FAILS,  /* window32_fails  */
    IOMMU_IOVA_TREE_INSERTS,    /* tree_inserts    */
    IOMMU_IOVA_TREE_DELETES,    /* tree_deletes    */
    IOMMU_IOVA_LIVE_RANGES,     /* live_ranges     */
    IOMMU_IOVA_LIVE_PAGES,      /* live_pages      */
    IOMMU_IOVA_MAX_LIVE_RANGES, /* max_live_ranges */
    IOMMU_IOVA_MAX_LIVE_PAGES,  /* max_live_pages  */
    IOMMU_IOVA_CACHED_RANGES,   /* cached_ranges   */
    IOMMU_IOVA_TREE_NODES,      /* tree_nodes      */
    IOMMU_IOVA_MAX_TREE_NODES,  /* max_tree_nodes  */
    IOMMU_IOVA_NSTATS
};
/* The counter's name without prefix ("tree_steps") and its one-line description; NULL for
 * an out-of-range index. */
const char *iommu_iova_stat_name(unsigned i);
const char *iommu_iova_stat_desc(unsigned i);
/* The live counter array (IOMMU_IOVA_NSTATS values, indexed by enum iommu_iova_stat): the
 * registry's block when one was given, the allocator's own otherwise. Valid until destroy. */
const uint64_t *iommu_iova_counters(const iommu_iova_t *a);

/* Walks the whole structure and checks its invariants (red-black shape, order, no overlap,
 * cached positions in the tree, magazines hold exactly the cached ranges, gauges match):
 * IOMMU_OK or IOMMU_ERR_INVAL. O(ranges); for tests. */
enum iommu_status iommu_iova_check(const iommu_iova_t *a);

#ifdef __cplusplus
}
#endif
#endif
