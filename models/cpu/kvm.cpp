#include "models/cpu/kvm.h"

#include <cctype>
#include <stdexcept>

#include "models/core/sc_glue.h"
#include "models/cpu/vcpu.h"

namespace iovsim::cpu {

const char* to_string(vcpu_state s) {
    switch (s) {
        case vcpu_state::guest:
            return "guest";
        case vcpu_state::exit:
            return "exit";
        case vcpu_state::kvm:
            return "kvm";
        case vcpu_state::vmm:
            return "vmm";
        case vcpu_state::halted:
            return "halted";
        case vcpu_state::preempted:
            return "preempted";
    }
    return "unknown";
}

kvm::kvm(sc_core::sc_module_name name, const cpu_config& config, host_scheduler& scheduler,
         descriptor_memory& pi_memory)
    : sc_module(name),
      irq_socket("irq_socket"),
      m_config(config),
      m_costs(config.exits),
      m_sched(scheduler),
      m_pi_memory(pi_memory) {
    irq_socket.register_b_transport(this, &kvm::b_transport);
}

void kvm::set_tracer(const core::tracer& t) {
    m_tracer = t;
    m_notification_signals.clear();
    for (unsigned c = 0; c < m_sched.cores(); ++c)
        m_notification_signals.push_back(
            m_tracer.declare_signal("core" + std::to_string(c) + ".pi_notification", 8));
    for (const traces::signal_id s : m_notification_signals) m_tracer.change(now_ticks(), s, 0);
    m_notification_end.assign(m_sched.cores(), 0);
}

void kvm::trace_notification(unsigned core, std::uint8_t vector, tick_t at) {
    if (!m_tracer.enabled() || core >= m_notification_signals.size()) return;
    if (m_notification_end[core] > at) return;  // the previous pulse is still up: merged
    m_tracer.change(at, m_notification_signals[core], vector);
    m_tracer.change(at + notification_pulse, m_notification_signals[core], 0);
    m_notification_end[core] = at + notification_pulse;
}

unsigned kvm::add_vm(const ept& map, delivery_mode interrupts, wait_mode wait) {
    m_vms.push_back(vm_state{&map, interrupts, wait, {}, {}, {}, {}});
    return static_cast<unsigned>(m_vms.size() - 1);
}

const kvm::vm_state& kvm::vm_at(unsigned vm) const {
    if (vm >= m_vms.size()) throw std::invalid_argument("kvm: unknown VM " + std::to_string(vm));
    return m_vms[vm];
}
kvm::vm_state& kvm::vm_at(unsigned vm) {
    return const_cast<vm_state&>(static_cast<const kvm*>(this)->vm_at(vm));
}

vcpu& kvm::vcpu_of(unsigned vm, unsigned index) const {
    const vm_state& v = vm_at(vm);
    if (index >= v.vcpus.size())
        throw std::invalid_argument("kvm: VM " + std::to_string(vm) + " has no vCPU " +
                                    std::to_string(index));
    return *v.vcpus[index];
}

unsigned kvm::attach(vcpu& v, unsigned vm, unsigned& index) {
    vm_state& s = vm_at(vm);
    index = static_cast<unsigned>(s.vcpus.size());
    s.vcpus.push_back(&v);
    m_all_vcpus.push_back(&v);
    return static_cast<unsigned>(m_all_vcpus.size() - 1);
}

void kvm::register_mmio(unsigned vm, int region, mmio_handler& h, exit_handler where) {
    vm_state& v = vm_at(vm);
    if (where == exit_handler::ioeventfd)
        throw std::invalid_argument("kvm: a device model runs in KVM or in the VMM");
    if (region < 0 || static_cast<std::size_t>(region) >= v.map->regions())
        throw std::invalid_argument("kvm: unknown MMIO region");
    if (v.mmio.count(region))
        throw std::invalid_argument("kvm: region " + v.map->region_name(region) +
                                    " already has a device model");
    v.mmio[region] = {&h, where};
}

void kvm::register_pio(unsigned vm, std::uint16_t first, std::uint16_t count, mmio_handler& h,
                       exit_handler where) {
    vm_state& v = vm_at(vm);
    if (where == exit_handler::ioeventfd)
        throw std::invalid_argument("kvm: a device model runs in KVM or in the VMM");
    if (count == 0 || unsigned{first} + count > 0x10000u)
        throw std::invalid_argument("kvm: bad port range");
    for (const pio_range& r : v.pio)
        if (first < r.first + r.count && r.first < first + count)
            throw std::invalid_argument("kvm: port ranges overlap");
    v.pio.push_back({first, count, &h, where});
}

void kvm::register_ioeventfd(unsigned vm, std::uint64_t gpa, std::optional<std::uint64_t> datamatch,
                             eventfd& fd) {
    vm_at(vm).ioeventfds.push_back({false, gpa, datamatch, &fd});
}

void kvm::register_pio_ioeventfd(unsigned vm, std::uint16_t port,
                                 std::optional<std::uint64_t> datamatch, eventfd& fd) {
    vm_at(vm).ioeventfds.push_back({true, port, datamatch, &fd});
}

void kvm::route_msi(std::uint8_t host_vector, unsigned vm, unsigned vcpu,
                    std::uint8_t guest_vector) {
    vcpu_of(vm, vcpu);  // validates
    m_routes[host_vector] = {vm, vcpu, guest_vector};
}

kvm::handler_ref kvm::mmio_handler_for(unsigned vm, int region) const {
    const vm_state& v = vm_at(vm);
    const auto it = v.mmio.find(region);
    if (it == v.mmio.end()) return {};
    return {it->second.first, it->second.second, 0};
}

kvm::handler_ref kvm::pio_handler_for(unsigned vm, std::uint16_t port) const {
    for (const pio_range& r : vm_at(vm).pio)
        if (port >= r.first && port - r.first < r.count)
            return {r.handler, r.where, static_cast<std::uint64_t>(port - r.first)};
    return {};
}

eventfd* kvm::ioeventfd_for(unsigned vm, bool pio, std::uint64_t addr, std::uint64_t value) const {
    for (const ioeventfd_entry& e : vm_at(vm).ioeventfds)
        if (e.pio == pio && e.addr == addr && (!e.datamatch || *e.datamatch == value)) return e.fd;
    return nullptr;
}

void kvm::irqfd(unsigned vm, unsigned vcpu_index, std::uint8_t vector, tick_t at) {
    vcpu_of(vm, vcpu_index).inject(vector, at);
    if (m_marker) m_marker(vm, at, core::stage::kvm, false);
}

void kvm::b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    t.set_response_status(tlm::TLM_OK_RESPONSE);
    if (!t.is_write() || t.get_data_length() != 4 || (t.get_address() >> 20) != 0xfee ||
        t.get_data_ptr() == nullptr) {
        m_malformed.inc();  // dropped, as an interrupt controller drops a malformed message
        return;
    }
    const unsigned dest = static_cast<unsigned>((t.get_address() >> 12) & 0xff);
    const std::uint8_t vector = t.get_data_ptr()[0];
    const tick_t at = now_ticks(delay);
    if (vector == posted_intr_vector || vector == posted_intr_wakeup_vector) {
        trace_notification(dest, vector, at);
        bool any = false;
        // The notification names a core; the handler looks at the descriptors of the vCPUs that
        // run there and acts on those with Outstanding Notification set (another VM's vCPU on
        // the same core has nothing to do).
        for (vcpu* v : m_all_vcpus) {
            if (interrupts(v->vm()) != delivery_mode::posted || v->host_core() != dest) continue;
            if (!v->descriptor().on()) continue;
            v->notify(vector, at);
            any = true;
        }
        if (!any) m_unrouted.inc();
        return;
    }
    const auto it = m_routes.find(vector);
    if (it == m_routes.end()) {
        m_unrouted.inc();
        return;
    }
    irqfd(it->second.vm, it->second.vcpu, it->second.vector, at);
}

