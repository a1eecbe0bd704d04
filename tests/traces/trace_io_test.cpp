// trace_io_test.cpp — readers and writers of both forms: lossless text <-> binary
// conversion of random events of every type (property test), gzip, stdin-free memory
// reading, the exact bytes of records, and the exact one-line messages for malformed files
// (line numbers, byte offsets, truncation at every cut point, foreign files, wrong versions,
// version-2 events in version-1 files, wrong extensions).
#include "traces/gen.h"
#include "traces/trace.h"

#include <gtest/gtest.h>

#include "test_util.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

std::string tmp_path(const std::string &name) { return test_util::tmp_path("trace", name); }

using test_util::slurp;

using test_util::spit;

// Reads a whole trace; returns the events, and the error message ("" if none).
std::vector<iommu_trace_event> read_all(const std::string &path, std::string *error)
{
    std::vector<iommu_trace_event> out;
    iommu_trace_error err{};
    *error = "";
    iommu_trace_reader_t *r = iommu_trace_open(path.c_str(), &err);
    if (!r) {
        *error = err.msg;
        return out;
    }
    iommu_trace_event ev;
    int st;
    while ((st = iommu_trace_next(r, &ev, &err)) > 0)
        out.push_back(ev);
    if (st < 0)
        *error = err.msg;
    iommu_trace_close(r);
    return out;
}

std::string read_error(const std::string &path)
{
    std::string e;
    read_all(path, &e);
    return e;
}

std::string mem_error(const std::string &data, iommu_trace_form form)
{
    iommu_trace_error err{};
    iommu_trace_reader_t *r = iommu_trace_open_mem(data.data(), data.size(), form, "mem", &err);
    if (!r)
        return err.msg;
    iommu_trace_event ev;
    int st;
    while ((st = iommu_trace_next(r, &ev, &err)) > 0) {
    }
    iommu_trace_close(r);
    return st < 0 ? std::string(err.msg) : std::string();
}

void write_all(const std::string &path, const std::vector<iommu_trace_event> &evs)
{
    iommu_trace_error err{};
    iommu_trace_writer_t *w = iommu_trace_create(path.c_str(), &err);
    ASSERT_NE(w, nullptr) << err.msg;
    for (const auto &ev : evs)
        ASSERT_EQ(iommu_trace_write(w, &ev, &err), IOMMU_OK) << err.msg;
    ASSERT_EQ(iommu_trace_finish(w, &err), IOMMU_OK) << err.msg;
}

// A random valid event of a random type (every type, every optional field, every enum).
iommu_trace_event random_event(iommu_gen_rng &g)
{
    auto r = [&] { return iommu_gen_rng_next(&g); };
    auto below = [&](uint64_t n) { return iommu_gen_rng_below(&g, n); };
    iommu_trace_event ev;
    unsigned type = 1 + unsigned(below(IOMMU_EV_NTYPES - 1));
    iommu_trace_event_init(&ev, type);
    auto maybe_pasid = [&] {
        if (below(2)) {
            ev.flags |= IOMMU_EVF_PASID;
            ev.pasid = iommu_pasid_t(below(IOMMU_PASID_MAX + 1));
        }
    };
    switch (type) {
    case IOMMU_EV_ATTACH:
        ev.sid = iommu_sid_t(r());
        ev.did = iommu_did_t(r());
        ev.mode = uint8_t(below(4));
        maybe_pasid();
        if (below(2)) {
            ev.flags |= IOMMU_EVF_ALIAS;
            ev.alias = iommu_sid_t(r());
        }
        break;
    case IOMMU_EV_DETACH:
        ev.sid = iommu_sid_t(r());
        maybe_pasid();
        break;
    case IOMMU_EV_MAP: {
        static const uint8_t shifts[] = {12, 21, 30};
        ev.page_shift = shifts[below(3)];
        ev.did = iommu_did_t(r());
        ev.iova = below(1ull << 48) << ev.page_shift;
        ev.pa = below(1ull << 40) << ev.page_shift;
        ev.len = (1 + below(64)) << ev.page_shift;
        ev.access = uint8_t(1 + below(7));
        ev.stage = uint8_t(below(3));
        break;
    }
    case IOMMU_EV_UNMAP:
        ev.did = iommu_did_t(r());
        ev.iova = below(1ull << 50) << 12;
        ev.len = (1 + below(1u << 20)) << 12;
        ev.stage = uint8_t(below(3));
        break;
    case IOMMU_EV_DMA:
        ev.sid = iommu_sid_t(r());
        ev.len = below(4) ? 1 + below(4096) : 1 + below(0xFFFFFFFFull);
        ev.iova = below(2) ? below(1ull << 48) : std::min(r(), UINT64_MAX - (ev.len - 1));
        if (below(3) == 0) { // by handle: iova is the offset
            ev.flags |= IOMMU_EVF_HANDLE;
            ev.handle = below(2) ? below(1000) : r();
            if (below(2))
                ev.iova = below(2) ? 0 : below(65536);
        }
        ev.access = below(2) ? IOMMU_ACC_R : IOMMU_ACC_W;
        if (ev.access == IOMMU_ACC_R && below(2)) ev.access |= IOMMU_ACC_X;
        if (below(2)) ev.access |= IOMMU_ACC_PRIV;
        ev.ats = uint8_t(below(3));
        maybe_pasid();
        break;
    case IOMMU_EV_INV: {
        ev.inv_type = uint8_t(1 + below(IOMMU_INV_NTYPES - 1));
        switch (ev.inv_type) {
        case IOMMU_INV_CC_DOMAIN:
        case IOMMU_INV_IOTLB_DOMAIN:
            ev.did = iommu_did_t(r());
            break;
        case IOMMU_INV_CC_DEVICE:
            ev.did = iommu_did_t(r());
            ev.sid = iommu_sid_t(r());
            break;
        case IOMMU_INV_IOTLB_PAGE:
        case IOMMU_INV_DEVTLB:
        case IOMMU_INV_PASID_IOTLB:
            if (ev.inv_type == IOMMU_INV_DEVTLB) ev.sid = iommu_sid_t(r());
            else ev.did = iommu_did_t(r());
            if (ev.inv_type != IOMMU_INV_PASID_IOTLB || below(2)) {
                ev.flags |= IOMMU_EVF_ADDR;
                ev.am = uint8_t(below(21));
                ev.iova = below(1ull << 30) << (12 + ev.am);
                if (ev.inv_type != IOMMU_INV_DEVTLB && below(2)) ev.flags |= IOMMU_EVF_IH;
            }
            if (ev.inv_type == IOMMU_INV_PASID_IOTLB) {
                ev.flags |= IOMMU_EVF_PASID;
                ev.pasid = iommu_pasid_t(below(IOMMU_PASID_MAX + 1));
            } else if (ev.inv_type == IOMMU_INV_DEVTLB) {
                maybe_pasid();
            }
            break;
        case IOMMU_INV_IEC_INDEX:
            ev.am = uint8_t(below(17));
            ev.index = uint32_t(below(0x10000)) & ~((1u << ev.am) - 1);
            break;
        case IOMMU_INV_PASID_CACHE:
            ev.did = iommu_did_t(r());
            maybe_pasid();
            break;
        default:
            break;
        }
        break;
    }
    case IOMMU_EV_MSI:
        ev.sid = iommu_sid_t(r());
        ev.pa = IOMMU_IRQ_RANGE_BASE + below(0x100000);
        ev.data = uint32_t(r());
        if (below(2)) { // v3: the consumer, and coalesced I/Os
            ev.flags |= IOMMU_EVF_THREAD;
            ev.thread = below(2) ? below(64) : r();
        }
        if (below(2)) ev.ios = uint32_t(below(2) ? 1 + below(64) : 1 + below(0xFFFFFFFFull));
        break;
    case IOMMU_EV_IRTE:
        ev.index = uint32_t(below(0x10000));
        ev.lo = r();
        ev.hi = r();
        break;
    case IOMMU_EV_SCHED:
        ev.thread = r();
        ev.cpu = uint32_t(r());
        ev.state = uint8_t(below(3)); // stop, run, preempt (v3)
        break;
    case IOMMU_EV_DMA_MAP: {
        static const uint8_t perms[] = {IOMMU_ACC_R, IOMMU_ACC_W, IOMMU_ACC_R | IOMMU_ACC_W};
        ev.sid = iommu_sid_t(r());
        ev.handle = below(2) ? below(1000) : r();
        ev.len = below(4) ? 1 + below(9000) : 1 + below(UINT64_MAX - 1);
        ev.pa = below(2) ? below(1ull << 40) : std::min(r(), UINT64_MAX - (ev.len - 1));
        ev.access = perms[below(3)];
        if (below(2)) ev.flags |= IOMMU_EVF_MORE;
        if (below(2)) ev.cpu = uint32_t(below(2) ? below(64) : r());
        break;
    }
    case IOMMU_EV_DMA_UNMAP:
        ev.handle = below(2) ? below(1000) : r();
        if (below(2)) ev.cpu = uint32_t(below(2) ? below(64) : r());
        break;
    }
    if (below(2)) {
        ev.flags |= IOMMU_EVF_TIME;
        ev.time_ns = below(4) ? below(1ull << 40) : r();
    }
    return ev;
}

