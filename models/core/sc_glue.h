// Glue between plain-C++ cores (which count picoseconds in tick_t) and SystemC shells.
// Only shells include this header. The kernel's time resolution must be 1 ps (SystemC's
// default), so an sc_time's value() is a tick count.
#pragma once

#include <cstdint>
#include <systemc>
#include <tlm>

#include "models/core/units.h"

namespace iovsim {

inline tick_t to_ticks(const sc_core::sc_time& t) { return t.value(); }
inline sc_core::sc_time to_sc_time(tick_t t) {
    return sc_core::sc_time::from_value(static_cast<sc_dt::uint64>(t));
}
// Kernel time plus an initiator's local offset: the true time of a loosely-timed event.
inline tick_t now_ticks(const sc_core::sc_time& local_offset = sc_core::SC_ZERO_TIME) {
    return to_ticks(sc_core::sc_time_stamp() + local_offset);
}

// Makes `t` a fresh request: `cmd` of `len` bytes at `addr` from or into `data`, one stream,
// no byte enables, no DMI, response incomplete. Extensions are the caller's.
inline void set_request(tlm::tlm_generic_payload& t, tlm::tlm_command cmd, std::uint64_t addr,
                        unsigned char* data, std::uint32_t len) {
    t.set_command(cmd);
    t.set_address(addr);
    t.set_data_ptr(data);
    t.set_data_length(len);
    t.set_streaming_width(len);
    t.set_byte_enable_ptr(nullptr);
    t.set_dmi_allowed(false);
    t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
}

}  // namespace iovsim
