/*
 * vtd_sl.c — the VT-d second-level paging-entry format (VT-d 9.8; walked as in 3.7): the
 * bit-exact encode/decode/reserved-bit functions declared in vtd_pte.h, and the walker's
 * format table `iommu_pt_vtd_sl` (pt_format.h).
 *
 * Layout: bit 0 R; 1 W; 2 X; 5:3 EMT and 6 IPAT (leaves); 7 PS (levels 2-3; reserved at
 * 4-5, ignored at 1); 8 A; 9 D; 11 SNP (reserved in non-leaf entries); HAW-1:12 address
 * (29:12 / 20:12 reserved in a 1 GB / 2 MB leaf); 62 TM (reserved in non-leaf entries).
 * R = W = 0 means not present.
 *
 * Walk rules: input addresses are zero-extended at 39/48/57 bits (3/4/5 levels); large
 * leaves need CAP.SLLPS (p->sl_2m / sl_1g), otherwise PS is a reserved-bit fault; X is
 * granted when the entry's X is set or when execute is not checked (p->x_enabled false).
 * Fault reasons: legacy 0x5/0x6 (access's permission fault) not present, 0xC reserved, 0x4
 * input width, 0x7 for any address beyond HAW; scalable 0x79, 0x7A, 0x83, and 0x7B root /
 * 0x78 table / 0x84 page beyond HAW (VT-d 7.1.3 SSL.x / SGN.x).
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
static inline bool sl_reserved_ok(uint64_t v, unsigned level, uint8_t haw, bool sl_2m,
                                  bool sl_1g)
{
    uint64_t rsvd = above_haw(haw, 51);
    const bool leaf = iommu_vtd_pte_is_leaf(v, level);
    if (level >= 4)
        rsvd |= IOMMU_SL_PS;
    if (!leaf)
        rsvd |= IOMMU_SL_SNP | IOMMU_SL_TM;
    if (leaf && level == 3) {
        if (!sl_1g)
            return false;
        rsvd |= mask(29, 12);
    } else if (leaf && level == 2) {
        if (!sl_2m)
            return false;
        rsvd |= mask(20, 12);
    }
    return (v & rsvd) == 0;
}

/* Address field of `v` at `level`: a 1 GB / 2 MB leaf's address starts at bit 30 / 21. */
static inline uint64_t sl_addr(uint64_t v, unsigned level, bool ps)
{
    return ps && level <= 3 ? v & mask(51, iommu_vtd_leaf_shift(level)) : v & IOMMU_VTD_ADDR_MASK;
}

void iommu_vtd_sl_pte_encode(const struct iommu_vtd_sl_pte *e, unsigned level, uint64_t out[1])
{
    uint64_t v = bit(e->r, 0) | bit(e->w, 1) | bit(e->x, 2) | put(e->emt, 5, 3) |
                 bit(e->ipat, 6) | bit(e->a, 8) | bit(e->d, 9) | bit(e->snp, 11) |
                 bit(e->tm, 62);
    if (level >= 2 && e->ps) {
        v |= IOMMU_SL_PS;
        if (level <= 3)
            v |= e->addr & mask(51, iommu_vtd_leaf_shift(level));
        else
            v |= e->addr & IOMMU_VTD_ADDR_MASK; /* PS at level 4/5 is reserved: crafted entry */
    } else {
        v |= e->addr & IOMMU_VTD_ADDR_MASK;
    }
    out[0] = v;
}

void iommu_vtd_sl_pte_decode(const uint64_t in[1], unsigned level, struct iommu_vtd_sl_pte *e)
{
    const uint64_t v = in[0];
    e->r = tst(v, 0);
    e->w = tst(v, 1);
    e->x = tst(v, 2);
    e->emt = (uint8_t)get(v, 5, 3);
    e->ipat = tst(v, 6);
    e->a = tst(v, 8);
    e->d = tst(v, 9);
    e->snp = tst(v, 11);
    e->tm = tst(v, 62);
    e->ps = level >= 2 && tst(v, 7);
    e->addr = sl_addr(v, level, e->ps);
}

