// report.cpp — stats registry → JSON, number formatting.
#include "sim/report.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

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

void add_irq_json(json &counters, json &derived, const iommu_irqhost_t *h, const IrqLatency *lat)
{
    if (!h)
        return;
    struct iommu_irqhost_summary sm;
    iommu_irqhost_summarize(h, &sm);
    counters["irq.cycles_saved"] = sm.cycles_saved;
    counters["irq.net_cycles_saved"] = sm.net_cycles_saved;
    counters["irq.pending"] = sm.pending;
    counters["irq.net_saving_per_irq"] = sm.net_per_irq;
    counters["irq.net_saving_per_io"] = sm.net_per_io;
    derived["irq.net_saving_per_irq"] = sm.net_per_irq;
    derived["irq.net_saving_per_io"] = sm.net_per_io;
    derived["iec.hit_rate"] = sm.iec_hit_rate;
    counters["iec.hit_rate"] = sm.iec_hit_rate;
    if (lat) {
        counters["irq.latency_ns.p50"] = lat->p50_ns;
        counters["irq.latency_ns.p99"] = lat->p99_ns;
        counters["irq.latency_ns.mean"] = lat->mean_ns;
        counters["irq.latency_ns.max"] = lat->max_ns;
        counters["irq.latency.count"] = lat->count;
    }
}

std::string irq_summary(const iommu_irqhost_t *h, const iommu_stats_t *st, const IrqLatency *lat)
{
    if (!h || !counter(st, "irq.requests"))
        return "";
    struct iommu_irqhost_summary sm;
    iommu_irqhost_summarize(h, &sm);
    auto c = [&](const char *n) { return counter(st, n); };
    const iommu_irqhost_cfg *cfg = iommu_irqhost_config(h);
    std::ostringstream o;
    char line[256];
    const bool vm = cfg->scheme == IOMMU_IRQS_POSTED || cfg->scheme == IOMMU_IRQS_VMEXIT;
    o << "\n  interrupts (scheme " << iommu_irq_scheme_name(cfg->scheme) << ", baseline "
      << (vm ? "vm-exit" : "static") << ")\n";
    std::snprintf(line, sizeof line, "  %-18s %14s requests: %s remapped, %s posted (%s notifications), %s compatibility, %s faults\n",
                  "at the IOMMU", group_digits(c("irq.requests")).c_str(), group_digits(c("irq.remapped")).c_str(),
                  group_digits(c("irq.posted")).c_str(), group_digits(c("irq.notifications")).c_str(),
                  group_digits(c("irq.compat")).c_str(), group_digits(c("irq.faults")).c_str());
    o << line;
    std::snprintf(line, sizeof line, "  %-18s %14s hits  %s misses   hit rate %s\n", "IEC",
                  group_digits(sm.iec_hits).c_str(), group_digits(sm.iec_misses).c_str(),
                  percent(sm.iec_hits, sm.iec_hits + sm.iec_misses).c_str());
    o << line;
    std::snprintf(line, sizeof line, "  %-18s %14s: direct %s, IPI %s, VM exit %s, posted %s, wake-up %s, deferred %s (%s still waiting)\n",
                  "delivered", group_digits(sm.delivered).c_str(), group_digits(c("irq.path.direct")).c_str(),
                  group_digits(c("irq.path.ipi")).c_str(), group_digits(c("irq.path.vm_exit")).c_str(),
                  group_digits(c("irq.path.posted")).c_str(), group_digits(c("irq.path.wakeup")).c_str(),
                  group_digits(c("irq.path.deferred")).c_str(), group_digits(sm.pending).c_str());
    o << line;
    std::snprintf(line, sizeof line, "  %-18s %14s sent, %s avoided    VM exits %s, %s avoided\n", "IPIs",
                  group_digits(sm.ipis).c_str(), group_digits(sm.ipis_avoided).c_str(),
                  group_digits(sm.vm_exits).c_str(), group_digits(sm.vm_exits_avoided).c_str());
    o << line;
    auto signed_digits = [](int64_t v) {
        return (v < 0 ? "-" : "") + group_digits(v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    };
    std::snprintf(line, sizeof line, "  %-18s %14s spent, %s under the baseline: %s saved; retargeting %s (%s rewrites, %s PID updates)\n",
                  "CPU cycles", group_digits(sm.cycles).c_str(), group_digits(sm.baseline_cycles).c_str(),
                  signed_digits(sm.cycles_saved).c_str(), group_digits(sm.retarget_cycles).c_str(),
                  group_digits(c("irq.retargets")).c_str(), group_digits(c("irq.pid_updates")).c_str());
    o << line;
    std::snprintf(line, sizeof line, "  %-18s %14s cycles: %s per interrupt, %s per I/O (%s I/Os)\n",
                  "net saving", signed_digits(sm.net_cycles_saved).c_str(),
                  signed_digits(std::llround(sm.net_per_irq)).c_str(),
                  signed_digits(std::llround(sm.net_per_io)).c_str(),
                  group_digits(sm.ios).c_str());
    o << line;
    if (lat && lat->count) {
        auto ns = [](double v) { return group_digits((uint64_t)std::llround(v)); };
        std::snprintf(line, sizeof line, "  %-18s p50 %s ns  p99 %s ns  mean %s ns  max %s ns (%s interrupts)\n",
                      "latency", ns(lat->p50_ns).c_str(), ns(lat->p99_ns).c_str(), ns(lat->mean_ns).c_str(),
                      ns(lat->max_ns).c_str(), group_digits(lat->count).c_str());
        o << line;
    }
    return o.str();
}

} // namespace iommusim
