/*
 * iotlb.c — the IOTLB as one (unified) or three (split, per page size) generic caches.
 *
 * Key of an entry: lo = page number at the entry's own size (iova >> page_shift), hi =
 * pasid << 32 | did << 8 | page_shift. The set index is the same page number (the cache
 * masks it), so in a unified cache 4 KB pages spread over every set by their 4 KB page number
 * and 2 MB pages by their 2 MB page number: neither size loses reach to the other.
 * count[i] tracks how many valid entries of size i exist, so a lookup probes only sizes that
 * can hit (a 4 KB-only workload costs one set scan per lookup). Workload assumption: lookups
 * dominate; invalidations are frequent under strict unmap policies, so page-selective
 * invalidation visits only the sets the range indexes when that is cheaper than a scan.
 */
#include "iotlb.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define NSIZES 3
static const unsigned size_shift[NSIZES] = {IOMMU_PAGE_SHIFT_4K, IOMMU_PAGE_SHIFT_2M,
                                            IOMMU_PAGE_SHIFT_1G};

struct iommu_iotlb {
    bool split;                /* per-size caches; else c[0] == c[1] == c[2]              */
    iommu_cache_t *c[NSIZES];  /* cache holding entries of size i (never NULL once built) */
    uint32_t count[NSIZES];    /* valid entries of size i; unified: sum == c[0]'s valid   */
};

/* Configuration keys by structure (0 = "iotlb", 1 = "iotlb_2m", 2 = "iotlb_1g") and field
 * (enum iommu_cache_cfg_field). */
static const char *const cfg_keys[NSIZES][3] = {
    {"iotlb.entries", "iotlb.ways", "iotlb.policy"},
    {"iotlb_2m.entries", "iotlb_2m.ways", "iotlb_2m.policy"},
    {"iotlb_1g.entries", "iotlb_1g.ways", "iotlb_1g.policy"},
};

static void fa_lru(struct iommu_cache_cfg *c, uint32_t entries)
{
    iommu_cache_cfg_default(c);
    c->entries = entries;
    c->ways = entries;
}

void iommu_iotlb_cfg_default(struct iommu_iotlb_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    fa_lru(&cfg->c4k, 64);
    cfg->split = false;
    fa_lru(&cfg->c2m, 32);
    fa_lru(&cfg->c1g, 4);
}

enum iommu_status iommu_iotlb_cfg_validate(const struct iommu_iotlb_cfg *cfg, const char **key,
                                           const char **why)
{
    const struct iommu_cache_cfg *cc[NSIZES] = {&cfg->c4k, &cfg->c2m, &cfg->c1g};
    const int n = cfg->split ? NSIZES : 1;
    for (int i = 0; i < n; i++) {
        enum iommu_cache_cfg_field f;
        const char *r;
        if (iommu_cache_cfg_check(cc[i], &f, &r) != IOMMU_OK) {
            if (key)
                *key = cfg_keys[i][f];
            if (why)
                *why = r;
            return IOMMU_ERR_INVAL;
        }
    }
    return IOMMU_OK;
}

void iommu_iotlb_destroy(iommu_iotlb_t *t)
{
    if (!t)
        return;
    iommu_cache_destroy(t->c[0]);
    if (t->split) {
        iommu_cache_destroy(t->c[1]);
        iommu_cache_destroy(t->c[2]);
    }
    free(t);
}

iommu_iotlb_t *iommu_iotlb_create(const struct iommu_iotlb_cfg *cfg)
{
    if (!cfg || iommu_iotlb_cfg_validate(cfg, NULL, NULL) != IOMMU_OK)
        return NULL;
    iommu_iotlb_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->split = cfg->split;
    const size_t psz = sizeof(struct iommu_iotlb_entry);
    t->c[0] = iommu_cache_create(&cfg->c4k, psz);
    if (t->split) {
        t->c[1] = iommu_cache_create(&cfg->c2m, psz);
        t->c[2] = iommu_cache_create(&cfg->c1g, psz);
    } else {
        t->c[1] = t->c[2] = t->c[0];
    }
    if (!t->c[0] || !t->c[1] || !t->c[2]) {
        iommu_iotlb_destroy(t);
        return NULL;
    }
    return t;
}

static inline uint64_t tag_hi(iommu_did_t did, iommu_pasid_t pasid, unsigned shift)
{
    return (uint64_t)pasid << 32 | (uint64_t)did << 8 | shift;
}

static inline iommu_did_t key_did(const struct iommu_cache_key *k)
{
    return (iommu_did_t)(k->hi >> 8);
}

