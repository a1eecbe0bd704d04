/*
 * iotlb.h — the IOTLB: cached leaf translations tagged by domain id, PASID, page number and
 * page size (VT-d 6.2.3 / 6.5.1: IOTLB entries are tagged with DID, and PASID in scalable
 * mode; entries for 4 KB, 2 MB and 1 GB pages).
 *
 * Two organisations, as configured:
 *  - unified (split = false): one set-associative cache holds every page size; the set index
 *    is taken from the page number *at the entry's own size* (vpn_4k, vpn_2m or vpn_1g), so
 *    a 2 MB entry keeps its full reach and 4 KB pages spread over all sets. A lookup probes
 *    one set per page size that currently has valid entries (at most 3 probes).
 *  - split (split = true): one cache per page size (c4k, c2m, c1g), probed in turn.
 * Every lookup/insert is allocation-free.
 */
#ifndef IOMMU_IOTLB_IOTLB_H
#define IOMMU_IOTLB_IOTLB_H

#include "cache.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iommu_iotlb_cfg {
    struct iommu_cache_cfg c4k; /* unified: the whole IOTLB; split: 4 KB entries   */
    bool split;                 /* per-size structures                             */
    struct iommu_cache_cfg c2m; /* split only: 2 MB entries                        */
    struct iommu_cache_cfg c1g; /* split only: 1 GB entries                        */
};
void iommu_iotlb_cfg_default(struct iommu_iotlb_cfg *cfg);
enum iommu_status iommu_iotlb_cfg_validate(const struct iommu_iotlb_cfg *cfg, const char **key,
                                           const char **why);

/* One cached translation. */
struct iommu_iotlb_entry {
    uint64_t pa;        /* host-physical base of the page (page-aligned) */
    uint8_t page_shift; /* 12, 21 or 30                                  */
    iommu_perm_t perm;  /* granted R/W/X (and PRIV = supervisor-only)    */
};

typedef struct iommu_iotlb iommu_iotlb_t;

iommu_iotlb_t *iommu_iotlb_create(const struct iommu_iotlb_cfg *cfg); /* NULL if invalid */
void iommu_iotlb_destroy(iommu_iotlb_t *t);

/* Returns the entry translating iova for (did, pasid), updating replacement state; NULL on a
 * miss. pasid may be IOMMU_PASID_NONE. */
const struct iommu_iotlb_entry *iommu_iotlb_lookup(iommu_iotlb_t *t, iommu_did_t did,
                                                   iommu_pasid_t pasid, uint64_t iova);
void iommu_iotlb_insert(iommu_iotlb_t *t, iommu_did_t did, iommu_pasid_t pasid, uint64_t iova,
                        const struct iommu_iotlb_entry *e);

/* Invalidations (VT-d 6.5.2.3 / 6.5.2.4). Return the number of entries removed. */
uint32_t iommu_iotlb_inv_global(iommu_iotlb_t *t);
uint32_t iommu_iotlb_inv_domain(iommu_iotlb_t *t, iommu_did_t did);
/* Page-selective: entries of did whose page overlaps [addr, addr + 2^(12+am)). */
uint32_t iommu_iotlb_inv_page(iommu_iotlb_t *t, iommu_did_t did, uint64_t addr, unsigned am);
/* PASID-selective (scalable mode): all entries of (did, pasid). */
uint32_t iommu_iotlb_inv_pasid(iommu_iotlb_t *t, iommu_did_t did, iommu_pasid_t pasid);

uint32_t iommu_iotlb_valid_count(const iommu_iotlb_t *t);

#ifdef __cplusplus
}
#endif
#endif
