#include "models/cpu/halt_poll.h"

#include <gtest/gtest.h>

#include "models/cpu/exit_costs.h"
#include "models/cpu/lapic.h"

namespace iovsim::cpu {
namespace {

constexpr tick_t us = ticks_per_us;

TEST(HaltPoll, InterruptAlreadyPending) {
    const halt_outcome o = halt_wait(10 * us, 5 * us, 200 * us, 2 * us);
    EXPECT_EQ(o.resume, 10 * us);
    EXPECT_FALSE(o.polled_hit);
    EXPECT_FALSE(o.slept);
    EXPECT_EQ(o.polled, 0u);
}

TEST(HaltPoll, PollingCatchesAnInterruptInsideTheWindow) {
    const halt_outcome o = halt_wait(10 * us, 60 * us, 200 * us, 2 * us);
    EXPECT_TRUE(o.polled_hit);
    EXPECT_FALSE(o.slept);
    EXPECT_EQ(o.polled, 50 * us);  // 60 - 10
    EXPECT_EQ(o.resume, 60 * us);  // no wake-up cost
}

TEST(HaltPoll, LaterInterruptFindsTheThreadAsleep) {
    const halt_outcome o = halt_wait(10 * us, 300 * us, 200 * us, 2 * us);
    EXPECT_FALSE(o.polled_hit);
    EXPECT_TRUE(o.slept);
    EXPECT_EQ(o.polled, 200 * us);
    EXPECT_EQ(o.slept_ticks, 90 * us);  // 300 - (10 + 200)
    EXPECT_EQ(o.resume, 302 * us);      // 300 + 2 wake-up
}

TEST(HaltPoll, WindowEndIsExclusiveAndZeroMeansNoPolling) {
    const halt_outcome edge = halt_wait(0, 200 * us, 200 * us, 2 * us);
    EXPECT_TRUE(edge.slept);
    EXPECT_EQ(edge.slept_ticks, 0u);
    EXPECT_EQ(edge.resume, 202 * us);
    const halt_outcome off = halt_wait(0, 1 * us, 0, 2 * us);
    EXPECT_TRUE(off.slept);
    EXPECT_EQ(off.polled, 0u);
    EXPECT_EQ(off.resume, 3 * us);
}

TEST(HaltPoll, WaitModeNames) {
    EXPECT_EQ(parse_wait_mode("halt"), wait_mode::halt);
    EXPECT_EQ(parse_wait_mode("poll"), wait_mode::poll);
    EXPECT_FALSE(parse_wait_mode("mwait"));
    EXPECT_STREQ(to_string(wait_mode::poll), "poll");
}

// A halted vCPU woken by an interrupt, each delivery mode, with and without halt polling
// catching it. 2 GHz: one cycle = 500 ps. The guest executes HLT at 0; KVM has it after the
// exit half (125,000) and its share of the 1,437-cycle exit (468,500): at 593,500 ps. The
// interrupt arrives at 50 us. Back in the guest after the entry half (125,000); in exit mode
// the ISR's EOI then exits: 1,556 cycles = 778,000 ps.
TEST(HaltPoll, HaltedVcpuWokenInEachMode) {
    exit_cost_params p;
    p.cpu_clock_hz = 2e9;
    const exit_costs costs(p);
    const exit_path hlt = costs.path(exit_reason::hlt);
    const tick_t in_kvm = hlt.steps[0].ticks + hlt.steps[1].ticks;
    ASSERT_EQ(in_kvm, 593'500u);
    const tick_t irq = 50 * us;
    const tick_t entry = hlt.steps[2].ticks;

    struct expectation {
        delivery_mode mode;
        tick_t halt_poll;
        tick_t guest_done;  // back in the guest with the EOI done
    };
    const expectation cases[] = {
        // Polling catches it: resume at 50,000,000; entry -> 50,125,000; EOI exit +778,000.
        {delivery_mode::exit, 200 * us, 50'903'000},
        {delivery_mode::apicv, 200 * us, 50'125'000},
        {delivery_mode::posted, 200 * us, 50'125'000},
        // No polling: asleep, woken 2 us later: 52,000,000 + 125,000 (+ 778,000 for the EOI).
        {delivery_mode::exit, 0, 52'903'000},
        {delivery_mode::apicv, 0, 52'125'000},
        {delivery_mode::posted, 0, 52'125'000},
    };
    for (const expectation& e : cases) {
        const halt_outcome o = halt_wait(in_kvm, irq, e.halt_poll, 2 * us);
        tick_t t = o.resume + entry;
        for (exit_reason r : interrupt_exits(e.mode, vcpu_activity::halted)) t += costs.cost(r);
        EXPECT_EQ(t, e.guest_done) << to_string(e.mode) << " halt_poll " << e.halt_poll;
        EXPECT_EQ(o.slept, e.halt_poll == 0);
    }
}

}  // namespace
}  // namespace iovsim::cpu
