// replay.cpp — `iommusim replay --functional`: streams a trace through the host table
// writer and the translation unit, applying every event in order, and reports the stats.
#include "sim/replay.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include <boost/program_options.hpp>

#include "sim/cli.h"
#include "sim/report.h"
#include "sim/sweep.h"
#include "version.h"

extern "C" {
#include "host/apply.h"
#include "host/host.h"
#include "model/invq/invq.h"
#include "model/iotlb/devtlb.h"
#include "model/iommu/iommu.h"
#include "model/irq_remap/irq_remap.h"
#include "traces/trace.h"
}

using nlohmann::json;
namespace po = boost::program_options;

namespace iommusim {

namespace {

template <typename T, void (*F)(T *)> struct Deleter {
    void operator()(T *p) const { F(p); }
};
using PhysmemPtr = std::unique_ptr<iommu_physmem_t, Deleter<iommu_physmem_t, iommu_physmem_destroy>>;
using StatsPtr = std::unique_ptr<iommu_stats_t, Deleter<iommu_stats_t, iommu_stats_destroy>>;
using HostPtr = std::unique_ptr<iommu_host_t, Deleter<iommu_host_t, iommu_host_destroy>>;
using UnitPtr = std::unique_ptr<iommu_t, Deleter<iommu_t, iommu_destroy>>;
using ReaderPtr = std::unique_ptr<iommu_trace_reader_t, Deleter<iommu_trace_reader_t, iommu_trace_close>>;
using InvqPtr = std::unique_ptr<iommu_invq_t, Deleter<iommu_invq_t, iommu_invq_destroy>>;
using ProtPtr = std::unique_ptr<iommu_prot_t, Deleter<iommu_prot_t, iommu_prot_destroy>>;
using DmaPtr = std::unique_ptr<iommu_dma_t, Deleter<iommu_dma_t, iommu_dma_destroy>>;
using DevtlbPtr = std::unique_ptr<iommu_devtlbs_t, Deleter<iommu_devtlbs_t, iommu_devtlbs_destroy>>;
using IrqPtr = std::unique_ptr<iommu_irq_t, Deleter<iommu_irq_t, iommu_irq_destroy>>;
using IrqHostPtr = std::unique_ptr<iommu_irqhost_t, Deleter<iommu_irqhost_t, iommu_irqhost_destroy>>;


// Replay-level counters, registered in the same registry as the unit's.
struct ReplayCounters {
    uint64_t *ev[IOMMU_EV_NTYPES] = {};
    uint64_t *dma_count, *dma_bytes, *dma_reads, *dma_writes, *dma_faulted, *inv_removed,
        *faults_serviced;
    explicit ReplayCounters(iommu_stats_t *s)
    {
        for (unsigned t = 1; t < IOMMU_EV_NTYPES; t++) {
            std::string n = std::string("events.") + iommu_ev_name(t);
            ev[t] = iommu_stats_counter(s, n.c_str(), "trace events of this type");
        }
        dma_count = iommu_stats_counter(s, "dma.count", "DMA events replayed");
        dma_bytes = iommu_stats_counter(s, "dma.bytes", "bytes of DMA events replayed");
        dma_reads = iommu_stats_counter(s, "dma.reads", "DMA events that read memory");
        dma_writes = iommu_stats_counter(s, "dma.writes", "DMA events that write memory");
        dma_faulted = iommu_stats_counter(s, "dma.faulted", "DMA events ended by a fault");
        inv_removed = iommu_stats_counter(s, "inv.entries_removed",
                                          "cache entries removed by invalidation events");
        faults_serviced = iommu_stats_counter(s, "faults.serviced",
                                              "fault records read and cleared by the host handler");
        for (auto p : {dma_count, dma_bytes, dma_reads, dma_writes, dma_faulted, inv_removed,
                       faults_serviced})
            if (!p)
                throw std::bad_alloc();
    }
};

struct ChunkCtx {
    Sweep *sweep;
    iommu_prot_t *prot;
};

void on_chunk(const iommu_op *op, bool faulted, void *vctx)
{
    auto *c = static_cast<ChunkCtx *>(vctx);
    if (faulted)
        return;
    if (c->sweep && op->report.iotlb_lookup)
        c->sweep->access(op->xlat.did, op->tag_pasid, op->xlat.iova, op->xlat.page_shift);
    iommu_prot_access(c->prot, op->xlat.did, op->xlat.iova, op->report.iotlb_hit);
}

class Replayer {
public:
    Replayer(const Config &cfg, const ReplayOptions &opt)
        : cfg_(cfg.core()), opt_(opt), mem_(iommu_physmem_create()), stats_(iommu_stats_create())
    {
        if (!mem_ || !stats_)
            throw std::bad_alloc();
        host_.reset(iommu_host_create(&cfg_.host, mem_.get()));
        unit_.reset(iommu_create(&cfg_.unit, mem_.get(), stats_.get()));
        if (!host_ || !unit_)
            throw std::runtime_error("cannot create the simulated system (out of memory?)");
        iommu_set_root_table(unit_.get(), iommu_host_rtaddr(host_.get()));
        invq_.reset(iommu_invq_create(unit_.get(), stats_.get()));
        prot_.reset(iommu_prot_create(unit_.get(), stats_.get()));
        if (!invq_ || !prot_)
            throw std::bad_alloc();
        dma_.reset(iommu_dma_create(&cfg_.dma, host_.get(), unit_.get(), invq_.get(), mem_.get(),
                                    prot_.get(), stats_.get()));
        if (!dma_)
            throw std::runtime_error("cannot create the host DMA-API model (out of memory?)");
        iommu_invq_set_observer(invq_.get(), iommu_prot_observer, prot_.get());
        if (cfg_.dma.ats && cfg_.dma.policy != IOMMU_FLUSH_PASSTHROUGH) { // pass-through: no ATS
            devtlb_.reset(iommu_devtlbs_create(&cfg_.devtlb, stats_.get()));
            if (!devtlb_)
                throw std::bad_alloc();
            iommu_invq_set_devtlb_handler(invq_.get(), iommu_devtlbs_invalidate, devtlb_.get());
            iommu_prot_set_devtlbs(prot_.get(), devtlb_.get());
        }
        irq_.reset(iommu_irq_create(unit_.get(), stats_.get()));
        if (!irq_)
            throw std::bad_alloc();
        const char *why = "";
        irqh_.reset(iommu_irqhost_create(&cfg_.irq, irq_.get(), unit_.get(), mem_.get(), dma_.get(),
                                         stats_.get(), &why));
        if (!irqh_)
            throw InputError(*why ? std::string("config: ") + why : "cannot create the interrupt model (out of memory?)");
        env_ = {host_.get(), unit_.get(), invq_.get(), prot_.get(), dma_.get(), mem_.get(), irqh_.get()};
        rc_ = std::make_unique<ReplayCounters>(stats_.get());
        // the invalidation queue's counters, read around every host event (no name lookup)
        const iommu_stat_info *ri = iommu_stats_find(stats_.get(), "inv.removed.iotlb");
        const iommu_stat_info *rcx = iommu_stats_find(stats_.get(), "inv.removed.context");
        if (!ri || !rcx)
            throw std::logic_error("the invalidation queue registers inv.removed.iotlb/context");
        removed_iotlb_ = ri->counter;
        removed_context_ = rcx->counter;
        if (!opt.sweep.empty())
            sweep_ = std::make_unique<Sweep>(opt.sweep, cfg_.unit);
        chunk_ctx_.sweep = sweep_.get();
        chunk_ctx_.prot = prot_.get();
        watch_ = sweep_ != nullptr;
    }

