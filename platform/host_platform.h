// The host platform: DRAM behind an LLC, a root complex with its root ports and links, the
// translation stage (identity while the IOMMU is off; with iommu.enabled the VT-d IOMMU, which
// also takes the root complex's IOMMU register page and sits in the interrupt path), the
// interrupt controller stand-in, one device on root port 0, and a host CPU that runs firmware
// and driver programs — with the IOMMU on, the host IOMMU driver model runs on it and programs
// the IOMMU through MMIO register accesses.
//
// The device on root port 0 is platform_config::device: the SR-IOV NIC (the default platform),
// its wire port cabled to the link partner nic.peer (an echo peer, or a terminator that counts
// and drops what it receives), or the DMA bench endpoint (the dmabench platform), or nothing
// (external: the library user binds their own model to rc.downstream / rc.upstream). The NIC's PF
// is built at 01:00.0, the routing ID enumeration gives device 0 below root port 0;
// check_nic_placement() confirms it after enumeration. Builds and binds only; behaviour lives in
// the models.
//
// With platform_config::accounting (`iovsim run`), packet probes (packet_probe.h) sit on the
// bindings CPU→NIC, NIC→root complex, root complex→translation stage, translation stage→memory
// (device side), root complex→interrupt path, interrupt router→KVM (with VMs), and on both
// directions of the cable; they mark
// stage changes of the packet open in `timeline`: pcie→nic at the NIC, nic→pcie when a NIC
// request leaves, →iommu at the translation stage (the identity stage when the IOMMU is off: zero
// time), →memory at memory, memory→pcie when memory answers, →nic when the answer is back at the
// NIC (not for MSI-X writes, which go on to the interrupt path), →wire when a frame starts on the
// cable (its arrival less serialization and propagation), →peer / →nic when it arrives; from the
// request's start on the wire to the echo's arrival at the NIC the span is exclusive (the NIC's
// TX descriptor write-back meanwhile is off the packet's path). With VMs the message's arrival
// at KVM's interrupt entry marks kvm; the vCPUs mark their own exits (cpu::kvm::set_marker).
//
// With platform_config::with_vms the VM side is built too: the host cores' scheduler, KVM (its
// posted-interrupt descriptors and its view of host memory through memory's debug path), a CPU
// bus through which the host CPU and every vCPU reach the root complex (host_bridge_glue.h), and
// an interrupt router after the interrupt path (the IOMMU's remapping unit, or the root complex)
// that gives KVM its vectors and the host interrupt controller the rest. vCPUs and VMs are
// added by the modes' workloads (vm_rr.h), before the simulation starts.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "iommu/driver.h"
#include "iommu/iommu.h"
#include "models/core/stats.h"
#include "models/core/tracer.h"
#include "models/cpu/host_scheduler.h"
#include "models/cpu/kvm.h"
#include "models/cpu/memory_view.h"
#include "models/mem/memory.h"
#include "models/net/link_partners.h"
#include "models/pcie/dma_endpoint.h"
#include "models/pcie/identity_translation.h"
#include "models/pcie/root_complex.h"
#include "platform/host_bridge_glue.h"
#include "platform/host_cpu.h"
#include "platform/interrupt_sink.h"
#include "platform/packet_probe.h"
#include "platform/platform_params.h"

