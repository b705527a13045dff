// The host's interrupt controller as far as the foundation needs one: it receives interrupt
// messages (MSI/MSI-X memory writes into 0xFEE0_0000–0xFEEF_FFFF) from the root complex's
// interrupt socket, decodes them in the x86 format (address bits 19:12 destination APIC ID,
// data bits 7:0 vector), counts them per vector and wakes whoever waits for that vector at the
// message's arrival time.
//
// Leaves out: APICs, priorities, EOI, remapping (the trap-path and IOMMU issues replace this
// module). Timing: none of its own.
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <array>
#include <cstdint>
#include <tlm>

#include "models/core/units.h"

namespace iovsim::platform {

class interrupt_sink : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<interrupt_sink> socket;

    explicit interrupt_sink(sc_core::sc_module_name name);

    sc_core::sc_event& event(std::uint8_t vector) { return m_events[vector]; }
    std::uint64_t count(std::uint8_t vector) const { return m_counts[vector]; }
    tick_t last_arrival(std::uint8_t vector) const { return m_last[vector]; }
    std::uint8_t last_destination() const { return m_last_destination; }
    std::uint64_t malformed() const { return m_malformed; }

private:
    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay);

    std::array<sc_core::sc_event, 256> m_events;
    std::array<std::uint64_t, 256> m_counts{};
    std::array<tick_t, 256> m_last{};
    std::uint8_t m_last_destination = 0;
    std::uint64_t m_malformed = 0;
};

}  // namespace iovsim::platform
