// test_iotlb.cpp — the IOTLB: exact miss counts, mixed page sizes in unified and split
// organisations, every invalidation kind with exact counts, configuration errors.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "model/common/rng.h"
#include "model/iotlb/iotlb.h"

namespace {

constexpr uint64_t K4 = 1ull << 12, M2 = 1ull << 21, G1 = 1ull << 30;

void set_cache(iommu_cache_cfg *c, uint32_t entries, uint32_t ways, const char *pol = "lru")
{
    iommu_cache_cfg_default(c);
    c->entries = entries;
    c->ways = ways;
    std::snprintf(c->policy, sizeof c->policy, "%s", pol);
}

iommu_iotlb_cfg unified(uint32_t entries, uint32_t ways, const char *pol = "lru")
{
    iommu_iotlb_cfg c;
    iommu_iotlb_cfg_default(&c);
    set_cache(&c.c4k, entries, ways, pol);
    return c;
}

iommu_iotlb_entry entry(uint64_t pa, unsigned shift, iommu_perm_t perm = IOMMU_ACC_R | IOMMU_ACC_W)
{
    iommu_iotlb_entry e{};
    e.pa = pa;
    e.page_shift = (uint8_t)shift;
    e.perm = perm;
    return e;
}

// Looks iova up; on a miss inserts a translation of the given size. Returns true on a hit.
bool access(iommu_iotlb_t *t, iommu_did_t did, iommu_pasid_t pasid, uint64_t iova,
            unsigned shift = 12)
{
    if (iommu_iotlb_lookup(t, did, pasid, iova))
        return true;
    const uint64_t base = iova & ~((1ull << shift) - 1);
    const iommu_iotlb_entry e = entry(0x100000000ull + base, shift);
    iommu_iotlb_insert(t, did, pasid, iova, &e);
    return false;
}

TEST(IotlbConfig, DefaultsAreUnified64EntryFullyAssociativeLru)
{
    iommu_iotlb_cfg c;
    std::memset(&c, 0x5A, sizeof c);
    iommu_iotlb_cfg_default(&c);
    EXPECT_FALSE(c.split);
    EXPECT_EQ(c.c4k.entries, 64u);
    EXPECT_EQ(c.c4k.ways, 64u);
    EXPECT_STREQ(c.c4k.policy, "lru");
    EXPECT_EQ(c.c2m.entries, 32u);
    EXPECT_EQ(c.c2m.ways, 32u);
    EXPECT_EQ(c.c1g.entries, 4u);
    EXPECT_EQ(c.c1g.ways, 4u);
    EXPECT_EQ(iommu_iotlb_cfg_validate(&c, nullptr, nullptr), IOMMU_OK);
}

TEST(IotlbConfig, ErrorsNameTheKey)
{
    struct Case {
        bool split;
        int which; // 0 c4k, 1 c2m, 2 c1g
        uint32_t entries, ways;
        const char *pol;
        const char *key, *why;
    } cases[] = {
        {false, 0, 64, 5, "lru", "iotlb.ways", "ways must divide entries"},
        {false, 0, 96, 32, "lru", "iotlb.entries", "entries/ways must be a power of two"},
        {false, 0, 64, 64, "mru", "iotlb.policy",
         "unknown replacement policy (known: lru, plru, tree-plru, fifo, random)"},
        {false, 0, 48, 48, "plru", "iotlb.policy", "tree-PLRU needs a power-of-two number of ways"},
        {false, 0, 64, 0, "lru", "iotlb.ways", "ways must be at least 1"},
        {true, 0, 64, 128, "lru", "iotlb.ways", "ways must not exceed entries"},
        {true, 1, 96, 32, "lru", "iotlb_2m.entries", "entries/ways must be a power of two"},
        {true, 1, 32, 3, "lru", "iotlb_2m.ways", "ways must divide entries"},
        {true, 1, 32, 32, "x", "iotlb_2m.policy",
         "unknown replacement policy (known: lru, plru, tree-plru, fifo, random)"},
        {true, 2, 8, 3, "lru", "iotlb_1g.ways", "ways must divide entries"},
        {true, 2, 12, 1, "lru", "iotlb_1g.entries", "entries/ways must be a power of two"},
        {true, 2, 6, 6, "plru", "iotlb_1g.policy", "tree-PLRU needs a power-of-two number of ways"},
    };
    for (const Case &cs : cases) {
        SCOPED_TRACE(cs.key);
        iommu_iotlb_cfg c;
        iommu_iotlb_cfg_default(&c);
        c.split = cs.split;
        iommu_cache_cfg *cc = cs.which == 0 ? &c.c4k : cs.which == 1 ? &c.c2m : &c.c1g;
        set_cache(cc, cs.entries, cs.ways, cs.pol);
        const char *key = nullptr, *why = nullptr;
        EXPECT_EQ(iommu_iotlb_cfg_validate(&c, &key, &why), IOMMU_ERR_INVAL);
        EXPECT_STREQ(key, cs.key);
        EXPECT_STREQ(why, cs.why);
        EXPECT_EQ(iommu_iotlb_create(&c), nullptr);
    }
}

TEST(IotlbConfig, UnifiedIgnoresPerSizeCaches)
{
    iommu_iotlb_cfg c;
    iommu_iotlb_cfg_default(&c);
    set_cache(&c.c2m, 96, 32);  // invalid, but unused when unified
    set_cache(&c.c1g, 3, 3, "plru");
    EXPECT_EQ(iommu_iotlb_cfg_validate(&c, nullptr, nullptr), IOMMU_OK);
    iommu_iotlb_t *t = iommu_iotlb_create(&c);
    EXPECT_NE(t, nullptr);
    iommu_iotlb_destroy(t);
    c.split = true;
    const char *key = nullptr;
    EXPECT_EQ(iommu_iotlb_cfg_validate(&c, &key, nullptr), IOMMU_ERR_INVAL);
    EXPECT_STREQ(key, "iotlb_2m.entries");
    iommu_iotlb_destroy(nullptr);
}

TEST(Iotlb, LookupReturnsTheInsertedTranslation)
{
    iommu_iotlb_cfg c = unified(64, 64);
    iommu_iotlb_t *t = iommu_iotlb_create(&c);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, 0x1234), nullptr);
    const iommu_iotlb_entry e = entry(0xABC000, 12, IOMMU_ACC_R);
    iommu_iotlb_insert(t, 1, IOMMU_PASID_NONE, 0x1234, &e);
    const iommu_iotlb_entry *h = iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, 0x1FFF);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->pa, 0xABC000u);
    EXPECT_EQ(h->page_shift, 12);
    EXPECT_EQ(h->perm, IOMMU_ACC_R);
    EXPECT_EQ(iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, 0x2000), nullptr); // next page
    EXPECT_EQ(iommu_iotlb_lookup(t, 2, IOMMU_PASID_NONE, 0x1000), nullptr); // other domain
    EXPECT_EQ(iommu_iotlb_lookup(t, 1, 7, 0x1000), nullptr);                // other PASID
    // re-insert of the same page overwrites, no new entry
    const iommu_iotlb_entry e2 = entry(0xDEF000, 12, IOMMU_ACC_W);
    iommu_iotlb_insert(t, 1, IOMMU_PASID_NONE, 0x1000, &e2);
    EXPECT_EQ(iommu_iotlb_valid_count(t), 1u);
    EXPECT_EQ(iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, 0x1000)->pa, 0xDEF000u);
    // large pages cover their whole reach
    const iommu_iotlb_entry big = entry(0x40000000, 21);
    iommu_iotlb_insert(t, 1, IOMMU_PASID_NONE, 0x40000000 + 0x12345, &big);
    ASSERT_NE(iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, 0x401FFFFF), nullptr);
    EXPECT_EQ(iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, 0x401FFFFF)->page_shift, 21);
    EXPECT_EQ(iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, 0x40200000), nullptr);
    const iommu_iotlb_entry huge = entry(0x80000000, 30);
    iommu_iotlb_insert(t, 1, IOMMU_PASID_NONE, 0xC0000000, &huge);
    EXPECT_NE(iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, 0xFFFFFFFF), nullptr);
    EXPECT_EQ(iommu_iotlb_valid_count(t), 3u);
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 12), 1u);
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 21), 1u);
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 30), 1u);
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 13), 0u);
    iommu_iotlb_destroy(t);
}

