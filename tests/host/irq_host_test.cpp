// irq_host_test.cpp — the host's interrupt model, untimed: for crafted migration and vCPU-state
// sequences, every scheme's IPIs, VM exits, delivery paths and cycles equal the values worked
// out by hand below (costs: handler 1000, IPI 5000, VM exit 2000, host handler 1000, wake-up
// 2000, IRTE update 300, PID update 100 — the defaults); retargeting goes through the
// invalidation queue; posting leaves interrupts in the PIR while a vCPU is preempted; bad
// host events and impossible set-ups are refused with a message.
#include <gtest/gtest.h>

#include "model/iommu/unit_fixture.h"

extern "C" {
#include "host/apply.h"
#include "host/irq_host.h"
#include "model/irq_remap/irq_remap.h"
}

namespace {

constexpr iommu_sid_t DEV = IOMMU_SID(0, 2, 0);

struct Irq {
    UnitSystem sys;
    iommu_dma_cfg dcfg;
    iommu_irqhost_cfg cfg;
    iommu_invq_t *q = nullptr;
    iommu_prot_t *prot = nullptr;
    iommu_dma_t *d = nullptr;
    iommu_irq_t *hw = nullptr;
    iommu_irqhost_t *h = nullptr;
    iommu_host_env env{};
    const char *why = "";

