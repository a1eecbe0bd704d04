// irq_gen_test.cpp — the interrupt-stream generator (host/irq_gen.h): the exact set-up
// (IRTEs decoded field by field, invalidations, initial placement), the exact count of
// msi events, timestamps that never decrease, every event valid and readable, NVMe
// coalescing and NIC NAPI/TX batching compared interrupt by interrupt with a plain
// reference model fed the same arrivals (so every completion and packet is counted exactly
// once), exact migration points, the vm states, determinism byte for byte, and every
// validation error.
#include "host/irq_gen.h"
#include "model/irq_remap/irte.h"
#include "model/irq_remap/msi.h"

#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace {

std::string tmp(const std::string &name) { return test_util::tmp_path("irqgen", name); }

iommu_irq_gen_params params(unsigned pattern, uint64_t count)
{
    iommu_irq_gen_params p;
    iommu_irq_gen_params_default(&p);
    p.pattern = pattern;
    p.count = count;
    return p;
}

// Generates into a file; returns its bytes.
std::string gen_bytes(const iommu_irq_gen_params &p, const std::string &name = "g.trace")
{
    std::string path = tmp(name);
    iommu_trace_error err{};
    iommu_trace_writer_t *w = iommu_trace_create(path.c_str(), &err);
    EXPECT_NE(w, nullptr) << err.msg;
    if (!w)
        return "";
    EXPECT_EQ(iommu_trace_gen_irq(&p, w, &err), IOMMU_OK) << err.msg;
    EXPECT_EQ(iommu_trace_finish(w, &err), IOMMU_OK) << err.msg;
    std::string data = test_util::slurp(path);
    std::remove(path.c_str());
    return data;
}

// Generates and reads the events back through the reader (which checks every event).
std::vector<iommu_trace_event> gen(const iommu_irq_gen_params &p, const char *name = "g.bin")
{
    std::string path = tmp(name);
    std::vector<iommu_trace_event> evs;
    iommu_trace_error err{};
    iommu_trace_writer_t *w = iommu_trace_create(path.c_str(), &err);
    EXPECT_NE(w, nullptr) << err.msg;
    if (!w)
        return evs;
    EXPECT_EQ(iommu_trace_gen_irq(&p, w, &err), IOMMU_OK) << err.msg;
    EXPECT_EQ(iommu_trace_finish(w, &err), IOMMU_OK) << err.msg;
    iommu_trace_reader_t *r = iommu_trace_open(path.c_str(), &err);
    EXPECT_NE(r, nullptr) << err.msg;
    if (!r)
        return evs;
    EXPECT_EQ(iommu_trace_version(r), 3u);
    iommu_trace_event ev;
    int st;
    while ((st = iommu_trace_next(r, &ev, &err)) > 0)
        evs.push_back(ev);
    EXPECT_EQ(st, 0) << err.msg;
    iommu_trace_close(r);
    std::remove(path.c_str());
    return evs;
}

std::string line(const iommu_trace_event &ev)
{
    char buf[256];
    return iommu_trace_format_line(&ev, buf, sizeof buf) < 0 ? "<invalid>" : buf;
}

// The vector (IRTE index) an msi of the generator names: its remappable handle.
uint32_t vector_of(const iommu_trace_event &ev)
{
    iommu_msi m;
    EXPECT_EQ(iommu_msi_decode(ev.pa, ev.data, &m), 0);
    EXPECT_TRUE(m.remappable);
    EXPECT_FALSE(m.shv);
    return m.index;
}

struct Irq {
    uint64_t t;
    uint32_t ios;
    bool operator==(const Irq &o) const { return t == o.t && ios == o.ios; }
};
std::ostream &operator<<(std::ostream &os, const Irq &i) { return os << "{t=" << i.t << " ios=" << i.ios << "}"; }

// The msi events per vector, in order.
std::map<uint32_t, std::vector<Irq>> per_vector(const std::vector<iommu_trace_event> &evs)
{
    std::map<uint32_t, std::vector<Irq>> m;
    for (const auto &ev : evs)
        if (ev.type == IOMMU_EV_MSI)
            m[vector_of(ev)].push_back({ev.time_ns, ev.ios});
    return m;
}

