/*
 * test_context.cpp — the resumable context fetch on hand-crafted root/context/PASID tables:
 * exact read addresses and sizes (legacy and scalable mode, lower/upper root halves,
 * RID_PASID substitution, cached context entries), the decoded context, and every legacy
 * fault reason 0x1-0xD produced through context fetch + walk, plus the scalable-mode codes.
 */
#include <gtest/gtest.h>

#include "model/walker/walker_drive.h"

namespace {

constexpr uint8_t R = IOMMU_ACC_R, W = IOMMU_ACC_W, X = IOMMU_ACC_X, PRIV = IOMMU_ACC_PRIV;
constexpr uint64_t RT = 0x100000;
const iommu_sid_t SID_LO = IOMMU_SID(0x12, 3, 4);  /* devfn 0x1C */
const iommu_sid_t SID_HI = IOMMU_SID(0x12, 19, 4); /* devfn 0x9C */

class ContextTest : public ::testing::Test {
protected:
    void SetUp() override { mem = iommu_physmem_create(); }
    void TearDown() override { iommu_physmem_destroy(mem); }
    void put(uint64_t pa, uint64_t v) { iommu_physmem_write64(mem, pa, v); }
    void root(uint64_t lo, uint64_t hi = 0)
    {
        put(RT + 16 * 0x12, lo);
        put(RT + 16 * 0x12 + 8, hi);
    }
    iommu_walk_rc fetch(const iommu_ctx_params &p, iommu_sid_t sid, iommu_pasid_t pasid,
                        std::vector<CtxRead> *t = nullptr, const iommu_sm_ctx *known = nullptr)
    {
        return run_ctx(mem, &cw, p, sid, pasid, known, t);
    }
    /* Context fetch, then the walk the context selects; returns the fault reason (0 = ok). */
    uint8_t translate(const iommu_ctx_params &p, iommu_sid_t sid, iommu_pasid_t pasid,
                      uint64_t iova, uint8_t access)
    {
        if (fetch(p, sid, pasid) != IOMMU_WALK_DONE)
            return cw.fault_reason;
        if (uint8_t r = iommu_ctx_request_check(&cw.ctx, p.scalable, access))
            return r;
        if (cw.ctx.mode == IOMMU_MODE_PT) {
            walk.pa = iova;
            return 0;
        }
        iommu_walk_params wp;
        iommu_ctx_walk_params(&cw.ctx, p.scalable, p.haw, true, true, true, cw.pasid, &wp);
        return run_walk(mem, &walk, wp, nullptr, iova, access) == IOMMU_WALK_DONE
                   ? 0
                   : walk.fault_reason;
    }
    /* A 4-level second-level path for iova -> pa (R/W) with tables from `base`. */
    void sl_tables(uint64_t root_pa, uint64_t base, uint64_t iova, uint64_t pa, unsigned levels = 4)
    {
        uint64_t table = root_pa;
        for (unsigned l = levels; l > 1; l--, base += 0x1000) {
            put(table + 8ull * iommu_vtd_pt_index(iova, l), base | 3);
            table = base;
        }
        put(table + 8ull * iommu_vtd_pt_index(iova, 1), pa | 3);
    }
    iommu_physmem_t *mem = nullptr;
    iommu_ctxwalk cw{};
    iommu_walk walk{};
};

/* ---- legacy ----------------------------------------------------------------------------- */

class ContextLegacy : public ContextTest {
protected:
    void SetUp() override
    {
        ContextTest::SetUp();
        root(0x101000 | 1);
        ctx(0x200000 | 1, 0x4202); /* P, TT=0, SLPTPTR 0x200000; AW=2, DID 0x42 */
    }
    void ctx(uint64_t w0, uint64_t w1)
    {
        put(0x101000 + 16 * 0x1C, w0);
        put(0x101000 + 16 * 0x1C + 8, w1);
    }
    iommu_ctx_params caps = full_caps(RT, false);
};

TEST_F(ContextLegacy, RootThenContextExactReads)
{
    std::vector<CtxRead> t;
    ASSERT_EQ(fetch(caps, SID_LO, IOMMU_PASID_NONE, &t), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].addr, 0x100120ull);
    EXPECT_EQ(t[0].size, 16);
    EXPECT_EQ(t[0].kind, IOMMU_READ_ROOT);
    EXPECT_EQ(t[1].addr, 0x1011C0ull);
    EXPECT_EQ(t[1].size, 16);
    EXPECT_EQ(t[1].kind, IOMMU_READ_CONTEXT);
    EXPECT_EQ(cw.mem_reads, 2);
    EXPECT_EQ(cw.ctx.did, 0x42);
    EXPECT_EQ(cw.ctx.mode, IOMMU_MODE_SL);
    EXPECT_EQ(cw.ctx.sl_levels, 4);
    EXPECT_EQ(cw.ctx.sl_root, 0x200000ull);
    EXPECT_FALSE(cw.ctx.fpd);
    EXPECT_FALSE(cw.ctx.dev_tlb);
    EXPECT_FALSE(cw.have_sm_ctx);
}

