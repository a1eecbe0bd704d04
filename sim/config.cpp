// config.cpp — the key schema and the preset/--set loader (see config.h).
#include "sim/config.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

using nlohmann::json;

namespace iommusim {

bool parse_int(const std::string &s0, int64_t *out)
{
    std::string s = s0;
    if (s.empty())
        return false;
    int64_t mult = 1;
    switch (s.back()) {
    case 'K': case 'k': mult = 1LL << 10; break;
    case 'M': case 'm': mult = 1LL << 20; break;
    case 'G': case 'g': mult = 1LL << 30; break;
    case 'T': case 't': mult = 1LL << 40; break;
    default: break;
    }
    if (mult != 1)
        s.pop_back();
    if (s.empty() || s[0] == '-' || s[0] == '+' || s[0] == ' ')
        return false;
    errno = 0;
    char *end = nullptr;
    unsigned long long v = std::strtoull(s.c_str(), &end, 0);
    if (errno || *end || v > (unsigned long long)(INT64_MAX / mult))
        return false;
    *out = (int64_t)v * mult;
    return true;
}

namespace {

KeySpec boolkey(const std::string &k, const std::string &desc, bool CoreConfig::*top)
{
    KeySpec s{k, KeyType::Bool, 0, 1, 0, 0, {}, desc, nullptr, nullptr};
    s.get = [top](const CoreConfig &c) { return json(c.*top); };
    s.set = [top](CoreConfig &c, const json &v) { c.*top = v.get<bool>(); };
    return s;
}

KeySpec ubool(const std::string &k, const std::string &desc, bool iommu_cfg::*f)
{
    KeySpec s{k, KeyType::Bool, 0, 1, 0, 0, {}, desc, nullptr, nullptr};
    s.get = [f](const CoreConfig &c) { return json(c.unit.*f); };
    s.set = [f](CoreConfig &c, const json &v) { c.unit.*f = v.get<bool>(); };
    return s;
}

template <typename T, typename S>
KeySpec intkey(const std::string &k, int64_t lo, int64_t hi, const std::string &desc, T S::*f,
               S CoreConfig::*sub)
{
    KeySpec s{k, KeyType::Int, lo, hi, 0, 0, {}, desc, nullptr, nullptr};
    s.get = [f, sub](const CoreConfig &c) { return json((int64_t)((c.*sub).*f)); };
    s.set = [f, sub](CoreConfig &c, const json &v) { (c.*sub).*f = (T)v.get<int64_t>(); };
    return s;
}

template <typename S>
KeySpec floatkey(const std::string &k, double lo, double hi, const std::string &desc, double S::*f,
                 S CoreConfig::*sub)
{
    KeySpec s{k, KeyType::Float, 0, 0, 0, 0, {}, desc, nullptr, nullptr};
    s.fmin = lo;
    s.fmax = hi;
    s.get = [f, sub](const CoreConfig &c) { return json((c.*sub).*f); };
    s.set = [f, sub](CoreConfig &c, const json &v) { (c.*sub).*f = v.get<double>(); };
    return s;
}

template <typename S>
KeySpec subbool(const std::string &k, const std::string &desc, bool S::*f, S CoreConfig::*sub)
{
    KeySpec s{k, KeyType::Bool, 0, 1, 0, 0, {}, desc, nullptr, nullptr};
    s.get = [f, sub](const CoreConfig &c) { return json((c.*sub).*f); };
    s.set = [f, sub](CoreConfig &c, const json &v) { (c.*sub).*f = v.get<bool>(); };
    return s;
}

KeySpec strkey(const std::string &k, const std::string &desc, std::string CoreConfig::*f,
               std::vector<std::string> choices = {})
{
    KeySpec s{k, KeyType::String, 0, 0, 0, 0, choices, desc, nullptr, nullptr};
    s.get = [f](const CoreConfig &c) { return json(c.*f); };
    s.set = [f](CoreConfig &c, const json &v) { c.*f = v.get<std::string>(); };
    return s;
}

// The four keys of one generic cache, addressed through an accessor.
void cache_keys(std::vector<KeySpec> &v, const std::string &prefix, const std::string &what,
                std::function<iommu_cache_cfg &(CoreConfig &)> acc)
{
    auto cacc = [acc](const CoreConfig &c) -> const iommu_cache_cfg & {
        return acc(const_cast<CoreConfig &>(c));
    };
    KeySpec e{prefix + ".entries", KeyType::Int, 0, 1 << 20, 0, 0, {},
              what + ": number of entries (0 = absent)", nullptr, nullptr};
    e.get = [cacc](const CoreConfig &c) { return json((int64_t)cacc(c).entries); };
    e.set = [acc](CoreConfig &c, const json &x) { acc(c).entries = (uint32_t)x.get<int64_t>(); };
    v.push_back(e);
    KeySpec w{prefix + ".ways", KeyType::Int, 0, 1 << 20, 0, 0, {},
              what + ": associativity; 0 = fully associative (ways = entries)", nullptr, nullptr};
    w.get = [cacc](const CoreConfig &c) {
        const iommu_cache_cfg &cc = cacc(c);
        return json((int64_t)(cc.ways == cc.entries ? 0 : cc.ways));
    };
    w.set = [acc](CoreConfig &c, const json &x) { acc(c).ways = (uint32_t)x.get<int64_t>(); };
    v.push_back(w);
    KeySpec p{prefix + ".policy", KeyType::String, 0, 0, 0, 0, {"lru", "plru", "tree-plru", "fifo", "random"},
              what + ": replacement policy", nullptr, nullptr};
    p.get = [cacc](const CoreConfig &c) { return json(std::string(cacc(c).policy)); };
    p.set = [acc](CoreConfig &c, const json &x) {
        std::string s = x.get<std::string>();
        iommu_cache_cfg &cc = acc(c);
        std::snprintf(cc.policy, sizeof cc.policy, "%s", s.c_str());
    };
    v.push_back(p);
    KeySpec sd{prefix + ".seed", KeyType::Int, 0, INT64_MAX, 0, 0, {},
               what + ": seed of the random policy", nullptr, nullptr};
    sd.get = [cacc](const CoreConfig &c) { return json((int64_t)cacc(c).seed); };
    sd.set = [acc](CoreConfig &c, const json &x) { acc(c).seed = (uint64_t)x.get<int64_t>(); };
    v.push_back(sd);
}

std::vector<KeySpec> build_schema()
{
    std::vector<KeySpec> v;
    using U = iommu_cfg;
    auto U_ = &CoreConfig::unit;
    auto H_ = &CoreConfig::host;
    // --- architecture (CAP/ECAP) ---
    v.push_back(ubool("iommu.scalable_mode", "scalable-mode tables (RTADDR.TTM, ECAP.SMTS); false = legacy mode", &U::scalable_mode));
    v.push_back(ubool("iommu.translation_enabled", "DMA remapping enabled (GSTS.TES); false passes DMA untranslated", &U::translation_enabled));
    v.push_back(intkey("iommu.mgaw", 30, 64, "maximum guest address width in bits (CAP.MGAW)", &U::mgaw, U_));
    v.push_back(intkey("iommu.haw", 32, 52, "host address width in bits: table and page addresses must lie below 2^haw", &U::haw, U_));
    {
        KeySpec s{"iommu.sagaw", KeyType::IntList, 3, 5, 0, 0, {},
                  "page-table depths supported (CAP.SAGAW): list of 3, 4, 5 levels", nullptr, nullptr};
        s.get = [](const CoreConfig &c) {
            json a = json::array();
            for (int l = 3; l <= 5; l++)
                if (c.unit.sagaw & (1u << (l - 2)))
                    a.push_back(l);
            return a;
        };
        s.set = [](CoreConfig &c, const json &x) {
            uint8_t m = 0;
            for (auto &e : x)
                m |= (uint8_t)(1u << (e.get<int64_t>() - 2));
            c.unit.sagaw = m;
        };
        v.push_back(s);
    }
    v.push_back(ubool("iommu.sllps_2m", "second-level 2 MB pages (CAP.SLLPS bit 0)", &U::sllps_2m));
    v.push_back(ubool("iommu.sllps_1g", "second-level 1 GB pages (CAP.SLLPS bit 1)", &U::sllps_1g));
    v.push_back(ubool("iommu.fl_1g", "first-level 1 GB pages (CAP.FL1GP)", &U::fl_1g));
    v.push_back(ubool("iommu.fl_5level", "first-level 5-level paging (CAP.FL5LP)", &U::fl_5level));
    v.push_back(intkey("iommu.nd", 0, 6, "number of domains: 4 + 2*nd domain-id bits (CAP.ND)", &U::nd, U_));
    v.push_back(intkey("iommu.nfr", 1, 256, "number of fault-recording registers (CAP.NFR + 1)", &U::nfr, U_));
    v.push_back(intkey("iommu.fro", 0, 0x3FF0, "fault-recording register offset in bytes (CAP.FRO * 16)", &U::fro, U_));
    v.push_back(intkey("iommu.iro", 0, 0x3FF0, "IOTLB register offset in bytes (ECAP.IRO * 16)", &U::iro, U_));
    v.push_back(intkey("iommu.mamv", 0, 63, "maximum address-mask value of page-selective invalidation (CAP.MAMV)", &U::mamv, U_));
    v.push_back(ubool("iommu.caching_mode", "caching mode: not-present entries may be cached (CAP.CM)", &U::caching_mode));
    v.push_back(ubool("iommu.rwbf", "required write-buffer flushing (CAP.RWBF)", &U::rwbf));
    v.push_back(ubool("iommu.psi", "page-selective invalidation (CAP.PSI)", &U::psi));
    v.push_back(ubool("iommu.zlr", "zero-length reads (CAP.ZLR)", &U::zlr));
    v.push_back(ubool("iommu.plmr", "protected low-memory region (CAP.PLMR; reported, not modelled)", &U::plmr));
    v.push_back(ubool("iommu.phmr", "protected high-memory region (CAP.PHMR; reported, not modelled)", &U::phmr));
    v.push_back(ubool("iommu.dwd", "write draining (CAP.DWD)", &U::dwd));
    v.push_back(ubool("iommu.drd", "read draining (CAP.DRD)", &U::drd));
    v.push_back(ubool("iommu.pi", "posted interrupts (CAP.PI)", &U::pi));
    v.push_back(ubool("iommu.coherent", "page-walk coherency (ECAP.C)", &U::coherent));
    v.push_back(ubool("iommu.qi", "queued invalidation (ECAP.QI)", &U::qi));
    v.push_back(ubool("iommu.dev_tlb", "device-TLBs / ATS (ECAP.DT); context TT=1 allowed", &U::dev_tlb));
    v.push_back(ubool("iommu.ir", "interrupt remapping (ECAP.IR)", &U::ir));
    v.push_back(ubool("iommu.eim", "extended interrupt mode, x2APIC (ECAP.EIM)", &U::eim));
    v.push_back(ubool("iommu.pass_through", "pass-through translation type allowed (ECAP.PT)", &U::pass_through));
    v.push_back(ubool("iommu.snoop_control", "snoop control (ECAP.SC)", &U::snoop_control));
    v.push_back(ubool("iommu.nested", "nested translation (ECAP.NEST; scalable mode)", &U::nested));
    v.push_back(ubool("iommu.pasid", "PASID support (ECAP.PASID)", &U::pasid));
    v.push_back(ubool("iommu.fl", "first-level translation (ECAP.FLTS; scalable mode)", &U::fl));
    v.push_back(ubool("iommu.sl", "second-level translation (ECAP.SLTS; always on in legacy mode)", &U::sl));
    v.push_back(intkey("iommu.pasid_bits", 1, 20, "PASID width in bits (ECAP.PSS + 1)", &U::pasid_bits, U_));
    v.push_back(intkey("iommu.mhmv", 0, 15, "maximum interrupt handle mask value (ECAP.MHMV)", &U::mhmv, U_));
    // --- caches ---
    cache_keys(v, "iotlb", "IOTLB (unified; with iotlb.split the 4 KB-page IOTLB)",
               [](CoreConfig &c) -> iommu_cache_cfg & { return c.unit.iotlb.c4k; });
    {
        KeySpec s{"iotlb.split", KeyType::Bool, 0, 1, 0, 0, {},
                  "separate IOTLBs per page size (iotlb, iotlb_2m, iotlb_1g) instead of one unified IOTLB",
                  nullptr, nullptr};
        s.get = [](const CoreConfig &c) { return json(c.unit.iotlb.split); };
        s.set = [](CoreConfig &c, const json &x) { c.unit.iotlb.split = x.get<bool>(); };
        v.push_back(s);
    }
    cache_keys(v, "iotlb_2m", "2 MB-page IOTLB (iotlb.split only)",
               [](CoreConfig &c) -> iommu_cache_cfg & { return c.unit.iotlb.c2m; });
    cache_keys(v, "iotlb_1g", "1 GB-page IOTLB (iotlb.split only)",
               [](CoreConfig &c) -> iommu_cache_cfg & { return c.unit.iotlb.c1g; });
    cache_keys(v, "context_cache", "context cache (tag: source-id)",
               [](CoreConfig &c) -> iommu_cache_cfg & { return c.unit.context_cache; });
    cache_keys(v, "pasid_cache", "PASID cache (scalable mode; tag: source-id, PASID)",
               [](CoreConfig &c) -> iommu_cache_cfg & { return c.unit.pasid_cache; });
    const char *lv[] = {"pde", "pdpe", "pml4e", "pml5e"};
    const char *lvd[] = {"PDE cache (entries pointing to page tables; reach 2 MB)",
                         "PDPE cache (reach 1 GB)", "PML4E cache (reach 512 GB)",
                         "PML5E cache (reach 256 TB; 5-level tables)"};
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++)
        cache_keys(v, std::string("pwc.") + lv[l], lvd[l],
                   [l](CoreConfig &c) -> iommu_cache_cfg & { return c.unit.pwc.level[l]; });
    // --- host ---
    v.push_back(intkey("host.sl_levels", 3, 5, "depth of the second-level tables the host builds (3 = 39-bit, 4 = 48-bit, 5 = 57-bit)", &iommu_host_cfg::sl_levels, H_));
    v.push_back(intkey("host.fl_levels", 4, 5, "depth of the first-level tables the host builds", &iommu_host_cfg::fl_levels, H_));
    v.push_back(intkey("host.table_base", 0, (1LL << 52) - 1, "physical base of the region holding IOMMU tables", &iommu_host_cfg::table_base, H_));
    v.push_back(intkey("host.table_size", 1 << 12, 1LL << 44, "bytes of that region", &iommu_host_cfg::table_size, H_));
    v.push_back(intkey("host.guest_table_base", 0, (1LL << 52) - 1, "guest-physical base of first-level tables of nested domains", &iommu_host_cfg::guest_table_base, H_));
    // --- the timed system (iommusim run) ---
    using tlm_model::IommuTiming;
    auto T_ = &CoreConfig::timing;
    v.push_back(intkey("timing.slots", 1, 4096, "translation slots: translations in flight at once", &IommuTiming::slots, T_));
    v.push_back(intkey("timing.walkers", 1, 1024, "page walkers: concurrent context fetches and page walks", &IommuTiming::walkers, T_));
    v.push_back(subbool("timing.coalesce", "misses to a page being walked wait for that walk instead of walking again", &IommuTiming::coalesce, T_));
    v.push_back(subbool("timing.in_order", "completions leave the IOMMU in request order per requester", &IommuTiming::in_order, T_));
    v.push_back(floatkey("timing.interface_ns", 0, 1e6, "arrival to first lookup (input queue and decode)", &IommuTiming::interface_ns, T_));
    v.push_back(floatkey("timing.context_cache_ns", 0, 1e6, "context-cache lookup latency", &IommuTiming::context_cache_ns, T_));
    v.push_back(intkey("timing.context_cache_ports", 1, 64, "context-cache lookups that can proceed at once", &IommuTiming::context_cache_ports, T_));
    v.push_back(floatkey("timing.pasid_cache_ns", 0, 1e6, "PASID-cache lookup latency", &IommuTiming::pasid_cache_ns, T_));
    v.push_back(intkey("timing.pasid_cache_ports", 1, 64, "PASID-cache lookups that can proceed at once", &IommuTiming::pasid_cache_ports, T_));
    v.push_back(floatkey("timing.iotlb_ns", 0, 1e6, "IOTLB lookup latency", &IommuTiming::iotlb_ns, T_));
    v.push_back(intkey("timing.iotlb_ports", 1, 64, "IOTLB lookups that can proceed at once", &IommuTiming::iotlb_ports, T_));
    v.push_back(floatkey("timing.pwc_ns", 0, 1e6, "paging-structure-cache lookup, once per walk", &IommuTiming::pwc_ns, T_));
    v.push_back(floatkey("timing.walk_step_ns", 0, 1e6, "walker work per table read, besides the memory read", &IommuTiming::walk_step_ns, T_));
    v.push_back(floatkey("timing.inv_desc_ns", 0, 1e6, "invalidation engine: processing per descriptor after its fetch", &IommuTiming::inv_desc_ns, T_));
    v.push_back(floatkey("timing.devtlb_inv_ns", 0, 1e6, "device-TLB invalidation: message to the device, its work and the completion back (a wait waits for it)", &IommuTiming::devtlb_inv_ns, T_));
    v.push_back(floatkey("timing.inv_iotlb_ns", 0, 1e6, "invalidation engine: an IOTLB (and paging-structure) invalidation holds the IOTLB port this long", &IommuTiming::inv_iotlb_ns, T_));
    v.push_back(floatkey("timing.inv_context_ns", 0, 1e6, "invalidation engine: a context-cache invalidation holds its port this long", &IommuTiming::inv_context_ns, T_));
    v.push_back(floatkey("timing.inv_pasid_ns", 0, 1e6, "invalidation engine: a PASID-cache invalidation holds its port this long", &IommuTiming::inv_pasid_ns, T_));
    v.push_back(floatkey("timing.iec_ns", 0, 1e6, "interrupt-entry-cache lookup latency (one port)", &IommuTiming::iec_ns, T_));
    v.push_back(floatkey("timing.inv_iec_ns", 0, 1e6, "invalidation engine: an interrupt-entry-cache invalidation takes this long", &IommuTiming::inv_iec_ns, T_));
    v.push_back(floatkey("timing.fault_ns", 0, 1e6, "fault recording before the error response", &IommuTiming::fault_ns, T_));
    using tlm_model::PcieLinkConfig;
    auto L_ = &CoreConfig::link;
    v.push_back(intkey("link.gen", 1, 5, "PCIe generation (2.5/5/8/16/32 GT/s per lane)", &PcieLinkConfig::gen, L_));
    v.push_back(intkey("link.lanes", 1, 32, "lanes: 1, 2, 4, 8, 16 or 32", &PcieLinkConfig::lanes, L_));
    v.push_back(intkey("link.mps", 128, 4096, "maximum payload size in bytes (power of two)", &PcieLinkConfig::mps, L_));
    v.push_back(intkey("link.mrrs", 128, 4096, "maximum read request size in bytes (power of two)", &PcieLinkConfig::mrrs, L_));
    v.push_back(intkey("link.rcb", 64, 128, "read completion boundary: 64 or 128 bytes", &PcieLinkConfig::rcb, L_));
    v.push_back(subbool("link.rcb_mode", "completions split at the RCB instead of at MPS", &PcieLinkConfig::rcb_mode, L_));
    v.push_back(subbool("link.addr64", "64-bit addressing (4-DW request headers)", &PcieLinkConfig::addr64, L_));
    v.push_back(subbool("link.ecrc", "end-to-end CRC digest, 4 bytes per TLP", &PcieLinkConfig::ecrc, L_));
    v.push_back(floatkey("link.latency_ns", 0, 1e6, "fixed one-way link latency after serialisation", &PcieLinkConfig::latency_ns, L_));
    using tlm_model::MemoryConfig;
    auto M_ = &CoreConfig::memory;
    v.push_back(floatkey("memory.latency_ns", 0, 1e6, "memory access latency", &MemoryConfig::latency_ns, M_));
    v.push_back(floatkey("memory.bandwidth_gbps", 0.001, 1e6, "memory bandwidth shared by DMA data and table reads (Gb/s)", &MemoryConfig::bandwidth_gbps, M_));
    {
        KeySpec s{"memory.pt_cache.mode", KeyType::String, 0, 0, 0, 0, {"none", "probability", "cache"},
                  "cache for page-table reads: none, a hit probability, or a set-associative cache", nullptr, nullptr};
        s.get = [](const CoreConfig &c) { return json(tlm_model::pt_cache_mode_name(c.memory.pt_cache.mode)); };
        s.set = [](CoreConfig &c, const json &x) { tlm_model::pt_cache_mode_from_name(x.get<std::string>(), &c.memory.pt_cache.mode); };
        v.push_back(s);
        KeySpec p{"memory.pt_cache.hit_probability", KeyType::Float, 0, 0, 0.0, 1.0, {}, "probability mode: chance a table read hits", nullptr, nullptr};
        p.get = [](const CoreConfig &c) { return json(c.memory.pt_cache.hit_probability); };
        p.set = [](CoreConfig &c, const json &x) { c.memory.pt_cache.hit_probability = x.get<double>(); };
        v.push_back(p);
        KeySpec sd{"memory.pt_cache.seed", KeyType::Int, 0, INT64_MAX, 0, 0, {}, "probability mode: seed of its random numbers", nullptr, nullptr};
        sd.get = [](const CoreConfig &c) { return json((int64_t)c.memory.pt_cache.seed); };
        sd.set = [](CoreConfig &c, const json &x) { c.memory.pt_cache.seed = (uint64_t)x.get<int64_t>(); };
        v.push_back(sd);
        KeySpec e{"memory.pt_cache.entries", KeyType::Int, 1, 1 << 20, 0, 0, {}, "cache mode: 64-byte lines", nullptr, nullptr};
        e.get = [](const CoreConfig &c) { return json((int64_t)c.memory.pt_cache.entries); };
        e.set = [](CoreConfig &c, const json &x) { c.memory.pt_cache.entries = (uint32_t)x.get<int64_t>(); };
        v.push_back(e);
        KeySpec w{"memory.pt_cache.ways", KeyType::Int, 1, 1 << 20, 0, 0, {}, "cache mode: associativity", nullptr, nullptr};
        w.get = [](const CoreConfig &c) { return json((int64_t)c.memory.pt_cache.ways); };
        w.set = [](CoreConfig &c, const json &x) { c.memory.pt_cache.ways = (uint32_t)x.get<int64_t>(); };
        v.push_back(w);
        KeySpec l{"memory.pt_cache.latency_ns", KeyType::Float, 0, 0, 0.0, 1e6, {}, "page-table-cache hit latency", nullptr, nullptr};
        l.get = [](const CoreConfig &c) { return json(c.memory.pt_cache.latency_ns); };
        l.set = [](CoreConfig &c, const json &x) { c.memory.pt_cache.latency_ns = x.get<double>(); };
        v.push_back(l);
    }
    using tlm_model::EndpointConfig;
    auto D_ = &CoreConfig::device;
    v.push_back(intkey("device.tags", 1, 1024, "outstanding non-posted (read) requests per device", &EndpointConfig::tags, D_));
    v.push_back(intkey("device.posted", 1, 4096, "posted writes in flight per device", &EndpointConfig::posted, D_));
    v.push_back(strkey("device.tags_by_device", "per-device tags overriding device.tags: \"01:00.0=16,02:00.0=64\"", &CoreConfig::tags_by_device));
    v.push_back(strkey("system.devices", "endpoints: \"auto\" (every device with a dma in the trace) or a list \"01:00.0,02:00.0\"", &CoreConfig::devices));
    // --- the host's DMA API and flush policy (host/dma_api.h) ---
    {
        KeySpec f{"host.flush", KeyType::String, 0, 0, 0, 0, {"strict", "lazy", "batched", "passthrough", "identity"},
                  "flush policy of the DMA-API model for buffer-level events (dma_map/dma_unmap)", nullptr, nullptr};
        f.get = [](const CoreConfig &c) { return json(iommu_flush_policy_name(c.dma.policy)); };
        f.set = [](CoreConfig &c, const json &x) { c.dma.policy = (uint8_t)iommu_flush_policy_parse(x.get<std::string>().c_str()); };
        v.push_back(f);
    }
    auto dint = [&v](const char *k, int64_t lo, int64_t hi, const char *desc, auto getp) {
        KeySpec s{k, KeyType::Int, lo, hi, 0, 0, {}, desc, nullptr, nullptr};
        s.get = [getp](const CoreConfig &c) { return json((int64_t)*getp(const_cast<CoreConfig &>(c))); };
        s.set = [getp](CoreConfig &c, const json &x) { *getp(c) = (std::remove_reference_t<decltype(*getp(c))>)x.get<int64_t>(); };
        v.push_back(s);
    };
    auto dbool = [&v](const char *k, const char *desc, auto getp) {
        KeySpec s{k, KeyType::Bool, 0, 1, 0, 0, {}, desc, nullptr, nullptr};
        s.get = [getp](const CoreConfig &c) { return json(*getp(const_cast<CoreConfig &>(c))); };
        s.set = [getp](CoreConfig &c, const json &x) { *getp(c) = x.get<bool>(); };
        v.push_back(s);
    };
    dint("host.cpus", 1, 1024, "CPUs running drivers (an event's cpu= must be below this)", [](CoreConfig &c) { return &c.dma.ncpus; });
    dint("host.lazy.high_water", 1, 1 << 20, "lazy: flush-queue entries per (domain, CPU) before a flush", [](CoreConfig &c) { return &c.dma.lazy_hwm; });
    dint("host.lazy.timeout_ns", 1, INT64_MAX, "lazy: flush timer after the first deferred unmap (ns)", [](CoreConfig &c) { return &c.dma.lazy_timeout_ns; });
    dbool("host.lazy.global", "lazy: flush with a global IOTLB invalidation instead of a domain-selective one", [](CoreConfig &c) { return &c.dma.lazy_global; });
    dint("host.batch", 1, 1 << 20, "batched: unmaps gathered into one range invalidation", [](CoreConfig &c) { return &c.dma.batch; });
    {
        KeySpec g{"host.cpu_ghz", KeyType::Float, 0, 0, 0.001, 100.0, {}, "CPU clock: converts waiting time into cycles", nullptr, nullptr};
        g.get = [](const CoreConfig &c) { return json(c.dma.cpu_ghz); };
        g.set = [](CoreConfig &c, const json &x) { c.dma.cpu_ghz = x.get<double>(); };
        v.push_back(g);
    }
    dint("host.cycles.map", 0, 1 << 30, "cycles per dma_map call (DMA-API entry and bookkeeping)", [](CoreConfig &c) { return &c.dma.cycles.map; });
    dint("host.cycles.map_page", 0, 1 << 30, "cycles per 4 KB page written into the page table", [](CoreConfig &c) { return &c.dma.cycles.map_page; });
    dint("host.cycles.unmap", 0, 1 << 30, "cycles per dma_unmap call", [](CoreConfig &c) { return &c.dma.cycles.unmap; });
    dint("host.cycles.unmap_page", 0, 1 << 30, "cycles per page cleared from the page table", [](CoreConfig &c) { return &c.dma.cycles.unmap_page; });
    dint("host.cycles.iova_alloc", 0, 1 << 30, "cycles per IOVA allocation", [](CoreConfig &c) { return &c.dma.cycles.iova_alloc; });
    dint("host.cycles.iova_step", 0, 1 << 30, "cycles per allocator tree node visited", [](CoreConfig &c) { return &c.dma.cycles.iova_step; });
    dint("host.cycles.iova_free", 0, 1 << 30, "cycles per IOVA free", [](CoreConfig &c) { return &c.dma.cycles.iova_free; });
    dint("host.cycles.fq_add", 0, 1 << 30, "lazy: cycles per flush-queue insertion", [](CoreConfig &c) { return &c.dma.cycles.fq_add; });
    dint("host.cycles.desc", 0, 1 << 30, "cycles per invalidation descriptor written", [](CoreConfig &c) { return &c.dma.cycles.desc; });
    dint("host.cycles.doorbell", 0, 1 << 30, "cycles per IQT doorbell (uncached MMIO write)", [](CoreConfig &c) { return &c.dma.cycles.doorbell; });
    dint("host.cycles.direct", 0, 1 << 30, "passthrough: cycles per dma_map/dma_unmap (dma-direct)", [](CoreConfig &c) { return &c.dma.cycles.direct; });
    dbool("host.iova.rcache", "per-CPU IOVA range caches (Linux always has them)", [](CoreConfig &c) { return &c.dma.iova.rcache; });
    dbool("host.iova.forcedac", "never try 32-bit IOVAs first (iommu.forcedac=1)", [](CoreConfig &c) { return &c.dma.iova.forcedac; });
    dint("host.qi.qs", 0, 7, "invalidation queue size: 4 KB << qs (IQA_REG.QS)", [](CoreConfig &c) { return &c.dma.qi_qs; });
    dbool("device.ats", "devices use ATS: a device-TLB each (devtlb.*), translation requests on its misses, contexts with TT = 01b, device-TLB invalidations in every flush", [](CoreConfig &c) { return &c.dma.ats; });
    cache_keys(v, "devtlb", "each ATS device's device-TLB (tag: PASID, page)",
               [](CoreConfig &c) -> iommu_cache_cfg & { return c.devtlb; });
    cache_keys(v, "iec", "interrupt-entry cache (tag: interrupt index; emptied by IEC invalidations)",
               [](CoreConfig &c) -> iommu_cache_cfg & { return c.unit.iec; });
    {
        KeySpec k{"irq.scheme", KeyType::String, 0, 0, 0, 0, {"static", "remap", "posted", "vm-exit"},
                  "interrupt delivery: static (no remapping, fixed CPU), remap (IRTE retargeted when the consumer moves), posted (VM, posted interrupts), vm-exit (VM, exit and inject per interrupt); posted turns on iommu.pi", nullptr, nullptr};
        k.get = [](const CoreConfig &c) { return json(iommu_irq_scheme_name(c.irq.scheme)); };
        k.set = [](CoreConfig &c, const json &x) { c.irq.scheme = (uint8_t)iommu_irq_scheme_parse(x.get<std::string>().c_str()); };
        v.push_back(k);
    }
    dint("irq.cycles.handler", 0, 1 << 30, "cycles of the consumer's interrupt handler (every delivered interrupt)", [](CoreConfig &c) { return &c.irq.cycles.handler; });
    dint("irq.cycles.ipi", 0, 1 << 30, "cycles of one IPI (sending and receiving)", [](CoreConfig &c) { return &c.irq.cycles.ipi; });
    dint("irq.cycles.vm_exit", 0, 1 << 30, "cycles of one VM exit and re-entry", [](CoreConfig &c) { return &c.irq.cycles.vm_exit; });
    dint("irq.cycles.host_handler", 0, 1 << 30, "cycles of the host's handler of a VM's interrupt (forward and inject, or the wake-up notification)", [](CoreConfig &c) { return &c.irq.cycles.host_handler; });
    dint("irq.cycles.wakeup", 0, 1 << 30, "cycles to wake a halted vCPU or blocked thread and run it", [](CoreConfig &c) { return &c.irq.cycles.wakeup; });
    dint("irq.cycles.irte_update", 0, 1 << 30, "cycles for the driver to rewrite one IRTE (the IEC invalidation is charged as queue work)", [](CoreConfig &c) { return &c.irq.cycles.irte_update; });
    dint("irq.cycles.pid_update", 0, 1 << 30, "cycles of one atomic posted-interrupt-descriptor update by the VMM", [](CoreConfig &c) { return &c.irq.cycles.pid_update; });
    {
        KeySpec d{"irq.deliver_ns", KeyType::Float, 0, 0, 0.0, 1e6, {}, "interrupt message from the IOMMU to the landing CPU's local APIC (ns)", nullptr, nullptr};
        d.get = [](const CoreConfig &c) { return json(c.irq.deliver_ns); };
        d.set = [](CoreConfig &c, const json &x) { c.irq.deliver_ns = x.get<double>(); };
        v.push_back(d);
        KeySpec i{"irq.ipi_ns", KeyType::Float, 0, 0, 0.0, 1e6, {}, "an IPI in flight between CPUs (ns)", nullptr, nullptr};
        i.get = [](const CoreConfig &c) { return json(c.irq.ipi_ns); };
        i.set = [](CoreConfig &c, const json &x) { c.irq.ipi_ns = x.get<double>(); };
        v.push_back(i);
    }
    dint("irq.irt_entries", 2, 65536, "interrupt-remapping table entries (a power of two; IRTA.S)", [](CoreConfig &c) { return &c.irq.irt_entries; });
    dbool("irq.x2apic", "x2APIC destinations (IRTA.EIME, 32-bit APIC ids; needs iommu.eim)", [](CoreConfig &c) { return &c.irq.x2apic; });
    dint("irq.max_cpus", 1, 65536, "highest CPU number + 1 a sched event may name (xAPIC: at most 256)", [](CoreConfig &c) { return &c.irq.max_cpus; });
    {
        KeySpec m{"sched.model", KeyType::String, 0, 0, 0, 0, {"trace", "synthetic"},
                  "where consumers run: the trace's sched events, or the synthetic scheduler (sched.*; for traces without sched events)", nullptr, nullptr};
        m.get = [](const CoreConfig &c) { return json(c.irq.synthetic ? "synthetic" : "trace"); };
        m.set = [](CoreConfig &c, const json &x) { c.irq.synthetic = x.get<std::string>() == "synthetic"; };
        v.push_back(m);
    }
    dint("sched.cpus", 1, 65536, "synthetic scheduler: CPUs consumers are placed on (consumer T starts on T mod cpus)", [](CoreConfig &c) { return &c.irq.sched.cpus; });
    dint("sched.migrate_every", 0, INT64_MAX, "synthetic scheduler: a consumer moves to another CPU every M of its interrupts (0: never)", [](CoreConfig &c) { return &c.irq.sched.migrate_every; });
    {
        KeySpec hk{"sched.halted", KeyType::Float, 0, 0, 0.0, 1.0, {}, "synthetic scheduler, VM schemes: probability a vCPU is halted when an interrupt for it arrives", nullptr, nullptr};
        hk.get = [](const CoreConfig &c) { return json(c.irq.sched.p_halted); };
        hk.set = [](CoreConfig &c, const json &x) { c.irq.sched.p_halted = x.get<double>(); };
        v.push_back(hk);
        KeySpec pk{"sched.preempted", KeyType::Float, 0, 0, 0.0, 1.0, {}, "synthetic scheduler, VM schemes: probability a vCPU is preempted when an interrupt for it arrives", nullptr, nullptr};
        pk.get = [](const CoreConfig &c) { return json(c.irq.sched.p_preempted); };
        pk.set = [](CoreConfig &c, const json &x) { c.irq.sched.p_preempted = x.get<double>(); };
        v.push_back(pk);
    }
    dint("sched.preempt_ns", 0, INT64_MAX, "synthetic scheduler: a preempted vCPU runs again this long after (timed runs; ns)", [](CoreConfig &c) { return &c.irq.sched.preempt_ns; });
    dint("sched.seed", 0, INT64_MAX, "synthetic scheduler: seed of its random draws", [](CoreConfig &c) { return &c.irq.sched.seed; });
    v.push_back(boolkey("host.service_faults", "the host's fault handler reads and clears fault records after every DMA (false: records fill up and overflow)", &CoreConfig::service_faults));
    return v;
}

std::string join_choices(const std::vector<std::string> &c)
{
    std::string s;
    for (auto &x : c)
        s += (s.empty() ? "" : "|") + x;
    return s;
}

} // namespace