    ReplayResult run(const Config &cfg)
    {
        iommu_trace_error err{};
        ReaderPtr rd(iommu_trace_open(opt_.trace.c_str(), &err));
        if (!rd)
            throw InputError(err.msg);
        iommu_trace_event ev;
        uint64_t events = 0, dma_seen = 0;
        bool warm = opt_.warmup == 0;
        auto t0 = std::chrono::steady_clock::now();
        auto last_progress = t0;
        int r;
        while ((r = iommu_trace_next(rd.get(), &ev, &err)) == 1) {
            events++;
            if (ev.type == IOMMU_EV_DMA && !warm && dma_seen == opt_.warmup) {
                iommu_stats_reset(stats_.get());
                if (sweep_)
                    sweep_->reset_counts();
                warm = true;
            }
            if (ev.type == IOMMU_EV_DMA && !(ev.flags & (IOMMU_EVF_TIME | IOMMU_EVF_HANDLE))) {
                (*rc_->ev[IOMMU_EV_DMA])++; // the hot path: a plain DMA, no time to advance
                dma(ev, (ev.flags & IOMMU_EVF_PASID) ? ev.pasid : IOMMU_PASID_NONE, rd.get());
            } else {
                apply(ev, rd.get());
            }
            if (ev.type == IOMMU_EV_DMA)
                dma_seen++;
            if (opt_.progress && (events & 0xFFFFF) == 0) {
                auto now = std::chrono::steady_clock::now();
                double el = std::chrono::duration<double>(now - t0).count();
                if (std::chrono::duration<double>(now - last_progress).count() >= 1.0 && el > 2.0) {
                    std::fprintf(stderr, "\r%s events, %.1f M translations/s   ",
                                 group_digits(events).c_str(),
                                 (double)counter(stats_.get(), "translations") / el / 1e6);
                    last_progress = now;
                }
            }
        }
        if (r < 0)
            throw InputError(err.msg);
        // deferred invalidations still pending: flushed at the end, then open windows closed
        for (;;) {
            iommu_dma_work w;
            if (iommu_dma_flush_all(dma_.get(), 0, now_, &w) != IOMMU_OK || !w.wait)
                break;
            complete(w, 0, rd.get());
        }
        iommu_prot_finish(prot_.get(), now_);
        auto t1 = std::chrono::steady_clock::now();
        if (opt_.progress)
            std::fprintf(stderr, "\r%60s\r", "");
        if (!warm)
            throw InputError(opt_.trace + ": --warmup " + std::to_string(opt_.warmup) +
                             " is not below the trace's " + std::to_string(dma_seen) +
                             " DMA events");
        ReplayResult res;
        res.wall_s = std::chrono::duration<double>(t1 - t0).count();
        res.translations = counter(stats_.get(), "translations");
        res.stats = make_json(cfg, events);
        res.summary = make_summary(cfg, events, res.wall_s);
        return res;
    }

private:
    [[noreturn]] void bad(const iommu_trace_reader_t *rd, const std::string &why)
    {
        throw InputError(std::string(iommu_trace_path(rd)) + ":" +
                         std::to_string(iommu_trace_position(rd)) + ": " + why);
    }

