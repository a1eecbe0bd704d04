// unit_test.cpp — the translation unit end to end against tables the host writes:
// exact hit/miss/walk-read counts, page-boundary splitting, every fault path the unit owns
// (recording, overflow, FPD), pass-through, interrupt range, invalidation and the
// capability registers.
#include "unit_fixture.h"

#include <set>

namespace {

constexpr iommu_sid_t DEV = IOMMU_SID(0, 2, 0);
constexpr uint64_t WIN = 0x100000, PA = 0x40000000;

// Deterministic 64-bit LCG (Knuth MMIX constants) for access patterns.
struct Lcg {
    uint64_t s;
    uint64_t next() { return s = s * 6364136223846793005ull + 1442695040888963407ull; }
};

class Unit : public ::testing::Test {
protected:
    UnitSystem sys;
    void SetUp() override { sys.build(); }
    void attach_window(uint64_t bytes, uint8_t perm = IOMMU_ACC_R | IOMMU_ACC_W)
    {
        ASSERT_EQ(iommu_host_attach(sys.host, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
        ASSERT_EQ(iommu_host_map(sys.host, 1, WIN, PA, bytes, perm, 12, 0), IOMMU_OK);
    }
};

TEST_F(Unit, FullyAssociative64EntryLruOver256KWindowMissesExactly64Times)
{
    attach_window(256 << 10);
    Lcg rng{42};
    std::set<uint64_t> pages;
    const int n = 10000;
    for (int i = 0; i < n; i++) {
        uint64_t off = (rng.next() >> 20) % (256 << 10) & ~63ull;
        pages.insert(off >> 12);
        ASSERT_EQ(sys.xlate(DEV, WIN + off, 64, IOMMU_ACC_R), 1u);
        ASSERT_EQ(sys.op.fault_reason, 0);
        ASSERT_EQ(sys.op.xlat.pa, PA + off);
    }
    ASSERT_EQ(pages.size(), 64u); // the pattern touches every page of the window
    EXPECT_EQ(sys.c("translations"), (uint64_t)n);
    EXPECT_EQ(sys.c("iotlb.misses"), 64u);
    EXPECT_EQ(sys.c("iotlb.hits"), (uint64_t)n - 64);
    EXPECT_EQ(sys.c("walk.count"), 64u);
    // first walk reads PML4E, PDPE, PDE, PTE; the other 63 hit the PDE cache (same 2 MB)
    EXPECT_EQ(sys.c("walk.mem_reads"), 4u + 63u);
    EXPECT_EQ(sys.c("pwc.pde.hits"), 63u);
    EXPECT_EQ(sys.c("context_cache.misses"), 1u);
    EXPECT_EQ(sys.c("context_cache.hits"), (uint64_t)n - 1);
    EXPECT_EQ(sys.c("context.mem_reads"), 2u); // root entry + context entry
    EXPECT_EQ(sys.c("faults.total"), 0u);
}

TEST_F(Unit, CyclicSweepOver65PagesMissesEveryTime)
{
    attach_window(65 << 12);
    const int n = 650;
    for (int i = 0; i < n; i++)
        sys.xlate(DEV, WIN + (uint64_t)(i % 65) * 4096, 64, IOMMU_ACC_R);
    EXPECT_EQ(sys.c("iotlb.misses"), (uint64_t)n);
    EXPECT_EQ(sys.c("iotlb.hits"), 0u);
}

TEST_F(Unit, RequestCrossingPageBoundariesIsSplitPerPage)
{
    attach_window(4 << 12);
    std::vector<std::pair<uint64_t, uint64_t>> chunks;
    iommu_req r{DEV, IOMMU_PASID_NONE, WIN + 0x800, 0x2000, IOMMU_ACC_W, 0};
    auto cb = [](const iommu_op *op, bool faulted, void *v) {
        EXPECT_FALSE(faulted);
        static_cast<std::vector<std::pair<uint64_t, uint64_t>> *>(v)->push_back({op->xlat.pa, op->xlat.len});
    };
    EXPECT_EQ(iommu_translate_functional(sys.unit, &sys.op, &r, cb, &chunks), 3u);
    ASSERT_EQ(chunks.size(), 3u);
    EXPECT_EQ(chunks[0], std::make_pair(PA + 0x800, (uint64_t)0x800));
    EXPECT_EQ(chunks[1], std::make_pair(PA + 0x1000, (uint64_t)0x1000));
    EXPECT_EQ(chunks[2], std::make_pair(PA + 0x2000, (uint64_t)0x800));
    EXPECT_EQ(sys.c("translations"), 3u);
    EXPECT_EQ(sys.c("requests"), 1u);
    EXPECT_EQ(sys.c("requests.split"), 1u);
    EXPECT_EQ(sys.c("iotlb.misses"), 3u);
}

TEST_F(Unit, RequestInsideOneLargePageIsOneChunk)
{
    ASSERT_EQ(iommu_host_attach(sys.host, DEV, IOMMU_PASID_NONE, 1, IOMMU_MODE_SL), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(sys.host, 1, 0x200000, 0x80000000, 0x200000, IOMMU_ACC_R, 21, 0), IOMMU_OK);
    EXPECT_EQ(sys.xlate(DEV, 0x200800, 0x2000, IOMMU_ACC_R), 1u);
    EXPECT_EQ(sys.op.xlat.pa, 0x80000800u);
    EXPECT_EQ(sys.op.xlat.len, 0x2000u);
    EXPECT_EQ(sys.op.xlat.page_shift, 21);
    EXPECT_EQ(sys.c("walk.mem_reads"), 3u); // PML4E, PDPE, PDE (leaf)
    // a second access elsewhere in the 2 MB page hits the IOTLB
    EXPECT_EQ(sys.xlate(DEV, 0x3FF000, 64, IOMMU_ACC_R), 1u);
    EXPECT_EQ(sys.op.xlat.pa, 0x801FF000u);
    EXPECT_EQ(sys.c("iotlb.hits"), 1u);
}

TEST_F(Unit, DeviceNeverAttachedFaultsWithContextNotPresent)
{
    attach_window(4096);
    EXPECT_EQ(sys.xlate(IOMMU_SID(0, 3, 0), WIN, 64, IOMMU_ACC_R), 1u);
    EXPECT_EQ(sys.op.fault_reason, IOMMU_FR_CTX_NOT_PRESENT);
    EXPECT_EQ(sys.xlate(IOMMU_SID(5, 0, 0), WIN, 64, IOMMU_ACC_R), 1u);
    EXPECT_EQ(sys.op.fault_reason, IOMMU_FR_ROOT_NOT_PRESENT);
    EXPECT_EQ(sys.c("faults.total"), 2u);
    EXPECT_EQ(sys.c("faults.reason_0x2"), 1u);
    EXPECT_EQ(sys.c("faults.reason_0x1"), 1u);
    EXPECT_EQ(sys.c("per_device.00:03.0.faults.total"), 1u);
    EXPECT_EQ(sys.c("per_device.05:00.0.faults.total"), 1u);
}

TEST_F(Unit, PermissionFaultsAndTheirRecords)
{
    attach_window(4096, IOMMU_ACC_R);
    sys.xlate(DEV, WIN + 0x40, 64, IOMMU_ACC_W);
    EXPECT_EQ(sys.op.fault_reason, IOMMU_FR_WRITE_DENIED);
    EXPECT_TRUE(sys.op.fault_recorded);
    const iommu_fault_record *r = iommu_fault_get(sys.unit, 0);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->f);
    EXPECT_EQ(r->reason, 0x5);
    EXPECT_EQ(r->sid, DEV);
    EXPECT_EQ(r->fi, WIN);
    EXPECT_FALSE(r->is_read);
    EXPECT_EQ(iommu_fault_status(sys.unit), IOMMU_FSTS_PPF | (1u << IOMMU_FSTS_FRI_SHIFT));
    // a faulting walk fills nothing: the read misses and fills the (read-only) entry, then a
    // write hits it and faults from the cached permissions
    sys.xlate(DEV, WIN, 64, IOMMU_ACC_R);
    EXPECT_EQ(sys.op.fault_reason, 0);
    EXPECT_EQ(sys.c("iotlb.hits"), 0u);
    sys.xlate(DEV, WIN, 64, IOMMU_ACC_W);
    EXPECT_EQ(sys.op.fault_reason, IOMMU_FR_WRITE_DENIED);
    EXPECT_EQ(sys.c("iotlb.hits"), 1u);
    // an unmapped page: a read finds R = W = 0
    sys.xlate(DEV, WIN + 0x10000, 64, IOMMU_ACC_R);
    EXPECT_EQ(sys.op.fault_reason, IOMMU_FR_READ_DENIED);
    EXPECT_EQ(sys.c("faults.reason_0x5"), 2u);
    EXPECT_EQ(sys.c("faults.reason_0x6"), 1u);
    EXPECT_EQ(sys.c("faults.recorded"), 3u);
}

TEST_F(Unit, AddressBeyondTheDomainWidthFaults)
{
    attach_window(4096);
    sys.xlate(DEV, 1ull << 48, 64, IOMMU_ACC_R);
    EXPECT_EQ(sys.op.fault_reason, IOMMU_FR_ADDR_BEYOND_MGAW);
}

TEST_F(Unit, FaultRecordsOverflowWhenTheHandlerDoesNotClearThem)
{
    sys.cfg.nfr = 2;
    sys.build();
    attach_window(4096);
    for (int i = 0; i < 3; i++)
        sys.xlate(DEV, WIN + 0x100000 + (uint64_t)i * 4096, 64, IOMMU_ACC_R);
    EXPECT_EQ(sys.c("faults.total"), 3u);
    EXPECT_EQ(sys.c("faults.recorded"), 2u);
    EXPECT_EQ(sys.c("faults.overflow"), 1u);
    EXPECT_EQ(iommu_fault_status(sys.unit) & (IOMMU_FSTS_PFO | IOMMU_FSTS_PPF),
              IOMMU_FSTS_PFO | IOMMU_FSTS_PPF);
    EXPECT_EQ(iommu_fault_service(sys.unit, nullptr, nullptr), 2u);
    EXPECT_EQ(iommu_fault_status(sys.unit) & (IOMMU_FSTS_PFO | IOMMU_FSTS_PPF), 0u);
    sys.xlate(DEV, WIN + 0x200000, 64, IOMMU_ACC_R);
    EXPECT_EQ(sys.c("faults.recorded"), 3u);
}

TEST_F(Unit, FaultProcessingDisabledSuppressesRecording)
{
    attach_window(4096);
    // set FPD (bit 1) in the device's legacy context entry, then drop the cached context
    uint64_t root_lo = iommu_physmem_read64(sys.mem, iommu_host_rtaddr(sys.host) + 0 * 16);
    uint64_t ce = (root_lo & ~0xFFFull) + IOMMU_SID_DEVFN(DEV) * 16;
    uint64_t lo = iommu_physmem_read64(sys.mem, ce);
    ASSERT_EQ(lo & 1, 1u);
    iommu_physmem_write64(sys.mem, ce, lo | 2);
    iommu_inv_context_global(sys.unit);
    sys.xlate(DEV, WIN + 0x5000, 64, IOMMU_ACC_R);
    EXPECT_EQ(sys.op.fault_reason, IOMMU_FR_READ_DENIED);
    EXPECT_FALSE(sys.op.fault_recorded);
    EXPECT_EQ(sys.c("faults.total"), 1u);
    EXPECT_EQ(sys.c("faults.suppressed_fpd"), 1u);
    EXPECT_EQ(sys.c("faults.recorded"), 0u);
}

TEST_F(Unit, TranslationDisabledAndPassThroughReturnTheInputAddress)
{
    ASSERT_EQ(iommu_host_attach(sys.host, DEV, IOMMU_PASID_NONE, 7, IOMMU_MODE_PT), IOMMU_OK);
    sys.xlate(DEV, 0x12345678, 64, IOMMU_ACC_R);
    EXPECT_EQ(sys.op.fault_reason, 0);
    EXPECT_TRUE(sys.op.xlat.passthrough);
    EXPECT_EQ(sys.op.xlat.pa, 0x12345678u);
    EXPECT_EQ(sys.c("translations.passthrough"), 1u);
    EXPECT_EQ(sys.c("iotlb.hits") + sys.c("iotlb.misses"), 0u);
    iommu_set_translation_enabled(sys.unit, false);
    sys.xlate(IOMMU_SID(9, 0, 0), 0xABC000, 64, IOMMU_ACC_W); // not even attached
    EXPECT_EQ(sys.op.fault_reason, 0);
    EXPECT_EQ(sys.op.xlat.pa, 0xABC000u);
    EXPECT_EQ(sys.c("translations.disabled"), 1u);
}

TEST_F(Unit, InterruptRangeWritesAreNotTranslated)
{
    attach_window(4096);
    sys.xlate(DEV, 0xFEE00000, 4, IOMMU_ACC_W);
    EXPECT_TRUE(sys.op.xlat.interrupt);
    EXPECT_EQ(sys.op.fault_reason, 0);
    EXPECT_EQ(sys.c("interrupt_range.writes"), 1u);
    EXPECT_EQ(sys.c("translations"), 0u);
    sys.xlate(DEV, 0xFEE00000, 4, IOMMU_ACC_R);
    EXPECT_EQ(sys.c("interrupt_range.reads_blocked"), 1u);
}

TEST_F(Unit, StaleEntryServesUntilInvalidated)
{
    attach_window(8192);
    sys.xlate(DEV, WIN, 64, IOMMU_ACC_R);
    uint64_t unmapped = 0;
    ASSERT_EQ(iommu_host_unmap(sys.host, 1, WIN, 4096, 0, &unmapped), IOMMU_OK);
    EXPECT_EQ(unmapped, 4096u);
    sys.xlate(DEV, WIN, 64, IOMMU_ACC_R); // stale IOTLB entry still translates
    EXPECT_EQ(sys.op.fault_reason, 0);
    EXPECT_EQ(sys.c("iotlb.hits"), 1u);
    EXPECT_EQ(iommu_inv_iotlb_page(sys.unit, 1, WIN, 0, false), 1u);
    sys.xlate(DEV, WIN, 64, IOMMU_ACC_R);
    EXPECT_EQ(sys.op.fault_reason, IOMMU_FR_READ_DENIED);
    // domain and global invalidation
    sys.xlate(DEV, WIN + 4096, 64, IOMMU_ACC_R);
    EXPECT_EQ(iommu_inv_iotlb_domain(sys.unit, 2), 0u);
    EXPECT_EQ(iommu_inv_iotlb_domain(sys.unit, 1), 1u);
    sys.xlate(DEV, WIN + 4096, 64, IOMMU_ACC_R);
    EXPECT_EQ(iommu_inv_iotlb_global(sys.unit), 1u);
    EXPECT_EQ(iommu_inv_context_device(sys.unit, DEV), 1u);
    EXPECT_EQ(iommu_inv_context_device(sys.unit, DEV), 0u);
}

TEST_F(Unit, CountersBreakDownPerDeviceAndPerDomain)
{
    const iommu_sid_t dev2 = IOMMU_SID(1, 0, 0);
    attach_window(8192);
    ASSERT_EQ(iommu_host_attach(sys.host, dev2, IOMMU_PASID_NONE, 2, IOMMU_MODE_SL), IOMMU_OK);
    ASSERT_EQ(iommu_host_map(sys.host, 2, WIN, PA + 0x100000, 8192, IOMMU_ACC_R | IOMMU_ACC_W, 12, 0), IOMMU_OK);
    for (int i = 0; i < 3; i++)
        sys.xlate(DEV, WIN, 64, IOMMU_ACC_R);
    for (int i = 0; i < 5; i++)
        sys.xlate(dev2, WIN + 4096, 64, IOMMU_ACC_W);
    EXPECT_EQ(sys.op.xlat.pa, PA + 0x101000);
    EXPECT_EQ(sys.c("per_device.00:02.0.translations"), 3u);
    EXPECT_EQ(sys.c("per_device.00:02.0.iotlb.hits"), 2u);
    EXPECT_EQ(sys.c("per_device.01:00.0.translations"), 5u);
    EXPECT_EQ(sys.c("per_device.01:00.0.iotlb.misses"), 1u);
    EXPECT_EQ(sys.c("per_domain.1.translations"), 3u);
    EXPECT_EQ(sys.c("per_domain.2.translations"), 5u);
    EXPECT_EQ(sys.c("per_domain.2.iotlb.hits"), 4u);
    EXPECT_EQ(sys.c("per_domain.1.context_cache.misses"), 1u);
    EXPECT_EQ(sys.c("translations"), 8u);
}

TEST_F(Unit, WarmupResetKeepsCachesWarm)
{
    attach_window(4096);
    sys.xlate(DEV, WIN, 64, IOMMU_ACC_R);
    iommu_stats_reset(sys.stats);
    sys.xlate(DEV, WIN, 64, IOMMU_ACC_R);
    EXPECT_EQ(sys.c("translations"), 1u);
    EXPECT_EQ(sys.c("iotlb.hits"), 1u);
    EXPECT_EQ(sys.c("iotlb.misses"), 0u);
    EXPECT_EQ(sys.c("context_cache.hits"), 1u);
}

// Drives an op to completion against physical memory (like the functional driver).
static iommu_step run_reads(UnitSystem &sys, iommu_op &op, iommu_step s)
{
    uint64_t buf[8];
    while (s.kind == IOMMU_STEP_READ) {
        iommu_physmem_read(sys.mem, s.addr, buf, s.size);
        s = iommu_op_resume(sys.unit, &op, buf);
    }
    return s;
}

TEST_F(Unit, DeferredWalkCanBeJoinedByASecondMissToThePage)
{
    attach_window(8192, IOMMU_ACC_R);
    iommu_op a{}, b{}, c{};
    iommu_req ra{DEV, IOMMU_PASID_NONE, WIN + 0x40, 64, IOMMU_ACC_R, IOMMU_REQ_DEFER_WALK};
    iommu_req rb{DEV, IOMMU_PASID_NONE, WIN + 0x80, 64, IOMMU_ACC_R, IOMMU_REQ_DEFER_WALK};
    iommu_req rc{DEV, IOMMU_PASID_NONE, WIN + 0xC0, 64, IOMMU_ACC_W, IOMMU_REQ_DEFER_WALK};
    iommu_step sa = run_reads(sys, a, iommu_translate_begin(sys.unit, &a, &ra));
    ASSERT_EQ(sa.kind, IOMMU_STEP_WALK); // context fetched, IOTLB missed, walk deferred
    iommu_step sb = iommu_translate_begin(sys.unit, &b, &rb);
    iommu_step sc = iommu_translate_begin(sys.unit, &c, &rc);
    ASSERT_EQ(sb.kind, IOMMU_STEP_WALK);
    ASSERT_EQ(sc.kind, IOMMU_STEP_WALK);
    uint64_t ka[2], kb[2], kc[2];
    iommu_op_walk_key(&a, ka);
    iommu_op_walk_key(&b, kb);
    iommu_op_walk_key(&c, kc);
    EXPECT_TRUE(ka[0] == kb[0] && ka[1] == kb[1] && ka[1] == kc[1]);
    sa = run_reads(sys, a, iommu_op_start_walk(sys.unit, &a));
    ASSERT_EQ(sa.kind, IOMMU_STEP_DONE);
    sb = iommu_op_join(sys.unit, &b, &a);
    ASSERT_EQ(sb.kind, IOMMU_STEP_DONE);
    EXPECT_EQ(b.xlat.pa, PA + 0x80);
    sc = iommu_op_join(sys.unit, &c, &a); // a write to the read-only page: its own fault
    ASSERT_EQ(sc.kind, IOMMU_STEP_FAULT);
    EXPECT_EQ(c.fault_reason, IOMMU_FR_WRITE_DENIED);
    EXPECT_EQ(sys.c("walk.count"), 1u);
    EXPECT_EQ(sys.c("walk.coalesced"), 2u);
    EXPECT_EQ(sys.c("iotlb.misses"), 3u);
    EXPECT_EQ(sys.c("walk.mem_reads"), 4u);
}

TEST(UnitRegs, DefaultCapabilitiesMatchAHaswellEpUnit)
{
    iommu_cfg c;
    iommu_cfg_default(&c);
    // Linux prints these for Xeon E5 v3: "cap d2078c106f0466 ecap f020df"
    EXPECT_EQ(iommu_reg_cap(&c), 0xd2078c106f0466ull);
    EXPECT_EQ(iommu_reg_ecap(&c), 0xf020dfull);
}

TEST(UnitRegs, CapFieldsSitWhereTheSpecPutsThem)
{
    iommu_cfg c;
    iommu_cfg_default(&c);
    memset(&c, 0, sizeof c);
    c.mgaw = 1;
    c.nfr = 1;
    EXPECT_EQ(iommu_reg_cap(&c), 0u);
    c.sagaw = 8; // 5-level
    EXPECT_EQ(iommu_reg_cap(&c), 8ull << 8);
    c.sagaw = 0;
    c.mgaw = 57;
    EXPECT_EQ(iommu_reg_cap(&c), 56ull << 16);
    c.mgaw = 1;
    c.nfr = 256;
    EXPECT_EQ(iommu_reg_cap(&c), 255ull << 40);
    c.nfr = 1;
    c.caching_mode = true;
    EXPECT_EQ(iommu_reg_cap(&c), 1ull << 7);
    c.caching_mode = false;
    c.pi = true;
    EXPECT_EQ(iommu_reg_cap(&c), 1ull << 59);
    c.pi = false;
    c.fl_5level = true;
    EXPECT_EQ(iommu_reg_cap(&c), 1ull << 60);
    c.fl_5level = false;
    c.fro = 0x3FF0;
    EXPECT_EQ(iommu_reg_cap(&c), 0x3FFull << 24);
    c.fro = 0;
    c.scalable_mode = c.fl = true;
    EXPECT_EQ(iommu_reg_ecap(&c), (1ull << 43) | (1ull << 47));
    c.pasid = true;
    c.pasid_bits = 20;
    EXPECT_EQ(iommu_reg_ecap(&c), (1ull << 43) | (1ull << 47) | (19ull << 35) | (1ull << 40));
    // field table agrees with the encoder
    iommu_cfg_default(&c);
    uint64_t cap = iommu_reg_cap(&c);
    for (const iommu_reg_field *f = iommu_cap_fields; f->name; f++) {
        if (!strcmp(f->name, "NFR")) {
            EXPECT_EQ(iommu_reg_field_get(cap, f), 7u);
        } else if (!strcmp(f->name, "MGAW")) {
            EXPECT_EQ(iommu_reg_field_get(cap, f), 47u);
        }
    }
}

TEST(UnitFaultRecord, FrcdBitLayout)
{
    iommu_fault_record r{};
    r.fi = 0x123456789000ull;
    uint64_t w[2];
    iommu_fault_record_encode(&r, w);
    EXPECT_EQ(w[0], 0x123456789000ull);
    EXPECT_EQ(w[1], 0u);
    r = {};
    r.sid = 0xBEEF;
    iommu_fault_record_encode(&r, w);
    EXPECT_EQ(w[1], 0xBEEFull);
    r = {};
    r.reason = 0x0C;
    iommu_fault_record_encode(&r, w);
    EXPECT_EQ(w[1], 0x0Cull << 32);
    r = {};
    r.f = true;
    iommu_fault_record_encode(&r, w);
    EXPECT_EQ(w[1], 1ull << 63);
    r = {};
    r.is_read = true;
    iommu_fault_record_encode(&r, w);
    EXPECT_EQ(w[1], 1ull << 62);
    r = {};
    r.pp = true;
    r.pasid = 0xFFFFF;
    iommu_fault_record_encode(&r, w);
    EXPECT_EQ(w[1], (1ull << 31) | (0xFFFFFull << 40));
    iommu_fault_record d;
    iommu_fault_record_decode(w, &d);
    EXPECT_TRUE(d.pp);
    EXPECT_EQ(d.pasid, 0xFFFFFu);
}

TEST(UnitConfig, ValidationNamesTheKey)
{
    iommu_cfg c;
    const char *key = nullptr, *why = nullptr;
    iommu_cfg_default(&c);
    c.sagaw = 1;
    EXPECT_EQ(iommu_cfg_validate(&c, &key, &why), IOMMU_ERR_INVAL);
    EXPECT_STREQ(key, "iommu.sagaw");
    iommu_cfg_default(&c);
    c.haw = 60;
    EXPECT_EQ(iommu_cfg_validate(&c, &key, &why), IOMMU_ERR_INVAL);
    EXPECT_STREQ(key, "iommu.haw");
    iommu_cfg_default(&c);
    c.nested = true;
    EXPECT_EQ(iommu_cfg_validate(&c, &key, &why), IOMMU_ERR_INVAL);
    EXPECT_STREQ(key, "iommu.nested");
    iommu_cfg_default(&c);
    c.iotlb.c4k.entries = 64;
    c.iotlb.c4k.ways = 3;
    EXPECT_EQ(iommu_cfg_validate(&c, &key, &why), IOMMU_ERR_INVAL);
    EXPECT_STREQ(key, "iotlb.ways");
}

} // namespace
