// trace_cmd.cpp — `iommusim trace convert|stats|gen`: convert a trace between its text and
// binary forms, summarise a trace, and generate synthetic traces (traces/gen.h: `gen window`,
// `gen buffers`; host/irq_gen.h: `gen irq`).
//
// Every command streams its input (memory constant in the trace length, except `stats`,
// which keeps one entry per device, domain, distinct 4 KB page touched and live buffer
// handle). Exit statuses
// follow sim/cli.h: 0 ok, 2 unusable input (bad option, malformed or unreadable trace),
// 1 failure writing the output. Errors are one line on stderr naming the file and line or
// offset, or the option.
#include "sim/cli.h"

#include "host/irq_gen.h"
#include "traces/gen.h"
#include "traces/trace.h"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace po = boost::program_options;

namespace iommusim {
namespace {

// ---- helpers -------------------------------------------------------------------------

// A byte count: decimal or 0x hex, or decimal with a K, M or G suffix (powers of 1024).
bool parse_bytes(const std::string &s, uint64_t &out)
{
    if (s.empty())
        return false;
    std::string num = s;
    unsigned shift = 0;
    char last = s.back();
    if (last == 'K' || last == 'k') shift = 10;
    else if (last == 'M' || last == 'm') shift = 20;
    else if (last == 'G' || last == 'g') shift = 30;
    if (shift)
        num.pop_back();
    if (num.empty())
        return false;
    uint64_t v = 0;
    bool hex = num.size() > 2 && num[0] == '0' && (num[1] == 'x' || num[1] == 'X');
    if (hex && shift)
        return false;
    for (size_t i = hex ? 2 : 0; i < num.size(); i++) {
        char c = num[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = unsigned(c - '0');
        else if (hex && c >= 'a' && c <= 'f') d = unsigned(c - 'a' + 10);
        else if (hex && c >= 'A' && c <= 'F') d = unsigned(c - 'A' + 10);
        else return false;
        unsigned base = hex ? 16 : 10;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    if (v > (UINT64_MAX >> shift))
        return false;
    out = v << shift;
    return true;
}

// "4.0 MiB" style, for readers; exact numbers are printed beside it.
std::string human_bytes(uint64_t b)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = double(b);
    int u = 0;
    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%" PRIu64 " B", b);
    else
        std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

std::string human_ns(uint64_t ns)
{
    char buf[32];
    if (ns < 1000)
        std::snprintf(buf, sizeof buf, "%" PRIu64 " ns", ns);
    else if (ns < 1000000)
        std::snprintf(buf, sizeof buf, "%.2f us", double(ns) / 1e3);
    else if (ns < 1000000000)
        std::snprintf(buf, sizeof buf, "%.2f ms", double(ns) / 1e6);
    else
        std::snprintf(buf, sizeof buf, "%.3f s", double(ns) / 1e9);
    return buf;
}

std::string sid_str(iommu_sid_t sid)
{
    char buf[8];
    return iommu_sid_format(sid, buf);
}

const char *mode_str(unsigned m)
{
    static const char *const names[] = {"sl", "fl", "nested", "pt"};
    return m < 4 ? names[m] : "?";
}

// Parses a sub-command's options; returns -1 to go on, else the exit status. `args` names
// the positional arguments in order (option name, shown name), all required.
int parse_options(const char *prog, int argc, char **argv, const po::options_description &opts,
                  const std::vector<std::pair<const char *, const char *>> &args,
                  po::variables_map &vm, const char *usage_line)
{
    try {
        po::positional_options_description pos; // empty: stray arguments are an error
        for (const auto &a : args)
            pos.add(a.first, 1);
        po::command_line_parser parser(argc, argv);
        parser.options(opts).positional(pos);
        po::store(parser.run(), vm);
        if (vm.count("help")) {
            std::printf("usage: %s\n\n", usage_line);
            std::cout << opts;
            return EXIT_OK;
        }
        for (const auto &a : args)
            if (!vm.count(a.first)) {
                std::fprintf(stderr, "%s: missing %s (try '%s --help')\n", prog, a.second, prog);
                return EXIT_BADINPUT;
            }
        po::notify(vm);
    } catch (const po::error &e) {
        std::fprintf(stderr, "%s: %s (try '%s --help')\n", prog, e.what(), prog);
        return EXIT_BADINPUT;
    }
    return -1;
}

// Removes a partly written output file after a failure (never standard output).
void discard_output(const std::string &path)
{
    if (path != "-")
        std::remove(path.c_str());
}

// ---- convert -------------------------------------------------------------------------

int cmd_convert(int argc, char **argv)
{
    const char *prog = "iommusim trace convert";
    po::options_description opts("options");
    opts.add_options()("help,h", "print this help")
        ("input", po::value<std::string>()->required()->value_name("IN"), "input trace (.trace, .trace.gz, .bin, - for stdin)")
        ("output", po::value<std::string>()->required()->value_name("OUT"), "output trace (.trace, .trace.gz, .bin, - for stdout)");
    po::variables_map vm;
    int rc = parse_options(prog, argc, argv, opts, {{"input", "IN"}, {"output", "OUT"}}, vm,
                           "iommusim trace convert IN OUT\n\n"
                           "Converts a trace between its forms, chosen by the file names:\n"
                           "  .trace text, .trace.gz gzip text, .bin binary, - text on stdin/stdout.\n"
                           "The conversion is lossless both ways.");
    if (rc >= 0)
        return rc;
    std::string in = vm["input"].as<std::string>(), out = vm["output"].as<std::string>();
    if (in == out && in != "-") {
        std::fprintf(stderr, "%s: input and output are the same file '%s'\n", prog, in.c_str());
        return EXIT_BADINPUT;
    }
    if (iommu_trace_form_of(out.c_str()) < 0) {
        std::fprintf(stderr,
                     "%s: %s: unknown trace file extension (expected .trace, .trace.gz or .bin)\n",
                     prog, out.c_str());
        return EXIT_BADINPUT;
    }
    iommu_trace_error err{};
    iommu_trace_reader_t *r = iommu_trace_open(in.c_str(), &err);
    if (!r) {
        std::fprintf(stderr, "%s\n", err.msg);
        return EXIT_BADINPUT;
    }
    iommu_trace_writer_t *w = iommu_trace_create(out.c_str(), &err);
    if (!w) {
        std::fprintf(stderr, "%s\n", err.msg);
        iommu_trace_close(r);
        return EXIT_FAIL;
    }
    iommu_trace_event ev;
    int st;
    rc = EXIT_OK;
    while ((st = iommu_trace_next(r, &ev, &err)) > 0) {
        if (iommu_trace_write(w, &ev, &err) != IOMMU_OK) {
            rc = EXIT_FAIL;
            break;
        }
    }
    if (st < 0)
        rc = EXIT_BADINPUT;
    if (rc != EXIT_OK)
        std::fprintf(stderr, "%s\n", err.msg);
    iommu_trace_close(r);
    iommu_trace_error ferr{};
    if (iommu_trace_finish(w, &ferr) != IOMMU_OK && rc == EXIT_OK) {
        std::fprintf(stderr, "%s\n", ferr.msg);
        rc = EXIT_FAIL;
    }
    if (rc != EXIT_OK)
        discard_output(out);
    return rc;
}

// ---- stats ---------------------------------------------------------------------------

struct PageKey {
    uint64_t page;   // iova >> 12
    uint32_t pasid;  // IOMMU_PASID_NONE for requests without one
    bool operator==(const PageKey &o) const { return page == o.page && pasid == o.pasid; }
};
struct PageKeyHash {
    size_t operator()(const PageKey &k) const
    {
        uint64_t h = k.page * 0x9E3779B97F4A7C15ull ^ (uint64_t(k.pasid) << 1);
        return size_t(h ^ (h >> 29));
    }
};

struct DeviceStats {
    uint64_t dmas = 0, reads = 0, writes = 0, read_bytes = 0, write_bytes = 0;
    std::unordered_set<PageKey, PageKeyHash> pages; // distinct 4 KB IOVA pages touched
    bool attached = false;
    unsigned did = 0, mode = 0;
    bool has_alias = false;
    iommu_sid_t alias = 0;
};

struct DomainStats {
    uint64_t maps = 0, unmaps = 0, mapped = 0, unmapped = 0;
    int64_t live = 0, peak = 0; // running mapped - unmapped bytes
    std::vector<iommu_sid_t> devices;
};

// Buffer events (v2): the live handles, and what does not add up. The format checks each
// event alone; whether a handle is live is only known here (and in the replay), so stats
// counts the inconsistencies rather than stopping at them.
struct BufferStats {
    struct Buffer {
        iommu_sid_t sid;
        bool open;      // the last segment had `more`: the list is not complete yet
        uint64_t bytes; // sum of the segments' len
    };
    std::unordered_map<uint64_t, Buffer> live;
    uint64_t segments = 0, buffers = 0, mapped = 0, unmaps = 0, unmapped = 0;
    uint64_t dmas = 0, dma_bytes = 0;
    uint64_t live_bytes = 0, peak_handles = 0, peak_bytes = 0;
    // inconsistencies
    uint64_t unmap_unknown = 0, remap_live = 0, seg_other_sid = 0, unmap_open = 0;
    uint64_t dma_unknown = 0, dma_open = 0, dma_other_sid = 0, dma_outside = 0;

    void map(const iommu_trace_event &ev)
    {
        segments++;
        mapped += ev.len;
        auto it = live.find(ev.handle);
        if (it != live.end() && it->second.open) { // the next segment of a list
            if (it->second.sid != ev.sid)
                seg_other_sid++;
        } else {
            if (it != live.end()) { // a complete, live handle mapped again: replaces it
                remap_live++;
                live_bytes -= it->second.bytes;
                live.erase(it);
            }
            buffers++;
            it = live.emplace(ev.handle, Buffer{ev.sid, false, 0}).first;
        }
        it->second.open = (ev.flags & IOMMU_EVF_MORE) != 0;
        it->second.bytes += ev.len;
        live_bytes += ev.len;
        peak_handles = std::max<uint64_t>(peak_handles, live.size());
        peak_bytes = std::max(peak_bytes, live_bytes);
    }
    void unmap(const iommu_trace_event &ev)
    {
        unmaps++;
        auto it = live.find(ev.handle);
        if (it == live.end()) {
            unmap_unknown++;
            return;
        }
        if (it->second.open)
            unmap_open++;
        unmapped += it->second.bytes;
        live_bytes -= it->second.bytes;
        live.erase(it);
    }
    void dma(const iommu_trace_event &ev)
    {
        dmas++;
        dma_bytes += ev.len;
        auto it = live.find(ev.handle);
        if (it == live.end()) {
            dma_unknown++;
            return;
        }
        if (it->second.open)
            dma_open++;
        if (it->second.sid != ev.sid)
            dma_other_sid++;
        if (ev.iova > it->second.bytes || ev.len > it->second.bytes - ev.iova)
            dma_outside++;
    }
    bool any() const { return segments || unmaps || dmas; }
};

int cmd_stats(int argc, char **argv)
{
    const char *prog = "iommusim trace stats";
    po::options_description opts("options");
    opts.add_options()("help,h", "print this help")
        ("file", po::value<std::string>()->required()->value_name("FILE"), "trace to summarise (.trace, .trace.gz, .bin, - for stdin)");
    po::variables_map vm;
    int rc = parse_options(prog, argc, argv, opts, {{"file", "FILE"}}, vm,
                           "iommusim trace stats FILE\n\n"
                           "Prints event counts per type, devices with their DMA counts, bytes and\n"
                           "footprint (distinct 4 KB IOVA pages touched), domains with mapped bytes,\n"
                           "invalidations by type, and the time span of timestamped events. For\n"
                           "buffer events (dma_map, dma_unmap, dma by handle): buffers and bytes\n"
                           "mapped, the peak of live handles, and the events that do not add up\n"
                           "(a dma or dma_unmap of a handle that is not mapped, and the like). For\n"
                           "interrupts: msi events, the I/Os they complete (ios=) and their\n"
                           "consumers (thread=), and sched events by state.");
    if (rc >= 0)
        return rc;
    std::string path = vm["file"].as<std::string>();
    iommu_trace_error err{};
    iommu_trace_reader_t *r = iommu_trace_open(path.c_str(), &err);
    if (!r) {
        std::fprintf(stderr, "%s\n", err.msg);
        return EXIT_BADINPUT;
    }
    uint64_t per_type[IOMMU_EV_NTYPES] = {}, per_inv[IOMMU_INV_NTYPES] = {};
    std::map<iommu_sid_t, DeviceStats> devices;
    std::map<unsigned, DomainStats> domains;
    BufferStats buffers;
    uint64_t total = 0, timed = 0, tmin = UINT64_MAX, tmax = 0;
    uint64_t msi_ios = 0, msi_threaded = 0, sched_states[3] = {}; // v3 interrupt fields
    std::unordered_set<uint64_t> consumers;
    iommu_trace_event ev;
    int st;
    while ((st = iommu_trace_next(r, &ev, &err)) > 0) {
        total++;
        per_type[ev.type]++;
        if (ev.flags & IOMMU_EVF_TIME) {
            timed++;
            tmin = std::min(tmin, ev.time_ns);
            tmax = std::max(tmax, ev.time_ns);
        }
        switch (ev.type) {
        case IOMMU_EV_ATTACH: {
            DeviceStats &d = devices[ev.sid];
            d.attached = true;
            d.did = ev.did;
            d.mode = ev.mode;
            d.has_alias = ev.flags & IOMMU_EVF_ALIAS;
            d.alias = ev.alias;
            auto &devs = domains[ev.did].devices;
            if (std::find(devs.begin(), devs.end(), ev.sid) == devs.end())
                devs.push_back(ev.sid);
            break;
        }
        case IOMMU_EV_MAP: {
            DomainStats &d = domains[ev.did];
            d.maps++;
            d.mapped += ev.len;
            d.live += int64_t(ev.len);
            d.peak = std::max(d.peak, d.live);
            break;
        }
        case IOMMU_EV_UNMAP: {
            DomainStats &d = domains[ev.did];
            d.unmaps++;
            d.unmapped += ev.len;
            d.live -= int64_t(ev.len);
            break;
        }
        case IOMMU_EV_DMA: {
            DeviceStats &d = devices[ev.sid];
            d.dmas++;
            if (ev.access & IOMMU_ACC_W) {
                d.writes++;
                d.write_bytes += ev.len;
            } else {
                d.reads++;
                d.read_bytes += ev.len;
            }
            if (ev.flags & IOMMU_EVF_HANDLE) { // iova is an offset: no IOVA footprint
                buffers.dma(ev);
                break;
            }
            uint32_t pasid = (ev.flags & IOMMU_EVF_PASID) ? ev.pasid : IOMMU_PASID_NONE;
            for (uint64_t p = ev.iova >> 12, last = (ev.iova + ev.len - 1) >> 12; p <= last; p++)
                d.pages.insert(PageKey{p, pasid});
            break;
        }
        case IOMMU_EV_INV:
            per_inv[ev.inv_type]++;
            break;
        case IOMMU_EV_DMA_MAP:
            buffers.map(ev);
            break;
        case IOMMU_EV_DMA_UNMAP:
            buffers.unmap(ev);
            break;
        case IOMMU_EV_MSI:
            msi_ios += ev.ios;
            if (ev.flags & IOMMU_EVF_THREAD) {
                msi_threaded++;
                consumers.insert(ev.thread);
            }
            break;
        case IOMMU_EV_SCHED:
            sched_states[ev.state]++;
            break;
        default:
            break;
        }
    }
    if (st < 0) {
        std::fprintf(stderr, "%s\n", err.msg);
        iommu_trace_close(r);
        return EXIT_BADINPUT;
    }
    const std::string shown = iommu_trace_path(r);
    int form = iommu_trace_form_of(path.c_str());
    unsigned version = iommu_trace_version(r);
    iommu_trace_close(r);

    uint64_t dmas = 0, reads = 0, writes = 0, rbytes = 0, wbytes = 0, pages = 0;
    for (auto &kv : devices) {
        const DeviceStats &d = kv.second;
        dmas += d.dmas, reads += d.reads, writes += d.writes;
        rbytes += d.read_bytes, wbytes += d.write_bytes, pages += d.pages.size();
    }
    std::printf("trace       %s (%s, v%u)\n", shown.c_str(),
                form == IOMMU_TRACE_BINARY ? "binary" : "text", version);
    std::printf("events      %" PRIu64 "\n", total);
    for (unsigned t = 1; t < IOMMU_EV_NTYPES; t++)
        if (per_type[t])
            std::printf("  %-9s %12" PRIu64 "\n", iommu_ev_name(t), per_type[t]);
    std::printf("dma         %" PRIu64 " requests, %" PRIu64 " bytes (%s)\n", dmas, rbytes + wbytes,
                human_bytes(rbytes + wbytes).c_str());
    std::printf("  reads     %12" PRIu64 "  %14" PRIu64 " bytes (%s)\n", reads, rbytes,
                human_bytes(rbytes).c_str());
    std::printf("  writes    %12" PRIu64 "  %14" PRIu64 " bytes (%s)\n", writes, wbytes,
                human_bytes(wbytes).c_str());
    std::printf("footprint   %" PRIu64 " distinct 4 KB pages (%s), per device and PASID%s\n",
                pages, human_bytes(pages * 4096).c_str(), buffers.dmas ? ", of dmas by iova" : "");
    if (timed)
        std::printf("time        %" PRIu64 " .. %" PRIu64 " ns, span %s (%" PRIu64
                    " of %" PRIu64 " events timestamped)\n",
                    tmin, tmax, human_ns(tmax - tmin).c_str(), timed, total);
    else
        std::printf("time        none (no event has a timestamp: closed-loop trace)\n");
    if (per_type[IOMMU_EV_MSI] || per_type[IOMMU_EV_SCHED]) {
        uint64_t msis = per_type[IOMMU_EV_MSI];
        std::printf("interrupts  %" PRIu64 " msi completing %" PRIu64 " I/Os (%.2f per interrupt); %"
                    PRIu64 " name their consumer, %zu distinct\n",
                    msis, msi_ios, msis ? double(msi_ios) / double(msis) : 0.0, msi_threaded,
                    consumers.size());
        std::printf("  sched     %" PRIu64 " run, %" PRIu64 " stop, %" PRIu64 " preempt\n",
                    sched_states[IOMMU_SCHED_RUN], sched_states[IOMMU_SCHED_STOP],
                    sched_states[IOMMU_SCHED_PREEMPT]);
    }
    if (buffers.any()) {
        const BufferStats &b = buffers;
        uint64_t open_at_end = 0;
        for (const auto &kv : b.live)
            open_at_end += kv.second.open;
        std::printf("buffers     %" PRIu64 " mapped in %" PRIu64 " dma_map segments, %" PRIu64
                    " bytes (%s); %" PRIu64 " unmapped, %" PRIu64 " bytes\n",
                    b.buffers, b.segments, b.mapped, human_bytes(b.mapped).c_str(), b.unmaps,
                    b.unmapped);
        std::printf("  live      peak %" PRIu64 " handles, %" PRIu64 " bytes (%s); at the end %" PRIu64
                    " handles, %" PRIu64 " bytes\n",
                    b.peak_handles, b.peak_bytes, human_bytes(b.peak_bytes).c_str(),
                    uint64_t(b.live.size()), b.live_bytes);
        std::printf("  dmas      %" PRIu64 " by handle, %" PRIu64 " bytes (%s)\n", b.dmas,
                    b.dma_bytes, human_bytes(b.dma_bytes).c_str());
        const std::pair<uint64_t, const char *> problems[] = {
            {b.dma_unknown, "dma by a handle that is not mapped"},
            {b.dma_open, "dma by a handle whose segment list is not complete (last had 'more')"},
            {b.dma_other_sid, "dma by a handle mapped for another device"},
            {b.dma_outside, "dma beyond the end of its buffer (off + len > bytes mapped)"},
            {b.unmap_unknown, "dma_unmap of a handle that is not mapped"},
            {b.unmap_open, "dma_unmap of a handle whose segment list is not complete"},
            {b.remap_live, "dma_map of a handle that is already mapped (no dma_unmap before)"},
            {b.seg_other_sid, "dma_map segment of a list for another device"},
            {open_at_end, "segment list never completed (the last dma_map had 'more')"},
        };
        for (const auto &pr : problems)
            if (pr.first)
                std::printf("  problem   %" PRIu64 " %s\n", pr.first, pr.second);
    }

    if (!devices.empty()) {
        std::printf("\ndevices\n");
        std::printf("  %-8s %6s %-6s %-8s %10s %10s %10s %14s %9s\n", "sid", "domain", "mode",
                    "alias", "dmas", "reads", "writes", "bytes", "pages");
        for (auto &kv : devices) {
            const DeviceStats &d = kv.second;
            std::string dom = d.attached ? std::to_string(d.did) : "-";
            std::string alias = d.has_alias ? sid_str(d.alias) : "-";
            std::printf("  %-8s %6s %-6s %-8s %10" PRIu64 " %10" PRIu64 " %10" PRIu64
                        " %14" PRIu64 " %9zu\n",
                        sid_str(kv.first).c_str(), dom.c_str(), d.attached ? mode_str(d.mode) : "-",
                        alias.c_str(), d.dmas, d.reads, d.writes, d.read_bytes + d.write_bytes,
                        d.pages.size());
        }
    }
    if (!domains.empty()) {
        std::printf("\ndomains\n");
        std::printf("  %-6s %-18s %8s %14s %8s %14s %14s\n", "did", "devices", "maps",
                    "mapped bytes", "unmaps", "unmapped bytes", "peak mapped");
        for (auto &kv : domains) {
            const DomainStats &d = kv.second;
            std::string devs;
            for (iommu_sid_t s : d.devices)
                devs += (devs.empty() ? "" : ",") + sid_str(s);
            if (devs.empty())
                devs = "-";
            std::printf("  %-6u %-18s %8" PRIu64 " %14" PRIu64 " %8" PRIu64 " %14" PRIu64
                        " %14s\n",
                        kv.first, devs.c_str(), d.maps, d.mapped, d.unmaps, d.unmapped,
                        human_bytes(uint64_t(std::max<int64_t>(d.peak, 0))).c_str());
        }
    }
    if (per_type[IOMMU_EV_INV]) {
        std::printf("\ninvalidations\n");
        for (unsigned t = 1; t < IOMMU_INV_NTYPES; t++)
            if (per_inv[t])
                std::printf("  %-13s %10" PRIu64 "\n", iommu_inv_type_name(t), per_inv[t]);
    }
    if (std::fflush(stdout)) {
        std::fprintf(stderr, "%s: write error on standard output\n", prog);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

// ---- gen -----------------------------------------------------------------------------

void gen_usage(FILE *out)
{
    std::fputs("usage: iommusim trace gen GENERATOR [options] -o FILE\n"
               "\n"
               "generators:\n"
               "  window   DMAs at random size-aligned offsets in one mapped window\n"
               "           (the pcie-bench pattern); `iommusim trace gen window --help`\n"
               "  buffers  network-like DMA-API buffer events: a ring of mapped buffers per\n"
               "           device, one DMA, unmap and refill map per packet;\n"
               "           `iommusim trace gen buffers --help`\n"
               "  irq      the interrupts of an NVMe SSD or a NIC with per-CPU queues (MSI-X\n"
               "           through interrupt remapping), coalesced, with a synthetic scheduler\n"
               "           moving, halting and preempting their consumers;\n"
               "           `iommusim trace gen irq --help`\n",
               out);
}

template <class Gen> int run_generator(const std::string &out, Gen gen);

// The common end of every generator command: checks the output name and the parameters
// (validate fills reason and returns IOMMU_OK or an error), then writes the trace.
template <class Validate, class Gen>
int checked_generator(const char *prog, const std::string &out, Validate validate, Gen gen)
{
    if (iommu_trace_form_of(out.c_str()) < 0) {
        std::fprintf(stderr, "%s: --output: '%s': unknown trace file extension (expected .trace, "
                             ".trace.gz or .bin)\n", prog, out.c_str());
        return EXIT_BADINPUT;
    }
    char reason[256];
    if (validate(reason, sizeof reason) != IOMMU_OK) {
        std::fprintf(stderr, "%s: %s\n", prog, reason);
        return EXIT_BADINPUT;
    }
    return run_generator(out, gen);
}

// Writes a generator's trace to `out` (a checked name); removes it after a failure.
template <class Gen>
int run_generator(const std::string &out, Gen gen)
{
    iommu_trace_error err{};
    iommu_trace_writer_t *w = iommu_trace_create(out.c_str(), &err);
    if (!w) {
        std::fprintf(stderr, "%s\n", err.msg);
        return EXIT_FAIL;
    }
    int rc = EXIT_OK;
    if (gen(w, &err) != IOMMU_OK) {
        std::fprintf(stderr, "%s\n", err.msg);
        rc = EXIT_FAIL;
    }
    iommu_trace_error ferr{};
    if (iommu_trace_finish(w, &ferr) != IOMMU_OK && rc == EXIT_OK) {
        std::fprintf(stderr, "%s\n", ferr.msg);
        rc = EXIT_FAIL;
    }
    if (rc != EXIT_OK)
        discard_output(out);
    return rc;
}

// The option checks the generator commands share: each refusal is one line naming the
// option (prog: --opt: why) and exit status 2.
struct OptCheck {
    const char *prog;
    const po::variables_map &vm;
    int bad(const char *opt, const std::string &msg) const
    {
        std::fprintf(stderr, "%s: --%s: %s\n", prog, opt, msg.c_str());
        return EXIT_BADINPUT;
    }
    bool given(const char *opt) const { return vm.count(opt) && !vm[opt].defaulted(); }
    // a plain number (no K/M/G) within [lo, hi]
    bool number(const char *opt, uint64_t lo, uint64_t hi, uint64_t &out) const
    {
        std::string v = vm[opt].as<std::string>();
        if (!parse_bytes(v, out) || v.find_first_of("KMGkmg") != std::string::npos) {
            bad(opt, "bad number '" + v + "'");
            return false;
        }
        if (out < lo || out > hi) {
            bad(opt, "'" + v + "' out of range (" + std::to_string(lo) + " .. " + std::to_string(hi) + ")");
            return false;
        }
        return true;
    }
    // a decimal number (2e5, 0.25 are fine) within [lo, hi]; range as shown
    bool real(const char *opt, double lo, double hi, const char *range, double &out) const
    {
        std::string v = vm[opt].as<std::string>();
        char *end = nullptr;
        out = v.empty() || std::isspace((unsigned char)v[0]) ? NAN : std::strtod(v.c_str(), &end);
        if (v.empty() || !end || *end || !std::isfinite(out)) {
            bad(opt, "bad number '" + v + "'");
            return false;
        }
        if (out < lo || out > hi) {
            bad(opt, "'" + v + "' out of range (" + range + ")");
            return false;
        }
        return true;
    }
};

int cmd_gen_window(int argc, char **argv)
{
    const char *prog = "iommusim trace gen window";
    po::options_description opts("options");
    opts.add_options()("help,h", "print this help")
        ("window", po::value<std::string>()->required()->value_name("BYTES"), "window size in bytes (K/M/G suffixes: 256K, 64M)")
        ("size", po::value<std::string>()->required()->value_name("BYTES"), "bytes per DMA: a power of two <= the window")
        ("count", po::value<std::string>()->required()->value_name("N"), "number of DMAs (>= 1)")
        ("page", po::value<std::string>()->default_value("4K")->value_name("SIZE"), "page size of the mapping: 4K, 2M or 1G")
        ("op", po::value<std::string>()->default_value("read")->value_name("OP"), "read (device reads memory) or write")
        ("seed", po::value<std::string>()->default_value("1")->value_name("S"), "PRNG seed")
        ("output,o", po::value<std::string>()->required()->value_name("FILE"), "output trace (.trace, .trace.gz, .bin, - for stdout)");
    po::variables_map vm;
    int rc = parse_options(prog, argc, argv, opts, {}, vm,
                           "iommusim trace gen window --window BYTES --size BYTES --count N\n"
                           "          [--page 4K|2M|1G] [--op read|write] [--seed S] -o FILE\n\n"
                           "Attaches device 01:00.0 to domain 1 (second level), maps the window\n"
                           "(rounded up to whole pages) at IOVA 0x100000000 -> PA 0x100000000, then\n"
                           "issues COUNT DMAs of SIZE bytes at uniformly random SIZE-aligned offsets\n"
                           "inside the window. The same options give the same file, byte for byte.");
    if (rc >= 0)
        return rc;
    const OptCheck ck{prog, vm};
    iommu_gen_window_params p;
    iommu_gen_window_params_default(&p);
    std::string s = vm["window"].as<std::string>();
    if (!parse_bytes(s, p.window))
        return ck.bad("window", "bad byte count '" + s + "' (expected e.g. 65536, 0x10000, 64K)");
    if (p.window == 0 || p.window > IOMMU_GEN_WINDOW_MAX)
        return ck.bad("window", "'" + s + "' out of range (1 byte .. 1T)");
    s = vm["size"].as<std::string>();
    if (!parse_bytes(s, p.size))
        return ck.bad("size", "bad byte count '" + s + "' (expected e.g. 64, 4K)");
    if (p.size == 0 || (p.size & (p.size - 1)))
        return ck.bad("size", "'" + s + "' is not a power of two");
    if (p.size > p.window)
        return ck.bad("size", "'" + s + "' is larger than the window (" +
                               vm["window"].as<std::string>() + ")");
    if (p.size > 0xFFFFFFFFull)
        return ck.bad("size", "'" + s + "' out of range (max 2G)");
    s = vm["count"].as<std::string>();
    if (!parse_bytes(s, p.count) || s.find_first_of("KMGkmg") != std::string::npos)
        return ck.bad("count", "bad number '" + s + "'");
    if (p.count == 0)
        return ck.bad("count", "must be >= 1");
    s = vm["page"].as<std::string>();
    if (s == "4K") p.page_shift = IOMMU_PAGE_SHIFT_4K;
    else if (s == "2M") p.page_shift = IOMMU_PAGE_SHIFT_2M;
    else if (s == "1G") p.page_shift = IOMMU_PAGE_SHIFT_1G;
    else return ck.bad("page", "'" + s + "' is not 4K, 2M or 1G");
    s = vm["op"].as<std::string>();
    if (s == "read") p.op = IOMMU_ACC_R;
    else if (s == "write") p.op = IOMMU_ACC_W;
    else return ck.bad("op", "'" + s + "' is not read or write");
    s = vm["seed"].as<std::string>();
    if (!parse_bytes(s, p.seed) || s.find_first_of("KMGkmg") != std::string::npos)
        return ck.bad("seed", "bad number '" + s + "'");
    return checked_generator(
        prog, vm["output"].as<std::string>(),
        [&](char *reason, size_t n) { return iommu_gen_window_params_validate(&p, reason, n); },
        [&](iommu_trace_writer_t *w, iommu_trace_error *err) { return iommu_trace_gen_window(&p, w, err); });
}

int cmd_gen_buffers(int argc, char **argv)
{
    const char *prog = "iommusim trace gen buffers";
    po::options_description opts("options");
    opts.add_options()("help,h", "print this help")
        ("count", po::value<std::string>()->required()->value_name("N"), "number of I/Os (packets), >= 1")
        ("size", po::value<std::string>()->required()->value_name("BYTES"), "bytes per buffer and per DMA, 1 .. 4294967295 (K/M suffixes: 1500, 2K, 64K)")
        ("sg", po::value<std::string>()->default_value("1")->value_name("K"), "segments per buffer (scatter-gather), 1 .. 1024 and <= BYTES: K dma_map events of about BYTES/K bytes, each in its own pages")
        ("seed", po::value<std::string>()->default_value("1")->value_name("S"), "PRNG seed (picks the physical pages)")
        ("ring", po::value<std::string>()->default_value("256")->value_name("R"), "buffers kept mapped per device, 1 .. 65536")
        ("devices", po::value<std::string>()->default_value("1")->value_name("D"), "devices 00:03.0, 00:04.0, ... the I/Os round-robin over, 1 .. 29")
        ("dir", po::value<std::string>()->default_value("rx")->value_name("DIR"), "rx: the device writes the buffers (dma_map perm=w, dma op=w); tx: it reads them (perm=r, op=r)")
        ("headroom", po::value<std::string>()->default_value("64")->value_name("B"), "bytes before each segment in its first page (like NET_SKB_PAD), 0 .. 4095")
        ("output,o", po::value<std::string>()->required()->value_name("FILE"), "output trace (.trace, .trace.gz, .bin, - for stdout)");
    po::variables_map vm;
    int rc = parse_options(prog, argc, argv, opts, {}, vm,
                           "iommusim trace gen buffers --count N --size BYTES [--sg K] [--seed S]\n"
                           "          [--ring R] [--devices D] [--dir rx|tx] [--headroom B] -o FILE\n\n"
                           "A network-like DMA-API workload in buffer events (trace format v2), one\n"
                           "I/O per packet. Attaches devices 00:03.0, 00:04.0, ... to domains 1, 2, ...\n"
                           "(second level), maps a ring of R buffers per device (K dma_map segments\n"
                           "each, `more` on all but the last; handles 1, 2, ... in map order), then\n"
                           "for each I/O, round-robin over the devices, on the device's oldest buffer:\n"
                           "  dma sid=.. handle=H off=0 len=BYTES op=w (rx) | op=r (tx)\n"
                           "  dma_unmap handle=H\n"
                           "  K x dma_map of a new buffer (the ring's refill: R stay mapped)\n"
                           "D + K * (R * D + N) + 2 * N events. Each segment starts B bytes into its own\n"
                           "block of physical pages, drawn at random from a pool (16 MB, or twice what\n"
                           "the rings hold) to which unmapped blocks return, so physical pages are\n"
                           "reused as a page allocator reuses them. No timestamps, CPU 0.\n"
                           "The same options give the same file, byte for byte.");
    if (rc >= 0)
        return rc;
    const OptCheck ck{prog, vm};
    iommu_gen_buffers_params p;
    iommu_gen_buffers_params_default(&p);
    uint64_t v;
    if (!ck.number("count", 1, UINT64_MAX, p.count))
        return EXIT_BADINPUT;
    std::string s = vm["size"].as<std::string>();
    if (!parse_bytes(s, p.size))
        return ck.bad("size", "bad byte count '" + s + "' (expected e.g. 1500, 2K)");
    if (p.size == 0 || p.size > 0xFFFFFFFFull)
        return ck.bad("size", "'" + s + "' out of range (1 .. 4294967295 bytes)");
    if (!ck.number("sg", 1, IOMMU_GEN_BUF_SG_MAX, v))
        return EXIT_BADINPUT;
    p.sg = unsigned(v);
    if (p.sg > p.size)
        return ck.bad("sg", "'" + vm["sg"].as<std::string>() + "' segments for " + s +
                             " bytes (each segment needs at least one byte)");
    if (!ck.number("seed", 0, UINT64_MAX, p.seed))
        return EXIT_BADINPUT;
    if (!ck.number("ring", 1, IOMMU_GEN_BUF_RING_MAX, v))
        return EXIT_BADINPUT;
    p.ring = unsigned(v);
    if (!ck.number("devices", 1, IOMMU_GEN_BUF_DEVICES_MAX, v))
        return EXIT_BADINPUT;
    p.devices = unsigned(v);
    s = vm["dir"].as<std::string>();
    if (s == "rx") p.dir = IOMMU_ACC_W;
    else if (s == "tx") p.dir = IOMMU_ACC_R;
    else return ck.bad("dir", "'" + s + "' is not rx or tx");
    s = vm["headroom"].as<std::string>();
    if (!parse_bytes(s, p.headroom))
        return ck.bad("headroom", "bad byte count '" + s + "'");
    if (p.headroom > 4095)
        return ck.bad("headroom", "'" + s + "' out of range (0 .. 4095 bytes)");
    return checked_generator(
        prog, vm["output"].as<std::string>(),
        [&](char *reason, size_t n) { return iommu_gen_buffers_params_validate(&p, reason, n); },
        [&](iommu_trace_writer_t *w, iommu_trace_error *err) { return iommu_trace_gen_buffers(&p, w, err); });
}

int cmd_gen_irq(int argc, char **argv)
{
    const char *prog = "iommusim trace gen irq";
    po::options_description opts("options");
    opts.add_options()("help,h", "print this help")
        ("pattern", po::value<std::string>()->required()->value_name("P"), "nvme: one vector per queue, NVMe interrupt coalescing; nic: RX (NAPI) and TX vectors per queue")
        ("count", po::value<std::string>()->required()->value_name("N"), "number of interrupts (msi events), >= 1")
        ("cpus", po::value<std::string>()->default_value("4")->value_name("C"), "CPUs (physical CPUs with --vm), 1 .. 255")
        ("queues", po::value<std::string>()->value_name("Q"), "queues, one consumer each (thread or vCPU q), 1 .. 1024 (default: as many as CPUs)")
        ("migrate-every", po::value<std::string>()->default_value("0")->value_name("M"), "a consumer moves to another CPU before every M-th of its interrupts (0: never)")
        ("vm", po::bool_switch(), "the consumers are vCPUs, which an interrupt may find halted or preempted")
        ("halted", po::value<std::string>()->value_name("P"), "--vm: probability the vCPU is halted when an interrupt arrives, 0 .. 1 (default 0.3)")
        ("preempted", po::value<std::string>()->value_name("P"), "--vm: probability it is preempted, 0 .. 1, halted + preempted <= 1 (default 0.1)")
        ("preempt-us", po::value<std::string>()->value_name("U"), "--vm: a preempted vCPU runs again U us later, 1 .. 1000000000 (default 1000)")
        ("coalesce", po::value<std::string>()->value_name("K"), "nvme: an interrupt per K completions, 1 .. 256 (default 1: no coalescing)")
        ("coalesce-us", po::value<std::string>()->value_name("T"), "nvme: ... or when the oldest pending completion has waited T us, 0 .. 25500, 0: no time limit (default 100 when K > 1)")
        ("rate", po::value<std::string>()->value_name("R"), "arrivals per second per queue (nvme completions; nic RX and TX packets each), 1 .. 1e9 (default: nvme 200000, nic 1000000)")
        ("napi-us", po::value<std::string>()->value_name("W"), "nic: NAPI poll window after an RX interrupt, 0 .. 1000000 us (default 20)")
        ("tx-batch", po::value<std::string>()->value_name("B"), "nic: TX packets per TX completion interrupt, 1 .. 65536 (default 32)")
        ("seed", po::value<std::string>()->default_value("1")->value_name("S"), "PRNG seed (arrivals and scheduling)")
        ("output,o", po::value<std::string>()->required()->value_name("FILE"), "output trace (.trace, .trace.gz, .bin, - for stdout)");
    po::variables_map vm;
    int rc = parse_options(prog, argc, argv, opts, {}, vm,
                           "iommusim trace gen irq --pattern nvme|nic --count N [--cpus C] [--queues Q]\n"
                           "          [--migrate-every M] [--vm] [--halted P] [--preempted P] [--preempt-us U]\n"
                           "          [--coalesce K] [--coalesce-us T] [--rate R] [--napi-us W]\n"
                           "          [--tx-batch B] [--seed S] -o FILE\n\n"
                           "An interrupt stream (trace format v3, timestamps in ns) from a device with\n"
                           "per-CPU queues: nvme (00:02.0, vector q per queue) or nic (00:03.0, RX vector\n"
                           "2q and TX vector 2q+1 per queue). First, at t=0, each vector's remapped IRTE\n"
                           "(vector 0x30 + i, fixed, physical xAPIC destination = the CPU of its consumer,\n"
                           "SVT=1 for the device) with `inv type=iec-index`, one `inv type=wait`, and\n"
                           "`sched thread=q cpu=q%C state=run` per consumer. Then N interrupts in time\n"
                           "order, Poisson arrivals per queue:\n"
                           "  msi sid=.. addr=<remappable, handle i> data=0 thread=q [ios=k] t=..\n"
                           "nvme: an interrupt at the K-th pending completion or after T us (ios = the\n"
                           "completions it covers). nic: an RX interrupt at a packet while the vector is\n"
                           "enabled, masked for a W us poll window whose packets it covers; a TX\n"
                           "interrupt per B packets. A synthetic scheduler writes `sched` events before\n"
                           "the interrupts: moves every M interrupts of a consumer, and with --vm halted\n"
                           "or preempted vCPUs (a preempted one runs again U us later; an interrupt wakes\n"
                           "a halted one). docs/trace-format.md explains the defaults.\n"
                           "The same options give the same file, byte for byte.");
    if (rc >= 0)
        return rc;
    const OptCheck ck{prog, vm};
    iommu_irq_gen_params p;
    iommu_irq_gen_params_default(&p);
    uint64_t v;
    std::string s = vm["pattern"].as<std::string>();
    if (s == "nvme") p.pattern = IOMMU_IRQ_NVME;
    else if (s == "nic") p.pattern = IOMMU_IRQ_NIC;
    else return ck.bad("pattern", "'" + s + "' is not nvme or nic");
    if (!ck.number("count", 1, UINT64_MAX, p.count))
        return EXIT_BADINPUT;
    if (!ck.number("cpus", 1, IOMMU_IRQ_GEN_CPUS_MAX, v))
        return EXIT_BADINPUT;
    p.cpus = uint32_t(v);
    if (ck.given("queues")) {
        if (!ck.number("queues", 1, IOMMU_IRQ_GEN_QUEUES_MAX, v))
            return EXIT_BADINPUT;
        p.queues = uint32_t(v);
    }
    if (!ck.number("migrate-every", 0, UINT64_MAX, p.migrate_every))
        return EXIT_BADINPUT;
    p.vm = vm["vm"].as<bool>();
    for (const char *opt : {"halted", "preempted", "preempt-us"})
        if (ck.given(opt) && !p.vm) {
            std::fprintf(stderr, "%s: --%s needs --vm\n", prog, opt);
            return EXIT_BADINPUT;
        }
    if (ck.given("halted") && !ck.real("halted", 0, 1, "0 .. 1", p.p_halted))
        return EXIT_BADINPUT;
    if (ck.given("preempted") && !ck.real("preempted", 0, 1, "0 .. 1", p.p_preempted))
        return EXIT_BADINPUT;
    if (p.p_halted + p.p_preempted > 1.0 + 1e-12) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "%s: --halted + --preempted must be <= 1 (%g + %g)\n",
                      prog, p.p_halted, p.p_preempted);
        std::fputs(buf, stderr);
        return EXIT_BADINPUT;
    }
    if (ck.given("preempt-us")) {
        if (!ck.number("preempt-us", 1, 1000000000, v))
            return EXIT_BADINPUT;
        p.preempt_ns = v * 1000;
    }
    const char *nvme_only[] = {"coalesce", "coalesce-us"}, *nic_only[] = {"napi-us", "tx-batch"};
    for (const char *opt : nvme_only)
        if (ck.given(opt) && p.pattern != IOMMU_IRQ_NVME)
            return ck.bad(opt, "applies to --pattern nvme only");
    for (const char *opt : nic_only)
        if (ck.given(opt) && p.pattern != IOMMU_IRQ_NIC)
            return ck.bad(opt, "applies to --pattern nic only");
    if (ck.given("coalesce")) {
        if (!ck.number("coalesce", 1, IOMMU_IRQ_GEN_COALESCE_MAX, v))
            return EXIT_BADINPUT;
        p.coalesce = uint32_t(v);
    }
    if (ck.given("coalesce-us")) {
        if (!ck.number("coalesce-us", 0, IOMMU_IRQ_GEN_COALESCE_NS_MAX / 1000, v))
            return EXIT_BADINPUT;
        p.coalesce_ns = v * 1000;
    }
    if (ck.given("rate") && !ck.real("rate", 1, IOMMU_IRQ_GEN_RATE_MAX, "1 .. 1e9 per second", p.rate))
        return EXIT_BADINPUT;
    if (ck.given("napi-us")) {
        if (!ck.number("napi-us", 0, IOMMU_IRQ_GEN_NAPI_NS_MAX / 1000, v))
            return EXIT_BADINPUT;
        p.napi_ns = v * 1000;
    }
    if (ck.given("tx-batch")) {
        if (!ck.number("tx-batch", 1, IOMMU_IRQ_GEN_TX_BATCH_MAX, v))
            return EXIT_BADINPUT;
        p.tx_batch = uint32_t(v);
    }
    if (!ck.number("seed", 0, UINT64_MAX, p.seed))
        return EXIT_BADINPUT;
    return checked_generator(
        prog, vm["output"].as<std::string>(),
        [&](char *reason, size_t n) { return iommu_irq_gen_params_validate(&p, reason, n); },
        [&](iommu_trace_writer_t *w, iommu_trace_error *err) { return iommu_trace_gen_irq(&p, w, err); });
}

int cmd_gen(int argc, char **argv)
{
    if (argc < 2) {
        gen_usage(stderr);
        return EXIT_BADINPUT;
    }
    const char *g = argv[1];
    if (!std::strcmp(g, "-h") || !std::strcmp(g, "--help")) {
        gen_usage(stdout);
        return EXIT_OK;
    }
    if (!std::strcmp(g, "window"))
        return cmd_gen_window(argc - 1, argv + 1);
    if (!std::strcmp(g, "buffers"))
        return cmd_gen_buffers(argc - 1, argv + 1);
    if (!std::strcmp(g, "irq"))
        return cmd_gen_irq(argc - 1, argv + 1);
    std::fprintf(stderr, "iommusim trace gen: unknown generator '%s' (window, buffers, irq)\n", g);
    return EXIT_BADINPUT;
}

void trace_usage(FILE *out)
{
    std::fputs("usage: iommusim trace <command> [options]\n"
               "\n"
               "commands:\n"
               "  convert IN OUT    convert between text (.trace, .trace.gz) and binary (.bin)\n"
               "  stats FILE        event counts, devices, domains, footprint, time span\n"
               "  gen window|buffers|irq ...\n"
               "                    generate a synthetic trace (see `trace gen --help`)\n"
               "  import linux ...  convert a capture of Linux under QEMU's VT-d (see\n"
               "                    `trace import --help`)\n"
               "\n"
               "The trace format is described in docs/trace-format.md.\n"
               "`iommusim trace <command> --help` describes each command's options.\n",
               out);
}

} // namespace

int cmd_trace(int argc, char **argv)
{
    if (argc < 2) {
        trace_usage(stderr);
        return EXIT_BADINPUT;
    }
    const char *sub = argv[1];
    if (!std::strcmp(sub, "-h") || !std::strcmp(sub, "--help") || !std::strcmp(sub, "help")) {
        trace_usage(stdout);
        return EXIT_OK;
    }
    if (!std::strcmp(sub, "convert"))
        return cmd_convert(argc - 1, argv + 1);
    if (!std::strcmp(sub, "stats"))
        return cmd_stats(argc - 1, argv + 1);
    if (!std::strcmp(sub, "gen"))
        return cmd_gen(argc - 1, argv + 1);
    if (!std::strcmp(sub, "import"))
        return cmd_trace_import(argc - 1, argv + 1);
    std::fprintf(stderr, "iommusim trace: unknown command '%s' (convert, stats, gen, import)\n",
                 sub);
    return EXIT_BADINPUT;
}

} // namespace iommusim
