// trace_cli_test.cpp — `iommusim trace convert|stats|gen` run as a subprocess (the built
// program IOMMUSIM_BIN): exit statuses (0 ok, 2 bad input, 1 output failure), the one-line
// messages, --help, lossless conversion through the program (buffer events too),
// stdin/stdout, `gen buffers` and the buffer part of `stats`, `gen irq` (every bad option,
// determinism, the interrupt stream through convert and stats), and that the committed
// generated samples regenerate byte for byte.
#include <gtest/gtest.h>

#include "test_util.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace {

std::string tmp_path(const std::string &name) { return test_util::tmp_path("cli", name); }

using test_util::slurp;

using test_util::spit;

bool exists(const std::string &path)
{
    return ::access(path.c_str(), F_OK) == 0;
}

struct Result {
    int rc;
    std::string out, err;
};

// Runs `iommusim trace ARGS` through the shell (ARGS is shell text); stdin from `in`.
Result trace(const std::string &args, const std::string &in = "/dev/null")
{
    std::string o = tmp_path("stdout"), e = tmp_path("stderr");
    std::string cmd = std::string(IOMMUSIM_BIN) + " trace " + args + " <" + in + " >" + o +
                      " 2>" + e;
    int st = std::system(cmd.c_str());
    Result r{WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(o), slurp(e)};
    std::remove(o.c_str());
    std::remove(e.c_str());
    return r;
}

// The program exists only once the whole of sim/ links; skip (not fail) before that.
#define NEED_BIN()                                                                          \
    do {                                                                                    \
        if (::access(IOMMUSIM_BIN, X_OK) != 0)                                              \
            GTEST_SKIP() << IOMMUSIM_BIN << " not built";                                   \
    } while (0)

