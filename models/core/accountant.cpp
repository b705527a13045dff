#include "models/core/accountant.h"

#include <limits>
#include <stdexcept>

namespace iovsim::core {

accountant::accountant(std::uint64_t warmup, bool keep_records)
    : m_warmup(warmup), m_keep_records(keep_records) {}

std::uint64_t accountant::begin(tick_t now, stage first) {
    const std::uint64_t id = m_next_id++;
    m_in_flight.emplace(id, open_packet{now, now, first, {}});
    return id;
}

accountant::open_packet& accountant::find(std::uint64_t id, const char* what) {
    auto it = m_in_flight.find(id);
    if (it == m_in_flight.end()) {
        throw std::logic_error(std::string("accountant: ") + what + " of packet " +
                               std::to_string(id) + ", which is not in flight");
    }
    return it->second;
}

void accountant::charge(open_packet& p, std::uint64_t id, tick_t now, const char* what) {
    if (now < p.last) {
        throw std::logic_error(std::string("accountant: ") + what + " of packet " +
                               std::to_string(id) + " at " + std::to_string(now) +
                               " ps, before its previous hand-off at " + std::to_string(p.last) +
                               " ps");
    }
    p.stage_ticks[static_cast<std::size_t>(p.current)] += now - p.last;
    p.last = now;
}

void accountant::hand_off(std::uint64_t id, tick_t now, stage next) {
    open_packet& p = find(id, "hand-off");
    charge(p, id, now, "hand-off");
    p.current = next;
}

void accountant::end(std::uint64_t id, tick_t now, std::optional<bool> warmup) {
    open_packet& p = find(id, "end");
    charge(p, id, now, "end");

    packet_record r;
    r.id = id;
    r.begin = p.begin;
    r.end = now;
    r.stage_ticks = p.stage_ticks;
    r.warmup = warmup.value_or(m_completed < m_warmup);
    m_in_flight.erase(id);

    ++m_completed;
    if (!r.warmup) {
        ++m_measured;
        for (std::size_t s = 0; s < stage_count; ++s) m_stage_total[s] += r.stage_ticks[s];
        m_round_trip_ns.sample(ticks_to_ns(r.round_trip()));
    }
    if (m_on_complete) m_on_complete(r);
    if (m_keep_records) m_records.push_back(r);
}

stage accountant::current_stage(std::uint64_t id) const {
    auto it = m_in_flight.find(id);
    if (it == m_in_flight.end()) {
        throw std::logic_error("accountant: packet " + std::to_string(id) + " is not in flight");
    }
    return it->second.current;
}

std::array<std::uint64_t, stage_count> accountant::in_flight_by_stage() const {
    std::array<std::uint64_t, stage_count> n{};
    for (const auto& [id, p] : m_in_flight) ++n[static_cast<std::size_t>(p.current)];
    return n;
}

double accountant::stage_mean_ns(stage s) const {
    if (m_measured == 0) return 0.0;
    return ticks_to_ns(stage_total_ticks(s)) / static_cast<double>(m_measured);
}

void accountant::publish(stats_registry& registry, const std::string& prefix) const {
    const std::string p = prefix.empty() ? "" : prefix + ".";
    for (std::size_t i = 0; i < stage_count; ++i) {
        const auto s = static_cast<stage>(i);
        registry.add_formula(p + "breakdown_ns." + to_string(s), "ns",
                             std::string("mean time per measured round trip in ") + describe(s),
                             [this, s] {
                                 return m_measured == 0 ? std::numeric_limits<double>::quiet_NaN()
                                                        : stage_mean_ns(s);
                             });
    }
    registry.add_histogram(p + "latency_ns.rtt", "ns",
                           "Round trip of each measured packet, from begin to end.",
                           m_round_trip_ns);
    registry.add_formula(p + "packets.completed", "packets",
                         "Packets completed, warm-up packets included.",
                         [this] { return static_cast<double>(m_completed); });
    registry.add_formula(p + "packets.measured", "packets",
                         "Packets completed after the warm-up, counted in the breakdown.",
                         [this] { return static_cast<double>(m_measured); });
    registry.add_formula(p + "packets.in_flight", "packets",
                         "Packets begun but not completed when the statistics were dumped.",
                         [this] { return static_cast<double>(m_in_flight.size()); });
}

}  // namespace iovsim::core
