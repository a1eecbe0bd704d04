/*
 * vtd_pte.h — bit-exact encode/decode and reserved-bit checks of the two VT-d paging-entry
 * formats, plus the level arithmetic both share:
 *   9.7 First-Level Paging Entries  (IA-32e format, 64 bit)  — implemented in vtd_fl.c
 *   9.8 Second-Level Paging Entries (64 bit)                 — implemented in vtd_sl.c
 * (Intel Virtualization Technology for Directed I/O Architecture Specification, rev. 3.x/4.x.)
 *
 * model/walker/formats.h includes this header, so code that includes formats.h sees these
 * declarations unchanged. The walk does not call these functions per entry: it goes through
 * each format's method table (model/walker/pt_format.h), whose decode shares the bit logic
 * below (same .c file, inlined).
 *
 * Conventions (as for every entry in formats.h):
 *  - encode() writes the whole word (reserved/ignored bits zero), fields truncated to their
 *    width; address fields are stored as addresses (low 12 bits dropped).
 *  - decode() extracts every defined field and ignores reserved/ignored bits.
 *  - *_reserved_ok(..., haw, ...) returns false when a reserved bit is set; address bits
 *    at/above `haw` count as reserved, pass haw = 52 (IOMMU_VTD_MAX_HAW) to check only the
 *    fixed reserved bits. Not-present entries are not checked (true).
 *  - Paging entries need their level (1 = PTE, 2 = PDE, 3 = PDPE, 4 = PML4E, 5 = PML5E)
 *    because bit 7 is PS at levels 2-3, reserved at 4-5 and PAT (first level) / ignored
 *    (second level) at level 1, and large leaves have reserved low address bits.
 *
 * Not modelled: A/D updates, memory-type combination (EMT/PAT are encoded, not interpreted),
 * reserved EMT encodings (not flagged as reserved bits).
 */
#ifndef IOMMU_WALKER_FORMATS_VTD_PTE_H
#define IOMMU_WALKER_FORMATS_VTD_PTE_H

#include "../../common/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest host address width VT-d allows (address fields end at bit 51). */
#define IOMMU_VTD_MAX_HAW 52u
/* Bits 51:12, the widest address field of any entry. */
#define IOMMU_VTD_ADDR_MASK 0x000FFFFFFFFFF000ull

/* ---- 9.7 First-Level Paging Entries (IA-32e) ------------------------------------------------
 * bit 0 P; 1 R/W; 2 U/S; 3 PWT; 4 PCD; 5 A; 6 D (leaves; ignored in non-leaf entries);
 * 7 PS at levels 2-3 (reserved at 4-5, PAT at level 1); 8 G (leaves); 10 EA (extended
 * accessed, when EAFE); bits 9, 11 ignored; bits HAW-1:12 address (bit 12 is PAT in a
 * 1 GB/2 MB leaf, and bits 29:13 / 20:13 are reserved there); bits 51:HAW reserved;
 * bits 62:52 ignored; bit 63 XD (reserved when the PASID entry's NXE = 0). */
#define IOMMU_FL_P (1ull << 0)
#define IOMMU_FL_RW (1ull << 1)
#define IOMMU_FL_US (1ull << 2)
#define IOMMU_FL_PWT (1ull << 3)
#define IOMMU_FL_PCD (1ull << 4)
#define IOMMU_FL_A (1ull << 5)
#define IOMMU_FL_D (1ull << 6)
#define IOMMU_FL_PS (1ull << 7)
#define IOMMU_FL_PAT_4K (1ull << 7)
#define IOMMU_FL_G (1ull << 8)
#define IOMMU_FL_EA (1ull << 10)
#define IOMMU_FL_PAT_LARGE (1ull << 12)
#define IOMMU_FL_XD (1ull << 63)
struct iommu_vtd_fl_pte {
    bool p, rw, us, pwt, pcd, a;
    bool d;        /* leaves only                                            */
    bool ps;       /* levels 2-3: this entry maps a 2 MB / 1 GB page          */
    bool g;        /* leaves only                                            */
    bool pat;      /* leaves only: bit 7 at level 1, bit 12 in a large leaf   */
    bool ea;
    bool xd;
    uint64_t addr; /* next table, or page base (aligned to the page size)    */
};
void iommu_vtd_fl_pte_encode(const struct iommu_vtd_fl_pte *e, unsigned level, uint64_t out[1]);
void iommu_vtd_fl_pte_decode(const uint64_t in[1], unsigned level, struct iommu_vtd_fl_pte *e);
/* fl_1g: CAP.FL1GP (PS at level 3 allowed); nxe: PASID-entry NXE (XD defined). */
bool iommu_vtd_fl_pte_reserved_ok(const uint64_t in[1], unsigned level, uint8_t haw, bool fl_1g,
                                  bool nxe);

