/*
 * iommu.h — the VT-d translation unit: it composes the context cache, PASID cache, IOTLB,
 * paging-structure caches, the context fetch and the page walk, and records faults.
 *
 * Untimed and step-wise (DESIGN.md §1): a translation is an operation that asks for one
 * memory read at a time and is resumed with the bytes read. The functional driver
 * (iommu_translate_functional) loops against physical memory; the TLM layer turns each read
 * into a timed socket read and charges latencies from what the operation reports (which
 * caches hit, how many reads). A request is translated page by page: a request that crosses
 * a page boundary is split into chunks at the boundaries of the pages that map it, each
 * chunk one translation; a chunk that faults ends the request.
 *
 * Statistics are registered in the caller's registry under the names in docs/stats.md:
 * global counters plus per_device.<bdf>.* and per_domain.<did>.* breakdowns.
 */
#ifndef IOMMU_IOMMU_IOMMU_H
#define IOMMU_IOMMU_IOMMU_H

#include "../common/physmem.h"
#include "../common/stats.h"
#include "../iotlb/iotlb.h"
#include "../iotlb/pwc.h"
#include "../walker/context.h"
#include "../walker/walk.h"
#include "fault.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Architectural configuration of the unit (what CAP/ECAP report) and its cache geometry. */
struct iommu_cfg {
    /* mode and translation */
    bool scalable_mode;       /* RTADDR_REG.TTM = 01b (needs ECAP.SMTS, reported set)    */
    bool translation_enabled; /* GSTS.TES: when clear, DMA passes untranslated           */
    uint8_t mgaw;             /* CAP.MGAW: maximum guest address width (bits)            */
    uint8_t haw;              /* host address width (platform MAXPHYADDR)                */
    uint8_t sagaw;            /* CAP.SAGAW bitmap: bit1 3-level, bit2 4-level, bit3 5-level */
    bool sllps_2m, sllps_1g;  /* CAP.SLLPS                                              */
    bool fl_1g, fl_5level;    /* CAP.FL1GP, CAP.FL5LP                                    */
    uint8_t nd;               /* CAP.ND: 4 + 2*nd domain-id bits                         */
    uint16_t nfr;             /* number of fault-recording registers (CAP.NFR + 1)       */
    uint16_t fro;             /* fault-recording register offset in bytes (CAP.FRO * 16) */
    uint16_t iro;             /* IOTLB register offset in bytes (ECAP.IRO * 16)           */
    uint8_t mamv;             /* CAP.MAMV: maximum address-mask value                    */
    bool caching_mode, rwbf, psi, zlr, plmr, phmr, dwd, drd, pi;
    bool coherent, qi, dev_tlb, ir, eim, pass_through, snoop_control, nested, pasid, fl, sl;
    uint8_t pasid_bits;       /* ECAP.PSS + 1                                            */
    uint8_t mhmv;             /* ECAP.MHMV                                               */
    /* caches */
    struct iommu_cache_cfg context_cache; /* tag: source-id                              */
    struct iommu_cache_cfg pasid_cache;   /* tag: source-id + PASID (scalable mode)      */
    struct iommu_cache_cfg iec;           /* interrupt-entry cache (tag: interrupt index);
                                           * filled by interrupt remapping, emptied by IEC
                                           * invalidations                               */
    struct iommu_iotlb_cfg iotlb;
    struct iommu_pwc_cfg pwc;
};
void iommu_cfg_default(struct iommu_cfg *cfg);
/* On error returns IOMMU_ERR_INVAL with *key = the config key ("iommu.sagaw") and *why a
 * one-line reason. */
enum iommu_status iommu_cfg_validate(const struct iommu_cfg *cfg, const char **key,
                                     const char **why);
/* Walk parameters implied by a context (for tests and the TLM layer). */
void iommu_cfg_ctx_params(const struct iommu_cfg *cfg, uint64_t rtaddr,
                          struct iommu_ctx_params *out);

typedef struct iommu iommu_t;

iommu_t *iommu_create(const struct iommu_cfg *cfg, iommu_physmem_t *mem, iommu_stats_t *stats);
void iommu_destroy(iommu_t *u); /* accepts NULL */
const struct iommu_cfg *iommu_config(const iommu_t *u);

/* Programs RTADDR_REG and performs SRTP (the context caches are not flushed: software must
 * invalidate them, as on real hardware). */
void iommu_set_root_table(iommu_t *u, uint64_t rtaddr);
void iommu_set_translation_enabled(iommu_t *u, bool enabled);

