// payload.h — the one payload extension of the timed system, and the payload pool.
//
// Every transaction between modules is a tlm_generic_payload carrying an IommuExt:
//  - upstream (PcieEndpoint → PcieLink → Iommu): one TLP-sized DMA request. Address = IOVA
//    (untranslated) or the physical address (ATS-translated); data length = the TLP's bytes
//    (≤ MRRS for a read request, ≤ MPS for a write); no data pointer (DMA payload bytes are not
//    modelled);
//  - downstream (Iommu → Memory): the translated access, or a page-walk / context read whose
//    bytes Memory copies from the core's physical memory into the payload's data pointer.
// Protocol: the AT base protocol. A target accepts BEGIN_REQ at once (returns TLM_UPDATED with
// END_REQ, its queueing is internal) and answers with BEGIN_RESP later or with an annotated
// delay (TLM_UPDATED + BEGIN_RESP); initiators return TLM_COMPLETED to BEGIN_RESP. Modules that
// only add delay (PcieLink, Memory) annotate it and schedule nothing (docs/models/tlm.md).
#pragma once

#include <cstdint>
#include <vector>

#include <systemc>
#include <tlm>

namespace iommusim::tlm_model {

// What a downstream transaction is for.
enum class Purpose : uint8_t {
    Dma = 0,       // device data (translated DMA)
    TableRead = 1, // page-walk or context/PASID-table read by the IOMMU
    InvQueue = 2,  // invalidation-queue descriptor fetch or wait status write (not cached)
    Interrupt = 3, // interrupt remapping: IRTE read, posted-descriptor update (not cached)
};

// Field by field; times are absolute simulation times (sc_time), set by the module named.
struct IommuExt : tlm::tlm_extension<IommuExt> {
    // --- request attributes (set by the PcieEndpoint) ---
    uint16_t requester_id = 0;   // PCIe requester id (bus:dev.fn) as seen on the link
    uint32_t pasid = 0xFFFFFFFFu; // PASID TLP prefix; 0xFFFFFFFF = none
    uint8_t ats = 0;             // PCIe AT field: 0 untranslated, 1 translation request, 2 translated
    // --- ATS translation completion (set by the Iommu for ats == 1) ---
    uint64_t ats_pa = 0;         // host-physical base of the translated page
    uint8_t ats_shift = 0;       // its size (12, 21, 30)
    uint8_t ats_perm = 0;        // granted permissions
    bool ats_write = false;      // translation request: write access wanted (the NW bit clear)
    bool privileged = false;     // PASID prefix privileged-mode bit
    uint32_t device = 0;         // index of the issuing endpoint (its stats block)
    uint64_t dma = 0;            // sequence number of the DMA this TLP belongs to
    bool msi = false;            // an interrupt request: a 4-byte write of msi_data to the
    uint32_t msi_data = 0;       // interrupt range (the address); the Iommu remaps it
    uint64_t msi_slot = 0;       // the driver's record of the interrupt (opaque to modules)
    // --- downstream attributes (set by the Iommu) ---
    Purpose purpose = Purpose::Dma;
    int16_t port = -1;             // index of the upstream socket it arrived on (set by the Iommu)
    // --- timestamps: the latency breakdown is derived from them ---
    sc_core::sc_time t_issue;      // endpoint put the TLP on the link
    sc_core::sc_time t_arrive;     // TLP arrived at the IOMMU (after link latency/serialisation)
    sc_core::sc_time t_xlat_start; // a translation slot and lookup port were granted
    sc_core::sc_time t_xlat_done;  // translation finished (hit, or walk finished)
    sc_core::sc_time t_mem_done;   // memory finished the access
    sc_core::sc_time t_complete;   // completion (or write acknowledgement) back at the endpoint
    sc_core::sc_time walk_time;    // part of [t_xlat_start, t_xlat_done] spent walking
    // --- outcome ---
    uint8_t fault_reason = 0;      // nonzero: the IOMMU blocked the request (error response)
    // --- bookkeeping of the module that issued a downstream transaction (opaque to others) ---
    void *owner = nullptr;

    tlm::tlm_extension_base *clone() const override { return new IommuExt(*this); }
    void copy_from(const tlm::tlm_extension_base &other) override
    {
        *this = static_cast<const IommuExt &>(other);
    }
};

// A pool of payloads, each with an IommuExt attached and a small data buffer, recycled through
// tlm_mm_interface: no allocation per transaction once the pool is warm.
class PayloadPool : public tlm::tlm_mm_interface {
public:
    PayloadPool() = default;
    PayloadPool(const PayloadPool &) = delete;
    PayloadPool &operator=(const PayloadPool &) = delete;
    ~PayloadPool() override
    {
        for (auto *p : all_)
            delete p;
    }

    // A fresh payload (reference count 1, extension reset, data pointer = its 64-byte buffer).
    tlm::tlm_generic_payload *get()
    {
        Slot *s;
        if (free_.empty()) {
            s = new Slot(this);
            all_.push_back(s);
        } else {
            s = free_.back();
            free_.pop_back();
        }
        *s->ext = IommuExt();
        s->set_data_ptr(s->buf);
        s->set_data_length(0);
        s->set_byte_enable_ptr(nullptr);
        s->set_streaming_width(0);
        s->set_dmi_allowed(false);
        s->set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        s->acquire();
        return s;
    }
    void free(tlm::tlm_generic_payload *gp) override { free_.push_back(static_cast<Slot *>(gp)); }
    size_t allocated() const { return all_.size(); }

    static IommuExt &ext(tlm::tlm_generic_payload &gp)
    {
        IommuExt *e = nullptr;
        gp.get_extension(e);
        return *e;
    }

private:
    struct Slot : tlm::tlm_generic_payload {
        explicit Slot(PayloadPool *pool) : tlm::tlm_generic_payload(pool), ext(new IommuExt)
        {
            set_extension(ext); // owned by the payload, deleted with it
        }
        IommuExt *ext;
        unsigned char buf[64]; // largest table read: a 64-byte PASID-table entry
    };
    std::vector<Slot *> all_;
    std::vector<Slot *> free_;
};

} // namespace iommusim::tlm_model
