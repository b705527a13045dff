// The VMM side of the emulated e1000 as a thin SystemC shell (issue 6, DESIGN.md §6): the
// device model (e1000_device.h) registered with KVM as the VM's emulated BAR0, handled in the
// user-space VMM on the trapping vCPU's own thread, and the VMM's I/O thread, which reads frames
// from the host tap and writes them into the guest's RX buffers.
//
// Models: register accesses are exits to the VMM (kvm::register_mmio, where = vmm): the vCPU
// pays the exit and the device's cycles, no other thread wakes. TX runs inside the TDT write on
// the vCPU's thread; each frame goes to the tap output at the time its write() completes. The
// device's interrupt line becomes kvm::irqfd to one vCPU and vector (QEMU's KVM irqchip routing).
// RX: tap_deliver() queues a frame and signals the I/O thread's eventfd at the frame's arrival;
// the I/O thread (a host_thread on host.pin.vmm_io's core) wakes, runs the tap read()
// (tap_read_cycles), then the device's copy into guest memory, whose cycles it runs too; the
// interrupt is raised when that copy's write-back is done. While the device cannot receive
// (e1000_can_receive: RCTL.EN off, or no free RX descriptor) the frames stay in the tap's queue
// and the I/O thread looks again when the guest writes RCTL or RDT, as QEMU stops polling the
// tap and flushes its queue then; beyond the tap's 1000 frames (net::tap_queue) a frame is
// dropped and counted (tap_dropped).
//
// Leaves out: the tap as a network device of the host stack (tap_deliver/the output callback
// are the host side's ends: frames without FCS), the VMM's global lock, packet accounting of
// the I/O thread's work. Timing: the device's effects of one receive are stamped from the end
// of the tap read; if another thread holds the I/O core during the copy, the copy's completion
// moves but its write-back and interrupt do not.
#pragma once

#include <cstdint>
#include <systemc>
#include <vector>

#include "models/cpu/host_thread.h"
#include "models/cpu/kvm.h"
#include "models/emu-nic/e1000_device.h"
#include "models/net/tap_queue.h"

namespace iovsim::emunic {

struct emulated_e1000_params {
    unsigned vm = 0;
    int region = -1;             // the VM's emulated EPT region that is BAR0
    unsigned vcpu = 0;           // where the interrupt goes
    std::uint8_t vector = 0x30;  // and its guest vector
    unsigned io_core = 2;        // host.pin.vmm_io
};

class emulated_e1000 : public sc_core::sc_module {
public:
    // `k` and `host_memory` must outlive the module. Registers the device with KVM (its errors:
    // std::invalid_argument).
    emulated_e1000(sc_core::sc_module_name name, cpu::kvm& k, cpu::descriptor_memory& host_memory,
                   const emulated_e1000_params& p, const e1000_params& device = {});

    // The host side of the tap: a frame (no FCS) available to the VMM at `at` (not before the
    // current kernel time). Never waits.
    void tap_deliver(const std::vector<std::uint8_t>& frame, tick_t at);
    // Where the VMM's tap writes go.
    void set_tap_output(e1000_device::tap_output f) { m_device.set_tap_output(std::move(f)); }

    e1000_device& device() { return m_device; }
    const e1000_device& device() const { return m_device; }
    cpu::host_thread& io_thread() { return m_io; }
    // Frames the tap dropped: its queue was full while the device could not receive.
    std::uint64_t tap_dropped() const { return m_tap.dropped(); }

private:
    void io_loop(cpu::host_thread& t);
    tick_t cycles(std::uint64_t c) const {
        return cycles_to_ticks(static_cast<double>(c), m_device.params().cpu_clock_hz);
    }

    e1000_device m_device;
    cpu::eventfd m_tap_fd;
    net::tap_queue m_tap;  // the tap's frames for the I/O thread
    cpu::host_thread m_io;
};

}  // namespace iovsim::emunic
