// PCI and PCI Express capabilities in configuration space, and ready-made functions.
//
// Models the capability structures byte for byte as the PCI Express Base Specification lays
// them out, so that lspci and a guest's PCI core decode them: in the standard list Power
// Management (PCI PM 1.2, version 3), MSI-X and the PCI Express Capability (version 2, §7.5.3:
// capabilities, control and status of device, link and, for root ports, root); in the extended
// list Advanced Error Reporting, ARI and ACS (§7.8.4, §7.8.7, §7.7.11). Other capabilities
// (SR-IOV, ATS …) plug in through config_space::add_capability / add_ext_capability the same
// way. Helpers read and program the fields other models act on: MSI-X Enable and Function Mask
// and the table/PBA locations, Max_Payload_Size and Max_Read_Request_Size (128 << n bytes), and
// the link's speed and width.
//
// Leaves out: MSI (plain), slot registers (Slot Implemented is 0; root ports have no hot-plug
// slot), ASPM and L0s/L1 exit latencies (reported as not supported), power states other than D0
// doing anything (PowerState is storage only), the AER header log being filled in (the error
// paths that would fill it record into the status registers with config_space::set_bits),
// ACS egress control vectors, virtual channels.
//
// Timing: none; link speed and width are what the link model trained, written here for software
// to read.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "models/pcie/config_space.h"

