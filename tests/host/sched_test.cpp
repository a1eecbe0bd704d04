// sched_test.cpp — the synthetic scheduler (host/sched.h): exact placement, exact
// migration points, moves never to the same CPU, one CPU never moves, state-draw
// frequencies, determinism, the pending "runs again" changes of preempted vCPUs (exact due
// times, replacement, cancellation, order, the max limit), woken, sparse ids (the hash
// table grows), and every validation error.
#include "host/sched.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

struct Sched {
    iommu_sched_t *s;
    explicit Sched(const iommu_sched_params &p) : s(iommu_sched_create(&p)) {}
    ~Sched() { iommu_sched_destroy(s); }
    // the events before an interrupt
    std::vector<iommu_trace_event> irq(uint64_t thread, uint64_t t = 0)
    {
        iommu_trace_event out[4];
        unsigned n = iommu_sched_before_irq(s, thread, t, out);
        EXPECT_LE(n, 4u);
        return std::vector<iommu_trace_event>(out, out + n);
    }
    std::vector<iommu_trace_event> due(uint64_t t, unsigned max = 16)
    {
        std::vector<iommu_trace_event> out(max);
        unsigned n = iommu_sched_due(s, t, out.data(), max);
        out.resize(n);
        return out;
    }
};

iommu_sched_params params(uint32_t cpus = 4)
{
    iommu_sched_params p;
    iommu_sched_params_default(&p);
    p.cpus = cpus;
    return p;
}

std::string str(const iommu_trace_event &ev)
{
    char buf[256];
    int n = iommu_trace_format_line(&ev, buf, sizeof buf);
    return n < 0 ? std::string("<invalid>") : std::string(buf);
}

std::string strs(const std::vector<iommu_trace_event> &evs)
{
    std::string s;
    for (const auto &ev : evs)
        s += str(ev) + "\n";
    return s;
}

TEST(Sched, Defaults)
{
    iommu_sched_params p;
    iommu_sched_params_default(&p);
    EXPECT_EQ(p.cpus, 4u);
    EXPECT_EQ(p.migrate_every, 0u);
    EXPECT_FALSE(p.vm);
    EXPECT_DOUBLE_EQ(p.p_halted, 0.3);
    EXPECT_DOUBLE_EQ(p.p_preempted, 0.1);
    EXPECT_EQ(p.preempt_ns, 1000000u);
    EXPECT_EQ(p.seed, 1u);
    char reason[128] = "";
    EXPECT_EQ(iommu_sched_params_validate(&p, reason, sizeof reason), IOMMU_OK) << reason;
    iommu_sched_destroy(nullptr); // accepts NULL
}

TEST(Sched, FirstInterruptPlacesTheThread)
{
    Sched m(params(4));
    uint32_t cpu = 99;
    uint8_t state = 99;
    EXPECT_FALSE(iommu_sched_where(m.s, 7, &cpu, &state));
    EXPECT_EQ(strs(m.irq(7)), "sched thread=7 cpu=3 state=run\n");
    EXPECT_EQ(strs(m.irq(7)), ""); // placed once; no migration, no vm: nothing more
    EXPECT_EQ(strs(m.irq(8)), "sched thread=8 cpu=0 state=run\n");
    EXPECT_EQ(strs(m.irq(UINT64_MAX)), "sched thread=18446744073709551615 cpu=3 state=run\n");
    ASSERT_TRUE(iommu_sched_where(m.s, 7, &cpu, &state));
    EXPECT_EQ(cpu, 3u);
    EXPECT_EQ(state, IOMMU_SCHED_RUN);
    EXPECT_TRUE(iommu_sched_where(m.s, 8, nullptr, nullptr));
    for (int i = 0; i < 100; i++)
        EXPECT_TRUE(m.irq(7).empty());
    // the events carry no timestamp, even for a timed interrupt
    auto evs = m.irq(12, 5000);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].flags, 0u);
    EXPECT_EQ(evs[0].cpu, 0u);
}

