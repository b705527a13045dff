#include "sriov-nic/sriov_capability.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "models/pcie/capabilities.h"

namespace iovsim::nic {
namespace {

using pcie::config_space;
using pcie::routing_id;

config_space plain_pf() {
    pcie::endpoint_params e;  // PM, MSI-X, PCIe; AER at 0x100, ARI at 0x12c
    return pcie::make_endpoint(e);
}

TEST(SriovCapability, RegistersAfterReset) {
    config_space cs = plain_pf();
    sriov_capability sr(cs, sriov_params{});
    const std::uint16_t at = sr.offset();
    // AER (0x2c bytes) at 0x100, ARI (8) at 0x12c, SR-IOV next at 0x134.
    EXPECT_EQ(at, 0x134);
    EXPECT_EQ(cs.find_ext_capability(pcie::ext_cap_id::sriov), std::optional<std::uint16_t>{at});
    EXPECT_EQ(cs.read(at, 4) & 0xfffff, 0x10010u);  // ID 0x0010, version 1
    EXPECT_EQ(cs.read(at + sriov_reg::capabilities, 4), 0u);
    EXPECT_EQ(cs.read(at + sriov_reg::control, 2), 0u);
    EXPECT_EQ(cs.read(at + sriov_reg::initial_vfs, 2), 256u);
    EXPECT_EQ(cs.read(at + sriov_reg::total_vfs, 2), 256u);
    EXPECT_EQ(cs.read(at + sriov_reg::num_vfs, 2), 0u);
    // ARI Capable Hierarchy is clear at reset: offset 1, stride 1.
    EXPECT_EQ(cs.read(at + sriov_reg::first_vf_offset, 2), 1u);
    EXPECT_EQ(cs.read(at + sriov_reg::vf_stride, 2), 1u);
    EXPECT_EQ(cs.read(at + sriov_reg::vf_device_id, 2), 0x1889u);
    EXPECT_EQ(cs.read(at + sriov_reg::supported_page_sizes, 4), 0x553u);
    EXPECT_EQ(cs.read(at + sriov_reg::system_page_size, 4), 1u);  // 4 KiB
    // VF BAR0 and BAR3: 64-bit prefetchable (type bits 0xc); BAR1/BAR4 their upper halves.
    EXPECT_EQ(cs.read(at + sriov_reg::vf_bar0, 4), 0xcu);
    EXPECT_EQ(cs.read(at + sriov_reg::vf_bar0 + 12, 4), 0xcu);
    EXPECT_EQ(cs.read(at + sriov_reg::vf_bar0 + 8, 4), 0u);  // BAR2 undefined
    EXPECT_EQ(cs.read(at + sriov_reg::vf_migration_state_array_offset, 4), 0u);
}

TEST(SriovCapability, ReadOnlyFieldsIgnoreWrites) {
    config_space cs = plain_pf();
    sriov_capability sr(cs, sriov_params{});
    const std::uint16_t at = sr.offset();
    for (std::uint16_t r :
         {sriov_reg::initial_vfs, sriov_reg::total_vfs, sriov_reg::first_vf_offset,
          sriov_reg::vf_stride, sriov_reg::vf_device_id}) {
        const std::uint32_t before = cs.read(at + r, 2);
        cs.write(at + r, 2, 0x1234);
        EXPECT_EQ(cs.read(at + r, 2), before) << r;
    }
    cs.write(at + sriov_reg::capabilities, 4, 0xffffffff);
    EXPECT_EQ(cs.read(at + sriov_reg::capabilities, 4), 0u);
    cs.write(at + sriov_reg::supported_page_sizes, 4, 0);
    EXPECT_EQ(cs.read(at + sriov_reg::supported_page_sizes, 4), 0x553u);
    // Control: only VF Enable (0), VF MSE (3), ARI Capable Hierarchy (4) are writable:
    // 0xffff & 0x0019 = 0x0019.
    cs.write(at + sriov_reg::control, 2, 0xffff);
    EXPECT_EQ(cs.read(at + sriov_reg::control, 2), 0x19u);
    EXPECT_TRUE(sr.vf_enable());
    EXPECT_TRUE(sr.vf_memory_space_enable());
    EXPECT_TRUE(sr.ari_capable_hierarchy());
}

TEST(SriovCapability, OffsetAndStrideFollowAriCapableHierarchy) {
    config_space cs = plain_pf();
    sriov_capability sr(cs, sriov_params{});
    const std::uint16_t ctl = sr.offset() + sriov_reg::control;
    cs.write(ctl, 2, sriov_reg::ari_capable_hierarchy);
    EXPECT_EQ(sr.first_vf_offset(), 16);
    EXPECT_EQ(sr.vf_stride(), 1);
    cs.write(ctl, 2, 0);
    EXPECT_EQ(sr.first_vf_offset(), 1);
    // While VF Enable is set, ARI Capable Hierarchy cannot change (the write is ignored).
    cs.write(ctl, 2, sriov_reg::vf_enable);
    cs.write(ctl, 2, sriov_reg::vf_enable | sriov_reg::ari_capable_hierarchy);
    EXPECT_FALSE(sr.ari_capable_hierarchy());
    EXPECT_EQ(sr.first_vf_offset(), 1);
}

TEST(SriovCapability, NumVfsIsWritableOnlyWhileVfEnableIsClear) {
    config_space cs = plain_pf();
    sriov_capability sr(cs, sriov_params{});
    const std::uint16_t at = sr.offset();
    cs.write(at + sriov_reg::num_vfs, 2, 8);
    EXPECT_EQ(sr.num_vfs(), 8);
    cs.write(at + sriov_reg::control, 2, sriov_reg::vf_enable);
    cs.write(at + sriov_reg::num_vfs, 2, 16);
    EXPECT_EQ(sr.num_vfs(), 8);
    cs.write(at + sriov_reg::control, 2, 0);
    cs.write(at + sriov_reg::num_vfs, 2, 300);  // stored; VF Enable would reject it
    EXPECT_EQ(sr.num_vfs(), 300);
}

TEST(SriovCapability, VfBarSizingFollowsTheSystemPageSize) {
    config_space cs = plain_pf();
    sriov_capability sr(cs, sriov_params{});
    const std::uint16_t bar0 = sr.offset() + sriov_reg::vf_bar0;
    const std::uint16_t bar3 = bar0 + 12;
    // All ones reads back ~(size - 1) with the type bits: 128 KiB -> 0xfffe0000 | 0xc.
    cs.write(bar0, 4, 0xffffffff);
    cs.write(bar0 + 4, 4, 0xffffffff);
    EXPECT_EQ(cs.read(bar0, 4), 0xfffe000cu);
    EXPECT_EQ(cs.read(bar0 + 4, 4), 0xffffffffu);
    cs.write(bar3, 4, 0xffffffff);
    EXPECT_EQ(cs.read(bar3, 4), 0xffffc00cu);  // 16 KiB
    EXPECT_EQ(sr.vf_bar_size(0), 128u * 1024);
    EXPECT_EQ(sr.vf_bar_size(3), 16u * 1024);
    EXPECT_EQ(sr.vf_bar_size(1), 0u);  // upper half of BAR0

    // System Page Size 64 KiB (bit 4: 4096 << 4): BAR3 grows to one page per VF.
    const std::uint16_t sps = sr.offset() + sriov_reg::system_page_size;
    cs.write(sps, 4, 1u << 4);
    EXPECT_EQ(sr.system_page_size_bytes(), 64u * 1024);
    EXPECT_EQ(sr.vf_bar_size(3), 64u * 1024);
    EXPECT_EQ(sr.vf_bar_size(0), 128u * 1024);
    cs.write(bar3, 4, 0xffffffff);
    EXPECT_EQ(cs.read(bar3, 4), 0xffff000cu);
    // Not one bit, or a size not supported (bit 1, 8 KiB, is in 0x553; bit 2, 16 KiB, is not),
    // is ignored.
    cs.write(sps, 4, 0x3);
    EXPECT_EQ(cs.read(sps, 4), 1u << 4);
    cs.write(sps, 4, 1u << 2);
    EXPECT_EQ(cs.read(sps, 4), 1u << 4);
    cs.write(sps, 4, 0);
    EXPECT_EQ(cs.read(sps, 4), 1u << 4);
}

TEST(SriovCapability, VfBarPlacement) {
    config_space cs = plain_pf();
    sriov_capability sr(cs, sriov_params{});
    sr.assign_vf_bar(0, 0x4000000000ull);
    sr.assign_vf_bar(3, 0x4002000000ull);
    EXPECT_EQ(sr.vf_bar_base(0), 0x4000000000ull);
    EXPECT_EQ(sr.vf_bar_base(3), 0x4002000000ull);
    // VF 5's copy of BAR0: base + 5 × 128 KiB = 0x40_0000_0000 + 0xa_0000.
    EXPECT_EQ(sr.vf_bar_address(0, 5), 0x40000a0000ull);
    EXPECT_EQ(sr.vf_bar_address(3, 2), 0x4002000000ull + 2 * 0x4000);
    EXPECT_EQ(sr.vf_bar_address(2, 1), 0u);  // undefined
    EXPECT_TRUE(sr.vf_bar_is_64bit(0));
    EXPECT_TRUE(sr.vf_bar_is_prefetchable(3));
    EXPECT_THROW(sr.vf_bar_size(6), std::out_of_range);
    EXPECT_THROW(sr.vf_bar_base(-1), std::out_of_range);
    EXPECT_THROW(sr.assign_vf_bar(6, 0), std::out_of_range);
}

TEST(SriovCapability, RoutingIdsFromOffsetAndStride) {
    const routing_id pf{1, 0, 0};  // 0x0100
    // Offset 16, stride 1: VF n = 0x0110 + n.
    EXPECT_EQ(vf_routing_id(pf, 16, 1, 0), (routing_id{1, 2, 0}));     // 0x0110
    EXPECT_EQ(vf_routing_id(pf, 16, 1, 239), (routing_id{1, 31, 7}));  // 0x01ff
    EXPECT_EQ(vf_routing_id(pf, 16, 1, 240), (routing_id{2, 0, 0}));   // 0x0200: next bus
    // Stride 2: VF 3 = 0x0100 + 1 + 6 = 0x0107 = 01:00.7.
    EXPECT_EQ(vf_routing_id(pf, 1, 2, 3), (routing_id{1, 0, 7}));
    // Past bus 255: 0xff00 + 16 + 240 = 0x10000.
    EXPECT_FALSE(vf_routing_id(routing_id{0xff, 0, 0}, 16, 1, 240).has_value());
    EXPECT_EQ(vf_routing_id(routing_id{0xff, 0, 0}, 16, 1, 239), (routing_id{0xff, 31, 7}));
    EXPECT_THROW(vf_routing_id(pf, 16, 0, 1), std::invalid_argument);
}

TEST(SriovCapability, BadParameters) {
    config_space cs = plain_pf();
    sriov_params p;
    p.total_vfs = 0;
    EXPECT_THROW(sriov_capability(cs, p), std::invalid_argument);
    p = sriov_params{};
    p.supported_page_sizes = 0x2;  // no 4 KiB
    EXPECT_THROW(sriov_capability(cs, p), std::invalid_argument);
    p = sriov_params{};
    p.vf_bars = {{5, 4096, true, true}};  // 64-bit needs BAR6
    EXPECT_THROW(sriov_capability(cs, p), std::invalid_argument);
    p.vf_bars = {{0, 4096, true, true}, {1, 4096, false, false}};  // BAR1 is BAR0's upper half
    EXPECT_THROW(sriov_capability(cs, p), std::invalid_argument);
    p.vf_bars = {{0, 3000, false, false}};
    EXPECT_THROW(sriov_capability(cs, p), std::invalid_argument);
    p.vf_bars = {{0, 4ull << 30, false, false}};  // 4 GiB in a 32-bit BAR
    EXPECT_THROW(sriov_capability(cs, p), std::invalid_argument);
    p = sriov_params{};
    p.vf_stride_ari = 0;
    EXPECT_THROW(sriov_capability(cs, p), std::invalid_argument);
}

TEST(Ats, PfAndVfControl) {
    config_space pf = plain_pf();
    const std::uint16_t at = add_ats(pf, ats_params{}, false);
    EXPECT_EQ(pf.read(at, 4) & 0xfffff, 0x1000fu);  // ID 0x000f, version 1
    // Capability: queue depth 0 (32), Page Aligned Request (bit 5) = 0x20.
    EXPECT_EQ(pf.read(at + ats_reg::capability, 2), 0x20u);
    EXPECT_FALSE(ats_enabled(pf));
    // PF: Enable and STU writable. STU 2: 4096 << 2 = 16 KiB.
    pf.write(at + ats_reg::control, 2, 0xffff);
    EXPECT_EQ(pf.read(at + ats_reg::control, 2), 0x801fu);
    pf.write(at + ats_reg::control, 2, ats_reg::enable | 2);
    EXPECT_TRUE(ats_enabled(pf));
    EXPECT_EQ(ats_smallest_translation_unit(pf), 16u * 1024);

    config_space vf(pcie::header_layout::type0, pcie::function_identity{});
    ats_params p;
    p.invalidate_queue_depth = 5;
    p.global_invalidate = true;
    const std::uint16_t vat = add_ats(vf, p, true);
    EXPECT_EQ(vf.read(vat + ats_reg::capability, 2), 0x65u);  // 5 | 0x20 | 0x40
    vf.write(vat + ats_reg::control, 2, 0xffff);
    EXPECT_EQ(vf.read(vat + ats_reg::control, 2), 0x8000u);  // STU RO 0 on a VF

    ats_params bad;
    bad.invalidate_queue_depth = 32;
    EXPECT_THROW(add_ats(vf, bad, true), std::invalid_argument);
    config_space none = plain_pf();
    EXPECT_THROW(ats_enabled(none), std::logic_error);
    EXPECT_THROW(ats_smallest_translation_unit(none), std::logic_error);
}

}  // namespace
}  // namespace iovsim::nic
