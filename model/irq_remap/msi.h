/*
 * msi.h — decoding an interrupt request: a DMA write of 32-bit data to 0xFEEx_xxxx
 * (VT-d 5.1.2). Address bit 4 selects the format:
 *  compatibility (bit 4 = 0): address: destination (APIC id) 19:12, RH 3, DM 2;
 *                             data: vector 7:0, delivery mode 10:8, trigger mode 15
 *  remappable    (bit 4 = 1): address: handle[14:0] 19:5, SHV 3, handle[15] 2;
 *                             data: sub-handle 15:0 (used when SHV = 1), 31:16 reserved
 * The interrupt index is the handle, plus the sub-handle when SHV = 1 (so up to 17 bits:
 * the table-size check catches the overflow). A remappable request with reserved data bits
 * set is fault 0x20. Addresses outside 0xFEE00000..0xFEEFFFFF are not interrupt requests.
 * Workload assumption: none (pure bit manipulation, no state).
 */
#ifndef IOMMU_IRQ_REMAP_MSI_H
#define IOMMU_IRQ_REMAP_MSI_H

#include "../common/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOMMU_MSI_ADDR_IF (1ull << 4) /* interrupt format: remappable */
#define IOMMU_MSI_ADDR_SHV (1ull << 3)

/* A decoded interrupt request. */
struct iommu_msi {
    bool remappable;     /* address bit 4                                  */
    /* compatibility format */
    uint8_t vector;
    uint8_t dlm;         /* delivery mode (3 bits)                         */
    bool dm, rh, tm;
    uint8_t dest;        /* 8-bit APIC id                                  */
    /* remappable format */
    uint16_t handle;     /* 16 bits                                        */
    bool shv;            /* sub-handle valid                               */
    uint16_t subhandle;  /* data 15:0 when shv                             */
    uint32_t index;      /* handle (+ subhandle when shv): the IRTE index   */
};

/* True for an address in the interrupt range 0xFEE00000..0xFEEFFFFF. */
static inline bool iommu_msi_is_interrupt(uint64_t addr)
{
    return addr >= IOMMU_IRQ_RANGE_BASE && addr <= IOMMU_IRQ_RANGE_LAST;
}

/* Decodes (addr, data); returns 0, or IOMMU_FR_IR_RESERVED_REQ (0x20) for a remappable
 * request with reserved bits set (m is filled as far as decoded). addr must be in the
 * interrupt range (asserted). */
uint8_t iommu_msi_decode(uint64_t addr, uint32_t data, struct iommu_msi *m);

/* Encoders (what a driver programs into a device's MSI/MSI-X registers). */
uint64_t iommu_msi_addr_remappable(uint16_t handle, bool shv);
uint64_t iommu_msi_addr_compat(uint8_t dest, bool dm, bool rh);
uint32_t iommu_msi_data_compat(uint8_t vector, unsigned dlm, bool tm);

#ifdef __cplusplus
}
#endif
#endif
