// The modern virtio-net PCI device's transport and configuration (virtio 1.x §4.1, §5.1), as a
// plain-C++ core.
//
// Models:
// - struct virtio_net_hdr_v1 (§5.1.6, 12 bytes: flags, gso_type, hdr_len, gso_size,
//   csum_start, csum_offset, num_buffers) encoded as real little-endian bytes.
// - The feature bits this model knows (VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX,
//   VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_MTU), the device
//   status bits and
//   the negotiation of §3.1.1: FEATURES_OK only sticks if the driver asked for a subset of what
//   was offered that includes VERSION_1.
// - A PCI function 1af4:1041 (class 020000, revision 1) whose configuration space carries the
//   virtio vendor-specific capabilities (struct virtio_pci_cap, cap_vndr 0x09: COMMON_CFG,
//   NOTIFY_CFG with notify_off_multiplier, ISR_CFG, DEVICE_CFG, PCI_CFG) in the standard list
//   beside PM, MSI-X and PCI Express, so lspci decodes "Virtio: CommonCfg …". The layout of the
//   BARs is QEMU's: MSI-X table and PBA in BAR1, the four virtio regions in the 64-bit BAR4 at
//   0x0000, 0x1000, 0x2000, 0x3000.
// - The registers behind BAR4 (mmio_read/mmio_write): struct virtio_pci_common_cfg (§4.1.4.3)
//   with per-queue size, MSI-X vector, enable, notify_off and the three area addresses; the ISR
//   byte (read to clear); the virtio-net device config (mac, status, and mtu with
//   VIRTIO_NET_F_MTU, §5.1.4: the MTU the device advises, offered when the params set one); and
//   notifications (a write
//   to the notify region at queue_notify_off × notify_off_multiplier names the queue; `on_notify`
//   is called). Queue 0 is receiveq1, queue 1 transmitq1 (§5.1.2); no control queue.
//
// Leaves out: the PCI_CFG access window doing anything (the capability is there, its data
// register is storage), legacy (transitional) registers, multiqueue, the control virtqueue,
// offloads (no CSUM/GSO features: the header is all zeros but num_buffers), queue_reset and
// notify_data. Access width: the spec wants each field accessed at its own width; the guest API
// (models/cpu/guest.h) has only 32- and 64-bit MMIO, so an access at a field's offset that is at
// least as wide as the field is taken as an access to that field alone (a 64-bit field also
// accepts the two 32-bit halves Linux writes). Other accesses are counted in bad_accesses() and
// read as 0 / ignored. Guest mistakes in the queue setup (a size that is not a power of two or
// above the maximum, misaligned areas) set DEVICE_NEEDS_RESET instead of enabling the queue.
// Timing: none; whoever traps the access (the VMM's cpu::mmio_handler) charges it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "models/pcie/config_space.h"
#include "models/virtio/virtqueue.h"

namespace iovsim::virtio {

// Feature bits (§6, §5.1.3).
namespace feature {
inline constexpr unsigned net_csum = 0;
inline constexpr unsigned net_mtu = 3;
inline constexpr unsigned net_mac = 5;
inline constexpr unsigned net_mrg_rxbuf = 15;
inline constexpr unsigned net_status = 16;
inline constexpr unsigned ring_indirect_desc = 28;
inline constexpr unsigned ring_event_idx = 29;
inline constexpr unsigned version_1 = 32;
constexpr std::uint64_t bit(unsigned b) { return std::uint64_t{1} << b; }
}  // namespace feature

// device_status bits (§2.1).
namespace status {
inline constexpr std::uint8_t acknowledge = 1;
inline constexpr std::uint8_t driver = 2;
inline constexpr std::uint8_t driver_ok = 4;
inline constexpr std::uint8_t features_ok = 8;
inline constexpr std::uint8_t device_needs_reset = 64;
inline constexpr std::uint8_t failed = 128;
}  // namespace status

// struct virtio_net_hdr_v1 (§5.1.6).
struct virtio_net_hdr_v1 {
    static constexpr std::uint32_t size = 12;
    std::uint8_t flags = 0;
    std::uint8_t gso_type = 0;  // VIRTIO_NET_HDR_GSO_NONE
    std::uint16_t hdr_len = 0;
    std::uint16_t gso_size = 0;
    std::uint16_t csum_start = 0;
    std::uint16_t csum_offset = 0;
    std::uint16_t num_buffers = 0;

