// Host threads on host cores (issue 5, "Host cores as resources"): an eventfd that one side
// signals and a host thread (a vhost worker, the VMM's I/O thread) waits on, and the thread
// itself, an SC_THREAD whose CPU work runs on its pinned core through host_scheduler.h.
//
// Models: eventfd.signal(at) tells the waiter at `at` (the signaller adds its own path, e.g. KVM
// adds kvm.ioeventfd_notify for an ioeventfd). A thread that waited and is told runs its next
// work as a wake-up: host_scheduler::wake(), so if it was blocked its work is runnable only
// host.wakeup_latency later, and on a shared core it queues behind whoever runs there (a vCPU).
// run(work) returns when the scheduler says the work completed, asking again until the answer
// no longer moves (another thread on the core may preempt it meanwhile).
//
// Leaves out: eventfd semaphore mode and overflow, epoll over several fds (one wait names one
// eventfd), the cost of signalling on the signaller's side. Timing: the thread waits in kernel
// time (no quantum keeper: every run() is a scheduler request made at its own time).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <systemc>

#include "models/core/trace_context.h"
#include "models/core/units.h"
#include "models/cpu/host_scheduler.h"

namespace iovsim::cpu {

class eventfd {
public:
    explicit eventfd(std::string name = "eventfd") : m_name(std::move(name)) {}

    // Signals at `at` (not before the current kernel time): the count goes up by one at `at`
    // and a waiter is told then. Never waits: callable from a TLM target.
    void signal(tick_t at);

    std::uint64_t signals() const { return m_signals; }
    const std::string& name() const { return m_name; }
    // For packet accounting (cpu::kvm::set_marker): the stage that has the packet once a guest's
    // write signals this eventfd through an ioeventfd (core::stage::vhost for a vhost kick).
    void set_handoff(core::stage s) { m_handoff = s; }
    std::optional<core::stage> handoff() const { return m_handoff; }

private:
    friend class host_thread;
    // Signals already due at `t`: count and the earliest time, removed.
    std::uint64_t take(tick_t t, tick_t& first);
    void arm();

    std::string m_name;
    std::multimap<tick_t, int> m_pending;  // signal times not yet read
    sc_core::sc_event m_event;
    std::uint64_t m_signals = 0;
    std::optional<core::stage> m_handoff;
};

class host_thread : public sc_core::sc_module {
public:
    using body = std::function<void(host_thread&)>;

    // A thread named `name` pinned to `core` of `scheduler` (which must outlive it) that runs
    // `b` from time zero.
    host_thread(sc_core::sc_module_name name, host_scheduler& scheduler, unsigned core, body b);

    // Blocks until `fd` has been signalled; returns the count read (eventfd read semantics: all
    // signals due now). The next run() is a wake-up.
    std::uint64_t wait(eventfd& fd);
    // Sleeps for `duration` (a timer); the next run() is a wake-up.
    void sleep(tick_t duration);
    // `work` ticks of CPU on the thread's core; returns when done.
    void run(tick_t work);

    tick_t now() const;
    thread_id id() const { return m_id; }
    // When the last run() completed.
    tick_t last_completion() const { return m_last_completion; }
    bool finished() const { return m_finished; }

private:
    void thread();

    host_scheduler& m_sched;
    thread_id m_id;
    body m_body;
    bool m_woken = false;
    tick_t m_last_completion = 0;
    bool m_finished = false;
};

}  // namespace iovsim::cpu
