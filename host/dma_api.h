/*
 * dma_api.h — the OS side of DMA remapping: a model of Linux's DMA API over VT-d (dma-iommu +
 * intel-iommu as of 6.1) that turns buffer-level events (dma_map / dma_unmap of a handle) into
 * IOVA allocations, page-table updates in simulated memory, and invalidation descriptors
 * through the queue, under a selectable flush policy:
 *
 *  strict      every unmap: page-selective IOTLB invalidation of the range + wait, before the
 *              IOVA is freed and the call returns (iommu.strict=1)
 *  lazy        unmaps go to a per-(domain, CPU) flush queue; the IOVAs are freed only after a
 *              flush (domain-selective, or global) + wait, done when a queue reaches its
 *              high-water mark or when the flush timer (first entry + timeout) expires
 *              (iommu.strict=0: IOVA_FQ_SIZE 256, IOVA_FQ_TIMEOUT 10 ms)
 *  batched     unmaps gathered per domain; after `batch` of them one page-selective
 *              invalidation covering their whole span (domain-selective if the span exceeds
 *              CAP.MAMV) + wait, then the IOVAs are freed
 *  passthrough the device is attached pass-through: dma_map returns the physical address
 *  identity     a static 1:1 domain (built once, never unmapped): translated, never invalidated
 *
 * With CAP.CM (caching mode) set, every map is followed by a page-selective invalidation +
 * wait (as Linux does for a virtual IOMMU); with CAP.RWBF, by a write-buffer flush.
 *
 * Untimed and step-wise like the hardware: each call does its work on the tables and the
 * queue at once and returns what it costs and what the caller must do in its own time
 * (struct iommu_dma_work): ring the doorbell, then wait until a status word is written, then
 * call iommu_dma_flush_done so the IOVAs held by that flush are freed. The functional replay
 * runs the queue immediately; the timed system lets the IOMMU process it and the CPU spin.
 *
 * CPU cost is in cycles per operation (struct iommu_dma_costs, config keys host.cycles.*),
 * charged per CPU; waiting time is added by the caller (iommu_dma_charge_wait).
 */
#ifndef IOMMU_HOST_DMA_API_H
#define IOMMU_HOST_DMA_API_H

#include "host.h"
#include "iova.h"
#include "protect.h"
#include "qi.h"

