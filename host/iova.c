/*
 * iova.c — Linux 6.1's IOVA allocator (drivers/iommu/iova.c) with dma-iommu's allocation
 * policy on top; see iova.h for the interface and docs/models/iova.md for the rules.
 *
 * Layout. Ranges are nodes of an intrusive red-black tree (CLRS, with a sentinel) kept in
 * one pool and linked by 32-bit indices, so the pool can grow by doubling (realloc) without
 * invalidating links: index 0 is the black sentinel NIL, index 1 the anchor node that sits
 * above every usable address (lo = hi = UINT64_MAX, as Linux's IOVA_ANCHOR); unused nodes
 * form a free list through `left`. The tree's shape differs from Linux's rbtree, but nothing
 * observable depends on shape: the search walks nodes in address order and every cached
 * position is a node, not a place in the tree.
 *
 * Range caches. Magazines live in one preallocated array (stride mag_size + 1 words: the
 * fill count, then node indices). Each size order owns 2 * ncpus + depot_mags + 1 of them —
 * a loaded and a previous one per CPU, a full depot, and the one taken while a full loaded
 * magazine waits to be pushed — handed out from a free stack, so a put or a get never
 * allocates. Magazines hold node indices rather than pfns (the pfn is the node's lo), which
 * lets a free check in O(1) that its range is not cached already.
 *
 * Cost model. The search's do-while loop over rb_prev() is counted in tree_steps exactly
 * as Linux executes it (both passes of a retry); find_limit() and the exact-pfn lookup of a
 * free are O(log n) descents that Linux does differently (or not at all) and are not
 * counted.
 */
#include "iova.h"

#include <stdlib.h>
#include <string.h>

#define NIL 0u
#define ANCHOR 1u
#define ANCHOR_PFN UINT64_MAX
#define MAX_CPUS 1024u

enum node_state {
    N_UNUSED = 0, /* on the pool's free list                                   */
    N_ANCHOR,     /* the sentinel range above the address space                */
    N_LIVE,       /* handed out by alloc, not yet freed                        */
    N_CACHED,     /* freed into a magazine: still in the tree, not allocatable */
    N_RESERVED,   /* iommu_iova_reserve                                        */
};

struct node {
    uint64_t lo, hi;              /* inclusive pfn range, lo <= hi; ordered by lo, disjoint */
    uint32_t left, right, parent; /* tree links (NIL = none); left = next free when unused  */
    uint8_t red;                  /* red-black colour (NIL and the root are black)          */
    uint8_t state;                /* enum node_state                                        */
};

/* Per (order, cpu) pair: magazine ids of the loaded and the previous magazine. */
struct cpu_rc {
    uint32_t loaded, prev;
};

struct iommu_iova {
    struct iommu_iova_cfg cfg;
    uint64_t dma32_pfn;        /* limit_pfn32 + 1: Linux's dma_32bit_pfn (exclusive)       */
    uint64_t dma_limit;        /* default last usable pfn, from dma_bits                   */
    uint64_t max32_alloc_size; /* a 32-bit search of this size or more fails at once;
                                  dma32_pfn when no such failure since the last 32-bit free */

    struct node *n;     /* node pool; n[0] = NIL, n[1] = anchor                            */
    uint32_t ncap;      /* pool capacity (nodes)                                           */
    uint32_t free_node; /* head of the unused-node list (NIL when empty)                   */
    uint32_t root;
    uint32_t cached;   /* search start for limits above the 32-bit window (a tree node)    */
    uint32_t cached32; /* search start for limits within it (a tree node)                  */

    uint32_t *mags;       /* magazine store: mag i at mags[i * stride]: count, entries     */
    uint32_t stride;      /* mag_size + 1                                                  */
    uint32_t *mag_free;   /* stack of unused magazine ids                                  */
    uint32_t nmag_free;
    struct cpu_rc *rc;    /* [order * ncpus + cpu]                                         */
    uint32_t *depot;      /* [order * depot_mags + j]: full magazines, j < depot_n[order]  */
    uint32_t depot_n[IOMMU_IOVA_RANGE_ORDERS];

    uint64_t live_ranges, live_pages, cached_ranges, tree_nodes; /* current values         */
    uint64_t *c;                    /* counters: the registry's block, or own[]           */
    uint64_t own[IOMMU_IOVA_NSTATS];
};

/* ---------------------------------------------------------------- configuration ------ */

void iommu_iova_cfg_default(struct iommu_iova_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->start_pfn = 1;
    cfg->limit_pfn32 = 0xFFFFF;
    cfg->page_shift = 12;
    cfg->dma_bits = 48;
    cfg->ncpus = 1;
    cfg->rcache = true;
    cfg->pci = true;
    cfg->forcedac = false;
    cfg->mag_size = 127;
    cfg->depot_mags = 32;
}

static bool set_err(const char **key, const char **why, const char *k, const char *w)
{
    if (key)
        *key = k;
    if (why)
        *why = w;
    return false;
}

static uint64_t limit_of_bits(unsigned bits, unsigned shift)
{
    uint64_t mask = bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
    return mask >> shift;
}

