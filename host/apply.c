/* apply.c — host-side trace events applied to the simulated host (see apply.h). */
#include "apply.h"

#include <stdio.h>
#include <string.h>

bool iommu_inv_event_desc(const struct iommu_trace_event *ev, const struct iommu_cfg *c,
                          uint64_t qw[4])
{
    const iommu_pasid_t pasid = (ev->flags & IOMMU_EVF_PASID) ? ev->pasid : IOMMU_PASID_NONE;
    const bool ih = (ev->flags & IOMMU_EVF_IH) != 0;
    switch (ev->inv_type) {
    case IOMMU_INV_CC_GLOBAL: iommu_qi_enc_cc(qw, IOMMU_QI_G_GLOBAL, 0, 0, 0); return true;
    case IOMMU_INV_CC_DOMAIN: iommu_qi_enc_cc(qw, IOMMU_QI_G_DOMAIN, ev->did, 0, 0); return true;
    case IOMMU_INV_CC_DEVICE: iommu_qi_enc_cc(qw, IOMMU_QI_G_DEVICE, ev->did, ev->sid, 0); return true;
    case IOMMU_INV_IOTLB_GLOBAL:
        iommu_qi_enc_iotlb(qw, IOMMU_QI_G_GLOBAL, 0, 0, 0, false, c->drd, c->dwd);
        return true;
    case IOMMU_INV_IOTLB_DOMAIN:
        iommu_qi_enc_iotlb(qw, IOMMU_QI_G_DOMAIN, ev->did, 0, 0, false, c->drd, c->dwd);
        return true;
    case IOMMU_INV_IOTLB_PAGE:
        iommu_qi_enc_iotlb(qw, IOMMU_QI_G_PAGE, ev->did, ev->iova, ev->am, ih, c->drd, c->dwd);
        return true;
    case IOMMU_INV_DEVTLB:
        iommu_qi_enc_devtlb(qw, ev->sid, ev->sid, 0, ev->iova, 12u + ev->am);
        return true;
    case IOMMU_INV_IEC_GLOBAL: iommu_qi_enc_iec(qw, false, 0, 0); return true;
    case IOMMU_INV_IEC_INDEX: iommu_qi_enc_iec(qw, true, (uint16_t)ev->index, ev->am); return true;
    case IOMMU_INV_PASID_IOTLB:
        if (ev->flags & IOMMU_EVF_ADDR)
            iommu_qi_enc_pasid_iotlb(qw, IOMMU_QI_PIOTLB_G_PAGE, ev->did, pasid, ev->iova, ev->am, ih);
        else
            iommu_qi_enc_pasid_iotlb(qw, IOMMU_QI_PIOTLB_G_PASID, ev->did, pasid, 0, 0, false);
        return true;
    case IOMMU_INV_PASID_CACHE:
        if (pasid == IOMMU_PASID_NONE)
            iommu_qi_enc_pasid_cache(qw, IOMMU_QI_PC_G_DOMAIN, ev->did, 0);
        else
            iommu_qi_enc_pasid_cache(qw, IOMMU_QI_PC_G_PASID, ev->did, pasid);
        return true;
    default: /* wait */
        return false;
    }
}