TEST_F(ContextLegacy, TranslationTypesAndWidths)
{
    ctx(0x200000 | 1 | (1 << 2), 0x4201); /* TT=1, AW=1 (3-level) */
    ASSERT_EQ(fetch(caps, SID_LO, IOMMU_PASID_NONE), IOMMU_WALK_DONE);
    EXPECT_TRUE(cw.ctx.dev_tlb);
    EXPECT_EQ(cw.ctx.sl_levels, 3);
    ctx(1 | (2 << 2), 0x4203); /* TT=2 pass-through, AW=3 */
    ASSERT_EQ(fetch(caps, SID_LO, IOMMU_PASID_NONE), IOMMU_WALK_DONE);
    EXPECT_EQ(cw.ctx.mode, IOMMU_MODE_PT);
    EXPECT_EQ(cw.ctx.sl_levels, 5);
    EXPECT_EQ(cw.ctx.did, 0x42);
    ctx(0x200000 | 1 | 2 /* FPD */, 0x4203);
    ASSERT_EQ(fetch(caps, SID_LO, IOMMU_PASID_NONE), IOMMU_WALK_DONE);
    EXPECT_TRUE(cw.ctx.fpd);
    EXPECT_EQ(cw.ctx.sl_levels, 5);
}

/* Every legacy DMA-remapping fault reason 0x1-0xD, through context fetch + walk. */
TEST_F(ContextLegacy, FaultReasonsLegacyAll)
{
    const uint64_t iova = 0x0000001234567000ull;
    sl_tables(0x200000, 0x201000, iova, 0x0000000ABCDE0000ull);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R | W), 0);
    EXPECT_EQ(walk.pa, 0x0000000ABCDE0000ull);

    /* 0x1 root entry not present (another bus) */
    EXPECT_EQ(translate(caps, IOMMU_SID(0x13, 0, 0), IOMMU_PASID_NONE, iova, R), 0x1);
    /* 0x2 context entry not present (another devfn on the bus) */
    EXPECT_EQ(translate(caps, IOMMU_SID(0x12, 0, 0), IOMMU_PASID_NONE, iova, R), 0x2);
    /* 0x3 invalid context: TT = 3; AW not in SAGAW; AW = 0 */
    ctx(0x200000 | 1 | (3 << 2), 0x4202);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0x3);
    ctx(0x200000 | 1, 0x4202);
    iommu_ctx_params only5 = caps;
    only5.sagaw = 0x8;
    EXPECT_EQ(translate(only5, SID_LO, IOMMU_PASID_NONE, iova, R), 0x3);
    ctx(0x200000 | 1, 0x4200);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0x3);
    ctx(0x200000 | 1, 0x4202);
    /* 0x4 address beyond the context's address width */
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, 1ull << 48, R), 0x4);
    ctx(0x200000 | 1, 0x4201); /* 3-level: 39 bits */
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, 1ull << 39, R), 0x4);
    ctx(0x200000 | 1, 0x4202);
    /* 0x5 write to a read-only page, 0x6 read of a write-only page */
    put(0x203000 + 8 * iommu_vtd_pt_index(iova, 1), 0x0000000ABCDE0000ull | 1);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, W), 0x5);
    put(0x203000 + 8 * iommu_vtd_pt_index(iova, 1), 0x0000000ABCDE0000ull | 2);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0x6);
    put(0x203000 + 8 * iommu_vtd_pt_index(iova, 1), 0x0000000ABCDE0000ull | 3);
    /* 0x7 next-level table beyond HAW (SLPTPTR, then a level-2 pointer) */
    ctx((1ull << 46) | 1, 0x4202);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0x7);
    ctx(0x200000 | 1, 0x4202);
    put(0x202000 + 8 * iommu_vtd_pt_index(iova, 2), (1ull << 47) | 3);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0x7);
    put(0x202000 + 8 * iommu_vtd_pt_index(iova, 2), 0x203000 | 3);
    /* 0x8 root table beyond HAW */
    iommu_ctx_params far = caps;
    far.rtaddr = 1ull << 46;
    EXPECT_EQ(translate(far, SID_LO, IOMMU_PASID_NONE, iova, R), 0x8);
    EXPECT_EQ(cw.mem_reads, 0);
    /* 0x9 context-table pointer beyond HAW */
    root((1ull << 46) | 1);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0x9);
    EXPECT_EQ(cw.mem_reads, 1);
    /* 0xA reserved bits in the root entry (bit 1; bit 64) */
    root(0x101000 | 1 | 2);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0xA);
    root(0x101000 | 1, 1);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0xA);
    root(0x101000 | 1);
    /* 0xB reserved bits in the context entry (bit 4; bit 71; bit 88) */
    ctx(0x200000 | 1 | 0x10, 0x4202);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0xB);
    ctx(0x200000 | 1, 0x4202 | 0x80);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0xB);
    ctx(0x200000 | 1, 0x4202 | (1ull << 24));
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0xB);
    ctx(0x200000 | 1, 0x4202 | 0x78); /* ignored bits 70:67 are fine */
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0);
    /* 0xC reserved bits in a paging entry (PS at the SL-PML4E) */
    put(0x200000 + 8 * iommu_vtd_pt_index(iova, 4), 0x201000 | 3 | 0x80);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0xC);
    put(0x200000 + 8 * iommu_vtd_pt_index(iova, 4), 0x201000 | 3);
    /* 0xD translation type blocked: TT=1 without ECAP.DT, TT=2 without ECAP.PT */
    iommu_ctx_params nodt = caps;
    nodt.dev_tlb = false;
    ctx(0x200000 | 1 | (1 << 2), 0x4202);
    EXPECT_EQ(translate(nodt, SID_LO, IOMMU_PASID_NONE, iova, R), 0xD);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0);
    iommu_ctx_params nopt = caps;
    nopt.pt = false;
    ctx(1 | (2 << 2), 0x4202);
    EXPECT_EQ(translate(nopt, SID_LO, IOMMU_PASID_NONE, iova, R), 0xD);
    EXPECT_EQ(translate(caps, SID_LO, IOMMU_PASID_NONE, iova, R), 0);
    EXPECT_EQ(walk.pa, iova); /* pass-through */
}

