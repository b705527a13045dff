#include "models/virtio/net_driver.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "models/cpu/guest.h"
#include "models/net/ethernet.h"

namespace iovsim::virtio {

namespace {
constexpr std::uint64_t page = 4096;
std::uint64_t round_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }
}  // namespace

// --- guest_env ---

std::uint64_t guest_env::mmio_read(std::uint64_t gpa, unsigned size) {
    if (size == 8) return m_g.mmio_read32(gpa) | (std::uint64_t{m_g.mmio_read32(gpa + 4)} << 32);
    const std::uint32_t v = m_g.mmio_read32(gpa);
    return size >= 4 ? v : v & ((1u << (8 * size)) - 1);
}

void guest_env::mmio_write(std::uint64_t gpa, unsigned size, std::uint64_t value) {
    if (size == 8)
        m_g.mmio_write64(gpa, value);
    else
        m_g.mmio_write32(gpa, static_cast<std::uint32_t>(value));
}

bool guest_env::read(std::uint64_t gpa, void* dst, std::uint32_t len) {
    m_g.read(gpa, dst, len);
    return true;
}

bool guest_env::write(std::uint64_t gpa, const void* src, std::uint32_t len) {
    m_g.write(gpa, src, len);
    return true;
}

std::uint32_t buffer_size_for_mtu(unsigned mtu) {
    if (mtu <= net::standard_mtu) return 2048;
    return (virtio_net_hdr_v1::size + mtu + net::mac_header_bytes + 1023) / 1024 * 1024;
}

// --- virtio_net_driver ---

virtio_net_driver::virtio_net_driver(const driver_params& p) : m_p(p) {
    const std::uint32_t n = p.queue_size;
    if (n == 0 || (n & (n - 1)) != 0) throw std::invalid_argument("virtio_net_driver: queue_size");
    if (p.ring_gpa % page != 0) throw std::invalid_argument("virtio_net_driver: ring_gpa");
    if (p.buffer_size <= virtio_net_hdr_v1::size)
        throw std::invalid_argument("virtio_net_driver: buffer_size");
}

queue_layout virtio_net_driver::layout(std::uint16_t q) const {
    const queue_layout one = contiguous_layout(0, m_p.queue_size, page);
    const std::uint64_t per_queue = round_up(one.used + used_ring_bytes(m_p.queue_size), page);
    return contiguous_layout(m_p.ring_gpa + q * per_queue, m_p.queue_size, page);
}

std::uint64_t virtio_net_driver::ring_bytes() const {
    return layout(1).used + used_ring_bytes(m_p.queue_size) - m_p.ring_gpa;
}

std::uint64_t virtio_net_driver::buffer_bytes() const {
    return 2ull * m_p.queue_size * m_p.buffer_size;
}

std::uint64_t virtio_net_driver::slot_gpa(std::uint16_t q, std::uint32_t slot) const {
    return m_p.buffer_gpa + (std::uint64_t{q} * m_p.queue_size + slot) * m_p.buffer_size;
}

bool virtio_net_driver::init(driver_env& env) {
    using namespace common_cfg;
    m_rx.reset();
    m_tx.reset();
    env.mmio_write(reg(device_status), 1, 0);  // reset
    std::uint8_t st = status::acknowledge;
    env.mmio_write(reg(device_status), 1, st);
    st |= status::driver;
    env.mmio_write(reg(device_status), 1, st);

    std::uint64_t offered = 0;
    for (std::uint32_t sel = 0; sel < 2; ++sel) {
        env.mmio_write(reg(device_feature_select), 4, sel);
        offered |= (env.mmio_read(reg(device_feature), 4) & 0xffffffffu) << (32 * sel);
    }
    m_features = offered & m_p.features;
    auto fail = [&] {
        env.mmio_write(reg(device_status), 1, st | status::failed);
        return false;
    };
    if (!(m_features & feature::bit(feature::version_1))) return fail();
    for (std::uint32_t sel = 0; sel < 2; ++sel) {
        env.mmio_write(reg(driver_feature_select), 4, sel);
        env.mmio_write(reg(driver_feature), 4, (m_features >> (32 * sel)) & 0xffffffffu);
    }
    st |= status::features_ok;
    env.mmio_write(reg(device_status), 1, st);
    if (!(env.mmio_read(reg(device_status), 1) & status::features_ok)) return fail();

    if (m_features & feature::bit(feature::net_mac)) {
        for (unsigned i = 0; i < 6; ++i)
            m_mac[i] = static_cast<std::uint8_t>(
                env.mmio_read(m_p.bar_gpa + bar_layout::device + net_cfg::mac + i, 1));
    }
    m_mtu = 0;
    if (m_features & feature::bit(feature::net_mtu)) {
        m_mtu = static_cast<std::uint16_t>(
            env.mmio_read(m_p.bar_gpa + bar_layout::device + net_cfg::mtu, 2));
        if (virtio_net_hdr_v1::size + m_mtu + 14u > m_p.buffer_size) return fail();
    }

    const bool event_idx = m_features & feature::bit(feature::ring_event_idx);
    for (std::uint16_t q = 0; q < 2; ++q) {
        env.mmio_write(reg(queue_select), 2, q);
        const auto max = static_cast<std::uint16_t>(env.mmio_read(reg(queue_size), 2));
        if (max < m_p.queue_size) return fail();
        const queue_layout l = layout(q);
        env.mmio_write(reg(queue_size), 2, l.size);
        env.mmio_write(reg(queue_msix_vector), 2, q == rx_queue ? m_p.rx_vector : m_p.tx_vector);
        // Linux's vp_iowrite64_twopart: low half, then high half.
        for (const auto& [off, addr] :
             {std::pair{queue_desc, l.desc}, {queue_driver, l.avail}, {queue_device, l.used}}) {
            env.mmio_write(reg(off), 4, addr & 0xffffffffu);
            env.mmio_write(reg(off + 4), 4, addr >> 32);
        }
        m_notify_off[q] = static_cast<std::uint16_t>(env.mmio_read(reg(queue_notify_off), 2));
        (q == rx_queue ? m_rx : m_tx).emplace(env.memory(), l, event_idx);
        env.mmio_write(reg(queue_enable), 2, 1);
    }
    env.mmio_write(reg(msix_config), 2, m_p.config_vector);

    m_rx_slot_of.assign(m_p.queue_size, 0);
    m_tx_slot_of.assign(m_p.queue_size, 0);
    m_tx_free.clear();
    for (std::uint32_t s = m_p.queue_size; s-- > 0;) m_tx_free.push_back(s);
    for (std::uint32_t s = 0; s < m_p.queue_size; ++s) post_rx(s);
    m_rx->kick_prepare();  // the device is not live yet: no kick needed before DRIVER_OK

    st |= status::driver_ok;
    env.mmio_write(reg(device_status), 1, st);
    return true;
}

