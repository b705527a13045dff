#include "models/virtio/net_backend.h"

#include <algorithm>
#include <cmath>

#include "models/cpu/ept.h"
#include "models/cpu/posted_interrupt.h"
#include "models/virtio/virtio_net.h"

namespace iovsim::virtio {

bool translated_memory::read(std::uint64_t gpa, void* dst, std::uint32_t len) {
    ++m_translations;
    std::uint64_t hpa = 0;
    if (!m_map.ram_hpa(gpa, len, hpa) || !m_host.read(hpa, dst, len)) {
        ++m_faults;
        return false;
    }
    return true;
}

bool translated_memory::write(std::uint64_t gpa, const void* src, std::uint32_t len) {
    ++m_translations;
    std::uint64_t hpa = 0;
    if (!m_map.ram_hpa(gpa, len, hpa) || !m_host.write(hpa, src, len)) {
        ++m_faults;
        return false;
    }
    return true;
}

static_assert(virtio_net_backend::max_tx_chain_bytes == 64 * 1024 + virtio_net_hdr_v1::size);

virtio_net_backend::virtio_net_backend(guest_memory& m, const backend_params& p, frame_sink sink)
    : m_mem(m), m_params(p), m_sink(std::move(sink)) {}

void virtio_net_backend::start(const queue_layout& rx, const queue_layout& tx, bool event_idx) {
    m_rx = std::make_unique<virtq_device>(m_mem, rx, event_idx);
    m_tx = std::make_unique<virtq_device>(m_mem, tx, event_idx, max_tx_chain_bytes);
    m_reported[0] = m_reported[1] = false;
}

void virtio_net_backend::stop() {
    m_rx.reset();
    m_tx.reset();
}

std::uint64_t virtio_net_backend::cost(std::uint64_t accesses, std::uint64_t bytes,
                                       unsigned packets, std::uint64_t per_packet) const {
    return per_packet * packets + accesses * m_params.access +
           static_cast<std::uint64_t>(std::ceil(static_cast<double>(bytes) * m_params.byte));
}

void virtio_net_backend::report(std::uint16_t queue, const virtq_device& q) {
    if (!q.broken() || m_reported[queue]) return;
    m_reported[queue] = true;
    if (on_error) on_error(queue, q.error());
}

virtio_net_backend::result virtio_net_backend::handle_tx() {
    result r;
    if (!m_tx) return r;
    virtq_device& q = *m_tx;
    const std::uint64_t accesses0 = q.accesses(), bytes0 = q.bytes_copied();
    q.disable_notifications();
    frame buf;
    for (;;) {
        std::optional<desc_chain> c = q.pop();
        if (!c) {
            if (q.broken() || q.enable_notifications()) break;
            q.disable_notifications();  // more came while turning kicks on: keep going
            continue;
        }
        buf.clear();
        if (!q.read_chain(*c, buf)) break;
        if (buf.size() < virtio_net_hdr_v1::size) {
            ++m_tx_malformed;
        } else {
            const frame f(buf.begin() + virtio_net_hdr_v1::size, buf.end());
            ++r.frames;
            ++m_tx_frames;
            if (m_sink) m_sink(f);
        }
        if (!q.push(c->head, 0)) break;
    }
    if (r.frames > 0 || m_tx_malformed > 0) r.interrupt = q.need_interrupt();
    r.error = q.broken();
    r.cycles =
        cost(q.accesses() - accesses0, q.bytes_copied() - bytes0, r.frames, m_params.tx_packet);
    report(tx_queue, q);
    return r;
}

virtio_net_backend::result virtio_net_backend::receive(const frame& f) {
    result r;
    if (!m_rx) {
        ++m_rx_no_buffer;
        return r;
    }
    virtq_device& q = *m_rx;
    const std::uint64_t accesses0 = q.accesses(), bytes0 = q.bytes_copied();
    std::optional<desc_chain> c = q.pop();
    if (!c) {
        if (!q.broken()) ++m_rx_no_buffer;
    } else if (c->writable_bytes < virtio_net_hdr_v1::size + f.size()) {
        ++m_rx_too_big;
        q.push(c->head, 0);
        r.interrupt = q.need_interrupt();
    } else {
        frame buf(virtio_net_hdr_v1::size + f.size());
        virtio_net_hdr_v1 h;
        h.num_buffers = 1;
        h.encode(buf.data());
        std::copy(f.begin(), f.end(), buf.begin() + virtio_net_hdr_v1::size);
        if (q.write_chain(*c, buf.data(), static_cast<std::uint32_t>(buf.size())) &&
            q.push(c->head, static_cast<std::uint32_t>(buf.size()))) {
            r.frames = 1;
            ++m_rx_frames;
            r.interrupt = q.need_interrupt();
        }
    }
    r.error = q.broken();
    r.cycles =
        cost(q.accesses() - accesses0, q.bytes_copied() - bytes0, r.frames, m_params.rx_packet);
    report(rx_queue, q);
    return r;
}

}  // namespace iovsim::virtio
