// report.h — turns the stats registry into the stats JSON and the readable summary.
// Printers live here, outside the models (DESIGN.md §3).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

extern "C" {
#include "model/common/stats.h"
}

namespace iommusim {

// {"counters": {...}, "histograms": {...}} from a registry.
nlohmann::json stats_to_json(const iommu_stats_t *st);

// Value of a counter, 0 when absent.
uint64_t counter(const iommu_stats_t *st, const std::string &name);

// Writes JSON to path (pretty, stable key order, trailing newline). Returns false on I/O error.
bool write_json_file(const std::string &path, const nlohmann::json &j);

// "12,345,678"
std::string group_digits(uint64_t v);
// "94.47%" of a/b, "-" when b == 0
std::string percent(uint64_t a, uint64_t b);

} // namespace iommusim
