#include "models/mem/dram_map.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace iovsim::mem {

namespace {

constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();

bool overlaps(std::uint64_t a, std::uint64_t a_size, std::uint64_t b, std::uint64_t b_size) {
    return a < b + b_size && b < a + a_size;
}

}  // namespace

dram_map::dram_map(const std::vector<dram_range>& ranges) {
    for (const auto& r : ranges) add(r);
}

void dram_map::add(const dram_range& range) {
    if (range.size == 0) throw std::invalid_argument("dram_map: empty DRAM range");
    if (range.base > max_u64 - range.size || range.offset > max_u64 - range.size) {
        throw std::invalid_argument("dram_map: DRAM range wraps past 2^64");
    }
    for (const auto& r : m_ranges) {
        if (overlaps(range.base, range.size, r.base, r.size)) {
            throw std::invalid_argument("dram_map: DRAM ranges overlap in host addresses at 0x" +
                                        std::to_string(range.base));
        }
        if (overlaps(range.offset, range.size, r.offset, r.size)) {
            throw std::invalid_argument("dram_map: DRAM ranges overlap in store offsets at " +
                                        std::to_string(range.offset));
        }
    }
    m_ranges.push_back(range);
}

std::optional<std::uint64_t> dram_map::translate(std::uint64_t addr, std::uint64_t len) const {
    for (const auto& r : m_ranges) {
        if (addr >= r.base && addr - r.base < r.size && len <= r.size - (addr - r.base)) {
            return r.offset + (addr - r.base);
        }
    }
    return std::nullopt;
}

std::uint64_t dram_map::store_extent() const {
    std::uint64_t extent = 0;
    for (const auto& r : m_ranges) extent = std::max(extent, r.offset + r.size);
    return extent;
}

dram_map x86_dram_map(std::uint64_t total, std::uint64_t hole_start) {
    constexpr std::uint64_t four_gib = 4ULL << 30;
    if (hole_start == 0 || hole_start > four_gib || hole_start >= total) {
        throw std::invalid_argument(
            "x86_dram_map: need 0 < hole_start <= 4 GiB and hole_start < total");
    }
    return dram_map({{0, hole_start, 0}, {four_gib, total - hole_start, hole_start}});
}

}  // namespace iovsim::mem
