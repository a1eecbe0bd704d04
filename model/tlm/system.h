// system.h — builds and runs the timed system from a configuration and a trace: one IOMMU,
// one Memory, and per device a PcieEndpoint and its PcieLink; a trace driver feeds them.
//
// The driver reads the trace in order. DMA events go to their device's endpoint queue (read
// ahead, bounded). Host events (attach, detach, map, unmap, inv, ...) are applied in zero time
// once every DMA before them in the trace has completed: a barrier, so the replay never lets
// a DMA overtake the map or unmap the trace put before or after it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/histogram.hpp>

#include "model/tlm/endpoint.h"
#include "model/tlm/iommu_tlm.h"
#include "model/tlm/memory.h"
#include "model/tlm/pcie_link.h"

#include <functional>

extern "C" {
#include "host/apply.h"
#include "host/host.h"
#include "model/iommu/iommu.h"
#include "traces/trace.h"
}

namespace iommusim::tlm_model {

struct TimedConfig {
    iommu_cfg unit;
    iommu_host_cfg host;
    iommu_dma_cfg dma;
    iommu_cache_cfg devtlb{};   // each ATS device's device-TLB (dma.ats)
    iommu_irqhost_cfg irq{};    // the host's interrupt model (host/irq_host.h)
    bool service_faults = true;
    IommuTiming timing;
    PcieLinkConfig link;
    MemoryConfig memory;
    EndpointConfig device;                    // tags, posted (MRRS/MPS come from link)
    std::map<uint16_t, unsigned> tags_by_device; // per-device override of device.tags
    std::vector<uint16_t> devices;            // empty: every device with a dma in the trace
};

// One finished DMA, for tests and traces of individual transactions (RunOptions::record).
struct DmaRecord {
    unsigned device;
    uint64_t iova, len;
    bool write, error;
    uint64_t issue_ps, arrive_ps, xlat_start_ps, xlat_done_ps, mem_done_ps, complete_ps, walk_ps;
    uint64_t handle = 0; // a DMA-API buffer's DMA: its handle (0 otherwise)
};

// One host operation in time, for tests (RunOptions::host_record).
struct HostOpRecord {
    unsigned cpu;
    uint64_t handle;          // dma_map/dma_unmap: the buffer (0 otherwise)
    uint64_t start_ps, end_ps;
    bool unmap, map;          // a dma_unmap (or DMA-level unmap) / a buffer's last dma_map
};

struct RunOptions {
    std::string trace;
    std::vector<HostOpRecord> *host_record = nullptr; // if set, every host operation
    std::vector<DmaRecord> *record = nullptr; // if set, every finished DMA is appended
    std::vector<uint64_t> *irq_record = nullptr; // if set, every interrupt latency (ps), in the
                                                 // order they become known
    uint64_t warmup = 0;    // DMAs excluded from every statistic (caches stay warm)
    bool progress = false;  // progress lines on stderr
    uint64_t interval_ps = 0; // > 0: per-interval time series (see Interval)
    std::string vcd;        // VCD waveform of occupancies (path without ".vcd"), or empty
};

// One interval of the time series (`--interval NS`): what completed or happened in
// [start, end). Core counters are attributed when the interval is closed, which happens at the
// first DMA completion at or after its end (the series needs no simulation events of its own).
struct Interval {
    uint64_t start_ps, end_ps;
    uint64_t dmas, bytes;
    uint64_t iotlb_hits, iotlb_misses, walks;
    double latency_p50_ns;
};

// Unusable input found while running (trace line, unknown device): one line, exit 2.
struct RunInputError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A latency distribution in ns (1 ns bins up to 1 ms, then 100 us bins up to 1 s, then the
// maximum), with percentiles.
class Latency {
public:
    Latency();
    void add(uint64_t ps);
    void reset();
    uint64_t count() const { return n_; }
    double mean_ns() const { return n_ ? (double)sum_ps_ / (double)n_ / 1000.0 : 0.0; }
    double percentile_ns(double p) const; // lower edge of the bin holding the p-quantile
    uint64_t max_ns() const { return max_ps_ / 1000; }
    // {"bucket_width_ns": 1, "buckets": [[ns, count], ...]} (non-empty bins only)
    std::vector<std::pair<uint64_t, uint64_t>> nonzero_bins() const;
    // the values >= 1 ms: [[ns (lower edge of a 100 us bin), count], ...] (non-empty only)
    std::vector<std::pair<uint64_t, uint64_t>> nonzero_coarse_bins() const;

private:
    using Hist = decltype(boost::histogram::make_histogram(boost::histogram::axis::integer<>(0, 1)));
    Hist h_;
    Hist coarse_; // values >= 1 ms, in kCoarseNs bins (index = value / kCoarseNs)
    static constexpr uint64_t kCoarseNs = 100000;
    static constexpr int kCoarseBins = 10000; // up to 1 s
    uint64_t n_ = 0, sum_ps_ = 0, max_ps_ = 0;
};

// What the summary and the stats JSON report about DMAs.
struct DmaStats {
    uint64_t count = 0, bytes = 0, reads = 0, writes = 0, errors = 0;
    uint64_t first_issue_ps = UINT64_MAX, last_done_ps = 0;
    uint64_t link_ps = 0, queue_ps = 0, xlat_ps = 0, walk_ps = 0, mem_ps = 0; // breakdown sums
    Latency latency, translation;
    void reset();
};

// The host's port to the IOMMU's registers (the OS driver's MMIO accesses).
struct HostRegs : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<HostRegs> regs;
    explicit HostRegs(sc_core::sc_module_name n) : sc_module(n), regs("regs") {}
    // Reads a 64-bit register; false on an error response.
    bool read64(uint64_t offset, uint64_t *value);
};

// A one-shot timer: calls fn when ev fires (the host CPU's phases, the lazy flush timer).
struct HostTimer : sc_core::sc_module {
    sc_core::sc_event ev;
    std::function<void()> fn;
    SC_HAS_PROCESS(HostTimer);
    explicit HostTimer(sc_core::sc_module_name n) : sc_module(n)
    {
        SC_METHOD(fire);
        sensitive << ev;
        dont_initialize();
    }
    void fire() { if (fn) fn(); }
};

// Host-side (DMA API, invalidation) timing figures for the summary and the stats JSON.
struct HostTimedStats {
    uint64_t ops = 0, busy_ps = 0, waits = 0, wait_ps = 0, wait_max_ps = 0;
    uint64_t doorbells = 0, pending_sum = 0, pending_max = 0; // queue occupancy at doorbells
};

class TimedSystem : public DmaListener, public InvListener, public IrqListener {
public:
    // Builds everything (validates first: throws RunInputError "key: reason"). Must be called
    // before any SystemC simulation in this process.
    TimedSystem(const TimedConfig &cfg, const RunOptions &opt, iommu_stats_t *stats);
    ~TimedSystem() override;

