// A host tap device's queue of frames for its reader (vhost-net's worker, or the VMM's I/O thread
// behind an emulated or user-space virtio device): the tap socket's receive queue.
//
// Models: frames kept in arrival order (a loosely-timed sender may hand a frame over before an
// earlier-stamped one: it is placed after every frame stamped no later), each handed to the
// reader once it has arrived; the reader leaves frames queued while its device cannot take them
// (vhost-net's handle_rx with no RX buffer, QEMU's can_receive false). A frame arriving with
// `capacity` frames waiting is dropped and counted, as the tap drops beyond its queue length
// (txqueuelen, 1000 by default).
// Leaves out: byte-based socket buffer limits (sndbuf), the tap's own qdisc.
// Timing: none of its own (plain C++).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "models/core/units.h"

namespace iovsim::net {

class tap_queue {
public:
    using frame = std::vector<std::uint8_t>;
    static constexpr std::size_t default_capacity = 1000;  // a tap's default txqueuelen

    explicit tap_queue(std::size_t capacity = default_capacity) : m_capacity(capacity) {}

    // A frame for the reader arriving at `at`; false (and counted) if the queue is full.
    bool push(frame f, tick_t at) {
        if (m_frames.size() >= m_capacity) {
            ++m_dropped;
            return false;
        }
        const auto pos = std::upper_bound(
            m_frames.begin(), m_frames.end(), at,
            [](tick_t t, const std::pair<tick_t, frame>& e) { return t < e.first; });
        m_frames.emplace(pos, at, std::move(f));
        return true;
    }
    // The oldest frame if it has arrived by `now`, else null.
    const frame* due(tick_t now) const {
        return !m_frames.empty() && m_frames.front().first <= now ? &m_frames.front().second
                                                                  : nullptr;
    }
    // Takes the oldest frame (the queue must not be empty).
    frame pop() {
        frame f = std::move(m_frames.front().second);
        m_frames.pop_front();
        return f;
    }
    bool empty() const { return m_frames.empty(); }
    std::size_t size() const { return m_frames.size(); }
    std::uint64_t dropped() const { return m_dropped; }

private:
    std::size_t m_capacity;
    std::deque<std::pair<tick_t, frame>> m_frames;
    std::uint64_t m_dropped = 0;
};

}  // namespace iovsim::net
