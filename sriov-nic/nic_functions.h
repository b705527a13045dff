// The PCI functions of one SR-IOV NIC: its PF and the VFs that VF Enable brings into being.
//
// Models the PF's configuration space (an Intel E810-like Ethernet controller: PM, MSI-X, PCI
// Express in the standard list; AER, ARI, SR-IOV, ATS in the extended list) and the set of VFs
// the SR-IOV capability describes. A configuration write that sets VF Enable creates NumVFs VFs
// at the routing IDs First VF Offset and VF Stride give (crossing into the next bus numbers when
// the function number passes 255); clearing it destroys them (§9.3.3.3.1). Configuration
// requests are routed by routing ID to the PF or a VF in constant time (the VF index is
// (ID - PF - offset) / stride); a request for any other ID finds no function (reads all ones,
// writes are dropped), as an Unsupported Request.
//
// The host PF driver's part (what `echo N > /sys/…/sriov_numvfs` makes Linux do, pci_iov
// sriov_enable) is set_num_vfs(): check N against TotalVFs, set ARI Capable Hierarchy, write
// NumVFs, then VF Enable and VF Memory Space Enable, all through configuration writes.
//
// Bad input: set_num_vfs(N) with N above TotalVFs throws std::invalid_argument naming the key
// nic.num_vfs (Linux's sriov_numvfs returns -ERANGE). If software writes such a NumVFs itself and
// sets VF Enable (undefined per §9.3.3.7), the model creates no VFs and vf_enable_error() says
// why; the same happens if the VFs' routing IDs would pass bus 255.
//
// Leaves out: more than one PF, FLR, VF Migration, the bus range of the port above (VFs on a bus
// beyond the port's subordinate bus number are created but unreachable; the platform checks).
//
// Timing: none; whoever carries the configuration request charges its time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/pcie/capabilities.h"
#include "models/pcie/config_space.h"
#include "models/pcie/routing_id.h"
#include "sriov-nic/sriov_capability.h"
#include "sriov-nic/vf_config.h"

namespace iovsim::nic {

struct pf_params {
    // Intel Ethernet Controller E810-C for QSFP (8086:1592), class 020000, revision 02.
    pcie::function_identity identity{0x8086, 0x1592, 0x02, 0x020000, 0x8086, 0x0002, false};
    // BAR0: 32 MiB of registers; BAR3: 64 KiB holding the MSI-X table and PBA. Both 64-bit
    // prefetchable, as on the E810.
    std::vector<pcie::bar_params> bars{{0, 32ull << 20, true, true}, {3, 64 * 1024, true, true}};
    std::uint16_t msix_vectors = 64;
    std::uint8_t msix_bir = 3;
    std::uint32_t msix_table_offset = 0;
    std::uint32_t msix_pba_offset = 0x8000;
    unsigned link_speed = 4;  // Gen4 x16
    unsigned link_width = 16;
    std::uint32_t max_payload_supported = 512;
    sriov_params sriov;
    vf_params vf;
    ats_params ats;
};

class nic_functions {
public:
    // The PF at `pf_id` (function 0 of its device, the lowest-numbered PF). Throws
    // std::invalid_argument for inconsistent parameters.
    nic_functions(pcie::routing_id pf_id, const pf_params& p);
    nic_functions(const nic_functions&) = delete;
    nic_functions& operator=(const nic_functions&) = delete;

    pcie::routing_id pf_id() const { return m_pf_id; }
    pcie::config_space& pf() { return *m_pf; }
    const pcie::config_space& pf() const { return *m_pf; }
    sriov_capability& sriov() { return *m_sriov; }
    const sriov_capability& sriov() const { return *m_sriov; }

    // --- The VFs that exist (VF Enable set) ---
    unsigned vf_count() const { return static_cast<unsigned>(m_vfs.size()); }
    vf_config& vf(unsigned index);  // throws std::out_of_range
    const vf_config& vf(unsigned index) const;
    pcie::routing_id vf_id(unsigned index) const;  // throws std::out_of_range
    // Why the last VF Enable created no VFs ("" if it did, or none was attempted).
    const std::string& vf_enable_error() const { return m_vf_enable_error; }

    // --- Lookup and configuration requests by routing ID (O(1)) ---
    bool is_pf(pcie::routing_id id) const { return id == m_pf_id; }
    std::optional<unsigned> vf_index(pcie::routing_id id) const;
    bool present(pcie::routing_id id) const { return is_pf(id) || vf_index(id).has_value(); }
    pcie::config_space* function(pcie::routing_id id);  // nullptr if absent
    // All ones (of `size` bytes) when no function has the ID or the access is malformed.
    std::uint32_t config_read(pcie::routing_id id, std::uint16_t offset, unsigned size) const;
    // False when no function has the ID or the access is malformed.
    bool config_write(pcie::routing_id id, std::uint16_t offset, unsigned size,
                      std::uint32_t value);

    // --- Host PF driver model ---
    // As `echo n > sriov_numvfs`: 0 disables the VFs; otherwise disables any present ones,
    // then sets ARI Capable Hierarchy (if `ari`), NumVFs, VF Enable and VF MSE. Throws
    // std::invalid_argument if n > TotalVFs, std::runtime_error if the VFs could not be created.
    void set_num_vfs(unsigned n, bool ari = true);

    // `lspci -xxxx` text of the PF followed by every VF, for `lspci -vvv -F`.
    std::string lspci_dump() const;

private:
    void on_sriov_control_write();

    pcie::routing_id m_pf_id;
    pf_params m_p;
    std::unique_ptr<pcie::config_space> m_pf;
    std::unique_ptr<sriov_capability> m_sriov;
    std::vector<std::unique_ptr<vf_config>> m_vfs;
    std::vector<pcie::routing_id> m_vf_ids;
    std::uint16_t m_vf_offset = 0;  // offset and stride the present VFs were created with
    std::uint16_t m_vf_stride = 1;
    bool m_enabled = false;  // VF Enable seen set
    std::string m_vf_enable_error;
};

}  // namespace iovsim::nic
