/*
 * walk.c — the resumable VT-d page walk: second-level (VT-d 3.7, entries 9.8), first-level
 * (3.6, IA-32e entries 9.7) and nested (3.8: every first-level table pointer and the final
 * guest-physical address are translated by a second-level walk).
 *
 * The walk knows no entry layout: every entry is interpreted by the stage's page-table
 * format (pt_format.h; the VT-d formats are model/walker/formats/vtd_sl.c and vtd_fl.c)
 * through the format's decode pointer cached in the walk state (called directly, and so
 * inlined, for the formats listed in formats/list.h). The format also gives the input-
 * address form, the level range and the fault reasons; the walk owns the table geometry,
 * the sequencing, the HAW checks, the paging-structure caches and nesting.
 *
 * Shape: begin() and resume() each either ask for one 8-byte read (NEED_READ, read_addr),
 * finish (DONE: pa, page_shift, perm) or record a fault (FAULT: fault_reason). The state is
 * a handful of integers inside struct iommu_walk; nothing is allocated, and the code never
 * touches memory, so the functional driver and the timed TLM module run the same walk.
 *
 * Model decisions (also in docs/models/walker.md):
 *  - Second-level entries with R = W = 0 are not present. Legacy codes: the access's
 *    permission fault (0x5 write / 0x6 read); scalable: 0x79.
 *  - Reserved bits other than address bits at/above HAW give 0xC (SM: 0x72 FL, 0x7A SL).
 *    A table pointer at/above 2^HAW gives 0x7 (SM: 0x70/0x73 FL, 0x78/0x7B SL), a leaf page
 *    beyond HAW 0x7 (SM: 0x72 FL, 0x84 SL). VT-d itself treats address bits above HAW as
 *    reserved bits; the model reports them separately (table "access errors") so the two
 *    causes stay distinguishable.
 *  - The input address must fit the levels walked: 39/48/57 bits for 3/4/5 levels (SL) or
 *    be canonical at 48/57 bits (FL). Legacy 0x4; SM 0x83 (SL), 0x80 (FL), 0x74 when the
 *    address is a nested first-level output (table pointer or page).
 *  - XD is never treated as a reserved bit (the walk assumes NXE = 1); it removes X only
 *    when x_enabled. Without x_enabled, X is always granted (execute is not distinguished).
 *  - Accessed/dirty flags are never written (A/D updates are not modelled).
 *  - Paging-structure caches: looked up deepest level first (PDE, PDPE, PML4E, PML5E) at
 *    the start of every stage walk, filled with every non-leaf entry read. In a nested walk
 *    a first-level PWC entry holds the host-physical address of the next first-level table
 *    (filled once its guest-physical pointer has been translated), so a first-level hit
 *    also skips that second-level translation.
 *  - Permissions: SL R/W/X and FL R/W (and XD) are ANDed across levels; a first-level U/S = 0
 *    at any level makes the page supervisor-only (perm PRIV). Nested: R/W/X of both stages
 *    ANDed, PRIV from the first level; page size = the smaller of the two stages' leaves.
 *  - pa/page_shift/perm are also filled when the walk ends with a permission fault (the
 *    translation itself succeeded; a unit may cache it).
 */
#include "walk.h"

#include <stddef.h>
#include <string.h>

#include "formats.h"
#include "pt_format.h"

#define STAGE_FL ((uint8_t)IOMMU_STAGE_FIRST)
#define STAGE_SL ((uint8_t)IOMMU_STAGE_SECOND)
#define PERM_RWX ((iommu_perm_t)(IOMMU_ACC_R | IOMMU_ACC_W | IOMMU_ACC_X))

static enum iommu_walk_rc fault(struct iommu_walk *w, uint8_t reason)
{
    w->fault_reason = reason;
    w->done = 1;
    return IOMMU_WALK_FAULT;
}

/* Legacy or scalable-mode reason, as the walk is configured. */
static inline uint8_t fr(const struct iommu_walk *w, uint8_t legacy, uint8_t sm)
{
    return w->p.scalable ? sm : legacy;
}

static inline bool fits_haw(uint64_t addr, uint64_t size, uint8_t haw)
{
    const uint64_t limit = 1ull << haw; /* haw <= 52, checked by begin */
    return addr < limit && size <= limit - addr;
}

static inline uint8_t sl_levels(const struct iommu_walk *w)
{
    return w->p.nested ? w->p.sl_levels : w->p.levels;
}

