// The SR-IOV NIC as a SystemC module: PF and VFs, a queue pair per function, the DMA engine,
// MSI-X per function, the L2 switch (VEB) and the wire port.
//
// What it models
// - PCI side (nic_functions): configuration requests on `link_in` (tlp_extension type
//   config_type0, or config_type1 for a VF on a bus number above the PF's, which the device
//   claims itself) are routed by their target routing ID to the PF or a VF; memory requests are
//   decoded against the PF's BARs (Memory Space Enable) or a VF's copy of VF BARn (VF Memory
//   Space Enable), in constant time. A request no function claims is an Unsupported Request
//   (TLM_ADDRESS_ERROR_RESPONSE).
// - Registers (nic_registers.h): BAR0 page 0 of each function holds CTRL/STATUS, interrupt cause
//   and enable, the MAC, and the TX and RX ring registers with their tail doorbells. BAR3 holds
//   the MSI-X table (page at the capability's table offset) and PBA (its own page).
// - Queues: one TX and one RX ring per function, 16-byte descriptors (descriptor.h) in host or
//   guest memory. TX: a TDT doorbell hands descriptors to the engine, which prefetches up to
//   `tx_prefetch` of them in one read (never across the ring's end), reads each buffer, builds
//   the frame from the buffers up to EOP (padded to 60 B, FCS added), switches it, and writes
//   STATUS.DD back into every descriptor with RS. A frame longer than `max_frame_bytes` (FCS
//   included) is dropped: the engine stops reading its buffers, consumes its descriptors up to
//   EOP (writing DD back for RS) and counts it in tx_oversize. RX: a frame for the function takes
//   the next prefetched RX descriptor (up to `rx_prefetch` fetched in one read when none is
//   cached), its bytes without FCS go into the buffer (truncated to RXBUFSZ, ERRORS.LE), then bytes
//   8-15 are written back (length, STATUS.DD|EOP, errors). No free descriptor: dropped, counted.
// - DMA: every request goes upstream on `link_out` as one b_transport per TLP carrying the
//   function's requester ID (so an IOMMU translates it in that function's domain), split by the
//   PF's programmed MPS (writes) and MRRS (reads) and never across 4 KiB; read requests hold one
//   of `max_read_requests` tags until their completion returns. A function whose Bus Master
//   Enable is clear (a VF's own Command register) issues nothing: TX work waits (counted) until a
//   configuration write sets BME, RX frames for it are dropped (counted). An error completion
//   for a descriptor or buffer stops the queue (CTRL enable bit cleared, STATUS.*_DMA_ERR,
//   ICR.ERR, counted): a driver's mistake never stops the simulation.
// - MSI-X per function: a table entry per vector (RX: vector 0, TX: vector 1), masked at reset;
//   a message is a posted memory write of the entry's data to its address, upstream with the
//   function's requester ID. A masked vector (entry mask or Function Mask) or BME clear sets the
//   vector's PBA bit instead, and the message goes out when that is undone. Interrupt moderation:
//   a vector sends at most one message per `interrupt_interval` (0: off, the default); causes in
//   between are coalesced into one message at the end of the interval.
// - L2 switch (l2_switch.h): frames from a function go to another function's RX queue (VEB
//   loopback, never on the wire) or to the uplink; frames from the wire go to the functions by
//   destination MAC. The PF driver model assigns MACs with set_mac().
// - Wire port: `wire_out` to the link partner's frame_if, `wire_in` for frames from it
//   (models/net/frame_port.h). The transmit direction is a wire_direction (line rate, 20 B of
//   preamble, SFD and gap per frame, propagation). Optional pcap capture of the wire (TX at the
//   start of transmission, RX at arrival) and of VEB loopback traffic.
//
// - VF Enable cleared (by a configuration write or nic_functions::set_num_vfs): each VF that goes
//   away forgets its MAC in the switch, its TX and RX queues stop (CTRL.TXEN/RXEN clear), and its
//   queued work goes: frames waiting for it are dropped and counted in vf_disabled_drops(), TX
//   work and pending interrupt messages are discarded. Frames or work that reach the engine for
//   a VF that no longer exists are dropped the same way.
//
// Leaves out: more than one queue pair per function, offloads and VLAN tag insertion/stripping
// (VLE and port VLAN tags are not added or removed), the PF-VF mailbox, FLR and resetting a VF's
// other registers (ring bases, MSI-X table) when VF Enable is cleared, relaxed ordering, ATS use,
// flow control and pause frames, receive FCS errors reaching a function (bad-FCS frames are dropped
// at the MAC).
//
// Timing (NIC core clock `core_clock_hz`): a doorbell reaches the engine `doorbell_cycles` after
// the write arrives; one request TLP issues per `dma_issue_cycles` (a shared busy-until
// timeline); read data is usable `completion_cycles` after the completion arrives; a switch
// lookup costs `switch_cycles`; posted writes count as done when they have been accepted
// upstream (the delay link_out returns). The TX engine works on one function's batch at a time
// (functions in doorbell order) and synchronizes with the kernel after each batch; the RX engine
// handles frames in arrival order. Targets (link_in, wire_in) never wait.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/core/stats.h"
#include "models/core/timeline.h"
#include "models/core/tracer.h"
#include "models/core/units.h"
#include "models/net/ethernet.h"
#include "models/net/frame_port.h"
#include "models/net/wire.h"
#include "models/pcie/routing_id.h"
#include "sriov-nic/descriptor.h"
#include "sriov-nic/l2_switch.h"
#include "sriov-nic/nic_functions.h"
#include "sriov-nic/nic_registers.h"

