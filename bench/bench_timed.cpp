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

// Runs one timed simulation in this process; returns wall seconds.
static double timed_once(const Config &cfg, const std::string &trace, uint64_t *dmas)
{
    setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
    iommu_stats_t *st = iommu_stats_create();
    tlm_model::RunOptions o;
    o.trace = trace;
    double wall;
    {
        tlm_model::TimedSystem sys(timed_config(cfg.core()), o, st);
        sys.run();
        wall = sys.wall_s();
        *dmas = sys.total().count;
    }
    iommu_stats_destroy(st);
    return wall;
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
            int fds[2];
            if (pipe(fds) != 0)
                return 1;
            pid_t pid = fork();
            if (pid == 0) {
                close(fds[0]);
                uint64_t n = 0;
                double w = timed_once(config_for(c.sets), trace, &n);
                struct rusage ru;
                getrusage(RUSAGE_SELF, &ru);
                char buf[128];
                int len = std::snprintf(buf, sizeof buf, "%.6f %llu %ld\n", w, (unsigned long long)n, ru.ru_maxrss);
                ssize_t wr = write(fds[1], buf, (size_t)len);
                _exit(wr == len ? 0 : 1);
            }
            close(fds[1]);
            char buf[128] = {0};
            ssize_t got = read(fds[0], buf, sizeof buf - 1);
            close(fds[0]);
            int status = 0;
            waitpid(pid, &status, 0);
            double w;
            unsigned long long n;
            long rss;
            if (got <= 0 || std::sscanf(buf, "%lf %llu %ld", &w, &n, &rss) != 3) {
                std::fprintf(stderr, "bench: timed run failed\n");
                return 1;
            }
            if (w < best)
                best = w;
            dmas = n;
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
