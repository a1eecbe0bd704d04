// test_cache.cpp — the generic set-associative cache and its replacement policies.
//
// The core of this file is a differential test: every policy is run against a trivially
// correct reference model written here (std::list LRU, per-level bit-tree PLRU, std::deque
// FIFO, the same rng.h sequence for random) over long random sequences of lookups, inserts,
// overwrites and invalidations, for several geometries, asserting the same hit/miss and
// eviction sequence and the same contents (key, way order and payload) throughout.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <list>
#include <string>
#include <vector>

#include "model/common/rng.h"
#include "model/iotlb/cache.h"
#include "model/iotlb/policy/policy.h"

namespace {

iommu_cache_cfg make_cfg(uint32_t entries, uint32_t ways, const char *policy, uint64_t seed = 1)
{
    iommu_cache_cfg c;
    iommu_cache_cfg_default(&c);
    c.entries = entries;
    c.ways = ways;
    std::snprintf(c.policy, sizeof c.policy, "%s", policy);
    c.seed = seed;
    return c;
}

iommu_cache_key K(uint64_t hi, uint64_t lo)
{
    return iommu_cache_key{hi, lo};
}

// ---- configuration ---------------------------------------------------------------------

TEST(CacheConfig, DefaultIs64EntryFullyAssociativeLru)
{
    iommu_cache_cfg c;
    std::memset(&c, 0xAB, sizeof c);
    iommu_cache_cfg_default(&c);
    EXPECT_EQ(c.entries, 64u);
    EXPECT_EQ(c.ways, 64u);
    EXPECT_STREQ(c.policy, "lru");
    EXPECT_EQ(c.seed, 1u);
    const char *why = "untouched";
    EXPECT_EQ(iommu_cache_cfg_validate(&c, &why), IOMMU_OK);
    EXPECT_STREQ(why, "untouched");
}

struct BadCfg {
    uint32_t entries, ways;
    const char *policy;
    const char *why;
    iommu_cache_cfg_field field;
};

TEST(CacheConfig, EachErrorHasItsReasonAndField)
{
    const BadCfg bad[] = {
        {64, 0, "lru", "ways must be at least 1", IOMMU_CACHE_CFG_WAYS},
        {64, 128, "lru", "ways must not exceed entries", IOMMU_CACHE_CFG_WAYS},
        {64, 5, "lru", "ways must divide entries", IOMMU_CACHE_CFG_WAYS},
        {96, 32, "lru", "entries/ways must be a power of two", IOMMU_CACHE_CFG_ENTRIES},
        {24, 1, "fifo", "entries/ways must be a power of two", IOMMU_CACHE_CFG_ENTRIES},
        {64, 64, "x", "unknown replacement policy (known: lru, plru, tree-plru, fifo, random)",
         IOMMU_CACHE_CFG_POLICY},
        {64, 64, "", "unknown replacement policy (known: lru, plru, tree-plru, fifo, random)",
         IOMMU_CACHE_CFG_POLICY},
        {48, 48, "plru", "tree-PLRU needs a power-of-two number of ways", IOMMU_CACHE_CFG_POLICY},
        {24, 6, "tree-plru", "tree-PLRU needs a power-of-two number of ways",
         IOMMU_CACHE_CFG_POLICY},
        {(1u << 24) + 1, 1, "lru", "entries must be at most 16777216", IOMMU_CACHE_CFG_ENTRIES},
    };
    for (const BadCfg &b : bad) {
        SCOPED_TRACE(std::to_string(b.entries) + "/" + std::to_string(b.ways) + "/" + b.policy);
        iommu_cache_cfg c = make_cfg(b.entries, b.ways, b.policy);
        const char *why = nullptr;
        EXPECT_EQ(iommu_cache_cfg_validate(&c, &why), IOMMU_ERR_INVAL);
        ASSERT_NE(why, nullptr);
        EXPECT_STREQ(why, b.why);
        iommu_cache_cfg_field f = IOMMU_CACHE_CFG_ENTRIES;
        why = nullptr;
        EXPECT_EQ(iommu_cache_cfg_check(&c, &f, &why), IOMMU_ERR_INVAL);
        EXPECT_STREQ(why, b.why);
        EXPECT_EQ(f, b.field);
        EXPECT_EQ(iommu_cache_create(&c, 8), nullptr);
        // a NULL `why` is allowed
        EXPECT_EQ(iommu_cache_cfg_validate(&c, nullptr), IOMMU_ERR_INVAL);
    }
}

TEST(CacheConfig, PolicyNameWithoutTerminatorIsRejected)
{
    iommu_cache_cfg c = make_cfg(64, 64, "lru");
    std::memset(c.policy, 'a', sizeof c.policy);
    const char *why = nullptr;
    iommu_cache_cfg_field f = IOMMU_CACHE_CFG_ENTRIES;
    EXPECT_EQ(iommu_cache_cfg_check(&c, &f, &why), IOMMU_ERR_INVAL);
    EXPECT_STREQ(why, "replacement policy name too long");
    EXPECT_EQ(f, IOMMU_CACHE_CFG_POLICY);
}

TEST(CacheConfig, NullConfigIsRejected)
{
    const char *why = nullptr;
    EXPECT_EQ(iommu_cache_cfg_validate(nullptr, &why), IOMMU_ERR_INVAL);
    EXPECT_STREQ(why, "no configuration");
    EXPECT_EQ(iommu_cache_create(nullptr, 0), nullptr);
}

TEST(CacheConfig, GoodGeometriesValidate)
{
    const BadCfg good[] = {
        {1, 1, "lru", nullptr, {}},        {48, 48, "lru", nullptr, {}},
        {48, 3, "fifo", nullptr, {}},      {2048, 4, "plru", nullptr, {}},
        {64, 1, "random", nullptr, {}},    {0, 0, "lru", nullptr, {}},
        {0, 7, "plru", nullptr, {}},       {1u << 24, 1u << 24, "random", nullptr, {}},
        {16, 16, "tree-plru", nullptr, {}},
    };
    for (const BadCfg &g : good) {
        iommu_cache_cfg c = make_cfg(g.entries, g.ways, g.policy);
        const char *why = nullptr;
        EXPECT_EQ(iommu_cache_cfg_validate(&c, &why), IOMMU_OK)
            << g.entries << "/" << g.ways << "/" << g.policy << ": " << (why ? why : "");
    }
}

// ---- registry --------------------------------------------------------------------------

TEST(PolicyRegistry, FindsEveryPolicyAndTheAlias)
{
    EXPECT_EQ(iommu_repl_policy_find("lru"), &iommu_repl_lru);
    EXPECT_EQ(iommu_repl_policy_find("plru"), &iommu_repl_plru);
    EXPECT_EQ(iommu_repl_policy_find("tree-plru"), &iommu_repl_plru);
    EXPECT_EQ(iommu_repl_policy_find("fifo"), &iommu_repl_fifo);
    EXPECT_EQ(iommu_repl_policy_find("random"), &iommu_repl_random);
    EXPECT_EQ(iommu_repl_policy_find("LRU"), nullptr);
    EXPECT_EQ(iommu_repl_policy_find("lru "), nullptr);
    EXPECT_EQ(iommu_repl_policy_find(""), nullptr);
    EXPECT_EQ(iommu_repl_policy_find(nullptr), nullptr);
}

TEST(PolicyRegistry, AllListsFourNamedPoliciesNullTerminated)
{
    const iommu_repl_policy *const *all = iommu_repl_policy_all();
    std::vector<std::string> names;
    for (size_t i = 0; all[i]; i++) {
        names.push_back(all[i]->name);
        EXPECT_NE(all[i]->desc, nullptr);
        EXPECT_GT(std::strlen(all[i]->desc), 0u);
        EXPECT_EQ(iommu_repl_policy_find(all[i]->name), all[i]);
    }
    EXPECT_EQ(names, (std::vector<std::string>{"lru", "plru", "fifo", "random"}));
}

TEST(PolicyRegistry, SupportsReflectsGeometryLimits)
{
    EXPECT_TRUE(iommu_repl_plru.supports(4, 8));
    EXPECT_TRUE(iommu_repl_plru.supports(1, 1));
    EXPECT_FALSE(iommu_repl_plru.supports(4, 6));
    EXPECT_TRUE(iommu_repl_lru.supports(4, 6));
    EXPECT_TRUE(iommu_repl_fifo.supports(1, 3));
    EXPECT_TRUE(iommu_repl_random.supports(1, 3));
    EXPECT_FALSE(iommu_repl_lru.supports(4, 0));
}

// ---- basic behaviour -------------------------------------------------------------------

TEST(Cache, AbsentCacheMissesAndDropsInserts)
{
    iommu_cache_cfg c = make_cfg(0, 0, "lru");
    iommu_cache_t *cache = iommu_cache_create(&c, 16);
    ASSERT_NE(cache, nullptr);
    EXPECT_EQ(iommu_cache_sets(cache), 0u);
    EXPECT_EQ(iommu_cache_ways(cache), 0u);
    EXPECT_EQ(iommu_cache_entries(cache), 0u);
    const iommu_cache_key k = K(1, 2);
    bool ev = true;
    EXPECT_EQ(iommu_cache_insert(cache, 0, &k, &ev), nullptr);
    EXPECT_FALSE(ev);
    EXPECT_EQ(iommu_cache_lookup(cache, 0, &k), nullptr);
    EXPECT_EQ(iommu_cache_probe(cache, 0, &k), nullptr);
    EXPECT_EQ(iommu_cache_valid_count(cache), 0u);
    EXPECT_EQ(iommu_cache_invalidate(cache, nullptr, nullptr), 0u);
    EXPECT_EQ(iommu_cache_invalidate_set(cache, 3, nullptr, nullptr), 0u);
    EXPECT_FALSE(iommu_cache_invalidate_key(cache, 0, &k));
    int calls = 0;
    iommu_cache_foreach(
        cache, [](const iommu_cache_key *, const void *, void *ctx) { ++*(int *)ctx; }, &calls);
    EXPECT_EQ(calls, 0);
    iommu_cache_destroy(cache);
    iommu_cache_destroy(nullptr);
}

TEST(Cache, GeometryAccessors)
{
    iommu_cache_cfg c = make_cfg(96, 3, "lru");
    iommu_cache_t *cache = iommu_cache_create(&c, 0);
    ASSERT_NE(cache, nullptr);
    EXPECT_EQ(iommu_cache_sets(cache), 32u);
    EXPECT_EQ(iommu_cache_ways(cache), 3u);
    EXPECT_EQ(iommu_cache_entries(cache), 96u);
    iommu_cache_destroy(cache);
}

TEST(Cache, InsertZeroesPayloadAndFillsLowestInvalidWayFirst)
{
    iommu_cache_cfg c = make_cfg(4, 4, "lru");
    iommu_cache_t *cache = iommu_cache_create(&c, 12);
    ASSERT_NE(cache, nullptr);
    for (uint64_t i = 0; i < 4; i++) {
        const iommu_cache_key k = K(0, i);
        bool ev = true;
        auto *p = static_cast<unsigned char *>(iommu_cache_insert(cache, 0, &k, &ev));
        ASSERT_NE(p, nullptr);
        EXPECT_FALSE(ev);
        for (int b = 0; b < 12; b++)
            EXPECT_EQ(p[b], 0);
        std::memset(p, (int)(0x10 + i), 12);
    }
    EXPECT_EQ(iommu_cache_valid_count(cache), 4u);
    // free ways 1 and 3, then insert: way 1 first, then way 3 (foreach order shows it)
    iommu_cache_key k1 = K(0, 1), k3 = K(0, 3);
    EXPECT_TRUE(iommu_cache_invalidate_key(cache, 0, &k3));
    EXPECT_TRUE(iommu_cache_invalidate_key(cache, 0, &k1));
    EXPECT_FALSE(iommu_cache_invalidate_key(cache, 0, &k1));
    EXPECT_EQ(iommu_cache_valid_count(cache), 2u);
    const iommu_cache_key a = K(7, 100), b = K(7, 101);
    bool ev = true;
    ASSERT_NE(iommu_cache_insert(cache, 0, &a, &ev), nullptr);
    EXPECT_FALSE(ev);
    ASSERT_NE(iommu_cache_insert(cache, 0, &b, &ev), nullptr);
    EXPECT_FALSE(ev);
    std::vector<uint64_t> order;
    iommu_cache_foreach(
        cache,
        [](const iommu_cache_key *key, const void *, void *ctx) {
            static_cast<std::vector<uint64_t> *>(ctx)->push_back(key->lo);
        },
        &order);
    EXPECT_EQ(order, (std::vector<uint64_t>{0, 100, 2, 101}));
    iommu_cache_destroy(cache);
}

TEST(Cache, InsertOfExistingKeyOverwritesInPlaceAndTouches)
{
    iommu_cache_cfg c = make_cfg(2, 2, "lru");
    iommu_cache_t *cache = iommu_cache_create(&c, 8);
    const iommu_cache_key a = K(0, 1), b = K(0, 2), d = K(0, 3);
    *(uint64_t *)iommu_cache_insert(cache, 0, &a, nullptr) = 111;
    *(uint64_t *)iommu_cache_insert(cache, 0, &b, nullptr) = 222;
    bool ev = true;
    auto *p = static_cast<uint64_t *>(iommu_cache_insert(cache, 0, &a, &ev)); // touches a
    EXPECT_FALSE(ev);
    EXPECT_EQ(*p, 111u); // the same entry, not a new zeroed one
    *p = 333;
    EXPECT_EQ(iommu_cache_valid_count(cache), 2u);
    iommu_cache_key victim = K(9, 9);
    ASSERT_NE(iommu_cache_insert_ex(cache, 0, &d, &ev, &victim), nullptr);
    EXPECT_TRUE(ev);
    EXPECT_EQ(victim.hi, 0u); // b was least recently used
    EXPECT_EQ(victim.lo, 2u);
    EXPECT_EQ(*(uint64_t *)iommu_cache_probe(cache, 0, &a), 333u);
    EXPECT_EQ(iommu_cache_probe(cache, 0, &b), nullptr);
    iommu_cache_destroy(cache);
}

TEST(Cache, ProbeDoesNotTouch)
{
    iommu_cache_cfg c = make_cfg(2, 2, "lru");
    iommu_cache_t *cache = iommu_cache_create(&c, 0);
    const iommu_cache_key a = K(0, 1), b = K(0, 2), d = K(0, 3);
    iommu_cache_insert(cache, 0, &a, nullptr);
    iommu_cache_insert(cache, 0, &b, nullptr);
    EXPECT_NE(iommu_cache_probe(cache, 0, &a), nullptr); // a stays LRU
    bool ev = false;
    iommu_cache_insert(cache, 0, &d, &ev);
    EXPECT_TRUE(ev);
    EXPECT_EQ(iommu_cache_probe(cache, 0, &a), nullptr);
    EXPECT_NE(iommu_cache_probe(cache, 0, &b), nullptr);
    // with lookup instead, the touched entry survives
    EXPECT_NE(iommu_cache_lookup(cache, 0, &b), nullptr);
    iommu_cache_insert(cache, 0, &a, &ev);
    EXPECT_NE(iommu_cache_probe(cache, 0, &b), nullptr);
    EXPECT_EQ(iommu_cache_probe(cache, 0, &d), nullptr);
    iommu_cache_destroy(cache);
}

TEST(Cache, SetIndexIsReducedModuloSetsAndKeysCompareBothWords)
{
    iommu_cache_cfg c = make_cfg(8, 2, "lru"); // 4 sets
    iommu_cache_t *cache = iommu_cache_create(&c, 0);
    const iommu_cache_key a = K(1, 5);
    iommu_cache_insert(cache, 6, &a, nullptr);
    EXPECT_NE(iommu_cache_probe(cache, 2, &a), nullptr); // 6 & 3 == 2
    EXPECT_NE(iommu_cache_probe(cache, 0xFFFFFFFEu, &a), nullptr);
    EXPECT_EQ(iommu_cache_probe(cache, 3, &a), nullptr);
    const iommu_cache_key same_lo = K(2, 5), same_hi = K(1, 6);
    EXPECT_EQ(iommu_cache_probe(cache, 2, &same_lo), nullptr);
    EXPECT_EQ(iommu_cache_probe(cache, 2, &same_hi), nullptr);
    iommu_cache_destroy(cache);
}

TEST(Cache, StaleKeyOfInvalidWayNeverHits)
{
    iommu_cache_cfg c = make_cfg(4, 4, "fifo");
    iommu_cache_t *cache = iommu_cache_create(&c, 8);
    const iommu_cache_key a = K(0, 1), b = K(0, 2), x = K(0, 3);
    iommu_cache_insert(cache, 0, &a, nullptr);
    iommu_cache_insert(cache, 0, &b, nullptr);
    iommu_cache_invalidate_key(cache, 0, &a);
    EXPECT_EQ(iommu_cache_lookup(cache, 0, &a), nullptr);
    EXPECT_EQ(iommu_cache_probe(cache, 0, &a), nullptr);
    iommu_cache_insert(cache, 0, &x, nullptr); // reuses way 0
    EXPECT_EQ(iommu_cache_lookup(cache, 0, &a), nullptr);
    EXPECT_EQ(iommu_cache_valid_count(cache), 2u);
    iommu_cache_destroy(cache);
}

TEST(Cache, InvalidateByPredicateAndPerSet)
{
    iommu_cache_cfg c = make_cfg(32, 4, "plru"); // 8 sets
    iommu_cache_t *cache = iommu_cache_create(&c, 8);
    for (uint64_t i = 0; i < 32; i++) { // 4 per set
        const iommu_cache_key k = K(i % 3, i);
        *(uint64_t *)iommu_cache_insert(cache, (uint32_t)i, &k, nullptr) = i * 10;
    }
    EXPECT_EQ(iommu_cache_valid_count(cache), 32u);
    struct Ctx {
        uint64_t hi;
        int calls;
    } ctx{1, 0};
    auto match_hi = [](const iommu_cache_key *k, const void *payload, void *v) {
        auto *x = static_cast<Ctx *>(v);
        x->calls++;
        EXPECT_EQ(*(const uint64_t *)payload, k->lo * 10);
        return k->hi == x->hi;
    };
    // set 1 holds lo 1, 9, 17, 25 -> hi 1, 0, 2, 1
    EXPECT_EQ(iommu_cache_invalidate_set(cache, 9, match_hi, &ctx), 2u);
    EXPECT_EQ(ctx.calls, 4);
    EXPECT_EQ(iommu_cache_valid_count(cache), 30u);
    ctx.calls = 0;
    // hi == 1 among 0..31: i % 3 == 1 -> 11 keys, two already gone
    EXPECT_EQ(iommu_cache_invalidate(cache, match_hi, &ctx), 9u);
    EXPECT_EQ(ctx.calls, 30);
    EXPECT_EQ(iommu_cache_valid_count(cache), 21u);
    EXPECT_EQ(iommu_cache_invalidate(cache, nullptr, nullptr), 21u);
    EXPECT_EQ(iommu_cache_valid_count(cache), 0u);
    EXPECT_EQ(iommu_cache_invalidate(cache, nullptr, nullptr), 0u);
    iommu_cache_destroy(cache);
}

TEST(Cache, FreedWaysAreRefilledBeforeAnyEviction)
{
    for (const char *pol : {"lru", "plru", "fifo", "random"}) {
        SCOPED_TRACE(pol);
        iommu_cache_cfg c = make_cfg(8, 8, pol);
        iommu_cache_t *cache = iommu_cache_create(&c, 0);
        for (uint64_t i = 0; i < 8; i++) {
            const iommu_cache_key k = K(0, i);
            iommu_cache_insert(cache, 0, &k, nullptr);
        }
        auto odd = [](const iommu_cache_key *k, const void *, void *) { return (k->lo & 1) != 0; };
        EXPECT_EQ(iommu_cache_invalidate(cache, odd, nullptr), 4u);
        for (uint64_t i = 100; i < 104; i++) {
            const iommu_cache_key k = K(0, i);
            bool ev = true;
            iommu_cache_insert(cache, 0, &k, &ev);
            EXPECT_FALSE(ev);
        }
        for (uint64_t i = 0; i < 8; i += 2) {
            const iommu_cache_key k = K(0, i);
            EXPECT_NE(iommu_cache_probe(cache, 0, &k), nullptr);
        }
        const iommu_cache_key k = K(0, 200);
        bool ev = false;
        iommu_cache_insert(cache, 0, &k, &ev);
        EXPECT_TRUE(ev);
        iommu_cache_destroy(cache);
    }
}

// Hand-computed PLRU sequence on one 4-way set: fill 0..3 (tree bits after each fill point
// away from it), then touch way 0: the victim must be way 2 (root points right, right node
// points to way 2 because way 3 was filled last).
TEST(Cache, PlruHandComputedVictims)
{
    iommu_cache_cfg c = make_cfg(4, 4, "plru");
    iommu_cache_t *cache = iommu_cache_create(&c, 0);
    for (uint64_t i = 0; i < 4; i++) {
        const iommu_cache_key k = K(0, i);
        iommu_cache_insert(cache, 0, &k, nullptr);
    }
    const iommu_cache_key k0 = K(0, 0);
    ASSERT_NE(iommu_cache_lookup(cache, 0, &k0), nullptr);
    const iommu_cache_key n1 = K(0, 10);
    iommu_cache_key v;
    bool ev = false;
    iommu_cache_insert_ex(cache, 0, &n1, &ev, &v);
    EXPECT_TRUE(ev);
    EXPECT_EQ(v.lo, 2u);
    // now bits: root -> left (way 2 just filled), left node -> way 1 (way 0 touched)
    const iommu_cache_key n2 = K(0, 11);
    iommu_cache_insert_ex(cache, 0, &n2, &ev, &v);
    EXPECT_EQ(v.lo, 1u);
    // root -> right, right node -> way 3 (way 2 = n1 filled after way 3)
    const iommu_cache_key n3 = K(0, 12);
    iommu_cache_insert_ex(cache, 0, &n3, &ev, &v);
    EXPECT_EQ(v.lo, 3u);
    iommu_cache_destroy(cache);
}

TEST(Cache, FifoIgnoresHitsLruDoesNot)
{
    for (const char *pol : {"fifo", "lru"}) {
        iommu_cache_cfg c = make_cfg(3, 3, pol);
        iommu_cache_t *cache = iommu_cache_create(&c, 0);
        for (uint64_t i = 0; i < 3; i++) {
            const iommu_cache_key k = K(0, i);
            iommu_cache_insert(cache, 0, &k, nullptr);
        }
        const iommu_cache_key k0 = K(0, 0), n = K(0, 9);
        iommu_cache_lookup(cache, 0, &k0);
        iommu_cache_key v;
        bool ev;
        iommu_cache_insert_ex(cache, 0, &n, &ev, &v);
        EXPECT_EQ(v.lo, std::strcmp(pol, "fifo") == 0 ? 0u : 1u) << pol;
        iommu_cache_destroy(cache);
    }
}

TEST(Cache, RandomPolicyIsDeterministicGivenSeedAndDependsOnIt)
{
    auto run = [](uint64_t seed) {
        iommu_cache_cfg c = make_cfg(16, 16, "random", seed);
        iommu_cache_t *cache = iommu_cache_create(&c, 0);
        std::vector<uint64_t> victims;
        for (uint64_t i = 0; i < 400; i++) {
            const iommu_cache_key k = K(0, i);
            iommu_cache_key v{};
            bool ev = false;
            iommu_cache_insert_ex(cache, 0, &k, &ev, &v);
            if (ev)
                victims.push_back(v.lo);
        }
        iommu_cache_destroy(cache);
        return victims;
    };
    const auto a = run(42), b = run(42), d = run(43);
    EXPECT_EQ(a.size(), 384u);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, d);
}

