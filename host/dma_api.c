/* dma_api.c — the DMA-API and flush-policy model (see dma_api.h). */
#include "dma_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096ull
#define INLINE_SEGS 4

struct seg {
    uint64_t pa, len;  /* the buffer's bytes                              */
    uint64_t iova;     /* IOVA of the segment's first page                 */
    uint64_t span;     /* bytes of whole pages it maps                     */
};

/* A mapped (or being built: more segments to come) buffer. */
struct buf {
    uint64_t handle;   /* key; in use when used != 0 */
    bool used, building;
    bool tomb;         /* a deleted slot (keeps probe chains intact)  */
    uint8_t hstate;    /* IOMMU_DMA_H_* (timed driver)                 */
    uint32_t inflight; /* DMAs in flight (timed driver)                */
    iommu_sid_t sid;
    iommu_did_t did;
    uint8_t perm;
    uint64_t pfn, npages;   /* the IOVA allocation */
    uint32_t nseg, cap;
    struct seg inl[INLINE_SEGS];
    struct seg *segs;       /* inl, or heap when more than INLINE_SEGS */
};

struct fq_ent { iommu_did_t did; uint64_t pfn, npages; unsigned cpu; uint64_t token; };

struct domain {
    iommu_iova_t *iova;
    uint8_t mode;
    bool identity;
    uint32_t *fq_count;     /* lazy: entries per CPU (the entries themselves are in `deferred`) */
    uint32_t fq_total;
    uint64_t deadline;      /* lazy: flush timer, UINT64_MAX = not armed */
    uint32_t batch_n;       /* batched: unmaps gathered                  */
    iommu_sid_t ats[IOMMU_DMA_MAX_ATS]; /* ATS devices attached (device-TLBs to flush) */
    uint32_t nats;
    uint64_t batch_lo, batch_hi; /* their pfn span                      */
};

enum hc { HC_MAPS, HC_UNMAPS, HC_SEGS, HC_PAGES_MAPPED, HC_PAGES_UNMAPPED, HC_FLUSHES,
          HC_FLUSH_HWM, HC_FLUSH_TIMER, HC_FLUSH_BATCH, HC_FLUSH_END, HC_CM_FLUSHES,
          HC_CYC, HC_CYC_MAP, HC_CYC_UNMAP, HC_CYC_IOVA, HC_CYC_SUBMIT, HC_CYC_WAIT,
          HC_WAIT_NS, HC_WAITS, HC_IOVA_ALLOCS, HC_IOVA_FREES, HC_DEFERRED_MAX, HC_N };
static const char *const hc_names[HC_N] = {
    "host.dma_maps", "host.dma_unmaps", "host.segments", "host.pages_mapped",
    "host.pages_unmapped", "host.flushes", "host.flushes.high_water", "host.flushes.timer",
    "host.flushes.batch", "host.flushes.end", "host.flushes.caching_mode",
    "host.cycles", "host.cycles.map", "host.cycles.unmap", "host.cycles.iova",
    "host.cycles.submit", "host.cycles.wait", "host.wait_ns", "host.waits",
    "host.iova_allocs", "host.iova_frees", "host.deferred.max",
};
static const char *const hc_descs[HC_N] = {
    "dma_map calls (buffers mapped)", "dma_unmap calls (I/Os completed)",
    "scatter-gather segments mapped", "4 KB pages written into page tables",
    "4 KB pages cleared from page tables",
    "invalidation flushes (descriptors + wait) submitted by the DMA API",
    "lazy flushes because a flush queue reached its high-water mark",
    "lazy flushes by the flush timer", "batched flushes", "flushes at the end of the run",
    "invalidations after maps because CAP.CM (caching mode) is set",
    "CPU cycles spent in the DMA API, all CPUs (waiting included)",
    "cycles in dma_map (bookkeeping and page-table writes)",
    "cycles in dma_unmap (bookkeeping and page-table clears)",
    "cycles allocating and freeing IOVAs", "cycles writing descriptors and ringing the doorbell",
    "cycles spinning on invalidation-wait completion", "time spent waiting on invalidations (ns)",
    "invalidation waits", "IOVA allocations", "IOVA frees",
    "most unmapped ranges waiting for a flush at once (deferred IOVAs)",
};

struct iommu_dma {
    struct iommu_dma_cfg cfg;
    iommu_host_t *h;
    iommu_t *u;
    iommu_invq_t *q;
    iommu_physmem_t *mem;
    iommu_prot_t *prot;
    iommu_stats_t *stats;
    iommu_hostq_t *hq;
    struct domain **dom;       /* [65536], allocated on first use */
    iommu_did_t *dom_list;     /* the domains in use, in order of first use */
    uint32_t ndom;
    iommu_did_t *dev_did;      /* [65536] */
    uint8_t *dev_state;        /* [65536]: 0 unknown, 1 attached */
    struct buf *bufs;          /* open-addressing table on handle */
    uint64_t nbuf_cap, nbufs, ntomb;
    struct fq_ent *deferred;   /* unmapped ranges whose IOVA waits for a flush (token 0) or
                                * for the wait of flush `token` to complete                */
    size_t ndef, def_cap;
    uint64_t next_token;
    uint64_t *c;
    uint64_t **cpu_cycles;     /* per_cpu.<n>.cycles */
};

