// endpoint.h — a PCIe endpoint that plays its device's DMAs from the trace.
//
// Each DMA is split into TLPs: reads at MRRS and writes at MPS, and both at 4 KB boundaries
// (PCIe forbids a request crossing one). Reads are non-posted: each read request holds one of
// the device's `tags` until its completion returns. Writes are posted: each holds one of
// `posted` credits until the IOMMU acknowledges it internally (this bounds the writes in
// flight; the link's serialisation sets their rate). Closed loop: a DMA starts as soon as the
// previous ones leave a tag or credit free. Open loop: not before its trace timestamp.
// A DMA completes when its last TLP completes; its latency runs from its first TLP's issue.
#pragma once

extern "C" {
#include "host/protect.h"
#include "model/iotlb/devtlb.h"
}

#include <cstdint>
#include <deque>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/peq_with_get.h>
#include <tlm_utils/simple_initiator_socket.h>

#include "model/tlm/payload.h"

namespace iommusim::tlm_model {

struct Dma {
    uint64_t iova = 0, len = 0;
    uint64_t time_ps = 0;  // open loop: earliest issue time
    bool timed = false;    // has a timestamp
    bool write = false;
    bool privileged = false;
    uint16_t requester_id = 0;
    uint32_t pasid = 0xFFFFFFFFu;
    bool by_handle = false; // addressed through a DMA-API buffer (the driver tracks it)
    uint64_t handle = 0;
    bool msi = false;       // an interrupt: a 4-byte write of msi_data to iova (never ATS-
    uint32_t msi_data = 0;  // translated; the Iommu remaps it)
    uint64_t msi_slot = 0;  // the driver's record of it (IommuExt::msi_slot)
};

struct EndpointConfig {
    bool ats = false;      // ATS: a device-TLB (devtlb, shared per system, by requester id),
    iommu_devtlbs_t *devtlb = nullptr; // translation requests on misses, translated requests
    iommu_prot_t *prot = nullptr;      // protection metrics: device-TLB hits on stale entries
    unsigned tags = 32;    // outstanding non-posted (read) requests
    unsigned posted = 64;  // writes in flight
    unsigned mrrs = 512;   // maximum read request size (bytes)
    unsigned mps = 256;    // maximum payload size (bytes)
};

// Told about every finished DMA (the system's driver and stats).
class DmaListener {
public:
    virtual ~DmaListener() = default;
    // last: the payload of the DMA's last TLP (its timestamps); first_issue: when it started
    virtual void dma_done(unsigned device, const Dma &dma, const IommuExt &last,
                          const sc_core::sc_time &first_issue, bool error) = 0;
    virtual void endpoint_hungry(unsigned device) = 0; // its queue fell below kLowWater
};

class PcieEndpoint : public sc_core::sc_module {
public:
    tlm_utils::simple_initiator_socket<PcieEndpoint> upstream;

    SC_HAS_PROCESS(PcieEndpoint);
    PcieEndpoint(sc_core::sc_module_name name, unsigned index, const EndpointConfig &cfg,
                 DmaListener *listener);

    static constexpr size_t kLowWater = 16; // the driver tops queues up from here

    void push(const Dma &d);        // queue a DMA (the driver calls this)
    void kick();                    // issue what the tags and credits allow, now
    size_t queued() const { return queue_.size(); }
    size_t in_flight() const { return active_; }
    unsigned tags_busy() const { return tags_used_; }
    // Adds tags and posted credits in use and the DMA queue length to a waveform.
    void trace(sc_core::sc_trace_file *tf);

private:
    struct Flight {             // a DMA whose TLPs are in flight
        Dma dma;
        sc_core::sc_time first_issue;
        unsigned tlps_left = 0; // TLPs not completed yet (and not all issued while splitting)
        bool all_issued = false;
        bool error = false;
    };
    tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload &gp, tlm::tlm_phase &ph,
                                       sc_core::sc_time &delay);
    void on_complete(); // SC_METHOD on done_peq_
    void on_wake();     // SC_METHOD: an open-loop DMA's time has come
    void pump();
    void send_translation_request(const Dma &d, uint64_t page);

    unsigned index_;
    EndpointConfig cfg_;
    DmaListener *listener_;
    PayloadPool pool_;
    tlm_utils::peq_with_get<tlm::tlm_generic_payload> done_peq_;
    sc_core::sc_event wake_;
    std::deque<Dma> queue_;
    std::vector<Flight> flights_;   // DMAs in flight; IommuExt::dma holds the index
    std::vector<unsigned> free_flights_;
    unsigned cur_ = 0;              // flight of the front DMA while it is being split
    uint64_t split_off_ = 0;        // bytes of the front DMA already issued
    size_t active_ = 0;             // DMAs in flight
    unsigned tags_used_ = 0, posted_used_ = 0;
    unsigned queued_ = 0; // queue_.size(), kept for the waveform
    bool waking_ = false;
    // ATS: one translation request outstanding at a time; the DMA waits for it
    bool xlat_pending_ = false, have_fill_ = false, fill_failed_ = false;
    bool front_open_ = false; // the front DMA has its flight (it started)
    uint64_t fill_page_ = 0;
    iommu_iotlb_entry fill_{};
    static constexpr uint64_t kNoFlight = ~0ull;
};

} // namespace iommusim::tlm_model
