// test_invq.cpp — the invalidation hardware: descriptor bit layouts (checked against real
// descriptors Linux wrote in the captures of ../shared/data), each descriptor type's effect
// on each cache with exact entry counts, wait-descriptor status writes and interrupts, the
// queue's errors as VT-d reports them (IQE + IQEI, IQH left at the bad descriptor, restart
// after clearing), wrap-around and the software-visible full condition, and register-based
// invalidation.
#include "model/iommu/unit_fixture.h"

extern "C" {
#include "model/invq/invq.h"
}

namespace {

constexpr iommu_sid_t DEV_A = IOMMU_SID(0, 2, 0), DEV_B = IOMMU_SID(0, 3, 0);
constexpr uint64_t WIN = 0x100000, PA = 0x40000000, QBASE = 0x7000000, STATUS = 0x7100000;

// ---- bit layouts -----------------------------------------------------------------------

TEST(QiDesc, DecodesRealLinuxDescriptors)
{
    // From strict-cm-on.guest-ftrace.txt (qi_submit) and the matching QEMU decode lines.
    iommu_qi_desc d;
    uint64_t psi[4] = {0x400f2, 0xfffff000, 0, 0};
    ASSERT_EQ(iommu_qi_decode(psi, false, &d), IOMMU_QI_OK);
    EXPECT_EQ(d.type, IOMMU_QI_IOTLB);
    EXPECT_EQ(d.g, IOMMU_QI_G_PAGE);
    EXPECT_EQ(d.did, 4);
    EXPECT_TRUE(d.dr);
    EXPECT_TRUE(d.dw);
    EXPECT_EQ(d.addr, 0xfffff000u);
    EXPECT_EQ(d.am, 0);
    EXPECT_FALSE(d.ih);
    uint64_t glob[4] = {0xd2, 0, 0, 0};
    ASSERT_EQ(iommu_qi_decode(glob, false, &d), IOMMU_QI_OK);
    EXPECT_EQ(d.g, IOMMU_QI_G_GLOBAL);
    uint64_t dom[4] = {0x200e2, 0, 0, 0};
    ASSERT_EQ(iommu_qi_decode(dom, false, &d), IOMMU_QI_OK);
    EXPECT_EQ(d.g, IOMMU_QI_G_DOMAIN);
    EXPECT_EQ(d.did, 2);
    uint64_t wait[4] = {0x200000025, 0x11ba804, 0, 0};
    ASSERT_EQ(iommu_qi_decode(wait, false, &d), IOMMU_QI_OK);
    EXPECT_EQ(d.type, IOMMU_QI_WAIT);
    EXPECT_TRUE(d.wait_sw);
    EXPECT_FALSE(d.wait_if);
    EXPECT_EQ(d.status_data, 2u);
    EXPECT_EQ(d.addr, 0x11ba804u);
    uint64_t iec[4] = {0x1100000014, 0, 0, 0};
    ASSERT_EQ(iommu_qi_decode(iec, false, &d), IOMMU_QI_OK);
    EXPECT_EQ(d.type, IOMMU_QI_IEC);
    EXPECT_EQ(d.g, 1);
    EXPECT_EQ(d.iidx, 0x11);
    EXPECT_EQ(d.im, 0);
}

TEST(QiDesc, EncodersProduceTheSpecLayouts)
{
    uint64_t q[4];
    iommu_qi_enc_cc(q, IOMMU_QI_G_DEVICE, 0x1234, IOMMU_SID(0x12, 3, 4), 2);
    EXPECT_EQ(q[0], 0x1ull | (3ull << 4) | (0x1234ull << 16) | ((uint64_t)IOMMU_SID(0x12, 3, 4) << 32) | (2ull << 48));
    EXPECT_EQ(q[1], 0u);
    iommu_qi_enc_iotlb(q, IOMMU_QI_G_PAGE, 7, 0x12345000, 3, true, true, false);
    EXPECT_EQ(q[0], 0x2ull | (3ull << 4) | (1ull << 7) | (7ull << 16));
    EXPECT_EQ(q[1], 0x12345000ull | (1ull << 6) | 3);
    iommu_qi_enc_iec(q, true, 0x40, 4);
    EXPECT_EQ(q[0], 0x4ull | (1ull << 4) | (4ull << 27) | (0x40ull << 32));
    iommu_qi_enc_wait(q, true, true, true, false, 0xabcd0, 0x55);
    EXPECT_EQ(q[0], 0x5ull | (1ull << 4) | (1ull << 5) | (1ull << 6) | (0x55ull << 32));
    EXPECT_EQ(q[1], 0xabcd0u);
    iommu_qi_enc_devtlb(q, DEV_A, 0xabc, 5, 0x200000, 12);
    EXPECT_EQ(q[0], 0x3ull | (0xcull << 12) | (5ull << 16) | ((uint64_t)DEV_A << 32) | (0xabull << 52));
    EXPECT_EQ(q[1], 0x200000u); // S = 0: one page
    iommu_qi_enc_pasid_iotlb(q, 3, 9, 0xfffff, 0x5000, 0, false);
    EXPECT_EQ(q[0], 0x6ull | (3ull << 4) | (9ull << 16) | (0xfffffull << 32));
    iommu_qi_enc_pasid_cache(q, 1, 9, 0x42);
    EXPECT_EQ(q[0], 0x7ull | (1ull << 4) | (9ull << 16) | (0x42ull << 32));
}

TEST(QiDesc, EveryEncoderRoundTrips)
{
    uint64_t q[4];
    iommu_qi_desc d;
    iommu_qi_enc_cc(q, IOMMU_QI_G_DOMAIN, 0xbeef, 0x1234, 1);
    ASSERT_EQ(iommu_qi_decode(q, false, &d), IOMMU_QI_OK);
    EXPECT_EQ(d.g, 2);
    EXPECT_EQ(d.did, 0xbeef);
    EXPECT_EQ(d.sid, 0x1234);
    EXPECT_EQ(d.fm, 1);
    iommu_qi_enc_iotlb(q, IOMMU_QI_G_PAGE, 3, 0xfff00000, 8, true, false, true);
    ASSERT_EQ(iommu_qi_decode(q, false, &d), IOMMU_QI_OK);
    EXPECT_EQ(d.addr, 0xfff00000u);
    EXPECT_EQ(d.am, 8);
    EXPECT_TRUE(d.ih && d.dw && !d.dr);
    iommu_qi_enc_devtlb(q, 0x0310, 0x0310, 0, 0, 12);
    ASSERT_EQ(iommu_qi_decode(q, false, &d), IOMMU_QI_OK);
    EXPECT_EQ(d.sid, 0x0310);
    EXPECT_EQ(d.pfsid, 0x0310);
    iommu_qi_enc_iec(q, false, 0, 0);
    ASSERT_EQ(iommu_qi_decode(q, false, &d), IOMMU_QI_OK);
    EXPECT_EQ(d.g, 0);
    iommu_qi_enc_wait(q, false, true, false, true, 0, 0);
    ASSERT_EQ(iommu_qi_decode(q, false, &d), IOMMU_QI_OK);
    EXPECT_TRUE(d.wait_if && d.wait_pd && !d.wait_sw && !d.wait_fn);
    iommu_qi_enc_pasid_iotlb(q, 2, 5, 0x77, 0, 0, false);
    ASSERT_EQ(iommu_qi_decode(q, true, &d), IOMMU_QI_OK);
    EXPECT_EQ(d.pasid, 0x77u);
    iommu_qi_enc_pasid_cache(q, 3, 0, 0);
    ASSERT_EQ(iommu_qi_decode(q, true, &d), IOMMU_QI_OK);
    EXPECT_EQ(d.g, 3);
}

TEST(QiDesc, DeviceTlbSizeEncodingCoversEverySize)
{
    for (unsigned shift = 12; shift <= 40; shift++) {
        uint64_t q[4];
        iommu_qi_desc d;
        const uint64_t base = 0x123456789000ull & ~((1ull << shift) - 1);
        iommu_qi_enc_devtlb(q, DEV_A, DEV_A, 0, base, shift);
        ASSERT_EQ(iommu_qi_decode(q, false, &d), IOMMU_QI_OK);
        uint64_t b;
        unsigned s;
        iommu_qi_devtlb_range(&d, &b, &s);
        EXPECT_EQ(s, shift) << shift;
        EXPECT_EQ(b, base) << shift;
    }
    uint64_t q[4];
    iommu_qi_desc d;
    iommu_qi_enc_devtlb(q, DEV_A, DEV_A, 0, 0, 64);
    ASSERT_EQ(iommu_qi_decode(q, false, &d), IOMMU_QI_OK);
    uint64_t b;
    unsigned s;
    iommu_qi_devtlb_range(&d, &b, &s);
    EXPECT_EQ(s, 64u);
}

TEST(QiDesc, InvalidDescriptorsAreClassified)
{
    iommu_qi_desc d;
    uint64_t t0[4] = {0x0, 0, 0, 0};
    EXPECT_EQ(iommu_qi_decode(t0, false, &d), IOMMU_QI_ERR_INVALID_TYPE);
    uint64_t tf[4] = {0xf, 0, 0, 0};
    EXPECT_EQ(iommu_qi_decode(tf, false, &d), IOMMU_QI_ERR_INVALID_TYPE);
    uint64_t hi[4] = {0x2 | (1ull << 9), 0, 0, 0}; // type[6:4] != 0
    EXPECT_EQ(iommu_qi_decode(hi, false, &d), IOMMU_QI_ERR_INVALID_TYPE);
    uint64_t rsv[4] = {0x12 | (1ull << 40), 0, 0, 0}; // IOTLB global with bit 40 set
    EXPECT_EQ(iommu_qi_decode(rsv, false, &d), IOMMU_QI_ERR_RESERVED);
    uint64_t rsv1[4] = {0x12, 1ull << 8, 0, 0}; // reserved qw1 bit 8
    EXPECT_EQ(iommu_qi_decode(rsv1, false, &d), IOMMU_QI_ERR_RESERVED);
    uint64_t g0[4] = {0x2, 0, 0, 0}; // IOTLB with granularity 0
    EXPECT_EQ(iommu_qi_decode(g0, false, &d), IOMMU_QI_ERR_RESERVED);
    uint64_t cc_hi[4] = {0x11, 1, 0, 0}; // context-cache: qw1 entirely reserved
    EXPECT_EQ(iommu_qi_decode(cc_hi, false, &d), IOMMU_QI_ERR_RESERVED);
    uint64_t p6[4] = {0x26, 0, 0, 0}; // PASID-IOTLB needs 256-bit descriptors
    EXPECT_EQ(iommu_qi_decode(p6, false, &d), IOMMU_QI_ERR_WIDTH);
    EXPECT_EQ(iommu_qi_decode(p6, true, &d), IOMMU_QI_OK);
    uint64_t upper[4] = {0x12, 0, 1, 0}; // 256-bit: legacy types' upper half is reserved
    EXPECT_EQ(iommu_qi_decode(upper, true, &d), IOMMU_QI_ERR_RESERVED);
    uint64_t prs[4] = {0x9, 0, 0, 0};
    EXPECT_EQ(iommu_qi_decode(prs, true, &d), IOMMU_QI_ERR_UNSUPPORTED_TYPE);
}

// ---- the queue against a real unit -----------------------------------------------------

struct DevtlbLog {
    int calls = 0;
    iommu_sid_t sid = 0;
    uint64_t base = 0;
    unsigned shift = 0;
};

uint32_t devtlb_handler(void *ctx, iommu_sid_t sid, uint64_t base, unsigned shift)
{
    auto *l = static_cast<DevtlbLog *>(ctx);
    l->calls++;
    l->sid = sid;
    l->base = base;
    l->shift = shift;
    return 3;
}

class Queue : public ::testing::Test {
protected:
    UnitSystem sys;
    iommu_invq_t *q = nullptr;
    uint32_t sw_tail = 0; // software's tail (bytes)
    DevtlbLog devtlb;

