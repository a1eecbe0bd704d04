/*
 * test_walk.cpp — the resumable page walk on hand-crafted tables (physmem writes, exact
 * addresses): second-level 3/4/5 levels, first-level 4/5 levels, 2 MB / 1 GB leaves, nested
 * 4-over-4 (24 reads in order), permissions and every walk fault reason, legacy and
 * scalable-mode codes. Driven by the tiny functional loop of walker_drive.h.
 */
#include <gtest/gtest.h>

#include "model/walker/walker_drive.h"

namespace {

constexpr uint8_t R = IOMMU_ACC_R, W = IOMMU_ACC_W, X = IOMMU_ACC_X, PRIV = IOMMU_ACC_PRIV;
constexpr uint64_t SL_RW = IOMMU_SL_R | IOMMU_SL_W;
constexpr uint64_t SL_RWX = SL_RW | IOMMU_SL_X;
constexpr uint64_t FL_PRWU = IOMMU_FL_P | IOMMU_FL_RW | IOMMU_FL_US;

unsigned idx(uint64_t a, unsigned level)
{
    return iommu_vtd_pt_index(a, level);
}

class WalkTest : public ::testing::Test {
protected:
    void SetUp() override { mem = iommu_physmem_create(); }
    void TearDown() override { iommu_physmem_destroy(mem); }
    void put(uint64_t pa, uint64_t v) { iommu_physmem_write64(mem, pa, v); }
    /* Writes a path for iova: tables[0] is the root (level `levels`), tables[i] the table of
     * level levels - i; non-leaf entries get `table_bits`, the leaf (at leaf_level) gets
     * leaf_value. */
    void path(const std::vector<uint64_t> &tables, unsigned levels, uint64_t iova,
              uint64_t table_bits, unsigned leaf_level, uint64_t leaf_value)
    {
        unsigned t = 0;
        for (unsigned l = levels; l > leaf_level; l--, t++)
            put(tables[t] + 8ull * idx(iova, l), tables[t + 1] | table_bits);
        put(tables[t] + 8ull * idx(iova, leaf_level), leaf_value);
    }
    static iommu_walk_params sl(uint8_t levels, uint64_t root)
    {
        iommu_walk_params p{};
        p.format = IOMMU_PT_SECOND_LEVEL;
        p.levels = levels;
        p.root = root;
        p.haw = 46;
        p.sl_2m = p.sl_1g = p.fl_1g = true;
        p.did = 1;
        p.pasid = IOMMU_PASID_NONE;
        return p;
    }
    static iommu_walk_params fl(uint8_t levels, uint64_t root)
    {
        iommu_walk_params p = sl(levels, root);
        p.format = IOMMU_PT_FIRST_LEVEL;
        p.scalable = true;
        p.pasid = 5;
        return p;
    }
    iommu_walk_rc walk(const iommu_walk_params &p, uint64_t iova, uint8_t acc,
                       std::vector<WalkRead> *trace = nullptr)
    {
        return run_walk(mem, &w, p, nullptr, iova, acc, trace);
    }
    iommu_physmem_t *mem = nullptr;
    iommu_walk w{};
};

/* ---- second level ------------------------------------------------------------------ */

TEST_F(WalkTest, SecondLevel4LevelExactReads)
{
    const uint64_t iova = 0x0000123456789ABCull;
    put(0x10000 + 8 * 0x24, 0x11000 | SL_RW);
    put(0x11000 + 8 * 0xD1, 0x12000 | SL_RW);
    put(0x12000 + 8 * 0xB3, 0x13000 | SL_RW);
    put(0x13000 + 8 * 0x189, 0x0000007654321000ull | SL_RW);
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(sl(4, 0x10000), iova, R | W, &t), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 4u);
    const uint64_t addrs[4] = {0x10120, 0x11688, 0x12598, 0x13C48};
    for (unsigned i = 0; i < 4; i++) {
        EXPECT_EQ(t[i].addr, addrs[i]);
        EXPECT_EQ(t[i].kind, IOMMU_READ_SL_PTE);
        EXPECT_EQ(t[i].level, 4 - i);
    }
    EXPECT_EQ(w.pa, 0x0000007654321ABCull);
    EXPECT_EQ(w.page_shift, 12);
    EXPECT_EQ(w.perm, R | W | X); /* x_enabled = false: X not distinguished */
    EXPECT_EQ(w.mem_reads, 4);
    EXPECT_EQ(w.fault_reason, 0);
    /* resume after DONE is a no-op */
    EXPECT_EQ(iommu_walk_resume(&w, 0), IOMMU_WALK_DONE);
    EXPECT_EQ(w.mem_reads, 4);
}

