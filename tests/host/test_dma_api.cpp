// test_dma_api.cpp — the DMA-API model and its flush policies, untimed: exact descriptor and
// IOVA behaviour of strict, lazy (high-water mark), batched (one range per batch),
// passthrough and identity; scatter-gather layout and handle resolution; caching mode; the
// protection tracker (stale pages, stale accesses, sub-page exposure); DMA-level `inv`
// events through the queue; the driver seeing a full queue.
#include <gtest/gtest.h>

#include "model/iommu/unit_fixture.h"

extern "C" {
#include "host/apply.h"
#include "model/iotlb/devtlb.h"
}

namespace {

constexpr iommu_sid_t DEV = IOMMU_SID(0, 3, 0);

struct Api {
    UnitSystem sys;
    iommu_dma_cfg cfg;
    iommu_invq_t *q = nullptr;
    iommu_prot_t *prot = nullptr;
    iommu_dma_t *d = nullptr;
    iommu_host_env env{};
    uint64_t now = 0;

    explicit Api(uint8_t policy, void (*tweak)(iommu_dma_cfg &, iommu_cfg &) = nullptr)
    {
        iommu_dma_cfg_default(&cfg);
        cfg.policy = policy;
        if (tweak)
            tweak(cfg, sys.cfg);
        sys.build();
        q = iommu_invq_create(sys.unit, sys.stats);
        prot = iommu_prot_create(sys.unit, sys.stats);
        d = iommu_dma_create(&cfg, sys.host, sys.unit, q, sys.mem, prot, sys.stats);
        EXPECT_NE(d, nullptr);
        iommu_invq_set_observer(q, iommu_prot_observer, prot);
        env = {sys.host, sys.unit, q, prot, d, sys.mem, nullptr};
        EXPECT_EQ(iommu_dma_attach(d, DEV, 1, IOMMU_MODE_SL), IOMMU_OK);
    }
    ~Api()
    {
        iommu_dma_destroy(d);
        iommu_prot_destroy(prot);
        iommu_invq_destroy(q);
    }
    void complete(const iommu_dma_work &w)
    {
        char what[160];
        ASSERT_EQ(iommu_host_complete_functional(&env, &w, 0, now, what, sizeof what), IOMMU_OK) << what;
    }
    uint64_t map(uint64_t handle, uint64_t pa, uint64_t len, bool more = false)
    {
        iommu_dma_work w;
        EXPECT_EQ(iommu_dma_map(d, DEV, handle, pa, len, IOMMU_ACC_W, more, 0, now, &w), IOMMU_OK);
        complete(w);
        return w.iova;
    }
    void unmap(uint64_t handle)
    {
        iommu_dma_work w;
        ASSERT_EQ(iommu_dma_unmap(d, handle, 0, now, &w), IOMMU_OK);
        complete(w);
    }
    // the device writes len bytes at the buffer's offset 0 (one segment)
    bool write(uint64_t handle, uint64_t len)
    {
        uint64_t iova, piece;
        iommu_sid_t sid;
        EXPECT_EQ(iommu_dma_resolve(d, handle, 0, len, &iova, &piece, &sid), IOMMU_OK);
        return xlate(iova, piece);
    }
    bool xlate(uint64_t iova, uint64_t len)
    {
        iommu_req r{DEV, IOMMU_PASID_NONE, iova, len, IOMMU_ACC_W, 0};
        auto cb = [](const iommu_op *op, bool faulted, void *ctx) {
            if (!faulted)
                iommu_prot_access(static_cast<iommu_prot_t *>(ctx), op->xlat.did, op->xlat.iova,
                                  op->report.iotlb_hit);
        };
        iommu_translate_functional(sys.unit, &sys.op, &r, cb, prot);
        return sys.op.fault_reason == 0;
    }
    uint64_t c(const char *n) { return sys.c(n); }
};

TEST(DmaApi, StrictInvalidatesEveryUnmapAndReusesTheIova)
{
    Api a(IOMMU_FLUSH_STRICT);
    const uint64_t i1 = a.map(1, 0x40000040, 1500);
    EXPECT_EQ(i1, 0xfffff040u); // top-down from the 32-bit limit, keeping the page offset
    EXPECT_TRUE(a.write(1, 1500));
    a.unmap(1);
    EXPECT_EQ(a.c("inv.descriptors"), 2u); // page-selective + wait
    EXPECT_EQ(a.c("inv.iotlb.page"), 1u);
    EXPECT_EQ(a.c("inv.removed.iotlb"), 1u);
    EXPECT_EQ(a.c("host.iova_frees"), 1u);
    EXPECT_EQ(a.c("protection.stale_pages"), 0u); // the flush completed before the return
    EXPECT_EQ(a.map(2, 0x40010000, 4096), 0xfffff000u); // freed IOVA reused (rcache)
    EXPECT_FALSE(a.xlate(0xfff00000, 64));          // never mapped: faults
}

TEST(DmaApi, LazyDefersUntilTheHighWaterMark)
{
    Api a(IOMMU_FLUSH_LAZY, [](iommu_dma_cfg &c, iommu_cfg &) { c.lazy_hwm = 4; });
    for (uint64_t h = 1; h <= 4; h++) {
        a.map(h, 0x40000000 + h * 0x1000, 4096);
        EXPECT_TRUE(a.write(h, 64));
        a.unmap(h);
    }
    EXPECT_EQ(a.c("inv.descriptors"), 0u);
    EXPECT_EQ(a.c("host.iova_frees"), 0u);       // IOVAs held until the flush
    EXPECT_EQ(a.c("protection.stale_pages"), 4u); // each page still cached after its unmap
    // a stale entry still translates: the device can reach the unmapped page
    EXPECT_TRUE(a.xlate(0xffffe000, 64));
    EXPECT_EQ(a.c("protection.stale_accesses"), 1u);
    // the 5th unmap finds the queue at its mark: domain-selective flush + wait
    a.map(5, 0x40010000, 4096);
    a.unmap(5);
    EXPECT_EQ(a.c("inv.descriptors"), 2u);
    EXPECT_EQ(a.c("inv.iotlb.domain"), 1u);
    EXPECT_EQ(a.c("host.flushes.high_water"), 1u);
    EXPECT_EQ(a.c("host.iova_frees"), 4u);
    EXPECT_EQ(a.c("protection.stale_windows_closed"), 4u);
    EXPECT_FALSE(a.xlate(0xffffe000, 64)); // gone now
}

TEST(DmaApi, LazyTimerFlushesAfterItsTimeout)
{
    Api a(IOMMU_FLUSH_LAZY, [](iommu_dma_cfg &c, iommu_cfg &) { c.lazy_timeout_ns = 1000; });
    a.now = 5000;
    a.map(1, 0x40000000, 4096);
    a.write(1, 64);
    a.unmap(1);
    EXPECT_EQ(iommu_dma_next_timer(a.d), 6000u);
    iommu_dma_work w;
    a.now = 6000;
    ASSERT_EQ(iommu_dma_timer(a.d, 0, a.now, &w), IOMMU_OK);
    ASSERT_TRUE(w.wait);
    a.complete(w);
    EXPECT_EQ(a.c("host.flushes.timer"), 1u);
    EXPECT_EQ(a.c("protection.stale_window_ns.max"), 1000u); // from the unmap to the flush
    EXPECT_EQ(iommu_dma_next_timer(a.d), UINT64_MAX);
}

TEST(DmaApi, BatchedIssuesOneRangeInvalidationPerBatch)
{
    Api a(IOMMU_FLUSH_BATCHED, [](iommu_dma_cfg &c, iommu_cfg &) { c.batch = 3; });
    for (uint64_t h = 1; h <= 3; h++)
        a.map(h, 0x40000000 + h * 0x1000, 4096); // IOVAs 0xfffff000, 0xffffe000, 0xffffd000
    for (uint64_t h = 1; h <= 3; h++)
        a.unmap(h);
    EXPECT_EQ(a.c("inv.descriptors"), 2u);  // one range + one wait
    EXPECT_EQ(a.c("inv.iotlb.page"), 1u);   // pages 0xffffd..0xfffff: AM 2 block 0xffffc..0xfffff
    EXPECT_EQ(a.c("host.flushes.batch"), 1u);
    EXPECT_EQ(a.c("host.iova_frees"), 3u);
}

TEST(DmaApi, ScatterGatherSegmentsArePageAlignedInIovaSpace)
{
    Api a(IOMMU_FLUSH_STRICT);
    a.map(7, 0x40000100, 100, true);  // 1 page
    a.map(7, 0x50000000, 8192, true); // 2 pages
    const uint64_t first = a.map(7, 0x60000ff0, 32); // crosses a page: 2 pages
    EXPECT_EQ(a.c("host.dma_maps"), 1u);
    EXPECT_EQ(a.c("host.segments"), 3u);
    EXPECT_EQ(a.c("host.pages_mapped"), 5u);
    // 5 pages round up to 8 (size-aligned): the allocation is 8-page aligned below 4 GB
    EXPECT_EQ(first, 0xffff8000u + 0x100);
    uint64_t iova, piece;
    iommu_sid_t sid;
    ASSERT_EQ(iommu_dma_resolve(a.d, 7, 0, 8400, &iova, &piece, &sid), IOMMU_OK);
    EXPECT_EQ(iova, 0xffff8100u);
    EXPECT_EQ(piece, 100u);
    ASSERT_EQ(iommu_dma_resolve(a.d, 7, 100, 8300, &iova, &piece, &sid), IOMMU_OK);
    EXPECT_EQ(iova, 0xffff9000u);
    EXPECT_EQ(piece, 8192u);
    ASSERT_EQ(iommu_dma_resolve(a.d, 7, 8292, 32, &iova, &piece, &sid), IOMMU_OK);
    EXPECT_EQ(iova, 0xffffbff0u);
    EXPECT_EQ(piece, 32u);
    EXPECT_EQ(iommu_dma_resolve(a.d, 7, 8300, 100, &iova, &piece, &sid), IOMMU_OK);
    EXPECT_EQ(piece, 24u); // clipped at the end of the buffer
    EXPECT_EQ(iommu_dma_resolve(a.d, 7, 8324, 1, &iova, &piece, &sid), IOMMU_ERR_INVAL);
    EXPECT_TRUE(a.xlate(0xffffbff0, 32)); // the last segment crosses into its second page
    // exposure: (4096-100) + 0 + (8192-32)
    EXPECT_EQ(a.c("protection.subpage_exposed_bytes"), 3996u + 8160u);
    a.unmap(7);
    EXPECT_EQ(a.c("host.pages_unmapped"), 5u);
    EXPECT_EQ(iommu_dma_resolve(a.d, 7, 0, 1, &iova, &piece, &sid), IOMMU_ERR_NOTFOUND);
}

TEST(DmaApi, PassthroughAndIdentityNeedNoInvalidation)
{
    Api p(IOMMU_FLUSH_PASSTHROUGH);
    EXPECT_EQ(p.map(1, 0x40000040, 64), 0x40000040u);
    EXPECT_TRUE(p.xlate(0x40000040, 64));
    EXPECT_EQ(p.c("translations.passthrough"), 1u);
    p.unmap(1);
    EXPECT_EQ(p.c("inv.descriptors"), 0u);
    Api i(IOMMU_FLUSH_IDENTITY);
    EXPECT_EQ(i.map(1, 0x40000040, 64), 0x40000040u);
    EXPECT_TRUE(i.xlate(0x40000040, 64)); // translated through the 1:1 tables
    EXPECT_EQ(i.c("translations"), 1u);
    i.unmap(1);
    EXPECT_TRUE(i.xlate(0x40000040, 64)); // never unmapped
    EXPECT_EQ(i.c("inv.descriptors"), 0u);
}

TEST(DmaApi, CachingModeInvalidatesAfterEveryMap)
{
    Api a(IOMMU_FLUSH_STRICT, [](iommu_dma_cfg &, iommu_cfg &u) { u.caching_mode = true; });
    a.map(1, 0x40000000, 4096);
    EXPECT_EQ(a.c("inv.descriptors"), 2u);
    EXPECT_EQ(a.c("host.flushes.caching_mode"), 1u);
}

TEST(DmaApi, ErrorsNameTheProblem)
{
    Api a(IOMMU_FLUSH_STRICT);
    iommu_dma_work w;
    EXPECT_EQ(iommu_dma_map(a.d, IOMMU_SID(0, 9, 0), 1, 0x1000, 64, IOMMU_ACC_R, false, 0, 0, &w), IOMMU_ERR_NOTFOUND);
    a.map(1, 0x1000, 64);
    EXPECT_EQ(iommu_dma_map(a.d, DEV, 1, 0x2000, 64, IOMMU_ACC_R, false, 0, 0, &w), IOMMU_ERR_EXISTS);
    EXPECT_EQ(iommu_dma_unmap(a.d, 99, 0, 0, &w), IOMMU_ERR_NOTFOUND);
    EXPECT_EQ(iommu_dma_map(a.d, DEV, 2, 0x2000, 64, IOMMU_ACC_R, false, 5, 0, &w), IOMMU_ERR_INVAL); // cpu 5 of 1
    iommu_dma_cfg c;
    iommu_dma_cfg_default(&c);
    c.batch = 0;
    const char *key = nullptr, *why = nullptr;
    EXPECT_EQ(iommu_dma_cfg_validate(&c, &key, &why), IOMMU_ERR_INVAL);
    EXPECT_STREQ(key, "host.batch");
}

TEST(DmaApi, DmaLevelInvEventsGoThroughTheQueue)
{
    Api a(IOMMU_FLUSH_STRICT);
    iommu_trace_event m, u, inv, wait;
    iommu_trace_event_init(&m, IOMMU_EV_MAP);
    m.did = 1; m.iova = 0x100000; m.pa = 0x40000000; m.len = 0x1000; m.access = IOMMU_ACC_R | IOMMU_ACC_W; m.page_shift = 12;
    iommu_trace_event_init(&u, IOMMU_EV_UNMAP);
    u.did = 1; u.iova = 0x100000; u.len = 0x1000;
    iommu_trace_event_init(&inv, IOMMU_EV_INV);
    inv.inv_type = IOMMU_INV_IOTLB_PAGE; inv.did = 1; inv.iova = 0x100000; inv.am = 0; inv.flags = IOMMU_EVF_ADDR;
    iommu_trace_event_init(&wait, IOMMU_EV_INV);
    wait.inv_type = IOMMU_INV_WAIT;
    char what[160];
    iommu_dma_work w;
    ASSERT_EQ(iommu_host_apply(&a.env, &m, 0, &w, what, sizeof what), IOMMU_OK);
    a.complete(w);
    EXPECT_TRUE(a.xlate(0x100000, 64));
    ASSERT_EQ(iommu_host_apply(&a.env, &u, 0, &w, what, sizeof what), IOMMU_OK);
    a.complete(w);
    EXPECT_EQ(a.c("protection.stale_pages"), 1u);
    EXPECT_TRUE(a.xlate(0x100000, 64)); // the trace's device used the stale entry
    EXPECT_EQ(a.c("protection.stale_accesses"), 1u);
    ASSERT_EQ(iommu_host_apply(&a.env, &inv, 0, &w, what, sizeof what), IOMMU_OK);
    EXPECT_TRUE(w.doorbell);
    a.complete(w);
    ASSERT_EQ(iommu_host_apply(&a.env, &wait, 0, &w, what, sizeof what), IOMMU_OK);
    EXPECT_TRUE(w.wait);
    a.complete(w);
    EXPECT_EQ(a.c("inv.descriptors"), 2u);
    EXPECT_EQ(a.c("protection.stale_windows_closed"), 1u);
    EXPECT_FALSE(a.xlate(0x100000, 64));
}

TEST(HostQueue, DriverSeesTheQueueFull)
{
    UnitSystem sys;
    sys.build();
    iommu_invq_t *q = iommu_invq_create(sys.unit, sys.stats);
    iommu_hostq_t *h = iommu_hostq_create(q, sys.mem, 0x3f000000, 0, 0x3f100000, false);
    ASSERT_NE(h, nullptr);
    uint64_t w[4];
    iommu_qi_enc_iotlb(w, IOMMU_QI_G_GLOBAL, 0, 0, 0, false, false, false);
    for (int i = 0; i < 255; i++)
        ASSERT_EQ(iommu_hostq_push(h, w), IOMMU_OK);
    EXPECT_EQ(iommu_hostq_free(h), 0u);
    EXPECT_EQ(iommu_hostq_push(h, w), IOMMU_ERR_NOMEM); // nothing overwritten
    iommu_invq_write_iqt(q, iommu_hostq_tail(h));
    EXPECT_EQ(iommu_invq_run(q, sys.mem), 255u);
    EXPECT_EQ(iommu_hostq_free(h), 255u);
    iommu_hostq_destroy(h);
    iommu_invq_destroy(q);
}

} // namespace

