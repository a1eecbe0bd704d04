/*
 * test_host.cpp — the host table writer: configuration defaults and validation, exact table
 * placement from the bump allocator, attach/detach in legacy and scalable mode (SL, FL,
 * nested, pass-through), map/unmap with 4 KB / 2 MB / 1 GB pages, overlap, alignment and
 * address-width checks, identity (RMRR) maps, requester-id aliasing, and a differential
 * check of the walker (context fetch + walk over the host's tables) against the host's own
 * software translation.
 */
#include <gtest/gtest.h>

#include <random>

#include "model/walker/walker_drive.h"

extern "C" {
#include "host/host.h"
}

namespace {

constexpr uint8_t R = IOMMU_ACC_R, W = IOMMU_ACC_W, X = IOMMU_ACC_X, PRIV = IOMMU_ACC_PRIV;
constexpr uint64_t BASE = 0x0000000800000000ull; /* default table_base */
constexpr uint64_t F = 0x1000;

TEST(HostCfg, DefaultsAndValidateNamesKeys)
{
    iommu_host_cfg c;
    iommu_host_cfg_default(&c);
    EXPECT_FALSE(c.scalable);
    EXPECT_EQ(c.sl_levels, 4);
    EXPECT_EQ(c.fl_levels, 4);
    EXPECT_EQ(c.haw, 46);
    EXPECT_EQ(c.table_base, 0x0000000800000000ull);
    EXPECT_EQ(c.table_size, 0x0000000400000000ull);
    EXPECT_EQ(c.guest_table_base, 0x0000004000000000ull);
    const char *key = nullptr, *why = nullptr;
    EXPECT_EQ(iommu_host_cfg_validate(&c, &key, &why), IOMMU_OK);
    auto bad = [](void (*mod)(iommu_host_cfg &)) {
        iommu_host_cfg c;
        iommu_host_cfg_default(&c);
        mod(c);
        const char *key = nullptr, *why = nullptr;
        EXPECT_EQ(iommu_host_cfg_validate(&c, &key, &why), IOMMU_ERR_INVAL);
        EXPECT_NE(why, nullptr);
        return std::string(key ? key : "");
    };
    EXPECT_EQ(bad([](iommu_host_cfg &c) { c.sl_levels = 2; }), "host.sl_levels");
    EXPECT_EQ(bad([](iommu_host_cfg &c) { c.sl_levels = 6; }), "host.sl_levels");
    EXPECT_EQ(bad([](iommu_host_cfg &c) { c.fl_levels = 3; }), "host.fl_levels");
    EXPECT_EQ(bad([](iommu_host_cfg &c) { c.haw = 53; }), "host.haw");
    EXPECT_EQ(bad([](iommu_host_cfg &c) { c.haw = 31; }), "host.haw");
    EXPECT_EQ(bad([](iommu_host_cfg &c) { c.table_base = 0x1234; }), "host.table_base");
    EXPECT_EQ(bad([](iommu_host_cfg &c) { c.table_base = 1ull << 46; }), "host.table_base");
    EXPECT_EQ(bad([](iommu_host_cfg &c) { c.table_base = 0xFE000000; }), "host.table_base");
    EXPECT_EQ(bad([](iommu_host_cfg &c) { c.table_size = 0x800; }), "host.table_size");
    EXPECT_EQ(bad([](iommu_host_cfg &c) { c.table_size = 1ull << 46; }), "host.table_size");
    EXPECT_EQ(bad([](iommu_host_cfg &c) { c.guest_table_base = 0x10; }), "host.guest_table_base");
    EXPECT_EQ(bad([](iommu_host_cfg &c) {
                  c.sl_levels = 3;
                  c.guest_table_base = 1ull << 39;
              }),
              "host.guest_table_base");
    iommu_physmem_t *mem = iommu_physmem_create();
    c.haw = 60;
    EXPECT_EQ(iommu_host_create(&c, mem), nullptr);
    iommu_host_destroy(nullptr);
    iommu_physmem_destroy(mem);
}

class HostTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        mem = iommu_physmem_create();
        iommu_host_cfg_default(&cfg);
    }
    void TearDown() override
    {
        iommu_host_destroy(h);
        iommu_physmem_destroy(mem);
    }
    void make()
    {
        h = iommu_host_create(&cfg, mem);
        ASSERT_NE(h, nullptr);
    }
    iommu_ctx_params caps() const
    {
        iommu_ctx_params p = full_caps(iommu_host_rtaddr(h), cfg.scalable);
        p.haw = cfg.haw;
        return p;
    }
    /* Context fetch + walk as the IOMMU would do for a DMA from `sid`; returns the fault
     * reason (0 = translated, result in w). */
    uint8_t dma(iommu_sid_t sid, iommu_pasid_t pasid, uint64_t iova, uint8_t access,
                std::vector<WalkRead> *t = nullptr, std::vector<CtxRead> *ct = nullptr)
    {
        const iommu_ctx_params p = caps();
        if (run_ctx(mem, &cw, p, sid, pasid, nullptr, ct) != IOMMU_WALK_DONE)
            return cw.fault_reason;
        if (uint8_t r = iommu_ctx_request_check(&cw.ctx, p.scalable, access))
            return r;
        if (cw.ctx.mode == IOMMU_MODE_PT) {
            w.pa = iova;
            w.page_shift = 12;
            return 0;
        }
        iommu_walk_params wp;
        iommu_ctx_walk_params(&cw.ctx, p.scalable, p.haw, true, true, true, cw.pasid, &wp);
        return run_walk(mem, &w, wp, nullptr, iova, access, t) == IOMMU_WALK_DONE
                   ? 0
                   : w.fault_reason;
    }
    uint64_t rd(uint64_t pa) { return iommu_physmem_read64(mem, pa); }
    iommu_physmem_t *mem = nullptr;
    iommu_host_cfg cfg{};
    iommu_host_t *h = nullptr;
    iommu_ctxwalk cw{};
    iommu_walk w{};
};