/* A DMA request as it reaches the unit (requester id as seen on the bus). */
struct iommu_req {
    iommu_sid_t sid;
    iommu_pasid_t pasid; /* IOMMU_PASID_NONE when the request carries none */
    uint64_t iova;
    uint64_t len;        /* bytes, >= 1 */
    uint8_t access;      /* enum iommu_access bits */
    uint8_t flags;       /* enum iommu_req_flags */
};

enum iommu_req_flags {
    /* Stop after an IOTLB miss with IOMMU_STEP_WALK instead of starting the walk, so the
     * caller can coalesce misses: iommu_op_start_walk, or iommu_op_join a walk in flight. */
    IOMMU_REQ_DEFER_WALK = 1u << 0,
    /* PCIe ATS (VT-d 4.2): a translation request (AT = 01b) returns the translation of the
     * chunk (op->xlat) and accesses no memory; a translated request (AT = 10b) carries a
     * host-physical address and passes untranslated. Both need a context that allows
     * device-TLBs (legacy TT = 01b; scalable DTE), else fault 0xD (translation type blocked). */
    IOMMU_REQ_ATS_TRANSLATE = 1u << 1,
    IOMMU_REQ_ATS_TRANSLATED = 1u << 2,
};

enum iommu_step_kind {
    IOMMU_STEP_READ = 0,  /* read `size` bytes at `addr`, then iommu_op_resume      */
    IOMMU_STEP_DONE = 1,  /* the current chunk is translated (op->xlat)            */
    IOMMU_STEP_FAULT = 2, /* the current chunk faulted (op->fault_reason); request ends */
    IOMMU_STEP_WALK = 3,  /* IOTLB miss (IOMMU_REQ_DEFER_WALK only): the walk is the caller's
                           * call — iommu_op_start_walk or iommu_op_join                    */
};
/* What a read is for (enum iommu_ctxwalk_read_kind or enum iommu_walk_read_kind). */
struct iommu_step {
    uint8_t kind; /* enum iommu_step_kind */
    uint8_t what; /* READ: what is read */
    uint8_t size; /* READ: bytes (8, 16, 32 or 64) */
    uint64_t addr;
};

/* Outcome of one chunk. */
struct iommu_xlat {
    uint64_t iova;       /* chunk start                                  */
    uint64_t len;        /* chunk bytes                                  */
    uint64_t pa;         /* translated address of iova                   */
    uint8_t page_shift;  /* size of the page that translated it          */
    iommu_did_t did;     /* domain of the context that translated it     */
    iommu_perm_t perm;
    bool interrupt;      /* a write to the interrupt range: an MSI, not translated */
    bool passthrough;    /* untranslated: pass-through context or TES = 0 */
};

/* How a chunk was resolved (for the TLM layer's latencies and for stats). */
struct iommu_op_report {
    bool cc_lookup, cc_hit;       /* context cache consulted / hit          */
    bool pc_lookup, pc_hit;       /* PASID cache consulted / hit            */
    bool iotlb_lookup, iotlb_hit; /* IOTLB consulted / hit                  */
    bool walked;                  /* a page walk ran                        */
    uint16_t ctx_reads;           /* root/context/PASID-table reads         */
    uint16_t walk_reads;          /* paging-entry reads                     */
    uint16_t pwc_hits[IOMMU_PWC_NLEVELS];
};

/* One in-flight request. Caller-owned; fields below "private" belong to iommu.c. */
struct iommu_op {
    struct iommu_req req;
    struct iommu_xlat xlat;          /* after DONE                          */
    uint8_t fault_reason;            /* after FAULT (0 = blocked without a fault record) */
    bool fault_recorded;             /* after FAULT: a fault record was written */
    struct iommu_op_report report;   /* of the current chunk                */
    uint64_t remaining;              /* bytes after the current chunk       */
    /* private */
    uint8_t state;
    bool have_ctx;
    struct iommu_ctx ctx;            /* copy of the context while a walk is in flight */
    iommu_pasid_t tag_pasid;        /* PASID tag of IOTLB/PWC entries for this context */
    iommu_pasid_t ctx_pasid_tag;    /* effective PASID of the context (RID_PASID substituted) */
    uint64_t cur_iova;
    uint64_t *dev, *dom;             /* per-device / per-domain counter blocks */
    struct iommu_ctxwalk cw;
    struct iommu_walk w;
};

/* Starts translating req: returns the first step of its first chunk. */
struct iommu_step iommu_translate_begin(iommu_t *u, struct iommu_op *op,
                                        const struct iommu_req *req);
