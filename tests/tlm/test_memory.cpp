// test_memory.cpp — the Memory module: exact latency and bandwidth queueing, table reads
// returning the bytes in physical memory, the page-table cache's hit/miss latencies and LRU
// replacement, the probability mode's determinism, and configuration errors.
//
// Bench numbers: latency 100 ns and 512 Gb/s, so a 64 B access occupies the channel for
// exactly 1000 ps and an 8 B table read for 125 ps.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "model/tlm/memory.h"
#include "tlm_test_util.h"

using namespace iommusim::tlm_model;
using namespace iommusim::tlm_test;

namespace {

constexpr uint64_t kLat = 100000; // ps
constexpr uint64_t kX64 = 1000;   // 64 B at 512 Gb/s
constexpr uint64_t kX8 = 125;     // 8 B at 512 Gb/s
constexpr uint64_t kPtLat = 30000;

MemoryConfig bench_cfg()
{
    MemoryConfig c;
    c.latency_ns = 100;
    c.bandwidth_gbps = 512;
    c.pt_cache.latency_ns = 30;
    return c;
}

struct Physmem {
    iommu_physmem_t *pm = iommu_physmem_create();
    ~Physmem() { iommu_physmem_destroy(pm); }
};

// One initiator wired to one memory.
struct MemBench {
    PayloadPool pool;
    TestInitiator cpu;
    Memory mem;
    MemBench(const char *name, const MemoryConfig &c, iommu_physmem_t *pm)
        : cpu((std::string(name) + "_ini").c_str()), mem(name, c, pm)
    {
        cpu.socket.bind(mem.mem);
    }
    // completion time minus send time of the i-th send
    uint64_t latency(size_t i) const { return ps(cpu.returns[i].at) - ps(cpu.returns[i].now); }
};

std::string error_of(const MemoryConfig &c)
{
    std::string key, why;
    if (validate(c, &key, &why))
        return "";
    return key + ": " + why;
}

} // namespace

TEST(MemoryModule, OneAccessLatencyIsLatencyPlusTransfer)
{
    Physmem p;
    MemBench b("mem", bench_cfg(), p.pm);
    auto &a = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x1000, 64);
    auto &c = make_tlp(b.pool, tlm::TLM_WRITE_COMMAND, 0x2000, 64);
    auto &d = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x3000, 64);
    uint64_t b_done = 0;
    b.cpu.script = [&](TestInitiator &cpu) {
        cpu.send(a);
        cpu.send(c, sc_core::sc_time(5, sc_core::SC_NS)); // arrives after a's transfer
        sc_core::wait(1, sc_core::SC_US);
        b_done = ps(cpu.b_send(d)); // blocking transport: same timing
    };
    sc_core::sc_start();
    ASSERT_EQ(b.cpu.returns.size(), 2u);
    EXPECT_EQ(b.cpu.statuses[0], tlm::TLM_UPDATED);
    EXPECT_EQ(b.cpu.returns[0].phase, tlm::BEGIN_RESP);
    EXPECT_EQ(ps(b.cpu.returns[0].at), kLat + kX64);
    EXPECT_EQ(ps(PayloadPool::ext(a).t_mem_done), kLat + kX64);
    EXPECT_EQ(a.get_response_status(), tlm::TLM_OK_RESPONSE);
    EXPECT_EQ(ps(b.cpu.returns[1].at), 5000 + kX64 + kLat);
    EXPECT_EQ(c.get_response_status(), tlm::TLM_OK_RESPONSE);
    EXPECT_EQ(b_done, 1000000 + kX64 + kLat);
    EXPECT_EQ(b.mem.stats().accesses, 3u);
    EXPECT_EQ(b.mem.stats().bytes, 192u);
    EXPECT_EQ(ps(b.mem.stats().busy), 3 * kX64);
    EXPECT_EQ(ps(b.mem.stats().queueing), 0u);
    EXPECT_EQ(b.mem.stats().table_reads, 0u);
}

TEST(MemoryModule, BackToBackAccessesQueueOnTheBandwidth)
{
    MemBench b("mem", bench_cfg(), nullptr); // DMA only: no physical memory needed
    auto &a = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x1000, 64);
    auto &c = make_tlp(b.pool, tlm::TLM_WRITE_COMMAND, 0x2000, 64);
    auto &d = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x3000, 64);
    b.cpu.script = [&](TestInitiator &cpu) {
        cpu.send(a);
        cpu.send(c);                                       // waits for a's transfer
        cpu.send(d, sc_core::sc_time(1500, sc_core::SC_PS)); // arrives during c's transfer
    };
    sc_core::sc_start();
    ASSERT_EQ(b.cpu.returns.size(), 3u);
    EXPECT_EQ(ps(b.cpu.returns[0].at), kX64 + kLat);
    EXPECT_EQ(ps(b.cpu.returns[1].at), 2 * kX64 + kLat);
    EXPECT_EQ(ps(b.cpu.returns[2].at), 3 * kX64 + kLat);
    EXPECT_EQ(ps(b.mem.busy_until()), 3 * kX64);
    EXPECT_EQ(ps(b.mem.stats().busy), 3 * kX64);
    EXPECT_EQ(ps(b.mem.stats().queueing), kX64 + (2 * kX64 - 1500));
}

