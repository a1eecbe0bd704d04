/*
 * formats.c — bit-exact VT-d table entry encode/decode and reserved-bit checks of the root,
 * context and PASID structures (VT-d 9.1-9.6; see formats.h for the field layouts), and the
 * fault-reason strings. The paging entries (9.7, 9.8) are in formats/vtd_fl.c and
 * formats/vtd_sl.c.
 *
 * Assumptions: entries are handled as little-endian 64-bit words as they sit in memory; the
 * host address width is at most 52 bits (IOMMU_VTD_MAX_HAW). Nothing here allocates or keeps
 * state; every function is a pure bit manipulation.
 */
#include "formats.h"

#include "../common/fault_codes.h"
#include "formats/bits.h"

/* ---- 9.1 Root Entry ------------------------------------------------------------------------ */
void iommu_vtd_root_encode(const struct iommu_vtd_root *e, uint64_t out[2])
{
    out[0] = bit(e->p, 0) | (e->ctp & mask(63, 12));
    out[1] = 0;
}

void iommu_vtd_root_decode(const uint64_t in[2], struct iommu_vtd_root *e)
{
    e->p = tst(in[0], 0);
    e->ctp = ptr(in[0]);
}

bool iommu_vtd_root_reserved_ok(const uint64_t in[2], uint8_t haw)
{
    if (!tst(in[0], 0))
        return true;
    return (in[0] & (mask(11, 1) | above_haw(haw, 63))) == 0 && in[1] == 0;
}

/* ---- 9.2 Scalable-Mode Root Entry ---------------------------------------------------------- */
void iommu_vtd_sm_root_encode(const struct iommu_vtd_sm_root *e, uint64_t out[2])
{
    out[0] = bit(e->lp, 0) | (e->lctp & mask(63, 12));
    out[1] = bit(e->up, 0) | (e->uctp & mask(63, 12));
}

void iommu_vtd_sm_root_decode(const uint64_t in[2], struct iommu_vtd_sm_root *e)
{
    e->lp = tst(in[0], 0);
    e->lctp = ptr(in[0]);
    e->up = tst(in[1], 0);
    e->uctp = ptr(in[1]);
}

bool iommu_vtd_sm_root_reserved_ok(const uint64_t in[2], uint8_t devfn, uint8_t haw)
{
    const uint64_t w = devfn >= 128 ? in[1] : in[0];
    if (!tst(w, 0))
        return true;
    return (w & (mask(11, 1) | above_haw(haw, 63))) == 0;
}

/* ---- 9.3 Context Entry ---------------------------------------------------------------------- */
void iommu_vtd_ctx_encode(const struct iommu_vtd_ctx *e, uint64_t out[2])
{
    out[0] = bit(e->p, 0) | bit(e->fpd, 1) | put(e->tt, 3, 2) | (e->slptptr & mask(63, 12));
    out[1] = put(e->aw, 2, 0) | put(e->did, 23, 8);
}

void iommu_vtd_ctx_decode(const uint64_t in[2], struct iommu_vtd_ctx *e)
{
    e->p = tst(in[0], 0);
    e->fpd = tst(in[0], 1);
    e->tt = (uint8_t)get(in[0], 3, 2);
    e->slptptr = ptr(in[0]);
    e->aw = (uint8_t)get(in[1], 2, 0);
    e->did = (uint16_t)get(in[1], 23, 8);
}

bool iommu_vtd_ctx_reserved_ok(const uint64_t in[2], uint8_t haw)
{
    if (!tst(in[0], 0))
        return true;
    /* word 1: bits 6:3 (70:67) are ignored; bit 7 (71) and 63:24 (127:88) reserved. */
    return (in[0] & (mask(11, 4) | above_haw(haw, 63))) == 0 &&
           (in[1] & (mask(7, 7) | mask(63, 24))) == 0;
}

/* ---- 9.4 Scalable-Mode Context Entry --------------------------------------------------------- */
void iommu_vtd_sm_ctx_encode(const struct iommu_vtd_sm_ctx *e, uint64_t out[4])
{
    out[0] = bit(e->p, 0) | bit(e->fpd, 1) | bit(e->dte, 2) | bit(e->paside, 3) |
             bit(e->pre, 4) | put(e->pdts, 11, 9) | (e->pasid_dir & mask(63, 12));
    out[1] = put(e->rid_pasid, 19, 0) | bit(e->rid_priv, 20);
    out[2] = 0;
    out[3] = 0;
}

void iommu_vtd_sm_ctx_decode(const uint64_t in[4], struct iommu_vtd_sm_ctx *e)
{
    e->p = tst(in[0], 0);
    e->fpd = tst(in[0], 1);
    e->dte = tst(in[0], 2);
    e->paside = tst(in[0], 3);
    e->pre = tst(in[0], 4);
    e->pdts = (uint8_t)get(in[0], 11, 9);
    e->pasid_dir = ptr(in[0]);
    e->rid_pasid = (uint32_t)get(in[1], 19, 0);
    e->rid_priv = tst(in[1], 20);
}

