/*
 * plru.c — tree pseudo-LRU (the binary-tree approximation of LRU used by most hardware
 * TLBs and caches).
 *
 * State per set: ways - 1 one-bit nodes of a complete binary tree stored heap-style (node 1
 * is the root, node n has children 2n and 2n+1; the leaves ways..2*ways-1 stand for the
 * ways 0..ways-1 from left to right). A node's bit says where the next victim lies: 0 = the
 * left subtree, 1 = the right. A touch or a fill walks from the root to the way and points
 * every node on the path away from it; victim() follows the bits from the root. Both are
 * O(log2 ways). ways must be a power of two (1 is allowed: a single way is always the
 * victim). Nodes are kept one per byte (index 0 unused) for speed; ways bytes per set.
 */
#include "policy.h"

#include <string.h>

static bool plru_supports(uint32_t sets, uint32_t ways)
{
    return sets >= 1 && ways >= 1 && (ways & (ways - 1)) == 0;
}

static size_t plru_state_size(uint32_t sets, uint32_t ways)
{
    return (size_t)sets * ways;
}

static void plru_init(void *state, uint32_t sets, uint32_t ways, uint64_t seed)
{
    memset(state, 0, plru_state_size(sets, ways));
}

static void plru_touch(void *state, uint32_t set, uint32_t way, uint32_t ways)
{
    uint8_t *t = (uint8_t *)state + (size_t)set * ways;
    /* Walk up from the leaf: at each parent, point to the sibling of the child we came
     * from (child 2n -> bit 1 = right; child 2n+1 -> bit 0 = left). */
    for (uint32_t n = ways + way; n > 1; n >>= 1)
        t[n >> 1] = (uint8_t)((n & 1u) ^ 1u);
}

static uint32_t plru_victim(void *state, uint32_t set, uint32_t ways)
{
    const uint8_t *t = (const uint8_t *)state + (size_t)set * ways;
    uint32_t n = 1;
    while (n < ways)
        n = 2 * n + t[n];
    return n - ways;
}

const struct iommu_repl_policy iommu_repl_plru = {
    .name = "plru",
    .desc = "tree pseudo-LRU (ways - 1 bits per set; ways must be a power of two)",
    .supports = plru_supports,
    .state_size = plru_state_size,
    .init = plru_init,
    .touch = plru_touch,
    .fill = plru_touch,
    .victim = plru_victim,
};
