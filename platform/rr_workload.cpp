#include "platform/rr_workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
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

// A TX buffer handed to the NIC and not yet reaped: its slot and its mapping.
struct tx_in_flight {
    std::uint32_t slot;
    std::uint64_t iova;
    std::uint32_t bytes;
};

// The PF as its driver sees it: its routing ID, BARs and queue pair (nic_queue_driver.h); with
// a translating host_mode (lazy, strict), the IOMMU driver that maps its DMA buffers, the IOVA in
// each RX descriptor and the TX buffers awaiting completion.
struct pf_view : nic_queues {
    pcie::routing_id id;
    iommu::driver* dma = nullptr;  // null: the device uses the CPU's addresses (no IOMMU, pt)
    std::uint64_t rx_iova[nic_queue_ring] = {};
    std::deque<tx_in_flight> tx_pending;

    // Linux's dma_map_single() / dma_unmap_single() for the PF.
    std::uint64_t map(std::uint64_t hpa, std::uint64_t bytes, iommu::perms p) const {
        return dma->dma_map(id.value(), hpa, bytes, p);
    }
    void unmap(std::uint64_t iova, std::uint64_t bytes) const {
        dma->dma_unmap(id.value(), iova, bytes);
    }
};

std::uint64_t bar_address(const pcie::enumerated_function& f, int index) {
    for (const auto& b : f.bars)
        if (b.index == index) return b.address;
    throw std::runtime_error(fmt::format("run: the NIC's PF has no BAR{}", index));
}

void open_pf(host_cpu& cpu, pf_view& v) {
    host_queue_bus bus(cpu);
    if (v.dma) {
        // dma_alloc_coherent() for each ring (one page each, as ixgbe rounds ring sizes up),
        // dma_map_single() for each RX buffer given to the NIC (from-device: write only).
        nic_queue_dma rings;
        rings.tx_ring = v.map(v.tx_ring(), 0x1000, iommu::perm_rw);
        rings.rx_ring = v.map(v.rx_ring(), 0x1000, iommu::perm_rw);
        std::vector<std::uint64_t> rx(nic_queue_ring - 1);
        for (std::uint32_t i = 0; i < rx.size(); ++i)
            rx[i] = v.rx_iova[i] = v.map(v.rx_buf(i), nic_queue_buffer, iommu::perm_w);
        open_queues_at(bus, v, rings, rx, "run: the PF");
    } else {
        open_queues(bus, v, "run: the PF");
    }
    enable_rx_interrupt(cpu, v.id, v, rr_vector, "run: the PF");
}

// The IOMMU driver's work on the packet's path: the host stack's own (its invalidation queue
// fetches and status writes reach memory through the device-side probe, off the packet's path).
template <typename F>
void driver_work(host_platform& p, F&& f) {
    p.timeline.pause(true);
    f();
    p.timeline.pause(false);
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
    if (v.dma) {
        // dma_map_single() of the frame (to-device: read only); its IOVA goes in the descriptor.
        const std::uint32_t slot = v.tx_tail;
        std::uint64_t iova = 0;
        driver_work(p, [&] { iova = v.map(v.tx_buf(slot), bytes, iommu::perm_r); });
        post_tx_at(bus, v, request, iova);
        v.tx_pending.push_back(tx_in_flight{slot, iova, bytes});
    } else {
        post_tx(bus, v, request);
    }
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
    rx_check r;
    if (v.dma) {
        // The descriptor first; dma_unmap_single() of the buffer before the CPU reads the frame.
        const rx_status st = peek_rx(bus, v);
        if (st.done) driver_work(p, [&] { v.unmap(v.rx_iova[v.rx_next], nic_queue_buffer); });
        r = read_rx(bus, v, st, expect);
    } else {
        r = take_rx(bus, v, expect);
    }
    if (r.done) ++out.received;
    if (r.verified) ++out.verified;
    out.measured_end = cpu.now();
    p.timeline.end(out.measured_end);

    // Between round trips: acknowledge the cause, give the slot back.
    if (!v.dma) return recycle_rx(bus, v);
    // TX completion, reaped lazily (one frame in flight: after its response): every buffer the
    // NIC wrote back as done is unmapped, in ring order.
    while (!v.tx_pending.empty() && tx_done(bus, v, v.tx_pending.front().slot)) {
        v.unmap(v.tx_pending.front().iova, v.tx_pending.front().bytes);
        v.tx_pending.pop_front();
    }
    // The RX refill: the slot the NIC gets next, its buffer mapped again.
    const std::uint64_t iova = v.map(v.rx_buf(v.rx_tail), nic_queue_buffer, iommu::perm_w);
    v.rx_iova[v.rx_tail] = iova;
    recycle_rx_at(bus, v, iova);
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
        if (p.iommu) {
            // As Linux at boot: the IOMMU driver enables translation, then the PF's probe
            // attaches it per iommu.host_mode.
            iommu::driver& drv = *p.iommu_driver;
            drv.init();
            drv.setup_interrupt_remapping();
            drv.attach_host_device(pf.id.value());
            if (drv.params().mode != iommu::host_mode::pt) v.dma = &drv;
        }
        open_pf(cpu, v);
        if (p.iommu)
            remap_rx_interrupt(cpu, *p.iommu_driver, pf.id, v, rr_vector, host_pf_irte,
                               "run: the PF");
        sc_core::sc_event never;
        for (std::uint64_t seq = 0; seq < w.count; ++seq) {
            round_trip(p, v, w, seq, timeout, out);
            if (w.think_time) cpu.wait_for(never, w.think_time);
        }
    });
}

}  // namespace iovsim::platform
