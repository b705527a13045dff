#include "platform/nic_queue_driver.h"

#include <fmt/format.h>

#include <stdexcept>

#include "iommu/interrupt_remapper.h"
#include "models/pcie/capabilities.h"
#include "models/pcie/enumeration.h"
#include "sriov-nic/descriptor.h"
#include "sriov-nic/nic_registers.h"

namespace iovsim::platform {

using namespace nic::nic_reg;

namespace {

// Ring bases and lengths, the RX tail, TX and RX enabled; throws naming `who` if the function does
// not enable its queues.
void program_queues(queue_bus& b, nic_queues& q, const nic_queue_dma& rings,
                    const std::string& who) {
    b.mmio_write32(q.bar0 + tdbal, static_cast<std::uint32_t>(rings.tx_ring));
    b.mmio_write32(q.bar0 + tdbah, static_cast<std::uint32_t>(rings.tx_ring >> 32));
    b.mmio_write32(q.bar0 + tdlen, nic_queue_ring);
    b.mmio_write32(q.bar0 + rdbal, static_cast<std::uint32_t>(rings.rx_ring));
    b.mmio_write32(q.bar0 + rdbah, static_cast<std::uint32_t>(rings.rx_ring >> 32));
    b.mmio_write32(q.bar0 + rdlen, nic_queue_ring);
    // The reset value (2 KiB) is what a standard MTU needs; jumbo buffers are written.
    if (q.buffer_bytes != rxbufsz_reset) b.mmio_write32(q.bar0 + rxbufsz, q.buffer_bytes);
    q.rx_tail = nic_queue_ring - 1;
    b.mmio_write32(q.bar0 + rdt, q.rx_tail);
    b.mmio_write32(q.bar0 + ctrl, ctrl_bits::txen | ctrl_bits::rxen);
    const std::uint32_t st = b.mmio_read32(q.bar0 + status);
    if ((st & (status_bits::tx_active | status_bits::rx_active)) !=
        (status_bits::tx_active | status_bits::rx_active)) {
        throw std::runtime_error(
            fmt::format("{} did not enable its queues (STATUS {:#x})", who, st));
    }
}

// The slot just read is done with: the next one is read next, the tail moves on (RDT).
void advance_rx(queue_bus& b, nic_queues& q) {
    q.rx_next = (q.rx_next + 1) % nic_queue_ring;
    q.rx_tail = (q.rx_tail + 1) % nic_queue_ring;
    b.mmio_write32(q.bar0 + rdt, q.rx_tail);
}

std::vector<std::uint8_t> read_frame(queue_bus& b, const nic_queues& q, std::uint16_t length) {
    std::vector<std::uint8_t> got(length);
    if (length) b.mem_read(q.rx_buf(q.rx_next), got.data(), length);
    return got;
}

}  // namespace

std::uint32_t nic_rx_buffer_bytes(unsigned mtu) {
    if (mtu < 68 || mtu > 9000)
        throw std::invalid_argument(
            fmt::format("nic_rx_buffer_bytes: MTU {} outside 68..9000", mtu));
    if (mtu <= net::standard_mtu) return nic_queue_buffer;
    const std::uint32_t frame = net::largest_frame_bytes(mtu);
    return (frame + 1023) / 1024 * 1024;
}

void give_rx_slot(queue_bus& b, const nic_queues& q, std::uint32_t slot) {
    give_rx_slot_at(b, q, slot, q.rx_buf(slot));
}

void open_queues(queue_bus& b, nic_queues& q, const std::string& who) {
    for (std::uint32_t i = 0; i < nic_queue_ring; ++i) give_rx_slot(b, q, i);
    program_queues(b, q, {q.tx_ring(), q.rx_ring()}, who);
}

void post_tx(queue_bus& b, nic_queues& q, const std::vector<std::uint8_t>& frame) {
    post_tx_at(b, q, frame, q.tx_buf(q.tx_tail));
}

void ring_tx(queue_bus& b, const nic_queues& q) { b.mmio_write32(q.bar0 + tdt, q.tx_tail); }

std::optional<std::vector<std::uint8_t>> receive_frame(queue_bus& b, const nic_queues& q,
                                                       bool& done) {
    const rx_status s = peek_rx(b, q);
    done = s.done;
    return read_received(b, q, s);
}

std::optional<std::vector<std::uint8_t>> read_received(queue_bus& b, const nic_queues& q,
                                                       const rx_status& s) {
    if (!s.done) return std::nullopt;
    auto got = read_frame(b, q, s.length);
    if (!s.whole) return std::nullopt;
    return got;
}

rx_check take_rx(queue_bus& b, const nic_queues& q, const std::vector<std::uint8_t>& expect) {
    return read_rx(b, q, peek_rx(b, q), expect);
}

void recycle_rx(queue_bus& b, nic_queues& q) {
    b.mmio_write32(q.bar0 + icr, icr_bits::rxt);  // W1C
    give_rx_slot(b, q, q.rx_next);
    advance_rx(b, q);
}

void give_rx_slot_at(queue_bus& b, const nic_queues& q, std::uint32_t slot, std::uint64_t dma) {
    nic::rx_descriptor d;
    d.buffer_address = dma;
    const auto e = d.encode();
    b.mem_write(q.rx_ring() + slot * nic::descriptor_bytes, e.data(), e.size());
}

void open_queues_at(queue_bus& b, nic_queues& q, const nic_queue_dma& rings,
                    const std::vector<std::uint64_t>& rx_dma, const std::string& who) {
    if (rx_dma.size() != nic_queue_ring - 1)
        throw std::invalid_argument(
            fmt::format("{}: {} RX buffers for a ring of {}", who, rx_dma.size(), nic_queue_ring));
    for (std::uint32_t i = 0; i < rx_dma.size(); ++i) give_rx_slot_at(b, q, i, rx_dma[i]);
    program_queues(b, q, rings, who);
}

void post_tx_at(queue_bus& b, nic_queues& q, const std::vector<std::uint8_t>& frame,
                std::uint64_t dma) {
    const std::uint32_t slot = q.tx_tail;
    const auto bytes = static_cast<std::uint32_t>(frame.size());
    if (bytes > q.buffer_bytes)
        throw std::invalid_argument(
            fmt::format("post_tx: a {} B frame in {} B buffers", bytes, q.buffer_bytes));
    b.mem_write(q.tx_buf(slot), frame.data(), bytes);
    nic::tx_descriptor d;
    d.buffer_address = dma;
    d.length = static_cast<std::uint16_t>(bytes);
    d.cmd = nic::tx_cmd::eop | nic::tx_cmd::rs;
    const auto db = d.encode();
    b.mem_write(q.tx_ring() + slot * nic::descriptor_bytes, db.data(), db.size());
    q.tx_tail = (q.tx_tail + 1) % nic_queue_ring;
}

bool tx_done(queue_bus& b, const nic_queues& q, std::uint32_t slot) {
    std::uint8_t st = 0;
    b.mem_read(q.tx_ring() + slot * nic::descriptor_bytes + nic::tx_descriptor::status_offset, &st,
               1);
    return (st & nic::desc_status::dd) != 0;
}

rx_status peek_rx(queue_bus& b, const nic_queues& q) {
    nic::descriptor_bytes_t rb;
    b.mem_read(q.rx_ring() + q.rx_next * nic::descriptor_bytes, rb.data(), rb.size());
    const nic::rx_descriptor r = nic::rx_descriptor::decode(rb);
    rx_status s;
    s.done = (r.status & nic::desc_status::dd) != 0;
    s.whole = (r.status & nic::desc_status::eop) && r.errors == 0;
    s.length = r.length;
    return s;
}

rx_check read_rx(queue_bus& b, const nic_queues& q, const rx_status& s,
                 const std::vector<std::uint8_t>& expect) {
    rx_check c;
    c.done = s.done;
    if (!s.done) return c;
    c.verified = s.whole && read_frame(b, q, s.length) == expect;
    return c;
}

void recycle_rx_at(queue_bus& b, nic_queues& q, std::uint64_t dma) {
    b.mmio_write32(q.bar0 + icr, icr_bits::rxt);  // W1C
    give_rx_slot_at(b, q, q.rx_tail, dma);
    advance_rx(b, q);
}

std::uint64_t msix_entry_address(host_cpu& cpu, pcie::routing_id id, std::uint64_t bar3,
                                 unsigned entry, const std::string& who) {
    const std::uint16_t cap = pcie::enumerator::find_capability(cpu, id, pcie::cap_id::msix);
    if (cap == 0) throw std::runtime_error(who + " has no MSI-X capability");
    const std::uint32_t table = cpu.config_read(id, cap + pcie::msix_reg::table_offset_bir, 4);
    if ((table & 7u) != 3) throw std::runtime_error(who + "'s MSI-X table is not in BAR3");
    return bar3 + (table & ~7u) + entry * 16;
}

void enable_interrupt(host_cpu& cpu, pcie::routing_id id, const nic_queues& q, unsigned entry,
                      std::uint8_t apic_vector, std::uint32_t causes, const std::string& who) {
    const std::uint64_t e = msix_entry_address(cpu, id, q.bar3, entry, who);
    cpu.mmio_write32(e + 0, 0xfee00000);  // Message Address: destination APIC ID 0
    cpu.mmio_write32(e + 4, 0);
    cpu.mmio_write32(e + 8, apic_vector);
    cpu.mmio_write32(e + 12, 0);  // unmasked
    const std::uint16_t cap = pcie::enumerator::find_capability(cpu, id, pcie::cap_id::msix);
    cpu.config_write(id, cap + pcie::msix_reg::message_control, 2, pcie::msix_reg::enable);
    cpu.mmio_write32(q.bar0 + ims, causes);
}

void enable_rx_interrupt(host_cpu& cpu, pcie::routing_id id, const nic_queues& q,
                         std::uint8_t apic_vector, const std::string& who) {
    enable_interrupt(cpu, id, q, rx_vector, apic_vector, icr_bits::rxt, who);
}

void enable_tx_interrupt(host_cpu& cpu, pcie::routing_id id, const nic_queues& q,
                         std::uint8_t apic_vector, const std::string& who) {
    enable_interrupt(cpu, id, q, tx_vector, apic_vector, icr_bits::txdw, who);
}

void remap_interrupt(host_cpu& cpu, iommu::driver& drv, pcie::routing_id id, const nic_queues& q,
                     unsigned entry, std::uint8_t apic_vector, unsigned irte,
                     const std::string& who) {
    drv.set_irte(irte, iommu::make_remapped_irte(0, apic_vector, {id.value(), 0, 1}));
    const std::uint64_t e = msix_entry_address(cpu, id, q.bar3, entry, who);
    cpu.mmio_write32(e + 0, iommu::make_remappable_msi_address(static_cast<std::uint16_t>(irte)));
    cpu.mmio_write32(e + 8, 0);  // subhandle 0: the handle is the IRTE index
}

void remap_rx_interrupt(host_cpu& cpu, iommu::driver& drv, pcie::routing_id id, const nic_queues& q,
                        std::uint8_t apic_vector, unsigned irte, const std::string& who) {
    remap_interrupt(cpu, drv, id, q, rx_vector, apic_vector, irte, who);
}

void remap_tx_interrupt(host_cpu& cpu, iommu::driver& drv, pcie::routing_id id, const nic_queues& q,
                        std::uint8_t apic_vector, unsigned irte, const std::string& who) {
    remap_interrupt(cpu, drv, id, q, tx_vector, apic_vector, irte, who);
}

std::vector<std::uint8_t> make_frame(net::mac_address dst, net::mac_address src,
                                     std::uint32_t bytes, std::uint64_t seq) {
    std::vector<std::uint8_t> f(bytes);
    std::copy(dst.bytes().begin(), dst.bytes().end(), f.begin());
    std::copy(src.bytes().begin(), src.bytes().end(), f.begin() + 6);
    f[12] = 0x88;  // EtherType 0x88B5: local experimental
    f[13] = 0xb5;
    for (unsigned i = 0; i < 8; ++i) f[14 + i] = static_cast<std::uint8_t>(seq >> (8 * i));
    for (std::size_t i = 22; i < f.size(); ++i) f[i] = static_cast<std::uint8_t>(seq * 7 + i);
    return f;
}

}  // namespace iovsim::platform
