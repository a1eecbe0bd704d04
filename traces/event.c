/*
 * event.c — trace event tables (event and invalidation-type names, which fields each inv
 * type takes) and the validity check shared by the text parser, the binary decoder and
 * both writers, so every form accepts exactly the same events. The check is per event:
 * whether a handle is live or a scatter-gather list complete needs state and is the
 * replay's business (docs/trace-format.md, "Buffer events").
 *
 * The check runs once per event on the replay hot path: the valid case does a handful of
 * compares and no formatting; only a failing check formats its reason. The binary
 * reader's dma fast path (trace_impl.h) applies the dma rules itself, without this
 * function: a change to them here must be made there too (tests/traces/trace_fast_test.cpp
 * compares the two paths on random records).
 */
#include "trace_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const ev_names[IOMMU_EV_NTYPES] = {
    [IOMMU_EV_ATTACH] = "attach", [IOMMU_EV_DETACH] = "detach", [IOMMU_EV_MAP] = "map",
    [IOMMU_EV_UNMAP] = "unmap",   [IOMMU_EV_DMA] = "dma",       [IOMMU_EV_INV] = "inv",
    [IOMMU_EV_MSI] = "msi",       [IOMMU_EV_IRTE] = "irte",     [IOMMU_EV_SCHED] = "sched",
    [IOMMU_EV_DMA_MAP] = "dma_map", [IOMMU_EV_DMA_UNMAP] = "dma_unmap",
};

static const char *const inv_names[IOMMU_INV_NTYPES] = {
    [IOMMU_INV_CC_GLOBAL] = "cc-global",       [IOMMU_INV_CC_DOMAIN] = "cc-domain",
    [IOMMU_INV_CC_DEVICE] = "cc-device",       [IOMMU_INV_IOTLB_GLOBAL] = "iotlb-global",
    [IOMMU_INV_IOTLB_DOMAIN] = "iotlb-domain", [IOMMU_INV_IOTLB_PAGE] = "iotlb-page",
    [IOMMU_INV_DEVTLB] = "devtlb",             [IOMMU_INV_IEC_GLOBAL] = "iec-global",
    [IOMMU_INV_IEC_INDEX] = "iec-index",       [IOMMU_INV_WAIT] = "wait",
    [IOMMU_INV_PASID_IOTLB] = "pasid-iotlb",   [IOMMU_INV_PASID_CACHE] = "pasid-cache",
};

/* need / opt scope fields per invalidation type (VT-d 6.5.2 descriptors, abstracted). */
static const struct iommu_inv_fields inv_fields[IOMMU_INV_NTYPES] = {
    [IOMMU_INV_CC_GLOBAL] = {0, 0},
    [IOMMU_INV_CC_DOMAIN] = {IOMMU_INVF_DID, 0},
    [IOMMU_INV_CC_DEVICE] = {IOMMU_INVF_DID | IOMMU_INVF_SID, 0},
    [IOMMU_INV_IOTLB_GLOBAL] = {0, 0},
    [IOMMU_INV_IOTLB_DOMAIN] = {IOMMU_INVF_DID, 0},
    [IOMMU_INV_IOTLB_PAGE] = {IOMMU_INVF_DID | IOMMU_INVF_ADDR, IOMMU_INVF_IH},
    [IOMMU_INV_DEVTLB] = {IOMMU_INVF_SID | IOMMU_INVF_ADDR, IOMMU_INVF_PASID},
    [IOMMU_INV_IEC_GLOBAL] = {0, 0},
    [IOMMU_INV_IEC_INDEX] = {IOMMU_INVF_INDEX, 0},
    [IOMMU_INV_WAIT] = {0, 0},
    [IOMMU_INV_PASID_IOTLB] = {IOMMU_INVF_DID | IOMMU_INVF_PASID,
                               IOMMU_INVF_ADDR | IOMMU_INVF_IH},
    [IOMMU_INV_PASID_CACHE] = {IOMMU_INVF_DID, IOMMU_INVF_PASID},
};

