/*
 * gen.h — synthetic trace generators. Each writes a complete, valid trace through a
 * writer (either form), deterministically from a seed: the same parameters give the same
 * events, byte for byte.
 *
 * window: the pcie-bench pattern (Neugebauer et al., SIGCOMM 2018): one device (sid
 * 01:00.0) attached to domain 1 in second-level mode, one buffer ("the window") mapped with
 * a chosen page size, then `count` DMAs of `size` bytes at uniformly random size-aligned
 * offsets inside the window. Sweeping the window against the IOTLB reach shows the cost of
 * IOTLB misses. The trace is closed-loop (no timestamps).
 */
#ifndef IOMMU_TRACES_GEN_H
#define IOMMU_TRACES_GEN_H

#include "trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Both bases are 1 GB-aligned, so the window maps with any page size. */
#define IOMMU_GEN_IOVA_BASE 0x100000000ull /* 4 GB */
#define IOMMU_GEN_PA_BASE 0x100000000ull   /* 4 GB */
#define IOMMU_GEN_WINDOW_MAX (1ull << 40)  /* 1 TB */
#define IOMMU_GEN_SID IOMMU_SID(1, 0, 0)   /* 01:00.0 */
#define IOMMU_GEN_DID 1u

struct iommu_gen_window_params {
    uint64_t window;     /* bytes the DMAs fall in; 1 .. IOMMU_GEN_WINDOW_MAX. The mapping
                          * is the window rounded up to whole pages                     */
    uint64_t size;       /* bytes per DMA; a power of two, <= window, <= 2^32           */
    uint64_t count;      /* number of DMAs, >= 1                                        */
    unsigned page_shift; /* mapping page size: 12 (4K), 21 (2M) or 30 (1G)              */
    uint8_t op;          /* IOMMU_ACC_R (device reads memory) or IOMMU_ACC_W            */
    uint64_t seed;       /* PRNG seed (any value)                                       */
};

/* window 0 (must be set), size 64, count 1, 4K pages, reads, seed 1. */
void iommu_gen_window_params_default(struct iommu_gen_window_params *p);
/* IOMMU_OK, or IOMMU_ERR_INVAL with a one-line reason naming the parameter. */
enum iommu_status iommu_gen_window_params_validate(const struct iommu_gen_window_params *p,
                                                   char *reason, size_t size);
/* Writes: attach sid=01:00.0 did=1 mode=sl; map did=1 iova=IOVA_BASE pa=PA_BASE
 * len=roundup(window, page) perm=rw; then `count` dma events (op, size bytes, iova =
 * IOVA_BASE + size * k, k uniform in [0, window / size)). Does not finish the writer.
 * Returns the validation error (err filled) or the writer's error. */
enum iommu_status iommu_trace_gen_window(const struct iommu_gen_window_params *p,
                                         iommu_trace_writer_t *w, struct iommu_trace_error *err);

/* The generators' PRNG: xoshiro256** seeded through splitmix64. Exposed for tests. */
struct iommu_gen_rng {
    uint64_t s[4];
};
void iommu_gen_rng_seed(struct iommu_gen_rng *r, uint64_t seed);
uint64_t iommu_gen_rng_next(struct iommu_gen_rng *r);
/* Uniform in [0, n), n >= 1, without modulo bias. */
uint64_t iommu_gen_rng_below(struct iommu_gen_rng *r, uint64_t n);

#ifdef __cplusplus
}
#endif
#endif
