/* devtlb.c — per-device ATS translation caches (see devtlb.h). */
#include "devtlb.h"

#include <stdlib.h>

struct iommu_devtlbs {
    struct iommu_iotlb_cfg cfg;
    iommu_iotlb_t **dev;  /* [65536], created on first use */
    uint64_t *hits, *misses, *messages, *removed;
};

iommu_devtlbs_t *iommu_devtlbs_create(const struct iommu_cache_cfg *cfg, iommu_stats_t *stats)
{
    iommu_devtlbs_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    iommu_iotlb_cfg_default(&d->cfg);
    d->cfg.c4k = *cfg;
    d->cfg.split = false;
    d->dev = calloc(65536, sizeof *d->dev);
    d->hits = iommu_stats_counter(stats, "devtlb.hits", "device-TLB lookups that hit (ATS)");
    d->misses = iommu_stats_counter(stats, "devtlb.misses",
                                    "device-TLB lookups that missed: a translation request follows");
    d->messages = iommu_stats_counter(stats, "devtlb.inv_messages",
                                      "device-TLB invalidation messages received by devices");
    d->removed = iommu_stats_counter(stats, "devtlb.removed", "device-TLB entries invalidated");
    if (!d->dev || !d->hits || !d->misses || !d->messages || !d->removed ||
        (cfg->entries && iommu_iotlb_cfg_validate(&d->cfg, NULL, NULL) != IOMMU_OK)) {
        iommu_devtlbs_destroy(d);
        return NULL;
    }
    return d;
}

void iommu_devtlbs_destroy(iommu_devtlbs_t *d)
{
    if (!d)
        return;
    if (d->dev)
        for (unsigned i = 0; i < 65536; i++)
            iommu_iotlb_destroy(d->dev[i]);
    free(d->dev);
    free(d);
}

static iommu_iotlb_t *of(iommu_devtlbs_t *d, iommu_sid_t sid)
{
    if (!d->dev[sid] && d->cfg.c4k.entries)
        d->dev[sid] = iommu_iotlb_create(&d->cfg);
    return d->dev[sid];
}

const struct iommu_iotlb_entry *iommu_devtlbs_lookup(iommu_devtlbs_t *d, iommu_sid_t sid,
                                                     iommu_pasid_t pasid, uint64_t iova)
{
    iommu_iotlb_t *t = of(d, sid);
    const struct iommu_iotlb_entry *e = t ? iommu_iotlb_lookup(t, 0, pasid, iova) : NULL;
    (*(e ? d->hits : d->misses))++;
    return e;
}

const struct iommu_iotlb_entry *iommu_devtlbs_probe(const iommu_devtlbs_t *d, iommu_sid_t sid,
                                                    iommu_pasid_t pasid, uint64_t iova)
{
    return d->dev[sid] ? iommu_iotlb_probe(d->dev[sid], 0, pasid, iova) : NULL;
}

void iommu_devtlbs_insert(iommu_devtlbs_t *d, iommu_sid_t sid, iommu_pasid_t pasid,
                          uint64_t iova, const struct iommu_iotlb_entry *e)
{
    iommu_iotlb_t *t = of(d, sid);
    if (t)
        iommu_iotlb_insert(t, 0, pasid, iova, e);
}

uint32_t iommu_devtlbs_invalidate(void *ctx, iommu_sid_t sid, uint64_t base, unsigned size_shift)
{
    iommu_devtlbs_t *d = ctx;
    (*d->messages)++;
    iommu_iotlb_t *t = d->dev[sid];
    if (!t)
        return 0;
    const uint32_t n = size_shift >= 64 ? iommu_iotlb_inv_global(t)
                                        : iommu_iotlb_inv_page(t, 0, base, size_shift - 12);
    *d->removed += n;
    return n;
}

uint32_t iommu_devtlbs_valid(const iommu_devtlbs_t *d, iommu_sid_t sid)
{
    return d->dev[sid] ? iommu_iotlb_valid_count(d->dev[sid]) : 0;
}
