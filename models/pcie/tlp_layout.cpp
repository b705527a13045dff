#include "models/pcie/tlp_layout.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "models/core/bits.h"

namespace iovsim::pcie {

namespace {

void check_size_param(const char* what, std::uint32_t v) {
    if (!is_power_of_two(v) || v < 128 || v > 4096) {
        throw std::invalid_argument(
            std::string(what) + " must be a power of two in 128..4096, got " + std::to_string(v));
    }
}

void check_rcb(std::uint32_t rcb) {
    if (rcb != 64 && rcb != 128) {
        throw std::invalid_argument("RCB must be 64 or 128, got " + std::to_string(rcb));
    }
}

void check_range(std::uint64_t addr, std::uint64_t len) {
    if (len == 0) throw std::invalid_argument("transfer length must be at least 1 byte");
    if (len > std::numeric_limits<std::uint64_t>::max() - addr) {
        throw std::invalid_argument("transfer must end below 2^64");
    }
}

// One TLP: 1..4096 bytes, not crossing a 4 KiB boundary.
void check_single_tlp(std::uint64_t addr, std::uint32_t len) {
    check_range(addr, len);
    if (len > max_tlp_payload) {
        throw std::invalid_argument("a TLP carries at most 4096 bytes, got " + std::to_string(len));
    }
    if ((addr & (request_boundary - 1)) + len > request_boundary) {
        throw std::invalid_argument("a TLP may not cross a 4 KiB boundary");
    }
}

std::uint64_t bytes_to_boundary(std::uint64_t addr, std::uint64_t boundary) {
    return boundary - (addr & (boundary - 1));
}

std::vector<chunk> split_request(std::uint64_t addr, std::uint64_t len, std::uint32_t max) {
    check_range(addr, len);
    std::vector<chunk> out;
    out.reserve(static_cast<std::size_t>(len / max + 2));
    while (len > 0) {
        const std::uint64_t n =
            std::min({len, std::uint64_t{max}, bytes_to_boundary(addr, request_boundary)});
        out.push_back({addr, static_cast<std::uint32_t>(n)});
        addr += n;
        len -= n;
    }
    return out;
}

}  // namespace

std::uint32_t dw_count(std::uint64_t addr, std::uint32_t len) {
    if (len == 0) throw std::invalid_argument("dw_count: length must be at least 1 byte");
    return static_cast<std::uint32_t>(((addr & 3) + std::uint64_t{len} + 3) / 4);
}

std::uint32_t request_header_bytes(std::uint64_t addr) {
    return addr < four_gib ? header_3dw_bytes : header_4dw_bytes;
}

std::uint32_t mrd_wire_bytes(std::uint64_t addr, std::uint32_t len) {
    check_single_tlp(addr, len);
    return tlp_framing_bytes + request_header_bytes(addr);
}

std::uint32_t mwr_wire_bytes(std::uint64_t addr, std::uint32_t len) {
    check_single_tlp(addr, len);
    return tlp_framing_bytes + request_header_bytes(addr) + dw_bytes * dw_count(addr, len);
}

std::uint32_t cpld_wire_bytes(std::uint64_t addr, std::uint32_t len) {
    check_single_tlp(addr, len);
    return tlp_framing_bytes + header_3dw_bytes + dw_bytes * dw_count(addr, len);
}

std::vector<chunk> split_write(std::uint64_t addr, std::uint64_t len, std::uint32_t mps) {
    check_size_param("MPS", mps);
    return split_request(addr, len, mps);
}

std::vector<chunk> split_read(std::uint64_t addr, std::uint64_t len, std::uint32_t mrrs) {
    check_size_param("MRRS", mrrs);
    return split_request(addr, len, mrrs);
}

std::vector<chunk> split_completions(std::uint64_t addr, std::uint32_t len, std::uint32_t mps,
                                     std::uint32_t rcb, bool rcb_completions) {
    check_size_param("MPS", mps);
    check_rcb(rcb);
    check_single_tlp(addr, len);
    const std::uint64_t end = addr + len;
    std::vector<chunk> out;
    out.reserve(len / (rcb_completions ? rcb : mps) + 2);
    std::uint64_t at = addr;
    while (at < end) {
        std::uint64_t stop;
        if (rcb_completions || at % rcb != 0) {
            stop = at + bytes_to_boundary(at, rcb);  // next RCB boundary
        } else {
            stop = at + mps;  // RCB-aligned start: MPS bytes end RCB-aligned too
        }
        stop = std::min(stop, end);
        out.push_back({at, static_cast<std::uint32_t>(stop - at)});
        at = stop;
    }
    return out;
}

}  // namespace iovsim::pcie
