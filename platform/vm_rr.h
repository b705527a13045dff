// The workloads in VMs (issue 6, DESIGN.md §1, §6). rr: the guest's driver sends a request frame
// to the echo peer and waits for its echo, workload.count times (or for workload.duration), one
// frame in flight per VM, as rr_workload.h does on bare metal; stream_tx: it sends
// workload.count frames to a sink as fast as its TX ring allows; stream_rx, poisson, pcap: it
// receives what the generator on the wire sends it (workload.count frames at workload.rate to
// each VM; a capture's frames to the VMs in turn), sleeping until its driver's RX interrupt and
// taking every frame there is (rx_meter.h measures; receiver_macs() says where the frames go).
// vm.count VMs (vm.vcpus vCPUs each, below); each VM's mode (vm.mode, vms.N.mode) decides its
// driver and what stands between it and the NIC:
//   passthrough  passthrough_vm.h: a VF assigned to the VM, DMA through the IOMMU
//   virtio       virtio_vm.h: virtio-net, a vhost worker (or the VMM's backend), the host
//                bridge and the PF
//   emulation    emulation_vm.h: the e1000 in the VMM, the host bridge and the PF
//
// vm_workload is what the modes share: the VM (its RAM at GPA 0 backed by host DRAM from
// vm_ram_hpa(), mapped in its EPT; its vCPU on host.pin.vcpus' core, reaching the host bridge
// through the platform's CPU bus), the packet bookkeeping of the guest's loop (begin_packet /
// end_packet: the VM's packet timeline, the measured window, its vCPU's exit counts), and the
// vCPU's and KVM's stage marks fed to its timeline (cpu::kvm::set_marker,
// packet_timeline::mark_vcpu).
//
// vm_set builds the VMs and runs the host's program: enumeration, nic.num_vfs VFs through the PF
// driver (when a VM is in passthrough mode) and the IOMMU driver's initialization with interrupt
// remapping (with the IOMMU) once, each VM's
// host-side setup (host_setup: VFIO for a VF, the bridge's ports for the others), then each
// guest's start (an interrupt through irqfd), then the host bridge's forwarding loop when a VM
// uses it. The run ends when every guest has finished.
//
// host_bridge_net is the host side of virtio and emulation (DESIGN.md §6): the tap, the Linux
// bridge and the PF's driver, as a program on the host CPU stand-in (as if it ran alone on
// host.pin.softirq's core: no scheduler contention). TX: a frame the tap gets (from vhost or the
// VMM) costs host.stack.tx cycles (tap → bridge → the PF driver's xmit), then goes into the PF's
// TX ring and TDT. RX: the PF's MSI-X message; host.stack.rx cycles (interrupt, NAPI poll,
// bridge, tap queue), then the frame goes to the tap's reader (vhost or the VMM's I/O thread) at
// that time. The PF carries the guest's MAC in the NIC's switch (the bridge adds it to the PF's
// unicast filter, as a bridge over the PF does with dev_uc_add). Marks host_stack when
// a frame reaches the tap from the guest side and when the PF's interrupt reaches the host,
// pcie at the TDT write.
//
// Receive workloads end when each guest has taken every frame sent to it; once the generator
// has sent everything and 1 ms has passed in which no guest took a frame, a watchdog ends the
// guests still waiting (their lost frames are counted: stream.lost, and the
// NIC's, the bridge's and the backends' drop counters say where).
//
// Exits are counted for the measured round trips only (from the first measured request's start
// to the last response's end): vm_exits.per_packet and .by_reason.
//
// With several VMs the timelines see the shared components through the platform's owner maps
// (host_platform::assign_*): a VF's requester ID, BARs and MAC, a VM's vectors and vCPU core, the
// MACs behind the bridge; the PF's DMA belongs to the VM whose frame last crossed the wire or the
// bridge — exact with one frame in flight on the PF, an approximation when several bridged VMs'
// frames overlap there.
//
// vm.vcpus (vms.N.vcpus): a VM's vCPUs take their places in host.pin.vcpus in order; vCPU 0 runs
// the workload and takes the device's interrupts, the others run the guest's idle loop as
// vm.wait says: halt (a HLT exit, KVM's halt polling, asleep: their core costs nothing
// afterwards) or poll (the guest's idle=poll: spinning in guest mode, which this model does not
// charge to the host core).
//
// Leaves out: work on the other vCPUs (multi-queue, RSS, interrupt affinity), the host stack's
// queueing disciplines and GRO, TX
// completion interrupts of the PF (the bridge reaps its TX ring only when it is full).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/core/accountant.h"
#include "models/core/stats.h"
#include "models/cpu/ept.h"
#include "models/cpu/exit_costs.h"
#include "models/cpu/vcpu.h"
#include "platform/host_platform.h"
#include "platform/nic_queue_driver.h"
#include "platform/pf_driver.h"
#include "platform/rr_workload.h"
#include "platform/rx_meter.h"
#include "platform/workload_params.h"

