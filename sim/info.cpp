// info.cpp — `iommusim info`: the modelled unit's capability registers, decoded field by
// field as the VT-d specification names them, plus its cache organisation.
#include <cstdio>
#include <iostream>

#include <boost/program_options.hpp>

#include "sim/cli.h"
#include "sim/config.h"

extern "C" {
#include "model/iommu/regs.h"
}

namespace po = boost::program_options;

namespace iommusim {

static void print_reg(const char *name, unsigned offset, uint64_t v,
                      const iommu_reg_field *fields)
{
    std::printf("%s (offset 0x%03x) = 0x%016llx\n", name, offset, (unsigned long long)v);
    for (const iommu_reg_field *f = fields; f->name; f++) {
        uint64_t x = iommu_reg_field_get(v, f);
        char bits[16], expl[96];
        if (f->lo == f->hi)
            std::snprintf(bits, sizeof bits, "%u", f->lo);
        else
            std::snprintf(bits, sizeof bits, "%u:%u", f->hi, f->lo);
        iommu_reg_field_explain(f, x, expl, sizeof expl);
        std::printf("  %-6s [%5s] %-44s = %#-6llx %s\n", f->name, bits, f->desc,
                    (unsigned long long)x, expl);
    }
}

static void print_cache(const char *name, const iommu_cache_cfg &c)
{
    if (!c.entries) {
        std::printf("  %-16s absent\n", name);
        return;
    }
    if (c.ways == c.entries)
        std::printf("  %-16s %u entries, fully associative, %s\n", name, c.entries, c.policy);
    else
        std::printf("  %-16s %u entries, %u sets x %u ways, %s\n", name, c.entries,
                    c.entries / c.ways, c.ways, c.policy);
}

int cmd_info(int argc, char **argv)
{
    po::options_description desc("usage: iommusim info [-c CONFIG] [--set key=value]...\n\noptions");
    std::vector<std::string> sets;
    std::string config;
    desc.add_options()("help,h", "this text")(
        "config,c", po::value(&config), "JSON preset (default: configs/default.json)")(
        "set", po::value(&sets)->composing(), "override a config key (repeatable)");
    po::variables_map vm;
    if (int rc = parse_options("info", desc, argc, argv, vm); rc >= 0)
        return rc;
    return guarded([&]() -> int {
        const Config cfg = Config::load(config, sets);
        const CoreConfig core = cfg.core();
        const std::string preset = cfg.preset();
        const iommu_cfg &u = core.unit;
        std::printf("Intel VT-d remapping unit modelled by %s\n\n", preset.c_str());
        std::printf("VER_REG  (offset 0x000) = 0x%08x (architecture version %u.%u)\n\n", IOMMU_REG_VER,
                    IOMMU_REG_VER >> 4, IOMMU_REG_VER & 0xF);
        print_reg("CAP_REG ", 0x008, iommu_reg_cap(&u), iommu_cap_fields);
        std::printf("\n");
        print_reg("ECAP_REG", 0x010, iommu_reg_ecap(&u), iommu_ecap_fields);
        std::printf("\nmode: %s, translation %s, host address width %u bits\n",
                    u.scalable_mode ? "scalable" : "legacy", u.translation_enabled ? "enabled" : "disabled",
                    u.haw);
        std::printf("caches:\n");
        if (u.iotlb.split) {
            print_cache("IOTLB 4K", u.iotlb.c4k);
            print_cache("IOTLB 2M", u.iotlb.c2m);
            print_cache("IOTLB 1G", u.iotlb.c1g);
        } else {
            print_cache("IOTLB", u.iotlb.c4k);
        }
        print_cache("context cache", u.context_cache);
        if (u.scalable_mode)
            print_cache("PASID cache", u.pasid_cache);
        const char *lv[] = {"PDE cache", "PDPE cache", "PML4E cache", "PML5E cache"};
        for (int l = 0; l < IOMMU_PWC_NLEVELS; l++)
            print_cache(lv[l], u.pwc.level[l]);
        return EXIT_OK;
    });
}

} // namespace iommusim