// A vector's arrivals, as the generator draws them.
std::vector<uint64_t> arrivals(const iommu_irq_gen_params &p, uint32_t vector, size_t n)
{
    iommu_irq_arrivals a;
    iommu_irq_arrivals_init(&a, p.seed, vector, iommu_irq_gen_rate(&p));
    std::vector<uint64_t> out;
    for (size_t i = 0; i < n; i++)
        out.push_back(iommu_irq_arrivals_next(&a));
    return out;
}

// ---- reference models: plain loops over a list of arrival times --------------------------

// NVMe coalescing: an interrupt at the K-th pending completion, or when the oldest has
// waited T (T = 0: never); the first `want` interrupts.
std::vector<Irq> ref_nvme(const std::vector<uint64_t> &arr, uint32_t K, uint64_t T, size_t want)
{
    std::vector<Irq> out;
    std::vector<uint64_t> pending;
    for (size_t i = 0; i < arr.size() && out.size() < want; i++) {
        if (!pending.empty() && T && arr[i] > pending.front() + T) {
            out.push_back({pending.front() + T, uint32_t(pending.size())});
            pending.clear();
        }
        pending.push_back(arr[i]);
        if (pending.size() == K) {
            out.push_back({arr[i], K});
            pending.clear();
        }
    }
    return out;
}

// NAPI: a packet while the vector is enabled fires; the window [t, t + W) is masked and
// its packets join that interrupt. Also returns how many packets the interrupts cover.
std::vector<Irq> ref_napi(const std::vector<uint64_t> &arr, uint64_t W, size_t want, uint64_t *covered)
{
    std::vector<Irq> out;
    *covered = 0;
    uint64_t masked_until = 0;
    bool any = false;
    for (uint64_t a : arr) {
        if (any && a < masked_until) {
            out.back().ios++;
        } else {
            if (out.size() == want)
                break;
            out.push_back({a, 1});
            masked_until = a + W;
            any = true;
        }
        (*covered)++;
    }
    return out;
}

// ---- tests ----------------------------------------------------------------------------------

TEST(IrqGen, DefaultsAndDerivedValues)
{
    iommu_irq_gen_params p;
    iommu_irq_gen_params_default(&p);
    EXPECT_EQ(p.pattern, unsigned(IOMMU_IRQ_NVME));
    EXPECT_EQ(p.cpus, 4u);
    EXPECT_EQ(iommu_irq_gen_queues(&p), 4u);
    EXPECT_EQ(iommu_irq_gen_vectors(&p), 4u);
    EXPECT_EQ(iommu_irq_gen_rate(&p), 200000.0);
    EXPECT_EQ(iommu_irq_gen_coalesce_ns(&p), 0u); // K = 1: no time limit needed
    p.coalesce = 8;
    EXPECT_EQ(iommu_irq_gen_coalesce_ns(&p), 100000u);
    p.coalesce_ns = 0;
    EXPECT_EQ(iommu_irq_gen_coalesce_ns(&p), 0u);
    EXPECT_EQ(p.napi_ns, 20000u);
    EXPECT_EQ(p.tx_batch, 32u);
    EXPECT_EQ(p.preempt_ns, 1000000u);
    EXPECT_DOUBLE_EQ(p.p_halted, 0.3);
    EXPECT_DOUBLE_EQ(p.p_preempted, 0.1);
    p.pattern = IOMMU_IRQ_NIC;
    p.queues = 3;
    EXPECT_EQ(iommu_irq_gen_vectors(&p), 6u);
    EXPECT_EQ(iommu_irq_gen_rate(&p), 1000000.0);
    p.rate = 5;
    EXPECT_EQ(iommu_irq_gen_rate(&p), 5.0);
    char reason[128] = "";
    p.count = 1;
    EXPECT_EQ(iommu_irq_gen_params_validate(&p, reason, sizeof reason), IOMMU_OK) << reason;
}

