/*
 * stats.c — the statistics registry. Entries live in a growable array (pointers into it are
 * never handed out); counter storage lives in fixed-size chunks that never move, so the
 * pointers handed out stay valid. Name lookup is a linear scan: registration happens at
 * set-up and when a new device or domain first appears, never per translation.
 */
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 256u

/* strdup is POSIX, not C11. */
static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

struct chunk {
    struct chunk *next;
    uint32_t used;
    uint64_t v[CHUNK];
};

struct iommu_stats {
    struct iommu_stat_info *info; /* [0, n) registered entries */
    size_t n, cap;
    struct chunk *chunks;         /* head has free space, if any */
};

iommu_stats_t *iommu_stats_create(void)
{
    return calloc(1, sizeof(struct iommu_stats));
}

void iommu_stats_destroy(iommu_stats_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++) {
        free((char *)st->info[i].name);
        free((char *)st->info[i].desc);
        if (st->info[i].hist) {
            free(st->info[i].hist->buckets);
            free(st->info[i].hist);
        }
    }
    free(st->info);
    for (struct chunk *c = st->chunks, *nx; c; c = nx) {
        nx = c->next;
        free(c);
    }
    free(st);
}

const struct iommu_stat_info *iommu_stats_find(const iommu_stats_t *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->info[i].name, name) == 0)
            return &st->info[i];
    return NULL;
}

static struct iommu_stat_info *add_entry(iommu_stats_t *st, const char *name, const char *desc)
{
    if (st->n == st->cap) {
        size_t nc = st->cap ? st->cap * 2 : 64;
        struct iommu_stat_info *ni = realloc(st->info, nc * sizeof *ni);
        if (!ni)
            return NULL;
        st->info = ni;
        st->cap = nc;
    }
    struct iommu_stat_info *e = &st->info[st->n];
    memset(e, 0, sizeof *e);
    e->name = dup_str(name);
    e->desc = dup_str(desc ? desc : "");
    if (!e->name || !e->desc) {
        free((char *)e->name);
        free((char *)e->desc);
        return NULL;
    }
    st->n++;
    return e;
}

uint64_t *iommu_stats_counter(iommu_stats_t *st, const char *name, const char *desc)
{
    const struct iommu_stat_info *old = iommu_stats_find(st, name);
    if (old)
        return old->kind == IOMMU_STAT_COUNTER ? old->counter : NULL;
    if (!st->chunks || st->chunks->used == CHUNK) {
        struct chunk *c = calloc(1, sizeof *c);
        if (!c)
            return NULL;
        c->next = st->chunks;
        st->chunks = c;
    }
    struct iommu_stat_info *e = add_entry(st, name, desc);
    if (!e)
        return NULL;
    e->kind = IOMMU_STAT_COUNTER;
    e->counter = &st->chunks->v[st->chunks->used++];
    return e->counter;
}

uint64_t *iommu_stats_counter_block(iommu_stats_t *st, const char *prefix, size_t n,
                                    const char *const names[], const char *const descs[])
{
    char name[256];
    if (n == 0 || n > CHUNK)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, names[i]);
        if (iommu_stats_find(st, name))
            return NULL;
    }
    if (!st->chunks || CHUNK - st->chunks->used < n) {
        struct chunk *c = calloc(1, sizeof *c);
        if (!c)
            return NULL;
        c->next = st->chunks;
        st->chunks = c;
    }
    uint64_t *base = &st->chunks->v[st->chunks->used];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, names[i]);
        struct iommu_stat_info *e = add_entry(st, name, descs[i]);
        if (!e)
            return NULL; /* entries registered so far keep valid storage */
        e->kind = IOMMU_STAT_COUNTER;
        e->counter = &base[i];
        st->chunks->used++;
    }
    return base;
}

iommu_hist_t *iommu_stats_hist(iommu_stats_t *st, const char *name, const char *desc,
                               uint64_t width, uint32_t nbuckets)
{
    const struct iommu_stat_info *old = iommu_stats_find(st, name);
    if (old)
        return old->kind == IOMMU_STAT_HIST ? old->hist : NULL;
    if (width == 0 || nbuckets == 0)
        return NULL;
    iommu_hist_t *h = calloc(1, sizeof *h);
    uint64_t *b = calloc(nbuckets, sizeof *b);
    struct iommu_stat_info *e = (h && b) ? add_entry(st, name, desc) : NULL;
    if (!e) {
        free(h);
        free(b);
        return NULL;
    }
    h->width = width;
    h->nbuckets = nbuckets;
    h->buckets = b;
    h->min = UINT64_MAX;
    e->kind = IOMMU_STAT_HIST;
    e->hist = h;
    return h;
}

size_t iommu_stats_size(const iommu_stats_t *st)
{
    return st->n;
}

const struct iommu_stat_info *iommu_stats_at(const iommu_stats_t *st, size_t i)
{
    return i < st->n ? &st->info[i] : NULL;
}

void iommu_stats_reset(iommu_stats_t *st)
{
    for (size_t i = 0; i < st->n; i++) {
        struct iommu_stat_info *e = &st->info[i];
        if (e->kind == IOMMU_STAT_COUNTER) {
            *e->counter = 0;
        } else {
            iommu_hist_t *h = e->hist;
            memset(h->buckets, 0, h->nbuckets * sizeof *h->buckets);
            h->count = h->sum = h->max = 0;
            h->min = UINT64_MAX;
        }
    }
}
