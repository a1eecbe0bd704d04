// memory.h — the host memory as seen by the IOMMU: one latency, one bandwidth shared by DMA
// data and the IOMMU's table reads, and an optional cache for page-table reads (the LLC lines
// that hold page-table entries). Backed by the core's sparse physical memory, from which table
// reads copy real bytes.
//
// Timing (computed when the request passes; no process, no event — docs/models/tlm.md):
//   arrival    = now + annotated delay
//   start      = max(arrival, busy_until)               (bandwidth is a FIFO resource)
//   busy_until = start + bytes / bandwidth
//   done       = start + latency + bytes / bandwidth     (= busy_until + latency)
// i.e. the transfer occupies the shared channel for its serialisation time, and the access
// latency (row access, controller and fabric pipeline) overlaps with other accesses' transfers.
// A table read that hits the page-table cache finishes at arrival + pt_cache.latency_ns and
// uses no memory bandwidth; a miss takes the memory path above and fills the cache.
//
// Workload assumptions: bytes are the payload's data length (a 64 B DMA TLP, an 8..64 B table
// read), not rounded up to DRAM bursts; no banks, rows, refresh or read/write turnaround; the
// page-table cache holds tags only (bytes always come from physical memory, so host writes to
// tables need no coherence) and sees only Purpose::TableRead payloads.
#pragma once

#include <cstdint>
#include <string>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "model/common/physmem.h" // C headers with their own extern "C" guards
#include "model/common/rng.h"
#include "model/iotlb/cache.h"

namespace iommusim::tlm_model {

// memory.pt_cache.mode
enum class PtCacheMode : uint8_t {
    None = 0,        // every table read goes to memory
    Probability = 1, // a table read hits with a fixed probability (seeded RNG)
    Cache = 2,       // a set-associative LRU cache of 64 B lines
};
// "none", "probability", "cache"; "?" for an out-of-range value.
const char *pt_cache_mode_name(PtCacheMode m);
// Parses a mode name; false (and *out untouched) for an unknown name.
bool pt_cache_mode_from_name(const std::string &name, PtCacheMode *out);

// Page-table-read cache; keys memory.pt_cache.<field>. Defaults are illustrative (the cache
// is off by default): 512 lines × 64 B = 32 KB, 8 ways, 30 ns ≈ an LLC hit seen from the
// IIO on a Xeon-class part.
struct PtCacheConfig {
    PtCacheMode mode = PtCacheMode::None; // memory.pt_cache.mode
    double hit_probability = 0.5;         // memory.pt_cache.hit_probability, in [0, 1]
    uint64_t seed = 1;                    // memory.pt_cache.seed (probability mode's RNG)
    uint32_t entries = 512;               // memory.pt_cache.entries: 64 B lines, sets × ways
    uint32_t ways = 8;                    // memory.pt_cache.ways: divides entries, sets = 2^k
    double latency_ns = 30.0;             // memory.pt_cache.latency_ns: hit latency, [0, 1e6]
};

// Memory parameters; keys memory.<field>.
struct MemoryConfig {
    // memory.latency_ns: access latency, [0, 1e6]. 100 ns ≈ idle local DRAM load latency of a
    // Haswell-EP server (the pcie-bench calibration host); presets calibrate it.
    double latency_ns = 100.0;
    // memory.bandwidth_gbps: shared channel bandwidth in Gb/s (gigabits), (0, 1e6]. 477.6 =
    // 4 channels × DDR4-1866 × 8 B (Xeon E5-2620 v3 specification: 59.7 GB/s).
    double bandwidth_gbps = 477.6;
    PtCacheConfig pt_cache;
};

// Checks every field. True when cfg is usable; otherwise false with *key set to the config
// key ("memory.pt_cache.ways") and *reason to a one-line reason. key/reason may be null.
bool validate(const MemoryConfig &cfg, std::string *key, std::string *reason);

// The memory module. Target socket `mem` (from the IOMMU). BEGIN_REQ is answered at once with
// TLM_UPDATED, phase BEGIN_RESP and the completion delay annotated; END_RESP returns
// TLM_COMPLETED. b_transport is timed the same way; transport_dbg reads/writes physical
// memory untimed; no DMI.
// Payloads: Purpose::Dma (or no IommuExt) carries no bytes (the data pointer is ignored);
// Purpose::TableRead with TLM_READ_COMMAND gets `data length` bytes (8..64) copied from
// physical memory into its data pointer. A TableRead-purpose write is timed only (the core
// writes tables functionally). Errors (bad length or data pointer: TLM_BURST_ERROR_RESPONSE;
// address beyond 2^52: TLM_ADDRESS_ERROR_RESPONSE; table read without a physical memory:
// TLM_GENERIC_ERROR_RESPONSE) are answered at arrival without using bandwidth.
// Sets IommuExt::t_mem_done (when the payload has one) to the completion time.
class Memory : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<Memory> mem; // from the IOMMU