TEST(Iotlb, AFourKEntryShadowsALargePageForItsOwnPage)
{
    iommu_iotlb_cfg c = unified(64, 64);
    iommu_iotlb_t *t = iommu_iotlb_create(&c);
    const iommu_iotlb_entry big = entry(0x40000000, 21), small = entry(0x7000, 12);
    iommu_iotlb_insert(t, 1, IOMMU_PASID_NONE, 0x200000, &big);
    iommu_iotlb_insert(t, 1, IOMMU_PASID_NONE, 0x201000, &small);
    EXPECT_EQ(iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, 0x201000)->page_shift, 12);
    EXPECT_EQ(iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, 0x202000)->page_shift, 21);
    iommu_iotlb_destroy(t);
}

TEST(Iotlb, RandomAccessesOver256KBMissExactly64Times)
{
    iommu_iotlb_cfg c;
    iommu_iotlb_cfg_default(&c); // 64 entries, fully associative, LRU
    iommu_iotlb_t *t = iommu_iotlb_create(&c);
    iommu_rng r;
    iommu_rng_seed(&r, 2024);
    uint64_t misses = 0;
    const uint64_t base = 0x7F0000000000ull;
    for (int i = 0; i < 200000; i++) {
        const uint64_t iova = base + iommu_rng_below(&r, 256 * 1024);
        misses += !access(t, 3, IOMMU_PASID_NONE, iova);
    }
    EXPECT_EQ(misses, 64u);
    EXPECT_EQ(iommu_iotlb_valid_count(t), 64u);
    iommu_iotlb_destroy(t);
}