TEST(Cache, ZeroSizePayloadStillReportsHits)
{
    iommu_cache_cfg c = make_cfg(4, 2, "lru");
    iommu_cache_t *cache = iommu_cache_create(&c, 0);
    const iommu_cache_key a = K(3, 4);
    EXPECT_NE(iommu_cache_insert(cache, 1, &a, nullptr), nullptr);
    EXPECT_NE(iommu_cache_lookup(cache, 1, &a), nullptr);
    EXPECT_EQ(iommu_cache_lookup(cache, 0, &a), nullptr);
    iommu_cache_destroy(cache);
}

// ---- differential test against reference models ---------------------------------------

// A trivially correct reference: an array of ways per set plus, per policy, the most
// literal bookkeeping: LRU = list of ways most recent first; FIFO = queue of ways in fill
// order; PLRU = one vector of node bits per tree level; random = the same rng.h generator.
class RefCache {
public:
    struct Way {
        bool valid = false;
        iommu_cache_key key{};
        uint64_t payload = 0;
    };

    RefCache(uint32_t sets, uint32_t ways, std::string policy, uint64_t seed)
        : sets_(sets), ways_(ways), pol_(std::move(policy)), way_(size_t(sets) * ways),
          lru_(sets), fifo_(sets)
    {
        levels_ = 0;
        while ((1u << levels_) < ways)
            levels_++;
        plru_.assign(sets, std::vector<std::vector<bool>>(levels_));
        for (auto &t : plru_)
            for (uint32_t l = 0; l < levels_; l++)
                t[l].assign(size_t(1) << l, false);
        iommu_rng_seed(&rng_, seed);
    }

