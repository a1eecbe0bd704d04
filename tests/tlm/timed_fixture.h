// timed_fixture.h — what the timed-system tests share: a configuration with round numbers,
// a trace written to a temporary file, and a run that records every DMA and keeps the stats.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include "model/tlm/system.h"

namespace iommusim::tlm_model {

// Round numbers: memory 100 ns + 512 Gb/s (8 B = 125 ps, 16 B = 250 ps, 4 B = 62.5 ps,
// 64 B = 1 ns); IOMMU timing defaults (interface 8, cc 2, iotlb 3, pwc 4, walk step 2 ns);
// link Gen3 x8, MPS 256, MRRS 512, 64-bit, latency 200 ns; caches set explicitly.
inline TimedConfig timed_test_config()
{
    TimedConfig c;
    iommu_cfg_default(&c.unit);
    iommu_host_cfg_default(&c.host);
    iommu_dma_cfg_default(&c.dma);
    iommu_irqhost_cfg_default(&c.irq);
    auto cache = [](iommu_cache_cfg &k, uint32_t n) {
        iommu_cache_cfg_default(&k);
        k.entries = k.ways = n;
    };
    cache(c.unit.iotlb.c4k, 64);
    cache(c.unit.context_cache, 16);
    cache(c.unit.pasid_cache, 16);
    cache(c.unit.pwc.level[IOMMU_PWC_PDE], 16);
    cache(c.unit.pwc.level[IOMMU_PWC_PDPE], 8);
    cache(c.unit.pwc.level[IOMMU_PWC_PML4E], 4);
    cache(c.unit.pwc.level[IOMMU_PWC_PML5E], 0);
    c.host.haw = c.unit.haw;
    c.timing = IommuTiming();
    c.memory.latency_ns = 100;
    c.memory.bandwidth_gbps = 512;
    c.link = PcieLinkConfig();
    return c;
}

// Writes `body` to a new temporary .trace file and returns its path.
inline std::string write_trace_file(const std::string &body)
{
    char path[] = "/tmp/iommusim-timed-XXXXXX.trace";
    int fd = mkstemps(path, 6);
    EXPECT_GE(fd, 0);
    close(fd);
    std::ofstream(path) << body;
    return path;
}

struct TimedRun {
    std::vector<DmaRecord> rec;
    std::vector<uint64_t> irq; // interrupt latencies (ps)
    iommu_stats_t *stats = iommu_stats_create();
    std::unique_ptr<TimedSystem> sys;
    ~TimedRun()
    {
        sys.reset();
        iommu_stats_destroy(stats);
    }
    uint64_t c(const char *name) const
    {
        const iommu_stat_info *e = iommu_stats_find(stats, name);
        return e ? *e->counter : ~0ull;
    }
    void go(const TimedConfig &cfg, const std::string &trace)
    {
        RunOptions o;
        o.trace = trace;
        o.record = &rec;
        o.irq_record = &irq;
        sys = std::make_unique<TimedSystem>(cfg, o, stats);
        sys->run();
    }
};

} // namespace iommusim::tlm_model
