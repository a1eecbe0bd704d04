// trace_gen_test.cpp — the window generator: deterministic (same seed, same bytes), the
// exact pcie-bench pattern (attach, one map of the page-rounded window, `count` size-aligned
// DMAs inside the window), parameter validation; the buffers generator: deterministic, the
// exact event counts and order for given count/ring/sg/devices, every dma on a live,
// complete buffer of its device, segment lengths summing to the size, headroom, physical
// blocks never shared by live buffers but reused; and streaming in constant memory, with
// the decode speed of both forms printed for the record.
#include "traces/gen.h"
#include "traces/trace.h"

#include <gtest/gtest.h>

#include "test_util.h"

#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
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
    EXPECT_EQ(slurp(p), "# iommusim trace v3\n"
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

// ---- buffers --------------------------------------------------------------------------

void gen_buffers(const iommu_gen_buffers_params &p, const std::string &path)
{
    iommu_trace_error err{};
    iommu_trace_writer_t *w = iommu_trace_create(path.c_str(), &err);
    ASSERT_NE(w, nullptr) << err.msg;
    ASSERT_EQ(iommu_trace_gen_buffers(&p, w, &err), IOMMU_OK) << err.msg;
    ASSERT_EQ(iommu_trace_finish(w, &err), IOMMU_OK) << err.msg;
}

iommu_gen_buffers_params bparams(uint64_t count, uint64_t size, unsigned sg = 1, unsigned ring = 256,
                                 unsigned devices = 1, uint8_t dir = IOMMU_ACC_W,
                                 uint64_t headroom = 64, uint64_t seed = 1)
{
    iommu_gen_buffers_params p;
    iommu_gen_buffers_params_default(&p);
    p.count = count;
    p.size = size;
    p.sg = sg;
    p.ring = ring;
    p.devices = devices;
    p.dir = dir;
    p.headroom = headroom;
    p.seed = seed;
    return p;
}

TEST(TraceGenBuffers, Defaults)
{
    iommu_gen_buffers_params p;
    iommu_gen_buffers_params_default(&p);
    EXPECT_EQ(p.count, 1u);
    EXPECT_EQ(p.size, 1500u);
    EXPECT_EQ(p.sg, 1u);
    EXPECT_EQ(p.ring, 256u);
    EXPECT_EQ(p.devices, 1u);
    EXPECT_EQ(p.dir, IOMMU_ACC_W);
    EXPECT_EQ(p.headroom, 64u);
    EXPECT_EQ(p.seed, 1u);
    char reason[256];
    EXPECT_EQ(iommu_gen_buffers_params_validate(&p, reason, sizeof reason), IOMMU_OK) << reason;
}

TEST(TraceGenBuffers, SameSeedSameBytes)
{
    for (const char *ext : {".trace", ".bin", ".trace.gz"}) {
        std::string a = tmp_path(std::string("ba") + ext), b = tmp_path(std::string("bb") + ext),
                    c = tmp_path(std::string("bc") + ext);
        gen_buffers(bparams(3000, 2000, 2, 64, 3, IOMMU_ACC_W, 64, 42), a);
        gen_buffers(bparams(3000, 2000, 2, 64, 3, IOMMU_ACC_W, 64, 42), b);
        gen_buffers(bparams(3000, 2000, 2, 64, 3, IOMMU_ACC_W, 64, 43), c);
        EXPECT_EQ(slurp(a), slurp(b)) << ext;
        EXPECT_NE(slurp(a), slurp(c)) << ext;
        for (const auto &p : {a, b, c})
            std::remove(p.c_str());
    }
}

TEST(TraceGenBuffers, KnownFirstEvents)
{
    // pins the event layout and the page picks: a change here changes every generated trace
    std::string p = tmp_path("bknown.trace");
    gen_buffers(bparams(2, 3000, 2, 2, 2, IOMMU_ACC_R, 100), p);
    EXPECT_EQ(slurp(p), "# iommusim trace v3\n"
                        "attach sid=00:03.0 did=1 mode=sl\n"
                        "attach sid=00:04.0 did=2 mode=sl\n"
                        "dma_map sid=00:03.0 handle=1 pa=0x1000c5064 len=1500 perm=r more\n"
                        "dma_map sid=00:03.0 handle=1 pa=0x100133064 len=1500 perm=r\n"
                        "dma_map sid=00:03.0 handle=2 pa=0x100ed6064 len=1500 perm=r more\n"
                        "dma_map sid=00:03.0 handle=2 pa=0x100954064 len=1500 perm=r\n"
                        "dma_map sid=00:04.0 handle=3 pa=0x10035f064 len=1500 perm=r more\n"
                        "dma_map sid=00:04.0 handle=3 pa=0x100cec064 len=1500 perm=r\n"
                        "dma_map sid=00:04.0 handle=4 pa=0x100510064 len=1500 perm=r more\n"
                        "dma_map sid=00:04.0 handle=4 pa=0x100e58064 len=1500 perm=r\n"
                        "dma sid=00:03.0 handle=1 off=0 len=3000 op=r\n"
                        "dma_unmap handle=1\n"
                        "dma_map sid=00:03.0 handle=5 pa=0x100501064 len=1500 perm=r more\n"
                        "dma_map sid=00:03.0 handle=5 pa=0x100064064 len=1500 perm=r\n"
                        "dma sid=00:04.0 handle=3 off=0 len=3000 op=r\n"
                        "dma_unmap handle=3\n"
                        "dma_map sid=00:04.0 handle=6 pa=0x100899064 len=1500 perm=r more\n"
                        "dma_map sid=00:04.0 handle=6 pa=0x100667064 len=1500 perm=r\n");
    std::remove(p.c_str());
}

struct BufCase {
    uint64_t count, size;
    unsigned sg, ring, devices;
    uint8_t dir;
    uint64_t headroom;
};

// Replays a generated trace with a model of the rings: checks the order of events, every
// dma against the live buffers, and the counts.
TEST(TraceGenBuffers, ExactSequenceAndCounts)
{
    const BufCase cases[] = {
        {1000, 1500, 1, 256, 1, IOMMU_ACC_W, 64},   // the defaults: an RX ring of 1500 B
        {777, 1500, 1, 16, 3, IOMMU_ACC_R, 64},     // tx, three devices, count not a multiple
        {500, 9000, 3, 32, 2, IOMMU_ACC_W, 64},     // jumbo frames in 3 segments
        {300, 9000, 1, 8, 1, IOMMU_ACC_W, 2},       // one 9000 B segment: 4 contiguous pages
        {400, 10, 7, 4, 29, IOMMU_ACC_R, 4095},     // the most devices, 1-2 byte segments
        {50, 64 << 10, 16, 8, 2, IOMMU_ACC_W, 0},   // 16 x 4 KB segments, page-aligned
        {10, 1, 1, 1, 1, IOMMU_ACC_W, 0},           // the smallest: ring of one
        {6000, 1500, 1, 64, 1, IOMMU_ACC_W, 64},    // more buffers than the pool has pages
    };
    for (const BufCase &c : cases) {
        SCOPED_TRACE("count " + std::to_string(c.count) + " size " + std::to_string(c.size) +
                     " sg " + std::to_string(c.sg) + " ring " + std::to_string(c.ring) +
                     " devices " + std::to_string(c.devices));
        iommu_gen_buffers_params bp = bparams(c.count, c.size, c.sg, c.ring, c.devices, c.dir, c.headroom, 5);
        std::string p = tmp_path("bseq.bin");
        gen_buffers(bp, p);
        const uint64_t block = iommu_gen_buffers_block_pages(&bp) * 4096;
        iommu_trace_error err{};
        iommu_trace_reader_t *r = iommu_trace_open(p.c_str(), &err);
        ASSERT_NE(r, nullptr) << err.msg;

        struct Buf {
            iommu_sid_t sid;
            unsigned segs = 0;
            uint64_t bytes = 0;
            bool open = true;
        };
        std::map<uint64_t, Buf> live;            // handle -> buffer
        std::map<iommu_sid_t, std::deque<uint64_t>> rings; // per device, oldest first
        std::map<uint64_t, uint64_t> block_owner; // physical block -> handle
        std::set<uint64_t> blocks_seen;
        uint64_t n[IOMMU_EV_NTYPES] = {}, next_handle = 1, ios = 0, segments_mapped = 0;
        enum { ATTACH, PREMAP, IO_DMA, IO_UNMAP, IO_MAP } phase = ATTACH;
        uint64_t expect_handle = 0;
        iommu_trace_event ev;
        int st;
        while ((st = iommu_trace_next(r, &ev, &err)) > 0) {
            n[ev.type]++;
            const unsigned dev = unsigned(ios % c.devices);
            const iommu_sid_t io_sid = iommu_sid_t(IOMMU_SID(0, 3 + dev, 0));
            ASSERT_EQ(ev.flags & IOMMU_EVF_TIME, 0) << "closed-loop";
            switch (ev.type) {
            case IOMMU_EV_ATTACH:
                ASSERT_EQ(phase, ATTACH);
                ASSERT_EQ(ev.sid, IOMMU_SID(0, 3 + n[IOMMU_EV_ATTACH] - 1, 0));
                ASSERT_EQ(ev.did, n[IOMMU_EV_ATTACH]);
                ASSERT_EQ(ev.mode, 0);
                break;
            case IOMMU_EV_DMA_MAP: {
                if (phase == ATTACH) {
                    ASSERT_EQ(n[IOMMU_EV_ATTACH], c.devices);
                    phase = PREMAP;
                }
                ASSERT_TRUE(phase == PREMAP || phase == IO_MAP);
                ASSERT_EQ(ev.access, c.dir);
                ASSERT_EQ(ev.cpu, 0u);
                segments_mapped++;
                auto it = live.find(ev.handle);
                if (it == live.end()) { // the first segment of a new buffer
                    ASSERT_EQ(ev.handle, next_handle++) << "handles 1, 2, ... in map order";
                    if (phase == PREMAP) { // ring after ring, device by device
                        ASSERT_EQ(ev.sid, IOMMU_SID(0, 3 + (ev.handle - 1) / c.ring, 0));
                    } else {
                        ASSERT_EQ(ev.sid, io_sid);
                    }
                    it = live.emplace(ev.handle, Buf{ev.sid}).first;
                    rings[ev.sid].push_back(ev.handle);
                }
                Buf &b = it->second;
                ASSERT_TRUE(b.open) << "a segment after the last one";
                ASSERT_EQ(ev.sid, b.sid);
                ASSERT_EQ(ev.len, c.size / c.sg + (b.segs < c.size % c.sg)) << "segment " << b.segs;
                ASSERT_EQ((ev.pa - IOMMU_GEN_PA_BASE) % block, c.headroom) << "headroom in its block";
                ASSERT_LE(c.headroom + ev.len, block) << "the segment fits its block";
                uint64_t blk = (ev.pa - IOMMU_GEN_PA_BASE) / block;
                ASSERT_TRUE(block_owner.emplace(blk, ev.handle).second) << "a block in use twice";
                blocks_seen.insert(blk);
                b.segs++;
                b.bytes += ev.len;
                b.open = (ev.flags & IOMMU_EVF_MORE) != 0;
                ASSERT_EQ(b.open, b.segs < c.sg) << "more on all segments but the last";
                ASSERT_EQ(ev.flags & ~IOMMU_EVF_MORE, 0);
                if (!b.open) {
                    ASSERT_EQ(b.bytes, c.size) << "segments sum to the size";
                    if (phase == IO_MAP) {
                        phase = IO_DMA;
                        ios++;
                        ASSERT_EQ(rings[ev.sid].size(), c.ring) << "the refill keeps R mapped";
                    }
                }
                break;
            }
            case IOMMU_EV_DMA: {
                if (phase == PREMAP) {
                    ASSERT_EQ(live.size(), uint64_t(c.ring) * c.devices);
                    phase = IO_DMA;
                }
                ASSERT_EQ(phase, IO_DMA);
                ASSERT_EQ(ev.flags, IOMMU_EVF_HANDLE);
                ASSERT_EQ(ev.sid, io_sid) << "round-robin over the devices";
                auto it = live.find(ev.handle);
                ASSERT_NE(it, live.end()) << "dma on a handle not mapped";
                ASSERT_FALSE(it->second.open) << "dma on an incomplete buffer";
                ASSERT_EQ(it->second.sid, ev.sid);
                ASSERT_EQ(rings[ev.sid].front(), ev.handle) << "the device's oldest buffer";
                ASSERT_EQ(ev.iova, 0u) << "offset 0";
                ASSERT_EQ(ev.len, c.size) << "the whole buffer";
                ASSERT_EQ(ev.access, c.dir);
                expect_handle = ev.handle;
                phase = IO_UNMAP;
                break;
            }
            case IOMMU_EV_DMA_UNMAP: {
                ASSERT_EQ(phase, IO_UNMAP);
                ASSERT_EQ(ev.handle, expect_handle);
                ASSERT_EQ(ev.cpu, 0u);
                auto it = live.find(ev.handle);
                ASSERT_NE(it, live.end());
                rings[it->second.sid].pop_front();
                live.erase(it);
                for (auto b = block_owner.begin(); b != block_owner.end();)
                    b = b->second == ev.handle ? block_owner.erase(b) : std::next(b);
                phase = IO_MAP;
                break;
            }
            default:
                FAIL() << "unexpected event type " << unsigned(ev.type);
            }
        }
        ASSERT_EQ(st, 0) << err.msg;
        iommu_trace_close(r);
        EXPECT_EQ(phase, IO_DMA) << "ends after a refill";
        EXPECT_EQ(ios, c.count);
        // D attach, K (R D + N) dma_map, N dma, N dma_unmap, nothing else
        const uint64_t rd = uint64_t(c.ring) * c.devices;
        EXPECT_EQ(n[IOMMU_EV_ATTACH], c.devices);
        EXPECT_EQ(n[IOMMU_EV_DMA_MAP], c.sg * (rd + c.count));
        EXPECT_EQ(n[IOMMU_EV_DMA], c.count);
        EXPECT_EQ(n[IOMMU_EV_DMA_UNMAP], c.count);
        EXPECT_EQ(segments_mapped, n[IOMMU_EV_DMA_MAP]);
        EXPECT_EQ(live.size(), rd) << "the rings stay mapped at the end";
        // physical blocks come from a pool of max(16 MB, 2 x the live segments) and are
        // reused once more segments were mapped than it holds
        uint64_t pool = std::max<uint64_t>(IOMMU_GEN_BUF_POOL_PAGES * 4096 / block, 2 * rd * c.sg);
        for (uint64_t b : blocks_seen)
            ASSERT_LT(b, pool);
        if (segments_mapped > pool) {
            EXPECT_LT(blocks_seen.size(), segments_mapped);
        }
        std::remove(p.c_str());
    }
}

TEST(TraceGenBuffers, BlockPages)
{
    iommu_gen_buffers_params p = bparams(1, 1500);
    EXPECT_EQ(iommu_gen_buffers_block_pages(&p), 1u);
    p = bparams(1, 4032, 1, 1, 1, IOMMU_ACC_W, 64);
    EXPECT_EQ(iommu_gen_buffers_block_pages(&p), 1u); // 64 + 4032 = 4096
    p.size = 4033;
    EXPECT_EQ(iommu_gen_buffers_block_pages(&p), 2u);
    p.size = 9000;
    EXPECT_EQ(iommu_gen_buffers_block_pages(&p), 4u); // 3 pages, rounded to a power of two
    p.sg = 3;
    EXPECT_EQ(iommu_gen_buffers_block_pages(&p), 1u);
    p.size = 9001; // segments of 3001, 3000, 3000
    EXPECT_EQ(iommu_gen_buffers_block_pages(&p), 1u);
    p.size = 0xFFFFFFFFull;
    p.sg = 1;
    p.headroom = 4095;
    EXPECT_EQ(iommu_gen_buffers_block_pages(&p), 1ull << 21);
}

TEST(TraceGenBuffers, Validation)
{
    char reason[256];
    auto with = [](void (*f)(iommu_gen_buffers_params &)) {
        iommu_gen_buffers_params p = bparams(10, 1500);
        f(p);
        return p;
    };
    struct Case {
        iommu_gen_buffers_params p;
        const char *reason;
    } cases[] = {
        {with([](iommu_gen_buffers_params &p) { p.count = 0; }), "count must be >= 1"},
        {with([](iommu_gen_buffers_params &p) { p.size = 0; }), "size 0 out of range (1 .. 4294967295 bytes)"},
        {with([](iommu_gen_buffers_params &p) { p.size = 1ull << 32; }), "size 4294967296 out of range (1 .. 4294967295 bytes)"},
        {with([](iommu_gen_buffers_params &p) { p.sg = 0; }), "sg 0 out of range (1 .. 1024)"},
        {with([](iommu_gen_buffers_params &p) { p.sg = 1025; }), "sg 1025 out of range (1 .. 1024)"},
        {with([](iommu_gen_buffers_params &p) { p.size = 3, p.sg = 4; }), "sg 4 is more segments than the size has bytes (3)"},
        {with([](iommu_gen_buffers_params &p) { p.ring = 0; }), "ring 0 out of range (1 .. 65536)"},
        {with([](iommu_gen_buffers_params &p) { p.ring = 65537; }), "ring 65537 out of range (1 .. 65536)"},
        {with([](iommu_gen_buffers_params &p) { p.devices = 0; }), "devices 0 out of range (1 .. 29)"},
        {with([](iommu_gen_buffers_params &p) { p.devices = 30; }), "devices 30 out of range (1 .. 29)"},
        {with([](iommu_gen_buffers_params &p) { p.ring = 65536, p.devices = 2, p.sg = 16; }), "ring * devices * sg = 2097152 segments mapped at once, more than 1048576"},
        {with([](iommu_gen_buffers_params &p) { p.dir = IOMMU_ACC_R | IOMMU_ACC_W; }), "dir must be rx (device writes) or tx (device reads)"},
        {with([](iommu_gen_buffers_params &p) { p.dir = 0; }), "dir must be rx (device writes) or tx (device reads)"},
        {with([](iommu_gen_buffers_params &p) { p.headroom = 4096; }), "headroom 4096 out of range (0 .. 4095 bytes)"},
    };
    for (const Case &c : cases) {
        EXPECT_EQ(iommu_gen_buffers_params_validate(&c.p, reason, sizeof reason), IOMMU_ERR_INVAL) << c.reason;
        EXPECT_STREQ(reason, c.reason);
    }
    iommu_gen_buffers_params edge = with([](iommu_gen_buffers_params &p) {
        p.ring = 65536, p.devices = 16, p.sg = 1, p.size = 0xFFFFFFFFull, p.headroom = 4095;
    });
    EXPECT_EQ(iommu_gen_buffers_params_validate(&edge, reason, sizeof reason), IOMMU_OK) << reason;
    // the generator validates too, and writes nothing
    std::string p = tmp_path("binval.trace");
    iommu_trace_error err{};
    iommu_trace_writer_t *w = iommu_trace_create(p.c_str(), &err);
    ASSERT_NE(w, nullptr);
    iommu_gen_buffers_params bad = bparams(10, 1500, 1, 256, 30);
    EXPECT_EQ(iommu_trace_gen_buffers(&bad, w, &err), IOMMU_ERR_INVAL);
    EXPECT_STREQ(err.msg, "gen buffers: devices 30 out of range (1 .. 29)");
    EXPECT_EQ(iommu_trace_written(w), 0u);
    EXPECT_EQ(iommu_trace_finish(w, &err), IOMMU_OK);
    std::remove(p.c_str());
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
