// vm.mode virtio (vhost-net) for the request/response workload (vm_rr.h).
//
// Elaboration, as the VMM (QEMU with vhost=on) sets the device up before the guest boots:
// - the VM's virtio-net device model (virtio::virtio_net_pci: the modern transport, BAR4 with the
//   common, ISR, device and notify regions) with its BAR4 at virtio_bar_gpa in the guest's MMIO
//   hole, an emulated EPT region whose accesses exit to the VMM (the device model's registers);
// - the queues' notify addresses as KVM ioeventfds (datamatch: the queue index the driver
//   writes) on the vhost worker's eventfd: a kick is an EPT-misconfiguration exit handled in
//   KVM that wakes vhost, and the packet timeline has vhost hold the packet from the signal;
// - the vhost worker (virtio::vhost_worker, the backend's work as a host thread) on
//   host.pin.vhost's core; it reaches guest memory through the VM's GPA→HPA table over host
//   memory (virtio::translated_memory over the platform's host-physical view); its interrupts go
//   through KVM's irqfd with the guest vector of the queue's MSI-X entry (RX: guest_rx_vector);
// - with virtio.backend vmm instead (QEMU's virtio-net without vhost): the kick exits to the
//   VMM, whose backend drains the TX ring on the vCPU's thread inside the exit; RX on the VMM's
//   I/O thread (host.pin.vmm_io); its interrupts take the same irqfd path;
// - the host bridge (host_bridge_net): frames vhost transmitted go to the tap when vhost's work
//   completes (vhost_worker::on_done), the bridge and the PF; frames for the guest go from the
//   tap to vhost (marked vhost from then: the tap socket's wake-up).
// The host, on the host CPU stand-in: sets up the bridge and the PF, starts the guest (an
// interrupt through irqfd), then serves the bridge.
// The guest, on its vCPU: the virtio-net driver's init (virtio::virtio_net_driver over
// virtio::guest_env: every register access an exit to the VMM; rings and buffers in guest RAM
// at virtio_ring_gpa and virtio_buffer_gpa, buffers of virtio::buffer_size_for_mtu(nic.mtu);
// a jumbo nic.mtu is offered as VIRTIO_NET_F_MTU and read by the driver), then per round trip: the
// request frame into a TX buffer, the kick (ioeventfd), wait_for_interrupt (vm.wait), EOI,
// interrupts off (NAPI), the response taken from the RX ring and checked. Re-enabling RX interrupts
// (NAPI complete) runs after the round trip ends.
//
// stream_tx (vm_rr.h): after init the guest transmits workload.count frames of workload.size
// bytes from guest_mac() to peer_mac() as fast as the TX virtqueue allows: each through the
// driver's transmit (Linux's start_xmit: reclaim what vhost has used, the frame into a buffer,
// the kick only when vhost asked for one: with event idx, vhost re-arms notifications once per
// drain). TX completions as Linux's virtio_net with napi_tx: the TX queue has its own MSI-X
// entry (virtio_tx_msix, the guest's guest_tx_vector) and the driver keeps its interrupts off
// (used_event far behind) while the ring has room; when the ring is full it stops the queue
// and calls virtqueue_enable_cb_delayed (used_event = last_used_idx + 3/4 of the buffers
// outstanding; if more than that are used already it reclaims at once), waits for the interrupt
// as vm.wait says (HLT, or a spin in guest mode), EOIs, turns the interrupts off again, reclaims
// (free_old_xmit_skbs) and restarts the queue. vhost (or the VMM's backend) signals the TX
// queue through irqfd when its used index passes used_event (vring_need_event), and on its
// first decision, which always signals (signalled_used not valid yet). vhost drains the ring on
// each wake-up and hands the frames to the tap when its work is done; the host bridge sends them
// one by one through the PF (host.stack.tx each), and the sink on the wire counts them. The
// measured window opens at frame workload.warmup and closes when vhost has used every buffer
// (the same delayed-interrupt waits until then); the run ends once the sink has every frame
// (when_sink_has, rr_workload.h), or when none has come for 1 ms.
//
// stream_rx, poisson, pcap (vm_rr.h): frames from the generator reach the PF, the host stack
// and the bridge, the tap, vhost (or the VMM's I/O thread), which copies each into an RX buffer
// and signals the RX interrupt through irqfd (event idx: only when the driver asked). The guest
// sleeps until that interrupt, then polls with RX interrupts off (NAPI: every used buffer taken
// and posted again, a kick when the device asked for one), turns them on again (and polls again
// if a frame came meanwhile), until every frame sent to it has come. A frame vhost has no buffer
// for is dropped and counted (backend rx_no_buffer).
//
// TX completions in rr (one frame in flight): the driver reclaims finished TX buffers when it
// transmits (Linux's virtio_net with napi_tx off), and the TX queue has no MSI-X vector
// (VIRTIO_MSI_NO_VECTOR): a TX interrupt vhost signals reaches no guest vector and is counted
// (vms.N.virtio.unrouted_interrupts), not delivered.
//
// Accounting: `guest` from the request's first byte; vhost from the kick's ioeventfd signal
// (its wake-up and TX work); host_stack from the end of vhost's work (tap, bridge, PF driver
// xmit); pcie from the PF's TDT write; the probes through nic, wire, peer and back; host_stack
// from the PF's interrupt (NAPI, bridge, tap); vhost from the tap's wake-up of the worker (RX
// work); kvm at irqfd's injection; `guest` from the moment the guest has the vector until it has
// checked the response.
//
// Leaves out: the device's MSI-X table in BAR1 (the queue's vector index maps to the guest
// vector directly), the guest's PCI probe of the device, interrupts preempting the program (an
// interrupt that comes while the guest streams is taken at its next wait), Linux's stop
// threshold (it stops the queue with fewer than 2 + MAX_SKB_FRAGS descriptors free; one
// descriptor a frame here, the queue stops when none is), and napi_tx's re-arming of the TX
// interrupt (delayed) at every kick and NAPI completion: here it is on only while the queue is
// stopped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/net/tap_queue.h"
#include "models/virtio/net_backend.h"
#include "models/virtio/net_driver.h"
#include "models/virtio/vhost_worker.h"
#include "models/virtio/virtio_net.h"
#include "platform/vm_rr.h"

