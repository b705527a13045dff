// Ethernet II / IEEE 802.3 frames as real bytes, and MAC addresses.
//
// Models a frame as it travels on the wire after the preamble: destination MAC, source MAC, an
// optional IEEE 802.1Q tag (TPID 0x8100 and the TCI: PCP, DEI, VLAN ID), the EtherType, the
// payload padded to the 60-byte minimum, and the 4-byte Frame Check Sequence, a CRC-32 as IEEE
// 802.3 §3.2.9 defines it (reflected polynomial 0xEDB88320, initial value and final XOR all
// ones, transmitted least significant byte first). serialize() produces those bytes; parse()
// reads them back and checks the FCS.
//
// Leaves out: stacked (QinQ) tags, jumbo frame limits (any length up to 65535 bytes is
// accepted), 802.3 length-field frames (the type field is taken as an EtherType whatever its
// value), the preamble/SFD and inter-frame gap (wire.h accounts for them in time).
//
// Timing: none.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace iovsim::net {

namespace ethertype {
inline constexpr std::uint16_t ipv4 = 0x0800;
inline constexpr std::uint16_t arp = 0x0806;
inline constexpr std::uint16_t vlan = 0x8100;  // 802.1Q TPID
inline constexpr std::uint16_t ipv6 = 0x86dd;
// IEEE Std 802 Local Experimental EtherType 1: what iovsim's synthetic traffic carries.
inline constexpr std::uint16_t local_experimental = 0x88b5;
}  // namespace ethertype

inline constexpr std::size_t mac_header_bytes = 14;  // destination, source, EtherType
inline constexpr std::size_t vlan_tag_bytes = 4;
inline constexpr std::size_t fcs_bytes = 4;
inline constexpr std::size_t min_frame_bytes = 64;  // FCS included (802.3 minimum frame size)
inline constexpr unsigned standard_mtu = 1500;      // ETH_DATA_LEN: the largest non-jumbo payload
// The longest frame, FCS included, an interface with `mtu` sends (no VLAN tag): mtu + 18.
constexpr std::uint32_t largest_frame_bytes(unsigned mtu) {
    return static_cast<std::uint32_t>(mtu + mac_header_bytes + fcs_bytes);
}

class mac_address {
public:
    constexpr mac_address() = default;
    constexpr explicit mac_address(const std::array<std::uint8_t, 6>& b) : m_bytes(b) {}
    // From the low 48 bits of `v`, most significant byte first on the wire.
    static constexpr mac_address from_u64(std::uint64_t v) {
        return mac_address({static_cast<std::uint8_t>(v >> 40), static_cast<std::uint8_t>(v >> 32),
                            static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                            static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)});
    }
    static constexpr mac_address broadcast() { return from_u64(0xffffffffffffull); }
    // The address at `offset` of a frame's bytes (0: destination, 6: source); all zeros if the
    // frame is too short to hold it.
    static mac_address at(const std::vector<std::uint8_t>& frame, std::size_t offset) {
        std::array<std::uint8_t, 6> b{};
        if (frame.size() >= offset + 6)
            for (std::size_t i = 0; i < 6; ++i) b[i] = frame[offset + i];
        return mac_address(b);
    }
    // "02:00:00:00:00:01" (hex digits, either case); throws std::invalid_argument otherwise.
    static mac_address parse(const std::string& text);

    constexpr std::uint64_t to_u64() const {
        std::uint64_t v = 0;
        for (std::uint8_t b : m_bytes) v = v << 8 | b;
        return v;
    }
    const std::array<std::uint8_t, 6>& bytes() const { return m_bytes; }
    // Individual/Group bit: the least significant bit of the first byte (802.3 §3.2.3).
    constexpr bool is_multicast() const { return (m_bytes[0] & 1u) != 0; }
    constexpr bool is_broadcast() const { return to_u64() == 0xffffffffffffull; }
    constexpr bool is_unicast() const { return !is_multicast(); }
    constexpr bool is_zero() const { return to_u64() == 0; }
    std::string to_string() const;  // lower-case "02:00:00:00:00:01", as tshark prints it

    friend constexpr bool operator==(const mac_address& a, const mac_address& b) {
        return a.to_u64() == b.to_u64();
    }
    friend constexpr bool operator!=(const mac_address& a, const mac_address& b) {
        return !(a == b);
    }

private:
    std::array<std::uint8_t, 6> m_bytes{};
};

// 802.1Q Tag Control Information.
struct vlan_tag {
    std::uint16_t vid = 0;  // 12 bits
    std::uint8_t pcp = 0;   // 3 bits
    bool dei = false;
    std::uint16_t tci() const {
        return static_cast<std::uint16_t>((pcp & 7u) << 13 | (dei ? 1u : 0u) << 12 |
                                          (vid & 0xfffu));
    }
    static vlan_tag from_tci(std::uint16_t tci) {
        return {static_cast<std::uint16_t>(tci & 0xfff), static_cast<std::uint8_t>(tci >> 13),
                (tci & 0x1000) != 0};
    }
};

// CRC-32 of IEEE 802.3 over `len` bytes (the FCS value; 0xCBF43926 for "123456789").
std::uint32_t crc32_ieee(const std::uint8_t* data, std::size_t len);

struct ethernet_frame {
    mac_address dst;
    mac_address src;
    std::optional<vlan_tag> vlan;
    std::uint16_t ether_type = ethertype::local_experimental;
    std::vector<std::uint8_t> payload;

    // Bytes on the wire after the SFD: header, payload, zero padding up to the minimum, FCS.
    std::vector<std::uint8_t> serialize() const;
    // The same without the FCS (what a pcap file and a host's receive buffer hold).
    std::vector<std::uint8_t> serialize_without_fcs() const;
    // Length on the wire after the SFD, padding and FCS included: at least 64 bytes.
    std::size_t wire_bytes() const;
    // Reads a frame with its FCS; throws std::invalid_argument if it is shorter than a header
    // plus FCS or the FCS does not match. Padding stays in the payload (Ethernet has no length).
    static ethernet_frame parse(const std::vector<std::uint8_t>& bytes);
    // Reads a frame without FCS (from a pcap or a receive buffer).
    static ethernet_frame parse_without_fcs(const std::vector<std::uint8_t>& bytes);
};

}  // namespace iovsim::net