TEST_F(WalkTest, SecondLevel3Level)
{
    const uint64_t iova = 0x0000001234567ABCull; /* < 2^39 */
    put(0x20000 + 8 * 0x48, 0x21000 | SL_RW);
    put(0x21000 + 8 * 0x1A2, 0x22000 | SL_RW);
    put(0x22000 + 8 * 0x167, 0x0000000ABCDEF000ull | IOMMU_SL_R);
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(sl(3, 0x20000), iova, R, &t), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 3u);
    EXPECT_EQ(t[0].addr, 0x20000ull + 8 * 0x48);
    EXPECT_EQ(t[1].addr, 0x21000ull + 8 * 0x1A2);
    EXPECT_EQ(t[2].addr, 0x22000ull + 8 * 0x167);
    EXPECT_EQ(t[0].level, 3);
    EXPECT_EQ(w.pa, 0x0000000ABCDEFABCull);
    EXPECT_EQ(w.perm, R | X);
    /* The same iova is beyond a 3-level (39-bit) width once bit 39 is set. */
    EXPECT_EQ(walk(sl(3, 0x20000), iova | (1ull << 39), R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_ADDR_BEYOND_MGAW);
    EXPECT_EQ(w.mem_reads, 0);
}

TEST_F(WalkTest, SecondLevel5Level)
{
    const uint64_t iova = 0x00ABCDEF01234567ull;
    put(0x30000 + 8 * 0xAB, 0x31000 | SL_RW);
    put(0x31000 + 8 * 0x19B, 0x32000 | SL_RW);
    put(0x32000 + 8 * 0x1BC, 0x33000 | SL_RW);
    put(0x33000 + 8 * 0x9, 0x34000 | SL_RW);
    put(0x34000 + 8 * 0x34, 0x0000000000777000ull | SL_RW);
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(sl(5, 0x30000), iova, W, &t), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 5u);
    EXPECT_EQ(t[0].addr, 0x30000ull + 8 * 0xAB);
    EXPECT_EQ(t[0].level, 5);
    EXPECT_EQ(t[4].addr, 0x34000ull + 8 * 0x34);
    EXPECT_EQ(t[4].level, 1);
    EXPECT_EQ(w.pa, 0x0000000000777567ull);
    EXPECT_EQ(walk(sl(5, 0x30000), 1ull << 57, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_ADDR_BEYOND_MGAW);
    EXPECT_EQ(walk(sl(4, 0x30000), 1ull << 48, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_ADDR_BEYOND_MGAW);
}

TEST_F(WalkTest, SecondLevel2MAnd1GLeaves)
{
    const uint64_t iova = 0x0000123456789ABCull;
    /* 2 MB leaf at level 2: 3 reads, pa keeps iova bits 20:0. */
    put(0x10000 + 8 * 0x24, 0x11000 | SL_RW);
    put(0x11000 + 8 * 0xD1, 0x12000 | SL_RW);
    put(0x12000 + 8 * 0xB3, 0x0000000080200000ull | IOMMU_SL_PS | SL_RW);
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(sl(4, 0x10000), iova, R, &t), IOMMU_WALK_DONE);
    EXPECT_EQ(t.size(), 3u);
    EXPECT_EQ(w.page_shift, 21);
    EXPECT_EQ(w.pa, 0x0000000080200000ull | (iova & 0x1FFFFF));
    EXPECT_EQ(w.pa, 0x0000000080389ABCull);
    /* 1 GB leaf at level 3: 2 reads. */
    put(0x11000 + 8 * 0xD1, 0x0000000140000000ull | IOMMU_SL_PS | SL_RW);
    t.clear();
    ASSERT_EQ(walk(sl(4, 0x10000), iova, R, &t), IOMMU_WALK_DONE);
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(w.page_shift, 30);
    EXPECT_EQ(w.pa, 0x0000000140000000ull | (iova & 0x3FFFFFFF));
    EXPECT_EQ(w.pa, 0x0000000156789ABCull);
    /* Without CAP.SLLPS 1 GB the same entry has a reserved bit. */
    iommu_walk_params p = sl(4, 0x10000);
    p.sl_1g = false;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_PTE_RESERVED);
    p.scalable = true;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_SL_RESERVED);
}

