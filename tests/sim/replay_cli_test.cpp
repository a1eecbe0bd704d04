// replay_cli_test.cpp — `iommusim replay --functional`, `info` and `config` as a user runs
// them: the default main job, bad input (one line naming file:line or the key, exit 2),
// determinism, warm-up, and one-pass sweeps equal to separate runs.
#include <filesystem>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_util.h"

using nlohmann::json;

namespace {

const std::string SRC = IOMMUSIM_SOURCE_DIR;

std::string tmp(const std::string &name) { return scratch_dir() + "/" + name; }

// A 256 KB window of 4 KB pages read at 64 B granularity, 4000 DMAs (deterministic).
std::string window_trace()
{
    static std::string path;
    if (path.empty()) {
        path = tmp("window.trace");
        std::ostringstream t;
        t << "# iommusim trace v1\n";
        t << "attach sid=01:00.0 did=1 mode=sl\n";
        t << "map did=1 iova=0x100000 pa=0x40000000 len=0x40000 perm=rw page=4K\n";
        uint64_t s = 7;
        for (int i = 0; i < 4000; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t off = ((s >> 24) % 0x40000) & ~63ull;
            t << "dma sid=01:00.0 iova=0x" << std::hex << (0x100000 + off) << std::dec << " len=64 op=r\n";
        }
        write_file(path, t.str());
    }
    return path;
}

// A trace with a larger footprint, unmaps and invalidations (for sweeps).
std::string churn_trace()
{
    static std::string path;
    if (path.empty()) {
        path = tmp("churn.trace");
        std::ostringstream t;
        t << "attach sid=02:00.0 did=3 mode=sl\n";
        t << "map did=3 iova=0x10000000 pa=0x80000000 len=0x200000 perm=rw page=4K\n";
        uint64_t s = 11;
        for (int i = 0; i < 6000; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            // skewed footprint: mostly 40 hot pages, sometimes any of 512
            uint64_t page = (s >> 60) < 12 ? (s >> 20) % 40 : (s >> 20) % 512;
            t << "dma sid=02:00.0 iova=0x" << std::hex << (0x10000000 + page * 4096) << std::dec
              << " len=64 op=w\n";
            if (i % 500 == 499)
                t << "inv type=iotlb-page did=3 addr=0x" << std::hex << (0x10000000 + (page & ~3ull) * 4096)
                  << std::dec << " am=2\n";
            if (i == 3000)
                t << "inv type=iotlb-domain did=3\n";
        }
        write_file(path, t.str());
    }
    return path;
}

json stats_of(const std::string &args)
{
    std::string out = tmp("s" + std::to_string(std::hash<std::string>{}(args)) + ".json");
    RunResult r = run_iommusim("replay --functional -q " + args + " --stats-json " + out);
    EXPECT_EQ(r.status, 0) << r.err;
    return json::parse(slurp(out));
}

TEST(ReplayCli, FunctionalReplayOfTheDefaultsPrintsASummary)
{
    RunResult r = run_iommusim("replay --functional");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("functional replay"), std::string::npos);
    EXPECT_NE(r.out.find("IOTLB"), std::string::npos);
    EXPECT_NE(r.out.find("per device"), std::string::npos);
    EXPECT_NE(r.out.find("translations"), std::string::npos);
}

TEST(ReplayCli, StatsJsonHasTheNamedCounters)
{
    json j = stats_of("-t " + window_trace());
    const json &c = j["counters"];
    for (const char *k : {"translations", "iotlb.hits", "iotlb.misses", "walk.mem_reads",
                          "context_cache.hits", "context_cache.misses", "pwc.pde.hits",
                          "pwc.pdpe.hits", "pwc.pml4e.hits", "pwc.pml5e.hits", "faults.total",
                          "faults.reason_0x1", "faults.reason_0xd", "per_device.01:00.0.translations",
                          "per_domain.1.iotlb.hits"})
        EXPECT_TRUE(c.contains(k)) << k;
    EXPECT_EQ(c["translations"], 4000);
    EXPECT_EQ(c["iotlb.misses"], 64);
    EXPECT_EQ(c["iotlb.hits"], 4000 - 64);
    EXPECT_EQ(c["per_device.01:00.0.iotlb.misses"], 64);
    EXPECT_EQ(j["config"]["iotlb"]["entries"], 64);
    EXPECT_TRUE(j["iommusim"].contains("version"));
}

