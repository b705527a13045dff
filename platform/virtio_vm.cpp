#include "platform/virtio_vm.h"

#include <fmt/format.h>

#include <stdexcept>
#include <utility>

#include "models/core/sc_glue.h"
#include "platform/nic_queue_driver.h"
#include "platform/nicbench.h"

namespace iovsim::platform {

using core::stage;

// --- virtio_bar_handler ---

std::uint64_t virtio_bar_handler::read(std::uint64_t offset, unsigned size, std::uint64_t& value,
                                       tick_t now) {
    m_now = now;
    m_extra = 0;
    value = m_dev.mmio_read(offset, size);
    return m_extra;  // beyond the exit to the VMM: what the device's callbacks added
}

std::uint64_t virtio_bar_handler::write(std::uint64_t offset, unsigned size, std::uint64_t value,
                                        tick_t now) {
    m_now = now;
    m_extra = 0;
    m_dev.mmio_write(offset, size, value);
    return m_extra;
}

// --- virtio_vm ---

namespace {

// The device's MAC (its config space) is the guest's, the one the bridge knows. A jumbo nic.mtu
// is offered as VIRTIO_NET_F_MTU (QEMU's host_mtu=); the standard 1500 is not (QEMU's default).
virtio::virtio_net_params device_params(unsigned vm, unsigned mtu) {
    virtio::virtio_net_params d;
    d.mac = guest_mac(vm).bytes();
    if (mtu > net::standard_mtu) d.mtu = static_cast<std::uint16_t>(mtu);
    return d;
}

}  // namespace

virtio_vm::virtio_vm(host_platform& p, const workload_config& w, const vm_slot& slot)
    : vm_workload(p, w, slot), m_dev(device_params(slot.index, p.config().nic_mtu)), m_bar(m_dev) {
    const platform_config& c = p.config();
    if (!p.host_memory || !p.scheduler)
        throw std::invalid_argument("run: virtio needs the host memory view and the scheduler");

    // The device model behind BAR4, in the VMM.
    m_bar_region = m_map.add_emulated(fmt::format("virtio{}.bar4", m_index), virtio_bar_gpa,
                                      virtio::bar_layout::virtio_bar_size);
    p.kvm->register_mmio(m_vm, m_bar_region, m_bar, cpu::exit_handler::vmm);

    // vhost: the backend over guest memory, the worker on host.pin.vhost's core.
    m_mem = std::make_unique<virtio::translated_memory>(m_map, *p.host_memory);
    m_backend = std::make_unique<virtio::virtio_net_backend>(
        *m_mem, virtio::backend_params{},
        [this](const virtio::virtio_net_backend::frame& f) { m_tx_pending.push_back(f); });
    m_backend->on_error = [this](std::uint16_t, virtio::queue_error) { m_dev.needs_reset(); };
    // VHOST_SET_VRING_* and VHOST_NET_SET_BACKEND (or the VMM's own backend) once the driver is
    // ready.
    m_dev.on_driver_ok = [this] {
        m_backend->start(m_dev.queue(virtio::rx_queue).layout(),
                         m_dev.queue(virtio::tx_queue).layout(),
                         m_dev.negotiated(virtio::feature::ring_event_idx));
    };
    m_dev.on_reset = [this] { m_backend->stop(); };
    const double hz = c.cpu.exits.cpu_clock_hz;
    if (c.virtio_vhost) {
        m_worker = std::make_unique<virtio::vhost_worker>(
            fmt::format("vm{}_vhost", m_index).c_str(), *p.scheduler, c.cpu.vhost_core(m_index),
            *m_backend, hz, [this](std::uint16_t q, tick_t at) { interrupt(q, at); });
        m_worker->kick().set_handoff(stage::vhost);
        // The frames leave vhost when its work is done: to the tap.
        m_worker->on_done = [this](tick_t at) {
            for (const auto& f : m_tx_pending) m_bridge->send(f, at);
            m_tx_pending.clear();
        };
        // KVM_IOEVENTFD on both queues' notify addresses, matching the queue index written.
        for (const std::uint16_t q : {virtio::rx_queue, virtio::tx_queue}) {
            p.kvm->register_ioeventfd(m_vm,
                                      virtio_bar_gpa + virtio::virtio_net_pci::notify_offset(q),
                                      std::uint64_t{q}, m_worker->kick());
        }
        // The host side: tap, bridge, PF; a frame for the guest wakes vhost.
        m_bridge->add_port(m_index, guest_mac(m_index),
                           [this](const host_bridge_net::frame& f, tick_t at) {
                               tl().mark(at, stage::vhost);
                               m_worker->deliver(f, at);
                           });
    } else {
        // The VMM's own backend (QEMU without vhost): a kick is an exit to the VMM, which
        // drains the TX ring on the vCPU's thread (its cycles added to the exit) and writes the
        // frames to the tap when that work is done.
        m_dev.on_notify = [this, hz](std::uint16_t q) {
            if (q == virtio::rx_queue) {
                // New RX buffers: QEMU flushes the frames it held back (can_receive was false).
                m_tap_fd.signal(m_bar.now());
                return;
            }
            if (q != virtio::tx_queue) return;
            const virtio::virtio_net_backend::result r = m_backend->handle_tx();
            m_bar.add_cycles(r.cycles);
            const tick_t done = m_bar.now() + cycles_to_ticks(static_cast<double>(r.cycles), hz);
            for (const auto& f : m_tx_pending) m_bridge->send(f, done);
            m_tx_pending.clear();
            if (r.interrupt) interrupt(q, done);
        };
        // RX: the tap's frames wake the VMM's I/O thread, which fills the guest's RX ring.
        m_io = std::make_unique<cpu::host_thread>(
            fmt::format("vm{}_vmm_io", m_index).c_str(), *p.scheduler, c.cpu.vmm_io_core(m_index),
            [this, hz](cpu::host_thread& t) {
                for (;;) {
                    t.wait(m_tap_fd);
                    // No RX buffer: the frames stay queued until the driver's RX kick.
                    while (m_tap.due(t.now()) && m_backend->rx_buffer_available()) {
                        const auto f = m_tap.pop();
                        const virtio::virtio_net_backend::result r = m_backend->receive(f);
                        t.run(cycles_to_ticks(static_cast<double>(r.cycles), hz));
                        if (r.interrupt) interrupt(virtio::rx_queue, t.now());
                    }
                }
            });
        m_bridge->add_port(m_index, guest_mac(m_index),
                           [this](const host_bridge_net::frame& f, tick_t at) {
                               if (!m_tap.push(f, at)) return;  // the tap's queue is full
                               tl().mark(at, stage::vmm);       // the I/O thread's eventfd
                               m_tap_fd.signal(at);
                           });
    }
    run_guest([this](cpu::guest_context& g) { guest(g); });
}

void virtio_vm::interrupt(std::uint16_t queue, tick_t at) {
    // The queue's MSI-X entry: the guest's driver gives RX entry virtio_rx_msix, TX
    // virtio_tx_msix when it streams (napi_tx), none otherwise.
    switch (m_dev.queue(queue).msix_vector) {
        case virtio_rx_msix:
            m_p.kvm->irqfd(m_vm, 0, guest_rx_vector, at);
            return;
        case virtio_tx_msix:
            ++m_tx_interrupts;
            m_p.kvm->irqfd(m_vm, 0, guest_tx_vector, at);
            return;
        default:
            ++m_unrouted;
    }
}

void virtio_vm::guest(cpu::guest_context& g) {
    g.wait_for_interrupt(start_vector);
    g.eoi();
    virtio::guest_env env(g);
    virtio::driver_params dp;
    dp.bar_gpa = virtio_bar_gpa;
    dp.ring_gpa = virtio_ring_gpa;
    dp.buffer_gpa = virtio_buffer_gpa;
    dp.rx_vector = virtio_rx_msix;
    // Streaming, TX completions come with the TX queue's interrupt when the ring is full
    // (napi_tx); one frame in flight (rr), TX buffers are reclaimed on transmit and the queue
    // has no vector.
    dp.tx_vector = m_w.type == workload_type::stream_tx ? virtio_tx_msix : virtio::msix_no_vector;
    dp.buffer_size = virtio::buffer_size_for_mtu(m_p.config().nic_mtu);
    virtio::virtio_net_driver drv(dp);
    if (virtio_ring_gpa + drv.ring_bytes() > virtio_buffer_gpa ||
        virtio_buffer_gpa + drv.buffer_bytes() > m_spec.memory)
        throw std::runtime_error("run: the virtio rings and buffers do not fit the guest's RAM");
    if (!drv.init(env)) throw std::runtime_error("run: the guest's virtio-net driver init failed");

    if (m_w.type == workload_type::stream_tx) return stream_tx(g, env, drv);
    if (is_rx(m_w.type)) {
        rx_ready(g.now());
        return stream_rx(g, env, drv);
    }
    const std::uint32_t bytes = m_w.size - 4;  // the FCS is the NIC's
    for (m_seq = 0; m_w.more(m_seq, g.now(), m_out.measured_begin); ++m_seq) {
        const auto request = make_frame(peer_mac(), guest_mac(m_index), bytes, m_seq);
        const auto expect = make_frame(guest_mac(m_index), peer_mac(), bytes, m_seq);
        begin_packet(g);
        if (!drv.transmit(env, request))
            throw std::runtime_error(fmt::format("run: packet {}: the TX ring is full", m_seq));
        g.wait_for_interrupt(guest_rx_vector);
        tl().mark_vcpu(g.now(), stage::guest);
        g.eoi();
        drv.disable_rx_interrupts();  // NAPI: poll with interrupts off
        rx_check r;
        if (const auto got = drv.receive(env)) {
            r.done = true;
            r.verified = *got == expect;
            if (!r.verified) ++m_rx_mismatch;
        }
        end_packet(g, r);
        // Between round trips: NAPI complete (interrupts on; anything that came meanwhile would
        // be polled), TX buffers back.
        while (!drv.enable_rx_interrupts()) {
            drv.disable_rx_interrupts();
            if (drv.receive(env)) ++m_rx_mismatch;  // a frame nobody waited for
        }
        drv.reclaim_tx(env);
    }
    finish();
}

// TX streaming (see the file comment).
void virtio_vm::stream_tx(cpu::guest_context& g, virtio::guest_env& env,
                          virtio::virtio_net_driver& drv) {
    const std::uint32_t bytes = m_w.size - 4;  // the FCS is the NIC's
    const virtio::virtq_driver& ring = *drv.tx_ring();
    const std::uint32_t size = ring.layout().size;
    drv.disable_tx_interrupts();  // off while the queue has room
    // The queue stopped: virtqueue_enable_cb_delayed (an interrupt once vhost has used 3/4 of
    // what is outstanding), HLT or spin (vm.wait) until it comes, EOI; skb_xmit_done's
    // virtqueue_disable_cb and virtnet_poll_tx's free_old_xmit_skbs; the queue restarts. False
    // from enable_cb_delayed: that many are used already, reclaim at once.
    const auto wait_for_tx_completions = [&] {
        if (drv.enable_tx_interrupts_delayed()) {
            g.wait_for_interrupt(guest_tx_vector);
            g.eoi();
        }
        drv.disable_tx_interrupts();
        drv.reclaim_tx(env);
    };
    for (m_seq = 0; m_seq < m_w.count; ++m_seq) {
        if (m_seq == m_w.warmup) measure_from(g.now());
        const auto f = make_frame(peer_mac(), guest_mac(m_index), bytes, m_seq);
        stack_tx(g);
        // start_xmit: reclaim, add, kick if vhost asked for it. A full ring stops the queue.
        while (!drv.transmit(env, f)) {
            if (ring.num_free() != 0)
                throw std::runtime_error(fmt::format(
                    "run: frame {}: the virtio driver refused it with {} TX descriptors free",
                    m_seq, ring.num_free()));
            ++m_tx_stops;
            wait_for_tx_completions();
        }
        ++m_out.sent;
    }
    // vhost has fetched every frame once it has used every buffer: the same waits until then.
    while (ring.num_free() < size) wait_for_tx_completions();
    measure_to(g.now());
    when_sink_has(*m_p.terminator, mac(), m_w.count, [this] { finish(); });
}

// Receiving (see the file comment).
void virtio_vm::stream_rx(cpu::guest_context& g, virtio::guest_env& env,
                          virtio::virtio_net_driver& drv) {
    while (!rx_complete()) {
        g.wait_for_interrupt(guest_rx_vector);
        g.eoi();
        // NAPI: poll with interrupts off until the used ring is empty; on again, and poll again
        // if a frame came in between (virtqueue_enable_cb's check).
        do {
            drv.disable_rx_interrupts();
            while (const auto f = drv.receive(env)) rx_take(g, f);
        } while (!drv.enable_rx_interrupts());
    }
    measure_to(g.now());
    finish();
}

void virtio_vm::register_stats(core::stats_registry& reg, const std::string& prefix) const {
    const virtio::virtio_net_backend& b = *m_backend;
    const std::string p = prefix + "virtio.";
    const auto add = [&](const char* name, const char* unit, const char* what, std::uint64_t v) {
        reg.add_value(p + name, unit, what, static_cast<double>(v));
    };
    add("tx_frames", "frames", "frames the backend took from the TX virtqueue", b.tx_frames());
    add("rx_frames", "frames", "frames the backend wrote into RX buffers", b.rx_frames());
    add("rx_no_buffer", "frames", "frames for the guest dropped: no RX buffer posted",
        b.rx_no_buffer());
    add("rx_too_big", "frames", "frames for the guest dropped: longer than the RX buffer",
        b.rx_too_big());
    add("tx_malformed", "chains", "TX chains shorter than the virtio-net header", b.tx_malformed());
    add("vhost_wakeups", "wake-ups", "times the vhost worker woke (0: virtio.backend vmm)",
        m_worker ? m_worker->wakeups() : 0);
    add("tap_dropped", "frames",
        "frames for the guest the tap dropped: its queue (1000 frames) was full while the guest "
        "posted no RX buffers",
        m_worker ? m_worker->tap_dropped() : m_tap.dropped());
    add("unrouted_interrupts", "interrupts",
        "interrupts the backend signalled for a queue without an MSI-X vector (not delivered; rr: "
        "the TX queue's)",
        m_unrouted);
    add("tx_queue_stops", "stops",
        "stream_tx: times the guest's TX queue stopped with its ring full, to wait for the TX "
        "interrupt",
        m_tx_stops);
    add("tx_interrupts", "interrupts",
        "TX queue interrupts vhost (or the VMM's backend) signalled to the guest's TX vector "
        "(stream_tx: the guest gives the TX queue an MSI-X vector)",
        m_tx_interrupts);
}

std::string virtio_vm::where() const {
    const virtio::virtio_net_backend& b = *m_backend;
    return fmt::format(
        "vhost wakeups {}, backend tx_frames {} rx_frames {} (dropped: no buffer {}, too big {}, "
        "malformed tx {}), TX queue stops {} interrupts {}, unrouted interrupts {}, mismatched "
        "responses {}, bridge tx_frames {} rx_frames {} rx_errors {}, device status {:#x}",
        m_worker ? m_worker->wakeups() : 0, b.tx_frames(), b.rx_frames(), b.rx_no_buffer(),
        b.rx_too_big(), b.tx_malformed(), m_tx_stops, m_tx_interrupts, m_unrouted, m_rx_mismatch,
        m_bridge->tx_frames(), m_bridge->rx_frames(), m_bridge->rx_errors(), m_dev.device_status());
}

}  // namespace iovsim::platform
