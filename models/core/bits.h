// Small bit and byte helpers every model uses: powers of two, and little-endian loads and stores
// of register and descriptor fields in raw byte buffers (PCIe, VT-d, virtio and the NICs are all
// little-endian).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace iovsim {

constexpr bool is_power_of_two(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Little-endian load and store of an unsigned integer in a raw byte buffer.
template <typename T, typename Byte>
T load_le(const Byte* p) {
    static_assert(std::is_unsigned_v<T>, "load_le reads unsigned integers");
    static_assert(sizeof(Byte) == 1, "load_le reads bytes");
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        v |= static_cast<T>(static_cast<T>(static_cast<std::uint8_t>(p[i])) << (8 * i));
    return v;
}

template <typename T, typename Byte>
void store_le(Byte* p, T v) {
    static_assert(std::is_unsigned_v<T>, "store_le writes unsigned integers");
    static_assert(sizeof(Byte) == 1, "store_le writes bytes");
    for (std::size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<Byte>(v >> (8 * i));
}

// The same for a field of `n` bytes (1 to 8), as configuration and MMIO accesses carry them.
template <typename Byte>
std::uint64_t load_le_n(const Byte* p, unsigned n) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) v |= std::uint64_t{static_cast<std::uint8_t>(p[i])} << (8 * i);
    return v;
}

template <typename Byte>
void store_le_n(Byte* p, unsigned n, std::uint64_t v) {
    for (unsigned i = 0; i < n; ++i) p[i] = static_cast<Byte>(v >> (8 * i));
}

}  // namespace iovsim
