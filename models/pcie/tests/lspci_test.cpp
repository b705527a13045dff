#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "models/pcie/capabilities.h"
#include "models/pcie/lspci_dump.h"

namespace iovsim::pcie {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// The hex lines ("OFF: xx …") of a dump, in order.
std::vector<std::string> hex_lines(const std::string& text) {
    std::vector<std::string> out;
    for (const std::string& l : lines_of(text)) {
        const auto colon = l.find(": ");
        if (colon >= 2 && colon <= 3 && l.find_first_not_of("0123456789abcdef") == colon) {
            out.push_back(l);
        }
    }
    return out;
}

// An endpoint with MSI-X + PCIe + PM + AER + ARI + ACS, programmed as enumeration would.
config_space programmed_endpoint() {
    endpoint_params p;  // 1b36:0005, class 00ff00
    p.bars = {{0, 64 * 1024, true, false}, {2, 1024 * 1024, true, true}};
    p.msix_vectors = 16;
    p.msix_table_offset = 0x2000;
    p.msix_pba_offset = 0x3000;
    p.link_speed = 3;
    p.link_width = 8;
    p.max_payload_supported = 512;
    p.acs = true;
    p.acs_capabilities = acs_reg::direct_translated_p2p;
    config_space cs = make_endpoint(p);
    cs.assign_bar(0, 0xfe000000);
    cs.assign_bar(2, 0xc0000000);
    cs.write(cfg::command, 2, cfg::command_memory_space | cfg::command_bus_master);
    cs.write(*cs.find_capability(cap_id::msix) + msix_reg::message_control, 2, msix_reg::enable);
    set_max_payload_size(cs, 256);
    set_max_read_request_size(cs, 512);
    return cs;
}

config_space programmed_root_port() {
    config_space rp = make_root_port(root_port_params{});  // 1b36:000c, gen3 x8, port 1
    rp.set_bus_numbers(0, 1, 1);
    rp.set_memory_window(0xfe000000, 0xfe0fffff);        // 1 MiB
    rp.set_prefetchable_window(0xc0000000, 0xc01fffff);  // 2 MiB
    rp.write(cfg::command, 2, cfg::command_memory_space | cfg::command_bus_master);
    return rp;
}

TEST(LspciDump, TextFormat) {
    config_space cs = programmed_endpoint();
    const std::string text = lspci_dump(routing_id{1, 0, 0}, cs);
    const auto lines = lines_of(text);
    // Slot line, 4096 / 16 = 256 hex lines, blank line.
    ASSERT_EQ(lines.size(), 258u);
    EXPECT_EQ(lines[0], "01:00.0 00ff: 1b36:0005");
    // Bytes 0..15: 36 1b 05 00 | command 0x0006 | status 0x0010 | rev 0 | class 00 ff 00 | …
    EXPECT_EQ(lines[1], "00: 36 1b 05 00 06 00 10 00 00 00 ff 00 00 00 00 00");
    EXPECT_EQ(lines[16].substr(0, 4), "f0: ");
    // 0x100: AER header 0x12c10001 little-endian = 01 00 c1 12.
    EXPECT_EQ(lines[17].substr(0, 17), "100: 01 00 c1 12 ");
    EXPECT_EQ(lines[256].substr(0, 5), "ff0: ");
    EXPECT_EQ(lines[257], "");
    EXPECT_EQ(text.back(), '\n');
    EXPECT_EQ(hex_lines(text).size(), 256u);

    const config_space rev(header_layout::type0,
                           function_identity{0x8086, 0x1572, 0x02, 0x020000, 0, 0, false});
    EXPECT_EQ(lines_of(lspci_dump(routing_id{0x3a, 0x1f, 7}, rev))[0],
              "3a:1f.7 0200: 8086:1572 (rev 02)");
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

class RealLspci : public ::testing::Test {
protected:
    void SetUp() override {
        m_lspci = find_lspci();
        ASSERT_FALSE(m_lspci.empty())
            << "lspci (pciutils) is not installed; scripts/setup installs it";
        m_file =
            fs::temp_directory_path() / ("iovsim_lspci_" + std::to_string(::getpid()) + ".txt");
        m_dump = lspci_dump(routing_id{0, 1, 0}, programmed_root_port()) +
                 lspci_dump(routing_id{1, 0, 0}, programmed_endpoint());
        std::ofstream(m_file) << m_dump;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove(m_file, ec);
    }
    // lspci's stderr (e.g. a libkmod warning) is dropped.
    std::string lspci(const std::string& args) {
        return run(m_lspci + " " + args + " -F '" + m_file.string() + "' 2>/dev/null");
    }
    // The part of `text` from the line starting with `slot` to the next blank line.
    static std::string function_block(const std::string& text, const std::string& slot) {
        const auto begin = text.find(slot + " ");
        if (begin == std::string::npos) return {};
        const auto end = text.find("\n\n", begin);
        return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    }

    std::string m_lspci;
    fs::path m_file;
    std::string m_dump;
};

TEST_F(RealLspci, DecodesTheEndpoint) {
    const std::string ep = function_block(lspci("-vvv"), "01:00.0");
    ASSERT_FALSE(ep.empty()) << lspci("-vvv");
    EXPECT_NE(ep.find("Control: I/O- Mem+ BusMaster+"), std::string::npos) << ep;
    EXPECT_NE(ep.find("Status: Cap+"), std::string::npos) << ep;
    // BARs as assigned (the dump cannot carry sizes, so lspci prints none).
    EXPECT_NE(ep.find("Region 0: Memory at fe000000 (64-bit, non-prefetchable)"), std::string::npos)
        << ep;
    EXPECT_NE(ep.find("Region 2: Memory at c0000000 (64-bit, prefetchable)"), std::string::npos)
        << ep;
    // Standard list at 0x40 (PM), 0x48 (MSI-X), 0x54 (PCIe).
    EXPECT_NE(ep.find("Capabilities: [40] Power Management version 3"), std::string::npos) << ep;
    EXPECT_NE(ep.find("Capabilities: [48] MSI-X: Enable+ Count=16 Masked-"), std::string::npos)
        << ep;
    EXPECT_NE(ep.find("Vector table: BAR=0 offset=00002000"), std::string::npos) << ep;
    EXPECT_NE(ep.find("PBA: BAR=0 offset=00003000"), std::string::npos) << ep;
    EXPECT_NE(ep.find("Capabilities: [54] Express (v2) Endpoint"), std::string::npos) << ep;
    EXPECT_NE(ep.find("DevCap:\tMaxPayload 512 bytes"), std::string::npos) << ep;
    EXPECT_NE(ep.find("MaxPayload 256 bytes, MaxReadReq 512 bytes"), std::string::npos) << ep;
    EXPECT_NE(ep.find("LnkCap:\tPort #0, Speed 8GT/s, Width x8"), std::string::npos) << ep;
    EXPECT_NE(ep.find("LnkSta:\tSpeed 8GT/s, Width x8"), std::string::npos) << ep;
    // Extended list: AER at 0x100 (0x2c bytes), ARI at 0x12c (8), ACS at 0x134.
    EXPECT_NE(ep.find("Capabilities: [100 v1] Advanced Error Reporting"), std::string::npos) << ep;
    EXPECT_NE(ep.find("Capabilities: [12c v1] Alternative Routing-ID Interpretation (ARI)"),
              std::string::npos)
        << ep;
    EXPECT_NE(ep.find("Capabilities: [134 v1] Access Control Services"), std::string::npos) << ep;
    EXPECT_NE(ep.find("DirectTrans+"), std::string::npos) << ep;
}

TEST_F(RealLspci, DecodesTheRootPort) {
    const std::string rp = function_block(lspci("-vvv"), "00:01.0");
    ASSERT_FALSE(rp.empty()) << lspci("-vvv");
    EXPECT_NE(rp.find("PCI bridge"), std::string::npos) << rp;
    EXPECT_NE(rp.find("Bus: primary=00, secondary=01, subordinate=01"), std::string::npos) << rp;
    // 0xfe000000 + 1 MiB - 1 = 0xfe0fffff; 0xc0000000 + 2 MiB - 1 = 0xc01fffff, 64-bit.
    EXPECT_NE(rp.find("Memory behind bridge: fe000000-fe0fffff [size=1M]"), std::string::npos)
        << rp;
    EXPECT_NE(rp.find("Prefetchable memory behind bridge: 00000000c0000000-00000000c01fffff "
                      "[size=2M]"),
              std::string::npos)
        << rp;
    EXPECT_NE(rp.find("Capabilities: [48] Express (v2) Root Port"), std::string::npos) << rp;
    EXPECT_NE(rp.find("LnkCap:\tPort #1, Speed 8GT/s, Width x8"), std::string::npos) << rp;
    EXPECT_NE(rp.find("Capabilities: [100 v1] Advanced Error Reporting"), std::string::npos) << rp;
    // Root-port AER is 0x38 bytes: ACS at 0x138.
    EXPECT_NE(rp.find("Capabilities: [138 v1] Access Control Services"), std::string::npos) << rp;
    EXPECT_NE(rp.find("SrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+"), std::string::npos)
        << rp;
}

TEST_F(RealLspci, HexDumpRoundTrips) {
    const std::string out = lspci("-xxxx");
    // Two functions, 256 hex lines each, the same bytes as written.
    EXPECT_EQ(hex_lines(out), hex_lines(m_dump));
    EXPECT_EQ(hex_lines(out).size(), 512u);
    EXPECT_NE(out.find("00:01.0 "), std::string::npos);
    EXPECT_NE(out.find("01:00.0 "), std::string::npos);
}

}  // namespace
}  // namespace iovsim::pcie
