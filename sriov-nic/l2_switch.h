// The NIC's embedded L2 switch (Virtual Ethernet Bridge, VEB) between the PF, the VFs and the
// uplink (the physical port).
//
// Models the forwarding decision of an SR-IOV NIC's VEB as the PF driver programs it (`ip link
// set PF vf N mac M vlan V spoofchk on`): each function port (PF, VF n) has one MAC address and
// one port VLAN (0: untagged); the uplink carries every VLAN. A frame is switched by destination
// MAC within its VLAN, looked up in a hash table keyed by (MAC, VLAN): constant time whatever the
// number of VFs.
// - Unicast to a known function port: delivered there; VF-to-VF and PF-to-VF traffic loops back
//   inside the NIC and never reaches the wire.
// - Broadcast and multicast: replicated to every function port in the VLAN and the uplink,
//   except the port it came from (no multicast snooping or filters).
// - Unknown unicast from a function port: to the uplink. From the uplink: dropped (a VEB knows
//   all its own addresses, so nothing behind it can own the address).
// - Anti-spoofing: a frame from a VF with spoof checking on whose source MAC is not the VF's
//   assigned MAC is dropped; a VF with no MAC assigned sends nothing.
// - VLAN: a function port's frames are untagged or tagged with the port's own VLAN, otherwise
//   dropped; the uplink's are in the VLAN of their tag (0 if untagged). Tag insertion and
//   stripping on the way out is the data path's job: the frame leaves to the uplink in the
//   decision's VLAN.
// - A unicast frame addressed to the port it came from is dropped (a bridge never hairpins).
// Every drop is counted by reason.
//
// Leaves out: learning (the PF driver programs every address; the uplink's far side is never
// learned), more than one MAC per VF, VLAN trunks on VFs, promiscuous and trusted VFs, ACLs,
// rate limits, the link state of VFs.
//
// Timing: none; the NIC shell charges a lookup its NIC-core cycles.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "models/net/ethernet.h"

namespace iovsim::nic {

struct port_id {
    enum class kind : std::uint8_t { uplink, pf, vf };
    kind type = kind::uplink;
    std::uint16_t vf = 0;  // VF index when type is vf

    static constexpr port_id uplink() { return {kind::uplink, 0}; }
    static constexpr port_id pf() { return {kind::pf, 0}; }
    static constexpr port_id vf_port(std::uint16_t n) { return {kind::vf, n}; }
    friend constexpr bool operator==(port_id a, port_id b) {
        return a.type == b.type && (a.type != kind::vf || a.vf == b.vf);
    }
    friend constexpr bool operator!=(port_id a, port_id b) { return !(a == b); }
};

enum class drop_reason : std::uint8_t {
    spoofed_source,               // VF frame whose source MAC is not the VF's
    no_mac_assigned,              // VF without a MAC (not configured)
    vlan_violation,               // function port frame tagged with another VLAN
    unknown_unicast_from_uplink,  // no port owns the destination
    hairpin,                      // unicast back to the ingress port
    count
};
inline constexpr std::size_t drop_reason_count = static_cast<std::size_t>(drop_reason::count);
const char* to_string(drop_reason r);

struct l2_switch_stats {
    std::array<std::uint64_t, drop_reason_count> dropped{};
    std::uint64_t unicast_local = 0;   // delivered to a PF/VF port (loopback included)
    std::uint64_t unicast_uplink = 0;  // known or unknown unicast sent to the uplink
    std::uint64_t flooded = 0;         // broadcast/multicast frames
    std::uint64_t flood_copies = 0;    // copies made of them
    std::uint64_t dropped_total() const {
        std::uint64_t n = 0;
        for (std::uint64_t d : dropped) n += d;
        return n;
    }
};

struct forward_decision {
    std::optional<drop_reason> drop;  // set: the frame goes nowhere
    std::uint16_t vlan = 0;           // the VLAN it was switched in
};

class l2_switch {
public:
    // A switch with ports for the PF, VFs 0..max_vfs-1 and the uplink.
    explicit l2_switch(std::uint16_t max_vfs);

    // PF driver model: the PF's and each VF's MAC and port VLAN (0..4094; 0 untagged). Throws
    // std::invalid_argument for a multicast or zero MAC, a VLAN above 4094, or a (MAC, VLAN)
    // another port already has; std::out_of_range for a VF index at or above max_vfs.
    void set_pf(net::mac_address mac, std::uint16_t vlan = 0);
    void set_vf(std::uint16_t vf, net::mac_address mac, std::uint16_t vlan = 0,
                bool spoof_check = true);
    void clear_vf(std::uint16_t vf);  // the VF forgets its MAC; out_of_range as set_vf
    // A further unicast address for the PF on its VLAN (the host's dev_uc_add, as a bridge or
    // macvtap over the PF adds its ports' MACs): frames to it go to the PF. Same errors as set_pf;
    // std::logic_error before set_pf.
    void add_pf_address(net::mac_address mac);

    // The function port that owns (mac, vlan), if any: one hash lookup.
    std::optional<port_id> lookup(net::mac_address mac, std::uint16_t vlan) const;

    // Switches a frame that entered at `ingress` with these addresses and 802.1Q VLAN ID (nullopt
    // if untagged). `egress` is cleared and receives the ports to deliver copies to. Counts the
    // outcome. Throws std::out_of_range for a VF ingress at or above max_vfs.
    forward_decision forward(port_id ingress, net::mac_address dst, net::mac_address src,
                             std::optional<std::uint16_t> tag_vid, std::vector<port_id>& egress);
    // The same from a frame.
    forward_decision forward(port_id ingress, const net::ethernet_frame& f,
                             std::vector<port_id>& egress);

    const l2_switch_stats& stats() const { return m_stats; }
    std::uint16_t max_vfs() const { return static_cast<std::uint16_t>(m_vfs.size()); }

private:
    struct port_config {
        bool configured = false;
        net::mac_address mac;
        std::uint16_t vlan = 0;
        bool spoof_check = true;
    };
    static std::uint64_t key(net::mac_address mac, std::uint16_t vlan) {
        return mac.to_u64() | std::uint64_t{vlan} << 48;
    }
    void check_vf(std::uint16_t vf) const;
    void assign(port_id port, port_config& cfg, net::mac_address mac, std::uint16_t vlan,
                bool spoof_check);
    void unassign(port_config& cfg);
    void rebuild_members(std::uint16_t vlan);
    forward_decision drop(drop_reason r);

    port_config m_pf;
    std::vector<port_config> m_vfs;
    std::unordered_map<std::uint64_t, port_id> m_table;
    std::unordered_map<std::uint16_t, std::vector<port_id>> m_members;  // function ports by VLAN
    l2_switch_stats m_stats;
};

}  // namespace iovsim::nic