static inline iommu_pasid_t key_pasid(const struct iommu_cache_key *k)
{
    return (iommu_pasid_t)(k->hi >> 32);
}

static inline unsigned key_shift(const struct iommu_cache_key *k)
{
    return (unsigned)(k->hi & 0xFFu);
}

/* Size index of a page shift, or -1. */
static inline int size_index(unsigned shift)
{
    switch (shift) {
    case IOMMU_PAGE_SHIFT_4K: return 0;
    case IOMMU_PAGE_SHIFT_2M: return 1;
    case IOMMU_PAGE_SHIFT_1G: return 2;
    }
    return -1;
}

void iommu_iotlb_key(iommu_did_t did, iommu_pasid_t pasid, uint64_t iova, unsigned page_shift,
                     struct iommu_cache_key *key, uint32_t *set)
{
    key->hi = tag_hi(did, pasid, page_shift);
    key->lo = iova >> page_shift;
    if (set)
        *set = (uint32_t)key->lo;
}

const struct iommu_iotlb_entry *iommu_iotlb_lookup(iommu_iotlb_t *t, iommu_did_t did,
                                                   iommu_pasid_t pasid, uint64_t iova)
{
    const uint64_t tag = (uint64_t)pasid << 32 | (uint64_t)did << 8;
    for (int i = 0; i < NSIZES; i++) {
        if (!t->count[i])
            continue;
        const struct iommu_cache_key k = {.hi = tag | size_shift[i], .lo = iova >> size_shift[i]};
        const void *p = iommu_cache_lookup(t->c[i], (uint32_t)k.lo, &k);
        if (p)
            return p;
    }
    return NULL;
}

const struct iommu_iotlb_entry *iommu_iotlb_probe(const iommu_iotlb_t *t, iommu_did_t did,
                                                  iommu_pasid_t pasid, uint64_t iova)
{
    const uint64_t tag = (uint64_t)pasid << 32 | (uint64_t)did << 8;
    for (int i = 0; i < NSIZES; i++) {
        if (!t->count[i])
            continue;
        const struct iommu_cache_key k = {.hi = tag | size_shift[i], .lo = iova >> size_shift[i]};
        const void *p = iommu_cache_probe(t->c[i], (uint32_t)k.lo, &k);
        if (p)
            return p;
    }
    return NULL;
}

void iommu_iotlb_insert(iommu_iotlb_t *t, iommu_did_t did, iommu_pasid_t pasid, uint64_t iova,
                        const struct iommu_iotlb_entry *e)
{
    const int i = size_index(e->page_shift);
    assert(i >= 0 && "IOTLB entries are 4 KB, 2 MB or 1 GB");
    if (i < 0)
        return;
    iommu_cache_t *c = t->c[i];
    const struct iommu_cache_key k = {.hi = tag_hi(did, pasid, e->page_shift),
                                      .lo = iova >> e->page_shift};
    const uint32_t before = iommu_cache_valid_count(c);
    bool evicted;
    struct iommu_cache_key victim;
    struct iommu_iotlb_entry *p = iommu_cache_insert_ex(c, (uint32_t)k.lo, &k, &evicted, &victim);
    if (!p)
        return; /* absent cache of that size: not cached */
    *p = *e;
    if (iommu_cache_valid_count(c) != before) {
        t->count[i]++; /* filled a free way */
    } else if (evicted) {
        t->count[i]++;
        t->count[size_index(key_shift(&victim))]--;
    } /* else: the same key was overwritten in place */
}

/* ---- invalidation ------------------------------------------------------------------- */

enum inv_kind { INV_ALL, INV_DID, INV_DID_RANGE, INV_DID_PASID, INV_DID_PASID_RANGE };

struct inv_ctx {
    enum inv_kind kind;
    iommu_did_t did;
    iommu_pasid_t pasid;
    uint64_t first, last;      /* inclusive address range (range kinds)            */
    uint32_t removed[NSIZES];  /* entries removed, by size (updated by the matcher) */
};

static bool inv_match(const struct iommu_cache_key *k, const void *payload, void *vctx)
{
    struct inv_ctx *x = vctx;
    switch (x->kind) {
    case INV_ALL:
        break;
    case INV_DID:
        if (key_did(k) != x->did)
            return false;
        break;
    case INV_DID_PASID:
        if (key_did(k) != x->did || key_pasid(k) != x->pasid)
            return false;
        break;
    case INV_DID_PASID_RANGE:
        if (key_pasid(k) != x->pasid)
            return false;
        /* fall through */
    case INV_DID_RANGE: {
        if (key_did(k) != x->did)
            return false;
        const unsigned s = key_shift(k);
        const uint64_t start = k->lo << s;
        const uint64_t end = start + ((1ull << s) - 1); /* inclusive; cannot wrap */
        if (start > x->last || end < x->first)
            return false;
        break;
    }
    }
    x->removed[size_index(key_shift(k))]++;
    return true;
}