TEST(MemoryModule, TableReadReturnsTheBytesInPhysicalMemory)
{
    Physmem p;
    unsigned char table[64];
    for (int i = 0; i < 64; i++)
        table[i] = static_cast<unsigned char>(0x40 + i * 3);
    ASSERT_EQ(iommu_physmem_write(p.pm, 0x10000, table, sizeof table), IOMMU_OK);
    MemBench b("mem", bench_cfg(), p.pm);
    MemBench nopm("nopm", bench_cfg(), nullptr);
    auto &pte = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x10008, 8, Purpose::TableRead);
    auto &entry = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x10000, 64, Purpose::TableRead);
    auto &dma = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x10000, 64, Purpose::Dma);
    auto &shortread = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x10000, 4, Purpose::TableRead);
    auto &longread = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x10000, 128, Purpose::TableRead);
    auto &far = make_tlp(b.pool, tlm::TLM_READ_COMMAND, uint64_t(1) << 52, 8, Purpose::TableRead);
    auto &orphan = make_tlp(nopm.pool, tlm::TLM_READ_COMMAND, 0x10000, 8, Purpose::TableRead);
    std::memset(pte.get_data_ptr(), 0xEE, 64);
    std::memset(entry.get_data_ptr(), 0xEE, 64);
    std::memset(dma.get_data_ptr(), 0xAA, 64);
    b.cpu.script = [&](TestInitiator &cpu) {
        cpu.send(pte);
        cpu.send(entry);
        cpu.send(dma);
        cpu.send(shortread, sc_core::sc_time(10, sc_core::SC_NS));
        cpu.send(longread);
        cpu.send(far);
    };
    nopm.cpu.script = [&](TestInitiator &cpu) { cpu.send(orphan); };
    sc_core::sc_start();

    EXPECT_EQ(pte.get_response_status(), tlm::TLM_OK_RESPONSE);
    EXPECT_EQ(std::memcmp(pte.get_data_ptr(), table + 8, 8), 0);
    EXPECT_EQ(pte.get_data_ptr()[8], 0xEE); // nothing beyond the data length
    EXPECT_EQ(std::memcmp(entry.get_data_ptr(), table, 64), 0);
    // a DMA payload carries no bytes: its buffer is untouched
    EXPECT_EQ(dma.get_response_status(), tlm::TLM_OK_RESPONSE);
    for (int i = 0; i < 64; i++)
        ASSERT_EQ(dma.get_data_ptr()[i], 0xAA);
    // 8 B, 64 B and 64 B transfers back to back
    EXPECT_EQ(b.latency(0), kX8 + kLat);
    EXPECT_EQ(b.latency(1), kX8 + kX64 + kLat);
    EXPECT_EQ(b.latency(2), kX8 + 2 * kX64 + kLat);
    // errors: answered at arrival, no bandwidth used
    EXPECT_EQ(shortread.get_response_status(), tlm::TLM_BURST_ERROR_RESPONSE);
    EXPECT_EQ(b.latency(3), 10000u);
    EXPECT_EQ(longread.get_response_status(), tlm::TLM_BURST_ERROR_RESPONSE);
    EXPECT_EQ(far.get_response_status(), tlm::TLM_ADDRESS_ERROR_RESPONSE);
    EXPECT_EQ(orphan.get_response_status(), tlm::TLM_GENERIC_ERROR_RESPONSE);
    EXPECT_EQ(b.mem.stats().errors, 3u);
    EXPECT_EQ(b.mem.stats().accesses, 3u);
    EXPECT_EQ(b.mem.stats().table_reads, 2u);
    EXPECT_EQ(b.mem.stats().bytes, 8u + 64 + 64);
    EXPECT_EQ(ps(b.mem.stats().busy), kX8 + 2 * kX64);
    EXPECT_EQ(nopm.mem.stats().errors, 1u);

    // debug transport reads and writes physical memory, untimed
    unsigned char buf[16] = {};
    tlm::tlm_generic_payload g;
    g.set_command(tlm::TLM_READ_COMMAND);
    g.set_address(0x10010);
    g.set_data_ptr(buf);
    g.set_data_length(16);
    EXPECT_EQ(b.cpu.socket->transport_dbg(g), 16u);
    EXPECT_EQ(std::memcmp(buf, table + 16, 16), 0);
    buf[0] = 0x5A;
    g.set_command(tlm::TLM_WRITE_COMMAND);
    g.set_address(0x20000);
    g.set_data_length(1);
    EXPECT_EQ(b.cpu.socket->transport_dbg(g), 1u);
    unsigned char back = 0;
    ASSERT_EQ(iommu_physmem_read(p.pm, 0x20000, &back, 1), IOMMU_OK);
    EXPECT_EQ(back, 0x5A);
}

