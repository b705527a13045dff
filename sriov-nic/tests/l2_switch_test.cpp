#include "sriov-nic/l2_switch.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace iovsim::nic {
namespace {

using net::mac_address;

const mac_address pf_mac = mac_address::parse("02:00:00:00:00:f0");
mac_address vf_mac(unsigned n) { return mac_address::from_u64(0x020000000100ull + n); }
const mac_address wire_mac = mac_address::parse("02:99:00:00:00:01");  // behind the uplink
const mac_address mcast = mac_address::parse("01:00:5e:00:00:01");

// PF, VFs 0..3 untagged; VF 4 and 5 in VLAN 10; VF 6 not configured.
l2_switch configured() {
    l2_switch sw(8);
    sw.set_pf(pf_mac);
    for (unsigned n = 0; n < 4; ++n) sw.set_vf(static_cast<std::uint16_t>(n), vf_mac(n));
    sw.set_vf(4, vf_mac(4), 10);
    sw.set_vf(5, vf_mac(5), 10);
    return sw;
}

TEST(L2Switch, PfToVfAndVfToPf) {
    l2_switch sw = configured();
    std::vector<port_id> out;
    auto d = sw.forward(port_id::pf(), vf_mac(2), pf_mac, std::nullopt, out);
    EXPECT_FALSE(d.drop.has_value());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], port_id::vf_port(2));
    d = sw.forward(port_id::vf_port(2), pf_mac, vf_mac(2), std::nullopt, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], port_id::pf());
    EXPECT_EQ(sw.stats().unicast_local, 2u);
}

// A bridge over the PF adds its ports' MACs: frames from the wire to them reach the PF; before,
// they were unknown unicast and dropped. The PF sends with any source (no spoof check).
TEST(L2Switch, FurtherPfAddressesReachThePf) {
    l2_switch sw = configured();
    const mac_address guest = mac_address::parse("02:00:00:02:00:01");
    std::vector<port_id> out;
    auto d = sw.forward(port_id::uplink(), guest, wire_mac, std::nullopt, out);
    EXPECT_EQ(d.drop, drop_reason::unknown_unicast_from_uplink);
    sw.add_pf_address(guest);
    d = sw.forward(port_id::uplink(), guest, wire_mac, std::nullopt, out);
    EXPECT_FALSE(d.drop.has_value());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], port_id::pf());
    d = sw.forward(port_id::pf(), wire_mac, guest, std::nullopt, out);
    EXPECT_FALSE(d.drop.has_value());
    EXPECT_THROW(sw.add_pf_address(vf_mac(1)), std::invalid_argument);  // VF 1's
    EXPECT_THROW(sw.add_pf_address(mcast), std::invalid_argument);
    l2_switch bare(1);
    EXPECT_THROW(bare.add_pf_address(guest), std::logic_error);
}

TEST(L2Switch, VfToVfLoopsBackInsideTheNic) {
    l2_switch sw = configured();
    std::vector<port_id> out;
    sw.forward(port_id::vf_port(0), vf_mac(3), vf_mac(0), std::nullopt, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], port_id::vf_port(3));
    EXPECT_EQ(sw.stats().unicast_uplink, 0u);  // never on the wire
    // In VLAN 10, VF 4 reaches VF 5; a VF in VLAN 0 cannot reach VF 5's MAC (unknown there).
    sw.forward(port_id::vf_port(4), vf_mac(5), vf_mac(4), std::nullopt, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], port_id::vf_port(5));
    sw.forward(port_id::vf_port(0), vf_mac(5), vf_mac(0), std::nullopt, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], port_id::uplink());
}

