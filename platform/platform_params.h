// Every parameter of the host platform (memory, PCIe, root complex, SR-IOV NIC and its link
// partner, DMA bench endpoint) declared once with default, unit and meaning, and the translation
// of a resolved parameter tree into the models' params structs. The `iovsim params` command
// lists exactly these.
#pragma once

#include <string>

#include "iommu/driver.h"
#include "iommu/iommu.h"
#include "models/core/params.h"
#include "models/cpu/cpu_params.h"
#include "models/mem/memory_timing.h"
#include "models/net/link_partners.h"
#include "models/pcie/dma_endpoint.h"
#include "models/pcie/enumeration.h"
#include "models/pcie/host_map.h"
#include "models/pcie/root_complex.h"
#include "platform/workload_params.h"
#include "sriov-nic/nic.h"

namespace iovsim::platform {

// The device on root port 0 (pcie.device). The default platform (`iovsim lspci`,
// `iovsim nicbench`, the coming `iovsim run`) carries the SR-IOV NIC; `iovsim dmabench` (and the
// no-argument default, which runs a short DMA bench) sets pcie.device=dmabench, the DMA bench
// endpoint.
// external: nothing is built there; a library user binds their own device model to root port 0
// (rc.downstream → the device's link_in, its link_out → rc.upstream: the sockets the NIC and the
// DMA bench use) before the simulation starts.
enum class platform_device { nic, dma_bench, external };

// The NIC's link partner on the wire (nic.peer).
// nic.peer, or what the workload needs: the echo peer (rr), a sink (stream_tx), a generator
// sending toward the host (stream_rx, poisson).
enum class nic_peer { echo, none, generator };
enum class generator_kind { constant, poisson, pcap };

struct platform_config {
    platform_device device = platform_device::nic;
    pcie::host_map map;
    mem::memory_timing_params memory;
    pcie::root_complex_params rc;
    pcie::dma_endpoint_params endpoint;
    // The SR-IOV NIC (nic.*). Its PF sits at 01:00.0: enumeration gives root port 0 bus 1.
    nic::nic_params nic;
    unsigned nic_num_vfs = 0;  // VFs the PF driver enables (sriov_numvfs)
    // nic.mtu: every interface's MTU (the L3 payload); nic.max_frame_bytes is nic_mtu + 18 and
    // the drivers size their RX buffers from it.
    unsigned nic_mtu = 1500;
    nic_peer peer = nic_peer::echo;
    tick_t peer_turnaround = 1 * ticks_per_us;
    // With peer == generator: the frames it sends (receivers: each receiving VM's MAC, or the
    // PF's on bare metal; held until the receivers' drivers are up) and how.
    net::generator_params generator;
    generator_kind generator_type = generator_kind::constant;
    bool pcap_veb = false;  // also capture VEB (VF-to-VF) traffic when a run captures the wire
    pcie::enumeration_params enumeration;
    cpu::cpu_config cpu;  // host cores, KVM exit costs, interrupt delivery (models/cpu)
    std::vector<std::string> trace_signals{"*"};  // trace.signals: the waveform's selection
    // virtio.backend: vhost-net (a kernel worker thread) or the VMM's own virtio-net (QEMU
    // without vhost: TX on the vCPU's notify exit, RX on the VMM's I/O thread).
    bool virtio_vhost = true;
    // The host network stack between a tap and the PF (virtio, emulation: vm_rr.h), per frame.
    std::uint64_t host_stack_tx_cycles = 2000;
    std::uint64_t host_stack_rx_cycles = 2500;
    // The IOMMU (iommu.*): built in place of the identity translation stage when enabled, and
    // programmed by the host driver model from the host CPU.
    bool iommu_enabled = false;
    iommu::iommu_params iommu;
    iommu::driver_params iommu_driver;
    std::uint64_t iommu_page_size = 4096;  // the DMA bench's mapping page size
    tick_t quantum = 0;
    tick_t max_time = 0;  // 0: no limit
    std::uint64_t seed = 1;
    workload_config workload;  // vm.mode, vm.memory, workload.* (`iovsim run`)
    // Build the packet probes (packet_probe.h) that split each round trip among the stages.
    bool accounting = false;
    // Build the VM side (KVM, host scheduler, the CPU bus and the interrupt router: see
    // host_platform.h); `iovsim run` sets it for every vm.mode but bare-metal.
    bool with_vms = false;
};

// Declares sim.*, host.*, mem.*, pcie.*, iommu.*, nic.*, vm.*, workload.*, nicbench.* and
// dmabench.* (the benches' keys too, so one registry documents everything).
void declare_platform_params(core::param_registry& reg);

// Reads a resolved tree into the models' structs. Throws core::config_error for combinations
// that single-key validation cannot catch (naming the keys), e.g. nic.num_vfs above
// nic.total_vfs or a nic.wire_rate other than 10, 25, 40 or 100 Gbps.
platform_config make_platform_config(const core::param_tree& tree);

// What the VMs of `iovsim run` need from the host, as core::config_error naming the keys: a VM in
// passthrough mode needs a VF of its own (nic.num_vfs) and the IOMMU (iommu.enabled: VFIO
// assigns a device only behind one).
void check_vm_resources(const platform_config& c);

// A frame size (FCS included) set by `key` against nic.mtu: core::config_error naming both when
// it is longer than largest_frame(mtu).
void check_frame_size(const std::string& key, std::uint64_t size, unsigned mtu);

// Where VM n's RAM starts in host DRAM: from 8 GiB, each VM's RAM rounded up to 1 GiB.
std::uint64_t vm_ram_hpa(const workload_config& w, unsigned n);

}  // namespace iovsim::platform