namespace {

TEST(DmaApi, AtsDevicesGetDeviceTlbInvalidationsInEveryFlush)
{
    Api a(IOMMU_FLUSH_STRICT, [](iommu_dma_cfg &c, iommu_cfg &) { c.ats = true; });
    iommu_cache_cfg cc;
    iommu_cache_cfg_default(&cc);
    iommu_devtlbs_t *dt = iommu_devtlbs_create(&cc, a.sys.stats);
    iommu_invq_set_devtlb_handler(a.q, iommu_devtlbs_invalidate, dt);
    const uint64_t iova = a.map(1, 0x40000000, 4096);
    // the device: a translation request (TT = 01b allows it), a device-TLB fill, a translated request
    iommu_req tr{DEV, IOMMU_PASID_NONE, iova, 1, IOMMU_ACC_W, IOMMU_REQ_ATS_TRANSLATE};
    iommu_translate_functional(a.sys.unit, &a.sys.op, &tr, nullptr, nullptr);
    ASSERT_EQ(a.sys.op.fault_reason, 0);
    EXPECT_EQ(a.sys.op.xlat.pa, 0x40000000u);
    iommu_iotlb_entry e{0x40000000, 12, a.sys.op.xlat.perm};
    iommu_devtlbs_insert(dt, DEV, IOMMU_PASID_NONE, iova, &e);
    iommu_req t{DEV, IOMMU_PASID_NONE, 0x40000000, 64, IOMMU_ACC_W, IOMMU_REQ_ATS_TRANSLATED};
    iommu_translate_functional(a.sys.unit, &a.sys.op, &t, nullptr, nullptr);
    EXPECT_EQ(a.sys.op.fault_reason, 0);
    EXPECT_EQ(a.c("ats.translation_requests"), 1u);
    EXPECT_EQ(a.c("ats.translated_requests"), 1u);
    a.unmap(1);
    EXPECT_EQ(a.c("inv.desc.devtlb"), 1u); // IOTLB + device-TLB + wait
    EXPECT_EQ(a.c("inv.descriptors"), 3u);
    EXPECT_EQ(iommu_devtlbs_valid(dt, DEV), 0u);
    EXPECT_EQ(a.c("devtlb.removed"), 1u);
    iommu_translate_functional(a.sys.unit, &a.sys.op, &tr, nullptr, nullptr);
    EXPECT_NE(a.sys.op.fault_reason, 0); // unmapped: the translation request faults
    iommu_devtlbs_destroy(dt);
}

TEST(DmaApi, AtsRequestsAreBlockedWithoutTheDeviceTlbTranslationType)
{
    Api a(IOMMU_FLUSH_STRICT); // ats off: contexts have TT = 00b
    const uint64_t iova = a.map(1, 0x40000000, 4096);
    iommu_req tr{DEV, IOMMU_PASID_NONE, iova, 1, IOMMU_ACC_W, IOMMU_REQ_ATS_TRANSLATE};
    iommu_translate_functional(a.sys.unit, &a.sys.op, &tr, nullptr, nullptr);
    EXPECT_EQ(a.sys.op.fault_reason, IOMMU_FR_TT_BLOCKED);
    iommu_req t{DEV, IOMMU_PASID_NONE, 0x40000000, 64, IOMMU_ACC_W, IOMMU_REQ_ATS_TRANSLATED};
    iommu_translate_functional(a.sys.unit, &a.sys.op, &t, nullptr, nullptr);
    EXPECT_EQ(a.sys.op.fault_reason, IOMMU_FR_TT_BLOCKED);
}

} // namespace

