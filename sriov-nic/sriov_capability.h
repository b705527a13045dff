// The SR-IOV, ATS and (through models/pcie) ARI extended capabilities of the NIC's functions.
//
// Models the Single Root I/O Virtualization Extended Capability of a PF byte for byte (PCI
// Express Base Specification 4.0 §9.3.3): SR-IOV Capabilities, Control (VF Enable, VF Memory
// Space Enable, ARI Capable Hierarchy), Status, InitialVFs, TotalVFs, NumVFs, Function
// Dependency Link, First VF Offset, VF Stride, VF Device ID, Supported Page Sizes, System Page
// Size, VF BAR0-5 and the VF Migration State Array Offset, with the register attributes the
// specification gives (RO, RW, RW1C), and the Address Translation Services capability (§10.5.1)
// for PFs and VFs.
//
// Choices where the specification leaves them to the device (documented, as a device's data
// sheet would):
// - First VF Offset and VF Stride depend on ARI Capable Hierarchy only (not on NumVFs). With it
//   set (the normal case: Linux sets it when the port above forwards ARI) the offset is 16 and
//   the stride 1, as Intel's X710/E810 report ("VF offset: 16, stride: 1" leaves function
//   numbers 1..15 to further PFs); VFs then fill function numbers 16..255 and spill into the
//   next bus. With it clear the offset is 1 and the stride 1: only VFs 0..6 sit at device 0,
//   function 1..7, where a non-ARI downstream port can reach them.
// - NumVFs is stored as written (16 bits). A value above TotalVFs is, per §9.3.3.7, undefined
//   behaviour; this model then creates no VFs when VF Enable is set (see nic_functions).
// - Writes to NumVFs or ARI Capable Hierarchy while VF Enable is set (also undefined per §9.3.3.3,
//   §9.3.3.7) are ignored: the old value is restored.
// - System Page Size must have exactly one bit set, among Supported Page Sizes; any other write
//   is ignored. Each VF BAR's per-VF size is at least the system page size (§9.3.3.13: VF BARs
//   are page aligned), so the all-ones sizing write reads back ~(max(size, page) - 1).
// - VF Migration is not supported (VF Migration Capable 0; the migration bits are RO 0).
//
// VF numbering in this code is 0-based: VF n is the specification's VF n+1, at routing ID
// PF + First VF Offset + n × VF Stride (§9.3.3.10), a 16-bit sum that crosses into the next bus
// numbers when the function number overflows.
//
// Leaves out: VF Migration and its state array, multiple PFs and Function Dependency Links other
// than the PF itself, 10-bit tags, the ATS invalidation protocol itself (the ATS capability is
// registers only; iommu/ models translation and invalidation).
//
// Timing: none.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "models/pcie/capabilities.h"
#include "models/pcie/config_space.h"
#include "models/pcie/routing_id.h"

namespace iovsim::nic {

// Offsets inside the SR-IOV capability, from its header (§9.3.3).
namespace sriov_reg {
inline constexpr std::uint16_t capabilities = 0x04;
inline constexpr std::uint16_t control = 0x08;
inline constexpr std::uint16_t status = 0x0a;
inline constexpr std::uint16_t initial_vfs = 0x0c;
inline constexpr std::uint16_t total_vfs = 0x0e;
inline constexpr std::uint16_t num_vfs = 0x10;
inline constexpr std::uint16_t function_dependency_link = 0x12;
inline constexpr std::uint16_t first_vf_offset = 0x14;
inline constexpr std::uint16_t vf_stride = 0x16;
inline constexpr std::uint16_t vf_device_id = 0x1a;
inline constexpr std::uint16_t supported_page_sizes = 0x1c;
inline constexpr std::uint16_t system_page_size = 0x20;
inline constexpr std::uint16_t vf_bar0 = 0x24;  // VF BARn at vf_bar0 + 4n
inline constexpr std::uint16_t vf_migration_state_array_offset = 0x3c;
inline constexpr std::uint16_t size = 0x40;

// SR-IOV Control bits (§9.3.3.3).
inline constexpr std::uint16_t vf_enable = 1u << 0;
inline constexpr std::uint16_t vf_migration_enable = 1u << 1;
inline constexpr std::uint16_t vf_migration_interrupt_enable = 1u << 2;
inline constexpr std::uint16_t vf_memory_space_enable = 1u << 3;
inline constexpr std::uint16_t ari_capable_hierarchy = 1u << 4;
}  // namespace sriov_reg

// The ATS capability (§10.5.1) on PF and VFs: models/pcie/capabilities.h builds it.
namespace ats_reg = pcie::ats_reg;

struct vf_bar_params {
    int index = 0;           // 0..5; a 64-bit BAR also takes index + 1
    std::uint64_t size = 0;  // per VF: a power of two, at least 16 bytes
    bool is_64bit = true;
    bool prefetchable = true;  // VF BARs are usually 64-bit prefetchable
};

struct sriov_params {
    // InitialVFs reads the same: without VF Migration it must equal TotalVFs (§9.3.3.5).
    std::uint16_t total_vfs = 256;        // Intel E810
    std::uint16_t vf_device_id = 0x1889;  // E810 Adaptive Virtual Function
    // Bit n set: page size 2^(n+12) supported. 0x553: 4K, 8K, 64K, 256K, 1M, 4M (the
    // specification's required set).
    std::uint32_t supported_page_sizes = 0x553;
    // E810 VF: BAR0 128 KiB of registers, BAR3 16 KiB holding the MSI-X table and PBA.
    std::vector<vf_bar_params> vf_bars{{0, 128 * 1024, true, true}, {3, 16 * 1024, true, true}};
    std::uint16_t first_vf_offset_ari = 16;
    std::uint16_t vf_stride_ari = 1;
    std::uint16_t first_vf_offset_no_ari = 1;
    std::uint16_t vf_stride_no_ari = 1;
};

// VF n's routing ID (0-based n): PF + offset + n × stride as a 16-bit routing ID, nullopt when
// it would pass bus 255 (§9.3.3.10). Throws std::invalid_argument for stride 0 with n > 0.
std::optional<pcie::routing_id> vf_routing_id(pcie::routing_id pf, std::uint16_t first_vf_offset,
                                              std::uint16_t vf_stride, unsigned n);

// The SR-IOV capability of one PF. Adds itself to the PF's configuration space on construction
// and watches writes to it; the config_space must stay at its address and outlive this object,
// which is neither copied nor moved.
class sriov_capability {
public:
    // Throws std::invalid_argument for inconsistent parameters (TotalVFs 0, a bad or overlapping
    // VF BAR, Supported Page Sizes without 4 KiB) and std::length_error when the capability does
    // not fit.
    sriov_capability(pcie::config_space& pf, const sriov_params& p);
    sriov_capability(const sriov_capability&) = delete;
    sriov_capability& operator=(const sriov_capability&) = delete;

