// trace_gen_test.cpp — the window generator: deterministic (same seed, same bytes), the
// exact pcie-bench pattern (attach, one map of the page-rounded window, `count` size-aligned
// DMAs inside the window), parameter validation; and streaming in constant memory, with
// the decode speed of both forms printed for the record.
#include "traces/gen.h"
#include "traces/trace.h"

#include <gtest/gtest.h>

#include "test_util.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

std::string tmp_path(const std::string &name) { return test_util::tmp_path("gen", name); }

using test_util::slurp;

void gen(const iommu_gen_window_params &p, const std::string &path)
{
    iommu_trace_error err{};
    iommu_trace_writer_t *w = iommu_trace_create(path.c_str(), &err);
    ASSERT_NE(w, nullptr) << err.msg;
    ASSERT_EQ(iommu_trace_gen_window(&p, w, &err), IOMMU_OK) << err.msg;
    ASSERT_EQ(iommu_trace_finish(w, &err), IOMMU_OK) << err.msg;
}

iommu_gen_window_params params(uint64_t window, uint64_t size, uint64_t count,
                               unsigned shift = 12, uint8_t op = IOMMU_ACC_R, uint64_t seed = 1)
{
    iommu_gen_window_params p;
    iommu_gen_window_params_default(&p);
    p.window = window;
    p.size = size;
    p.count = count;
    p.page_shift = shift;
    p.op = op;
    p.seed = seed;
    return p;
}

TEST(TraceGen, SameSeedSameBytes)
{
    for (const char *ext : {".trace", ".bin", ".trace.gz"}) {
        std::string a = tmp_path(std::string("a") + ext), b = tmp_path(std::string("b") + ext),
                    c = tmp_path(std::string("c") + ext);
        gen(params(256 << 10, 64, 5000, 12, IOMMU_ACC_R, 42), a);
        gen(params(256 << 10, 64, 5000, 12, IOMMU_ACC_R, 42), b);
        gen(params(256 << 10, 64, 5000, 12, IOMMU_ACC_R, 43), c);
        EXPECT_EQ(slurp(a), slurp(b)) << ext;
        EXPECT_NE(slurp(a), slurp(c)) << ext;
        for (const auto &p : {a, b, c})
            std::remove(p.c_str());
    }
}

TEST(TraceGen, KnownFirstEvents)
{
    // pins the PRNG and the event layout: a change here changes every generated trace
    std::string p = tmp_path("known.trace");
    gen(params(256 << 10, 64, 3), p);
    EXPECT_EQ(slurp(p), "# iommusim trace v1\n"
                        "attach sid=01:00.0 did=1 mode=sl\n"
                        "map did=1 iova=0x100000000 pa=0x100000000 len=0x40000 perm=rw page=4K\n"
                        "dma sid=01:00.0 iova=0x100003140 len=64 op=r\n"
                        "dma sid=01:00.0 iova=0x100033a80 len=64 op=r\n"
                        "dma sid=01:00.0 iova=0x100014500 len=64 op=r\n");
    std::remove(p.c_str());
}

struct Pattern {
    uint64_t window, size, count;
    unsigned shift;
    uint8_t op;
};

TEST(TraceGen, ExactPattern)
{
    const Pattern cases[] = {
        {256 << 10, 64, 20000, 12, IOMMU_ACC_R},
        {64ull << 20, 512, 20000, 21, IOMMU_ACC_W},
        {100000, 4096, 3000, 12, IOMMU_ACC_W}, // window not a multiple of page or size
        {3ull << 30, 1ull << 20, 500, 30, IOMMU_ACC_R},
        {64, 64, 10, 12, IOMMU_ACC_R},          // one slot
        {1, 1, 5, 21, IOMMU_ACC_R},             // the smallest window
    };
    for (const Pattern &c : cases) {
        SCOPED_TRACE(c.window);
        std::string p = tmp_path("pattern.bin");
        gen(params(c.window, c.size, c.count, c.shift, c.op, 7), p);
        iommu_trace_error err{};
        iommu_trace_reader_t *r = iommu_trace_open(p.c_str(), &err);
        ASSERT_NE(r, nullptr) << err.msg;
        iommu_trace_event ev;
        ASSERT_EQ(iommu_trace_next(r, &ev, &err), 1);
        EXPECT_EQ(ev.type, IOMMU_EV_ATTACH);
        EXPECT_EQ(ev.sid, IOMMU_SID(1, 0, 0));
        EXPECT_EQ(ev.did, 1);
        EXPECT_EQ(ev.mode, 0);
        EXPECT_EQ(ev.flags, 0);
        ASSERT_EQ(iommu_trace_next(r, &ev, &err), 1);
        EXPECT_EQ(ev.type, IOMMU_EV_MAP);
        uint64_t page = 1ull << c.shift;
        EXPECT_EQ(ev.did, 1);
        EXPECT_EQ(ev.iova, IOMMU_GEN_IOVA_BASE);
        EXPECT_EQ(ev.pa, IOMMU_GEN_PA_BASE);
        EXPECT_EQ(ev.len, (c.window + page - 1) / page * page);
        EXPECT_EQ(ev.page_shift, c.shift);
        EXPECT_EQ(ev.access, IOMMU_ACC_R | IOMMU_ACC_W);
        uint64_t n = 0;
        std::set<uint64_t> offsets;
        int st;
        while ((st = iommu_trace_next(r, &ev, &err)) > 0) {
            ASSERT_EQ(ev.type, IOMMU_EV_DMA);
            ASSERT_EQ(ev.sid, IOMMU_SID(1, 0, 0));
            ASSERT_EQ(ev.len, c.size);
            ASSERT_EQ(ev.access, c.op);
            ASSERT_EQ(ev.flags, 0);
            uint64_t off = ev.iova - IOMMU_GEN_IOVA_BASE;
            ASSERT_EQ(off % c.size, 0u) << off;
            ASSERT_LE(off + c.size, c.window) << off;
            offsets.insert(off);
            n++;
        }
        EXPECT_EQ(st, 0) << err.msg;
        EXPECT_EQ(n, c.count);
        uint64_t slots = c.window / c.size;
        // uniform: with many draws over few slots, every slot is hit
        if (c.count >= 20 * slots) {
            EXPECT_EQ(offsets.size(), slots);
        }
        iommu_trace_close(r);
        std::remove(p.c_str());
    }
}

