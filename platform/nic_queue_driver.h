// The host side of one NIC function's queue pair, as its driver sees it: where the TX and RX
// rings and buffers sit in memory, the ring indices the driver keeps, and the driver's open()
// (rings programmed through BAR0, RX descriptors handed to the NIC, queues enabled), one frame's
// transmit (buffer, EOP|RS descriptor, TDT) and receive (descriptor and frame read back and
// checked, the slot given back through RDT). Written against queue_bus, the accesses a driver
// makes: the host CPU stand-in's (the PF in bare-metal `iovsim run`, the VFs in nicbench) or a
// guest's through its vCPU (the VF driver in a passthrough VM: addresses are then guest-physical,
// the doorbells passthrough MMIO). Takes no time of its own: every access is timed by the path
// it takes.
//
// Buffers: one size for every TX and RX buffer, nic_queues::buffer_bytes, from the interface's MTU
// as Linux drivers size them (nic_rx_buffer_bytes()): 2 KiB up to the standard 1500 B MTU (the
// NIC's RXBUFSZ reset value, left as it is), else the largest frame rounded up to 1 KiB, written
// to RXBUFSZ at open. One buffer always holds a whole frame, so frames spanning buffers are not
// modelled on either side. The region grows with the buffers (nic_queues::region_bytes()).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "iommu/driver.h"
#include "models/cpu/guest.h"
#include "models/net/ethernet.h"
#include "models/pcie/routing_id.h"
#include "platform/host_cpu.h"

namespace iovsim::platform {

inline constexpr std::uint32_t nic_queue_ring = 64;       // descriptors per ring
inline constexpr std::uint32_t nic_queue_buffer = 0x800;  // RXBUFSZ reset value: 2 KiB
inline constexpr unsigned host_pf_irte = 64;     // the PF's RX interrupt under remapping (VMs: 0..)
inline constexpr unsigned host_pf_tx_irte = 65;  // the PF's TX interrupt under remapping

// Bytes per buffer for an interface of `mtu` bytes (68..9000; std::invalid_argument outside):
// 2048 up to 1500 (Linux's ixgbe/igb 2 KiB buffers), else the largest frame (mtu + 18, FCS
// included) rounded up to 1 KiB, as a driver sizes SRRCTL.BSIZEPACKET in 1 KiB units for jumbo
// frames: 9216 for 9000.
std::uint32_t nic_rx_buffer_bytes(unsigned mtu);

// A queue pair's memory from `region`: TX ring (64 descriptors of 16 B in its own page), RX ring
// at +4 KiB, TX buffers from +64 KiB, RX buffers after them. With 2 KiB buffers: TX buffers at
// +0x10000, RX buffers at +0x40000, 512 KiB in all; larger buffers move the RX buffers up and
// grow the region (buffers_span(), region_bytes(): 64 KiB granules).
struct nic_queues {
    std::uint64_t bar0 = 0, bar3 = 0;
    std::uint64_t region = 0;                       // rings and buffers: region_bytes() from here
    std::uint32_t buffer_bytes = nic_queue_buffer;  // every TX and RX buffer (RXBUFSZ)
    std::uint32_t tx_tail = 0;
    std::uint32_t rx_next = 0;  // the next RX descriptor the NIC writes back
    std::uint32_t rx_tail = 0;

    static constexpr std::uint64_t buffers_offset = 0x10000;
    // Bytes from the first TX buffer to the first RX buffer: the ring's buffers, 64 KiB aligned,
    // at least 192 KiB (the 2 KiB layout).
    std::uint64_t buffers_span() const { return std::max<std::uint64_t>(ring_buffers(), 0x30000); }
    std::uint64_t region_bytes() const {
        return std::max<std::uint64_t>(buffers_offset + buffers_span() + ring_buffers(), 0x80000);
    }
    // One ring's buffers, rounded up to 64 KiB.
    std::uint64_t ring_buffers() const {
        return (std::uint64_t{nic_queue_ring} * buffer_bytes + 0xffff) & ~0xffffull;
    }

