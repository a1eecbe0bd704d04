/*
 * iommu.c — the VT-d translation unit (see iommu.h).
 *
 * Per chunk: interrupt-range check → translation enabled? → context (context cache, PASID
 * cache, else the step-wise context fetch) → pass-through? → IOTLB → step-wise page walk →
 * IOTLB fill. Every outcome is counted in the stats registry through pointers registered at
 * creation (global) or when a device/domain first appears (per_device/per_domain blocks).
 *
 * IOTLB tagging: second-level-only contexts tag entries with the domain id alone (PASID
 * IOMMU_PASID_NONE), first-level and nested contexts with domain id and PASID (VT-d 6.2.1).
 * The context cache is tagged by source-id; in scalable mode it holds the scalable context
 * entry and the PASID cache (tagged by source-id and PASID) holds the decoded PASID entry.
 */
#include "iommu.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regs.h"

/* op->state */
enum { ST_IDLE = 0, ST_CTX, ST_WALK, ST_WALK_PENDING };

/* Counters kept globally and per device and per domain: one contiguous block each in the
 * stats registry, indexed by enum xc. */
enum xc { XC_TRANSLATIONS, XC_IOTLB_HITS, XC_IOTLB_MISSES, XC_WALK_READS, XC_CC_HITS,
          XC_CC_MISSES, XC_FAULTS, XC_N };
static const char *const xc_names[XC_N] = {
    "translations", "iotlb.hits", "iotlb.misses", "walk.mem_reads",
    "context_cache.hits", "context_cache.misses", "faults.total"};
static const char *const xc_descs[XC_N] = {
    "page-granular translations (DMA chunks)", "IOTLB lookups that hit",
    "IOTLB lookups that missed", "paging-entry memory reads by page walks",
    "context-cache lookups that hit", "context-cache lookups that missed",
    "translation faults (recorded or not)"};

/* Scalable-mode context-cache payload; legacy mode uses only ctx. */
struct cc_payload {
    struct iommu_ctx ctx;     /* legacy: the decoded context */
    struct iommu_sm_ctx sm;   /* scalable: the context entry */
};

struct iommu {
    struct iommu_cfg cfg;
    iommu_physmem_t *mem;
    iommu_stats_t *stats;
    uint64_t rtaddr;
    bool tes;
    struct iommu_ctx_params cp;
    iommu_cache_t *cc, *pc, *iec;
    iommu_iotlb_t *iotlb;
    iommu_pwc_t *pwc;
    /* fault recording */
    struct iommu_fault_record *frcd; /* [cfg.nfr] */
    unsigned fri;
    bool pfo;
    /* counters */
    uint64_t *g; /* global block (enum xc) */
    uint64_t sink[XC_N]; /* counts of a device or domain whose block could not be registered
                          * (out of memory): kept out of every report */
    uint64_t *requests, *requests_split, *walks_coalesced, *pc_hits, *pc_misses, *walks, *ctx_mem_reads,
        *passthrough, *untranslated, *irq_writes, *irq_reads_blocked, *faults_recorded,
        *faults_suppressed, *faults_overflow, *iotlb_fills, *ats_requests, *ats_translated;
    uint64_t *pwc_hits[IOMMU_PWC_NLEVELS], *pwc_misses[IOMMU_PWC_NLEVELS];
    uint64_t *fault_reason[256];
    iommu_hist_t *walk_reads_hist;
    uint64_t *dev[65536]; /* per-device blocks, registered when a device first appears */
    uint64_t *dom[65536]; /* per-domain blocks, registered when a domain first appears */
};

/* ---------------------------------------------------------------- configuration ------ */

void iommu_cfg_default(struct iommu_cfg *c)
{
    /* Values reproduce an Intel Xeon E5 v3 (Haswell-EP) VT-d unit: Linux reports it as
     * "cap d2078c106f0466 ecap f020df" (decoded in docs/config.md). */
    memset(c, 0, sizeof *c);
    c->scalable_mode = false;
    c->translation_enabled = true;
    c->mgaw = 48;
    c->haw = 46;
    c->sagaw = 1u << 2; /* 4-level */
    c->sllps_2m = c->sllps_1g = true;
    c->nd = 6;
    c->nfr = 8;
    c->fro = 0x100;
    c->iro = 0x200;
    c->mamv = 18;
    c->psi = c->zlr = c->plmr = c->phmr = c->dwd = c->drd = true;
    c->coherent = c->qi = c->dev_tlb = c->ir = c->eim = c->pass_through = c->snoop_control = true;
    c->sl = true;
    c->pasid_bits = 20;
    c->mhmv = 15;
    iommu_cache_cfg_default(&c->context_cache);
    c->context_cache.entries = c->context_cache.ways = 16;
    iommu_cache_cfg_default(&c->pasid_cache);
    c->pasid_cache.entries = c->pasid_cache.ways = 16;
    iommu_cache_cfg_default(&c->iec); /* 64 entries, fully associative, LRU */
    iommu_iotlb_cfg_default(&c->iotlb);
    iommu_pwc_cfg_default(&c->pwc);
}

#define FAIL(k, w)          \
    do {                    \
        if (key) *key = (k); \
        if (why) *why = (w); \
        return IOMMU_ERR_INVAL; \
    } while (0)

