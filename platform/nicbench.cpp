#include "platform/nicbench.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "models/core/errors.h"
#include "models/pcie/capabilities.h"
#include "platform/nic_queue_driver.h"
#include "sriov-nic/descriptor.h"
#include "sriov-nic/nic_registers.h"

namespace iovsim::platform {

namespace {

using namespace nic::nic_reg;

// One VF as its driver sees it: its identity, BARs and queue pair (nic_queue_driver.h).
struct vf_view : nic_queues {
    unsigned index = 0;
    pcie::routing_id id;
    net::mac_address mac;
};

std::uint64_t bar_address(const sriov_vf& vf, int index) {
    for (const auto& b : vf.bars)
        if (b.index == index) return b.address;
    throw std::runtime_error(fmt::format("nicbench: VF {} has no BAR{}", vf.index, index));
}

// Sends `frame` from `tx` (one descriptor, EOP|RS) and waits for `rx`'s RX interrupt; checks
// the written-back descriptor and buffer against `expect`.
void one_frame(host_platform& p, const nicbench_config& c, vf_view& tx, vf_view& rx,
               const std::vector<std::uint8_t>& frame, const std::vector<std::uint8_t>& expect,
               const char* phase, nicbench_phase& out) {
    host_cpu& cpu = p.cpu;
    host_queue_bus bus(cpu);
    post_tx(bus, tx, frame);
    const std::uint8_t vector = static_cast<std::uint8_t>(rx_vector_base + rx.index);
    const std::uint64_t before = p.interrupts.count(vector);
    const tick_t doorbell = cpu.now();
    ring_tx(bus, tx);
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
    const rx_check r = take_rx(bus, rx, expect);
    if (!r.done) return;  // counted as sent, not received
    ++out.received;
    if (r.verified) ++out.verified;
    recycle_rx(bus, rx);
}

}  // namespace

nicbench_config make_nicbench_config(const core::param_tree& tree) {
    nicbench_config c;
    c.frames = static_cast<std::uint32_t>(tree.get_int("nicbench.frames"));
    c.frame_size = static_cast<std::uint32_t>(tree.get_bytes("nicbench.frame_size"));
    check_frame_size("nicbench.frame_size", c.frame_size,
                     static_cast<unsigned>(tree.get_int("nic.mtu")));
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
            // Each VF's rings and buffers in a MiB-aligned region of their own.
            v[n].buffer_bytes = nic_rx_buffer_bytes(p.config().nic_mtu);
            const std::uint64_t spacing = (v[n].region_bytes() + 0xfffff) & ~0xfffffull;
            v[n].region = p.config().map.dram_high.base + 0x1000'0000 + n * spacing;
            host_queue_bus bus(cpu);
            open_queues(bus, v[n], fmt::format("nicbench: VF {}", v[n].index));
        }
        enable_rx_interrupt(cpu, v[1].id, v[1], rx_vector_base + v[1].index, "nicbench: VF 1");
        enable_rx_interrupt(cpu, v[2].id, v[2], rx_vector_base + v[2].index, "nicbench: VF 2");
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
