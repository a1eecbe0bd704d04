// test_irq_timed.cpp — interrupts in time: the IRTE read on an IEC miss, the IEC lookup on a
// hit and the posted-descriptor read and write each add their exact time to an interrupt's
// latency; an IPI adds the landing CPU's handler, the IPI's flight and its receipt; a
// preempted vCPU's interrupt waits for the trace's next `run` of that vCPU; and a crafted
// migration sequence gives the same counts in time as in the functional model. Round
// numbers: memory 100 ns + 512 Gb/s (16 B = 250 ps, 64 B = 1 ns), IEC lookup 2 ns, CPU
// 2.5 GHz (1000 cycles = 400 ns), IPI flight 1000 ns, delivery 100 ns.
#include <gtest/gtest.h>

#include <string>

#include "tlm/timed_fixture.h"

using namespace iommusim::tlm_model;

namespace {

TimedConfig irq_config(uint8_t scheme)
{
    TimedConfig c = timed_test_config();
    c.unit.ir = true;
    c.unit.pi = true;
    c.dma.cpu_ghz = 2.5;
    c.irq.scheme = scheme;
    c.timing.iec_ns = 2.0;
    return c;
}

// Vector 0 for CPU 0 (xAPIC id in bits 47:40), vector 0x30, source 00:02.0 verified.
const std::string kSetup = "irte index=0 lo=0x300001 hi=0x40010\n"
                           "inv type=iec-index index=0 am=0\n"
                           "inv type=wait\n";
const std::string kMsi = "msi sid=00:02.0 addr=0xfee00010 data=0x0";

// One run (SystemC elaborates one model per process): latencies in ps, in delivery order.
std::vector<uint64_t> run_latencies(uint8_t scheme, const std::string &body, TimedRun &r)
{
    r.go(irq_config(scheme), write_trace_file(kSetup + body));
    EXPECT_EQ(r.irq.size(), r.c("irq.delivered"));
    return r.irq;
}

// The upstream crossing of the 4-byte interrupt write: serialisation + link latency.
uint64_t link_ps(const TimedRun &r)
{
    const PcieLinkModel &m = r.sys->link(0).model();
    return m.tlp_time_ps(m.write_bytes(4).bytes) + 200000;
}

TEST(IrqTimed, StaticDeliveryIsTheWriteTheInterfaceAndTheMessage)
{
    TimedRun r;
    auto l = run_latencies(IOMMU_IRQS_STATIC, "sched thread=0 cpu=0 state=run t=0\n" + kMsi + " t=10000\n", r);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0], link_ps(r) + 8000 + 100000); // no remapping: interface, then delivery
}

TEST(IrqTimed, IrteReadOnAnIecMissAndTheIecLookupOnAHit)
{
    TimedRun r;
    auto l = run_latencies(IOMMU_IRQS_REMAP, "sched thread=0 cpu=0 state=run t=0\n" + kMsi +
                                                 " t=10000\n" + kMsi + " t=20000\n", r);
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[1], link_ps(r) + 8000 + 2000 + 100000);  // IEC hit
    EXPECT_EQ(l[0] - l[1], 100250u);                        // the 16-byte IRTE read
    EXPECT_EQ(r.c("iec.misses"), 1u);
    EXPECT_EQ(r.c("iec.hits"), 1u);
}

TEST(IrqTimed, PostingReadsAndWritesTheDescriptor)
{
    TimedRun r;
    auto l = run_latencies(IOMMU_IRQS_POSTED, "sched thread=0 cpu=0 state=run t=0\n" + kMsi +
                                                  " t=10000\n" + kMsi + " t=20000\n", r);
    ASSERT_EQ(l.size(), 2u);
    // IEC hit, then the descriptor's 64-byte read and write (100 + 1 ns each); the running
    // vCPU takes the notification without an exit
    EXPECT_EQ(l[1], link_ps(r) + 8000 + 2000 + 2 * 101000 + 100000);
    EXPECT_EQ(r.c("irq.notifications"), 2u);
    EXPECT_EQ(r.c("irq.path.posted"), 2u);
}

TEST(IrqTimed, AnIpiAddsTheHandlerItsFlightAndItsReceipt)
{
    TimedRun r;
    auto l = run_latencies(IOMMU_IRQS_STATIC, "sched thread=0 cpu=0 state=run t=0\n" + kMsi +
                                                  " t=10000\nsched thread=0 cpu=1 state=run t=15000\n" +
                                                  kMsi + " t=20000\n", r);
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[1] - l[0], 400000u + 1000000u + 2000000u); // handler, flight, 5000-cycle IPI
}

TEST(IrqTimed, APreemptedVcpuGetsItsInterruptWhenItRunsAgain)
{
    TimedRun r;
    auto l = run_latencies(IOMMU_IRQS_POSTED, "sched thread=0 cpu=0 state=preempt t=0\n" + kMsi +
                                                  " t=10000\nsched thread=0 cpu=0 state=run t=60000\n", r);
    EXPECT_EQ(r.c("irq.path.deferred"), 1u);
    EXPECT_EQ(r.c("irq.notifications"), 0u);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0], 50000000u); // from the device's write to the vCPU's run
}

