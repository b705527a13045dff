// The NIC's 16-byte TX and RX descriptors and ring index arithmetic.
//
// Models the descriptor rings each function (PF or VF) owns per queue pair: a ring of N 16-byte
// descriptors in host memory (N a power of two, 8..32768; base 128-byte aligned), a head the NIC
// advances as it consumes descriptors and a tail the driver writes through a doorbell register
// when it has filled some. Descriptors [head, tail) belong to the NIC; the ring is full when
// tail + 1 == head (one slot stays empty so that full and empty differ). All fields are little
// endian. The layout follows Intel's legacy descriptors (82599 datasheet §7.1.5, §7.2.3.2.2):
//
//   TX descriptor (the driver writes it; the NIC writes back only STATUS.DD)
//     bytes 0-7   buffer address (DMA address of the frame data)
//     bytes 8-9   length (bytes of frame data in the buffer, FCS excluded)
//     byte  10    CMD:    bit 0 EOP  end of packet (last buffer of the frame)
//                         bit 1 RS   report status: write back DD when done
//                         bit 2 IFCS insert FCS
//                         bit 3 VLE  insert the 802.1Q tag in bytes 12-13
//     byte  11    STATUS: bit 0 DD   descriptor done (written back by the NIC)
//     bytes 12-13 VLAN tag control information to insert
//     bytes 14-15 reserved, 0
//
//   RX descriptor (the driver writes the buffer address and clears the rest; the NIC writes back
//   bytes 8-15 when it has placed a frame)
//     bytes 0-7   buffer address
//     bytes 8-9   length (bytes placed in the buffer, FCS stripped)
//     bytes 10-11 reserved, 0
//     byte  12    STATUS: bit 0 DD descriptor done; bit 1 EOP end of packet; bit 2 VP the
//                         frame's 802.1Q tag was stripped into bytes 14-15
//     byte  13    ERRORS: bit 0 CE CRC error; bit 1 LE frame longer than the buffer (truncated)
//     bytes 14-15 stripped VLAN tag control information
//
// Leaves out: context descriptors and offloads (checksum, TSO), advanced/split descriptor
// formats, head write-back.
//
// Timing: none; the DMA engine charges the reads and write-backs.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace iovsim::nic {

inline constexpr std::size_t descriptor_bytes = 16;
using descriptor_bytes_t = std::array<std::uint8_t, descriptor_bytes>;

namespace tx_cmd {
inline constexpr std::uint8_t eop = 1u << 0;
inline constexpr std::uint8_t rs = 1u << 1;
inline constexpr std::uint8_t ifcs = 1u << 2;
inline constexpr std::uint8_t vle = 1u << 3;
}  // namespace tx_cmd

namespace desc_status {
inline constexpr std::uint8_t dd = 1u << 0;
inline constexpr std::uint8_t eop = 1u << 1;  // RX only
inline constexpr std::uint8_t vp = 1u << 2;   // RX only
}  // namespace desc_status

namespace rx_error {
inline constexpr std::uint8_t ce = 1u << 0;
inline constexpr std::uint8_t le = 1u << 1;
}  // namespace rx_error

namespace detail {
inline void put_le(descriptor_bytes_t& b, std::size_t at, std::uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline std::uint64_t get_le(const descriptor_bytes_t& b, std::size_t at, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{b[at + i]} << (8 * i);
    return v;
}
}  // namespace detail

struct tx_descriptor {
    std::uint64_t buffer_address = 0;
    std::uint16_t length = 0;
    std::uint8_t cmd = 0;
    std::uint8_t status = 0;
    std::uint16_t vlan = 0;