namespace iovsim::pcie {
class tag_pool;
}

namespace iovsim::nic {

struct nic_params {
    pcie::routing_id pf_id{1, 0, 0};  // where enumeration finds the PF (bus, device 0, function 0)
    pf_params functions;              // PF and VF configuration spaces, SR-IOV capability
    net::wire_params wire;            // nic.wire_rate and the cable: the transmit direction
    double core_clock_hz = 500e6;     // NIC core clock
    unsigned doorbell_cycles = 20;    // doorbell write accepted to the engine acting on it
    unsigned switch_cycles = 10;      // one L2 forwarding lookup
    unsigned dma_issue_cycles = 2;    // the engine issues one request TLP per this many cycles
    unsigned completion_cycles = 30;  // read completion arrived to its data usable
    unsigned max_read_requests = 32;  // outstanding read requests (tags)
    unsigned tx_prefetch = 8;         // TX descriptors fetched per read
    unsigned rx_prefetch = 8;         // RX descriptors fetched per read
    tick_t interrupt_interval = 0;    // minimum time between one vector's messages; 0: off
    // The longest frame a function may send, FCS included (64..16384): 9018 B, a 9000 B jumbo
    // MTU plus header and FCS; 1518 B for standard frames only. The platform sets nic.mtu + 18.
    unsigned max_frame_bytes = 9018;
};

// Statistics of one function, registered as <prefix>.pf.* or <prefix>.vf<N>.*.
struct function_stats {
    core::counter tx_frames, tx_bytes;  // frames handed to the switch (bytes without FCS)
    core::counter rx_frames, rx_bytes;  // frames written to an RX buffer
    core::counter rx_no_descriptor;     // dropped: RX ring had no free descriptor
    core::counter rx_disabled;          // dropped: RXEN clear
    core::counter tx_malformed;         // dropped: frame shorter than an Ethernet header
    core::counter tx_oversize;          // dropped: frame longer than max_frame_bytes
    core::counter bme_blocked;          // DMA refused because Bus Master Enable was clear
    core::counter dma_errors;           // error completions (the queue stopped)
    core::counter ring_errors;          // bad ring length/base or tail written by the driver
    core::counter interrupts;           // MSI-X messages sent
    core::counter msix_pending;         // vector causes that set a PBA bit
};

class nic : public sc_core::sc_module, public net::frame_if {
public:
    tlm_utils::simple_target_socket<nic> link_in;      // configuration and BAR accesses
    tlm_utils::simple_initiator_socket<nic> link_out;  // DMA and MSI-X, upstream
    sc_core::sc_port<net::frame_if> wire_out;          // frames to the link partner
    sc_core::sc_export<net::frame_if> wire_in;         // frames from the link partner

