#include "models/pcie/ats_cache.h"

#include <stdexcept>

namespace iovsim::pcie {

namespace {

// Last byte of a range (size 0: the whole 64-bit space).
std::uint64_t last_of(std::uint64_t base, std::uint64_t size) {
    return size ? base + (size - 1) : ~std::uint64_t{0};
}

}  // namespace

ats_cache::ats_cache(const ats_cache_params& p) : m_p(p) {
    if (p.entries == 0) throw std::invalid_argument("ats_cache: entries must be > 0");
}

std::map<std::uint64_t, ats_cache::lru_list::iterator>::const_iterator ats_cache::find(
    std::uint64_t addr) const {
    auto it = m_by_base.upper_bound(addr);
    if (it == m_by_base.begin()) return m_by_base.end();
    --it;
    const ats::translation& e = *it->second;
    return addr <= last_of(e.untranslated, e.size) ? it : m_by_base.end();
}

void ats_cache::erase(std::map<std::uint64_t, lru_list::iterator>::const_iterator it) {
    m_lru.erase(it->second);
    m_by_base.erase(it);
}

std::optional<std::uint64_t> ats_cache::lookup(std::uint64_t addr, bool write) {
    ++m_stats.lookups;
    const auto it = find(addr);
    if (it == m_by_base.end() || !(write ? it->second->write : it->second->read)) {
        ++m_stats.misses;
        return std::nullopt;
    }
    ++m_stats.hits;
    m_lru.splice(m_lru.begin(), m_lru, it->second);  // most recent; the iterator stays valid
    const ats::translation& e = *it->second;
    return e.translated + (addr - e.untranslated);
}

const ats::translation* ats_cache::peek(std::uint64_t addr) const {
    const auto it = find(addr);
    return it == m_by_base.end() ? nullptr : &*it->second;
}

void ats_cache::fill(const ats::translation& t) {
    const bool power_of_two = t.size == 0 || (t.size & (t.size - 1)) == 0;
    if (!power_of_two || (t.size != 0 && t.size < ats::page)) {
        throw std::invalid_argument(
            "ats_cache: a translation's size must be a power of two >= 4 KiB");
    }
    if (t.size != 0 && (t.untranslated & (t.size - 1))) {
        throw std::invalid_argument("ats_cache: untranslated address not aligned to its size");
    }
    if (!t.read && !t.write) return;
    invalidate_overlaps(t.untranslated, t.size);
    if (m_lru.size() >= m_p.entries) {
        const auto victim = m_by_base.find(m_lru.back().untranslated);
        erase(victim);
        ++m_stats.evictions;
    }
    m_lru.push_front(t);
    m_by_base[t.untranslated] = m_lru.begin();
    ++m_stats.fills;
}

std::uint64_t ats_cache::invalidate_overlaps(std::uint64_t base, std::uint64_t size) {
    const std::uint64_t last = last_of(base, size);
    std::uint64_t n = 0;
    // The entry starting below base may reach into the range; the rest start inside it.
    auto it = find(base);
    if (it == m_by_base.end()) it = m_by_base.lower_bound(base);
    while (it != m_by_base.end() && it->first <= last) {
        const auto next = std::next(it);
        erase(it);
        ++n;
        it = next;
    }
    return n;
}

std::uint64_t ats_cache::invalidate(std::uint64_t base, std::uint64_t size) {
    ++m_stats.invalidate_requests;
    const std::uint64_t n = invalidate_overlaps(size ? base & ~(size - 1) : 0, size);
    m_stats.entries_invalidated += n;
    return n;
}

}  // namespace iovsim::pcie