/* ---- 9.8 Second-Level Paging Entries --------------------------------------------------------
 * bit 0 R; 1 W; 2 X (when SLEE); bits 5:3 EMT and 6 IPAT (leaves; ignored in non-leaf
 * entries); 7 PS at levels 2-3 (reserved at 4-5, ignored at level 1); 8 A; 9 D (leaves);
 * 10 ignored; 11 SNP (leaves; reserved in non-leaf entries); bits HAW-1:12 address (bits
 * 29:12 / 20:12 reserved in a 1 GB / 2 MB leaf); bits 51:HAW reserved; 61:52 ignored;
 * 62 TM (leaves; reserved in non-leaf entries); 63 ignored.
 * An entry with R = W = 0 is not present. */
#define IOMMU_SL_R (1ull << 0)
#define IOMMU_SL_W (1ull << 1)
#define IOMMU_SL_X (1ull << 2)
#define IOMMU_SL_EMT_SHIFT 3u
#define IOMMU_SL_IPAT (1ull << 6)
#define IOMMU_SL_PS (1ull << 7)
#define IOMMU_SL_A (1ull << 8)
#define IOMMU_SL_D (1ull << 9)
#define IOMMU_SL_SNP (1ull << 11)
#define IOMMU_SL_TM (1ull << 62)
struct iommu_vtd_sl_pte {
    bool r, w, x;
    uint8_t emt;   /* leaves only (3 bits)                    */
    bool ipat;     /* leaves only                             */
    bool ps;       /* levels 2-3                              */
    bool a, d;
    bool snp, tm;  /* leaves only                             */
    uint64_t addr; /* next table, or page base                */
};
void iommu_vtd_sl_pte_encode(const struct iommu_vtd_sl_pte *e, unsigned level, uint64_t out[1]);
void iommu_vtd_sl_pte_decode(const uint64_t in[1], unsigned level, struct iommu_vtd_sl_pte *e);
/* sl_2m / sl_1g: CAP.SLLPS bits 0 / 1 (PS at level 2 / 3 allowed). */
bool iommu_vtd_sl_pte_reserved_ok(const uint64_t in[1], unsigned level, uint8_t haw, bool sl_2m,
                                  bool sl_1g);

/* Helpers shared by the walker and the host. */
/* True when the entry at `level` is a leaf: level 1, or PS = 1 at level 2 or 3 (bit 7 in
 * both formats). */
static inline bool iommu_vtd_pte_is_leaf(uint64_t v, unsigned level)
{
    return level == 1 || ((level == 2 || level == 3) && (v & (1ull << 7)));
}
/* Page shift of a leaf at `level` (12, 21, 30). */
static inline unsigned iommu_vtd_leaf_shift(unsigned level)
{
    return 12u + 9u * (level - 1u);
}
/* Index of `addr` in a table of `level` (9 bits). */
static inline unsigned iommu_vtd_pt_index(uint64_t addr, unsigned level)
{
    return (unsigned)((addr >> (12u + 9u * (level - 1u))) & 0x1FFu);
}

#ifdef __cplusplus
}
#endif
#endif
