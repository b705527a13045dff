// A vCPU (issue 5): the host thread that runs a guest program (guest.h) in guest mode, and the
// trap path it takes out of it, as a thin SystemC shell over the cores (exit_costs, lapic,
// posted_interrupt, halt_poll, host_scheduler).
//
// Models:
// - Guest memory: each read/write goes through the EPT to host DRAM and touches the real bytes
//   with transport_dbg on `socket` (through the host bridge to memory). It is modelled as cache
//   hits: vcpu_params::mem_access_cycles per 64-byte line touched; memory's own timing is not
//   consulted (a guest's working set is assumed to be in its caches).
// - MMIO: through the EPT. A mapped passthrough BAR: a TLM transaction on `socket` to the BAR's
//   host-physical address, carrying a tlp_extension with the VM and vCPU IDs (a write is posted,
//   a read waits for its completion: whatever the root complex adds to the delay); the vCPU stays
//   in guest mode. A trapped page, an emulated region or an unmapped address: an EPT_MISCONFIG
//   exit to KVM's ioeventfd, an in-kernel device or the VMM (kvm.h), plus the device model's own
//   cycles. Port I/O: always an IO_INSTRUCTION exit, same handlers. An access nobody handles
//   goes to the VMM, which ignores it (reads: all ones). hypercall(): a VMCALL exit.
// - Every exit costs exit_costs::path(); its stages are charged to the packet accountant when
//   the program has set a packet, and counted in kvm's statistics by reason.
// - The host core: compute, memory, MMIO stalls and exits are CPU work of the vCPU thread on its
//   pinned core (host_scheduler): a thread sharing the core delays it and is delayed by it.
//   Waiting for the core is the `preempted` state. When a piece of the vCPU's work finds its core
//   held by another thread, the vCPU is preempted until the work starts (host_scheduler::start):
//   KVM's vcpu_put sets SN in posted mode, so posts do not notify; at the sched-in vcpu_load
//   clears SN (and sets ON if PIR holds requests) and, for guest work, the VM entry moves PIR
//   into the virtual IRR and delivers what the LAPIC allows. Interrupts in exit and apicv mode
//   that arrive meanwhile are injected at that entry, with no exit.
// - Interrupts (kvm.h delivers them here): while in guest mode, exit/apicv take an
//   EXTERNAL_INTERRUPT exit at once and the guest gets the vector at its end; posted: the
//   descriptor's PIR is synced into the virtual APIC at once, no exit. While out of guest mode
//   (in an exit) the vector is injected at the next VM entry, at no extra exit. A program takes a
//   delivered vector in wait_for_interrupt(); eoi() exits (APIC_ACCESS) in exit mode only.
// - vm.wait = halt: HLT exit; KVM polls for kvm.halt_poll and then blocks (posted mode: the
//   descriptor's NV switched to the wake-up vector); an interrupt wakes it after
//   host.wakeup_latency (the scheduler's wake-up). vm.wait = poll: the guest spins, no exit.
//
// - Trace signals (set_tracer), for GTKWave: `state` (a vcpu_state, 3 bits); `irq` (1 bit): an
//   interrupt is asserted, from its arrival at the vCPU until the guest's EOI (pending in the
//   virtual APIC's IRR or, posted mode, in the descriptor's PIR, or in service in the ISR);
//   `irr` (8 bits): the highest vector requested and not yet delivered to the guest, 0 if none
//   (vectors 0-15 are illegal, so 0 is free); `isr` (8 bits): the highest vector the guest is
//   servicing (delivered, no EOI yet), 0 if none. A vector posted into PIR without a notification
//   (SN set) shows only when the vCPU sees it, at its next vcpu_load.
//
// Leaves out: interrupts preempting the program (they are taken where it waits), the interrupt
// window (an interrupt is always injectable at entry), halt polling's and spinning's CPU time on
// the host core (the scheduler sees a halted or spinning vCPU as blocked), preemption in the
// middle of a piece of work at a time-slice end (the time is counted as preempted, but SN is not
// set for it and an interrupt arriving then is treated as arriving while the vCPU runs), guest
// caches and TLBs.
// Timing: LT with a tlm_quantumkeeper (sim.quantum); local time spent in guest mode is handed to
// the host scheduler at every sync, and everything else synchronizes first.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/core/sc_glue.h"
#include "models/core/tracer.h"
#include "models/cpu/guest.h"
#include "models/cpu/kvm.h"
#include "models/cpu/lapic.h"
#include "models/cpu/posted_interrupt.h"

