#include "platform/pf_driver.h"

#include <fmt/format.h>

#include <stdexcept>

#include "models/pcie/capabilities.h"
#include "models/pcie/config_space.h"
#include "sriov-nic/sriov_capability.h"

namespace iovsim::platform {

namespace {
constexpr std::uint32_t page_size_4k = 1;  // System Page Size bit 0: 4 KiB (§9.3.3.12)
}  // namespace

pf_driver::pf_driver(pcie::config_access& cfg, nic::nic& dev, const pcie::enumerated_function& pf,
                     std::uint16_t vlan)
    : m_cfg(cfg), m_dev(dev), m_pf(pf), m_vlan(vlan) {}

sriov_layout pf_driver::enable_vfs(unsigned n) {
    using namespace nic::sriov_reg;
    const pcie::routing_id pf = m_pf.id;
    const std::uint16_t cap =
        pcie::enumerator::find_ext_capability(m_cfg, pf, pcie::ext_cap_id::sriov);
    if (cap == 0)
        throw std::runtime_error(
            fmt::format("pf driver: {} has no SR-IOV capability", pcie::to_string(pf)));
    sriov_layout l;
    l.total_vfs = static_cast<std::uint16_t>(m_cfg.config_read(pf, cap + total_vfs, 2));
    if (n > l.total_vfs) {
        throw std::invalid_argument(
            fmt::format("nic.num_vfs ({}) must not exceed nic.total_vfs ({}, the PF's TotalVFs)", n,
                        l.total_vfs));
    }
    const std::uint32_t ctl = m_cfg.config_read(pf, cap + control, 2);
    m_cfg.config_write(pf, cap + control, 2,
                       ctl & ~std::uint32_t{vf_enable | vf_memory_space_enable});
    m_dev.set_mac(0, pf_mac(), m_vlan);
    if (n == 0) return l;
    m_cfg.config_write(pf, cap + system_page_size, 4, page_size_4k);
    m_cfg.config_write(pf, cap + num_vfs, 2, n);
    m_cfg.config_write(pf, cap + control, 2,
                       (ctl & ari_capable_hierarchy) | vf_enable | vf_memory_space_enable);
    l.num_vfs = static_cast<std::uint16_t>(m_cfg.config_read(pf, cap + num_vfs, 2));
    l.first_vf_offset = static_cast<std::uint16_t>(m_cfg.config_read(pf, cap + first_vf_offset, 2));
    l.vf_stride = static_cast<std::uint16_t>(m_cfg.config_read(pf, cap + vf_stride, 2));
    l.vf_device_id = static_cast<std::uint16_t>(m_cfg.config_read(pf, cap + vf_device_id, 2));
    for (unsigned i = 0; i < n; ++i) {
        const unsigned rid = unsigned{pf.value()} + l.first_vf_offset + i * unsigned{l.vf_stride};
        if (rid > 0xffff)
            throw std::runtime_error(fmt::format("pf driver: VF {} would lie past bus 255", i));
        sriov_vf vf;
        vf.index = i;
        vf.id = pcie::routing_id::from_value(static_cast<std::uint16_t>(rid));
        // A VF reads Vendor ID and Device ID as FFFFh (§9.3.4.1.1-2); its Class Code is the
        // PF's. An absent function reads all ones.
        const std::uint32_t ids = m_cfg.config_read(vf.id, pcie::cfg::vendor_id, 4);
        const std::uint32_t cls = m_cfg.config_read(vf.id, pcie::cfg::revision_id, 4) >> 8;
        if (ids != 0xffffffffu || cls != m_pf.class_code) {
            const std::string why = m_dev.functions().vf_enable_error();
            throw std::runtime_error(fmt::format(
                "pf driver: VF {} does not answer at {} (Vendor/Device ID {:08x}, Class Code "
                "{:06x}; expected ffffffff and the PF's {:06x}; the NIC has {} VFs{}{})",
                i, pcie::to_string(vf.id), ids, cls, m_pf.class_code, m_dev.functions().vf_count(),
                why.empty() ? "" : ": ", why));
        }
        for (const pcie::enumerated_bar& b : m_pf.vfs.vf_bars) {
            pcie::enumerated_bar mine = b;
            mine.address = b.address + i * b.size;
            vf.bars.push_back(mine);
        }
        vf.mac = vf_mac(i);
        m_dev.set_mac(i + 1, vf.mac, m_vlan);
        // The VF driver's probe: pci_set_master() on the VF (Memory Space is VF MSE's job).
        const std::uint32_t cmd = m_cfg.config_read(vf.id, pcie::cfg::command, 2);
        m_cfg.config_write(vf.id, pcie::cfg::command, 2, cmd | pcie::cfg::command_bus_master);
        l.vfs.push_back(std::move(vf));
    }
    return l;
}

}  // namespace iovsim::platform
