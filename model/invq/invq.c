/* invq.c — queued and register-based invalidation (see invq.h). */
#include "invq.h"

#include <stdlib.h>
#include <string.h>

/* Counters (docs/stats.md, "Invalidation"). */
enum qc {
    QC_DESC,          /* inv.descriptors */
    QC_CC, QC_IOTLB, QC_DEVTLB, QC_IEC, QC_WAIT, QC_PIOTLB, QC_PC,
    QC_IOTLB_GLOBAL, QC_IOTLB_DOMAIN, QC_IOTLB_PAGE,
    QC_CC_GLOBAL, QC_CC_DOMAIN, QC_CC_DEVICE,
    QC_REMOVED_CC, QC_REMOVED_IOTLB, QC_REMOVED_IEC, QC_REMOVED_DEVTLB,
    QC_STATUS_WRITES, QC_WAIT_IRQ, QC_FENCES, QC_DRAINS,
    QC_ERRORS, QC_TAIL_WRITES, QC_REG_CC, QC_REG_IOTLB, QC_REG_REFUSED, QC_WBF,
    QC_N
};
static const char *const qc_names[QC_N] = {
    "inv.descriptors",
    "inv.desc.cc", "inv.desc.iotlb", "inv.desc.devtlb", "inv.desc.iec", "inv.desc.wait",
    "inv.desc.pasid_iotlb", "inv.desc.pasid_cache",
    "inv.iotlb.global", "inv.iotlb.domain", "inv.iotlb.page",
    "inv.cc.global", "inv.cc.domain", "inv.cc.device",
    "inv.removed.context", "inv.removed.iotlb", "inv.removed.iec", "inv.removed.devtlb",
    "inv.wait.status_writes", "inv.wait.interrupts", "inv.wait.fences", "inv.wait.drains",
    "inv.errors", "inv.tail_writes", "inv.reg.cc", "inv.reg.iotlb", "inv.reg.refused",
    "inv.write_buffer_flushes",
};
static const char *const qc_descs[QC_N] = {
    "invalidation descriptors executed (queued interface)",
    "context-cache invalidation descriptors", "IOTLB invalidation descriptors",
    "device-TLB invalidation descriptors", "interrupt-entry-cache invalidation descriptors",
    "invalidation-wait descriptors", "PASID-based IOTLB invalidation descriptors",
    "PASID-cache invalidation descriptors",
    "global IOTLB invalidations (queued or register)",
    "domain-selective IOTLB invalidations (queued or register)",
    "page-selective IOTLB invalidations (queued or register)",
    "global context-cache invalidations (queued or register)",
    "domain-selective context-cache invalidations (queued or register)",
    "device-selective context-cache invalidations (queued or register)",
    "context/PASID-cache entries removed by invalidations",
    "IOTLB entries removed by invalidations", "interrupt-entry-cache entries removed",
    "device-TLB entries removed by device-TLB invalidations",
    "wait descriptors' status writes", "wait descriptors' completion interrupts (IF)",
    "wait descriptors with fence (FN)", "wait descriptors with page-request drain (PD)",
    "invalidation-queue errors (FSTS.IQE)", "IQT_REG writes (doorbells)",
    "register-based context-cache invalidations (CCMD_REG)",
    "register-based IOTLB invalidations (IOTLB_REG)",
    "register-based invalidations refused (queue enabled, PSI unsupported, AM > MAMV)",
    "write-buffer flushes (GCMD.WBF)",
};

struct iommu_invq {
    iommu_t *u;
    const struct iommu_cfg *cfg;
    iommu_devtlb_inv_fn devtlb_fn;
    void *devtlb_ctx;
    iommu_invq_observer_fn obs;
    void *obs_ctx;
    bool enabled;   /* GSTS.QIES                                   */
    uint64_t iqa;   /* IQA_REG                                     */
    uint32_t qbytes; /* queue size in bytes (4 KB << QS)           */
    uint32_t head;  /* IQH byte offset, < qbytes, descriptor-aligned */
    uint32_t tail;  /* IQT byte offset, < qbytes                    */
    uint32_t fsts;  /* IQE/ICE/ITE                                  */
    uint32_t ics;   /* IWC                                          */
    uint64_t iqercd;
    uint64_t *c;    /* counters (enum qc) */
};

iommu_invq_t *iommu_invq_create(iommu_t *u, iommu_stats_t *stats)
{
    if (!u || !stats)
        return NULL;
    iommu_invq_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->u = u;
    q->cfg = iommu_config(u);
    q->qbytes = 4096;
    q->c = iommu_stats_counter_block(stats, "", QC_N, qc_names, qc_descs);
    if (!q->c) {
        free(q);
        return NULL;
    }
    return q;
}