TEST_F(WalkTest, SecondLevelPermissionsAndAcrossLevels)
{
    const uint64_t iova = 0x5000;
    path({0x10000, 0x11000, 0x12000, 0x13000}, 4, iova, SL_RW, 1, 0x9000 | IOMMU_SL_R);
    iommu_walk_params p = sl(4, 0x10000);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_DONE);
    EXPECT_EQ(walk(p, iova, W), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_WRITE_DENIED);
    EXPECT_EQ(w.pa, 0x9000ull); /* the translation is still reported */
    EXPECT_EQ(w.perm, R | X);
    EXPECT_EQ(walk(p, iova, R | W), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_WRITE_DENIED); /* write is checked first */
    /* Write-only leaf: reads fault 0x6. */
    put(0x13000 + 8 * 5, 0x9000 | IOMMU_SL_W);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_READ_DENIED);
    /* R removed at a non-leaf level is ANDed into the result. */
    put(0x13000 + 8 * 5, 0x9000 | SL_RW);
    put(0x11000 + 8 * 0, 0x12000 | IOMMU_SL_W);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_READ_DENIED);
    EXPECT_EQ(w.perm, W | X);
    p.scalable = true;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_READ_DENIED);
    put(0x11000 + 8 * 0, 0x12000 | IOMMU_SL_R);
    EXPECT_EQ(walk(p, iova, W), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_WRITE_DENIED);
}

TEST_F(WalkTest, SecondLevelExecute)
{
    const uint64_t iova = 0x5000;
    path({0x10000, 0x11000, 0x12000, 0x13000}, 4, iova, SL_RWX, 1, 0x9000 | SL_RW);
    iommu_walk_params p = sl(4, 0x10000);
    EXPECT_EQ(walk(p, iova, R | X), IOMMU_WALK_DONE); /* not checked without x_enabled */
    p.x_enabled = true;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_DONE);
    EXPECT_EQ(w.perm, R | W);
    EXPECT_EQ(walk(p, iova, R | X), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_READ_DENIED);
    p.scalable = true;
    EXPECT_EQ(walk(p, iova, R | X), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_EXEC_DENIED);
    put(0x13000 + 8 * 5, 0x9000 | SL_RWX);
    EXPECT_EQ(walk(p, iova, R | X), IOMMU_WALK_DONE);
    EXPECT_EQ(w.perm, R | W | X);
}

TEST_F(WalkTest, FaultNotPresentSecondLevel)
{
    const uint64_t iova = 0x0000123456789ABCull;
    put(0x10000 + 8 * 0x24, 0x11000 | SL_RW); /* level-3 entry left zero */
    iommu_walk_params p = sl(4, 0x10000);
    std::vector<WalkRead> t;
    EXPECT_EQ(walk(p, iova, R, &t), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_READ_DENIED);
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(walk(p, iova, W), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_WRITE_DENIED);
    EXPECT_EQ(walk(p, iova, R | W), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_WRITE_DENIED);
    /* X-only entry is still not present */
    put(0x11000 + 8 * 0xD1, 0x12000 | IOMMU_SL_X);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_READ_DENIED);
    p.scalable = true;
    EXPECT_EQ(walk(p, iova, W), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_SL_NOT_PRESENT);
}

