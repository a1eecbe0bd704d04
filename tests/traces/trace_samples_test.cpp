// trace_samples_test.cpp — the committed samples in traces/samples/ read cleanly, and
// default.trace is consistent as a replay input: every DMA falls inside live mappings of its
// device's domain with the permission it needs, maps never overlap, unmaps remove mapped
// pages, every unmapped range is invalidated before its IOVAs are reused, timestamps never
// go back, and everything is torn down at the end. buffers-rx-1500.trace (buffer events,
// v2) is consistent too: every dma is by a live, complete buffer of its own device and
// inside it, every dma_unmap names a live buffer. irq-nic-vm.trace (v3) is a timed interrupt
// stream with its set-up first.
#include "traces/trace.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

const std::string kSamples = std::string(IOMMUSIM_SOURCE_DIR) + "/traces/samples/";

struct Range {
    uint64_t lo, hi; // [lo, hi)
};

TEST(TraceSamples, AllReadCleanly)
{
    for (const char *name : {"default.trace", "window-256k-64b.trace", "window-64m-2m.bin"}) {
        std::string path = kSamples + name;
        iommu_trace_error err{};
        iommu_trace_reader_t *r = iommu_trace_open(path.c_str(), &err);
        ASSERT_NE(r, nullptr) << err.msg;
        iommu_trace_event ev;
        uint64_t n = 0;
        int st;
        while ((st = iommu_trace_next(r, &ev, &err)) > 0)
            n++;
        EXPECT_EQ(st, 0) << err.msg;
        EXPECT_GE(n, 20000u) << name;
        EXPECT_LE(n, 30000u) << name;
        iommu_trace_close(r);
        std::ifstream f(path, std::ios::binary | std::ios::ate);
        EXPECT_LT(f.tellg(), 2 * 1024 * 1024) << name;
    }
}

TEST(TraceSamples, DefaultTraceIsConsistent)
{
    std::string path = kSamples + "default.trace";
    iommu_trace_error err{};
    iommu_trace_reader_t *r = iommu_trace_open(path.c_str(), &err);
    ASSERT_NE(r, nullptr) << err.msg;

    std::map<iommu_sid_t, unsigned> attached;                 // sid -> did
    std::map<unsigned, std::map<uint64_t, uint8_t>> pages;    // did -> 4 KB page -> perm
    std::map<unsigned, std::vector<Range>> stale;             // did -> unmapped, not invalidated
    uint64_t last_t = 0, crossing = 0, maps_2m = 0, aliases = 0, dmas = 0;
    iommu_trace_event ev;
    int st;
    while ((st = iommu_trace_next(r, &ev, &err)) > 0) {
        SCOPED_TRACE("line " + std::to_string(iommu_trace_position(r)));
        ASSERT_TRUE(ev.flags & IOMMU_EVF_TIME);
        ASSERT_GE(ev.time_ns, last_t);
        last_t = ev.time_ns;
        switch (ev.type) {
        case IOMMU_EV_ATTACH:
            ASSERT_EQ(attached.count(ev.sid), 0u);
            attached[ev.sid] = ev.did;
            aliases += (ev.flags & IOMMU_EVF_ALIAS) != 0;
            break;
        case IOMMU_EV_DETACH:
            ASSERT_EQ(attached.erase(ev.sid), 1u);
            break;
        case IOMMU_EV_MAP: {
            maps_2m += ev.page_shift == IOMMU_PAGE_SHIFT_2M;
            for (const Range &s : stale[ev.did])
                ASSERT_TRUE(ev.iova + ev.len <= s.lo || ev.iova >= s.hi)
                    << "IOVA reused before its invalidation";
            auto &pm = pages[ev.did];
            for (uint64_t p = ev.iova >> 12; p < (ev.iova + ev.len) >> 12; p++)
                ASSERT_TRUE(pm.emplace(p, ev.access).second) << "overlapping map";
            break;
        }
        case IOMMU_EV_UNMAP: {
            auto &pm = pages[ev.did];
            for (uint64_t p = ev.iova >> 12; p < (ev.iova + ev.len) >> 12; p++)
                ASSERT_EQ(pm.erase(p), 1u) << "unmap of an unmapped page";
            stale[ev.did].push_back({ev.iova, ev.iova + ev.len});
            break;
        }
        case IOMMU_EV_INV: {
            auto &v = stale[ev.did];
            if (ev.inv_type == IOMMU_INV_IOTLB_DOMAIN) {
                v.clear();
            } else if (ev.inv_type == IOMMU_INV_IOTLB_PAGE) {
                uint64_t lo = ev.iova, hi = ev.iova + (4096ull << ev.am);
                size_t before = v.size();
                v.erase(std::remove_if(v.begin(), v.end(),
                                       [&](const Range &s) { return s.lo >= lo && s.hi <= hi; }),
                        v.end());
                ASSERT_LT(v.size(), before) << "iotlb-page invalidation of nothing unmapped";
            }
            break;
        }
        case IOMMU_EV_DMA: {
            dmas++;
            ASSERT_EQ(attached.count(ev.sid), 1u) << "DMA from a detached device";
            auto &pm = pages[attached[ev.sid]];
            uint64_t first = ev.iova >> 12, last = (ev.iova + ev.len - 1) >> 12;
            crossing += first != last;
            uint8_t need = ev.access & (IOMMU_ACC_R | IOMMU_ACC_W);
            for (uint64_t p = first; p <= last; p++) {
                auto it = pm.find(p);
                ASSERT_NE(it, pm.end()) << "DMA to an unmapped page";
                ASSERT_EQ(it->second & need, need) << "DMA without permission";
            }
            break;
        }
        case IOMMU_EV_MSI:
            ASSERT_EQ(attached.count(ev.sid), 1u);
            break;
        default:
            break;
        }
    }
    ASSERT_EQ(st, 0) << err.msg;
    iommu_trace_close(r);
    EXPECT_GT(crossing, 0u);
    EXPECT_GT(maps_2m, 0u);
    EXPECT_EQ(aliases, 1u);
    EXPECT_GT(dmas, 10000u);
    EXPECT_TRUE(attached.empty());
    for (auto &kv : pages)
        EXPECT_TRUE(kv.second.empty()) << "domain " << kv.first << " still has mappings";
    for (auto &kv : stale)
        EXPECT_TRUE(kv.second.empty()) << "domain " << kv.first << " has uninvalidated unmaps";
}

