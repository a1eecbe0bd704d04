// iommu_tlm.h — the IOMMU as a timed TLM-2.0 module around the untimed core (model/iommu).
//
// Sockets: `upstream` (multi-passthrough target: one binding per PCIe link), `memory`
// (initiator: translated DMA and every table read), `regs` (target: register reads).
//
// Pipeline of one upstream request (a TLP):
//  1. arrival (peq event) → a translation slot (`slots`, FCFS; waits while all are busy);
//  2. the core resolves the request at once (iommu_translate_begin); its report says which
//     caches were looked up; each lookup costs its latency on one of its cache's ports
//     (`*_ports` units, each busy for one lookup latency) after `interface_ns`;
//  3. a hit goes to memory with the lookup time annotated; a miss either joins a walk in
//     flight for the same page (`coalesce`) or needs one of `walkers` walkers (FCFS); every
//     context/PASID-table and paging-entry read is a TLM read of the bytes in Memory (an
//     event per read), plus `pwc_ns` once per walk and `walk_step_ns` per read;
//  4. the translated access goes to Memory; its completion goes back upstream (`in_order`:
//     per requester in arrival order). A fault answers with an error response after
//     `fault_ns`.
// The slot is released when the translation ends, the walker when its last table read has
// returned. Functional state (caches) changes when a request's arrival is processed.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/peq_with_get.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "model/tlm/payload.h"
#include "model/tlm/resource.h"

extern "C" {
#include "host/protect.h"
#include "model/invq/invq.h"
#include "model/iommu/iommu.h"
#include "model/irq_remap/irq_remap.h"
}

namespace iommusim::tlm_model {

// Timing of the IOMMU pipeline. Latencies in ns; every field has a config key timing.<name>.
struct IommuTiming {
    unsigned slots = 64;          // translation slots: translations in flight at once
    unsigned walkers = 16;        // page walkers: table-read sequences in flight at once
    bool coalesce = true;         // misses to a page being walked wait for that walk
    bool in_order = false;        // completions per requester in request order
    double interface_ns = 8.0;    // arrival → first lookup (input queue, decode)
    double context_cache_ns = 2.0;
    unsigned context_cache_ports = 1;
    double pasid_cache_ns = 2.0;
    unsigned pasid_cache_ports = 1;
    double iotlb_ns = 3.0;
    unsigned iotlb_ports = 1;
    double pwc_ns = 4.0;          // paging-structure-cache lookup, once per walk
    double walk_step_ns = 2.0;    // walker work per table read (besides the memory read)
    double fault_ns = 10.0;       // fault recording before the error response
    // invalidation hardware (model/invq): per descriptor after its fetch, then per cache the
    // time the invalidation holds that cache's lookup port (contending with translations);
    // estimates of the order of the lookup latencies (no published figure)
    double inv_desc_ns = 4.0;
    double inv_iotlb_ns = 4.0;   // IOTLB (and paging-structure caches): IOTLB port
    double inv_context_ns = 4.0; // context cache: its port
    double inv_pasid_ns = 4.0;   // PASID cache: its port
    double inv_iec_ns = 4.0;     // interrupt-entry cache (no lookup port modelled: time only)
    // a device-TLB invalidation: the message down the link, the device's work, the completion
    // back (2 x 213.5 ns link latency of the Haswell calibration + 100 ns, an estimate)
    double devtlb_inv_ns = 527.0;
    // interrupt remapping: an IEC lookup (one port; an estimate of the order of the other
    // cache lookups); the IRTE read and the posted-descriptor update go through memory
    double iec_ns = 2.0;
};
// Returns "" or "timing.<key>: reason".
std::string validate(const IommuTiming &t);

// Counters of the timed pipeline (the core counts hits, misses and walks itself).
struct IommuTlmStats {
    uint64_t requests = 0, slot_waits = 0, walker_waits = 0, coalesced = 0, table_reads = 0,
             faults = 0, responses = 0;
    uint64_t slot_wait_ps = 0, walker_wait_ps = 0, walk_ps = 0, walks = 0;
};

// What the invalidation engine tells the host model.
struct InvListener {
    virtual ~InvListener() = default;
    virtual void inv_executing(uint64_t t_ps) = 0; // a descriptor takes effect now
    virtual void inv_wait_done(uint64_t status_addr, uint32_t value, uint64_t t_ps) = 0;
    virtual void inv_stopped(uint64_t t_ps) = 0;   // the queue stopped on an error (IQE)
};

// What the interrupt-remapping hardware tells the host model: request e finished at t_ps
// (done, or faulted), with a posted result's notification and descriptor.
struct IrqListener {
    virtual ~IrqListener() = default;
    virtual void irq_done(const IommuExt &e, const iommu_irq_op &op, bool done, bool notify,
                          const iommu_pid &pid, uint64_t t_ps) = 0;
};

struct InvTlmStats {
    uint64_t fetched = 0, executed = 0, waits = 0, drain_waits = 0, drain_ps = 0, busy_ps = 0;
    uint64_t last_exec_ps = 0;      // the latest invalidation (not wait) took effect
    uint64_t last_wait_done_ps = 0; // the latest wait's status write completed
};

class Iommu : public sc_core::sc_module {
public:
    tlm_utils::multi_passthrough_target_socket<Iommu> upstream;
    tlm_utils::simple_initiator_socket<Iommu> memory;
    tlm_utils::simple_target_socket<Iommu> regs;

