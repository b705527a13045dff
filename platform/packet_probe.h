// Packet probes: the platform's observation points for the packet accountant (DESIGN.md §3),
// for models that do not report their own hand-offs yet (root complex, IOMMU, memory, NIC, wire).
//
// A tlm_probe sits on one TLM binding (it forwards b_transport and transport_dbg unchanged, adding
// no delay) and reports each transaction's request time (kernel time plus the annotated delay on
// entry) and response time (the same on return). A frame_probe sits on one direction of the
// Ethernet cable and reports each frame with its arrival time. Neither steers anything: they see
// the transaction or frame, never change it.
//
// packet_timeline collects, for the one packet in flight, "stage S holds the packet from time T"
// marks from the probes and the driver programs, and at end() replays them into the accountant
// in time order (stable for equal times). Loosely-timed models report times out of order (a DMA
// engine issues its next read before the previous completion's time, a posted write lands after
// the engine moved on); sorting turns the marks into one sequence of non-overlapping stages, so
// the breakdown sums to the round trip exactly. Where work overlaps, each instant goes to the
// stage whose mark came last before it. Marks outside [begin, end] are dropped. An exclusive span
// says where the packet is for certain over an interval (on the wire and at the link partner):
// the other marks inside it come from work off the packet's path (a TX descriptor write-back
// while the frame is on the wire) and are dropped; the span owner's own marks are `pinned`.
//
// Leaves out: more than one packet in flight (a mark belongs to the open packet, whichever
// transaction made it). Timing: none.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <functional>
#include <optional>
#include <tlm>
#include <vector>

#include "models/core/accountant.h"
#include "models/core/tracer.h"
#include "models/core/units.h"
#include "models/net/frame_port.h"

namespace iovsim::platform {

class packet_timeline {
public:
    void attach(core::accountant* a) { m_accountant = a; }
    // A second accountant that gets every packet too (a VM's own, beside the run's).
    void attach_also(core::accountant* a) { m_also = a; }
    // Each stage a closed packet went through becomes a span on `t`'s track path.<stage>, named
    // by the stage and keyed by the packet's ID (the Perfetto timeline of `iovsim run`).
    void set_tracer(const core::tracer& t) { m_tracer = t.child("path"); }
    bool is_open() const { return m_open; }
    // The latest time marked for the open packet so far (its begin if none; 0 if none is open).
    tick_t latest() const;
    // Opens the packet held by `first` from `t`. std::logic_error if one is open or no
    // accountant is attached.
    void begin(tick_t t, core::stage first);
    // `s` holds the open packet from `t`; ignored when no packet is open.
    void mark(tick_t t, core::stage s, bool pinned = false);
    // A mark from the vCPU running the packet's guest (cpu::kvm::set_marker): kept while the
    // guest holds the packet, that is until another component marks it (other than kvm or
    // guest: the doorbell's pcie, the kick's vhost, the tap's host_stack) and again from the next
    // kvm or guest mark of another component (the interrupt reaching KVM); dropped in between,
    // where the vCPU's exits (a VM entry after the kick, a HLT) run beside the packet.
    void mark_vcpu(tick_t t, core::stage s);
    // While paused, mark() and mark_vcpu() are ignored: the stage holding the packet does work
    // that touches other components off the packet's path (a driver refilling its RX ring).
    void pause(bool p) { m_paused = p; }
    // Unpinned marks strictly inside (from, to) are dropped at end().
    void exclusive(tick_t from, tick_t to);
    // Closes the packet at `t`: replays the marks into the accountant; returns the packet's ID.
    // `warmup`, when given, is passed to the first accountant (core::accountant::end).
    std::uint64_t end(tick_t t, std::optional<bool> warmup = std::nullopt);

private:
    struct mark_t {
        tick_t time;
        core::stage stage;
        bool pinned;
        bool vcpu;
    };
    core::accountant* m_accountant = nullptr;
    core::accountant* m_also = nullptr;
    bool m_open = false;
    tick_t m_begin = 0;
    core::stage m_first = core::stage::guest;
    std::vector<mark_t> m_marks;
    std::vector<std::pair<tick_t, tick_t>> m_exclusive;
    core::tracer m_tracer;
    bool m_paused = false;
};

class tlm_probe : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<tlm_probe> in;
    tlm_utils::simple_initiator_socket<tlm_probe> out;

    // (transaction, time, is_response): called with the request time before the transaction is
    // forwarded and with the response time after it returns.
    using hook = std::function<void(const tlm::tlm_generic_payload&, tick_t, bool)>;
    tlm_probe(sc_core::sc_module_name name, hook h);

private:
    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
    unsigned transport_dbg(tlm::tlm_generic_payload& t) { return out->transport_dbg(t); }
    hook m_hook;
};

class frame_probe : public sc_core::sc_module, public net::frame_if {
public:
    sc_core::sc_export<net::frame_if> in;
    sc_core::sc_port<net::frame_if> out;

    using hook = std::function<void(const std::vector<std::uint8_t>&, tick_t)>;
    frame_probe(sc_core::sc_module_name name, hook h);
    void deliver(const std::vector<std::uint8_t>& frame, tick_t arrival) override;

private:
    hook m_hook;
};

}  // namespace iovsim::platform
