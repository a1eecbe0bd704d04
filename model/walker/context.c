/*
 * context.c — the resumable device-context fetch (VT-d 3.4.2 legacy: root entry 9.1 →
 * context entry 9.3; VT-d 3.4.3 scalable: root entry 9.2 → context entry 9.4 → PASID
 * directory entry 9.5 → PASID-table entry 9.6).
 *
 * Reads (addresses as the specification indexes the tables):
 *   root entry        16 B at RTADDR + bus * 16
 *   legacy context   16 B at CTP + devfn * 16
 *   scalable context 32 B at (devfn < 128 ? LCTP : UCTP) + (devfn % 128) * 32
 *   PASID directory   8 B at PASIDDIRPTR + (pasid >> 6) * 8
 *   PASID-table entry 64 B at SMPTBLPTR + (pasid & 63) * 64
 * Requests without PASID use the context entry's RID_PASID in scalable mode.
 *
 * Fault policy (codes in model/common/fault_codes.h and formats.h; docs/models/walker.md):
 *  - legacy: 0x8 RTADDR beyond HAW, 0x1 root P = 0, 0xA root reserved bits, 0x9 CTP beyond
 *    HAW, 0x2 context P = 0, 0xB context reserved bits, 0x3 TT = 3 or AW not in SAGAW,
 *    0xD TT = 1 without ECAP.DT or TT = 2 without ECAP.PT, 0x31 request with PASID;
 *  - scalable: 0x38/0x39/0x3A root, 0x40-0x46 context, 0x50-0x52 PASID directory,
 *    0x58-0x5B PASID-table entry (0x5B: PGTT reserved or not supported by ECAP, AW not in
 *    SAGAW, FLPM reserved or 5-level without CAP.FL5LP).
 *  - Address fields at/above HAW are reported as the access error of the structure they
 *    point to (0x9/0x40, 0x50, 0x58), not as reserved bits; the second-level/first-level
 *    roots are checked by the walk (0x7 / 0x7B / 0x73).
 *  - fault_fpd is set when a present entry on the path (context, PASID directory,
 *    PASID-table entry) has FPD = 1, including the entry that faulted; an entry with P = 0
 *    cannot disable its own fault.
 */
#include "context.h"

#include <string.h>

#include "formats.h"

enum { ST_ROOT = 1, ST_CTX, ST_PDIR, ST_PENTRY, ST_DONE };

static inline bool fits_haw(uint64_t addr, uint64_t size, uint8_t haw)
{
    const uint64_t limit = 1ull << haw;
    return addr < limit && size <= limit - addr;
}

static enum iommu_walk_rc fault(struct iommu_ctxwalk *cw, uint8_t reason)
{
    cw->fault_reason = reason;
    cw->fault_fpd = cw->fpd;
    cw->step = ST_DONE;
    return IOMMU_WALK_FAULT;
}

static enum iommu_walk_rc request(struct iommu_ctxwalk *cw, uint8_t step, uint64_t addr,
                                  uint8_t size, uint8_t kind)
{
    cw->step = step;
    cw->read_addr = addr;
    cw->read_size = size;
    cw->read_kind = kind;
    cw->mem_reads++;
    return IOMMU_WALK_NEED_READ;
}

static bool aw_ok(uint8_t aw, uint8_t sagaw)
{
    return aw >= 1 && aw <= 3 && ((sagaw >> aw) & 1u);
}

/* Scalable: the context entry is known; locate the PASID directory entry. */
static enum iommu_walk_rc after_sm_ctx(struct iommu_ctxwalk *cw)
{
    const struct iommu_sm_ctx *c = &cw->sm_ctx;
    if (cw->pasid_given && !c->pasid_enabled)
        return fault(cw, IOMMU_FR_SM_CTX_PASIDE_CLEAR);
    const uint32_t pasid = cw->pasid_given ? cw->pasid : c->rid_pasid;
    cw->pasid = pasid;
    const uint64_t dir_entries = 1ull << ((c->pdts & 7u) + 7u);
    if (pasid > IOMMU_PASID_MAX || (uint64_t)(pasid >> 6) >= dir_entries)
        return fault(cw, IOMMU_FR_SM_CTX_PASID_BEYOND);
    if (!fits_haw(c->pasid_dir, dir_entries * 8u, cw->p.haw))
        return fault(cw, IOMMU_FR_SM_PDIR_ACCESS);
    return request(cw, ST_PDIR, c->pasid_dir + 8ull * (pasid >> 6), 8, IOMMU_READ_PASID_DIR);
}

