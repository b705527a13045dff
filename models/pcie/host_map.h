// The host-physical address map of an x86-style host (DESIGN.md §4–§5), as plain data.
//
// DRAM runs from 0 up to a hole below 4 GiB; the hole holds the 32-bit MMIO window, ECAM
// (256 MiB: bus << 20 | device << 15 | function << 12 | offset), the IOMMU's register page and
// the interrupt window 0xFEE0_0000–0xFEEF_FFFF. The rest of DRAM sits from 4 GiB up, and the
// 64-bit MMIO window above it.
#pragma once

#include <cstdint>

namespace iovsim::pcie {

struct address_range {
    std::uint64_t base = 0;
    std::uint64_t size = 0;
    bool contains(std::uint64_t a, std::uint64_t len = 1) const {
        return a >= base && len <= size && a - base <= size - len;
    }
    std::uint64_t limit() const { return base + size - 1; }  // inclusive
};

struct host_map {
    enum class region { dram, ecam, mmio32, mmio64, iommu, interrupt, none };

    address_range dram_low{0, 0x8000'0000};               // 2 GiB below the hole
    address_range mmio32{0x8000'0000, 0x6000'0000};       // 1.5 GiB 32-bit MMIO window
    address_range ecam{0xE000'0000, 0x1000'0000};         // 256 buses
    address_range iommu{0xFED9'0000, 0x1000};             // VT-d remapping registers
    address_range interrupt{0xFEE0'0000, 0x10'0000};      // MSI/MSI-X messages
    address_range dram_high{0x1'0000'0000, 62ull << 30};  // the rest of 64 GiB
    address_range mmio64{0x40'0000'0000, 64ull << 30};    // 64-bit prefetchable MMIO window

    // Lays out DRAM of `total` bytes: up to 2 GiB below the hole, the rest from 4 GiB.
    static host_map with_dram(std::uint64_t total) {
        host_map m;
        m.dram_low.size = total < m.dram_low.size ? total : m.dram_low.size;
        m.dram_high.size = total - m.dram_low.size;
        const std::uint64_t high_end = m.dram_high.base + m.dram_high.size;
        if (m.mmio64.base < high_end)
            m.mmio64.base = (high_end + (1ull << 30) - 1) & ~((1ull << 30) - 1);
        return m;
    }

    region decode(std::uint64_t a, std::uint64_t len = 1) const {
        if (dram_low.contains(a, len) || (dram_high.size && dram_high.contains(a, len)))
            return region::dram;
        if (ecam.contains(a, len)) return region::ecam;
        if (interrupt.contains(a, len)) return region::interrupt;
        if (iommu.contains(a, len)) return region::iommu;
        if (mmio32.contains(a, len)) return region::mmio32;
        if (mmio64.contains(a, len)) return region::mmio64;
        return region::none;
    }
};

}  // namespace iovsim::pcie