void iommu_invq_destroy(iommu_invq_t *q) { free(q); }

void iommu_invq_set_devtlb_handler(iommu_invq_t *q, iommu_devtlb_inv_fn fn, void *ctx)
{
    q->devtlb_fn = fn;
    q->devtlb_ctx = ctx;
}

void iommu_invq_set_observer(iommu_invq_t *q, iommu_invq_observer_fn fn, void *ctx)
{
    q->obs = fn;
    q->obs_ctx = ctx;
}

/* ---------------------------------------------------------------- registers ---------- */

static bool dw256(const iommu_invq_t *q) { return (q->iqa & IOMMU_IQA_DW) != 0; }
unsigned iommu_invq_desc_bytes(const iommu_invq_t *q) { return dw256(q) ? 32u : 16u; }
uint32_t iommu_invq_slots(const iommu_invq_t *q) { return q->qbytes / iommu_invq_desc_bytes(q); }

uint32_t iommu_invq_pending(const iommu_invq_t *q)
{
    return ((q->tail + q->qbytes - q->head) % q->qbytes) / iommu_invq_desc_bytes(q);
}

uint32_t iommu_invq_free_slots(const iommu_invq_t *q)
{
    return iommu_invq_slots(q) - 1 - iommu_invq_pending(q);
}

static void queue_error(iommu_invq_t *q, enum iommu_qi_error e)
{
    q->fsts |= IOMMU_FSTS_IQE;
    q->iqercd = (q->iqercd & ~0xfull) | (uint64_t)e;
    q->c[QC_ERRORS]++;
}

enum iommu_status iommu_invq_enable(iommu_invq_t *q, bool enable)
{
    if (enable && !q->cfg->qi)
        return IOMMU_ERR_UNSUPP;
    if (enable && dw256(q) && !q->cfg->scalable_mode && !q->cfg->pasid)
        return IOMMU_ERR_UNSUPP;
    if (enable && !q->enabled)
        q->head = 0; /* VT-d 6.5.2: IQH is reset when the queue is enabled */
    q->enabled = enable;
    return IOMMU_OK;
}

bool iommu_invq_enabled(const iommu_invq_t *q) { return q->enabled; }

enum iommu_status iommu_invq_write_iqa(iommu_invq_t *q, uint64_t iqa)
{
    if (q->enabled)
        return IOMMU_ERR_INVAL;
    q->iqa = iqa & (~0xfffull | IOMMU_IQA_DW | 0x7);
    q->qbytes = 4096u << (iqa & 7);
    q->head = q->tail = 0;
    return IOMMU_OK;
}

void iommu_invq_write_iqt(iommu_invq_t *q, uint64_t iqt)
{
    uint64_t off = iqt & 0x7fff0ull; /* QT: bits 18:4 */
    q->c[QC_TAIL_WRITES]++;
    if (dw256(q) && (off & 0x10)) {
        queue_error(q, IOMMU_QI_ERR_TAIL_MISALIGNED);
        return;
    }
    if (off >= q->qbytes) {
        queue_error(q, IOMMU_QI_ERR_TAIL_BEYOND);
        return;
    }
    q->tail = (uint32_t)off;
}

uint64_t iommu_invq_iqa(const iommu_invq_t *q) { return q->iqa; }
uint64_t iommu_invq_iqh(const iommu_invq_t *q) { return q->head; }
uint64_t iommu_invq_iqt(const iommu_invq_t *q) { return q->tail; }
uint64_t iommu_invq_iqercd(const iommu_invq_t *q) { return q->iqercd; }
uint32_t iommu_invq_fsts(const iommu_invq_t *q) { return q->fsts; }
uint32_t iommu_invq_ics(const iommu_invq_t *q) { return q->ics; }

void iommu_invq_clear_status(iommu_invq_t *q, uint32_t fsts_bits, uint32_t ics_bits)
{
    q->fsts &= ~(fsts_bits & (IOMMU_FSTS_IQE | IOMMU_FSTS_ICE | IOMMU_FSTS_ITE));
    q->ics &= ~(ics_bits & IOMMU_ICS_IWC);
    if (fsts_bits & IOMMU_FSTS_IQE)
        q->iqercd &= ~0xfull;
}

/* ---------------------------------------------------------------- engine ------------- */

bool iommu_invq_next_fetch(const iommu_invq_t *q, uint64_t *addr, unsigned *size)
{
    if (!q->enabled || (q->fsts & IOMMU_FSTS_IQE) || q->head == q->tail)
        return false;
    *addr = (q->iqa & ~0xfffull) + q->head;
    *size = iommu_invq_desc_bytes(q);
    return true;
}

