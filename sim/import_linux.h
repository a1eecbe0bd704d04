// import_linux.h — converts a capture of Linux driving QEMU's emulated Intel VT-d (QEMU's
// `-trace` log plus the guest kernel's ftrace, see docs/validation.md) into an iommusim trace.
//
// The two files have different clocks; the importer merges them on anchors both sides
// record (each invalidation descriptor the guest submits is one QEMU executes, in the same
// order; the phase markers) and then moves the guest's map/unmap events between the anchors
// so that every translated DMA falls inside the live range of the mapping that served it.
// The whole capture is held in memory (about 100 bytes per QEMU event): the merge needs to see
// both files entirely before it can place anything.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

struct iommu_trace_event;

namespace iommusim {
namespace linux_import {

struct Options {
    std::string qemu;    // QEMU -trace log (.gz or plain)
    std::string ftrace;  // guest ftrace text (.gz or plain)
    std::string out;     // output trace (.trace, .trace.gz, .bin)
    int phase_lo = 0;    // keep phases [phase_lo, phase_hi] (0 = before the first marker)
    int phase_hi = 13;
    bool keep_doorbells = false; // keep NVMe shadow-doorbell DMAs
    bool infer_dma = false;      // ignore `iommu_dma` lines: infer direction and length as
                                 // for a stock capture (to measure the inference)
    bool no_desc_anchors = false; // place guest events by the phase markers and the DMAs only,
                                  // as if no descriptor were shared (to measure the placement)
};

// What the importer saw and wrote; every counter is printed by Summary::print.
struct Summary {
    bool patched = false;             // the QEMU log has per-access `iommu_dma` lines
    uint64_t qemu_lines = 0, ftrace_lines = 0;
    uint64_t written[16] = {};        // events written, by enum iommu_ev_type
    uint64_t inv_by_type[16] = {};    // inv events written, by enum iommu_inv_type
    uint64_t descs_matched = 0;       // guest qi_submit descriptors matched to QEMU's
    uint64_t descs_unmatched_qemu = 0; // QEMU descriptors before the guest trace began
    uint64_t guest_maps = 0, guest_unmaps = 0;
    uint64_t maps_by_qi = 0, maps_by_dma = 0, maps_by_neighbour = 0;
    uint64_t unmaps_by_qi = 0, unmaps_single = 0, unmaps_chosen = 0, unmaps_not_mapped = 0;
    uint64_t unmap_repairs = 0, forced_unmaps = 0;
    uint64_t translations = 0;        // vtd_dmar_translate lines (before phase 14)
    uint64_t dma_exact = 0, dma_inferred = 0;
    std::map<std::string, uint64_t> infer_rules; // inferred DMAs by the rule that decided
    uint64_t doorbells_dropped = 0, doorbells_kept = 0;
    uint64_t dma_unattributed = 0;    // DMAs no guest mapping explains (will fault)
    uint64_t dma_moved = 0;           // guest events moved off their interpolated place
    uint64_t constraints_dropped = 0; // DMA ordering constraints that could not be met
    uint64_t dma_outside = 0;         // check of the output: DMAs not inside a live mapping
    uint64_t dma_pa_differs = 0;      // ... or mapped to another physical page than QEMU's
    uint64_t msi_remapped = 0, msi_not_remapped = 0, msi_sid_from_irte = 0;
    uint64_t capture_faults = 0;      // iommu_dma_fault (patched) or vtd_dmar_fault lines
    uint64_t guest_page_faults = 0;   // iommu:io_page_fault lines in the guest ftrace
    uint64_t filtered_out = 0;        // events outside --phases (or in phase 14+)
    uint64_t live_maps_at_start = 0;  // maps written at the start of --phases
    std::map<uint16_t, uint16_t> devices;  // sid -> domain (devices attached)
    std::map<uint16_t, uint64_t> dmas_per_device;
    std::map<uint16_t, uint64_t> maps_per_domain, unmaps_per_domain;
    void print(FILE *out, const Options &opt) const;
};

// Bad input: one line "FILE:LINE: reason" (or "FILE: reason").
struct ImportError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Runs the import; throws ImportError for unusable input, std::runtime_error when the output
// cannot be written.
void run(const Options &opt, Summary &sum);

// Decodes one legacy (128-bit) VT-d invalidation descriptor (VT-d 6.5.2) into an `inv` event.
// Returns false with the reason for a reserved or unknown encoding.
bool decode_desc(uint64_t lo, uint64_t hi, iommu_trace_event *ev, std::string *why);

} // namespace linux_import
} // namespace iommusim
