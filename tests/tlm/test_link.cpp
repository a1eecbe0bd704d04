// test_link.cpp — the pcie-bench link model against its published values, TLP byte counts,
// configuration errors, and the PcieLink module's exact timing in a small testbench.
//
// Published check values (Neugebauer et al., SIGCOMM 2018; REFERENCES.md "PCIe link model"):
// Gen3 x8, MPS 256, MRRS 512, RCB 64, 64-bit addresses.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "model/tlm/pcie_link.h"
#include "tlm_test_util.h"

using namespace iommusim::tlm_model;
using namespace iommusim::tlm_test;

namespace {

PcieLinkConfig published()
{
    PcieLinkConfig c;
    c.gen = 3;
    c.lanes = 8;
    c.mps = 256;
    c.mrrs = 512;
    c.rcb = 64;
    c.rcb_mode = false;
    c.addr64 = true;
    c.ecrc = false;
    c.latency_ns = 100;
    return c;
}

// |got − want| ≤ 1% of want
void expect_within_1pct(double got, double want, const char *what)
{
    EXPECT_NEAR(got, want, want * 0.01) << what;
}

std::string error_of(const PcieLinkConfig &c)
{
    std::string key, why;
    if (validate(c, &key, &why))
        return "";
    return key + ": " + why;
}

} // namespace

// ---- PcieLinkModel (no SystemC kernel) -------------------------------------------------

TEST(PcieLinkModel, PublishedRawAndTlpBandwidth)
{
    PcieLinkModel m(published());
    expect_within_1pct(m.raw_gbps(), 63.02, "raw");
    expect_within_1pct(m.tlp_gbps(), 57.88, "TLP layer");
    EXPECT_NEAR(m.raw_gbps(), 63.02, 0.005);
    EXPECT_NEAR(m.tlp_gbps(), 57.88, 0.01);
    EXPECT_EQ(m.ack_limit(), 203u);
    EXPECT_EQ(m.fc_update(), 203u);
}

TEST(PcieLinkModel, PublishedWriteThroughput)
{
    PcieLinkModel m(published());
    expect_within_1pct(m.write_throughput_gbps(64), 42.10, "write 64 B");
    expect_within_1pct(m.write_throughput_gbps(128), 48.75, "write 128 B");
    expect_within_1pct(m.write_throughput_gbps(256), 52.92, "write 256 B");
    expect_within_1pct(m.write_throughput_gbps(512), 52.92, "write 512 B");
    expect_within_1pct(m.write_throughput_gbps(4096), 52.92, "write 4096 B");
}

TEST(PcieLinkModel, PublishedReadThroughput)
{
    PcieLinkModel m(published());
    expect_within_1pct(m.read_throughput_gbps(64), 44.10, "read 64 B");
    // 128 B has no published value; from the published TLP bandwidth: 57.88 × 128 / 148.
    expect_within_1pct(m.read_throughput_gbps(128), 57.88 * 128 / 148, "read 128 B");
    expect_within_1pct(m.read_throughput_gbps(256), 53.69, "read 256 B");
    expect_within_1pct(m.read_throughput_gbps(512), 53.69, "read 512 B");
    expect_within_1pct(m.read_throughput_gbps(4096), 53.69, "read 4096 B");
}

