// The e1000-like NIC that the user-space VMM emulates (issue 6, DESIGN.md §1, §6), as QEMU's
// hw/net/e1000.c does: a plain-C++ device model behind the VM's emulated BAR0 (a models/cpu
// mmio_handler registered with where = vmm), so every guest register access is a full exit to
// the VMM on the vCPU's own thread, and the receive side that the VMM's I/O thread runs when a
// frame arrives from the host tap.
//
// Models:
// - The register file of e1000_regs.h: ICR read to clear (and write 1 to clear), ICS sets causes,
//   IMS sets and IMC clears the mask, MPC/GPRC/GPTC read to clear, CTRL.RST resets the device
//   (self clearing), STATUS read only (link up, full duplex, 1000 Mb/s). The interrupt line is
//   edge-modelled: the irq callback fires when ICR & IMS goes from zero to nonzero (a cause set
//   while unmasked, or IMS unmasking a pending cause); the VMM turns it into an injection
//   through KVM (kvm::irqfd).
// - TX: a TDT write (or a TCTL write enabling the transmitter) with TCTL.EN processes the
//   legacy descriptors from TDH up to TDT: each descriptor and each buffer is read from guest
//   memory through the VMM's own GPA->HPA translation (ept::ram_hpa) in host memory; a frame
//   gathers at most 64 KiB (QEMU's e1000 TX buffer: bytes of further buffers are not read, the
//   frame goes out cut at 64 KiB and counts in tx_truncated); a descriptor with EOP ends the
//   frame, which goes to the tap (the output callback; padded to 60 bytes with TCTL.PSP); RS
//   writes DD back; TDH advances, wrapping at TDLEN; TXDW for written-back descriptors and TXQE
//   once the ring is empty.
// - RX: receive() takes a frame the I/O thread read from the tap. With RCTL.EN, a frame that
//   passes the address filter (RAL0/RAH0 with AV, broadcast with BAM, multicast with MPE, all
//   with UPE) is written into the buffers of the descriptors from RDH (RCTL.BSIZE/BSEX bytes
//   each; a frame spans descriptors, EOP on the last), each written back with its length and
//   DD; RDH advances; RXT0. Without enough free descriptors (RDH..RDT) the frame is dropped:
//   MPC counts it and RXO is raised. Frames shorter than 60 bytes are padded to 60. A frame for
//   this station longer than 1522 bytes with its FCS (the tap carries none: 1518 without) is
//   oversize unless RCTL.LPE (long packet enable; then past 16384): dropped, counted in ROC and
//   rx_oversize (SDM §13.7; QEMU's e1000x_is_oversized). IFCS and SECRC change nothing.
// - Bad driver input never crashes: a ring whose length is 0 (RDLEN/TDLEN bits 6:0 are ignored,
//   so it is always a multiple of 128 bytes), a head or tail index past the ring's end, or a
//   descriptor or buffer not wholly inside guest RAM stops that queue (tx_stopped()/rx_stopped(),
//   counted in ring_errors or dma_errors) until CTRL.RST. Accesses that are not aligned 4-byte
//   accesses inside BAR0, and unknown registers, are counted in bad_accesses (reads return 0,
//   writes are dropped).
//
// Leaves out: interrupt moderation (ITR, RDTR, TIDV, RADV, TADV: causes are raised at once),
// RXDMT0, extended (DEXT) transmit descriptors (consumed and counted, nothing sent), checksum
// and segmentation offload, VLAN insertion and stripping, multicast table arrays and RAR
// entries other than 0, the EEPROM, PHY and flow control, the I/O-mapped register window.
//
// Timing: every call returns its work in CPU cycles (e1000_params, documented defaults) which
// the caller charges: the vCPU adds it to the exit (vmm state) for register accesses, the I/O
// thread runs it on its core for receive(). Frames to the tap and interrupts are stamped inside
// that work: at `now` plus the cycles spent up to that point, at params.cpu_clock_hz.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/core/stats.h"
#include "models/core/units.h"
#include "models/cpu/ept.h"
#include "models/cpu/guest.h"
#include "models/cpu/posted_interrupt.h"
#include "models/emu-nic/e1000_regs.h"