    // Counters (stats code reads them; never reset by the module).
    struct Stats {
        uint64_t accesses = 0;    // requests served (all purposes, hits included, no errors)
        uint64_t bytes = 0;       // their data bytes
        uint64_t table_reads = 0; // Purpose::TableRead reads among them
        uint64_t pt_hits = 0;     // table reads served by the page-table cache
        uint64_t pt_misses = 0;   // table reads that went to memory (mode none counts none)
        uint64_t errors = 0;      // requests answered with an error status
        sc_core::sc_time busy;     // total channel occupancy (bytes / bandwidth)
        sc_core::sc_time queueing; // total wait for the channel (start − arrival)
    };

    // physmem backs table reads and debug access; it may be null when only DMA timing is
    // wanted. Not owned. Throws std::invalid_argument("memory.<key>: <reason>") when cfg does
    // not validate.
    Memory(sc_core::sc_module_name name, const MemoryConfig &cfg, iommu_physmem_t *physmem);
    ~Memory() override;
    Memory(const Memory &) = delete;
    Memory &operator=(const Memory &) = delete;

    const MemoryConfig &config() const { return cfg_; }
    const Stats &stats() const { return stats_; }
    const sc_core::sc_time &busy_until() const { return busy_until_; }

private:
    // Serves one access arriving at now + delay; sets the response status and returns the
    // completion delay relative to now.
    sc_core::sc_time access(tlm::tlm_generic_payload &trans, const sc_core::sc_time &delay);
    bool pt_cache_hit(uint64_t addr, uint32_t len); // looks up (and fills) the cache
    // Channel time of `bytes`, memoised for the last size (accesses repeat a few sizes).
    const sc_core::sc_time &transfer_time(uint64_t bytes)
    {
        if (bytes != memo_bytes_) {
            memo_bytes_ = bytes;
            memo_time_ = sc_core::sc_time::from_value(
                sc_core::sc_time::value_type(double(bytes) * units_per_byte_ + 0.5));
        }
        return memo_time_;
    }

    tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload &trans, tlm::tlm_phase &phase,
                                       sc_core::sc_time &delay);
    void b_transport(tlm::tlm_generic_payload &trans, sc_core::sc_time &delay);
    unsigned int transport_dbg(tlm::tlm_generic_payload &trans);

    MemoryConfig cfg_;
    iommu_physmem_t *physmem_;     // not owned; may be null
    iommu_cache_t *pt_cache_ = nullptr; // owned; non-null iff mode == Cache
    iommu_rng rng_;                // probability mode's generator, seeded with pt_cache.seed
    double units_per_byte_;        // channel time per byte, in time-resolution units
    sc_core::sc_time latency_;     // memory.latency_ns
    sc_core::sc_time pt_latency_;  // memory.pt_cache.latency_ns
    sc_core::sc_time busy_until_;  // end of the last transfer on the channel; never decreases
    uint64_t memo_bytes_ = ~uint64_t(0); // size of the last transfer_time() (~0: none yet)
    sc_core::sc_time memo_time_;   // its channel time
    Stats stats_;
};

} // namespace iommusim::tlm_model
