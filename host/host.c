/*
 * host.c — the host side that writes VT-d translation tables into simulated memory, the way
 * an OS IOMMU driver does: root table, context tables (legacy 9.3 or scalable 9.4 with
 * PASID directories 9.5 and PASID tables 9.6) and per-domain page tables (second-level 9.8,
 * first-level 9.7), all through model/walker/formats.h so every bit is the specification's.
 *
 * Workload assumptions: tens to thousands of devices and domains, maps of up to a few GB at
 * a time; the host is off the translation hot path, so clarity wins over speed (domains are
 * found through a 64 K-entry index, devices/attachments are short arrays).
 *
 * Memory: table frames come from a bump allocator over [table_base, table_base+table_size)
 * and are never freed (unmap clears leaf entries only; emptied tables stay linked). The
 * region is assumed zero and reserved for tables (nobody else writes there). Nested
 * domains keep their first-level tables at guest-physical addresses taken from a per-domain
 * bump pointer starting at guest_table_base; each such frame is also mapped GPA -> HPA
 * (4 KB, R/W) in the domain's second level so the walk can reach it. A GPA already mapped
 * by the caller is skipped.
 *
 * Entry choices (what Linux's driver also does, broadly): non-leaf entries grant everything
 * (SL R/W/X; FL P, R/W, U/S) so leaves decide; SL leaves carry R/W/X from the map's perm;
 * FL leaves carry R/W = W, U/S = !PRIV, XD = !X (a present FL page is always readable, so a
 * write-only map is readable too). Scalable-mode PASID entries set SRE = 1, NXE = 1 and
 * SLEE = 1 where the stage exists, ERE = 0; context entries set PASIDE = 1, PDTS = 7
 * (2^14-entry PASID directory = 128 KB, every 20-bit PASID) and RID_PASID = 0. Legacy
 * pass-through uses TT = 2 with AW of the configured levels.
 *
 * Failure atomicity: map/unmap check the whole range first, so OVERLAP/ALIGN/INVAL/NOTFOUND
 * change nothing; running out of table frames (NOMEM) mid-map can leave a partial mapping.
 */
#include "host.h"

#include <stdlib.h>
#include <string.h>

#include "../model/walker/formats.h"

#define FRAME 4096ull
#define DID_COUNT 65536u

struct domain {
    iommu_did_t did;
    uint8_t mode;         /* enum iommu_xlat_mode                                     */
    uint64_t sl_root;     /* HPA of the second-level root (SL, nested), else 0        */
    uint64_t fl_root;     /* first-level root: HPA (FL) or GPA (nested), else 0       */
    uint64_t guest_next;  /* nested: next candidate GPA for a first-level table frame */
};

struct attachment {
    iommu_sid_t sid;
    iommu_pasid_t pasid; /* as given (IOMMU_PASID_NONE allowed) */
    iommu_did_t did;
};

/* One programmed context (legacy) or PASID-table entry (scalable), shared by aliases. */
struct ctxref {
    iommu_sid_t rid;     /* requester id the IOMMU sees                       */
    uint32_t pasid;      /* effective PASID (scalable) or IOMMU_PASID_NONE     */
    iommu_did_t did;
    uint32_t refs;       /* attachments using it; the entry is cleared at 0    */
};

struct iommu_host {
    struct iommu_host_cfg cfg;
    iommu_physmem_t *mem;
    uint64_t next_frame; /* bump pointer, FRAME aligned, <= table_end          */
    uint64_t table_end;
    uint64_t rtaddr;
    struct domain *doms;
    size_t ndoms, cap_doms;
    int32_t *dom_index;  /* did -> index into doms, -1 when absent             */
    uint8_t *ats;        /* [65536]: requester id uses ATS (context TT = 01b)   */
    struct attachment *att;
    size_t natt, cap_att;
    struct ctxref *refs;
    size_t nrefs, cap_refs;
    uint32_t *alias;     /* sid -> alias + 1, 0 when none (65536 entries)       */
};

/* A page-table stage of a domain as the host walks it. */
struct stage {
    uint8_t format;   /* enum iommu_pt_format                                  */
    uint8_t levels;
    uint64_t root;    /* table root: HPA, or GPA when guest                     */
    bool guest;       /* table addresses are GPAs translated by dom's SL        */
    const struct domain *dom;
    uint8_t sl_levels;
};

/* ---- config ---------------------------------------------------------------------------- */

void iommu_host_cfg_default(struct iommu_host_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->scalable = false;
    cfg->sl_levels = 4;                       /* 48-bit AGAW, what Linux uses by default */
    cfg->fl_levels = 4;                       /* 4-level IA-32e paging                   */
    cfg->haw = 46;                            /* Xeon server parts: 46-bit physical      */
    cfg->table_base = 0x0000000800000000ull;  /* 32 GiB                                  */
    cfg->table_size = 0x0000000400000000ull;  /* 16 GiB: [32 GiB, 48 GiB)                */
    cfg->guest_table_base = 0x0000004000000000ull; /* GPA 256 GiB (fits a 39-bit SL too) */
}

static bool set_err(const char **key, const char **why, const char *k, const char *w)
{
    if (key)
        *key = k;
    if (why)
        *why = w;
    return false;
}