std::vector<iommu_trace_event> random_events(uint64_t seed, size_t n)
{
    iommu_gen_rng g;
    iommu_gen_rng_seed(&g, seed);
    std::vector<iommu_trace_event> v;
    for (size_t i = 0; i < n; i++) {
        v.push_back(random_event(g));
        char reason[256];
        EXPECT_EQ(iommu_trace_event_check(&v.back(), reason, sizeof reason), 0) << reason;
    }
    return v;
}

void expect_same(const std::vector<iommu_trace_event> &a, const std::vector<iommu_trace_event> &b)
{
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); i++) {
        char la[512] = "", lb[512] = "";
        iommu_trace_format_line(&a[i], la, sizeof la);
        iommu_trace_format_line(&b[i], lb, sizeof lb);
        ASSERT_TRUE(iommu_trace_event_equal(&a[i], &b[i])) << "event " << i << ":\n  " << la << "\n  " << lb;
    }
}

// Copies a trace through a reader and a writer (the `trace convert` loop).
void convert(const std::string &in, const std::string &out)
{
    iommu_trace_error err{};
    iommu_trace_reader_t *r = iommu_trace_open(in.c_str(), &err);
    ASSERT_NE(r, nullptr) << err.msg;
    iommu_trace_writer_t *w = iommu_trace_create(out.c_str(), &err);
    ASSERT_NE(w, nullptr) << err.msg;
    iommu_trace_event ev;
    int st;
    while ((st = iommu_trace_next(r, &ev, &err)) > 0)
        ASSERT_EQ(iommu_trace_write(w, &ev, &err), IOMMU_OK) << err.msg;
    ASSERT_EQ(st, 0) << err.msg;
    iommu_trace_close(r);
    ASSERT_EQ(iommu_trace_finish(w, &err), IOMMU_OK) << err.msg;
}

TEST(TraceIo, RandomEventsLosslessTextBinaryText)
{
    for (uint64_t seed : {1, 2, 3}) {
        SCOPED_TRACE(seed);
        auto evs = random_events(seed, 20000);
        std::string t1 = tmp_path("rt1.trace"), b = tmp_path("rt.bin"), t2 = tmp_path("rt2.trace");
        write_all(t1, evs);
        write_all(b, evs);
        std::string e;
        expect_same(evs, read_all(t1, &e));
        EXPECT_EQ(e, "");
        expect_same(evs, read_all(b, &e));
        EXPECT_EQ(e, "");
        // text -> binary -> text reproduces the text file byte for byte
        std::string b2 = tmp_path("rt2.bin");
        convert(t1, b2);
        convert(b2, t2);
        EXPECT_EQ(slurp(t1), slurp(t2));
        EXPECT_EQ(slurp(b), slurp(b2)); // and the binary encoding is deterministic
        for (const auto &p : {t1, b, t2, b2})
            std::remove(p.c_str());
    }
}

TEST(TraceIo, ReadersReturnCanonicalEvents)
{
    // Fields an event does not use are ignored by the writer and come back zero.
    iommu_trace_event ev;
    iommu_trace_event_init(&ev, IOMMU_EV_DMA);
    ev.sid = 0x0100;
    ev.iova = 0x1000;
    ev.len = 64;
    ev.access = IOMMU_ACC_R;
    ev.did = 9;        // not a dma field
    ev.pasid = 1234;   // no IOMMU_EVF_PASID: ignored
    ev.lo = 5;
    for (const char *name : {"canon.trace", "canon.bin"}) {
        std::string p = tmp_path(name);
        write_all(p, {ev});
        std::string e;
        auto back = read_all(p, &e);
        ASSERT_EQ(back.size(), 1u) << e;
        EXPECT_EQ(back[0].did, 0);
        EXPECT_EQ(back[0].lo, 0u);
        EXPECT_EQ(back[0].pasid, IOMMU_PASID_NONE);
        EXPECT_TRUE(iommu_trace_event_equal(&back[0], &ev));
        std::remove(p.c_str());
    }
}

TEST(TraceIo, TextFileLayout)
{
    std::string p = tmp_path("layout.trace");
    iommu_trace_event ev;
    iommu_trace_event_init(&ev, IOMMU_EV_SCHED);
    ev.thread = 7;
    ev.cpu = 2;
    ev.state = 1;
    write_all(p, {ev, ev});
    EXPECT_EQ(slurp(p), "# iommusim trace v3\nsched thread=7 cpu=2 state=run\n"
                        "sched thread=7 cpu=2 state=run\n");
    std::remove(p.c_str());
}

