// Timestamped trace events, the common input of the VCD and Perfetto (Chrome JSON) writers.
//
// - signal_decl: a named signal of 1..64 bits ("top.vf0.tx_tail"), a VCD variable; declared
//   once, referred to by its id.
// - signal_change: at `time` the signal takes `value` (which must fit its width).
// - span: something with a duration on a named track ("vf0.dma": "MRd 64B" from begin to end),
//   with an optional packet or async id (0: none) that a Perfetto writer uses to link spans.
// - instant: a point event on a track (an interrupt raised, a fault recorded).
//
// Times are explicit (kernel time plus the emitter's local offset), never sampled from the
// kernel: loosely-timed initiators run ahead, so events may arrive out of time order and the
// buffer sorts them (traces/trace_buffer.h).
//
// Leaves out: string- and real-valued signals, counters tracks, flow arrows. Plain C++.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <variant>

#include "models/core/units.h"

namespace iovsim::traces {

using signal_id = std::uint32_t;
constexpr signal_id no_signal = std::numeric_limits<signal_id>::max();

struct signal_decl {
    signal_id id = no_signal;
    std::string name;    // hierarchical, dotted
    unsigned width = 1;  // bits, 1..64
};

struct signal_change {
    tick_t time = 0;
    signal_id signal = no_signal;
    std::uint64_t value = 0;
};

struct span {
    std::string track;
    std::string name;
    std::uint64_t id = 0;  // packet or async id, 0: none
    tick_t begin = 0;
    tick_t end = 0;
};

struct instant {
    std::string track;
    std::string name;
    std::uint64_t id = 0;  // packet or async id, 0: none
    tick_t time = 0;
};

using trace_event = std::variant<signal_change, span, instant>;

// The time an event is ordered by: a span's begin.
inline tick_t time_of(const trace_event& e) {
    struct visitor {
        tick_t operator()(const signal_change& c) const { return c.time; }
        tick_t operator()(const span& s) const { return s.begin; }
        tick_t operator()(const instant& i) const { return i.time; }
    };
    return std::visit(visitor{}, e);
}

}  // namespace iovsim::traces