enum iommu_status iommu_iova_cfg_validate(const struct iommu_iova_cfg *cfg, const char **key,
                                          const char **why)
{
    bool ok = true;
    if (!cfg)
        ok = set_err(key, why, "iova", "no configuration");
    else if (cfg->page_shift < 12 || cfg->page_shift > 30)
        ok = set_err(key, why, "iova.page_shift", "must be between 12 and 30");
    else if (cfg->dma_bits < cfg->page_shift + 6 || cfg->dma_bits > 64)
        ok = set_err(key, why, "iova.dma_bits", "must be between page_shift + 6 and 64");
    else if (cfg->start_pfn < 1)
        ok = set_err(key, why, "iova.start_pfn", "must be at least 1 (pfn 0 is never handed out)");
    else if (cfg->limit_pfn32 < 63 || cfg->limit_pfn32 >= UINT64_MAX >> cfg->page_shift)
        ok = set_err(key, why, "iova.limit_pfn32", "must be between 63 and 2^(64-page_shift)-2");
    else if (cfg->start_pfn > cfg->limit_pfn32 ||
             cfg->start_pfn > limit_of_bits(cfg->dma_bits, cfg->page_shift))
        ok = set_err(key, why, "iova.start_pfn",
                     "must not exceed limit_pfn32 nor the dma_bits limit");
    else if (cfg->ncpus < 1 || cfg->ncpus > MAX_CPUS)
        ok = set_err(key, why, "iova.ncpus", "must be between 1 and 1024");
    else if (cfg->mag_size < 1 || cfg->mag_size > 4096)
        ok = set_err(key, why, "iova.mag_size", "must be between 1 and 4096");
    else if (cfg->depot_mags > 4096)
        ok = set_err(key, why, "iova.depot_mags", "must be at most 4096");
    return ok ? IOMMU_OK : IOMMU_ERR_INVAL;
}

/* ---------------------------------------------------------------- statistics --------- */

static const char *const stat_names[IOMMU_IOVA_NSTATS] = {
    "allocs",        "alloc_fails",     "frees",           "free_errors",
    "rcache_hits",   "rcache_misses",   "rcache_puts",     "depot_pushes",
    "depot_pops",    "mag_spills",      "rcache_flushes",  "tree_allocs",
    "tree_fails",    "tree_steps",      "tree_retries",    "fast_fails",
    "window32_fails", "tree_inserts",   "tree_deletes",    "live_ranges",
    "live_pages",    "max_live_ranges", "max_live_pages",  "cached_ranges",
    "tree_nodes",    "max_tree_nodes",
};

static const char *const stat_descs[IOMMU_IOVA_NSTATS] = {
    "IOVA ranges handed out",
    "allocations that found no range below the device's limit, even after flushing the "
    "range caches",
    "IOVA ranges given back",
    "frees rejected: not the start of a live allocation, or a size that does not match",
    "range-cache lookups served from the CPU's magazines or the depot",
    "range-cache lookups of a cacheable size that found no usable range",
    "frees kept in the freeing CPU's magazine instead of the tree",
    "full magazines moved to the global depot",
    "full magazines taken from the global depot",
    "full magazines returned to the tree because the depot was full",
    "flushes of every range cache back to the tree (after a failed search)",
    "searches of the tree (a 32-bit try and its fallback count twice)",
    "searches of the tree that found no gap",
    "ranges visited by the searches' downward walk (Linux's rb_prev loop: its main cost)",
    "searches restarted from the top of the window after the cached position found no gap",
    "32-bit-window searches refused at once: a range at least as large failed there since "
    "the last 32-bit free (max32_alloc_size)",
    "allocations that got no 32-bit address and fell back to the full DMA mask",
    "ranges inserted into the tree (searches that succeeded, reservations)",
    "ranges removed from the tree (uncached frees, magazines returned to the tree)",
    "allocated ranges not yet freed (current value)",
    "IOVA pages held by allocated ranges, sizes as rounded up (current value)",
    "highest live_ranges seen",
    "highest live_pages seen",
    "freed ranges waiting in the range caches (current value)",
    "ranges in the tree: live, cached and reserved (current value)",
    "highest tree_nodes seen",
};

const char *iommu_iova_stat_name(unsigned i)
{
    return i < IOMMU_IOVA_NSTATS ? stat_names[i] : NULL;
}

const char *iommu_iova_stat_desc(unsigned i)
{
    return i < IOMMU_IOVA_NSTATS ? stat_descs[i] : NULL;
}

const uint64_t *iommu_iova_counters(const iommu_iova_t *a)
{
    return a->c;
}

static void gauges(iommu_iova_t *a)
{
    uint64_t *c = a->c;
    c[IOMMU_IOVA_LIVE_RANGES] = a->live_ranges;
    c[IOMMU_IOVA_LIVE_PAGES] = a->live_pages;
    c[IOMMU_IOVA_CACHED_RANGES] = a->cached_ranges;
    c[IOMMU_IOVA_TREE_NODES] = a->tree_nodes;
    if (a->live_ranges > c[IOMMU_IOVA_MAX_LIVE_RANGES])
        c[IOMMU_IOVA_MAX_LIVE_RANGES] = a->live_ranges;
    if (a->live_pages > c[IOMMU_IOVA_MAX_LIVE_PAGES])
        c[IOMMU_IOVA_MAX_LIVE_PAGES] = a->live_pages;
    if (a->tree_nodes > c[IOMMU_IOVA_MAX_TREE_NODES])
        c[IOMMU_IOVA_MAX_TREE_NODES] = a->tree_nodes;
}

