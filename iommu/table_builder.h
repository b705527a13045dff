// Builds VT-d legacy-mode translation structures as real bytes in a sparse_store: the root
// table, per-bus context tables, and second-level page tables (3-level for a 39-bit domain,
// 4-level for 48-bit) with 4 KiB pages and 2 MiB / 1 GiB superpages. Used by tests, benchmarks
// and the host IOMMU driver model.
//
// Models: what a driver writes (VT-d §9.1, §9.3, §9.8); table pages come from a bump allocator
// over a caller-given host-physical range, zeroed (so every entry starts not present).
//
// Leaves out: freeing table pages (unmap clears leaf entries and keeps the tables), splitting a
// superpage into smaller pages or merging pages into a superpage (a map that would need either
// throws), CPU time and cache effects of the writes (the driver model charges those), and the
// invalidations a driver must issue after changing entries (the caller issues them).
#pragma once

#include <cstdint>

#include "iommu/vtd_format.h"
#include "models/mem/sparse_store.h"

namespace iovsim::iommu {

class table_builder {
public:
    // Table pages are allocated from [pool_base, pool_base + pool_size), which must be 4 KiB
    // aligned and inside the store (std::invalid_argument otherwise). The root table is the
    // pool's first page.
    table_builder(mem::sparse_store& store, std::uint64_t pool_base, std::uint64_t pool_size);

    std::uint64_t rtaddr() const { return m_rtaddr; }  // root table address (RTADDR_REG)
    // A zeroed 4 KiB table page; std::runtime_error when the pool is exhausted.
    std::uint64_t alloc_page();
    // A new, empty top-level second-level table (SLPTPTR) for a domain.
    std::uint64_t new_domain() { return alloc_page(); }

    // Makes source_id (bus[15:8], devfn[7:0]) use the given context; allocates the bus's context
    // table and sets its root entry present if needed.
    void set_context(std::uint16_t source_id, std::uint64_t slptptr, std::uint16_t did,
                     std::uint8_t aw = vtd::aw_48bit,
                     vtd::translation_type tt = vtd::translation_type::untranslated,
                     bool fpd = false);
    // Clears the context entry of source_id (not present).
    void clear_context(std::uint16_t source_id);
    // Raw access to the entries, for tests that program reserved bits or bad pointers.
    void write_root_entry(std::uint8_t bus, std::uint64_t lo, std::uint64_t hi = 0);
    void write_context_entry(std::uint16_t source_id, std::uint64_t lo, std::uint64_t hi);
    // Host address of the context entry of source_id; the bus's root entry must be present.
    std::uint64_t context_entry_address(std::uint16_t source_id) const;

    // Maps [iova, iova + size) to [hpa, hpa + size) with pages of page_size (page_4k, page_2m or
    // page_1g) in the domain whose top table is slptptr, walked with `levels` (3 or 4) levels.
    // iova, hpa and size must be multiples of page_size, size > 0, and iova + size must fit the
    // levels' address width (std::invalid_argument). Existing leaves of the same size are
    // overwritten; a range that meets a mapping of another page size throws std::logic_error.
    void map(std::uint64_t slptptr, unsigned levels, std::uint64_t iova, std::uint64_t hpa,
             std::uint64_t size, perms p, std::uint64_t page_size = page_4k);
    // Clears the leaf entries of [iova, iova + size); leaves that are not present are skipped.
    // A range that covers part of a superpage throws std::logic_error. Returns the leaves cleared.
    std::uint64_t unmap(std::uint64_t slptptr, unsigned levels, std::uint64_t iova,
                        std::uint64_t size);

    // Address of the leaf entry that maps iova, and the level it sits at (1 = PTE, 2 = PDE,
    // 3 = PDPE); 0 if a non-leaf entry on the way is not present (*level is then its level).
    // For tests that corrupt entries.
    std::uint64_t leaf_entry_address(std::uint64_t slptptr, unsigned levels, std::uint64_t iova,
                                     unsigned* level = nullptr) const;

    std::uint64_t pages_allocated() const { return (m_next - m_base) / page_4k; }

private:
    std::uint64_t map_one(std::uint64_t slptptr, unsigned levels, std::uint64_t iova,
                          std::uint64_t hpa, perms p, unsigned leaf_level);
    std::uint64_t read_u64(std::uint64_t addr) const;

    mem::sparse_store& m_store;
    std::uint64_t m_base;
    std::uint64_t m_end;
    std::uint64_t m_next;
    std::uint64_t m_rtaddr = 0;
};

}  // namespace iovsim::iommu
