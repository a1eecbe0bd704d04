/*
 * desc.h — VT-d queued-invalidation descriptors (VT-d 6.5.2): their bit layouts, encoders
 * (what a driver writes into the queue) and the decoder the hardware applies, with the
 * checks that make a descriptor invalid (unknown type, reserved bits set, a granularity the
 * type does not have, a scalable-mode type in a 128-bit queue).
 *
 * A descriptor is 128 bits (qw[0], qw[1]) in a legacy queue and 256 bits (qw[0..3]) when
 * IQA_REG.DW = 1; in the 256-bit form of a legacy descriptor qw[2] and qw[3] are reserved
 * (zero). The type is qw0 bits 3:0 plus bits 11:9 (type[6:4]); every type defined here has
 * type[6:4] = 0.
 *
 * Layouts (qw0 low 64 bits, qw1 high; field bits as in the specification):
 *  0x1 context-cache: G 5:4 (1 global, 2 domain, 3 device), DID 31:16, SID 47:32, FM 49:48
 *  0x2 IOTLB:         G 5:4 (1 global, 2 domain, 3 page), DW 6, DR 7, DID 31:16;
 *                     qw1: AM 5:0, IH 6, ADDR 63:12
 *  0x3 device-TLB:    PFSID[3:0] 15:12, MIP 20:16, SID 47:32, PFSID[15:4] 63:52;
 *                     qw1: S 0, ADDR 63:12
 *  0x4 IEC:           G 4 (0 global, 1 index-selective), IM 31:27, IIDX 47:32
 *  0x5 inv. wait:     IF 4, SW 5, FN 6, PD 7, status data 63:32; qw1: status address 63:2
 *  0x6 PASID-IOTLB:   G 5:4 (2 PASID-selective, 3 page-selective within PASID), DID 31:16,
 *                     PASID 51:32; qw1: AM 5:0, IH 6, ADDR 63:12
 *  0x7 PASID-cache:   G 5:4 (0 domain, 1 PASID-selective, 3 global), DID 31:16, PASID 51:32
 *  0x8 PASID-device-TLB, 0x9 page-group response, 0xA page response: recognised types that
 *  this model does not execute (decoded as IOMMU_QI_ERR_UNSUPPORTED_TYPE; see docs).
 */
#ifndef IOMMU_INVQ_DESC_H
#define IOMMU_INVQ_DESC_H

#include "../common/types.h"

