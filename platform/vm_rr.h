// The request/response workload (workload.type rr) in a VM (issue 6, DESIGN.md §1, §6): the
// guest's driver sends a request frame to the echo peer and waits for its echo, workload.count
// times, one frame in flight, as rr_workload.h does on bare metal. One VM with one vCPU; the mode
// (vm.mode) decides the driver and what stands between it and the NIC:
//   passthrough  passthrough_vm.h: a VF assigned to the VM, DMA through the IOMMU
//   virtio       virtio_vm.h: virtio-net, a vhost worker, the host bridge and the PF
//   emulation    emulation_vm.h: the e1000 in the VMM, the host bridge and the PF
//
// vm_workload is what the modes share: the VM (its RAM at GPA 0 backed by host DRAM from
// vm_ram_hpa_base, mapped in its EPT; its vCPU on host.pin.vcpus' core, reaching the host bridge
// through the platform's CPU bus), the packet bookkeeping of the guest's loop (begin_packet /
// end_packet: the packet timeline, the measured window, exit counts), and the vCPU's and KVM's
// stage marks fed to the timeline (cpu::kvm::set_marker; packet_timeline::mark_vcpu).
//
// host_bridge_net is the host side of virtio and emulation (DESIGN.md §6): the tap, the Linux
// bridge and the PF's driver, as a program on the host CPU stand-in (as if it ran alone on
// host.pin.softirq's core: no scheduler contention). TX: a frame the tap gets (from vhost or the
// VMM) costs host.stack.tx cycles (tap → bridge → the PF driver's xmit), then goes into the PF's
// TX ring and TDT. RX: the PF's MSI-X message; host.stack.rx cycles (interrupt, NAPI poll,
// bridge, tap queue), then the frame goes to the tap's reader (vhost or the VMM's I/O thread) at
// that time. The PF carries the guest's MAC in the NIC's switch (the bridge adds it to the PF's
// unicast filter, as a macvtap or a bridge port in promiscuous mode would). Marks host_stack when
// a frame reaches the tap from the guest side and when the PF's interrupt reaches the host,
// pcie at the TDT write.
//
// Exits are counted for the measured round trips only (from the first measured request's start
// to the last response's end): vm_exits.per_packet and .by_reason.
//
// Leaves out: several VMs and vCPUs, the host stack's queueing disciplines and GRO, TX
// completion interrupts of the PF (its TX ring is reused in order, one frame in flight).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/core/accountant.h"
#include "models/cpu/ept.h"
#include "models/cpu/exit_costs.h"
#include "models/cpu/vcpu.h"
#include "platform/host_platform.h"
#include "platform/nic_queue_driver.h"
#include "platform/rr_workload.h"
#include "platform/workload_params.h"

namespace iovsim::platform {

inline constexpr std::uint64_t vm_ram_hpa_base = 8ull << 30;     // VM 0's RAM in host DRAM
inline constexpr std::uint64_t pi_descriptor_hpa = 0x6000'0000;  // KVM's descriptors
inline constexpr std::uint8_t start_vector = 0x21;     // the host tells the guest to start
inline constexpr std::uint8_t guest_rx_vector = 0x41;  // the guest driver's RX vector
// The guest's MAC under virtio and emulation (locally administered).
inline net::mac_address guest_mac() { return net::mac_address::from_u64(0x020000020000ull); }

class vm_workload {
public:
    virtual ~vm_workload() = default;
    vm_workload(const vm_workload&) = delete;
    vm_workload& operator=(const vm_workload&) = delete;

    // After the simulation: std::runtime_error saying which packet and where, if the guest did
    // not finish (a response never came) or its program threw.
    void check() const;

    // Exits during the measured round trips, total and by reason.
    std::uint64_t measured_exits() const;
    std::uint64_t measured_exits(cpu::exit_reason r) const;
    const cpu::vcpu& vcpu() const { return *m_vcpu; }
    const cpu::ept& map() const { return m_map; }
    // The vCPU's signals (state, irq, irr, isr) under `t`'s scope.
    void set_tracer(const core::tracer& t) { m_vcpu->set_tracer(t.child("vcpu0")); }

protected:
    // Builds the VM and its vCPU (call during elaboration); the subclass installs the programs.
    // std::invalid_argument if the platform was built without VMs, accounting, the NIC and the
    // echo peer.
    vm_workload(host_platform& p, const workload_config& w, core::accountant& acc, rr_result& out);

    // The guest's loop: a packet opens in `guest` now; it closes now with the check's outcome.
    void begin_packet(cpu::guest_context& g);
    void end_packet(cpu::guest_context& g, const rx_check& r);
    // Ends the run once the guest is done (halt polling and timers would go on).
    void finish();
    // Mode-specific counters for check()'s message.
    virtual std::string where() const = 0;

    host_platform& m_p;
    workload_config m_w;
    core::accountant& m_acc;
    rr_result& m_out;
    cpu::ept m_map;
    unsigned m_vm = 0;
    std::unique_ptr<cpu::vcpu> m_vcpu;
    std::uint64_t m_seq = 0;  // the packet the guest works on

private:
    std::array<std::uint64_t, cpu::exit_reason_count> exit_counts() const;
    std::array<std::uint64_t, cpu::exit_reason_count> m_exits_begin{}, m_exits_end{};
};

// The mode's workload for w.mode (not bare-metal). core::config_error naming vm.mode for a mode
// that cannot run yet.
std::unique_ptr<vm_workload> make_vm_workload(host_platform& p, const workload_config& w,
                                              core::accountant& acc, rr_result& out);

// See the file comment.
class host_bridge_net {
public:
    using frame = std::vector<std::uint8_t>;
    // Frames for the guest, handed to the tap's reader at `at`.
    using tap_reader = std::function<void(const frame&, tick_t at)>;

    host_bridge_net(host_platform& p, net::mac_address guest, tap_reader to_tap);

    // A frame (FCS excluded) the tap got from the guest side at `at` (not before the current
    // kernel time). Never waits.
    void send(const frame& f, tick_t at);
    // On the host CPU: enumerates, gives the PF the guest's MAC, opens its queues and its RX
    // interrupt.
    void setup(host_cpu& cpu);
    // On the host CPU after setup(): forwards frames both ways; never returns.
    [[noreturn]] void serve(host_cpu& cpu);

    std::uint64_t tx_frames() const { return m_tx_frames; }
    std::uint64_t rx_frames() const { return m_rx_frames; }
    std::uint64_t rx_errors() const { return m_rx_errors; }  // descriptors without a whole frame

private:
    host_platform& m_p;
    net::mac_address m_guest;
    tap_reader m_to_tap;
    nic_queues m_pf;
    std::deque<std::pair<tick_t, frame>> m_tx;  // from the tap, by arrival
    sc_core::sc_event m_tx_event;
    tick_t m_tx_cost = 0, m_rx_cost = 0;
    std::uint64_t m_tx_frames = 0, m_rx_frames = 0, m_rx_errors = 0;
};

}  // namespace iovsim::platform
