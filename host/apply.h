/*
 * apply.h — applies a host-side trace event (attach, detach, map, unmap, inv) to the tables
 * the host writes and to the unit's caches, in zero time. Both the functional replay and the
 * timed system's trace driver use it, so a trace means the same in both modes. Events of the
 * interrupt issue (msi, irte, sched) and device-TLB/IEC/wait invalidations change nothing yet.
 */
#ifndef IOMMU_HOST_APPLY_H
#define IOMMU_HOST_APPLY_H

#include "../model/iommu/iommu.h"
#include "../traces/trace.h"
#include "host.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Returns IOMMU_OK, or the failing status with what[] naming the operation ("map domain 1
 * iova 0x1000 len 0x2000"). *removed (may be NULL) receives the cache entries an inv event
 * removed. A dma event is not a host event: IOMMU_ERR_INVAL. */
enum iommu_status iommu_host_apply(iommu_host_t *h, iommu_t *u, const struct iommu_trace_event *ev,
                                   uint32_t *removed, char *what, size_t what_size);

#ifdef __cplusplus
}
#endif
#endif
