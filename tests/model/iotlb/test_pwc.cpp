// test_pwc.cpp — the paging-structure caches: per-level reach, tags (domain, PASID,
// stage), absent levels, every invalidation kind with exact counts, configuration errors.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "model/iotlb/pwc.h"

namespace {

constexpr iommu_pasid_t NP = IOMMU_PASID_NONE;
constexpr uint64_t M2 = 1ull << 21, G1 = 1ull << 30, G512 = 1ull << 39, T256 = 1ull << 48;

iommu_pwc_entry pe(uint64_t next, iommu_perm_t perm = IOMMU_ACC_R | IOMMU_ACC_W)
{
    iommu_pwc_entry e{};
    e.next_table = next;
    e.perm = perm;
    return e;
}

iommu_pwc_cfg all_levels(uint32_t entries, uint32_t ways)
{
    iommu_pwc_cfg c;
    iommu_pwc_cfg_default(&c);
    for (auto &l : c.level) {
        l.entries = entries;
        l.ways = ways;
    }
    return c;
}

TEST(PwcConfig, DefaultsAndLevelNames)
{
    iommu_pwc_cfg c;
    std::memset(&c, 0x77, sizeof c);
    iommu_pwc_cfg_default(&c);
    const uint32_t want[] = {32, 16, 4, 0};
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++) {
        EXPECT_EQ(c.level[l].entries, want[l]) << l;
        EXPECT_EQ(c.level[l].ways, want[l]) << l;
        EXPECT_STREQ(c.level[l].policy, "lru");
    }
    EXPECT_EQ(iommu_pwc_cfg_validate(&c, nullptr, nullptr), IOMMU_OK);
    iommu_pwc_t *p = iommu_pwc_create(&c);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(iommu_pwc_present(p, IOMMU_PWC_PDE));
    EXPECT_TRUE(iommu_pwc_present(p, IOMMU_PWC_PDPE));
    EXPECT_TRUE(iommu_pwc_present(p, IOMMU_PWC_PML4E));
    EXPECT_FALSE(iommu_pwc_present(p, IOMMU_PWC_PML5E));
    iommu_pwc_destroy(p);
    iommu_pwc_destroy(nullptr);
    EXPECT_STREQ(iommu_pwc_level_name(IOMMU_PWC_PDE), "pde");
    EXPECT_STREQ(iommu_pwc_level_name(IOMMU_PWC_PDPE), "pdpe");
    EXPECT_STREQ(iommu_pwc_level_name(IOMMU_PWC_PML4E), "pml4e");
    EXPECT_STREQ(iommu_pwc_level_name(IOMMU_PWC_PML5E), "pml5e");
    EXPECT_STREQ(iommu_pwc_level_name((iommu_pwc_level)9), "?");
}

TEST(PwcConfig, ErrorsNameTheKey)
{
    struct Case {
        int level;
        uint32_t entries, ways;
        const char *pol, *key, *why;
    } cases[] = {
        {0, 32, 5, "lru", "pwc.pde.ways", "ways must divide entries"},
        {1, 24, 8, "lru", "pwc.pdpe.entries", "entries/ways must be a power of two"},
        {2, 4, 4, "nope", "pwc.pml4e.policy",
         "unknown replacement policy (known: lru, plru, tree-plru, fifo, random)"},
        {3, 6, 6, "plru", "pwc.pml5e.policy", "tree-PLRU needs a power-of-two number of ways"},
        {3, 4, 0, "lru", "pwc.pml5e.ways", "ways must be at least 1"},
    };
    for (const Case &cs : cases) {
        SCOPED_TRACE(cs.key);
        iommu_pwc_cfg c;
        iommu_pwc_cfg_default(&c);
        c.level[cs.level].entries = cs.entries;
        c.level[cs.level].ways = cs.ways;
        std::snprintf(c.level[cs.level].policy, sizeof c.level[cs.level].policy, "%s", cs.pol);
        const char *key = nullptr, *why = nullptr;
        EXPECT_EQ(iommu_pwc_cfg_validate(&c, &key, &why), IOMMU_ERR_INVAL);
        EXPECT_STREQ(key, cs.key);
        EXPECT_STREQ(why, cs.why);
        EXPECT_EQ(iommu_pwc_create(&c), nullptr);
    }
    EXPECT_EQ(iommu_pwc_create(nullptr), nullptr);
}

