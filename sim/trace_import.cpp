// trace_import.cpp — `iommusim trace import SOURCE ...`: converters from other tools' traces
// to the iommusim trace format. SOURCE `linux`: a capture of Linux driving QEMU's emulated
// Intel VT-d (sim/import_linux.h; method and validation in docs/validation.md).
//
// Exit statuses follow sim/cli.h: 0 ok, 2 unusable input (bad option, malformed or truncated
// capture line: one line "FILE:LINE: reason"), 1 failure writing the output.
#include "sim/cli.h"
#include "sim/import_linux.h"

#include "traces/trace.h"

#include <boost/program_options.hpp>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

namespace po = boost::program_options;

namespace iommusim {
namespace {

const char *const kImportUsage =
    "usage: iommusim trace import linux --qemu Q.qemu.log[.gz] --ftrace F.guest-ftrace.txt[.gz]\n"
    "                                   -o OUT [--phases A-B] [--keep-doorbells]\n"
    "       iommusim trace import linux PREFIX -o OUT     (PREFIX.qemu.log.gz + PREFIX.guest-ftrace.txt.gz)\n"
    "\n"
    "Converts one capture of Linux driving QEMU's emulated Intel VT-d into an iommusim trace:\n"
    "QEMU's -trace log (vtd_* events, device events, and per-access iommu_dma lines in patched\n"
    "captures) and the guest kernel's ftrace (iommu:map/unmap, intel_iommu:qi_submit and\n"
    "'PHASE N' markers). The guest's descriptors are matched in order to QEMU's; maps and unmaps\n"
    "are placed between them so that every DMA comes after the map that covers it and before its\n"
    "unmap. Written: attach (each device, once its domain is known), map (4K pages, permissions\n"
    "from the leaf PTE QEMU saw, else rw), unmap, dma (one per translation: exact in patched\n"
    "captures, direction and length inferred from device events otherwise), inv (every\n"
    "descriptor QEMU executed, waits included), irte (an entry first seen or changed) and msi\n"
    "(each remapped interrupt). Nothing after the phase-14 marker (the trace dump) is kept.\n"
    "Timestamps are not written: the two clocks only give the order.\n"
    "NVMe shadow-doorbell DMAs (4-byte accesses to the pci_nvme_dbbuf_config pages, which real\n"
    "SSDs do not make) are dropped unless --keep-doorbells. A summary goes to stdout.\n"
    "Method, limits and validation: docs/validation.md.\n";

// "A-B" or "A"; 0 <= A <= B <= 13.
bool parse_phases(const std::string &s, int &lo, int &hi)
{
    auto num = [](const std::string &t, int &v) {
        if (t.empty() || t.size() > 2)
            return false;
        v = 0;
        for (char c : t) {
            if (c < '0' || c > '9')
                return false;
            v = v * 10 + (c - '0');
        }
        return true;
    };
    size_t d = s.find('-');
    if (d == std::string::npos) {
        if (!num(s, lo))
            return false;
        hi = lo;
    } else if (!num(s.substr(0, d), lo) || !num(s.substr(d + 1), hi)) {
        return false;
    }
    return lo <= hi && hi <= 13;
}

int import_linux(int argc, char **argv)
{
    const char *prog = "iommusim trace import linux";
    linux_import::Options opt;
    std::string phases, prefix;
    po::options_description desc("options");
    desc.add_options()("help,h", "print this help")
        ("qemu", po::value(&opt.qemu)->value_name("FILE"), "QEMU -trace log (.gz or plain)")
        ("ftrace", po::value(&opt.ftrace)->value_name("FILE"), "guest ftrace (.gz or plain)")
        ("output,o", po::value(&opt.out)->value_name("OUT"), "output trace: .trace, .trace.gz or .bin")
        ("phases", po::value(&phases)->value_name("A-B"),
         "keep phases A..B only (0 = before the first marker, max 13); attaches and the maps "
         "live at the start of A are kept")
        ("keep-doorbells", po::bool_switch(&opt.keep_doorbells),
         "keep the NVMe shadow-doorbell DMAs (dropped by default)")
        ("infer-dma", po::bool_switch(&opt.infer_dma),
         "ignore iommu_dma lines: infer direction and length as for a stock capture (to measure "
         "the inference on a patched capture)")
        ("no-descriptor-anchors", po::bool_switch(&opt.no_desc_anchors),
         "place maps and unmaps by the phase markers and the DMAs only, ignoring that the "
         "descriptors pin them (to measure the placement on a strict capture)");
    po::options_description hidden;
    hidden.add_options()("prefix", po::value(&prefix));
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("prefix", 1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error &e) {
        std::fprintf(stderr, "%s: %s (try '%s --help')\n", prog, e.what(), prog);
        return EXIT_BADINPUT;
    }
    if (vm.count("help")) {
        std::fputs(kImportUsage, stdout);
        std::cout << "\n" << desc << "\n";
        return EXIT_OK;
    }
    auto usage_error = [&](const std::string &why) {
        std::fprintf(stderr, "%s: %s (try '%s --help')\n", prog, why.c_str(), prog);
        return EXIT_BADINPUT;
    };
    if (!prefix.empty()) {
        if (!opt.qemu.empty() || !opt.ftrace.empty())
            return usage_error("give either PREFIX or --qemu and --ftrace, not both");
        opt.qemu = prefix + ".qemu.log.gz";
        opt.ftrace = prefix + ".guest-ftrace.txt.gz";
    }
    if (opt.qemu.empty())
        return usage_error("missing --qemu (or PREFIX)");
    if (opt.ftrace.empty())
        return usage_error("missing --ftrace (or PREFIX)");
    if (opt.out.empty())
        return usage_error("missing -o OUT");
    if (iommu_trace_form_of(opt.out.c_str()) < 0 || opt.out == "-")
        return usage_error(opt.out + ": unknown trace file extension (expected .trace, .trace.gz or .bin)");
    if (!phases.empty() && !parse_phases(phases, opt.phase_lo, opt.phase_hi))
        return usage_error("bad --phases '" + phases + "' (expected A-B with 0 <= A <= B <= 13)");

    linux_import::Summary sum;
    try {
        linux_import::run(opt, sum);
    } catch (const linux_import::ImportError &e) {
        std::fprintf(stderr, "%s\n", e.what());
        std::remove(opt.out.c_str());
        return EXIT_BADINPUT;
    } catch (...) {
        std::remove(opt.out.c_str());
        throw;
    }
    sum.print(stdout, opt);
    return EXIT_OK;
}

} // namespace

int cmd_trace_import(int argc, char **argv)
{
    // argv[0] is "import"; argv[1] the source.
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        std::fputs("usage: iommusim trace import SOURCE [options]\n\n"
                   "sources:\n"
                   "  linux   Linux + QEMU VT-d capture (QEMU -trace log and guest ftrace)\n"
                   "\n`iommusim trace import SOURCE --help` describes a source's options.\n",
                   argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_BADINPUT : EXIT_OK;
    }
    if (!std::strcmp(argv[1], "linux"))
        return guarded([&] { return import_linux(argc - 1, argv + 1); });
    std::fprintf(stderr, "iommusim trace import: unknown source '%s' (linux)\n", argv[1]);
    return EXIT_BADINPUT;
}

} // namespace iommusim