TEST(TraceGen, Validation)
{
    char reason[256];
    struct Case {
        iommu_gen_window_params p;
        const char *reason;
    } cases[] = {
        {params(0, 64, 1), "window 0 out of range (1 .. 1099511627776 bytes)"},
        {params((1ull << 40) + 1, 64, 1), "window 1099511627777 out of range (1 .. 1099511627776 bytes)"},
        {params(4096, 96, 1), "size 96 is not a power of two"},
        {params(4096, 0, 1), "size 0 is not a power of two"},
        {params(4096, 8192, 1), "size 8192 is larger than the window (4096 bytes)"},
        {params(1ull << 40, 1ull << 33, 1), "size 8589934592 out of range (max 4294967295)"},
        {params(4096, 64, 0), "count must be >= 1"},
        {params(4096, 64, 1, 13), "page size 2^13 is not 4K, 2M or 1G"},
        {params(4096, 64, 1, 12, IOMMU_ACC_R | IOMMU_ACC_W), "op must be read or write"},
    };
    for (const Case &c : cases) {
        EXPECT_EQ(iommu_gen_window_params_validate(&c.p, reason, sizeof reason), IOMMU_ERR_INVAL);
        EXPECT_STREQ(reason, c.reason);
    }
    iommu_gen_window_params ok = params(4096, 64, 1);
    EXPECT_EQ(iommu_gen_window_params_validate(&ok, reason, sizeof reason), IOMMU_OK);
    // the generator validates too, and writes nothing
    std::string p = tmp_path("inval.trace");
    iommu_trace_error err{};
    iommu_trace_writer_t *w = iommu_trace_create(p.c_str(), &err);
    ASSERT_NE(w, nullptr);
    iommu_gen_window_params bad = params(4096, 96, 1);
    EXPECT_EQ(iommu_trace_gen_window(&bad, w, &err), IOMMU_ERR_INVAL);
    EXPECT_STREQ(err.msg, "gen window: size 96 is not a power of two");
    EXPECT_EQ(iommu_trace_written(w), 0u);
    EXPECT_EQ(iommu_trace_finish(w, &err), IOMMU_OK);
    std::remove(p.c_str());
}

TEST(TraceGen, RngIsUnbiasedAndDeterministic)
{
    iommu_gen_rng a, b;
    iommu_gen_rng_seed(&a, 99);
    iommu_gen_rng_seed(&b, 99);
    for (int i = 0; i < 1000; i++)
        ASSERT_EQ(iommu_gen_rng_next(&a), iommu_gen_rng_next(&b));
    unsigned hist[3] = {};
    for (int i = 0; i < 30000; i++) {
        uint64_t v = iommu_gen_rng_below(&a, 3);
        ASSERT_LT(v, 3u);
        hist[v]++;
    }
    for (unsigned h : hist)
        EXPECT_NEAR(h, 10000, 400);
    EXPECT_EQ(iommu_gen_rng_below(&a, 1), 0u);
    uint64_t big = (1ull << 63) + 1; // rejection region is almost half the range
    for (int i = 0; i < 100; i++)
        ASSERT_LT(iommu_gen_rng_below(&a, big), big);
}

long vm_hwm_kb()
{
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmHWM:", 0) == 0)
            return std::stol(line.substr(6));
    return -1;
}

// Streams a 2 M-event trace of each form: peak RSS must not grow with the trace (the reader
// holds one 1 MiB buffer). Also prints the decode rate of each form.
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

TEST(TraceStream, ConstantMemoryAndDecodeRate)
{
#ifdef SANITIZED
    const uint64_t n = 200000; // the rate means nothing under ASan; keep the test quick
#else
    const uint64_t n = 2000000;
#endif
    for (const char *ext : {".bin", ".trace"}) {
        std::string p = tmp_path(std::string("stream") + ext);
        gen(params(64ull << 20, 64, n, 12, IOMMU_ACC_R, 3), p);
        long before = vm_hwm_kb();
        auto t0 = std::chrono::steady_clock::now();
        iommu_trace_error err{};
        iommu_trace_reader_t *r = iommu_trace_open(p.c_str(), &err);
        ASSERT_NE(r, nullptr) << err.msg;
        iommu_trace_event ev;
        uint64_t count = 0, sum = 0;
        int st;
        while ((st = iommu_trace_next(r, &ev, &err)) > 0) {
            count++;
            sum += ev.iova;
        }
        ASSERT_EQ(st, 0) << err.msg;
        iommu_trace_close(r);
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        long after = vm_hwm_kb();
        EXPECT_EQ(count, n + 2);
        EXPECT_NE(sum, 0u);
        std::printf("[ rate     ] %s: %llu events in %.3f s = %.1f M events/s (file %.1f MB)\n",
                    ext, (unsigned long long)count, secs, double(count) / secs / 1e6,
                    double(slurp(p).size()) / 1e6);
        if (before > 0 && after > 0) {
            EXPECT_LT(after - before, 8 * 1024) << "peak RSS grew by " << (after - before) << " kB";
        }
        std::remove(p.c_str());
    }
}

} // namespace