    // returns payload pointer or nullptr
    uint64_t *lookup(uint32_t set, const iommu_cache_key &k, bool touch = true)
    {
        set &= sets_ - 1;
        for (uint32_t w = 0; w < ways_; w++) {
            Way &x = at(set, w);
            if (x.valid && x.key.hi == k.hi && x.key.lo == k.lo) {
                if (touch)
                    on_touch(set, w);
                return &x.payload;
            }
        }
        return nullptr;
    }

    uint64_t *insert(uint32_t set, const iommu_cache_key &k, bool *evicted, iommu_cache_key *victim)
    {
        *evicted = false;
        set &= sets_ - 1;
        if (uint64_t *p = lookup(set, k))
            return p;
        uint32_t w = ways_;
        for (uint32_t i = 0; i < ways_; i++)
            if (!at(set, i).valid) {
                w = i;
                break;
            }
        if (w == ways_) {
            w = choose_victim(set);
            *evicted = true;
            *victim = at(set, w).key;
        }
        Way &x = at(set, w);
        x.valid = true;
        x.key = k;
        x.payload = 0;
        on_fill(set, w);
        return &x.payload;
    }

    bool invalidate_key(uint32_t set, const iommu_cache_key &k)
    {
        set &= sets_ - 1;
        for (uint32_t w = 0; w < ways_; w++) {
            Way &x = at(set, w);
            if (x.valid && x.key.hi == k.hi && x.key.lo == k.lo) {
                x.valid = false;
                return true;
            }
        }
        return false;
    }

