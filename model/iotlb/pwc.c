/*
 * pwc.c — the paging-structure caches: four generic caches, one per non-leaf level.
 *
 * Key of an entry in the cache of a level with reach 2^shift (shift = 21, 30, 39, 48):
 * lo = iova >> shift, hi = pasid << 32 | did << 8 | stage. The set index is lo (masked by
 * the cache), so consecutive 2 MB regions spread over the PDE cache's sets. Workload
 * assumption: the walker looks up the deepest present level first on every IOTLB miss and
 * fills every level it reads; invalidations are per domain or per unmapped range.
 */
#include "pwc.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const unsigned level_shift[IOMMU_PWC_NLEVELS] = {21, 30, 39, 48};

static const char *const level_names[IOMMU_PWC_NLEVELS] = {"pde", "pdpe", "pml4e", "pml5e"};

/* Configuration keys by level and field (enum iommu_cache_cfg_field). */
static const char *const cfg_keys[IOMMU_PWC_NLEVELS][3] = {
    {"pwc.pde.entries", "pwc.pde.ways", "pwc.pde.policy"},
    {"pwc.pdpe.entries", "pwc.pdpe.ways", "pwc.pdpe.policy"},
    {"pwc.pml4e.entries", "pwc.pml4e.ways", "pwc.pml4e.policy"},
    {"pwc.pml5e.entries", "pwc.pml5e.ways", "pwc.pml5e.policy"},
};

static const uint32_t default_entries[IOMMU_PWC_NLEVELS] = {32, 16, 4, 0};

struct iommu_pwc {
    iommu_cache_t *c[IOMMU_PWC_NLEVELS]; /* never NULL once built; absent = 0 entries */
};

const char *iommu_pwc_level_name(enum iommu_pwc_level l)
{
    return (unsigned)l < IOMMU_PWC_NLEVELS ? level_names[l] : "?";
}

void iommu_pwc_cfg_default(struct iommu_pwc_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++) {
        iommu_cache_cfg_default(&cfg->level[l]);
        cfg->level[l].entries = default_entries[l];
        cfg->level[l].ways = default_entries[l];
    }
}

enum iommu_status iommu_pwc_cfg_validate(const struct iommu_pwc_cfg *cfg, const char **key,
                                         const char **why)
{
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++) {
        enum iommu_cache_cfg_field f;
        const char *r;
        if (iommu_cache_cfg_check(&cfg->level[l], &f, &r) != IOMMU_OK) {
            if (key)
                *key = cfg_keys[l][f];
            if (why)
                *why = r;
            return IOMMU_ERR_INVAL;
        }
    }
    return IOMMU_OK;
}

void iommu_pwc_destroy(iommu_pwc_t *p)
{
    if (!p)
        return;
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++)
        iommu_cache_destroy(p->c[l]);
    free(p);
}

iommu_pwc_t *iommu_pwc_create(const struct iommu_pwc_cfg *cfg)
{
    if (!cfg || iommu_pwc_cfg_validate(cfg, NULL, NULL) != IOMMU_OK)
        return NULL;
    iommu_pwc_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++) {
        p->c[l] = iommu_cache_create(&cfg->level[l], sizeof(struct iommu_pwc_entry));
        if (!p->c[l]) {
            iommu_pwc_destroy(p);
            return NULL;
        }
    }
    return p;
}

static inline struct iommu_cache_key make_key(enum iommu_pwc_level level, iommu_did_t did,
                                              iommu_pasid_t pasid, enum iommu_pwc_stage stage,
                                              uint64_t iova)
{
    struct iommu_cache_key k = {
        .hi = (uint64_t)pasid << 32 | (uint64_t)did << 8 | (uint64_t)(stage & 0xFF),
        .lo = iova >> level_shift[level],
    };
    return k;
}

const struct iommu_pwc_entry *iommu_pwc_lookup(iommu_pwc_t *p, enum iommu_pwc_level level,
                                               iommu_did_t did, iommu_pasid_t pasid,
                                               enum iommu_pwc_stage stage, uint64_t iova)
{
    assert((unsigned)level < IOMMU_PWC_NLEVELS);
    const struct iommu_cache_key k = make_key(level, did, pasid, stage, iova);
    return iommu_cache_lookup(p->c[level], (uint32_t)k.lo, &k);
}

void iommu_pwc_insert(iommu_pwc_t *p, enum iommu_pwc_level level, iommu_did_t did,
                      iommu_pasid_t pasid, enum iommu_pwc_stage stage, uint64_t iova,
                      const struct iommu_pwc_entry *e)
{
    assert((unsigned)level < IOMMU_PWC_NLEVELS);
    const struct iommu_cache_key k = make_key(level, did, pasid, stage, iova);
    struct iommu_pwc_entry *slot = iommu_cache_insert(p->c[level], (uint32_t)k.lo, &k, NULL);
    if (slot)
        *slot = *e;
}

