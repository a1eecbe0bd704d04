/*
 * test_pt_format.cpp — the pluggable page-table formats (model/walker/pt_format.h): the
 * registry returns both VT-d formats by id, name and alias; each format's walk decode of
 * crafted entries gives the expected kind, address and permissions (VT-d 9.8 second level,
 * 9.7 first level / IA-32e); and on random words the walk decode agrees with the bit-exact
 * reference functions iommu_vtd_{sl,fl}_pte_reserved_ok / _decode.
 */
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "model/walker/walker_drive.h"

extern "C" {
#include "model/common/fault_codes.h"
#include "model/iotlb/pwc.h"
#include "model/walker/pt_format.h"
}

namespace {

constexpr iommu_perm_t R = IOMMU_ACC_R, W = IOMMU_ACC_W, X = IOMMU_ACC_X, PRIV = IOMMU_ACC_PRIV;

iommu_walk_params caps(bool x_enabled, bool sl_2m = true, bool sl_1g = true, bool fl_1g = true)
{
    iommu_walk_params p{};
    p.haw = 48;
    p.x_enabled = x_enabled;
    p.sl_2m = sl_2m;
    p.sl_1g = sl_1g;
    p.fl_1g = fl_1g;
    return p;
}

struct Decoded {
    uint8_t kind;
    uint64_t addr;
    iommu_perm_t perm;
};

Decoded dec(const iommu_pt_format_ops *f, uint64_t v, unsigned level, const iommu_walk_params &p)
{
    const iommu_pt_entry e = f->decode(v, level, &p);
    return {e.kind, e.addr, e.perm};
}

#define EXPECT_ENTRY(d, k, a, pm)                                                                 \
    do {                                                                                          \
        const Decoded d_ = (d);                                                                   \
        EXPECT_EQ(d_.kind, (k));                                                                  \
        EXPECT_EQ(d_.addr, (uint64_t)(a));                                                        \
        EXPECT_EQ(d_.perm, (iommu_perm_t)(pm));                                                   \
    } while (0)

constexpr uint8_t NP = IOMMU_PT_ENTRY_NOT_PRESENT, RSVD = IOMMU_PT_ENTRY_RESERVED,
                  TABLE = IOMMU_PT_ENTRY_TABLE, LEAF = IOMMU_PT_ENTRY_LEAF;

/* ---- registry ------------------------------------------------------------------------- */
TEST(PtFormatRegistry, ReturnsBothFormatsByIdNameAndAlias)
{
    const iommu_pt_format_ops *sl = iommu_pt_format_get(IOMMU_PT_SECOND_LEVEL);
    const iommu_pt_format_ops *fl = iommu_pt_format_get(IOMMU_PT_FIRST_LEVEL);
    ASSERT_EQ(sl, &iommu_pt_vtd_sl);
    ASSERT_EQ(fl, &iommu_pt_vtd_fl);
    EXPECT_STREQ(sl->name, "vtd-sl");
    EXPECT_STREQ(fl->name, "vtd-fl");
    EXPECT_EQ(sl->id, IOMMU_PT_SECOND_LEVEL);
    EXPECT_EQ(fl->id, IOMMU_PT_FIRST_LEVEL);
    EXPECT_EQ(sl->stage, IOMMU_STAGE_SECOND);
    EXPECT_EQ(fl->stage, IOMMU_STAGE_FIRST);
    EXPECT_EQ(sl->decode, &iommu_pt_vtd_sl_decode);
    EXPECT_EQ(fl->decode, &iommu_pt_vtd_fl_decode);
    EXPECT_EQ(sl->min_levels, 3);
    EXPECT_EQ(sl->max_levels, 5);
    EXPECT_EQ(fl->min_levels, 4);
    EXPECT_EQ(fl->max_levels, 5);
    EXPECT_EQ(sl->input_form, IOMMU_PT_INPUT_ZERO_EXTENDED);
    EXPECT_EQ(fl->input_form, IOMMU_PT_INPUT_CANONICAL);

    EXPECT_EQ(iommu_pt_format_find("vtd-sl"), sl);
    EXPECT_EQ(iommu_pt_format_find("vtd-fl"), fl);
    EXPECT_EQ(iommu_pt_format_find("second-level"), sl);
    EXPECT_EQ(iommu_pt_format_find("first-level"), fl);
    EXPECT_EQ(iommu_pt_format_find("ia32e"), fl);
    EXPECT_EQ(iommu_pt_format_find("VTD-SL"), nullptr); /* names are exact */
    EXPECT_EQ(iommu_pt_format_find("arm-lpae"), nullptr);
    EXPECT_EQ(iommu_pt_format_find(""), nullptr);
    EXPECT_EQ(iommu_pt_format_find(nullptr), nullptr);

    EXPECT_EQ(iommu_pt_format_get(0), nullptr);
    EXPECT_EQ(iommu_pt_format_get(IOMMU_PT_FORMAT_ID_LIMIT), nullptr);
    EXPECT_EQ(iommu_pt_format_get(255), nullptr);
    EXPECT_EQ(iommu_pt_format_get(~0u), nullptr);
}

TEST(PtFormatRegistry, AllListsEveryFormatOnceInDenseIdOrder)
{
    const iommu_pt_format_ops *const *all = iommu_pt_format_all();
    size_t n = 0;
    for (; all[n]; n++) {
        EXPECT_EQ(all[n]->id, n + 1) << all[n]->name; /* registry.c relies on dense ids */
        EXPECT_EQ(iommu_pt_format_get(all[n]->id), all[n]);
        EXPECT_EQ(iommu_pt_format_find(all[n]->name), all[n]);
        ASSERT_NE(all[n]->decode, nullptr);
        EXPECT_GE(all[n]->min_levels, 2);
        EXPECT_LE(all[n]->max_levels, 5);
        EXPECT_LE(all[n]->min_levels, all[n]->max_levels);
    }
    EXPECT_EQ(n, IOMMU_PT_FORMAT_ID_LIMIT - 1);
    EXPECT_EQ(n, 2u);
}

TEST(PtFormatRegistry, FaultReasonsPerModeAreTheWalkersCodes)
{
    const iommu_pt_fault_reasons &sl_l = iommu_pt_vtd_sl.fr[IOMMU_PT_FR_LEGACY];
    const iommu_pt_fault_reasons &sl_s = iommu_pt_vtd_sl.fr[IOMMU_PT_FR_SCALABLE];
    const iommu_pt_fault_reasons &fl_l = iommu_pt_vtd_fl.fr[IOMMU_PT_FR_LEGACY];
    const iommu_pt_fault_reasons &fl_s = iommu_pt_vtd_fl.fr[IOMMU_PT_FR_SCALABLE];
    for (const iommu_pt_fault_reasons *l : {&sl_l, &fl_l}) {
        EXPECT_EQ(l->not_present, IOMMU_PT_FR_ACCESS_PERM);
        EXPECT_EQ(l->reserved, 0x0C);
        EXPECT_EQ(l->input_beyond, 0x04);
        EXPECT_EQ(l->root_beyond, 0x07);
        EXPECT_EQ(l->table_beyond, 0x07);
        EXPECT_EQ(l->page_beyond, 0x07);
    }
    EXPECT_EQ(sl_s.not_present, 0x79);
    EXPECT_EQ(sl_s.reserved, 0x7A);
    EXPECT_EQ(sl_s.input_beyond, 0x83);
    EXPECT_EQ(sl_s.root_beyond, 0x7B);
    EXPECT_EQ(sl_s.table_beyond, 0x78);
    EXPECT_EQ(sl_s.page_beyond, 0x84);
    EXPECT_EQ(fl_s.not_present, 0x71);
    EXPECT_EQ(fl_s.reserved, 0x72);
    EXPECT_EQ(fl_s.input_beyond, 0x80);
    EXPECT_EQ(fl_s.root_beyond, 0x73);
    EXPECT_EQ(fl_s.table_beyond, 0x70);
    EXPECT_EQ(fl_s.page_beyond, 0x72);
}

/* ---- 9.8 second level ------------------------------------------------------------------ */
TEST(PtFormatVtdSl, DecodesCraftedEntries)
{
    const iommu_pt_format_ops *f = &iommu_pt_vtd_sl;
    const iommu_walk_params px = caps(true), pnx = caps(false);

    /* R = W = 0 is not present whatever else is set (X, address, PS). */
    EXPECT_ENTRY(dec(f, 0x0000000123456784ull, 4, px), NP, 0, 0);
    EXPECT_ENTRY(dec(f, 0, 1, px), NP, 0, 0);

    /* PML4E: R|W, address 0x123456789000, X clear: granted X only when X is not checked. */
    EXPECT_ENTRY(dec(f, 0x0000123456789003ull, 4, px), TABLE, 0x0000123456789000ull, R | W);
    EXPECT_ENTRY(dec(f, 0x0000123456789003ull, 4, pnx), TABLE, 0x0000123456789000ull, R | W | X);
    /* ignored bits (10, 52-61, 63) and A (8) do not matter; read-only, executable */
    EXPECT_ENTRY(dec(f, 0xBFF0000000001505ull, 3, px), TABLE, 0x1000, R | X);
    /* write-only */
    EXPECT_ENTRY(dec(f, 0x0000000000002002ull, 2, px), TABLE, 0x2000, W);

    /* 4 KB leaf: bit 7 ignored at level 1, SNP and TM allowed, EMT/IPAT/D ignored here. */
    EXPECT_ENTRY(dec(f, 0x40000000ABCDEAFFull, 1, px), LEAF, 0xABCDE000ull, R | W | X);
    /* 2 MB leaf at level 2 (PS): address from bit 21 */
    EXPECT_ENTRY(dec(f, 0x0000000040200083ull, 2, px), LEAF, 0x40200000ull, R | W);
    /* 1 GB leaf at level 3 */
    EXPECT_ENTRY(dec(f, 0x0000004080000081ull, 3, px), LEAF, 0x4080000000ull, R);

    /* reserved: low address bits of a large leaf, large pages not supported, PS at 4-5,
     * SNP / TM in a non-leaf entry */
    EXPECT_ENTRY(dec(f, 0x0000000040201083ull, 2, px), RSVD, 0, 0);         /* bit 12, 2 MB */
    EXPECT_ENTRY(dec(f, 0x0000004080100081ull, 3, px), RSVD, 0, 0);         /* bit 20, 1 GB */
    EXPECT_ENTRY(dec(f, 0x0000000040200083ull, 2, caps(true, false)), RSVD, 0, 0);
    EXPECT_ENTRY(dec(f, 0x0000004080000081ull, 3, caps(true, true, false)), RSVD, 0, 0);
    EXPECT_ENTRY(dec(f, 0x0000000000001083ull, 4, px), RSVD, 0, 0);
    EXPECT_ENTRY(dec(f, 0x0000000000001083ull, 5, px), RSVD, 0, 0);
    EXPECT_ENTRY(dec(f, 0x0000000000001803ull, 3, px), RSVD, 0, 0);         /* SNP */
    EXPECT_ENTRY(dec(f, 0x4000000000001003ull, 2, px), RSVD, 0, 0);         /* TM  */
    /* address bits at/above a small HAW are not reserved bits here (the walk checks HAW) */
    EXPECT_ENTRY(dec(f, 0x000F000000001003ull, 4, px), TABLE, 0x000F000000001000ull, R | W);
}

/* ---- 9.7 first level (IA-32e) ---------------------------------------------------------- */
TEST(PtFormatVtdFl, DecodesCraftedEntries)
{
    const iommu_pt_format_ops *f = &iommu_pt_vtd_fl;
    const iommu_walk_params px = caps(true), pnx = caps(false);

    /* P = 0 is not present whatever else is set */
    EXPECT_ENTRY(dec(f, 0x8000000123456786ull, 4, px), NP, 0, 0);

    /* PML4E: P|R/W|U/S: R W X for user and supervisor */
    EXPECT_ENTRY(dec(f, 0x0000123456789007ull, 4, px), TABLE, 0x0000123456789000ull, R | W | X);
    /* R/W = 0, U/S = 0: read-only, supervisor-only; R is always granted */
    EXPECT_ENTRY(dec(f, 0x0000000000003001ull, 3, px), TABLE, 0x3000, R | X | PRIV);
    /* XD removes X only when execute is checked; XD is never a reserved bit */
    EXPECT_ENTRY(dec(f, 0x8000000000004007ull, 2, px), TABLE, 0x4000, R | W);
    EXPECT_ENTRY(dec(f, 0x8000000000004007ull, 2, pnx), TABLE, 0x4000, R | W | X);
    /* ignored bits 9, 11, 52-62 and A/PWT/PCD do not matter */
    EXPECT_ENTRY(dec(f, 0x7FF0000000005A3Full, 4, px), TABLE, 0x5000, R | W | X);

    /* 4 KB leaf: bit 7 is PAT at level 1, not PS */
    EXPECT_ENTRY(dec(f, 0x00000000ABCDE1E7ull, 1, px), LEAF, 0xABCDE000ull, R | W | X);
    /* 2 MB leaf: bit 12 is PAT, not address */
    EXPECT_ENTRY(dec(f, 0x0000000040201083ull, 2, px), LEAF, 0x40200000ull, R | W | X | PRIV);
    /* 1 GB leaf with CAP.FL1GP */
    EXPECT_ENTRY(dec(f, 0x0000004080001087ull, 3, px), LEAF, 0x4080000000ull, R | W | X);

    /* reserved: bits 20:13 / 29:13 of large leaves, 1 GB without FL1GP, PS at 4-5 */
    EXPECT_ENTRY(dec(f, 0x0000000040202087ull, 2, px), RSVD, 0, 0);         /* bit 13, 2 MB */
    EXPECT_ENTRY(dec(f, 0x0000004080200087ull, 3, px), RSVD, 0, 0);         /* bit 21, 1 GB */
    EXPECT_ENTRY(dec(f, 0x0000004080000087ull, 3, caps(true, true, true, false)), RSVD, 0, 0);
    EXPECT_ENTRY(dec(f, 0x0000000000001087ull, 4, px), RSVD, 0, 0);
    EXPECT_ENTRY(dec(f, 0x0000000000001087ull, 5, px), RSVD, 0, 0);
}

/* ---- the walk decode agrees with the bit-exact reference functions ---------------------- */
/* Random words, biased towards the interesting bits, at every level, under every capability
 * combination: NOT_PRESENT / RESERVED exactly when the reference says so (haw = 52, NXE = 1),
 * otherwise the reference decode's address and permissions. */
uint64_t random_entry(std::mt19937_64 &rng)
{
    uint64_t v = rng();
    switch (rng() % 4) {
    case 0: v &= 0x000FFFFFFFFFF0FFull; break;           /* no high / ignored bits     */
    case 1: v &= 0x00000000FFE000FFull; break;           /* large-leaf aligned address */
    case 2: v &= 0x800000FFC00000FFull; break;           /* 1 GB aligned, XD           */
    default: break;
    }
    return v;
}

TEST(PtFormatVtdSl, AgreesWithReferenceOnRandomWords)
{
    std::mt19937_64 rng(0x5eed5117u);
    unsigned seen[4] = {};
    for (unsigned c = 0; c < 8; c++) {
        const iommu_walk_params p = caps(c & 1, c & 2, c & 4);
        for (int i = 0; i < 20000; i++) {
            const uint64_t v = random_entry(rng);
            for (unsigned level = 1; level <= 5; level++) {
                const Decoded d = dec(&iommu_pt_vtd_sl, v, level, p);
                seen[d.kind & 3]++;
                iommu_vtd_sl_pte e;
                iommu_vtd_sl_pte_decode(&v, level, &e);
                if (!e.r && !e.w) {
                    EXPECT_EQ(d.kind, NP) << std::hex << v << " level " << level;
                    continue;
                }
                if (!iommu_vtd_sl_pte_reserved_ok(&v, level, IOMMU_VTD_MAX_HAW, p.sl_2m,
                                                  p.sl_1g)) {
                    EXPECT_EQ(d.kind, RSVD) << std::hex << v << " level " << level;
                    continue;
                }
                const bool leaf = iommu_vtd_pte_is_leaf(v, level);
                ASSERT_EQ(d.kind, leaf ? LEAF : TABLE) << std::hex << v << " level " << level;
                EXPECT_EQ(d.addr, e.addr) << std::hex << v << " level " << level;
                const iommu_perm_t want = (iommu_perm_t)((e.r ? R : 0) | (e.w ? W : 0) |
                                                         ((e.x || !p.x_enabled) ? X : 0));
                EXPECT_EQ(d.perm, want) << std::hex << v << " level " << level;
            }
        }
    }
    for (unsigned k = 0; k < 4; k++) /* every kind well exercised */
        EXPECT_GT(seen[k], 10000u) << "kind " << k;
}

TEST(PtFormatVtdFl, AgreesWithReferenceOnRandomWords)
{
    std::mt19937_64 rng(0xf1f1f1u);
    unsigned seen[4] = {};
    for (unsigned c = 0; c < 4; c++) {
        const iommu_walk_params p = caps(c & 1, true, true, c & 2);
        for (int i = 0; i < 20000; i++) {
            const uint64_t v = random_entry(rng);
            for (unsigned level = 1; level <= 5; level++) {
                const Decoded d = dec(&iommu_pt_vtd_fl, v, level, p);
                seen[d.kind & 3]++;
                iommu_vtd_fl_pte e;
                iommu_vtd_fl_pte_decode(&v, level, &e);
                if (!e.p) {
                    EXPECT_EQ(d.kind, NP) << std::hex << v << " level " << level;
                    continue;
                }
                if (!iommu_vtd_fl_pte_reserved_ok(&v, level, IOMMU_VTD_MAX_HAW, p.fl_1g, true)) {
                    EXPECT_EQ(d.kind, RSVD) << std::hex << v << " level " << level;
                    continue;
                }
                const bool leaf = iommu_vtd_pte_is_leaf(v, level);
                ASSERT_EQ(d.kind, leaf ? LEAF : TABLE) << std::hex << v << " level " << level;
                EXPECT_EQ(d.addr, e.addr) << std::hex << v << " level " << level;
                const iommu_perm_t want = (iommu_perm_t)(R | (e.rw ? W : 0) |
                                                         ((e.xd && p.x_enabled) ? 0 : X) |
                                                         (e.us ? 0 : PRIV));
                EXPECT_EQ(d.perm, want) << std::hex << v << " level " << level;
            }
        }
    }
    for (unsigned k = 0; k < 4; k++) /* every kind well exercised */
        EXPECT_GT(seen[k], 10000u) << "kind " << k;
}

/* ---- the walk uses the registry's formats ---------------------------------------------- */
TEST(PtFormatWalk, UnknownFormatIdIsAnInvalidContext)
{
    for (unsigned id : {0u, 3u, 200u}) {
        iommu_walk_params p{};
        p.format = (uint8_t)id;
        p.levels = 4;
        p.haw = 48;
        iommu_walk w;
        EXPECT_EQ(iommu_walk_begin(&w, &p, nullptr, 0x1000, IOMMU_ACC_R), IOMMU_WALK_FAULT);
        EXPECT_EQ(w.fault_reason, IOMMU_FR_CTX_INVALID);
        p.scalable = true;
        EXPECT_EQ(iommu_walk_begin(&w, &p, nullptr, 0x1000, IOMMU_ACC_R), IOMMU_WALK_FAULT);
        EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_PASID_INVALID);
        EXPECT_EQ(iommu_walk_resume(&w, 0), IOMMU_WALK_FAULT); /* no-op once done */
    }
}

} // namespace
