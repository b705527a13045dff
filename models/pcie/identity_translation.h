// The translation stage with the IOMMU off: device requests pass from the root complex to memory
// with their addresses unchanged (DESIGN.md §4). An IOMMU takes this module's place between
// the root complex's dma_socket and memory's device socket, with the same two sockets.
//
// Leaves out: everything an IOMMU does. Timing: none of its own.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <tlm>

namespace iovsim::pcie {

class identity_translation : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<identity_translation> in;
    tlm_utils::simple_initiator_socket<identity_translation> out;

    explicit identity_translation(sc_core::sc_module_name name)
        : sc_module(name), in("in"), out("out") {
        in.register_b_transport(this, &identity_translation::b_transport);
        in.register_transport_dbg(this, &identity_translation::transport_dbg);
    }

private:
    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
        out->b_transport(t, delay);
    }
    unsigned transport_dbg(tlm::tlm_generic_payload& t) { return out->transport_dbg(t); }
};

}  // namespace iovsim::pcie