namespace iovsim::platform {

// The IOMMU driver's view of the host CPU: register and memory accesses are the CPU's
// transactions; spend() lets simulated time pass on the CPU's thread.
class cpu_iommu_access final : public iommu::host_access {
public:
    explicit cpu_iommu_access(host_cpu& cpu) : m_cpu(cpu) {}
    std::uint32_t read32(std::uint64_t addr) override { return m_cpu.mmio_read32(addr); }
    void write32(std::uint64_t addr, std::uint32_t v) override { m_cpu.mmio_write32(addr, v); }
    void write_mem(std::uint64_t addr, const void* data, std::uint32_t len) override {
        m_cpu.mem_write(addr, data, len);
    }
    tick_t now() const override { return m_cpu.now(); }
    void spend(tick_t t) override {
        if (t) m_cpu.wait_for(m_never, t);
    }

private:
    host_cpu& m_cpu;
    sc_core::sc_event m_never;
};

// A wire with nothing at the far end (nic.peer: none, and the streaming workloads' sink): frames
// are counted and dropped; per source MAC it keeps the count, the bytes (with FCS) and the
// arrival of the last frame, and after `measure_after` frames of a source the arrival of the
// first one measured and the bytes from then on (the warm-up left out).
class wire_terminator : public sc_core::sc_module, public net::frame_if {
public:
    sc_core::sc_export<net::frame_if> wire_in;
    sc_core::sc_port<net::frame_if> wire_out;  // never used: nothing is sent to the NIC
    struct source {
        std::uint64_t frames = 0, bytes = 0;
        std::uint64_t measured_frames = 0, measured_bytes = 0;  // from frame measure_after + 1
        tick_t first_measured = 0, last = 0;
    };
    explicit wire_terminator(sc_core::sc_module_name name, std::uint64_t measure_after = 0)
        : sc_module(name), wire_in("wire_in"), wire_out("wire_out"), m_after(measure_after) {
        wire_in.bind(*this);
    }
    void deliver(const std::vector<std::uint8_t>& f, tick_t at) override {
        ++m_frames;
        source& s = m_sources[net::mac_address::at(f, 6).to_u64()];
        ++s.frames;
        s.bytes += f.size();
        s.last = at;
        if (s.frames <= m_after) return;
        if (s.measured_frames++ == 0) s.first_measured = at;
        s.measured_bytes += f.size();
    }
    std::uint64_t rx_frames() const { return m_frames; }
    // The frames from `mac` (all zeros if none came).
    source from(net::mac_address mac) const {
        const auto it = m_sources.find(mac.to_u64());
        return it == m_sources.end() ? source{} : it->second;
    }

private:
    std::uint64_t m_after;
    std::uint64_t m_frames = 0;
    std::map<std::uint64_t, source> m_sources;
};

class host_platform {
public:
    explicit host_platform(const platform_config& c);

    const platform_config& config() const { return m_config; }
    void register_stats(core::stats_registry& reg) const;
    // Waveform signals from the probes (with config().accounting), scoped by `t`, and the packet
    // timeline's stage spans (packet_timeline::set_tracer); KVM's and the vCPUs' own signals are
    // set by whoever builds them. The probes' signals:
    //   nic.doorbell (32 bits)      the value of the latest CPU write to a NIC register (a tail)
    //   nic.requests_in_flight (8)  NIC requests upstream (DMA, MSI-X) from issue to completion
    //   interrupts.msi (8)          an interrupt message's vector, a 1 ns pulse at its arrival
    //                               at the interrupt path (before remapping)
    //   iommu.iotlb_hit, iommu.iotlb_miss (1)  a 1 ns pulse at each translated DMA request
    //   wire.to_peer, wire.from_peer (1)  the cable busy in each direction: a frame from its
    //                               first bit leaving to its last bit arriving
    // and the NIC's own: nic.f<N>.tx_ring / rx_ring (ring occupancy, nic::set_tracer).
    void set_tracer(const core::tracer& t);