const char *iommu_flush_policy_name(unsigned p)
{
    static const char *const n[] = {"strict", "lazy", "batched", "passthrough", "identity"};
    return p < 5 ? n[p] : "unknown";
}

int iommu_flush_policy_parse(const char *name)
{
    for (unsigned i = 0; i < 5; i++)
        if (!strcmp(name, iommu_flush_policy_name(i)))
            return (int)i;
    return -1;
}

void iommu_dma_cfg_default(struct iommu_dma_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->policy = IOMMU_FLUSH_STRICT;
    c->ncpus = 1;
    c->lazy_hwm = 256;             /* Linux IOVA_FQ_SIZE */
    c->lazy_timeout_ns = 10000000; /* Linux IOVA_FQ_TIMEOUT, 10 ms */
    c->lazy_global = false;
    c->batch = 32;
    c->cpu_ghz = 2.4;              /* Xeon E5-2620 v3 base clock */
    /* Estimates (docs/models/host.md explains each; presets cite their sources). */
    c->cycles = (struct iommu_dma_costs){.map = 300, .map_page = 150, .unmap = 300,
                                         .unmap_page = 150, .iova_alloc = 500, .iova_step = 40,
                                         .iova_free = 300, .fq_add = 100, .desc = 60,
                                         .doorbell = 400, .direct = 100};
    iommu_iova_cfg_default(&c->iova);
    c->qi_base = 0x3f000000;
    c->qi_qs = 0;
    c->status_base = 0x3f100000;
}

enum iommu_status iommu_dma_cfg_validate(const struct iommu_dma_cfg *c, const char **key,
                                         const char **why)
{
#define BAD(k, w) do { if (key) *key = (k); if (why) *why = (w); return IOMMU_ERR_INVAL; } while (0)
    if (c->policy > IOMMU_FLUSH_IDENTITY)
        BAD("host.flush", "must be strict, lazy, batched, passthrough or identity");
    if (c->ncpus < 1 || c->ncpus > 1024)
        BAD("host.cpus", "must be 1..1024");
    if (c->lazy_hwm < 1)
        BAD("host.lazy.high_water", "must be >= 1");
    if (c->batch < 1)
        BAD("host.batch", "must be >= 1");
    if (!(c->cpu_ghz > 0.0))
        BAD("host.cpu_ghz", "must be > 0");
    if (c->qi_qs > 7)
        BAD("host.qi.qs", "must be 0..7 (queue of 4 KB << qs)");
    struct iommu_iova_cfg ic = c->iova;
    ic.ncpus = c->ncpus;
    if (iommu_iova_cfg_validate(&ic, key, why) != IOMMU_OK)
        return IOMMU_ERR_INVAL;
    return IOMMU_OK;
#undef BAD
}

/* ---------------------------------------------------------------- helpers ----------- */

static void charge(iommu_dma_t *d, unsigned cpu, unsigned kind, uint64_t cyc, struct iommu_dma_work *w)
{
    d->c[kind] += cyc;
    d->c[HC_CYC] += cyc;
    if (cpu < d->cfg.ncpus)
        *d->cpu_cycles[cpu] += cyc;
    if (w)
        w->cycles += cyc;
}

static struct domain *domain(iommu_dma_t *d, iommu_did_t did)
{
    if (d->dom[did])
        return d->dom[did];
    struct domain *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    struct iommu_iova_cfg ic = d->cfg.iova;
    ic.ncpus = d->cfg.ncpus;
    m->iova = iommu_iova_create(&ic, NULL, NULL);
    /* the interrupt range is never an IOVA (Linux reserves the x86 MSI window) */
    if (m->iova && iommu_iova_reserve(m->iova, 0xFEE00000ull >> ic.page_shift,
                                      0xFEEFFFFFull >> ic.page_shift) != IOMMU_OK) {
        iommu_iova_destroy(m->iova);
        m->iova = NULL;
    }
    m->fq_count = calloc(d->cfg.ncpus, sizeof *m->fq_count);
    m->deadline = UINT64_MAX;
    if (!m->iova || !m->fq_count) {
        iommu_iova_destroy(m->iova);
        free(m->fq_count);
        free(m);
        return NULL;
    }
    d->dom[did] = m;
    d->dom_list[d->ndom++] = did;
    return m;
}

static uint64_t hash(uint64_t k) { k ^= k >> 33; k *= 0xff51afd7ed558ccdull; k ^= k >> 33; return k; }

