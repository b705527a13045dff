// The wire's link partners (models/net/link_partners.h), wired to each other: a generator's
// frames go to an echo peer, which returns them. Times worked out from wire.h: at 10 Gb/s a byte
// takes 0.8 ns, so a 64 B frame holds the line (64 + 20) × 0.8 = 67.2 ns and its last bit
// leaves 12 × 0.8 = 9.6 ns before that: it arrives 57.6 ns + propagation after it starts.
// (These SystemC tests live in nic_tests because net_tests has no SystemC main.)
#include "models/net/link_partners.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <systemc>
#include <vector>

#include "models/core/sc_glue.h"
#include "models/net/pcap.h"

namespace iovsim::net {
namespace {

constexpr tick_t ns = ticks_per_ns;

struct recorder : sc_core::sc_module, frame_if {
    sc_core::sc_export<frame_if> in{"in"};
    sc_core::sc_port<frame_if> out{"out"};
    std::vector<std::pair<tick_t, std::vector<std::uint8_t>>> frames;
    explicit recorder(const sc_core::sc_module_name& n) : sc_module(n) { in.bind(*this); }
    void deliver(const std::vector<std::uint8_t>& f, tick_t at) override {
        EXPECT_GE(at, now_ticks());  // never in the receiver's past
        frames.emplace_back(at, f);
    }
};

// `p`'s frames go to `rx`, and `rx` sends nothing back.
void connect(link_partner& p, recorder& rx) {
    p.wire_out.bind(rx.in);
    rx.out.bind(p.wire_in);
}

wire_params ten_gig() {
    wire_params w;
    w.line_rate_bps = 10e9;
    w.length_m = 2.0;  // 10 ns
    return w;
}

TEST(link_partners, constant_rate_generator_times_and_echo_turnaround) {
    generator_params g;
    g.wire = ten_gig();
    g.rate_fps = 1e6;  // one frame per microsecond
    g.count = 5;
    g.start = 100 * ns;
    constant_rate_generator gen("gen", g);
    echo_peer_params e;
    e.wire = ten_gig();
    e.turnaround = 500 * ns;
    echo_peer peer("peer", e);
    recorder back("back");
    gen.wire_out.bind(peer.wire_in);
    peer.wire_out.bind(back.in);
    back.out.bind(gen.wire_in);
    sc_core::sc_start();
    EXPECT_EQ(gen.tx_frames(), 5u);
    EXPECT_EQ(peer.rx_frames(), 5u);
    ASSERT_EQ(back.frames.size(), 5u);
    for (unsigned i = 0; i < 5; ++i) {
        // Sent at 100 + 1000 i; at the peer +57.6 + 10 = 67.6; back after 500 + 67.6.
        EXPECT_EQ(back.frames[i].first, (100 + 1000 * i) * ns + 67600 + 500 * ns + 67600) << i;
        const auto& f = back.frames[i].second;
        ASSERT_EQ(f.size(), 64u);
        EXPECT_TRUE(fcs_ok(f));
        // MACs swapped, sequence number i in the payload.
        EXPECT_EQ(mac_address({f[0], f[1], f[2], f[3], f[4], f[5]}), g.src);
        EXPECT_EQ(mac_address({f[6], f[7], f[8], f[9], f[10], f[11]}), g.dst);
        EXPECT_EQ(f[14], i);
    }
}

TEST(link_partners, back_to_back_frames_queue_at_line_rate) {
    generator_params g;
    g.wire = ten_gig();
    g.rate_fps = 1e12;  // far above line rate: frames queue behind each other
    g.count = 3;
    g.frame_bytes = 1518;
    constant_rate_generator gen("gen", g);
    recorder rx("rx");
    connect(gen, rx);
    sc_core::sc_start();
    ASSERT_EQ(rx.frames.size(), 3u);
    // Each holds the line (1518 + 20) × 0.8 = 1230.4 ns: arrivals 1230.4 ns apart.
    EXPECT_EQ(rx.frames[1].first - rx.frames[0].first, 1230400u);
    EXPECT_EQ(rx.frames[2].first - rx.frames[1].first, 1230400u);
}

TEST(link_partners, poisson_generator_is_seeded_and_has_the_right_mean) {
    generator_params g;
    g.wire = ten_gig();
    g.rate_fps = 1e6;  // mean gap 1 us, far above the 67.2 ns a frame holds the line
    g.count = 2000;
    g.seed = 42;
    poisson_generator gen("gen", g);
    recorder rx("rx");
    connect(gen, rx);
    sc_core::sc_start();
    ASSERT_EQ(rx.frames.size(), 2000u);
    // Mean gap over 1999 gaps: 1 us ± 5 % (the standard error is 1/sqrt(1999) ≈ 2.2 %).
    const double mean = ticks_to_ns(rx.frames.back().first - rx.frames.front().first) / 1999.0;
    EXPECT_NEAR(mean, 1000.0, 50.0);
    // The same seed gives the same draws: recompute the first gaps with the same generator.
    std::mt19937_64 rng(42);
    std::exponential_distribution<double> gap(1e6 / 1e12);
    double at = 0;
    for (unsigned i = 1; i < 4; ++i) {
        at += gap(rng);
        EXPECT_EQ(rx.frames[i].first - rx.frames[0].first, static_cast<tick_t>(std::llround(at)));
    }
}

TEST(link_partners, several_receivers_get_count_frames_each_at_the_rate_each) {
    // Constant rate: 2 receivers at 1 M frames/s each: a frame every 500 ns, to A, B, A, ...
    generator_params g;
    g.wire = ten_gig();
    g.rate_fps = 1e6;
    g.count = 3;
    const mac_address a = mac_address::from_u64(0x02000000000aull);
    const mac_address b = mac_address::from_u64(0x02000000000bull);
    g.receivers = {a, b};
    EXPECT_EQ(g.total(), 6u);
    constant_rate_generator gen("gen", g);
    recorder rx("rx");
    connect(gen, rx);
    sc_core::sc_start();
    ASSERT_EQ(rx.frames.size(), 6u);
    for (unsigned i = 0; i < 6; ++i) {
        // Sent at 500 i ns, arriving 67.6 ns later (see the file comment).
        EXPECT_EQ(rx.frames[i].first, 500 * i * ns + 67600) << i;
        EXPECT_EQ(mac_address::at(rx.frames[i].second, 0), i % 2 == 0 ? a : b) << i;
        EXPECT_EQ(rx.frames[i].second[14], i);  // sequence numbers count over all receivers
    }
}

TEST(link_partners, poisson_with_several_receivers_is_one_stream_each) {
    // 3 receivers, 600 frames each at a mean 1 M frames/s each: each receiver gets exactly its
    // 600, and its own gaps average 1 us (a Poisson stream thinned to one receiver keeps its
    // rate): ± 15 % (standard error 1/sqrt(599) ≈ 4 %, the merged-stream ends add a little).
    generator_params g;
    g.wire = ten_gig();
    g.rate_fps = 1e6;
    g.count = 600;
    g.seed = 7;
    for (std::uint64_t m = 1; m <= 3; ++m)
        g.receivers.push_back(mac_address::from_u64(0x020000000100ull + m));
    poisson_generator gen("gen", g);
    recorder rx("rx");
    connect(gen, rx);
    sc_core::sc_start();
    ASSERT_EQ(rx.frames.size(), 1800u);
    for (const mac_address& m : g.receivers) {
        std::vector<tick_t> at;
        for (const auto& [t, f] : rx.frames)
            if (mac_address::at(f, 0) == m) at.push_back(t);
        ASSERT_EQ(at.size(), 600u) << m.to_string();
        const double mean = ticks_to_ns(at.back() - at.front()) / 599.0;
        EXPECT_NEAR(mean, 1000.0, 150.0) << m.to_string();
    }
}

struct releaser : sc_core::sc_module {
    SC_HAS_PROCESS(releaser);
    releaser(const sc_core::sc_module_name& n, link_partner& p, tick_t at)
        : sc_module(n), m_p(p), m_at(at) {
        SC_THREAD(run);
    }
    void run() {
        sc_core::wait(to_sc_time(m_at));
        m_p.release(m_at);
    }
    link_partner& m_p;
    tick_t m_at;
};

TEST(link_partners, a_held_generator_starts_at_its_release) {
    generator_params g;
    g.wire = ten_gig();
    g.rate_fps = 1e6;
    g.count = 2;
    g.start = 100 * ns;
    g.held = true;
    constant_rate_generator gen("gen", g);
    generator_params h = g;  // never released: sends nothing
    constant_rate_generator idle("idle", h);
    releaser r("r", gen, 2000 * ns);
    recorder rx("rx"), rx_idle("rx_idle");
    connect(gen, rx);
    connect(idle, rx_idle);
    sc_core::sc_start();
    ASSERT_EQ(rx.frames.size(), 2u);
    // Start max(100 ns, 2000 ns) = 2000 ns, then 1 us apart; each arrives 67.6 ns after.
    EXPECT_EQ(rx.frames[0].first, 2000 * ns + 67600);
    EXPECT_EQ(rx.frames[1].first, 3000 * ns + 67600);
    EXPECT_TRUE(rx_idle.frames.empty());
    EXPECT_EQ(idle.tx_frames(), 0u);
}

TEST(link_partners, pcap_replay_keeps_spacing_and_bytes) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("iovsim_replay_" + std::to_string(::getpid()) + ".pcap"))
                                 .string();
    generator_params g;
    const auto a = generated_frame(g, 0);
    const auto b = generated_frame(g, 1);
    {
        pcap_writer w(path);
        w.write(5000 * ns, std::vector<std::uint8_t>(a.begin(), a.end() - 4));
        w.write(7000 * ns, std::vector<std::uint8_t>(b.begin(), b.end() - 4));
        w.write(8000 * ns, std::vector<std::uint8_t>(10, 0));  // too short: skipped
    }
    pcap_replay_params p;
    p.wire = ten_gig();
    p.path = path;
    p.start = 1000 * ns;
    pcap_replay rep("rep", p);
    recorder rx("rx");
    connect(rep, rx);
    sc_core::sc_start();
    ASSERT_EQ(rx.frames.size(), 2u);
    EXPECT_EQ(rep.skipped(), 1u);
    EXPECT_EQ(rx.frames[0].second, a);  // the same bytes with a fresh (identical) FCS
    EXPECT_EQ(rx.frames[1].second, b);
    EXPECT_EQ(rx.frames[0].first, 1000 * ns + 67600);
    EXPECT_EQ(rx.frames[1].first, 3000 * ns + 67600);
    std::filesystem::remove(path);
}

