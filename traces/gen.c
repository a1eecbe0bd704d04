/*
 * gen.c — synthetic trace generators (see gen.h) and their PRNG, xoshiro256** (Blackman &
 * Vigna) seeded by splitmix64, so a seed names the same trace on every platform.
 *
 * Workload: up to ~10^8 DMAs per trace; generation is one PRNG draw and one writer call
 * per event, no state that grows with the count (the buffers generator holds its rings and
 * its page pool: memory in ring * devices * sg, never in the count).
 */
#include "gen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void iommu_gen_rng_seed(struct iommu_gen_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t iommu_gen_rng_next(struct iommu_gen_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t iommu_gen_rng_below(struct iommu_gen_rng *r, uint64_t n)
{
    /* rejection sampling on the top of the range: values >= limit would bias the modulo */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;
    uint64_t v;
    do
        v = iommu_gen_rng_next(r);
    while (v > limit);
    return v % n;
}

void iommu_gen_window_params_default(struct iommu_gen_window_params *p)
{
    memset(p, 0, sizeof *p);
    p->size = 64;
    p->count = 1;
    p->page_shift = IOMMU_PAGE_SHIFT_4K;
    p->op = IOMMU_ACC_R;
    p->seed = 1;
}

enum iommu_status iommu_gen_window_params_validate(const struct iommu_gen_window_params *p,
                                                   char *reason, size_t size)
{
    if (p->window == 0 || p->window > IOMMU_GEN_WINDOW_MAX)
        return iommu_reason_inval(reason, size, "window %llu out of range (1 .. %llu bytes)",
                   (unsigned long long)p->window, (unsigned long long)IOMMU_GEN_WINDOW_MAX);
    if (p->size == 0 || (p->size & (p->size - 1)))
        return iommu_reason_inval(reason, size, "size %llu is not a power of two", (unsigned long long)p->size);
    if (p->size > p->window)
        return iommu_reason_inval(reason, size, "size %llu is larger than the window (%llu bytes)",
                   (unsigned long long)p->size, (unsigned long long)p->window);
    if (p->size > 0xFFFFFFFFull)
        return iommu_reason_inval(reason, size, "size %llu out of range (max 4294967295)",
                   (unsigned long long)p->size);
    if (p->count == 0)
        return iommu_reason_inval(reason, size, "count must be >= 1");
    if (p->page_shift != IOMMU_PAGE_SHIFT_4K && p->page_shift != IOMMU_PAGE_SHIFT_2M &&
        p->page_shift != IOMMU_PAGE_SHIFT_1G)
        return iommu_reason_inval(reason, size, "page size 2^%u is not 4K, 2M or 1G", p->page_shift);
    if (p->op != IOMMU_ACC_R && p->op != IOMMU_ACC_W)
        return iommu_reason_inval(reason, size, "op must be read or write");
    return IOMMU_OK;
}

enum iommu_status iommu_trace_gen_window(const struct iommu_gen_window_params *p,
                                         iommu_trace_writer_t *w, struct iommu_trace_error *err)
{
    char reason[256];
    if (iommu_gen_window_params_validate(p, reason, sizeof reason)) {
        if (err)
            snprintf(err->msg, sizeof err->msg, "gen window: %s", reason);
        return IOMMU_ERR_INVAL;
    }
    struct iommu_trace_event ev;
    enum iommu_status st;

    iommu_trace_event_init(&ev, IOMMU_EV_ATTACH);
    ev.sid = IOMMU_GEN_SID;
    ev.did = IOMMU_GEN_DID;
    ev.mode = 0; /* second level */
    if ((st = iommu_trace_write(w, &ev, err)))
        return st;

    uint64_t page = 1ull << p->page_shift;
    iommu_trace_event_init(&ev, IOMMU_EV_MAP);
    ev.did = IOMMU_GEN_DID;
    ev.iova = IOMMU_GEN_IOVA_BASE;
    ev.pa = IOMMU_GEN_PA_BASE;
    ev.len = (p->window + page - 1) & ~(page - 1);
    ev.access = IOMMU_ACC_R | IOMMU_ACC_W;
    ev.page_shift = (uint8_t)p->page_shift;
    if ((st = iommu_trace_write(w, &ev, err)))
        return st;

    struct iommu_gen_rng rng;
    iommu_gen_rng_seed(&rng, p->seed);
    uint64_t slots = p->window / p->size; /* >= 1: size <= window */
    iommu_trace_event_init(&ev, IOMMU_EV_DMA);
    ev.sid = IOMMU_GEN_SID;
    ev.len = p->size;
    ev.access = p->op;
    for (uint64_t i = 0; i < p->count; i++) {
        ev.iova = IOMMU_GEN_IOVA_BASE + p->size * iommu_gen_rng_below(&rng, slots);
        if ((st = iommu_trace_write(w, &ev, err)))
            return st;
    }
    return IOMMU_OK;
}

