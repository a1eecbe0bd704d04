// run_cli_test.cpp — `iommusim run` as a user runs it: the calibrated preset reproduces its
// two calibration latencies, identical runs give identical stats, and topology/config errors
// give one line naming the key with exit status 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_util.h"

using nlohmann::json;

namespace {

const std::string SRC = IOMMUSIM_SOURCE_DIR;
std::string tmp(const std::string &n) { return scratch_dir() + "/" + n; }

// pcie-bench's latency test: 64 B reads at random offsets, one at a time.
std::string window(const std::string &name, const std::string &win)
{
    std::string p = tmp(name + ".bin");
    RunResult r = run_iommusim("trace gen window --window " + win + " --size 64 --count 5000 -o " + p);
    EXPECT_EQ(r.status, 0) << r.err;
    return p;
}

json run_stats(const std::string &args)
{
    std::string out = tmp("run" + std::to_string(std::hash<std::string>{}(args)) + ".json");
    RunResult r = run_iommusim("run -q " + args + " --stats-json " + out);
    EXPECT_EQ(r.status, 0) << r.err;
    return json::parse(slurp(out));
}

TEST(RunCli, CalibratedPresetReproducesItsTwoLatenciesWithin3Percent)
{
    const std::string preset = "-c " + SRC + "/configs/intel-haswell-ep.json --set device.tags=1 --warmup 500 ";
    json hit = run_stats(preset + "-t " + window("cal_hit", "8K"));
    json miss = run_stats(preset + "-t " + window("cal_miss", "64M"));
    const double h = hit["counters"]["dma.latency_ns.p50"], m = miss["counters"]["dma.latency_ns.p50"];
    EXPECT_NEAR(h, 546.0, 546.0 * 0.03) << "IOTLB-hit median";
    EXPECT_NEAR(m, 773.0, 773.0 * 0.03) << "IOTLB-miss median";
    EXPECT_EQ(hit["counters"]["iotlb.misses"], 0);
    EXPECT_GT(miss["counters"]["iotlb.misses"].get<double>(), 0.99 * 4500);
}

TEST(RunCli, DefaultMainJobPrintsAReadableSummary)
{
    RunResult r = run_iommusim(""); // no arguments: the main job
    ASSERT_EQ(r.status, 0) << r.err;
    for (const char *s : {"timed simulation", "Gb/s", "p50 ns", "mean DMA latency", "IOTLB hit rate"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s;
}

TEST(RunCli, StatsJsonHasTheNamedCounters)
{
    json j = run_stats("-t " + SRC + "/traces/samples/window-256k-64b.trace");
    for (const char *k : {"dma.count", "dma.bytes", "dma.throughput_gbps", "dma.latency_ns.p50",
                          "dma.latency_ns.p90", "dma.latency_ns.p99", "dma.latency_ns.mean",
                          "translation.latency_ns.p50", "translation.latency_ns.p99", "walk.count",
                          "walk.latency_ns.mean", "sim.time_ns", "sim.wall_s", "iotlb.hits",
                          "translations", "per_device.01:00.0.dma.count"})
        EXPECT_TRUE(j["counters"].contains(k)) << k;
    EXPECT_EQ(j["counters"]["dma.count"], 20000);
    EXPECT_TRUE(j["histograms"].contains("dma.latency_ns"));
}

TEST(RunCli, IdenticalRunsGiveIdenticalStats)
{
    const std::string args = "-t " + SRC + "/traces/samples/default.trace";
    json a = run_stats(args), b = run_stats(args);
    a["counters"].erase("sim.wall_s");
    b["counters"].erase("sim.wall_s");
    EXPECT_EQ(a.dump(), b.dump());
    EXPECT_GT(a["counters"]["dma.count"].get<int>(), 1000);
}

TEST(RunCli, IntervalSeriesAddsUpToTheTotalsAndMatchesItsCsv)
{
    const std::string csv = tmp("iv.csv");
    json j = run_stats("-t " + SRC + "/traces/samples/window-256k-64b.trace --interval 50000 --interval-csv " + csv);
    ASSERT_TRUE(j.contains("intervals"));
    const json &series = j["intervals"]["series"];
    ASSERT_GT(series.size(), 3u);
    uint64_t dmas = 0, bytes = 0, hits = 0, misses = 0, walks = 0;
    double prev_end = 0;
    for (const json &iv : series) {
        EXPECT_EQ(iv["start_ns"].get<double>(), prev_end); // contiguous
        prev_end = iv["end_ns"].get<double>();
        dmas += iv["dmas"].get<uint64_t>();
        bytes += iv["bytes"].get<uint64_t>();
        hits += iv["iotlb_hits"].get<uint64_t>();
        misses += iv["iotlb_misses"].get<uint64_t>();
        walks += iv["walks"].get<uint64_t>();
    }
    const json &c = j["counters"];
    EXPECT_EQ(dmas, c["dma.count"].get<uint64_t>());
    EXPECT_EQ(bytes, c["dma.bytes"].get<uint64_t>());
    EXPECT_EQ(hits, c["iotlb.hits"].get<uint64_t>());
    EXPECT_EQ(misses, c["iotlb.misses"].get<uint64_t>());
    EXPECT_EQ(walks, c["walk.count"].get<uint64_t>());
    EXPECT_DOUBLE_EQ(prev_end, c["sim.time_ns"].get<double>());
    EXPECT_EQ(count_lines(slurp(csv)), (int)series.size() + 1); // header + one row each
    EXPECT_EQ(series[1]["latency_p50_ns"], 545); // steady state: every DMA hits
}

TEST(RunCli, VcdHasTheOccupancyWaveforms)
{
    const std::string vcd = tmp("occupancy.vcd");
    RunResult r = run_iommusim("run -q -t " + SRC + "/traces/samples/window-256k-64b.trace --vcd " + vcd);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    const std::string w = slurp(vcd);
    for (const char *v : {"slots_busy", "walkers_busy", "slot_queue", "walker_queue", "walks_in_flight",
                          "tags_busy", "posted_busy", "dma_queue"})
        EXPECT_NE(w.find(v), std::string::npos) << v;
    EXPECT_NE(w.find("$timescale"), std::string::npos);
    EXPECT_NE(w.find("\n#"), std::string::npos); // value changes over time
}

void expect_bad(const std::string &args, const std::string &needle)
{
    RunResult r = run_iommusim(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

TEST(RunCli, TopologyAndConfigErrors)
{
    const std::string t = " -t " + SRC + "/traces/samples/window-256k-64b.trace";
    expect_bad("run --set timing.walkers=0" + t, "timing.walkers: 0 is out of range");
    expect_bad("run --set timing.slots=0" + t, "timing.slots");
    expect_bad("run --set link.mrrs=300" + t, "link.mrrs");
    expect_bad("run --set link.lanes=3" + t, "link.lanes");
    expect_bad("run --set link.gen=6" + t, "link.gen");
    expect_bad("run --set memory.bandwidth_gbps=0" + t, "memory.bandwidth_gbps");
    expect_bad("run --set device.tags=0" + t, "device.tags");
    expect_bad("run --set system.devices=02:00.0" + t, "dma from 01:00.0, a device that is not in system.devices");
    expect_bad("run --set system.devices=zz" + t, "system.devices: 'zz' is not a bus:dev.fn");
    expect_bad("run --set device.tags_by_device=03:00.0=8" + t, "device.tags_by_device: unknown device 03:00.0");
    expect_bad("run --set timing.iotlb_ns=-1" + t, "timing.iotlb_ns");
    expect_bad("run --interval 0" + t, "--interval");
    expect_bad("run --interval-csv x.csv" + t, "--interval-csv needs --interval");
}

} // namespace
