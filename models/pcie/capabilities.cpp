#include "models/pcie/capabilities.h"

#include <fmt/format.h>

#include <stdexcept>

namespace iovsim::pcie {

namespace {

// Device Control (PCIe Base §7.5.3.4).
constexpr std::uint16_t devctl_error_reporting = 0x000f;  // correctable, non-fatal, fatal, UR
constexpr std::uint16_t devctl_relaxed_ordering = 1u << 4;
constexpr unsigned devctl_mps_shift = 5;
constexpr std::uint16_t devctl_extended_tag = 1u << 8;
constexpr std::uint16_t devctl_no_snoop = 1u << 11;
constexpr unsigned devctl_mrrs_shift = 12;
constexpr std::uint16_t devctl_mps_mask = 7u << devctl_mps_shift;
constexpr std::uint16_t devctl_mrrs_mask = 7u << devctl_mrrs_shift;

// Link Status (§7.5.3.8).
constexpr std::uint16_t lnksta_slot_clock = 1u << 12;
constexpr std::uint16_t lnksta_dll_link_active = 1u << 13;
constexpr std::uint16_t lnksta_bandwidth_status = 0xc000;  // RW1C, downstream ports

// AER error bits (§7.8.4.2, §7.8.4.5).
constexpr std::uint32_t aer_uncorrectable_bits = 0x003ff030;  // DLP, SDES, Poisoned … ACSViol
constexpr std::uint32_t aer_uncorrectable_severity_reset = 0x00062030;  // DLP SDES FCP RxOF Malf
constexpr std::uint32_t aer_correctable_bits = 0x0000f1c1;  // RxErr BadTLP BadDLLP … HeaderOF
constexpr std::uint32_t aer_advisory_non_fatal = 1u << 13;

std::uint16_t require_cap(const config_space& cs, std::uint8_t id, const char* what) {
    const auto at = cs.find_capability(id);
    if (!at) {
        throw std::logic_error(
            fmt::format("{}: the function has no capability 0x{:02x}", what, unsigned{id}));
    }
    return *at;
}

void check_link(unsigned speed, unsigned width, const char* what) {
    if (speed < 1 || speed > 5) {
        throw std::invalid_argument(
            fmt::format("{}: link speed generation {} is not 1..5", what, speed));
    }
    switch (width) {
        case 1:
        case 2:
        case 4:
        case 8:
        case 12:
        case 16:
        case 32:
            return;
        default:
            throw std::invalid_argument(
                fmt::format("{}: link width x{} is not a PCIe width", what, width));
    }
}

}  // namespace

std::uint16_t add_power_management(config_space& cs) {
    const std::uint16_t at = cs.add_capability(cap_id::power_management, pm_reg::size);
    // PMC: Version 011b = PCI PM 1.2; no D1/D2, no PME.
    cs.define_register(at + pm_reg::pmc, 2, 0x0003, 0);
    // PMCSR: PowerState (1:0) read-write, No_Soft_Reset (bit 3) set.
    cs.define_register(at + pm_reg::pmcsr, 2, 0x0008, 0x0003);
    cs.define_register(at + 6, 2, 0, 0);  // PMCSR_BSE, Data
    return at;
}

std::uint16_t add_msix(config_space& cs, const msix_params& p) {
    if (p.vectors < 1 || p.vectors > 2048) {
        throw std::invalid_argument(fmt::format("add_msix: {} vectors is not 1..2048", p.vectors));
    }
    const auto check = [&](const char* what, std::uint8_t bir, std::uint32_t offset,
                           std::uint64_t bytes) {
        if (bir >= cs.bar_count() || cs.bar_size(bir) == 0) {
            throw std::invalid_argument(
                fmt::format("add_msix: {} BIR {} names no memory BAR", what, unsigned{bir}));
        }
        if (offset % 8 != 0) {
            throw std::invalid_argument(
                fmt::format("add_msix: {} offset 0x{:x} is not 8-byte aligned", what, offset));
        }
        if (offset + bytes > cs.bar_size(bir)) {
            throw std::invalid_argument(
                fmt::format("add_msix: {} (0x{:x} + {} bytes) does not fit BAR {} of {} bytes",
                            what, offset, bytes, unsigned{bir}, cs.bar_size(bir)));
        }
    };
    // A table entry is 16 bytes; the PBA is a bit a vector, in whole qwords (§7.7.2).
    check("table", p.table_bir, p.table_offset,
          std::uint64_t{p.vectors} * msix_reg::table_entry_bytes);
    check("PBA", p.pba_bir, p.pba_offset, (p.vectors + 63u) / 64u * 8u);

    const std::uint16_t at = cs.add_capability(cap_id::msix, msix_reg::size);
    // Message Control: Table Size (10:0) = N - 1 read-only; Function Mask and Enable writable.
    cs.define_register(at + msix_reg::message_control, 2, p.vectors - 1u,
                       msix_reg::enable | msix_reg::function_mask);
    cs.define_register(at + msix_reg::table_offset_bir, 4, p.table_offset | p.table_bir, 0);
    cs.define_register(at + msix_reg::pba_offset_bir, 4, p.pba_offset | p.pba_bir, 0);
    return at;
}

std::uint16_t add_pcie(config_space& cs, const pcie_cap_params& p) {
    check_link(p.max_link_speed, p.max_link_width, "add_pcie");
    const std::uint8_t mps_code = payload_size_code(p.max_payload_supported);
    const bool root_port = p.type == pcie_port_type::root_port;
    const bool downstream = root_port || p.type == pcie_port_type::downstream_switch_port;
    const bool type1 = cs.layout() == header_layout::type1;
    const bool bridge_type = root_port || p.type == pcie_port_type::upstream_switch_port ||
                             p.type == pcie_port_type::downstream_switch_port;
    if (type1 != bridge_type) {
        throw std::invalid_argument(
            fmt::format("add_pcie: device/port type {} does not match a type-{} header",
                        static_cast<unsigned>(p.type), static_cast<int>(cs.layout())));
    }

    const std::uint16_t at = cs.add_capability(cap_id::pci_express, pcie_reg::size);
    // PCI Express Capabilities: Capability Version 2, Device/Port Type; no slot.
    cs.define_register(at + pcie_reg::capabilities, 2, 0x2u | static_cast<unsigned>(p.type) << 4,
                       0);

    // Device Capabilities: Max_Payload_Size Supported, Extended Tag Field Supported (bit 5),
    // Role-Based Error Reporting (bit 15, required), FLR Capable (bit 28, endpoints).
    std::uint32_t devcap = mps_code | 1u << 5 | 1u << 15;
    if (p.flr && p.type == pcie_port_type::endpoint) devcap |= 1u << 28;
    cs.define_register(at + pcie_reg::device_capabilities, 4, devcap, 0);
    // Device Control: MPS resets to 128 bytes (000b) and MRRS to 512 bytes (010b) (§7.5.3.4);
    // Relaxed Ordering and No Snoop enabled at reset.
    cs.define_register(at + pcie_reg::device_control, 2,
                       devctl_relaxed_ordering | devctl_no_snoop | 2u << devctl_mrrs_shift,
                       devctl_error_reporting | devctl_relaxed_ordering | devctl_mps_mask |
                           devctl_extended_tag | devctl_no_snoop | devctl_mrrs_mask);
    // Device Status: the four error-detected bits are RW1C.
    cs.define_register(at + pcie_reg::device_status, 2, 0, 0, 0x000f);

    // Link Capabilities: speed, width, no ASPM, ASPM Optionality Compliance (bit 22); downstream
    // ports report Data Link Layer Link Active (bit 20) and Link Bandwidth Notification (21).
    std::uint32_t lnkcap =
        p.max_link_speed | p.max_link_width << 4 | 1u << 22 | std::uint32_t{p.port_number} << 24;
    if (downstream) lnkcap |= 1u << 20 | 1u << 21;
    cs.define_register(at + pcie_reg::link_capabilities, 4, lnkcap, 0);
    // Link Control: ASPM Control, RCB (endpoints; a root port's is read-only: 64 bytes), Common
    // Clock, Extended Synch; downstream ports also Link Disable and the bandwidth interrupts.
    cs.define_register(at + pcie_reg::link_control, 2, 0, downstream ? 0x0cd3 : 0x00cb);
    std::uint16_t lnksta =
        static_cast<std::uint16_t>(p.max_link_speed | p.max_link_width << 4 | lnksta_slot_clock);
    if (downstream) lnksta |= lnksta_dll_link_active;
    cs.define_register(at + pcie_reg::link_status, 2, lnksta, 0,
                       downstream ? lnksta_bandwidth_status : 0);

    if (root_port) {
        // Root Control: system error on correctable/non-fatal/fatal, PME interrupt enable.
        cs.define_register(at + pcie_reg::root_control, 2, 0, 0x001f);
        // Root Status: PME Status (bit 16) RW1C.
        cs.define_register(at + pcie_reg::root_status, 4, 0, 0, 1u << 16);
    }

    // Device Capabilities 2: Completion Timeout Ranges A-D and Disable supported; ARI
    // Forwarding on downstream ports.
    std::uint32_t devcap2 = 0xfu | 1u << 4;
    if (downstream) devcap2 |= 1u << 5;
    cs.define_register(at + pcie_reg::device_capabilities_2, 4, devcap2, 0);
    cs.define_register(at + pcie_reg::device_control_2, 2, 0, downstream ? 0x003f : 0x001f);
    // Link Capabilities 2: Supported Link Speeds Vector, bit n for generation n.
    cs.define_register(at + pcie_reg::link_capabilities_2, 4, ((1u << p.max_link_speed) - 1u) << 1,
                       0);
    // Link Control 2: Target Link Speed resets to the highest supported.
    cs.define_register(at + pcie_reg::link_control_2, 2, p.max_link_speed, 0x000f);
    return at;
}

std::uint16_t add_aer(config_space& cs, bool root_port) {
    const std::uint16_t at = cs.add_ext_capability(
        ext_cap_id::aer, 1, root_port ? aer_reg::root_port_size : aer_reg::endpoint_size);
    cs.define_register(at + aer_reg::uncorrectable_status, 4, 0, 0, aer_uncorrectable_bits);
    cs.define_register(at + aer_reg::uncorrectable_mask, 4, 0, aer_uncorrectable_bits);
    cs.define_register(at + aer_reg::uncorrectable_severity, 4, aer_uncorrectable_severity_reset,
                       aer_uncorrectable_bits);
    cs.define_register(at + aer_reg::correctable_status, 4, 0, 0, aer_correctable_bits);
    cs.define_register(at + aer_reg::correctable_mask, 4, aer_advisory_non_fatal,
                       aer_correctable_bits);
    if (root_port) {
        cs.define_register(at + aer_reg::root_error_command, 4, 0, 0x7);
        cs.define_register(at + aer_reg::root_error_status, 4, 0, 0, 0x7f);
    }
    return at;
}

std::uint16_t add_ari(config_space& cs, std::uint8_t next_function) {
    const std::uint16_t at = cs.add_ext_capability(ext_cap_id::ari, 1, ari_reg::size);
    // ARI Capability: no MFVC/ACS function groups; Next Function Number in 15:8. ARI Control
    // is then all read-only zero.
    cs.define_register(at + ari_reg::capability, 2, std::uint32_t{next_function} << 8, 0);
    return at;
}

std::uint16_t add_acs(config_space& cs, std::uint16_t capabilities) {
    const std::uint16_t supported = acs_reg::source_validation | acs_reg::translation_blocking |
                                    acs_reg::p2p_request_redirect |
                                    acs_reg::p2p_completion_redirect |
                                    acs_reg::upstream_forwarding | acs_reg::direct_translated_p2p;
    if (capabilities & ~supported) {
        throw std::invalid_argument(fmt::format(
            "add_acs: capability bits 0x{:x} not modelled (egress control has no vector)",
            capabilities & ~supported));
    }
    const std::uint16_t at = cs.add_ext_capability(ext_cap_id::acs, 1, acs_reg::size);
    cs.define_register(at + acs_reg::capability, 2, capabilities, 0);
    cs.define_register(at + acs_reg::control, 2, 0, capabilities);
    return at;
}

std::uint16_t add_ats(config_space& cs, const ats_params& p, bool is_vf) {
    if (p.invalidate_queue_depth > 31) {
        throw std::invalid_argument(
            fmt::format("add_ats: Invalidate Queue Depth {} is not 0..31 (0 means 32)",
                        unsigned{p.invalidate_queue_depth}));
    }
    const std::uint16_t at = cs.add_ext_capability(ext_cap_id::ats, 1, ats_reg::size);
    const std::uint32_t cap = p.invalidate_queue_depth |
                              (p.page_aligned_request ? ats_reg::page_aligned_request : 0u) |
                              (p.global_invalidate ? ats_reg::global_invalidate : 0u);
    cs.define_register(at + ats_reg::capability, 2, cap, 0);
    cs.define_register(at + ats_reg::control, 2, 0,
                       ats_reg::enable | (is_vf ? 0u : std::uint32_t{ats_reg::stu_mask}));
    return at;
}

bool ats_enabled(const config_space& cs) {
    const auto at = cs.find_ext_capability(ext_cap_id::ats);
    if (!at) throw std::logic_error("ats_enabled: the function has no ATS capability");
    return cs.peek(*at + ats_reg::control, 2) & ats_reg::enable;
}

std::uint64_t ats_smallest_translation_unit(const config_space& cs) {
    const auto at = cs.find_ext_capability(ext_cap_id::ats);
    if (!at) {
        throw std::logic_error("ats_smallest_translation_unit: the function has no ATS capability");
    }
    return 4096ull << (cs.peek(*at + ats_reg::control, 2) & ats_reg::stu_mask);
}

// --- MSI-X ---

unsigned msix_table_size(const config_space& cs) {
    const std::uint16_t at = require_cap(cs, cap_id::msix, "msix_table_size");
    return (cs.peek(at + msix_reg::message_control, 2) & 0x7ff) + 1;
}

bool msix_enabled(const config_space& cs) {
    const std::uint16_t at = require_cap(cs, cap_id::msix, "msix_enabled");
    return cs.peek(at + msix_reg::message_control, 2) & msix_reg::enable;
}

bool msix_function_masked(const config_space& cs) {
    const std::uint16_t at = require_cap(cs, cap_id::msix, "msix_function_masked");
    return cs.peek(at + msix_reg::message_control, 2) & msix_reg::function_mask;
}

msix_location msix_table(const config_space& cs) {
    const std::uint16_t at = require_cap(cs, cap_id::msix, "msix_table");
    const std::uint32_t v = cs.peek(at + msix_reg::table_offset_bir, 4);
    return {static_cast<std::uint8_t>(v & 7), v & ~7u};
}

msix_location msix_pba(const config_space& cs) {
    const std::uint16_t at = require_cap(cs, cap_id::msix, "msix_pba");
    const std::uint32_t v = cs.peek(at + msix_reg::pba_offset_bir, 4);
    return {static_cast<std::uint8_t>(v & 7), v & ~7u};
}

// --- PCI Express Capability fields ---

std::uint8_t payload_size_code(std::uint32_t bytes) {
    for (std::uint8_t code = 0; code <= 5; ++code) {
        if ((128u << code) == bytes) return code;
    }
    throw std::invalid_argument(
        fmt::format("payload size {} bytes is not a power of two in 128..4096", bytes));
}

std::uint32_t payload_size_bytes(std::uint8_t code) {
    if (code > 5) {
        throw std::invalid_argument(
            fmt::format("payload size code {} is reserved (0..5 allowed)", unsigned{code}));
    }
    return 128u << code;
}

pcie_port_type port_type(const config_space& cs) {
    const std::uint16_t at = require_cap(cs, cap_id::pci_express, "port_type");
    return static_cast<pcie_port_type>(cs.peek(at + pcie_reg::capabilities, 2) >> 4 & 0xf);
}

std::uint32_t max_payload_size_supported(const config_space& cs) {
    const std::uint16_t at = require_cap(cs, cap_id::pci_express, "max_payload_size_supported");
    return payload_size_bytes(cs.peek(at + pcie_reg::device_capabilities, 4) & 7);
}

std::uint32_t max_payload_size(const config_space& cs) {
    const std::uint16_t at = require_cap(cs, cap_id::pci_express, "max_payload_size");
    return payload_size_bytes(cs.peek(at + pcie_reg::device_control, 2) >> devctl_mps_shift & 7);
}

std::uint32_t max_read_request_size(const config_space& cs) {
    const std::uint16_t at = require_cap(cs, cap_id::pci_express, "max_read_request_size");
    return payload_size_bytes(cs.peek(at + pcie_reg::device_control, 2) >> devctl_mrrs_shift & 7);
}

void set_max_payload_size(config_space& cs, std::uint32_t bytes) {
    const std::uint16_t at = require_cap(cs, cap_id::pci_express, "set_max_payload_size");
    const std::uint8_t code = payload_size_code(bytes);
    if (bytes > max_payload_size_supported(cs)) {
        throw std::invalid_argument(
            fmt::format("set_max_payload_size: {} bytes is above the {} bytes supported", bytes,
                        max_payload_size_supported(cs)));
    }
    const std::uint32_t ctl = cs.read(at + pcie_reg::device_control, 2);
    cs.write(at + pcie_reg::device_control, 2,
             (ctl & ~std::uint32_t{devctl_mps_mask}) | std::uint32_t{code} << devctl_mps_shift);
}

void set_max_read_request_size(config_space& cs, std::uint32_t bytes) {
    const std::uint16_t at = require_cap(cs, cap_id::pci_express, "set_max_read_request_size");
    const std::uint8_t code = payload_size_code(bytes);
    const std::uint32_t ctl = cs.read(at + pcie_reg::device_control, 2);
    cs.write(at + pcie_reg::device_control, 2,
             (ctl & ~std::uint32_t{devctl_mrrs_mask}) | std::uint32_t{code} << devctl_mrrs_shift);
}

unsigned max_link_speed(const config_space& cs) {
    const std::uint16_t at = require_cap(cs, cap_id::pci_express, "max_link_speed");
    return cs.peek(at + pcie_reg::link_capabilities, 4) & 0xf;
}

unsigned max_link_width(const config_space& cs) {
    const std::uint16_t at = require_cap(cs, cap_id::pci_express, "max_link_width");
    return cs.peek(at + pcie_reg::link_capabilities, 4) >> 4 & 0x3f;
}

unsigned link_speed(const config_space& cs) {
    const std::uint16_t at = require_cap(cs, cap_id::pci_express, "link_speed");
    return cs.peek(at + pcie_reg::link_status, 2) & 0xf;
}

unsigned link_width(const config_space& cs) {
    const std::uint16_t at = require_cap(cs, cap_id::pci_express, "link_width");
    return cs.peek(at + pcie_reg::link_status, 2) >> 4 & 0x3f;
}

void set_link_status(config_space& cs, unsigned speed, unsigned width) {
    const std::uint16_t at = require_cap(cs, cap_id::pci_express, "set_link_status");
    check_link(speed, width, "set_link_status");
    if (speed > max_link_speed(cs) || width > max_link_width(cs)) {
        throw std::invalid_argument(
            fmt::format("set_link_status: gen{} x{} is beyond the link's gen{} x{}", speed, width,
                        max_link_speed(cs), max_link_width(cs)));
    }
    const std::uint32_t sta = cs.peek(at + pcie_reg::link_status, 2);
    cs.poke(at + pcie_reg::link_status, 2, (sta & ~0x3ffu) | speed | width << 4);
}

// --- Ready-made functions ---

namespace {

void set_interrupt_pin(config_space& cs, std::uint8_t pin) {
    if (pin > 4) {
        throw std::invalid_argument(
            fmt::format("interrupt pin {} is not 0 (none) or 1..4 (INTA#..INTD#)", unsigned{pin}));
    }
    cs.define_register(cfg::interrupt_pin, 1, pin, 0);
}

}  // namespace

config_space make_endpoint(const endpoint_params& p) {
    config_space cs(header_layout::type0, p.identity);
    for (const bar_params& b : p.bars) cs.define_bar(b.index, b.size, b.is_64bit, b.prefetchable);
    set_interrupt_pin(cs, p.interrupt_pin);
    add_power_management(cs);
    if (p.msix_vectors > 0) {
        add_msix(cs, {p.msix_vectors, p.msix_table_bir, p.msix_table_offset, p.msix_pba_bir,
                      p.msix_pba_offset});
    }
    pcie_cap_params pc;
    pc.type = pcie_port_type::endpoint;
    pc.max_payload_supported = p.max_payload_supported;
    pc.max_link_speed = p.link_speed;
    pc.max_link_width = p.link_width;
    add_pcie(cs, pc);
    if (p.aer) add_aer(cs, false);
    if (p.ari) add_ari(cs, p.ari_next_function);
    if (p.acs) add_acs(cs, p.acs_capabilities);
    if (p.ats) add_ats(cs, ats_params{});
    return cs;
}

config_space make_root_port(const root_port_params& p) {
    config_space cs(header_layout::type1, p.identity);
    set_interrupt_pin(cs, p.interrupt_pin);
    add_power_management(cs);
    pcie_cap_params pc;
    pc.type = pcie_port_type::root_port;
    pc.max_payload_supported = p.max_payload_supported;
    pc.max_link_speed = p.link_speed;
    pc.max_link_width = p.link_width;
    pc.port_number = p.port_number;
    add_pcie(cs, pc);
    if (p.aer) add_aer(cs, true);
    if (p.acs) {
        add_acs(cs, acs_reg::source_validation | acs_reg::translation_blocking |
                        acs_reg::p2p_request_redirect | acs_reg::p2p_completion_redirect |
                        acs_reg::upstream_forwarding);
    }
    return cs;
}

}  // namespace iovsim::pcie
