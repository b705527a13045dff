// An in-memory collection of trace events (traces/trace_event.h) that the file writers consume.
//
// Signals are declared with a unique hierarchical name and a width of 1..64 bits; a change must
// name a declared signal and carry a value that fits its width. Broken rules are
// std::logic_error: a duplicate name, an unknown signal id, a value wider than the signal, a span
// that ends before it begins; a width outside 1..64 is std::invalid_argument.
//
// Events are kept in emission order; sorted() returns them ordered by time (a span by its
// begin), stably, so events at the same time keep the order in which they were emitted.
//
// Leaves out: streaming to disk while the simulation runs (everything stays in memory until a
// writer reads it) and thread safety.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "traces/trace_event.h"

namespace iovsim::traces {

class trace_buffer {
public:
    // Returns the new signal's id (0, 1, 2, ... in declaration order).
    signal_id declare_signal(const std::string& name, unsigned width);
    void change(tick_t time, signal_id signal, std::uint64_t value);
    void add_span(span s);
    void add_instant(instant i);

    const std::vector<signal_decl>& signals() const { return m_signals; }
    const signal_decl& signal(signal_id id) const;  // logic_error if not declared
    std::optional<signal_id> find_signal(const std::string& name) const;

    // Emission order.
    const std::vector<trace_event>& events() const { return m_events; }
    std::size_t size() const { return m_events.size(); }
    bool empty() const { return m_events.empty(); }
    // Ordered by time, stable: ties keep emission order.
    std::vector<trace_event> sorted() const;

    // Drops every event; the declarations stay.
    void clear_events() { m_events.clear(); }

private:
    std::vector<signal_decl> m_signals;
    std::unordered_map<std::string, signal_id> m_by_name;
    std::vector<trace_event> m_events;
};

}  // namespace iovsim::traces