    void run(); // simulates the whole trace; throws RunInputError on a bad trace line

    const DmaStats &total() const { return total_; }
    const std::vector<DmaStats> &per_device() const { return dev_stats_; }
    const std::vector<uint16_t> &devices() const { return devices_; }
    const Iommu &iommu() const { return *iommu_; }
    const Memory &memory() const { return *memory_; }
    const PcieLink &link(unsigned device) const { return *links_[device]; }
    uint64_t sim_time_ps() const { return end_ps_; }
    uint64_t window_start_ps() const { return window_ps_; }
    uint64_t trace_events() const { return events_; }
    const std::vector<Interval> &intervals() const { return intervals_; }
    double wall_s() const { return wall_s_; }

    // DmaListener
    void dma_done(unsigned device, const Dma &dma, const IommuExt &last,
                  const sc_core::sc_time &first_issue, bool error) override;
    void endpoint_hungry(unsigned device) override;
    // InvListener
    void inv_executing(uint64_t t_ps) override;
    void inv_wait_done(uint64_t addr, uint32_t value, uint64_t t_ps) override;
    void inv_stopped(uint64_t t_ps) override;

    // IrqListener
    void irq_done(const IommuExt &e, const iommu_irq_op &op, bool done, bool notify,
                  const iommu_pid &pid, uint64_t t_ps) override;

    const HostTimedStats &host_stats() const { return host_stats_; }
    const iommu_irqhost_t *irq_host() const { return irqh_.get(); }
    const Latency &irq_latency() const { return irq_latency_; } // device write → consumer
    double cycles_per_io() const;

private:
    void scan_devices();
    void read_ahead();          // feed endpoints until full, a barrier or the end
    bool apply_host(const iommu_trace_event &ev); // false: a barrier is pending
    bool all_idle() const;
    bool cpus_idle() const;
    void apply_event(const iommu_trace_event &ev, uint64_t now_ns, iommu_dma_work *w);
    void cpu_pump(unsigned c);                             // CPU c takes its next operation
    void start_work(unsigned c, const iommu_dma_work &w, const iommu_trace_event *ev);
    void cpu_done(unsigned c);                             // its CPU phase ended
    void finish_work(unsigned c, uint64_t t_ps);           // ... and its wait, if any
    void arm_timer();
    void timer_fired();
    void close_intervals(uint64_t now_ps, bool final);
    [[noreturn]] void bad(const std::string &why);
    // Runs f from inside a SystemC process: bad input found there stops the simulation and
    // run() reports it (an exception must not leave a process: SystemC would wrap it).
    template <class F> void guarded(F f)
    {
        try {
            f();
        } catch (const RunInputError &e) {
            if (input_error_.empty())
                input_error_ = e.what();
            sc_core::sc_stop();
        }
    }
    std::string input_error_;
    void dma_done_body(unsigned device, const Dma &dma, const IommuExt &last,
                       const sc_core::sc_time &first_issue, bool error);
    void inv_wait_done_body(uint64_t addr, uint32_t value, uint64_t t_ps);