static struct buf *buf_find(const iommu_dma_t *d, uint64_t handle)
{
    for (uint64_t i = hash(handle) & (d->nbuf_cap - 1);; i = (i + 1) & (d->nbuf_cap - 1)) {
        struct buf *b = &d->bufs[i];
        if (!b->used && !b->tomb)
            return NULL; /* a never-used slot ends the chain */
        if (b->used && b->handle == handle)
            return b;
    }
}

static bool buf_rehash(iommu_dma_t *d, uint64_t cap);

/* A slot for a new handle (a tombstone on its chain is reused). */
static struct buf *buf_add(iommu_dma_t *d, uint64_t handle)
{
    if ((d->nbufs + d->ntomb + 1) * 2 > d->nbuf_cap &&
        !buf_rehash(d, (d->nbufs + 1) * 4 > d->nbuf_cap ? d->nbuf_cap * 2 : d->nbuf_cap))
        return NULL;
    for (uint64_t i = hash(handle) & (d->nbuf_cap - 1);; i = (i + 1) & (d->nbuf_cap - 1)) {
        struct buf *b = &d->bufs[i];
        if (!b->used) {
            if (b->tomb)
                d->ntomb--;
            memset(b, 0, sizeof *b);
            b->used = true;
            b->handle = handle;
            b->segs = b->inl;
            b->cap = INLINE_SEGS;
            d->nbufs++;
            return b;
        }
    }
}

static bool buf_rehash(iommu_dma_t *d, uint64_t cap)
{
    struct buf *old = d->bufs;
    const uint64_t oc = d->nbuf_cap;
    struct buf *nb = calloc(cap, sizeof *nb);
    if (!nb)
        return false;
    d->bufs = nb;
    d->nbuf_cap = cap;
    d->nbufs = 0;
    d->ntomb = 0;
    for (uint64_t i = 0; i < oc; i++) {
        if (!old[i].used)
            continue;
        struct buf *b = buf_add(d, old[i].handle);
        const bool heap = old[i].segs != old[i].inl;
        *b = old[i];
        b->segs = heap ? old[i].segs : b->inl;
    }
    free(old);
    return true;
}

static void buf_del(iommu_dma_t *d, struct buf *b)
{
    if (b->segs != b->inl)
        free(b->segs);
    b->segs = b->inl;
    b->used = false;
    b->tomb = true;
    d->nbufs--;
    d->ntomb++;
}

static bool defer(iommu_dma_t *d, iommu_did_t did, uint64_t pfn, uint64_t npages, unsigned cpu,
                  uint64_t token)
{
    if (d->ndef == d->def_cap) {
        size_t nc = d->def_cap ? d->def_cap * 2 : 256;
        struct fq_ent *n = realloc(d->deferred, nc * sizeof *n);
        if (!n)
            return false;
        d->deferred = n;
        d->def_cap = nc;
    }
    d->deferred[d->ndef++] = (struct fq_ent){did, pfn, npages, cpu, token};
    if (d->ndef > d->c[HC_DEFERRED_MAX])
        d->c[HC_DEFERRED_MAX] = d->ndef;
    return true;
}

/* Smallest address mask whose aligned block covers [pfn, pfn + n). */
static unsigned psi_mask(uint64_t pfn, uint64_t n, uint64_t *base)
{
    unsigned am = 0;
    while ((1ull << am) < n)
        am++;
    while (am < 52 && ((pfn >> am) << am) + (1ull << am) < pfn + n)
        am++;
    *base = (pfn >> am) << am;
    return am;
}

static enum iommu_status push(iommu_dma_t *d, const uint64_t qw[4], unsigned cpu,
                              struct iommu_dma_work *w)
{
    enum iommu_status st = iommu_hostq_push(d->hq, qw);
    if (st != IOMMU_OK)
        return st;
    w->descriptors++;
    charge(d, cpu, HC_CYC_SUBMIT, d->cfg.cycles.desc, w);
    return IOMMU_OK;
}

/* Queues a wait (with the IOVAs of `ndeferred` entries tagged onto it) and the doorbell. */
static enum iommu_status wait_and_ring(iommu_dma_t *d, unsigned cpu, struct iommu_dma_work *w)
{
    uint64_t a;
    uint32_t v;
    enum iommu_status st = iommu_hostq_push_wait(d->hq, false, &a, &v);
    if (st != IOMMU_OK)
        return st;
    w->descriptors++;
    charge(d, cpu, HC_CYC_SUBMIT, d->cfg.cycles.desc + d->cfg.cycles.doorbell, w);
    w->doorbell = true;
    w->iqt = iommu_hostq_tail(d->hq);
    w->wait = true;
    w->status_addr = a;
    w->status_value = v;
    w->token = ++d->next_token;
    d->c[HC_FLUSHES]++;
    return IOMMU_OK;
}

