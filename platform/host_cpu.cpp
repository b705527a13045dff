#include "platform/host_cpu.h"

#include <exception>

#include "models/core/sc_glue.h"

namespace iovsim::platform {

host_cpu::host_cpu(sc_core::sc_module_name name, const pcie::host_map& map)
    : sc_module(name), socket("socket"), m_map(map) {
    SC_HAS_PROCESS(host_cpu);
    SC_THREAD(thread);
}

void host_cpu::thread() {
    m_qk.reset();
    try {
        if (m_program) m_program(*this);
        sync();
    } catch (const std::exception& e) {
        m_failure = e.what();
    }
    m_finished = true;
    if (m_stop_when_done || !m_failure.empty()) sc_core::sc_stop();
}

void host_cpu::sync() {
    ++m_waits;
    m_qk.sync();
}

tick_t host_cpu::now() const { return now_ticks(m_qk.get_local_time()); }

void host_cpu::access(tlm::tlm_command cmd, std::uint64_t addr, void* data, unsigned len) {
    tlm::tlm_generic_payload t;
    set_request(t, cmd, addr, static_cast<unsigned char*>(data), len);
    sc_core::sc_time delay = m_qk.get_local_time();
    socket->b_transport(t, delay);
    ++m_transactions;
    if (!t.is_response_ok()) ++m_errors;
    m_qk.set(delay);
    if (m_qk.need_sync()) sync();
}

std::uint32_t host_cpu::config_read(pcie::routing_id id, std::uint16_t offset, unsigned size) {
    const std::uint64_t addr = m_map.ecam.base + (std::uint64_t{id.bus} << 20) +
                               (std::uint64_t{id.device} << 15) +
                               (std::uint64_t{id.function} << 12) + offset;
    unsigned char b[4] = {};
    access(tlm::TLM_READ_COMMAND, addr, b, size);
    std::uint32_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= std::uint32_t{b[i]} << (8 * i);
    return v;
}

void host_cpu::config_write(pcie::routing_id id, std::uint16_t offset, unsigned size,
                            std::uint32_t value) {
    const std::uint64_t addr = m_map.ecam.base + (std::uint64_t{id.bus} << 20) +
                               (std::uint64_t{id.device} << 15) +
                               (std::uint64_t{id.function} << 12) + offset;
    unsigned char b[4];
    for (unsigned i = 0; i < 4; ++i) b[i] = static_cast<unsigned char>(value >> (8 * i));
    access(tlm::TLM_WRITE_COMMAND, addr, b, size);
}

std::uint32_t host_cpu::mmio_read32(std::uint64_t addr) {
    unsigned char b[4] = {};
    access(tlm::TLM_READ_COMMAND, addr, b, 4);
    return std::uint32_t{b[0]} | std::uint32_t{b[1]} << 8 | std::uint32_t{b[2]} << 16 |
           std::uint32_t{b[3]} << 24;
}

void host_cpu::mmio_write32(std::uint64_t addr, std::uint32_t value) {
    unsigned char b[4];
    for (unsigned i = 0; i < 4; ++i) b[i] = static_cast<unsigned char>(value >> (8 * i));
    access(tlm::TLM_WRITE_COMMAND, addr, b, 4);
}

void host_cpu::mem_write(std::uint64_t addr, const void* data, std::uint32_t len) {
    access(tlm::TLM_WRITE_COMMAND, addr, const_cast<void*>(data), len);
}

void host_cpu::mem_read(std::uint64_t addr, void* data, std::uint32_t len) {
    access(tlm::TLM_READ_COMMAND, addr, data, len);
}

bool host_cpu::wait_for(sc_core::sc_event& e, tick_t timeout) {
    sync();
    const sc_core::sc_time start = sc_core::sc_time_stamp();
    ++m_waits;
    sc_core::wait(to_sc_time(timeout), e);
    return sc_core::sc_time_stamp() - start < to_sc_time(timeout);
}

void host_cpu::wait_any(const sc_core::sc_event_or_list& events) {
    sync();
    ++m_waits;
    sc_core::wait(events);
}

}  // namespace iovsim::platform