bool iommu_vtd_sl_pte_reserved_ok(const uint64_t in[1], unsigned level, uint8_t haw, bool sl_2m,
                                  bool sl_1g)
{
    const uint64_t v = in[0];
    if (!(v & (IOMMU_SL_R | IOMMU_SL_W)))
        return true;
    return sl_reserved_ok(v, level, haw, sl_2m, sl_1g);
}

/* ---- the walker's format table ---------------------------------------------------------- */

/* Walk decode. Same rules as iommu_vtd_sl_pte_reserved_ok(haw = 52) + _decode(), written
 * for the hot path: one pass, the reserved mask chosen by entry type. `inline` only raises
 * the inliner's limit for the walk's direct call under LTO; with the plain declaration in
 * pt_format.h this stays the external definition. */
inline struct iommu_pt_entry iommu_pt_vtd_sl_decode(uint64_t v, unsigned level,
                                                    const struct iommu_walk_params *p)
{
    if (!(v & (IOMMU_SL_R | IOMMU_SL_W)))
        return iommu_pt_entry_make(IOMMU_PT_ENTRY_NOT_PRESENT, 0, 0);
    /* R, W, X are bits 0-2 of both the entry and iommu_perm_t (asserted below). */
    iommu_perm_t perm = (iommu_perm_t)(v & (IOMMU_SL_R | IOMMU_SL_W | IOMMU_SL_X));
    if (!p->x_enabled)
        perm |= IOMMU_ACC_X;
    if (level == 1) /* bit 7 ignored; SNP and TM defined */
        return iommu_pt_entry_make(IOMMU_PT_ENTRY_LEAF, v & IOMMU_VTD_ADDR_MASK, perm);
    if ((v & IOMMU_SL_PS) && level <= 3) { /* 2 MB / 1 GB leaf */
        const bool allowed = level == 2 ? p->sl_2m : p->sl_1g;
        const uint64_t addr = v & mask(51, iommu_vtd_leaf_shift(level));
        if (!allowed || (v & IOMMU_VTD_ADDR_MASK & ~addr))
            return iommu_pt_entry_make(IOMMU_PT_ENTRY_RESERVED, 0, 0);
        return iommu_pt_entry_make(IOMMU_PT_ENTRY_LEAF, addr, perm);
    }
    /* non-leaf: SNP and TM reserved, and PS at levels 4-5 */
    if (v & (IOMMU_SL_SNP | IOMMU_SL_TM | IOMMU_SL_PS))
        return iommu_pt_entry_make(IOMMU_PT_ENTRY_RESERVED, 0, 0);
    return iommu_pt_entry_make(IOMMU_PT_ENTRY_TABLE, v & IOMMU_VTD_ADDR_MASK, perm);
}

_Static_assert(IOMMU_SL_R == IOMMU_ACC_R && IOMMU_SL_W == IOMMU_ACC_W && IOMMU_SL_X == IOMMU_ACC_X,
               "second-level R/W/X bits are used as permission bits");

const struct iommu_pt_format_ops iommu_pt_vtd_sl = {
    .name = "vtd-sl",
    .id = IOMMU_PT_SECOND_LEVEL,
    .stage = IOMMU_STAGE_SECOND,
    .min_levels = 3,
    .max_levels = 5,
    .decode = iommu_pt_vtd_sl_decode,
    .input_form = IOMMU_PT_INPUT_ZERO_EXTENDED,
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
                    .not_present = IOMMU_FR_SM_SL_NOT_PRESENT,
                    .reserved = IOMMU_FR_SM_SL_RESERVED,
                    .input_beyond = IOMMU_FR_SM_ADDR_BEYOND,
                    .root_beyond = IOMMU_FR_SM_SL_ROOT_INVALID,
                    .table_beyond = IOMMU_FR_SM_SL_ACCESS,
                    .page_beyond = IOMMU_FR_SM_OUTPUT_BEYOND,
                },
        },
};
