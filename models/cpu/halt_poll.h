// How a vCPU waits for an interrupt (vm.wait) and KVM's halt polling (kvm.halt_poll, KVM's
// halt_poll_ns, virt/kvm/kvm_main.c kvm_vcpu_halt()).
//
// Models: with vm.wait = halt an idle guest executes HLT; after the HLT exit KVM polls for a
// pending interrupt for up to kvm.halt_poll, keeping the host core busy. An interrupt that
// arrives while it polls resumes the vCPU at once; one that arrives later finds the thread
// asleep (it blocked when the poll window closed) and must wake it, which costs the host's
// wake-up latency. An interrupt already pending when KVM gets the HLT resumes at once. With
// vm.wait = poll the vCPU spins in guest mode: no exit, the interrupt is taken as it arrives.
// The window is [halted_at, halted_at + halt_poll): an interrupt exactly at the end is missed.
//
// Leaves out: KVM's adaptive window (grow on a successful poll, shrink on a failed one:
// halt_poll_ns_grow / _shrink), the poll loop's own granularity, and guest-side haltpoll
// (cpuidle-haltpoll). Timing: the caller supplies the times; the HLT exit itself is costed by
// exit_costs.h and the VM entry after resume by the caller.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "models/core/units.h"

namespace iovsim::cpu {

enum class wait_mode : std::uint8_t { halt, poll };
inline const char* to_string(wait_mode m) { return m == wait_mode::halt ? "halt" : "poll"; }
inline std::optional<wait_mode> parse_wait_mode(std::string_view text) {
    if (text == "halt") return wait_mode::halt;
    if (text == "poll") return wait_mode::poll;
    return std::nullopt;
}

struct halt_outcome {
    bool polled_hit = false;  // halt polling caught the interrupt
    bool slept = false;       // the thread blocked and had to be woken
    tick_t polled = 0;        // time KVM spent polling (the host core is busy)
    tick_t slept_ticks = 0;   // time asleep (the host core is free)
    tick_t resume = 0;        // when the vCPU thread runs again in KVM, ready to enter the guest
};

// KVM got the HLT at `halted_at`; the interrupt becomes pending at `interrupt_at`.
inline halt_outcome halt_wait(tick_t halted_at, tick_t interrupt_at, tick_t halt_poll,
                              tick_t wakeup_latency) {
    halt_outcome o;
    if (interrupt_at <= halted_at) {
        o.resume = halted_at;
        return o;
    }
    if (interrupt_at - halted_at < halt_poll) {
        o.polled_hit = true;
        o.polled = interrupt_at - halted_at;
        o.resume = interrupt_at;
        return o;
    }
    o.slept = true;
    o.polled = halt_poll;
    o.slept_ticks = interrupt_at - (halted_at + halt_poll);
    o.resume = interrupt_at + wakeup_latency;
    return o;
}

}  // namespace iovsim::cpu