TEST(MemoryModule, PtCacheHitAndMissLatencies)
{
    Physmem p;
    MemoryConfig c = bench_cfg();
    c.pt_cache.mode = PtCacheMode::Cache;
    c.pt_cache.entries = 4; // 2 sets × 2 ways of 64 B lines: even lines in set 0
    c.pt_cache.ways = 2;
    MemBench b("mem", c, p.pm);
    // line numbers: 0x000 → 0, 0x080 → 2, 0x100 → 4 (set 0); 0x040 → 1 (set 1)
    const uint64_t addrs[] = {0x000, 0x008, 0x080, 0x100, 0x000, 0x040, 0x048, 0x100, 0x080};
    const bool hits[] = {false, true, false, false, false, false, true, true, false};
    constexpr size_t n = sizeof addrs / sizeof addrs[0];
    std::vector<tlm::tlm_generic_payload *> reads;
    for (uint64_t a : addrs)
        reads.push_back(&make_tlp(b.pool, tlm::TLM_READ_COMMAND, a, 8, Purpose::TableRead));
    auto &dma = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x040, 64, Purpose::Dma);
    auto &twoline = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x1020, 64, Purpose::TableRead);
    b.cpu.script = [&](TestInitiator &cpu) {
        for (auto *r : reads) { // spaced out: no queueing
            cpu.send(*r);
            sc_core::wait(1, sc_core::SC_US);
        }
        cpu.send(dma); // DMA never uses the page-table cache
        sc_core::wait(1, sc_core::SC_US);
        cpu.send(twoline); // spans lines 0x40 and 0x41: a miss fills both
        sc_core::wait(1, sc_core::SC_US);
        cpu.send(twoline);
    };
    sc_core::sc_start();

    ASSERT_EQ(b.cpu.returns.size(), n + 3);
    uint64_t misses = 0;
    for (size_t i = 0; i < n; i++) {
        EXPECT_EQ(b.latency(i), hits[i] ? kPtLat : kLat + kX8) << "read " << i;
        misses += !hits[i];
    }
    EXPECT_EQ(b.latency(n), kLat + kX64);
    EXPECT_EQ(b.latency(n + 1), kLat + kX64);
    EXPECT_EQ(b.latency(n + 2), kPtLat);
    EXPECT_EQ(b.mem.stats().table_reads, n + 2);
    EXPECT_EQ(b.mem.stats().pt_hits, n - misses + 1);
    EXPECT_EQ(b.mem.stats().pt_misses, misses + 1);
    // hits use no bandwidth
    EXPECT_EQ(ps(b.mem.stats().busy), misses * kX8 + 2 * kX64);
}

TEST(MemoryModule, ProbabilityModeIsDeterministicPerSeed)
{
    Physmem p;
    MemoryConfig c = bench_cfg();
    c.pt_cache.mode = PtCacheMode::Probability;
    c.pt_cache.hit_probability = 0.3;
    c.pt_cache.seed = 7;
    MemoryConfig c8 = c;
    c8.pt_cache.seed = 8;
    MemoryConfig never = c, always = c;
    never.pt_cache.hit_probability = 0;
    always.pt_cache.hit_probability = 1;
    std::vector<std::unique_ptr<MemBench>> benches;
    benches.emplace_back(new MemBench("seed7a", c, p.pm));
    benches.emplace_back(new MemBench("seed7b", c, p.pm));
    benches.emplace_back(new MemBench("seed8", c8, p.pm));
    benches.emplace_back(new MemBench("never", never, p.pm));
    benches.emplace_back(new MemBench("always", always, p.pm));
    constexpr int N = 4000;
    for (auto &b : benches) {
        MemBench *bp = b.get();
        auto &r = make_tlp(bp->pool, tlm::TLM_READ_COMMAND, 0x5000, 8, Purpose::TableRead);
        bp->cpu.returns.reserve(N);
        bp->cpu.script = [&r](TestInitiator &cpu) {
            for (int i = 0; i < N; i++) {
                cpu.send(r);
                sc_core::wait(1, sc_core::SC_US);
            }
        };
    }
    sc_core::sc_start();

    std::vector<std::vector<bool>> seq(benches.size());
    for (size_t k = 0; k < benches.size(); k++) {
        ASSERT_EQ(benches[k]->cpu.returns.size(), size_t(N));
        for (int i = 0; i < N; i++) {
            const uint64_t l = benches[k]->latency(i);
            ASSERT_TRUE(l == kPtLat || l == kLat + kX8) << l;
            seq[k].push_back(l == kPtLat);
        }
        EXPECT_EQ(benches[k]->mem.stats().pt_hits + benches[k]->mem.stats().pt_misses, uint64_t(N));
    }
    EXPECT_EQ(seq[0], seq[1]); // same seed, same hits
    EXPECT_NE(seq[0], seq[2]); // another seed, other hits
    const double frac = double(benches[0]->mem.stats().pt_hits) / N;
    EXPECT_NEAR(frac, 0.3, 0.03);
    EXPECT_EQ(benches[3]->mem.stats().pt_hits, 0u);
    EXPECT_EQ(benches[4]->mem.stats().pt_hits, uint64_t(N));
}