TEST(TraceIo, TextHeaderOptionalButChecked)
{
    EXPECT_EQ(mem_error("dma sid=00:02.0 iova=0 len=1 op=r\n", IOMMU_TRACE_TEXT), "");
    EXPECT_EQ(mem_error("# iommusim trace v1\ndma sid=00:02.0 iova=0 len=1 op=r", IOMMU_TRACE_TEXT), "");
    EXPECT_EQ(mem_error("# iommusim trace v1 written by hand\r\n", IOMMU_TRACE_TEXT), "");
    EXPECT_EQ(mem_error("# iommusim trace v2\ndma_unmap handle=1", IOMMU_TRACE_TEXT), "");
    EXPECT_EQ(mem_error("# iommusim trace v2\tby hand\n", IOMMU_TRACE_TEXT), "");
    EXPECT_EQ(mem_error("# iommusim trace v3\nsched thread=1 cpu=0 state=preempt\n", IOMMU_TRACE_TEXT), "");
    EXPECT_EQ(mem_error("# iommusim trace v4\n", IOMMU_TRACE_TEXT),
              "mem:1: unsupported trace version 'v4' (this build reads v1 to v3)");
    EXPECT_EQ(mem_error("# iommusim trace v0\n", IOMMU_TRACE_TEXT),
              "mem:1: unsupported trace version 'v0' (this build reads v1 to v3)");
    EXPECT_EQ(mem_error("# iommusim trace\n", IOMMU_TRACE_TEXT),
              "mem:1: unsupported trace version '' (this build reads v1 to v3)");
    EXPECT_EQ(mem_error("# iommusim trace v10\n", IOMMU_TRACE_TEXT),
              "mem:1: unsupported trace version 'v10' (this build reads v1 to v3)");
    EXPECT_EQ(mem_error("# iommusim trace v21\n", IOMMU_TRACE_TEXT),
              "mem:1: unsupported trace version 'v21' (this build reads v1 to v3)");
    EXPECT_EQ(mem_error("# iommusim trace v2x\n", IOMMU_TRACE_TEXT),
              "mem:1: unsupported trace version 'v2x' (this build reads v1 to v3)");
    // the header is only special on line 1
    EXPECT_EQ(mem_error("\n# iommusim trace v4\n", IOMMU_TRACE_TEXT), "");
}

// Version-1 files are still read, and hold only version-1 events: a buffer event in a file
// whose header says v1 is an error at its line or offset. Without a header, text is v2.
TEST(TraceIo, Version1FilesReadButHoldNoVersion2Events)
{
    const std::string v1 = "# iommusim trace v1\n"
                           "attach sid=00:02.0 did=1 mode=sl\n"
                           "map did=1 iova=0x1000 pa=0x1000 len=4K perm=rw page=4K\n"
                           "dma sid=00:02.0 iova=0x1000 len=64 op=r\n";
    iommu_trace_error err{};
    iommu_trace_reader_t *r =
        iommu_trace_open_mem(v1.data(), v1.size(), IOMMU_TRACE_TEXT, "mem", &err);
    ASSERT_NE(r, nullptr) << err.msg;
    iommu_trace_event ev;
    int n = 0, st;
    while ((st = iommu_trace_next(r, &ev, &err)) > 0)
        n++;
    EXPECT_EQ(st, 0) << err.msg;
    EXPECT_EQ(n, 3);
    EXPECT_EQ(iommu_trace_version(r), 1u);
    iommu_trace_close(r);
    const std::string body = "dma sid=00:02.0 iova=0x1000 len=64 op=r\n";
    r = iommu_trace_open_mem(body.data(), body.size(), IOMMU_TRACE_TEXT, "mem", &err);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(iommu_trace_version(r), 3u); // no header: the current version
    iommu_trace_close(r);

    EXPECT_EQ(mem_error(v1 + "dma_map sid=00:02.0 handle=1 pa=0x10 len=1 perm=r\n", IOMMU_TRACE_TEXT),
              "mem:5: dma_map is new in trace version 2, but the header says v1");
    EXPECT_EQ(mem_error(v1 + "\ndma_unmap handle=1\n", IOMMU_TRACE_TEXT),
              "mem:6: dma_unmap is new in trace version 2, but the header says v1");
    EXPECT_EQ(mem_error(v1 + "dma sid=00:02.0 handle=1 len=64 op=r\n", IOMMU_TRACE_TEXT),
              "mem:5: dma by handle is new in trace version 2, but the header says v1");
    EXPECT_EQ(mem_error("# iommusim trace v2\n" + v1.substr(20) +
                            "dma sid=00:02.0 handle=1 len=64 op=r\n",
                        IOMMU_TRACE_TEXT),
              "");

    // binary: a version-1 header (written by hand: writers write version 3; dma records
    // are the same in every version)
    std::string b = tmp_path("v1.bin");
    iommu_trace_event dma;
    iommu_trace_event_init(&dma, IOMMU_EV_DMA);
    dma.sid = 0x10;
    dma.iova = 0x1000;
    dma.len = 64;
    dma.access = IOMMU_ACC_R;
    iommu_trace_event unmap;
    iommu_trace_event_init(&unmap, IOMMU_EV_DMA_UNMAP);
    unmap.handle = 3;
    write_all(b, {dma, dma});
    std::string data = slurp(b);
    ASSERT_EQ(data[8], '\x03');
    data[8] = 1;
    spit(b, data);
    std::string e;
    auto back = read_all(b, &e);
    EXPECT_EQ(e, "");
    ASSERT_EQ(back.size(), 2u);
    EXPECT_TRUE(iommu_trace_event_equal(&back[1], &dma));
    write_all(b, {dma, unmap});
    data = slurp(b);
    data[8] = 1;
    spit(b, data);
    EXPECT_EQ(read_error(b),
              b + ": offset 24: dma_unmap is new in trace version 2, but the header says version 1");
    std::remove(b.c_str());
}

// Reads a trace held in memory; returns its events, and the error ("" if none).
std::vector<iommu_trace_event> mem_events(const std::string &data, iommu_trace_form form,
                                          std::string *error)
{
    std::vector<iommu_trace_event> out;
    iommu_trace_error err{};
    *error = "";
    iommu_trace_reader_t *r = iommu_trace_open_mem(data.data(), data.size(), form, "mem", &err);
    if (!r) {
        *error = err.msg;
        return out;
    }
    iommu_trace_event ev;
    int st;
    while ((st = iommu_trace_next(r, &ev, &err)) > 0)
        out.push_back(ev);
    if (st < 0)
        *error = err.msg;
    iommu_trace_close(r);
    return out;
}