namespace iovsim::emunic {

struct e1000_params {
    // host.cpu_clock: converts the device's cycles into times for the frames and interrupts it
    // produces inside one call (the vCPU converts the returned total itself).
    double cpu_clock_hz = 2.1e9;
    // The register handler once the VMM has dispatched the exit to the device (QEMU's
    // e1000_mmio_read/write and the macreg handler): an estimate.
    std::uint64_t reg_access_cycles = 100;
    // One software GPA->HPA lookup for one guest-memory access (a descriptor, a buffer, a
    // write-back): QEMU's address_space_map / flatview lookup, an estimate.
    std::uint64_t map_cycles = 150;
    // Copying between guest memory and a VMM buffer, per 64-byte line touched (memcpy of cached
    // data at about 8 bytes per cycle).
    std::uint64_t copy_cycles_per_line = 8;
    // write() of one frame to the tap file descriptor (syscall and tap driver), an estimate.
    std::uint64_t tap_write_cycles = 2500;
    // read() of one frame from the tap by the VMM's I/O thread (run by the caller of receive(),
    // emulated_e1000), an estimate.
    std::uint64_t tap_read_cycles = 2500;
    // The MAC address the device loads into RAL0/RAH0 (with AV) at reset, as the 8254x loads it
    // from its EEPROM. QEMU's default.
    std::uint64_t mac = 0x5254'0012'3456ull;
};

struct e1000_stats {
    core::counter reg_reads, reg_writes;
    core::counter bad_accesses;  // unaligned, not 4 bytes, outside BAR0, unknown register
    core::counter tx_frames, tx_bytes;
    core::counter tx_unsupported;  // DEXT descriptors consumed without sending
    core::counter tx_truncated;    // frames cut at max_tx_frame_bytes (the rest dropped)
    core::counter rx_frames, rx_bytes;
    core::counter rx_missed;    // no free receive descriptors (MPC)
    core::counter rx_filtered;  // not for this station (address filter)
    core::counter rx_dropped;   // receiver disabled or stopped
    core::counter rx_oversize;  // longer than RCTL.LPE allows (ROC)
    core::counter interrupts;   // raises of the interrupt line
    core::counter ring_errors;  // bad ring length or index: queue stopped
    core::counter dma_errors;   // descriptor or buffer outside guest RAM: queue stopped

    // <prefix>reg_reads, ... (counts).
    void register_stats(core::stats_registry& reg, const std::string& prefix) const;
};

class e1000_device : public cpu::mmio_handler {
public:
    // The most a TX frame gathers across its descriptors (QEMU's struct e1000_tx data[0x10000]).
    static constexpr std::size_t max_tx_frame_bytes = 64 * 1024;

    // A frame for the host tap (no FCS) and when the VMM's write() of it completes.
    using tap_output = std::function<void(const std::vector<std::uint8_t>& frame, tick_t at)>;
    // The interrupt line raised at `at`.
    using irq_output = std::function<void(tick_t at)>;

    // `guest` is the VM's GPA map (its RAM ranges are the VMM's GPA->HPA table); `host_memory`
    // is host-physical memory. Both must outlive the device. std::invalid_argument for a clock
    // that is not positive.
    e1000_device(const e1000_params& p, const cpu::ept& guest, cpu::descriptor_memory& host_memory);

    void set_tap_output(tap_output f) { m_tap = std::move(f); }
    void set_irq(irq_output f) { m_irq = std::move(f); }
    // Called at an RCTL or RDT write (the time the write reaches the device): the VMM may have
    // frames held back that can now be received (QEMU's qemu_flush_queued_packets).
    void set_rx_ready(irq_output f) { m_rx_ready = std::move(f); }