TEST(ReplayCli, SameTraceAndSeedGiveIdenticalStatsJson)
{
    std::string a = tmp("same_a.json"), b = tmp("same_b.json");
    std::string args = "replay --functional -q -t " + window_trace() + " --set iotlb.policy=random --set iotlb.seed=9 --stats-json ";
    ASSERT_EQ(run_iommusim(args + a).status, 0);
    ASSERT_EQ(run_iommusim(args + b).status, 0);
    EXPECT_EQ(slurp(a), slurp(b));
    EXPECT_GT(slurp(a).size(), 1000u);
}

TEST(ReplayCli, WarmupExcludesTheFirstDmas)
{
    json full = stats_of("-t " + window_trace());
    json warm = stats_of("-t " + window_trace() + " --warmup 1000");
    EXPECT_EQ(warm["counters"]["dma.count"], 3000);
    EXPECT_EQ(warm["counters"]["translations"], 3000);
    // all 64 compulsory misses happen in the first 1000 random accesses
    EXPECT_EQ(warm["counters"]["iotlb.misses"], 0);
    EXPECT_EQ(warm["counters"]["iotlb.hits"], 3000);
    EXPECT_EQ(full["counters"]["iotlb.misses"], 64);
}

TEST(ReplayCli, WarmupBeyondTheTraceIsAnError)
{
    RunResult r = run_iommusim("replay --functional -t " + window_trace() + " --warmup 4000");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--warmup 4000"), std::string::npos) << r.err;
}

void expect_sweep_equals_runs(const std::string &trace, const std::string &ways,
                              const std::vector<int> &sizes, const std::string &list)
{
    json sw = stats_of("-t " + trace + " --set iotlb.ways=" + ways + " --sweep iotlb.entries=" + list);
    ASSERT_TRUE(sw.contains("sweep"));
    const json &pts = sw["sweep"]["points"];
    ASSERT_EQ(pts.size(), sizes.size());
    for (size_t i = 0; i < sizes.size(); i++) {
        json one = stats_of("-t " + trace + " --set iotlb.ways=" + ways + " --set iotlb.entries=" +
                            std::to_string(sizes[i]));
        EXPECT_EQ(pts[i]["entries"], sizes[i]);
        EXPECT_EQ(pts[i]["hits"], one["counters"]["iotlb.hits"]) << "entries " << sizes[i];
        EXPECT_EQ(pts[i]["misses"], one["counters"]["iotlb.misses"]) << "entries " << sizes[i];
    }
}

TEST(ReplayCli, OnePassSweepEqualsSeparateRunsFullyAssociative)
{
    expect_sweep_equals_runs(churn_trace(), "0", {8, 16, 32, 64, 128, 256, 512}, "8,16,...,512");
}

TEST(ReplayCli, OnePassSweepEqualsSeparateRunsFixedWays)
{
    expect_sweep_equals_runs(churn_trace(), "4", {16, 32, 64, 128, 256}, "16,32,64,128,256");
}

TEST(ReplayCli, SweepNeedsLru)
{
    RunResult r = run_iommusim("replay --functional -t " + window_trace() +
                               " --set iotlb.policy=fifo --sweep iotlb.entries=16,32");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("lru"), std::string::npos) << r.err;
    r = run_iommusim("replay --functional -t " + window_trace() + " --sweep pwc.pde.entries=4,8");
    EXPECT_EQ(r.status, 2);
}