#ifdef __cplusplus
extern "C" {
#endif

enum iommu_flush_policy {
    IOMMU_FLUSH_STRICT = 0,
    IOMMU_FLUSH_LAZY = 1,
    IOMMU_FLUSH_BATCHED = 2,
    IOMMU_FLUSH_PASSTHROUGH = 3,
    IOMMU_FLUSH_IDENTITY = 4,
};
/* "strict", "lazy", "batched", "passthrough", "identity"; parse returns -1 if unknown. */
const char *iommu_flush_policy_name(unsigned p);
int iommu_flush_policy_parse(const char *name);

/* CPU cycles per operation. */
struct iommu_dma_costs {
    uint32_t map;          /* per dma_map call (DMA-API entry, bookkeeping)          */
    uint32_t map_page;     /* per 4 KB page written into the page table              */
    uint32_t unmap;        /* per dma_unmap call                                     */
    uint32_t unmap_page;   /* per page cleared                                       */
    uint32_t iova_alloc;   /* per IOVA allocation                                    */
    uint32_t iova_step;    /* per tree node the allocator visits                     */
    uint32_t iova_free;    /* per IOVA free                                          */
    uint32_t fq_add;       /* per flush-queue insertion (lazy)                       */
    uint32_t desc;         /* per descriptor written into the queue                  */
    uint32_t doorbell;     /* per IQT write (an uncached MMIO write)                 */
    uint32_t direct;       /* per dma_map/unmap under passthrough (dma-direct)       */
};

struct iommu_dma_cfg {
    uint8_t policy;             /* enum iommu_flush_policy                           */
    uint32_t ncpus;             /* CPUs running drivers (events' cpu < ncpus)        */
    uint32_t lazy_hwm;          /* flush-queue entries per (domain, CPU) before a flush */
    uint64_t lazy_timeout_ns;   /* flush timer                                       */
    bool lazy_global;           /* lazy flushes: global instead of domain-selective  */
    uint32_t batch;             /* unmaps per range invalidation (batched)           */
    double cpu_ghz;             /* cycles per ns                                     */
    struct iommu_dma_costs cycles;
    struct iommu_iova_cfg iova; /* per-domain allocator (ncpus is taken from above)  */
    uint64_t qi_base;           /* invalidation queue (4 KB << qi_qs) and a status page */
    unsigned qi_qs;
    uint64_t status_base;
    bool ats;                   /* devices use ATS: their contexts allow device-TLBs and
                                 * every IOTLB flush also invalidates their device-TLBs  */
};
void iommu_dma_cfg_default(struct iommu_dma_cfg *cfg);
enum iommu_status iommu_dma_cfg_validate(const struct iommu_dma_cfg *cfg, const char **key,
                                         const char **why);

/* What a call left to its caller. */
struct iommu_dma_work {
    uint64_t cycles;       /* CPU cycles of the call, waiting excluded         */
    uint32_t descriptors;  /* descriptors queued by the call                   */
    bool doorbell;         /* write IQT_REG = iqt                              */
    uint64_t iqt;
    bool wait;             /* spin until the 32-bit word at status_addr == status_value,
                            * then iommu_dma_flush_done(token)                  */
    uint64_t status_addr;
    uint32_t status_value;
    uint64_t token;
    uint64_t iova;         /* dma_map: the buffer's first byte's IOVA          */
    /* dma_unmap: the range whose translations were removed from the page table; once the
     * call has returned (after any wait) the caller reports it to the protection tracker
     * (iommu_prot_unmapped) at that time */
    bool unmapped;
    iommu_did_t did;
    uint64_t unmap_iova, unmap_len;
    /* an interrupt retarget (host/irq_host.h): its wait's spin is charged there
     * (iommu_irqhost_charge_wait), not to the DMA API */
    bool irq_retarget;
};

typedef struct iommu_dma iommu_dma_t;

iommu_dma_t *iommu_dma_create(const struct iommu_dma_cfg *cfg, iommu_host_t *h, iommu_t *u,
                              iommu_invq_t *q, iommu_physmem_t *mem, iommu_prot_t *prot,
                              iommu_stats_t *stats);
void iommu_dma_destroy(iommu_dma_t *d); /* accepts NULL */

/* The device joins its domain as the trace's attach says (mode as in iommu_host_attach);
 * passthrough/identity policies substitute their own attachment. */
enum iommu_status iommu_dma_attach(iommu_dma_t *d, iommu_sid_t sid, iommu_did_t did, uint8_t mode);

/* dma_map of one segment [pa, pa + len) of buffer `handle` for device sid; more: further
 * segments follow (scatter-gather), nothing is mapped until the last. Errors: unknown device
 * (IOMMU_ERR_NOTFOUND), handle in use (IOMMU_ERR_EXISTS), IOVA space exhausted (NOMEM),
 * queue full (NOMEM, with *what naming it). */
enum iommu_status iommu_dma_map(iommu_dma_t *d, iommu_sid_t sid, uint64_t handle, uint64_t pa,
                                uint64_t len, uint8_t perm, bool more, unsigned cpu,
                                uint64_t now_ns, struct iommu_dma_work *w);
/* dma_unmap of the buffer. */
enum iommu_status iommu_dma_unmap(iommu_dma_t *d, uint64_t handle, unsigned cpu, uint64_t now_ns,
                                  struct iommu_dma_work *w);
/* Resolves a handle-relative access: the piece of [off, off + len) that lies in one segment:
 * *iova and *piece (bytes); call again with off += piece for the rest. IOMMU_ERR_NOTFOUND for
 * an unknown handle, IOMMU_ERR_INVAL when [off, off + len) is outside the buffer. */
enum iommu_status iommu_dma_resolve(const iommu_dma_t *d, uint64_t handle, uint64_t off,
                                    uint64_t len, uint64_t *iova, uint64_t *piece,
                                    iommu_sid_t *sid);
/* Per-buffer state kept for a timed driver: READY once the dma_map call returned (the device
 * may use the buffer), UNMAPPING once its dma_unmap is queued (no new DMA may use it), and
 * the number of its DMAs in flight (dma_unmap waits for 0). Unknown handles: 0. */
enum { IOMMU_DMA_H_READY = 1, IOMMU_DMA_H_UNMAPPING = 2 };
unsigned iommu_dma_handle_state(const iommu_dma_t *d, uint64_t handle);
void iommu_dma_handle_set(iommu_dma_t *d, uint64_t handle, unsigned state_bits);
uint32_t iommu_dma_handle_inflight(iommu_dma_t *d, uint64_t handle, int delta);

/* The flush timer (lazy): the earliest time a flush is due (UINT64_MAX: none), and the
 * flush itself when now_ns has reached it (w->doorbell/wait set if anything was flushed). */
uint64_t iommu_dma_next_timer(const iommu_dma_t *d);
enum iommu_status iommu_dma_timer(iommu_dma_t *d, unsigned cpu, uint64_t now_ns,
                                  struct iommu_dma_work *w);
/* Flushes everything still deferred (end of run). */
enum iommu_status iommu_dma_flush_all(iommu_dma_t *d, unsigned cpu, uint64_t now_ns,
                                      struct iommu_dma_work *w);
/* The wait of flush `token` completed: frees the IOVAs it held; returns the CPU cycles that
 * took (the caller's CPU is busy that long after the wait). */
uint64_t iommu_dma_flush_done(iommu_dma_t *d, uint64_t token, unsigned cpu);
/* Charges time spent waiting for an invalidation to CPU cpu. */
void iommu_dma_charge_wait(iommu_dma_t *d, unsigned cpu, uint64_t wait_ns);
/* The ATS devices attached to domain did (*sids valid until the next attach). */
uint32_t iommu_dma_ats_devices(const iommu_dma_t *d, iommu_did_t did, const iommu_sid_t **sids);

/* Free queue slots (a call needs at most IOMMU_DMA_MAX_DESC). */
#define IOMMU_DMA_MAX_DESC 16u /* IOTLB + up to 8 device-TLB (ATS devices per domain) + wait */
#define IOMMU_DMA_MAX_ATS 8u
uint32_t iommu_dma_queue_free(const iommu_dma_t *d);
/* The driver's side of the invalidation queue (shared with DMA-level `inv` events). */
iommu_hostq_t *iommu_dma_hostq(iommu_dma_t *d);
/* Queues descriptors of one DMA-level `inv` trace event (a `wait` gets a status write that
 * w->wait asks the caller to wait for) and sets the doorbell. */
enum iommu_status iommu_dma_submit_inv(iommu_dma_t *d, const uint64_t qw[4], bool is_wait,
                                       unsigned cpu, struct iommu_dma_work *w);

/* Derived: cycles per I/O (all CPUs' cycles / completed unmaps). */
double iommu_dma_cycles_per_io(const iommu_dma_t *d);
const struct iommu_dma_cfg *iommu_dma_config(const iommu_dma_t *d);

#ifdef __cplusplus
}
#endif
#endif