TEST_F(WalkTest, FaultTableBeyondHaw)
{
    const uint64_t iova = 0x1000;
    iommu_walk_params p = sl(4, 0x10000);
    /* A level-3 table pointer at 2^46 with HAW 46: next-level table access error 0x7. */
    put(0x10000, 0x11000 | SL_RW);
    put(0x11000, (1ull << 46) | SL_RW);
    std::vector<WalkRead> t;
    EXPECT_EQ(walk(p, iova, R, &t), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_PT_ACCESS);
    EXPECT_EQ(t.size(), 2u);
    p.scalable = true;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_SL_ACCESS);
    /* The same pointer is fine with HAW 47. */
    p.haw = 47;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_SL_NOT_PRESENT); /* zero memory below it */
    /* Root beyond HAW: fault before any read. */
    iommu_walk_params q = sl(4, 1ull << 46);
    EXPECT_EQ(walk(q, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_PT_ACCESS);
    EXPECT_EQ(w.mem_reads, 0);
    q.scalable = true;
    EXPECT_EQ(walk(q, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_SL_ROOT_INVALID);
    /* A leaf page beyond HAW. */
    put(0x11000, 0x12000 | SL_RW);
    put(0x12000, 0x13000 | SL_RW);
    put(0x13000 + 8, (1ull << 45) | (1ull << 46) | SL_RW);
    p.haw = 46;
    p.scalable = false;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_PT_ACCESS);
    p.scalable = true;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_OUTPUT_BEYOND);
}

TEST_F(WalkTest, FaultReservedBitsSecondLevel)
{
    const uint64_t iova = 0x0000123456789ABCull;
    iommu_walk_params p = sl(4, 0x10000);
    /* PS at an SL-PML4E */
    put(0x10000 + 8 * 0x24, 0x11000 | SL_RW | IOMMU_SL_PS);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_PTE_RESERVED);
    EXPECT_EQ(w.mem_reads, 1);
    /* SNP in a non-leaf entry */
    put(0x10000 + 8 * 0x24, 0x11000 | SL_RW | IOMMU_SL_SNP);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_PTE_RESERVED);
    /* 2 MB leaf: without SLLPS 2 MB, and with a low address bit set */
    put(0x10000 + 8 * 0x24, 0x11000 | SL_RW);
    put(0x11000 + 8 * 0xD1, 0x12000 | SL_RW);
    put(0x12000 + 8 * 0xB3, 0x80200000ull | IOMMU_SL_PS | SL_RW);
    p.sl_2m = false;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_PTE_RESERVED);
    p.sl_2m = true;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_DONE);
    put(0x12000 + 8 * 0xB3, 0x80201000ull | IOMMU_SL_PS | SL_RW);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_PTE_RESERVED);
    EXPECT_EQ(w.mem_reads, 3);
}

