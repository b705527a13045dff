// Link partners: what sits at the far end of the NIC's wire.
//
// Models four SystemC partners, each a MAC with its own transmit direction (wire.h timing: line
// rate, 20 B preamble/SFD/gap per frame, propagation) and a receive side that counts what
// arrives (frames, bytes, frames whose FCS is wrong):
// - echo_peer: returns every good frame with destination and source MAC swapped (new FCS), the
//   payload untouched, `turnaround` after its last bit arrived (a remote host's stack or a
//   loopback plug with a switch in between);
// - constant_rate_generator: `count` frames of `frame_bytes` (FCS included), one every
//   1 / `rate_fps` from `start`; with several receivers (generator_params::receivers) `count`
//   frames to each, in turn, one every 1 / (receivers × rate_fps): each receiver gets its frames
//   1 / `rate_fps` apart;
// - poisson_generator: the same with exponentially distributed gaps of mean 1 / `rate_fps`,
//   from a std::mt19937_64 seeded with `seed` (the same seed gives the same times); with several
//   receivers, one Poisson stream of `rate_fps` to each, merged: the gap is exponential with
//   mean 1 / (k × rate_fps) for the k receivers with frames left, and the frame goes to one of
//   them chosen uniformly (a second generator seeded from `seed`), as k independent streams of
//   `count` frames would;
// - pcap_replay: the records of a pcap file, at their recorded spacing from `start` (the first
//   record goes at `start`), each given a fresh FCS (and, if asked, a new destination MAC: with
//   several, the records go to them in turn).
// A generator or replay built `held` sends nothing until release(at) (the receivers are ready: a
// test starts its traffic once the drivers are up); its `start` is then max(start, at).
// Generated frames carry a 64-bit sequence number (little endian) in the first payload bytes,
// the rest of the payload a byte pattern, EtherType 0x88B5 (local experimental).
//
// Leaves out: any protocol above Ethernet (the echo peer answers every frame, ARP and broadcasts
// included), flow control, receive-side rate limits (a partner receives at line rate).
//
// Timing: a generator's frame is handed to its MAC at its scheduled time and queues behind the
// previous one if the line is busy; the echo peer's answer is ready `turnaround` after arrival.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <systemc>
#include <vector>

#include "models/core/units.h"
#include "models/net/ethernet.h"
#include "models/net/frame_port.h"
#include "models/net/wire.h"

namespace iovsim::net {

// The plumbing every partner shares: ports, transmit direction, receive counters.
class link_partner : public sc_core::sc_module, public frame_if {
public:
    sc_core::sc_export<frame_if> wire_in;  // frames arriving from the NIC
    sc_core::sc_port<frame_if> wire_out;   // frames sent to the NIC

    link_partner(sc_core::sc_module_name name, const wire_params& wire);

    void deliver(const std::vector<std::uint8_t>& frame, tick_t arrival) override;

