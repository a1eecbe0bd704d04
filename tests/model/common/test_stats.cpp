// test_stats.cpp — the statistics registry: stable counter pointers, lookup and order,
// kind conflicts, histogram buckets and overflow, reset.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/common/stats.h"

namespace {

struct Reg {
    iommu_stats_t *st = iommu_stats_create();
    ~Reg() { iommu_stats_destroy(st); }
};

TEST(Stats, CounterPointersStayValidAcrossManyRegistrations)
{
    Reg r;
    ASSERT_NE(r.st, nullptr);
    std::vector<uint64_t *> ptrs;
    for (int i = 0; i < 3000; i++) {
        const std::string name = "dev." + std::to_string(i) + ".hits";
        uint64_t *p = iommu_stats_counter(r.st, name.c_str(), "hits of one device");
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(*p, 0u);
        *p = (uint64_t)i * 3 + 1;
        ptrs.push_back(p);
    }
    EXPECT_EQ(iommu_stats_size(r.st), 3000u);
    for (int i = 0; i < 3000; i++) {
        ASSERT_EQ(*ptrs[i], (uint64_t)i * 3 + 1);
        const std::string name = "dev." + std::to_string(i) + ".hits";
        const iommu_stat_info *info = iommu_stats_find(r.st, name.c_str());
        ASSERT_NE(info, nullptr);
        EXPECT_EQ(info->counter, ptrs[i]);
        EXPECT_EQ(info->kind, IOMMU_STAT_COUNTER);
        // registration order is kept
        EXPECT_EQ(iommu_stats_at(r.st, (size_t)i), info);
    }
}

TEST(Stats, ReRegistrationFindsTheSameStat)
{
    Reg r;
    uint64_t *a = iommu_stats_counter(r.st, "iotlb.hits", "IOTLB hits");
    uint64_t *b = iommu_stats_counter(r.st, "iotlb.hits", "ignored second description");
    EXPECT_EQ(a, b);
    EXPECT_EQ(iommu_stats_size(r.st), 1u);
    EXPECT_STREQ(iommu_stats_find(r.st, "iotlb.hits")->desc, "IOTLB hits");
    EXPECT_STREQ(iommu_stats_find(r.st, "iotlb.hits")->name, "iotlb.hits");
    iommu_hist_t *h = iommu_stats_hist(r.st, "lat", "latency", 10, 4);
    EXPECT_EQ(iommu_stats_hist(r.st, "lat", "latency", 99, 99), h);
    EXPECT_EQ(h->width, 10u); // the first registration's shape is kept
    // a name of the other kind is refused
    EXPECT_EQ(iommu_stats_counter(r.st, "lat", ""), nullptr);
    EXPECT_EQ(iommu_stats_hist(r.st, "iotlb.hits", "", 1, 1), nullptr);
    EXPECT_EQ(iommu_stats_size(r.st), 2u);
}

TEST(Stats, NullDescriptionBecomesEmptyAndUnknownNamesAreNull)
{
    Reg r;
    iommu_stats_counter(r.st, "x", nullptr);
    EXPECT_STREQ(iommu_stats_find(r.st, "x")->desc, "");
    EXPECT_EQ(iommu_stats_find(r.st, "y"), nullptr);
    EXPECT_EQ(iommu_stats_at(r.st, 1), nullptr);
    EXPECT_EQ(iommu_stats_at(r.st, 1000), nullptr);
}

TEST(Stats, HistogramBucketsAndOverflow)
{
    Reg r;
    iommu_hist_t *h = iommu_stats_hist(r.st, "walk.reads", "memory reads per walk", 10, 5);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->count, 0u);
    EXPECT_EQ(h->min, UINT64_MAX);
    EXPECT_EQ(h->nbuckets, 5u);
    for (uint64_t v : {0ull, 9ull, 10ull, 49ull, 50ull, 1000ull, 25ull})
        iommu_hist_add(h, v);
    const uint64_t want[5] = {2, 1, 1, 0, 3}; // 49, 50 and 1000 in the last bucket
    for (int i = 0; i < 5; i++)
        EXPECT_EQ(h->buckets[i], want[i]) << i;
    EXPECT_EQ(h->count, 7u);
    EXPECT_EQ(h->sum, 1143u);
    EXPECT_EQ(h->min, 0u);
    EXPECT_EQ(h->max, 1000u);
    const iommu_stat_info *info = iommu_stats_find(r.st, "walk.reads");
    EXPECT_EQ(info->kind, IOMMU_STAT_HIST);
    EXPECT_EQ(info->hist, h);
    EXPECT_EQ(info->counter, nullptr);
}

TEST(Stats, HistogramWithOneBucketTakesEverything)
{
    Reg r;
    iommu_hist_t *h = iommu_stats_hist(r.st, "h", "", 1, 1);
    iommu_hist_add(h, 5);
    iommu_hist_add(h, UINT64_MAX);
    EXPECT_EQ(h->buckets[0], 2u);
    EXPECT_EQ(h->max, UINT64_MAX);
    EXPECT_EQ(h->min, 5u);
}

TEST(Stats, BadHistogramShapesAreRefused)
{
    Reg r;
    EXPECT_EQ(iommu_stats_hist(r.st, "a", "", 0, 4), nullptr);
    EXPECT_EQ(iommu_stats_hist(r.st, "b", "", 4, 0), nullptr);
    EXPECT_EQ(iommu_stats_size(r.st), 0u);
}

TEST(Stats, ResetZeroesEverythingButKeepsRegistrations)
{
    Reg r;
    uint64_t *c = iommu_stats_counter(r.st, "c", "");
    iommu_hist_t *h = iommu_stats_hist(r.st, "h", "", 2, 3);
    *c = 42;
    iommu_hist_add(h, 3);
    iommu_hist_add(h, 100);
    iommu_stats_reset(r.st);
    EXPECT_EQ(*c, 0u);
    EXPECT_EQ(h->count, 0u);
    EXPECT_EQ(h->sum, 0u);
    EXPECT_EQ(h->max, 0u);
    EXPECT_EQ(h->min, UINT64_MAX);
    for (uint32_t i = 0; i < 3; i++)
        EXPECT_EQ(h->buckets[i], 0u);
    EXPECT_EQ(iommu_stats_size(r.st), 2u);
    EXPECT_EQ(iommu_stats_counter(r.st, "c", ""), c);
    iommu_hist_add(h, 1);
    EXPECT_EQ(h->min, 1u);
    EXPECT_EQ(h->buckets[0], 1u);
}

TEST(Stats, DestroyAcceptsNull)
{
    iommu_stats_destroy(nullptr);
    SUCCEED();
}

} // namespace
