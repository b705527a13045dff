// A virtual local APIC's interrupt state, one per vCPU, and what an interrupt costs in exits in
// each delivery mode (vm.interrupts).
//
// Models: the 256-bit IRR and ISR and the priority rules of SDM Vol. 3A §10.8 (xAPIC) /
// §11.8: a vector's priority class is vector >> 4; the processor priority class is
// max(TPR class, class of the highest in-service vector); the highest pending (IRR) vector is
// delivered only if its class is above the processor priority class, and delivery moves it from
// IRR to ISR; an EOI clears the highest ISR bit. Vectors 0-15 are illegal (SDM §10.5.3: "Received
// Illegal Vector") and are rejected and counted.
// The delivery modes (DESIGN.md §1, §7): exit-and-inject (the interrupt exits the running vCPU,
// KVM injects, the guest's EOI exits again: 2 exits), APICv with virtual-interrupt delivery and
// virtual EOI (the interrupt still exits to be injected, the EOI does not: 1), posted interrupts
// (none while the vCPU runs).
//
// Leaves out: the register page itself (TPR/PPR/ICR reads and writes as MMIO, handled by whoever
// traps them), level-triggered interrupts and the TMR, NMI/SMI/INIT, the local vector table
// and timer, logical destination modes, IPIs. No timing: exit costs are in exit_costs.h.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "models/cpu/exit_costs.h"

namespace iovsim::cpu {

enum class delivery_mode : std::uint8_t { exit, apicv, posted };
// "exit", "apicv", "posted": the values of vm.interrupts.
const char* to_string(delivery_mode m);
std::optional<delivery_mode> parse_delivery_mode(std::string_view text);

// Where the vCPU is when the interrupt arrives.
enum class vcpu_activity : std::uint8_t {
    running,  // in guest mode
    halted,   // took a HLT exit and waits in KVM (polling or asleep)
};

// The exits one interrupt costs, in order. Running: exit -> {EXTERNAL_INTERRUPT, APIC_ACCESS
// (the EOI)}, apicv -> {EXTERNAL_INTERRUPT}, posted -> {}. Halted: the vCPU is already out of
// guest mode (its HLT exit is charged to the wait), so only the EOI exit remains, in exit mode.
std::vector<exit_reason> interrupt_exits(delivery_mode m, vcpu_activity a = vcpu_activity::running);
inline unsigned exits_per_interrupt(delivery_mode m, vcpu_activity a = vcpu_activity::running) {
    return static_cast<unsigned>(interrupt_exits(m, a).size());
}

class lapic {
public:
    static constexpr unsigned first_legal_vector = 16;

    // A fixed interrupt for `vector` arrives: sets its IRR bit (an already pending vector stays
    // one request). False, nothing changed, for an illegal vector (0-15), counted.
    bool accept(std::uint8_t vector);
    // The vector deliver() would deliver now, without delivering it.
    std::optional<std::uint8_t> deliverable() const;
    // Delivers the highest-priority pending vector above the processor priority: IRR -> ISR.
    std::optional<std::uint8_t> deliver();
    // End of interrupt: clears the highest ISR bit and returns its vector (none if ISR is empty:
    // a spurious EOI, counted).
    std::optional<std::uint8_t> eoi();

    void set_tpr(std::uint8_t tpr) { m_tpr = tpr; }
    std::uint8_t tpr() const { return m_tpr; }
    // PPR (SDM §10.8.3.1): TPR if its class is >= the highest ISR class, else that class << 4.
    std::uint8_t ppr() const;

    bool irr(std::uint8_t vector) const { return test(m_irr, vector); }
    bool isr(std::uint8_t vector) const { return test(m_isr, vector); }
    std::optional<std::uint8_t> highest_irr() const { return highest(m_irr); }
    std::optional<std::uint8_t> highest_isr() const { return highest(m_isr); }

    std::uint64_t accepted() const { return m_accepted; }
    std::uint64_t delivered() const { return m_delivered; }
    std::uint64_t illegal_vectors() const { return m_illegal; }
    std::uint64_t spurious_eois() const { return m_spurious_eois; }

private:
    using bits256 = std::array<std::uint64_t, 4>;
    static bool test(const bits256& b, std::uint8_t v) { return (b[v / 64] >> (v % 64)) & 1; }
    static void set(bits256& b, std::uint8_t v) { b[v / 64] |= std::uint64_t{1} << (v % 64); }
    static void clear(bits256& b, std::uint8_t v) { b[v / 64] &= ~(std::uint64_t{1} << (v % 64)); }
    static std::optional<std::uint8_t> highest(const bits256& b);

    bits256 m_irr{};
    bits256 m_isr{};
    std::uint8_t m_tpr = 0;
    std::uint64_t m_accepted = 0;
    std::uint64_t m_delivered = 0;
    std::uint64_t m_illegal = 0;
    std::uint64_t m_spurious_eois = 0;
};

}  // namespace iovsim::cpu