bool iommu_vtd_sm_ctx_reserved_ok(const uint64_t in[4], uint8_t haw)
{
    if (!tst(in[0], 0))
        return true;
    return (in[0] & (mask(8, 5) | above_haw(haw, 63))) == 0 && (in[1] & mask(63, 21)) == 0 &&
           in[2] == 0 && in[3] == 0;
}

/* ---- 9.5 Scalable-Mode PASID Directory Entry -------------------------------------------------- */
void iommu_vtd_pasid_dir_encode(const struct iommu_vtd_pasid_dir *e, uint64_t out[1])
{
    out[0] = bit(e->p, 0) | bit(e->fpd, 1) | (e->pasid_table & mask(63, 12));
}

void iommu_vtd_pasid_dir_decode(const uint64_t in[1], struct iommu_vtd_pasid_dir *e)
{
    e->p = tst(in[0], 0);
    e->fpd = tst(in[0], 1);
    e->pasid_table = ptr(in[0]);
}

bool iommu_vtd_pasid_dir_reserved_ok(const uint64_t in[1], uint8_t haw)
{
    if (!tst(in[0], 0))
        return true;
    return (in[0] & (mask(11, 2) | above_haw(haw, 63))) == 0;
}

/* ---- 9.6 Scalable-Mode PASID Table Entry ------------------------------------------------------ */
void iommu_vtd_pasid_entry_encode(const struct iommu_vtd_pasid_entry *e, uint64_t out[8])
{
    out[0] = bit(e->p, 0) | bit(e->fpd, 1) | put(e->aw, 4, 2) | bit(e->slee, 5) |
             put(e->pgtt, 8, 6) | bit(e->slade, 9) | (e->slptptr & mask(63, 12));
    out[1] = put(e->did, 15, 0) | bit(e->pwsnp, 23) | bit(e->pgsnp, 24) | bit(e->cd, 25) |
             bit(e->emte, 26) | put(e->emt, 29, 27) | bit(e->pwt, 30) | bit(e->pcd, 31) |
             put(e->pat, 63, 32);
    out[2] = bit(e->sre, 0) | bit(e->ere, 1) | put(e->flpm, 3, 2) | bit(e->wpe, 4) |
             bit(e->nxe, 5) | bit(e->smep, 6) | bit(e->eafe, 7) | (e->flptptr & mask(63, 12));
    for (int i = 3; i < 8; i++)
        out[i] = 0;
}

void iommu_vtd_pasid_entry_decode(const uint64_t in[8], struct iommu_vtd_pasid_entry *e)
{
    e->p = tst(in[0], 0);
    e->fpd = tst(in[0], 1);
    e->aw = (uint8_t)get(in[0], 4, 2);
    e->slee = tst(in[0], 5);
    e->pgtt = (uint8_t)get(in[0], 8, 6);
    e->slade = tst(in[0], 9);
    e->slptptr = ptr(in[0]);
    e->did = (uint16_t)get(in[1], 15, 0);
    e->pwsnp = tst(in[1], 23);
    e->pgsnp = tst(in[1], 24);
    e->cd = tst(in[1], 25);
    e->emte = tst(in[1], 26);
    e->emt = (uint8_t)get(in[1], 29, 27);
    e->pwt = tst(in[1], 30);
    e->pcd = tst(in[1], 31);
    e->pat = (uint32_t)get(in[1], 63, 32);
    e->sre = tst(in[2], 0);
    e->ere = tst(in[2], 1);
    e->flpm = (uint8_t)get(in[2], 3, 2);
    e->wpe = tst(in[2], 4);
    e->nxe = tst(in[2], 5);
    e->smep = tst(in[2], 6);
    e->eafe = tst(in[2], 7);
    e->flptptr = ptr(in[2]);
}

bool iommu_vtd_pasid_entry_reserved_ok(const uint64_t in[8], uint8_t haw)
{
    if (!tst(in[0], 0))
        return true;
    const unsigned pgtt = (unsigned)get(in[0], 8, 6);
    uint64_t r0 = mask(11, 10), r2 = mask(11, 8);
    if (pgtt == IOMMU_VTD_PGTT_SL || pgtt == IOMMU_VTD_PGTT_NESTED)
        r0 |= above_haw(haw, 63);
    if (pgtt == IOMMU_VTD_PGTT_FL)
        r2 |= above_haw(haw, 63);
    else if (pgtt == IOMMU_VTD_PGTT_NESTED)
        r2 |= mask(63, 52); /* a guest-physical address: at most 52 bits */
    if ((in[0] & r0) || (in[1] & mask(22, 16)) || (in[2] & r2))
        return false;
    for (int i = 3; i < 8; i++)
        if (in[i])
            return false;
    return true;
}

