// The workloads on bare metal: the host's own driver on the NIC's PF, no VM (vm.mode
// bare-metal): request/response (workload.type rr) and TX streaming (stream_tx, below).
//
// The host CPU (host_cpu.h, the stand-in: its driver code costs no instruction time, only its
// memory and MMIO accesses cost what memory and the root complex charge) enumerates the
// platform, gives the PF its MAC (pf_mac(), through the model API as the PF driver does), opens
// the PF's TX and RX rings (64 descriptors, buffers sized for nic.mtu by nic_rx_buffer_bytes(),
// in DRAM above 4 GiB), and aims the PF's RX MSI-X vector 0 at APIC 0, vector rr_vector. Then,
// workload.count times, one frame in flight: it writes a request frame of workload.size bytes (FCS
// included, added by the NIC; EtherType 0x88B5, a sequence number, a byte pattern) to the echo
// peer's MAC and its TX descriptor (EOP|RS), writes TDT, sleeps until the RX MSI-X message reaches
// the interrupt controller (interrupt-driven, no polling), reads the RX descriptor and frame and
// checks them (DD|EOP, length, the payload echoed with the MACs swapped). workload.think_time later
// the next request starts.
//
// With iommu.enabled the host runs the IOMMU driver (iommu/driver.h) first: init() (translation
// on) and interrupt remapping (the PF's RX MSI-X gets an IRTE and the remappable format:
// remap_rx_interrupt in nic_queue_driver.h), then the PF attached per iommu.host_mode, as Linux
// does for a host-owned device:
// - pt: a pass-through context entry (TT = 10); the driver's DMA addresses are the CPU's and no
//   packet costs it any IOMMU work.
// - lazy, strict: the PF gets a DMA domain of its own. At open, dma_alloc_coherent() maps each
//   ring (one page) and dma_map_single() each RX buffer given to the NIC (63: all but one slot);
//   the descriptors and TDBA/RDBA hold IOVAs. Per round trip: the TX buffer is mapped (read-only)
//   before its descriptor is written; after the interrupt the RX descriptor is read, the buffer
//   unmapped, then the frame read; after the round trip the TX completion is reaped (DD read
//   from the TX descriptor, then the buffer unmapped; with one frame in flight that is after its
//   response) and the RX slot the NIC gets next is refilled with a fresh mapping. So 2 + 63 maps
//   at open and, per round trip, 2 maps and 2 unmaps; strict waits for an IOTLB invalidation on
//   each unmap, lazy queues it (a domain flush every iommu driver flush_batch (250) unmaps, or
//   when the oldest queued unmap is flush_timeout (10 ms) old, checked at the driver's calls).
//
// Accounting (needs platform_config::accounting): a packet begins when the driver starts writing
// the request (host_stack), pcie from the TDT write's issue, then the probes' marks
// (host_platform.h) through nic, pcie, iommu (zero time: identity stage), memory, wire, peer, and
// back; host_stack from the MSI-X message's arrival at the interrupt controller until the driver
// has read and checked the response. The IOMMU driver's work on the path (the TX map, the RX
// unmap with its invalidation wait in strict mode or a batch flush in lazy mode) is host_stack
// time, the IOMMU's own memory accesses for it included. The ISR's ICR acknowledgement, the TX
// reap and unmap, and giving the RX slot back (map, descriptor, RDT) run after the packet
// completes, between round trips.
//
// stream_tx (install_bare_metal_stream): the same probe and open (IOMMU, host_mode and DMA
// domain as above), then the PF's TX MSI-X vector (nic::nic_reg::tx_vector) aimed at APIC 0,
// vector stream_tx_vector, and the TX cause (TXDW) enabled — remapped through IRTE
// host_pf_tx_irte with the IOMMU on. The driver keeps up to nic_queue_ring - 1 frames of
// workload.size bytes from pf_mac() to peer_mac() posted: it fills every free slot (lazy, strict:
// each buffer dma_map_single()d before its descriptor is written), writes TDT once for the
// batch, sleeps until the TX completion interrupt, acknowledges it (ICR, write 1 to clear), and
// reaps in ring order every descriptor the NIC wrote back with DD (lazy, strict: unmapping each
// buffer), then posts again. The frames go to the sink on the wire (nic.peer none), which counts
// them and times them; rr_result's measured window runs from posting frame workload.warmup to
// the last completion reaped; `received` and `verified` stay 0 (the sink has the count). No
// packet accounting: frames overlap, none is a packet from a request to its response.
//
// stream_rx, poisson, pcap (install_bare_metal_rx): the same probe and open, the RX interrupt as
// for rr; the generator on the wire sends to the PF's MAC. The driver sleeps until the RX
// interrupt, then (its NAPI poll) takes every frame the NIC wrote back (lazy, strict: the
// buffer unmapped before the frame is read), giving each slot back at once (lazy, strict: a
// fresh mapping), and tells the rx_meter (rx_meter.h) the time it has read each, until every
// frame sent has come; with no interrupt for 1 ms after the generator's last frame it stops
// (rr_result::cut: the rest were lost).
//
// app.stack.tx / app.stack.rx (workload_params.h) add the host's own network stack above the
// driver per frame sent / received: CPU time on the host CPU, in host_stack.
//
// Leaves out: ISR entry and softirq costs (no host core model here yet), for rr more than one
// frame in flight and TX completion reclaim without an IOMMU domain (the TX ring is reused in
// order; one frame in flight), the CPU time of the DMA API's bookkeeping beyond the IOMMU driver's
// table writes and invalidations (IOVA allocation is a bump allocator that costs nothing),
// refilling RX in batches (ixgbe refills 16 at a time; here each slot as soon as it is read).
#pragma once

