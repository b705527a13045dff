// The only SystemC test of this binary (one sc_start per process): a vCPU of the models/cpu
// trap harness runs the guest e1000 driver against the emulated e1000 in the VMM; the tap
// loops every frame back with the MAC addresses swapped. Clock 1 GHz: N cycles = N ns.
// Costs: MMIO exit to the VMM 6732 (250 exit, ..., 250 entry), EOI exit 1556, guest memory 4
// per 64-byte line, host.wakeup_latency 2000; the device's defaults (e1000_params): register
// 100, map 150 + 8 per line per guest access, tap write 2500, tap read 2500.
#include "models/emu-nic/emulated_e1000.h"

#include <gtest/gtest.h>

#include <numeric>

#include "models/cpu/tests/trap_harness.h"
#include "models/emu-nic/e1000_driver.h"

namespace iovsim::emunic {
namespace {

using cpu::testing::ns;

TEST(EmulatedE1000, RoundTripExitsAndTimes) {
    cpu::testing::platform p;
    constexpr std::uint64_t bar0 = 0xfebc'0000;
    const int region = p.map.add_emulated("e1000.bar0", bar0, e1000_bar_size);
    emulated_e1000_params np;
    np.vm = p.vm;
    np.region = region;
    np.vector = 0x30;
    e1000_params dev;
    dev.cpu_clock_hz = 1e9;
    emulated_e1000 nic("nic", p.k, p.pi_mem, np, dev);

    std::vector<std::uint8_t> sent;
    tick_t tap_at = 0;
    nic.set_tap_output([&](const std::vector<std::uint8_t>& f, tick_t at) {
        sent = f;
        tap_at = at;
        std::vector<std::uint8_t> reply = f;
        std::swap_ranges(reply.begin(), reply.begin() + 6, reply.begin() + 6);
        nic.tap_deliver(reply, at);
    });

    std::vector<std::uint8_t> frame(100);
    std::iota(frame.begin(), frame.end(), 0);
    const std::uint8_t device_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    std::copy(device_mac, device_mac + 6, frame.begin() + 6);  // source: the guest

    e1000_driver_params dp;
    dp.bar0 = bar0;
    dp.dma_base = 0x10'0000;
    dp.vector = 0x30;
    e1000_driver drv(dp);
    tick_t t0 = 0, t1 = 0, t_end = 0;
    std::uint64_t mmio0 = 0, apic0 = 0;
    tick_t mmio_ticks0 = 0, apic_ticks0 = 0;
    std::vector<std::vector<std::uint8_t>> got;
    p.v.run([&](cpu::guest_context& g) {
        drv.open(g);
        t0 = g.now();
        mmio0 = p.k.exits(cpu::exit_reason::ept_misconfig).count.value();
        mmio_ticks0 = p.k.exits(cpu::exit_reason::ept_misconfig).ticks;
        apic0 = p.k.exits(cpu::exit_reason::apic_access).count.value();
        apic_ticks0 = p.k.exits(cpu::exit_reason::apic_access).ticks;
        drv.xmit(g, frame);
        t1 = g.now();
        got = drv.wait_and_handle(g);
        t_end = g.now();
    });
    sc_core::sc_start();
    ASSERT_TRUE(p.v.failure().empty()) << p.v.failure();

    // xmit: frame (100 B from a 64-aligned buffer: 2 lines, 8) and descriptor (1 line, 4) in
    // guest memory, then the TDT exit S = t0 + 12: 6732 + device 100 + descriptor 158 + buffer
    // 166 + tap write 2500 + DD write-back 158 = 6732 + 3082.
    const tick_t s = t0 + ns(12);
    EXPECT_EQ(t1, s + ns(6732 + 3082));
    // The device runs 250 before the entry: S + 6482; the frame leaves after 100 + 158 + 166 +
    // 2500 = 2924 of it.
    EXPECT_EQ(sent, frame);
    EXPECT_EQ(tap_at, s + ns(6482 + 2924));
    // I/O thread: told at S + 9406, asleep: runnable 2000 later; tap read 2500 -> S + 13906;
    // copy in: descriptor 158 + buffer 166 + write-back 158 = 482 -> S + 14388.
    EXPECT_EQ(nic.io_thread().last_completion(), s + ns(9406 + 2000 + 2500 + 482));

    // The handler, vector delivered at the TDT exit's entry: ICR, IMC, STATUS exits (6832
    // each), EOI 1556, clean TX (1 descriptor read, 4), clean RX (descriptor 4, 100-byte buffer
    // 8, next descriptor 4), refill (descriptor write 4), RDT, IMS, STATUS exits (6832 each).
    ASSERT_EQ(got.size(), 1u);
    std::vector<std::uint8_t> reply = frame;
    std::swap_ranges(reply.begin(), reply.begin() + 6, reply.begin() + 6);
    EXPECT_EQ(got[0], reply);
    EXPECT_EQ(t_end, t1 + ns(6 * 6832 + 1556 + 24));

    // Exits of the round trip: 7 MMIO exits to the VMM (TDT, ICR, IMC, STATUS, RDT, IMS,
    // STATUS) and one EOI: at least four, each at its cost from the cycle table.
    const std::uint64_t mmio = p.k.exits(cpu::exit_reason::ept_misconfig).count.value() - mmio0;
    EXPECT_EQ(mmio, 7u);
    EXPECT_GE(mmio, 4u);
    EXPECT_EQ(p.k.exits(cpu::exit_reason::ept_misconfig).ticks - mmio_ticks0,
              ns(6732 + 3082 + 6 * 6832));
    EXPECT_EQ(p.k.exits(cpu::exit_reason::apic_access).count.value() - apic0, 1u);
    EXPECT_EQ(p.k.exits(cpu::exit_reason::apic_access).ticks - apic_ticks0, ns(1556));
    // The line went up for TXDW, again for RXT0 (raised after the ICR read had cleared TXDW,
    // before IMC masked it), and once more when IMS unmasked the pending RXT0.
    EXPECT_EQ(nic.device().stats().interrupts.value(), 3u);
    EXPECT_EQ(p.v.unhandled(), 0u);
}

}  // namespace
}  // namespace iovsim::emunic
