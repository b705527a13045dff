#include "models/mem/memory.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace iovsim::mem {

namespace {

dram_map checked(const dram_map& map) {
    if (map.ranges().empty()) throw std::invalid_argument("memory: no DRAM ranges");
    return map;
}

tick_t to_ticks(const sc_core::sc_time& t) {
    if (sc_core::sc_get_time_resolution() == sc_core::sc_time(1, sc_core::SC_PS)) {
        return static_cast<tick_t>(t.value());
    }
    return static_cast<tick_t>(std::llround(t.to_seconds() * 1e12));
}

}  // namespace

memory::memory(const sc_core::sc_module_name& name, const dram_map& map,
               const memory_timing_params& timing)
    : sc_core::sc_module(name),
      cpu_socket("cpu_socket"),
      device_socket("device_socket"),
      m_map(checked(map)),
      m_store(m_map.store_extent()),
      m_timing(timing) {
    cpu_socket.register_b_transport(this, &memory::b_transport_cpu);
    device_socket.register_b_transport(this, &memory::b_transport_device);
    cpu_socket.register_transport_dbg(this, &memory::transport_dbg);
    device_socket.register_transport_dbg(this, &memory::transport_dbg);
}

bool memory::debug_read(std::uint64_t addr, void* dst, std::uint64_t len) const {
    const auto offset = m_map.translate(addr, len);
    return offset && m_store.read(*offset, dst, len);
}

bool memory::debug_write(std::uint64_t addr, const void* src, std::uint64_t len) {
    const auto offset = m_map.translate(addr, len);
    return offset && m_store.write(*offset, src, len);
}

void memory::b_transport_cpu(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    transport(requester::cpu, trans, delay);
}

void memory::b_transport_device(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    transport(requester::device, trans, delay);
}

void memory::transport(requester who, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    trans.set_dmi_allowed(false);
    if (trans.get_byte_enable_ptr() != nullptr) {
        ++m_byte_enable_errors;
        trans.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
        return;
    }
    const tlm::tlm_command cmd = trans.get_command();
    if (cmd == tlm::TLM_IGNORE_COMMAND) {
        trans.set_response_status(tlm::TLM_OK_RESPONSE);
        return;
    }
    const std::uint64_t addr = trans.get_address();
    const std::uint64_t len = trans.get_data_length();
    const std::uint64_t width = trans.get_streaming_width() == 0
                                    ? len
                                    : std::min<std::uint64_t>(trans.get_streaming_width(), len);
    if (len > 0 && trans.get_data_ptr() == nullptr) {
        trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
        return;
    }
    const auto offset = m_map.translate(addr, width);
    if (!offset) {
        ++m_out_of_range;
        trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }

    const bool is_write = cmd == tlm::TLM_WRITE_COMMAND;
    unsigned char* data = trans.get_data_ptr();
    const tick_t arrival = to_ticks(sc_core::sc_time_stamp() + delay);
    tick_t done = arrival;
    for (std::uint64_t pos = 0; pos < len; pos += width) {
        const std::uint64_t chunk = std::min(width, len - pos);
        if (is_write) {
            m_store.write(*offset, data + pos, chunk);
        } else {
            m_store.read(*offset, data + pos, chunk);
        }
        done = std::max(done, m_timing.access(arrival, addr, chunk, is_write, who).done);
    }
    delay += sc_core::sc_time(static_cast<double>(done - arrival), sc_core::SC_PS);
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

unsigned int memory::transport_dbg(tlm::tlm_generic_payload& trans) {
    const std::uint64_t len = trans.get_data_length();
    if (trans.get_byte_enable_ptr() != nullptr || trans.get_data_ptr() == nullptr) return 0;
    const auto offset = m_map.translate(trans.get_address(), len);
    if (!offset) return 0;
    if (trans.get_command() == tlm::TLM_WRITE_COMMAND) {
        m_store.write(*offset, trans.get_data_ptr(), len);
    } else if (trans.get_command() == tlm::TLM_READ_COMMAND) {
        m_store.read(*offset, trans.get_data_ptr(), len);
    } else {
        return 0;
    }
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
    return static_cast<unsigned int>(len);
}

}  // namespace iovsim::mem