/* ---------------------------------------------------------------- small helpers ------ */

/* ceil(log2(n)) for n >= 1: Linux's order_base_2() and fls_long(n - 1). */
static unsigned order_of(uint64_t n)
{
    return n <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(n - 1);
}

/* dma-iommu's rounding: below 2^(ORDERS-1) granules, the next power of two. */
static uint64_t dma_round(uint64_t n)
{
    return n < (1ull << (IOMMU_IOVA_RANGE_ORDERS - 1)) ? 1ull << order_of(n) : n;
}

static uint64_t min64(uint64_t x, uint64_t y)
{
    return x < y ? x : y;
}

/* ---------------------------------------------------------------- the tree ----------- */

#define N(i) (a->n[(i)])

static uint32_t node_get(iommu_iova_t *a)
{
    if (a->free_node == NIL) {
        if (a->ncap >= UINT32_MAX / 2)
            return NIL;
        uint32_t cap = a->ncap * 2;
        struct node *n = realloc(a->n, (size_t)cap * sizeof *n);
        if (!n)
            return NIL;
        memset(n + a->ncap, 0, (size_t)(cap - a->ncap) * sizeof *n);
        for (uint32_t i = cap - 1; i >= a->ncap; i--) {
            n[i].left = a->free_node;
            a->free_node = i;
        }
        a->n = n;
        a->ncap = cap;
    }
    uint32_t x = a->free_node;
    a->free_node = N(x).left;
    return x;
}

static void node_put(iommu_iova_t *a, uint32_t x)
{
    memset(&N(x), 0, sizeof N(x));
    N(x).left = a->free_node;
    a->free_node = x;
}

static uint32_t subtree_min(const iommu_iova_t *a, uint32_t x)
{
    while (N(x).left != NIL)
        x = N(x).left;
    return x;
}

static uint32_t subtree_max(const iommu_iova_t *a, uint32_t x)
{
    while (N(x).right != NIL)
        x = N(x).right;
    return x;
}

/* In-order predecessor / successor (NIL past the ends). */
static uint32_t node_prev(const iommu_iova_t *a, uint32_t x)
{
    if (N(x).left != NIL)
        return subtree_max(a, N(x).left);
    uint32_t y = N(x).parent;
    while (y != NIL && x == N(y).left) {
        x = y;
        y = N(y).parent;
    }
    return y;
}

static uint32_t node_next(const iommu_iova_t *a, uint32_t x)
{
    if (N(x).right != NIL)
        return subtree_min(a, N(x).right);
    uint32_t y = N(x).parent;
    while (y != NIL && x == N(y).right) {
        x = y;
        y = N(y).parent;
    }
    return y;
}

static void rotate_left(iommu_iova_t *a, uint32_t x)
{
    uint32_t y = N(x).right;
    N(x).right = N(y).left;
    if (N(y).left != NIL)
        N(N(y).left).parent = x;
    N(y).parent = N(x).parent;
    if (N(x).parent == NIL)
        a->root = y;
    else if (x == N(N(x).parent).left)
        N(N(x).parent).left = y;
    else
        N(N(x).parent).right = y;
    N(y).left = x;
    N(x).parent = y;
}

static void rotate_right(iommu_iova_t *a, uint32_t x)
{
    uint32_t y = N(x).left;
    N(x).left = N(y).right;
    if (N(y).right != NIL)
        N(N(y).right).parent = x;
    N(y).parent = N(x).parent;
    if (N(x).parent == NIL)
        a->root = y;
    else if (x == N(N(x).parent).right)
        N(N(x).parent).right = y;
    else
        N(N(x).parent).left = y;
    N(y).right = x;
    N(x).parent = y;
}

/* Links node z (lo/hi set, disjoint from every range) into the tree. */
static void tree_insert(iommu_iova_t *a, uint32_t z)
{
    uint32_t y = NIL, x = a->root;
    while (x != NIL) {
        y = x;
        x = N(z).lo < N(x).lo ? N(x).left : N(x).right;
    }
    N(z).parent = y;
    N(z).left = N(z).right = NIL;
    N(z).red = 1;
    if (y == NIL)
        a->root = z;
    else if (N(z).lo < N(y).lo)
        N(y).left = z;
    else
        N(y).right = z;
    while (N(N(z).parent).red) {
        uint32_t p = N(z).parent, g = N(p).parent;
        if (p == N(g).left) {
            uint32_t u = N(g).right;
            if (N(u).red) {
                N(p).red = 0;
                N(u).red = 0;
                N(g).red = 1;
                z = g;
            } else {
                if (z == N(p).right) {
                    z = p;
                    rotate_left(a, z);
                    p = N(z).parent;
                    g = N(p).parent;
                }
                N(p).red = 0;
                N(g).red = 1;
                rotate_right(a, g);
            }
        } else {
            uint32_t u = N(g).left;
            if (N(u).red) {
                N(p).red = 0;
                N(u).red = 0;
                N(g).red = 1;
                z = g;
            } else {
                if (z == N(p).left) {
                    z = p;
                    rotate_right(a, z);
                    p = N(z).parent;
                    g = N(p).parent;
                }
                N(p).red = 0;
                N(g).red = 1;
                rotate_left(a, g);
            }
        }
    }
    N(a->root).red = 0;
}