    std::uint64_t rx_frames() const { return m_rx_frames; }
    std::uint64_t rx_bytes() const { return m_rx_bytes; }
    std::uint64_t rx_fcs_errors() const { return m_rx_fcs_errors; }
    std::uint64_t tx_frames() const { return m_tx_frames; }
    tick_t last_rx_arrival() const { return m_last_rx_arrival; }
    // Lets a held generator begin, no earlier than `at` (no effect when not held or released).
    void release(tick_t at);
    const wire_direction& tx_wire() const { return m_tx; }

protected:
    // A good frame (FCS checked) arrived at `arrival`.
    virtual void on_frame(const std::vector<std::uint8_t>& frame, tick_t arrival);
    // Hands `frame` (FCS included) to the MAC at `ready`; returns the transfer's times.
    wire_transfer transmit(const std::vector<std::uint8_t>& frame, tick_t ready);
    // A generator's first step: `start`, or when held, max(start, the release time) once
    // released.
    tick_t start_time(tick_t start, bool held);

private:
    wire_direction m_tx;
    std::uint64_t m_rx_frames = 0;
    std::uint64_t m_rx_bytes = 0;
    std::uint64_t m_rx_fcs_errors = 0;
    std::uint64_t m_tx_frames = 0;
    tick_t m_last_rx_arrival = 0;
    sc_core::sc_event m_release;
    bool m_released = false;
    tick_t m_release_at = 0;
};

// True if the last 4 bytes are the CRC-32 of the rest.
bool fcs_ok(const std::vector<std::uint8_t>& frame);
// Replaces (or, with `append`, appends) the 4-byte FCS.
void set_fcs(std::vector<std::uint8_t>& frame, bool append = false);

struct echo_peer_params {
    wire_params wire;
    tick_t turnaround = 1 * ticks_per_us;
};

class echo_peer : public link_partner {
public:
    echo_peer(sc_core::sc_module_name name, const echo_peer_params& p = {});

protected:
    void on_frame(const std::vector<std::uint8_t>& frame, tick_t arrival) override;

private:
    echo_peer_params m_p;
};

struct generator_params {
    wire_params wire;
    mac_address dst = mac_address::from_u64(0x020000000001ull);
    // When not empty, the receivers in place of `dst`: `count` frames and `rate_fps` each.
    std::vector<mac_address> receivers;
    mac_address src = mac_address::from_u64(0x0200000000feull);
    std::uint32_t frame_bytes = 64;  // on the wire after the SFD, FCS included: 64..65535
    double rate_fps = 1e6;           // frames per second (> 0)
    std::uint64_t count = 0;         // per receiver
    tick_t start = 0;
    std::uint64_t seed = 1;  // poisson_generator only
    bool held = false;       // sends nothing until release()

    // `receivers`, or `dst` alone.
    std::vector<mac_address> destinations() const {
        return receivers.empty() ? std::vector<mac_address>{dst} : receivers;
    }
    // Frames in all: `count` to each destination.
    std::uint64_t total() const { return count * destinations().size(); }
};

// The frame a generator sends as its `seq`-th (counted over all receivers) to `to` (default:
// p.dst): `frame_bytes` long, FCS included.
std::vector<std::uint8_t> generated_frame(const generator_params& p, std::uint64_t seq);
std::vector<std::uint8_t> generated_frame(const generator_params& p, std::uint64_t seq,
                                          mac_address to);

// Throws std::invalid_argument for frame_bytes outside 64..65535 or rate_fps <= 0.
class constant_rate_generator : public link_partner {
public:
    SC_HAS_PROCESS(constant_rate_generator);
    constant_rate_generator(sc_core::sc_module_name name, const generator_params& p);

private:
    void run();
    generator_params m_p;
};

class poisson_generator : public link_partner {
public:
    SC_HAS_PROCESS(poisson_generator);
    poisson_generator(sc_core::sc_module_name name, const generator_params& p);

private:
    void run();
    generator_params m_p;
    std::mt19937_64 m_rng;
    std::mt19937_64 m_pick;  // which receiver (several receivers only)
};

struct pcap_replay_params {
    wire_params wire;
    std::string path;
    tick_t start = 0;
    // When not empty, every frame's destination MAC is rewritten, before its FCS is computed:
    // to dst[i % dst.size()] for the i-th frame sent (replaying a capture toward its receivers in
    // turn).
    std::vector<mac_address> dst;
    bool held = false;  // sends nothing until release()
};

// Reads the file at construction (std::runtime_error from read_pcap for a bad file). Records
// shorter than an Ethernet header are skipped and counted.
class pcap_replay : public link_partner {
public:
    SC_HAS_PROCESS(pcap_replay);
    pcap_replay(sc_core::sc_module_name name, const pcap_replay_params& p);
    std::uint64_t skipped() const { return m_skipped; }
    // The frames it will send: records long enough to hold an Ethernet header.
    std::uint64_t frames() const;

private:
    void run();
    pcap_replay_params m_p;
    pcap_file m_file;
    std::uint64_t m_skipped = 0;
};

}  // namespace iovsim::net
