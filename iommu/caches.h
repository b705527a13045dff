// The IOMMU's translation caches as plain C++ (after gem5's smmu_v3_caches): the IOTLB, the
// context cache and the paging-structure caches, each a set-associative array with LRU or FIFO
// replacement that knows nothing of timing.
//
// Models (VT-d §6.1-§6.5):
// - iotlb: leaf translations tagged by domain ID (DID); an entry maps a 4 KiB page or a 2 MiB /
//   1 GiB superpage, so one entry reaches page_size bytes. A lookup checks all three page sizes
//   (one set probe per size). Invalidation: global, domain-selective, page-selective (DID,
//   address, address mask AM: the 2^AM 4 KiB pages from address aligned down).
// - context_cache: decoded context entries by source ID. Invalidation: global, domain-selective,
//   device-selective (source ID with function mask FM: 0 = all 16 bits, 1 = ignore bit 2,
//   2 = bits 2:1, 3 = bits 2:0).
// - paging_structure_cache: one per non-leaf level (PML4E, PDPE, PDE caches): the address of
//   the next table and the permissions ANDed so far, tagged by DID and the IOVA bits above that
//   level's table index. A PDE-cache hit leaves only the PTE to read.
//
// Leaves out: the device-TLB (ATS), PASID tags, the interrupt entry cache, tags with the
// address width (one domain has one AGAW), replacement policies other than LRU and FIFO, and
// caching of faulting or not-present translations (none are cached, as VT-d allows).
//
// Timing: none here; dma_remapper charges the lookup latencies.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "iommu/vtd_format.h"

namespace iovsim::iommu {

enum class replacement : std::uint8_t { lru, fifo };

// A set-associative array of Entry with per-set LRU or FIFO replacement. Sets are chosen by the
// caller (a hash of the tag); matching is a predicate over entries.
template <typename Entry>
class assoc_array {
public:
    // entries a multiple of ways, both > 0 (std::invalid_argument otherwise).
    assoc_array(std::uint32_t entries, std::uint32_t ways, replacement policy)
        : m_ways(ways), m_policy(policy) {
        if (entries == 0 || ways == 0 || entries % ways != 0) {
            throw std::invalid_argument("cache: entries must be a non-zero multiple of ways");
        }
        m_sets = entries / ways;
        m_slots.resize(entries);
    }

    std::uint32_t sets() const { return m_sets; }
    std::uint32_t ways() const { return m_ways; }

    // The matching valid entry in set `set`, or nullptr; a hit is most recent under LRU.
    template <typename Pred>
    Entry* find(std::uint64_t set, Pred match) {
        slot* s = &m_slots[(set % m_sets) * m_ways];
        for (std::uint32_t i = 0; i < m_ways; ++i) {
            if (s[i].valid && match(s[i].entry)) {
                if (m_policy == replacement::lru) s[i].stamp = ++m_clock;
                return &s[i].entry;
            }
        }
        return nullptr;
    }

    // Inserts e into set `set`, replacing a valid entry for which same_tag(entry) holds, else an
    // invalid way, else the least recently used (LRU) or oldest inserted (FIFO) way.
    template <typename Pred>
    void insert(std::uint64_t set, const Entry& e, Pred same_tag) {
        slot* s = &m_slots[(set % m_sets) * m_ways];
        slot* v = nullptr;
        for (std::uint32_t i = 0; i < m_ways; ++i) {
            if (s[i].valid && same_tag(s[i].entry)) {
                v = &s[i];
                break;
            }
        }
        if (!v) {
            for (std::uint32_t i = 0; i < m_ways; ++i) {
                if (!s[i].valid) {
                    v = &s[i];
                    break;
                }
                if (!v || s[i].stamp < v->stamp) v = &s[i];
            }
            if (v->valid) ++m_evictions;
        }
        *v = slot{e, ++m_clock, true};
    }

