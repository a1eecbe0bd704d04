/*
 * irq_host.c — the host's interrupt side: consumers, vectors, the delivery schemes and their
 * cost (see irq_host.h for the model and its assumptions).
 *
 * Data: consumers (threads or vCPUs) live in a growing array found through an open-addressing
 * hash of their 64-bit ids; vectors in an array indexed by interrupt index (table entries),
 * each bound to one consumer and chained on that consumer's list so a move visits only its
 * own vectors. Per-CPU "busy until" times serialise CPU work in timed runs.
 */
#include "irq_host.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX


/* How an interrupt reached its consumer (exactly one per delivered interrupt). */
enum path { P_DIRECT, P_IPI, P_VMEXIT, P_POSTED, P_WAKEUP, P_DEFERRED, P_N };

struct consumer {
    uint64_t id;
    uint32_t cpu;        /* where it runs / last ran                                   */
    uint8_t state;       /* enum iommu_sched_state (traces/trace.h)                     */
    bool placed;         /* a sched event (or a first interrupt) gave it a CPU          */
    bool pid_ready;      /* posted: its descriptor is written                           */
    uint32_t first_vec;  /* its vectors (chained through vec.next), NONE if none        */
    uint64_t *pend;      /* issue times (ps) of interrupts waiting for it to run         */
    uint32_t npend, cap;
};

struct vec {
    bool os_seen;        /* the trace wrote this entry                                  */
    bool bound;          /* consumer known                                              */
    bool posted;         /* the entry in memory is in posted format                      */
    uint64_t os[2];      /* the entry as the OS wrote it                                 */
    uint32_t static_cpu; /* the OS's destination: static scheme and baselines            */
    uint32_t dest_cpu;   /* remapped entries: the destination in memory now               */
    uint32_t consumer;   /* index into consumers                                         */
    uint32_t next;       /* next vector of the same consumer                             */
};

enum ctr {
    C_DELIVERED, C_IOS, C_IPIS, C_IPIS_AVOIDED, C_IPIS_ADDED, C_EXITS, C_EXITS_AVOIDED,
    C_EXITS_ADDED, C_CYCLES, C_BASE_CYCLES, C_RETARGET_CYCLES, C_RETARGETS, C_PID_UPDATES,
    C_PATH0, C_UNPLACED = C_PATH0 + P_N, C_FAULTED, C_RELEASED, C_N
};
static const char *const ctr_names[C_N] = {
    "delivered", "ios", "ipis", "ipis_avoided", "ipis_added", "vm_exits", "vm_exits_avoided",
    "vm_exits_added", "cycles", "baseline_cycles", "retarget_cycles", "retargets",
    "pid_updates", "path.direct", "path.ipi", "path.vm_exit", "path.posted", "path.wakeup",
    "path.deferred", "unplaced", "faulted", "released"};
static const char *const ctr_descs[C_N] = {
    "interrupts delivered to their consumer (or waiting in a PIR / for a preempted vCPU)",
    "I/Os the delivered interrupts complete (msi ios=)",
    "IPIs sent to reach the consumer (landing CPU != consumer's CPU)",
    "interrupts that needed an IPI under the baseline scheme and not under this one",
    "interrupts that needed an IPI under this scheme and not under the baseline",
    "VM exits caused by interrupts",
    "interrupts that caused a VM exit under the baseline scheme (vm-exit) and not here",
    "interrupts that caused a VM exit here and not under the baseline",
    "CPU cycles spent delivering and handling interrupts",
    "CPU cycles the same interrupts cost under the baseline scheme",
    "CPU cycles keeping interrupts targeted (IRTE rewrites + IEC invalidations; PID updates)",
    "IRTE destinations rewritten because a consumer moved (remap) or set up (posted)",
    "posted-interrupt descriptor updates by the VMM",
    "delivered on the consumer's own CPU",
    "delivered through an IPI from the landing CPU",
    "delivered with a VM exit (vm-exit scheme, running vCPU)",
    "posted to a running vCPU: no exit",
    "woke a halted vCPU or blocked thread",
    "waited for a preempted vCPU to run",
    "interrupts whose consumer had never been placed (placed on the landing CPU)",
    "interrupts the IOMMU blocked (a remapping fault)",
    "deferred interrupts handed over when their vCPU ran again"};

struct iommu_irqhost {
    struct iommu_irqhost_cfg cfg;
    iommu_irq_t *hw;
    iommu_t *u;
    iommu_physmem_t *mem;
    iommu_dma_t *dma;
    iommu_sched_t *sched;        /* synthetic scheduler, or NULL                        */
    uint64_t *c;                 /* counter block                                       */
    uint64_t *iec_hits, *iec_misses;
    struct consumer *cons;
    uint32_t ncons, capcons;
    uint32_t *slot;              /* hash: consumer index + 1, 0 = empty                  */
    uint32_t nslot;              /* power of two                                         */
    struct vec *vecs;            /* cfg.irt_entries                                      */
    uint64_t *busy;              /* per CPU: busy until (ps)                              */
    uint32_t nbusy;
    uint64_t deliver_ps, ipi_ps;
    void (*lat_fn)(void *, uint64_t);
    void *lat_ctx;
};