const std::vector<KeySpec> &config_schema()
{
    static const std::vector<KeySpec> schema = build_schema();
    return schema;
}

const KeySpec *config_find(const std::string &key)
{
    for (auto &k : config_schema())
        if (k.key == key)
            return &k;
    return nullptr;
}

Config::Config()
{
    iommu_cfg_default(&cfg_.unit);
    iommu_host_cfg_default(&cfg_.host);
    iommu_dma_cfg_default(&cfg_.dma);
    iommu_cache_cfg_default(&cfg_.devtlb); // 64 entries, fully associative, LRU
    iommu_irqhost_cfg_default(&cfg_.irq);
    cfg_.service_faults = true;
}

// Checks the JSON value against the key's type and range and converts strings ("0x1000",
// "16K", "true") where the type asks for it. Throws InputError.
static json coerce(const KeySpec &k, const json &v, const std::string &where)
{
    auto bad = [&](const std::string &why) -> InputError {
        return InputError(where + ": " + k.key + ": " + why);
    };
    auto to_int = [&](const json &x) -> int64_t {
        int64_t n;
        if (x.is_number_integer())
            n = x.get<int64_t>();
        else if (x.is_number_unsigned() && x.get<uint64_t>() <= (uint64_t)INT64_MAX)
            n = (int64_t)x.get<uint64_t>();
        else if (x.is_string() && parse_int(x.get<std::string>(), &n))
            ;
        else
            throw bad("expected an integer, got " + x.dump());
        if (n < k.min || n > k.max)
            throw bad(std::to_string(n) + " is out of range [" + std::to_string(k.min) + ", " +
                      std::to_string(k.max) + "]");
        return n;
    };
    switch (k.type) {
    case KeyType::Bool:
        if (v.is_boolean())
            return v;
        if (v.is_string()) {
            std::string s = v.get<std::string>();
            if (s == "true" || s == "1" || s == "yes" || s == "on")
                return true;
            if (s == "false" || s == "0" || s == "no" || s == "off")
                return false;
        }
        throw bad("expected true or false, got " + v.dump());
    case KeyType::Int:
        return to_int(v);
    case KeyType::String: {
        if (!v.is_string())
            throw bad("expected a string, got " + v.dump());
        std::string s = v.get<std::string>();
        if (!k.choices.empty()) {
            bool ok = false;
            for (auto &c : k.choices)
                ok = ok || c == s;
            if (!ok)
                throw bad("'" + s + "' is not one of " + join_choices(k.choices));
        }
        return v;
    }
    case KeyType::Float: {
        double d;
        if (v.is_number())
            d = v.get<double>();
        else if (v.is_string()) {
            std::string t = v.get<std::string>();
            char *end = nullptr;
            errno = 0;
            d = std::strtod(t.c_str(), &end);
            if (t.empty() || *end || errno)
                throw bad("expected a number, got " + v.dump());
        } else
            throw bad("expected a number, got " + v.dump());
        if (!(d >= k.fmin && d <= k.fmax))
            throw bad(v.dump() + " is out of range [" + json(k.fmin).dump() + ", " + json(k.fmax).dump() + "]");
        return d;
    }
    case KeyType::IntList: {
        json arr = json::array();
        if (v.is_array()) {
            for (auto &e : v)
                arr.push_back(to_int(e));
        } else if (v.is_string()) {
            std::stringstream ss(v.get<std::string>());
            std::string item;
            while (std::getline(ss, item, ','))
                arr.push_back(to_int(json(item)));
        } else {
            arr.push_back(to_int(v));
        }
        if (arr.empty())
            throw bad("expected a non-empty list");
        return arr;
    }
    }
    return v;
}

