// pcie_link.cpp — the pcie-bench link model and the PcieLink module (see pcie_link.h).
//
// The AckLimit and UpdateFC tables below are facts taken from the pcie-bench model
// (github.com/pcie-bench/pcie-model, model/pcie.py), which encodes PCIe Base Spec 5.0
// tables 3-7..3-9 (Ack latency limit) and 2-46..2-48 (UpdateFC transmission latency) in bytes,
// indexed by generation, link width and MPS. Gen3, Gen4 and Gen5 share one table there.
#include "model/tlm/pcie_link.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "model/tlm/payload.h"

namespace iommusim::tlm_model {

namespace {

constexpr unsigned kLanes[6] = {1, 2, 4, 8, 16, 32};
constexpr unsigned kMps[6] = {128, 256, 512, 1024, 2048, 4096};

// [table: Gen1, Gen2, Gen3..5][lanes x1..x32][MPS 128..4096]
constexpr unsigned short kAckLimit[3][6][6] = {
    {// Gen1 (2.5 GT/s)
     {237, 416, 559, 1071, 2095, 4143},
     {128, 217, 289, 545, 1057, 2081},
     {73, 118, 154, 282, 538, 1050},
     {67, 107, 86, 150, 278, 534},
     {48, 72, 86, 150, 278, 534},
     {33, 45, 52, 84, 148, 276}},
    {// Gen2 (5 GT/s)
     {288, 467, 610, 1122, 2146, 4194},
     {179, 268, 340, 596, 1108, 2132},
     {124, 169, 205, 333, 589, 1101},
     {118, 158, 137, 201, 329, 585},
     {99, 123, 137, 201, 329, 585},
     {84, 96, 103, 135, 199, 237}},
    {// Gen3, Gen4, Gen5
     {333, 512, 655, 1167, 2191, 4239},
     {224, 313, 385, 641, 1153, 2177},
     {169, 214, 250, 378, 634, 1146},
     {163, 203, 182, 246, 374, 630},
     {144, 168, 182, 246, 374, 630},
     {129, 141, 148, 180, 244, 372}},
};

// UpdateFC: equal to the Ack table in pcie-bench except two x32 entries (Gen1 MPS 2048: 248
// here vs 148; Gen2 MPS 4096: 327 here vs 237). Kept as pcie-bench encodes them; see
// docs/models/link-memory.md.
constexpr unsigned short kFcUpdate[3][6][6] = {
    {// Gen1
     {237, 416, 559, 1071, 2095, 4143},
     {128, 217, 289, 545, 1057, 2081},
     {73, 118, 154, 282, 538, 1050},
     {67, 107, 86, 150, 278, 534},
     {48, 72, 86, 150, 278, 534},
     {33, 45, 52, 84, 248, 276}},
    {// Gen2
     {288, 467, 610, 1122, 2146, 4194},
     {179, 268, 340, 596, 1108, 2132},
     {124, 169, 205, 333, 589, 1101},
     {118, 158, 137, 201, 329, 585},
     {99, 123, 137, 201, 329, 585},
     {84, 96, 103, 135, 199, 327}},
    {// Gen3, Gen4, Gen5
     {333, 512, 655, 1167, 2191, 4239},
     {224, 313, 385, 641, 1153, 2177},
     {169, 214, 250, 378, 634, 1146},
     {163, 203, 182, 246, 374, 630},
     {144, 168, 182, 246, 374, 630},
     {129, 141, 148, 180, 244, 372}},
};

constexpr double kGts[5] = {2.5, 5.0, 8.0, 16.0, 32.0}; // per lane, Gen1..Gen5
constexpr unsigned kDllpBytes = 8;     // Ack / UpdateFC DLLP: 2 B framing + 4 B DLLP + 2 B CRC
constexpr unsigned kSkpBytes = 4;      // SKP ordered set length
constexpr unsigned kSkpInterval = 1538; // symbols between SKP ordered sets
constexpr unsigned kFramingBytes = 8;  // per TLP: start/end framing, sequence number, LCRC
constexpr unsigned kHdrDw0 = 4;        // first header DW (fmt/type/length)
constexpr unsigned kDigestBytes = 4;   // ECRC

int index_of(const unsigned (&set)[6], unsigned v)
{
    for (int i = 0; i < 6; i++)
        if (set[i] == v)
            return i;
    return -1;
}

bool pow2_in(unsigned v, unsigned lo, unsigned hi)
{
    return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

unsigned log2u(unsigned v)
{
    unsigned s = 0;
    while ((1u << (s + 1)) <= v)
        s++;
    return s;
}

bool fail(std::string *key, std::string *reason, const char *k, const std::string &why)
{
    if (key)
        *key = k;
    if (reason)
        *reason = why;
    return false;
}

std::string num(double v)
{
    char buf[40];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

} // namespace

bool validate(const PcieLinkConfig &c, std::string *key, std::string *reason)
{
    if (c.gen < 1 || c.gen > 5)
        return fail(key, reason, "link.gen", std::to_string(c.gen) + " is not a PCIe generation in [1, 5]");
    if (index_of(kLanes, c.lanes) < 0)
        return fail(key, reason, "link.lanes",
                    std::to_string(c.lanes) + " is not a link width (1, 2, 4, 8, 16 or 32)");
    if (!pow2_in(c.mps, 128, 4096))
        return fail(key, reason, "link.mps",
                    std::to_string(c.mps) + " is not a power of two in [128, 4096]");
    if (!pow2_in(c.mrrs, 128, 4096))
        return fail(key, reason, "link.mrrs",
                    std::to_string(c.mrrs) + " is not a power of two in [128, 4096]");
    if (c.rcb != 64 && c.rcb != 128)
        return fail(key, reason, "link.rcb", std::to_string(c.rcb) + " is not 64 or 128");
    if (!std::isfinite(c.latency_ns) || c.latency_ns < 0 || c.latency_ns > 1e6)
        return fail(key, reason, "link.latency_ns", num(c.latency_ns) + " is not in [0, 1e6] ns");
    // link.rcb_mode, link.addr64 and link.ecrc are booleans: every value is valid.
    return true;
}

unsigned PcieLinkModel::ack_limit_for(unsigned gen, unsigned lanes, unsigned mps)
{
    const int l = index_of(kLanes, lanes), m = index_of(kMps, mps);
    if (gen < 1 || gen > 5 || l < 0 || m < 0)
        return 0;
    return kAckLimit[gen >= 3 ? 2 : gen - 1][l][m];
}

unsigned PcieLinkModel::fc_update_for(unsigned gen, unsigned lanes, unsigned mps)
{
    const int l = index_of(kLanes, lanes), m = index_of(kMps, mps);
    if (gen < 1 || gen > 5 || l < 0 || m < 0)
        return 0;
    return kFcUpdate[gen >= 3 ? 2 : gen - 1][l][m];
}

PcieLinkModel::PcieLinkModel(const PcieLinkConfig &cfg) : cfg_(cfg)
{
    std::string key, why;
    if (!validate(cfg, &key, &why))
        throw std::invalid_argument(key + ": " + why);
    ack_limit_ = ack_limit_for(cfg.gen, cfg.lanes, cfg.mps);
    fc_update_ = fc_update_for(cfg.gen, cfg.lanes, cfg.mps);
    const double encoding = cfg.gen <= 2 ? 8.0 / 10.0 : 128.0 / 130.0;
    raw_gbps_ = kGts[cfg.gen - 1] * encoding * cfg.lanes;
    const double overhead = double(kDllpBytes) / ack_limit_ + double(kDllpBytes) / fc_update_ +
                            double(kSkpBytes) / kSkpInterval;
    tlp_gbps_ = raw_gbps_ * (1.0 - overhead);
    ps_per_byte_ = 8000.0 / tlp_gbps_; // 8 bits per byte, 1000 ps per ns
    const unsigned digest = cfg.ecrc ? kDigestBytes : 0;
    mwr_hdr_ = kFramingBytes + kHdrDw0 + (cfg.addr64 ? 12 : 8) + digest;
    mrd_hdr_ = mwr_hdr_;
    cpld_hdr_ = kFramingBytes + kHdrDw0 + 8 + digest;
    mps_shift_ = log2u(cfg.mps);
    mrrs_shift_ = log2u(cfg.mrrs);
    cpl_shift_ = cfg.rcb_mode ? log2u(cfg.rcb) : mps_shift_;
}

double PcieLinkModel::throughput(uint64_t size, uint64_t up_bytes, uint64_t down_bytes) const
{
    // Transfers per second each direction can carry; the smaller one limits.
    const double bytes_per_s = tlp_gbps_ * 1e9 / 8.0;
    const uint64_t worst = up_bytes > down_bytes ? up_bytes : down_bytes;
    if (worst == 0)
        return 0.0;
    const double transfers_per_s = bytes_per_s / double(worst);
    return transfers_per_s * double(size) * 8.0 / 1e9;
}

double PcieLinkModel::write_throughput_gbps(uint64_t size) const
{
    return throughput(size, write_bytes(size).bytes, 0);
}

double PcieLinkModel::read_throughput_gbps(uint64_t size) const
{
    return throughput(size, read_request_bytes(size).bytes, read_completion_bytes(size).bytes);
}

// ---- the module ------------------------------------------------------------------------

PcieLink::PcieLink(sc_core::sc_module_name name, const PcieLinkConfig &cfg)
    : sc_core::sc_module(name), upstream_in("upstream_in"), upstream_out("upstream_out"),
      model_(cfg)
{
    // Time-resolution units per picosecond: exact (an integer) when the resolution is 1 ps
    // or finer, so the charged time equals PcieLinkModel::tlp_time_ps at the default 1 ps.
    const sc_core::sc_time one_ps(1.0, sc_core::SC_PS);
    const double units_per_ps = one_ps.value() != 0
                                    ? double(one_ps.value())
                                    : 1e-12 / sc_core::sc_get_time_resolution().to_seconds();
    units_per_byte_ = model_.ps_per_byte() * units_per_ps;
    latency_ = sc_core::sc_time(cfg.latency_ns, sc_core::SC_NS);

    upstream_in.register_nb_transport_fw(this, &PcieLink::nb_transport_fw);
    upstream_in.register_b_transport(this, &PcieLink::b_transport);
    upstream_in.register_transport_dbg(this, &PcieLink::transport_dbg);
    upstream_in.register_get_direct_mem_ptr(this, &PcieLink::get_direct_mem_ptr);
    upstream_out.register_nb_transport_bw(this, &PcieLink::nb_transport_bw);
    upstream_out.register_invalidate_direct_mem_ptr(this, &PcieLink::invalidate_direct_mem_ptr);
}

sc_core::sc_time PcieLink::transmit(Direction &d, const WireBytes &w, uint64_t data,
                                    const sc_core::sc_time &now, const sc_core::sc_time &delay)
{
    const sc_core::sc_time ready = now + delay;
    const sc_core::sc_time start = ready > d.busy_until ? ready : d.busy_until;
    if (w.bytes != d.memo_bytes) {
        d.memo_bytes = w.bytes;
        d.memo_time = sc_core::sc_time::from_value(
            sc_core::sc_time::value_type(double(w.bytes) * units_per_byte_ + 0.5));
    }
    const sc_core::sc_time &ser = d.memo_time;
    d.busy_until = start + ser;
    d.stats.transfers++;
    d.stats.tlps += w.tlps;
    d.stats.bytes += w.bytes;
    d.stats.data_bytes += data;
    d.stats.busy += ser;
    d.stats.queueing += start - ready;
    return d.busy_until + latency_ - now;
}

void PcieLink::charge_request(tlm::tlm_generic_payload &trans, sc_core::sc_time &delay)
{
    const sc_core::sc_time now = sc_core::sc_time_stamp();
    const uint64_t len = trans.get_data_length();
    if (trans.is_read()) {
        delay = transmit(up_, model_.read_request_bytes(len), 0, now, delay);
    } else if (trans.is_write()) {
        delay = transmit(up_, model_.write_bytes(len), len, now, delay);
    } else {
        return; // TLM_IGNORE_COMMAND: nothing on the wire
    }
    if (IommuExt *ext = trans.get_extension<IommuExt>())
        ext->t_arrive = now + delay;
}

void PcieLink::charge_response(tlm::tlm_generic_payload &trans, sc_core::sc_time &delay)
{
    if (!trans.is_read())
        return; // posted write: the acknowledgement is internal, nothing on the wire
    const sc_core::sc_time now = sc_core::sc_time_stamp();
    const uint64_t len = trans.get_data_length();
    if (trans.is_response_ok())
        delay = transmit(down_, model_.read_completion_bytes(len), len, now, delay);
    else
        delay = transmit(down_, model_.cpl_nodata_bytes(), 0, now, delay);
}

tlm::tlm_sync_enum PcieLink::nb_transport_fw(tlm::tlm_generic_payload &trans,
                                             tlm::tlm_phase &phase, sc_core::sc_time &delay)
{
    if (phase != tlm::BEGIN_REQ)
        return upstream_out->nb_transport_fw(trans, phase, delay);
    charge_request(trans, delay);
    const tlm::tlm_sync_enum s = upstream_out->nb_transport_fw(trans, phase, delay);
    // A response on the return path crosses the link back like one sent by nb_transport_bw.
    if (s == tlm::TLM_COMPLETED || (s == tlm::TLM_UPDATED && phase == tlm::BEGIN_RESP))
        charge_response(trans, delay);
    return s;
}

tlm::tlm_sync_enum PcieLink::nb_transport_bw(tlm::tlm_generic_payload &trans,
                                             tlm::tlm_phase &phase, sc_core::sc_time &delay)
{
    if (phase == tlm::BEGIN_RESP)
        charge_response(trans, delay);
    return upstream_in->nb_transport_bw(trans, phase, delay);
}

void PcieLink::b_transport(tlm::tlm_generic_payload &trans, sc_core::sc_time &delay)
{
    charge_request(trans, delay);
    upstream_out->b_transport(trans, delay);
    charge_response(trans, delay);
}

unsigned int PcieLink::transport_dbg(tlm::tlm_generic_payload &trans)
{
    return upstream_out->transport_dbg(trans);
}

bool PcieLink::get_direct_mem_ptr(tlm::tlm_generic_payload &, tlm::tlm_dmi &dmi)
{
    // No DMI through the link: it would bypass the link's timing. Deny the whole range.
    dmi.allow_none();
    dmi.set_start_address(0);
    dmi.set_end_address(~sc_dt::uint64(0));
    return false;
}

void PcieLink::invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end)
{
    upstream_in->invalidate_direct_mem_ptr(start, end);
}

} // namespace iommusim::tlm_model
