/*
 * pt_format.h — pluggable page-table formats: the method table through which the walk
 * (walk.c) interprets paging entries, and the registry that names the formats.
 *
 * A format is one file in model/walker/formats/ defining a `const struct
 * iommu_pt_format_ops iommu_pt_<name>` and its decode function `iommu_pt_<name>_decode`, a
 * new enum iommu_pt_format value, and one line in formats/list.h (which declares both
 * below, registers the format and lets the walk call its decode directly). The VT-d
 * formats:
 *   iommu_pt_vtd_sl  "vtd-sl"  VT-d 9.8 second-level entries (formats/vtd_sl.c)
 *   iommu_pt_vtd_fl  "vtd-fl"  VT-d 9.7 first-level entries, IA-32e (formats/vtd_fl.c)
 *
 * What the walk assumes of every format (the table geometry is the walk's, not the
 * format's): 4 KB tables of 512 little-endian 64-bit entries, 9 input-address bits per
 * level starting at bit 12, level 1 = the last level, a leaf at level L maps 2^(12+9(L-1))
 * bytes, and at most 5 levels. A format that breaks these needs walk changes too.
 *
 * Hot path: decode() runs once per paging entry the walk reads. The walk caches the
 * stage's decode pointer and compares it with each listed format's decode function, so the
 * call is direct for every compiled-in format, and inlined under link-time optimisation
 * (formats define decode with `inline`, an external definition in C11, to raise the
 * inliner's limit); the indirect call through the pointer remains the general path. decode()
 * takes the raw word, the level and the walk's parameters and returns a small struct by
 * value. Lookups by id or name are for configuration and walk start only.
 *
 * Faults the walk reports itself, not through a format: a nested walk's second stage
 * rejecting a first-level output (0x4 / SM 0x74) and denying the read of a first-level table
 * (0x6 / SM 0x75, 0x76), invalid parameters (0x3 / SM 0x5B), and permission faults.
 */
#ifndef IOMMU_WALKER_PT_FORMAT_H
#define IOMMU_WALKER_PT_FORMAT_H

#include "../common/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Format identifiers, as carried by struct iommu_walk_params.format and struct iommu_ctx. */
enum iommu_pt_format {
    IOMMU_PT_SECOND_LEVEL = 2, /* VT-d second-level (EPT-like) format, R/W/X bits        */
    IOMMU_PT_FIRST_LEVEL = 1,  /* IA-32e format: P, R/W, U/S, PS, XD                     */
};
/* One above the largest enum iommu_pt_format value. Ids are dense from 1: a new format takes
 * the next id and raises this limit. */
#define IOMMU_PT_FORMAT_ID_LIMIT 3u

/* What decode() found in one entry. */
enum iommu_pt_entry_kind {
    IOMMU_PT_ENTRY_NOT_PRESENT = 0, /* the walk faults with the format's not_present reason */
    IOMMU_PT_ENTRY_RESERVED = 1,    /* present, a reserved bit set (or a large page the
                                       capabilities do not allow): reserved reason          */
    IOMMU_PT_ENTRY_TABLE = 2,       /* present, points to the next-level table              */
    IOMMU_PT_ENTRY_LEAF = 3,        /* present, maps a page of 2^(12 + 9 * (level - 1)) B   */
};

/* One decoded paging entry. Returned by value: 16 bytes, two registers on x86-64, and no
 * memory at all once the walk's direct call is inlined. */
struct iommu_pt_entry {
    uint64_t addr;     /* TABLE: next table (4 KB aligned); LEAF: page base (aligned to the
                          page size, 2^(12 + 9 * (level - 1)) bytes); 0 otherwise. Address
                          bits at/above the walk's HAW are NOT reserved-bit faults: the walk
                          checks the address against the HAW and reports its own "beyond"
                          reasons.                                                        */
    uint8_t kind;      /* enum iommu_pt_entry_kind                                         */
    iommu_perm_t perm; /* TABLE/LEAF: IOMMU_ACC_R/W/X this entry grants (X always when
                          execute is not checked, p->x_enabled false), plus IOMMU_ACC_PRIV
                          when it restricts the page to supervisor requests. The walk ANDs
                          R/W/X and ORs PRIV across the levels of a stage. 0 otherwise.   */
};

/* An entry of `kind` (NOT_PRESENT / RESERVED: pass addr = perm = 0). */
static inline struct iommu_pt_entry iommu_pt_entry_make(enum iommu_pt_entry_kind kind,
                                                        uint64_t addr, iommu_perm_t perm)
{
    struct iommu_pt_entry e; /* no designated initialiser: this header is also C++ */
    e.addr = addr;
    e.kind = (uint8_t)kind;
    e.perm = perm;
    return e;
}

