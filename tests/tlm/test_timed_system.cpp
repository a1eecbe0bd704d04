// test_timed_system.cpp — the timed system end to end: exact latencies of an IOTLB hit and
// of a cold miss as sums of the configured parts, the walker limit, miss coalescing, barriers
// and per-requester ordering. Each test elaborates its own SystemC model, so each must run in
// its own process (ctest runs every discovered test separately).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

#include "tlm/timed_fixture.h"

using namespace iommusim::tlm_model;

namespace {

TimedConfig test_config() { return timed_test_config(); }

// The tests' common start: one device in domain 1 with 2 MB mapped at 0x100000.
std::string write_trace(const std::string &body)
{
    return write_trace_file("attach sid=01:00.0 did=1 mode=sl\n"
                            "map did=1 iova=0x100000 pa=0x40000000 len=0x200000 perm=rw page=4K\n" +
                            body);
}

// Link parts of one crossing: fixed latency plus the serialisation of `wire` bytes.
uint64_t link_ps(const TimedConfig &c, uint64_t wire)
{
    PcieLinkModel m(c.link);
    return (uint64_t)(c.link.latency_ns * 1000) + (uint64_t)(m.tlp_time_ps_exact(wire) + 0.5);
}

TEST(TimedSystem, ColdMissAndHitLatenciesAreSumsOfTheirParts)
{
    TimedConfig cfg = test_config();
    TimedRun r;
    // a cold miss, then (after a barrier) a hit on the same page
    r.go(cfg, write_trace("dma sid=01:00.0 iova=0x100040 len=64 op=r\n"
                          "inv type=wait\n"
                          "dma sid=01:00.0 iova=0x100080 len=64 op=r\n"));
    ASSERT_EQ(r.rec.size(), 2u);
    const DmaRecord &miss = r.rec[0], &hit = r.rec[1];
    // translation of the cold miss: interface 8 + context cache 2 + root entry (step 2 + 100 +
    // 16 B) + context entry (2 + 100 + 16 B) + IOTLB 3 + PWC 4 + 4 paging reads (2 + 100 + 8 B)
    EXPECT_EQ(miss.xlat_done_ps - miss.arrive_ps,
              8000u + 2000 + 2 * (2000 + 100000 + 250) + 3000 + 4000 + 4 * (2000 + 100000 + 125));
    EXPECT_EQ(miss.walk_ps, 2 * (2000 + 100000 + 250) + 3000 + 4000 + 4 * (2000u + 100000 + 125));
    // the hit: interface 8 + context cache 2 + IOTLB 3
    EXPECT_EQ(hit.xlat_done_ps - hit.arrive_ps, 13000u);
    EXPECT_EQ(hit.walk_ps, 0u);
    for (const DmaRecord *d : {&miss, &hit}) {
        EXPECT_EQ(d->mem_done_ps - d->xlat_done_ps, 100000u + 1000); // latency + 64 B at 512 Gb/s
        // up: one 24 B MRd (64-bit address); down: one 84 B CplD; ±1 ps of rounding
        EXPECT_NEAR((double)(d->arrive_ps - d->issue_ps), (double)link_ps(cfg, 24), 1.0);
        EXPECT_NEAR((double)(d->complete_ps - d->mem_done_ps), (double)link_ps(cfg, 84), 1.0);
    }
    EXPECT_EQ(r.c("iotlb.misses"), 1u);
    EXPECT_EQ(r.c("iotlb.hits"), 1u);
    EXPECT_EQ(r.c("walk.mem_reads"), 4u);
    EXPECT_EQ(r.c("context.mem_reads"), 2u);
}

// Three misses to three pages at once after the context is warm: with N walkers the
// (N+1)-th waits for a walker.
void walker_limit(unsigned walkers, uint64_t expect_waits)
{
    TimedConfig cfg = test_config();
    cfg.timing.walkers = walkers;
    TimedRun r;
    r.go(cfg, write_trace("dma sid=01:00.0 iova=0x100000 len=64 op=r\n"
                          "inv type=wait\n"
                          "dma sid=01:00.0 iova=0x101000 len=64 op=r\n"
                          "dma sid=01:00.0 iova=0x102000 len=64 op=r\n"
                          "dma sid=01:00.0 iova=0x103000 len=64 op=r\n"));
    ASSERT_EQ(r.rec.size(), 4u);
    EXPECT_EQ(r.sys->iommu().stats().walker_waits, expect_waits);
    // each of the three walks: PWC 4 + one read (PDE-cache hit) 2 + 100 + 8 B
    const uint64_t walk = 4000 + 2000 + 100000 + 125;
    uint64_t worst = 0;
    for (int i = 1; i <= 3; i++) {
        EXPECT_EQ(r.rec[i].walk_ps, walk) << i; // walking time excludes waiting for a walker
        worst = std::max(worst, r.rec[i].xlat_done_ps - r.rec[i].arrive_ps);
    }
    if (expect_waits)
        EXPECT_GT(worst, 13000 + walk + walk / 2); // the last one waited about a whole walk
    else
        EXPECT_LT(worst, 13000 + walk + 1000);
}

TEST(TimedSystem, WalkerLimitTwoWalkersThreeMisses) { walker_limit(2, 1); }
TEST(TimedSystem, WalkerLimitThreeWalkersThreeMisses) { walker_limit(3, 0); }

void coalescing(bool on, uint64_t walks, uint64_t coalesced)
{
    TimedConfig cfg = test_config();
    cfg.timing.coalesce = on;
    TimedRun r;
    r.go(cfg, write_trace("dma sid=01:00.0 iova=0x100000 len=64 op=r\n"
                          "inv type=wait\n"
                          "dma sid=01:00.0 iova=0x105000 len=64 op=r\n"
                          "dma sid=01:00.0 iova=0x105040 len=64 op=r\n"
                          "dma sid=01:00.0 iova=0x105080 len=64 op=w\n"));
    ASSERT_EQ(r.rec.size(), 4u);
    EXPECT_EQ(r.c("walk.count"), 1 + walks);
    EXPECT_EQ(r.c("walk.coalesced"), coalesced);
    EXPECT_EQ(r.c("iotlb.misses"), 1 + 3u); // all three missed: they arrived before the fill
    for (int i = 2; i <= 3; i++) // the waiters finish with the walk they waited for
        EXPECT_EQ(r.rec[i].error, false);
}

TEST(TimedSystem, CoalescedMissesWalkOnce) { coalescing(true, 1, 2); }
TEST(TimedSystem, WithoutCoalescingEveryMissWalks) { coalescing(false, 3, 0); }

TEST(TimedSystem, FaultCompletesWithAnErrorAfterFaultLatency)
{
    TimedConfig cfg = test_config();
    TimedRun r;
    r.go(cfg, write_trace("dma sid=01:00.0 iova=0x900000 len=64 op=r\n"));
    ASSERT_EQ(r.rec.size(), 1u);
    EXPECT_TRUE(r.rec[0].error);
    EXPECT_EQ(r.rec[0].mem_done_ps - r.rec[0].xlat_done_ps, 10000u); // timing.fault_ns
    EXPECT_EQ(r.c("faults.total"), 1u);
    EXPECT_EQ(r.c("faults.reason_0x6"), 1u);
}

TEST(TimedSystem, HostEventsWaitForEarlierDmas)
{
    // the unmap comes after a DMA in the trace: it must not overtake it (no fault), and the
    // DMA after it must see the page gone (a fault), as in the functional replay
    TimedConfig cfg = test_config();
    TimedRun r;
    r.go(cfg, write_trace("dma sid=01:00.0 iova=0x100000 len=64 op=r\n"
                          "unmap did=1 iova=0x100000 len=0x1000\n"
                          "inv type=iotlb-page did=1 addr=0x100000 am=0\n"
                          "dma sid=01:00.0 iova=0x100000 len=64 op=r\n"));
    ASSERT_EQ(r.rec.size(), 2u);
    EXPECT_FALSE(r.rec[0].error);
    EXPECT_TRUE(r.rec[1].error);
    EXPECT_GE(r.rec[1].issue_ps, r.rec[0].complete_ps);
}

TEST(TimedSystem, ReadsSplitAtMrrsAndPageBoundaries)
{
    TimedConfig cfg = test_config();
    cfg.link.mrrs = 512;
    TimedRun r;
    // 2 KB starting 1 KB into a page: 512+512 up to the boundary, then 512+512
    r.go(cfg, write_trace("dma sid=01:00.0 iova=0x100400 len=2048 op=r\n"));
    ASSERT_EQ(r.rec.size(), 1u);
    EXPECT_EQ(r.sys->link(0).upstream_stats().tlps, 4u);
    EXPECT_EQ(r.c("translations"), 4u);
}

} // namespace