TEST(Iotlb, CyclicSweepOf65PagesMissesEveryTime)
{
    for (const char *pol : {"lru", "fifo"}) {
        SCOPED_TRACE(pol);
        iommu_iotlb_cfg c = unified(64, 64, pol);
        iommu_iotlb_t *t = iommu_iotlb_create(&c);
        uint64_t misses = 0, accesses = 0;
        for (int sweep = 0; sweep < 20; sweep++)
            for (uint64_t p = 0; p < 65; p++, accesses++)
                misses += !access(t, 1, IOMMU_PASID_NONE, 0x10000000 + p * K4 + 0x80);
        EXPECT_EQ(accesses, 1300u);
        EXPECT_EQ(misses, 1300u);
        iommu_iotlb_destroy(t);
    }
    // 64 pages fit: only the first sweep misses
    iommu_iotlb_cfg c = unified(64, 64);
    iommu_iotlb_t *t = iommu_iotlb_create(&c);
    uint64_t misses = 0;
    for (int sweep = 0; sweep < 20; sweep++)
        for (uint64_t p = 0; p < 64; p++)
            misses += !access(t, 1, IOMMU_PASID_NONE, 0x10000000 + p * K4);
    EXPECT_EQ(misses, 64u);
    iommu_iotlb_destroy(t);
}

// A 4096-entry fully associative IOTLB (a size sweep's largest point) behaves exactly.
TEST(Iotlb, LargeFullyAssociativeExactMisses)
{
    iommu_iotlb_cfg c = unified(4096, 4096);
    iommu_iotlb_t *t = iommu_iotlb_create(&c);
    iommu_rng r;
    iommu_rng_seed(&r, 5);
    uint64_t misses = 0;
    for (int i = 0; i < 400000; i++)
        misses += !access(t, 1, IOMMU_PASID_NONE, (uint64_t)iommu_rng_below(&r, 4096) << 12);
    EXPECT_EQ(misses, 4096u);
    misses = 0;
    for (int sweep = 0; sweep < 3; sweep++)
        for (uint64_t p = 0; p < 4097; p++)
            misses += !access(t, 2, IOMMU_PASID_NONE, p << 12);
    EXPECT_EQ(misses, 3u * 4097u);
    EXPECT_EQ(iommu_iotlb_inv_domain(t, 2), 4096u);
    EXPECT_EQ(iommu_iotlb_valid_count(t), 0u);
    iommu_iotlb_destroy(t);
}

