#include "models/net/pcap.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "models/net/ethernet.h"

namespace iovsim::net {
namespace {

namespace fs = std::filesystem;

class Pcap : public ::testing::Test {
protected:
    void SetUp() override {
        m_file = fs::temp_directory_path() /
                 ("iovsim_pcap_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".pcap");
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove(m_file, ec);
    }
    fs::path m_file;
};

ethernet_frame frame(std::uint64_t dst, std::uint64_t src, std::uint16_t type) {
    ethernet_frame f;
    f.dst = mac_address::from_u64(dst);
    f.src = mac_address::from_u64(src);
    f.ether_type = type;
    f.payload.assign(46, 0xab);
    return f;
}

TEST_F(Pcap, FileLayoutAndReadBack) {
    {
        pcap_writer w(m_file.string());
        // 1.5 s + 250 ns + 999 ps: the picoseconds are truncated.
        w.write(1500000250999ull,
                frame(0x020000000002, 0x020000000001, 0x0800).serialize_without_fcs());
        w.write(2000000000000ull,
                frame(0xffffffffffff, 0x020000000003, 0x0806).serialize_without_fcs());
        EXPECT_EQ(w.packets(), 2u);
    }
    // 24-byte header + 2 × (16-byte record header + 60 bytes).
    EXPECT_EQ(fs::file_size(m_file), 24u + 2u * (16u + 60u));
    std::ifstream in(m_file, std::ios::binary);
    unsigned char h[24];
    in.read(reinterpret_cast<char*>(h), 24);
    EXPECT_EQ(h[0], 0x4d);  // 0xa1b23c4d, little endian
    EXPECT_EQ(h[3], 0xa1);
    EXPECT_EQ(h[20], 1);  // LINKTYPE_ETHERNET

    const pcap_file f = read_pcap(m_file.string());
    EXPECT_TRUE(f.nanosecond);
    EXPECT_EQ(f.link_type, linktype_ethernet);
    EXPECT_EQ(f.snaplen, pcap_snaplen);
    ASSERT_EQ(f.records.size(), 2u);
    EXPECT_EQ(f.records[0].time, 1500000250000ull);
    EXPECT_EQ(f.records[1].time, 2000000000000ull);
    EXPECT_EQ(f.records[0].original_length, 60u);
    const ethernet_frame g = ethernet_frame::parse_without_fcs(f.records[1].bytes);
    EXPECT_TRUE(g.dst.is_broadcast());
    EXPECT_EQ(g.ether_type, 0x0806);
}

TEST_F(Pcap, WriterErrors) {
    EXPECT_THROW(pcap_writer("/nonexistent-dir/x.pcap"), std::runtime_error);
    pcap_writer w(m_file.string());
    w.write(1000, std::vector<std::uint8_t>(60, 0));
    EXPECT_THROW(w.write(999, std::vector<std::uint8_t>(60, 0)), std::invalid_argument);
    EXPECT_THROW(w.write(2000, std::vector<std::uint8_t>(pcap_snaplen + 1, 0)),
                 std::invalid_argument);
}

TEST_F(Pcap, ReaderErrors) {
    EXPECT_THROW(read_pcap("/nonexistent-dir/x.pcap"), std::runtime_error);
    std::ofstream(m_file, std::ios::binary) << "not a pcap file at all, really";
    EXPECT_THROW(read_pcap(m_file.string()), std::runtime_error);
    { std::ofstream(m_file, std::ios::binary | std::ios::trunc) << "short"; }
    EXPECT_THROW(read_pcap(m_file.string()), std::runtime_error);
    {
        pcap_writer w(m_file.string());
        w.write(0, std::vector<std::uint8_t>(60, 0));
    }
    fs::resize_file(m_file, fs::file_size(m_file) - 1);  // truncated record
    EXPECT_THROW(read_pcap(m_file.string()), std::runtime_error);
    fs::resize_file(m_file, 24 + 8);  // truncated record header
    EXPECT_THROW(read_pcap(m_file.string()), std::runtime_error);
}

TEST_F(Pcap, MicrosecondBigEndianFilesAreRead) {
    // A big-endian microsecond file with one 14-byte packet at 3 s + 7 µs.
    const unsigned char bytes[] = {0xa1, 0xb2, 0xc3, 0xd4, 0,    2,   0, 4,  0, 0, 0, 0, 0, 0, 0, 0,
                                   0,    0,    0xff, 0xff, 0,    0,   0, 1,  0, 0, 0, 3, 0, 0, 0, 7,
                                   0,    0,    0,    14,   0,    0,   0, 14, 1, 2, 3, 4, 5, 6, 7, 8,
                                   9,    10,   11,   12,   0x08, 0x00};
    std::ofstream(m_file, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes), sizeof bytes);
    const pcap_file f = read_pcap(m_file.string());
    EXPECT_FALSE(f.nanosecond);
    EXPECT_EQ(f.snaplen, 65535u);
    ASSERT_EQ(f.records.size(), 1u);
    EXPECT_EQ(f.records[0].time, 3000007000000ull);  // 3 s + 7 µs in ps
    EXPECT_EQ(f.records[0].bytes.size(), 14u);
}

std::string find_tshark() {
    for (const char* p : {"/usr/bin/tshark", "/usr/local/bin/tshark", "/usr/sbin/tshark"}) {
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

TEST_F(Pcap, TsharkReadsTheFile) {
    const std::string tshark = find_tshark();
    ASSERT_FALSE(tshark.empty()) << "tshark is not installed; scripts/setup installs it";
    {
        pcap_writer w(m_file.string());
        w.write(1000, frame(0x020000000002, 0x020000000001, 0x0800).serialize_without_fcs());
        ethernet_frame tagged = frame(0x01005e000001, 0x020000000003, 0x86dd);
        tagged.vlan = vlan_tag{7, 0, false};
        w.write(2000, tagged.serialize_without_fcs());
    }
    const std::string out = run(tshark + " -r '" + m_file.string() +
                                "' -T fields -e eth.src -e eth.dst -e eth.type -e vlan.id -e "
                                "vlan.etype -e frame.time_epoch 2>/dev/null");
    // A tagged frame's eth.type is the TPID 0x8100; vlan.etype is the EtherType behind the tag.
    EXPECT_NE(out.find("02:00:00:00:00:01\t02:00:00:00:00:02\t0x0800\t\t\t0.000000001"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("02:00:00:00:00:03\t01:00:5e:00:00:01\t0x8100\t7\t0x86dd\t0.000000002"),
              std::string::npos)
        << out;
}

}  // namespace
}  // namespace iovsim::net
