// TLP sizes on the wire and the PCIe splitting rules, as pure functions (DESIGN.md §4, §7).
//
// Models: the bytes one TLP occupies on a link — 8 B of data link and physical framing (Gen3+:
// 4 B STP token carrying the sequence number, 4 B LCRC; Gen1/2: STP 1 B + sequence 2 B + LCRC
// 4 B + END 1 B, also 8 B) plus a 3-DW (12 B) or 4-DW (16 B) header plus the payload in whole
// DWs; and how transfers are cut into TLPs: writes at MPS, read requests at MRRS, neither across a
// 4 KiB boundary (PCIe Base Spec §2.2.7), and read data into completions at RCB-aligned
// boundaries (§2.3.1.1).
//
// Leaves out: ECRC (TD = 0 always), TLP prefixes (a PASID prefix would add 4 B; not counted), the
// header fields themselves (no bytes are encoded here), I/O, configuration and message TLPs, and
// the 64-bit-address rule's exception that lets a function use a 4-DW header below 4 GiB.
//
// Timing: none here; sizes feed the link serializer (models/pcie/link_core.h).
#pragma once

#include <cstdint>
#include <vector>

namespace iovsim::pcie {

constexpr std::uint32_t dw_bytes = 4;
// STP/sequence number + LCRC (Gen3+), or STP + sequence + LCRC + END (Gen1/2): 8 B either way.
constexpr std::uint32_t tlp_framing_bytes = 8;
constexpr std::uint32_t header_3dw_bytes = 12;
constexpr std::uint32_t header_4dw_bytes = 16;
// SDP token 2 B + DLLP 4 B + CRC 2 B (Gen3+), or SDP 1 B + 6 B + END 1 B (Gen1/2).
constexpr std::uint32_t dllp_wire_bytes = 8;
// A request never crosses a naturally aligned 4 KiB boundary (§2.2.7).
constexpr std::uint64_t request_boundary = 4096;
// The Length field counts up to 1024 DW.
constexpr std::uint32_t max_tlp_payload = 4096;
// Addresses at or above this use a 4-DW header (64-bit address).
constexpr std::uint64_t four_gib = std::uint64_t{1} << 32;

// Payload DWs of a TLP moving `len` bytes from `addr`: first and last DW byte enables cover the
// partial DWs, so dw_count = ((addr & 3) + len + 3) / 4. Throws std::invalid_argument if len == 0.
std::uint32_t dw_count(std::uint64_t addr, std::uint32_t len);

// 12 for an address below 4 GiB (3-DW header), 16 at or above (4-DW header).
std::uint32_t request_header_bytes(std::uint64_t addr);

// Wire bytes of a memory read request (MRd) for `len` bytes at `addr`: framing + header.
// Throws std::invalid_argument if len is 0 or above 4096 or the request crosses 4 KiB.
std::uint32_t mrd_wire_bytes(std::uint64_t addr, std::uint32_t len);
// Wire bytes of a memory write request (MWr): framing + header + payload DWs. Same checks.
std::uint32_t mwr_wire_bytes(std::uint64_t addr, std::uint32_t len);
// Wire bytes of a completion with data (CplD) returning `len` bytes starting at `addr` (the
// Lower Address field fixes the DW alignment): framing + 3-DW header + payload DWs. Same checks.
std::uint32_t cpld_wire_bytes(std::uint64_t addr, std::uint32_t len);
// Wire bytes of a completion without data (Cpl: UR/CA error completion): framing + 3-DW header.
constexpr std::uint32_t cpl_wire_bytes() { return tlp_framing_bytes + header_3dw_bytes; }

// One TLP's share of a transfer.
struct chunk {
    std::uint64_t addr = 0;
    std::uint32_t len = 0;
    friend bool operator==(const chunk& a, const chunk& b) {
        return a.addr == b.addr && a.len == b.len;
    }
    friend bool operator!=(const chunk& a, const chunk& b) { return !(a == b); }
};

// MWr TLPs of a write of `len` bytes at `addr`: each at most `mps` bytes, none crossing 4 KiB,
// cut in address order from `addr`. Throws std::invalid_argument if len == 0, addr + len
// exceeds 2^64 - 1, or mps is not a power of two in 128..4096.
std::vector<chunk> split_write(std::uint64_t addr, std::uint64_t len, std::uint32_t mps);

// MRd TLPs of a read of `len` bytes at `addr`: each at most `mrrs` bytes, none crossing 4 KiB.
// Throws std::invalid_argument as split_write (for mrrs).
std::vector<chunk> split_read(std::uint64_t addr, std::uint64_t len, std::uint32_t mrrs);

// Completions a completer returns for ONE read request (addr, len): every completion except the
// last ends on an RCB-aligned address (§2.3.1.1) and carries at most `mps` bytes. The model is
// the common root complex: an unaligned start gets a short first completion up to the next RCB
// boundary, then MPS-sized ones (each ending RCB-aligned, since MPS is a multiple of RCB). With
// `rcb_completions`, one completion per RCB-aligned chunk instead. Throws std::invalid_argument
// if len is 0 or above 4096, the request crosses 4 KiB, mps is not a power of two in
// 128..4096, or rcb is neither 64 nor 128.
std::vector<chunk> split_completions(std::uint64_t addr, std::uint32_t len, std::uint32_t mps,
                                     std::uint32_t rcb, bool rcb_completions);

}  // namespace iovsim::pcie