    // Completes a host operation's work at once (untimed): the queue runs to the end.
    void complete(const iommu_dma_work &w, unsigned cpu, const iommu_trace_reader_t *rd)
    {
        char what[160];
        if (iommu_host_complete_functional(&env_, &w, cpu, now_, what, sizeof what) != IOMMU_OK)
            bad(rd, what);
    }

    __attribute__((noinline)) void apply(const iommu_trace_event &ev, const iommu_trace_reader_t *rd)
    {
        (*rc_->ev[ev.type])++;
        if (ev.flags & IOMMU_EVF_TIME) {
            if (ev.time_ns > now_)
                now_ = ev.time_ns;
            // lazy flush timers that expired before this event
            while (iommu_dma_next_timer(dma_.get()) <= now_) {
                iommu_dma_work w;
                if (iommu_dma_timer(dma_.get(), 0, now_, &w) != IOMMU_OK || !w.wait)
                    break;
                complete(w, 0, rd);
            }
        }
        if (ev.type == IOMMU_EV_DMA) {
            dma(ev, (ev.flags & IOMMU_EVF_PASID) ? ev.pasid : IOMMU_PASID_NONE, rd);
            return;
        }
        if (ev.type == IOMMU_EV_MSI) {
            msi(ev, rd);
            return;
        }
        if (ev.type == IOMMU_EV_SCHED && cfg_.irq.synthetic)
            bad(rd, "sched event in the trace while sched.model=synthetic places the consumers "
                    "(use sched.model=trace)");
        host_event(ev, rd);
    }

