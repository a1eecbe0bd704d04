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

/* Open windows: open addressing, linear probing, power-of-two capacity. */
struct table {
    struct rec *tab;
    uint64_t cap, n;
};

struct iommu_prot {
    iommu_t *u;
    struct table io;  /* IOTLB entries: key did << 48 | page            */
    struct table dev; /* device-TLB entries: key sid << 48 | page (ATS)  */
    iommu_devtlbs_t *devtlbs;
    uint64_t now;
    uint64_t *c;      /* counters, enum PC_* */
};

#define PAGE_BITS 48
static uint64_t mkkey(iommu_did_t did, uint64_t page)
{
    return ((uint64_t)did << PAGE_BITS) | (page & ((1ull << PAGE_BITS) - 1));
}
static uint64_t hash(uint64_t k) { k ^= k >> 33; k *= 0xff51afd7ed558ccdull; k ^= k >> 33; return k; }

/* Counters, registered as one block "protection.<name>" (docs/stats.md). */
enum { PC_DEV, PC_PAGES, PC_BYTES, PC_WMAX, PC_WSUM, PC_CLOSED, PC_ACCESSES, PC_EXPOSED,
       PC_OPEN_END, PC_N };
static const char *const pc_names[PC_N] = {
    "stale_pages.devtlb", "stale_pages", "stale_bytes", "stale_window_ns.max",
    "stale_window_ns.sum", "stale_windows_closed", "stale_accesses", "subpage_exposed_bytes",
    "stale_open_at_end",
};
static const char *const pc_descs[PC_N] = {
    "of protection.stale_pages: entries in a device-TLB (ATS)",
    "stale entries when an unmap returned: unmapped pages still cached in the IOTLB or a device-TLB",
    "bytes reachable through those stale entries (their page sizes)",
    "longest time from an unmap's return to the invalidation removing its stale entry (ns)",
    "sum of the stale windows (ns)",
    "stale windows closed by an invalidation",
    "DMA translations or device-TLB hits served by a stale entry",
    "bytes mapped beyond DMA-API buffers within their pages",
    "stale windows still open when the run ended (closed at the end time)",
};

iommu_prot_t *iommu_prot_create(iommu_t *u, iommu_stats_t *s)
{
    iommu_prot_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->u = u;
    p->io.cap = p->dev.cap = 1024;
    p->io.tab = calloc(p->io.cap, sizeof(struct rec));
    p->dev.tab = calloc(p->dev.cap, sizeof(struct rec));
    p->c = iommu_stats_counter_block(s, "protection.", PC_N, pc_names, pc_descs);
    if (!p->io.tab || !p->dev.tab || !p->c) {
        iommu_prot_destroy(p);
        return NULL;
    }
    return p;
}

void iommu_prot_destroy(iommu_prot_t *p)
{
    if (!p)
        return;
    free(p->io.tab);
    free(p->dev.tab);
    free(p);
}

uint64_t iommu_prot_open_count_(const iommu_prot_t *p) { return p->io.n + p->dev.n; }
uint64_t iommu_prot_open(const iommu_prot_t *p) { return p->io.n + p->dev.n; }
void iommu_prot_set_devtlbs(iommu_prot_t *p, iommu_devtlbs_t *d) { p->devtlbs = d; }

static struct rec *find(const struct table *p, uint64_t key)
{
    for (uint64_t i = hash(key) & (p->cap - 1);; i = (i + 1) & (p->cap - 1)) {
        if (p->tab[i].key == key)
            return &p->tab[i];
        if (p->tab[i].key == 0)
            return NULL;
    }
}

static void insert(struct table *p, uint64_t key, uint64_t t, uint8_t shift);

static void grow(struct table *p)
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

static void insert(struct table *p, uint64_t key, uint64_t t, uint8_t shift)
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
static void erase_at(struct table *p, uint64_t i)
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

static void close_rec(iommu_prot_t *p, struct table *t, uint64_t i, uint64_t now)
{
    const uint64_t w = now > t->tab[i].t_ns ? now - t->tab[i].t_ns : 0;
    if (w > p->c[PC_WMAX])
        p->c[PC_WMAX] = w;
    p->c[PC_WSUM] += w;
    p->c[PC_CLOSED]++;
    erase_at(t, i);
}

