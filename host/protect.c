/* protect.c — stale-window, stale-access and sub-page exposure metrics (see protect.h). */
#include "protect.h"

#include <stdlib.h>
#include <string.h>

/* One open window: a page of a domain and when its unmap returned. */
struct rec {
    uint64_t key;   /* did << 48 | page number (48 bits: IOVAs below 2^60); 0 = free slot
                     * (page 0 of domain 0 is never tracked)                            */
    uint64_t t_ns;
    uint8_t shift;  /* size of the cached entry */
};

struct iommu_prot {
    iommu_t *u;
    struct rec *tab; /* open addressing, linear probing, power-of-two capacity */
    uint64_t cap, n;
    uint64_t now;
    uint64_t *opened, *bytes, *wmax, *wsum, *closed, *accesses, *exposed, *open_end;
};

#define PAGE_BITS 48
static uint64_t mkkey(iommu_did_t did, uint64_t page)
{
    return ((uint64_t)did << PAGE_BITS) | (page & ((1ull << PAGE_BITS) - 1));
}
static uint64_t hash(uint64_t k) { k ^= k >> 33; k *= 0xff51afd7ed558ccdull; k ^= k >> 33; return k; }

iommu_prot_t *iommu_prot_create(iommu_t *u, iommu_stats_t *s)
{
    iommu_prot_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->u = u;
    p->cap = 1024;
    p->tab = calloc(p->cap, sizeof *p->tab);
    p->opened = iommu_stats_counter(s, "protection.stale_pages",
                                    "unmapped pages still cached in the IOTLB when their unmap returned");
    p->bytes = iommu_stats_counter(s, "protection.stale_bytes",
                                   "bytes reachable through those stale entries (their page sizes)");
    p->wmax = iommu_stats_counter(s, "protection.stale_window_ns.max",
                                  "longest time from an unmap's return to the invalidation removing its stale entry (ns)");
    p->wsum = iommu_stats_counter(s, "protection.stale_window_ns.sum",
                                  "sum of the stale windows (ns)");
    p->closed = iommu_stats_counter(s, "protection.stale_windows_closed",
                                    "stale windows closed by an invalidation");
    p->accesses = iommu_stats_counter(s, "protection.stale_accesses",
                                      "DMA translations served by a stale IOTLB entry");
    p->exposed = iommu_stats_counter(s, "protection.subpage_exposed_bytes",
                                     "bytes mapped beyond DMA-API buffers within their pages");
    p->open_end = iommu_stats_counter(s, "protection.stale_open_at_end",
                                      "stale windows still open when the run ended (closed at the end time)");
    if (!p->tab || !p->opened || !p->bytes || !p->wmax || !p->wsum || !p->closed ||
        !p->accesses || !p->exposed || !p->open_end) {
        iommu_prot_destroy(p);
        return NULL;
    }
    return p;
}

void iommu_prot_destroy(iommu_prot_t *p)
{
    if (!p)
        return;
    free(p->tab);
    free(p);
}

uint64_t iommu_prot_open_count_(const iommu_prot_t *p) { return p->n; }
uint64_t iommu_prot_open(const iommu_prot_t *p) { return p->n; }

static struct rec *find(const iommu_prot_t *p, uint64_t key)
{
    for (uint64_t i = hash(key) & (p->cap - 1);; i = (i + 1) & (p->cap - 1)) {
        if (p->tab[i].key == key)
            return &p->tab[i];
        if (p->tab[i].key == 0)
            return NULL;
    }
}

static void insert(iommu_prot_t *p, uint64_t key, uint64_t t, uint8_t shift);

static void grow(iommu_prot_t *p)
{
    struct rec *old = p->tab;
    const uint64_t oc = p->cap;
    struct rec *nt = calloc(oc * 2, sizeof *nt);
    if (!nt)
        return; /* stays at the old capacity (still correct, fuller) */
    p->tab = nt;
    p->cap = oc * 2;
    p->n = 0;
    for (uint64_t i = 0; i < oc; i++)
        if (old[i].key)
            insert(p, old[i].key, old[i].t_ns, old[i].shift);
    free(old);
}

static void insert(iommu_prot_t *p, uint64_t key, uint64_t t, uint8_t shift)
{
    if ((p->n + 1) * 4 > p->cap * 3)
        grow(p);
    if (p->n + 1 >= p->cap)
        return; /* table full and could not grow: the window is not tracked */
    uint64_t i = hash(key) & (p->cap - 1);
    while (p->tab[i].key && p->tab[i].key != key)
        i = (i + 1) & (p->cap - 1);
    if (p->tab[i].key == key)
        return; /* already open: keep the earlier start */
    p->tab[i] = (struct rec){key, t, shift};
    p->n++;
}

