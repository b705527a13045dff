#include "platform/vm_rr.h"

#include <fmt/format.h>

#include <stdexcept>

#include "models/core/errors.h"
#include "models/core/sc_glue.h"
#include "platform/emulation_vm.h"
#include "platform/nicbench.h"
#include "platform/passthrough_vm.h"
#include "platform/pf_driver.h"
#include "platform/virtio_vm.h"

namespace iovsim::platform {

using core::stage;

// --- vm_workload ---

vm_workload::vm_workload(host_platform& p, const workload_config& w, core::accountant& acc,
                         rr_result& out)
    : m_p(p), m_w(w), m_acc(acc), m_out(out) {
    const platform_config& c = p.config();
    if (!p.kvm) throw std::invalid_argument("run: the platform was built without VMs");
    if (!c.accounting)
        throw std::invalid_argument("run: the platform was built without packet accounting");
    if (!p.nic || !p.peer)
        throw std::invalid_argument("run: the platform needs the NIC and the echo peer");
    m_map.map_ram(0, vm_ram_hpa_base, w.vm_memory);
    m_vm = p.kvm->add_vm(m_map, c.cpu.interrupts, c.cpu.wait);
    m_vcpu = std::make_unique<cpu::vcpu>("vm0_vcpu0", *p.kvm,
                                         cpu::vcpu_params{m_vm, pi_descriptor_hpa, 4});
    m_vcpu->socket.bind(p.bus->in);
    p.kvm->set_marker([&p](tick_t t, stage s, bool from_vcpu) {
        if (from_vcpu)
            p.timeline.mark_vcpu(t, s);
        else
            p.timeline.mark(t, s);
    });
    p.timeline.attach(&acc);
}

void vm_workload::begin_packet(cpu::guest_context& g) {
    const tick_t begin = g.now();
    if (m_seq == m_w.warmup) {
        m_out.measured_begin = begin;
        m_exits_begin = exit_counts();
    }
    m_p.timeline.begin(begin, stage::guest);
    g.set_packet(m_seq + 1);
    ++m_out.sent;
}

void vm_workload::end_packet(cpu::guest_context& g, const rx_check& r) {
    if (r.done) ++m_out.received;
    if (r.verified) ++m_out.verified;
    m_out.measured_end = g.now();
    g.set_packet(core::no_packet);
    m_p.timeline.end(m_out.measured_end);
    m_exits_end = exit_counts();
}

void vm_workload::finish() { sc_core::sc_stop(); }

std::array<std::uint64_t, cpu::exit_reason_count> vm_workload::exit_counts() const {
    std::array<std::uint64_t, cpu::exit_reason_count> n{};
    for (std::size_t i = 0; i < cpu::exit_reason_count; ++i)
        n[i] = m_p.kvm->exits(cpu::all_exit_reasons[i]).count.value();
    return n;
}

std::uint64_t vm_workload::measured_exits(cpu::exit_reason r) const {
    const auto i = static_cast<std::size_t>(r);
    return m_exits_end[i] - m_exits_begin[i];
}

std::uint64_t vm_workload::measured_exits() const {
    std::uint64_t n = 0;
    for (const cpu::exit_reason r : cpu::all_exit_reasons) n += measured_exits(r);
    return n;
}

void vm_workload::check() const {
    if (!m_p.cpu.failure().empty())
        throw std::runtime_error("run: the host's program failed: " + m_p.cpu.failure());
    if (!m_vcpu->failure().empty())
        throw std::runtime_error("run: the guest's program failed: " + m_vcpu->failure());
    if (!m_vcpu->finished()) {
        throw std::runtime_error(fmt::format(
            "run: the guest never finished: packet {} got no response ({}; wire tx {} rx {}, "
            "peer rx {} tx {})",
            m_seq, where(), m_p.nic->wire_tx_frames(), m_p.nic->wire_rx_frames(),
            m_p.peer->rx_frames(), m_p.peer->tx_frames()));
    }
}

std::unique_ptr<vm_workload> make_vm_workload(host_platform& p, const workload_config& w,
                                              core::accountant& acc, rr_result& out) {
    switch (w.mode) {
        case vm_mode::passthrough:
            return std::make_unique<passthrough_vm>(p, w, acc, out);
        case vm_mode::emulation:
            return std::make_unique<emulation_vm>(p, w, acc, out);
        case vm_mode::virtio:
            return std::make_unique<virtio_vm>(p, w, acc, out);
        case vm_mode::bare_metal:
            break;
    }
    throw core::config_error(fmt::format("vm.mode: {} is not runnable in a VM", to_string(w.mode)));
}

// --- host_bridge_net ---

host_bridge_net::host_bridge_net(host_platform& p, net::mac_address guest, tap_reader to_tap)
    : m_p(p), m_guest(guest), m_to_tap(std::move(to_tap)) {
    const platform_config& c = p.config();
    m_tx_cost =
        cycles_to_ticks(static_cast<double>(c.host_stack_tx_cycles), c.cpu.exits.cpu_clock_hz);
    m_rx_cost =
        cycles_to_ticks(static_cast<double>(c.host_stack_rx_cycles), c.cpu.exits.cpu_clock_hz);
}

void host_bridge_net::send(const frame& f, tick_t at) {
    m_p.timeline.mark(at, stage::host_stack);
    m_tx.emplace_back(at, f);
    const tick_t now = now_ticks();
    m_tx_event.notify(to_sc_time(at > now ? at - now : 0));
}

void host_bridge_net::setup(host_cpu& cpu) {
    const auto found = m_p.enumerate();
    const pcie::enumerated_function& pf = m_p.nic_pf(found);
    m_p.nic->set_mac(0, m_guest);  // the bridge's port: the guest's MAC reaches the PF
    for (const auto& b : pf.bars) {
        if (b.index == 0) m_pf.bar0 = b.address;
        if (b.index == 3) m_pf.bar3 = b.address;
    }
    m_pf.region = m_p.config().map.dram_high.base + 0x1000'0000;
    host_queue_bus bus(cpu);
    open_queues(bus, m_pf, "run: the PF");
    enable_rx_interrupt(cpu, pf.id, m_pf, rr_vector, "run: the PF");
}

void host_bridge_net::serve(host_cpu& cpu) {
    host_queue_bus bus(cpu);
    sc_core::sc_event never;
    std::uint64_t seen = m_p.interrupts.count(rr_vector);
    for (;;) {
        // TX: every frame the tap has by now.
        while (!m_tx.empty() && m_tx.front().first <= cpu.now()) {
            const frame f = std::move(m_tx.front().second);
            m_tx.pop_front();
            if (m_tx_cost) cpu.wait_for(never, m_tx_cost);
            post_tx(bus, m_pf, f);
            m_p.timeline.mark(cpu.now(), stage::pcie);
            ring_tx(bus, m_pf);
            ++m_tx_frames;
        }
        // RX: the PF's interrupt; every frame written back by then.
        if (m_p.interrupts.count(rr_vector) != seen) {
            seen = m_p.interrupts.count(rr_vector);
            m_p.timeline.mark(m_p.interrupts.last_arrival(rr_vector), stage::host_stack);
            for (;;) {
                bool done = false;
                const auto f = receive_frame(bus, m_pf, done);
                if (!done) break;
                m_p.timeline.pause(true);  // the refill is the host stack's own work
                recycle_rx(bus, m_pf);
                m_p.timeline.pause(false);
                if (!f) {
                    ++m_rx_errors;
                    continue;
                }
                if (m_rx_cost) cpu.wait_for(never, m_rx_cost);
                ++m_rx_frames;
                m_to_tap(*f, cpu.now());
            }
            continue;
        }
        if (!m_tx.empty()) {
            if (m_tx.front().first <= cpu.now()) continue;
            // A later frame's notification may have been overtaken by an earlier one's.
            m_tx_event.notify(to_sc_time(m_tx.front().first - now_ticks()));
        }
        cpu.wait_any(m_tx_event | m_p.interrupts.event(rr_vector));
    }
}

}  // namespace iovsim::platform
