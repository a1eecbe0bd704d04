/*
 * physmem.c — sparse physical memory: frame number (40 bits) split 14/13/13 into a
 * top array (allocated with the memory), lazily allocated middle arrays and lazily
 * allocated 4 KB frames. Invariant: a non-NULL leaf pointer points to a zero-initialised or
 * written 4 KB frame owned by this memory; `last_fn`/`last_frame` cache the most recently
 * resolved frame (last_frame == NULL means the cache is empty).
 */
#include "physmem.h"

#include <stdlib.h>
#include <string.h>

#define FRAME_SIZE 4096u
#define TOP_BITS 14u
#define MID_BITS 13u
#define LEAF_BITS 13u
#define MID_ENTRIES (1u << MID_BITS)
#define LEAF_ENTRIES (1u << LEAF_BITS)

struct leaf { uint8_t *frame[LEAF_ENTRIES]; };
struct mid { struct leaf *leaf[MID_ENTRIES]; };

struct iommu_physmem {
    struct mid *top[1u << TOP_BITS];
    uint64_t last_fn;    /* frame number held in last_frame                       */
    uint8_t *last_frame; /* cached frame pointer, NULL when nothing cached         */
    size_t frames;       /* allocated frames                                       */
};

iommu_physmem_t *iommu_physmem_create(void)
{
    return calloc(1, sizeof(struct iommu_physmem));
}

void iommu_physmem_destroy(iommu_physmem_t *mem)
{
    if (!mem)
        return;
    for (size_t t = 0; t < (1u << TOP_BITS); t++) {
        struct mid *m = mem->top[t];
        if (!m)
            continue;
        for (size_t i = 0; i < MID_ENTRIES; i++) {
            struct leaf *l = m->leaf[i];
            if (!l)
                continue;
            for (size_t j = 0; j < LEAF_ENTRIES; j++)
                free(l->frame[j]);
            free(l);
        }
        free(m);
    }
    free(mem);
}

bool iommu_physmem_in_range(iommu_pa_t pa, uint64_t len)
{
    const uint64_t limit = 1ull << IOMMU_PHYSMEM_PA_BITS;
    return pa < limit && len <= limit - pa;
}

/* Returns the frame holding fn, allocating it (and its path) when `alloc`; NULL when absent
 * and not allocating, or when allocation fails. */
static uint8_t *frame_of(iommu_physmem_t *mem, uint64_t fn, bool alloc)
{
    if (mem->last_frame && mem->last_fn == fn)
        return mem->last_frame;
    const uint64_t t = fn >> (MID_BITS + LEAF_BITS);
    const uint64_t i = (fn >> LEAF_BITS) & (MID_ENTRIES - 1);
    const uint64_t j = fn & (LEAF_ENTRIES - 1);
    struct mid *m = mem->top[t];
    if (!m) {
        if (!alloc || !(m = calloc(1, sizeof *m)))
            return NULL;
        mem->top[t] = m;
    }
    struct leaf *l = m->leaf[i];
    if (!l) {
        if (!alloc || !(l = calloc(1, sizeof *l)))
            return NULL;
        m->leaf[i] = l;
    }
    uint8_t *f = l->frame[j];
    if (!f) {
        if (!alloc || !(f = calloc(1, FRAME_SIZE)))
            return NULL;
        l->frame[j] = f;
        mem->frames++;
    }
    mem->last_fn = fn;
    mem->last_frame = f;
    return f;
}

uint64_t iommu_physmem_read64(iommu_physmem_t *mem, iommu_pa_t pa)
{
    if (!iommu_physmem_in_range(pa, 8))
        return 0;
    const uint8_t *f = frame_of(mem, pa >> IOMMU_PHYSMEM_FRAME_SHIFT, false);
    if (!f)
        return 0;
    uint64_t v;
    memcpy(&v, f + (pa & (FRAME_SIZE - 8)), 8); /* 8-byte aligned by contract */
    return v;
}

enum iommu_status iommu_physmem_write64(iommu_physmem_t *mem, iommu_pa_t pa, uint64_t value)
{
    if (!iommu_physmem_in_range(pa, 8))
        return IOMMU_ERR_INVAL;
    if (pa & 7)
        return IOMMU_ERR_ALIGN;
    uint8_t *f = frame_of(mem, pa >> IOMMU_PHYSMEM_FRAME_SHIFT, true);
    if (!f)
        return IOMMU_ERR_NOMEM;
    memcpy(f + (pa & (FRAME_SIZE - 1)), &value, 8);
    return IOMMU_OK;
}

enum iommu_status iommu_physmem_read(iommu_physmem_t *mem, iommu_pa_t pa, void *buf, size_t len)
{
    if (!iommu_physmem_in_range(pa, len))
        return IOMMU_ERR_INVAL;
    uint8_t *out = buf;
    while (len) {
        size_t off = (size_t)(pa & (FRAME_SIZE - 1));
        size_t n = FRAME_SIZE - off < len ? FRAME_SIZE - off : len;
        const uint8_t *f = frame_of(mem, pa >> IOMMU_PHYSMEM_FRAME_SHIFT, false);
        if (f)
            memcpy(out, f + off, n);
        else
            memset(out, 0, n);
        out += n;
        pa += n;
        len -= n;
    }
    return IOMMU_OK;
}

enum iommu_status iommu_physmem_write(iommu_physmem_t *mem, iommu_pa_t pa, const void *buf,
                                      size_t len)
{
    if (!iommu_physmem_in_range(pa, len))
        return IOMMU_ERR_INVAL;
    const uint8_t *in = buf;
    while (len) {
        size_t off = (size_t)(pa & (FRAME_SIZE - 1));
        size_t n = FRAME_SIZE - off < len ? FRAME_SIZE - off : len;
        uint8_t *f = frame_of(mem, pa >> IOMMU_PHYSMEM_FRAME_SHIFT, true);
        if (!f)
            return IOMMU_ERR_NOMEM;
        memcpy(f + off, in, n);
        in += n;
        pa += n;
        len -= n;
    }
    return IOMMU_OK;
}

size_t iommu_physmem_frames(const iommu_physmem_t *mem)
{
    return mem->frames;
}
