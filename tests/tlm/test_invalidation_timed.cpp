// test_invalidation_timed.cpp — invalidation in time: the exact duration of a queued
// invalidation and its wait, a wait that completes only after a translation in flight across
// the invalidation has finished, and the protection windows of strict (none) and lazy
// (positive, bounded by the flush timer) DMA-API policies. Each test elaborates its own
// SystemC model (one process per test under ctest).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <unistd.h>

#include "tlm/timed_fixture.h"

using namespace iommusim::tlm_model;

namespace {

// Round CPU costs besides the shared round numbers: 1 GHz, 10 cycles per descriptor, 100 per
// doorbell.
TimedConfig test_config()
{
    TimedConfig c = timed_test_config();
    c.dma.cpu_ghz = 1.0;
    c.dma.cycles.desc = 10;
    c.dma.cycles.doorbell = 100;
    return c;
}

std::string write_trace(const std::string &body) { return write_trace_file(body); }

TEST(InvalidationTimed, QueuedInvalidationAndWaitTakeTheirExactTime)
{
    TimedConfig cfg = test_config();
    TimedRun r;
    r.go(cfg, write_trace("attach sid=01:00.0 did=1 mode=sl\n"
                          "map did=1 iova=0x100000 pa=0x40000000 len=0x1000 perm=rw page=4K\n"
                          "dma sid=01:00.0 iova=0x100000 len=64 op=r\n"
                          "inv type=iotlb-page did=1 addr=0x100000 am=0\n"
                          "inv type=wait\n"));
    ASSERT_EQ(r.rec.size(), 1u);
    const uint64_t t0 = r.rec[0].complete_ps; // the barrier: the DMA before the inv is done
    // inv: CPU 10 + 100 cycles at 1 GHz, then the engine fetches 16 B (100 ns + 250 ps),
    // processes it (4 ns) and holds the IOTLB port (4 ns)
    const uint64_t exec = t0 + 110000 + 100250 + 4000 + 4000;
    const InvTlmStats &v = r.sys->iommu().inv_stats();
    EXPECT_EQ(v.last_exec_ps, exec);
    // wait: queued by the CPU after the inv's CPU phase (110 ns later), fetched once the
    // engine is idle, processed (4 ns), then the 4-byte status write (100 ns + 62.5 ps)
    const uint64_t doorbell = t0 + 220000;
    const uint64_t fetch_start = std::max(doorbell, exec);
    const uint64_t done = fetch_start + 100250 + 4000 + 100062;
    EXPECT_NEAR((double)v.last_wait_done_ps, (double)done, 1.0);
    EXPECT_EQ(v.executed, 2u);
    EXPECT_EQ(r.c("inv.descriptors"), 2u);
    EXPECT_EQ(r.c("inv.removed.iotlb"), 1u);
    EXPECT_EQ(r.c("host.waits"), 1u);
    // the wait never completes before the invalidation queued ahead of it took effect
    EXPECT_GT(v.last_wait_done_ps, v.last_exec_ps);
}

TEST(InvalidationTimed, WaitDrainsTranslationsInFlightAcrossTheInvalidation)
{
    // Device 1's buffer is unmapped lazily with a 1 ns timer: the timer's flush (a domain-
    // selective invalidation + wait) executes while device 2's translations, issued before it,
    // are still walking. The wait's status write must come after every one of them.
    TimedConfig cfg = test_config();
    cfg.dma.policy = IOMMU_FLUSH_LAZY;
    cfg.dma.lazy_timeout_ns = 1;
    std::string t = "attach sid=01:00.0 did=1 mode=sl\n"
                    "attach sid=02:00.0 did=2 mode=sl\n"
                    "dma_map sid=01:00.0 handle=1 pa=0x40000000 len=4096 perm=w\n"
                    "dma_map sid=02:00.0 handle=2 pa=0x50000000 len=262144 perm=r\n"
                    "dma sid=01:00.0 handle=1 off=0 len=64 op=w\n"
                    "dma_unmap handle=1\n";
    for (int i = 0; i < 64; i++) // 64 reads of distinct pages: 64 walks
        t += "dma sid=02:00.0 handle=2 off=" + std::to_string(i * 4096) + " len=64 op=r\n";
    TimedRun r;
    r.go(cfg, write_trace(t));
    const InvTlmStats &v = r.sys->iommu().inv_stats();
    ASSERT_GT(v.last_exec_ps, 0u);
    ASSERT_GT(v.last_wait_done_ps, 0u);
    unsigned across = 0;
    for (const DmaRecord &d : r.rec) {
        if (d.device != 1 || d.xlat_start_ps >= v.last_exec_ps)
            continue; // only translations that began before the invalidation took effect
        EXPECT_LE(d.xlat_done_ps, v.last_wait_done_ps);
        across += d.xlat_done_ps > v.last_exec_ps;
    }
    EXPECT_GT(across, 0u) << "no translation was in flight across the invalidation";
    EXPECT_GE(v.drain_waits, 1u);
    EXPECT_EQ(r.c("host.flushes.timer"), 1u);
}

std::string io_trace(int n)
{
    std::string t = "attach sid=01:00.0 did=1 mode=sl\n";
    for (int i = 0; i < n; i++) {
        const std::string h = std::to_string(i + 1);
        char pa[32];
        std::snprintf(pa, sizeof pa, "0x%x", 0x40000040 + i * 0x1000);
        t += "dma_map sid=01:00.0 handle=" + h + " pa=" + pa + " len=1500 perm=w\n";
        t += "dma sid=01:00.0 handle=" + h + " off=0 len=1500 op=w\n";
        t += "dma_unmap handle=" + h + "\n";
    }
    return t;
}

TEST(InvalidationTimed, StrictHasNoStaleWindow)
{
    TimedConfig cfg = test_config();
    cfg.dma.policy = IOMMU_FLUSH_STRICT;
    TimedRun r;
    r.go(cfg, write_trace(io_trace(50)));
    EXPECT_EQ(r.c("host.dma_unmaps"), 50u);
    EXPECT_EQ(r.c("inv.descriptors"), 100u); // a page-selective invalidation + a wait each
    EXPECT_EQ(r.c("protection.stale_pages"), 0u);
    EXPECT_EQ(r.c("protection.stale_window_ns.max"), 0u);
    EXPECT_EQ(r.c("protection.subpage_exposed_bytes"), 50u * (4096 - 1500));
}

TEST(InvalidationTimed, LazyWindowIsPositiveAndBoundedByItsTimer)
{
    TimedConfig cfg = test_config();
    cfg.dma.policy = IOMMU_FLUSH_LAZY;
    cfg.dma.lazy_timeout_ns = 20000; // 20 us; the high-water mark (256) is never reached
    TimedRun r;
    r.go(cfg, write_trace(io_trace(50)));
    EXPECT_EQ(r.c("host.dma_unmaps"), 50u);
    EXPECT_GT(r.c("protection.stale_pages"), 0u);
    const uint64_t wmax = r.c("protection.stale_window_ns.max");
    EXPECT_GT(wmax, 0u);
    // an entry stays reachable at most until the timer's flush takes effect: the timeout
    // plus the flush's CPU phase and the engine's fetch and execution (well under 1 us)
    EXPECT_LE(wmax, 20000u + 1000u);
    EXPECT_GE(r.c("host.flushes.timer"), 1u);
    EXPECT_EQ(r.c("protection.stale_open_at_end"), 0u);
}

} // namespace

