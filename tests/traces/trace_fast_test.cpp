// trace_fast_test.cpp — the binary reader's inline dma fast path (trace_impl.h, io.c) against
// the general, bounds-checked decoder (binary.c): random dma records, well-formed and not,
// decoded both ways must give the same events (byte for byte), the same delta state, the same
// positions and the same error messages; byte offsets and errors stay exact across buffer
// refills, where the fast path switches off and on.
#include "traces/gen.h"
#include "traces/trace.h"

#include <gtest/gtest.h>

#include "test_util.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

std::string tmp_path(const std::string &name) { return test_util::tmp_path("fast", name); }

using test_util::spit;

const std::string kHeader("\x89IOTR\r\n\x1a\x02\x00\x00\x00\x00\x00\x00\x00", 16);

// A canonical LEB128 varint.
std::string varint(uint64_t v)
{
    std::string s;
    while (v >= 0x80) {
        s += char(v | 0x80);
        v >>= 7;
    }
    s += char(v);
    return s;
}

uint64_t zigzag(uint64_t d)
{
    return (d << 1) ^ uint64_t(-int64_t(d >> 63));
}

std::string end_record(uint64_t count)
{
    return std::string(1, '\0') + varint(count);
}

// A dma record without flags: sid 0, read, the given iova delta and len.
std::string plain_dma(uint64_t delta, uint64_t len)
{
    return std::string("\x05\x00\x00\x00\x01", 5) + varint(zigzag(delta)) + varint(len);
}

// What a reader returns: every call's status, event (whole struct), position and count, and
// the final error message.
struct Outcome {
    std::vector<iommu_trace_event> events;
    std::vector<uint64_t> positions, counts;
    int last_status = 0;
    std::string error;
};

Outcome read_mem(const std::string &data, size_t max_events)
{
    Outcome o;
    iommu_trace_error err{};
    iommu_trace_reader_t *r =
        iommu_trace_open_mem(data.data(), data.size(), IOMMU_TRACE_BINARY, "t.bin", &err);
    if (!r) {
        o.last_status = -1;
        o.error = err.msg;
        return o;
    }
    iommu_trace_event ev;
    while (o.events.size() < max_events) {
        std::memset(&ev, 0xA5, sizeof ev); // a reader must set every byte
        o.last_status = iommu_trace_next(r, &ev, &err);
        if (o.last_status != 1)
            break;
        o.events.push_back(ev);
        o.positions.push_back(iommu_trace_position(r));
        o.counts.push_back(iommu_trace_count(r));
    }
    if (o.last_status < 0)
        o.error = err.msg;
    iommu_trace_close(r);
    return o;
}

// A varint of exactly n bytes (1-10) with random 7-bit groups: overlong encodings (zero
// high groups) and, for n = 10, last bytes above 1 (longer than 64 bits) included.
std::string random_varint(iommu_gen_rng &g, unsigned n)
{
    std::string s;
    for (unsigned i = 0; i < n; i++) {
        unsigned b = unsigned(iommu_gen_rng_next(&g) & 0x7F);
        if (i == 9 && iommu_gen_rng_below(&g, 4)) b &= 1; // mostly a well-formed 10th byte
        s += char(i + 1 < n ? b | 0x80 : b);
    }
    return s;
}

unsigned random_len(iommu_gen_rng &g)
{
    // short varints most of the time (what real traces hold), every length sometimes
    static const unsigned lens[] = {1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10};
    return lens[iommu_gen_rng_below(&g, sizeof lens / sizeof lens[0])];
}

// A self-delimiting dma record with random fields: valid or not, but its length does not
// depend on the bytes after it, so both decoders read exactly the same bytes.
std::string random_dma(iommu_gen_rng &g)
{
    auto below = [&](uint64_t n) { return iommu_gen_rng_below(&g, n); };
    unsigned flags = unsigned(below(8) ? below(4) | (below(8) ? 0 : IOMMU_EVF_HANDLE) : below(256));
    std::string r;
    r += '\x05';
    r += char(flags);
    bool known = !(flags & ~IOMMU_EVF_ALL); // the decoders read fields only then
    if ((flags & IOMMU_EVF_TIME) && known)
        r += random_varint(g, random_len(g));
    r += char(below(256));
    r += char(below(256));
    static const unsigned char good_attr[] = {0x01, 0x02, 0x05, 0x09, 0x0a, 0x0d, 0x11, 0x22, 0x2d};
    r += char(below(2) ? good_attr[below(sizeof good_attr)] : below(256));
    if ((flags & IOMMU_EVF_HANDLE) && known) // v2: a dma by handle (the general decoder's)
        r += random_varint(g, random_len(g));
    r += random_varint(g, random_len(g)); // iova delta
    static const uint64_t edge_len[] = {0, 1, 0xFFFFFFFFull, 0x100000000ull, 0x100000001ull};
    if (below(2)) { // a len that is usually valid, or at the edges of the range
        uint64_t len = below(4)   ? 1 + below(4096)
                       : below(2) ? below(1ull << 34)
                                  : edge_len[below(5)];
        r += varint(len);
    } else {
        r += random_varint(g, random_len(g));
    }
    if (flags & IOMMU_EVF_PASID)
        r += below(2)   ? varint(below(IOMMU_PASID_MAX + 2))
             : below(2) ? varint(IOMMU_PASID_MAX + below(2))
                        : random_varint(g, random_len(g));
    return r;
}

} // namespace