TEST(IrqGen, SetUpIsExact)
{
    iommu_irq_gen_params p = params(IOMMU_IRQ_NIC, 1);
    p.cpus = 2;
    p.queues = 3;
    auto evs = gen(p);
    // 6 vectors: irte + inv each, one wait, 3 sched, then the interrupt (and nothing else:
    // no vm, no migration)
    ASSERT_EQ(evs.size(), 6u * 2 + 1 + 3 + 1);
    for (uint32_t i = 0; i < 6; i++) {
        const auto &irte = evs[2 * i], &inv = evs[2 * i + 1];
        ASSERT_EQ(irte.type, IOMMU_EV_IRTE);
        EXPECT_EQ(irte.index, i);
        uint64_t raw[2] = {irte.lo, irte.hi};
        iommu_irte e;
        iommu_irte_decode(raw, &e);
        EXPECT_TRUE(e.p);
        EXPECT_FALSE(e.fpd);
        EXPECT_FALSE(e.im); // remapped format
        EXPECT_EQ(e.vector, 0x30 + i);
        EXPECT_EQ(e.dlm, 0); // fixed
        EXPECT_FALSE(e.dm);  // physical
        EXPECT_FALSE(e.rh);
        EXPECT_FALSE(e.tm);
        EXPECT_EQ(iommu_irte_apic_id(&e, false), (i / 2) % 2) << "vector " << i;
        EXPECT_EQ(e.dst, iommu_irte_dst_field((i / 2) % 2, false));
        EXPECT_EQ(e.svt, IOMMU_IRTE_SVT_SID);
        EXPECT_EQ(e.sq, IOMMU_IRTE_SQ_ALL);
        EXPECT_EQ(e.sid, IOMMU_SID(0, 3, 0));
        EXPECT_EQ(iommu_irte_check(raw, false, false), 0);
        EXPECT_EQ(line(inv), "inv type=iec-index index=" + std::to_string(i) + " am=0 t=0");
        EXPECT_EQ(irte.time_ns, 0u);
        EXPECT_EQ(irte.flags, IOMMU_EVF_TIME);
    }
    EXPECT_EQ(line(evs[12]), "inv type=wait t=0");
    EXPECT_EQ(line(evs[13]), "sched thread=0 cpu=0 state=run t=0");
    EXPECT_EQ(line(evs[14]), "sched thread=1 cpu=1 state=run t=0");
    EXPECT_EQ(line(evs[15]), "sched thread=2 cpu=0 state=run t=0");
    const auto &msi = evs[16];
    ASSERT_EQ(msi.type, IOMMU_EV_MSI);
    EXPECT_EQ(msi.sid, IOMMU_SID(0, 3, 0));
    EXPECT_EQ(msi.data, 0u);
    EXPECT_EQ(msi.flags, IOMMU_EVF_THREAD | IOMMU_EVF_TIME);
    EXPECT_EQ(msi.thread, vector_of(msi) / 2);
    EXPECT_GT(msi.time_ns, 0u);

    // nvme: one vector per queue, device 00:02.0; vectors wrap within 0x30 .. 0xef
    p = params(IOMMU_IRQ_NVME, 1);
    p.queues = 200;
    p.cpus = 255;
    evs = gen(p);
    ASSERT_GE(evs.size(), 401u);
    for (uint32_t i : {0u, 191u, 192u, 199u}) {
        uint64_t raw[2] = {evs[2 * i].lo, evs[2 * i].hi};
        iommu_irte e;
        iommu_irte_decode(raw, &e);
        EXPECT_EQ(e.vector, 0x30 + i % 192) << i;
        EXPECT_EQ(e.sid, IOMMU_SID(0, 2, 0));
        EXPECT_EQ(iommu_irte_apic_id(&e, false), i);
    }
}

// Every event valid, count exact, time never goes back, each msi's consumer is its queue.
TEST(IrqGen, CountTimesAndConsumers)
{
    for (unsigned pattern : {IOMMU_IRQ_NVME, IOMMU_IRQ_NIC}) {
        for (bool vm : {false, true}) {
            iommu_irq_gen_params p = params(pattern, 5000);
            p.queues = 6;
            p.cpus = 3;
            p.vm = vm;
            p.migrate_every = 7;
            p.coalesce = 3;
            p.seed = 77;
            auto evs = gen(p);
            uint64_t msis = 0, last_t = 0;
            for (const auto &ev : evs) {
                char reason[256];
                ASSERT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), 0) << reason;
                ASSERT_TRUE(ev.flags & IOMMU_EVF_TIME) << line(ev);
                ASSERT_GE(ev.time_ns, last_t) << line(ev);
                last_t = ev.time_ns;
                if (ev.type == IOMMU_EV_MSI) {
                    msis++;
                    uint32_t v = vector_of(ev);
                    EXPECT_EQ(ev.thread, pattern == IOMMU_IRQ_NIC ? v / 2 : v);
                    EXPECT_GE(ev.ios, 1u);
                } else if (ev.type == IOMMU_EV_SCHED) {
                    EXPECT_LT(ev.thread, 6u);
                    EXPECT_LT(ev.cpu, 3u);
                    if (!vm) {
                        EXPECT_EQ(ev.state, IOMMU_SCHED_RUN);
                    }
                }
            }
            EXPECT_EQ(msis, 5000u) << pattern << " vm " << vm;
            EXPECT_EQ(evs.back().type, IOMMU_EV_MSI); // the trace ends with the last msi
        }
    }
}

