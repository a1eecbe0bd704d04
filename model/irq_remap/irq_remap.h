/*
 * irq_remap.h — the unit's interrupt-remapping hardware (VT-d 5.1, 9.10–9.12): an interrupt
 * request (requester id, MSI address and data) is decoded, its interrupt-remapping table
 * entry (IRTE) is looked up in the interrupt-entry cache (the unit's IEC, iommu_iec) or read
 * from the table at IRTA, checked, and turned into a remapped interrupt (vector, destination,
 * modes) or a posted one (descriptor address, vector, urgency).
 *
 * Untimed and step-wise, like translation (DESIGN.md §1): iommu_irq_begin returns either a
 * final step (DONE / FAULT) or a READ of the 16-byte IRTE at IRTA.base + 16 * index, and
 * iommu_irq_resume continues with the two words read. The functional driver
 * (iommu_irq_functional) loops against physical memory; iommu_irq_post_functional performs
 * the posted-interrupt descriptor update of a posted result.
 *
 * Checks, in the order VT-d applies them (fault reasons of VT-d 7.1.3):
 *   reserved bits in a remappable request (data 31:16)            0x20
 *   compatibility-format request while GSTS.CFIS = 0               0x25
 *   (CFIS = 1, or interrupt remapping disabled: passed through unremapped)
 *   index >= table entries (2^(IRTA.S + 1))                         0x21
 *   IRTE address beyond the host address width (or a failed read)   0x23
 *   IRTE not present                                               0x22
 *   IRTE reserved bits (per format, xAPIC vs x2APIC by IRTA.EIME)   0x24
 *   source-id verification (SVT/SQ/SID)                            0x26
 * The IEC caches entries that are present and well formed (key {0, index}, payload = the two
 * IRTE words); software changes to an entry take effect after an IEC invalidation
 * (iommu_inv_iec_*, or a queued IEC descriptor through model/invq).
 *
 * Faults are reported in the operation (fault_reason, fault_fpd, fault_recorded), counted,
 * and — unless the IRTE has FPD set — written to the unit's fault-recording registers
 * (iommu_fault_record_other; VT-d 7.1: interrupt-remapping faults are primary faults) in the
 * record iommu_irq_fault_record builds.
 *
 * Counters (registered in the caller's registry): iec.hits, iec.misses, irq.requests,
 * irq.irte_reads, irq.remapped, irq.posted, irq.compat, irq.notifications, irq.faults,
 * irq.faults.suppressed_fpd, irq.faults.reason_0x20 .. irq.faults.reason_0x26.
 */
#ifndef IOMMU_IRQ_REMAP_IRQ_REMAP_H
#define IOMMU_IRQ_REMAP_IRQ_REMAP_H

#include "../common/physmem.h"
#include "../common/stats.h"
#include "../iommu/iommu.h"
#include "irte.h"
#include "msi.h"
#include "pid.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a READ step reads (struct iommu_step.what; distinct from the walker's kinds). */
enum iommu_irq_read_kind {
    IOMMU_READ_IRTE = 20, /* 16 bytes */
};

/* IRTA_REG (VT-d 11.4.x): table base 63:12, EIME 11, S 3:0 (2^(S+1) entries); 10:4 reserved. */
#define IOMMU_IRTA_EIME (1ull << 11)
#define IOMMU_IRTA(base, s, eime) \
    (((uint64_t)(base) & ~0xFFFull) | ((eime) ? IOMMU_IRTA_EIME : 0) | ((uint64_t)(s) & 0xF))

typedef struct iommu_irq iommu_irq_t;

/* The interrupt-remapping hardware of unit u (its IEC, CAP.PI, ECAP.IR/EIM, HAW). Starts
 * with remapping disabled, IRTA = 0, CFIS = 0. NULL on allocation failure. */
iommu_irq_t *iommu_irq_create(iommu_t *u, iommu_stats_t *stats);
void iommu_irq_destroy(iommu_irq_t *q); /* accepts NULL */

/* IRTA_REG as latched by GCMD.SIRTP. IOMMU_ERR_INVAL for reserved bits 10:4 set,
 * IOMMU_ERR_UNSUPP for EIME without ECAP.EIM. The IEC is not flushed (software must
 * invalidate it, as on hardware). */