enum iommu_walk_rc iommu_ctxwalk_begin(struct iommu_ctxwalk *cw, const struct iommu_ctx_params *p,
                                       iommu_sid_t sid, iommu_pasid_t pasid,
                                       const struct iommu_sm_ctx *known_sm_ctx)
{
    const struct iommu_ctx_params params = *p; /* p may point into *cw */
    memset(cw, 0, sizeof *cw);
    cw->p = params;
    cw->sid = sid;
    cw->pasid = pasid;
    cw->pasid_given = pasid != IOMMU_PASID_NONE;
    const bool haw_ok = params.haw >= 12 && params.haw <= IOMMU_VTD_MAX_HAW;
    if (!params.scalable) {
        if (cw->pasid_given)
            return fault(cw, IOMMU_FR_SM_TTM_LEGACY_PASID);
        if (!haw_ok || !fits_haw(params.rtaddr, 4096, params.haw))
            return fault(cw, IOMMU_FR_ROOT_TABLE_ACCESS);
        return request(cw, ST_ROOT, params.rtaddr + 16ull * IOMMU_SID_BUS(sid), 16,
                       IOMMU_READ_ROOT);
    }
    if (!haw_ok)
        return fault(cw, IOMMU_FR_SM_ROOT_ACCESS);
    if (known_sm_ctx) {
        cw->sm_ctx = *known_sm_ctx;
        cw->have_sm_ctx = true;
        cw->fpd = known_sm_ctx->fpd;
        return after_sm_ctx(cw);
    }
    if (!fits_haw(params.rtaddr, 4096, params.haw))
        return fault(cw, IOMMU_FR_SM_ROOT_ACCESS);
    return request(cw, ST_ROOT, params.rtaddr + 16ull * IOMMU_SID_BUS(sid), 16, IOMMU_READ_ROOT);
}

static enum iommu_walk_rc legacy_root(struct iommu_ctxwalk *cw, const uint64_t *d)
{
    struct iommu_vtd_root r;
    iommu_vtd_root_decode(d, &r);
    if (!r.p)
        return fault(cw, IOMMU_FR_ROOT_NOT_PRESENT);
    if (!iommu_vtd_root_reserved_ok(d, IOMMU_VTD_MAX_HAW))
        return fault(cw, IOMMU_FR_ROOT_RESERVED);
    if (!fits_haw(r.ctp, 4096, cw->p.haw))
        return fault(cw, IOMMU_FR_CTX_TABLE_ACCESS);
    return request(cw, ST_CTX, r.ctp + 16ull * IOMMU_SID_DEVFN(cw->sid), 16, IOMMU_READ_CONTEXT);
}

static enum iommu_walk_rc legacy_ctx(struct iommu_ctxwalk *cw, const uint64_t *d)
{
    struct iommu_vtd_ctx c;
    iommu_vtd_ctx_decode(d, &c);
    if (!c.p)
        return fault(cw, IOMMU_FR_CTX_NOT_PRESENT);
    cw->fpd = c.fpd;
    if (!iommu_vtd_ctx_reserved_ok(d, IOMMU_VTD_MAX_HAW))
        return fault(cw, IOMMU_FR_CTX_RESERVED);
    if (c.tt == IOMMU_VTD_TT_RESERVED)
        return fault(cw, IOMMU_FR_CTX_INVALID);
    if ((c.tt == IOMMU_VTD_TT_DEV_TLB && !cw->p.dev_tlb) ||
        (c.tt == IOMMU_VTD_TT_PASSTHROUGH && !cw->p.pt))
        return fault(cw, IOMMU_FR_TT_BLOCKED);
    const bool pt = c.tt == IOMMU_VTD_TT_PASSTHROUGH;
    if (!pt && !aw_ok(c.aw, cw->p.sagaw))
        return fault(cw, IOMMU_FR_CTX_INVALID);
    struct iommu_ctx *x = &cw->ctx;
    memset(x, 0, sizeof *x);
    x->did = c.did;
    x->mode = pt ? IOMMU_MODE_PT : IOMMU_MODE_SL;
    x->fpd = c.fpd;
    x->dev_tlb = c.tt == IOMMU_VTD_TT_DEV_TLB;
    x->sl_levels = (c.aw >= 1 && c.aw <= 3) ? (uint8_t)(c.aw + 2) : 0;
    x->sl_root = pt ? 0 : c.slptptr;
    cw->step = ST_DONE;
    return IOMMU_WALK_DONE;
}

