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
#include "order_list.h"

static void fifo_touch(void *state, uint32_t set, uint32_t way, uint32_t ways)
{
    (void)state, (void)set, (void)way, (void)ways; /* a hit does not reorder a FIFO */
}

static void fifo_fill(void *state, uint32_t set, uint32_t way, uint32_t ways)
{
    order_list_to_front(state, set, way, ways);
}

static uint32_t fifo_victim(void *state, uint32_t set, uint32_t ways)
{
    return order_list_back(state, set, ways);
}

const struct iommu_repl_policy iommu_repl_fifo = {
    .name = "fifo",
    .desc = "first-in first-out (insertion order; hits do not reorder)",
    .supports = order_list_supports,
    .state_size = order_list_state_size,
    .init = order_list_init,
    .touch = fifo_touch,
    .fill = fifo_fill,
    .victim = fifo_victim,
};