TEST(IrqTimed, APreemptedVcpuThatHaltsReleasesItsInterruptThen)
{
    TimedRun r;
    auto l = run_latencies(IOMMU_IRQS_POSTED, "sched thread=0 cpu=0 state=preempt t=0\n" + kMsi +
                                                  " t=10000\nsched thread=0 cpu=0 state=stop t=30000\n", r);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0], 20000000u); // it ran before it halted
}

TEST(IrqTimed, LatencyPercentilesBeyondOneMillisecond)
{
    Latency l;
    for (uint64_t ns : {500ull, 2500000ull, 2550000ull, 7000000ull, 2000000000ull})
        l.add(ns * 1000);
    EXPECT_EQ(l.percentile_ns(0.2), 500.0);
    EXPECT_EQ(l.percentile_ns(0.4), 2500000.0); // 100 us bins from 1 ms on
    EXPECT_EQ(l.percentile_ns(0.6), 2500000.0);
    EXPECT_EQ(l.percentile_ns(0.8), 7000000.0);
    EXPECT_EQ(l.percentile_ns(1.0), 2000000000.0); // beyond 1 s: the maximum
    EXPECT_EQ(l.nonzero_coarse_bins().size(), 3u);
}

struct Want {
    uint8_t scheme;
    uint64_t ipis, exits, direct, ipi, vmexit, posted, wakeup, deferred;
};

// The functional test's sequence (tests/host/irq_host_test.cpp), closed loop: each sched event
// waits for the interrupts before it, so the counts are the functional model's.
void crafted(const Want &w)
{
    const std::string seq = "sched thread=0 cpu=0 state=run\n" + kMsi + "\n" + kMsi +
                            "\nsched thread=0 cpu=1 state=run\n" + kMsi + "\n" + kMsi +
                            "\nsched thread=0 cpu=1 state=stop\n" + kMsi +
                            "\nsched thread=0 cpu=0 state=preempt\n" + kMsi +
                            "\nsched thread=0 cpu=0 state=run\n";
    TimedRun r;
    r.go(irq_config(w.scheme), write_trace_file(kSetup + seq));
    EXPECT_EQ(r.c("irq.delivered"), 6u);
    EXPECT_EQ(r.c("irq.ipis"), w.ipis);
    EXPECT_EQ(r.c("irq.vm_exits"), w.exits);
    EXPECT_EQ(r.c("irq.path.direct"), w.direct);
    EXPECT_EQ(r.c("irq.path.ipi"), w.ipi);
    EXPECT_EQ(r.c("irq.path.vm_exit"), w.vmexit);
    EXPECT_EQ(r.c("irq.path.posted"), w.posted);
    EXPECT_EQ(r.c("irq.path.wakeup"), w.wakeup);
    EXPECT_EQ(r.c("irq.path.deferred"), w.deferred);
    EXPECT_EQ(r.irq.size(), 6u); // the deferred one's latency at the last run
}

TEST(IrqTimed, CraftedSequenceStatic) { crafted({IOMMU_IRQS_STATIC, 3, 0, 3, 2, 0, 0, 1, 0}); }
TEST(IrqTimed, CraftedSequenceRemap) { crafted({IOMMU_IRQS_REMAP, 0, 0, 5, 0, 0, 0, 1, 0}); }
TEST(IrqTimed, CraftedSequencePosted) { crafted({IOMMU_IRQS_POSTED, 0, 0, 0, 0, 0, 4, 1, 1}); }
TEST(IrqTimed, CraftedSequenceVmExit) { crafted({IOMMU_IRQS_VMEXIT, 3, 4, 0, 0, 4, 0, 1, 1}); }

TEST(IrqTimed, RetargetWaitsForTheIecInvalidation)
{
    TimedRun r;
    r.go(irq_config(IOMMU_IRQS_REMAP),
         write_trace_file(kSetup + "sched thread=0 cpu=0 state=run\n" + kMsi +
                          "\nsched thread=0 cpu=3 state=run\n" + kMsi + "\n"));
    EXPECT_EQ(r.c("irq.retargets"), 1u);
    EXPECT_EQ(r.c("irq.ipis"), 0u);
    EXPECT_EQ(r.sys->host_stats().waits, 2u); // the set-up's wait and the retarget's
    // the retarget's cycles include its spin on the wait (positive, beyond the CPU work)
    const uint64_t work = 300 + 2 * (uint64_t)irq_config(0).dma.cycles.desc +
                          2 * (uint64_t)irq_config(0).dma.cycles.doorbell;
    EXPECT_GT(r.c("irq.retarget_cycles"), work);
}

} // namespace