TEST_F(ContextLegacy, FaultFpdAndPasidRequests)
{
    ctx(0x200000 | 1 | 2 | 0x10, 0x4202); /* FPD with a reserved bit */
    EXPECT_EQ(fetch(caps, SID_LO, IOMMU_PASID_NONE), IOMMU_WALK_FAULT);
    EXPECT_EQ(cw.fault_reason, 0xB);
    EXPECT_TRUE(cw.fault_fpd);
    ctx(2, 0); /* FPD set but not present: cannot suppress its own fault */
    EXPECT_EQ(fetch(caps, SID_LO, IOMMU_PASID_NONE), IOMMU_WALK_FAULT);
    EXPECT_EQ(cw.fault_reason, 0x2);
    EXPECT_FALSE(cw.fault_fpd);
    /* A request with PASID while the root table is in legacy mode */
    EXPECT_EQ(fetch(caps, SID_LO, 5), IOMMU_WALK_FAULT);
    EXPECT_EQ(cw.fault_reason, IOMMU_FR_SM_TTM_LEGACY_PASID);
    EXPECT_EQ(cw.mem_reads, 0);
    /* resume after the end is a no-op */
    const uint64_t d[2] = {0, 0};
    EXPECT_EQ(iommu_ctxwalk_resume(&cw, d), IOMMU_WALK_FAULT);
}