const iommu_sid_t DEV = IOMMU_SID(3, 0, 0);

/* ---- legacy mode ---------------------------------------------------------------------- */

TEST_F(HostTest, HostLegacyAttachWritesRootAndContextBitExact)
{
    make();
    EXPECT_EQ(iommu_host_rtaddr(h), BASE);
    EXPECT_EQ(iommu_host_table_bytes(h), F); /* the root table */
    ASSERT_EQ(iommu_host_attach(h, IOMMU_SID(3, 2, 1), IOMMU_PASID_NONE, 5, IOMMU_MODE_SL),
              IOMMU_OK);
    /* frames: root, SL root of domain 5, context table of bus 3 */
    EXPECT_EQ(iommu_host_table_bytes(h), 3 * F);
    EXPECT_EQ(rd(BASE + 16 * 3), (BASE + 2 * F) | 1);
    EXPECT_EQ(rd(BASE + 16 * 3 + 8), 0ull);
    const uint64_t ce = BASE + 2 * F + 16 * ((2 << 3) | 1);
    EXPECT_EQ(rd(ce), (BASE + F) | 1);   /* P, TT = 0, SLPTPTR */
    EXPECT_EQ(rd(ce + 8), 0x0502ull);    /* DID 5, AW 2 (48-bit) */
    std::vector<CtxRead> ct;
    EXPECT_EQ(dma(IOMMU_SID(3, 2, 1), IOMMU_PASID_NONE, 0x1000, R, nullptr, &ct), 0x6);
    ASSERT_EQ(ct.size(), 2u);
    EXPECT_EQ(ct[0].addr, BASE + 0x30);
    EXPECT_EQ(ct[1].addr, ce);
    EXPECT_EQ(cw.ctx.did, 5);
    EXPECT_EQ(cw.ctx.sl_root, BASE + F);
    EXPECT_EQ(cw.ctx.sl_levels, 4);
}

TEST_F(HostTest, HostLegacyMapAndWalk4K)
{
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 1, 0x1234000, 0xABC000, 0x2000, R | W, 12, 0), IOMMU_OK);
    /* 3 new tables (levels 3, 2, 1) */
    EXPECT_EQ(iommu_host_table_bytes(h), 6 * F);
    std::vector<WalkRead> t;
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x1234567, R | W, &t), 0);
    EXPECT_EQ(w.pa, 0xABC567ull);
    EXPECT_EQ(w.page_shift, 12);
    ASSERT_EQ(t.size(), 4u);
    EXPECT_EQ(t[0].addr, BASE + F);                  /* SL root, index 0 */
    EXPECT_EQ(t[1].addr, BASE + 3 * F);              /* level-3 table, index 0 */
    EXPECT_EQ(t[2].addr, BASE + 4 * F + 8 * 9);      /* level-2 table, index 9 */
    EXPECT_EQ(t[3].addr, BASE + 5 * F + 8 * 0x34);   /* level-1 table, index 0x34 */
    EXPECT_EQ(rd(BASE + 5 * F + 8 * 0x34), 0xABC003ull); /* R | W leaf */
    EXPECT_EQ(rd(BASE + 3 * F), (BASE + 4 * F) | 7);     /* non-leaf: R | W | X */
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x1235FFF, W), 0);
    EXPECT_EQ(w.pa, 0xABDFFFull);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x1236000, R), 0x6); /* unmapped */
    ASSERT_EQ(iommu_host_map(h, 1, 0x5000, 0x9000, 0x1000, R, 12, 0), IOMMU_OK);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x5000, W), 0x5);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x5000, R), 0);
    uint64_t pa;
    iommu_perm_t perm;
    unsigned shift;
    ASSERT_EQ(iommu_host_translate(h, 1, 0x1234567, 0, &pa, &perm, &shift), IOMMU_OK);
    EXPECT_EQ(pa, 0xABC567ull);
    EXPECT_EQ(perm, R | W);
    EXPECT_EQ(shift, 12u);
}

TEST_F(HostTest, HostLegacyLargePages)
{
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 1, 0x40000000, 0x80000000, 0x400000, R | W, 21, 0), IOMMU_OK);
    std::vector<WalkRead> t;
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x40312345, R, &t), 0);
    EXPECT_EQ(w.pa, 0x80312345ull);
    EXPECT_EQ(w.page_shift, 21);
    EXPECT_EQ(t.size(), 3u);
    ASSERT_EQ(iommu_host_map(h, 1, 0x8000000000ull, 0x140000000ull, 0x40000000, R, 30, 0),
              IOMMU_OK);
    t.clear();
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x8012345678ull, R, &t), 0);
    EXPECT_EQ(w.pa, 0x152345678ull);
    EXPECT_EQ(w.page_shift, 30);
    EXPECT_EQ(t.size(), 2u);
}

