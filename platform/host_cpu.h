// A host CPU running firmware and driver code as a plain sequence of accesses: the stand-in the
// foundation uses to enumerate PCIe and to drive the DMA bench, until the trap-path issue brings
// vCPUs and host cores.
//
// Models: configuration reads and writes through ECAM, MMIO reads and writes, memory reads and
// writes, and waiting for an interrupt vector, each a TLM transaction into the root complex from
// one loosely-timed SC_THREAD with a quantum keeper (sim.quantum). Leaves out: instruction costs,
// caches on the CPU side, other cores. Timing: whatever the root complex and memory add.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include <cstdint>
#include <functional>
#include <string>
#include <tlm>

#include "models/core/units.h"
#include "models/pcie/enumeration.h"
#include "models/pcie/host_map.h"

namespace iovsim::platform {

class host_cpu : public sc_core::sc_module, public pcie::config_access {
public:
    tlm_utils::simple_initiator_socket<host_cpu> socket;

    using program = std::function<void(host_cpu&)>;
    host_cpu(sc_core::sc_module_name name, const pcie::host_map& map);

    // The code the CPU runs at time zero; the simulation stops when it returns (unless
    // `stop_when_done` is false: the host only set up what others run). An exception it throws
    // stops the simulation too, and is kept in failure().
    void run(program p, bool stop_when_done = true) {
        m_program = std::move(p);
        m_stop_when_done = stop_when_done;
    }

    std::uint32_t config_read(pcie::routing_id id, std::uint16_t offset, unsigned size) override;
    void config_write(pcie::routing_id id, std::uint16_t offset, unsigned size,
                      std::uint32_t value) override;
    std::uint32_t mmio_read32(std::uint64_t addr);
    void mmio_write32(std::uint64_t addr, std::uint32_t value);
    void mem_write(std::uint64_t addr, const void* data, std::uint32_t len);
    void mem_read(std::uint64_t addr, void* data, std::uint32_t len);
    // Synchronizes, then sleeps until `e` fires or `timeout` passes; false on timeout.
    bool wait_for(sc_core::sc_event& e, tick_t timeout);
    // Synchronizes, then sleeps until one of `events` fires.
    void wait_any(const sc_core::sc_event_or_list& events);
    tick_t now() const;  // kernel time plus local offset
    // b_transport calls made, and wait() calls made (quantum-keeper syncs, interrupt waits).
    std::uint64_t transactions() const { return m_transactions; }
    std::uint64_t waits() const { return m_waits; }
    std::uint64_t errors() const { return m_errors; }         // accesses with an error response
    bool finished() const { return m_finished; }              // the program returned or threw
    const std::string& failure() const { return m_failure; }  // what the program threw, if any

private:
    void thread();
    void access(tlm::tlm_command cmd, std::uint64_t addr, void* data, unsigned len);
    void sync();  // m_qk.sync(), counted

    pcie::host_map m_map;
    program m_program;
    tlm_utils::tlm_quantumkeeper m_qk;
    std::uint64_t m_transactions = 0;
    std::uint64_t m_errors = 0;
    std::uint64_t m_waits = 0;
    bool m_finished = false;
    bool m_stop_when_done = true;
    std::string m_failure;
};

}  // namespace iovsim::platform