/* ---- scalable ------------------------------------------------------------------------------- */

class ContextScalable : public ContextTest {
protected:
    void SetUp() override
    {
        ContextTest::SetUp();
        root(0x101000 | 1, 0x102000 | 1);
        /* upper context (devfn 0x9C): P, PASIDE, PDTS 0 (128 dir entries), dir 0x103000,
         * RID_PASID 0x41 */
        sm_ctx(0x102000 + 32 * 0x1C, 0x103000 | 1 | 8, 0x41);
        put(0x103000 + 8 * 0x48, 0x104000 | 1); /* dir entry for PASIDs 0x1200-0x123F */
        put(0x103000 + 8 * 0x1, 0x105000 | 1);  /* dir entry for PASIDs 0x40-0x7F */
        /* PASID 0x1234: second level, AW 2, SLPTPTR 0x200000, DID 7 */
        pentry(0x104000 + 64 * 0x34, 0x200000 | 1 | (2 << 2) | (2 << 6), 7, 0);
        /* PASID 0x41 (RID_PASID): first level, 5-level, FLPTPTR 0x300000, DID 9, SRE, NXE */
        pentry(0x105000 + 64 * 1, 1 | (1 << 6), 9, 0x300000 | 1 | (1 << 2) | (1 << 5));
    }
    void sm_ctx(uint64_t at, uint64_t w0, uint64_t w1, uint64_t w2 = 0)
    {
        put(at, w0);
        put(at + 8, w1);
        put(at + 16, w2);
        put(at + 24, 0);
    }
    void pentry(uint64_t at, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3 = 0)
    {
        const uint64_t w[8] = {w0, w1, w2, w3, 0, 0, 0, 0};
        put_words(mem, at, w, 8);
    }
    iommu_ctx_params caps = full_caps(RT, true);
};

TEST_F(ContextScalable, UpperHalfWithPasidExactReads)
{
    std::vector<CtxRead> t;
    ASSERT_EQ(fetch(caps, SID_HI, 0x1234, &t), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 4u);
    EXPECT_EQ(t[0].addr, 0x100120ull);
    EXPECT_EQ(t[0].size, 16);
    EXPECT_EQ(t[0].kind, IOMMU_READ_ROOT);
    EXPECT_EQ(t[1].addr, 0x102380ull); /* UCTP + (0x9C % 128) * 32 */
    EXPECT_EQ(t[1].size, 32);
    EXPECT_EQ(t[1].kind, IOMMU_READ_CONTEXT);
    EXPECT_EQ(t[2].addr, 0x103240ull); /* dir + (0x1234 >> 6) * 8 */
    EXPECT_EQ(t[2].size, 8);
    EXPECT_EQ(t[2].kind, IOMMU_READ_PASID_DIR);
    EXPECT_EQ(t[3].addr, 0x104D00ull); /* table + (0x1234 & 63) * 64 */
    EXPECT_EQ(t[3].size, 64);
    EXPECT_EQ(t[3].kind, IOMMU_READ_PASID_ENTRY);
    EXPECT_EQ(cw.pasid, 0x1234u);
    EXPECT_EQ(cw.ctx.mode, IOMMU_MODE_SL);
    EXPECT_EQ(cw.ctx.did, 7);
    EXPECT_EQ(cw.ctx.sl_levels, 4);
    EXPECT_EQ(cw.ctx.sl_root, 0x200000ull);
    EXPECT_TRUE(cw.have_sm_ctx);
    EXPECT_TRUE(cw.sm_ctx.pasid_enabled);
    EXPECT_EQ(cw.sm_ctx.pasid_dir, 0x103000ull);
    EXPECT_EQ(cw.sm_ctx.rid_pasid, 0x41u);
    EXPECT_EQ(cw.sm_ctx.pdts, 0);
}

