// The vhost worker on a host core: one SystemC elaboration (run this TEST in its own process,
// as ctest does).
#include "models/virtio/vhost_worker.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "models/mem/sparse_store.h"
#include "models/virtio/virtio_net.h"

namespace iovsim::virtio {
namespace {

TEST(VhostWorker, KickAndRxOnAHostCore) {
    mem::sparse_store s(1 << 24);
    store_memory m(s);
    const queue_layout rx_l = contiguous_layout(0x10000, 8);
    const queue_layout tx_l = contiguous_layout(0x20000, 8);
    virtq_driver rx(m, rx_l, true), tx(m, tx_l, true);
    std::vector<std::vector<std::uint8_t>> sent;
    virtio_net_backend backend(m, backend_params{},
                               [&](const virtio_net_backend::frame& f) { sent.push_back(f); });
    backend.start(rx_l, tx_l, true);
    // One TX chain: 12-byte header + 60-byte frame; one 2048-byte RX buffer.
    std::vector<std::uint8_t> tx_bytes(72, 0);
    for (unsigned i = 12; i < 72; ++i) tx_bytes[i] = static_cast<std::uint8_t>(i);
    s.write(0x100000, tx_bytes.data(), 72);
    tx.add({{0x100000, 72}}, {});
    rx.add({}, {{0x200000, 2048}});

    cpu::host_scheduler sched;  // 4 cores, wake-up latency 2 us
    std::vector<std::pair<std::uint16_t, tick_t>> irqs;
    vhost_worker w("vhost", sched, 1, backend, 1e9,  // 1 GHz: a cycle is 1 ns
                   [&](std::uint16_t q, tick_t at) {
                       irqs.push_back({q, at});
                   });
    std::vector<tick_t> done;
    w.on_done = [&](tick_t at) { done.push_back(at); };
    w.kick().signal(1 * ticks_per_us);
    w.deliver(std::vector<std::uint8_t>(100, 0x5a), 10 * ticks_per_us);
    sc_core::sc_start();

    // Kick at 1 us; the worker slept: runnable at 3 us. TX work (see round_trip_test's worked
    // cost): 11 accesses × 50 + 72 B × 0.25 + 1000 = 1568 cycles = 1568 ns → done 4568 ns.
    // Frame at 10 us, runnable at 12 us: an empty TX drain (3 accesses, 150) plus RX of 100 B
    // (9 accesses × 50 + 112 × 0.25 + 1000 = 1478): 1628 ns → done 13628 ns.
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0], std::vector<std::uint8_t>(tx_bytes.begin() + 12, tx_bytes.end()));
    ASSERT_EQ(irqs.size(), 2u);
    EXPECT_EQ(irqs[0], (std::pair<std::uint16_t, tick_t>{tx_queue, 4568 * ticks_per_ns}));
    EXPECT_EQ(irqs[1], (std::pair<std::uint16_t, tick_t>{rx_queue, 13628 * ticks_per_ns}));
    // The work ends where the interrupts go out.
    EXPECT_EQ(done, (std::vector<tick_t>{4568 * ticks_per_ns, 13628 * ticks_per_ns}));
    EXPECT_EQ(w.wakeups(), 2u);
    EXPECT_EQ(w.busy_ticks(), (1568 + 1628) * ticks_per_ns);
    const auto u = rx.get_used();
    ASSERT_TRUE(u);
    EXPECT_EQ(u->len, 112u);
    std::uint8_t b = 0;
    s.read(0x200000 + 12 + 99, &b, 1);
    EXPECT_EQ(b, 0x5a);
}

}  // namespace
}  // namespace iovsim::virtio
