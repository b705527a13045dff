// pcap capture files with simulated timestamps: a writer and a reader.
//
// Models the classic libpcap file format (pcap-savefile(5)): a 24-byte global header (magic,
// version 2.4, this zone 0, sigfigs 0, snaplen, link type) and per packet a 16-byte record
// header (seconds, sub-second part, captured length, original length) followed by the bytes.
// The writer always writes the nanosecond-resolution magic 0xA1B23C4D with LINKTYPE_ETHERNET (1)
// in the host's (little-endian) byte order; timestamps are simulated time (tick_t picoseconds,
// truncated to whole nanoseconds), so a capture of the same run is the same file. Frames are
// stored without their FCS, as capture on a host NIC shows them. The reader accepts the
// microsecond (0xA1B2C3D4) and nanosecond magics in either byte order.
//
// Leaves out: pcapng, snap-length truncation on write (snaplen is 262144 and frames are stored
// whole), link types other than Ethernet on write.
//
// Timing: none; the caller passes each packet's simulated time, in order.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "models/core/units.h"

namespace iovsim::net {

inline constexpr std::uint32_t pcap_magic_ns = 0xa1b23c4d;
inline constexpr std::uint32_t pcap_magic_us = 0xa1b2c3d4;
inline constexpr std::uint32_t linktype_ethernet = 1;
inline constexpr std::uint32_t pcap_snaplen = 262144;

class pcap_writer {
public:
    // Creates (truncates) `path` and writes the global header; throws std::runtime_error if the
    // file cannot be opened.
    explicit pcap_writer(const std::string& path);
    // Appends one packet captured at `time`. Throws std::invalid_argument if `time` is earlier
    // than the previous packet's (pcap readers expect time order) or the packet is larger than
    // the snaplen; std::runtime_error on a write failure.
    void write(tick_t time, const std::vector<std::uint8_t>& bytes);
    std::uint64_t packets() const { return m_packets; }
    void flush() { m_out.flush(); }

private:
    std::ofstream m_out;
    std::string m_path;
    tick_t m_last = 0;
    std::uint64_t m_packets = 0;
};

struct pcap_record {
    tick_t time = 0;  // picoseconds (a microsecond file's are multiples of 10^6)
    std::uint32_t original_length = 0;
    std::vector<std::uint8_t> bytes;  // the captured bytes
};

struct pcap_file {
    bool nanosecond = true;
    std::uint32_t link_type = 0;
    std::uint32_t snaplen = 0;
    std::vector<pcap_record> records;
};

// Reads a whole file; throws std::runtime_error naming the file for a missing file, an unknown
// magic, or a truncated header or record.
pcap_file read_pcap(const std::string& path);

}  // namespace iovsim::net