    void encode(std::uint8_t* out) const;
    static virtio_net_hdr_v1 decode(const std::uint8_t* in);
};

// virtio_pci_cap cfg_type (§4.1.4).
namespace pci_cap_type {
inline constexpr std::uint8_t common_cfg = 1;
inline constexpr std::uint8_t notify_cfg = 2;
inline constexpr std::uint8_t isr_cfg = 3;
inline constexpr std::uint8_t device_cfg = 4;
inline constexpr std::uint8_t pci_cfg = 5;
}  // namespace pci_cap_type

// Offsets in struct virtio_pci_cap (and its notify / pci_cfg extensions).
namespace pci_cap_off {
inline constexpr std::uint8_t cap_vndr = 0;
inline constexpr std::uint8_t cap_next = 1;
inline constexpr std::uint8_t cap_len = 2;
inline constexpr std::uint8_t cfg_type = 3;
inline constexpr std::uint8_t bar = 4;
inline constexpr std::uint8_t id = 5;
inline constexpr std::uint8_t offset = 8;
inline constexpr std::uint8_t length = 12;
inline constexpr std::uint8_t notify_off_multiplier = 16;  // virtio_pci_notify_cap
inline constexpr std::uint8_t pci_cfg_data = 16;           // virtio_pci_cfg_cap
inline constexpr std::uint8_t size = 16;
inline constexpr std::uint8_t notify_size = 20;
inline constexpr std::uint8_t pci_cfg_size = 20;
}  // namespace pci_cap_off
inline constexpr std::uint8_t cap_id_vendor = 0x09;

// struct virtio_pci_common_cfg (§4.1.4.3).
namespace common_cfg {
inline constexpr std::uint32_t device_feature_select = 0;  // le32
inline constexpr std::uint32_t device_feature = 4;         // le32, read-only
inline constexpr std::uint32_t driver_feature_select = 8;  // le32
inline constexpr std::uint32_t driver_feature = 12;        // le32
inline constexpr std::uint32_t msix_config = 16;           // le16
inline constexpr std::uint32_t num_queues = 18;            // le16, read-only
inline constexpr std::uint32_t device_status = 20;         // u8
inline constexpr std::uint32_t config_generation = 21;     // u8, read-only
inline constexpr std::uint32_t queue_select = 22;          // le16
inline constexpr std::uint32_t queue_size = 24;            // le16
inline constexpr std::uint32_t queue_msix_vector = 26;     // le16
inline constexpr std::uint32_t queue_enable = 28;          // le16
inline constexpr std::uint32_t queue_notify_off = 30;      // le16, read-only
inline constexpr std::uint32_t queue_desc = 32;            // le64
inline constexpr std::uint32_t queue_driver = 40;          // le64
inline constexpr std::uint32_t queue_device = 48;          // le64
inline constexpr std::uint32_t size = 56;
}  // namespace common_cfg

// struct virtio_net_config (§5.1.4), the fields this model has. max_virtqueue_pairs (le16 at 8)
// reads 1; mtu exists with VIRTIO_NET_F_MTU only (without it the config ends at 8).
namespace net_cfg {
inline constexpr std::uint32_t mac = 0;                  // 6 bytes
inline constexpr std::uint32_t status = 6;               // le16, VIRTIO_NET_S_LINK_UP = 1
inline constexpr std::uint32_t max_virtqueue_pairs = 8;  // le16
inline constexpr std::uint32_t mtu = 10;                 // le16, with VIRTIO_NET_F_MTU
inline constexpr std::uint32_t size = 8;                 // without VIRTIO_NET_F_MTU
inline constexpr std::uint32_t size_with_mtu = 12;
}  // namespace net_cfg

inline constexpr std::uint16_t msix_no_vector = 0xffff;  // VIRTIO_MSI_NO_VECTOR
inline constexpr std::uint16_t rx_queue = 0;             // receiveq1
inline constexpr std::uint16_t tx_queue = 1;             // transmitq1

// Where things are in the BARs (QEMU's virtio-pci layout).
namespace bar_layout {
inline constexpr int msix_bar = 1;
inline constexpr std::uint64_t msix_bar_size = 4096;
inline constexpr std::uint32_t msix_table = 0x000;
inline constexpr std::uint32_t msix_pba = 0x800;
inline constexpr int virtio_bar = 4;
inline constexpr std::uint64_t virtio_bar_size = 0x4000;
inline constexpr std::uint32_t common = 0x0000;
inline constexpr std::uint32_t isr = 0x1000;
inline constexpr std::uint32_t device = 0x2000;
inline constexpr std::uint32_t notify = 0x3000;
inline constexpr std::uint32_t region_size = 0x1000;
inline constexpr std::uint32_t notify_off_multiplier = 4;
}  // namespace bar_layout

struct virtio_net_params {
    std::array<std::uint8_t, 6> mac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    std::uint16_t queue_size_max = 256;  // what queue_size reads before the driver writes it
    bool event_idx = true;               // offer VIRTIO_RING_F_EVENT_IDX
    bool mrg_rxbuf = false;              // offer VIRTIO_NET_F_MRG_RXBUF
    // Offer VIRTIO_NET_F_MTU with this MTU in the device config (68..65535; 0: not offered, as
    // QEMU without host_mtu=).
    std::uint16_t mtu = 0;
};

// What a device offers for `p`: VERSION_1 | MAC | STATUS (| EVENT_IDX) (| MRG_RXBUF) (| MTU).
std::uint64_t offered_features(const virtio_net_params& p);

class virtio_net_pci {
public:
    static constexpr std::uint16_t vendor_id = 0x1af4;
    static constexpr std::uint16_t device_id = 0x1041;  // 0x1040 + device type 1 (network)
    static constexpr std::uint16_t num_queues = 2;