/* ------------------------------------------------------------------ config ---------- */

static const char *const scheme_names[] = {"static", "remap", "posted", "vm-exit"};

const char *iommu_irq_scheme_name(unsigned s) { return s < 4 ? scheme_names[s] : NULL; }

int iommu_irq_scheme_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, scheme_names[i]) == 0)
            return i;
    return -1;
}

void iommu_irqhost_cfg_default(struct iommu_irqhost_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->scheme = IOMMU_IRQS_REMAP;
    /* docs/models/irq_host.md gives the source of each figure */
    c->cycles.handler = 1000;
    c->cycles.ipi = 5000;
    c->cycles.vm_exit = 2000;
    c->cycles.host_handler = 1000;
    c->cycles.wakeup = 2000;
    c->cycles.irte_update = 300;
    c->cycles.pid_update = 100;
    c->cpu_ghz = 2.4;
    c->deliver_ns = 100.0;
    c->ipi_ns = 1000.0;
    c->irt_base = 0x3f200000;  /* 1 MiB: 65536 entries of 16 bytes */
    c->irt_entries = 65536;    /* Linux's INTR_REMAP_TABLE_ENTRIES  */
    c->x2apic = false;
    c->pid_base = 0x3f400000;
    c->posted_vector = 0xf2;   /* Linux POSTED_INTR_VECTOR        */
    c->wakeup_vector = 0xf1;   /* Linux POSTED_INTR_WAKEUP_VECTOR */
    c->max_cpus = 256;      /* xAPIC: 8-bit APIC ids */
    c->synthetic = false;
    iommu_sched_params_default(&c->sched);
}

#define BAD(k, ...) do { *key = (k); return iommu_reason_inval(why, n, __VA_ARGS__); } while (0)

enum iommu_status iommu_irqhost_cfg_validate(const struct iommu_irqhost_cfg *c, const char **key,
                                             char *why, size_t n)
{
    if (c->scheme > IOMMU_IRQS_VMEXIT)
        BAD("irq.scheme", "must be static, remap, posted or vm-exit");
    if (!(c->cpu_ghz > 0.0))
        BAD("host.cpu_ghz", "must be > 0");
    if (!(c->deliver_ns >= 0.0 && c->deliver_ns <= 1e6))
        BAD("irq.deliver_ns", "must be between 0 and 1000000");
    if (!(c->ipi_ns >= 0.0 && c->ipi_ns <= 1e6))
        BAD("irq.ipi_ns", "must be between 0 and 1000000");
    if (c->irt_entries < 2 || c->irt_entries > 65536 || (c->irt_entries & (c->irt_entries - 1)))
        BAD("irq.irt_entries", "must be a power of two between 2 and 65536");
    if (c->irt_base % 4096)
        BAD("irq.irt_base", "must be 4 KB aligned");
    if (c->pid_base % 64)
        BAD("irq.pid_base", "must be 64-byte aligned");
    if (c->max_cpus < 1 || c->max_cpus > 65536)
        BAD("irq.max_cpus", "must be between 1 and 65536");
    if (!c->x2apic && c->max_cpus > 256)
        BAD("irq.max_cpus", "above 256 CPUs needs irq.x2apic=true (xAPIC ids are 8 bits)");
    if (c->posted_vector == c->wakeup_vector)
        BAD("irq.wakeup_vector", "must differ from the posted-interrupt vector");
    if (c->synthetic && iommu_sched_params_validate(&c->sched, why, n) != IOMMU_OK) {
        *key = "sched";
        return IOMMU_ERR_INVAL;
    }
    return IOMMU_OK;
}

/* ------------------------------------------------------------------ consumers ------- */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static bool rehash(iommu_irqhost_t *h, uint32_t n)
{
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return false;
    for (uint32_t i = 0; i < h->ncons; i++) {
        uint32_t p = (uint32_t)mix(h->cons[i].id) & (n - 1);
        while (s[p])
            p = (p + 1) & (n - 1);
        s[p] = i + 1;
    }
    free(h->slot);
    h->slot = s;
    h->nslot = n;
    return true;
}

