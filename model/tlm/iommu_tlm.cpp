// iommu_tlm.cpp — the timed IOMMU pipeline (see iommu_tlm.h).
#include "model/tlm/iommu_tlm.h"

#include <cassert>
#include <cstring>

extern "C" {
#include "model/iommu/regs.h"
}

using namespace sc_core;

namespace iommusim::tlm_model {

std::string validate(const IommuTiming &t)
{
    if (t.slots < 1 || t.slots > 4096)
        return "timing.slots: must be 1..4096";
    if (t.walkers < 1 || t.walkers > 1024)
        return "timing.walkers: must be 1..1024";
    if (!t.context_cache_ports || t.context_cache_ports > 64)
        return "timing.context_cache_ports: must be 1..64";
    if (!t.pasid_cache_ports || t.pasid_cache_ports > 64)
        return "timing.pasid_cache_ports: must be 1..64";
    if (!t.iotlb_ports || t.iotlb_ports > 64)
        return "timing.iotlb_ports: must be 1..64";
    const std::pair<const char *, double> lat[] = {
        {"timing.interface_ns", t.interface_ns}, {"timing.context_cache_ns", t.context_cache_ns},
        {"timing.pasid_cache_ns", t.pasid_cache_ns}, {"timing.iotlb_ns", t.iotlb_ns},
        {"timing.pwc_ns", t.pwc_ns}, {"timing.walk_step_ns", t.walk_step_ns},
        {"timing.fault_ns", t.fault_ns}, {"timing.iec_ns", t.iec_ns}};
    for (auto &[k, v] : lat)
        if (!(v >= 0 && v <= 1e6))
            return std::string(k) + ": must be between 0 and 1000000 ns";
    return "";
}

// One request in flight (pooled).
struct Iommu::Op {
    iommu_op op;
    iommu_req req;
    tlm::tlm_generic_payload *gp = nullptr; // the upstream request
    uint64_t arrive_ps = 0, wait_from_ps = 0, walk_start_ps = 0, ready_ps = 0;
    uint64_t first_pa = 0;
    unsigned slot = 0, walker = 0;
    bool has_slot = false, has_walker = false;
    bool leader = false;       // registered in walks_in_flight_
    uint64_t key = 0;          // coalescing key (hash of domain, PASID tag, 4 KB page)
    std::vector<Op *> joiners; // ops waiting on this op's walk
    iommu_step pending{};      // a table read waiting for a walker
    bool pending_walk = false; // waiting for a walker to start a walk (not a read)
    uint8_t charged = 0;       // lookups already charged (bits: 1 cc, 2 pc, 4 iotlb)
    uint32_t order_key = 0;
    uint64_t seq = 0;
    bool chunked = false;      // first chunk done (first_pa valid)
    uint64_t epoch = 0;        // invalidation epoch when its translation began
};

Iommu::Iommu(sc_module_name name, iommu_t *unit, const IommuTiming &timing)
    : sc_module(name), upstream("upstream"), memory("memory"), regs("regs"), unit_(unit),
      t_(timing), arrive_peq_("arrive_peq"), mem_peq_("mem_peq"), slots_(timing.slots),
      walkers_(timing.walkers), cc_ports_(timing.context_cache_ports),
      pc_ports_(timing.pasid_cache_ports), iotlb_ports_(timing.iotlb_ports)
{
    walks_in_flight_.init(2 * (size_t)timing.slots);
    interface_ps_ = ns_to_ps(t_.interface_ns);
    cc_ps_ = ns_to_ps(t_.context_cache_ns);
    pc_ps_ = ns_to_ps(t_.pasid_cache_ns);
    iotlb_ps_ = ns_to_ps(t_.iotlb_ns);
    pwc_ps_ = ns_to_ps(t_.pwc_ns);
    step_ps_ = ns_to_ps(t_.walk_step_ns);
    fault_ps_ = ns_to_ps(t_.fault_ns);
    inv_desc_ps_ = ns_to_ps(t_.inv_desc_ns);
    inv_iotlb_ps_ = ns_to_ps(t_.inv_iotlb_ns);
    inv_cc_ps_ = ns_to_ps(t_.inv_context_ns);
    inv_pc_ps_ = ns_to_ps(t_.inv_pasid_ns);
    inv_iec_ps_ = ns_to_ps(t_.inv_iec_ns);
    devtlb_ps_ = ns_to_ps(t_.devtlb_inv_ns);
    iec_ps_ = ns_to_ps(t_.iec_ns);
    inflight_.push_back(0);
    upstream.register_nb_transport_fw(this, &Iommu::nb_transport_fw);
    memory.register_nb_transport_bw(this, &Iommu::nb_transport_bw_mem);
    regs.register_b_transport(this, &Iommu::b_transport_regs);
    SC_METHOD(on_arrival);
    sensitive << arrive_peq_.get_event();
    dont_initialize();
    SC_METHOD(on_memory);
    sensitive << mem_peq_.get_event();
    dont_initialize();
    SC_METHOD(on_inv);
    sensitive << inv_ev_;
    dont_initialize();
}

void Iommu::WalkTable::init(size_t capacity)
{
    size_t n = 1;
    while (n < capacity)
        n <<= 1;
    slot.assign(n, {0, nullptr});
    mask = n - 1;
    used = 0;
}

Iommu::Op *Iommu::WalkTable::find(uint64_t key) const
{
    for (size_t i = key & mask;; i = (i + 1) & mask) {
        if (!slot[i].second)
            return nullptr;
        if (slot[i].first == key)
            return slot[i].second;
    }
}

void Iommu::WalkTable::insert(uint64_t key, Op *op)
{
    assert(used < mask); // at most `slots` leaders in a table of 2 × slots
    size_t i = key & mask;
    while (slot[i].second)
        i = (i + 1) & mask;
    slot[i] = {key, op};
    used++;
}

void Iommu::WalkTable::erase(uint64_t key)
{
    size_t i = key & mask;
    while (slot[i].second && slot[i].first != key)
        i = (i + 1) & mask;
    if (!slot[i].second)
        return;
    // backward-shift: move later members of the run into the hole when they may live there
    for (size_t j = (i + 1) & mask; slot[j].second; j = (j + 1) & mask) {
        const size_t home = slot[j].first & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            slot[i] = slot[j];
            i = j;
        }
    }
    slot[i] = {0, nullptr};
    used--;
}