enum iommu_status iommu_host_cfg_validate(const struct iommu_host_cfg *cfg, const char **key,
                                          const char **why)
{
    bool ok = true;
    if (cfg->sl_levels < 3 || cfg->sl_levels > 5)
        ok = set_err(key, why, "host.sl_levels", "must be 3, 4 or 5");
    else if (cfg->fl_levels < 4 || cfg->fl_levels > 5)
        ok = set_err(key, why, "host.fl_levels", "must be 4 or 5");
    else if (cfg->haw < 32 || cfg->haw > IOMMU_VTD_MAX_HAW)
        ok = set_err(key, why, "host.haw", "must be between 32 and 52");
    else if (cfg->table_base % FRAME)
        ok = set_err(key, why, "host.table_base", "must be 4 KB aligned");
    else if (cfg->table_base >= (1ull << cfg->haw))
        ok = set_err(key, why, "host.table_base", "must be below 2^haw");
    else if (cfg->table_size % FRAME || cfg->table_size < 64 * 1024)
        ok = set_err(key, why, "host.table_size", "must be a multiple of 4 KB and >= 64 KB");
    else if (cfg->table_size > (1ull << cfg->haw) - cfg->table_base)
        ok = set_err(key, why, "host.table_size", "table region must end below 2^haw");
    else if (cfg->table_base <= IOMMU_IRQ_RANGE_LAST &&
             cfg->table_base + cfg->table_size > IOMMU_IRQ_RANGE_BASE)
        ok = set_err(key, why, "host.table_base",
                     "table region overlaps the interrupt range 0xFEE00000-0xFEEFFFFF");
    else if (cfg->guest_table_base % FRAME)
        ok = set_err(key, why, "host.guest_table_base", "must be 4 KB aligned");
    else if (cfg->guest_table_base >= (1ull << (12 + 9 * cfg->sl_levels)) - FRAME)
        ok = set_err(key, why, "host.guest_table_base",
                     "must lie inside the second level's address width");
    return ok ? IOMMU_OK : IOMMU_ERR_INVAL;
}

/* ---- small helpers --------------------------------------------------------------------- */

static bool grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    const size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

static inline uint64_t rd(const iommu_host_t *h, uint64_t pa)
{
    return iommu_physmem_read64(h->mem, pa);
}

static inline bool wr(iommu_host_t *h, uint64_t pa, uint64_t v)
{
    return iommu_physmem_write64(h->mem, pa, v) == IOMMU_OK;
}

static bool wr_words(iommu_host_t *h, uint64_t pa, const uint64_t *w, unsigned n)
{
    /* Highest word first, word 0 (with the present bit) last, as a driver orders it. */
    for (unsigned i = n; i-- > 0;)
        if (!wr(h, pa + 8ull * i, w[i]))
            return false;
    return true;
}

static void rd_words(const iommu_host_t *h, uint64_t pa, uint64_t *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        w[i] = rd(h, pa + 8ull * i);
}

/* One zeroed table frame from the bump allocator; 0 when exhausted. */
static uint64_t alloc_frames(iommu_host_t *h, uint64_t n)
{
    if (n > (h->table_end - h->next_frame) / FRAME)
        return 0;
    const uint64_t pa = h->next_frame;
    h->next_frame += n * FRAME;
    return pa;
}

static struct domain *find_domain(const iommu_host_t *h, iommu_did_t did)
{
    const int32_t i = h->dom_index[did];
    return i < 0 ? NULL : &h->doms[i];
}

static inline unsigned width_of(unsigned levels)
{
    return 12u + 9u * levels;
}

static inline bool pte_present(uint8_t format, uint64_t v)
{
    return format == IOMMU_PT_SECOND_LEVEL ? (v & (IOMMU_SL_R | IOMMU_SL_W)) != 0
                                           : (v & IOMMU_FL_P) != 0;
}

static uint64_t table_entry(uint8_t format, unsigned level, uint64_t next)
{
    uint64_t v;
    if (format == IOMMU_PT_SECOND_LEVEL) {
        const struct iommu_vtd_sl_pte e = {.r = true, .w = true, .x = true, .addr = next};
        iommu_vtd_sl_pte_encode(&e, level, &v);
    } else {
        const struct iommu_vtd_fl_pte e = {.p = true, .rw = true, .us = true, .addr = next};
        iommu_vtd_fl_pte_encode(&e, level, &v);
    }
    return v;
}

static uint64_t leaf_entry(uint8_t format, unsigned level, uint64_t pa, iommu_perm_t perm)
{
    uint64_t v;
    if (format == IOMMU_PT_SECOND_LEVEL) {
        const struct iommu_vtd_sl_pte e = {.r = (perm & IOMMU_ACC_R) != 0,
                                           .w = (perm & IOMMU_ACC_W) != 0,
                                           .x = (perm & IOMMU_ACC_X) != 0,
                                           .ps = level > 1,
                                           .addr = pa};
        iommu_vtd_sl_pte_encode(&e, level, &v);
    } else {
        const struct iommu_vtd_fl_pte e = {.p = true,
                                           .rw = (perm & IOMMU_ACC_W) != 0,
                                           .us = !(perm & IOMMU_ACC_PRIV),
                                           .xd = !(perm & IOMMU_ACC_X),
                                           .ps = level > 1,
                                           .addr = pa};
        iommu_vtd_fl_pte_encode(&e, level, &v);
    }
    return v;
}

/* Address field of an entry (next table, or page base of a leaf at `level`). */
static uint64_t entry_addr(uint64_t v, unsigned level)
{
    const unsigned shift = iommu_vtd_pte_is_leaf(v, level) ? iommu_vtd_leaf_shift(level) : 12u;
    return v & IOMMU_VTD_ADDR_MASK & ~((1ull << shift) - 1);
}