// Every bad-input class: exit 2 and exactly one line on stderr naming the culprit.
void expect_bad(const std::string &args, const std::string &needle)
{
    RunResult r = run_iommusim(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

TEST(ReplayCli, UnknownConfigKey)
{
    std::string cfg = tmp("badkey.json");
    write_file(cfg, "{\"iotlb\": {\"entires\": 64}}");
    expect_bad("replay --functional -c " + cfg, cfg + ": unknown config key 'iotlb.entires'");
    expect_bad("replay --functional --set iotlb.entires=3", "unknown config key 'iotlb.entires'");
}

TEST(ReplayCli, OutOfRangeAndInconsistentValues)
{
    expect_bad("replay --functional --set iommu.haw=99", "iommu.haw: 99 is out of range");
    expect_bad("replay --functional --set iotlb.ways=3", "iotlb.ways");
    expect_bad("replay --functional --set iotlb.policy=mru", "iotlb.policy: 'mru' is not one of");
    expect_bad("replay --functional --set iommu.sagaw=6", "iommu.sagaw");
    expect_bad("replay --functional --set host.sl_levels=5", "host.sl_levels");
    expect_bad("replay --functional --set iotlb.entries=lots", "iotlb.entries: expected an integer");
    expect_bad("replay --functional --set noequals", "expected key=value");
    std::string cfg = tmp("badjson.json");
    write_file(cfg, "{\"iotlb\": {\"entries\": 64,}}");
    expect_bad("replay --functional -c " + cfg, cfg + ": invalid JSON");
    expect_bad("replay --functional -c /nonexistent/x.json", "/nonexistent/x.json: cannot open");
}

TEST(ReplayCli, MalformedTraceLineNamesFileAndLine)
{
    std::string t = tmp("bad_line.trace");
    write_file(t, "attach sid=00:02.0 did=1 mode=sl\n# fine\nmap did=1 iova=0x1000 pa=0x2000 len=0x1000 perm=rw page=4K\nfrobnicate x=1\n");
    expect_bad("replay --functional -t " + t, t + ":4:");
}

TEST(ReplayCli, OverlappingMapNamesFileAndLine)
{
    std::string t = tmp("overlap.trace");
    write_file(t, "attach sid=00:02.0 did=1 mode=sl\n"
                  "map did=1 iova=0x1000 pa=0x2000 len=0x2000 perm=rw page=4K\n"
                  "map did=1 iova=0x2000 pa=0x9000 len=0x1000 perm=r page=4K\n");
    expect_bad("replay --functional -t " + t, t + ":3: map domain 1 iova 0x2000 len 0x1000: overlaps an existing mapping");
}

TEST(ReplayCli, DmaFromADeviceNeverAttachedIsAFaultRecordNotAnError)
{
    std::string t = tmp("unattached.trace");
    write_file(t, "attach sid=00:02.0 did=1 mode=sl\n"
                  "map did=1 iova=0x1000 pa=0x2000 len=0x1000 perm=rw page=4K\n"
                  "dma sid=00:03.0 iova=0x1000 len=64 op=r\n"
                  "dma sid=00:02.0 iova=0x1000 len=64 op=r\n");
    json j = stats_of("-t " + t);
    EXPECT_EQ(j["counters"]["faults.total"], 1);
    EXPECT_EQ(j["counters"]["faults.reason_0x2"], 1);
    EXPECT_EQ(j["counters"]["dma.faulted"], 1);
    EXPECT_EQ(j["counters"]["translations"], 2);
}

TEST(ReplayCli, MissingTraceFile)
{
    expect_bad("replay --functional -t /nonexistent/t.trace", "/nonexistent/t.trace");
}

TEST(ReplayCli, UnknownOptionAndCommand)
{
    RunResult r = run_iommusim("replay --functional --bogus");
    EXPECT_EQ(r.status, 2);
    r = run_iommusim("frobnicate");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos);
}

TEST(ReplayCli, ScalableModeFirstLevelAndNestedSample)
{
    json j = stats_of("-c " + SRC + "/configs/vtd-scalable.json -t " + SRC + "/traces/samples/scalable.trace");
    const json &c = j["counters"];
    // first level: a cold 4-level walk (4 reads), then a PDE-cache hit (1); nested 4-over-4:
    // the FL root's GPA through the second level (4), then each FL entry (4) and the GPAs of
    // the lower FL tables (1 each after the PDE cache warms: 3) and of the 2 MB data page
    // (PML4E hit: 2) = 13; the SL-only device in another domain: a cold walk (4)
    EXPECT_EQ(c["walk.mem_reads"], 4 + 1 + 13 + 4);
    EXPECT_EQ(c["walk.count"], 4);
    EXPECT_EQ(c["iotlb.hits"], 2);
    EXPECT_EQ(c["pasid_cache.misses"], 2);
    EXPECT_EQ(c["pasid_cache.hits"], 3);
    EXPECT_EQ(c["faults.total"], 1);
    EXPECT_EQ(c["faults.reason_0x85"], 1); // scalable-mode write denied (VT-d 7.1.3)
}

TEST(InfoCli, DecodesTheDefaultCapabilities)
{
    RunResult r = run_iommusim("info");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("0x00d2078c106f0466"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("0x0000000000f020df"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("SAGAW"), std::string::npos);
    EXPECT_NE(r.out.find("4-level/48-bit"), std::string::npos);
    EXPECT_NE(r.out.find("8 records"), std::string::npos);
    r = run_iommusim("info --set iommu.sagaw=3,4,5");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("3-level/39-bit 4-level/48-bit 5-level/57-bit"), std::string::npos) << r.out;
}

TEST(ConfigCli, EveryKeyIsDocumented)
{
    RunResult r = run_iommusim("config --keys");
    ASSERT_EQ(r.status, 0);
    std::string doc = slurp(SRC + "/docs/config.md");
    std::istringstream rows(r.out);
    std::string row;
    int keys = 0;
    while (std::getline(rows, row)) {
        if (row.rfind("| `", 0) != 0)
            continue;
        std::string key = row.substr(3, row.find('`', 3) - 3);
        keys++;
        EXPECT_NE(doc.find("`" + key + "`"), std::string::npos) << key << " missing from docs/config.md";
    }
    EXPECT_GT(keys, 60);
    // the reference table is the command's output, verbatim (regenerate it with
    // `iommusim config --keys` when a key, default or description changes)
    EXPECT_NE(doc.find(r.out), std::string::npos) << "docs/config.md's table is out of date";
}

TEST(ConfigCli, EveryPresetValueCitesItsSource)
{
    // every preset under configs/ (a preset with _base inherits its base's citations for the
    // values it does not set itself)
    int presets = 0;
    for (const auto &entry : std::filesystem::directory_iterator(SRC + "/configs")) {
        if (entry.path().extension() != ".json")
            continue;
        presets++;
        const std::string p = entry.path().string();
        json j = json::parse(slurp(p));
        const json sources = j.value("_sources", json::object());
        std::function<void(const json &, const std::string &)> walk = [&](const json &o, const std::string &pre) {
            for (auto it = o.begin(); it != o.end(); ++it) {
                if (!it.key().empty() && it.key()[0] == '_')
                    continue;
                std::string k = pre.empty() ? it.key() : pre + "." + it.key();
                if (it.value().is_object())
                    walk(it.value(), k);
                else
                    EXPECT_TRUE(sources.contains(k)) << p << ": " << k << " has no source";
            }
        };
        walk(j, "");
        // and the preset loads (its _base chain resolves, every key is known)
        EXPECT_EQ(run_iommusim("config --resolved -c " + p).status, 0) << p;
    }
    EXPECT_GE(presets, 3);
}

} // namespace