    template <class F> uint32_t invalidate_if(F f)
    {
        uint32_t n = 0;
        for (Way &x : way_)
            if (x.valid && f(x.key)) {
                x.valid = false;
                n++;
            }
        return n;
    }

    std::vector<Way> contents() const
    {
        std::vector<Way> v;
        for (const Way &x : way_)
            if (x.valid)
                v.push_back(x);
        return v;
    }

private:
    Way &at(uint32_t set, uint32_t w) { return way_[size_t(set) * ways_ + w]; }

    void on_touch(uint32_t set, uint32_t w)
    {
        if (pol_ == "lru") {
            lru_[set].remove(w);
            lru_[set].push_front(w);
        } else if (pol_ == "plru") {
            plru_mark(set, w);
        }
    }

    void on_fill(uint32_t set, uint32_t w)
    {
        if (pol_ == "lru") {
            on_touch(set, w);
        } else if (pol_ == "plru") {
            plru_mark(set, w);
        } else if (pol_ == "fifo") {
            auto &q = fifo_[set];
            for (auto it = q.begin(); it != q.end(); ++it)
                if (*it == w) {
                    q.erase(it);
                    break;
                }
            q.push_back(w);
        }
    }

    // Level l has 2^l nodes; node n at level l covers ways [n << (L-l), (n+1) << (L-l)).
    // bit true = the victim is in the right half.
    void plru_mark(uint32_t set, uint32_t w)
    {
        for (uint32_t l = 0; l < levels_; l++) {
            const uint32_t node = w >> (levels_ - l);
            const bool went_right = (w >> (levels_ - l - 1)) & 1u;
            plru_[set][l][node] = !went_right;
        }
    }

