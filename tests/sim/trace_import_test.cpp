// trace_import_test.cpp — `iommusim trace import linux` (sim/import_linux.cpp): the exact
// events of a small crafted two-file capture (patched and stock), the ordering guarantee
// (every DMA after the map that covers it and before its unmap, even where the clocks say
// otherwise), --phases, the decoding of every VT-d descriptor type, one line "FILE:LINE:"
// and exit status 2 for each kind of bad input, and one real capture imported and replayed
// with as many faults as the real run had. The program runs as a subprocess (IOMMUSIM_BIN).
#include <gtest/gtest.h>

#include "run_util.h"
#include "sim/import_linux.h"
#include "traces/trace.h"

#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

const std::string kData = std::string(IOMMUSIM_SOURCE_DIR) + "/tests/sim/data/linux/";

#define NEED_BIN()                                                                          \
    do {                                                                                    \
        if (::access(IOMMUSIM_BIN, X_OK) != 0)                                              \
            GTEST_SKIP() << IOMMUSIM_BIN << " not built";                                   \
    } while (0)

std::string dir() { return scratch_dir(); }

// The event lines of a text trace (no comments).
std::vector<std::string> events(const std::string &text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l))
        if (!l.empty() && l[0] != '#')
            out.push_back(l);
    return out;
}

std::string join(const std::vector<std::string> &v)
{
    std::string s;
    for (const auto &l : v)
        s += l + "\n";
    return s;
}

// Replaces the first occurrence of `from` (which must occur) in text.
std::string replace(std::string text, const std::string &from, const std::string &to)
{
    size_t p = text.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    if (p != std::string::npos)
        text.replace(p, from.size(), to);
    return text;
}

std::string drop_lines_with(const std::string &text, const std::string &what)
{
    std::istringstream in(text);
    std::string l, out;
    while (std::getline(in, l))
        if (l.find(what) == std::string::npos)
            out += l + "\n";
    return out;
}

void write_gz(const std::string &path, const std::string &text)
{
    gzFile f = gzopen(path.c_str(), "wb9");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, text.data(), unsigned(text.size())), int(text.size()));
    gzclose(f);
}

RunResult import(const std::string &qemu, const std::string &ftrace, const std::string &out,
                 const std::string &extra = "")
{
    return run_iommusim("trace import linux --qemu '" + qemu + "' --ftrace '" + ftrace + "' -o '" +
                        out + "' " + extra);
}

const std::vector<std::string> kSmallPatched = {
    "attach sid=00:02.0 did=4 mode=sl",
    "inv type=cc-device did=0 sid=00:02.0",
    "inv type=wait",
    "inv type=iotlb-domain did=4",
    "inv type=wait",
    "map did=4 iova=0xfffff000 pa=0x1000000 len=0x1000 perm=rw page=4K",
    "inv type=iotlb-page did=4 addr=0xfffff000 am=0",
    "inv type=wait",
    "dma sid=00:02.0 iova=0xfffff040 len=64 op=r",
    "map did=4 iova=0xffffc000 pa=0x2000000 len=0x2000 perm=r page=4K",
    "inv type=iotlb-page did=4 addr=0xffffc000 am=1",
    "inv type=wait",
    "dma sid=00:02.0 iova=0xffffcf00 len=256 op=r",
    "dma sid=00:02.0 iova=0xffffd000 len=256 op=r",
    "irte index=16 lo=0x1000027000d hi=0x40010",
    "msi sid=00:02.0 addr=0xfee00218 data=0x0",
    "unmap did=4 iova=0xffffc000 len=0x2000",
    "inv type=iotlb-page did=4 addr=0xffffc000 am=1",
    "inv type=wait",
};

