// KVM on the host (issue 5): the VMs and their vCPUs, the trap handlers a VM exit reaches, the
// host's interrupt entry and interrupt delivery to vCPUs, and the trap path's statistics.
//
// Models:
// - Per VM: its EPT (ept.h), vm.interrupts (exit | apicv | posted), vm.wait (halt | poll), the
//   device models behind its trapped MMIO regions and I/O ports (in KVM or in the user-space
//   VMM, mmio_handler in guest.h) and its ioeventfds (a trapped write to an address, optionally
//   only with one value, that signals an eventfd and returns: KVM adds kvm.ioeventfd_notify
//   before the waiter is told).
// - irqfd(): a host thread (vhost, the VMM's I/O thread, VFIO's interrupt handler) injects a
//   vector into a vCPU. In exit and apicv mode the vCPU's LAPIC gets it and a running vCPU is
//   kicked out (EXTERNAL_INTERRUPT exit, injection at entry); in posted mode KVM posts it into
//   the vCPU's posted-interrupt descriptor (real bytes in host memory) and sends the
//   notification its NV names: no exit while the vCPU runs.
// - The host interrupt entry `irq_socket`: MSI/MSI-X writes from the root complex (or the
//   IOMMU's remapping unit), 4-byte writes to 0xFEEx_xxxx decoded in the x86 format (address
//   bits 19:12 destination APIC ID, data bits 7:0 vector; host core N has APIC ID N). The
//   posted-interrupt notification vector (0xf2) and the wake-up vector (0xf1) go to the vCPUs
//   whose descriptors name that CPU; any other vector is looked up in the MSI routing table the
//   VMM programs when it emulates a passthrough device's MSI-X table (VFIO + irqfd: host vector
//   -> VM, vCPU, guest vector) and injected as irqfd() does. Anything else is counted.
// - Trace signals (set_tracer): per host core, core<N>.pi_notification (8 bits): the
//   notification vector (0xf2, or the wake-up vector 0xf1) that reached the core, as a pulse of
//   notification_pulse from its arrival, 0 otherwise; a notification is an event with no
//   duration, so the pulse width is a display convention (GTKWave draws it at any zoom), the
//   rising edge is the true time. Notifications to one core closer than the pulse merge.
// - Statistics (register_stats): vm_exits.total.{count,time_ns},
//   vm_exits.by_reason.<reason>.{count,time_ns}, cpu.vcpu<N>.time_ns.<state>,
//   interrupts.delivered.<mode>, interrupts.latency_ns (arrival at KVM to delivery to the
//   guest), interrupts.unrouted, interrupts.malformed.
//
// Leaves out: the VMM's global lock (device models do not contend with its I/O thread), KVM's
// own CPU time on the host side of irqfd and of the interrupt entry (the injecting thread pays
// nothing), IPIs between vCPUs, level-triggered interrupts, destination modes other than
// physical, routing keyed by destination as well as vector. Timing: the entry is a TLM target
// and never waits; everything it does is handed to the vCPU's thread at the message's time.
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/core/accountant.h"
#include "models/core/stats.h"
#include "models/core/tracer.h"
#include "models/cpu/cpu_params.h"
#include "models/cpu/ept.h"
#include "models/cpu/exit_costs.h"
#include "models/cpu/guest.h"
#include "models/cpu/host_scheduler.h"
#include "models/cpu/host_thread.h"
#include "models/cpu/posted_interrupt.h"

namespace iovsim::cpu {

class vcpu;

// What a vCPU spends its time on; the states sum to the time it has run.
enum class vcpu_state : std::uint8_t {
    guest,      // in guest mode (computing, touching memory, stalled on passthrough MMIO, spinning)
    exit,       // the hardware exit and entry transitions
    kvm,        // in KVM handling an exit
    vmm,        // in the user-space VMM (dispatch and device model)
    halted,     // after a HLT exit, polling or asleep until an interrupt wakes it
    preempted,  // runnable, waiting for its host core (another thread had it)
};
constexpr std::size_t vcpu_state_count = 6;
const char* to_string(vcpu_state s);

class kvm : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<kvm> irq_socket;

    // `scheduler` (host cores) and `pi_memory` (where posted-interrupt descriptors live) must
    // outlive this module.
    kvm(sc_core::sc_module_name name, const cpu_config& config, host_scheduler& scheduler,
        descriptor_memory& pi_memory);

    // A VM with guest-physical map `map` (which must outlive this module); returns its ID (0, 1,
    // ...).
    unsigned add_vm(const ept& map, delivery_mode interrupts, wait_mode wait);

    // Device models. `where` is exit_handler::vmm (KVM_RUN returns to the VMM) or ::kvm (an
    // in-kernel device). MMIO: an emulated region, or the trapped pages of a passthrough region
    // (offsets from the region's base). Ports [first, first + count). std::invalid_argument for
    // an unknown VM, a region of another kind, where = ioeventfd, or an overlap.
    void register_mmio(unsigned vm, int region, mmio_handler& h,
                       exit_handler where = exit_handler::vmm);
    void register_pio(unsigned vm, std::uint16_t first, std::uint16_t count, mmio_handler& h,
                      exit_handler where = exit_handler::vmm);
    // KVM_IOEVENTFD: a guest write to MMIO `gpa` (or port `port`), of any value or only of
    // `datamatch`, signals `fd` and returns from KVM.
    void register_ioeventfd(unsigned vm, std::uint64_t gpa, std::optional<std::uint64_t> datamatch,
                            eventfd& fd);
    void register_pio_ioeventfd(unsigned vm, std::uint16_t port,
                                std::optional<std::uint64_t> datamatch, eventfd& fd);
    // The MSI routing the VMM programs (VFIO + irqfd): host vector -> vCPU and guest vector.
    void route_msi(std::uint8_t host_vector, unsigned vm, unsigned vcpu, std::uint8_t guest_vector);