    // Invalidates every valid entry for which pred holds; returns how many.
    template <typename Pred>
    std::uint64_t erase_if(Pred pred) {
        std::uint64_t n = 0;
        for (auto& s : m_slots) {
            if (s.valid && pred(s.entry)) {
                s.valid = false;
                ++n;
            }
        }
        return n;
    }
    void clear() {
        for (auto& s : m_slots) s.valid = false;
    }
    std::uint32_t valid_entries() const {
        std::uint32_t n = 0;
        for (const auto& s : m_slots) n += s.valid ? 1 : 0;
        return n;
    }
    std::uint64_t evictions() const { return m_evictions; }

private:
    struct slot {
        Entry entry{};
        std::uint64_t stamp = 0;
        bool valid = false;
    };
    std::uint32_t m_ways;
    std::uint32_t m_sets = 0;
    replacement m_policy;
    std::vector<slot> m_slots;
    std::uint64_t m_clock = 0;
    std::uint64_t m_evictions = 0;
};

struct cache_params {
    std::uint32_t entries = 64;  // entries in all
    std::uint32_t ways = 64;     // associativity (ways = entries: fully associative)
    replacement policy = replacement::lru;
};

struct iotlb_entry {
    std::uint16_t did = 0;
    std::uint64_t iova = 0;  // page base (aligned to page_size)
    std::uint64_t hpa = 0;   // page base (aligned to page_size)
    std::uint64_t page_size = page_4k;
    perms access;
};

class iotlb {
public:
    explicit iotlb(const cache_params& p = {}) : m_array(p.entries, p.ways, p.policy) {}

    // The entry of domain did whose page holds iova (4 KiB, 2 MiB or 1 GiB), or nullptr.
    const iotlb_entry* lookup(std::uint16_t did, std::uint64_t iova);
    void insert(const iotlb_entry& e);

    std::uint64_t invalidate_all();
    std::uint64_t invalidate_domain(std::uint16_t did);
    // Page-selective: entries of did overlapping the 2^am 4 KiB pages at addr aligned down.
    std::uint64_t invalidate_pages(std::uint16_t did, std::uint64_t addr, unsigned am);

    std::uint32_t valid_entries() const { return m_array.valid_entries(); }
    std::uint64_t evictions() const { return m_array.evictions(); }

private:
    static std::uint64_t set_of(std::uint16_t did, std::uint64_t iova, std::uint64_t page_size);
    assoc_array<iotlb_entry> m_array;
};

struct context_cache_entry {
    std::uint16_t source_id = 0;
    std::uint16_t did = 0;
    vtd::translation_type tt = vtd::translation_type::untranslated;
    std::uint8_t levels = 4;    // 3 (39-bit AGAW) or 4 (48-bit)
    bool fpd = false;           // fault processing disable
    std::uint64_t slptptr = 0;  // second-level page-table pointer
};

class context_cache {
public:
    explicit context_cache(const cache_params& p = {16, 16, replacement::lru})
        : m_array(p.entries, p.ways, p.policy) {}

    const context_cache_entry* lookup(std::uint16_t source_id);
    void insert(const context_cache_entry& e);

    std::uint64_t invalidate_all();
    std::uint64_t invalidate_domain(std::uint16_t did);
    // Device-selective: entries whose source ID equals source_id under function mask fm
    // (0..3; VT-d CCMD / context-cache invalidate descriptor FM field); std::invalid_argument
    // for fm > 3.
    std::uint64_t invalidate_device(std::uint16_t source_id, unsigned fm);

    std::uint32_t valid_entries() const { return m_array.valid_entries(); }

private:
    assoc_array<context_cache_entry> m_array;
};

struct psc_entry {
    std::uint16_t did = 0;
    std::uint64_t prefix = 0;      // iova >> span_shift (see paging_structure_cache)
    std::uint64_t next_table = 0;  // address of the table the cached entry points to
    perms access;                  // permissions ANDed over the cached entry and those above it
};

// One paging-structure cache for the entries at `level` (4 = PML4E, 3 = PDPE, 2 = PDE). An entry
// at level L is selected by iova bits 47:(12 + 9 (L - 1)), i.e. the prefix iova >> span_shift,
// and covers 2^span_shift bytes of IOVA (512 GiB, 1 GiB, 2 MiB).
class paging_structure_cache {
public:
    paging_structure_cache(unsigned level, const cache_params& p);

    unsigned level() const { return m_level; }
    unsigned span_shift() const { return m_span_shift; }

    const psc_entry* lookup(std::uint16_t did, std::uint64_t iova);
    void insert(std::uint16_t did, std::uint64_t iova, std::uint64_t next_table, perms access);

    std::uint64_t invalidate_all() {
        return m_array.erase_if([](const psc_entry&) { return true; });
    }
    std::uint64_t invalidate_domain(std::uint16_t did);
    // Entries of did whose span overlaps [addr, addr + len).
    std::uint64_t invalidate_range(std::uint16_t did, std::uint64_t addr, std::uint64_t len);

    std::uint32_t valid_entries() const { return m_array.valid_entries(); }

private:
    unsigned m_level;
    unsigned m_span_shift;
    assoc_array<psc_entry> m_array;
};

}  // namespace iovsim::iommu