TEST(Sched, MigrationPointsAreExact)
{
    iommu_sched_params p = params(4);
    p.migrate_every = 3;
    Sched m(p);
    std::vector<unsigned> moved_before; // 1-based interrupt numbers
    uint32_t cpu = 5 % 4;
    for (unsigned i = 1; i <= 10; i++) {
        auto evs = m.irq(5);
        if (i == 1) {
            ASSERT_GE(evs.size(), 1u);
            EXPECT_EQ(str(evs[0]), "sched thread=5 cpu=1 state=run");
            evs.erase(evs.begin());
        }
        if (!evs.empty()) {
            ASSERT_EQ(evs.size(), 1u);
            EXPECT_EQ(evs[0].thread, 5u);
            EXPECT_NE(evs[0].cpu, cpu) << "a move to the same CPU";
            EXPECT_LT(evs[0].cpu, 4u);
            EXPECT_EQ(evs[0].state, IOMMU_SCHED_RUN); // its state goes with it
            cpu = evs[0].cpu;
            moved_before.push_back(i);
        }
        uint32_t where;
        ASSERT_TRUE(iommu_sched_where(m.s, 5, &where, nullptr));
        EXPECT_EQ(where, cpu);
    }
    EXPECT_EQ(moved_before, (std::vector<unsigned>{3, 6, 9}));

    // every thread counts its own interrupts
    p.migrate_every = 2;
    Sched m2(p);
    std::map<uint64_t, unsigned> moves;
    for (unsigned i = 0; i < 12; i++)
        for (uint64_t t : {1, 2, 3})
            for (const auto &ev : m2.irq(t))
                if (i > 0 || ev.cpu != t % 4)
                    moves[t]++;
    EXPECT_EQ(moves[1], 6u);
    EXPECT_EQ(moves[2], 6u);
    EXPECT_EQ(moves[3], 6u);

    // M = 1: the first interrupt places and moves
    p.migrate_every = 1;
    Sched m3(p);
    auto evs = m3.irq(2);
    ASSERT_EQ(evs.size(), 2u);
    EXPECT_EQ(str(evs[0]), "sched thread=2 cpu=2 state=run");
    EXPECT_NE(evs[1].cpu, 2u);
}

TEST(Sched, MovesNeverToTheSameCpuAndCoverTheOthers)
{
    for (uint32_t cpus : {2u, 3u, 8u}) {
        iommu_sched_params p = params(cpus);
        p.migrate_every = 1;
        p.seed = cpus;
        Sched m(p);
        std::map<std::pair<uint32_t, uint32_t>, unsigned> seen; // (from, to)
        uint32_t cpu = 0;
        for (unsigned i = 0; i < 20000; i++) {
            auto evs = m.irq(0);
            if (i == 0)
                evs.erase(evs.begin()); // the placement on CPU 0
            ASSERT_EQ(evs.size(), 1u);
            ASSERT_NE(evs[0].cpu, cpu);
            ASSERT_LT(evs[0].cpu, cpus);
            seen[{cpu, evs[0].cpu}]++;
            cpu = evs[0].cpu;
        }
        // uniform among the other cpus - 1: every (from, to) pair with from != to appears
        EXPECT_EQ(seen.size(), size_t(cpus) * (cpus - 1)) << cpus << " cpus";
    }
    // one CPU: nowhere to go
    iommu_sched_params p = params(1);
    p.migrate_every = 1;
    Sched m(p);
    EXPECT_EQ(strs(m.irq(9)), "sched thread=9 cpu=0 state=run\n");
    for (int i = 0; i < 100; i++)
        EXPECT_TRUE(m.irq(9).empty());
}

