// test_irq_remap.cpp — interrupt remapping: the IRTE (remapped and posted formats) and the
// posted-interrupt descriptor bit layouts against the VT-d field definitions (9.10–9.12),
// MSI decode of both request formats, every interrupt-remapping fault reason 0x20–0x26 from
// a crafted table or request, IEC hits/misses and invalidation through the queue, and the
// posting protocol (PIR, ON, SN, URG).
#include "model/iommu/unit_fixture.h"

extern "C" {
#include "model/common/fault_codes.h"
#include "model/invq/invq.h"
#include "model/irq_remap/irq_remap.h"
}

namespace {

constexpr iommu_sid_t DEV_A = IOMMU_SID(3, 2, 1), DEV_B = IOMMU_SID(4, 0, 0);
constexpr uint64_t IRT = 0x6000000, QBASE = 0x7000000, PIDA = 0x7200040;

// ---- IRTE layouts ----------------------------------------------------------------------

iommu_irte remapped(uint8_t vector, uint32_t dst)
{
    iommu_irte e{};
    e.p = true;
    e.vector = vector;
    e.dst = dst;
    return e;
}

TEST(IrteLayout, RemappedFieldsAtSpecBits)
{
    uint64_t w[2];
    struct Case {
        void (*set)(iommu_irte &);
        uint64_t lo, hi;
    } cases[] = {
        {[](iommu_irte &e) { e.p = true; }, 1ull << 0, 0},
        {[](iommu_irte &e) { e.fpd = true; }, 1ull << 1, 0},
        {[](iommu_irte &e) { e.dm = true; }, 1ull << 2, 0},
        {[](iommu_irte &e) { e.rh = true; }, 1ull << 3, 0},
        {[](iommu_irte &e) { e.tm = true; }, 1ull << 4, 0},
        {[](iommu_irte &e) { e.dlm = 7; }, 7ull << 5, 0},
        {[](iommu_irte &e) { e.avail = 0xF; }, 0xFull << 8, 0},
        {[](iommu_irte &e) { e.vector = 0xFF; }, 0xFFull << 16, 0},
        {[](iommu_irte &e) { e.dst = 0xFFFFFFFF; }, 0xFFFFFFFFull << 32, 0},
        {[](iommu_irte &e) { e.sid = 0xFFFF; }, 0, 0xFFFFull},
        {[](iommu_irte &e) { e.sq = 3; }, 0, 3ull << 16},
        {[](iommu_irte &e) { e.svt = 3; }, 0, 3ull << 18},
    };
    for (const Case &c : cases) {
        iommu_irte e{};
        c.set(e);
        iommu_irte_encode(&e, w);
        EXPECT_EQ(w[0], c.lo);
        EXPECT_EQ(w[1], c.hi);
    }
    // xAPIC destination: the 8-bit APIC id in bits 47:40
    iommu_irte e = remapped(0x31, iommu_irte_dst_field(0xA5, false));
    iommu_irte_encode(&e, w);
    EXPECT_EQ(w[0], 1ull | 0x31ull << 16 | 0xA5ull << 40);
    EXPECT_EQ(iommu_irte_apic_id(&e, false), 0xA5u);
    e.dst = iommu_irte_dst_field(0x12345678, true);
    EXPECT_EQ(iommu_irte_apic_id(&e, true), 0x12345678u);
}

TEST(IrteLayout, PostedFieldsAtSpecBits)
{
    uint64_t w[2];
    iommu_irte e{};
    e.im = true;
    iommu_irte_encode(&e, w);
    EXPECT_EQ(w[0], 1ull << 15);
    e.urg = true;
    iommu_irte_encode(&e, w);
    EXPECT_EQ(w[0], 1ull << 15 | 1ull << 14);
    e.urg = false;
    e.pda = 0xFFFFFFC0; // address bits 31:6 -> IRTE bits 63:38
    iommu_irte_encode(&e, w);
    EXPECT_EQ(w[0], 1ull << 15 | 0x3FFFFFFull << 38);
    EXPECT_EQ(w[1], 0u);
    e.pda = 0xFFFFFFFF00000000ull; // address bits 63:32 -> IRTE bits 127:96
    iommu_irte_encode(&e, w);
    EXPECT_EQ(w[0], 1ull << 15);
    EXPECT_EQ(w[1], 0xFFFFFFFF00000000ull);
    // a full posted entry, bit by bit
    e = iommu_irte{};
    e.p = e.fpd = e.im = e.urg = true;
    e.avail = 0x5;
    e.vector = 0xEC;
    e.pda = 0x123456789ABCDEC0ull;
    e.sid = DEV_A;
    e.sq = 1;
    e.svt = 1;
    iommu_irte_encode(&e, w);
    EXPECT_EQ(w[0], 0x3ull | 0x5ull << 8 | 1ull << 14 | 1ull << 15 | 0xECull << 16 |
                        ((0x9ABCDEC0ull >> 6) << 38));
    EXPECT_EQ(w[1], (uint64_t)DEV_A | 1ull << 16 | 1ull << 18 | 0x12345678ull << 32);
    iommu_irte d;
    iommu_irte_decode(w, &d);
    EXPECT_TRUE(d.p && d.fpd && d.im && d.urg);
    EXPECT_EQ(d.avail, 5);
    EXPECT_EQ(d.vector, 0xEC);
    EXPECT_EQ(d.pda, 0x123456789ABCDEC0ull);
    EXPECT_EQ(d.sid, DEV_A);
    EXPECT_EQ(d.sq, 1);
    EXPECT_EQ(d.svt, 1);
    EXPECT_EQ(iommu_irte_check(w, false, true), 0);
}

TEST(IrteLayout, RemappedRoundTrips)
{
    iommu_irte e = remapped(0x7E, 0xDEADBEEF);
    e.fpd = e.dm = e.rh = e.tm = true;
    e.dlm = 1;
    e.avail = 0xA;
    e.sid = 0xBEEF;
    e.sq = 2;
    e.svt = 2;
    uint64_t w[2];
    iommu_irte_encode(&e, w);
    iommu_irte d;
    iommu_irte_decode(w, &d);
    EXPECT_TRUE(d.p && d.fpd && d.dm && d.rh && d.tm && !d.im);
    EXPECT_EQ(d.dlm, 1);
    EXPECT_EQ(d.avail, 0xA);
    EXPECT_EQ(d.vector, 0x7E);
    EXPECT_EQ(d.dst, 0xDEADBEEFu);
    EXPECT_EQ(d.sid, 0xBEEF);
    EXPECT_EQ(d.sq, 2);
    EXPECT_EQ(d.svt, 2);
}

TEST(IrteCheck, ReservedBitsOfTheRemappedFormat)
{
    uint64_t w[2];
    iommu_irte e = remapped(0x40, iommu_irte_dst_field(3, false));
    iommu_irte_encode(&e, w);
    ASSERT_EQ(iommu_irte_check(w, false, false), 0);
    const unsigned lo_rsvd[] = {12, 13, 14, 24, 31};
    for (unsigned b : lo_rsvd) {
        uint64_t x[2] = {w[0] | 1ull << b, w[1]};
        EXPECT_EQ(iommu_irte_check(x, true, true), IOMMU_FR_IR_RESERVED) << b;
    }
    for (unsigned b = 84; b < 128; b++) {
        uint64_t x[2] = {w[0], w[1] | 1ull << (b - 64)};
        EXPECT_EQ(iommu_irte_check(x, true, true), IOMMU_FR_IR_RESERVED) << b;
    }
    // xAPIC: destination bits 39:32 and 63:48 reserved; x2APIC: all 32 bits used
    for (unsigned b : {32u, 39u, 48u, 63u}) {
        uint64_t x[2] = {w[0] | 1ull << b, w[1]};
        EXPECT_EQ(iommu_irte_check(x, false, false), IOMMU_FR_IR_RESERVED) << b;
        EXPECT_EQ(iommu_irte_check(x, true, false), 0) << b;
    }
    // AVAIL and every defined field are not reserved
    e.avail = 0xF;
    e.fpd = e.dm = e.rh = e.tm = true;
    e.dlm = 7;
    e.sid = 0xFFFF;
    e.sq = 3;
    e.svt = 2;
    iommu_irte_encode(&e, w);
    EXPECT_EQ(iommu_irte_check(w, false, false), 0);
    e.svt = 3; // SVT 11b is reserved
    iommu_irte_encode(&e, w);
    EXPECT_EQ(iommu_irte_check(w, false, false), IOMMU_FR_IR_RESERVED);
}

TEST(IrteCheck, ReservedBitsOfThePostedFormat)
{
    iommu_irte e{};
    e.p = e.im = e.urg = true;
    e.vector = 0x80;
    e.pda = 0xFFFFFFFFFFFFFFC0ull;
    uint64_t w[2];
    iommu_irte_encode(&e, w);
    ASSERT_EQ(iommu_irte_check(w, false, true), 0);
    EXPECT_EQ(iommu_irte_check(w, false, false), IOMMU_FR_IR_RESERVED); // no CAP.PI
    std::vector<unsigned> rsvd = {2, 3, 4, 5, 6, 7, 12, 13};
    for (unsigned b = 24; b <= 37; b++)
        rsvd.push_back(b);
    for (unsigned b = 84; b <= 95; b++)
        rsvd.push_back(b);
    for (unsigned b : rsvd) {
        uint64_t x[2] = {w[0], w[1]};
        x[b / 64] |= 1ull << (b % 64);
        EXPECT_EQ(iommu_irte_check(x, true, true), IOMMU_FR_IR_RESERVED) << b;
    }
    uint64_t x[2] = {w[0] | 0xFull << 8, w[1]}; // AVAIL
    EXPECT_EQ(iommu_irte_check(x, false, true), 0);
}

TEST(IrteSid, VerificationBySvtAndSq)
{
    iommu_irte e = remapped(0x40, 0);
    const iommu_sid_t base = IOMMU_SID(5, 3, 0);
    EXPECT_TRUE(iommu_irte_sid_ok(&e, 0x1234)); // SVT 00: none
    e.svt = IOMMU_IRTE_SVT_SID;
    e.sid = base;
    for (unsigned sq = 0; sq < 4; sq++) {
        e.sq = (uint8_t)sq;
        for (unsigned fn = 0; fn < 8; fn++) {
            const unsigned ign = sq == 0 ? 0 : sq == 1 ? 4 : sq == 2 ? 6 : 7;
            const bool want = (fn & ~ign) == 0;
            EXPECT_EQ(iommu_irte_sid_ok(&e, IOMMU_SID(5, 3, fn)), want) << sq << " " << fn;
        }
        EXPECT_FALSE(iommu_irte_sid_ok(&e, IOMMU_SID(5, 4, 0)));
        EXPECT_FALSE(iommu_irte_sid_ok(&e, IOMMU_SID(6, 3, 0)));
    }
    e.svt = IOMMU_IRTE_SVT_BUS;
    e.sid = 0x0408; // buses 4..8
    e.sq = 3;       // ignored
    EXPECT_FALSE(iommu_irte_sid_ok(&e, IOMMU_SID(3, 31, 7)));
    EXPECT_TRUE(iommu_irte_sid_ok(&e, IOMMU_SID(4, 0, 0)));
    EXPECT_TRUE(iommu_irte_sid_ok(&e, IOMMU_SID(8, 31, 7)));
    EXPECT_FALSE(iommu_irte_sid_ok(&e, IOMMU_SID(9, 0, 0)));
}

// ---- MSI decode ------------------------------------------------------------------------

TEST(Msi, CompatibilityFormat)
{
    iommu_msi m;
    const uint64_t a = iommu_msi_addr_compat(0x2A, true, true);
    EXPECT_EQ(a, 0xFEE2A00Cull);
    const uint32_t d = iommu_msi_data_compat(0x61, 4, true);
    EXPECT_EQ(d, 0x8461u);
    ASSERT_EQ(iommu_msi_decode(a, d, &m), 0);
    EXPECT_FALSE(m.remappable);
    EXPECT_EQ(m.dest, 0x2A);
    EXPECT_TRUE(m.dm && m.rh && m.tm);
    EXPECT_EQ(m.vector, 0x61);
    EXPECT_EQ(m.dlm, 4);
    // data bits 31:16 carry no meaning in compatibility format: not a remappable fault
    EXPECT_EQ(iommu_msi_decode(0xFEE00000, 0xFFFF0030, &m), 0);
}

TEST(Msi, RemappableFormatWithAndWithoutSubHandle)
{
    iommu_msi m;
    // handle 0x1234: bits 19:5 = 0x1234, bit 4 format, no SHV
    EXPECT_EQ(iommu_msi_addr_remappable(0x1234, false), 0xFEE00000ull | 0x1234ull << 5 | 0x10);
    ASSERT_EQ(iommu_msi_decode(0xFEE00000ull | 0x1234ull << 5 | 0x10, 0x55, &m), 0);
    EXPECT_TRUE(m.remappable);
    EXPECT_FALSE(m.shv);
    EXPECT_EQ(m.handle, 0x1234);
    EXPECT_EQ(m.subhandle, 0);
    EXPECT_EQ(m.index, 0x1234u); // data ignored without SHV
    // handle bit 15 is address bit 2
    const uint64_t a = iommu_msi_addr_remappable(0x8001, true);
    EXPECT_EQ(a, 0xFEE00000ull | 1ull << 5 | 0x10 | 0x8 | 0x4);
    ASSERT_EQ(iommu_msi_decode(a, 0x0007, &m), 0);
    EXPECT_EQ(m.handle, 0x8001);
    EXPECT_TRUE(m.shv);
    EXPECT_EQ(m.subhandle, 7);
    EXPECT_EQ(m.index, 0x8008u);
    // handle + sub-handle may exceed 16 bits (the table-size check catches it)
    ASSERT_EQ(iommu_msi_decode(iommu_msi_addr_remappable(0xFFFF, true), 0xFFFF, &m), 0);
    EXPECT_EQ(m.index, 0x1FFFEu);
}

TEST(Msi, ReservedRequestBits)
{
    iommu_msi m;
    EXPECT_EQ(iommu_msi_decode(iommu_msi_addr_remappable(1, false), 0x10000, &m),
              IOMMU_FR_IR_RESERVED_REQ);
    EXPECT_EQ(iommu_msi_decode(iommu_msi_addr_remappable(1, true), 0x80000000u, &m),
              IOMMU_FR_IR_RESERVED_REQ);
}

// ---- posted-interrupt descriptor -------------------------------------------------------

TEST(Pid, FieldsAtSpecBits)
{
    iommu_pid d{};
    uint64_t w[8];
    d.on = true;
    iommu_pid_encode(&d, w);
    EXPECT_EQ(w[4], 1ull); // bit 256
    d = iommu_pid{};
    d.sn = true;
    iommu_pid_encode(&d, w);
    EXPECT_EQ(w[4], 2ull); // bit 257
    d = iommu_pid{};
    d.nv = 0xF2;
    iommu_pid_encode(&d, w);
    EXPECT_EQ(w[4], 0xF2ull << 16); // bits 279:272
    d = iommu_pid{};
    d.ndst = iommu_irte_dst_field(0x17, false);
    iommu_pid_encode(&d, w);
    EXPECT_EQ(w[4], 0x17ull << 40); // xAPIC id at bits 303:296
    d.ndst = 0xCAFEF00D;
    iommu_pid_encode(&d, w);
    EXPECT_EQ(w[4], 0xCAFEF00Dull << 32); // bits 319:288
    d = iommu_pid{};
    d.pir[0] = 1;
    d.pir[3] = 1ull << 63;
    iommu_pid_encode(&d, w);
    EXPECT_EQ(w[0], 1u);
    EXPECT_EQ(w[3], 1ull << 63);
    EXPECT_EQ(w[4] | w[5] | w[6] | w[7], 0u);
    iommu_pid r;
    const uint64_t in[8] = {1, 2, 3, 4, 0xAABBCCDD00F20003ull, 9, 9, 9};
    iommu_pid_decode(in, &r);
    EXPECT_EQ(r.pir[1], 2u);
    EXPECT_TRUE(r.on && r.sn);
    EXPECT_EQ(r.nv, 0xF2);
    EXPECT_EQ(r.ndst, 0xAABBCCDDu);
}

TEST(Pid, PostingNotifiesOnceUntilOnIsCleared)
{
    uint64_t w[8] = {0, 0, 0, 0, 0xF2ull << 16, 0x11, 0x22, 0x33};
    EXPECT_TRUE(iommu_pid_post(w, 0x45, false));
    EXPECT_EQ(w[1], 1ull << 5);
    EXPECT_EQ(w[4] & 1, 1u);
    EXPECT_FALSE(iommu_pid_post(w, 0x46, false)); // ON set: one notification outstanding
    EXPECT_FALSE(iommu_pid_post(w, 0xFF, false));
    EXPECT_EQ(w[1], 3ull << 5);
    EXPECT_EQ(w[3], 1ull << 63);
    EXPECT_EQ(w[5], 0x11u); // software-available words untouched
    w[4] &= ~1ull;          // software (the vCPU's entry) clears ON
    EXPECT_TRUE(iommu_pid_post(w, 0x45, false));
    EXPECT_FALSE(iommu_pid_post(w, 0x45, false));
}

TEST(Pid, SuppressNotificationRecordsOnly)
{
    uint64_t w[8] = {0, 0, 0, 0, 2 /* SN */, 0, 0, 0};
    for (unsigned v = 32; v < 40; v++)
        EXPECT_FALSE(iommu_pid_post(w, (uint8_t)v, false));
    EXPECT_EQ(w[0], 0xFFull << 32);
    EXPECT_EQ(w[4], 2u); // ON not set
    // URG overrides SN (VT-d 5.2.3)
    EXPECT_TRUE(iommu_pid_post(w, 40, true));
    EXPECT_EQ(w[4], 3u);
    EXPECT_FALSE(iommu_pid_post(w, 41, true));
}

// ---- the unit's interrupt remapping ------------------------------------------------------

class Remap : public ::testing::Test {
protected:
    UnitSystem sys;
    iommu_irq_t *irq = nullptr;
    iommu_irq_op op{};

