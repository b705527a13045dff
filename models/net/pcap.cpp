#include "models/net/pcap.h"

#include <fmt/format.h>

#include <iterator>
#include <stdexcept>

namespace iovsim::net {

namespace {

void put32(std::ofstream& out, std::uint32_t v) {
    const char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 24)};
    out.write(b, 4);
}

void put16(std::ofstream& out, std::uint16_t v) {
    const char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
    out.write(b, 2);
}

}  // namespace

pcap_writer::pcap_writer(const std::string& path)
    : m_out(path, std::ios::binary | std::ios::trunc), m_path(path) {
    if (!m_out) throw std::runtime_error(fmt::format("pcap: cannot create '{}'", path));
    put32(m_out, pcap_magic_ns);
    put16(m_out, 2);  // version 2.4
    put16(m_out, 4);
    put32(m_out, 0);  // thiszone
    put32(m_out, 0);  // sigfigs
    put32(m_out, pcap_snaplen);
    put32(m_out, linktype_ethernet);
    if (!m_out) throw std::runtime_error(fmt::format("pcap: cannot write '{}'", path));
}

void pcap_writer::write(tick_t time, const std::vector<std::uint8_t>& bytes) {
    if (time < m_last) {
        throw std::invalid_argument(
            fmt::format("pcap '{}': packet at {} ps is earlier than the previous one at {} ps",
                        m_path, time, m_last));
    }
    if (bytes.size() > pcap_snaplen) {
        throw std::invalid_argument(
            fmt::format("pcap '{}': packet of {} bytes exceeds the snaplen {}", m_path,
                        bytes.size(), pcap_snaplen));
    }
    m_last = time;
    const tick_t ns = time / ticks_per_ns;
    put32(m_out, static_cast<std::uint32_t>(ns / 1000000000u));
    put32(m_out, static_cast<std::uint32_t>(ns % 1000000000u));
    put32(m_out, static_cast<std::uint32_t>(bytes.size()));
    put32(m_out, static_cast<std::uint32_t>(bytes.size()));
    m_out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
    if (!m_out) throw std::runtime_error(fmt::format("pcap: cannot write '{}'", m_path));
    ++m_packets;
}

pcap_file read_pcap(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(fmt::format("pcap: cannot open '{}'", path));
    const std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(in)),
                                         std::istreambuf_iterator<char>());
    if (data.size() < 24) {
        throw std::runtime_error(fmt::format(
            "pcap '{}': {} bytes is shorter than the 24-byte global header", path, data.size()));
    }
    const auto le32 = [&](std::size_t at) {
        return std::uint32_t{data[at]} | std::uint32_t{data[at + 1]} << 8 |
               std::uint32_t{data[at + 2]} << 16 | std::uint32_t{data[at + 3]} << 24;
    };
    const auto swap32 = [](std::uint32_t v) {
        return (v >> 24) | (v >> 8 & 0xff00u) | (v << 8 & 0xff0000u) | (v << 24);
    };
    const std::uint32_t magic = le32(0);
    bool swapped = false;
    pcap_file f;
    if (magic == pcap_magic_ns || magic == pcap_magic_us) {
        f.nanosecond = magic == pcap_magic_ns;
    } else if (swap32(magic) == pcap_magic_ns || swap32(magic) == pcap_magic_us) {
        swapped = true;
        f.nanosecond = swap32(magic) == pcap_magic_ns;
    } else {
        throw std::runtime_error(
            fmt::format("pcap '{}': magic 0x{:08x} is not a pcap file's", path, magic));
    }
    const auto get32 = [&](std::size_t at) { return swapped ? swap32(le32(at)) : le32(at); };
    f.snaplen = get32(16);
    f.link_type = get32(20);
    std::size_t at = 24;
    while (at < data.size()) {
        if (data.size() - at < 16) {
            throw std::runtime_error(fmt::format("pcap '{}': record {} header truncated at byte {}",
                                                 path, f.records.size(), at));
        }
        pcap_record r;
        const std::uint64_t sec = get32(at);
        const std::uint64_t frac = get32(at + 4);
        const std::uint32_t incl = get32(at + 8);
        r.original_length = get32(at + 12);
        r.time = sec * ticks_per_s + frac * (f.nanosecond ? ticks_per_ns : ticks_per_us);
        at += 16;
        if (data.size() - at < incl) {
            throw std::runtime_error(
                fmt::format("pcap '{}': record {} claims {} bytes but only {} remain", path,
                            f.records.size(), incl, data.size() - at));
        }
        r.bytes.assign(data.begin() + static_cast<std::ptrdiff_t>(at),
                       data.begin() + static_cast<std::ptrdiff_t>(at + incl));
        at += incl;
        f.records.push_back(std::move(r));
    }
    return f;
}

}  // namespace iovsim::net
