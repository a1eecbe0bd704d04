// memory.cpp — the Memory module (see memory.h for the timing equations and assumptions).
#include "model/tlm/memory.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "model/tlm/payload.h"

namespace iommusim::tlm_model {

namespace {

constexpr unsigned kLineShift = 6; // page-table cache lines are 64 B
constexpr uint32_t kTableReadMin = 8, kTableReadMax = 64;

bool fail(std::string *key, std::string *reason, const char *k, const std::string &why)
{
    if (key)
        *key = k;
    if (reason)
        *reason = why;
    return false;
}

std::string num(double v)
{
    char buf[40];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

bool time_ok(double ns) { return std::isfinite(ns) && ns >= 0 && ns <= 1e6; }

iommu_cache_cfg pt_cache_cfg(const PtCacheConfig &p)
{
    iommu_cache_cfg c;
    iommu_cache_cfg_default(&c);
    c.entries = p.entries;
    c.ways = p.ways;
    std::snprintf(c.policy, sizeof c.policy, "%s", "lru");
    c.seed = p.seed;
    return c;
}

} // namespace

const char *pt_cache_mode_name(PtCacheMode m)
{
    switch (m) {
    case PtCacheMode::None:
        return "none";
    case PtCacheMode::Probability:
        return "probability";
    case PtCacheMode::Cache:
        return "cache";
    }
    return "?";
}

bool pt_cache_mode_from_name(const std::string &name, PtCacheMode *out)
{
    for (PtCacheMode m : {PtCacheMode::None, PtCacheMode::Probability, PtCacheMode::Cache}) {
        if (name == pt_cache_mode_name(m)) {
            *out = m;
            return true;
        }
    }
    return false;
}

bool validate(const MemoryConfig &c, std::string *key, std::string *reason)
{
    if (!time_ok(c.latency_ns))
        return fail(key, reason, "memory.latency_ns", num(c.latency_ns) + " is not in [0, 1e6] ns");
    if (!std::isfinite(c.bandwidth_gbps) || !(c.bandwidth_gbps > 0) || c.bandwidth_gbps > 1e6)
        return fail(key, reason, "memory.bandwidth_gbps",
                    num(c.bandwidth_gbps) + " is not in (0, 1e6] Gb/s");
    const PtCacheConfig &p = c.pt_cache;
    if (std::strcmp(pt_cache_mode_name(p.mode), "?") == 0)
        return fail(key, reason, "memory.pt_cache.mode",
                    std::to_string(unsigned(p.mode)) + " is not none, probability or cache");
    if (!(p.hit_probability >= 0 && p.hit_probability <= 1)) // also rejects NaN
        return fail(key, reason, "memory.pt_cache.hit_probability",
                    num(p.hit_probability) + " is not in [0, 1]");
    if (p.mode == PtCacheMode::Cache && p.entries == 0)
        return fail(key, reason, "memory.pt_cache.entries", "0 lines: cache mode needs at least 1");
    const iommu_cache_cfg cc = pt_cache_cfg(p);
    iommu_cache_cfg_field field = IOMMU_CACHE_CFG_ENTRIES;
    const char *why = nullptr;
    if (iommu_cache_cfg_check(&cc, &field, &why) != IOMMU_OK)
        return fail(key, reason,
                    field == IOMMU_CACHE_CFG_WAYS ? "memory.pt_cache.ways" : "memory.pt_cache.entries",
                    std::to_string(p.entries) + " entries, " + std::to_string(p.ways) +
                        " ways: " + (why ? why : "invalid geometry"));
    if (!time_ok(p.latency_ns))
        return fail(key, reason, "memory.pt_cache.latency_ns",
                    num(p.latency_ns) + " is not in [0, 1e6] ns");
    // memory.pt_cache.seed: every 64-bit value is valid.
    return true;
}

Memory::Memory(sc_core::sc_module_name name, const MemoryConfig &cfg, iommu_physmem_t *physmem)
    : sc_core::sc_module(name), mem("mem"), cfg_(cfg), physmem_(physmem)
{
    std::string key, why;
    if (!validate(cfg, &key, &why))
        throw std::invalid_argument(key + ": " + why);
    if (cfg.pt_cache.mode == PtCacheMode::Cache) {
        const iommu_cache_cfg cc = pt_cache_cfg(cfg.pt_cache);
        pt_cache_ = iommu_cache_create(&cc, 0);
        if (!pt_cache_)
            throw std::bad_alloc();
    }
    iommu_rng_seed(&rng_, cfg.pt_cache.seed);
    const sc_core::sc_time one_ps(1.0, sc_core::SC_PS);
    const double units_per_ps = one_ps.value() != 0
                                    ? double(one_ps.value())
                                    : 1e-12 / sc_core::sc_get_time_resolution().to_seconds();
    units_per_byte_ = 8000.0 / cfg.bandwidth_gbps * units_per_ps; // ps per byte × units per ps
    latency_ = sc_core::sc_time(cfg.latency_ns, sc_core::SC_NS);
    pt_latency_ = sc_core::sc_time(cfg.pt_cache.latency_ns, sc_core::SC_NS);

    mem.register_nb_transport_fw(this, &Memory::nb_transport_fw);
    mem.register_b_transport(this, &Memory::b_transport);
    mem.register_transport_dbg(this, &Memory::transport_dbg);
}

Memory::~Memory() { iommu_cache_destroy(pt_cache_); }

bool Memory::pt_cache_hit(uint64_t addr, uint32_t len)
{
    switch (cfg_.pt_cache.mode) {
    case PtCacheMode::None:
        return false;
    case PtCacheMode::Probability:
        return iommu_rng_unit(&rng_) < cfg_.pt_cache.hit_probability;
    case PtCacheMode::Cache:
        break;
    }
    // A hit needs every line the read touches (one for aligned table entries, at most two).
    const uint64_t first = addr >> kLineShift, last = (addr + len - 1) >> kLineShift;
    bool hit = true;
    for (uint64_t line = first; line <= last; line++) {
        const iommu_cache_key k = {0, line};
        if (!iommu_cache_lookup(pt_cache_, uint32_t(line), &k)) {
            hit = false;
            iommu_cache_insert(pt_cache_, uint32_t(line), &k, nullptr);
        }
    }
    return hit;
}

sc_core::sc_time Memory::access(tlm::tlm_generic_payload &trans, const sc_core::sc_time &delay)
{
    const sc_core::sc_time now = sc_core::sc_time_stamp();
    const sc_core::sc_time arrival = now + delay;
    IommuExt *ext = trans.get_extension<IommuExt>();
    const bool table = ext && ext->purpose == Purpose::TableRead;
    const bool invq = ext && (ext->purpose == Purpose::InvQueue ||
                              ext->purpose == Purpose::Interrupt); // bytes returned, never cached
    const uint64_t addr = trans.get_address();
    const uint32_t len = trans.get_data_length();

    tlm::tlm_response_status status = tlm::TLM_OK_RESPONSE;
    if ((table || invq) && trans.is_read()) {
        if (len < (invq ? 4u : kTableReadMin) || len > kTableReadMax || !trans.get_data_ptr())
            status = tlm::TLM_BURST_ERROR_RESPONSE;
        else if (!iommu_physmem_in_range(addr, len))
            status = tlm::TLM_ADDRESS_ERROR_RESPONSE;
        else if (!physmem_ || iommu_physmem_read(physmem_, addr, trans.get_data_ptr(), len) != IOMMU_OK)
            status = tlm::TLM_GENERIC_ERROR_RESPONSE;
    }
    trans.set_response_status(status);
    if (status != tlm::TLM_OK_RESPONSE) {
        stats_.errors++;
        if (ext)
            ext->t_mem_done = arrival;
        return delay;
    }

    stats_.accesses++;
    stats_.bytes += len;
    sc_core::sc_time done;
    bool hit = false;
    if (table && trans.is_read()) {
        stats_.table_reads++;
        if (cfg_.pt_cache.mode != PtCacheMode::None) {
            hit = pt_cache_hit(addr, len);
            (hit ? stats_.pt_hits : stats_.pt_misses)++;
        }
    }
    if (hit) {
        done = arrival + pt_latency_;
    } else {
        const sc_core::sc_time start = arrival > busy_until_ ? arrival : busy_until_;
        const sc_core::sc_time xfer = transfer_time(len);
        busy_until_ = start + xfer;
        stats_.busy += xfer;
        stats_.queueing += start - arrival;
        done = busy_until_ + latency_;
    }
    if (ext)
        ext->t_mem_done = done;
    return done - now;
}

tlm::tlm_sync_enum Memory::nb_transport_fw(tlm::tlm_generic_payload &trans, tlm::tlm_phase &phase,
                                           sc_core::sc_time &delay)
{
    if (phase == tlm::BEGIN_REQ) {
        delay = access(trans, delay);
        phase = tlm::BEGIN_RESP;
        return tlm::TLM_UPDATED;
    }
    // END_RESP (the initiator finished with the response): nothing left to do.
    return tlm::TLM_COMPLETED;
}

void Memory::b_transport(tlm::tlm_generic_payload &trans, sc_core::sc_time &delay)
{
    delay = access(trans, delay);
}

unsigned int Memory::transport_dbg(tlm::tlm_generic_payload &trans)
{
    const uint64_t addr = trans.get_address();
    const uint32_t len = trans.get_data_length();
    unsigned char *data = trans.get_data_ptr();
    if (!physmem_ || !data || !iommu_physmem_in_range(addr, len)) {
        trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return 0;
    }
    const iommu_status s = trans.is_write() ? iommu_physmem_write(physmem_, addr, data, len)
                           : trans.is_read() ? iommu_physmem_read(physmem_, addr, data, len)
                                             : IOMMU_OK;
    trans.set_response_status(s == IOMMU_OK ? tlm::TLM_OK_RESPONSE : tlm::TLM_GENERIC_ERROR_RESPONSE);
    return s == IOMMU_OK && trans.get_command() != tlm::TLM_IGNORE_COMMAND ? len : 0;
}

} // namespace iommusim::tlm_model