TEST_F(ContextScalable, RequestWithoutPasidUsesRidPasid)
{
    std::vector<CtxRead> t;
    ASSERT_EQ(fetch(caps, SID_HI, IOMMU_PASID_NONE, &t), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 4u);
    EXPECT_EQ(t[2].addr, 0x103008ull);
    EXPECT_EQ(t[3].addr, 0x105040ull);
    EXPECT_EQ(cw.pasid, 0x41u);
    EXPECT_EQ(cw.ctx.mode, IOMMU_MODE_FL);
    EXPECT_EQ(cw.ctx.did, 9);
    EXPECT_EQ(cw.ctx.fl_levels, 5);
    EXPECT_EQ(cw.ctx.fl_root, 0x300000ull);
    EXPECT_TRUE(cw.ctx.sre);
    EXPECT_TRUE(cw.ctx.nxe);
    EXPECT_FALSE(cw.ctx.ere);
    iommu_walk_params wp;
    iommu_ctx_walk_params(&cw.ctx, true, 46, true, false, true, cw.pasid, &wp);
    EXPECT_EQ(wp.format, IOMMU_PT_FIRST_LEVEL);
    EXPECT_EQ(wp.levels, 5);
    EXPECT_EQ(wp.root, 0x300000ull);
    EXPECT_EQ(wp.did, 9);
    EXPECT_EQ(wp.pasid, 0x41u);
    EXPECT_TRUE(wp.x_enabled);
    EXPECT_TRUE(wp.scalable);
    EXPECT_FALSE(wp.sl_1g);
}

TEST_F(ContextScalable, CachedContextStartsAtPasidDirectory)
{
    ASSERT_EQ(fetch(caps, SID_HI, 0x1234), IOMMU_WALK_DONE);
    const iommu_sm_ctx cached = cw.sm_ctx;
    std::vector<CtxRead> t;
    ASSERT_EQ(fetch(caps, SID_HI, 0x1234, &t, &cached), IOMMU_WALK_DONE);
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].addr, 0x103240ull);
    EXPECT_EQ(t[1].addr, 0x104D00ull);
    EXPECT_EQ(cw.ctx.did, 7);
}

TEST_F(ContextScalable, NestedAndPassThroughEntries)
{
    /* nested: AW 3 (5-level SL), FLPM 0, SLEE, NXE */
    pentry(0x104000 + 64 * 0x34, 0x200000 | 1 | (3 << 2) | (1 << 5) | (3 << 6), 3,
           0x7000 | (1 << 5));
    ASSERT_EQ(fetch(caps, SID_HI, 0x1234), IOMMU_WALK_DONE);
    EXPECT_EQ(cw.ctx.mode, IOMMU_MODE_NESTED);
    EXPECT_EQ(cw.ctx.sl_levels, 5);
    EXPECT_EQ(cw.ctx.fl_levels, 4);
    EXPECT_EQ(cw.ctx.fl_root, 0x7000ull);
    EXPECT_EQ(cw.ctx.sl_root, 0x200000ull);
    iommu_walk_params wp;
    iommu_ctx_walk_params(&cw.ctx, true, 46, true, true, true, 0x1234, &wp);
    EXPECT_TRUE(wp.nested);
    EXPECT_EQ(wp.sl_levels, 5);
    EXPECT_EQ(wp.sl_root, 0x200000ull);
    EXPECT_TRUE(wp.x_enabled);
    pentry(0x104000 + 64 * 0x34, 1 | (4 << 6), 3, 0);
    ASSERT_EQ(fetch(caps, SID_HI, 0x1234), IOMMU_WALK_DONE);
    EXPECT_EQ(cw.ctx.mode, IOMMU_MODE_PT);
    EXPECT_EQ(cw.ctx.did, 3);
}

