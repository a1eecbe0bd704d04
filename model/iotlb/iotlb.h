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
 *
 * Defaults (iommu_iotlb_cfg_default): unified, 64 entries, fully associative, LRU — the
 * measured Haswell-EP IOTLB behaves like 64 entries of 4 KB (Neugebauer et al., SIGCOMM 2018,
 * docs/models/caches.md). For split mode the per-size defaults are c4k 64 entries, c2m 32 and
 * c1g 4, each fully associative LRU (c2m/c1g are ignored unless split = true).
 * Configuration keys: unified "iotlb.{entries,ways,policy,seed}"; split adds "iotlb_2m.*" and
 * "iotlb_1g.*" (c4k keeps "iotlb.*").
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
/* The same without touching replacement state or counters (observers: protection metrics). */
const struct iommu_iotlb_entry *iommu_iotlb_probe(const iommu_iotlb_t *t, iommu_did_t did,
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
/* Page-selective-within-PASID (scalable mode, PASID-based IOTLB invalidation with AM):
 * entries of (did, pasid) whose page overlaps [addr, addr + 2^(12+am)). In both page-
 * selective forms the low 12 + am bits of addr are ignored, as VT-d does (the range is the
 * naturally aligned block containing addr); 12 + am >= 64 covers the whole address space. */
uint32_t iommu_iotlb_inv_pasid_page(iommu_iotlb_t *t, iommu_did_t did, iommu_pasid_t pasid,
                                    uint64_t addr, unsigned am);

uint32_t iommu_iotlb_valid_count(const iommu_iotlb_t *t);
/* Valid entries of one page size (page_shift 12, 21 or 30; 0 for any other shift). */
uint32_t iommu_iotlb_valid_count_size(const iommu_iotlb_t *t, unsigned page_shift);

/* The cache key and set index the IOTLB uses for a page of the given size containing iova
 * (for one-pass size sweeps with model/iotlb/stackdist.h that must see the same keys). */
void iommu_iotlb_key(iommu_did_t did, iommu_pasid_t pasid, uint64_t iova, unsigned page_shift,
                     struct iommu_cache_key *key, uint32_t *set);

#ifdef __cplusplus
}
#endif
#endif
