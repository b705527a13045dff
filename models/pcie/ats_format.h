// Address Translation Services (PCIe Base Spec §10) message and completion layouts, header-only so
// that both sides of the protocol (a device's ATC in models/pcie, the IOMMU in iommu/) share them.
//
// Models:
// - The Translation Completion data entry (§10.2.2, one 8-byte entry per translation):
//   DW0 = Translated Address [63:32]; DW1 = Translated Address [31:12] | S (bit 11) | N (10) |
//   Global (5) | Priv (4) | Exe (3) | U (2) | W (1) | R (0). R = W = 0 means "no translation".
// - The range an address with the S bit describes (§10.2.3.2): with S clear, 4 KiB; with S set,
//   the lowest 0 bit of address bits 63:12 at position z gives 2^(z+1) bytes (bit 12 clear:
//   8 KiB; bits 20:12 = 0 1111 1111: 2 MiB; bits 62:12 all set, bit 63 clear: the whole
//   64-bit space). The Invalidate Request message (§10.3.1) carries an untranslated address and
//   S in the same layout, and the VT-d Device-TLB invalidate descriptor (VT-d §6.5.2.5) encodes
//   its range the same way (ADDR 127:76, S bit 64).
// - Byte order: each DW is sent most significant byte first, as the spec draws TLP headers and
//   these payloads; a payload is an array of 8 bytes in wire order.
//
// Leaves out: PASID prefixes, multiple translations per request, the N/Global/Priv/Exe/U bits
// (always 0 here), Page Request Services.
//
// Timing: none; these are layouts. An ats_invalidation_target answers with the tick its
// Invalidation Completion message leaves the device.
#pragma once

#include <array>
#include <cstdint>

#include "models/core/units.h"

namespace iovsim::pcie::ats {

inline constexpr std::uint64_t page = 4096;
inline constexpr std::uint32_t completion_bytes = 8;  // one translation entry
inline constexpr std::uint64_t bit_r = 1u << 0;
inline constexpr std::uint64_t bit_w = 1u << 1;
inline constexpr std::uint64_t bit_s = 1u << 11;

using payload = std::array<unsigned char, 8>;

// One translation: [untranslated, untranslated + size) -> [translated, translated + size).
struct translation {
    std::uint64_t untranslated = 0;  // aligned to size
    std::uint64_t translated = 0;    // aligned to size
    std::uint64_t size = page;       // a power of two >= 4 KiB; 0 means 2^64 (the whole space)
    bool read = false;
    bool write = false;
};

// Address field (bits 63:12) with the size folded in by the S-bit rule; bit 11 is S.
// `size` must be a power of two >= 4 KiB (0: 2^64).
constexpr std::uint64_t encode_range(std::uint64_t base, std::uint64_t size) {
    if (size == page) return base & ~(page - 1);
    const std::uint64_t mask = size ? size - 1 : ~std::uint64_t{0};
    // Bits 12..log2(size)-2 set, bit log2(size)-1 clear, the base's bits above.
    return (base & ~mask) | ((mask >> 1) & ~(page - 1)) | bit_s;
}

// Base and size of an address field (bits 63:12 and S at bit 11); size 0 means 2^64.
struct range {
    std::uint64_t base = 0;
    std::uint64_t size = page;
};
constexpr range decode_range(std::uint64_t field) {
    const std::uint64_t addr = field & ~(page - 1);
    if (!(field & bit_s)) return {addr, page};
    unsigned z = 12;
    while (z < 64 && (addr >> z & 1)) ++z;
    if (z >= 63) return {0, 0};  // bits 62:12 set: every address
    const std::uint64_t size = std::uint64_t{2} << z;
    return {addr & ~(size - 1), size};
}

inline payload to_wire(std::uint64_t v) {
    payload p{};
    const std::uint32_t dw[2] = {static_cast<std::uint32_t>(v >> 32),
                                 static_cast<std::uint32_t>(v)};
    for (int d = 0; d < 2; ++d)
        for (int b = 0; b < 4; ++b)
            p[4 * d + b] = static_cast<unsigned char>(dw[d] >> (24 - 8 * b));
    return p;
}
inline std::uint64_t from_wire(const unsigned char* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
    return v;
}

// Translation Completion data entry for `t` (translated address and its range, R, W).
inline payload encode_completion(const translation& t) {
    std::uint64_t v = t.read || t.write ? encode_range(t.translated, t.size) : 0;
    v |= (t.read ? bit_r : 0) | (t.write ? bit_w : 0);
    return to_wire(v);
}
// The translation a completion entry gives for a request at `untranslated`.
inline translation decode_completion(const unsigned char* p, std::uint64_t untranslated) {
    const std::uint64_t v = from_wire(p);
    const range r = decode_range(v & ~std::uint64_t{0x7ff});  // address and S
    translation t;
    t.size = r.size;
    t.translated = r.base;
    const std::uint64_t mask = r.size ? r.size - 1 : ~std::uint64_t{0};
    t.untranslated = untranslated & ~mask;
    t.read = v & bit_r;
    t.write = v & bit_w;
    return t;
}

// Invalidate Request message payload (§10.3.1): the untranslated range to drop.
inline payload encode_invalidate(std::uint64_t base, std::uint64_t size) {
    return to_wire(encode_range(base, size));
}
inline range decode_invalidate(const unsigned char* p) { return decode_range(from_wire(p)); }

// A device with an ATC, as the IOMMU's root complex sees it: it receives an Invalidate Request
// (payload in wire order) arriving at `at` and returns the tick its Invalidation Completion
// leaves the device, after every translation of the range is gone from its ATC.
class ats_invalidation_target {
public:
    virtual ~ats_invalidation_target() = default;
    virtual tick_t ats_invalidate(const payload& request, tick_t at) = 0;
};

}  // namespace iovsim::pcie::ats