/* Device-TLB invalidations of the domain's ATS devices (after its IOTLB invalidation, as
 * Linux's iommu_flush_dev_iotlb does). */
static enum iommu_status devtlb_flush(iommu_dma_t *d, iommu_did_t did, uint64_t addr,
                                      unsigned size_shift, unsigned cpu, struct iommu_dma_work *w)
{
    const struct domain *m = d->dom[did];
    for (uint32_t i = 0; m && i < m->nats; i++) {
        uint64_t qw[4];
        iommu_qi_enc_devtlb(qw, m->ats[i], m->ats[i], 0, addr, size_shift);
        enum iommu_status st = push(d, qw, cpu, w);
        if (st != IOMMU_OK)
            return st;
    }
    return IOMMU_OK;
}

static enum iommu_status iotlb_range(iommu_dma_t *d, iommu_did_t did, uint64_t pfn, uint64_t n,
                                     unsigned cpu, struct iommu_dma_work *w)
{
    uint64_t qw[4], base;
    const unsigned am = psi_mask(pfn, n, &base);
    const struct iommu_cfg *uc = iommu_config(d->u);
    if (!uc->psi || am > uc->mamv)
        iommu_qi_enc_iotlb(qw, IOMMU_QI_G_DOMAIN, did, 0, 0, false, uc->drd, uc->dwd);
    else
        iommu_qi_enc_iotlb(qw, IOMMU_QI_G_PAGE, did, base << 12, am, false, uc->drd, uc->dwd);
    enum iommu_status st = push(d, qw, cpu, w);
    return st == IOMMU_OK ? devtlb_flush(d, did, base << 12, 12 + am, cpu, w) : st;
}

/* Tags every untagged deferred entry of domain did (or all, did < 0) with token. */
static void tag_deferred(iommu_dma_t *d, int did, uint64_t token)
{
    for (size_t i = 0; i < d->ndef; i++)
        if (d->deferred[i].token == 0 && (did < 0 || d->deferred[i].did == (iommu_did_t)did))
            d->deferred[i].token = token;
}

/* ---------------------------------------------------------------- life cycle --------- */

iommu_dma_t *iommu_dma_create(const struct iommu_dma_cfg *cfg, iommu_host_t *h, iommu_t *u,
                              iommu_invq_t *q, iommu_physmem_t *mem, iommu_prot_t *prot,
                              iommu_stats_t *stats)
{
    if (!cfg || iommu_dma_cfg_validate(cfg, NULL, NULL) != IOMMU_OK || !h || !u || !q || !mem ||
        !stats)
        return NULL;
    iommu_dma_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->cfg = *cfg;
    d->h = h;
    d->u = u;
    d->q = q;
    d->mem = mem;
    d->prot = prot;
    d->stats = stats;
    d->dom = calloc(65536, sizeof *d->dom);
    d->dom_list = calloc(65536, sizeof *d->dom_list);
    d->dev_did = calloc(65536, sizeof *d->dev_did);
    d->dev_state = calloc(65536, 1);
    d->nbuf_cap = 1024;
    d->bufs = calloc(d->nbuf_cap, sizeof *d->bufs);
    d->c = iommu_stats_counter_block(stats, "", HC_N, hc_names, hc_descs);
    d->cpu_cycles = calloc(cfg->ncpus, sizeof *d->cpu_cycles);
    bool ok = d->dom && d->dom_list && d->dev_did && d->dev_state && d->bufs && d->c && d->cpu_cycles;
    for (uint32_t i = 0; ok && i < cfg->ncpus; i++) {
        char name[48];
        snprintf(name, sizeof name, "per_cpu.%u.cycles", i);
        d->cpu_cycles[i] = iommu_stats_counter(stats, name, "DMA-API cycles on this CPU");
        ok = d->cpu_cycles[i] != NULL;
    }
    if (ok) {
        if (iommu_invq_enabled(q))
            iommu_invq_enable(q, false);
        d->hq = iommu_hostq_create(q, mem, cfg->qi_base, cfg->qi_qs, cfg->status_base,
                                   iommu_config(u)->scalable_mode);
        ok = d->hq != NULL;
    }
    if (!ok) {
        iommu_dma_destroy(d);
        return NULL;
    }
    return d;
}

void iommu_dma_destroy(iommu_dma_t *d)
{
    if (!d)
        return;
    if (d->dom)
        for (unsigned i = 0; i < 65536; i++)
            if (d->dom[i]) {
                iommu_iova_destroy(d->dom[i]->iova);
                free(d->dom[i]->fq_count);
                free(d->dom[i]);
            }
    if (d->bufs)
        for (uint64_t i = 0; i < d->nbuf_cap; i++)
            if (d->bufs[i].used && d->bufs[i].segs != d->bufs[i].inl)
                free(d->bufs[i].segs);
    iommu_hostq_destroy(d->hq);
    free(d->dom);
    free(d->dom_list);
    free(d->dev_did);
    free(d->dev_state);
    free(d->bufs);
    free(d->deferred);
    free(d->cpu_cycles);
    free(d);
}

