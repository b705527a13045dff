#include "traces/trace_buffer.h"

#include <algorithm>
#include <stdexcept>

namespace iovsim::traces {

signal_id trace_buffer::declare_signal(const std::string& name, unsigned width) {
    if (name.empty()) throw std::invalid_argument("trace signal with an empty name");
    if (width < 1 || width > 64) {
        throw std::invalid_argument("trace signal '" + name + "': width " + std::to_string(width) +
                                    " outside 1..64 bits");
    }
    if (m_by_name.count(name) != 0) {
        throw std::logic_error("trace signal '" + name + "' declared twice");
    }
    const auto id = static_cast<signal_id>(m_signals.size());
    m_signals.push_back({id, name, width});
    m_by_name.emplace(name, id);
    return id;
}

const signal_decl& trace_buffer::signal(signal_id id) const {
    if (id >= m_signals.size()) {
        throw std::logic_error("trace signal id " + std::to_string(id) + " not declared");
    }
    return m_signals[id];
}

std::optional<signal_id> trace_buffer::find_signal(const std::string& name) const {
    auto it = m_by_name.find(name);
    if (it == m_by_name.end()) return std::nullopt;
    return it->second;
}

void trace_buffer::change(tick_t time, signal_id id, std::uint64_t value) {
    const signal_decl& s = signal(id);
    if (s.width < 64 && (value >> s.width) != 0) {
        throw std::logic_error("trace signal '" + s.name + "': value " + std::to_string(value) +
                               " does not fit " + std::to_string(s.width) + " bits");
    }
    m_events.emplace_back(signal_change{time, id, value});
}

void trace_buffer::add_span(span s) {
    if (s.end < s.begin) {
        throw std::logic_error("trace span '" + s.name + "' on '" + s.track + "' ends at " +
                               std::to_string(s.end) + " ps, before it begins at " +
                               std::to_string(s.begin) + " ps");
    }
    m_events.emplace_back(std::move(s));
}

void trace_buffer::add_instant(instant i) { m_events.emplace_back(std::move(i)); }

std::vector<trace_event> trace_buffer::sorted() const {
    std::vector<trace_event> out = m_events;
    std::stable_sort(out.begin(), out.end(), [](const trace_event& a, const trace_event& b) {
        return time_of(a) < time_of(b);
    });
    return out;
}

}  // namespace iovsim::traces
