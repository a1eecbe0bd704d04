// system.cpp — builds the timed system and drives it with a trace (see system.h).
#include "model/tlm/system.h"

#include <chrono>
#include <cstdio>

extern "C" {
#include "host/apply.h"
#include "model/iommu/regs.h"
}

using namespace sc_core;

namespace iommusim::tlm_model {

// ------------------------------------------------------------------ latency histogram --

static constexpr int kLatencyBins = 1000000; // 1 ns bins up to 1 ms

Latency::Latency()
    : h_(boost::histogram::make_histogram(boost::histogram::axis::integer<>(0, kLatencyBins))),
      coarse_(boost::histogram::make_histogram(boost::histogram::axis::integer<>(0, kCoarseBins)))
{
}

void Latency::add(uint64_t ps)
{
    h_((int)std::min<uint64_t>(ps / 1000, (uint64_t)kLatencyBins)); // ≥ 1 ms: overflow bin
    if (ps >= kLatencyBins * 1000ull)                                 // ... and a coarse bin
        coarse_((int)std::min<uint64_t>(ps / (kCoarseNs * 1000), (uint64_t)kCoarseBins));
    n_++;
    sum_ps_ += ps;
    if (ps > max_ps_)
        max_ps_ = ps;
}

void Latency::reset()
{
    h_.reset();
    coarse_.reset();
    n_ = sum_ps_ = max_ps_ = 0;
}

double Latency::percentile_ns(double p) const
{
    if (!n_)
        return 0.0;
    const double want = p * (double)n_;
    double acc = 0;
    for (auto &&x : boost::histogram::indexed(h_)) { // 1 ns bins below 1 ms
        acc += *x;
        if (acc >= want && *x > 0)
            return (double)x.index();
    }
    for (auto &&x : boost::histogram::indexed(coarse_)) { // 100 us bins from 1 ms to 1 s
        acc += *x;
        if (acc >= want && *x > 0)
            return (double)x.index() * kCoarseNs;
    }
    return (double)max_ns(); // beyond 1 s
}

std::vector<std::pair<uint64_t, uint64_t>> Latency::nonzero_bins() const
{
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (auto &&x : boost::histogram::indexed(h_, boost::histogram::coverage::all))
        if (*x > 0)
            out.emplace_back((uint64_t)x.index(), (uint64_t)*x);
    return out;
}

std::vector<std::pair<uint64_t, uint64_t>> Latency::nonzero_coarse_bins() const
{
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (auto &&x : boost::histogram::indexed(coarse_, boost::histogram::coverage::all))
        if (*x > 0)
            out.emplace_back((uint64_t)x.index() * kCoarseNs, (uint64_t)*x);
    return out;
}

void DmaStats::reset()
{
    Latency l = std::move(latency), t = std::move(translation);
    *this = DmaStats();
    latency = std::move(l);
    translation = std::move(t);
    latency.reset();
    translation.reset();
}

// ------------------------------------------------------------------ building -----------

TimedSystem::TimedSystem(const TimedConfig &cfg, const RunOptions &opt, iommu_stats_t *stats)
    : cfg_(cfg), opt_(opt), stats_(stats)
{
    std::string key, why;
    if (!validate(cfg_.link, &key, &why))
        throw RunInputError(key + ": " + why);
    if (!validate(cfg_.memory, &key, &why))
        throw RunInputError(key + ": " + why);
    if (std::string e = validate(cfg_.timing); !e.empty())
        throw RunInputError(e);
    if (cfg_.device.tags < 1 || cfg_.device.tags > 1024)
        throw RunInputError("device.tags: must be 1..1024");
    if (cfg_.device.posted < 1 || cfg_.device.posted > 4096)
        throw RunInputError("device.posted: must be 1..4096");
    for (auto &[sid, tags] : cfg_.tags_by_device)
        if (tags < 1 || tags > 1024)
            throw RunInputError("device.tags_by_device: tags must be 1..1024");
    cfg_.device.mrrs = cfg_.link.mrrs;
    cfg_.device.mps = cfg_.link.mps;

    iommu_trace_error err{};
    reader_.reset(iommu_trace_open(opt_.trace.c_str(), &err));
    if (!reader_)
        throw RunInputError(err.msg);
    if (cfg_.devices.empty())
        scan_devices();
    else
        devices_ = cfg_.devices;
    if (devices_.empty())
        throw RunInputError(opt_.trace + ": the trace has no dma or msi events and system.devices is empty");
    for (auto &[sid, tags] : cfg_.tags_by_device) {
        bool found = false;
        for (uint16_t d : devices_)
            found = found || d == sid;
        char b[8];
        if (!found)
            throw RunInputError(std::string("device.tags_by_device: unknown device ") +
                                iommu_sid_format(sid, b));
    }

    mem_.reset(iommu_physmem_create());
    if (mem_)
        host_.reset(iommu_host_create(&cfg_.host, mem_.get()));
    if (mem_)
        unit_.reset(iommu_create(&cfg_.unit, mem_.get(), stats_));
    if (!mem_ || !host_ || !unit_)
        throw std::runtime_error("cannot create the simulated system (out of memory?)");
    iommu_set_root_table(unit_.get(), iommu_host_rtaddr(host_.get()));
    invq_.reset(iommu_invq_create(unit_.get(), stats_));
    prot_.reset(iommu_prot_create(unit_.get(), stats_));
    if (!invq_ || !prot_)
        throw std::runtime_error("cannot create the simulated system (out of memory?)");
    dma_.reset(iommu_dma_create(&cfg_.dma, host_.get(), unit_.get(), invq_.get(), mem_.get(),
                                prot_.get(), stats_));
    if (!dma_)
        throw std::runtime_error("cannot create the host DMA-API model");
    iommu_invq_set_observer(invq_.get(), iommu_prot_observer, prot_.get());
    if (cfg_.dma.ats && cfg_.dma.policy != IOMMU_FLUSH_PASSTHROUGH) { // pass-through: no ATS
        devtlb_.reset(iommu_devtlbs_create(&cfg_.devtlb, stats_));
        if (!devtlb_)
            throw RunInputError("devtlb: invalid device-TLB geometry");
        iommu_invq_set_devtlb_handler(invq_.get(), iommu_devtlbs_invalidate, devtlb_.get());
        cfg_.device.ats = true;
        cfg_.device.devtlb = devtlb_.get();
        cfg_.device.prot = prot_.get();
        iommu_prot_set_devtlbs(prot_.get(), devtlb_.get());
    }
    {
        const char *key = nullptr;
        char why[200];
        cfg_.irq.cpu_ghz = cfg_.dma.cpu_ghz;
        if (iommu_irqhost_cfg_validate(&cfg_.irq, &key, why, sizeof why) != IOMMU_OK)
            throw RunInputError(std::string(key) + ": " + why);
    }
    irq_.reset(iommu_irq_create(unit_.get(), stats_));
    if (!irq_)
        throw std::runtime_error("cannot create the simulated system (out of memory?)");
    const char *irq_why = "";
    irqh_.reset(iommu_irqhost_create(&cfg_.irq, irq_.get(), unit_.get(), mem_.get(), dma_.get(),
                                     stats_, &irq_why));
    if (!irqh_)
        throw RunInputError(*irq_why ? irq_why : "cannot create the interrupt model (out of memory?)");
    iommu_irqhost_on_latency(irqh_.get(), [](void *ctx, uint64_t ps) {
        auto *self = static_cast<TimedSystem *>(ctx);
        self->irq_latency_.add(ps);
        if (self->opt_.irq_record)
            self->opt_.irq_record->push_back(ps);
    }, this);
    env_ = {host_.get(), unit_.get(), invq_.get(), prot_.get(), dma_.get(), mem_.get(), irqh_.get()};

    sc_report_handler::set_actions(SC_INFO, SC_DO_NOTHING); // no "timescale set" chatter
    iommu_ = std::make_unique<Iommu>("iommu", unit_.get(), cfg_.timing);
    iommu_->attach_invq(invq_.get(), mem_.get(), this);
    iommu_->set_prot(prot_.get());
    iommu_->attach_irq(irq_.get(), mem_.get(), this);
    cpus_.resize(cfg_.dma.ncpus);
    for (unsigned c = 0; c < cpus_.size(); c++) {
        cpus_[c].timer = std::make_unique<HostTimer>(("host_cpu" + std::to_string(c)).c_str());
        cpus_[c].timer->fn = [this, c] { guarded([&] { cpu_done(c); }); };
    }
    flush_timer_ = std::make_unique<HostTimer>("flush_timer");
    flush_timer_->fn = [this] { guarded([&] { timer_fired(); }); };
    host_wait_timer_ = std::make_unique<HostTimer>("host_event_timer");
    host_wait_timer_->fn = [this] {
        guarded([&] {
            host_wait_ = false;
            read_ahead();
            for (auto &e : endpoints_)
                e->kick();
        });
    };
    memory_ = std::make_unique<Memory>("memory", cfg_.memory, mem_.get());
    iommu_->memory.bind(memory_->mem);
    host_regs_ = std::make_unique<HostRegs>("host_regs");
    host_regs_->regs.bind(iommu_->regs);
    device_of_sid_.assign(65536, -1);
    for (unsigned i = 0; i < devices_.size(); i++) {
        char b[8], name[32];
        iommu_sid_format(devices_[i], b);
        device_of_sid_[devices_[i]] = (int)i;
        EndpointConfig ec = cfg_.device;
        auto it = cfg_.tags_by_device.find(devices_[i]);
        if (it != cfg_.tags_by_device.end())
            ec.tags = it->second;
        std::snprintf(name, sizeof name, "ep_%02x_%02x_%u", IOMMU_SID_BUS(devices_[i]),
                      IOMMU_SID_DEV(devices_[i]), (unsigned)IOMMU_SID_FN(devices_[i]));
        endpoints_.push_back(std::make_unique<PcieEndpoint>(name, i, ec, this));
        std::snprintf(name, sizeof name, "link_%02x_%02x_%u", IOMMU_SID_BUS(devices_[i]),
                      IOMMU_SID_DEV(devices_[i]), (unsigned)IOMMU_SID_FN(devices_[i]));
        links_.push_back(std::make_unique<PcieLink>(name, cfg_.link));
        endpoints_[i]->upstream.bind(links_[i]->upstream_in);
        links_[i]->upstream_out.bind(iommu_->upstream);
    }
    dev_stats_.resize(devices_.size());
    warm_ = opt_.warmup == 0;
    cur_.end_ps = opt_.interval_ps;
    if (!opt_.vcd.empty()) {
        vcd_ = sc_create_vcd_trace_file(opt_.vcd.c_str());
        if (!vcd_)
            throw RunInputError(opt_.vcd + ".vcd: cannot create the waveform file");
        vcd_->set_time_unit(1, SC_PS); // the kernel's resolution: every change is representable
        iommu_->trace(vcd_);
        for (auto &e : endpoints_)
            e->trace(vcd_);
    }
}

TimedSystem::~TimedSystem()
{
    if (vcd_)
        sc_close_vcd_trace_file(vcd_);
    // members go in reverse order: the modules first, then the core objects they point to
}

// Devices: every source-id with a dma event, in order of first appearance (a first pass).
void TimedSystem::scan_devices()
{
    iommu_trace_error err{};
    iommu_trace_reader_t *r = iommu_trace_open(opt_.trace.c_str(), &err);
    if (!r)
        throw RunInputError(err.msg);
    std::vector<bool> seen(65536, false);
    iommu_trace_event ev;
    int rc;
    while ((rc = iommu_trace_next(r, &ev, &err)) == 1)
        if ((ev.type == IOMMU_EV_DMA || ev.type == IOMMU_EV_MSI) && !seen[ev.sid]) {
            seen[ev.sid] = true;
            devices_.push_back(ev.sid);
        }
    iommu_trace_close(r);
    if (rc < 0)
        throw RunInputError(err.msg);
}

void TimedSystem::bad(const std::string &why)
{
    throw RunInputError(std::string(iommu_trace_path(reader_.get())) + ":" +
                        std::to_string(iommu_trace_position(reader_.get())) + ": " + why);
}

bool HostRegs::read64(uint64_t offset, uint64_t *value)
{
    tlm::tlm_generic_payload gp;
    sc_time delay = SC_ZERO_TIME;
    gp.set_command(tlm::TLM_READ_COMMAND);
    gp.set_address(offset);
    gp.set_data_ptr(reinterpret_cast<unsigned char *>(value));
    gp.set_data_length(8);
    gp.set_streaming_width(8);
    regs->b_transport(gp, delay);
    return gp.is_response_ok();
}

// ------------------------------------------------------------------ the driver ---------

static uint64_t stat(const iommu_stats_t *st, const char *name)
{
    const iommu_stat_info *e = iommu_stats_find(st, name);
    return e && e->kind == IOMMU_STAT_COUNTER ? *e->counter : 0;
}

// Closes every interval that ended at or before now, and at the end of the run the last,
// partial one.
void TimedSystem::close_intervals(uint64_t now_ps, bool final)
{
    if (!opt_.interval_ps)
        return;
    auto close = [&]() {
        const uint64_t h = stat(stats_, "iotlb.hits"), m = stat(stats_, "iotlb.misses"),
                       w = stat(stats_, "walk.count");
        // the core's counters restart at warm-up: a smaller value starts a new base
        cur_.iotlb_hits = h >= base_hits_ ? h - base_hits_ : h;
        cur_.iotlb_misses = m >= base_misses_ ? m - base_misses_ : m;
        cur_.walks = w >= base_walks_ ? w - base_walks_ : w;
        base_hits_ = h;
        base_misses_ = m;
        base_walks_ = w;
        cur_.latency_p50_ns = cur_latency_.percentile_ns(0.5);
        intervals_.push_back(cur_);
        const uint64_t next = cur_.end_ps;
        cur_ = Interval{};
        cur_.start_ps = next;
        cur_.end_ps = next + opt_.interval_ps;
        cur_latency_.reset();
    };
    while (cur_.end_ps <= now_ps)
        close();
    if (final && now_ps > cur_.start_ps) {
        cur_.end_ps = now_ps;
        close();
    }
}

bool TimedSystem::all_idle() const
{
    for (auto &e : endpoints_)
        if (e->queued() || e->in_flight())
            return false;
    return true;
}

bool TimedSystem::cpus_idle() const
{
    for (const HostCpu &c : cpus_)
        if (c.busy || !c.queue.empty())
            return false;
    return true;
}

// A DMA-level host event (attach, map, unmap, inv, ...): applied once every DMA and every host
// operation before it is done (the barrier), on CPU 0. False: it waits, or runs in time.
bool TimedSystem::apply_host(const iommu_trace_event &ev)
{
    if (!all_idle() || !cpus_idle() || iommu_dma_queue_free(dma_.get()) < IOMMU_DMA_MAX_DESC) {
        pending_ = ev;
        have_pending_ = true;
        return false;
    }
    // the interrupt side's host events (a consumer moving, an IRTE written) happen at their
    // timestamps: an open-loop trace's vCPU runs again when the trace says
    const uint64_t now_ps = to_ps(sc_time_stamp());
    if ((ev.type == IOMMU_EV_SCHED || ev.type == IOMMU_EV_IRTE) && (ev.flags & IOMMU_EVF_TIME) &&
        ev.time_ns * 1000 > now_ps) {
        pending_ = ev;
        have_pending_ = true;
        if (!host_wait_) {
            host_wait_ = true;
            host_wait_timer_->ev.notify(sc_time((double)(ev.time_ns * 1000 - now_ps), SC_PS));
        }
        return false;
    }
    iommu_dma_work w;
    const uint64_t now_ns = to_ps(sc_time_stamp()) / 1000;
    apply_event(ev, now_ns, &w);
    if (w.cycles || w.doorbell || w.wait) {
        start_work(0, w, nullptr);
        barrier_busy_ = true; // nothing after it in the trace goes until it is done
        return false;
    }
    iommu_host_unmap_returned(&env_, &w, now_ns);
    return true;
}

void TimedSystem::apply_event(const iommu_trace_event &ev, uint64_t now_ns, iommu_dma_work *w)
{
    char what[160];
    enum iommu_status st = iommu_host_apply(&env_, &ev, now_ns, w, what, sizeof what);
    if (st != IOMMU_OK)
        bad(std::string(what) + ": " + iommu_status_str(st));
}

// Runs CPU c's queued DMA-API calls in order while it is free: a dma_unmap waits until its
// buffer's DMAs have completed; any call waits for room in the invalidation queue. CPU 0 also
// runs the lazy flush timer when it is due.
void TimedSystem::cpu_pump(unsigned c)
{
    HostCpu &u = cpus_[c];
    while (!u.busy) {
        const uint64_t now_ns = to_ps(sc_time_stamp()) / 1000;
        if (iommu_dma_queue_free(dma_.get()) < IOMMU_DMA_MAX_DESC)
            return; // retried when a wait completes
        if (c == 0 && timer_due_) {
            timer_due_ = false;
            iommu_dma_work w;
            if (iommu_dma_timer(dma_.get(), 0, now_ns, &w) == IOMMU_OK && (w.doorbell || w.wait)) {
                start_work(0, w, nullptr);
                return;
            }
            arm_timer();
            continue;
        }
        if (u.queue.empty())
            return;
        const iommu_trace_event &ev = u.queue.front();
        if (ev.type == IOMMU_EV_DMA_UNMAP && iommu_dma_handle_inflight(dma_.get(), ev.handle, 0))
            return; // the device is not done with the buffer: dma_done pumps again
        const iommu_trace_event e = ev;
        u.queue.pop_front();
        iommu_dma_work w;
        apply_event(e, now_ns, &w);
        start_work(c, w, &e);
    }
}

void TimedSystem::start_work(unsigned c, const iommu_dma_work &w, const iommu_trace_event *ev)
{
    HostCpu &u = cpus_[c];
    u.busy = true;
    u.work = w;
    u.start_ps = to_ps(sc_time_stamp());
    u.map_handle = ev && ev->type == IOMMU_EV_DMA_MAP && !(ev->flags & IOMMU_EVF_MORE);
    u.handle = ev ? ev->handle : 0;
    host_stats_.ops++;
    const double ps = (double)w.cycles / cfg_.dma.cpu_ghz * 1000.0;
    u.timer->ev.notify(sc_time(ps, SC_PS));
}

void TimedSystem::cpu_done(unsigned c)
{
    HostCpu &u = cpus_[c];
    const uint64_t now = to_ps(sc_time_stamp());
    if (u.after_wait) { // the work after the wait (freeing IOVAs) is done
        u.after_wait = false;
        finish_work(c, now);
        return;
    }
    if (u.work.doorbell) {
        const uint64_t pending = iommu_invq_pending(invq_.get()) +
                                 (u.work.iqt - iommu_invq_iqt(invq_.get())) % 4096 / 16;
        host_stats_.doorbells++;
        host_stats_.pending_sum += pending;
        host_stats_.pending_max = std::max(host_stats_.pending_max, pending);
        u.doorbell_ps = now;
        iommu_->doorbell(u.work.iqt);
    }
    if (u.work.wait) {
        u.waiting = true; // inv_wait_done ends it
        return;
    }
    finish_work(c, now);
}

void TimedSystem::inv_executing(uint64_t t_ps) { iommu_prot_set_now(prot_.get(), t_ps / 1000); }

void TimedSystem::inv_wait_done(uint64_t addr, uint32_t value, uint64_t t_ps)
{
    guarded([&] { inv_wait_done_body(addr, value, t_ps); });
}

void TimedSystem::inv_wait_done_body(uint64_t addr, uint32_t value, uint64_t t_ps)
{
    for (unsigned c = 0; c < cpus_.size(); c++) {
        HostCpu &u = cpus_[c];
        if (!u.waiting || addr != u.work.status_addr || value != u.work.status_value)
            continue;
        u.waiting = false;
        const uint64_t w = t_ps - u.doorbell_ps;
        host_stats_.waits++;
        host_stats_.wait_ps += w;
        host_stats_.wait_max_ps = std::max(host_stats_.wait_max_ps, w);
        if (u.work.irq_retarget)
            iommu_irqhost_charge_wait(irqh_.get(), w / 1000);
        else
            iommu_dma_charge_wait(dma_.get(), c, w / 1000);
        const uint64_t cyc = iommu_dma_flush_done(dma_.get(), u.work.token, c);
        if (cyc) { // then the CPU frees the IOVAs the flush held
            u.after_wait = true;
            u.timer->ev.notify(sc_time((double)cyc / cfg_.dma.cpu_ghz * 1000.0, SC_PS));
        } else {
            finish_work(c, t_ps);
        }
        break;
    }
    for (unsigned c = 0; c < cpus_.size(); c++) // room in the queue again
        cpu_pump(c);
}

// A stopped queue leaves its waiting CPU waiting: run() reports it when the simulation
// runs dry.
void TimedSystem::inv_stopped(uint64_t) {}

void TimedSystem::finish_work(unsigned c, uint64_t t_ps)
{
    HostCpu &u = cpus_[c];
    iommu_host_unmap_returned(&env_, &u.work, t_ps / 1000);
    if (u.map_handle) // the driver has the IOVA now: the device may use the buffer
        iommu_dma_handle_set(dma_.get(), u.handle, IOMMU_DMA_H_READY);
    if (opt_.host_record)
        opt_.host_record->push_back({c, u.handle, u.start_ps, t_ps, u.work.unmapped, u.map_handle});
    host_stats_.busy_ps += t_ps - u.start_ps;
    u.busy = false;
    if (c == 0)
        barrier_busy_ = false;
    arm_timer();
    cpu_pump(c);
    read_ahead();
    for (auto &e : endpoints_)
        e->kick();
}

void TimedSystem::arm_timer()
{
    const uint64_t t = iommu_dma_next_timer(dma_.get());
    if (t == UINT64_MAX || t * 1000 == timer_at_ps_)
        return;
    timer_at_ps_ = t * 1000;
    const uint64_t now = to_ps(sc_time_stamp());
    flush_timer_->ev.cancel();
    flush_timer_->ev.notify(sc_time((double)(timer_at_ps_ > now ? timer_at_ps_ - now : 0), SC_PS));
}

void TimedSystem::timer_fired()
{
    timer_at_ps_ = UINT64_MAX;
    timer_due_ = true; // CPU 0 runs the flush when it is free
    cpu_pump(0);
}

double TimedSystem::cycles_per_io() const { return iommu_dma_cycles_per_io(dma_.get()); }

void TimedSystem::read_ahead()
{
    if (reading_)
        return;
    reading_ = true;
    if (barrier_busy_) {
        reading_ = false;
        return;
    }
    if (have_pending_) {
        have_pending_ = false;
        if (!apply_host(pending_)) {
            reading_ = false;
            return;
        }
    }
    if (have_stalled_ && !(iommu_dma_handle_state(dma_.get(), stalled_.handle) & IOMMU_DMA_H_READY)) {
        reading_ = false; // the DMA waits for its buffer's dma_map to return
        return;
    }
    std::vector<char> &pushed = pushed_;
    pushed.assign(endpoints_.size(), 0);
    iommu_trace_event ev;
    iommu_trace_error err{};
    // Read until some endpoint or CPU has plenty queued, or a barrier, or the end.
    while (!have_pending_) {
        bool full = false;
        for (auto &e : endpoints_)
            full = full || e->queued() >= 4 * PcieEndpoint::kLowWater;
        for (const HostCpu &c : cpus_)
            full = full || c.queue.size() >= kCpuQueue;
        if (full)
            break;
        if (have_stalled_) {
            ev = stalled_;
            have_stalled_ = false;
        } else if (!synth_.empty()) {
            ev = synth_.front();
            synth_.pop_front();
        } else {
            if (eof_)
                break;
            int r = iommu_trace_next(reader_.get(), &ev, &err);
            if (r < 0)
                throw RunInputError(err.msg);
            if (r == 0) {
                eof_ = true;
                break;
            }
            events_++;
        }
        if (ev.type == IOMMU_EV_DMA_MAP || ev.type == IOMMU_EV_DMA_UNMAP) {
            if (ev.cpu >= cpus_.size())
                bad("cpu " + std::to_string(ev.cpu) + " is not below host.cpus (" +
                    std::to_string(cpus_.size()) + ")");
            if (ev.type == IOMMU_EV_DMA_UNMAP)
                iommu_dma_handle_set(dma_.get(), ev.handle, IOMMU_DMA_H_UNMAPPING);
            cpus_[ev.cpu].queue.push_back(ev);
            cpu_pump(ev.cpu);
            continue;
        }
        if (ev.type == IOMMU_EV_MSI) {
            if (!synth_ready_) { // the synthetic scheduler's changes go first
                iommu_trace_event due[8];
                const unsigned n = iommu_irqhost_sched_due(irqh_.get(), &ev,
                                                           to_ps(sc_time_stamp()) / 1000, due);
                if (n) {
                    synth_.push_front(ev);
                    for (unsigned i = n; i-- > 0;)
                        synth_.push_front(due[i]);
                    synth_ready_ = true;
                    continue;
                }
            }
            synth_ready_ = false;
            const int d = device_of_sid_[ev.sid];
            if (d < 0) {
                char b[8];
                bad(std::string("msi from ") + iommu_sid_format(ev.sid, b) +
                    ", a device that is not in system.devices");
            }
            push_msi(ev, d);
            pushed[d] = 1;
            continue;
        }
        if (ev.type == IOMMU_EV_SCHED && cfg_.irq.synthetic && !synth_ready_)
            bad("sched event in the trace while sched.model=synthetic places the consumers "
                "(use sched.model=trace)");
        if (ev.type != IOMMU_EV_DMA) {
            if (!apply_host(ev))
                break; // barrier: wait for the DMAs and host operations before it
            continue;
        }
        if ((ev.flags & IOMMU_EVF_HANDLE)) {
            const unsigned hs = iommu_dma_handle_state(dma_.get(), ev.handle);
            if (hs & IOMMU_DMA_H_UNMAPPING)
                bad("dma handle " + std::to_string(ev.handle) + ": after its dma_unmap");
            if (!(hs & IOMMU_DMA_H_READY)) { // mapped (or being mapped) by a CPU still busy
                stalled_ = ev;
                have_stalled_ = true;
                break;
            }
        }
        const int d = device_of_sid_[ev.sid];
        if (d < 0) {
            char b[8];
            bad(std::string("dma from ") + iommu_sid_format(ev.sid, b) +
                ", a device that is not in system.devices");
        }
        Dma dma;
        dma.iova = ev.iova;
        dma.len = ev.len;
        dma.write = (ev.access & IOMMU_ACC_W) != 0;
        dma.privileged = (ev.access & IOMMU_ACC_PRIV) != 0;
        dma.requester_id = iommu_host_requester_id(host_.get(), ev.sid);
        dma.pasid = (ev.flags & IOMMU_EVF_PASID) ? ev.pasid : 0xFFFFFFFFu;
        dma.timed = (ev.flags & IOMMU_EVF_TIME) != 0;
        dma.time_ps = ev.time_ns * 1000;
        pushed[d] = 1;
        if (!(ev.flags & IOMMU_EVF_HANDLE)) {
            endpoints_[d]->push(dma);
            continue;
        }
        // addressed by buffer: one DMA per scatter-gather segment it touches
        for (uint64_t off = ev.iova, left = ev.len; left;) {
            uint64_t iova, piece;
            iommu_sid_t owner;
            enum iommu_status st = iommu_dma_resolve(dma_.get(), ev.handle, off, left, &iova, &piece, &owner);
            if (st != IOMMU_OK)
                bad("dma handle " + std::to_string(ev.handle) +
                    (st == IOMMU_ERR_NOTFOUND ? ": no buffer is mapped with this handle"
                                              : ": offset/len beyond the buffer"));
            dma.iova = iova;
            dma.len = piece;
            dma.by_handle = true;
            dma.handle = ev.handle;
            iommu_dma_handle_inflight(dma_.get(), ev.handle, +1);
            endpoints_[d]->push(dma);
            off += piece;
            left -= piece;
        }
    }
    reading_ = false;
    for (unsigned i = 0; i < endpoints_.size(); i++)
        if (pushed[i])
            endpoints_[i]->kick();
}

void TimedSystem::endpoint_hungry(unsigned) { guarded([&] { read_ahead(); }); }

void TimedSystem::dma_done(unsigned device, const Dma &dma, const IommuExt &last,
                           const sc_time &first_issue, bool error)
{
    guarded([&] { dma_done_body(device, dma, last, first_issue, error); });
}

void TimedSystem::dma_done_body(unsigned device, const Dma &dma, const IommuExt &last,
                                const sc_time &first_issue, bool error)
{
    const uint64_t now = to_ps(sc_time_stamp());
    if (dma.msi) { // the interrupt's write was acknowledged; irq_done did the rest
        msi_free_.push_back((uint32_t)dma.msi_slot);
        if (have_pending_ && all_idle())
            read_ahead();
        return;
    }
    done_++;
    if (error && cfg_.service_faults) // the host's fault handler reads and clears the records
        iommu_fault_service(unit_.get(), nullptr, nullptr);
    if (dma.by_handle && iommu_dma_handle_inflight(dma_.get(), dma.handle, -1) == 0)
        for (unsigned c = 0; c < cpus_.size(); c++) // a dma_unmap may wait for this buffer
            cpu_pump(c);
    if (opt_.interval_ps) {
        close_intervals(now, false);
        cur_.dmas++;
        cur_.bytes += dma.len;
        cur_latency_.add(now - to_ps(first_issue));
    }
    if (opt_.record)
        opt_.record->push_back({device, dma.iova, dma.len, dma.write, error, to_ps(first_issue),
                                to_ps(last.t_arrive), to_ps(last.t_xlat_start),
                                to_ps(last.t_xlat_done), to_ps(last.t_mem_done), now,
                                to_ps(last.walk_time), dma.by_handle ? dma.handle : 0});
    if (!warm_ && done_ == opt_.warmup) {
        warm_ = true;
        total_.reset();
        for (auto &s : dev_stats_)
            s.reset();
        iommu_stats_reset(stats_);
        window_ps_ = now;
        return;
    }
    if (warm_) {
        const uint64_t issue = to_ps(first_issue);
        const uint64_t arrive = to_ps(last.t_arrive), xs = to_ps(last.t_xlat_start),
                       xd = to_ps(last.t_xlat_done), md = to_ps(last.t_mem_done),
                       iss = to_ps(last.t_issue), walk = to_ps(last.walk_time);
        for (DmaStats *s : {&total_, &dev_stats_[device]}) {
            s->count++;
            s->bytes += dma.len;
            (dma.write ? s->writes : s->reads)++;
            s->errors += error;
            if (issue < s->first_issue_ps)
                s->first_issue_ps = issue;
            s->last_done_ps = now;
            s->latency.add(now - issue);
            s->translation.add(xd - arrive);
            s->link_ps += (arrive - iss) + (now - md);
            s->queue_ps += xs - arrive;
            s->walk_ps += walk;
            s->xlat_ps += (xd - xs) - walk;
            s->mem_ps += md - xd;
        }
    }
    if (opt_.progress && (done_ & 0x3FFFF) == 0) {
        double w = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
        if (w - last_progress_ >= 1.0 && w - wall_start_ >= 2.0) {
            std::fprintf(stderr, "\r%llu DMAs, simulated %.3f ms, %.2f M DMAs/s   ",
                         (unsigned long long)done_, (double)now / 1e9,
                         (double)done_ / (w - wall_start_) / 1e6);
            last_progress_ = w;
        }
    }
    if (have_pending_ && all_idle())
        read_ahead();
}

void TimedSystem::push_msi(const iommu_trace_event &ev, int device)
{
    uint32_t slot;
    if (msi_free_.empty()) {
        slot = (uint32_t)msi_slots_.size();
        msi_slots_.push_back(ev);
    } else {
        slot = msi_free_.back();
        msi_free_.pop_back();
        msi_slots_[slot] = ev;
    }
    iommu_irq_req req;
    iommu_irqhost_request(irqh_.get(), &ev, &req);
    Dma dma;
    dma.iova = req.addr;
    dma.len = 4;
    dma.write = true;
    dma.requester_id = iommu_host_requester_id(host_.get(), ev.sid);
    dma.timed = (ev.flags & IOMMU_EVF_TIME) != 0;
    dma.time_ps = ev.time_ns * 1000;
    dma.msi = true;
    dma.msi_data = req.data;
    dma.msi_slot = slot;
    endpoints_[device]->push(dma);
}

void TimedSystem::irq_done(const IommuExt &e, const iommu_irq_op &op, bool done, bool notify,
                           const iommu_pid &pid, uint64_t t_ps)
{
    const iommu_trace_event &ev = msi_slots_[e.msi_slot];
    const bool posted = done && op.out.kind == IOMMU_IRQ_POSTED;
    // latency from when the device raised it: its trace time when it has one (a host event
    // before it may have held its write back), else the write's issue
    uint64_t issue = to_ps(e.t_issue);
    if ((ev.flags & IOMMU_EVF_TIME) && ev.time_ns * 1000 < issue)
        issue = ev.time_ns * 1000;
    iommu_irqhost_deliver(irqh_.get(), &ev, &op, done, notify, posted ? &pid : nullptr, issue, t_ps);
    if (!done && cfg_.service_faults)
        iommu_fault_service(unit_.get(), nullptr, nullptr);
}

void TimedSystem::run()
{
    auto t0 = std::chrono::steady_clock::now();
    wall_start_ = std::chrono::duration<double>(t0.time_since_epoch()).count();
    sc_start(SC_ZERO_TIME); // finish elaboration (socket callbacks) before the first request
    // As a driver does first: read the capability registers and check what it finds.
    uint64_t cap = 0, ecap = 0;
    if (!host_regs_->read64(0x008, &cap) || !host_regs_->read64(0x010, &ecap) ||
        cap != iommu_reg_cap(&cfg_.unit) || ecap != iommu_reg_ecap(&cfg_.unit))
        throw std::logic_error("IOMMU register interface disagrees with the configuration");
    // The simulation stops when no event is left; host events read after the last DMA (or a
    // barrier met with nothing in flight) are applied and the simulation goes on.
    do {
        read_ahead();
        for (unsigned c = 0; c < cpus_.size(); c++)
            cpu_pump(c);
        bool busy = false;
        for (const HostCpu &c : cpus_)
            busy = busy || c.busy;
        bool work = busy || host_wait_;
        for (auto &e : endpoints_) {
            e->kick();
            work = work || e->queued() || e->in_flight();
        }
        const bool pending = sc_pending_activity(); // the engine, timers
        if (!work && !pending && !cpus_idle()) // calls queued, nothing left that could unblock them
            bad("host operations cannot proceed (a dma_unmap waits for DMAs that never complete)");
        if (work || (pending && !cpus_idle()))
            sc_start();
        if (!input_error_.empty())
            throw RunInputError(input_error_);
        bool waiting = false;
        for (const HostCpu &c : cpus_)
            waiting = waiting || c.waiting;
        if (waiting) // the simulation ran dry while the host waited: the queue stopped
            bad(std::string("the invalidation queue stopped (FSTS.IQE: ") +
                iommu_qi_error_name((unsigned)(iommu_invq_iqercd(invq_.get()) & 0xf)) +
                ") while the host waited for it");
    } while (!eof_ || have_pending_ || have_stalled_ || !synth_.empty() || !cpus_idle());
    // deferred invalidations (lazy/batched) still pending: flushed at the end
    for (;;) {
        iommu_dma_work w;
        if (iommu_dma_flush_all(dma_.get(), 0, to_ps(sc_time_stamp()) / 1000, &w) != IOMMU_OK || !w.wait)
            break;
        flush_timer_->ev.cancel();
        start_work(0, w, nullptr);
        sc_start();
        if (!input_error_.empty())
            throw RunInputError(input_error_);
        if (!cpus_idle())
            bad("the invalidation queue stopped while the host waited for it");
    }
    flush_timer_->ev.cancel();
    end_ps_ = to_ps(sc_time_stamp());
    iommu_prot_finish(prot_.get(), end_ps_ / 1000);
    close_intervals(end_ps_, true);
    wall_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (opt_.progress)
        std::fprintf(stderr, "\r%70s\r", "");
    if (!warm_)
        throw RunInputError(opt_.trace + ": --warmup " + std::to_string(opt_.warmup) +
                            " is not below the trace's " + std::to_string(done_) + " DMAs");
}

} // namespace iommusim::tlm_model
