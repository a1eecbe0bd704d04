/* irq_remap.c — interrupt remapping: request decode, IEC lookup, IRTE fetch and checks
 * (see irq_remap.h). */
#include "irq_remap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fault_codes.h"

#define NREASONS (IOMMU_FR_IR_SID_VERIFY - IOMMU_FR_IR_RESERVED_REQ + 1)

enum { ST_IDLE = 0, ST_READ_IRTE = 1, ST_DONE = 2, ST_FAULT = 3 };

struct iommu_irq {
    iommu_t *u;
    iommu_cache_t *iec;   /* the unit's IEC (payload 16 bytes: the IRTE words)          */
    uint8_t haw;          /* host address width: IRTE fetches at or beyond 2^haw fault   */
    bool cap_ir, cap_eim, cap_pi;
    uint64_t irta;        /* latched IRTA_REG (reserved bits clear)                      */
    bool ires, cfis;      /* GSTS.IRES, GSTS.CFIS                                        */
    /* counters (stable pointers into the registry) */
    uint64_t *iec_hits, *iec_misses, *requests, *irte_reads, *remapped, *posted, *compat,
        *notifications, *faults, *faults_fpd, *reason[NREASONS];
};

iommu_irq_t *iommu_irq_create(iommu_t *u, iommu_stats_t *s)
{
    iommu_irq_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    const struct iommu_cfg *cfg = iommu_config(u);
    q->u = u;
    q->iec = iommu_iec(u);
    q->haw = cfg->haw;
    q->cap_ir = cfg->ir;
    q->cap_eim = cfg->eim;
    q->cap_pi = cfg->pi;
    q->iec_hits = iommu_stats_counter(s, "iec.hits", "interrupt-entry cache lookups that hit");
    q->iec_misses =
        iommu_stats_counter(s, "iec.misses", "interrupt-entry cache lookups that missed");
    q->requests = iommu_stats_counter(s, "irq.requests", "interrupt requests presented to the unit");
    q->irte_reads = iommu_stats_counter(s, "irq.irte_reads", "IRTE memory reads (16 bytes each)");
    q->remapped = iommu_stats_counter(s, "irq.remapped", "interrupts remapped (remapped-format IRTE)");
    q->posted = iommu_stats_counter(s, "irq.posted", "interrupts posted (posted-format IRTE)");
    q->compat = iommu_stats_counter(
        s, "irq.compat", "compatibility-format interrupts passed through unremapped");
    q->notifications = iommu_stats_counter(
        s, "irq.notifications", "notification events due after posting (ON set by the post)");
    q->faults = iommu_stats_counter(s, "irq.faults", "interrupt requests blocked by a fault");
    q->faults_fpd = iommu_stats_counter(s, "irq.faults.suppressed_fpd",
                                        "interrupt faults not recorded because the IRTE's FPD = 1");
    bool ok = q->iec_hits && q->iec_misses && q->requests && q->irte_reads && q->remapped &&
              q->posted && q->compat && q->notifications && q->faults && q->faults_fpd;
    for (unsigned i = 0; i < NREASONS; i++) {
        char name[40];
        snprintf(name, sizeof name, "irq.faults.reason_0x%x", IOMMU_FR_IR_RESERVED_REQ + i);
        q->reason[i] = iommu_stats_counter(s, name, "interrupt faults with this reason code");
        ok = ok && q->reason[i];
    }
    if (!ok) {
        free(q);
        return NULL;
    }
    return q;
}

void iommu_irq_destroy(iommu_irq_t *q) { free(q); }

enum iommu_status iommu_irq_set_irta(iommu_irq_t *q, uint64_t irta)
{
    if (irta & 0x7F0ull)
        return IOMMU_ERR_INVAL;
    if ((irta & IOMMU_IRTA_EIME) && !q->cap_eim)
        return IOMMU_ERR_UNSUPP;
    q->irta = irta;
    return IOMMU_OK;
}
uint64_t iommu_irq_irta(const iommu_irq_t *q) { return q->irta; }
uint32_t iommu_irq_table_entries(const iommu_irq_t *q) { return 2u << (q->irta & 0xF); }

