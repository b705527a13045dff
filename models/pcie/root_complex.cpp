#include "models/pcie/root_complex.h"

#include <algorithm>
#include <cstring>

#include "models/core/bits.h"
#include "models/core/log.h"
#include "models/core/sc_glue.h"
#include "models/pcie/capabilities.h"
#include "models/pcie/tlp.h"
#include "models/pcie/tlp_layout.h"

namespace iovsim::pcie {

namespace {

config_space make_host_bridge() {
    function_identity id;
    id.vendor_id = 0x8086;  // Intel
    id.device_id = 0x29c0;  // 82G33/G31/P35/P31 DRAM controller, QEMU's q35 host bridge
    id.class_code = 0x060000;
    id.subsystem_vendor_id = 0x1af4;
    id.subsystem_id = 0x1100;
    return config_space(header_layout::type0, id);
}

config_space make_port(unsigned port, const link_params& lp) {
    root_port_params rp;
    rp.link_speed = lp.gen;
    rp.link_width = lp.lanes;
    rp.max_payload_supported = 4096;
    rp.port_number = static_cast<std::uint8_t>(port + 1);
    rp.interrupt_pin = 0;
    config_space cs = make_root_port(rp);
    // A root port's Link Control RCB bit is read-only and reports the root complex's RCB
    // (0: 64 bytes, 1: 128 bytes).
    const std::uint16_t cap = *cs.find_capability(cap_id::pci_express);
    if (lp.rcb == 128) cs.set_bits(cap + pcie_reg::link_control, 2, 1u << 3);
    return cs;
}

std::uint16_t pcie_cap(const config_space& cs) {
    return cs.find_capability(cap_id::pci_express).value_or(0);
}

// Device Control 2 bit 5: ARI Forwarding Enable.
bool ari_forwarding(const config_space& cs) {
    const std::uint16_t cap = pcie_cap(cs);
    return cap && (cs.peek(cap + pcie_reg::device_control_2, 2) >> 5 & 1);
}

// Max_Payload_Size as software programmed it into the port's Device Control.
std::uint32_t programmed_mps(const config_space& cs) {
    const std::uint16_t cap = pcie_cap(cs);
    return cap ? max_payload_size(cs) : 128;
}

// Records a malformed TLP the port received: Device Status Fatal Error Detected and, in AER,
// Uncorrectable Error Status bit 18 (Malformed TLP), as the receiver of one must (§2.3.2).
void record_malformed(config_space& cs) {
    if (const std::uint16_t cap = pcie_cap(cs))
        cs.set_bits(cap + pcie_reg::device_status, 2, 1u << 2);
    if (const auto aer = cs.find_ext_capability(ext_cap_id::aer))
        cs.set_bits(*aer + aer_reg::uncorrectable_status, 4, 1u << 18);
}

std::string requester_of(tlm::tlm_generic_payload& t) {
    tlp_extension* ext = nullptr;
    t.get_extension(ext);
    return ext ? to_string(ext->requester) : std::string("?");
}

bool crosses_4k(std::uint64_t addr, std::uint32_t len) {
    return len != 0 && (addr & ~std::uint64_t{0xfff}) != ((addr + len - 1) & ~std::uint64_t{0xfff});
}

}  // namespace

root_complex::root_complex(sc_core::sc_module_name name, const host_map& map,
                           const root_complex_params& p)
    : sc_module(name),
      cpu_socket("cpu_socket"),
      cpu_mem_socket("cpu_mem_socket"),
      dma_socket("dma_socket"),
      irq_socket("irq_socket"),
      iommu_socket("iommu_socket"),
      downstream("downstream"),
      upstream("upstream"),
      m_map(map),
      m_p(p),
      m_host_bridge(make_host_bridge()) {
    validate(p.link);
    m_ports.reserve(p.root_ports);
    for (unsigned i = 0; i < p.root_ports; ++i) m_ports.emplace_back(make_port(i, p.link), p.link);
    cpu_socket.register_b_transport(this, &root_complex::cpu_b_transport);
    cpu_socket.register_transport_dbg(this, &root_complex::cpu_transport_dbg);
    upstream.register_b_transport(this, &root_complex::upstream_b_transport);
}

void root_complex::fill_all_ones(tlm::tlm_generic_payload& t) {
    std::memset(t.get_data_ptr(), 0xff, t.get_data_length());
}

config_space* root_complex::bus0_function(routing_id id) {
    if (id.function != 0) return nullptr;
    if (id.device == 0) return &m_host_bridge;
    if (id.device <= m_ports.size()) return &m_ports[id.device - 1].config;
    return nullptr;
}

int root_complex::port_for_bus(std::uint8_t bus) const {
    for (std::size_t i = 0; i < m_ports.size(); ++i)
        if (bus != 0 && m_ports[i].config.bus_in_range(bus)) return static_cast<int>(i);
    return -1;
}

int root_complex::port_for_address(std::uint64_t addr, std::uint32_t len) const {
    for (std::size_t i = 0; i < m_ports.size(); ++i) {
        const config_space& c = m_ports[i].config;
        if (c.memory_space_enabled() && c.forwards_memory(addr, len)) return static_cast<int>(i);
    }
    return -1;
}

void root_complex::cpu_b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    const std::uint64_t addr = t.get_address();
    const unsigned len = t.get_data_length();
    switch (m_map.decode(addr, len)) {
        case host_map::region::dram:
            cpu_mem_socket->b_transport(t, delay);
            return;
        case host_map::region::ecam:
            config_access(t, delay);
            return;
        case host_map::region::mmio32:
        case host_map::region::mmio64:
            mmio_access(t, delay);
            return;
        case host_map::region::iommu:
            if (iommu_socket.size() != 0) {
                // Like device MMIO: a write is posted (the CPU pays the trip there), a read
                // pays the trip back too.
                m_stats.cpu_iommu_accesses.inc();
                sc_core::sc_time there = delay + to_sc_time(m_p.mmio_latency);
                iommu_socket->b_transport(t, there);
                delay = t.is_write() ? delay + to_sc_time(m_p.mmio_latency)
                                     : there + to_sc_time(m_p.mmio_latency);
                if (!t.is_response_ok()) {
                    m_stats.master_aborts.inc();
                    if (t.is_read()) fill_all_ones(t);
                    t.set_response_status(tlm::TLM_OK_RESPONSE);
                }
                return;
            }
            [[fallthrough]];  // no IOMMU attached: nobody claims the page
        default:
            delay += to_sc_time(2 * m_p.mmio_latency);
            m_stats.master_aborts.inc();
            if (t.is_read()) fill_all_ones(t);
            t.set_response_status(tlm::TLM_OK_RESPONSE);
            return;
    }
}