/* The consumer with id, created (unplaced) on first use; NONE on allocation failure. */
static uint32_t consumer(iommu_irqhost_t *h, uint64_t id)
{
    uint32_t p = (uint32_t)mix(id) & (h->nslot - 1);
    while (h->slot[p]) {
        if (h->cons[h->slot[p] - 1].id == id)
            return h->slot[p] - 1;
        p = (p + 1) & (h->nslot - 1);
    }
    if (h->ncons == h->capcons) {
        uint32_t cap = h->capcons ? 2 * h->capcons : 64;
        struct consumer *c = realloc(h->cons, cap * sizeof *c);
        if (!c)
            return NONE;
        h->cons = c;
        h->capcons = cap;
    }
    const uint32_t i = h->ncons++;
    memset(&h->cons[i], 0, sizeof h->cons[i]);
    h->cons[i].id = id;
    h->cons[i].state = IOMMU_SCHED_RUN;
    h->cons[i].first_vec = NONE;
    h->slot[p] = i + 1;
    if (2 * h->ncons > h->nslot && !rehash(h, 2 * h->nslot)) {
        h->ncons--; /* keep the table consistent; the caller reports the failure */
        h->slot[p] = 0;
        return NONE;
    }
    return i;
}

/* ------------------------------------------------------------------ memory images --- */

static uint64_t irte_addr(const iommu_irqhost_t *h, uint32_t index)
{
    return h->cfg.irt_base + 16ull * index;
}

static uint64_t pid_addr(const iommu_irqhost_t *h, uint32_t ci)
{
    return h->cfg.pid_base + 64ull * ci;
}

static uint32_t cpu_of(uint32_t dest, bool dm)
{
    if (!dm)
        return dest;
    return dest ? (uint32_t)__builtin_ctz(dest) : 0; /* logical flat: lowest CPU in the mask */
}

static uint32_t os_cpu(const iommu_irqhost_t *h, const uint64_t os[2])
{
    struct iommu_irte e;
    iommu_irte_decode(os, &e);
    if (e.im)
        return 0;
    return cpu_of(iommu_irte_apic_id(&e, h->cfg.x2apic), e.dm);
}

static void write_irte(iommu_irqhost_t *h, uint32_t index, const struct iommu_irte *e)
{
    uint64_t w[2];
    iommu_irte_encode(e, w);
    iommu_physmem_write(h->mem, irte_addr(h, index), w, 16);
}

/* The entry for vector v as the scheme wants it in memory. */
static void scheme_entry(iommu_irqhost_t *h, struct vec *v, struct iommu_irte *e)
{
    iommu_irte_decode(v->os, e);
    if (!v->bound)
        return;
    const struct consumer *c = &h->cons[v->consumer];
    if (h->cfg.scheme == IOMMU_IRQS_REMAP && !e->im) {
        e->dm = false;
        e->dst = iommu_irte_dst_field(c->cpu, h->cfg.x2apic);
    } else if (h->cfg.scheme == IOMMU_IRQS_POSTED) {
        const uint8_t vector = e->vector;
        struct iommu_irte p = {0};
        p.p = e->p;
        p.fpd = e->fpd;
        p.im = true;
        p.vector = vector;
        p.pda = pid_addr(h, v->consumer);
        p.sid = e->sid;
        p.sq = e->sq;
        p.svt = e->svt;
        *e = p;
    }
}

/* Writes vector vi's entry as the scheme wants it (scheme_entry) and records its format and
 * destination. The caller sees to the IEC. */
static void install(iommu_irqhost_t *h, uint32_t vi)
{
    struct vec *v = &h->vecs[vi];
    struct iommu_irte e;
    scheme_entry(h, v, &e);
    write_irte(h, vi, &e);
    v->posted = e.im;
    if (!e.im)
        v->dest_cpu = cpu_of(iommu_irte_apic_id(&e, h->cfg.x2apic), e.dm);
}

static void pid_read(iommu_irqhost_t *h, uint32_t ci, struct iommu_pid *d)
{
    uint64_t w[8];
    iommu_physmem_read(h->mem, pid_addr(h, ci), w, 64);
    iommu_pid_decode(w, d);
}

static void pid_write(iommu_irqhost_t *h, uint32_t ci, const struct iommu_pid *d)
{
    uint64_t w[8];
    iommu_pid_encode(d, w);
    iommu_physmem_write(h->mem, pid_addr(h, ci), w, 64);
}

/* The VMM's view of consumer ci into its descriptor (state, CPU); clear: the vCPU takes its
 * posted interrupts (PIR and ON cleared, as at a VM entry). One atomic update. */
static void pid_sync(iommu_irqhost_t *h, uint32_t ci, bool clear, bool count)
{
    struct consumer *c = &h->cons[ci];
    struct iommu_pid d;
    if (c->pid_ready)
        pid_read(h, ci, &d);
    else
        memset(&d, 0, sizeof d);
    c->pid_ready = true;
    d.sn = c->state == IOMMU_SCHED_PREEMPT;
    d.nv = c->state == IOMMU_SCHED_STOP ? h->cfg.wakeup_vector : h->cfg.posted_vector;
    d.ndst = iommu_irte_dst_field(c->cpu, h->cfg.x2apic);
    if (clear) {
        memset(d.pir, 0, sizeof d.pir);
        d.on = false;
    }
    pid_write(h, ci, &d);
    if (count) {
        h->c[C_PID_UPDATES]++;
        h->c[C_RETARGET_CYCLES] += h->cfg.cycles.pid_update;
    }
}

