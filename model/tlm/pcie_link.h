// pcie_link.h — the PCIe link between one endpoint and the IOMMU: the pcie-bench bandwidth
// model (PcieLinkModel, plain C++) and the SystemC module that charges it (PcieLink).
//
// Model (Neugebauer et al., "Understanding PCIe performance for end host networking",
// SIGCOMM 2018; equations and the AckLimit/UpdateFC tables as the pcie-bench model encodes
// them, see docs/models/link-memory.md):
//   raw bandwidth  = GT/s × encoding × lanes            (8b/10b Gen1–2, 128b/130b Gen3–5)
//   TLP bandwidth  = raw × (1 − 8/AckLimit − 8/UpdateFC − 4/1538)
//   MWr / MRd TLP  = 8 B framing+DLLP + 4 B header DW0 + 8 B (32-bit) or 12 B (64-bit address)
//   CplD TLP       = 8 + 4 + 8 = 20 B;   ECRC adds 4 B to every TLP
//   write of S B   = ceil(S/MPS) MWr TLPs upstream, nothing downstream (posted)
//   read of S B    = ceil(S/MRRS) MRd TLPs upstream, ceil(S/MPS) CplD TLPs downstream
//                    (ceil(S/RCB) when completions are split at the RCB)
// Directions are named from the link's place in the system: *upstream* = endpoint → IOMMU
// (requests, write data), *downstream* = IOMMU → endpoint (completions).
//
// Workload assumptions (pcie-bench's): requests are aligned to the MPS/RCB so the number of
// completions does not depend on the address; DLLP and SKP overheads are a constant share of
// the raw bandwidth; no flow-control credit stalls, no replay. Time is kept in integer
// picoseconds per transfer (rounded once per transfer, < 0.5 ps error).
#pragma once

#include <cstdint>
#include <string>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

namespace iommusim::tlm_model {

// Link parameters; each field is the config key named in its comment. Defaults: a PCIe Gen3 x8
// NIC-class device as in pcie-bench's headline configuration (MPS 256, MRRS 512, RCB 64,
// 64-bit addresses, no ECRC).
struct PcieLinkConfig {
    unsigned gen = 3;         // link.gen: PCIe generation 1..5 (2.5/5/8/16/32 GT/s per lane)
    unsigned lanes = 8;       // link.lanes: 1, 2, 4, 8, 16 or 32
    unsigned mps = 256;       // link.mps: Maximum Payload Size, power of two in [128, 4096]
    unsigned mrrs = 512;      // link.mrrs: Maximum Read Request Size, power of two in [128, 4096]
    unsigned rcb = 64;        // link.rcb: Read Completion Boundary, 64 or 128
    bool rcb_mode = false;    // link.rcb_mode: completions split at the RCB (true) or at MPS
    bool addr64 = true;       // link.addr64: 64-bit addressing (4-DW request headers)
    bool ecrc = false;        // link.ecrc: end-to-end CRC digest (+4 B per TLP)
    // link.latency_ns: fixed one-way latency (PHY, SerDes, switch/root-port pipeline) added
    // after serialisation, in [0, 1e6]. Default 200 ns: with two crossings, ~12 ns of
    // serialisation, ~100 ns of DRAM and an IOTLB hit this lands near the 546 ns round trip of
    // a 64 B read measured by pcie-bench on Haswell-EP (REFERENCES.md, calibration points);
    // presets calibrate it.
    double latency_ns = 200.0;
};

// Checks every field. True when cfg is usable; otherwise false with *key set to the config
// key ("link.mrrs") and *reason to a one-line reason ("300 is not a power of two in
// [128, 4096]"). key/reason may be null.
bool validate(const PcieLinkConfig &cfg, std::string *key, std::string *reason);

// TLPs and bytes on the wire (headers, framing, digest and data) of one transfer in one
// direction.
struct WireBytes {
    uint32_t tlps = 0;
    uint64_t bytes = 0;
};

// The pcie-bench model for one configuration. Immutable after construction; every query is a
// few integer operations (no tables are searched at run time).
class PcieLinkModel {
public:
    // Throws std::invalid_argument("link.<key>: <reason>") when cfg does not validate.
    explicit PcieLinkModel(const PcieLinkConfig &cfg);

