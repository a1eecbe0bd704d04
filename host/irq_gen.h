/*
 * irq_gen.h — a synthetic interrupt stream: what an NVMe SSD or a NIC with per-CPU queues
 * raises, as a timed trace (format v3) for the interrupt-remapping and host interrupt
 * models: the remapping-table set-up, the consumers' initial placement, then `count` msi
 * events with their consumer (`thread=`) and the I/Os each completes (`ios=`), interleaved
 * with the `sched` events of a synthetic scheduler (host/sched.h). `iommusim trace gen irq`
 * is its command line; docs/trace-format.md ("Generators") documents the output.
 *
 * Patterns (Q queues, one consumer per queue: thread q, or vCPU q with vm):
 *  nvme: one MSI-X vector per queue (vector q). Completions arrive per queue as a Poisson
 *        process of `rate` per second; with NVMe interrupt coalescing an interrupt fires at
 *        the `coalesce`-th pending completion or when the oldest pending one has waited
 *        `coalesce_ns` (0: no time limit), covering every pending completion (ios).
 *  nic:  two vectors per queue: RX 2q and TX 2q+1, both handled by thread q. RX packets
 *        arrive as a Poisson process of `rate` per second; NAPI: a packet arriving while
 *        the RX vector is enabled raises an interrupt at its arrival, then the vector stays
 *        masked for a poll window of `napi_ns`, and every packet arriving in the window
 *        [t, t + napi_ns) is that interrupt's work (ios = 1 + packets in the window). TX
 *        packets arrive at the same rate; every `tx_batch`-th raises a TX completion
 *        interrupt with ios = tx_batch.
 *
 * Each vector's arrivals come from its own PRNG stream (iommu_irq_arrivals, exposed so
 * tests can replay them), so each vector computes its next interrupt completely, window
 * and all, before the vectors are merged by time (ties: lower vector first, which is
 * lower queue first); the scheduler draws in the merged order. Nothing grows with the
 * count: memory is a few hundred bytes per vector.
 *
 * Workload assumptions: up to 1024 queues and 10^8 interrupts; rates from 1 to 10^9 per
 * second per queue (timestamps are whole nanoseconds: at rates near 10^9 several arrivals
 * share a nanosecond). The output is deterministic for the same parameters on one build
 * (arrival gaps use the C library's log1p).
 */
#ifndef IOMMU_HOST_IRQ_GEN_H
#define IOMMU_HOST_IRQ_GEN_H

#include "../model/common/rng.h"
#include "../model/common/status.h"
#include "../traces/trace.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum iommu_irq_pattern { IOMMU_IRQ_NVME = 1, IOMMU_IRQ_NIC = 2 };

#define IOMMU_IRQ_GEN_NVME_SID IOMMU_SID(0, 2, 0) /* 00:02.0 */
#define IOMMU_IRQ_GEN_NIC_SID IOMMU_SID(0, 3, 0)  /* 00:03.0 */
#define IOMMU_IRQ_GEN_QUEUES_MAX 1024u
#define IOMMU_IRQ_GEN_CPUS_MAX 255u        /* xAPIC physical destinations 0 .. 254 (0xff is
                                             * the broadcast id)                            */
#define IOMMU_IRQ_GEN_COALESCE_MAX 256u    /* NVMe Aggregation Threshold: 8 bits, 0's based */
#define IOMMU_IRQ_GEN_COALESCE_NS_MAX 25500000ull /* NVMe Aggregation Time: 8 bits x 100 us */
#define IOMMU_IRQ_GEN_NAPI_NS_MAX 1000000000ull   /* 1 s                                   */
#define IOMMU_IRQ_GEN_TX_BATCH_MAX 65536u
#define IOMMU_IRQ_GEN_RATE_MAX 1e9         /* arrivals per second per queue               */
#define IOMMU_IRQ_GEN_AUTO UINT64_MAX      /* coalesce_ns: 100 us when coalesce > 1       */
#define IOMMU_IRQ_GEN_VECTOR_BASE 0x30u    /* vectors 0x30 .. 0xef, wrapping              */
#define IOMMU_IRQ_GEN_VECTOR_LAST 0xEFu