Iommu::~Iommu()
{
    for (Op *op : op_all_)
        delete op;
}

Iommu::Op *Iommu::new_op()
{
    Op *op;
    if (op_free_.empty()) {
        op = new Op();
        op_all_.push_back(op);
    } else {
        op = op_free_.back();
        op_free_.pop_back();
    }
    op->has_slot = op->has_walker = op->leader = op->pending_walk = op->chunked = false;
    op->joiners.clear();
    op->charged = 0;
    return op;
}

void Iommu::free_op(Op *op) { op_free_.push_back(op); }

void Iommu::trace(sc_trace_file *tf)
{
    const std::string n = name();
    sc_trace(tf, busy_slots_, n + ".slots_busy");
    sc_trace(tf, busy_walkers_, n + ".walkers_busy");
    sc_trace(tf, slot_waiting_, n + ".slot_queue");
    sc_trace(tf, walker_waiting_, n + ".walker_queue");
    sc_trace(tf, walks_open_, n + ".walks_in_flight");
}

// ---------------------------------------------------------------------- sockets -------

tlm::tlm_sync_enum Iommu::nb_transport_fw(int id, tlm::tlm_generic_payload &gp,
                                          tlm::tlm_phase &ph, sc_time &delay)
{
    if (ph == tlm::BEGIN_REQ) {
        IommuExt &e = PayloadPool::ext(gp);
        e.port = (int16_t)id;
        e.t_arrive = sc_time_stamp() + delay;
        arrive_peq_.notify(gp, delay);
        ph = tlm::END_REQ; // accepted at once: queueing is modelled inside
        return tlm::TLM_UPDATED;
    }
    return tlm::TLM_COMPLETED; // END_RESP: nothing to do
}

tlm::tlm_sync_enum Iommu::nb_transport_bw_mem(tlm::tlm_generic_payload &gp, tlm::tlm_phase &ph,
                                              sc_time &delay)
{
    if (ph == tlm::BEGIN_RESP)
        mem_peq_.notify(gp, delay);
    return tlm::TLM_COMPLETED;
}

