/*
 * pwc.h — the paging-structure caches (VT-d 6.2.4: PML5E, PML4E, PDPE and PDE caches).
 *
 * Each level is an independently sized generic cache (0 entries = absent). An entry caches a
 * non-leaf paging entry that points to a next-level table: a PDE-cache hit for an IOVA skips
 * every read but the leaf PTE; a PDPE hit leaves two reads, a PML4E hit three, a PML5E hit
 * four (5-level tables). Entries are tagged by domain id, PASID, stage (first/second level,
 * so nested walks keep their stages apart) and the IOVA bits above the level's reach
 * (PDE: bits 63:21, PDPE: 63:30, PML4E: 63:39, PML5E: 63:48); the set index is taken from
 * those same bits.
 *
 * Defaults (iommu_pwc_cfg_default), each fully associative LRU: PDE 32 entries, PDPE 16,
 * PML4E 4, PML5E 0 (absent). Intel does not publish these sizes; they are small because
 * each entry covers a large region (a 32-entry PDE cache covers 64 MB of IOVA). PML5E is
 * absent by default because 5-level tables are rare for DMA domains; a 5-level walk then
 * reads the PML5 entry every time unless pwc.pml5e.entries is raised.
 * Configuration keys: "pwc.<level>.{entries,ways,policy,seed}", level = pde, pdpe, pml4e,
 * pml5e.
 */
#ifndef IOMMU_IOTLB_PWC_H
#define IOMMU_IOTLB_PWC_H

#include "cache.h"

#ifdef __cplusplus
extern "C" {
#endif

enum iommu_pwc_level {
    IOMMU_PWC_PDE = 0,   /* entry at level 2, points to a page table, reach 2 MB    */
    IOMMU_PWC_PDPE = 1,  /* level 3, points to a page directory, reach 1 GB         */
    IOMMU_PWC_PML4E = 2, /* level 4, reach 512 GB                                   */
    IOMMU_PWC_PML5E = 3, /* level 5, reach 256 TB                                   */
    IOMMU_PWC_NLEVELS = 4
};
/* "pde", "pdpe", "pml4e", "pml5e" */
const char *iommu_pwc_level_name(enum iommu_pwc_level l);

enum iommu_pwc_stage { IOMMU_STAGE_FIRST = 1, IOMMU_STAGE_SECOND = 2 };

struct iommu_pwc_cfg {
    struct iommu_cache_cfg level[IOMMU_PWC_NLEVELS];
};
void iommu_pwc_cfg_default(struct iommu_pwc_cfg *cfg);
/* Validates every level; on error names the key ("pwc.pdpe.ways") and the reason. */
enum iommu_status iommu_pwc_cfg_validate(const struct iommu_pwc_cfg *cfg, const char **key,
                                         const char **why);

struct iommu_pwc_entry {
    uint64_t next_table; /* physical address of the next-level table (4 KB aligned)  */
    iommu_perm_t perm;   /* permissions accumulated from the root down to this entry */
};

typedef struct iommu_pwc iommu_pwc_t;

iommu_pwc_t *iommu_pwc_create(const struct iommu_pwc_cfg *cfg); /* NULL if invalid */
void iommu_pwc_destroy(iommu_pwc_t *p);

/* Looks up the cache of `level` for iova; NULL on miss or absent level. */
const struct iommu_pwc_entry *iommu_pwc_lookup(iommu_pwc_t *p, enum iommu_pwc_level level,
                                               iommu_did_t did, iommu_pasid_t pasid,
                                               enum iommu_pwc_stage stage, uint64_t iova);
void iommu_pwc_insert(iommu_pwc_t *p, enum iommu_pwc_level level, iommu_did_t did,
                      iommu_pasid_t pasid, enum iommu_pwc_stage stage, uint64_t iova,
                      const struct iommu_pwc_entry *e);
bool iommu_pwc_present(const iommu_pwc_t *p, enum iommu_pwc_level level);
/* Valid entries now in the cache of one level. */
uint32_t iommu_pwc_valid_count(const iommu_pwc_t *p, enum iommu_pwc_level level);

/* Invalidation: everything, a domain, or the entries of a domain covering a range
 * (page-selective IOTLB invalidation without IH also drops the paging-structure entries
 * that map the range). Return entries removed. */
uint32_t iommu_pwc_inv_global(iommu_pwc_t *p);
uint32_t iommu_pwc_inv_domain(iommu_pwc_t *p, iommu_did_t did);
uint32_t iommu_pwc_inv_range(iommu_pwc_t *p, iommu_did_t did, uint64_t addr, uint64_t len);
/* Scalable mode (PASID-based IOTLB invalidation also drops paging-structure entries): all
 * entries of (did, pasid), or those of (did, pasid) covering [addr, addr + len). Ranges that
 * run past 2^64 are clipped; len == 0 removes nothing. */
uint32_t iommu_pwc_inv_pasid(iommu_pwc_t *p, iommu_did_t did, iommu_pasid_t pasid);
uint32_t iommu_pwc_inv_pasid_range(iommu_pwc_t *p, iommu_did_t did, iommu_pasid_t pasid,
                                   uint64_t addr, uint64_t len);

#ifdef __cplusplus
}
#endif
#endif