void Config::set_json(const std::string &key, const json &v, const std::string &where)
{
    const KeySpec *k = config_find(key);
    if (!k)
        throw InputError(where + ": unknown config key '" + key + "'");
    k->set(cfg_, coerce(*k, v, where));
    // posted interrupts need a unit that has them: the scheme turns CAP.PI on (the Haswell-EP
    // preset has none), so schemes compare on otherwise the same unit
    if (key == "irq.scheme" && cfg_.irq.scheme == IOMMU_IRQS_POSTED)
        cfg_.unit.pi = true;
}

static void flatten(const json &j, const std::string &prefix, std::vector<std::pair<std::string, json>> &out)
{
    for (auto it = j.begin(); it != j.end(); ++it) {
        std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
        if (it.value().is_object() && !config_find(key))
            flatten(it.value(), key, out);
        else
            out.emplace_back(key, it.value());
    }
}

void Config::load_file(const std::string &path) { load_layer(path, 0); preset_ = path; }

// Loads one preset file; "_base": "other.json" (relative to this file) is loaded first, so a
// preset states only what differs from its base. Sources are inherited the same way.
void Config::load_layer(const std::string &path, int depth)
{
    if (depth > 8)
        throw InputError(path + ": _base chain deeper than 8 presets (a cycle?)");
    std::ifstream in(path);
    if (!in)
        throw InputError(path + ": cannot open config file");
    json j;
    try {
        j = json::parse(in);
    } catch (const json::parse_error &e) {
        std::string what = e.what();
        throw InputError(path + ": invalid JSON (" + what.substr(what.find(']') + 2) + ")");
    }
    if (!j.is_object())
        throw InputError(path + ": a config file must hold a JSON object");
    if (j.contains("_base")) {
        if (!j["_base"].is_string())
            throw InputError(path + ": _base must name a preset file");
        std::string base = j["_base"].get<std::string>();
        if (base.empty() || base[0] != '/') {
            auto slash = path.rfind('/');
            base = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + base;
        }
        load_layer(base, depth + 1);
    }
    std::vector<std::pair<std::string, json>> kv;
    json meta = json::object();
    for (auto it = j.begin(); it != j.end(); ++it)
        if (!it.key().empty() && it.key()[0] == '_')
            meta[it.key()] = it.value();
    json body = j;
    for (auto it = meta.begin(); it != meta.end(); ++it)
        body.erase(it.key());
    flatten(body, "", kv);
    for (auto &[key, val] : kv)
        set_json(key, val, path);
    if (meta.contains("_sources")) {
        const json &s = meta["_sources"];
        if (!s.is_object())
            throw InputError(path + ": _sources must map config keys to citations");
        for (auto it = s.begin(); it != s.end(); ++it) {
            if (!config_find(it.key()))
                throw InputError(path + ": _sources: unknown config key '" + it.key() + "'");
            if (!it.value().is_string())
                throw InputError(path + ": _sources: " + it.key() + ": citation must be a string");
            sources_[it.key()] = it.value().get<std::string>();
        }
    }
}

