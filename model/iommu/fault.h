/*
 * fault.h — primary fault recording (VT-d 7.2.1 and 11.4.14 FRCD_REG, 11.4.9 FSTS_REG).
 *
 * The unit holds NFR 128-bit fault-recording registers used as a circular buffer from the
 * fault-record index FRI. A fault is recorded at FRI when that record's F bit is clear
 * (then FRI advances); when it is set the fault is lost and FSTS.PFO (primary fault overflow)
 * is set. FSTS.PPF (primary pending fault) is the OR of all F bits. Software clears a record
 * by writing 1 to its F bit (iommu_faults_clear). Faults from a context with FPD = 1 are not
 * recorded (counted as suppressed).
 */
#ifndef IOMMU_IOMMU_FAULT_H
#define IOMMU_IOMMU_FAULT_H

#include "../common/types.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iommu_fault_record {
    bool f;           /* record valid (F)                               */
    uint8_t reason;   /* FR: enum iommu_fault_reason                     */
    iommu_sid_t sid;  /* SID: requester id                               */
    bool is_read;     /* T1: 1 = read request, 0 = write                 */
    bool priv;        /* PRIV: privileged-mode request                   */
    bool exe;         /* EXE: execute request                            */
    bool pp;          /* PP: PASID present                               */
    uint32_t pasid;   /* PV: PASID value (when pp)                       */
    uint8_t at;       /* AT: address type of the request                 */
    uint64_t fi;      /* FI: page-aligned faulting address (bits 63:12)   */
};

/* FRCD_REG layout (VT-d 11.4.14): lo = FI (63:12); hi: SID 79:64, T2 92, PRIV 93, EXE 94,
 * PP 95, FR 103:96, PV 123:104, AT 125:124, T1 126, F 127. */
void iommu_fault_record_encode(const struct iommu_fault_record *r, uint64_t out[2]);
void iommu_fault_record_decode(const uint64_t in[2], struct iommu_fault_record *r);

#define IOMMU_FSTS_PFO (1u << 0) /* primary fault overflow */
#define IOMMU_FSTS_PPF (1u << 1) /* primary pending fault  */
#define IOMMU_FSTS_FRI_SHIFT 8u  /* fault record index, bits 15:8 */

#ifdef __cplusplus
}
#endif
#endif
