// Timing of an Ethernet link: serialization at line rate and propagation.
//
// Models one direction of a full-duplex point-to-point Ethernet link as a busy-until resource
// (core::timeline): a frame occupies the wire for its bytes after the SFD (FCS and padding
// included, at least 64) plus 20 bytes of overhead — 7 bytes preamble, 1 byte SFD and the
// 12-byte minimum inter-frame gap — at the line rate, and its last bit reaches the far end one
// propagation delay after it left. Back-to-back frames queue behind each other, so the line rate
// limits throughput by itself.
//
// Leaves out: PHY and FEC latency (put them in the propagation delay), pause frames and PFC,
// bit errors, auto-negotiation; the line rate is the MAC data rate (25 Gb/s for 25GBASE-R).
//
// Timing: serialization = bytes_to_ticks(wire bytes + 20, line rate), rounded up to a picosecond;
// propagation = length × delay per metre (copper and fibre carry a signal at about 5 ns/m).
#pragma once

#include <cstdint>

#include "models/core/timeline.h"
#include "models/core/units.h"

namespace iovsim::net {

inline constexpr std::uint64_t preamble_sfd_ifg_bytes = 20;  // 7 + 1 + 12

struct wire_params {
    double line_rate_bps = 25e9;  // bits per second
    double length_m = 2.0;        // cable length, metres
    double delay_ns_per_m = 5.0;  // propagation delay per metre
};

// Time the wire is held by a frame of `frame_bytes` (after the SFD, FCS included; frames below
// the 64-byte minimum are counted as 64). Throws std::invalid_argument for a line rate <= 0.
tick_t serialization_ticks(std::uint64_t frame_bytes, double line_rate_bps);
// Throws std::invalid_argument for a negative length or delay.
tick_t propagation_ticks(double length_m, double delay_ns_per_m);

struct wire_transfer {
    tick_t start = 0;    // first bit of the preamble leaves
    tick_t end = 0;      // the gap after the frame ends; the next frame may start
    tick_t arrival = 0;  // the frame's last bit has reached the far end
};

// One direction of a link.
class wire_direction {
public:
    // Throws std::invalid_argument for bad parameters (see the functions above).
    explicit wire_direction(const wire_params& p);
    // A frame of `frame_bytes` handed to the MAC at `ready`.
    wire_transfer transmit(tick_t ready, std::uint64_t frame_bytes);
    const timeline& line() const { return m_line; }
    tick_t propagation() const { return m_propagation; }

private:
    wire_params m_p;
    tick_t m_propagation;
    timeline m_line;
};

}  // namespace iovsim::net
