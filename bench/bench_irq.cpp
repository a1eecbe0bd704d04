// bench_irq.cpp — throughput and memory of the interrupt path: `trace gen irq` streams (NVMe
// with 4 queues on 4 CPUs, consumers moving every 100 of their interrupts; the VM variant
// with halted/preempted vCPUs) replayed under each delivery scheme, functional (in this
// process) and timed (a child process per run: SystemC elaborates once per process).
// Prints interrupts per second (best of --repeat runs) and the timed run's peak RSS.
//
// usage: bench_irq [--count N] [--repeat R] [--only static|remap|posted|vm-exit] [--keep DIR]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "sim/config.h"
#include "sim/replay.h"

#include "bench_util.h"

extern "C" {
#include "host/irq_gen.h"
}

using namespace iommusim;

namespace {

// An NVMe interrupt stream (bare metal, or a VM's vCPUs) in dir, made once and reused.
std::string irq_trace(const std::string &dir, uint64_t count, bool vm)
{
    std::string path = dir + "/irq-nvme-" + (vm ? "vm-" : "") + std::to_string(count) + ".bin";
    if (access(path.c_str(), R_OK) == 0)
        return path;
    iommu_irq_gen_params p;
    iommu_irq_gen_params_default(&p);
    p.pattern = IOMMU_IRQ_NVME;
    p.count = count;
    p.cpus = 4;
    p.migrate_every = 100;
    p.vm = vm;
    p.rate = 50000; // unsaturated CPUs under every scheme
    iommu_trace_error err{};
    iommu_trace_writer_t *w = iommu_trace_create(path.c_str(), &err);
    if (!w || iommu_trace_gen_irq(&p, w, &err) != IOMMU_OK || iommu_trace_finish(w, &err) != IOMMU_OK) {
        std::fprintf(stderr, "bench: cannot generate %s: %s\n", path.c_str(), err.msg);
        std::exit(1);
    }
    return path;
}

} // namespace

int main(int argc, char **argv)
{
    const bench::Options o = bench::parse(argc, argv, "bench_irq", 1000000);
    std::printf("interrupt benchmark: %llu NVMe interrupts (4 queues, 4 CPUs, a move every 100), best of %d\n",
                (unsigned long long)o.count, o.repeat);
    std::printf("%-8s %14s %16s %16s %12s\n", "scheme", "interrupts", "functional M/s", "timed M/s",
                "peak RSS MiB");
    for (const char *scheme : {"static", "remap", "posted", "vm-exit"}) {
        if (!o.only.empty() && o.only != scheme)
            continue;
        const bool vm = std::string(scheme) == "posted" || std::string(scheme) == "vm-exit";
        const std::string trace = irq_trace(o.dir, o.count, vm);
        const Config cfg = Config::load("", {std::string("irq.scheme=") + scheme});
        double fbest = 1e99, tbest = 1e99;
        long rss = 0;
        for (int r = 0; r < o.repeat; r++) {
            ReplayOptions opt;
            opt.trace = trace;
            ReplayResult res = replay_functional(cfg, opt);
            fbest = std::min(fbest, res.wall_s);
            double w;
            long k;
            uint64_t dmas;
            if (!bench::timed_child(cfg, trace, &w, &dmas, &k)) {
                std::fprintf(stderr, "bench: timed run failed\n");
                return 1;
            }
            tbest = std::min(tbest, w);
            rss = k;
        }
        const double n = (double)o.count;
        std::printf("%-8s %14llu %16.2f %16.3f %12.1f\n", scheme, (unsigned long long)o.count,
                    n / fbest / 1e6, n / tbest / 1e6, (double)rss / 1024.0);
        std::fflush(stdout);
    }
    bench::cleanup(o);
    return 0;
}