unsigned root_complex::cpu_transport_dbg(tlm::tlm_generic_payload& t) {
    if (m_map.decode(t.get_address(), t.get_data_length()) == host_map::region::dram)
        return cpu_mem_socket->transport_dbg(t);
    return 0;
}

void root_complex::config_access(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    const std::uint64_t off = t.get_address() - m_map.ecam.base;
    const routing_id id{static_cast<std::uint8_t>(off >> 20),
                        static_cast<std::uint8_t>(off >> 15 & 0x1f),
                        static_cast<std::uint8_t>(off >> 12 & 0x7)};
    const auto reg = static_cast<std::uint16_t>(off & 0xfff);
    const unsigned len = t.get_data_length();
    unsigned char* data = t.get_data_ptr();
    (t.is_read() ? m_stats.cpu_config_reads : m_stats.cpu_config_writes).inc();
    t.set_response_status(tlm::TLM_OK_RESPONSE);
    delay += to_sc_time(m_p.mmio_latency);  // core to root complex; the way back is added last

    if (!config_space::access_ok(reg, len)) {
        delay += to_sc_time(m_p.mmio_latency);
        m_stats.master_aborts.inc();
        if (t.is_read()) fill_all_ones(t);
        return;
    }
    if (id.bus == 0) {
        delay += to_sc_time(m_p.mmio_latency);
        config_space* cs = bus0_function(id);
        if (!cs) {
            m_stats.master_aborts.inc();
            if (t.is_read()) fill_all_ones(t);
        } else if (t.is_read()) {
            store_le_n(data, len, cs->read(reg, len));
        } else {
            cs->write(reg, len, static_cast<std::uint32_t>(load_le_n(data, len)));
        }
        return;
    }

    // Behind a root port: Type 0 to its secondary bus, where only device 0 exists unless ARI
    // Forwarding is enabled (the 8-bit ARI function number spans the device field); Type 1 to
    // the buses above it up to the subordinate bus, which an SR-IOV device whose VFs sit on
    // further bus numbers consumes itself. A port with nothing bound has an empty link.
    const int p = port_for_bus(id.bus);
    if (p < 0 || p >= static_cast<int>(downstream.size())) {
        delay += to_sc_time(m_p.mmio_latency);
        m_stats.master_aborts.inc();
        if (t.is_read()) fill_all_ones(t);
        return;
    }
    port& pt = m_ports[p];
    const bool type0 = id.bus == pt.config.secondary_bus();
    if (type0 && id.device != 0 && !ari_forwarding(pt.config)) {
        delay += to_sc_time(m_p.mmio_latency);
        m_stats.master_aborts.inc();
        if (t.is_read()) fill_all_ones(t);
        return;
    }
    tlp_extension ext;
    ext.type = type0 ? tlp_type::config_type0 : tlp_type::config_type1;
    ext.requester = host_bridge_id;
    ext.target = id;
    tlp_extension* old = nullptr;
    t.get_extension(old);
    t.set_extension(&ext);
    t.set_address(reg);
    // CfgRd0/CfgWr0: 3-DW header, one DW of data for writes; the completion (Cpl or CplD) too.
    const std::uint32_t req_bytes = tlp_framing_bytes + header_3dw_bytes + (t.is_write() ? 4 : 0);
    const std::uint32_t cpl_bytes = cpl_wire_bytes() + (t.is_read() ? 4 : 0);
    const tick_t arrive = pt.link.send_down(now_ticks(delay), req_bytes);
    delay = to_sc_time(arrive) - sc_core::sc_time_stamp();
    downstream[p]->b_transport(t, delay);
    const tick_t back = pt.link.send_up(now_ticks(delay), cpl_bytes);
    delay = to_sc_time(back + m_p.mmio_latency) - sc_core::sc_time_stamp();
    t.set_extension(old);
    t.set_address(m_map.ecam.base + off);
    if (!t.is_response_ok()) {
        // Unsupported Request: reads as all ones.
        m_stats.master_aborts.inc();
        if (t.is_read()) fill_all_ones(t);
        t.set_response_status(tlm::TLM_OK_RESPONSE);
    }
}