bool iommu_pwc_present(const iommu_pwc_t *p, enum iommu_pwc_level level)
{
    return (unsigned)level < IOMMU_PWC_NLEVELS && iommu_cache_entries(p->c[level]) > 0;
}

uint32_t iommu_pwc_valid_count(const iommu_pwc_t *p, enum iommu_pwc_level level)
{
    return (unsigned)level < IOMMU_PWC_NLEVELS ? iommu_cache_valid_count(p->c[level]) : 0;
}

/* ---- invalidation ------------------------------------------------------------------- */

struct inv_ctx {
    bool by_did, by_pasid, by_range;
    iommu_did_t did;
    iommu_pasid_t pasid;
    unsigned shift;       /* reach of the level being invalidated (range kinds) */
    uint64_t first, last; /* inclusive range                                    */
};

static bool inv_match(const struct iommu_cache_key *k, const void *payload, void *vctx)
{
    const struct inv_ctx *x = vctx;
    if (x->by_did && (iommu_did_t)(k->hi >> 8) != x->did)
        return false;
    if (x->by_pasid && (iommu_pasid_t)(k->hi >> 32) != x->pasid)
        return false;
    if (x->by_range) {
        const uint64_t start = k->lo << x->shift;
        const uint64_t end = start + ((1ull << x->shift) - 1);
        if (start > x->last || end < x->first)
            return false;
    }
    return true;
}

static uint32_t inv_all_levels(iommu_pwc_t *p, struct inv_ctx *x)
{
    uint32_t n = 0;
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++) {
        x->shift = level_shift[l];
        n += iommu_cache_invalidate(p->c[l], inv_match, x);
    }
    return n;
}

/* Range kinds: per level, visit only the sets the overlapping regions index when there are
 * fewer of those than sets; else scan the level. */
static uint32_t inv_range_levels(iommu_pwc_t *p, struct inv_ctx *x)
{
    uint32_t n = 0;
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++) {
        iommu_cache_t *c = p->c[l];
        if (!iommu_cache_valid_count(c))
            continue;
        x->shift = level_shift[l];
        const uint64_t lo = x->first >> x->shift, hi = x->last >> x->shift;
        if (hi - lo >= (uint64_t)iommu_cache_sets(c) - 1) {
            n += iommu_cache_invalidate(c, inv_match, x);
        } else {
            for (uint64_t r = lo; r <= hi; r++)
                n += iommu_cache_invalidate_set(c, (uint32_t)r, inv_match, x);
        }
    }
    return n;
}

uint32_t iommu_pwc_inv_global(iommu_pwc_t *p)
{
    struct inv_ctx x = {0};
    return inv_all_levels(p, &x);
}

uint32_t iommu_pwc_inv_domain(iommu_pwc_t *p, iommu_did_t did)
{
    struct inv_ctx x = {.by_did = true, .did = did};
    return inv_all_levels(p, &x);
}

uint32_t iommu_pwc_inv_pasid(iommu_pwc_t *p, iommu_did_t did, iommu_pasid_t pasid)
{
    struct inv_ctx x = {.by_did = true, .by_pasid = true, .did = did, .pasid = pasid};
    return inv_all_levels(p, &x);
}

/* [addr, addr + len) as an inclusive range, clipped at the top of the address space;
 * false when empty. */
static bool to_inclusive(uint64_t addr, uint64_t len, uint64_t *first, uint64_t *last)
{
    if (len == 0)
        return false;
    *first = addr;
    *last = len - 1 > UINT64_MAX - addr ? UINT64_MAX : addr + (len - 1);
    return true;
}

uint32_t iommu_pwc_inv_range(iommu_pwc_t *p, iommu_did_t did, uint64_t addr, uint64_t len)
{
    struct inv_ctx x = {.by_did = true, .by_range = true, .did = did};
    if (!to_inclusive(addr, len, &x.first, &x.last))
        return 0;
    return inv_range_levels(p, &x);
}

uint32_t iommu_pwc_inv_pasid_range(iommu_pwc_t *p, iommu_did_t did, iommu_pasid_t pasid,
                                   uint64_t addr, uint64_t len)
{
    struct inv_ctx x = {.by_did = true, .by_pasid = true, .by_range = true, .did = did,
                        .pasid = pasid};
    if (!to_inclusive(addr, len, &x.first, &x.last))
        return 0;
    return inv_range_levels(p, &x);
}