TEST_F(HostTest, HostLegacyOverlapChangesNothing)
{
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 1, 0x40000000, 0x80000000, 0x200000, R | W, 21, 0), IOMMU_OK);
    const uint64_t bytes = iommu_host_table_bytes(h);
    /* a 4 KB page inside an existing 2 MB mapping */
    EXPECT_EQ(iommu_host_map(h, 1, 0x40001000, 0x1000, 0x1000, R, 12, 0), IOMMU_ERR_OVERLAP);
    EXPECT_EQ(iommu_host_table_bytes(h), bytes);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x40001000, W), 0);
    EXPECT_EQ(w.pa, 0x80001000ull);
    /* a 1 GB page over it */
    EXPECT_EQ(iommu_host_map(h, 1, 0, 0, 0x40000000ull * 2, R, 30, 0), IOMMU_ERR_OVERLAP);
    /* a range whose last page overlaps: the first pages must not be mapped either */
    ASSERT_EQ(iommu_host_map(h, 1, 0x10003000, 0x3000, 0x1000, R, 12, 0), IOMMU_OK);
    EXPECT_EQ(iommu_host_map(h, 1, 0x10000000, 0x7000000, 0x4000, R, 12, 0), IOMMU_ERR_OVERLAP);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x10000000, R), 0x6);
    /* a 2 MB page over a 4 KB page; allowed again once the 4 KB page is unmapped */
    EXPECT_EQ(iommu_host_map(h, 1, 0x10000000, 0x200000, 0x200000, R, 21, 0), IOMMU_ERR_OVERLAP);
    uint64_t n = 0;
    ASSERT_EQ(iommu_host_unmap(h, 1, 0x10003000, 0x1000, 0, &n), IOMMU_OK);
    EXPECT_EQ(n, 0x1000ull);
    ASSERT_EQ(iommu_host_map(h, 1, 0x10000000, 0x200000, 0x200000, R, 21, 0), IOMMU_OK);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x10003000, R), 0);
    EXPECT_EQ(w.pa, 0x203000ull);
    EXPECT_EQ(w.page_shift, 21);
}

TEST_F(HostTest, HostLegacyAlignmentWidthAndArgumentChecks)
{
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    EXPECT_EQ(iommu_host_map(h, 1, 0x1800, 0x2000, 0x1000, R, 12, 0), IOMMU_ERR_ALIGN);
    EXPECT_EQ(iommu_host_map(h, 1, 0x1000, 0x2800, 0x1000, R, 12, 0), IOMMU_ERR_ALIGN);
    EXPECT_EQ(iommu_host_map(h, 1, 0x1000, 0x2000, 0x1800, R, 12, 0), IOMMU_ERR_ALIGN);
    EXPECT_EQ(iommu_host_map(h, 1, 0x100000, 0x200000, 0x200000, R, 21, 0), IOMMU_ERR_ALIGN);
    EXPECT_EQ(iommu_host_map(h, 1, 0x1000, 0x2000, 0x1000, R, 13, 0), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_host_map(h, 1, 0x1000, 0x2000, 0, R, 12, 0), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_host_map(h, 1, 0x1000, 0x2000, 0x1000, 0, 12, 0), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_host_map(h, 1, 0x1000, 1ull << 46, 0x1000, R, 12, 0), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_host_map(h, 1, 0x1000, (1ull << 46) - 0x1000, 0x2000, R, 12, 0),
              IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_host_map(h, 1, 1ull << 48, 0x2000, 0x1000, R, 12, 0), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_host_map(h, 1, 0x1000, 0x2000, 0x1000, R, 12, 1), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_host_map(h, 1, 0x1000, 0x2000, 0x1000, R, 12, 3), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_host_map(h, 9, 0x1000, 0x2000, 0x1000, R, 12, 0), IOMMU_ERR_NOTFOUND);
    EXPECT_EQ(iommu_host_map(h, 1, (1ull << 48) - 0x1000, (1ull << 46) - 0x1000, 0x1000, R, 12, 0),
              IOMMU_OK);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, (1ull << 48) - 1, R), 0);
    EXPECT_EQ(w.pa, (1ull << 46) - 1);
    uint64_t pa;
    iommu_perm_t perm;
    unsigned shift;
    EXPECT_EQ(iommu_host_translate(h, 1, (1ull << 48) - 1, 0, &pa, &perm, &shift), IOMMU_OK);
    EXPECT_EQ(pa, (1ull << 46) - 1);
    /* beyond the width the index bits would wrap onto the same entry: not a translation */
    EXPECT_EQ(iommu_host_translate(h, 1, (2ull << 48) - 1, 0, &pa, &perm, &shift),
              IOMMU_ERR_NOTFOUND);
    EXPECT_EQ(iommu_host_translate(h, 1, 0x1000, 1, &pa, &perm, &shift), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_host_translate(h, 1, 0x1000, 3, &pa, &perm, &shift), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_host_translate(h, 77, 0x1000, 0, &pa, &perm, &shift), IOMMU_ERR_NOTFOUND);
    /* pass-through domains have no tables to map into */
    ASSERT_EQ(iommu_host_attach(h, IOMMU_SID(3, 1, 0), IOMMU_PASID_NONE, 2, IOMMU_MODE_PT),
              IOMMU_OK);
    EXPECT_EQ(iommu_host_map(h, 2, 0x1000, 0x2000, 0x1000, R, 12, 0), IOMMU_ERR_INVAL);
    EXPECT_EQ(dma(IOMMU_SID(3, 1, 0), IOMMU_PASID_NONE, 0x123456789ull, R), 0);
    EXPECT_EQ(cw.ctx.mode, IOMMU_MODE_PT);
    EXPECT_EQ(w.pa, 0x123456789ull);
}

