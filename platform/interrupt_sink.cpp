#include "platform/interrupt_sink.h"

#include "models/core/sc_glue.h"

namespace iovsim::platform {

interrupt_sink::interrupt_sink(sc_core::sc_module_name name) : sc_module(name), socket("socket") {
    socket.register_b_transport(this, &interrupt_sink::b_transport);
}

void interrupt_sink::b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    t.set_response_status(tlm::TLM_OK_RESPONSE);
    if (!t.is_write() || t.get_data_length() != 4 || (t.get_address() >> 20) != 0xfee) {
        ++m_malformed;  // dropped, as a real interrupt controller drops a malformed message
        return;
    }
    const unsigned char* d = t.get_data_ptr();
    const std::uint8_t vector = d[0];
    m_last_destination = static_cast<std::uint8_t>(t.get_address() >> 12);
    ++m_counts[vector];
    m_last[vector] = now_ticks(delay);
    m_events[vector].notify(delay);
}

}  // namespace iovsim::platform
