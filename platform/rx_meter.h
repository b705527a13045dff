// What a receiver of the generator's traffic measures (workload.type stream_rx, poisson, pcap):
// one per receiving VM, or the host on bare metal.
//
// The platform's wire probe reports each frame's arrival at the NIC (its last bit, at the NIC's
// MAC) with arrived(); the receiver reports each frame with take() when its driver hands it up
// (the frame read and its buffer given back; the e1000 driver returns its frames when its
// interrupt handler does) and, with app.stack.rx, the stack above has run. A
// generated frame is matched to its arrival by its sequence number (payload bytes 0-7, little
// endian, link_partners.h); a replayed capture's payload is anybody's, so its frames are matched
// in arrival order (exact as long as none is lost between the wire and the driver). The first
// `warmup` frames taken are not measured; of the rest, the latency from arrival to take() goes
// into a histogram, and the first and last times into the measured
// window. A descriptor the driver got without a whole frame counts as an error.
//
// Timing: none of its own (bookkeeping only).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "models/core/stats.h"
#include "models/core/units.h"

namespace iovsim::platform {

class rx_meter {
public:
    using frame = std::vector<std::uint8_t>;
    // `expected`: the frames this receiver is sent; `by_order`: match in arrival order (pcap).
    rx_meter(std::uint64_t expected, std::uint64_t warmup, bool by_order);

    // A frame for this receiver reached the NIC at `at`.
    void arrived(const frame& f, tick_t at);
    // What take() made of a frame.
    enum class taken { error, warmup, first_measured, measured };
    // The receiver's driver has read `f` at `now` (nullopt: a descriptor without a whole frame).
    taken take(const std::optional<frame>& f, tick_t now);

    // Every frame this receiver is sent has been taken (errors included).
    bool complete() const { return m_frames + m_errors >= m_expected; }
    std::uint64_t expected() const { return m_expected; }
    std::uint64_t frames() const { return m_frames; }      // whole frames taken
    std::uint64_t measured() const { return m_measured; }  // of those, after the warm-up
    std::uint64_t errors() const { return m_errors; }
    tick_t first() const { return m_first; }  // the first measured frame taken
    tick_t last() const { return m_last; }    // the last
    const core::histogram& latency_ns() const { return m_latency; }

private:
    std::uint64_t m_expected, m_warmup;
    bool m_by_order;
    std::unordered_map<std::uint64_t, tick_t> m_arrival;  // sequence number -> arrival
    std::deque<tick_t> m_order;                           // by_order: arrivals in order
    std::uint64_t m_frames = 0, m_measured = 0, m_errors = 0;
    tick_t m_first = 0, m_last = 0;
    core::histogram m_latency;
};

}  // namespace iovsim::platform
