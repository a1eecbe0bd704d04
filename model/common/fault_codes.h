/*
 * fault_codes.h — architectural fault reason codes (Intel VT-d specification, section 7.1.3
 * "Fault Conditions and Remapping Hardware Behavior", table "Non-Recoverable Fault Reason
 * Codes"). Translation faults are recorded with these codes, never returned as errors.
 */
#ifndef IOMMU_COMMON_FAULT_CODES_H
#define IOMMU_COMMON_FAULT_CODES_H

#ifdef __cplusplus
extern "C" {
#endif

enum iommu_fault_reason {
    IOMMU_FR_NONE = 0x00,
    /* legacy-mode DMA remapping faults */
    IOMMU_FR_ROOT_NOT_PRESENT = 0x01,     /* root entry P = 0                                 */
    IOMMU_FR_CTX_NOT_PRESENT = 0x02,      /* context entry P = 0                              */
    IOMMU_FR_CTX_INVALID = 0x03,          /* context entry programmed with invalid values     */
    IOMMU_FR_ADDR_BEYOND_MGAW = 0x04,     /* input address above the domain's address width   */
    IOMMU_FR_WRITE_DENIED = 0x05,         /* write, W = 0 at some level                       */
    IOMMU_FR_READ_DENIED = 0x06,          /* read, R = 0 at some level                        */
    IOMMU_FR_PT_ACCESS = 0x07,            /* next-level table address beyond HAW / error      */
    IOMMU_FR_ROOT_TABLE_ACCESS = 0x08,    /* root-table address error                         */
    IOMMU_FR_CTX_TABLE_ACCESS = 0x09,     /* context-table pointer error                      */
    IOMMU_FR_ROOT_RESERVED = 0x0A,        /* reserved bit set in a root entry                 */
    IOMMU_FR_CTX_RESERVED = 0x0B,         /* reserved bit set in a context entry              */
    IOMMU_FR_PTE_RESERVED = 0x0C,         /* reserved bit set in a paging entry               */
    IOMMU_FR_TT_BLOCKED = 0x0D,           /* translation type blocked (TT not allowed)        */
    IOMMU_FR_LEGACY_MAX = 0x0D,
    /* interrupt-remapping faults (used from issue 5 on) */
    IOMMU_FR_IR_RESERVED_REQ = 0x20,
    IOMMU_FR_IR_INDEX_BEYOND = 0x21,
    IOMMU_FR_IR_NOT_PRESENT = 0x22,
    IOMMU_FR_IR_TABLE_ACCESS = 0x23,
    IOMMU_FR_IR_RESERVED = 0x24,
    IOMMU_FR_IR_COMPAT_BLOCKED = 0x25,
    IOMMU_FR_IR_SID_VERIFY = 0x26,
};

#define IOMMU_FR_MAX 0xFFu /* reasons are 8-bit fields in the fault record */

#ifdef __cplusplus
}
#endif
#endif