static struct stage sl_stage(const iommu_host_t *h, const struct domain *d)
{
    const struct stage s = {.format = IOMMU_PT_SECOND_LEVEL, .levels = h->cfg.sl_levels,
                            .root = d->sl_root, .guest = false, .dom = d,
                            .sl_levels = h->cfg.sl_levels};
    return s;
}

static struct stage fl_stage(const iommu_host_t *h, const struct domain *d)
{
    const struct stage s = {.format = IOMMU_PT_FIRST_LEVEL, .levels = h->cfg.fl_levels,
                            .root = d->fl_root, .guest = d->mode == IOMMU_MODE_NESTED,
                            .dom = d, .sl_levels = h->cfg.sl_levels};
    return s;
}

/* Result of descending a stage for one address. */
struct probe {
    unsigned level;  /* level of the last entry read                          */
    uint64_t epa;    /* its host-physical address                             */
    uint64_t v;      /* its value                                             */
    bool found;      /* the descent read an entry (false: table unreachable)  */
};

static bool table_hpa(const iommu_host_t *h, const struct stage *s, uint64_t addr, uint64_t *hpa);

/* Descends s for addr down to stop_level, stopping early at a not-present entry or a leaf. */
static struct probe descend(const iommu_host_t *h, const struct stage *s, uint64_t addr,
                            unsigned stop_level)
{
    struct probe pr = {0};
    uint64_t table;
    if (!table_hpa(h, s, s->root, &table))
        return pr;
    for (unsigned level = s->levels;; level--) {
        pr.level = level;
        pr.epa = table + 8ull * iommu_vtd_pt_index(addr, level);
        pr.v = rd(h, pr.epa);
        pr.found = true;
        if (level <= stop_level || !pte_present(s->format, pr.v) ||
            iommu_vtd_pte_is_leaf(pr.v, level))
            return pr;
        if (!table_hpa(h, s, entry_addr(pr.v, level), &table)) {
            pr.found = false;
            return pr;
        }
    }
}

/* HPA of a table address of stage s (identity unless the stage's tables are guest-physical). */
static bool table_hpa(const iommu_host_t *h, const struct stage *s, uint64_t addr, uint64_t *hpa)
{
    if (!s->guest) {
        *hpa = addr;
        return true;
    }
    const struct stage sl = sl_stage(h, s->dom);
    const struct probe pr = descend(h, &sl, addr, 1);
    if (!pr.found || !pte_present(sl.format, pr.v))
        return false;
    const unsigned shift = iommu_vtd_leaf_shift(pr.level);
    *hpa = entry_addr(pr.v, pr.level) | (addr & ((1ull << shift) - 1));
    return true;
}

/* ---- table allocation --------------------------------------------------------------- */

static enum iommu_status map_page(iommu_host_t *h, const struct stage *s, uint64_t iova,
                                  uint64_t pa, unsigned leaf_level, iommu_perm_t perm);

/* A new table frame for stage s: *addr is what the parent entry holds (GPA when guest),
 * *hpa where the host writes it. */
static enum iommu_status alloc_table(iommu_host_t *h, const struct stage *s, uint64_t *addr,
                                     uint64_t *hpa)
{
    const uint64_t frame = alloc_frames(h, 1);
    if (!frame)
        return IOMMU_ERR_NOMEM;
    *hpa = frame;
    if (!s->guest) {
        *addr = frame;
        return IOMMU_OK;
    }
    struct domain *d = find_domain(h, s->dom->did);
    const struct stage sl = sl_stage(h, d);
    const uint64_t limit = 1ull << width_of(sl.levels);
    for (;;) {
        if (d->guest_next > limit - FRAME)
            return IOMMU_ERR_NOMEM;
        const uint64_t gpa = d->guest_next;
        d->guest_next += FRAME;
        const struct probe pr = descend(h, &sl, gpa, 1);
        if (pr.found && pte_present(sl.format, pr.v))
            continue; /* the caller mapped this GPA: skip it */
        const enum iommu_status st =
            map_page(h, &sl, gpa, frame, 1, IOMMU_ACC_R | IOMMU_ACC_W);
        if (st == IOMMU_ERR_OVERLAP)
            continue;
        if (st != IOMMU_OK)
            return st;
        *addr = gpa;
        return IOMMU_OK;
    }
}

/* True when no present leaf is reachable below `table_addr` (a table of `level`). */
static bool subtree_empty(const iommu_host_t *h, const struct stage *s, uint64_t table_addr,
                          unsigned level)
{
    uint64_t table;
    if (!table_hpa(h, s, table_addr, &table))
        return true;
    for (unsigned i = 0; i < 512; i++) {
        const uint64_t v = rd(h, table + 8ull * i);
        if (!pte_present(s->format, v))
            continue;
        if (level == 1 || iommu_vtd_pte_is_leaf(v, level))
            return false;
        if (!subtree_empty(h, s, entry_addr(v, level), level - 1))
            return false;
    }
    return true;
}

/* True when a leaf at leaf_level for iova would not overlap an existing mapping. */
static bool page_free(const iommu_host_t *h, const struct stage *s, uint64_t iova,
                      unsigned leaf_level)
{
    const struct probe pr = descend(h, s, iova, leaf_level);
    if (!pr.found || !pte_present(s->format, pr.v))
        return true;
    if (iommu_vtd_pte_is_leaf(pr.v, pr.level))
        return false;
    /* A table where the leaf goes: free when nothing below it is mapped any more. */
    return pr.level == leaf_level && subtree_empty(h, s, entry_addr(pr.v, pr.level), pr.level - 1);
}

