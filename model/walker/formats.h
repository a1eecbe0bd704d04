/*
 * formats.h — bit-exact encode/decode of every VT-d DMA-remapping table entry, plus the
 * reserved-bit checks hardware applies to them, and the scalable-mode fault reason codes the
 * walker and the context fetch record.
 *
 * Source: Intel Virtualization Technology for Directed I/O Architecture Specification
 * (rev. 3.x/4.x), chapter 9 "Translation Structure Formats":
 *   9.1 Root Entry                         (legacy mode, 128 bit)
 *   9.2 Scalable-Mode Root Entry           (128 bit: lower/upper context-table pointers)
 *   9.3 Context Entry                      (legacy mode, 128 bit)
 *   9.4 Scalable-Mode Context Entry        (256 bit)
 *   9.5 Scalable-Mode PASID Directory Entry (64 bit)
 *   9.6 Scalable-Mode PASID Table Entry    (512 bit)
 * and, through formats/vtd_pte.h (included below; implemented in formats/vtd_fl.c and
 * formats/vtd_sl.c, the walker's pluggable page-table formats):
 *   9.7 First-Level Paging Entries         (IA-32e format, 64 bit)
 *   9.8 Second-Level Paging Entries        (64 bit)
 *
 * Conventions.
 *  - Entries are arrays of little-endian 64-bit words; word i holds bits 64*i+63 : 64*i.
 *    That is exactly how they sit in memory, so physmem reads can be decoded directly.
 *  - encode() writes every word of the entry (reserved and ignored bits as zero); every field
 *    is truncated to its width, so an out-of-range field can never spill into a neighbour.
 *    Address fields are stored as addresses (4 KB aligned; the low 12 bits are dropped).
 *  - decode() extracts every defined field and ignores reserved/ignored bits; use the
 *    matching *_reserved_ok() to check them.
 *  - *_reserved_ok(..., haw, ...) returns false when a bit the specification reserves is set.
 *    Address fields are HAW-1:12 wide, so address bits at/above `haw` are reserved as well;
 *    pass haw = 52 (IOMMU_VTD_MAX_HAW) to check only the fixed reserved bits (the walker and
 *    the context fetch do that and report "pointer beyond HAW" with its own fault reason).
 *    Reserved bits of a not-present entry are not checked (the checks return true).
 *  - Paging entries need their level (1 = PTE, 2 = PDE, 3 = PDPE, 4 = PML4E, 5 = PML5E)
 *    because bit 7 is PS at levels 2-3, reserved at 4-5 and PAT (first level) / ignored
 *    (second level) at level 1, and large leaves have reserved low address bits.
 *
 * Not modelled (documented in docs/models/walker.md): the "ignored" bits available to
 * software, A/D updates, memory-type combination (EMT/PAT are encoded but not interpreted),
 * reserved EMT encodings (not flagged as reserved bits here).
 */
#ifndef IOMMU_WALKER_FORMATS_H
#define IOMMU_WALKER_FORMATS_H

#include "../common/types.h"
/* The paging-entry formats (9.7, 9.8: IOMMU_FL_*, IOMMU_SL_*, iommu_vtd_{fl,sl}_pte_*), the
 * level helpers (iommu_vtd_pte_is_leaf, _leaf_shift, _pt_index) and IOMMU_VTD_MAX_HAW /
 * IOMMU_VTD_ADDR_MASK live with the format implementations in model/walker/formats/. */
#include "formats/vtd_pte.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 9.1 Root Entry (legacy mode) ---------------------------------------------------------
 * bit 0 P; bits 11:1 reserved; bits 63:12 CTP (context-table pointer, HAW-1:12);
 * bits 127:64 reserved. */
struct iommu_vtd_root {
    bool p;       /* present                                       */
    uint64_t ctp; /* context-table pointer (4 KB aligned address)   */
};
void iommu_vtd_root_encode(const struct iommu_vtd_root *e, uint64_t out[2]);
void iommu_vtd_root_decode(const uint64_t in[2], struct iommu_vtd_root *e);
bool iommu_vtd_root_reserved_ok(const uint64_t in[2], uint8_t haw);

/* ---- 9.2 Scalable-Mode Root Entry -----------------------------------------------------------
 * bit 0 LP; bits 11:1 reserved; bits 63:12 LCTP (context table for devfn 0-127);
 * bit 64 UP; bits 75:65 reserved; bits 127:76 UCTP (context table for devfn 128-255). */