enum iommu_status iommu_cfg_validate(const struct iommu_cfg *c, const char **key, const char **why)
{
    const char *w = NULL;
    if (c->mgaw < 30 || c->mgaw > 64)
        FAIL("iommu.mgaw", "must be between 30 and 64 bits");
    if (c->haw < 32 || c->haw > 52)
        FAIL("iommu.haw", "must be between 32 and 52 bits (VT-d host address width)");
    if (!c->sagaw || (c->sagaw & ~0x0Eu))
        FAIL("iommu.sagaw", "supported page-table levels must be a non-empty subset of 3, 4, 5");
    if (c->nd > 6)
        FAIL("iommu.nd", "must be 0..6 (4 + 2*nd domain-id bits)");
    if (c->nfr < 1 || c->nfr > 256)
        FAIL("iommu.nfr", "must be 1..256 fault-recording registers");
    if (c->mamv > 63)
        FAIL("iommu.mamv", "must be 0..63");
    if (c->pasid_bits < 1 || c->pasid_bits > 20)
        FAIL("iommu.pasid_bits", "must be 1..20");
    if (c->scalable_mode && !c->fl && !c->sl)
        FAIL("iommu.sl", "scalable mode needs first- or second-level translation support");
    if (c->nested && !(c->scalable_mode && c->fl && c->sl))
        FAIL("iommu.nested", "nested translation needs scalable mode with first and second level");
    if (iommu_cache_cfg_validate(&c->context_cache, &w) != IOMMU_OK)
        FAIL("context_cache", w);
    if (iommu_cache_cfg_validate(&c->pasid_cache, &w) != IOMMU_OK)
        FAIL("pasid_cache", w);
    if (iommu_cache_cfg_validate(&c->iec, &w) != IOMMU_OK)
        FAIL("iec", w);
    if (iommu_iotlb_cfg_validate(&c->iotlb, key, why) != IOMMU_OK)
        return IOMMU_ERR_INVAL;
    static const char *const pwc_keys[IOMMU_PWC_NLEVELS] = {"pwc.pde", "pwc.pdpe", "pwc.pml4e",
                                                            "pwc.pml5e"};
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++)
        if (iommu_cache_cfg_validate(&c->pwc.level[l], &w) != IOMMU_OK)
            FAIL(pwc_keys[l], w);
    return IOMMU_OK;
}
#undef FAIL

void iommu_cfg_ctx_params(const struct iommu_cfg *c, uint64_t rtaddr, struct iommu_ctx_params *p)
{
    memset(p, 0, sizeof *p);
    p->rtaddr = rtaddr;
    p->scalable = c->scalable_mode;
    p->sagaw = c->sagaw;
    p->haw = c->haw;
    p->pt = c->pass_through;
    p->dev_tlb = c->dev_tlb;
    p->nested = c->nested;
    p->fl = c->scalable_mode && c->fl;
    p->sl = !c->scalable_mode || c->sl;
    p->fl5 = c->fl_5level;
}

/* ---------------------------------------------------------------- statistics --------- */

/* Registers the counter block of a device or domain seen for the first time. */
IOMMU_COLD uint64_t *new_block(iommu_t *u, uint64_t **slot, const char *prefix)
{
    uint64_t *b = iommu_stats_counter_block(u->stats, prefix, XC_N, xc_names, xc_descs);
    return b ? (*slot = b) : u->sink;
}

IOMMU_HOT_INLINE uint64_t *dev_block(iommu_t *u, iommu_sid_t sid)
{
    if (__builtin_expect(!u->dev[sid], 0)) {
        char bdf[8], prefix[40];
        snprintf(prefix, sizeof prefix, "per_device.%s.", iommu_sid_format(sid, bdf));
        return new_block(u, &u->dev[sid], prefix);
    }
    return u->dev[sid];
}

IOMMU_HOT_INLINE uint64_t *dom_block(iommu_t *u, iommu_did_t did)
{
    if (__builtin_expect(!u->dom[did], 0)) {
        char prefix[40];
        snprintf(prefix, sizeof prefix, "per_domain.%u.", (unsigned)did);
        return new_block(u, &u->dom[did], prefix);
    }
    return u->dom[did];
}

/* Adds n to the global counter and to the op's device and domain blocks. */
/* op->dev is always set; op->dom points at the sink until the chunk's domain is known (a
 * chunk that faults before its context is resolved counts globally and per device only). */
IOMMU_HOT_INLINE void count3(iommu_t *u, struct iommu_op *op, enum xc x, uint64_t n)
{
    u->g[x] += n;
    op->dev[x] += n;
    op->dom[x] += n;
}

static uint64_t *reason_counter(iommu_t *u, uint8_t reason)
{
    if (!u->fault_reason[reason]) {
        char name[40];
        snprintf(name, sizeof name, "faults.reason_0x%x", reason);
        u->fault_reason[reason] = iommu_stats_counter(u->stats, name, "faults with this reason code");
    }
    return u->fault_reason[reason];
}