/* Requests the entry of `level` in `table` for the current stage's input address. */
static enum iommu_walk_rc request(struct iommu_walk *w, uint64_t table, uint8_t level)
{
    w->level = level;
    w->read_addr = table + 8u * iommu_vtd_pt_index(w->in_addr, level);
    w->read_kind = w->stage == STAGE_FL ? IOMMU_READ_FL_PTE : IOMMU_READ_SL_PTE;
    w->read_level = level;
    w->mem_reads++;
    return IOMMU_WALK_NEED_READ;
}

static void pwc_fill(struct iommu_walk *w, uint8_t stage, unsigned entry_level, uint64_t addr,
                     uint64_t next_table, iommu_perm_t perm)
{
    if (!w->pwc || entry_level < 2 || entry_level - 2 >= IOMMU_PWC_NLEVELS)
        return;
    const struct iommu_pwc_entry e = {.next_table = next_table, .perm = perm};
    iommu_pwc_insert(w->pwc, (enum iommu_pwc_level)(entry_level - 2), w->p.did, w->p.pasid,
                     (enum iommu_pwc_stage)stage, addr, &e);
}

/* The walk produced a translation: check the request's permissions. */
static enum iommu_walk_rc finish(struct iommu_walk *w, uint64_t pa, uint8_t shift,
                                 iommu_perm_t perm)
{
    w->pa = pa;
    w->page_shift = shift;
    w->perm = perm;
    const uint8_t r = w->p.scalable ? iommu_perm_check_sm(w->access, perm)
                                    : iommu_perm_check(w->access, perm);
    if (r)
        return fault(w, r);
    w->done = 1;
    return IOMMU_WALK_DONE;
}

/* The reasons format f records in the walk's mode (legacy or scalable). */
static inline const struct iommu_pt_fault_reasons *frs(const struct iommu_walk *w,
                                                       const struct iommu_pt_format_ops *f)
{
    return &f->fr[w->p.scalable ? IOMMU_PT_FR_SCALABLE : IOMMU_PT_FR_LEGACY];
}

/* The reasons of the stage walking now. */
static inline const struct iommu_pt_fault_reasons *stage_frs(const struct iommu_walk *w)
{
    return frs(w, w->stage == STAGE_FL ? w->fmt_fl : w->fmt_sl);
}

/* True when `addr` is an input address of a `levels`-level walk in format f. */
static inline bool input_ok(const struct iommu_pt_format_ops *f, uint64_t addr, unsigned levels)
{
    const unsigned width = 12u + 9u * levels; /* 39, 48 or 57 */
    if (f->input_form == IOMMU_PT_INPUT_CANONICAL) {
        const unsigned sh = 64u - width;
        return (uint64_t)((int64_t)(addr << sh) >> sh) == addr;
    }
    return (addr >> width) == 0;
}

/* Starts a walk of `stage` for input address `addr`: width check, PWC lookup, first read. */
static enum iommu_walk_rc stage_start(struct iommu_walk *w, uint8_t stage, uint64_t addr)
{
    const struct iommu_pt_format_ops *f = stage == STAGE_FL ? w->fmt_fl : w->fmt_sl;
    w->decode = f->decode;
    w->stage = stage;
    w->in_addr = addr;
    const uint8_t levels = stage == STAGE_FL ? w->p.levels : sl_levels(w);
    if (!input_ok(f, addr, levels)) {
        if (stage == STAGE_SL && w->p.nested) /* a first-level output beyond the SL width */
            return fault(w, fr(w, IOMMU_FR_ADDR_BEYOND_MGAW, IOMMU_FR_SM_FL_NESTED_BEYOND));
        return fault(w, frs(w, f)->input_beyond);
    }
    if (w->pwc) {
        for (unsigned lvl = 2; lvl <= levels; lvl++) {
            const enum iommu_pwc_level pl = (enum iommu_pwc_level)(lvl - 2);
            if (!iommu_pwc_present(w->pwc, pl))
                continue;
            const struct iommu_pwc_entry *e = iommu_pwc_lookup(
                w->pwc, pl, w->p.did, w->p.pasid, (enum iommu_pwc_stage)stage, addr);
            if (e) {
                w->pwc_hits[pl]++;
                w->acc_perm = e->perm;
                return request(w, e->next_table, (uint8_t)(lvl - 1));
            }
            w->pwc_misses[pl]++;
        }
    }
    w->acc_perm = PERM_RWX;
    if (stage == STAGE_FL && w->p.nested) {
        /* The first-level root is guest-physical: translate it first. */
        w->fl_level = levels;
        w->fl_perm = PERM_RWX;
        w->sl_purpose = 0;
        return stage_start(w, STAGE_SL, w->p.root);
    }
    const uint64_t root = stage == STAGE_FL || !w->p.nested ? w->p.root : w->p.sl_root;
    if (!fits_haw(root, 4096, w->p.haw))
        return fault(w, frs(w, f)->root_beyond);
    return request(w, root, levels);
}

