// Root complex and host bridge: the host address map, configuration access through ECAM, root
// ports with their links, and the upstream path from devices to memory and to the interrupt
// controller (DESIGN.md §4).
//
// What it models
// - CPU side (`cpu_socket`): each access is decoded by the host map. DRAM goes to memory
//   (`cpu_mem_socket`). ECAM becomes a configuration request: bus 0 holds the host bridge
//   (00:00.0) and the root ports (00:01.0, 00:02.0, …), whose type-1 config spaces live here;
//   the secondary bus behind a root port gets a Type 0 configuration TLP across that port's
//   link (only device 0 exists on a link, unless the port's ARI Forwarding is enabled), the
//   buses above it up to the subordinate bus a Type 1 one (an SR-IOV device with VFs on more
//   bus numbers answers those itself). MMIO is forwarded to the root port whose memory windows
//   claim it (and whose Memory Space Enable is set) as a memory TLP across its link.
// - Device side (`upstream[port]`): every b_transport is one request TLP. It crosses the link
//   upward, must be well formed (no 4 KiB crossing; writes within MPS, reads within 4 KiB), and is
//   forwarded only if the root port's Bus Master Enable is set. A write into the interrupt
//   window is an interrupt message and goes to `irq_socket`; every other request goes to
//   `dma_socket`, the translation stage (an IOMMU, or an identity stage) in front of memory.
//   Read data returns as completions split at MPS and RCB boundaries across the link downward.
// - IOMMU register page (`iommu_socket`, optional): CPU accesses to the host map's IOMMU page are
//   forwarded there, paying mmio_latency each way like a configuration access. The socket may
//   stay unbound (a platform without an IOMMU): the page then master-aborts like any unclaimed
//   address (reads all ones, writes dropped, counted).
// - Errors as hardware reports them: a CPU read of an unclaimed address or absent function
//   returns all ones (master abort); a write is dropped; a device request blocked by Bus
//   Master Enable gets an Unsupported Request, one faulted downstream a Completer Abort (reads;
//   posted writes are dropped). A malformed request (across 4 KiB, a write above the port's
//   programmed Max_Payload_Size, a read above 4 KiB) is dropped with no completion and recorded
//   in the port's Device Status and AER registers. Each is counted.
// - The link rules follow what software programmed: MPS from the port's Device Control, the
//   RCB the root port reports in Link Control (pcie.rcb).
//
// Leaves out: peer-to-peer between root ports, switches, I/O space, configuration retry status,
// ordering between posted writes from different ports, PCIe power management.
//
// Timing: a CPU access pays `mmio_latency` from the core to the root port each way (a posted
// MMIO write only the first: the CPU moves on once the root port has it). An interrupt message
// is posted too: the device is done when it has crossed the link, and it reaches the interrupt
// controller `upstream_latency` later, never before the port's earlier writes landed. A device
// request pays `upstream_latency` from the root port to the memory controller and completion
// data `completion_latency` back to the root port, plus memory's own time. Reads from a port
// never pass that port's earlier posted writes (PCIe ordering): a read's memory access starts
// no earlier than the last posted write from the port has landed. Links are serializers
// (link_core.h). Targets never wait(): every cost is added to the transaction's delay.
#pragma once

#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <memory>
#include <string>
#include <tlm>
#include <vector>

#include "models/core/stats.h"
#include "models/core/units.h"
#include "models/pcie/config_space.h"
#include "models/pcie/host_map.h"
#include "models/pcie/link_core.h"
#include "models/pcie/routing_id.h"

namespace iovsim::pcie {

struct root_complex_params {
    // CPU core to root port (and back) through the uncore: paid by every CPU MMIO or ECAM access.
    tick_t mmio_latency = 60 * ticks_per_ns;
    // Root port ingress to the memory controller for a device request (IIO, mesh/ring).
    tick_t upstream_latency = 150 * ticks_per_ns;
    // Memory controller data back to the root port egress for a read completion.
    tick_t completion_latency = 100 * ticks_per_ns;
    // Number of root ports, one link each (00:01.0, 00:02.0, …).
    unsigned root_ports = 1;
    link_params link{};
};

struct root_complex_stats {
    core::counter cpu_config_reads, cpu_config_writes, cpu_mmio_reads, cpu_mmio_writes;
    core::counter cpu_iommu_accesses;  // CPU accesses to the IOMMU's register page
    core::counter master_aborts;       // CPU accesses nobody claimed (reads return all ones)
    core::counter dma_reads, dma_writes, dma_read_bytes, dma_write_bytes;
    core::counter interrupt_messages;
    core::counter malformed_tlps;      // device requests breaking MPS, MRRS or 4 KiB rules
    core::counter bus_master_blocked;  // device requests while the root port's BME is clear
    core::counter completer_aborts;    // device requests that failed downstream (fault, range)
};

class root_complex : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<root_complex> cpu_socket;
    tlm_utils::simple_initiator_socket<root_complex> cpu_mem_socket;
    tlm_utils::simple_initiator_socket<root_complex> dma_socket;
    tlm_utils::simple_initiator_socket<root_complex> irq_socket;
    tlm_utils::simple_initiator_socket_optional<root_complex> iommu_socket;  // register page
    tlm_utils::multi_passthrough_initiator_socket<root_complex> downstream;  // one per port
    tlm_utils::multi_passthrough_target_socket<root_complex> upstream;       // one per port

    root_complex(sc_core::sc_module_name name, const host_map& map, const root_complex_params& p);

    unsigned port_count() const { return static_cast<unsigned>(m_ports.size()); }
    static routing_id port_id(unsigned port) {
        return routing_id{0, static_cast<std::uint8_t>(port + 1), 0};
    }
    static constexpr routing_id host_bridge_id{0, 0, 0};
    const config_space& port_config(unsigned port) const { return m_ports.at(port).config; }
    const config_space& host_bridge_config() const { return m_host_bridge; }
    const link& port_link(unsigned port) const { return m_ports.at(port).link; }
    const host_map& map() const { return m_map; }
    const root_complex_stats& stats() const { return m_stats; }
    void register_stats(core::stats_registry& reg, const std::string& prefix) const;

private:
    struct port {
        config_space config;
        pcie::link link;
        tick_t posted_landed = 0;  // when the last posted write from this port reached memory
        explicit port(const config_space& c, const link_params& lp) : config(c), link(lp) {}
    };

    void cpu_b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
    unsigned cpu_transport_dbg(tlm::tlm_generic_payload& t);
    void upstream_b_transport(int port, tlm::tlm_generic_payload& t, sc_core::sc_time& delay);

    void config_access(tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
    void mmio_access(tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
    int port_for_bus(std::uint8_t bus) const;
    int port_for_address(std::uint64_t addr, std::uint32_t len) const;
    config_space* bus0_function(routing_id id);
    static void fill_all_ones(tlm::tlm_generic_payload& t);

    host_map m_map;
    root_complex_params m_p;
    config_space m_host_bridge;
    std::vector<port> m_ports;
    root_complex_stats m_stats;
};

}  // namespace iovsim::pcie