TEST_F(HostTest, HostLegacyUnmap)
{
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 1, 0x100000, 0x500000, 0x4000, R | W, 12, 0), IOMMU_OK);
    uint64_t n = 99;
    ASSERT_EQ(iommu_host_unmap(h, 1, 0x101000, 0x2000, 0, &n), IOMMU_OK);
    EXPECT_EQ(n, 0x2000ull);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x100000, R), 0);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x101000, R), 0x6);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x102000, W), 0x5);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x103000, R), 0);
    EXPECT_EQ(iommu_host_unmap(h, 1, 0x101000, 0x2000, 0, &n), IOMMU_ERR_NOTFOUND);
    EXPECT_EQ(n, 0ull);
    EXPECT_EQ(iommu_host_unmap(h, 1, 0x7000000000ull, 0x1000000000ull, 0, &n), IOMMU_ERR_NOTFOUND);
    /* a range covering mapped and unmapped pages unmaps what is there */
    ASSERT_EQ(iommu_host_unmap(h, 1, 0x0, 0x200000, 0, &n), IOMMU_OK);
    EXPECT_EQ(n, 0x2000ull);
    /* part of a 2 MB page: refused, nothing changed */
    ASSERT_EQ(iommu_host_map(h, 1, 0x40000000, 0x80000000, 0x200000, R, 21, 0), IOMMU_OK);
    EXPECT_EQ(iommu_host_unmap(h, 1, 0x40000000, 0x1000, 0, &n), IOMMU_ERR_ALIGN);
    EXPECT_EQ(iommu_host_unmap(h, 1, 0x3FF00000, 0x200000, 0, &n), IOMMU_ERR_ALIGN);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x40000000, R), 0);
    ASSERT_EQ(iommu_host_unmap(h, 1, 0x40000000, 0x200000, 0, &n), IOMMU_OK);
    EXPECT_EQ(n, 0x200000ull);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x40000000, R), 0x6);
    EXPECT_EQ(iommu_host_unmap(h, 1, 0x1800, 0x1000, 0, &n), IOMMU_ERR_ALIGN);
    EXPECT_EQ(iommu_host_unmap(h, 1, 0x1000, 0, 0, &n), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_host_unmap(h, 7, 0x1000, 0x1000, 0, &n), IOMMU_ERR_NOTFOUND);
}

TEST_F(HostTest, HostLegacyIdentityMap)
{
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    ASSERT_EQ(iommu_host_map_identity(h, 1, 0xE0000, 0x20000), IOMMU_OK);
    for (uint64_t a = 0xE0000; a < 0x100000; a += 0x1000) {
        ASSERT_EQ(dma(DEV, IOMMU_PASID_NONE, a + 0x10, R | W), 0);
        EXPECT_EQ(w.pa, a + 0x10);
        EXPECT_EQ(w.page_shift, 12);
    }
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x100000, R), 0x6);
    EXPECT_EQ(iommu_host_map_identity(h, 1, 0xF0000, 0x1000), IOMMU_ERR_OVERLAP);
    EXPECT_EQ(iommu_host_map_identity(h, 1, 0xF0800, 0x1000), IOMMU_ERR_ALIGN);
    EXPECT_EQ(iommu_host_map_identity(h, 4, 0xF0000, 0x1000), IOMMU_ERR_NOTFOUND);
}

TEST_F(HostTest, HostLegacyAttachDetachRules)
{
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 1, 0x1000, 0x2000, 0x1000, R, 12, 0), IOMMU_OK);
    EXPECT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_ERR_EXISTS);
    EXPECT_EQ(iommu_host_attach(h, IOMMU_SID(3, 0, 1), IOMMU_PASID_NONE, 1, IOMMU_MODE_PT),
              IOMMU_ERR_INVAL); /* domain 1 is SL */
    EXPECT_EQ(iommu_host_attach(h, IOMMU_SID(3, 0, 1), IOMMU_PASID_NONE, 2, IOMMU_MODE_FL),
              IOMMU_ERR_UNSUPP);
    EXPECT_EQ(iommu_host_attach(h, IOMMU_SID(3, 0, 1), 4, 2, IOMMU_MODE_SL), IOMMU_ERR_UNSUPP);
    EXPECT_EQ(iommu_host_attach(h, IOMMU_SID(3, 0, 1), IOMMU_PASID_NONE, 2, 9), IOMMU_ERR_INVAL);
    /* a second device of the same domain shares its tables */
    const uint64_t bytes = iommu_host_table_bytes(h);
    ASSERT_EQ(iommu_host_attach(h, IOMMU_SID(3, 0, 1), IOMMU_PASID_NONE, 1, IOMMU_MODE_SL),
              IOMMU_OK);
    EXPECT_EQ(iommu_host_table_bytes(h), bytes);
    EXPECT_EQ(dma(IOMMU_SID(3, 0, 1), IOMMU_PASID_NONE, 0x1000, R), 0);
    EXPECT_EQ(w.pa, 0x2000ull);
    ASSERT_EQ(iommu_host_detach(h, DEV, IOMMU_PASID_NONE), IOMMU_OK);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x1000, R), 0x2);
    EXPECT_EQ(rd(BASE + 2 * F + 16 * 0), 0ull); /* context entry cleared */
    EXPECT_EQ(rd(BASE + 2 * F + 8), 0ull);
    EXPECT_EQ(iommu_host_detach(h, DEV, IOMMU_PASID_NONE), IOMMU_ERR_NOTFOUND);
    EXPECT_EQ(dma(IOMMU_SID(3, 0, 1), IOMMU_PASID_NONE, 0x1000, R), 0);
    /* re-attach: the domain and its mappings survived */
    ASSERT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x1000, R), 0);
    /* explicit domain creation */
    EXPECT_EQ(iommu_host_domain_create(h, 1, IOMMU_MODE_SL), IOMMU_ERR_EXISTS);
    EXPECT_EQ(iommu_host_domain_create(h, 3, IOMMU_MODE_NESTED), IOMMU_ERR_UNSUPP);
    ASSERT_EQ(iommu_host_domain_create(h, 3, IOMMU_MODE_SL), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 3, 0x1000, 0x7000, 0x1000, R, 12, 0), IOMMU_OK);
    ASSERT_EQ(iommu_host_attach(h, IOMMU_SID(4, 0, 0), IOMMU_PASID_NONE, 3, IOMMU_MODE_SL),
              IOMMU_OK);
    EXPECT_EQ(dma(IOMMU_SID(4, 0, 0), IOMMU_PASID_NONE, 0x1000, R), 0);
    EXPECT_EQ(w.pa, 0x7000ull);
}

