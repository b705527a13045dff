#include "sriov-nic/nic_functions.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "models/pcie/capabilities.h"

namespace iovsim::nic {
namespace {

using pcie::routing_id;
namespace fs = std::filesystem;

constexpr routing_id pf_at{1, 0, 0};  // 01:00.0, routing ID 0x0100

TEST(NicFunctions, NoVfsAtReset) {
    nic_functions nic(pf_at, pf_params{});
    EXPECT_EQ(nic.vf_count(), 0u);
    EXPECT_EQ(nic.config_read(pf_at, pcie::cfg::vendor_id, 4), 0x15928086u);
    // 01:02.0 would be VF 0 (0x0100 + 16): absent, reads all ones.
    EXPECT_FALSE(nic.present(routing_id{1, 2, 0}));
    EXPECT_EQ(nic.config_read(routing_id{1, 2, 0}, 0, 4), 0xffffffffu);
    EXPECT_EQ(nic.config_read(routing_id{1, 2, 0}, 0, 2), 0xffffu);
    EXPECT_FALSE(nic.config_write(routing_id{1, 2, 0}, 4, 2, 6));
    EXPECT_EQ(nic.function(routing_id{1, 2, 0}), nullptr);
    EXPECT_THROW(nic.vf(0), std::out_of_range);
    EXPECT_THROW(nic.vf_id(0), std::out_of_range);
    // Zero VFs through the driver model: nothing happens.
    nic.set_num_vfs(0);
    EXPECT_EQ(nic.vf_count(), 0u);
    EXPECT_FALSE(nic.sriov().vf_enable());
}

TEST(NicFunctions, PfCarriesSriovAriAtsMsixAndPcie) {
    nic_functions nic(pf_at, pf_params{});
    const auto& pf = nic.pf();
    EXPECT_TRUE(pf.find_capability(pcie::cap_id::msix).has_value());
    EXPECT_TRUE(pf.find_capability(pcie::cap_id::pci_express).has_value());
    EXPECT_TRUE(pf.find_ext_capability(pcie::ext_cap_id::ari).has_value());
    EXPECT_TRUE(pf.find_ext_capability(pcie::ext_cap_id::sriov).has_value());
    EXPECT_TRUE(pf.find_ext_capability(pcie::ext_cap_id::ats).has_value());
    EXPECT_EQ(pcie::msix_table_size(pf), 64u);
}

// VF k of the PF at 01:00.0 with ARI (offset 16, stride 1) has routing ID 0x0110 + k:
// bus = (0x110 + k) >> 8, device = ((0x110 + k) >> 3) & 31, function = (0x110 + k) & 7.
struct vf_case {
    unsigned num_vfs;
    routing_id last;  // routing ID of VF num_vfs - 1
};

class VfCreation : public ::testing::TestWithParam<vf_case> {};

TEST_P(VfCreation, RoutingIdsFromOffsetAndStride) {
    const vf_case c = GetParam();
    nic_functions nic(pf_at, pf_params{});
    nic.set_num_vfs(c.num_vfs);
    EXPECT_EQ(nic.vf_count(), c.num_vfs);
    EXPECT_TRUE(nic.sriov().vf_enable());
    EXPECT_TRUE(nic.sriov().vf_memory_space_enable());
    EXPECT_TRUE(nic.sriov().ari_capable_hierarchy());
    EXPECT_EQ(nic.sriov().num_vfs(), c.num_vfs);
    // VF 0: 0x0110 = 01:02.0.
    EXPECT_EQ(nic.vf_id(0), (routing_id{1, 2, 0}));
    EXPECT_EQ(nic.vf_id(c.num_vfs - 1), c.last);
    for (unsigned k = 0; k < c.num_vfs; ++k) {
        const routing_id id = nic.vf_id(k);
        EXPECT_EQ(id.value(), 0x0110u + k);
        ASSERT_EQ(nic.vf_index(id), std::optional<unsigned>{k});
        EXPECT_EQ(nic.vf(k).index(), k);
        EXPECT_EQ(nic.config_read(id, pcie::cfg::vendor_id, 4), 0xffffffffu);  // VF IDs 0xFFFF
        EXPECT_NE(nic.config_read(id, pcie::cfg::status, 2), 0xffffu);         // but present
    }
    // The ID after the last VF, and the 15 between the PF and VF 0, hold no function.
    EXPECT_FALSE(nic.present(routing_id::from_value(0x0110 + c.num_vfs)));
    EXPECT_FALSE(nic.present(routing_id{1, 0, 1}));
    EXPECT_FALSE(nic.present(routing_id{1, 1, 7}));  // 0x010f
    EXPECT_TRUE(nic.is_pf(pf_at));
    // Disabling removes them all.
    nic.set_num_vfs(0);
    EXPECT_EQ(nic.vf_count(), 0u);
    EXPECT_FALSE(nic.present(routing_id{1, 2, 0}));
}

INSTANTIATE_TEST_SUITE_P(NicFunctions, VfCreation,
                         ::testing::Values(vf_case{1, {1, 2, 0}},   // 0x0110
                                           vf_case{8, {1, 2, 7}},   // 0x0117
                                           vf_case{64, {1, 9, 7}},  // 0x0110 + 63 = 0x014f
                                           vf_case{256,
                                                   {2, 1, 7}}),  // 0x0110 + 255 = 0x020f: on bus 2
                         [](const ::testing::TestParamInfo<vf_case>& i) {
                             return std::to_string(i.param.num_vfs) + "Vfs";
                         });

TEST(NicFunctions, TwoHundredFiftySixVfsCrossIntoTheNextBus) {
    nic_functions nic(pf_at, pf_params{});
    nic.set_num_vfs(256);
    // VF 239 = 0x0110 + 239 = 0x01ff = 01:1f.7; VF 240 = 0x0200 = 02:00.0.
    EXPECT_EQ(nic.vf_id(239), (routing_id{1, 31, 7}));
    EXPECT_EQ(nic.vf_id(240), (routing_id{2, 0, 0}));
    EXPECT_EQ(nic.vf_index(routing_id{2, 0, 0}), std::optional<unsigned>{240});
    EXPECT_FALSE(nic.present(routing_id{2, 2, 0}));  // 0x0210 = VF 256: beyond
}

TEST(NicFunctions, WithoutAriVfsFollowThePfOnItsDevice) {
    nic_functions nic(pf_at, pf_params{});
    nic.set_num_vfs(7, false);
    // Offset 1, stride 1: VF k = 0x0101 + k: 01:00.1 .. 01:00.7.
    EXPECT_EQ(nic.vf_id(0), (routing_id{1, 0, 1}));
    EXPECT_EQ(nic.vf_id(6), (routing_id{1, 0, 7}));
}

TEST(NicFunctions, ChangingTheCountGoesThroughZero) {
    nic_functions nic(pf_at, pf_params{});
    nic.set_num_vfs(4);
    nic.config_write(nic.vf_id(3), pcie::cfg::command, 2, pcie::cfg::command_bus_master);
    EXPECT_TRUE(nic.vf(3).bus_master_enabled());
    nic.set_num_vfs(8);
    EXPECT_EQ(nic.vf_count(), 8u);
    EXPECT_FALSE(nic.vf(3).bus_master_enabled());  // a new VF, reset state
}

TEST(NicFunctions, NumVfsAboveTotalVfsIsAClearError) {
    nic_functions nic(pf_at, pf_params{});
    try {
        nic.set_num_vfs(257);
        FAIL() << "no error for 257 VFs";
    } catch (const std::invalid_argument& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("nic.num_vfs"), std::string::npos) << msg;
        EXPECT_NE(msg.find("257"), std::string::npos) << msg;
        EXPECT_NE(msg.find("TotalVFs (256)"), std::string::npos) << msg;
    }
    EXPECT_EQ(nic.vf_count(), 0u);
    // Software that writes NumVFs = 300 itself and sets VF Enable gets no VFs.
    const std::uint16_t at = nic.sriov().offset();
    nic.pf().write(at + sriov_reg::num_vfs, 2, 300);
    nic.pf().write(at + sriov_reg::control, 2, sriov_reg::vf_enable);
    EXPECT_EQ(nic.vf_count(), 0u);
    EXPECT_NE(nic.vf_enable_error().find("NumVFs 300 above TotalVFs 256"), std::string::npos)
        << nic.vf_enable_error();
    // Clearing VF Enable and trying again with a valid count works.
    nic.set_num_vfs(2);
    EXPECT_EQ(nic.vf_count(), 2u);
    EXPECT_TRUE(nic.vf_enable_error().empty());
}

TEST(NicFunctions, VfsPastBus255AreAnError) {
    nic_functions nic(routing_id{0xff, 0, 0}, pf_params{});
    // 0xff00 + 16 + 239 = 0xffff is the last ID; 241 VFs would need 0x10000.
    EXPECT_THROW(nic.set_num_vfs(241), std::runtime_error);
    EXPECT_EQ(nic.vf_count(), 0u);
    nic.set_num_vfs(240);
    EXPECT_EQ(nic.vf_id(239), (routing_id{0xff, 31, 7}));
}

TEST(VfConfig, ConfigurationSpaceAsTheSpecDefinesIt) {
    nic_functions nic(pf_at, pf_params{});
    nic.set_num_vfs(4);
    const routing_id vf1 = nic.vf_id(1);
    const auto rd = [&](std::uint16_t off, unsigned size) {
        return nic.config_read(vf1, off, size);
    };
    EXPECT_EQ(rd(pcie::cfg::vendor_id, 2), 0xffffu);
    EXPECT_EQ(rd(pcie::cfg::device_id, 2), 0xffffu);
    EXPECT_EQ(rd(pcie::cfg::revision_id, 1), 0x02u);            // the PF's
    EXPECT_EQ(rd(pcie::cfg::revision_id, 4) >> 8, 0x020000u);   // the PF's class code
    EXPECT_EQ(rd(pcie::cfg::subsystem_vendor_id, 2), 0x8086u);  // the PF's
    EXPECT_EQ(rd(pcie::cfg::header_type, 1), 0u);
    EXPECT_EQ(rd(pcie::cfg::interrupt_pin, 1), 0u);
    // BARs read 0, also after an all-ones write.
    for (int i = 0; i < 6; ++i) {
        const auto bar = static_cast<std::uint16_t>(pcie::cfg::bar0 + 4 * i);
        nic.config_write(vf1, bar, 4, 0xffffffff);
        EXPECT_EQ(rd(bar, 4), 0u) << i;
    }
    // Command: only Bus Master (and parity/SERR) stick; Memory Space is RO 0.
    nic.config_write(vf1, pcie::cfg::command, 2, 0xffff);
    EXPECT_EQ(rd(pcie::cfg::command, 2),
              unsigned{pcie::cfg::command_bus_master | pcie::cfg::command_parity_error_response |
                       pcie::cfg::command_serr_enable});
    // Capabilities: MSI-X (17 vectors, table in VF BAR3 at 0, PBA at 0x2000), PCIe endpoint,
    // ARI, ATS.
    const pcie::config_space& cs = nic.vf(1).config();
    EXPECT_EQ(pcie::msix_table_size(cs), 17u);
    EXPECT_EQ(pcie::msix_table(cs).bir, 3);
    EXPECT_EQ(pcie::msix_pba(cs).offset, 0x2000u);
    EXPECT_EQ(pcie::port_type(cs), pcie::pcie_port_type::endpoint);
    EXPECT_TRUE(cs.find_ext_capability(pcie::ext_cap_id::ari).has_value());
    EXPECT_TRUE(cs.find_ext_capability(pcie::ext_cap_id::ats).has_value());
    EXPECT_FALSE(cs.find_ext_capability(pcie::ext_cap_id::sriov).has_value());
    // Each VF has its own MSI-X Enable.
    const std::uint16_t mc = *cs.find_capability(pcie::cap_id::msix) + 2;
    nic.config_write(vf1, mc, 2, pcie::msix_reg::enable);
    EXPECT_TRUE(pcie::msix_enabled(nic.vf(1).config()));
    EXPECT_FALSE(pcie::msix_enabled(nic.vf(0).config()));
}

TEST(VfConfig, DecodeUsesThePfsVfBarsAndVfMse) {
    nic_functions nic(pf_at, pf_params{});
    nic.set_num_vfs(4);
    nic.sriov().assign_vf_bar(0, 0x4000000000ull);
    nic.sriov().assign_vf_bar(3, 0x4000100000ull);
    const vf_config& vf2 = nic.vf(2);
    // VF 2's BAR0 copy: 0x40_0000_0000 + 2 × 128 KiB = 0x40_0004_0000; BAR3: + 2 × 16 KiB.
    EXPECT_EQ(vf2.bar_address(0), 0x4000040000ull);
    EXPECT_EQ(vf2.bar_address(3), 0x4000108000ull);
    EXPECT_EQ(vf2.bar_size(0), 128u * 1024);
    auto d = vf2.decode(0x4000040010ull, 4);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->first, 0);
    EXPECT_EQ(d->second, 0x10u);
    d = vf2.decode(0x4000108000ull + 0x2000, 8);  // its PBA
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->first, 3);
    EXPECT_EQ(d->second, 0x2000u);
    // VF 1's and VF 3's copies are not VF 2's; a straddling access belongs to neither.
    EXPECT_FALSE(vf2.decode(0x4000020000ull, 4).has_value());
    EXPECT_FALSE(vf2.decode(0x4000060000ull, 4).has_value());
    EXPECT_FALSE(vf2.decode(0x400005fffcull, 8).has_value());
    EXPECT_TRUE(nic.vf(3).decode(0x4000060000ull, 4).has_value());
    // The VF's own Command register cannot enable decoding; the PF's VF MSE disables it.
    const std::uint16_t ctl = nic.sriov().offset() + sriov_reg::control;
    nic.pf().write(ctl, 2, nic.sriov().control() & ~sriov_reg::vf_memory_space_enable);
    EXPECT_EQ(nic.vf_count(), 4u);  // VF Enable still set
    EXPECT_FALSE(vf2.memory_space_enabled());
    EXPECT_FALSE(vf2.decode(0x4000040010ull, 4).has_value());
}

