// bench_util.h — what the benchmarks share: their options, the cases they measure, the
// window traces they replay, and cleaning up.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "sim/config.h"

extern "C" {
#include "traces/gen.h"
}

namespace bench {

struct Options {
    uint64_t count;
    int repeat = 3;
    std::string only, keep, dir; // dir: where traces go (keep, or a temporary directory)
};

// Parses [--count N] [--repeat R] [--only CASE] [--keep DIR]; exits 2 with the usage on error.
inline Options parse(int argc, char **argv, const char *prog, uint64_t default_count)
{
    Options o;
    o.count = default_count;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--count" && i + 1 < argc)
            o.count = std::strtoull(argv[++i], nullptr, 0);
        else if (a == "--repeat" && i + 1 < argc)
            o.repeat = std::atoi(argv[++i]);
        else if (a == "--only" && i + 1 < argc)
            o.only = argv[++i];
        else if (a == "--keep" && i + 1 < argc)
            o.keep = argv[++i];
        else {
            std::fprintf(stderr, "usage: %s [--count N] [--repeat R] [--only hit|walk4] [--keep DIR]\n", prog);
            std::exit(2);
        }
    }
    o.dir = o.keep;
    if (o.dir.empty()) {
        char tmpl[] = "/tmp/iommusim-bench-XXXXXX";
        o.dir = mkdtemp(tmpl);
    }
    return o;
}

// The cases: every translation hits the IOTLB, or every one walks 4 levels with no caches.
struct Case {
    const char *name;
    std::vector<std::string> sets;
};
inline std::vector<Case> cases()
{
    return {{"hit", {}},
            {"walk4", {"iotlb.entries=0", "pwc.pde.entries=0", "pwc.pdpe.entries=0",
                       "pwc.pml4e.entries=0", "pwc.pml5e.entries=0"}}};
}

// A binary window trace (64 B reads over a 64 KB window of 4 KB pages, seed 1) in dir, made
// once and reused.
inline std::string window_trace(const std::string &dir, uint64_t count)
{
    std::string path = dir + "/window64k-" + std::to_string(count) + ".bin";
    if (access(path.c_str(), R_OK) == 0)
        return path;
    iommu_gen_window_params p;
    iommu_gen_window_params_default(&p);
    p.window = 64 << 10;
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

// One timed simulation of trace in a child process (SystemC elaborates one model per
// process): its wall seconds (the simulation loop), DMAs completed and the child's peak RSS
// (KiB). False when the child failed.
inline bool timed_child(const iommusim::Config &cfg, const std::string &trace, double *wall,
                        uint64_t *dmas, long *rss_kib)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
        iommu_stats_t *st = iommu_stats_create();
        iommusim::tlm_model::RunOptions o;
        o.trace = trace;
        double w;
        uint64_t n;
        {
            iommusim::tlm_model::TimedSystem sys(iommusim::timed_config(cfg.core()), o, st);
            sys.run();
            w = sys.wall_s();
            n = sys.total().count;
        }
        iommu_stats_destroy(st);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        char buf[128];
        int len = std::snprintf(buf, sizeof buf, "%.6f %llu %ld\n", w, (unsigned long long)n, ru.ru_maxrss);
        _exit(write(fds[1], buf, (size_t)len) == len ? 0 : 1);
    }
    close(fds[1]);
    char buf[128] = {0};
    ssize_t got = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    unsigned long long n = 0;
    const bool ok = got > 0 && std::sscanf(buf, "%lf %llu %ld", wall, &n, rss_kib) == 3;
    *dmas = n;
    return ok;
}

// Removes the temporary directory unless --keep named it.
inline void cleanup(const Options &o)
{
    if (!o.keep.empty())
        return;
    std::string cmd = "rm -rf '" + o.dir + "'";
    if (std::system(cmd.c_str()) != 0)
        std::fprintf(stderr, "bench: could not remove %s\n", o.dir.c_str());
}

} // namespace bench