/* ------------------------------------------------------------------ time ------------ */

static uint64_t cyc_ps(const iommu_irqhost_t *h, uint64_t cycles)
{
    return (uint64_t)llround((double)cycles * 1000.0 / h->cfg.cpu_ghz);
}

static uint64_t *busy(iommu_irqhost_t *h, uint32_t cpu)
{
    if (cpu >= h->nbusy) {
        uint32_t n = h->nbusy ? h->nbusy : 8;
        while (n <= cpu)
            n *= 2;
        uint64_t *b = realloc(h->busy, n * sizeof *b);
        if (!b)
            return NULL;
        memset(b + h->nbusy, 0, (n - h->nbusy) * sizeof *b);
        h->busy = b;
        h->nbusy = n;
    }
    return &h->busy[cpu];
}

/* CPU cpu does `cycles` of work from `at` (ps) on: returns when it started. */
static uint64_t run_on(iommu_irqhost_t *h, uint32_t cpu, uint64_t at, uint64_t cycles)
{
    uint64_t *b = busy(h, cpu);
    if (!b)
        return at;
    const uint64_t s = *b > at ? *b : at;
    *b = s + cyc_ps(h, cycles);
    return s;
}

static void latency(iommu_irqhost_t *h, uint64_t issue_ps, uint64_t at_ps)
{
    if (h->lat_fn && at_ps >= issue_ps)
        h->lat_fn(h->lat_ctx, at_ps - issue_ps);
}

static void defer(iommu_irqhost_t *h, uint32_t ci, uint64_t issue_ps)
{
    struct consumer *c = &h->cons[ci];
    if (c->npend == c->cap) {
        uint32_t cap = c->cap ? 2 * c->cap : 8;
        uint64_t *p = realloc(c->pend, cap * sizeof *p);
        if (!p)
            return; /* its latency is lost, the counts are not */
        c->pend = p;
        c->cap = cap;
    }
    c->pend[c->npend++] = issue_ps;
}

/* Consumer ci runs again at now_ps: its waiting interrupts reach it. */
static void release(iommu_irqhost_t *h, uint32_t ci, uint64_t now_ps)
{
    struct consumer *c = &h->cons[ci];
    for (uint32_t i = 0; i < c->npend; i++)
        latency(h, c->pend[i], now_ps);
    h->c[C_RELEASED] += c->npend;
    c->npend = 0;
}

/* ------------------------------------------------------------------ life ------------ */

iommu_irqhost_t *iommu_irqhost_create(const struct iommu_irqhost_cfg *cfg, iommu_irq_t *hw,
                                      iommu_t *u, iommu_physmem_t *mem, iommu_dma_t *dma,
                                      iommu_stats_t *stats, const char **why)
{
    static const char *const nothing = "";
    *why = nothing;
    const struct iommu_cfg *uc = iommu_config(u);
    if (cfg->scheme != IOMMU_IRQS_STATIC && !uc->ir) {
        *why = "irq.scheme: remapping needs a unit with interrupt remapping (ECAP.IR)";
        return NULL;
    }
    if (cfg->scheme == IOMMU_IRQS_POSTED && !uc->pi) {
        *why = "irq.scheme: posted needs a unit with posted interrupts (CAP.PI)";
        return NULL;
    }
    if (cfg->x2apic && !uc->eim) {
        *why = "irq.x2apic: needs a unit with extended interrupt mode (ECAP.EIM)";
        return NULL;
    }
    iommu_irqhost_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->cfg = *cfg;
    h->hw = hw;
    h->u = u;
    h->mem = mem;
    h->dma = dma;
    h->deliver_ps = (uint64_t)llround(cfg->deliver_ns * 1000.0);
    h->ipi_ps = (uint64_t)llround(cfg->ipi_ns * 1000.0);
    h->c = iommu_stats_counter_block(stats, "irq.", C_N, ctr_names, ctr_descs);
    h->iec_hits = iommu_stats_counter(stats, "iec.hits", "interrupt-entry-cache hits");
    h->iec_misses = iommu_stats_counter(stats, "iec.misses", "interrupt-entry-cache misses");
    h->vecs = calloc(cfg->irt_entries, sizeof *h->vecs);
    h->nslot = 128;
    h->slot = calloc(h->nslot, sizeof *h->slot);
    if (cfg->synthetic)
        h->sched = iommu_sched_create(&cfg->sched);
    if (!h->c || !h->vecs || !h->slot || (cfg->synthetic && !h->sched) || !busy(h, 0)) {
        iommu_irqhost_destroy(h);
        return NULL;
    }
    /* the OS's set-up: the table, IRTA, then remapping on (not for static) */
    const unsigned s = (unsigned)__builtin_ctz(cfg->irt_entries) - 1;
    if (iommu_irq_set_irta(hw, IOMMU_IRTA(cfg->irt_base, s, cfg->x2apic)) != IOMMU_OK ||
        iommu_irq_enable(hw, cfg->scheme != IOMMU_IRQS_STATIC) != IOMMU_OK) {
        *why = "irq: the unit refused the interrupt-remapping table set-up";
        iommu_irqhost_destroy(h);
        return NULL;
    }
    iommu_inv_iec_global(u);
    return h;
}

