// The host's PF driver for the SR-IOV NIC, as a model that runs on the host CPU.
//
// Models what Linux's PCI core and a PF driver (ice) do when an administrator writes
// `echo N > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs` and then `ip link set PF vf n mac M
// vlan V`, through configuration requests (ECAM) only:
// - enable_vfs(N): checks N against TotalVFs, clears VF Enable (sriov_numvfs goes through 0),
//   writes System Page Size (4 KiB), NumVFs, then VF Enable and VF Memory Space Enable in one
//   write (ARI Capable Hierarchy as enumeration set it); reads First VF Offset and VF Stride
//   and works out each VF's routing ID (PF + offset + n × stride, crossing into the next bus
//   numbers), then reads each VF's identity through ECAM to confirm it exists (a VF reads
//   Vendor ID and Device ID as FFFFh, §9.3.4.1.1-2, and the PF's Class Code; the VF Device ID
//   is in the PF's capability). VF BARs were placed by enumeration for TotalVFs; VF n's BARs are VF
//   BARx + n × size.
// - Each VF gets a MAC (vf_mac(n), locally administered) and the driver's port VLAN in the NIC's
//   L2 switch. The NIC has no PF register or mailbox for this, so the driver uses the model API
//   (nic::set_mac), as ice does through its admin queue; the PF gets pf_mac().
// - Bus Master Enable on each VF's Command register, as the VF driver (iavf) does at probe.
//
// Leaves out: the PF-VF mailbox, VF FLR, spoof-check and trust settings (spoof check is on),
// disabling VFs while they are in use.
//
// Timing: each configuration access costs what the root complex and link charge; the driver's
// own instructions cost nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "models/net/ethernet.h"
#include "models/pcie/enumeration.h"
#include "sriov-nic/nic.h"

namespace iovsim::platform {

// 02:00:00:00:00:01 for the PF; 02:00:00:01:HH:LL for VF n = 0xHHLL.
inline net::mac_address pf_mac() { return net::mac_address::from_u64(0x020000000001ull); }
inline net::mac_address vf_mac(unsigned n) {
    return net::mac_address::from_u64(0x020000010000ull + (n & 0xffff));
}

struct sriov_vf {
    unsigned index = 0;  // 0-based (the specification's VF index + 1)
    pcie::routing_id id;
    std::vector<pcie::enumerated_bar> bars;  // this VF's BARs: VF BARx + index × size
    net::mac_address mac;
};

struct sriov_layout {
    std::uint16_t total_vfs = 0;
    std::uint16_t num_vfs = 0;
    std::uint16_t first_vf_offset = 0;
    std::uint16_t vf_stride = 0;
    std::uint16_t vf_device_id = 0;
    std::vector<sriov_vf> vfs;
};

class pf_driver {
public:
    // `pf`: the PF as enumeration found it (its SR-IOV layout and VF BARs); `cfg`: the host
    // CPU's configuration access (call from a program running on it).
    pf_driver(pcie::config_access& cfg, nic::nic& dev, const pcie::enumerated_function& pf,
              std::uint16_t vlan = 0);

    // `echo n > sriov_numvfs` plus MAC/VLAN and VF bus mastering. Throws std::invalid_argument
    // naming nic.num_vfs and nic.total_vfs if n > TotalVFs; std::runtime_error if the PF has no
    // SR-IOV capability or a VF does not answer at its routing ID.
    sriov_layout enable_vfs(unsigned n);

private:
    pcie::config_access& m_cfg;
    nic::nic& m_dev;
    pcie::enumerated_function m_pf;
    std::uint16_t m_vlan;
};

}  // namespace iovsim::platform
