// The host side of one NIC function's queue pair, as its driver sees it: where the TX and RX
// rings and buffers sit in memory, the ring indices the driver keeps, and the driver's open()
// (rings programmed through BAR0, RX descriptors handed to the NIC, queues enabled). Shared by
// the drivers that run on the host CPU stand-in (the PF in `iovsim run`, the VFs in nicbench).
// Takes no time of its own: every access is timed by the host CPU's path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/net/ethernet.h"
#include "models/pcie/routing_id.h"
#include "platform/host_cpu.h"

namespace iovsim::platform {

inline constexpr std::uint32_t nic_queue_ring = 64;       // descriptors per ring
inline constexpr std::uint64_t nic_queue_buffer = 0x800;  // RXBUFSZ reset value: 2 KiB

struct nic_queues {
    std::uint64_t bar0 = 0, bar3 = 0;
    std::uint64_t region = 0;  // rings and buffers: 512 KiB from here
    std::uint32_t tx_tail = 0;
    std::uint32_t rx_next = 0;  // the next RX descriptor the NIC writes back
    std::uint32_t rx_tail = 0;

    std::uint64_t tx_ring() const { return region; }
    std::uint64_t rx_ring() const { return region + 0x1000; }
    std::uint64_t tx_buf(std::uint32_t i) const { return region + 0x10000 + i * nic_queue_buffer; }
    std::uint64_t rx_buf(std::uint32_t i) const { return region + 0x40000 + i * nic_queue_buffer; }
};

// Writes RX descriptor `slot` pointing at its buffer, ready to hand to the NIC.
void give_rx_slot(host_cpu& cpu, const nic_queues& q, std::uint32_t slot);

// The driver's open(): rings programmed, all but one RX slot given to the NIC, TX and RX
// enabled. Throws std::runtime_error naming `who` if the function does not enable its queues.
void open_queues(host_cpu& cpu, nic_queues& q, const std::string& who);

// Points the function's RX MSI-X vector at APIC 0 with `apic_vector`, unmasks it, enables
// MSI-X and the RX interrupt cause. Throws naming `who` if the table is missing or not in BAR3.
void enable_rx_interrupt(host_cpu& cpu, pcie::routing_id id, const nic_queues& q,
                         std::uint8_t apic_vector, const std::string& who);

// A test frame of `bytes` (FCS excluded): the MACs, EtherType 0x88B5 (local experimental), the
// sequence number, then a payload derived from it, so a receiver can check every byte.
std::vector<std::uint8_t> make_frame(net::mac_address dst, net::mac_address src,
                                     std::uint32_t bytes, std::uint64_t seq);

}  // namespace iovsim::platform
