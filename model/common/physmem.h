/*
 * physmem.h — sparse simulated physical memory.
 *
 * Holds the bytes of every architectural structure (root/context/PASID tables, page tables,
 * queues, IRTEs). 4 KB frames are allocated on first write; reading an untouched frame
 * returns zeros without allocating. Access is O(1): a three-level radix over the 40-bit
 * frame number of a 52-bit physical address (VT-d's maximum host address width), plus a
 * one-frame lookaside for runs of accesses to the same frame. Workload assumption: page
 * tables and queues touch a few thousand to a few million frames; data buffers are never
 * stored (DMA payloads are not modelled byte by byte).
 */
#ifndef IOMMU_COMMON_PHYSMEM_H
#define IOMMU_COMMON_PHYSMEM_H

#include "status.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOMMU_PHYSMEM_PA_BITS 52u
#define IOMMU_PHYSMEM_FRAME_SHIFT 12u

typedef struct iommu_physmem iommu_physmem_t;

iommu_physmem_t *iommu_physmem_create(void);
void iommu_physmem_destroy(iommu_physmem_t *mem); /* accepts NULL */

/* Little-endian 64-bit access; pa must be 8-byte aligned and below 2^52. A read outside
 * the range returns 0 (the caller's walker reports it as a table access error first). */
uint64_t iommu_physmem_read64(iommu_physmem_t *mem, iommu_pa_t pa);
enum iommu_status iommu_physmem_write64(iommu_physmem_t *mem, iommu_pa_t pa, uint64_t value);

/* Byte-range access, any alignment, may cross frames. */
enum iommu_status iommu_physmem_read(iommu_physmem_t *mem, iommu_pa_t pa, void *buf, size_t len);
enum iommu_status iommu_physmem_write(iommu_physmem_t *mem, iommu_pa_t pa, const void *buf,
                                      size_t len);

/* True when [pa, pa+len) lies below 2^52. */
bool iommu_physmem_in_range(iommu_pa_t pa, uint64_t len);

/* Number of 4 KB frames allocated so far (for memory accounting). */
size_t iommu_physmem_frames(const iommu_physmem_t *mem);

#ifdef __cplusplus
}
#endif
#endif
