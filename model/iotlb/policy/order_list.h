/*
 * order_list.h — the per-set ordered list shared by the LRU and FIFO policies: a circular
 * doubly linked list threaded through the ways and closed by a sentinel, so moving a way to
 * the front, and finding the victim at the back, are O(1) and branch-free whatever the
 * associativity. LRU moves a way to the front on every touch and fill; FIFO only on fill.
 *
 * Layout per set, 2 * (ways + 1) words: prev[0..ways], then next[0..ways]. Entry `ways` is the
 * sentinel: next[sentinel] is the front (most recent), prev[sentinel] the back (the victim).
 * Invariant: the circle holds every way of the set exactly once (ways never filled keep their
 * initial order).
 */
#ifndef IOMMU_IOTLB_POLICY_ORDER_LIST_H
#define IOMMU_IOTLB_POLICY_ORDER_LIST_H

#include "policy.h"

static inline uint32_t *order_list_set(void *state, uint32_t set, uint32_t ways)
{
    return (uint32_t *)state + (size_t)set * 2 * ((size_t)ways + 1);
}

static inline bool order_list_supports(uint32_t sets, uint32_t ways)
{
    return sets >= 1 && ways >= 1;
}

static inline size_t order_list_state_size(uint32_t sets, uint32_t ways)
{
    return (size_t)sets * 2 * ((size_t)ways + 1) * sizeof(uint32_t);
}

static inline void order_list_init(void *state, uint32_t sets, uint32_t ways, uint64_t seed)
{
    (void)seed;
    for (uint32_t s = 0; s < sets; s++) {
        uint32_t *prev = order_list_set(state, s, ways), *next = prev + ways + 1;
        for (uint32_t i = 0; i <= ways; i++) {
            prev[i] = i ? i - 1 : ways;
            next[i] = i < ways ? i + 1 : 0;
        }
    }
}

/* Unlinks way and links it right after the sentinel (correct even if it is the front). */
static inline void order_list_to_front(void *state, uint32_t set, uint32_t way, uint32_t ways)
{
    uint32_t *prev = order_list_set(state, set, ways), *next = prev + ways + 1;
    const uint32_t p = prev[way], n = next[way];
    next[p] = n;
    prev[n] = p;
    const uint32_t h = next[ways];
    next[way] = h;
    prev[way] = ways;
    prev[h] = way;
    next[ways] = way;
}

static inline uint32_t order_list_back(void *state, uint32_t set, uint32_t ways)
{
    return order_list_set(state, set, ways)[ways];
}

#endif
