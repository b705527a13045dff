// The handle through which a model emits trace events (traces/trace_event.h).
//
// A tracer points at a trace_buffer, or at nothing when tracing is off; then every emit is one
// branch and returns. A tracer may carry a name scope ("top.vf0"): signals, span and instant
// tracks it names are prefixed with it, so a model names its own signals ("tx_tail") and the
// platform places them. Copy it freely: it is a pointer and a string.
//
// Tracing rides along, never steers: a model must not branch on enabled() for its behaviour or
// timing.
//
// Leaves out: filtering by module or level (the platform passes a null buffer to switch a module
// off). Times are explicit: kernel time plus the emitter's local offset.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "models/core/units.h"
#include "traces/trace_buffer.h"

namespace iovsim::core {

class tracer {
public:
    tracer() = default;  // tracing off
    explicit tracer(traces::trace_buffer* buffer, std::string scope = "")
        : m_buffer(buffer), m_scope(std::move(scope)) {}

    bool enabled() const { return m_buffer != nullptr; }
    traces::trace_buffer* buffer() const { return m_buffer; }
    const std::string& scope() const { return m_scope; }

    // The same buffer, scope extended by `name` ("top" + "vf0" = "top.vf0").
    tracer child(std::string_view name) const;

    // Declares scope.name; returns traces::no_signal when tracing is off.
    traces::signal_id declare_signal(std::string_view name, unsigned width) const;

    void change(tick_t time, traces::signal_id signal, std::uint64_t value) const {
        if (m_buffer) m_buffer->change(time, signal, value);
    }
    // `track` is scoped like a signal name.
    void span(std::string_view track, std::string_view name, tick_t begin, tick_t end,
              std::uint64_t id = 0) const {
        if (m_buffer) emit_span(track, name, begin, end, id);
    }
    void instant(std::string_view track, std::string_view name, tick_t time,
                 std::uint64_t id = 0) const {
        if (m_buffer) emit_instant(track, name, time, id);
    }

private:
    std::string scoped(std::string_view name) const;
    void emit_span(std::string_view track, std::string_view name, tick_t begin, tick_t end,
                   std::uint64_t id) const;
    void emit_instant(std::string_view track, std::string_view name, tick_t time,
                      std::uint64_t id) const;

    traces::trace_buffer* m_buffer = nullptr;
    std::string m_scope;
};

}  // namespace iovsim::core