void Iommu::b_transport_regs(tlm::tlm_generic_payload &gp, sc_time &delay)
{
    // Register reads (VT-d 11.4): VER, CAP, ECAP, FSTS and the fault-recording registers.
    const iommu_cfg *c = iommu_config(unit_);
    const uint64_t a = gp.get_address();
    const unsigned len = gp.get_data_length();
    uint64_t v[2] = {0, 0};
    bool ok = gp.is_read() && (len == 4 || len == 8 || len == 16);
    if (ok) {
        if (a == 0x000)
            v[0] = IOMMU_REG_VER;
        else if (a == 0x008)
            v[0] = iommu_reg_cap(c);
        else if (a == 0x010)
            v[0] = iommu_reg_ecap(c);
        else if (a == 0x034)
            v[0] = iommu_fault_status(unit_);
        else if (a >= c->fro && a < c->fro + 16u * c->nfr && (a - c->fro) % 16 == 0)
            iommu_fault_record_encode(iommu_fault_get(unit_, (unsigned)((a - c->fro) / 16)), v);
        else
            ok = false;
    }
    if (!ok) {
        gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    std::memcpy(gp.get_data_ptr(), v, len);
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
    delay += sc_time(t_.interface_ns, SC_NS);
}

// ---------------------------------------------------------------------- pipeline ------

void Iommu::on_arrival()
{
    const uint64_t now = to_ps(sc_time_stamp());
    while (tlm::tlm_generic_payload *gp = arrive_peq_.get_next_transaction()) {
        IommuExt &e = PayloadPool::ext(*gp);
        if (e.msi) {
            ir_arrival(gp, now);
            continue;
        }
        stats_.requests++;
        Op *op = new_op();
        op->gp = gp;
        op->arrive_ps = now;
        op->req.sid = e.requester_id;
        op->req.pasid = e.pasid;
        op->req.iova = gp->get_address();
        op->req.len = gp->get_data_length() ? gp->get_data_length() : 1;
        op->req.access = (uint8_t)((gp->is_write() ? IOMMU_ACC_W : IOMMU_ACC_R) |
                                   (e.privileged ? IOMMU_ACC_PRIV : 0));
        op->req.flags = t_.coalesce ? IOMMU_REQ_DEFER_WALK : 0;
        if (e.ats == 1) { // the access the translation is requested for, not a data read
            op->req.flags |= IOMMU_REQ_ATS_TRANSLATE;
            op->req.access = (uint8_t)((e.ats_write ? IOMMU_ACC_W : IOMMU_ACC_R) |
                                       (e.privileged ? IOMMU_ACC_PRIV : 0));
        }
        else if (e.ats == 2)
            op->req.flags |= IOMMU_REQ_ATS_TRANSLATED;
        if (t_.in_order) {
            op->order_key = (uint32_t)e.port << 16 | e.requester_id;
            op->seq = order_[op->order_key].next_issue++;
        }
        unsigned slot;
        uint64_t start;
        if (slots_.acquire(now, Resource::kForever, &slot, &start)) {
            op->slot = slot;
            start_op(op, start);
        } else {
            op->wait_from_ps = now;
            slot_queue_.push_back(op);
            slot_waiting_ = (unsigned)slot_queue_.size();
            stats_.slot_waits++;
        }
    }
}

void Iommu::start_op(Op *op, uint64_t t_ps)
{
    op->epoch = epoch_;
    inflight_.back()++;
    op->has_slot = true;
    busy_slots_++;
    stats_.slot_wait_ps += t_ps - op->arrive_ps;
    PayloadPool::ext(*op->gp).t_xlat_start = ps(t_ps);
    iommu_step s = iommu_translate_begin(unit_, &op->op, &op->req);
    step(op, s, charge(op, t_ps + interface_ps_));
}

// Charges the cache lookups the core reported since the last call, on their ports.
uint64_t Iommu::charge(Op *op, uint64_t t_ps)
{
    const iommu_op_report &r = op->op.report;
    unsigned u = 0;
    uint64_t st = t_ps;
    if (r.cc_lookup && !(op->charged & 1)) {
        cc_ports_.acquire(t_ps, cc_ps_, &u, &st);
        t_ps = st + cc_ps_;
        op->charged |= 1;
    }
    if (r.pc_lookup && !(op->charged & 2)) {
        pc_ports_.acquire(t_ps, pc_ps_, &u, &st);
        t_ps = st + pc_ps_;
        op->charged |= 2;
    }
    if (r.iotlb_lookup && !(op->charged & 4)) {
        iotlb_ports_.acquire(t_ps, iotlb_ps_, &u, &st);
        t_ps = st + iotlb_ps_;
        op->charged |= 4;
    }
    return t_ps;
}

void Iommu::step(Op *op, iommu_step s, uint64_t t_ps)
{
    switch (s.kind) {
    case IOMMU_STEP_READ:
        if (op->has_walker) {
            table_read(op, s, t_ps);
        } else {
            op->pending = s;
            need_walker(op, t_ps, false);
        }
        return;
    case IOMMU_STEP_WALK: {
        uint64_t k[2];
        iommu_op_walk_key(&op->op, k);
        op->key = k[0] * 0x9E3779B97F4A7C15ull ^ k[1];
        if (Op *leader = walks_in_flight_.find(op->key)) {
            if (op->has_walker) // it fetched its context: the walker is not needed any more
                release_walker(op, t_ps);
            leader->joiners.push_back(op);
            stats_.coalesced++;
            return;
        }
        op->leader = true;
        walks_in_flight_.insert(op->key, op);
        walks_open_ = (unsigned)walks_in_flight_.used;
        if (op->has_walker) { // continues with the walker that fetched its context
            step(op, iommu_op_start_walk(unit_, &op->op), t_ps + pwc_ps_);
        } else {
            need_walker(op, t_ps, true);
        }
        return;
    }
    case IOMMU_STEP_DONE:
    case IOMMU_STEP_FAULT:
        if (op->has_walker)
            release_walker(op, t_ps);
        if (op->leader)
            walk_ended(op, s.kind == IOMMU_STEP_DONE, t_ps);
        if (s.kind == IOMMU_STEP_DONE)
            translated(op, t_ps);
        else
            faulted(op, t_ps);
        return;
    }
}

void Iommu::need_walker(Op *op, uint64_t t_ps, bool walk)
{
    unsigned w;
    uint64_t start;
    if (!walkers_.acquire(t_ps, Resource::kForever, &w, &start)) {
        op->pending_walk = walk;
        op->wait_from_ps = t_ps;
        walker_queue_.push_back(op);
        walker_waiting_ = (unsigned)walker_queue_.size();
        stats_.walker_waits++;
        return;
    }
    stats_.walker_wait_ps += start - t_ps;
    op->walker = w;
    op->has_walker = true;
    op->walk_start_ps = start;
    busy_walkers_++;
    if (walk)
        step(op, iommu_op_start_walk(unit_, &op->op), start + pwc_ps_);
    else
        table_read(op, op->pending, start);
}

void Iommu::table_read(Op *op, const iommu_step &s, uint64_t t_ps)
{
    tlm::tlm_generic_payload *gp = table_pool_.get();
    IommuExt &e = PayloadPool::ext(*gp);
    e.purpose = Purpose::TableRead;
    e.owner = op;
    gp->set_command(tlm::TLM_READ_COMMAND);
    gp->set_address(s.addr);
    gp->set_data_length(s.size);
    stats_.table_reads++;
    tlm::tlm_phase ph = tlm::BEGIN_REQ;
    sc_time delay = ps(t_ps + step_ps_ - to_ps(sc_time_stamp()));
    tlm::tlm_sync_enum r = memory->nb_transport_fw(*gp, ph, delay);
    if (r == tlm::TLM_COMPLETED || (r == tlm::TLM_UPDATED && ph == tlm::BEGIN_RESP))
        mem_peq_.notify(*gp, delay);
}

void Iommu::on_memory()
{
    const uint64_t now = to_ps(sc_time_stamp());
    while (tlm::tlm_generic_payload *gp = mem_peq_.get_next_transaction()) {
        IommuExt &e = PayloadPool::ext(*gp);
        if (e.purpose == Purpose::Interrupt) {
            ir_memory(static_cast<IrOp *>(e.owner), gp, now);
            continue;
        }
        if (e.owner == &inv_tag_) { // the invalidation engine's fetch or status access
            const bool ok = gp->get_response_status() == tlm::TLM_OK_RESPONSE;
            if (inv_state_ == InvState::Fetching && ok)
                std::memcpy(inv_words_, gp->get_data_ptr(), gp->get_data_length());
            gp->release();
            if (inv_state_ == InvState::Fetching) {
                if (!ok) {
                    iommu_invq_fetch_failed(invq_);
                    inv_state_ = InvState::Idle;
                    if (inv_listener_)
                        inv_listener_->inv_stopped(now);
                } else {
                    inv_fetched(now);
                }
            } else { // status write done
                iommu_physmem_write(physmem_, inv_res_.status_addr, &inv_res_.status_data, 4);
                inv_stats_.last_wait_done_ps = now;
                inv_state_ = InvState::Idle;
                inv_stats_.busy_ps += now - inv_busy_from_;
                if (inv_listener_)
                    inv_listener_->inv_wait_done(inv_res_.status_addr, inv_res_.status_data, now);
                inv_ev_.notify(SC_ZERO_TIME);
            }
            continue;
        }
        Op *op = static_cast<Op *>(e.owner);
        if (e.purpose == Purpose::TableRead) {
            uint64_t buf[8];
            std::memcpy(buf, gp->get_data_ptr(), gp->get_data_length());
            gp->release();
            iommu_step s = iommu_op_resume(unit_, &op->op, buf);
            step(op, s, charge(op, now));
        } else {
            e.t_mem_done = ps(now);
            op->ready_ps = now;
            respond(op);
        }
    }
}

void Iommu::release_walker(Op *op, uint64_t t_ps)
{
    walkers_.release(op->walker, t_ps);
    op->has_walker = false;
    busy_walkers_--;
    stats_.walks++;
    stats_.walk_ps += t_ps - op->walk_start_ps;
    PayloadPool::ext(*op->gp).walk_time += ps(t_ps - op->walk_start_ps);
    if (!walker_queue_.empty()) {
        Op *w = walker_queue_.front();
        walker_queue_.pop_front();
        walker_waiting_ = (unsigned)walker_queue_.size();
        need_walker(w, t_ps > w->wait_from_ps ? t_ps : w->wait_from_ps, w->pending_walk);
    }
}

void Iommu::walk_ended(Op *op, bool ok, uint64_t t_ps)
{
    walks_in_flight_.erase(op->key);
    walks_open_ = (unsigned)walks_in_flight_.used;
    op->leader = false;
    std::vector<Op *> joiners;
    joiners.swap(op->joiners);
    for (Op *j : joiners) {
        if (ok)
            step(j, iommu_op_join(unit_, &j->op, &op->op), t_ps);
        else // the leader faulted: each waiter finds out for itself
            need_walker(j, t_ps, true);
    }
    op->joiners.swap(joiners); // keep the vector's capacity
    op->joiners.clear();
}

void Iommu::translated(Op *op, uint64_t t_ps)
{
    iommu_prot_access(prot_, op->op.xlat.did, op->op.xlat.iova, op->op.report.iotlb_hit);
    if (!op->chunked) {
        op->first_pa = op->op.xlat.pa;
        op->chunked = true;
    }
    if (op->op.remaining) { // the request spans pages: the next chunk is another translation
        op->charged = 0;
        iommu_step s = iommu_op_next_chunk(unit_, &op->op);
        step(op, s, charge(op, t_ps));
        return;
    }
    IommuExt &e = PayloadPool::ext(*op->gp);
    e.t_xlat_done = ps(t_ps);
    release_slot(op, t_ps);
    if (op->op.xlat.interrupt || e.ats == 1) { // an MSI, or an ATS translation completion:
        if (e.ats == 1) {                        // not a memory access
            const unsigned sh = op->op.xlat.page_shift;
            e.ats_pa = op->op.xlat.pa & ~((1ull << sh) - 1);
            e.ats_shift = (uint8_t)sh;
            e.ats_perm = op->op.xlat.perm;
        }
        e.t_mem_done = ps(t_ps);
        op->ready_ps = t_ps;
        respond(op);
        return;
    }
    op->gp->set_address(op->first_pa);
    e.purpose = Purpose::Dma;
    e.owner = op;
    tlm::tlm_phase ph = tlm::BEGIN_REQ;
    sc_time delay = ps(t_ps - to_ps(sc_time_stamp()));
    tlm::tlm_sync_enum r = memory->nb_transport_fw(*op->gp, ph, delay);
    if (r == tlm::TLM_COMPLETED || (r == tlm::TLM_UPDATED && ph == tlm::BEGIN_RESP))
        mem_peq_.notify(*op->gp, delay);
}

void Iommu::faulted(Op *op, uint64_t t_ps)
{
    IommuExt &e = PayloadPool::ext(*op->gp);
    stats_.faults++;
    e.fault_reason = op->op.fault_reason ? op->op.fault_reason : 0xFF; /* 0xFF: blocked */
    e.t_xlat_done = ps(t_ps);
    e.t_mem_done = ps(t_ps + fault_ps_);
    op->gp->set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    release_slot(op, t_ps);
    op->ready_ps = t_ps + fault_ps_;
    respond(op);
}

void Iommu::release_slot(Op *op, uint64_t t_ps)
{
    inflight_[op->epoch - epoch_base_]--;
    while (inflight_.size() > 1 && inflight_.front() == 0) {
        inflight_.pop_front();
        epoch_base_++;
    }
    if (inv_state_ == InvState::Drain)
        inv_try_complete_wait(t_ps);
    slots_.release(op->slot, t_ps);
    op->has_slot = false;
    busy_slots_--;
    while (!slot_queue_.empty()) {
        Op *w = slot_queue_.front();
        unsigned slot;
        uint64_t start;
        if (!slots_.acquire(w->wait_from_ps, Resource::kForever, &slot, &start))
            break;
        slot_queue_.pop_front();
        slot_waiting_ = (unsigned)slot_queue_.size();
        w->slot = slot;
        start_op(w, start);
    }
}

void Iommu::respond(Op *op)
{
    if (!t_.in_order) {
        deliver(op);
        return;
    }
    Order &o = order_[op->order_key];
    o.ready.emplace(op->seq, op);
    while (!o.ready.empty() && o.ready.begin()->first == o.next_deliver) {
        Op *r = o.ready.begin()->second;
        o.ready.erase(o.ready.begin());
        if (r->ready_ps < o.last_ps)
            r->ready_ps = o.last_ps; // waits for the completions before it
        o.last_ps = r->ready_ps;
        o.next_deliver++;
        deliver(r);
    }
}

void Iommu::deliver(Op *op)
{
    stats_.responses++;
    IommuExt &e = PayloadPool::ext(*op->gp);
    if (op->gp->get_response_status() == tlm::TLM_INCOMPLETE_RESPONSE)
        op->gp->set_response_status(tlm::TLM_OK_RESPONSE);
    tlm::tlm_phase ph = tlm::BEGIN_RESP;
    const uint64_t now = to_ps(sc_time_stamp());
    sc_time delay = ps(op->ready_ps > now ? op->ready_ps - now : 0);
    upstream[e.port]->nb_transport_bw(*op->gp, ph, delay);
    free_op(op);
}

} // namespace iommusim::tlm_model

