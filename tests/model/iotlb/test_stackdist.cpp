// test_stackdist.cpp — one-pass LRU stack-distance profiling: hand-worked examples of the
// hole semantics, and exact agreement with real LRU caches (iommu_cache, "lru") of every
// associativity 1..N and several set counts under random accesses and invalidations.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "model/common/rng.h"
#include "model/iotlb/cache.h"
#include "model/iotlb/stackdist.h"

namespace {

iommu_cache_key K(uint64_t lo, uint64_t hi = 0)
{
    return iommu_cache_key{hi, lo};
}

uint32_t acc(iommu_stackdist_t *sd, uint64_t lo, uint32_t set = 0)
{
    const iommu_cache_key k = K(lo);
    enum iommu_status st = IOMMU_ERR_INVAL;
    const uint32_t d = iommu_stackdist_access(sd, set, &k, &st);
    EXPECT_EQ(st, IOMMU_OK);
    return d;
}

TEST(Stackdist, CreateRejectsBadGeometry)
{
    EXPECT_EQ(iommu_stackdist_create(0, 4), nullptr);
    EXPECT_EQ(iommu_stackdist_create(3, 4), nullptr);
    EXPECT_EQ(iommu_stackdist_create(4, 0), nullptr);
    EXPECT_EQ(iommu_stackdist_create(4, IOMMU_STACKDIST_MAX_WAYS + 1), nullptr);
    iommu_stackdist_t *sd = iommu_stackdist_create(8, 5);
    ASSERT_NE(sd, nullptr);
    EXPECT_EQ(iommu_stackdist_sets(sd), 8u);
    EXPECT_EQ(iommu_stackdist_max_ways(sd), 5u);
    iommu_stackdist_destroy(sd);
    iommu_stackdist_destroy(nullptr);
}

TEST(Stackdist, DepthsOfASimpleSequence)
{
    iommu_stackdist_t *sd = iommu_stackdist_create(1, 8);
    EXPECT_EQ(acc(sd, 1), 0u); // a
    EXPECT_EQ(acc(sd, 2), 0u); // b
    EXPECT_EQ(acc(sd, 3), 0u); // c
    EXPECT_EQ(acc(sd, 1), 3u); // a: below c, b
    EXPECT_EQ(acc(sd, 1), 1u);
    EXPECT_EQ(acc(sd, 3), 2u);
    EXPECT_EQ(acc(sd, 2), 3u);
    EXPECT_EQ(iommu_stackdist_accesses(sd), 7u);
    EXPECT_EQ(iommu_stackdist_depth_count(sd, 0), 3u);
    EXPECT_EQ(iommu_stackdist_depth_count(sd, 1), 1u);
    EXPECT_EQ(iommu_stackdist_depth_count(sd, 2), 1u);
    EXPECT_EQ(iommu_stackdist_depth_count(sd, 3), 2u);
    EXPECT_EQ(iommu_stackdist_depth_count(sd, 9), 0u);
    EXPECT_EQ(iommu_stackdist_hits(sd, 1), 1u);
    EXPECT_EQ(iommu_stackdist_hits(sd, 2), 2u);
    EXPECT_EQ(iommu_stackdist_hits(sd, 3), 4u);
    EXPECT_EQ(iommu_stackdist_hits(sd, 8), 4u);
    EXPECT_EQ(iommu_stackdist_hits(sd, 0), 0u);
    EXPECT_EQ(iommu_stackdist_hits(sd, 9), 0u);
    iommu_stackdist_reset_counts(sd);
    EXPECT_EQ(iommu_stackdist_accesses(sd), 0u);
    EXPECT_EQ(iommu_stackdist_hits(sd, 8), 0u);
    EXPECT_EQ(acc(sd, 1), 3u); // state survives the reset: stack is b c a
    EXPECT_EQ(iommu_stackdist_hits(sd, 3), 1u);
    iommu_stackdist_destroy(sd);
}

TEST(Stackdist, SetsAreIndependentAndReducedModuloSets)
{
    iommu_stackdist_t *sd = iommu_stackdist_create(4, 4);
    EXPECT_EQ(acc(sd, 1, 0), 0u);
    EXPECT_EQ(acc(sd, 2, 1), 0u);
    EXPECT_EQ(acc(sd, 1, 1), 0u); // same key, other set: a different entry
    EXPECT_EQ(acc(sd, 1, 4), 1u); // set 4 == set 0
    EXPECT_EQ(acc(sd, 2, 5), 2u); // set 5 == set 1: stack 1 2
    iommu_stackdist_destroy(sd);
}

TEST(Stackdist, KeysBelowMaxWaysAreForgotten)
{
    iommu_stackdist_t *sd = iommu_stackdist_create(1, 3);
    acc(sd, 1);
    acc(sd, 2);
    acc(sd, 3);
    EXPECT_EQ(acc(sd, 4), 0u); // pushes 1 out of the tracked depth
    EXPECT_EQ(acc(sd, 1), 0u);
    EXPECT_EQ(acc(sd, 3), 3u); // stack: 1 4 3
    const iommu_cache_key k2 = K(2);
    EXPECT_FALSE(iommu_stackdist_invalidate_key(sd, 0, &k2)); // 2 fell out
    iommu_stackdist_destroy(sd);
}

// Stack c b a; invalidating b leaves c _ a. A miss on d consumes the hole: d c a, so a is
// still at depth 3 (a 3-way LRU cache that lost b refills the free way and keeps a).
TEST(Stackdist, MissConsumesTheTopmostHole)
{
    iommu_stackdist_t *sd = iommu_stackdist_create(1, 8);
    acc(sd, 'a');
    acc(sd, 'b');
    acc(sd, 'c');
    const iommu_cache_key b = K('b');
    EXPECT_TRUE(iommu_stackdist_invalidate_key(sd, 0, &b));
    EXPECT_FALSE(iommu_stackdist_invalidate_key(sd, 0, &b));
    EXPECT_EQ(acc(sd, 'd'), 0u);
    EXPECT_EQ(acc(sd, 'a'), 3u);
    EXPECT_EQ(acc(sd, 'b'), 0u); // invalidated keys miss
    iommu_stackdist_destroy(sd);
}

// Stack d c b a; invalidate c: d _ b a. A hit on a (depth 4) consumes the hole above it and
// leaves a hole at depth 4: a d b _. Then b is at depth 3 and d at depth 2.
TEST(Stackdist, HitMovesTheTopmostHoleAboveItDown)
{
    iommu_stackdist_t *sd = iommu_stackdist_create(1, 8);
    for (char ch : {'a', 'b', 'c', 'd'})
        acc(sd, ch);
    const iommu_cache_key c = K('c');
    EXPECT_TRUE(iommu_stackdist_invalidate_key(sd, 0, &c));
    EXPECT_EQ(acc(sd, 'a'), 4u);
    EXPECT_EQ(acc(sd, 'b'), 3u); // a d b _  -> b a d _
    EXPECT_EQ(acc(sd, 'e'), 0u); // the hole at depth 4 is consumed: e b a d
    EXPECT_EQ(acc(sd, 'd'), 4u);
    iommu_stackdist_destroy(sd);
}

// A hit with a hole only *below* it is a plain move to the front.
TEST(Stackdist, HoleBelowAHitStaysPut)
{
    iommu_stackdist_t *sd = iommu_stackdist_create(1, 8);
    for (char ch : {'a', 'b', 'c', 'd'})
        acc(sd, ch); // d c b a
    const iommu_cache_key a = K('a');
    iommu_stackdist_invalidate_key(sd, 0, &a); // d c b _
    EXPECT_EQ(acc(sd, 'b'), 3u);               // b d c _
    EXPECT_EQ(acc(sd, 'c'), 3u);               // c b d _
    EXPECT_EQ(acc(sd, 'x'), 0u);               // x c b d (hole consumed)
    EXPECT_EQ(acc(sd, 'd'), 4u);
    iommu_stackdist_destroy(sd);
}

TEST(Stackdist, InvalidateByPredicateSeesKeysAndNullPayload)
{
    iommu_stackdist_t *sd = iommu_stackdist_create(2, 4);
    for (uint64_t i = 0; i < 8; i++)
        acc(sd, i, (uint32_t)i);
    auto odd = [](const iommu_cache_key *k, const void *payload, void *ctx) {
        EXPECT_EQ(payload, nullptr);
        ++*static_cast<int *>(ctx);
        return (k->lo & 1) != 0;
    };
    int calls = 0;
    EXPECT_EQ(iommu_stackdist_invalidate(sd, odd, &calls), 4u);
    EXPECT_EQ(calls, 8);
    EXPECT_EQ(iommu_stackdist_invalidate(sd, nullptr, nullptr), 4u);
    EXPECT_EQ(iommu_stackdist_invalidate(sd, nullptr, nullptr), 0u);
    iommu_stackdist_destroy(sd);
}

// ---- exact agreement with real LRU caches ----------------------------------------------

struct Geometry {
    uint32_t sets, max_ways, universe;
};

class StackdistVsLru : public ::testing::TestWithParam<Geometry> {};

struct Residue {
    uint64_t m, r;
};

bool residue_match(const iommu_cache_key *k, const void *, void *ctx)
{
    const Residue *x = static_cast<const Residue *>(ctx);
    return (k->lo ^ k->hi) % x->m == x->r;
}

TEST_P(StackdistVsLru, HitCountsEqualEverySize)
{
    const Geometry g = GetParam();
    iommu_stackdist_t *sd = iommu_stackdist_create(g.sets, g.max_ways);
    ASSERT_NE(sd, nullptr);
    std::vector<iommu_cache_t *> caches;
    for (uint32_t w = 1; w <= g.max_ways; w++) {
        iommu_cache_cfg c;
        iommu_cache_cfg_default(&c);
        c.entries = g.sets * w;
        c.ways = w;
        caches.push_back(iommu_cache_create(&c, 0));
        ASSERT_NE(caches.back(), nullptr);
    }
    std::vector<uint64_t> hits(g.max_ways + 1, 0);
    iommu_rng r;
    iommu_rng_seed(&r, g.sets * 1000 + g.max_ways);
    const int n = 60000;
    uint64_t invalidated = 0;
    for (int i = 0; i < n; i++) {
        const uint32_t dice = iommu_rng_below(&r, 1000);
        // skewed keys: half the accesses from a small hot set, so every depth occurs
        const uint32_t id = dice < 500 ? iommu_rng_below(&r, g.universe)
                                       : iommu_rng_below(&r, g.max_ways * g.sets / 2 + 1);
        const iommu_cache_key k = K(id, id % 3);
        const uint32_t set = id * 0x9E3779B1u >> 7;
        if (dice < 940) {
            const uint32_t d = iommu_stackdist_access(sd, set, &k, nullptr);
            for (uint32_t w = 1; w <= g.max_ways; w++) {
                iommu_cache_t *c = caches[w - 1];
                const bool hit = iommu_cache_lookup(c, set, &k) != nullptr;
                if (!hit)
                    iommu_cache_insert(c, set, &k, nullptr);
                hits[w] += hit;
                ASSERT_EQ(hit, d != 0 && d <= w) << "access " << i << " ways " << w << " depth " << d;
            }
        } else if (dice < 985) {
            const bool in_sd = iommu_stackdist_invalidate_key(sd, set, &k);
            bool in_largest = false;
            for (uint32_t w = 1; w <= g.max_ways; w++)
                in_largest = iommu_cache_invalidate_key(caches[w - 1], set, &k);
            ASSERT_EQ(in_sd, in_largest) << "access " << i;
            invalidated += in_sd;
        } else {
            Residue x{2 + iommu_rng_below(&r, 6), 0};
            x.r = iommu_rng_below(&r, (uint32_t)x.m);
            const uint32_t a = iommu_stackdist_invalidate(sd, residue_match, &x);
            uint32_t b = 0;
            for (uint32_t w = 1; w <= g.max_ways; w++)
                b = iommu_cache_invalidate(caches[w - 1], residue_match, &x);
            ASSERT_EQ(a, b) << "access " << i; // equals the largest cache's count
            invalidated += a;
        }
    }
    for (uint32_t w = 1; w <= g.max_ways; w++)
        EXPECT_EQ(iommu_stackdist_hits(sd, w), hits[w]) << "ways " << w;
    // the run must have produced hits at shallow and deep positions and misses everywhere
    EXPECT_GT(hits[1], 100u);
    EXPECT_GT(iommu_stackdist_depth_count(sd, g.max_ways), 0u);
    EXPECT_GT(iommu_stackdist_depth_count(sd, 0), 1000u);
    EXPECT_GT(invalidated, 500u);
    for (iommu_cache_t *c : caches)
        iommu_cache_destroy(c);
    iommu_stackdist_destroy(sd);
}

INSTANTIATE_TEST_SUITE_P(Geometries, StackdistVsLru,
                         ::testing::Values(Geometry{1, 16, 40}, Geometry{1, 64, 150},
                                           Geometry{4, 12, 120}, Geometry{16, 8, 300},
                                           Geometry{2, 1, 10}, Geometry{8, 3, 60},
                                           Geometry{1, 2, 5}),
                         [](const ::testing::TestParamInfo<Geometry> &i) {
                             return std::to_string(i.param.sets) + "sets_" +
                                    std::to_string(i.param.max_ways) + "ways";
                         });

// Many accesses to few sets with a small max_ways renumber the stamps many times; a
// brute-force stack model (a vector with holes) must agree on every depth throughout.
TEST(Stackdist, RenumberingKeepsDepthsExact)
{
    const uint32_t W = 5;
    iommu_stackdist_t *sd = iommu_stackdist_create(1, W);
    std::vector<int64_t> stack; // -1 = hole, top at index 0, at most W positions
    iommu_rng r;
    iommu_rng_seed(&r, 77);
    for (int i = 0; i < 200000; i++) {
        const int64_t key = iommu_rng_below(&r, 9);
        if (iommu_rng_below(&r, 10) == 0) {
            const iommu_cache_key k = K((uint64_t)key);
            bool found = false;
            for (auto &x : stack)
                if (x == key) {
                    x = -1;
                    found = true;
                }
            ASSERT_EQ(iommu_stackdist_invalidate_key(sd, 0, &k), found);
            continue;
        }
        size_t pos = stack.size();
        for (size_t p = 0; p < stack.size(); p++)
            if (stack[p] == key)
                pos = p;
        size_t hole = stack.size();
        for (size_t p = 0; p < stack.size() && p < pos; p++)
            if (stack[p] == -1) {
                hole = p;
                break;
            }
        uint32_t want;
        if (pos < stack.size()) {
            want = (uint32_t)pos + 1;
            if (hole < pos) {
                stack.erase(stack.begin() + (long)hole);
                stack[pos - 1] = -1; // positions below the hole did not move
                stack.insert(stack.begin(), key);
                // the key's old position (index pos after re-inserting on top) is the hole
            } else {
                stack.erase(stack.begin() + (long)pos);
                stack.insert(stack.begin(), key);
            }
        } else {
            want = 0;
            if (hole < stack.size())
                stack.erase(stack.begin() + (long)hole);
            stack.insert(stack.begin(), key);
            if (stack.size() > W)
                stack.pop_back();
        }
        ASSERT_EQ(acc(sd, (uint64_t)key), want) << "access " << i;
    }
    iommu_stackdist_destroy(sd);
}

} // namespace
