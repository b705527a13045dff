#include "iommu/caches.h"

namespace iovsim::iommu {

namespace {
constexpr std::uint64_t page_sizes[] = {page_4k, page_2m, page_1g};

// Spreads (did, page number) over the sets; the page size is mixed in so the 4 KiB, 2 MiB and
// 1 GiB entries of one region do not all compete for one set.
std::uint64_t mix(std::uint64_t did, std::uint64_t vpn, std::uint64_t salt) {
    return vpn ^ (did * 0x9e3779b1ULL) ^ (salt * 0x85ebca6bULL);
}
bool overlaps(std::uint64_t a, std::uint64_t alen, std::uint64_t b, std::uint64_t blen) {
    return a < b + blen && b < a + alen;
}
}  // namespace

// --- iotlb ---

std::uint64_t iotlb::set_of(std::uint16_t did, std::uint64_t iova, std::uint64_t page_size) {
    const std::uint64_t salt = page_size == page_4k ? 0 : page_size == page_2m ? 1 : 2;
    return mix(did, iova / page_size, salt);
}

const iotlb_entry* iotlb::lookup(std::uint16_t did, std::uint64_t iova) {
    for (std::uint64_t size : page_sizes) {
        const std::uint64_t base = iova & ~(size - 1);
        if (const iotlb_entry* e = m_array.find(set_of(did, iova, size), [&](const iotlb_entry& x) {
                return x.did == did && x.page_size == size && x.iova == base;
            })) {
            return e;
        }
    }
    return nullptr;
}

void iotlb::insert(const iotlb_entry& e) {
    m_array.insert(set_of(e.did, e.iova, e.page_size), e, [&](const iotlb_entry& x) {
        return x.did == e.did && x.page_size == e.page_size && x.iova == e.iova;
    });
}

std::uint64_t iotlb::invalidate_all() {
    return m_array.erase_if([](const iotlb_entry&) { return true; });
}

std::uint64_t iotlb::invalidate_domain(std::uint16_t did) {
    return m_array.erase_if([&](const iotlb_entry& x) { return x.did == did; });
}

std::uint64_t iotlb::invalidate_pages(std::uint16_t did, std::uint64_t addr, unsigned am) {
    const std::uint64_t len = page_4k << am;
    const std::uint64_t base = addr & ~(len - 1);
    return m_array.erase_if([&](const iotlb_entry& x) {
        return x.did == did && overlaps(x.iova, x.page_size, base, len);
    });
}

// --- context_cache ---

const context_cache_entry* context_cache::lookup(std::uint16_t source_id) {
    return m_array.find(source_id,
                        [&](const context_cache_entry& x) { return x.source_id == source_id; });
}

void context_cache::insert(const context_cache_entry& e) {
    m_array.insert(e.source_id, e,
                   [&](const context_cache_entry& x) { return x.source_id == e.source_id; });
}

std::uint64_t context_cache::invalidate_all() {
    return m_array.erase_if([](const context_cache_entry&) { return true; });
}

std::uint64_t context_cache::invalidate_domain(std::uint16_t did) {
    return m_array.erase_if([&](const context_cache_entry& x) { return x.did == did; });
}

std::uint64_t context_cache::invalidate_device(std::uint16_t source_id, unsigned fm) {
    if (fm > 3) throw std::invalid_argument("context_cache: function mask must be 0..3");
    // FM 01 masks SID bit 2, 10 bits 2:1, 11 bits 2:0 (the function number's bits).
    static constexpr std::uint16_t masks[] = {0xffff, 0xfffb, 0xfff9, 0xfff8};
    const std::uint16_t mask = masks[fm];
    return m_array.erase_if(
        [&](const context_cache_entry& x) { return (x.source_id & mask) == (source_id & mask); });
}

// --- paging_structure_cache ---

paging_structure_cache::paging_structure_cache(unsigned level, const cache_params& p)
    : m_level(level), m_span_shift(12 + 9 * (level - 1)), m_array(p.entries, p.ways, p.policy) {
    if (level < 2 || level > 4) {
        throw std::invalid_argument("paging_structure_cache: level must be 2, 3 or 4");
    }
}

const psc_entry* paging_structure_cache::lookup(std::uint16_t did, std::uint64_t iova) {
    const std::uint64_t prefix = iova >> m_span_shift;
    return m_array.find(mix(did, prefix, 0),
                        [&](const psc_entry& x) { return x.did == did && x.prefix == prefix; });
}

void paging_structure_cache::insert(std::uint16_t did, std::uint64_t iova, std::uint64_t next_table,
                                    perms access) {
    const std::uint64_t prefix = iova >> m_span_shift;
    m_array.insert(mix(did, prefix, 0), psc_entry{did, prefix, next_table, access},
                   [&](const psc_entry& x) { return x.did == did && x.prefix == prefix; });
}

std::uint64_t paging_structure_cache::invalidate_domain(std::uint16_t did) {
    return m_array.erase_if([&](const psc_entry& x) { return x.did == did; });
}

std::uint64_t paging_structure_cache::invalidate_range(std::uint16_t did, std::uint64_t addr,
                                                       std::uint64_t len) {
    return m_array.erase_if([&](const psc_entry& x) {
        return x.did == did && overlaps(x.prefix << m_span_shift, 1ULL << m_span_shift, addr, len);
    });
}

}  // namespace iovsim::iommu