TEST_F(ContextScalable, FaultReasonsScalableContext)
{
    auto code = [&](iommu_sid_t sid, iommu_pasid_t pasid, const iommu_ctx_params *p = nullptr) {
        EXPECT_EQ(fetch(p ? *p : caps, sid, pasid), IOMMU_WALK_FAULT);
        return cw.fault_reason;
    };
    iommu_ctx_params far = caps;
    far.rtaddr = 1ull << 46;
    EXPECT_EQ(code(SID_HI, 0x1234, &far), IOMMU_FR_SM_ROOT_ACCESS);
    EXPECT_EQ(code(IOMMU_SID(0x13, 0, 0), 0x1234), IOMMU_FR_SM_ROOT_NOT_PRESENT);
    root(0x101000, 0x102000 | 1); /* lower half not present */
    EXPECT_EQ(code(SID_LO, 0x1234), IOMMU_FR_SM_ROOT_NOT_PRESENT);
    root(0x101000 | 1, 0x102000 | 1 | 0x20); /* reserved bit 69 in the upper half */
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_ROOT_RESERVED);
    EXPECT_EQ(code(SID_LO, 0x1234), IOMMU_FR_SM_CTX_NOT_PRESENT); /* lower half is fine */
    root(0x101000 | 1, (1ull << 46) | 1);
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_CTX_ACCESS);
    root(0x101000 | 1, 0x102000 | 1);
    const uint64_t ce = 0x102000 + 32 * 0x1C;
    sm_ctx(ce, 0x103000 | 1 | 8 | 0x20, 0x41); /* reserved bit 5 */
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_CTX_RESERVED);
    sm_ctx(ce, 0x103000 | 1 | 8, 0x41, 1); /* reserved bit 128 */
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_CTX_RESERVED);
    iommu_ctx_params nodt = caps;
    nodt.dev_tlb = false;
    sm_ctx(ce, 0x103000 | 1 | 8 | 4, 0x41); /* DTE without ECAP.DT */
    EXPECT_EQ(code(SID_HI, 0x1234, &nodt), IOMMU_FR_SM_CTX_INVALID);
    sm_ctx(ce, 0x103000 | 1, 0x41); /* PASIDE = 0 */
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_CTX_PASIDE_CLEAR);
    EXPECT_EQ(fetch(caps, SID_HI, IOMMU_PASID_NONE), IOMMU_WALK_DONE); /* RID_PASID still ok */
    sm_ctx(ce, 0x103000 | 1 | 8, 0x41);
    EXPECT_EQ(code(SID_HI, 0x2000), IOMMU_FR_SM_CTX_PASID_BEYOND); /* index 0x80 >= 128 */
    sm_ctx(ce, (1ull << 46) | 1 | 8, 0x41);
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_PDIR_ACCESS);
    /* a 128 KB directory (PDTS 7) that would cross 2^46 */
    sm_ctx(ce, ((1ull << 46) - 0x1000) | 1 | 8 | (7 << 9), 0x41);
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_PDIR_ACCESS);
    sm_ctx(ce, 0x103000 | 1 | 8, 0x41);
    put(0x103000 + 8 * 0x48, 0);
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_PDIR_NOT_PRESENT);
    put(0x103000 + 8 * 0x48, 0x104000 | 1 | 4);
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_PDIR_RESERVED);
    put(0x103000 + 8 * 0x48, (1ull << 46) | 1);
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_PASID_ACCESS);
    put(0x103000 + 8 * 0x48, 0x104000 | 1);
    const uint64_t pe = 0x104000 + 64 * 0x34;
    pentry(pe, 0, 7, 0);
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_PASID_NOT_PRESENT);
    pentry(pe, 0x200000 | 1 | (2 << 2) | (2 << 6) | 0x400, 7, 0); /* bit 10 */
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_PASID_RESERVED);
    pentry(pe, 0x200000 | 1 | (2 << 2) | (2 << 6), 7, 0, 1); /* bit 192 */
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_PASID_RESERVED);
    pentry(pe, 0x200000 | 1 | (2 << 2) | (0 << 6), 7, 0); /* PGTT 0 */
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_PASID_INVALID);
    pentry(pe, 0x200000 | 1 | (2 << 2) | (5 << 6), 7, 0); /* PGTT 5 */
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_PASID_INVALID);
    pentry(pe, 0x200000 | 1 | (0 << 2) | (2 << 6), 7, 0); /* AW 0 */
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_PASID_INVALID);
    pentry(pe, 1 | (1 << 6), 7, 0x300000 | (2 << 2)); /* FLPM 2 */
    EXPECT_EQ(code(SID_HI, 0x1234), IOMMU_FR_SM_PASID_INVALID);
    iommu_ctx_params nofl5 = caps;
    nofl5.fl5 = false;
    pentry(pe, 1 | (1 << 6), 7, 0x300000 | (1 << 2)); /* 5-level without CAP.FL5LP */
    EXPECT_EQ(code(SID_HI, 0x1234, &nofl5), IOMMU_FR_SM_PASID_INVALID);
    iommu_ctx_params nofl = caps;
    nofl.fl = false;
    pentry(pe, 1 | (1 << 6), 7, 0x300000);
    EXPECT_EQ(code(SID_HI, 0x1234, &nofl), IOMMU_FR_SM_PASID_INVALID);
    iommu_ctx_params nonest = caps;
    nonest.nested = false;
    pentry(pe, 0x200000 | 1 | (2 << 2) | (3 << 6), 7, 0x300000);
    EXPECT_EQ(code(SID_HI, 0x1234, &nonest), IOMMU_FR_SM_PASID_INVALID);
    iommu_ctx_params nopt = caps;
    nopt.pt = false;
    pentry(pe, 1 | (4 << 6), 7, 0);
    EXPECT_EQ(code(SID_HI, 0x1234, &nopt), IOMMU_FR_SM_PASID_INVALID);
    iommu_ctx_params nosl = caps;
    nosl.sl = false;
    pentry(pe, 0x200000 | 1 | (2 << 2) | (2 << 6), 7, 0);
    EXPECT_EQ(code(SID_HI, 0x1234, &nosl), IOMMU_FR_SM_PASID_INVALID);
    EXPECT_EQ(fetch(caps, SID_HI, 0x1234), IOMMU_WALK_DONE);
}