TEST(PcieLinkModel, TlpBytesOnTheWire)
{
    PcieLinkConfig c = published();
    {
        PcieLinkModel m(c); // 64-bit addresses
        EXPECT_EQ(m.mwr_overhead(), 24u);
        EXPECT_EQ(m.mrd_overhead(), 24u);
        EXPECT_EQ(m.cpld_overhead(), 20u);
        EXPECT_EQ(m.write_bytes(64).tlps, 1u);
        EXPECT_EQ(m.write_bytes(64).bytes, 88u);
        EXPECT_EQ(m.write_bytes(1000).tlps, 4u); // ceil(1000 / 256)
        EXPECT_EQ(m.write_bytes(1000).bytes, 4u * 24 + 1000);
        EXPECT_EQ(m.write_bytes(256).tlps, 1u);
        EXPECT_EQ(m.write_bytes(257).tlps, 2u);
        EXPECT_EQ(m.read_request_bytes(64).bytes, 24u);
        EXPECT_EQ(m.read_request_bytes(512).tlps, 1u);
        EXPECT_EQ(m.read_request_bytes(1000).tlps, 2u); // ceil(1000 / 512)
        EXPECT_EQ(m.read_request_bytes(1000).bytes, 48u);
        EXPECT_EQ(m.read_completion_bytes(64).bytes, 84u);
        EXPECT_EQ(m.read_completion_bytes(512).tlps, 2u); // ceil(512 / 256)
        EXPECT_EQ(m.read_completion_bytes(512).bytes, 552u);
        EXPECT_EQ(m.cpl_nodata_bytes().bytes, 20u);
        // zero-length request: one TLP without data
        EXPECT_EQ(m.write_bytes(0).tlps, 1u);
        EXPECT_EQ(m.write_bytes(0).bytes, 24u);
    }
    c.addr64 = false;
    {
        PcieLinkModel m(c);
        EXPECT_EQ(m.mwr_overhead(), 20u);
        EXPECT_EQ(m.mrd_overhead(), 20u);
        EXPECT_EQ(m.cpld_overhead(), 20u);
        EXPECT_EQ(m.write_bytes(64).bytes, 84u);
        EXPECT_EQ(m.read_request_bytes(64).bytes, 20u);
    }
    c.ecrc = true;
    {
        PcieLinkModel m(c);
        EXPECT_EQ(m.mwr_overhead(), 24u);
        EXPECT_EQ(m.cpld_overhead(), 24u);
        EXPECT_EQ(m.read_completion_bytes(64).bytes, 88u);
    }
    c.addr64 = true;
    {
        PcieLinkModel m(c);
        EXPECT_EQ(m.mwr_overhead(), 28u);
        EXPECT_EQ(m.mrd_overhead(), 28u);
        EXPECT_EQ(m.cpld_overhead(), 24u);
        // ECRC lowers the 64 B write efficiency: 64 / 92 of the TLP bandwidth
        EXPECT_NEAR(m.write_throughput_gbps(64), m.tlp_gbps() * 64 / 92, 1e-9);
    }
}

TEST(PcieLinkModel, RcbModeSplitsCompletionsAtTheRcb)
{
    PcieLinkConfig c = published();
    c.rcb_mode = true;
    PcieLinkModel m64(c);
    EXPECT_EQ(m64.read_completion_bytes(64).tlps, 1u);
    EXPECT_EQ(m64.read_completion_bytes(256).tlps, 4u);
    EXPECT_EQ(m64.read_completion_bytes(256).bytes, 4u * 20 + 256);
    EXPECT_EQ(m64.read_completion_bytes(512).tlps, 8u);
    EXPECT_NEAR(m64.read_throughput_gbps(256), m64.tlp_gbps() * 256 / 336, 1e-9);
    // the write path ignores RCB
    EXPECT_EQ(m64.write_bytes(256).tlps, 1u);
    c.rcb = 128;
    PcieLinkModel m128(c);
    EXPECT_EQ(m128.read_completion_bytes(256).tlps, 2u);
    EXPECT_EQ(m128.read_completion_bytes(100).tlps, 1u);
    EXPECT_EQ(m128.read_completion_bytes(129).tlps, 2u);
    // without RCB mode the RCB does not matter
    c.rcb_mode = false;
    EXPECT_EQ(PcieLinkModel(c).read_completion_bytes(256).tlps, 1u);
}

TEST(PcieLinkModel, EncodingByGeneration)
{
    PcieLinkConfig c = published();
    c.gen = 1;
    c.lanes = 1;
    EXPECT_DOUBLE_EQ(PcieLinkModel(c).raw_gbps(), 2.0); // 2.5 GT/s × 8/10
    c.gen = 2;
    c.lanes = 4;
    EXPECT_DOUBLE_EQ(PcieLinkModel(c).raw_gbps(), 16.0); // 5 GT/s × 8/10 × 4
    c.gen = 3;
    c.lanes = 1;
    EXPECT_DOUBLE_EQ(PcieLinkModel(c).raw_gbps(), 8.0 * 128 / 130);
    c.gen = 4;
    c.lanes = 16;
    EXPECT_DOUBLE_EQ(PcieLinkModel(c).raw_gbps(), 16.0 * 128 / 130 * 16);
    c.gen = 5;
    c.lanes = 32;
    EXPECT_DOUBLE_EQ(PcieLinkModel(c).raw_gbps(), 32.0 * 128 / 130 * 32);
    // Gen1 x1 MPS 128: AckLimit = UpdateFC = 237
    c.gen = 1;
    c.lanes = 1;
    c.mps = 128;
    PcieLinkModel g1(c);
    EXPECT_EQ(g1.ack_limit(), 237u);
    EXPECT_DOUBLE_EQ(g1.tlp_gbps(), 2.0 * (1 - 8.0 / 237 - 8.0 / 237 - 4.0 / 1538));
}