TEST(Pwc, EachLevelCoversItsReach)
{
    iommu_pwc_cfg c = all_levels(8, 8);
    iommu_pwc_t *p = iommu_pwc_create(&c);
    const uint64_t reach[] = {M2, G1, G512, T256};
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++) {
        SCOPED_TRACE(l);
        const auto lvl = (iommu_pwc_level)l;
        const uint64_t base = 3 * reach[l];
        const iommu_pwc_entry e = pe(0x1000 * (l + 1), IOMMU_ACC_R);
        iommu_pwc_insert(p, lvl, 1, NP, IOMMU_STAGE_SECOND, base + reach[l] / 2, &e);
        const iommu_pwc_entry *h = iommu_pwc_lookup(p, lvl, 1, NP, IOMMU_STAGE_SECOND, base);
        ASSERT_NE(h, nullptr);
        EXPECT_EQ(h->next_table, 0x1000u * (l + 1));
        EXPECT_EQ(h->perm, IOMMU_ACC_R);
        EXPECT_NE(iommu_pwc_lookup(p, lvl, 1, NP, IOMMU_STAGE_SECOND, base + reach[l] - 1), nullptr);
        EXPECT_EQ(iommu_pwc_lookup(p, lvl, 1, NP, IOMMU_STAGE_SECOND, base + reach[l]), nullptr);
        EXPECT_EQ(iommu_pwc_lookup(p, lvl, 1, NP, IOMMU_STAGE_SECOND, base - 1), nullptr);
        EXPECT_EQ(iommu_pwc_valid_count(p, lvl), 1u);
    }
    // levels are separate caches: a PDE entry is not a PDPE entry for the same address
    EXPECT_EQ(iommu_pwc_lookup(p, IOMMU_PWC_PDE, 1, NP, IOMMU_STAGE_SECOND, 3 * G1), nullptr);
    iommu_pwc_destroy(p);
}

TEST(Pwc, TagsSeparateDomainPasidAndStage)
{
    iommu_pwc_cfg c = all_levels(16, 16);
    iommu_pwc_t *p = iommu_pwc_create(&c);
    const iommu_pwc_entry e = pe(0x5000);
    iommu_pwc_insert(p, IOMMU_PWC_PDE, 1, 4, IOMMU_STAGE_FIRST, 0x200000, &e);
    EXPECT_NE(iommu_pwc_lookup(p, IOMMU_PWC_PDE, 1, 4, IOMMU_STAGE_FIRST, 0x200000), nullptr);
    EXPECT_EQ(iommu_pwc_lookup(p, IOMMU_PWC_PDE, 2, 4, IOMMU_STAGE_FIRST, 0x200000), nullptr);
    EXPECT_EQ(iommu_pwc_lookup(p, IOMMU_PWC_PDE, 1, 5, IOMMU_STAGE_FIRST, 0x200000), nullptr);
    EXPECT_EQ(iommu_pwc_lookup(p, IOMMU_PWC_PDE, 1, NP, IOMMU_STAGE_FIRST, 0x200000), nullptr);
    EXPECT_EQ(iommu_pwc_lookup(p, IOMMU_PWC_PDE, 1, 4, IOMMU_STAGE_SECOND, 0x200000), nullptr);
    // same address in the other stage is a separate entry
    const iommu_pwc_entry e2 = pe(0x6000);
    iommu_pwc_insert(p, IOMMU_PWC_PDE, 1, 4, IOMMU_STAGE_SECOND, 0x200000, &e2);
    EXPECT_EQ(iommu_pwc_lookup(p, IOMMU_PWC_PDE, 1, 4, IOMMU_STAGE_FIRST, 0x200000)->next_table,
              0x5000u);
    EXPECT_EQ(iommu_pwc_lookup(p, IOMMU_PWC_PDE, 1, 4, IOMMU_STAGE_SECOND, 0x200000)->next_table,
              0x6000u);
    EXPECT_EQ(iommu_pwc_valid_count(p, IOMMU_PWC_PDE), 2u);
    iommu_pwc_destroy(p);
}

