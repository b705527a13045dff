// The register map of one NIC function (PF or VF) and a small table-driven register bank.
//
// Models the per-function registers of the iovsim SR-IOV NIC. Every function (the PF and each
// VF) has the same layout at the start of its BAR0 (PF BAR0: 32 MiB, VF BAR0: 128 KiB per VF);
// all registers, the doorbells (TDT, RDT) included, sit on page 0 (offsets 0x000-0xfff) so that a
// VMM can map the page straight into a guest. The MSI-X table and PBA are not in BAR0: they live
// in BAR3 (PF: table at 0, PBA at 0x8000; VF: table at 0, PBA at 0x2000), each on a 4 KiB page of
// its own, so the VMM can trap the table page while the guest rings doorbells directly.
// Registers are 32 bits, little endian, accessed as aligned 4-byte (or 8-byte: two registers)
// memory requests; other sizes are an Unsupported Request.
//
//   off    name        access  meaning
//   0x000  CTRL        RW      bit 0 TXEN: TX queue enabled; bit 1 RXEN: RX queue enabled.
//                              Setting an enable bit checks the ring (TDLEN/RDLEN a power of two
//                              in 8..32768, base 128-byte aligned): a bad ring sets the
//                              queue's STATUS.*_RING_ERR and the enable bit stays clear. The
//                              NIC clears an enable bit when the queue stops on a DMA error.
//   0x004  STATUS      RO/W1C  bit 0 TX_ACTIVE, bit 1 RX_ACTIVE (RO, mirror the queue state);
//                              bit 2 TX_RING_ERR, bit 3 RX_RING_ERR (bad ring on enable);
//                              bit 4 TX_DMA_ERR, bit 5 RX_DMA_ERR (a descriptor or buffer access
//                              got an error completion: the queue stopped); bits 2-5 are W1C.
//   0x008  ICR         W1C     interrupt cause: bit 0 RXT (a frame was written back), bit 1 TXDW
//                              (a TX descriptor with RS was written back), bit 2 ERR (a queue
//                              stopped on an error).
//   0x00c  IMS         RW      interrupt enable, same bits as ICR; a cause with its IMS bit set
//                              raises the queue's MSI-X vector (RXT, ERR: vector 0; TXDW:
//                              vector 1). Reset 0.
//   0x010  RAL         RO      the function's MAC address, bytes 0-3 (byte 0 in bits 7:0), as
//   0x014  RAH         RO      the PF driver assigned it in the L2 switch; RAH bits 15:0 bytes 4-5.
//   0x018  RX_NODESC   RO      frames dropped because the RX ring had no free descriptor.
//   0x01c  DMA_ERRORS  RO      error completions seen by this function's DMA.
//   0x100  TDBAL       RW      TX ring base, bits 31:0 (DMA address, 128-byte aligned).
//   0x104  TDBAH       RW      TX ring base, bits 63:32.
//   0x108  TDLEN       RW      TX ring length in descriptors (a power of two, 8..32768).
//   0x10c  TDH         RW*     TX head: the next descriptor the NIC reads (*writable only while
//                              TXEN is clear; the NIC advances it).
//   0x110  TDT         RW      TX tail: the doorbell. Writing it hands [TDH, TDT) to the NIC.
//   0x200  RDBAL       RW      RX ring base, bits 31:0.
//   0x204  RDBAH       RW      RX ring base, bits 63:32.
//   0x208  RDLEN       RW      RX ring length in descriptors.
//   0x20c  RDH         RW*     RX head (as TDH).
//   0x210  RDT         RW      RX tail: the doorbell. [RDH, RDT) are free buffers for the NIC.
//   0x214  RXBUFSZ     RW      bytes per RX buffer (1..16384, reset 2048); longer frames are
//                              truncated and flagged ERRORS.LE.
// Everything else on page 0 and beyond reads 0 and ignores writes.
//
// Descriptor formats: sriov-nic/descriptor.h.
//
// Leaves out: multiple queue pairs per function, RSS, the PF-VF mailbox, statistics registers
// beyond the two above, head write-back, per-queue interrupt throttling registers (moderation
// is a NIC parameter).
//
// Timing: none; the NIC shell charges accesses.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace iovsim::nic {

