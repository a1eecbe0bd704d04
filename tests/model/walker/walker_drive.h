/*
 * walker_drive.h — the tiny functional driver the walker/context/host tests use: it runs a
 * resumable walk or context fetch to completion by reading simulated physical memory, and
 * records every read it was asked for (address, kind, level / size) so tests can assert the
 * exact sequence. Test-only; mirrors what the functional replay mode does.
 */
#ifndef IOMMUSIM_TESTS_WALKER_DRIVE_H
#define IOMMUSIM_TESTS_WALKER_DRIVE_H

#include <cstdint>
#include <vector>

extern "C" {
#include "model/common/physmem.h"
#include "model/walker/context.h"
#include "model/walker/formats.h"
#include "model/walker/walk.h"
}

struct WalkRead {
    uint64_t addr;
    uint8_t kind;
    uint8_t level;
};

inline iommu_walk_rc run_walk(iommu_physmem_t *mem, iommu_walk *w, const iommu_walk_params &p,
                              iommu_pwc_t *pwc, uint64_t iova, uint8_t access,
                              std::vector<WalkRead> *trace = nullptr)
{
    iommu_walk_rc rc = iommu_walk_begin(w, &p, pwc, iova, access);
    while (rc == IOMMU_WALK_NEED_READ) {
        if (trace)
            trace->push_back({w->read_addr, w->read_kind, w->read_level});
        rc = iommu_walk_resume(w, iommu_physmem_read64(mem, w->read_addr));
    }
    return rc;
}

struct CtxRead {
    uint64_t addr;
    uint8_t size;
    uint8_t kind;
};

inline iommu_walk_rc run_ctx(iommu_physmem_t *mem, iommu_ctxwalk *cw, const iommu_ctx_params &p,
                             iommu_sid_t sid, iommu_pasid_t pasid,
                             const iommu_sm_ctx *known = nullptr,
                             std::vector<CtxRead> *trace = nullptr)
{
    iommu_walk_rc rc = iommu_ctxwalk_begin(cw, &p, sid, pasid, known);
    while (rc == IOMMU_WALK_NEED_READ) {
        if (trace)
            trace->push_back({cw->read_addr, cw->read_size, cw->read_kind});
        uint64_t d[8] = {0};
        for (unsigned i = 0; i < cw->read_size / 8u; i++)
            d[i] = iommu_physmem_read64(mem, cw->read_addr + 8ull * i);
        rc = iommu_ctxwalk_resume(cw, d);
    }
    return rc;
}

/* Capabilities with everything supported: SAGAW 3/4/5-level, HAW 46. */
inline iommu_ctx_params full_caps(uint64_t rtaddr, bool scalable)
{
    iommu_ctx_params p{};
    p.rtaddr = rtaddr;
    p.scalable = scalable;
    p.sagaw = 0x0E;
    p.haw = 46;
    p.pt = p.dev_tlb = p.nested = p.fl = p.sl = p.fl5 = true;
    return p;
}

/* Writes n words at pa. */
inline void put_words(iommu_physmem_t *mem, uint64_t pa, const uint64_t *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        iommu_physmem_write64(mem, pa + 8ull * i, w[i]);
}

#endif