    void SetUp() override
    {
        sys.build();
        q = iommu_invq_create(sys.unit, sys.stats);
        ASSERT_NE(q, nullptr);
        iommu_invq_set_devtlb_handler(q, devtlb_handler, &devtlb);
        ASSERT_EQ(iommu_invq_write_iqa(q, QBASE), IOMMU_OK); // QS = 0: 4 KB, 256 slots
        ASSERT_EQ(iommu_invq_enable(q, true), IOMMU_OK);
        // two devices in two domains, 16 pages each
        ASSERT_EQ(iommu_host_attach(sys.host, DEV_A, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
        ASSERT_EQ(iommu_host_attach(sys.host, DEV_B, IOMMU_PASID_NONE, 2, IOMMU_MODE_SL), IOMMU_OK);
        ASSERT_EQ(iommu_host_map(sys.host, 1, WIN, PA, 16 << 12, IOMMU_ACC_R | IOMMU_ACC_W, 12, 0), IOMMU_OK);
        ASSERT_EQ(iommu_host_map(sys.host, 2, WIN, PA + (1 << 20), 16 << 12, IOMMU_ACC_R | IOMMU_ACC_W, 12, 0), IOMMU_OK);
    }
    void TearDown() override { iommu_invq_destroy(q); }

    void fill_caches()
    {
        for (uint64_t p = 0; p < 16; p++) {
            ASSERT_EQ(sys.xlate(DEV_A, WIN + (p << 12), 64, IOMMU_ACC_R), 1u);
            ASSERT_EQ(sys.xlate(DEV_B, WIN + (p << 12), 64, IOMMU_ACC_R), 1u);
        }
        ASSERT_EQ(iotlb(), 32u);
        ASSERT_EQ(cc(), 2u);
    }
    uint32_t iotlb() { return iommu_iotlb_valid_count(iommu_iotlb(sys.unit)); }
    uint32_t cc() { return iommu_cache_valid_count(iommu_context_cache(sys.unit)); }
    uint32_t pde() { return iommu_pwc_valid_count(iommu_pwc(sys.unit), IOMMU_PWC_PDE); }

    // Software writes one descriptor at its tail and rings the doorbell.
    void submit(const uint64_t qw[4], bool ring = true)
    {
        const unsigned n = iommu_invq_desc_bytes(q);
        ASSERT_EQ(iommu_physmem_write(sys.mem, QBASE + sw_tail, qw, n), IOMMU_OK);
        sw_tail = (sw_tail + n) % (uint32_t)(iommu_invq_slots(q) * n);
        if (ring)
            iommu_invq_write_iqt(q, sw_tail);
    }
    uint32_t run() { return iommu_invq_run(q, sys.mem); }
};

TEST_F(Queue, ContextCacheDescriptorsByGranularity)
{
    fill_caches();
    uint64_t d[4];
    iommu_qi_enc_cc(d, IOMMU_QI_G_DEVICE, 1, DEV_A, 0);
    submit(d);
    EXPECT_EQ(run(), 1u);
    EXPECT_EQ(cc(), 1u);
    EXPECT_EQ(iotlb(), 32u); // a context invalidation leaves the IOTLB alone
    fill_caches();
    iommu_qi_enc_cc(d, IOMMU_QI_G_DOMAIN, 2, 0, 0);
    submit(d);
    run();
    EXPECT_EQ(cc(), 1u);
    fill_caches();
    iommu_qi_enc_cc(d, IOMMU_QI_G_GLOBAL, 0, 0, 0);
    submit(d);
    run();
    EXPECT_EQ(cc(), 0u);
    EXPECT_EQ(sys.c("inv.desc.cc"), 3u);
    EXPECT_EQ(sys.c("inv.cc.device"), 1u);
    EXPECT_EQ(sys.c("inv.cc.domain"), 1u);
    EXPECT_EQ(sys.c("inv.cc.global"), 1u);
    EXPECT_EQ(sys.c("inv.removed.context"), 4u);
}

TEST_F(Queue, IotlbDescriptorsByGranularityWithAddressMaskAndHint)
{
    fill_caches();
    uint64_t d[4];
    // page-selective, 4 pages (AM 2) from page 4 of domain 1, hint set: PDE cache stays
    const uint32_t pde_before = pde();
    iommu_qi_enc_iotlb(d, IOMMU_QI_G_PAGE, 1, WIN + (4 << 12), 2, true, false, false);
    submit(d);
    EXPECT_EQ(run(), 1u);
    EXPECT_EQ(iotlb(), 28u);
    EXPECT_EQ(pde(), pde_before);
    for (uint64_t p = 0; p < 16; p++) { // exactly pages 4..7 of domain 1 miss now
        const uint64_t miss0 = sys.c("iotlb.misses");
        sys.xlate(DEV_A, WIN + (p << 12), 64, IOMMU_ACC_R);
        EXPECT_EQ(sys.c("iotlb.misses") - miss0, (p >= 4 && p < 8) ? 1u : 0u) << p;
    }
    // without the hint the paging-structure entries covering the range go too
    iommu_qi_enc_iotlb(d, IOMMU_QI_G_PAGE, 1, WIN, 4, false, false, false);
    submit(d);
    run();
    EXPECT_EQ(iotlb(), 16u);
    EXPECT_EQ(pde(), pde_before - 1);
    fill_caches();
    iommu_qi_enc_iotlb(d, IOMMU_QI_G_DOMAIN, 2, 0, 0, false, false, false);
    submit(d);
    run();
    EXPECT_EQ(iotlb(), 16u);
    iommu_qi_enc_iotlb(d, IOMMU_QI_G_GLOBAL, 0, 0, 0, false, true, true);
    submit(d);
    run();
    EXPECT_EQ(iotlb(), 0u);
    EXPECT_EQ(pde(), 0u);
    EXPECT_EQ(cc(), 2u); // the context cache is not touched
    EXPECT_EQ(sys.c("inv.iotlb.page"), 2u);
    EXPECT_EQ(sys.c("inv.iotlb.domain"), 1u);
    EXPECT_EQ(sys.c("inv.iotlb.global"), 1u);
    EXPECT_EQ(sys.c("inv.removed.iotlb"), 4u + 16u + 16u + 16u);
}

TEST_F(Queue, PageSelectiveBeyondMamvFallsBackToDomain)
{
    fill_caches();
    uint64_t d[4];
    iommu_qi_enc_iotlb(d, IOMMU_QI_G_PAGE, 1, 0, iommu_config(sys.unit)->mamv + 1, false, false, false);
    submit(d);
    run();
    EXPECT_EQ(iotlb(), 16u); // all of domain 1, none of domain 2
    EXPECT_EQ(sys.c("inv.iotlb.domain"), 1u);
}

TEST_F(Queue, InterruptEntryCacheGlobalAndIndexSelective)
{
    iommu_cache_t *iec = iommu_iec(sys.unit);
    const uint32_t sets = iommu_cache_sets(iec);
    ASSERT_EQ(sets, 1u);
    auto fill = [&] {
        for (uint64_t i = 0; i < 32; i++) {
            iommu_cache_key k{0, i};
            if (!iommu_cache_probe(iec, 0, &k))
                iommu_cache_insert(iec, 0, &k, nullptr);
        }
        ASSERT_EQ(iommu_cache_valid_count(iec), 32u);
    };
    fill();
    uint64_t d[4];
    iommu_qi_enc_iec(d, true, 8, 3); // entries 8..15
    submit(d);
    EXPECT_EQ(run(), 1u) << iommu_invq_iqercd(q);
    EXPECT_EQ(iommu_cache_valid_count(iec), 24u);
    iommu_cache_key k7{0, 7}, k8{0, 8}, k16{0, 16};
    EXPECT_NE(iommu_cache_probe(iec, 0, &k7), nullptr);
    EXPECT_EQ(iommu_cache_probe(iec, 0, &k8), nullptr);
    EXPECT_NE(iommu_cache_probe(iec, 0, &k16), nullptr);
    iommu_qi_enc_iec(d, false, 0, 0);
    submit(d);
    run();
    EXPECT_EQ(iommu_cache_valid_count(iec), 0u);
    EXPECT_EQ(sys.c("inv.removed.iec"), 32u);
    EXPECT_EQ(iotlb(), 0u);
}

TEST_F(Queue, DeviceTlbDescriptorReachesTheEndpointHandler)
{
    uint64_t d[4];
    iommu_qi_enc_devtlb(d, DEV_B, DEV_B, 0, 0x40000, 18);
    submit(d);
    run();
    EXPECT_EQ(devtlb.calls, 1);
    EXPECT_EQ(devtlb.sid, DEV_B);
    EXPECT_EQ(devtlb.base, 0x40000u);
    EXPECT_EQ(devtlb.shift, 18u);
    EXPECT_EQ(sys.c("inv.removed.devtlb"), 3u);
}

TEST_F(Queue, WaitDescriptorWritesStatusOnlyAfterEarlierDescriptors)
{
    fill_caches();
    uint64_t d[4];
    iommu_qi_enc_iotlb(d, IOMMU_QI_G_DOMAIN, 1, 0, 0, false, false, false);
    submit(d, false);
    iommu_qi_enc_wait(d, true, true, false, false, STATUS, 1);
    submit(d, false);
    iommu_qi_enc_iotlb(d, IOMMU_QI_G_DOMAIN, 2, 0, 0, false, false, false);
    submit(d);
    // step by step: the status is written only when the wait executes, after the first
    // invalidation took effect, and before the later one
    uint64_t addr;
    unsigned size;
    iommu_invq_result r;
    uint64_t w[4] = {};
    ASSERT_TRUE(iommu_invq_next_fetch(q, &addr, &size));
    EXPECT_EQ(addr, QBASE);
    EXPECT_EQ(size, 16u);
    iommu_physmem_read(sys.mem, addr, w, size);
    iommu_invq_execute(q, w, &r);
    EXPECT_FALSE(r.status_write);
    EXPECT_EQ(iotlb(), 16u);
    ASSERT_TRUE(iommu_invq_next_fetch(q, &addr, &size));
    iommu_physmem_read(sys.mem, addr, w, size);
    iommu_invq_execute(q, w, &r);
    EXPECT_TRUE(r.status_write);
    EXPECT_EQ(r.status_addr, STATUS);
    EXPECT_EQ(r.status_data, 1u);
    EXPECT_TRUE(r.interrupt);
    EXPECT_EQ(iommu_invq_ics(q) & IOMMU_ICS_IWC, IOMMU_ICS_IWC);
    EXPECT_EQ(iotlb(), 16u); // the later invalidation has not run
    EXPECT_EQ(iommu_invq_pending(q), 1u);
    iommu_invq_clear_status(q, 0, IOMMU_ICS_IWC);
    EXPECT_EQ(iommu_invq_ics(q), 0u);
    EXPECT_EQ(run(), 1u);
    EXPECT_EQ(iotlb(), 0u);
    // the functional driver performs the status write
    iommu_qi_enc_wait(d, true, false, false, false, STATUS + 8, 0xfeed);
    submit(d);
    run();
    uint32_t v = 0;
    iommu_physmem_read(sys.mem, STATUS + 8, &v, 4);
    EXPECT_EQ(v, 0xfeedu);
    EXPECT_EQ(sys.c("inv.desc.wait"), 2u);
    EXPECT_EQ(sys.c("inv.wait.status_writes"), 2u);
    EXPECT_EQ(sys.c("inv.wait.interrupts"), 1u);
}

TEST_F(Queue, BadDescriptorStopsTheQueueWithIqeUntilCleared)
{
    fill_caches();
    uint64_t good[4], bad[4] = {0x12 | (1ull << 40), 0, 0, 0};
    iommu_qi_enc_iotlb(good, IOMMU_QI_G_DOMAIN, 1, 0, 0, false, false, false);
    submit(good, false);
    submit(bad, false);
    iommu_qi_enc_iotlb(good, IOMMU_QI_G_DOMAIN, 2, 0, 0, false, false, false);
    submit(good);
    EXPECT_EQ(run(), 1u);
    EXPECT_EQ(iommu_invq_fsts(q) & IOMMU_FSTS_IQE, IOMMU_FSTS_IQE);
    EXPECT_EQ(iommu_invq_iqercd(q) & 0xf, (uint64_t)IOMMU_QI_ERR_RESERVED);
    EXPECT_EQ(iommu_invq_iqh(q), 16u); // IQH stays at the bad descriptor
    EXPECT_EQ(iotlb(), 16u);           // domain 2 still cached: nothing after it ran
    EXPECT_EQ(run(), 0u);              // stays stopped
    // software replaces the descriptor (as Linux does with a wait) and clears IQE
    uint64_t fix[4];
    iommu_qi_enc_wait(fix, false, false, false, false, 0, 0);
    iommu_physmem_write(sys.mem, QBASE + 16, fix, 16);
    iommu_invq_clear_status(q, IOMMU_FSTS_IQE, 0);
    EXPECT_EQ(iommu_invq_iqercd(q) & 0xf, 0u);
    EXPECT_EQ(run(), 2u);
    EXPECT_EQ(iotlb(), 0u);
    EXPECT_EQ(sys.c("inv.errors"), 1u);
}

TEST_F(Queue, InvalidTypeAndWidthErrorsAreReported)
{
    uint64_t t0[4] = {0, 0, 0, 0};
    submit(t0);
    run();
    EXPECT_EQ(iommu_invq_iqercd(q) & 0xf, (uint64_t)IOMMU_QI_ERR_INVALID_TYPE);
    iommu_invq_clear_status(q, IOMMU_FSTS_IQE, 0);
    uint64_t p[4];
    iommu_qi_enc_pasid_iotlb(p, 2, 1, 5, 0, 0, false);
    iommu_physmem_write(sys.mem, QBASE, p, 16);
    run();
    EXPECT_EQ(iommu_invq_iqercd(q) & 0xf, (uint64_t)IOMMU_QI_ERR_WIDTH);
}

TEST_F(Queue, TailBeyondQueueSetsIqe)
{
    iommu_invq_write_iqt(q, 4096); // queue is 4 KB: offsets 0..0xff0
    EXPECT_EQ(iommu_invq_fsts(q) & IOMMU_FSTS_IQE, IOMMU_FSTS_IQE);
    EXPECT_EQ(iommu_invq_iqercd(q) & 0xf, (uint64_t)IOMMU_QI_ERR_TAIL_BEYOND);
    EXPECT_EQ(iommu_invq_iqt(q), 0u);
}

TEST_F(Queue, FetchBeyondHostAddressWidthIsAFetchError)
{
    ASSERT_EQ(iommu_invq_enable(q, false), IOMMU_OK);
    ASSERT_EQ(iommu_invq_write_iqa(q, 1ull << 50), IOMMU_OK); // beyond HAW 46
    ASSERT_EQ(iommu_invq_enable(q, true), IOMMU_OK);
    iommu_invq_write_iqt(q, 16);
    EXPECT_EQ(run(), 0u);
    EXPECT_EQ(iommu_invq_iqercd(q) & 0xf, (uint64_t)IOMMU_QI_ERR_FETCH);
}

TEST_F(Queue, SoftwareSeesTheQueueFullAndTheRingWraps)
{
    EXPECT_EQ(iommu_invq_slots(q), 256u);
    EXPECT_EQ(iommu_invq_free_slots(q), 255u);
    uint64_t w[4];
    iommu_qi_enc_wait(w, false, false, false, false, 0, 0);
    for (int i = 0; i < 255; i++)
        submit(w, false);
    iommu_invq_write_iqt(q, sw_tail);
    EXPECT_EQ(iommu_invq_pending(q), 255u);
    EXPECT_EQ(iommu_invq_free_slots(q), 0u); // one more would make tail == head: full
    EXPECT_EQ(run(), 255u);
    EXPECT_EQ(iommu_invq_free_slots(q), 255u);
    for (int i = 0; i < 10; i++) // wraps past the end of the ring
        submit(w);
    EXPECT_EQ(run(), 10u);
    EXPECT_EQ(iommu_invq_iqh(q), (255u + 10u) % 256u * 16u);
}

TEST_F(Queue, Wide256BitQueueNeedsScalableSupportAndAlignedTail)
{
    ASSERT_EQ(iommu_invq_enable(q, false), IOMMU_OK);
    ASSERT_EQ(iommu_invq_write_iqa(q, QBASE | IOMMU_IQA_DW), IOMMU_OK);
    EXPECT_EQ(iommu_invq_enable(q, true), IOMMU_ERR_UNSUPP); // default unit: no SMTS/PASID
}

TEST(QueueWide, ScalableUnitTakes256BitDescriptors)
{
    UnitSystem sys;
    sys.cfg.scalable_mode = true;
    sys.cfg.pasid = sys.cfg.fl = true;
    sys.build();
    iommu_invq_t *q = iommu_invq_create(sys.unit, sys.stats);
    ASSERT_EQ(iommu_invq_write_iqa(q, QBASE | IOMMU_IQA_DW), IOMMU_OK);
    ASSERT_EQ(iommu_invq_enable(q, true), IOMMU_OK);
    EXPECT_EQ(iommu_invq_slots(q), 128u);
    iommu_invq_write_iqt(q, 16); // bit 4 set: misaligned for 32-byte descriptors
    EXPECT_EQ(iommu_invq_iqercd(q) & 0xf, (uint64_t)IOMMU_QI_ERR_TAIL_MISALIGNED);
    iommu_invq_clear_status(q, IOMMU_FSTS_IQE, 0);
    uint64_t d[4];
    iommu_qi_enc_pasid_cache(d, IOMMU_QI_PC_G_GLOBAL, 0, 0);
    iommu_physmem_write(sys.mem, QBASE, d, 32);
    iommu_invq_write_iqt(q, 32);
    EXPECT_EQ(iommu_invq_run(q, sys.mem), 1u);
    EXPECT_EQ(sys.c("inv.desc.pasid_cache"), 1u);
    iommu_invq_destroy(q);
}

TEST_F(Queue, RegisterBasedInvalidationOnlyWithTheQueueDisabled)
{
    fill_caches();
    uint64_t r = iommu_invq_reg_iotlb(q, 0, IOMMU_IOTLB_IVT | IOMMU_IOTLB_IIRG(2) | IOMMU_IOTLB_DID(1));
    EXPECT_EQ((r >> IOMMU_IOTLB_IAIG_SHIFT) & 3, 0u); // refused: queue enabled
    EXPECT_EQ(iotlb(), 32u);
    ASSERT_EQ(iommu_invq_enable(q, false), IOMMU_OK);
    r = iommu_invq_reg_iotlb(q, WIN | 1, IOMMU_IOTLB_IVT | IOMMU_IOTLB_IIRG(3) | IOMMU_IOTLB_DID(1));
    EXPECT_EQ(r & IOMMU_IOTLB_IVT, 0u);
    EXPECT_EQ((r >> IOMMU_IOTLB_IAIG_SHIFT) & 3, 3u);
    EXPECT_EQ(iotlb(), 30u); // 2 pages (AM 1) of domain 1
    r = iommu_invq_reg_iotlb(q, 0, IOMMU_IOTLB_IVT | IOMMU_IOTLB_IIRG(2) | IOMMU_IOTLB_DID(2));
    EXPECT_EQ((r >> IOMMU_IOTLB_IAIG_SHIFT) & 3, 2u);
    EXPECT_EQ(iotlb(), 14u);
    uint64_t c = iommu_invq_reg_ccmd(q, IOMMU_CCMD_ICC | IOMMU_CCMD_CIRG(3) | ((uint64_t)DEV_A << 16) | 1);
    EXPECT_EQ(c & IOMMU_CCMD_ICC, 0u);
    EXPECT_EQ((c >> IOMMU_CCMD_CAIG_SHIFT) & 3, 3u);
    EXPECT_EQ(cc(), 1u);
    c = iommu_invq_reg_ccmd(q, IOMMU_CCMD_ICC | IOMMU_CCMD_CIRG(1));
    EXPECT_EQ(cc(), 0u);
    EXPECT_EQ(sys.c("inv.reg.iotlb"), 2u);
    EXPECT_EQ(sys.c("inv.reg.cc"), 2u);
    EXPECT_EQ(sys.c("inv.reg.refused"), 1u);
    EXPECT_EQ(sys.c("inv.descriptors"), 0u);
}

} // namespace
