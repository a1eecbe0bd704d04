/* qi.c — the driver's side of the invalidation queue (see qi.h). */
#include "qi.h"

#include <stdlib.h>

struct iommu_hostq {
    iommu_invq_t *q;
    iommu_physmem_t *mem;
    uint64_t base, status_base;
    uint32_t qbytes, dbytes, tail; /* software tail, bytes */
    uint32_t next_status;          /* status words used round-robin (4 KB / 8 = 512 slots) */
    uint32_t seq;                  /* value written by the next wait (never 0)           */
};

iommu_hostq_t *iommu_hostq_create(iommu_invq_t *q, iommu_physmem_t *mem, uint64_t base,
                                  unsigned qs, uint64_t status_base, bool wide)
{
    if (!q || !mem || (base & 0xfff) || qs > 7 || (status_base & 0xfff))
        return NULL;
    iommu_hostq_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->q = q;
    h->mem = mem;
    h->base = base;
    h->status_base = status_base;
    h->qbytes = 4096u << qs;
    if (iommu_invq_write_iqa(q, base | qs | (wide ? IOMMU_IQA_DW : 0)) != IOMMU_OK || iommu_invq_enable(q, true) != IOMMU_OK) {
        free(h);
        return NULL;
    }
    h->dbytes = iommu_invq_desc_bytes(q);
    iommu_invq_write_iqt(q, 0);
    h->seq = 1;
    return h;
}

void iommu_hostq_destroy(iommu_hostq_t *h) { free(h); }

uint32_t iommu_hostq_free(const iommu_hostq_t *h)
{
    const uint32_t head = (uint32_t)iommu_invq_iqh(h->q);
    const uint32_t used = (h->tail + h->qbytes - head) % h->qbytes / h->dbytes;
    return h->qbytes / h->dbytes - 1 - used;
}

enum iommu_status iommu_hostq_push(iommu_hostq_t *h, const uint64_t qw[4])
{
    if (iommu_hostq_free(h) == 0)
        return IOMMU_ERR_NOMEM;
    enum iommu_status st = iommu_physmem_write(h->mem, h->base + h->tail, qw, h->dbytes);
    if (st != IOMMU_OK)
        return st;
    h->tail = (h->tail + h->dbytes) % h->qbytes;
    return IOMMU_OK;
}

enum iommu_status iommu_hostq_push_wait(iommu_hostq_t *h, bool iflag, uint64_t *addr,
                                        uint32_t *value)
{
    const uint64_t a = h->status_base + (uint64_t)(h->next_status % 512) * 8;
    const uint32_t v = h->seq;
    uint64_t qw[4];
    iommu_qi_enc_wait(qw, true, iflag, false, false, a, v);
    const uint32_t zero = 0;
    if (iommu_hostq_free(h) == 0)
        return IOMMU_ERR_NOMEM;
    iommu_physmem_write(h->mem, a, &zero, 4); /* QI_IN_USE: the driver clears the word first */
    enum iommu_status st = iommu_hostq_push(h, qw);
    if (st != IOMMU_OK)
        return st;
    h->next_status++;
    h->seq = h->seq == UINT32_MAX ? 1 : h->seq + 1;
    *addr = a;
    *value = v;
    return IOMMU_OK;
}

uint64_t iommu_hostq_tail(const iommu_hostq_t *h) { return h->tail; }

bool iommu_hostq_status_done(const iommu_hostq_t *h, uint64_t addr, uint32_t value)
{
    uint32_t v = 0;
    iommu_physmem_read(h->mem, addr, &v, 4);
    return v == value;
}