TEST_F(WalkTest, InvalidParamsAreRecordedNotAborted)
{
    iommu_walk_params p = sl(2, 0x10000);
    EXPECT_EQ(walk(p, 0, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_CTX_INVALID);
    p = fl(3, 0x10000);
    EXPECT_EQ(walk(p, 0, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_PASID_INVALID);
    p = sl(4, 0x10000);
    p.nested = true; /* nested must start with the first level */
    EXPECT_EQ(walk(p, 0, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_CTX_INVALID);
    p = sl(4, 0x10000);
    p.haw = 53;
    EXPECT_EQ(walk(p, 0, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.mem_reads, 0);
}

/* ---- first level --------------------------------------------------------------------- */

TEST_F(WalkTest, FirstLevel4LevelExactReads)
{
    const uint64_t iova = 0x00007F1234567123ull;
    put(0x40000 + 8 * 0xFE, 0x41000 | FL_PRWU);
    put(0x41000 + 8 * 0x48, 0x42000 | FL_PRWU);
    put(0x42000 + 8 * 0x1A2, 0x43000 | FL_PRWU);
    put(0x43000 + 8 * 0x167, 0x0000000012345000ull | FL_PRWU);
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(fl(4, 0x40000), iova, R | W, &t), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 4u);
    const uint64_t addrs[4] = {0x407F0, 0x41240, 0x42D10, 0x43B38};
    for (unsigned i = 0; i < 4; i++) {
        EXPECT_EQ(t[i].addr, addrs[i]);
        EXPECT_EQ(t[i].kind, IOMMU_READ_FL_PTE);
        EXPECT_EQ(t[i].level, 4 - i);
    }
    EXPECT_EQ(w.pa, 0x0000000012345123ull);
    EXPECT_EQ(w.page_shift, 12);
    EXPECT_EQ(w.perm, R | W | X);
}

TEST_F(WalkTest, FirstLevel5LevelAndCanonical)
{
    const uint64_t iova = 0x00ABCDEF01234567ull;
    path({0x50000, 0x51000, 0x52000, 0x53000, 0x54000}, 5, iova, FL_PRWU, 1,
         0x0000000000ABC000ull | FL_PRWU);
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(fl(5, 0x50000), iova, R, &t), IOMMU_WALK_DONE);
    EXPECT_EQ(t.size(), 5u);
    EXPECT_EQ(t[0].addr, 0x50000ull + 8 * 0xAB);
    EXPECT_EQ(w.pa, 0x0000000000ABC567ull);
    /* With 4 levels the same address is not canonical (bits 63:47 differ). */
    EXPECT_EQ(walk(fl(4, 0x50000), iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_FL_NONCANONICAL);
    EXPECT_EQ(w.mem_reads, 0);
    iommu_walk_params legacy = fl(4, 0x50000);
    legacy.scalable = false;
    EXPECT_EQ(walk(legacy, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_ADDR_BEYOND_MGAW);
    /* Upper-half canonical addresses are walked (index 0x100 at level 4). */
    const uint64_t hi = 0xFFFF800000001000ull;
    path({0x60000, 0x61000, 0x62000, 0x63000}, 4, hi, FL_PRWU, 1, 0x7000 | FL_PRWU);
    t.clear();
    ASSERT_EQ(walk(fl(4, 0x60000), hi, R, &t), IOMMU_WALK_DONE);
    EXPECT_EQ(t[0].addr, 0x60000ull + 8 * 0x100);
    EXPECT_EQ(w.pa, 0x7000ull);
    EXPECT_EQ(walk(fl(4, 0x60000), 0x0000800000000000ull, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_FL_NONCANONICAL);
}

TEST_F(WalkTest, FirstLevelPermissions)
{
    const uint64_t iova = 0x3000;
    path({0x40000, 0x41000, 0x42000, 0x43000}, 4, iova, FL_PRWU, 1, 0x8000 | IOMMU_FL_P);
    iommu_walk_params p = fl(4, 0x40000);
    /* R/W = 0, U/S = 0 at the leaf: supervisor-only, read-only */
    EXPECT_EQ(walk(p, iova, R | PRIV), IOMMU_WALK_DONE);
    EXPECT_EQ(w.perm, R | X | PRIV);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_USER_SUPERVISOR);
    EXPECT_EQ(walk(p, iova, W | PRIV), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_WRITE_DENIED);
    p.scalable = false; /* legacy mapping of the same conditions */
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_READ_DENIED);
    EXPECT_EQ(walk(p, iova, W), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_WRITE_DENIED);
    /* U/S = 0 at a non-leaf level applies to the whole region. */
    p.scalable = true;
    put(0x43000 + 8 * 3, 0x8000 | FL_PRWU);
    put(0x41000, 0x42000 | IOMMU_FL_P | IOMMU_FL_RW);
    EXPECT_EQ(walk(p, iova, W), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_USER_SUPERVISOR);
    EXPECT_EQ(walk(p, iova, W | PRIV), IOMMU_WALK_DONE);
    /* XD: execute denied only when x_enabled */
    put(0x41000, 0x42000 | FL_PRWU);
    put(0x43000 + 8 * 3, 0x8000 | FL_PRWU | IOMMU_FL_XD);
    EXPECT_EQ(walk(p, iova, R | X), IOMMU_WALK_DONE);
    p.x_enabled = true;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_DONE);
    EXPECT_EQ(w.perm, R | W);
    EXPECT_EQ(walk(p, iova, R | X), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_EXEC_DENIED);
}

TEST_F(WalkTest, FirstLevelFaults)
{
    const uint64_t iova = 0x0000123456789ABCull;
    iommu_walk_params p = fl(4, 0x40000);
    /* not present at level 3 */
    put(0x40000 + 8 * 0x24, 0x41000 | FL_PRWU);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_FL_NOT_PRESENT);
    EXPECT_EQ(w.mem_reads, 2);
    p.scalable = false;
    EXPECT_EQ(walk(p, iova, W), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_WRITE_DENIED);
    p.scalable = true;
    /* PS at a PML4E is reserved */
    put(0x40000 + 8 * 0x24, 0x41000 | FL_PRWU | IOMMU_FL_PS);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_FL_RESERVED);
    p.scalable = false;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_PTE_RESERVED);
    p.scalable = true;
    /* 1 GB leaf: needs CAP.FL1GP */
    put(0x40000 + 8 * 0x24, 0x41000 | FL_PRWU);
    put(0x41000 + 8 * 0xD1, 0x0000000080000000ull | FL_PRWU | IOMMU_FL_PS);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_DONE);
    EXPECT_EQ(w.page_shift, 30);
    EXPECT_EQ(w.pa, 0x0000000096789ABCull);
    p.fl_1g = false;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_FL_RESERVED);
    p.fl_1g = true;
    /* 2 MB leaf */
    put(0x41000 + 8 * 0xD1, 0x42000 | FL_PRWU);
    put(0x42000 + 8 * 0xB3, 0x0000000000E00000ull | FL_PRWU | IOMMU_FL_PS);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_DONE);
    EXPECT_EQ(w.page_shift, 21);
    EXPECT_EQ(w.pa, 0x0000000000F89ABCull);
    EXPECT_EQ(w.mem_reads, 3);
    /* table pointer beyond HAW, root beyond HAW, leaf beyond HAW */
    put(0x42000 + 8 * 0xB3, (1ull << 46) | FL_PRWU);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_FL_ACCESS);
    EXPECT_EQ(walk(fl(4, 1ull << 46), iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_FL_ROOT_ACCESS);
    put(0x42000 + 8 * 0xB3, (1ull << 46) | FL_PRWU | IOMMU_FL_PS);
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_FL_RESERVED);
    p.scalable = false;
    EXPECT_EQ(walk(p, iova, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_PT_ACCESS);
}