/* Writes one leaf, allocating tables on the way (the range was checked free). */
static enum iommu_status map_page(iommu_host_t *h, const struct stage *s, uint64_t iova,
                                  uint64_t pa, unsigned leaf_level, iommu_perm_t perm)
{
    uint64_t table;
    if (!table_hpa(h, s, s->root, &table))
        return IOMMU_ERR_NOTFOUND;
    for (unsigned level = s->levels; level > leaf_level; level--) {
        const uint64_t epa = table + 8ull * iommu_vtd_pt_index(iova, level);
        const uint64_t v = rd(h, epa);
        if (pte_present(s->format, v)) {
            if (iommu_vtd_pte_is_leaf(v, level))
                return IOMMU_ERR_OVERLAP;
            if (!table_hpa(h, s, entry_addr(v, level), &table))
                return IOMMU_ERR_NOTFOUND;
            continue;
        }
        uint64_t addr, hpa;
        const enum iommu_status st = alloc_table(h, s, &addr, &hpa);
        if (st != IOMMU_OK)
            return st;
        if (!wr(h, epa, table_entry(s->format, level, addr)))
            return IOMMU_ERR_NOMEM;
        table = hpa;
    }
    const uint64_t epa = table + 8ull * iommu_vtd_pt_index(iova, leaf_level);
    if (!wr(h, epa, leaf_entry(s->format, leaf_level, pa, perm)))
        return IOMMU_ERR_NOMEM;
    return IOMMU_OK;
}

/* ---- create / destroy ---------------------------------------------------------------- */

iommu_host_t *iommu_host_create(const struct iommu_host_cfg *cfg, iommu_physmem_t *mem)
{
    if (!cfg || !mem || iommu_host_cfg_validate(cfg, NULL, NULL) != IOMMU_OK)
        return NULL;
    iommu_host_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->cfg = *cfg;
    h->mem = mem;
    h->next_frame = cfg->table_base;
    h->table_end = cfg->table_base + cfg->table_size;
    h->dom_index = malloc(DID_COUNT * sizeof *h->dom_index);
    h->alias = calloc(DID_COUNT, sizeof *h->alias);
    h->ats = calloc(DID_COUNT, 1);
    if (!h->dom_index || !h->alias || !h->ats) {
        iommu_host_destroy(h);
        return NULL;
    }
    for (unsigned i = 0; i < DID_COUNT; i++)
        h->dom_index[i] = -1;
    h->rtaddr = alloc_frames(h, 1); /* the root table: 256 x 16 B */
    return h;
}

void iommu_host_destroy(iommu_host_t *h)
{
    if (!h)
        return;
    free(h->doms);
    free(h->dom_index);
    free(h->att);
    free(h->refs);
    free(h->alias);
    free(h->ats);
    free(h);
}

uint64_t iommu_host_rtaddr(const iommu_host_t *h)
{
    return h->rtaddr;
}

uint64_t iommu_host_table_bytes(const iommu_host_t *h)
{
    return h->next_frame - h->cfg.table_base;
}

/* ---- domains -------------------------------------------------------------------------- */

enum iommu_status iommu_host_domain_create(iommu_host_t *h, iommu_did_t did, uint8_t mode)
{
    if (mode > IOMMU_MODE_PT)
        return IOMMU_ERR_INVAL;
    if (!h->cfg.scalable && (mode == IOMMU_MODE_FL || mode == IOMMU_MODE_NESTED))
        return IOMMU_ERR_UNSUPP;
    if (find_domain(h, did))
        return IOMMU_ERR_EXISTS;
    if (!grow((void **)&h->doms, &h->cap_doms, h->ndoms, sizeof *h->doms))
        return IOMMU_ERR_NOMEM;
    struct domain *d = &h->doms[h->ndoms];
    memset(d, 0, sizeof *d);
    d->did = did;
    d->mode = mode;
    d->guest_next = h->cfg.guest_table_base;
    if (mode == IOMMU_MODE_SL || mode == IOMMU_MODE_NESTED) {
        if (!(d->sl_root = alloc_frames(h, 1)))
            return IOMMU_ERR_NOMEM;
    }
    if (mode == IOMMU_MODE_FL) {
        if (!(d->fl_root = alloc_frames(h, 1)))
            return IOMMU_ERR_NOMEM;
    }
    h->dom_index[did] = (int32_t)h->ndoms;
    h->ndoms++;
    if (mode == IOMMU_MODE_NESTED) {
        const struct stage fl = fl_stage(h, d);
        uint64_t gpa, hpa;
        const enum iommu_status st = alloc_table(h, &fl, &gpa, &hpa);
        if (st != IOMMU_OK) {
            h->ndoms--;
            h->dom_index[did] = -1;
            return st;
        }
        h->doms[h->ndoms - 1].fl_root = gpa;
    }
    return IOMMU_OK;
}

/* ---- attach / detach --------------------------------------------------------------------- */

iommu_sid_t iommu_host_requester_id(const iommu_host_t *h, iommu_sid_t sid)
{
    const uint32_t a = h->alias[sid];
    return a ? (iommu_sid_t)(a - 1) : sid;
}

static struct attachment *find_attachment(const iommu_host_t *h, iommu_sid_t sid,
                                          iommu_pasid_t pasid)
{
    for (size_t i = 0; i < h->natt; i++)
        if (h->att[i].sid == sid && h->att[i].pasid == pasid)
            return &h->att[i];
    return NULL;
}