/* Resumes after a READ step with the bytes read (size/8 little-endian words). */
struct iommu_step iommu_op_resume(iommu_t *u, struct iommu_op *op, const uint64_t *data);
/* After IOMMU_STEP_WALK: starts the page walk of the current chunk. */
struct iommu_step iommu_op_start_walk(iommu_t *u, struct iommu_op *op);
/* After IOMMU_STEP_WALK: completes the current chunk with the translation another op's walk
 * for the same page produced (leader finished with DONE on a chunk covering op's address in
 * the same domain and PASID): the permissions are checked for op's own access, no walk is
 * counted for op, walk.coalesced is. */
struct iommu_step iommu_op_join(iommu_t *u, struct iommu_op *op, const struct iommu_op *leader);
/* The coalescing key of a chunk that stopped with IOMMU_STEP_WALK: domain, PASID tag and
 * 4 KB page (two ops with equal keys need the same walk). */
void iommu_op_walk_key(const struct iommu_op *op, uint64_t key[2]);

/* After DONE with op->remaining > 0: starts the next chunk. */
struct iommu_step iommu_op_next_chunk(iommu_t *u, struct iommu_op *op);

/* Functional driver: translates the whole request against physical memory, calling
 * on_chunk (may be NULL) after every chunk. Returns the number of chunks translated; on a
 * fault op->fault_reason is set and the rest of the request is dropped. */
typedef void (*iommu_chunk_fn)(const struct iommu_op *op, bool faulted, void *ctx);
uint32_t iommu_translate_functional(iommu_t *u, struct iommu_op *op, const struct iommu_req *req,
                                    iommu_chunk_fn on_chunk, void *ctx);

/* Cache invalidation (register-based or by a queued descriptor; the queue itself arrives with
 * the invalidation issue). Return entries removed. */
uint32_t iommu_inv_context_global(iommu_t *u);
uint32_t iommu_inv_context_domain(iommu_t *u, iommu_did_t did);
uint32_t iommu_inv_context_device(iommu_t *u, iommu_sid_t sid);
uint32_t iommu_inv_iotlb_global(iommu_t *u);
uint32_t iommu_inv_iotlb_domain(iommu_t *u, iommu_did_t did);
/* Page-selective: 2^am pages at addr; ih (invalidation hint) keeps paging-structure entries. */
uint32_t iommu_inv_iotlb_page(iommu_t *u, iommu_did_t did, uint64_t addr, unsigned am, bool ih);
uint32_t iommu_inv_pasid_iotlb(iommu_t *u, iommu_did_t did, iommu_pasid_t pasid);
uint32_t iommu_inv_pasid_cache(iommu_t *u, iommu_did_t did, iommu_pasid_t pasid);
/* PASID-based page-selective: 2^am pages at addr of one PASID. */
uint32_t iommu_inv_pasid_iotlb_page(iommu_t *u, iommu_did_t did, iommu_pasid_t pasid,
                                    uint64_t addr, unsigned am, bool ih);
/* Interrupt-entry cache: everything, or the 2^im entries from index (aligned down). */
uint32_t iommu_inv_iec_global(iommu_t *u);
uint32_t iommu_inv_iec_index(iommu_t *u, uint32_t index, unsigned im);

/* Fault-recording registers. */
uint32_t iommu_fault_status(const iommu_t *u); /* FSTS_REG */
const struct iommu_fault_record *iommu_fault_get(const iommu_t *u, unsigned index);
void iommu_fault_clear(iommu_t *u, unsigned index); /* write 1 to F */
/* Records a fault detected outside DMA translation (interrupt remapping) in the next
 * fault-recording register, with the same overflow (PFO) rule; counted in faults.recorded /
 * faults.overflow (not in faults.total, which counts DMA faults). Returns true if recorded. */
bool iommu_fault_record_other(iommu_t *u, const struct iommu_fault_record *r);
/* Reads and clears every pending record, as a fault handler does; returns how many. */
unsigned iommu_fault_service(iommu_t *u, void (*fn)(const struct iommu_fault_record *, void *),
                             void *ctx);

/* Cache instances, for tests and stats. */
iommu_iotlb_t *iommu_iotlb(iommu_t *u);
iommu_pwc_t *iommu_pwc(iommu_t *u);
iommu_cache_t *iommu_context_cache(iommu_t *u);
iommu_cache_t *iommu_pasid_cache(iommu_t *u);
iommu_cache_t *iommu_iec(iommu_t *u); /* key: hi = 0, lo = interrupt index */

#ifdef __cplusplus
}
#endif
#endif
