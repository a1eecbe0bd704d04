/*
 * test_walk_pwc.cpp — the walk with paging-structure caches (model/iotlb/pwc.h): hits skip
 * reads (PDE hit -> 1 read, PDPE -> 2, PML4E -> 3, PML5E -> 4), every non-leaf entry read
 * is filled with its next table and accumulated permissions, tags keep domains, PASIDs and
 * stages apart, and nested walks use both stages' caches.
 */
#include <gtest/gtest.h>

#include "model/walker/walker_drive.h"

namespace {

constexpr uint8_t R = IOMMU_ACC_R, W = IOMMU_ACC_W, X = IOMMU_ACC_X;
constexpr uint64_t SL_RW = IOMMU_SL_R | IOMMU_SL_W;
constexpr uint64_t FL_PRWU = IOMMU_FL_P | IOMMU_FL_RW | IOMMU_FL_US;
constexpr uint64_t A = 0x0000123456789ABCull; /* indices 0x24 / 0xD1 / 0xB3 / 0x189 */

class WalkPwc : public ::testing::Test {
protected:
    void SetUp() override
    {
        mem = iommu_physmem_create();
        iommu_pwc_cfg cfg;
        iommu_pwc_cfg_default(&cfg);
        cfg.level[IOMMU_PWC_PML5E].entries = 4; /* present for the 5-level test */
        cfg.level[IOMMU_PWC_PML5E].ways = 4;
        pwc = iommu_pwc_create(&cfg);
        ASSERT_NE(pwc, nullptr);
        put(0x10000 + 8 * 0x24, 0x11000 | SL_RW);
        put(0x11000 + 8 * 0xD1, 0x12000 | SL_RW);
        put(0x12000 + 8 * 0xB3, 0x13000 | SL_RW);
        put(0x13000 + 8 * 0x189, 0x0000007654321000ull | SL_RW);
    }
    void TearDown() override
    {
        iommu_pwc_destroy(pwc);
        iommu_physmem_destroy(mem);
    }
    void put(uint64_t pa, uint64_t v) { iommu_physmem_write64(mem, pa, v); }
    static iommu_walk_params sl4()
    {
        iommu_walk_params p{};
        p.format = IOMMU_PT_SECOND_LEVEL;
        p.levels = 4;
        p.root = 0x10000;
        p.haw = 46;
        p.sl_2m = p.sl_1g = p.fl_1g = true;
        p.did = 1;
        p.pasid = IOMMU_PASID_NONE;
        return p;
    }
    iommu_walk_rc walk(const iommu_walk_params &p, uint64_t iova, std::vector<WalkRead> *t)
    {
        return run_walk(mem, &w, p, pwc, iova, R, t);
    }
    iommu_physmem_t *mem = nullptr;
    iommu_pwc_t *pwc = nullptr;
    iommu_walk w{};
};

TEST_F(WalkPwc, ColdWalkMissesAndFillsEveryNonLeafLevel)
{
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(sl4(), A, &t), IOMMU_WALK_DONE);
    EXPECT_EQ(t.size(), 4u);
    EXPECT_EQ(w.pwc_misses[IOMMU_PWC_PDE], 1);
    EXPECT_EQ(w.pwc_misses[IOMMU_PWC_PDPE], 1);
    EXPECT_EQ(w.pwc_misses[IOMMU_PWC_PML4E], 1);
    EXPECT_EQ(w.pwc_misses[IOMMU_PWC_PML5E], 0); /* a 4-level walk has no PML5E */
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++)
        EXPECT_EQ(w.pwc_hits[l], 0);
    const iommu_pwc_entry *e =
        iommu_pwc_lookup(pwc, IOMMU_PWC_PDE, 1, IOMMU_PASID_NONE, IOMMU_STAGE_SECOND, A);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->next_table, 0x13000ull);
    EXPECT_EQ(e->perm, R | W | X);
    e = iommu_pwc_lookup(pwc, IOMMU_PWC_PDPE, 1, IOMMU_PASID_NONE, IOMMU_STAGE_SECOND, A);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->next_table, 0x12000ull);
    e = iommu_pwc_lookup(pwc, IOMMU_PWC_PML4E, 1, IOMMU_PASID_NONE, IOMMU_STAGE_SECOND, A);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->next_table, 0x11000ull);
    /* nothing filled under another tag */
    EXPECT_EQ(iommu_pwc_lookup(pwc, IOMMU_PWC_PDE, 2, IOMMU_PASID_NONE, IOMMU_STAGE_SECOND, A),
              nullptr);
    EXPECT_EQ(iommu_pwc_lookup(pwc, IOMMU_PWC_PDE, 1, IOMMU_PASID_NONE, IOMMU_STAGE_FIRST, A),
              nullptr);
}

