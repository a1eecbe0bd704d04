// config.h — the configuration of a run: every key, its type, range, default and meaning,
// loaded from a JSON preset (nested objects = dotted keys), overridden by --set key=value,
// and turned into the core's plain structs. JSON is parsed only here (DESIGN.md §3).
#pragma once

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/tlm/system.h"

extern "C" {
#include "host/dma_api.h"
#include "model/iotlb/devtlb.h"
#include "host/host.h"
#include "model/iommu/iommu.h"
}

namespace iommusim {

// A one-line error about unusable input (config file, key, value, trace). Exit status 2.
struct InputError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Everything a run is built from.
struct CoreConfig {
    iommu_cfg unit;
    iommu_host_cfg host;
    iommu_dma_cfg dma;          // the DMA-API model and flush policy (host.*)
    iommu_cache_cfg devtlb;     // each ATS device's device-TLB (devtlb.*; device.ats)
    iommu_irqhost_cfg irq;      // interrupts: delivery scheme, costs, scheduler (irq.*, sched.*)
    bool service_faults = true; // host fault handler clears fault records after each DMA
    // the timed system (iommusim run)
    tlm_model::IommuTiming timing;
    tlm_model::PcieLinkConfig link;
    tlm_model::MemoryConfig memory;
    tlm_model::EndpointConfig device;
    std::string tags_by_device;   // "01:00.0=16,02:00.0=64"
    std::string devices = "auto"; // "auto" or "01:00.0,02:00.0"
};

// The timed system's configuration from a validated CoreConfig. Throws InputError naming the
// key (device lists, per-device tags).
tlm_model::TimedConfig timed_config(const CoreConfig &c);

enum class KeyType { Bool, Int, String, IntList, Float };

struct KeySpec {
    std::string key;
    KeyType type;
    int64_t min = 0, max = 0; // Int / IntList elements
    double fmin = 0, fmax = 0; // Float
    std::vector<std::string> choices; // String: allowed values (empty = any)
    std::string desc;
    std::function<nlohmann::json(const CoreConfig &)> get;
    std::function<void(CoreConfig &, const nlohmann::json &)> set;
};

// All keys, in documentation order.
const std::vector<KeySpec> &config_schema();
const KeySpec *config_find(const std::string &key);

class Config {
public:
    Config(); // all defaults
    // Loads a JSON preset; keys beginning with '_' are metadata ("_description", "_sources":
    // {key: citation}, "_base": a preset loaded first). Throws InputError naming the file and
    // the key.
    void load_file(const std::string &path);
    // Applies "key=value". Throws InputError naming the key.
    void set(const std::string &assignment);
    // The usual start of a command: a preset (default: configs/default.json when empty)
    // followed by --set overrides in order. Throws InputError.
    static Config load(const std::string &preset, const std::vector<std::string> &sets);
    // Sets one key from JSON; `where` prefixes error messages.
    void set_json(const std::string &key, const nlohmann::json &v, const std::string &where);
    // The core structs, validated by the core (InputError names the key on failure).
    CoreConfig core() const;
    // Fully resolved configuration as nested JSON (for the stats file).
    nlohmann::json resolved() const;
    const std::string &preset() const { return preset_; }
    const std::map<std::string, std::string> &sources() const { return sources_; }
    int overrides() const { return overrides_; }

private:
    void load_layer(const std::string &path, int depth);
    CoreConfig cfg_;
    std::string preset_;
    std::map<std::string, std::string> sources_;
    int overrides_ = 0;
};

// Parses an integer with optional 0x prefix and K/M/G/T suffix (powers of 1024).
bool parse_int(const std::string &s, int64_t *out);

// Default locations, resolved against the source tree (IOMMUSIM_SOURCE_DIR) and the
// program's directory, so the program works from anywhere in a checkout.
std::string default_config_path();
std::string default_trace_path();
std::string find_data_file(const std::string &relative);

} // namespace iommusim