bool virtio_net_driver::post_rx(std::uint32_t slot) {
    const auto head = m_rx->add({}, {buffer{slot_gpa(rx_queue, slot), m_p.buffer_size}});
    if (!head) return false;
    m_rx_slot_of[*head] = slot;
    return true;
}

void virtio_net_driver::kick(driver_env& env, std::uint16_t q) {
    ++m_kicks;
    // vp_notify: a 16-bit write of the queue index at notify base + off × multiplier.
    env.mmio_write(m_p.bar_gpa + bar_layout::notify +
                       std::uint64_t{m_notify_off[q]} * bar_layout::notify_off_multiplier,
                   2, q);
}

unsigned virtio_net_driver::reclaim_tx(driver_env&) {
    if (!m_tx) return 0;
    unsigned n = 0;
    while (auto u = m_tx->get_used()) {
        m_tx_free.push_back(m_tx_slot_of[u->id]);
        ++n;
    }
    return n;
}

bool virtio_net_driver::transmit(driver_env& env, const frame& f) {
    if (!m_tx || f.size() + virtio_net_hdr_v1::size > m_p.buffer_size) return false;
    reclaim_tx(env);
    if (m_tx_free.empty()) return false;
    const std::uint32_t slot = m_tx_free.back();
    const std::uint64_t addr = slot_gpa(tx_queue, slot);
    std::vector<std::uint8_t> buf(virtio_net_hdr_v1::size + f.size());
    virtio_net_hdr_v1{}.encode(buf.data());  // no offloads: all zero (num_buffers unused on TX)
    std::copy(f.begin(), f.end(), buf.begin() + virtio_net_hdr_v1::size);
    env.memory().write(addr, buf.data(), static_cast<std::uint32_t>(buf.size()));
    const auto head = m_tx->add({buffer{addr, static_cast<std::uint32_t>(buf.size())}}, {});
    if (!head) return false;
    m_tx_free.pop_back();
    m_tx_slot_of[*head] = slot;
    if (m_tx->kick_prepare()) kick(env, tx_queue);
    return true;
}

std::optional<virtio_net_driver::frame> virtio_net_driver::receive(driver_env& env) {
    if (!m_rx) return std::nullopt;
    while (auto u = m_rx->get_used()) {
        const std::uint32_t slot = m_rx_slot_of[u->id];
        std::optional<frame> out;
        if (u->len < virtio_net_hdr_v1::size || u->len > m_p.buffer_size) {
            ++m_rx_errors;
        } else {
            frame f(u->len - virtio_net_hdr_v1::size);
            env.memory().read(slot_gpa(rx_queue, slot) + virtio_net_hdr_v1::size, f.data(),
                              static_cast<std::uint32_t>(f.size()));
            out = std::move(f);
        }
        post_rx(slot);
        if (m_rx->kick_prepare()) kick(env, rx_queue);
        if (out) return out;
    }
    return std::nullopt;
}

bool virtio_net_driver::needs_reset(driver_env& env) {
    return env.mmio_read(reg(common_cfg::device_status), 1) & status::device_needs_reset;
}

}  // namespace iovsim::virtio