TEST(MemoryConfig, DefaultsAreValidAndModesHaveNames)
{
    std::string key = "x", why = "x";
    EXPECT_TRUE(validate(MemoryConfig{}, &key, &why));
    EXPECT_EQ(key, "x");
    for (PtCacheMode m : {PtCacheMode::None, PtCacheMode::Probability, PtCacheMode::Cache}) {
        PtCacheMode back = PtCacheMode::None;
        ASSERT_TRUE(pt_cache_mode_from_name(pt_cache_mode_name(m), &back));
        EXPECT_EQ(back, m);
    }
    PtCacheMode untouched = PtCacheMode::Cache;
    EXPECT_FALSE(pt_cache_mode_from_name("lru", &untouched));
    EXPECT_EQ(untouched, PtCacheMode::Cache);
    EXPECT_STREQ(pt_cache_mode_name(static_cast<PtCacheMode>(9)), "?");
}

TEST(MemoryConfig, ValidationNamesTheKey)
{
    MemoryConfig c;
    c.latency_ns = -5;
    EXPECT_EQ(error_of(c), "memory.latency_ns: -5 is not in [0, 1e6] ns");
    c = {};
    c.bandwidth_gbps = 0;
    EXPECT_EQ(error_of(c), "memory.bandwidth_gbps: 0 is not in (0, 1e6] Gb/s");
    c.bandwidth_gbps = std::numeric_limits<double>::quiet_NaN();
    EXPECT_EQ(error_of(c).rfind("memory.bandwidth_gbps: ", 0), 0u);
    c = {};
    c.pt_cache.mode = static_cast<PtCacheMode>(7);
    EXPECT_EQ(error_of(c), "memory.pt_cache.mode: 7 is not none, probability or cache");
    c = {};
    c.pt_cache.hit_probability = 1.5;
    EXPECT_EQ(error_of(c), "memory.pt_cache.hit_probability: 1.5 is not in [0, 1]");
    c.pt_cache.hit_probability = std::numeric_limits<double>::quiet_NaN();
    EXPECT_EQ(error_of(c).rfind("memory.pt_cache.hit_probability: ", 0), 0u);
    c = {};
    c.pt_cache.entries = 24;
    c.pt_cache.ways = 8;
    EXPECT_EQ(error_of(c),
              "memory.pt_cache.entries: 24 entries, 8 ways: entries/ways must be a power of two");
    c = {};
    c.pt_cache.ways = 3;
    EXPECT_EQ(error_of(c), "memory.pt_cache.ways: 512 entries, 3 ways: ways must divide entries");
    c = {};
    c.pt_cache.ways = 0;
    EXPECT_EQ(error_of(c).rfind("memory.pt_cache.ways: ", 0), 0u);
    c = {};
    c.pt_cache.mode = PtCacheMode::Cache;
    c.pt_cache.entries = 0;
    EXPECT_EQ(error_of(c), "memory.pt_cache.entries: 0 lines: cache mode needs at least 1");
    c.pt_cache.mode = PtCacheMode::None; // an absent cache is fine when unused
    EXPECT_EQ(error_of(c), "");
    c = {};
    c.pt_cache.latency_ns = 2e6;
    EXPECT_EQ(error_of(c), "memory.pt_cache.latency_ns: 2e+06 is not in [0, 1e6] ns");
}

TEST(MemoryConfig, ModuleRefusesAnInvalidConfig)
{
    MemoryConfig c;
    c.pt_cache.ways = 3;
    try {
        Memory m("mem", c, nullptr);
        FAIL() << "no exception";
    } catch (const std::invalid_argument &e) {
        EXPECT_STREQ(e.what(), "memory.pt_cache.ways: 512 entries, 3 ways: ways must divide entries");
    }
}