// 32 2 MB pages + 32 4 KB pages in a 64-entry 4-way unified IOTLB (16 sets). With the set
// index taken at each entry's own size, each set gets two of each and everything fits.
uint64_t mixed_workload_misses(iommu_iotlb_t *t, int rounds)
{
    uint64_t misses = 0;
    for (int r = 0; r < rounds; r++) {
        for (uint64_t i = 0; i < 32; i++) {
            misses += !access(t, 1, IOMMU_PASID_NONE, 0x40000000 + i * M2 + 0x1000 * r, 21);
            misses += !access(t, 1, IOMMU_PASID_NONE, 0x00100000 + i * K4 + 8 * r, 12);
        }
    }
    return misses;
}

TEST(Iotlb, UnifiedMixedSizesKeepFullReach)
{
    iommu_iotlb_cfg c = unified(64, 4);
    iommu_iotlb_t *t = iommu_iotlb_create(&c);
    EXPECT_EQ(mixed_workload_misses(t, 1), 64u); // warm-up: compulsory misses only
    EXPECT_EQ(mixed_workload_misses(t, 10), 0u);
    EXPECT_EQ(iommu_iotlb_valid_count(t), 64u);
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 21), 32u);
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 12), 32u);
    iommu_iotlb_destroy(t);
}

// 2 MB pages must be indexed by their 2 MB page number: 64 aligned 2 MB pages share their
// low 4 KB-page-number bits (all zero), so indexing them at 4 KB would put all in set 0.
TEST(Iotlb, UnifiedIndexesLargePagesByTheirOwnPageNumber)
{
    iommu_iotlb_cfg c = unified(64, 4);
    iommu_iotlb_t *t = iommu_iotlb_create(&c);
    uint64_t misses = 0;
    for (int r = 0; r < 5; r++)
        for (uint64_t i = 0; i < 64; i++)
            misses += !access(t, 2, IOMMU_PASID_NONE, 0x80000000 + i * M2, 21);
    EXPECT_EQ(misses, 64u);
    for (int r = 0; r < 5; r++) // the same for 1 GB pages
        for (uint64_t i = 0; i < 64; i++)
            misses += !access(t, 3, IOMMU_PASID_NONE, (64 + i) * G1, 30);
    EXPECT_EQ(misses, 128u);
    iommu_iotlb_destroy(t);
}

// ...and 4 KB pages by their 4 KB page number: 64 pages inside one 2 MB region would all
// fall into one set if indexed at 2 MB.
TEST(Iotlb, UnifiedIndexesSmallPagesByTheirOwnPageNumber)
{
    iommu_iotlb_cfg c = unified(64, 4);
    iommu_iotlb_t *t = iommu_iotlb_create(&c);
    uint64_t misses = 0;
    for (int r = 0; r < 5; r++)
        for (uint64_t i = 0; i < 64; i++)
            misses += !access(t, 2, IOMMU_PASID_NONE, 0x80000000 + i * K4, 12);
    EXPECT_EQ(misses, 64u);
    // 5 pages that index the same set (stride 16 pages) do not fit its 4 ways
    iommu_iotlb_inv_global(t);
    misses = 0;
    for (int r = 0; r < 5; r++)
        for (uint64_t i = 0; i < 5; i++)
            misses += !access(t, 2, IOMMU_PASID_NONE, i * 16 * K4, 12);
    EXPECT_EQ(misses, 25u); // LRU, 5 keys cycling through one 4-way set
    iommu_iotlb_destroy(t);
}

TEST(Iotlb, SplitMixedSizesKeepFullReach)
{
    iommu_iotlb_cfg c;
    iommu_iotlb_cfg_default(&c);
    c.split = true;
    set_cache(&c.c4k, 32, 4);
    set_cache(&c.c2m, 32, 4);
    set_cache(&c.c1g, 4, 4);
    iommu_iotlb_t *t = iommu_iotlb_create(&c);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(mixed_workload_misses(t, 1), 64u);
    EXPECT_EQ(mixed_workload_misses(t, 10), 0u);
    uint64_t misses = 0;
    for (int r = 0; r < 3; r++)
        for (uint64_t i = 0; i < 4; i++)
            misses += !access(t, 1, IOMMU_PASID_NONE, (8 + i) * G1, 30);
    EXPECT_EQ(misses, 4u);
    EXPECT_EQ(mixed_workload_misses(t, 1), 0u); // 1 GB entries live in their own cache
    EXPECT_EQ(iommu_iotlb_valid_count(t), 68u);
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 30), 4u);
    // a fifth 1 GB page evicts a 1 GB page, never a smaller one
    EXPECT_FALSE(access(t, 1, IOMMU_PASID_NONE, 20 * G1, 30));
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 30), 4u);
    EXPECT_EQ(iommu_iotlb_valid_count(t), 68u);
    EXPECT_EQ(mixed_workload_misses(t, 1), 0u);
    iommu_iotlb_destroy(t);
}

