// The cost of a VM exit on KVM/x86 and the path it takes through the host (DESIGN.md §6, §7).
//
// Models: the exit reasons the I/O paths use, named and numbered as the Intel SDM (Vol. 3D,
// Appendix C, "VMX Basic Exit Reasons") and KVM's vmx.h name them, and the cost of each as a
// round trip guest -> VM exit -> KVM [-> user-space VMM -> KVM] -> VM entry -> guest. Costs are
// parameters in CPU cycles at host.cpu_clock (one consistent set: Dall et al., Xeon E5-2450,
// KVM, ATC 2017 Table 2 and ISCA 2016 Table II), converted to ticks once, when exit_costs is
// built. path() splits a round trip into (stage, ticks) steps for the packet accountant:
//   exit   the hardware transition: half of kvm.exit.transition on the way out, half back in;
//   kvm    the rest of the in-kernel round trip (exit handling, decode, ioeventfd signal, ...);
//   vmm    for an exit returned to user space, the extra over the in-kernel round trip: KVM_RUN
//          returning to the VMM's vCPU thread, its dispatch, and the KVM_RUN ioctl back in.
// The steps of one path sum exactly to its cost in ticks.
//
// Leaves out: the device model's own work in the VMM (the caller adds it), the host interrupt
// handler behind an EXTERNAL_INTERRUPT exit, exits the I/O paths never take (CPUID, MSR, ...),
// nested virtualization, and variation between exits (every exit of a kind costs the same).
// Timing assumptions: a cost does not depend on cache state or on what ran before; the split of
// a round trip between hardware transition and KVM work is an estimate (kvm.exit.transition),
// the totals are measured.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "models/core/trace_context.h"
#include "models/core/units.h"

namespace iovsim::cpu {

// VMX basic exit reasons (SDM Vol. 3D Appendix C), the ones the I/O paths take.
enum class exit_reason : std::uint8_t {
    external_interrupt,  // 1: a physical interrupt arrived while the guest ran
    interrupt_window,    // 7: the guest became able to take an interrupt KVM wants to inject
    hlt,                 // 12: the guest executed HLT
    vmcall,              // 18: hypercall
    io_instruction,      // 30: IN/OUT to a trapped port (PIO)
    apic_access,         // 44: access to the virtual-APIC page without APICv (EOI write, xAPIC)
    eoi_induced,         // 45: virtual EOI of a vector in the EOI-exit bitmap (APICv)
    ept_violation,       // 48: guest-physical access with no EPT mapping (MMIO, first touch)
    ept_misconfig,       // 49: access to a KVM MMIO SPTE (MMIO fast path)
    apic_write,          // 56: trap-like write to a virtualized APIC register (APICv)
};
constexpr std::size_t exit_reason_count = 10;
constexpr std::array<exit_reason, exit_reason_count> all_exit_reasons = {
    exit_reason::external_interrupt,
    exit_reason::interrupt_window,
    exit_reason::hlt,
    exit_reason::vmcall,
    exit_reason::io_instruction,
    exit_reason::apic_access,
    exit_reason::eoi_induced,
    exit_reason::ept_violation,
    exit_reason::ept_misconfig,
    exit_reason::apic_write,
};

// KVM's name ("EPT_MISCONFIG") and the SDM's basic exit reason number (49).
const char* to_string(exit_reason r);
std::uint32_t basic_exit_reason(exit_reason r);
// Inverse of to_string, for statistics and traces read back.
std::optional<exit_reason> parse_exit_reason(std::string_view name);

// Who handles an exit. MMIO (EPT_*) and PIO (IO_INSTRUCTION) exits may be handled by an
// in-kernel device, by ioeventfd (signal an eventfd, return) or go out to the VMM; every other
// reason is handled in KVM.
enum class exit_handler : std::uint8_t { kvm, ioeventfd, vmm };
const char* to_string(exit_handler h);

// Costs in CPU cycles for a whole round trip (exit + handling + entry), DESIGN.md §7.
struct exit_cost_params {
    // 2.1 GHz: the Xeon E5-2450 the cycle counts below were measured on, so the defaults
    // reproduce that machine's times (1,437 cycles = 684.3 ns).
    double cpu_clock_hz = 2.1e9;
    // Hardware VM exit + VM entry alone. An estimate, not a measurement: Intel's published
    // VMX round-trip latencies for Sandy Bridge are about 500 cycles.
    std::uint64_t transition = 500;
    std::uint64_t vmcall = 1437;              // null exit + entry, hypercall (Dall et al.)
    std::uint64_t hlt = 1437;                 // minimal KVM work, as a null exit
    std::uint64_t external_interrupt = 1437;  // exit, acknowledge, inject on entry: null exit
    std::uint64_t interrupt_window = 1437;    // null exit
    std::uint64_t mmio_kernel = 2565;         // I/O exit handled in KVM (Dall et al.)
    std::uint64_t pio_kernel = 2565;          // same path for PIO
    std::uint64_t mmio_vmm = 6732;            // I/O exit to the user-space VMM and back
    std::uint64_t pio_vmm = 6732;             // same path for PIO
    std::uint64_t eoi = 1556;                 // virtual IRQ completion, EOI with exit (ISCA 2016)
    // Kick to backend notified: ioeventfd signalled -> the waiting thread told, one way (ISCA
    // 2016). Host-side latency, not part of the guest's exit.
    std::uint64_t ioeventfd_notify = 560;
};

struct exit_step {
    core::stage stage;
    tick_t ticks;
};

// At most exit, kvm, vmm, exit.
struct exit_path {
    std::array<exit_step, 4> steps{};
    std::size_t size = 0;

    tick_t total() const;
    const exit_step* begin() const { return steps.data(); }
    const exit_step* end() const { return steps.data() + size; }
};

class exit_costs {
public:
    // Throws std::invalid_argument for a clock that is not positive, a round trip shorter than
    // the transition, or a VMM round trip shorter than the in-kernel one.
    explicit exit_costs(const exit_cost_params& p = {});

    // Round-trip time of an exit, ticks. std::invalid_argument for a handler the reason cannot
    // have (HLT to the VMM).
    tick_t cost(exit_reason r, exit_handler h = exit_handler::kvm) const;
    // The same round trip as stages, in order; sums to cost(r, h).
    exit_path path(exit_reason r, exit_handler h = exit_handler::kvm) const;
    // Whether reason `r` may be handled by `h`.
    static bool handled_by(exit_reason r, exit_handler h);

    tick_t transition() const { return m_transition; }
    tick_t ioeventfd_notify() const { return m_ioeventfd_notify; }
    double cpu_clock_hz() const { return m_clock; }
    // `cycles` at the configured clock.
    tick_t cycles(double cycles) const { return cycles_to_ticks(cycles, m_clock); }

private:
    tick_t kernel_cost(exit_reason r) const;

    double m_clock;
    tick_t m_transition;
    std::array<tick_t, exit_reason_count> m_kernel{};  // in-kernel round trip per reason
    tick_t m_mmio_vmm;
    tick_t m_pio_vmm;
    tick_t m_ioeventfd_notify;
};

}  // namespace iovsim::cpu