namespace {

// Interrupt traces: vector 0 set up for CPU 0 (xAPIC), its consumer moving to CPU 1.
const std::string kIrqSetup = "irte index=0 lo=0x300001 hi=0x40010\n"
                              "inv type=iec-index index=0 am=0\n";
const std::string kIrqMsi = "msi sid=00:02.0 addr=0xfee00010 data=0x0\n";

std::string irq_trace(const std::string &name, const std::string &body)
{
    std::string t = tmp(name);
    write_file(t, kIrqSetup + body);
    return t;
}

} // namespace

TEST(IrqCli, NamedCountersInBothModes)
{
    const std::string t = irq_trace("irq_counters.trace", "sched thread=0 cpu=0 state=run\n" + kIrqMsi +
                                                              "sched thread=0 cpu=1 state=run\n" + kIrqMsi);
    for (const char *mode : {"replay --functional", "run"}) {
        std::string out = tmp(std::string("irq_") + (mode[0] == 'r' && mode[1] == 'u' ? "run" : "replay") + ".json");
        for (const char *scheme : {"static", "remap"}) {
            RunResult r = run_iommusim(std::string(mode) + " -q -t " + t + " --set irq.scheme=" + scheme +
                                       " --stats-json " + out);
            ASSERT_EQ(r.status, 0) << r.err;
            json c = json::parse(slurp(out))["counters"];
            for (const char *k : {"irq.delivered", "irq.ipis", "irq.ipis_avoided", "irq.vm_exits",
                                  "irq.vm_exits_avoided", "irq.cycles_saved", "irq.retarget_cycles",
                                  "iec.hits", "iec.misses"})
                EXPECT_TRUE(c.contains(k)) << mode << " " << k;
            EXPECT_EQ(c["irq.delivered"], 2);
            // static forwards the second one (the consumer left CPU 0); remap retargeted
            EXPECT_EQ(c["irq.ipis"], std::string(scheme) == "static" ? 1 : 0);
            EXPECT_EQ(c["irq.ipis_avoided"], std::string(scheme) == "static" ? 0 : 1);
            EXPECT_EQ(c["irq.cycles_saved"], std::string(scheme) == "static" ? 0 : 5000);
            if (std::string(mode) == "run") {
                EXPECT_GT(c["irq.latency_ns.p50"].get<double>(), 0.0);
            }
        }
    }
}

