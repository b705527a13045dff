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

constexpr std::uint32_t ring = nic_queue_ring;

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
    open_queues(cpu, v, "run: the PF");
    enable_rx_interrupt(cpu, v.id, v, rr_vector, "run: the PF");
}

void round_trip(host_platform& p, pf_view& v, const workload_config& w, std::uint64_t seq,
                tick_t timeout, rr_result& out) {
    host_cpu& cpu = p.cpu;
    const std::uint32_t bytes = w.size - 4;  // the FCS is the NIC's
    const auto request = make_frame(peer_mac(), pf_mac(), bytes, seq);
    const auto expect = make_frame(pf_mac(), peer_mac(), bytes, seq);

    const tick_t begin = cpu.now();
    p.timeline.begin(begin, stage::host_stack);
    if (seq == w.warmup) out.measured_begin = begin;
    const std::uint32_t slot = v.tx_tail;
    cpu.mem_write(v.tx_buf(slot), request.data(), bytes);
    nic::tx_descriptor d;
    d.buffer_address = v.tx_buf(slot);
    d.length = static_cast<std::uint16_t>(bytes);
    d.cmd = nic::tx_cmd::eop | nic::tx_cmd::rs;
    const auto db = d.encode();
    cpu.mem_write(v.tx_ring() + slot * nic::descriptor_bytes, db.data(), db.size());

    const std::uint64_t before = p.interrupts.count(rr_vector);
    v.tx_tail = (v.tx_tail + 1) % ring;
    p.timeline.mark(cpu.now(), stage::pcie);
    cpu.mmio_write32(v.bar0 + tdt, v.tx_tail);
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

    nic::descriptor_bytes_t rb;
    const std::uint32_t rslot = v.rx_next;
    cpu.mem_read(v.rx_ring() + rslot * nic::descriptor_bytes, rb.data(), rb.size());
    const nic::rx_descriptor r = nic::rx_descriptor::decode(rb);
    std::vector<std::uint8_t> got(r.length);
    if (r.status & nic::desc_status::dd) {
        ++out.received;
        if (r.length) cpu.mem_read(v.rx_buf(rslot), got.data(), r.length);
        if ((r.status & nic::desc_status::eop) && r.errors == 0 && got == expect) ++out.verified;
    }
    out.measured_end = cpu.now();
    p.timeline.end(out.measured_end);

    // Between round trips: acknowledge the cause, give the slot back.
    cpu.mmio_write32(v.bar0 + icr, icr_bits::rxt);  // W1C
    give_rx_slot(cpu, v, rslot);
    v.rx_next = (v.rx_next + 1) % ring;
    v.rx_tail = (v.rx_tail + 1) % ring;
    cpu.mmio_write32(v.bar0 + rdt, v.rx_tail);
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