TEST(PcieLinkModel, AckAndFcTablesAsPcieBenchEncodesThem)
{
    EXPECT_EQ(PcieLinkModel::ack_limit_for(3, 8, 256), 203u);
    EXPECT_EQ(PcieLinkModel::ack_limit_for(4, 8, 256), 203u); // Gen3..5 share one table
    EXPECT_EQ(PcieLinkModel::ack_limit_for(5, 16, 4096), 630u);
    EXPECT_EQ(PcieLinkModel::ack_limit_for(2, 8, 512), 137u);
    EXPECT_EQ(PcieLinkModel::ack_limit_for(1, 32, 128), 33u);
    EXPECT_EQ(PcieLinkModel::fc_update_for(3, 1, 4096), 4239u);
    // the two entries where pcie-bench's tables differ
    EXPECT_EQ(PcieLinkModel::ack_limit_for(1, 32, 2048), 148u);
    EXPECT_EQ(PcieLinkModel::fc_update_for(1, 32, 2048), 248u);
    EXPECT_EQ(PcieLinkModel::ack_limit_for(2, 32, 4096), 237u);
    EXPECT_EQ(PcieLinkModel::fc_update_for(2, 32, 4096), 327u);
    // invalid arguments
    EXPECT_EQ(PcieLinkModel::ack_limit_for(6, 8, 256), 0u);
    EXPECT_EQ(PcieLinkModel::ack_limit_for(3, 3, 256), 0u);
    EXPECT_EQ(PcieLinkModel::fc_update_for(3, 8, 300), 0u);
}

TEST(PcieLinkModel, SerialisationTime)
{
    PcieLinkModel m(published());
    // 88 B (a 64 B MWr) at 57.8848 Gb/s = 12.1621 ns
    EXPECT_NEAR(m.tlp_time_ps_exact(88), 12162.09, 0.01);
    EXPECT_EQ(m.tlp_time_ps(88), 12162u);
    EXPECT_EQ(m.tlp_time_ps(24), 3317u);  // MRd
    EXPECT_EQ(m.tlp_time_ps(84), 11609u); // CplD with 64 B
    EXPECT_EQ(m.tlp_time_ps(0), 0u);
}

TEST(PcieLinkConfig, DefaultsAreValid)
{
    std::string key = "x", why = "x";
    EXPECT_TRUE(validate(PcieLinkConfig{}, &key, &why));
    EXPECT_TRUE(validate(PcieLinkConfig{}, nullptr, nullptr));
    EXPECT_EQ(key, "x"); // untouched on success
}

TEST(PcieLinkConfig, ValidationNamesTheKey)
{
    PcieLinkConfig c;
    c.mrrs = 300;
    EXPECT_EQ(error_of(c), "link.mrrs: 300 is not a power of two in [128, 4096]");
    c = {};
    c.mrrs = 8192;
    EXPECT_EQ(error_of(c), "link.mrrs: 8192 is not a power of two in [128, 4096]");
    c = {};
    c.mps = 64;
    EXPECT_EQ(error_of(c), "link.mps: 64 is not a power of two in [128, 4096]");
    c = {};
    c.gen = 0;
    EXPECT_EQ(error_of(c), "link.gen: 0 is not a PCIe generation in [1, 5]");
    c.gen = 6;
    EXPECT_EQ(error_of(c), "link.gen: 6 is not a PCIe generation in [1, 5]");
    c = {};
    c.lanes = 12;
    EXPECT_EQ(error_of(c), "link.lanes: 12 is not a link width (1, 2, 4, 8, 16 or 32)");
    c.lanes = 0;
    EXPECT_EQ(error_of(c).rfind("link.lanes: ", 0), 0u);
    c = {};
    c.rcb = 256;
    EXPECT_EQ(error_of(c), "link.rcb: 256 is not 64 or 128");
    c = {};
    c.latency_ns = -1;
    EXPECT_EQ(error_of(c), "link.latency_ns: -1 is not in [0, 1e6] ns");
    c.latency_ns = std::numeric_limits<double>::quiet_NaN();
    EXPECT_EQ(error_of(c).rfind("link.latency_ns: ", 0), 0u);
    c.latency_ns = std::numeric_limits<double>::infinity();
    EXPECT_EQ(error_of(c).rfind("link.latency_ns: ", 0), 0u);
    c.latency_ns = 0;
    EXPECT_EQ(error_of(c), "");
    // the model refuses what validation refuses, with the same message
    c.mrrs = 300;
    try {
        PcieLinkModel m(c);
        FAIL() << "no exception";
    } catch (const std::invalid_argument &e) {
        EXPECT_STREQ(e.what(), "link.mrrs: 300 is not a power of two in [128, 4096]");
    }
}

