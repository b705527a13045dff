// Thousands of random mappings of every page size checked against a reference std::map, then
// half of them unmapped and invalidated: the rest still translate, the unmapped fault.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "iommu/tests/iommu_fixture.h"

namespace iovsim::iommu {
namespace {

struct ref_range {
    std::uint64_t end;  // exclusive
    std::uint64_t hpa;
    std::uint64_t page_size;
    perms access;
};

TEST(random_map, thousands_of_ranges_match_a_reference_map) {
    dma_remapper_params p;
    p.iotlb = {32, 4, replacement::lru};  // small, set-associative: plenty of misses
    testing::host h(p);
    constexpr std::uint16_t sid = 0x0a00;
    constexpr std::uint16_t did = 9;
    const std::uint64_t top = h.builder.new_domain();
    h.builder.set_context(sid, top, did);

    std::mt19937_64 rng(12345);
    std::map<std::uint64_t, ref_range> ref;  // start -> range
    auto overlaps = [&](std::uint64_t s, std::uint64_t e) {
        auto it = ref.lower_bound(s);
        if (it != ref.end() && it->first < e) return true;
        if (it != ref.begin() && std::prev(it)->second.end > s) return true;
        return false;
    };
    // Page sizes get disjoint IOVA regions so no range meets a table of another page size:
    // 4 KiB pages in [0, 2^46), 2 MiB in [2^46, 2^47), 1 GiB in [2^47, 2^48).
    constexpr int ranges = 2500;
    int made = 0;
    while (made < ranges) {
        const unsigned kind = rng() % 20;  // 16/20 4 KiB, 3/20 2 MiB, 1/20 1 GiB
        const std::uint64_t ps = kind < 16 ? page_4k : kind < 19 ? page_2m : page_1g;
        const std::uint64_t region = kind < 16 ? 0 : kind < 19 ? (1ULL << 46) : (1ULL << 47);
        // Cluster the 4 KiB ranges into 64 GiB so page tables are shared.
        const std::uint64_t span = kind < 16 ? (64ULL << 30) : (1ULL << 46);
        const std::uint64_t pages = 1 + rng() % (ps == page_4k ? 8 : 2);
        const std::uint64_t iova = region + (rng() % (span / ps - pages)) * ps;
        const std::uint64_t size = pages * ps;
        if (overlaps(iova, iova + size)) continue;
        const std::uint64_t hpa = (rng() % ((1ULL << 45) / ps)) * ps;
        const perms acc = std::array<perms, 3>{perm_rw, perm_r, perm_w}[rng() % 3];
        h.builder.map(top, 4, iova, hpa, size, acc, ps);
        ref[iova] = ref_range{iova + size, hpa, ps, acc};
        ++made;
    }

    auto check_all = [&](tick_t& now) {
        for (const auto& [start, r] : ref) {
            const std::uint64_t off = rng() % (r.end - start);
            for (bool is_write : {false, true}) {
                const translation t = h.remapper->translate(sid, start + off, is_write, now);
                now += 1000 * testing::ns;
                const bool allowed = is_write ? r.access.write : r.access.read;
                if (!allowed) {
                    ASSERT_EQ(t.fault, is_write ? fault_reason::write_not_permitted
                                                : fault_reason::read_not_permitted);
                    continue;
                }
                ASSERT_TRUE(t.ok()) << std::hex << start + off << " " << to_string(t.fault);
                ASSERT_EQ(t.hpa, r.hpa + off) << std::hex << start + off;
                ASSERT_EQ(t.page_size, r.page_size);
            }
        }
    };
    tick_t now = 0;
    check_all(now);
    // Random addresses that the reference says are unmapped fault (0x6 on a read).
    for (int i = 0; i < 2000; ++i) {
        const std::uint64_t a = rng() % (1ULL << 48);
        auto it = ref.upper_bound(a);
        if (it != ref.begin() && std::prev(it)->second.end > a) continue;
        ASSERT_EQ(h.remapper->translate(sid, a, false, now).fault,
                  fault_reason::read_not_permitted);
    }
    const auto& st = h.remapper->stats();
    EXPECT_GT(st.iotlb_hits, 0u);
    EXPECT_GT(st.iotlb_misses, 0u);
    EXPECT_EQ(st.faults_of(fault_reason::sl_entry_reserved), 0u);

    // Unmap every other range and invalidate each with page-selective invalidations.
    std::map<std::uint64_t, ref_range> gone;
    bool odd = false;
    for (auto it = ref.begin(); it != ref.end();) {
        odd = !odd;
        if (!odd) {
            ++it;
            continue;
        }
        const std::uint64_t pages = (it->second.end - it->first) / it->second.page_size;
        ASSERT_EQ(h.builder.unmap(top, 4, it->first, it->second.end - it->first), pages);
        for (std::uint64_t a = it->first; a < it->second.end; a += it->second.page_size) {
            h.remapper->invalidate_iotlb_pages(did, a, 0);
        }
        gone.insert(*it);
        it = ref.erase(it);
    }
    for (const auto& [start, r] : gone) {
        const std::uint64_t off = rng() % (r.end - start);
        ASSERT_EQ(h.remapper->translate(sid, start + off, true, now).fault,
                  fault_reason::write_not_permitted);
    }
    check_all(now);
}

}  // namespace
}  // namespace iovsim::iommu