// Version 3: the exact msi and sched records, and that version-1/2 files decode as they
// always did (an msi record there has no ios) and hold no version-3 event.
TEST(TraceIo, Version3RecordsAndOlderFiles)
{
    std::string b = tmp_path("v3.bin");
    iommu_trace_event m1, m2, m3, s1;
    iommu_trace_event_init(&m1, IOMMU_EV_MSI);
    m1.sid = IOMMU_SID(0, 2, 0);
    m1.pa = 0xfee00010;
    m1.data = 0;
    m2 = m1;
    m2.flags = IOMMU_EVF_THREAD | IOMMU_EVF_TIME;
    m2.thread = 300;
    m2.ios = 4;
    m2.time_ns = 100;
    m3 = m1;
    m3.ios = 0xFFFFFFFFu;
    iommu_trace_event_init(&s1, IOMMU_EV_SCHED);
    s1.thread = 3;
    s1.cpu = 1;
    s1.state = IOMMU_SCHED_PREEMPT;
    write_all(b, {m1, m2, m3, s1});
    std::string data = slurp(b);
    const unsigned char want[] = {
        0x89, 'I', 'O', 'T', 'R', '\r', '\n', 0x1a, 3, 0, 0, 0, 0, 0, 0, 0, // version 3
        // msi: sid 00:02.0, addr 0xfee00010, data 0, ios 1
        7, 0x00, 0x10, 0x00, 0x90, 0x80, 0x80, 0xf7, 0x0f, 0x00, 0x01,
        // msi, TIME | THREAD: zz(100), sid, addr, data, thread 300, ios 4
        7, 0x81, 0xc8, 0x01, 0x10, 0x00, 0x90, 0x80, 0x80, 0xf7, 0x0f, 0x00, 0xac, 0x02, 0x04,
        // msi: ios 2^32 - 1
        7, 0x00, 0x10, 0x00, 0x90, 0x80, 0x80, 0xf7, 0x0f, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f,
        // sched: thread 3, cpu 1, state 2 (preempt)
        9, 0x00, 0x03, 0x01, 0x02,
        0, 4, // end: 4 events
    };
    EXPECT_EQ(data, std::string(reinterpret_cast<const char *>(want), sizeof want));
    std::string e;
    auto back = read_all(b, &e);
    EXPECT_EQ(e, "");
    expect_same({m1, m2, m3, s1}, back);
    EXPECT_EQ(back[0].ios, 1u);
    EXPECT_EQ(back[1].thread, 300u);

    // a version-2 file written by version 2 (no ios): decodes to ios = 1, exactly as before
    const unsigned char old[] = {
        0x89, 'I', 'O', 'T', 'R', '\r', '\n', 0x1a, 2, 0, 0, 0, 0, 0, 0, 0,
        7, 0x00, 0x10, 0x00, 0x90, 0x80, 0x80, 0xf7, 0x0f, 0x00,       // msi
        7, 0x01, 0xc8, 0x01, 0x10, 0x00, 0x90, 0x80, 0x80, 0xf7, 0x0f, 0x21, // msi, t=100, data 0x21
        9, 0x00, 0x03, 0x01, 0x00,                                      // sched stop
        0, 3,
    };
    std::string olds(reinterpret_cast<const char *>(old), sizeof old);
    for (char ver : {'\x01', '\x02'}) {
        olds[8] = ver;
        auto evs = mem_events(olds, IOMMU_TRACE_BINARY, &e);
        EXPECT_EQ(e, "");
        ASSERT_EQ(evs.size(), 3u);
        EXPECT_TRUE(iommu_trace_event_equal(&evs[0], &m1));
        EXPECT_EQ(evs[0].ios, 1u);
        EXPECT_EQ(evs[0].flags, 0u);
        EXPECT_EQ(evs[1].data, 0x21u);
        EXPECT_EQ(evs[1].time_ns, 100u);
        EXPECT_EQ(evs[1].ios, 1u);
        EXPECT_EQ(evs[2].state, IOMMU_SCHED_STOP);
        for (const auto &ev : evs)
            EXPECT_EQ(iommu_trace_event_version(&ev), 1u);
    }
    // converting it writes version 3 with the same events
    spit(b, olds);
    std::string t = tmp_path("v3.trace");
    convert(b, t);
    EXPECT_EQ(slurp(t), "# iommusim trace v3\n"
                        "msi sid=00:02.0 addr=0xfee00010 data=0x0\n"
                        "msi sid=00:02.0 addr=0xfee00010 data=0x21 t=100\n"
                        "sched thread=3 cpu=1 state=stop\n");
    // version-3 events in version-1/2 files: an error at their offset
    for (char ver : {'\x01', '\x02'}) {
        std::string vs(1, char('0' + ver));
        std::string d = olds;
        d[8] = ver;
        d[17] = char(0x80); // the first msi gets THREAD: a thread varint follows
        d.insert(26, 1, '\x05');
        EXPECT_EQ(mem_error(d, IOMMU_TRACE_BINARY),
                  "mem: offset 16: msi with thread= is new in trace version 3, but the header says version " + vs);
        d = olds;
        d[8] = ver;
        d[sizeof old - 3] = 2; // sched state=preempt
        EXPECT_EQ(mem_error(d, IOMMU_TRACE_BINARY),
                  "mem: offset 38: sched state=preempt is new in trace version 3, but the header says version " + vs);
    }
    // the same in text
    for (const char *hdr : {"# iommusim trace v1\n", "# iommusim trace v2\n"}) {
        std::string vs(1, hdr[18]);
        EXPECT_EQ(mem_error(std::string(hdr) + "msi sid=00:02.0 addr=0xfee00010 data=0 ios=1\n", IOMMU_TRACE_TEXT), "");
        EXPECT_EQ(mem_error(std::string(hdr) + "msi sid=00:02.0 addr=0xfee00010 data=0 thread=1\n", IOMMU_TRACE_TEXT),
                  "mem:2: msi with thread= is new in trace version 3, but the header says v" + vs);
        EXPECT_EQ(mem_error(std::string(hdr) + "\nmsi sid=00:02.0 addr=0xfee00010 data=0 ios=2\n", IOMMU_TRACE_TEXT),
                  "mem:3: msi with ios= is new in trace version 3, but the header says v" + vs);
        EXPECT_EQ(mem_error(std::string(hdr) + "sched thread=1 cpu=0 state=preempt\n", IOMMU_TRACE_TEXT),
                  "mem:2: sched state=preempt is new in trace version 3, but the header says v" + vs);
    }
    EXPECT_EQ(mem_error("# iommusim trace v3\nmsi sid=00:02.0 addr=0xfee00010 data=0 thread=1 ios=2\n"
                        "sched thread=1 cpu=0 state=preempt\n", IOMMU_TRACE_TEXT), "");
    std::remove(b.c_str());
    std::remove(t.c_str());
}

