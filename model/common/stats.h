/*
 * stats.h — a registry of named statistics: plain 64-bit counters and linear histograms,
 * each registered once with a dotted name ("iotlb.hits", "per_device.00:02.0.iotlb.hits")
 * and a one-line description. Registration hands back a stable pointer; the hot path
 * increments through that pointer (no lookup, no allocation). Printers (JSON, summaries)
 * live outside the models and read the registry by iteration, in registration order.
 */
#ifndef IOMMU_COMMON_STATS_H
#define IOMMU_COMMON_STATS_H

#include "status.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Linear histogram: bucket i counts values in [i*width, (i+1)*width); the last bucket also
 * takes every larger value (overflow). */
typedef struct iommu_hist {
    uint64_t count, sum, min, max; /* min = UINT64_MAX while count == 0 */
    uint64_t width;                /* bucket width, >= 1 */
    uint32_t nbuckets;             /* >= 1 */
    uint64_t *buckets;
} iommu_hist_t;

static inline void iommu_hist_add(iommu_hist_t *h, uint64_t v)
{
    uint64_t b = v / h->width;
    if (b >= h->nbuckets)
        b = h->nbuckets - 1;
    h->buckets[b]++;
    h->count++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

enum iommu_stat_kind { IOMMU_STAT_COUNTER, IOMMU_STAT_HIST };

struct iommu_stat_info {
    const char *name;
    const char *desc;
    enum iommu_stat_kind kind;
    uint64_t *counter;  /* kind == COUNTER */
    iommu_hist_t *hist; /* kind == HIST */
};

typedef struct iommu_stats iommu_stats_t;

iommu_stats_t *iommu_stats_create(void);
void iommu_stats_destroy(iommu_stats_t *st); /* accepts NULL */

/* Registers (or finds, by name) a counter. The pointer stays valid until destroy. NULL on
 * allocation failure or when the name is registered as a histogram. */
uint64_t *iommu_stats_counter(iommu_stats_t *st, const char *name, const char *desc);

/* Registers n counters named prefix + names[i] (descriptions descs[i]) in one contiguous
 * array and returns its first element (stable until destroy), so a model can keep a block of
 * counters as one pointer and index it. NULL on allocation failure, when n exceeds 256, or
 * when any of the names is registered already. */
uint64_t *iommu_stats_counter_block(iommu_stats_t *st, const char *prefix, size_t n,
                                    const char *const names[], const char *const descs[]);

/* Registers (or finds) a histogram with nbuckets buckets of the given width. */
iommu_hist_t *iommu_stats_hist(iommu_stats_t *st, const char *name, const char *desc,
                               uint64_t width, uint32_t nbuckets);

size_t iommu_stats_size(const iommu_stats_t *st);
const struct iommu_stat_info *iommu_stats_at(const iommu_stats_t *st, size_t i);
const struct iommu_stat_info *iommu_stats_find(const iommu_stats_t *st, const char *name);

/* Zeroes every counter and histogram (used at the end of warm-up). */
void iommu_stats_reset(iommu_stats_t *st);

#ifdef __cplusplus
}
#endif
#endif