static bool register_stats(iommu_t *u)
{
    iommu_stats_t *s = u->stats;
    u->g = iommu_stats_counter_block(s, "", XC_N, xc_names, xc_descs);
    u->requests = iommu_stats_counter(s, "requests", "DMA requests presented to the unit");
    u->requests_split =
        iommu_stats_counter(s, "requests.split", "requests split at page boundaries (2+ chunks)");
    u->pc_hits = iommu_stats_counter(s, "pasid_cache.hits", "PASID-cache lookups that hit");
    u->pc_misses = iommu_stats_counter(s, "pasid_cache.misses", "PASID-cache lookups that missed");
    u->walks = iommu_stats_counter(s, "walk.count", "page walks started");
    u->walks_coalesced = iommu_stats_counter(
        s, "walk.coalesced", "IOTLB misses served by a walk already in flight for the page");
    u->ctx_mem_reads =
        iommu_stats_counter(s, "context.mem_reads", "root/context/PASID-table memory reads");
    u->iotlb_fills = iommu_stats_counter(s, "iotlb.fills", "IOTLB entries filled after walks");
    u->passthrough =
        iommu_stats_counter(s, "translations.passthrough", "chunks passed through untranslated");
    u->untranslated = iommu_stats_counter(s, "translations.disabled",
                                          "chunks untranslated because translation is disabled");
    u->irq_writes = iommu_stats_counter(s, "interrupt_range.writes",
                                        "writes to 0xFEEx_xxxx (MSIs, not translated)");
    u->irq_reads_blocked = iommu_stats_counter(s, "interrupt_range.reads_blocked",
                                               "reads from the interrupt range (blocked)");
    u->faults_recorded =
        iommu_stats_counter(s, "faults.recorded", "faults written to a fault-recording register");
    u->faults_suppressed =
        iommu_stats_counter(s, "faults.suppressed_fpd", "faults not recorded because FPD = 1");
    u->faults_overflow = iommu_stats_counter(
        s, "faults.overflow", "faults lost because the next record was full (PFO)");
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++) {
        char name[40];
        snprintf(name, sizeof name, "pwc.%s.hits", iommu_pwc_level_name(l));
        u->pwc_hits[l] = iommu_stats_counter(s, name, "paging-structure cache hits at this level");
        snprintf(name, sizeof name, "pwc.%s.misses", iommu_pwc_level_name(l));
        u->pwc_misses[l] =
            iommu_stats_counter(s, name, "paging-structure cache misses at this level");
    }
    for (unsigned r = 1; r <= IOMMU_FR_LEGACY_MAX; r++)
        reason_counter(u, (uint8_t)r);
    u->ats_requests = iommu_stats_counter(s, "ats.translation_requests",
                                         "ATS translation requests translated for device-TLBs");
    u->ats_translated = iommu_stats_counter(s, "ats.translated_requests",
                                           "ATS translated requests passed through (device-TLB hits)");
    u->walk_reads_hist = iommu_stats_hist(s, "walk.reads_per_walk",
                                          "memory reads per page walk", 1, 32);
    bool ok = u->g && u->requests && u->requests_split && u->pc_hits && u->pc_misses &&
              u->walks && u->walks_coalesced && u->ctx_mem_reads && u->iotlb_fills && u->passthrough &&
              u->untranslated && u->irq_writes && u->irq_reads_blocked && u->faults_recorded &&
              u->faults_suppressed && u->faults_overflow && u->walk_reads_hist && u->ats_requests &&
              u->ats_translated;
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++)
        ok = ok && u->pwc_hits[l] && u->pwc_misses[l];
    return ok;
}

/* ---------------------------------------------------------------- life cycle --------- */

iommu_t *iommu_create(const struct iommu_cfg *cfg, iommu_physmem_t *mem, iommu_stats_t *stats)
{
    if (iommu_cfg_validate(cfg, NULL, NULL) != IOMMU_OK || !mem || !stats)
        return NULL;
    iommu_t *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->cfg = *cfg;
    u->mem = mem;
    u->stats = stats;
    u->tes = cfg->translation_enabled;
    u->cc = iommu_cache_create(&cfg->context_cache, sizeof(struct cc_payload));
    u->pc = iommu_cache_create(&cfg->pasid_cache, sizeof(struct iommu_ctx));
    u->iec = iommu_cache_create(&cfg->iec, 16); /* payload: the 128-bit IRTE */
    u->iotlb = iommu_iotlb_create(&cfg->iotlb);
    u->pwc = iommu_pwc_create(&cfg->pwc);
    u->frcd = calloc(cfg->nfr, sizeof *u->frcd);
    iommu_cfg_ctx_params(cfg, 0, &u->cp);
    if (!u->cc || !u->pc || !u->iec || !u->iotlb || !u->pwc || !u->frcd || !register_stats(u)) {
        iommu_destroy(u);
        return NULL;
    }
    return u;
}

void iommu_destroy(iommu_t *u)
{
    if (!u)
        return;
    iommu_cache_destroy(u->cc);
    iommu_cache_destroy(u->pc);
    iommu_cache_destroy(u->iec);
    iommu_iotlb_destroy(u->iotlb);
    iommu_pwc_destroy(u->pwc);
    free(u->frcd);
    free(u);
}