TEST(IrqCli, BadInterruptInputNamesFileLineOrKey)
{
    expect_bad("replay --functional --set irq.scheme=fast", "irq.scheme: 'fast' is not one of");
    expect_bad("replay --functional --set irq.irt_entries=100", "irq.irt_entries: must be a power of two");
    expect_bad("replay --functional --set sched.halted=0.8 --set sched.preempted=0.5 --set sched.model=synthetic",
               "p_halted + p_preempted must be <= 1");
    expect_bad("replay --functional --set irq.scheme=posted --set iommu.pi=false", "CAP.PI");
    std::string t = irq_trace("irq_badcpu.trace", "sched thread=0 cpu=300 state=run\n" + kIrqMsi);
    expect_bad("replay --functional -t " + t, t + ":3: sched thread 0: cpu 300 beyond the model's 256 CPUs");
    expect_bad("run -t " + t, t + ":3: sched thread 0: cpu 300 beyond");
    t = irq_trace("irq_badindex.trace", "");
    write_file(t, "irte index=70000 lo=0x1 hi=0x0\n");
    expect_bad("replay --functional -t " + t, t + ":1:");
    t = irq_trace("irq_smallirt.trace", "irte index=300 lo=0x300001 hi=0x40010\n");
    expect_bad("replay --functional --set irq.irt_entries=256 -t " + t, t + ":3: irte index 300 beyond the table");
    t = irq_trace("irq_synth.trace", "sched thread=0 cpu=0 state=run\n" + kIrqMsi);
    expect_bad("replay --functional --set sched.model=synthetic -t " + t,
               t + ":3: sched event in the trace while sched.model=synthetic");
    expect_bad("run --set sched.model=synthetic -t " + t, t + ":3: sched event in the trace");
    t = irq_trace("irq_badmsi.trace", "msi sid=00:02.0 addr=0xfed00010 data=0x0\n");
    expect_bad("replay --functional -t " + t, t + ":3:");
    expect_bad("run -t " + t, t + ":3:");
}

TEST(IrqCli, SameInterruptTraceAndSeedGiveIdenticalStats)
{
    const std::string t = tmp("irq_repro.trace");
    RunResult g = run_iommusim("trace gen irq --pattern nvme --count 3000 --cpus 4 --migrate-every 10 --vm --seed 7 -o " + t);
    ASSERT_EQ(g.status, 0) << g.err;
    for (const char *mode : {"replay --functional", "run"}) {
        std::string a = tmp("irq_repro_a.json"), b = tmp("irq_repro_b.json");
        for (const std::string &out : {a, b}) {
            RunResult r = run_iommusim(std::string(mode) + " -q -t " + t +
                                       " --set irq.scheme=posted --stats-json " + out);
            ASSERT_EQ(r.status, 0) << r.err;
        }
        json ja = json::parse(slurp(a)), jb = json::parse(slurp(b));
        ja["counters"].erase("sim.wall_s"); // the one machine-dependent value (timed runs)
        jb["counters"].erase("sim.wall_s");
        EXPECT_EQ(ja, jb) << mode;
        EXPECT_GT(ja["counters"]["irq.vm_exits_avoided"].get<uint64_t>(), 0u) << mode;
    }
}
