// Simulated time and unit conversions shared by every plain-C++ core.
//
// Time is an integer count of picoseconds (`tick_t`), the SystemC kernel's default resolution,
// so a core's arithmetic is exact and a shell turns it into sc_time with
// sc_time(double(t), SC_PS) once. Latencies are parameters in the unit their hardware thinks in
// (CPU cycles, link symbol times) and are converted to ticks here, once.
#pragma once

#include <cmath>
#include <cstdint>

namespace iovsim {

using tick_t = std::uint64_t;  // simulated time, picoseconds

constexpr tick_t ticks_per_ns = 1000;
constexpr tick_t ticks_per_us = 1000 * ticks_per_ns;
constexpr tick_t ticks_per_ms = 1000 * ticks_per_us;
constexpr tick_t ticks_per_s = 1000 * ticks_per_ms;

constexpr double ticks_to_ns(tick_t t) { return static_cast<double>(t) / ticks_per_ns; }
inline tick_t ns_to_ticks(double ns) {
    return static_cast<tick_t>(std::llround(ns * ticks_per_ns));
}

// Duration of `cycles` at clock `hz`, rounded to the nearest picosecond.
inline tick_t cycles_to_ticks(double cycles, double hz) {
    return static_cast<tick_t>(std::llround(cycles * 1e12 / hz));
}

// Time to move `bytes` at `bits_per_s`, rounded up to whole picoseconds.
inline tick_t bytes_to_ticks(std::uint64_t bytes, double bits_per_s) {
    return static_cast<tick_t>(std::ceil(static_cast<double>(bytes) * 8.0 * 1e12 / bits_per_s));
}

}  // namespace iovsim