namespace {

TEST(Protection, WindowsAreKeptApartForEveryDomainId)
{
    UnitSystem sys;
    sys.build();
    iommu_prot_t *p = iommu_prot_create(sys.unit, sys.stats);
    const iommu_did_t big = 5000, alias = 5000 - 4096; // equal in their low 12 bits
    for (iommu_did_t did : {big, alias}) {
        const iommu_sid_t sid = IOMMU_SID(0, did == big ? 4 : 5, 0);
        ASSERT_EQ(iommu_host_attach(sys.host, sid, IOMMU_PASID_NONE, did, IOMMU_MODE_SL), IOMMU_OK);
        ASSERT_EQ(iommu_host_map(sys.host, did, 0x100000, 0x40000000, 0x1000, IOMMU_ACC_R, 12, 0), IOMMU_OK);
        ASSERT_EQ(sys.xlate(sid, 0x100000, 64, IOMMU_ACC_R), 1u);
        iommu_prot_unmapped(p, did, 0x100000, 0x1000, 100);
    }
    EXPECT_EQ(sys.c("protection.stale_pages"), 2u);
    iommu_qi_desc d{};
    d.type = IOMMU_QI_IOTLB;
    d.g = IOMMU_QI_G_DOMAIN;
    d.did = alias;
    iommu_prot_invalidated(p, &d, 150);
    EXPECT_EQ(sys.c("protection.stale_windows_closed"), 1u);
    EXPECT_EQ(iommu_prot_open(p), 1u); // domain 5000's window is still open
    d.did = big;
    iommu_prot_invalidated(p, &d, 400);
    EXPECT_EQ(iommu_prot_open(p), 0u);
    EXPECT_EQ(sys.c("protection.stale_window_ns.max"), 300u);
    EXPECT_EQ(sys.c("protection.stale_window_ns.sum"), 350u);
    iommu_prot_destroy(p);
}

} // namespace