struct iommu_vtd_sm_root {
    bool lp;       /* lower present                                  */
    uint64_t lctp; /* lower context-table pointer (devfn 0-127)      */
    bool up;       /* upper present                                  */
    uint64_t uctp; /* upper context-table pointer (devfn 128-255)    */
};
void iommu_vtd_sm_root_encode(const struct iommu_vtd_sm_root *e, uint64_t out[2]);
void iommu_vtd_sm_root_decode(const uint64_t in[2], struct iommu_vtd_sm_root *e);
/* Checks the half used by `devfn` (devfn >= 128: upper), as the fetch only consumes that one. */
bool iommu_vtd_sm_root_reserved_ok(const uint64_t in[2], uint8_t devfn, uint8_t haw);

/* ---- 9.3 Context Entry (legacy mode) --------------------------------------------------------
 * bit 0 P; bit 1 FPD; bits 3:2 TT; bits 11:4 reserved; bits 63:12 SLPTPTR;
 * bits 66:64 AW; bits 70:67 ignored; bit 71 reserved; bits 87:72 DID; bits 127:88 reserved. */
enum iommu_vtd_tt {
    IOMMU_VTD_TT_UNTRANSLATED = 0, /* untranslated requests via second level          */
    IOMMU_VTD_TT_DEV_TLB = 1,      /* also translated/translation requests (ATS)      */
    IOMMU_VTD_TT_PASSTHROUGH = 2,  /* untranslated requests pass through              */
    IOMMU_VTD_TT_RESERVED = 3,
};
/* AW encodings (context and PASID-table entries): 1 = 39-bit/3-level, 2 = 48-bit/4-level,
 * 3 = 57-bit/5-level; levels = AW + 2. */
struct iommu_vtd_ctx {
    bool p;           /* present                                        */
    bool fpd;         /* fault processing disable                        */
    uint8_t tt;       /* enum iommu_vtd_tt (2 bits)                      */
    uint64_t slptptr; /* second-level page-table pointer (4 KB aligned)  */
    uint8_t aw;       /* address width (3 bits)                          */
    uint16_t did;     /* domain id                                       */
};
void iommu_vtd_ctx_encode(const struct iommu_vtd_ctx *e, uint64_t out[2]);
void iommu_vtd_ctx_decode(const uint64_t in[2], struct iommu_vtd_ctx *e);
bool iommu_vtd_ctx_reserved_ok(const uint64_t in[2], uint8_t haw);

/* ---- 9.4 Scalable-Mode Context Entry (256 bit) ----------------------------------------------
 * bit 0 P; bit 1 FPD; bit 2 DTE; bit 3 PASIDE; bit 4 PRE; bits 8:5 reserved; bits 11:9 PDTS;
 * bits 63:12 PASIDDIRPTR; bits 83:64 RID_PASID; bit 84 RID_PRIV; bits 127:85 reserved;
 * bits 255:128 reserved. The PASID directory has 2^(PDTS+7) entries. */
struct iommu_vtd_sm_ctx {
    bool p;             /* present                                          */
    bool fpd;           /* fault processing disable                          */
    bool dte;           /* device-TLB enable                                 */
    bool paside;        /* PASID enable (requests with PASID allowed)        */
    bool pre;           /* page request enable                               */
    uint8_t pdts;       /* PASID directory size (3 bits)                     */
    uint64_t pasid_dir; /* PASID directory pointer (4 KB aligned)            */
    uint32_t rid_pasid; /* PASID for requests without PASID (20 bits)        */
    bool rid_priv;      /* privilege of requests without PASID               */
};
void iommu_vtd_sm_ctx_encode(const struct iommu_vtd_sm_ctx *e, uint64_t out[4]);
void iommu_vtd_sm_ctx_decode(const uint64_t in[4], struct iommu_vtd_sm_ctx *e);
bool iommu_vtd_sm_ctx_reserved_ok(const uint64_t in[4], uint8_t haw);

/* ---- 9.5 Scalable-Mode PASID Directory Entry (64 bit) ---------------------------------------
 * bit 0 P; bit 1 FPD; bits 11:2 reserved; bits 63:12 SMPTBLPTR (PASID table pointer). */
struct iommu_vtd_pasid_dir {
    bool p;
    bool fpd;
    uint64_t pasid_table; /* PASID table pointer (4 KB aligned) */
};
void iommu_vtd_pasid_dir_encode(const struct iommu_vtd_pasid_dir *e, uint64_t out[1]);
void iommu_vtd_pasid_dir_decode(const uint64_t in[1], struct iommu_vtd_pasid_dir *e);
bool iommu_vtd_pasid_dir_reserved_ok(const uint64_t in[1], uint8_t haw);

