// Driver → device → driver over real bytes: the guest driver model, the PCI transport and the
// host backend, with guest RAM at GPA 0 mapped to host DRAM at 4 GiB.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "models/cpu/ept.h"
#include "models/cpu/posted_interrupt.h"
#include "models/mem/sparse_store.h"
#include "models/virtio/net_backend.h"
#include "models/virtio/net_driver.h"
#include "models/virtio/virtio_net.h"

namespace iovsim::virtio {
namespace {

constexpr std::uint64_t ram_hpa = 0x1'0000'0000;
constexpr std::uint64_t ram_size = 16 << 20;
constexpr std::uint64_t bar_gpa = 0xf000'0000;

// The guest as the driver sees it: RAM through the EPT, BAR4 accesses straight to the device
// model (what a trapped access ends in).
class test_env : public driver_env {
public:
    test_env(translated_memory& m, virtio_net_pci& d) : m_mem(m), m_dev(d) {}
    guest_memory& memory() override { return m_mem; }
    std::uint64_t mmio_read(std::uint64_t gpa, unsigned size) override {
        return m_dev.mmio_read(gpa - bar_gpa, size);
    }
    void mmio_write(std::uint64_t gpa, unsigned size, std::uint64_t value) override {
        if (gpa >= bar_gpa + bar_layout::notify) ++notify_writes;
        m_dev.mmio_write(gpa - bar_gpa, size, value);
    }
    unsigned notify_writes = 0;

private:
    translated_memory& m_mem;
    virtio_net_pci& m_dev;
};

struct platform {
    explicit platform(bool event_idx = true, backend_params bp = {}, std::uint16_t mtu = 0,
                      std::uint32_t buffer_size = 2048)
        : host(64ull << 30),
          host_view(host),
          guest_mem(map, host_view),
          vmm_mem(map, host_view),
          dev(params(event_idx, mtu)),
          backend(vmm_mem, bp, [this](const virtio_net_backend::frame& f) { sent.push_back(f); }),
          env(guest_mem, dev),
          drv(drv_params(buffer_size)) {
        map.map_ram(0, ram_hpa, ram_size);
        // The user-space VMM flavour: a kick reaches the device model, which runs TX at once.
        dev.on_driver_ok = [this] {
            backend.start(dev.queue(rx_queue).layout(), dev.queue(tx_queue).layout(),
                          dev.negotiated(feature::ring_event_idx));
        };
        dev.on_notify = [this](std::uint16_t q) {
            if (q == tx_queue && !defer_tx) last_tx = backend.handle_tx();
        };
        backend.on_error = [this](std::uint16_t, queue_error) { dev.needs_reset(); };
    }
    static virtio_net_params params(bool event_idx, std::uint16_t mtu = 0) {
        virtio_net_params p;
        p.event_idx = event_idx;
        p.mtu = mtu;
        return p;
    }
    static driver_params drv_params(std::uint32_t buffer_size = 2048) {
        driver_params p;
        p.buffer_size = buffer_size;
        p.bar_gpa = bar_gpa;
        p.ring_gpa = 0x10000;
        p.buffer_gpa = 0x100000;
        p.queue_size = 256;
        return p;
    }
    cpu::ept map;
    mem::sparse_store host;
    cpu::sparse_store_memory host_view;  // host-physical addresses
    translated_memory guest_mem, vmm_mem;
    virtio_net_pci dev;
    std::vector<virtio_net_backend::frame> sent;
    virtio_net_backend backend;
    test_env env;
    virtio_net_driver drv;
    virtio_net_backend::result last_tx;
    bool defer_tx = false;  // kicks do nothing: the test calls handle_tx (a vhost worker's wake-up)
};

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> f(n);
    for (std::size_t i = 0; i < n; ++i) f[i] = static_cast<std::uint8_t>(seed + i * 7);
    return f;
}

TEST(VirtioRoundTrip, InitNegotiatesAndSetsUpQueues) {
    platform p;
    ASSERT_TRUE(p.drv.init(p.env));
    EXPECT_TRUE(p.backend.running());
    EXPECT_EQ(p.dev.device_status(),
              status::acknowledge | status::driver | status::features_ok | status::driver_ok);
    // Driver asks VERSION_1 | MAC | EVENT_IDX; the device offers those and STATUS.
    EXPECT_EQ(p.drv.features(), (1ull << 32) | (1ull << 29) | (1ull << 5));
    EXPECT_EQ(p.drv.mac(), (std::array<std::uint8_t, 6>{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}));
    // Rings: per queue 4096 B of descriptors, avail at +4096, used at +8192 (2054 B), each queue
    // in 12 KiB: rx at 0x10000, tx at 0x13000.
    EXPECT_EQ(p.dev.queue(rx_queue).desc, 0x10000u);
    EXPECT_EQ(p.dev.queue(rx_queue).device, 0x12000u);
    EXPECT_EQ(p.dev.queue(tx_queue).desc, 0x13000u);
    EXPECT_EQ(p.dev.queue(tx_queue).driver, 0x14000u);
    EXPECT_EQ(p.dev.queue(tx_queue).msix_vector, 2);
    EXPECT_EQ(p.drv.ring_bytes(), 0x3000u + 0x2000u + 2054u);
    // All 256 RX buffers posted: avail idx 256 in guest memory.
    std::uint16_t idx = 0;
    p.host.read_u16(ram_hpa + 0x11000 + 2, idx);
    EXPECT_EQ(idx, 256);
    EXPECT_EQ(p.env.notify_writes, 0u);
}

TEST(VirtioRoundTrip, InitFailsWithoutVersion1) {
    platform p;
    driver_params dp = platform::drv_params();
    dp.features = feature::bit(feature::net_mac);
    virtio_net_driver legacy(dp);
    EXPECT_FALSE(legacy.init(p.env));
    EXPECT_TRUE(p.dev.device_status() & status::failed);
    EXPECT_FALSE(legacy.ready());
}

TEST(VirtioRoundTrip, FramesAreByteIdenticalBothWays) {
    platform p;
    ASSERT_TRUE(p.drv.init(p.env));
    const std::vector<std::vector<std::uint8_t>> tx = {pattern(60, 1), pattern(1514, 2),
                                                       pattern(200, 3)};
    for (const auto& f : tx) ASSERT_TRUE(p.drv.transmit(p.env, f));
    EXPECT_EQ(p.sent, tx);
    // Event idx: each kick is drained at once, avail_event = avail idx, so every transmit
    // needs its kick: need_event(k, k + 1, k) is 0 < 1.
    EXPECT_EQ(p.drv.kicks(), 3u);
    EXPECT_EQ(p.backend.tx_frames(), 3u);
    // transmit() reclaims before it adds: the 2nd and 3rd took back the 1st and 2nd buffers.
    EXPECT_EQ(p.drv.reclaim_tx(p.env), 1u);

    const std::vector<std::vector<std::uint8_t>> rx = {pattern(64, 4), pattern(1500, 5)};
    const auto r1 = p.backend.receive(rx[0]);
    EXPECT_EQ(r1.frames, 1u);
    EXPECT_TRUE(r1.interrupt);  // the first decision always interrupts
    const auto r2 = p.backend.receive(rx[1]);
    EXPECT_FALSE(r2.interrupt);  // used_event 0 not yet moved: need_event(0, 2, 1) is 1 < 1
    // The used element's len is header + frame; the header says num_buffers 1.
    std::uint32_t len = 0;
    p.host.read_u32(ram_hpa + 0x12000 + 4 + 4, len);
    EXPECT_EQ(len, 12u + 64u);
    std::uint16_t num_buffers = 0;
    p.host.read_u16(ram_hpa + 0x100000 + 10, num_buffers);  // RX buffer 0, header byte 10
    EXPECT_EQ(num_buffers, 1);
    EXPECT_EQ(p.drv.receive(p.env), rx[0]);
    EXPECT_EQ(p.drv.receive(p.env), rx[1]);
    EXPECT_FALSE(p.drv.receive(p.env));
    const auto r3 = p.backend.receive(rx[0]);
    EXPECT_TRUE(r3.interrupt);  // used_event 2 now: need_event(2, 3, 2) is 0 < 1
    // Re-posting RX buffers needs no kick: the device's avail_event (2, then 3) is far behind
    // the avail idx (257, 258).
    EXPECT_EQ(p.drv.kicks(), 3u);
}

TEST(VirtioRoundTrip, WithoutEventIdx) {
    platform p(false);
    ASSERT_TRUE(p.drv.init(p.env));
    EXPECT_FALSE(p.dev.negotiated(feature::ring_event_idx));
    ASSERT_TRUE(p.drv.transmit(p.env, pattern(100, 9)));
    EXPECT_EQ(p.sent.size(), 1u);
    EXPECT_TRUE(p.last_tx.interrupt);  // NO_INTERRUPT clear
    p.drv.disable_rx_interrupts();
    EXPECT_FALSE(p.backend.receive(pattern(80, 1)).interrupt);
    EXPECT_FALSE(p.drv.enable_rx_interrupts());
    EXPECT_EQ(p.drv.receive(p.env), pattern(80, 1));
}

TEST(VirtioMtu, BufferSizeHoldsHeaderAndFrame) {
    EXPECT_EQ(buffer_size_for_mtu(68), 2048u);
    EXPECT_EQ(buffer_size_for_mtu(1500), 2048u);
    // 12 + 2000 + 14 = 2026 B: 2 KiB.
    EXPECT_EQ(buffer_size_for_mtu(2000), 2048u);
    // 12 + 9000 + 14 = 9026 B: 8 KiB + 834 B, so 9 KiB.
    EXPECT_EQ(buffer_size_for_mtu(9000), 9216u);
}

TEST(VirtioMtu, JumboFramesBothWaysWithFMtu) {
    platform p(true, {}, 9000, buffer_size_for_mtu(9000));
    ASSERT_TRUE(p.drv.init(p.env));
    EXPECT_TRUE(p.dev.negotiated(feature::net_mtu));
    EXPECT_EQ(p.drv.mtu(), 9000u);
    // A 9014-byte frame (9000 B MTU + 14 B header; the FCS is the NIC's) each way, in one
    // 9216-byte buffer with its 12-byte virtio header.
    const auto out = pattern(9014, 1);
    ASSERT_TRUE(p.drv.transmit(p.env, out));
    ASSERT_EQ(p.sent.size(), 1u);
    EXPECT_EQ(p.sent[0], out);
    const auto in = pattern(9014, 2);
    EXPECT_EQ(p.backend.receive(in).frames, 1u);
    EXPECT_EQ(p.backend.rx_too_big(), 0u);
    EXPECT_EQ(p.drv.receive(p.env), in);
    // The default 2 KiB buffers cannot take it: the device drops it as too big.
    platform small;
    ASSERT_TRUE(small.drv.init(small.env));
    EXPECT_EQ(small.drv.mtu(), 0u);  // not offered
    EXPECT_EQ(small.backend.receive(in).frames, 0u);
    EXPECT_EQ(small.backend.rx_too_big(), 1u);
}

TEST(VirtioMtu, InitFailsWhenTheBuffersCannotHoldTheDevicesMtu) {
    // The device advises 9000; 2 KiB buffers hold 12 + 2036 bytes at most.
    platform p(true, {}, 9000, 2048);
    EXPECT_FALSE(p.drv.init(p.env));
    EXPECT_TRUE(p.dev.device_status() & status::failed);
    EXPECT_FALSE(p.drv.ready());
}

// napi_tx over the driver and the backend: TX interrupts off while the ring has room, on delayed
// to 3/4 of the buffers outstanding when it is full.
TEST(VirtioTxInterrupt, DriverDelaysItToThreeQuartersAndTheBackendSignalsIt) {
    platform p;
    p.defer_tx = true;
    ASSERT_TRUE(p.drv.init(p.env));
    p.drv.disable_tx_interrupts();
    // The TX avail ring at 0x14000 (see InitNegotiatesAndSetsUpQueues); used_event after its
    // 256 entries: 0x14000 + 4 + 2 × 256 = 0x14204.
    const auto used_event = [&] {
        std::uint16_t v = 0;
        p.host.read_u16(ram_hpa + 0x14204, v);
        return v;
    };
    // The backend's first decision always signals (signalled_used not valid yet).
    ASSERT_TRUE(p.drv.transmit(p.env, pattern(100, 1)));
    EXPECT_TRUE(p.backend.handle_tx().interrupt);
    // With TX interrupts off, a drain signals nothing: 100 frames (the first transmit takes back
    // the first frame's buffer: last_used_idx 1).
    for (unsigned i = 0; i < 100; ++i) ASSERT_TRUE(p.drv.transmit(p.env, pattern(100, 2)));
    const auto r100 = p.backend.handle_tx();
    EXPECT_EQ(r100.frames, 100u);
    EXPECT_FALSE(r100.interrupt);
    // Fill the ring: the first transmit takes back those 100 (last_used_idx 101), then 256 fit
    // and the 257th does not: avail idx 1 + 100 + 256 = 357, 256 outstanding.
    for (unsigned i = 0; i < 256; ++i) ASSERT_TRUE(p.drv.transmit(p.env, pattern(100, 3)));
    EXPECT_FALSE(p.drv.transmit(p.env, pattern(100, 4)));
    EXPECT_EQ(p.drv.tx_ring()->num_free(), 0u);
    // The queue stops: bufs = 256 × 3 / 4 = 192, used_event = 101 + 192 = 293; none used yet.
    EXPECT_TRUE(p.drv.enable_tx_interrupts_delayed());
    EXPECT_EQ(used_event(), 293);
    // vhost drains the 256 (used idx 101 -> 357, past 293): one interrupt for the batch.
    const auto r256 = p.backend.handle_tx();
    EXPECT_EQ(r256.frames, 256u);
    EXPECT_TRUE(r256.interrupt);
    // The interrupt's handler: interrupts off, every buffer back, the queue restarts.
    p.drv.disable_tx_interrupts();
    EXPECT_EQ(p.drv.reclaim_tx(p.env), 256u);
    EXPECT_EQ(p.drv.tx_ring()->num_free(), 256u);
    ASSERT_TRUE(p.drv.transmit(p.env, pattern(100, 5)));
    EXPECT_FALSE(p.backend.handle_tx().interrupt);
    EXPECT_EQ(p.sent.size(), 1u + 100u + 256u + 1u);
}

TEST(VirtioTxInterrupt, DelayedEnableSaysPollWhenEnoughAreUsedAlready) {
    platform p;
    p.defer_tx = true;
    ASSERT_TRUE(p.drv.init(p.env));
    p.drv.disable_tx_interrupts();
    ASSERT_TRUE(p.drv.transmit(p.env, pattern(60, 1)));
    p.backend.handle_tx();  // the first decision
    // 8 outstanding (the first transmit takes back the first buffer: last_used_idx 1), all 8
    // used by the device before the driver looks: bufs = 8 × 3 / 4 = 6 < 8: false, reclaim at
    // once (the interrupt for them may have gone by).
    for (unsigned i = 0; i < 8; ++i) ASSERT_TRUE(p.drv.transmit(p.env, pattern(60, 2)));
    EXPECT_FALSE(p.backend.handle_tx().interrupt);  // interrupts were off
    EXPECT_FALSE(p.drv.enable_tx_interrupts_delayed());
    EXPECT_EQ(p.drv.reclaim_tx(p.env), 8u);
}

TEST(VirtioBackend, TxCostWorkedOut) {
    backend_params bp;  // 50 cycles an access, 0.25 a byte, 1000 a packet
    platform p(true, bp);
    ASSERT_TRUE(p.drv.init(p.env));
    ASSERT_TRUE(p.drv.transmit(p.env, pattern(60, 1)));
    // Guest-memory accesses of one handle_tx for one chain, event idx on (kicks are off while
    // the worker drains, so pop writes no avail_event):
    //   pop: avail idx, ring entry, descriptor                        3
    //   read the one buffer                                           1
    //   push: used id, used len, used idx                             3
    //   pop again: avail idx (empty)                                  1
    //   enable_notifications: avail_event write, avail idx re-read    2
    //   need_interrupt: used_event                                    1   = 11
    // Bytes copied: 12 (header) + 60 = 72 → 72 × 0.25 = 18 cycles.
    // 1000 + 11 × 50 + 18 = 1568.
    EXPECT_EQ(p.last_tx.frames, 1u);
    EXPECT_EQ(p.last_tx.cycles, 1568u);
    // RX of a 100-byte frame (kicks on: pop writes avail_event): pop 4 + write 1 + push 3 +
    // used_event 1 = 9 accesses, 112 bytes × 0.25 = 28: 1000 + 450 + 28 = 1478.
    const auto r = p.backend.receive(pattern(100, 2));
    EXPECT_EQ(r.cycles, 1478u);
    // A kick with nothing to do: avail idx, enable (2): 3 accesses, no packet cost.
    EXPECT_EQ(p.backend.handle_tx().cycles, 150u);
}

TEST(VirtioBackend, DropsAndErrors) {
    platform p;
    // Not started: frames from the host are dropped.
    EXPECT_EQ(p.backend.receive(pattern(60, 1)).frames, 0u);
    EXPECT_EQ(p.backend.rx_no_buffer(), 1u);
    ASSERT_TRUE(p.drv.init(p.env));
    // Too big for a 2048-byte buffer: 12 + 2040 > 2048; the buffer comes back with len 0 and the
    // driver counts an error.
    EXPECT_EQ(p.backend.receive(pattern(2040, 1)).frames, 0u);
    EXPECT_EQ(p.backend.rx_too_big(), 1u);
    EXPECT_FALSE(p.drv.receive(p.env));
    EXPECT_EQ(p.drv.rx_errors(), 1u);
    // A frame the driver cannot fit is refused before touching the ring.
    EXPECT_FALSE(p.drv.transmit(p.env, pattern(2040, 1)));

    // The guest corrupts the TX ring: descriptor 0 of the TX queue links to itself.
    const std::uint64_t tx_desc = ram_hpa + p.dev.queue(tx_queue).desc;
    p.host.write_u64(tx_desc, 0x200000);
    p.host.write_u32(tx_desc + 8, 64);
    p.host.write_u16(tx_desc + 12, desc_f_next);
    p.host.write_u16(tx_desc + 14, 0);
    p.host.write_u16(ram_hpa + p.dev.queue(tx_queue).driver + 4, 0);  // ring[0] = 0
    p.host.write_u16(ram_hpa + p.dev.queue(tx_queue).driver + 2, 1);  // idx = 1
    p.dev.mmio_write(virtio_net_pci::notify_offset(tx_queue), 2, tx_queue);
    EXPECT_TRUE(p.last_tx.error);
    EXPECT_EQ(p.last_tx.frames, 0u);
    EXPECT_EQ(p.backend.tx_ring()->error(), queue_error::chain_loop);
    EXPECT_TRUE(p.drv.needs_reset(p.env));
    EXPECT_TRUE(p.sent.empty());
}

// The backend's TX queue takes chains of up to 64 KiB + the 12-byte header = 65548 readable
// bytes: a 65536-byte frame goes out, one byte more breaks the queue (readable_too_large),
// reported once through on_error, and nothing is sent.
TEST(VirtioBackend, TxChainAboveSixtyFourKibBreaksTheQueue) {
    platform p;
    std::vector<queue_error> errors;
    p.backend.on_error = [&](std::uint16_t q, queue_error e) {
        EXPECT_EQ(q, tx_queue);
        errors.push_back(e);
        p.dev.needs_reset();
    };
    ASSERT_TRUE(p.drv.init(p.env));
    const std::uint64_t tx_desc = ram_hpa + p.dev.queue(tx_queue).desc;
    const std::uint64_t avail = ram_hpa + p.dev.queue(tx_queue).driver;
    const auto post = [&](std::uint16_t n, std::uint32_t len) {
        p.host.write_u64(tx_desc, 0x200000);
        p.host.write_u32(tx_desc + 8, len);
        p.host.write_u16(tx_desc + 12, 0);
        p.host.write_u16(tx_desc + 14, 0);
        p.host.write_u16(avail + 4 + 2 * (n - 1), 0);  // ring[n - 1] = descriptor 0
        p.host.write_u16(avail + 2, n);                // idx = n
        p.dev.mmio_write(virtio_net_pci::notify_offset(tx_queue), 2, tx_queue);
    };
    post(1, 65536 + 12);
    EXPECT_FALSE(p.last_tx.error);
    ASSERT_EQ(p.sent.size(), 1u);
    EXPECT_EQ(p.sent[0].size(), 65536u);
    post(2, 65536 + 13);
    EXPECT_TRUE(p.last_tx.error);
    EXPECT_EQ(p.last_tx.frames, 0u);
    EXPECT_EQ(p.backend.tx_ring()->error(), queue_error::readable_too_large);
    EXPECT_EQ(errors, std::vector<queue_error>{queue_error::readable_too_large});
    EXPECT_EQ(p.sent.size(), 1u);
    EXPECT_TRUE(p.drv.needs_reset(p.env));
}

TEST(VirtioBackend, TranslatedMemoryFaults) {
    cpu::ept map;
    mem::sparse_store host(64ull << 30);
    cpu::sparse_store_memory host_view(host);
    map.map_ram(0, ram_hpa, ram_size);
    translated_memory m(map, host_view);
    std::uint8_t b[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    EXPECT_TRUE(m.write(0x1000, b, 8));
    std::uint64_t v = 0;
    host.read_u64(ram_hpa + 0x1000, v);
    EXPECT_EQ(v, 0x0807060504030201ull);
    EXPECT_FALSE(m.read(ram_size - 4, b, 8));  // straddles the end of guest RAM
    EXPECT_FALSE(m.write(ram_size, b, 1));
    EXPECT_EQ(m.translations(), 3u);
    EXPECT_EQ(m.faults(), 2u);
}

}  // namespace
}  // namespace iovsim::virtio