/* A stage produced `out` with a leaf of `shift` and permissions `perm`. Non-nested: the
 * result; nested (second stage): a first-level table (purpose 0) or the final address
 * (purpose 1). */
static enum iommu_walk_rc stage_done(struct iommu_walk *w, uint64_t out, uint8_t shift,
                                     iommu_perm_t perm)
{
    if (!w->p.nested)
        return finish(w, out, shift, perm);
    if (w->sl_purpose == 0) {
        if (!(perm & IOMMU_ACC_R))
            return fault(w, fr(w, IOMMU_FR_READ_DENIED,
                               w->fl_level == w->p.levels ? IOMMU_FR_SM_FL_ROOT_NESTED_READ
                                                          : IOMMU_FR_SM_FL_NESTED_READ));
        const uint64_t table = out & ~0xFFFull;
        if (w->fl_level < w->p.levels)
            pwc_fill(w, STAGE_FL, w->fl_level + 1u, w->iova, table, w->fl_perm);
        w->decode = w->fmt_fl->decode;
        w->stage = STAGE_FL;
        w->in_addr = w->iova;
        w->acc_perm = w->fl_perm;
        return request(w, table, w->fl_level);
    }
    const iommu_perm_t p = (iommu_perm_t)((w->fl_perm & perm & PERM_RWX) |
                                          (w->fl_perm & IOMMU_ACC_PRIV));
    return finish(w, out, shift < w->fl_page_shift ? shift : w->fl_page_shift, p);
}

/* Not-present entry in legacy terms: the access's own permission fault. */
static uint8_t legacy_not_present(const struct iommu_walk *w)
{
    const uint8_t r = iommu_perm_check(w->access, 0);
    return r ? r : IOMMU_FR_READ_DENIED;
}

/* A not-present or reserved entry (the format's decode said so). */
IOMMU_COLD enum iommu_walk_rc bad_entry(struct iommu_walk *w, uint8_t kind)
{
    const struct iommu_pt_fault_reasons *r = stage_frs(w);
    if (kind == IOMMU_PT_ENTRY_RESERVED)
        return fault(w, r->reserved);
    return fault(w, r->not_present == IOMMU_PT_FR_ACCESS_PERM ? legacy_not_present(w)
                                                               : r->not_present);
}

/* The current stage's decode of entry v at `level`, through the cached pointer. The pointer
 * is first compared with each compiled-in format's decode (formats/list.h), so that for
 * those the call is direct and link-time optimisation inlines it (the returned struct then
 * stays in registers); any other decode is called through the pointer. A plain indirect
 * call per entry cost about 5% more instructions per translation on 4-level walks
 * (docs/models/walker.md). */
