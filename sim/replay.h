// replay.h — the functional (untimed) replay: a trace streamed through the host model and
// the C core alone. Usable as a library by tests and benchmarks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/config.h"

extern "C" {
#include "model/common/stats.h"
}

namespace iommusim {

class Sweep;

struct ReplayOptions {
    std::string trace;       // path of the trace
    uint64_t warmup = 0;     // DMA events excluded from every statistic
    std::string sweep;       // "iotlb.entries=16,32,...,4096" or empty
    bool progress = false;   // progress on stderr (a terminal and a long run)
};

struct ReplayResult {
    nlohmann::json stats;    // the stats JSON document
    std::string summary;     // readable summary
    double wall_s = 0;       // wall-clock seconds of the replay loop
    uint64_t translations = 0;
};

// Runs a functional replay. Throws InputError for unusable input (config, trace line).
ReplayResult replay_functional(const Config &cfg, const ReplayOptions &opt);

} // namespace iommusim