TEST(VfConfig, BadMsixPlacementIsRejected) {
    pf_params p;
    p.vf.msix_table_bir = 2;  // no VF BAR2
    EXPECT_THROW(nic_functions(pf_at, p), std::invalid_argument);
    p = pf_params{};
    p.vf.msix_pba_offset = 0x4000;  // BAR3 is 16 KiB: the PBA would start at its end
    EXPECT_THROW(nic_functions(pf_at, p), std::invalid_argument);
    p = pf_params{};
    p.vf.msix_vectors = 0;
    EXPECT_THROW(nic_functions(pf_at, p), std::invalid_argument);
}

// --- The real lspci ---

std::string find_lspci() {
    for (const char* p : {"/usr/bin/lspci", "/usr/sbin/lspci", "/bin/lspci", "/sbin/lspci"}) {
        if (::access(p, X_OK) == 0) return p;
    }
    return {};
}

std::string run(const std::string& cmd) {
    std::string out;
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return out;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    ::pclose(f);
    return out;
}

TEST(NicLspci, PfWithFourVfsDecodes) {
    const std::string lspci = find_lspci();
    ASSERT_FALSE(lspci.empty()) << "lspci (pciutils) is not installed; scripts/setup installs it";
    nic_functions nic(pf_at, pf_params{});
    nic.pf().assign_bar(0, 0x3800000000ull);
    nic.set_num_vfs(4);
    nic.sriov().assign_vf_bar(0, 0x3802000000ull);
    nic.sriov().assign_vf_bar(3, 0x3802100000ull);
    const fs::path file =
        fs::temp_directory_path() / ("iovsim_nic_lspci_" + std::to_string(::getpid()) + ".txt");
    std::ofstream(file) << nic.lspci_dump();
    const std::string out = run(lspci + " -vvv -F '" + file.string() + "' 2>/dev/null");
    const std::string brief = run(lspci + " -F '" + file.string() + "' 2>/dev/null");
    std::error_code ec;
    fs::remove(file, ec);

    EXPECT_NE(out.find("01:00.0 Ethernet controller"), std::string::npos) << out;
    EXPECT_NE(out.find("Single Root I/O Virtualization (SR-IOV)"), std::string::npos) << out;
    EXPECT_NE(out.find("IOVCtl:\tEnable+ Migration- Interrupt- MSE+ ARIHierarchy+"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("Initial VFs: 256, Total VFs: 256, Number of VFs: 4"), std::string::npos)
        << out;
    EXPECT_NE(out.find("VF offset: 16, stride: 1, Device ID: 1889"), std::string::npos) << out;
    EXPECT_NE(out.find("Supported Page Size: 00000553, System Page Size: 00000001"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("Region 0: Memory at 0000003802000000 (64-bit, prefetchable)"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("Region 3: Memory at 0000003802100000 (64-bit, prefetchable)"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("Address Translation Service (ATS)"), std::string::npos) << out;
    EXPECT_NE(out.find("Alternative Routing-ID Interpretation (ARI)"), std::string::npos) << out;
    // The VFs at 0x0110..0x0113 = 01:02.0 .. 01:02.3, each named "Illegal Vendor ID".
    for (const char* slot : {"01:02.0", "01:02.1", "01:02.2", "01:02.3"}) {
        const auto at = brief.find(slot);
        ASSERT_NE(at, std::string::npos) << slot << "\n" << brief;
        const std::string line = brief.substr(at, brief.find('\n', at) - at);
        EXPECT_NE(line.find("Illegal Vendor ID"), std::string::npos) << line;
    }
    EXPECT_EQ(brief.find("01:02.4"), std::string::npos) << brief;
    EXPECT_NE(out.find("MSI-X: Enable- Count=17"), std::string::npos) << out;
}

}  // namespace
}  // namespace iovsim::nic