static void transplant(iommu_iova_t *a, uint32_t u, uint32_t v)
{
    if (N(u).parent == NIL)
        a->root = v;
    else if (u == N(N(u).parent).left)
        N(N(u).parent).left = v;
    else
        N(N(u).parent).right = v;
    N(v).parent = N(u).parent; /* may write the sentinel's parent: the fix-up reads it */
}

/* Unlinks node z from the tree (the node itself is not returned to the pool). */
static void tree_erase(iommu_iova_t *a, uint32_t z)
{
    uint32_t y = z, x;
    uint8_t y_red = N(y).red;
    if (N(z).left == NIL) {
        x = N(z).right;
        transplant(a, z, x);
    } else if (N(z).right == NIL) {
        x = N(z).left;
        transplant(a, z, x);
    } else {
        y = subtree_min(a, N(z).right);
        y_red = N(y).red;
        x = N(y).right;
        if (N(y).parent == z) {
            N(x).parent = y;
        } else {
            transplant(a, y, x);
            N(y).right = N(z).right;
            N(N(y).right).parent = y;
        }
        transplant(a, z, y);
        N(y).left = N(z).left;
        N(N(y).left).parent = y;
        N(y).red = N(z).red;
    }
    if (!y_red) {
        while (x != a->root && !N(x).red) {
            uint32_t p = N(x).parent;
            if (x == N(p).left) {
                uint32_t w = N(p).right;
                if (N(w).red) {
                    N(w).red = 0;
                    N(p).red = 1;
                    rotate_left(a, p);
                    w = N(p).right;
                }
                if (!N(N(w).left).red && !N(N(w).right).red) {
                    N(w).red = 1;
                    x = p;
                } else {
                    if (!N(N(w).right).red) {
                        N(N(w).left).red = 0;
                        N(w).red = 1;
                        rotate_right(a, w);
                        w = N(p).right;
                    }
                    N(w).red = N(p).red;
                    N(p).red = 0;
                    N(N(w).right).red = 0;
                    rotate_left(a, p);
                    x = a->root;
                }
            } else {
                uint32_t w = N(p).left;
                if (N(w).red) {
                    N(w).red = 0;
                    N(p).red = 1;
                    rotate_right(a, p);
                    w = N(p).left;
                }
                if (!N(N(w).right).red && !N(N(w).left).red) {
                    N(w).red = 1;
                    x = p;
                } else {
                    if (!N(N(w).left).red) {
                        N(N(w).right).red = 0;
                        N(w).red = 1;
                        rotate_left(a, w);
                        w = N(p).left;
                    }
                    N(w).red = N(p).red;
                    N(p).red = 0;
                    N(N(w).left).red = 0;
                    rotate_right(a, p);
                    x = a->root;
                }
            }
        }
        N(x).red = 0;
    }
    N(NIL).parent = NIL;
    N(NIL).red = 0;
}

/* The node whose range contains pfn, or NIL. */
static uint32_t find_containing(const iommu_iova_t *a, uint64_t pfn)
{
    uint32_t x = a->root;
    while (x != NIL) {
        if (pfn < N(x).lo)
            x = N(x).left;
        else if (pfn > N(x).hi)
            x = N(x).right;
        else
            return x;
    }
    return NIL;
}

/* The lowest node whose range ends at or above pfn (the anchor at worst): where Linux's
 * iova_find_limit() restarts a 32-bit search. */
static uint32_t find_limit(const iommu_iova_t *a, uint64_t pfn)
{
    uint32_t x = a->root, best = ANCHOR;
    while (x != NIL) {
        if (N(x).hi >= pfn) {
            best = x;
            x = N(x).left;
        } else {
            x = N(x).right;
        }
    }
    return best;
}

/* ---------------------------------------------------------------- tree allocation ---- */

/* Linux's __alloc_and_insert_iova_range(): a size-aligned range of `size` pfns below
 * limit (exclusive). Returns the new node (state unset) or NIL. `fresh` is a node taken
 * from the pool beforehand (like Linux's alloc_iova_mem()). */
