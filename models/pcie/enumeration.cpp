#include "models/pcie/enumeration.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "models/pcie/capabilities.h"
#include "models/pcie/config_space.h"

namespace iovsim::pcie {

namespace {

constexpr std::uint64_t bridge_granularity = 1ull << 20;

// SR-IOV extended capability registers (PCIe Base Spec §9.3.3).
constexpr std::uint16_t sriov_control = 0x08;
constexpr std::uint16_t sriov_total_vfs = 0x0e;
constexpr std::uint16_t sriov_num_vfs = 0x10;
constexpr std::uint16_t sriov_first_vf_offset = 0x14;
constexpr std::uint16_t sriov_vf_stride = 0x16;
constexpr std::uint16_t sriov_vf_bar0 = 0x24;
constexpr std::uint16_t sriov_ari_capable_hierarchy = 1u << 4;

// Device Control bit 8 and Device Capabilities bit 5: Extended Tag Field.
constexpr std::uint32_t devctl_extended_tag = 1u << 8;
constexpr std::uint32_t devcap_extended_tag = 1u << 5;
// Device Capabilities 2 / Device Control 2 bit 5: ARI Forwarding Supported / Enable.
constexpr std::uint32_t ari_forwarding = 1u << 5;

std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) & ~(a - 1); }

}  // namespace

std::uint16_t enumerator::find_capability(config_access& cfg, routing_id fn, std::uint8_t id) {
    if (!(cfg.config_read(fn, cfg::status, 2) & cfg::status_capabilities_list)) return 0;
    std::uint16_t ptr = cfg.config_read(fn, cfg::capabilities_pointer, 1) & 0xfc;
    for (int guard = 0; ptr != 0 && guard < 48; ++guard) {
        if ((cfg.config_read(fn, ptr, 1) & 0xff) == id) return ptr;
        ptr = cfg.config_read(fn, ptr + 1, 1) & 0xfc;
    }
    return 0;
}

std::uint16_t enumerator::find_ext_capability(config_access& cfg, routing_id fn, std::uint16_t id) {
    std::uint16_t ptr = cfg::first_extended_capability;
    for (int guard = 0; ptr >= cfg::first_extended_capability && guard < 960; ++guard) {
        const std::uint32_t header = cfg.config_read(fn, ptr, 4);
        if (header == 0 || header == 0xffffffff) return 0;
        if ((header & 0xffff) == id) return ptr;
        ptr = (header >> 20) & 0xffc;
    }
    return 0;
}

std::vector<enumerated_function> enumerator::run() {
    m_found.clear();
    m_last_bus = 0;
    // A cursor left below its window (the default 0) starts at the window's base.
    for (address_window* w : {&m_p.mmio32, &m_p.mmio64}) w->next = std::max(w->next, w->base);
    scan_bus(0, nullptr);
    // Functions on bus 0 (root ports, the host bridge) that no subtree programmed.
    for (enumerated_function& f : m_found) {
        if (f.mps == 0 && find_capability(m_cfg, f.id, cap_id::pci_express)) {
            f.mps = std::min(m_p.mps, mps_supported(f.id));
            program_pcie(f.id, f.mps);
        }
    }
    return m_found;
}

void enumerator::scan_bus(std::uint8_t bus, const routing_id* bridge) {
    // Below a PCI Express root or downstream port only device 0 can exist (Linux's
    // only_one_child()); with ARI its functions follow the ARI Next Function Number chain.
    bool one_child = false;
    if (bridge) {
        if (const std::uint16_t cap = find_capability(m_cfg, *bridge, cap_id::pci_express)) {
            const unsigned type =
                m_cfg.config_read(*bridge, cap + pcie_reg::capabilities, 2) >> 4 & 0xf;
            one_child = type == static_cast<unsigned>(pcie_port_type::root_port) ||
                        type == static_cast<unsigned>(pcie_port_type::downstream_switch_port);
        }
    }
    for (std::uint8_t dev = 0; dev < (one_child ? 1 : 32); ++dev) {
        const routing_id fn0{bus, dev, 0};
        if ((m_cfg.config_read(fn0, cfg::vendor_id, 2) & 0xffff) == 0xffff) continue;
        if (dev == 0 && enable_ari(fn0, bridge)) {
            // ARI: function numbers 0..255 share the device field; walk the chain.
            unsigned fn = 0;
            for (int guard = 0; guard < 256; ++guard) {
                const routing_id id{bus, static_cast<std::uint8_t>(fn >> 3),
                                    static_cast<std::uint8_t>(fn & 7)};
                if ((m_cfg.config_read(id, cfg::vendor_id, 2) & 0xffff) != 0xffff)
                    configure_function(id, m_cfg.config_read(id, cfg::header_type, 1) & 0x7f,
                                       bridge);
                const std::uint16_t ari = find_ext_capability(m_cfg, id, ext_cap_id::ari);
                const unsigned next =
                    ari ? m_cfg.config_read(id, ari + ari_reg::capability, 2) >> 8 & 0xff : 0;
                if (next <= fn) break;
                fn = next;
            }
            return;
        }
        const std::uint8_t ht0 = m_cfg.config_read(fn0, cfg::header_type, 1) & 0xff;
        const int functions = (ht0 & 0x80) ? 8 : 1;
        for (std::uint8_t f = 0; f < functions; ++f) {
            const routing_id id{bus, dev, f};
            if ((m_cfg.config_read(id, cfg::vendor_id, 2) & 0xffff) == 0xffff) continue;
            configure_function(id, m_cfg.config_read(id, cfg::header_type, 1) & 0x7f, bridge);
        }
    }
}