namespace iovsim::cpu {

struct vcpu_params {
    unsigned vm = 0;  // the VM (kvm::add_vm) this vCPU belongs to; its index is its order
    // Host-physical address of the posted-interrupt descriptor KVM keeps for it (64-byte aligned,
    // in DRAM); used in posted mode only.
    std::uint64_t pi_descriptor = 0;
    // A guest memory access, per 64-byte line touched: an L1 hit (about 4-5 cycles on Sandy
    // Bridge through Skylake).
    std::uint64_t mem_access_cycles = 4;
};

class vcpu : public sc_core::sc_module, private guest_context {
public:
    tlm_utils::simple_initiator_socket<vcpu>
        socket;  // to the host bridge (root complex cpu_socket)

    vcpu(sc_core::sc_module_name name, kvm& k, const vcpu_params& p);

    // The program to run from time zero. The vCPU stops when it returns; an exception it throws
    // stops it too and is kept in failure().
    void run(guest_program p) { m_program = std::move(p); }
    // Trace signals `state`, `irq`, `irr`, `isr` (see above), scoped by `t`.
    void set_tracer(const core::tracer& t);

    // --- from KVM (never wait) ---
    // A vector injected (irqfd, routed MSI) at `at`.
    void inject(std::uint8_t vector, tick_t at);
    // A posted-interrupt notification (NV of the descriptor) received by the vCPU's CPU at `at`.
    void notify(std::uint8_t notification_vector, tick_t at);

    unsigned vm() const { return m_params.vm; }
    unsigned index() const { return m_index; }    // within its VM
    unsigned global() const { return m_global; }  // across VMs: cpu.vcpu<N>
    unsigned host_core() const { return m_core; }
    thread_id host_thread() const { return m_thread; }
    const lapic& apic() const { return m_apic; }
    const posted_interrupt_descriptor& descriptor() const { return *m_pid; }
    std::uint64_t descriptor_address() const { return m_params.pi_descriptor; }
    // Time spent in state `s` so far (a halt or a spin still going on counts up to now).
    tick_t state_ticks(vcpu_state s) const {
        tick_t t = m_state_ticks[static_cast<std::size_t>(s)];
        if (s == vcpu_state::halted && m_halted) t += now_ticks() - m_halted_since;
        if (s == vcpu_state::guest && m_spinning) t += now_ticks() - m_spin_since;
        return t;
    }
    std::uint64_t exits() const { return m_exits; }
    std::uint64_t exits(exit_reason r) const {
        return m_exits_by_reason[static_cast<std::size_t>(r)];
    }
    std::uint64_t halt_polls_hit() const { return m_poll_hits; }
    std::uint64_t halt_sleeps() const { return m_sleeps; }
    std::uint64_t bad_accesses() const { return m_bad_accesses; }  // guest memory outside RAM
    std::uint64_t mmio_errors() const { return m_mmio_errors; }    // error responses
    std::uint64_t unhandled() const { return m_unhandled; }        // trapped with no handler
    bool finished() const { return m_finished; }
    const std::string& failure() const { return m_failure; }
    // Kernel time plus local offset.
    tick_t time() const;

private:
    struct arrival {
        enum class kind : std::uint8_t { inject, notify } what;
        std::uint8_t vector;
    };

    // guest_context
    void read(std::uint64_t gpa, void* dst, std::uint32_t len) override;
    void write(std::uint64_t gpa, const void* src, std::uint32_t len) override;
    std::uint32_t mmio_read32(std::uint64_t gpa) override;
    void mmio_write32(std::uint64_t gpa, std::uint32_t value) override;
    void mmio_write64(std::uint64_t gpa, std::uint64_t value) override;
    std::uint32_t pio_in(std::uint16_t port, unsigned size) override;
    void pio_out(std::uint16_t port, unsigned size, std::uint32_t value) override;
    void compute(std::uint64_t cycles) override;
    void hypercall() override;
    void wait_for_interrupt(std::uint8_t vector) override;
    void eoi() override;
    void set_packet(std::uint64_t packet_id) override { m_packet = packet_id; }
    tick_t now() const override { return time(); }
    unsigned vm_id() const override { return m_params.vm; }
    unsigned vcpu_id() const override { return m_index; }

