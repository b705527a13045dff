// The packet accountant (DESIGN.md §3, "Packet accounting"): splits every packet's round trip
// among the stages it passes through.
//
// A packet's life is a sequence of stages. begin() opens a record and makes a stage current; at
// every hand_off() the time since the previous hand-off (queueing included) is charged to the
// stage that held the packet, and the next stage becomes current; end() charges the last stage
// and completes the record. Stages never overlap for one packet, so the per-stage ticks sum to
// the round trip (end - begin) exactly: ticks are integers and every tick is charged once.
//
// Broken invariants of the caller are std::logic_error: a hand-off or end earlier than the
// previous hand-off of the same packet (time runs backwards for that packet), or an unknown or
// already finished packet ID. Packet IDs start at 1; 0 (no_packet) means "no packet".
//
// Aggregates skip the first `warmup` completed packets (in completion order): count, per-stage
// total ticks and mean ns per packet, and the round-trip histogram in ns. Memory stays bounded
// for millions of packets: in-flight packets live in a hash map, completed ones are folded into
// the aggregates and dropped unless `keep_records` is set (then every record is retained). An
// optional callback sees every completed record, warm-up ones included (a packets.csv writer).
//
// Leaves out: packets that split or merge (one frame per packet), and any notion of which model
// charged a stage. Time is whatever the caller passes (kernel time plus local offset).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/core/stats.h"
#include "models/core/trace_context.h"
#include "models/core/units.h"

namespace iovsim::core {

struct packet_record {
    std::uint64_t id = no_packet;
    tick_t begin = 0;
    tick_t end = 0;
    std::array<tick_t, stage_count> stage_ticks{};  // indexed by stage
    bool warmup = false;                            // excluded from the aggregates

    tick_t round_trip() const { return end - begin; }
    tick_t ticks(stage s) const { return stage_ticks[static_cast<std::size_t>(s)]; }
};

class accountant {
public:
    using completion_callback = std::function<void(const packet_record&)>;

    explicit accountant(std::uint64_t warmup = 0, bool keep_records = false);

    // Opens a packet held by `first` from `now`; returns its ID (1, 2, 3, ...).
    std::uint64_t begin(tick_t now, stage first);
    // Charges now - last hand-off to the current stage and makes `next` current.
    void hand_off(std::uint64_t id, tick_t now, stage next);
    // Charges the current stage up to `now` and completes the packet. `warmup`, when given,
    // says whether it is a warm-up packet (several sources, each with its own warm-up, sharing
    // one accountant); otherwise the first `warmup` completions are.
    void end(std::uint64_t id, tick_t now, std::optional<bool> warmup = std::nullopt);

    // Called for every completed packet, warm-up ones included.
    void on_complete(completion_callback cb) { m_on_complete = std::move(cb); }

    // In flight.
    std::size_t in_flight() const { return m_in_flight.size(); }
    bool is_in_flight(std::uint64_t id) const { return m_in_flight.count(id) != 0; }
    stage current_stage(std::uint64_t id) const;  // logic_error if not in flight
    // How many in-flight packets each stage holds: where packets are stuck.
    std::array<std::uint64_t, stage_count> in_flight_by_stage() const;

    // Completed.
    std::uint64_t completed() const { return m_completed; }  // warm-up ones included
    std::uint64_t measured() const { return m_measured; }    // counted in the aggregates
    std::uint64_t warmup() const { return m_warmup; }
    tick_t stage_total_ticks(stage s) const { return m_stage_total[static_cast<std::size_t>(s)]; }
    // Mean time per measured packet spent in `s`, ns; 0 when no packet was measured.
    double stage_mean_ns(stage s) const;
    // Round trip of every measured packet, ns.
    const histogram& round_trip_ns() const { return m_round_trip_ns; }
    // Every completed record, in completion order, if keep_records was set (else empty).
    const std::vector<packet_record>& records() const { return m_records; }

    // Registers, under `prefix` ("" or e.g. "vm0", joined with a dot):
    //   breakdown_ns.<stage>  formula, ns per measured packet (null when none was measured)
    //   latency_ns.rtt        histogram of round trips, ns
    //   packets.completed, packets.measured, packets.in_flight   formulas, packets
    // The registry reads this accountant at every dump: it must outlive the dumps.
    void publish(stats_registry& registry, const std::string& prefix = "") const;

private:
    struct open_packet {
        tick_t begin;
        tick_t last;
        stage current;
        std::array<tick_t, stage_count> stage_ticks{};
    };
    open_packet& find(std::uint64_t id, const char* what);
    static void charge(open_packet& p, std::uint64_t id, tick_t now, const char* what);

    std::uint64_t m_warmup;
    bool m_keep_records;
    std::uint64_t m_next_id = 1;
    std::unordered_map<std::uint64_t, open_packet> m_in_flight;
    std::uint64_t m_completed = 0;
    std::uint64_t m_measured = 0;
    std::array<tick_t, stage_count> m_stage_total{};
    histogram m_round_trip_ns;
    std::vector<packet_record> m_records;
    completion_callback m_on_complete;
};

}  // namespace iovsim::core