    // An interrupt: the synthetic scheduler's changes first, then the request through the
    // remapping hardware (and the posted-interrupt descriptor), then the host's delivery.
    void msi(const iommu_trace_event &ev, const iommu_trace_reader_t *rd)
    {
        iommu_trace_event due[8];
        const unsigned n = iommu_irqhost_sched_due(irqh_.get(), &ev, now_, due);
        for (unsigned i = 0; i < n; i++)
            host_event(due[i], rd);
        const bool ok = iommu_irqhost_msi_functional(irqh_.get(), &ev);
        if (!ok && cfg_.service_faults)
            *rc_->faults_serviced += iommu_fault_service(unit_.get(), nullptr, nullptr);
    }

    void host_event(const iommu_trace_event &ev, const iommu_trace_reader_t *rd)
    {
        char what[160];
        iommu_dma_work w;
        enum iommu_status st = iommu_host_apply(&env_, &ev, now_, &w, what, sizeof what);
        if (st != IOMMU_OK)
            bad(rd, std::string(what) + ": " + iommu_status_str(st));
        const uint64_t removed0 = *removed_iotlb_ + *removed_context_;
        complete(w, ev.type == IOMMU_EV_DMA_MAP || ev.type == IOMMU_EV_DMA_UNMAP ? ev.cpu : 0, rd);
        *rc_->inv_removed += *removed_iotlb_ + *removed_context_ - removed0;
        watch_ = sweep_ || iommu_prot_open(prot_.get()); // windows open and close on host events
        if (sweep_ && ev.type == IOMMU_EV_INV)
            sweep_->invalidate(ev.inv_type, ev.did,
                               (ev.flags & IOMMU_EVF_PASID) ? ev.pasid : IOMMU_PASID_NONE, ev.iova, ev.am);
    }

    __attribute__((always_inline)) inline void dma(const iommu_trace_event &ev, iommu_pasid_t pasid,
                                                   const iommu_trace_reader_t *rd)
    {
        (*rc_->dma_count)++;
        *rc_->dma_bytes += ev.len;
        if (ev.access & IOMMU_ACC_W)
            (*rc_->dma_writes)++;
        else
            (*rc_->dma_reads)++;
        iommu_req req{};
        req.sid = iommu_host_requester_id(host_.get(), ev.sid);
        req.pasid = pasid;
        req.access = ev.access;
        if (!(ev.flags & IOMMU_EVF_HANDLE)) {
            req.iova = ev.iova;
            req.len = ev.len;
            translate(req);
            return;
        }
        dma_by_handle(ev, req, rd);
    }

    __attribute__((noinline)) void dma_by_handle(const iommu_trace_event &ev, iommu_req req,
                                                 const iommu_trace_reader_t *rd)
    {
        // addressed by buffer: one request per scatter-gather segment it touches
        for (uint64_t off = ev.iova, left = ev.len; left;) {
            uint64_t iova, piece;
            iommu_sid_t owner;
            enum iommu_status st = iommu_dma_resolve(dma_.get(), ev.handle, off, left, &iova, &piece, &owner);
            if (st != IOMMU_OK)
                bad(rd, "dma handle " + std::to_string(ev.handle) +
                            (st == IOMMU_ERR_NOTFOUND ? ": no buffer is mapped with this handle"
                                                      : ": offset/len beyond the buffer"));
            req.iova = iova;
            req.len = piece;
            if (!translate(req))
                return;
            off += piece;
            left -= piece;
        }
    }