    uint32_t choose_victim(uint32_t set)
    {
        if (pol_ == "lru")
            return lru_[set].back();
        if (pol_ == "fifo")
            return fifo_[set].front();
        if (pol_ == "plru") {
            uint32_t node = 0;
            for (uint32_t l = 0; l < levels_; l++)
                node = node * 2 + (plru_[set][l][node] ? 1u : 0u);
            return node;
        }
        return iommu_rng_below(&rng_, ways_);
    }

    uint32_t sets_, ways_;
    std::string pol_;
    std::vector<Way> way_;
    std::vector<std::list<uint32_t>> lru_;
    std::vector<std::deque<uint32_t>> fifo_;
    std::vector<std::vector<std::vector<bool>>> plru_;
    uint32_t levels_;
    iommu_rng rng_;
};

struct Geometry {
    uint32_t entries, ways;
};

struct CollectCtx {
    std::vector<RefCache::Way> v;
};

void collect(const iommu_cache_key *k, const void *p, void *ctx)
{
    RefCache::Way w;
    w.valid = true;
    w.key = *k;
    w.payload = *static_cast<const uint64_t *>(p);
    static_cast<CollectCtx *>(ctx)->v.push_back(w);
}

void expect_same_contents(const iommu_cache_t *c, const RefCache &ref)
{
    CollectCtx got;
    iommu_cache_foreach(c, collect, &got);
    const auto want = ref.contents();
    ASSERT_EQ(got.v.size(), want.size());
    ASSERT_EQ(iommu_cache_valid_count(c), want.size());
    for (size_t i = 0; i < want.size(); i++) {
        ASSERT_EQ(got.v[i].key.hi, want[i].key.hi) << "entry " << i;
        ASSERT_EQ(got.v[i].key.lo, want[i].key.lo) << "entry " << i;
        ASSERT_EQ(got.v[i].payload, want[i].payload) << "entry " << i;
    }
}

