#include "sriov-nic/l2_switch.h"

#include <fmt/format.h>

#include <stdexcept>

namespace iovsim::nic {

const char* to_string(drop_reason r) {
    switch (r) {
        case drop_reason::spoofed_source:
            return "spoofed_source";
        case drop_reason::no_mac_assigned:
            return "no_mac_assigned";
        case drop_reason::vlan_violation:
            return "vlan_violation";
        case drop_reason::unknown_unicast_from_uplink:
            return "unknown_unicast_from_uplink";
        case drop_reason::hairpin:
            return "hairpin";
        case drop_reason::count:
            break;
    }
    return "?";
}

l2_switch::l2_switch(std::uint16_t max_vfs) : m_vfs(max_vfs) {
    m_table.reserve(std::size_t{max_vfs} + 1);
}

void l2_switch::check_vf(std::uint16_t vf) const {
    if (vf >= m_vfs.size()) {
        throw std::out_of_range(
            fmt::format("l2 switch: VF {} does not exist (the switch has {})", vf, m_vfs.size()));
    }
}

void l2_switch::unassign(port_config& cfg) {
    if (!cfg.configured) return;
    m_table.erase(key(cfg.mac, cfg.vlan));
    cfg.configured = false;
    rebuild_members(cfg.vlan);
}

void l2_switch::assign(port_id port, port_config& cfg, net::mac_address mac, std::uint16_t vlan,
                       bool spoof_check) {
    if (mac.is_multicast() || mac.is_zero()) {
        throw std::invalid_argument(fmt::format(
            "l2 switch: {} is not a unicast MAC address a port can own", mac.to_string()));
    }
    if (vlan > 4094) {
        throw std::invalid_argument(fmt::format("l2 switch: VLAN {} is not 0..4094", vlan));
    }
    const auto it = m_table.find(key(mac, vlan));
    if (it != m_table.end() && it->second != port) {
        throw std::invalid_argument(fmt::format(
            "l2 switch: MAC {} in VLAN {} already belongs to another port", mac.to_string(), vlan));
    }
    unassign(cfg);
    cfg = port_config{true, mac, vlan, spoof_check};
    m_table[key(mac, vlan)] = port;
    rebuild_members(vlan);
}

void l2_switch::rebuild_members(std::uint16_t vlan) {
    std::vector<port_id> members;
    if (m_pf.configured && m_pf.vlan == vlan) members.push_back(port_id::pf());
    for (std::size_t i = 0; i < m_vfs.size(); ++i) {
        if (m_vfs[i].configured && m_vfs[i].vlan == vlan) {
            members.push_back(port_id::vf_port(static_cast<std::uint16_t>(i)));
        }
    }
    if (members.empty()) {
        m_members.erase(vlan);
    } else {
        m_members[vlan] = std::move(members);
    }
}

void l2_switch::set_pf(net::mac_address mac, std::uint16_t vlan) {
    assign(port_id::pf(), m_pf, mac, vlan, false);
}

void l2_switch::add_pf_address(net::mac_address mac) {
    if (!m_pf.configured) throw std::logic_error("l2_switch: add_pf_address before set_pf");
    if (mac.is_multicast() || mac.to_u64() == 0)
        throw std::invalid_argument("l2_switch: a PF address must be a non-zero unicast MAC");
    const auto it = m_table.find(key(mac, m_pf.vlan));
    if (it != m_table.end() && it->second != port_id::pf())
        throw std::invalid_argument("l2_switch: another port already has this MAC and VLAN");
    m_table[key(mac, m_pf.vlan)] = port_id::pf();
}

void l2_switch::set_vf(std::uint16_t vf, net::mac_address mac, std::uint16_t vlan,
                       bool spoof_check) {
    check_vf(vf);
    assign(port_id::vf_port(vf), m_vfs[vf], mac, vlan, spoof_check);
}

void l2_switch::clear_vf(std::uint16_t vf) {
    check_vf(vf);
    unassign(m_vfs[vf]);
}

std::optional<port_id> l2_switch::lookup(net::mac_address mac, std::uint16_t vlan) const {
    const auto it = m_table.find(key(mac, vlan));
    if (it == m_table.end()) return std::nullopt;
    return it->second;
}

forward_decision l2_switch::drop(drop_reason r) {
    ++m_stats.dropped[static_cast<std::size_t>(r)];
    forward_decision d;
    d.drop = r;
    return d;
}

forward_decision l2_switch::forward(port_id ingress, net::mac_address dst, net::mac_address src,
                                    std::optional<std::uint16_t> tag_vid,
                                    std::vector<port_id>& egress) {
    egress.clear();
    std::uint16_t vlan = 0;
    if (ingress.type == port_id::kind::uplink) {
        vlan = tag_vid.value_or(0);
    } else {
        const port_config* cfg = &m_pf;
        if (ingress.type == port_id::kind::vf) {
            check_vf(ingress.vf);
            cfg = &m_vfs[ingress.vf];
            if (!cfg->configured) return drop(drop_reason::no_mac_assigned);
            if (cfg->spoof_check && src != cfg->mac) return drop(drop_reason::spoofed_source);
        }
        vlan = cfg->vlan;
        // Untagged, or priority-tagged (VID 0) on an untagged port, or the port's own VLAN.
        if (tag_vid && *tag_vid != vlan) return drop(drop_reason::vlan_violation);
    }

    forward_decision d;
    d.vlan = vlan;
    if (dst.is_multicast()) {
        const auto it = m_members.find(vlan);
        if (it != m_members.end()) {
            for (port_id p : it->second) {
                if (p != ingress) egress.push_back(p);
            }
        }
        if (ingress != port_id::uplink()) egress.push_back(port_id::uplink());
        ++m_stats.flooded;
        m_stats.flood_copies += egress.size();
        return d;
    }
    const auto owner = lookup(dst, vlan);
    if (owner) {
        if (*owner == ingress) return drop(drop_reason::hairpin);
        egress.push_back(*owner);
        ++m_stats.unicast_local;
        return d;
    }
    if (ingress == port_id::uplink()) return drop(drop_reason::unknown_unicast_from_uplink);
    egress.push_back(port_id::uplink());
    ++m_stats.unicast_uplink;
    return d;
}

forward_decision l2_switch::forward(port_id ingress, const net::ethernet_frame& f,
                                    std::vector<port_id>& egress) {
    std::optional<std::uint16_t> vid;
    if (f.vlan) vid = f.vlan->vid;
    return forward(ingress, f.dst, f.src, vid, egress);
}

}  // namespace iovsim::nic