TEST(Sched, StateDrawFrequencies)
{
    iommu_sched_params p = params(4);
    p.vm = true;
    p.p_halted = 0.3;
    p.p_preempted = 0.1;
    p.seed = 42;
    Sched m(p);
    const unsigned n = 100000;
    unsigned count[3] = {}, events = 0, changes = 0;
    uint8_t prev = IOMMU_SCHED_RUN;
    for (unsigned i = 0; i < n; i++) {
        auto evs = m.irq(3); // untimed: no pending changes
        uint8_t st;
        ASSERT_TRUE(iommu_sched_where(m.s, 3, nullptr, &st));
        ASSERT_LE(st, 2);
        count[st]++;
        if (st != prev)
            changes++;
        prev = st;
        events += unsigned(evs.size()) - (i == 0);
        if (!evs.empty() && (i > 0 || evs.size() > 1)) {
            EXPECT_EQ(evs.back().state, st);
            EXPECT_EQ(evs.back().cpu, 3u);
        }
    }
    EXPECT_EQ(events, changes); // an event only when the state changes
    EXPECT_NEAR(count[IOMMU_SCHED_STOP] / double(n), 0.3, 0.01);
    EXPECT_NEAR(count[IOMMU_SCHED_PREEMPT] / double(n), 0.1, 0.01);
    EXPECT_NEAR(count[IOMMU_SCHED_RUN] / double(n), 0.6, 0.01);
    EXPECT_EQ(iommu_sched_next_due(m.s), UINT64_MAX);

    // the extremes are exact
    for (auto pr : {std::make_pair(1.0, 0.0), std::make_pair(0.0, 1.0), std::make_pair(0.0, 0.0)}) {
        p.p_halted = pr.first;
        p.p_preempted = pr.second;
        Sched e(p);
        uint8_t want = pr.first == 1.0 ? IOMMU_SCHED_STOP
                       : pr.second == 1.0 ? IOMMU_SCHED_PREEMPT : IOMMU_SCHED_RUN;
        for (int i = 0; i < 1000; i++) {
            e.irq(1);
            uint8_t st;
            ASSERT_TRUE(iommu_sched_where(e.s, 1, nullptr, &st));
            ASSERT_EQ(st, want);
        }
    }
}

TEST(Sched, SameSeedSameEvents)
{
    iommu_sched_params p = params(6);
    p.vm = true;
    p.migrate_every = 4;
    p.preempt_ns = 700;
    auto run = [&](uint64_t seed) {
        p.seed = seed;
        Sched m(p);
        std::string out;
        std::mt19937_64 pick(5); // the same interrupt sequence every time
        for (uint64_t t = 100; t < 200000; t += 37) {
            for (const auto &ev : m.due(t))
                out += str(ev) + "\n";
            uint64_t thread = pick() % 20 * 0x1000000001ull;
            for (const auto &ev : m.irq(thread, t))
                out += str(ev) + "\n";
            if (pick() % 2)
                iommu_sched_woken(m.s, thread);
        }
        return out;
    };
    std::string a = run(11), b = run(11), c = run(12);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    EXPECT_GT(a.size(), 10000u);
    EXPECT_NE(a.find("state=preempt"), std::string::npos);
    EXPECT_NE(a.find("state=stop"), std::string::npos);
}

TEST(Sched, PreemptedVcpuRunsAgainAtTheExactTime)
{
    iommu_sched_params p = params(4);
    p.vm = true;
    p.p_halted = 0;
    p.p_preempted = 1;
    p.preempt_ns = 5000;
    Sched m(p);
    EXPECT_EQ(iommu_sched_next_due(m.s), UINT64_MAX);
    EXPECT_EQ(strs(m.irq(6, 1000)), "sched thread=6 cpu=2 state=run\nsched thread=6 cpu=2 state=preempt\n");
    EXPECT_EQ(iommu_sched_next_due(m.s), 6000u);
    EXPECT_TRUE(m.due(5999).empty());
    auto evs = m.due(6000);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(str(evs[0]), "sched thread=6 cpu=2 state=run t=6000");
    EXPECT_EQ(iommu_sched_next_due(m.s), UINT64_MAX);
    uint8_t st;
    ASSERT_TRUE(iommu_sched_where(m.s, 6, nullptr, &st));
    EXPECT_EQ(st, IOMMU_SCHED_RUN);
    EXPECT_TRUE(m.due(UINT64_MAX).empty());

    // a later draw replaces the pending change: preempted again at 7000 → due at 12000
    EXPECT_EQ(strs(m.irq(6, 7000)), "sched thread=6 cpu=2 state=preempt\n");
    EXPECT_EQ(strs(m.irq(6, 9000)), ""); // still preempted: no event, but a new due time
    EXPECT_EQ(iommu_sched_next_due(m.s), 14000u);
    EXPECT_EQ(strs(m.due(14000)), "sched thread=6 cpu=2 state=run t=14000\n");

    // untimed (t = 0): preempted, but nothing pending
    EXPECT_EQ(strs(m.irq(6, 0)), "sched thread=6 cpu=2 state=preempt\n");
    EXPECT_EQ(iommu_sched_next_due(m.s), UINT64_MAX);

    // a due time past 2^64 saturates
    p.preempt_ns = UINT64_MAX;
    Sched big(p);
    big.irq(1, 10);
    EXPECT_EQ(iommu_sched_next_due(big.s), UINT64_MAX - 1);
}

