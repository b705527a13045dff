#include "models/pcie/enumeration.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace iovsim::pcie {

namespace {

// Type-0/1 header offsets (PCI Local Bus Specification 3.0, §6.1; PCI-to-PCI Bridge spec 1.2).
constexpr std::uint16_t vendor_id_reg = 0x00;
constexpr std::uint16_t command_reg = 0x04;
constexpr std::uint16_t status_reg = 0x06;
constexpr std::uint16_t class_rev_reg = 0x08;
constexpr std::uint16_t header_type_reg = 0x0e;
constexpr std::uint16_t bar0_reg = 0x10;
constexpr std::uint16_t primary_bus_reg = 0x18;
constexpr std::uint16_t memory_base_reg = 0x20;
constexpr std::uint16_t pref_base_reg = 0x24;
constexpr std::uint16_t pref_base_upper_reg = 0x28;
constexpr std::uint16_t pref_limit_upper_reg = 0x2c;
constexpr std::uint16_t cap_ptr_reg = 0x34;

constexpr std::uint16_t command_memory = 1u << 1;
constexpr std::uint16_t command_bus_master = 1u << 2;
constexpr std::uint16_t status_cap_list = 1u << 4;

constexpr std::uint8_t cap_id_pcie = 0x10;
constexpr std::uint8_t cap_id_msix = 0x11;
constexpr std::uint64_t bridge_granularity = 1ull << 20;

std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) & ~(a - 1); }

// Max_Payload_Size / Max_Read_Request_Size encoding: 128 << n bytes.
std::uint32_t size_code(std::uint32_t bytes) {
    std::uint32_t code = 0;
    while ((128u << code) < bytes && code < 5) ++code;
    return code;
}

}  // namespace

std::uint16_t enumerator::find_capability(config_access& cfg, routing_id fn, std::uint8_t id) {
    if (!(cfg.config_read(fn, status_reg, 2) & status_cap_list)) return 0;
    std::uint16_t ptr = cfg.config_read(fn, cap_ptr_reg, 1) & 0xfc;
    for (int guard = 0; ptr != 0 && guard < 48; ++guard) {
        if ((cfg.config_read(fn, ptr, 1) & 0xff) == id) return ptr;
        ptr = cfg.config_read(fn, ptr + 1, 1) & 0xfc;
    }
    return 0;
}

