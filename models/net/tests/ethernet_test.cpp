#include "models/net/ethernet.h"

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>

namespace iovsim::net {
namespace {

TEST(Crc32, CheckValueOfTheStandardString) {
    // The CRC-32/ISO-HDLC check value (the one 802.3 uses) of "123456789" is 0xCBF43926.
    const char* s = "123456789";
    EXPECT_EQ(crc32_ieee(reinterpret_cast<const std::uint8_t*>(s), std::strlen(s)), 0xcbf43926u);
}

TEST(MacAddress, ParsePrintAndClassify) {
    const mac_address m = mac_address::parse("02:00:5E:10:00:01");
    EXPECT_EQ(m.to_u64(), 0x02005e100001ull);
    EXPECT_EQ(m.to_string(), "02:00:5e:10:00:01");
    EXPECT_TRUE(m.is_unicast());
    EXPECT_FALSE(m.is_multicast());
    EXPECT_TRUE(mac_address::parse("01:00:5e:00:00:01").is_multicast());  // I/G bit set
    EXPECT_TRUE(mac_address::broadcast().is_broadcast());
    EXPECT_TRUE(mac_address::broadcast().is_multicast());
    EXPECT_EQ(mac_address::from_u64(0x0a0b0c0d0e0full).bytes()[0], 0x0a);
    EXPECT_TRUE(mac_address{}.is_zero());
}

TEST(MacAddress, BadTextIsAnError) {
    for (const char* bad :
         {"", "02:00:00:00:00", "02:00:00:00:00:0g", "02-00-00-00-00-01", "02:00:00:00:00:001"}) {
        EXPECT_THROW(mac_address::parse(bad), std::invalid_argument) << bad;
    }
}

ethernet_frame sample(std::size_t payload_bytes) {
    ethernet_frame f;
    f.dst = mac_address::parse("02:00:00:00:00:02");
    f.src = mac_address::parse("02:00:00:00:00:01");
    f.ether_type = ethertype::ipv4;
    for (std::size_t i = 0; i < payload_bytes; ++i)
        f.payload.push_back(static_cast<std::uint8_t>(i));
    return f;
}

TEST(EthernetFrame, LayoutOfAnUntaggedFrame) {
    const auto b = sample(100).serialize();
    // 6 + 6 + 2 header + 100 payload + 4 FCS = 118 bytes.
    ASSERT_EQ(b.size(), 118u);
    EXPECT_EQ(b[0], 0x02);
    EXPECT_EQ(b[5], 0x02);   // last byte of the destination
    EXPECT_EQ(b[11], 0x01);  // last byte of the source
    EXPECT_EQ(b[12], 0x08);  // EtherType 0x0800, network byte order
    EXPECT_EQ(b[13], 0x00);
    EXPECT_EQ(b[14], 0);  // payload starts
    EXPECT_EQ(b[113], 99);
    // FCS: the CRC of bytes 0..113, least significant byte first.
    const std::uint32_t fcs = crc32_ieee(b.data(), 114);
    EXPECT_EQ(b[114], fcs & 0xff);
    EXPECT_EQ(b[117], fcs >> 24);
    // Running the CRC over the frame with its FCS leaves the 802.3 residue 0x2144DF1C
    // (0xDEBB20E3 before the final inversion).
    EXPECT_EQ(crc32_ieee(b.data(), b.size()), 0x2144df1cu);
    EXPECT_EQ(sample(100).wire_bytes(), 118u);
}

TEST(EthernetFrame, ShortFramesArePaddedToSixtyFourBytes) {
    const ethernet_frame f = sample(10);  // 14 + 10 = 24 bytes of content
    const auto b = f.serialize();
    ASSERT_EQ(b.size(), 64u);  // padded to 60, plus FCS
    EXPECT_EQ(b[24], 0);       // padding is zero
    EXPECT_EQ(b[59], 0);
    EXPECT_EQ(f.wire_bytes(), 64u);
    EXPECT_EQ(f.serialize_without_fcs().size(), 60u);
}

TEST(EthernetFrame, VlanTagSitsBeforeTheEtherType) {
    ethernet_frame f = sample(100);
    f.vlan = vlan_tag{100, 5, false};
    const auto b = f.serialize();
    ASSERT_EQ(b.size(), 122u);  // 118 + 4-byte tag
    EXPECT_EQ(b[12], 0x81);
    EXPECT_EQ(b[13], 0x00);
    // TCI = PCP 5 << 13 | VID 100 = 0xa000 | 0x064 = 0xa064.
    EXPECT_EQ(b[14], 0xa0);
    EXPECT_EQ(b[15], 0x64);
    EXPECT_EQ(b[16], 0x08);
    EXPECT_EQ(f.wire_bytes(), 122u);
}

TEST(EthernetFrame, ParseRoundTripAndFcsCheck) {
    ethernet_frame f = sample(200);
    f.vlan = vlan_tag{42, 0, true};
    auto b = f.serialize();
    const ethernet_frame g = ethernet_frame::parse(b);
    EXPECT_EQ(g.dst, f.dst);
    EXPECT_EQ(g.src, f.src);
    ASSERT_TRUE(g.vlan.has_value());
    EXPECT_EQ(g.vlan->vid, 42);
    EXPECT_TRUE(g.vlan->dei);
    EXPECT_EQ(g.ether_type, ethertype::ipv4);
    EXPECT_EQ(g.payload, f.payload);

    b[20] ^= 1;  // one bit error
    EXPECT_THROW(ethernet_frame::parse(b), std::invalid_argument);
}

TEST(EthernetFrame, TruncatedFramesAreErrors) {
    EXPECT_THROW(ethernet_frame::parse(std::vector<std::uint8_t>(17, 0)), std::invalid_argument);
    EXPECT_THROW(ethernet_frame::parse_without_fcs(std::vector<std::uint8_t>(13, 0)),
                 std::invalid_argument);
    // A tagged header needs 18 bytes.
    std::vector<std::uint8_t> tagged(16, 0);
    tagged[12] = 0x81;
    EXPECT_THROW(ethernet_frame::parse_without_fcs(tagged), std::invalid_argument);
}

}  // namespace
}  // namespace iovsim::net
