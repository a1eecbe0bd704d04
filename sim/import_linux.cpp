// import_linux.cpp — `iommusim trace import linux`: one capture of Linux (its ftrace: iommu
// map/unmap, intel_iommu qi_submit, phase markers) driving QEMU's emulated VT-d (its -trace
// log: translations, invalidation descriptors, interrupt remapping, device events) becomes
// one iommusim trace. docs/validation.md describes the method, its limits and the results.
//
// Pipeline (all in memory; the capture is read once):
//   1. read the guest ftrace: maps, unmaps, submitted descriptors, phase markers;
//   2. read the QEMU log up to the phase-14 marker: translations (with the leaf PTE and the
//      domain from QEMU's IOTLB line), descriptors, remapped MSIs, device events;
//   3. decide each stock translation's direction and length from device events (patched
//      captures carry them in `iommu_dma` lines);
//   4. match the guest's descriptors to QEMU's, in order (hard anchors), and map guest time
//      onto the host timeline between anchors (phase markers help);
//   5. give every map and unmap a domain (the descriptor that follows it, else the DMAs that
//      used it, else its neighbours) keeping each domain's mappings disjoint;
//   6. give every DMA the mapping that served it and move maps/unmaps (never across an
//      anchor, never out of guest order) so that each DMA falls inside its mapping;
//   7. write the merged stream, each event checked with iommu_trace_event_check.
// Every malformed line stops the import with "FILE:LINE: reason".
#include "sim/import_linux.h"