    void thread();
    // Guest memory through transport_dbg and the cache-hit cost; false if not guest RAM.
    bool guest_memory(tlm::tlm_command cmd, std::uint64_t gpa, void* data, std::uint32_t len);
    std::uint64_t mmio(tlm::tlm_command cmd, std::uint64_t gpa, std::uint64_t value, unsigned size);
    // A trapped MMIO or PIO access: ioeventfd `fd`, device model `h`, or nobody (the VMM).
    std::uint64_t trapped(bool pio, bool is_write, const kvm::handler_ref& h, eventfd* fd,
                          std::uint64_t value, unsigned size);
    // Local guest time goes to the core; afterwards local time is zero and the kernel is at now.
    void flush();
    // `work` ticks of CPU on the core from now in state `st` (a wake-up if `wakes`), plus any
    // interrupt exits taken meanwhile; the time spent waiting for the core goes to `waiting`.
    // Returns the completion.
    tick_t run_on_core(tick_t work, vcpu_state st, bool wakes = false,
                       vcpu_state waiting = vcpu_state::preempted);
    // An exit: path `p` plus `extra` ticks of device model (in `extra_state`) on the core, then
    // the VM entry. Returns the time of the entry.
    tick_t exit_op(exit_reason r, const exit_path& p, tick_t extra = 0,
                   vcpu_state extra_state = vcpu_state::vmm);
    // State ticks and packet hand-offs of an exit that started at `start`.
    void charge_path(tick_t start, const exit_path& p, tick_t extra,
                     vcpu_state extra_state = vcpu_state::vmm);
    // Waits until kernel time `t`, handling arrivals as they come.
    void wait_until(tick_t t);
    // Handles every arrival due by the current kernel time.
    void take_arrivals();
    void handle(const arrival& a, tick_t at);
    // VM entry at `t`: posted PIR -> IRR, deliver what the LAPIC allows.
    void enter_guest(tick_t t);
    void deliver(tick_t t);
    void set_state(vcpu_state s, tick_t t);
    // The interrupt signals after a change of IRR, PIR or ISR at `t` (trace only).
    void trace_irq(tick_t t);
    // vcpu_load on the vCPU's core (posted mode: the descriptor's NDST, NV, SN, ON).
    void load_descriptor();
    bool taken(std::uint8_t vector);
    void arm();
    void spin();  // vm.wait = poll
    void halt();  // vm.wait = halt

    kvm& m_kvm;
    vcpu_params m_params;
    unsigned m_index = 0;
    unsigned m_global = 0;
    unsigned m_core = 0;
    thread_id m_thread = 0;
    delivery_mode m_mode;
    wait_mode m_wait;
    guest_program m_program;
    tlm_utils::tlm_quantumkeeper m_qk;
    lapic m_apic;
    std::unique_ptr<posted_interrupt_descriptor> m_pid;

    vcpu_state m_state = vcpu_state::guest;
    bool m_halted = false;  // out of guest mode after HLT, not yet resumed
    bool m_woken = false;   // something woke the halted vCPU
    tick_t m_woken_at = 0;
    tick_t m_extra = 0;        // interrupt exits taken in guest mode, not yet run on the core
    tick_t m_last_notify = 0;  // the last posted-interrupt notification
    std::multimap<tick_t, arrival> m_pending;
    std::map<std::uint8_t, tick_t> m_arrived;  // vector -> first arrival not yet delivered
    std::deque<std::uint8_t> m_taken;          // delivered, not yet waited for
    sc_core::sc_event m_irq_event;

    std::uint64_t m_packet = 0;
    std::array<tick_t, vcpu_state_count> m_state_ticks{};
    tick_t m_halted_since = 0;  // while m_halted: when the halt began
    bool m_spinning = false;    // in spin(), waiting in guest mode
    tick_t m_spin_since = 0;
    std::uint64_t m_exits = 0;
    std::array<std::uint64_t, exit_reason_count> m_exits_by_reason{};
    std::uint64_t m_poll_hits = 0;
    std::uint64_t m_sleeps = 0;
    std::uint64_t m_bad_accesses = 0;
    std::uint64_t m_mmio_errors = 0;
    std::uint64_t m_unhandled = 0;
    bool m_finished = false;
    std::string m_failure;
    core::tracer m_tracer;
    traces::signal_id m_state_signal = traces::no_signal;
    traces::signal_id m_irq_signal = traces::no_signal;
    traces::signal_id m_irr_signal = traces::no_signal;
    traces::signal_id m_isr_signal = traces::no_signal;
    std::uint8_t m_traced_irr = 0;
    std::uint8_t m_traced_isr = 0;
};

}  // namespace iovsim::cpu