    SC_HAS_PROCESS(nic);
    // Throws std::invalid_argument for bad parameters (naming the nic.* key).
    nic(sc_core::sc_module_name name, const nic_params& p = {});
    ~nic() override;

    nic_functions& functions() { return m_functions; }
    const nic_functions& functions() const { return m_functions; }
    const l2_switch& veb() const { return m_switch; }

    // PF driver model (`ip link set PF vf N mac M`): function 0 is the PF, function n + 1 is
    // VF n. Throws as l2_switch::set_pf/set_vf.
    // A further unicast MAC the PF receives (l2_switch::add_pf_address).
    void add_pf_mac(net::mac_address mac) { m_switch.add_pf_address(mac); }
    void set_mac(unsigned function, net::mac_address mac, std::uint16_t vlan = 0,
                 bool spoof_check = true);
    // Function index (0 PF, n + 1 VF n) of a routing ID, -1 if none.
    int function_of(pcie::routing_id id) const;

    // pcap of the wire (both directions) and of VEB loopback traffic. Throw std::runtime_error
    // if the file cannot be created. Files are complete after flush_captures() or destruction.
    void capture_wire(const std::string& path);
    void capture_veb(const std::string& path);
    void flush_captures();

    // Throw std::out_of_range for a function that does not exist.
    const function_stats& stats(unsigned function);
    std::uint64_t wire_tx_frames() const { return m_wire_tx.value(); }
    std::uint64_t wire_rx_frames() const { return m_wire_rx.value(); }
    std::uint64_t wire_rx_fcs_errors() const { return m_wire_fcs_errors.value(); }
    std::uint64_t unsupported_requests() const { return m_unsupported.value(); }
    // Frames dropped because the VF they were for went away with VF Enable.
    std::uint64_t vf_disabled_drops() const { return m_vf_disabled.value(); }
    // PBA bit of a vector (instrumentation for tests; software reads the PBA through BAR3).
    bool msix_pending_bit(unsigned function, unsigned vector);

    // Registers under `prefix` (normally "nic"): per function <prefix>.pf.* / <prefix>.vfN.*
    // (function_stats), <prefix>.wire.{tx_frames,rx_frames,rx_fcs_errors},
    // <prefix>.veb.dropped.<reason>, <prefix>.veb.{unicast_local,unicast_uplink,flooded},
    // <prefix>.unsupported_requests, <prefix>.drops.vf_disabled. Functions that exist when it is
    // called are registered.
    void register_stats(core::stats_registry& r, const std::string& prefix);
    // Trace signals, scoped by `t`, declared for a function when its rings first change:
    // f<N>.tx_ring and f<N>.rx_ring (16 bits), the descriptors the NIC owns in function N's TX
    // ring (head to tail: posted, not yet sent) and RX ring (given by the driver, not yet filled),
    // at every tail write and head move.
    void set_tracer(const core::tracer& t) { m_tracer = t; }

