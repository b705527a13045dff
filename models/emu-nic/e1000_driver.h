// A guest e1000 driver (issue 6), written against models/cpu's guest_context so that it reads
// like Linux's drivers/net/ethernet/intel/e1000 (e1000_main.c): every register access is
// g.mmio_read32/mmio_write32 on BAR0 (a full exit to the VMM when the device is emulated), rings
// and buffers are real bytes in guest memory.
//
// Models, in Linux's order:
// - open(): e1000_reset_hw (IMC all, CTRL.RST, IMC all, ICR read), the link check (STATUS),
//   e1000_configure_tx (TDBAL/TDBAH/TDLEN/TDH/TDT, TIPG, TCTL = EN | PSP | CT | COLD),
//   e1000_configure_rx (RCTL without EN, RDTR, RDBAL/RDBAH/RDLEN/RDH/RDT, RCTL | EN),
//   e1000_alloc_rx_buffers (descriptors filled, RDT written once), e1000_irq_enable (IMS, then
//   E1000_WRITE_FLUSH, a STATUS read).
// - RCTL as e1000_setup_rctl sets it: the buffer size (BSIZE, and BSEX for 4096 B and up) and
//   long packet enable (LPE) for an MTU above 1500; e1000_rx_buffer_len() is e1000_change_mtu's
//   choice of size in the Linux 2.6-era driver (today's x86 driver receives jumbo frames in
//   page-sized 4 KiB buffers chained across descriptors; not modelled). A frame larger than one RX
//   buffer spans descriptors and is gathered up to EOP, but the platform (emulation_vm) sizes the
//   buffers so that one holds a whole frame.
// - xmit() (e1000_xmit_frame): the frame is copied into the next TX buffer, one legacy
//   descriptor (EOP | IFCS | RS) written, TDT written. false when no descriptor is free
//   (NETDEV_TX_BUSY).
// - handle_interrupt(), after the vector is taken (e1000_intr, then the NAPI poll e1000_clean):
//   ICR read (0: not ours, IRQ_NONE), IMC all + flush, EOI; e1000_clean_tx_irq (descriptors with
//   DD), e1000_clean_rx_irq (descriptors with DD: frames gathered up to EOP, handed up), refill
//   and one RDT write, e1000_irq_enable (IMS + flush). A transmit and the receive of its reply
//   thus cost at least TDT, ICR, IMC, RDT and IMS: five or more exits.
// Ring indices follow the hardware's convention: the device owns [head, tail); one descriptor
// always stays empty so that head == tail means "none".
//
// Leaves out: the rest of the network stack (frames are handed back to the caller), the CPU
// work of the stack and of the driver beyond its memory accesses, NAPI budgets and repolls,
// checksum and segmentation offload (no context descriptors), the watchdog, multicast lists,
// EEPROM reads (the device's reset MAC in RAL0/RAH0 is used). Timing: none of its own; each
// guest_context call costs what the vCPU says.
#pragma once

#include <cstdint>
#include <vector>

#include "models/cpu/guest.h"

namespace iovsim::emunic {

struct e1000_driver_params {
    std::uint64_t bar0 = 0;  // guest-physical base of BAR0
    // Guest RAM the driver owns from here on (dma_bytes() long): TX ring, RX ring, TX buffers,
    // RX buffers, each 128-byte aligned.
    std::uint64_t dma_base = 0;
    std::uint32_t tx_descriptors = 8;  // a nonzero multiple of 8: TDLEN a multiple of 128
    std::uint32_t rx_descriptors = 8;  // likewise for RDLEN
    std::uint32_t tx_buffer_bytes = 2048;
    // 256, 512, 1024 or 2048 (RCTL.BSIZE); 4096, 8192 or 16384 (with RCTL.BSEX):
    // e1000_rx_buffer_len(mtu) as Linux picks it.
    std::uint32_t rx_buffer_bytes = 2048;
    // The interface's MTU (68..16110: the 8254x's 16128 B frame limit, as Linux's e1000 allows);
    // above 1500, RCTL.LPE (long packet enable) is set.
    unsigned mtu = 1500;
    std::uint8_t vector = 0x30;  // the guest vector the device's interrupt arrives on
};

struct e1000_driver_stats {
    std::uint64_t tx_packets = 0, tx_busy = 0, tx_cleaned = 0;
    std::uint64_t rx_packets = 0;
    std::uint64_t interrupts = 0, not_ours = 0;  // ICR read nonzero / zero
};

// The RX buffer length for an MTU (e1000_change_mtu of the Linux 2.6-era driver, the sizes
// e1000_setup_rctl programs): the largest frame, mtu + 18 with header and FCS, rounded up to
// 2048, 4096, 8192 or 16384 bytes.
std::uint32_t e1000_rx_buffer_len(unsigned mtu);

class e1000_driver {
public:
    // std::invalid_argument for ring sizes that are zero or not multiples of 8, or an RX buffer
    // size RCTL cannot express.
    explicit e1000_driver(const e1000_driver_params& p);

    // Guest RAM bytes the driver uses from dma_base.
    std::uint64_t dma_bytes() const {
        return m_rx_buffers + std::uint64_t{m_params.rx_descriptors} * m_params.rx_buffer_bytes -
               m_params.dma_base;
    }

    void open(cpu::guest_context& g);
    // `frame` without FCS (the device inserts it, IFCS); at most tx_buffer_bytes.
    // std::invalid_argument for an empty or oversized frame.
    bool xmit(cpu::guest_context& g, const std::vector<std::uint8_t>& frame);
    // The interrupt handler and the NAPI poll; returns the frames received.
    std::vector<std::vector<std::uint8_t>> handle_interrupt(cpu::guest_context& g);
    // Waits for the vector (halt or poll, as the VM says), then handle_interrupt().
    std::vector<std::vector<std::uint8_t>> wait_and_handle(cpu::guest_context& g);

    const e1000_driver_stats& stats() const { return m_stats; }
    std::uint32_t tx_unused() const;  // descriptors free for xmit()

    // Layout, for tests.
    std::uint64_t tx_ring() const { return m_params.dma_base; }
    std::uint64_t rx_ring() const { return m_rx_ring; }
    std::uint64_t tx_buffer(std::uint32_t i) const {
        return m_tx_buffers + std::uint64_t{i} * m_params.tx_buffer_bytes;
    }
    std::uint64_t rx_buffer(std::uint32_t i) const {
        return m_rx_buffers + std::uint64_t{i} * m_params.rx_buffer_bytes;
    }

private:
    std::uint32_t reg_read(cpu::guest_context& g, std::uint32_t offset);
    void reg_write(cpu::guest_context& g, std::uint32_t offset, std::uint32_t value);
    void write_flush(cpu::guest_context& g) { reg_read(g, 0x0008); }  // E1000_WRITE_FLUSH
    void irq_disable(cpu::guest_context& g);
    void irq_enable(cpu::guest_context& g);
    void alloc_rx_buffers(cpu::guest_context& g);
    void clean_tx_irq(cpu::guest_context& g);
    void clean_rx_irq(cpu::guest_context& g, std::vector<std::vector<std::uint8_t>>& out);

    e1000_driver_params m_params;
    std::uint64_t m_rx_ring = 0, m_tx_buffers = 0, m_rx_buffers = 0;
    std::uint32_t m_tx_next_to_use = 0, m_tx_next_to_clean = 0;
    std::uint32_t m_rx_next_to_use = 0, m_rx_next_to_clean = 0;
    std::vector<std::uint8_t> m_rx_partial;  // a frame spanning descriptors, up to EOP
    e1000_driver_stats m_stats;
};

}  // namespace iovsim::emunic