/* ---- nested ----------------------------------------------------------------------------- */

/* Guest first-level tables at GPAs 0x1000 (PML4) .. 0x4000 (PT), data page at GPA 0x5000.
 * Second level (4 levels, root 0x200000, tables 0x201000/0x202000/0x203000) maps GPA
 * 0x1000..0x4000 to HPAs 0x300000..0x303000 and GPA 0x5000 to HPA 0x400000. */
class NestedWalk : public WalkTest {
protected:
    static constexpr uint64_t IOVA = 0x00007F1234567123ull;
    void SetUp() override
    {
        WalkTest::SetUp();
        put(0x200000, 0x201000 | SL_RWX);
        put(0x201000, 0x202000 | SL_RWX);
        put(0x202000, 0x203000 | SL_RWX);
        for (uint64_t g = 1; g <= 4; g++)
            put(0x203000 + 8 * g, (0x300000 + 0x1000 * (g - 1)) | SL_RW);
        put(0x203000 + 8 * 5, 0x400000 | SL_RW);
        put(0x300000 + 8 * 0xFE, 0x2000 | FL_PRWU);
        put(0x301000 + 8 * 0x48, 0x3000 | FL_PRWU);
        put(0x302000 + 8 * 0x1A2, 0x4000 | FL_PRWU);
        put(0x303000 + 8 * 0x167, 0x5000 | FL_PRWU);
    }
    static iommu_walk_params nested()
    {
        iommu_walk_params p = fl(4, 0x1000);
        p.nested = true;
        p.sl_levels = 4;
        p.sl_root = 0x200000;
        return p;
    }
};