// Checks the ordering guarantee on a written trace: every DMA's page is mapped in the
// domain its device is attached to; maps never overlap a live mapping; unmaps remove live
// pages. Returns the first violation ("" if none).
std::string check_order(const std::string &trace_path)
{
    iommu_trace_error err{};
    iommu_trace_reader_t *r = iommu_trace_open(trace_path.c_str(), &err);
    if (!r)
        return err.msg;
    std::map<uint16_t, uint16_t> dom;                 // sid -> did
    std::map<uint16_t, std::set<uint64_t>> live;      // did -> pages
    iommu_trace_event ev;
    std::string bad;
    uint64_t n = 0;
    while (bad.empty() && iommu_trace_next(r, &ev, &err) == 1) {
        n++;
        if (ev.type == IOMMU_EV_ATTACH)
            dom[ev.sid] = ev.did;
        else if (ev.type == IOMMU_EV_MAP) {
            for (uint64_t o = 0; o < ev.len; o += 4096)
                if (!live[ev.did].insert(ev.iova + o).second)
                    bad = "event " + std::to_string(n) + ": map over a live page";
        } else if (ev.type == IOMMU_EV_UNMAP) {
            for (uint64_t o = 0; o < ev.len; o += 4096)
                if (!live[ev.did].erase(ev.iova + o))
                    bad = "event " + std::to_string(n) + ": unmap of a page not mapped";
        } else if (ev.type == IOMMU_EV_DMA) {
            if (!dom.count(ev.sid))
                bad = "event " + std::to_string(n) + ": dma by a device not attached";
            else
                for (uint64_t p = ev.iova & ~4095ull; p < ev.iova + ev.len; p += 4096)
                    if (!live[dom[ev.sid]].count(p))
                        bad = "event " + std::to_string(n) + ": dma outside a live mapping";
        }
    }
    iommu_trace_close(r);
    return bad;
}

// ---- the crafted capture ------------------------------------------------------------------

