// tlm_test_util.h — a tiny testbench for the timed modules: an initiator that runs a script
// in a thread and records what comes back, and a target that records what arrives and
// answers in one of three ways. Times are recorded as absolute times (now + annotated delay)
// so tests can assert exact picosecond values (SystemC's default 1 ps resolution).
//
// A SystemC process can elaborate modules only before its first sc_start: every TEST that
// builds modules must be the only one doing so in its process (ctest runs each discovered
// test in its own process).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <gtest/gtest.h>
#include <systemc>
#include <tlm>
#include <tlm_utils/peq_with_get.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "model/tlm/payload.h"

// libsystemc.so refers to sc_main() (its own main() calls it), so a test binary must define
// one even though gtest_main's main() is the one linked (test_tlm's link order puts
// libgtest_main before libsystemc). Should SystemC's main ever be picked instead, this
// sc_main runs the tests. Weak, so several test files may include this header and a test
// file may still define its own sc_main.
extern "C" __attribute__((weak)) int sc_main(int argc, char *argv[])
{
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}

namespace iommusim::tlm_test {

// Picoseconds of a time (the tests run at SystemC's default 1 ps resolution).
inline uint64_t ps(const sc_core::sc_time &t)
{
    return t.value() * (uint64_t(sc_core::sc_get_time_resolution().to_seconds() * 1e12 + 0.5));
}
inline sc_core::sc_time at_ps(uint64_t v) { return sc_core::sc_time(double(v), sc_core::SC_PS); }

// One recorded transport call.
struct Call {
    tlm::tlm_generic_payload *trans = nullptr;
    tlm::tlm_phase phase;
    sc_core::sc_time now; // simulation time of the call
    sc_core::sc_time at;  // now + annotated delay: when the phase takes effect
};

// Runs `script` in a thread at time 0; records every nb_transport_bw call. The script calls
// send() to issue BEGIN_REQ (the return path is recorded in `returns`).
class TestInitiator : public sc_core::sc_module {
public:
    tlm_utils::simple_initiator_socket<TestInitiator> socket;
    std::function<void(TestInitiator &)> script;
    std::vector<Call> bw_calls; // nb_transport_bw calls, in call order
    std::vector<Call> returns;  // the phase/time each send() got back on the return path
    std::vector<tlm::tlm_sync_enum> statuses;

    SC_HAS_PROCESS(TestInitiator);
    explicit TestInitiator(sc_core::sc_module_name name) : sc_core::sc_module(name), socket("socket")
    {
        socket.register_nb_transport_bw(this, &TestInitiator::nb_transport_bw);
        SC_THREAD(run);
    }

    // Issues BEGIN_REQ with `delay` annotated; returns the status, records the return path.
    tlm::tlm_sync_enum send(tlm::tlm_generic_payload &trans,
                            const sc_core::sc_time &delay = sc_core::SC_ZERO_TIME)
    {
        tlm::tlm_phase phase = tlm::BEGIN_REQ;
        sc_core::sc_time d = delay;
        const tlm::tlm_sync_enum s = socket->nb_transport_fw(trans, phase, d);
        returns.push_back({&trans, phase, sc_core::sc_time_stamp(), sc_core::sc_time_stamp() + d});
        statuses.push_back(s);
        return s;
    }
    // Blocking transport; returns the absolute completion time.
    sc_core::sc_time b_send(tlm::tlm_generic_payload &trans,
                            const sc_core::sc_time &delay = sc_core::SC_ZERO_TIME)
    {
        sc_core::sc_time d = delay;
        socket->b_transport(trans, d);
        return sc_core::sc_time_stamp() + d;
    }

private:
    void run()
    {
        if (script)
            script(*this);
    }
    tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload &trans, tlm::tlm_phase &phase,
                                       sc_core::sc_time &delay)
    {
        bw_calls.push_back({&trans, phase, sc_core::sc_time_stamp(), sc_core::sc_time_stamp() + delay});
        return phase == tlm::BEGIN_RESP ? tlm::TLM_COMPLETED : tlm::TLM_ACCEPTED;
    }
};