TEST(Sched, PendingChangesInOrderAndLimited)
{
    iommu_sched_params p = params(8);
    p.vm = true;
    p.p_halted = 0;
    p.p_preempted = 1;
    p.preempt_ns = 100;
    Sched m(p);
    // due times: thread 30 at 400, thread 10 at 300, thread 20 at 300, thread 40 at 500
    m.irq(30, 300);
    m.irq(10, 200);
    m.irq(20, 200);
    m.irq(40, 400);
    EXPECT_EQ(iommu_sched_next_due(m.s), 300u);
    auto evs = m.due(450, 2); // limited to 2: the rest stay pending
    EXPECT_EQ(strs(evs), "sched thread=10 cpu=2 state=run t=300\nsched thread=20 cpu=4 state=run t=300\n");
    EXPECT_EQ(iommu_sched_next_due(m.s), 400u);
    EXPECT_EQ(strs(m.due(450)), "sched thread=30 cpu=6 state=run t=400\n");
    EXPECT_EQ(strs(m.due(1000)), "sched thread=40 cpu=0 state=run t=500\n");
    EXPECT_TRUE(m.due(UINT64_MAX).empty());
    EXPECT_EQ(iommu_sched_due(m.s, UINT64_MAX, nullptr, 0), 0u);

    // a random mix against a trivially correct model (a map of thread -> due)
    p.p_preempted = 0.5;
    p.p_halted = 0.25;
    p.preempt_ns = 1000;
    Sched r(p);
    std::map<uint64_t, uint64_t> pending; // thread -> due
    std::mt19937_64 g(3);
    for (uint64_t t = 1; t < 400000; t += 1 + g() % 50) {
        // the model's due changes first, in (due, thread) order
        std::vector<std::pair<uint64_t, uint64_t>> want;
        for (auto &kv : pending)
            if (kv.second <= t)
                want.push_back({kv.second, kv.first});
        std::sort(want.begin(), want.end());
        auto got = r.due(t, 1000);
        ASSERT_EQ(got.size(), want.size()) << "at " << t;
        for (size_t i = 0; i < got.size(); i++) {
            EXPECT_EQ(got[i].time_ns, want[i].first);
            EXPECT_EQ(got[i].thread, want[i].second);
            pending.erase(want[i].second);
        }
        uint64_t th = g() % 300;
        r.irq(th, t);
        uint8_t st;
        ASSERT_TRUE(iommu_sched_where(r.s, th, nullptr, &st));
        if (st == IOMMU_SCHED_PREEMPT)
            pending[th] = t + 1000;
        else
            pending.erase(th);
        uint64_t next = UINT64_MAX;
        for (auto &kv : pending)
            next = std::min(next, kv.second);
        ASSERT_EQ(iommu_sched_next_due(r.s), next) << "at " << t;
    }
}

TEST(Sched, WokenRecordsAHaltedVcpuAsRunning)
{
    iommu_sched_params p = params(2);
    p.vm = true;
    p.p_halted = 1;
    p.p_preempted = 0;
    Sched m(p);
    EXPECT_EQ(strs(m.irq(4, 10)), "sched thread=4 cpu=0 state=run\nsched thread=4 cpu=0 state=stop\n");
    uint8_t st;
    ASSERT_TRUE(iommu_sched_where(m.s, 4, nullptr, &st));
    EXPECT_EQ(st, IOMMU_SCHED_STOP);
    iommu_sched_woken(m.s, 4);
    ASSERT_TRUE(iommu_sched_where(m.s, 4, nullptr, &st));
    EXPECT_EQ(st, IOMMU_SCHED_RUN);
    // halted again by the next draw: the change shows as an event again
    EXPECT_EQ(strs(m.irq(4, 20)), "sched thread=4 cpu=0 state=stop\n");
    EXPECT_EQ(strs(m.irq(4, 30)), ""); // not woken: still halted
    iommu_sched_woken(m.s, 99); // unknown thread: nothing
    EXPECT_FALSE(iommu_sched_where(m.s, 99, nullptr, nullptr));

    // woken leaves a preempted vCPU (and its pending run) alone
    p.p_halted = 0;
    p.p_preempted = 1;
    Sched q(p);
    q.irq(1, 100);
    iommu_sched_woken(q.s, 1);
    ASSERT_TRUE(iommu_sched_where(q.s, 1, nullptr, &st));
    EXPECT_EQ(st, IOMMU_SCHED_PREEMPT);
    EXPECT_EQ(iommu_sched_next_due(q.s), 100 + p.preempt_ns);
}

