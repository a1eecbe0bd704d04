/*
 * trace_impl.h — private to traces/: the per-type field tables and the binary record codec
 * shared by event.c, text.c, binary.c and io.c. Nothing outside traces/ includes this
 * (except the fuzz target).
 *
 * The dma fast decoder lives here, inline, so that io.c's iommu_trace_next can decode the
 * common record without a call: replays read 10^7-10^8 dma records through it.
 */
#ifndef IOMMU_TRACES_TRACE_IMPL_H
#define IOMMU_TRACES_TRACE_IMPL_H

#include "trace.h"

#include <stddef.h>
#include <string.h>

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

/* What makes ev as new as iommu_trace_event_version says, for the reader's message
 * ("dma_map", "dma by handle", "msi with thread=", "sched state=preempt"). */
const char *iommu_trace_event_newest_part(const struct iommu_trace_event *ev);

/* "4K", "2M", "1G" for a page shift of 12, 21, 30; NULL otherwise. */
const char *iommu_trace_page_name(unsigned shift);

/* Largest inv address mask (2^am 4 KB pages; 4K << am must fit in 63 bits). */
#define IOMMU_TRACE_AM_MAX 51u
/* Largest interrupt-entry index mask of iec-index (2^am entries of 64K). */
#define IOMMU_TRACE_IEC_AM_MAX 16u
#define IOMMU_TRACE_INDEX_MAX 0xFFFFu

/* ---- binary form, versions 1 to 3 (layout in docs/trace-format.md) ------------------ */
#define IOMMU_TRACE_BIN_MAGIC "\x89IOTR\r\n\x1a" /* 8 bytes */
#define IOMMU_TRACE_BIN_HDR 16u                   /* magic, u16 version, u16 flags, u32 0 */
#define IOMMU_TRACE_BIN_MAXREC 64u                /* no record is longer (encoded or decoded) */
#define IOMMU_TRACE_BIN_END 0u                    /* type byte of the end record            */