const struct iommu_cfg *iommu_config(const iommu_t *u) { return &u->cfg; }
iommu_iotlb_t *iommu_iotlb(iommu_t *u) { return u->iotlb; }
iommu_pwc_t *iommu_pwc(iommu_t *u) { return u->pwc; }
iommu_cache_t *iommu_context_cache(iommu_t *u) { return u->cc; }
iommu_cache_t *iommu_pasid_cache(iommu_t *u) { return u->pc; }
iommu_cache_t *iommu_iec(iommu_t *u) { return u->iec; }

void iommu_set_root_table(iommu_t *u, uint64_t rtaddr)
{
    u->rtaddr = rtaddr;
    u->cp.rtaddr = rtaddr;
}

void iommu_set_translation_enabled(iommu_t *u, bool enabled) { u->tes = enabled; }

/* ---------------------------------------------------------------- faults ------------- */

uint32_t iommu_fault_status(const iommu_t *u)
{
    uint32_t v = (uint32_t)(u->fri & 0xFFu) << IOMMU_FSTS_FRI_SHIFT;
    if (u->pfo)
        v |= IOMMU_FSTS_PFO;
    for (unsigned i = 0; i < u->cfg.nfr; i++)
        if (u->frcd[i].f) {
            v |= IOMMU_FSTS_PPF;
            break;
        }
    return v;
}

const struct iommu_fault_record *iommu_fault_get(const iommu_t *u, unsigned index)
{
    return index < u->cfg.nfr ? &u->frcd[index] : NULL;
}

void iommu_fault_clear(iommu_t *u, unsigned index)
{
    if (index < u->cfg.nfr)
        u->frcd[index].f = false;
}

unsigned iommu_fault_service(iommu_t *u, void (*fn)(const struct iommu_fault_record *, void *),
                             void *ctx)
{
    unsigned n = 0;
    for (unsigned i = 0; i < u->cfg.nfr; i++) {
        if (!u->frcd[i].f)
            continue;
        if (fn)
            fn(&u->frcd[i], ctx);
        u->frcd[i].f = false;
        n++;
    }
    u->pfo = false; /* the handler also clears PFO (write 1 to clear) */
    return n;
}

/* Counts a fault and records it unless FPD (fpd) suppresses it. */
IOMMU_COLD void fault(iommu_t *u, struct iommu_op *op, uint8_t reason, bool fpd)
{
    op->fault_reason = reason;
    op->fault_recorded = false;
    count3(u, op, XC_FAULTS, 1);
    uint64_t *rc = reason_counter(u, reason);
    if (rc)
        (*rc)++;
    if (fpd) {
        (*u->faults_suppressed)++;
        return;
    }
    struct iommu_fault_record *r = &u->frcd[u->fri];
    if (r->f) {
        u->pfo = true;
        (*u->faults_overflow)++;
        return;
    }
    const struct iommu_req *q = &op->req;
    memset(r, 0, sizeof *r);
    r->f = true;
    r->reason = reason;
    r->sid = q->sid;
    r->is_read = !(q->access & IOMMU_ACC_W);
    r->priv = (q->access & IOMMU_ACC_PRIV) != 0;
    r->exe = (q->access & IOMMU_ACC_X) != 0;
    r->pp = q->pasid != IOMMU_PASID_NONE;
    r->pasid = r->pp ? q->pasid : 0;
    r->fi = op->cur_iova & ~0xFFFull;
    u->fri = (u->fri + 1) % u->cfg.nfr;
    op->fault_recorded = true;
    (*u->faults_recorded)++;
}

bool iommu_fault_record_other(iommu_t *u, const struct iommu_fault_record *rec)
{
    struct iommu_fault_record *r = &u->frcd[u->fri];
    if (r->f) {
        u->pfo = true;
        (*u->faults_overflow)++;
        return false;
    }
    *r = *rec;
    r->f = true;
    u->fri = (u->fri + 1) % u->cfg.nfr;
    (*u->faults_recorded)++;
    return true;
}

/* ---------------------------------------------------------------- translation -------- */

static inline struct iommu_step step_of(uint8_t kind)
{
    struct iommu_step s = {kind, 0, 0, 0};
    return s;
}

/* True when perm grants every access kind requested (and a supervisor-only page is not
 * reached by a user request): the common case, decided without the fault-reason ladder of
 * iommu_perm_check. */
static inline bool perm_ok(uint8_t access, iommu_perm_t perm)
{
    const uint8_t need = access & (IOMMU_ACC_R | IOMMU_ACC_W | IOMMU_ACC_X);
    return !(need & ~perm) && !(perm & IOMMU_ACC_PRIV & ~access);
}

/* Counts a finished translation chunk from its report, once the domain is known. */
IOMMU_HOT_INLINE void account(iommu_t *u, struct iommu_op *op)
{
    const struct iommu_op_report *r = &op->report;
    count3(u, op, XC_TRANSLATIONS, 1);
    if (r->cc_lookup) {
        if (r->cc_hit)
            count3(u, op, XC_CC_HITS, 1);
        else
            count3(u, op, XC_CC_MISSES, 1);
    }
    if (r->pc_lookup)
        (*(r->pc_hit ? u->pc_hits : u->pc_misses))++;
    if (r->iotlb_lookup) {
        if (r->iotlb_hit)
            count3(u, op, XC_IOTLB_HITS, 1);
        else
            count3(u, op, XC_IOTLB_MISSES, 1);
    }
    if (r->walked)
        count3(u, op, XC_WALK_READS, r->walk_reads);
}