// Linux's pci_configure_ari(): a device with ARI below a port that can forward it gets ARI
// Forwarding Enable on the port. Returns whether ARI is on for the device's bus.
bool enumerator::enable_ari(routing_id fn, const routing_id* bridge) {
    if (!bridge || !find_ext_capability(m_cfg, fn, ext_cap_id::ari)) return false;
    const std::uint16_t cap = find_capability(m_cfg, *bridge, cap_id::pci_express);
    if (!cap ||
        !(m_cfg.config_read(*bridge, cap + pcie_reg::device_capabilities_2, 4) & ari_forwarding))
        return false;
    const std::uint32_t ctl2 = m_cfg.config_read(*bridge, cap + pcie_reg::device_control_2, 2);
    m_cfg.config_write(*bridge, cap + pcie_reg::device_control_2, 2, ctl2 | ari_forwarding);
    return true;
}

void enumerator::configure_function(routing_id id, std::uint8_t header_type,
                                    const routing_id* bridge) {
    enumerated_function f;
    f.id = id;
    const std::uint32_t ids = m_cfg.config_read(id, cfg::vendor_id, 4);
    f.vendor_id = ids & 0xffff;
    f.device_id = ids >> 16;
    f.class_code = m_cfg.config_read(id, cfg::revision_id, 4) >> 8;
    f.is_bridge = header_type == 1;

    // Decoding off while BARs are sized, as Linux's pci_read_bases() does.
    const std::uint32_t cmd = m_cfg.config_read(id, cfg::command, 2);
    m_cfg.config_write(id, cfg::command, 2,
                       cmd & ~std::uint32_t{cfg::command_memory_space | cfg::command_bus_master});
    size_and_place_bars(id, cfg::bar0, f.is_bridge ? 2 : 6, 1, f.bars);

    if (!f.is_bridge) {
        if (const std::uint16_t sriov = find_ext_capability(m_cfg, id, ext_cap_id::sriov))
            configure_sriov(id, f, sriov, bridge);
        if (!bridge) {  // on bus 0: nobody else sets its payload size
            f.mps = std::min(m_p.mps, mps_supported(id));
            program_pcie(id, f.mps);
        }
        enable(id, f);
        m_found.push_back(std::move(f));
        return;
    }

    const std::size_t slot = m_found.size();
    m_found.push_back(f);
    const std::uint8_t secondary = ++m_last_bus;
    // Primary, secondary, subordinate (0xff while the buses below are scanned).
    m_cfg.config_write(id, cfg::primary_bus_number, 4,
                       (m_cfg.config_read(id, cfg::primary_bus_number, 4) & 0xff000000u) |
                           (0xffu << 16) | (static_cast<std::uint32_t>(secondary) << 8) | id.bus);
    m_p.mmio32.next = align_up(m_p.mmio32.next, bridge_granularity);
    m_p.mmio64.next = align_up(m_p.mmio64.next, bridge_granularity);
    const std::uint64_t mem_base = m_p.mmio32.next;
    const std::uint64_t pref_base = m_p.mmio64.next;

    scan_bus(secondary, &id);

    const std::uint8_t subordinate = m_last_bus;
    m_cfg.config_write(id, cfg::subordinate_bus_number, 1, subordinate);
    m_p.mmio32.next = align_up(m_p.mmio32.next, bridge_granularity);
    m_p.mmio64.next = align_up(m_p.mmio64.next, bridge_granularity);

    // Memory Base/Limit hold address bits 31:20 in their bits 15:4; base > limit disables.
    if (m_p.mmio32.next > mem_base) {
        const std::uint32_t base = (mem_base >> 16) & 0xfff0;
        const std::uint32_t limit = ((m_p.mmio32.next - 1) >> 16) & 0xfff0;
        m_cfg.config_write(id, cfg::memory_base, 4, limit << 16 | base);
    } else {
        m_cfg.config_write(id, cfg::memory_base, 4, 0x0000fff0);
    }
    if (m_p.mmio64.next > pref_base) {
        const std::uint64_t end = m_p.mmio64.next - 1;
        m_cfg.config_write(id, cfg::prefetchable_memory_base, 4,
                           static_cast<std::uint32_t>(((end >> 16) & 0xfff0) << 16 |
                                                      ((pref_base >> 16) & 0xfff0)));
        m_cfg.config_write(id, cfg::prefetchable_base_upper, 4,
                           static_cast<std::uint32_t>(pref_base >> 32));
        m_cfg.config_write(id, cfg::prefetchable_limit_upper, 4,
                           static_cast<std::uint32_t>(end >> 32));
    } else {
        m_cfg.config_write(id, cfg::prefetchable_memory_base, 4, 0x0000fff0);
        m_cfg.config_write(id, cfg::prefetchable_base_upper, 4, 0);
        m_cfg.config_write(id, cfg::prefetchable_limit_upper, 4, 0);
    }

    // One Max_Payload_Size for the bridge and everything below it: the smallest supported.
    std::uint32_t mps = std::min(m_p.mps, mps_supported(id));
    for (std::size_t i = slot + 1; i < m_found.size(); ++i)
        if (find_capability(m_cfg, m_found[i].id, cap_id::pci_express))
            mps = std::min(mps, mps_supported(m_found[i].id));
    for (std::size_t i = slot; i < m_found.size(); ++i) {
        if (!find_capability(m_cfg, m_found[i].id, cap_id::pci_express)) continue;
        m_found[i].mps = mps;
        program_pcie(m_found[i].id, mps);
    }

    m_found[slot].secondary_bus = secondary;
    m_found[slot].subordinate_bus = subordinate;
    enable(id, m_found[slot]);
}