enum iommu_status iommu_irq_enable(iommu_irq_t *q, bool ire)
{
    if (ire && !q->cap_ir)
        return IOMMU_ERR_UNSUPP;
    q->ires = ire;
    return IOMMU_OK;
}
void iommu_irq_set_cfi(iommu_irq_t *q, bool cfis) { q->cfis = cfis; }
bool iommu_irq_enabled(const iommu_irq_t *q) { return q->ires; }
bool iommu_irq_cfis(const iommu_irq_t *q) { return q->cfis; }

static struct iommu_step fault(iommu_irq_t *q, struct iommu_irq_op *op, uint8_t reason, bool fpd)
{
    op->state = ST_FAULT;
    op->fault_reason = reason;
    op->fault_fpd = fpd;
    op->fault_recorded = false;
    (*q->faults)++;
    (*q->reason[reason - IOMMU_FR_IR_RESERVED_REQ])++;
    if (fpd) {
        (*q->faults_fpd)++;
    } else { /* VT-d 7.1: interrupt-remapping faults use the primary fault records too */
        struct iommu_fault_record r;
        iommu_irq_fault_record(op, &r);
        op->fault_recorded = iommu_fault_record_other(q->u, &r);
    }
    return (struct iommu_step){.kind = IOMMU_STEP_FAULT};
}

static struct iommu_step done(struct iommu_irq_op *op)
{
    op->state = ST_DONE;
    return (struct iommu_step){.kind = IOMMU_STEP_DONE};
}

/* Delivers a compatibility-format request as decoded. */
static struct iommu_step passthrough(iommu_irq_t *q, struct iommu_irq_op *op)
{
    const struct iommu_msi *m = &op->msi;
    op->out = (struct iommu_irq_out){.kind = IOMMU_IRQ_PASSTHROUGH, .vector = m->vector,
                                     .dest = m->dest, .dm = m->dm, .rh = m->rh, .tm = m->tm,
                                     .dlm = m->dlm};
    (*q->compat)++;
    return done(op);
}

/* Checks the entry in op->irte and produces the result; fills the IEC on a read. */
static struct iommu_step use_irte(iommu_irq_t *q, struct iommu_irq_op *op, bool from_memory)
{
    struct iommu_irte e;
    iommu_irte_decode(op->irte, &e);
    if (!e.p)
        return fault(q, op, IOMMU_FR_IR_NOT_PRESENT, e.fpd);
    const bool eim = (q->irta & IOMMU_IRTA_EIME) != 0;
    const uint8_t r = iommu_irte_check(op->irte, eim, q->cap_pi);
    if (r)
        return fault(q, op, r, e.fpd);
    if (from_memory) {
        const struct iommu_cache_key k = {0, op->index};
        uint64_t *p = iommu_cache_insert(q->iec, op->index, &k, NULL);
        if (p)
            memcpy(p, op->irte, 16);
    }
    if (!iommu_irte_sid_ok(&e, op->req.sid))
        return fault(q, op, IOMMU_FR_IR_SID_VERIFY, e.fpd);
    if (e.im) {
        op->out = (struct iommu_irq_out){.kind = IOMMU_IRQ_POSTED, .vector = e.vector,
                                         .pda = e.pda, .urg = e.urg};
        (*q->posted)++;
    } else {
        op->out = (struct iommu_irq_out){.kind = IOMMU_IRQ_REMAPPED, .vector = e.vector,
                                         .dest = iommu_irte_apic_id(&e, eim), .dm = e.dm,
                                         .rh = e.rh, .tm = e.tm, .dlm = e.dlm};
        (*q->remapped)++;
    }
    return done(op);
}

