// bench_functional.cpp — throughput and memory of the functional replay (the simulator
// itself, not the modelled hardware). Generates binary window traces with the pcie-bench
// generator and replays them under named configurations:
//   hit    default preset, 64 KB window of 4 KB pages: every translation hits the IOTLB
//          after 16 compulsory misses
//   walk4  IOTLB and paging-structure caches absent: every translation misses and walks
//          4 levels with cold caches (4 paging-entry reads)
// For each it prints translations/s (best of --repeat runs) and the process's peak RSS.
//
// usage: bench_functional [--count N] [--repeat R] [--only hit|walk4] [--keep DIR]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <unistd.h>

#include "sim/config.h"
#include "sim/replay.h"

extern "C" {
#include "traces/gen.h"
}

using namespace iommusim;

static long vm_kib(const char *field)
{
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field, 0) == 0)
            return std::atol(line.c_str() + std::strlen(field));
    return -1;
}

static std::string make_trace(const std::string &dir, const char *name, uint64_t window, uint64_t count)
{
    std::string path = dir + "/" + name + ".bin";
    if (access(path.c_str(), R_OK) == 0)
        return path;
    iommu_gen_window_params p;
    iommu_gen_window_params_default(&p);
    p.window = window;
    p.size = 64;
    p.count = count;
    p.seed = 1;
    iommu_trace_error err{};
    iommu_trace_writer_t *w = iommu_trace_create(path.c_str(), &err);
    if (!w || iommu_trace_gen_window(&p, w, &err) != IOMMU_OK || iommu_trace_finish(w, &err) != IOMMU_OK) {
        std::fprintf(stderr, "bench: cannot generate %s: %s\n", path.c_str(), err.msg);
        std::exit(1);
    }
    return path;
}

int main(int argc, char **argv)
{
    uint64_t count = 10000000;
    int repeat = 3;
    std::string only, keep;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--count" && i + 1 < argc)
            count = std::strtoull(argv[++i], nullptr, 0);
        else if (a == "--repeat" && i + 1 < argc)
            repeat = std::atoi(argv[++i]);
        else if (a == "--only" && i + 1 < argc)
            only = argv[++i];
        else if (a == "--keep" && i + 1 < argc)
            keep = argv[++i];
        else {
            std::fprintf(stderr, "usage: bench_functional [--count N] [--repeat R] [--only hit|walk4] [--keep DIR]\n");
            return 2;
        }
    }
    std::string dir = keep;
    if (dir.empty()) {
        char tmpl[] = "/tmp/iommusim-bench-XXXXXX";
        dir = mkdtemp(tmpl);
    }
    struct Case {
        const char *name;
        uint64_t window;
        std::vector<std::string> sets;
    } cases[] = {
        {"hit", 64 << 10, {}},
        {"walk4", 64 << 10,
         {"iotlb.entries=0", "pwc.pde.entries=0", "pwc.pdpe.entries=0", "pwc.pml4e.entries=0",
          "pwc.pml5e.entries=0"}},
    };
    std::printf("functional replay benchmark: %llu DMAs of 64 B per trace, best of %d\n",
                (unsigned long long)count, repeat);
    std::printf("%-6s %14s %12s %12s %14s\n", "case", "translations", "seconds", "M xlat/s", "peak RSS MiB");
    for (auto &c : cases) {
        if (!only.empty() && only != c.name)
            continue;
        std::string trace = make_trace(dir, c.name, c.window, count);
        double best = 1e99;
        uint64_t tr = 0;
        for (int r = 0; r < repeat; r++) {
            Config cfg;
            cfg.load_file(default_config_path());
            for (auto &s : c.sets)
                cfg.set(s);
            ReplayOptions opt;
            opt.trace = trace;
            ReplayResult res = replay_functional(cfg, opt);
            tr = res.translations;
            if (res.wall_s < best)
                best = res.wall_s;
        }
        std::printf("%-6s %14llu %12.3f %12.2f %14.1f\n", c.name, (unsigned long long)tr, best,
                    (double)tr / best / 1e6, (double)vm_kib("VmHWM:") / 1024.0);
        std::fflush(stdout);
    }
    if (keep.empty()) {
        std::string cmd = "rm -rf '" + dir + "'";
        if (std::system(cmd.c_str()) != 0)
            std::fprintf(stderr, "bench: could not remove %s\n", dir.c_str());
    }
    return 0;
}