/* Runs the invalidation over every distinct cache and updates the per-size counts. */
static uint32_t run_inv(iommu_iotlb_t *t, struct inv_ctx *x)
{
    uint32_t n = iommu_cache_invalidate(t->c[0], inv_match, x);
    if (t->split) {
        n += iommu_cache_invalidate(t->c[1], inv_match, x);
        n += iommu_cache_invalidate(t->c[2], inv_match, x);
    }
    for (int i = 0; i < NSIZES; i++)
        t->count[i] -= x->removed[i];
    return n;
}

/* Range invalidation: for each size with entries, the pages of that size overlapping the
 * range index consecutive sets; when there are fewer of them than sets, only those sets are
 * visited (the matcher still checks every entry it sees, of any size, so entries of other
 * sizes met on the way are handled exactly). Otherwise one scan of the whole cache. */
static uint32_t run_inv_range(iommu_iotlb_t *t, struct inv_ctx *x)
{
    bool scan = false;
    for (int i = 0; i < NSIZES && !scan; i++) {
        if (!t->count[i])
            continue;
        const uint64_t pages = (x->last >> size_shift[i]) - (x->first >> size_shift[i]);
        if (pages >= (uint64_t)iommu_cache_sets(t->c[i]) - 1)
            scan = true; /* the range touches every set: pages + 1 >= sets */
    }
    if (scan)
        return run_inv(t, x);
    uint32_t n = 0;
    for (int i = 0; i < NSIZES; i++) {
        if (!t->count[i])
            continue;
        for (uint64_t vpn = x->first >> size_shift[i]; vpn <= x->last >> size_shift[i]; vpn++)
            n += iommu_cache_invalidate_set(t->c[i], (uint32_t)vpn, inv_match, x);
    }
    for (int i = 0; i < NSIZES; i++)
        t->count[i] -= x->removed[i];
    return n;
}

uint32_t iommu_iotlb_inv_global(iommu_iotlb_t *t)
{
    struct inv_ctx x = {.kind = INV_ALL};
    return run_inv(t, &x);
}

uint32_t iommu_iotlb_inv_domain(iommu_iotlb_t *t, iommu_did_t did)
{
    struct inv_ctx x = {.kind = INV_DID, .did = did};
    return run_inv(t, &x);
}

/* [first, last] of a page-selective invalidation: VT-d ignores the low 12 + am bits of the
 * address, so the range is the naturally aligned 2^(12+am) block containing addr. */
static void am_range(uint64_t addr, unsigned am, uint64_t *first, uint64_t *last)
{
    const unsigned bits = 12u + am;
    if (bits >= 64) {
        *first = 0;
        *last = UINT64_MAX;
        return;
    }
    const uint64_t mask = (1ull << bits) - 1;
    *first = addr & ~mask;
    *last = *first | mask;
}

uint32_t iommu_iotlb_inv_page(iommu_iotlb_t *t, iommu_did_t did, uint64_t addr, unsigned am)
{
    struct inv_ctx x = {.kind = INV_DID_RANGE, .did = did};
    am_range(addr, am, &x.first, &x.last);
    return run_inv_range(t, &x);
}

uint32_t iommu_iotlb_inv_pasid(iommu_iotlb_t *t, iommu_did_t did, iommu_pasid_t pasid)
{
    struct inv_ctx x = {.kind = INV_DID_PASID, .did = did, .pasid = pasid};
    return run_inv(t, &x);
}

uint32_t iommu_iotlb_inv_pasid_page(iommu_iotlb_t *t, iommu_did_t did, iommu_pasid_t pasid,
                                    uint64_t addr, unsigned am)
{
    struct inv_ctx x = {.kind = INV_DID_PASID_RANGE, .did = did, .pasid = pasid};
    am_range(addr, am, &x.first, &x.last);
    return run_inv_range(t, &x);
}

uint32_t iommu_iotlb_valid_count(const iommu_iotlb_t *t)
{
    return t->count[0] + t->count[1] + t->count[2];
}

uint32_t iommu_iotlb_valid_count_size(const iommu_iotlb_t *t, unsigned page_shift)
{
    const int i = size_index(page_shift);
    return i < 0 ? 0 : t->count[i];
}