// Sizes BARs `bar_count` dwords from `first_reg` with the all-ones write and places each in its
// window; `multiple` copies of each (VF BARs: one per VF) are reserved back to back.
void enumerator::size_and_place_bars(routing_id id, std::uint16_t first_reg, int bar_count,
                                     std::uint64_t multiple, std::vector<enumerated_bar>& out) {
    for (int i = 0; i < bar_count; ++i) {
        const std::uint16_t reg = first_reg + 4 * i;
        const std::uint32_t orig = m_cfg.config_read(id, reg, 4);
        if (orig & 1) continue;  // I/O space: never assigned here
        const bool is64 = ((orig >> 1) & 3) == 2 && i + 1 < bar_count;
        m_cfg.config_write(id, reg, 4, 0xffffffff);
        const std::uint32_t lo = m_cfg.config_read(id, reg, 4);
        std::uint32_t hi = 0xffffffff;
        if (is64) {
            m_cfg.config_write(id, reg + 4, 4, 0xffffffff);
            hi = m_cfg.config_read(id, reg + 4, 4);
        }
        const std::uint64_t mask = static_cast<std::uint64_t>(hi) << 32 | (lo & ~0xfu);
        if ((lo & ~0xfu) == 0 && (!is64 || hi == 0)) {
            m_cfg.config_write(id, reg, 4, orig);  // not implemented
            continue;
        }
        enumerated_bar bar;
        bar.index = i;
        bar.size = ~mask + 1;
        bar.is_64bit = is64;
        bar.prefetchable = (lo >> 3) & 1;
        address_window& win = (bar.is_64bit && bar.prefetchable) ? m_p.mmio64 : m_p.mmio32;
        bar.address = align_up(win.next, bar.size);
        const std::uint64_t span = bar.size * multiple;
        if (bar.address + span - 1 > win.limit || bar.address + span < bar.address) {
            throw std::runtime_error(
                fmt::format("enumeration: BAR{} of {} ({} bytes{}) does not fit in the MMIO window "
                            "{:#x}-{:#x}",
                            i, to_string(id), bar.size,
                            multiple > 1 ? fmt::format(" × {} VFs", multiple) : std::string(),
                            win.base, win.limit));
        }
        win.next = bar.address + span;
        m_cfg.config_write(id, reg, 4, static_cast<std::uint32_t>(bar.address));
        if (is64) m_cfg.config_write(id, reg + 4, 4, static_cast<std::uint32_t>(bar.address >> 32));
        out.push_back(bar);
        if (is64) ++i;
    }
}