TEST_F(NestedWalk, FourOverFourColdIs24ReadsInOrder)
{
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(nested(), IOVA, R | W, &t), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 24u);
    EXPECT_EQ(w.mem_reads, 24);
    const uint64_t sl_prefix[3] = {0x200000, 0x201000, 0x202000};
    const uint64_t fl_reads[4] = {0x300000 + 8 * 0xFE, 0x301000 + 8 * 0x48,
                                  0x302000 + 8 * 0x1A2, 0x303000 + 8 * 0x167};
    unsigned i = 0;
    for (unsigned g = 1; g <= 5; g++) {
        /* a second-level walk of GPA g * 0x1000 (g = 1: the first-level root first) */
        for (unsigned l = 0; l < 3; l++, i++) {
            EXPECT_EQ(t[i].addr, sl_prefix[l]) << i;
            EXPECT_EQ(t[i].kind, IOMMU_READ_SL_PTE) << i;
            EXPECT_EQ(t[i].level, 4 - l) << i;
        }
        EXPECT_EQ(t[i].addr, 0x203000ull + 8 * g) << i;
        EXPECT_EQ(t[i].kind, IOMMU_READ_SL_PTE);
        EXPECT_EQ(t[i].level, 1);
        i++;
        if (g <= 4) {
            EXPECT_EQ(t[i].addr, fl_reads[g - 1]) << i;
            EXPECT_EQ(t[i].kind, IOMMU_READ_FL_PTE) << i;
            EXPECT_EQ(t[i].level, 5 - g) << i;
            i++;
        }
    }
    EXPECT_EQ(i, 24u);
    EXPECT_EQ(w.pa, 0x400123ull);
    EXPECT_EQ(w.page_shift, 12);
    EXPECT_EQ(w.perm, R | W | X);
}

TEST_F(NestedWalk, PageSizeIsTheSmallerStage)
{
    /* First level maps a 2 MB GPA page at 0x200000 (level-2 leaf); the second level maps
     * that GPA range with a 2 MB leaf at HPA 0x4000000, then with 4 KB pages. */
    put(0x302000 + 8 * 0x1A2, 0x200000 | FL_PRWU | IOMMU_FL_PS);
    put(0x202000 + 8 * 1, 0x4000000 | SL_RW | IOMMU_SL_PS);
    ASSERT_EQ(walk(nested(), IOVA, R), IOMMU_WALK_DONE);
    EXPECT_EQ(w.page_shift, 21);
    EXPECT_EQ(w.pa, 0x4000000ull | (IOVA & 0x1FFFFF));
    EXPECT_EQ(w.mem_reads, 3 * 4 + 3 + 3); /* 3 FL tables via 4 SL reads, 3 FL reads, final 3 */
    /* SL 4 KB under a FL 2 MB page: 4 KB result */
    put(0x202000 + 8 * 1, 0x204000 | SL_RWX);
    put(0x204000 + 8 * 0x167, 0x500000 | SL_RW); /* GPA 0x367000 -> 0x500000 */
    ASSERT_EQ(walk(nested(), IOVA, R), IOMMU_WALK_DONE);
    EXPECT_EQ(w.page_shift, 12);
    EXPECT_EQ(w.pa, 0x500123ull);
    /* FL 4 KB over SL 2 MB: 4 KB result */
    put(0x302000 + 8 * 0x1A2, 0x4000 | FL_PRWU);
    put(0x303000 + 8 * 0x167, 0x234000 | FL_PRWU); /* GPA 0x234000 in the 2nd 2 MB */
    put(0x202000 + 8 * 1, 0x4000000 | SL_RW | IOMMU_SL_PS);
    ASSERT_EQ(walk(nested(), IOVA, R), IOMMU_WALK_DONE);
    EXPECT_EQ(w.page_shift, 12);
    EXPECT_EQ(w.pa, 0x4034123ull);
}