    SC_HAS_PROCESS(Iommu);
    Iommu(sc_core::sc_module_name name, iommu_t *unit, const IommuTiming &timing);
    ~Iommu() override;

    const IommuTlmStats &stats() const { return stats_; }
    // The invalidation hardware: descriptors are fetched from memory through the memory
    // socket, executed in order at their simulated time (holding the ports of the caches they
    // invalidate), and a wait descriptor's status write happens only after every translation
    // that began before the latest invalidation has completed (drain).
    void attach_invq(iommu_invq_t *q, iommu_physmem_t *mem, InvListener *l);
    void doorbell(uint64_t iqt); // IQT_REG write
    // The interrupt-remapping hardware: an upstream write with IommuExt::msi is an interrupt
    // request. It skips the translation pipeline: interface_ns, an IEC lookup (iec_ns on the
    // IEC's port) when remapping is on, the IRTE read through memory on a miss, for a posted
    // result the descriptor's read and write (the update itself is atomic at the read's
    // completion), then the listener is told and the write is acknowledged.
    void attach_irq(iommu_irq_t *irq, iommu_physmem_t *mem, IrqListener *l);
    // Protection metrics: every translation is checked for a stale IOTLB entry.
    void set_prot(iommu_prot_t *p) { prot_ = p; }
    const InvTlmStats &inv_stats() const { return inv_stats_; }
    unsigned slots_busy() const { return busy_slots_; }
    unsigned walkers_busy() const { return busy_walkers_; }
    unsigned waiting() const { return (unsigned)(slot_queue_.size() + walker_queue_.size()); }
    // Adds the pipeline's occupancies to a waveform: slots and walkers in use, requests waiting
    // for a slot or a walker, walks in flight (values change when requests are processed).
    void trace(sc_core::sc_trace_file *tf);

private:
    struct Op;
    tlm::tlm_sync_enum nb_transport_fw(int id, tlm::tlm_generic_payload &gp, tlm::tlm_phase &ph,
                                       sc_core::sc_time &delay);
    tlm::tlm_sync_enum nb_transport_bw_mem(tlm::tlm_generic_payload &gp, tlm::tlm_phase &ph,
                                           sc_core::sc_time &delay);
    void b_transport_regs(tlm::tlm_generic_payload &gp, sc_core::sc_time &delay);
    void on_arrival();  // SC_METHOD on arrive_peq_
    void on_memory();   // SC_METHOD on mem_peq_
    void on_inv();      // SC_METHOD on inv_ev_: the invalidation engine's next step
    struct IrOp;
    void ir_arrival(tlm::tlm_generic_payload *gp, uint64_t now);
    void ir_step(IrOp *o, iommu_step s, uint64_t t_ps);
    void ir_memory(IrOp *o, tlm::tlm_generic_payload *gp, uint64_t now);
    void ir_done(IrOp *o, bool ok, uint64_t t_ps);
    void inv_fetched(uint64_t t_ps);
    void inv_try_complete_wait(uint64_t t_ps);
    uint64_t older_inflight(uint64_t epoch) const;