const char *iommu_ev_name(unsigned type)
{
    return type > 0 && type < IOMMU_EV_NTYPES ? ev_names[type] : NULL;
}

unsigned iommu_ev_type_of(const char *name)
{
    for (unsigned t = 1; t < IOMMU_EV_NTYPES; t++)
        if (!strcmp(name, ev_names[t]))
            return t;
    return 0;
}

const char *iommu_inv_type_name(unsigned inv_type)
{
    return inv_type > 0 && inv_type < IOMMU_INV_NTYPES ? inv_names[inv_type] : NULL;
}

const struct iommu_inv_fields *iommu_trace_inv_fields(unsigned inv_type)
{
    return inv_type > 0 && inv_type < IOMMU_INV_NTYPES ? &inv_fields[inv_type] : NULL;
}

const char *iommu_trace_page_name(unsigned shift)
{
    switch (shift) {
    case IOMMU_PAGE_SHIFT_4K: return "4K";
    case IOMMU_PAGE_SHIFT_2M: return "2M";
    case IOMMU_PAGE_SHIFT_1G: return "1G";
    default: return NULL;
    }
}

void iommu_trace_event_init(struct iommu_trace_event *ev, unsigned type)
{
    /* field by field: a memset of the struct compiles to `rep stos`, slow for 88 bytes on
     * the per-event path (the assert catches a field added later) */
    _Static_assert(sizeof(struct iommu_trace_event) == 96, "clear every field below");
    ev->type = (uint8_t)type;
    ev->flags = ev->access = ev->page_shift = ev->mode = ev->stage = 0;
    ev->ats = ev->inv_type = ev->am = ev->state = 0;
    ev->sid = ev->alias = ev->did = 0;
    ev->pasid = IOMMU_PASID_NONE;
    ev->data = ev->index = ev->cpu = 0;
    ev->thread = ev->time_ns = ev->iova = ev->pa = ev->len = ev->lo = ev->hi = 0;
    ev->handle = 0;
    if (type == IOMMU_EV_MSI)
        ev->ios = 1; /* shares its word with index: an msi completes one I/O unless told */
}

/* Flags each event type may carry (inv: refined by its field table). */
static unsigned flags_allowed(const struct iommu_trace_event *ev)
{
    switch (ev->type) {
    case IOMMU_EV_ATTACH: return IOMMU_EVF_TIME | IOMMU_EVF_PASID | IOMMU_EVF_ALIAS;
    case IOMMU_EV_DETACH: return IOMMU_EVF_TIME | IOMMU_EVF_PASID;
    case IOMMU_EV_DMA: return IOMMU_EVF_TIME | IOMMU_EVF_PASID | IOMMU_EVF_HANDLE;
    case IOMMU_EV_DMA_MAP: return IOMMU_EVF_TIME | IOMMU_EVF_MORE;
    case IOMMU_EV_MSI: return IOMMU_EVF_TIME | IOMMU_EVF_THREAD;
    case IOMMU_EV_INV: {
        const struct iommu_inv_fields *f = iommu_trace_inv_fields(ev->inv_type);
        unsigned any = f ? (unsigned)(f->need | f->opt) : 0, fl = IOMMU_EVF_TIME;
        if (any & IOMMU_INVF_PASID) fl |= IOMMU_EVF_PASID;
        if (any & IOMMU_INVF_ADDR) fl |= IOMMU_EVF_ADDR;
        if (any & IOMMU_INVF_IH) fl |= IOMMU_EVF_IH;
        return fl;
    }
    default: return IOMMU_EVF_TIME;
    }
}

