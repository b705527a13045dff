#include "platform/rx_meter.h"

#include "models/core/bits.h"

namespace iovsim::platform {

namespace {
// Ethernet header (14 B), then the sequence number (8 B).
constexpr std::size_t seq_offset = 14;
}  // namespace

rx_meter::rx_meter(std::uint64_t expected, std::uint64_t warmup, bool by_order)
    : m_expected(expected), m_warmup(warmup), m_by_order(by_order) {}

void rx_meter::arrived(const frame& f, tick_t at) {
    if (m_by_order)
        m_order.push_back(at);
    else if (f.size() >= seq_offset + 8)
        m_arrival[load_le<std::uint64_t>(f.data() + seq_offset)] = at;
}

rx_meter::taken rx_meter::take(const std::optional<frame>& f, tick_t now) {
    std::optional<tick_t> arrival;
    if (m_by_order && !m_order.empty()) {
        arrival = m_order.front();
        m_order.pop_front();
    } else if (!m_by_order && f && f->size() >= seq_offset + 8) {
        const auto it = m_arrival.find(load_le<std::uint64_t>(f->data() + seq_offset));
        if (it != m_arrival.end()) {
            arrival = it->second;
            m_arrival.erase(it);
        }
    }
    if (!f) {
        ++m_errors;
        return taken::error;
    }
    if (m_frames++ < m_warmup) return taken::warmup;
    m_last = now;
    if (arrival) m_latency.sample(ticks_to_ns(now - *arrival));
    if (m_measured++ == 0) {
        m_first = now;
        return taken::first_measured;
    }
    return taken::measured;
}

}  // namespace iovsim::platform