// Records every nb_transport_fw call and answers BEGIN_REQ by `mode`:
//  Accept      — TLM_UPDATED + END_REQ, no response (a sink);
//  RespondNow  — TLM_UPDATED + BEGIN_RESP with `service` added to the annotated delay;
//  RespondLater— TLM_UPDATED + END_REQ, then BEGIN_RESP by nb_transport_bw at arrival +
//                `service` (through a peq and an SC_METHOD, like the IOMMU will).
// `error` makes responses carry TLM_GENERIC_ERROR_RESPONSE.
class TestTarget : public sc_core::sc_module {
public:
    enum class Mode { Accept, RespondNow, RespondLater };
    tlm_utils::simple_target_socket<TestTarget> socket;
    Mode mode = Mode::Accept;
    sc_core::sc_time service = sc_core::SC_ZERO_TIME;
    bool error = false;
    std::vector<Call> fw_calls;  // BEGIN_REQ (and other) calls, in call order
    std::vector<Call> bw_sent;   // BEGIN_RESP sent by RespondLater (time = when sent)

    SC_HAS_PROCESS(TestTarget);
    explicit TestTarget(sc_core::sc_module_name name)
        : sc_core::sc_module(name), socket("socket"), peq_("peq")
    {
        socket.register_nb_transport_fw(this, &TestTarget::nb_transport_fw);
        socket.register_b_transport(this, &TestTarget::b_transport);
        SC_METHOD(respond);
        sensitive << peq_.get_event();
        dont_initialize();
    }

private:
    tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload &trans, tlm::tlm_phase &phase,
                                       sc_core::sc_time &delay)
    {
        fw_calls.push_back({&trans, phase, sc_core::sc_time_stamp(), sc_core::sc_time_stamp() + delay});
        if (phase != tlm::BEGIN_REQ)
            return tlm::TLM_COMPLETED;
        trans.set_response_status(error ? tlm::TLM_GENERIC_ERROR_RESPONSE : tlm::TLM_OK_RESPONSE);
        switch (mode) {
        case Mode::Accept:
            phase = tlm::END_REQ;
            return tlm::TLM_UPDATED;
        case Mode::RespondNow:
            phase = tlm::BEGIN_RESP;
            delay += service;
            return tlm::TLM_UPDATED;
        case Mode::RespondLater:
            peq_.notify(trans, delay + service);
            phase = tlm::END_REQ;
            return tlm::TLM_UPDATED;
        }
        return tlm::TLM_ACCEPTED;
    }
    void b_transport(tlm::tlm_generic_payload &trans, sc_core::sc_time &delay)
    {
        tlm::tlm_phase ph = tlm::BEGIN_REQ;
        fw_calls.push_back({&trans, ph, sc_core::sc_time_stamp(), sc_core::sc_time_stamp() + delay});
        trans.set_response_status(error ? tlm::TLM_GENERIC_ERROR_RESPONSE : tlm::TLM_OK_RESPONSE);
        delay += service;
    }
    void respond()
    {
        while (tlm::tlm_generic_payload *t = peq_.get_next_transaction()) {
            tlm::tlm_phase phase = tlm::BEGIN_RESP;
            sc_core::sc_time d = sc_core::SC_ZERO_TIME;
            bw_sent.push_back({t, phase, sc_core::sc_time_stamp(), sc_core::sc_time_stamp()});
            socket->nb_transport_bw(*t, phase, d);
        }
    }
    tlm_utils::peq_with_get<tlm::tlm_generic_payload> peq_;
};

// A payload from the pool, set up as a TLP / memory access.
inline tlm::tlm_generic_payload &make_tlp(tlm_model::PayloadPool &pool, tlm::tlm_command cmd,
                                          uint64_t addr, uint32_t len,
                                          tlm_model::Purpose purpose = tlm_model::Purpose::Dma)
{
    tlm::tlm_generic_payload *gp = pool.get();
    gp->set_command(cmd);
    gp->set_address(addr);
    gp->set_data_length(len);
    tlm_model::PayloadPool::ext(*gp).purpose = purpose;
    return *gp;
}

} // namespace iommusim::tlm_test