static const char *flag_name(unsigned bit)
{
    switch (bit) {
    case IOMMU_EVF_TIME: return "t";
    case IOMMU_EVF_PASID: return "pasid";
    case IOMMU_EVF_ALIAS: return "alias";
    case IOMMU_EVF_IH: return "ih";
    case IOMMU_EVF_ADDR: return "addr";
    case IOMMU_EVF_HANDLE: return "handle";
    case IOMMU_EVF_MORE: return "more";
    case IOMMU_EVF_THREAD: return "thread";
    default: return "?";
    }
}

/* [base, base+len) must not wrap past 2^64 (len > 0). */
static bool range_wraps(uint64_t base, uint64_t len)
{
    return base + (len - 1) < base;
}

int iommu_trace_event_check(const struct iommu_trace_event *ev, char *reason, size_t size)
{
    const char *name = iommu_ev_name(ev->type);
    if (!name)
        return iommu_reason_fail(reason, size, "unknown event type %u", (unsigned)ev->type);
    if (ev->type == IOMMU_EV_INV && !iommu_trace_inv_fields(ev->inv_type))
        return iommu_reason_fail(reason, size, "inv: unknown type %u", (unsigned)ev->inv_type);
    unsigned bad = ev->flags & ~flags_allowed(ev);
    if (bad) {
        if (bad & ~IOMMU_EVF_ALL)
            return iommu_reason_fail(reason, size, "%s: undefined flag bits 0x%x", name, bad);
        unsigned bit = bad & -bad;
        if (ev->type == IOMMU_EV_INV)
            return iommu_reason_fail(reason, size, "inv: type=%s takes no %s", inv_names[ev->inv_type],
                        flag_name(bit));
        return iommu_reason_fail(reason, size, "%s: takes no %s", name, flag_name(bit));
    }
    if ((ev->flags & IOMMU_EVF_PASID) && ev->pasid > IOMMU_PASID_MAX)
        return iommu_reason_fail(reason, size, "%s: pasid %u out of range (max %u)", name,
                    (unsigned)ev->pasid, IOMMU_PASID_MAX);

    switch (ev->type) {
    case IOMMU_EV_ATTACH:
        if (ev->mode > 3)
            return iommu_reason_fail(reason, size, "attach: mode %u out of range (sl, fl, nested, pt)",
                        (unsigned)ev->mode);
        return 0;
    case IOMMU_EV_DETACH:
        return 0;
    case IOMMU_EV_MAP: {
        const char *page = iommu_trace_page_name(ev->page_shift);
        if (!ev->access || (ev->access & ~(IOMMU_ACC_R | IOMMU_ACC_W | IOMMU_ACC_X)))
            return iommu_reason_fail(reason, size, "map: perm must be a non-empty subset of rwx (bits 0x%x)",
                        (unsigned)ev->access);
        if (!page)
            return iommu_reason_fail(reason, size, "map: page size 2^%u is not 4K, 2M or 1G",
                        (unsigned)ev->page_shift);
        if (ev->stage > 2)
            return iommu_reason_fail(reason, size, "map: stage %u out of range (1 or 2)", (unsigned)ev->stage);
        if (!ev->len)
            return iommu_reason_fail(reason, size, "map: len must be > 0");
        uint64_t mask = (1ull << ev->page_shift) - 1;
        if (ev->iova & mask)
            return iommu_reason_fail(reason, size, "map: iova 0x%llx not aligned to the %s page size",
                        (unsigned long long)ev->iova, page);
        if (ev->pa & mask)
            return iommu_reason_fail(reason, size, "map: pa 0x%llx not aligned to the %s page size",
                        (unsigned long long)ev->pa, page);
        if (ev->len & mask)
            return iommu_reason_fail(reason, size, "map: len 0x%llx not a multiple of the %s page size",
                        (unsigned long long)ev->len, page);
        if (range_wraps(ev->iova, ev->len))
            return iommu_reason_fail(reason, size, "map: iova + len wraps past 2^64");
        if (range_wraps(ev->pa, ev->len))
            return iommu_reason_fail(reason, size, "map: pa + len wraps past 2^64");
        return 0;
    }
    case IOMMU_EV_UNMAP:
        if (ev->stage > 2)
            return iommu_reason_fail(reason, size, "unmap: stage %u out of range (1 or 2)",
                        (unsigned)ev->stage);
        if (!ev->len)
            return iommu_reason_fail(reason, size, "unmap: len must be > 0");
        if (ev->iova & 0xFFF)
            return iommu_reason_fail(reason, size, "unmap: iova 0x%llx not 4K-aligned",
                        (unsigned long long)ev->iova);
        if (ev->len & 0xFFF)
            return iommu_reason_fail(reason, size, "unmap: len 0x%llx not a multiple of 4K",
                        (unsigned long long)ev->len);
        if (range_wraps(ev->iova, ev->len))
            return iommu_reason_fail(reason, size, "unmap: iova + len wraps past 2^64");
        return 0;
    case IOMMU_EV_DMA: { /* also in iommu_bin_decode_dma_fast and iommu_bin_dma_attr_word */
        unsigned rw = ev->access & (IOMMU_ACC_R | IOMMU_ACC_W);
        if (ev->access & ~(IOMMU_ACC_R | IOMMU_ACC_W | IOMMU_ACC_X | IOMMU_ACC_PRIV))
            return iommu_reason_fail(reason, size, "dma: undefined access bits 0x%x", (unsigned)ev->access);
        if (rw != IOMMU_ACC_R && rw != IOMMU_ACC_W)
            return iommu_reason_fail(reason, size, "dma: access must be exactly one of read or write");
        if ((ev->access & IOMMU_ACC_X) && rw != IOMMU_ACC_R)
            return iommu_reason_fail(reason, size, "dma: x (execute) needs op=r");
        if (ev->ats > IOMMU_ATS_TRANSLATED)
            return iommu_reason_fail(reason, size, "dma: ats %u out of range", (unsigned)ev->ats);
        if (!ev->len)
            return iommu_reason_fail(reason, size, "dma: len must be > 0");
        if (ev->len > 0xFFFFFFFFull)
            return iommu_reason_fail(reason, size, "dma: len %llu out of range (max 4294967295)",
                        (unsigned long long)ev->len);
        if (range_wraps(ev->iova, ev->len))
            return iommu_reason_fail(reason, size, (ev->flags & IOMMU_EVF_HANDLE)
                                          ? "dma: off + len wraps past 2^64"
                                          : "dma: iova + len wraps past 2^64");
        return 0;
    }
    case IOMMU_EV_DMA_MAP:
        if (!ev->access || (ev->access & ~(IOMMU_ACC_R | IOMMU_ACC_W)))
            return iommu_reason_fail(reason, size, "dma_map: perm must be r, w or rw (bits 0x%x)",
                        (unsigned)ev->access);
        if (!ev->len)
            return iommu_reason_fail(reason, size, "dma_map: len must be > 0");
        if (range_wraps(ev->pa, ev->len))
            return iommu_reason_fail(reason, size, "dma_map: pa + len wraps past 2^64");
        return 0;
    case IOMMU_EV_DMA_UNMAP:
        return 0;
    case IOMMU_EV_INV: {
        const struct iommu_inv_fields *f = &inv_fields[ev->inv_type];
        const char *tn = inv_names[ev->inv_type];
        if ((f->need & IOMMU_INVF_PASID) && !(ev->flags & IOMMU_EVF_PASID))
            return iommu_reason_fail(reason, size, "inv: type=%s needs pasid", tn);
        if ((f->need & IOMMU_INVF_ADDR) && !(ev->flags & IOMMU_EVF_ADDR))
            return iommu_reason_fail(reason, size, "inv: type=%s needs addr", tn);
        if ((ev->flags & IOMMU_EVF_IH) && !(ev->flags & IOMMU_EVF_ADDR))
            return iommu_reason_fail(reason, size, "inv: ih needs addr");
        if (ev->flags & IOMMU_EVF_ADDR) {
            if (ev->am > IOMMU_TRACE_AM_MAX)
                return iommu_reason_fail(reason, size, "inv: am %u out of range (max %u)", (unsigned)ev->am,
                            IOMMU_TRACE_AM_MAX);
            if (ev->iova & ((4096ull << ev->am) - 1))
                return iommu_reason_fail(reason, size, "inv: addr 0x%llx not aligned to 2^am pages (am=%u)",
                            (unsigned long long)ev->iova, (unsigned)ev->am);
        }
        if (f->need & IOMMU_INVF_INDEX) {
            if (ev->index > IOMMU_TRACE_INDEX_MAX)
                return iommu_reason_fail(reason, size, "inv: index %u out of range (max %u)",
                            (unsigned)ev->index, IOMMU_TRACE_INDEX_MAX);
            if (ev->am > IOMMU_TRACE_IEC_AM_MAX)
                return iommu_reason_fail(reason, size, "inv: am %u out of range (max %u)", (unsigned)ev->am,
                            IOMMU_TRACE_IEC_AM_MAX);
            if (ev->index & ((1u << ev->am) - 1))
                return iommu_reason_fail(reason, size, "inv: index %u not aligned to 2^am entries (am=%u)",
                            (unsigned)ev->index, (unsigned)ev->am);
        }
        return 0;
    }
    case IOMMU_EV_MSI:
        if (ev->pa < IOMMU_IRQ_RANGE_BASE || ev->pa > IOMMU_IRQ_RANGE_LAST)
            return iommu_reason_fail(reason, size,
                        "msi: addr 0x%llx outside the interrupt range 0xfee00000-0xfeefffff",
                        (unsigned long long)ev->pa);
        if (!ev->ios)
            return iommu_reason_fail(reason, size, "msi: ios must be >= 1");
        return 0;
    case IOMMU_EV_IRTE:
        if (ev->index > IOMMU_TRACE_INDEX_MAX)
            return iommu_reason_fail(reason, size, "irte: index %u out of range (max %u)",
                        (unsigned)ev->index, IOMMU_TRACE_INDEX_MAX);
        return 0;
    case IOMMU_EV_SCHED:
        if (ev->state > IOMMU_SCHED_PREEMPT)
            return iommu_reason_fail(reason, size, "sched: state %u out of range (0 stop, 1 run, 2 preempt)",
                        (unsigned)ev->state);
        return 0;
    default:
        return iommu_reason_fail(reason, size, "unknown event type %u", (unsigned)ev->type);
    }
}

