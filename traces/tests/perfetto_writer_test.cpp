#include "traces/perfetto_writer.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace iovsim::traces {
namespace {

using json = nlohmann::json;

json to_json(const trace_buffer& b, const perfetto_options& o = {}) {
    std::ostringstream out;
    write_perfetto(b, out, o);
    return json::parse(out.str());  // throws if not valid JSON
}

// Non-metadata events of a given phase.
std::vector<json> phase(const json& doc, const std::string& ph) {
    std::vector<json> out;
    for (const auto& e : doc.at("traceEvents")) {
        if (e.at("ph") == ph) out.push_back(e);
    }
    return out;
}

// pid -> the name its process_name metadata gives it.
std::map<int, std::string> process_names(const json& doc) {
    std::map<int, std::string> names;
    for (const auto& e : phase(doc, "M")) {
        if (e.at("name") == "process_name") names[e.at("pid")] = e.at("args").at("name");
    }
    return names;
}

// The structural rules every file must keep: metadata names each pid's process and thread;
// every "b" has a later-or-equal "e" with the same pid, cat and id; ts never decreases per pid.
void expect_well_formed(const json& doc) {
    ASSERT_EQ(doc.at("displayTimeUnit"), "ns");
    std::map<int, int> named_threads;
    const auto procs = process_names(doc);
    for (const auto& e : phase(doc, "M")) {
        if (e.at("name") == "thread_name") ++named_threads[e.at("pid")];
    }
    std::map<std::tuple<int, std::string, std::uint64_t>, std::vector<double>> open;
    std::map<int, double> last_ts;
    for (const auto& e : doc.at("traceEvents")) {
        if (e.at("ph") == "M") continue;
        const int pid = e.at("pid");
        EXPECT_EQ(procs.count(pid), 1u) << "pid " << pid << " has no process_name";
        EXPECT_EQ(named_threads[pid], 1) << "pid " << pid << " has no thread_name";
        const double ts = e.at("ts");
        if (last_ts.count(pid) != 0) {
            EXPECT_GE(ts, last_ts[pid]) << e.dump();
        }
        last_ts[pid] = ts;
        if (e.at("ph") == "b" || e.at("ph") == "e") {
            const auto key = std::make_tuple(pid, e.at("cat").get<std::string>(),
                                             e.at("id").get<std::uint64_t>());
            if (e.at("ph") == "b") {
                open[key].push_back(ts);
            } else {
                ASSERT_FALSE(open[key].empty()) << "'e' without a 'b': " << e.dump();
                EXPECT_GE(ts, open[key].back());
                open[key].pop_back();
            }
        }
    }
    for (const auto& [key, stack] : open) {
        EXPECT_TRUE(stack.empty()) << "'b' without an 'e', id " << std::get<2>(key);
    }
}

TEST(perfetto_writer, empty_buffer_is_valid_json) {
    const json doc = to_json(trace_buffer{});
    EXPECT_EQ(doc.at("displayTimeUnit"), "ns");
    EXPECT_TRUE(doc.at("traceEvents").empty());
}

TEST(perfetto_writer, overlapping_packets_are_two_async_spans) {
    trace_buffer b;
    // Two pipelined packets in the root complex's pcie stage, overlapping in 2000..5000 ps.
    b.add_span({"top.rc", "pcie", 2, 2000, 6000});
    b.add_span({"top.rc", "pcie", 1, 1000, 5000});
    b.add_span({"top.iommu", "iommu", 1, 5000, 5500});  // packet 1's next stage
    const json doc = to_json(b);
    expect_well_formed(doc);

    // Tracks in alphabetical order: top.iommu = 1, top.rc = 2.
    const auto procs = process_names(doc);
    ASSERT_EQ(procs.size(), 2u);
    EXPECT_EQ(procs.at(1), "top.iommu");
    EXPECT_EQ(procs.at(2), "top.rc");

    const auto begins = phase(doc, "b");
    const auto ends = phase(doc, "e");
    ASSERT_EQ(begins.size(), 3u);
    ASSERT_EQ(ends.size(), 3u);
    // Sorted by time: b(1)@1000, b(2)@2000, e(1)@5000, b(iommu 1)@5000, e(iommu)@5500, e(2)@6000.
    // ts in µs: 1000 ps = 0.001 µs.
    EXPECT_EQ(begins[0].at("id"), 1u);
    EXPECT_EQ(begins[0].at("cat"), "pcie");
    EXPECT_EQ(begins[0].at("name"), "pcie");
    EXPECT_EQ(begins[0].at("pid"), 2);
    EXPECT_DOUBLE_EQ(begins[0].at("ts").get<double>(), 0.001);
    EXPECT_EQ(begins[1].at("id"), 2u);
    EXPECT_DOUBLE_EQ(begins[1].at("ts").get<double>(), 0.002);
    EXPECT_EQ(ends[0].at("id"), 1u);
    EXPECT_DOUBLE_EQ(ends[0].at("ts").get<double>(), 0.005);
    EXPECT_EQ(begins[2].at("cat"), "iommu");
    EXPECT_EQ(begins[2].at("pid"), 1);
    EXPECT_EQ(ends[2].at("id"), 2u);
    EXPECT_DOUBLE_EQ(ends[2].at("ts").get<double>(), 0.006);

    // The whole event list is in time order.
    double last = 0;
    for (const auto& e : doc.at("traceEvents")) {
        if (e.at("ph") == "M") continue;
        EXPECT_GE(e.at("ts").get<double>(), last);
        last = e.at("ts");
    }
}

TEST(perfetto_writer, timestamps_keep_fractional_nanoseconds) {
    trace_buffer b;
    b.add_instant({"t", "tick", 0, 1});             // 1 ps = 0.000001 µs
    b.add_instant({"t", "x", 9, 1234567});          // 1234.567 ns = 1.234567 µs
    b.add_instant({"t", "y", 0, 2 * ticks_per_s});  // 2 s = 2e6 µs
    const json doc = to_json(b);
    expect_well_formed(doc);
    const auto inst = phase(doc, "i");
    ASSERT_EQ(inst.size(), 3u);
    EXPECT_DOUBLE_EQ(inst[0].at("ts").get<double>(), 0.000001);
    EXPECT_DOUBLE_EQ(inst[1].at("ts").get<double>(), 1.234567);
    EXPECT_DOUBLE_EQ(inst[2].at("ts").get<double>(), 2e6);
    EXPECT_EQ(inst[1].at("s"), "t");
    EXPECT_EQ(inst[1].at("args").at("id"), 9u);
    EXPECT_FALSE(inst[0].contains("args"));  // no ID
}

TEST(perfetto_writer, zero_length_span_begins_before_it_ends) {
    trace_buffer b;
    b.add_span({"a", "s", 4, 100, 100});
    const json doc = to_json(b);
    expect_well_formed(doc);
    std::vector<std::string> order;
    for (const auto& e : doc.at("traceEvents")) {
        if (e.at("ph") != "M") order.push_back(e.at("ph"));
    }
    EXPECT_EQ(order, (std::vector<std::string>{"b", "e"}));
}

TEST(perfetto_writer, spans_without_id_get_their_own) {
    trace_buffer b;
    b.add_span({"dma", "MRd 64B", 0, 10, 30});
    b.add_span({"dma", "MRd 64B", 0, 20, 40});  // overlaps the first
    const json doc = to_json(b);
    expect_well_formed(doc);
    const auto begins = phase(doc, "b");
    ASSERT_EQ(begins.size(), 2u);
    EXPECT_EQ(begins[0].at("id"), perfetto_anonymous_span_id);      // 2^48
    EXPECT_EQ(begins[1].at("id"), perfetto_anonymous_span_id + 1);  // 2^48 + 1
}

TEST(perfetto_writer, signals_become_counters_on_their_component) {
    trace_buffer b;
    const auto occ = b.declare_signal("top.vf0.rx_ring", 10);
    const auto st = b.declare_signal("state", 3);
    b.change(3000, occ, 17);
    b.change(1000, occ, 5);
    b.change(2000, st, 4);
    b.add_span({"top.vf0.dma", "nic", 1, 500, 800});
    const json doc = to_json(b);
    expect_well_formed(doc);
    // Components: "state" (no dot), "top.vf0" (rx_ring's scope), "top.vf0.dma": pids 1, 2, 3.
    const auto procs = process_names(doc);
    ASSERT_EQ(procs.size(), 3u);
    EXPECT_EQ(procs.at(1), "state");
    EXPECT_EQ(procs.at(2), "top.vf0");
    EXPECT_EQ(procs.at(3), "top.vf0.dma");
    const auto counters = phase(doc, "C");
    ASSERT_EQ(counters.size(), 3u);
    // Sorted: 1000 rx_ring=5, 2000 state=4, 3000 rx_ring=17.
    EXPECT_EQ(counters[0].at("name"), "rx_ring");
    EXPECT_EQ(counters[0].at("pid"), 2);
    EXPECT_EQ(counters[0].at("args").at("value"), 5u);
    EXPECT_EQ(counters[1].at("name"), "state");
    EXPECT_EQ(counters[1].at("pid"), 1);
    EXPECT_EQ(counters[2].at("args").at("value"), 17u);

    perfetto_options only_state;
    only_state.signals = {"state"};
    const json filtered = to_json(b, only_state);
    expect_well_formed(filtered);
    EXPECT_EQ(phase(filtered, "C").size(), 1u);
    EXPECT_EQ(process_names(filtered).size(), 2u);  // state, top.vf0.dma

    perfetto_options none;
    none.signal_counters = false;
    const json no_counters = to_json(b, none);
    EXPECT_TRUE(phase(no_counters, "C").empty());
    ASSERT_EQ(process_names(no_counters).size(), 1u);
    EXPECT_EQ(process_names(no_counters).at(1), "top.vf0.dma");
}

TEST(perfetto_writer, many_pipelined_packets_stay_well_formed) {
    trace_buffer b;
    // 100 packets, one every 100 ps, each 1000 ps in pcie then 300 ps in memory: ten overlap.
    for (std::uint64_t p = 1; p <= 100; ++p) {
        const tick_t t = p * 100;
        b.add_span({"rc", "pcie", p, t, t + 1000});
        b.add_span({"mem", "memory", p, t + 1000, t + 1300});
        b.add_instant({"rc", "completion", p, t + 1300});
    }
    const json doc = to_json(b);
    expect_well_formed(doc);
    EXPECT_EQ(phase(doc, "b").size(), 200u);
    EXPECT_EQ(phase(doc, "e").size(), 200u);
    EXPECT_EQ(phase(doc, "i").size(), 100u);
}

TEST(perfetto_writer, unwritable_file_throws) {
    EXPECT_THROW(write_perfetto_file(trace_buffer{}, "/nonexistent-iovsim-dir/t.json"),
                 std::runtime_error);
}

}  // namespace
}  // namespace iovsim::traces