static struct ctxref *find_ref(const iommu_host_t *h, iommu_sid_t rid, uint32_t pasid)
{
    for (size_t i = 0; i < h->nrefs; i++)
        if (h->refs[i].rid == rid && h->refs[i].pasid == pasid)
            return &h->refs[i];
    return NULL;
}

enum iommu_status iommu_host_set_alias(iommu_host_t *h, iommu_sid_t sid, iommu_sid_t alias)
{
    for (size_t i = 0; i < h->natt; i++)
        if (h->att[i].sid == sid)
            return IOMMU_ERR_INVAL;
    h->alias[sid] = alias == sid ? 0 : (uint32_t)alias + 1;
    return IOMMU_OK;
}

/* Legacy: makes sure bus has a context table; returns the context entry's address. */
static enum iommu_status legacy_ctx_addr(iommu_host_t *h, iommu_sid_t rid, uint64_t *ce)
{
    const uint64_t re = h->rtaddr + 16ull * IOMMU_SID_BUS(rid);
    uint64_t w[2];
    rd_words(h, re, w, 2);
    struct iommu_vtd_root r;
    iommu_vtd_root_decode(w, &r);
    if (!r.p) {
        r.p = true;
        if (!(r.ctp = alloc_frames(h, 1)))
            return IOMMU_ERR_NOMEM;
        iommu_vtd_root_encode(&r, w);
        if (!wr_words(h, re, w, 2))
            return IOMMU_ERR_NOMEM;
    }
    *ce = r.ctp + 16ull * IOMMU_SID_DEVFN(rid);
    return IOMMU_OK;
}

/* Scalable: root half, context entry and PASID directory entry for (rid, pasid); returns
 * the PASID-table entry's address. */
static enum iommu_status sm_pasid_entry_addr(iommu_host_t *h, iommu_sid_t rid, uint32_t pasid,
                                             uint64_t *pe)
{
    const uint8_t devfn = IOMMU_SID_DEVFN(rid);
    const uint64_t re = h->rtaddr + 16ull * IOMMU_SID_BUS(rid);
    uint64_t w[4];
    rd_words(h, re, w, 2);
    struct iommu_vtd_sm_root r;
    iommu_vtd_sm_root_decode(w, &r);
    bool *present = devfn >= 128 ? &r.up : &r.lp;
    uint64_t *ctp = devfn >= 128 ? &r.uctp : &r.lctp;
    if (!*present) {
        if (!(*ctp = alloc_frames(h, 1)))
            return IOMMU_ERR_NOMEM;
        *present = true;
        iommu_vtd_sm_root_encode(&r, w);
        if (!wr_words(h, re, w, 2))
            return IOMMU_ERR_NOMEM;
    }
    const uint64_t ce = *ctp + 32ull * (devfn & 127u);
    rd_words(h, ce, w, 4);
    struct iommu_vtd_sm_ctx c;
    iommu_vtd_sm_ctx_decode(w, &c);
    if (!c.p) {
        memset(&c, 0, sizeof c);
        c.p = true;
        c.paside = true;
        c.pdts = 7; /* 2^14 directory entries x 8 B = 32 frames: every 20-bit PASID */
        c.rid_pasid = 0;
        if (!(c.pasid_dir = alloc_frames(h, 32)))
            return IOMMU_ERR_NOMEM;
        iommu_vtd_sm_ctx_encode(&c, w);
        if (!wr_words(h, ce, w, 4))
            return IOMMU_ERR_NOMEM;
    }
    const uint64_t de = c.pasid_dir + 8ull * (pasid >> 6);
    rd_words(h, de, w, 1);
    struct iommu_vtd_pasid_dir d;
    iommu_vtd_pasid_dir_decode(w, &d);
    if (!d.p) {
        d.p = true;
        d.fpd = false;
        if (!(d.pasid_table = alloc_frames(h, 1)))
            return IOMMU_ERR_NOMEM;
        iommu_vtd_pasid_dir_encode(&d, w);
        if (!wr_words(h, de, w, 1))
            return IOMMU_ERR_NOMEM;
    }
    *pe = d.pasid_table + 64ull * (pasid & 63u);
    return IOMMU_OK;
}

static enum iommu_status write_context(iommu_host_t *h, iommu_sid_t rid, uint32_t pasid,
                                       const struct domain *d)
{
    if (!h->cfg.scalable) {
        uint64_t ce;
        enum iommu_status st = legacy_ctx_addr(h, rid, &ce);
        if (st != IOMMU_OK)
            return st;
        const struct iommu_vtd_ctx c = {
            .p = true,
            .tt = d->mode == IOMMU_MODE_PT ? IOMMU_VTD_TT_PASSTHROUGH
                  : h->ats[rid]            ? IOMMU_VTD_TT_DEV_TLB
                                           : IOMMU_VTD_TT_UNTRANSLATED,
            .slptptr = d->sl_root,
            .aw = (uint8_t)(h->cfg.sl_levels - 2),
            .did = d->did,
        };
        uint64_t w[2];
        iommu_vtd_ctx_encode(&c, w);
        return wr_words(h, ce, w, 2) ? IOMMU_OK : IOMMU_ERR_NOMEM;
    }
    uint64_t pe;
    enum iommu_status st = sm_pasid_entry_addr(h, rid, pasid, &pe);
    if (st != IOMMU_OK)
        return st;
    struct iommu_vtd_pasid_entry e = {0};
    e.p = true;
    e.did = d->did;
    e.aw = (uint8_t)(h->cfg.sl_levels - 2);
    e.sre = true;
    switch (d->mode) {
    case IOMMU_MODE_SL:
        e.pgtt = IOMMU_VTD_PGTT_SL;
        e.slptptr = d->sl_root;
        e.slee = true;
        break;
    case IOMMU_MODE_FL:
        e.pgtt = IOMMU_VTD_PGTT_FL;
        e.flptptr = d->fl_root;
        e.flpm = h->cfg.fl_levels == 5;
        e.nxe = true;
        break;
    case IOMMU_MODE_NESTED:
        e.pgtt = IOMMU_VTD_PGTT_NESTED;
        e.slptptr = d->sl_root;
        e.slee = true;
        e.flptptr = d->fl_root;
        e.flpm = h->cfg.fl_levels == 5;
        e.nxe = true;
        break;
    default:
        e.pgtt = IOMMU_VTD_PGTT_PT;
        break;
    }
    uint64_t w[8];
    iommu_vtd_pasid_entry_encode(&e, w);
    return wr_words(h, pe, w, 8) ? IOMMU_OK : IOMMU_ERR_NOMEM;
}

