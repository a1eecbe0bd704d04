/*
 * irq_host.h — the host around interrupt remapping: CPUs, the consumers of device interrupts
 * (threads on bare metal, vCPUs in a VM), the OS/VMM's interrupt set-up and the delivery
 * scheme under study, with the CPU cost and the latency of every interrupt.
 *
 * Schemes (irq.scheme):
 *  static  — no remapping: the device's MSI goes to the CPU the OS first chose for the vector
 *            (the destination of the trace's `irte`); when the consumer runs elsewhere the
 *            landing CPU sends it an IPI. The remapping hardware is disabled.
 *  remap   — remapped IRTEs, retargeted when the consumer moves: the driver rewrites the
 *            IRTE's destination and invalidates the IEC entry through the invalidation
 *            queue (an IEC descriptor and a wait). Interrupts then land where the consumer is.
 *  posted  — a VM with posted interrupts: each vector's IRTE is in posted format and names
 *            its consumer vCPU's posted-interrupt descriptor (PID). The VMM keeps the PID in
 *            step with the vCPU: running → NV = posted vector, NDST = its CPU (no exit);
 *            halted → NV = wake-up vector (the notification wakes it); preempted → SN = 1
 *            (the interrupt waits in the PIR until the vCPU runs again).
 *  vm-exit — a VM without posting: the IRTE (remapped) sends the interrupt to the host CPU
 *            the VMM chose; the host handler injects it into the vCPU: a VM exit when the
 *            vCPU is running (plus an IPI when it runs on another CPU), a wake-up when halted,
 *            nothing until it runs again when preempted.
 *
 * Every interrupt is also priced under the baseline of its setting — static for static and
 * remap, vm-exit for posted and vm-exit — so one run reports what the scheme saves: IPIs and
 * VM exits avoided, cycles saved, and the cycles spent keeping interrupts targeted (IRTE
 * rewrites with their IEC invalidations; PID updates).
 *
 * Consumers: an msi's `thread=` names its consumer (absent: the interrupt's index). Where a
 * consumer runs comes from `sched` events (the trace's, or a synthetic scheduler's when
 * cfg.synthetic — host/sched.h). A consumer never placed runs on the CPU its interrupt's
 * static destination names. CPUs are APIC ids: physical destination mode names the CPU,
 * logical (flat) mode the lowest CPU in the mask.
 *
 * Time (timed runs): an interrupt reaches its landing CPU irq.deliver_ns after the IOMMU
 * finished it; an IPI takes irq.ipi_ns in flight; CPU work (cycles / cpu_ghz) is serialised
 * per CPU. Latency runs from the device's MSI write to the moment the consumer gets the
 * interrupt (its CPU starts its handler). The functional replay passes times of 0 and gets
 * counts and cycles only.
 *
 * Workload assumptions: consumers and vectors number in the thousands at most (thread ids
 * are hashed; vectors are indexed by interrupt index below irq.irt_entries); the hot path
 * (one interrupt) does not allocate once the tables have grown.
 */
#ifndef IOMMU_HOST_IRQ_HOST_H
#define IOMMU_HOST_IRQ_HOST_H

#include "../model/irq_remap/irq_remap.h"
#include "../traces/trace.h"
#include "dma_api.h"
#include "sched.h"

