/*
 * sched.h — a synthetic scheduler: where the consumer of an interrupt (the thread or vCPU
 * that handles it) is, and whether it runs, when the interrupt arrives. It stands in for
 * the OS/hypervisor scheduler of a captured system when a trace has interrupts but no
 * `sched` events of its own (the interrupt-stream generator, host/irq_gen.h, and the host
 * model's synthetic mode use it). It emits `sched` trace events (traces/trace.h), which
 * the host model applies like captured ones.
 *
 * Model (all decisions are drawn from one xoshiro256** stream seeded with `seed`, in call
 * order, so the same calls give the same events):
 *  - placement: the first interrupt for thread T places it on CPU T % cpus, running,
 *    unless the caller placed it first (iommu_sched_place: the host model puts a consumer
 *    on the CPU its interrupt was set up for).
 *  - migration: before its M-th, 2M-th, ... interrupt (M = migrate_every, the first
 *    counting as 1), a thread moves to a CPU drawn uniformly among the other cpus - 1
 *    (never with one CPU); its state goes with it.
 *  - vm (consumers are vCPUs): before every interrupt (after a move) the vCPU's state is
 *    drawn afresh, memoryless: halted (stop) with p_halted, preempted with p_preempted,
 *    else running. A vCPU preempted at t > 0 runs again at t + preempt_ns (a pending
 *    change, iommu_sched_due); a later draw for it replaces or cancels that, so the
 *    probabilities are the shares of interrupts that find a vCPU in each state and a
 *    preemption lasts until the next interrupt's draw or preempt_ns, whichever comes
 *    first. A halted vCPU
 *    stays halted until the interrupt wakes it (iommu_sched_woken, called by whoever
 *    delivers the interrupt) or a later draw says otherwise.
 *
 * Workload assumptions: consumers are sparse 64-bit ids, up to a few thousand of them
 * (one per queue or vCPU), interrupts up to 10^8: the lookup is an open-addressing hash
 * table that grows by doubling, and pending changes are an indexed binary heap; nothing is
 * allocated per interrupt once the tables have grown to the number of consumers. No
 * globals; an iommu_sched_t is not thread-safe (one per simulated host).
 */
#ifndef IOMMU_HOST_SCHED_H
#define IOMMU_HOST_SCHED_H

#include "../model/common/status.h"
#include "../traces/trace.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iommu_sched_params {
    uint32_t cpus;          /* CPUs (physical CPUs when vm), >= 1                                  */
    uint64_t migrate_every; /* a consumer moves to another CPU after every M of its interrupts; 0 = never */
    bool vm;                /* consumers are vCPUs that can be halted or preempted                 */
    double p_halted;        /* vm: probability the vCPU is halted when an interrupt for it arrives,
                             * 0 .. 1                                                               */
    double p_preempted;     /* vm: ... preempted, 0 .. 1, p_halted + p_preempted <= 1; running =
                             * 1 - p_halted - p_preempted                                           */
    uint64_t preempt_ns;    /* vm: a vCPU preempted at t runs again at t + preempt_ns (timed use),
                             * >= 1                                                                 */
    uint64_t seed;          /* PRNG seed, any value                                                 */
};

/* cpus 4, migrate 0, vm false, p_halted 0.3, p_preempted 0.1, preempt_ns 1000000 (1 ms),
 * seed 1. */
void iommu_sched_params_default(struct iommu_sched_params *p);
/* IOMMU_OK, or IOMMU_ERR_INVAL with a one-line reason naming the parameter
 * ("sched: p_halted + p_preempted must be <= 1"). The probabilities and preempt_ns are
 * checked even without vm (they are unused then, but a bad value is still a mistake). */
enum iommu_status iommu_sched_params_validate(const struct iommu_sched_params *p, char *reason,
                                              size_t size);

typedef struct iommu_sched iommu_sched_t;
/* NULL on allocation failure. p must be valid (asserted). */
iommu_sched_t *iommu_sched_create(const struct iommu_sched_params *p);
void iommu_sched_destroy(iommu_sched_t *s); /* accepts NULL */

/*
 * The scheduling changes due before an interrupt for consumer `thread` arrives at t_ns (0
 * when untimed): up to 4 `sched` events (no timestamps set; the caller sets them), written
 * to out[] in the order to apply; returns how many (today at most 3: placement, move,
 * state change). A timed caller takes the pending changes due at or before t_ns
 * (iommu_sched_due) first; one of this thread's still pending is replaced or cancelled by
 * the state drawn here. Counts the interrupt (the M-th interrupt moves the thread).
 */
unsigned iommu_sched_before_irq(iommu_sched_t *s, uint64_t thread, uint64_t t_ns,
                                struct iommu_trace_event out[4]);
/* Places a thread the model has not seen on `cpu` (running) without an event: its first
 * interrupt then emits no placement (the caller states where it put it). False when the
 * thread is known already, cpu >= cpus, or on allocation failure. */
bool iommu_sched_place(iommu_sched_t *s, uint64_t thread, uint32_t cpu);
/* Timed use: the earliest time a pending change is due (a preempted vCPU running again),
 * UINT64_MAX if none. */
uint64_t iommu_sched_next_due(const iommu_sched_t *s);
/* The changes due at or before t_ns, earliest first (equal times: lower thread id first),
 * at most max; returns how many, the rest stay pending. Each is a `sched state=run` event
 * on the vCPU's current CPU with its due time set (IOMMU_EVF_TIME), and the model records
 * the vCPU as running. */
unsigned iommu_sched_due(iommu_sched_t *s, uint64_t t_ns, struct iommu_trace_event *out,
                         unsigned max);
/* The interrupt woke a halted consumer: the model records it as running again (the host
 * model does this on delivery). No event; nothing happens unless the thread is halted. */
void iommu_sched_woken(iommu_sched_t *s, uint64_t thread);
/* Where the model has `thread` now (cpu, and state: enum iommu_sched_state): false if
 * never seen. */
bool iommu_sched_where(const iommu_sched_t *s, uint64_t thread, uint32_t *cpu, uint8_t *state);

#ifdef __cplusplus
}
#endif
#endif
