/*
 * fifo.c — first-in first-out replacement: the victim is the way filled longest ago; hits
 * do not change the order.
 *
 * State per set: a fill clock followed by one 64-bit fill stamp per way. Because invalid
 * ways are refilled lowest index first (cache.h), fill order is not a rotation over way
 * indices, so a round-robin pointer would be wrong after an invalidation; stamps keep the
 * exact insertion order. fill() is O(1), victim() O(ways) and runs only on a miss into a
 * full set. Invariant: stamps of a set are distinct for filled ways and <= the set clock.
 */
#include "policy.h"

#include <string.h>

static inline uint64_t *fifo_set(void *state, uint32_t set, uint32_t ways)
{
    return (uint64_t *)state + (size_t)set * ((size_t)ways + 1);
}

static bool fifo_supports(uint32_t sets, uint32_t ways)
{
    return sets >= 1 && ways >= 1;
}

static size_t fifo_state_size(uint32_t sets, uint32_t ways)
{
    return (size_t)sets * ((size_t)ways + 1) * sizeof(uint64_t);
}

static void fifo_init(void *state, uint32_t sets, uint32_t ways, uint64_t seed)
{
    memset(state, 0, fifo_state_size(sets, ways));
}

static void fifo_touch(void *state, uint32_t set, uint32_t way, uint32_t ways)
{
    /* a hit does not reorder a FIFO */
}

static void fifo_fill(void *state, uint32_t set, uint32_t way, uint32_t ways)
{
    uint64_t *s = fifo_set(state, set, ways);
    s[1 + way] = ++s[0];
}

static uint32_t fifo_victim(void *state, uint32_t set, uint32_t ways)
{
    const uint64_t *s = fifo_set(state, set, ways) + 1;
    uint32_t best = 0;
    uint64_t oldest = s[0];
    for (uint32_t w = 1; w < ways; w++) {
        if (s[w] < oldest) {
            oldest = s[w];
            best = w;
        }
    }
    return best;
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