    // false when the request faulted
    __attribute__((always_inline)) inline bool translate(const iommu_req &req)
    {
        return devtlb_ ? translate_ats(req) : finish(req);
    }

    // A device with ATS: per page, its device-TLB, or a translation request to fill it; then
    // a translated request (the IOMMU checks only that the context allows device-TLBs).
    __attribute__((noinline)) bool translate_ats(const iommu_req &req)
    {
        for (uint64_t off = 0; off < req.len;) {
            const uint64_t iova = req.iova + off;
            const iommu_iotlb_entry *e = iommu_devtlbs_lookup(devtlb_.get(), req.sid, req.pasid, iova);
            if (e)
                iommu_prot_dev_access(prot_.get(), req.sid, iova);
            iommu_iotlb_entry fill;
            if (!e) {
                iommu_req tr = req;
                tr.iova = iova & ~0xFFFull;
                tr.len = 1;
                tr.flags = IOMMU_REQ_ATS_TRANSLATE;
                if (!finish(tr))
                    return false;
                fill.pa = op_.xlat.pa & ~((1ull << op_.xlat.page_shift) - 1);
                fill.page_shift = op_.xlat.page_shift;
                fill.perm = op_.xlat.perm;
                iommu_devtlbs_insert(devtlb_.get(), req.sid, req.pasid, iova, &fill);
                e = &fill;
            }
            const uint64_t page = 1ull << e->page_shift;
            const uint64_t in = iova & (page - 1);
            const uint64_t piece = std::min(req.len - off, page - in);
            iommu_req t = req;
            t.iova = e->pa + in;
            t.len = piece;
            t.flags = IOMMU_REQ_ATS_TRANSLATED;
            if (!finish(t))
                return false;
            off += piece;
        }
        return true;
    }

    // One request through the unit; a fault is counted and serviced. The per-chunk callback
    // only when something watches chunks (the hot path has none).
    __attribute__((always_inline)) inline bool finish(const iommu_req &req)
    {
        iommu_translate_functional(unit_.get(), &op_, &req, watch_ ? on_chunk : nullptr, &chunk_ctx_);
        if (op_.fault_recorded || op_.fault_reason) {
            (*rc_->dma_faulted)++;
            if (cfg_.service_faults)
                *rc_->faults_serviced += iommu_fault_service(unit_.get(), nullptr, nullptr);
            return false;
        }
        return true;
    }

    json make_json(const Config &cfg, uint64_t events)
    {
        json j = stats_to_json(stats_.get());
        json out;
        out["iommusim"] = {{"version", IOMMUSIM_VERSION}, {"git", IOMMUSIM_GIT},
                           {"mode", "functional"}};
        out["config"] = cfg.resolved();
        out["run"] = {{"preset", cfg.preset()}, {"trace", opt_.trace},
                      {"trace_events", events}, {"warmup_dma", opt_.warmup}};
        out["counters"] = j["counters"];
        out["histograms"] = j["histograms"];
        const iommu_stats_t *s = stats_.get();
        uint64_t hits = counter(s, "iotlb.hits"), misses = counter(s, "iotlb.misses");
        uint64_t walks = counter(s, "walk.count");
        json d;
        d["iotlb.hit_rate"] = hits + misses ? (double)hits / (double)(hits + misses) : 0.0;
        d["walk.reads_per_walk"] = walks ? (double)counter(s, "walk.mem_reads") / (double)walks : 0.0;
        d["walk.reads_per_translation"] =
            counter(s, "translations") ? (double)counter(s, "walk.mem_reads") / (double)counter(s, "translations") : 0.0;
        out["counters"]["host.cycles_per_io"] = iommu_dma_cycles_per_io(dma_.get());
        d["host.cycles_per_io"] = iommu_dma_cycles_per_io(dma_.get());
        add_irq_json(out["counters"], d, irqh_.get(), nullptr);
        out["derived"] = d;
        if (sweep_)
            out["sweep"] = sweep_->to_json();
        return out;
    }