TEST(Iotlb, SplitWithAbsentSizeDoesNotCacheIt)
{
    iommu_iotlb_cfg c;
    iommu_iotlb_cfg_default(&c);
    c.split = true;
    set_cache(&c.c1g, 0, 0);
    iommu_iotlb_t *t = iommu_iotlb_create(&c);
    ASSERT_NE(t, nullptr);
    EXPECT_FALSE(access(t, 1, IOMMU_PASID_NONE, G1, 30));
    EXPECT_FALSE(access(t, 1, IOMMU_PASID_NONE, G1, 30));
    EXPECT_EQ(iommu_iotlb_valid_count(t), 0u);
    EXPECT_FALSE(access(t, 1, IOMMU_PASID_NONE, M2, 21));
    EXPECT_TRUE(access(t, 1, IOMMU_PASID_NONE, M2, 21));
    iommu_iotlb_destroy(t);
}

TEST(Iotlb, PerSizeCountsFollowEvictionsAcrossSizes)
{
    iommu_iotlb_cfg c = unified(4, 4);
    iommu_iotlb_t *t = iommu_iotlb_create(&c);
    access(t, 1, IOMMU_PASID_NONE, 0 * M2, 21);       // A
    access(t, 1, IOMMU_PASID_NONE, 1 * M2, 21);       // B
    access(t, 1, IOMMU_PASID_NONE, 0x10000000, 12);   // c
    access(t, 1, IOMMU_PASID_NONE, 0x10001000, 12);   // d
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 21), 2u);
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 12), 2u);
    access(t, 1, IOMMU_PASID_NONE, 0x10002000, 12);   // e evicts A (LRU)
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 21), 1u);
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 12), 3u);
    EXPECT_EQ(iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, 0x1000), nullptr);
    EXPECT_NE(iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, M2 + 0x1000), nullptr);
    // LRU order now c d e B (B was just used)
    access(t, 1, IOMMU_PASID_NONE, 0x10003000, 12);   // f evicts c
    access(t, 1, IOMMU_PASID_NONE, 0x10004000, 12);   // g evicts d
    access(t, 1, IOMMU_PASID_NONE, 0x10005000, 12);   // h evicts e
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 21), 1u);
    access(t, 1, IOMMU_PASID_NONE, 0x10006000, 12);   // i evicts B
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 21), 0u);
    EXPECT_EQ(iommu_iotlb_valid_count_size(t, 12), 4u);
    // with no 2 MB entries left, 2 MB lookups are skipped but still miss correctly
    EXPECT_EQ(iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, M2), nullptr);
    EXPECT_NE(iommu_iotlb_lookup(t, 1, IOMMU_PASID_NONE, 0x10005000), nullptr);
    iommu_iotlb_destroy(t);
}

// ---- invalidation ----------------------------------------------------------------------

// Population used by every invalidation test (30 entries):
//   did 1, no PASID: 16 4 KB pages at 0x100000..0x10F000, a 2 MB page at 0x40000000,
//                    a 1 GB page at 0x80000000
//   did 2, no PASID: 8 4 KB pages at 0x100000..0x107000
//   did 1, PASID 5:  4 4 KB pages at 0x100000..0x103000
constexpr iommu_pasid_t NP = IOMMU_PASID_NONE;

void populate(iommu_iotlb_t *t)
{
    for (uint64_t i = 0; i < 16; i++)
        access(t, 1, NP, 0x100000 + i * K4);
    access(t, 1, NP, 0x40000000, 21);
    access(t, 1, NP, 0x80000000, 30);
    for (uint64_t i = 0; i < 8; i++)
        access(t, 2, NP, 0x100000 + i * K4);
    for (uint64_t i = 0; i < 4; i++)
        access(t, 1, 5, 0x100000 + i * K4);
}

struct Probe {
    iommu_did_t did;
    iommu_pasid_t pasid;
    uint64_t iova;
};

