/*
 * host.h — the host side that programs the IOMMU's tables in simulated memory: it owns a
 * root table, context tables (legacy or scalable mode with PASID directories and tables) and
 * per-domain page tables, and writes them bit-exactly as the VT-d specification lays them
 * out (formats in model/walker/formats.h). It models what an OS IOMMU driver does to the
 * tables — not yet its CPU cost or its invalidation policy (issue 4).
 *
 * Table frames come from a bump allocator over a physical region reserved for IOMMU
 * structures (cfg.table_base, cfg.table_size); data pages are whatever the caller maps.
 */
#ifndef IOMMU_HOST_HOST_H
#define IOMMU_HOST_HOST_H

#include "../model/common/physmem.h"
#include "../model/walker/context.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iommu_host_cfg {
    bool scalable;        /* write scalable-mode root/context/PASID tables               */
    uint8_t sl_levels;    /* second-level tables: 3, 4 or 5 levels                        */
    uint8_t fl_levels;    /* first-level tables: 4 or 5 levels                            */
    uint8_t haw;          /* host address width (mapped PAs must be below 2^haw)          */
    uint64_t table_base;  /* physical region for table frames (4 KB aligned)              */
    uint64_t table_size;
    uint64_t guest_table_base; /* nested: guest-physical region for first-level tables   */
};
void iommu_host_cfg_default(struct iommu_host_cfg *cfg);
enum iommu_status iommu_host_cfg_validate(const struct iommu_host_cfg *cfg, const char **key,
                                          const char **why);

typedef struct iommu_host iommu_host_t;

iommu_host_t *iommu_host_create(const struct iommu_host_cfg *cfg, iommu_physmem_t *mem);
void iommu_host_destroy(iommu_host_t *h);

/* Physical address of the root table (what RTADDR_REG is programmed with). */
uint64_t iommu_host_rtaddr(const iommu_host_t *h);

/* Attaches device sid (with pasid, or IOMMU_PASID_NONE) to domain did in `mode` (enum
 * iommu_xlat_mode; legacy mode supports SL and PT only). The domain is created on first use
 * with that mode; attaching a device to an existing domain in another mode is
 * IOMMU_ERR_INVAL. Attaching an attached (sid, pasid) again is IOMMU_ERR_EXISTS. */
enum iommu_status iommu_host_attach(iommu_host_t *h, iommu_sid_t sid, iommu_pasid_t pasid,
                                    iommu_did_t did, uint8_t mode);
enum iommu_status iommu_host_detach(iommu_host_t *h, iommu_sid_t sid, iommu_pasid_t pasid);

/* Maps [iova, iova+len) -> [pa, pa+len) in domain did with permissions perm (R/W/X) using
 * pages of 1 << page_shift bytes (12, 21, 30); iova, pa and len must be aligned to the page
 * size. stage: 0 = the domain's own stage; for a nested domain 1 maps IOVA -> GPA in the
 * first level and 2 maps GPA -> HPA in the second level. A range overlapping an existing
 * mapping is IOMMU_ERR_OVERLAP (and nothing is changed). */
enum iommu_status iommu_host_map(iommu_host_t *h, iommu_did_t did, uint64_t iova, uint64_t pa,
                                 uint64_t len, iommu_perm_t perm, unsigned page_shift,
                                 unsigned stage);
/* Unmaps every page inside [iova, iova+len) (which must cover whole pages); a range with
 * nothing mapped is IOMMU_ERR_NOTFOUND. Returns the bytes unmapped in *unmapped. */
enum iommu_status iommu_host_unmap(iommu_host_t *h, iommu_did_t did, uint64_t iova, uint64_t len,
                                   unsigned stage, uint64_t *unmapped);
/* Identity-maps an RMRR range for a domain (iova == pa), read/write, 4 KB pages. */
enum iommu_status iommu_host_map_identity(iommu_host_t *h, iommu_did_t did, uint64_t base,
                                          uint64_t len);

/* Requester-id aliasing: DMA from `sid` reaches the IOMMU as `alias` (devices behind a
 * PCIe-to-PCI bridge use the bridge's requester id, so they share a context entry and a
 * domain). iommu_host_requester_id(sid) returns the id the IOMMU sees. */
/* set_alias(sid, sid) removes an alias; changing the alias of an attached sid is
 * IOMMU_ERR_INVAL. */
enum iommu_status iommu_host_set_alias(iommu_host_t *h, iommu_sid_t sid, iommu_sid_t alias);
iommu_sid_t iommu_host_requester_id(const iommu_host_t *h, iommu_sid_t sid);

/* ATS: contexts written for requester id `rid` from now on allow device-TLBs (legacy
 * TT = 01b; scalable PASID entries are unaffected in this model). Call before attach. */
void iommu_host_set_ats(iommu_host_t *h, iommu_sid_t rid, bool enable);

/* Table memory used so far (bytes of table frames allocated). */
uint64_t iommu_host_table_bytes(const iommu_host_t *h);

/* Creates domain did in `mode` without attaching a device (so mappings can precede the
 * first attach). IOMMU_ERR_EXISTS if the domain exists; IOMMU_ERR_UNSUPP for FL/nested in
 * legacy mode; IOMMU_ERR_INVAL for an unknown mode. */
enum iommu_status iommu_host_domain_create(iommu_host_t *h, iommu_did_t did, uint8_t mode);

/* Software translation through the tables the host wrote (reads physmem; for tests and
 * differential checks against the walker). stage 0: the full translation (nested: first
 * then second level; pass-through: identity), 1: first level only (iova -> GPA when nested),
 * 2: second level only. Returns IOMMU_ERR_NOTFOUND when unmapped, IOMMU_ERR_INVAL for a
 * stage the domain does not have. perm as the walk reports it (R/W/X, PRIV = supervisor). */
enum iommu_status iommu_host_translate(const iommu_host_t *h, iommu_did_t did, uint64_t iova,
                                       unsigned stage, uint64_t *pa, iommu_perm_t *perm,
                                       unsigned *page_shift);

#ifdef __cplusplus
}
#endif
#endif