namespace nic_reg {
inline constexpr std::uint32_t ctrl = 0x000;
inline constexpr std::uint32_t status = 0x004;
inline constexpr std::uint32_t icr = 0x008;
inline constexpr std::uint32_t ims = 0x00c;
inline constexpr std::uint32_t ral = 0x010;
inline constexpr std::uint32_t rah = 0x014;
inline constexpr std::uint32_t rx_nodesc = 0x018;
inline constexpr std::uint32_t dma_errors = 0x01c;
inline constexpr std::uint32_t tdbal = 0x100;
inline constexpr std::uint32_t tdbah = 0x104;
inline constexpr std::uint32_t tdlen = 0x108;
inline constexpr std::uint32_t tdh = 0x10c;
inline constexpr std::uint32_t tdt = 0x110;
inline constexpr std::uint32_t rdbal = 0x200;
inline constexpr std::uint32_t rdbah = 0x204;
inline constexpr std::uint32_t rdlen = 0x208;
inline constexpr std::uint32_t rdh = 0x20c;
inline constexpr std::uint32_t rdt = 0x210;
inline constexpr std::uint32_t rxbufsz = 0x214;
inline constexpr std::uint32_t page_bytes = 0x1000;  // registers and doorbells: page 0

namespace ctrl_bits {
inline constexpr std::uint32_t txen = 1u << 0;
inline constexpr std::uint32_t rxen = 1u << 1;
}  // namespace ctrl_bits
namespace status_bits {
inline constexpr std::uint32_t tx_active = 1u << 0;
inline constexpr std::uint32_t rx_active = 1u << 1;
inline constexpr std::uint32_t tx_ring_err = 1u << 2;
inline constexpr std::uint32_t rx_ring_err = 1u << 3;
inline constexpr std::uint32_t tx_dma_err = 1u << 4;
inline constexpr std::uint32_t rx_dma_err = 1u << 5;
}  // namespace status_bits
namespace icr_bits {
inline constexpr std::uint32_t rxt = 1u << 0;
inline constexpr std::uint32_t txdw = 1u << 1;
inline constexpr std::uint32_t err = 1u << 2;
}  // namespace icr_bits

inline constexpr std::uint32_t rxbufsz_reset = 2048;
inline constexpr std::uint32_t rxbufsz_max = 16384;
// MSI-X vectors of the queue pair.
inline constexpr unsigned rx_vector = 0;
inline constexpr unsigned tx_vector = 1;
}  // namespace nic_reg

// 32-bit registers at 4-byte-aligned offsets, each with a reset value, a read-write mask and a
// write-1-to-clear mask (bits in neither are read-only), and an optional callback run after a
// software write with the old value. The bank is the register map as data; behaviour lives in
// the callbacks.
class register_bank {
public:
    using write_callback = std::function<void(std::uint32_t old_value)>;

    // Throws std::invalid_argument for an unaligned offset, one already defined, or masks that
    // overlap.
    void define(std::uint32_t offset, std::uint32_t reset, std::uint32_t rw_mask,
                std::uint32_t w1c_mask = 0, write_callback cb = {}) {
        if (offset % 4 != 0) throw std::invalid_argument("register_bank: unaligned register");
        if (rw_mask & w1c_mask) throw std::invalid_argument("register_bank: overlapping masks");
        const std::size_t i = offset / 4;
        if (i >= m_regs.size()) m_regs.resize(i + 1);
        if (m_regs[i].defined) throw std::invalid_argument("register_bank: register redefined");
        m_regs[i] = {true, reset, reset, rw_mask, w1c_mask, std::move(cb)};
    }
    bool defined(std::uint32_t offset) const {
        return offset % 4 == 0 && offset / 4 < m_regs.size() && m_regs[offset / 4].defined;
    }
    // Software access: undefined offsets read 0 and ignore writes.
    std::uint32_t read(std::uint32_t offset) const {
        return defined(offset) ? m_regs[offset / 4].value : 0;
    }
    void write(std::uint32_t offset, std::uint32_t v) {
        if (!defined(offset)) return;
        reg& r = m_regs[offset / 4];
        const std::uint32_t old = r.value;
        r.value = (old & ~r.rw_mask & ~(v & r.w1c_mask)) | (v & r.rw_mask);
        if (r.cb) r.cb(old);
    }
    // Hardware side: no masks, no callbacks. Throws std::out_of_range for an undefined offset.
    std::uint32_t get(std::uint32_t offset) const { return at(offset).value; }
    void set(std::uint32_t offset, std::uint32_t v) { at(offset).value = v; }
    void set_bits(std::uint32_t offset, std::uint32_t bits) { at(offset).value |= bits; }
    void clear_bits(std::uint32_t offset, std::uint32_t bits) { at(offset).value &= ~bits; }
    void reset() {
        for (reg& r : m_regs) r.value = r.reset;
    }

private:
    struct reg {
        bool defined = false;
        std::uint32_t reset = 0;
        std::uint32_t value = 0;
        std::uint32_t rw_mask = 0;
        std::uint32_t w1c_mask = 0;
        write_callback cb;
    };
    reg& at(std::uint32_t offset) {
        if (!defined(offset)) throw std::out_of_range("register_bank: undefined register");
        return m_regs[offset / 4];
    }
    const reg& at(std::uint32_t offset) const {
        if (!defined(offset)) throw std::out_of_range("register_bank: undefined register");
        return m_regs[offset / 4];
    }
    std::vector<reg> m_regs;
};

}  // namespace iovsim::nic