/* ---- 9.6 Scalable-Mode PASID Table Entry (512 bit) ------------------------------------------
 * word 0: bit 0 P; bit 1 FPD; bits 4:2 AW; bit 5 SLEE; bits 8:6 PGTT; bit 9 SLADE;
 *         bits 11:10 reserved; bits 63:12 SLPTPTR.
 * word 1: bits 79:64 DID; bits 86:80 reserved; bit 87 PWSNP; bit 88 PGSNP; bit 89 CD;
 *         bit 90 EMTE; bits 93:91 EMT; bit 94 PWT; bit 95 PCD; bits 127:96 PAT.
 * word 2: bit 128 SRE; bit 129 ERE; bits 131:130 FLPM; bit 132 WPE; bit 133 NXE; bit 134 SMEP;
 *         bit 135 EAFE; bits 139:136 reserved; bits 191:140 FLPTPTR.
 * words 3-7 (bits 511:192): treated as reserved by this model. (Later revisions of the
 *         specification define fields there; none is modelled — see docs/models/walker.md.) */
enum iommu_vtd_pgtt {
    IOMMU_VTD_PGTT_FL = 1,     /* first-level only                 */
    IOMMU_VTD_PGTT_SL = 2,     /* second-level only                */
    IOMMU_VTD_PGTT_NESTED = 3, /* first level nested over second   */
    IOMMU_VTD_PGTT_PT = 4,     /* pass-through                     */
};
struct iommu_vtd_pasid_entry {
    bool p, fpd;
    uint8_t aw;       /* second-level address width (3 bits)            */
    bool slee;        /* second-level execute enable                    */
    uint8_t pgtt;     /* enum iommu_vtd_pgtt (3 bits)                   */
    bool slade;       /* second-level accessed/dirty enable             */
    uint64_t slptptr; /* second-level page-table pointer (4 KB aligned) */
    uint16_t did;
    bool pwsnp, pgsnp, cd, emte;
    uint8_t emt;      /* 3 bits */
    bool pwt, pcd;
    uint32_t pat;
    bool sre;         /* supervisor requests enable                     */
    bool ere;         /* execute requests enable                        */
    uint8_t flpm;     /* first-level paging mode: 0 = 4-level, 1 = 5-level (2 bits) */
    bool wpe, nxe, smep, eafe;
    uint64_t flptptr; /* first-level page-table pointer (4 KB aligned; a GPA when nested) */
};
void iommu_vtd_pasid_entry_encode(const struct iommu_vtd_pasid_entry *e, uint64_t out[8]);
void iommu_vtd_pasid_entry_decode(const uint64_t in[8], struct iommu_vtd_pasid_entry *e);
/* SLPTPTR is checked against haw when PGTT uses the second level (2, 3); FLPTPTR only for
 * PGTT = 1 (when nested it is a guest-physical address, limited by the second level). */
bool iommu_vtd_pasid_entry_reserved_ok(const uint64_t in[8], uint8_t haw);

/* ---- Scalable-mode fault reasons ------------------------------------------------------------
 * VT-d 7.1.3 ("Fault Conditions and Remapping Hardware Behavior", scalable-mode rows).
 * The numeric values were cross-checked against the decode table of Linux's Intel IOMMU
 * driver (drivers/iommu/intel/dmar.c), which prints them from the same specification table.
 * The spec's row labels given in brackets (SRT/SCT/SPD/SPT/SFL/SSL/SGN.n) are as we recall
 * them; the numbers are what the model relies on. Not yet in model/common/fault_codes.h. */