    struct queue_state {
        std::uint16_t size = 0;
        std::uint16_t msix_vector = msix_no_vector;
        bool enabled = false;
        std::uint64_t desc = 0, driver = 0, device = 0;
        queue_layout layout() const { return queue_layout{size, desc, driver, device}; }
    };

    // Throws std::invalid_argument if queue_size_max is not a power of two in 1..32768.
    explicit virtio_net_pci(const virtio_net_params& p = {});

    pcie::config_space& config() { return m_cfg; }
    const pcie::config_space& config() const { return m_cfg; }

    // BAR4 register accesses (offset from the BAR's base; size 1, 2, 4 or 8).
    std::uint64_t mmio_read(std::uint64_t offset, unsigned size);
    void mmio_write(std::uint64_t offset, unsigned size, std::uint64_t value);
    // Offset in BAR4 of queue q's notification address.
    static std::uint64_t notify_offset(std::uint16_t q) {
        return bar_layout::notify + std::uint64_t{q} * bar_layout::notify_off_multiplier;
    }

    // Called on a notification write (a kick that reached the device model) with the queue.
    std::function<void(std::uint16_t queue)> on_notify;
    // Called when a queue becomes enabled with a valid layout, and when DRIVER_OK is set.
    std::function<void(std::uint16_t queue, const queue_layout&)> on_queue_enable;
    std::function<void()> on_driver_ok;
    // Called when the driver resets the device (device_status = 0).
    std::function<void()> on_reset;

    std::uint8_t device_status() const { return m_status; }
    std::uint64_t offered() const { return m_offered; }
    std::uint64_t driver_features() const { return m_driver_features; }
    // Negotiated: FEATURES_OK accepted and the driver asked for bit `b`.
    bool negotiated(unsigned b) const;
    const queue_state& queue(std::uint16_t q) const { return m_queues.at(q); }
    std::uint16_t msix_config() const { return m_msix_config; }

    // The device's side of an interrupt without MSI-X: sets ISR bits (1: queue, 2: config).
    void raise_isr(std::uint8_t bits) { m_isr |= bits; }
    // Marks the device broken (a malformed ring): DEVICE_NEEDS_RESET, config interrupt bit.
    void needs_reset();
    std::uint64_t bad_accesses() const { return m_bad_accesses; }
    std::uint64_t notifications() const { return m_notifications; }

private:
    void reset();
    std::uint64_t common_read(std::uint32_t off, unsigned size);
    void common_write(std::uint32_t off, unsigned size, std::uint64_t value);
    queue_state* selected();

    virtio_net_params m_params;
    pcie::config_space m_cfg;
    std::uint64_t m_offered;
    std::uint32_t m_device_feature_select = 0;
    std::uint32_t m_driver_feature_select = 0;
    std::uint64_t m_driver_features = 0;
    std::uint16_t m_msix_config = msix_no_vector;
    std::uint8_t m_status = 0;
    std::uint8_t m_config_generation = 0;
    std::uint16_t m_queue_select = 0;
    std::array<queue_state, num_queues> m_queues{};
    std::uint8_t m_isr = 0;
    std::uint64_t m_bad_accesses = 0;
    std::uint64_t m_notifications = 0;
};

}  // namespace iovsim::virtio
