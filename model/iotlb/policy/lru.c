/*
 * lru.c — true least-recently-used replacement.
 *
 * State per set: a use clock followed by one 64-bit stamp per way (the set's clock value
 * when the way was last touched or filled). touch/fill are O(1) stores, which keeps the hit
 * path cheap; victim() scans the set for the smallest stamp, O(ways), but runs only on a
 * miss into a full set, where a page walk is about to cost far more. Workload assumption:
 * hits vastly outnumber evictions (IOTLB hit rates of 90 % and more), and sets hold at most
 * a few thousand ways. A 64-bit clock per set cannot wrap in any simulation.
 */
#include "policy.h"

#include <string.h>

/* Layout: for set s, words [s*(ways+1)] = clock, [s*(ways+1) + 1 + w] = stamp of way w.
 * Invariant: every stamp of a set is <= that set's clock; distinct touched ways have
 * distinct stamps (the clock is incremented before each store). */
static inline uint64_t *lru_set(void *state, uint32_t set, uint32_t ways)
{
    return (uint64_t *)state + (size_t)set * ((size_t)ways + 1);
}

static bool lru_supports(uint32_t sets, uint32_t ways)
{
    return sets >= 1 && ways >= 1;
}

static size_t lru_state_size(uint32_t sets, uint32_t ways)
{
    return (size_t)sets * ((size_t)ways + 1) * sizeof(uint64_t);
}

static void lru_init(void *state, uint32_t sets, uint32_t ways, uint64_t seed)
{
    memset(state, 0, lru_state_size(sets, ways));
}

static void lru_touch(void *state, uint32_t set, uint32_t way, uint32_t ways)
{
    uint64_t *s = lru_set(state, set, ways);
    s[1 + way] = ++s[0];
}

static uint32_t lru_victim(void *state, uint32_t set, uint32_t ways)
{
    const uint64_t *s = lru_set(state, set, ways) + 1;
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

const struct iommu_repl_policy iommu_repl_lru = {
    .name = "lru",
    .desc = "true least-recently-used (per-way use stamps)",
    .supports = lru_supports,
    .state_size = lru_state_size,
    .init = lru_init,
    .touch = lru_touch,
    .fill = lru_touch,
    .victim = lru_victim,
};