static inline struct iommu_pt_entry decode_entry(const struct iommu_walk *w, uint64_t v,
                                                 unsigned level)
{
    const iommu_pt_decode_fn d = w->decode;
#define IOMMU_PT_FORMAT(id, name)                                                              \
    if (d == iommu_pt_##name##_decode)                                                         \
        return iommu_pt_##name##_decode(v, level, &w->p);
#include "formats/list.h"
#undef IOMMU_PT_FORMAT
    return d(v, level, &w->p);
}

/* One paging entry of the current stage, read for level w->level. */
static enum iommu_walk_rc entry(struct iommu_walk *w, uint64_t v)
{
    const uint8_t level = w->level;
    const struct iommu_pt_entry e = decode_entry(w, v, level);
    if (e.kind != IOMMU_PT_ENTRY_TABLE && e.kind != IOMMU_PT_ENTRY_LEAF)
        return bad_entry(w, e.kind);
    /* R/W/X are ANDed across levels, supervisor-only (PRIV) is ORed. */
    w->acc_perm = (iommu_perm_t)((w->acc_perm & (e.perm | IOMMU_ACC_PRIV)) |
                                 (e.perm & IOMMU_ACC_PRIV));
    const bool nested_fl = w->stage == STAGE_FL && w->p.nested;
    if (e.kind == IOMMU_PT_ENTRY_TABLE) {
        if (nested_fl) { /* the next first-level table is guest-physical: translate it */
            w->fl_level = (uint8_t)(level - 1);
            w->fl_perm = w->acc_perm;
            w->sl_purpose = 0;
            return stage_start(w, STAGE_SL, e.addr);
        }
        if (!fits_haw(e.addr, 4096, w->p.haw))
            return fault(w, stage_frs(w)->table_beyond);
        pwc_fill(w, w->stage, level, w->in_addr, e.addr, w->acc_perm);
        return request(w, e.addr, (uint8_t)(level - 1));
    }
    const uint8_t shift = (uint8_t)iommu_vtd_leaf_shift(level);
    const uint64_t out = e.addr | (w->in_addr & ((1ull << shift) - 1));
    if (nested_fl) { /* the page is guest-physical: translate it */
        w->fl_perm = w->acc_perm;
        w->fl_page_shift = shift;
        w->sl_purpose = 1;
        return stage_start(w, STAGE_SL, out);
    }
    if (!fits_haw(e.addr, 1ull << shift, w->p.haw))
        return fault(w, stage_frs(w)->page_beyond);
    return stage_done(w, out, shift, w->acc_perm);
}

enum iommu_walk_rc iommu_walk_begin(struct iommu_walk *w, const struct iommu_walk_params *p,
                                    iommu_pwc_t *pwc, uint64_t iova, uint8_t access)
{
    const struct iommu_walk_params params = *p; /* p may point into *w */
    /* Everything up to the format pointers starts cleared; those are written below. */
    memset(w, 0, offsetof(struct iommu_walk, decode));
    w->iova = iova;
    w->access = access;
    w->p = params;
    p = &w->p;
    w->pwc = pwc;
    /* Parameters come from a validated context; anything else is a programming error,
     * recorded as an invalid context rather than aborting. A nested walk runs the
     * first-stage format f over the second level. */
    const struct iommu_pt_format_ops *f = iommu_pt_format_get(p->format);
    const struct iommu_pt_format_ops *sl =
        p->nested ? iommu_pt_format_get(IOMMU_PT_SECOND_LEVEL) : NULL;
    const bool f_first = f && f->stage == STAGE_FL;
    w->decode = NULL; /* set by stage_start */
    w->fmt_fl = f_first ? f : NULL;
    w->fmt_sl = p->nested || f_first ? sl : f;
    bool ok = f && p->levels >= f->min_levels && p->levels <= f->max_levels && p->haw >= 12 &&
              p->haw <= IOMMU_VTD_MAX_HAW;
    if (ok && p->nested) /* only a first-stage format nests */
        ok = f_first && sl && p->sl_levels >= sl->min_levels && p->sl_levels <= sl->max_levels;
    if (!ok)
        return fault(w, fr(w, IOMMU_FR_CTX_INVALID, IOMMU_FR_SM_PASID_INVALID));
    return stage_start(w, f->stage, iova);
}

enum iommu_walk_rc iommu_walk_resume(struct iommu_walk *w, uint64_t value)
{
    if (w->done)
        return w->fault_reason ? IOMMU_WALK_FAULT : IOMMU_WALK_DONE;
    return entry(w, value);
}

uint8_t iommu_perm_check(uint8_t access, iommu_perm_t perm)
{
    if (!(access & (IOMMU_ACC_R | IOMMU_ACC_W | IOMMU_ACC_X)))
        return IOMMU_FR_NONE;
    if (!(access & IOMMU_ACC_PRIV) && (perm & IOMMU_ACC_PRIV))
        return (access & IOMMU_ACC_W) ? IOMMU_FR_WRITE_DENIED : IOMMU_FR_READ_DENIED;
    if ((access & IOMMU_ACC_W) && !(perm & IOMMU_ACC_W))
        return IOMMU_FR_WRITE_DENIED;
    if ((access & IOMMU_ACC_R) && !(perm & IOMMU_ACC_R))
        return IOMMU_FR_READ_DENIED;
    if ((access & IOMMU_ACC_X) && !(perm & IOMMU_ACC_X))
        return IOMMU_FR_READ_DENIED;
    return IOMMU_FR_NONE;
}

uint8_t iommu_perm_check_sm(uint8_t access, iommu_perm_t perm)
{
    if (!(access & (IOMMU_ACC_R | IOMMU_ACC_W | IOMMU_ACC_X)))
        return IOMMU_FR_NONE;
    if (!(access & IOMMU_ACC_PRIV) && (perm & IOMMU_ACC_PRIV))
        return IOMMU_FR_SM_USER_SUPERVISOR;
    if ((access & IOMMU_ACC_W) && !(perm & IOMMU_ACC_W))
        return IOMMU_FR_SM_WRITE_DENIED;
    if ((access & IOMMU_ACC_R) && !(perm & IOMMU_ACC_R))
        return IOMMU_FR_SM_READ_DENIED;
    if ((access & IOMMU_ACC_X) && !(perm & IOMMU_ACC_X))
        return IOMMU_FR_SM_EXEC_DENIED;
    return IOMMU_FR_NONE;
}