namespace iovsim::platform {

inline constexpr std::uint64_t pi_descriptor_hpa = 0x6000'0000;  // KVM's descriptors, 64 B each
// The idle vCPUs' descriptors (vm.vcpus > 1): VM n's vCPU k at + 64 × (8n + k).
inline constexpr std::uint64_t idle_pi_descriptor_hpa = pi_descriptor_hpa + 0x1'0000;
inline constexpr std::uint8_t idle_vector = 0x30;      // an idle vCPU's wait: nothing sends it
inline constexpr std::uint8_t start_vector = 0x21;     // the host tells the guest to start
inline constexpr std::uint8_t guest_rx_vector = 0x41;  // the guest driver's RX vector
inline constexpr std::uint8_t guest_tx_vector = 0x42;  // the guest driver's TX vector
// VM n's MAC under virtio and emulation (locally administered).
inline net::mac_address guest_mac(unsigned n = 0) {
    return net::mac_address::from_u64(0x020000020000ull + n);
}

class host_bridge_net;

// Receive workloads: where the generator sends, one MAC per receiver (bare metal: the PF's;
// VMs: passthrough VM n's VF (VFs are assigned in VM order), guest_mac(n) behind the bridge).
std::vector<net::mac_address> receiver_macs(const workload_config& w);
// The frames receiver `n` of `receivers` is sent: workload.count each, or a capture's
// workload.count frames dealt in turn.
std::uint64_t receiver_frames(const workload_config& w, unsigned n, unsigned receivers);

// What the host's setup shares across VMs (vm_set fills it before the VMs' host_setup).
struct vm_host_context {
    std::vector<pcie::enumerated_function> found;
    const pcie::enumerated_function* pf = nullptr;
    sriov_layout layout;  // the VFs the PF driver enabled (passthrough VMs only)
    unsigned next_vf = 0;
};

// One VM's place in the run.
struct vm_slot {
    unsigned index = 0;
    vm_spec spec;
    core::accountant* accountant = nullptr;  // this VM's packets
    rr_result* out = nullptr;
    host_bridge_net* bridge = nullptr;
    std::function<void()> done;         // the guest has finished
    std::uint64_t rx_frames = 0;        // receive workloads: the frames sent to this VM
    std::function<void(tick_t)> ready;  // receive workloads: the guest's driver is up
};

class vm_workload {
public:
    virtual ~vm_workload() = default;
    vm_workload(const vm_workload&) = delete;
    vm_workload& operator=(const vm_workload&) = delete;

    // On the host CPU, before any guest starts.
    virtual void host_setup(host_cpu& cpu, vm_host_context& ctx) = 0;
    // Tells the guest to start (its first program step waits for start_vector).
    void start(tick_t at);
    // Receive workloads: a frame for this VM reached the NIC at `at` (the wire probe).
    void arrived(const std::vector<std::uint8_t>& f, tick_t at);
    // What the guest has received (receive workloads; null otherwise).
    const rx_meter* rx() const { return m_rx ? &*m_rx : nullptr; }
    // Ends a receive run whose lost frames never come (vm_set's watchdog): the measured window
    // closes at `now` and the guest counts as done. No effect on a guest that has finished.
    void cut(tick_t now);
    // Whether the run may end with the guest still waiting (cut() ended it).
    bool ended_by_watchdog() const { return m_cut; }
    // KVM's mark for this VM (irqfd, an ioeventfd's handoff) is the packet's (default: yes).
    virtual bool keep_kvm_mark(core::stage) const { return true; }

