/*
 * rng.h — a small, seeded, deterministic pseudo-random number generator for the core.
 *
 * xoshiro256** (Blackman and Vigna's published algorithm) with its four words of state
 * filled from the seed by splitmix64, so any 64-bit seed (including 0) gives a usable,
 * well-mixed state. Everything is a static inline function on a caller-owned state struct:
 * no globals, no allocation, and two states seeded alike produce identical sequences on
 * every platform (the arithmetic is exact 64-bit unsigned). Workload assumption: the
 * random replacement policy draws one number per eviction and generators draw a few per
 * event, so speed matters more than cryptographic quality (which this does not have).
 */
#ifndef IOMMU_COMMON_RNG_H
#define IOMMU_COMMON_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iommu_rng {
    uint64_t s[4]; /* xoshiro256** state; never all zero once seeded */
};

/* One step of splitmix64: advances *x and returns the mixed value. */
static inline uint64_t iommu_rng_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void iommu_rng_seed(struct iommu_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = iommu_rng_splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) /* cannot happen for splitmix; be safe */
        r->s[0] = 1;
}

static inline uint64_t iommu_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Next 64 uniformly distributed bits. */
static inline uint64_t iommu_rng_next(struct iommu_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = iommu_rng_rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = iommu_rng_rotl(s[3], 45);
    return result;
}

/* Uniform integer in [0, n) without modulo bias (multiply-shift with rejection); n >= 1.
 * Consumes one draw almost always, more only on the rare rejection. Returns 0 for n == 0. */
static inline uint32_t iommu_rng_below(struct iommu_rng *r, uint32_t n)
{
    if (n == 0)
        return 0;
    uint64_t m = (iommu_rng_next(r) >> 32) * (uint64_t)n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        const uint32_t threshold = (uint32_t)(-n) % n; /* 2^32 mod n */
        while (low < threshold) {
            m = (iommu_rng_next(r) >> 32) * (uint64_t)n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double iommu_rng_unit(struct iommu_rng *r)
{
    return (double)(iommu_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

#ifdef __cplusplus
}
#endif
#endif