    void SetUp() override { build(); }
    void TearDown() override { iommu_irq_destroy(irq); }
    void build(bool pi = true, unsigned s = 7 /* 256 entries */, bool eime = false)
    {
        iommu_irq_destroy(irq);
        sys.cfg.pi = pi;
        sys.build();
        irq = iommu_irq_create(sys.unit, sys.stats);
        ASSERT_NE(irq, nullptr);
        ASSERT_EQ(iommu_irq_set_irta(irq, IOMMU_IRTA(IRT, s, eime)), IOMMU_OK);
        ASSERT_EQ(iommu_irq_enable(irq, true), IOMMU_OK);
    }
    void write_irte(uint32_t index, const iommu_irte &e)
    {
        uint64_t w[2];
        iommu_irte_encode(&e, w);
        write_raw(index, w);
    }
    void write_raw(uint32_t index, const uint64_t w[2])
    {
        ASSERT_EQ(iommu_physmem_write64(sys.mem, IRT + 16ull * index, w[0]), IOMMU_OK);
        ASSERT_EQ(iommu_physmem_write64(sys.mem, IRT + 16ull * index + 8, w[1]), IOMMU_OK);
    }
    bool fire(iommu_sid_t sid, uint16_t handle, bool shv = false, uint32_t data = 0)
    {
        iommu_irq_req r{sid, iommu_msi_addr_remappable(handle, shv), data};
        return iommu_irq_functional(irq, sys.mem, &op, &r);
    }
    uint8_t fault_of(iommu_sid_t sid, uint64_t addr, uint32_t data)
    {
        iommu_irq_req r{sid, addr, data};
        EXPECT_FALSE(iommu_irq_functional(irq, sys.mem, &op, &r));
        return op.fault_reason;
    }
};

TEST_F(Remap, RemappedInterruptXapic)
{
    iommu_irte e = remapped(0x41, iommu_irte_dst_field(0x05, false));
    e.dm = e.tm = true;
    e.dlm = 1;
    write_irte(9, e);
    ASSERT_TRUE(fire(DEV_A, 9));
    EXPECT_EQ(op.out.kind, IOMMU_IRQ_REMAPPED);
    EXPECT_EQ(op.out.vector, 0x41);
    EXPECT_EQ(op.out.dest, 5u);
    EXPECT_TRUE(op.out.dm && op.out.tm && !op.out.rh);
    EXPECT_EQ(op.out.dlm, 1);
    EXPECT_EQ(op.index, 9u);
    EXPECT_EQ(op.mem_reads, 1);
    EXPECT_EQ(sys.c("irq.remapped"), 1u);
    EXPECT_EQ(sys.c("irq.requests"), 1u);
    EXPECT_EQ(sys.c("irq.irte_reads"), 1u);
}

TEST_F(Remap, RemappedInterruptX2apicWithSubHandle)
{
    build(true, 7, true);
    write_irte(0x13, remapped(0x99, 0x00012345));
    ASSERT_TRUE(fire(DEV_A, 0x10, true, 3)); // index 0x10 + 3
    EXPECT_EQ(op.index, 0x13u);
    EXPECT_EQ(op.out.dest, 0x12345u);
    EXPECT_EQ(op.out.vector, 0x99);
}

TEST_F(Remap, StepwiseReadOfTheIrte)
{
    write_irte(5, remapped(0x33, iommu_irte_dst_field(1, false)));
    iommu_irq_req r{DEV_A, iommu_msi_addr_remappable(5, false), 0};
    iommu_step st = iommu_irq_begin(irq, &op, &r);
    ASSERT_EQ(st.kind, IOMMU_STEP_READ);
    EXPECT_EQ(st.addr, IRT + 5 * 16);
    EXPECT_EQ(st.size, 16);
    EXPECT_EQ(st.what, IOMMU_READ_IRTE);
    EXPECT_TRUE(op.iec_lookup && !op.iec_hit);
    const uint64_t w[2] = {iommu_physmem_read64(sys.mem, st.addr),
                           iommu_physmem_read64(sys.mem, st.addr + 8)};
    st = iommu_irq_resume(irq, &op, w);
    ASSERT_EQ(st.kind, IOMMU_STEP_DONE);
    EXPECT_EQ(op.out.vector, 0x33);
    // the second time the IEC answers without a read
    st = iommu_irq_begin(irq, &op, &r);
    ASSERT_EQ(st.kind, IOMMU_STEP_DONE);
    EXPECT_TRUE(op.iec_hit);
    EXPECT_EQ(op.mem_reads, 0);
    // a read that fails (memory error on the socket) is an IRTA access error
    iommu_inv_iec_global(sys.unit);
    st = iommu_irq_begin(irq, &op, &r);
    ASSERT_EQ(st.kind, IOMMU_STEP_READ);
    st = iommu_irq_read_failed(irq, &op);
    EXPECT_EQ(st.kind, IOMMU_STEP_FAULT);
    EXPECT_EQ(op.fault_reason, IOMMU_FR_IR_TABLE_ACCESS);
}

TEST_F(Remap, PostedInterruptAndNotification)
{
    iommu_irte e{};
    e.p = e.im = true;
    e.vector = 0x52;
    e.pda = PIDA;
    write_irte(2, e);
    iommu_pid d{};
    d.nv = 0xF2;
    d.ndst = iommu_irte_dst_field(3, false);
    uint64_t w[8];
    iommu_pid_encode(&d, w);
    ASSERT_EQ(iommu_physmem_write(sys.mem, PIDA, w, 64), IOMMU_OK);

    ASSERT_TRUE(fire(DEV_A, 2));
    EXPECT_EQ(op.out.kind, IOMMU_IRQ_POSTED);
    EXPECT_EQ(op.out.pda, PIDA);
    EXPECT_EQ(op.out.vector, 0x52);
    EXPECT_FALSE(op.out.urg);
    iommu_pid after;
    EXPECT_TRUE(iommu_irq_post_functional(irq, sys.mem, &op, &after));
    EXPECT_TRUE(after.on);
    EXPECT_EQ(after.pir[1], 1ull << (0x52 - 64));
    EXPECT_EQ(after.nv, 0xF2);
    EXPECT_EQ(iommu_irte_apic_id(&e, false), 0u);
    ASSERT_TRUE(fire(DEV_A, 2));
    EXPECT_FALSE(iommu_irq_post_functional(irq, sys.mem, &op, nullptr)); // ON outstanding
    EXPECT_EQ(sys.c("irq.posted"), 2u);
    EXPECT_EQ(sys.c("irq.notifications"), 1u);
    EXPECT_EQ(iommu_physmem_read64(sys.mem, PIDA + 32) & 1, 1u);
}

TEST_F(Remap, FaultReservedRequestBits0x20)
{
    write_irte(1, remapped(0x30, 0));
    EXPECT_EQ(fault_of(DEV_A, iommu_msi_addr_remappable(1, true), 0x10001), 0x20);
    EXPECT_EQ(fault_of(DEV_A, 0xFEF00000, 0), 0x20); // not an interrupt address at all
    EXPECT_EQ(sys.c("irq.faults.reason_0x20"), 2u);
    EXPECT_EQ(sys.c("irq.irte_reads"), 0u);
}

TEST_F(Remap, FaultIndexBeyondTableSize0x21)
{
    build(true, 3); // 16 entries
    EXPECT_EQ(iommu_irq_table_entries(irq), 16u);
    write_irte(15, remapped(0x30, 0));
    EXPECT_TRUE(fire(DEV_A, 15));
    EXPECT_EQ(fault_of(DEV_A, iommu_msi_addr_remappable(16, false), 0), 0x21);
    EXPECT_EQ(fault_of(DEV_A, iommu_msi_addr_remappable(10, true), 6), 0x21); // 10 + 6
    EXPECT_EQ(sys.c("irq.faults.reason_0x21"), 2u);
    EXPECT_EQ(sys.c("iec.misses"), 1u); // checked before the IEC
}

TEST_F(Remap, FaultNotPresent0x22AndFpd)
{
    EXPECT_EQ(fault_of(DEV_A, iommu_msi_addr_remappable(4, false), 0), 0x22);
    EXPECT_FALSE(op.fault_fpd);
    // recorded in the unit's primary fault records, as DMA faults are
    EXPECT_TRUE(op.fault_recorded);
    EXPECT_TRUE(iommu_fault_status(sys.unit) & IOMMU_FSTS_PPF);
    const iommu_fault_record *fr = iommu_fault_get(sys.unit, 0);
    ASSERT_NE(fr, nullptr);
    EXPECT_TRUE(fr->f);
    EXPECT_EQ(fr->reason, 0x22);
    EXPECT_EQ(fr->sid, DEV_A);
    EXPECT_EQ(fr->fi, 4ull << 48); // FI holds the interrupt index in bits 63:48
    EXPECT_EQ(sys.c("faults.recorded"), 1u);
    iommu_irte e{};
    e.fpd = true;
    write_irte(4, e);
    EXPECT_EQ(fault_of(DEV_A, iommu_msi_addr_remappable(4, false), 0), 0x22);
    EXPECT_TRUE(op.fault_fpd);
    EXPECT_FALSE(op.fault_recorded); // FPD: counted, not recorded
    EXPECT_EQ(sys.c("faults.recorded"), 1u);
    EXPECT_EQ(sys.c("irq.faults.suppressed_fpd"), 1u);
    EXPECT_EQ(sys.c("irq.faults.reason_0x22"), 2u);
    EXPECT_EQ(iommu_cache_valid_count(iommu_iec(sys.unit)), 0u); // not cached
    iommu_fault_record rec;
    iommu_irq_fault_record(&op, &rec);
    EXPECT_EQ(rec.reason, 0x22);
    EXPECT_EQ(rec.sid, DEV_A);
    EXPECT_EQ(rec.fi, 4ull << 48);
    EXPECT_FALSE(rec.is_read);
}

TEST_F(Remap, FaultTableAccessBeyondHaw0x23)
{
    sys.cfg.haw = 39;
    build(true, 15); // 64 K entries
    const uint64_t base = (1ull << 39) - 0x1000; // last page below 2^39: 256 entries fit
    ASSERT_EQ(iommu_irq_set_irta(irq, IOMMU_IRTA(base, 15, false)), IOMMU_OK);
    uint64_t w[2];
    iommu_irte e = remapped(0x30, 0);
    iommu_irte_encode(&e, w);
    iommu_physmem_write64(sys.mem, base + 16 * 255, w[0]);
    iommu_physmem_write64(sys.mem, base + 16 * 255 + 8, w[1]);
    EXPECT_TRUE(fire(DEV_A, 255));
    EXPECT_EQ(fault_of(DEV_A, iommu_msi_addr_remappable(256, false), 0), 0x23);
    EXPECT_EQ(sys.c("irq.faults.reason_0x23"), 1u);
}

TEST_F(Remap, FaultReservedBits0x24)
{
    uint64_t w[2];
    iommu_irte e = remapped(0x30, iommu_irte_dst_field(1, false));
    iommu_irte_encode(&e, w);
    w[0] |= 1ull << 32; // xAPIC destination bit 39:32 reserved
    write_raw(6, w);
    EXPECT_EQ(fault_of(DEV_A, iommu_msi_addr_remappable(6, false), 0), 0x24);
    iommu_irte p{};
    p.p = p.im = true;
    p.pda = PIDA;
    write_irte(7, p);
    build(false); // a posted entry in a unit without CAP.PI
    write_irte(7, p);
    EXPECT_EQ(fault_of(DEV_A, iommu_msi_addr_remappable(7, false), 0), 0x24);
    EXPECT_EQ(sys.c("irq.faults.reason_0x24"), 1u);
    EXPECT_EQ(iommu_cache_valid_count(iommu_iec(sys.unit)), 0u);
}

TEST_F(Remap, FaultCompatibilityBlocked0x25AndPassThrough)
{
    const uint64_t a = iommu_msi_addr_compat(7, false, false);
    const uint32_t d = iommu_msi_data_compat(0x61, 0, false);
    EXPECT_EQ(fault_of(DEV_A, a, d), 0x25);
    EXPECT_EQ(sys.c("irq.faults.reason_0x25"), 1u);
    iommu_irq_set_cfi(irq, true);
    EXPECT_TRUE(iommu_irq_cfis(irq));
    iommu_irq_req r{DEV_A, a, d};
    ASSERT_TRUE(iommu_irq_functional(irq, sys.mem, &op, &r));
    EXPECT_EQ(op.out.kind, IOMMU_IRQ_PASSTHROUGH);
    EXPECT_EQ(op.out.dest, 7u);
    EXPECT_EQ(op.out.vector, 0x61);
    // remapping disabled: every request passes through unremapped, CFIS or not
    iommu_irq_set_cfi(irq, false);
    ASSERT_EQ(iommu_irq_enable(irq, false), IOMMU_OK);
    ASSERT_TRUE(iommu_irq_functional(irq, sys.mem, &op, &r));
    EXPECT_EQ(op.out.kind, IOMMU_IRQ_PASSTHROUGH);
    EXPECT_EQ(sys.c("irq.compat"), 2u);
    EXPECT_EQ(sys.c("irq.faults"), 1u);
}

TEST_F(Remap, FaultSourceIdVerification0x26)
{
    iommu_irte e = remapped(0x30, 0);
    e.svt = IOMMU_IRTE_SVT_SID;
    e.sid = DEV_A;
    write_irte(3, e);
    EXPECT_TRUE(fire(DEV_A, 3));
    EXPECT_EQ(fault_of(DEV_B, iommu_msi_addr_remappable(3, false), 0), 0x26);
    e.svt = IOMMU_IRTE_SVT_BUS;
    e.sid = 0x0404; // bus 4 only
    write_irte(8, e);
    EXPECT_TRUE(fire(DEV_B, 8));
    EXPECT_EQ(fault_of(DEV_A, iommu_msi_addr_remappable(8, false), 0), 0x26);
    EXPECT_EQ(sys.c("irq.faults.reason_0x26"), 2u);
    EXPECT_EQ(sys.c("irq.faults"), 2u);
    EXPECT_EQ(sys.c("iec.hits"), 2u); // valid entries stay cached after a verification failure
}

TEST_F(Remap, RegisterErrors)
{
    EXPECT_EQ(iommu_irq_set_irta(irq, IRT | 0x10), IOMMU_ERR_INVAL);
    sys.cfg.eim = false;
    sys.cfg.ir = false;
    sys.build();
    iommu_irq_t *q = iommu_irq_create(sys.unit, sys.stats);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(iommu_irq_set_irta(q, IOMMU_IRTA(IRT, 0, true)), IOMMU_ERR_UNSUPP);
    EXPECT_EQ(iommu_irq_enable(q, true), IOMMU_ERR_UNSUPP);
    EXPECT_FALSE(iommu_irq_enabled(q));
    iommu_irq_destroy(q);
    iommu_irq_destroy(nullptr);
    iommu_irq_destroy(irq);
    irq = nullptr;
}

TEST_F(Remap, IecHitsAndMisses)
{
    for (uint32_t i = 0; i < 4; i++)
        write_irte(i, remapped((uint8_t)(0x30 + i), 0));
    for (int round = 0; round < 3; round++)
        for (uint16_t i = 0; i < 4; i++)
            ASSERT_TRUE(fire(DEV_A, i));
    EXPECT_EQ(sys.c("iec.misses"), 4u);
    EXPECT_EQ(sys.c("iec.hits"), 8u);
    EXPECT_EQ(sys.c("irq.irte_reads"), 4u);
    EXPECT_EQ(iommu_cache_valid_count(iommu_iec(sys.unit)), 4u);
}

TEST_F(Remap, ChangedEntryTakesEffectOnlyAfterIecInvalidationThroughTheQueue)
{
    iommu_invq_t *q = iommu_invq_create(sys.unit, sys.stats);
    ASSERT_NE(q, nullptr);
    ASSERT_EQ(iommu_invq_write_iqa(q, QBASE), IOMMU_OK);
    ASSERT_EQ(iommu_invq_enable(q, true), IOMMU_OK);
    uint32_t tail = 0;
    auto submit = [&](const uint64_t d[4]) {
        ASSERT_EQ(iommu_physmem_write(sys.mem, QBASE + tail, d, 16), IOMMU_OK);
        tail += 16;
        iommu_invq_write_iqt(q, tail);
        EXPECT_EQ(iommu_invq_run(q, sys.mem), 1u);
    };

    write_irte(0x20, remapped(0x40, 0));
    write_irte(0x21, remapped(0x41, 0));
    ASSERT_TRUE(fire(DEV_A, 0x20));
    ASSERT_TRUE(fire(DEV_A, 0x21));
    write_irte(0x20, remapped(0x50, 0)); // software changes both entries...
    write_irte(0x21, remapped(0x51, 0));
    ASSERT_TRUE(fire(DEV_A, 0x20));
    EXPECT_EQ(op.out.vector, 0x40); // ...stale until invalidated
    uint64_t d[4];
    iommu_qi_enc_iec(d, true, 0x20, 0); // index-selective: 0x20 only
    submit(d);
    ASSERT_TRUE(fire(DEV_A, 0x20));
    EXPECT_FALSE(op.iec_hit);
    EXPECT_EQ(op.out.vector, 0x50);
    ASSERT_TRUE(fire(DEV_A, 0x21));
    EXPECT_TRUE(op.iec_hit);
    EXPECT_EQ(op.out.vector, 0x41);
    iommu_qi_enc_iec(d, false, 0, 0); // global
    submit(d);
    ASSERT_TRUE(fire(DEV_A, 0x21));
    EXPECT_FALSE(op.iec_hit);
    EXPECT_EQ(op.out.vector, 0x51);
    // a present entry made not-present faults once invalidated
    write_irte(0x20, iommu_irte{});
    iommu_qi_enc_iec(d, true, 0x20, 0);
    submit(d);
    EXPECT_FALSE(fire(DEV_A, 0x20));
    EXPECT_EQ(op.fault_reason, 0x22);
    EXPECT_EQ(sys.c("iec.misses"), 5u);
    EXPECT_EQ(sys.c("iec.hits"), 2u);
    iommu_invq_destroy(q);
}

} // namespace