static enum iommu_walk_rc sm_root(struct iommu_ctxwalk *cw, const uint64_t *d)
{
    struct iommu_vtd_sm_root r;
    iommu_vtd_sm_root_decode(d, &r);
    const uint8_t devfn = IOMMU_SID_DEVFN(cw->sid);
    const bool upper = devfn >= 128;
    const bool present = upper ? r.up : r.lp;
    const uint64_t ctp = upper ? r.uctp : r.lctp;
    if (!present)
        return fault(cw, IOMMU_FR_SM_ROOT_NOT_PRESENT);
    if (!iommu_vtd_sm_root_reserved_ok(d, devfn, IOMMU_VTD_MAX_HAW))
        return fault(cw, IOMMU_FR_SM_ROOT_RESERVED);
    if (!fits_haw(ctp, 4096, cw->p.haw))
        return fault(cw, IOMMU_FR_SM_CTX_ACCESS);
    return request(cw, ST_CTX, ctp + 32ull * (devfn & 127u), 32, IOMMU_READ_CONTEXT);
}

static enum iommu_walk_rc sm_ctx(struct iommu_ctxwalk *cw, const uint64_t *d)
{
    struct iommu_vtd_sm_ctx c;
    iommu_vtd_sm_ctx_decode(d, &c);
    if (!c.p)
        return fault(cw, IOMMU_FR_SM_CTX_NOT_PRESENT);
    cw->fpd = c.fpd;
    if (!iommu_vtd_sm_ctx_reserved_ok(d, IOMMU_VTD_MAX_HAW))
        return fault(cw, IOMMU_FR_SM_CTX_RESERVED);
    if (c.dte && !cw->p.dev_tlb)
        return fault(cw, IOMMU_FR_SM_CTX_INVALID);
    cw->sm_ctx.fpd = c.fpd;
    cw->sm_ctx.dte = c.dte;
    cw->sm_ctx.pasid_enabled = c.paside;
    cw->sm_ctx.pdts = c.pdts;
    cw->sm_ctx.pasid_dir = c.pasid_dir;
    cw->sm_ctx.rid_pasid = c.rid_pasid;
    cw->have_sm_ctx = true;
    return after_sm_ctx(cw);
}

static enum iommu_walk_rc sm_pdir(struct iommu_ctxwalk *cw, const uint64_t *d)
{
    struct iommu_vtd_pasid_dir e;
    iommu_vtd_pasid_dir_decode(d, &e);
    if (!e.p)
        return fault(cw, IOMMU_FR_SM_PDIR_NOT_PRESENT);
    cw->fpd = cw->fpd || e.fpd;
    if (!iommu_vtd_pasid_dir_reserved_ok(d, IOMMU_VTD_MAX_HAW))
        return fault(cw, IOMMU_FR_SM_PDIR_RESERVED);
    if (!fits_haw(e.pasid_table, 4096, cw->p.haw))
        return fault(cw, IOMMU_FR_SM_PASID_ACCESS);
    return request(cw, ST_PENTRY, e.pasid_table + 64ull * (cw->pasid & 63u), 64,
                   IOMMU_READ_PASID_ENTRY);
}