/* Finishes the current chunk as translated by a page of 1 << shift bytes at page_pa: the
 * chunk runs to the end of that page or of the request, whichever comes first. */
static inline struct iommu_step chunk_done(struct iommu_op *op, uint64_t page_pa, unsigned shift,
                                           iommu_perm_t perm)
{
    const uint64_t iova = op->cur_iova;
    const uint64_t mask = (1ull << shift) - 1;
    const uint64_t room = mask - (iova & mask) + 1; /* bytes to the page's end, >= 1 */
    const uint64_t len = op->remaining < room ? op->remaining : room;
    op->xlat.iova = iova;
    op->xlat.len = len;
    op->xlat.pa = page_pa | (iova & mask);
    op->xlat.page_shift = (uint8_t)shift;
    op->xlat.perm = perm;
    op->remaining -= len;
    op->state = ST_IDLE;
    return step_of(IOMMU_STEP_DONE);
}

IOMMU_COLD struct iommu_step chunk_fault(iommu_t *u, struct iommu_op *op, uint8_t reason, bool fpd)
{
    account(u, op);
    fault(u, op, reason, fpd);
    op->remaining = 0;
    op->state = ST_IDLE;
    return step_of(IOMMU_STEP_FAULT);
}

/* A translated chunk: counted, then done. */
IOMMU_HOT_INLINE struct iommu_step xlat_done(iommu_t *u, struct iommu_op *op, uint64_t page_pa,
                                   unsigned shift, iommu_perm_t perm)
{
    account(u, op);
    return chunk_done(op, page_pa, shift, perm);
}

static struct iommu_step read_step(uint8_t what, uint8_t size, uint64_t addr)
{
    struct iommu_step s = {IOMMU_STEP_READ, what, size, addr};
    return s;
}

IOMMU_NOINLINE struct iommu_step start_walk(iommu_t *u, struct iommu_op *op);

/* The context of the chunk is known: c is either op->ctx or a context-cache payload, read
 * only before anything can change the caches; a walk keeps its own copy in op->ctx (it
 * outlives this call when the TLM layer resumes it later). */
/* The context is known: pass-through, IOTLB, or walk. */
IOMMU_COLD struct iommu_step ats_request(iommu_t *u, struct iommu_op *op,
                                                const struct iommu_ctx *c)
{
    if (!c->dev_tlb)
        return chunk_fault(u, op, IOMMU_FR_TT_BLOCKED, c->fpd);
    (*u->ats_translated)++;
    op->xlat.passthrough = true; /* the device translated it with its device-TLB */
    return xlat_done(u, op, op->cur_iova & ~0xFFFull, 12, IOMMU_ACC_R | IOMMU_ACC_W);
}

IOMMU_HOT_INLINE struct iommu_step after_ctx(iommu_t *u, struct iommu_op *op, const struct iommu_ctx *c)
{
    op->xlat.did = c->did;
    op->dom = dom_block(u, c->did);
    if (__builtin_expect((op->req.flags & (IOMMU_REQ_ATS_TRANSLATE | IOMMU_REQ_ATS_TRANSLATED)) != 0, 0)) {
        if (op->req.flags & IOMMU_REQ_ATS_TRANSLATED)
            return ats_request(u, op, c);
        if (!c->dev_tlb)
            return chunk_fault(u, op, IOMMU_FR_TT_BLOCKED, c->fpd);
        (*u->ats_requests)++;
    }
    if (c->mode == IOMMU_MODE_PT) {
        (*u->passthrough)++;
        op->xlat.passthrough = true;
        return xlat_done(u, op, op->cur_iova & ~0xFFFull, 12, IOMMU_ACC_R | IOMMU_ACC_W);
    }
    const uint8_t rq = iommu_ctx_request_check(c, u->cfg.scalable_mode, op->req.access);
    if (rq)
        return chunk_fault(u, op, rq, c->fpd);
    op->tag_pasid = c->mode == IOMMU_MODE_SL ? IOMMU_PASID_NONE : op->ctx_pasid_tag;
    op->report.iotlb_lookup = true;
    const struct iommu_iotlb_entry *e =
        iommu_iotlb_lookup(u->iotlb, c->did, op->tag_pasid, op->cur_iova);
    if (e) {
        op->report.iotlb_hit = true;
        if (!perm_ok(op->req.access, e->perm)) {
            const uint8_t fr = u->cfg.scalable_mode ? iommu_perm_check_sm(op->req.access, e->perm)
                                                    : iommu_perm_check(op->req.access, e->perm);
            if (fr)
                return chunk_fault(u, op, fr, c->fpd);
        }
        return xlat_done(u, op, e->pa, e->page_shift, e->perm);
    }
    if (c != &op->ctx)
        op->ctx = *c;
    if (op->req.flags & IOMMU_REQ_DEFER_WALK) {
        op->state = ST_WALK_PENDING;
        return step_of(IOMMU_STEP_WALK);
    }
    return start_walk(u, op);
}

