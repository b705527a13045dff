// The pieces of `iovsim run` that need no elaboration: the workload keys (workload_params.h),
// the packet timeline that turns probe marks into accountant hand-offs (packet_probe.h), and the
// compiled-in default configuration (default_config.h). Plain C++ only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "models/core/accountant.h"
#include "models/core/errors.h"
#include "platform/default_config.h"
#include "platform/packet_probe.h"
#include "platform/platform_params.h"
#include "platform/workload_params.h"

namespace iovsim::platform {
namespace {

using core::stage;
using ::testing::HasSubstr;

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const core::config_error& e) {
        return e.what();
    }
    return "";
}

class workload_params_test : public ::testing::Test {
protected:
    workload_params_test() { declare_platform_params(m_registry); }
    workload_config make(std::initializer_list<const char*> sets) {
        core::param_tree t(m_registry);
        for (const char* s : sets) t.set(s);
        return make_platform_config(t).workload;
    }
    core::param_registry m_registry;
};

TEST_F(workload_params_test, defaults_are_issue_6s) {
    const workload_config w = make({});
    EXPECT_EQ(w.mode, vm_mode::passthrough);
    ASSERT_EQ(w.vms.size(), 1u);
    EXPECT_EQ(w.vms[0].memory, std::uint64_t{1} << 30);
    EXPECT_EQ(w.type, workload_type::rr);
    EXPECT_EQ(w.size, 64u);
    EXPECT_EQ(w.count, 10000u);
    EXPECT_EQ(w.warmup, 100u);
    EXPECT_EQ(w.think_time, 0u);
}

TEST_F(workload_params_test, reads_every_key) {
    const workload_config w =
        make({"vm.mode=bare-metal", "vm.memory=2GiB", "workload.size=1518", "workload.count=7",
              "workload.warmup=2", "workload.think_time=3us"});
    EXPECT_EQ(w.mode, vm_mode::bare_metal);
    EXPECT_TRUE(w.vms.empty());  // bare metal: no VM (vm.memory has nothing to size)
    EXPECT_EQ(make({"vm.memory=2GiB"}).vms.at(0).memory, std::uint64_t{2} << 30);
    EXPECT_EQ(w.size, 1518u);
    EXPECT_EQ(w.count, 7u);
    EXPECT_EQ(w.warmup, 2u);
    EXPECT_EQ(w.think_time, 3 * ticks_per_us);
}

TEST_F(workload_params_test, bad_values_name_their_key) {
    EXPECT_THAT(error_of([&] { make({"workload.size=63"}); }), HasSubstr("workload.size"));
    EXPECT_THAT(error_of([&] { make({"workload.size=1519"}); }), HasSubstr("workload.size"));
    EXPECT_THAT(error_of([&] { make({"vm.mode=paravirt"}); }), HasSubstr("vm.mode"));
    EXPECT_THAT(error_of([&] { make({"workload.type=stream"}); }), HasSubstr("workload.type"));
    EXPECT_THAT(error_of([&] {
                    make({"workload.count=10", "workload.warmup=10"});
                }),
                HasSubstr("workload.warmup"));
}

TEST(packet_timeline_test, replays_out_of_order_marks_in_time_order) {
    core::accountant acc;
    packet_timeline tl;
    tl.attach(&acc);
    tl.begin(100, stage::host_stack);
    // As loosely-timed models report them: the later DMA's marks before the earlier's answer.
    tl.mark(150, stage::pcie);
    tl.mark(300, stage::nic);     // first read's answer back at the NIC
    tl.mark(200, stage::memory);  // first read at memory (reported from inside the call)
    tl.mark(250, stage::pcie);
    tl.mark(50, stage::iommu);   // before begin: dropped
    tl.mark(900, stage::iommu);  // after end: dropped
    tl.end(400);
    ASSERT_EQ(acc.completed(), 1u);
    // host_stack 100..150 = 50, pcie 150..200 + 250..300 = 100, memory 200..250 = 50,
    // nic 300..400 = 100; total 300 = 400 - 100.
    EXPECT_EQ(acc.stage_total_ticks(stage::host_stack), 50u);
    EXPECT_EQ(acc.stage_total_ticks(stage::pcie), 100u);
    EXPECT_EQ(acc.stage_total_ticks(stage::memory), 50u);
    EXPECT_EQ(acc.stage_total_ticks(stage::nic), 100u);
    EXPECT_EQ(acc.stage_total_ticks(stage::iommu), 0u);
}

