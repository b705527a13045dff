// A resource with a busy-until timeline: a link direction, a memory channel, a page walker, a
// host core. A request arriving at `arrival` starts at max(arrival, free) and holds the resource
// for `duration`; the queueing delay is start - arrival. Contention and bandwidth limits in the
// models emerge from these, never from a formula applied to a result (DESIGN.md §3).
//
// Leaves out: ordering between requests that arrive out of time order (loosely-timed initiators
// may present an earlier arrival after a later one; it is served after, as a FIFO would).
#pragma once

#include <algorithm>

#include "models/core/units.h"

namespace iovsim {

class timeline {
public:
    // Holds the resource for `duration` from max(arrival, free); returns the start time.
    tick_t reserve(tick_t arrival, tick_t duration) {
        const tick_t start = std::max(arrival, m_free_at);
        m_free_at = start + duration;
        m_busy += duration;
        m_wait += start - arrival;
        ++m_uses;
        return start;
    }

    tick_t free_at() const { return m_free_at; }
    tick_t busy_ticks() const { return m_busy; }  // total time held
    tick_t wait_ticks() const { return m_wait; }  // total queueing delay imposed
    std::uint64_t uses() const { return m_uses; }
    void reset() { *this = timeline{}; }

private:
    tick_t m_free_at = 0;
    tick_t m_busy = 0;
    tick_t m_wait = 0;
    std::uint64_t m_uses = 0;
};

}  // namespace iovsim
