// Host memory as a TLM-2.0 loosely-timed target: the SystemC shell around sparse_store (the
// bytes), dram_map (which host addresses are DRAM) and memory_timing (LLC + DRAM channels).
//
// Models: two target sockets that reach the same memory. `cpu_socket` carries requests from the
// CPUs and the host bridge; `device_socket` carries requests that come up from PCIe through the
// root complex (and IOMMU), so its writes get DDIO allocation (memory_timing.h). The requester
// kind is a property of the socket, not of the transaction: bind each initiator path to the
// socket that matches it. b_transport never waits: it computes arrival = sc_time_stamp() + delay
// (in picoseconds), asks the timing core when the access completes, and adds completion -
// arrival to delay. transport_dbg reads and writes the same bytes in zero time, touching no
// timing state.
//
// Errors (a requester's mistake: a TLM error response and a counter, the simulation goes on):
// - an access not wholly inside one DRAM range (the hole below 4 GiB, beyond the end, straddling
//   a range end) -> TLM_ADDRESS_ERROR_RESPONSE, out_of_range() counts it; no delay is added;
// - any byte-enable pointer -> TLM_BYTE_ENABLE_ERROR_RESPONSE, byte_enable_errors() counts it
//   (byte enables are not supported; PCIe first/last-DW byte enables must be applied by the
//   initiator as a read-modify-write or by narrowing the access).
// - a non-zero data length with no data pointer -> TLM_GENERIC_ERROR_RESPONSE.
// TLM_IGNORE_COMMAND is answered OK with no data and no delay.
//
// Leaves out: DMI (dmi_allowed is never set), AT phases, byte enables. A streaming width
// smaller than the data length repeats the window [address, address + width) as TLM-2.0
// specifies; each repetition is timed as a separate access arriving at the same time. A
// streaming width of 0 (a payload that never set it) is taken to mean the data length.
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <systemc>
#include <tlm>

#include "models/mem/dram_map.h"
#include "models/mem/memory_timing.h"
#include "models/mem/sparse_store.h"

namespace iovsim::mem {

class memory : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<memory> cpu_socket;     // CPU / host-bridge requests
    tlm_utils::simple_target_socket<memory> device_socket;  // PCIe device (DMA) requests: DDIO

    // The store is sized to map.store_extent(). Throws std::invalid_argument if the map is empty
    // or the timing parameters are invalid.
    memory(const sc_core::sc_module_name& name, const dram_map& map,
           const memory_timing_params& timing = {});

    // Zero-time access by host address, as transport_dbg does: false if not wholly inside one
    // DRAM range. For loaders and tests.
    bool debug_read(std::uint64_t addr, void* dst, std::uint64_t len) const;
    bool debug_write(std::uint64_t addr, const void* src, std::uint64_t len);

    sparse_store& store() { return m_store; }
    const sparse_store& store() const { return m_store; }
    memory_timing& timing() { return m_timing; }
    const memory_timing& timing() const { return m_timing; }
    const dram_map& map() const { return m_map; }

    std::uint64_t out_of_range() const { return m_out_of_range; }              // address errors
    std::uint64_t byte_enable_errors() const { return m_byte_enable_errors; }  // rejected enables

private:
    void b_transport_cpu(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
    void b_transport_device(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
    void transport(requester who, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
    unsigned int transport_dbg(tlm::tlm_generic_payload& trans);

    dram_map m_map;
    sparse_store m_store;
    memory_timing m_timing;
    std::uint64_t m_out_of_range = 0;
    std::uint64_t m_byte_enable_errors = 0;
};

}  // namespace iovsim::mem