TEST_F(WalkPwc, PdeHitLeavesOneRead)
{
    ASSERT_EQ(walk(sl4(), A, nullptr), IOMMU_WALK_DONE);
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(sl4(), A, &t), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].addr, 0x13000ull + 8 * 0x189);
    EXPECT_EQ(t[0].level, 1);
    EXPECT_EQ(w.pwc_hits[IOMMU_PWC_PDE], 1);
    EXPECT_EQ(w.pwc_misses[IOMMU_PWC_PDE], 0);
    EXPECT_EQ(w.mem_reads, 1);
    EXPECT_EQ(w.pa, 0x0000007654321ABCull);
}

TEST_F(WalkPwc, PdpeHitLeavesTwoReads)
{
    ASSERT_EQ(walk(sl4(), A, nullptr), IOMMU_WALK_DONE);
    const uint64_t b = A + 0x200000; /* same 1 GB, next 2 MB: PDE index 0xB4 */
    put(0x12000 + 8 * 0xB4, 0x14000 | SL_RW);
    put(0x14000 + 8 * 0x189, 0x0000000000555000ull | SL_RW);
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(sl4(), b, &t), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].addr, 0x12000ull + 8 * 0xB4);
    EXPECT_EQ(t[0].level, 2);
    EXPECT_EQ(t[1].addr, 0x14000ull + 8 * 0x189);
    EXPECT_EQ(w.pwc_misses[IOMMU_PWC_PDE], 1);
    EXPECT_EQ(w.pwc_hits[IOMMU_PWC_PDPE], 1);
    EXPECT_EQ(w.pa, 0x0000000000555ABCull);
}

TEST_F(WalkPwc, Pml4eHitLeavesThreeReads)
{
    ASSERT_EQ(walk(sl4(), A, nullptr), IOMMU_WALK_DONE);
    const uint64_t c = A + 0x40000000; /* same 512 GB, next 1 GB: PDPE index 0xD2 */
    put(0x11000 + 8 * 0xD2, 0x15000 | SL_RW);
    put(0x15000 + 8 * 0xB3, 0x16000 | SL_RW);
    put(0x16000 + 8 * 0x189, 0x0000000000666000ull | SL_RW);
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(sl4(), c, &t), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 3u);
    EXPECT_EQ(t[0].addr, 0x11000ull + 8 * 0xD2);
    EXPECT_EQ(t[0].level, 3);
    EXPECT_EQ(w.pwc_misses[IOMMU_PWC_PDE], 1);
    EXPECT_EQ(w.pwc_misses[IOMMU_PWC_PDPE], 1);
    EXPECT_EQ(w.pwc_hits[IOMMU_PWC_PML4E], 1);
    EXPECT_EQ(w.pa, 0x0000000000666ABCull);
}

TEST_F(WalkPwc, Pml5eHitLeavesFourReads)
{
    iommu_walk_params p = sl4();
    p.levels = 5;
    p.root = 0x30000;
    /* 5-level path for A (level-5 index 0); then an address in the next 512 GB */
    put(0x30000, 0x31000 | SL_RW);
    put(0x31000 + 8 * 0x24, 0x32000 | SL_RW);
    put(0x32000 + 8 * 0xD1, 0x33000 | SL_RW);
    put(0x33000 + 8 * 0xB3, 0x34000 | SL_RW);
    put(0x34000 + 8 * 0x189, 0x0000000000777000ull | SL_RW);
    ASSERT_EQ(walk(p, A, nullptr), IOMMU_WALK_DONE);
    EXPECT_EQ(w.mem_reads, 5);
    EXPECT_EQ(w.pwc_misses[IOMMU_PWC_PML5E], 1);
    const uint64_t d = A + (1ull << 39); /* next PML4E (index 0x25), same PML5E */
    put(0x31000 + 8 * 0x25, 0x35000 | SL_RW);
    put(0x35000 + 8 * 0xD1, 0x36000 | SL_RW);
    put(0x36000 + 8 * 0xB3, 0x37000 | SL_RW);
    put(0x37000 + 8 * 0x189, 0x0000000000888000ull | SL_RW);
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(p, d, &t), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 4u);
    EXPECT_EQ(t[0].addr, 0x31000ull + 8 * 0x25);
    EXPECT_EQ(t[0].level, 4);
    EXPECT_EQ(w.pwc_hits[IOMMU_PWC_PML5E], 1);
    EXPECT_EQ(w.pa, 0x0000000000888ABCull);
}

