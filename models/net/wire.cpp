#include "models/net/wire.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "models/net/ethernet.h"

namespace iovsim::net {

tick_t serialization_ticks(std::uint64_t frame_bytes, double line_rate_bps) {
    if (!(line_rate_bps > 0)) {
        throw std::invalid_argument(
            fmt::format("wire: line rate {} bit/s is not positive", line_rate_bps));
    }
    const std::uint64_t bytes = std::max<std::uint64_t>(frame_bytes, min_frame_bytes);
    return bytes_to_ticks(bytes + preamble_sfd_ifg_bytes, line_rate_bps);
}

tick_t propagation_ticks(double length_m, double delay_ns_per_m) {
    if (length_m < 0 || delay_ns_per_m < 0) {
        throw std::invalid_argument(fmt::format(
            "wire: length {} m and delay {} ns/m must not be negative", length_m, delay_ns_per_m));
    }
    return ns_to_ticks(length_m * delay_ns_per_m);
}

wire_direction::wire_direction(const wire_params& p)
    : m_p(p), m_propagation(propagation_ticks(p.length_m, p.delay_ns_per_m)) {
    serialization_ticks(min_frame_bytes, p.line_rate_bps);  // validates the rate
}

wire_transfer wire_direction::transmit(tick_t ready, std::uint64_t frame_bytes) {
    const tick_t duration = serialization_ticks(frame_bytes, m_p.line_rate_bps);
    wire_transfer t;
    t.start = m_line.reserve(ready, duration);
    t.end = t.start + duration;
    // The last bit of the frame leaves 12 bytes (the gap) before the slot ends.
    const tick_t gap = bytes_to_ticks(12, m_p.line_rate_bps);
    t.arrival = t.end - gap + m_propagation;
    return t;
}

}  // namespace iovsim::net