namespace {

TEST(InvalidationTimed, AtsDeviceTlbHitsSkipTheIotlbAndItsInvalidationDelaysTheWait)
{
    TimedConfig cfg = test_config();
    cfg.dma.ats = true;
    iommu_cache_cfg_default(&cfg.devtlb); // 64 entries
    TimedRun r;
    r.go(cfg, write_trace("attach sid=01:00.0 did=1 mode=sl\n"
                          "map did=1 iova=0x100000 pa=0x40000000 len=0x1000 perm=rw page=4K\n"
                          "dma sid=01:00.0 iova=0x100000 len=64 op=r\n"
                          "inv type=wait\n"
                          "dma sid=01:00.0 iova=0x100040 len=64 op=r\n"
                          "inv type=devtlb sid=01:00.0 addr=0x100000 am=0\n"
                          "inv type=wait\n"));
    ASSERT_EQ(r.rec.size(), 2u);
    // one translation request (the first DMA's miss), then translated requests only
    EXPECT_EQ(r.c("ats.translation_requests"), 1u);
    EXPECT_EQ(r.c("ats.translated_requests"), 2u);
    EXPECT_EQ(r.c("devtlb.misses"), 1u);
    EXPECT_EQ(r.c("devtlb.hits"), 1u);
    EXPECT_EQ(r.c("iotlb.misses"), 1u); // the translation request walked once
    // a translated request: interface 8 + context cache 2 (TT check), no IOTLB lookup
    EXPECT_EQ(r.rec[1].xlat_done_ps - r.rec[1].arrive_ps, 10000u);
    // the first DMA's latency includes its translation request's round trip
    EXPECT_GT(r.rec[0].arrive_ps - r.rec[0].issue_ps, 2 * 200000u);
    EXPECT_EQ(r.c("devtlb.removed"), 1u);
    // the wait after the device-TLB invalidation completes only after the device's
    // completion: 527 ns after the descriptor took effect, then its status write
    const InvTlmStats &v = r.sys->iommu().inv_stats();
    EXPECT_NEAR((double)v.last_wait_done_ps, (double)(v.last_exec_ps + 527000 + 100062), 1.0);
}

TEST(InvalidationTimed, AtsNeedsAContextThatAllowsDeviceTlbs)
{
    // the unit does not support device-TLBs (ECAP.DT = 0): the host writes TT = 01b anyway
    // (device.ats), and the context is invalid (0xD) for every request
    TimedConfig cfg = test_config();
    cfg.dma.ats = true;
    iommu_cache_cfg_default(&cfg.devtlb);
    cfg.unit.dev_tlb = false;
    TimedRun r;
    r.go(cfg, write_trace("attach sid=01:00.0 did=1 mode=sl\n"
                          "map did=1 iova=0x100000 pa=0x40000000 len=0x1000 perm=rw page=4K\n"
                          "dma sid=01:00.0 iova=0x100000 len=64 op=r\n"));
    ASSERT_EQ(r.rec.size(), 1u);
    EXPECT_TRUE(r.rec[0].error);
    EXPECT_EQ(r.c("faults.reason_0xd"), 2u); // the translation request, then the request itself
}

} // namespace