    void start_op(Op *op, uint64_t t_ps);                 // slot granted at t_ps
    uint64_t charge(Op *op, uint64_t t_ps);               // lookup latencies on their ports
    void step(Op *op, iommu_step s, uint64_t t_ps);       // act on a core step at t_ps
    void table_read(Op *op, const iommu_step &s, uint64_t t_ps);
    void need_walker(Op *op, uint64_t t_ps, bool walk);   // acquire a walker, then read/walk
    void walk_ended(Op *op, bool ok, uint64_t t_ps);      // a leader's walk ended: its joiners
    void translated(Op *op, uint64_t t_ps);
    void faulted(Op *op, uint64_t t_ps);
    void release_slot(Op *op, uint64_t t_ps);
    void release_walker(Op *op, uint64_t t_ps);
    void respond(Op *op);
    void deliver(Op *op);
    Op *new_op();
    void free_op(Op *op);

    iommu_t *unit_;
    iommu_prot_t *prot_ = nullptr;
    IommuTiming t_;
    uint64_t interface_ps_, cc_ps_, pc_ps_, iotlb_ps_, pwc_ps_, step_ps_, fault_ps_;
    tlm_utils::peq_with_get<tlm::tlm_generic_payload> arrive_peq_, mem_peq_;
    Resource slots_, walkers_, cc_ports_, pc_ports_, iotlb_ports_;
    unsigned busy_slots_ = 0, busy_walkers_ = 0;
    unsigned slot_waiting_ = 0, walker_waiting_ = 0, walks_open_ = 0; // waveform copies
    std::deque<Op *> slot_queue_, walker_queue_;
    // Walks in flight by coalescing key → leader: open addressing, linear probing, backward-
    // shift deletion, sized at creation (2 × slots, a power of two; every leader holds a slot),
    // so registering a walk never allocates.
    struct WalkTable {
        std::vector<std::pair<uint64_t, Op *>> slot; // Op* == nullptr: empty
        size_t mask = 0, used = 0;
        void init(size_t capacity);
        Op *find(uint64_t key) const;
        void insert(uint64_t key, Op *op);
        void erase(uint64_t key);
    } walks_in_flight_;
    // invalidation engine
    iommu_invq_t *invq_ = nullptr;
    iommu_physmem_t *physmem_ = nullptr;
    InvListener *inv_listener_ = nullptr;
    enum class InvState { Idle, Fetching, Exec, Drain, Status } inv_state_ = InvState::Idle;
    sc_core::sc_event inv_ev_;
    uint64_t inv_words_[4] = {};
    iommu_invq_result inv_res_{};
    uint64_t inv_desc_ps_ = 0, inv_iotlb_ps_ = 0, inv_cc_ps_ = 0, inv_pc_ps_ = 0, inv_iec_ps_ = 0;
    uint64_t inv_busy_from_ = 0;
    uint64_t devtlb_ps_ = 0, devtlb_done_ps_ = 0; // device-TLB invalidation round trips
    uint64_t epoch_ = 0, drain_epoch_ = 0, drain_from_ = 0;
    std::deque<uint64_t> inflight_; // translations in flight per epoch, from epoch_base_
    uint64_t epoch_base_ = 0;
    InvTlmStats inv_stats_;
    // interrupt remapping
    iommu_irq_t *irq_ = nullptr;
    IrqListener *irq_listener_ = nullptr;
    Resource iec_ports_{1};
    uint64_t iec_ps_ = 0;
    std::vector<std::unique_ptr<IrOp>> ir_all_;
    std::vector<IrOp *> ir_free_;
    char inv_tag_ = 0;             // owner marker of the engine's memory transactions
    std::vector<Op *> op_free_;
    std::vector<Op *> op_all_;
    PayloadPool table_pool_;
    // in-order delivery: per requester (link id << 16 | requester id)
    struct Order {
        uint64_t next_issue = 0, next_deliver = 0, last_ps = 0;
        std::map<uint64_t, Op *> ready;
    };
    std::unordered_map<uint32_t, Order> order_;
    IommuTlmStats stats_;
};

} // namespace iommusim::tlm_model