struct DiffStats {
    uint64_t hits = 0, misses = 0, evictions = 0, invalidated = 0;
};

DiffStats run_differential(const char *policy, Geometry g, uint64_t seed, int ops)
{
    DiffStats st;
    iommu_cache_cfg cfg = make_cfg(g.entries, g.ways, policy, seed * 7 + 3);
    iommu_cache_t *c = iommu_cache_create(&cfg, sizeof(uint64_t));
    EXPECT_NE(c, nullptr);
    if (!c)
        return st;
    const uint32_t sets = g.entries / g.ways;
    RefCache ref(sets, g.ways, policy, seed * 7 + 3);
    iommu_rng r;
    iommu_rng_seed(&r, seed);
    // A key universe ~3x the capacity gives a mix of hits, misses and evictions.
    const uint32_t universe = g.entries * 3;
    auto key_of = [](uint32_t id) { return K(id % 5, 0x1000u + id); };
    auto set_of = [](uint32_t id) { return id * 2654435761u; };
    uint64_t serial = 1;
    for (int op = 0; op < ops; op++) {
        const uint32_t dice = iommu_rng_below(&r, 1000);
        const uint32_t id = iommu_rng_below(&r, universe);
        const iommu_cache_key k = key_of(id);
        const uint32_t set = set_of(id);
        if (dice < 700) { // lookup, insert on miss (the normal use)
            uint64_t *rp = ref.lookup(set, k);
            auto *cp = static_cast<uint64_t *>(iommu_cache_lookup(c, set, &k));
            EXPECT_EQ(cp != nullptr, rp != nullptr) << "op " << op;
            if (cp && rp) {
                EXPECT_EQ(*cp, *rp) << "op " << op;
                st.hits++;
            } else if (!cp && !rp) {
                st.misses++;
                bool cev = false, rev = false;
                iommu_cache_key cv{}, rv{};
                auto *cpp = static_cast<uint64_t *>(iommu_cache_insert_ex(c, set, &k, &cev, &cv));
                uint64_t *rpp = ref.insert(set, k, &rev, &rv);
                EXPECT_EQ(cev, rev) << "op " << op;
                if (cev && rev) {
                    EXPECT_EQ(cv.hi, rv.hi) << "op " << op;
                    EXPECT_EQ(cv.lo, rv.lo) << "op " << op;
                    st.evictions++;
                }
                EXPECT_EQ(*cpp, 0u);
                *cpp = *rpp = serial++;
            }
        } else if (dice < 800) { // blind insert (may overwrite an existing key)
            bool cev = false, rev = false;
            iommu_cache_key cv{}, rv{};
            auto *cpp = static_cast<uint64_t *>(iommu_cache_insert_ex(c, set, &k, &cev, &cv));
            uint64_t *rpp = ref.insert(set, k, &rev, &rv);
            EXPECT_EQ(*cpp, *rpp) << "op " << op;
            EXPECT_EQ(cev, rev) << "op " << op;
            if (cev && rev) {
                EXPECT_EQ(cv.lo, rv.lo) << "op " << op;
                st.evictions++;
            }
            *cpp = *rpp = serial++;
        } else if (dice < 880) { // probe: no replacement update
            const uint64_t *rp = ref.lookup(set, k, false);
            auto *cp = static_cast<const uint64_t *>(iommu_cache_probe(c, set, &k));
            EXPECT_EQ(cp != nullptr, rp != nullptr) << "op " << op;
            if (cp && rp) {
                EXPECT_EQ(*cp, *rp);
            }
        } else if (dice < 960) { // invalidate one key
            EXPECT_EQ(iommu_cache_invalidate_key(c, set, &k), ref.invalidate_key(set, k))
                << "op " << op;
        } else if (g.entries > 16 && iommu_rng_below(&r, g.entries / 16) != 0) {
            // large caches: bulk invalidations rarer, so that the cache still fills up
            const uint64_t *rp = ref.lookup(set, k);
            const void *cp = iommu_cache_lookup(c, set, &k);
            EXPECT_EQ(cp != nullptr, rp != nullptr) << "op " << op;
        } else if (dice < 995) { // invalidate by predicate: one residue class of lo
            uint64_t m = 3 + iommu_rng_below(&r, 5), rr = iommu_rng_below(&r, (uint32_t)m);
            struct P {
                uint64_t m, r;
            } p{m, rr};
            const uint32_t n = iommu_cache_invalidate(
                c,
                [](const iommu_cache_key *kk, const void *, void *ctx) {
                    const P *q = static_cast<const P *>(ctx);
                    return kk->lo % q->m == q->r;
                },
                &p);
            EXPECT_EQ(n, ref.invalidate_if([&](const iommu_cache_key &kk) { return kk.lo % m == rr; }))
                << "op " << op;
            st.invalidated += n;
        } else { // flush everything
            const uint32_t n = iommu_cache_invalidate(c, nullptr, nullptr);
            EXPECT_EQ(n, ref.invalidate_if([](const iommu_cache_key &) { return true; }));
            st.invalidated += n;
        }
        if (op % 97 == 0) {
            expect_same_contents(c, ref);
            if (::testing::Test::HasFailure())
                break;
        }
    }
    expect_same_contents(c, ref);
    iommu_cache_destroy(c);
    return st;
}