    // Injects `vector` into vCPU `vcpu` of `vm` at `at` (not before the current kernel time).
    // Never waits. std::invalid_argument for an unknown VM or vCPU.
    void irqfd(unsigned vm, unsigned vcpu, std::uint8_t vector, tick_t at);

    // Trace signals core<N>.pi_notification for every host core, scoped by `t`.
    void set_tracer(const core::tracer& t);
    static constexpr tick_t notification_pulse = 1 * ticks_per_ns;

    // Packet accounting for exits (optional; must outlive the simulation).
    void set_accountant(core::accountant* a) { m_accountant = a; }
    core::accountant* accountant() const { return m_accountant; }
    // Or, instead of an accountant, a stage marker: "stage S holds VM vm's packet from time T". A
    // vCPU whose program has set a packet marks (from_vcpu true) every step of an exit path
    // (exit, kvm, vmm, then guest at the VM entry's end) and its way back from HLT (kvm from the
    // wake-up, exit for the VM entry, guest after it); KVM marks kvm when irqfd() injects
    // (from_vcpu false: an interrupt for the guest arrived), and a vCPU's ioeventfd signal marks
    // the eventfd's handoff() stage (vhost for a kick). The platform's packet timeline collects
    // these with its probes' marks (platform/packet_probe.h).
    using stage_marker = std::function<void(unsigned vm, tick_t, core::stage, bool from_vcpu)>;
    void set_marker(stage_marker m) { m_marker = std::move(m); }
    const stage_marker& marker() const { return m_marker; }

    void register_stats(core::stats_registry& reg, const std::string& prefix = "") const;

    // --- for vCPUs and tests ---
    struct exit_stat {
        core::counter count;
        tick_t ticks = 0;
    };
    const exit_stat& exits(exit_reason r) const { return m_exits[static_cast<std::size_t>(r)]; }
    std::uint64_t total_exits() const;
    tick_t total_exit_ticks() const;
    std::uint64_t delivered(delivery_mode m) const {
        return m_delivered[static_cast<std::size_t>(m)].value();
    }
    const core::histogram& latency_ns() const { return m_latency_ns; }
    std::uint64_t unrouted() const { return m_unrouted.value(); }
    std::uint64_t malformed() const { return m_malformed.value(); }

    const cpu_config& config() const { return m_config; }
    const exit_costs& costs() const { return m_costs; }
    host_scheduler& scheduler() { return m_sched; }
    descriptor_memory& pi_memory() { return m_pi_memory; }
    unsigned vms() const { return static_cast<unsigned>(m_vms.size()); }
    const ept& vm_ept(unsigned vm) const { return *vm_at(vm).map; }
    delivery_mode interrupts(unsigned vm) const { return vm_at(vm).interrupts; }
    wait_mode wait(unsigned vm) const { return vm_at(vm).wait; }
    vcpu& vcpu_of(unsigned vm, unsigned index) const;

    // A trapped access's handler: (handler, where), or none.
    struct handler_ref {
        mmio_handler* handler = nullptr;
        exit_handler where = exit_handler::vmm;
        std::uint64_t offset = 0;
    };
    handler_ref mmio_handler_for(unsigned vm, int region) const;
    handler_ref pio_handler_for(unsigned vm, std::uint16_t port) const;
    eventfd* ioeventfd_for(unsigned vm, bool pio, std::uint64_t addr, std::uint64_t value) const;

    // Called by vcpu's constructor: returns the vCPU's host-wide index (its N in cpu.vcpu<N>)
    // and sets `index`, its index within the VM.
    unsigned attach(vcpu& v, unsigned vm, unsigned& index);
    void count_exit(exit_reason r, tick_t ticks);
    void count_delivery(delivery_mode m, tick_t latency);
    // A posted-interrupt notification (or wake-up) vector reached host core `core` at `at`: the
    // interrupt entry, or KVM's own post (irqfd in posted mode). Trace only.
    void trace_notification(unsigned core, std::uint8_t vector, tick_t at);

private:
    struct pio_range {
        std::uint16_t first, count;
        mmio_handler* handler;
        exit_handler where;
    };
    struct ioeventfd_entry {
        bool pio;
        std::uint64_t addr;
        std::optional<std::uint64_t> datamatch;
        eventfd* fd;
    };
    struct vm_state {
        const ept* map;
        delivery_mode interrupts;
        wait_mode wait;
        std::map<int, std::pair<mmio_handler*, exit_handler>> mmio;
        std::vector<pio_range> pio;
        std::vector<ioeventfd_entry> ioeventfds;
        std::vector<vcpu*> vcpus;
    };
    struct msi_route {
        unsigned vm, vcpu;
        std::uint8_t vector;
    };

    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
    const vm_state& vm_at(unsigned vm) const;
    vm_state& vm_at(unsigned vm);

    cpu_config m_config;
    exit_costs m_costs;
    host_scheduler& m_sched;
    descriptor_memory& m_pi_memory;
    std::vector<vm_state> m_vms;
    std::vector<vcpu*> m_all_vcpus;
    std::map<std::uint8_t, msi_route> m_routes;
    core::accountant* m_accountant = nullptr;
    stage_marker m_marker;

    std::array<exit_stat, exit_reason_count> m_exits{};
    std::array<core::counter, 3> m_delivered{};
    core::histogram m_latency_ns;
    core::counter m_unrouted;
    core::counter m_malformed;
    core::tracer m_tracer;
    std::vector<traces::signal_id> m_notification_signals;  // by host core
    std::vector<tick_t> m_notification_end;                 // end of each core's pulse
};

}  // namespace iovsim::cpu
