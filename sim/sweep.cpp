// sweep.cpp — one-pass IOTLB size sweeps (see sweep.h).
#include "sim/sweep.h"

#include <cstdio>
#include <sstream>

#include "sim/config.h"
#include "sim/report.h"

extern "C" {
#include "traces/trace.h"
}

using nlohmann::json;

namespace iommusim {

std::vector<uint64_t> parse_sweep_list(const std::string &what, const std::string &list)
{
    std::vector<std::string> items;
    std::stringstream ss(list);
    std::string it;
    while (std::getline(ss, it, ','))
        items.push_back(it);
    std::vector<uint64_t> out;
    for (size_t i = 0; i < items.size(); i++) {
        if (items[i] == "...") {
            if (out.size() < 2 || i + 1 != items.size() - 1)
                throw InputError(what + ": '...' needs two values before it and one after");
            int64_t last;
            if (!parse_int(items[i + 1], &last))
                throw InputError(what + ": '" + items[i + 1] + "' is not a number");
            uint64_t a = out[out.size() - 2], b = out.back();
            bool geometric = a > 0 && b > a && b % a == 0;
            if (!geometric && b <= a)
                throw InputError(what + ": a progression must increase");
            uint64_t step = b - a;
            uint64_t ratio = geometric ? b / a : 0;
            uint64_t v = b;
            for (;;) {
                uint64_t nx = geometric ? v * ratio : v + step;
                if (nx > (uint64_t)last)
                    break;
                out.push_back(nx);
                v = nx;
            }
            if (out.back() != (uint64_t)last)
                throw InputError(what + ": " + items[i + 1] + " is not in the progression " +
                                 std::to_string(a) + ", " + std::to_string(b) + ", ...");
            break;
        }
        int64_t v;
        if (!parse_int(items[i], &v) || v <= 0)
            throw InputError(what + ": '" + items[i] + "' is not a positive number");
        if (!out.empty() && (uint64_t)v <= out.back())
            throw InputError(what + ": sizes must increase");
        out.push_back((uint64_t)v);
    }
    if (out.empty())
        throw InputError(what + ": empty list");
    return out;
}

Sweep::Sweep(const std::string &spec, const iommu_cfg &cfg)
{
    auto eq = spec.find('=');
    if (eq == std::string::npos)
        throw InputError("--sweep " + spec + ": expected KEY=LIST, e.g. iotlb.entries=16,32,...,4096");
    key_ = spec.substr(0, eq);
    if (key_ != "iotlb.entries")
        throw InputError("--sweep: one-pass sweeps support iotlb.entries only, not '" + key_ + "'");
    sizes_ = parse_sweep_list("--sweep " + key_, spec.substr(eq + 1));
    const iommu_cache_cfg &c = cfg.iotlb.c4k;
    if (cfg.iotlb.split)
        throw InputError("--sweep: iotlb.split = true is not supported by one-pass sweeps");
    if (std::string(c.policy) != "lru")
        throw InputError(std::string("--sweep: iotlb.policy is '") + c.policy +
                         "'; one-pass sweeps need lru (run other policies separately with --set)");
    ways_ = c.ways == c.entries ? 0 : c.ways;
    if (ways_ == 0) {
        if (sizes_.back() > IOMMU_STACKDIST_MAX_WAYS)
            throw InputError("--sweep iotlb.entries: sizes above " +
                             std::to_string(IOMMU_STACKDIST_MAX_WAYS) + " are not supported");
        iommu_stackdist_t *sd = iommu_stackdist_create(1, (uint32_t)sizes_.back());
        if (!sd)
            throw std::bad_alloc();
        profiles_.push_back({1, sd});
        return;
    }
    for (uint64_t s : sizes_) {
        uint64_t sets = s / ways_;
        if (s % ways_ || sets == 0 || (sets & (sets - 1)) || sets > (1u << 24))
            throw InputError("--sweep iotlb.entries: " + std::to_string(s) + " entries with iotlb.ways = " +
                             std::to_string(ways_) + " do not give a power-of-two number of sets");
        iommu_stackdist_t *sd = iommu_stackdist_create((uint32_t)sets, ways_);
        if (!sd)
            throw std::bad_alloc();
        profiles_.push_back({(uint32_t)sets, sd});
    }
}

Sweep::~Sweep()
{
    for (auto &p : profiles_)
        iommu_stackdist_destroy(p.sd);
}

void Sweep::access(iommu_did_t did, iommu_pasid_t pasid, uint64_t iova, unsigned page_shift)
{
    iommu_cache_key key;
    uint32_t set;
    iommu_iotlb_key(did, pasid, iova, page_shift, &key, &set);
    for (auto &p : profiles_) {
        enum iommu_status st;
        iommu_stackdist_access(p.sd, set, &key, &st);
        if (st != IOMMU_OK)
            throw std::bad_alloc();
    }
}

namespace {
// The IOTLB key layout (model/iotlb/iotlb.c): lo = page number at the entry's size,
// hi = pasid << 32 | did << 8 | page_shift.
struct InvMatch {
    int kind; // 0 all, 1 did, 2 did+range, 3 did+pasid
    iommu_did_t did;
    iommu_pasid_t pasid;
    uint64_t first, last;
};
bool inv_match(const iommu_cache_key *k, const void *, void *vctx)
{
    const InvMatch *m = static_cast<const InvMatch *>(vctx);
    const iommu_did_t did = (iommu_did_t)((k->hi >> 8) & 0xFFFF);
    const iommu_pasid_t pasid = (iommu_pasid_t)(k->hi >> 32);
    const unsigned shift = (unsigned)(k->hi & 0xFF);
    switch (m->kind) {
    case 0: return true;
    case 1: return did == m->did;
    case 3: return did == m->did && pasid == m->pasid;
    default: {
        if (did != m->did)
            return false;
        uint64_t start = k->lo << shift, end = start + ((1ull << shift) - 1);
        return !(start > m->last || end < m->first);
    }
    }
}
} // namespace

void Sweep::invalidate(unsigned inv_type, iommu_did_t did, iommu_pasid_t pasid, uint64_t addr,
                       unsigned am)
{
    InvMatch m{0, did, pasid, 0, 0};
    switch (inv_type) {
    case IOMMU_INV_IOTLB_GLOBAL: m.kind = 0; break;
    case IOMMU_INV_IOTLB_DOMAIN: m.kind = 1; break;
    case IOMMU_INV_PASID_IOTLB: m.kind = 3; break;
    case IOMMU_INV_IOTLB_PAGE: {
        m.kind = 2;
        unsigned bits = 12u + am;
        uint64_t mask = bits >= 64 ? ~0ull : (1ull << bits) - 1;
        m.first = addr & ~mask;
        m.last = m.first | mask;
        break;
    }
    default: return; // does not touch the IOTLB
    }
    for (auto &p : profiles_)
        iommu_stackdist_invalidate(p.sd, inv_match, &m);
}

void Sweep::reset_counts()
{
    for (auto &p : profiles_)
        iommu_stackdist_reset_counts(p.sd);
}

const Sweep::Profile &Sweep::profile_for(uint64_t entries) const
{
    if (ways_ == 0)
        return profiles_.front();
    for (size_t i = 0; i < sizes_.size(); i++)
        if (sizes_[i] == entries)
            return profiles_[i];
    throw std::out_of_range("size not swept");
}

uint64_t Sweep::hits(uint64_t entries) const
{
    const Profile &p = profile_for(entries);
    return iommu_stackdist_hits(p.sd, ways_ ? ways_ : (uint32_t)entries);
}

uint64_t Sweep::accesses() const
{
    return iommu_stackdist_accesses(profiles_.front().sd);
}

json Sweep::to_json() const
{
    json pts = json::array();
    for (uint64_t s : sizes_) {
        uint64_t h = hits(s), a = accesses();
        pts.push_back({{"entries", s}, {"hits", h}, {"misses", a - h},
                       {"hit_rate", a ? (double)h / (double)a : 0.0}});
    }
    return {{"key", key_}, {"ways", ways_ ? json(ways_) : json("full")},
            {"policy", "lru"}, {"lookups", accesses()}, {"points", pts}};
}

std::string Sweep::summary() const
{
    std::ostringstream o;
    o << "  IOTLB size sweep (one pass, LRU, " << (ways_ ? std::to_string(ways_) + "-way" : std::string("fully associative"))
      << ", " << group_digits(accesses()) << " lookups)\n";
    o << "     entries          hits        misses   hit rate\n";
    char line[128];
    for (uint64_t s : sizes_) {
        uint64_t h = hits(s), a = accesses();
        std::snprintf(line, sizeof line, "  %10s  %12s  %12s   %8s\n", group_digits(s).c_str(),
                      group_digits(h).c_str(), group_digits(a - h).c_str(), percent(h, a).c_str());
        o << line;
    }
    return o.str();
}

} // namespace iommusim