namespace {

TEST(DmaApi, LazyLeavesDeviceTlbEntriesReachableUntilItsFlush)
{
    Api a(IOMMU_FLUSH_LAZY, [](iommu_dma_cfg &c, iommu_cfg &) {
        c.ats = true;
        c.lazy_hwm = 2;
    });
    iommu_cache_cfg cc;
    iommu_cache_cfg_default(&cc);
    iommu_devtlbs_t *dt = iommu_devtlbs_create(&cc, a.sys.stats);
    iommu_invq_set_devtlb_handler(a.q, iommu_devtlbs_invalidate, dt);
    iommu_prot_set_devtlbs(a.prot, dt);
    a.now = 1000;
    const uint64_t iova = a.map(1, 0x40000000, 4096);
    iommu_iotlb_entry e{0x40000000, 12, IOMMU_ACC_W};
    iommu_devtlbs_insert(dt, DEV, IOMMU_PASID_NONE, iova, &e); // the device translated it
    a.unmap(1); // deferred: the device-TLB still holds the page
    EXPECT_EQ(a.c("protection.stale_pages.devtlb"), 1u);
    EXPECT_TRUE(iommu_prot_dev_access(a.prot, DEV, iova)); // the device can still use it
    EXPECT_EQ(a.c("protection.stale_accesses"), 1u);
    a.map(2, 0x40001000, 4096);
    a.unmap(2);
    a.now = 3000;
    a.map(3, 0x40002000, 4096);
    a.unmap(3); // the queue is at its mark: domain flush + device-TLB flush + wait
    EXPECT_EQ(a.c("inv.desc.devtlb"), 1u);
    EXPECT_EQ(iommu_devtlbs_valid(dt, DEV), 0u);
    EXPECT_FALSE(iommu_prot_dev_access(a.prot, DEV, iova));
    EXPECT_EQ(a.c("protection.stale_window_ns.max"), 2000u);
    iommu_devtlbs_destroy(dt);
}

} // namespace