TEST(TraceCli, Help)
{
    NEED_BIN();
    for (const char *args : {"--help", "help", "convert --help", "stats --help", "gen --help",
                             "gen window --help", "gen window -h", "gen buffers --help",
                             "gen buffers -h", "gen irq --help", "gen irq -h"}) {
        Result r = trace(args);
        EXPECT_EQ(r.rc, 0) << args;
        EXPECT_NE(r.out.find("usage: iommusim trace"), std::string::npos) << args;
        EXPECT_EQ(r.err, "") << args;
    }
    Result r = trace("gen window --help");
    EXPECT_NE(r.out.find("--window BYTES"), std::string::npos) << r.out;
    r = trace("gen buffers --help");
    for (const char *opt : {"--count N", "--size BYTES", "--sg K", "--seed S", "--ring R",
                            "--devices D", "--dir rx|tx", "--headroom B", "-o FILE",
                            "dma_unmap handle=H"})
        EXPECT_NE(r.out.find(opt), std::string::npos) << opt << " in:\n" << r.out;
    r = trace("gen --help");
    EXPECT_NE(r.out.find("  buffers  "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  irq      "), std::string::npos) << r.out;
    r = trace("gen irq --help");
    std::string flat; // the help with its line wrapping undone
    for (char ch : r.out)
        if (!(std::isspace((unsigned char)ch) && !flat.empty() && flat.back() == ' '))
            flat += std::isspace((unsigned char)ch) ? ' ' : ch;
    for (const char *opt : {"--pattern nvme|nic", "--count N", "--cpus C", "--queues Q",
                            "--migrate-every M", "--vm", "--halted P", "--preempted P",
                            "--preempt-us U", "--coalesce K", "--coalesce-us T", "--rate R",
                            "--napi-us W", "--tx-batch B", "--seed S", "-o FILE",
                            "(default 0.3)", "(default 0.1)", "(default 1000)", "(default 1: no coalescing)",
                            "(default 100 when K > 1)", "(default: nvme 200000, nic 1000000)",
                            "(default 20)", "(default 32)", "(default: as many as CPUs)"})
        EXPECT_NE(flat.find(opt), std::string::npos) << opt << " in:\n" << r.out;
    r = trace("--help");
    EXPECT_NE(r.out.find("gen window|buffers|irq"), std::string::npos) << r.out;
}

TEST(TraceCli, UsageErrors)
{
    NEED_BIN();
    struct Case {
        const char *args;
        const char *err; // the whole of stderr, or a prefix when ending in "..."
    } cases[] = {
        {"frob", "iommusim trace: unknown command 'frob' (convert, stats, gen, import)\n"},
        {"gen", "usage: iommusim trace gen GENERATOR [options] -o FILE\n..."},
        {"gen frob", "iommusim trace gen: unknown generator 'frob' (window, buffers, irq)\n"},
        {"convert a.trace", "iommusim trace convert: missing OUT (try 'iommusim trace convert --help')\n"},
        {"convert a.trace b.bin c.bin", "iommusim trace convert: too many positional options have been specified on the command line (try 'iommusim trace convert --help')\n"},
        {"stats", "iommusim trace stats: missing FILE (try 'iommusim trace stats --help')\n"},
        {"stats --frob x.trace", "iommusim trace stats: unrecognised option '--frob' (try 'iommusim trace stats --help')\n"},
    };
    for (const Case &c : cases) {
        Result r = trace(c.args);
        EXPECT_EQ(r.rc, 2) << c.args;
        std::string want = c.err;
        if (want.size() > 3 && want.compare(want.size() - 3, 3, "...") == 0)
            EXPECT_EQ(r.err.rfind(want.substr(0, want.size() - 3), 0), 0u) << c.args << ": " << r.err;
        else
            EXPECT_EQ(r.err, want) << c.args;
    }
    Result r = trace("");
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err.rfind("usage: iommusim trace", 0), 0u);
}

TEST(TraceCli, GenWindowBadOptions)
{
    NEED_BIN();
    const std::string out = tmp_path("bad.trace");
    const std::string base = "gen window --window 256K --size 64 --count 10 -o " + out;
    struct Case {
        std::string args, err;
    } cases[] = {
        {"gen window --window 256K --size 96 --count 1 -o " + out, "--size: '96' is not a power of two"},
        {"gen window --window 256K --size 0 --count 1 -o " + out, "--size: '0' is not a power of two"},
        {"gen window --window 256K --size 512K --count 1 -o " + out, "--size: '512K' is larger than the window (256K)"},
        {"gen window --window 256K --size 4x --count 1 -o " + out, "--size: bad byte count '4x' (expected e.g. 64, 4K)"},
        {"gen window --window 1x --size 64 --count 1 -o " + out, "--window: bad byte count '1x' (expected e.g. 65536, 0x10000, 64K)"},
        {"gen window --window 0 --size 64 --count 1 -o " + out, "--window: '0' out of range (1 byte .. 1T)"},
        {"gen window --window 2048G --size 64 --count 1 -o " + out, "--window: '2048G' out of range (1 byte .. 1T)"},
        {"gen window --window 256K --size 64 --count 0 -o " + out, "--count: must be >= 1"},
        {"gen window --window 256K --size 64 --count -5 -o " + out, "--count: bad number '-5'"},
        {"gen window --window 256K --size 64 --count 1K -o " + out, "--count: bad number '1K'"},
        {base + " --page 8K", "--page: '8K' is not 4K, 2M or 1G"},
        {base + " --op rw", "--op: 'rw' is not read or write"},
        {base + " --seed x", "--seed: bad number 'x'"},
        {"gen window --window 256K --size 64 --count 1 -o out.txt", "--output: 'out.txt': unknown trace file extension (expected .trace, .trace.gz or .bin)"},
    };
    for (const Case &c : cases) {
        Result r = trace(c.args);
        EXPECT_EQ(r.rc, 2) << c.args;
        EXPECT_EQ(r.err, "iommusim trace gen window: " + c.err + "\n") << c.args;
        EXPECT_FALSE(exists(out)) << c.args;
    }
    Result r = trace("gen window --size 64 --count 1 -o " + out);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, "iommusim trace gen window: the option '--window' is required but missing "
                     "(try 'iommusim trace gen window --help')\n");
    r = trace(base + " stray");
    EXPECT_EQ(r.rc, 2);
    r = trace(base + " --window 1M");
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("'--window' cannot be specified more than once"), std::string::npos) << r.err;
    // a file that cannot be created is an output failure: exit 1
    r = trace("gen window --window 256K --size 64 --count 1 -o /nonexistent/dir/x.trace");
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, "/nonexistent/dir/x.trace: cannot create: No such file or directory\n");
}

