// resource.h — servers for analytic contention: a resource of N identical units, each busy
// until a known time or (while its holder's duration is not known yet) indefinitely.
//
// acquire(t, hold) gives the unit that frees first: start = max(t, its free time), and keeps it
// busy until start + hold (hold = SC_ZERO_TIME … or kForever while unknown; settle it with
// release()). Callers process requests in time order (from peq events), so analytic
// allocation is first-come-first-served. When every unit is held indefinitely, acquire
// returns false and the caller queues the request until a release.
#pragma once

#include <cstdint>
#include <vector>

#include <systemc>

namespace iommusim::tlm_model {

class Resource {
public:
    static constexpr uint64_t kForever = UINT64_MAX;

    explicit Resource(unsigned units = 1) : free_ps_(units ? units : 1, 0) {}
    unsigned units() const { return (unsigned)free_ps_.size(); }

    // Earliest unit at or after t_ps; false when every unit is held indefinitely.
    bool acquire(uint64_t t_ps, uint64_t hold_ps, unsigned *unit, uint64_t *start_ps)
    {
        unsigned best = 0;
        for (unsigned i = 1; i < free_ps_.size(); i++)
            if (free_ps_[i] < free_ps_[best])
                best = i;
        if (free_ps_[best] == kForever)
            return false;
        const uint64_t start = free_ps_[best] > t_ps ? free_ps_[best] : t_ps;
        free_ps_[best] = hold_ps == kForever ? kForever : start + hold_ps;
        *unit = best;
        *start_ps = start;
        return true;
    }
    // Settles a unit held indefinitely: it frees at t_ps.
    void release(unsigned unit, uint64_t t_ps) { free_ps_[unit] = t_ps; }
    // Units busy at t_ps (for occupancy traces).
    unsigned busy_at(uint64_t t_ps) const
    {
        unsigned n = 0;
        for (uint64_t f : free_ps_)
            n += f > t_ps;
        return n;
    }

private:
    std::vector<uint64_t> free_ps_; // per unit: time it frees, kForever while held indefinitely
};

inline uint64_t to_ps(const sc_core::sc_time &t) { return t.value(); } // resolution: 1 ps
inline sc_core::sc_time ps(uint64_t v) { return sc_core::sc_time::from_value(v); }
inline uint64_t ns_to_ps(double ns) { return (uint64_t)(ns * 1000.0 + 0.5); }

} // namespace iommusim::tlm_model
