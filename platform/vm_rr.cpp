#include "platform/vm_rr.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "models/core/errors.h"
#include "models/core/sc_glue.h"
#include "models/pcie/capabilities.h"
#include "platform/emulation_vm.h"
#include "platform/nicbench.h"
#include "platform/passthrough_vm.h"
#include "platform/pf_driver.h"
#include "platform/platform_params.h"
#include "platform/virtio_vm.h"
#include "sriov-nic/nic_registers.h"

namespace iovsim::platform {

using core::stage;

// --- vm_workload ---

vm_workload::vm_workload(host_platform& p, const workload_config& w, const vm_slot& slot)
    : m_p(p),
      m_w(w),
      m_index(slot.index),
      m_spec(slot.spec),
      m_out(*slot.out),
      m_bridge(slot.bridge),
      m_done(slot.done),
      m_ready(slot.ready) {
    const platform_config& c = p.config();
    if (!p.kvm) throw std::invalid_argument("run: the platform was built without VMs");
    if (!c.accounting)
        throw std::invalid_argument("run: the platform was built without packet accounting");
    if (!p.nic || (w.type == workload_type::rr && !p.peer) ||
        (w.type == workload_type::stream_tx && !p.terminator) || (is_rx(w.type) && !p.generator))
        throw std::invalid_argument("run: the platform needs the NIC and the workload's peer");
    if (is_rx(w.type)) m_rx.emplace(slot.rx_frames, w.warmup, w.type == workload_type::pcap);
    m_map.map_ram(0, vm_ram_hpa(w, m_index), m_spec.memory);
    m_vm = p.kvm->add_vm(m_map, m_spec.interrupts, m_spec.wait);
    m_vcpu = std::make_unique<cpu::vcpu>(
        fmt::format("vm{}_vcpu0", m_index).c_str(), *p.kvm,
        cpu::vcpu_params{m_vm, pi_descriptor_hpa + 64 * std::uint64_t{m_index}, 4});
    m_vcpu->socket.bind(p.bus->in);
    p.assign_core(m_vcpu->host_core(), m_index);
    // vCPUs 1..vcpus-1: the guest's idle loop, waiting as vm.wait says for an interrupt that
    // never comes for them (their core stays VM n's worker's in the owner map: only vCPU 0's
    // interrupts and exits are on the packets' path).
    for (unsigned k = 1; k < m_spec.vcpus; ++k) {
        auto v = std::make_unique<cpu::vcpu>(
            fmt::format("vm{}_vcpu{}", m_index, k).c_str(), *p.kvm,
            cpu::vcpu_params{m_vm, idle_pi_descriptor_hpa + 64 * (8 * std::uint64_t{m_index} + k),
                             4});
        v->socket.bind(p.bus->in);
        v->run([](cpu::guest_context& g) {
            for (;;) g.wait_for_interrupt(idle_vector);
        });
        m_idle.push_back(std::move(v));
    }
    tl().attach_also(slot.accountant);
}

void vm_workload::start(tick_t at) { m_p.kvm->irqfd(m_vm, 0, start_vector, at); }

void vm_workload::begin_packet(cpu::guest_context& g) {
    const tick_t begin = g.now();
    if (m_seq == m_w.warmup) measure_from(begin);
    tl().begin(begin, stage::guest);
    g.set_packet(m_seq + 1);
    ++m_out.sent;
    stack_tx(g);  // the request's way down the guest's stack to its driver
}

void vm_workload::stack_tx(cpu::guest_context& g) {
    if (m_w.stack_tx) g.compute(m_w.stack_tx);
}

void vm_workload::stack_rx(cpu::guest_context& g) {
    if (m_w.stack_rx) g.compute(m_w.stack_rx);
}

void vm_workload::end_packet(cpu::guest_context& g, const rx_check& r) {
    if (r.done) stack_rx(g);  // the response's way up from the driver to the application
    if (r.done) ++m_out.received;
    if (r.verified) ++m_out.verified;
    const tick_t end = g.now();
    g.set_packet(core::no_packet);
    tl().end(end, m_seq < m_w.warmup);  // the run's accountant: this VM's warm-up
    measure_to(end);
}

void vm_workload::measure_from(tick_t t) {
    m_out.measured_begin = t;
    m_exits_begin = exit_counts();
}

void vm_workload::measure_to(tick_t t) {
    m_out.measured_end = t;
    m_exits_end = exit_counts();
}

void vm_workload::arrived(const std::vector<std::uint8_t>& f, tick_t at) {
    if (m_rx) m_rx->arrived(f, at);
}

void vm_workload::rx_take(cpu::guest_context& g,
                          const std::optional<std::vector<std::uint8_t>>& f) {
    if (f) stack_rx(g);
    if (m_rx->take(f, g.now()) == rx_meter::taken::first_measured) measure_from(g.now());
}

void vm_workload::cut(tick_t now) {
    if (m_finished || m_cut) return;
    m_cut = true;
    measure_to(now);
    finish();
}

void vm_workload::run_guest(std::function<void(cpu::guest_context&)> program) {
    m_vcpu->run([this, program = std::move(program)](cpu::guest_context& g) {
        try {
            program(g);
        } catch (...) {
            finish();
            throw;
        }
    });
}

void vm_workload::finish() {
    if (m_finished) return;
    m_finished = true;
    rx_ready(now_ticks());  // a guest that failed before it was up must not hold the generator
    if (m_done) m_done();
}

std::array<std::uint64_t, cpu::exit_reason_count> vm_workload::exit_counts() const {
    std::array<std::uint64_t, cpu::exit_reason_count> n{};
    for (std::size_t i = 0; i < cpu::exit_reason_count; ++i)
        n[i] = m_vcpu->exits(cpu::all_exit_reasons[i]);
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
    if (!m_vcpu->failure().empty()) {
        throw std::runtime_error(
            fmt::format("run: VM {}'s program failed: {}", m_index, m_vcpu->failure()));
    }
    if (!m_vcpu->finished() && !ended_by_watchdog()) {
        throw std::runtime_error(fmt::format(
            "run: VM {} ({}) never finished: packet {} got no response ({}; PF tx_frames {} "
            "rx_frames {}, wire tx {} rx {}, peer rx {} tx {}, IOMMU faults {})",
            m_index, to_string(m_spec.mode), m_seq, where(), m_p.nic->stats(0).tx_frames.value(),
            m_p.nic->stats(0).rx_frames.value(), m_p.nic->wire_tx_frames(),
            m_p.nic->wire_rx_frames(), m_p.peer ? m_p.peer->rx_frames() : 0,
            m_p.peer ? m_p.peer->tx_frames() : 0,
            m_p.iommu ? m_p.iommu->remapper().stats().faults : 0));
    }
}

std::vector<net::mac_address> receiver_macs(const workload_config& w) {
    if (w.mode == vm_mode::bare_metal) return {pf_mac()};
    std::vector<net::mac_address> macs;
    unsigned vf = 0;
    for (unsigned i = 0; i < w.vms.size(); ++i)
        macs.push_back(w.vms[i].mode == vm_mode::passthrough ? vf_mac(vf++) : guest_mac(i));
    return macs;
}

std::uint64_t receiver_frames(const workload_config& w, unsigned n, unsigned receivers) {
    if (w.type != workload_type::pcap) return w.count;
    return w.count / receivers + (n < w.count % receivers ? 1 : 0);
}

std::unique_ptr<vm_workload> make_vm_workload(host_platform& p, const workload_config& w,
                                              const vm_slot& slot) {
    switch (slot.spec.mode) {
        case vm_mode::passthrough:
            return std::make_unique<passthrough_vm>(p, w, slot);
        case vm_mode::emulation:
            return std::make_unique<emulation_vm>(p, w, slot);
        case vm_mode::virtio:
            return std::make_unique<virtio_vm>(p, w, slot);
        case vm_mode::bare_metal:
            break;
    }
    throw core::config_error(fmt::format("vms.{}.mode: bare-metal is not a VM's mode", slot.index));
}

// --- vm_set ---

vm_set::vm_set(host_platform& p, const workload_config& w, core::accountant& all)
    : m_p(p), m_bridge(p) {
    if (w.vms.empty()) throw std::invalid_argument("run: vm_set needs at least one VM");
    for (unsigned i = 0; i < w.vms.size(); ++i) p.timeline_of(i).attach(&all);
    for (unsigned i = 0; i < w.vms.size(); ++i) {
        m_accountants.push_back(std::make_unique<core::accountant>(w.warmup));
        m_results.emplace_back();
        vm_slot slot;
        slot.index = i;
        slot.spec = w.vms[i];
        slot.accountant = m_accountants.back().get();
        slot.out = &m_results.back();
        slot.bridge = &m_bridge;
        slot.done = [this] {
            if (--m_running == 0) sc_core::sc_stop();  // halt polling and timers would go on
        };
        slot.rx_frames = receiver_frames(w, i, static_cast<unsigned>(w.vms.size()));
        slot.ready = [this](tick_t at) {
            // The generator (held) begins once every receiver's driver is up.
            if (++m_receivers_ready == m_vms.size() && m_p.generator) m_p.generator->release(at);
        };
        m_vms.push_back(make_vm_workload(p, w, slot));
    }
    m_running = static_cast<unsigned>(m_vms.size());
    p.kvm->set_marker([this](unsigned vm, tick_t t, stage s, bool from_vcpu) {
        if (vm >= m_vms.size()) return;
        packet_timeline& tl = m_p.timeline_of(vm);
        if (from_vcpu)
            tl.mark_vcpu(t, s);
        else if (m_vms[vm]->keep_kvm_mark(s))
            tl.mark(t, s);
    });
    if (is_rx(w.type)) {
        // Each frame's arrival to the VM it is for: VM i's frames go to the generator's i-th
        // receiver (receiver_macs()).
        const std::vector<net::mac_address> macs = p.config().generator.receivers;
        if (macs.size() != m_vms.size())
            throw std::invalid_argument("run: the generator needs a receiver MAC for each VM");
        p.on_wire_rx = [this, macs](const std::vector<std::uint8_t>& f, tick_t at) {
            if (f.size() < 6) return;
            const net::mac_address to = net::mac_address::at(f, 0);
            for (std::size_t i = 0; i < macs.size(); ++i)
                if (macs[i] == to) m_vms[i]->arrived(f, at);
        };
        std::uint64_t total = 0;
        for (const auto& v : m_vms) total += v->rx()->expected();
        sc_core::sc_spawn([this, total] { rx_watchdog(total); });
    }
    p.cpu.run([this](host_cpu& cpu) { host(cpu); }, false);
}

void vm_set::rx_watchdog(std::uint64_t total) {
    const sc_core::sc_time poll = to_sc_time(10 * ticks_per_us);
    // A guest stuck before its driver was up holds the generator: after 100 ms of simulated
    // time without it, the run ends (check() then names the VM that never finished).
    while (m_p.generator->tx_frames() < total) {
        if (m_receivers_ready < m_vms.size() && now_ticks() > 100 * ticks_per_ms) {
            sc_core::sc_stop();
            return;
        }
        sc_core::wait(poll);
    }
    // Then until 1 ms passes in which no guest took a frame: what is still queued (the PF's
    // ring, the bridge, a tap, a virtqueue) gets its turn; what never comes was dropped and
    // counted where it was.
    const auto taken = [this] {
        std::uint64_t n = 0;
        for (const auto& v : m_vms) n += v->rx()->frames() + v->rx()->errors();
        return n;
    };
    for (std::uint64_t before = ~std::uint64_t{0}; taken() != before;) {
        before = taken();
        sc_core::wait(to_sc_time(ticks_per_ms));
    }
    for (const auto& v : m_vms) v->cut(now_ticks());
}

void vm_set::host(host_cpu& cpu) {
    vm_host_context ctx;
    ctx.found = m_p.enumerate();
    ctx.pf = &m_p.nic_pf(ctx.found);
    m_p.nic->set_mac(0, pf_mac());
    bool passthrough = false;
    for (const auto& v : m_vms) passthrough |= v->mode() == vm_mode::passthrough;
    if (passthrough) {
        pf_driver pfd(cpu, *m_p.nic, *ctx.pf);
        ctx.layout = pfd.enable_vfs(m_p.config().nic_num_vfs);
    }
    if (m_p.iommu_driver) {
        m_p.iommu_driver->init();
        m_p.iommu_driver->setup_interrupt_remapping();
        // The PF is the host's own device (iommu.host_mode; pt: an identity context entry).
        if (m_bridge.has_ports()) m_p.iommu_driver->attach_host_device(ctx.pf->id.value());
    }
    if (m_bridge.has_ports()) m_bridge.setup(cpu, *ctx.pf);
    for (const auto& v : m_vms) v->host_setup(cpu, ctx);
    if (m_p.generator) {
        // The generator's receivers are the VMs' MACs (receiver_macs(), fixed before the VFs
        // were handed out).
        const std::vector<net::mac_address>& macs = m_p.config().generator.receivers;
        for (std::size_t i = 0; i < m_vms.size(); ++i) {
            if (m_vms[i]->mac() != macs[i])
                throw std::runtime_error(
                    fmt::format("run: VM {} has MAC {}, but the generator sends its frames to {}",
                                i, m_vms[i]->mac().to_string(), macs[i].to_string()));
        }
    }
    for (const auto& v : m_vms) v->start(cpu.now());
    if (m_bridge.has_ports()) m_bridge.serve(cpu);
}

void vm_set::check() const {
    for (const auto& v : m_vms) v->check();
}

// --- host_bridge_net ---

host_bridge_net::host_bridge_net(host_platform& p) : m_p(p) {
    const platform_config& c = p.config();
    m_tx_cost =
        cycles_to_ticks(static_cast<double>(c.host_stack_tx_cycles), c.cpu.exits.cpu_clock_hz);
    m_rx_cost =
        cycles_to_ticks(static_cast<double>(c.host_stack_rx_cycles), c.cpu.exits.cpu_clock_hz);
}

void host_bridge_net::add_port(unsigned vm, net::mac_address guest, tap_reader to_tap) {
    m_ports.push_back({vm, guest, std::move(to_tap)});
    m_p.assign_mac(guest, vm, true);
}

const host_bridge_net::port* host_bridge_net::port_of(const frame& f, bool by_source) const {
    const net::mac_address mac = net::mac_address::at(f, by_source ? 6 : 0);
    for (const port& p : m_ports)
        if (p.mac == mac) return &p;
    return nullptr;
}

void host_bridge_net::send(const frame& f, tick_t at) {
    const port* from = port_of(f, true);
    const unsigned vm = from ? from->vm : 0;
    m_p.timeline_of(vm).mark(at, stage::host_stack);
    m_tx.emplace_back(at, f);
    const tick_t now = now_ticks();
    m_tx_event.notify(to_sc_time(at > now ? at - now : 0));
}

void host_bridge_net::register_stats(core::stats_registry& reg, const std::string& prefix) const {
    const auto add = [&](const char* name, const char* what, std::uint64_t v) {
        reg.add_value(prefix + name, "frames", what, static_cast<double>(v));
    };
    add("tx_frames", "frames the bridge took from the VMs' taps and sent through the PF",
        m_tx_frames);
    add("rx_frames", "frames the PF received that the bridge handed to a VM's tap", m_rx_frames);
    add("rx_errors", "PF RX descriptors written back without a whole frame (dropped)", m_rx_errors);
    add("rx_unknown", "frames the PF received for no bridge port's MAC (dropped)", m_rx_unknown);
}

void host_bridge_net::setup(host_cpu& cpu, const pcie::enumerated_function& pf) {
    for (const port& p : m_ports) m_p.nic->add_pf_mac(p.mac);  // the bridge's ports
    for (const auto& b : pf.bars) {
        if (b.index == 0) m_pf.bar0 = b.address;
        if (b.index == 3) m_pf.bar3 = b.address;
    }
    m_pf.region = m_p.config().map.dram_high.base + 0x1000'0000;
    m_pf.buffer_bytes = nic_rx_buffer_bytes(m_p.config().nic_mtu);
    host_queue_bus bus(cpu);
    open_queues(bus, m_pf, "run: the PF");
    enable_rx_interrupt(cpu, pf.id, m_pf, rr_vector, "run: the PF");
    iommu::driver* drv = m_p.iommu_driver.get();
    if (drv && drv->initialized())
        remap_rx_interrupt(cpu, *drv, pf.id, m_pf, rr_vector, host_pf_irte, "run: the PF");
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
            const port* from = port_of(f, true);
            const unsigned vm = from ? from->vm : 0;
            if (m_tx_cost) cpu.wait_for(never, m_tx_cost);
            // The PF's ring holds nic_queue_ring - 1 frames: reap what the NIC wrote back (DD)
            // and, while it is still full, look again a microsecond later.
            while (m_tx_frames - m_tx_reaped == nic_queue_ring - 1) {
                if (tx_done(bus, m_pf, static_cast<std::uint32_t>(m_tx_reaped % nic_queue_ring)))
                    ++m_tx_reaped;
                else
                    cpu.wait_for(never, ticks_per_us);
            }
            m_p.set_pf_owner(vm);  // the PF's DMA of this frame is this VM's packet's
            post_tx(bus, m_pf, f);
            m_p.timeline_of(vm).mark(cpu.now(), stage::pcie);
            ring_tx(bus, m_pf);
            ++m_tx_frames;
        }
        // RX: the PF's interrupt; every frame written back by then.
        if (m_p.interrupts.count(rr_vector) != seen) {
            seen = m_p.interrupts.count(rr_vector);
            const tick_t irq = m_p.interrupts.last_arrival(rr_vector);
            for (;;) {
                bool done = false;
                const auto f = receive_frame(bus, m_pf, done);
                if (!done) break;
                const port* to = f ? port_of(*f, false) : nullptr;
                packet_timeline& tl = m_p.timeline_of(to ? to->vm : 0);
                // The host stack has this frame from the interrupt, or from the frame's own
                // last step if that came later (several frames drained by one interrupt).
                tl.mark(std::max(irq, tl.latest()), stage::host_stack);
                tl.pause(true);  // the refill is the host stack's own work
                recycle_rx(bus, m_pf);
                tl.pause(false);
                if (!f) {
                    ++m_rx_errors;
                    continue;
                }
                if (!to) {
                    ++m_rx_unknown;
                    continue;
                }
                if (m_rx_cost) cpu.wait_for(never, m_rx_cost);
                ++m_rx_frames;
                to->to_tap(*f, cpu.now());
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