void iommu_irqhost_destroy(iommu_irqhost_t *h)
{
    if (!h)
        return;
    for (uint32_t i = 0; i < h->ncons; i++)
        free(h->cons[i].pend);
    free(h->cons);
    free(h->slot);
    free(h->vecs);
    free(h->busy);
    iommu_sched_destroy(h->sched);
    free(h);
}

void iommu_irqhost_on_latency(iommu_irqhost_t *h, void (*fn)(void *, uint64_t), void *ctx)
{
    h->lat_fn = fn;
    h->lat_ctx = ctx;
}

const struct iommu_irqhost_cfg *iommu_irqhost_config(const iommu_irqhost_t *h) { return &h->cfg; }

/* ------------------------------------------------------------------ host events ----- */

enum iommu_status iommu_irqhost_irte(iommu_irqhost_t *h, const struct iommu_trace_event *ev,
                                     char *what, size_t n)
{
    if (ev->index >= h->cfg.irt_entries) {
        snprintf(what, n, "irte index %u beyond the table (irq.irt_entries=%u)", ev->index,
                 h->cfg.irt_entries);
        return IOMMU_ERR_INVAL;
    }
    struct vec *v = &h->vecs[ev->index];
    v->os[0] = ev->lo;
    v->os[1] = ev->hi;
    v->os_seen = true;
    v->static_cpu = os_cpu(h, v->os);
    install(h, ev->index);
    return IOMMU_OK;
}

/* remap: points every vector of consumer ci at its CPU; queues one IEC-index descriptor per
 * rewritten entry and a wait (w). */
static enum iommu_status retarget(iommu_irqhost_t *h, uint32_t ci, struct iommu_dma_work *w)
{
    const struct consumer *c = &h->cons[ci];
    uint64_t cycles = 0;
    uint32_t rewritten = 0;
    for (uint32_t vi = c->first_vec; vi != NONE; vi = h->vecs[vi].next) {
        const struct vec *v = &h->vecs[vi];
        if (v->posted || v->dest_cpu == c->cpu)
            continue;
        install(h, vi);
        cycles += h->cfg.cycles.irte_update;
        rewritten++;
        h->c[C_RETARGETS]++;
        uint64_t qw[4];
        iommu_qi_enc_iec(qw, true, (uint16_t)vi, 0);
        struct iommu_dma_work d;
        enum iommu_status st = iommu_dma_submit_inv(h->dma, qw, false, 0, &d);
        if (st != IOMMU_OK)
            return st;
        cycles += d.cycles;
        w->descriptors += d.descriptors;
    }
    if (!rewritten)
        return IOMMU_OK;
    struct iommu_dma_work d;
    enum iommu_status st = iommu_dma_submit_inv(h->dma, NULL, true, 0, &d);
    if (st != IOMMU_OK)
        return st;
    d.cycles += cycles;
    d.descriptors += w->descriptors;
    *w = d;
    w->irq_retarget = true;
    h->c[C_RETARGET_CYCLES] += d.cycles;
    return IOMMU_OK;
}