    // After the simulation: std::runtime_error saying which packet and where, if the guest did
    // not finish (a response never came) or its program threw.
    void check() const;

    // Exits of this VM's vCPU during its measured round trips, total and by reason.
    std::uint64_t measured_exits() const;
    std::uint64_t measured_exits(cpu::exit_reason r) const;
    unsigned index() const { return m_index; }
    vm_mode mode() const { return m_spec.mode; }
    // The guest's MAC: its frames' source (virtio, emulation: guest_mac(index); passthrough: its
    // VF's, known after host_setup).
    virtual net::mac_address mac() const { return guest_mac(m_index); }
    const rr_result& result() const { return m_out; }
    const cpu::vcpu& vcpu() const { return *m_vcpu; }
    const cpu::ept& map() const { return m_map; }
    // The mode's own device and backend counters (what it received, dropped and why) under
    // `prefix` ("vms.N.").
    virtual void register_stats(core::stats_registry& reg, const std::string& prefix) const {
        (void)reg;
        (void)prefix;
    }
    // The vCPUs' signals (state, irq, irr, isr) under `t`'s scope: vcpu0, vcpu1, ...
    void set_tracer(const core::tracer& t) {
        m_vcpu->set_tracer(t.child("vcpu0"));
        for (std::size_t k = 0; k < m_idle.size(); ++k)
            m_idle[k]->set_tracer(t.child("vcpu" + std::to_string(k + 1)));
    }
    // vm.vcpus: the idle vCPUs (1..vcpus-1).
    const std::vector<std::unique_ptr<cpu::vcpu>>& idle_vcpus() const { return m_idle; }

protected:
    // Builds the VM and its vCPU (call during elaboration). std::invalid_argument if the
    // platform was built without VMs, accounting, the NIC and the echo peer.
    vm_workload(host_platform& p, const workload_config& w, const vm_slot& slot);

    packet_timeline& tl() { return m_p.timeline_of(m_index); }
    // The guest's loop: a packet opens in `guest` now (then app.stack.tx); it closes, after
    // app.stack.rx when the response came, with the check's outcome.
    void begin_packet(cpu::guest_context& g);
    void end_packet(cpu::guest_context& g, const rx_check& r);
    // The measured window (and its exit counts) opens and closes at `t`: begin_packet and
    // end_packet do it for rr; a streaming loop calls them itself.
    void measure_from(tick_t t);
    void measure_to(tick_t t);
    // The guest's network stack above its driver for one frame sent / received: app.stack.tx /
    // app.stack.rx cycles on the vCPU (none when 0).
    void stack_tx(cpu::guest_context& g);
    void stack_rx(cpu::guest_context& g);
    // Receive workloads: the guest's driver has read `f`; app.stack.rx later the application has
    // it (nullopt: a descriptor without a whole frame); the measured window opens at the first
    // measured frame. rx_complete(): every
    // frame sent to this VM has been taken.
    void rx_take(cpu::guest_context& g, const std::optional<std::vector<std::uint8_t>>& f);
    bool rx_complete() const { return m_rx->complete(); }
    // Receive workloads: the guest's driver is up and can receive (the generator starts once
    // every receiver is).
    void rx_ready(tick_t at) {
        if (m_ready && !m_ready_sent) m_ready(at);
        m_ready_sent = true;
    }
    // Installs the guest's program on the vCPU; if it throws, the guest counts as done (so the run
    // ends) and the vCPU keeps the failure for check().
    void run_guest(std::function<void(cpu::guest_context&)> program);
    // The guest is done; the run ends when every guest is.
    void finish();
    // Mode-specific counters for check()'s message.
    virtual std::string where() const = 0;

