// The interrupt trace signals (vcpu.h, kvm.h): per vCPU irq / irr / isr and per host core
// pi_notification, recorded in a trace_buffer while interrupts are delivered in each mode, with
// times worked out from the parameters. Clock 1 GHz (trap_harness.h): N cycles = N ns;
// EXTERNAL_INTERRUPT exit 1437, EOI exit 1556, VM entry 250, host.wakeup_latency 2 us.
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "models/cpu/tests/trap_harness.h"
#include "traces/trace_buffer.h"

namespace iovsim::cpu::testing {
namespace {

using change = std::pair<tick_t, std::uint64_t>;
using changes = std::vector<change>;

// The recorded changes of signal `name`, in time order.
changes of(const traces::trace_buffer& b, const std::string& name) {
    const auto id = b.find_signal(name);
    EXPECT_TRUE(id) << name;
    changes out;
    if (!id) return out;
    for (const traces::trace_event& e : b.sorted())
        if (const auto* c = std::get_if<traces::signal_change>(&e); c && c->signal == *id)
            out.emplace_back(c->time, c->value);
    return out;
}

struct traced_platform : platform {
    traces::trace_buffer buffer;
    explicit traced_platform(delivery_mode m, wait_mode w = wait_mode::halt) : platform(m, w) {
        k.set_tracer(core::tracer(&buffer, "host"));
        v.set_tracer(core::tracer(&buffer, "vm0.vcpu0"));
    }
};

constexpr tick_t us = ticks_per_us;
constexpr std::uint8_t vec = 0x50;

// --- a running vCPU: MSI 0x40 at 10 us routed to guest vector 0x50; the guest computes 100 us,
// then takes the vector and EOIs ---

struct running_trace {
    delivery_mode mode;
    changes irq, irr, isr, notification;
};

class RunningTrace : public ::testing::TestWithParam<running_trace> {};

TEST_P(RunningTrace, RecordsArrivalDeliveryAndEoi) {
    const running_trace c = GetParam();
    traced_platform p(c.mode);
    p.k.route_msi(0x40, p.vm, 0, vec);
    p.msi.messages = {{10 * us, 0, 0x40}};
    p.v.run([&](guest_context& g) {
        g.compute(100'000);
        g.wait_for_interrupt(vec);
        g.eoi();
    });
    sc_core::sc_start();
    ASSERT_TRUE(p.v.failure().empty()) << p.v.failure();
    EXPECT_EQ(of(p.buffer, "vm0.vcpu0.irq"), c.irq);
    EXPECT_EQ(of(p.buffer, "vm0.vcpu0.irr"), c.irr);
    EXPECT_EQ(of(p.buffer, "vm0.vcpu0.isr"), c.isr);
    EXPECT_EQ(of(p.buffer, "host.core0.pi_notification"), c.notification);
    EXPECT_EQ(of(p.buffer, "host.core1.pi_notification"), (changes{{0, 0}}));
}

// exit: pending from 10 us until the EXTERNAL_INTERRUPT exit's entry (10 us + 1437 ns), in
// service until the EOI; the exit's 1437 ns run on the core after the 100 us of guest work, so
// the program EOIs at 101,437 ns (and that EOI exits for 1556 ns more). apicv: the same times,
// the EOI is virtual. posted: KVM posts it (PIR, ON) and notifies core 0 with 0xf2 at 10 us; the
// CPU moves PIR to the vIRR and delivers at once: irr never shows, isr from 10 us to the EOI at
// 100 us.
constexpr tick_t arrive = 10 * us;
constexpr tick_t injected = arrive + 1437 * ticks_per_ns;
constexpr tick_t eoi_after_exit = 100 * us + 1437 * ticks_per_ns;
INSTANTIATE_TEST_SUITE_P(
    Modes, RunningTrace,
    ::testing::Values(running_trace{delivery_mode::exit,
                                    {{0, 0}, {arrive, 1}, {eoi_after_exit, 0}},
                                    {{0, 0}, {arrive, vec}, {injected, 0}},
                                    {{0, 0}, {injected, vec}, {eoi_after_exit, 0}},
                                    {{0, 0}}},
                      running_trace{delivery_mode::apicv,
                                    {{0, 0}, {arrive, 1}, {eoi_after_exit, 0}},
                                    {{0, 0}, {arrive, vec}, {injected, 0}},
                                    {{0, 0}, {injected, vec}, {eoi_after_exit, 0}},
                                    {{0, 0}}},
                      running_trace{
                          delivery_mode::posted,
                          {{0, 0}, {arrive, 1}, {100 * us, 0}},
                          {{0, 0}},
                          {{0, 0}, {arrive, vec}, {100 * us, 0}},
                          {{0, 0}, {arrive, posted_intr_vector}, {arrive + ticks_per_ns, 0}}}),
    [](const auto& info) { return std::string(to_string(info.param.mode)); });

// A halted posted vCPU that went to sleep: KVM's post finds NV = 0xf1 and wakes it through the
// host's wake-up handler; the vCPU sees the PIR request at 500 us, is runnable 2 us later and
// enters 250 ns after that; the guest computes 1 us before its (virtual) EOI.
TEST(InterruptTrace, BlockedPostedVcpuWokenByTheWakeupVector) {
    traced_platform p(delivery_mode::posted, wait_mode::halt);
    p.k.route_msi(0x40, p.vm, 0, vec);
    p.msi.messages = {{500 * us, 0, 0x40}};
    p.v.run([&](guest_context& g) {
        g.wait_for_interrupt(vec);
        g.compute(1000);
        g.eoi();
    });
    sc_core::sc_start();
    ASSERT_TRUE(p.v.failure().empty()) << p.v.failure();
    const tick_t entry = 500 * us + 2250 * ticks_per_ns;
    const tick_t eoi = entry + 1 * us;
    EXPECT_EQ(of(p.buffer, "host.core0.pi_notification"),
              (changes{{0, 0}, {500 * us, posted_intr_wakeup_vector}, {500 * us + 1000, 0}}));
    EXPECT_EQ(of(p.buffer, "vm0.vcpu0.irr"), (changes{{0, 0}, {500 * us, vec}, {entry, 0}}));
    EXPECT_EQ(of(p.buffer, "vm0.vcpu0.isr"), (changes{{0, 0}, {entry, vec}, {eoi, 0}}));
    EXPECT_EQ(of(p.buffer, "vm0.vcpu0.irq"), (changes{{0, 0}, {500 * us, 1}, {eoi, 0}}));
    EXPECT_EQ(p.k.total_exits(), 1u);  // the HLT
}

// Notification vectors sent to host cores by the interrupt entry: each reaches its core's line,
// whether or not a posted vCPU runs there; two closer than the 1 ns pulse merge.
TEST(InterruptTrace, NotificationLinePerCore) {
    traced_platform p(delivery_mode::posted, wait_mode::poll);
    p.msi.messages = {{1 * us, 0, posted_intr_vector},
                      {1 * us + 500, 0, posted_intr_vector},
                      {2 * us, 2, posted_intr_wakeup_vector}};
    sc_core::sc_start();
    EXPECT_EQ(of(p.buffer, "host.core0.pi_notification"),
              (changes{{0, 0}, {1 * us, posted_intr_vector}, {1 * us + 1000, 0}}));
    EXPECT_EQ(of(p.buffer, "host.core2.pi_notification"),
              (changes{{0, 0}, {2 * us, posted_intr_wakeup_vector}, {2 * us + 1000, 0}}));
    // The line shows every notification; none finds a descriptor with ON set (no post preceded
    // them), so no vCPU acts on any: core 0's vCPU has nothing outstanding, core 2 has no vCPU.
    EXPECT_EQ(p.k.unrouted(), 3u);
    // Tracing off: nothing declared, nothing recorded, same behaviour.
    core::tracer off;
    EXPECT_EQ(off.declare_signal("x", 1), traces::no_signal);
}

// A preempted posted vCPU: a host thread woken at 1 us (runnable at 3 us) on the vCPU's core
// takes it when the vCPU's first 10 us of guest work end, for 50 us. The vCPU's next 10 us of work
// waits: preempted from 10 us (vcpu_put: SN set) to 60 us. KVM's post at 30 us sets PIR only: no
// notification. At 60 us vcpu_load clears SN and sets ON; the VM entry moves PIR to the vIRR and
// delivers. The guest takes it after its work, at 70 us, and EOIs (virtually) then.
TEST(InterruptTrace, PreemptedPostedVcpuIsNotNotifiedUntilLoaded) {
    traced_platform p(delivery_mode::posted, wait_mode::poll);
    p.k.route_msi(0x40, p.vm, 0, vec);
    p.msi.messages = {{30 * us, 0, 0x40}};
    host_thread hog("hog", p.sched, p.v.host_core(), [](host_thread& t) {
        t.sleep(1 * us);
        t.run(50 * us);
    });
    bool sn = false, on = true, pir = false;
    host_thread probe("probe", p.sched, 3, [&](host_thread& t) {
        t.sleep(40 * us);
        sn = p.v.descriptor().sn();
        on = p.v.descriptor().on();
        pir = p.v.descriptor().pir(vec);
    });
    tick_t end = 0;
    p.v.run([&](guest_context& g) {
        g.compute(10'000);
        g.compute(10'000);
        g.wait_for_interrupt(vec);
        g.eoi();
        end = g.now();
    });
    sc_core::sc_start();
    ASSERT_TRUE(p.v.failure().empty()) << p.v.failure();
    EXPECT_TRUE(sn);
    EXPECT_FALSE(on);
    EXPECT_TRUE(pir);
    EXPECT_EQ(end, 70 * us);
    EXPECT_FALSE(p.v.descriptor().sn());
    EXPECT_TRUE(p.v.descriptor().pir_empty());
    EXPECT_EQ(p.k.total_exits(), 0u);
    ASSERT_EQ(p.k.latency_ns().count(), 1u);
    EXPECT_DOUBLE_EQ(p.k.latency_ns().max(), 30'000.0);  // arrival at KVM 30 us, delivery 60 us
    EXPECT_EQ(p.v.state_ticks(vcpu_state::preempted), 50 * us);
    EXPECT_EQ(of(p.buffer, "host.core0.pi_notification"), (changes{{0, 0}}));
    EXPECT_EQ(of(p.buffer, "vm0.vcpu0.irr"), (changes{{0, 0}, {30 * us, vec}, {60 * us, 0}}));
    EXPECT_EQ(of(p.buffer, "vm0.vcpu0.isr"), (changes{{0, 0}, {60 * us, vec}, {70 * us, 0}}));
    const changes st = of(p.buffer, "vm0.vcpu0.state");
    const change preempted{10 * us, static_cast<std::uint64_t>(vcpu_state::preempted)};
    const change back{60 * us, static_cast<std::uint64_t>(vcpu_state::guest)};
    EXPECT_NE(std::find(st.begin(), st.end(), preempted), st.end());
    EXPECT_NE(std::find(st.begin(), st.end(), back), st.end());
}

}  // namespace
}  // namespace iovsim::cpu::testing
