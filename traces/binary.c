/*
 * binary.c — the binary form record codec, versions 1 to 3 (layout in
 * docs/trace-format.md §Binary). Version 2 only added records and flags; version 3 adds
 * flag THREAD (msi: a thread varint) and an ios varint at the end of every msi record,
 * which is the only layout that depends on the file's version (iommu_bin_state.version),
 * so one codec reads all three and version-1/2 files decode as they always did.
 *
 * A record is a type byte, a flags byte (the event's IOMMU_EVF_* bits; bit 7 zero), the
 * time as a zigzag varint delta from the previous timestamp when IOMMU_EVF_TIME is set,
 * then the type's fields: fixed little-endian u16 for source-ids, LEB128 varints for
 * numbers, a zigzag delta from the previous dma's iova for dma addresses and from the
 * previous buffer handle for handles, and one packed attribute byte where small enums
 * meet. The file ends with an end record carrying the event count, so a file cut at a
 * record boundary is still detected as truncated.
 *
 * Workload: replays decode 10^7-10^8 mostly-dma records. Those go through the inline fast
 * decoder in trace_impl.h, called straight from iommu_trace_next (io.c) whenever at least
 * IOMMU_TRACE_BIN_MAXREC bytes are buffered. This general decoder handles every other
 * record, the last bytes of a file, and words every error; it is bounds-checked byte by
 * byte, so it never reads past the buffer, even on hostile input.
 */
#include "trace_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void iommu_bin_header(uint8_t out[IOMMU_TRACE_BIN_HDR])
{
    memcpy(out, IOMMU_TRACE_BIN_MAGIC, 8);
    out[8] = IOMMU_TRACE_VERSION & 0xFF; /* u16 LE version */
    out[9] = IOMMU_TRACE_VERSION >> 8;
    memset(out + 10, 0, 6); /* u16 flags, u32 reserved: zero */
}

/* ---- encoding ------------------------------------------------------------------------- */

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint64_t zigzag(uint64_t delta)
{
    return (delta << 1) ^ (uint64_t)-(int64_t)(delta >> 63);
}

static inline uint64_t unzigzag(uint64_t z)
{
    return (z >> 1) ^ (uint64_t)-(int64_t)(z & 1);
}

static inline uint8_t *put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static inline uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

static unsigned page_code(unsigned shift)
{
    return shift == IOMMU_PAGE_SHIFT_4K ? 0 : shift == IOMMU_PAGE_SHIFT_2M ? 1 : 2;
}