std::uint16_t enumerator::find_ext_capability(config_access& cfg, routing_id fn, std::uint16_t id) {
    std::uint16_t ptr = 0x100;
    for (int guard = 0; ptr >= 0x100 && guard < 960; ++guard) {
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
    scan_bus(0);
    return m_found;
}

void enumerator::scan_bus(std::uint8_t bus) {
    for (std::uint8_t dev = 0; dev < 32; ++dev) {
        const routing_id fn0{bus, dev, 0};
        if ((m_cfg.config_read(fn0, vendor_id_reg, 2) & 0xffff) == 0xffff) continue;
        const std::uint8_t ht0 = m_cfg.config_read(fn0, header_type_reg, 1) & 0xff;
        const int functions = (ht0 & 0x80) ? 8 : 1;
        for (std::uint8_t f = 0; f < functions; ++f) {
            const routing_id id{bus, dev, f};
            if ((m_cfg.config_read(id, vendor_id_reg, 2) & 0xffff) == 0xffff) continue;
            configure_function(id, m_cfg.config_read(id, header_type_reg, 1) & 0x7f);
        }
    }
}

void enumerator::configure_function(routing_id id, std::uint8_t header_type) {
    enumerated_function f;
    f.id = id;
    const std::uint32_t ids = m_cfg.config_read(id, vendor_id_reg, 4);
    f.vendor_id = ids & 0xffff;
    f.device_id = ids >> 16;
    f.class_code = m_cfg.config_read(id, class_rev_reg, 4) >> 8;
    f.is_bridge = header_type == 1;

    // Decoding off while BARs are sized, as Linux's pci_read_bases() does.
    const std::uint32_t cmd = m_cfg.config_read(id, command_reg, 2);
    m_cfg.config_write(id, command_reg, 2, cmd & ~(command_memory | command_bus_master));
    size_and_place_bars(id, f.is_bridge ? 2 : 6, f);

    if (!f.is_bridge) {
        program_pcie(id);
        enable(id, f);
        m_found.push_back(std::move(f));
        return;
    }

    const std::size_t slot = m_found.size();
    m_found.push_back(f);
    const std::uint8_t secondary = ++m_last_bus;
    // Primary, secondary, subordinate (0xff while the buses below are scanned).
    m_cfg.config_write(id, primary_bus_reg, 4,
                       (m_cfg.config_read(id, primary_bus_reg, 4) & 0xff000000u) | (0xffu << 16) |
                           (static_cast<std::uint32_t>(secondary) << 8) | id.bus);
    m_p.mmio32.next = align_up(m_p.mmio32.next, bridge_granularity);
    m_p.mmio64.next = align_up(m_p.mmio64.next, bridge_granularity);
    const std::uint64_t mem_base = m_p.mmio32.next;
    const std::uint64_t pref_base = m_p.mmio64.next;

    scan_bus(secondary);

    const std::uint8_t subordinate = m_last_bus;
    m_cfg.config_write(id, primary_bus_reg + 2, 1, subordinate);
    m_p.mmio32.next = align_up(m_p.mmio32.next, bridge_granularity);
    m_p.mmio64.next = align_up(m_p.mmio64.next, bridge_granularity);

    // Memory Base/Limit hold address bits 31:20 in their bits 15:4; base > limit disables.
    if (m_p.mmio32.next > mem_base) {
        const std::uint32_t base = (mem_base >> 16) & 0xfff0;
        const std::uint32_t limit = ((m_p.mmio32.next - 1) >> 16) & 0xfff0;
        m_cfg.config_write(id, memory_base_reg, 4, limit << 16 | base);
    } else {
        m_cfg.config_write(id, memory_base_reg, 4, 0x0000fff0);
    }
    if (m_p.mmio64.next > pref_base) {
        const std::uint64_t end = m_p.mmio64.next - 1;
        m_cfg.config_write(id, pref_base_reg, 4,
                           static_cast<std::uint32_t>(((end >> 16) & 0xfff0) << 16 |
                                                      ((pref_base >> 16) & 0xfff0)));
        m_cfg.config_write(id, pref_base_upper_reg, 4, static_cast<std::uint32_t>(pref_base >> 32));
        m_cfg.config_write(id, pref_limit_upper_reg, 4, static_cast<std::uint32_t>(end >> 32));
    } else {
        m_cfg.config_write(id, pref_base_reg, 4, 0x0000fff0);
        m_cfg.config_write(id, pref_base_upper_reg, 4, 0);
        m_cfg.config_write(id, pref_limit_upper_reg, 4, 0);
    }

    m_found[slot].secondary_bus = secondary;
    m_found[slot].subordinate_bus = subordinate;
    program_pcie(id);
    enable(id, m_found[slot]);
}

void enumerator::size_and_place_bars(routing_id id, int bar_count, enumerated_function& f) {
    for (int i = 0; i < bar_count; ++i) {
        const std::uint16_t reg = bar0_reg + 4 * i;
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
        if (bar.address + bar.size - 1 > win.limit) {
            throw std::runtime_error(
                fmt::format("enumeration: BAR{} of {} ({} bytes) does not fit in the MMIO window "
                            "{:#x}-{:#x}",
                            i, to_string(id), bar.size, win.base, win.limit));
        }
        win.next = bar.address + bar.size;
        m_cfg.config_write(id, reg, 4, static_cast<std::uint32_t>(bar.address));
        if (is64) m_cfg.config_write(id, reg + 4, 4, static_cast<std::uint32_t>(bar.address >> 32));
        f.bars.push_back(bar);
        if (is64) ++i;
    }
}

void enumerator::program_pcie(routing_id id) {
    const std::uint16_t cap = find_capability(m_cfg, id, cap_id_pcie);
    if (cap == 0) return;
    // Device Capabilities bits 2:0: largest MPS the function supports.
    const std::uint32_t mps_supported = 128u << (m_cfg.config_read(id, cap + 0x04, 4) & 7);
    const std::uint32_t mps = std::min(m_p.mps, mps_supported);
    std::uint32_t ctl = m_cfg.config_read(id, cap + 0x08, 2);
    ctl = (ctl & ~(7u << 5) & ~(7u << 12)) | size_code(mps) << 5 | size_code(m_p.mrrs) << 12;
    m_cfg.config_write(id, cap + 0x08, 2, ctl);
}

void enumerator::enable(routing_id id, const enumerated_function& f) {
    std::uint32_t cmd = m_cfg.config_read(id, command_reg, 2);
    if (!f.bars.empty() || f.is_bridge) cmd |= command_memory;
    if (m_p.enable_bus_master) cmd |= command_bus_master;
    m_cfg.config_write(id, command_reg, 2, cmd);
    if (!m_p.enable_msix) return;
    if (const std::uint16_t cap = find_capability(m_cfg, id, cap_id_msix)) {
        // Message Control bit 15: MSI-X Enable; bit 14 (Function Mask) cleared.
        const std::uint32_t mc = m_cfg.config_read(id, cap + 2, 2);
        m_cfg.config_write(id, cap + 2, 2, (mc | 0x8000) & ~0x4000u);
    }
}

}  // namespace iovsim::pcie