const struct iommu_dma_cfg *iommu_dma_config(const iommu_dma_t *d) { return &d->cfg; }
uint32_t iommu_dma_queue_free(const iommu_dma_t *d) { return iommu_hostq_free(d->hq); }
iommu_hostq_t *iommu_dma_hostq(iommu_dma_t *d) { return d->hq; }

enum iommu_status iommu_dma_submit_inv(iommu_dma_t *d, const uint64_t qw[4], bool is_wait,
                                       unsigned cpu, struct iommu_dma_work *w)
{
    memset(w, 0, sizeof *w);
    enum iommu_status st;
    if (is_wait)
        return wait_and_ring(d, cpu, w);
    if ((st = push(d, qw, cpu, w)) != IOMMU_OK)
        return st;
    charge(d, cpu, HC_CYC_SUBMIT, d->cfg.cycles.doorbell, w);
    w->doorbell = true;
    w->iqt = iommu_hostq_tail(d->hq);
    return IOMMU_OK;
}

enum iommu_status iommu_dma_attach(iommu_dma_t *d, iommu_sid_t sid, iommu_did_t did, uint8_t mode)
{
    if (d->cfg.policy == IOMMU_FLUSH_PASSTHROUGH)
        mode = IOMMU_MODE_PT;
    const bool ats = d->cfg.ats && mode != IOMMU_MODE_PT;
    struct domain *m = domain(d, did);
    if (!m)
        return IOMMU_ERR_NOMEM;
    if (ats && m->nats >= IOMMU_DMA_MAX_ATS)
        return IOMMU_ERR_UNSUPP; /* more ATS devices in one domain than the model tracks */
    iommu_host_set_ats(d->h, sid, ats);
    enum iommu_status st = iommu_host_attach(d->h, sid, IOMMU_PASID_NONE, did, mode);
    if (st != IOMMU_OK)
        return st;
    if (ats)
        m->ats[m->nats++] = sid;
    m->mode = mode;
    m->identity = d->cfg.policy == IOMMU_FLUSH_IDENTITY;
    d->dev_did[sid] = did;
    d->dev_state[sid] = 1;
    return IOMMU_OK;
}

/* ---------------------------------------------------------------- map ---------------- */

static enum iommu_status map_buffer(iommu_dma_t *d, struct buf *b, unsigned cpu, uint64_t now,
                                    struct iommu_dma_work *w)
{
    (void)now;
    struct domain *m = d->dom[b->did];
    const uint8_t policy = d->cfg.policy;
    uint64_t exposed = 0, pages = 0;
    for (uint32_t i = 0; i < b->nseg; i++) {
        struct seg *s = &b->segs[i];
        const uint64_t off = s->pa & (PAGE - 1);
        s->span = (off + s->len + PAGE - 1) & ~(PAGE - 1);
        exposed += s->span - s->len;
        pages += s->span / PAGE;
    }
    d->c[HC_MAPS]++;
    d->c[HC_SEGS] += b->nseg;
    if (policy == IOMMU_FLUSH_PASSTHROUGH || m->identity) {
        charge(d, cpu, HC_CYC_MAP, policy == IOMMU_FLUSH_PASSTHROUGH ? d->cfg.cycles.direct : d->cfg.cycles.map, w);
        for (uint32_t i = 0; i < b->nseg; i++) {
            struct seg *s = &b->segs[i];
            s->iova = s->pa & ~(PAGE - 1);
            if (m->identity) /* the static 1:1 map, built "at boot": no cycles charged */
                for (uint64_t a = s->iova; a < s->iova + s->span; a += PAGE) {
                    uint64_t pa;
                    iommu_perm_t perm;
                    unsigned shift;
                    if (iommu_host_translate(d->h, b->did, a, 0, &pa, &perm, &shift) != IOMMU_OK) {
                        enum iommu_status st = iommu_host_map(
                            d->h, b->did, a, a, PAGE, IOMMU_ACC_R | IOMMU_ACC_W, 12, 0);
                        if (st != IOMMU_OK)
                            return st;
                    }
                }
        }
        if (policy != IOMMU_FLUSH_PASSTHROUGH)
            iommu_prot_exposed(d->prot, exposed);
        w->iova = b->segs[0].pa;
        return IOMMU_OK;
    }
    /* IOVA allocation: one range for the whole list (iommu_dma_map_sg) */
    const uint64_t steps0 = iommu_iova_counters(m->iova)[IOMMU_IOVA_TREE_STEPS];
    enum iommu_status st = iommu_iova_alloc(m->iova, pages, cpu, &b->pfn);
    if (st != IOMMU_OK)
        return st;
    const uint64_t steps = iommu_iova_counters(m->iova)[IOMMU_IOVA_TREE_STEPS] - steps0;
    d->c[HC_IOVA_ALLOCS]++;
    b->npages = pages;
    charge(d, cpu, HC_CYC_IOVA, d->cfg.cycles.iova_alloc + steps * d->cfg.cycles.iova_step, w);
    uint64_t iova = b->pfn << 12;
    for (uint32_t i = 0; i < b->nseg; i++) {
        struct seg *s = &b->segs[i];
        s->iova = iova;
        st = iommu_host_map(d->h, b->did, iova, s->pa & ~(PAGE - 1), s->span, b->perm, 12, 0);
        if (st != IOMMU_OK)
            return st;
        iova += s->span;
    }
    d->c[HC_PAGES_MAPPED] += pages;
    charge(d, cpu, HC_CYC_MAP, d->cfg.cycles.map + pages * d->cfg.cycles.map_page, w);
    iommu_prot_exposed(d->prot, exposed);
    w->iova = b->segs[0].iova + (b->segs[0].pa & (PAGE - 1));
    const struct iommu_cfg *uc = iommu_config(d->u);
    if (uc->rwbf)
        iommu_invq_write_buffer_flush(d->q);
    if (uc->caching_mode) { /* a virtual IOMMU must see new entries: PSI + wait */
        if ((st = iotlb_range(d, b->did, b->pfn, pages, cpu, w)) != IOMMU_OK ||
            (st = wait_and_ring(d, cpu, w)) != IOMMU_OK)
            return st;
        d->c[HC_CM_FLUSHES]++;
    }
    return IOMMU_OK;
}

