#include "models/core/tracer.h"

namespace iovsim::core {

std::string tracer::scoped(std::string_view name) const {
    if (m_scope.empty()) return std::string(name);
    if (name.empty()) return m_scope;
    std::string out = m_scope;
    out += '.';
    out += name;
    return out;
}

tracer tracer::child(std::string_view name) const { return tracer(m_buffer, scoped(name)); }

traces::signal_id tracer::declare_signal(std::string_view name, unsigned width) const {
    if (!m_buffer) return traces::no_signal;
    return m_buffer->declare_signal(scoped(name), width);
}

void tracer::emit_span(std::string_view track, std::string_view name, tick_t begin, tick_t end,
                       std::uint64_t id) const {
    m_buffer->add_span({scoped(track), std::string(name), id, begin, end});
}

void tracer::emit_instant(std::string_view track, std::string_view name, tick_t time,
                          std::uint64_t id) const {
    m_buffer->add_instant({scoped(track), std::string(name), id, time});
}

}  // namespace iovsim::core
