// A PCIe link as a plain-C++ core: its parameters, per-direction serializers, data link layer
// ACK/UpdateFC DLLP overhead, and the pool of tags that bounds outstanding non-posted requests.
//
// Models: each direction of a link is one busy-until timeline (models/core/timeline.h). A TLP
// holds its direction for wire_bytes × byte time from max(ready, free) and arrives at the far end
// one hop latency after its last byte left. The byte time follows from the generation and width:
// 8 bits × encoding overhead (10/8 for 8b/10b at Gen1/2, 130/128 for 128b/130b at Gen3..5) /
// (GT/s × lanes). The receiver of every `ack_every`-th TLP sends an ACK DLLP, and of every
// `fc_every`-th an UpdateFC DLLP, 8 B each on the wire, on the OPPOSITE direction, ready when
// the TLP has arrived; DLLPs wait in time order and go out before any TLP that starts later, so
// a DLLP scheduled for the future never delays a TLP that is ready earlier. Bandwidth limits,
// queueing and DLLP overhead therefore emerge from the timelines (DESIGN.md §3).
//
// Leaves out: flow-control credits (receive buffers are assumed never to fill), NAK and replay
// (no bit errors), SKIP ordered sets (4 B per 1538 at Gen3, ~0.26%), link training, power
// states, ECRC and TLP prefixes (see tlp_layout.h), the ACK/FC latency timers (DLLPs are counted
// per TLP, not per time), and arbitration between virtual channels or traffic classes.
//
// Timing assumptions: tick_t is picoseconds; each transmission's duration is rounded up to
// whole picoseconds; hop latency is a single constant per direction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <queue>
#include <vector>

#include "models/core/timeline.h"
#include "models/core/units.h"
#include "models/pcie/tlp_layout.h"

namespace iovsim::pcie {

struct link_params {
    // PCIe generation 1..5: 2.5, 5, 8, 16, 32 GT/s per lane.
    unsigned gen = 3;
    // Link width in lanes: 1, 2, 4, 8 or 16.
    unsigned lanes = 8;
    // Max Payload Size in bytes (power of two, 128..4096): largest MWr or CplD payload.
    std::uint32_t mps = 256;
    // Max Read Request Size in bytes (power of two, 128..4096): largest MRd a requester issues.
    std::uint32_t mrrs = 512;
    // Read Completion Boundary in bytes (64 or 128): where a completer may split read data.
    std::uint32_t rcb = 64;
    // When true, a completer returns one completion per RCB-aligned chunk (as some root complexes
    // do) instead of MPS-sized ones.
    bool rcb_completions = false;
    // Latency through one link hop, per direction, on top of serialization: transmit-side data
    // link and PHY pipeline (LCRC, framing, scrambling, serdes) ~30-40 ns, board propagation
    // ~1-2 ns (10-30 cm at ~6.7 ps/mm), receive-side PHY (CDR, elastic buffer, deskew, block
    // decode) and data link layer (LCRC and sequence check) ~50-60 ns: 100 ns. With the root
    // complex and memory latency (calibrated by the root complex) it makes a Gen3 x8 64 B DMA
    // read round trip come to ~550 ns (DESIGN.md §7).
    tick_t hop_latency = 100 * ticks_per_ns;
    // Tags, i.e. non-posted requests a requester may have outstanding: 32 is the 5-bit Tag field
    // without Extended Tag Field Enable (256 with it, up to 1024 with 10-bit tags at Gen4+). At
    // Gen3 x8 (7.88 GB/s) and ~550 ns round trip, 32 × 512 B reads in flight cover the
    // bandwidth-delay product (~4.3 KB) several times over.
    unsigned max_tags = 32;
    // One ACK DLLP per this many TLPs received (0: ACKs not modelled). The spec's Ack
    // transmission latency limit for Gen3 x8, MPS 256 is 203 symbol times (Base Spec 5.0 Tables
    // 3-7..3-9), ~1.6 KB of link time or ~5.8 back-to-back 280 B TLPs; one ACK per 4 TLPs is
    // within it.
    unsigned ack_every = 4;
    // One UpdateFC DLLP per this many TLPs received (0: not modelled). The UpdateFC guideline
    // (Base Spec 5.0 Tables 2-46..2-48) has the same values as the Ack limit: one per 4 TLPs.
    unsigned fc_every = 4;
};

// Throws std::invalid_argument naming the key (pcie.gen, pcie.lanes, ...) if a field is out of
// range: gen 1..5, lanes 1/2/4/8/16, mps and mrrs powers of two in 128..4096, rcb 64 or 128,
// max_tags 1..256 (1..1024 at Gen4+, 10-bit tags).
void validate(const link_params& p);

// Payload-carrying byte rate of the link after line encoding, in bytes per second:
// GT/s × lanes × (8/10 or 128/130) / 8. Gen3 x8: 7.877 GB/s.
double link_bytes_per_second(const link_params& p);

// Time for one byte on the link in picoseconds (not rounded). Gen3 x8: 126.953125 ps.
double link_byte_time_ps(const link_params& p);

// Exact time for `bytes` on the link, rounded up to whole picoseconds.
tick_t link_bytes_to_ticks(const link_params& p, std::uint64_t bytes);

struct link_direction_stats {
    std::uint64_t tlps = 0;
    std::uint64_t dllps = 0;
    std::uint64_t payload_bytes = 0;  // useful data bytes in TLPs (no DW padding)
    std::uint64_t wire_bytes = 0;     // TLP and DLLP bytes on the wire
    tick_t busy_ticks = 0;            // time the direction was transmitting
};

// One direction of a link: a serializer with a busy-until timeline.
class link_direction {
public:
    // Throws std::invalid_argument if p is invalid (see validate()).
    explicit link_direction(const link_params& p = {});