TEST(TraceCli, GenBuffersBadOptions)
{
    NEED_BIN();
    const std::string out = tmp_path("badbuf.trace");
    const std::string base = "gen buffers --count 10 --size 1500 -o " + out;
    struct Case {
        std::string args, err;
    } cases[] = {
        {"gen buffers --count 0 --size 1500 -o " + out, "--count: '0' out of range (1 .. 18446744073709551615)"},
        {"gen buffers --count 1K --size 1500 -o " + out, "--count: bad number '1K'"},
        {"gen buffers --count x --size 1500 -o " + out, "--count: bad number 'x'"},
        {"gen buffers --count 10 --size 0 -o " + out, "--size: '0' out of range (1 .. 4294967295 bytes)"},
        {"gen buffers --count 10 --size 4G -o " + out, "--size: '4G' out of range (1 .. 4294967295 bytes)"},
        {"gen buffers --count 10 --size 1.5K -o " + out, "--size: bad byte count '1.5K' (expected e.g. 1500, 2K)"},
        {base + " --sg 0", "--sg: '0' out of range (1 .. 1024)"},
        {base + " --sg 1025", "--sg: '1025' out of range (1 .. 1024)"},
        {base + " --sg 2K", "--sg: bad number '2K'"},
        {"gen buffers --count 10 --size 3 --sg 4 -o " + out, "--sg: '4' segments for 3 bytes (each segment needs at least one byte)"},
        {base + " --ring 0", "--ring: '0' out of range (1 .. 65536)"},
        {base + " --ring 65537", "--ring: '65537' out of range (1 .. 65536)"},
        {base + " --devices 0", "--devices: '0' out of range (1 .. 29)"},
        {base + " --devices 30", "--devices: '30' out of range (1 .. 29)"},
        {base + " --dir rw", "--dir: 'rw' is not rx or tx"},
        {base + " --headroom 4K", "--headroom: '4K' out of range (0 .. 4095 bytes)"},
        {base + " --headroom -1", "--headroom: bad byte count '-1'"},
        {base + " --seed 1x", "--seed: bad number '1x'"},
        {"gen buffers --count 10 --size 1500 -o out.txt", "--output: 'out.txt': unknown trace file extension (expected .trace, .trace.gz or .bin)"},
    };
    for (const Case &c : cases) {
        Result r = trace(c.args);
        EXPECT_EQ(r.rc, 2) << c.args;
        EXPECT_EQ(r.err, "iommusim trace gen buffers: " + c.err + "\n") << c.args;
        EXPECT_FALSE(exists(out)) << c.args;
    }
    // a limit only the combination breaks: the generator's own message
    Result r = trace("gen buffers --count 1 --size 64K --sg 32 --ring 65536 --devices 1 -o " + out);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, "iommusim trace gen buffers: ring * devices * sg = 2097152 segments mapped at once, more than 1048576\n");
    EXPECT_FALSE(exists(out));
    r = trace("gen buffers --size 1500 -o " + out);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, "iommusim trace gen buffers: the option '--count' is required but missing "
                     "(try 'iommusim trace gen buffers --help')\n");
    r = trace("gen buffers --count 10 -o " + out);
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("'--size' is required"), std::string::npos) << r.err;
    r = trace(base + " --frob 1");
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("unrecognised option '--frob'"), std::string::npos) << r.err;
    r = trace("gen buffers --count 10 --size 1500 -o /nonexistent/dir/x.bin");
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, "/nonexistent/dir/x.bin: cannot create: No such file or directory\n");
}

// gen buffers through the program: the documented sequence and counts (checked by `stats`),
// K/M sizes, determinism, and lossless text -> binary -> text of buffer events.
TEST(TraceCli, GenBuffers)
{
    NEED_BIN();
    std::string a = tmp_path("buf-a.trace"), b = tmp_path("buf-b.trace"), c = tmp_path("buf-c.trace");
    std::string bin = tmp_path("buf.bin"), back = tmp_path("buf-back.trace");
    const std::string opts = "--count 1000 --size 9K --sg 3 --ring 32 --devices 3 --dir tx --headroom 128";
    ASSERT_EQ(trace("gen buffers " + opts + " --seed 4 -o " + a).rc, 0);
    ASSERT_EQ(trace("gen buffers " + opts + " --seed 4 -o " + b).rc, 0);
    ASSERT_EQ(trace("gen buffers " + opts + " --seed 5 -o " + c).rc, 0);
    EXPECT_EQ(slurp(a), slurp(b));
    EXPECT_NE(slurp(a), slurp(c));
    std::string text = slurp(a);
    EXPECT_EQ(text.rfind("# iommusim trace v3\n"
                         "attach sid=00:03.0 did=1 mode=sl\n"
                         "attach sid=00:04.0 did=2 mode=sl\n"
                         "attach sid=00:05.0 did=3 mode=sl\n"
                         "dma_map sid=00:03.0 handle=1 pa=0x",
                         0),
              0u)
        << text.substr(0, 300);
    // 9K = 9216 bytes in 3 segments of 3072, each 128 bytes into its own pages, read by the device
    EXPECT_NE(text.find(" len=3072 perm=r more\n"), std::string::npos);
    EXPECT_NE(text.find("dma sid=00:03.0 handle=1 off=0 len=9216 op=r\ndma_unmap handle=1\n"
                        "dma_map sid=00:03.0 handle=97 pa=0x"),
              std::string::npos);
    // D + K (R D + N) + 2 N = 3 + 3 (96 + 1000) + 2000 events
    Result r = trace("stats " + a);
    ASSERT_EQ(r.rc, 0) << r.err;
    const char *want[] = {
        "(text, v3)\n",
        "events      5291\n",
        "  attach               3\n",
        "  dma               1000\n",
        "  dma_map           3288\n",
        "  dma_unmap         1000\n",
        "dma         1000 requests, 9216000 bytes (8.8 MiB)\n",
        "footprint   0 distinct 4 KB pages (0 B), per device and PASID, of dmas by iova\n",
        "buffers     1096 mapped in 3288 dma_map segments, 10100736 bytes (9.6 MiB); 1000 unmapped, 9216000 bytes\n",
        "  live      peak 96 handles, 884736 bytes (864.0 KiB); at the end 96 handles, 884736 bytes\n",
        "  dmas      1000 by handle, 9216000 bytes (8.8 MiB)\n",
    };
    for (const char *w : want)
        EXPECT_NE(r.out.find(w), std::string::npos) << "missing: " << w << "in:\n" << r.out;
    EXPECT_EQ(r.out.find("problem"), std::string::npos) << r.out;

    // text -> binary -> text is byte-identical
    ASSERT_EQ(trace("convert " + a + " " + bin).rc, 0);
    ASSERT_EQ(trace("convert " + bin + " " + back).rc, 0);
    EXPECT_EQ(slurp(back), text);
    EXPECT_LT(slurp(bin).size(), text.size() / 3);
    // and generating binary directly gives the same bytes as converting
    ASSERT_EQ(trace("gen buffers " + opts + " --seed 4 -o " + b + ".bin").rc, 0);
    EXPECT_EQ(slurp(b + ".bin"), slurp(bin));
    r = trace("stats " + bin);
    EXPECT_NE(r.out.find("(binary, v3)\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  dma_map           3288\n"), std::string::npos) << r.out;
    // defaults: 1500 B rx buffers, ring 256, one device, 64 B headroom
    r = trace("gen buffers --count 2 --size 1500 -o -");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1 + 1 + 258 + 4);
    EXPECT_NE(r.out.find("dma_map sid=00:03.0 handle=256 pa=0x"), std::string::npos);
    EXPECT_NE(r.out.find("040 len=1500 perm=w\n"), std::string::npos);
    EXPECT_NE(r.out.find("dma sid=00:03.0 handle=2 off=0 len=1500 op=w\n"), std::string::npos);
    EXPECT_EQ(r.out.find("more"), std::string::npos);
    for (const auto &p : {a, b, c, bin, back, b + ".bin"})
        std::remove(p.c_str());
}