void root_complex::mmio_access(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    const std::uint64_t addr = t.get_address();
    const unsigned len = t.get_data_length();
    (t.is_read() ? m_stats.cpu_mmio_reads : m_stats.cpu_mmio_writes).inc();
    delay += to_sc_time(m_p.mmio_latency);
    const int p = port_for_address(addr, len);
    if (p < 0 || p >= static_cast<int>(downstream.size()) || len == 0 ||
        len > programmed_mps(m_ports[p].config) || crosses_4k(addr, len)) {
        m_stats.master_aborts.inc();
        core::log("pcie", core::log_level::info,
                  "{}: CPU MMIO {} of {} B at {:#x}: no function claims it", name(),
                  t.is_read() ? "read" : "write", len, addr);
        if (t.is_read()) {
            delay += to_sc_time(m_p.mmio_latency);
            fill_all_ones(t);
        }
        t.set_response_status(tlm::TLM_OK_RESPONSE);
        return;
    }
    port& pt = m_ports[p];
    tlp_extension* ext = nullptr;
    t.get_extension(ext);
    tlp_extension local;
    if (!ext) {
        local.requester = host_bridge_id;
        t.set_extension(&local);
    }
    const std::uint32_t req_bytes =
        t.is_write() ? mwr_wire_bytes(addr, len) : mrd_wire_bytes(addr, len);
    const tick_t arrive = pt.link.send_down(now_ticks(delay), req_bytes, t.is_write() ? len : 0);
    if (t.is_write()) {
        // Posted: the CPU is done once the root port has taken the write; the device sees it
        // when it arrives across the link.
        sc_core::sc_time device_delay = to_sc_time(arrive) - sc_core::sc_time_stamp();
        downstream[p]->b_transport(t, device_delay);
    } else {
        delay = to_sc_time(arrive) - sc_core::sc_time_stamp();
        downstream[p]->b_transport(t, delay);
        const tick_t back = pt.link.send_up(now_ticks(delay), cpld_wire_bytes(addr, len), len);
        delay = to_sc_time(back + m_p.mmio_latency) - sc_core::sc_time_stamp();
        if (!t.is_response_ok()) {
            m_stats.master_aborts.inc();
            fill_all_ones(t);
        }
    }
    if (!ext) t.clear_extension(&local);
    t.set_response_status(tlm::TLM_OK_RESPONSE);
}