namespace {

// A NIC-like ring on two CPUs: the driver pre-maps 8 buffers, then per packet the device
// writes the oldest buffer, the driver unmaps it and maps a new one (CPU = packet parity).
TEST(InvalidationTimed, DriversOverlapWithDevicesAndEachOtherButKeepTheirDependencies)
{
    TimedConfig cfg = test_config();
    cfg.dma.policy = IOMMU_FLUSH_STRICT;
    cfg.dma.ncpus = 2;
    cfg.dma.cycles.map = 2000; // slow CPUs make overlap visible
    cfg.dma.cycles.unmap = 2000;
    std::string t = "attach sid=01:00.0 did=1 mode=sl\n";
    auto map = [&](int h, int cpu) {
        char pa[32];
        std::snprintf(pa, sizeof pa, "0x%x", 0x40000000 + h * 0x1000);
        t += "dma_map sid=01:00.0 handle=" + std::to_string(h) + " pa=" + pa +
             " len=1024 perm=w cpu=" + std::to_string(cpu) + "\n";
    };
    for (int h = 1; h <= 8; h++)
        map(h, h % 2);
    for (int i = 1; i <= 40; i++) {
        t += "dma sid=01:00.0 handle=" + std::to_string(i) + " off=0 len=1024 op=w\n";
        t += "dma_unmap handle=" + std::to_string(i) + " cpu=" + std::to_string(i % 2) + "\n";
        map(i + 8, i % 2);
    }
    std::vector<HostOpRecord> ops;
    TimedRun r;
    RunOptions o;
    o.trace = write_trace(t);
    o.record = &r.rec;
    o.host_record = &ops;
    r.sys = std::make_unique<TimedSystem>(cfg, o, r.stats);
    r.sys->run();
    ASSERT_EQ(r.rec.size(), 40u);
    ASSERT_EQ(r.c("host.dma_unmaps"), 40u);
    std::map<uint64_t, uint64_t> map_end, unmap_start, dma_issue, dma_done;
    for (const HostOpRecord &h : ops) {
        if (h.map)
            map_end[h.handle] = h.end_ps;
        if (h.unmap)
            unmap_start[h.handle] = h.start_ps;
    }
    for (const DmaRecord &d : r.rec) {
        dma_issue[d.handle] = d.issue_ps;
        dma_done[d.handle] = d.complete_ps;
    }
    for (auto &[h, done] : dma_done) {
        EXPECT_GE(dma_issue[h], map_end[h]) << "DMA of buffer " << h << " before its dma_map returned";
        EXPECT_GE(unmap_start[h], done) << "dma_unmap of buffer " << h << " before its DMA completed";
    }
    // overlap: a DMA in flight while some host operation runs, and the two CPUs busy at once
    bool dma_overlap = false, cpu_overlap = false;
    for (const HostOpRecord &h : ops) {
        for (const DmaRecord &d : r.rec)
            dma_overlap = dma_overlap || (d.issue_ps < h.end_ps && h.start_ps < d.complete_ps && d.handle != h.handle);
        for (const HostOpRecord &g : ops)
            cpu_overlap = cpu_overlap || (g.cpu != h.cpu && g.start_ps < h.end_ps && h.start_ps < g.end_ps);
    }
    EXPECT_TRUE(dma_overlap);
    EXPECT_TRUE(cpu_overlap);
    EXPECT_GT(r.c("per_cpu.0.cycles"), 0u);
    EXPECT_GT(r.c("per_cpu.1.cycles"), 0u);
}

} // namespace

namespace {

TEST(InvalidationTimed, DmaAfterADmaLevelWaitStartsOnlyOnceTheWaitCompleted)
{
    TimedConfig cfg = test_config();
    TimedRun r;
    r.go(cfg, write_trace("attach sid=01:00.0 did=1 mode=sl\n"
                          "map did=1 iova=0x100000 pa=0x40000000 len=0x1000 perm=rw page=4K\n"
                          "dma sid=01:00.0 iova=0x100000 len=64 op=r\n"
                          "inv type=iotlb-page did=1 addr=0x100000 am=0\n"
                          "inv type=wait\n"
                          "dma sid=01:00.0 iova=0x100000 len=64 op=r\n"));
    ASSERT_EQ(r.rec.size(), 2u);
    const InvTlmStats &v = r.sys->iommu().inv_stats();
    EXPECT_GE(r.rec[1].issue_ps, v.last_wait_done_ps); // the trace's order is kept
    EXPECT_EQ(r.c("iotlb.misses"), 2u);                // and the invalidation took effect
}

} // namespace