    std::uint64_t tx_ring() const { return region; }
    std::uint64_t rx_ring() const { return region + 0x1000; }
    std::uint64_t tx_buf(std::uint32_t i) const {
        return region + buffers_offset + std::uint64_t{i} * buffer_bytes;
    }
    std::uint64_t rx_buf(std::uint32_t i) const {
        return region + buffers_offset + buffers_span() + std::uint64_t{i} * buffer_bytes;
    }
};

// The memory and MMIO accesses of whoever runs the driver.
class queue_bus {
public:
    virtual ~queue_bus() = default;
    virtual void mem_read(std::uint64_t addr, void* data, std::uint32_t len) = 0;
    virtual void mem_write(std::uint64_t addr, const void* data, std::uint32_t len) = 0;
    virtual std::uint32_t mmio_read32(std::uint64_t addr) = 0;
    virtual void mmio_write32(std::uint64_t addr, std::uint32_t value) = 0;
};

class host_queue_bus final : public queue_bus {
public:
    explicit host_queue_bus(host_cpu& cpu) : m_cpu(cpu) {}
    void mem_read(std::uint64_t a, void* d, std::uint32_t n) override { m_cpu.mem_read(a, d, n); }
    void mem_write(std::uint64_t a, const void* d, std::uint32_t n) override {
        m_cpu.mem_write(a, d, n);
    }
    std::uint32_t mmio_read32(std::uint64_t a) override { return m_cpu.mmio_read32(a); }
    void mmio_write32(std::uint64_t a, std::uint32_t v) override { m_cpu.mmio_write32(a, v); }

private:
    host_cpu& m_cpu;
};

class guest_queue_bus final : public queue_bus {
public:
    explicit guest_queue_bus(cpu::guest_context& g) : m_g(g) {}
    void mem_read(std::uint64_t a, void* d, std::uint32_t n) override { m_g.read(a, d, n); }
    void mem_write(std::uint64_t a, const void* d, std::uint32_t n) override { m_g.write(a, d, n); }
    std::uint32_t mmio_read32(std::uint64_t a) override { return m_g.mmio_read32(a); }
    void mmio_write32(std::uint64_t a, std::uint32_t v) override { m_g.mmio_write32(a, v); }

private:
    cpu::guest_context& m_g;
};

// Writes RX descriptor `slot` pointing at its buffer, ready to hand to the NIC.
void give_rx_slot(queue_bus& b, const nic_queues& q, std::uint32_t slot);

// The driver's open(): rings programmed (RXBUFSZ = q.buffer_bytes when that is not the reset
// value), all but one RX slot given to the NIC, TX and RX enabled. Throws std::runtime_error naming
// `who` if the function does not enable its queues.
void open_queues(queue_bus& b, nic_queues& q, const std::string& who);

// Puts `frame` (FCS excluded) in the next TX slot with an EOP|RS descriptor and advances
// q.tx_tail; ring_tx() then writes TDT. std::invalid_argument for a frame longer than a buffer.
void post_tx(queue_bus& b, nic_queues& q, const std::vector<std::uint8_t>& frame);
void ring_tx(queue_bus& b, const nic_queues& q);

// The next RX descriptor as the NIC wrote it back: done (DD), and whether the frame is `expect`
// (EOP, no errors, the same bytes). Does not give the slot back: recycle_rx() does.
struct rx_check {
    bool done = false;
    bool verified = false;
};
rx_check take_rx(queue_bus& b, const nic_queues& q, const std::vector<std::uint8_t>& expect);
// The frame in the next RX descriptor, if the NIC wrote one back (DD) whole (EOP, no errors);
// `done` says whether DD was set. Does not give the slot back.
std::optional<std::vector<std::uint8_t>> receive_frame(queue_bus& b, const nic_queues& q,
                                                       bool& done);
// Acknowledges the RX cause (ICR, write 1 to clear), gives the slot back and writes RDT.
void recycle_rx(queue_bus& b, nic_queues& q);

// The same steps for a driver whose device reaches memory at addresses other than the CPU's (a
// host driver whose device is in an IOMMU domain of its own: the IOVAs of Linux's dma_map_single()
// and dma_alloc_coherent()): descriptors and ring base registers carry the device's address,
// given separately; the CPU still reaches rings and buffers at q's addresses.

// The rings' addresses as the device uses them.
struct nic_queue_dma {
    std::uint64_t tx_ring = 0, rx_ring = 0;
};
// Writes RX descriptor `slot` pointing at device address `dma` (its buffer is q.rx_buf(slot)).
void give_rx_slot_at(queue_bus& b, const nic_queues& q, std::uint32_t slot, std::uint64_t dma);
// open_queues() with the rings at `rings` and RX slot i's buffer at rx_dma[i]: exactly
// nic_queue_ring - 1 buffers, all given to the NIC (slot nic_queue_ring - 1 stays the driver's,
// its descriptor unwritten until recycle_rx_at() fills it). std::invalid_argument for another
// count; std::runtime_error naming `who` as open_queues().
void open_queues_at(queue_bus& b, nic_queues& q, const nic_queue_dma& rings,
                    const std::vector<std::uint64_t>& rx_dma, const std::string& who);
// post_tx() with the descriptor pointing at device address `dma` (q.tx_buf(q.tx_tail) mapped).
void post_tx_at(queue_bus& b, nic_queues& q, const std::vector<std::uint8_t>& frame,
                std::uint64_t dma);
// Whether the NIC wrote TX descriptor `slot` back with DD: it has fetched the buffer (TX
// completion, as a driver's TX clean reads it).
bool tx_done(queue_bus& b, const nic_queues& q, std::uint32_t slot);
// take_rx() in two steps, for a driver that unmaps the buffer between them: peek_rx() reads the
// next RX descriptor; read_rx() then reads the frame it describes (nothing when not done) and
// checks it against `expect` as take_rx() does.
struct rx_status {
    bool done = false;   // DD
    bool whole = false;  // EOP and no errors
    std::uint16_t length = 0;
};
rx_status peek_rx(queue_bus& b, const nic_queues& q);
rx_check read_rx(queue_bus& b, const nic_queues& q, const rx_status& s,
                 const std::vector<std::uint8_t>& expect);
// receive_frame() in the same two steps: the frame `s` (from peek_rx()) describes, if done and
// whole.
std::optional<std::vector<std::uint8_t>> read_received(queue_bus& b, const nic_queues& q,
                                                       const rx_status& s);
// recycle_rx() for open_queues_at(): acknowledges the RX cause, writes the descriptor of the
// slot the NIC gets next (q.rx_tail, its buffer q.rx_buf(q.rx_tail) mapped at `dma`), advances
// past the slot just read and writes RDT.
void recycle_rx_at(queue_bus& b, nic_queues& q, std::uint64_t dma);

// The address of MSI-X table entry `entry` of function `id` whose table is in the BAR3 at `bar3`
// (config reads on `cpu`); std::runtime_error naming `who` if there is no MSI-X capability or
// the table is not in BAR3.
std::uint64_t msix_entry_address(host_cpu& cpu, pcie::routing_id id, std::uint64_t bar3,
                                 unsigned entry, const std::string& who);

// With interrupt remapping on (Linux gives every MSI an IRTE and programs the device with the
// remappable format; a compatibility-format message would be blocked): IRTE `irte` remaps the
// function's MSI-X vector `entry` (nic::nic_reg::rx_vector or tx_vector) to APIC 0,
// `apic_vector`, source-ID checked, and that MSI-X entry gets the remappable address of the
// IRTE. After enable_interrupt(). remap_rx_interrupt / remap_tx_interrupt: for the RX and TX
// vectors.
void remap_interrupt(host_cpu& cpu, iommu::driver& drv, pcie::routing_id id, const nic_queues& q,
                     unsigned entry, std::uint8_t apic_vector, unsigned irte,
                     const std::string& who);
void remap_rx_interrupt(host_cpu& cpu, iommu::driver& drv, pcie::routing_id id, const nic_queues& q,
                        std::uint8_t apic_vector, unsigned irte, const std::string& who);
void remap_tx_interrupt(host_cpu& cpu, iommu::driver& drv, pcie::routing_id id, const nic_queues& q,
                        std::uint8_t apic_vector, unsigned irte, const std::string& who);

// Points the function's MSI-X vector `entry` at APIC 0 with `apic_vector`, unmasks it, enables
// MSI-X and sets IMS to `causes` (nic::nic_reg::icr_bits). Throws naming `who` if the table is
// missing or not in BAR3. enable_rx_interrupt: the RX vector and the RX cause (RXT);
// enable_tx_interrupt: the TX vector and the TX cause (TXDW).
void enable_interrupt(host_cpu& cpu, pcie::routing_id id, const nic_queues& q, unsigned entry,
                      std::uint8_t apic_vector, std::uint32_t causes, const std::string& who);
void enable_rx_interrupt(host_cpu& cpu, pcie::routing_id id, const nic_queues& q,
                         std::uint8_t apic_vector, const std::string& who);
void enable_tx_interrupt(host_cpu& cpu, pcie::routing_id id, const nic_queues& q,
                         std::uint8_t apic_vector, const std::string& who);

// A test frame of `bytes` (FCS excluded): the MACs, EtherType 0x88B5 (local experimental), the
// sequence number, then a payload derived from it, so a receiver can check every byte.
std::vector<std::uint8_t> make_frame(net::mac_address dst, net::mac_address src,
                                     std::uint32_t bytes, std::uint64_t seq);

}  // namespace iovsim::platform
