#include "models/virtio/virtio_net.h"

#include <stdexcept>

#include "models/mem/sparse_store.h"
#include "models/pcie/capabilities.h"

namespace iovsim::virtio {

void virtio_net_hdr_v1::encode(std::uint8_t* out) const {
    out[0] = flags;
    out[1] = gso_type;
    mem::store_le<std::uint16_t>(out + 2, hdr_len);
    mem::store_le<std::uint16_t>(out + 4, gso_size);
    mem::store_le<std::uint16_t>(out + 6, csum_start);
    mem::store_le<std::uint16_t>(out + 8, csum_offset);
    mem::store_le<std::uint16_t>(out + 10, num_buffers);
}

virtio_net_hdr_v1 virtio_net_hdr_v1::decode(const std::uint8_t* in) {
    virtio_net_hdr_v1 h;
    h.flags = in[0];
    h.gso_type = in[1];
    h.hdr_len = mem::load_le<std::uint16_t>(in + 2);
    h.gso_size = mem::load_le<std::uint16_t>(in + 4);
    h.csum_start = mem::load_le<std::uint16_t>(in + 6);
    h.csum_offset = mem::load_le<std::uint16_t>(in + 8);
    h.num_buffers = mem::load_le<std::uint16_t>(in + 10);
    return h;
}

std::uint64_t offered_features(const virtio_net_params& p) {
    using namespace feature;
    std::uint64_t f = bit(version_1) | bit(net_mac) | bit(net_status);
    if (p.event_idx) f |= bit(ring_event_idx);
    if (p.mrg_rxbuf) f |= bit(net_mrg_rxbuf);
    if (p.mtu) f |= bit(net_mtu);
    return f;
}

namespace {

pcie::config_space make_config(const virtio_net_params& p) {
    const std::uint32_t n = p.queue_size_max;
    if (n == 0 || (n & (n - 1)) != 0 || n > max_queue_size)
        throw std::invalid_argument("virtio_net: queue_size_max must be a power of two <= 32768");
    pcie::endpoint_params e;
    // Red Hat virtio 1.0 network device: 1af4:1041, revision 1 (§4.1.2.1), class 020000,
    // subsystem 1af4:1100 as QEMU sets it.
    e.identity = pcie::function_identity{virtio_net_pci::vendor_id,
                                         virtio_net_pci::device_id,
                                         0x01,
                                         0x020000,
                                         0x1af4,
                                         0x1100,
                                         false};
    e.bars = {{bar_layout::msix_bar, bar_layout::msix_bar_size, false, false},
              {bar_layout::virtio_bar, bar_layout::virtio_bar_size, true, true}};
    e.msix_vectors = 3;  // config change, receiveq1, transmitq1
    e.msix_table_bir = bar_layout::msix_bar;
    e.msix_table_offset = bar_layout::msix_table;
    e.msix_pba_bir = bar_layout::msix_bar;
    e.msix_pba_offset = bar_layout::msix_pba;
    e.aer = false;
    e.ari = false;
    pcie::config_space cs = pcie::make_endpoint(e);

    auto add = [&cs](std::uint8_t type, std::uint8_t len, std::uint32_t offset) {
        const std::uint16_t at = cs.add_capability(cap_id_vendor, len);
        cs.poke(at + pci_cap_off::cap_len, 1, len);
        cs.poke(at + pci_cap_off::cfg_type, 1, type);
        if (type != pci_cap_type::pci_cfg) {
            cs.poke(at + pci_cap_off::bar, 1, bar_layout::virtio_bar);
            cs.poke(at + pci_cap_off::offset, 4, offset);
            cs.poke(at + pci_cap_off::length, 4, bar_layout::region_size);
        } else {
            // The PCI configuration access window: software writes bar/offset/length and uses
            // pci_cfg_data; storage only in this model.
            cs.define_register(at + pci_cap_off::bar, 1, 0, 0xff);
            cs.define_register(at + pci_cap_off::offset, 4, 0, 0xffffffffu);
            cs.define_register(at + pci_cap_off::length, 4, 0, 0xffffffffu);
            cs.define_register(at + pci_cap_off::pci_cfg_data, 4, 0, 0xffffffffu);
        }
        return at;
    };
    add(pci_cap_type::common_cfg, pci_cap_off::size, bar_layout::common);
    add(pci_cap_type::isr_cfg, pci_cap_off::size, bar_layout::isr);
    add(pci_cap_type::device_cfg, pci_cap_off::size, bar_layout::device);
    const std::uint16_t notify =
        add(pci_cap_type::notify_cfg, pci_cap_off::notify_size, bar_layout::notify);
    cs.poke(notify + pci_cap_off::notify_off_multiplier, 4, bar_layout::notify_off_multiplier);
    add(pci_cap_type::pci_cfg, pci_cap_off::pci_cfg_size, 0);
    return cs;
}

// Width of the common-config field at `off`, 0 if no field starts there. The upper halves of
// the 64-bit fields count as 4-byte fields.
unsigned field_width(std::uint32_t off) {
    using namespace common_cfg;
    switch (off) {
        case device_feature_select:
        case device_feature:
        case driver_feature_select:
        case driver_feature:
        case queue_desc + 4:
        case queue_driver + 4:
        case queue_device + 4:
            return 4;
        case common_cfg::msix_config:
        case common_cfg::num_queues:
        case queue_select:
        case queue_size:
        case queue_msix_vector:
        case queue_enable:
        case queue_notify_off:
            return 2;
        case common_cfg::device_status:
        case config_generation:
            return 1;
        case queue_desc:
        case queue_driver:
        case queue_device:
            return 8;
        default:
            return 0;
    }
}

bool is_64bit_field(std::uint32_t off) {
    return off == common_cfg::queue_desc || off == common_cfg::queue_driver ||
           off == common_cfg::queue_device;
}

std::uint64_t* address_field(virtio_net_pci::queue_state& q, std::uint32_t base) {
    if (base == common_cfg::queue_desc) return &q.desc;
    if (base == common_cfg::queue_driver) return &q.driver;
    return &q.device;
}

}  // namespace

virtio_net_pci::virtio_net_pci(const virtio_net_params& p)
    : m_params(p), m_cfg(make_config(p)), m_offered(offered_features(p)) {
    if (p.mtu != 0 && p.mtu < 68)
        throw std::invalid_argument("virtio_net: mtu must be 0 (not offered) or at least 68");
    reset();
}

void virtio_net_pci::reset() {
    m_device_feature_select = 0;
    m_driver_feature_select = 0;
    m_driver_features = 0;
    m_msix_config = msix_no_vector;
    m_status = 0;
    m_queue_select = 0;
    for (queue_state& q : m_queues) q = queue_state{m_params.queue_size_max};
    m_isr = 0;
}

bool virtio_net_pci::negotiated(unsigned b) const {
    return (m_status & status::features_ok) && (m_driver_features & feature::bit(b));
}

void virtio_net_pci::needs_reset() {
    m_status |= status::device_needs_reset;
    m_isr |= 2;  // configuration change
    ++m_config_generation;
}

virtio_net_pci::queue_state* virtio_net_pci::selected() {
    return m_queue_select < num_queues ? &m_queues[m_queue_select] : nullptr;
}

std::uint64_t virtio_net_pci::common_read(std::uint32_t off, unsigned size) {
    using namespace common_cfg;
    const unsigned width = field_width(off);
    if (width == 0 || size < width) {
        // A 4-byte read of the low half of a 64-bit field is fine (Linux's two-part access).
        if (!(is_64bit_field(off) && size == 4)) {
            ++m_bad_accesses;
            return 0;
        }
    }
    queue_state* q = selected();
    switch (off) {
        case device_feature_select:
            return m_device_feature_select;
        case device_feature:
            return m_device_feature_select < 2
                       ? (m_offered >> (32 * m_device_feature_select)) & 0xffffffffu
                       : 0;
        case driver_feature_select:
            return m_driver_feature_select;
        case driver_feature:
            return m_driver_feature_select < 2
                       ? (m_driver_features >> (32 * m_driver_feature_select)) & 0xffffffffu
                       : 0;
        case common_cfg::msix_config:
            return m_msix_config;
        case common_cfg::num_queues:
            return virtio_net_pci::num_queues;
        case common_cfg::device_status:
            return m_status;
        case config_generation:
            return m_config_generation;
        case queue_select:
            return m_queue_select;
        case queue_size:
            return q ? q->size : 0;  // 0: no such queue (§4.1.4.3)
        case queue_msix_vector:
            return q ? q->msix_vector : msix_no_vector;
        case queue_enable:
            return q && q->enabled ? 1 : 0;
        case queue_notify_off:
            return q ? m_queue_select : 0;
        default:
            break;
    }
    if (!q) return 0;
    const std::uint32_t base = (off - queue_desc) / 8 * 8 + queue_desc;
    const std::uint64_t v = *address_field(*q, base);
    if (off != base) return v >> 32;
    return size == 8 ? v : (v & 0xffffffffu);
}

void virtio_net_pci::common_write(std::uint32_t off, unsigned size, std::uint64_t value) {
    using namespace common_cfg;
    const unsigned width = field_width(off);
    const bool half64 = is_64bit_field(off) && size == 4;
    if (width == 0 || (size < width && !half64)) {
        ++m_bad_accesses;
        return;
    }
    queue_state* q = selected();
    switch (off) {
        case device_feature_select:
            m_device_feature_select = static_cast<std::uint32_t>(value);
            return;
        case driver_feature_select:
            m_driver_feature_select = static_cast<std::uint32_t>(value);
            return;
        case driver_feature: {
            if (m_status & status::features_ok) return;  // fixed once accepted
            if (m_driver_feature_select >= 2) return;
            const unsigned shift = 32 * m_driver_feature_select;
            m_driver_features = (m_driver_features & ~(std::uint64_t{0xffffffffu} << shift)) |
                                ((value & 0xffffffffu) << shift);
            return;
        }
        case common_cfg::msix_config:
            m_msix_config = static_cast<std::uint16_t>(value);
            return;
        case common_cfg::device_status: {
            std::uint8_t v = static_cast<std::uint8_t>(value);
            if (v == 0) {
                reset();
                if (on_reset) on_reset();
                return;
            }
            if ((v & status::features_ok) && !(m_status & status::features_ok)) {
                // §3.1.1 / §6.1: accept only a subset of the offer that includes VERSION_1.
                const bool subset = (m_driver_features & ~m_offered) == 0;
                const bool v1 = m_driver_features & feature::bit(feature::version_1);
                if (!subset || !v1) v &= static_cast<std::uint8_t>(~status::features_ok);
            }
            const bool driver_ok = (v & status::driver_ok) && !(m_status & status::driver_ok);
            m_status = static_cast<std::uint8_t>((v & ~status::device_needs_reset) |
                                                 (m_status & status::device_needs_reset));
            if (driver_ok && on_driver_ok) on_driver_ok();
            return;
        }
        case queue_select:
            m_queue_select = static_cast<std::uint16_t>(value);
            return;
        default:
            break;
    }
    if (!q) return;  // writes to a queue that does not exist are ignored
    switch (off) {
        case queue_size:
            if (!q->enabled) q->size = static_cast<std::uint16_t>(value);
            return;
        case queue_msix_vector:
            q->msix_vector = static_cast<std::uint16_t>(value);
            return;
        case queue_enable:
            if ((value & 0xffff) != 1 || q->enabled) return;
            if (!q->layout().check().empty() || q->size > m_params.queue_size_max) {
                needs_reset();
                return;
            }
            q->enabled = true;
            if (on_queue_enable) on_queue_enable(m_queue_select, q->layout());
            return;
        case queue_notify_off:
        case common_cfg::num_queues:
        case config_generation:
        case device_feature:
            return;  // read-only
        default:
            break;
    }
    if (q->enabled) return;  // §4.1.4.3.2: addresses are fixed while the queue is enabled
    const std::uint32_t base = (off - queue_desc) / 8 * 8 + queue_desc;
    std::uint64_t& f = *address_field(*q, base);
    if (size == 8)
        f = value;
    else if (off == base)
        f = (f & ~std::uint64_t{0xffffffffu}) | (value & 0xffffffffu);
    else
        f = (f & 0xffffffffu) | ((value & 0xffffffffu) << 32);
}

std::uint64_t virtio_net_pci::mmio_read(std::uint64_t offset, unsigned size) {
    if (size != 1 && size != 2 && size != 4 && size != 8) {
        ++m_bad_accesses;
        return 0;
    }
    if (offset < bar_layout::common + common_cfg::size)
        return common_read(static_cast<std::uint32_t>(offset), size);
    if (offset == bar_layout::isr) {
        const std::uint8_t v = m_isr;  // §4.1.4.5: reading clears
        m_isr = 0;
        return v;
    }
    const std::uint32_t cfg_size = m_params.mtu ? net_cfg::size_with_mtu : net_cfg::size;
    if (offset >= bar_layout::device && offset + size <= bar_layout::device + cfg_size) {
        std::uint8_t bytes[net_cfg::size_with_mtu];
        for (unsigned i = 0; i < 6; ++i) bytes[i] = m_params.mac[i];
        mem::store_le<std::uint16_t>(bytes + net_cfg::status, 1);  // VIRTIO_NET_S_LINK_UP
        mem::store_le<std::uint16_t>(bytes + net_cfg::max_virtqueue_pairs, 1);
        mem::store_le<std::uint16_t>(bytes + net_cfg::mtu, m_params.mtu);
        std::uint64_t v = 0;
        const std::uint64_t at = offset - bar_layout::device;
        for (unsigned i = 0; i < size; ++i) v |= std::uint64_t{bytes[at + i]} << (8 * i);
        return v;
    }
    ++m_bad_accesses;
    return 0;
}

void virtio_net_pci::mmio_write(std::uint64_t offset, unsigned size, std::uint64_t value) {
    if (size != 1 && size != 2 && size != 4 && size != 8) {
        ++m_bad_accesses;
        return;
    }
    if (offset < bar_layout::common + common_cfg::size) {
        common_write(static_cast<std::uint32_t>(offset), size, value);
        return;
    }
    const std::uint64_t notify_end =
        bar_layout::notify + std::uint64_t{num_queues} * bar_layout::notify_off_multiplier;
    if (offset >= bar_layout::notify && offset < notify_end && size >= 2 &&
        (offset - bar_layout::notify) % bar_layout::notify_off_multiplier == 0) {
        const auto q = static_cast<std::uint16_t>((offset - bar_layout::notify) /
                                                  bar_layout::notify_off_multiplier);
        ++m_notifications;
        if (on_notify) on_notify(q);
        return;
    }
    ++m_bad_accesses;  // ISR and device config are read-only here; anything else is nothing
}

}  // namespace iovsim::virtio
