/*
 * invq.h — VT-d invalidation hardware (VT-d 6.5): the queued-invalidation interface (a ring
 * of descriptors in memory described by IQA_REG, consumed at IQH_REG up to the tail software
 * writes into IQT_REG) and register-based invalidation (CCMD_REG, IOTLB_REG/IVA_REG), plus
 * the write-buffer flush (GCMD.WBF).
 *
 * Untimed and step-wise, like the translation unit (DESIGN.md §1): the engine says which
 * descriptor to fetch next (iommu_invq_next_fetch: an address and size), the caller reads it
 * (from physmem, or through a timed socket) and hands the words to iommu_invq_execute, which
 * checks the descriptor, applies it to the unit's caches (context, PASID, IOTLB, paging-
 * structure, interrupt-entry caches; device-TLBs through a handler the caller registers)
 * and advances IQH. The result tells the caller what remains to do in its own time: the
 * status write of a wait descriptor, its interrupt, the drain/fence it asks for, the device-
 * TLB invalidation message. iommu_invq_run is the functional driver that does all of it at
 * once against physical memory.
 *
 * Errors are architectural, never crashes: a bad descriptor (unknown type, reserved bits,
 * a type that needs 256-bit descriptors), a tail beyond the queue or misaligned for 256-bit
 * descriptors, or a descriptor fetch from unbacked memory sets FSTS.IQE with the reason in
 * IQERCD_REG.IQEI and stops the queue with IQH at the offending descriptor, until software
 * clears IQE (iommu_invq_clear_status). Software-side overflow (a driver finding no free
 * slot) is the driver's business: iommu_invq_free_slots tells it, see host/dma_api.h.
 *
 * Register values follow VT-d 11.4.9 (IQH/IQT: byte offset in bits 18:4; IQA: base 63:12,
 * DW 11, QS 2:0 — the queue is 4 KB << QS).
 */
#ifndef IOMMU_INVQ_INVQ_H
#define IOMMU_INVQ_INVQ_H

#include "../common/physmem.h"
#include "../common/stats.h"
#include "../iommu/iommu.h"
#include "desc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* FSTS_REG bits owned by the invalidation hardware (VT-d 11.4.9.? FSTS). */
#define IOMMU_FSTS_IQE (1u << 4) /* invalidation queue error      */
#define IOMMU_FSTS_ICE (1u << 5) /* invalidation completion error  */
#define IOMMU_FSTS_ITE (1u << 6) /* invalidation time-out error    */
#define IOMMU_ICS_IWC 1u         /* ICS_REG: invalidation wait descriptor complete */

#define IOMMU_IQA_DW (1ull << 11)

/* Device-TLB invalidation handler: invalidates [base, base + 2^size_shift) (size_shift 64:
 * everything) in device sid's ATS translation cache and returns the entries removed. */
typedef uint32_t (*iommu_devtlb_inv_fn)(void *ctx, iommu_sid_t sid, uint64_t base,
                                        unsigned size_shift);

typedef struct iommu_invq iommu_invq_t;
struct iommu_invq_result;
/* Called after every descriptor that executed without error (protection metrics, traces). */
typedef void (*iommu_invq_observer_fn)(void *ctx, const struct iommu_invq_result *r);

/* The invalidation hardware of unit u; counters "inv.*" registered in stats. */
iommu_invq_t *iommu_invq_create(iommu_t *u, iommu_stats_t *stats);
void iommu_invq_destroy(iommu_invq_t *q); /* accepts NULL */
void iommu_invq_set_devtlb_handler(iommu_invq_t *q, iommu_devtlb_inv_fn fn, void *ctx);
void iommu_invq_set_observer(iommu_invq_t *q, iommu_invq_observer_fn fn, void *ctx);

/* ---- registers ---- */
/* GCMD.QIE: enabling resets IQH to 0 (software programs IQA and IQT = 0 first). Enabling
 * with 256-bit descriptors in a unit without scalable-mode support is refused
 * (IOMMU_ERR_UNSUPP). */
enum iommu_status iommu_invq_enable(iommu_invq_t *q, bool enable);
bool iommu_invq_enabled(const iommu_invq_t *q);
/* IQA_REG (only while the queue is disabled: IOMMU_ERR_INVAL otherwise). */
enum iommu_status iommu_invq_write_iqa(iommu_invq_t *q, uint64_t iqa);
/* IQT_REG: a tail beyond the queue or with bit 4 set in a 256-bit queue sets IQE. */
void iommu_invq_write_iqt(iommu_invq_t *q, uint64_t iqt);
uint64_t iommu_invq_iqa(const iommu_invq_t *q);
uint64_t iommu_invq_iqh(const iommu_invq_t *q);
uint64_t iommu_invq_iqt(const iommu_invq_t *q);
uint64_t iommu_invq_iqercd(const iommu_invq_t *q); /* IQEI in bits 3:0 */
uint32_t iommu_invq_fsts(const iommu_invq_t *q);   /* IQE/ICE/ITE bits */
uint32_t iommu_invq_ics(const iommu_invq_t *q);    /* IWC */
/* Write-1-to-clear: FSTS bits (IQE restarts fetching at IQH) and ICS.IWC. */
void iommu_invq_clear_status(iommu_invq_t *q, uint32_t fsts_bits, uint32_t ics_bits);

