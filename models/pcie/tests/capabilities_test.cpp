#include "models/pcie/capabilities.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace iovsim::pcie {
namespace {

endpoint_params full_endpoint() {
    endpoint_params p;  // BAR0 64 KiB 64-bit; MSI-X 16 vectors, table 0x2000, PBA 0x3000
    p.acs = true;
    p.acs_capabilities = acs_reg::direct_translated_p2p;
    p.ari_next_function = 1;
    return p;
}

// --- Chains ---

TEST(Capabilities, EndpointStandardChainFromTheCapabilitiesPointer) {
    const config_space cs = make_endpoint(full_endpoint());
    // PM: 8 bytes at 0x40 -> MSI-X: 12 bytes at 0x48 -> PCIe v2: 0x3c bytes at 0x54 -> end.
    EXPECT_TRUE(cs.read(cfg::status, 2) & cfg::status_capabilities_list);
    EXPECT_EQ(cs.read(cfg::capabilities_pointer, 1), 0x40u);
    EXPECT_EQ(cs.read(0x40, 2), 0x4801u);  // ID 0x01, next 0x48
    EXPECT_EQ(cs.read(0x48, 2), 0x5411u);  // ID 0x11, next 0x54
    EXPECT_EQ(cs.read(0x54, 2), 0x0010u);  // ID 0x10, next 0 (end)
    const auto caps = cs.capabilities();
    ASSERT_EQ(caps.size(), 3u);
    EXPECT_EQ(caps[0].id, cap_id::power_management);
    EXPECT_EQ(caps[0].offset, 0x40);
    EXPECT_EQ(caps[1].id, cap_id::msix);
    EXPECT_EQ(caps[1].offset, 0x48);
    EXPECT_EQ(caps[2].id, cap_id::pci_express);
    EXPECT_EQ(caps[2].offset, 0x54);
    EXPECT_EQ(cs.find_capability(cap_id::msix), std::optional<std::uint16_t>{0x48});
    EXPECT_FALSE(cs.find_capability(cap_id::msi).has_value());
}

TEST(Capabilities, EndpointExtendedChainFrom0x100) {
    const config_space cs = make_endpoint(full_endpoint());
    // AER v1 endpoint: 0x2c bytes at 0x100 -> ARI at 0x12c (8 bytes) -> ACS at 0x134 -> end.
    // Header = next << 20 | version << 16 | ID.
    EXPECT_EQ(cs.read(0x100, 4), 0x12c10001u);
    EXPECT_EQ(cs.read(0x12c, 4), 0x1341000eu);
    EXPECT_EQ(cs.read(0x134, 4), 0x0001000du);
    const auto caps = cs.ext_capabilities();
    ASSERT_EQ(caps.size(), 3u);
    EXPECT_EQ(caps[0].id, ext_cap_id::aer);
    EXPECT_EQ(caps[0].offset, 0x100);
    EXPECT_EQ(caps[0].version, 1);
    EXPECT_EQ(caps[1].id, ext_cap_id::ari);
    EXPECT_EQ(caps[1].offset, 0x12c);
    EXPECT_EQ(caps[2].id, ext_cap_id::acs);
    EXPECT_EQ(caps[2].offset, 0x134);
    EXPECT_EQ(cs.find_ext_capability(ext_cap_id::ari), std::optional<std::uint16_t>{0x12c});
    EXPECT_FALSE(cs.find_ext_capability(ext_cap_id::sriov).has_value());
}

TEST(Capabilities, NoCapabilitiesMeansEmptyLists) {
    const config_space cs(header_layout::type0, function_identity{});
    EXPECT_EQ(cs.read(cfg::status, 2), 0u);
    EXPECT_TRUE(cs.capabilities().empty());
    EXPECT_TRUE(cs.ext_capabilities().empty());
    EXPECT_EQ(cs.read(0x100, 4), 0u);
}

TEST(Capabilities, LaterCapabilitiesPlugInTheSameWay) {
    config_space cs = make_endpoint(full_endpoint());
    // An SR-IOV capability (0x40 bytes, version 1) after ACS at 0x134 (8 bytes) lands at 0x13c,
    // and ACS's next pointer now names it.
    const std::uint16_t sriov = cs.add_ext_capability(ext_cap_id::sriov, 1, 0x40);
    EXPECT_EQ(sriov, 0x13c);
    EXPECT_EQ(cs.read(0x134, 4), 0x13c1000du);
    EXPECT_EQ(cs.read(0x13c, 4), 0x00010010u);
    // A vendor-specific standard capability (ID 0x09, 6 bytes rounded up to 8) after PCIe,
    // which ends at 0x54 + 0x3c = 0x90.
    const std::uint16_t vsc = cs.add_capability(0x09, 6);
    EXPECT_EQ(vsc, 0x90);
    EXPECT_EQ(cs.read(0x55, 1), 0x90u);
    EXPECT_EQ(cs.capabilities().back().id, 0x09);
}

TEST(Capabilities, ListsThatOverflowThrow) {
    config_space cs(header_layout::type0, function_identity{});
    // 0x40..0xff holds 0xc0 bytes.
    EXPECT_EQ(cs.add_capability(0x09, 0xbc), 0x40);
    EXPECT_THROW(cs.add_capability(0x09, 8), std::length_error);
    EXPECT_EQ(cs.add_capability(0x09, 4), 0xfc);
    EXPECT_THROW(cs.add_capability(0x09, 4), std::length_error);
    // 0x100..0xfff holds 0xf00 bytes.
    EXPECT_EQ(cs.add_ext_capability(0x000b, 1, 0xe00), 0x100);
    EXPECT_THROW(cs.add_ext_capability(0x000b, 1, 0x104), std::length_error);
    EXPECT_THROW(cs.add_ext_capability(0x000b, 16, 8), std::length_error);  // version is 4 bits
    EXPECT_EQ(cs.add_ext_capability(0x000b, 1, 0x100), 0xf00);
}

// --- Power Management ---

TEST(Capabilities, PowerManagementRegisters) {
    config_space cs = make_endpoint(full_endpoint());
    // PMC: version 011b (PM 1.2) = 0x0003. PMCSR: No_Soft_Reset (bit 3) = 0x0008.
    EXPECT_EQ(cs.read(0x40 + pm_reg::pmc, 2), 0x0003u);
    EXPECT_EQ(cs.read(0x40 + pm_reg::pmcsr, 2), 0x0008u);
    cs.write(0x40 + pm_reg::pmcsr, 2, 0xffff);  // only PowerState (1:0) is writable
    EXPECT_EQ(cs.read(0x40 + pm_reg::pmcsr, 2), 0x000bu);
    cs.write(0x40, 4, 0);  // ID, next, PMC read-only
    EXPECT_EQ(cs.read(0x40, 4), 0x00034801u);
}

// --- MSI-X ---

TEST(Capabilities, MsixTableSizeFieldIsNMinusOne) {
    endpoint_params p = full_endpoint();
    const config_space cs16 = make_endpoint(p);
    EXPECT_EQ(cs16.read(0x48 + msix_reg::message_control, 2), 15u);  // 16 - 1
    EXPECT_EQ(msix_table_size(cs16), 16u);
    // 2048 vectors: table 2048 * 16 = 32 KiB at 0x2000 needs 40 KiB; PBA 2048 / 64 * 8 = 256 B.
    p.bars = {{0, 64 * 1024, true, false}};
    p.msix_vectors = 2048;
    p.msix_pba_offset = 0xa000;
    const config_space cs2k = make_endpoint(p);
    EXPECT_EQ(cs2k.read(0x48 + msix_reg::message_control, 2), 0x7ffu);
    EXPECT_EQ(msix_table_size(cs2k), 2048u);
    p.msix_vectors = 1;
    EXPECT_EQ(make_endpoint(p).read(0x48 + msix_reg::message_control, 2), 0u);
}

TEST(Capabilities, MsixEnableAndFunctionMaskAreTheOnlyWritableBits) {
    config_space cs = make_endpoint(full_endpoint());
    const std::uint16_t mc = 0x48 + msix_reg::message_control;
    EXPECT_FALSE(msix_enabled(cs));
    EXPECT_FALSE(msix_function_masked(cs));
    cs.write(mc, 2, 0xffff);
    // 0x8000 Enable | 0x4000 Function Mask | table size 15.
    EXPECT_EQ(cs.read(mc, 2), 0xc00fu);
    EXPECT_TRUE(msix_enabled(cs));
    EXPECT_TRUE(msix_function_masked(cs));
    cs.write(mc + 1, 1, 0x80);  // high byte: Enable only
    EXPECT_TRUE(msix_enabled(cs));
    EXPECT_FALSE(msix_function_masked(cs));
    EXPECT_EQ(msix_table_size(cs), 16u);
}

TEST(Capabilities, MsixTableAndPbaLocations) {
    endpoint_params p = full_endpoint();
    p.bars = {{0, 16 * 1024, false, false}, {2, 4096, true, false}};
    p.msix_table_bir = 2;
    p.msix_table_offset = 0x0;
    p.msix_pba_bir = 0;
    p.msix_pba_offset = 0x3800;
    const config_space cs = make_endpoint(p);
    // Table Offset/BIR = offset | BIR: 0x0 | 2; PBA = 0x3800 | 0.
    EXPECT_EQ(cs.read(0x48 + msix_reg::table_offset_bir, 4), 0x00000002u);
    EXPECT_EQ(cs.read(0x48 + msix_reg::pba_offset_bir, 4), 0x00003800u);
    EXPECT_EQ(msix_table(cs).bir, 2);
    EXPECT_EQ(msix_table(cs).offset, 0u);
    EXPECT_EQ(msix_pba(cs).bir, 0);
    EXPECT_EQ(msix_pba(cs).offset, 0x3800u);
}

TEST(Capabilities, MsixParameterErrors) {
    endpoint_params p = full_endpoint();
    p.msix_vectors = 2049;
    EXPECT_THROW(make_endpoint(p), std::invalid_argument);
    p = full_endpoint();
    p.msix_table_bir = 3;  // no BAR 3 (BAR 0 is 64-bit, 1 is its upper half)
    EXPECT_THROW(make_endpoint(p), std::invalid_argument);
    p = full_endpoint();
    p.msix_table_bir = 1;  // upper half of BAR 0
    EXPECT_THROW(make_endpoint(p), std::invalid_argument);
    p = full_endpoint();
    p.msix_pba_offset = 0x3004;  // not 8-byte aligned
    EXPECT_THROW(make_endpoint(p), std::invalid_argument);
    p = full_endpoint();
    // 64 KiB BAR, 1024 vectors: table 0x2000 + 1024 * 16 = 0x6000 fits; at 0xe000 it would end
    // at 0x12000, past 0x10000.
    p.msix_vectors = 1024;
    p.msix_table_offset = 0xe000;
    p.msix_pba_offset = 0x1000;
    EXPECT_THROW(make_endpoint(p), std::invalid_argument);
    p = full_endpoint();
    p.msix_pba_offset = 0xfff8 + 8;  // 16 vectors: PBA 8 bytes, must start at 0xfff8 at most
    EXPECT_THROW(make_endpoint(p), std::invalid_argument);
    p.msix_pba_offset = 0xfff8;
    EXPECT_NO_THROW(make_endpoint(p));
    p = full_endpoint();
    p.msix_vectors = 0;  // no MSI-X at all: PCIe moves up to 0x48
    const config_space cs = make_endpoint(p);
    EXPECT_FALSE(cs.find_capability(cap_id::msix).has_value());
    EXPECT_EQ(cs.find_capability(cap_id::pci_express), std::optional<std::uint16_t>{0x48});
    EXPECT_THROW(msix_enabled(cs), std::logic_error);
    EXPECT_THROW(msix_table_size(cs), std::logic_error);
}

// --- PCI Express capability ---

TEST(Capabilities, PayloadSizeEncodingIs128ShiftedByCode) {
    // 128 << 0 = 128, << 1 = 256, … << 5 = 4096.
    EXPECT_EQ(payload_size_code(128), 0);
    EXPECT_EQ(payload_size_code(256), 1);
    EXPECT_EQ(payload_size_code(512), 2);
    EXPECT_EQ(payload_size_code(1024), 3);
    EXPECT_EQ(payload_size_code(2048), 4);
    EXPECT_EQ(payload_size_code(4096), 5);
    for (std::uint8_t c = 0; c <= 5; ++c) EXPECT_EQ(payload_size_bytes(c), 128u << c);
    EXPECT_THROW(payload_size_code(0), std::invalid_argument);
    EXPECT_THROW(payload_size_code(64), std::invalid_argument);
    EXPECT_THROW(payload_size_code(384), std::invalid_argument);
    EXPECT_THROW(payload_size_code(8192), std::invalid_argument);
    EXPECT_THROW(payload_size_bytes(6), std::invalid_argument);
    EXPECT_THROW(payload_size_bytes(7), std::invalid_argument);
}

TEST(Capabilities, PcieCapabilityRegistersOfAnEndpoint) {
    const config_space cs = make_endpoint(full_endpoint());  // gen3 x8, MPS supported 512
    const std::uint16_t at = 0x54;
    // Capabilities: version 2, type endpoint (0) = 0x0002.
    EXPECT_EQ(cs.read(at + pcie_reg::capabilities, 2), 0x0002u);
    EXPECT_EQ(port_type(cs), pcie_port_type::endpoint);
    // Device Capabilities: MPS code 2 | ExtTag (bit 5) | RBER (bit 15); FLR (bit 28) is not
    // advertised by default = 0x2 | 0x20 | 0x8000.
    EXPECT_EQ(cs.read(at + pcie_reg::device_capabilities, 4), 0x00008022u);
    EXPECT_EQ(max_payload_size_supported(cs), 512u);
    // Link Capabilities: speed 3 | width 8 << 4 | ASPM Optionality (bit 22) = 0x00400083.
    EXPECT_EQ(cs.read(at + pcie_reg::link_capabilities, 4), 0x00400083u);
    // Link Status: speed 3 | width 8 << 4 | Slot Clock (bit 12) = 0x1083.
    EXPECT_EQ(cs.read(at + pcie_reg::link_status, 2), 0x1083u);
    // Link Capabilities 2: Supported Link Speeds Vector bits 1..3 = 0b1110.
    EXPECT_EQ(cs.read(at + pcie_reg::link_capabilities_2, 4), 0xeu);
    // Link Control 2: Target Link Speed 3.
    EXPECT_EQ(cs.read(at + pcie_reg::link_control_2, 2), 0x3u);
    EXPECT_EQ(max_link_speed(cs), 3u);
    EXPECT_EQ(max_link_width(cs), 8u);
    EXPECT_EQ(link_speed(cs), 3u);
    EXPECT_EQ(link_width(cs), 8u);
}

TEST(Capabilities, DeviceControlMpsAndMrrs) {
    config_space cs = make_endpoint(full_endpoint());
    const std::uint16_t devctl = 0x54 + pcie_reg::device_control;
    // Reset: Relaxed Ordering (0x10) | No Snoop (0x800) | MRRS 512 = code 2 << 12 (0x2000),
    // MPS 128 = code 0.
    EXPECT_EQ(cs.read(devctl, 2), 0x2810u);
    EXPECT_EQ(max_payload_size(cs), 128u);
    EXPECT_EQ(max_read_request_size(cs), 512u);
    int hook_calls = 0;
    cs.on_write(devctl, 2, [&](std::uint16_t, unsigned) { ++hook_calls; });
    set_max_payload_size(cs, 256);  // code 1 << 5 = 0x20
    EXPECT_EQ(cs.read(devctl, 2), 0x2830u);
    set_max_read_request_size(cs, 4096);  // code 5 << 12 = 0x5000
    EXPECT_EQ(cs.read(devctl, 2), 0x5830u);
    EXPECT_EQ(max_payload_size(cs), 256u);
    EXPECT_EQ(max_read_request_size(cs), 4096u);
    EXPECT_EQ(hook_calls, 2);
    // Software writing the raw field: MPS 512 (2 << 5), MRRS 128 (0 << 12).
    cs.write(devctl, 2, 0x0040);
    EXPECT_EQ(max_payload_size(cs), 512u);
    EXPECT_EQ(max_read_request_size(cs), 128u);
    EXPECT_THROW(set_max_payload_size(cs, 1024), std::invalid_argument);  // above 512 supported
    EXPECT_THROW(set_max_read_request_size(cs, 100), std::invalid_argument);
}

TEST(Capabilities, DeviceStatusErrorBitsAreRw1c) {
    config_space cs = make_endpoint(full_endpoint());
    const std::uint16_t devsta = 0x54 + pcie_reg::device_status;
    cs.set_bits(devsta, 2, 0x0009);  // Correctable + Unsupported Request detected
    cs.write(devsta, 2, 0x0001);
    EXPECT_EQ(cs.read(devsta, 2), 0x0008u);
}

TEST(Capabilities, LinkStatusAsTrained) {
    config_space cs = make_endpoint(full_endpoint());
    set_link_status(cs, 2, 4);
    // Speed 2 | width 4 << 4 | Slot Clock 0x1000 = 0x1042.
    EXPECT_EQ(cs.read(0x54 + pcie_reg::link_status, 2), 0x1042u);
    EXPECT_EQ(link_speed(cs), 2u);
    EXPECT_EQ(link_width(cs), 4u);
    cs.write(0x54 + pcie_reg::link_status, 2, 0xffff);  // read-only for software
    EXPECT_EQ(link_speed(cs), 2u);
    EXPECT_THROW(set_link_status(cs, 4, 8), std::invalid_argument);   // beyond gen3
    EXPECT_THROW(set_link_status(cs, 3, 16), std::invalid_argument);  // beyond x8
    EXPECT_THROW(set_link_status(cs, 3, 3), std::invalid_argument);   // not a width
}

TEST(Capabilities, PcieParameterErrors) {
    endpoint_params p = full_endpoint();
    p.link_speed = 6;
    EXPECT_THROW(make_endpoint(p), std::invalid_argument);
    p = full_endpoint();
    p.link_width = 5;
    EXPECT_THROW(make_endpoint(p), std::invalid_argument);
    p = full_endpoint();
    p.max_payload_supported = 300;
    EXPECT_THROW(make_endpoint(p), std::invalid_argument);
    p = full_endpoint();
    p.interrupt_pin = 5;
    EXPECT_THROW(make_endpoint(p), std::invalid_argument);
    // A root port capability in a type-0 header, an endpoint in a type-1 header.
    config_space t0(header_layout::type0, function_identity{});
    pcie_cap_params rp;
    rp.type = pcie_port_type::root_port;
    EXPECT_THROW(add_pcie(t0, rp), std::invalid_argument);
    config_space t1(header_layout::type1, function_identity{});
    EXPECT_THROW(add_pcie(t1, pcie_cap_params{}), std::invalid_argument);
    // Helpers on a function without the capability.
    EXPECT_THROW(max_payload_size(t0), std::logic_error);
    EXPECT_THROW(set_max_read_request_size(t0, 512), std::logic_error);
    EXPECT_THROW(set_link_status(t0, 1, 1), std::logic_error);
}

// --- Extended capabilities ---

TEST(Capabilities, AerRegisters) {
    config_space cs = make_endpoint(full_endpoint());
    // Uncorrectable Severity resets to DLP(4) SDES(5) FCP(13) RxOF(17) MalfTLP(18):
    // 0x10 + 0x20 + 0x2000 + 0x20000 + 0x40000 = 0x62030.
    EXPECT_EQ(cs.read(0x100 + aer_reg::uncorrectable_severity, 4), 0x00062030u);
    // Correctable Mask resets to Advisory Non-Fatal (bit 13).
    EXPECT_EQ(cs.read(0x100 + aer_reg::correctable_mask, 4), 0x2000u);
    // Completion Timeout (bit 14) and Unsupported Request (bit 20) recorded, one cleared.
    cs.set_bits(0x100 + aer_reg::uncorrectable_status, 4, (1u << 14) | (1u << 20));
    cs.write(0x100 + aer_reg::uncorrectable_status, 4, 1u << 20);
    EXPECT_EQ(cs.read(0x100 + aer_reg::uncorrectable_status, 4), 1u << 14);
    // Mask: bits 4, 5, 12..21 writable = 0x003ff030; others (e.g. bit 0) read-only.
    cs.write(0x100 + aer_reg::uncorrectable_mask, 4, 0xffffffff);
    EXPECT_EQ(cs.read(0x100 + aer_reg::uncorrectable_mask, 4), 0x003ff030u);
}

TEST(Capabilities, AriAndAcs) {
    config_space cs = make_endpoint(full_endpoint());
    // ARI Capability: Next Function Number 1 << 8; control read-only 0.
    EXPECT_EQ(cs.read(0x12c + ari_reg::capability, 2), 0x0100u);
    cs.write(0x12c + ari_reg::control, 2, 0xffff);
    EXPECT_EQ(cs.read(0x12c + ari_reg::control, 2), 0u);
    // ACS: Direct Translated P2P (bit 6) only; control writable for that bit only.
    EXPECT_EQ(cs.read(0x134 + acs_reg::capability, 2), 0x0040u);
    cs.write(0x134 + acs_reg::control, 2, 0xffff);
    EXPECT_EQ(cs.read(0x134 + acs_reg::control, 2), 0x0040u);
    config_space other(header_layout::type0, function_identity{});
    EXPECT_THROW(add_acs(other, acs_reg::egress_control), std::invalid_argument);
}

// --- Root port ---

TEST(Capabilities, RootPortLayout) {
    config_space rp = make_root_port(root_port_params{});
    EXPECT_EQ(rp.layout(), header_layout::type1);
    // 1b36:000c, class 060400, header type 1.
    EXPECT_EQ(rp.read(cfg::vendor_id, 4), 0x000c1b36u);
    EXPECT_EQ(rp.read(cfg::revision_id, 4), 0x06040000u);
    EXPECT_EQ(rp.read(cfg::header_type, 1), 0x01u);
    // PM at 0x40 -> PCIe at 0x48. AER root-port variant 0x38 bytes at 0x100 -> ACS at 0x138.
    const auto caps = rp.capabilities();
    ASSERT_EQ(caps.size(), 2u);
    EXPECT_EQ(caps[1].offset, 0x48);
    EXPECT_EQ(rp.read(0x100, 4), 0x13810001u);
    EXPECT_EQ(rp.find_ext_capability(ext_cap_id::acs), std::optional<std::uint16_t>{0x138});
    // Capabilities: version 2 | root port (4) << 4 = 0x0042.
    EXPECT_EQ(rp.read(0x48 + pcie_reg::capabilities, 2), 0x0042u);
    EXPECT_EQ(port_type(rp), pcie_port_type::root_port);
    // Link Capabilities: speed 3 | x8 << 4 | DLL Active Reporting (20) | BW Notification (21)
    // | ASPM Optionality (22) | port 1 << 24 = 0x01700083.
    EXPECT_EQ(rp.read(0x48 + pcie_reg::link_capabilities, 4), 0x01700083u);
    // Device Capabilities 2: timeout ranges 0xf | disable (0x10) | ARI Forwarding (0x20).
    EXPECT_EQ(rp.read(0x48 + pcie_reg::device_capabilities_2, 4), 0x3fu);
    // ACS: SV TB RR CR UF = bits 0..4 = 0x1f.
    EXPECT_EQ(rp.read(0x138 + acs_reg::capability, 2), 0x001fu);
    // Root Error Status is RW1C.
    rp.set_bits(0x100 + aer_reg::root_error_status, 4, 0x5);
    rp.write(0x100 + aer_reg::root_error_status, 4, 0x4);
    EXPECT_EQ(rp.read(0x100 + aer_reg::root_error_status, 4), 0x1u);
}

}  // namespace
}  // namespace iovsim::pcie
