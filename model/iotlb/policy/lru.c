/*
 * lru.c — true least-recently-used replacement.
 *
 * State per set: a circular doubly linked recency list threaded through the ways, closed by
 * a sentinel (most recently used next to it on one side, the victim on the other), so touch,
 * fill and victim are all O(1) and branch-free whatever the associativity — a 4096-way fully
 * associative cache costs the same per access as a 4-way one. 8 bytes of state per way.
 * Workload assumption: hits dominate and touch unpredictable ways (so no data-dependent
 * branches on the hit path); misses are rarer but must not scan the set either.
 */
#include "order_list.h"

static void lru_touch(void *state, uint32_t set, uint32_t way, uint32_t ways)
{
    order_list_to_front(state, set, way, ways);
}

static uint32_t lru_victim(void *state, uint32_t set, uint32_t ways)
{
    return order_list_back(state, set, ways);
}

const struct iommu_repl_policy iommu_repl_lru = {
    .name = "lru",
    .desc = "true least-recently-used (O(1) recency list per set)",
    .supports = order_list_supports,
    .state_size = order_list_state_size,
    .init = order_list_init,
    .touch = lru_touch,
    .fill = lru_touch,
    .victim = lru_victim,
};
