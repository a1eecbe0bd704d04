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

#include "bench_util.h"


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

int main(int argc, char **argv)
{
    const bench::Options o = bench::parse(argc, argv, "bench_functional", 10000000);
    const uint64_t count = o.count;
    const int repeat = o.repeat;
    std::printf("functional replay benchmark: %llu DMAs of 64 B per trace, best of %d\n",
                (unsigned long long)count, repeat);
    std::printf("%-6s %14s %12s %12s %14s\n", "case", "translations", "seconds", "M xlat/s", "peak RSS MiB");
    const std::string trace = bench::window_trace(o.dir, count);
    for (auto &c : bench::cases()) {
        if (!o.only.empty() && o.only != c.name)
            continue;
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
    bench::cleanup(o);
    return 0;
}