    // Enumerates the PCIe hierarchy from the CPU's thread (a program run by `cpu`).
    std::vector<pcie::enumerated_function> enumerate();
    // The enumerated NIC PF (with the NIC platform): throws std::runtime_error if enumeration did
    // not find the PF where the NIC was built (01:00.0).
    const pcie::enumerated_function& nic_pf(
        const std::vector<pcie::enumerated_function>& found) const;

private:
    platform_config m_config;
    std::vector<std::unique_ptr<packet_timeline>> m_timelines;  // one per VM (bare metal: one)

public:
    mem::memory memory;
    pcie::root_complex rc;
    std::unique_ptr<pcie::identity_translation> translation;  // when the IOMMU is off
    std::unique_ptr<iommu::iommu> iommu;                      // when iommu.enabled
    interrupt_sink interrupts;
    std::unique_ptr<pcie::dma_endpoint> endpoint;  // the dmabench platform's device
    std::unique_ptr<nic::nic> nic;                 // the default platform's device
    std::unique_ptr<net::echo_peer> peer;          // nic.peer: echo
    std::unique_ptr<net::link_partner> generator;  // RX workloads: frames toward the host
    // Called for every frame arriving from the link partner (with accounting), at its arrival.
    std::function<void(const std::vector<std::uint8_t>&, tick_t)> on_wire_rx;
    std::unique_ptr<wire_terminator> terminator;  // nic.peer: none
    host_cpu cpu;
    // With config().with_vms (see above).
    std::unique_ptr<cpu_bus> bus;
    std::unique_ptr<cpu::memory_view> host_memory;
    std::unique_ptr<cpu::host_scheduler> scheduler;
    std::unique_ptr<cpu::kvm> kvm;
    std::unique_ptr<interrupt_router> irq_router;
    // The host IOMMU driver (when iommu.enabled), run by programs on `cpu`.
    std::unique_ptr<cpu_iommu_access> iommu_access;
    std::unique_ptr<iommu::driver> iommu_driver;
    // With config().accounting: the probes feed each VM's packet timeline (bare metal: the host's
    // one). `timeline` is VM 0's. With several VMs a probe's mark goes to the VM that owns what
    // it saw, as the workloads declare (assign_*): a requester ID (a VF), a MMIO range (a VF's
    // BARs), a MAC (on the wire), a vector or a host core (at KVM's interrupt entry); the PF's
    // transactions go to the VM set with set_pf_owner() (the host bridge's current frame).
    // A PCIe transaction with no assigned owner goes to the PF's owner (VM 0 until set), a frame
    // or an interrupt with none to VM 0.
    packet_timeline& timeline;
    packet_timeline& timeline_of(unsigned vm) { return *m_timelines.at(vm); }
    unsigned timelines() const { return static_cast<unsigned>(m_timelines.size()); }
    void assign_requester(std::uint16_t rid, unsigned vm) { m_rid_owner[rid] = vm; }
    void assign_mmio(std::uint64_t base, std::uint64_t size, unsigned vm) {
        m_mmio_owner.push_back({base, size, vm});
    }
    // `via_pf`: the MAC sits behind the PF (the host bridge): a frame to it makes the PF's next
    // DMA that VM's.
    void assign_mac(net::mac_address mac, unsigned vm, bool via_pf = false) {
        m_mac_owner[mac.to_u64()] = {vm, via_pf};
    }
    void assign_vector(std::uint8_t vector, unsigned vm) { m_vector_owner[vector] = vm; }
    void assign_core(unsigned core, unsigned vm) { m_core_owner[core] = vm; }
    void set_pf_owner(unsigned vm) { m_pf_owner = vm; }
    std::vector<std::unique_ptr<tlm_probe>> tlm_probes;
    std::unique_ptr<frame_probe> wire_to_peer, wire_from_peer;

private:
    void pulse(traces::signal_id s, tick_t at, std::uint64_t v) const;
    struct mmio_owner {
        std::uint64_t base, size;
        unsigned vm;
    };
    unsigned owner_of_requester(const tlm::tlm_generic_payload& t) const;
    unsigned owner_of_address(std::uint64_t a) const;
    unsigned owner_of_frame(const std::vector<std::uint8_t>& f, bool by_source) const;
    unsigned owner_of_interrupt(const tlm::tlm_generic_payload& t) const;
    bool pf_bound(const std::vector<std::uint8_t>& f) const;  // its destination is behind the PF

    std::map<std::uint16_t, unsigned> m_rid_owner;
    std::vector<mmio_owner> m_mmio_owner;
    struct mac_owner {
        unsigned vm;
        bool via_pf;
    };
    std::map<std::uint64_t, mac_owner> m_mac_owner;
    std::map<std::uint8_t, unsigned> m_vector_owner;
    std::map<unsigned, unsigned> m_core_owner;
    unsigned m_pf_owner = 0;
    unsigned m_dma_owner = 0;          // the last DMA's owner (the IOMMU's table reads)
    std::vector<tick_t> m_wire_start;  // per VM: its last frame to the peer started
    core::tracer m_tracer;
    traces::signal_id m_sig_doorbell = traces::no_signal, m_sig_inflight = traces::no_signal,
                      m_sig_msi = traces::no_signal, m_sig_hit = traces::no_signal,
                      m_sig_miss = traces::no_signal, m_sig_to_peer = traces::no_signal,
                      m_sig_from_peer = traces::no_signal;
    unsigned m_inflight = 0;
    std::uint64_t m_hits_before = 0, m_misses_before = 0;
};

}  // namespace iovsim::platform