/* ---- buffers -------------------------------------------------------------------------- */

void iommu_gen_buffers_params_default(struct iommu_gen_buffers_params *p)
{
    memset(p, 0, sizeof *p);
    p->count = 1;
    p->size = 1500;
    p->sg = 1;
    p->ring = 256;
    p->devices = 1;
    p->dir = IOMMU_ACC_W;
    p->headroom = 64;
    p->seed = 1;
}

enum iommu_status iommu_gen_buffers_params_validate(const struct iommu_gen_buffers_params *p,
                                                    char *reason, size_t size)
{
    if (p->count == 0)
        return iommu_reason_inval(reason, size, "count must be >= 1");
    if (p->size == 0 || p->size > 0xFFFFFFFFull)
        return iommu_reason_inval(reason, size, "size %llu out of range (1 .. 4294967295 bytes)",
                   (unsigned long long)p->size);
    if (p->sg == 0 || p->sg > IOMMU_GEN_BUF_SG_MAX)
        return iommu_reason_inval(reason, size, "sg %u out of range (1 .. %u)", p->sg, IOMMU_GEN_BUF_SG_MAX);
    if (p->sg > p->size)
        return iommu_reason_inval(reason, size, "sg %u is more segments than the size has bytes (%llu)", p->sg,
                   (unsigned long long)p->size);
    if (p->ring == 0 || p->ring > IOMMU_GEN_BUF_RING_MAX)
        return iommu_reason_inval(reason, size, "ring %u out of range (1 .. %u)", p->ring,
                   IOMMU_GEN_BUF_RING_MAX);
    if (p->devices == 0 || p->devices > IOMMU_GEN_BUF_DEVICES_MAX)
        return iommu_reason_inval(reason, size, "devices %u out of range (1 .. %u)", p->devices,
                   IOMMU_GEN_BUF_DEVICES_MAX);
    uint64_t live = (uint64_t)p->ring * p->devices * p->sg;
    if (live > IOMMU_GEN_BUF_LIVE_MAX)
        return iommu_reason_inval(reason, size,
                   "ring * devices * sg = %llu segments mapped at once, more than %u",
                   (unsigned long long)live, IOMMU_GEN_BUF_LIVE_MAX);
    if (p->dir != IOMMU_ACC_R && p->dir != IOMMU_ACC_W)
        return iommu_reason_inval(reason, size, "dir must be rx (device writes) or tx (device reads)");
    if (p->headroom > 4095)
        return iommu_reason_inval(reason, size, "headroom %llu out of range (0 .. 4095 bytes)",
                   (unsigned long long)p->headroom);
    return IOMMU_OK;
}

uint64_t iommu_gen_buffers_block_pages(const struct iommu_gen_buffers_params *p)
{
    uint64_t longest = p->size / p->sg + (p->size % p->sg != 0);
    uint64_t pages = (p->headroom + longest + 4095) / 4096, block = 1;
    while (block < pages)
        block <<= 1;
    return block;
}

/* The generator's state: the free blocks of the page pool and, per device, a ring of
 * mapped buffers (oldest at head[d]). */
struct buf_gen {
    const struct iommu_gen_buffers_params *p;
    iommu_trace_writer_t *w;
    struct iommu_trace_error *err;
    struct iommu_gen_rng rng;
    uint64_t block_bytes; /* bytes per pool block                                  */
    uint32_t *free_blocks; /* free_blocks[0, nfree): unused blocks, in no order     */
    uint64_t nfree;
    uint64_t *handle;     /* handle[d * ring + j]: the buffer in slot j of device d */
    uint32_t *seg_block;  /* seg_block[(d * ring + j) * sg + s]: its segments' blocks */
    unsigned *head;       /* head[d]: slot of device d's oldest buffer              */
    uint64_t next_handle;
};

static iommu_sid_t buf_sid(unsigned d)
{
    return (iommu_sid_t)(IOMMU_GEN_BUF_SID0 + (d << 3)); /* next device number, function 0 */
}

/* Maps a new buffer into slot `slot` of device d: sg dma_map events, each segment in a
 * block drawn at random from the free pool. */
