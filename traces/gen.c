/*
 * gen.c — synthetic trace generators (see gen.h) and their PRNG, xoshiro256** (Blackman &
 * Vigna) seeded by splitmix64, so a seed names the same trace on every platform.
 *
 * Workload: up to ~10^8 DMAs per trace; generation is one PRNG draw and one writer call
 * per event, no state that grows with the count.
 */
#include "gen.h"

#include <stdarg.h>
#include <stdio.h>
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

static enum iommu_status bad(char *reason, size_t size, const char *fmt, ...)
{
    if (reason && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, size, fmt, ap);
        va_end(ap);
    }
    return IOMMU_ERR_INVAL;
}

enum iommu_status iommu_gen_window_params_validate(const struct iommu_gen_window_params *p,
                                                   char *reason, size_t size)
{
    if (p->window == 0 || p->window > IOMMU_GEN_WINDOW_MAX)
        return bad(reason, size, "window %llu out of range (1 .. %llu bytes)",
                   (unsigned long long)p->window, (unsigned long long)IOMMU_GEN_WINDOW_MAX);
    if (p->size == 0 || (p->size & (p->size - 1)))
        return bad(reason, size, "size %llu is not a power of two", (unsigned long long)p->size);
    if (p->size > p->window)
        return bad(reason, size, "size %llu is larger than the window (%llu bytes)",
                   (unsigned long long)p->size, (unsigned long long)p->window);
    if (p->size > 0xFFFFFFFFull)
        return bad(reason, size, "size %llu out of range (max 4294967295)",
                   (unsigned long long)p->size);
    if (p->count == 0)
        return bad(reason, size, "count must be >= 1");
    if (p->page_shift != IOMMU_PAGE_SHIFT_4K && p->page_shift != IOMMU_PAGE_SHIFT_2M &&
        p->page_shift != IOMMU_PAGE_SHIFT_1G)
        return bad(reason, size, "page size 2^%u is not 4K, 2M or 1G", p->page_shift);
    if (p->op != IOMMU_ACC_R && p->op != IOMMU_ACC_W)
        return bad(reason, size, "op must be read or write");
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