TEST(TraceCli, GenIsDeterministicAndConvertIsLossless)
{
    NEED_BIN();
    std::string a = tmp_path("a.trace"), b = tmp_path("b.trace"), c = tmp_path("c.trace");
    std::string bin = tmp_path("a.bin"), back = tmp_path("back.trace"), gz = tmp_path("a.trace.gz");
    ASSERT_EQ(trace("gen window --window 1M --size 256 --count 3000 --page 2M --op write --seed 9 -o " + a).rc, 0);
    ASSERT_EQ(trace("gen window --window 1M --size 256 --count 3000 --page 2M --op write --seed 9 -o " + b).rc, 0);
    ASSERT_EQ(trace("gen window --window 1M --size 256 --count 3000 --page 2M --op write --seed 10 -o " + c).rc, 0);
    EXPECT_EQ(slurp(a), slurp(b));
    EXPECT_NE(slurp(a), slurp(c));
    EXPECT_EQ(slurp(a).rfind("# iommusim trace v3\nattach sid=01:00.0 did=1 mode=sl\n"
                             "map did=1 iova=0x100000000 pa=0x100000000 len=0x200000 perm=rw page=2M\n",
                             0),
              0u);

    Result r = trace("convert " + a + " " + bin);
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out + r.err, "");
    EXPECT_LT(slurp(bin).size(), slurp(a).size() / 3);
    EXPECT_EQ(trace("convert " + bin + " " + gz).rc, 0);
    EXPECT_EQ(trace("convert " + gz + " " + back).rc, 0);
    EXPECT_EQ(slurp(back), slurp(a));
    // stdin and stdout are text
    r = trace("convert " + bin + " -");
    EXPECT_EQ(r.rc, 0);
    EXPECT_EQ(r.out, slurp(a));
    r = trace("convert - " + bin, a);
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(trace("convert " + bin + " " + back).rc, 0);
    EXPECT_EQ(slurp(back), slurp(a));
    // gen straight to stdout
    r = trace("gen window --window 1M --size 256 --count 3000 --page 2M --op write --seed 9 -o -");
    EXPECT_EQ(r.rc, 0);
    EXPECT_EQ(r.out, slurp(a));
    for (const auto &p : {a, b, c, bin, back, gz})
        std::remove(p.c_str());
}

