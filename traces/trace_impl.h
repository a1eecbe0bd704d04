/*
 * trace_impl.h — private to traces/: the per-type field tables and the binary record codec
 * shared by event.c, text.c, binary.c and io.c. Nothing outside traces/ includes this.
 */
#ifndef IOMMU_TRACES_TRACE_IMPL_H
#define IOMMU_TRACES_TRACE_IMPL_H

#include "trace.h"

/* Which scope fields an `inv` type takes (bits of iommu_inv_fields.need / .opt). */
enum {
    IOMMU_INVF_DID = 1u << 0,   /* did                                   */
    IOMMU_INVF_SID = 1u << 1,   /* sid                                   */
    IOMMU_INVF_ADDR = 1u << 2,  /* addr (ev.iova) + am, IOMMU_EVF_ADDR   */
    IOMMU_INVF_INDEX = 1u << 3, /* index + am                            */
    IOMMU_INVF_PASID = 1u << 4, /* pasid, IOMMU_EVF_PASID                */
    IOMMU_INVF_IH = 1u << 5,    /* ih, IOMMU_EVF_IH (only with addr)     */
};
struct iommu_inv_fields {
    uint8_t need; /* fields the type requires      */
    uint8_t opt;  /* fields the type may carry     */
};
/* The field table of an inv type; NULL for an unknown type. */
const struct iommu_inv_fields *iommu_trace_inv_fields(unsigned inv_type);

/* "4K", "2M", "1G" for a page shift of 12, 21, 30; NULL otherwise. */
const char *iommu_trace_page_name(unsigned shift);

/* Largest inv address mask (2^am 4 KB pages; 4K << am must fit in 63 bits). */
#define IOMMU_TRACE_AM_MAX 51u
/* Largest interrupt-entry index mask of iec-index (2^am entries of 64K). */
#define IOMMU_TRACE_IEC_AM_MAX 16u
#define IOMMU_TRACE_INDEX_MAX 0xFFFFu

/* ---- binary form v1 (layout in docs/trace-format.md) --------------------------------- */
#define IOMMU_TRACE_BIN_MAGIC "\x89IOTR\r\n\x1a" /* 8 bytes */
#define IOMMU_TRACE_BIN_HDR 16u                   /* magic, u16 version, u16 flags, u32 0 */
#define IOMMU_TRACE_BIN_MAXREC 64u                /* no record is longer (encoded or decoded) */
#define IOMMU_TRACE_BIN_END 0u                    /* type byte of the end record            */

/* Delta-coding state, the same on both sides; starts zeroed. */
struct iommu_bin_state {
    uint64_t prev_time; /* time_ns of the last event that had one         */
    uint64_t prev_iova; /* iova of the last dma event                     */
};
/* Writes the 16-byte file header. */
void iommu_bin_header(uint8_t out[IOMMU_TRACE_BIN_HDR]);
/* Encodes a valid event (checked by the caller) into out (>= MAXREC bytes); returns its
 * length. */
size_t iommu_bin_encode(struct iommu_bin_state *st, const struct iommu_trace_event *ev,
                        uint8_t *out);
/* Encodes the end record (type 0, varint event count); returns its length. */
size_t iommu_bin_encode_end(uint64_t count, uint8_t *out);
/* Decodes one record from [p, end). Returns the bytes consumed (> 0), 0 if the record runs
 * past end (truncated), -1 on an error with the reason. An end record is returned as
 * ev->type == 0 with its event count in ev->len. */
long iommu_bin_decode(struct iommu_bin_state *st, const uint8_t *p, const uint8_t *end,
                      struct iommu_trace_event *ev, char *reason, size_t size);

#endif