// The exact records of the version-2 events (docs/trace-format.md, "Binary form").
TEST(TraceIo, BinaryBufferRecords)
{
    std::string b = tmp_path("buf.bin");
    iommu_trace_event m1, m2, d, u;
    iommu_trace_event_init(&m1, IOMMU_EV_DMA_MAP);
    m1.sid = IOMMU_SID(0, 3, 0);
    m1.handle = 5;
    m1.pa = 0x12345040;
    m1.len = 1500;
    m1.access = IOMMU_ACC_W;
    m1.flags = IOMMU_EVF_MORE;
    m2 = m1;
    m2.flags = IOMMU_EVF_TIME;
    m2.time_ns = 10;
    m2.pa = 0x40;
    m2.len = 1;
    m2.access = IOMMU_ACC_R | IOMMU_ACC_W;
    m2.cpu = 3;
    iommu_trace_event_init(&d, IOMMU_EV_DMA);
    d.flags = IOMMU_EVF_HANDLE | IOMMU_EVF_PASID;
    d.sid = IOMMU_SID(0, 3, 0);
    d.handle = 5;
    d.iova = 200; // the offset
    d.len = 64;
    d.access = IOMMU_ACC_W;
    d.pasid = 7;
    iommu_trace_event_init(&u, IOMMU_EV_DMA_UNMAP);
    u.handle = 4;
    u.cpu = 200;
    write_all(b, {m1, m2, d, u});
    std::string data = slurp(b);
    const unsigned char want[] = {
        0x89, 'I', 'O', 'T', 'R', '\r', '\n', 0x1a, 3, 0, 0, 0, 0, 0, 0, 0, // version 3
        // dma_map, MORE: sid 00:03.0, zz(5 - 0) = 10, pa 0x12345040, len 1500, perm w, cpu 0
        10, 0x40, 0x18, 0x00, 0x0a, 0xc0, 0xa0, 0xd1, 0x91, 0x01, 0xdc, 0x0b, 0x02, 0x00,
        // dma_map, TIME: zz(10), sid, zz(5 - 5) = 0, pa 0x40, len 1, perm rw, cpu 3
        10, 0x01, 0x14, 0x18, 0x00, 0x00, 0x40, 0x01, 0x03, 0x03,
        // dma, HANDLE | PASID: sid, attr w, zz(5 - 5), off 200, len 64, pasid 7
        5, 0x22, 0x18, 0x00, 0x02, 0x00, 0xc8, 0x01, 0x40, 0x07,
        // dma_unmap: zz(4 - 5) = 1, cpu 200
        11, 0x00, 0x01, 0xc8, 0x01,
        0, 4, // end: 4 events
    };
    EXPECT_EQ(data, std::string(reinterpret_cast<const char *>(want), sizeof want));
    std::string e;
    auto back = read_all(b, &e);
    EXPECT_EQ(e, "");
    expect_same({m1, m2, d, u}, back);
    // a dma by handle leaves the iova delta alone: the next dma by iova codes from 0
    iommu_trace_event plain;
    iommu_trace_event_init(&plain, IOMMU_EV_DMA);
    plain.iova = 0x40;
    plain.len = 1;
    plain.access = IOMMU_ACC_R;
    write_all(b, {plain, d, plain});
    data = slurp(b);
    // plain: 05 00 00 00 01 80 01 01; d: ...; plain again: iova delta 0
    EXPECT_EQ(data.substr(16, 8), std::string("\x05\x00\x00\x00\x01\x80\x01\x01", 8));
    EXPECT_EQ(data.substr(data.size() - 2 - 7, 7), std::string("\x05\x00\x00\x00\x01\x00\x01", 7));
    std::remove(b.c_str());
}

TEST(TraceIo, TextErrorsNameFileAndLine)
{
    std::string p = tmp_path("bad.trace");
    spit(p, "# iommusim trace v1\n"
            "\n"
            "attach sid=00:02.0 did=1 mode=sl   # the NIC\n"
            "map did=1 iova=0x1000 pa=0x1000 len=4K perm=rw page=4K\n"
            "dma sid=00:02.0 iova=0x1000 len=64 op=r\n"
            "frobnicate now\n"
            "dma sid=00:02.0 iova=0x1000 len=64 op=r\n");
    std::string e;
    auto evs = read_all(p, &e);
    EXPECT_EQ(evs.size(), 3u);
    EXPECT_EQ(e, p + ":6: unknown event 'frobnicate'");

    struct Case {
        const char *body;
        const char *msg; // after "FILE:"
    } cases[] = {
        {"dma sid=00:02.0 iova=0x10 len=64 op=r foo=1\n", "1: dma: unknown key 'foo'"},
        {"\n\ndma sid=00:02.0 iova=0x10 op=r\n", "3: dma: missing field 'len'"},
        {"#\n#\n#\ndma sid=00:02.0 iova=0x1z len=64 op=r\n", "4: dma: bad number '0x1z' for 'iova'"},
        {"\nattach sid=00:02.0 did=1 mode=sl pasid=0x100000\n", "2: attach: pasid '0x100000' out of range (max 0xfffff)"},
        {"dma sid=00:02.0 sid=00:02.0 iova=0 len=1 op=r\n", "1: dma: duplicate key 'sid'"},
        {"dma sid=00:02.0 iova=0 len=0 op=r", "1: dma: len must be > 0"},
        {"ok\n", "1: unknown event 'ok'"},
        {"dma sid=00:02.0 iova=0 len=1 op=r\r\nmap did=1\r\n", "2: map: missing field 'iova'"},
    };
    for (const Case &c : cases) {
        spit(p, c.body);
        EXPECT_EQ(read_error(p), p + ":" + c.msg) << c.body;
    }
    std::remove(p.c_str());
}

TEST(TraceIo, TextLongLineAndBinaryAsText)
{
    std::string p = tmp_path("long.trace");
    spit(p, "dma sid=00:02.0 iova=0 len=1 op=r\n# " + std::string(70000, 'a') + "\n");
    EXPECT_EQ(read_error(p), p + ":2: line longer than 65536 bytes");
    spit(p, "# " + std::string(65534, 'a') + "\n#" + std::string(65536, 'b')); // at the limit
    EXPECT_EQ(read_error(p), p + ":2: line longer than 65536 bytes");
    spit(p, "# " + std::string(65534, 'a') + "\ndma sid=00:02.0 iova=0 len=1 op=r\n");
    EXPECT_EQ(read_error(p), "");
    // a binary trace named .trace
    std::string b = tmp_path("x.bin");
    write_all(b, random_events(5, 3));
    spit(p, slurp(b));
    EXPECT_EQ(read_error(p), p + ":1: a binary trace read as text (name it .bin)");
    std::remove(p.c_str());
    std::remove(b.c_str());
}

