/*
 * fifo.c — first-in first-out replacement: the victim is the way filled longest ago; hits
 * do not change the order.
 *
 * State per set: a doubly linked list of the ways in fill order (newest at the head, the
 * victim at the tail); fill moves a way to the head, touch does nothing, victim is the
 * tail — all O(1). Because invalid ways are refilled lowest index first (cache.h), fill
 * order is not a rotation over way indices, so a round-robin pointer would be wrong after an
 * invalidation; the list keeps the exact insertion order.
 */
#include "policy.h"

/* Layout per set as in lru.c, 2 * (ways + 1) words: prev[0..ways], next[0..ways], entry
 * `ways` a sentinel closing the circle: next[sentinel] = newest fill, prev[sentinel] = the
 * oldest (the victim). Invariant: the circle holds every way of the set exactly once. */
static inline uint32_t *fifo_set(void *state, uint32_t set, uint32_t ways)
{
    return (uint32_t *)state + (size_t)set * 2 * ((size_t)ways + 1);
}

static bool fifo_supports(uint32_t sets, uint32_t ways)
{
    return sets >= 1 && ways >= 1;
}

static size_t fifo_state_size(uint32_t sets, uint32_t ways)
{
    return (size_t)sets * 2 * ((size_t)ways + 1) * sizeof(uint32_t);
}

static void fifo_init(void *state, uint32_t sets, uint32_t ways, uint64_t seed)
{
    for (uint32_t s = 0; s < sets; s++) {
        uint32_t *prev = fifo_set(state, s, ways), *next = prev + ways + 1;
        for (uint32_t i = 0; i <= ways; i++) {
            prev[i] = i ? i - 1 : ways;
            next[i] = i < ways ? i + 1 : 0;
        }
    }
}

static void fifo_touch(void *state, uint32_t set, uint32_t way, uint32_t ways)
{
    /* a hit does not reorder a FIFO */
}

static void fifo_fill(void *state, uint32_t set, uint32_t way, uint32_t ways)
{
    uint32_t *prev = fifo_set(state, set, ways), *next = prev + ways + 1;
    const uint32_t p = prev[way], n = next[way];
    next[p] = n;
    prev[n] = p;
    const uint32_t h = next[ways];
    next[way] = h;
    prev[way] = ways;
    prev[h] = way;
    next[ways] = way;
}

static uint32_t fifo_victim(void *state, uint32_t set, uint32_t ways)
{
    return fifo_set(state, set, ways)[ways];
}

const struct iommu_repl_policy iommu_repl_fifo = {
    .name = "fifo",
    .desc = "first-in first-out (insertion order; hits do not reorder)",
    .supports = fifo_supports,
    .state_size = fifo_state_size,
    .init = fifo_init,
    .touch = fifo_touch,
    .fill = fifo_fill,
    .victim = fifo_victim,
};