TEST(TraceCli, ConvertBadInput)
{
    NEED_BIN();
    std::string in = tmp_path("in.trace"), out = tmp_path("out.bin");
    spit(in, "# iommusim trace v1\nattach sid=00:02.0 did=1 mode=sl\ndma sid=00:02.0 iova=0x10 len=64 op=r\n"
             "dma sid=00:02.0 iova=0x10 len=64 op=q\n");
    Result r = trace("convert " + in + " " + out);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, in + ":4: dma: bad op 'q' (expected r or w)\n");
    EXPECT_FALSE(exists(out)) << "a partial output is removed";

    r = trace("convert /nonexistent/x.trace " + out);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, "/nonexistent/x.trace: cannot open: No such file or directory\n");
    r = trace("convert " + in + " out.json");
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, "iommusim trace convert: out.json: unknown trace file extension (expected .trace, .trace.gz or .bin)\n");
    r = trace("convert in.txt " + out);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, "in.txt: unknown trace file extension (expected .trace, .trace.gz or .bin)\n");
    r = trace("convert " + in + " " + in);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, "iommusim trace convert: input and output are the same file '" + in + "'\n");

    // a truncated binary trace
    std::string bin = tmp_path("t.bin"), cut = tmp_path("cut.bin"), txt = tmp_path("t.trace");
    ASSERT_EQ(trace("gen window --window 64K --size 64 --count 100 -o " + bin).rc, 0);
    std::string data = slurp(bin);
    spit(cut, data.substr(0, data.size() - 5));
    r = trace("convert " + cut + " " + txt);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err.rfind(cut + ": offset ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(": truncated event\n"), std::string::npos) << r.err;
    EXPECT_FALSE(exists(txt));
    // a text trace named .bin
    spit(cut, slurp(in));
    r = trace("stats " + cut);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, cut + ": not an iommusim binary trace (bad magic; a text trace? name it .trace)\n");
    // output to a directory that does not exist: exit 1, after a valid input
    r = trace("convert " + bin + " /nonexistent/dir/x.trace");
    EXPECT_EQ(r.rc, 1);
    for (const auto &p : {in, out, bin, cut, txt})
        std::remove(p.c_str());
}

TEST(TraceCli, Stats)
{
    NEED_BIN();
    std::string t = tmp_path("s.trace");
    spit(t, "# iommusim trace v1\n"
            "attach sid=00:02.0 did=1 mode=sl t=100\n"
            "attach sid=05:00.0 did=3 mode=sl alias=00:1e.0 t=150\n"
            "map did=1 iova=0x1000 pa=0x5000 len=0x2000 perm=rw page=4K t=200\n"
            "dma sid=00:02.0 iova=0x1f00 len=512 op=r t=300\n"   // crosses into page 2
            "dma sid=00:02.0 iova=0x1000 len=64 op=w t=400\n"
            "unmap did=1 iova=0x1000 len=0x2000 t=500\n"
            "inv type=iotlb-page did=1 addr=0x0 am=2 t=600\n"
            "inv type=wait t=700\n"
            "msi sid=00:02.0 addr=0xfee00000 data=0x21 t=1100\n");
    Result r = trace("stats " + t);
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.err, "");
    const char *want[] = {
        "events      9\n",
        "  attach               2\n",
        "  dma                  2\n",
        "  inv                  2\n",
        "dma         2 requests, 576 bytes (576 B)\n",
        "  reads                1             512 bytes (512 B)\n",
        "  writes               1              64 bytes (64 B)\n",
        "footprint   2 distinct 4 KB pages (8.0 KiB), per device and PASID\n",
        "time        100 .. 1100 ns, span 1.00 us (9 of 9 events timestamped)\n",
        "  00:02.0       1 sl     -                 2          1          1            576         2\n",
        "  05:00.0       3 sl     00:1e.0           0          0          0              0         0\n",
        "  1      00:02.0                   1           8192        1           8192        8.0 KiB\n",
        "  iotlb-page             1\n",
        "  wait                   1\n",
    };
    for (const char *w : want)
        EXPECT_NE(r.out.find(w), std::string::npos) << "missing: " << w << "in:\n" << r.out;

    spit(t, "attach sid=00:02.0 did=1 mode=sl\n\nfoo bar\n");
    r = trace("stats " + t);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, t + ":3: unknown event 'foo'\n");
    r = trace("stats /nonexistent.bin");
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, "/nonexistent.bin: cannot open: No such file or directory\n");
    std::remove(t.c_str());
}

