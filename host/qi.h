/*
 * qi.h — the driver's side of the VT-d invalidation queue: it owns the ring in simulated
 * memory, programs IQA and enables queued invalidation, writes descriptors at its own tail,
 * rings the doorbell (IQT) and allocates status words for wait descriptors — what Linux's
 * qi_submit_sync does, minus the spinning, which belongs to whoever models time (the
 * functional replay runs the queue at once; the timed system waits for the status write).
 *
 * Software-side overflow: a push that finds no free slot (the hardware has not consumed
 * enough) returns IOMMU_ERR_NOMEM and writes nothing; the caller lets the hardware drain.
 */
#ifndef IOMMU_HOST_QI_H
#define IOMMU_HOST_QI_H

#include "../model/invq/invq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iommu_hostq iommu_hostq_t;

/* A queue of 4 KB << qs bytes at base (4 KB aligned), status words in the 4 KB page at
 * status_base; wide: 256-bit descriptors (scalable mode). Programs and enables q. */
iommu_hostq_t *iommu_hostq_create(iommu_invq_t *q, iommu_physmem_t *mem, uint64_t base,
                                  unsigned qs, uint64_t status_base, bool wide);
void iommu_hostq_destroy(iommu_hostq_t *h); /* accepts NULL */

/* Writes one descriptor (2 or 4 words) at the software tail (not yet visible to hardware). */
enum iommu_status iommu_hostq_push(iommu_hostq_t *h, const uint64_t qw[4]);
/* Pushes a wait descriptor with a status write; *addr, *value: what to wait for. */
enum iommu_status iommu_hostq_push_wait(iommu_hostq_t *h, bool iflag, uint64_t *addr,
                                        uint32_t *value);
/* The value to write to IQT_REG to publish everything pushed. */
uint64_t iommu_hostq_tail(const iommu_hostq_t *h);
/* Free slots from the driver's point of view. */
uint32_t iommu_hostq_free(const iommu_hostq_t *h);
/* True once the status word at addr holds value. */
bool iommu_hostq_status_done(const iommu_hostq_t *h, uint64_t addr, uint32_t value);

#ifdef __cplusplus
}
#endif
#endif