TEST_F(HostTest, HostLegacyRequesterIdAliasing)
{
    make();
    const iommu_sid_t bridge = IOMMU_SID(4, 0, 0);
    const iommu_sid_t a = IOMMU_SID(5, 1, 0), b = IOMMU_SID(5, 2, 0);
    EXPECT_EQ(iommu_host_requester_id(h, a), a);
    ASSERT_EQ(iommu_host_set_alias(h, a, bridge), IOMMU_OK);
    ASSERT_EQ(iommu_host_set_alias(h, b, bridge), IOMMU_OK);
    EXPECT_EQ(iommu_host_requester_id(h, a), bridge);
    EXPECT_EQ(iommu_host_requester_id(h, b), bridge);
    ASSERT_EQ(iommu_host_attach(h, a, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 1, 0x3000, 0x8000, 0x1000, R | W, 12, 0), IOMMU_OK);
    /* The IOMMU sees the bridge's id: its context entry exists, device a's does not. */
    EXPECT_EQ(dma(iommu_host_requester_id(h, a), IOMMU_PASID_NONE, 0x3000, R), 0);
    EXPECT_EQ(w.pa, 0x8000ull);
    EXPECT_EQ(dma(a, IOMMU_PASID_NONE, 0x3000, R), 0x1); /* bus 5 has no root entry */
    EXPECT_EQ(iommu_host_set_alias(h, a, a), IOMMU_ERR_INVAL); /* attached */
    /* b shares the bridge's context entry: same domain only */
    EXPECT_EQ(iommu_host_attach(h, b, IOMMU_PASID_NONE, 2, IOMMU_MODE_SL), IOMMU_ERR_EXISTS);
    const uint64_t bytes = iommu_host_table_bytes(h);
    ASSERT_EQ(iommu_host_attach(h, b, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    EXPECT_EQ(iommu_host_table_bytes(h), bytes);
    ASSERT_EQ(iommu_host_detach(h, a, IOMMU_PASID_NONE), IOMMU_OK);
    EXPECT_EQ(dma(bridge, IOMMU_PASID_NONE, 0x3000, R), 0); /* still used by b */
    ASSERT_EQ(iommu_host_detach(h, b, IOMMU_PASID_NONE), IOMMU_OK);
    EXPECT_EQ(dma(bridge, IOMMU_PASID_NONE, 0x3000, R), 0x2);
    ASSERT_EQ(iommu_host_set_alias(h, a, a), IOMMU_OK); /* alias removed once detached */
    EXPECT_EQ(iommu_host_requester_id(h, a), a);
}

TEST_F(HostTest, HostLegacyThreeAndFiveLevels)
{
    cfg.sl_levels = 3;
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    EXPECT_EQ(iommu_host_map(h, 1, 1ull << 39, 0x1000, 0x1000, R, 12, 0), IOMMU_ERR_INVAL);
    ASSERT_EQ(iommu_host_map(h, 1, (1ull << 39) - 0x1000, 0x1000, 0x1000, R, 12, 0), IOMMU_OK);
    std::vector<WalkRead> t;
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, (1ull << 39) - 0x1000, R, &t), 0);
    EXPECT_EQ(t.size(), 3u);
    EXPECT_EQ(t[0].level, 3);
    EXPECT_EQ(cw.ctx.sl_levels, 3);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 1ull << 39, R), 0x4);
    iommu_host_destroy(h);
    iommu_physmem_destroy(mem);
    mem = iommu_physmem_create();
    cfg.sl_levels = 5;
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 1, 0x00ABCDEF01234000ull, 0x1000, 0x1000, R, 12, 0), IOMMU_OK);
    t.clear();
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x00ABCDEF01234567ull, R, &t), 0);
    EXPECT_EQ(t.size(), 5u);
    EXPECT_EQ(w.pa, 0x1567ull);
    EXPECT_EQ(cw.ctx.sl_levels, 5);
}

TEST_F(HostTest, HostTableRegionExhaustion)
{
    cfg.table_size = 64 * 1024; /* 16 frames */
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    enum iommu_status st = IOMMU_OK;
    uint64_t iova = 0;
    for (int i = 0; i < 64 && st == IOMMU_OK; i++, iova += 1ull << 30)
        st = iommu_host_map(h, 1, iova, 0x1000, 0x1000, R, 12, 0);
    EXPECT_EQ(st, IOMMU_ERR_NOMEM);
    EXPECT_EQ(iommu_host_table_bytes(h), 64 * 1024ull);
}