    descriptor_bytes_t encode() const {
        descriptor_bytes_t b{};
        detail::put_le(b, 0, buffer_address, 8);
        detail::put_le(b, 8, length, 2);
        b[10] = cmd;
        b[11] = status;
        detail::put_le(b, 12, vlan, 2);
        return b;
    }
    static tx_descriptor decode(const descriptor_bytes_t& b) {
        tx_descriptor d;
        d.buffer_address = detail::get_le(b, 0, 8);
        d.length = static_cast<std::uint16_t>(detail::get_le(b, 8, 2));
        d.cmd = b[10];
        d.status = b[11];
        d.vlan = static_cast<std::uint16_t>(detail::get_le(b, 12, 2));
        return d;
    }
    // Where the NIC writes back STATUS (one byte) and its value.
    static constexpr std::size_t status_offset = 11;
};

struct rx_descriptor {
    std::uint64_t buffer_address = 0;
    std::uint16_t length = 0;
    std::uint8_t status = 0;
    std::uint8_t errors = 0;
    std::uint16_t vlan = 0;

    descriptor_bytes_t encode() const {
        descriptor_bytes_t b{};
        detail::put_le(b, 0, buffer_address, 8);
        detail::put_le(b, 8, length, 2);
        b[12] = status;
        b[13] = errors;
        detail::put_le(b, 14, vlan, 2);
        return b;
    }
    static rx_descriptor decode(const descriptor_bytes_t& b) {
        rx_descriptor d;
        d.buffer_address = detail::get_le(b, 0, 8);
        d.length = static_cast<std::uint16_t>(detail::get_le(b, 8, 2));
        d.status = b[12];
        d.errors = b[13];
        d.vlan = static_cast<std::uint16_t>(detail::get_le(b, 14, 2));
        return d;
    }
    // The write-back covers bytes 8-15 (length, status, errors, VLAN), one 8-byte write.
    static constexpr std::size_t writeback_offset = 8;
    static constexpr std::size_t writeback_bytes = 8;
};

// Index arithmetic of one ring.
class descriptor_ring {
public:
    static constexpr std::uint32_t min_size = 8;
    static constexpr std::uint32_t max_size = 32768;
    static constexpr std::uint64_t base_alignment = 128;

    // Throws std::invalid_argument for a size that is not a power of two in 8..32768 or a base
    // that is not 128-byte aligned.
    descriptor_ring(std::uint64_t base, std::uint32_t size) : m_base(base), m_size(size) {
        if (size < min_size || size > max_size || (size & (size - 1)) != 0) {
            throw std::invalid_argument("descriptor ring: size " + std::to_string(size) +
                                        " is not a power of two in 8..32768");
        }
        if (base % base_alignment != 0) {
            throw std::invalid_argument("descriptor ring: base " + std::to_string(base) +
                                        " is not 128-byte aligned");
        }
    }

    std::uint64_t base() const { return m_base; }
    std::uint32_t size() const { return m_size; }
    std::uint64_t bytes() const { return std::uint64_t{m_size} * descriptor_bytes; }
    // True if `i` names a slot (a head or tail register value software may write).
    bool valid_index(std::uint32_t i) const { return i < m_size; }
    std::uint32_t next(std::uint32_t i) const { return (i + 1) & (m_size - 1); }
    std::uint32_t advance(std::uint32_t i, std::uint32_t n) const { return (i + n) & (m_size - 1); }
    // Descriptors owned by the NIC: from head up to (not including) tail, modulo the size.
    std::uint32_t pending(std::uint32_t head, std::uint32_t tail) const {
        return (tail - head) & (m_size - 1);
    }
    // Slots the driver may still fill.
    std::uint32_t free_slots(std::uint32_t head, std::uint32_t tail) const {
        return m_size - 1 - pending(head, tail);
    }
    bool empty(std::uint32_t head, std::uint32_t tail) const { return head == tail; }
    bool full(std::uint32_t head, std::uint32_t tail) const { return next(tail) == head; }
    // Address of descriptor `i` in host memory.
    std::uint64_t address(std::uint32_t i) const {
        return m_base + std::uint64_t{i & (m_size - 1)} * descriptor_bytes;
    }

private:
    std::uint64_t m_base;
    std::uint32_t m_size;
};

}  // namespace iovsim::nic
