// The trace context: which packet a transaction or frame belongs to and which stage of its life
// holds it (DESIGN.md §3, "Packet accounting" and "Instrumentation may ride along, never steer").
//
// It travels with TLM transactions (models/core/trace_extension.h) and with frames, for the
// packet accountant and the trace writers only. No model may branch on it: behaviour comes from
// the simulated bytes and registers, never from this bookkeeping.
//
// Leaves out: everything but the packet ID and the current stage. Plain C++, no timing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace iovsim::core {

// The components a packet passes through, in the order DESIGN.md §3 lists them. A packet's
// round trip is split among these; each tick of it belongs to exactly one stage.
enum class stage : std::uint8_t {
    guest,       // guest driver and stack on the vCPU
    exit,        // VM exit and entry (the hardware trap path)
    kvm,         // in-kernel hypervisor work (exit handling, ioeventfd, irqfd, injection)
    vmm,         // user-space device model (emulated NIC in the VMM)
    vhost,       // vhost worker thread
    host_stack,  // host network stack, bridge and PF driver
    pcie,        // root complex, root ports and links
    iommu,       // DMA translation and interrupt remapping
    memory,      // LLC and DRAM
    nic,         // the NIC's queues, DMA engine and L2 switch
    wire,        // serialization and propagation on the Ethernet wire
    peer,        // the link partner's turnaround
};

constexpr std::size_t stage_count = 12;

// The stage's name exactly as stats.json and packets.csv spell it ("host_stack").
constexpr const char* to_string(stage s) {
    switch (s) {
        case stage::guest:
            return "guest";
        case stage::exit:
            return "exit";
        case stage::kvm:
            return "kvm";
        case stage::vmm:
            return "vmm";
        case stage::vhost:
            return "vhost";
        case stage::host_stack:
            return "host_stack";
        case stage::pcie:
            return "pcie";
        case stage::iommu:
            return "iommu";
        case stage::memory:
            return "memory";
        case stage::nic:
            return "nic";
        case stage::wire:
            return "wire";
        case stage::peer:
            return "peer";
    }
    return "unknown";
}

// What the stage holds a packet for, one sentence (the statistics' descriptions).
constexpr const char* describe(stage s) {
    switch (s) {
        case stage::guest:
            return "the guest's own work: its driver writing and reading descriptors and frames, "
                   "its interrupt handler";
        case stage::exit:
            return "the hardware's VM exit and entry transitions";
        case stage::kvm:
            return "KVM: handling exits, injecting interrupts, waking a halted vCPU";
        case stage::vmm:
            return "the user-space VMM: device emulation and its I/O thread";
        case stage::vhost:
            return "the vhost-net worker: its wake-up and its copies";
        case stage::host_stack:
            return "the host's network stack and drivers (bare metal; the bridge and the PF "
                   "driver for virtio and emulation)";
        case stage::pcie:
            return "PCIe links and the root complex, both directions";
        case stage::iommu:
            return "the IOMMU: DMA translation and interrupt remapping";
        case stage::memory:
            return "host memory (LLC, DRAM) serving device accesses";
        case stage::nic:
            return "the NIC: doorbells, its DMA engine, the switch";
        case stage::wire:
            return "the Ethernet wire: serialization and propagation";
        case stage::peer:
            return "the link partner's turnaround";
    }
    return "unknown";
}

// Packet ID 0 means "no packet": a transaction that carries no packet (configuration, a DMA
// bench transfer) leaves the context at its default.
constexpr std::uint64_t no_packet = 0;

struct trace_context {
    std::uint64_t packet_id = no_packet;
    stage current = stage::guest;
};

}  // namespace iovsim::core