TEST(Pwc, AbsentLevelMissesAndDropsInserts)
{
    iommu_pwc_cfg c;
    iommu_pwc_cfg_default(&c); // PML5E absent
    iommu_pwc_t *p = iommu_pwc_create(&c);
    const iommu_pwc_entry e = pe(0x9000);
    iommu_pwc_insert(p, IOMMU_PWC_PML5E, 1, NP, IOMMU_STAGE_FIRST, 0, &e);
    EXPECT_EQ(iommu_pwc_lookup(p, IOMMU_PWC_PML5E, 1, NP, IOMMU_STAGE_FIRST, 0), nullptr);
    EXPECT_EQ(iommu_pwc_valid_count(p, IOMMU_PWC_PML5E), 0u);
    EXPECT_EQ(iommu_pwc_inv_global(p), 0u);
    iommu_pwc_destroy(p);
}

TEST(Pwc, SetIndexComesFromTheLevelsAddressBits)
{
    // 8 entries, 2 ways, 4 sets: 8 consecutive 2 MB regions fill all sets without eviction
    iommu_pwc_cfg c = all_levels(8, 2);
    iommu_pwc_t *p = iommu_pwc_create(&c);
    const iommu_pwc_entry e = pe(0x1000);
    for (uint64_t i = 0; i < 8; i++)
        iommu_pwc_insert(p, IOMMU_PWC_PDE, 1, NP, IOMMU_STAGE_SECOND, i * M2, &e);
    EXPECT_EQ(iommu_pwc_valid_count(p, IOMMU_PWC_PDE), 8u);
    for (uint64_t i = 0; i < 8; i++)
        EXPECT_NE(iommu_pwc_lookup(p, IOMMU_PWC_PDE, 1, NP, IOMMU_STAGE_SECOND, i * M2), nullptr);
    // 3 regions 4 sets apart share a set: the LRU one goes
    iommu_pwc_inv_global(p);
    for (uint64_t i = 0; i < 3; i++)
        iommu_pwc_insert(p, IOMMU_PWC_PDE, 1, NP, IOMMU_STAGE_SECOND, i * 4 * M2, &e);
    EXPECT_EQ(iommu_pwc_valid_count(p, IOMMU_PWC_PDE), 2u);
    EXPECT_EQ(iommu_pwc_lookup(p, IOMMU_PWC_PDE, 1, NP, IOMMU_STAGE_SECOND, 0), nullptr);
    iommu_pwc_destroy(p);
}