std::vector<Probe> all_probes()
{
    std::vector<Probe> v;
    for (uint64_t i = 0; i < 16; i++)
        v.push_back({1, NP, 0x100000 + i * K4});
    v.push_back({1, NP, 0x40000000});
    v.push_back({1, NP, 0x80000000});
    for (uint64_t i = 0; i < 8; i++)
        v.push_back({2, NP, 0x100000 + i * K4});
    for (uint64_t i = 0; i < 4; i++)
        v.push_back({1, 5, 0x100000 + i * K4});
    return v;
}

struct InvCase {
    const char *name;
    uint32_t (*inv)(iommu_iotlb_t *);
    uint32_t removed;
    bool (*gone)(const Probe &); // which probes must miss afterwards
};

std::vector<iommu_iotlb_cfg> inv_configs()
{
    std::vector<iommu_iotlb_cfg> v;
    v.push_back(unified(64, 64));  // fully associative: full scans
    v.push_back(unified(64, 4));   // 16 sets: per-set invalidation for small ranges
    v.push_back(unified(256, 4));  // 64 sets
    iommu_iotlb_cfg s;
    iommu_iotlb_cfg_default(&s);
    s.split = true;
    set_cache(&s.c4k, 64, 4);
    set_cache(&s.c2m, 8, 2);
    set_cache(&s.c1g, 2, 1);
    v.push_back(s);
    return v;
}

bool in(uint64_t a, uint64_t lo, uint64_t hi) { return a >= lo && a < hi; }

const InvCase kInvCases[] = {
    {"global", [](iommu_iotlb_t *t) { return iommu_iotlb_inv_global(t); }, 30,
     [](const Probe &) { return true; }},
    {"domain1", [](iommu_iotlb_t *t) { return iommu_iotlb_inv_domain(t, 1); }, 22,
     [](const Probe &p) { return p.did == 1; }},
    {"domain2", [](iommu_iotlb_t *t) { return iommu_iotlb_inv_domain(t, 2); }, 8,
     [](const Probe &p) { return p.did == 2; }},
    {"domain9", [](iommu_iotlb_t *t) { return iommu_iotlb_inv_domain(t, 9); }, 0,
     [](const Probe &) { return false; }},
    {"page_am0", [](iommu_iotlb_t *t) { return iommu_iotlb_inv_page(t, 1, 0x101000, 0); }, 2,
     [](const Probe &p) { return p.did == 1 && p.iova == 0x101000; }},
    {"page_am0_unaligned",
     [](iommu_iotlb_t *t) { return iommu_iotlb_inv_page(t, 1, 0x101FFF, 0); }, 2,
     [](const Probe &p) { return p.did == 1 && p.iova == 0x101000; }},
    {"page_am2", [](iommu_iotlb_t *t) { return iommu_iotlb_inv_page(t, 1, 0x104000, 2); }, 4,
     [](const Probe &p) { return p.did == 1 && in(p.iova, 0x104000, 0x108000); }},
    {"page_am2_masks_low_bits",
     [](iommu_iotlb_t *t) { return iommu_iotlb_inv_page(t, 1, 0x102000, 2); }, 8,
     [](const Probe &p) { return p.did == 1 && in(p.iova, 0x100000, 0x104000); }},
    {"page_am3_did2", [](iommu_iotlb_t *t) { return iommu_iotlb_inv_page(t, 2, 0x100000, 3); }, 8,
     [](const Probe &p) { return p.did == 2; }},
    {"page_4k_inside_2m",
     [](iommu_iotlb_t *t) { return iommu_iotlb_inv_page(t, 1, 0x40123000, 0); }, 1,
     [](const Probe &p) { return p.did == 1 && p.iova == 0x40000000; }},
    {"page_4k_inside_1g",
     [](iommu_iotlb_t *t) { return iommu_iotlb_inv_page(t, 1, 0xBFFFF000, 0); }, 1,
     [](const Probe &p) { return p.did == 1 && p.iova == 0x80000000; }},
    {"page_am9_2m_block",
     [](iommu_iotlb_t *t) { return iommu_iotlb_inv_page(t, 1, 0x0, 9); }, 20,
     [](const Probe &p) { return p.did == 1 && p.iova < M2; }},
    {"page_am18_1g_block",
     [](iommu_iotlb_t *t) { return iommu_iotlb_inv_page(t, 1, 0x40000000, 18); }, 1,
     [](const Probe &p) { return p.did == 1 && p.iova == 0x40000000; }},
    {"page_am19_2g_block",
     [](iommu_iotlb_t *t) { return iommu_iotlb_inv_page(t, 1, 0x0, 19); }, 21,
     [](const Probe &p) { return p.did == 1 && p.iova < 0x80000000; }},
    {"page_am52_everything",
     [](iommu_iotlb_t *t) { return iommu_iotlb_inv_page(t, 1, 0x123456789, 52); }, 22,
     [](const Probe &p) { return p.did == 1; }},
    {"page_am63", [](iommu_iotlb_t *t) { return iommu_iotlb_inv_page(t, 2, 0, 63); }, 8,
     [](const Probe &p) { return p.did == 2; }},
    {"page_miss", [](iommu_iotlb_t *t) { return iommu_iotlb_inv_page(t, 1, 0x110000, 0); }, 0,
     [](const Probe &) { return false; }},
    {"pasid5", [](iommu_iotlb_t *t) { return iommu_iotlb_inv_pasid(t, 1, 5); }, 4,
     [](const Probe &p) { return p.pasid == 5; }},
    {"pasid_none", [](iommu_iotlb_t *t) { return iommu_iotlb_inv_pasid(t, 1, NP); }, 18,
     [](const Probe &p) { return p.did == 1 && p.pasid == NP; }},
    {"pasid5_wrong_did", [](iommu_iotlb_t *t) { return iommu_iotlb_inv_pasid(t, 2, 5); }, 0,
     [](const Probe &) { return false; }},
    {"pasid_page", [](iommu_iotlb_t *t) { return iommu_iotlb_inv_pasid_page(t, 1, 5, 0x101000, 0); },
     1, [](const Probe &p) { return p.pasid == 5 && p.iova == 0x101000; }},
    {"pasid_page_am1",
     [](iommu_iotlb_t *t) { return iommu_iotlb_inv_pasid_page(t, 1, NP, 0x102000, 1); }, 2,
     [](const Probe &p) { return p.did == 1 && p.pasid == NP && in(p.iova, 0x102000, 0x104000); }},
};

