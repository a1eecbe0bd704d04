// trace_cli_test.cpp — `iommusim trace convert|stats|gen` run as a subprocess (the built
// program IOMMUSIM_BIN): exit statuses (0 ok, 2 bad input, 1 output failure), the one-line
// messages, --help, lossless conversion through the program, stdin/stdout, and that the
// committed window samples regenerate byte for byte.
#include <gtest/gtest.h>

#include "test_util.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
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
                             "gen window --help", "gen window -h"}) {
        Result r = trace(args);
        EXPECT_EQ(r.rc, 0) << args;
        EXPECT_NE(r.out.find("usage: iommusim trace"), std::string::npos) << args;
        EXPECT_EQ(r.err, "") << args;
    }
    Result r = trace("gen window --help");
    EXPECT_NE(r.out.find("--window BYTES"), std::string::npos) << r.out;
}

TEST(TraceCli, UsageErrors)
{
    NEED_BIN();
    struct Case {
        const char *args;
        const char *err; // the whole of stderr, or a prefix when ending in "..."
    } cases[] = {
        {"frob", "iommusim trace: unknown command 'frob' (convert, stats, gen)\n"},
        {"gen", "usage: iommusim trace gen GENERATOR [options] -o FILE\n..."},
        {"gen frob", "iommusim trace gen: unknown generator 'frob' (window)\n"},
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
    EXPECT_EQ(slurp(a).rfind("# iommusim trace v1\nattach sid=01:00.0 did=1 mode=sl\n"
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

TEST(TraceCli, SamplesRegenerateByteForByte)
{
    NEED_BIN();
    const std::string dir = std::string(IOMMUSIM_SOURCE_DIR) + "/traces/samples/";
    struct Sample {
        const char *file, *args;
    } samples[] = {
        {"window-256k-64b.trace", "--window 256K --size 64 --count 20000 --page 4K --op read --seed 1"},
        {"window-64m-2m.bin", "--window 64M --size 512 --count 20000 --page 2M --op write --seed 1"},
    };
    for (const Sample &s : samples) {
        std::string out = tmp_path(s.file);
        Result r = trace(std::string("gen window ") + s.args + " -o " + out);
        ASSERT_EQ(r.rc, 0) << r.err;
        EXPECT_EQ(slurp(out), slurp(dir + s.file)) << s.file << " differs from its generator";
        std::remove(out.c_str());
    }
    Result r = trace("stats " + dir + "default.trace");
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("  05:00.0       3 sl     00:1e.0"), std::string::npos) << r.out;
}

} // namespace