static uint32_t tree_alloc(iommu_iova_t *a, uint64_t size, uint64_t limit, uint32_t fresh)
{
    uint64_t *c = a->c;
    unsigned shift = order_of(size);
    uint64_t mask = shift >= 64 ? 0 : UINT64_MAX << shift;
    uint64_t high = limit, low = a->cfg.start_pfn, new_pfn, retry_pfn;
    uint32_t curr, prev;
    bool retried = false;

    c[IOMMU_IOVA_TREE_ALLOCS]++;
    if (limit <= a->dma32_pfn && size >= a->max32_alloc_size) {
        c[IOMMU_IOVA_FAST_FAILS]++;
        c[IOMMU_IOVA_TREE_FAILS]++;
        return NIL;
    }
    curr = limit <= a->dma32_pfn ? a->cached32 : a->cached;
    retry_pfn = N(curr).hi;
retry:
    do {
        high = min64(high, N(curr).lo);
        new_pfn = (high - size) & mask; /* wraps when high < size: caught below */
        prev = curr;
        curr = node_prev(a, curr);
        c[IOMMU_IOVA_TREE_STEPS]++;
    } while (curr != NIL && new_pfn <= N(curr).hi && new_pfn >= low);

    if (high < size || new_pfn < low) {
        /* Linux retries while low is still start_pfn; once is all it can need (a second
         * pass would only repeat when retry_pfn + 1 == start_pfn). */
        if (low == a->cfg.start_pfn && retry_pfn < limit && !retried) {
            high = limit;
            low = retry_pfn + 1;
            curr = find_limit(a, limit);
            retried = true;
            c[IOMMU_IOVA_TREE_RETRIES]++;
            goto retry;
        }
        a->max32_alloc_size = size;
        c[IOMMU_IOVA_TREE_FAILS]++;
        return NIL;
    }
    (void)prev; /* Linux starts the insertion's descent there; ours starts at the root */
    N(fresh).lo = new_pfn;
    N(fresh).hi = new_pfn + size - 1;
    tree_insert(a, fresh);
    a->tree_nodes++;
    c[IOMMU_IOVA_TREE_INSERTS]++;
    if (N(fresh).hi < a->dma32_pfn)
        a->cached32 = fresh;
    else
        a->cached = fresh;
    return fresh;
}

/* Linux's remove_iova(): move the cached positions off the node, then unlink it. */
static void tree_remove(iommu_iova_t *a, uint32_t x)
{
    uint32_t c32 = a->cached32, c = a->cached;
    if (x == c32 || (N(x).hi < a->dma32_pfn && N(x).lo >= N(c32).lo))
        a->cached32 = node_next(a, x);
    if (N(x).lo < a->dma32_pfn)
        a->max32_alloc_size = a->dma32_pfn;
    if (N(x).lo >= N(c).lo)
        a->cached = node_next(a, x);
    tree_erase(a, x);
    node_put(a, x);
    a->tree_nodes--;
    a->c[IOMMU_IOVA_TREE_DELETES]++;
}

/* ---------------------------------------------------------------- range caches ------- */

static uint32_t *mag(iommu_iova_t *a, uint32_t id)
{
    return &a->mags[(size_t)id * a->stride];
}

static uint32_t mag_get(iommu_iova_t *a)
{
    /* never empty: each order owns enough magazines for its worst case */
    uint32_t id = a->mag_free[--a->nmag_free];
    mag(a, id)[0] = 0;
    return id;
}

static void mag_put(iommu_iova_t *a, uint32_t id)
{
    a->mag_free[a->nmag_free++] = id;
}

/* Linux's iova_magazine_free_pfns(): every range of the magazine back to the tree, in
 * the magazine's order. */
static void mag_drain(iommu_iova_t *a, uint32_t id)
{
    uint32_t *m = mag(a, id);
    for (uint32_t i = 0; i < m[0]; i++) {
        tree_remove(a, m[1 + i]);
        a->cached_ranges--;
    }
    m[0] = 0;
}

/* Linux's iova_magazine_pop(): the topmost entry whose pfn is at most limit, swapped out
 * with the last one; NIL when none is. */
static uint32_t mag_pop(iommu_iova_t *a, uint32_t id, uint64_t limit)
{
    uint32_t *m = mag(a, id);
    uint32_t i = m[0] - 1;
    while (N(m[1 + i]).lo > limit) {
        if (i == 0)
            return NIL;
        i--;
    }
    uint32_t x = m[1 + i];
    m[1 + i] = m[m[0]];
    m[0]--;
    return x;
}

/* Linux's iova_rcache_get(): a cached range of `size` pfns ending at or below limit
 * (exclusive) for this CPU, or NIL. Uncacheable sizes return NIL without a lookup. */
static uint32_t rcache_get(iommu_iova_t *a, uint64_t size, uint64_t limit, unsigned cpu)
{
    unsigned order = order_of(size);
    if (!a->cfg.rcache || order >= IOMMU_IOVA_RANGE_ORDERS)
        return NIL;
    struct cpu_rc *rc = &a->rc[order * a->cfg.ncpus + cpu];
    uint32_t x = NIL;
    bool has = false;
    if (mag(a, rc->loaded)[0] != 0) {
        has = true;
    } else if (mag(a, rc->prev)[0] != 0) {
        uint32_t t = rc->loaded;
        rc->loaded = rc->prev;
        rc->prev = t;
        has = true;
    } else if (a->depot_n[order] > 0) {
        mag_put(a, rc->loaded);
        rc->loaded = a->depot[order * a->cfg.depot_mags + --a->depot_n[order]];
        a->c[IOMMU_IOVA_DEPOT_POPS]++;
        has = true;
    }
    if (has)
        x = mag_pop(a, rc->loaded, limit - size);
    if (x != NIL) {
        a->c[IOMMU_IOVA_RCACHE_HITS]++;
        a->cached_ranges--;
    } else {
        a->c[IOMMU_IOVA_RCACHE_MISSES]++;
    }
    return x;
}

/* Linux's iova_rcache_insert(): keeps node x in this CPU's magazine of its order; false
 * when the size is not cacheable (the caller frees it to the tree). */