TEST_F(NestedWalk, PermissionsCombineAcrossStages)
{
    put(0x203000 + 8 * 5, 0x400000 | IOMMU_SL_R); /* SL read-only data page */
    EXPECT_EQ(walk(nested(), IOVA, R), IOMMU_WALK_DONE);
    EXPECT_EQ(w.perm, R | X);
    EXPECT_EQ(walk(nested(), IOVA, W), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_WRITE_DENIED);
    put(0x203000 + 8 * 5, 0x400000 | SL_RW);
    put(0x303000 + 8 * 0x167, 0x5000 | IOMMU_FL_P); /* FL supervisor read-only */
    EXPECT_EQ(walk(nested(), IOVA, R | PRIV), IOMMU_WALK_DONE);
    EXPECT_EQ(w.perm, R | X | PRIV);
    EXPECT_EQ(walk(nested(), IOVA, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_USER_SUPERVISOR);
}

TEST_F(NestedWalk, FaultsInNestedTranslation)
{
    /* SL denies read of the FL root table (W-only mapping of GPA 0x1000): 0x75 */
    put(0x203000 + 8 * 1, 0x300000 | IOMMU_SL_W);
    EXPECT_EQ(walk(nested(), IOVA, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_FL_ROOT_NESTED_READ);
    EXPECT_EQ(w.mem_reads, 4);
    put(0x203000 + 8 * 1, 0x300000 | SL_RW);
    /* ... of a deeper FL table (GPA 0x3000, the level-2 table): 0x76 */
    put(0x203000 + 8 * 3, 0x302000 | IOMMU_SL_W);
    EXPECT_EQ(walk(nested(), IOVA, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_FL_NESTED_READ);
    EXPECT_EQ(w.mem_reads, 4 + 1 + 4 + 1 + 4);
    /* GPA of an FL table not mapped by the SL: SL entry not present, 0x79 */
    put(0x203000 + 8 * 3, 0);
    EXPECT_EQ(walk(nested(), IOVA, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_SL_NOT_PRESENT);
    put(0x203000 + 8 * 3, 0x302000 | SL_RW);
    /* FL table pointer beyond the SL width (2^48): 0x74 */
    put(0x301000 + 8 * 0x48, (1ull << 48) | FL_PRWU);
    EXPECT_EQ(walk(nested(), IOVA, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_FL_NESTED_BEYOND);
    put(0x301000 + 8 * 0x48, 0x3000 | FL_PRWU);
    /* final GPA beyond the SL width: 0x74 as well */
    put(0x303000 + 8 * 0x167, (1ull << 49) | FL_PRWU);
    EXPECT_EQ(walk(nested(), IOVA, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_FL_NESTED_BEYOND);
    EXPECT_EQ(w.mem_reads, 20);
    /* first-level not present */
    put(0x303000 + 8 * 0x167, 0);
    EXPECT_EQ(walk(nested(), IOVA, R), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_SM_FL_NOT_PRESENT);
    EXPECT_EQ(w.mem_reads, 20);
}

TEST(WalkPermCheck, OrderAndCodes)
{
    EXPECT_EQ(iommu_perm_check(R, R), 0);
    EXPECT_EQ(iommu_perm_check(W, R), IOMMU_FR_WRITE_DENIED);
    EXPECT_EQ(iommu_perm_check(R, W), IOMMU_FR_READ_DENIED);
    EXPECT_EQ(iommu_perm_check(R | W, 0), IOMMU_FR_WRITE_DENIED); /* write checked first */
    EXPECT_EQ(iommu_perm_check(R | W, W), IOMMU_FR_READ_DENIED);
    EXPECT_EQ(iommu_perm_check(X, R), IOMMU_FR_READ_DENIED);
    EXPECT_EQ(iommu_perm_check(R, R | PRIV), IOMMU_FR_READ_DENIED);
    EXPECT_EQ(iommu_perm_check(W, R | W | PRIV), IOMMU_FR_WRITE_DENIED);
    EXPECT_EQ(iommu_perm_check(R | PRIV, R | PRIV), 0);
    EXPECT_EQ(iommu_perm_check(0, 0), 0);
    EXPECT_EQ(iommu_perm_check_sm(W, R), IOMMU_FR_SM_WRITE_DENIED);
    EXPECT_EQ(iommu_perm_check_sm(R, W), IOMMU_FR_SM_READ_DENIED);
    EXPECT_EQ(iommu_perm_check_sm(R | W, 0), IOMMU_FR_SM_WRITE_DENIED);
    EXPECT_EQ(iommu_perm_check_sm(X, R | W), IOMMU_FR_SM_EXEC_DENIED);
    EXPECT_EQ(iommu_perm_check_sm(W, PRIV), IOMMU_FR_SM_USER_SUPERVISOR);
    EXPECT_EQ(iommu_perm_check_sm(R | W | X | PRIV, R | W | X | PRIV), 0);
}

} // namespace