// The buffer part of stats: handles live, bytes mapped, and a line per kind of event that
// does not add up (the format checks events one by one; stats and the replay see the state).
TEST(TraceCli, StatsBufferEvents)
{
    NEED_BIN();
    std::string t = tmp_path("sb.trace");
    spit(t, "# iommusim trace v2\n"
            "attach sid=00:03.0 did=1 mode=sl\n"
            "dma_map sid=00:03.0 handle=1 pa=0x1040 len=1000 perm=w more\n"
            "dma_map sid=00:03.0 handle=1 pa=0x5000 len=500 perm=w\n"
            "dma_map sid=00:03.0 handle=2 pa=0x9040 len=100 perm=r cpu=3 t=10\n"
            "dma sid=00:03.0 handle=1 off=0 len=1500 op=w\n"
            "dma sid=00:03.0 handle=2 off=50 len=50 op=r\n"
            "dma sid=00:03.0 iova=0x1000 len=64 op=r\n"
            "dma_unmap handle=1 cpu=3 t=20\n"
            // the inconsistencies, one of each
            "dma sid=00:03.0 handle=1 len=1 op=w\n"            // unmapped
            "dma sid=00:04.0 handle=2 len=1 op=r\n"            // another device's
            "dma sid=00:03.0 handle=2 off=60 len=41 op=r\n"    // beyond the end
            "dma_unmap handle=9\n"                             // never mapped
            "dma_map sid=00:03.0 handle=2 pa=0x9040 len=100 perm=r\n" // mapped twice
            "dma_map sid=00:03.0 handle=5 pa=0x1 len=1 perm=r more\n"
            "dma sid=00:03.0 handle=5 len=1 op=r\n"            // list not complete
            "dma_map sid=00:04.0 handle=5 pa=0x2 len=1 perm=r more\n" // another device's list
            "dma_map sid=00:03.0 handle=6 pa=0x3 len=1 perm=r more\n"
            "dma_unmap handle=6\n"                             // list not complete
            "dma_map sid=00:03.0 handle=7 pa=0x3 len=1 perm=r more\n"); // never completed (5 too)
    Result r = trace("stats " + t);
    ASSERT_EQ(r.rc, 0) << r.err;
    const char *want[] = {
        "trace       " , // the path, then
        " (text, v2)\n",
        "events      19\n",
        "  dma                  7\n",
        "  dma_map              8\n",
        "  dma_unmap            3\n",
        "footprint   1 distinct 4 KB pages (4.0 KiB), per device and PASID, of dmas by iova\n",
        "buffers     6 mapped in 8 dma_map segments, 1704 bytes (1.7 KiB); 3 unmapped, 1501 bytes\n",
        "  live      peak 3 handles, 1600 bytes (1.6 KiB); at the end 3 handles, 103 bytes\n",
        "  dmas      6 by handle, 1594 bytes (1.6 KiB)\n",
        "  problem   1 dma by a handle that is not mapped\n",
        "  problem   1 dma by a handle whose segment list is not complete (last had 'more')\n",
        "  problem   1 dma by a handle mapped for another device\n",
        "  problem   1 dma beyond the end of its buffer (off + len > bytes mapped)\n",
        "  problem   1 dma_unmap of a handle that is not mapped\n",
        "  problem   1 dma_unmap of a handle whose segment list is not complete\n",
        "  problem   1 dma_map of a handle that is already mapped (no dma_unmap before)\n",
        "  problem   1 dma_map segment of a list for another device\n",
        "  problem   2 segment list never completed (the last dma_map had 'more')\n",
    };
    for (const char *w : want)
        EXPECT_NE(r.out.find(w), std::string::npos) << "missing: " << w << "in:\n" << r.out;

    // v1 files: read, shown as v1; a buffer event in one is an error naming the line
    spit(t, "# iommusim trace v1\nattach sid=00:03.0 did=1 mode=sl\n");
    r = trace("stats " + t);
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find(" (text, v1)\n"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("buffers"), std::string::npos) << r.out;
    spit(t, "# iommusim trace v1\nattach sid=00:03.0 did=1 mode=sl\ndma_unmap handle=1\n");
    r = trace("stats " + t);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, t + ":3: dma_unmap is new in trace version 2, but the header says v1\n");
    spit(t, "# iommusim trace v4\nattach sid=00:03.0 did=1 mode=sl\n");
    r = trace("stats " + t);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, t + ":1: unsupported trace version 'v4' (this build reads v1 to v3)\n");
    spit(t, "# iommusim trace v2\nmsi sid=00:03.0 addr=0xfee00010 data=0 ios=3\n");
    r = trace("stats " + t);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, t + ":2: msi with ios= is new in trace version 3, but the header says v2\n");
    // bad buffer lines through the program: one line naming file and line
    spit(t, "dma_map sid=00:03.0 handle=1 pa=0x0 len=1 perm=r\ndma sid=00:03.0 iova=0x0 handle=1 len=1 op=r\n");
    r = trace("convert " + t + " " + t + ".bin");
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, t + ":2: dma: iova and handle exclude each other (address by one or the other)\n");
    EXPECT_FALSE(exists(t + ".bin"));
    std::remove(t.c_str());
}

