#include "platform/rr_workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "models/pcie/capabilities.h"
#include "platform/nic_queue_driver.h"
#include "platform/nicbench.h"
#include "platform/pf_driver.h"
#include "sriov-nic/descriptor.h"
#include "sriov-nic/nic_registers.h"

namespace iovsim::platform {

namespace {

using namespace nic::nic_reg;
using core::stage;

// The PF as its driver sees it: its routing ID, BARs and queue pair (nic_queue_driver.h).
struct pf_view : nic_queues {
    pcie::routing_id id;
};

std::uint64_t bar_address(const pcie::enumerated_function& f, int index) {
    for (const auto& b : f.bars)
        if (b.index == index) return b.address;
    throw std::runtime_error(fmt::format("run: the NIC's PF has no BAR{}", index));
}

void open_pf(host_cpu& cpu, pf_view& v) {
    host_queue_bus bus(cpu);
    open_queues(bus, v, "run: the PF");
    enable_rx_interrupt(cpu, v.id, v, rr_vector, "run: the PF");
}

void round_trip(host_platform& p, pf_view& v, const workload_config& w, std::uint64_t seq,
                tick_t timeout, rr_result& out) {
    host_cpu& cpu = p.cpu;
    host_queue_bus bus(cpu);
    const std::uint32_t bytes = w.size - 4;  // the FCS is the NIC's
    const auto request = make_frame(peer_mac(), pf_mac(), bytes, seq);
    const auto expect = make_frame(pf_mac(), peer_mac(), bytes, seq);

    const tick_t begin = cpu.now();
    p.timeline.begin(begin, stage::host_stack);
    if (seq == w.warmup) out.measured_begin = begin;
    post_tx(bus, v, request);
    const std::uint64_t before = p.interrupts.count(rr_vector);
    p.timeline.mark(cpu.now(), stage::pcie);
    ring_tx(bus, v);
    ++out.sent;
    while (p.interrupts.count(rr_vector) == before) {
        if (!cpu.wait_for(p.interrupts.event(rr_vector), timeout)) {
            throw std::runtime_error(fmt::format(
                "run: packet {} got no response within {} us (PF tx_frames {} rx_frames {}, "
                "wire tx {} rx {}, peer rx {} tx {})",
                seq, ticks_to_ns(timeout) / 1000, p.nic->stats(0).tx_frames.value(),
                p.nic->stats(0).rx_frames.value(), p.nic->wire_tx_frames(), p.nic->wire_rx_frames(),
                p.peer->rx_frames(), p.peer->tx_frames()));
        }
    }
    p.timeline.mark(p.interrupts.last_arrival(rr_vector), stage::host_stack);
    const rx_check r = take_rx(bus, v, expect);
    if (r.done) ++out.received;
    if (r.verified) ++out.verified;
    out.measured_end = cpu.now();
    p.timeline.end(out.measured_end);

    // Between round trips: acknowledge the cause, give the slot back.
    recycle_rx(bus, v);
}

}  // namespace

void install_bare_metal_rr(host_platform& p, const workload_config& w, core::accountant& acc,
                           rr_result& out, tick_t timeout) {
    if (!p.nic || !p.peer)
        throw std::invalid_argument("run: the platform needs the NIC and the echo peer");
    if (!p.config().accounting)
        throw std::invalid_argument("run: the platform was built without packet accounting");
    p.timeline.attach(&acc);
    p.cpu.run([&p, w, &out, timeout](host_cpu& cpu) {
        const auto found = p.enumerate();
        const pcie::enumerated_function& pf = p.nic_pf(found);
        p.nic->set_mac(0, pf_mac());
        pf_view v;
        v.id = pf.id;
        v.bar0 = bar_address(pf, 0);
        v.bar3 = bar_address(pf, 3);
        v.region = p.config().map.dram_high.base + 0x1000'0000;
        open_pf(cpu, v);
        sc_core::sc_event never;
        for (std::uint64_t seq = 0; seq < w.count; ++seq) {
            round_trip(p, v, w, seq, timeout, out);
            if (w.think_time) cpu.wait_for(never, w.think_time);
        }
    });
}

}  // namespace iovsim::platform