struct iommu_irq_gen_params {
    unsigned pattern;       /* enum iommu_irq_pattern                                        */
    uint64_t count;         /* msi events written, >= 1                                       */
    uint32_t cpus;          /* CPUs (physical CPUs with vm), 1 .. IOMMU_IRQ_GEN_CPUS_MAX      */
    uint32_t queues;        /* queues (consumers), 1 .. IOMMU_IRQ_GEN_QUEUES_MAX; 0 = cpus   */
    uint64_t migrate_every; /* sched: a consumer moves after every M of its interrupts; 0 never */
    bool vm;                /* consumers are vCPUs (halted, preempted: host/sched.h)          */
    double p_halted;        /* vm: sched p_halted                                             */
    double p_preempted;     /* vm: sched p_preempted                                          */
    uint64_t preempt_ns;    /* vm: sched preempt_ns, >= 1                                     */
    uint32_t coalesce;      /* nvme: completions per interrupt (threshold), 1 .. 256          */
    uint64_t coalesce_ns;   /* nvme: longest wait of a pending completion, 0 = no limit, up
                             * to IOMMU_IRQ_GEN_COALESCE_NS_MAX; IOMMU_IRQ_GEN_AUTO = 100 us
                             * when coalesce > 1 (no limit needed when it is 1)               */
    double rate;            /* arrivals per second per queue (nvme completions; nic RX and TX
                             * packets each), 1 .. 1e9; 0 = the pattern's default (nvme
                             * 200000, nic 1000000)                                           */
    uint64_t napi_ns;       /* nic: NAPI poll window, 0 .. IOMMU_IRQ_GEN_NAPI_NS_MAX          */
    uint32_t tx_batch;      /* nic: TX packets per TX interrupt, 1 .. 65536                   */
    uint64_t seed;          /* PRNG seed, any value                                           */
};

/* nvme, count 0 (must be set), cpus 4, queues 0 (= cpus), migrate 0, vm false, 0.3, 0.1,
 * preempt 1 ms, coalesce 1, coalesce_ns AUTO, rate 0 (pattern default), napi 20 us,
 * tx_batch 32, seed 1. */
void iommu_irq_gen_params_default(struct iommu_irq_gen_params *p);
/* IOMMU_OK, or IOMMU_ERR_INVAL with a one-line reason naming the parameter. */
enum iommu_status iommu_irq_gen_params_validate(const struct iommu_irq_gen_params *p,
                                                char *reason, size_t size);
/* The values the generator uses for the parameters with "pattern default" settings. */
uint32_t iommu_irq_gen_queues(const struct iommu_irq_gen_params *p);
double iommu_irq_gen_rate(const struct iommu_irq_gen_params *p);
uint64_t iommu_irq_gen_coalesce_ns(const struct iommu_irq_gen_params *p);
/* Interrupt vectors: queues (nvme) or 2 * queues (nic). */
uint32_t iommu_irq_gen_vectors(const struct iommu_irq_gen_params *p);

/*
 * Writes, all with timestamps (ns) that never decrease:
 *   for each vector i: irte index=i (remapped format: present, vector 0x30 + i wrapping in
 *     0x30..0xef, fixed delivery, physical xAPIC destination = the initial CPU of the
 *     vector's consumer, SVT=1 SQ=0 SID=the device), inv type=iec-index index=i am=0
 *   inv type=wait
 *   for each consumer q: sched thread=q cpu=q%cpus state=run          (all at t=0)
 *   then `count` interrupts in time order, each preceded by the scheduler's due changes
 *   (their own times) and its changes before the interrupt (the msi's time):
 *     msi sid=<device> addr=<remappable, handle i> data=0 thread=<q> [ios=<k>] t=<ns>
 * A consumer's placement by the scheduler at its first interrupt repeats the set-up's
 * sched event and is not written. An interrupt that finds its vCPU halted wakes it
 * (iommu_sched_woken) after the msi. Does not finish the writer. Returns the validation
 * error (err filled), IOMMU_ERR_NOMEM, IOMMU_ERR_INVAL when timestamps would pass 2^63 ns,
 * or the writer's error.
 */
enum iommu_status iommu_trace_gen_irq(const struct iommu_irq_gen_params *p,
                                      iommu_trace_writer_t *w, struct iommu_trace_error *err);

/* One vector's Poisson arrival process, exposed so tests can replay exactly the arrivals
 * the generator drew. Gaps are exponential with mean 1e9 / rate ns, accumulated exactly
 * (in double); an arrival's timestamp is the first whole nanosecond after it
 * (floor + 1: never 0, never decreasing). The stream of vector v is seeded with
 * seed ^ ((v + 1) * 0x9E3779B97F4A7C15) (then splitmix64, iommu_rng_seed). */
struct iommu_irq_arrivals {
    struct iommu_rng rng;
    double mean_ns; /* mean gap                       */
    double t;       /* the last arrival, exact, in ns */
};
void iommu_irq_arrivals_init(struct iommu_irq_arrivals *a, uint64_t seed, uint32_t vector,
                             double rate);
uint64_t iommu_irq_arrivals_next(struct iommu_irq_arrivals *a);

#ifdef __cplusplus
}
#endif
#endif