void iommu_invq_fetch_failed(iommu_invq_t *q) { queue_error(q, IOMMU_QI_ERR_FETCH); }

static uint32_t apply_cc(iommu_invq_t *q, const struct iommu_qi_desc *d)
{
    switch (d->g) {
    case IOMMU_QI_G_GLOBAL: q->c[QC_CC_GLOBAL]++; return iommu_inv_context_global(q->u);
    case IOMMU_QI_G_DOMAIN: q->c[QC_CC_DOMAIN]++; return iommu_inv_context_domain(q->u, d->did);
    default: q->c[QC_CC_DEVICE]++; return iommu_inv_context_device(q->u, d->sid);
    }
}

/* Page-selective needs CAP.PSI and AM <= MAMV; otherwise the hardware may perform a
 * domain-selective invalidation instead (VT-d 6.5.1.2: invalidating more is allowed). */
static uint32_t apply_iotlb(iommu_invq_t *q, unsigned g, iommu_did_t did, uint64_t addr,
                            unsigned am, bool ih)
{
    if (g == IOMMU_QI_G_PAGE && (!q->cfg->psi || am > q->cfg->mamv))
        g = IOMMU_QI_G_DOMAIN;
    switch (g) {
    case IOMMU_QI_G_GLOBAL: q->c[QC_IOTLB_GLOBAL]++; return iommu_inv_iotlb_global(q->u);
    case IOMMU_QI_G_DOMAIN: q->c[QC_IOTLB_DOMAIN]++; return iommu_inv_iotlb_domain(q->u, did);
    default:
        q->c[QC_IOTLB_PAGE]++;
        return iommu_inv_iotlb_page(q->u, did, addr & ~((1ull << (12 + am)) - 1), am, ih);
    }
}

void iommu_invq_execute(iommu_invq_t *q, const uint64_t *qw, struct iommu_invq_result *r)
{
    memset(r, 0, sizeof *r);
    uint64_t w[4] = {qw[0], qw[1], 0, 0};
    if (dw256(q)) {
        w[2] = qw[2];
        w[3] = qw[3];
    }
    enum iommu_qi_error e = iommu_qi_decode(w, dw256(q), &r->d);
    if (e == IOMMU_QI_OK && r->d.type == IOMMU_QI_IOTLB && r->d.g == IOMMU_QI_G_PAGE &&
        r->d.am > 51)
        e = IOMMU_QI_ERR_RESERVED;
    if (e != IOMMU_QI_OK) {
        r->error = (uint8_t)e;
        queue_error(q, e);
        return;
    }
    const struct iommu_qi_desc *d = &r->d;
    uint32_t n = 0;
    switch (d->type) {
    case IOMMU_QI_CC:
        q->c[QC_CC]++;
        n = apply_cc(q, d);
        q->c[QC_REMOVED_CC] += n;
        break;
    case IOMMU_QI_IOTLB:
        q->c[QC_IOTLB]++;
        n = apply_iotlb(q, d->g, d->did, d->addr, d->am, d->ih);
        q->c[QC_REMOVED_IOTLB] += n;
        r->drain_reads = d->dr && q->cfg->drd;
        r->drain_writes = d->dw && q->cfg->dwd;
        break;
    case IOMMU_QI_DEVTLB:
        q->c[QC_DEVTLB]++;
        r->devtlb = true;
        iommu_qi_devtlb_range(d, &r->devtlb_base, &r->devtlb_size_shift);
        if (q->devtlb_fn)
            n = q->devtlb_fn(q->devtlb_ctx, d->sid, r->devtlb_base, r->devtlb_size_shift);
        q->c[QC_REMOVED_DEVTLB] += n;
        break;
    case IOMMU_QI_IEC:
        q->c[QC_IEC]++;
        n = d->g ? iommu_inv_iec_index(q->u, d->iidx, d->im) : iommu_inv_iec_global(q->u);
        q->c[QC_REMOVED_IEC] += n;
        break;
    case IOMMU_QI_WAIT:
        q->c[QC_WAIT]++;
        r->status_write = d->wait_sw;
        r->status_addr = d->addr;
        r->status_data = d->status_data;
        r->interrupt = d->wait_if;
        r->fence = d->wait_fn;
        r->drain = d->wait_pd;
        if (d->wait_sw)
            q->c[QC_STATUS_WRITES]++;
        if (d->wait_if) {
            q->ics |= IOMMU_ICS_IWC;
            q->c[QC_WAIT_IRQ]++;
        }
        q->c[QC_FENCES] += d->wait_fn;
        q->c[QC_DRAINS] += d->wait_pd;
        break;
    case IOMMU_QI_PASID_IOTLB:
        q->c[QC_PIOTLB]++;
        if (d->g == IOMMU_QI_PIOTLB_G_PAGE)
            n = iommu_inv_pasid_iotlb_page(q->u, d->did, d->pasid, d->addr,
                                           d->am > 51 ? 51 : d->am, d->ih);
        else
            n = iommu_inv_pasid_iotlb(q->u, d->did, d->pasid);
        q->c[QC_REMOVED_IOTLB] += n;
        break;
    case IOMMU_QI_PASID_CACHE:
        q->c[QC_PC]++;
        if (d->g == IOMMU_QI_PC_G_GLOBAL)
            n = iommu_inv_context_global(q->u);
        else if (d->g == IOMMU_QI_PC_G_DOMAIN)
            n = iommu_inv_pasid_cache(q->u, d->did, IOMMU_PASID_NONE) +
                iommu_inv_context_domain(q->u, d->did);
        else
            n = iommu_inv_pasid_cache(q->u, d->did, d->pasid);
        q->c[QC_REMOVED_CC] += n;
        break;
    default:
        break;
    }
    r->removed = n;
    q->c[QC_DESC]++;
    q->head = (q->head + iommu_invq_desc_bytes(q)) % q->qbytes;
    if (q->obs)
        q->obs(q->obs_ctx, r);
}