// NVMe coalescing without a time limit: every interrupt covers exactly K completions, at
// the K-th one's arrival.
TEST(IrqGen, NvmeCoalescingExact)
{
    iommu_irq_gen_params p = params(IOMMU_IRQ_NVME, 4000);
    p.queues = 4;
    p.coalesce = 4;
    p.coalesce_ns = 0;
    auto evs = gen(p);
    auto got = per_vector(evs);
    ASSERT_EQ(got.size(), 4u);
    size_t total = 0;
    for (auto &kv : got) {
        for (const Irq &i : kv.second)
            ASSERT_EQ(i.ios, 4u);
        auto arr = arrivals(p, kv.first, 4 * kv.second.size());
        auto want = ref_nvme(arr, 4, 0, kv.second.size());
        EXPECT_EQ(kv.second, want) << "vector " << kv.first;
        total += kv.second.size();
    }
    EXPECT_EQ(total, 4000u);

    // with the time limit (100 us by default for K > 1) at a rate where it matters:
    // 20000/s = one completion per 50 us on average, so many interrupts come by timeout
    p.coalesce_ns = IOMMU_IRQ_GEN_AUTO;
    p.coalesce = 8;
    p.rate = 20000;
    got = per_vector(gen(p));
    uint64_t timeouts = 0, full = 0;
    for (auto &kv : got) {
        auto arr = arrivals(p, kv.first, 8 * kv.second.size() + 8);
        auto want = ref_nvme(arr, 8, 100000, kv.second.size());
        EXPECT_EQ(kv.second, want) << "vector " << kv.first;
        // and the arrivals the interrupts cover are exactly the first ones
        uint64_t ios = 0;
        for (const Irq &i : kv.second) {
            ios += i.ios;
            (i.ios == 8 ? full : timeouts)++;
            ASSERT_LE(i.ios, 8u);
        }
        EXPECT_LE(kv.second.back().t, arr[ios - 1] + 100000);
    }
    EXPECT_GT(timeouts, 100u);
    EXPECT_GT(full, 10u);

    // K = 1: one interrupt per completion, at its arrival
    p.coalesce = 1;
    p.rate = 0;
    got = per_vector(gen(p));
    for (auto &kv : got) {
        auto arr = arrivals(p, kv.first, kv.second.size());
        for (size_t i = 0; i < kv.second.size(); i++)
            ASSERT_EQ(kv.second[i], (Irq{arr[i], 1}));
    }
}