/* ---- scalable mode --------------------------------------------------------------------- */

TEST_F(HostTest, HostScalableSecondLevelExactLayout)
{
    cfg.scalable = true;
    make();
    const iommu_sid_t sid = IOMMU_SID(2, 17, 3); /* devfn 0x8B: upper half */
    ASSERT_EQ(iommu_host_attach(h, sid, IOMMU_PASID_NONE, 6, IOMMU_MODE_SL), IOMMU_OK);
    /* frames: root, SL root (1), context table (2), PASID directory (3..34), PASID table (35) */
    EXPECT_EQ(iommu_host_table_bytes(h), 36 * F);
    EXPECT_EQ(rd(BASE + 16 * 2), 0ull);                  /* lower half absent */
    EXPECT_EQ(rd(BASE + 16 * 2 + 8), (BASE + 2 * F) | 1); /* UP, UCTP */
    const uint64_t ce = BASE + 2 * F + 32 * (0x8B - 128);
    EXPECT_EQ(rd(ce), (BASE + 3 * F) | 1 | 8 | (7 << 9)); /* P, PASIDE, PDTS 7, dir */
    EXPECT_EQ(rd(ce + 8), 0ull);                          /* RID_PASID 0 */
    EXPECT_EQ(rd(BASE + 3 * F), (BASE + 35 * F) | 1);     /* dir entry 0 */
    const uint64_t pe = BASE + 35 * F;
    EXPECT_EQ(rd(pe), (BASE + F) | 1 | (2 << 2) | (1 << 5) | (2 << 6)); /* P AW=2 SLEE PGTT=2 */
    EXPECT_EQ(rd(pe + 8), 6ull);                                          /* DID */
    EXPECT_EQ(rd(pe + 16), 1ull);                                         /* SRE */
    ASSERT_EQ(iommu_host_map(h, 6, 0x7000, 0x9000, 0x1000, R | W, 12, 0), IOMMU_OK);
    std::vector<CtxRead> ct;
    EXPECT_EQ(dma(sid, IOMMU_PASID_NONE, 0x7123, W, nullptr, &ct), 0);
    EXPECT_EQ(w.pa, 0x9123ull);
    ASSERT_EQ(ct.size(), 4u);
    EXPECT_EQ(ct[0].addr, BASE + 0x20);
    EXPECT_EQ(ct[1].addr, ce);
    EXPECT_EQ(ct[2].addr, BASE + 3 * F);
    EXPECT_EQ(ct[3].addr, pe);
    EXPECT_EQ(cw.ctx.mode, IOMMU_MODE_SL);
    EXPECT_EQ(cw.ctx.did, 6);
    EXPECT_EQ(cw.pasid, 0u);
    /* a PASID of the same device gets its own PASID-table entry */
    EXPECT_EQ(iommu_host_table_bytes(h), 39 * F); /* + SL levels 3, 2, 1 (36..38) */
    ASSERT_EQ(iommu_host_attach(h, sid, 0x1234, 6, IOMMU_MODE_SL), IOMMU_OK);
    EXPECT_EQ(iommu_host_table_bytes(h), 40 * F);
    EXPECT_EQ(rd(BASE + 3 * F + 8 * 0x48), (BASE + 39 * F) | 1);
    EXPECT_EQ(dma(sid, 0x1234, 0x7000, R), 0);
    EXPECT_EQ(w.pa, 0x9000ull);
    /* detach clears the PASID-table entry only */
    ASSERT_EQ(iommu_host_detach(h, sid, 0x1234), IOMMU_OK);
    EXPECT_EQ(dma(sid, 0x1234, 0x7000, R), IOMMU_FR_SM_PASID_NOT_PRESENT);
    EXPECT_EQ(dma(sid, IOMMU_PASID_NONE, 0x7000, R), 0);
    EXPECT_EQ(dma(sid, IOMMU_PASID_NONE, 0x8000, R), IOMMU_FR_SM_SL_NOT_PRESENT);
    EXPECT_EQ(iommu_host_attach(h, sid, IOMMU_PASID_MAX + 1, 6, IOMMU_MODE_SL), IOMMU_ERR_INVAL);
}

