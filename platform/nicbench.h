// The SR-IOV NIC testbench (issue 4), run by the hidden `iovsim nicbench` subcommand on the
// default (NIC) platform.
//
// The host CPU enumerates the platform, runs the PF driver model (pf_driver.h: nic.num_vfs VFs,
// at least 3, their MACs, bus mastering) and then acts as the VF drivers, through each VF's BAR
// MMIO and descriptors in host memory only: it sets up a TX and an RX ring (64 descriptors,
// 2 KiB buffers) for VF0, VF1 and VF2 in DRAM above 4 GiB, enables MSI-X on VF1 and VF2 (their
// RX vector 0 aimed at APIC 0, vectors rx_vector_base + n, RXT unmasked in IMS), and runs two
// phases, one frame in flight at a time:
// - VEB: VF0 sends nicbench.frames frames to VF1's MAC; the VEB loops them back inside the NIC.
// - wire: VF2 sends as many frames to the echo peer's MAC (peer_mac()) on the wire; the peer
//   returns each with the MACs swapped, and the VEB delivers it to VF2.
// Each frame is nicbench.frame_size bytes on the wire (FCS included), EtherType 0x88B5, a 64-bit
// sequence number then a byte pattern. Latency per frame: the CPU's time when it writes the TX
// doorbell (TDT) to the arrival of the receiver's RX MSI-X message at the interrupt controller.
// The CPU then checks the RX descriptor (DD and EOP set, length = frame size without FCS) and
// the buffer (byte-identical to what was sent; for echoes, the payload identical and the MACs
// swapped), counts it verified, and gives the descriptor back (RDT).
//
// Needs the echo peer (nic.peer: echo) for the wire phase. Leaves out: more than one frame in
// flight, the IOMMU (the VFs' DMA uses host addresses; with iommu.enabled the IOMMU driver is
// not started, so nothing is translated).
#pragma once

#include <cstdint>
#include <vector>

#include "models/core/params.h"
#include "models/net/ethernet.h"
#include "platform/host_platform.h"
#include "platform/nic_queue_driver.h"
#include "platform/pf_driver.h"

namespace iovsim::platform {

inline constexpr unsigned nicbench_min_vfs = 3;
inline constexpr std::uint8_t rx_vector_base = 0x50;            // VF n's RX vector: 0x50 + n
inline constexpr std::uint32_t nicbench_ring = nic_queue_ring;  // descriptors per ring
// The echo peer's MAC: the destination VF2 uses.
inline net::mac_address peer_mac() { return net::mac_address::from_u64(0x0200000000feull); }

struct nicbench_config {
    std::uint32_t frames = 100;
    std::uint32_t frame_size = 128;  // on the wire after the SFD, FCS included
    tick_t timeout = ticks_per_ms;   // per frame: no RX interrupt by then is an error
};

// Reads nicbench.* and checks nic.num_vfs >= 3 and nic.peer = echo (core::config_error naming
// the key).
nicbench_config make_nicbench_config(const core::param_tree& tree);

struct nicbench_phase {
    std::uint64_t sent = 0;
    std::uint64_t received = 0;  // RX interrupts seen with a written-back descriptor
    std::uint64_t verified = 0;  // of those, byte-identical (echo: payload identical, MACs swapped)
    std::vector<double> latency_ns;
};

struct nicbench_result {
    sriov_layout layout;
    nicbench_phase veb, wire;
};

// Installs the bench as the CPU's program on a NIC platform (std::invalid_argument otherwise).
// `out` is filled while the simulation runs; a frame that never arrives stops the program with
// a std::runtime_error saying which phase and frame.
void install_nicbench(host_platform& p, const nicbench_config& c, nicbench_result& out);

}  // namespace iovsim::platform