/* The walk's parameters (walk.h). decode() reads the capabilities its reserved-bit and
 * permission rules depend on: sl_2m / sl_1g (CAP.SLLPS), fl_1g (CAP.FL1GP) and x_enabled
 * (SLEE / NXE: X / XD bits count; otherwise X is always granted). */
struct iommu_walk_params;

/* Valid input addresses of an L-level walk (width W = 12 + 9 * L: 39, 48, 57 bits). */
enum iommu_pt_input_form {
    IOMMU_PT_INPUT_ZERO_EXTENDED = 0, /* bits 63:W zero (VT-d second level)                */
    IOMMU_PT_INPUT_CANONICAL = 1,     /* bits 63:W-1 all equal, i.e. sign-extended from bit
                                         W-1 (IA-32e canonical form)                       */
};

/* Fault reasons a format's stage records. Values are architectural reason codes
 * (model/common/fault_codes.h legacy, formats.h scalable-mode). */
struct iommu_pt_fault_reasons {
    uint8_t not_present;  /* entry not present; IOMMU_PT_FR_ACCESS_PERM: the access's own
                             permission fault (legacy VT-d: write 0x5, else read 0x6)      */
    uint8_t reserved;     /* reserved bit set in an entry                                  */
    uint8_t input_beyond; /* input address not of the input_form (not used for the second
                             stage of a nested walk, which reports the walk's own reason)   */
    uint8_t root_beyond;  /* table root at/above 2^HAW                                     */
    uint8_t table_beyond; /* next-table pointer at/above 2^HAW                             */
    uint8_t page_beyond;  /* leaf page (base + size) beyond 2^HAW                          */
};
/* not_present value meaning "the access's permission fault". */
#define IOMMU_PT_FR_ACCESS_PERM 0u

/* Index of struct iommu_pt_format_ops.fr. */
enum { IOMMU_PT_FR_LEGACY = 0, IOMMU_PT_FR_SCALABLE = 1 };

/* Decodes the 64-bit entry `v` read at `level` (1 = last level) for a walk with parameters
 * `p`. Pure: no state, reads nothing but *p. Must handle any 64-bit value and any level in
 * the format's range. */
typedef struct iommu_pt_entry (*iommu_pt_decode_fn)(uint64_t v, unsigned level,
                                                    const struct iommu_walk_params *p);

/* A page-table format. Instances are const tables with static storage duration. */
struct iommu_pt_format_ops {
    const char *name;             /* registry name ("vtd-sl"), lower case, unique          */
    uint8_t id;                   /* enum iommu_pt_format                                  */
    uint8_t stage;                /* enum iommu_pwc_stage (1 first, 2 second): PWC tag and
                                     read kind of its entries. Only a first-stage format
                                     can be the first stage of a nested walk, whose second
                                     stage is always IOMMU_PT_SECOND_LEVEL.                */
    uint8_t min_levels, max_levels; /* levels a walk of this format may have (<= 5)        */
    iommu_pt_decode_fn decode;    /* per-entry decode (hot path)                           */
    uint8_t input_form;           /* enum iommu_pt_input_form: which input addresses a
                                     walk of L levels accepts (checked once per stage)     */
    struct iommu_pt_fault_reasons fr[2]; /* [IOMMU_PT_FR_LEGACY], [IOMMU_PT_FR_SCALABLE]   */
};

/* Every compiled-in format (formats/list.h): its table `iommu_pt_<name>` and the decode
 * function `iommu_pt_<name>_decode` the table points to, e.g. iommu_pt_vtd_sl and
 * iommu_pt_vtd_sl_decode. */
#define IOMMU_PT_FORMAT(id, name)                                                              \
    extern const struct iommu_pt_format_ops iommu_pt_##name;                                   \
    struct iommu_pt_entry iommu_pt_##name##_decode(uint64_t v, unsigned level,                 \
                                                   const struct iommu_walk_params *p);
#include "formats/list.h"
#undef IOMMU_PT_FORMAT

/* The format with id `id` (enum iommu_pt_format), or NULL when there is none. */
const struct iommu_pt_format_ops *iommu_pt_format_get(unsigned id);
/* The format called `name` (or an alias: "second-level", "first-level", "ia32e"), or NULL. */
const struct iommu_pt_format_ops *iommu_pt_format_find(const char *name);
/* All formats, NULL-terminated, in id order. */
const struct iommu_pt_format_ops *const *iommu_pt_format_all(void);

#ifdef __cplusplus
}
#endif
#endif