size_t iommu_bin_encode(struct iommu_bin_state *st, const struct iommu_trace_event *ev,
                        uint8_t *out)
{
    uint8_t *p = out;
    *p++ = ev->type;
    *p++ = ev->flags;
    if (ev->flags & IOMMU_EVF_TIME) {
        p = put_varint(p, zigzag(ev->time_ns - st->prev_time));
        st->prev_time = ev->time_ns;
    }
    switch (ev->type) {
    case IOMMU_EV_ATTACH:
        p = put_u16(p, ev->sid);
        p = put_varint(p, ev->did);
        *p++ = ev->mode;
        if (ev->flags & IOMMU_EVF_PASID) p = put_varint(p, ev->pasid);
        if (ev->flags & IOMMU_EVF_ALIAS) p = put_u16(p, ev->alias);
        break;
    case IOMMU_EV_DETACH:
        p = put_u16(p, ev->sid);
        if (ev->flags & IOMMU_EVF_PASID) p = put_varint(p, ev->pasid);
        break;
    case IOMMU_EV_MAP:
        p = put_varint(p, ev->did);
        p = put_varint(p, ev->iova);
        p = put_varint(p, ev->pa);
        p = put_varint(p, ev->len);
        *p++ = (uint8_t)(ev->access | page_code(ev->page_shift) << 3 | ev->stage << 5);
        break;
    case IOMMU_EV_UNMAP:
        p = put_varint(p, ev->did);
        p = put_varint(p, ev->iova);
        p = put_varint(p, ev->len);
        *p++ = ev->stage;
        break;
    case IOMMU_EV_DMA:
        p = put_u16(p, ev->sid);
        *p++ = (uint8_t)(ev->access | ev->ats << 4);
        if (ev->flags & IOMMU_EVF_HANDLE) { /* handle, offset; prev_iova untouched */
            p = put_varint(p, zigzag(ev->handle - st->prev_handle));
            st->prev_handle = ev->handle;
            p = put_varint(p, ev->iova);
        } else {
            p = put_varint(p, zigzag(ev->iova - st->prev_iova));
            st->prev_iova = ev->iova;
        }
        p = put_varint(p, ev->len);
        if (ev->flags & IOMMU_EVF_PASID) p = put_varint(p, ev->pasid);
        break;
    case IOMMU_EV_DMA_MAP:
        p = put_u16(p, ev->sid);
        p = put_varint(p, zigzag(ev->handle - st->prev_handle));
        st->prev_handle = ev->handle;
        p = put_varint(p, ev->pa);
        p = put_varint(p, ev->len);
        *p++ = ev->access;
        p = put_varint(p, ev->cpu);
        break;
    case IOMMU_EV_DMA_UNMAP:
        p = put_varint(p, zigzag(ev->handle - st->prev_handle));
        st->prev_handle = ev->handle;
        p = put_varint(p, ev->cpu);
        break;
    case IOMMU_EV_INV: {
        const struct iommu_inv_fields *f = iommu_trace_inv_fields(ev->inv_type);
        unsigned any = (unsigned)(f->need | f->opt);
        *p++ = ev->inv_type;
        if (any & IOMMU_INVF_DID) p = put_varint(p, ev->did);
        if (any & IOMMU_INVF_SID) p = put_u16(p, ev->sid);
        if (ev->flags & IOMMU_EVF_ADDR) {
            p = put_varint(p, ev->iova);
            *p++ = ev->am;
        }
        if (any & IOMMU_INVF_INDEX) {
            p = put_varint(p, ev->index);
            *p++ = ev->am;
        }
        if (ev->flags & IOMMU_EVF_PASID) p = put_varint(p, ev->pasid);
        break;
    }
    case IOMMU_EV_MSI:
        p = put_u16(p, ev->sid);
        p = put_varint(p, ev->pa);
        p = put_varint(p, ev->data);
        if (ev->flags & IOMMU_EVF_THREAD) p = put_varint(p, ev->thread);
        if (st->version == 0 || st->version >= 3) p = put_varint(p, ev->ios);
        break;
    case IOMMU_EV_IRTE:
        p = put_varint(p, ev->index);
        p = put_u64(p, ev->lo);
        p = put_u64(p, ev->hi);
        break;
    case IOMMU_EV_SCHED:
        p = put_varint(p, ev->thread);
        p = put_varint(p, ev->cpu);
        *p++ = ev->state;
        break;
    default:
        break;
    }
    return (size_t)(p - out);
}

size_t iommu_bin_encode_end(uint64_t count, uint8_t *out)
{
    out[0] = IOMMU_TRACE_BIN_END;
    return (size_t)(put_varint(out + 1, count) - out);
}

/* ---- decoding ------------------------------------------------------------------------- */

#if IOMMU_BIN_FAST
/* Valid dma access values (r, w, rx, each with or without priv): bits 1, 2, 5, 9, 10, 13. */
#define DMA_ACC_OK(a) ((0x2626u >> ((a) & 15)) & 1)
#define ATTR_WORD(a)                                                                         \
    ((a) < 0x30 && DMA_ACC_OK(a) ? (uint64_t)((a) & 15) << 16 | (uint64_t)((a) >> 4) << 48 : 0)
#define ATTR_WORD4(a) ATTR_WORD(a), ATTR_WORD((a) + 1), ATTR_WORD((a) + 2), ATTR_WORD((a) + 3)
#define ATTR_WORD16(a) ATTR_WORD4(a), ATTR_WORD4((a) + 4), ATTR_WORD4((a) + 8), ATTR_WORD4((a) + 12)
#define ATTR_WORD64(a) \
    ATTR_WORD16(a), ATTR_WORD16((a) + 16), ATTR_WORD16((a) + 32), ATTR_WORD16((a) + 48)
