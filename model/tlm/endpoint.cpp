// endpoint.cpp — the trace-playing PCIe endpoint (see endpoint.h).
#include "model/tlm/endpoint.h"

#include "model/tlm/resource.h"

using namespace sc_core;

namespace iommusim::tlm_model {

PcieEndpoint::PcieEndpoint(sc_module_name name, unsigned index, const EndpointConfig &cfg,
                           DmaListener *listener)
    : sc_module(name), upstream("upstream"), index_(index), cfg_(cfg), listener_(listener),
      done_peq_("done_peq")
{
    const unsigned cap = cfg.tags + cfg.posted + 1;
    flights_.resize(cap);
    for (unsigned i = cap; i-- > 0;)
        free_flights_.push_back(i);
    upstream.register_nb_transport_bw(this, &PcieEndpoint::nb_transport_bw);
    SC_METHOD(on_complete);
    sensitive << done_peq_.get_event();
    dont_initialize();
    SC_METHOD(on_wake);
    sensitive << wake_;
    dont_initialize();
}

void PcieEndpoint::push(const Dma &d)
{
    queue_.push_back(d);
    queued_ = (unsigned)queue_.size();
}

void PcieEndpoint::trace(sc_trace_file *tf)
{
    const std::string n = name();
    sc_trace(tf, tags_used_, n + ".tags_busy");
    sc_trace(tf, posted_used_, n + ".posted_busy");
    sc_trace(tf, queued_, n + ".dma_queue");
}

void PcieEndpoint::kick() { pump(); }

void PcieEndpoint::pump()
{
    const uint64_t now = to_ps(sc_time_stamp());
    while (!queue_.empty()) {
        const Dma &d = queue_.front();
        if (!front_open_) {
            if (d.timed && d.time_ps > now) {
                if (!waking_) {
                    waking_ = true;
                    wake_.notify(ps(d.time_ps - now));
                }
                break;
            }
            if (free_flights_.empty())
                break;
        }
        if (d.write ? posted_used_ >= cfg_.posted : tags_used_ >= cfg_.tags)
            break;
        const uint64_t addr = d.iova + split_off_;
        uint64_t n = d.write ? cfg_.mps : cfg_.mrrs;
        const uint64_t to_4k = 0x1000 - (addr & 0xFFF);
        if (n > to_4k)
            n = to_4k;
        if (n > d.len - split_off_)
            n = d.len - split_off_;
        if (!front_open_) { // the DMA starts now (an ATS translation counts in its latency)
            front_open_ = true;
            cur_ = free_flights_.back();
            free_flights_.pop_back();
            Flight &nf = flights_[cur_];
            nf.dma = d;
            nf.first_issue = sc_time_stamp();
            nf.tlps_left = 0;
            nf.all_issued = false;
            nf.error = false;
            active_++;
        }
        uint64_t bus_addr = addr;
        uint8_t at = 0;
        if (cfg_.ats && cfg_.devtlb && !d.msi) {
            if (xlat_pending_)
                break; // this DMA waits for its translation completion
            const iommu_iotlb_entry *te = nullptr;
            if (have_fill_ && fill_page_ == (addr & ~0xFFFull)) {
                te = fill_failed_ ? nullptr : &fill_; // just translated: not looked up again
                have_fill_ = false;
                at = fill_failed_ ? 0 : 2; // failed: sent untranslated, the IOMMU reports it
            } else {
                te = iommu_devtlbs_lookup(cfg_.devtlb, d.requester_id, d.pasid, addr);
                if (te)
                    iommu_prot_dev_access(cfg_.prot, d.requester_id, addr);
                if (!te) {
                    if (tags_used_ >= cfg_.tags)
                        break;
                    send_translation_request(d, addr & ~0xFFFull);
                    break;
                }
                at = 2;
            }
            if (te)
                bus_addr = te->pa + (addr & ((1ull << te->page_shift) - 1));
        }
        Flight &f = flights_[cur_];
        tlm::tlm_generic_payload *gp = pool_.get();
        gp->set_command(d.write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
        gp->set_address(bus_addr);
        gp->set_data_length((unsigned)n);
        IommuExt &e = PayloadPool::ext(*gp);
        e.ats = at;
        e.requester_id = d.requester_id;
        e.pasid = d.pasid;
        e.privileged = d.privileged;
        e.device = index_;
        e.dma = cur_;
        e.msi = d.msi;
        e.msi_data = d.msi_data;
        e.msi_slot = d.msi_slot;
        e.t_issue = sc_time_stamp();
        f.tlps_left++;
        (d.write ? posted_used_ : tags_used_)++;
        split_off_ += n;
        if (split_off_ == d.len) {
            f.all_issued = true;
            split_off_ = 0;
            front_open_ = false;
            queue_.pop_front();
            queued_ = (unsigned)queue_.size();
        }
        tlm::tlm_phase ph = tlm::BEGIN_REQ;
        sc_time delay = SC_ZERO_TIME;
        tlm::tlm_sync_enum r = upstream->nb_transport_fw(*gp, ph, delay);
        if (r == tlm::TLM_COMPLETED || (r == tlm::TLM_UPDATED && ph == tlm::BEGIN_RESP))
            done_peq_.notify(*gp, delay);
    }
    if (queue_.size() < kLowWater)
        listener_->endpoint_hungry(index_);
}

tlm::tlm_sync_enum PcieEndpoint::nb_transport_bw(tlm::tlm_generic_payload &gp, tlm::tlm_phase &ph,
                                                 sc_time &delay)
{
    if (ph == tlm::BEGIN_RESP)
        done_peq_.notify(gp, delay);
    return tlm::TLM_COMPLETED;
}

// An ATS translation request for one page (a non-posted request holding a tag; its
// completion carries the translation).
void PcieEndpoint::send_translation_request(const Dma &d, uint64_t page)
{
    tlm::tlm_generic_payload *gp = pool_.get();
    gp->set_command(tlm::TLM_READ_COMMAND);
    gp->set_address(page);
    gp->set_data_length(8);
    IommuExt &e = PayloadPool::ext(*gp);
    e.ats = 1;
    e.ats_write = d.write;
    e.requester_id = d.requester_id;
    e.pasid = d.pasid;
    e.privileged = d.privileged;
    e.device = index_;
    e.dma = kNoFlight;
    e.t_issue = sc_time_stamp();
    tags_used_++;
    xlat_pending_ = true;
    fill_page_ = page;
    tlm::tlm_phase ph = tlm::BEGIN_REQ;
    sc_time delay = SC_ZERO_TIME;
    tlm::tlm_sync_enum r = upstream->nb_transport_fw(*gp, ph, delay);
    if (r == tlm::TLM_COMPLETED || (r == tlm::TLM_UPDATED && ph == tlm::BEGIN_RESP))
        done_peq_.notify(*gp, delay);
}

void PcieEndpoint::on_complete()
{
    while (tlm::tlm_generic_payload *gp = done_peq_.get_next_transaction()) {
        IommuExt &e = PayloadPool::ext(*gp);
        if (e.dma == kNoFlight) { // a translation completion
            tags_used_--;
            xlat_pending_ = false;
            have_fill_ = true;
            fill_failed_ = !gp->is_response_ok();
            if (!fill_failed_) {
                fill_ = {e.ats_pa, e.ats_shift, e.ats_perm};
                iommu_devtlbs_insert(cfg_.devtlb, e.requester_id, e.pasid, fill_page_, &fill_);
            }
            gp->release();
            continue;
        }
        e.t_complete = sc_time_stamp();
        Flight &f = flights_[e.dma];
        (gp->is_write() ? posted_used_ : tags_used_)--;
        if (!gp->is_response_ok())
            f.error = true;
        f.tlps_left--;
        if (f.all_issued && f.tlps_left == 0) {
            listener_->dma_done(index_, f.dma, e, f.first_issue, f.error);
            free_flights_.push_back((unsigned)e.dma);
            active_--;
        }
        gp->release();
    }
    pump();
}

void PcieEndpoint::on_wake()
{
    waking_ = false;
    pump();
}

} // namespace iommusim::tlm_model