// Each random record R sits between a record P that sets the delta state (a timestamp and an
// iova) and a record F that depends on it (the iova delta from R). In the short file only the
// end record follows, so fewer than IOMMU_TRACE_BIN_MAXREC bytes are left at R and the general
// decoder reads it; in the padded file 140 bytes of records follow, so the fast path reads it.
TEST(TraceFast, RandomDmaRecordsDecodeLikeTheGeneralDecoder)
{
    iommu_gen_rng g;
    iommu_gen_rng_seed(&g, 77);
    std::string filler;
    for (int i = 0; i < 20; i++)
        filler += plain_dma(0, 1);
    int agreed_ok = 0, agreed_err = 0;
    for (int it = 0; it < 100000; it++) {
        uint64_t t0 = iommu_gen_rng_next(&g) >> (iommu_gen_rng_below(&g, 64));
        uint64_t iova0 = iommu_gen_rng_next(&g) >> (iommu_gen_rng_below(&g, 64));
        if (iommu_gen_rng_below(&g, 4) == 0) // near the top: R's iova + len may wrap
            iova0 = ~uint64_t(0) - iommu_gen_rng_below(&g, 1u << 16);
        std::string p = std::string("\x05\x01", 2) + varint(zigzag(t0)) +
                        std::string("\x10\x00\x01", 3) + varint(zigzag(iova0)) + varint(64);
        std::string r = random_dma(g);
        std::string f = plain_dma(iommu_gen_rng_below(&g, 2) ? 0x40 : -0x40, 8);
        std::string base = kHeader + p + r + f;
        ASSERT_LT(r.size() + f.size() + 2, 64u);
        Outcome general = read_mem(base + end_record(3), 3);
        Outcome fast = read_mem(base + filler + end_record(23), 3);
        ASSERT_EQ(general.events.size(), fast.events.size()) << "record " << it;
        for (size_t i = 0; i < general.events.size(); i++) {
            ASSERT_EQ(std::memcmp(&general.events[i], &fast.events[i], sizeof fast.events[i]), 0)
                << "record " << it << ", event " << i;
            ASSERT_EQ(general.positions[i], fast.positions[i]);
            ASSERT_EQ(general.counts[i], fast.counts[i]);
            iommu_trace_event canon;
            iommu_trace_event_canon(&canon, &fast.events[i]);
            ASSERT_EQ(std::memcmp(&canon, &fast.events[i], sizeof canon), 0) << "not canonical";
        }
        ASSERT_EQ(general.last_status, fast.last_status) << "record " << it;
        ASSERT_EQ(general.error, fast.error) << "record " << it;
        if (general.events.size() == 3)
            agreed_ok++;
        else
            agreed_err++;
    }
    // both kinds must be common, or the test proves little
    EXPECT_GT(agreed_ok, 10000);
    EXPECT_GT(agreed_err, 10000);
}

// Offsets of every record, found by walking the bytes independently of the reader.
static std::vector<uint64_t> walk_plain_records(const std::string &data)
{
    std::vector<uint64_t> starts;
    size_t i = 16;
    while (i < data.size() && data[i] == '\x05') {
        starts.push_back(i);
        size_t j = i + 2;
        if (data[i + 1] & IOMMU_EVF_TIME)
            while (data[j++] & 0x80) {
            }
        j += 3;
        for (int v = 0; v < 2 + ((data[i + 1] & IOMMU_EVF_PASID) != 0); v++)
            while (data[j++] & 0x80) {
            }
        i = j;
    }
    return starts;
}

