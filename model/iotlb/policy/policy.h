/*
 * policy.h — replacement policies as method tables, found by name in a registry.
 *
 * A policy keeps its own state for all sets in one block the cache allocates
 * (state_size bytes). The cache calls touch() on a hit, fill() when a way is (re)filled, and
 * victim() only when every way of the set is valid. Policies are deterministic given their
 * seed. Adding a policy = one file in this folder plus one line in registry.c.
 *
 * Contract relied on by the cache: touching the way that was touched last, with no fill in
 * between (anywhere in the cache), must not change the state — the cache skips such
 * repeated touches on runs of hits to one entry. LRU, tree-PLRU, FIFO and random all
 * satisfy it; a frequency-counting policy would have to count elsewhere.
 */
#ifndef IOMMU_IOTLB_POLICY_H
#define IOMMU_IOTLB_POLICY_H

#include "../../common/types.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iommu_repl_policy {
    const char *name;
    const char *desc;
    /* false if the geometry is unsupported (tree-PLRU needs ways to be a power of two) */
    bool (*supports)(uint32_t sets, uint32_t ways);
    size_t (*state_size)(uint32_t sets, uint32_t ways);
    void (*init)(void *state, uint32_t sets, uint32_t ways, uint64_t seed);
    void (*touch)(void *state, uint32_t set, uint32_t way, uint32_t ways);
    void (*fill)(void *state, uint32_t set, uint32_t way, uint32_t ways);
    uint32_t (*victim)(void *state, uint32_t set, uint32_t ways);
};

extern const struct iommu_repl_policy iommu_repl_lru;
extern const struct iommu_repl_policy iommu_repl_plru;
extern const struct iommu_repl_policy iommu_repl_fifo;
extern const struct iommu_repl_policy iommu_repl_random;

/* NULL when no policy has that name. "tree-plru" is accepted as an alias of "plru". */
const struct iommu_repl_policy *iommu_repl_policy_find(const char *name);
/* The registered policies, NULL-terminated (for help texts and tests). */
const struct iommu_repl_policy *const *iommu_repl_policy_all(void);

#ifdef __cplusplus
}
#endif
#endif
