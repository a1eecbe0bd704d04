/*
 * apply.h — applies a host-side trace event to the simulated host: attach/detach and the
 * DMA-level map/unmap change the tables; an `inv` event becomes its VT-d descriptor(s) in the
 * invalidation queue (a `wait` an invalidation-wait descriptor); the buffer-level dma_map /
 * dma_unmap go through the DMA-API model and its flush policy (host/dma_api.h). Both the
 * functional replay and the timed system's driver use it, so a trace means the same in both
 * modes; what remains to be done in time (doorbell, waiting, freeing IOVAs, opening
 * protection windows) comes back in a struct iommu_dma_work. `irte` and `sched` go to the
 * host's interrupt model (host/irq_host.h) when there is one; `msi` is a device's write, not
 * a host event (the replay drives it through iommu_irqhost_request/deliver).
 */
#ifndef IOMMU_HOST_APPLY_H
#define IOMMU_HOST_APPLY_H

#include "../model/iommu/iommu.h"
#include "../traces/trace.h"
#include "dma_api.h"
#include "host.h"
#include "irq_host.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The host side of one simulated system. */
struct iommu_host_env {
    iommu_host_t *h;
    iommu_t *u;
    iommu_invq_t *q;
    iommu_prot_t *prot;
    iommu_dma_t *dma;
    iommu_physmem_t *mem;
    iommu_irqhost_t *irq; /* interrupts (NULL: irte and sched events change nothing) */
};

/* The VT-d descriptor of an `inv` event (qw[4]); false for a `wait` (no descriptor: the caller
 * queues an invalidation wait). */
bool iommu_inv_event_desc(const struct iommu_trace_event *ev, const struct iommu_cfg *cfg,
                          uint64_t qw[4]);

/* Returns IOMMU_OK, or the failing status with what[] naming the operation ("map domain 1
 * iova 0x1000 len 0x2000"). A dma event is not a host event: IOMMU_ERR_INVAL. */
enum iommu_status iommu_host_apply(const struct iommu_host_env *env,
                                   const struct iommu_trace_event *ev, uint64_t now_ns,
                                   struct iommu_dma_work *w, char *what, size_t what_size);

/* An unmap's call returned at now_ns: the protection windows of its range open (IOTLB, and
 * the device-TLBs of the domain's ATS devices). */
void iommu_host_unmap_returned(const struct iommu_host_env *env, const struct iommu_dma_work *w,
                               uint64_t now_ns);

/* Functional completion of a work item at now_ns: rings the doorbell, runs the queue to the
 * end, checks the wait's status word, frees the IOVAs the flush held and opens the
 * protection windows of an unmap. IOMMU_ERR_FORMAT when the queue stopped on an error before
 * the wait completed (what[] says which). */
enum iommu_status iommu_host_complete_functional(const struct iommu_host_env *env,
                                                 const struct iommu_dma_work *w, unsigned cpu,
                                                 uint64_t now_ns, char *what, size_t what_size);

#ifdef __cplusplus
}
#endif
#endif