TEST(IotlbInvalidation, EveryKindRemovesExactlyItsEntries)
{
    const auto cfgs = inv_configs();
    for (size_t ci = 0; ci < cfgs.size(); ci++) {
        for (const InvCase &ic : kInvCases) {
            SCOPED_TRACE("config " + std::to_string(ci) + " case " + ic.name);
            iommu_iotlb_t *t = iommu_iotlb_create(&cfgs[ci]);
            ASSERT_NE(t, nullptr);
            populate(t);
            ASSERT_EQ(iommu_iotlb_valid_count(t), 30u);
            EXPECT_EQ(ic.inv(t), ic.removed);
            EXPECT_EQ(iommu_iotlb_valid_count(t), 30u - ic.removed);
            uint32_t present = 0;
            for (const Probe &p : all_probes()) {
                const bool hit = iommu_iotlb_lookup(t, p.did, p.pasid, p.iova) != nullptr;
                EXPECT_EQ(hit, !ic.gone(p)) << "did " << p.did << " pasid " << p.pasid
                                            << " iova 0x" << std::hex << p.iova;
                present += hit;
            }
            EXPECT_EQ(present, 30u - ic.removed);
            // per-size counts stay consistent: refill everything, then all 30 are back
            populate(t);
            EXPECT_EQ(iommu_iotlb_valid_count(t), 30u);
            EXPECT_EQ(iommu_iotlb_valid_count_size(t, 12), 28u);
            EXPECT_EQ(iommu_iotlb_valid_count_size(t, 21), 1u);
            EXPECT_EQ(iommu_iotlb_valid_count_size(t, 30), 1u);
            iommu_iotlb_destroy(t);
        }
    }
}