enum iommu_status iommu_irqhost_sched(iommu_irqhost_t *h, const struct iommu_trace_event *ev,
                                      uint64_t now_ns, struct iommu_dma_work *w, char *what,
                                      size_t n)
{
    if (ev->cpu >= h->cfg.max_cpus) {
        snprintf(what, n, "sched thread %llu: cpu %u beyond the model's %u CPUs (irq.max_cpus)",
                 (unsigned long long)ev->thread, ev->cpu, h->cfg.max_cpus);
        return IOMMU_ERR_INVAL;
    }
    const uint32_t ci = consumer(h, ev->thread);
    if (ci == NONE || !busy(h, ev->cpu))
        return IOMMU_ERR_NOMEM;
    struct consumer *c = &h->cons[ci];
    const bool moved = !c->placed || c->cpu != ev->cpu;
    /* it runs again (and takes what waited for it): a run after a halt or a preemption, and
     * any end of a preemption (a preempted vCPU that halts ran first) */
    const bool runs_again = (ev->state == IOMMU_SCHED_RUN && c->state != IOMMU_SCHED_RUN) ||
                            (c->state == IOMMU_SCHED_PREEMPT && ev->state != IOMMU_SCHED_PREEMPT);
    c->cpu = ev->cpu;
    c->state = ev->state;
    c->placed = true;
    if (runs_again)
        release(h, ci, now_ns * 1000);
    switch (h->cfg.scheme) {
    case IOMMU_IRQS_REMAP:
        if (moved) {
            snprintf(what, n, "sched thread %llu: retargeting its interrupts: the invalidation "
                     "queue is full", (unsigned long long)ev->thread);
            return retarget(h, ci, w);
        }
        break;
    case IOMMU_IRQS_POSTED:
        pid_sync(h, ci, runs_again, true);
        break;
    default:
        break;
    }
    return IOMMU_OK;
}

/* ------------------------------------------------------------------ interrupts ------ */

static uint32_t msi_index(const struct iommu_trace_event *msi, bool *remappable)
{
    struct iommu_msi m;
    iommu_msi_decode(msi->pa, msi->data, &m);
    *remappable = m.remappable;
    return m.remappable ? m.index : m.vector;
}

static uint64_t consumer_id(const struct iommu_trace_event *msi, uint32_t index)
{
    return (msi->flags & IOMMU_EVF_THREAD) ? msi->thread : index;
}

unsigned iommu_irqhost_sched_due(iommu_irqhost_t *h, const struct iommu_trace_event *msi,
                                 uint64_t now_ns, struct iommu_trace_event out[8])
{
    if (!h->sched)
        return 0;
    bool rm;
    const uint32_t index = msi_index(msi, &rm);
    const uint64_t id = consumer_id(msi, index);
    unsigned n = iommu_sched_due(h->sched, now_ns, out, 4);
    uint32_t cpu;
    uint8_t st;
    if (rm && index < h->cfg.irt_entries && h->vecs[index].os_seen &&
        !iommu_sched_where(h->sched, id, &cpu, &st) &&
        iommu_sched_place(h->sched, id, h->vecs[index].static_cpu)) {
        /* a new consumer starts where the OS set its interrupt up */
        iommu_trace_event_init(&out[n], IOMMU_EV_SCHED);
        out[n].thread = id;
        out[n].cpu = h->vecs[index].static_cpu;
        out[n].state = IOMMU_SCHED_RUN;
        n++;
    }
    n += iommu_sched_before_irq(h->sched, id, now_ns, out + n);
    return n;
}

void iommu_irqhost_request(iommu_irqhost_t *h, const struct iommu_trace_event *msi,
                           struct iommu_irq_req *req)
{
    req->sid = msi->sid;
    req->addr = msi->pa;
    req->data = msi->data;
    bool rm;
    const uint32_t index = msi_index(msi, &rm);
    if (!rm || index >= h->cfg.irt_entries)
        return; /* compatibility format, or an index the hardware will refuse (0x21) */
    struct vec *v = &h->vecs[index];
    const uint64_t id = consumer_id(msi, index);
    if (!v->bound || h->cons[v->consumer].id != id) {
        const uint32_t ci = consumer(h, id);
        if (ci != NONE) {
            if (v->bound) { /* unchain from the previous consumer */
                uint32_t *p = &h->cons[v->consumer].first_vec;
                while (*p != index)
                    p = &h->vecs[*p].next;
                *p = v->next;
            }
            struct consumer *c = &h->cons[ci];
            if (!c->placed) {
                c->placed = true;
                c->cpu = v->os_seen ? v->static_cpu : 0;
                c->state = IOMMU_SCHED_RUN;
                h->c[C_UNPLACED]++;
            }
            v->bound = true;
            v->consumer = ci;
            v->next = c->first_vec;
            c->first_vec = index;
            if (h->cfg.scheme == IOMMU_IRQS_POSTED && !c->pid_ready)
                pid_sync(h, ci, false, false);
            if (v->os_seen && (h->cfg.scheme == IOMMU_IRQS_POSTED ||
                               (h->cfg.scheme == IOMMU_IRQS_REMAP && v->dest_cpu != c->cpu))) {
                /* set-up of the entry for its consumer: zero time, counted as a retarget */
                install(h, index);
                iommu_inv_iec_index(h->u, index, 0);
                h->c[C_RETARGETS]++;
                h->c[C_RETARGET_CYCLES] += h->cfg.cycles.irte_update;
            }
        }
    }
    if (h->cfg.scheme == IOMMU_IRQS_STATIC && v->os_seen) {
        /* no remapping: the device was programmed with the OS's destination directly */
        struct iommu_irte e;
        iommu_irte_decode(v->os, &e);
        req->addr = iommu_msi_addr_compat((uint8_t)v->static_cpu, false, false);
        req->data = iommu_msi_data_compat(e.vector, 0, false);
    }
}