TEST(ImportLinux, SmallPatchedCaptureExactEvents)
{
    NEED_BIN();
    std::string out = dir() + "/small.trace";
    RunResult r = import(kData + "small.qemu.log", kData + "small.guest-ftrace.txt", out);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(join(events(slurp(out))), join(kSmallPatched));
    // the summary
    EXPECT_NE(r.out.find("patched (per-access iommu_dma lines)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("devices   00:02.0->domain 4 (3 dma)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("3 guest qi_submit matched in order"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("faults    0 in the capture"), std::string::npos) << r.out;
    EXPECT_EQ(check_order(out), "");
    // the measuring options keep the guarantee
    RunResult m = import(kData + "small.qemu.log", kData + "small.guest-ftrace.txt", out,
                         "--infer-dma --no-descriptor-anchors --keep-doorbells");
    ASSERT_EQ(m.status, 0) << m.err;
    EXPECT_NE(m.out.find("iommu_dma lines ignored: --infer-dma"), std::string::npos) << m.out;
    EXPECT_EQ(events(slurp(out)).size(), kSmallPatched.size());
    EXPECT_EQ(check_order(out), "");
}

TEST(ImportLinux, PrefixShorthandReadsGzipAndWritesEveryForm)
{
    NEED_BIN();
    const std::string pre = dir() + "/gzcap";
    write_gz(pre + ".qemu.log.gz", slurp(kData + "small.qemu.log"));
    write_gz(pre + ".guest-ftrace.txt.gz", slurp(kData + "small.guest-ftrace.txt"));
    for (const char *ext : {".trace", ".trace.gz", ".bin"}) {
        std::string out = dir() + "/prefix" + ext;
        RunResult r = run_iommusim("trace import linux '" + pre + "' -o '" + out + "'");
        ASSERT_EQ(r.status, 0) << ext << ": " << r.err;
        std::string text = dir() + "/prefix_back.trace";
        RunResult c = run_iommusim("trace convert '" + out + "' '" + text + "'");
        ASSERT_EQ(c.status, 0) << c.err;
        EXPECT_EQ(join(events(slurp(text))), join(kSmallPatched)) << ext;
    }
}

TEST(ImportLinux, StockCaptureInfersDirectionAndLength)
{
    NEED_BIN();
    // Without the iommu_dma lines: the read-only leaf PTE gives the direction of the 8 KB
    // buffer, and each access is taken to run to the end of its page.
    std::string q = dir() + "/stock.qemu.log";
    write_file(q, drop_lines_with(slurp(kData + "small.qemu.log"), ":iommu_dma "));
    std::string out = dir() + "/stock.trace";
    RunResult r = import(q, kData + "small.guest-ftrace.txt", out);
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> want = kSmallPatched;
    want[8] = "dma sid=00:02.0 iova=0xfffff040 len=4032 op=r";
    want[12] = "dma sid=00:02.0 iova=0xffffcf00 len=256 op=r";
    want[13] = "dma sid=00:02.0 iova=0xffffd000 len=4096 op=r";
    EXPECT_EQ(join(events(slurp(out))), join(want));
    EXPECT_NE(r.out.find("stock QEMU events"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("2  read-only leaf PTE (read)"), std::string::npos) << r.out;
}

TEST(ImportLinux, PhasesKeepAttachesAndLiveMaps)
{
    NEED_BIN();
    std::string out = dir() + "/phase2.trace";
    RunResult r = import(kData + "small.qemu.log", kData + "small.guest-ftrace.txt", out,
                         "--phases 2-2");
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> want = {
        "attach sid=00:02.0 did=4 mode=sl",
        "map did=4 iova=0xfffff000 pa=0x1000000 len=0x1000 perm=rw page=4K", // live at phase 2
    };
    want.insert(want.end(), kSmallPatched.begin() + 9, kSmallPatched.end());
    EXPECT_EQ(join(events(slurp(out))), join(want));
    EXPECT_NE(r.out.find("1 live at the start of the phases"), std::string::npos) << r.out;
    EXPECT_EQ(check_order(out), "");
}

// The guest's clock puts the unmap before the DMA that used the mapping and the second map
// after the DMA that needs it; no descriptor pins them (lazy mode, caching mode off). The
// converter moves both.
TEST(ImportLinux, OrderingGuaranteeAgainstTheClocks)
{
    NEED_BIN();
    std::string f = dir() + "/ord.guest-ftrace.txt", q = dir() + "/ord.qemu.log";
    write_file(f,
               "# tracer: nop\n"
               "            init-1       [000] .....     1.000000: tracing_mark_write: PHASE 1 load\n"
               "              dd-50      [000] .....     1.010000: map: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 paddr=0x0000000001000000 size=4096\n"
               "          <idle>-0       [000] ..s1.     1.020000: unmap: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 size=4096 unmapped_size=4096\n"
               "              dd-50      [000] .....     1.900000: map: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 paddr=0x0000000003000000 size=4096\n"
               "            init-1       [000] .....     2.000000: tracing_mark_write: PHASE 2 next\n");
    write_file(q,
               "100@1001.000000:pci_cfg_write mch 00:00.0 @0x3c <- 0x1\n"
               "101@1001.500000:vtd_iotlb_page_update IOTLB page update sid 0x18 iova 0xfffff000 slpte 0x1000003 domain 0x5\n"
               "101@1001.500001:vtd_dmar_translate dev 00:03.00 iova 0xfffff000 -> gpa 0x1000000 mask 0xfff\n"
               "101@1001.600000:vtd_iotlb_page_update IOTLB page update sid 0x18 iova 0xffffe010 slpte 0x3000003 domain 0x5\n"
               "101@1001.600001:vtd_dmar_translate dev 00:03.00 iova 0xffffe000 -> gpa 0x3000000 mask 0xfff\n"
               "100@1002.000000:pci_cfg_write mch 00:00.0 @0x3c <- 0x2\n"
               "100@1002.100000:vtd_inv_desc invalidate desc type iotlb high 0x0 low 0x500e2\n"
               "100@1002.100001:vtd_inv_desc invalidate desc type wait high 0x11b0000 low 0x200000025\n");
    std::string out = dir() + "/ord.trace";
    RunResult r = import(q, f, out);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(join(events(slurp(out))),
              "attach sid=00:03.0 did=5 mode=sl\n"
              "map did=5 iova=0xfffff000 pa=0x1000000 len=0x1000 perm=rw page=4K\n"
              "dma sid=00:03.0 iova=0xfffff000 len=4096 op=r\n"
              "unmap did=5 iova=0xfffff000 len=0x1000\n"
              "map did=5 iova=0xffffe000 pa=0x3000000 len=0x1000 perm=rw page=4K\n"
              "dma sid=00:03.0 iova=0xffffe010 len=4080 op=r\n"
              "inv type=iotlb-domain did=5\n"
              "inv type=wait\n");
    EXPECT_NE(r.out.find("2 maps/unmaps moved to order them"), std::string::npos) << r.out;
    EXPECT_EQ(check_order(out), "");
}

// Two domains map the same IOVA (every domain allocates from the top); an unmap of a range
// whose first page neither maps must go to the domain whose mapping no later DMA needs.
TEST(ImportLinux, AmbiguousUnmapGoesWhereNoLaterDmaNeedsTheMapping)
{
    NEED_BIN();
    std::string f = dir() + "/amb.guest-ftrace.txt", q = dir() + "/amb.qemu.log";
    write_file(f,
               "            init-1       [000] .....     1.000000: tracing_mark_write: PHASE 1 load\n"
               "              dd-50      [000] .....     1.100000: map: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 paddr=0x0000000001000000 size=4096\n"
               "              dd-50      [000] .....     1.200000: map: IOMMU: iova=0x00000000ffffe000 - 0x00000000fffff000 paddr=0x0000000002000000 size=4096\n"
               "          <idle>-0       [000] ..s1.     1.500000: unmap: IOMMU: iova=0x00000000ffffd000 - 0x00000000fffff000 size=8192 unmapped_size=8192\n"
               "            init-1       [000] .....     2.000000: tracing_mark_write: PHASE 2 next\n");
    write_file(q,
               "100@1001.000000:pci_cfg_write mch 00:00.0 @0x3c <- 0x1\n"
               "101@1001.150000:vtd_iotlb_page_update IOTLB page update sid 0x10 iova 0xffffe000 slpte 0x1000003 domain 0x4\n"
               "101@1001.150001:vtd_dmar_translate dev 00:02.00 iova 0xffffe000 -> gpa 0x1000000 mask 0xfff\n"
               "101@1001.250000:vtd_iotlb_page_update IOTLB page update sid 0x18 iova 0xffffe000 slpte 0x2000003 domain 0x5\n"
               "101@1001.250001:vtd_dmar_translate dev 00:03.00 iova 0xffffe000 -> gpa 0x2000000 mask 0xfff\n"
               "100@1002.000000:pci_cfg_write mch 00:00.0 @0x3c <- 0x2\n"
               "101@1002.500000:vtd_iotlb_page_hit IOTLB page hit sid 0x10 iova 0xffffe000 slpte 0x1000003 domain 0x4\n"
               "101@1002.500001:vtd_dmar_translate dev 00:02.00 iova 0xffffe000 -> gpa 0x1000000 mask 0xfff\n");
    std::string out = dir() + "/amb.trace";
    RunResult r = import(q, f, out);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(join(events(slurp(out))),
              "attach sid=00:02.0 did=4 mode=sl\n"
              "map did=4 iova=0xffffe000 pa=0x1000000 len=0x1000 perm=rw page=4K\n"
              "dma sid=00:02.0 iova=0xffffe000 len=4096 op=r\n"
              "attach sid=00:03.0 did=5 mode=sl\n"
              "map did=5 iova=0xffffe000 pa=0x2000000 len=0x1000 perm=rw page=4K\n"
              "dma sid=00:03.0 iova=0xffffe000 len=4096 op=r\n"
              "unmap did=5 iova=0xffffe000 len=0x1000\n"
              "dma sid=00:02.0 iova=0xffffe000 len=4096 op=r\n");
    EXPECT_NE(r.out.find("chosen 1"), std::string::npos) << r.out;
    EXPECT_EQ(check_order(out), "");
}

// ---- descriptors ---------------------------------------------------------------------------

std::string decoded(uint64_t lo, uint64_t hi)
{
    iommu_trace_event ev;
    std::string why;
    if (!iommusim::linux_import::decode_desc(lo, hi, &ev, &why))
        return "error: " + why;
    char line[256];
    if (iommu_trace_format_line(&ev, line, sizeof line) < 0)
        return "unformattable";
    return line;
}

TEST(ImportLinux, DecodesEveryDescriptorType)
{
    // context-cache (type 1): granularity in bits 5:4, DID 31:16, SID 47:32
    EXPECT_EQ(decoded(0x11, 0), "inv type=cc-global");
    EXPECT_EQ(decoded(0x00070021, 0), "inv type=cc-domain did=7");
    EXPECT_EQ(decoded(0x0000001000000031ull, 0), "inv type=cc-device did=0 sid=00:02.0");
    EXPECT_EQ(decoded(0x000000fd00050031ull, 0), "inv type=cc-device did=5 sid=00:1f.5");
    // IOTLB (type 2): drain bits 7:6 ignored; page-selective: ADDR 63:12, IH bit 6, AM 5:0
    EXPECT_EQ(decoded(0xd2, 0), "inv type=iotlb-global");
    EXPECT_EQ(decoded(0x400e2, 0), "inv type=iotlb-domain did=4");
    EXPECT_EQ(decoded(0x400f2, 0xfffdf000), "inv type=iotlb-page did=4 addr=0xfffdf000 am=0");
    EXPECT_EQ(decoded(0x600f2, 0xfffa4001), "inv type=iotlb-page did=6 addr=0xfffa4000 am=1");
    EXPECT_EQ(decoded(0x600f2, 0xfff00000 | 0x40 | 8), "inv type=iotlb-page did=6 addr=0xfff00000 am=8 ih");
    // device-TLB (type 3): SID 31:16; S (bit 0) = the size is in the address's low one bits
    EXPECT_EQ(decoded(0x00100003, 0x12345000), "inv type=devtlb sid=00:02.0 addr=0x12345000 am=0");
    EXPECT_EQ(decoded(0x00100003, 0x12345000 | 0x1), "inv type=devtlb sid=00:02.0 addr=0x12344000 am=2");
    EXPECT_EQ(decoded(0x00100003, 0x12347000 | 0x1), "inv type=devtlb sid=00:02.0 addr=0x12340000 am=4");
    // interrupt entry cache (type 4): G bit 4, IM 31:27, IIDX 47:32
    EXPECT_EQ(decoded(0x4, 0), "inv type=iec-global");
    EXPECT_EQ(decoded(0x1000000014ull, 0), "inv type=iec-index index=16 am=0");
    EXPECT_EQ(decoded(0x0000002018000014ull, 0), "inv type=iec-index index=32 am=3");
    // wait (type 5), whatever its status fields
    EXPECT_EQ(decoded(0x200000025ull, 0x11bac04), "inv type=wait");
    EXPECT_EQ(decoded(0x5, 0), "inv type=wait");
    // PASID-based IOTLB (type 6) and PASID cache (type 7): PASID 51:32
    EXPECT_EQ(decoded(0x0000000500030026ull, 0), "inv type=pasid-iotlb did=3 pasid=5");
    EXPECT_EQ(decoded(0x0000000500030036ull, 0x7000), "inv type=pasid-iotlb did=3 addr=0x7000 am=0 pasid=5");
    EXPECT_EQ(decoded(0x00030007, 0), "inv type=pasid-cache did=3");
    EXPECT_EQ(decoded(0x0000000900030017ull, 0), "inv type=pasid-cache did=3 pasid=9");
    // reserved and unknown encodings
    EXPECT_NE(decoded(0x01, 0).find("error: descriptor 0x1 0x0: context-cache invalidation with reserved granularity 0"), std::string::npos);
    EXPECT_NE(decoded(0x02, 0).find("reserved granularity 0"), std::string::npos);
    EXPECT_NE(decoded(0x400f2, 0xfffdf001).find("not aligned to 2^1 pages"), std::string::npos);
    EXPECT_NE(decoded(0x2118000014ull, 0).find("not aligned to 2^3"), std::string::npos);
    EXPECT_NE(decoded(0x8, 0).find("unknown descriptor type 8"), std::string::npos);
    EXPECT_NE(decoded(0x00030016ull, 0).find("no trace equivalent"), std::string::npos);
}

// ---- bad input: one line FILE:LINE: reason, exit status 2, no output file ----------------------

struct Bad {
    const char *what;
    std::string qemu, ftrace; // file contents ("" = the good small capture)
    bool gzip_qemu = false, gzip_ftrace = false;
    bool cut = false;         // keep only the first half of the (gzipped) file
    const char *file;         // which file the error names: "qemu" or "ftrace"
    int line;                 // expected line (0: any)
    const char *reason;       // expected text after "FILE:LINE: "
};

void expect_bad(const Bad &b)
{
    SCOPED_TRACE(b.what);
    const std::string q0 = slurp(kData + "small.qemu.log"), f0 = slurp(kData + "small.guest-ftrace.txt");
    std::string q = dir() + "/bad-" + std::to_string(std::hash<std::string>()(b.what)) + ".qemu.log";
    std::string f = dir() + "/bad-" + std::to_string(std::hash<std::string>()(b.what)) + ".ftrace.txt";
    if (b.gzip_qemu) q += ".gz";
    if (b.gzip_ftrace) f += ".gz";
    const std::string qt = b.qemu.empty() ? q0 : b.qemu, ft = b.ftrace.empty() ? f0 : b.ftrace;
    auto put = [&](const std::string &path, const std::string &text, bool gz, bool cut) {
        if (gz)
            write_gz(path, text);
        else
            write_file(path, text);
        if (cut && b.cut) {
            std::string all = slurp(path);
            write_file(path, all.substr(0, all.size() / 2));
        }
    };
    put(q, qt, b.gzip_qemu, std::string(b.file) == "qemu");
    put(f, ft, b.gzip_ftrace, std::string(b.file) == "ftrace");
    std::string out = dir() + "/bad.trace";
    std::remove(out.c_str());
    RunResult r = import(q, f, out);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    const std::string &path = std::string(b.file) == "qemu" ? q : f;
    std::string prefix = path + ":" + (b.line ? std::to_string(b.line) + ": " : "");
    EXPECT_EQ(r.err.substr(0, prefix.size()), prefix) << r.err;
    EXPECT_NE(r.err.find(b.reason), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(::access(out.c_str(), F_OK), 0) << "no output after an error";
}

TEST(ImportLinux, BadInputNamesFileAndLine)
{
    NEED_BIN();
    const std::string q0 = slurp(kData + "small.qemu.log"), f0 = slurp(kData + "small.guest-ftrace.txt");
    // a long capture for the gzip cuts (the cut lands well inside the data)
    std::string longq;
    for (int i = 0; i < 400; i++)
        longq += "100@999." + std::to_string(100000 + i) + ":vtd_reg_read addr 0x" +
                 std::to_string(i * 7919 % 1000) + " size 0x8\n";
    longq += q0;
    std::string longf = f0;
    for (int i = 0; i < 400; i++)
        longf += "            init-1       [000] .....     3.5" + std::to_string(10000 + i) + ": tracing_mark_write: hello\n";
    const Bad cases[] = {
        {"vtd_inv_desc without its low word",
         replace(q0, "high 0xfffff000 low 0x400f2", "high 0xfffff000"), "", false, false, false, "qemu", 8,
         "vtd_inv_desc: expected 'invalidate desc type TYPE high QW1 low QW0'"},
        {"vtd_inv_desc with a non-hex word",
         replace(q0, "high 0xfffff000 low 0x400f2", "high 0xfffff000 low 0x40zf2"), "", false, false, false, "qemu", 8,
         "vtd_inv_desc: bad number '0x40zf2' for 'low'"},
        {"vtd_inv_desc of a reserved encoding",
         replace(q0, "high 0x0 low 0x400e2", "high 0x0 low 0x40002"), "", false, false, false, "qemu", 4,
         "reserved granularity 0"},
        {"map with a non-hex iova", "",
         replace(f0, "iova=0x00000000fffff000 - 0x0000000100000000", "iova=0x00000000fffzz000 - 0x0000000100000000"),
         false, false, false, "ftrace", 14, "map: bad number '0x00000000fffzz000' for 'iova'"},
        {"map not page aligned", "",
         replace(f0, "paddr=0x0000000002000000", "paddr=0x0000000002000800"), false, false, false, "ftrace", 17,
         "map: not aligned to 4 KB"},
        {"map whose range does not match its size", "",
         replace(f0, "- 0x00000000ffffe000 paddr", "- 0x00000000fffff000 paddr"), false, false, false, "ftrace", 17,
         "does not match size 8192"},
        {"qi_submit missing a word", "",
         replace(f0, "0x400f2 0xffffc001 0x0 0x0\n", "0x400f2 0xffffc001 0x0\n"), false, false, false, "ftrace", 18,
         "qi_submit: expected 'TYPE IOMMU: QW0 QW1 QW2 QW3'"},
        {"qi_submit that QEMU never executed", "",
         replace(f0, "0x400f2 0xffffc001 0x0 0x0\n", "0x400f2 0xffffc002 0x0 0x0\n"), false, false, false, "ftrace", 18,
         "has no counterpart in the QEMU log"},
        {"ftrace ring buffer overflow", "",
         replace(f0, "entries-in-buffer/entries-written: 9/9", "entries-in-buffer/entries-written: 9/12"),
         false, false, false, "ftrace", 3, "the ftrace ring buffer overflowed (9 of 12 entries kept)"},
        {"ftrace line without a timestamp", "", f0 + "            init-1       [000] ..... tracing_mark_write: x\n",
         false, false, false, "ftrace", 22, "not an ftrace event line"},
        {"QEMU line that is not a trace line",
         replace(q0, "100@1001.000000:pci_cfg_write mch", "100@12x.5:vtd_reg_read addr 0x8\n100@1001.000000:pci_cfg_write mch"),
         "", false, false, false, "qemu", 7,
         "not a QEMU trace line"},
        {"translation of a bad device",
         replace(q0, "dev 00:02.00 iova 0xfffff000", "dev 00:42.00 iova 0xfffff000"), "", false, false, false, "qemu", 12,
         "vtd_dmar_translate: bad device '00:42.00'"},
        {"iommu_dma without its translation",
         replace(q0, "iommu_dma vtd-02.0-dmar iova 0xfffff040", "iommu_dma vtd-02.0-dmar iova 0xfff0f040"), "", false, false, false,
         "qemu", 13, "no vtd_dmar_translate of page 0xfff0f000 just before it"},
        {"MSI outside the interrupt range",
         replace(q0, "(addr 0xfee00218, data 0x0) ->", "(addr 0xfe000218, data 0x0) ->"), "", false, false, false, "qemu", 28,
         "outside the interrupt range"},
        {"gzip QEMU log cut short", longq, "", true, false, true, "qemu", 0, "gzip data cut short (truncated file)"},
        {"gzip ftrace cut short", "", longf, false, true, true, "ftrace", 0, "gzip data cut short (truncated file)"},
    };
    for (const Bad &b : cases)
        expect_bad(b);
}

// Random damage to either file (a token dropped, a character changed, a line cut, doubled or
// moved): the import either succeeds or stops with status 2 and one line; it never crashes.
TEST(ImportLinux, DamagedCapturesNeverCrash)
{
    NEED_BIN();
    const std::string files[2] = {slurp(kData + "small.qemu.log"), slurp(kData + "small.guest-ftrace.txt")};
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    auto rnd = [&](uint64_t n) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        return n ? seed % n : 0;
    };
    int ok = 0, bad = 0;
    for (int it = 0; it < 80; it++) {
        const int which = int(rnd(2));
        std::vector<std::string> lines;
        std::istringstream in(files[which]);
        for (std::string l; std::getline(in, l);)
            lines.push_back(l);
        size_t i = rnd(lines.size());
        std::string &l = lines[i];
        switch (rnd(5)) {
        case 0: { // drop a word
            size_t a = l.find(' ', rnd(l.size()));
            if (a != std::string::npos) {
                size_t b = l.find(' ', a + 1);
                l.erase(a, b == std::string::npos ? std::string::npos : b - a);
            }
            break;
        }
        case 1: if (!l.empty()) l[rnd(l.size())] = "zx:.-0 "[rnd(7)]; break;
        case 2: l.resize(rnd(l.size() + 1)); break;
        case 3: lines.insert(lines.begin() + long(i), l); break;
        default: std::swap(l, lines[rnd(lines.size())]); break;
        }
        std::string q = dir() + "/dmg.qemu.log", f = dir() + "/dmg.ftrace.txt";
        write_file(q, which == 0 ? join(lines) : files[0]);
        write_file(f, which == 1 ? join(lines) : files[1]);
        RunResult r = import(q, f, dir() + "/dmg.trace");
        ASSERT_TRUE(r.status == 0 || r.status == 2) << "status " << r.status << " for line " << i
                                                    << " of file " << which << ": " << l << "\n" << r.err;
        if (r.status == 2) {
            EXPECT_EQ(count_lines(r.err), 1) << r.err;
            bad++;
        } else {
            EXPECT_EQ(r.err, "");
            ok++;
        }
    }
    EXPECT_GT(bad, 10);
    EXPECT_GT(ok, 5);
}

TEST(ImportLinux, UsageErrors)
{
    NEED_BIN();
    RunResult r = run_iommusim("trace import linux --help");
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("--keep-doorbells"), std::string::npos);
    EXPECT_NE(r.out.find("PREFIX.qemu.log.gz"), std::string::npos);
    struct {
        const char *args, *err;
    } cases[] = {
        {"trace import", "usage: iommusim trace import SOURCE"},
        {"trace import pcap x -o y.trace", "iommusim trace import: unknown source 'pcap' (linux)"},
        {"trace import linux -o y.trace", "iommusim trace import linux: missing --qemu (or PREFIX)"},
        {"trace import linux pre", "iommusim trace import linux: missing -o OUT"},
        {"trace import linux pre -o y.txt", "iommusim trace import linux: y.txt: unknown trace file extension"},
        {"trace import linux pre -o y.trace --phases 9-3", "iommusim trace import linux: bad --phases '9-3'"},
        {"trace import linux pre -o y.trace --phases 14", "iommusim trace import linux: bad --phases '14'"},
        {"trace import linux pre --qemu a -o y.trace", "iommusim trace import linux: give either PREFIX or --qemu and --ftrace"},
        {"trace import linux /nonexistent/p -o y.trace", "/nonexistent/p.guest-ftrace.txt.gz: cannot open"},
    };
    for (auto &c : cases) {
        RunResult e = run_iommusim(c.args);
        EXPECT_EQ(e.status, 2) << c.args;
        EXPECT_EQ(e.err.substr(0, std::strlen(c.err)), c.err) << c.args << ": " << e.err;
    }
}

// ---- a real capture --------------------------------------------------------------------------

// The capture's fault count from the summary line "faults    N in the capture ...".
long summary_number(const std::string &out, const std::string &before)
{
    size_t p = out.find(before);
    if (p == std::string::npos)
        return -1;
    return std::strtol(out.c_str() + p + before.size(), nullptr, 10);
}

TEST(ImportLinux, RealCaptureReplaysWithTheRealFaults)
{
    NEED_BIN();
    // The lazy, caching-mode-off, stock capture: the hardest to order (no descriptor pins a
    // map or an unmap), whole; and one phase of the patched capture.
    const std::string data = std::string(IOMMUSIM_SOURCE_DIR) + "/../shared/data/linux-qemu-vtd/";
    if (::access((data + "lazy-cm-off.qemu.log.gz").c_str(), R_OK) != 0)
        GTEST_SKIP() << "no capture at " << data;
    struct {
        const char *capture, *extra;
    } runs[] = {{"lazy-cm-off", ""}, {"strict-cm-on-patched", "--phases 4-5"}};
    for (auto &c : runs) {
        SCOPED_TRACE(c.capture);
        std::string out = dir() + "/" + c.capture + ".bin", stats = dir() + "/" + c.capture + ".json";
        RunResult r = run_iommusim("trace import linux '" + data + c.capture + "' -o '" + out + "' " + c.extra);
        ASSERT_EQ(r.status, 0) << r.err;
        long faults = summary_number(r.out, "faults    ");
        ASSERT_GE(faults, 0) << r.out;
        EXPECT_EQ(summary_number(r.out, "check     "), 0) << r.out;
        EXPECT_EQ(check_order(out), "");
        RunResult p = run_iommusim("replay --functional -q -t '" + out + "' --stats-json '" + stats + "'");
        ASSERT_EQ(p.status, 0) << p.err;
        std::string j = slurp(stats);
        size_t at = j.find("\"faults.total\"");
        ASSERT_NE(at, std::string::npos);
        EXPECT_EQ(std::strtol(j.c_str() + j.find(':', at) + 1, nullptr, 10), faults);
        EXPECT_GT(summary_number(r.out, "dma       "), 1000) << r.out;
    }
}

} // namespace