TEST(TraceIo, ReaderStaysInErrorAndReportsPosition)
{
    std::string text = "\n\ndma sid=00:02.0 iova=0 len=1 op=r\nbad\n";
    iommu_trace_error err{};
    iommu_trace_reader_t *r =
        iommu_trace_open_mem(text.data(), text.size(), IOMMU_TRACE_TEXT, "t", &err);
    ASSERT_NE(r, nullptr);
    iommu_trace_event ev;
    ASSERT_EQ(iommu_trace_next(r, &ev, &err), 1);
    EXPECT_EQ(iommu_trace_position(r), 3u);
    EXPECT_EQ(iommu_trace_count(r), 1u);
    EXPECT_STREQ(iommu_trace_path(r), "t");
    EXPECT_EQ(iommu_trace_next(r, &ev, &err), -1);
    EXPECT_STREQ(err.msg, "t:4: unknown event 'bad'");
    iommu_trace_error err2{};
    EXPECT_EQ(iommu_trace_next(r, &ev, &err2), -1);
    EXPECT_STREQ(err2.msg, "t:4: unknown event 'bad'");
    iommu_trace_close(r);
    iommu_trace_close(nullptr);
}

TEST(TraceIo, Gzip)
{
    auto evs = random_events(11, 5000);
    std::string gz = tmp_path("z.trace.gz"), plain = tmp_path("z.trace");
    write_all(gz, evs);
    write_all(plain, evs);
    std::string data = slurp(gz);
    ASSERT_GE(data.size(), 2u);
    EXPECT_EQ(uint8_t(data[0]), 0x1f); // gzip magic
    EXPECT_EQ(uint8_t(data[1]), 0x8b);
    EXPECT_LT(data.size(), slurp(plain).size());
    std::string e;
    expect_same(evs, read_all(gz, &e));
    EXPECT_EQ(e, "");
    // gzip content decompresses to exactly the plain text form
    std::string back = tmp_path("z2.trace");
    convert(gz, back);
    EXPECT_EQ(slurp(back), slurp(plain));
    // a truncated gzip stream is an error, not a silent short trace
    spit(gz, data.substr(0, data.size() / 2));
    e = read_error(gz);
    EXPECT_EQ(e.rfind(gz + ":", 0), 0u) << e;
    EXPECT_NE(e.find("gzip: unexpected end of file"), std::string::npos) << e;
    for (const auto &p : {gz, plain, back})
        std::remove(p.c_str());
}

TEST(TraceIo, BinaryHeaderAndEndRecord)
{
    std::string b = tmp_path("hdr.bin");
    write_all(b, {});
    std::string data = slurp(b);
    const char expect[] = "\x89IOTR\r\n\x1a\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    EXPECT_EQ(data, std::string(expect, 18)); // header, end record with count 0
    std::string e;
    EXPECT_TRUE(read_all(b, &e).empty());
    EXPECT_EQ(e, "");

    iommu_trace_event ev;
    iommu_trace_event_init(&ev, IOMMU_EV_DMA);
    ev.sid = IOMMU_SID(1, 0, 0);
    ev.iova = 0x100000040ull;
    ev.len = 64;
    ev.access = IOMMU_ACC_W;
    write_all(b, {ev});
    data = slurp(b);
    // type 5, flags 0, sid 0x0100 LE, attr 0x02, zigzag(0x100000040) varint, len 64, end
    const unsigned char rec[] = {5, 0, 0x00, 0x01, 0x02, 0x80, 0x81, 0x80, 0x80, 0x20, 0x40, 0, 1};
    EXPECT_EQ(data.substr(16), std::string(reinterpret_cast<const char *>(rec), sizeof rec));
    std::remove(b.c_str());
}

TEST(TraceIo, BinaryForeignFileAndWrongVersion)
{
    std::string b = tmp_path("foreign.bin");
    spit(b, "hello, world, this is not a trace");
    EXPECT_EQ(read_error(b), b + ": not an iommusim binary trace (bad magic)");
    spit(b, "# iommusim trace v1\n");
    EXPECT_EQ(read_error(b),
              b + ": not an iommusim binary trace (bad magic; a text trace? name it .trace)");
    spit(b, std::string("\x1f\x8b\x08\x00", 4));
    EXPECT_EQ(read_error(b),
              b + ": not an iommusim binary trace (bad magic; gzip data? name it .trace.gz)");
    spit(b, "");
    EXPECT_EQ(read_error(b), b + ": offset 0: empty file, not a binary trace");

    write_all(b, random_events(3, 10));
    std::string good = slurp(b);
    std::string v = good;
    for (unsigned char ver : {0, 4, 255}) {
        v[8] = char(ver);
        spit(b, v);
        EXPECT_EQ(read_error(b), b + ": unsupported binary trace version " + std::to_string(ver) +
                                     " (this build reads versions 1 to 3)");
    }
    v[8] = 2;
    v[9] = 1; // version 258
    spit(b, v);
    EXPECT_EQ(read_error(b), b + ": unsupported binary trace version 258 (this build reads versions 1 to 3)");
    std::string flags = good;
    flags[10] = 1;
    spit(b, flags);
    EXPECT_EQ(read_error(b),
              b + ": offset 10: unsupported header flags (reserved, must be zero in version 3)");
    flags[8] = 1;
    spit(b, flags);
    EXPECT_EQ(read_error(b),
              b + ": offset 10: unsupported header flags (reserved, must be zero in version 1)");
    std::remove(b.c_str());
}

TEST(TraceIo, BinaryTruncatedAtEveryCutPoint)
{
    auto evs = random_events(21, 40);
    std::string b = tmp_path("cut.bin");
    write_all(b, evs);
    std::string data = slurp(b);
    // record start offsets, from a full read
    std::vector<uint64_t> starts;
    {
        iommu_trace_error err{};
        iommu_trace_reader_t *r = iommu_trace_open(b.c_str(), &err);
        ASSERT_NE(r, nullptr);
        iommu_trace_event ev;
        while (iommu_trace_next(r, &ev, &err) > 0)
            starts.push_back(iommu_trace_position(r));
        iommu_trace_close(r);
    }
    ASSERT_EQ(starts.size(), evs.size());
    EXPECT_EQ(starts[0], 16u);
    uint64_t end_rec = data.size() - 2; // end record: 0x00, count 40 (one byte)
    starts.push_back(end_rec);
    size_t checked = 0;
    for (size_t cut = 0; cut < data.size(); cut++) {
        std::string msg = mem_error(data.substr(0, cut), IOMMU_TRACE_BINARY);
        std::string expect;
        if (cut == 0) {
            expect = "mem: offset 0: empty file, not a binary trace";
        } else if (cut < 16) {
            expect = "mem: offset " + std::to_string(cut) + ": truncated header";
        } else {
            size_t i = 0;
            while (i + 1 < starts.size() && starts[i + 1] <= cut)
                i++;
            if (starts[i] == cut)
                expect = "mem: offset " + std::to_string(cut) + ": truncated trace (no end record)";
            else
                expect = "mem: offset " + std::to_string(starts[i]) + ": truncated event";
        }
        EXPECT_EQ(msg, expect) << "cut at " << cut;
        checked++;
    }
    EXPECT_EQ(checked, data.size());
    // the same through a file
    spit(b, data.substr(0, starts[3] + 1));
    EXPECT_EQ(read_error(b), b + ": offset " + std::to_string(starts[3]) + ": truncated event");
    std::remove(b.c_str());
}

