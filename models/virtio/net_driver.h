// The guest's virtio-net driver (Linux virtio_pci_modern + virtio_net, reduced), as a plain-C++
// model a models/cpu guest program calls.
//
// Models: init (§3.1.1): reset, ACKNOWLEDGE, DRIVER, read the 64 device feature bits through
// device_feature_select, write the accepted subset, FEATURES_OK and read it back, then for each
// queue select it, size it, give it an MSI-X vector and its three areas' addresses, read its
// queue_notify_off and enable it; post a full RX ring; DRIVER_OK. With VIRTIO_NET_F_MTU the
// device's mtu field is read (virtnet_probe: the interface's MTU and max_mtu); one that the
// buffers cannot hold (header + mtu + 14 above buffer_size) fails the init, FAILED written.
// Transmit: reclaim finished TX buffers, write virtio_net_hdr_v1 + frame into one TX buffer (one
// descriptor, as Linux does with VERSION_1), add it, kick if kick_prepare() says so (a 16-bit write
// of the queue index to the notify address: the trapped write KVM's ioeventfd or the VMM handles).
// TX completions: the TX queue's interrupts stay off while it has room, and the caller turns them
// on, delayed to 3/4 of the buffers outstanding, when the ring is full (napi_tx).
// Receive: take a used RX buffer, strip the header, re-post the buffer, kick RX if the device
// asked. All register accesses are MMIO through driver_env; rings and buffers live at
// guest-physical addresses the caller gives (4 KiB-aligned: descriptors, avail and used rings per
// queue, then buffers of buffer_size bytes, one per descriptor).
//
// Leaves out: the control queue, MRG_RXBUF on the driver side, NAPI budgets and interrupt
// coalescing (the caller decides when to poll), offloads, reset on DEVICE_NEEDS_RESET (reported
// by needs_reset()). Timing: none here; a guest_context charges the accesses it makes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "models/virtio/virtio_net.h"
#include "models/virtio/virtqueue.h"

namespace iovsim::cpu {
class guest_context;
}

namespace iovsim::virtio {

// What the driver needs from the guest it runs in.
class driver_env {
public:
    virtual ~driver_env() = default;
    virtual guest_memory& memory() = 0;
    virtual std::uint64_t mmio_read(std::uint64_t gpa, unsigned size) = 0;
    virtual void mmio_write(std::uint64_t gpa, unsigned size, std::uint64_t value) = 0;
};

// driver_env over a models/cpu guest program's context. guest_context has 32- and 64-bit MMIO
// only: narrower accesses are made as 32-bit accesses at the field's offset (virtio_net_pci takes
// them as accesses to that field).
class guest_env : public driver_env, private guest_memory {
public:
    explicit guest_env(cpu::guest_context& g) : m_g(g) {}
    guest_memory& memory() override { return *this; }
    std::uint64_t mmio_read(std::uint64_t gpa, unsigned size) override;
    void mmio_write(std::uint64_t gpa, unsigned size, std::uint64_t value) override;

private:
    bool read(std::uint64_t gpa, void* dst, std::uint32_t len) override;
    bool write(std::uint64_t gpa, const void* src, std::uint32_t len) override;
    cpu::guest_context& m_g;
};

// Bytes per buffer for an interface of `mtu` bytes: 2048 up to the standard 1500 (room for the
// header and a 1514 B frame, as before), else virtio_net_hdr_v1 + mtu + 14 (the frame without
// FCS) rounded up to 1 KiB: 9216 for 9000. One buffer holds a whole frame (Linux would chain
// pages, "big packets", without MRG_RXBUF; one buffer per descriptor here).
std::uint32_t buffer_size_for_mtu(unsigned mtu);

struct driver_params {
    std::uint64_t bar_gpa = 0;     // where BAR4 (the virtio registers) is in guest-physical space
    std::uint64_t ring_gpa = 0;    // 4 KiB aligned; both queues' rings, see ring_bytes()
    std::uint64_t buffer_gpa = 0;  // RX buffers then TX buffers, queue_size each
    std::uint16_t queue_size = 256;
    std::uint32_t buffer_size = 2048;  // bytes per buffer: header + frame must fit
    std::uint64_t features = feature::bit(feature::version_1) | feature::bit(feature::net_mac) |
                             feature::bit(feature::ring_event_idx) |
                             feature::bit(feature::net_mtu);  // what the driver accepts
    std::uint16_t config_vector = 0;                          // MSI-X vectors
    std::uint16_t rx_vector = 1;
    std::uint16_t tx_vector = 2;
};

class virtio_net_driver {
public:
    using frame = std::vector<std::uint8_t>;