enum iommu_status iommu_irq_set_irta(iommu_irq_t *q, uint64_t irta);
uint64_t iommu_irq_irta(const iommu_irq_t *q);
uint32_t iommu_irq_table_entries(const iommu_irq_t *q); /* 2^(S+1) */
/* GCMD.IRE (IOMMU_ERR_UNSUPP without ECAP.IR) and GCMD.CFI; GSTS.IRES / CFIS read back. */
enum iommu_status iommu_irq_enable(iommu_irq_t *q, bool ire);
void iommu_irq_set_cfi(iommu_irq_t *q, bool cfis);
bool iommu_irq_enabled(const iommu_irq_t *q);
bool iommu_irq_cfis(const iommu_irq_t *q);

/* An interrupt request as it reaches the unit: a DMA write of data to addr. */
struct iommu_irq_req {
    iommu_sid_t sid;
    uint64_t addr;
    uint32_t data;
};

enum iommu_irq_out_kind {
    IOMMU_IRQ_REMAPPED = 0,    /* remapped-format IRTE: deliver vector to dest            */
    IOMMU_IRQ_POSTED = 1,      /* posted-format IRTE: post vector into the descriptor at pda */
    IOMMU_IRQ_PASSTHROUGH = 2, /* compatibility format not remapped (CFIS = 1 or IR off):
                                * delivered as decoded from the request                   */
};

/* Outcome of a request that completed (DONE). */
struct iommu_irq_out {
    uint8_t kind;      /* enum iommu_irq_out_kind                                      */
    uint8_t vector;
    /* REMAPPED / PASSTHROUGH */
    uint32_t dest;     /* APIC id (x2APIC 32-bit, xAPIC 8-bit)                          */
    bool dm, rh, tm;
    uint8_t dlm;
    /* POSTED */
    uint64_t pda;      /* posted-interrupt descriptor address                           */
    bool urg;
};

/* One interrupt request in flight. Caller-owned; fields below "private" belong to
 * irq_remap.c. */
struct iommu_irq_op {
    struct iommu_irq_req req;
    struct iommu_msi msi;      /* the decoded request                                    */
    uint32_t index;            /* interrupt index (remappable requests)                  */
    uint64_t irte[2];          /* the entry used (after an IEC hit or the read)           */
    struct iommu_irq_out out;  /* after DONE                                             */
    uint8_t fault_reason;      /* after FAULT: 0x20..0x26                                */
    bool fault_fpd;            /* after FAULT: the IRTE had FPD set (no record written)  */
    bool fault_recorded;       /* after FAULT: written to a fault-recording register     */
    bool iec_lookup, iec_hit;  /* IEC consulted / hit                                    */
    uint16_t mem_reads;        /* IRTE reads issued                                      */
    /* private */
    uint8_t state;
};

/* Starts processing req: returns DONE, FAULT or a READ of the IRTE. An address outside the
 * interrupt range is not an interrupt request: FAULT 0x20. */
struct iommu_step iommu_irq_begin(iommu_irq_t *q, struct iommu_irq_op *op,
                                  const struct iommu_irq_req *req);
/* Resumes after the READ with the two little-endian IRTE words. */
struct iommu_step iommu_irq_resume(iommu_irq_t *q, struct iommu_irq_op *op, const uint64_t *data);
/* The READ could not be completed (memory error): FAULT 0x23. */
struct iommu_step iommu_irq_read_failed(iommu_irq_t *q, struct iommu_irq_op *op);

/* The fault record VT-d writes for a faulted op (FR, SID; FI bits 63:48 = interrupt index;
 * T1 = 0, a write). */
void iommu_irq_fault_record(const struct iommu_irq_op *op, struct iommu_fault_record *r);

/* Functional driver: processes req against mem. Returns true on DONE, false on FAULT. */
bool iommu_irq_functional(iommu_irq_t *q, iommu_physmem_t *mem, struct iommu_irq_op *op,
                          const struct iommu_irq_req *req);
/* For a POSTED result: atomically posts op->out.vector into the descriptor at op->out.pda in
 * mem (iommu_pid_post). Returns true when a notification event is due; *pid (may be NULL)
 * receives the descriptor after the update (its NV/NDST name the notification). */
bool iommu_irq_post_functional(iommu_irq_t *q, iommu_physmem_t *mem,
                               const struct iommu_irq_op *op, struct iommu_pid *pid);

#ifdef __cplusplus
}
#endif
#endif
