// The default platform with the SR-IOV NIC: enumeration through the real root complex and ECAM
// (ARI forwarding on the root port, ARI Capable Hierarchy on the PF, bus numbers reserved for
// TotalVFs, VF BARs inside the root port's prefetchable window), then the PF driver model
// enabling VFs through configuration writes; and the nic.* parameters' cross-key checks. Each
// TEST that elaborates runs sc_start once (ctest runs each TEST in its own process).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <systemc>
#include <vector>

#include "models/core/errors.h"
#include "models/net/wire.h"
#include "models/pcie/capabilities.h"
#include "models/pcie/config_space.h"
#include "platform/host_platform.h"
#include "platform/pf_driver.h"
#include "platform/platform_params.h"
#include "sriov-nic/sriov_capability.h"

namespace iovsim::platform {
namespace {

using ::testing::HasSubstr;

platform_config config_with(const std::vector<std::string>& sets) {
    core::param_registry reg;
    declare_platform_params(reg);
    core::param_tree tree(reg);
    for (const std::string& s : sets) tree.set(s);
    return make_platform_config(tree);
}

std::string config_error_of(const std::vector<std::string>& sets) {
    try {
        config_with(sets);
    } catch (const core::config_error& e) {
        return e.what();
    }
    return "";
}

constexpr pcie::routing_id root_port{0, 1, 0};
constexpr std::uint32_t ari_forwarding_enable = 1u << 5;  // Device Control 2 (PCIe 4.0 §7.5.3.16)

struct observed {
    std::vector<pcie::enumerated_function> found;
    sriov_layout layout;
    std::uint32_t devctl2 = 0, sriov_control = 0;
    std::uint8_t secondary = 0, subordinate = 0;
    std::uint64_t pref_base = 0, pref_limit = 0;
};

TEST(NicPlatform, EnumerationAndPfDriverPlace256VfsAcrossTwoBuses) {
    host_platform p(config_with({"nic.num_vfs=256"}));
    ASSERT_TRUE(p.nic);
    ASSERT_TRUE(p.peer);  // nic.peer defaults to echo
    observed o;
    p.cpu.run([&p, &o](host_cpu& cpu) {
        o.found = p.enumerate();
        pf_driver driver(cpu, *p.nic, p.nic_pf(o.found));
        o.layout = driver.enable_vfs(256);
        const std::uint16_t pcie =
            pcie::enumerator::find_capability(cpu, root_port, pcie::cap_id::pci_express);
        o.devctl2 = cpu.config_read(root_port, pcie + pcie::pcie_reg::device_control_2, 2);
        const pcie::routing_id pf{1, 0, 0};
        const std::uint16_t sriov =
            pcie::enumerator::find_ext_capability(cpu, pf, pcie::ext_cap_id::sriov);
        o.sriov_control = cpu.config_read(pf, sriov + nic::sriov_reg::control, 2);
        o.secondary = static_cast<std::uint8_t>(
            cpu.config_read(root_port, pcie::cfg::secondary_bus_number, 1));
        o.subordinate = static_cast<std::uint8_t>(
            cpu.config_read(root_port, pcie::cfg::subordinate_bus_number, 1));
        // Prefetchable window: base/limit bits 31:20 in 15:4 of the 16-bit registers, bits
        // 63:32 in the upper registers; the limit covers its last 1 MiB (PCI-to-PCI Bridge 1.2
        // §3.2.5.9).
        const std::uint64_t b = cpu.config_read(root_port, pcie::cfg::prefetchable_memory_base, 2);
        const std::uint64_t l = cpu.config_read(root_port, pcie::cfg::prefetchable_memory_limit, 2);
        const std::uint64_t bu = cpu.config_read(root_port, pcie::cfg::prefetchable_base_upper, 4);
        const std::uint64_t lu = cpu.config_read(root_port, pcie::cfg::prefetchable_limit_upper, 4);
        o.pref_base = (b & 0xfff0) << 16 | bu << 32;
        o.pref_limit = ((l & 0xfff0) << 16 | 0xfffff) | lu << 32;
    });
    sc_core::sc_start();
    ASSERT_TRUE(p.cpu.finished());
    ASSERT_EQ(p.cpu.failure(), "");

    const pcie::enumerated_function& pf = p.nic_pf(o.found);
    EXPECT_EQ(pf.id, (pcie::routing_id{1, 0, 0}));
    EXPECT_EQ(pf.vfs.total_vfs, 256);
    EXPECT_TRUE(o.devctl2 & ari_forwarding_enable);
    EXPECT_TRUE(o.sriov_control & nic::sriov_reg::ari_capable_hierarchy);
    EXPECT_TRUE(o.sriov_control & nic::sriov_reg::vf_enable);
    EXPECT_TRUE(o.sriov_control & nic::sriov_reg::vf_memory_space_enable);
    // With ARI: offset 16, stride 1. Last VF: 0x0100 + 16 + 255 x 1 = 0x020f, bus 02, so the
    // root port's buses are 01-02.
    EXPECT_EQ(o.layout.first_vf_offset, 16);
    EXPECT_EQ(o.layout.vf_stride, 1);
    EXPECT_EQ(o.secondary, 1);
    EXPECT_EQ(o.subordinate, 2);
    ASSERT_EQ(o.layout.vfs.size(), 256u);
    EXPECT_EQ(o.layout.vfs[0].id, (pcie::routing_id{1, 2, 0}));     // 0x0110
    EXPECT_EQ(o.layout.vfs[239].id, (pcie::routing_id{1, 31, 7}));  // 0x0110 + 239 = 0x01ff
    EXPECT_EQ(o.layout.vfs[240].id, (pcie::routing_id{2, 0, 0}));   // 0x0200
    EXPECT_EQ(o.layout.vfs[255].id, (pcie::routing_id{2, 1, 7}));   // 0x020f
    EXPECT_EQ(p.nic->functions().vf_count(), 256u);
    for (unsigned i : {0u, 239u, 240u, 255u}) {
        EXPECT_EQ(p.nic->functions().vf_id(i), o.layout.vfs[i].id) << "VF " << i;
        EXPECT_TRUE(p.nic->functions().vf(i).config().bus_master_enabled()) << "VF " << i;
        EXPECT_EQ(o.layout.vfs[i].mac, vf_mac(i));
    }

    // VF BARs: sized for TotalVFs (BAR0 128 KiB x 256 = 32 MiB, BAR3 16 KiB x 256 = 4 MiB),
    // every VF's copy inside the root port's prefetchable window.
    ASSERT_EQ(pf.vfs.vf_bars.size(), 2u);
    for (const auto& vb : pf.vfs.vf_bars) {
        const std::uint64_t per_vf = vb.index == 0 ? 128 * 1024 : 16 * 1024;
        EXPECT_EQ(vb.size, per_vf) << "VF BAR" << vb.index;
        EXPECT_TRUE(vb.prefetchable && vb.is_64bit);
        EXPECT_EQ(vb.address % per_vf, 0u);
        EXPECT_GE(vb.address, o.pref_base);
        EXPECT_LE(vb.address + 256 * per_vf - 1, o.pref_limit) << "VF BAR" << vb.index;
        EXPECT_EQ(o.layout.vfs[255].bars.at(vb.index == 0 ? 0 : 1).address,
                  vb.address + 255 * per_vf);
    }
    for (const auto& b : pf.bars) {
        EXPECT_GE(b.address, o.pref_base);
        EXPECT_LE(b.address + b.size - 1, o.pref_limit);
    }
}

TEST(NicPlatform, PfDriverRefusesMoreVfsThanTotalVfs) {
    host_platform p(config_with({"nic.total_vfs=8"}));
    p.cpu.run([&p](host_cpu& cpu) {
        const auto found = p.enumerate();
        pf_driver(cpu, *p.nic, p.nic_pf(found)).enable_vfs(9);
    });
    sc_core::sc_start();
    EXPECT_THAT(p.cpu.failure(), HasSubstr("nic.num_vfs (9) must not exceed nic.total_vfs (8"));
    EXPECT_EQ(p.nic->functions().vf_count(), 0u);
}

TEST(NicPlatformParams, NumVfsAboveTotalVfsNamesBothKeys) {
    EXPECT_THAT(config_error_of({"nic.num_vfs=257"}),
                HasSubstr("nic.num_vfs (257) must not exceed nic.total_vfs (256)"));
    EXPECT_THAT(config_error_of({"nic.total_vfs=4", "nic.num_vfs=5"}),
                HasSubstr("nic.num_vfs (5) must not exceed nic.total_vfs (4)"));
    EXPECT_EQ(config_error_of({"nic.total_vfs=4", "nic.num_vfs=4"}), "");
}

TEST(NicPlatformParams, WireRateIsOneOfTheEthernetRates) {
    for (const char* ok : {"10Gbps", "25Gbps", "40Gbps", "100Gbps"})
        EXPECT_EQ(config_error_of({std::string("nic.wire_rate=") + ok}), "") << ok;
    EXPECT_THAT(config_error_of({"nic.wire_rate=50Gbps"}), HasSubstr("nic.wire_rate"));
}

TEST(NicPlatformParams, ParametersReachTheModels) {
    const platform_config c =
        config_with({"nic.propagation=25ns", "nic.wire_rate=100Gbps", "nic.core_clock=1GHz",
                     "nic.peer=none", "nic.peer_turnaround=3us", "nic.switch_cycles=7"});
    EXPECT_EQ(c.device, platform_device::nic);
    EXPECT_EQ(c.nic.pf_id, (pcie::routing_id{1, 0, 0}));
    // 25 ns = 25,000 ps of propagation, whatever length x delay per metre stands for it.
    EXPECT_EQ(net::propagation_ticks(c.nic.wire.length_m, c.nic.wire.delay_ns_per_m), 25000u);
    EXPECT_EQ(c.nic.wire.line_rate_bps, 100e9);
    EXPECT_EQ(c.nic.core_clock_hz, 1e9);
    EXPECT_EQ(c.nic.switch_cycles, 7u);
    EXPECT_EQ(c.peer, nic_peer::none);
    EXPECT_EQ(c.peer_turnaround, 3 * ticks_per_us);
    EXPECT_EQ(config_with({"pcie.device=dmabench"}).device, platform_device::dma_bench);
}

}  // namespace
}  // namespace iovsim::platform
