#include "models/net/pcap.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/core/log.h"
#include "models/net/ethernet.h"
#include "models/net/frame_port.h"

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

// wire_capture holds a frame until the kernel time passes it, then writes it in time order. A
// frame handed over later than the contract allows (its time already behind a written one) or
// above the snaplen is left out, logged and counted: neither capture(), flush() nor the
// destructor throws, and the file stays a valid pcap in time order.
TEST_F(Pcap, WireCaptureLeavesOutWhatItCannotWriteAndNeverThrows) {
    std::vector<std::string> lines;
    core::set_log_sink([&](std::string_view l) { lines.emplace_back(l); });
    const std::vector<std::uint8_t> f64(64, 0x11);  // 60 B stored (the FCS is cut)
    {
        wire_capture c(m_file.string());
        c.capture(1000, f64, 0);  // held: the kernel is at 0
        c.capture(3000, f64, 0);
        c.capture(5000, f64, 4000);  // kernel at 4000: frames at 1000 and 3000 are written
        // A frame for time 2000 handed over at kernel time 6000: it is behind the 3000 already
        // in the file and is left out; 5000 is written.
        EXPECT_NO_THROW(c.capture(2000, f64, 6000));
        EXPECT_EQ(c.write_errors(), 1u);
        // Larger than the snaplen (262144 B): held until flush, then left out.
        EXPECT_NO_THROW(c.capture(7000, std::vector<std::uint8_t>(pcap_snaplen + 5, 0), 6000));
        c.capture(8000, f64, 6000);  // still pending at destruction
        EXPECT_NO_THROW(c.flush());
        EXPECT_EQ(c.write_errors(), 2u);
        c.capture(9000, f64, 6000);  // the destructor flushes this one
    }
    core::reset_logging();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_NE(lines[0].find("net.pcap: error:"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("earlier than the previous one"), std::string::npos) << lines[0];
    EXPECT_NE(lines[1].find("exceeds the snaplen"), std::string::npos) << lines[1];
    // 1000, 3000, 5000, 8000 and 9000 ps: whole nanoseconds 1, 3, 5, 8, 9.
    const pcap_file f = read_pcap(m_file.string());
    ASSERT_EQ(f.records.size(), 5u);
    const tick_t want[] = {1, 3, 5, 8, 9};
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(f.records[i].time, want[i] * ticks_per_ns);
        EXPECT_EQ(f.records[i].bytes.size(), 60u);
    }
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
