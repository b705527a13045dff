// Chrome trace-event JSON writer: the timeline of `iovsim run --perfetto`
// (DIR/trace.perfetto.json), opened by ui.perfetto.dev or chrome://tracing.
//
// What it writes: {"displayTimeUnit":"ns","traceEvents":[...]} where
// - every component is a track: a process ("ph":"M" process_name, process_sort_index) with one
//   thread (thread_name) of the same name, numbered 1, 2, ... in alphabetical order of the
//   component names. A span's or instant's component is its track ("top.vf0.dma"); a signal's
//   is its name up to the last dot ("top.vf0" for "top.vf0.tx_tail"; the whole name if it has
//   no dot);
// - every span is an async pair: "ph":"b" at its begin and "ph":"e" at its end, with "cat" and
//   "name" the span's name (a packet stage span is named by its stage: "pcie", "iommu"), and
//   "id" the span's packet ID, so pipelined packets in the same stage don't collide and a
//   packet's stages line up under one ID. A span without an ID (0) gets an ID of its own,
//   2^48 + n for the n-th such span, far above any packet ID;
// - every instant is "ph":"i" with thread scope ("s":"t"), its ID (if any) in args.id;
// - every selected signal change is a counter ("ph":"C", the signal's last name component,
//   args.value), so a ring occupancy or a vCPU state shows as a graph (perfetto_options).
// Timestamps "ts" are microseconds (the format's unit) as decimals, so one tick (1 ps) is
// 0.000001: nanoseconds keep their fractions. Events are sorted by time, stably (a span by its
// begin; an end follows the begins emitted before it), so every track's ts never decreases.
//
// Leaves out: flow arrows between tracks, durations as "X" events (async pairs are used instead,
// since spans on one track may overlap without nesting), the protobuf format, streaming.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "traces/trace_buffer.h"

namespace iovsim::traces {

// The first ID given to spans that carry none (see the file comment).
constexpr std::uint64_t perfetto_anonymous_span_id = std::uint64_t{1} << 48;

struct perfetto_options {
    bool signal_counters = true;       // write signal changes as counters
    std::vector<std::string> signals;  // which signals, as vcd_options::signals; empty: all
};

void write_perfetto(const trace_buffer& buffer, std::ostream& out,
                    const perfetto_options& options = {});
// The same into a file; std::runtime_error if it cannot be written.
void write_perfetto_file(const trace_buffer& buffer, const std::string& path,
                         const perfetto_options& options = {});

}  // namespace iovsim::traces
