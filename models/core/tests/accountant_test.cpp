#include "models/core/accountant.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/core/stats.h"

namespace iovsim::core {
namespace {

constexpr tick_t ns = ticks_per_ns;

tick_t sum_of_stages(const packet_record& r) {
    return std::accumulate(r.stage_ticks.begin(), r.stage_ticks.end(), tick_t{0});
}

TEST(stage, names_in_order) {
    const std::vector<std::string> expected = {"guest",  "exit",       "kvm",  "vmm",
                                               "vhost",  "host_stack", "pcie", "iommu",
                                               "memory", "nic",        "wire", "peer"};
    ASSERT_EQ(stage_count, expected.size());
    for (std::size_t i = 0; i < stage_count; ++i) {
        EXPECT_EQ(to_string(static_cast<stage>(i)), expected[i]) << i;
    }
}

TEST(trace_context, defaults_to_no_packet) {
    const trace_context c;
    EXPECT_EQ(c.packet_id, no_packet);
    EXPECT_EQ(c.packet_id, 0u);
    EXPECT_EQ(c.current, stage::guest);
}

TEST(accountant, ids_start_at_one) {
    accountant a;
    EXPECT_EQ(a.begin(0, stage::guest), 1u);
    EXPECT_EQ(a.begin(0, stage::guest), 2u);
    EXPECT_EQ(a.begin(5, stage::nic), 3u);
    EXPECT_EQ(a.in_flight(), 3u);
}

TEST(accountant, charges_each_stage_the_time_it_held_the_packet) {
    accountant a(0, true);
    // guest 100..350 ns, exit 350..700, kvm 700..1000: 250 + 350 + 300 = 900 = 1000 - 100.
    const auto id = a.begin(100 * ns, stage::guest);
    EXPECT_EQ(a.current_stage(id), stage::guest);
    a.hand_off(id, 350 * ns, stage::exit);
    EXPECT_EQ(a.current_stage(id), stage::exit);
    a.hand_off(id, 700 * ns, stage::kvm);
    a.end(id, 1000 * ns);

    EXPECT_EQ(a.in_flight(), 0u);
    EXPECT_FALSE(a.is_in_flight(id));
    ASSERT_EQ(a.records().size(), 1u);
    const packet_record& r = a.records()[0];
    EXPECT_EQ(r.id, id);
    EXPECT_EQ(r.begin, 100 * ns);
    EXPECT_EQ(r.end, 1000 * ns);
    EXPECT_EQ(r.round_trip(), 900 * ns);
    EXPECT_EQ(r.ticks(stage::guest), 250 * ns);
    EXPECT_EQ(r.ticks(stage::exit), 350 * ns);
    EXPECT_EQ(r.ticks(stage::kvm), 300 * ns);
    EXPECT_EQ(r.ticks(stage::nic), 0u);
    EXPECT_EQ(sum_of_stages(r), r.round_trip());
    EXPECT_FALSE(r.warmup);
}

TEST(accountant, a_stage_held_twice_accumulates) {
    accountant a(0, true);
    // pcie 0..7 ps, memory 7..20, pcie 20..33, nic 33..40: pcie 7 + 13 = 20, memory 13, nic 7.
    const auto id = a.begin(0, stage::pcie);
    a.hand_off(id, 7, stage::memory);
    a.hand_off(id, 20, stage::pcie);
    a.hand_off(id, 33, stage::nic);
    a.hand_off(id, 33, stage::nic);  // zero-length hand-off to itself: allowed, charges 0
    a.end(id, 40);
    const packet_record& r = a.records().at(0);
    EXPECT_EQ(r.ticks(stage::pcie), 20u);
    EXPECT_EQ(r.ticks(stage::memory), 13u);
    EXPECT_EQ(r.ticks(stage::nic), 7u);
    EXPECT_EQ(sum_of_stages(r), 40u);
}

TEST(accountant, packets_are_accounted_independently) {
    accountant a(0, true);
    // p1: guest 0..10, wire 10..30 (rtt 30). p2: nic 5..25, peer 25..26 (rtt 21).
    const auto p1 = a.begin(0, stage::guest);
    const auto p2 = a.begin(5, stage::nic);
    a.hand_off(p1, 10, stage::wire);
    a.hand_off(p2, 25, stage::peer);
    a.end(p2, 26);
    a.end(p1, 30);
    ASSERT_EQ(a.records().size(), 2u);
    EXPECT_EQ(a.records()[0].id, p2);  // completion order
    EXPECT_EQ(a.records()[0].ticks(stage::nic), 20u);
    EXPECT_EQ(a.records()[0].ticks(stage::peer), 1u);
    EXPECT_EQ(a.records()[1].id, p1);
    EXPECT_EQ(a.records()[1].ticks(stage::guest), 10u);
    EXPECT_EQ(a.records()[1].ticks(stage::wire), 20u);
    EXPECT_EQ(a.stage_total_ticks(stage::nic), 20u);
    EXPECT_EQ(a.stage_total_ticks(stage::wire), 20u);
}

TEST(accountant, hand_off_back_in_time_throws) {
    accountant a;
    const auto id = a.begin(100, stage::guest);
    EXPECT_THROW(a.hand_off(id, 99, stage::exit), std::logic_error);
    a.hand_off(id, 200, stage::exit);
    EXPECT_THROW(a.hand_off(id, 150, stage::kvm), std::logic_error);
    EXPECT_THROW(a.end(id, 199), std::logic_error);
    // The failed calls changed nothing: exit is still current and charged from 200.
    EXPECT_EQ(a.current_stage(id), stage::exit);
    a.end(id, 260);
    EXPECT_EQ(a.stage_total_ticks(stage::guest), 100u);
    EXPECT_EQ(a.stage_total_ticks(stage::exit), 60u);
}

TEST(accountant, unknown_or_finished_packet_throws) {
    accountant a;
    EXPECT_THROW(a.hand_off(no_packet, 0, stage::exit), std::logic_error);
    EXPECT_THROW(a.hand_off(7, 0, stage::exit), std::logic_error);
    EXPECT_THROW(a.end(7, 0), std::logic_error);
    EXPECT_THROW(a.current_stage(7), std::logic_error);
    const auto id = a.begin(0, stage::guest);
    a.end(id, 10);
    EXPECT_THROW(a.hand_off(id, 20, stage::exit), std::logic_error);
    EXPECT_THROW(a.end(id, 20), std::logic_error);
    EXPECT_THROW(a.current_stage(id), std::logic_error);
    EXPECT_EQ(a.completed(), 1u);
}

TEST(accountant, warmup_packets_are_excluded_from_aggregates) {
    accountant a(2);
    std::vector<packet_record> seen;
    a.on_complete([&](const packet_record& r) { seen.push_back(r); });
    // Four packets, each guest for g ns then wire for w ns:
    //   (g, w) = (1000, 1000) (1000, 1000) warm-up; (100, 300) (300, 500) measured.
    const tick_t g[] = {1000, 1000, 100, 300};
    const tick_t w[] = {1000, 1000, 300, 500};
    tick_t t = 0;
    for (int i = 0; i < 4; ++i) {
        const auto id = a.begin(t, stage::guest);
        a.hand_off(id, t + g[i] * ns, stage::wire);
        a.end(id, t + (g[i] + w[i]) * ns);
        t += 10'000 * ns;
    }
    EXPECT_EQ(a.completed(), 4u);
    EXPECT_EQ(a.measured(), 2u);
    EXPECT_EQ(a.warmup(), 2u);
    EXPECT_EQ(a.stage_total_ticks(stage::guest), 400 * ns);  // 100 + 300
    EXPECT_EQ(a.stage_total_ticks(stage::wire), 800 * ns);   // 300 + 500
    EXPECT_DOUBLE_EQ(a.stage_mean_ns(stage::guest), 200.0);  // 400 / 2
    EXPECT_DOUBLE_EQ(a.stage_mean_ns(stage::wire), 400.0);   // 800 / 2
    EXPECT_DOUBLE_EQ(a.stage_mean_ns(stage::kvm), 0.0);
    // Round trips 400 and 800 ns.
    EXPECT_EQ(a.round_trip_ns().count(), 2u);
    EXPECT_DOUBLE_EQ(a.round_trip_ns().min(), 400.0);
    EXPECT_DOUBLE_EQ(a.round_trip_ns().max(), 800.0);
    EXPECT_DOUBLE_EQ(a.round_trip_ns().mean(), 600.0);
    // The callback sees all four, the first two flagged.
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_TRUE(seen[0].warmup);
    EXPECT_TRUE(seen[1].warmup);
    EXPECT_FALSE(seen[2].warmup);
    EXPECT_FALSE(seen[3].warmup);
    EXPECT_EQ(seen[3].round_trip(), 800 * ns);
    EXPECT_EQ(sum_of_stages(seen[3]), seen[3].round_trip());
    // Records are not kept unless asked.
    EXPECT_TRUE(a.records().empty());
}

TEST(accountant, nothing_measured_means_zero_means) {
    accountant a(5);
    const auto id = a.begin(0, stage::guest);
    a.end(id, 10);
    EXPECT_EQ(a.measured(), 0u);
    EXPECT_DOUBLE_EQ(a.stage_mean_ns(stage::guest), 0.0);
    EXPECT_EQ(a.round_trip_ns().count(), 0u);
}

TEST(accountant, in_flight_by_stage_says_where_packets_are) {
    accountant a;
    const auto p1 = a.begin(0, stage::guest);
    const auto p2 = a.begin(0, stage::guest);
    const auto p3 = a.begin(0, stage::guest);
    a.hand_off(p2, 1, stage::iommu);
    a.hand_off(p3, 1, stage::iommu);
    a.end(p1, 2);
    const auto n = a.in_flight_by_stage();
    EXPECT_EQ(n[static_cast<std::size_t>(stage::guest)], 0u);
    EXPECT_EQ(n[static_cast<std::size_t>(stage::iommu)], 2u);
    EXPECT_EQ(std::accumulate(n.begin(), n.end(), std::uint64_t{0}), 2u);
}

TEST(accountant, memory_stays_bounded_without_records) {
    accountant a;
    std::uint64_t calls = 0;
    a.on_complete([&](const packet_record&) { ++calls; });
    for (tick_t i = 0; i < 100'000; ++i) {
        const auto id = a.begin(i * 10, stage::guest);
        a.hand_off(id, i * 10 + 3, stage::nic);
        a.end(id, i * 10 + 5);
    }
    EXPECT_EQ(a.in_flight(), 0u);
    EXPECT_TRUE(a.records().empty());
    EXPECT_EQ(calls, 100'000u);
    EXPECT_EQ(a.stage_total_ticks(stage::guest), 300'000u);  // 3 ps each
    EXPECT_EQ(a.stage_total_ticks(stage::nic), 200'000u);    // 2 ps each
}

TEST(accountant, publish_registers_breakdown_and_latency) {
    accountant a;
    stats_registry r;
    a.publish(r);
    // Published before any packet: formulas read the accountant at dump time.
    // Packet 1: guest 0..200 ns, wire 200..500 (rtt 500). Packet 2: guest 0..400, wire 400..700
    // (rtt 700). Means: guest (200 + 400) / 2 = 300, wire (300 + 300) / 2 = 300.
    const auto p1 = a.begin(0, stage::guest);
    a.hand_off(p1, 200 * ns, stage::wire);
    a.end(p1, 500 * ns);
    const auto p2 = a.begin(1000 * ns, stage::guest);
    a.hand_off(p2, 1400 * ns, stage::wire);
    a.end(p2, 1700 * ns);
    a.begin(2000 * ns, stage::guest);  // still in flight

    const nlohmann::json j = r.to_json();
    EXPECT_DOUBLE_EQ(j["breakdown_ns"]["guest"].get<double>(), 300.0);
    EXPECT_DOUBLE_EQ(j["breakdown_ns"]["wire"].get<double>(), 300.0);
    EXPECT_DOUBLE_EQ(j["breakdown_ns"]["kvm"].get<double>(), 0.0);
    EXPECT_EQ(j["breakdown_ns"].size(), stage_count);
    EXPECT_EQ(j["latency_ns"]["rtt"]["count"], 2);
    EXPECT_DOUBLE_EQ(j["latency_ns"]["rtt"]["p50"].get<double>(), 500.0);  // rank ceil(1.0)
    EXPECT_DOUBLE_EQ(j["latency_ns"]["rtt"]["max"].get<double>(), 700.0);
    EXPECT_DOUBLE_EQ(j["latency_ns"]["rtt"]["mean"].get<double>(), 600.0);
    EXPECT_DOUBLE_EQ(j["packets"]["completed"].get<double>(), 2.0);
    EXPECT_DOUBLE_EQ(j["packets"]["measured"].get<double>(), 2.0);
    EXPECT_DOUBLE_EQ(j["packets"]["in_flight"].get<double>(), 1.0);
}

TEST(accountant, publish_under_a_prefix_with_nothing_measured) {
    accountant a;
    stats_registry r;
    a.publish(r, "vm0");
    EXPECT_TRUE(r.contains("vm0.breakdown_ns.host_stack"));
    EXPECT_TRUE(r.contains("vm0.latency_ns.rtt"));
    const nlohmann::json j = r.to_json();
    EXPECT_TRUE(j["vm0"]["breakdown_ns"]["guest"].is_null());
    EXPECT_EQ(j["vm0"]["latency_ns"]["rtt"]["count"], 0);
    // Publishing twice under the same prefix is a duplicate registration.
    EXPECT_THROW(a.publish(r, "vm0"), std::logic_error);
}

}  // namespace
}  // namespace iovsim::core

namespace iovsim::core {
namespace {

// Two sources sharing one accountant, each with its own warm-up: the caller says which packets
// are warm-up, whatever their completion order.
TEST(accountant, caller_decides_warmup_when_told) {
    accountant acc(1);  // would skip the first completion only
    for (std::uint64_t i = 0; i < 4; ++i) {
        const std::uint64_t id = acc.begin(i * 100, stage::guest);
        acc.end(id, i * 100 + 10, /*warmup=*/i < 2);  // the first two are warm-up
    }
    EXPECT_EQ(acc.completed(), 4u);
    EXPECT_EQ(acc.measured(), 2u);
    EXPECT_EQ(acc.stage_total_ticks(stage::guest), 20u);
}

}  // namespace
}  // namespace iovsim::core