#include <cstdint>
#include <functional>

#include "models/core/accountant.h"
#include "platform/host_platform.h"
#include "platform/rx_meter.h"
#include "platform/workload_params.h"

namespace iovsim::platform {

inline constexpr std::uint8_t rr_vector = 0x40;         // the PF's RX vector at APIC 0
inline constexpr std::uint8_t stream_tx_vector = 0x48;  // the PF's TX vector at APIC 0 (stream_tx)

struct rr_result {
    std::uint64_t sent = 0;
    std::uint64_t received = 0;  // responses seen with DD set
    std::uint64_t verified = 0;  // of those, the request echoed (payload equal, MACs swapped)
    tick_t measured_begin = 0;   // the first measured (post-warm-up) packet's begin
    tick_t measured_end = 0;     // the last packet's end
    bool cut = false;            // receiving: stopped waiting for frames that were lost
};

// Installs the workload as the CPU's program. std::invalid_argument if the platform has no NIC
// with the echo peer or was built without accounting. A response that does not come within
// `timeout` stops the program with a std::runtime_error saying which packet and where it is.
void install_bare_metal_rr(host_platform& p, const workload_config& w, core::accountant& acc,
                           rr_result& out, tick_t timeout = 10 * ticks_per_ms);
// Installs stream_tx as the CPU's program (the program returns when every frame's completion is
// reaped; the simulation then stops). std::invalid_argument if the platform has no NIC or no
// sink (nic.peer none). A TX completion interrupt that does not come within `timeout` stops the
// program with a std::runtime_error saying how far it got.
void install_bare_metal_stream(host_platform& p, const workload_config& w, rr_result& out,
                               tick_t timeout = 10 * ticks_per_ms);
// Installs stream_rx / poisson / pcap as the CPU's program: receives until `meter` is complete
// (or frames were lost: out.cut). std::invalid_argument without the NIC or the generator. The
// caller feeds the meter the frames' wire arrivals (host_platform::on_wire_rx).
void install_bare_metal_rx(host_platform& p, const workload_config& w, rx_meter& meter,
                           rr_result& out);

// For a streaming sender whose frames are still on their way when it has handed the last one
// over (a VM's through vhost or the VMM's device, the host bridge and the PF): call from a
// running process. A watcher calls `then` once `sink` has `frames` frames from `src`, or once
// no new one has come for `limit` (some were lost on the way), checking every `poll`.
void when_sink_has(const wire_terminator& sink, net::mac_address src, std::uint64_t frames,
                   std::function<void()> then, tick_t limit = ticks_per_ms,
                   tick_t poll = ticks_per_us);

}  // namespace iovsim::platform
