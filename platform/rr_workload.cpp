#include "platform/rr_workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <stdexcept>
#include <vector>

#include "models/core/sc_glue.h"
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
            rx[i] = v.rx_iova[i] = v.map(v.rx_buf(i), v.buffer_bytes, iommu::perm_w);
        open_queues_at(bus, v, rings, rx, "run: the PF");
    } else {
        open_queues(bus, v, "run: the PF");
    }
}

// The IOMMU driver's work on the packet's path: the host stack's own (its invalidation queue
// fetches and status writes reach memory through the device-side probe, off the packet's path).
template <typename F>
void driver_work(host_platform& p, F&& f) {
    p.timeline.pause(true);
    f();
    p.timeline.pause(false);
}

// The host's network stack above its driver for one frame (app.stack.tx / .rx): `cycles` of the
// host CPU at host.cpu_clock (none when 0).
void app_stack(host_platform& p, std::uint64_t cycles) {
    if (cycles == 0) return;
    sc_core::sc_event never;
    p.cpu.wait_for(never,
                   cycles_to_ticks(static_cast<double>(cycles), p.config().cpu.exits.cpu_clock_hz));
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
    app_stack(p, w.stack_tx);
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
        if (st.done) driver_work(p, [&] { v.unmap(v.rx_iova[v.rx_next], v.buffer_bytes); });
        r = read_rx(bus, v, st, expect);
    } else {
        r = take_rx(bus, v, expect);
    }
    if (r.done) app_stack(p, w.stack_rx);
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
    const std::uint64_t iova = v.map(v.rx_buf(v.rx_tail), v.buffer_bytes, iommu::perm_w);
    v.rx_iova[v.rx_tail] = iova;
    recycle_rx_at(bus, v, iova);
}

// The PF's probe as the host driver does it (see the file comment): enumeration, its MAC, its
// BARs and queue region, with the IOMMU the driver's init and the PF attached per
// iommu.host_mode; then its queues opened.
void probe_pf(host_platform& p, host_cpu& cpu, pf_view& v) {
    const auto found = p.enumerate();
    const pcie::enumerated_function& pf = p.nic_pf(found);
    p.nic->set_mac(0, pf_mac());
    v.id = pf.id;
    v.bar0 = bar_address(pf, 0);
    v.bar3 = bar_address(pf, 3);
    v.region = p.config().map.dram_high.base + 0x1000'0000;
    v.buffer_bytes = nic_rx_buffer_bytes(p.config().nic_mtu);
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
}

// probe_pf(), then the PF's RX MSI-X vector at APIC 0, rr_vector (remapped with the IOMMU on).
void probe_pf_rx(host_platform& p, host_cpu& cpu, pf_view& v) {
    probe_pf(p, cpu, v);
    enable_rx_interrupt(cpu, v.id, v, rr_vector, "run: the PF");
    if (p.iommu)
        remap_rx_interrupt(cpu, *p.iommu_driver, v.id, v, rr_vector, host_pf_irte, "run: the PF");
}

// Reaps TX completions in ring order: every frame the NIC wrote back as done (DD), its buffer
// unmapped when it was mapped. Returns how many.
std::uint64_t reap_tx(queue_bus& bus, pf_view& v, std::uint64_t done, std::uint64_t posted) {
    std::uint64_t n = 0;
    while (done + n < posted &&
           tx_done(bus, v, static_cast<std::uint32_t>((done + n) % nic_queue_ring))) {
        if (v.dma) {
            v.unmap(v.tx_pending.front().iova, v.tx_pending.front().bytes);
            v.tx_pending.pop_front();
        }
        ++n;
    }
    return n;
}

void stream(host_platform& p, pf_view& v, const workload_config& w, tick_t timeout,
            rr_result& out) {
    host_cpu& cpu = p.cpu;
    host_queue_bus bus(cpu);
    const std::uint32_t bytes = w.size - 4;  // the FCS is the NIC's
    std::uint64_t posted = 0, done = 0;
    std::uint64_t seen = p.interrupts.count(stream_tx_vector);
    while (done < w.count) {
        bool rang = false;
        while (posted < w.count && posted - done < nic_queue_ring - 1) {
            if (posted == w.warmup) out.measured_begin = cpu.now();
            app_stack(p, w.stack_tx);
            const auto frame = make_frame(peer_mac(), pf_mac(), bytes, posted);
            if (v.dma) {
                // dma_map_single() of the frame (to-device: read only), unmapped at completion.
                const std::uint32_t slot = v.tx_tail;
                const std::uint64_t iova = v.map(v.tx_buf(slot), bytes, iommu::perm_r);
                post_tx_at(bus, v, frame, iova);
                v.tx_pending.push_back(tx_in_flight{slot, iova, bytes});
            } else {
                post_tx(bus, v, frame);
            }
            ++posted;
            ++out.sent;
            rang = true;
        }
        if (rang) ring_tx(bus, v);
        // Asleep until the TX completion interrupt (one that came while reaping counts: its
        // frames may not have been reaped yet).
        while (p.interrupts.count(stream_tx_vector) == seen) {
            if (!cpu.wait_for(p.interrupts.event(stream_tx_vector), timeout)) {
                throw std::runtime_error(fmt::format(
                    "run: no TX completion within {} us with {} of {} frames done ({} posted; "
                    "PF tx_frames {}, wire tx {}, sink {})",
                    ticks_to_ns(timeout) / 1000, done, w.count, posted,
                    p.nic->stats(0).tx_frames.value(), p.nic->wire_tx_frames(),
                    p.terminator->rx_frames()));
            }
        }
        seen = p.interrupts.count(stream_tx_vector);
        bus.mmio_write32(v.bar0 + icr, icr_bits::txdw);  // W1C
        done += reap_tx(bus, v, done, posted);
    }
    out.measured_end = cpu.now();
    out.received = out.verified = 0;  // the sink counts what arrives
}