// Population for the invalidation tests (per level, 64-entry fully associative caches):
//   did 1, no PASID, stage 2: PDE 0..7 x 2 MB, PDPE 0..3 x 1 GB, PML4E 0..1 x 512 GB,
//                             PML5E 0 (15 entries)
//   did 1, PASID 3, stage 1:  PDE 0..3 x 2 MB, PDPE 0 (5 entries)
//   did 2, no PASID, stage 2: PDE 0..1 x 2 MB, PML4E 0 (3 entries)
void populate(iommu_pwc_t *p)
{
    const iommu_pwc_entry e = pe(0x1000);
    for (uint64_t i = 0; i < 8; i++)
        iommu_pwc_insert(p, IOMMU_PWC_PDE, 1, NP, IOMMU_STAGE_SECOND, i * M2, &e);
    for (uint64_t i = 0; i < 4; i++)
        iommu_pwc_insert(p, IOMMU_PWC_PDPE, 1, NP, IOMMU_STAGE_SECOND, i * G1, &e);
    for (uint64_t i = 0; i < 2; i++)
        iommu_pwc_insert(p, IOMMU_PWC_PML4E, 1, NP, IOMMU_STAGE_SECOND, i * G512, &e);
    iommu_pwc_insert(p, IOMMU_PWC_PML5E, 1, NP, IOMMU_STAGE_SECOND, 0, &e);
    for (uint64_t i = 0; i < 4; i++)
        iommu_pwc_insert(p, IOMMU_PWC_PDE, 1, 3, IOMMU_STAGE_FIRST, i * M2, &e);
    iommu_pwc_insert(p, IOMMU_PWC_PDPE, 1, 3, IOMMU_STAGE_FIRST, 0, &e);
    for (uint64_t i = 0; i < 2; i++)
        iommu_pwc_insert(p, IOMMU_PWC_PDE, 2, NP, IOMMU_STAGE_SECOND, i * M2, &e);
    iommu_pwc_insert(p, IOMMU_PWC_PML4E, 2, NP, IOMMU_STAGE_SECOND, 0, &e);
}

uint32_t total(const iommu_pwc_t *p)
{
    uint32_t n = 0;
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++)
        n += iommu_pwc_valid_count(p, (iommu_pwc_level)l);
    return n;
}

TEST(PwcInvalidation, EveryKindRemovesExactCounts)
{
    struct Case {
        const char *name;
        uint32_t (*inv)(iommu_pwc_t *);
        uint32_t removed;
        uint32_t left_pde, left_pdpe, left_pml4e, left_pml5e;
    } cases[] = {
        {"global", [](iommu_pwc_t *p) { return iommu_pwc_inv_global(p); }, 23, 0, 0, 0, 0},
        {"domain1", [](iommu_pwc_t *p) { return iommu_pwc_inv_domain(p, 1); }, 20, 2, 0, 1, 0},
        {"domain2", [](iommu_pwc_t *p) { return iommu_pwc_inv_domain(p, 2); }, 3, 12, 5, 2, 1},
        {"domain7", [](iommu_pwc_t *p) { return iommu_pwc_inv_domain(p, 7); }, 0, 14, 5, 3, 1},
        // one 4 KB page at 0x201000: PDE 1 (both PASIDs), PDPE 0 (both), PML4E 0, PML5E 0
        {"range_4k", [](iommu_pwc_t *p) { return iommu_pwc_inv_range(p, 1, 0x201000, 0x1000); },
         6, 12, 3, 2, 0},
        // [2 MB - 1, 2 MB + 1): touches PDE regions 0 and 1
        {"range_straddle",
         [](iommu_pwc_t *p) { return iommu_pwc_inv_range(p, 1, M2 - 1, 2); }, 8, 10, 3, 2, 0},
        // [1 GB, 3 GB): no PDE of did 1 (they are below 16 MB), PDPE 1 and 2
        {"range_gb", [](iommu_pwc_t *p) { return iommu_pwc_inv_range(p, 1, G1, 2 * G1); }, 4, 14, 3,
         2, 0},
        // the second 512 GB region: only PML4E 1 of did 1 and the PML5E covering it
        {"range_512g",
         [](iommu_pwc_t *p) { return iommu_pwc_inv_range(p, 1, G512 + 5 * G1, 0x1000); }, 2, 14, 5,
         2, 0},
        {"range_empty", [](iommu_pwc_t *p) { return iommu_pwc_inv_range(p, 1, 0, 0); }, 0, 14, 5, 3,
         1},
        {"range_everything",
         [](iommu_pwc_t *p) { return iommu_pwc_inv_range(p, 1, 0, ~0ull); }, 20, 2, 0, 1, 0},
        {"range_wraps_clipped",
         [](iommu_pwc_t *p) { return iommu_pwc_inv_range(p, 2, 0x3FFFFF, ~0ull); }, 2, 13, 5, 2, 1},
        {"range_other_did",
         [](iommu_pwc_t *p) { return iommu_pwc_inv_range(p, 2, 0, M2); }, 2, 13, 5, 2, 1},
        {"pasid3", [](iommu_pwc_t *p) { return iommu_pwc_inv_pasid(p, 1, 3); }, 5, 10, 4, 3, 1},
        {"pasid_none", [](iommu_pwc_t *p) { return iommu_pwc_inv_pasid(p, 1, NP); }, 15, 6, 1, 1, 0},
        {"pasid3_range",
         [](iommu_pwc_t *p) { return iommu_pwc_inv_pasid_range(p, 1, 3, 2 * M2, M2); }, 2, 13, 4,
         3, 1},
        {"pasid_range_empty",
         [](iommu_pwc_t *p) { return iommu_pwc_inv_pasid_range(p, 1, 3, 2 * M2, 0); }, 0, 14, 5,
         3, 1},
    };
    const iommu_pwc_cfg cfgs[] = {all_levels(64, 64), all_levels(64, 4), all_levels(256, 4)};
    for (size_t ci = 0; ci < 3; ci++) {
        for (const Case &cs : cases) {
            SCOPED_TRACE(std::string(cs.name) + " config " + std::to_string(ci));
            iommu_pwc_t *p = iommu_pwc_create(&cfgs[ci]);
            ASSERT_NE(p, nullptr);
            populate(p);
            ASSERT_EQ(total(p), 23u);
            ASSERT_EQ(iommu_pwc_valid_count(p, IOMMU_PWC_PDE), 14u);
            ASSERT_EQ(iommu_pwc_valid_count(p, IOMMU_PWC_PDPE), 5u);
            ASSERT_EQ(iommu_pwc_valid_count(p, IOMMU_PWC_PML4E), 3u);
            ASSERT_EQ(iommu_pwc_valid_count(p, IOMMU_PWC_PML5E), 1u);
            EXPECT_EQ(cs.inv(p), cs.removed);
            EXPECT_EQ(iommu_pwc_valid_count(p, IOMMU_PWC_PDE), cs.left_pde);
            EXPECT_EQ(iommu_pwc_valid_count(p, IOMMU_PWC_PDPE), cs.left_pdpe);
            EXPECT_EQ(iommu_pwc_valid_count(p, IOMMU_PWC_PML4E), cs.left_pml4e);
            EXPECT_EQ(iommu_pwc_valid_count(p, IOMMU_PWC_PML5E), cs.left_pml5e);
            EXPECT_EQ(total(p), 23u - cs.removed);
            iommu_pwc_destroy(p);
        }
    }
}