    std::string make_summary(const Config &cfg, uint64_t events, double wall)
    {
        const iommu_stats_t *s = stats_.get();
        auto c = [&](const char *n) { return counter(s, n); };
        std::ostringstream o;
        char line[256];
        o << "iommusim " << IOMMUSIM_VERSION << " — functional replay (untimed)\n";
        o << "  config  " << (cfg.preset().empty() ? "(built-in defaults)" : cfg.preset());
        if (cfg.overrides())
            o << " + " << cfg.overrides() << " override(s)";
        o << "\n  trace   " << opt_.trace << ": " << group_digits(events) << " events";
        if (opt_.warmup)
            o << " (first " << group_digits(opt_.warmup) << " DMAs are warm-up, not counted)";
        o << "\n\n";
        uint64_t tr = c("translations");
        std::snprintf(line, sizeof line, "  %-18s %14s   (%s DMA requests, %s split at page boundaries)\n",
                      "translations", group_digits(tr).c_str(), group_digits(c("requests")).c_str(),
                      group_digits(c("requests.split")).c_str());
        o << line;
        uint64_t h = c("iotlb.hits"), m = c("iotlb.misses");
        std::snprintf(line, sizeof line, "  %-18s %14s hits  %s misses   hit rate %s\n", "IOTLB",
                      group_digits(h).c_str(), group_digits(m).c_str(), percent(h, h + m).c_str());
        o << line;
        uint64_t ch = c("context_cache.hits"), cm = c("context_cache.misses");
        std::snprintf(line, sizeof line, "  %-18s %14s hits  %s misses   hit rate %s\n",
                      "context cache", group_digits(ch).c_str(), group_digits(cm).c_str(),
                      percent(ch, ch + cm).c_str());
        o << line;
        uint64_t w = c("walk.count"), wr = c("walk.mem_reads");
        std::snprintf(line, sizeof line, "  %-18s %14s walks, %s reads (%.2f per walk, %.3f per translation)\n",
                      "page walks", group_digits(w).c_str(), group_digits(wr).c_str(),
                      w ? (double)wr / (double)w : 0.0, tr ? (double)wr / (double)tr : 0.0);
        o << line;
        std::snprintf(line, sizeof line, "  %-18s pde %s  pdpe %s  pml4e %s  pml5e %s (hits)\n",
                      "walk caches", group_digits(c("pwc.pde.hits")).c_str(),
                      group_digits(c("pwc.pdpe.hits")).c_str(), group_digits(c("pwc.pml4e.hits")).c_str(),
                      group_digits(c("pwc.pml5e.hits")).c_str());
        o << line;
        std::string reasons;
        for (size_t i = 0; i < iommu_stats_size(s); i++) {
            const iommu_stat_info *e = iommu_stats_at(s, i);
            if (e->kind == IOMMU_STAT_COUNTER && !std::strncmp(e->name, "faults.reason_", 14) && *e->counter)
                reasons += std::string(reasons.empty() ? "" : ", ") + (e->name + 14) + " ×" +
                           group_digits(*e->counter);
        }
        std::snprintf(line, sizeof line, "  %-18s %14s%s%s\n", "faults", group_digits(c("faults.total")).c_str(),
                      reasons.empty() ? "" : "   ", reasons.c_str());
        o << line;
        // per-device table
        o << "\n  per device     translations   IOTLB hit   walk reads   faults\n";
        for (size_t i = 0; i < iommu_stats_size(s); i++) {
            const iommu_stat_info *e = iommu_stats_at(s, i);
            const char *n = e->name;
            if (std::strncmp(n, "per_device.", 11) || !std::strstr(n, ".translations"))
                continue;
            std::string bdf(n + 11, std::strstr(n, ".translations") - (n + 11));
            std::string p = "per_device." + bdf + ".";
            uint64_t dh = counter(s, p + "iotlb.hits"), dm = counter(s, p + "iotlb.misses");
            std::snprintf(line, sizeof line, "  %-12s %14s   %9s   %10s   %6s\n", bdf.c_str(),
                          group_digits(*e->counter).c_str(), percent(dh, dh + dm).c_str(),
                          group_digits(counter(s, p + "walk.mem_reads")).c_str(),
                          group_digits(counter(s, p + "faults.total")).c_str());
            o << line;
        }
        o << irq_summary(irqh_.get(), s, nullptr);
        if (sweep_)
            o << "\n" << sweep_->summary();
        std::snprintf(line, sizeof line, "\n  replay speed: %.2f M translations/s (%.3f s wall)\n",
                      wall > 0 ? (double)tr / wall / 1e6 : 0.0, wall);
        o << line;
        return o.str();
    }