#ifdef __cplusplus
extern "C" {
#endif

enum iommu_qi_type {
    IOMMU_QI_CC = 0x1,
    IOMMU_QI_IOTLB = 0x2,
    IOMMU_QI_DEVTLB = 0x3,
    IOMMU_QI_IEC = 0x4,
    IOMMU_QI_WAIT = 0x5,
    IOMMU_QI_PASID_IOTLB = 0x6,
    IOMMU_QI_PASID_CACHE = 0x7,
    IOMMU_QI_PASID_DEVTLB = 0x8,
    IOMMU_QI_PGRP_RESP = 0x9,
    IOMMU_QI_PAGE_RESP = 0xA,
};
/* "cc", "iotlb", "devtlb", "iec", "wait", "pasid-iotlb", "pasid-cache", ...; "unknown". */
const char *iommu_qi_type_name(unsigned type);

/* Granularities (the G field's values). */
enum { IOMMU_QI_G_GLOBAL = 1, IOMMU_QI_G_DOMAIN = 2, IOMMU_QI_G_DEVICE = 3, IOMMU_QI_G_PAGE = 3 };
enum { IOMMU_QI_PC_G_DOMAIN = 0, IOMMU_QI_PC_G_PASID = 1, IOMMU_QI_PC_G_GLOBAL = 3 };
enum { IOMMU_QI_PIOTLB_G_PASID = 2, IOMMU_QI_PIOTLB_G_PAGE = 3 };

/* Invalidation-queue error information (IQERCD_REG.IQEI, bits 3:0) the decoder and the
 * queue report; 0 = no error. Values as defined for IQERCD_REG in VT-d 3.x §11.4.9.x. */
enum iommu_qi_error {
    IOMMU_QI_OK = 0,
    IOMMU_QI_ERR_TAIL_BEYOND = 1,     /* IQT_REG points beyond the queue                 */
    IOMMU_QI_ERR_FETCH = 2,           /* the descriptor fetch failed (address not backed) */
    IOMMU_QI_ERR_INVALID_TYPE = 3,    /* unknown descriptor type                          */
    IOMMU_QI_ERR_RESERVED = 4,        /* reserved field set / undefined granularity       */
    IOMMU_QI_ERR_WIDTH = 5,           /* a 256-bit-only type in a 128-bit queue           */
    IOMMU_QI_ERR_TAIL_MISALIGNED = 6, /* DW = 1 and IQT_REG bit 4 set                     */
    IOMMU_QI_ERR_UNSUPPORTED_TYPE = 7,/* a defined type this unit does not implement      */
};
const char *iommu_qi_error_name(unsigned code);

/* A decoded descriptor (fields by type, as in the layouts above; unused fields zero). */
struct iommu_qi_desc {
    uint8_t type;       /* enum iommu_qi_type                               */
    uint8_t g;          /* granularity                                      */
    uint8_t am;         /* IOTLB/PASID-IOTLB: address mask (2^am pages)     */
    uint8_t fm;         /* context-cache: function mask                     */
    uint8_t mip;        /* device-TLB: max invalidations pending            */
    uint8_t im;         /* IEC: index mask (2^im entries)                   */
    bool ih, dr, dw;    /* IOTLB: invalidation hint, drain reads/writes     */
    bool s;             /* device-TLB: size bit                             */
    bool wait_if, wait_sw, wait_fn, wait_pd; /* wait: interrupt, status write, fence, drain */
    iommu_did_t did;
    iommu_sid_t sid;
    uint16_t pfsid;     /* device-TLB: physical function source-id          */
    uint16_t iidx;      /* IEC: interrupt index                             */
    iommu_pasid_t pasid;
    uint32_t status_data; /* wait */
    uint64_t addr;      /* IOTLB/device-TLB: page address; wait: status address */
};

/* Decodes the 128-bit (dw256 = false) or 256-bit descriptor qw[]; returns IOMMU_QI_OK or the
 * error code (out is filled as far as decoded). */
enum iommu_qi_error iommu_qi_decode(const uint64_t qw[4], bool dw256, struct iommu_qi_desc *out);

/* Encoders: fill qw[0..3] (qw[2], qw[3] zero). Arguments are masked to their fields. */
void iommu_qi_enc_cc(uint64_t qw[4], unsigned g, iommu_did_t did, iommu_sid_t sid, unsigned fm);
void iommu_qi_enc_iotlb(uint64_t qw[4], unsigned g, iommu_did_t did, uint64_t addr, unsigned am,
                        bool ih, bool dr, bool dw);
/* Device-TLB: [addr, addr + 2^size_shift) with size_shift >= 12 (S and the address's low
 * bits encode the size as PCIe ATS invalidations do). */
void iommu_qi_enc_devtlb(uint64_t qw[4], iommu_sid_t sid, uint16_t pfsid, unsigned mip,
                         uint64_t addr, unsigned size_shift);
void iommu_qi_enc_iec(uint64_t qw[4], bool index_selective, uint16_t iidx, unsigned im);
void iommu_qi_enc_wait(uint64_t qw[4], bool sw, bool iflag, bool fn, bool pd,
                       uint64_t status_addr, uint32_t status_data);
void iommu_qi_enc_pasid_iotlb(uint64_t qw[4], unsigned g, iommu_did_t did, iommu_pasid_t pasid,
                              uint64_t addr, unsigned am, bool ih);
void iommu_qi_enc_pasid_cache(uint64_t qw[4], unsigned g, iommu_did_t did, iommu_pasid_t pasid);

/* The range a device-TLB descriptor covers: base and size shift (12 .. 64; 64 = all). */
void iommu_qi_devtlb_range(const struct iommu_qi_desc *d, uint64_t *base, unsigned *size_shift);

#ifdef __cplusplus
}
#endif
#endif