TEST(TraceIo, BinaryCorruptRecords)
{
    std::string b = tmp_path("corrupt.bin");
    iommu_trace_event ev;
    iommu_trace_event_init(&ev, IOMMU_EV_DMA);
    ev.sid = 1;
    ev.iova = 0x1000;
    ev.len = 64;
    ev.access = IOMMU_ACC_R;
    write_all(b, {ev, ev});
    std::string good = slurp(b);
    // Each corruption is checked twice: in a short buffer (the bounds-checked decoder) and
    // followed by 100 bytes of padding (the fast dma path, which needs 64 bytes ahead). The
    // padding only shows up as "data after the end record" once the records pass.
    auto with = [&](size_t off, std::string bytes) {
        std::string d = good;
        d.replace(off, bytes.size(), bytes);
        std::string shortbuf = mem_error(d, IOMMU_TRACE_BINARY);
        std::string padded = mem_error(d + std::string(100, '\x07'), IOMMU_TRACE_BINARY);
        EXPECT_EQ(shortbuf, padded) << "fast and general decoders disagree";
        return shortbuf;
    };
    // records: at 16: 05 00 01 00 01 80 40 40 (iova delta 0x1000), at 24: 05 00 01 00 01 00
    // 40 (delta 0); end record at 31
    EXPECT_EQ(good.size(), 16u + 8 + 7 + 2);
    EXPECT_EQ(with(24, "\x2a"), "mem: offset 24: unknown event type 0x2a");
    EXPECT_EQ(with(25, "\x80"), "mem: offset 24: dma: takes no thread");
    EXPECT_EQ(with(25, "\x04"), "mem: offset 24: dma: takes no alias");
    EXPECT_EQ(with(25, "\x40"), "mem: offset 24: dma: takes no more");
    EXPECT_EQ(with(28, "\x03"), "mem: offset 24: dma: access must be exactly one of read or write");
    EXPECT_EQ(with(28, "\x41"), "mem: offset 24: dma: bad attribute byte 0x41");
    EXPECT_EQ(with(28, "\x31"), "mem: offset 24: dma: ats 3 out of range");
    EXPECT_EQ(with(30, std::string("\x00", 1)), "mem: offset 24: dma: len must be > 0");
    // an end record that miscounts, and bytes after it
    EXPECT_EQ(mem_error(good.substr(0, good.size() - 1) + "\x05", IOMMU_TRACE_BINARY),
              "mem: offset 31: end record counts 5 events, the file holds 2");
    EXPECT_EQ(mem_error(good + "x", IOMMU_TRACE_BINARY), "mem: offset 33: data after the end record");
    // an overlong varint (11 bytes)
    std::string d = good.substr(0, 24) + std::string("\x05\x00\x01\x00\x01", 5) +
                    std::string(10, '\xff') + std::string("\x01\x40", 2) + std::string(64, '\0');
    EXPECT_EQ(mem_error(d, IOMMU_TRACE_BINARY), "mem: offset 24: dma: bad varint (longer than 64 bits)");
    // a pasid out of range, on both paths
    iommu_trace_event pe = ev;
    pe.flags = IOMMU_EVF_PASID;
    pe.pasid = 5;
    write_all(b, {ev, pe});
    good = slurp(b); // second record: 05 02 01 00 01 00 40 05
    EXPECT_EQ(with(31, std::string("\x80\x80\x40", 3)),
              "mem: offset 24: dma: pasid 1048576 out of range (max 1048575)");
    std::remove(b.c_str());
}