// NIC: RX interrupts follow NAPI exactly (the ios of the interrupts add up to every packet
// that arrived up to the end of the last window); TX interrupts come every B packets.
TEST(IrqGen, NicNapiAndTxBatchesExact)
{
    iommu_irq_gen_params p = params(IOMMU_IRQ_NIC, 6000);
    p.queues = 3;
    p.rate = 1000000; // 1 packet/us: ~20 packets per 20 us window
    p.napi_ns = 20000;
    p.tx_batch = 16;
    auto got = per_vector(gen(p));
    ASSERT_EQ(got.size(), 6u);
    uint64_t rx_irqs = 0, rx_ios = 0;
    for (auto &kv : got) {
        const auto &irqs = kv.second;
        if (kv.first % 2 == 0) { // RX
            uint64_t sum = 0;
            for (const Irq &i : irqs)
                sum += i.ios;
            auto arr = arrivals(p, kv.first, sum + 1);
            uint64_t covered;
            auto want = ref_napi(arr, p.napi_ns, irqs.size(), &covered);
            EXPECT_EQ(irqs, want) << "vector " << kv.first;
            EXPECT_EQ(sum, covered); // no packet lost, none counted twice
            // every packet before the end of the last window is in some interrupt
            uint64_t end = irqs.back().t + p.napi_ns;
            EXPECT_EQ(uint64_t(std::count_if(arr.begin(), arr.end(), [&](uint64_t a) { return a < end; })), sum);
            for (size_t i = 1; i < irqs.size(); i++)
                ASSERT_GE(irqs[i].t, irqs[i - 1].t + p.napi_ns); // masked during the window
            rx_irqs += irqs.size();
            rx_ios += sum;
        } else { // TX
            auto arr = arrivals(p, kv.first, 16 * irqs.size());
            for (size_t i = 0; i < irqs.size(); i++)
                ASSERT_EQ(irqs[i], (Irq{arr[16 * i + 15], 16})) << "vector " << kv.first << " #" << i;
        }
    }
    // about 20 packets per window (Poisson: mean 1 + 20 = 21 with the first)
    double per = double(rx_ios) / double(rx_irqs);
    EXPECT_GT(per, 17.0);
    EXPECT_LT(per, 25.0);

    // no window: every packet is its own interrupt
    p.napi_ns = 0;
    p.tx_batch = 1;
    got = per_vector(gen(p));
    for (auto &kv : got) {
        auto arr = arrivals(p, kv.first, kv.second.size());
        for (size_t i = 0; i < kv.second.size(); i++)
            ASSERT_EQ(kv.second[i], (Irq{arr[i], 1}));
    }
}

// Without vm: a consumer moves right before its M-th, 2M-th, ... interrupt (RX and TX
// interrupts both count for a NIC queue's thread), at that interrupt's time.
TEST(IrqGen, MigrationPointsExact)
{
    for (unsigned pattern : {IOMMU_IRQ_NVME, IOMMU_IRQ_NIC}) {
        iommu_irq_gen_params p = params(pattern, 3000);
        p.queues = 5;
        p.cpus = 3;
        p.migrate_every = 4;
        auto evs = gen(p);
        size_t first = 0;
        while (evs[first].type != IOMMU_EV_MSI)
            first++;
        std::map<uint64_t, uint64_t> irqs;  // thread -> interrupts so far
        std::map<uint64_t, uint32_t> cpu;   // thread -> cpu
        for (uint64_t q = 0; q < 5; q++)
            cpu[q] = uint32_t(q % 3);
        std::map<uint64_t, std::vector<iommu_trace_event>> moves; // pending before the msi
        uint64_t total_moves = 0;
        for (size_t i = first; i < evs.size(); i++) {
            const auto &ev = evs[i];
            if (ev.type == IOMMU_EV_SCHED) {
                moves[ev.thread].push_back(ev);
                continue;
            }
            ASSERT_EQ(ev.type, IOMMU_EV_MSI);
            uint64_t n = ++irqs[ev.thread];
            auto &mv = moves[ev.thread];
            if (n % 4 == 0) {
                ASSERT_EQ(mv.size(), 1u) << "thread " << ev.thread << " interrupt " << n;
                EXPECT_NE(mv[0].cpu, cpu[ev.thread]);
                EXPECT_EQ(mv[0].time_ns, ev.time_ns);
                EXPECT_EQ(mv[0].state, IOMMU_SCHED_RUN);
                cpu[ev.thread] = mv[0].cpu;
                total_moves++;
            } else {
                ASSERT_TRUE(mv.empty()) << "thread " << ev.thread << " interrupt " << n;
            }
            mv.clear();
            // no other thread's sched event is waiting for its own interrupt
            for (auto &kv : moves)
                ASSERT_TRUE(kv.second.empty());
        }
        uint64_t want = 0;
        for (auto &kv : irqs)
            want += kv.second / 4;
        EXPECT_EQ(total_moves, want);
        EXPECT_GT(total_moves, 500u);
    }
}