// ---- PcieLink module (one elaboration per test) ----------------------------------------

namespace {

struct LinkBench {
    PayloadPool pool;
    TestInitiator ep{"ep"};
    PcieLink link;
    TestTarget iommu{"iommu"};
    explicit LinkBench(const PcieLinkConfig &c) : link("link", c)
    {
        ep.socket.bind(link.upstream_in);
        link.upstream_out.bind(iommu.socket);
    }
};

} // namespace

TEST(PcieLinkModule, BackToBackTlpsArriveAtTheSumOfTheirParts)
{
    LinkBench b(published()); // latency 100 ns
    const uint64_t lat = 100000, mwr64 = 12162, mrd = 3317;
    ASSERT_EQ(b.link.model().tlp_time_ps(88), mwr64);
    ASSERT_EQ(b.link.model().tlp_time_ps(24), mrd);
    auto &w1 = make_tlp(b.pool, tlm::TLM_WRITE_COMMAND, 0x1000, 64);
    auto &w2 = make_tlp(b.pool, tlm::TLM_WRITE_COMMAND, 0x1040, 64);
    auto &r1 = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x2000, 64);
    auto &w3 = make_tlp(b.pool, tlm::TLM_WRITE_COMMAND, 0x3000, 64);
    auto &w4 = make_tlp(b.pool, tlm::TLM_WRITE_COMMAND, 0x4000, 64);
    b.ep.script = [&](TestInitiator &ep) {
        ep.send(w1);                                    // wire free: starts at 0
        ep.send(w2);                                    // queues behind w1
        ep.send(r1);                                    // queues behind w2
        ep.send(w3, sc_core::sc_time(1, sc_core::SC_US)); // annotated: starts at 1 µs
        sc_core::wait(2, sc_core::SC_US);
        ep.send(w4);                                    // idle link again at 2 µs
    };
    sc_core::sc_start();

    ASSERT_EQ(b.iommu.fw_calls.size(), 5u);
    const uint64_t want[5] = {mwr64 + lat, 2 * mwr64 + lat, 2 * mwr64 + mrd + lat,
                              1000000 + mwr64 + lat, 2000000 + mwr64 + lat};
    for (int i = 0; i < 5; i++) {
        EXPECT_EQ(ps(b.iommu.fw_calls[i].at), want[i]) << "TLP " << i;
        EXPECT_EQ(b.iommu.fw_calls[i].phase, tlm::BEGIN_REQ);
        EXPECT_EQ(ps(PayloadPool::ext(*b.iommu.fw_calls[i].trans).t_arrive), want[i]);
        // the target's END_REQ comes back with the delay it was given
        EXPECT_EQ(b.ep.statuses[i], tlm::TLM_UPDATED);
        EXPECT_EQ(b.ep.returns[i].phase, tlm::END_REQ);
        EXPECT_EQ(ps(b.ep.returns[i].at), want[i]);
    }
    const auto &up = b.link.upstream_stats();
    EXPECT_EQ(up.transfers, 5u);
    EXPECT_EQ(up.tlps, 5u);
    EXPECT_EQ(up.bytes, 4u * 88 + 24);
    EXPECT_EQ(up.data_bytes, 4u * 64);
    EXPECT_EQ(ps(up.busy), 4 * mwr64 + mrd);
    EXPECT_EQ(ps(up.queueing), mwr64 + 2 * mwr64); // w2 waited one TLP, r1 two
    EXPECT_EQ(ps(b.link.upstream_busy_until()), 2000000 + mwr64);
    EXPECT_EQ(b.link.downstream_stats().transfers, 0u);
    EXPECT_TRUE(b.ep.bw_calls.empty());
}