void Config::set(const std::string &a)
{
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0)
        throw InputError("--set " + a + ": expected key=value");
    std::string key = a.substr(0, eq), val = a.substr(eq + 1);
    const KeySpec *k = config_find(key);
    if (!k)
        throw InputError("--set: unknown config key '" + key + "'");
    set_json(key, json(val), "--set");
    overrides_++;
}

Config Config::load(const std::string &preset, const std::vector<std::string> &sets)
{
    Config cfg;
    cfg.load_file(preset.empty() ? default_config_path() : preset);
    for (auto &s : sets)
        cfg.set(s);
    return cfg;
}

CoreConfig Config::core() const
{
    CoreConfig c = cfg_;
    // ways = 0 means fully associative
    auto fix = [](iommu_cache_cfg &cc) {
        if (cc.ways == 0)
            cc.ways = cc.entries;
    };
    fix(c.unit.iotlb.c4k);
    fix(c.unit.iotlb.c2m);
    fix(c.unit.iotlb.c1g);
    fix(c.unit.context_cache);
    fix(c.unit.pasid_cache);
    fix(c.unit.iec);
    fix(c.devtlb);
    for (auto &l : c.unit.pwc.level)
        fix(l);
    c.host.haw = c.unit.haw;
    c.host.scalable = c.unit.scalable_mode;
    c.irq.cpu_ghz = c.dma.cpu_ghz;
    c.irq.sched.vm = c.irq.scheme == IOMMU_IRQS_POSTED || c.irq.scheme == IOMMU_IRQS_VMEXIT;
    const char *key = nullptr, *why = nullptr;
    char irq_why[200];
    if (iommu_irqhost_cfg_validate(&c.irq, &key, irq_why, sizeof irq_why) != IOMMU_OK)
        throw InputError(std::string("config: ") + key + ": " + irq_why);
    if (iommu_cfg_validate(&c.unit, &key, &why) != IOMMU_OK)
        throw InputError(std::string("config: ") + (key ? key : "?") + ": " + (why ? why : "invalid"));
    if (iommu_host_cfg_validate(&c.host, &key, &why) != IOMMU_OK)
        throw InputError(std::string("config: ") + (key ? key : "?") + ": " + (why ? why : "invalid"));
    if (const char *w = nullptr; c.devtlb.entries && iommu_cache_cfg_validate(&c.devtlb, &w) != IOMMU_OK)
        throw InputError(std::string("config: devtlb: ") + (w ? w : "invalid"));
    if (iommu_dma_cfg_validate(&c.dma, &key, &why) != IOMMU_OK)
        throw InputError(std::string("config: ") + (key ? key : "?") + ": " + (why ? why : "invalid"));
    std::string key2, why2;
    if (!tlm_model::validate(c.link, &key2, &why2))
        throw InputError("config: " + key2 + ": " + why2);
    if (!tlm_model::validate(c.memory, &key2, &why2))
        throw InputError("config: " + key2 + ": " + why2);
    if (std::string e = tlm_model::validate(c.timing); !e.empty())
        throw InputError("config: " + e);
    timed_config(c); // device lists
    if (!(c.unit.sagaw & (1u << (c.host.sl_levels - 2))))
        throw InputError("config: host.sl_levels: " + std::to_string(c.host.sl_levels) +
                         "-level tables are not in iommu.sagaw");
    return c;
}