enum iommu_status iommu_host_apply(const struct iommu_host_env *env,
                                   const struct iommu_trace_event *ev, uint64_t now_ns,
                                   struct iommu_dma_work *w, char *what, size_t n)
{
    const iommu_pasid_t pasid = (ev->flags & IOMMU_EVF_PASID) ? ev->pasid : IOMMU_PASID_NONE;
    char bdf[8];
    enum iommu_status st = IOMMU_OK;
    uint64_t done = 0;
    memset(w, 0, sizeof *w);
    what[0] = '\0';
    switch (ev->type) {
    case IOMMU_EV_ATTACH:
        if (ev->flags & IOMMU_EVF_ALIAS) {
            snprintf(what, n, "attach: alias");
            if ((st = iommu_host_set_alias(env->h, ev->sid, ev->alias)) != IOMMU_OK)
                return st;
        }
        snprintf(what, n, "attach %s to domain %u", iommu_sid_format(ev->sid, bdf), (unsigned)ev->did);
        if (pasid == IOMMU_PASID_NONE && !(ev->flags & IOMMU_EVF_ALIAS))
            return iommu_dma_attach(env->dma, ev->sid, ev->did, ev->mode);
        return iommu_host_attach(env->h, ev->sid, pasid, ev->did, ev->mode);
    case IOMMU_EV_DETACH:
        snprintf(what, n, "detach %s", iommu_sid_format(ev->sid, bdf));
        return iommu_host_detach(env->h, ev->sid, pasid);
    case IOMMU_EV_MAP:
        snprintf(what, n, "map domain %u iova 0x%llx len 0x%llx", (unsigned)ev->did,
                 (unsigned long long)ev->iova, (unsigned long long)ev->len);
        return iommu_host_map(env->h, ev->did, ev->iova, ev->pa, ev->len, ev->access,
                              ev->page_shift, ev->stage);
    case IOMMU_EV_UNMAP:
        snprintf(what, n, "unmap domain %u iova 0x%llx len 0x%llx", (unsigned)ev->did,
                 (unsigned long long)ev->iova, (unsigned long long)ev->len);
        st = iommu_host_unmap(env->h, ev->did, ev->iova, ev->len, ev->stage, &done);
        if (st == IOMMU_OK && ev->stage == 0) {
            w->unmapped = true;
            w->did = ev->did;
            w->unmap_iova = ev->iova;
            w->unmap_len = ev->len;
        }
        return st;
    case IOMMU_EV_INV: {
        uint64_t qw[4];
        const bool desc = iommu_inv_event_desc(ev, iommu_config(env->u), qw);
        snprintf(what, n, "inv type=%s: the invalidation queue is full",
                 iommu_inv_type_name(ev->inv_type));
        return iommu_dma_submit_inv(env->dma, qw, !desc, 0, w);
    }
    case IOMMU_EV_DMA_MAP:
        snprintf(what, n, "dma_map handle %llu (%s)", (unsigned long long)ev->handle,
                 iommu_sid_format(ev->sid, bdf));
        return iommu_dma_map(env->dma, ev->sid, ev->handle, ev->pa, ev->len, ev->access,
                             (ev->flags & IOMMU_EVF_MORE) != 0, ev->cpu, now_ns, w);
    case IOMMU_EV_DMA_UNMAP:
        snprintf(what, n, "dma_unmap handle %llu", (unsigned long long)ev->handle);
        return iommu_dma_unmap(env->dma, ev->handle, ev->cpu, now_ns, w);
    case IOMMU_EV_DMA:
        snprintf(what, n, "dma");
        return IOMMU_ERR_INVAL;
    case IOMMU_EV_IRTE:
        return env->irq ? iommu_irqhost_irte(env->irq, ev, what, n) : IOMMU_OK;
    case IOMMU_EV_SCHED:
        return env->irq ? iommu_irqhost_sched(env->irq, ev, now_ns, w, what, n) : IOMMU_OK;
    default: /* msi: a device's write (iommu_irqhost_request / _deliver) */
        snprintf(what, n, "msi");
        return IOMMU_ERR_INVAL;
    }
}

enum iommu_status iommu_host_complete_functional(const struct iommu_host_env *env,
                                                 const struct iommu_dma_work *w, unsigned cpu,
                                                 uint64_t now_ns, char *what, size_t n)
{
    if (w->doorbell) {
        iommu_prot_set_now(env->prot, now_ns);
        iommu_invq_write_iqt(env->q, w->iqt);
        iommu_invq_run(env->q, env->mem);
    }
    if (w->wait) {
        if (!iommu_hostq_status_done(iommu_dma_hostq(env->dma), w->status_addr, w->status_value)) {
            snprintf(what, n, "invalidation queue stopped: %s (FSTS.IQE)",
                     iommu_qi_error_name((unsigned)(iommu_invq_iqercd(env->q) & 0xf)));
            return IOMMU_ERR_FORMAT;
        }
        iommu_dma_flush_done(env->dma, w->token, cpu);
    }
    iommu_host_unmap_returned(env, w, now_ns);
    return IOMMU_OK;
}

void iommu_host_unmap_returned(const struct iommu_host_env *env, const struct iommu_dma_work *w,
                               uint64_t now_ns)
{
    if (!w->unmapped)
        return;
    iommu_prot_unmapped(env->prot, w->did, w->unmap_iova, w->unmap_len, now_ns);
    const iommu_sid_t *sids;
    const uint32_t n = iommu_dma_ats_devices(env->dma, w->did, &sids);
    for (uint32_t i = 0; i < n; i++)
        iommu_prot_unmapped_dev(env->prot, sids[i], w->unmap_iova, w->unmap_len, now_ns);
}
