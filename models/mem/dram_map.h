// Where host DRAM sits in the host-physical address map: a list of ranges, each mapping host
// addresses [base, base + size) onto backing-store offsets [offset, offset + size).
//
// Models: the x86 layout of DESIGN.md §5, where DRAM runs from 0 up to a hole below 4 GiB (ECAM,
// the 32-bit MMIO window, the IOMMU registers, the interrupt window at 0xFEE0_0000) and the rest
// of it from 4 GiB up; the store behind it is contiguous, so the hole costs no backing memory.
//
// Leaves out: remapping registers (TOLUD/TOUUD/REMAPBASE), NUMA nodes, memory interleaving
// across sockets. An access must lie wholly inside one range; one that straddles a range's end
// (even into an adjacent range) is an address error, as the hole is.
//
// Errors: constructing or adding a range that is empty, wraps past 2^64, or overlaps another one
// in host or store addresses throws std::invalid_argument (a configuration mistake).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace iovsim::mem {

struct dram_range {
    std::uint64_t base = 0;    // first host-physical address of the range
    std::uint64_t size = 0;    // bytes
    std::uint64_t offset = 0;  // backing-store offset that `base` maps to
};

class dram_map {
public:
    dram_map() = default;
    explicit dram_map(const std::vector<dram_range>& ranges);

    void add(const dram_range& range);

    // Store offset of host address `addr` if [addr, addr + len) lies wholly inside one range.
    std::optional<std::uint64_t> translate(std::uint64_t addr, std::uint64_t len) const;

    // One past the highest store offset any range maps to: the backing store size it needs.
    std::uint64_t store_extent() const;

    const std::vector<dram_range>& ranges() const { return m_ranges; }

private:
    std::vector<dram_range> m_ranges;
};

// The default x86 host map (DESIGN.md §5): `total` bytes of DRAM, [0, hole_start) below the hole
// at store offset 0 and the remaining total - hole_start bytes from 4 GiB up at store offset
// hole_start. Throws std::invalid_argument unless 0 < hole_start <= 4 GiB and hole_start < total.
dram_map x86_dram_map(std::uint64_t total = 64ULL << 30, std::uint64_t hole_start = 0xC000'0000);

}  // namespace iovsim::mem
