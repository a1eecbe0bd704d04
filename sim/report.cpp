// report.cpp — stats registry → JSON, number formatting.
#include "sim/report.h"

#include <cstdio>
#include <fstream>

using nlohmann::json;

namespace iommusim {

json stats_to_json(const iommu_stats_t *st)
{
    json counters = json::object(), hists = json::object();
    for (size_t i = 0; i < iommu_stats_size(st); i++) {
        const iommu_stat_info *e = iommu_stats_at(st, i);
        if (e->kind == IOMMU_STAT_COUNTER) {
            counters[e->name] = *e->counter;
            continue;
        }
        const iommu_hist_t *h = e->hist;
        json b = json::array();
        for (uint32_t k = 0; k < h->nbuckets; k++)
            b.push_back(h->buckets[k]);
        hists[e->name] = {{"description", e->desc}, {"bucket_width", h->width},
                          {"count", h->count},      {"sum", h->sum},
                          {"min", h->count ? h->min : 0}, {"max", h->max},
                          {"buckets", b}};
    }
    return {{"counters", counters}, {"histograms", hists}};
}

uint64_t counter(const iommu_stats_t *st, const std::string &name)
{
    const iommu_stat_info *e = iommu_stats_find(st, name.c_str());
    return e && e->kind == IOMMU_STAT_COUNTER ? *e->counter : 0;
}

bool write_json_file(const std::string &path, const json &j)
{
    std::ofstream out(path);
    if (!out)
        return false;
    out << j.dump(2) << "\n";
    out.flush();
    return (bool)out;
}

std::string group_digits(uint64_t v)
{
    std::string s = std::to_string(v), out;
    int n = 0;
    for (auto it = s.rbegin(); it != s.rend(); ++it) {
        if (n && n % 3 == 0)
            out.insert(out.begin(), ',');
        out.insert(out.begin(), *it);
        n++;
    }
    return out;
}

std::string percent(uint64_t a, uint64_t b)
{
    if (!b)
        return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * (double)a / (double)b);
    return buf;
}

} // namespace iommusim