    const PcieLinkConfig &config() const { return cfg_; }

    // pcie-bench's AckLimit and UpdateFC table entries (bytes between Ack / UpdateFC DLLPs;
    // PCIe Base Spec 5.0 tables 3-7..3-9 and 2-46..2-48 as pcie-bench encodes them).
    // Arguments must be valid (gen 1..5, lanes and mps from the allowed sets); 0 otherwise.
    static unsigned ack_limit_for(unsigned gen, unsigned lanes, unsigned mps);
    static unsigned fc_update_for(unsigned gen, unsigned lanes, unsigned mps);
    unsigned ack_limit() const { return ack_limit_; }
    unsigned fc_update() const { return fc_update_; }

    double raw_gbps() const { return raw_gbps_; } // after line encoding, all lanes
    double tlp_gbps() const { return tlp_gbps_; } // left for TLPs after DLLPs and SKPs

    // Per-TLP bytes besides the data (framing, DLLP sequence/LCRC, header, digest).
    unsigned mwr_overhead() const { return mwr_hdr_; }
    unsigned mrd_overhead() const { return mrd_hdr_; }
    unsigned cpld_overhead() const { return cpld_hdr_; }

    // Upstream bytes of a write of `size` bytes: ceil(size/MPS) MWr TLPs plus the data. A
    // size of 0 is one zero-length TLP (as on PCIe: one DW with no byte enabled).
    WireBytes write_bytes(uint64_t size) const
    {
        const uint32_t n = tlp_count(size, mps_shift_);
        return {n, uint64_t(n) * mwr_hdr_ + size};
    }
    // Upstream bytes of the read requests for `size` bytes: ceil(size/MRRS) MRd TLPs.
    WireBytes read_request_bytes(uint64_t size) const
    {
        const uint32_t n = tlp_count(size, mrrs_shift_);
        return {n, uint64_t(n) * mrd_hdr_};
    }
    // Downstream bytes of the completions of a read of `size` bytes: ceil(size/MPS) CplD TLPs
    // (ceil(size/RCB) in RCB mode) plus the data.
    WireBytes read_completion_bytes(uint64_t size) const
    {
        const uint32_t n = tlp_count(size, cpl_shift_);
        return {n, uint64_t(n) * cpld_hdr_ + size};
    }
    // Downstream bytes of a completion without data (a read answered with an error status).
    WireBytes cpl_nodata_bytes() const { return {1, cpld_hdr_}; }

    // Serialisation time at the TLP-layer bandwidth: exact (fractional) and rounded to the
    // nearest picosecond (what the module charges).
    double ps_per_byte() const { return ps_per_byte_; }
    double tlp_time_ps_exact(uint64_t bytes) const { return double(bytes) * ps_per_byte_; }
    uint64_t tlp_time_ps(uint64_t bytes) const
    {
        return uint64_t(double(bytes) * ps_per_byte_ + 0.5);
    }

    // Effective data throughput (Gb/s) of back-to-back writes / reads of `size` bytes each:
    // transfers per second limited by the direction that saturates first, times the data.
    double write_throughput_gbps(uint64_t size) const;
    double read_throughput_gbps(uint64_t size) const;

private:
    static uint32_t tlp_count(uint64_t size, unsigned shift)
    {
        return size == 0 ? 1u : uint32_t(((size - 1) >> shift) + 1);
    }
    double throughput(uint64_t size, uint64_t up_bytes, uint64_t down_bytes) const;

