// vm.mode passthrough (SR-IOV, VFIO) for the request/response workload (vm_rr.h).
//
// The host, on the host CPU stand-in, does what the PF driver, VFIO and the VMM do before the
// guest boots:
// - (vm_set: enumerates, enables nic.num_vfs VFs through the PF (pf_driver.h), initializes the
//   IOMMU and interrupt remapping); the next free VF for this VM;
// - with the IOMMU driver: creates the VM's domain, maps the VM's RAM
//   (GPA 0..vm.memory to its host DRAM, the largest pages alignment allows), attaches the VF's
//   requester ID; sets up interrupt remapping and writes one IRTE for the VF's RX vector: posted
//   (vm.interrupts posted: the vCPU's posted-interrupt descriptor, the guest vector) or remapped
//   to a host vector that KVM's MSI routing turns into the guest vector (exit, apicv: VFIO's
//   eventfd + irqfd, with no host thread in between);
// - programs the VF's MSI-X table entry with the remappable-format address of that IRTE (VFIO
//   programs the real table; the guest's own table writes are trapped and emulated), enables
//   MSI-X in the VF's config space; tells the platform which requester ID, BARs, MAC and vector
//   are this VM's (host_platform::assign_*);
// - maps the VF's BAR0 (registers and doorbells) and BAR3 into the VM's EPT at guest-physical
//   pt_bar0_gpa / pt_bar3_gpa, leaving the MSI-X table page trapped to the VMM's emulation;
// - (vm_set: starts the guest: an interrupt (start_vector) through irqfd).
// The guest then, on its vCPU (cpu::vcpu: every cost is the trap path's): writes its MSI-X table
// entry (trapped: exits to the VMM), opens the VF's queues with passthrough MMIO (rings and
// buffers in guest RAM at pt_region_gpa: guest-physical addresses the IOMMU translates), enables
// the RX cause, and runs the round trips: frame and descriptor into guest memory, TDT
// (passthrough MMIO, no exit), wait_for_interrupt (vm.wait: HLT or spin), EOI (an exit in exit
// mode only), the RX descriptor and frame read and checked. Giving the RX slot back (ICR, RDT:
// passthrough MMIO) runs after the round trip ends.
//
// Accounting: `guest` from the request's first byte; pcie from the TDT write; the probes' marks
// through nic, pcie, iommu, memory, wire, peer and back; the VF's MSI-X message in the interrupt
// path (iommu: remapping, posting), at KVM's interrupt entry (kvm); the vCPU's exits and its
// wake-up from HLT; `guest` from the moment the guest has the vector until it has checked the
// response.
//
// Leaves out: the guest's probe of the VF (config space through VFIO), the VF's mailbox to the
// PF, interrupts preempting the program (the guest takes its interrupt where it waits).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "platform/vm_rr.h"

namespace iovsim::platform {

inline constexpr std::uint64_t pt_bar0_gpa = 0xc000'0000;  // the VF's BAR0 in the guest
inline constexpr std::uint64_t pt_bar3_gpa = 0xc010'0000;  // its BAR3 (MSI-X table and PBA)
inline constexpr std::uint64_t pt_region_gpa = 0x10'0000;  // rings and buffers: region_bytes()
inline constexpr std::uint8_t host_vf_vector = 0x60;       // VFIO's host vectors: RX, TX + 32

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

class passthrough_vm : public vm_workload {
public:
    // std::invalid_argument without the IOMMU (see vm_workload for the rest).
    passthrough_vm(host_platform& p, const workload_config& w, const vm_slot& slot);
    void host_setup(host_cpu& cpu, vm_host_context& ctx) override;
    const msix_table_emulation& msix() const { return m_msix; }
    net::mac_address mac() const override { return m_mac; }

private:
    void guest(cpu::guest_context& g);
    void stream_tx(cpu::guest_context& g, queue_bus& bus, nic_queues& q);
    void stream_rx(cpu::guest_context& g, queue_bus& bus, nic_queues& q);
    std::string where() const override;

    msix_table_emulation m_msix;
    int m_bar3_region = -1;
    std::uint64_t m_table_offset = 0;  // the MSI-X table in BAR3
    unsigned m_vf = 0;                 // the VF assigned (0-based)
    net::mac_address m_mac;            // its MAC
};

}  // namespace iovsim::platform
