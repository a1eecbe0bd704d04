/*
 * context.h — the resumable device-context fetch: root entry → context entry (legacy,
 * VT-d 3.4.2/9.1/9.3) or root → scalable context entry → PASID directory → PASID-table
 * entry (scalable mode, VT-d 3.4.3/9.2/9.4/9.5/9.6). Same shape as the walk: it asks for one
 * read at a time (16, 32, 8 or 64 bytes) and is resumed with the bytes read, as
 * little-endian 64-bit words.
 *
 * The result says how requests from (sid, pasid) are translated: the domain, the mode
 * (second-level, first-level, nested, pass-through) and the table roots.
 */
#ifndef IOMMU_WALKER_CONTEXT_H
#define IOMMU_WALKER_CONTEXT_H

#include "../common/fault_codes.h"
#include "walk.h"

#ifdef __cplusplus
extern "C" {
#endif

enum iommu_xlat_mode {
    IOMMU_MODE_SL = 0,     /* second-level translation                      */
    IOMMU_MODE_FL = 1,     /* first-level translation (scalable mode)       */
    IOMMU_MODE_NESTED = 2, /* first level over second level (scalable mode) */
    IOMMU_MODE_PT = 3,     /* pass-through                                  */
};

/* Decoded translation context for one (sid[, pasid]). */
struct iommu_ctx {
    iommu_did_t did;
    uint8_t mode;       /* enum iommu_xlat_mode                          */
    bool fpd;           /* fault processing disabled: faults not recorded */
    bool dev_tlb;       /* device-TLB (ATS) allowed (TT = 1 / DTE = 1)    */
    uint8_t sl_levels;  /* second-level table levels (3, 4, 5), from AW   */
    uint64_t sl_root;   /* second-level root (SLPTPTR), host-physical     */
    uint8_t fl_levels;  /* first-level levels (4 or 5, FLPM)              */
    uint64_t fl_root;   /* first-level root (FLPTPTR); guest-physical when nested */
    /* scalable mode, from the PASID-table entry (all false in legacy mode) */
    bool slee;          /* second-level execute enable                    */
    bool nxe;           /* first-level no-execute enable (XD honoured)    */
    bool sre;           /* supervisor requests enabled                    */
    bool ere;           /* execute requests enabled                       */
};

/* Scalable-mode request checks a context imposes before any walk (VT-d 9.6): a supervisor
 * (PRIV) request with SRE = 0 is 0x5D, an execute request with ERE = 0 is 0x5C; applied to
 * first-level and nested contexts only. Returns 0 when allowed (and always in legacy mode). */
uint8_t iommu_ctx_request_check(const struct iommu_ctx *ctx, bool scalable, uint8_t access);

/* Walk parameters for translating through ctx (not for pass-through): format, levels, roots,
 * and the capability bits the walk checks. x_enabled = SLEE (SL), NXE (FL), both (nested). */
void iommu_ctx_walk_params(const struct iommu_ctx *ctx, bool scalable, uint8_t haw, bool sl_2m,
                           bool sl_1g, bool fl_1g, iommu_pasid_t pasid,
                           struct iommu_walk_params *out);

/* The capabilities the fetch validates against (derived from CAP/ECAP). */
struct iommu_ctx_params {
    uint64_t rtaddr;     /* root-table address (RTADDR_REG.RTA)                      */
    bool scalable;       /* RTADDR_REG.TTM = scalable mode (needs ECAP.SMTS)          */
    uint8_t sagaw;       /* CAP.SAGAW bitmap: bit1 3-level, bit2 4-level, bit3 5-level */
    uint8_t haw;         /* host address width: pointers must be below 2^haw          */
    bool pt;             /* ECAP.PT: pass-through allowed                            */
    bool dev_tlb;        /* ECAP.DT: device-TLB translation type allowed             */
    bool nested;         /* ECAP.NEST                                                */
    bool fl;             /* ECAP.FLTS                                                */
    bool sl;             /* ECAP.SLTS (legacy mode always supports second level)     */
    bool fl5;            /* CAP.FL5LP: 5-level first-level tables                    */
};

enum iommu_ctxwalk_read_kind {
    IOMMU_READ_ROOT = 10,     /* 16 bytes */
    IOMMU_READ_CONTEXT = 11,  /* 16 (legacy) or 32 (scalable) bytes */
    IOMMU_READ_PASID_DIR = 12,/* 8 bytes  */
    IOMMU_READ_PASID_ENTRY = 13 /* 64 bytes */
};

/* A scalable-mode context entry as cached by the context cache (so a PASID-cache miss
 * with a context-cache hit starts at the PASID directory). */
struct iommu_sm_ctx {
    bool fpd;
    bool dte;
    bool pasid_enabled; /* PASIDE: requests with PASID allowed */
    uint8_t pdts;       /* PASID directory size: 2^(pdts+7) entries */
    uint64_t pasid_dir; /* PASIDDIRPTR */
    uint32_t rid_pasid; /* PASID used for requests without PASID */
};

struct iommu_ctxwalk {
    struct iommu_ctx_params p;
    iommu_sid_t sid;
    iommu_pasid_t pasid;       /* effective PASID after RID_PASID substitution */
    /* read request, valid after NEED_READ */
    uint64_t read_addr;
    uint8_t read_size;         /* bytes: 8, 16, 32 or 64 */
    uint8_t read_kind;         /* enum iommu_ctxwalk_read_kind */
    /* results */
    bool have_sm_ctx;          /* scalable: sm_ctx valid (fetched or given)     */
    struct iommu_sm_ctx sm_ctx;
    struct iommu_ctx ctx;      /* valid after DONE */
    uint8_t fault_reason;      /* valid after FAULT */
    bool fault_fpd;            /* FAULT: the entry that faulted had FPD set      */
    uint16_t mem_reads;
    /* state (private) */
    uint8_t step;
    bool pasid_given;          /* the request carried a PASID                  */
    bool fpd;                  /* FPD seen on a present entry along the path   */
};

/* Starts a fetch for (sid, pasid). In scalable mode `known_sm_ctx` (may be NULL) is a cached
 * context entry: the fetch then starts at the PASID directory. */
enum iommu_walk_rc iommu_ctxwalk_begin(struct iommu_ctxwalk *cw, const struct iommu_ctx_params *p,
                                       iommu_sid_t sid, iommu_pasid_t pasid,
                                       const struct iommu_sm_ctx *known_sm_ctx);
/* data: read_size/8 little-endian words of the requested read. */
enum iommu_walk_rc iommu_ctxwalk_resume(struct iommu_ctxwalk *cw, const uint64_t *data);

#ifdef __cplusplus
}
#endif
#endif
