// A device's Address Translation Cache (ATC, PCIe Base Spec §10.2), plain C++: the "MMU inside
// the device" that holds translations the IOMMU returned for its Translation Requests, so the
// device can issue Translated requests that skip the IOMMU's IOTLB.
//
// Models:
// - Entries: an untranslated range (4 KiB or the larger range a completion's S bit gave) mapped
//   to a translated range of the same size, with the R and W permissions returned. Ranges never
//   overlap: a fill drops the entries it overlaps.
// - Fully associative, `entries` entries, least-recently-used replacement (a hit refreshes).
// - Invalidation by untranslated range (an Invalidate Request's address and size, or
//   everything): every entry overlapping the range is dropped.
// - Statistics: lookups, hits, misses, fills, evictions, invalidate requests, entries dropped.
//
// Leaves out: PASID-tagged entries, Global/Priv/Exe attributes, set-associative organisations,
// the invalidation queue depth (an invalidation is applied at once), a permission-miss retry
// policy (a lookup for a write that finds a read-only entry is a miss the caller may refill).
//
// Timing: none; the device charges its lookup latency.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <optional>

#include "models/pcie/ats_format.h"

namespace iovsim::pcie {

struct ats_cache_params {
    std::uint32_t entries = 64;
};

struct ats_cache_stats {
    std::uint64_t lookups = 0;
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t fills = 0;
    std::uint64_t evictions = 0;            // entries pushed out by a fill (LRU)
    std::uint64_t invalidate_requests = 0;  // invalidate() calls
    std::uint64_t entries_invalidated = 0;  // entries those dropped
    double hit_rate() const { return lookups ? static_cast<double>(hits) / lookups : 0.0; }
};

class ats_cache {
public:
    // std::invalid_argument for entries == 0.
    explicit ats_cache(const ats_cache_params& p = {});

    // The translated address of `addr` for a read or write if an entry covers it with that
    // permission (a hit, made most recent); nullopt otherwise (a miss).
    std::optional<std::uint64_t> lookup(std::uint64_t addr, bool write);
    // The entry covering addr, if any, without touching LRU order or statistics.
    const ats::translation* peek(std::uint64_t addr) const;

    // Stores a translation (as decoded from a completion). One with R = W = 0 is not cached.
    // std::invalid_argument for a size that is not a power of two >= 4 KiB (0: the whole space)
    // or an untranslated address not aligned to it.
    void fill(const ats::translation& t);

    // Drops every entry overlapping [base, base + size) (size 0: everything); returns how many.
    std::uint64_t invalidate(std::uint64_t base, std::uint64_t size);
    std::uint64_t invalidate_all() { return invalidate(0, 0); }

    std::uint32_t capacity() const { return m_p.entries; }
    std::uint32_t size() const { return static_cast<std::uint32_t>(m_lru.size()); }
    const ats_cache_stats& stats() const { return m_stats; }
    void reset_stats() { m_stats = ats_cache_stats{}; }

private:
    using lru_list = std::list<ats::translation>;
    // The entry whose range holds addr, or end().
    std::map<std::uint64_t, lru_list::iterator>::const_iterator find(std::uint64_t addr) const;
    void erase(std::map<std::uint64_t, lru_list::iterator>::const_iterator it);
    std::uint64_t invalidate_overlaps(std::uint64_t base, std::uint64_t size);

    ats_cache_params m_p;
    lru_list m_lru;  // most recent first
    std::map<std::uint64_t, lru_list::iterator> m_by_base;
    ats_cache_stats m_stats;
};

}  // namespace iovsim::pcie
