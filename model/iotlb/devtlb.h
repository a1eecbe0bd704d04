/*
 * devtlb.h — device-TLBs (PCIe ATS translation caches, VT-d 4.1): one per device that uses
 * ATS, each an IOTLB instance (iotlb.h: per-size indexing, any replacement policy) tagged by
 * PASID and page, created when the device first looks something up. Filled from translation
 * completions; emptied by device-TLB invalidation messages (the queued invalidation's
 * device-TLB descriptors reach iommu_devtlbs_invalidate, whose signature is the invalidation
 * queue's device-TLB handler).
 */
#ifndef IOMMU_IOTLB_DEVTLB_H
#define IOMMU_IOTLB_DEVTLB_H

#include "../common/stats.h"
#include "iotlb.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iommu_devtlbs iommu_devtlbs_t;

/* Every device's device-TLB has geometry cfg (entries 0: no device-TLB, every lookup misses).
 * Counters devtlb.hits, devtlb.misses, devtlb.inv_messages, devtlb.removed. */
iommu_devtlbs_t *iommu_devtlbs_create(const struct iommu_cache_cfg *cfg, iommu_stats_t *stats);
void iommu_devtlbs_destroy(iommu_devtlbs_t *d); /* accepts NULL */

/* Device sid's cached translation of iova (pasid may be IOMMU_PASID_NONE); NULL on a miss. */
const struct iommu_iotlb_entry *iommu_devtlbs_lookup(iommu_devtlbs_t *d, iommu_sid_t sid,
                                                     iommu_pasid_t pasid, uint64_t iova);
/* The same without counting or touching replacement state (observers). */
const struct iommu_iotlb_entry *iommu_devtlbs_probe(const iommu_devtlbs_t *d, iommu_sid_t sid,
                                                    iommu_pasid_t pasid, uint64_t iova);
void iommu_devtlbs_insert(iommu_devtlbs_t *d, iommu_sid_t sid, iommu_pasid_t pasid,
                          uint64_t iova, const struct iommu_iotlb_entry *e);
/* Invalidates [base, base + 2^size_shift) (64: everything) in device sid's device-TLB;
 * returns the entries removed. ctx is the iommu_devtlbs_t. */
uint32_t iommu_devtlbs_invalidate(void *ctx, iommu_sid_t sid, uint64_t base, unsigned size_shift);
uint32_t iommu_devtlbs_valid(const iommu_devtlbs_t *d, iommu_sid_t sid);

#ifdef __cplusplus
}
#endif
#endif