    // Sends a TLP of `wire_bytes` (carrying `payload_bytes` of data) ready at `ready`; returns
    // when its last byte has arrived at the far end. Throws std::invalid_argument if
    // wire_bytes == 0.
    tick_t transmit(tick_t ready, std::uint32_t wire_bytes, std::uint32_t payload_bytes = 0);

    // Queues one DLLP (ACK or UpdateFC) to be sent at or after `ready`, before any TLP that
    // starts after `ready`. At most max_pending_dllps wait; beyond that the oldest is sent, so a
    // TLP presented later with an earlier ready time may queue behind it.
    void schedule_dllp(tick_t ready);
    static constexpr std::size_t max_pending_dllps = 64;

    // Sends every queued DLLP (call before reading final timelines).
    void flush();

    // Counters; DLLPs still queued are counted as sent.
    link_direction_stats stats() const;
    // When the direction is next free, not counting queued DLLPs.
    tick_t free_at() const { return m_timeline.free_at(); }
    // Queueing delay imposed on TLPs and DLLPs so far.
    tick_t wait_ticks() const { return m_timeline.wait_ticks(); }

private:
    void send_dllps_ready_by(tick_t t);

    tick_t m_hop_latency;
    tick_t m_dllp_ticks;
    link_params m_params;
    timeline m_timeline;
    std::deque<tick_t> m_pending_dllps;  // ready times, ascending
    link_direction_stats m_stats;
};

enum class direction { downstream, upstream };

// A link: two directions, with the receiver of each TLP returning ACK/UpdateFC DLLPs on the
// other. Downstream is root port to device, upstream device to root port.
class link {
public:
    // Throws std::invalid_argument if p is invalid (see validate()).
    explicit link(const link_params& p = {});

    const link_params& params() const { return m_params; }

    // Sends one TLP in direction d; returns when it has arrived at the far end. Schedules the
    // receiver's DLLPs on the other direction.
    tick_t send(direction d, tick_t ready, std::uint32_t wire_bytes,
                std::uint32_t payload_bytes = 0);
    tick_t send_down(tick_t ready, std::uint32_t wire_bytes, std::uint32_t payload_bytes = 0) {
        return send(direction::downstream, ready, wire_bytes, payload_bytes);
    }
    tick_t send_up(tick_t ready, std::uint32_t wire_bytes, std::uint32_t payload_bytes = 0) {
        return send(direction::upstream, ready, wire_bytes, payload_bytes);
    }

    // A posted write of `len` bytes at `addr` in direction d, split at MPS and 4 KiB into MWr
    // TLPs all ready at `ready`; returns when the last has arrived.
    tick_t write(direction d, tick_t ready, std::uint64_t addr, std::uint64_t len);
    // The completions for ONE read request (addr, len) in direction d, split per
    // split_completions() with this link's MPS, RCB and rcb_completions, all ready at `ready`;
    // returns when the last has arrived.
    tick_t complete(direction d, tick_t ready, std::uint64_t addr, std::uint32_t len);

    link_direction& downstream() { return m_dirs[0]; }
    link_direction& upstream() { return m_dirs[1]; }
    const link_direction& downstream() const { return m_dirs[0]; }
    const link_direction& upstream() const { return m_dirs[1]; }

    // Sends every queued DLLP in both directions.
    void flush();

private:
    static int index(direction d) { return d == direction::downstream ? 0 : 1; }

    link_params m_params;
    link_direction m_dirs[2];
    std::uint64_t m_received[2] = {0, 0};  // TLPs received at the far end of each direction
};

// The tags of one requester: at most `tags` non-posted requests outstanding. Made for
// loosely-timed code that knows a request's completion time when it issues it:
//     const tick_t start = pool.acquire(ready);  // waits for a tag if all are taken
//     const tick_t done = ...;                   // request and completions from `start`
//     pool.release(done);
// Release times are kept in a min-heap; a request that finds every tag taken gets the earliest.
// Leaves out: which tag number is used, and requests presented out of time order (a tag released
// by `at` is considered free for every later acquire, whatever its time).
class tag_pool {
public:
    // Throws std::invalid_argument if tags == 0.
    explicit tag_pool(unsigned tags);

    // Takes a tag for a request ready at `at`; returns when it got it: `at` if a tag is free by
    // then, else the earliest release time. Throws std::logic_error if every tag is taken by a
    // request whose release has not been given yet.
    tick_t acquire(tick_t at);
    // Gives back one tag taken by an earlier acquire, free again from `at`. Throws
    // std::logic_error if every acquire has already been released.
    void release(tick_t at);

    unsigned tags() const { return m_tags; }
    // Tags held: acquired and not yet released, or released at a time not yet passed by an
    // acquire.
    unsigned in_use() const { return static_cast<unsigned>(m_releases.size()) + m_unreleased; }
    std::uint64_t acquisitions() const { return m_acquisitions; }
    std::uint64_t waits() const { return m_waits; }     // acquires that found no tag free
    tick_t wait_ticks() const { return m_wait_ticks; }  // total time spent waiting for a tag

private:
    unsigned m_tags;
    unsigned m_unreleased = 0;
    std::priority_queue<tick_t, std::vector<tick_t>, std::greater<tick_t>> m_releases;
    std::uint64_t m_acquisitions = 0;
    std::uint64_t m_waits = 0;
    tick_t m_wait_ticks = 0;
};

}  // namespace iovsim::pcie