static bool rcache_put(iommu_iova_t *a, uint32_t x, unsigned cpu)
{
    unsigned order = order_of(N(x).hi - N(x).lo + 1);
    if (!a->cfg.rcache || order >= IOMMU_IOVA_RANGE_ORDERS)
        return false;
    struct cpu_rc *rc = &a->rc[order * a->cfg.ncpus + cpu];
    uint32_t spill = UINT32_MAX;
    if (mag(a, rc->loaded)[0] == a->cfg.mag_size) {
        if (mag(a, rc->prev)[0] != a->cfg.mag_size) {
            uint32_t t = rc->loaded;
            rc->loaded = rc->prev;
            rc->prev = t;
        } else {
            uint32_t fresh = mag_get(a);
            if (a->depot_n[order] < a->cfg.depot_mags) {
                a->depot[order * a->cfg.depot_mags + a->depot_n[order]++] = rc->loaded;
                a->c[IOMMU_IOVA_DEPOT_PUSHES]++;
            } else {
                spill = rc->loaded;
            }
            rc->loaded = fresh;
        }
    }
    uint32_t *m = mag(a, rc->loaded);
    m[1 + m[0]++] = x;
    N(x).state = N_CACHED;
    a->cached_ranges++;
    a->c[IOMMU_IOVA_RCACHE_PUTS]++;
    if (spill != UINT32_MAX) {
        mag_drain(a, spill);
        mag_put(a, spill);
        a->c[IOMMU_IOVA_MAG_SPILLS]++;
    }
    return true;
}

/* Linux's free_cpu_cached_iovas() for every CPU, then free_global_cached_iovas(). */
static void flush_all(iommu_iova_t *a)
{
    unsigned ncpus = a->cfg.ncpus;
    for (unsigned cpu = 0; cpu < ncpus; cpu++) {
        for (unsigned o = 0; o < IOMMU_IOVA_RANGE_ORDERS; o++) {
            struct cpu_rc *rc = &a->rc[o * ncpus + cpu];
            mag_drain(a, rc->loaded);
            mag_drain(a, rc->prev);
        }
    }
    for (unsigned o = 0; o < IOMMU_IOVA_RANGE_ORDERS; o++) {
        for (uint32_t j = 0; j < a->depot_n[o]; j++) {
            uint32_t id = a->depot[o * a->cfg.depot_mags + j];
            mag_drain(a, id);
            mag_put(a, id);
        }
        a->depot_n[o] = 0;
    }
    a->c[IOMMU_IOVA_RCACHE_FLUSHES]++;
}

void iommu_iova_flush_rcache(iommu_iova_t *a)
{
    if (!a)
        return;
    flush_all(a);
    gauges(a);
}

/* ---------------------------------------------------------------- allocation --------- */

/* Linux's alloc_iova_fast(): the range cache, then the tree, then (if `flush`) one flush
 * of every range cache and a second search. NIL on failure. */
static uint32_t alloc_fast(iommu_iova_t *a, uint64_t size, uint64_t limit_pfn, bool flush,
                           unsigned cpu, uint32_t *fresh)
{
    uint32_t x = rcache_get(a, size, limit_pfn + 1, cpu);
    if (x != NIL)
        return x;
    for (;;) {
        x = tree_alloc(a, size, limit_pfn + 1, *fresh);
        if (x != NIL) {
            *fresh = NIL;
            return x;
        }
        if (!flush)
            return NIL;
        flush = false;
        flush_all(a);
    }
}

enum iommu_status iommu_iova_alloc_below(iommu_iova_t *a, uint64_t npages, unsigned cpu,
                                         uint64_t limit_pfn, uint64_t *pfn)
{
    if (!a || !pfn || npages == 0 || npages > IOMMU_IOVA_MAX_PAGES || cpu >= a->cfg.ncpus ||
        limit_pfn < a->cfg.start_pfn || limit_pfn < 63 ||
        limit_pfn > limit_of_bits(64, a->cfg.page_shift))
        return IOMMU_ERR_INVAL;
    /* the node a search may need, taken first (Linux: alloc_iova_mem() before searching) */
    uint32_t fresh = node_get(a);
    if (fresh == NIL)
        return IOMMU_ERR_NOMEM;
    uint64_t size = dma_round(npages);
    uint32_t x = NIL;
    if (limit_pfn > a->cfg.limit_pfn32 && a->cfg.pci && !a->cfg.forcedac) {
        x = alloc_fast(a, size, a->cfg.limit_pfn32, false, cpu, &fresh);
        if (x == NIL)
            a->c[IOMMU_IOVA_WINDOW32_FAILS]++;
    }
    if (x == NIL)
        x = alloc_fast(a, size, limit_pfn, true, cpu, &fresh);
    if (fresh != NIL)
        node_put(a, fresh);
    if (x == NIL) {
        a->c[IOMMU_IOVA_ALLOC_FAILS]++;
        gauges(a);
        return IOMMU_ERR_NOMEM;
    }
    N(x).state = N_LIVE;
    a->live_ranges++;
    a->live_pages += size;
    a->c[IOMMU_IOVA_ALLOCS]++;
    gauges(a);
    *pfn = N(x).lo;
    return IOMMU_OK;
}