// Linux's sriov_init(): ARI Capable Hierarchy when the port forwards ARI, the bus numbers the
// device's TotalVFs would occupy, and the VF BARs sized and placed for TotalVFs.
void enumerator::configure_sriov(routing_id id, enumerated_function& f, std::uint16_t cap,
                                 const routing_id* bridge) {
    // ARI is on for this device if the port above it enabled ARI Forwarding (enable_ari).
    bool ari = false;
    if (bridge && find_ext_capability(m_cfg, id, ext_cap_id::ari)) {
        const std::uint16_t pcie = find_capability(m_cfg, *bridge, cap_id::pci_express);
        ari = pcie &&
              (m_cfg.config_read(*bridge, pcie + pcie_reg::device_control_2, 2) & ari_forwarding);
    }
    if (id.function == 0) {  // ARI Capable Hierarchy is meaningful in the lowest PF only
        const std::uint32_t ctl = m_cfg.config_read(id, cap + sriov_control, 2);
        m_cfg.config_write(id, cap + sriov_control, 2,
                           ari ? (ctl | sriov_ari_capable_hierarchy)
                               : (ctl & ~std::uint32_t{sriov_ari_capable_hierarchy}));
    }
    f.sriov = true;
    f.vfs.total_vfs = m_cfg.config_read(id, cap + sriov_total_vfs, 2);
    // Offset and stride may depend on NumVFs: read them with NumVFs = TotalVFs, as Linux does.
    m_cfg.config_write(id, cap + sriov_num_vfs, 2, f.vfs.total_vfs);
    f.vfs.first_vf_offset = m_cfg.config_read(id, cap + sriov_first_vf_offset, 2);
    f.vfs.vf_stride = m_cfg.config_read(id, cap + sriov_vf_stride, 2);
    m_cfg.config_write(id, cap + sriov_num_vfs, 2, 0);
    if (f.vfs.total_vfs > 0) {
        const unsigned last =
            id.value() + f.vfs.first_vf_offset + unsigned{f.vfs.vf_stride} * (f.vfs.total_vfs - 1u);
        if (last > 0xffff) {
            throw std::runtime_error(
                fmt::format("enumeration: {}'s {} VFs would need routing IDs past bus 255",
                            to_string(id), f.vfs.total_vfs));
        }
        m_last_bus = std::max<std::uint8_t>(m_last_bus, static_cast<std::uint8_t>(last >> 8));
    }
    size_and_place_bars(id, cap + sriov_vf_bar0, 6, std::max<std::uint16_t>(1, f.vfs.total_vfs),
                        f.vfs.vf_bars);
}

std::uint32_t enumerator::mps_supported(routing_id id) {
    const std::uint16_t cap = find_capability(m_cfg, id, cap_id::pci_express);
    if (!cap) return 4096;
    return payload_size_bytes(m_cfg.config_read(id, cap + pcie_reg::device_capabilities, 4) & 7);
}

void enumerator::program_pcie(routing_id id, std::uint32_t mps) {
    const std::uint16_t cap = find_capability(m_cfg, id, cap_id::pci_express);
    if (cap == 0) return;
    const std::uint32_t devcap = m_cfg.config_read(id, cap + pcie_reg::device_capabilities, 4);
    std::uint32_t ctl = m_cfg.config_read(id, cap + pcie_reg::device_control, 2);
    ctl = (ctl & ~(7u << 5) & ~(7u << 12)) | std::uint32_t{payload_size_code(mps)} << 5 |
          std::uint32_t{payload_size_code(m_p.mrrs)} << 12;
    if (m_p.tags > 32 && (devcap & devcap_extended_tag))
        ctl |= devctl_extended_tag;
    else
        ctl &= ~devctl_extended_tag;
    m_cfg.config_write(id, cap + pcie_reg::device_control, 2, ctl);
}

void enumerator::enable(routing_id id, const enumerated_function& f) {
    std::uint32_t cmd = m_cfg.config_read(id, cfg::command, 2);
    if (!f.bars.empty() || f.is_bridge) cmd |= cfg::command_memory_space;
    if (m_p.enable_bus_master) cmd |= cfg::command_bus_master;
    m_cfg.config_write(id, cfg::command, 2, cmd);
    if (!m_p.enable_msix) return;
    if (const std::uint16_t cap = find_capability(m_cfg, id, cap_id::msix)) {
        const std::uint32_t mc = m_cfg.config_read(id, cap + msix_reg::message_control, 2);
        m_cfg.config_write(id, cap + msix_reg::message_control, 2,
                           (mc | msix_reg::enable) & ~std::uint32_t{msix_reg::function_mask});
    }
}

}  // namespace iovsim::pcie