TEST_F(ContextScalable, FaultFpdAlongThePath)
{
    /* FPD in the PASID directory entry, PASID-table entry not present */
    put(0x103000 + 8 * 0x48, 0x104000 | 1 | 2);
    pentry(0x104000 + 64 * 0x34, 0, 0, 0);
    EXPECT_EQ(fetch(caps, SID_HI, 0x1234), IOMMU_WALK_FAULT);
    EXPECT_EQ(cw.fault_reason, IOMMU_FR_SM_PASID_NOT_PRESENT);
    EXPECT_TRUE(cw.fault_fpd);
    /* FPD in the context entry reaches the decoded context */
    put(0x103000 + 8 * 0x48, 0x104000 | 1);
    pentry(0x104000 + 64 * 0x34, 0x200000 | 1 | (2 << 2) | (2 << 6), 7, 0);
    sm_ctx(0x102000 + 32 * 0x1C, 0x103000 | 1 | 2 | 8, 0x41);
    ASSERT_EQ(fetch(caps, SID_HI, 0x1234), IOMMU_WALK_DONE);
    EXPECT_TRUE(cw.ctx.fpd);
    EXPECT_TRUE(cw.sm_ctx.fpd);
    /* ... and FPD in the PASID-table entry alone */
    sm_ctx(0x102000 + 32 * 0x1C, 0x103000 | 1 | 8, 0x41);
    pentry(0x104000 + 64 * 0x34, 0x200000 | 1 | 2 | (2 << 2) | (2 << 6), 7, 0);
    ASSERT_EQ(fetch(caps, SID_HI, 0x1234), IOMMU_WALK_DONE);
    EXPECT_TRUE(cw.ctx.fpd);
}