TEST_F(WalkPwc, TagsSeparateDomainsAndPasids)
{
    ASSERT_EQ(walk(sl4(), A, nullptr), IOMMU_WALK_DONE);
    iommu_walk_params p = sl4();
    p.did = 2;
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(p, A, &t), IOMMU_WALK_DONE);
    EXPECT_EQ(t.size(), 4u);
    p = sl4();
    p.pasid = 3;
    t.clear();
    ASSERT_EQ(walk(p, A, &t), IOMMU_WALK_DONE);
    EXPECT_EQ(t.size(), 4u);
    t.clear();
    ASSERT_EQ(walk(sl4(), A, &t), IOMMU_WALK_DONE);
    EXPECT_EQ(t.size(), 1u);
}

TEST_F(WalkPwc, InvalidationForcesFullWalk)
{
    ASSERT_EQ(walk(sl4(), A, nullptr), IOMMU_WALK_DONE);
    EXPECT_EQ(iommu_pwc_inv_domain(pwc, 1), 3u);
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(sl4(), A, &t), IOMMU_WALK_DONE);
    EXPECT_EQ(t.size(), 4u);
}

TEST_F(WalkPwc, FaultingEntryIsNotFilled)
{
    put(0x12000 + 8 * 0xB3, 0x13000 | SL_RW | IOMMU_SL_SNP); /* reserved in a PDE */
    ASSERT_EQ(walk(sl4(), A, nullptr), IOMMU_WALK_FAULT);
    EXPECT_EQ(w.fault_reason, IOMMU_FR_PTE_RESERVED);
    EXPECT_EQ(iommu_pwc_lookup(pwc, IOMMU_PWC_PDE, 1, IOMMU_PASID_NONE, IOMMU_STAGE_SECOND, A),
              nullptr);
    EXPECT_NE(iommu_pwc_lookup(pwc, IOMMU_PWC_PDPE, 1, IOMMU_PASID_NONE, IOMMU_STAGE_SECOND, A),
              nullptr);
}

/* Nested with caches: the second-level caches fill during the cold walk (all guest tables
 * share one 2 MB GPA region), and a warm walk is one FL read plus one SL read. */
TEST_F(WalkPwc, NestedUsesBothStagesCaches)
{
    put(0x200000, 0x201000 | SL_RW);
    put(0x201000, 0x202000 | SL_RW);
    put(0x202000, 0x203000 | SL_RW);
    for (uint64_t g = 1; g <= 4; g++)
        put(0x203000 + 8 * g, (0x300000 + 0x1000 * (g - 1)) | SL_RW);
    put(0x203000 + 8 * 5, 0x400000 | SL_RW);
    const uint64_t iova = 0x00007F1234567123ull; /* 0xFE / 0x48 / 0x1A2 / 0x167 */
    put(0x300000 + 8 * 0xFE, 0x2000 | FL_PRWU);
    put(0x301000 + 8 * 0x48, 0x3000 | FL_PRWU);
    put(0x302000 + 8 * 0x1A2, 0x4000 | FL_PRWU);
    put(0x303000 + 8 * 0x167, 0x5000 | FL_PRWU);
    iommu_walk_params p = sl4();
    p.format = IOMMU_PT_FIRST_LEVEL;
    p.root = 0x1000;
    p.nested = true;
    p.sl_levels = 4;
    p.sl_root = 0x200000;
    p.scalable = true;
    p.pasid = 7;
    std::vector<WalkRead> t;
    ASSERT_EQ(walk(p, iova, &t), IOMMU_WALK_DONE);
    /* SL(0x1000) 4 reads, then each later SL walk hits the SL PDE: 4 + 4 * (1 + 1) */
    EXPECT_EQ(t.size(), 12u);
    EXPECT_EQ(w.pa, 0x400123ull);
    EXPECT_EQ(w.pwc_hits[IOMMU_PWC_PDE], 4);
    /* The FL PDE holds the host-physical address of the FL page table. */
    const iommu_pwc_entry *e =
        iommu_pwc_lookup(pwc, IOMMU_PWC_PDE, 1, 7, IOMMU_STAGE_FIRST, iova);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->next_table, 0x303000ull);
    e = iommu_pwc_lookup(pwc, IOMMU_PWC_PML4E, 1, 7, IOMMU_STAGE_FIRST, iova);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->next_table, 0x301000ull);
    t.clear();
    ASSERT_EQ(walk(p, iova, &t), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].addr, 0x303000ull + 8 * 0x167);
    EXPECT_EQ(t[0].kind, IOMMU_READ_FL_PTE);
    EXPECT_EQ(t[1].addr, 0x203000ull + 8 * 5);
    EXPECT_EQ(t[1].kind, IOMMU_READ_SL_PTE);
    EXPECT_EQ(w.pwc_hits[IOMMU_PWC_PDE], 2);
    EXPECT_EQ(w.pa, 0x400123ull);
}

} // namespace
