#include "models/mem/memory_timing.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace iovsim::mem {
namespace {

constexpr tick_t ns = ticks_per_ns;

// A cache small enough to reason about by hand: 64 B lines, 4 sets x 4 ways = 1 KiB, 2 DDIO
// ways; 2 channels at 128 Gbit/s so a line holds a channel for 512 bit / 128 Gbit/s = 4 ns.
// Set = line index mod 4, channel = line index mod 2: addresses 0, 256, 512, 768, 1024, 1280,
// 1536 (lines 0, 4, 8, ..., 24) all fall in set 0 and on channel 0.
memory_timing_params small_params() {
    memory_timing_params p;
    p.line_size = 64;
    p.llc_size = 4 * 4 * 64;
    p.llc_ways = 4;
    p.ddio_ways = 2;
    p.llc_hit_latency = 20 * ns;
    p.dram_latency = 80 * ns;
    p.channels = 2;
    p.channel_bandwidth = 128e9;
    return p;
}

TEST(memory_timing, default_geometry) {
    const memory_timing t;
    // 32 MiB / (64 B x 16 ways) = 33554432 / 1024 = 32768 sets.
    EXPECT_EQ(t.sets(), 32768u);
    // DDR4-2400 x64: 2400e6 x 8 B = 19.2 GB/s = 153.6 Gbit/s; 512 bit / 153.6e9 = 3333.33 ps,
    // rounded up to 3334 ps.
    EXPECT_EQ(t.line_transfer_ticks(), 3334u);
    EXPECT_EQ(t.params().ddio_ways, 2u);
    EXPECT_EQ(t.params().channels, 4u);
}

TEST(memory_timing, small_geometry_and_mapping) {
    const memory_timing t(small_params());
    EXPECT_EQ(t.sets(), 4u);
    EXPECT_EQ(t.line_transfer_ticks(), 4 * ns);
    EXPECT_EQ(t.set_of(256), 0u);  // line 4
    EXPECT_EQ(t.set_of(320), 1u);  // line 5
    EXPECT_EQ(t.channel_of(0), 0u);
    EXPECT_EQ(t.channel_of(64), 1u);
    EXPECT_EQ(t.channel_of(127), 1u);
    EXPECT_EQ(t.channel_of(128), 0u);
}

TEST(memory_timing, miss_then_hit_latency_equals_parameters) {
    memory_timing t(small_params());
    const auto miss = t.read(1000 * ns, 0, 64, requester::cpu);
    EXPECT_EQ(miss.done, 1000 * ns + 80 * ns);  // dram_latency
    EXPECT_EQ(miss.lines, 1u);
    EXPECT_EQ(miss.llc_misses, 1u);
    EXPECT_EQ(miss.llc_hits, 0u);
    EXPECT_TRUE(t.cached(0));  // a CPU read allocates

    const auto hit = t.read(2000 * ns, 0, 64, requester::device);
    EXPECT_EQ(hit.done, 2000 * ns + 20 * ns);  // llc_hit_latency
    EXPECT_EQ(hit.llc_hits, 1u);
    EXPECT_EQ(hit.llc_misses, 0u);
}

TEST(memory_timing, warm_makes_device_reads_hit_without_cost) {
    memory_timing t(small_params());
    t.warm(0, 128);  // lines 0 and 1
    EXPECT_TRUE(t.cached(0));
    EXPECT_TRUE(t.cached(64));
    EXPECT_FALSE(t.cached(128));
    const auto s0 = t.stats();
    EXPECT_EQ(s0.llc_hits + s0.llc_misses + s0.reads, 0u);
    EXPECT_EQ(s0.channel_busy[0] + s0.channel_busy[1], 0u);

    // 64 B from 32 spans lines 0 and 1, both warm: done after one hit latency.
    const auto r = t.read(500 * ns, 32, 64, requester::device);
    EXPECT_EQ(r.lines, 2u);
    EXPECT_EQ(r.llc_hits, 2u);
    EXPECT_EQ(r.done, 520 * ns);
}

TEST(memory_timing, device_read_miss_does_not_allocate) {
    memory_timing t(small_params());
    EXPECT_EQ(t.read(0, 0, 64, requester::device).done, 80 * ns);
    EXPECT_FALSE(t.cached(0));
    // Still a miss; line 0's channel 0 was held [0, 4 ns), so arriving at 100 ns it is free.
    EXPECT_EQ(t.read(100 * ns, 0, 64, requester::device).done, 180 * ns);
    EXPECT_EQ(t.stats().dram_line_reads, 2u);
}

TEST(memory_timing, lru_replacement_evicts_least_recently_used) {
    memory_timing t(small_params());
    // Fill set 0 with lines at 0, 256, 512, 768, then touch 0 again: 256 is now LRU.
    for (std::uint64_t a : {0, 256, 512, 768}) t.read(0, a, 64, requester::cpu);
    t.read(1000 * ns, 0, 64, requester::cpu);
    t.read(2000 * ns, 1024, 64, requester::cpu);  // fifth line of set 0
    EXPECT_TRUE(t.cached(0));
    EXPECT_FALSE(t.cached(256));
    EXPECT_TRUE(t.cached(512));
    EXPECT_TRUE(t.cached(768));
    EXPECT_TRUE(t.cached(1024));
    // Other sets are untouched by set 0's traffic.
    EXPECT_FALSE(t.cached(64));
}

TEST(memory_timing, ddio_device_writes_stay_in_their_ways) {
    memory_timing t(small_params());
    // CPU lines C0..C3 fill set 0's ways 0..3 in order; re-reading C0 and C1 makes C2 and C3
    // the least recently used lines of the set.
    for (std::uint64_t a : {0, 256, 512, 768}) t.read(0, a, 64, requester::cpu);
    t.read(1000 * ns, 0, 64, requester::cpu);
    t.read(1000 * ns, 256, 64, requester::cpu);

    // Device writes D0, D1, D2 to set 0 may only allocate in ways 0 and 1 (C0, C1):
    // D0 replaces C0 (LRU of the two), D1 replaces C1, D2 replaces D0. C2 and C3, although
    // LRU overall, survive.
    const auto d0 = t.write(2000 * ns, 1024, 64, requester::device);
    EXPECT_EQ(d0.llc_misses, 1u);
    EXPECT_EQ(d0.done, 2020 * ns);  // write allocate: no DRAM read, one hit latency
    t.write(2100 * ns, 1280, 64, requester::device);
    t.write(2200 * ns, 1536, 64, requester::device);
    EXPECT_FALSE(t.cached(0));
    EXPECT_FALSE(t.cached(256));
    EXPECT_TRUE(t.cached(512));
    EXPECT_TRUE(t.cached(768));
    EXPECT_FALSE(t.cached(1024));
    EXPECT_TRUE(t.cached(1280));
    EXPECT_TRUE(t.cached(1536));

    const auto s = t.stats();
    EXPECT_EQ(s.ddio_allocations, 3u);
    // C0 and C1 were clean; D0 was dirty: one write-back.
    EXPECT_EQ(s.dram_line_writes, 1u);
}

TEST(memory_timing, device_write_hit_updates_in_any_way) {
    memory_timing t(small_params());
    for (std::uint64_t a : {0, 256, 512, 768}) t.read(0, a, 64, requester::cpu);
    // 768 sits in way 3, outside the DDIO ways: a device write updates it in place.
    const auto w = t.write(1000 * ns, 768, 64, requester::device);
    EXPECT_EQ(w.llc_hits, 1u);
    EXPECT_EQ(w.done, 1020 * ns);
    EXPECT_EQ(t.stats().ddio_allocations, 0u);
    for (std::uint64_t a : {0, 256, 512, 768}) EXPECT_TRUE(t.cached(a)) << a;
}

TEST(memory_timing, ddio_off_device_writes_go_to_dram) {
    auto p = small_params();
    p.ddio_ways = 0;
    memory_timing t(p);
    t.warm(0, 64);
    const auto w = t.write(100 * ns, 0, 64, requester::device);
    EXPECT_EQ(w.llc_misses, 1u);
    EXPECT_EQ(w.done, 180 * ns);  // one DRAM access: 100 + 80 ns
    EXPECT_FALSE(t.cached(0));    // the cached copy is invalidated
    const auto s = t.stats();
    EXPECT_EQ(s.dram_line_writes, 1u);
    EXPECT_EQ(s.channel_busy[0], 4 * ns);
}

TEST(memory_timing, cpu_write_miss_reads_for_ownership_and_dirty_victim_is_written_back) {
    memory_timing t(small_params());
    const auto w = t.write(0, 0, 8, requester::cpu);
    EXPECT_EQ(w.done, 80 * ns);  // RFO costs a DRAM read
    EXPECT_EQ(t.stats().dram_line_reads, 1u);
    for (std::uint64_t a : {256, 512, 768}) t.read(0, a, 64, requester::cpu);
    // Channel 0 was held for four line fills from 0: free at 4 x 4 = 16 ns.

    // At 1000 ns a fifth line of set 0 evicts dirty line 0: the fill takes channel 0 for
    // [1000, 1004) ns and the write-back [1004, 1008) ns. The fill is not delayed by it...
    const auto r = t.read(1000 * ns, 1024, 64, requester::cpu);
    EXPECT_EQ(r.done, 1080 * ns);
    EXPECT_EQ(t.stats().dram_line_writes, 1u);
    // ...but the next miss on channel 0 (line 20 at 1280) waits for it: slot at 1008 ns.
    const auto r2 = t.read(1000 * ns, 1280, 64, requester::device);
    EXPECT_EQ(r2.done, 1008 * ns + 80 * ns);
}

TEST(memory_timing, back_to_back_misses_on_one_channel_queue) {
    memory_timing t(small_params());
    // Lines 0 and 2 (addresses 0 and 128) both map to channel 0 and arrive together.
    const auto a = t.read(500 * ns, 0, 64, requester::device);
    const auto b = t.read(500 * ns, 128, 64, requester::device);
    EXPECT_EQ(a.done, 580 * ns);
    EXPECT_EQ(b.done, 580 * ns + 4 * ns);  // one line time (4 ns) later
}

TEST(memory_timing, misses_on_different_channels_do_not_queue) {
    memory_timing t(small_params());
    // One 128 B access: line 0 on channel 0, line 1 on channel 1, in parallel.
    const auto r = t.read(500 * ns, 0, 128, requester::device);
    EXPECT_EQ(r.lines, 2u);
    EXPECT_EQ(r.llc_misses, 2u);
    EXPECT_EQ(r.done, 580 * ns);
    // Four lines: two per channel, so the second on each channel starts 4 ns later.
    const auto r4 = t.read(1000 * ns, 1024, 256, requester::device);
    EXPECT_EQ(r4.done, 1084 * ns);
    const auto s = t.stats();
    EXPECT_EQ(s.channel_busy[0], 3 * 4 * ns);
    EXPECT_EQ(s.channel_busy[1], 3 * 4 * ns);
}

TEST(memory_timing, unaligned_access_touches_every_line_it_spans) {
    memory_timing t(small_params());
    EXPECT_EQ(t.read(0, 60, 8, requester::cpu).lines, 2u);    // bytes 60..67: lines 0, 1
    EXPECT_EQ(t.read(0, 64, 64, requester::cpu).lines, 1u);   // exactly line 1
    EXPECT_EQ(t.read(0, 63, 130, requester::cpu).lines, 4u);  // 63..192: lines 0..3
}

TEST(memory_timing, streaming_read_bandwidth_converges_to_all_channels) {
    // Defaults: 4 channels x 19.2 GB/s = 76.8 GB/s; a line holds a channel 3334 ps.
    memory_timing t;
    // 64 MiB of cold device reads, 4 KiB requests offered every 40 ns (102.4 GB/s, more than
    // the channels can take), so every channel is busy from the first request to the last.
    constexpr std::uint64_t total = 64ULL << 20;
    constexpr std::uint64_t request = 4096;
    tick_t last = 0;
    for (std::uint64_t off = 0; off < total; off += request) {
        const tick_t arrival = off / request * 40 * ns;
        last = std::max(last, t.read(arrival, (8ULL << 30) + off, request, requester::device).done);
    }
    // 64 MiB = 1048576 lines, 262144 per channel; the last slot on each channel starts at
    // 262143 x 3334 ps and is done 80 ns later: 873984762 + 80000 = 874064762 ps.
    EXPECT_EQ(last, 874064762u);
    const double bytes_per_s = static_cast<double>(total) / (static_cast<double>(last) * 1e-12);
    EXPECT_NEAR(bytes_per_s, 76.8e9, 0.01 * 76.8e9);
    const auto s = t.stats();
    EXPECT_EQ(s.dram_line_reads, 1048576u);
    for (auto busy : s.channel_busy) EXPECT_EQ(busy, 262144u * 3334u);
}

TEST(memory_timing, stats_count_accesses_and_bytes) {
    memory_timing t(small_params());
    t.read(0, 0, 100, requester::cpu);     // lines 0, 1: misses
    t.write(0, 0, 10, requester::device);  // line 0: hit
    t.read(0, 0, 0, requester::cpu);       // empty: nothing
    auto s = t.stats();
    EXPECT_EQ(s.reads, 1u);
    EXPECT_EQ(s.writes, 1u);
    EXPECT_EQ(s.bytes_read, 100u);
    EXPECT_EQ(s.bytes_written, 10u);
    EXPECT_EQ(s.llc_hits, 1u);
    EXPECT_EQ(s.llc_misses, 2u);
    EXPECT_EQ(s.dram_line_reads, 2u);
    ASSERT_EQ(s.channel_busy.size(), 2u);
    EXPECT_EQ(s.channel_busy[0], 4 * ns);
    EXPECT_EQ(s.channel_busy[1], 4 * ns);

    t.reset_stats();
    s = t.stats();
    EXPECT_EQ(s.reads + s.writes + s.llc_hits + s.llc_misses, 0u);
    EXPECT_EQ(s.channel_busy[0], 0u);
    // The cache and the timelines survive a stats reset: line 0 still hits; a miss on channel
    // 0 at time 0 still queues behind the fill made before the reset ([0, 4) ns).
    EXPECT_EQ(t.read(0, 0, 64, requester::cpu).done, 20 * ns);
    EXPECT_EQ(t.read(0, 128, 64, requester::device).done, 4 * ns + 80 * ns);
}

TEST(memory_timing, empty_access_is_done_at_arrival) {
    memory_timing t(small_params());
    const auto r = t.write(123, 0, 0, requester::device);
    EXPECT_EQ(r.done, 123u);
    EXPECT_EQ(r.lines, 0u);
    EXPECT_EQ(t.stats().writes, 0u);
}

TEST(memory_timing, invalidate_all_empties_the_cache) {
    memory_timing t(small_params());
    t.warm(0, 1024);
    EXPECT_TRUE(t.cached(512));
    t.invalidate_all();
    EXPECT_FALSE(t.cached(512));
    EXPECT_EQ(t.read(0, 512, 64, requester::device).llc_misses, 1u);
}

TEST(memory_timing, invalid_parameters_throw) {
    auto bad = [](auto change) {
        auto p = small_params();
        change(p);
        return p;
    };
    using P = memory_timing_params;
    EXPECT_THROW(memory_timing(bad([](P& p) { p.line_size = 0; })), std::invalid_argument);
    EXPECT_THROW(memory_timing(bad([](P& p) { p.line_size = 48; })), std::invalid_argument);
    EXPECT_THROW(memory_timing(bad([](P& p) { p.llc_ways = 0; })), std::invalid_argument);
    EXPECT_THROW(memory_timing(bad([](P& p) { p.llc_size = 0; })), std::invalid_argument);
    EXPECT_THROW(memory_timing(bad([](P& p) { p.llc_size = 1000; })), std::invalid_argument);
    EXPECT_THROW(memory_timing(bad([](P& p) { p.ddio_ways = 5; })), std::invalid_argument);
    EXPECT_THROW(memory_timing(bad([](P& p) { p.channels = 0; })), std::invalid_argument);
    EXPECT_THROW(memory_timing(bad([](P& p) { p.channel_bandwidth = 0; })), std::invalid_argument);
    // 4 ns line time: a 3 ns DRAM latency cannot contain it.
    EXPECT_THROW(memory_timing(bad([](P& p) { p.dram_latency = 3 * ns; })), std::invalid_argument);
    EXPECT_NO_THROW(memory_timing(bad([](P& p) { p.ddio_ways = 4; })));
}

}  // namespace
}  // namespace iovsim::mem