TEST(TraceSamples, BuffersSampleIsConsistent)
{
    std::string path = kSamples + "buffers-rx-1500.trace";
    iommu_trace_error err{};
    iommu_trace_reader_t *r = iommu_trace_open(path.c_str(), &err);
    ASSERT_NE(r, nullptr) << err.msg;
    EXPECT_EQ(iommu_trace_version(r), 3u);
    struct Buf {
        iommu_sid_t sid;
        uint64_t bytes;
        bool open;
    };
    std::map<uint64_t, Buf> live;
    std::set<iommu_sid_t> attached;
    uint64_t n = 0, dmas = 0, maps = 0, unmaps = 0;
    iommu_trace_event ev;
    int st;
    while ((st = iommu_trace_next(r, &ev, &err)) > 0) {
        SCOPED_TRACE("line " + std::to_string(iommu_trace_position(r)));
        n++;
        switch (ev.type) {
        case IOMMU_EV_ATTACH:
            attached.insert(ev.sid);
            break;
        case IOMMU_EV_DMA_MAP: {
            maps++;
            ASSERT_EQ(attached.count(ev.sid), 1u);
            ASSERT_EQ(ev.access, IOMMU_ACC_W); // rx: the device writes
            ASSERT_EQ(ev.pa % 4096, 64u);      // NET_SKB_PAD headroom
            auto it = live.find(ev.handle);
            if (it == live.end())
                it = live.emplace(ev.handle, Buf{ev.sid, 0, true}).first;
            ASSERT_TRUE(it->second.open) << "mapped twice";
            it->second.bytes += ev.len;
            it->second.open = (ev.flags & IOMMU_EVF_MORE) != 0;
            break;
        }
        case IOMMU_EV_DMA: {
            dmas++;
            ASSERT_TRUE(ev.flags & IOMMU_EVF_HANDLE);
            auto it = live.find(ev.handle);
            ASSERT_NE(it, live.end()) << "dma by an unmapped handle";
            ASSERT_FALSE(it->second.open);
            ASSERT_EQ(it->second.sid, ev.sid);
            ASSERT_LE(ev.iova + ev.len, it->second.bytes);
            ASSERT_EQ(ev.access, IOMMU_ACC_W);
            break;
        }
        case IOMMU_EV_DMA_UNMAP:
            unmaps++;
            ASSERT_EQ(live.erase(ev.handle), 1u) << "unmap of an unmapped handle";
            break;
        default:
            FAIL() << "unexpected event " << iommu_ev_name(ev.type);
        }
    }
    ASSERT_EQ(st, 0) << err.msg;
    iommu_trace_close(r);
    EXPECT_EQ(n, 6514u);
    EXPECT_EQ(attached.size(), 2u);
    EXPECT_EQ(dmas, 2000u);
    EXPECT_EQ(unmaps, 2000u);
    EXPECT_EQ(maps, 2512u);
    EXPECT_EQ(live.size(), 512u);
}

} // namespace

// irq-nic-vm.trace (version 3): set-up at t=0, then 2000 msi events, each naming its vCPU,
// in time order; the vCPUs are halted, preempted and running in turn.
TEST(TraceSamples, IrqSampleIsConsistent)
{
    std::string path = kSamples + "irq-nic-vm.trace";
    iommu_trace_error err{};
    iommu_trace_reader_t *r = iommu_trace_open(path.c_str(), &err);
    ASSERT_NE(r, nullptr) << err.msg;
    EXPECT_EQ(iommu_trace_version(r), 3u);
    iommu_trace_event ev;
    int st;
    uint64_t last_t = 0, msis = 0, ios = 0, irtes = 0, states[3] = {};
    std::set<uint64_t> threads;
    while ((st = iommu_trace_next(r, &ev, &err)) > 0) {
        ASSERT_TRUE(ev.flags & IOMMU_EVF_TIME);
        ASSERT_GE(ev.time_ns, last_t);
        last_t = ev.time_ns;
        if (ev.type == IOMMU_EV_MSI) {
            ASSERT_TRUE(ev.flags & IOMMU_EVF_THREAD);
            ASSERT_EQ(ev.sid, IOMMU_SID(0, 3, 0));
            threads.insert(ev.thread);
            msis++;
            ios += ev.ios;
        } else if (ev.type == IOMMU_EV_IRTE) {
            irtes++;
            ASSERT_EQ(ev.time_ns, 0u);
        } else if (ev.type == IOMMU_EV_SCHED) {
            states[ev.state]++;
        }
    }
    EXPECT_EQ(st, 0) << err.msg;
    iommu_trace_close(r);
    EXPECT_EQ(msis, 2000u);
    EXPECT_EQ(irtes, 8u);
    EXPECT_EQ(threads, (std::set<uint64_t>{0, 1, 2, 3}));
    EXPECT_GT(ios, 2 * msis); // NAPI windows and TX batches
    EXPECT_GT(states[IOMMU_SCHED_STOP], 100u);
    EXPECT_GT(states[IOMMU_SCHED_PREEMPT], 50u);
    EXPECT_GT(states[IOMMU_SCHED_RUN], 100u);
}