json Config::resolved() const
{
    json out = json::object();
    for (auto &k : config_schema()) {
        json *node = &out;
        std::stringstream ss(k.key);
        std::string part, last;
        std::vector<std::string> parts;
        while (std::getline(ss, part, '.'))
            parts.push_back(part);
        for (size_t i = 0; i + 1 < parts.size(); i++)
            node = &(*node)[parts[i]];
        (*node)[parts.back()] = k.get(cfg_);
    }
    return out;
}

static std::vector<std::string> split(const std::string &s, char sep)
{
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, sep))
        if (!item.empty())
            out.push_back(item);
    return out;
}

tlm_model::TimedConfig timed_config(const CoreConfig &c)
{
    tlm_model::TimedConfig t;
    t.unit = c.unit;
    t.host = c.host;
    t.dma = c.dma;
    t.devtlb = c.devtlb;
    t.irq = c.irq;
    t.service_faults = c.service_faults;
    t.timing = c.timing;
    t.link = c.link;
    t.memory = c.memory;
    t.device = c.device;
    if (c.devices != "auto") {
        for (const std::string &d : split(c.devices, ',')) {
            iommu_sid_t sid;
            if (!iommu_sid_parse(d.c_str(), &sid))
                throw InputError("config: system.devices: '" + d + "' is not a bus:dev.fn");
            t.devices.push_back(sid);
        }
        if (t.devices.empty())
            throw InputError("config: system.devices: empty list (use \"auto\")");
    }
    for (const std::string &kv : split(c.tags_by_device, ',')) {
        auto eq = kv.find('=');
        iommu_sid_t sid;
        int64_t n;
        if (eq == std::string::npos || !iommu_sid_parse(kv.substr(0, eq).c_str(), &sid) ||
            !parse_int(kv.substr(eq + 1), &n) || n < 1 || n > 1024)
            throw InputError("config: device.tags_by_device: '" + kv + "' is not bus:dev.fn=tags (1..1024)");
        t.tags_by_device[sid] = (unsigned)n;
    }
    return t;
}

std::string find_data_file(const std::string &rel)
{
    std::vector<std::string> bases = {IOMMUSIM_SOURCE_DIR};
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        std::string d(exe);
        d = d.substr(0, d.rfind('/'));
        bases.push_back(d + "/..");
        bases.push_back(d + "/../share/iommusim");
    }
    for (auto &b : bases) {
        std::string p = b + "/" + rel;
        if (access(p.c_str(), R_OK) == 0)
            return p;
    }
    return rel;
}

std::string default_config_path() { return find_data_file("configs/default.json"); }
std::string default_trace_path() { return find_data_file("traces/samples/default.trace"); }

} // namespace iommusim
