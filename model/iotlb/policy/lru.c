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
#include "policy.h"

/* Layout per set, 2 * (ways + 1) words: prev[0..ways], then next[0..ways]. Entry `ways` is
 * a sentinel closing a circular list: next[sentinel] is the most recently used way (the
 * head), prev[sentinel] the least recently used (the victim). The sentinel removes every
 * branch from touch, which matters because the touched way is unpredictable.
 * Invariant: the circle holds every way of the set exactly once (ways never filled keep their
 * initial order). */
static inline uint32_t *lru_set(void *state, uint32_t set, uint32_t ways)
{
    return (uint32_t *)state + (size_t)set * 2 * ((size_t)ways + 1);
}

static bool lru_supports(uint32_t sets, uint32_t ways)
{
    return sets >= 1 && ways >= 1;
}

static size_t lru_state_size(uint32_t sets, uint32_t ways)
{
    return (size_t)sets * 2 * ((size_t)ways + 1) * sizeof(uint32_t);
}

static void lru_init(void *state, uint32_t sets, uint32_t ways, uint64_t seed)
{
    for (uint32_t s = 0; s < sets; s++) {
        uint32_t *prev = lru_set(state, s, ways), *next = prev + ways + 1;
        for (uint32_t i = 0; i <= ways; i++) {
            prev[i] = i ? i - 1 : ways;
            next[i] = i < ways ? i + 1 : 0;
        }
    }
}

static void lru_touch(void *state, uint32_t set, uint32_t way, uint32_t ways)
{
    uint32_t *prev = lru_set(state, set, ways), *next = prev + ways + 1;
    /* unlink, then link right after the sentinel (correct even if way is the head) */
    const uint32_t p = prev[way], n = next[way];
    next[p] = n;
    prev[n] = p;
    const uint32_t h = next[ways];
    next[way] = h;
    prev[way] = ways;
    prev[h] = way;
    next[ways] = way;
}

static uint32_t lru_victim(void *state, uint32_t set, uint32_t ways)
{
    return lru_set(state, set, ways)[ways];
}

const struct iommu_repl_policy iommu_repl_lru = {
    .name = "lru",
    .desc = "true least-recently-used (O(1) recency list per set)",
    .supports = lru_supports,
    .state_size = lru_state_size,
    .init = lru_init,
    .touch = lru_touch,
    .fill = lru_touch,
    .victim = lru_victim,
};
