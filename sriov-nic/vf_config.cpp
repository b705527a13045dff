#include "sriov-nic/vf_config.h"

#include <fmt/format.h>

#include <stdexcept>

#include "models/pcie/capabilities.h"

namespace iovsim::nic {

namespace {

pcie::function_identity vf_identity(const pcie::config_space& pf) {
    pcie::function_identity id;
    id.vendor_id = 0xffff;
    id.device_id = 0xffff;
    id.revision_id = static_cast<std::uint8_t>(pf.peek(pcie::cfg::revision_id, 1));
    id.class_code = pf.peek(pcie::cfg::class_code, 1) | pf.peek(pcie::cfg::class_code + 1, 2) << 8;
    id.subsystem_vendor_id = static_cast<std::uint16_t>(pf.peek(pcie::cfg::subsystem_vendor_id, 2));
    id.subsystem_id = static_cast<std::uint16_t>(pf.peek(pcie::cfg::subsystem_id, 2));
    return id;
}

// The MSI-X capability of a VF: like pcie::add_msix, but the table and PBA live in VF BARs,
// which the VF's own BAR registers do not describe.
void add_vf_msix(pcie::config_space& cs, const sriov_capability& sriov, const vf_params& p) {
    if (p.msix_vectors < 1 || p.msix_vectors > 2048) {
        throw std::invalid_argument(
            fmt::format("VF MSI-X: {} vectors is not 1..2048", p.msix_vectors));
    }
    const auto check = [&](const char* what, std::uint8_t bir, std::uint32_t offset,
                           std::uint64_t bytes) {
        if (bir > 5 || sriov.vf_bar_size(bir) == 0) {
            throw std::invalid_argument(
                fmt::format("VF MSI-X: {} BIR {} names no VF BAR", what, unsigned{bir}));
        }
        if (offset % 8 != 0 || offset + bytes > sriov.vf_bar_size(bir)) {
            throw std::invalid_argument(fmt::format(
                "VF MSI-X: {} at 0x{:x} ({} bytes) is not 8-byte aligned inside VF BAR {} of {} "
                "bytes",
                what, offset, bytes, unsigned{bir}, sriov.vf_bar_size(bir)));
        }
    };
    check("table", p.msix_table_bir, p.msix_table_offset,
          std::uint64_t{p.msix_vectors} * pcie::msix_reg::table_entry_bytes);
    check("PBA", p.msix_pba_bir, p.msix_pba_offset, (p.msix_vectors + 63u) / 64u * 8u);
    const std::uint16_t at = cs.add_capability(pcie::cap_id::msix, pcie::msix_reg::size);
    cs.define_register(at + pcie::msix_reg::message_control, 2, p.msix_vectors - 1u,
                       pcie::msix_reg::enable | pcie::msix_reg::function_mask);
    cs.define_register(at + pcie::msix_reg::table_offset_bir, 4,
                       p.msix_table_offset | p.msix_table_bir, 0);
    cs.define_register(at + pcie::msix_reg::pba_offset_bir, 4, p.msix_pba_offset | p.msix_pba_bir,
                       0);
}

}  // namespace

vf_config::vf_config(const pcie::config_space& pf, const sriov_capability& sriov, unsigned index,
                     const vf_params& p)
    : m_sriov(sriov), m_index(index), m_cs(pcie::header_layout::type0, vf_identity(pf)) {
    // Command: Memory Space Enable, I/O Space and Interrupt Disable are RO 0 on a VF (§9.3.4.1.3).
    m_cs.define_register(pcie::cfg::command, 2, 0,
                         pcie::cfg::command_bus_master | pcie::cfg::command_parity_error_response |
                             pcie::cfg::command_serr_enable);
    m_cs.define_register(pcie::cfg::interrupt_line, 1, 0, 0);  // no INTx
    add_vf_msix(m_cs, sriov, p);
    pcie::pcie_cap_params pc;
    pc.type = pcie::pcie_port_type::endpoint;
    pc.max_payload_supported = p.max_payload_supported;
    pc.max_link_speed = p.link_speed;
    pc.max_link_width = p.link_width;
    pc.flr = true;
    pcie::add_pcie(m_cs, pc);
    pcie::add_ari(m_cs, 0);
    add_ats(m_cs, p.ats, true);
}

std::optional<std::pair<int, std::uint64_t>> vf_config::decode(std::uint64_t addr,
                                                               std::uint32_t len) const {
    if (!memory_space_enabled()) return std::nullopt;
    const std::uint64_t n = len == 0 ? 1 : len;
    for (int i = 0; i < 6; ++i) {
        const std::uint64_t size = m_sriov.vf_bar_size(i);
        const std::uint64_t base = m_sriov.vf_bar_address(i, m_index);
        if (size == 0 || base == 0) continue;
        if (addr >= base && addr - base < size && n <= size - (addr - base)) {
            return std::make_pair(i, addr - base);
        }
    }
    return std::nullopt;
}

}  // namespace iovsim::nic