void kvm::count_exit(exit_reason r, tick_t ticks) {
    exit_stat& s = m_exits[static_cast<std::size_t>(r)];
    s.count.inc();
    s.ticks += ticks;
}

void kvm::count_delivery(delivery_mode m, tick_t latency) {
    m_delivered[static_cast<std::size_t>(m)].inc();
    m_latency_ns.sample(ticks_to_ns(latency));
}

std::uint64_t kvm::total_exits() const {
    std::uint64_t n = 0;
    for (const exit_stat& s : m_exits) n += s.count.value();
    return n;
}

tick_t kvm::total_exit_ticks() const {
    tick_t n = 0;
    for (const exit_stat& s : m_exits) n += s.ticks;
    return n;
}

void kvm::register_stats(core::stats_registry& reg, const std::string& prefix) const {
    const std::string p = prefix.empty() ? "" : prefix + ".";
    reg.add_formula(p + "vm_exits.total.count", "exits", "VM exits of every reason",
                    [this] { return static_cast<double>(total_exits()); });
    reg.add_formula(p + "vm_exits.total.time_ns", "ns",
                    "time in VM exits, exit to entry, device models included",
                    [this] { return ticks_to_ns(total_exit_ticks()); });
    for (exit_reason r : all_exit_reasons) {
        std::string name = to_string(r);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const std::string base = p + "vm_exits.by_reason." + name;
        const exit_stat& s = exits(r);
        reg.add_counter(base + ".count", "exits", std::string("VM exits for ") + to_string(r),
                        s.count);
        reg.add_formula(base + ".time_ns", "ns",
                        std::string("time in VM exits for ") + to_string(r),
                        [&s] { return ticks_to_ns(s.ticks); });
    }
    for (const vcpu* v : m_all_vcpus) {
        for (std::size_t i = 0; i < vcpu_state_count; ++i) {
            const auto st = static_cast<vcpu_state>(i);
            reg.add_formula(
                p + "cpu.vcpu" + std::to_string(v->global()) + ".time_ns." + to_string(st), "ns",
                std::string("time the vCPU spent in state ") + to_string(st),
                [v, st] { return ticks_to_ns(v->state_ticks(st)); });
        }
    }
    for (delivery_mode m : {delivery_mode::exit, delivery_mode::apicv, delivery_mode::posted})
        reg.add_counter(p + "interrupts.delivered." + to_string(m), "interrupts",
                        std::string("interrupts delivered to a guest in ") + to_string(m) + " mode",
                        m_delivered[static_cast<std::size_t>(m)]);
    reg.add_histogram(p + "interrupts.latency_ns", "ns",
                      "interrupt arrival at KVM to its delivery to the guest", m_latency_ns);
    reg.add_counter(p + "interrupts.unrouted", "messages",
                    "interrupt messages with no route to a vCPU (dropped)", m_unrouted);
    reg.add_counter(p + "interrupts.malformed", "messages",
                    "writes to the interrupt entry that are not 4-byte MSI writes (dropped)",
                    m_malformed);
}

}  // namespace iovsim::cpu