static enum iommu_status buf_map(struct buf_gen *g, unsigned d, uint64_t slot)
{
    const struct iommu_gen_buffers_params *p = g->p;
    uint64_t h = g->next_handle++;
    g->handle[slot] = h;
    struct iommu_trace_event ev;
    iommu_trace_event_init(&ev, IOMMU_EV_DMA_MAP);
    ev.sid = buf_sid(d);
    ev.handle = h;
    ev.access = p->dir;
    uint64_t base = p->size / p->sg, extra = p->size % p->sg;
    for (unsigned s = 0; s < p->sg; s++) {
        uint64_t k = iommu_gen_rng_below(&g->rng, g->nfree);
        uint32_t b = g->free_blocks[k];
        g->free_blocks[k] = g->free_blocks[--g->nfree];
        g->seg_block[slot * p->sg + s] = b;
        ev.pa = IOMMU_GEN_PA_BASE + b * g->block_bytes + p->headroom;
        ev.len = base + (s < extra);
        ev.flags = s + 1 < p->sg ? IOMMU_EVF_MORE : 0;
        enum iommu_status st = iommu_trace_write(g->w, &ev, g->err);
        if (st)
            return st;
    }
    return IOMMU_OK;
}

enum iommu_status iommu_trace_gen_buffers(const struct iommu_gen_buffers_params *p,
                                          iommu_trace_writer_t *w, struct iommu_trace_error *err)
{
    char reason[256];
    if (iommu_gen_buffers_params_validate(p, reason, sizeof reason)) {
        if (err)
            snprintf(err->msg, sizeof err->msg, "gen buffers: %s", reason);
        return IOMMU_ERR_INVAL;
    }
    struct buf_gen g = {.p = p, .w = w, .err = err, .next_handle = 1};
    uint64_t slots = (uint64_t)p->ring * p->devices, live = slots * p->sg;
    uint64_t block_pages = iommu_gen_buffers_block_pages(p);
    uint64_t pool = IOMMU_GEN_BUF_POOL_PAGES / block_pages;
    if (pool < 2 * live)
        pool = 2 * live; /* at most 2^21 blocks of at most 2^21 pages: no wrap */
    g.block_bytes = block_pages * 4096;
    iommu_gen_rng_seed(&g.rng, p->seed);
    g.free_blocks = malloc(pool * sizeof *g.free_blocks);
    g.handle = malloc(slots * sizeof *g.handle);
    g.seg_block = malloc(live * sizeof *g.seg_block);
    g.head = calloc(p->devices, sizeof *g.head);
    enum iommu_status st = IOMMU_OK;
    if (!g.free_blocks || !g.handle || !g.seg_block || !g.head) {
        if (err)
            snprintf(err->msg, sizeof err->msg, "gen buffers: out of memory");
        st = IOMMU_ERR_NOMEM;
        goto out;
    }
    for (uint64_t b = 0; b < pool; b++)
        g.free_blocks[b] = (uint32_t)b;
    g.nfree = pool;

    struct iommu_trace_event ev;
    for (unsigned d = 0; d < p->devices; d++) {
        iommu_trace_event_init(&ev, IOMMU_EV_ATTACH);
        ev.sid = buf_sid(d);
        ev.did = (iommu_did_t)(d + 1);
        ev.mode = 0; /* second level */
        if ((st = iommu_trace_write(w, &ev, err)))
            goto out;
    }
    for (unsigned d = 0; d < p->devices; d++)
        for (unsigned j = 0; j < p->ring; j++)
            if ((st = buf_map(&g, d, (uint64_t)d * p->ring + j)))
                goto out;

    for (uint64_t i = 0; i < p->count; i++) {
        unsigned d = (unsigned)(i % p->devices);
        uint64_t slot = (uint64_t)d * p->ring + g.head[d];
        iommu_trace_event_init(&ev, IOMMU_EV_DMA);
        ev.flags = IOMMU_EVF_HANDLE;
        ev.sid = buf_sid(d);
        ev.handle = g.handle[slot];
        ev.iova = 0; /* offset: the whole buffer */
        ev.len = p->size;
        ev.access = p->dir;
        if ((st = iommu_trace_write(w, &ev, err)))
            goto out;
        iommu_trace_event_init(&ev, IOMMU_EV_DMA_UNMAP);
        ev.handle = g.handle[slot];
        if ((st = iommu_trace_write(w, &ev, err)))
            goto out;
        for (unsigned s = 0; s < p->sg; s++) /* its blocks go back to the pool */
            g.free_blocks[g.nfree++] = g.seg_block[slot * p->sg + s];
        if ((st = buf_map(&g, d, slot)))
            goto out;
        g.head[d] = g.head[d] + 1 == p->ring ? 0 : g.head[d] + 1;
    }
out:
    free(g.free_blocks);
    free(g.handle);
    free(g.seg_block);
    free(g.head);
    return st;
}
