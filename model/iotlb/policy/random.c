/*
 * random.c — random replacement: the victim is a uniformly drawn way of the full set.
 *
 * State: one xoshiro256** generator (model/common/rng.h) per cache, seeded from the cache
 * configuration's seed, so a run is reproducible given its seed. One generator per cache
 * (not per set) mirrors hardware, which has one LFSR per structure; the draws depend only on
 * the order of evictions, never on wall-clock or address values. Hits and fills do not
 * consume random numbers.
 */
#include "policy.h"

#include "../../common/rng.h"

static bool random_supports(uint32_t sets, uint32_t ways)
{
    return sets >= 1 && ways >= 1;
}

static size_t random_state_size(uint32_t sets, uint32_t ways)
{
    return sizeof(struct iommu_rng);
}

static void random_init(void *state, uint32_t sets, uint32_t ways, uint64_t seed)
{
    iommu_rng_seed((struct iommu_rng *)state, seed);
}

static void random_touch(void *state, uint32_t set, uint32_t way, uint32_t ways)
{
}

static uint32_t random_victim(void *state, uint32_t set, uint32_t ways)
{
    return iommu_rng_below((struct iommu_rng *)state, ways);
}

const struct iommu_repl_policy iommu_repl_random = {
    .name = "random",
    .desc = "uniformly random victim (seeded xoshiro256**, one generator per cache)",
    .supports = random_supports,
    .state_size = random_state_size,
    .init = random_init,
    .touch = random_touch,
    .fill = random_touch,
    .victim = random_victim,
};