enum iommu_status iommu_host_attach(iommu_host_t *h, iommu_sid_t sid, iommu_pasid_t pasid,
                                    iommu_did_t did, uint8_t mode)
{
    if (mode > IOMMU_MODE_PT)
        return IOMMU_ERR_INVAL;
    if (!h->cfg.scalable && (mode == IOMMU_MODE_FL || mode == IOMMU_MODE_NESTED))
        return IOMMU_ERR_UNSUPP;
    if (!h->cfg.scalable && pasid != IOMMU_PASID_NONE)
        return IOMMU_ERR_UNSUPP;
    if (pasid != IOMMU_PASID_NONE && pasid > IOMMU_PASID_MAX)
        return IOMMU_ERR_INVAL;
    if (find_attachment(h, sid, pasid))
        return IOMMU_ERR_EXISTS;
    struct domain *d = find_domain(h, did);
    if (d && d->mode != mode)
        return IOMMU_ERR_INVAL;
    const iommu_sid_t rid = iommu_host_requester_id(h, sid);
    /* Scalable requests without PASID use RID_PASID (written as 0). */
    const uint32_t eff = !h->cfg.scalable ? IOMMU_PASID_NONE
                                          : (pasid == IOMMU_PASID_NONE ? 0u : pasid);
    struct ctxref *ref = find_ref(h, rid, eff);
    if (ref && ref->did != did)
        return IOMMU_ERR_EXISTS; /* an alias of this device is attached to another domain */
    if (!grow((void **)&h->att, &h->cap_att, h->natt, sizeof *h->att) ||
        !grow((void **)&h->refs, &h->cap_refs, h->nrefs, sizeof *h->refs))
        return IOMMU_ERR_NOMEM;
    if (!d) {
        const enum iommu_status st = iommu_host_domain_create(h, did, mode);
        if (st != IOMMU_OK)
            return st;
        d = find_domain(h, did);
    }
    if (ref) {
        ref->refs++;
    } else {
        const enum iommu_status st = write_context(h, rid, eff, d);
        if (st != IOMMU_OK)
            return st;
        h->refs[h->nrefs++] = (struct ctxref){.rid = rid, .pasid = eff, .did = did, .refs = 1};
    }
    h->att[h->natt++] = (struct attachment){.sid = sid, .pasid = pasid, .did = did};
    return IOMMU_OK;
}

enum iommu_status iommu_host_detach(iommu_host_t *h, iommu_sid_t sid, iommu_pasid_t pasid)
{
    struct attachment *a = find_attachment(h, sid, pasid);
    if (!a)
        return IOMMU_ERR_NOTFOUND;
    const iommu_sid_t rid = iommu_host_requester_id(h, sid);
    const uint32_t eff = !h->cfg.scalable ? IOMMU_PASID_NONE
                                          : (pasid == IOMMU_PASID_NONE ? 0u : pasid);
    struct ctxref *ref = find_ref(h, rid, eff);
    *a = h->att[--h->natt];
    if (!ref || --ref->refs > 0)
        return IOMMU_OK;
    *ref = h->refs[--h->nrefs];
    const uint64_t zero[8] = {0};
    if (!h->cfg.scalable) {
        uint64_t ce;
        const enum iommu_status st = legacy_ctx_addr(h, rid, &ce);
        if (st != IOMMU_OK)
            return st;
        return wr_words(h, ce, zero, 2) ? IOMMU_OK : IOMMU_ERR_NOMEM;
    }
    uint64_t pe;
    const enum iommu_status st = sm_pasid_entry_addr(h, rid, eff, &pe);
    if (st != IOMMU_OK)
        return st;
    /* Clear word 0 (P) first, then the rest. */
    for (unsigned i = 0; i < 8; i++)
        if (!wr(h, pe + 8ull * i, 0))
            return IOMMU_ERR_NOMEM;
    return IOMMU_OK;
}

/* ---- map / unmap ------------------------------------------------------------------------ */

/* The stage a map/unmap/translate addresses. */
static enum iommu_status pick_stage(const iommu_host_t *h, const struct domain *d,
                                    unsigned stage, struct stage *s)
{
    switch (d->mode) {
    case IOMMU_MODE_SL:
        if (stage == 1)
            return IOMMU_ERR_INVAL;
        *s = sl_stage(h, d);
        return IOMMU_OK;
    case IOMMU_MODE_FL:
        if (stage == 2)
            return IOMMU_ERR_INVAL;
        *s = fl_stage(h, d);
        return IOMMU_OK;
    case IOMMU_MODE_NESTED:
        if (stage == 1)
            *s = fl_stage(h, d);
        else if (stage == 2)
            *s = sl_stage(h, d);
        else
            return IOMMU_ERR_INVAL;
        return IOMMU_OK;
    default:
        return IOMMU_ERR_INVAL; /* pass-through has no tables */
    }
}

