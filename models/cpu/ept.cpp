#include "models/cpu/ept.h"

#include <stdexcept>

namespace iovsim::cpu {

namespace {

bool overlaps(std::uint64_t a, std::uint64_t a_size, std::uint64_t b, std::uint64_t b_size) {
    return a < b + b_size && b < a + a_size;
}

// [addr, addr + len) wholly inside [base, base + size); len 0 counts as one byte.
bool inside(std::uint64_t addr, std::uint64_t len, std::uint64_t base, std::uint64_t size) {
    const std::uint64_t n = len == 0 ? 1 : len;
    return addr >= base && addr - base <= size && n <= size - (addr - base);
}

void check_range(std::uint64_t base, std::uint64_t size, const char* what) {
    if (size == 0) throw std::invalid_argument(std::string("ept: empty ") + what);
    if (base + size < base) throw std::invalid_argument(std::string("ept: ") + what + " wraps");
}

}  // namespace

const char* to_string(gpa_kind k) {
    switch (k) {
        case gpa_kind::ram:
            return "ram";
        case gpa_kind::passthrough:
            return "passthrough";
        case gpa_kind::trapped:
            return "trapped";
        case gpa_kind::emulated:
            return "emulated";
        case gpa_kind::unmapped:
            return "unmapped";
    }
    return "unknown";
}

void ept::check_free(std::uint64_t gpa, std::uint64_t size) const {
    for (const ram_range& r : m_ram)
        if (overlaps(gpa, size, r.gpa, r.size))
            throw std::invalid_argument("ept: range overlaps guest RAM");
    for (const region& r : m_regions)
        if (overlaps(gpa, size, r.gpa, r.size))
            throw std::invalid_argument("ept: range overlaps region " + r.name);
}

void ept::map_ram(std::uint64_t gpa, std::uint64_t hpa, std::uint64_t size) {
    check_range(gpa, size, "RAM range");
    check_range(hpa, size, "RAM range (host side)");
    check_free(gpa, size);
    m_ram.push_back({gpa, hpa, size});
}

int ept::add_passthrough(std::string name, std::uint64_t gpa, std::uint64_t hpa,
                         std::uint64_t size) {
    check_range(gpa, size, "passthrough region");
    check_range(hpa, size, "passthrough region (host side)");
    check_free(gpa, size);
    m_regions.push_back({std::move(name), true, gpa, hpa, size, {}});
    return static_cast<int>(m_regions.size() - 1);
}

void ept::trap(int region, std::uint64_t offset, std::uint64_t size) {
    if (region < 0 || static_cast<std::size_t>(region) >= m_regions.size() ||
        !m_regions[region].passthrough)
        throw std::invalid_argument("ept: trap needs a passthrough region");
    if (size == 0 || offset % ept_page_size != 0 || size % ept_page_size != 0)
        throw std::invalid_argument("ept: a trapped range must be whole pages");
    auto& r = m_regions[static_cast<std::size_t>(region)];
    if (!inside(offset, size, 0, r.size))
        throw std::invalid_argument("ept: trapped range outside region " + r.name);
    for (const range& t : r.trapped)
        if (overlaps(offset, size, t.offset, t.size))
            throw std::invalid_argument("ept: trapped ranges overlap in region " + r.name);
    r.trapped.push_back({offset, size});
}

int ept::add_emulated(std::string name, std::uint64_t gpa, std::uint64_t size) {
    check_range(gpa, size, "emulated region");
    check_free(gpa, size);
    m_regions.push_back({std::move(name), false, gpa, 0, size, {}});
    return static_cast<int>(m_regions.size() - 1);
}

gpa_translation ept::translate(std::uint64_t gpa, std::uint64_t len) const {
    gpa_translation t;
    for (const ram_range& r : m_ram) {
        if (inside(gpa, len, r.gpa, r.size)) {
            t.kind = gpa_kind::ram;
            t.hpa = r.hpa + (gpa - r.gpa);
            return t;
        }
    }
    for (std::size_t i = 0; i < m_regions.size(); ++i) {
        const region& r = m_regions[i];
        if (!inside(gpa, len, r.gpa, r.size)) continue;
        const std::uint64_t off = gpa - r.gpa;
        if (!r.passthrough) {
            t.kind = gpa_kind::emulated;
            t.region = static_cast<int>(i);
            t.offset = off;
            return t;
        }
        gpa_kind kind = gpa_kind::passthrough;
        for (const range& tr : r.trapped) {
            if (inside(off, len, tr.offset, tr.size)) {
                kind = gpa_kind::trapped;
            } else if (overlaps(off, len == 0 ? 1 : len, tr.offset, tr.size)) {
                return t;  // straddles a trapped page's edge: unmapped
            }
        }
        t.kind = kind;
        t.hpa = r.hpa + off;
        t.region = static_cast<int>(i);
        t.offset = off;
        return t;
    }
    return t;
}

bool ept::ram_hpa(std::uint64_t gpa, std::uint64_t len, std::uint64_t& hpa) const {
    const gpa_translation t = translate(gpa, len);
    if (t.kind != gpa_kind::ram) return false;
    hpa = t.hpa;
    return true;
}

}  // namespace iovsim::cpu