// Receiving (see the file comment).
void receive(host_platform& p, pf_view& v, std::uint64_t total, std::uint64_t stack_rx,
             rx_meter& meter, rr_result& out) {
    host_cpu& cpu = p.cpu;
    host_queue_bus bus(cpu);
    std::uint64_t seen = p.interrupts.count(rr_vector);
    while (!meter.complete()) {
        if (p.interrupts.count(rr_vector) == seen) {
            // No interrupt for 1 ms, the generator having sent its last frame before: the rest
            // were lost.
            const bool all_sent = p.generator->tx_frames() >= total;
            if (!cpu.wait_for(p.interrupts.event(rr_vector), ticks_per_ms) && all_sent) {
                out.cut = true;
                break;
            }
            continue;
        }
        seen = p.interrupts.count(rr_vector);
        // NAPI poll: every frame written back, each slot given back at once.
        for (;;) {
            const rx_status st = peek_rx(bus, v);
            if (!st.done) break;
            if (v.dma) v.unmap(v.rx_iova[v.rx_next], v.buffer_bytes);
            const auto f = read_received(bus, v, st);
            if (v.dma) {
                const std::uint64_t iova =
                    v.map(v.rx_buf(v.rx_tail), v.buffer_bytes, iommu::perm_w);
                v.rx_iova[v.rx_tail] = iova;
                recycle_rx_at(bus, v, iova);
            } else {
                recycle_rx(bus, v);
            }
            if (f) app_stack(p, stack_rx);
            if (meter.take(f, cpu.now()) == rx_meter::taken::first_measured)
                out.measured_begin = cpu.now();
        }
    }
    out.measured_end = cpu.now();
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
        pf_view v;
        probe_pf_rx(p, cpu, v);
        sc_core::sc_event never;
        for (std::uint64_t seq = 0; w.more(seq, cpu.now(), out.measured_begin); ++seq) {
            round_trip(p, v, w, seq, timeout, out);
            if (w.think_time) cpu.wait_for(never, w.think_time);
        }
    });
}

void install_bare_metal_rx(host_platform& p, const workload_config& w, rx_meter& meter,
                           rr_result& out) {
    if (!p.nic || !p.generator)
        throw std::invalid_argument("run: the platform needs the NIC and the generator");
    const std::uint64_t total = meter.expected();
    p.cpu.run([&p, &meter, &out, total, stack_rx = w.stack_rx](host_cpu& cpu) {
        pf_view v;
        probe_pf_rx(p, cpu, v);
        p.generator->release(cpu.now());  // the driver is up: the traffic begins
        receive(p, v, total, stack_rx, meter, out);
    });
}

void install_bare_metal_stream(host_platform& p, const workload_config& w, rr_result& out,
                               tick_t timeout) {
    if (!p.nic || !p.terminator)
        throw std::invalid_argument("run: the platform needs the NIC and the sink (nic.peer none)");
    p.cpu.run([&p, w, &out, timeout](host_cpu& cpu) {
        pf_view v;
        probe_pf(p, cpu, v);
        enable_tx_interrupt(cpu, v.id, v, stream_tx_vector, "run: the PF");
        if (p.iommu)
            remap_tx_interrupt(cpu, *p.iommu_driver, v.id, v, stream_tx_vector, host_pf_tx_irte,
                               "run: the PF");
        stream(p, v, w, timeout, out);
    });
}

void when_sink_has(const wire_terminator& sink, net::mac_address src, std::uint64_t frames,
                   std::function<void()> then, tick_t limit, tick_t poll) {
    sc_core::sc_spawn([&sink, src, frames, then = std::move(then), limit, poll] {
        std::uint64_t got = sink.from(src).frames;
        tick_t progress = now_ticks();  // when `got` last grew
        while (got < frames && now_ticks() - progress < limit) {
            sc_core::wait(to_sc_time(poll));
            const std::uint64_t n = sink.from(src).frames;
            if (n != got) progress = now_ticks();
            got = n;
        }
        then();
    });
}

}  // namespace iovsim::platform
