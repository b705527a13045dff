// The request/response workload (workload.type rr) in a VM (issue 6, DESIGN.md §1, §6): the
// guest's driver sends a request frame to the echo peer and waits for its echo, workload.count
// times, one frame in flight, as rr_workload.h does on bare metal.
//
// vm.mode passthrough (SR-IOV, VFIO): the host, on the host CPU stand-in, does what the PF driver,
// VFIO and the VMM do before the guest boots:
// - enumerates, enables nic.num_vfs VFs through the PF (pf_driver.h), VF 0 for the VM;
// - with the IOMMU driver: initializes the IOMMU, creates the VM's domain, maps the VM's RAM
//   (GPA 0..vm.memory to its host DRAM, the largest pages alignment allows), attaches the VF's
//   requester ID; sets up interrupt remapping and writes one IRTE for the VF's RX vector: posted
//   (vm.interrupts posted: the vCPU's posted-interrupt descriptor, the guest vector) or remapped
//   to a host vector that KVM's MSI routing turns into the guest vector (exit, apicv: VFIO's
//   eventfd + irqfd, with no host thread in between);
// - programs the VF's MSI-X table entry with the remappable-format address of that IRTE (VFIO
//   programs the real table; the guest's own table writes are trapped and emulated), enables
//   MSI-X in the VF's config space;
// - maps the VF's BAR0 (registers and doorbells) and BAR3 into the VM's EPT at guest-physical
//   pt_bar0_gpa / pt_bar3_gpa, leaving the MSI-X table page trapped to the VMM's emulation;
// - starts the guest: an interrupt (start_vector) through irqfd.
// The guest then, on its one vCPU (cpu::vcpu: every cost is the trap path's): writes its MSI-X
// table entry (trapped: exits to the VMM), opens the VF's queues with passthrough MMIO (rings and
// buffers in guest RAM at pt_region_gpa, guest-physical addresses that the IOMMU translates),
// enables the RX cause, and runs the round trips: frame and descriptor into guest memory, TDT
// (passthrough MMIO, no exit), wait_for_interrupt (vm.wait: HLT or spin), EOI (an exit in exit
// mode only), the RX descriptor and frame read and checked. Giving the RX slot back (ICR, RDT:
// passthrough MMIO) runs after the round trip ends.
//
// Accounting: a packet begins in `guest` when the driver starts writing the request; pcie from
// the TDT write; the probes' marks through nic, pcie, iommu, memory, wire, peer and back; the
// VF's MSI-X message enters the interrupt path (iommu: remapping, posting), KVM's interrupt entry
// (kvm); the vCPU marks its exits and its wake-up from HLT (cpu::kvm::set_marker); `guest` from
// the moment the guest has the vector until it has read and checked the response.
//
// Exits are counted for the measured round trips only (from the first measured request's start
// to the last response's end): vm_exits.per_packet and .by_reason.
//
// Leaves out: the guest's own probe of the VF (config space through VFIO), the VF's mailbox to
// the PF, interrupts preempting the program (the guest takes its interrupt where it waits), one
// vCPU per VM. Several VMs (vm.count) come with the other modes.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "models/core/accountant.h"
#include "models/cpu/ept.h"
#include "models/cpu/exit_costs.h"
#include "models/cpu/vcpu.h"
#include "platform/host_platform.h"
#include "platform/rr_workload.h"
#include "platform/workload_params.h"

namespace iovsim::platform {

inline constexpr std::uint64_t pt_bar0_gpa = 0xc000'0000;        // the VF's BAR0 in the guest
inline constexpr std::uint64_t pt_bar3_gpa = 0xc010'0000;        // its BAR3 (MSI-X table and PBA)
inline constexpr std::uint64_t pt_region_gpa = 0x10'0000;        // rings and buffers: 512 KiB
inline constexpr std::uint64_t vm_ram_hpa_base = 8ull << 30;     // VM 0's RAM in host DRAM
inline constexpr std::uint64_t pi_descriptor_hpa = 0x6000'0000;  // KVM's descriptors
inline constexpr std::uint8_t start_vector = 0x21;     // the host tells the guest to start
inline constexpr std::uint8_t guest_rx_vector = 0x41;  // the guest driver's RX vector
inline constexpr std::uint8_t host_vf_vector = 0x60;   // VFIO's host vector for VM 0's VF

// The VMM's emulation of a passthrough VF's MSI-X table (VFIO's trapped page): the guest's
// entries kept as written; the real table is the host's (VFIO programs it).
class msix_table_emulation : public cpu::mmio_handler {
public:
    std::uint64_t read(std::uint64_t offset, unsigned size, std::uint64_t& value,
                       tick_t now) override;
    std::uint64_t write(std::uint64_t offset, unsigned size, std::uint64_t value,
                        tick_t now) override;
    // The guest's entry `n`: address (low, high), data, vector control.
    std::array<std::uint32_t, 4> entry(unsigned n) const;

private:
    std::array<std::uint32_t, 4 * 8> m_words{};  // 8 entries, as VFIO emulates them
};

class vm_rr {
public:
    // Builds the VM (its EPT, vCPU, KVM registration) and installs the host's and the guest's
    // programs. Call during elaboration. std::invalid_argument if the platform was built without
    // VMs, accounting, the NIC and the echo peer, or (passthrough) the IOMMU.
    vm_rr(host_platform& p, const workload_config& w, core::accountant& acc, rr_result& out);

    // After the simulation: std::runtime_error saying which packet and where, if the guest did
    // not finish (a response never came) or its program threw.
    void check() const;

    // Exits during the measured round trips, total and by reason.
    std::uint64_t measured_exits() const;
    std::uint64_t measured_exits(cpu::exit_reason r) const;
    const cpu::vcpu& vcpu() const { return *m_vcpu; }
    const cpu::ept& map() const { return m_map; }
    const msix_table_emulation& msix() const { return m_msix; }

private:
    void host_setup(host_cpu& cpu);
    void guest(cpu::guest_context& g);
    std::array<std::uint64_t, cpu::exit_reason_count> exit_counts() const;

    host_platform& m_p;
    workload_config m_w;
    core::accountant& m_acc;
    rr_result& m_out;
    cpu::ept m_map;
    unsigned m_vm = 0;
    std::unique_ptr<cpu::vcpu> m_vcpu;
    msix_table_emulation m_msix;
    int m_bar3_region = -1;
    std::uint64_t m_table_offset = 0;  // the MSI-X table in BAR3
    std::uint64_t m_seq = 0;           // the packet the guest works on
    std::array<std::uint64_t, cpu::exit_reason_count> m_exits_begin{}, m_exits_end{};
};

}  // namespace iovsim::platform
