// Test harness shared by the IOMMU shell's SystemC tests: an interrupt-message recorder and an
// initiator that plays both the host CPU (register and memory accesses, the driver's
// host_access) and a device (DMA and interrupt messages with a requester ID and address type).
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <cstring>
#include <functional>
#include <systemc>
#include <tlm>
#include <vector>

#include "iommu/driver.h"
#include "models/core/sc_glue.h"
#include "models/pcie/tlp.h"

namespace iovsim::iommu::testing {

// The IOMMU's register page in these tests (the platform's default VT-d base).
inline constexpr std::uint64_t regs_base = 0xfed9'0000;

struct irq_recorder : sc_core::sc_module {
    tlm_utils::simple_target_socket<irq_recorder> socket;
    struct message {
        std::uint64_t address;
        std::uint32_t data;
    };
    std::vector<message> got;
    explicit irq_recorder(const sc_core::sc_module_name& n) : sc_module(n), socket("socket") {
        socket.register_b_transport(this, &irq_recorder::b_transport);
    }
    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time&) {
        std::uint32_t d = 0;
        std::memcpy(&d, t.get_data_ptr(), 4);
        got.push_back({t.get_address(), d});
        t.set_response_status(tlm::TLM_OK_RESPONSE);
    }
};

struct cpu_and_device : sc_core::sc_module, host_access {
    tlm_utils::simple_initiator_socket<cpu_and_device> to_regs, to_mem, dma, irq;
    std::function<void(cpu_and_device&)> program;
    sc_core::sc_time local;

    SC_HAS_PROCESS(cpu_and_device);
    explicit cpu_and_device(const sc_core::sc_module_name& n)
        : sc_module(n), to_regs("to_regs"), to_mem("to_mem"), dma("dma"), irq("irq") {
        SC_THREAD(run);
    }
    void run() { program(*this); }

    tlm::tlm_response_status access(tlm_utils::simple_initiator_socket<cpu_and_device>& s,
                                    tlm::tlm_command cmd, std::uint64_t a, void* d, unsigned n,
                                    std::uint16_t requester = 0,
                                    pcie::address_type at = pcie::address_type::untranslated,
                                    bool wait = true) {
        tlm::tlm_generic_payload t;
        set_request(t, cmd, a, static_cast<unsigned char*>(d), n);
        pcie::tlp_extension ext;
        ext.requester = pcie::routing_id::from_value(requester);
        ext.at = at;
        t.set_extension(&ext);
        sc_core::sc_time delay = local;
        s->b_transport(t, delay);
        t.clear_extension(&ext);
        local = sc_core::SC_ZERO_TIME;
        if (wait) sc_core::wait(delay);  // quantum 0: synchronize after every transaction
        return t.get_response_status();
    }
    bool is_reg(std::uint64_t a) const { return a >= regs_base && a < regs_base + 0x1000; }
    std::uint32_t read32(std::uint64_t a) override {
        std::uint32_t v = 0;
        access(is_reg(a) ? to_regs : to_mem, tlm::TLM_READ_COMMAND, a, &v, 4);
        return v;
    }
    void write32(std::uint64_t a, std::uint32_t v) override {
        access(is_reg(a) ? to_regs : to_mem, tlm::TLM_WRITE_COMMAND, a, &v, 4);
    }
    void write_mem(std::uint64_t a, const void* d, std::uint32_t n) override {
        access(to_mem, tlm::TLM_WRITE_COMMAND, a, const_cast<void*>(d), n);
    }
    tick_t now() const override { return now_ticks(local); }
    void spend(tick_t t) override { sc_core::wait(to_sc_time(t)); }
};

}  // namespace iovsim::iommu::testing