void root_complex::upstream_b_transport(int p, tlm::tlm_generic_payload& t,
                                        sc_core::sc_time& delay) {
    port& pt = m_ports.at(p);
    const std::uint64_t addr = t.get_address();
    const auto len = static_cast<std::uint32_t>(t.get_data_length());
    const bool write = t.is_write();

    const std::uint32_t mps = programmed_mps(pt.config);
    const bool malformed =
        len == 0 || crosses_4k(addr, len) || (write ? len > mps : len > max_tlp_payload);

    // The request TLP crosses the link upward, a malformed one too (the receiver checks it).
    const std::uint32_t req_bytes =
        !malformed ? (write ? mwr_wire_bytes(addr, len) : mrd_wire_bytes(addr, len))
                   : tlp_framing_bytes + request_header_bytes(addr) +
                         (write && len != 0 ? dw_bytes * dw_count(addr, len) : 0);
    tick_t at = pt.link.send_up(now_ticks(delay), req_bytes, write ? len : 0);
    if (malformed || !pt.config.bus_master_enabled()) {
        (malformed ? m_stats.malformed_tlps : m_stats.bus_master_blocked).inc();
        core::log("pcie", core::log_level::info,
                  "{}: port {} rejects a {} of {} B at {:#x} from {}: {}", name(), p,
                  write ? "write" : "read", len, addr, requester_of(t),
                  malformed ? "malformed TLP" : "Bus Master Enable is clear");
        if (malformed) {
            // Dropped with no completion (§2.3.2): the requester learns of it only through its
            // completion timeout, which is not modelled; it sees the error when the TLP arrives.
            record_malformed(pt.config);
            t.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
        } else {
            t.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
            if (!write) at = pt.link.send_down(at, cpl_wire_bytes());  // UR completion
        }
        delay = to_sc_time(at) - sc_core::sc_time_stamp();
        return;
    }

    if (write && m_map.interrupt.contains(addr, len)) {
        m_stats.interrupt_messages.inc();
        // Posted: the device is done once the message has crossed the link. It travels the
        // root complex like any upstream write and never passes an earlier one from the port
        // (§2.4.1): it reaches the interrupt controller no earlier than the port's data lands.
        sc_core::sc_time irq_delay =
            to_sc_time(std::max(at + m_p.upstream_latency, pt.posted_landed)) -
            sc_core::sc_time_stamp();
        irq_socket->b_transport(t, irq_delay);
        delay = to_sc_time(at) - sc_core::sc_time_stamp();
        return;
    }

    // Root port to memory controller; a read waits for this port's earlier posted writes.
    tick_t issue = at + m_p.upstream_latency;
    if (!write) issue = std::max(issue, pt.posted_landed);
    sc_core::sc_time mem_delay = to_sc_time(issue) - sc_core::sc_time_stamp();
    dma_socket->b_transport(t, mem_delay);
    const tick_t done = now_ticks(mem_delay);

    if (write) {
        m_stats.dma_writes.inc();
        m_stats.dma_write_bytes.inc(len);
        pt.posted_landed = std::max(pt.posted_landed, done);
        if (!t.is_response_ok()) {  // dropped; the device can't know
            m_stats.completer_aborts.inc();
            core::log("pcie", core::log_level::info,
                      "{}: write of {} B at {:#x} from {} dropped: {}", name(), len, addr,
                      requester_of(t), t.get_response_string());
        }
        // A posted write costs the requester only its trip across the link.
        delay = to_sc_time(at) - sc_core::sc_time_stamp();
        return;
    }

    m_stats.dma_reads.inc();
    m_stats.dma_read_bytes.inc(len);
    const tick_t data_at_port = done + m_p.completion_latency;
    tick_t back;
    if (t.is_response_ok()) {
        // Completions of up to the programmed MPS, split at the root complex's RCB.
        back = data_at_port;
        for (const chunk& c : split_completions(addr, len, mps, pt.link.params().rcb,
                                                pt.link.params().rcb_completions)) {
            back = std::max(back,
                            pt.link.send_down(data_at_port, cpld_wire_bytes(c.addr, c.len), c.len));
        }
    } else {
        m_stats.completer_aborts.inc();
        core::log("pcie", core::log_level::info, "{}: read of {} B at {:#x} from {} aborted: {}",
                  name(), len, addr, requester_of(t), t.get_response_string());
        back = pt.link.send_down(data_at_port, cpl_wire_bytes());  // Completer Abort, no data
    }
    delay = to_sc_time(back) - sc_core::sc_time_stamp();
}