    std::uint16_t offset() const { return m_at; }
    const sriov_params& params() const { return m_p; }

    std::uint16_t control() const;
    bool vf_enable() const { return control() & sriov_reg::vf_enable; }
    bool vf_memory_space_enable() const { return control() & sriov_reg::vf_memory_space_enable; }
    bool ari_capable_hierarchy() const { return control() & sriov_reg::ari_capable_hierarchy; }
    std::uint16_t initial_vfs() const { return reg16(sriov_reg::initial_vfs); }
    std::uint16_t total_vfs() const { return reg16(sriov_reg::total_vfs); }
    std::uint16_t num_vfs() const { return reg16(sriov_reg::num_vfs); }
    std::uint16_t first_vf_offset() const { return reg16(sriov_reg::first_vf_offset); }
    std::uint16_t vf_stride() const { return reg16(sriov_reg::vf_stride); }
    std::uint16_t vf_device_id() const { return reg16(sriov_reg::vf_device_id); }
    std::uint64_t system_page_size_bytes() const;

    // VF BARs: the per-VF size (at least the system page size; 0 for an undefined or upper-half
    // BAR), where VF 0's copy starts (0 if undefined), and VF n's address: base + n × size.
    // Throw std::out_of_range for an index outside 0..5.
    std::uint64_t vf_bar_size(int index) const;
    std::uint64_t vf_bar_base(int index) const;
    std::uint64_t vf_bar_address(int index, unsigned vf) const;
    bool vf_bar_is_64bit(int index) const;
    bool vf_bar_is_prefetchable(int index) const;
    // Writes `address` (of VF 0's copy) into VF BARn through config writes, as system software
    // does after sizing it.
    void assign_vf_bar(int index, std::uint64_t address);

    // VF n's routing ID from the PF's and the current offset and stride.
    std::optional<pcie::routing_id> vf_routing_id(pcie::routing_id pf, unsigned n) const;

private:
    struct bar_info {
        std::uint64_t size = 0;  // as declared, before page-size rounding
        bool is_64bit = false;
        bool prefetchable = false;
        bool upper_half = false;
    };
    std::uint16_t reg16(std::uint16_t r) const;
    void on_control_write();
    void on_num_vfs_write();
    void on_page_size_write();
    void apply_offset_and_stride();
    void define_vf_bar_masks();

    pcie::config_space& m_cs;
    sriov_params m_p;
    std::uint16_t m_at = 0;
    std::array<bar_info, 6> m_bars{};
    std::uint16_t m_control = 0;    // last accepted SR-IOV Control
    std::uint16_t m_num_vfs = 0;    // last accepted NumVFs
    std::uint32_t m_page_size = 1;  // last accepted System Page Size
};

using pcie::add_ats;
using pcie::ats_enabled;
using pcie::ats_params;
using pcie::ats_smallest_translation_unit;

}  // namespace iovsim::nic