// A file of several MiB: the reader refills its 1 MiB buffer many times, the fast path
// stops short of each buffer end and resumes after the refill. Every event, its position and
// the count must still be exact.
TEST(TraceFast, PositionsAndEventsAcrossRefills)
{
    iommu_gen_rng g;
    iommu_gen_rng_seed(&g, 5);
    std::vector<iommu_trace_event> evs;
    uint64_t t = 0;
    for (int i = 0; i < 400000; i++) {
        iommu_trace_event ev;
        iommu_trace_event_init(&ev, IOMMU_EV_DMA);
        ev.sid = iommu_sid_t(iommu_gen_rng_next(&g));
        ev.len = 1 + iommu_gen_rng_below(&g, i % 3 ? 4096 : 0xFFFFFFFFull);
        ev.iova = iommu_gen_rng_below(&g, 1ull << (8 + i % 56));
        ev.access = i % 2 ? IOMMU_ACC_R : IOMMU_ACC_W;
        ev.ats = uint8_t(i % 3);
        if (i % 7 == 0) {
            ev.flags |= IOMMU_EVF_TIME;
            ev.time_ns = t += iommu_gen_rng_below(&g, 1000);
        }
        if (i % 11 == 0) {
            ev.flags |= IOMMU_EVF_PASID;
            ev.pasid = iommu_pasid_t(iommu_gen_rng_below(&g, IOMMU_PASID_MAX + 1));
        }
        evs.push_back(ev);
    }
    std::string path = tmp_path("refill.bin");
    iommu_trace_error err{};
    iommu_trace_writer_t *w = iommu_trace_create(path.c_str(), &err);
    ASSERT_NE(w, nullptr) << err.msg;
    for (const auto &ev : evs)
        ASSERT_EQ(iommu_trace_write(w, &ev, &err), IOMMU_OK) << err.msg;
    ASSERT_EQ(iommu_trace_finish(w, &err), IOMMU_OK) << err.msg;

    std::ifstream in(path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(data.size(), 3u << 20);
    std::vector<uint64_t> starts = walk_plain_records(data);
    ASSERT_EQ(starts.size(), evs.size());

    iommu_trace_reader_t *r = iommu_trace_open(path.c_str(), &err);
    ASSERT_NE(r, nullptr) << err.msg;
    iommu_trace_event ev;
    size_t n = 0;
    int st;
    while ((st = iommu_trace_next(r, &ev, &err)) == 1) {
        ASSERT_LT(n, evs.size());
        iommu_trace_event want;
        iommu_trace_event_canon(&want, &evs[n]);
        ASSERT_EQ(std::memcmp(&want, &ev, sizeof ev), 0) << "event " << n;
        ASSERT_EQ(iommu_trace_position(r), starts[n]) << "event " << n;
        n++;
        ASSERT_EQ(iommu_trace_count(r), n);
    }
    EXPECT_EQ(st, 0) << err.msg;
    EXPECT_EQ(n, evs.size());
    EXPECT_EQ(iommu_trace_position(r), starts.back()); // the last event, after the end
    iommu_trace_close(r);

    // cut in the middle of records around the first buffer boundaries: a truncated event
    // at the right offset, and a cut on a record boundary is a missing end record
    for (uint64_t cut : {uint64_t(1) << 20, (uint64_t(1) << 20) + 30, (uint64_t(2) << 20) - 7}) {
        size_t i = 0;
        while (i + 1 < starts.size() && starts[i + 1] <= cut)
            i++;
        for (uint64_t c : {uint64_t(starts[i]), uint64_t(starts[i] + 1)}) {
            spit(path, data.substr(0, c));
            std::string e;
            iommu_trace_reader_t *rc = iommu_trace_open(path.c_str(), &err);
            ASSERT_NE(rc, nullptr);
            while ((st = iommu_trace_next(rc, &ev, &err)) == 1) {
            }
            ASSERT_EQ(st, -1);
            EXPECT_EQ(iommu_trace_count(rc), i);
            iommu_trace_close(rc);
            std::string want = path + ": offset " + std::to_string(starts[i]) +
                               (c == starts[i] ? ": truncated trace (no end record)"
                                               : ": truncated event");
            EXPECT_EQ(std::string(err.msg), want) << "cut at " << c;
        }
    }
    std::remove(path.c_str());
}

// An invalid dma record at every offset around the end of the first 1 MiB buffer: where the
// fast path runs, where it has stopped for the refill, and right after the refill. The error
// names the record's exact offset; the events before it are all returned.
TEST(TraceFast, ErrorsAroundTheBufferEnd)
{
    std::string path = tmp_path("bufend.bin");
    const std::string bad = plain_dma(0, 0); // len 0
    for (uint64_t at = (1u << 20) - 80; at < (1u << 20) + 16; at++) {
        // 7- and 8-byte records (len 1, len 128) to reach the offset exactly
        std::string d = kHeader;
        uint64_t gap = at - d.size(), n8 = 0;
        while ((gap - 8 * n8) % 7)
            n8++;
        uint64_t n7 = (gap - 8 * n8) / 7;
        for (uint64_t i = 0; i < n8; i++)
            d += plain_dma(0, 128);
        for (uint64_t i = 0; i < n7; i++)
            d += plain_dma(0, 1);
        ASSERT_EQ(d.size(), at);
        d += bad;
        for (int i = 0; i < 20; i++)
            d += plain_dma(0, 1);
        d += end_record(n7 + n8 + 21);
        spit(path, d);
        iommu_trace_error err{};
        iommu_trace_reader_t *r = iommu_trace_open(path.c_str(), &err);
        ASSERT_NE(r, nullptr);
        iommu_trace_event ev;
        int st;
        while ((st = iommu_trace_next(r, &ev, &err)) == 1) {
        }
        ASSERT_EQ(st, -1);
        EXPECT_EQ(iommu_trace_count(r), n7 + n8);
        EXPECT_EQ(std::string(err.msg), path + ": offset " + std::to_string(at) +
                                            ": dma: len must be > 0");
        EXPECT_EQ(iommu_trace_next(r, &ev, &err), -1); // stays in error
        iommu_trace_close(r);
    }
    std::remove(path.c_str());
}