TEST(PcieLinkModule, CompletionsOnTheBackwardPathCostDownstreamBytes)
{
    LinkBench b(published());
    b.iommu.mode = TestTarget::Mode::RespondLater;
    b.iommu.service = sc_core::sc_time(50, sc_core::SC_NS);
    const PcieLinkModel &m = b.link.model();
    const uint64_t lat = 100000, svc = 50000, mrd = 3317, mwr64 = 12162;
    const uint64_t cpl64 = m.tlp_time_ps(84), cpl512 = m.tlp_time_ps(552);
    ASSERT_EQ(cpl64, 11609u);
    auto &r64 = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x1000, 64);
    auto &r512 = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x2000, 512); // one MRd, two CplD
    auto &w64 = make_tlp(b.pool, tlm::TLM_WRITE_COMMAND, 0x3000, 64);
    b.ep.script = [&](TestInitiator &ep) {
        ep.send(r64);
        ep.send(r512);
        ep.send(w64);
    };
    sc_core::sc_start();

    // requests: r64 [0, mrd], r512 [mrd, 2 mrd], w64 [2 mrd, 2 mrd + mwr64]
    ASSERT_EQ(b.iommu.fw_calls.size(), 3u);
    EXPECT_EQ(ps(b.iommu.fw_calls[0].at), mrd + lat);
    EXPECT_EQ(ps(b.iommu.fw_calls[1].at), 2 * mrd + lat);
    EXPECT_EQ(ps(b.iommu.fw_calls[2].at), 2 * mrd + mwr64 + lat);
    // responses leave the IOMMU `svc` after arrival; completions serialise downstream
    ASSERT_EQ(b.ep.bw_calls.size(), 3u);
    const uint64_t r64_sent = mrd + lat + svc;
    const uint64_t r64_done = r64_sent + cpl64;            // downstream busy until here
    const uint64_t r512_sent = 2 * mrd + lat + svc;        // < r64_done: queues
    ASSERT_LT(r512_sent, r64_done);
    EXPECT_EQ(b.ep.bw_calls[0].trans, &r64);
    EXPECT_EQ(b.ep.bw_calls[0].phase, tlm::BEGIN_RESP);
    EXPECT_EQ(ps(b.ep.bw_calls[0].now), r64_sent);
    EXPECT_EQ(ps(b.ep.bw_calls[0].at), r64_done + lat);
    EXPECT_EQ(b.ep.bw_calls[1].trans, &r512);
    EXPECT_EQ(ps(b.ep.bw_calls[1].at), r64_done + cpl512 + lat);
    // the write's acknowledgement is internal: no bytes, no latency
    EXPECT_EQ(b.ep.bw_calls[2].trans, &w64);
    EXPECT_EQ(ps(b.ep.bw_calls[2].now), 2 * mrd + mwr64 + lat + svc);
    EXPECT_EQ(ps(b.ep.bw_calls[2].at), 2 * mrd + mwr64 + lat + svc);

    const auto &down = b.link.downstream_stats();
    EXPECT_EQ(down.transfers, 2u);
    EXPECT_EQ(down.tlps, 3u);
    EXPECT_EQ(down.bytes, 84u + 552);
    EXPECT_EQ(down.data_bytes, 576u);
    EXPECT_EQ(ps(down.busy), cpl64 + cpl512);
    EXPECT_EQ(ps(down.queueing), r64_done - r512_sent);
    EXPECT_EQ(b.link.upstream_stats().tlps, 3u);
}

TEST(PcieLinkModule, ResponsesOnTheReturnPathAndErrorCompletions)
{
    LinkBench b(published());
    b.iommu.mode = TestTarget::Mode::RespondNow;
    b.iommu.service = sc_core::sc_time(50, sc_core::SC_NS);
    const uint64_t lat = 100000, svc = 50000, mrd = 3317, mwr64 = 12162, cpl64 = 11609;
    const uint64_t cpl0 = b.link.model().tlp_time_ps(20);
    ASSERT_EQ(cpl0, 2764u);
    auto &r = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x1000, 64);
    auto &w = make_tlp(b.pool, tlm::TLM_WRITE_COMMAND, 0x2000, 64);
    auto &bad = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x3000, 64);
    b.ep.script = [&](TestInitiator &ep) {
        ep.send(r);
        ep.send(w);
        b.iommu.error = true; // the IOMMU blocks the next read: a completion without data
        ep.send(bad);
    };
    sc_core::sc_start();

    ASSERT_EQ(b.ep.returns.size(), 3u);
    for (int i = 0; i < 3; i++) {
        EXPECT_EQ(b.ep.statuses[i], tlm::TLM_UPDATED);
        EXPECT_EQ(b.ep.returns[i].phase, tlm::BEGIN_RESP);
    }
    const uint64_t r_done = mrd + lat + svc + cpl64; // downstream busy until here
    EXPECT_EQ(ps(b.ep.returns[0].at), r_done + lat);
    EXPECT_EQ(ps(b.ep.returns[1].at), mrd + mwr64 + lat + svc); // write ack: no link cost
    const uint64_t bad_sent = mrd + mwr64 + mrd + lat + svc;
    ASSERT_GT(bad_sent, r_done);
    EXPECT_EQ(ps(b.ep.returns[2].at), bad_sent + cpl0 + lat);
    EXPECT_EQ(bad.get_response_status(), tlm::TLM_GENERIC_ERROR_RESPONSE);
    const auto &down = b.link.downstream_stats();
    EXPECT_EQ(down.tlps, 2u);
    EXPECT_EQ(down.bytes, 84u + 20);
    EXPECT_EQ(down.data_bytes, 64u);
    EXPECT_TRUE(b.ep.bw_calls.empty());
}

