/*
 * vtd_fl.c — the VT-d first-level paging-entry format, i.e. IA-32e paging (VT-d 9.7; walked
 * as in 3.6): the bit-exact encode/decode/reserved-bit functions declared in vtd_pte.h, and
 * the walker's format table `iommu_pt_vtd_fl` (pt_format.h).
 *
 * Layout: bit 0 P; 1 R/W; 2 U/S; 3 PWT; 4 PCD; 5 A; 6 D; 7 PS (levels 2-3; reserved at 4-5;
 * PAT at level 1); 8 G; 10 EA; HAW-1:12 address (bit 12 PAT and 29:13 / 20:13 reserved in a
 * 1 GB / 2 MB leaf); 63 XD (reserved when NXE = 0).
 *
 * Walk rules: input addresses must be canonical at 48/57 bits (4/5 levels); 2 MB leaves are
 * always allowed, 1 GB leaves need CAP.FL1GP (p->fl_1g); XD is never a reserved bit (the
 * walk assumes NXE = 1) and removes X only when p->x_enabled; R is always granted;
 * U/S = 0 makes the page supervisor-only (IOMMU_ACC_PRIV).
 * Fault reasons: legacy 0x5/0x6 (access's permission fault) not present, 0xC reserved, 0x4
 * input width, 0x7 for any address beyond HAW; scalable 0x71, 0x72, 0x80 (non-canonical),
 * and 0x73 root / 0x70 table / 0x72 page beyond HAW (VT-d 7.1.3 SFL.x / SGN.x).
 *
 * Assumptions: pure bit manipulation, no state; entries are little-endian 64-bit words.
 */
#include "../pt_format.h"
#include "../walk.h" /* struct iommu_walk_params */
#include "bits.h"
#include "vtd_pte.h"

#include "../../common/fault_codes.h"
#include "../../iotlb/pwc.h"
#include "../formats.h" /* scalable-mode fault reasons */

/* Reserved-bit rule of a present entry `v` at `level`, address bits checked up to `haw`
 * (52: fixed reserved bits only). The walk's decode below applies the same rules in one
 * pass (haw = 52); tests/model/walker/test_pt_format.cpp checks that the two agree. */
static inline bool fl_reserved_ok(uint64_t v, unsigned level, uint8_t haw, bool fl_1g, bool nxe)
{
    uint64_t rsvd = above_haw(haw, 51);
    if (!nxe)
        rsvd |= IOMMU_FL_XD;
    if (level >= 4) {
        rsvd |= IOMMU_FL_PS;
    } else if (level == 3 && tst(v, 7)) {
        if (!fl_1g)
            return false;
        rsvd |= mask(29, 13);
    } else if (level == 2 && tst(v, 7)) {
        rsvd |= mask(20, 13);
    }
    return (v & rsvd) == 0;
}

void iommu_vtd_fl_pte_encode(const struct iommu_vtd_fl_pte *e, unsigned level, uint64_t out[1])
{
    uint64_t v = bit(e->p, 0) | bit(e->rw, 1) | bit(e->us, 2) | bit(e->pwt, 3) | bit(e->pcd, 4) |
                 bit(e->a, 5) | bit(e->d, 6) | bit(e->g, 8) | bit(e->ea, 10) | bit(e->xd, 63);
    if (level == 1) {
        v |= bit(e->pat, 7) | (e->addr & IOMMU_VTD_ADDR_MASK);
    } else if (e->ps) {
        v |= IOMMU_FL_PS;
        if (level == 2 || level == 3) {
            const unsigned shift = iommu_vtd_leaf_shift(level);
            v |= bit(e->pat, 12) | (e->addr & mask(51, shift));
        } else {
            v |= e->addr & IOMMU_VTD_ADDR_MASK; /* PS at level 4/5 is reserved: crafted entry */
        }
    } else {
        v |= e->addr & IOMMU_VTD_ADDR_MASK;
    }
    out[0] = v;
}

void iommu_vtd_fl_pte_decode(const uint64_t in[1], unsigned level, struct iommu_vtd_fl_pte *e)
{
    const uint64_t v = in[0];
    e->p = tst(v, 0);
    e->rw = tst(v, 1);
    e->us = tst(v, 2);
    e->pwt = tst(v, 3);
    e->pcd = tst(v, 4);
    e->a = tst(v, 5);
    e->d = tst(v, 6);
    e->g = tst(v, 8);
    e->ea = tst(v, 10);
    e->xd = tst(v, 63);
    if (level == 1) {
        e->ps = false;
        e->pat = tst(v, 7);
        e->addr = v & IOMMU_VTD_ADDR_MASK;
    } else {
        e->ps = tst(v, 7);
        if (e->ps && (level == 2 || level == 3)) {
            e->pat = tst(v, 12);
            e->addr = v & mask(51, iommu_vtd_leaf_shift(level));
        } else {
            e->pat = false;
            e->addr = v & IOMMU_VTD_ADDR_MASK;
        }
    }
}