TEST(Sched, SparseIdsGrowTheTable)
{
    Sched m(params(7));
    std::mt19937_64 g(9);
    std::vector<uint64_t> ids;
    for (int i = 0; i < 20000; i++)
        ids.push_back(g());
    ids.push_back(0);
    ids.push_back(1);
    for (uint64_t id : ids) {
        auto evs = m.irq(id);
        ASSERT_EQ(evs.size(), 1u);
        EXPECT_EQ(evs[0].thread, id);
        EXPECT_EQ(evs[0].cpu, uint32_t(id % 7));
    }
    for (uint64_t id : ids) {
        uint32_t cpu;
        ASSERT_TRUE(iommu_sched_where(m.s, id, &cpu, nullptr));
        EXPECT_EQ(cpu, uint32_t(id % 7));
        EXPECT_TRUE(m.irq(id).empty());
    }
    EXPECT_FALSE(iommu_sched_where(m.s, 2, nullptr, nullptr));
}

TEST(Sched, ValidationNamesTheParameter)
{
    struct Case {
        void (*set)(iommu_sched_params &);
        const char *reason;
    } cases[] = {
        {[](iommu_sched_params &p) { p.cpus = 0; }, "sched: cpus must be >= 1"},
        {[](iommu_sched_params &p) { p.p_halted = -0.1; }, "sched: p_halted -0.1 out of range (0 .. 1)"},
        {[](iommu_sched_params &p) { p.p_halted = 1.5; }, "sched: p_halted 1.5 out of range (0 .. 1)"},
        {[](iommu_sched_params &p) { p.p_halted = std::nan(""); }, "sched: p_halted nan out of range (0 .. 1)"},
        {[](iommu_sched_params &p) { p.p_preempted = -1; }, "sched: p_preempted -1 out of range (0 .. 1)"},
        {[](iommu_sched_params &p) { p.p_preempted = 2; }, "sched: p_preempted 2 out of range (0 .. 1)"},
        {[](iommu_sched_params &p) { p.p_preempted = std::nan(""); }, "sched: p_preempted nan out of range (0 .. 1)"},
        {[](iommu_sched_params &p) { p.p_halted = 0.7; p.p_preempted = 0.4; }, "sched: p_halted + p_preempted must be <= 1 (0.7 + 0.4)"},
        {[](iommu_sched_params &p) { p.preempt_ns = 0; }, "sched: preempt_ns must be >= 1"},
    };
    for (const Case &c : cases) {
        iommu_sched_params p = params();
        c.set(p);
        char reason[128] = "";
        EXPECT_EQ(iommu_sched_params_validate(&p, reason, sizeof reason), IOMMU_ERR_INVAL) << c.reason;
        EXPECT_STREQ(reason, c.reason);
        EXPECT_EQ(iommu_sched_params_validate(&p, nullptr, 0), IOMMU_ERR_INVAL);
    }
    // the edges are valid
    iommu_sched_params p = params(1);
    p.p_halted = 0.7;
    p.p_preempted = 0.3;
    EXPECT_EQ(iommu_sched_params_validate(&p, nullptr, 0), IOMMU_OK);
    p.p_halted = 0;
    p.p_preempted = 0;
    p.preempt_ns = 1;
    p.cpus = UINT32_MAX;
    EXPECT_EQ(iommu_sched_params_validate(&p, nullptr, 0), IOMMU_OK);
}

} // namespace