TEST_F(ContextScalable, FaultReasonsScalableWalkAndRequests)
{
    /* SL PASID 0x1234 -> SLPTPTR 0x200000, 4 levels */
    const uint64_t iova = 0x0000001234567000ull;
    sl_tables(0x200000, 0x201000, iova, 0x0000000ABCDE0000ull);
    EXPECT_EQ(translate(caps, SID_HI, 0x1234, iova, R | W), 0);
    EXPECT_EQ(walk.pa, 0x0000000ABCDE0000ull);
    EXPECT_EQ(translate(caps, SID_HI, 0x1234, 1ull << 48, R), IOMMU_FR_SM_ADDR_BEYOND);
    EXPECT_EQ(translate(caps, SID_HI, 0x1234, iova + 0x1000, R), IOMMU_FR_SM_SL_NOT_PRESENT);
    put(0x203000 + 8 * iommu_vtd_pt_index(iova, 1), 0x0000000ABCDE0000ull | 1);
    EXPECT_EQ(translate(caps, SID_HI, 0x1234, iova, W), IOMMU_FR_SM_WRITE_DENIED);
    put(0x203000 + 8 * iommu_vtd_pt_index(iova, 1), 0x0000000ABCDE0000ull | 2);
    EXPECT_EQ(translate(caps, SID_HI, 0x1234, iova, R), IOMMU_FR_SM_READ_DENIED);
    pentry(0x104000 + 64 * 0x34, (1ull << 46) | 1 | (2 << 2) | (2 << 6), 7, 0);
    EXPECT_EQ(translate(caps, SID_HI, 0x1234, iova, R), IOMMU_FR_SM_SL_ROOT_INVALID);
    /* FL PASID 0x41 (RID_PASID): SRE = 1, ERE = 0 */
    EXPECT_EQ(translate(caps, SID_HI, IOMMU_PASID_NONE, 0x1000, R | X), IOMMU_FR_SM_PASID_ERE_CLEAR);
    EXPECT_EQ(translate(caps, SID_HI, IOMMU_PASID_NONE, 0x1000, R), IOMMU_FR_SM_FL_NOT_PRESENT);
    pentry(0x105000 + 64, 1 | (1 << 6), 9, 0x300000 | (1 << 2)); /* SRE = 0 */
    EXPECT_EQ(translate(caps, SID_HI, IOMMU_PASID_NONE, 0x1000, R | PRIV),
              IOMMU_FR_SM_PASID_SRE_CLEAR);
    EXPECT_EQ(translate(caps, SID_HI, IOMMU_PASID_NONE, 0x1000, R), IOMMU_FR_SM_FL_NOT_PRESENT);
    iommu_ctx x{};
    x.mode = IOMMU_MODE_SL;
    EXPECT_EQ(iommu_ctx_request_check(&x, true, R | X | PRIV), 0);
    x.mode = IOMMU_MODE_FL;
    EXPECT_EQ(iommu_ctx_request_check(&x, false, R | X | PRIV), 0);
    x.ere = true;
    EXPECT_EQ(iommu_ctx_request_check(&x, true, R | X | PRIV), IOMMU_FR_SM_PASID_SRE_CLEAR);
    x.sre = true;
    EXPECT_EQ(iommu_ctx_request_check(&x, true, R | X | PRIV), 0);
    (void)W;
}

} // namespace