enum iommu_status iommu_dma_map(iommu_dma_t *d, iommu_sid_t sid, uint64_t handle, uint64_t pa,
                                uint64_t len, uint8_t perm, bool more, unsigned cpu,
                                uint64_t now_ns, struct iommu_dma_work *w)
{
    memset(w, 0, sizeof *w);
    if (!d->dev_state[sid])
        return IOMMU_ERR_NOTFOUND;
    if (cpu >= d->cfg.ncpus || len == 0)
        return IOMMU_ERR_INVAL;
    struct buf *b = buf_find(d, handle);
    if (b && (!b->building || b->sid != sid))
        return IOMMU_ERR_EXISTS;
    if (!b) {
        if (!(b = buf_add(d, handle)))
            return IOMMU_ERR_NOMEM;
        b->building = true;
        b->sid = sid;
        b->did = d->dev_did[sid];
        b->perm = perm;
    }
    if (b->nseg == b->cap) {
        uint32_t nc = b->cap * 2;
        struct seg *n = malloc(nc * sizeof *n);
        if (!n)
            return IOMMU_ERR_NOMEM;
        memcpy(n, b->segs, b->nseg * sizeof *n);
        if (b->segs != b->inl)
            free(b->segs);
        b->segs = n;
        b->cap = nc;
    }
    b->perm |= perm;
    b->segs[b->nseg++] = (struct seg){pa, len, 0, 0};
    if (more)
        return IOMMU_OK;
    b->building = false;
    enum iommu_status st = map_buffer(d, b, cpu, now_ns, w);
    if (st != IOMMU_OK)
        buf_del(d, b);
    return st;
}

enum iommu_status iommu_dma_resolve(const iommu_dma_t *d, uint64_t handle, uint64_t off,
                                    uint64_t len, uint64_t *iova, uint64_t *piece,
                                    iommu_sid_t *sid)
{
    const struct buf *b = buf_find(d, handle);
    if (!b || b->building)
        return IOMMU_ERR_NOTFOUND;
    *sid = b->sid;
    uint64_t base = 0;
    for (uint32_t i = 0; i < b->nseg; i++) {
        const struct seg *s = &b->segs[i];
        if (off < base + s->len) {
            const uint64_t in = off - base;
            *iova = s->iova + (s->pa & (PAGE - 1)) + in;
            *piece = s->len - in < len ? s->len - in : len;
            return IOMMU_OK;
        }
        base += s->len;
    }
    return IOMMU_ERR_INVAL;
}

/* ---------------------------------------------------------------- unmap / flush ------ */