    TimedConfig cfg_;
    RunOptions opt_;
    iommu_stats_t *stats_;
    // owners of the core objects, declared before the modules so they are destroyed after them
    template <typename T, void (*F)(T *)> struct Del {
        void operator()(T *p) const { F(p); }
    };
    std::unique_ptr<iommu_physmem_t, Del<iommu_physmem_t, iommu_physmem_destroy>> mem_;
    std::unique_ptr<iommu_host_t, Del<iommu_host_t, iommu_host_destroy>> host_;
    std::unique_ptr<iommu_t, Del<iommu_t, iommu_destroy>> unit_;
    std::unique_ptr<iommu_trace_reader_t, Del<iommu_trace_reader_t, iommu_trace_close>> reader_;
    std::unique_ptr<iommu_invq_t, Del<iommu_invq_t, iommu_invq_destroy>> invq_;
    std::unique_ptr<iommu_prot_t, Del<iommu_prot_t, iommu_prot_destroy>> prot_;
    std::unique_ptr<iommu_dma_t, Del<iommu_dma_t, iommu_dma_destroy>> dma_;
    std::unique_ptr<iommu_devtlbs_t, Del<iommu_devtlbs_t, iommu_devtlbs_destroy>> devtlb_;
    std::unique_ptr<iommu_irq_t, Del<iommu_irq_t, iommu_irq_destroy>> irq_;
    std::unique_ptr<iommu_irqhost_t, Del<iommu_irqhost_t, iommu_irqhost_destroy>> irqh_;
    Latency irq_latency_;
    // interrupts in flight: their trace events, by slot (IommuExt::msi_slot), reused
    std::vector<iommu_trace_event> msi_slots_;
    std::vector<uint32_t> msi_free_;
    std::deque<iommu_trace_event> synth_; // synthetic sched events, then their msi
    bool synth_ready_ = false;            // synth_'s msi had its scheduling applied
    void push_msi(const iommu_trace_event &ev, int device);
    iommu_host_env env_{};
    // The host's CPUs: each runs its queue of DMA-API calls (dma_map/dma_unmap with cpu=)
    // one at a time, concurrently with the others and with the devices' DMAs.
    struct HostCpu {
        std::unique_ptr<HostTimer> timer;
        std::deque<iommu_trace_event> queue;
        bool busy = false, waiting = false, after_wait = false, map_handle = false;
        iommu_dma_work work{};
        uint64_t handle = 0, start_ps = 0, doorbell_ps = 0;
    };
    static constexpr size_t kCpuQueue = 1024; // read-ahead bound per CPU
    std::vector<HostCpu> cpus_;
    std::unique_ptr<HostTimer> flush_timer_;
    std::unique_ptr<HostTimer> host_wait_timer_; // a timestamped host event's time comes
    bool host_wait_ = false;
    bool timer_due_ = false;
    bool barrier_busy_ = false;     // CPU 0 runs a DMA-level host event: the trace waits
    iommu_trace_event stalled_{};   // a DMA waiting for its buffer's dma_map to return
    bool have_stalled_ = false;
    std::vector<char> pushed_;      // read_ahead: endpoints given DMAs (reused, no allocation)
    uint64_t timer_at_ps_ = UINT64_MAX;
    HostTimedStats host_stats_;
    std::unique_ptr<Iommu> iommu_;
    std::unique_ptr<Memory> memory_;
    std::unique_ptr<HostRegs> host_regs_;
    std::vector<std::unique_ptr<PcieEndpoint>> endpoints_;
    std::vector<std::unique_ptr<PcieLink>> links_;
    std::vector<uint16_t> devices_;
    std::vector<int> device_of_sid_; // sid → endpoint index, -1 = none
    DmaStats total_;
    std::vector<DmaStats> dev_stats_;
    iommu_trace_event pending_{};    // a host event waiting for the barrier
    bool have_pending_ = false, eof_ = false, reading_ = false;
    uint64_t events_ = 0, done_ = 0, buffered_ = 0;
    uint64_t window_ps_ = 0, end_ps_ = 0;
    bool warm_ = true;
    std::vector<Interval> intervals_;
    Interval cur_{};                 // the interval being filled
    Latency cur_latency_;
    uint64_t base_hits_ = 0, base_misses_ = 0, base_walks_ = 0;
    sc_core::sc_trace_file *vcd_ = nullptr;
    double wall_s_ = 0;
    double wall_start_ = 0, last_progress_ = 0;
};

} // namespace iommusim::tlm_model
