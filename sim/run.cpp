// run.cpp — `iommusim run`: the timed SystemC/TLM simulation (the main job), its summary and
// its stats JSON.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include <boost/program_options.hpp>

#include "sim/cli.h"
#include "sim/config.h"
#include "sim/report.h"
#include "version.h"

using nlohmann::json;
namespace po = boost::program_options;
using namespace iommusim::tlm_model;

namespace iommusim {

namespace {

double gbps(uint64_t bytes, uint64_t ps) { return ps ? (double)bytes * 8.0 / ((double)ps / 1e3) : 0.0; }

// Throughput window of a stats block: from its first issue to its last completion.
uint64_t window_ps(const DmaStats &s) { return s.count ? s.last_done_ps - s.first_issue_ps : 0; }

void put_dma(json &c, const std::string &pre, const DmaStats &s)
{
    const uint64_t w = window_ps(s);
    c[pre + "dma.count"] = s.count;
    c[pre + "dma.bytes"] = s.bytes;
    c[pre + "dma.reads"] = s.reads;
    c[pre + "dma.writes"] = s.writes;
    c[pre + "dma.errors"] = s.errors;
    c[pre + "dma.throughput_gbps"] = gbps(s.bytes, w);
    c[pre + "dma.per_s"] = w ? (double)s.count / ((double)w / 1e12) : 0.0;
    c[pre + "dma.latency_ns.p50"] = s.latency.percentile_ns(0.50);
    c[pre + "dma.latency_ns.p90"] = s.latency.percentile_ns(0.90);
    c[pre + "dma.latency_ns.p99"] = s.latency.percentile_ns(0.99);
    c[pre + "dma.latency_ns.mean"] = s.latency.mean_ns();
    c[pre + "dma.latency_ns.max"] = s.latency.max_ns();
    const double n = s.count ? (double)s.count * 1000.0 : 1.0;
    c[pre + "dma.latency_ns.link_mean"] = (double)s.link_ps / n;
    c[pre + "dma.latency_ns.queueing_mean"] = (double)s.queue_ps / n;
    c[pre + "dma.latency_ns.iotlb_mean"] = (double)s.xlat_ps / n;
    c[pre + "dma.latency_ns.walk_mean"] = (double)s.walk_ps / n;
    c[pre + "dma.latency_ns.memory_mean"] = (double)s.mem_ps / n;
    c[pre + "translation.latency_ns.p50"] = s.translation.percentile_ns(0.50);
    c[pre + "translation.latency_ns.p99"] = s.translation.percentile_ns(0.99);
    c[pre + "translation.latency_ns.mean"] = s.translation.mean_ns();
}

// Host (DMA API) and invalidation timing: what the CPU spent and how long it waited.
void put_host(json &c, const TimedSystem &sys)
{
    const HostTimedStats &h = sys.host_stats();
    const InvTlmStats &v = sys.iommu().inv_stats();
    c["host.cycles_per_io"] = sys.cycles_per_io();
    c["host.busy_ns"] = (double)h.busy_ps / 1000.0;
    c["host.ops"] = h.ops;
    c["inv.wait_ns.mean"] = h.waits ? (double)h.wait_ps / (double)h.waits / 1000.0 : 0.0;
    c["inv.wait_ns.max"] = (double)h.wait_max_ps / 1000.0;
    c["inv.doorbells"] = h.doorbells;
    c["inv.queue.pending_mean"] = h.doorbells ? (double)h.pending_sum / (double)h.doorbells : 0.0;
    c["inv.queue.pending_max"] = h.pending_max;
    c["inv.engine.busy_ns"] = (double)v.busy_ps / 1000.0;
    c["inv.engine.drain_waits"] = v.drain_waits;
    c["inv.engine.drain_ns"] = (double)v.drain_ps / 1000.0;
}

json hist_json(const Latency &l)
{
    json b = json::array();
    for (auto &[ns, n] : l.nonzero_bins())
        b.push_back({ns, n});
    json cb = json::array();
    for (auto &[ns, n] : l.nonzero_coarse_bins())
        cb.push_back({ns, n});
    return {{"bucket_width_ns", 1}, {"count", l.count()}, {"overflow_from_ns", 1000000},
            {"bins", b}, {"coarse_bucket_width_ns", 100000}, {"coarse_bins", cb}};
}

IrqLatency irq_latency(const TimedSystem &sys)
{
    const Latency &l = sys.irq_latency();
    IrqLatency r;
    r.count = l.count();
    r.p50_ns = l.percentile_ns(0.50);
    r.p99_ns = l.percentile_ns(0.99);
    r.mean_ns = l.mean_ns();
    r.max_ns = (double)l.max_ns();
    return r;
}

std::string bdf(uint16_t sid)
{
    char b[8];
    return iommu_sid_format(sid, b);
}

std::string fmt(const char *f, double v)
{
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

std::string summary(const TimedSystem &sys, const Config &cfg, const RunOptions &opt,
                    const iommu_stats_t *st)
{
    std::ostringstream o;
    const DmaStats &t = sys.total();
    o << "iommusim " << IOMMUSIM_VERSION << " — timed simulation (SystemC/TLM)\n";
    o << "  config  " << cfg.preset();
    if (cfg.overrides())
        o << " + " << cfg.overrides() << " override(s)";
    o << "\n  trace   " << opt.trace << ": " << group_digits(sys.trace_events()) << " events";
    if (opt.warmup)
        o << " (first " << group_digits(opt.warmup) << " DMAs are warm-up)";
    o << "\n  simulated " << fmt("%.3f", (double)sys.sim_time_ps() / 1e6) << " us in "
      << fmt("%.2f", sys.wall_s()) << " s ("
      << fmt("%.2f", sys.wall_s() > 0 ? (double)t.count / sys.wall_s() / 1e6 : 0.0)
      << " M DMAs/s)\n\n";
    o << "  device           DMAs       Gb/s       DMAs/s   p50 ns   p90 ns   p99 ns  errors\n";
    auto row = [&](const std::string &name, const DmaStats &s) {
        const uint64_t w = window_ps(s);
        char line[160];
        std::snprintf(line, sizeof line, "  %-10s %10s %10.2f %12s %8.0f %8.0f %8.0f %7s\n",
                      name.c_str(), group_digits(s.count).c_str(), gbps(s.bytes, w),
                      group_digits(w ? (uint64_t)((double)s.count / ((double)w / 1e12)) : 0).c_str(),
                      s.latency.percentile_ns(0.5),
                      s.latency.percentile_ns(0.9), s.latency.percentile_ns(0.99),
                      group_digits(s.errors).c_str());
        o << line;
    };
    for (size_t i = 0; i < sys.devices().size(); i++)
        row(bdf(sys.devices()[i]), sys.per_device()[i]);
    if (sys.devices().size() > 1)
        row("total", t);
    const double n = t.count ? (double)t.count * 1000.0 : 1.0;
    o << "\n  mean DMA latency " << fmt("%.1f", t.latency.mean_ns()) << " ns = link "
      << fmt("%.1f", (double)t.link_ps / n) << " + queueing " << fmt("%.1f", (double)t.queue_ps / n)
      << " + IOTLB " << fmt("%.1f", (double)t.xlat_ps / n) << " + walk "
      << fmt("%.1f", (double)t.walk_ps / n) << " + memory " << fmt("%.1f", (double)t.mem_ps / n)
      << " ns\n";
    const uint64_t h = counter(st, "iotlb.hits"), m = counter(st, "iotlb.misses");
    const uint64_t tr = counter(st, "translations"), wr = counter(st, "walk.mem_reads");
    o << "  IOTLB hit rate " << percent(h, h + m) << ", walk reads per DMA "
      << fmt("%.3f", t.count ? (double)wr / (double)t.count : 0.0) << ", translations "
      << group_digits(tr) << ", walks " << group_digits(counter(st, "walk.count")) << " ("
      << group_digits(counter(st, "walk.coalesced")) << " coalesced), faults "
      << group_digits(counter(st, "faults.total")) << "\n";
    const HostTimedStats &hs = sys.host_stats();
    if (counter(st, "host.dma_unmaps") || counter(st, "inv.descriptors")) {
        o << "  host: " << group_digits(counter(st, "host.dma_maps")) << " dma_map, "
          << group_digits(counter(st, "host.dma_unmaps")) << " dma_unmap, "
          << fmt("%.0f", sys.cycles_per_io()) << " cycles per I/O; invalidation: "
          << group_digits(counter(st, "inv.descriptors")) << " descriptors, "
          << group_digits(hs.waits) << " waits of " << fmt("%.1f", hs.waits ? (double)hs.wait_ps / (double)hs.waits / 1000.0 : 0.0)
          << " ns mean\n";
        o << "  protection: " << group_digits(counter(st, "protection.stale_pages"))
          << " stale pages after unmap, longest window "
          << fmt("%.1f", (double)counter(st, "protection.stale_window_ns.max") / 1000.0) << " us, "
          << group_digits(counter(st, "protection.stale_accesses")) << " stale accesses, "
          << group_digits(counter(st, "protection.subpage_exposed_bytes")) << " sub-page bytes exposed\n";
    }
    const IrqLatency il = irq_latency(sys);
    o << irq_summary(sys.irq_host(), st, &il);
    return o.str();
}

} // namespace

int cmd_run(int argc, char **argv)
{
    po::options_description desc(
        "usage: iommusim run [-c CONFIG] [-t TRACE] [--set key=value]... [--stats-json FILE] "
        "[--warmup N] [--interval NS [--interval-csv FILE]] [--vcd FILE]\n\noptions");
    std::vector<std::string> sets;
    std::string config, stats_json, interval_csv, vcd;
    double interval_ns = 0;
    RunOptions opt;
    desc.add_options()("help,h", "this text")(
        "config,c", po::value(&config), "JSON preset (default: configs/default.json)")(
        "trace,t", po::value(&opt.trace), "trace file (default: traces/samples/default.trace)")(
        "set", po::value(&sets)->composing(), "override a config key (repeatable)")(
        "stats-json", po::value(&stats_json), "write the stats JSON here")(
        "warmup", po::value(&opt.warmup), "exclude the first N completed DMAs from every statistic")(
        "interval", po::value(&interval_ns), "add per-interval counters (throughput, hit rate, walks, latency p50) every NS of simulated time to the stats")(
        "interval-csv", po::value(&interval_csv), "also write the interval series as CSV")(
        "vcd", po::value(&vcd), "write queue occupancies and walker use over time as a VCD waveform")(
        "quiet,q", "no summary on stdout");
    po::variables_map vm;
    if (int rc = parse_options("run", desc, argc, argv, vm); rc >= 0)
        return rc;
    return guarded([&]() -> int {
        Config cfg = Config::load(config, sets);
        const CoreConfig core = cfg.core();
        if (opt.trace.empty())
            opt.trace = default_trace_path();
        opt.progress = isatty(2);
        if (vm.count("interval") && !(interval_ns >= 1 && interval_ns <= 1e12))
            throw InputError("--interval: " + std::to_string(interval_ns) + " ns is not in [1, 1e12]");
        if (!interval_csv.empty() && !vm.count("interval"))
            throw InputError("--interval-csv needs --interval NS");
        opt.interval_ps = (uint64_t)(interval_ns * 1000.0 + 0.5);
        if (!vcd.empty()) // SystemC appends ".vcd"
            opt.vcd = vcd.size() > 4 && vcd.compare(vcd.size() - 4, 4, ".vcd") == 0 ? vcd.substr(0, vcd.size() - 4) : vcd;
        setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
        iommu_stats_t *st = iommu_stats_create();
        if (!st)
            throw std::bad_alloc();
        std::unique_ptr<iommu_stats_t, void (*)(iommu_stats_t *)> stats(st, iommu_stats_destroy);
        TimedSystem sys(timed_config(core), opt, st);
        sys.run();
        if (!stats_json.empty()) {
            json j = stats_to_json(st);
            json c = j["counters"];
            put_dma(c, "", sys.total());
            for (size_t i = 0; i < sys.devices().size(); i++)
                put_dma(c, "per_device." + bdf(sys.devices()[i]) + ".", sys.per_device()[i]);
            const IommuTlmStats &is = sys.iommu().stats();
            c["walk.latency_ns.mean"] = is.walks ? (double)is.walk_ps / (double)is.walks / 1000.0 : 0.0;
            c["iommu.slot_waits"] = is.slot_waits;
            c["iommu.walker_waits"] = is.walker_waits;
            c["iommu.table_reads"] = is.table_reads;
            put_host(c, sys);
            c["memory.accesses"] = sys.memory().stats().accesses;
            c["memory.pt_cache.hits"] = sys.memory().stats().pt_hits;
            c["sim.time_ns"] = (double)sys.sim_time_ps() / 1000.0;
            c["sim.wall_s"] = sys.wall_s();
            json out;
            out["iommusim"] = {{"version", IOMMUSIM_VERSION}, {"git", IOMMUSIM_GIT}, {"mode", "timed"}};
            out["config"] = cfg.resolved();
            out["run"] = {{"preset", cfg.preset()}, {"trace", opt.trace},
                          {"trace_events", sys.trace_events()}, {"warmup_dma", opt.warmup}};
            json derived = json::object();
            const IrqLatency il = irq_latency(sys);
            add_irq_json(c, derived, sys.irq_host(), &il);
            out["counters"] = c;
            out["derived"] = derived;
            out["histograms"] = j["histograms"];
            out["histograms"]["dma.latency_ns"] = hist_json(sys.total().latency);
            out["histograms"]["translation.latency_ns"] = hist_json(sys.total().translation);
            out["histograms"]["irq.latency_ns"] = hist_json(sys.irq_latency());
            if (opt.interval_ps) {
                json series = json::array();
                for (const Interval &iv : sys.intervals()) {
                    const uint64_t lk = iv.iotlb_hits + iv.iotlb_misses;
                    series.push_back({{"start_ns", iv.start_ps / 1e3}, {"end_ns", iv.end_ps / 1e3},
                                      {"dmas", iv.dmas}, {"bytes", iv.bytes},
                                      {"throughput_gbps", gbps(iv.bytes, iv.end_ps - iv.start_ps)},
                                      {"iotlb_hits", iv.iotlb_hits}, {"iotlb_misses", iv.iotlb_misses},
                                      {"iotlb_hit_rate", lk ? (double)iv.iotlb_hits / (double)lk : 0.0},
                                      {"walks", iv.walks}, {"latency_p50_ns", iv.latency_p50_ns}});
                }
                out["intervals"] = {{"interval_ns", interval_ns}, {"series", series}};
            }
            if (!write_json_file(stats_json, out)) {
                std::fprintf(stderr, "iommusim run: %s: cannot write the stats JSON\n", stats_json.c_str());
                return EXIT_FAIL;
            }
        }
        if (!interval_csv.empty()) {
            FILE *f = std::fopen(interval_csv.c_str(), "w");
            if (!f) {
                std::fprintf(stderr, "iommusim run: %s: cannot write the interval CSV\n", interval_csv.c_str());
                return EXIT_FAIL;
            }
            std::fprintf(f, "start_ns,end_ns,dmas,bytes,throughput_gbps,iotlb_hits,iotlb_misses,iotlb_hit_rate,walks,latency_p50_ns\n");
            for (const Interval &iv : sys.intervals()) {
                const uint64_t lk = iv.iotlb_hits + iv.iotlb_misses;
                std::fprintf(f, "%.3f,%.3f,%llu,%llu,%.6f,%llu,%llu,%.6f,%llu,%.0f\n", iv.start_ps / 1e3,
                             iv.end_ps / 1e3, (unsigned long long)iv.dmas, (unsigned long long)iv.bytes,
                             gbps(iv.bytes, iv.end_ps - iv.start_ps), (unsigned long long)iv.iotlb_hits,
                             (unsigned long long)iv.iotlb_misses, lk ? (double)iv.iotlb_hits / (double)lk : 0.0,
                             (unsigned long long)iv.walks, iv.latency_p50_ns);
            }
            if (std::fclose(f) != 0) {
                std::fprintf(stderr, "iommusim run: %s: cannot write the interval CSV\n", interval_csv.c_str());
                return EXIT_FAIL;
            }
        }
        if (!vm.count("quiet"))
            std::cout << summary(sys, cfg, opt, st) << std::flush;
        return EXIT_OK;
    });
}

} // namespace iommusim