    explicit Irq(uint8_t scheme, void (*tweak)(iommu_irqhost_cfg &, iommu_cfg &) = nullptr)
    {
        iommu_dma_cfg_default(&dcfg);
        iommu_irqhost_cfg_default(&cfg);
        cfg.scheme = scheme;
        sys.cfg.ir = true;
        sys.cfg.pi = true;
        if (tweak)
            tweak(cfg, sys.cfg);
        sys.build();
        q = iommu_invq_create(sys.unit, sys.stats);
        prot = iommu_prot_create(sys.unit, sys.stats);
        d = iommu_dma_create(&dcfg, sys.host, sys.unit, q, sys.mem, prot, sys.stats);
        hw = iommu_irq_create(sys.unit, sys.stats);
        h = iommu_irqhost_create(&cfg, hw, sys.unit, sys.mem, d, sys.stats, &why);
        env = {sys.host, sys.unit, q, prot, d, sys.mem, h};
    }
    ~Irq()
    {
        iommu_irqhost_destroy(h);
        iommu_irq_destroy(hw);
        iommu_dma_destroy(d);
        iommu_prot_destroy(prot);
        iommu_invq_destroy(q);
    }
    uint64_t c(const char *name) const
    {
        const iommu_stat_info *e = iommu_stats_find(sys.stats, name);
        return e ? *e->counter : ~0ull;
    }
    void host(const iommu_trace_event &ev)
    {
        char what[200];
        iommu_dma_work w;
        ASSERT_EQ(iommu_host_apply(&env, &ev, 0, &w, what, sizeof what), IOMMU_OK) << what;
        ASSERT_EQ(iommu_host_complete_functional(&env, &w, 0, 0, what, sizeof what), IOMMU_OK) << what;
    }
    // The OS's entry for vector `index`: remapped, vector 0x30 + index, physical destination
    // `cpu` (xAPIC), source validation of DEV; then its IEC invalidation.
    void irte(uint32_t index, uint32_t cpu)
    {
        iommu_irte e{};
        e.p = true;
        e.vector = (uint8_t)(0x30 + index);
        e.dst = iommu_irte_dst_field(cpu, false);
        e.svt = IOMMU_IRTE_SVT_SID;
        e.sid = DEV;
        uint64_t w[2];
        iommu_irte_encode(&e, w);
        iommu_trace_event ev;
        iommu_trace_event_init(&ev, IOMMU_EV_IRTE);
        ev.index = index;
        ev.lo = w[0];
        ev.hi = w[1];
        host(ev);
        iommu_trace_event_init(&ev, IOMMU_EV_INV);
        ev.inv_type = IOMMU_INV_IEC_INDEX;
        ev.index = index;
        host(ev);
    }
    void sched(uint64_t thread, uint32_t cpu, uint8_t state)
    {
        iommu_trace_event ev;
        iommu_trace_event_init(&ev, IOMMU_EV_SCHED);
        ev.thread = thread;
        ev.cpu = cpu;
        ev.state = state;
        host(ev);
    }
    bool msi(uint32_t index, int64_t thread = -1, uint32_t ios = 1)
    {
        iommu_trace_event ev;
        iommu_trace_event_init(&ev, IOMMU_EV_MSI);
        ev.sid = DEV;
        ev.pa = iommu_msi_addr_remappable((uint16_t)index, false);
        ev.data = 0;
        ev.ios = ios;
        if (thread >= 0) {
            ev.flags |= IOMMU_EVF_THREAD;
            ev.thread = (uint64_t)thread;
        }
        return iommu_irqhost_msi_functional(h, &ev);
    }
    iommu_irqhost_summary sum() const
    {
        iommu_irqhost_summary s;
        iommu_irqhost_summarize(h, &s);
        return s;
    }
};

enum { STOP = 0, RUN = 1, PREEMPT = 2 };

// Vector 0 set up for CPU 0; its consumer (thread 0) runs on CPU 0 for two interrupts, moves
// to CPU 1 for two, halts there for one, is preempted back on CPU 0 for one, then runs.
void sequence(Irq &x)
{
    x.irte(0, 0);
    x.sched(0, 0, RUN);
    EXPECT_TRUE(x.msi(0));
    EXPECT_TRUE(x.msi(0));
    x.sched(0, 1, RUN);
    EXPECT_TRUE(x.msi(0));
    EXPECT_TRUE(x.msi(0));
    x.sched(0, 1, STOP);
    EXPECT_TRUE(x.msi(0));
    x.sched(0, 0, PREEMPT);
    EXPECT_TRUE(x.msi(0));
    x.sched(0, 0, RUN);
}

TEST(IrqHost, StaticSendsAnIpiWheneverTheConsumerIsAway)
{
    Irq x(IOMMU_IRQS_STATIC);
    ASSERT_NE(x.h, nullptr) << x.why;
    sequence(x);
    // on CPU 0: direct, direct; on CPU 1: IPI, IPI; halted on 1: IPI + wake-up; preempted on
    // CPU 0 = the interrupt's CPU: direct
    EXPECT_EQ(x.c("irq.ipis"), 3u);
    EXPECT_EQ(x.c("irq.path.direct"), 3u);
    EXPECT_EQ(x.c("irq.path.ipi"), 2u);
    EXPECT_EQ(x.c("irq.path.wakeup"), 1u);
    EXPECT_EQ(x.c("irq.cycles"), 2 * 1000u + 2 * 6000u + 8000u + 1000u);
    EXPECT_EQ(x.c("irq.compat"), 6u); // no remapping: the device writes compatibility format
    EXPECT_EQ(x.c("iec.hits") + x.c("iec.misses"), 0u);
    const auto s = x.sum();
    EXPECT_EQ(s.cycles_saved, 0);
    EXPECT_EQ(s.ipis_avoided, 0u);
}

TEST(IrqHost, RemapRetargetsOnEveryMoveAndSendsNoIpi)
{
    Irq x(IOMMU_IRQS_REMAP);
    ASSERT_NE(x.h, nullptr) << x.why;
    const uint64_t desc0 = x.c("inv.descriptors");
    sequence(x);
    EXPECT_EQ(x.c("irq.ipis"), 0u);
    EXPECT_EQ(x.c("irq.ipis_avoided"), 3u);
    EXPECT_EQ(x.c("irq.retargets"), 2u); // to CPU 1, back to CPU 0
    EXPECT_EQ(x.c("irq.path.direct"), 5u);
    EXPECT_EQ(x.c("irq.path.wakeup"), 1u);
    EXPECT_EQ(x.c("irq.remapped"), 6u);
    EXPECT_EQ(x.c("irq.cycles"), 5 * 1000u + 3000u);
    EXPECT_EQ(x.c("irq.baseline_cycles"), 23000u);
    // each retarget: one IEC descriptor and a wait through the queue (plus the OS's own
    // IEC invalidation at set-up)
    EXPECT_EQ(x.c("inv.descriptors") - desc0, 1u + 2 * 2u);
    // the IEC entry was invalidated at each move: a miss after each (and the first)
    EXPECT_EQ(x.c("iec.misses"), 3u);
    EXPECT_EQ(x.c("iec.hits"), 3u);
    const auto s = x.sum();
    EXPECT_EQ(s.cycles_saved, 15000);
    const uint64_t per_retarget = 300 + 2 * (uint64_t)x.dcfg.cycles.desc + 2 * (uint64_t)x.dcfg.cycles.doorbell;
    EXPECT_EQ(s.retarget_cycles, 2 * per_retarget);
    EXPECT_EQ(s.net_cycles_saved, 15000 - (int64_t)(2 * per_retarget));
}

TEST(IrqHost, PostedAvoidsEveryExitAndDefersWhilePreempted)
{
    Irq x(IOMMU_IRQS_POSTED);
    ASSERT_NE(x.h, nullptr) << x.why;
    sequence(x);
    EXPECT_EQ(x.c("irq.vm_exits"), 0u);
    EXPECT_EQ(x.c("irq.vm_exits_avoided"), 4u); // the four running-vCPU interrupts
    EXPECT_EQ(x.c("irq.ipis"), 0u);
    EXPECT_EQ(x.c("irq.ipis_avoided"), 3u);
    EXPECT_EQ(x.c("irq.path.posted"), 4u);
    EXPECT_EQ(x.c("irq.path.wakeup"), 1u);
    EXPECT_EQ(x.c("irq.path.deferred"), 1u);
    EXPECT_EQ(x.c("irq.posted"), 6u);
    EXPECT_EQ(x.c("irq.notifications"), 5u); // none while preempted (SN)
    EXPECT_EQ(x.c("irq.retargets"), 1u);     // the entry turned into posted format once
    EXPECT_EQ(x.c("irq.pid_updates"), 6u);   // 4 sched events + the wake-up's NV switch
    EXPECT_EQ(x.c("irq.cycles"), 4 * 1000u + 4000u + 1000u);
    EXPECT_EQ(x.c("irq.baseline_cycles"), 2 * 4000u + 2 * 9000u + 9000u + 2000u);
    EXPECT_EQ(x.sum().retarget_cycles, 300u + 6 * 100u);
    EXPECT_EQ(x.sum().pending, 0u); // the last run handed the deferred one over
}

TEST(IrqHost, VmExitExitsForEveryRunningVcpuInterrupt)
{
    Irq x(IOMMU_IRQS_VMEXIT);
    ASSERT_NE(x.h, nullptr) << x.why;
    sequence(x);
    EXPECT_EQ(x.c("irq.vm_exits"), 4u);
    EXPECT_EQ(x.c("irq.ipis"), 3u); // the two on CPU 1 and the wake-up there
    EXPECT_EQ(x.c("irq.path.vm_exit"), 4u);
    EXPECT_EQ(x.c("irq.path.wakeup"), 1u);
    EXPECT_EQ(x.c("irq.path.deferred"), 1u);
    EXPECT_EQ(x.c("irq.cycles"), 37000u);
    EXPECT_EQ(x.sum().cycles_saved, 0);
}

TEST(IrqHost, PreemptedVcpuCollectsPirBitsWithoutNotification)
{
    Irq x(IOMMU_IRQS_POSTED);
    ASSERT_NE(x.h, nullptr) << x.why;
    x.irte(0, 0);
    x.irte(1, 0);
    x.sched(7, 0, PREEMPT);
    for (int i = 0; i < 3; i++) {
        EXPECT_TRUE(x.msi(0, 7));
        EXPECT_TRUE(x.msi(1, 7));
    }
    EXPECT_EQ(x.c("irq.notifications"), 0u);
    EXPECT_EQ(x.c("irq.path.deferred"), 6u);
    EXPECT_EQ(x.sum().pending, 6u); // all six wait for the vCPU
    // the descriptor of consumer 7 (the first consumer: index 0) holds both vectors
    uint64_t w[8];
    iommu_physmem_read(x.sys.mem, x.cfg.pid_base, w, 64);
    iommu_pid pid;
    iommu_pid_decode(w, &pid);
    EXPECT_TRUE(pid.sn);
    EXPECT_FALSE(pid.on);
    EXPECT_EQ(pid.pir[0], (1ull << 0x30) | (1ull << 0x31));
    x.sched(7, 0, RUN); // the vCPU takes its interrupts: PIR cleared, SN clear
    EXPECT_EQ(x.sum().pending, 0u);
    EXPECT_EQ(x.c("irq.released"), 6u);
    iommu_physmem_read(x.sys.mem, x.cfg.pid_base, w, 64);
    iommu_pid_decode(w, &pid);
    EXPECT_FALSE(pid.sn);
    EXPECT_EQ(pid.pir[0], 0u);
    EXPECT_EQ(pid.nv, x.cfg.posted_vector);
    EXPECT_TRUE(x.msi(0, 7));
    EXPECT_EQ(x.c("irq.notifications"), 1u);
}

TEST(IrqHost, APreemptedVcpuThatHaltsHasTakenWhatWaitedForIt)
{
    // preempted with an interrupt in its PIR, then halted (it ran in between): nothing is left
    // waiting, and its descriptor's PIR is empty; likewise for vm-exit's pending injection
    for (uint8_t scheme : {IOMMU_IRQS_POSTED, IOMMU_IRQS_VMEXIT}) {
        Irq x(scheme);
        ASSERT_NE(x.h, nullptr) << x.why;
        x.irte(0, 0);
        x.sched(3, 0, PREEMPT);
        EXPECT_TRUE(x.msi(0, 3));
        EXPECT_EQ(x.c("irq.path.deferred"), 1u);
        x.sched(3, 0, STOP);
        EXPECT_EQ(x.c("irq.released"), 1u);
        EXPECT_EQ(x.sum().pending, 0u);
        EXPECT_TRUE(x.msi(0, 3)); // wakes it
        EXPECT_EQ(x.c("irq.path.wakeup"), 1u);
        if (scheme == IOMMU_IRQS_POSTED) {
            uint64_t w[8];
            iommu_physmem_read(x.sys.mem, x.cfg.pid_base, w, 64);
            iommu_pid pid;
            iommu_pid_decode(w, &pid);
            EXPECT_EQ(pid.pir[0], 0u);
            EXPECT_EQ(pid.nv, x.cfg.posted_vector); // running again after the wake-up
        }
    }
}

TEST(IrqHost, ConsumersNamedByTheMsiShareTheirRetargets)
{
    // a NIC queue: RX vector 0 and TX vector 1 both consumed by thread 5
    Irq x(IOMMU_IRQS_REMAP);
    ASSERT_NE(x.h, nullptr) << x.why;
    x.irte(0, 0);
    x.irte(1, 0);
    x.sched(5, 0, RUN);
    EXPECT_TRUE(x.msi(0, 5, 8));
    EXPECT_TRUE(x.msi(1, 5, 32));
    x.sched(5, 2, RUN); // both entries follow
    EXPECT_EQ(x.c("irq.retargets"), 2u);
    EXPECT_TRUE(x.msi(0, 5, 8));
    EXPECT_TRUE(x.msi(1, 5, 32));
    EXPECT_EQ(x.c("irq.ipis"), 0u);
    EXPECT_EQ(x.c("irq.ipis_avoided"), 2u);
    EXPECT_EQ(x.c("irq.ios"), 80u);
    const auto s = x.sum();
    EXPECT_DOUBLE_EQ(s.net_per_io, (double)s.net_cycles_saved / 80.0);
    EXPECT_DOUBLE_EQ(s.net_per_irq, (double)s.net_cycles_saved / 4.0);
}

TEST(IrqHost, UnplacedConsumerRunsWhereItsInterruptLands)
{
    Irq x(IOMMU_IRQS_STATIC);
    ASSERT_NE(x.h, nullptr) << x.why;
    x.irte(3, 2);
    EXPECT_TRUE(x.msi(3));
    EXPECT_EQ(x.c("irq.unplaced"), 1u);
    EXPECT_EQ(x.c("irq.path.direct"), 1u);
    EXPECT_EQ(x.c("irq.ipis"), 0u);
}

TEST(IrqHost, SyntheticSchedulerMovesTheConsumerEveryMInterrupts)
{
    auto tweak = [](iommu_irqhost_cfg &c, iommu_cfg &) {
        c.synthetic = true;
        c.sched.cpus = 2;
        c.sched.migrate_every = 2;
    };
    for (uint8_t scheme : {IOMMU_IRQS_STATIC, IOMMU_IRQS_REMAP}) {
        Irq x(scheme, tweak);
        ASSERT_NE(x.h, nullptr) << x.why;
        x.irte(0, 0);
        for (int i = 0; i < 4; i++) {
            iommu_trace_event msi;
            iommu_trace_event_init(&msi, IOMMU_EV_MSI);
            msi.sid = DEV;
            msi.pa = iommu_msi_addr_remappable(0, false);
            iommu_trace_event due[8];
            const unsigned n = iommu_irqhost_sched_due(x.h, &msi, 0, due);
            for (unsigned k = 0; k < n; k++)
                x.host(due[k]);
            EXPECT_TRUE(iommu_irqhost_msi_functional(x.h, &msi));
        }
        // placed on CPU 0; moved to 1 before the 2nd, to 0 before the 4th interrupt:
        // static sends IPIs for the 2nd and 3rd; remap retargets twice instead
        if (scheme == IOMMU_IRQS_STATIC) {
            EXPECT_EQ(x.c("irq.ipis"), 2u);
        } else {
            EXPECT_EQ(x.c("irq.ipis"), 0u);
            EXPECT_EQ(x.c("irq.retargets"), 2u);
        }
    }
}

TEST(IrqHost, SyntheticSchedulerStartsAConsumerWhereItsInterruptWasSetUp)
{
    Irq x(IOMMU_IRQS_STATIC, [](iommu_irqhost_cfg &c, iommu_cfg &) {
        c.synthetic = true;
        c.sched.cpus = 4;
        c.sched.migrate_every = 0;
    });
    ASSERT_NE(x.h, nullptr) << x.why;
    x.irte(1, 3); // consumer 1 would start on CPU 1 (1 mod 4); the OS set it up for CPU 3
    iommu_trace_event msi;
    iommu_trace_event_init(&msi, IOMMU_EV_MSI);
    msi.sid = DEV;
    msi.pa = iommu_msi_addr_remappable(1, false);
    for (int i = 0; i < 3; i++) {
        iommu_trace_event due[8];
        const unsigned n = iommu_irqhost_sched_due(x.h, &msi, 0, due);
        ASSERT_EQ(n, i == 0 ? 1u : 0u);
        if (n) {
            EXPECT_EQ(due[0].cpu, 3u);
            x.host(due[0]);
        }
        EXPECT_TRUE(iommu_irqhost_msi_functional(x.h, &msi));
    }
    EXPECT_EQ(x.c("irq.ipis"), 0u); // never moving: nothing to forward
    EXPECT_EQ(x.c("irq.path.direct"), 3u);
}

TEST(IrqHost, BadHostEventsAreRefusedWithAMessage)
{
    Irq x(IOMMU_IRQS_REMAP);
    ASSERT_NE(x.h, nullptr) << x.why;
    char what[200];
    iommu_dma_work w;
    iommu_trace_event ev;
    iommu_trace_event_init(&ev, IOMMU_EV_SCHED);
    ev.thread = 1;
    ev.cpu = 256; // beyond the 256 xAPIC CPUs
    EXPECT_EQ(iommu_host_apply(&x.env, &ev, 0, &w, what, sizeof what), IOMMU_ERR_INVAL);
    EXPECT_NE(std::string(what).find("cpu 256 beyond"), std::string::npos) << what;
    iommu_trace_event_init(&ev, IOMMU_EV_IRTE);
    ev.index = 65536 - 1;
    EXPECT_EQ(iommu_host_apply(&x.env, &ev, 0, &w, what, sizeof what), IOMMU_OK);
    Irq small(IOMMU_IRQS_REMAP, [](iommu_irqhost_cfg &c, iommu_cfg &) { c.irt_entries = 256; });
    ev.index = 256;
    EXPECT_EQ(iommu_host_apply(&small.env, &ev, 0, &w, what, sizeof what), IOMMU_ERR_INVAL);
    EXPECT_NE(std::string(what).find("irte index 256 beyond the table"), std::string::npos) << what;
}

TEST(IrqHost, SchemesTheUnitCannotDoAreRefused)
{
    Irq posted(IOMMU_IRQS_POSTED, [](iommu_irqhost_cfg &, iommu_cfg &u) { u.pi = false; });
    EXPECT_EQ(posted.h, nullptr);
    EXPECT_NE(std::string(posted.why).find("CAP.PI"), std::string::npos);
    Irq remap(IOMMU_IRQS_REMAP, [](iommu_irqhost_cfg &, iommu_cfg &u) { u.ir = false; });
    EXPECT_EQ(remap.h, nullptr);
    EXPECT_NE(std::string(remap.why).find("ECAP.IR"), std::string::npos);
    iommu_irqhost_cfg c;
    iommu_irqhost_cfg_default(&c);
    const char *key;
    char why[200];
    c.irt_entries = 100;
    EXPECT_EQ(iommu_irqhost_cfg_validate(&c, &key, why, sizeof why), IOMMU_ERR_INVAL);
    EXPECT_STREQ(key, "irq.irt_entries");
    iommu_irqhost_cfg_default(&c);
    c.max_cpus = 1000;
    EXPECT_EQ(iommu_irqhost_cfg_validate(&c, &key, why, sizeof why), IOMMU_ERR_INVAL);
    EXPECT_STREQ(key, "irq.max_cpus");
}

} // namespace