namespace iommusim::tlm_model {

// ---------------------------------------------------------------- invalidation engine ---

void Iommu::attach_invq(iommu_invq_t *q, iommu_physmem_t *mem, InvListener *l)
{
    invq_ = q;
    physmem_ = mem;
    inv_listener_ = l;
}

void Iommu::doorbell(uint64_t iqt)
{
    iommu_invq_write_iqt(invq_, iqt);
    if (inv_state_ == InvState::Idle)
        inv_ev_.notify(SC_ZERO_TIME);
}

uint64_t Iommu::older_inflight(uint64_t epoch) const
{
    uint64_t n = 0;
    for (uint64_t e = epoch_base_; e < epoch && e - epoch_base_ < inflight_.size(); e++)
        n += inflight_[e - epoch_base_];
    return n;
}

// One memory access of the engine (a descriptor fetch, or the status write's timing).
static void engine_access(tlm_utils::simple_initiator_socket<Iommu> &memory, PayloadPool &pool,
                          tlm_utils::peq_with_get<tlm::tlm_generic_payload> &peq, void *tag,
                          uint64_t addr, unsigned size, uint64_t delay_ps,
                          Purpose purpose = Purpose::InvQueue)
{
    tlm::tlm_generic_payload *gp = pool.get();
    IommuExt &e = PayloadPool::ext(*gp);
    e.purpose = purpose;           // memory returns the bytes (the status write is timed as
    e.owner = tag;                 // an access of the same size; its bytes are written here)
    gp->set_command(tlm::TLM_READ_COMMAND);
    gp->set_address(addr);
    gp->set_data_length(size);
    tlm::tlm_phase ph = tlm::BEGIN_REQ;
    sc_time delay = sc_time((double)delay_ps, SC_PS);
    tlm::tlm_sync_enum r = memory->nb_transport_fw(*gp, ph, delay);
    if (r == tlm::TLM_COMPLETED || (r == tlm::TLM_UPDATED && ph == tlm::BEGIN_RESP))
        peq.notify(*gp, delay);
}

void Iommu::on_inv()
{
    const uint64_t now = to_ps(sc_time_stamp());
    if (!invq_)
        return;
    if (inv_state_ == InvState::Idle) {
        uint64_t addr;
        unsigned size;
        if (!iommu_invq_next_fetch(invq_, &addr, &size))
            return;
        inv_state_ = InvState::Fetching;
        inv_busy_from_ = now;
        inv_stats_.fetched++;
        std::memset(inv_words_, 0, sizeof inv_words_);
        engine_access(memory, table_pool_, mem_peq_, &inv_tag_, addr, size, 0);
        return;
    }
    if (inv_state_ != InvState::Exec)
        return;
    // the descriptor takes effect now
    if (inv_listener_)
        inv_listener_->inv_executing(now);
    iommu_invq_execute(invq_, inv_words_, &inv_res_);
    if (inv_res_.error) {
        inv_state_ = InvState::Idle;
        inv_stats_.busy_ps += now - inv_busy_from_;
        if (inv_listener_)
            inv_listener_->inv_stopped(now);
        return;
    }
    inv_stats_.executed++;
    const uint8_t ty = inv_res_.d.type;
    if (ty == IOMMU_QI_DEVTLB) // the device's completion must arrive before a later wait ends
        devtlb_done_ps_ = std::max(devtlb_done_ps_, now + devtlb_ps_);
    if (ty != IOMMU_QI_WAIT) {
        epoch_++;
        inflight_.push_back(0);
        inv_stats_.last_exec_ps = now;
    }
    if (ty == IOMMU_QI_WAIT && inv_res_.status_write) {
        inv_stats_.waits++;
        inv_state_ = InvState::Drain;
        drain_epoch_ = epoch_;
        drain_from_ = now;
        inv_try_complete_wait(now);
        return;
    }
    inv_state_ = InvState::Idle;
    inv_stats_.busy_ps += now - inv_busy_from_;
    inv_ev_.notify(SC_ZERO_TIME);
}

void Iommu::inv_fetched(uint64_t t_ps)
{
    // processing, then the ports of the caches the descriptor invalidates
    uint64_t t = t_ps + inv_desc_ps_;
    const unsigned ty = inv_words_[0] & 0xf;
    auto hold = [&](Resource &r, uint64_t d) {
        unsigned u;
        uint64_t start;
        if (r.acquire(t, d, &u, &start)) {
            r.release(u, start + d);
            t = start + d;
        }
    };
    if (ty == IOMMU_QI_IOTLB || ty == IOMMU_QI_PASID_IOTLB) {
        hold(iotlb_ports_, inv_iotlb_ps_);
    } else if (ty == IOMMU_QI_CC) {
        hold(cc_ports_, inv_cc_ps_);
        if (iommu_config(unit_)->scalable_mode) // scalable: the PASID cache goes too
            hold(pc_ports_, inv_pc_ps_);
    } else if (ty == IOMMU_QI_PASID_CACHE) {
        hold(pc_ports_, inv_pc_ps_);
    } else if (ty == IOMMU_QI_IEC) {
        t += inv_iec_ps_;
    }
    inv_state_ = InvState::Exec;
    inv_ev_.notify(sc_time((double)(t - t_ps), SC_PS));
}

void Iommu::inv_try_complete_wait(uint64_t t_ps)
{
    if (older_inflight(drain_epoch_) != 0)
        return;
    if (t_ps > drain_from_) {
        inv_stats_.drain_waits++;
        inv_stats_.drain_ps += t_ps - drain_from_;
    }
    inv_state_ = InvState::Status;
    const uint64_t now = to_ps(sc_time_stamp());
    const uint64_t t = std::max(t_ps, devtlb_done_ps_); // device-TLB completions received
    engine_access(memory, table_pool_, mem_peq_, &inv_tag_, inv_res_.status_addr, 4,
                  t > now ? t - now : 0);
}

// ---------------------------------------------------------------- interrupt remapping ---

struct Iommu::IrOp {
    iommu_irq_op op{};
    iommu_irq_req req{};
    tlm::tlm_generic_payload *gp = nullptr; // the device's write
    enum class Stage : uint8_t { Irte, PidRead, PidWrite } stage = Stage::Irte;
    bool notify = false;
    iommu_pid pid{};
};

void Iommu::attach_irq(iommu_irq_t *irq, iommu_physmem_t *mem, IrqListener *l)
{
    irq_ = irq;
    physmem_ = mem;
    irq_listener_ = l;
}

void Iommu::ir_arrival(tlm::tlm_generic_payload *gp, uint64_t now)
{
    IommuExt &e = PayloadPool::ext(*gp);
    IrOp *o;
    if (ir_free_.empty()) {
        ir_all_.push_back(std::make_unique<IrOp>());
        o = ir_all_.back().get();
    } else {
        o = ir_free_.back();
        ir_free_.pop_back();
    }
    o->gp = gp;
    o->notify = false;
    o->pid = iommu_pid{};
    o->req.sid = e.requester_id;
    o->req.addr = gp->get_address();
    o->req.data = e.msi_data;
    e.t_xlat_start = ps(now);
    if (!irq_) { // no remapping hardware attached: acknowledged as it came
        o->op = iommu_irq_op{};
        ir_done(o, false, now + interface_ps_);
        return;
    }
    iommu_step s = iommu_irq_begin(irq_, &o->op, &o->req);
    uint64_t t = now + interface_ps_;
    if (o->op.iec_lookup) {
        unsigned u;
        uint64_t st;
        iec_ports_.acquire(t, iec_ps_, &u, &st);
        t = st + iec_ps_;
    }
    ir_step(o, s, t);
}

void Iommu::ir_step(IrOp *o, iommu_step s, uint64_t t_ps)
{
    const uint64_t now = to_ps(sc_time_stamp());
    if (s.kind == IOMMU_STEP_READ) {
        o->stage = IrOp::Stage::Irte;
        engine_access(memory, table_pool_, mem_peq_, o, s.addr, s.size, t_ps - now, Purpose::Interrupt);
        return;
    }
    if (s.kind == IOMMU_STEP_DONE && o->op.out.kind == IOMMU_IRQ_POSTED) {
        o->stage = IrOp::Stage::PidRead;
        engine_access(memory, table_pool_, mem_peq_, o, o->op.out.pda, IOMMU_PID_BYTES, t_ps - now,
                      Purpose::Interrupt);
        return;
    }
    ir_done(o, s.kind == IOMMU_STEP_DONE, t_ps);
}

void Iommu::ir_memory(IrOp *o, tlm::tlm_generic_payload *gp, uint64_t now)
{
    const bool ok = gp->get_response_status() == tlm::TLM_OK_RESPONSE;
    uint64_t words[2] = {0, 0};
    if (ok && o->stage == IrOp::Stage::Irte)
        std::memcpy(words, gp->get_data_ptr(), sizeof words);
    gp->release();
    switch (o->stage) {
    case IrOp::Stage::Irte:
        ir_step(o, ok ? iommu_irq_resume(irq_, &o->op, words) : iommu_irq_read_failed(irq_, &o->op), now);
        return;
    case IrOp::Stage::PidRead:
        // the atomic update happens at once here; the write back is timed after it
        o->notify = iommu_irq_post_functional(irq_, physmem_, &o->op, &o->pid);
        o->stage = IrOp::Stage::PidWrite;
        engine_access(memory, table_pool_, mem_peq_, o, o->op.out.pda, IOMMU_PID_BYTES, 0,
                      Purpose::Interrupt);
        return;
    case IrOp::Stage::PidWrite:
        ir_done(o, true, now);
        return;
    }
}

void Iommu::ir_done(IrOp *o, bool ok, uint64_t t_ps)
{
    IommuExt &e = PayloadPool::ext(*o->gp);
    e.t_xlat_done = ps(t_ps);
    e.t_mem_done = ps(t_ps);
    if (irq_listener_)
        irq_listener_->irq_done(e, o->op, ok, o->notify, o->pid, t_ps);
    // a posted write: acknowledged (internally) either way; a blocked interrupt is recorded
    // as a fault, it does not fail the write
    o->gp->set_response_status(tlm::TLM_OK_RESPONSE);
    tlm::tlm_phase ph = tlm::BEGIN_RESP;
    const uint64_t now = to_ps(sc_time_stamp());
    sc_time delay = ps(t_ps > now ? t_ps - now : 0);
    upstream[e.port]->nb_transport_bw(*o->gp, ph, delay);
    ir_free_.push_back(o);
}

} // namespace iommusim::tlm_model
