#include "models/net/ethernet.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <stdexcept>

namespace iovsim::net {

namespace {

constexpr std::array<std::uint32_t, 256> make_crc_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    return t;
}

constexpr std::array<std::uint32_t, 256> crc_table = make_crc_table();

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (l >= 'a' && l <= 'f') return l - 'a' + 10;
    return -1;
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {  // network byte order
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

std::uint16_t get16(const std::vector<std::uint8_t>& b, std::size_t at) {
    return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

}  // namespace

mac_address mac_address::parse(const std::string& text) {
    std::array<std::uint8_t, 6> b{};
    bool ok = text.size() == 17;
    for (std::size_t i = 0; ok && i < 6; ++i) {
        const int hi = hex_digit(text[3 * i]);
        const int lo = hex_digit(text[3 * i + 1]);
        ok = hi >= 0 && lo >= 0 && (i == 5 || text[3 * i + 2] == ':');
        if (ok) b[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    if (!ok) {
        throw std::invalid_argument(
            fmt::format("MAC address '{}' is not six hex byte pairs like 02:00:00:00:00:01", text));
    }
    return mac_address(b);
}

std::string mac_address::to_string() const {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m_bytes[0], m_bytes[1],
                       m_bytes[2], m_bytes[3], m_bytes[4], m_bytes[5]);
}

std::uint32_t crc32_ieee(const std::uint8_t* data, std::size_t len) {
    std::uint32_t c = 0xffffffffu;
    for (std::size_t i = 0; i < len; ++i) c = crc_table[(c ^ data[i]) & 0xffu] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

std::vector<std::uint8_t> ethernet_frame::serialize_without_fcs() const {
    std::vector<std::uint8_t> out;
    out.reserve(wire_bytes());
    out.insert(out.end(), dst.bytes().begin(), dst.bytes().end());
    out.insert(out.end(), src.bytes().begin(), src.bytes().end());
    if (vlan) {
        put16(out, ethertype::vlan);
        put16(out, vlan->tci());
    }
    put16(out, ether_type);
    out.insert(out.end(), payload.begin(), payload.end());
    if (out.size() < min_frame_bytes - fcs_bytes) out.resize(min_frame_bytes - fcs_bytes, 0);
    return out;
}

std::vector<std::uint8_t> ethernet_frame::serialize() const {
    std::vector<std::uint8_t> out = serialize_without_fcs();
    const std::uint32_t fcs = crc32_ieee(out.data(), out.size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(fcs >> (8 * i)));
    return out;
}

std::size_t ethernet_frame::wire_bytes() const {
    const std::size_t bytes =
        mac_header_bytes + (vlan ? vlan_tag_bytes : 0) + payload.size() + fcs_bytes;
    return bytes < min_frame_bytes ? min_frame_bytes : bytes;
}

ethernet_frame ethernet_frame::parse_without_fcs(const std::vector<std::uint8_t>& b) {
    if (b.size() < mac_header_bytes) {
        throw std::invalid_argument(
            fmt::format("Ethernet frame of {} bytes is shorter than its 14-byte header", b.size()));
    }
    ethernet_frame f;
    std::array<std::uint8_t, 6> m{};
    std::copy(b.begin(), b.begin() + 6, m.begin());
    f.dst = mac_address(m);
    std::copy(b.begin() + 6, b.begin() + 12, m.begin());
    f.src = mac_address(m);
    std::size_t at = 12;
    if (get16(b, at) == ethertype::vlan) {
        if (b.size() < mac_header_bytes + vlan_tag_bytes) {
            throw std::invalid_argument(fmt::format(
                "802.1Q-tagged Ethernet frame of {} bytes is shorter than its 18-byte header",
                b.size()));
        }
        f.vlan = vlan_tag::from_tci(get16(b, at + 2));
        at += vlan_tag_bytes;
    }
    f.ether_type = get16(b, at);
    f.payload.assign(b.begin() + static_cast<std::ptrdiff_t>(at + 2), b.end());
    return f;
}

ethernet_frame ethernet_frame::parse(const std::vector<std::uint8_t>& b) {
    if (b.size() < mac_header_bytes + fcs_bytes) {
        throw std::invalid_argument(fmt::format(
            "Ethernet frame of {} bytes is shorter than its header and FCS (18 bytes)", b.size()));
    }
    const std::size_t n = b.size() - fcs_bytes;
    const std::uint32_t want = crc32_ieee(b.data(), n);
    const std::uint32_t got = std::uint32_t{b[n]} | std::uint32_t{b[n + 1]} << 8 |
                              std::uint32_t{b[n + 2]} << 16 | std::uint32_t{b[n + 3]} << 24;
    if (want != got) {
        throw std::invalid_argument(fmt::format(
            "Ethernet frame FCS 0x{:08x} does not match the CRC-32 0x{:08x} of its bytes", got,
            want));
    }
    return parse_without_fcs(std::vector<std::uint8_t>(b.begin(), b.begin() + n));
}

}  // namespace iovsim::net