class PolicyDifferential : public ::testing::TestWithParam<std::tuple<const char *, Geometry>> {};

TEST_P(PolicyDifferential, MatchesReferenceModel)
{
    const char *policy = std::get<0>(GetParam());
    const Geometry g = std::get<1>(GetParam());
    for (uint64_t seed = 1; seed <= 3; seed++) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        const DiffStats st = run_differential(policy, g, seed, 60000);
        // the run must have exercised every path, or it proves little
        EXPECT_GT(st.hits, 1000u);
        EXPECT_GT(st.misses, 1000u);
        EXPECT_GT(st.evictions, 500u);
        EXPECT_GT(st.invalidated, 100u);
        if (HasFailure())
            break;
    }
}

const Geometry kPow2Geometries[] = {
    {16, 16}, // fully associative
    {64, 64}, // fully associative, IOTLB-sized
    {32, 4},  // 4-way, 8 sets
    {64, 8},  // 8-way, 8 sets
    {32, 1},  // direct-mapped
    {2, 2},   // tiny
    {256, 256}, // large fully associative: long probe runs and deletions in the index
    {128, 2},   // 64 sets of 2 ways sharing one index
};
const Geometry kOddGeometries[] = {
    {48, 48}, // fully associative, not a power of two
    {24, 6},  // 6-way, 4 sets
    {12, 3},  // 3-way, 4 sets
};

std::string geom_name(const ::testing::TestParamInfo<std::tuple<const char *, Geometry>> &i)
{
    const Geometry g = std::get<1>(i.param);
    std::string n = std::string(std::get<0>(i.param)) + "_" + std::to_string(g.entries) + "e_" +
                    std::to_string(g.ways) + "w";
    return n;
}

INSTANTIATE_TEST_SUITE_P(Pow2, PolicyDifferential,
                         ::testing::Combine(::testing::Values("lru", "plru", "fifo", "random"),
                                            ::testing::ValuesIn(kPow2Geometries)),
                         geom_name);
INSTANTIATE_TEST_SUITE_P(NonPow2Ways, PolicyDifferential,
                         ::testing::Combine(::testing::Values("lru", "fifo", "random"),
                                            ::testing::ValuesIn(kOddGeometries)),
                         geom_name);

} // namespace