void iommu_trace_event_canon(struct iommu_trace_event *dst, const struct iommu_trace_event *src)
{
    struct iommu_trace_event e;
    iommu_trace_event_init(&e, src->type);
    e.flags = src->flags;
    if (src->flags & IOMMU_EVF_TIME) e.time_ns = src->time_ns;
    if (src->flags & IOMMU_EVF_PASID) e.pasid = src->pasid;
    switch (src->type) {
    case IOMMU_EV_ATTACH:
        e.sid = src->sid, e.did = src->did, e.mode = src->mode;
        if (src->flags & IOMMU_EVF_ALIAS) e.alias = src->alias;
        break;
    case IOMMU_EV_DETACH:
        e.sid = src->sid;
        break;
    case IOMMU_EV_MAP:
        e.did = src->did, e.iova = src->iova, e.pa = src->pa, e.len = src->len;
        e.access = src->access, e.page_shift = src->page_shift, e.stage = src->stage;
        break;
    case IOMMU_EV_UNMAP:
        e.did = src->did, e.iova = src->iova, e.len = src->len, e.stage = src->stage;
        break;
    case IOMMU_EV_DMA:
        e.sid = src->sid, e.iova = src->iova, e.len = src->len, e.access = src->access;
        e.ats = src->ats;
        if (src->flags & IOMMU_EVF_HANDLE) e.handle = src->handle;
        break;
    case IOMMU_EV_DMA_MAP:
        e.sid = src->sid, e.handle = src->handle, e.pa = src->pa, e.len = src->len;
        e.access = src->access, e.cpu = src->cpu;
        break;
    case IOMMU_EV_DMA_UNMAP:
        e.handle = src->handle, e.cpu = src->cpu;
        break;
    case IOMMU_EV_INV: {
        const struct iommu_inv_fields *f = iommu_trace_inv_fields(src->inv_type);
        unsigned any = f ? (unsigned)(f->need | f->opt) : 0;
        e.inv_type = src->inv_type;
        if (any & IOMMU_INVF_DID) e.did = src->did;
        if (any & IOMMU_INVF_SID) e.sid = src->sid;
        if (src->flags & IOMMU_EVF_ADDR) e.iova = src->iova, e.am = src->am;
        if (any & IOMMU_INVF_INDEX) e.index = src->index, e.am = src->am;
        break;
    }
    case IOMMU_EV_MSI:
        e.sid = src->sid, e.pa = src->pa, e.data = src->data, e.ios = src->ios;
        if (src->flags & IOMMU_EVF_THREAD) e.thread = src->thread;
        break;
    case IOMMU_EV_IRTE:
        e.index = src->index, e.lo = src->lo, e.hi = src->hi;
        break;
    case IOMMU_EV_SCHED:
        e.thread = src->thread, e.cpu = src->cpu, e.state = src->state;
        break;
    default:
        break;
    }
    *dst = e;
}

