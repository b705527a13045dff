#include "iommu/table_builder.h"

#include <stdexcept>

namespace iovsim::iommu {

namespace {
unsigned leaf_level_of(std::uint64_t page_size) {
    if (page_size == page_4k) return 1;
    if (page_size == page_2m) return 2;
    if (page_size == page_1g) return 3;
    throw std::invalid_argument("table_builder: page size must be 4 KiB, 2 MiB or 1 GiB");
}
void check_levels(unsigned levels) {
    if (levels != 3 && levels != 4) {
        throw std::invalid_argument("table_builder: levels must be 3 (39-bit) or 4 (48-bit)");
    }
}
bool present(std::uint64_t e) { return (e & (vtd::sl_r | vtd::sl_w)) != 0; }
}  // namespace

table_builder::table_builder(mem::sparse_store& store, std::uint64_t pool_base,
                             std::uint64_t pool_size)
    : m_store(store), m_base(pool_base), m_end(pool_base + pool_size), m_next(pool_base) {
    if (pool_base % page_4k != 0 || pool_size % page_4k != 0 || pool_size == 0 ||
        !store.contains(pool_base, pool_size)) {
        throw std::invalid_argument(
            "table_builder: pool must be a non-empty, 4 KiB aligned range inside the store");
    }
    m_rtaddr = alloc_page();
}

std::uint64_t table_builder::alloc_page() {
    if (m_next >= m_end) throw std::runtime_error("table_builder: table page pool exhausted");
    const std::uint64_t page = m_next;
    m_next += page_4k;
    static const std::uint8_t zeros[page_4k] = {};
    m_store.write(page, zeros, page_4k);
    return page;
}

std::uint64_t table_builder::read_u64(std::uint64_t addr) const {
    std::uint64_t v = 0;
    m_store.read_u64(addr, v);
    return v;
}

void table_builder::write_root_entry(std::uint8_t bus, std::uint64_t lo, std::uint64_t hi) {
    const std::uint64_t a = m_rtaddr + bus * vtd::root_entry_size;
    m_store.write_u64(a, lo);
    m_store.write_u64(a + 8, hi);
}

std::uint64_t table_builder::context_entry_address(std::uint16_t source_id) const {
    const std::uint64_t root = read_u64(m_rtaddr + (source_id >> 8) * vtd::root_entry_size);
    if (!(root & vtd::root_p)) {
        throw std::logic_error("table_builder: the bus's root entry is not present");
    }
    return (root & vtd::root_ctp) + (source_id & 0xff) * vtd::context_entry_size;
}

void table_builder::write_context_entry(std::uint16_t source_id, std::uint64_t lo,
                                        std::uint64_t hi) {
    const std::uint8_t bus = static_cast<std::uint8_t>(source_id >> 8);
    if (!(read_u64(m_rtaddr + bus * vtd::root_entry_size) & vtd::root_p)) {
        write_root_entry(bus, vtd::make_root_lo(alloc_page()));
    }
    const std::uint64_t a = context_entry_address(source_id);
    m_store.write_u64(a, lo);
    m_store.write_u64(a + 8, hi);
}

void table_builder::set_context(std::uint16_t source_id, std::uint64_t slptptr, std::uint16_t did,
                                std::uint8_t aw, vtd::translation_type tt, bool fpd) {
    const auto c = vtd::make_context(slptptr, did, aw, tt, fpd);
    write_context_entry(source_id, c.lo, c.hi);
}

void table_builder::clear_context(std::uint16_t source_id) { write_context_entry(source_id, 0, 0); }

std::uint64_t table_builder::map_one(std::uint64_t slptptr, unsigned levels, std::uint64_t iova,
                                     std::uint64_t hpa, perms p, unsigned leaf_level) {
    std::uint64_t table = slptptr;
    for (unsigned level = levels; level > leaf_level; --level) {
        const std::uint64_t a = table + level_index(iova, level) * vtd::sl_entry_size;
        std::uint64_t e = read_u64(a);
        if (!present(e)) {
            // Non-leaf entries grant R and W; the leaf decides (permissions AND along the walk).
            e = vtd::make_sl_entry(alloc_page(), perm_rw);
            m_store.write_u64(a, e);
        } else if (e & vtd::sl_ps) {
            throw std::logic_error("table_builder: range meets a larger superpage mapping");
        }
        table = e & vtd::sl_addr;
    }
    const std::uint64_t a = table + level_index(iova, leaf_level) * vtd::sl_entry_size;
    const std::uint64_t old = read_u64(a);
    if (leaf_level > 1 && present(old) && !(old & vtd::sl_ps)) {
        throw std::logic_error("table_builder: superpage range meets a table of smaller pages");
    }
    m_store.write_u64(a, vtd::make_sl_entry(hpa, p, leaf_level > 1));
    return a;
}

void table_builder::map(std::uint64_t slptptr, unsigned levels, std::uint64_t iova,
                        std::uint64_t hpa, std::uint64_t size, perms p, std::uint64_t page_size) {
    check_levels(levels);
    const unsigned leaf = leaf_level_of(page_size);
    if (size == 0 || iova % page_size != 0 || hpa % page_size != 0 || size % page_size != 0) {
        throw std::invalid_argument("table_builder: iova, hpa and size must be page aligned");
    }
    const unsigned width = levels == 3 ? 39 : 48;
    if (iova >= (1ULL << width) || size > (1ULL << width) - iova) {
        throw std::invalid_argument("table_builder: range beyond the domain's address width");
    }
    for (std::uint64_t off = 0; off < size; off += page_size) {
        map_one(slptptr, levels, iova + off, hpa + off, p, leaf);
    }
}

std::uint64_t table_builder::leaf_entry_address(std::uint64_t slptptr, unsigned levels,
                                                std::uint64_t iova, unsigned* level) const {
    std::uint64_t table = slptptr;
    for (unsigned l = levels; l >= 1; --l) {
        const std::uint64_t a = table + level_index(iova, l) * vtd::sl_entry_size;
        const std::uint64_t e = read_u64(a);
        if (l == 1 || (present(e) && (e & vtd::sl_ps))) {
            if (level) *level = l;
            return a;
        }
        if (!present(e)) {
            if (level) *level = l;
            return 0;
        }
        table = e & vtd::sl_addr;
    }
    return 0;
}

std::uint64_t table_builder::unmap(std::uint64_t slptptr, unsigned levels, std::uint64_t iova,
                                   std::uint64_t size) {
    check_levels(levels);
    std::uint64_t cleared = 0;
    std::uint64_t addr = iova & ~(page_4k - 1);
    const std::uint64_t end = iova + size;
    while (addr < end) {
        unsigned level = 1;
        const std::uint64_t a = leaf_entry_address(slptptr, levels, addr, &level);
        const std::uint64_t span = 1ULL << level_shift(level);
        if (a == 0) {
            // A non-present entry at `level`: no leaf below it, skip what it would cover.
            addr = (addr | (span - 1)) + 1;
            continue;
        }
        const std::uint64_t e = read_u64(a);
        if (present(e)) {
            const std::uint64_t first = addr & ~(span - 1);
            if (first < iova || first + span > end) {
                throw std::logic_error("table_builder: unmap covers part of a superpage");
            }
            m_store.write_u64(a, 0);
            ++cleared;
        }
        addr = (addr & ~(span - 1)) + span;
    }
    return cleared;
}

}  // namespace iovsim::iommu