#ifdef __cplusplus
extern "C" {
#endif

enum iommu_irq_scheme {
    IOMMU_IRQS_STATIC = 0,
    IOMMU_IRQS_REMAP = 1,
    IOMMU_IRQS_POSTED = 2,
    IOMMU_IRQS_VMEXIT = 3,
};
/* "static", "remap", "posted", "vm-exit"; parse returns -1 if unknown. */
const char *iommu_irq_scheme_name(unsigned s);
int iommu_irq_scheme_parse(const char *name);

/* CPU cycles of the pieces of interrupt handling (config keys irq.cycles.*). */
struct iommu_irq_cycles {
    uint32_t handler;      /* the consumer's interrupt handler, every delivered interrupt */
    uint32_t ipi;          /* one IPI, sending and receiving                              */
    uint32_t vm_exit;      /* one VM exit and re-entry                                    */
    uint32_t host_handler; /* the host's handler of a VM's interrupt (forward and inject,
                            * or the wake-up notification)                                */
    uint32_t wakeup;       /* waking a halted vCPU / blocked thread and running it        */
    uint32_t irte_update;  /* the driver rewriting one IRTE                               */
    uint32_t pid_update;   /* one atomic update of a posted-interrupt descriptor          */
};

struct iommu_irqhost_cfg {
    uint8_t scheme;             /* enum iommu_irq_scheme                                 */
    struct iommu_irq_cycles cycles;
    double cpu_ghz;             /* cycles per ns (host.cpu_ghz)                          */
    double deliver_ns;          /* IOMMU → the landing CPU's local APIC                  */
    double ipi_ns;              /* an IPI in flight                                      */
    uint64_t irt_base;          /* interrupt-remapping table (4 KB aligned)              */
    uint32_t irt_entries;       /* power of two, 2 .. 65536 (IRTA.S = log2 - 1)          */
    bool x2apic;                /* IRTA.EIME: 32-bit destinations                        */
    uint64_t pid_base;          /* posted-interrupt descriptors: 64 bytes per consumer   */
    uint8_t posted_vector;      /* notification vector for running vCPUs                */
    uint8_t wakeup_vector;      /* notification vector for halted vCPUs                  */
    uint32_t max_cpus;          /* CPUs the model accepts (sched cpu < max_cpus)          */
    bool synthetic;             /* consumers are placed by the scheduler model below     */
    struct iommu_sched_params sched;
};
void iommu_irqhost_cfg_default(struct iommu_irqhost_cfg *c);
/* IOMMU_ERR_INVAL with *key naming the offending key and the reason in why[n]. */
enum iommu_status iommu_irqhost_cfg_validate(const struct iommu_irqhost_cfg *c, const char **key,
                                             char *why, size_t n);

typedef struct iommu_irqhost iommu_irqhost_t;

/* Sets up interrupt remapping on hw (IRTA, enable; disabled for static) and registers the
 * irq.* counters. dma provides the driver's invalidation queue for retargeting. NULL on
 * allocation failure or when the unit lacks what the scheme needs (ECAP.IR; CAP.PI for
 * posted: *why says which). */
iommu_irqhost_t *iommu_irqhost_create(const struct iommu_irqhost_cfg *cfg, iommu_irq_t *hw,
                                      iommu_t *u, iommu_physmem_t *mem, iommu_dma_t *dma,
                                      iommu_stats_t *stats, const char **why);
void iommu_irqhost_destroy(iommu_irqhost_t *h); /* accepts NULL */

/* Timed runs: called with every interrupt latency (ps) when it becomes known. */
void iommu_irqhost_on_latency(iommu_irqhost_t *h, void (*fn)(void *ctx, uint64_t ps), void *ctx);

/* Host events. irte: the OS writes an entry (adjusted to the scheme: retargeted remap
 * destination, posted format). sched: a consumer moves or changes state; remap may queue
 * IEC invalidations (w: doorbell and wait, w->irq_retarget), posted updates the PID and
 * releases interrupts waiting for a preempted vCPU. IOMMU_ERR_INVAL with what[] for an
 * index beyond the table or a CPU beyond max_cpus; IOMMU_ERR_NOMEM for a full queue. */
enum iommu_status iommu_irqhost_irte(iommu_irqhost_t *h, const struct iommu_trace_event *ev,
                                     char *what, size_t n);
enum iommu_status iommu_irqhost_sched(iommu_irqhost_t *h, const struct iommu_trace_event *ev,
                                      uint64_t now_ns, struct iommu_dma_work *w, char *what,
                                      size_t n);

/* An msi event is about to be issued at now_ns: with the synthetic scheduler, the sched
 * events due first (out[], at most 8; the caller applies them through iommu_host_apply).
 * Returns how many. */
unsigned iommu_irqhost_sched_due(iommu_irqhost_t *h, const struct iommu_trace_event *msi,
                                 uint64_t now_ns, struct iommu_trace_event out[8]);
/* Binds the msi's vector to its consumer (first time: places an unplaced consumer and sets
 * the entry up for the scheme in zero time) and returns the request the device's write
 * makes at the IOMMU (static: compatibility format to the static CPU). */
void iommu_irqhost_request(iommu_irqhost_t *h, const struct iommu_trace_event *msi,
                           struct iommu_irq_req *req);
/* The IOMMU finished the msi's request (op: done or faulted; notify/pid: a posted
 * result's notification and the descriptor after posting). issue_ps: the device's write;
 * done_ps: the IOMMU's end (0, 0 in functional runs). */
void iommu_irqhost_deliver(iommu_irqhost_t *h, const struct iommu_trace_event *msi,
                           const struct iommu_irq_op *op, bool done, bool notify,
                           const struct iommu_pid *pid, uint64_t issue_ps, uint64_t done_ps);
/* The functional driver of one msi: request, the remapping hardware against memory (and the
 * posted-descriptor update), delivery. Returns false when the IOMMU blocked it (a fault). */
bool iommu_irqhost_msi_functional(iommu_irqhost_t *h, const struct iommu_trace_event *msi);
/* A retarget's wait took wait_ns (timed): its spin counts in irq.retarget_cycles. */
void iommu_irqhost_charge_wait(iommu_irqhost_t *h, uint64_t wait_ns);

/* Derived figures for the summary and the stats JSON. */
struct iommu_irqhost_summary {
    uint64_t requests, delivered, faulted, ios, pending; /* pending: waiting at the end */
    uint64_t ipis, ipis_avoided, vm_exits, vm_exits_avoided;
    uint64_t cycles, baseline_cycles, retarget_cycles;
    int64_t cycles_saved;      /* baseline - actual delivery cycles                        */
    int64_t net_cycles_saved;  /* cycles_saved - retarget_cycles                           */
    double net_per_irq, net_per_io;
    uint64_t iec_hits, iec_misses;
    double iec_hit_rate;
};
void iommu_irqhost_summarize(const iommu_irqhost_t *h, struct iommu_irqhost_summary *s);
const struct iommu_irqhost_cfg *iommu_irqhost_config(const iommu_irqhost_t *h);

#ifdef __cplusplus
}
#endif
#endif
