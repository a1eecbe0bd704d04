/*
 * types.h — identifiers and access kinds shared by every core module.
 *
 * Source-ids are PCIe requester ids (bus[15:8] dev[7:3] fn[2:0]); PASIDs are 20-bit
 * process address-space ids (IOMMU_PASID_NONE when a request carries none); domain ids are
 * VT-d's 16-bit DIDs. Addresses are 64-bit. Nothing here allocates or keeps state.
 */
#ifndef IOMMU_COMMON_TYPES_H
#define IOMMU_COMMON_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint16_t iommu_sid_t;   /* requester id: bus<<8 | dev<<3 | fn */
typedef uint32_t iommu_pasid_t; /* 20-bit PASID, or IOMMU_PASID_NONE */
typedef uint16_t iommu_did_t;   /* domain id */
typedef uint64_t iommu_pa_t;    /* host physical address */

#define IOMMU_PASID_NONE 0xFFFFFFFFu
#define IOMMU_PASID_MAX 0xFFFFFu

#define IOMMU_SID(bus, dev, fn) \
    ((iommu_sid_t)((((bus) & 0xFFu) << 8) | (((dev) & 0x1Fu) << 3) | ((fn) & 0x7u)))
#define IOMMU_SID_BUS(sid) (((sid) >> 8) & 0xFFu)
#define IOMMU_SID_DEV(sid) (((sid) >> 3) & 0x1Fu)
#define IOMMU_SID_FN(sid) ((sid) & 0x7u)
#define IOMMU_SID_DEVFN(sid) ((sid) & 0xFFu)

/* Access kinds of a request; a request's `access` is an OR of these. */
enum iommu_access {
    IOMMU_ACC_R = 1u << 0,    /* read (device reads memory)          */
    IOMMU_ACC_W = 1u << 1,    /* write (device writes memory)        */
    IOMMU_ACC_X = 1u << 2,    /* execute request                     */
    IOMMU_ACC_PRIV = 1u << 3, /* privileged (supervisor) request     */
};

/* Permissions granted by a translation: the same bits as enum iommu_access (R/W/X/PRIV=
 * supervisor-only for first-level U/S=0). */
typedef uint8_t iommu_perm_t;

/* Page sizes the VT-d page tables produce. */
#define IOMMU_PAGE_SHIFT_4K 12u
#define IOMMU_PAGE_SHIFT_2M 21u
#define IOMMU_PAGE_SHIFT_1G 30u

/* Interrupt address range: DMA writes here are MSIs, never translated (VT-d 3.14). */
#define IOMMU_IRQ_RANGE_BASE 0xFEE00000ull
#define IOMMU_IRQ_RANGE_LAST 0xFEEFFFFFull

/* Hot-path hints (GCC/Clang): force the common path of a step inline, keep rare paths out
 * of line so they do not cost the common one its registers. */
#if defined(__GNUC__)
#define IOMMU_HOT_INLINE static inline __attribute__((always_inline))
#define IOMMU_COLD static __attribute__((noinline, cold))
#define IOMMU_NOINLINE static __attribute__((noinline))
#else
#define IOMMU_NOINLINE static
#define IOMMU_HOT_INLINE static inline
#define IOMMU_COLD static
#endif

/* "bb:dd.f" into buf (at least 8 bytes). Returns buf. */
char *iommu_sid_format(iommu_sid_t sid, char buf[8]);
/* Parses "bb:dd.f" (one or two hex digits of bus and device, one digit 0-7 of function), or
 * a plain number ("0x10", "16").
 * Returns true on success; rejects trailing garbage and out-of-range fields. */
bool iommu_sid_parse(const char *s, iommu_sid_t *out);

#ifdef __cplusplus
}
#endif
#endif
