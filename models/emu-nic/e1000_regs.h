// The Intel 8254x (e1000) programming interface the emulated NIC and its guest driver share:
// register offsets in BAR0, the bits of the registers a driver touches, and the legacy transmit
// and receive descriptors, named and laid out as the Intel PCI/PCI-X Family of Gigabit Ethernet
// Controllers Software Developer's Manual (8254x SDM, rev. 4.0) and Linux's e1000_hw.h name them.
//
// Descriptors are 16 bytes of little-endian fields in guest memory (SDM §3.2.3 receive, §3.3.3
// legacy transmit); encode()/decode() turn them into bytes and back. Ring lengths (RDLEN, TDLEN)
// are in bytes, multiples of 128 (eight descriptors): bits 6:0 are ignored on write and read as
// 0, bits 19:7 hold the length (SDM §13.4.28, §13.4.39).
//
// Leaves out: the extended (context and data) transmit descriptors, the extended receive
// descriptor formats of later parts, statistics registers other than GPRC, GPTC, MPC and ROC, flow
// control, the EEPROM and PHY (MDIC) interfaces. No timing.
#pragma once

#include <array>
#include <cstdint>

namespace iovsim::emunic {

// BAR0 is 128 KiB of memory space (SDM §4.1, Table 4-2).
inline constexpr std::uint64_t e1000_bar_size = 128 * 1024;

// Register offsets (SDM Table 13-2).
namespace reg {
inline constexpr std::uint32_t ctrl = 0x0000;    // Device Control
inline constexpr std::uint32_t status = 0x0008;  // Device Status (read only)
inline constexpr std::uint32_t icr = 0x00c0;     // Interrupt Cause Read (read to clear)
inline constexpr std::uint32_t itr = 0x00c4;     // Interrupt Throttling
inline constexpr std::uint32_t ics = 0x00c8;     // Interrupt Cause Set (write only)
inline constexpr std::uint32_t ims = 0x00d0;     // Interrupt Mask Set/Read
inline constexpr std::uint32_t imc = 0x00d8;     // Interrupt Mask Clear (write only)
inline constexpr std::uint32_t rctl = 0x0100;    // Receive Control
inline constexpr std::uint32_t tctl = 0x0400;    // Transmit Control
inline constexpr std::uint32_t tipg = 0x0410;    // Transmit IPG
inline constexpr std::uint32_t rdbal = 0x2800;   // Receive Descriptor Base Low
inline constexpr std::uint32_t rdbah = 0x2804;   // Receive Descriptor Base High
inline constexpr std::uint32_t rdlen = 0x2808;   // Receive Descriptor Length (bytes)
inline constexpr std::uint32_t rdh = 0x2810;     // Receive Descriptor Head
inline constexpr std::uint32_t rdt = 0x2818;     // Receive Descriptor Tail
inline constexpr std::uint32_t rdtr = 0x2820;    // Receive Delay Timer
inline constexpr std::uint32_t tdbal = 0x3800;   // Transmit Descriptor Base Low
inline constexpr std::uint32_t tdbah = 0x3804;   // Transmit Descriptor Base High
inline constexpr std::uint32_t tdlen = 0x3808;   // Transmit Descriptor Length (bytes)
inline constexpr std::uint32_t tdh = 0x3810;     // Transmit Descriptor Head
inline constexpr std::uint32_t tdt = 0x3818;     // Transmit Descriptor Tail
inline constexpr std::uint32_t tidv = 0x3820;    // Transmit Interrupt Delay Value
inline constexpr std::uint32_t mpc = 0x4010;     // Missed Packets Count (read to clear)
inline constexpr std::uint32_t gprc = 0x4074;    // Good Packets Received Count (read to clear)
inline constexpr std::uint32_t gptc = 0x4080;    // Good Packets Transmitted Count (read to clear)
inline constexpr std::uint32_t roc = 0x40a4;     // Receive Oversize Count (read to clear)
inline constexpr std::uint32_t ral0 = 0x5400;    // Receive Address Low, entry 0
inline constexpr std::uint32_t rah0 = 0x5404;    // Receive Address High, entry 0
}  // namespace reg

// CTRL (SDM §13.4.1).
namespace ctrl {
inline constexpr std::uint32_t fd = 1u << 0;    // Full Duplex
inline constexpr std::uint32_t asde = 1u << 5;  // Auto-Speed Detection Enable
inline constexpr std::uint32_t slu = 1u << 6;   // Set Link Up
inline constexpr std::uint32_t rst = 1u << 26;  // Device Reset (self clearing)
}  // namespace ctrl

// STATUS (SDM §13.4.2).
namespace status {
inline constexpr std::uint32_t fd = 1u << 0;          // Full Duplex
inline constexpr std::uint32_t lu = 1u << 1;          // Link Up
inline constexpr std::uint32_t speed_1000 = 2u << 6;  // SPEED = 10b: 1000 Mb/s
inline constexpr std::uint32_t speed_mask = 3u << 6;
}  // namespace status

// Interrupt causes, common to ICR, ICS, IMS and IMC (SDM §13.4.17).
namespace icr {
inline constexpr std::uint32_t txdw = 1u << 0;      // Transmit Descriptor Written Back
inline constexpr std::uint32_t txqe = 1u << 1;      // Transmit Queue Empty
inline constexpr std::uint32_t lsc = 1u << 2;       // Link Status Change
inline constexpr std::uint32_t rxseq = 1u << 3;     // Receive Sequence Error
inline constexpr std::uint32_t rxdmt0 = 1u << 4;    // Receive Descriptor Minimum Threshold
inline constexpr std::uint32_t rxo = 1u << 6;       // Receiver Overrun
inline constexpr std::uint32_t rxt0 = 1u << 7;      // Receiver Timer Interrupt
inline constexpr std::uint32_t all = 0x0001'f6dfu;  // the causes the 8254x defines
}  // namespace icr

// RCTL (SDM §13.4.22).
namespace rctl {
inline constexpr std::uint32_t en = 1u << 1;      // Receiver Enable
inline constexpr std::uint32_t sbp = 1u << 2;     // Store Bad Packets
inline constexpr std::uint32_t upe = 1u << 3;     // Unicast Promiscuous Enable
inline constexpr std::uint32_t mpe = 1u << 4;     // Multicast Promiscuous Enable
inline constexpr std::uint32_t lpe = 1u << 5;     // Long Packet Reception Enable
inline constexpr std::uint32_t bam = 1u << 15;    // Broadcast Accept Mode
inline constexpr std::uint32_t bsize_shift = 16;  // Receive Buffer Size, bits 17:16
inline constexpr std::uint32_t bsize_mask = 3u << 16;
inline constexpr std::uint32_t bsex = 1u << 25;   // Buffer Size Extension (x16)
inline constexpr std::uint32_t secrc = 1u << 26;  // Strip Ethernet CRC
// Buffer size in bytes for RCTL's BSIZE and BSEX (SDM Table 13-67): 2048, 1024, 512, 256 bytes;
// with BSEX, 16 times that (BSIZE 00b with BSEX is reserved: taken as 2048).
constexpr std::uint32_t buffer_size(std::uint32_t rctl_value) {
    const std::uint32_t bsize = (rctl_value & bsize_mask) >> bsize_shift;
    if (bsize == 0) return 2048;
    return (2048u >> bsize) * ((rctl_value & bsex) != 0 ? 16u : 1u);
}
// The BSIZE and BSEX bits for a buffer of `bytes` (the inverse of buffer_size(): 256, 512, 1024,
// 2048 without BSEX; 4096, 8192, 16384 with it, Linux's E1000_RCTL_SZ_*), 0xffffffff for a size
// RCTL cannot express.
constexpr std::uint32_t size_bits(std::uint32_t bytes) {
    switch (bytes) {
        case 2048:
            return 0;
        case 1024:
            return 1u << bsize_shift;
        case 512:
            return 2u << bsize_shift;
        case 256:
            return 3u << bsize_shift;
        case 16384:
            return bsex | 1u << bsize_shift;
        case 8192:
            return bsex | 2u << bsize_shift;
        case 4096:
            return bsex | 3u << bsize_shift;
        default:
            return 0xffffffffu;
    }
}
// Frame lengths (FCS included) past which the receiver drops a frame as oversize and counts it
// in ROC (SDM §13.7 ROC): 1522 bytes (a VLAN-tagged 1500-byte payload) without RCTL.LPE, 16384
// with it.
inline constexpr std::uint32_t max_frame_no_lpe = 1522;
inline constexpr std::uint32_t max_frame_lpe = 16384;
}  // namespace rctl

// TCTL (SDM §13.4.33).
namespace tctl {
inline constexpr std::uint32_t en = 1u << 1;     // Transmit Enable
inline constexpr std::uint32_t psp = 1u << 3;    // Pad Short Packets
inline constexpr std::uint32_t ct_shift = 4;     // Collision Threshold, bits 11:4
inline constexpr std::uint32_t cold_shift = 12;  // Collision Distance, bits 21:12
}  // namespace tctl

// RAH (SDM §13.4.63).
inline constexpr std::uint32_t rah_av = 1u << 31;  // Address Valid

inline constexpr std::uint32_t descriptor_bytes = 16;
inline constexpr std::uint32_t ring_align_bytes = 128;   // RDLEN/TDLEN granularity
inline constexpr std::uint32_t ring_len_mask = 0xfff80;  // RDLEN/TDLEN LEN, bits 19:7

// Legacy transmit descriptor (SDM §3.3.3, Figure 3-8):
//   bytes 0-7 buffer address, 8-9 length, 10 CSO, 11 CMD, 12 STA (low nibble) and RSV,
//   13 CSS, 14-15 special (VLAN tag).
namespace txd_cmd {
inline constexpr std::uint8_t eop = 1u << 0;   // End Of Packet
inline constexpr std::uint8_t ifcs = 1u << 1;  // Insert FCS
inline constexpr std::uint8_t ic = 1u << 2;    // Insert Checksum
inline constexpr std::uint8_t rs = 1u << 3;    // Report Status: write back DD
inline constexpr std::uint8_t rps = 1u << 4;   // Report Packet Sent (82544 only)
inline constexpr std::uint8_t dext = 1u << 5;  // Descriptor Extension: 0 for legacy
inline constexpr std::uint8_t vle = 1u << 6;   // VLAN Packet Enable
inline constexpr std::uint8_t ide = 1u << 7;   // Interrupt Delay Enable
}  // namespace txd_cmd
namespace txd_sta {
inline constexpr std::uint8_t dd = 1u << 0;  // Descriptor Done
inline constexpr std::uint8_t ec = 1u << 1;  // Excess Collisions
inline constexpr std::uint8_t lc = 1u << 2;  // Late Collision
}  // namespace txd_sta

struct tx_desc {
    std::uint64_t buffer_addr = 0;
    std::uint16_t length = 0;
    std::uint8_t cso = 0;
    std::uint8_t cmd = 0;
    std::uint8_t sta = 0;
    std::uint8_t css = 0;
    std::uint16_t special = 0;

    std::array<std::uint8_t, descriptor_bytes> encode() const;
    static tx_desc decode(const std::uint8_t* bytes);
};

// Receive descriptor (SDM §3.2.3, Figure 3-1):
//   bytes 0-7 buffer address, 8-9 length, 10-11 packet checksum, 12 status, 13 errors,
//   14-15 special (VLAN tag).
namespace rxd_stat {
inline constexpr std::uint8_t dd = 1u << 0;    // Descriptor Done
inline constexpr std::uint8_t eop = 1u << 1;   // End Of Packet
inline constexpr std::uint8_t ixsm = 1u << 2;  // Ignore Checksum Indication
inline constexpr std::uint8_t vp = 1u << 3;    // Packet is 802.1Q
}  // namespace rxd_stat

struct rx_desc {
    std::uint64_t buffer_addr = 0;
    std::uint16_t length = 0;
    std::uint16_t csum = 0;
    std::uint8_t status = 0;
    std::uint8_t errors = 0;
    std::uint16_t special = 0;

    std::array<std::uint8_t, descriptor_bytes> encode() const;
    static rx_desc decode(const std::uint8_t* bytes);
};

}  // namespace iovsim::emunic
