/* apply.c — host-side trace events applied to tables and caches (see apply.h). */
#include "apply.h"

#include <stdio.h>

static uint32_t invalidate(iommu_t *u, const struct iommu_trace_event *ev, iommu_pasid_t pasid)
{
    switch (ev->inv_type) {
    case IOMMU_INV_CC_GLOBAL: return iommu_inv_context_global(u);
    case IOMMU_INV_CC_DOMAIN: return iommu_inv_context_domain(u, ev->did);
    case IOMMU_INV_CC_DEVICE: return iommu_inv_context_device(u, ev->sid);
    case IOMMU_INV_IOTLB_GLOBAL: return iommu_inv_iotlb_global(u);
    case IOMMU_INV_IOTLB_DOMAIN: return iommu_inv_iotlb_domain(u, ev->did);
    case IOMMU_INV_IOTLB_PAGE:
        return iommu_inv_iotlb_page(u, ev->did, ev->iova, ev->am, (ev->flags & IOMMU_EVF_IH) != 0);
    case IOMMU_INV_PASID_IOTLB: return iommu_inv_pasid_iotlb(u, ev->did, pasid);
    case IOMMU_INV_PASID_CACHE: return iommu_inv_pasid_cache(u, ev->did, pasid);
    default: return 0; /* device-TLB, IEC, wait: nothing to drop in this model yet */
    }
}

enum iommu_status iommu_host_apply(iommu_host_t *h, iommu_t *u, const struct iommu_trace_event *ev,
                                   uint32_t *removed, char *what, size_t n)
{
    const iommu_pasid_t pasid = (ev->flags & IOMMU_EVF_PASID) ? ev->pasid : IOMMU_PASID_NONE;
    char bdf[8];
    enum iommu_status st = IOMMU_OK;
    uint64_t done = 0;
    if (removed)
        *removed = 0;
    what[0] = '\0';
    switch (ev->type) {
    case IOMMU_EV_ATTACH:
        if (ev->flags & IOMMU_EVF_ALIAS) {
            snprintf(what, n, "attach: alias");
            if ((st = iommu_host_set_alias(h, ev->sid, ev->alias)) != IOMMU_OK)
                return st;
        }
        snprintf(what, n, "attach %s to domain %u", iommu_sid_format(ev->sid, bdf), (unsigned)ev->did);
        return iommu_host_attach(h, ev->sid, pasid, ev->did, ev->mode);
    case IOMMU_EV_DETACH:
        snprintf(what, n, "detach %s", iommu_sid_format(ev->sid, bdf));
        return iommu_host_detach(h, ev->sid, pasid);
    case IOMMU_EV_MAP:
        snprintf(what, n, "map domain %u iova 0x%llx len 0x%llx", (unsigned)ev->did,
                 (unsigned long long)ev->iova, (unsigned long long)ev->len);
        return iommu_host_map(h, ev->did, ev->iova, ev->pa, ev->len, ev->access, ev->page_shift,
                              ev->stage);
    case IOMMU_EV_UNMAP:
        snprintf(what, n, "unmap domain %u iova 0x%llx len 0x%llx", (unsigned)ev->did,
                 (unsigned long long)ev->iova, (unsigned long long)ev->len);
        return iommu_host_unmap(h, ev->did, ev->iova, ev->len, ev->stage, &done);
    case IOMMU_EV_INV: {
        uint32_t r = invalidate(u, ev, pasid);
        if (removed)
            *removed = r;
        return IOMMU_OK;
    }
    case IOMMU_EV_DMA:
        snprintf(what, n, "dma");
        return IOMMU_ERR_INVAL;
    default: /* msi, irte, sched: modelled from the interrupt issue on */
        return IOMMU_OK;
    }
}
