// The CPU trap path's parameters: host cores and their scheduler, KVM's exit costs and halt
// polling, each VM's interrupt delivery and wait modes, and where host threads are pinned.
//
// declare_cpu_params() declares, with default, unit and one sentence each:
//   host.cpu_clock, host.cores, host.timeslice, host.wakeup_latency,
//   host.pin.vcpus, host.pin.vmm_io, host.pin.vhost, host.pin.softirq,
//   kvm.halt_poll, kvm.ioeventfd_notify, kvm.exit.{transition, vmcall, hlt, external_interrupt,
//   interrupt_window, mmio_kernel, pio_kernel, mmio_vmm, pio_vmm, eoi},
//   vm.interrupts (exit | apicv | posted), vm.wait (halt | poll).
// make_cpu_config() reads a resolved tree into the cores' params structs and rejects what one
// key's own validation cannot see, with a core::config_error naming the key: a thread pinned to
// a core that does not exist, an exit cheaper than the hardware transition, a VMM round trip
// cheaper than the in-kernel one.
//
// host.cpu_clock defaults to 2.1 GHz, the Xeon E5-2450 of Dall et al. on which every default exit
// cost (DESIGN.md §7) was measured, so cycles convert back to the times measured there. For the
// same reason vm.interrupts defaults to exit: that Sandy Bridge part has no APICv.
// Leaves out: per-VM overrides (vms.N.interrupts); the platform reads those with
// parse_delivery_mode_key / parse_wait_mode_key. No timing of its own.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "models/core/params.h"
#include "models/cpu/exit_costs.h"
#include "models/cpu/halt_poll.h"
#include "models/cpu/host_scheduler.h"
#include "models/cpu/lapic.h"

namespace iovsim::cpu {

struct cpu_config {
    exit_cost_params exits;
    host_scheduler_params scheduler;
    tick_t halt_poll = 200 * ticks_per_us;  // KVM_HALT_POLL_NS_DEFAULT on x86: 200,000 ns
    delivery_mode interrupts = delivery_mode::exit;
    wait_mode wait = wait_mode::halt;
    // The host's APIC mode, which sets the NDST format KVM writes into posted-interrupt
    // descriptors (posted_interrupt.h): x2APIC, as Linux runs a host with interrupt remapping,
    // matching the IOMMU's extended interrupt mode (IRTA.EIME = 1).
    bool x2apic = true;
    // Host thread placement: the i-th vCPU (all VMs' vCPUs in order) runs on
    // vcpu_cores[i % size]; likewise the i-th VM's VMM I/O thread and vhost worker.
    std::vector<unsigned> vcpu_cores{0};
    std::vector<unsigned> vhost_cores{1};
    std::vector<unsigned> vmm_io_cores{2};
    unsigned softirq_core = 3;

    unsigned vcpu_core(std::size_t i) const { return vcpu_cores[i % vcpu_cores.size()]; }
    unsigned vhost_core(std::size_t i) const { return vhost_cores[i % vhost_cores.size()]; }
    unsigned vmm_io_core(std::size_t i) const { return vmm_io_cores[i % vmm_io_cores.size()]; }
};

void declare_cpu_params(core::param_registry& reg);

// Throws core::config_error naming the key for cross-key errors (see the file comment).
cpu_config make_cpu_config(const core::param_tree& tree);

// A delivery or wait mode read from `key` (e.g. "vms.2.interrupts"); config_error naming the key
// and the allowed values for anything else.
delivery_mode parse_delivery_mode_key(const std::string& text, const std::string& key);
wait_mode parse_wait_mode_key(const std::string& text, const std::string& key);

}  // namespace iovsim::cpu