/* Closes every window of table t whose key matches (owner = key >> 48, page in [lo, hi)). */
static void close_matching(iommu_prot_t *p, struct table *t, bool all, uint64_t owner,
                           bool whole_owner, uint64_t lo, uint64_t hi, uint64_t now)
{
    if (!all && !whole_owner && hi - lo <= 64) {
        for (uint64_t pg = lo; pg < hi; pg++) {
            struct rec *r = find(t, (owner << PAGE_BITS) | pg);
            if (r)
                close_rec(p, t, (uint64_t)(r - t->tab), now);
        }
        return;
    }
    for (uint64_t i = 0; i < t->cap && t->n;) {
        const uint64_t k = t->tab[i].key;
        const uint64_t pg = k & ((1ull << PAGE_BITS) - 1);
        if (k && (all || ((k >> PAGE_BITS) == owner && (whole_owner || (pg >= lo && pg < hi))))) {
            close_rec(p, t, i, now); /* slot i now holds a shifted record: look again */
            continue;
        }
        i++;
    }
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
        if (find(&p->io, key))
            continue;
        insert(&p->io, key, now_ns, e->page_shift);
        p->c[PC_PAGES]++;
        p->c[PC_BYTES] += 1ull << e->page_shift;
    }
}

void iommu_prot_unmapped_dev(iommu_prot_t *p, iommu_sid_t sid, uint64_t iova, uint64_t len,
                             uint64_t now_ns)
{
    if (!p->devtlbs)
        return;
    const uint64_t end = iova + len;
    for (uint64_t a = iova & ~0xfffull; a < end; a += 4096) {
        const struct iommu_iotlb_entry *e = iommu_devtlbs_probe(p->devtlbs, sid, IOMMU_PASID_NONE, a);
        if (!e)
            continue;
        const uint64_t key = ((uint64_t)sid << PAGE_BITS) | ((a >> 12) & ((1ull << PAGE_BITS) - 1));
        if (find(&p->dev, key))
            continue;
        insert(&p->dev, key, now_ns, e->page_shift);
        p->c[PC_PAGES]++;
        p->c[PC_DEV]++;
        p->c[PC_BYTES] += 1ull << e->page_shift;
    }
}

bool iommu_prot_dev_access(iommu_prot_t *p, iommu_sid_t sid, uint64_t iova)
{
    if (!p || !p->dev.n)
        return false;
    const uint64_t key = ((uint64_t)sid << PAGE_BITS) | ((iova >> 12) & ((1ull << PAGE_BITS) - 1));
    if (!find(&p->dev, key))
        return false;
    p->c[PC_ACCESSES]++;
    return true;
}

void iommu_prot_invalidated(iommu_prot_t *p, const struct iommu_qi_desc *d, uint64_t now_ns)
{
    if (d->type == IOMMU_QI_DEVTLB) {
        if (!p->dev.n)
            return;
        uint64_t base;
        unsigned shift;
        iommu_qi_devtlb_range(d, &base, &shift);
        if (shift >= 64)
            close_matching(p, &p->dev, false, d->sid, true, 0, 0, now_ns);
        else
            close_matching(p, &p->dev, false, d->sid, false, base >> 12,
                           (base >> 12) + (1ull << (shift - 12)), now_ns);
        return;
    }
    if (!p->io.n)
        return;
    switch (d->type) {
    case IOMMU_QI_IOTLB:
        if (d->g == IOMMU_QI_G_GLOBAL) {
            close_matching(p, &p->io, true, 0, false, 0, 0, now_ns);
        } else if (d->g == IOMMU_QI_G_DOMAIN) {
            close_matching(p, &p->io, false, d->did, true, 0, 0, now_ns);
        } else {
            const unsigned am = d->am > 51 ? 51 : d->am;
            const struct iommu_cfg *c = iommu_config(p->u);
            if (!c->psi || am > c->mamv) { /* executed as domain-selective */
                close_matching(p, &p->io, false, d->did, true, 0, 0, now_ns);
            } else {
                const uint64_t lo = (d->addr >> 12) & ~((1ull << am) - 1);
                close_matching(p, &p->io, false, d->did, false, lo, lo + (1ull << am), now_ns);
            }
        }
        return;
    case IOMMU_QI_PASID_IOTLB: /* conservative: PASID-tagged entries are not tracked apart */
        close_matching(p, &p->io, false, d->did, true, 0, 0, now_ns);
        return;
    default:
        return; /* other caches hold no translations of pages */
    }
}

bool iommu_prot_access_slow_(iommu_prot_t *p, iommu_did_t did, uint64_t iova)
{
    if (!p->io.n || !find(&p->io, mkkey(did, iova >> 12)))
        return false;
    p->c[PC_ACCESSES]++;
    return true;
}

void iommu_prot_exposed(iommu_prot_t *p, uint64_t bytes) { p->c[PC_EXPOSED] += bytes; }

void iommu_prot_finish(iommu_prot_t *p, uint64_t now_ns)
{
    for (struct table *t = &p->io; t; t = t == &p->io ? &p->dev : NULL)
        for (uint64_t i = 0; i < t->cap && t->n;) {
            if (t->tab[i].key) {
                p->c[PC_OPEN_END]++;
                close_rec(p, t, i, now_ns);
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