TEST(PcieLinkModule, BlockingTransportChargesBothDirections)
{
    LinkBench b(published());
    b.iommu.service = sc_core::sc_time(50, sc_core::SC_NS);
    const uint64_t lat = 100000, svc = 50000, mrd = 3317, cpl64 = 11609, mwr64 = 12162;
    auto &r = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x1000, 64);
    auto &w = make_tlp(b.pool, tlm::TLM_WRITE_COMMAND, 0x2000, 64);
    uint64_t r_done = 0, w_done = 0;
    b.ep.script = [&](TestInitiator &ep) {
        r_done = ps(ep.b_send(r));
        w_done = ps(ep.b_send(w));
    };
    sc_core::sc_start();
    EXPECT_EQ(r_done, mrd + lat + svc + cpl64 + lat);
    EXPECT_EQ(w_done, mrd + mwr64 + lat + svc);
    // debug transport passes through; DMI is refused
    tlm::tlm_generic_payload g;
    tlm::tlm_dmi dmi;
    EXPECT_FALSE(b.ep.socket->get_direct_mem_ptr(g, dmi));
}

TEST(PcieLinkModule, SaturatedWrites64BReachThePublishedThroughput)
{
    LinkBench b(published());
    constexpr int N = 20000;
    auto &w = make_tlp(b.pool, tlm::TLM_WRITE_COMMAND, 0x1000, 64);
    b.iommu.fw_calls.reserve(N);
    b.ep.returns.reserve(N);
    b.ep.statuses.reserve(N);
    b.ep.script = [&](TestInitiator &ep) {
        for (int i = 0; i < N; i++)
            ep.send(w); // all offered at time 0: the link is the bottleneck
    };
    sc_core::sc_start();
    ASSERT_EQ(b.iommu.fw_calls.size(), size_t(N));
    const uint64_t lat = 100000;
    const uint64_t last = ps(b.iommu.fw_calls.back().at) - lat; // end of the last TLP
    EXPECT_EQ(last, ps(b.link.upstream_stats().busy));          // the wire never idled
    const double gbps = double(N) * 64 * 8 / double(last) * 1000.0; // bits per ps → Gb/s
    EXPECT_NEAR(gbps, 42.10, 42.10 * 0.01);
    // the module rounds each transfer to whole picoseconds (< 0.5 ps of ~12 ns)
    EXPECT_NEAR(gbps, b.link.model().write_throughput_gbps(64), 42.10 * 1e-4);
}

TEST(PcieLinkModule, SaturatedReads64BAreLimitedByCompletions)
{
    LinkBench b(published());
    b.iommu.mode = TestTarget::Mode::RespondNow; // zero service time
    constexpr int N = 20000;
    auto &r = make_tlp(b.pool, tlm::TLM_READ_COMMAND, 0x1000, 64);
    b.iommu.fw_calls.reserve(N);
    b.ep.returns.reserve(N);
    b.ep.statuses.reserve(N);
    b.ep.script = [&](TestInitiator &ep) {
        for (int i = 0; i < N; i++)
            ep.send(r);
    };
    sc_core::sc_start();
    ASSERT_EQ(b.ep.returns.size(), size_t(N));
    const uint64_t first = ps(b.ep.returns.front().at), last = ps(b.ep.returns.back().at);
    const double gbps = double(N - 1) * 64 * 8 / double(last - first) * 1000.0;
    EXPECT_NEAR(gbps, 44.10, 44.10 * 0.01);
    EXPECT_NEAR(gbps, b.link.model().read_throughput_gbps(64), 44.10 * 1e-4);
}
