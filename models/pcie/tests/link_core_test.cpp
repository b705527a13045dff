// Link serializer, DLLP overhead and tag pool; every expected value worked out by hand from the
// parameters in the comment beside it.
#include "models/pcie/link_core.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace iovsim::pcie {
namespace {

using ::testing::HasSubstr;

constexpr std::uint64_t gib4 = std::uint64_t{1} << 32;
constexpr tick_t hop = 100 * ticks_per_ns;  // the default hop latency, 100 ns

link_params gen_x(unsigned gen, unsigned lanes) {
    link_params p;
    p.gen = gen;
    p.lanes = lanes;
    return p;
}

// Parameters with DLLPs switched off, to see serialization alone.
link_params no_dllps() {
    link_params p;
    p.ack_every = 0;
    p.fc_every = 0;
    return p;
}

// --- rates ---

TEST(LinkRate, Gen3x8ByteTime) {
    // 8 bits × 130/128 (128b/130b) / (8 GT/s × 8 lanes) = 8.125 / 64 ns = 0.126953125 ns.
    const double expected_ps = 8.0 * (130.0 / 128.0) / (8.0 * 8.0) * 1000.0;
    EXPECT_DOUBLE_EQ(link_byte_time_ps(gen_x(3, 8)), expected_ps);
    EXPECT_DOUBLE_EQ(expected_ps, 126.953125);  // the arithmetic above, done by hand
}

TEST(LinkRate, Gen1x1ByteTime) {
    // 8 bits × 10/8 (8b/10b) / 2.5 GT/s = 10 bits / 2.5 GT/s = 4 ns.
    EXPECT_DOUBLE_EQ(link_byte_time_ps(gen_x(1, 1)), 4000.0);
}

TEST(LinkRate, OtherGenerations) {
    // Gen2 x4: 10 bits / (5 GT/s × 4) = 0.5 ns.
    EXPECT_DOUBLE_EQ(link_byte_time_ps(gen_x(2, 4)), 500.0);
    // Gen4 x16: 8.125 bits / (16 × 16 GT/s) = 0.03173828125 ns.
    EXPECT_DOUBLE_EQ(link_byte_time_ps(gen_x(4, 16)), 8.125 / 256.0 * 1000.0);
    // Gen5 x2: 8.125 bits / (32 × 2 GT/s) = 0.126953125 ns: same as Gen3 x8.
    EXPECT_DOUBLE_EQ(link_byte_time_ps(gen_x(5, 2)), 126.953125);
}

TEST(LinkRate, BytesPerSecond) {
    // Gen3 x8: 8 GT/s × 8 lanes × 128/130 / 8 bits = 7.8769... GB/s.
    EXPECT_DOUBLE_EQ(link_bytes_per_second(gen_x(3, 8)), 8e9 * 8 * 128.0 / 130.0 / 8);
    // Gen1 x1: 2.5 GT/s × 8/10 / 8 = 250 MB/s.
    EXPECT_DOUBLE_EQ(link_bytes_per_second(gen_x(1, 1)), 250e6);
}

TEST(LinkRate, ExactTicksRoundUp) {
    const link_params p = gen_x(3, 8);
    EXPECT_EQ(link_bytes_to_ticks(p, 0), 0u);
    EXPECT_EQ(link_bytes_to_ticks(p, 128), 16250u);           // 128 × 126.953125 = 16250 exactly
    EXPECT_EQ(link_bytes_to_ticks(p, 280), 35547u);           // 35546.875 → 35547
    EXPECT_EQ(link_bytes_to_ticks(p, 8), 1016u);              // 1015.625 → 1016
    EXPECT_EQ(link_bytes_to_ticks(gen_x(1, 1), 10), 40000u);  // 10 × 4 ns
    // 1 TB at Gen1 x1: 1e12 × 4000 ps, no overflow.
    EXPECT_EQ(link_bytes_to_ticks(gen_x(1, 1), 1'000'000'000'000), 4'000'000'000'000'000u);
}

// --- parameter validation ---

std::string validate_message(const link_params& p) {
    try {
        validate(p);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

TEST(LinkParams, DefaultsAreValid) {
    const link_params p;
    EXPECT_NO_THROW(validate(p));
    EXPECT_EQ(p.gen, 3u);
    EXPECT_EQ(p.lanes, 8u);
    EXPECT_EQ(p.mps, 256u);
    EXPECT_EQ(p.mrrs, 512u);
    EXPECT_EQ(p.rcb, 64u);
    EXPECT_FALSE(p.rcb_completions);
}

TEST(LinkParams, EachBadFieldNamesItsKey) {
    link_params p;
    p.gen = 0;
    EXPECT_THAT(validate_message(p), HasSubstr("pcie.gen"));
    p.gen = 6;
    EXPECT_THAT(validate_message(p), HasSubstr("pcie.gen"));
    p = {};
    p.lanes = 3;
    EXPECT_THAT(validate_message(p), HasSubstr("pcie.lanes"));
    p.lanes = 32;
    EXPECT_THAT(validate_message(p), HasSubstr("pcie.lanes"));
    p.lanes = 0;
    EXPECT_THAT(validate_message(p), HasSubstr("pcie.lanes"));
    p = {};
    p.mps = 64;
    EXPECT_THAT(validate_message(p), HasSubstr("pcie.mps"));
    p.mps = 384;
    EXPECT_THAT(validate_message(p), HasSubstr("pcie.mps"));
    p = {};
    p.mrrs = 8192;
    EXPECT_THAT(validate_message(p), HasSubstr("pcie.mrrs"));
    p = {};
    p.rcb = 256;
    EXPECT_THAT(validate_message(p), HasSubstr("pcie.rcb"));
    p = {};
    p.max_tags = 0;
    EXPECT_THAT(validate_message(p), HasSubstr("pcie.max_tags"));
    p.max_tags = 512;  // needs 10-bit tags: Gen4+
    EXPECT_THAT(validate_message(p), HasSubstr("pcie.max_tags"));
    p.gen = 4;
    EXPECT_EQ(validate_message(p), "");
    p.max_tags = 1025;
    EXPECT_THAT(validate_message(p), HasSubstr("pcie.max_tags"));
}

TEST(LinkParams, ConstructorsValidate) {
    link_params p;
    p.rcb = 32;
    EXPECT_THROW(link_direction{p}, std::invalid_argument);
    EXPECT_THROW(link{p}, std::invalid_argument);
}

// --- serializer ---

TEST(LinkDirection, BackToBackQueueing) {
    link_direction d(no_dllps());
    // MWr 64 B at 4 GiB + 0x10: 88 B × 126.953125 ps = 11171.875 → 11172 ps on the wire.
    const tick_t ser = 11172;
    const tick_t first = d.transmit(0, mwr_wire_bytes(gib4 + 0x10, 64), 64);
    EXPECT_EQ(first, ser + hop);
    // Ready at the same time: waits for the first, arrives exactly one serialization later.
    const tick_t second = d.transmit(0, 88, 64);
    EXPECT_EQ(second, first + ser);
    // Ready long after the direction went idle: no queueing.
    const tick_t third = d.transmit(1'000'000, 88, 64);
    EXPECT_EQ(third, 1'000'000 + ser + hop);

    const link_direction_stats s = d.stats();
    EXPECT_EQ(s.tlps, 3u);
    EXPECT_EQ(s.dllps, 0u);
    EXPECT_EQ(s.payload_bytes, 3u * 64);
    EXPECT_EQ(s.wire_bytes, 3u * 88);
    EXPECT_EQ(s.busy_ticks, 3 * ser);
    EXPECT_EQ(d.wait_ticks(), ser);  // only the second waited, for one serialization
}

TEST(LinkDirection, Gen1x1Timing) {
    link_params p = gen_x(1, 1);
    p.hop_latency = 0;
    link_direction d(p);
    // MRd below 4 GiB: 20 B × 4 ns = 80 ns.
    EXPECT_EQ(d.transmit(0, mrd_wire_bytes(0x1000, 64)), 80 * ticks_per_ns);
}

TEST(LinkDirection, EmptyTlpThrows) {
    link_direction d;
    EXPECT_THROW(d.transmit(0, 0), std::invalid_argument);
}

// --- DLLPs on the reverse direction ---

link_params ack_each_tlp() {
    link_params p;
    p.ack_every = 1;
    p.fc_every = 0;
    return p;
}

TEST(LinkDllp, AckDelaysReverseTlpReadyAtSameTime) {
    link l(ack_each_tlp());
    // MRd at 4 GiB: 24 B × 126.953125 = 3046.875 → 3047 ps; arrives at 3047 + 100 ns.
    const tick_t mrd = 3047;
    const tick_t arrival = l.send_down(0, mrd_wire_bytes(gib4, 64));
    EXPECT_EQ(arrival, mrd + hop);
    // The ACK for it is ready upstream at `arrival` and holds upstream for 8 B: 1015.625 → 1016.
    // An upstream TLP ready at the same moment goes after it.
    const tick_t dllp = 1016;
    EXPECT_EQ(l.send_up(arrival, 24), arrival + dllp + mrd + hop);
    // One ready in the middle of the ACK waits for its end too.
    link l2(ack_each_tlp());
    l2.send_down(0, 24);
    EXPECT_EQ(l2.send_up(arrival + 500, 24), arrival + dllp + mrd + hop);
}

TEST(LinkDllp, FutureAckDoesNotDelayEarlierReverseTlp) {
    link l(ack_each_tlp());
    const tick_t mrd = 3047;
    const tick_t arrival = l.send_down(0, 24);  // its ACK is ready upstream at 3047 + 100 ns
    // An upstream TLP ready at 0 goes first, undisturbed by the later ACK.
    EXPECT_EQ(l.send_up(0, 24), mrd + hop);
    l.flush();
    const link_direction_stats up = l.upstream().stats();
    EXPECT_EQ(up.tlps, 1u);
    EXPECT_EQ(up.dllps, 1u);
    EXPECT_EQ(up.wire_bytes, 24u + 8u);
    EXPECT_EQ(up.busy_ticks, mrd + 1016);
    // The ACK was sent at its ready time, so the upstream direction is free 1016 ps after it.
    EXPECT_EQ(l.upstream().free_at(), arrival + 1016);
}

TEST(LinkDllp, CountsPerPolicy) {
    link l;  // ack_every = 4, fc_every = 4
    for (int i = 0; i < 8; ++i) l.send_down(0, 24);
    // 8 TLPs down: 8 / 4 = 2 ACKs + 8 / 4 = 2 UpdateFCs, all upstream.
    const link_direction_stats up = l.upstream().stats();
    EXPECT_EQ(up.dllps, 4u);
    EXPECT_EQ(up.tlps, 0u);
    EXPECT_EQ(up.wire_bytes, 4u * 8);
    EXPECT_EQ(up.busy_ticks, 4u * 1016);  // queued DLLPs count as sent
    EXPECT_EQ(l.downstream().stats().dllps, 0u);
    // 7 more: 15 received, 3 of each.
    for (int i = 0; i < 7; ++i) l.send_down(0, 24);
    EXPECT_EQ(l.upstream().stats().dllps, 6u);
}

TEST(LinkDllp, PendingQueueIsBounded) {
    link_direction d;
    const tick_t ready = 1'000'000;
    for (std::size_t i = 0; i < link_direction::max_pending_dllps; ++i) d.schedule_dllp(ready);
    EXPECT_EQ(d.free_at(), 0u);  // all still waiting
    d.schedule_dllp(ready);      // one past the bound: the oldest goes out at its ready time
    EXPECT_EQ(d.free_at(), ready + 1016);
    EXPECT_EQ(d.stats().dllps, link_direction::max_pending_dllps + 1);
    EXPECT_EQ(d.stats().busy_ticks, (link_direction::max_pending_dllps + 1) * 1016);
}

// --- whole transfers ---

TEST(LinkTransfer, WriteSplitsAtMps) {
    link l(no_dllps());
    // 512 B at 0x1010 (below 4 GiB, DW-aligned): 2 MWr of 256 B, each 8 + 12 + 256 = 276 B,
    // 276 × 126.953125 = 35039.0625 → 35040 ps each, back to back.
    EXPECT_EQ(l.write(direction::downstream, 0, 0x1010, 512), 2 * 35040 + hop);
    const link_direction_stats s = l.downstream().stats();
    EXPECT_EQ(s.tlps, 2u);
    EXPECT_EQ(s.payload_bytes, 512u);
    EXPECT_EQ(s.wire_bytes, 552u);
}

TEST(LinkTransfer, CompletionsFollowRcb) {
    link l(no_dllps());
    // 512 B at 0x1010, RCB 64, MPS 256: CplDs of 48, 256, 208 B → 68, 276, 228 wire bytes:
    // 68 × 126.953125 = 8632.8125 → 8633; 35040; 228 × 126.953125 = 28945.3125 → 28946.
    EXPECT_EQ(l.complete(direction::downstream, 0, 0x1010, 512), 8633 + 35040 + 28946 + hop);
    EXPECT_EQ(l.downstream().stats().tlps, 3u);

    link_params p = no_dllps();
    p.rcb_completions = true;
    link r(p);
    // One per RCB: 0x1010..0x1050 = 48 + 16 B: CplDs of 20 + 48 = 68 and 20 + 16 = 36 B:
    // 8633 + 36 × 126.953125 (= 4570.3125 → 4571).
    EXPECT_EQ(r.complete(direction::upstream, 0, 0x1010, 64), 8633 + 4571 + hop);
}

// --- bandwidth emerges from the timelines ---

TEST(LinkBandwidth, StreamedWritesAtMps256) {
    const link_params p;  // Gen3 x8, MPS 256, ACK and UpdateFC per 4 TLPs
    link l(p);
    // 64 writes of 4096 B above 4 GiB, all ready at 0: 64 × 16 = 1024 MWr of 256 B, each
    // 8 framing + 16 header (4-DW) + 256 = 280 B. Their ACK/UpdateFC DLLPs travel upstream, so
    // the downstream DLLP share is 0: expected = 256 / (256 + 24 + 0) × raw rate.
    constexpr int writes = 64;
    tick_t last = 0;
    for (int i = 0; i < writes; ++i) {
        last = l.write(direction::downstream, 0, gib4 + std::uint64_t(i) * 4096, 4096);
    }
    const double seconds = static_cast<double>(last - hop) / ticks_per_s;
    const double achieved = writes * 4096.0 / seconds;
    const double expected = 256.0 / (256.0 + 24.0 + 0.0) * link_bytes_per_second(p);
    EXPECT_NEAR(achieved / expected, 1.0, 0.001);  // per-TLP rounding is < 1 ps in 35 ns
    // Upstream: 1024 / 4 ACKs + 1024 / 4 UpdateFCs = 512 DLLPs of 8 B.
    l.flush();
    EXPECT_EQ(l.upstream().stats().dllps, 512u);
    EXPECT_EQ(l.upstream().stats().wire_bytes, 512u * 8);
    EXPECT_EQ(l.downstream().stats().payload_bytes, writes * 4096u);
}

TEST(LinkBandwidth, StreamedReadsCarryDllpShare) {
    const link_params p;  // Gen3 x8, MPS 256, MRRS 512, RCB 64
    link l(p);
    // 256 MRd of 512 B above 4 GiB go up (24 B each); the completer answers at once with two
    // CplDs of 256 B (20 + 256 = 276 B each) downstream. Downstream also carries the
    // ACK/UpdateFC DLLPs for the MRds: 256/4 + 256/4 = 128 DLLPs × 8 B = 4 B per MRd.
    // Expected = 512 / (2 × 276 + 4) × raw rate.
    constexpr int reads = 256;
    const tick_t first_arrival = 3047 + hop;  // first MRd: 24 B = 3047 ps, plus the hop
    tick_t last = 0;
    for (int i = 0; i < reads; ++i) {
        const std::uint64_t addr = gib4 + std::uint64_t(i) * 512;
        const tick_t at_completer = l.send_up(0, mrd_wire_bytes(addr, 512));
        last = l.complete(direction::downstream, at_completer, addr, 512);
    }
    // Downstream was busy from the first MRd's arrival to the last CplD's last byte.
    const double seconds = static_cast<double>(last - hop - first_arrival) / ticks_per_s;
    const double achieved = reads * 512.0 / seconds;
    const double expected = 512.0 / (2 * 276.0 + 4.0) * link_bytes_per_second(p);
    EXPECT_NEAR(achieved / expected, 1.0, 0.001);  // per-TLP rounding is < 1 ps in 35 ns
    const link_direction_stats down = l.downstream().stats();
    EXPECT_EQ(down.tlps, 2u * reads);
    EXPECT_EQ(down.dllps, 128u);
    // Upstream: 256 MRds; the 512 CplDs make 512/4 + 512/4 = 256 DLLPs.
    EXPECT_EQ(l.upstream().stats().dllps, 256u);
}

// --- tags ---

TEST(TagPool, ThirdRequestWaitsForFirstCompletion) {
    tag_pool pool(2);
    // Request 1 at 0 takes 300 → done 300; request 2 at 10 takes 500 → done 510.
    EXPECT_EQ(pool.acquire(0), 0u);
    pool.release(300);
    EXPECT_EQ(pool.acquire(10), 10u);
    pool.release(510);
    EXPECT_EQ(pool.in_use(), 2u);
    // Request 3 at 20: both tags taken; the first frees at 300.
    EXPECT_EQ(pool.acquire(20), 300u);
    pool.release(300 + 100);
    EXPECT_EQ(pool.waits(), 1u);
    EXPECT_EQ(pool.wait_ticks(), 280u);  // 300 - 20
    EXPECT_EQ(pool.acquisitions(), 3u);
}

TEST(TagPool, EarliestReleaseWins) {
    tag_pool pool(2);
    pool.acquire(0);
    pool.release(800);
    pool.acquire(0);
    pool.release(400);  // issued second, completes first
    EXPECT_EQ(pool.acquire(50), 400u);
    pool.release(900);
    // Tags: released at 800 and 900. At 1000 both are free: no wait.
    EXPECT_EQ(pool.acquire(1000), 1000u);
    EXPECT_EQ(pool.in_use(), 1u);
}

TEST(TagPool, Misuse) {
    EXPECT_THROW(tag_pool{0}, std::invalid_argument);
    tag_pool pool(1);
    EXPECT_THROW(pool.release(10), std::logic_error);  // nothing acquired
    pool.acquire(0);
    // The only tag is held by a request whose completion time is not known yet.
    EXPECT_THROW(pool.acquire(5), std::logic_error);
    pool.release(100);
    EXPECT_EQ(pool.acquire(5), 100u);
    EXPECT_EQ(pool.acquisitions(), 2u);  // the failed acquire did not count
}

}  // namespace
}  // namespace iovsim::pcie