struct iommu_step iommu_irq_begin(iommu_irq_t *q, struct iommu_irq_op *op,
                                  const struct iommu_irq_req *req)
{
    memset(op, 0, sizeof *op);
    op->req = *req;
    (*q->requests)++;
    if (!iommu_msi_is_interrupt(req->addr))
        return fault(q, op, IOMMU_FR_IR_RESERVED_REQ, false);
    const uint8_t r = iommu_msi_decode(req->addr, req->data, &op->msi);
    if (!q->ires) {
        /* remapping disabled: every request is delivered in compatibility format */
        if (op->msi.remappable)
            iommu_msi_decode(req->addr & ~IOMMU_MSI_ADDR_IF, req->data, &op->msi);
        return passthrough(q, op);
    }
    if (r)
        return fault(q, op, r, false);
    if (!op->msi.remappable) {
        if (q->cfis)
            return passthrough(q, op);
        return fault(q, op, IOMMU_FR_IR_COMPAT_BLOCKED, false);
    }
    op->index = op->msi.index;
    if (op->index >= iommu_irq_table_entries(q))
        return fault(q, op, IOMMU_FR_IR_INDEX_BEYOND, false);
    op->iec_lookup = true;
    const struct iommu_cache_key k = {0, op->index};
    const uint64_t *hit = iommu_cache_lookup(q->iec, op->index, &k);
    if (hit) {
        op->iec_hit = true;
        (*q->iec_hits)++;
        memcpy(op->irte, hit, 16);
        return use_irte(q, op, false);
    }
    (*q->iec_misses)++;
    const uint64_t addr = (q->irta & ~0xFFFull) + 16ull * op->index;
    if (q->haw < 64 && addr + 16 > (1ull << q->haw))
        return fault(q, op, IOMMU_FR_IR_TABLE_ACCESS, false);
    op->state = ST_READ_IRTE;
    op->mem_reads++;
    (*q->irte_reads)++;
    return (struct iommu_step){.kind = IOMMU_STEP_READ, .what = IOMMU_READ_IRTE, .size = 16,
                               .addr = addr};
}

struct iommu_step iommu_irq_resume(iommu_irq_t *q, struct iommu_irq_op *op, const uint64_t *data)
{
    if (op->state != ST_READ_IRTE) /* not waiting for a read: report the state unchanged */
        return (struct iommu_step){.kind = op->state == ST_DONE ? IOMMU_STEP_DONE
                                                                : IOMMU_STEP_FAULT};
    op->irte[0] = data[0];
    op->irte[1] = data[1];
    return use_irte(q, op, true);
}

struct iommu_step iommu_irq_read_failed(iommu_irq_t *q, struct iommu_irq_op *op)
{
    return fault(q, op, IOMMU_FR_IR_TABLE_ACCESS, false);
}

void iommu_irq_fault_record(const struct iommu_irq_op *op, struct iommu_fault_record *r)
{
    memset(r, 0, sizeof *r);
    r->f = true;
    r->reason = op->fault_reason;
    r->sid = op->req.sid;
    r->is_read = false;
    r->fi = (uint64_t)(op->index & 0xFFFF) << 48;
}

bool iommu_irq_functional(iommu_irq_t *q, iommu_physmem_t *mem, struct iommu_irq_op *op,
                          const struct iommu_irq_req *req)
{
    struct iommu_step st = iommu_irq_begin(q, op, req);
    while (st.kind == IOMMU_STEP_READ) {
        if (!iommu_physmem_in_range(st.addr, st.size)) {
            st = iommu_irq_read_failed(q, op);
            break;
        }
        const uint64_t w[2] = {iommu_physmem_read64(mem, st.addr),
                               iommu_physmem_read64(mem, st.addr + 8)};
        st = iommu_irq_resume(q, op, w);
    }
    return st.kind == IOMMU_STEP_DONE;
}

bool iommu_irq_post_functional(iommu_irq_t *q, iommu_physmem_t *mem,
                               const struct iommu_irq_op *op, struct iommu_pid *pid)
{
    uint64_t w[8];
    for (unsigned i = 0; i < 8; i++)
        w[i] = iommu_physmem_read64(mem, op->out.pda + 8ull * i);
    const bool notify = iommu_pid_post(w, op->out.vector, op->out.urg);
    for (unsigned i = 0; i < 5; i++)
        iommu_physmem_write64(mem, op->out.pda + 8ull * i, w[i]);
    if (notify)
        (*q->notifications)++;
    if (pid)
        iommu_pid_decode(w, pid);
    return notify;
}