enum iommu_status iommu_iova_alloc(iommu_iova_t *a, uint64_t npages, unsigned cpu,
                                   uint64_t *pfn)
{
    if (!a)
        return IOMMU_ERR_INVAL;
    return iommu_iova_alloc_below(a, npages, cpu, a->dma_limit, pfn);
}

enum iommu_status iommu_iova_free(iommu_iova_t *a, uint64_t pfn, uint64_t npages, unsigned cpu)
{
    if (!a)
        return IOMMU_ERR_INVAL;
    if (cpu >= a->cfg.ncpus || npages == 0 || npages > IOMMU_IOVA_MAX_PAGES) {
        a->c[IOMMU_IOVA_FREE_ERRORS]++;
        return IOMMU_ERR_INVAL;
    }
    uint32_t x = find_containing(a, pfn);
    if (x == NIL || N(x).lo != pfn || N(x).state != N_LIVE) {
        a->c[IOMMU_IOVA_FREE_ERRORS]++;
        return IOMMU_ERR_NOTFOUND;
    }
    uint64_t size = N(x).hi - N(x).lo + 1;
    if (dma_round(npages) != size && npages != size) {
        a->c[IOMMU_IOVA_FREE_ERRORS]++;
        return IOMMU_ERR_INVAL;
    }
    a->live_ranges--;
    a->live_pages -= size;
    a->c[IOMMU_IOVA_FREES]++;
    if (!rcache_put(a, x, cpu))
        tree_remove(a, x);
    gauges(a);
    return IOMMU_OK;
}

/* ---------------------------------------------------------------- reservation -------- */

enum iommu_status iommu_iova_reserve(iommu_iova_t *a, uint64_t lo, uint64_t hi)
{
    if (!a || lo > hi || hi == UINT64_MAX)
        return IOMMU_ERR_INVAL;
    uint32_t first = find_limit(a, lo); /* lowest range ending at or above lo */
    for (uint32_t x = first; x != ANCHOR && N(x).lo <= hi; x = node_next(a, x))
        if (N(x).state != N_RESERVED)
            return IOMMU_ERR_OVERLAP;
    uint32_t fresh = node_get(a);
    if (fresh == NIL)
        return IOMMU_ERR_NOMEM;
    /* Linux's reserve_iova(): each overlapping reservation absorbs the part of the request
     * below it and the request continues above it; what is left becomes a new node. */
    for (uint32_t x = first; x != ANCHOR && N(x).lo <= hi; x = node_next(a, x)) {
        if (lo < N(x).lo)
            N(x).lo = lo; /* nothing lies in [lo, x.lo): any such range overlapped before */
        if (hi <= N(x).hi) {
            node_put(a, fresh);
            return IOMMU_OK;
        }
        lo = N(x).hi + 1;
    }
    N(fresh).lo = lo;
    N(fresh).hi = hi;
    N(fresh).state = N_RESERVED;
    tree_insert(a, fresh);
    a->tree_nodes++;
    a->c[IOMMU_IOVA_TREE_INSERTS]++;
    gauges(a);
    return IOMMU_OK;
}

/* ---------------------------------------------------------------- life cycle --------- */

iommu_iova_t *iommu_iova_create(const struct iommu_iova_cfg *cfg, iommu_stats_t *stats,
                                const char *prefix)
{
    if (iommu_iova_cfg_validate(cfg, NULL, NULL) != IOMMU_OK)
        return NULL;
    iommu_iova_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cfg = *cfg;
    a->dma32_pfn = cfg->limit_pfn32 + 1;
    a->dma_limit = limit_of_bits(cfg->dma_bits, cfg->page_shift);
    a->max32_alloc_size = a->dma32_pfn;
    a->c = a->own;
    if (stats) {
        a->c = iommu_stats_counter_block(stats, prefix ? prefix : "iova.", IOMMU_IOVA_NSTATS,
                                         stat_names, stat_descs);
        if (!a->c) {
            free(a);
            return NULL;
        }
    }

    a->ncap = 1024;
    a->n = calloc(a->ncap, sizeof *a->n);
    unsigned ncpus = cfg->ncpus;
    uint32_t per_order = 2 * ncpus + cfg->depot_mags + 1;
    uint32_t nmags = IOMMU_IOVA_RANGE_ORDERS * per_order;
    a->stride = cfg->mag_size + 1;
    a->mags = calloc((size_t)nmags * a->stride, sizeof *a->mags);
    a->mag_free = malloc((size_t)nmags * sizeof *a->mag_free);
    a->rc = calloc((size_t)IOMMU_IOVA_RANGE_ORDERS * ncpus, sizeof *a->rc);
    a->depot = calloc((size_t)IOMMU_IOVA_RANGE_ORDERS * (cfg->depot_mags + 1),
                      sizeof *a->depot);
    if (!a->n || !a->mags || !a->mag_free || !a->rc || !a->depot) {
        iommu_iova_destroy(a);
        return NULL;
    }
    for (uint32_t i = a->ncap - 1; i > ANCHOR; i--) {
        a->n[i].left = a->free_node;
        a->free_node = i;
    }
    N(ANCHOR).lo = N(ANCHOR).hi = ANCHOR_PFN;
    N(ANCHOR).state = N_ANCHOR;
    N(ANCHOR).left = N(ANCHOR).right = N(ANCHOR).parent = NIL;
    N(ANCHOR).red = 0;
    a->root = ANCHOR;
    a->cached = a->cached32 = ANCHOR;

    for (uint32_t i = nmags; i-- > 0;)
        a->mag_free[a->nmag_free++] = i;
    for (unsigned i = 0; i < IOMMU_IOVA_RANGE_ORDERS * ncpus; i++) {
        a->rc[i].loaded = mag_get(a);
        a->rc[i].prev = mag_get(a);
    }
    gauges(a);
    return a;
}