#include "traces/trace.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace iommusim {
namespace linux_import {
namespace {

using sv = std::string_view;

constexpr uint64_t PAGE = 4096;
constexpr uint64_t PAGE_MASK = ~(PAGE - 1);
constexpr int NONE = -1;
constexpr int LAST_PHASE = 13;  // phase 14 is the trace dump: ignored
constexpr uint8_t MODE_SL = 0, MODE_PT = 3; // attach modes (docs/trace-format.md)
constexpr uint16_t SID_NONE = 0xffff;       // QEMU's "no requester id" (X86_IOMMU_SID_INVALID)

[[noreturn]] void fail(const std::string &file, uint64_t line, const std::string &why)
{
    throw ImportError(file + ":" + std::to_string(line) + ": " + why);
}

std::string hex(uint64_t v)
{
    char b[24];
    std::snprintf(b, sizeof b, "0x%" PRIx64, v);
    return b;
}

std::string sid_str(uint16_t sid)
{
    char b[8];
    return iommu_sid_format(sid, b);
}

// ---- numbers and words -----------------------------------------------------------------

// Decimal, or hex with 0x. The whole word must be the number.
bool parse_u64(sv s, uint64_t &out)
{
    if (s.empty())
        return false;
    bool hexa = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    size_t i = hexa ? 2 : 0;
    if (i == s.size())
        return false;
    uint64_t v = 0;
    unsigned base = hexa ? 16 : 10;
    for (; i < s.size(); i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = unsigned(c - '0');
        else if (hexa && c >= 'a' && c <= 'f') d = unsigned(c - 'a' + 10);
        else if (hexa && c >= 'A' && c <= 'F') d = unsigned(c - 'A' + 10);
        else return false;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    out = v;
    return true;
}

// Hex digits, with or without 0x (QEMU's "%02x" fields).
bool parse_hex_digits(sv s, uint64_t &out)
{
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s.remove_prefix(2);
    if (s.empty() || s.size() > 16)
        return false;
    uint64_t v = 0;
    for (char c : s) {
        unsigned d;
        if (c >= '0' && c <= '9') d = unsigned(c - '0');
        else if (c >= 'a' && c <= 'f') d = unsigned(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = unsigned(c - 'A' + 10);
        else return false;
        v = v << 4 | d;
    }
    out = v;
    return true;
}

void split(sv s, std::vector<sv> &w)
{
    w.clear();
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t j = i;
        while (j < s.size() && s[j] != ' ' && s[j] != '\t')
            j++;
        if (j > i)
            w.push_back(s.substr(i, j - i));
        i = j;
    }
}

// Strips trailing ',' ')' and leading '(' from a word ("0xfee00030," -> "0xfee00030").
sv trim_punct(sv s)
{
    while (!s.empty() && (s.back() == ',' || s.back() == ')' || s.back() == ':'))
        s.remove_suffix(1);
    while (!s.empty() && s.front() == '(')
        s.remove_prefix(1);
    return s;
}

// Field access on one line's words, failing with the line's position.
struct Fields {
    const std::string &file;
    uint64_t line;
    sv event;
    const std::vector<sv> &w;

    [[noreturn]] void bad(const std::string &why) const
    {
        fail(file, line, std::string(event) + ": " + why);
    }
    // The number after the word `key` ("iova 0x1000"), or after "key=" ("addr=0x1000,").
    uint64_t num(sv key) const
    {
        for (size_t i = 0; i < w.size(); i++) {
            if (w[i] == key) {
                if (i + 1 >= w.size())
                    bad("missing value for '" + std::string(key) + "'");
                return parse(key, trim_punct(w[i + 1]));
            }
            if (w[i].size() > key.size() && w[i].substr(0, key.size()) == key &&
                w[i][key.size()] == '=')
                return parse(key, trim_punct(w[i].substr(key.size() + 1)));
        }
        bad("missing '" + std::string(key) + "'");
    }
    bool has(sv key) const
    {
        for (sv x : w)
            if (x == key || (x.size() > key.size() && x.substr(0, key.size()) == key &&
                             x[key.size()] == '='))
                return true;
        return false;
    }
    uint64_t parse(sv key, sv v) const
    {
        uint64_t out;
        if (!parse_u64(v, out))
            bad("bad number '" + std::string(v) + "' for '" + std::string(key) + "'");
        return out;
    }
    sv word(size_t i, const char *what) const
    {
        if (i >= w.size())
            bad(std::string("missing ") + what);
        return w[i];
    }
};

// ---- reading lines: gzip or plain --------------------------------------------------------

class LineReader {
public:
    explicit LineReader(const std::string &path) : path_(path)
    {
        gz_ = gzopen(path.c_str(), "rb");
        if (!gz_)
            throw ImportError(path + ": cannot open (" + std::strerror(errno) + ")");
        gzbuffer(gz_, 1 << 18);
    }
    ~LineReader() { gzclose(gz_); }
    LineReader(const LineReader &) = delete;
    LineReader &operator=(const LineReader &) = delete;

    // The next line without its newline; false at the end. Throws for gzip data cut short or
    // corrupt, and for a read error.
    bool next(std::string &line)
    {
        line.clear();
        char buf[4096];
        for (;;) {
            if (!gzgets(gz_, buf, sizeof buf)) {
                check();
                if (line.empty())
                    return false;
                break;
            }
            size_t n = std::strlen(buf);
            line.append(buf, n);
            if (n && buf[n - 1] == '\n') {
                line.pop_back();
                break;
            }
            if (gzeof(gz_)) {
                check();
                break;
            }
        }
        lineno_++;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        return true;
    }
    uint64_t lineno() const { return lineno_; }
    const std::string &path() const { return path_; }

private:
    void check()
    {
        int err = Z_OK;
        const char *msg = gzerror(gz_, &err);
        if (err == Z_OK || err == Z_STREAM_END)
            return;
        std::string why = err == Z_BUF_ERROR ? "gzip data cut short (truncated file)"
                          : err == Z_ERRNO   ? std::string("read error: ") + std::strerror(errno)
                                             : std::string("corrupt gzip data: ") + msg;
        fail(path_, lineno_ + 1, why);
    }
    std::string path_;
    gzFile gz_;
    uint64_t lineno_ = 0;
};

// ---- what the two files hold -------------------------------------------------------------

enum GKind : uint8_t { GK_MAP, GK_UNMAP, GK_QI, GK_MARK };

struct GuestEv {
    uint8_t kind;
    int phase = 0;      // GK_MARK: the phase number
    uint32_t line = 0;  // line in the ftrace file
    int64_t t_ns = 0;   // guest time
    uint64_t iova = 0, pa = 0, len = 0; // map/unmap
    uint64_t w0 = 0, w1 = 0;            // qi: descriptor words
};

enum HKind : uint8_t { HK_DMA, HK_INV, HK_MSI, HK_PHASE, HK_FAULT };
enum HFlags : uint8_t {
    HF_EXACT = 1,     // dma: direction and length from an iommu_dma line
    HF_PERM = 2,      // dma: leaf permissions known (QEMU IOTLB line)
    HF_DOORBELL = 4,  // dma: NVMe shadow doorbell / event index buffer
    HF_FAULT = 8,     // dma: denied in the real run
    HF_DID = 16,      // dma: domain known from QEMU's IOTLB line
    HF_DECIDED = 32,  // dma: direction/length decided
};

struct HostEv {
    uint8_t kind;
    uint8_t flags = 0;
    uint8_t op = 0;       // dma: IOMMU_ACC_R or IOMMU_ACC_W
    uint8_t perm = 3;     // dma: leaf R=1 W=2
    bool len_from_dma = false; // dma: its iommu_dma line was seen
    uint16_t sid = 0;
    uint16_t did = 0;     // dma: domain
    uint32_t line = 0;    // line in the QEMU log
    uint32_t len = 0;     // dma: bytes in this page
    uint32_t index = 0;   // msi: IRTE index; phase: number
    int64_t t_us = 0;     // host wall clock
    uint64_t iova = 0;    // dma: first byte; msi: address
    uint64_t gpa = 0;     // dma: translated 4 KB page; msi: data
    uint64_t lo = 0, hi = 0; // inv: descriptor words; msi: IRTE (true halves)
};

struct DevInfo {
    std::string model;     // "nvme", "e1000e", "virtio" or QEMU's name
    bool has_did = false;
    uint16_t did = 0;
    uint8_t mode = MODE_SL;
    uint32_t did_line = 0; // where the domain was learnt (QEMU log line)
};

// Keys of (domain, 4 KB page) and (page, physical page) maps.
struct Key2 {
    uint64_t a, b;
    bool operator==(const Key2 &o) const { return a == o.a && b == o.b; }
};
struct Key2Hash {
    size_t operator()(const Key2 &k) const
    {
        uint64_t h = k.a * 0x9E3779B97F4A7C15ull ^ (k.b + 0x632BE59BD9B4E019ull + (k.a << 6));
        return size_t(h ^ (h >> 31));
    }
};

// ---- direction and length of a stock translation (docs/validation.md, "Direction") ---------

// Decides pending translations of one device when the next event of its device model
// arrives (QEMU traces most device events after the DMA they describe, so the next event
// tells what the last accesses were).
class Inference {
public:
    Inference(std::vector<HostEv> &H, Summary &sum) : H_(H), sum_(sum) {}

    void set_model_sid(const std::string &model, uint16_t sid) { sid_of_[model].insert(sid); }
    // The single device of a model, or SID_NONE.
    uint16_t unique_sid(const std::string &model) const
    {
        auto it = sid_of_.find(model);
        return it != sid_of_.end() && it->second.size() == 1 ? *it->second.begin() : SID_NONE;
    }
    void translation(size_t h, const std::string &model)
    {
        if (model.empty() || unique_sid(model) == SID_NONE) {
            decide(h, nullptr, false, "");
            return;
        }
        pending_[model].push_back(h);
    }

    // A device event (name without the model prefix kept whole) with its parsed fields.
    struct Ev {
        std::string model;
        sv name;
        uint64_t a = 0, b = 0, c = 0;
    };
    void device_event(const Ev &e)
    {
        auto &p = pending_[e.model];
        writable_.clear();
        if (e.name == "virtqueue_pop" && e.a > 0) {
            // The last translations before the pop mapped its buffers, the device-writable
            // (in) ones last; a buffer crossing a page boundary takes one per page.
            uint64_t buffers = 0;
            for (size_t i = p.size(); i-- > 0 && buffers < e.a;) {
                writable_.insert(p[i]);
                const HostEv &cur = H_[p[i]];
                const bool joined = i > 0 && (cur.iova & (PAGE - 1)) == 0 &&
                                    H_[p[i - 1]].iova + (PAGE - (H_[p[i - 1]].iova & (PAGE - 1))) == cur.iova;
                if (!joined)
                    buffers++;
            }
        }
        for (size_t i = 0; i < p.size(); i++)
            decide(p[i], &e, i + 1 == p.size(), e.model);
        p.clear();
        apply(e);
    }
    void finish()
    {
        for (auto &kv : pending_) {
            for (size_t h : kv.second)
                decide(h, nullptr, false, kv.first);
            kv.second.clear();
        }
        // Virtio split rings: on a page where the device wrote used-ring elements, the used
        // ring starts 4 bytes before the lowest element (flags, idx); below it lies the
        // available ring, which the device reads. Other pages it reads in 16-byte steps are
        // descriptor tables.
        for (size_t h : deferred_) {
            HostEv &d = H_[h];
            const uint64_t page = d.iova & PAGE_MASK, off = d.iova & (PAGE - 1);
            const char *rule;
            auto s = used_elem_.find(d.sid);
            if (s != used_elem_.end() && s->second.count(page)) {
                const uint64_t used = s->second[page] >= 4 ? s->second[page] - 4 : 0;
                if (off >= used)
                    d.op = IOMMU_ACC_W, d.len = 2, rule = "virtio used ring index (write 2)";
                else
                    d.op = IOMMU_ACC_R, d.len = 2, rule = "virtio available ring (read 2)";
            } else if (off % 16 == 0) {
                d.op = IOMMU_ACC_R, d.len = 16, rule = "virtio descriptor (read 16)";
            } else {
                d.op = IOMMU_ACC_R, d.len = 2, rule = "virtio ring (read 2)";
            }
            d.len = uint32_t(std::min<uint64_t>(d.len, PAGE - off));
            sum_.infer_rules[rule]++;
        }
        deferred_.clear();
    }
    uint64_t dbs_page = UINT64_MAX, eis_page = UINT64_MAX; // NVMe shadow doorbell buffers
    size_t dbbuf_at = SIZE_MAX; // H index at pci_nvme_dbbuf_config

private:
    struct Range {
        uint64_t lo, hi;
        uint8_t op;
    };
    void decide(size_t h, const Ev *next, bool last, const std::string &model)
    {
        HostEv &d = H_[h];
        if (d.flags & (HF_EXACT | HF_DECIDED))
            return;
        d.flags |= HF_DECIDED;
        uint64_t a = d.iova, rem = PAGE - (a & (PAGE - 1));
        uint8_t op = IOMMU_ACC_R;
        uint64_t len = rem;
        const char *rule = "default (read, rest of the page)";
        auto in = [&](const std::vector<Range> &rs, Range &hit) {
            for (auto it = rs.rbegin(); it != rs.rend(); ++it)
                if (a >= it->lo && a < it->hi) {
                    hit = *it;
                    return true;
                }
            return false;
        };
        Range r{};
        bool ro = (d.flags & HF_PERM) && !(d.perm & 2);
        if (model == "nvme") {
            if ((a & PAGE_MASK) == dbs_page) {
                op = IOMMU_ACC_R, len = 4, rule = "nvme shadow doorbell (read 4)";
            } else if ((a & PAGE_MASK) == eis_page) {
                op = IOMMU_ACC_W, len = 4, rule = "nvme event index (write 4)";
            } else if (in(nvme_data_, r)) {
                op = r.op, len = r.hi - a, rule = "nvme data (command direction, map_addr length)";
            } else if (in(nvme_prp_lists_, r)) {
                op = IOMMU_ACC_R, rule = "nvme PRP list (read, rest of the page)";
            } else if (in(nvme_sq_, r)) {
                op = IOMMU_ACC_R, len = 64, rule = "nvme submission queue entry (read 64)";
            } else if (in(nvme_cq_, r) && !ro) {
                op = IOMMU_ACC_W, len = 16, rule = "nvme completion queue entry (write 16)";
            } else if (next && last && (next->name == "pci_nvme_io_cmd" ||
                                        next->name == "pci_nvme_admin_cmd" ||
                                        next->name == "pci_nvme_map_prp" ||
                                        next->name == "pci_nvme_enqueue_req_completion")) {
                op = IOMMU_ACC_R, len = 64, rule = "nvme submission queue entry (read 64)";
            } else if (next && last && next->name == "pci_nvme_irq_msix" && !ro) {
                op = IOMMU_ACC_W, len = 16, rule = "nvme completion queue entry (write 16)";
            }
        } else if (model == "e1000e") {
            if (next && next->name == "e1000e_rx_descr" && a == next->a) {
                op = IOMMU_ACC_R, len = 16, rule = "e1000e descriptor fetch (read 16)";
            } else if (next && last && next->name == "e1000e_tx_descr" && !ro) {
                op = IOMMU_ACC_R, len = 16, rule = "e1000e descriptor fetch (read 16)";
            } else if (a == e1000e_tx_buf_) {
                op = IOMMU_ACC_R, len = e1000e_tx_len_, rule = "e1000e transmit buffer (read, descriptor length)";
                e1000e_tx_buf_ = UINT64_MAX;
            } else if (e1000e_rx_ && in(e1000e_buf_, r)) {
                op = IOMMU_ACC_W, len = r.hi - a, rule = "e1000e receive buffer (write, event length)";
            } else if (e1000e_rx_ && a == e1000e_desc_) {
                op = IOMMU_ACC_W, len = 16, rule = "e1000e descriptor write-back (write 16)";
            } else if (!ro) {
                op = IOMMU_ACC_W, len = 4, rule = "e1000e status write-back (write 4)";
            }
        } else if (model == "virtio") {
            if (last_virtio_ == "virtqueue_fill" && !ro) {
                op = IOMMU_ACC_W, len = 8, rule = "virtio used-ring element (write 8)";
                auto &pages = used_elem_[d.sid];
                auto it = pages.find(a & PAGE_MASK);
                if (it == pages.end())
                    pages[a & PAGE_MASK] = a & (PAGE - 1);
                else
                    it->second = std::min<uint64_t>(it->second, a & (PAGE - 1));
            } else if (writable_.count(h) && !ro) {
                op = IOMMU_ACC_W, rule = "virtio device-writable buffer (write, rest of the page)";
            } else if (!ro) {
                deferred_.push_back(h); // ring or descriptor table: decided by page in finish()
                d.op = IOMMU_ACC_R;
                d.len = 2;
                return;
            }
        }
        if (ro && op == IOMMU_ACC_W) {
            op = IOMMU_ACC_R;
            rule = "read-only leaf PTE (read)";
        } else if (ro && std::strncmp(rule, "default", 7) == 0) {
            rule = "read-only leaf PTE (read)";
        }
        d.op = op;
        d.len = uint32_t(std::max<uint64_t>(1, std::min(len, rem)));
        sum_.infer_rules[rule]++;
    }
    void apply(const Ev &e)
    {
        if (e.model == "nvme") {
            if (e.name == "pci_nvme_read" || e.name == "pci_nvme_write" ||
                e.name == "pci_nvme_io_cmd") {
                nvme_data_.clear();
                nvme_prp_lists_.clear();
                if (e.name == "pci_nvme_read") nvme_dir_ = IOMMU_ACC_W;
                if (e.name == "pci_nvme_write") nvme_dir_ = IOMMU_ACC_R;
            } else if (e.name == "dma_blk_io") {
                nvme_dir_ = e.a ? IOMMU_ACC_R : IOMMU_ACC_W;
                for (Range &r : nvme_data_)
                    r.op = nvme_dir_;
            } else if (e.name == "pci_nvme_map_addr") {
                nvme_data_.push_back({e.a, e.a + e.b, nvme_dir_});
            } else if (e.name == "pci_nvme_map_prp") {
                // prp2 points to a PRP list when the transfer needs more than two pages
                if (e.b && e.c > 2)
                    nvme_prp_lists_.push_back({e.b, e.b + 8 * (e.c - 1), IOMMU_ACC_R});
            } else if (e.name == "pci_nvme_create_sq") {
                nvme_sq_.push_back({e.a, e.a + 64 * (e.b + 1), IOMMU_ACC_R});
            } else if (e.name == "pci_nvme_create_cq") {
                nvme_cq_.push_back({e.a, e.a + 16 * (e.b + 1), IOMMU_ACC_W});
            } else if (e.name == "pci_nvme_dbbuf_config") {
                dbs_page = e.a & PAGE_MASK;
                eis_page = e.b & PAGE_MASK;
                dbbuf_at = H_.size();
            }
        } else if (e.model == "e1000e") {
            if (e.name == "e1000e_tx_descr") {
                e1000e_tx_buf_ = e.a;
                e1000e_tx_len_ = e.b & 0xffff;
            } else if (e.name == "e1000e_rx_descr") {
                e1000e_desc_ = e.a;
            } else if (e.name == "e1000e_rx_desc_buff_write") {
                if (!e1000e_rx_)
                    e1000e_buf_.clear();
                e1000e_rx_ = true;
                e1000e_buf_.push_back({e.a, e.a + e.b, IOMMU_ACC_W});
            } else if (e.name == "e1000e_rx_written_to_guest") {
                e1000e_rx_ = false;
                e1000e_buf_.clear();
            }
        } else if (e.model == "virtio") {
            last_virtio_ = std::string(e.name);
        }
    }

    std::vector<HostEv> &H_;
    Summary &sum_;
    std::map<std::string, std::set<uint16_t>> sid_of_;
    std::map<std::string, std::vector<size_t>> pending_;
    uint8_t nvme_dir_ = IOMMU_ACC_W;
    std::vector<Range> nvme_data_, nvme_prp_lists_, nvme_sq_, nvme_cq_;
    bool e1000e_rx_ = false;
    uint64_t e1000e_desc_ = UINT64_MAX;
    uint64_t e1000e_tx_buf_ = UINT64_MAX, e1000e_tx_len_ = 0; // last transmit descriptor's buffer
    std::vector<size_t> deferred_;                            // virtio ring accesses
    std::set<size_t> writable_; // translations of a popped element's device-writable buffers
    std::map<uint16_t, std::map<uint64_t, uint64_t>> used_elem_; // sid -> page -> lowest element offset
    std::vector<Range> e1000e_buf_;
    std::string last_virtio_;
};

// Device model of a QEMU device name (pci_cfg_write) or trace event name; "" if none.
std::string model_of_device(sv name)
{
    if (name == "nvme") return "nvme";
    if (name == "e1000e") return "e1000e";
    if (name.substr(0, 6) == "virtio") return "virtio";
    return "";
}
std::string model_of_event(sv ev)
{
    if (ev.substr(0, 9) == "pci_nvme_" || ev == "dma_blk_io") return "nvme";
    if (ev.substr(0, 7) == "e1000e_") return "e1000e";
    if (ev.substr(0, 10) == "virtqueue_" || ev.substr(0, 7) == "virtio_") return "virtio";
    return "";
}

// ---- the importer --------------------------------------------------------------------------

class Importer {
public:
    Importer(const Options &o, Summary &s) : opt_(o), sum_(s), inf_(H_, s) {}

    void run()
    {
        read_ftrace();
        read_qemu();
        align();
        interpolate();
        attribute_maps();
        walk_with_repairs();
        // Each DMA goes to the mapping nearest its place; once placed, the guest events sit
        // nearer their true places, so a second round can correct the first one's choices.
        ref_ = x0_;
        for (int round = 0; round < 3; round++) {
            attribute_dmas();
            solve();
            if (sum_.constraints_dropped == 0 || ref_ == x_)
                break;
            ref_ = x_;
        }
        emit();
    }

private:
    // ---- 1. guest ftrace -------------------------------------------------------------------
    void read_ftrace()
    {
        LineReader in(opt_.ftrace);
        std::string line;
        std::vector<sv> w;
        std::string iommu_name;
        bool done = false;
        while (in.next(line)) {
            sum_.ftrace_lines++;
            if (done)
                continue; // phase 14 and after: read only to check the file is whole
            const uint64_t ln = in.lineno();
            sv l(line);
            size_t b = l.find_first_not_of(" \t");
            if (b == sv::npos)
                continue;
            l.remove_prefix(b);
            if (l[0] == '#') {
                check_ftrace_header(l, ln);
                continue;
            }
            if (l.substr(0, 4) == "CPU:" && l.find("LOST") != sv::npos)
                fail(opt_.ftrace, ln, "the ftrace ring buffer lost events: maps are missing "
                                      "(capture with a larger buffer_size_kb)");
            // TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: ARGS
            size_t rb = l.find("] ");
            if (l.find('[') == sv::npos || rb == sv::npos)
                fail(opt_.ftrace, ln, "not an ftrace event line (expected 'TASK-PID [CPU] ... "
                                      "TIMESTAMP: EVENT: ...')");
            sv rest = l.substr(rb + 2);
            split(rest, w);
            size_t ti = 0;
            int64_t t_ns = -1;
            for (; ti < w.size() && ti < 3; ti++)
                if (parse_ftrace_time(w[ti], t_ns))
                    break;
            if (t_ns < 0 || ti + 1 >= w.size())
                fail(opt_.ftrace, ln, "not an ftrace event line (no 'TIMESTAMP: EVENT:')");
            sv ev = w[ti + 1];
            if (ev.size() < 2 || ev.back() != ':')
                fail(opt_.ftrace, ln, "not an ftrace event line (no 'EVENT:' after the timestamp)");
            ev.remove_suffix(1);
            // the event's arguments: everything after "EVENT: "
            size_t at = size_t(w[ti + 1].data() + w[ti + 1].size() - rest.data());
            sv args = rest.substr(std::min(rest.size(), at + 1));
            std::vector<sv> a;
            split(args, a);
            Fields f{opt_.ftrace, ln, ev, a};
            GuestEv g{};
            g.line = uint32_t(ln);
            g.t_ns = t_ns;
            if (ev == "map") {
                g.kind = GK_MAP;
                parse_range(f, a, g, true);
                sum_.guest_maps++;
            } else if (ev == "unmap") {
                g.kind = GK_UNMAP;
                parse_range(f, a, g, false);
                sum_.guest_unmaps++;
                if (g.len == 0)
                    continue; // nothing was unmapped
            } else if (ev == "qi_submit") {
                // "iotlb_inv dmar0: 0x400f2 0xfffff000 0x0 0x0"
                if (a.size() != 6 || a[1].size() < 2 || a[1].back() != ':')
                    f.bad("expected 'TYPE IOMMU: QW0 QW1 QW2 QW3'");
                sv name = a[1].substr(0, a[1].size() - 1);
                if (iommu_name.empty())
                    iommu_name = std::string(name);
                else if (name != iommu_name)
                    f.bad("descriptors for two IOMMUs (" + iommu_name + ", " + std::string(name) +
                          "): one-IOMMU captures only");
                uint64_t q[4];
                for (int i = 0; i < 4; i++)
                    if (!parse_hex_digits(a[2 + i], q[i]) || a[2 + i].substr(0, 2) != "0x")
                        f.bad("bad descriptor word '" + std::string(a[2 + i]) + "'");
                g.kind = GK_QI;
                g.w0 = q[0];
                g.w1 = q[1];
            } else if (ev == "tracing_mark_write") {
                if (a.size() < 2 || a[0] != "PHASE")
                    continue; // some other marker
                uint64_t n;
                if (!parse_u64(a[1], n) || n > 255)
                    f.bad("bad phase number '" + std::string(a[1]) + "'");
                if (int(n) >= LAST_PHASE + 1) {
                    done = true;
                    continue;
                }
                g.kind = GK_MARK;
                g.phase = int(n);
            } else if (ev == "io_page_fault") {
                sum_.guest_page_faults++;
                continue;
            } else {
                continue; // add_device_to_group, attach_device_to_domain, ...: informative
            }
            G_.push_back(g);
        }
        if (G_.empty())
            throw ImportError(opt_.ftrace + ": no iommu map/unmap or qi_submit events (is this a "
                                            "guest ftrace with the iommu and intel_iommu events?)");
    }

    void check_ftrace_header(sv l, uint64_t ln)
    {
        // "# entries-in-buffer/entries-written: 17460/17460   #P:1"
        size_t p = l.find("entries-in-buffer/entries-written:");
        if (p == sv::npos)
            return;
        std::vector<sv> w;
        split(l.substr(p + 34), w);
        if (w.empty())
            return;
        size_t slash = w[0].find('/');
        uint64_t kept, written;
        if (slash == sv::npos || !parse_u64(w[0].substr(0, slash), kept) ||
            !parse_u64(w[0].substr(slash + 1), written))
            fail(opt_.ftrace, ln, "bad entries-in-buffer/entries-written header");
        if (kept != written)
            fail(opt_.ftrace, ln, "the ftrace ring buffer overflowed (" + std::to_string(kept) +
                                      " of " + std::to_string(written) +
                                      " entries kept): the oldest maps are missing");
    }

    static bool parse_ftrace_time(sv s, int64_t &ns)
    {
        if (s.size() < 3 || s.back() != ':')
            return false;
        s.remove_suffix(1);
        size_t dot = s.find('.');
        if (dot == sv::npos || dot == 0 || dot + 1 >= s.size())
            return false;
        uint64_t sec, frac;
        sv fs = s.substr(dot + 1);
        if (!parse_u64(s.substr(0, dot), sec) || fs.size() > 9 || !parse_u64(fs, frac) ||
            fs.find('x') != sv::npos)
            return false;
        for (size_t i = fs.size(); i < 9; i++)
            frac *= 10;
        ns = int64_t(sec * 1000000000ull + frac);
        return true;
    }

    // "IOMMU: iova=0x... - 0x... paddr=0x... size=N" / "... size=N unmapped_size=M"
    void parse_range(const Fields &f, const std::vector<sv> &a, GuestEv &g, bool is_map)
    {
        uint64_t iova = f.num("iova");
        size_t dash = 0;
        while (dash < a.size() && a[dash] != "-")
            dash++;
        uint64_t end;
        if (dash + 1 >= a.size() || !parse_u64(a[dash + 1], end))
            f.bad("expected 'iova=START - END'");
        uint64_t size = f.num("size");
        if (end - iova != size)
            f.bad("iova range " + hex(iova) + " - " + hex(end) + " does not match size " +
                  std::to_string(size));
        g.iova = iova;
        g.len = size;
        if (is_map) {
            g.pa = f.num("paddr");
            if (size == 0)
                f.bad("size must be > 0");
        } else {
            uint64_t done = f.num("unmapped_size");
            if (done > size)
                f.bad("unmapped_size larger than size");
            g.len = done;
        }
        if ((iova | g.len | g.pa) & (PAGE - 1))
            f.bad("not aligned to 4 KB (iova " + hex(iova) + ", size " + hex(g.len) +
                  (is_map ? ", paddr " + hex(g.pa) : std::string()) + ")");
        if (iova + g.len < iova)
            f.bad("range wraps past 2^64");
    }

    // ---- 2. QEMU log --------------------------------------------------------------------
    void read_qemu()
    {
        LineReader in(opt_.qemu);
        std::string line;
        std::vector<sv> w;
        bool done = false;
        // The last QEMU IOTLB line (hit or update): it precedes its vtd_dmar_translate.
        struct {
            bool valid = false;
            uint16_t sid;
            uint64_t addr, slpte;
            uint16_t did;
        } tlb;
        // The interrupt being remapped.
        struct {
            bool req = false, irte = false, ioapic = false;
            uint64_t addr = 0, data = 0, lo = 0, hi = 0;
            uint32_t index = 0;
        } ir;
        std::string last_dev_model; // model of the last device event (MSI source fallback)
        bool have_dma_fault_lines = false;
        while (in.next(line)) {
            sum_.qemu_lines++;
            if (done)
                continue;
            const uint64_t ln = in.lineno();
            if (line.empty())
                continue;
            if (line[0] < '0' || line[0] > '9')
                continue; // QEMU's own messages ("qemu-system-x86_64: warning: ...")
            // PID@SECONDS.MICROS:EVENT ARGS
            sv l(line);
            size_t at = l.find('@'), colon = l.find(':');
            if (at == sv::npos || colon == sv::npos || colon < at)
                fail(opt_.qemu, ln, "not a QEMU trace line (expected PID@SECONDS.MICROS:EVENT ...)");
            sv ts = l.substr(at + 1, colon - at - 1);
            size_t dot = ts.find('.');
            uint64_t sec, usec, pid;
            if (!parse_u64(l.substr(0, at), pid) || dot == sv::npos ||
                !parse_u64(ts.substr(0, dot), sec) || !parse_u64(ts.substr(dot + 1), usec) ||
                ts.find('x') != sv::npos)
                fail(opt_.qemu, ln, "not a QEMU trace line (expected PID@SECONDS.MICROS:EVENT ...)");
            const int64_t t_us = int64_t(sec * 1000000 + usec);
            sv rest = l.substr(colon + 1);
            size_t sp = rest.find(' ');
            sv ev = rest.substr(0, sp);
            sv args = sp == sv::npos ? sv() : rest.substr(sp + 1);
            split(args, w);
            Fields f{opt_.qemu, ln, ev, w};

            if (ev == "vtd_iotlb_page_update" || ev == "vtd_iotlb_page_hit") {
                // "IOTLB page hit sid 0x10 iova 0xffffe040 slpte 0x686e003 domain 0x4"
                tlb.valid = true;
                tlb.sid = uint16_t(f.num("sid"));
                tlb.addr = f.num("iova");
                tlb.slpte = f.num("slpte");
                tlb.did = uint16_t(f.num("domain"));
            } else if (ev == "vtd_iotlb_cc_hit" || ev == "vtd_iotlb_cc_update") {
                // "IOTLB context hit bus 0x0 devfn 0x10 high 0x402 low 0x28c1001 gen 1"
                uint16_t sid = uint16_t((f.num("bus") & 0xff) << 8 | (f.num("devfn") & 0xff));
                uint64_t hi = f.num("high"), lo = f.num("low");
                learn_domain(sid, uint16_t(hi >> 8), ((lo >> 2) & 3) == 2 ? MODE_PT : MODE_SL, ln);
            } else if (ev == "vtd_dmar_translate") {
                // "dev 00:02.00 iova 0xffffe000 -> gpa 0x686e000 mask 0xfff"
                sv dev = f.word(1, "device");
                uint64_t bus, slot, fn;
                size_t c1 = dev.find(':'), d1 = dev.find('.');
                if (c1 == sv::npos || d1 == sv::npos || d1 < c1 ||
                    !parse_hex_digits(dev.substr(0, c1), bus) ||
                    !parse_hex_digits(dev.substr(c1 + 1, d1 - c1 - 1), slot) ||
                    !parse_hex_digits(dev.substr(d1 + 1), fn) || bus > 0xff || slot > 0x1f || fn > 7)
                    f.bad("bad device '" + std::string(dev) + "'");
                uint64_t iova = f.num("iova"), gpa = f.num("gpa"), mask = f.num("mask");
                if (((mask + 1) & mask) != 0 || mask < PAGE - 1)
                    f.bad("bad page mask " + hex(mask));
                HostEv d{};
                d.kind = HK_DMA;
                d.line = uint32_t(ln);
                d.t_us = t_us;
                d.sid = uint16_t(bus << 8 | slot << 3 | fn);
                d.iova = iova;
                if (tlb.valid && tlb.sid == d.sid && (tlb.addr & ~mask) == (iova & ~mask)) {
                    d.iova = tlb.addr; // the exact address (the translate line is page-aligned)
                    d.perm = uint8_t(tlb.slpte & 3);
                    d.did = tlb.did;
                    d.flags |= HF_PERM | HF_DID;
                }
                tlb.valid = false;
                d.gpa = (gpa & ~mask) + (d.iova & mask & PAGE_MASK);
                d.len = uint32_t(PAGE - (d.iova & (PAGE - 1)));
                sum_.translations++;
                H_.push_back(d);
                inf_.translation(H_.size() - 1, devices_[d.sid].model);
            } else if (ev == "iommu_dma") {
                // "vtd-02.0-dmar iova 0xfffdf000 len 0x1000 w 1 gpa 0x8dfc000 mask 0xfff"
                sum_.patched = true;
                uint64_t iova = f.num("iova"), len = f.num("len"), wr = f.num("w");
                if (len == 0)
                    f.bad("len must be > 0");
                // its translation: the last untouched one of this page by this slot.function
                const uint16_t devfn = sid_of_as(f, f.word(0, "address space"));
                size_t k = H_.size();
                for (size_t back = 0; k > 0 && back < 16; back++) {
                    const HostEv &c = H_[k - 1];
                    if (c.kind == HK_DMA && !(c.flags & (HF_EXACT | HF_FAULT)) &&
                        (c.sid & 0xff) == devfn && (c.iova & PAGE_MASK) == (iova & PAGE_MASK) &&
                        !c.len_from_dma)
                        break;
                    k--;
                }
                if (k == 0 || H_[k - 1].kind != HK_DMA || (H_[k - 1].sid & 0xff) != devfn ||
                    (H_[k - 1].iova & PAGE_MASK) != (iova & PAGE_MASK) || H_[k - 1].len_from_dma)
                    f.bad("no vtd_dmar_translate of page " + hex(iova & PAGE_MASK) + " just before it");
                H_[k - 1].len_from_dma = true;
                if (!opt_.infer_dma) {
                    HostEv &d = H_[k - 1];
                    d.iova = iova;
                    d.op = wr ? IOMMU_ACC_W : IOMMU_ACC_R;
                    d.len = uint32_t(std::min<uint64_t>(len, PAGE - (iova & (PAGE - 1))));
                    d.flags |= HF_EXACT;
                }
            } else if (ev == "iommu_dma_fault") {
                // "vtd-02.0-dmar iova 0x... len 0x... w 1 ..." (len and w optional)
                have_dma_fault_lines = true;
                sum_.capture_faults++;
                HostEv d{};
                d.kind = HK_DMA;
                d.flags = HF_FAULT | HF_EXACT;
                d.line = uint32_t(ln);
                d.t_us = t_us;
                d.sid = sid_of_as(f, f.word(0, "address space"));
                d.iova = f.num("iova");
                uint64_t len = f.has("len") ? f.num("len") : 1;
                d.len = uint32_t(std::max<uint64_t>(1, std::min<uint64_t>(len, PAGE - (d.iova & (PAGE - 1)))));
                d.op = f.has("w") && f.num("w") ? IOMMU_ACC_W : IOMMU_ACC_R;
                H_.push_back(d);
            } else if (ev == "vtd_dmar_fault") {
                // "sid 0x10 fault 5 addr 0x... write 1"
                HostEv d{};
                d.kind = HK_FAULT;
                d.line = uint32_t(ln);
                d.t_us = t_us;
                d.sid = uint16_t(f.num("sid"));
                d.iova = f.num("addr");
                d.op = f.num("write") ? IOMMU_ACC_W : IOMMU_ACC_R;
                d.len = 1;
                H_.push_back(d);
            } else if (ev == "vtd_inv_desc") {
                // "invalidate desc type iotlb high 0x... low 0x..."
                if (!f.has("type") || !f.has("high") || !f.has("low"))
                    f.bad("expected 'invalidate desc type TYPE high QW1 low QW0'");
                HostEv d{};
                d.kind = HK_INV;
                d.line = uint32_t(ln);
                d.t_us = t_us;
                d.hi = f.num("high");
                d.lo = f.num("low");
                sv type;
                for (size_t i = 0; i + 1 < w.size(); i++)
                    if (w[i] == "type")
                        type = w[i + 1];
                static const std::pair<const char *, unsigned> known[] = {
                    {"context-cache", 1}, {"iotlb", 2}, {"iec", 4}, {"wait", 5}};
                for (auto &k : known)
                    if (type == k.first && (d.lo & 0xf) != k.second)
                        f.bad("type '" + std::string(type) + "' but the descriptor's type field is " +
                              std::to_string(d.lo & 0xf));
                iommu_trace_event e;
                std::string why;
                if (!decode_desc(d.lo, d.hi, &e, &why))
                    f.bad(why);
                H_.push_back(d);
            } else if (ev == "vtd_ir_remap_msi_req") {
                ir = {};
                ir.req = true;
                ir.addr = f.num("addr");
                ir.data = f.num("data");
            } else if (ev == "vtd_ir_irte_get") {
                // "index 11 low 0x4ff00 high 0x1000023000d" (QEMU prints the halves swapped)
                uint64_t plo = f.num("low"), phi = f.num("high");
                ir.index = uint32_t(f.num("index"));
                if (ir.index > 0xffff)
                    f.bad("index " + std::to_string(ir.index) + " out of range");
                // The present bit (bit 0) is in the true low half.
                bool swapped = (phi & 1) || !(plo & 1);
                ir.lo = swapped ? phi : plo;
                ir.hi = swapped ? plo : phi;
                ir.irte = true;
            } else if (ev == "vtd_ir_remap_type") {
                ir.ioapic = f.word(0, "type") == "IOAPIC";
            } else if (ev == "vtd_ir_remap_msi") {
                // "(addr 0xfee00030, data 0x2) -> (addr 0xfee0100c, data 0x4030)"
                std::vector<sv> ww;
                for (sv x : w)
                    ww.push_back(trim_punct(x));
                Fields g{opt_.qemu, ln, ev, ww};
                uint64_t addr = g.num("addr"), data = g.num("data");
                if (!ir.irte) {
                    sum_.msi_not_remapped++; // compatibility format, or remapping off
                    ir = {};
                    continue;
                }
                if (addr < IOMMU_IRQ_RANGE_BASE || addr > IOMMU_IRQ_RANGE_LAST || data > 0xffffffffu)
                    f.bad("MSI address " + hex(addr) + " outside the interrupt range");
                HostEv m{};
                m.kind = HK_MSI;
                m.line = uint32_t(ln);
                m.t_us = t_us;
                m.iova = addr;
                m.gpa = data;
                m.index = ir.index;
                m.lo = ir.lo;
                m.hi = ir.hi;
                unsigned svt = unsigned(ir.hi >> 18) & 3, sq = unsigned(ir.hi >> 16) & 3;
                if (svt == 1 && sq == 0) {
                    m.sid = uint16_t(ir.hi & 0xffff); // the IRTE names its source (verified)
                    sum_.msi_sid_from_irte++;
                } else {
                    uint16_t s = ir.ioapic ? SID_NONE : inf_.unique_sid(last_dev_model);
                    m.sid = s;
                }
                sum_.msi_remapped++;
                H_.push_back(m);
                ir = {};
            } else if (ev == "pci_cfg_write") {
                // "mch 00:00.0 @0x3c <- 0x1"
                if (w.size() < 5)
                    f.bad("expected 'NAME BB:DD.F @REG <- VALUE'");
                uint16_t sid = parse_bdf(f, w[1]);
                std::string model = model_of_device(w[0]);
                DevInfo &di = devices_[sid];
                if (di.model.empty() && !model.empty()) {
                    di.model = model;
                    inf_.set_model_sid(model, sid);
                }
                if (sid == 0 && w[2] == "@0x3c") {
                    uint64_t n;
                    if (!parse_u64(w[4], n))
                        f.bad("bad value '" + std::string(w[4]) + "'");
                    HostEv p{};
                    p.kind = HK_PHASE;
                    p.line = uint32_t(ln);
                    p.t_us = t_us;
                    p.index = uint32_t(n);
                    H_.push_back(p);
                    if (n > LAST_PHASE)
                        done = true;
                }
            } else {
                std::string model = model_of_event(ev);
                if (!model.empty()) {
                    last_dev_model = model;
                    device_event(f, model, ev, w);
                }
            }
        }
        inf_.finish();
        mark_doorbells();
        if (!have_dma_fault_lines) {
            // stock capture: the recorded faults are the requests to replay as faults
            for (HostEv &h : H_)
                if (h.kind == HK_FAULT) {
                    sum_.capture_faults++;
                    h.kind = HK_DMA;
                    h.flags |= HF_FAULT | HF_EXACT;
                }
        }
        for (HostEv &h : H_) {
            if (h.kind != HK_DMA || (h.flags & HF_FAULT))
                continue;
            if (h.flags & HF_EXACT)
                sum_.dma_exact++;
            else
                sum_.dma_inferred++;
            if (!(h.flags & HF_DID)) {
                const DevInfo &di = devices_[h.sid];
                if (!di.has_did)
                    fail(opt_.qemu, h.line, "translation for " + sid_str(h.sid) +
                                                " whose domain is unknown (no IOTLB or context line)");
                h.did = di.did;
            }
            learn_domain(h.sid, h.did, MODE_SL, h.line);
        }
        if (H_.empty())
            throw ImportError(opt_.qemu + ": no VT-d events (is this a QEMU -trace log with vtd_* events?)");
    }

    uint16_t parse_bdf(const Fields &f, sv s)
    {
        uint64_t bus, dev, fn;
        size_t c = s.find(':'), d = s.find('.');
        if (c == sv::npos || d == sv::npos || d < c || !parse_hex_digits(s.substr(0, c), bus) ||
            !parse_hex_digits(s.substr(c + 1, d - c - 1), dev) ||
            !parse_hex_digits(s.substr(d + 1), fn) || bus > 0xff || dev > 0x1f || fn > 7)
            f.bad("bad device address '" + std::string(s) + "'");
        return uint16_t(bus << 8 | dev << 3 | fn);
    }

    // "vtd-02.0-dmar" -> 00:02.0 (QEMU names the address space by slot.function).
    uint16_t sid_of_as(const Fields &f, sv as)
    {
        uint64_t slot, fn;
        size_t d = as.find('.');
        if (as.substr(0, 4) != "vtd-" || d == sv::npos || d + 1 >= as.size() ||
            !parse_hex_digits(as.substr(4, d - 4), slot) ||
            !parse_hex_digits(as.substr(d + 1, 1), fn) || slot > 0x1f || fn > 7)
            f.bad("bad address space '" + std::string(as) + "' (expected vtd-SS.F...)");
        return uint16_t(slot << 3 | fn);
    }

    // NVMe shadow doorbell and event-index buffers: the pages pci_nvme_dbbuf_config names,
    // while they hold the physical page they had at the first access after it (the
    // controller also writes the initial values just before it traces the command).
    void mark_doorbells()
    {
        const uint16_t nvme = inf_.unique_sid("nvme");
        if (nvme == SID_NONE || inf_.dbbuf_at == SIZE_MAX)
            return;
        for (uint64_t page : {inf_.dbs_page, inf_.eis_page}) {
            uint64_t gpa = UINT64_MAX;
            for (size_t h = inf_.dbbuf_at; h < H_.size() && gpa == UINT64_MAX; h++)
                if (H_[h].kind == HK_DMA && H_[h].sid == nvme && (H_[h].iova & PAGE_MASK) == page)
                    gpa = H_[h].gpa;
            for (HostEv &d : H_)
                if (d.kind == HK_DMA && d.sid == nvme && !(d.flags & HF_FAULT) &&
                    (d.iova & PAGE_MASK) == page && d.gpa == gpa)
                    d.flags |= HF_DOORBELL;
        }
    }

    void device_event(const Fields &f, const std::string &model, sv ev, const std::vector<sv> &w)
    {
        Inference::Ev e;
        e.model = model;
        e.name = ev;
        if (ev == "pci_nvme_dbbuf_config") {
            e.a = f.num("dbs_addr");
            e.b = f.num("eis_addr");
        } else if (ev == "pci_nvme_create_sq" || ev == "pci_nvme_create_cq") {
            e.a = f.num("addr");
            e.b = f.num("qsize");
        } else if (ev == "pci_nvme_map_addr") {
            e.a = f.num("addr");
            e.b = f.num("len");
        } else if (ev == "pci_nvme_map_prp") {
            e.a = f.num("prp1");
            e.b = f.num("prp2");
            e.c = f.num("num_prps");
        } else if (ev == "dma_blk_io") {
            e.a = f.num("to_dev");
        } else if (ev == "e1000e_rx_descr") {
            e.a = f.num("PA:");
        } else if (ev == "e1000e_rx_desc_buff_write") {
            e.a = f.num("addr:");
            e.b = f.num("length:");
        } else if (ev == "e1000e_tx_descr") {
            // "0xffefc002 : 8b00005a 0": buffer address, then the descriptor's lower dword
            uint64_t lower;
            if (!parse_u64(f.word(0, "buffer address"), e.a) || f.word(1, "':'") != ":" ||
                !parse_hex_digits(f.word(2, "descriptor word"), lower))
                f.bad("expected 'ADDR : LOWER UPPER'");
            e.b = lower;
        } else if (ev == "virtqueue_pop") {
            e.a = f.num("in_num");
            e.b = f.num("out_num");
        }
        (void)w;
        inf_.device_event(e);
    }

    void learn_domain(uint16_t sid, uint16_t did, uint8_t mode, uint64_t ln)
    {
        DevInfo &d = devices_[sid];
        if (!d.has_did) {
            d.has_did = true;
            d.did = did;
            d.mode = mode;
            d.did_line = uint32_t(ln);
        } else if (d.did != did) {
            fail(opt_.qemu, ln, "device " + sid_str(sid) + " moves from domain " +
                                    std::to_string(d.did) + " to " + std::to_string(did) +
                                    " (re-attached devices are not supported)");
        }
    }

    // ---- 4. anchors --------------------------------------------------------------------
    void align()
    {
        std::vector<size_t> hq;   // QEMU non-wait descriptors (H indices)
        for (size_t i = 0; i < H_.size(); i++)
            if (H_[i].kind == HK_INV && (H_[i].lo & 0xf) != 5)
                hq.push_back(i);
        std::vector<size_t> gq;   // guest descriptors (G indices)
        for (size_t i = 0; i < G_.size(); i++)
            if (G_[i].kind == GK_QI)
                gq.push_back(i);
        anchor_of_.assign(G_.size(), NONE);
        if (gq.size() > hq.size())
            fail(opt_.ftrace, G_[gq[0]].line,
                 "the guest submitted " + std::to_string(gq.size()) + " descriptors but QEMU " +
                     "executed only " + std::to_string(hq.size()) +
                     " (are the two files from the same run?)");
        // First guess: the guest's first phase marker and QEMU's marker of the same phase
        // have the same number of descriptors before them on each side.
        long guess = 0;
        for (size_t gi = 0; gi < G_.size(); gi++) {
            if (G_[gi].kind != GK_MARK)
                continue;
            long hpos = -1;
            for (size_t h = 0; h < H_.size(); h++)
                if (H_[h].kind == HK_PHASE && int(H_[h].index) == G_[gi].phase) {
                    hpos = long(h);
                    break;
                }
            if (hpos < 0)
                break;
            long qb = long(std::lower_bound(hq.begin(), hq.end(), size_t(hpos)) - hq.begin());
            long gb = long(std::lower_bound(gq.begin(), gq.end(), gi) - gq.begin());
            guess = qb - gb;
            break;
        }
        const long span = long(hq.size() - gq.size());
        auto matches = [&](long k) {
            for (size_t i = 0; i < gq.size(); i++) {
                const HostEv &h = H_[hq[size_t(k) + i]];
                if (h.lo != G_[gq[i]].w0 || h.hi != G_[gq[i]].w1)
                    return false;
            }
            return true;
        };
        long k = -1;
        for (long d = 0; d <= span + std::labs(guess); d++) {
            for (long c : {guess - d, guess + d})
                if (c >= 0 && c <= span && matches(c)) {
                    k = c;
                    break;
                }
            if (k >= 0)
                break;
        }
        if (k < 0) {
            // Name the first mismatch at the best guess.
            long c = std::min(std::max(guess, 0l), span);
            for (size_t i = 0; i < gq.size(); i++) {
                const HostEv &h = H_[hq[size_t(c) + i]];
                const GuestEv &g = G_[gq[i]];
                if (h.lo != g.w0 || h.hi != g.w1)
                    fail(opt_.ftrace, g.line,
                         "qi_submit " + hex(g.w0) + " " + hex(g.w1) + " has no counterpart in the QEMU log (" +
                             opt_.qemu + ":" + std::to_string(h.line) + " has " + hex(h.lo) + " " + hex(h.hi) +
                             "): the descriptor streams do not match");
            }
            fail(opt_.ftrace, G_[gq[0]].line, "the descriptor streams do not match");
        }
        if (!opt_.no_desc_anchors)
            for (size_t i = 0; i < gq.size(); i++)
                anchor_of_[gq[i]] = long(hq[size_t(k) + i]);
        sum_.descs_matched = gq.size();
        sum_.descs_unmatched_qemu = hq.size() - gq.size();
    }

    // Guest time -> host slot between anchors (phase markers are soft anchors).
    void interpolate()
    {
        const size_t nG = G_.size();
        lo_.assign(nG, 0);
        hi_.assign(nG, long(H_.size()));
        long prev = -1;
        for (size_t i = 0; i < nG; i++) {
            if (anchor_of_[i] != NONE) {
                prev = anchor_of_[i];
                lo_[i] = prev;
            } else {
                lo_[i] = prev + 1;
            }
        }
        long next = long(H_.size());
        for (size_t i = nG; i-- > 0;) {
            if (anchor_of_[i] != NONE) {
                next = anchor_of_[i];
                hi_[i] = next;
            } else {
                hi_[i] = next;
            }
        }
        // (guest ns, host us) pairs, monotone on both axes
        std::vector<std::pair<double, double>> pts;
        std::map<int, long> phase_h;
        for (size_t h = 0; h < H_.size(); h++)
            if (H_[h].kind == HK_PHASE && !phase_h.count(int(H_[h].index)))
                phase_h[int(H_[h].index)] = long(h);
        for (size_t i = 0; i < nG; i++) {
            long h = anchor_of_[i];
            if (h == NONE && G_[i].kind == GK_MARK) {
                auto it = phase_h.find(G_[i].phase);
                if (it != phase_h.end() && it->second >= lo_[i] && it->second <= hi_[i])
                    h = it->second;
            }
            if (h == NONE)
                continue;
            double gt = double(G_[i].t_ns), ht = double(H_[size_t(h)].t_us);
            if (!pts.empty() && (gt < pts.back().first || ht < pts.back().second))
                continue;
            pts.push_back({gt, ht});
        }
        std::vector<int64_t> ht(H_.size());
        for (size_t h = 0; h < H_.size(); h++)
            ht[h] = H_[h].t_us;
        x0_.assign(nG, 0);
        for (size_t i = 0; i < nG; i++) {
            long x;
            if (anchor_of_[i] != NONE) {
                x = anchor_of_[i];
            } else {
                double t = double(G_[i].t_ns), m;
                if (pts.empty()) {
                    m = double(ht.empty() ? 0 : ht[0]);
                } else {
                    auto it = std::lower_bound(pts.begin(), pts.end(), std::make_pair(t, -1e300));
                    if (it == pts.begin())
                        m = pts.front().second - (pts.front().first - t) / 1000.0;
                    else if (it == pts.end())
                        m = pts.back().second + (t - pts.back().first) / 1000.0;
                    else {
                        auto a = *(it - 1), b = *it;
                        m = b.first == a.first ? a.second
                                               : a.second + (b.second - a.second) * (t - a.first) / (b.first - a.first);
                    }
                }
                x = long(std::lower_bound(ht.begin(), ht.end(), int64_t(std::ceil(m))) - ht.begin());
                x = std::min(std::max(x, lo_[i]), hi_[i]);
            }
            if (i > 0 && x < x0_[i - 1])
                x = std::min(x0_[i - 1], hi_[i]);
            x0_[i] = x;
        }
    }

    // ---- 5. domains of maps and unmaps ----------------------------------------------------

    // The domain of the page-selective IOTLB invalidation right after guest event i (skipping
    // events of kind `skip`), if it covers `page`; -1 otherwise. With caching mode on, Linux
    // notifies every map and (strict) flushes every unmap this way.
    int qi_did_after(size_t i, uint8_t skip, uint64_t page) const
    {
        size_t j = i + 1;
        while (j < G_.size() && G_[j].kind == skip)
            j++;
        if (j >= G_.size() || G_[j].kind != GK_QI)
            return NONE;
        uint64_t w0 = G_[j].w0, w1 = G_[j].w1;
        if ((w0 & 0xf) != 2 || ((w0 >> 4) & 3) != 3)
            return NONE;
        uint64_t am = w1 & 0x3f, base = w1 & PAGE_MASK;
        if (am > 51 || page < base || page - base >= (PAGE << am))
            return NONE;
        return int((w0 >> 16) & 0xffff);
    }

    void attribute_maps()
    {
        // (page, physical page) -> DMAs (host index, domain), in host order
        for (size_t h = 0; h < H_.size(); h++) {
            const HostEv &d = H_[h];
            if (d.kind != HK_DMA || (d.flags & HF_FAULT))
                continue;
            by_pagepa_[Key2{d.iova & PAGE_MASK, d.gpa}].push_back({long(h), d.did});
            by_dp_[Key2{d.did, d.iova & PAGE_MASK}].push_back({long(h), d.gpa});
            domains_.insert(d.did);
        }
        for (auto &kv : devices_)
            if (kv.second.has_did)
                domains_.insert(kv.second.did);
        map_did_.assign(G_.size(), NONE);
        for (size_t i = 0; i < G_.size(); i++) {
            const GuestEv &g = G_[i];
            if (g.kind == GK_MAP)
                for (uint64_t o = 0; o < g.len; o += PAGE)
                    maps_of_page_[g.iova + o].push_back(long(i));
            if (g.kind == GK_UNMAP)
                for (uint64_t o = 0; o < g.len; o += PAGE)
                    unmaps_of_page_[g.iova + o].push_back(long(i));
            if (g.kind != GK_MAP)
                continue;
            int did = qi_did_after(i, GK_MAP, g.iova);
            if (did != NONE) {
                map_did_[i] = did;
                map_how_[i] = 1;
                domains_.insert(uint16_t(did));
                continue;
            }
            // The DMA using one of its pages with the same physical page, nearest after the
            // map's estimated place (one before it counts four times its distance).
            long best = -1, best_dist = 0;
            for (uint64_t o = 0; o < g.len; o += PAGE) {
                auto it = by_pagepa_.find(Key2{g.iova + o, g.pa + o});
                if (it == by_pagepa_.end())
                    continue;
                const auto &v = it->second;
                auto p = std::lower_bound(v.begin(), v.end(), std::make_pair(x0_[i], uint16_t(0)));
                if (p != v.end()) {
                    long dist = p->first - x0_[i];
                    if (best < 0 || dist < best_dist)
                        best = p->second, best_dist = dist;
                }
                if (p != v.begin()) {
                    --p;
                    long dist = 4 * (x0_[i] - p->first);
                    if (best < 0 || dist < best_dist)
                        best = p->second, best_dist = dist;
                }
            }
            if (best >= 0) {
                map_did_[i] = int(best);
                map_how_[i] = 2;
            }
        }
    }

    struct LivePage {
        long map;             // guest index of the map
        uint64_t grp_lo, grp_hi; // the allocation: a run of ascending contiguous maps
    };
    struct Interval {
        long map, unmap;      // guest indices (unmap NONE: never unmapped)
        uint64_t pa;          // physical page
        uint16_t did;
        uint64_t page;
    };

    // One pass over the guest events in order, keeping each domain's live pages; returns
    // false (after recording an override) when a map found its pages already mapped and an
    // earlier unmap can be moved to that domain to explain it.
    bool walk(std::map<long, int> &overrides, bool last_try)
    {
        const size_t nG = G_.size();
        std::unordered_map<Key2, LivePage, Key2Hash> live;
        did_.assign(nG, NONE);
        pieces_.assign(nG, {});
        forced_.assign(nG, {});
        intervals_.clear();
        ivs_of_.clear();
        auto set_live = [&](uint16_t d, uint64_t p, LivePage lp) {
            live[Key2{d, p}] = lp;
        };
        auto close = [&](uint16_t d, uint64_t p, long at) {
            auto it = ivs_of_.find(Key2{d, p});
            if (it != ivs_of_.end() && !it->second.empty())
                intervals_[size_t(it->second.back())].unmap = at;
            live.erase(Key2{d, p});
        };
        // nearest attributed map before / after each evidence-free map
        std::vector<long> prev_attr(nG, NONE), next_attr(nG, NONE);
        long last = NONE;
        for (size_t i = 0; i < nG; i++) {
            prev_attr[i] = last;
            if (G_[i].kind == GK_MAP && map_did_[i] != NONE)
                last = long(i);
        }
        last = NONE;
        for (size_t i = nG; i-- > 0;) {
            next_attr[i] = last;
            if (G_[i].kind == GK_MAP && map_did_[i] != NONE)
                last = long(i);
        }
        uint64_t grp_lo = 0, grp_hi = 0;
        int grp_did = NONE;
        for (size_t i = 0; i < nG; i++) {
            const GuestEv &g = G_[i];
            if (g.kind == GK_MAP) {
                int d = map_did_[i];
                if (d == NONE) {
                    // no evidence: the domain of the nearest (in guest time) map that has one,
                    // or of the other neighbour, or any, where the pages are free
                    std::vector<int> pref;
                    long a = prev_attr[i], b = next_attr[i];
                    if (a != NONE && (b == NONE || g.t_ns - G_[size_t(a)].t_ns <= G_[size_t(b)].t_ns - g.t_ns)) {
                        pref.push_back(map_did_[size_t(a)]);
                        if (b != NONE) pref.push_back(map_did_[size_t(b)]);
                    } else {
                        if (b != NONE) pref.push_back(map_did_[size_t(b)]);
                        if (a != NONE) pref.push_back(map_did_[size_t(a)]);
                    }
                    for (uint16_t x : domains_)
                        pref.push_back(x);
                    for (int c : pref) {
                        bool free = true;
                        for (uint64_t o = 0; o < g.len && free; o += PAGE)
                            free = !live.count(Key2{uint16_t(c), g.iova + o});
                        if (free) {
                            d = c;
                            break;
                        }
                    }
                    if (d == NONE && !pref.empty())
                        d = pref[0];
                    if (d == NONE)
                        fail(opt_.ftrace, g.line, "map of " + hex(g.iova) +
                                                      " cannot be given a domain (no device is known)");
                }
                did_[i] = d;
                const uint16_t dd = uint16_t(d);
                if (grp_did == d && i > 0 && G_[i - 1].kind == GK_MAP && grp_hi == g.iova)
                    grp_hi = g.iova + g.len;
                else
                    grp_lo = g.iova, grp_hi = g.iova + g.len, grp_did = d;
                for (uint64_t o = 0; o < g.len; o += PAGE) {
                    const uint64_t p = g.iova + o;
                    auto it = live.find(Key2{dd, p});
                    if (it != live.end()) {
                        if (!last_try && repair(overrides, dd, p, it->second.map, long(i)))
                            return false;
                        forced_[i].push_back(p);
                        close(dd, p, long(i));
                    }
                    set_live(dd, p, LivePage{long(i), grp_lo, grp_hi});
                    ivs_of_[Key2{dd, p}].push_back(long(intervals_.size()));
                    intervals_.push_back(Interval{long(i), NONE, g.pa + o, dd, p});
                }
                // the group's earlier pages belong to the grown group too
                for (uint64_t a = grp_lo; a < g.iova; a += PAGE) {
                    auto it = live.find(Key2{dd, a});
                    if (it != live.end() && it->second.grp_lo == grp_lo)
                        it->second.grp_hi = grp_hi;
                }
            } else if (g.kind == GK_UNMAP) {
                grp_did = NONE;
                // the candidates: the domains in which the first page of the range that is
                // mapped anywhere is mapped
                uint64_t pk = g.iova;
                std::vector<uint16_t> cands;
                for (uint64_t o = 0; o < g.len && cands.empty(); o += PAGE) {
                    pk = g.iova + o;
                    for (uint16_t d : domains_)
                        if (live.count(Key2{d, pk}))
                            cands.push_back(d);
                }
                const uint64_t p0 = g.iova;
                if (cands.empty()) {
                    unmap_how_[i] = 4;
                    continue; // not mapped in the guest trace: nothing to emit
                }
                int d = NONE;
                auto ov = overrides.find(long(i));
                int qd = qi_did_after(i, GK_UNMAP, p0);
                if (ov != overrides.end() &&
                    std::find(cands.begin(), cands.end(), uint16_t(ov->second)) != cands.end()) {
                    d = ov->second;
                    unmap_how_[i] = 3;
                } else if (qd != NONE &&
                           std::find(cands.begin(), cands.end(), uint16_t(qd)) != cands.end()) {
                    d = qd;
                    unmap_how_[i] = 1;
                } else if (cands.size() == 1) {
                    d = cands[0];
                    unmap_how_[i] = 2;
                } else {
                    d = choose_unmap_domain(i, pk, cands, live);
                    unmap_how_[i] = 3;
                }
                const uint16_t dd = uint16_t(d);
                uint64_t run = 0, run_len = 0;
                for (uint64_t o = 0; o < g.len; o += PAGE) {
                    const uint64_t p = p0 + o;
                    if (live.count(Key2{dd, p})) {
                        close(dd, p, long(i));
                        if (run_len && run + run_len == p)
                            run_len += PAGE;
                        else {
                            if (run_len)
                                pieces_[i].push_back({run, run_len});
                            run = p, run_len = PAGE;
                        }
                    }
                }
                if (run_len)
                    pieces_[i].push_back({run, run_len});
                did_[i] = d;
            } else {
                grp_did = NONE;
            }
        }
        return true;
    }

    // An ambiguous unmap (its first mapped page p0 is live in several domains): drop those whose
    // mapping is still used by a DMA that cannot come before this unmap; then prefer the
    // domain whose live allocation is exactly this range, then the one that maps the page
    // again soonest, then the most recent mapping.
    int choose_unmap_domain(size_t i, uint64_t p0, std::vector<uint16_t> cands,
                            const std::unordered_map<Key2, LivePage, Key2Hash> &live)
    {
        const GuestEv &g = G_[i];
        auto mapping_pa = [&](uint16_t d) {
            const GuestEv &m = G_[size_t(live.at(Key2{d, p0}).map)];
            return m.pa + (p0 - m.iova);
        };
        auto next_map = [&](uint16_t d, bool same_pa) -> long {
            auto it = maps_of_page_.find(p0);
            if (it == maps_of_page_.end())
                return LONG_MAX;
            for (long j : it->second) {
                if (j <= long(i) || map_did_[size_t(j)] != d)
                    continue;
                if (same_pa && G_[size_t(j)].pa + (p0 - G_[size_t(j)].iova) != mapping_pa(d))
                    continue;
                return j;
            }
            return LONG_MAX;
        };
        auto feasible = [&](uint16_t d) {
            const uint64_t pa = mapping_pa(d);
            long nm = next_map(d, true);
            long limit = nm == LONG_MAX ? LONG_MAX : lo_[size_t(nm)];
            auto it = by_dp_.find(Key2{d, p0});
            if (it == by_dp_.end())
                return true;
            auto p = std::lower_bound(it->second.begin(), it->second.end(),
                                      std::make_pair(hi_[i], uint64_t(0)));
            for (; p != it->second.end() && p->first < limit; ++p)
                if (p->second == pa)
                    return false;
            return true;
        };
        std::vector<uint16_t> ok;
        for (uint16_t d : cands)
            if (feasible(d))
                ok.push_back(d);
        if (!ok.empty())
            cands = ok;
        if (cands.size() == 1)
            return cands[0];
        std::vector<uint16_t> exact;
        for (uint16_t d : cands) {
            const LivePage &lp = live.at(Key2{d, p0});
            if (lp.grp_lo == g.iova && lp.grp_hi == g.iova + g.len)
                exact.push_back(d);
        }
        if (exact.size() == 1)
            return exact[0];
        if (!exact.empty())
            cands = exact;
        long best_next = LONG_MAX;
        int best = NONE;
        bool differ = false;
        for (uint16_t d : cands) {
            long nm = next_map(d, false);
            if (best != NONE && nm != best_next)
                differ = true;
            if (best == NONE || nm < best_next)
                best = d, best_next = nm;
        }
        if (differ)
            return best;
        long newest = -1;
        for (uint16_t d : cands)
            if (live.at(Key2{d, p0}).map > newest)
                newest = live.at(Key2{d, p0}).map, best = d;
        return best;
    }

    // Map `at` found page p live in domain d since map `since`: the latest unmap in between
    // that covered p and went to another domain is taken to be d's.
    bool repair(std::map<long, int> &overrides, uint16_t d, uint64_t p, long since, long at)
    {
        auto it = unmaps_of_page_.find(p);
        if (it == unmaps_of_page_.end())
            return false;
        const auto &v = it->second;
        for (auto u = v.rbegin(); u != v.rend(); ++u) {
            if (*u >= at)
                continue;
            if (*u <= since)
                break;
            if (did_[size_t(*u)] == int(d))
                continue;
            auto o = overrides.find(*u);
            if (o != overrides.end() && o->second == int(d))
                continue;
            overrides[*u] = d;
            return true;
        }
        return false;
    }

    void walk_with_repairs()
    {
        std::map<long, int> overrides;
        int tries = 0;
        while (!walk(overrides, tries >= 400))
            tries++;
        sum_.unmap_repairs = overrides.size();
        for (size_t i = 0; i < G_.size(); i++) {
            sum_.forced_unmaps += forced_[i].size();
            if (G_[i].kind == GK_MAP) {
                int h = map_how_.count(i) ? map_how_[i] : 0;
                (h == 1 ? sum_.maps_by_qi : h == 2 ? sum_.maps_by_dma : sum_.maps_by_neighbour)++;
            } else if (G_[i].kind == GK_UNMAP) {
                int h = unmap_how_.count(i) ? unmap_how_[i] : 4;
                (h == 1 ? sum_.unmaps_by_qi : h == 2 ? sum_.unmaps_single
                          : h == 3 ? sum_.unmaps_chosen : sum_.unmaps_not_mapped)++;
            }
        }
    }

    // ---- 6. DMAs to mappings, and the order ------------------------------------------------
    void attribute_dmas()
    {
        const size_t nG = G_.size();
        lb_.assign(nG, 0);
        ub_.assign(nG, long(H_.size()));
        map_perm_.assign(nG, 0);
        cons_.clear();
        sum_.dma_unattributed = 0;
        // The mappings of one page of a domain follow each other in guest order, and the DMAs
        // they serve in host order: a DMA never goes to an earlier mapping than the DMA of
        // the same page before it.
        std::unordered_map<Key2, size_t, Key2Hash> first_pos;
        for (size_t h = 0; h < H_.size(); h++) {
            HostEv &d = H_[h];
            if (d.kind != HK_DMA || (d.flags & HF_FAULT) ||
                ((d.flags & HF_DOORBELL) && !opt_.keep_doorbells))
                continue;
            const Key2 key{d.did, d.iova & PAGE_MASK};
            auto it = ivs_of_.find(key);
            long best = NONE, best_dist = 0;
            size_t best_pos = 0;
            for (int pass = 0; pass < 2 && best == NONE; pass++) {
                if (it == ivs_of_.end())
                    break;
                for (size_t pos = first_pos[key]; pos < it->second.size(); pos++) {
                    const long k = it->second[pos];
                    const Interval &v = intervals_[size_t(k)];
                    if (pass == 0 && v.pa != d.gpa)
                        continue;
                    if (lo_[size_t(v.map)] > long(h) || (v.unmap != NONE && hi_[size_t(v.unmap)] <= long(h)))
                        continue;
                    long a = ref_[size_t(v.map)], b = v.unmap == NONE ? LONG_MAX : ref_[size_t(v.unmap)];
                    long dist = (a <= long(h) && long(h) < b) ? 0 : long(h) < a ? a - long(h) : long(h) - b + 1;
                    if (best == NONE || dist < best_dist)
                        best = k, best_dist = dist, best_pos = pos;
                }
            }
            if (best == NONE) {
                sum_.dma_unattributed++;
                continue;
            }
            first_pos[key] = best_pos;
            const Interval &v = intervals_[size_t(best)];
            cons_.push_back(Constraint{long(h), v.map, v.unmap, true});
            if (d.flags & HF_PERM)
                map_perm_[size_t(v.map)] |= d.perm;
        }
    }

    struct Constraint {
        long h, map, unmap;
        bool active;
    };

    void solve()
    {
        sum_.constraints_dropped = 0;
        sum_.dma_moved = 0;
        const size_t nG = G_.size();
        std::vector<long> LB(nG), UB(nG);
        for (int iter = 0;; iter++) {
            std::fill(lb_.begin(), lb_.end(), 0);
            std::fill(ub_.begin(), ub_.end(), long(H_.size()));
            std::vector<long> lb_src(nG, NONE), ub_src(nG, NONE);
            for (size_t c = 0; c < cons_.size(); c++) {
                const Constraint &k = cons_[c];
                if (!k.active)
                    continue;
                if (k.h < ub_[size_t(k.map)])
                    ub_[size_t(k.map)] = k.h, ub_src[size_t(k.map)] = long(c);
                if (k.unmap != NONE && k.h + 1 > lb_[size_t(k.unmap)])
                    lb_[size_t(k.unmap)] = k.h + 1, lb_src[size_t(k.unmap)] = long(c);
            }
            std::vector<long> LBsrc(nG), UBsrc(nG);
            long m = 0, ms = NONE;
            for (size_t i = 0; i < nG; i++) {
                if (lo_[i] > m) m = lo_[i], ms = NONE;
                if (lb_[i] > m) m = lb_[i], ms = lb_src[i];
                LB[i] = m, LBsrc[i] = ms;
            }
            m = long(H_.size()), ms = NONE;
            for (size_t i = nG; i-- > 0;) {
                if (hi_[i] < m) m = hi_[i], ms = NONE;
                if (ub_[i] < m) m = ub_[i], ms = ub_src[i];
                UB[i] = m, UBsrc[i] = ms;
            }
            size_t bad = nG;
            for (size_t i = 0; i < nG; i++)
                if (LB[i] > UB[i]) {
                    bad = i;
                    break;
                }
            if (bad == nG)
                break;
            // drop the DMA constraint(s) behind the conflict (anchors always win)
            bool dropped = false;
            for (long s : {LBsrc[bad], UBsrc[bad]})
                if (s != NONE && cons_[size_t(s)].active) {
                    cons_[size_t(s)].active = false;
                    sum_.constraints_dropped++;
                    dropped = true;
                    break;
                }
            if (!dropped || iter > 100000)
                throw std::runtime_error("internal: cannot order the guest events");
        }
        x_.assign(nG, 0);
        for (size_t i = 0; i < nG; i++) {
            long x = std::min(std::max(x0_[i], LB[i]), UB[i]);
            if (i && x < x_[i - 1])
                x = x_[i - 1];
            x_[i] = x;
            if (x != x0_[i] && (G_[i].kind == GK_MAP || G_[i].kind == GK_UNMAP))
                sum_.dma_moved++;
        }
    }

    // ---- 7. writing ----------------------------------------------------------------------
    struct Out {
        iommu_trace_writer_t *w = nullptr;
        ~Out() { iommu_trace_finish(w, nullptr); }
    };

    void emit()
    {
        iommu_trace_error err{};
        out_.w = iommu_trace_create(opt_.out.c_str(), &err);
        if (!out_.w)
            throw std::runtime_error(err.msg);
        // domain -> its devices
        for (auto &kv : devices_)
            if (kv.second.has_did)
                dom_devs_[kv.second.did].push_back(kv.first);
        // boot-time attach evidence: cc-device for sid S then iotlb-domain D (caching mode)
        std::map<size_t, std::vector<uint16_t>> attach_at;
        for (size_t h = 0; h < H_.size(); h++) {
            const HostEv &e = H_[h];
            if (e.kind != HK_INV || (e.lo & 0xf) != 1 || ((e.lo >> 4) & 3) != 3)
                continue;
            uint16_t sid = uint16_t(e.lo >> 32);
            for (size_t j = h + 1; j < H_.size() && j < h + 8; j++) {
                const HostEv &n = H_[j];
                if (n.kind != HK_INV || (n.lo & 0xf) == 5)
                    continue;
                if ((n.lo & 0xf) == 2 && ((n.lo >> 4) & 3) == 2) {
                    uint16_t did = uint16_t(n.lo >> 16);
                    DevInfo &di = devices_[sid];
                    if (!di.has_did) {
                        di.has_did = true, di.did = did, di.mode = MODE_SL, di.did_line = n.line;
                        dom_devs_[did].push_back(sid);
                    }
                    if (di.did == did)
                        attach_at[h].push_back(sid);
                }
                break;
            }
        }
        int phase = 0;
        size_t gi = 0;
        const size_t nG = G_.size();
        for (size_t h = 0; h <= H_.size(); h++) {
            for (; gi < nG && x_[gi] == long(h); gi++)
                guest_event(gi, phase);
            if (h == H_.size())
                break;
            const HostEv &e = H_[h];
            if (e.kind == HK_PHASE) {
                phase = int(e.index);
                if (phase > LAST_PHASE)
                    break;
                continue;
            }
            auto at = attach_at.find(h);
            if (at != attach_at.end())
                for (uint16_t sid : at->second)
                    attach(sid, phase, e.line);
            host_event(e, phase);
        }
        for (; gi < nG; gi++)
            sum_.filtered_out++; // after the phase-14 marker
        iommu_trace_error ferr{};
        iommu_trace_writer_t *w = out_.w;
        out_.w = nullptr;
        if (iommu_trace_finish(w, &ferr) != IOMMU_OK)
            throw std::runtime_error(ferr.msg);
    }

    bool in_range(int phase) const { return phase >= opt_.phase_lo && phase <= opt_.phase_hi; }

    // Writes ev if its phase is selected (entering the range first writes the state: the
    // attached devices and the live mappings).
    void put(iommu_trace_event &ev, int phase, const std::string &file, uint64_t line)
    {
        if (!in_range(phase)) {
            sum_.filtered_out++;
            return;
        }
        if (!entered_) {
            entered_ = true;
            for (auto &kv : attached_) {
                iommu_trace_event a;
                iommu_trace_event_init(&a, IOMMU_EV_ATTACH);
                a.sid = kv.first;
                a.did = kv.second;
                a.mode = devices_[kv.first].mode;
                write(a, file, line);
            }
            for (auto &dk : live_) {
                auto &pages = dk.second;
                for (auto it = pages.begin(); it != pages.end();) {
                    iommu_trace_event m;
                    iommu_trace_event_init(&m, IOMMU_EV_MAP);
                    m.did = dk.first;
                    m.iova = it->first;
                    m.pa = it->second.first;
                    m.access = it->second.second;
                    m.page_shift = 12;
                    m.len = PAGE;
                    auto n = std::next(it);
                    while (n != pages.end() && n->first == m.iova + m.len &&
                           n->second.first == m.pa + m.len && n->second.second == m.access)
                        m.len += PAGE, ++n;
                    write(m, file, line);
                    sum_.live_maps_at_start++;
                    it = n;
                }
            }
        }
        write(ev, file, line);
    }

    void write(iommu_trace_event &ev, const std::string &file, uint64_t line)
    {
        char why[256];
        if (iommu_trace_event_check(&ev, why, sizeof why) != 0)
            fail(file, line, std::string("cannot convert: ") + why);
        iommu_trace_error err{};
        if (iommu_trace_write(out_.w, &ev, &err) != IOMMU_OK)
            throw std::runtime_error(err.msg);
        sum_.written[ev.type]++;
        if (ev.type == IOMMU_EV_INV)
            sum_.inv_by_type[ev.inv_type]++;
        if (ev.type == IOMMU_EV_ATTACH)
            sum_.devices[ev.sid] = ev.did;
        if (ev.type == IOMMU_EV_DMA)
            sum_.dmas_per_device[ev.sid]++;
        if (ev.type == IOMMU_EV_MAP)
            sum_.maps_per_domain[ev.did]++;
        if (ev.type == IOMMU_EV_UNMAP)
            sum_.unmaps_per_domain[ev.did]++;
    }

    void attach(uint16_t sid, int phase, uint64_t line)
    {
        const DevInfo &di = devices_[sid];
        if (!di.has_did || attached_.count(sid))
            return;
        iommu_trace_event a;
        iommu_trace_event_init(&a, IOMMU_EV_ATTACH);
        a.sid = sid;
        a.did = di.did;
        a.mode = di.mode;
        put(a, phase, opt_.qemu, line); // entering the phases writes the earlier attaches
        attached_[sid] = di.did;
    }
    // Before a map/unmap in domain d: attach its devices (a domain exists once a device is in it).
    bool need_domain(uint16_t d, int phase, uint64_t line)
    {
        auto it = dom_devs_.find(d);
        if (it == dom_devs_.end() || it->second.empty())
            return false;
        for (uint16_t sid : it->second)
            attach(sid, phase, line);
        return true;
    }

    void guest_event(size_t i, int phase)
    {
        const GuestEv &g = G_[i];
        if (g.kind != GK_MAP && g.kind != GK_UNMAP)
            return;
        if (did_[i] == NONE)
            return; // an unmap of something the guest trace never mapped
        const uint16_t d = uint16_t(did_[i]);
        if (!need_domain(d, phase, g.line))
            fail(opt_.ftrace, g.line, "domain " + std::to_string(d) + " has no known device");
        if (g.kind == GK_MAP) {
            for (uint64_t p : forced_[i])
                unmap(d, p, PAGE, phase, g.line);
            iommu_trace_event m;
            iommu_trace_event_init(&m, IOMMU_EV_MAP);
            m.did = d;
            m.iova = g.iova;
            m.pa = g.pa;
            m.len = g.len;
            m.access = map_perm_[i] ? map_perm_[i] : (IOMMU_ACC_R | IOMMU_ACC_W);
            m.page_shift = 12;
            put(m, phase, opt_.ftrace, g.line); // (entering the phases writes the live maps first)
            auto &pages = live_[d];
            for (uint64_t o = 0; o < g.len; o += PAGE)
                pages[g.iova + o] = {g.pa + o, m.access};
        } else {
            for (auto &pc : pieces_[i])
                unmap(d, pc.first, pc.second, phase, g.line);
        }
    }

    void unmap(uint16_t d, uint64_t iova, uint64_t len, int phase, uint64_t line)
    {
        iommu_trace_event u;
        iommu_trace_event_init(&u, IOMMU_EV_UNMAP);
        u.did = d;
        u.iova = iova;
        u.len = len;
        put(u, phase, opt_.ftrace, line);
        auto &pages = live_[d];
        for (uint64_t o = 0; o < len; o += PAGE)
            pages.erase(iova + o);
    }

    void host_event(const HostEv &e, int phase)
    {
        iommu_trace_event ev;
        switch (e.kind) {
        case HK_DMA: {
            if ((e.flags & HF_DOORBELL) && !opt_.keep_doorbells) {
                sum_.doorbells_dropped++;
                return;
            }
            if (e.flags & HF_DOORBELL)
                sum_.doorbells_kept++;
            attach(e.sid, phase, e.line);
            if (!(e.flags & HF_FAULT)) {
                // the ordering guarantee, checked on what is written: the page is mapped in
                // the device's domain, to the page QEMU translated it to
                auto dom = live_.find(attached_.count(e.sid) ? attached_[e.sid] : uint16_t(0xffff));
                auto pg = dom == live_.end() ? decltype(dom->second.end())() : dom->second.find(e.iova & PAGE_MASK);
                if (dom == live_.end() || pg == dom->second.end())
                    sum_.dma_outside++;
                else if (pg->second.first != e.gpa)
                    sum_.dma_pa_differs++;
            }
            iommu_trace_event_init(&ev, IOMMU_EV_DMA);
            ev.sid = e.sid;
            ev.iova = e.iova;
            ev.len = e.len;
            ev.access = e.op ? e.op : uint8_t(IOMMU_ACC_R);
            put(ev, phase, opt_.qemu, e.line);
            return;
        }
        case HK_INV: {
            std::string why;
            if (!decode_desc(e.lo, e.hi, &ev, &why))
                fail(opt_.qemu, e.line, why);
            put(ev, phase, opt_.qemu, e.line);
            return;
        }
        case HK_MSI: {
            auto it = irte_.find(e.index);
            if (in_range(phase) && (it == irte_.end() || it->second != std::make_pair(e.lo, e.hi))) {
                iommu_trace_event r;
                iommu_trace_event_init(&r, IOMMU_EV_IRTE);
                r.index = e.index;
                r.lo = e.lo;
                r.hi = e.hi;
                put(r, phase, opt_.qemu, e.line);
                irte_[e.index] = {e.lo, e.hi};
            }
            iommu_trace_event_init(&ev, IOMMU_EV_MSI);
            ev.sid = e.sid;
            ev.pa = e.iova;
            ev.data = uint32_t(e.gpa);
            put(ev, phase, opt_.qemu, e.line);
            return;
        }
        default:
            return;
        }
    }

    const Options &opt_;
    Summary &sum_;
    std::vector<GuestEv> G_;
    std::vector<HostEv> H_;
    Inference inf_;
    std::map<uint16_t, DevInfo> devices_;
    std::set<uint16_t> domains_;
    // anchors and placement (per guest event)
    std::vector<long> anchor_of_, lo_, hi_, x0_, x_, lb_, ub_;
    std::vector<long> ref_; // positions the DMAs are attributed by: x0_, then the last solution
    // attribution
    std::unordered_map<Key2, std::vector<std::pair<long, uint16_t>>, Key2Hash> by_pagepa_;
    std::unordered_map<Key2, std::vector<std::pair<long, uint64_t>>, Key2Hash> by_dp_;
    std::unordered_map<uint64_t, std::vector<long>> maps_of_page_, unmaps_of_page_;
    std::vector<int> map_did_, did_;
    std::map<size_t, int> map_how_, unmap_how_;
    std::vector<std::vector<std::pair<uint64_t, uint64_t>>> pieces_;
    std::vector<std::vector<uint64_t>> forced_;
    std::vector<Interval> intervals_;
    std::unordered_map<Key2, std::vector<long>, Key2Hash> ivs_of_;
    std::vector<Constraint> cons_;
    std::vector<uint8_t> map_perm_;
    // writing
    Out out_;
    bool entered_ = false;
    std::map<uint16_t, uint16_t> attached_;
    std::map<uint16_t, std::vector<uint16_t>> dom_devs_;
    std::map<uint16_t, std::map<uint64_t, std::pair<uint64_t, uint8_t>>> live_;
    std::map<uint32_t, std::pair<uint64_t, uint64_t>> irte_;
};

} // namespace

bool decode_desc(uint64_t lo, uint64_t hi, iommu_trace_event *ev, std::string *why)
{
    auto bad = [&](const std::string &s) {
        *why = "descriptor " + hex(lo) + " " + hex(hi) + ": " + s;
        return false;
    };
    const unsigned type = unsigned(lo & 0xf) | unsigned((lo >> 5) & 0x70);
    const unsigned g2 = unsigned(lo >> 4) & 3;
    const uint16_t did = uint16_t(lo >> 16);
    iommu_trace_event_init(ev, IOMMU_EV_INV);
    switch (type) {
    case 1: // context-cache invalidate
        if (g2 == 1) ev->inv_type = IOMMU_INV_CC_GLOBAL;
        else if (g2 == 2) ev->inv_type = IOMMU_INV_CC_DOMAIN, ev->did = did;
        else if (g2 == 3) ev->inv_type = IOMMU_INV_CC_DEVICE, ev->did = did, ev->sid = uint16_t(lo >> 32);
        else return bad("context-cache invalidation with reserved granularity 0");
        return true;
    case 2: // IOTLB invalidate
        if (g2 == 1) ev->inv_type = IOMMU_INV_IOTLB_GLOBAL;
        else if (g2 == 2) ev->inv_type = IOMMU_INV_IOTLB_DOMAIN, ev->did = did;
        else if (g2 == 3) {
            const unsigned am = unsigned(hi & 0x3f);
            const uint64_t addr = hi & PAGE_MASK;
            if (am > 51 || (addr & ((PAGE << am) - 1)))
                return bad("page-selective IOTLB invalidation: address " + hex(addr) +
                           " not aligned to 2^" + std::to_string(am) + " pages");
            ev->inv_type = IOMMU_INV_IOTLB_PAGE;
            ev->did = did;
            ev->iova = addr;
            ev->am = uint8_t(am);
            ev->flags |= IOMMU_EVF_ADDR | ((hi >> 6) & 1 ? unsigned(IOMMU_EVF_IH) : 0u);
        } else return bad("IOTLB invalidation with reserved granularity 0");
        return true;
    case 3: { // device-TLB invalidate: size in the address's low set bits when S = 1
        uint64_t addr = hi & PAGE_MASK;
        unsigned am = 0;
        if (hi & 1) {
            uint64_t pfn = addr >> 12;
            while (am < 52 && (pfn >> am) & 1)
                am++;
            am++;
            if (am > 51)
                return bad("device-TLB invalidation size out of range");
            addr &= ~((PAGE << am) - 1);
        }
        ev->inv_type = IOMMU_INV_DEVTLB;
        ev->sid = uint16_t(lo >> 16);
        ev->iova = addr;
        ev->am = uint8_t(am);
        ev->flags |= IOMMU_EVF_ADDR;
        return true;
    }
    case 4: // interrupt entry cache invalidate
        if (!((lo >> 4) & 1)) {
            ev->inv_type = IOMMU_INV_IEC_GLOBAL;
        } else {
            const unsigned im = unsigned(lo >> 27) & 0x1f;
            const uint32_t idx = uint32_t(lo >> 32) & 0xffff;
            if (im > 16 || (idx & ((1u << im) - 1)))
                return bad("index-selective IEC invalidation: index " + std::to_string(idx) +
                           " not aligned to 2^" + std::to_string(im));
            ev->inv_type = IOMMU_INV_IEC_INDEX;
            ev->index = idx;
            ev->am = uint8_t(im);
        }
        return true;
    case 5:
        ev->inv_type = IOMMU_INV_WAIT;
        return true;
    case 6: { // PASID-based IOTLB invalidate
        ev->inv_type = IOMMU_INV_PASID_IOTLB;
        ev->did = did;
        ev->pasid = uint32_t(lo >> 32) & 0xfffff;
        ev->flags |= IOMMU_EVF_PASID;
        if (g2 == 3) {
            const unsigned am = unsigned(hi & 0x3f);
            const uint64_t addr = hi & PAGE_MASK;
            if (am > 51 || (addr & ((PAGE << am) - 1)))
                return bad("PASID IOTLB invalidation: address not aligned to 2^am pages");
            ev->iova = addr;
            ev->am = uint8_t(am);
            ev->flags |= IOMMU_EVF_ADDR | ((hi >> 6) & 1 ? unsigned(IOMMU_EVF_IH) : 0u);
        } else if (g2 != 2) {
            return bad("PASID IOTLB invalidation of granularity " + std::to_string(g2) +
                       " (all PASIDs) has no trace equivalent");
        }
        return true;
    }
    case 7: // PASID-cache invalidate
        ev->inv_type = IOMMU_INV_PASID_CACHE;
        ev->did = did;
        if (g2 == 1) {
            ev->pasid = uint32_t(lo >> 32) & 0xfffff;
            ev->flags |= IOMMU_EVF_PASID;
        } else if (g2 != 0) {
            return bad("global PASID-cache invalidation has no trace equivalent");
        }
        return true;
    default:
        return bad("unknown descriptor type " + std::to_string(type));
    }
}

void run(const Options &opt, Summary &sum)
{
    Importer imp(opt, sum);
    imp.run();
}

void Summary::print(FILE *out, const Options &opt) const
{
    std::fprintf(out, "imported  %s + %s -> %s\n", opt.qemu.c_str(), opt.ftrace.c_str(), opt.out.c_str());
    std::fprintf(out, "capture   %s; QEMU %" PRIu64 " lines, guest ftrace %" PRIu64 " lines\n",
                 patched ? (opt.infer_dma ? "patched (iommu_dma lines ignored: --infer-dma)"
                                          : "patched (per-access iommu_dma lines)")
                         : "stock QEMU events (direction and length inferred)",
                 qemu_lines, ftrace_lines);
    std::fprintf(out, "phases    %d-%d (%" PRIu64 " events outside them dropped)\n", opt.phase_lo,
                 opt.phase_hi, filtered_out);
    uint64_t total = 0;
    for (uint64_t n : written)
        total += n;
    std::fprintf(out, "events    %" PRIu64 "\n", total);
    for (unsigned t = 1; t < 16; t++)
        if (written[t])
            std::fprintf(out, "  %-9s %10" PRIu64 "\n", iommu_ev_name(t), written[t]);
    std::fprintf(out, "devices  ");
    for (auto &kv : devices)
        std::fprintf(out, " %s->domain %u (%" PRIu64 " dma)", sid_str(kv.first).c_str(), kv.second,
                     dmas_per_device.count(kv.first) ? dmas_per_device.at(kv.first) : 0);
    std::fprintf(out, "\ndomains  ");
    std::set<uint16_t> doms;
    for (auto &kv : maps_per_domain) doms.insert(kv.first);
    for (auto &kv : unmaps_per_domain) doms.insert(kv.first);
    for (uint16_t d : doms)
        std::fprintf(out, " %u: %" PRIu64 " maps %" PRIu64 " unmaps;", d,
                     maps_per_domain.count(d) ? maps_per_domain.at(d) : 0,
                     unmaps_per_domain.count(d) ? unmaps_per_domain.at(d) : 0);
    std::fprintf(out, "\nmaps      %" PRIu64 " in the guest trace: domain from the next descriptor %" PRIu64
                      ", from DMAs %" PRIu64 ", from neighbours %" PRIu64 "; %" PRIu64
                      " live at the start of the phases\n",
                 guest_maps, maps_by_qi, maps_by_dma, maps_by_neighbour, live_maps_at_start);
    std::fprintf(out, "unmaps    %" PRIu64 " in the guest trace: domain from the next descriptor %" PRIu64
                      ", only candidate %" PRIu64 ", chosen %" PRIu64 ", never mapped %" PRIu64
                      "; repairs %" PRIu64 ", forced unmaps %" PRIu64 "\n",
                 guest_unmaps, unmaps_by_qi, unmaps_single, unmaps_chosen, unmaps_not_mapped,
                 unmap_repairs, forced_unmaps);
    std::fprintf(out, "descriptors %" PRIu64 " guest qi_submit matched in order to QEMU's (%" PRIu64
                      " more executed before the guest trace began)\n",
                 descs_matched, descs_unmatched_qemu);
    for (unsigned t = 1; t < 16; t++)
        if (inv_by_type[t])
            std::fprintf(out, "  %-13s %8" PRIu64 "\n", iommu_inv_type_name(t), inv_by_type[t]);
    std::fprintf(out, "dma       %" PRIu64 " translations: %" PRIu64 " exact, %" PRIu64
                      " inferred; %" PRIu64 " not explained by a guest mapping; %" PRIu64
                      " maps/unmaps moved to order them, %" PRIu64 " orderings impossible\n",
                 translations, dma_exact, dma_inferred, dma_unattributed, dma_moved, constraints_dropped);
    std::fprintf(out, "check     %" PRIu64 " DMAs written outside a live mapping of their domain, %" PRIu64
                      " to another physical page than QEMU's\n",
                 dma_outside, dma_pa_differs);
    for (auto &kv : infer_rules)
        std::fprintf(out, "  %8" PRIu64 "  %s\n", kv.second, kv.first.c_str());
    if (opt.keep_doorbells)
        std::fprintf(out, "doorbells %" PRIu64 " NVMe shadow-doorbell DMAs kept (--keep-doorbells)\n",
                     doorbells_kept);
    else
        std::fprintf(out, "doorbells %" PRIu64 " NVMe shadow-doorbell DMAs dropped (keep them with --keep-doorbells)\n",
                     doorbells_dropped);
    std::fprintf(out, "msi       %" PRIu64 " remapped (source from the IRTE for %" PRIu64 "), %" PRIu64
                      " not remapped (skipped)\n",
                 msi_remapped, msi_sid_from_irte, msi_not_remapped);
    std::fprintf(out, "faults    %" PRIu64 " in the capture (QEMU), %" PRIu64 " io_page_fault in the guest\n",
                 capture_faults, guest_page_faults);
}

} // namespace linux_import
} // namespace iommusim