TEST(L2Switch, VfToWireAndWireToVf) {
    l2_switch sw = configured();
    std::vector<port_id> out;
    auto d = sw.forward(port_id::vf_port(1), wire_mac, vf_mac(1), std::nullopt, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], port_id::uplink());
    EXPECT_EQ(d.vlan, 0);
    d = sw.forward(port_id::uplink(), vf_mac(1), wire_mac, std::nullopt, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], port_id::vf_port(1));
    // Tagged VLAN 10 from the wire reaches VF 4; untagged does not know VF 4's MAC.
    d = sw.forward(port_id::uplink(), vf_mac(4), wire_mac, std::uint16_t{10}, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], port_id::vf_port(4));
    EXPECT_EQ(d.vlan, 10);
    // VF 4's frames to the wire leave in VLAN 10.
    d = sw.forward(port_id::vf_port(4), wire_mac, vf_mac(4), std::nullopt, out);
    EXPECT_EQ(d.vlan, 10);
    EXPECT_EQ(sw.stats().unicast_uplink, 2u);
}

TEST(L2Switch, BroadcastAndMulticastReachEveryMemberOfTheVlan) {
    l2_switch sw = configured();
    std::vector<port_id> out;
    // From VF 0 in VLAN 0: PF, VFs 1..3 and the uplink (5 copies), not VF 0, 4, 5, 6.
    sw.forward(port_id::vf_port(0), mac_address::broadcast(), vf_mac(0), std::nullopt, out);
    const std::vector<port_id> want = {port_id::pf(), port_id::vf_port(1), port_id::vf_port(2),
                                       port_id::vf_port(3), port_id::uplink()};
    EXPECT_EQ(out, want);
    // Multicast from the wire in VLAN 10: VFs 4 and 5 only, not back to the uplink.
    sw.forward(port_id::uplink(), mcast, wire_mac, std::uint16_t{10}, out);
    const std::vector<port_id> want10 = {port_id::vf_port(4), port_id::vf_port(5)};
    EXPECT_EQ(out, want10);
    // Broadcast from the wire untagged: PF and VFs 0..3.
    sw.forward(port_id::uplink(), mac_address::broadcast(), wire_mac, std::nullopt, out);
    EXPECT_EQ(out.size(), 5u);
    EXPECT_EQ(sw.stats().flooded, 3u);
    EXPECT_EQ(sw.stats().flood_copies, 5u + 2u + 5u);
}

TEST(L2Switch, UnknownUnicast) {
    l2_switch sw = configured();
    std::vector<port_id> out;
    const mac_address unknown = mac_address::parse("02:aa:bb:cc:dd:ee");
    sw.forward(port_id::pf(), unknown, pf_mac, std::nullopt, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], port_id::uplink());
    const auto d = sw.forward(port_id::uplink(), unknown, wire_mac, std::nullopt, out);
    EXPECT_EQ(d.drop, drop_reason::unknown_unicast_from_uplink);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(
        sw.stats().dropped[static_cast<std::size_t>(drop_reason::unknown_unicast_from_uplink)], 1u);
}

TEST(L2Switch, SpoofedSourceIsDroppedAndCounted) {
    l2_switch sw = configured();
    std::vector<port_id> out;
    // VF 1 sends with VF 2's source MAC.
    auto d = sw.forward(port_id::vf_port(1), vf_mac(3), vf_mac(2), std::nullopt, out);
    EXPECT_EQ(d.drop, drop_reason::spoofed_source);
    EXPECT_TRUE(out.empty());
    d = sw.forward(port_id::vf_port(1), mac_address::broadcast(), wire_mac, std::nullopt, out);
    EXPECT_EQ(d.drop, drop_reason::spoofed_source);
    EXPECT_EQ(sw.stats().dropped[static_cast<std::size_t>(drop_reason::spoofed_source)], 2u);
    // With spoof checking off the same frame passes.
    sw.set_vf(1, vf_mac(1), 0, false);
    d = sw.forward(port_id::vf_port(1), vf_mac(3), vf_mac(2), std::nullopt, out);
    EXPECT_FALSE(d.drop.has_value());
    // The PF is trusted.
    d = sw.forward(port_id::pf(), vf_mac(3), wire_mac, std::nullopt, out);
    EXPECT_FALSE(d.drop.has_value());
}

