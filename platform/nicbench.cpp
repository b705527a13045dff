#include "platform/nicbench.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "models/core/errors.h"
#include "models/pcie/capabilities.h"
#include "sriov-nic/descriptor.h"
#include "sriov-nic/nic_registers.h"

namespace iovsim::platform {

namespace {

using namespace nic::nic_reg;

constexpr std::uint64_t region_bytes = 0x100000;  // per VF: rings and buffers
constexpr std::uint64_t buffer_bytes = 0x800;     // RXBUFSZ reset value: 2 KiB

// One VF as its driver sees it: BARs, and where its rings and buffers sit in host memory.
struct vf_view {
    unsigned index = 0;
    pcie::routing_id id;
    net::mac_address mac;
    std::uint64_t bar0 = 0, bar3 = 0;
    std::uint64_t region = 0;
    std::uint32_t tx_tail = 0;
    std::uint32_t rx_next = 0;  // the next RX descriptor the NIC writes back
    std::uint32_t rx_tail = 0;

    std::uint64_t tx_ring() const { return region; }
    std::uint64_t rx_ring() const { return region + 0x1000; }
    std::uint64_t tx_buf(std::uint32_t i) const { return region + 0x10000 + i * buffer_bytes; }
    std::uint64_t rx_buf(std::uint32_t i) const { return region + 0x40000 + i * buffer_bytes; }
};

std::uint64_t bar_address(const sriov_vf& vf, int index) {
    for (const auto& b : vf.bars)
        if (b.index == index) return b.address;
    throw std::runtime_error(fmt::format("nicbench: VF {} has no BAR{}", vf.index, index));
}

void write_rx_descriptor(host_cpu& cpu, const vf_view& v, std::uint32_t slot) {
    nic::rx_descriptor d;
    d.buffer_address = v.rx_buf(slot);
    const auto b = d.encode();
    cpu.mem_write(v.rx_ring() + slot * nic::descriptor_bytes, b.data(), b.size());
}

// The VF driver's open(): rings programmed, queues enabled, all but one RX slot given to the NIC.
void open_vf(host_cpu& cpu, vf_view& v) {
    for (std::uint32_t i = 0; i < nicbench_ring; ++i) write_rx_descriptor(cpu, v, i);
    cpu.mmio_write32(v.bar0 + tdbal, static_cast<std::uint32_t>(v.tx_ring()));
    cpu.mmio_write32(v.bar0 + tdbah, static_cast<std::uint32_t>(v.tx_ring() >> 32));
    cpu.mmio_write32(v.bar0 + tdlen, nicbench_ring);
    cpu.mmio_write32(v.bar0 + rdbal, static_cast<std::uint32_t>(v.rx_ring()));
    cpu.mmio_write32(v.bar0 + rdbah, static_cast<std::uint32_t>(v.rx_ring() >> 32));
    cpu.mmio_write32(v.bar0 + rdlen, nicbench_ring);
    v.rx_tail = nicbench_ring - 1;
    cpu.mmio_write32(v.bar0 + rdt, v.rx_tail);
    cpu.mmio_write32(v.bar0 + ctrl, ctrl_bits::txen | ctrl_bits::rxen);
    const std::uint32_t st = cpu.mmio_read32(v.bar0 + status);
    if ((st & (status_bits::tx_active | status_bits::rx_active)) !=
        (status_bits::tx_active | status_bits::rx_active)) {
        throw std::runtime_error(
            fmt::format("nicbench: VF {} did not enable its queues (STATUS {:#x})", v.index, st));
    }
}

// MSI-X: the RX vector (0) aimed at APIC 0 with vector rx_vector_base + n, RXT enabled.
void enable_rx_interrupt(host_cpu& cpu, const vf_view& v) {
    const std::uint16_t cap = pcie::enumerator::find_capability(cpu, v.id, pcie::cap_id::msix);
    if (cap == 0) throw std::runtime_error("nicbench: a VF has no MSI-X capability");
    const std::uint32_t table = cpu.config_read(v.id, cap + pcie::msix_reg::table_offset_bir, 4);
    if ((table & 7u) != 3)
        throw std::runtime_error("nicbench: the VF's MSI-X table is not in BAR3");
    const std::uint64_t entry = v.bar3 + (table & ~7u) + rx_vector * 16;
    cpu.mmio_write32(entry + 0, 0xfee00000);  // Message Address: destination APIC ID 0
    cpu.mmio_write32(entry + 4, 0);
    cpu.mmio_write32(entry + 8, rx_vector_base + v.index);
    cpu.mmio_write32(entry + 12, 0);  // unmasked
    cpu.config_write(v.id, cap + pcie::msix_reg::message_control, 2, pcie::msix_reg::enable);
    cpu.mmio_write32(v.bar0 + ims, icr_bits::rxt);
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

// Sends `frame` from `tx` (one descriptor, EOP|RS) and waits for `rx`'s RX interrupt; checks
// the written-back descriptor and buffer against `expect`.
void one_frame(host_platform& p, const nicbench_config& c, vf_view& tx, vf_view& rx,
               const std::vector<std::uint8_t>& frame, const std::vector<std::uint8_t>& expect,
               const char* phase, nicbench_phase& out) {
    host_cpu& cpu = p.cpu;
    const std::uint32_t slot = tx.tx_tail;
    cpu.mem_write(tx.tx_buf(slot), frame.data(), static_cast<std::uint32_t>(frame.size()));
    nic::tx_descriptor d;
    d.buffer_address = tx.tx_buf(slot);
    d.length = static_cast<std::uint16_t>(frame.size());
    d.cmd = nic::tx_cmd::eop | nic::tx_cmd::rs;
    const auto db = d.encode();
    cpu.mem_write(tx.tx_ring() + slot * nic::descriptor_bytes, db.data(), db.size());

    const std::uint8_t vector = static_cast<std::uint8_t>(rx_vector_base + rx.index);
    const std::uint64_t before = p.interrupts.count(vector);
    const tick_t doorbell = cpu.now();
    tx.tx_tail = (tx.tx_tail + 1) % nicbench_ring;
    cpu.mmio_write32(tx.bar0 + tdt, tx.tx_tail);
    ++out.sent;
    while (p.interrupts.count(vector) == before) {
        if (!cpu.wait_for(p.interrupts.event(vector), c.timeout)) {
            throw std::runtime_error(fmt::format(
                "nicbench: {} frame {} from VF {} never reached VF {} (no RX interrupt within {} "
                "us; VF {} rx_frames {}, wire tx {} rx {})",
                phase, out.sent - 1, tx.index, rx.index, ticks_to_ns(c.timeout) / 1000, rx.index,
                p.nic->stats(rx.index + 1).rx_frames.value(), p.nic->wire_tx_frames(),
                p.nic->wire_rx_frames()));
        }
    }
    out.latency_ns.push_back(ticks_to_ns(p.interrupts.last_arrival(vector) - doorbell));
    cpu.mmio_write32(rx.bar0 + icr, icr_bits::rxt);  // W1C

    nic::descriptor_bytes_t rb;
    const std::uint32_t rslot = rx.rx_next;
    cpu.mem_read(rx.rx_ring() + rslot * nic::descriptor_bytes, rb.data(), rb.size());
    const nic::rx_descriptor r = nic::rx_descriptor::decode(rb);
    if (!(r.status & nic::desc_status::dd)) return;  // counted as sent, not received
    ++out.received;
    std::vector<std::uint8_t> got(r.length);
    if (r.length) cpu.mem_read(rx.rx_buf(rslot), got.data(), r.length);
    if ((r.status & nic::desc_status::eop) && r.errors == 0 && got == expect) ++out.verified;
    // Give the slot back to the NIC.
    write_rx_descriptor(cpu, rx, rslot);
    rx.rx_next = (rx.rx_next + 1) % nicbench_ring;
    rx.rx_tail = (rx.rx_tail + 1) % nicbench_ring;
    cpu.mmio_write32(rx.bar0 + rdt, rx.rx_tail);
}

}  // namespace

nicbench_config make_nicbench_config(const core::param_tree& tree) {
    nicbench_config c;
    c.frames = static_cast<std::uint32_t>(tree.get_int("nicbench.frames"));
    c.frame_size = static_cast<std::uint32_t>(tree.get_bytes("nicbench.frame_size"));
    const auto vfs = tree.get_int("nic.num_vfs");
    if (vfs < static_cast<std::int64_t>(nicbench_min_vfs)) {
        throw core::config_error(fmt::format(
            "nic.num_vfs ({}) must be at least {} for nicbench (VF0 and VF1 on the VEB, VF2 on "
            "the wire)",
            vfs, nicbench_min_vfs));
    }
    if (tree.get_string("nic.peer") != "echo")
        throw core::config_error("nic.peer must be echo for nicbench (its wire phase)");
    return c;
}

void install_nicbench(host_platform& p, const nicbench_config& c, nicbench_result& out) {
    if (!p.nic || !p.peer)
        throw std::invalid_argument("nicbench: the platform needs the NIC and the echo peer");
    p.cpu.run([&p, c, &out](host_cpu& cpu) {
        const auto found = p.enumerate();
        pf_driver driver(cpu, *p.nic, p.nic_pf(found));
        out.layout = driver.enable_vfs(std::max(p.config().nic_num_vfs, nicbench_min_vfs));
        std::vector<vf_view> v(nicbench_min_vfs);
        for (unsigned n = 0; n < nicbench_min_vfs; ++n) {
            const sriov_vf& vf = out.layout.vfs.at(n);
            v[n].index = n;
            v[n].id = vf.id;
            v[n].mac = vf.mac;
            v[n].bar0 = bar_address(vf, 0);
            v[n].bar3 = bar_address(vf, 3);
            v[n].region = p.config().map.dram_high.base + 0x1000'0000 + n * region_bytes;
            open_vf(cpu, v[n]);
        }
        enable_rx_interrupt(cpu, v[1]);
        enable_rx_interrupt(cpu, v[2]);
        const std::uint32_t bytes = c.frame_size - 4;  // the FCS is the NIC's
        for (std::uint32_t i = 0; i < c.frames; ++i) {
            const auto f = make_frame(v[1].mac, v[0].mac, bytes, i);
            one_frame(p, c, v[0], v[1], f, f, "veb", out.veb);
        }
        for (std::uint32_t i = 0; i < c.frames; ++i) {
            const auto f = make_frame(peer_mac(), v[2].mac, bytes, i);
            const auto echo = make_frame(v[2].mac, peer_mac(), bytes, i);
            one_frame(p, c, v[2], v[2], f, echo, "wire", out.wire);
        }
    });
}

}  // namespace iovsim::platform
