// report.h — turns the stats registry into the stats JSON and the readable summary.
// Printers live here, outside the models (DESIGN.md §3).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

extern "C" {
#include "host/irq_host.h"
#include "model/common/stats.h"
}

namespace iommusim {

// {"counters": {...}, "histograms": {...}} from a registry.
nlohmann::json stats_to_json(const iommu_stats_t *st);

// Value of a counter, 0 when absent.
uint64_t counter(const iommu_stats_t *st, const std::string &name);

// Writes JSON to path (pretty, stable key order, trailing newline). Returns false on I/O error.
bool write_json_file(const std::string &path, const nlohmann::json &j);

// Interrupt latency percentiles of a timed run (absent in functional runs).
struct IrqLatency {
    uint64_t count = 0;
    double p50_ns = 0, p99_ns = 0, mean_ns = 0, max_ns = 0;
};

// The interrupt model's derived figures (signed savings, per interrupt / per I/O, IEC hit
// rate, latency) added to the stats JSON's counters and derived sections.
void add_irq_json(nlohmann::json &counters, nlohmann::json &derived, const iommu_irqhost_t *h,
                  const IrqLatency *lat);
// The summary's interrupt section ("" when the run had no interrupts).
std::string irq_summary(const iommu_irqhost_t *h, const iommu_stats_t *st, const IrqLatency *lat);

// "12,345,678"
std::string group_digits(uint64_t v);
// "94.47%" of a/b, "-" when b == 0
std::string percent(uint64_t a, uint64_t b);

} // namespace iommusim