static struct iommu_step walk_result(iommu_t *u, struct iommu_op *op, enum iommu_walk_rc rc)
{
    struct iommu_walk *w = &op->w;
    if (rc == IOMMU_WALK_NEED_READ) {
        op->state = ST_WALK;
        return read_step(w->read_kind, 8, w->read_addr);
    }
    op->report.walk_reads = w->mem_reads;
    memcpy(op->report.pwc_hits, w->pwc_hits, sizeof op->report.pwc_hits);
    iommu_hist_add(u->walk_reads_hist, w->mem_reads);
    for (int l = 0; l < IOMMU_PWC_NLEVELS; l++) {
        *u->pwc_hits[l] += w->pwc_hits[l];
        *u->pwc_misses[l] += w->pwc_misses[l];
    }
    if (rc == IOMMU_WALK_FAULT)
        return chunk_fault(u, op, w->fault_reason, op->ctx.fpd);
    const uint64_t page_pa = w->pa & ~((1ull << w->page_shift) - 1);
    struct iommu_iotlb_entry e = {page_pa, w->page_shift, w->perm};
    iommu_iotlb_insert(u->iotlb, op->ctx.did, op->tag_pasid, op->cur_iova, &e);
    (*u->iotlb_fills)++;
    return xlat_done(u, op, page_pa, w->page_shift, w->perm);
}

IOMMU_NOINLINE struct iommu_step start_walk(iommu_t *u, struct iommu_op *op)
{
    struct iommu_walk_params p;
    iommu_ctx_walk_params(&op->ctx, u->cfg.scalable_mode, u->cfg.haw, u->cfg.sllps_2m,
                          u->cfg.sllps_1g, u->cfg.fl_1g, op->tag_pasid, &p);
    op->report.walked = true;
    (*u->walks)++;
    return walk_result(u, op, iommu_walk_begin(&op->w, &p, u->pwc, op->cur_iova, op->req.access));
}

IOMMU_COLD struct iommu_step ctx_result(iommu_t *u, struct iommu_op *op, enum iommu_walk_rc rc)
{
    struct iommu_ctxwalk *cw = &op->cw;
    if (rc == IOMMU_WALK_NEED_READ) {
        op->state = ST_CTX;
        return read_step(cw->read_kind, cw->read_size, cw->read_addr);
    }
    op->report.ctx_reads = cw->mem_reads;
    *u->ctx_mem_reads += cw->mem_reads;
    if (rc == IOMMU_WALK_FAULT)
        return chunk_fault(u, op, cw->fault_reason, cw->fault_fpd);
    const iommu_sid_t sid = op->req.sid;
    if (!u->cfg.scalable_mode) {
        struct iommu_cache_key k = {0, sid};
        struct cc_payload *pl = iommu_cache_insert(u->cc, sid, &k, NULL);
        if (pl)
            pl->ctx = cw->ctx;
    } else {
        if (op->report.cc_lookup && !op->report.cc_hit && cw->have_sm_ctx) {
            struct iommu_cache_key k = {0, sid};
            struct cc_payload *pl = iommu_cache_insert(u->cc, sid, &k, NULL);
            if (pl)
                pl->sm = cw->sm_ctx;
        }
        struct iommu_cache_key k = {cw->pasid, sid};
        struct iommu_ctx *pc = iommu_cache_insert(u->pc, sid ^ cw->pasid, &k, NULL);
        if (pc)
            *pc = cw->ctx;
    }
    op->ctx = cw->ctx;
    op->ctx_pasid_tag = cw->pasid;
    op->have_ctx = true;
    return after_ctx(u, op, &op->ctx);
}

/* Resolves the context of the current chunk through the caches, or starts the fetch. */
IOMMU_HOT_INLINE struct iommu_step resolve_ctx(iommu_t *u, struct iommu_op *op)
{
    const iommu_sid_t sid = op->req.sid;
    struct iommu_cache_key k = {0, sid};
    if (!u->cfg.scalable_mode) {
        op->report.cc_lookup = true;
        const struct cc_payload *pl = iommu_cache_lookup(u->cc, sid, &k);
        if (pl) {
            op->report.cc_hit = true;
            op->ctx_pasid_tag = IOMMU_PASID_NONE;
            op->have_ctx = true;
            return after_ctx(u, op, &pl->ctx);
        }
        return ctx_result(u, op, iommu_ctxwalk_begin(&op->cw, &u->cp, sid, op->req.pasid, NULL));
    }
    /* Scalable mode: the PASID cache first (tagged with the request's PASID, or RID_PASID
     * which is only known from the context entry: requests without PASID look the context
     * cache up first). */
    const struct iommu_sm_ctx *sm = NULL;
    iommu_pasid_t pasid = op->req.pasid;
    if (pasid == IOMMU_PASID_NONE) {
        op->report.cc_lookup = true;
        const struct cc_payload *pl = iommu_cache_lookup(u->cc, sid, &k);
        if (pl) {
            op->report.cc_hit = true;
            sm = &pl->sm;
            pasid = pl->sm.rid_pasid;
        } else {
            }
    }
    if (pasid != IOMMU_PASID_NONE) {
        struct iommu_cache_key pk = {pasid, sid};
        op->report.pc_lookup = true;
        const struct iommu_ctx *c = iommu_cache_lookup(u->pc, sid ^ pasid, &pk);
        if (c) {
            op->report.pc_hit = true;
            op->ctx_pasid_tag = pasid;
            op->have_ctx = true;
            return after_ctx(u, op, c);
        }
        if (!sm && !op->report.cc_lookup) {
            op->report.cc_lookup = true;
            const struct cc_payload *pl = iommu_cache_lookup(u->cc, sid, &k);
            if (pl) {
                op->report.cc_hit = true;
                    sm = &pl->sm;
            } else {
                    }
        }
    }
    return ctx_result(u, op, iommu_ctxwalk_begin(&op->cw, &u->cp, sid, op->req.pasid, sm));
}