void root_complex::register_stats(core::stats_registry& reg, const std::string& prefix) const {
    const auto add = [&](const char* name, const core::counter& c, const char* unit,
                         const char* desc) { reg.add_counter(prefix + "." + name, unit, desc, c); };
    add("cpu.config_reads", m_stats.cpu_config_reads, "accesses", "ECAM reads from the CPU");
    add("cpu.config_writes", m_stats.cpu_config_writes, "accesses", "ECAM writes from the CPU");
    add("cpu.mmio_reads", m_stats.cpu_mmio_reads, "accesses", "MMIO reads from the CPU to devices");
    add("cpu.mmio_writes", m_stats.cpu_mmio_writes, "accesses",
        "MMIO writes from the CPU to devices");
    add("cpu.iommu_accesses", m_stats.cpu_iommu_accesses, "accesses",
        "CPU accesses to the IOMMU's register page");
    add("cpu.master_aborts", m_stats.master_aborts, "accesses",
        "CPU accesses no function claimed (reads return all ones, writes are dropped)");
    add("dma.reads", m_stats.dma_reads, "TLPs", "memory read requests from devices");
    add("dma.writes", m_stats.dma_writes, "TLPs", "memory write requests from devices");
    add("dma.read_bytes", m_stats.dma_read_bytes, "bytes", "bytes read by devices");
    add("dma.write_bytes", m_stats.dma_write_bytes, "bytes", "bytes written by devices");
    add("dma.interrupt_messages", m_stats.interrupt_messages, "messages",
        "device writes to the interrupt window (MSI/MSI-X)");
    add("dma.malformed_tlps", m_stats.malformed_tlps, "TLPs",
        "device requests breaking the MPS, read size or 4 KiB rules (rejected)");
    add("dma.bus_master_blocked", m_stats.bus_master_blocked, "TLPs",
        "device requests rejected because the root port's Bus Master Enable is clear");
    add("dma.completer_aborts", m_stats.completer_aborts, "TLPs",
        "device requests that failed beyond the root port (translation fault, no memory)");
    for (unsigned i = 0; i < m_ports.size(); ++i) {
        const link& l = m_ports[i].link;
        const std::string base = prefix + ".port" + std::to_string(i);
        for (int d = 0; d < 2; ++d) {
            const link_direction& dir = d == 0 ? l.downstream() : l.upstream();
            const std::string n = base + (d == 0 ? ".down" : ".up");
            reg.add_formula(n + ".tlps", "TLPs", "TLPs sent in this direction",
                            [&dir] { return static_cast<double>(dir.stats().tlps); });
            reg.add_formula(n + ".dllps", "DLLPs", "ACK and UpdateFC DLLPs sent in this direction",
                            [&dir] { return static_cast<double>(dir.stats().dllps); });
            reg.add_formula(n + ".wire_bytes", "bytes", "TLP and DLLP bytes on the wire",
                            [&dir] { return static_cast<double>(dir.stats().wire_bytes); });
            reg.add_formula(n + ".payload_bytes", "bytes", "data bytes carried by TLPs",
                            [&dir] { return static_cast<double>(dir.stats().payload_bytes); });
            reg.add_formula(n + ".busy_ns", "ns", "time the direction was transmitting",
                            [&dir] { return ticks_to_ns(dir.stats().busy_ticks); });
        }
    }
}

}  // namespace iovsim::pcie
