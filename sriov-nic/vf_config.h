// The configuration space of one SR-IOV Virtual Function.
//
// Models a VF's type-0 configuration space as the SR-IOV specification defines it (PCI Express
// Base Specification 4.0 §9.3.4, §9.3.5): Vendor ID and Device ID read 0xFFFF (software takes
// the VF Device ID from the PF's SR-IOV capability; lspci calls such a function "Illegal Vendor
// ID"); Revision ID, Class Code and Subsystem Vendor ID/Subsystem ID are the PF's; the six BAR
// registers read 0 and ignore writes (the PF's VF BARn place all VFs' copies); the Command
// register's Memory Space Enable is RO 0 (the PF's VF Memory Space Enable governs every VF),
// I/O Space and Interrupt Disable are RO 0 (no I/O, no INTx: Interrupt Pin 0) and only Bus Master
// Enable and the error-reporting bits are writable. Capabilities: MSI-X (its own table and PBA,
// in a VF BAR) and PCI Express (endpoint, FLR) in the standard list; ARI and ATS in the extended
// list.
//
// decode() answers whether this VF claims a memory request: VF Memory Space Enable set in the
// PF and the range inside VF BARn base + n × per-VF size.
//
// Leaves out: Power Management on VFs (optional; absent), AER (VFs share the PF's here), FLR doing
// anything (the bit is advertised; resetting the VF's state is the NIC shell's job).
//
// Timing: none.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "models/pcie/config_space.h"
#include "sriov-nic/sriov_capability.h"

namespace iovsim::nic {

struct vf_params {
    // MSI-X: E810 VFs have 17 vectors (one for the mailbox, 16 for queues), the table at 0 and
    // the PBA at 0x2000 of VF BAR3.
    std::uint16_t msix_vectors = 17;
    std::uint8_t msix_table_bir = 3;
    std::uint32_t msix_table_offset = 0;
    std::uint8_t msix_pba_bir = 3;
    std::uint32_t msix_pba_offset = 0x2000;
    std::uint32_t max_payload_supported = 512;
    unsigned link_speed = 4;  // a VF reports the PF's link (Gen4 x16 on E810)
    unsigned link_width = 16;
    ats_params ats;
};

class vf_config {
public:
    // VF `index` (0-based) of the PF whose configuration space and SR-IOV capability are given;
    // both must outlive this object. Throws std::invalid_argument when the MSI-X table or PBA do
    // not lie in a defined VF BAR, or for bad link parameters.
    vf_config(const pcie::config_space& pf, const sriov_capability& sriov, unsigned index,
              const vf_params& p);
    vf_config(const vf_config&) = delete;
    vf_config& operator=(const vf_config&) = delete;

    unsigned index() const { return m_index; }
    pcie::config_space& config() { return m_cs; }
    const pcie::config_space& config() const { return m_cs; }
    std::uint32_t read(std::uint16_t offset, unsigned size) const {
        return m_cs.read(offset, size);
    }
    bool write(std::uint16_t offset, unsigned size, std::uint32_t value) {
        return m_cs.write(offset, size, value);
    }

    bool bus_master_enabled() const { return m_cs.bus_master_enabled(); }
    // Memory decoding is the PF's: VF Memory Space Enable.
    bool memory_space_enabled() const { return m_sriov.vf_memory_space_enable(); }
    // This VF's copy of VF BARn: PF VF BARn base + index × per-VF size (0 if undefined or not
    // placed), and its size.
    std::uint64_t bar_address(int index) const { return m_sriov.vf_bar_address(index, m_index); }
    std::uint64_t bar_size(int index) const { return m_sriov.vf_bar_size(index); }
    // The VF BAR that claims [addr, addr + len) and the offset inside this VF's copy, if VF
    // Memory Space Enable is set and one copy holds the whole range.
    std::optional<std::pair<int, std::uint64_t>> decode(std::uint64_t addr,
                                                        std::uint32_t len) const;

private:
    const sriov_capability& m_sriov;
    unsigned m_index;
    pcie::config_space m_cs;
};

}  // namespace iovsim::nic