bool iommu_vtd_fl_pte_reserved_ok(const uint64_t in[1], unsigned level, uint8_t haw, bool fl_1g,
                                  bool nxe)
{
    const uint64_t v = in[0];
    if (!tst(v, 0))
        return true;
    return fl_reserved_ok(v, level, haw, fl_1g, nxe);
}

/* ---- the walker's format table ---------------------------------------------------------- */

/* Walk decode. Same rules as iommu_vtd_fl_pte_reserved_ok(haw = 52, nxe = true) +
 * _decode(), written for the hot path: one pass, the reserved mask chosen by entry type.
 * `inline` only raises the inliner's limit for the walk's direct call under LTO; with the
 * plain declaration in pt_format.h this stays the external definition. */
inline struct iommu_pt_entry iommu_pt_vtd_fl_decode(uint64_t v, unsigned level,
                                                    const struct iommu_walk_params *p)
{
    if (!(v & IOMMU_FL_P))
        return iommu_pt_entry_make(IOMMU_PT_ENTRY_NOT_PRESENT, 0, 0);
    iommu_perm_t perm = IOMMU_ACC_R | IOMMU_ACC_X;
    if (v & IOMMU_FL_RW)
        perm |= IOMMU_ACC_W;
    if (!(v & IOMMU_FL_US))
        perm |= IOMMU_ACC_PRIV;
    if (p->x_enabled && (v & IOMMU_FL_XD))
        perm &= (iommu_perm_t)~IOMMU_ACC_X;
    if (level == 1) /* bit 7 is PAT */
        return iommu_pt_entry_make(IOMMU_PT_ENTRY_LEAF, v & IOMMU_VTD_ADDR_MASK, perm);
    if (v & IOMMU_FL_PS) {
        if (level >= 4 || (level == 3 && !p->fl_1g))
            return iommu_pt_entry_make(IOMMU_PT_ENTRY_RESERVED, 0, 0);
        /* 2 MB / 1 GB leaf: bit 12 is PAT, bits 20:13 / 29:13 reserved */
        const uint64_t addr = v & mask(51, iommu_vtd_leaf_shift(level));
        if (v & IOMMU_VTD_ADDR_MASK & ~addr & ~IOMMU_FL_PAT_LARGE)
            return iommu_pt_entry_make(IOMMU_PT_ENTRY_RESERVED, 0, 0);
        return iommu_pt_entry_make(IOMMU_PT_ENTRY_LEAF, addr, perm);
    }
    return iommu_pt_entry_make(IOMMU_PT_ENTRY_TABLE, v & IOMMU_VTD_ADDR_MASK, perm);
}

const struct iommu_pt_format_ops iommu_pt_vtd_fl = {
    .name = "vtd-fl",
    .id = IOMMU_PT_FIRST_LEVEL,
    .stage = IOMMU_STAGE_FIRST,
    .min_levels = 4,
    .max_levels = 5,
    .decode = iommu_pt_vtd_fl_decode,
    .input_form = IOMMU_PT_INPUT_CANONICAL,
    .fr =
        {
            [IOMMU_PT_FR_LEGACY] =
                {
                    .not_present = IOMMU_PT_FR_ACCESS_PERM,
                    .reserved = IOMMU_FR_PTE_RESERVED,
                    .input_beyond = IOMMU_FR_ADDR_BEYOND_MGAW,
                    .root_beyond = IOMMU_FR_PT_ACCESS,
                    .table_beyond = IOMMU_FR_PT_ACCESS,
                    .page_beyond = IOMMU_FR_PT_ACCESS,
                },
            [IOMMU_PT_FR_SCALABLE] =
                {
                    .not_present = IOMMU_FR_SM_FL_NOT_PRESENT,
                    .reserved = IOMMU_FR_SM_FL_RESERVED,
                    .input_beyond = IOMMU_FR_SM_FL_NONCANONICAL,
                    .root_beyond = IOMMU_FR_SM_FL_ROOT_ACCESS,
                    .table_beyond = IOMMU_FR_SM_FL_ACCESS,
                    .page_beyond = IOMMU_FR_SM_FL_RESERVED,
                },
        },
};
