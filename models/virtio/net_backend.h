// The host side of virtio-net's data path (DESIGN.md §1, §6): the vhost-net worker's work, or
// the same work done by a user-space VMM backend (QEMU's virtio-net without vhost), as a
// plain-C++ core.
//
// Models: TX (vhost handle_tx): with kicks turned off, pop every available TX chain, gather its
// bytes (virtio_net_hdr_v1 + frame) out of guest memory, hand the frame to the host-side sink,
// push the chain to the used ring with len 0, turn kicks back on and look again (the vhost
// loop that closes the race with the driver), then decide on one interrupt for the batch. RX
// (vhost handle_rx): take the next posted RX chain, scatter a header (num_buffers = 1) and the
// frame into it, push it with len = 12 + frame, decide on an interrupt. Guest memory is reached
// through the VMM's own GPA→HPA table (translated_memory over cpu::ept::ram_hpa), in software.
// Which glue runs this core decides the technique: a host_thread woken by an ioeventfd and
// signalling irqfd (vhost_worker.h), or the VMM's device model on the vCPU's thread after an
// exit (virtio_net_pci::on_notify calling handle_tx(), the user-space backend without vhost).
//
// Costs, in host CPU cycles (the caller converts at host.cpu_clock): per packet a fixed
// `tx_packet` / `rx_packet` (the handle_tx/handle_rx loop and the hand-off to or from the host
// stack's socket), per guest-memory access `access` (a ring field, a descriptor, a buffer: one
// lookup in the memory-region table plus the user access), per byte copied `byte` (copy_from_user
// / copy_to_user). Defaults are estimates of this model, not measurements: 50 cycles an access
// (a short region-table search and a cache-hit user access), 0.25 cycles a byte (~16 B/cycle
// would be the cache-hot rep movsb peak; 4 B/cycle leaves room for misses), 1,000 cycles a
// packet for the loop and socket hand-off. DESIGN.md §7 has no measured figure for them.
//
// A TX chain may carry at most max_tx_chain_bytes device-readable bytes (a 64 KiB packet, the
// largest GSO packet Linux builds, plus the virtio-net header); a longer one is a malformed
// chain (queue_error::readable_too_large): the TX queue breaks, as for any other malformed ring.
//
// Leaves out: VIRTIO_NET_F_MRG_RXBUF on the device side (an RX chain must hold header + frame;
// a frame that does not fit is dropped and the buffer returned with len 0), zero-copy TX,
// offloads, the host stack itself (the sink is whatever the platform wires), batching limits
// (vhost's VHOST_NET_WEIGHT: a kick drains the whole ring). A malformed ring breaks the queue
// (virtq_device), is reported through on_error and the backend stops using it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "models/virtio/virtqueue.h"

namespace iovsim::cpu {
class ept;
class descriptor_memory;
}  // namespace iovsim::cpu

namespace iovsim::virtio {

// Guest memory reached through a VM's GPA→HPA map into host memory (a host-physical view:
// cpu::memory_view, or cpu::sparse_store_memory over a store indexed by HPA in
// tests), as the VMM and vhost reach it. An access not wholly inside one RAM range fails (and is
// counted).
class translated_memory : public guest_memory {
public:
    translated_memory(const cpu::ept& map, cpu::descriptor_memory& host)
        : m_map(map), m_host(host) {}
    bool read(std::uint64_t gpa, void* dst, std::uint32_t len) override;
    bool write(std::uint64_t gpa, const void* src, std::uint32_t len) override;
    std::uint64_t translations() const { return m_translations; }
    std::uint64_t faults() const { return m_faults; }

private:
    const cpu::ept& m_map;
    cpu::descriptor_memory& m_host;
    std::uint64_t m_translations = 0;
    std::uint64_t m_faults = 0;
};

struct backend_params {
    std::uint64_t access = 50;       // cycles per guest-memory access through the GPA→HPA table
    double byte = 0.25;              // cycles per byte copied
    std::uint64_t tx_packet = 1000;  // cycles per transmitted packet
    std::uint64_t rx_packet = 1000;  // cycles per received packet
};

class virtio_net_backend {
public:
    static constexpr std::uint32_t max_tx_chain_bytes = 64 * 1024 + 12;  // + virtio_net_hdr_v1
    using frame = std::vector<std::uint8_t>;
    using frame_sink = std::function<void(const frame&)>;

    struct result {
        unsigned frames = 0;       // frames moved
        std::uint64_t cycles = 0;  // host CPU work for it
        bool interrupt = false;    // signal the queue's interrupt (irqfd / MSI-X)
        bool error = false;        // the queue is broken
    };

    // `m` must outlive the backend; frames transmitted by the guest go to `sink`.
    virtio_net_backend(guest_memory& m, const backend_params& p, frame_sink sink);

    // VHOST_SET_VRING_ADDR + VHOST_NET_SET_BACKEND: the queues the driver enabled.
    void start(const queue_layout& rx, const queue_layout& tx, bool event_idx);
    void stop();
    bool running() const { return m_tx != nullptr; }

    // A TX kick: drain the TX ring.
    result handle_tx();
    // A frame from the host side for the guest.
    result receive(const frame& f);

    // Called once when a queue breaks (the transport sets DEVICE_NEEDS_RESET).
    std::function<void(std::uint16_t queue, queue_error)> on_error;

    const backend_params& params() const { return m_params; }
    std::uint64_t tx_frames() const { return m_tx_frames; }
    std::uint64_t rx_frames() const { return m_rx_frames; }
    std::uint64_t tx_malformed() const { return m_tx_malformed; }  // chains shorter than the header
    std::uint64_t rx_no_buffer() const { return m_rx_no_buffer; }  // dropped: RX ring empty
    std::uint64_t rx_too_big() const { return m_rx_too_big; }      // dropped: buffer too small
    const virtq_device* tx_ring() const { return m_tx.get(); }
    const virtq_device* rx_ring() const { return m_rx.get(); }
    // Whether receive() would find a buffer: started, the RX ring not broken, a chain available.
    bool rx_buffer_available() { return m_rx && !m_rx->broken() && m_rx->has_avail(); }

private:
    std::uint64_t cost(std::uint64_t accesses, std::uint64_t bytes, unsigned packets,
                       std::uint64_t per_packet) const;
    void report(std::uint16_t queue, const virtq_device& q);

    guest_memory& m_mem;
    backend_params m_params;
    frame_sink m_sink;
    std::unique_ptr<virtq_device> m_rx, m_tx;
    bool m_reported[2] = {false, false};
    std::uint64_t m_tx_frames = 0, m_rx_frames = 0, m_tx_malformed = 0;
    std::uint64_t m_rx_no_buffer = 0, m_rx_too_big = 0;
};

}  // namespace iovsim::virtio