enum iommu_sm_fault_reason {
    IOMMU_FR_SM_TTM_LEGACY_PASID = 0x31,   /* request with PASID, RTADDR.TTM = legacy        */
    IOMMU_FR_SM_ROOT_ACCESS = 0x38,        /* [SRT.1] error accessing the root entry          */
    IOMMU_FR_SM_ROOT_NOT_PRESENT = 0x39,   /* [SRT.2] root entry LP/UP = 0                    */
    IOMMU_FR_SM_ROOT_RESERVED = 0x3A,      /* [SRT.3] reserved bit in the root entry          */
    IOMMU_FR_SM_CTX_ACCESS = 0x40,         /* [SCT.1] error accessing the context entry       */
    IOMMU_FR_SM_CTX_NOT_PRESENT = 0x41,    /* [SCT.2] context entry P = 0                     */
    IOMMU_FR_SM_CTX_RESERVED = 0x42,       /* [SCT.3] reserved bit in the context entry       */
    IOMMU_FR_SM_CTX_INVALID = 0x43,        /* [SCT.4] context entry programmed inconsistently */
    IOMMU_FR_SM_CTX_DTE_CLEAR = 0x44,      /* [SCT.5] translation request with DTE = 0        */
    IOMMU_FR_SM_CTX_PASIDE_CLEAR = 0x45,   /* [SCT.6] request with PASID, PASIDE = 0          */
    IOMMU_FR_SM_CTX_PASID_BEYOND = 0x46,   /* [SCT.7] PASID beyond the directory size (PDTS)  */
    IOMMU_FR_SM_PDIR_ACCESS = 0x50,        /* [SPD.1] error accessing the PASID directory     */
    IOMMU_FR_SM_PDIR_NOT_PRESENT = 0x51,   /* [SPD.2] PASID directory entry P = 0             */
    IOMMU_FR_SM_PDIR_RESERVED = 0x52,      /* [SPD.3] reserved bit in the directory entry     */
    IOMMU_FR_SM_PASID_ACCESS = 0x58,       /* [SPT.1] error accessing the PASID-table entry   */
    IOMMU_FR_SM_PASID_NOT_PRESENT = 0x59,  /* [SPT.2] PASID-table entry P = 0                 */
    IOMMU_FR_SM_PASID_RESERVED = 0x5A,     /* [SPT.3] reserved bit in the PASID-table entry   */
    IOMMU_FR_SM_PASID_INVALID = 0x5B,      /* [SPT.4] PGTT/AW/FLPM invalid or unsupported     */
    IOMMU_FR_SM_PASID_ERE_CLEAR = 0x5C,    /* [SPT.5] execute request, ERE = 0                */
    IOMMU_FR_SM_PASID_SRE_CLEAR = 0x5D,    /* [SPT.6] supervisor request, SRE = 0             */
    IOMMU_FR_SM_FL_ACCESS = 0x70,          /* [SFL.1] error accessing a first-level entry     */
    IOMMU_FR_SM_FL_NOT_PRESENT = 0x71,     /* [SFL.2] first-level entry P = 0                 */
    IOMMU_FR_SM_FL_RESERVED = 0x72,        /* [SFL.3] reserved bit in a first-level entry     */
    IOMMU_FR_SM_FL_ROOT_ACCESS = 0x73,     /* [SFL.4] error accessing the FL root (PML4/PML5) */
    IOMMU_FR_SM_FL_NESTED_BEYOND = 0x74,   /* [SFL.5] nested: FL address beyond the SL width  */
    IOMMU_FR_SM_FL_ROOT_NESTED_READ = 0x75,/* [SFL.6] nested: SL denies read of the FL root   */
    IOMMU_FR_SM_FL_NESTED_READ = 0x76,     /* [SFL.7] nested: SL denies read of an FL table   */
    IOMMU_FR_SM_FL_NESTED_WRITE = 0x77,    /* [SFL.8] nested: SL denies an FL A/D update      */
    IOMMU_FR_SM_SL_ACCESS = 0x78,          /* [SSL.1] error accessing a second-level entry    */
    IOMMU_FR_SM_SL_NOT_PRESENT = 0x79,     /* [SSL.2] second-level entry R = W = 0            */
    IOMMU_FR_SM_SL_RESERVED = 0x7A,        /* [SSL.3] reserved bit in a second-level entry    */
    IOMMU_FR_SM_SL_ROOT_INVALID = 0x7B,    /* [SSL.4] invalid second-level table pointer      */
    IOMMU_FR_SM_FL_NONCANONICAL = 0x80,    /* [SGN.1] first-level input not canonical         */
    IOMMU_FR_SM_USER_SUPERVISOR = 0x81,    /* [SGN.2] user request to a U/S = 0 page          */
    IOMMU_FR_SM_EXEC_DENIED = 0x82,        /* [SGN.3] execute request without X               */
    IOMMU_FR_SM_ADDR_BEYOND = 0x83,        /* [SGN.4] input address beyond the AW             */
    IOMMU_FR_SM_OUTPUT_BEYOND = 0x84,      /* [SGN.5] output address beyond HAW               */
    IOMMU_FR_SM_WRITE_DENIED = 0x85,       /* [SGN.6] write without W                         */
    IOMMU_FR_SM_READ_DENIED = 0x86,        /* [SGN.7] read without R                          */
};

/* A short constant description of any DMA-remapping fault reason (legacy 0x1-0xD or the
 * scalable-mode codes above); "unknown" otherwise. */
const char *iommu_vtd_fault_str(uint8_t reason);

#ifdef __cplusplus
}
#endif
#endif