/* The cost of one interrupt on bare metal: landing CPU l, consumer on c in state st. */
struct cost {
    uint32_t ipis, exits;
    uint64_t cycles;
    unsigned path;
};

static struct cost bare(const iommu_irqhost_t *h, uint32_t l, uint32_t c, uint8_t st)
{
    struct cost k = {0, 0, h->cfg.cycles.handler, P_DIRECT};
    if (l != c) {
        k.ipis = 1;
        k.cycles += h->cfg.cycles.ipi;
        k.path = P_IPI;
    }
    if (st == IOMMU_SCHED_STOP) {
        k.cycles += h->cfg.cycles.wakeup;
        k.path = P_WAKEUP;
    }
    return k;
}

/* A VM without posting: host CPU l takes the interrupt for a vCPU on p in state st. */
static struct cost vmexit(const iommu_irqhost_t *h, uint32_t l, uint32_t p, uint8_t st)
{
    const struct iommu_irq_cycles *y = &h->cfg.cycles;
    struct cost k = {0, 0, (uint64_t)y->host_handler + y->handler, P_DEFERRED};
    if (st == IOMMU_SCHED_PREEMPT)
        return k;
    if (l != p) {
        k.ipis = 1;
        k.cycles += y->ipi;
    }
    if (st == IOMMU_SCHED_RUN) {
        k.exits = 1;
        k.cycles += y->vm_exit;
        k.path = P_VMEXIT;
    } else {
        k.cycles += y->wakeup;
        k.path = P_WAKEUP;
    }
    return k;
}

void iommu_irqhost_deliver(iommu_irqhost_t *h, const struct iommu_trace_event *msi,
                           const struct iommu_irq_op *op, bool done, bool notify,
                           const struct iommu_pid *pid, uint64_t issue_ps, uint64_t done_ps)
{
    if (!done) {
        h->c[C_FAULTED]++;
        return;
    }
    bool rm;
    const uint32_t index = msi_index(msi, &rm);
    const struct vec *v = (rm && index < h->cfg.irt_entries) ? &h->vecs[index] : NULL;
    const uint64_t id = consumer_id(msi, index);
    uint32_t ci = (v && v->bound) ? v->consumer : consumer(h, id);
    if (ci == NONE)
        return;
    struct consumer *c = &h->cons[ci];
    const uint32_t static_cpu = (v && v->os_seen) ? v->static_cpu : 0;
    if (!c->placed) {
        c->placed = true;
        c->cpu = op->out.kind == IOMMU_IRQ_POSTED ? 0 : cpu_of(op->out.dest, op->out.dm);
        c->state = IOMMU_SCHED_RUN;
        h->c[C_UNPLACED]++;
    }
    const bool vm = h->cfg.scheme == IOMMU_IRQS_POSTED || h->cfg.scheme == IOMMU_IRQS_VMEXIT;
    const struct iommu_irq_cycles *y = &h->cfg.cycles;
    const uint8_t st = c->state;
    struct cost k, base;
    uint32_t land = c->cpu;
    if (op->out.kind == IOMMU_IRQ_POSTED) {
        /* the hardware decides (SN, NV, ON); an interrupt posted while a notification is
         * outstanding rides on it: its path follows the vCPU's state as the host sees it,
         * like its baseline's */
        k = (struct cost){0, 0, y->handler, P_POSTED};
        if (pid && pid->sn && !notify)
            k.path = P_DEFERRED;
        else if (notify && pid && pid->nv == h->cfg.wakeup_vector) {
            k.path = P_WAKEUP;
            k.cycles += (uint64_t)y->host_handler + y->wakeup;
        } else if (!notify && st == IOMMU_SCHED_STOP)
            k.path = P_WAKEUP;
        if (pid)
            land = h->cfg.x2apic ? pid->ndst : (pid->ndst >> 8) & 0xFFu;
    } else {
        land = cpu_of(op->out.dest, op->out.dm);
        k = vm ? vmexit(h, land, c->cpu, st) : bare(h, land, c->cpu, st);
    }
    base = vm ? vmexit(h, static_cpu, c->cpu, st) : bare(h, static_cpu, c->cpu, st);

    uint64_t *x = h->c;
    x[C_DELIVERED]++;
    x[C_IOS] += msi->ios ? msi->ios : 1;
    x[C_PATH0 + k.path]++;
    x[C_IPIS] += k.ipis;
    x[C_EXITS] += k.exits;
    x[C_CYCLES] += k.cycles;
    x[C_BASE_CYCLES] += base.cycles;
    if (base.ipis > k.ipis)
        x[C_IPIS_AVOIDED] += base.ipis - k.ipis;
    else
        x[C_IPIS_ADDED] += k.ipis - base.ipis;
    if (base.exits > k.exits)
        x[C_EXITS_AVOIDED] += base.exits - k.exits;
    else
        x[C_EXITS_ADDED] += k.exits - base.exits;

    /* the consumer's state after the interrupt, and the descriptor's */
    if (k.path == P_WAKEUP) {
        c->state = IOMMU_SCHED_RUN;
        if (h->sched)
            iommu_sched_woken(h->sched, c->id);
    }
    if (op->out.kind == IOMMU_IRQ_POSTED && k.path != P_DEFERRED)
        pid_sync(h, ci, true, k.path == P_WAKEUP); /* the CPU takes the PIR; a wake-up also
                                                    * switches NV back (a VMM update) */

    if (k.path == P_DEFERRED) { /* it waits until the consumer runs (sched, or a wake-up) */
        defer(h, ci, issue_ps);
        return;
    }
    /* time: from the IOMMU to the consumer */
    if (done_ps == 0 && issue_ps == 0) {
        if (k.path == P_WAKEUP)
            release(h, ci, 0); /* it runs: what waited for it is handed over */
        return;
    }
    const uint64_t at = done_ps + h->deliver_ps;
    uint64_t t;
    if (op->out.kind != IOMMU_IRQ_POSTED && land != c->cpu) {
        /* the landing CPU runs the handler (a VM's: the host's) and sends an IPI; the
         * consumer's CPU receives it (and exits the vCPU or wakes the consumer) */
        const uint64_t fwd = vm ? y->host_handler : y->handler;
        const uint64_t s1 = run_on(h, land, at, fwd);
        const uint64_t rest = k.cycles - fwd;
        const uint64_t s2 = run_on(h, c->cpu, s1 + cyc_ps(h, fwd) + h->ipi_ps, rest);
        t = s2 + cyc_ps(h, rest - (vm ? y->handler : 0));
    } else {
        /* one CPU: exit / host handler / wake-up first, then the consumer's handler */
        t = run_on(h, land, at, k.cycles) + cyc_ps(h, k.cycles - y->handler);
    }
    latency(h, issue_ps, t);
    if (k.path == P_WAKEUP)
        release(h, ci, t); /* the woken vCPU takes what waited for it */
}

