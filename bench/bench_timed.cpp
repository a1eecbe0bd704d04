// bench_timed.cpp — throughput and memory of the timed simulation (`iommusim run`), with the
// functional replay of the same trace beside it. Each timed case runs in a child process (a
// SystemC model is elaborated once per process).
//   hit    default preset, 64 B reads over a 64 KB window of 4 KB pages: IOTLB hits
//   walk4  IOTLB and paging-structure caches absent: every DMA walks 4 levels
// Prints simulated DMA transactions/s (best of --repeat runs) and peak RSS.
//
// usage: bench_timed [--count N] [--repeat R] [--only hit|walk4] [--keep DIR]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/config.h"
#include "sim/replay.h"

#include "bench_util.h"

using namespace iommusim;

static Config config_for(const std::vector<std::string> &sets)
{
    return Config::load("", sets);
}

int main(int argc, char **argv)
{
    const bench::Options o = bench::parse(argc, argv, "bench_timed", 2000000);
    const uint64_t count = o.count;
    const int repeat = o.repeat;
    const std::string trace = bench::window_trace(o.dir, count);
    std::printf("timed simulation benchmark: %llu DMAs of 64 B (64 KB window), best of %d\n",
                (unsigned long long)count, repeat);
    std::printf("%-6s %14s %10s %14s %12s %16s\n", "case", "DMAs", "seconds", "M DMAs/s",
                "peak RSS MiB", "functional M/s");
    for (auto &c : bench::cases()) {
        if (!o.only.empty() && o.only != c.name)
            continue;
        double best = 1e99;
        uint64_t dmas = 0;
        long rss_kib = 0;
        for (int r = 0; r < repeat; r++) {
            double w;
            long rss;
            if (!bench::timed_child(config_for(c.sets), trace, &w, &dmas, &rss)) {
                std::fprintf(stderr, "bench: timed run failed\n");
                return 1;
            }
            if (w < best)
                best = w;
            rss_kib = rss;
        }
        // the functional replay of the same trace and config, in this process
        double fbest = 1e99;
        uint64_t ftr = 0;
        for (int r = 0; r < repeat; r++) {
            ReplayOptions opt;
            opt.trace = trace;
            ReplayResult res = replay_functional(config_for(c.sets), opt);
            ftr = res.translations;
            if (res.wall_s < fbest)
                fbest = res.wall_s;
        }
        std::printf("%-6s %14llu %10.3f %14.2f %12.1f %16.2f\n", c.name, (unsigned long long)dmas,
                    best, (double)dmas / best / 1e6, (double)rss_kib / 1024.0,
                    (double)ftr / fbest / 1e6);
        std::fflush(stdout);
    }
    bench::cleanup(o);
    return 0;
}