static enum iommu_status flush_domain(iommu_dma_t *d, iommu_did_t did, unsigned cpu,
                                      struct iommu_dma_work *w)
{
    uint64_t qw[4];
    const struct iommu_cfg *uc = iommu_config(d->u);
    if (d->cfg.lazy_global)
        iommu_qi_enc_iotlb(qw, IOMMU_QI_G_GLOBAL, 0, 0, 0, false, uc->drd, uc->dwd);
    else
        iommu_qi_enc_iotlb(qw, IOMMU_QI_G_DOMAIN, did, 0, 0, false, uc->drd, uc->dwd);
    enum iommu_status st = push(d, qw, cpu, w);
    if (st == IOMMU_OK)
        st = devtlb_flush(d, did, 0, 64, cpu, w);
    if (st == IOMMU_OK)
        st = wait_and_ring(d, cpu, w);
    if (st != IOMMU_OK)
        return st;
    tag_deferred(d, d->cfg.lazy_global ? -1 : (int)did, w->token);
    struct domain *m = d->dom[did];
    for (unsigned c = 0; c < d->cfg.ncpus; c++)
        m->fq_count[c] = 0;
    m->fq_total = 0;
    m->deadline = UINT64_MAX;
    if (d->cfg.lazy_global)
        for (uint32_t k = 0; k < d->ndom; k++) {
            const unsigned i = d->dom_list[k];
            if (d->dom[i]->fq_total) {
                memset(d->dom[i]->fq_count, 0, d->cfg.ncpus * sizeof *d->dom[i]->fq_count);
                d->dom[i]->fq_total = 0;
                d->dom[i]->deadline = UINT64_MAX;
            }
        }
    return IOMMU_OK;
}

static enum iommu_status flush_batch(iommu_dma_t *d, iommu_did_t did, unsigned cpu,
                                     struct iommu_dma_work *w)
{
    struct domain *m = d->dom[did];
    enum iommu_status st = iotlb_range(d, did, m->batch_lo, m->batch_hi - m->batch_lo, cpu, w);
    if (st == IOMMU_OK)
        st = wait_and_ring(d, cpu, w);
    if (st != IOMMU_OK)
        return st;
    tag_deferred(d, did, w->token);
    m->batch_n = 0;
    return IOMMU_OK;
}

enum iommu_status iommu_dma_unmap(iommu_dma_t *d, uint64_t handle, unsigned cpu, uint64_t now_ns,
                                  struct iommu_dma_work *w)
{
    memset(w, 0, sizeof *w);
    if (cpu >= d->cfg.ncpus)
        return IOMMU_ERR_INVAL;
    struct buf *b = buf_find(d, handle);
    if (!b || b->building)
        return IOMMU_ERR_NOTFOUND;
    const uint8_t policy = d->cfg.policy;
    struct domain *m = d->dom[b->did];
    d->c[HC_UNMAPS]++;
    if (policy == IOMMU_FLUSH_PASSTHROUGH || m->identity) {
        charge(d, cpu, HC_CYC_UNMAP, policy == IOMMU_FLUSH_PASSTHROUGH ? d->cfg.cycles.direct : d->cfg.cycles.unmap, w);
        buf_del(d, b);
        return IOMMU_OK;
    }
    const iommu_did_t did = b->did;
    const uint64_t pfn = b->pfn, n = b->npages;
    uint64_t done = 0;
    enum iommu_status st = iommu_host_unmap(d->h, did, pfn << 12, n << 12, 0, &done);
    if (st != IOMMU_OK)
        return st;
    buf_del(d, b);
    d->c[HC_PAGES_UNMAPPED] += n;
    charge(d, cpu, HC_CYC_UNMAP, d->cfg.cycles.unmap + n * d->cfg.cycles.unmap_page, w);
    w->unmapped = true;
    w->did = did;
    w->unmap_iova = pfn << 12;
    w->unmap_len = n << 12;
    switch (policy) {
    case IOMMU_FLUSH_STRICT:
        if ((st = iotlb_range(d, did, pfn, n, cpu, w)) != IOMMU_OK ||
            (st = wait_and_ring(d, cpu, w)) != IOMMU_OK)
            return st;
        if (!defer(d, did, pfn, n, cpu, w->token))
            return IOMMU_ERR_NOMEM;
        return IOMMU_OK;
    case IOMMU_FLUSH_LAZY:
        if (m->fq_count[cpu] >= d->cfg.lazy_hwm) { /* queue full: flush now (queue_iova) */
            if ((st = flush_domain(d, did, cpu, w)) != IOMMU_OK)
                return st;
            d->c[HC_FLUSH_HWM]++;
        }
        if (!defer(d, did, pfn, n, cpu, 0))
            return IOMMU_ERR_NOMEM;
        m->fq_count[cpu]++;
        m->fq_total++;
        charge(d, cpu, HC_CYC_UNMAP, d->cfg.cycles.fq_add, w);
        if (m->deadline == UINT64_MAX)
            m->deadline = now_ns + d->cfg.lazy_timeout_ns;
        return IOMMU_OK;
    case IOMMU_FLUSH_BATCHED:
        if (!defer(d, did, pfn, n, cpu, 0))
            return IOMMU_ERR_NOMEM;
        if (m->batch_n == 0) {
            m->batch_lo = pfn;
            m->batch_hi = pfn + n;
        } else {
            if (pfn < m->batch_lo)
                m->batch_lo = pfn;
            if (pfn + n > m->batch_hi)
                m->batch_hi = pfn + n;
        }
        if (++m->batch_n >= d->cfg.batch) {
            if ((st = flush_batch(d, did, cpu, w)) != IOMMU_OK)
                return st;
            d->c[HC_FLUSH_BATCH]++;
        }
        return IOMMU_OK;
    default:
        return IOMMU_ERR_INVAL;
    }
}

