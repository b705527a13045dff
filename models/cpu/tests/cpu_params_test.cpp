#include "models/cpu/cpu_params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "models/core/errors.h"

namespace iovsim::cpu {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class CpuParams : public ::testing::Test {
protected:
    CpuParams() { declare_cpu_params(m_reg); }

    std::string config_error_of(std::initializer_list<const char*> sets) {
        core::param_tree tree(m_reg);
        try {
            for (const char* s : sets) tree.set(s);
            make_cpu_config(tree);
        } catch (const core::config_error& e) {
            return e.what();
        }
        return "";
    }

    core::param_registry m_reg;
};

TEST_F(CpuParams, Defaults) {
    const core::param_tree tree(m_reg);
    const cpu_config c = make_cpu_config(tree);
    EXPECT_EQ(c.exits.cpu_clock_hz, 2.1e9);
    EXPECT_EQ(c.exits.vmcall, 1437u);
    EXPECT_EQ(c.exits.mmio_kernel, 2565u);
    EXPECT_EQ(c.exits.mmio_vmm, 6732u);
    EXPECT_EQ(c.exits.eoi, 1556u);
    EXPECT_EQ(c.exits.ioeventfd_notify, 560u);
    EXPECT_EQ(c.scheduler.cores, 4u);
    EXPECT_EQ(c.scheduler.timeslice, 3 * ticks_per_ms);
    EXPECT_EQ(c.scheduler.wakeup_latency, 2 * ticks_per_us);
    EXPECT_EQ(c.halt_poll, 200 * ticks_per_us);
    EXPECT_EQ(c.interrupts, delivery_mode::exit);
    EXPECT_EQ(c.wait, wait_mode::halt);
    EXPECT_EQ(c.vcpu_core(0), 0u);
    EXPECT_EQ(c.vhost_core(0), 1u);
    EXPECT_EQ(c.vmm_io_core(0), 2u);
    EXPECT_EQ(c.softirq_core, 3u);
    // The defaults build a cost table: 1,437 cycles at 2.1 GHz = 684,286 ps.
    EXPECT_EQ(exit_costs(c.exits).cost(exit_reason::vmcall), 684'286u);
}

TEST_F(CpuParams, SetValuesReachTheStructs) {
    core::param_tree tree(m_reg);
    tree.set("host.cpu_clock=3GHz");
    tree.set("host.cores=2");
    tree.set("host.pin.vcpus=[0, 1]");
    tree.set("host.pin.vhost=0");
    tree.set("host.pin.vmm_io=1");
    tree.set("host.pin.softirq=1");
    tree.set("vm.interrupts=posted");
    tree.set("vm.wait=poll");
    tree.set("kvm.halt_poll=0");
    tree.set("kvm.exit.pio_vmm=20574");
    const cpu_config c = make_cpu_config(tree);
    EXPECT_EQ(c.exits.cpu_clock_hz, 3e9);
    EXPECT_EQ(c.exits.pio_vmm, 20574u);
    EXPECT_EQ(c.vcpu_core(0), 0u);
    EXPECT_EQ(c.vcpu_core(1), 1u);
    EXPECT_EQ(c.vcpu_core(2), 0u);  // wraps around
    EXPECT_EQ(c.vhost_core(3), 0u);
    EXPECT_EQ(c.interrupts, delivery_mode::posted);
    EXPECT_EQ(c.wait, wait_mode::poll);
    EXPECT_EQ(c.halt_poll, 0u);
}

TEST_F(CpuParams, ThreadPinnedToAMissingCoreNamesTheKey) {
    EXPECT_THAT(config_error_of({"host.pin.vhost=[1, 4]"}),
                AllOf(HasSubstr("host.pin.vhost"), HasSubstr("core 4 does not exist"),
                      HasSubstr("host.cores is 4")));
    EXPECT_THAT(config_error_of({"host.cores=2"}), HasSubstr("host.pin.vmm_io: core 2"));
    EXPECT_THAT(config_error_of({"host.cores=3"}), HasSubstr("host.pin.softirq: core 3"));
    EXPECT_THAT(config_error_of({"host.pin.vcpus=[]"}), HasSubstr("host.pin.vcpus"));
}

TEST_F(CpuParams, InconsistentExitCostsNameTheKey) {
    EXPECT_THAT(config_error_of({"kvm.exit.hlt=400"}),
                AllOf(HasSubstr("kvm.exit.hlt"), HasSubstr("kvm.exit.transition")));
    EXPECT_THAT(config_error_of({"kvm.exit.transition=1500"}), HasSubstr("kvm.exit.vmcall"));
    EXPECT_THAT(config_error_of({"kvm.exit.mmio_vmm=2000"}), HasSubstr("kvm.exit.mmio_vmm"));
    EXPECT_THAT(config_error_of({"kvm.exit.pio_vmm=2000"}), HasSubstr("kvm.exit.pio_vmm"));
}

TEST_F(CpuParams, UnknownModesNameTheKey) {
    core::param_tree tree(m_reg);
    try {
        tree.set("vm.interrupts=msi");
        FAIL() << "accepted an unknown delivery mode";
    } catch (const core::config_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("vm.interrupts"));
    }
    EXPECT_THROW(tree.set("vm.wait=mwait"), core::config_error);
    EXPECT_THROW(tree.set("host.cores=0"), core::config_error);
    try {
        parse_delivery_mode_key("msi", "vms.2.interrupts");
        FAIL() << "accepted an unknown delivery mode";
    } catch (const core::config_error& e) {
        EXPECT_THAT(e.what(), AllOf(HasSubstr("vms.2.interrupts"), HasSubstr("'msi'"),
                                    HasSubstr("exit, apicv or posted")));
    }
    EXPECT_EQ(parse_delivery_mode_key("apicv", "vm.interrupts"), delivery_mode::apicv);
    EXPECT_THROW(parse_wait_mode_key("spin", "vms.0.wait"), core::config_error);
    EXPECT_EQ(parse_wait_mode_key("poll", "vm.wait"), wait_mode::poll);
}

TEST_F(CpuParams, DeclaringTwiceIsAProgrammingError) {
    EXPECT_THROW(declare_cpu_params(m_reg), std::logic_error);
    EXPECT_NE(m_reg.find("kvm.exit.eoi"), nullptr);
    EXPECT_EQ(m_reg.find("kvm.exit.eoi")->unit, "cycles");
}

}  // namespace
}  // namespace iovsim::cpu