TEST_F(HostTest, HostScalableFirstLevel)
{
    cfg.scalable = true;
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, 3, 8, IOMMU_MODE_FL), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 8, 0x7F0000000000ull, 0x40000, 0x2000, R | W, 12, 0), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 8, 0x10000, 0x50000, 0x1000, R, 12, 0), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 8, 0x20000, 0x60000, 0x1000, R | W | PRIV, 12, 0), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 8, 0x200000, 0x800000, 0x200000, R | W, 21, 0), IOMMU_OK);
    std::vector<WalkRead> t;
    EXPECT_EQ(dma(DEV, 3, 0x7F0000001234ull, W, &t), 0);
    EXPECT_EQ(cw.ctx.mode, IOMMU_MODE_FL);
    EXPECT_EQ(cw.ctx.fl_levels, 4);
    EXPECT_TRUE(cw.ctx.nxe);
    EXPECT_EQ(w.pa, 0x41234ull);
    EXPECT_EQ(t.size(), 4u);
    EXPECT_EQ(t[0].kind, IOMMU_READ_FL_PTE);
    EXPECT_EQ(w.perm, R | W); /* XD set on a map without X, NXE = 1 */
    EXPECT_EQ(dma(DEV, 3, 0x10000, W), IOMMU_FR_SM_WRITE_DENIED);
    EXPECT_EQ(dma(DEV, 3, 0x20000, R), IOMMU_FR_SM_USER_SUPERVISOR);
    EXPECT_EQ(dma(DEV, 3, 0x20000, R | W | PRIV), 0);
    EXPECT_EQ(dma(DEV, 3, 0x10000, R | X), IOMMU_FR_SM_PASID_ERE_CLEAR);
    EXPECT_EQ(dma(DEV, 3, 0x2ABCDE, R), 0);
    EXPECT_EQ(w.pa, 0x8ABCDEull);
    EXPECT_EQ(w.page_shift, 21);
    EXPECT_EQ(dma(DEV, 3, 0x30000, R), IOMMU_FR_SM_FL_NOT_PRESENT);
    /* the first level maps the lower canonical half only */
    EXPECT_EQ(iommu_host_map(h, 8, 1ull << 47, 0x1000, 0x1000, R, 12, 0), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_host_map(h, 8, 0x1000, 0x1000, 0x1000, R, 12, 2), IOMMU_ERR_INVAL);
    /* the same domain cannot be attached in another mode; FL in legacy is unsupported */
    EXPECT_EQ(iommu_host_attach(h, DEV, 4, 8, IOMMU_MODE_SL), IOMMU_ERR_INVAL);
}

TEST_F(HostTest, HostScalableFiveLevelFirstLevel)
{
    cfg.scalable = true;
    cfg.fl_levels = 5;
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 8, IOMMU_MODE_FL), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 8, 0x00ABCDEF01234000ull, 0x1000, 0x1000, R, 12, 0), IOMMU_OK);
    std::vector<WalkRead> t;
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0x00ABCDEF01234567ull, R, &t), 0);
    EXPECT_EQ(cw.ctx.fl_levels, 5);
    EXPECT_EQ(t.size(), 5u);
    EXPECT_EQ(w.pa, 0x1567ull);
}

TEST_F(HostTest, HostScalableNestedColdWalkIs24Reads)
{
    cfg.scalable = true;
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, 9, 4, IOMMU_MODE_NESTED), IOMMU_OK);
    /* The first-level root lives at the first guest table GPA and is SL-mapped. */
    uint64_t pa;
    iommu_perm_t perm;
    unsigned shift;
    ASSERT_EQ(iommu_host_translate(h, 4, cfg.guest_table_base, 2, &pa, &perm, &shift), IOMMU_OK);
    EXPECT_EQ(perm, R | W);
    /* guest: IOVA 0x7F1234567000 -> GPA 0x5000; host: GPA 0x5000 -> HPA 0x900000 */
    ASSERT_EQ(iommu_host_map(h, 4, 0x7F1234567000ull, 0x5000, 0x1000, R | W, 12, 1), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(h, 4, 0x5000, 0x900000, 0x1000, R | W, 12, 2), IOMMU_OK);
    std::vector<WalkRead> t;
    ASSERT_EQ(dma(DEV, 9, 0x7F1234567123ull, R | W, &t), 0);
    EXPECT_EQ(cw.ctx.mode, IOMMU_MODE_NESTED);
    EXPECT_EQ(cw.ctx.fl_root, cfg.guest_table_base);
    EXPECT_EQ(w.pa, 0x900123ull);
    ASSERT_EQ(t.size(), 24u);
    for (unsigned i = 0; i < 24; i++) {
        const bool fl = i % 5 == 4 && i < 20;
        EXPECT_EQ(t[i].kind, fl ? IOMMU_READ_FL_PTE : IOMMU_READ_SL_PTE) << i;
        EXPECT_EQ(t[i].level, fl ? 4 - i / 5 : 4 - i % 5) << i;
    }
    EXPECT_EQ(t[4].addr, pa + 8 * 0xFE); /* FL root (HPA of guest_table_base) index 0xFE */
    ASSERT_EQ(iommu_host_translate(h, 4, 0x7F1234567123ull, 0, &pa, &perm, &shift), IOMMU_OK);
    EXPECT_EQ(pa, 0x900123ull);
    EXPECT_EQ(perm, R | W);
    ASSERT_EQ(iommu_host_translate(h, 4, 0x7F1234567123ull, 1, &pa, &perm, &shift), IOMMU_OK);
    EXPECT_EQ(pa, 0x5123ull);
    /* rules: stage 0 is ambiguous for nested; GPA of guest tables is taken */
    EXPECT_EQ(iommu_host_map(h, 4, 0x6000, 0x6000, 0x1000, R, 12, 0), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_host_map(h, 4, cfg.guest_table_base, 0x6000, 0x1000, R, 12, 2),
              IOMMU_ERR_OVERLAP);
    EXPECT_EQ(iommu_host_map(h, 4, 0x1000, 1ull << 48, 0x1000, R, 12, 1), IOMMU_ERR_INVAL);
    /* unmapping the second stage makes the final GPA fault */
    uint64_t n;
    ASSERT_EQ(iommu_host_unmap(h, 4, 0x5000, 0x1000, 2, &n), IOMMU_OK);
    EXPECT_EQ(dma(DEV, 9, 0x7F1234567123ull, R), IOMMU_FR_SM_SL_NOT_PRESENT);
    ASSERT_EQ(iommu_host_unmap(h, 4, 0x7F1234567000ull, 0x1000, 1, &n), IOMMU_OK);
    EXPECT_EQ(dma(DEV, 9, 0x7F1234567123ull, R), IOMMU_FR_SM_FL_NOT_PRESENT);
    /* identity in both stages */
    ASSERT_EQ(iommu_host_map_identity(h, 4, 0xE0000, 0x2000), IOMMU_OK);
    EXPECT_EQ(dma(DEV, 9, 0xE1234, R | W), 0);
    EXPECT_EQ(w.pa, 0xE1234ull);
}