bool iommu_irqhost_msi_functional(iommu_irqhost_t *h, const struct iommu_trace_event *msi)
{
    struct iommu_irq_req req;
    iommu_irqhost_request(h, msi, &req);
    struct iommu_irq_op op;
    const bool ok = iommu_irq_functional(h->hw, h->mem, &op, &req);
    struct iommu_pid pid;
    const bool posted = ok && op.out.kind == IOMMU_IRQ_POSTED;
    const bool notify = posted && iommu_irq_post_functional(h->hw, h->mem, &op, &pid);
    iommu_irqhost_deliver(h, msi, &op, ok, notify, posted ? &pid : NULL, 0, 0);
    return ok;
}

void iommu_irqhost_charge_wait(iommu_irqhost_t *h, uint64_t wait_ns)
{
    h->c[C_RETARGET_CYCLES] += (uint64_t)llround((double)wait_ns * h->cfg.cpu_ghz);
}

void iommu_irqhost_summarize(const iommu_irqhost_t *h, struct iommu_irqhost_summary *s)
{
    memset(s, 0, sizeof *s);
    const uint64_t *x = h->c;
    s->delivered = x[C_DELIVERED];
    s->faulted = x[C_FAULTED];
    s->requests = s->delivered + s->faulted;
    s->ios = x[C_IOS];
    for (uint32_t i = 0; i < h->ncons; i++)
        s->pending += h->cons[i].npend;
    s->ipis = x[C_IPIS];
    s->ipis_avoided = x[C_IPIS_AVOIDED];
    s->vm_exits = x[C_EXITS];
    s->vm_exits_avoided = x[C_EXITS_AVOIDED];
    s->cycles = x[C_CYCLES];
    s->baseline_cycles = x[C_BASE_CYCLES];
    s->retarget_cycles = x[C_RETARGET_CYCLES];
    s->cycles_saved = (int64_t)s->baseline_cycles - (int64_t)s->cycles;
    s->net_cycles_saved = s->cycles_saved - (int64_t)s->retarget_cycles;
    s->net_per_irq = s->requests ? (double)s->net_cycles_saved / (double)s->requests : 0.0;
    s->net_per_io = s->ios ? (double)s->net_cycles_saved / (double)s->ios : 0.0;
    s->iec_hits = *h->iec_hits;
    s->iec_misses = *h->iec_misses;
    const uint64_t l = s->iec_hits + s->iec_misses;
    s->iec_hit_rate = l ? (double)s->iec_hits / (double)l : 0.0;
}