// Replaying toward one receiver: the destination MAC is rewritten, the FCS computed over the new
// bytes (so the frame equals the generated one with that destination and a fresh FCS).
TEST(link_partners, pcap_replay_rewrites_the_destination) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("iovsim_replay_dst_" + std::to_string(::getpid()) + ".pcap"))
                                 .string();
    generator_params g;
    const auto a = generated_frame(g, 0);
    {
        pcap_writer w(path);
        w.write(0, std::vector<std::uint8_t>(a.begin(), a.end() - 4));
        w.write(1000 * ns, std::vector<std::uint8_t>(10, 0));  // too short: not a frame
    }
    pcap_replay_params p;
    p.wire = ten_gig();
    p.path = path;
    p.dst = {mac_address::from_u64(0x020000010000ull)};
    pcap_replay rep("rep", p);
    EXPECT_EQ(rep.frames(), 1u);
    recorder rx("rx");
    connect(rep, rx);
    sc_core::sc_start();
    ASSERT_EQ(rx.frames.size(), 1u);
    generator_params to = g;
    to.dst = p.dst.front();
    EXPECT_EQ(rx.frames[0].second, generated_frame(to, 0));
    EXPECT_TRUE(fcs_ok(rx.frames[0].second));
    std::filesystem::remove(path);
}

TEST(link_partners, bad_fcs_is_counted_not_echoed_and_bad_parameters_throw) {
    echo_peer peer("peer");
    recorder rx("rx");
    connect(peer, rx);
    auto f = generated_frame(generator_params{}, 0);
    f[20] ^= 1;
    peer.deliver(f, 0);
    EXPECT_EQ(peer.rx_fcs_errors(), 1u);
    EXPECT_EQ(peer.rx_frames(), 0u);
    EXPECT_TRUE(rx.frames.empty());
    generator_params g;
    g.frame_bytes = 63;
    EXPECT_THROW(constant_rate_generator("g1", g), std::invalid_argument);
    g.frame_bytes = 64;
    g.rate_fps = 0;
    EXPECT_THROW(poisson_generator("g2", g), std::invalid_argument);
}

}  // namespace
}  // namespace iovsim::net