    host_platform& m_p;
    workload_config m_w;
    unsigned m_index;
    vm_spec m_spec;
    rr_result& m_out;
    host_bridge_net* m_bridge;
    cpu::ept m_map;
    unsigned m_vm = 0;                               // KVM's VM ID
    std::unique_ptr<cpu::vcpu> m_vcpu;               // vCPU 0: the workload
    std::vector<std::unique_ptr<cpu::vcpu>> m_idle;  // vCPUs 1..: the guest's idle loop
    std::uint64_t m_seq = 0;                         // the packet the guest works on

private:
    std::array<std::uint64_t, cpu::exit_reason_count> exit_counts() const;
    std::function<void()> m_done;
    std::function<void(tick_t)> m_ready;
    bool m_ready_sent = false;
    std::optional<rx_meter> m_rx;
    bool m_cut = false;
    bool m_finished = false;  // finish() has run
    std::array<std::uint64_t, cpu::exit_reason_count> m_exits_begin{}, m_exits_end{};
};

// The mode's workload for slot.spec.mode.
std::unique_ptr<vm_workload> make_vm_workload(host_platform& p, const workload_config& w,
                                              const vm_slot& slot);

// See the file comment.
class host_bridge_net {
public:
    using frame = std::vector<std::uint8_t>;
    // Frames for the guest, handed to the tap's reader at `at`.
    using tap_reader = std::function<void(const frame&, tick_t at)>;

    explicit host_bridge_net(host_platform& p);

    // A bridge port: VM `vm`'s tap, its guest's MAC, where its frames go. Call at elaboration.
    void add_port(unsigned vm, net::mac_address guest, tap_reader to_tap);
    bool has_ports() const { return !m_ports.empty(); }
    // A frame (FCS excluded) the tap got from the guest side at `at` (not before the current
    // kernel time). Never waits.
    void send(const frame& f, tick_t at);
    // On the host CPU: gives the PF the guests' MACs, opens its queues and its RX interrupt.
    void setup(host_cpu& cpu, const pcie::enumerated_function& pf);
    // On the host CPU after setup(): forwards frames both ways; never returns.
    [[noreturn]] void serve(host_cpu& cpu);

    std::uint64_t tx_frames() const { return m_tx_frames; }
    std::uint64_t rx_frames() const { return m_rx_frames; }
    std::uint64_t rx_errors() const { return m_rx_errors; }    // descriptors without a whole frame
    std::uint64_t rx_unknown() const { return m_rx_unknown; }  // for no port's MAC: dropped
    // host.bridge.*: the counters above.
    void register_stats(core::stats_registry& reg, const std::string& prefix) const;

private:
    struct port {
        unsigned vm;
        net::mac_address mac;
        tap_reader to_tap;
    };
    const port* port_of(const frame& f, bool by_source) const;

    host_platform& m_p;
    std::vector<port> m_ports;
    nic_queues m_pf;
    std::deque<std::pair<tick_t, frame>> m_tx;  // from the tap, by arrival
    sc_core::sc_event m_tx_event;
    tick_t m_tx_cost = 0, m_rx_cost = 0;
    std::uint64_t m_tx_frames = 0, m_rx_frames = 0, m_rx_errors = 0, m_rx_unknown = 0;
    std::uint64_t m_tx_reaped = 0;  // the PF's TX descriptors seen done (DD), in ring order
};

// See the file comment.
class vm_set {
public:
    // Builds the VMs of w.vms and installs the host's program (call during elaboration).
    // `all` gets every VM's packets.
    vm_set(host_platform& p, const workload_config& w, core::accountant& all);

    void check() const;  // each VM's check()
    std::size_t size() const { return m_vms.size(); }
    vm_workload& vm(std::size_t i) { return *m_vms.at(i); }
    const vm_workload& vm(std::size_t i) const { return *m_vms.at(i); }
    const core::accountant& accountant(std::size_t i) const { return *m_accountants.at(i); }
    const rr_result& result(std::size_t i) const { return m_results.at(i); }
    const host_bridge_net& bridge() const { return m_bridge; }

private:
    void host(host_cpu& cpu);
    // Receive workloads: once the generator has sent `total` frames and 1 ms has passed without a
    // frame taken, cut() the VMs (see the file comment).
    void rx_watchdog(std::uint64_t total);

    host_platform& m_p;
    host_bridge_net m_bridge;
    std::vector<std::unique_ptr<core::accountant>> m_accountants;
    std::deque<rr_result> m_results;  // stable addresses
    std::vector<std::unique_ptr<vm_workload>> m_vms;
    unsigned m_running = 0;
    unsigned m_receivers_ready = 0;
};

}  // namespace iovsim::platform