    // net::frame_if: a frame from the wire.
    void deliver(const std::vector<std::uint8_t>& frame, tick_t arrival) override;

private:
    struct function_state;
    struct rx_item {
        tick_t time;
        std::uint64_t seq;
        int function;  // -1: from the wire, to be switched
        std::vector<std::uint8_t> frame;
        bool operator>(const rx_item& o) const {
            return time != o.time ? time > o.time : seq > o.seq;
        }
    };
    struct irq_item {
        tick_t time;
        unsigned function, vector;
        bool operator>(const irq_item& o) const { return time > o.time; }
    };

    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
    void config_access(tlm::tlm_generic_payload& t, const pcie::routing_id& target, tick_t at);
    bool decode(std::uint64_t addr, std::uint32_t len, unsigned& fn, int& bar,
                std::uint64_t& off) const;
    void msix_access(unsigned fn, std::uint64_t off, unsigned char* p, bool write, tick_t at);

    function_state& state(unsigned fn);
    bool exists(unsigned fn) const { return fn == 0 || fn - 1 < m_functions.vf_count(); }
    // After a write to the SR-IOV Control register: tears down the VFs that went away.
    void vfs_changed();
    pcie::config_space& config(unsigned fn);
    pcie::routing_id requester(unsigned fn) const;
    std::string function_name(unsigned fn) const;

    // Engine threads.
    void tx_thread();
    void rx_thread();
    void irq_thread();
    void tx_queue_work(unsigned fn, tick_t ready);
    tick_t tx_batch(unsigned fn, tick_t t);
    tick_t rx_frame(unsigned fn, const std::vector<std::uint8_t>& frame, tick_t t);
    void switch_frame(port_id ingress, std::vector<std::uint8_t> frame, tick_t t);
    void queue_error(unsigned fn, bool tx, tick_t at);

    // DMA: returns when read data is usable or the last write was accepted; `ok` cleared on an
    // error completion.
    tick_t dma(unsigned fn, bool write, std::uint64_t addr, std::uint8_t* data, std::uint32_t len,
               tick_t at, bool& ok);
    tick_t issue(unsigned fn, bool write, std::uint64_t addr, std::uint8_t* data, std::uint32_t len,
                 tick_t at, bool& ok);
    std::uint32_t mps() const;
    std::uint32_t mrrs() const;

    // MSI-X.
    void raise_cause(unsigned fn, std::uint32_t cause, tick_t at);
    void raise_msix(unsigned fn, unsigned vector, tick_t at);
    void send_msix(unsigned fn, unsigned vector, tick_t at);
    bool vector_masked(unsigned fn, unsigned vector);
    void release_pending(unsigned fn, tick_t at);

    tick_t cycles(unsigned n) const;

    nic_params m_p;
    nic_functions m_functions;
    l2_switch m_switch;
    net::wire_direction m_wire;
    std::vector<std::unique_ptr<function_state>> m_fn;  // 0: PF, n + 1: VF n
    std::unique_ptr<pcie::tag_pool> m_tags;
    timeline m_issue;
    std::uint16_t m_pf_pcie_cap = 0;
    tick_t m_access_time = 0;  // of the register write being handled (for doorbell callbacks)
    // Ring occupancy signals (set_tracer).
    void trace_rings(unsigned fn, tick_t at);
    core::tracer m_tracer;
    std::map<unsigned, std::pair<traces::signal_id, traces::signal_id>> m_ring_signals;

    std::deque<std::pair<unsigned, tick_t>> m_tx_work;
    sc_core::sc_event m_tx_event;
    std::priority_queue<rx_item, std::vector<rx_item>, std::greater<rx_item>> m_rx;
    std::uint64_t m_rx_seq = 0;
    sc_core::sc_event m_rx_event;
    std::priority_queue<irq_item, std::vector<irq_item>, std::greater<irq_item>> m_irq;
    sc_core::sc_event m_irq_event;
    std::vector<port_id> m_egress;

    std::unique_ptr<net::wire_capture> m_wire_pcap;
    std::unique_ptr<net::wire_capture> m_veb_pcap;
    unsigned m_vfs = 0;  // VFs the engine knows to exist
    core::counter m_wire_tx, m_wire_rx, m_wire_fcs_errors, m_unsupported, m_vf_disabled;
};

}  // namespace iovsim::nic