bool iommu_trace_event_equal(const struct iommu_trace_event *a, const struct iommu_trace_event *b)
{
    struct iommu_trace_event x, y;
    iommu_trace_event_canon(&x, a);
    iommu_trace_event_canon(&y, b);
    return x.type == y.type && x.flags == y.flags && x.access == y.access &&
           x.page_shift == y.page_shift && x.mode == y.mode && x.stage == y.stage &&
           x.ats == y.ats && x.inv_type == y.inv_type && x.am == y.am && x.state == y.state &&
           x.sid == y.sid && x.alias == y.alias && x.did == y.did && x.pasid == y.pasid &&
           x.data == y.data && x.index == y.index && x.cpu == y.cpu && x.thread == y.thread &&
           x.time_ns == y.time_ns && x.iova == y.iova && x.pa == y.pa && x.len == y.len &&
           x.lo == y.lo && x.hi == y.hi && x.handle == y.handle;
}

unsigned iommu_trace_event_version(const struct iommu_trace_event *ev)
{
    switch (ev->type) {
    case IOMMU_EV_DMA_MAP:
    case IOMMU_EV_DMA_UNMAP: return 2;
    case IOMMU_EV_DMA: return (ev->flags & IOMMU_EVF_HANDLE) ? 2 : 1;
    case IOMMU_EV_MSI: return (ev->flags & IOMMU_EVF_THREAD) || ev->ios != 1 ? 3 : 1;
    case IOMMU_EV_SCHED: return ev->state == IOMMU_SCHED_PREEMPT ? 3 : 1;
    default: return 1;
    }
}

const char *iommu_trace_event_newest_part(const struct iommu_trace_event *ev)
{
    switch (ev->type) {
    case IOMMU_EV_DMA: return (ev->flags & IOMMU_EVF_HANDLE) ? "dma by handle" : "dma";
    case IOMMU_EV_MSI:
        if (ev->flags & IOMMU_EVF_THREAD) return "msi with thread=";
        return ev->ios != 1 ? "msi with ios=" : "msi";
    case IOMMU_EV_SCHED: return ev->state == IOMMU_SCHED_PREEMPT ? "sched state=preempt" : "sched";
    default: return iommu_ev_name(ev->type) ? iommu_ev_name(ev->type) : "?";
    }
}