/* Removes slot i (backward-shift deletion keeps probe chains intact). */
static void erase_at(iommu_prot_t *p, uint64_t i)
{
    uint64_t j = i;
    for (;;) {
        p->tab[i].key = 0;
        for (;;) {
            j = (j + 1) & (p->cap - 1);
            if (p->tab[j].key == 0) {
                p->n--;
                return;
            }
            const uint64_t h = hash(p->tab[j].key) & (p->cap - 1);
            /* move j to i when its home h is not in (i, j] cyclically */
            if ((i <= j) ? (h <= i || h > j) : (h <= i && h > j))
                break;
        }
        p->tab[i] = p->tab[j];
        i = j;
    }
}

static void close_rec(iommu_prot_t *p, uint64_t i, uint64_t now)
{
    const uint64_t w = now > p->tab[i].t_ns ? now - p->tab[i].t_ns : 0;
    if (w > *p->wmax)
        *p->wmax = w;
    *p->wsum += w;
    (*p->closed)++;
    erase_at(p, i);
}

void iommu_prot_unmapped(iommu_prot_t *p, iommu_did_t did, uint64_t iova, uint64_t len,
                         uint64_t now_ns)
{
    iommu_iotlb_t *t = iommu_iotlb(p->u);
    const uint64_t end = iova + len;
    for (uint64_t a = iova & ~0xfffull; a < end; a += 4096) {
        const struct iommu_iotlb_entry *e = iommu_iotlb_probe(t, did, IOMMU_PASID_NONE, a);
        if (!e)
            continue;
        const uint64_t key = mkkey(did, a >> 12);
        if (find(p, key))
            continue;
        insert(p, key, now_ns, e->page_shift);
        (*p->opened)++;
        *p->bytes += 1ull << e->page_shift;
    }
}

void iommu_prot_invalidated(iommu_prot_t *p, const struct iommu_qi_desc *d, uint64_t now_ns)
{
    if (!p->n)
        return;
    bool all = false, by_did = false, range = false;
    uint64_t lo = 0, hi = 0;
    switch (d->type) {
    case IOMMU_QI_IOTLB:
        all = d->g == IOMMU_QI_G_GLOBAL;
        by_did = d->g == IOMMU_QI_G_DOMAIN;
        if (d->g == IOMMU_QI_G_PAGE) {
            const unsigned am = d->am > 51 ? 51 : d->am;
            const struct iommu_cfg *c = iommu_config(p->u);
            if (!c->psi || am > c->mamv) {
                by_did = true; /* executed as domain-selective */
            } else {
                range = true;
                lo = (d->addr >> 12) & ~((1ull << am) - 1);
                hi = lo + (1ull << am);
            }
        }
        break;
    case IOMMU_QI_PASID_IOTLB:
        by_did = true; /* conservative: PASID-tagged entries are not tracked separately */
        break;
    default:
        return; /* other caches: not IOTLB entries */
    }
    if (range && hi - lo <= 64) {
        for (uint64_t pg = lo; pg < hi; pg++) {
            const uint64_t key = mkkey(d->did, pg);
            struct rec *r = find(p, key);
            if (r)
                close_rec(p, (uint64_t)(r - p->tab), now_ns);
        }
        return;
    }
    for (uint64_t i = 0; i < p->cap && p->n;) {
        const uint64_t k = p->tab[i].key;
        const iommu_did_t did = (iommu_did_t)(k >> PAGE_BITS);
        const uint64_t pg = k & ((1ull << PAGE_BITS) - 1);
        if (k && (all || (did == d->did && (by_did || (pg >= lo && pg < hi))))) {
            close_rec(p, i, now_ns); /* slot i now holds a shifted record: look again */
            continue;
        }
        i++;
    }
}

bool iommu_prot_access_slow_(iommu_prot_t *p, iommu_did_t did, uint64_t iova)
{
    if (!find(p, mkkey(did, iova >> 12)))
        return false;
    (*p->accesses)++;
    return true;
}

void iommu_prot_exposed(iommu_prot_t *p, uint64_t bytes) { *p->exposed += bytes; }

void iommu_prot_finish(iommu_prot_t *p, uint64_t now_ns)
{
    for (uint64_t i = 0; i < p->cap && p->n;) {
        if (p->tab[i].key) {
            (*p->open_end)++;
            close_rec(p, i, now_ns);
            continue;
        }
        i++;
    }
}

void iommu_prot_set_now(iommu_prot_t *p, uint64_t now_ns) { p->now = now_ns; }

void iommu_prot_observer(void *ctx, const struct iommu_invq_result *r)
{
    iommu_prot_t *p = ctx;
    iommu_prot_invalidated(p, &r->d, p->now);
}