static enum iommu_walk_rc sm_pentry(struct iommu_ctxwalk *cw, const uint64_t *d)
{
    struct iommu_vtd_pasid_entry e;
    iommu_vtd_pasid_entry_decode(d, &e);
    if (!e.p)
        return fault(cw, IOMMU_FR_SM_PASID_NOT_PRESENT);
    cw->fpd = cw->fpd || e.fpd;
    if (!iommu_vtd_pasid_entry_reserved_ok(d, IOMMU_VTD_MAX_HAW))
        return fault(cw, IOMMU_FR_SM_PASID_RESERVED);
    const struct iommu_ctx_params *p = &cw->p;
    bool ok;
    uint8_t mode = IOMMU_MODE_SL;
    const bool uses_sl = e.pgtt == IOMMU_VTD_PGTT_SL || e.pgtt == IOMMU_VTD_PGTT_NESTED;
    const bool uses_fl = e.pgtt == IOMMU_VTD_PGTT_FL || e.pgtt == IOMMU_VTD_PGTT_NESTED;
    switch (e.pgtt) {
    case IOMMU_VTD_PGTT_FL: ok = p->fl; mode = IOMMU_MODE_FL; break;
    case IOMMU_VTD_PGTT_SL: ok = p->sl; mode = IOMMU_MODE_SL; break;
    case IOMMU_VTD_PGTT_NESTED: ok = p->nested; mode = IOMMU_MODE_NESTED; break;
    case IOMMU_VTD_PGTT_PT: ok = p->pt; mode = IOMMU_MODE_PT; break;
    default: ok = false; break;
    }
    if (ok && uses_sl)
        ok = aw_ok(e.aw, p->sagaw);
    if (ok && uses_fl)
        ok = e.flpm == 0 || (e.flpm == 1 && p->fl5);
    if (!ok)
        return fault(cw, IOMMU_FR_SM_PASID_INVALID);
    struct iommu_ctx *x = &cw->ctx;
    memset(x, 0, sizeof *x);
    x->did = e.did;
    x->mode = mode;
    x->fpd = cw->fpd;
    x->dev_tlb = cw->sm_ctx.dte;
    if (uses_sl) {
        x->sl_levels = (uint8_t)(e.aw + 2);
        x->sl_root = e.slptptr;
    }
    if (uses_fl) {
        x->fl_levels = e.flpm ? 5 : 4;
        x->fl_root = e.flptptr;
    }
    x->slee = e.slee;
    x->nxe = e.nxe;
    x->sre = e.sre;
    x->ere = e.ere;
    cw->step = ST_DONE;
    return IOMMU_WALK_DONE;
}

enum iommu_walk_rc iommu_ctxwalk_resume(struct iommu_ctxwalk *cw, const uint64_t *data)
{
    switch (cw->step) {
    case ST_ROOT: return cw->p.scalable ? sm_root(cw, data) : legacy_root(cw, data);
    case ST_CTX: return cw->p.scalable ? sm_ctx(cw, data) : legacy_ctx(cw, data);
    case ST_PDIR: return sm_pdir(cw, data);
    case ST_PENTRY: return sm_pentry(cw, data);
    default: return cw->fault_reason ? IOMMU_WALK_FAULT : IOMMU_WALK_DONE;
    }
}

uint8_t iommu_ctx_request_check(const struct iommu_ctx *ctx, bool scalable, uint8_t access)
{
    if (!scalable || (ctx->mode != IOMMU_MODE_FL && ctx->mode != IOMMU_MODE_NESTED))
        return IOMMU_FR_NONE;
    if ((access & IOMMU_ACC_PRIV) && !ctx->sre)
        return IOMMU_FR_SM_PASID_SRE_CLEAR;
    if ((access & IOMMU_ACC_X) && !ctx->ere)
        return IOMMU_FR_SM_PASID_ERE_CLEAR;
    return IOMMU_FR_NONE;
}

void iommu_ctx_walk_params(const struct iommu_ctx *ctx, bool scalable, uint8_t haw, bool sl_2m,
                           bool sl_1g, bool fl_1g, iommu_pasid_t pasid,
                           struct iommu_walk_params *out)
{
    memset(out, 0, sizeof *out);
    out->haw = haw;
    out->sl_2m = sl_2m;
    out->sl_1g = sl_1g;
    out->fl_1g = fl_1g;
    out->did = ctx->did;
    out->pasid = pasid;
    out->scalable = scalable;
    switch (ctx->mode) {
    case IOMMU_MODE_FL:
        out->format = IOMMU_PT_FIRST_LEVEL;
        out->levels = ctx->fl_levels;
        out->root = ctx->fl_root;
        out->x_enabled = ctx->nxe;
        break;
    case IOMMU_MODE_NESTED:
        out->format = IOMMU_PT_FIRST_LEVEL;
        out->levels = ctx->fl_levels;
        out->root = ctx->fl_root;
        out->nested = true;
        out->sl_levels = ctx->sl_levels;
        out->sl_root = ctx->sl_root;
        out->x_enabled = ctx->nxe && ctx->slee;
        break;
    default: /* SL; PT has no walk (levels stay as in the context: 0 for PT) */
        out->format = IOMMU_PT_SECOND_LEVEL;
        out->levels = ctx->mode == IOMMU_MODE_SL ? ctx->sl_levels : 0;
        out->root = ctx->sl_root;
        out->x_enabled = scalable && ctx->slee;
        break;
    }
}
