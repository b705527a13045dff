// A progress line on a terminal for long runs (`iovsim run`): simulated time, packets completed
// (and the share of the run's total, when known) and the simulation rate in packets per
// wall-clock second, rewritten in place with '\r' about twice a second once a run has taken more
// than a couple of seconds of wall time, and cleared when the simulation ends.
//
// What it does: one SC_METHOD that wakes every `interval` of simulated time (50 us by default),
// reads the wall clock and, when a line is due, calls the count function and writes the line.
// It never notifies an event, writes a signal or calls into the model other than through the
// count and `done` functions (which must only read), so the model's processes run in the same
// order, at the same times, with or without it.
//
// Silent, and not even a process, when the output descriptor (stderr) is not a terminal: then
// the simulation is exactly the one without it.
//
// Timing assumptions and limits:
// - It stops waking when `done` says so or when, at a wake, nothing else is pending in the
//   kernel (no runnable process, no delta or timed notification), so a run that starves still
//   ends. When other processes are runnable at the current time but have nothing in the future,
//   it waits one delta cycle and looks again.
// - The end time: a run that ends with sc_stop() (every `iovsim run`: the host program or the
//   guest workload stops it) or with sc_start(T) under SC_RUN_TO_TIME ends at the same simulated
//   time as without it. A run that ends by starvation can end up to one `interval` later: a wake
//   already scheduled when the last other event is notified still happens (a wake can only see
//   the next pending event, never whether it is the last one). Give such runs a `done` predicate
//   that turns true early enough, or do not use the reporter.
// - Its wakes are kernel activity: at most one delta cycle each (wakes()), which a count of the
//   kernel's delta cycles (sc_delta_count()) should discount.
// - The rate is the run's average so far (packets / wall seconds since the simulation started),
//   not a recent window.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <systemc>

#include "models/core/units.h"

namespace iovsim::platform {

struct progress_options {
    tick_t interval =
        50 * ticks_per_us;       // simulated time between looks at the wall clock (0: 50 us)
    double delay_s = 2.0;        // wall-clock seconds before the first line
    double period_s = 0.5;       // wall-clock seconds between lines
    std::uint64_t total = 0;     // packets the run will complete (0: not known)
    std::function<bool()> done;  // true once the run's work is over: no more wakes
    int fd = 2;                  // where the line goes (stderr); nothing unless a tty
};

// The text of one progress line (no '\r'): e.g. "progress: 12.500 ms simulated, 5000/10000
// packets (50%), 25000 packets/s" (simulated time in us below 1 ms, in s from 1 s; the percent
// rounded down). With total 0 the "/total" and the percent are left out; with no wall time the
// rate is 0.
std::string progress_line(tick_t simulated, std::uint64_t packets, std::uint64_t total,
                          double wall_s);

class progress_reporter : public sc_core::sc_module {
public:
    // `completed` counts the packets done so far (called only when a line is written).
    progress_reporter(sc_core::sc_module_name name, std::function<std::uint64_t()> completed,
                      progress_options options = {});
    ~progress_reporter() override;

    // The output is a terminal: the process exists and lines may be written.
    bool active() const { return m_active; }
    // Times its process ran (each at most one extra delta cycle of the kernel).
    std::uint64_t wakes() const { return m_wakes; }
    // Lines written so far.
    std::uint64_t lines() const { return m_lines; }
    // Clears the line if one is shown and writes no more; also done at the end of the
    // simulation (sc_stop), when the process stops waking, and on destruction. Idempotent.
    void finish();

private:
    using clock = std::chrono::steady_clock;

    void wake();
    void show(clock::time_point now);
    void write_all(const std::string& s);
    void start_of_simulation() override;
    void end_of_simulation() override;

    std::function<std::uint64_t()> m_completed;
    progress_options m_options;
    bool m_active;
    bool m_finished = false;
    sc_core::sc_time m_interval;
    clock::time_point m_start;
    clock::time_point m_next_line;
    std::size_t m_shown = 0;  // characters of the line on the terminal now (0: none)
    std::uint64_t m_wakes = 0;
    std::uint64_t m_lines = 0;
};

}  // namespace iovsim::platform
