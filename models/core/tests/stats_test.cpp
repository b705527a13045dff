#include "models/core/stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

namespace iovsim::core {
namespace {

TEST(counter, counts_increments) {
    counter c;
    EXPECT_EQ(c.value(), 0u);
    c.inc();
    c.inc(41);
    EXPECT_EQ(c.value(), 42u);
    c.reset();
    EXPECT_EQ(c.value(), 0u);
}

// 1..1000 presented in a shuffled order.
histogram one_to_thousand() {
    std::vector<double> v(1000);
    std::iota(v.begin(), v.end(), 1.0);
    std::shuffle(v.begin(), v.end(), std::mt19937(7));
    histogram h;
    for (double x : v) h.sample(x);
    return h;
}

TEST(histogram, nearest_rank_percentiles_of_one_to_thousand) {
    const histogram h = one_to_thousand();
    // Rank ceil(q * 1000) of 1..1000 is the value itself.
    EXPECT_EQ(h.count(), 1000u);
    EXPECT_DOUBLE_EQ(h.percentile(0.5), 500.0);    // ceil(500.0)
    EXPECT_DOUBLE_EQ(h.percentile(0.9), 900.0);    // ceil(900.0)
    EXPECT_DOUBLE_EQ(h.percentile(0.99), 990.0);   // ceil(990.0)
    EXPECT_DOUBLE_EQ(h.percentile(0.999), 999.0);  // ceil(999.0), not 1000 by rounding
    EXPECT_DOUBLE_EQ(h.percentile(1.0), 1000.0);
    EXPECT_DOUBLE_EQ(h.percentile(0.0), 1.0);  // rank clamps to 1
    EXPECT_DOUBLE_EQ(h.min(), 1.0);
    EXPECT_DOUBLE_EQ(h.max(), 1000.0);
    EXPECT_DOUBLE_EQ(h.sum(), 500500.0);  // 1000 * 1001 / 2
    EXPECT_DOUBLE_EQ(h.mean(), 500.5);    // 500500 / 1000
}

TEST(histogram, nearest_rank_of_a_small_set) {
    // The classic nearest-rank example: 15 20 35 40 50 (N = 5), sampled out of order.
    histogram h;
    for (double x : {40.0, 15.0, 50.0, 35.0, 20.0}) h.sample(x);
    EXPECT_DOUBLE_EQ(h.percentile(0.05), 15.0);  // ceil(0.25) = 1
    EXPECT_DOUBLE_EQ(h.percentile(0.30), 20.0);  // ceil(1.5) = 2
    EXPECT_DOUBLE_EQ(h.percentile(0.40), 20.0);  // ceil(2.0) = 2: 2 of 5 samples <= 20
    EXPECT_DOUBLE_EQ(h.percentile(0.50), 35.0);  // ceil(2.5) = 3
    EXPECT_DOUBLE_EQ(h.percentile(0.90), 50.0);  // ceil(4.5) = 5
    EXPECT_DOUBLE_EQ(h.mean(), 32.0);            // 160 / 5
}

TEST(histogram, merge_is_the_union_of_the_samples) {
    // {40, 15, 50} and {35, 20}: the five values of the test above, in two receivers.
    histogram a, b;
    for (double x : {40.0, 15.0, 50.0}) a.sample(x);
    for (double x : {35.0, 20.0}) b.sample(x);
    a.merge(b);
    EXPECT_EQ(a.count(), 5u);
    EXPECT_DOUBLE_EQ(a.percentile(0.50), 35.0);  // 15 20 35 40 50: rank 3
    EXPECT_DOUBLE_EQ(a.mean(), 32.0);            // 160 / 5
    EXPECT_EQ(b.count(), 2u);                    // the other is left as it was
}

TEST(histogram, percentiles_of_ten_samples) {
    histogram h;
    for (int i = 10; i >= 1; --i) h.sample(i);
    EXPECT_DOUBLE_EQ(h.percentile(0.5), 5.0);     // ceil(5.0) = 5
    EXPECT_DOUBLE_EQ(h.percentile(0.9), 9.0);     // ceil(9.0) = 9
    EXPECT_DOUBLE_EQ(h.percentile(0.99), 10.0);   // ceil(9.9) = 10
    EXPECT_DOUBLE_EQ(h.percentile(0.999), 10.0);  // ceil(9.99) = 10
}

TEST(histogram, samples_after_a_query_are_counted) {
    histogram h;
    h.sample(3);
    h.sample(1);
    EXPECT_DOUBLE_EQ(h.max(), 3.0);
    h.sample(2);
    h.sample(0.5);
    EXPECT_DOUBLE_EQ(h.min(), 0.5);
    EXPECT_DOUBLE_EQ(h.percentile(0.5), 1.0);  // 0.5 1 2 3: rank ceil(2.0) = 2
    h.reset();
    EXPECT_EQ(h.count(), 0u);
    EXPECT_DOUBLE_EQ(h.sum(), 0.0);
}

TEST(histogram, empty_reports_zero_and_json_nulls) {
    histogram h;
    EXPECT_DOUBLE_EQ(h.mean(), 0.0);
    EXPECT_DOUBLE_EQ(h.min(), 0.0);
    EXPECT_DOUBLE_EQ(h.max(), 0.0);
    EXPECT_DOUBLE_EQ(h.percentile(0.5), 0.0);
    const nlohmann::json j = h.to_json();
    EXPECT_EQ(j["count"], 0);
    for (const char* k : {"mean", "min", "p50", "p90", "p99", "p999", "max"}) {
        EXPECT_TRUE(j.at(k).is_null()) << k;
    }
}

TEST(histogram, json_fields) {
    const nlohmann::json j = one_to_thousand().to_json();
    EXPECT_EQ(j["count"], 1000);
    EXPECT_DOUBLE_EQ(j["mean"].get<double>(), 500.5);
    EXPECT_DOUBLE_EQ(j["min"].get<double>(), 1.0);
    EXPECT_DOUBLE_EQ(j["p50"].get<double>(), 500.0);
    EXPECT_DOUBLE_EQ(j["p90"].get<double>(), 900.0);
    EXPECT_DOUBLE_EQ(j["p99"].get<double>(), 990.0);
    EXPECT_DOUBLE_EQ(j["p999"].get<double>(), 999.0);
    EXPECT_DOUBLE_EQ(j["max"].get<double>(), 1000.0);
    EXPECT_EQ(j.size(), 8u);
}

TEST(histogram, rejects_bad_percentile_and_nan_sample) {
    histogram h;
    h.sample(1);
    EXPECT_THROW(h.percentile(-0.01), std::invalid_argument);
    EXPECT_THROW(h.percentile(1.01), std::invalid_argument);
    EXPECT_THROW(h.percentile(std::nan("")), std::invalid_argument);
    EXPECT_THROW(h.sample(std::nan("")), std::invalid_argument);
    EXPECT_EQ(h.count(), 1u);
}

TEST(stats_registry, writes_nested_objects) {
    stats_registry r;
    counter& hits = r.add_counter("iommu.iotlb.hits", "lookups", "IOTLB lookups that hit.");
    counter& lookups = r.add_counter("iommu.iotlb.lookups", "lookups", "IOTLB lookups.");
    histogram& rtt = r.add_histogram("latency_ns.rtt", "ns", "Round trip of each packet.");
    r.add_formula("iommu.iotlb.hit_rate", "ratio", "Hits per lookup.", [&] {
        return static_cast<double>(hits.value()) / static_cast<double>(lookups.value());
    });
    r.add_value("sim.version", "", "Simulator version.", "0.1.0");
    r.add_value("sim.host.wall_s", "s", "Wall-clock time of the run.", 1.25);

    hits.inc(3);
    lookups.inc(4);
    rtt.sample(10);
    rtt.sample(30);

    const nlohmann::json j = r.to_json();
    EXPECT_EQ(j["iommu"]["iotlb"]["hits"], 3);
    EXPECT_EQ(j["iommu"]["iotlb"]["lookups"], 4);
    EXPECT_DOUBLE_EQ(j["iommu"]["iotlb"]["hit_rate"].get<double>(), 0.75);  // 3 / 4
    EXPECT_EQ(j["latency_ns"]["rtt"]["count"], 2);
    EXPECT_DOUBLE_EQ(j["latency_ns"]["rtt"]["mean"].get<double>(), 20.0);  // (10 + 30) / 2
    EXPECT_DOUBLE_EQ(j["latency_ns"]["rtt"]["p50"].get<double>(), 10.0);   // rank ceil(1.0)
    EXPECT_EQ(j["sim"]["version"], "0.1.0");
    EXPECT_DOUBLE_EQ(j["sim"]["host"]["wall_s"].get<double>(), 1.25);
    EXPECT_EQ(j.size(), 3u);  // iommu, latency_ns, sim
    EXPECT_EQ(r.size(), 6u);
    EXPECT_TRUE(r.contains("iommu.iotlb.hits"));
    EXPECT_FALSE(r.contains("iommu.iotlb"));
}

TEST(stats_registry, formulas_are_evaluated_at_dump_time) {
    stats_registry r;
    double x = 1.0;
    r.add_formula("f", "", "A formula.", [&] { return x; });
    EXPECT_DOUBLE_EQ(r.to_json()["f"].get<double>(), 1.0);
    x = 2.0;
    EXPECT_DOUBLE_EQ(r.to_json()["f"].get<double>(), 2.0);
}

TEST(stats_registry, division_by_zero_is_null) {
    stats_registry r;
    counter& hits = r.add_counter("hits", "lookups", "Hits.");
    counter& lookups = r.add_counter("lookups", "lookups", "Lookups.");
    r.add_formula("hit_rate", "ratio", "Hits per lookup.", [&] {
        return static_cast<double>(hits.value()) / static_cast<double>(lookups.value());
    });
    r.add_formula("inf", "ratio", "One over zero.",
                  [&] { return 1.0 / static_cast<double>(lookups.value()); });
    r.add_value("nan_value", "", "Not a number.", std::nan(""));
    const nlohmann::json j = r.to_json();
    EXPECT_TRUE(j["hit_rate"].is_null());  // 0 / 0
    EXPECT_TRUE(j["inf"].is_null());       // 1 / 0
    EXPECT_TRUE(j["nan_value"].is_null());
}

TEST(stats_registry, model_owned_counter_and_histogram) {
    counter c;
    histogram h;
    stats_registry r;
    r.add_counter("m.c", "events", "A model's counter.", c);
    r.add_histogram("m.h", "ns", "A model's histogram.", h);
    c.inc(5);
    h.sample(7);
    const nlohmann::json j = r.to_json();
    EXPECT_EQ(j["m"]["c"], 5);
    EXPECT_EQ(j["m"]["h"]["count"], 1);
    EXPECT_DOUBLE_EQ(j["m"]["h"]["max"].get<double>(), 7.0);
}

TEST(stats_registry, set_value) {
    stats_registry r;
    r.add_value("sim.wall_s", "s", "Wall-clock time.", 0.0);
    r.add_value("sim.version", "", "Version.", "0");
    r.set_value("sim.wall_s", 3.5);
    r.set_value("sim.version", "0.1.0");
    const nlohmann::json j = r.to_json();
    EXPECT_DOUBLE_EQ(j["sim"]["wall_s"].get<double>(), 3.5);
    EXPECT_EQ(j["sim"]["version"], "0.1.0");
}

TEST(stats_registry, set_value_of_unknown_or_non_value_throws) {
    stats_registry r;
    r.add_counter("c", "events", "A counter.");
    EXPECT_THROW(r.set_value("missing", 1.0), std::logic_error);
    EXPECT_THROW(r.set_value("c", 1.0), std::logic_error);
    EXPECT_THROW(r.set_value("c", std::string("x")), std::logic_error);
}

TEST(stats_registry, duplicate_name_throws) {
    stats_registry r;
    r.add_counter("a.b", "events", "First.");
    EXPECT_THROW(r.add_counter("a.b", "events", "Again."), std::logic_error);
    EXPECT_THROW(r.add_histogram("a.b", "ns", "Again."), std::logic_error);
    EXPECT_THROW(r.add_formula("a.b", "", "Again.", [] { return 0.0; }), std::logic_error);
    EXPECT_THROW(r.add_value("a.b", "", "Again.", 1.0), std::logic_error);
    EXPECT_EQ(r.size(), 1u);
}

TEST(stats_registry, existing_name_prefix_of_new_name_throws) {
    stats_registry r;
    r.add_counter("a.b", "events", "A leaf.");
    EXPECT_THROW(r.add_counter("a.b.c", "events", "Under a leaf."), std::logic_error);
    EXPECT_THROW(r.add_counter("a.b.c.d", "events", "Deep under a leaf."), std::logic_error);
    // Not dotted prefixes: allowed.
    r.add_counter("a.bc", "events", "A sibling.");
    r.add_counter("a.c", "events", "Another sibling.");
    EXPECT_EQ(r.size(), 3u);
}

TEST(stats_registry, new_name_prefix_of_existing_name_throws) {
    stats_registry r;
    r.add_counter("a.b.c", "events", "A leaf.");
    r.add_counter("a.b-", "events", "Sorts between 'a.b' and 'a.b.c'.");
    EXPECT_THROW(r.add_counter("a.b", "events", "Over a leaf."), std::logic_error);
    EXPECT_THROW(r.add_value("a", "", "Over a leaf.", 1.0), std::logic_error);
    r.add_counter("a.bb", "events", "Not a dotted prefix.");
    EXPECT_EQ(r.size(), 3u);
}

TEST(stats_registry, invalid_names_throw) {
    stats_registry r;
    for (const char* bad : {"", ".", "a.", ".a", "a..b", "a b", "a/b", "a.b$"}) {
        EXPECT_THROW(r.add_counter(bad, "", "Bad."), std::invalid_argument) << bad;
    }
    EXPECT_THROW(r.add_formula("f", "", "Empty.", nullptr), std::invalid_argument);
    EXPECT_EQ(r.size(), 0u);
}

TEST(stats_registry, describe_lists_every_statistic_by_name) {
    stats_registry r;
    r.add_value("sim.version", "", "Simulator version.", "0.1.0");
    r.add_counter("b.count", "packets", "Packets.");
    r.add_histogram("a.rtt", "ns", "Round trips.");
    r.add_formula("b.rate", "ratio", "A rate.", [] { return 1.0; });
    const std::vector<stat_description> d = r.describe();
    ASSERT_EQ(d.size(), 4u);
    EXPECT_EQ(d[0].name, "a.rtt");
    EXPECT_EQ(d[0].kind, stat_kind::histogram);
    EXPECT_EQ(d[0].unit, "ns");
    EXPECT_EQ(d[0].description, "Round trips.");
    EXPECT_EQ(d[1].name, "b.count");
    EXPECT_EQ(d[1].kind, stat_kind::counter);
    EXPECT_EQ(d[2].name, "b.rate");
    EXPECT_EQ(d[2].kind, stat_kind::formula);
    EXPECT_EQ(d[3].name, "sim.version");
    EXPECT_EQ(d[3].kind, stat_kind::value);
    EXPECT_STREQ(to_string(stat_kind::counter), "counter");
    EXPECT_STREQ(to_string(stat_kind::histogram), "histogram");
    EXPECT_STREQ(to_string(stat_kind::formula), "formula");
    EXPECT_STREQ(to_string(stat_kind::value), "value");
}

TEST(stats_registry, write_json_round_trips) {
    stats_registry r;
    r.add_counter("x.y", "events", "A counter.").inc(9);
    r.add_value("sim.version", "", "Version.", "0.1.0");
    const std::string path = ::testing::TempDir() + "stats_registry_write_json.json";
    r.write_json(path);
    std::ifstream in(path);
    const nlohmann::json j = nlohmann::json::parse(in);
    EXPECT_EQ(j, r.to_json());
    EXPECT_EQ(j["x"]["y"], 9);
    std::remove(path.c_str());
}

TEST(stats_registry, write_json_to_unwritable_path_throws) {
    stats_registry r;
    r.add_counter("c", "events", "A counter.");
    EXPECT_THROW(r.write_json("/nonexistent-directory/stats.json"), std::runtime_error);
}

TEST(stats_registry, empty_registry_is_an_empty_object) {
    stats_registry r;
    EXPECT_EQ(r.to_json(), nlohmann::json::object());
}

}  // namespace
}  // namespace iovsim::core