// vm: halted and preempted vCPUs show up as sched events; a preempted vCPU runs again
// exactly preempt_ns later unless an interrupt's draw comes first; an interrupt wakes a
// halted vCPU (no event: the host model does it on delivery).
TEST(IrqGen, VmStates)
{
    iommu_irq_gen_params p = params(IOMMU_IRQ_NVME, 20000);
    p.queues = 2;
    p.cpus = 2;
    p.vm = true;
    p.rate = 2000; // a gap of 500 us on average: many 100 us preemptions end before the next
    p.preempt_ns = 100000;
    auto evs = gen(p);
    std::map<uint64_t, uint8_t> state;
    std::map<uint64_t, uint64_t> preempted_at;
    uint64_t stops = 0, preempts = 0, resumes = 0, irqs = 0, on_halted = 0;
    for (const auto &ev : evs) {
        if (ev.type == IOMMU_EV_SCHED) {
            if (ev.time_ns == 0) {
                state[ev.thread] = ev.state;
                continue;
            }
            EXPECT_NE(ev.state, state[ev.thread]) << line(ev); // only changes are written
            if (ev.state == IOMMU_SCHED_PREEMPT) {
                preempts++;
                preempted_at[ev.thread] = ev.time_ns;
            } else if (ev.state == IOMMU_SCHED_STOP) {
                stops++;
            } else if (state[ev.thread] == IOMMU_SCHED_PREEMPT &&
                       ev.time_ns == preempted_at[ev.thread] + p.preempt_ns) {
                resumes++;
            }
            state[ev.thread] = ev.state;
        } else if (ev.type == IOMMU_EV_MSI) {
            irqs++;
            if (state[ev.thread] == IOMMU_SCHED_STOP) {
                on_halted++;
                state[ev.thread] = IOMMU_SCHED_RUN; // woken by the interrupt
            }
        }
    }
    EXPECT_EQ(irqs, 20000u);
    EXPECT_NEAR(double(on_halted) / double(irqs), 0.3, 0.02);
    EXPECT_GT(stops, 4000u);
    EXPECT_GT(preempts, 1000u);
    EXPECT_GT(resumes, preempts / 2); // most preemptions end before the next interrupt
}

TEST(IrqGen, SameParametersSameBytes)
{
    iommu_irq_gen_params p = params(IOMMU_IRQ_NIC, 3000);
    p.vm = true;
    p.migrate_every = 5;
    p.queues = 4;
    std::string a = gen_bytes(p, "a.trace"), b = gen_bytes(p, "b.trace");
    EXPECT_EQ(a, b);
    EXPECT_GT(a.size(), 100000u);
    EXPECT_EQ(gen_bytes(p, "a.bin"), gen_bytes(p, "b.bin"));
    p.seed = 2;
    EXPECT_NE(gen_bytes(p, "c.trace"), a);
}

