// sweep.h — one-pass IOTLB size sweeps (`--sweep iotlb.entries=16,32,...,4096`).
//
// Every IOTLB lookup of the replay is fed to LRU stack-distance profiles
// (model/iotlb/stackdist.h) keyed exactly like the IOTLB (iommu_iotlb_key), and every
// invalidation is mirrored, so one pass yields the hit count of every size:
//  - fully associative IOTLB (iotlb.ways = 0 or = entries): one profile, size = ways;
//  - fixed associativity W (iotlb.ways = W): sizes vary the number of sets (size / W, a power
//    of two); one profile per set count.
// Only iotlb.policy = lru has the stack property; other policies, and iotlb.split, are
// rejected with a clear error (sweep them with separate runs and --set).
// Accesses that end in a fault are not recorded (a faulting walk fills nothing).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern "C" {
#include "model/iommu/iommu.h"
#include "model/iotlb/stackdist.h"
}

namespace iommusim {

// Parses "16,32,...,4096" (a list; "a,b,...,c" continues the progression a, b — geometric
// when b/a is an integer > 1 and b % a == 0, else arithmetic — up to c). Throws InputError.
std::vector<uint64_t> parse_sweep_list(const std::string &what, const std::string &list);

class Sweep {
public:
    // spec: "iotlb.entries=LIST"; cfg: the run's unit config (policy, ways). Throws InputError.
    Sweep(const std::string &spec, const iommu_cfg &cfg);
    ~Sweep();
    void access(iommu_did_t did, iommu_pasid_t pasid, uint64_t iova, unsigned page_shift);
    void invalidate(unsigned inv_type, iommu_did_t did, iommu_pasid_t pasid, uint64_t addr,
                    unsigned am);
    void reset_counts();
    nlohmann::json to_json() const;
    std::string summary() const;
    // Hits of the IOTLB of `entries` entries (must be one of the swept sizes).
    uint64_t hits(uint64_t entries) const;
    uint64_t accesses() const;

private:
    struct Profile {
        uint32_t sets;
        iommu_stackdist_t *sd;
    };
    const Profile &profile_for(uint64_t entries) const;
    std::string key_;
    std::vector<uint64_t> sizes_;
    uint32_t ways_ = 0; // 0 = fully associative
    std::vector<Profile> profiles_;
};

} // namespace iommusim