namespace iovsim::pcie {

// Capability IDs (PCI Code and ID Assignment Specification).
namespace cap_id {
inline constexpr std::uint8_t power_management = 0x01;
inline constexpr std::uint8_t msi = 0x05;
inline constexpr std::uint8_t pci_express = 0x10;
inline constexpr std::uint8_t msix = 0x11;
}  // namespace cap_id

namespace ext_cap_id {
inline constexpr std::uint16_t aer = 0x0001;
inline constexpr std::uint16_t acs = 0x000d;
inline constexpr std::uint16_t ari = 0x000e;
inline constexpr std::uint16_t ats = 0x000f;
inline constexpr std::uint16_t sriov = 0x0010;
}  // namespace ext_cap_id

// Register offsets inside each capability, from its header.
namespace pm_reg {
inline constexpr std::uint16_t pmc = 0x02;    // Power Management Capabilities
inline constexpr std::uint16_t pmcsr = 0x04;  // Control/Status
inline constexpr std::uint16_t size = 0x08;
}  // namespace pm_reg

namespace msix_reg {
inline constexpr std::uint16_t message_control = 0x02;
inline constexpr std::uint16_t table_offset_bir = 0x04;
inline constexpr std::uint16_t pba_offset_bir = 0x08;
inline constexpr std::uint16_t size = 0x0c;
inline constexpr std::uint16_t enable = 1u << 15;         // Message Control: MSI-X Enable
inline constexpr std::uint16_t function_mask = 1u << 14;  // Message Control: Function Mask
inline constexpr std::uint32_t table_entry_bytes = 16;
}  // namespace msix_reg

namespace pcie_reg {
inline constexpr std::uint16_t capabilities = 0x02;
inline constexpr std::uint16_t device_capabilities = 0x04;
inline constexpr std::uint16_t device_control = 0x08;
inline constexpr std::uint16_t device_status = 0x0a;
inline constexpr std::uint16_t link_capabilities = 0x0c;
inline constexpr std::uint16_t link_control = 0x10;
inline constexpr std::uint16_t link_status = 0x12;
inline constexpr std::uint16_t slot_capabilities = 0x14;
inline constexpr std::uint16_t slot_control = 0x18;
inline constexpr std::uint16_t slot_status = 0x1a;
inline constexpr std::uint16_t root_control = 0x1c;
inline constexpr std::uint16_t root_capabilities = 0x1e;
inline constexpr std::uint16_t root_status = 0x20;
inline constexpr std::uint16_t device_capabilities_2 = 0x24;
inline constexpr std::uint16_t device_control_2 = 0x28;
inline constexpr std::uint16_t device_status_2 = 0x2a;
inline constexpr std::uint16_t link_capabilities_2 = 0x2c;
inline constexpr std::uint16_t link_control_2 = 0x30;
inline constexpr std::uint16_t link_status_2 = 0x32;
inline constexpr std::uint16_t size = 0x3c;  // version 2, through Slot Status 2
}  // namespace pcie_reg

namespace aer_reg {
inline constexpr std::uint16_t uncorrectable_status = 0x04;
inline constexpr std::uint16_t uncorrectable_mask = 0x08;
inline constexpr std::uint16_t uncorrectable_severity = 0x0c;
inline constexpr std::uint16_t correctable_status = 0x10;
inline constexpr std::uint16_t correctable_mask = 0x14;
inline constexpr std::uint16_t capabilities_control = 0x18;
inline constexpr std::uint16_t header_log = 0x1c;  // 16 bytes
inline constexpr std::uint16_t root_error_command = 0x2c;
inline constexpr std::uint16_t root_error_status = 0x30;
inline constexpr std::uint16_t error_source_id = 0x34;
inline constexpr std::uint16_t endpoint_size = 0x2c;
inline constexpr std::uint16_t root_port_size = 0x38;
}  // namespace aer_reg

namespace ari_reg {
inline constexpr std::uint16_t capability = 0x04;
inline constexpr std::uint16_t control = 0x06;
inline constexpr std::uint16_t size = 0x08;
}  // namespace ari_reg

// ATS extended capability (§10.5.1).
namespace ats_reg {
inline constexpr std::uint16_t capability = 0x04;
inline constexpr std::uint16_t control = 0x06;
inline constexpr std::uint16_t size = 0x08;
inline constexpr std::uint16_t invalidate_queue_depth = 0x1f;   // ATS Capability 4:0
inline constexpr std::uint16_t page_aligned_request = 1u << 5;  // ATS Capability
inline constexpr std::uint16_t global_invalidate = 1u << 6;     // ATS Capability
inline constexpr std::uint16_t enable = 1u << 15;               // ATS Control
inline constexpr std::uint16_t stu_mask = 0x1f;                 // ATS Control 4:0
}  // namespace ats_reg

namespace acs_reg {
inline constexpr std::uint16_t capability = 0x04;
inline constexpr std::uint16_t control = 0x06;
inline constexpr std::uint16_t size = 0x08;
// ACS Capability / Control bits.
inline constexpr std::uint16_t source_validation = 1u << 0;
inline constexpr std::uint16_t translation_blocking = 1u << 1;
inline constexpr std::uint16_t p2p_request_redirect = 1u << 2;
inline constexpr std::uint16_t p2p_completion_redirect = 1u << 3;
inline constexpr std::uint16_t upstream_forwarding = 1u << 4;
inline constexpr std::uint16_t egress_control = 1u << 5;
inline constexpr std::uint16_t direct_translated_p2p = 1u << 6;
}  // namespace acs_reg

// PCI Express Capabilities register, Device/Port Type (bits 7:4).
enum class pcie_port_type : std::uint8_t {
    endpoint = 0x0,
    legacy_endpoint = 0x1,
    root_port = 0x4,
    upstream_switch_port = 0x5,
    downstream_switch_port = 0x6,
    rc_integrated_endpoint = 0x9,
};

// --- Adding capabilities (each returns the capability's offset) ---

// PM version 3 (PCI PM 1.2), D0 only, No_Soft_Reset set; PowerState is read-write storage.
std::uint16_t add_power_management(config_space& cs);

struct msix_params {
    std::uint16_t vectors = 1;  // 1..2048
    std::uint8_t table_bir = 0;
    std::uint32_t table_offset = 0;  // 8-byte aligned, within the BAR
    std::uint8_t pba_bir = 0;
    std::uint32_t pba_offset = 0;  // 8-byte aligned, within the BAR
};
// Checks that the table (16 bytes a vector) and the PBA (a bit a vector, in qwords) lie inside
// defined memory BARs; throws std::invalid_argument otherwise.
std::uint16_t add_msix(config_space& cs, const msix_params& p);

struct pcie_cap_params {
    pcie_port_type type = pcie_port_type::endpoint;
    std::uint32_t max_payload_supported = 256;  // bytes: 128, 256, … 4096
    unsigned max_link_speed = 3;                // generation: 1 = 2.5 GT/s … 5 = 32 GT/s
    unsigned max_link_width = 8;                // lanes: 1, 2, 4, 8, 12, 16, 32
    std::uint8_t port_number = 0;               // Link Capabilities bits 31:24
    bool flr = false;  // Function Level Reset capable (endpoints); no model implements FLR yet
};
// PCI Express Capability version 2. The link trains to its maximum: Link Status holds the
// maximum speed and width until set_link_status() says otherwise. Device Control resets to MPS
// 128 bytes and MRRS 512 bytes, as the specification requires. Throws std::invalid_argument.
std::uint16_t add_pcie(config_space& cs, const pcie_cap_params& p);

// AER version 1; root ports get the Root Error Command/Status and Error Source registers.
std::uint16_t add_aer(config_space& cs, bool root_port);
// ARI version 1 with the function's Next Function Number.
std::uint16_t add_ari(config_space& cs, std::uint8_t next_function);
// ACS version 1 with the given capability bits (acs_reg::*); Control is writable for those.
std::uint16_t add_acs(config_space& cs, std::uint16_t capabilities);

struct ats_params {
    std::uint8_t invalidate_queue_depth = 0;  // 0 means 32 (§10.5.1.2)
    bool page_aligned_request = true;
    bool global_invalidate = false;
};
// ATS version 1. ATS Control has Enable and the Smallest Translation Unit (STU) read-write; on
// a VF (`is_vf`) only Enable is, and STU is RO 0 (the PF's governs its VFs, §10.5.1.3). Throws
// std::invalid_argument for a queue depth above 31.
std::uint16_t add_ats(config_space& cs, const ats_params& p, bool is_vf = false);
// ATS Control fields; throw std::logic_error without the capability.
bool ats_enabled(const config_space& cs);
// Smallest Translation Unit in bytes: 4096 << STU.
std::uint64_t ats_smallest_translation_unit(const config_space& cs);

// --- MSI-X ---

struct msix_location {
    std::uint8_t bir = 0;
    std::uint32_t offset = 0;
};
// All throw std::logic_error if the function has no MSI-X capability.
unsigned msix_table_size(const config_space& cs);  // N (the field holds N - 1)
bool msix_enabled(const config_space& cs);
bool msix_function_masked(const config_space& cs);
msix_location msix_table(const config_space& cs);
msix_location msix_pba(const config_space& cs);

// --- PCI Express Capability fields (throw std::logic_error without the capability) ---

// Max_Payload_Size / Max_Read_Request_Size encoding: bytes = 128 << code, code 0..5.
// Throw std::invalid_argument for a size that is not 128..4096 and a power of two, or a
// reserved code.
std::uint8_t payload_size_code(std::uint32_t bytes);
std::uint32_t payload_size_bytes(std::uint8_t code);

pcie_port_type port_type(const config_space& cs);
std::uint32_t max_payload_size_supported(const config_space& cs);
std::uint32_t max_payload_size(const config_space& cs);
std::uint32_t max_read_request_size(const config_space& cs);
// Program Device Control through config_space::write(), as system software does. MPS above the
// supported size throws std::invalid_argument.
void set_max_payload_size(config_space& cs, std::uint32_t bytes);
void set_max_read_request_size(config_space& cs, std::uint32_t bytes);

unsigned max_link_speed(const config_space& cs);  // generation, 1..5
unsigned max_link_width(const config_space& cs);
unsigned link_speed(const config_space& cs);  // Link Status: Current Link Speed
unsigned link_width(const config_space& cs);  // Link Status: Negotiated Link Width
// The link model reports what it trained to; throws std::invalid_argument beyond the maximum.
void set_link_status(config_space& cs, unsigned speed, unsigned width);

// --- Ready-made functions ---

struct bar_params {
    int index = 0;
    std::uint64_t size = 0;
    bool is_64bit = true;
    bool prefetchable = false;
};

struct endpoint_params {
    // Defaults: QEMU's PCI test device (Red Hat, Inc. 1b36:0005, class 00ff00).
    function_identity identity{0x1b36, 0x0005, 0x00, 0x00ff00, 0x1af4, 0x1100, false};
    // BAR0: 64 KiB, 64-bit, non-prefetchable.
    std::vector<bar_params> bars =
        std::vector<bar_params>(1, bar_params{0, 64 * 1024, true, false});
    std::uint16_t msix_vectors = 16;  // 0: no MSI-X capability
    std::uint8_t msix_table_bir = 0;
    std::uint32_t msix_table_offset = 0x2000;
    std::uint8_t msix_pba_bir = 0;
    std::uint32_t msix_pba_offset = 0x3000;
    unsigned link_speed = 3;  // generation
    unsigned link_width = 8;
    std::uint32_t max_payload_supported = 512;
    std::uint8_t interrupt_pin = 1;  // INTA#; 0: none
    bool aer = true;
    bool ari = true;
    std::uint8_t ari_next_function = 0;
    bool acs = false;
    std::uint16_t acs_capabilities = 0;
    bool ats = false;  // the ATS extended capability (ats_params defaults)
};
// PM, MSI-X (if vectors > 0) and PCI Express (endpoint) in the standard list; AER, ARI, ACS, ATS
// as asked in the extended list. Throws std::invalid_argument for inconsistent parameters.
config_space make_endpoint(const endpoint_params& p);

struct root_port_params {
    // Defaults: QEMU's PCIe root port (Red Hat, Inc. 1b36:000c, class 060400).
    function_identity identity{0x1b36, 0x000c, 0x00, 0x060400, 0, 0, false};
    unsigned link_speed = 3;
    unsigned link_width = 8;
    std::uint32_t max_payload_supported = 512;
    std::uint8_t port_number = 1;
    std::uint8_t interrupt_pin = 1;
    bool aer = true;
    bool acs = true;  // with source validation, translation blocking, P2P request/completion
                      // redirect, upstream forwarding
};
// A type-1 function with PM and PCI Express (root port) in the standard list, AER and ACS in the
// extended list; windows disabled and bus numbers 0 until software programs them.
config_space make_root_port(const root_port_params& p);

}  // namespace iovsim::pcie