/* Input addresses a stage can map: SL 2^width; FL the lower canonical half, 2^(width-1). */
static uint64_t input_limit(const struct stage *s)
{
    const unsigned w = width_of(s->levels);
    return s->format == IOMMU_PT_SECOND_LEVEL ? 1ull << w : 1ull << (w - 1);
}

/* Output addresses: HPA below 2^haw, or a GPA inside the second level (nested stage 1). */
static uint64_t output_limit(const iommu_host_t *h, const struct stage *s)
{
    if (s->format == IOMMU_PT_FIRST_LEVEL && s->guest)
        return 1ull << width_of(s->sl_levels);
    return 1ull << h->cfg.haw;
}

static bool range_ok(uint64_t base, uint64_t len, uint64_t limit)
{
    return base < limit && len <= limit - base;
}

static enum iommu_status map_stage(iommu_host_t *h, const struct stage *s, uint64_t iova,
                                   uint64_t pa, uint64_t len, iommu_perm_t perm,
                                   unsigned page_shift)
{
    const uint64_t page = 1ull << page_shift;
    const unsigned leaf_level = (page_shift - 12u) / 9u + 1u;
    for (uint64_t off = 0; off < len; off += page)
        if (!page_free(h, s, iova + off, leaf_level))
            return IOMMU_ERR_OVERLAP;
    for (uint64_t off = 0; off < len; off += page) {
        const enum iommu_status st = map_page(h, s, iova + off, pa + off, leaf_level, perm);
        if (st != IOMMU_OK)
            return st;
    }
    return IOMMU_OK;
}

static enum iommu_status map_check(const iommu_host_t *h, const struct stage *s, uint64_t iova,
                                   uint64_t pa, uint64_t len, iommu_perm_t perm,
                                   unsigned page_shift)
{
    if (page_shift != IOMMU_PAGE_SHIFT_4K && page_shift != IOMMU_PAGE_SHIFT_2M &&
        page_shift != IOMMU_PAGE_SHIFT_1G)
        return IOMMU_ERR_INVAL;
    if (len == 0 || !(perm & (IOMMU_ACC_R | IOMMU_ACC_W)))
        return IOMMU_ERR_INVAL;
    const uint64_t m = (1ull << page_shift) - 1;
    if ((iova & m) || (pa & m) || (len & m))
        return IOMMU_ERR_ALIGN;
    if (!range_ok(iova, len, input_limit(s)) || !range_ok(pa, len, output_limit(h, s)))
        return IOMMU_ERR_INVAL;
    return IOMMU_OK;
}

enum iommu_status iommu_host_map(iommu_host_t *h, iommu_did_t did, uint64_t iova, uint64_t pa,
                                 uint64_t len, iommu_perm_t perm, unsigned page_shift,
                                 unsigned stage)
{
    const struct domain *d = find_domain(h, did);
    if (!d)
        return IOMMU_ERR_NOTFOUND;
    if (stage > 2)
        return IOMMU_ERR_INVAL;
    struct stage s;
    enum iommu_status st = pick_stage(h, d, stage, &s);
    if (st != IOMMU_OK)
        return st;
    st = map_check(h, &s, iova, pa, len, perm, page_shift);
    if (st != IOMMU_OK)
        return st;
    return map_stage(h, &s, iova, pa, len, perm, page_shift);
}

enum iommu_status iommu_host_map_identity(iommu_host_t *h, iommu_did_t did, uint64_t base,
                                          uint64_t len)
{
    const struct domain *d = find_domain(h, did);
    if (!d)
        return IOMMU_ERR_NOTFOUND;
    const iommu_perm_t rw = IOMMU_ACC_R | IOMMU_ACC_W;
    if (d->mode == IOMMU_MODE_PT)
        return IOMMU_OK; /* pass-through is already the identity */
    if (d->mode != IOMMU_MODE_NESTED)
        return iommu_host_map(h, did, base, base, len, rw, IOMMU_PAGE_SHIFT_4K, 0);
    /* Nested: identity in both stages, both checked before either is written. */
    struct stage fl = fl_stage(h, d), sl = sl_stage(h, d);
    enum iommu_status st = map_check(h, &fl, base, base, len, rw, IOMMU_PAGE_SHIFT_4K);
    if (st == IOMMU_OK)
        st = map_check(h, &sl, base, base, len, rw, IOMMU_PAGE_SHIFT_4K);
    if (st != IOMMU_OK)
        return st;
    for (uint64_t off = 0; off < len; off += FRAME)
        if (!page_free(h, &fl, base + off, 1) || !page_free(h, &sl, base + off, 1))
            return IOMMU_ERR_OVERLAP;
    st = map_stage(h, &sl, base, base, len, rw, IOMMU_PAGE_SHIFT_4K);
    if (st == IOMMU_OK)
        st = map_stage(h, &fl, base, base, len, rw, IOMMU_PAGE_SHIFT_4K);
    return st;
}