const uint64_t iommu_bin_dma_attr_word[256] = {ATTR_WORD64(0), ATTR_WORD64(64),
                                               ATTR_WORD64(128), ATTR_WORD64(192)};
#endif

/* Decoder cursor; `bad` is set on a malformed varint, `short_` when a read ran past end. */
struct cur {
    const uint8_t *p, *end;
    bool short_, bad;
};

static inline uint8_t get_u8(struct cur *c)
{
    if (c->p >= c->end) {
        c->short_ = true;
        return 0;
    }
    return *c->p++;
}

static inline uint16_t get_u16(struct cur *c)
{
    if (c->end - c->p < 2) {
        c->short_ = true;
        c->p = c->end;
        return 0;
    }
    uint16_t v = (uint16_t)(c->p[0] | c->p[1] << 8);
    c->p += 2;
    return v;
}

static inline uint64_t get_u64(struct cur *c)
{
    if (c->end - c->p < 8) {
        c->short_ = true;
        c->p = c->end;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | c->p[i];
    c->p += 8;
    return v;
}

static inline uint64_t get_varint(struct cur *c)
{
    const uint8_t *p = c->p;
    if (p < c->end && *p < 0x80) { /* one byte: the common case */
        c->p = p + 1;
        return *p;
    }
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= c->end) {
            c->short_ = true;
            c->p = c->end;
            return 0;
        }
        uint8_t b = *p++;
        if (shift == 63 && b > 1) { /* the 10th byte holds only bit 63 */
            c->bad = true;
            c->p = p;
            return 0;
        }
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            c->p = p;
            return v;
        }
    }
    c->bad = true;
    c->p = p;
    return 0;
}

/* Narrows a decoded number; false (with the reason) if it does not fit. */
static bool fits(uint64_t v, uint64_t max, const char *ev, const char *key, char *reason,
                 size_t size)
{
    if (v <= max)
        return true;
    iommu_reason_fail(reason, size, "%s: %s %llu out of range (max %llu)", ev, key, (unsigned long long)v,
         (unsigned long long)max);
    return false;
}

long iommu_bin_decode(struct iommu_bin_state *st, const uint8_t *p, const uint8_t *end,
                      struct iommu_trace_event *ev, char *reason, size_t size)
{
    struct cur c = {p, end, false, false};
    uint8_t type = get_u8(&c);
    if (c.short_)
        return 0;
    if (type == IOMMU_TRACE_BIN_END) {
        uint64_t count = get_varint(&c);
        if (c.short_)
            return 0;
        if (c.bad)
            return iommu_reason_fail(reason, size, "end record: bad varint");
        iommu_trace_event_init(ev, 0);
        ev->len = count;
        return (long)(c.p - p);
    }
    const char *en = iommu_ev_name(type);
    if (!en)
        return iommu_reason_fail(reason, size, "unknown event type 0x%02x", (unsigned)type);
    iommu_trace_event_init(ev, type);
    uint8_t flags = get_u8(&c);
    if (flags & ~IOMMU_EVF_ALL)
        return c.short_ ? 0 : iommu_reason_fail(reason, size, "%s: undefined flag bits 0x%02x", en,
                                   (unsigned)flags);
    ev->flags = flags;
    uint64_t time = 0, v, handle = st->prev_handle;
    if (flags & IOMMU_EVF_TIME)
        time = st->prev_time + unzigzag(get_varint(&c));
    ev->time_ns = time;

