/*
 * pid.h — the posted-interrupt descriptor (VT-d 9.12): 64 bytes, 64-byte aligned, written by
 * software (the VMM) and updated atomically by the remapping hardware when it posts an
 * interrupt (VT-d 5.2.3).
 *
 * Layout (qw[0..7], little-endian 64-bit words; bit numbers of the 512-bit descriptor):
 *  PIR 255:0 (qw0..qw3: one bit per vector), ON 256 (qw4 bit 0, outstanding notification),
 *  SN 257 (qw4 bit 1, suppress notification), NV 279:272 (qw4 bits 23:16, notification
 *  vector), NDST 319:288 (qw4 bits 63:32, notification destination: x2APIC id; xAPIC: 8-bit
 *  id in 303:296 = NDST bits 15:8); everything else reserved / software-available (qw5..7
 *  are left untouched by posting).
 *
 * Posting (iommu_pid_post) is the read-modify-write hardware performs as one atomic
 * operation on the descriptor: set PIR[vector]; then if ON = 0 and (SN = 0 or the IRTE's
 * URG = 1), set ON and a notification event (vector NV to NDST) is due. With ON already set
 * no notification is sent (one is outstanding); with SN set and URG clear the vector is only
 * recorded. The caller performs the memory access atomically.
 */
#ifndef IOMMU_IRQ_REMAP_PID_H
#define IOMMU_IRQ_REMAP_PID_H

#include "../common/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOMMU_PID_BYTES 64u

struct iommu_pid {
    uint64_t pir[4]; /* posted-interrupt requests: vector v is pir[v / 64] bit v % 64 */
    bool on;         /* outstanding notification                                     */
    bool sn;         /* suppress notification                                        */
    uint8_t nv;      /* notification vector                                          */
    uint32_t ndst;   /* notification destination (raw field, see iommu_irte_apic_id)  */
};

/* Fills all 8 words (qw5..7 zero). */
void iommu_pid_encode(const struct iommu_pid *d, uint64_t out[8]);
void iommu_pid_decode(const uint64_t in[8], struct iommu_pid *d);

/* Posts vector into the descriptor image pid[0..7] (qw0..qw4 may change); returns true when
 * a notification event is due. */
bool iommu_pid_post(uint64_t pid[8], uint8_t vector, bool urg);

#ifdef __cplusplus
}
#endif
#endif