    CoreConfig cfg_;
    ReplayOptions opt_;
    PhysmemPtr mem_;
    StatsPtr stats_;
    HostPtr host_;
    UnitPtr unit_;
    InvqPtr invq_;
    ProtPtr prot_;
    DmaPtr dma_;
    DevtlbPtr devtlb_;
    IrqPtr irq_;
    IrqHostPtr irqh_;
    iommu_host_env env_{};
    const uint64_t *removed_iotlb_ = nullptr, *removed_context_ = nullptr;
    uint64_t now_ = 0; // trace time (ns) of the latest timestamped event
    bool watch_ = false; // a sweep or an open stale window: DMAs report their chunks
    std::unique_ptr<ReplayCounters> rc_;
    std::unique_ptr<Sweep> sweep_;
    ChunkCtx chunk_ctx_{};
    iommu_op op_{};
};

} // namespace

ReplayResult replay_functional(const Config &cfg, const ReplayOptions &opt)
{
    Replayer r(cfg, opt);
    return r.run(cfg);
}

int cmd_replay(int argc, char **argv)
{
    po::options_description desc(
        "usage: iommusim replay --functional [-c CONFIG] [-t TRACE] [--set key=value]... "
        "[--stats-json FILE] [--warmup N] [--sweep KEY=LIST]\n\noptions");
    std::vector<std::string> sets;
    std::string config, stats_json;
    ReplayOptions opt;
    desc.add_options()
        ("help,h", "this text")
        ("functional", "untimed replay through the C core (the only replay mode until the timed system lands)")
        ("config,c", po::value(&config), "JSON preset (default: configs/default.json)")
        ("trace,t", po::value(&opt.trace), "trace file: .trace, .trace.gz or .bin (default: traces/samples/default.trace)")
        ("set", po::value(&sets)->composing(), "override a config key, e.g. --set iotlb.entries=128 (repeatable)")
        ("stats-json", po::value(&stats_json), "write the stats JSON here")
        ("warmup", po::value(&opt.warmup), "exclude the first N DMA events from every statistic (caches stay warm)")
        ("sweep", po::value(&opt.sweep), "one-pass LRU size sweep, e.g. iotlb.entries=16,32,...,4096")
        ("quiet,q", "no summary on stdout");
    po::variables_map vm;
    if (int rc = parse_options("replay", desc, argc, argv, vm); rc >= 0)
        return rc;
    if (!vm.count("functional")) {
        std::fprintf(stderr, "iommusim replay: only --functional replay exists so far (the timed "
                             "system is `iommusim run`, coming with the TLM layer)\n");
        return EXIT_BADINPUT;
    }
    return guarded([&]() -> int {
        Config cfg = Config::load(config, sets);
        if (opt.trace.empty())
            opt.trace = default_trace_path();
        opt.progress = isatty(2);
        ReplayResult res = replay_functional(cfg, opt);
        if (!stats_json.empty() && !write_json_file(stats_json, res.stats)) {
            std::fprintf(stderr, "iommusim replay: %s: cannot write the stats JSON\n", stats_json.c_str());
            return EXIT_FAIL;
        }
        if (!vm.count("quiet"))
            std::cout << res.summary << std::flush;
        return EXIT_OK;
    });
}

} // namespace iommusim
