// Glue between the host's CPUs and the platform when VMs run (vm.mode other than bare-metal):
//
// - cpu_bus: the host CPU stand-in and every vCPU reach the host bridge (the root complex's one
//   cpu_socket) through it. Forwards b_transport and transport_dbg unchanged, adds no delay: it
//   is the core's own path to the uncore, shared, with no arbitration modelled.
// - interrupt_router: the host's interrupt entry behind the IOMMU. Interrupt messages for KVM
//   (the posted-interrupt notification and wake-up vectors, and the host vectors of VFIO's MSI
//   routes) go to KVM's interrupt entry; every other vector goes to the host's own interrupt
//   controller stand-in (the PF driver's vectors). Decodes the x86 MSI data (bits 7:0 vector);
//   a message it cannot decode goes to the host side, which counts it as malformed.
//
// Timing: none of their own.
#pragma once

#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <bitset>
#include <cstdint>
#include <tlm>

namespace iovsim::platform {

class cpu_bus : public sc_core::sc_module {
public:
    tlm_utils::multi_passthrough_target_socket<cpu_bus> in;  // any number of CPUs
    tlm_utils::simple_initiator_socket<cpu_bus> out;         // to the host bridge

    explicit cpu_bus(sc_core::sc_module_name name) : sc_module(name), in("in"), out("out") {
        in.register_b_transport(this, &cpu_bus::b_transport);
        in.register_transport_dbg(this, &cpu_bus::transport_dbg);
    }

private:
    void b_transport(int, tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
        out->b_transport(t, delay);
    }
    unsigned transport_dbg(int, tlm::tlm_generic_payload& t) { return out->transport_dbg(t); }
};

class interrupt_router : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<interrupt_router> in;
    tlm_utils::simple_initiator_socket<interrupt_router> to_kvm;
    tlm_utils::simple_initiator_socket<interrupt_router> to_host;

    explicit interrupt_router(sc_core::sc_module_name name)
        : sc_module(name), in("in"), to_kvm("to_kvm"), to_host("to_host") {
        in.register_b_transport(this, &interrupt_router::b_transport);
    }
    // Messages with `vector` go to KVM from now on.
    void claim(std::uint8_t vector) { m_kvm.set(vector); }
    bool claimed(std::uint8_t vector) const { return m_kvm.test(vector); }
    std::uint64_t to_kvm_count() const { return m_to_kvm; }

private:
    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
        if (t.get_data_length() >= 1 && t.get_data_ptr() && claimed(t.get_data_ptr()[0])) {
            ++m_to_kvm;
            to_kvm->b_transport(t, delay);
        } else {
            to_host->b_transport(t, delay);
        }
    }
    std::bitset<256> m_kvm;
    std::uint64_t m_to_kvm = 0;
};

}  // namespace iovsim::platform