TEST(TraceIo, BinaryFieldRangesOnDecode)
{
    // hand-made records whose varints do not fit their fields
    auto rec = [](std::initializer_list<unsigned char> bytes) {
        std::string d("\x89IOTR\r\n\x1a\x03\0\0\0\0\0\0\0", 16);
        for (unsigned char c : bytes)
            d.push_back(char(c));
        d += std::string("\x00\x01", 2);
        return mem_error(d, IOMMU_TRACE_BINARY);
    };
    // attach: sid, did = 0x10000 (varint 80 80 04)
    EXPECT_EQ(rec({1, 0, 0, 1, 0x80, 0x80, 0x04, 0}), "mem: offset 16: attach: did 65536 out of range (max 65535)");
    // detach with pasid 0x100000 (varint 80 80 40)
    EXPECT_EQ(rec({2, 2, 0, 1, 0x80, 0x80, 0x40}), "mem: offset 16: detach: pasid 1048576 out of range (max 1048575)");
    // attach with mode 4
    EXPECT_EQ(rec({1, 0, 0, 1, 1, 4}), "mem: offset 16: attach: mode 4 out of range (sl, fl, nested, pt)");
    // map with page code 3
    EXPECT_EQ(rec({3, 0, 1, 0, 0, 0x80, 0x20, 0x19}), "mem: offset 16: map: bad attribute byte 0x19");
    // inv of unknown type 13
    EXPECT_EQ(rec({6, 0, 13}), "mem: offset 16: inv: unknown type 13");
    // msi outside the interrupt range (v3: sid, addr, data, ios)
    EXPECT_EQ(rec({7, 0, 0, 1, 0, 0, 1}), "mem: offset 16: msi: addr 0x0 outside the interrupt range 0xfee00000-0xfeefffff");
    // msi: ios 0, ios beyond 32 bits, and a good one with a thread
    EXPECT_EQ(rec({7, 0, 0, 1, 0x80, 0x80, 0x80, 0xf7, 0x0f, 0, 0}), "mem: offset 16: msi: ios must be >= 1");
    EXPECT_EQ(rec({7, 0, 0, 1, 0x80, 0x80, 0x80, 0xf7, 0x0f, 0, 0x80, 0x80, 0x80, 0x80, 0x10}),
              "mem: offset 16: msi: ios 4294967296 out of range (max 4294967295)");
    EXPECT_EQ(rec({7, 0x80, 0, 1, 0x80, 0x80, 0x80, 0xf7, 0x0f, 0, 9, 4}), "");
    EXPECT_EQ(rec({7, 0x02, 0, 1, 0x80, 0x80, 0x80, 0xf7, 0x0f, 0, 1}), "mem: offset 16: msi: takes no pasid");
    // sched state 2 is preempt (v3), 3 is nothing
    EXPECT_EQ(rec({9, 0, 1, 1, 2}), "");
    EXPECT_EQ(rec({9, 0, 1, 1, 3}), "mem: offset 16: sched: state 3 out of range (0 stop, 1 run, 2 preempt)");
    EXPECT_EQ(rec({9, 0x80, 1, 1, 1}), "mem: offset 16: sched: takes no thread");
    // dma_map: sid, handle, pa, len, perm, cpu
    EXPECT_EQ(rec({10, 0, 0, 1, 2, 0x40, 1, 1, 0}), "");
    EXPECT_EQ(rec({10, 0, 0, 1, 2, 0x40, 1, 4, 0}), "mem: offset 16: dma_map: bad perm byte 0x04");
    EXPECT_EQ(rec({10, 0, 0, 1, 2, 0x40, 1, 0x81, 0}), "mem: offset 16: dma_map: bad perm byte 0x81");
    EXPECT_EQ(rec({10, 0, 0, 1, 2, 0x40, 1, 0, 0}), "mem: offset 16: dma_map: perm must be r, w or rw (bits 0x0)");
    EXPECT_EQ(rec({10, 0, 0, 1, 2, 0x40, 0, 1, 0}), "mem: offset 16: dma_map: len must be > 0");
    EXPECT_EQ(rec({10, 0, 0, 1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 2, 1, 0}),
              "mem: offset 16: dma_map: pa + len wraps past 2^64");
    EXPECT_EQ(rec({10, 0, 0, 1, 2, 0x40, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x10}),
              "mem: offset 16: dma_map: cpu 4294967296 out of range (max 4294967295)");
    EXPECT_EQ(rec({10, 0x02, 0, 1, 2, 0x40, 1, 1, 0}), "mem: offset 16: dma_map: takes no pasid");
    EXPECT_EQ(rec({10, 0x20, 0, 1, 2, 0x40, 1, 1, 0}), "mem: offset 16: dma_map: takes no handle");
    // dma_unmap: handle, cpu
    EXPECT_EQ(rec({11, 0, 2, 0}), "");
    EXPECT_EQ(rec({11, 0x40, 2, 0}), "mem: offset 16: dma_unmap: takes no more");
    EXPECT_EQ(rec({11, 0, 2, 0x80, 0x80, 0x80, 0x80, 0x10}),
              "mem: offset 16: dma_unmap: cpu 4294967296 out of range (max 4294967295)");
    EXPECT_EQ(rec({11, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0}),
              "mem: offset 16: dma_unmap: bad varint (longer than 64 bits)");
    // dma by handle: sid, attr, handle, off, len
    EXPECT_EQ(rec({5, 0x20, 0, 1, 1, 2, 0, 64}), "");
    EXPECT_EQ(rec({5, 0x20, 0, 1, 1, 2, 0, 0}), "mem: offset 16: dma: len must be > 0");
    EXPECT_EQ(rec({5, 0x20, 0, 1, 1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 2}),
              "mem: offset 16: dma: off + len wraps past 2^64");
    // type 12 is no event (yet)
    EXPECT_EQ(rec({12, 0}), "mem: offset 16: unknown event type 0x0c");
}

TEST(TraceIo, WrongExtensionAndMissingFiles)
{
    iommu_trace_error err{};
    EXPECT_EQ(iommu_trace_open("trace.txt", &err), nullptr);
    EXPECT_STREQ(err.msg, "trace.txt: unknown trace file extension (expected .trace, .trace.gz or .bin)");
    EXPECT_EQ(iommu_trace_create("out.json", &err), nullptr);
    EXPECT_STREQ(err.msg, "out.json: unknown trace file extension (expected .trace, .trace.gz or .bin)");
    EXPECT_EQ(iommu_trace_open("/nonexistent/x.bin", &err), nullptr);
    EXPECT_STREQ(err.msg, "/nonexistent/x.bin: cannot open: No such file or directory");
    EXPECT_EQ(iommu_trace_open("/nonexistent/x.trace", &err), nullptr);
    EXPECT_STREQ(err.msg, "/nonexistent/x.trace: cannot open: No such file or directory");
    EXPECT_EQ(iommu_trace_create("/nonexistent/x.trace", &err), nullptr);
    EXPECT_STREQ(err.msg, "/nonexistent/x.trace: cannot create: No such file or directory");
    EXPECT_EQ(iommu_trace_finish(nullptr, &err), IOMMU_OK);
}

TEST(TraceIo, WriterRejectsInvalidEventsAndStaysUsable)
{
    std::string p = tmp_path("inval.trace");
    iommu_trace_error err{};
    iommu_trace_writer_t *w = iommu_trace_create(p.c_str(), &err);
    ASSERT_NE(w, nullptr);
    iommu_trace_event ev;
    iommu_trace_event_init(&ev, IOMMU_EV_MAP);
    ev.len = 0x1000;
    ev.access = IOMMU_ACC_R;
    ev.page_shift = 13;
    EXPECT_EQ(iommu_trace_write(w, &ev, &err), IOMMU_ERR_INVAL);
    EXPECT_EQ(std::string(err.msg), p + ": event 1: map: page size 2^13 is not 4K, 2M or 1G");
    ev.page_shift = 12;
    EXPECT_EQ(iommu_trace_write(w, &ev, &err), IOMMU_OK);
    EXPECT_EQ(iommu_trace_written(w), 1u);
    EXPECT_EQ(iommu_trace_finish(w, &err), IOMMU_OK);
    std::string e;
    EXPECT_EQ(read_all(p, &e).size(), 1u);
    std::remove(p.c_str());
}

TEST(TraceIo, WriteErrorIsReported)
{
    if (access("/dev/full", W_OK) != 0)
        GTEST_SKIP() << "no /dev/full";
    // /dev/full has no extension; write through a symlink with one
    std::string link = tmp_path("full.bin");
    std::remove(link.c_str());
    ASSERT_EQ(symlink("/dev/full", link.c_str()), 0);
    iommu_trace_error err{};
    iommu_trace_writer_t *w = iommu_trace_create(link.c_str(), &err);
    ASSERT_NE(w, nullptr) << err.msg;
    auto evs = random_events(8, 200000); // > 1 MiB: forces flushes
    enum iommu_status st = IOMMU_OK;
    for (const auto &ev : evs)
        if ((st = iommu_trace_write(w, &ev, &err)) != IOMMU_OK)
            break;
    EXPECT_EQ(st, IOMMU_ERR_IO);
    EXPECT_EQ(std::string(err.msg), link + ": write error: No space left on device");
    EXPECT_EQ(iommu_trace_finish(w, &err), IOMMU_ERR_IO);
    std::remove(link.c_str());
}

} // namespace