TEST(PwcInvalidation, RangeDropsOnlyTheCoveredRegions)
{
    iommu_pwc_cfg c = all_levels(64, 4);
    iommu_pwc_t *p = iommu_pwc_create(&c);
    populate(p);
    // [6 MB, 10 MB): PDE regions 3 and 4 (no PASID), PDE 3 (PASID 3), PDPE 0 (both),
    // PML4E 0, PML5E 0
    EXPECT_EQ(iommu_pwc_inv_range(p, 1, 3 * M2, 2 * M2), 7u);
    for (uint64_t i = 0; i < 8; i++) {
        const bool hit =
            iommu_pwc_lookup(p, IOMMU_PWC_PDE, 1, NP, IOMMU_STAGE_SECOND, i * M2) != nullptr;
        EXPECT_EQ(hit, i != 3 && i != 4) << i;
    }
    EXPECT_NE(iommu_pwc_lookup(p, IOMMU_PWC_PDE, 1, 3, IOMMU_STAGE_FIRST, 2 * M2), nullptr);
    EXPECT_EQ(iommu_pwc_lookup(p, IOMMU_PWC_PDE, 1, 3, IOMMU_STAGE_FIRST, 3 * M2), nullptr);
    EXPECT_NE(iommu_pwc_lookup(p, IOMMU_PWC_PDE, 2, NP, IOMMU_STAGE_SECOND, 0), nullptr);
    iommu_pwc_destroy(p);
}

} // namespace