/* ---- fault reasons ---------------------------------------------------------------------------- */
const char *iommu_vtd_fault_str(uint8_t reason)
{
    switch (reason) {
    case IOMMU_FR_NONE: return "no fault";
    case IOMMU_FR_ROOT_NOT_PRESENT: return "root entry not present";
    case IOMMU_FR_CTX_NOT_PRESENT: return "context entry not present";
    case IOMMU_FR_CTX_INVALID: return "invalid context entry";
    case IOMMU_FR_ADDR_BEYOND_MGAW: return "address beyond the address width";
    case IOMMU_FR_WRITE_DENIED: return "write not permitted";
    case IOMMU_FR_READ_DENIED: return "read not permitted";
    case IOMMU_FR_PT_ACCESS: return "next-level page table access error";
    case IOMMU_FR_ROOT_TABLE_ACCESS: return "root table access error";
    case IOMMU_FR_CTX_TABLE_ACCESS: return "context table access error";
    case IOMMU_FR_ROOT_RESERVED: return "reserved bit in root entry";
    case IOMMU_FR_CTX_RESERVED: return "reserved bit in context entry";
    case IOMMU_FR_PTE_RESERVED: return "reserved bit in paging entry";
    case IOMMU_FR_TT_BLOCKED: return "translation type blocked";
    case IOMMU_FR_SM_TTM_LEGACY_PASID: return "SM: request with PASID in legacy mode";
    case IOMMU_FR_SM_ROOT_ACCESS: return "SM: root entry access error";
    case IOMMU_FR_SM_ROOT_NOT_PRESENT: return "SM: root entry not present";
    case IOMMU_FR_SM_ROOT_RESERVED: return "SM: reserved bit in root entry";
    case IOMMU_FR_SM_CTX_ACCESS: return "SM: context entry access error";
    case IOMMU_FR_SM_CTX_NOT_PRESENT: return "SM: context entry not present";
    case IOMMU_FR_SM_CTX_RESERVED: return "SM: reserved bit in context entry";
    case IOMMU_FR_SM_CTX_INVALID: return "SM: invalid context entry";
    case IOMMU_FR_SM_CTX_DTE_CLEAR: return "SM: translation request with DTE clear";
    case IOMMU_FR_SM_CTX_PASIDE_CLEAR: return "SM: request with PASID, PASIDE clear";
    case IOMMU_FR_SM_CTX_PASID_BEYOND: return "SM: PASID beyond the PASID directory";
    case IOMMU_FR_SM_PDIR_ACCESS: return "SM: PASID directory access error";
    case IOMMU_FR_SM_PDIR_NOT_PRESENT: return "SM: PASID directory entry not present";
    case IOMMU_FR_SM_PDIR_RESERVED: return "SM: reserved bit in PASID directory entry";
    case IOMMU_FR_SM_PASID_ACCESS: return "SM: PASID table access error";
    case IOMMU_FR_SM_PASID_NOT_PRESENT: return "SM: PASID-table entry not present";
    case IOMMU_FR_SM_PASID_RESERVED: return "SM: reserved bit in PASID-table entry";
    case IOMMU_FR_SM_PASID_INVALID: return "SM: invalid PASID-table entry";
    case IOMMU_FR_SM_PASID_ERE_CLEAR: return "SM: execute request, ERE clear";
    case IOMMU_FR_SM_PASID_SRE_CLEAR: return "SM: supervisor request, SRE clear";
    case IOMMU_FR_SM_FL_ACCESS: return "SM: first-level table access error";
    case IOMMU_FR_SM_FL_NOT_PRESENT: return "SM: first-level entry not present";
    case IOMMU_FR_SM_FL_RESERVED: return "SM: reserved bit in first-level entry";
    case IOMMU_FR_SM_FL_ROOT_ACCESS: return "SM: first-level root table access error";
    case IOMMU_FR_SM_FL_NESTED_BEYOND: return "SM: nested first-level address beyond SL width";
    case IOMMU_FR_SM_FL_ROOT_NESTED_READ: return "SM: nested read of first-level root denied";
    case IOMMU_FR_SM_FL_NESTED_READ: return "SM: nested read of first-level table denied";
    case IOMMU_FR_SM_FL_NESTED_WRITE: return "SM: nested write of first-level entry denied";
    case IOMMU_FR_SM_SL_ACCESS: return "SM: second-level table access error";
    case IOMMU_FR_SM_SL_NOT_PRESENT: return "SM: second-level entry not present (R=W=0)";
    case IOMMU_FR_SM_SL_RESERVED: return "SM: reserved bit in second-level entry";
    case IOMMU_FR_SM_SL_ROOT_INVALID: return "SM: invalid second-level table pointer";
    case IOMMU_FR_SM_FL_NONCANONICAL: return "SM: non-canonical first-level address";
    case IOMMU_FR_SM_USER_SUPERVISOR: return "SM: user request to supervisor page";
    case IOMMU_FR_SM_EXEC_DENIED: return "SM: execute not permitted";
    case IOMMU_FR_SM_ADDR_BEYOND: return "SM: address beyond the address width";
    case IOMMU_FR_SM_OUTPUT_BEYOND: return "SM: output address beyond HAW";
    case IOMMU_FR_SM_WRITE_DENIED: return "SM: write not permitted";
    case IOMMU_FR_SM_READ_DENIED: return "SM: read not permitted";
    default: return "unknown";
    }
}
