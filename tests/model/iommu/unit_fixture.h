// unit_fixture.h — a small system for unit tests: physical memory, stats, the host table
// writer and the translation unit, with helpers to translate requests functionally.
#pragma once

#include <gtest/gtest.h>

#include <string>

extern "C" {
#include "host/host.h"
#include "model/iommu/iommu.h"
#include "model/iommu/regs.h"
}

struct UnitSystem {
    iommu_cfg cfg;
    iommu_host_cfg hcfg;
    iommu_physmem_t *mem = nullptr;
    iommu_stats_t *stats = nullptr;
    iommu_host_t *host = nullptr;
    iommu_t *unit = nullptr;
    iommu_op op{};

    UnitSystem() { defaults(); }
    ~UnitSystem() { destroy(); }

    // The default configuration with caches set explicitly (independent of presets).
    void defaults()
    {
        iommu_cfg_default(&cfg);
        iommu_host_cfg_default(&hcfg);
        set_cache(cfg.iotlb.c4k, 64, 64);
        cfg.iotlb.split = false;
        set_cache(cfg.context_cache, 16, 16);
        set_cache(cfg.pasid_cache, 16, 16);
        set_cache(cfg.pwc.level[IOMMU_PWC_PDE], 16, 16);
        set_cache(cfg.pwc.level[IOMMU_PWC_PDPE], 8, 8);
        set_cache(cfg.pwc.level[IOMMU_PWC_PML4E], 4, 4);
        set_cache(cfg.pwc.level[IOMMU_PWC_PML5E], 0, 0);
    }

    static void set_cache(iommu_cache_cfg &c, uint32_t entries, uint32_t ways, const char *policy = "lru")
    {
        iommu_cache_cfg_default(&c);
        c.entries = entries;
        c.ways = ways;
        snprintf(c.policy, sizeof c.policy, "%s", policy);
    }

    // Builds the system from cfg/hcfg (call after changing them).
    void build()
    {
        destroy();
        hcfg.haw = cfg.haw;
        hcfg.scalable = cfg.scalable_mode;
        mem = iommu_physmem_create();
        stats = iommu_stats_create();
        host = iommu_host_create(&hcfg, mem);
        ASSERT_NE(host, nullptr);
        unit = iommu_create(&cfg, mem, stats);
        ASSERT_NE(unit, nullptr);
        iommu_set_root_table(unit, iommu_host_rtaddr(host));
    }

    void destroy()
    {
        iommu_destroy(unit);
        iommu_host_destroy(host);
        iommu_stats_destroy(stats);
        iommu_physmem_destroy(mem);
        unit = nullptr;
        host = nullptr;
        stats = nullptr;
        mem = nullptr;
    }

    uint64_t c(const std::string &name) const
    {
        const iommu_stat_info *e = iommu_stats_find(stats, name.c_str());
        return e && e->kind == IOMMU_STAT_COUNTER ? *e->counter : ~0ull;
    }

    // Translates one request; returns the number of chunks.
    uint32_t xlate(iommu_sid_t sid, uint64_t iova, uint64_t len, uint8_t access,
                   iommu_pasid_t pasid = IOMMU_PASID_NONE)
    {
        iommu_req r{sid, pasid, iova, len, access, 0};
        return iommu_translate_functional(unit, &op, &r, nullptr, nullptr);
    }
};