// gen irq: every bad option is one line naming it, exit 2, and no file.
TEST(TraceCli, GenIrqBadOptions)
{
    NEED_BIN();
    const std::string out = tmp_path("badirq.trace");
    const std::string nvme = "gen irq --pattern nvme --count 10 -o " + out;
    const std::string nic = "gen irq --pattern nic --count 10 -o " + out;
    struct Case {
        std::string args, err;
    } cases[] = {
        {"gen irq --pattern sata --count 10 -o " + out, "--pattern: 'sata' is not nvme or nic"},
        {"gen irq --pattern nvme --count 0 -o " + out, "--count: '0' out of range (1 .. 18446744073709551615)"},
        {"gen irq --pattern nvme --count 1K -o " + out, "--count: bad number '1K'"},
        {"gen irq --pattern nvme --count x -o " + out, "--count: bad number 'x'"},
        {nvme + " --cpus 0", "--cpus: '0' out of range (1 .. 255)"},
        {nvme + " --cpus 256", "--cpus: '256' out of range (1 .. 255)"},
        {nvme + " --queues 0", "--queues: '0' out of range (1 .. 1024)"},
        {nvme + " --queues 1025", "--queues: '1025' out of range (1 .. 1024)"},
        {nvme + " --migrate-every -1", "--migrate-every: bad number '-1'"},
        {nvme + " --halted 0.2", "--halted needs --vm"},
        {nvme + " --preempted 0.2", "--preempted needs --vm"},
        {nvme + " --preempt-us 10", "--preempt-us needs --vm"},
        {nvme + " --vm --halted 1.5", "--halted: '1.5' out of range (0 .. 1)"},
        {nvme + " --vm --halted -0.1", "--halted: '-0.1' out of range (0 .. 1)"},
        {nvme + " --vm --halted x", "--halted: bad number 'x'"},
        {nvme + " --vm --halted nan", "--halted: bad number 'nan'"},
        {nvme + " --vm --preempted 2", "--preempted: '2' out of range (0 .. 1)"},
        {nvme + " --vm --halted 0.7 --preempted 0.4", "--halted + --preempted must be <= 1 (0.7 + 0.4)"},
        {nvme + " --vm --halted 0.95", "--halted + --preempted must be <= 1 (0.95 + 0.1)"},
        {nvme + " --vm --preempt-us 0", "--preempt-us: '0' out of range (1 .. 1000000000)"},
        {nvme + " --coalesce 0", "--coalesce: '0' out of range (1 .. 256)"},
        {nvme + " --coalesce 257", "--coalesce: '257' out of range (1 .. 256)"},
        {nvme + " --coalesce-us 25501", "--coalesce-us: '25501' out of range (0 .. 25500)"},
        {nvme + " --napi-us 10", "--napi-us: applies to --pattern nic only"},
        {nvme + " --tx-batch 8", "--tx-batch: applies to --pattern nic only"},
        {nic + " --coalesce 4", "--coalesce: applies to --pattern nvme only"},
        {nic + " --coalesce-us 50", "--coalesce-us: applies to --pattern nvme only"},
        {nic + " --napi-us 1000001", "--napi-us: '1000001' out of range (0 .. 1000000)"},
        {nic + " --tx-batch 0", "--tx-batch: '0' out of range (1 .. 65536)"},
        {nic + " --tx-batch 65537", "--tx-batch: '65537' out of range (1 .. 65536)"},
        {nvme + " --rate 0", "--rate: '0' out of range (1 .. 1e9 per second)"},
        {nvme + " --rate 2e9", "--rate: '2e9' out of range (1 .. 1e9 per second)"},
        {nvme + " --rate fast", "--rate: bad number 'fast'"},
        {nvme + " --rate inf", "--rate: bad number 'inf'"},
        {nvme + " --seed 1x", "--seed: bad number '1x'"},
        {"gen irq --pattern nvme --count 10 -o out.txt", "--output: 'out.txt': unknown trace file extension (expected .trace, .trace.gz or .bin)"},
    };
    for (const Case &c : cases) {
        Result r = trace(c.args);
        EXPECT_EQ(r.rc, 2) << c.args;
        EXPECT_EQ(r.err, "iommusim trace gen irq: " + c.err + "\n") << c.args;
        EXPECT_FALSE(exists(out)) << c.args;
    }
    Result r = trace("gen irq --count 10 -o " + out);
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, "iommusim trace gen irq: the option '--pattern' is required but missing "
                     "(try 'iommusim trace gen irq --help')\n");
    r = trace("gen irq --pattern nic -o " + out);
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("'--count' is required"), std::string::npos) << r.err;
    r = trace(nvme + " --vm=1");
    EXPECT_EQ(r.rc, 2);
    r = trace("gen irq --pattern nvme --count 10 -o /nonexistent/dir/x.trace");
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, "/nonexistent/dir/x.trace: cannot create: No such file or directory\n");
    EXPECT_FALSE(exists(out));
}

