// A sparse byte-addressable backing store for host DRAM.
//
// Models: the contents of a (large, default 64 GiB) memory as 4 KiB pages that are allocated,
// zero-filled, on the first write that touches them; reads of untouched memory return zeros
// without allocating. Accesses may cross page boundaries. Little-endian u16/u32/u64 helpers read
// and write multi-byte fields (descriptors, page-table entries) as x86 and PCIe lay them out.
//
// Leaves out: timing (see memory_timing.h), host address decoding (see dram_map.h), freeing
// pages again (a page written with zeros stays allocated).
//
// Errors: an access that does not lie entirely inside [0, size) returns false, touches nothing,
// and is counted in out_of_range(); it is never undefined behaviour.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <unordered_map>

#include "models/core/bits.h"

namespace iovsim::mem {

using iovsim::load_le;  // little-endian helpers (models/core/bits.h), as mem::load_le
using iovsim::store_le;

class sparse_store {
public:
    static constexpr std::uint64_t page_size = 4096;            // bytes per allocated page
    static constexpr std::uint64_t default_size = 64ULL << 30;  // 64 GiB

    explicit sparse_store(std::uint64_t size = default_size) : m_size(size) {}

    std::uint64_t size() const { return m_size; }

    // True if [addr, addr + len) lies inside the store (a zero-length access at size() does).
    bool contains(std::uint64_t addr, std::uint64_t len) const {
        return addr <= m_size && len <= m_size - addr;
    }

    // Copies len bytes at addr into dst; untouched memory reads as zeros. False if out of range.
    bool read(std::uint64_t addr, void* dst, std::uint64_t len) const;
    // Copies len bytes from src to addr, allocating pages as needed. False if out of range.
    bool write(std::uint64_t addr, const void* src, std::uint64_t len);

    // Little-endian fields; false (and `value` untouched on read) if out of range.
    bool read_u16(std::uint64_t addr, std::uint16_t& value) const { return read_le(addr, value); }
    bool read_u32(std::uint64_t addr, std::uint32_t& value) const { return read_le(addr, value); }
    bool read_u64(std::uint64_t addr, std::uint64_t& value) const { return read_le(addr, value); }
    bool write_u16(std::uint64_t addr, std::uint16_t value) { return write_le(addr, value); }
    bool write_u32(std::uint64_t addr, std::uint32_t value) { return write_le(addr, value); }
    bool write_u64(std::uint64_t addr, std::uint64_t value) { return write_le(addr, value); }

    std::uint64_t pages_touched() const { return m_pages.size(); }
    std::uint64_t bytes_allocated() const { return m_pages.size() * page_size; }
    std::uint64_t out_of_range() const { return m_out_of_range; }

private:
    using page = std::array<std::uint8_t, page_size>;

    template <typename T>
    bool read_le(std::uint64_t addr, T& value) const {
        std::uint8_t buf[sizeof(T)];
        if (!read(addr, buf, sizeof(T))) return false;
        value = load_le<T>(buf);
        return true;
    }
    template <typename T>
    bool write_le(std::uint64_t addr, T value) {
        std::uint8_t buf[sizeof(T)];
        store_le<T>(buf, value);
        return write(addr, buf, sizeof(T));
    }

    std::uint64_t m_size;
    std::unordered_map<std::uint64_t, std::unique_ptr<page>> m_pages;  // page number -> bytes
    mutable std::uint64_t m_out_of_range = 0;
};

}  // namespace iovsim::mem
