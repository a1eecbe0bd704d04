/*
 * irte.h — VT-d interrupt-remapping table entries (VT-d 9.10 remapped format, 9.11 posted
 * format): the 128-bit layouts, their encoders (what a driver writes into the table) and the
 * decoder and reserved-bit checks the hardware applies (fault reason 0x24).
 *
 * Layouts (lo = bits 63:0, hi = bits 127:64; bit numbers as in the specification):
 *  both formats: P 0, FPD 1, AVAIL 11:8, IM 15 (0 remapped, 1 posted), vector 23:16,
 *                SID 79:64, SQ 81:80, SVT 83:82
 *  remapped:     DM 2, RH 3, TM 4, DLM 7:5, destination id 63:32 (x2APIC: 32-bit APIC id;
 *                xAPIC: 8-bit APIC id in 47:40, bits 39:32 and 63:48 reserved);
 *                reserved 14:12, 31:24, 127:84
 *  posted:       URG 14, PDA low 63:38 (descriptor address bits 31:6), PDA high 127:96
 *                (address bits 63:32); reserved 7:2, 13:12, 37:24, 95:84
 * SVT 11b is reserved (0x24). A posted entry in a unit without CAP.PI has IM reserved (0x24).
 * Workload assumption: none (pure bit manipulation, no state).
 */
#ifndef IOMMU_IRQ_REMAP_IRTE_H
#define IOMMU_IRQ_REMAP_IRTE_H

#include "../common/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Source-validation type (SVT) and qualifier (SQ) values. */
enum { IOMMU_IRTE_SVT_NONE = 0, IOMMU_IRTE_SVT_SID = 1, IOMMU_IRTE_SVT_BUS = 2 };
enum { IOMMU_IRTE_SQ_ALL = 0, IOMMU_IRTE_SQ_IGN_FN2 = 1, IOMMU_IRTE_SQ_IGN_FN21 = 2,
       IOMMU_IRTE_SQ_IGN_FN = 3 };

/* A decoded IRTE. Fields of the other format are zero after decode and ignored by encode. */
struct iommu_irte {
    bool p;          /* present                                                       */
    bool fpd;        /* fault processing disable: faults from this entry not recorded   */
    bool im;         /* IRTE mode: false = remapped, true = posted                      */
    uint8_t avail;   /* software-available bits 11:8 (4 bits)                           */
    uint8_t vector;  /* remapped: delivered vector; posted: bit set in the PIR          */
    /* remapped format */
    bool dm;         /* destination mode: 0 physical, 1 logical                         */
    bool rh;         /* redirection hint                                                */
    bool tm;         /* trigger mode: 0 edge, 1 level                                   */
    uint8_t dlm;     /* delivery mode (3 bits): 0 fixed, 1 lowest priority, 2 SMI, 4 NMI,
                      * 5 INIT, 7 ExtINT                                                */
    uint32_t dst;    /* raw destination-id field (bits 63:32); see iommu_irte_apic_id   */
    /* posted format */
    bool urg;        /* urgent: notify even when the descriptor's SN is set             */
    uint64_t pda;    /* posted-interrupt descriptor address, 64-byte aligned            */
    /* source validation (both formats) */
    iommu_sid_t sid;
    uint8_t sq;      /* 2 bits */
    uint8_t svt;     /* 2 bits */
};

void iommu_irte_encode(const struct iommu_irte *e, uint64_t out[2]);
void iommu_irte_decode(const uint64_t in[2], struct iommu_irte *e);

/* Destination-id field for an APIC id: x2APIC (eim) the id itself, xAPIC id << 8. */
static inline uint32_t iommu_irte_dst_field(uint32_t apic_id, bool eim)
{
    return eim ? apic_id : (apic_id & 0xFFu) << 8;
}
/* The APIC id a remapped entry targets, from its destination-id field. */
static inline uint32_t iommu_irte_apic_id(const struct iommu_irte *e, bool eim)
{
    return eim ? e->dst : (e->dst >> 8) & 0xFFu;
}

/* Reserved-bit check of a present entry: 0 when well formed, else IOMMU_FR_IR_RESERVED
 * (0x24). eim = IRTA.EIME (x2APIC destinations); posted_ok = CAP.PI. */
uint8_t iommu_irte_check(const uint64_t in[2], bool eim, bool posted_ok);

/* Source-id verification (VT-d 9.10 SVT/SQ): true when requester sid may use the entry.
 * SVT 01: sid equals SID under the SQ mask (SQ 01 ignores function bit 2, 10 bits 2:1,
 * 11 bits 2:0); SVT 10: SID[15:8] <= bus(sid) <= SID[7:0]; SVT 00: always; 11: never. */
bool iommu_irte_sid_ok(const struct iommu_irte *e, iommu_sid_t sid);

#ifdef __cplusplus
}
#endif
#endif