    // QEMU's e1000_can_receive: the receiver is on (RCTL.EN, not stopped) and the ring has a
    // free descriptor (RDH != RDT) for a frame of `bytes` (each buffer RCTL's size). When not,
    // the VMM leaves frames in the tap instead of handing them to receive().
    bool can_receive(std::size_t bytes) const;

    // mmio_handler: offsets from BAR0. Returns cycles.
    std::uint64_t read(std::uint64_t offset, unsigned size, std::uint64_t& value,
                       tick_t now) override;
    std::uint64_t write(std::uint64_t offset, unsigned size, std::uint64_t value,
                        tick_t now) override;

    // A frame (no FCS) the VMM's I/O thread has read from the tap, handled from `now`; returns
    // the cycles of the copy into the guest and the write-back (the tap read is the caller's:
    // tap_read_cycles).
    std::uint64_t receive(const std::vector<std::uint8_t>& frame, tick_t now);

    // Power-on / CTRL.RST state.
    void reset();

    // A register's value without the side effects of a guest read (tests, dumps); 0 for an
    // unknown offset.
    std::uint32_t peek(std::uint32_t offset) const;
    bool tx_stopped() const { return m_tx_stopped; }
    bool rx_stopped() const { return m_rx_stopped; }
    bool irq_level() const { return (m_icr & m_ims) != 0; }
    const e1000_stats& stats() const { return m_stats; }
    const e1000_params& params() const { return m_params; }

private:
    struct ring {
        std::uint32_t bal = 0, bah = 0, len = 0, head = 0, tail = 0;
        std::uint64_t base() const { return std::uint64_t{bah} << 32 | (bal & ~0xfu); }
        std::uint32_t count() const { return len / descriptor_bytes; }
        // Length nonzero (a multiple of 128 as written), head and tail inside the ring.
        bool valid() const;
    };

    tick_t at(tick_t now, std::uint64_t cycles) const;
    // One guest-memory access through the VMM's GPA->HPA table; false if not wholly in RAM.
    bool guest_read(std::uint64_t gpa, void* dst, std::uint64_t len, std::uint64_t& cycles);
    bool guest_write(std::uint64_t gpa, const void* src, std::uint64_t len, std::uint64_t& cycles);
    std::uint64_t copy_cycles(std::uint64_t gpa, std::uint64_t len) const;
    // Sets ICR bits; raises the line at `when` if ICR & IMS became nonzero.
    void set_cause(std::uint32_t cause, tick_t when);
    void update_irq(std::uint32_t before, tick_t when);
    // Processes TX descriptors; returns cycles.
    std::uint64_t transmit(tick_t now);
    bool accepts(const std::vector<std::uint8_t>& frame) const;
    bool is_register(std::uint32_t offset) const;
    std::uint32_t* plain_register(std::uint32_t offset);

    e1000_params m_params;
    const cpu::ept& m_guest;
    cpu::descriptor_memory& m_mem;
    tap_output m_tap;
    irq_output m_rx_ready;
    irq_output m_irq;

    std::uint32_t m_ctrl = 0, m_status = 0, m_icr = 0, m_ims = 0, m_rctl = 0, m_tctl = 0;
    std::uint32_t m_mpc = 0, m_gprc = 0, m_gptc = 0, m_roc = 0;
    ring m_rx, m_tx;
    // Registers that only hold their value here (ITR, TIPG, RDTR, TIDV, RAL/RAH 0-15).
    std::unordered_map<std::uint32_t, std::uint32_t> m_plain;
    std::vector<std::uint8_t> m_tx_packet;  // the frame being gathered across descriptors
    bool m_tx_truncated = false;            // it reached max_tx_frame_bytes
    bool m_tx_stopped = false, m_rx_stopped = false;
    e1000_stats m_stats;
};

}  // namespace iovsim::emunic