/* Delta-coding state, the same on both sides; starts zeroed, then `version` is set. */
struct iommu_bin_state {
    unsigned version;     /* the file's format version (its header): from version 3 on an
                           * msi record carries ios. 0 is taken as IOMMU_TRACE_VERSION  */
    uint64_t prev_time;   /* time_ns of the last event that had one                     */
    uint64_t prev_iova;   /* iova of the last dma event addressed by iova               */
    uint64_t prev_handle; /* handle of the last event that had one (v2: dma_map,
                           * dma_unmap, dma addressed by handle)                        */
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

/* ---- the dma fast decoder ------------------------------------------------------------ */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
    (defined(__GNUC__) || defined(__clang__))
#define IOMMU_BIN_FAST 1
#else
#define IOMMU_BIN_FAST 0 /* other hosts take the general decoder for every record */
#endif

#if IOMMU_BIN_FAST
/* A dma attribute byte (access | ats << 4) → its bits of the event's first 64-bit word
 * (access << 16 | ats << 48), or 0 if the byte breaks a dma rule of
 * iommu_trace_event_check (valid access: r, w or rx, each with or without priv; ats 0-2;
 * bits 6-7 zero). Defined in binary.c. */
extern const uint64_t iommu_bin_dma_attr_word[256];

static inline uint64_t iommu_bin_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The value of the varint bytes in x (little-endian, continuation bits cleared, at most 8
 * bytes): joins the 7-bit groups pairwise, then the 14-bit pairs, then the 28-bit halves. */
static inline uint64_t iommu_bin_pack7(uint64_t x)
{
    x -= (x & 0x7F007F007F007F00ull) >> 1;       /* lo + hi << 8 → lo + hi << 7 */
    x -= ((x & 0x3FFF00003FFF0000ull) >> 2) * 3; /* 14-bit pairs: << 16 → << 14 */
    return (uint32_t)x | (x >> 32) << 28;        /* 28-bit halves: << 32 → << 28 */
}

/* A varint of at most 8 bytes at *pp, advancing *pp; false (nothing consumed) if longer. */
static inline bool iommu_bin_varint8(const uint8_t **pp, uint64_t *v)
{
    uint64_t x = iommu_bin_le64(*pp), stop = ~x & 0x8080808080808080ull;
    if (!stop)
        return false;
    *v = iommu_bin_pack7(x & (stop ^ (stop - 1)) & 0x7F7F7F7F7F7F7F7Full);
    *pp += __builtin_ctzll(stop) / 8 + 1;
    return true;
}

static inline uint64_t iommu_bin_unzigzag(uint64_t z)
{
    return (z >> 1) ^ (uint64_t)-(int64_t)(z & 1);
}

/*
 * Decodes the dma record at p, whose IOMMU_TRACE_BIN_MAXREC bytes must be readable, into
 * a complete canonical *ev, and updates the delta state. Returns the record length, or 0
 * (nothing changed) for anything else: another type, flags outside `allowed` (a constant:
 * 0 gives the smallest code, for the inline path), a dma record that is invalid, or one
 * with a varint the fast path does not take (an iova delta and len together longer than 8
 * bytes, a time delta or pasid longer than 8 bytes). The general decoder handles those and
 * words the error, so this path needs no messages; it accepts exactly the records the
 * general decoder accepts, with the same result.
 *
 * The iova delta and the len are decoded together from one 8-byte load: the two lowest
 * stop bits (the clear high bits of the last byte of each varint) give both lengths, and
 * one pack of the 7-bit groups gives both values. No branch depends on the data, so
 * records of varying length cost the same. The event is stored as the twelve 64-bit words
 * of the struct: field by field would be 25 narrow stores, and a memset first compiles to
 * `rep stos`, which costs more than the whole decode.
 *
 * Only dma records addressed by iova come here: IOMMU_EVF_HANDLE (v2) is never in
 * `allowed`, so a dma addressed by buffer handle takes the general decoder.
 */
static inline __attribute__((always_inline)) size_t
iommu_bin_decode_dma_fast(struct iommu_bin_state *st, const uint8_t *p,
                          struct iommu_trace_event *ev, unsigned allowed)
{
    unsigned tf = p[0] | (unsigned)p[1] << 8, flags = tf >> 8; /* type, flags */
    if ((tf & ~(allowed << 8)) != IOMMU_EV_DMA)
        return 0;
    const uint8_t *q = p + 2;
    uint64_t time = 0, pasid = IOMMU_PASID_NONE;
    if (flags & IOMMU_EVF_TIME) {
        if (!iommu_bin_varint8(&q, &time))
            return 0;
        time = st->prev_time + iommu_bin_unzigzag(time);
    }
    unsigned sid = q[0] | (unsigned)q[1] << 8;
    uint64_t aw = iommu_bin_dma_attr_word[q[2]];
    uint64_t x = iommu_bin_le64(q + 3); /* the iova delta and len varints */
    uint64_t stop = ~x & 0x8080808080808080ull, stop2 = stop & (stop - 1);
    if (!stop2)
        return 0;
    unsigned tz1 = (unsigned)__builtin_ctzll(stop);  /* 8 * iova delta bytes - 1      */
    unsigned tz2 = (unsigned)__builtin_ctzll(stop2); /* 8 * (iova delta + len bytes) - 1 */
    uint64_t v = iommu_bin_pack7(x & (stop2 ^ (stop2 - 1)) & 0x7F7F7F7F7F7F7F7Full);
    unsigned vbits1 = tz1 - tz1 / 8; /* 7 * iova delta bytes */
    uint64_t len = v >> vbits1, z = v - (len << vbits1);
    uint64_t iova = st->prev_iova + iommu_bin_unzigzag(z);
    q += 4 + tz2 / 8;
    if ((flags & IOMMU_EVF_PASID) && (!iommu_bin_varint8(&q, &pasid) || pasid > IOMMU_PASID_MAX))
        return 0;
    /* the remaining dma rules of iommu_trace_event_check: a valid attribute byte, len
     * 1 .. 2^32-1 (len - 1 or len reaches bit 32 otherwise), iova + len not wrapping
     * (separate tests: each branch is predicted, cheaper than combining the conditions) */
    if (!aw)
        return 0;
    if (((len - 1) | len) >> 32)
        return 0;
    if (iova + (len - 1) < iova)
        return 0;
    if (flags & IOMMU_EVF_TIME)
        st->prev_time = time;
    st->prev_iova = iova;

    _Static_assert(sizeof(struct iommu_trace_event) == 96, "twelve words");
    _Static_assert(offsetof(struct iommu_trace_event, flags) == 1 &&
                   offsetof(struct iommu_trace_event, access) == 2 &&
                   offsetof(struct iommu_trace_event, ats) == 6 &&
                   offsetof(struct iommu_trace_event, sid) == 10 &&
                   offsetof(struct iommu_trace_event, pasid) == 16 &&
                   offsetof(struct iommu_trace_event, time_ns) == 40 &&
                   offsetof(struct iommu_trace_event, iova) == 48 &&
                   offsetof(struct iommu_trace_event, len) == 64 &&
                   offsetof(struct iommu_trace_event, handle) == 88,
                   "the words below follow this layout");
    const uint64_t w[12] = {
        IOMMU_EV_DMA | flags << 8 | aw, /* type, flags, access, 0 x3, ats, 0 */
        (uint64_t)sid << 16,            /* am, state, sid, alias, did          */
        pasid,                          /* pasid, data                         */
        0,                              /* index, cpu                          */
        0,                              /* thread                              */
        time,
        iova,
        0, /* pa */
        len,
        0, /* lo */
        0, /* hi */
        0, /* handle */
    };
    memcpy(ev, w, sizeof w);
    return (size_t)(q - p);
}
#endif

#endif