    PcieLinkConfig cfg_;
    unsigned ack_limit_ = 0, fc_update_ = 0; // table entries for (gen, lanes, mps)
    double raw_gbps_ = 0, tlp_gbps_ = 0;     // tlp_gbps_ < raw_gbps_, both > 0
    double ps_per_byte_ = 0;                 // 8000 / tlp_gbps_
    unsigned mwr_hdr_ = 0, mrd_hdr_ = 0, cpld_hdr_ = 0; // 20/24 (+4 ECRC), 20 (+4)
    unsigned mps_shift_ = 0, mrrs_shift_ = 0; // log2(MPS), log2(MRRS)
    unsigned cpl_shift_ = 0;                  // log2(RCB) in RCB mode, else log2(MPS)
};

// The link as a SystemC module between one endpoint and the IOMMU. It has no process and
// schedules nothing: each direction is a serialising resource whose delay is computed when a
// transaction passes and annotated on the forwarded call (docs/models/tlm.md):
//   start = max(now + annotated delay, busy_until); busy_until = start + wire bytes / TLP bw;
//   arrival = busy_until + latency.
// Upstream, BEGIN_REQ of a READ costs its MRd TLPs (data length = read size), of a WRITE its
// MWr TLPs with data. Downstream, BEGIN_RESP of a READ costs its CplD TLPs (one data-less Cpl
// when the response status is an error); BEGIN_RESP of a WRITE is the simulator's internal
// acknowledgement of a posted write — nothing is on the wire, so it passes with no bytes and
// no latency. The response may come by nb_transport_bw or on the return path of
// nb_transport_fw (TLM_UPDATED + BEGIN_RESP, or TLM_COMPLETED); both are charged alike. Other
// phases (END_REQ, END_RESP) pass unchanged. b_transport is charged the same way (both
// directions) for loosely-timed users. DMI is refused (it would bypass the link's timing);
// debug transport passes through untimed.
class PcieLink : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<PcieLink> upstream_in;     // from the endpoint
    tlm_utils::simple_initiator_socket<PcieLink> upstream_out; // to the IOMMU

    // Per-direction counters (stats code reads them; never reset by the module).
    struct DirStats {
        uint64_t transfers = 0;     // payloads that put bytes on the wire
        uint64_t tlps = 0;          // TLPs
        uint64_t bytes = 0;         // wire bytes (headers, framing, digest, data)
        uint64_t data_bytes = 0;    // payload data bytes among them
        sc_core::sc_time busy;      // total serialisation time (busy ≤ elapsed time)
        sc_core::sc_time queueing;  // total wait for the wire (start − ready time)
    };

    // Throws std::invalid_argument when cfg does not validate.
    PcieLink(sc_core::sc_module_name name, const PcieLinkConfig &cfg);

    const PcieLinkModel &model() const { return model_; }
    const DirStats &upstream_stats() const { return up_.stats; }
    const DirStats &downstream_stats() const { return down_.stats; }
    // Absolute time at which each direction's wire is free again.
    const sc_core::sc_time &upstream_busy_until() const { return up_.busy_until; }
    const sc_core::sc_time &downstream_busy_until() const { return down_.busy_until; }

private:
    struct Direction {
        sc_core::sc_time busy_until; // end of the last serialisation; never decreases
        uint64_t memo_bytes = ~uint64_t(0); // wire bytes of the last transfer (~0: none yet)
        sc_core::sc_time memo_time;  // its serialisation time (transfers repeat one size)
        DirStats stats;
    };
    // Serialises `w` (carrying `data` payload bytes) on `d`, ready at now + delay; returns the
    // arrival delay relative to now (start + serialisation + latency − now).
    sc_core::sc_time transmit(Direction &d, const WireBytes &w, uint64_t data,
                              const sc_core::sc_time &now, const sc_core::sc_time &delay);
    // Charges a request's upstream TLPs and a response's downstream TLPs; update `delay`.
    void charge_request(tlm::tlm_generic_payload &trans, sc_core::sc_time &delay);
    void charge_response(tlm::tlm_generic_payload &trans, sc_core::sc_time &delay);

    tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload &trans, tlm::tlm_phase &phase,
                                       sc_core::sc_time &delay);
    tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload &trans, tlm::tlm_phase &phase,
                                       sc_core::sc_time &delay);
    void b_transport(tlm::tlm_generic_payload &trans, sc_core::sc_time &delay);
    unsigned int transport_dbg(tlm::tlm_generic_payload &trans);
    bool get_direct_mem_ptr(tlm::tlm_generic_payload &trans, tlm::tlm_dmi &dmi);
    void invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end);

    PcieLinkModel model_;
    double units_per_byte_;      // serialisation time per wire byte, in time-resolution units
    sc_core::sc_time latency_;   // link.latency_ns
    Direction up_, down_;
};

} // namespace iommusim::tlm_model
