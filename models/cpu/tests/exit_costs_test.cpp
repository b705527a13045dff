#include "models/cpu/exit_costs.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "models/cpu/lapic.h"

namespace iovsim::cpu {
namespace {

using core::stage;

// At 2 GHz one cycle is exactly 500 ps, so every expected value below is cycles * 500.
exit_cost_params at_2ghz() {
    exit_cost_params p;
    p.cpu_clock_hz = 2e9;
    return p;
}

void expect_path(const exit_path& p, std::initializer_list<exit_step> want) {
    ASSERT_EQ(p.size, want.size());
    std::size_t i = 0;
    for (const exit_step& w : want) {
        EXPECT_EQ(p.steps[i].stage, w.stage) << "step " << i;
        EXPECT_EQ(p.steps[i].ticks, w.ticks) << "step " << i;
        ++i;
    }
}

TEST(ExitCosts, NamesAndNumbersFollowTheSdm) {
    EXPECT_STREQ(to_string(exit_reason::external_interrupt), "EXTERNAL_INTERRUPT");
    EXPECT_EQ(basic_exit_reason(exit_reason::external_interrupt), 1u);
    EXPECT_EQ(basic_exit_reason(exit_reason::interrupt_window), 7u);
    EXPECT_EQ(basic_exit_reason(exit_reason::hlt), 12u);
    EXPECT_EQ(basic_exit_reason(exit_reason::vmcall), 18u);
    EXPECT_EQ(basic_exit_reason(exit_reason::io_instruction), 30u);
    EXPECT_EQ(basic_exit_reason(exit_reason::apic_access), 44u);
    EXPECT_EQ(basic_exit_reason(exit_reason::eoi_induced), 45u);
    EXPECT_EQ(basic_exit_reason(exit_reason::ept_violation), 48u);
    EXPECT_EQ(basic_exit_reason(exit_reason::ept_misconfig), 49u);
    EXPECT_EQ(basic_exit_reason(exit_reason::apic_write), 56u);
    for (exit_reason r : all_exit_reasons) EXPECT_EQ(parse_exit_reason(to_string(r)), r);
    EXPECT_FALSE(parse_exit_reason("CPUID").has_value());
    EXPECT_STREQ(to_string(exit_handler::ioeventfd), "ioeventfd");
}

TEST(ExitCosts, NullExitAtTheDefaultClock) {
    const exit_costs c;  // DESIGN.md §7 defaults at 2.1 GHz
    // 1,437 cycles / 2.1 GHz = 684,285.71 ps -> 684,286 ps.
    EXPECT_EQ(c.cost(exit_reason::vmcall), 684'286u);
    // Transition 500 cycles = 238,095.24 -> 238,095 ps; out 119,047, in 119,048.
    expect_path(c.path(exit_reason::vmcall),
                {{stage::exit, 119'047}, {stage::kvm, 684'286 - 238'095}, {stage::exit, 119'048}});
    // ioeventfd kick to backend notified: 560 cycles = 266,666.67 -> 266,667 ps.
    EXPECT_EQ(c.ioeventfd_notify(), 266'667u);
}

TEST(ExitCosts, NullExitSplitsIntoTransitionAndKvm) {
    const exit_costs c(at_2ghz());
    // 1,437 cycles = 718,500 ps; transition 500 cycles = 250,000 ps, half each way.
    expect_path(c.path(exit_reason::vmcall),
                {{stage::exit, 125'000}, {stage::kvm, 468'500}, {stage::exit, 125'000}});
    EXPECT_EQ(c.cost(exit_reason::vmcall), 718'500u);
    EXPECT_EQ(c.cost(exit_reason::hlt), 718'500u);
    EXPECT_EQ(c.cost(exit_reason::external_interrupt), 718'500u);
    EXPECT_EQ(c.cost(exit_reason::interrupt_window), 718'500u);
}

TEST(ExitCosts, IoeventfdWriteStaysInTheKernel) {
    const exit_costs c(at_2ghz());
    // In-kernel I/O exit 2,565 cycles = 1,282,500 ps: 250,000 transition, 1,032,500 KVM.
    for (exit_reason r : {exit_reason::ept_misconfig, exit_reason::ept_violation}) {
        expect_path(c.path(r, exit_handler::ioeventfd),
                    {{stage::exit, 125'000}, {stage::kvm, 1'032'500}, {stage::exit, 125'000}});
    }
    EXPECT_EQ(c.cost(exit_reason::io_instruction, exit_handler::kvm), 1'282'500u);
    // The backend hears of the kick 560 cycles = 280,000 ps after it.
    EXPECT_EQ(c.ioeventfd_notify(), 280'000u);
}

TEST(ExitCosts, ExitToTheVmmAndBack) {
    const exit_costs c(at_2ghz());
    // 6,732 cycles = 3,366,000 ps; the VMM share is 6,732 - 2,565 = 4,167 cycles = 2,083,500.
    const exit_path p = c.path(exit_reason::ept_misconfig, exit_handler::vmm);
    expect_path(p, {{stage::exit, 125'000},
                    {stage::kvm, 1'032'500},
                    {stage::vmm, 2'083'500},
                    {stage::exit, 125'000}});
    EXPECT_EQ(p.total(), 3'366'000u);
}

TEST(ExitCosts, PioReadToTheVmmUsesItsOwnCost) {
    exit_cost_params p = at_2ghz();
    p.pio_vmm = 20'574;  // the 2012 kvm-unit-tests cross-check of DESIGN.md §7
    const exit_costs c(p);
    // 20,574 cycles = 10,287,000 ps; VMM share 20,574 - 2,565 = 18,009 cycles = 9,004,500.
    expect_path(c.path(exit_reason::io_instruction, exit_handler::vmm), {{stage::exit, 125'000},
                                                                         {stage::kvm, 1'032'500},
                                                                         {stage::vmm, 9'004'500},
                                                                         {stage::exit, 125'000}});
    // MMIO keeps the default 6,732 cycles.
    EXPECT_EQ(c.cost(exit_reason::ept_violation, exit_handler::vmm), 3'366'000u);
}

TEST(ExitCosts, EoiExit) {
    const exit_costs c(at_2ghz());
    // 1,556 cycles = 778,000 ps, KVM share 1,056 cycles = 528,000.
    for (exit_reason r :
         {exit_reason::apic_access, exit_reason::apic_write, exit_reason::eoi_induced}) {
        expect_path(c.path(r),
                    {{stage::exit, 125'000}, {stage::kvm, 528'000}, {stage::exit, 125'000}});
    }
}

TEST(ExitCosts, InterruptOnARunningVcpuInEachMode) {
    const exit_costs c(at_2ghz());
    const auto exit_time = [&](delivery_mode m) {
        tick_t t = 0;
        for (exit_reason r : interrupt_exits(m)) t += c.cost(r);
        return t;
    };
    // exit-and-inject: EXTERNAL_INTERRUPT 718,500 + EOI 778,000 = 1,496,500 ps, 2 exits.
    EXPECT_EQ(exits_per_interrupt(delivery_mode::exit), 2u);
    EXPECT_EQ(exit_time(delivery_mode::exit), 1'496'500u);
    // APICv: the EOI is virtual, 718,500 ps, 1 exit.
    EXPECT_EQ(exits_per_interrupt(delivery_mode::apicv), 1u);
    EXPECT_EQ(exit_time(delivery_mode::apicv), 718'500u);
    // Posted: none.
    EXPECT_EQ(exits_per_interrupt(delivery_mode::posted), 0u);
    EXPECT_EQ(exit_time(delivery_mode::posted), 0u);
}

TEST(ExitCosts, HandlersAReasonCannotHave) {
    const exit_costs c(at_2ghz());
    EXPECT_TRUE(exit_costs::handled_by(exit_reason::io_instruction, exit_handler::vmm));
    EXPECT_TRUE(exit_costs::handled_by(exit_reason::ept_misconfig, exit_handler::ioeventfd));
    EXPECT_TRUE(exit_costs::handled_by(exit_reason::hlt, exit_handler::kvm));
    EXPECT_FALSE(exit_costs::handled_by(exit_reason::hlt, exit_handler::vmm));
    EXPECT_FALSE(exit_costs::handled_by(exit_reason::apic_access, exit_handler::ioeventfd));
    EXPECT_THROW(c.path(exit_reason::hlt, exit_handler::vmm), std::invalid_argument);
    EXPECT_THROW(c.cost(exit_reason::vmcall, exit_handler::ioeventfd), std::invalid_argument);
}

TEST(ExitCosts, RejectsInconsistentParameters) {
    exit_cost_params p = at_2ghz();
    p.cpu_clock_hz = 0;
    EXPECT_THROW(exit_costs{p}, std::invalid_argument);
    p = at_2ghz();
    p.hlt = 499;  // below the 500-cycle transition
    EXPECT_THROW(exit_costs{p}, std::invalid_argument);
    p = at_2ghz();
    p.mmio_vmm = 2'000;  // below mmio_kernel 2,565
    EXPECT_THROW(exit_costs{p}, std::invalid_argument);
    p = at_2ghz();
    p.pio_vmm = 2'564;
    EXPECT_THROW(exit_costs{p}, std::invalid_argument);
    p = at_2ghz();
    p.transition = 1'437;  // exactly a null exit: KVM's share is zero, allowed
    EXPECT_EQ(exit_costs{p}.path(exit_reason::vmcall).steps[1].ticks, 0u);
}

}  // namespace
}  // namespace iovsim::cpu