TEST_F(HostTest, HostScalablePassThroughAndLegacyPassThrough)
{
    cfg.scalable = true;
    make();
    ASSERT_EQ(iommu_host_attach(h, DEV, IOMMU_PASID_NONE, 2, IOMMU_MODE_PT), IOMMU_OK);
    EXPECT_EQ(dma(DEV, IOMMU_PASID_NONE, 0xABCDE000, W), 0);
    EXPECT_EQ(cw.ctx.mode, IOMMU_MODE_PT);
    EXPECT_EQ(cw.ctx.did, 2);
    EXPECT_EQ(iommu_host_map_identity(h, 2, 0x1000, 0x1000), IOMMU_OK); /* already identity */
    uint64_t pa;
    iommu_perm_t perm;
    unsigned shift;
    ASSERT_EQ(iommu_host_translate(h, 2, 0x1234, 0, &pa, &perm, &shift), IOMMU_OK);
    EXPECT_EQ(pa, 0x1234ull);
}

/* Differential check: for random maps in SL, FL and nested domains, the walker (context
 * fetch + walk over the tables in memory) agrees with the host's own software walk on
 * random addresses, mapped or not. */
TEST_F(HostTest, HostWalkerAgreesWithHostTranslate)
{
    cfg.scalable = true;
    make();
    std::mt19937_64 rng(12345);
    const struct {
        iommu_sid_t sid;
        iommu_did_t did;
        uint8_t mode;
    } doms[3] = {{IOMMU_SID(1, 0, 0), 1, IOMMU_MODE_SL},
                 {IOMMU_SID(1, 1, 0), 2, IOMMU_MODE_FL},
                 {IOMMU_SID(1, 2, 0), 3, IOMMU_MODE_NESTED}};
    for (const auto &d : doms)
        ASSERT_EQ(iommu_host_attach(h, d.sid, IOMMU_PASID_NONE, d.did, d.mode), IOMMU_OK);
    std::vector<uint64_t> probes;
    const unsigned shifts[3] = {12, 21, 30};
    const iommu_perm_t perms[3] = {R, R | W, R | W | X};
    int mapped = 0;
    for (int i = 0; i < 300; i++) {
        const auto &d = doms[i % 3];
        auto pick = [&] { return shifts[rng() % 3 == 0 ? (rng() % 3) : 0]; };
        const unsigned sh = pick();
        const uint64_t iova = (rng() % (1ull << (46 - sh))) << sh;
        const uint64_t pa = (rng() % (1ull << (38 - sh))) << sh;
        const iommu_perm_t perm = perms[rng() % 3];
        enum iommu_status st;
        if (d.mode != IOMMU_MODE_NESTED) {
            st = iommu_host_map(h, d.did, iova, pa, 1ull << sh, perm, sh, 0);
            probes.push_back(iova + (rng() % (1ull << sh)));
        } else {
            /* iova -> gpa (stage 1, sh), gpa -> pa (stage 2, its own page size) */
            const uint64_t gpa = (rng() % (1ull << 8)) << 30;
            const unsigned sh2 = pick();
            st = iommu_host_map(h, d.did, iova, gpa, 1ull << sh, perm, sh, 1);
            const uint64_t pa2 = (rng() % (1ull << (38 - sh2))) << sh2;
            if (st == IOMMU_OK)
                st = iommu_host_map(h, d.did, gpa, pa2, 1ull << sh2, perms[rng() % 3], sh2, 2);
            const unsigned small = sh < sh2 ? sh : sh2;
            probes.push_back(iova + (rng() % (1ull << small)));
            probes.push_back(iova + (rng() % (1ull << sh))); /* may leave the SL page */
        }
        ASSERT_TRUE(st == IOMMU_OK || st == IOMMU_ERR_OVERLAP) << st;
        mapped += st == IOMMU_OK;
        probes.push_back(pa + (rng() % (1ull << sh))); /* some PAs are mapped as IOVAs */
        probes.push_back(rng() % (1ull << 46));
    }
    EXPECT_GT(mapped, 250);
    int agreed_ok = 0;
    for (const auto &d : doms) {
        const int before = agreed_ok;
        for (uint64_t a : probes) {
            uint64_t pa = 0;
            iommu_perm_t perm = 0;
            unsigned shift = 0;
            const bool sw = iommu_host_translate(h, d.did, a, 0, &pa, &perm, &shift) == IOMMU_OK;
            const uint8_t r = dma(d.sid, IOMMU_PASID_NONE, a, R | PRIV);
            if (sw && (perm & R)) {
                ASSERT_EQ(r, 0) << std::hex << a;
                EXPECT_EQ(w.pa, pa);
                EXPECT_EQ(w.page_shift, shift);
                EXPECT_EQ(w.perm, perm);
                agreed_ok++;
            } else {
                EXPECT_NE(r, 0) << std::hex << a;
            }
        }
        EXPECT_GT(agreed_ok - before, 80) << "domain " << d.did; /* translations exercised */
    }
    EXPECT_GT(agreed_ok, 350);
}

} // namespace