// A 2 MB entry at the top of the address space: range arithmetic must not wrap.
TEST(IotlbInvalidation, TopOfAddressSpace)
{
    iommu_iotlb_cfg c = unified(64, 4);
    iommu_iotlb_t *t = iommu_iotlb_create(&c);
    // the 4 KB page first: once the 2 MB entry exists, the 4 KB lookup would hit it
    EXPECT_FALSE(access(t, 1, NP, ~0ull - K4 + 1, 12));
    EXPECT_FALSE(access(t, 1, NP, ~0ull - M2 + 1, 21));
    EXPECT_FALSE(access(t, 1, NP, 0, 12));
    ASSERT_EQ(iommu_iotlb_valid_count(t), 3u);
    EXPECT_EQ(iommu_iotlb_inv_page(t, 1, ~0ull, 0), 2u);
    EXPECT_EQ(iommu_iotlb_valid_count(t), 1u);
    EXPECT_NE(iommu_iotlb_lookup(t, 1, NP, 0), nullptr);
    iommu_iotlb_destroy(t);
}

// Randomised cross-check of the per-set invalidation path against a full scan.
TEST(IotlbInvalidation, PerSetPathEqualsFullScan)
{
    // 64 sets of 64 ways never overflow with at most 200 entries, so both hold the same
    // population and differ only in how invalidation finds the entries
    iommu_iotlb_cfg c = unified(4096, 64);
    iommu_iotlb_t *a = iommu_iotlb_create(&c);
    iommu_iotlb_cfg fa = unified(4096, 4096); // fully associative: always a full scan
    iommu_iotlb_t *b = iommu_iotlb_create(&fa);
    iommu_rng r;
    iommu_rng_seed(&r, 9);
    uint64_t removed = 0;
    std::vector<std::pair<iommu_did_t, uint64_t>> inserted;
    for (int i = 0; i < 20000; i++) {
        static const unsigned shifts[] = {12, 12, 12, 21, 30};
        const unsigned shift = shifts[iommu_rng_below(&r, 5)];
        // 4 KB pages within 64 MB so that ranges often cover several entries
        const uint64_t iova = (uint64_t)iommu_rng_below(&r, 1u << 14) << 12;
        const iommu_did_t did = (iommu_did_t)iommu_rng_below(&r, 3);
        if (iommu_iotlb_valid_count(a) < 200) {
            const iommu_iotlb_entry e = entry(0, shift);
            iommu_iotlb_insert(a, did, NP, iova, &e);
            iommu_iotlb_insert(b, did, NP, iova, &e);
            inserted.emplace_back(did, iova);
        }
        if (iommu_rng_below(&r, 4) == 0) {
            const auto &target = inserted[iommu_rng_below(&r, (uint32_t)inserted.size())];
            const unsigned am = iommu_rng_below(&r, 12);
            const uint32_t na = iommu_iotlb_inv_page(a, target.first, target.second, am);
            const uint32_t nb = iommu_iotlb_inv_page(b, target.first, target.second, am);
            ASSERT_EQ(na, nb) << "i " << i;
            removed += na;
        }
        ASSERT_EQ(iommu_iotlb_valid_count(a), iommu_iotlb_valid_count(b));
        for (unsigned sh : {12u, 21u, 30u})
            ASSERT_EQ(iommu_iotlb_valid_count_size(a, sh), iommu_iotlb_valid_count_size(b, sh));
    }
    EXPECT_GT(removed, 1000u);
    iommu_iotlb_destroy(a);
    iommu_iotlb_destroy(b);
}

TEST(Iotlb, KeyHelperMatchesLookupIndexing)
{
    iommu_cache_key k;
    uint32_t set = 0;
    iommu_iotlb_key(7, 9, 0x40201234, 21, &k, &set);
    EXPECT_EQ(k.lo, 0x40201234ull >> 21);
    EXPECT_EQ(set, (uint32_t)(0x40201234ull >> 21));
    iommu_cache_key k2;
    iommu_iotlb_key(7, 9, 0x40201234, 12, &k2, nullptr);
    EXPECT_EQ(k2.lo, 0x40201ull);
    EXPECT_NE(k.hi, k2.hi); // the page size is part of the tag
    iommu_cache_key k3;
    iommu_iotlb_key(8, 9, 0x40201234, 12, &k3, nullptr);
    EXPECT_NE(k3.hi, k2.hi);
    iommu_iotlb_key(7, 10, 0x40201234, 12, &k3, nullptr);
    EXPECT_NE(k3.hi, k2.hi);
}

} // namespace
