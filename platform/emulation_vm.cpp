#include "platform/emulation_vm.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "models/emu-nic/e1000_regs.h"
#include "platform/nic_queue_driver.h"
#include "platform/nicbench.h"

namespace iovsim::platform {

namespace {

using core::stage;

// The guest's e1000 driver at `mtu` (nic.mtu): RX buffers as Linux's e1000 sizes them, TX
// buffers holding the largest frame without FCS (2048 B for the standard MTU).
emunic::e1000_driver_params driver_params(unsigned mtu) {
    emunic::e1000_driver_params d;
    d.bar0 = emu_bar0_gpa;
    d.dma_base = emu_region_gpa;
    d.vector = guest_rx_vector;
    d.mtu = mtu;
    d.rx_buffer_bytes = emunic::e1000_rx_buffer_len(mtu);
    d.tx_buffer_bytes = std::max<std::uint32_t>(2048, mtu + 14);
    return d;
}

}  // namespace

emulation_vm::emulation_vm(host_platform& p, const workload_config& w, const vm_slot& slot)
    : vm_workload(p, w, slot), m_driver(driver_params(p.config().nic_mtu)) {
    const platform_config& c = p.config();
    if (emu_region_gpa + m_driver.dma_bytes() > m_spec.memory)
        throw std::runtime_error(
            "run: the e1000 driver's rings and buffers do not fit the guest's RAM");
    m_region = m_map.add_emulated(fmt::format("e1000_{}.bar0", m_index), emu_bar0_gpa,
                                  emunic::e1000_bar_size);

    emunic::emulated_e1000_params ep;
    ep.vm = m_vm;
    ep.region = m_region;
    ep.vcpu = 0;
    ep.vector = guest_rx_vector;
    ep.io_core = c.cpu.vmm_io_core(m_index);
    emunic::e1000_params dev;
    dev.cpu_clock_hz = c.cpu.exits.cpu_clock_hz;
    dev.mac = guest_mac(m_index).to_u64();  // RAL0/RAH0: the device accepts the guest's frames
    m_e1000 = std::make_unique<emunic::emulated_e1000>(fmt::format("vm{}_e1000", m_index).c_str(),
                                                       *p.kvm, *p.host_memory, ep, dev);

    // The device's line as KVM's irqfd, as emulated_e1000 wires it; only an injection while a
    // received frame waits for the driver hands the packet to KVM (TXDW alone, or the line
    // going up again at IMS for a frame already taken, runs beside the packet).
    cpu::kvm& k = *p.kvm;
    emunic::e1000_device& device = m_e1000->device();
    const unsigned vm = m_vm;
    device.set_irq([this, &k, &device, vm](tick_t at) {
        m_rx_injection = device.stats().rx_frames.value() > m_driver.stats().rx_packets;
        if (m_rx_injection) m_rx_marked = true;
        k.irqfd(vm, 0, guest_rx_vector, at);
        m_rx_injection = false;
    });
    m_bridge->add_port(m_index, guest_mac(m_index),
                       [this](const host_bridge_net::frame& f, tick_t at) {
                           tl().mark(at, stage::vmm);  // the I/O thread's eventfd
                           m_e1000->tap_deliver(f, at);
                       });
    host_bridge_net* bridge = m_bridge;
    m_e1000->set_tap_output(
        [bridge](const std::vector<std::uint8_t>& f, tick_t at) { bridge->send(f, at); });
    run_guest([this](cpu::guest_context& g) { guest(g); });
}

void emulation_vm::guest(cpu::guest_context& g) {
    g.wait_for_interrupt(start_vector);
    g.eoi();
    m_driver.open(g);
    if (m_w.type == workload_type::stream_tx) return stream_tx(g);
    if (is_rx(m_w.type)) {
        rx_ready(g.now());
        return stream_rx(g);
    }

    const std::uint32_t bytes = m_w.size - 4;  // the FCS is the PF's
    const net::mac_address mac = guest_mac(m_index);
    for (m_seq = 0; m_w.more(m_seq, g.now(), m_out.measured_begin); ++m_seq) {
        const auto request = make_frame(peer_mac(), mac, bytes, m_seq);
        const auto expect = make_frame(mac, peer_mac(), bytes, m_seq);
        begin_packet(g);
        m_rx_marked = false;
        if (!m_driver.xmit(g, request))
            throw std::runtime_error(
                fmt::format("run: the e1000 TX ring is full at packet {}", m_seq));
        // The TX completion (TXDW) comes first, the response's RXT0 later: interrupts until a
        // frame is in.
        std::vector<std::vector<std::uint8_t>> got;
        while (got.empty()) {
            g.wait_for_interrupt(guest_rx_vector);
            tl().mark_vcpu(g.now(), stage::guest);
            got = m_driver.handle_interrupt(g);  // ICR ... EOI ... RDT, IMS: exits to the VMM
        }
        // The response reached guest memory while the driver was in a handler already (the line
        // masked by IMC or still up): the vCPU's handler holds it from the I/O thread's copy.
        if (!m_rx_marked) tl().mark(m_e1000->io_thread().last_completion(), stage::guest);
        rx_check r;
        r.done = true;
        r.verified = got.size() == 1 && got.front() == expect;
        end_packet(g, r);
    }
    finish();
}

// TX streaming (see the file comment).
void emulation_vm::stream_tx(cpu::guest_context& g) {
    const std::uint32_t bytes = m_w.size - 4;  // the FCS is the PF's
    for (m_seq = 0; m_seq < m_w.count; ++m_seq) {
        if (m_seq == m_w.warmup) measure_from(g.now());
        const auto f = make_frame(peer_mac(), guest_mac(m_index), bytes, m_seq);
        // NETDEV_TX_BUSY: the queue waits for the TX clean of the next interrupt (TXDW).
        stack_tx(g);
        while (!m_driver.xmit(g, f)) m_driver.wait_and_handle(g);
        ++m_out.sent;
    }
    // Each frame went to the tap inside its TDT exit.
    measure_to(g.now());
    when_sink_has(*m_p.terminator, mac(), m_w.count, [this] { finish(); });
}

// Receiving (see the file comment).
void emulation_vm::stream_rx(cpu::guest_context& g) {
    while (!rx_complete())
        for (const auto& f : m_driver.wait_and_handle(g)) rx_take(g, f);
    measure_to(g.now());
    finish();
}

void emulation_vm::register_stats(core::stats_registry& reg, const std::string& prefix) const {
    m_e1000->device().stats().register_stats(reg, prefix + "e1000.");
    reg.add_value(prefix + "e1000.tap_dropped", "frames",
                  "frames for the guest the tap dropped: its queue (1000 frames) was full while "
                  "the e1000 could not receive (RCTL.EN off or no free RX descriptor)",
                  static_cast<double>(m_e1000->tap_dropped()));
}

std::string emulation_vm::where() const {
    const emunic::e1000_stats& s = m_e1000->device().stats();
    const cpu::host_scheduler& sched = *m_p.scheduler;
    return fmt::format(
        "e1000 tx_frames {} rx_frames {} rx_missed {} rx_filtered {} rx_dropped {} interrupts "
        "{}; bridge tx_frames {} rx_frames {} rx_errors {}; VMM I/O thread wake-ups {}; driver "
        "rx_packets {} interrupts {}",
        s.tx_frames.value(), s.rx_frames.value(), s.rx_missed.value(), s.rx_filtered.value(),
        s.rx_dropped.value(), s.interrupts.value(), m_bridge->tx_frames(), m_bridge->rx_frames(),
        m_bridge->rx_errors(), sched.stats(m_e1000->io_thread().id()).wakeups,
        m_driver.stats().rx_packets, m_driver.stats().interrupts);
}

}  // namespace iovsim::platform
