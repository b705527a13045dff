// vm.mode emulation (an e1000 emulated by the user-space VMM, QEMU's -device e1000) for the
// request/response workload (vm_rr.h, issue 6, DESIGN.md §6).
//
// Elaboration: the VM's BAR0 is an emulated EPT region (emu_bar0_gpa, 128 KiB) whose accesses
// exit to the VMM's device model (models/emu-nic/emulated_e1000.h: the e1000 registers, its
// legacy descriptors in guest memory through the VMM's GPA->HPA table over host memory, its
// interrupt as irqfd to vCPU 0 and guest_rx_vector, the VMM's I/O thread on host.pin.vmm_io's
// core reading the tap). The device's MAC is guest_mac(): the PF carries it in the NIC's switch
// (host_bridge_net), so the echo comes back to the tap. The VMM's tap writes go to the host
// bridge (host_bridge_net::send); the bridge's frames for the tap go to the I/O thread
// (tap_deliver), marked vmm when the I/O thread's eventfd is signalled.
// The host (on the host CPU stand-in): the bridge's setup (the PF, its queues and interrupt),
// then the guest is started (start_vector through irqfd), then the bridge forwards frames.
// The guest (on its vCPU; models/emu-nic/e1000_driver.h, Linux's e1000 in order): open (reset,
// rings and buffers in guest RAM at emu_region_gpa, RDT, IMS; with nic.mtu above 1500 RCTL.LPE
// and RX buffers of e1000_rx_buffer_len(nic.mtu), 16 KiB for 9000); per round trip: the request
// (workload.size - 4 bytes: the FCS is the PF's) into a TX buffer and descriptor, the TDT write
// (an exit: the VMM's device sends the frame to the tap inside it and raises TXDW); then
// interrupts until the response is in: each one the driver's e1000_intr + NAPI poll (ICR, IMC,
// STATUS flush, EOI, TX and RX cleanup, RDT refill when a buffer was used, IMS, STATUS flush: all
// register accesses are exits to the VMM); the response compared with the request's echo.
//
// stream_tx (vm_rr.h): after open() the guest transmits workload.count frames of workload.size
// bytes from guest_mac() to peer_mac() as fast as the e1000's TX ring (8 descriptors: 7 in use
// at most) allows: xmit() for each (a TDT write: an exit in which the VMM's device sends the
// frame to the tap and raises TXDW); when the ring is full (NETDEV_TX_BUSY) the driver takes
// the pending interrupt (the TXDW of the batch) and its handler cleans the TX ring, then xmit
// goes on. So per 7 frames: 7 TDT exits and the handler's ICR, IMC, STATUS, IMS, STATUS exits
// (and the EOI's, unless posted or APICv). The host bridge sends each frame through the PF
// (host.stack.tx each) and the sink on the wire counts them. The measured window opens at frame
// workload.warmup and closes after the last TDT exit; the run ends once the sink has every frame
// (when_sink_has, rr_workload.h), or when none has come for 1 ms.
//
// stream_rx, poisson, pcap (vm_rr.h): the generator's frames reach the PF, the host stack and the
// bridge, the tap, the VMM's I/O thread, which writes each into the next RX descriptor's buffer
// (RDH; a full ring drops it and counts rx_missed, as the e1000's RX FIFO overrun would) and
// raises RXT0. The guest sleeps until the interrupt (vm.wait) and runs its handler and NAPI poll
// (every frame written back taken, RDT refilled: exits to the VMM), until every frame sent to it
// has come.
//
// Accounting: `guest` from the request's first byte; the vCPU's exits (exit, vmm for the
// device's work on the vCPU's thread); host_stack when the tap gets the frame, pcie at the PF's
// TDT; the NIC, wire and peer, back through the PF to host_stack at its interrupt; vmm when the
// tap's reader (the I/O thread) is told; then either kvm at the device's injection for the
// waiting response (a halted or running guest), or, when the response lands while the driver is
// already in its handler (the line masked or already up: the usual case, the handler's exits
// take longer than the host path), `guest` from the I/O thread's copy into guest memory; the
// vCPU's exits until the guest has checked the response. Injections with no response waiting
// (TXDW raised inside the TDT exit, the line going up again at IMS for a response already taken)
// run beside the packet and are not marked.
//
// Leaves out: the guest's PCI probe of the device (config space), the EEPROM, interrupt
// moderation (the device raises causes at once), the VMM's global lock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "models/emu-nic/e1000_driver.h"
#include "models/emu-nic/emulated_e1000.h"
#include "platform/vm_rr.h"

namespace iovsim::platform {

inline constexpr std::uint64_t emu_bar0_gpa = 0xc000'0000;  // the e1000's BAR0 in the guest
inline constexpr std::uint64_t emu_region_gpa = 0x10'0000;  // the driver's rings and buffers

class emulation_vm : public vm_workload {
public:
    // See vm_workload for the errors.
    emulation_vm(host_platform& p, const workload_config& w, const vm_slot& slot);
    void host_setup(host_cpu&, vm_host_context&) override {}  // the bridge's port is all
    // Only an injection while a received frame waits for the driver hands the packet to KVM.
    bool keep_kvm_mark(core::stage s) const override {
        return s != core::stage::kvm || m_rx_injection;
    }

    const emunic::emulated_e1000& e1000() const { return *m_e1000; }
    const emunic::e1000_driver& driver() const { return m_driver; }
    // <prefix>e1000.*: the emulated device's counters (frames, drops and why, register exits).
    void register_stats(core::stats_registry& reg, const std::string& prefix) const override;

private:
    void guest(cpu::guest_context& g);
    void stream_tx(cpu::guest_context& g);
    void stream_rx(cpu::guest_context& g);
    std::string where() const override;

    int m_region = -1;
    std::unique_ptr<emunic::emulated_e1000> m_e1000;
    emunic::e1000_driver m_driver;
    bool m_rx_injection = false;  // the device's line is going up for a frame not yet taken
    bool m_rx_marked = false;     // such an injection marked kvm for the open packet
};

}  // namespace iovsim::platform
