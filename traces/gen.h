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
 *
 * buffers: a network-like DMA-API workload in buffer events (trace format v2): each device
 * keeps a ring of mapped buffers (RX ring refill); each I/O is one whole-buffer DMA by
 * handle, the buffer's dma_unmap, and the dma_map of a fresh buffer. Buffers come from a
 * pool of physical pages picked at random (a page allocator's reuse) and start `headroom`
 * bytes into their page, so their mappings are not page-aligned. What it costs to map and
 * unmap them is the replay's host model's business; the trace holds only what the driver
 * asks. Closed-loop (no timestamps), every event on CPU 0.
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

/* ---- buffers ------------------------------------------------------------------------ */
#define IOMMU_GEN_BUF_SID0 IOMMU_SID(0, 3, 0) /* device d is 00:(03+d).0, domain d + 1    */
#define IOMMU_GEN_BUF_DEVICES_MAX 29u         /* 00:03.0 .. 00:1f.0                      */
#define IOMMU_GEN_BUF_POOL_PAGES 4096u        /* physical pool: 16 MB of 4 KB pages,
                                               * more when the live buffers need it      */
#define IOMMU_GEN_BUF_LIVE_MAX (1u << 20)     /* ring * devices * sg: segments mapped    */
#define IOMMU_GEN_BUF_SG_MAX 1024u
#define IOMMU_GEN_BUF_RING_MAX 65536u

struct iommu_gen_buffers_params {
    uint64_t count;    /* I/Os (packets), >= 1                                            */
    uint64_t size;     /* bytes per buffer (and per DMA), 1 .. 2^32-1                     */
    unsigned sg;       /* segments per buffer, 1 .. min(size, IOMMU_GEN_BUF_SG_MAX)        */
    unsigned ring;     /* buffers kept mapped per device, 1 .. IOMMU_GEN_BUF_RING_MAX      */
    unsigned devices;  /* devices the I/Os round-robin over, 1 .. IOMMU_GEN_BUF_DEVICES_MAX */
    uint8_t dir;       /* IOMMU_ACC_W: rx (device writes buffers, maps perm=w);
                        * IOMMU_ACC_R: tx (device reads them, perm=r)                     */
    uint64_t headroom; /* bytes before each segment in its first page, 0 .. 4095          */
    uint64_t seed;     /* PRNG seed (any value): picks the physical pages                 */
};

/* count 1, size 1500, sg 1, ring 256, devices 1, rx, headroom 64, seed 1. */
void iommu_gen_buffers_params_default(struct iommu_gen_buffers_params *p);
/* IOMMU_OK, or IOMMU_ERR_INVAL with a one-line reason naming the parameter. */
enum iommu_status iommu_gen_buffers_params_validate(const struct iommu_gen_buffers_params *p,
                                                    char *reason, size_t size);
/* Physical pages per segment block: the power of two that holds headroom + the longest
 * segment (ceil(size / sg) bytes), in 4 KB pages. */
uint64_t iommu_gen_buffers_block_pages(const struct iommu_gen_buffers_params *p);
/*
 * Writes (D = devices, R = ring, K = sg, N = count; handles 1, 2, ... in map order):
 *   attach sid=00:(03+d).0 did=d+1 mode=sl                      for each device d
 *   K dma_map sid=.. handle=h pa=.. len=.. perm=w|r [more]     for R buffers of each device
 *   for I/O i = 0 .. N-1, on device d = i mod D, its oldest mapped buffer h:
 *     dma sid=.. handle=h off=0 len=size op=w (rx) | op=r (tx)
 *     dma_unmap handle=h
 *     K dma_map sid=.. handle=<next> ...                       (the ring's refill)
 * that is D + K * (R * D + N) + 2 * N events. Segment j of K is size / K bytes, one more
 * for j < size % K; each starts `headroom` bytes into its own block of
 * iommu_gen_buffers_block_pages() pages, picked uniformly from the free blocks of a pool
 * at IOMMU_GEN_PA_BASE of max(POOL_PAGES / block pages, 2 * R * D * K) blocks (a freed
 * block goes back to the pool). Does not finish the writer. Returns the validation error
 * (err filled), IOMMU_ERR_NOMEM, or the writer's error.
 */
enum iommu_status iommu_trace_gen_buffers(const struct iommu_gen_buffers_params *p,
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