IOMMU_HOT_INLINE struct iommu_step start_chunk(iommu_t *u, struct iommu_op *op)
{
    memset(&op->report, 0, sizeof op->report);
    op->xlat.interrupt = op->xlat.passthrough = false;
    op->fault_reason = 0;
    op->fault_recorded = false;
    const uint64_t iova = op->cur_iova;
    if (op->req.pasid == IOMMU_PASID_NONE && iova >= IOMMU_IRQ_RANGE_BASE &&
        iova <= IOMMU_IRQ_RANGE_LAST) {
        /* VT-d 3.14: requests without PASID to 0xFEEx_xxxx are interrupt requests (writes)
         * and are never address-translated; reads there are blocked. */
        if (op->req.access & IOMMU_ACC_W) {
            (*u->irq_writes)++;
            op->xlat.interrupt = true;
            op->state = ST_IDLE;
            return chunk_done(op, iova & ~0xFFFull, 12, IOMMU_ACC_W);
        }
        (*u->irq_reads_blocked)++;
        op->remaining = 0;
        op->fault_reason = 0;
        op->state = ST_IDLE;
        return step_of(IOMMU_STEP_FAULT);
    }
    if (!u->tes) {
        (*u->untranslated)++;
        op->xlat.passthrough = true;
        return xlat_done(u, op, iova & ~0xFFFull, 12, IOMMU_ACC_R | IOMMU_ACC_W | IOMMU_ACC_X);
    }
    /* every chunk is a separate translation request in hardware: the context is looked up
     * again (a context-cache hit after the first chunk) */
    op->have_ctx = false;
    return resolve_ctx(u, op);
}

struct iommu_step iommu_translate_begin(iommu_t *u, struct iommu_op *op, const struct iommu_req *req)
{
    op->req = *req;
    op->cur_iova = req->iova;
    op->remaining = req->len;
    op->have_ctx = false;
    op->dev = dev_block(u, req->sid);
    op->dom = u->sink;
    (*u->requests)++;
    if (req->len > 1 && ((req->iova ^ (req->iova + req->len - 1)) >> 12))
        (*u->requests_split)++; /* crosses a 4 KB boundary; may still be one large page */
    return start_chunk(u, op);
}

struct iommu_step iommu_op_start_walk(iommu_t *u, struct iommu_op *op)
{
    assert(op->state == ST_WALK_PENDING);
    return start_walk(u, op);
}

void iommu_op_walk_key(const struct iommu_op *op, uint64_t key[2])
{
    key[0] = (uint64_t)op->ctx.did << 32 | (uint64_t)(op->tag_pasid & 0xFFFFFFFFu);
    key[1] = op->cur_iova >> 12;
}

struct iommu_step iommu_op_join(iommu_t *u, struct iommu_op *op, const struct iommu_op *leader)
{
    assert(op->state == ST_WALK_PENDING);
    const struct iommu_xlat *x = &leader->xlat;
    const uint64_t mask = (1ull << x->page_shift) - 1;
    const uint64_t page_pa = x->pa & ~mask;
    (*u->walks_coalesced)++;
    if (!perm_ok(op->req.access, x->perm)) {
        const uint8_t fr = u->cfg.scalable_mode ? iommu_perm_check_sm(op->req.access, x->perm)
                                                : iommu_perm_check(op->req.access, x->perm);
        if (fr)
            return chunk_fault(u, op, fr, op->ctx.fpd);
    }
    return xlat_done(u, op, page_pa, x->page_shift, x->perm);
}

struct iommu_step iommu_op_next_chunk(iommu_t *u, struct iommu_op *op)
{
    op->cur_iova = op->xlat.iova + op->xlat.len;
    return start_chunk(u, op);
}

struct iommu_step iommu_op_resume(iommu_t *u, struct iommu_op *op, const uint64_t *data)
{
    if (op->state == ST_WALK)
        return walk_result(u, op, iommu_walk_resume(&op->w, data[0]));
    return ctx_result(u, op, iommu_ctxwalk_resume(&op->cw, data));
}

uint32_t iommu_translate_functional(iommu_t *u, struct iommu_op *op, const struct iommu_req *req,
                                    iommu_chunk_fn on_chunk, void *ctx)
{
    uint64_t buf[8];
    uint32_t n = 0;
    struct iommu_step s = iommu_translate_begin(u, op, req);
    for (;;) {
        while (s.kind == IOMMU_STEP_READ) {
            if (s.size == 8)
                buf[0] = iommu_physmem_read64(u->mem, s.addr);
            else
                iommu_physmem_read(u->mem, s.addr, buf, s.size);
            s = iommu_op_resume(u, op, buf);
        }
        n++;
        if (s.kind == IOMMU_STEP_FAULT) {
            if (on_chunk)
                on_chunk(op, true, ctx);
            return n;
        }
        if (on_chunk)
            on_chunk(op, false, ctx);
        if (!op->remaining)
            return n;
        s = iommu_op_next_chunk(u, op);
    }
}