TEST(packet_timeline_test, equal_times_keep_report_order) {
    core::accountant acc;
    packet_timeline tl;
    tl.attach(&acc);
    tl.begin(0, stage::pcie);
    tl.mark(10, stage::iommu);   // the identity stage: zero time
    tl.mark(10, stage::memory);  // reported later at the same instant: holds the packet
    tl.end(30);
    EXPECT_EQ(acc.stage_total_ticks(stage::pcie), 10u);
    EXPECT_EQ(acc.stage_total_ticks(stage::iommu), 0u);
    EXPECT_EQ(acc.stage_total_ticks(stage::memory), 20u);
}

TEST(packet_timeline_test, exclusive_span_drops_off_path_marks) {
    core::accountant acc;
    packet_timeline tl;
    tl.attach(&acc);
    tl.begin(0, stage::nic);
    tl.mark(100, stage::wire, true);
    tl.mark(150, stage::pcie);    // a TX write-back while the frame is on the wire: dropped
    tl.mark(170, stage::memory);  // dropped
    tl.mark(200, stage::peer, true);
    tl.mark(300, stage::nic, true);
    tl.mark(300, stage::pcie);  // at the span's end, not strictly inside: kept
    tl.exclusive(100, 300);
    tl.end(350);
    // nic 0..100, wire 100..200, peer 200..300, pcie 300..350.
    EXPECT_EQ(acc.stage_total_ticks(stage::nic), 100u);
    EXPECT_EQ(acc.stage_total_ticks(stage::wire), 100u);
    EXPECT_EQ(acc.stage_total_ticks(stage::peer), 100u);
    EXPECT_EQ(acc.stage_total_ticks(stage::pcie), 50u);
    EXPECT_EQ(acc.stage_total_ticks(stage::memory), 0u);
}

TEST(packet_timeline_test, misuse_is_a_logic_error_and_stray_marks_are_ignored) {
    packet_timeline tl;
    EXPECT_THROW(tl.begin(0, stage::guest), std::logic_error);  // no accountant
    core::accountant acc;
    tl.attach(&acc);
    tl.mark(5, stage::nic);  // no packet open: ignored
    EXPECT_THROW(tl.end(10), std::logic_error);
    tl.begin(10, stage::guest);
    EXPECT_TRUE(tl.is_open());
    EXPECT_THROW(tl.begin(11, stage::guest), std::logic_error);
    EXPECT_EQ(tl.end(20), 1u);
    EXPECT_EQ(acc.stage_total_ticks(stage::guest), 10u);
    EXPECT_EQ(acc.stage_total_ticks(stage::nic), 0u);
}

// The vCPU holds the packet until another component marks it, and again from the interrupt's
// arrival at KVM: its marks in between (a VM entry after the kick) are dropped.
TEST(packet_timeline_test, vcpu_marks_count_only_while_the_guest_holds_the_packet) {
    core::accountant acc;
    packet_timeline tl;
    tl.attach(&acc);
    tl.begin(0, stage::guest);
    tl.mark_vcpu(10, stage::exit);    // the kick's exit: on the path
    tl.mark_vcpu(20, stage::kvm);     // KVM's ioeventfd
    tl.mark(30, stage::vhost);        // the eventfd signal: vhost has it
    tl.mark_vcpu(35, stage::exit);    // the VM entry after the kick: beside the packet, dropped
    tl.mark_vcpu(45, stage::guest);   // dropped
    tl.mark(60, stage::host_stack);   // vhost handed it on
    tl.mark(100, stage::kvm);         // irqfd: back to the guest's side
    tl.mark_vcpu(110, stage::exit);   // the entry that injects it: kept
    tl.mark_vcpu(130, stage::guest);  // kept
    tl.end(150);
    // exit 10..20, kvm 20..30 and 100..110, vhost 30..60, host_stack 60..100, exit 110..130,
    // guest 0..10 and 130..150.
    EXPECT_EQ(acc.stage_total_ticks(stage::guest), 30u);
    EXPECT_EQ(acc.stage_total_ticks(stage::exit), 30u);
    EXPECT_EQ(acc.stage_total_ticks(stage::kvm), 20u);
    EXPECT_EQ(acc.stage_total_ticks(stage::vhost), 30u);
    EXPECT_EQ(acc.stage_total_ticks(stage::host_stack), 40u);
}