TEST(L2Switch, OtherDropReasons) {
    l2_switch sw = configured();
    std::vector<port_id> out;
    // VF 6 has no MAC.
    EXPECT_EQ(sw.forward(port_id::vf_port(6), vf_mac(0), vf_mac(6), std::nullopt, out).drop,
              drop_reason::no_mac_assigned);
    // VF 0 (untagged) sends a frame tagged VLAN 10; VF 4 (VLAN 10) one tagged 11.
    EXPECT_EQ(sw.forward(port_id::vf_port(0), vf_mac(4), vf_mac(0), std::uint16_t{10}, out).drop,
              drop_reason::vlan_violation);
    EXPECT_EQ(sw.forward(port_id::vf_port(4), vf_mac(5), vf_mac(4), std::uint16_t{11}, out).drop,
              drop_reason::vlan_violation);
    // Tagged with its own VLAN, or priority-tagged on an untagged port: fine.
    EXPECT_FALSE(
        sw.forward(port_id::vf_port(4), vf_mac(5), vf_mac(4), std::uint16_t{10}, out).drop);
    EXPECT_FALSE(sw.forward(port_id::vf_port(0), vf_mac(1), vf_mac(0), std::uint16_t{0}, out).drop);
    // Unicast to itself.
    EXPECT_EQ(sw.forward(port_id::vf_port(2), vf_mac(2), vf_mac(2), std::nullopt, out).drop,
              drop_reason::hairpin);
    EXPECT_EQ(sw.stats().dropped_total(), 4u);
    EXPECT_STREQ(to_string(drop_reason::hairpin), "hairpin");
    EXPECT_STREQ(to_string(drop_reason::spoofed_source), "spoofed_source");
}

TEST(L2Switch, ReprogrammingAndClearing) {
    l2_switch sw = configured();
    std::vector<port_id> out;
    const mac_address moved = mac_address::parse("02:00:00:00:0a:0a");
    sw.set_vf(2, moved);
    EXPECT_FALSE(sw.lookup(vf_mac(2), 0).has_value());
    EXPECT_EQ(sw.lookup(moved, 0), port_id::vf_port(2));
    sw.clear_vf(2);
    EXPECT_FALSE(sw.lookup(moved, 0).has_value());
    sw.forward(port_id::pf(), mac_address::broadcast(), pf_mac, std::nullopt, out);
    EXPECT_EQ(out.size(), 4u);  // VFs 0, 1, 3 and the uplink
    // The same MAC in two VLANs is two entries.
    sw.set_vf(6, vf_mac(0), 10);
    EXPECT_EQ(sw.lookup(vf_mac(0), 0), port_id::vf_port(0));
    EXPECT_EQ(sw.lookup(vf_mac(0), 10), port_id::vf_port(6));
}

TEST(L2Switch, BadConfigurationIsAnError) {
    l2_switch sw = configured();
    EXPECT_THROW(sw.set_vf(8, vf_mac(8)), std::out_of_range);
    EXPECT_THROW(sw.clear_vf(8), std::out_of_range);
    EXPECT_THROW(sw.set_vf(7, mcast), std::invalid_argument);
    EXPECT_THROW(sw.set_vf(7, mac_address{}), std::invalid_argument);
    EXPECT_THROW(sw.set_vf(7, vf_mac(7), 4095), std::invalid_argument);
    EXPECT_THROW(sw.set_vf(7, vf_mac(0)), std::invalid_argument);  // VF 0's
    EXPECT_THROW(sw.set_pf(vf_mac(1)), std::invalid_argument);
    std::vector<port_id> out;
    EXPECT_THROW(sw.forward(port_id::vf_port(8), pf_mac, vf_mac(8), std::nullopt, out),
                 std::out_of_range);
}

TEST(L2Switch, ForwardsAFrame) {
    l2_switch sw = configured();
    net::ethernet_frame f;
    f.dst = vf_mac(4);
    f.src = wire_mac;
    f.vlan = net::vlan_tag{10, 0, false};
    std::vector<port_id> out;
    sw.forward(port_id::uplink(), f, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], port_id::vf_port(4));
}

}  // namespace
}  // namespace iovsim::nic
