// The vhost-net worker as a host thread (DESIGN.md §1, §6): the SystemC shell that runs
// virtio_net_backend's work on a host core.
//
// Models: one kernel thread (vhost-<pid>) pinned to a host core, woken through one eventfd that
// both the TX kick (KVM's ioeventfd on the TX notify address: register kick() with
// cpu::kvm::register_ioeventfd) and the host side's arriving frames (deliver(), the tap socket's
// poll wake-up) signal. Each wake-up drains the TX ring, then hands every frame that has arrived
// by then to the RX ring; the sum of their cycles runs on the core (host_scheduler: queueing
// behind other threads on it, the wake-up latency when it slept), and when the work is done the
// interrupts the rings asked for go out through `irq` (the platform wires it to cpu::kvm::irqfd
// with the queue's MSI-X vector).
//
// The tap's queue (net::tap_queue): deliver()'s frames wait there until the worker has an RX
// buffer for them: with none (the driver not ready yet, or the ring empty) the worker leaves them
// there, as vhost-net's handle_rx does, and takes them on its next wake-up (the driver's RX kick
// once it posts buffers, or the next frame); beyond its 1000 frames the tap drops and counts
// (tap_dropped).
//
// Leaves out: separate TX and RX work items and vhost's per-queue polling (every wake-up looks
// at both rings, and an empty TX drain costs its few accesses), VHOST_NET_WEIGHT, the socket
// send side's own time (the caller adds the host stack). The backend hands TX frames to its sink
// while the worker computes the work's cost, at the wake-up's start in simulated time; the
// frames leave when the work completes: on_done says when (a sink that needs the time keeps the
// frames until then). Timing: cycles convert at `cpu_hz` once per wake-up.
#pragma once

#include <cstdint>
#include <functional>
#include <systemc>
#include <vector>

#include "models/core/units.h"
#include "models/cpu/host_scheduler.h"
#include "models/cpu/host_thread.h"
#include "models/net/tap_queue.h"
#include "models/virtio/net_backend.h"

namespace iovsim::virtio {

class vhost_worker : public sc_core::sc_module {
public:
    // Interrupt for `queue` (rx_queue / tx_queue) at `at`.
    using irq_fn = std::function<void(std::uint16_t queue, tick_t at)>;

    // `scheduler` and `backend` must outlive the worker.
    vhost_worker(sc_core::sc_module_name name, cpu::host_scheduler& scheduler, unsigned core,
                 virtio_net_backend& backend, double cpu_hz, irq_fn irq);

    // The eventfd a TX kick signals (the ioeventfd's target).
    cpu::eventfd& kick() { return m_work; }
    // A frame from the host side for the guest, arriving at `at` (not before now).
    void deliver(std::vector<std::uint8_t> frame, tick_t at);

    // Called at the end of each wake-up's work (before its interrupts), with that time.
    std::function<void(tick_t at)> on_done;

    // Frames the tap dropped: its queue was full.
    std::uint64_t tap_dropped() const { return m_tap.dropped(); }
    std::uint64_t wakeups() const { return m_wakeups; }
    std::uint64_t busy_ticks() const { return m_busy; }
    const cpu::host_thread& thread() const { return m_thread; }

private:
    void body(cpu::host_thread& t);

    virtio_net_backend& m_backend;
    double m_hz;
    irq_fn m_irq;
    cpu::eventfd m_work;
    net::tap_queue m_tap;  // frames for the guest, until an RX buffer takes them
    std::uint64_t m_wakeups = 0;
    tick_t m_busy = 0;
    cpu::host_thread m_thread;
};

}  // namespace iovsim::virtio