// While paused (work of the stage that holds the packet, e.g. the host driver refilling its RX
// ring), the probes' marks are ignored.
TEST(packet_timeline_test, marks_while_paused_are_ignored) {
    core::accountant acc;
    packet_timeline tl;
    tl.attach(&acc);
    tl.begin(0, stage::host_stack);
    tl.pause(true);
    tl.mark(10, stage::nic);  // the refill's register write reaching the NIC
    tl.pause(false);
    tl.mark(40, stage::vhost);
    tl.end(50);
    EXPECT_EQ(acc.stage_total_ticks(stage::host_stack), 40u);
    EXPECT_EQ(acc.stage_total_ticks(stage::nic), 0u);
    EXPECT_EQ(acc.stage_total_ticks(stage::vhost), 10u);
}

TEST(default_config_test, compiled_text_is_the_shipped_file_and_loads) {
    const auto path =
        std::filesystem::path(__FILE__).parent_path().parent_path() / "configs" / "default.yaml";
    std::ifstream f(path);
    ASSERT_TRUE(f) << path;
    std::stringstream text;
    text << f.rdbuf();
    EXPECT_EQ(text.str(), std::string(default_run_yaml()));

    core::param_registry reg;
    declare_platform_params(reg);
    core::param_tree t(reg);
    t.load_yaml_text(std::string(default_run_yaml()), "default");
    const platform_config c = make_platform_config(t);
    EXPECT_EQ(c.workload.size, 64u);
    EXPECT_EQ(c.workload.count, 10000u);
    EXPECT_EQ(c.nic.wire.line_rate_bps, 25e9);
    EXPECT_EQ(c.peer, nic_peer::echo);
    // The issue's default: one VM in passthrough mode with posted interrupts, and what that needs.
    EXPECT_EQ(c.workload.mode, vm_mode::passthrough);
    EXPECT_EQ(c.cpu.interrupts, cpu::delivery_mode::posted);
    EXPECT_TRUE(c.iommu_enabled);
    EXPECT_GE(c.nic_num_vfs, 1u);
    EXPECT_NO_THROW(check_vm_resources(c));
}

TEST(default_config_test, passthrough_needs_a_vf_and_the_iommu) {
    core::param_registry reg;
    declare_platform_params(reg);
    core::param_tree t(reg);
    t.load_yaml_text(std::string(default_run_yaml()), "default");
    t.set("nic.num_vfs=0");
    try {
        check_vm_resources(make_platform_config(t));
        ADD_FAILURE() << "no VF left was accepted";
    } catch (const core::config_error& e) {
        EXPECT_NE(std::string(e.what()).find("nic.num_vfs"), std::string::npos) << e.what();
    }
    t.set("nic.num_vfs=1");
    t.set("iommu.enabled=false");
    try {
        check_vm_resources(make_platform_config(t));
        ADD_FAILURE() << "passthrough without the IOMMU was accepted";
    } catch (const core::config_error& e) {
        EXPECT_NE(std::string(e.what()).find("iommu.enabled"), std::string::npos) << e.what();
    }
    t.set("vm.mode=bare-metal");
    EXPECT_NO_THROW(check_vm_resources(make_platform_config(t)));
}

}  // namespace
}  // namespace iovsim::platform