/* Visits every leaf in [iova, end): check pass (clear = false) or clear pass. */
static enum iommu_status unmap_pass(iommu_host_t *h, const struct stage *s, uint64_t iova,
                                    uint64_t end, bool clear, uint64_t *bytes)
{
    uint64_t a = iova;
    while (a < end) {
        const struct probe pr = descend(h, s, a, 1);
        if (pr.level == 0)
            return IOMMU_ERR_NOTFOUND; /* root table unreachable */
        const unsigned shift = iommu_vtd_leaf_shift(pr.level);
        const uint64_t size = 1ull << shift;
        const uint64_t base = a & ~(size - 1);
        if (pr.found && pte_present(s->format, pr.v) && iommu_vtd_pte_is_leaf(pr.v, pr.level)) {
            if (base < iova || size > end - base)
                return IOMMU_ERR_ALIGN; /* the range cuts a large page */
            if (clear && !wr(h, pr.epa, 0))
                return IOMMU_ERR_NOMEM;
            *bytes += size;
        }
        if (size > UINT64_MAX - base)
            break;
        a = base + size;
    }
    return IOMMU_OK;
}

enum iommu_status iommu_host_unmap(iommu_host_t *h, iommu_did_t did, uint64_t iova, uint64_t len,
                                   unsigned stage, uint64_t *unmapped)
{
    if (unmapped)
        *unmapped = 0;
    const struct domain *d = find_domain(h, did);
    if (!d)
        return IOMMU_ERR_NOTFOUND;
    if (stage > 2)
        return IOMMU_ERR_INVAL;
    struct stage s;
    enum iommu_status st = pick_stage(h, d, stage, &s);
    if (st != IOMMU_OK)
        return st;
    if ((iova & (FRAME - 1)) || (len & (FRAME - 1)))
        return IOMMU_ERR_ALIGN;
    if (len == 0 || !range_ok(iova, len, input_limit(&s)))
        return IOMMU_ERR_INVAL;
    uint64_t bytes = 0;
    st = unmap_pass(h, &s, iova, iova + len, false, &bytes);
    if (st != IOMMU_OK)
        return st;
    if (bytes == 0)
        return IOMMU_ERR_NOTFOUND;
    bytes = 0;
    st = unmap_pass(h, &s, iova, iova + len, true, &bytes);
    if (unmapped)
        *unmapped = bytes;
    return st;
}

/* ---- software translation ------------------------------------------------------------- */

static enum iommu_status sw_translate(const iommu_host_t *h, const struct stage *s, uint64_t in,
                                      uint64_t *out, iommu_perm_t *perm, unsigned *shift)
{
    if (in >= input_limit(s))
        return IOMMU_ERR_NOTFOUND; /* the host maps nothing there */
    const struct probe pr = descend(h, s, in, 1);
    if (!pr.found || !pte_present(s->format, pr.v) || !iommu_vtd_pte_is_leaf(pr.v, pr.level))
        return IOMMU_ERR_NOTFOUND;
    const unsigned sh = iommu_vtd_leaf_shift(pr.level);
    *out = entry_addr(pr.v, pr.level) | (in & ((1ull << sh) - 1));
    *shift = sh;
    iommu_perm_t p;
    if (s->format == IOMMU_PT_SECOND_LEVEL) {
        p = (iommu_perm_t)(pr.v & 7u); /* R, W, X are bits 0-2, as enum iommu_access */
    } else {
        p = IOMMU_ACC_R;
        if (pr.v & IOMMU_FL_RW)
            p |= IOMMU_ACC_W;
        if (!(pr.v & IOMMU_FL_XD))
            p |= IOMMU_ACC_X;
        if (!(pr.v & IOMMU_FL_US))
            p |= IOMMU_ACC_PRIV;
    }
    *perm = p;
    return IOMMU_OK;
}

enum iommu_status iommu_host_translate(const iommu_host_t *h, iommu_did_t did, uint64_t iova,
                                       unsigned stage, uint64_t *pa, iommu_perm_t *perm,
                                       unsigned *page_shift)
{
    const struct domain *d = find_domain(h, did);
    if (!d)
        return IOMMU_ERR_NOTFOUND;
    if (stage > 2)
        return IOMMU_ERR_INVAL;
    if (d->mode == IOMMU_MODE_PT) {
        if (stage != 0)
            return IOMMU_ERR_INVAL;
        *pa = iova;
        *perm = IOMMU_ACC_R | IOMMU_ACC_W | IOMMU_ACC_X;
        *page_shift = IOMMU_PAGE_SHIFT_4K;
        return IOMMU_OK;
    }
    if (d->mode == IOMMU_MODE_NESTED && stage == 0) {
        const struct stage fl = fl_stage(h, d), sl = sl_stage(h, d);
        uint64_t gpa;
        iommu_perm_t p1, p2;
        unsigned s1, s2;
        enum iommu_status st = sw_translate(h, &fl, iova, &gpa, &p1, &s1);
        if (st == IOMMU_OK)
            st = sw_translate(h, &sl, gpa, pa, &p2, &s2);
        if (st != IOMMU_OK)
            return st;
        *perm = (iommu_perm_t)((p1 & p2 & 7u) | (p1 & IOMMU_ACC_PRIV));
        *page_shift = s1 < s2 ? s1 : s2;
        return IOMMU_OK;
    }
    struct stage s;
    const enum iommu_status st = pick_stage(h, d, stage, &s);
    if (st != IOMMU_OK)
        return st;
    return sw_translate(h, &s, iova, pa, perm, page_shift);
}

void iommu_host_set_ats(iommu_host_t *h, iommu_sid_t rid, bool enable) { h->ats[rid] = enable; }