/* ---------------------------------------------------------------- invalidation ------- */

static bool cc_match_did(const struct iommu_cache_key *k, const void *p, void *ctx)
{
    (void)k;
    return ((const struct cc_payload *)p)->ctx.did == *(const iommu_did_t *)ctx;
}

static bool pc_match_did(const struct iommu_cache_key *k, const void *p, void *ctx)
{
    (void)k;
    return ((const struct iommu_ctx *)p)->did == *(const iommu_did_t *)ctx;
}

struct did_pasid { iommu_did_t did; iommu_pasid_t pasid; };

static bool pc_match_did_pasid(const struct iommu_cache_key *k, const void *p, void *ctx)
{
    const struct did_pasid *m = ctx;
    return ((const struct iommu_ctx *)p)->did == m->did && k->hi == m->pasid;
}

uint32_t iommu_inv_context_global(iommu_t *u)
{
    return iommu_cache_invalidate(u->cc, NULL, NULL) + iommu_cache_invalidate(u->pc, NULL, NULL);
}

uint32_t iommu_inv_context_domain(iommu_t *u, iommu_did_t did)
{
    if (u->cfg.scalable_mode) /* scalable context entries carry no DID: drop them all */
        return iommu_cache_invalidate(u->cc, NULL, NULL) +
               iommu_cache_invalidate(u->pc, pc_match_did, &did);
    return iommu_cache_invalidate(u->cc, cc_match_did, &did);
}

static bool cc_match_sid(const struct iommu_cache_key *k, const void *p, void *ctx)
{
    (void)p;
    return k->lo == *(const iommu_sid_t *)ctx;
}

uint32_t iommu_inv_context_device(iommu_t *u, iommu_sid_t sid)
{
    return iommu_cache_invalidate(u->cc, cc_match_sid, &sid) +
           iommu_cache_invalidate(u->pc, cc_match_sid, &sid);
}

uint32_t iommu_inv_iotlb_global(iommu_t *u)
{
    iommu_pwc_inv_global(u->pwc);
    return iommu_iotlb_inv_global(u->iotlb);
}

uint32_t iommu_inv_iotlb_domain(iommu_t *u, iommu_did_t did)
{
    iommu_pwc_inv_domain(u->pwc, did);
    return iommu_iotlb_inv_domain(u->iotlb, did);
}

uint32_t iommu_inv_iotlb_page(iommu_t *u, iommu_did_t did, uint64_t addr, unsigned am, bool ih)
{
    if (!ih) { /* VT-d 6.5.1.2: without IH, paging-structure entries for the range go too */
        if (12u + am >= 64)
            iommu_pwc_inv_domain(u->pwc, did);
        else
            iommu_pwc_inv_range(u->pwc, did, addr & ~((1ull << (12 + am)) - 1), 1ull << (12 + am));
    }
    return iommu_iotlb_inv_page(u->iotlb, did, addr, am);
}

uint32_t iommu_inv_pasid_iotlb(iommu_t *u, iommu_did_t did, iommu_pasid_t pasid)
{
    iommu_pwc_inv_domain(u->pwc, did);
    return iommu_iotlb_inv_pasid(u->iotlb, did, pasid);
}

uint32_t iommu_inv_pasid_cache(iommu_t *u, iommu_did_t did, iommu_pasid_t pasid)
{
    struct did_pasid m = {did, pasid};
    return iommu_cache_invalidate(u->pc, pc_match_did_pasid, &m);
}

uint32_t iommu_inv_iec_global(iommu_t *u) { return iommu_cache_invalidate(u->iec, NULL, NULL); }

struct iec_range { uint64_t lo, hi; };

static bool iec_match_range(const struct iommu_cache_key *k, const void *p, void *ctx)
{
    (void)p;
    const struct iec_range *r = ctx;
    return k->lo >= r->lo && k->lo < r->hi;
}

uint32_t iommu_inv_iec_index(iommu_t *u, uint32_t index, unsigned im)
{
    uint64_t n = 1ull << (im > 32 ? 32 : im);
    struct iec_range r = {index & ~(n - 1), (index & ~(n - 1)) + n};
    return iommu_cache_invalidate(u->iec, iec_match_range, &r);
}

uint32_t iommu_inv_pasid_iotlb_page(iommu_t *u, iommu_did_t did, iommu_pasid_t pasid,
                                    uint64_t addr, unsigned am, bool ih)
{
    if (!ih) {
        if (12u + am >= 64)
            iommu_pwc_inv_pasid(u->pwc, did, pasid);
        else
            iommu_pwc_inv_pasid_range(u->pwc, did, pasid, addr & ~((1ull << (12 + am)) - 1),
                                      1ull << (12 + am));
    }
    return iommu_iotlb_inv_pasid_page(u->iotlb, did, pasid, addr, am);
}