TEST(IrqGen, ValidationNamesTheParameter)
{
    struct Case {
        void (*set)(iommu_irq_gen_params &);
        const char *reason;
    } cases[] = {
        {[](iommu_irq_gen_params &p) { p.pattern = 0; }, "pattern 0 unknown (nvme or nic)"},
        {[](iommu_irq_gen_params &p) { p.pattern = 3; }, "pattern 3 unknown (nvme or nic)"},
        {[](iommu_irq_gen_params &p) { p.count = 0; }, "count must be >= 1"},
        {[](iommu_irq_gen_params &p) { p.cpus = 0; }, "cpus 0 out of range (1 .. 255)"},
        {[](iommu_irq_gen_params &p) { p.cpus = 256; }, "cpus 256 out of range (1 .. 255)"},
        {[](iommu_irq_gen_params &p) { p.queues = 1025; }, "queues 1025 out of range (1 .. 1024)"},
        {[](iommu_irq_gen_params &p) { p.p_halted = 1.5; }, "sched: p_halted 1.5 out of range (0 .. 1)"},
        {[](iommu_irq_gen_params &p) { p.p_preempted = -0.5; }, "sched: p_preempted -0.5 out of range (0 .. 1)"},
        {[](iommu_irq_gen_params &p) { p.p_halted = 0.5; p.p_preempted = 0.6; }, "sched: p_halted + p_preempted must be <= 1 (0.5 + 0.6)"},
        {[](iommu_irq_gen_params &p) { p.preempt_ns = 0; }, "sched: preempt_ns must be >= 1"},
        {[](iommu_irq_gen_params &p) { p.coalesce = 0; }, "coalesce 0 out of range (1 .. 256)"},
        {[](iommu_irq_gen_params &p) { p.coalesce = 257; }, "coalesce 257 out of range (1 .. 256)"},
        {[](iommu_irq_gen_params &p) { p.coalesce_ns = 25500001; }, "coalesce_ns 25500001 out of range (0 .. 25500000)"},
        {[](iommu_irq_gen_params &p) { p.rate = 0.5; }, "rate 0.5 out of range (1 .. 1e9 per second)"},
        {[](iommu_irq_gen_params &p) { p.rate = 2e9; }, "rate 2e+09 out of range (1 .. 1e9 per second)"},
        {[](iommu_irq_gen_params &p) { p.rate = -1; }, "rate -1 out of range (1 .. 1e9 per second)"},
        {[](iommu_irq_gen_params &p) { p.rate = std::nan(""); }, "rate nan out of range (1 .. 1e9 per second)"},
        {[](iommu_irq_gen_params &p) { p.napi_ns = 1000000001; }, "napi_ns 1000000001 out of range (0 .. 1000000000)"},
        {[](iommu_irq_gen_params &p) { p.tx_batch = 0; }, "tx_batch 0 out of range (1 .. 65536)"},
        {[](iommu_irq_gen_params &p) { p.tx_batch = 65537; }, "tx_batch 65537 out of range (1 .. 65536)"},
    };
    for (const Case &c : cases) {
        iommu_irq_gen_params p = params(IOMMU_IRQ_NVME, 10);
        c.set(p);
        char reason[160] = "";
        EXPECT_EQ(iommu_irq_gen_params_validate(&p, reason, sizeof reason), IOMMU_ERR_INVAL) << c.reason;
        EXPECT_STREQ(reason, c.reason);
        // the generator refuses too, writing nothing
        std::string path = tmp("bad.trace");
        iommu_trace_error err{};
        iommu_trace_writer_t *w = iommu_trace_create(path.c_str(), &err);
        ASSERT_NE(w, nullptr);
        EXPECT_EQ(iommu_trace_gen_irq(&p, w, &err), IOMMU_ERR_INVAL);
        EXPECT_EQ(std::string(err.msg), std::string("gen irq: ") + c.reason);
        EXPECT_EQ(iommu_trace_written(w), 0u);
        iommu_trace_finish(w, &err);
        std::remove(path.c_str());
    }
    // the edges are valid
    iommu_irq_gen_params p = params(IOMMU_IRQ_NIC, 1);
    p.cpus = 255;
    p.queues = 1024;
    p.coalesce = 256;
    p.coalesce_ns = 25500000;
    p.rate = 1e9;
    p.napi_ns = 0;
    p.tx_batch = 65536;
    EXPECT_EQ(iommu_irq_gen_params_validate(&p, nullptr, 0), IOMMU_OK);
    p.rate = 1;
    p.napi_ns = 1000000000;
    p.tx_batch = 1;
    p.coalesce = 1;
    EXPECT_EQ(iommu_irq_gen_params_validate(&p, nullptr, 0), IOMMU_OK);
}

TEST(IrqGen, ArrivalsArePoissonAtTheRate)
{
    iommu_irq_arrivals a;
    iommu_irq_arrivals_init(&a, 1, 0, 100000); // mean gap 10 us
    uint64_t prev = 0, n = 200000, last = 0;
    double sq = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t t = iommu_irq_arrivals_next(&a);
        ASSERT_GE(t, prev);
        ASSERT_GE(t, 1u);
        double gap = double(t) - double(prev);
        sq += (gap - 10000) * (gap - 10000);
        prev = last = t;
    }
    EXPECT_NEAR(double(last) / double(n), 10000.0, 100.0);    // mean gap
    EXPECT_NEAR(std::sqrt(sq / double(n)), 10000.0, 200.0);   // exponential: sd = mean
    // streams differ per vector and per seed, and repeat for the same ones
    iommu_irq_arrivals b, c, d;
    iommu_irq_arrivals_init(&b, 1, 0, 100000);
    iommu_irq_arrivals_init(&c, 1, 1, 100000);
    iommu_irq_arrivals_init(&d, 2, 0, 100000);
    uint64_t tb = iommu_irq_arrivals_next(&b), tc = iommu_irq_arrivals_next(&c), td = iommu_irq_arrivals_next(&d);
    iommu_irq_arrivals_init(&a, 1, 0, 100000);
    EXPECT_EQ(iommu_irq_arrivals_next(&a), tb);
    EXPECT_NE(tb, tc);
    EXPECT_NE(tb, td);
}

} // namespace