uint32_t iommu_invq_run(iommu_invq_t *q, iommu_physmem_t *mem)
{
    uint32_t done = 0;
    uint64_t addr;
    unsigned size;
    while (iommu_invq_next_fetch(q, &addr, &size)) {
        uint64_t qw[4] = {0, 0, 0, 0};
        if ((addr + size - 1) >> q->cfg->haw || iommu_physmem_read(mem, addr, qw, size) != IOMMU_OK) {
            iommu_invq_fetch_failed(q);
            break;
        }
        struct iommu_invq_result r;
        iommu_invq_execute(q, qw, &r);
        if (r.error)
            break;
        done++;
        if (r.status_write)
            iommu_physmem_write(mem, r.status_addr, &r.status_data, 4);
    }
    return done;
}

/* ---------------------------------------------------------------- registers ---------- */

uint64_t iommu_invq_reg_ccmd(iommu_invq_t *q, uint64_t ccmd)
{
    if (!(ccmd & IOMMU_CCMD_ICC))
        return ccmd;
    uint64_t out = ccmd & ~(IOMMU_CCMD_ICC | (3ull << IOMMU_CCMD_CAIG_SHIFT));
    unsigned g = (unsigned)((ccmd >> 61) & 3);
    if (q->enabled || g == 0) {
        q->c[QC_REG_REFUSED]++;
        return out;
    }
    struct iommu_qi_desc d = {.type = IOMMU_QI_CC, .g = (uint8_t)g,
                              .did = (iommu_did_t)(ccmd & 0xffff),
                              .sid = (iommu_sid_t)((ccmd >> 16) & 0xffff)};
    q->c[QC_REG_CC]++;
    q->c[QC_REMOVED_CC] += apply_cc(q, &d);
    return out | ((uint64_t)g << IOMMU_CCMD_CAIG_SHIFT);
}

uint64_t iommu_invq_reg_iotlb(iommu_invq_t *q, uint64_t iva, uint64_t iotlb)
{
    if (!(iotlb & IOMMU_IOTLB_IVT))
        return iotlb;
    uint64_t out = iotlb & ~(IOMMU_IOTLB_IVT | (3ull << IOMMU_IOTLB_IAIG_SHIFT));
    unsigned g = (unsigned)((iotlb >> 60) & 3);
    unsigned am = (unsigned)(iva & 0x3f);
    if (q->enabled || g == 0 || (g == IOMMU_QI_G_PAGE && (!q->cfg->psi || am > q->cfg->mamv))) {
        q->c[QC_REG_REFUSED]++;
        return out;
    }
    iommu_did_t did = (iommu_did_t)((iotlb >> 32) & 0xffff);
    q->c[QC_REG_IOTLB]++;
    q->c[QC_REMOVED_IOTLB] +=
        apply_iotlb(q, g, did, iva & ~0xfffull, am, (iva >> 6) & 1);
    return out | ((uint64_t)g << IOMMU_IOTLB_IAIG_SHIFT);
}

void iommu_invq_write_buffer_flush(iommu_invq_t *q) { q->c[QC_WBF]++; }
