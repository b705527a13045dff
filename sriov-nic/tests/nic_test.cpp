// The SystemC NIC driven by a host thread against a fake root complex (nic_harness.h). Times
// are worked out by hand from the NIC's parameters: core clock 500 MHz (2 ns per cycle), so a
// doorbell takes 20 cycles = 40 ns to reach the engine, a switch lookup 10 cycles = 20 ns, one
// request TLP issues per 2 cycles = 4 ns, and read data is usable 30 cycles = 60 ns after its
// completion; the fake root complex answers a read after 500 ns and accepts a write after 200 ns.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "models/core/stats.h"
#include "models/net/link_partners.h"
#include "models/net/pcap.h"
#include "sriov-nic/tests/nic_harness.h"

namespace iovsim::nic::testing {
namespace {

// Builds NIC, fake root complex, host and a wire partner (a sink unless `echo`), runs once.
void simulate(std::function<void(host&)> body, const nic_params& p = {}, bool echo = false,
              std::function<void(nic&)> before = {}, std::function<void(nic&)> after = {}) {
    nic dev("nic", p);
    fake_root_complex rc("rc");
    host h("host", std::move(body));
    h.dev = &dev;
    h.rc = &rc;
    h.out.bind(dev.link_in);
    dev.link_out.bind(rc.socket);
    std::unique_ptr<wire_sink> sink;
    std::unique_ptr<net::echo_peer> peer;
    if (echo) {
        net::echo_peer_params ep;
        ep.wire = p.wire;
        peer = std::make_unique<net::echo_peer>("peer", ep);
        dev.wire_out.bind(peer->wire_in);
        peer->wire_out.bind(dev.wire_in);
    } else {
        sink = std::make_unique<wire_sink>("sink");
        dev.wire_out.bind(sink->in);
        sink->out.bind(dev.wire_in);
    }
    if (before) before(dev);
    sc_core::sc_start();
    EXPECT_TRUE(h.finished);
    if (after) after(dev);
}

TEST(nic, ring_wraps_around_on_tx_and_rx) {
    simulate([](host& h) {
        h.bring_up(2);
        // VF 0 (fn 1) sends to VF 1 (fn 2). TX ring of 8 starting at slot 6; RX ring of 8 with
        // head 5 and buffers at 5, 6, 7, 0 (tail 1).
        h.setup_tx(1, 8, 6);
        h.setup_rx(2, 8, 5, 1);
        const std::uint32_t slots[] = {6, 7, 0, 1};
        for (unsigned k = 0; k < 4; ++k)
            h.post_tx(1, slots[k],
                      make_frame(mac_of(2), mac_of(1), 100, static_cast<std::uint8_t>(k)));
        h.reg_write(1, nic_reg::tdt, 2);  // hands 6, 7, 0, 1 to the NIC
        h.wait_ns(20000);
        EXPECT_EQ(h.reg(1, nic_reg::tdh), 2u);
        for (unsigned s : slots) EXPECT_TRUE(h.tx_desc(1, s).status & desc_status::dd) << s;
        // The prefetch never reads across the ring's end: 2 descriptors (32 B) at slot 6, then
        // 2 at slot 0.
        std::vector<std::pair<std::uint64_t, std::uint32_t>> desc_reads;
        for (const auto& r : h.rc->dma)
            if (!r.write && r.addr >= tx_ring(1) && r.addr < tx_ring(1) + 128)
                desc_reads.emplace_back(r.addr, r.len);
        ASSERT_EQ(desc_reads.size(), 2u);
        EXPECT_EQ(desc_reads[0], std::make_pair(tx_ring(1) + 6 * 16, 32u));
        EXPECT_EQ(desc_reads[1], std::make_pair(tx_ring(1), 32u));
        // RX: frames k = 0..3 in slots 5, 6, 7, 0; RDH wrapped to 1.
        EXPECT_EQ(h.reg(2, nic_reg::rdh), 1u);
        const std::uint32_t rx_slots[] = {5, 6, 7, 0};
        for (unsigned k = 0; k < 4; ++k) {
            const rx_descriptor d = h.rx_desc(2, rx_slots[k]);
            EXPECT_EQ(d.status, desc_status::dd | desc_status::eop);
            EXPECT_EQ(d.length, 100u);
            EXPECT_EQ(h.mem(rx_buf(2, rx_slots[k]), 100),
                      make_frame(mac_of(2), mac_of(1), 100, static_cast<std::uint8_t>(k)));
        }
        // A fifth frame finds no descriptor (slot 1 is the tail): dropped and counted.
        h.post_tx(1, 2, make_frame(mac_of(2), mac_of(1), 100, 9));
        h.reg_write(1, nic_reg::tdt, 3);
        h.wait_ns(5000);
        EXPECT_EQ(h.reg(2, nic_reg::rx_nodesc), 1u);
        EXPECT_EQ(h.dev->stats(2).rx_no_descriptor.value(), 1u);
        EXPECT_EQ(h.dev->stats(2).rx_frames.value(), 4u);
        EXPECT_EQ(h.dev->stats(1).tx_frames.value(), 5u);
        EXPECT_EQ(h.dev->wire_tx_frames(), 0u);  // VEB loopback never reaches the wire
    });
}

TEST(nic, bus_master_enable_off_stops_dma) {
    simulate([](host& h) {
        h.bring_up(2, false);  // VFs' Bus Master Enable clear
        h.set_bme(2, true);
        h.setup_tx(1, 8);
        h.setup_rx(2, 8, 0, 7);
        h.post_tx(1, 0, make_frame(mac_of(2), mac_of(1), 64, 1));
        h.reg_write(1, nic_reg::tdt, 1);
        h.wait_ns(5000);
        EXPECT_EQ(h.rc->dma_from(h.id(1)), 0u);  // not one request with VF 0's ID
        EXPECT_EQ(h.reg(1, nic_reg::tdh), 0u);
        EXPECT_GE(h.dev->stats(1).bme_blocked.value(), 1u);
        // Setting BME resumes the pending descriptors.
        h.set_bme(1, true);
        h.wait_ns(5000);
        EXPECT_EQ(h.reg(1, nic_reg::tdh), 1u);
        EXPECT_EQ(h.dev->stats(2).rx_frames.value(), 1u);
        // RX for a function without BME: dropped, counted, no request with its ID.
        h.set_bme(2, false);
        const std::size_t before = h.rc->dma_from(h.id(2));
        const std::uint64_t blocked = h.dev->stats(2).bme_blocked.value();
        h.post_tx(1, 1, make_frame(mac_of(2), mac_of(1), 64, 2));
        h.reg_write(1, nic_reg::tdt, 2);
        h.wait_ns(5000);
        EXPECT_EQ(h.rc->dma_from(h.id(2)), before);
        EXPECT_EQ(h.dev->stats(2).bme_blocked.value(), blocked + 1);
        EXPECT_EQ(h.dev->stats(2).rx_frames.value(), 1u);
    });
}

TEST(nic, masked_vector_sets_pending_bit_and_fires_on_unmask) {
    simulate([](host& h) {
        h.bring_up(2);
        h.program_vector(2, nic_reg::rx_vector, true);  // masked
        h.reg_write(2, nic_reg::ims, nic_reg::icr_bits::rxt);
        h.setup_tx(1, 8);
        h.setup_rx(2, 8, 0, 7);
        h.post_tx(1, 0, make_frame(mac_of(2), mac_of(1), 64, 1));
        h.reg_write(1, nic_reg::tdt, 1);
        h.wait_ns(5000);
        EXPECT_TRUE(h.rc->interrupts.empty());
        EXPECT_EQ(h.read32(h.pba(2)), 1u << nic_reg::rx_vector);  // PBA bit 0
        EXPECT_EQ(h.reg(2, nic_reg::icr), nic_reg::icr_bits::rxt);
        EXPECT_EQ(h.dev->stats(2).msix_pending.value(), 1u);
        // Unmask: the message goes out at once, with VF 1's requester ID and entry 0's data.
        const tick_t t = now_ticks();
        h.write32(h.bar3(2) + 12, 0);
        ASSERT_EQ(h.rc->interrupts.size(), 1u);
        const interrupt_record& m = h.rc->interrupts[0];
        EXPECT_EQ(m.addr, msi_base + 2 * 0x1000);
        EXPECT_EQ(m.data, 2u * 256 + nic_reg::rx_vector);
        EXPECT_EQ(m.requester, h.id(2));
        EXPECT_GE(m.time, t);
        EXPECT_EQ(h.read32(h.pba(2)), 0u);
        // Function Mask: the next frame's message is held, then sent when the mask is cleared.
        h.enable_msix(2, true);
        h.post_tx(1, 1, make_frame(mac_of(2), mac_of(1), 64, 2));
        h.reg_write(1, nic_reg::tdt, 2);
        h.wait_ns(5000);
        EXPECT_EQ(h.rc->interrupts.size(), 1u);
        EXPECT_EQ(h.read32(h.pba(2)), 1u);
        h.enable_msix(2, false);
        EXPECT_EQ(h.rc->interrupts.size(), 2u);
        EXPECT_EQ(h.dev->stats(2).interrupts.value(), 2u);
    });
}

TEST(nic, interrupt_moderation_coalesces_within_interval) {
    nic_params p;
    p.interrupt_interval = 10000 * ns;  // 10 us
    simulate(
        [](host& h) {
            h.bring_up(2);
            h.program_vector(2, nic_reg::rx_vector, false);
            h.reg_write(2, nic_reg::ims, nic_reg::icr_bits::rxt);
            h.setup_tx(1, 8);
            h.setup_rx(2, 8, 0, 7);
            for (unsigned k = 0; k < 3; ++k)
                h.post_tx(1, k, make_frame(mac_of(2), mac_of(1), 64, static_cast<std::uint8_t>(k)));
            h.reg_write(1, nic_reg::tdt, 3);
            h.wait_ns(30000);
            // Frame 0's message goes at once; frames 1 and 2 land within 10 us of it and share
            // one message exactly 10 us after the first.
            ASSERT_EQ(h.rc->interrupts.size(), 2u);
            EXPECT_EQ(h.rc->interrupts[1].time - h.rc->interrupts[0].time, 10000 * ns);
            EXPECT_EQ(h.dev->stats(2).rx_frames.value(), 3u);
        },
        p);
}

TEST(nic, vf_to_vf_through_veb_is_byte_identical) {
    simulate(
        [](host& h) {
            h.bring_up(2);
            h.setup_tx(1, 8);
            h.setup_rx(2, 8, 0, 7);
            const auto frame = make_frame(mac_of(2), mac_of(1), 1514, 7);
            h.post_tx(1, 0, frame);
            h.reg_write(1, nic_reg::tdt, 1);
            h.wait_ns(20000);
            const rx_descriptor d = h.rx_desc(2, 0);
            EXPECT_EQ(d.length, 1514u);
            EXPECT_EQ(d.status, desc_status::dd | desc_status::eop);
            EXPECT_EQ(d.errors, 0u);
            EXPECT_EQ(h.mem(rx_buf(2, 0), 1514), frame);
            // Every upstream request with VF 1's ID stays inside VF 1's memory region, none
            // crosses 4 KiB, writes are at most MPS (128 B at reset) and reads at most MRRS
            // (512 B at reset).
            for (const auto& r : h.rc->dma) {
                if (r.requester != h.id(2)) continue;
                EXPECT_GE(r.addr, region(2));
                EXPECT_EQ(r.addr / 4096, (r.addr + r.len - 1) / 4096);
                EXPECT_LE(r.len, r.write ? 128u : 512u);
            }
            // The 1514 B buffer read: ceil(1514 / 512) = 3 reads with VF 0's ID from tx_buf.
            std::size_t reads = 0;
            for (const auto& r : h.rc->dma)
                reads += !r.write && r.requester == h.id(1) && r.addr >= tx_buf(1, 0) &&
                         r.addr < tx_buf(1, 0) + 1514;
            EXPECT_EQ(reads, 3u);
            EXPECT_EQ(h.dev->stats(1).tx_bytes.value(), 1514u);
            EXPECT_EQ(h.dev->stats(2).rx_bytes.value(), 1514u);
            EXPECT_EQ(h.dev->wire_tx_frames(), 0u);
        },
        {}, false, {}, [](nic& dev) { EXPECT_EQ(dev.veb().stats().unicast_local, 1u); });
}

std::string temp_dir(const std::string& name) {
    const auto d = std::filesystem::temp_directory_path() /
                   ("iovsim_nic_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
}

TEST(nic, vf_to_echo_peer_latency_stats_and_pcap) {
    const std::string dir = temp_dir("echo");
    core::stats_registry reg;
    core::histogram& latency = reg.add_histogram("latency_ns.rtt", "ns", "doorbell to RX MSI-X");
    simulate(
        [&](host& h) {
            h.bring_up(1);
            h.program_vector(1, nic_reg::rx_vector, false);
            h.reg_write(1, nic_reg::ims, nic_reg::icr_bits::rxt);
            h.setup_tx(1, 8);
            h.setup_rx(1, 8, 0, 7);
            const net::mac_address peer = net::mac_address::from_u64(0x0200000000feull);
            // 124 B without FCS: 128 B on the wire.
            const auto frame = make_frame(peer, mac_of(1), 124, 3);
            for (unsigned k = 0; k < 2; ++k) {
                h.post_tx(1, k, frame);
                const std::size_t irqs = h.rc->interrupts.size();
                const tick_t t0 = now_ticks();
                h.reg_write(1, nic_reg::tdt, k + 1);
                h.wait_ns(10000);
                ASSERT_EQ(h.rc->interrupts.size(), irqs + 1);
                const tick_t rtt = h.rc->interrupts.back().time - t0;
                latency.sample(ticks_to_ns(rtt));
                if (k == 0) {
                    // Doorbell 40; descriptor read: issue at 40, back +500, usable +60 = 600;
                    // buffer read issued at 600, usable 1160; switch +20 = 1180 on the wire.
                    // 25 Gb/s: (128 + 20) B × 0.32 ns = 47.36 ns held, the last bit leaves
                    // 12 × 0.32 = 3.84 ns before that and arrives 2 m × 5 ns = 10 ns later:
                    // +53.52 -> 1233.52 at the peer; turnaround 1000 -> 2233.52; back the same
                    // way +53.52 -> 2287.04; switch +20 = 2307.04; RX descriptor read usable
                    // +560 = 2867.04; data write issued then, write-back +4, MSI-X +4:
                    // 2875.04 ns.
                    EXPECT_EQ(rtt, 2875040u);
                } else {
                    // The second frame: the RX descriptor was prefetched with the first (8 at
                    // once), so the RX path saves the read: 2307.04 + 4 + 4 = 2315.04 ns.
                    EXPECT_EQ(rtt, 2315040u);
                }
                const rx_descriptor d = h.rx_desc(1, k);
                EXPECT_EQ(d.length, 124u);
                auto expect = frame;  // the peer swapped the MACs, payload untouched
                std::swap_ranges(expect.begin(), expect.begin() + 6, expect.begin() + 6);
                EXPECT_EQ(h.mem(rx_buf(1, k), 124), expect);
            }
            EXPECT_EQ(h.dev->wire_tx_frames(), 2u);
            EXPECT_EQ(h.dev->wire_rx_frames(), 2u);
        },
        {}, true, [&](nic& dev) { dev.capture_wire(dir + "/wire.pcap"); },
        [&](nic& dev) {
            dev.flush_captures();
            dev.register_stats(reg, "nic");
            reg.write_json(dir + "/stats.json");
        });
    // stats.json: latency per frame and the NIC's counters.
    std::ifstream in(dir + "/stats.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    EXPECT_EQ(j["latency_ns"]["rtt"]["count"], 2);
    EXPECT_EQ(j["nic"]["vf0"]["tx_frames"], 2);
    EXPECT_EQ(j["nic"]["vf0"]["rx_frames"], 2);
    EXPECT_EQ(j["nic"]["wire"]["tx_frames"], 2);
    // The pcap: 4 frames (out, back, out, back) without FCS, nanosecond timestamps in order;
    // the first leaves at 1180 ns after the first doorbell.
    const net::pcap_file f = net::read_pcap(dir + "/wire.pcap");
    ASSERT_EQ(f.records.size(), 4u);
    EXPECT_TRUE(f.nanosecond);
    EXPECT_EQ(f.records[0].bytes.size(), 124u);
    EXPECT_EQ(f.records[0].time, 1180 * ns);  // the first doorbell was at time 0
    // pcap keeps whole nanoseconds: the echo arrives at 2287.04 ns, stored as 2287 ns.
    EXPECT_EQ(f.records[1].time - f.records[0].time, (2287u - 1180u) * ns);
    // tshark decodes it with the right addresses.
    const std::string cmd =
        "tshark -r " + dir + "/wire.pcap -T fields -e eth.src -e eth.dst 2>/dev/null";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string out;
    char buf[256];
    while (std::fgets(buf, sizeof buf, pipe)) out += buf;
    ::pclose(pipe);
    EXPECT_EQ(out,
              "02:00:00:00:01:01\t02:00:00:00:00:fe\n02:00:00:00:00:fe\t02:00:00:00:01:01\n"
              "02:00:00:00:01:01\t02:00:00:00:00:fe\n02:00:00:00:00:fe\t02:00:00:00:01:01\n");
    std::filesystem::remove_all(dir);
}

TEST(nic, veb_capture_holds_loopback_frames) {
    const std::string dir = temp_dir("veb");
    simulate(
        [](host& h) {
            h.bring_up(2);
            h.setup_tx(1, 8);
            h.setup_rx(2, 8, 0, 7);
            h.post_tx(1, 0, make_frame(mac_of(2), mac_of(1), 80, 1));
            h.reg_write(1, nic_reg::tdt, 1);
            h.wait_ns(5000);
        },
        {}, false,
        [&](nic& dev) {
            dev.capture_wire(dir + "/wire.pcap");
            dev.capture_veb(dir + "/veb.pcap");
        },
        [](nic& dev) { dev.flush_captures(); });
    EXPECT_EQ(net::read_pcap(dir + "/wire.pcap").records.size(), 0u);
    const auto veb = net::read_pcap(dir + "/veb.pcap");
    ASSERT_EQ(veb.records.size(), 1u);
    EXPECT_EQ(veb.records[0].bytes, make_frame(mac_of(2), mac_of(1), 80, 1));
    std::filesystem::remove_all(dir);
}

TEST(nic, descriptor_outside_memory_is_an_error_and_simulation_goes_on) {
    simulate([](host& h) {
        h.bring_up(2);
        h.program_vector(1, nic_reg::rx_vector, false);
        h.reg_write(1, nic_reg::ims, nic_reg::icr_bits::err);
        h.setup_rx(2, 8, 0, 7);
        // VF 0's TX ring base beyond memory (4 GiB, 128-byte aligned).
        h.reg_write(1, nic_reg::tdbal, 0);
        h.reg_write(1, nic_reg::tdbah, 1);
        h.reg_write(1, nic_reg::tdlen, 8);
        h.reg_write(1, nic_reg::ctrl, nic_reg::ctrl_bits::txen);
        h.reg_write(1, nic_reg::tdt, 1);
        h.wait_ns(5000);
        EXPECT_EQ(h.reg(1, nic_reg::status) & nic_reg::status_bits::tx_dma_err,
                  nic_reg::status_bits::tx_dma_err);
        EXPECT_EQ(h.reg(1, nic_reg::ctrl) & nic_reg::ctrl_bits::txen, 0u);  // queue stopped
        EXPECT_EQ(h.reg(1, nic_reg::dma_errors), 1u);
        EXPECT_EQ(h.dev->stats(1).dma_errors.value(), 1u);
        EXPECT_EQ(h.reg(1, nic_reg::icr) & nic_reg::icr_bits::err, nic_reg::icr_bits::err);
        EXPECT_EQ(h.rc->interrupts.size(), 1u);  // ICR.ERR enabled: vector 0
        // W1C clears the error; a good ring works again.
        h.reg_write(1, nic_reg::status, nic_reg::status_bits::tx_dma_err);
        EXPECT_EQ(h.reg(1, nic_reg::status) & nic_reg::status_bits::tx_dma_err, 0u);
        h.setup_tx(1, 8);
        // A descriptor whose buffer is outside memory: error again, head stays on it.
        h.post_tx(1, 0, make_frame(mac_of(2), mac_of(1), 64, 1), 0x1'0000'0000ull);
        h.reg_write(1, nic_reg::tdt, 1);
        h.wait_ns(5000);
        EXPECT_EQ(h.dev->stats(1).dma_errors.value(), 2u);
        EXPECT_EQ(h.reg(1, nic_reg::tdh), 0u);
        // An address that wraps the 64-bit space: refused without a request, no crash.
        h.setup_tx(1, 8);
        h.post_tx(1, 0, make_frame(mac_of(2), mac_of(1), 64, 1), ~0ull - 10);
        h.reg_write(1, nic_reg::tdt, 1);
        h.wait_ns(5000);
        EXPECT_EQ(h.dev->stats(1).dma_errors.value(), 3u);
        // RX buffer outside memory: RX_DMA_ERR, RX queue stopped.
        rx_descriptor bad;
        bad.buffer_address = 0x1'0000'0000ull;
        const auto b = bad.encode();
        h.rc->memory.write(rx_ring(2), b.data(), b.size());
        h.setup_tx(1, 8);
        h.post_tx(1, 0, make_frame(mac_of(2), mac_of(1), 64, 1));
        h.reg_write(1, nic_reg::tdt, 1);
        h.wait_ns(5000);
        EXPECT_EQ(h.reg(2, nic_reg::status) & nic_reg::status_bits::rx_dma_err,
                  nic_reg::status_bits::rx_dma_err);
        EXPECT_EQ(h.reg(2, nic_reg::ctrl) & nic_reg::ctrl_bits::rxen, 0u);
        EXPECT_EQ(h.dev->stats(2).dma_errors.value(), 1u);
        EXPECT_EQ(h.dev->stats(1).tx_frames.value(), 1u);
    });
}

TEST(nic, bad_ring_length_or_tail_is_an_error_status) {
    simulate([](host& h) {
        h.bring_up(1);
        for (std::uint32_t len : {0u, 12u, 4u, 65536u}) {
            h.reg_write(1, nic_reg::status, ~0u);  // clear errors
            h.reg_write(1, nic_reg::tdbal, static_cast<std::uint32_t>(tx_ring(1)));
            h.reg_write(1, nic_reg::tdlen, len);
            h.reg_write(1, nic_reg::ctrl, nic_reg::ctrl_bits::txen);
            EXPECT_EQ(h.reg(1, nic_reg::ctrl), 0u) << len;  // TXEN did not stick
            EXPECT_EQ(h.reg(1, nic_reg::status), nic_reg::status_bits::tx_ring_err) << len;
        }
        // RX: length 0, then a base that is not 128-byte aligned.
        h.reg_write(1, nic_reg::rdlen, 0);
        h.reg_write(1, nic_reg::ctrl, nic_reg::ctrl_bits::rxen);
        EXPECT_EQ(h.reg(1, nic_reg::status) & nic_reg::status_bits::rx_ring_err,
                  nic_reg::status_bits::rx_ring_err);
        h.reg_write(1, nic_reg::rdlen, 8);
        h.reg_write(1, nic_reg::rdbal, 0x1040);
        h.reg_write(1, nic_reg::ctrl, nic_reg::ctrl_bits::rxen);
        EXPECT_EQ(h.reg(1, nic_reg::ctrl), 0u);
        // A good ring, then a tail beyond it: ignored, error status.
        h.reg_write(1, nic_reg::status, ~0u);
        h.setup_tx(1, 8);
        h.reg_write(1, nic_reg::tdt, 8);
        EXPECT_EQ(h.reg(1, nic_reg::tdt), 0u);
        EXPECT_EQ(h.reg(1, nic_reg::status),
                  nic_reg::status_bits::tx_ring_err | nic_reg::status_bits::tx_active);
        // RXBUFSZ 0 is refused.
        h.reg_write(1, nic_reg::rxbufsz, 0);
        EXPECT_EQ(h.reg(1, nic_reg::rxbufsz), nic_reg::rxbufsz_reset);
        EXPECT_EQ(h.dev->stats(1).ring_errors.value(), 4u + 2u + 1u + 1u);
        EXPECT_TRUE(h.rc->dma.empty());  // nothing was fetched from a bad ring
    });
}

TEST(nic, long_frame_is_truncated_to_buffer_size) {
    simulate([](host& h) {
        h.bring_up(2);
        h.setup_tx(1, 8);
        h.setup_rx(2, 8, 0, 7);
        h.reg_write(2, nic_reg::rxbufsz, 256);
        const auto frame = make_frame(mac_of(2), mac_of(1), 300, 5);
        h.post_tx(1, 0, frame);
        h.reg_write(1, nic_reg::tdt, 1);
        h.wait_ns(5000);
        const rx_descriptor d = h.rx_desc(2, 0);
        EXPECT_EQ(d.length, 256u);
        EXPECT_EQ(d.errors, rx_error::le);
        EXPECT_EQ(h.mem(rx_buf(2, 0), 256),
                  std::vector<std::uint8_t>(frame.begin(), frame.begin() + 256));
        EXPECT_EQ(h.mem(rx_buf(2, 0) + 256, 4), std::vector<std::uint8_t>(4, 0));  // untouched
    });
}

TEST(nic, register_map_and_unsupported_requests) {
    simulate([](host& h) {
        h.bring_up(3);
        // RAL/RAH: 02:00:00:00:01:03 of VF 2.
        EXPECT_EQ(h.reg(3, nic_reg::ral), 0x00000002u);
        EXPECT_EQ(h.reg(3, nic_reg::rah), 0x0301u);
        EXPECT_EQ(h.reg(3, nic_reg::rxbufsz), 2048u);
        // Read-only registers ignore writes; unknown page-0 offsets read 0.
        h.reg_write(3, nic_reg::ral, 0x1234);
        EXPECT_EQ(h.reg(3, nic_reg::ral), 0x00000002u);
        EXPECT_EQ(h.reg(3, 0x800), 0u);
        // VF BAR3: MSI-X entry 0 vector control reads masked at reset; the PBA is read-only.
        EXPECT_EQ(h.read32(h.bar3(3) + 12), 1u);
        h.write32(h.pba(3), ~0u);
        EXPECT_EQ(h.read32(h.pba(3)), 0u);
        // A 2-byte access and an address no function claims: Unsupported Request.
        std::uint8_t b[4] = {};
        EXPECT_EQ(h.access(false, pcie::tlp_type::memory, {}, h.bar0(3), b, 2),
                  tlm::TLM_ADDRESS_ERROR_RESPONSE);
        EXPECT_EQ(h.access(false, pcie::tlp_type::memory, {}, vf_bar0 + 3 * vf_bar0_size, b, 4),
                  tlm::TLM_ADDRESS_ERROR_RESPONSE);
        // Configuration request for an absent function: UR too.
        EXPECT_EQ(h.access(false, pcie::tlp_type::config_type0, pcie::routing_id{1, 2, 3}, 0, b, 4),
                  tlm::TLM_ADDRESS_ERROR_RESPONSE);
        EXPECT_EQ(h.dev->unsupported_requests(), 3u);
        // VF Memory Space Enable off: VF BARs stop decoding.
        nic_functions& f = h.dev->functions();
        const std::uint16_t ctl =
            static_cast<std::uint16_t>(f.pf().read(f.sriov().offset() + sriov_reg::control, 2));
        h.cfg_write(f.pf_id(), f.sriov().offset() + sriov_reg::control, 2,
                    ctl & ~sriov_reg::vf_memory_space_enable);
        EXPECT_EQ(h.access(false, pcie::tlp_type::memory, {}, h.bar0(1), b, 4),
                  tlm::TLM_ADDRESS_ERROR_RESPONSE);
    });
}

// A generator floods VF 0 from the wire (one 64 B frame every 50 ns) faster than VF 0's RX
// engine writes them (each frame waits for a 200 ns write), while VF 0 transmits to the wire. The
// RX frames are captured when they arrive, not when the engine gets to them, so the capture is in
// time order although TX frames seen later by the engine are already in the file.
TEST(nic, wire_capture_is_in_time_order_while_rx_backs_up) {
    const std::string dir = temp_dir("order");
    const net::mac_address gen_mac = net::mac_address::from_u64(0x0200000000feull);
    {
        nic dev("nic", nic_params{});
        fake_root_complex rc("rc");
        net::generator_params gp;
        gp.dst = mac_of(1);
        gp.src = gen_mac;
        gp.frame_bytes = 64;
        gp.rate_fps = 20e6;  // 1 / 20 MHz = 50 ns apart
        gp.count = 100;
        gp.start = 2000 * ns;
        net::constant_rate_generator gen("gen", gp);
        host h("host", [&](host& h) {
            h.bring_up(1);
            h.setup_rx(1, 64, 0, 63);
            h.setup_tx(1, 64);
            h.wait_ns(1900);
            const auto frame = make_frame(gen_mac, mac_of(1), 60, 1);
            for (unsigned k = 0; k < 10; ++k) {
                h.post_tx(1, k, frame);
                h.reg_write(1, nic_reg::tdt, k + 1);
                h.wait_ns(300);
            }
            h.wait_ns(50000);
        });
        h.dev = &dev;
        h.rc = &rc;
        h.out.bind(dev.link_in);
        dev.link_out.bind(rc.socket);
        dev.wire_out.bind(gen.wire_in);
        gen.wire_out.bind(dev.wire_in);
        dev.capture_wire(dir + "/wire.pcap");
        sc_core::sc_start();
        EXPECT_TRUE(h.finished);
        EXPECT_EQ(dev.wire_tx_frames(), 10u);
        EXPECT_EQ(dev.wire_rx_frames(), 100u);
        // 63 RX descriptors handed over: 63 frames written, 37 dropped for lack of one.
        EXPECT_EQ(dev.stats(1).rx_frames.value(), 63u);
        EXPECT_EQ(dev.stats(1).rx_no_descriptor.value(), 37u);
        dev.flush_captures();
    }
    const net::pcap_file f = net::read_pcap(dir + "/wire.pcap");
    ASSERT_EQ(f.records.size(), 110u);
    tick_t last_rx = 0;
    unsigned rx = 0;
    for (std::size_t i = 0; i < f.records.size(); ++i) {
        if (i > 0) {
            EXPECT_LE(f.records[i - 1].time, f.records[i].time) << "record " << i;
        }
        const bool from_gen = std::equal(gen_mac.bytes().begin(), gen_mac.bytes().end(),
                                         f.records[i].bytes.begin() + 6);
        if (!from_gen) continue;
        // At arrival: the generator's 50 ns spacing (the same fraction of a ns each time).
        if (rx++ > 0) {
            EXPECT_EQ(f.records[i].time - last_rx, 50 * ns) << "record " << i;
        }
        last_rx = f.records[i].time;
    }
    EXPECT_EQ(rx, 100u);
    std::filesystem::remove_all(dir);
}

// echo 0 > sriov_numvfs while the engine still holds work for VF 1: the frame the PF sent it and
// VF 1's own TX doorbell. Both go with the VF (the frame counted), the VF forgets its MAC, and
// its queues stay stopped when VFs come back.
TEST(nic, clearing_vf_enable_drops_the_vfs_work_in_flight) {
    const net::mac_address peer = net::mac_address::from_u64(0x0200000000feull);
    simulate([&](host& h) {
        h.bring_up(2);
        h.setup_rx(2, 8, 0, 7);
        h.setup_tx(0, 8);
        h.setup_tx(2, 8);
        const auto to_vf1 = make_frame(mac_of(2), mac_of(0), 100, 1);
        // PF doorbell at t = 0: at 40 ns the engine reads the descriptor (usable at 600), the
        // buffer (usable at 1160) and switches the frame at 1180 ns; it waits in VF 1's RX queue
        // for that time. VF 1's doorbell (also at 0) waits behind the PF's batch.
        h.post_tx(0, 0, to_vf1);
        h.reg_write(0, nic_reg::tdt, 1);
        h.post_tx(2, 0, make_frame(peer, mac_of(2), 80, 2));
        h.reg_write(2, nic_reg::tdt, 1);
        h.wait_ns(500);
        nic_functions& fns = h.dev->functions();
        const std::uint16_t cap = fns.sriov().offset();
        h.cfg_write(fns.pf_id(), cap + sriov_reg::control, 2, 0);  // VF Enable = 0
        EXPECT_EQ(fns.vf_count(), 0u);
        EXPECT_EQ(h.dev->vf_disabled_drops(), 1u);
        EXPECT_FALSE(h.dev->veb().lookup(mac_of(2), 0).has_value());
        h.wait_ns(5000);
        // To VF 1's old MAC: unknown unicast from a function port, so to the uplink.
        h.post_tx(0, 1, to_vf1);
        h.reg_write(0, nic_reg::tdt, 2);
        h.wait_ns(5000);
        EXPECT_EQ(h.dev->stats(0).tx_frames.value(), 2u);
        EXPECT_EQ(h.dev->stats(2).tx_frames.value(), 0u);
        EXPECT_EQ(h.dev->stats(2).rx_frames.value(), 0u);
        EXPECT_EQ(h.dev->wire_tx_frames(), 1u);
        // The VFs come back with their queues stopped.
        fns.set_num_vfs(2);
        EXPECT_EQ(h.reg(2, nic_reg::ctrl) & (nic_reg::ctrl_bits::txen | nic_reg::ctrl_bits::rxen),
                  0u);
        // And the set_num_vfs path tears them down the same way.
        fns.set_num_vfs(0);
        EXPECT_EQ(fns.vf_count(), 0u);
        h.wait_ns(1000);
    });
}

// A VF driver chains two 9000 B buffers into one frame: 18000 + 4 B of FCS is above the 9018 B
// maximum, so the frame is dropped at EOP without reading its second buffer; the next frames
// (exactly 9014 + 4 = 9018 B, then 100 B) go out.
TEST(nic, tx_frame_above_max_frame_bytes_is_dropped_and_the_ring_resynchronises) {
    const net::mac_address peer = net::mac_address::from_u64(0x0200000000feull);
    const std::uint64_t big0 = region(1) + 0x80000, big1 = region(1) + 0xa0000;
    const std::uint64_t big2 = region(1) + 0xc0000;
    simulate([&](host& h) {
        h.bring_up(1);
        h.setup_tx(1, 8);
        const auto part = make_frame(peer, mac_of(1), 9000, 1);
        h.rc->memory.write(big0, part.data(), part.size());
        h.rc->memory.write(big1, part.data(), part.size());
        tx_descriptor d;
        d.buffer_address = big0;
        d.length = 9000;
        d.cmd = tx_cmd::rs;  // no EOP
        auto b = d.encode();
        h.rc->memory.write(tx_ring(1), b.data(), b.size());
        d.buffer_address = big1;
        d.cmd = tx_cmd::eop | tx_cmd::rs;
        b = d.encode();
        h.rc->memory.write(tx_ring(1) + 16, b.data(), b.size());
        const auto max = make_frame(peer, mac_of(1), 9014, 2);
        h.rc->memory.write(big2, max.data(), max.size());
        h.post_tx(1, 2, max, big2);
        h.post_tx(1, 3, make_frame(peer, mac_of(1), 100, 3));
        h.reg_write(1, nic_reg::tdt, 4);
        h.wait_ns(20000);
        const function_stats& st = h.dev->stats(1);
        EXPECT_EQ(st.tx_oversize.value(), 1u);
        EXPECT_EQ(st.tx_malformed.value(), 0u);
        EXPECT_EQ(st.tx_frames.value(), 2u);
        EXPECT_EQ(st.tx_bytes.value(), 9014u + 100u);
        EXPECT_EQ(h.dev->wire_tx_frames(), 2u);
        EXPECT_EQ(h.reg(1, nic_reg::tdh), 4u);
        for (unsigned k = 0; k < 4; ++k) EXPECT_TRUE(h.tx_desc(1, k).status & desc_status::dd);
        for (const dma_record& r : h.rc->dma)
            EXPECT_FALSE(!r.write && r.addr >= big1 && r.addr < big1 + 9000) << r.addr;
    });
}

TEST(nic, bad_parameters_name_their_key) {
    nic_params p;
    p.max_read_requests = 0;
    try {
        nic dev("nic", p);
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("nic.max_read_requests"), std::string::npos);
    }
    for (unsigned bad : {63u, 16385u}) {
        nic_params q;
        q.max_frame_bytes = bad;
        try {
            nic dev(sc_core::sc_gen_unique_name("nic"), q);
            FAIL() << "no exception for " << bad;
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("nic.max_frame_bytes"), std::string::npos);
        }
    }
}

}  // namespace
}  // namespace iovsim::nic::testing