uint64_t iommu_dma_next_timer(const iommu_dma_t *d)
{
    uint64_t t = UINT64_MAX;
    if (d->cfg.policy != IOMMU_FLUSH_LAZY)
        return t;
    for (uint32_t k = 0; k < d->ndom; k++)
        if (d->dom[d->dom_list[k]]->deadline < t)
            t = d->dom[d->dom_list[k]]->deadline;
    return t;
}

enum iommu_status iommu_dma_timer(iommu_dma_t *d, unsigned cpu, uint64_t now_ns,
                                  struct iommu_dma_work *w)
{
    memset(w, 0, sizeof *w);
    if (d->cfg.policy != IOMMU_FLUSH_LAZY)
        return IOMMU_OK;
    /* the first domain whose timer is due (one flush per call: one wait per work item) */
    for (uint32_t k = 0; k < d->ndom; k++) {
        const unsigned i = d->dom_list[k];
        if (d->dom[i]->deadline <= now_ns) {
            enum iommu_status st = flush_domain(d, (iommu_did_t)i, cpu, w);
            if (st == IOMMU_OK)
                d->c[HC_FLUSH_TIMER]++;
            return st;
        }
    }
    return IOMMU_OK;
}

enum iommu_status iommu_dma_flush_all(iommu_dma_t *d, unsigned cpu, uint64_t now_ns,
                                      struct iommu_dma_work *w)
{
    (void)now_ns;
    memset(w, 0, sizeof *w);
    for (uint32_t k = 0; k < d->ndom; k++) {
        const unsigned i = d->dom_list[k];
        struct domain *m = d->dom[i];
        enum iommu_status st = IOMMU_OK;
        if (d->cfg.policy == IOMMU_FLUSH_LAZY && m->fq_total)
            st = flush_domain(d, (iommu_did_t)i, cpu, w);
        else if (d->cfg.policy == IOMMU_FLUSH_BATCHED && m->batch_n)
            st = flush_batch(d, (iommu_did_t)i, cpu, w);
        else
            continue;
        if (st == IOMMU_OK)
            d->c[HC_FLUSH_END]++;
        return st; /* one flush per call */
    }
    return IOMMU_OK;
}

uint64_t iommu_dma_flush_done(iommu_dma_t *d, uint64_t token, unsigned cpu)
{
    uint64_t cyc = 0;
    size_t k = 0;
    for (size_t i = 0; i < d->ndef; i++) {
        struct fq_ent *e = &d->deferred[i];
        if (e->token && e->token <= token) {
            iommu_iova_free(d->dom[e->did]->iova, e->pfn, e->npages, e->cpu);
            d->c[HC_IOVA_FREES]++;
            charge(d, cpu, HC_CYC_IOVA, d->cfg.cycles.iova_free, NULL);
            cyc += d->cfg.cycles.iova_free;
        } else {
            d->deferred[k++] = *e;
        }
    }
    d->ndef = k;
    return cyc;
}

void iommu_dma_charge_wait(iommu_dma_t *d, unsigned cpu, uint64_t wait_ns)
{
    const uint64_t cyc = (uint64_t)((double)wait_ns * d->cfg.cpu_ghz + 0.5);
    charge(d, cpu, HC_CYC_WAIT, cyc, NULL);
    d->c[HC_WAIT_NS] += wait_ns;
    d->c[HC_WAITS]++;
}

double iommu_dma_cycles_per_io(const iommu_dma_t *d)
{
    return d->c[HC_UNMAPS] ? (double)d->c[HC_CYC] / (double)d->c[HC_UNMAPS] : 0.0;
}

unsigned iommu_dma_handle_state(const iommu_dma_t *d, uint64_t handle)
{
    const struct buf *b = buf_find(d, handle);
    return b && !b->building ? b->hstate : 0;
}

void iommu_dma_handle_set(iommu_dma_t *d, uint64_t handle, unsigned bits)
{
    struct buf *b = buf_find(d, handle);
    if (b)
        b->hstate |= (uint8_t)bits;
}

uint32_t iommu_dma_handle_inflight(iommu_dma_t *d, uint64_t handle, int delta)
{
    struct buf *b = buf_find(d, handle);
    if (!b)
        return 0;
    if (delta < 0 && b->inflight < (uint32_t)-delta)
        b->inflight = 0;
    else
        b->inflight = (uint32_t)((int64_t)b->inflight + delta);
    return b->inflight;
}

uint32_t iommu_dma_ats_devices(const iommu_dma_t *d, iommu_did_t did, const iommu_sid_t **sids)
{
    const struct domain *m = d->dom[did];
    *sids = m ? m->ats : NULL;
    return m ? m->nats : 0;
}
