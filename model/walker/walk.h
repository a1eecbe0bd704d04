/*
 * walk.h — the resumable page-table walk (VT-d 3.6 first-level, 3.7 second-level, 3.8
 * nested translation).
 *
 * The walk never touches memory itself: it asks for one 8-byte read at a time and is resumed
 * with the value read. Both the functional driver (reads physmem directly) and the timed
 * TLM module (reads through a socket) drive this same code:
 *
 *     rc = iommu_walk_begin(&w, &params, pwc, iova, access);
 *     while (rc == IOMMU_WALK_NEED_READ)
 *         rc = iommu_walk_resume(&w, physmem_read64(mem, w.read_addr));
 *
 * Entries are interpreted through pluggable page-table formats (pt_format.h,
 * model/walker/formats/): params.format picks the first stage's format; a nested walk's
 * second stage uses IOMMU_PT_SECOND_LEVEL.
 *
 * The walk consults the paging-structure caches before reading (deepest level first) and
 * fills them with every non-leaf entry it reads. Nested walks translate every first-level
 * table pointer and the final guest-physical address through the second level, so a
 * 4-over-4-level walk with cold caches makes 24 reads.
 */
#ifndef IOMMU_WALKER_WALK_H
#define IOMMU_WALKER_WALK_H

#include "../common/fault_codes.h"
#include "../iotlb/pwc.h"
#include "formats.h" /* entry formats and the scalable-mode fault reasons (0x30+) */
#include "pt_format.h" /* enum iommu_pt_format and the format method tables */

#ifdef __cplusplus
extern "C" {
#endif

struct iommu_walk_params {
    uint8_t format;        /* enum iommu_pt_format of the (first) stage; a nested walk's
                              second stage is always IOMMU_PT_SECOND_LEVEL            */
    uint8_t levels;        /* 3, 4 or 5 (first level: 4 or 5)                         */
    uint64_t root;         /* table root; a guest-physical address when nested         */
    bool nested;           /* first level over second level                            */
    uint8_t sl_levels;     /* nested: second-level levels                              */
    uint64_t sl_root;      /* nested: second-level root (host-physical)                */
    uint8_t haw;           /* host address width: table/page addresses must be below   */
    bool sl_2m, sl_1g;     /* second-level large pages supported (CAP.SLLPS)           */
    bool fl_1g;            /* first-level 1 GB pages supported (CAP.FL1GP)             */
    bool x_enabled;        /* execute requests checked (SLEE/NXE): SL X bits and FL XD
                              remove X; when false X is always granted (XD is never
                              treated as a reserved bit by the walk)                   */
    iommu_did_t did;       /* tags for the paging-structure caches                     */
    iommu_pasid_t pasid;
    bool scalable;         /* record scalable-mode fault reasons (0x30+, formats.h);
                              false: legacy reasons 0x4-0x7, 0xC (docs/models/walker.md) */
};

enum iommu_walk_rc { IOMMU_WALK_NEED_READ = 0, IOMMU_WALK_DONE = 1, IOMMU_WALK_FAULT = 2 };

/* What a requested read is for (for stats and the TLM layer). */
enum iommu_walk_read_kind {
    IOMMU_READ_FL_PTE = 1, /* a first-level paging entry                        */
    IOMMU_READ_SL_PTE = 2, /* a second-level paging entry (incl. nested stage 2) */
};

/* Walk state. Fields under "state" are private to walk.c. */
struct iommu_walk {
    /* request (set by begin) */
    uint64_t iova;
    uint8_t access;
    struct iommu_walk_params p;
    iommu_pwc_t *pwc;
    /* read request, valid when the last call returned NEED_READ */
    uint64_t read_addr;
    uint8_t read_kind;  /* enum iommu_walk_read_kind */
    uint8_t read_level; /* level of the entry being read (1 = leaf PTE level)  */
    /* result, valid after DONE */
    uint64_t pa;        /* translated address of iova                          */
    uint8_t page_shift; /* 12, 21 or 30 (the smaller of the stages when nested) */
    iommu_perm_t perm;  /* effective permissions                               */
    /* result, valid after FAULT */
    uint8_t fault_reason; /* enum iommu_fault_reason                           */
    /* accounting, valid at any time */
    uint16_t mem_reads;                        /* reads requested so far          */
    uint16_t pwc_hits[IOMMU_PWC_NLEVELS];      /* PWC hits by level               */
    uint16_t pwc_misses[IOMMU_PWC_NLEVELS];    /* PWC misses by level (present caches only) */
    /* state (private to walk.c) */
    uint8_t stage;        /* IOMMU_STAGE_FIRST / _SECOND: stage walking now; its format is
                             fmt_fl / fmt_sl                                            */
    uint8_t level;        /* level of the entry requested by read_addr                */
    uint64_t in_addr;     /* input address of the current stage (iova, or a GPA)     */
    iommu_perm_t acc_perm;/* permissions accumulated by the current stage            */
    uint8_t done;         /* 1 once DONE/FAULT was returned (resume is then a no-op)  */
    /* nested only: the first-level walk parked while the second level translates a GPA */
    uint8_t sl_purpose;   /* 0 = first-level table pointer, 1 = final page address    */
    uint8_t fl_level;     /* first-level level whose table is being translated        */
    iommu_perm_t fl_perm; /* first-level permissions accumulated so far              */
    uint8_t fl_page_shift;/* first-level leaf size (purpose 1)                        */
    /* formats (private to walk.c; written by begin, not cleared: keep them last) */
    iommu_pt_decode_fn decode;                /* decode() of the stage walking now     */
    const struct iommu_pt_format_ops *fmt_fl; /* first-stage format (NULL: SL-only walk) */
    const struct iommu_pt_format_ops *fmt_sl; /* second-stage format (NULL: FL-only walk) */
};

enum iommu_walk_rc iommu_walk_begin(struct iommu_walk *w, const struct iommu_walk_params *p,
                                    iommu_pwc_t *pwc, uint64_t iova, uint8_t access);
enum iommu_walk_rc iommu_walk_resume(struct iommu_walk *w, uint64_t value);

/* Fault reason for `access` against permissions `perm` (0 if allowed): write needs W
 * (0x5), read needs R (0x6); used for IOTLB hits too. Order when several fail: a user
 * (non-PRIV) request to a supervisor-only page (perm PRIV) first — reported as 0x5 for a
 * write, else 0x6 — then write (0x5), then read (0x6), then execute (0x6: an execute
 * request is a read in the legacy codes). So a read+write request to a read-only page is
 * 0x5. */
uint8_t iommu_perm_check(uint8_t access, iommu_perm_t perm);
/* The same check with the scalable-mode reasons, same order: 0x81 (user request to a
 * supervisor page), 0x85 (write), 0x86 (read), 0x82 (execute). */
uint8_t iommu_perm_check_sm(uint8_t access, iommu_perm_t perm);

#ifdef __cplusplus
}
#endif
#endif
