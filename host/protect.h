/*
 * protect.h — protection metrics: what a device could still reach after the OS unmapped it.
 *
 * An unmap that returns while the IOTLB still caches a translation for one of its pages opens
 * a stale window for that page: the device can reach the old physical page through the cached
 * entry until an invalidation removes it. The window closes when an invalidation descriptor
 * covering the page executes (not when the driver learns of it), so under strict invalidation
 * — the unmap returns only after its invalidation completed — no window opens. Windows still
 * open at the end of the run are closed at the end time and counted separately.
 *
 * A DMA translated through the IOTLB while its page has an open window is a stale access.
 * Sub-page exposure: a buffer mapped with the DMA API exposes the rest of its first and last
 * pages to the device (page granularity); the tracker sums those bytes.
 *
 * Workload assumption: open windows are few (bounded by the flush policy's high-water mark),
 * so domain- and global-selective closes scan them all. Storage grows by doubling and is
 * reused; the hot path (a DMA while no window is open) is one comparison.
 */
#ifndef IOMMU_HOST_PROTECT_H
#define IOMMU_HOST_PROTECT_H

#include "../model/invq/invq.h"
#include "../model/iotlb/devtlb.h"
#include "../model/iommu/iommu.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iommu_prot iommu_prot_t;

/* Counters "protection.*" registered in stats (docs/stats.md). */
iommu_prot_t *iommu_prot_create(iommu_t *u, iommu_stats_t *stats);
void iommu_prot_destroy(iommu_prot_t *p); /* accepts NULL */

/* The unmap of [iova, iova + len) in did returned at now_ns. */
void iommu_prot_unmapped(iommu_prot_t *p, iommu_did_t did, uint64_t iova, uint64_t len,
                         uint64_t now_ns);
/* ATS: the device-TLBs to look at; then an unmap that returns while device sid's device-TLB
 * still holds one of its pages opens a window too (closed by a device-TLB invalidation
 * covering it), and a device-TLB hit on such a page is a stale access. */
void iommu_prot_set_devtlbs(iommu_prot_t *p, iommu_devtlbs_t *d);
void iommu_prot_unmapped_dev(iommu_prot_t *p, iommu_sid_t sid, uint64_t iova, uint64_t len,
                             uint64_t now_ns);
bool iommu_prot_dev_access(iommu_prot_t *p, iommu_sid_t sid, uint64_t iova);
/* An invalidation descriptor executed at now_ns (closes the windows it covers). */
void iommu_prot_invalidated(iommu_prot_t *p, const struct iommu_qi_desc *d, uint64_t now_ns);
/* A chunk of a DMA translated in did at iova; iotlb_hit: served by a cached entry. Returns
 * true (and counts it) when it went through a stale entry. */
static inline bool iommu_prot_access(iommu_prot_t *p, iommu_did_t did, uint64_t iova,
                                     bool iotlb_hit);
/* A buffer mapping exposing `bytes` beyond the buffer within its pages. */
void iommu_prot_exposed(iommu_prot_t *p, uint64_t bytes);
/* The time invalidations observed through iommu_prot_observer are stamped with. */
void iommu_prot_set_now(iommu_prot_t *p, uint64_t now_ns);
/* An iommu_invq_observer_fn (ctx = the tracker): closes windows at the set time. */
struct iommu_invq_result;
void iommu_prot_observer(void *ctx, const struct iommu_invq_result *r);
/* Closes the windows still open at the end of the run. */
void iommu_prot_finish(iommu_prot_t *p, uint64_t now_ns);
/* Windows open now. */
uint64_t iommu_prot_open(const iommu_prot_t *p);

/* ---- inline fast path ---- */
uint64_t iommu_prot_open_count_(const iommu_prot_t *p);
bool iommu_prot_access_slow_(iommu_prot_t *p, iommu_did_t did, uint64_t iova);
static inline bool iommu_prot_access(iommu_prot_t *p, iommu_did_t did, uint64_t iova,
                                     bool iotlb_hit)
{
    if (!p || !iotlb_hit || iommu_prot_open_count_(p) == 0)
        return false;
    return iommu_prot_access_slow_(p, did, iova);
}

#ifdef __cplusplus
}
#endif
#endif