namespace iovsim::platform {

inline constexpr std::uint64_t virtio_bar_gpa = 0xc000'0000;   // BAR4 in the guest's MMIO hole
inline constexpr std::uint64_t virtio_ring_gpa = 0x10'0000;    // both queues' rings (< 1 MiB)
inline constexpr std::uint64_t virtio_buffer_gpa = 0x20'0000;  // RX then TX buffers
inline constexpr std::uint16_t virtio_rx_msix = 1;             // the RX queue's MSI-X entry
inline constexpr std::uint16_t virtio_tx_msix = 2;             // the TX queue's (stream_tx)

// The VMM's handler for BAR4: register accesses to the device model (the exit is the cost).
class virtio_bar_handler : public cpu::mmio_handler {
public:
    explicit virtio_bar_handler(virtio::virtio_net_pci& d) : m_dev(d) {}
    std::uint64_t read(std::uint64_t offset, unsigned size, std::uint64_t& value,
                       tick_t now) override;
    std::uint64_t write(std::uint64_t offset, unsigned size, std::uint64_t value,
                        tick_t now) override;
    // For the device's callbacks during an access: when the access reached the VMM, and work
    // (CPU cycles) the VMM does for it beyond the exit (a user-space backend's transmit).
    tick_t now() const { return m_now; }
    void add_cycles(std::uint64_t c) { m_extra += c; }

private:
    virtio::virtio_net_pci& m_dev;
    tick_t m_now = 0;
    std::uint64_t m_extra = 0;
};

class virtio_vm : public vm_workload {
public:
    // See vm_workload for the exceptions.
    virtio_vm(host_platform& p, const workload_config& w, const vm_slot& slot);
    void host_setup(host_cpu&, vm_host_context&) override {}  // the bridge's port is all

    const virtio::virtio_net_pci& device() const { return m_dev; }
    const virtio::virtio_net_backend& backend() const { return *m_backend; }
    const virtio::vhost_worker* worker() const { return m_worker.get(); }  // null: vmm backend
    // Interrupts vhost signalled for a queue without an MSI-X vector (not delivered).
    std::uint64_t unrouted_interrupts() const { return m_unrouted; }
    // <prefix>virtio.*: the backend's frames and drops, vhost's wake-ups, unrouted interrupts,
    // stream_tx's queue stops and TX interrupts.
    void register_stats(core::stats_registry& reg, const std::string& prefix) const override;
    // stream_tx: times the guest's TX queue stopped (ring full), and the TX queue's interrupts
    // vhost (or the VMM's backend) signalled to the guest's TX vector.
    std::uint64_t tx_queue_stops() const { return m_tx_stops; }
    std::uint64_t tx_interrupts() const { return m_tx_interrupts; }

private:
    void guest(cpu::guest_context& g);
    void stream_tx(cpu::guest_context& g, virtio::guest_env& env, virtio::virtio_net_driver& drv);
    void stream_rx(cpu::guest_context& g, virtio::guest_env& env, virtio::virtio_net_driver& drv);
    void interrupt(std::uint16_t queue, tick_t at);
    std::string where() const override;

    virtio::virtio_net_pci m_dev;
    virtio_bar_handler m_bar;
    int m_bar_region = -1;
    std::unique_ptr<virtio::translated_memory> m_mem;
    std::unique_ptr<virtio::virtio_net_backend> m_backend;
    std::unique_ptr<virtio::vhost_worker> m_worker;
    std::vector<virtio::virtio_net_backend::frame> m_tx_pending;  // sent during vhost's work
    // virtio.backend vmm: the VMM's I/O thread, the frames the tap has for it.
    std::unique_ptr<cpu::host_thread> m_io;
    cpu::eventfd m_tap_fd{"tap"};
    net::tap_queue m_tap;  // the tap's frames for the I/O thread
    std::uint64_t m_unrouted = 0;
    std::uint64_t m_tx_stops = 0;
    std::uint64_t m_tx_interrupts = 0;
    std::uint64_t m_rx_mismatch = 0;  // responses that did not match their request
};

}  // namespace iovsim::platform