    switch (type) {
    case IOMMU_EV_ATTACH:
        ev->sid = get_u16(&c);
        v = get_varint(&c);
        if (!c.short_ && !c.bad && !fits(v, 0xFFFF, en, "did", reason, size)) return -1;
        ev->did = (iommu_did_t)v;
        ev->mode = get_u8(&c);
        if (flags & IOMMU_EVF_PASID) {
            v = get_varint(&c);
            if (!c.short_ && !c.bad && !fits(v, IOMMU_PASID_MAX, en, "pasid", reason, size))
                return -1;
            ev->pasid = (iommu_pasid_t)v;
        }
        if (flags & IOMMU_EVF_ALIAS) ev->alias = get_u16(&c);
        break;
    case IOMMU_EV_DETACH:
        ev->sid = get_u16(&c);
        if (flags & IOMMU_EVF_PASID) {
            v = get_varint(&c);
            if (!c.short_ && !c.bad && !fits(v, IOMMU_PASID_MAX, en, "pasid", reason, size))
                return -1;
            ev->pasid = (iommu_pasid_t)v;
        }
        break;
    case IOMMU_EV_MAP: {
        v = get_varint(&c);
        if (!c.short_ && !c.bad && !fits(v, 0xFFFF, en, "did", reason, size)) return -1;
        ev->did = (iommu_did_t)v;
        ev->iova = get_varint(&c);
        ev->pa = get_varint(&c);
        ev->len = get_varint(&c);
        uint8_t attr = get_u8(&c);
        if (!c.short_ && (attr & 0x80 || ((attr >> 3) & 3) == 3))
            return iommu_reason_fail(reason, size, "map: bad attribute byte 0x%02x", (unsigned)attr);
        ev->access = attr & 7;
        ev->page_shift = (uint8_t)(((attr >> 3) & 3) == 0   ? IOMMU_PAGE_SHIFT_4K
                                   : ((attr >> 3) & 3) == 1 ? IOMMU_PAGE_SHIFT_2M
                                                            : IOMMU_PAGE_SHIFT_1G);
        ev->stage = (attr >> 5) & 3;
        break;
    }
    case IOMMU_EV_UNMAP:
        v = get_varint(&c);
        if (!c.short_ && !c.bad && !fits(v, 0xFFFF, en, "did", reason, size)) return -1;
        ev->did = (iommu_did_t)v;
        ev->iova = get_varint(&c);
        ev->len = get_varint(&c);
        ev->stage = get_u8(&c);
        break;
    case IOMMU_EV_DMA: {
        ev->sid = get_u16(&c);
        uint8_t attr = get_u8(&c);
        if (!c.short_ && (attr & 0xC0))
            return iommu_reason_fail(reason, size, "dma: bad attribute byte 0x%02x", (unsigned)attr);
        ev->access = attr & 0xF;
        ev->ats = (attr >> 4) & 3;
        if (flags & IOMMU_EVF_HANDLE) {
            handle = st->prev_handle + unzigzag(get_varint(&c));
            ev->handle = handle;
            ev->iova = get_varint(&c); /* the offset into the buffer */
        } else {
            ev->iova = st->prev_iova + unzigzag(get_varint(&c));
        }
        ev->len = get_varint(&c);
        if (flags & IOMMU_EVF_PASID) {
            v = get_varint(&c);
            if (!c.short_ && !c.bad && !fits(v, IOMMU_PASID_MAX, en, "pasid", reason, size))
                return -1;
            ev->pasid = (iommu_pasid_t)v;
        }
        break;
    }
    case IOMMU_EV_INV: {
        ev->inv_type = get_u8(&c);
        if (c.short_)
            return 0;
        const struct iommu_inv_fields *f = iommu_trace_inv_fields(ev->inv_type);
        if (!f)
            return iommu_reason_fail(reason, size, "inv: unknown type %u", (unsigned)ev->inv_type);
        unsigned any = (unsigned)(f->need | f->opt);
        if (any & IOMMU_INVF_DID) {
            v = get_varint(&c);
            if (!c.short_ && !c.bad && !fits(v, 0xFFFF, en, "did", reason, size)) return -1;
            ev->did = (iommu_did_t)v;
        }
        if (any & IOMMU_INVF_SID) ev->sid = get_u16(&c);
        if (flags & IOMMU_EVF_ADDR) {
            ev->iova = get_varint(&c);
            ev->am = get_u8(&c);
        }
        if (any & IOMMU_INVF_INDEX) {
            v = get_varint(&c);
            if (!c.short_ && !c.bad && !fits(v, IOMMU_TRACE_INDEX_MAX, en, "index", reason, size))
                return -1;
            ev->index = (uint32_t)v;
            ev->am = get_u8(&c);
        }
        if (flags & IOMMU_EVF_PASID) {
            v = get_varint(&c);
            if (!c.short_ && !c.bad && !fits(v, IOMMU_PASID_MAX, en, "pasid", reason, size))
                return -1;
            ev->pasid = (iommu_pasid_t)v;
        }
        break;
    }
    case IOMMU_EV_MSI:
        ev->sid = get_u16(&c);
        ev->pa = get_varint(&c);
        v = get_varint(&c);
        if (!c.short_ && !c.bad && !fits(v, 0xFFFFFFFFull, en, "data", reason, size)) return -1;
        ev->data = (uint32_t)v;
        /* a thread in a version-1/2 file decodes, and the reader then rejects the event as
         * newer than the file (the same message as the text form's) */
        if (flags & IOMMU_EVF_THREAD) ev->thread = get_varint(&c);
        if (st->version == 0 || st->version >= 3) {
            v = get_varint(&c);
            if (!c.short_ && !c.bad && !fits(v, 0xFFFFFFFFull, en, "ios", reason, size))
                return -1;
            ev->ios = (uint32_t)v; /* 0 is caught by the check below */
        }
        break;
    case IOMMU_EV_IRTE:
        v = get_varint(&c);
        if (!c.short_ && !c.bad && !fits(v, IOMMU_TRACE_INDEX_MAX, en, "index", reason, size))
            return -1;
        ev->index = (uint32_t)v;
        ev->lo = get_u64(&c);
        ev->hi = get_u64(&c);
        break;
    case IOMMU_EV_SCHED:
        ev->thread = get_varint(&c);
        v = get_varint(&c);
        if (!c.short_ && !c.bad && !fits(v, 0xFFFFFFFFull, en, "cpu", reason, size)) return -1;
        ev->cpu = (uint32_t)v;
        ev->state = get_u8(&c);
        break;
    case IOMMU_EV_DMA_MAP: {
        ev->sid = get_u16(&c);
        handle = st->prev_handle + unzigzag(get_varint(&c));
        ev->handle = handle;
        ev->pa = get_varint(&c);
        ev->len = get_varint(&c);
        uint8_t perm = get_u8(&c);
        if (!c.short_ && (perm & ~(IOMMU_ACC_R | IOMMU_ACC_W)))
            return iommu_reason_fail(reason, size, "dma_map: bad perm byte 0x%02x", (unsigned)perm);
        ev->access = perm;
        v = get_varint(&c);
        if (!c.short_ && !c.bad && !fits(v, 0xFFFFFFFFull, en, "cpu", reason, size)) return -1;
        ev->cpu = (uint32_t)v;
        break;
    }
    case IOMMU_EV_DMA_UNMAP:
        handle = st->prev_handle + unzigzag(get_varint(&c));
        ev->handle = handle;
        v = get_varint(&c);
        if (!c.short_ && !c.bad && !fits(v, 0xFFFFFFFFull, en, "cpu", reason, size)) return -1;
        ev->cpu = (uint32_t)v;
        break;
    default:
        break;
    }
    if (c.short_)
        return 0;
    if (c.bad)
        return iommu_reason_fail(reason, size, "%s: bad varint (longer than 64 bits)", en);
    if (iommu_trace_event_check(ev, reason, size))
        return -1;
    /* commit the delta state only for a whole, valid record */
    if (flags & IOMMU_EVF_TIME)
        st->prev_time = time;
    if (type == IOMMU_EV_DMA && !(flags & IOMMU_EVF_HANDLE))
        st->prev_iova = ev->iova;
    st->prev_handle = handle; /* unchanged unless the record has a handle */
    return (long)(c.p - p);
}