    explicit virtio_net_driver(const driver_params& p);

    // Bytes of ring memory from ring_gpa, and of buffer memory from buffer_gpa.
    std::uint64_t ring_bytes() const;
    std::uint64_t buffer_bytes() const;

    // False (device status FAILED written) if the device refuses the features, offers no
    // VERSION_1, or a queue is smaller than asked; then nothing else works.
    bool init(driver_env& env);
    bool ready() const { return m_tx.has_value(); }
    std::uint64_t features() const { return m_features; }
    std::array<std::uint8_t, 6> mac() const { return m_mac; }
    // The device's MTU (virtio_net_config.mtu) when VIRTIO_NET_F_MTU was negotiated, else 0.
    std::uint16_t mtu() const { return m_mtu; }

    // False if the frame does not fit a buffer or the TX ring is full.
    bool transmit(driver_env& env, const frame& f);
    // Reclaims TX buffers the device is done with; returns how many.
    unsigned reclaim_tx(driver_env& env);
    // The next received frame, if any.
    std::optional<frame> receive(driver_env& env);

    // Interrupt control for the RX queue (NAPI: off while polling, on when done; false from
    // enable means poll again).
    void disable_rx_interrupts() { m_rx->disable_interrupts(); }
    bool enable_rx_interrupts() { return m_rx->enable_interrupts(); }
    // Interrupt control for the TX queue (Linux's napi_tx): off while the queue has room
    // (virtqueue_disable_cb), and when the ring is full and the queue stops, on for when the
    // device has used 3/4 of the buffers outstanding (virtqueue_enable_cb_delayed; false: that
    // many are used already, reclaim at once). The caller takes the interrupt, turns them off
    // and reclaims (skb_xmit_done, virtnet_poll_tx's free_old_xmit_skbs).
    void disable_tx_interrupts() { m_tx->disable_interrupts(); }
    bool enable_tx_interrupts_delayed() { return m_tx->enable_interrupts_delayed(); }

    bool needs_reset(driver_env& env);
    std::uint64_t kicks() const { return m_kicks; }
    std::uint64_t rx_errors() const { return m_rx_errors; }
    const virtq_driver* rx_ring() const { return m_rx ? &*m_rx : nullptr; }
    const virtq_driver* tx_ring() const { return m_tx ? &*m_tx : nullptr; }
    queue_layout layout(std::uint16_t q) const;

private:
    std::uint64_t reg(std::uint32_t off) const { return m_p.bar_gpa + bar_layout::common + off; }
    std::uint64_t slot_gpa(std::uint16_t q, std::uint32_t slot) const;
    void kick(driver_env& env, std::uint16_t q);
    bool post_rx(std::uint32_t slot);

    driver_params m_p;
    std::uint64_t m_features = 0;
    std::array<std::uint8_t, 6> m_mac{};
    std::uint16_t m_mtu = 0;
    std::array<std::uint16_t, 2> m_notify_off{};
    std::optional<virtq_driver> m_rx, m_tx;
    std::vector<std::uint32_t> m_rx_slot_of;  // head -> buffer slot
    std::vector<std::uint32_t> m_tx_slot_of;
    std::vector<std::uint32_t> m_tx_free;  // free TX buffer slots
    std::uint64_t m_kicks = 0;
    std::uint64_t m_rx_errors = 0;
};

}  // namespace iovsim::virtio