void iommu_iova_destroy(iommu_iova_t *a)
{
    if (!a)
        return;
    free(a->n);
    free(a->mags);
    free(a->mag_free);
    free(a->rc);
    free(a->depot);
    free(a);
}

/* ---------------------------------------------------------------- checking ----------- */

/* Black height of the subtree at x, or -1 when a red-black rule or a link is broken. */
static int check_rb(const iommu_iova_t *a, uint32_t x, uint64_t *count)
{
    if (x == NIL)
        return 1;
    (*count)++;
    uint32_t l = N(x).left, r = N(x).right;
    if ((l != NIL && N(l).parent != x) || (r != NIL && N(r).parent != x))
        return -1;
    if (N(x).red && (N(l).red || N(r).red))
        return -1;
    if (N(x).state == N_UNUSED)
        return -1;
    int hl = check_rb(a, l, count), hr = check_rb(a, r, count);
    if (hl < 0 || hr < 0 || hl != hr)
        return -1;
    return hl + !N(x).red;
}

enum iommu_status iommu_iova_check(const iommu_iova_t *a)
{
    if (!a || N(a->root).red || N(a->root).parent != NIL || N(NIL).red)
        return IOMMU_ERR_INVAL;
    uint64_t count = 0;
    if (check_rb(a, a->root, &count) < 0 || count != a->tree_nodes + 1)
        return IOMMU_ERR_INVAL;
    /* order, disjointness, states and gauges, walking upwards from the lowest node */
    uint64_t live = 0, pages = 0, cached = 0, seen = 0;
    bool have_prev = false, saw_c = false, saw_c32 = false;
    uint64_t prev_hi = 0;
    for (uint32_t x = subtree_min(a, a->root); x != NIL; x = node_next(a, x)) {
        seen++;
        if (N(x).lo > N(x).hi || (have_prev && N(x).lo <= prev_hi))
            return IOMMU_ERR_INVAL;
        if ((x == ANCHOR) != (N(x).state == N_ANCHOR))
            return IOMMU_ERR_INVAL;
        if (N(x).state == N_LIVE) {
            live++;
            pages += N(x).hi - N(x).lo + 1;
        } else if (N(x).state == N_CACHED) {
            cached++;
        }
        saw_c |= x == a->cached;
        saw_c32 |= x == a->cached32;
        have_prev = true;
        prev_hi = N(x).hi;
    }
    if (seen != count || subtree_max(a, a->root) != ANCHOR || !saw_c || !saw_c32)
        return IOMMU_ERR_INVAL;
    if (live != a->live_ranges || pages != a->live_pages || cached != a->cached_ranges)
        return IOMMU_ERR_INVAL;
    /* magazines: each holds cached nodes of its order only; they add up to `cached` */
    uint64_t in_mags = 0;
    unsigned ncpus = a->cfg.ncpus;
    for (unsigned o = 0; o < IOMMU_IOVA_RANGE_ORDERS; o++) {
        uint32_t ids[2 * MAX_CPUS + 4096];
        uint32_t k = 0;
        for (unsigned cpu = 0; cpu < ncpus; cpu++) {
            ids[k++] = a->rc[o * ncpus + cpu].loaded;
            ids[k++] = a->rc[o * ncpus + cpu].prev;
        }
        if (a->depot_n[o] > a->cfg.depot_mags)
            return IOMMU_ERR_INVAL;
        for (uint32_t j = 0; j < a->depot_n[o]; j++) {
            ids[k] = a->depot[o * a->cfg.depot_mags + j];
            if (((const uint32_t *)a->mags)[(size_t)ids[k] * a->stride] != a->cfg.mag_size)
                return IOMMU_ERR_INVAL; /* only full magazines go to the depot */
            k++;
        }
        for (uint32_t i = 0; i < k; i++) {
            const uint32_t *m = &a->mags[(size_t)ids[i] * a->stride];
            if (m[0] > a->cfg.mag_size)
                return IOMMU_ERR_INVAL;
            for (uint32_t e = 0; e < m[0]; e++) {
                uint32_t x = m[1 + e];
                if (x >= a->ncap || N(x).state != N_CACHED ||
                    order_of(N(x).hi - N(x).lo + 1) != o)
                    return IOMMU_ERR_INVAL;
                in_mags++;
            }
        }
    }
    if (in_mags != cached)
        return IOMMU_ERR_INVAL;
    const uint64_t *c = a->c;
    if (c[IOMMU_IOVA_LIVE_RANGES] != a->live_ranges || c[IOMMU_IOVA_TREE_NODES] != a->tree_nodes)
        return IOMMU_ERR_INVAL;
    return IOMMU_OK;
}