// gen irq through the program: the count, the set-up, time order, determinism byte for
// byte, and text -> binary -> text of the v3 events.
TEST(TraceCli, GenIrq)
{
    NEED_BIN();
    std::string a = tmp_path("irq-a.trace"), b = tmp_path("irq-b.trace"), c = tmp_path("irq-c.trace");
    std::string bin = tmp_path("irq.bin"), back = tmp_path("irq-back.trace");
    const std::string opts = "--pattern nic --count 3000 --queues 3 --cpus 2 --vm --migrate-every 10 "
                             "--halted 0.2 --preempted 0.2 --preempt-us 30 --rate 300000 --napi-us 10 --tx-batch 8";
    ASSERT_EQ(trace("gen irq " + opts + " --seed 3 -o " + a).rc, 0);
    ASSERT_EQ(trace("gen irq " + opts + " --seed 3 -o " + b).rc, 0);
    ASSERT_EQ(trace("gen irq " + opts + " --seed 4 -o " + c).rc, 0);
    std::string text = slurp(a);
    EXPECT_EQ(text, slurp(b));
    EXPECT_NE(text, slurp(c));
    EXPECT_EQ(text.rfind("# iommusim trace v3\nirte index=0 lo=0x300001 hi=0x40018 t=0\n"
                         "inv type=iec-index index=0 am=0 t=0\n"
                         "irte index=1 lo=0x310001 hi=0x40018 t=0\n",
                         0),
              0u)
        << text.substr(0, 300);
    EXPECT_NE(text.find("irte index=5 lo=0x350001 hi=0x40018 t=0\ninv type=iec-index index=5 am=0 t=0\n"
                        "inv type=wait t=0\nsched thread=0 cpu=0 state=run t=0\n"
                        "sched thread=1 cpu=1 state=run t=0\nsched thread=2 cpu=0 state=run t=0\nmsi "),
              std::string::npos);
    // count the msi lines, check the order of t, see every kind of event
    std::istringstream in(text);
    std::string l;
    uint64_t msis = 0, last_t = 0, with_ios = 0;
    std::map<std::string, unsigned> states;
    while (std::getline(in, l)) {
        if (l[0] == '#')
            continue;
        size_t tp = l.rfind(" t=");
        ASSERT_NE(tp, std::string::npos) << l;
        uint64_t t = std::stoull(l.substr(tp + 3));
        ASSERT_GE(t, last_t) << l;
        last_t = t;
        if (l.rfind("msi sid=00:03.0 addr=0xfee", 0) == 0) {
            msis++;
            EXPECT_NE(l.find(" data=0x0 thread="), std::string::npos) << l;
            with_ios += l.find(" ios=") != std::string::npos;
        }
        size_t sp = l.find(" state=");
        if (l.rfind("sched ", 0) == 0)
            states[l.substr(sp + 7, l.find(' ', sp + 1) - sp - 7)]++;
    }
    EXPECT_EQ(msis, 3000u);
    EXPECT_GT(with_ios, 1000u);
    EXPECT_GT(states["stop"], 100u);
    EXPECT_GT(states["preempt"], 100u);
    EXPECT_GT(states["run"], 100u);

    // text -> binary -> text is byte-identical; binary directly gives the same bytes
    ASSERT_EQ(trace("convert " + a + " " + bin).rc, 0);
    ASSERT_EQ(trace("convert " + bin + " " + back).rc, 0);
    EXPECT_EQ(slurp(back), text);
    ASSERT_EQ(trace("gen irq " + opts + " --seed 3 -o " + b + ".bin").rc, 0);
    EXPECT_EQ(slurp(b + ".bin"), slurp(bin));
    Result r = trace("stats " + bin);
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("(binary, v3)\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  msi               3000\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  irte                 6\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("interrupts  3000 msi completing "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("); 3000 name their consumer, 3 distinct\n"), std::string::npos) << r.out;
    // defaults: nvme, 4 CPUs and queues, no coalescing (no ios=), to standard output
    r = trace("gen irq --pattern nvme --count 5 -o -");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out.find(" ios="), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("sched thread=3 cpu=3 state=run t=0\nmsi sid=00:02.0 addr=0xfee"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("irte index=4 "), std::string::npos) << r.out;
    for (const auto &p : {a, b, c, bin, back, b + ".bin"})
        std::remove(p.c_str());
}

TEST(TraceCli, SamplesRegenerateByteForByte)
{
    NEED_BIN();
    const std::string dir = std::string(IOMMUSIM_SOURCE_DIR) + "/traces/samples/";
    struct Sample {
        const char *file, *args;
    } samples[] = {
        {"window-256k-64b.trace", "window --window 256K --size 64 --count 20000 --page 4K --op read --seed 1"},
        {"window-64m-2m.bin", "window --window 64M --size 512 --count 20000 --page 2M --op write --seed 1"},
        {"buffers-rx-1500.trace", "buffers --count 2000 --size 1500 --devices 2 --seed 1"},
        {"irq-nic-vm.trace", "irq --pattern nic --count 2000 --queues 4 --vm --migrate-every 100 --seed 1"},
    };
    for (const Sample &s : samples) {
        std::string out = tmp_path(s.file);
        Result r = trace(std::string("gen ") + s.args + " -o " + out);
        ASSERT_EQ(r.rc, 0) << r.err;
        EXPECT_EQ(slurp(out), slurp(dir + s.file)) << s.file << " differs from its generator";
        std::remove(out.c_str());
    }
    Result r = trace("stats " + dir + "default.trace");
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("  05:00.0       3 sl     00:1e.0"), std::string::npos) << r.out;
}

} // namespace