/* Queue geometry: bytes of one descriptor (16 or 32) and the number of slots. */
unsigned iommu_invq_desc_bytes(const iommu_invq_t *q);
uint32_t iommu_invq_slots(const iommu_invq_t *q);
/* Free slots as software sees them (one slot stays empty so head == tail means empty). */
uint32_t iommu_invq_free_slots(const iommu_invq_t *q);
/* Descriptors written but not yet consumed (tail - head in slots). */
uint32_t iommu_invq_pending(const iommu_invq_t *q);

/* ---- the engine ---- */
/* True when a descriptor waits at IQH (queue enabled, no IQE): *addr, *size say what to
 * read. */
bool iommu_invq_next_fetch(const iommu_invq_t *q, uint64_t *addr, unsigned *size);

/* What executing one descriptor produced. */
struct iommu_invq_result {
    uint8_t error;            /* enum iommu_qi_error (IQE set, IQH unchanged) or 0        */
    struct iommu_qi_desc d;   /* the decoded descriptor                                   */
    uint32_t removed;         /* cache entries removed, all caches together               */
    /* wait descriptor: what the caller still has to do, in order, after earlier
     * invalidations have completed (and, with fence/drain, earlier requests drained) */
    bool status_write;        /* write status_data (32 bits) at status_addr               */
    uint64_t status_addr;
    uint32_t status_data;
    bool interrupt;           /* IF: ICS.IWC was set; raise the completion event          */
    bool fence, drain;        /* FN / PD                                                   */
    /* IOTLB descriptor: drain reads / writes requested (DR/DW) */
    bool drain_reads, drain_writes;
    /* device-TLB descriptor: the message the caller sends the endpoint */
    bool devtlb;
    uint64_t devtlb_base;
    unsigned devtlb_size_shift;
};
/* Executes the descriptor read at the address iommu_invq_next_fetch gave (qw: 2 or 4
 * words). Cache effects happen now (the device-TLB handler, if any, is called now too);
 * status writes and interrupts are left to the caller (see result). */
void iommu_invq_execute(iommu_invq_t *q, const uint64_t *qw, struct iommu_invq_result *r);
/* The fetch at IQH could not be completed (memory error): IQE with IQEI = fetch error. */
void iommu_invq_fetch_failed(iommu_invq_t *q);

/* Functional driver: executes descriptors until the queue is empty or stops on an error,
 * reading them from mem and performing wait status writes there. Returns descriptors
 * executed. */
uint32_t iommu_invq_run(iommu_invq_t *q, iommu_physmem_t *mem);

/* ---- register-based invalidation (VT-d 6.5.1; 11.4.4 CCMD_REG, 11.4.8 IOTLB_REG) ---- */
/* Writes CCMD_REG with ICC = 1 and performs it; returns the register's value afterwards
 * (ICC clear, CAIG = the granularity performed, 0 if it was refused). Refused while the
 * queue is enabled (VT-d: software must not mix the two interfaces). */
uint64_t iommu_invq_reg_ccmd(iommu_invq_t *q, uint64_t ccmd);
/* Writes IVA_REG then IOTLB_REG with IVT = 1; returns IOTLB_REG afterwards (IVT clear, IAIG
 * = granularity performed, 0 if refused: queue enabled, page-selective without CAP.PSI or
 * AM beyond CAP.MAMV). */
uint64_t iommu_invq_reg_iotlb(iommu_invq_t *q, uint64_t iva, uint64_t iotlb);
/* GCMD.WBF: flushes the write buffer (counted; a no-op unless CAP.RWBF). */
void iommu_invq_write_buffer_flush(iommu_invq_t *q);

/* CCMD_REG / IOTLB_REG field helpers. */
#define IOMMU_CCMD_ICC (1ull << 63)
#define IOMMU_CCMD_CIRG(g) ((uint64_t)(g) << 61) /* 1 global, 2 domain, 3 device */
#define IOMMU_CCMD_CAIG_SHIFT 59
#define IOMMU_IOTLB_IVT (1ull << 63)
#define IOMMU_IOTLB_IIRG(g) ((uint64_t)(g) << 60) /* 1 global, 2 domain, 3 page */
#define IOMMU_IOTLB_IAIG_SHIFT 57
#define IOMMU_IOTLB_DID(d) ((uint64_t)(d) << 32)

#ifdef __cplusplus
}
#endif
#endif
