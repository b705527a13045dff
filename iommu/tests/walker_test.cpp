#include <gtest/gtest.h>

#include "iommu/tests/iommu_fixture.h"

namespace iovsim::iommu {
namespace {

using testing::host;
using testing::ns;

constexpr std::uint16_t sid_a = 0x0308;  // 03:01.0
constexpr std::uint16_t did_a = 7;

// Tables written entry by entry from the VT-d layouts, without table_builder: root table at
// 0x10000, context table at 0x11000, PML4 0x12000, PDPT 0x13000, PD 0x14000, PT 0x15000.
// IOVA 0x0000_0080_4060_3abc: PML4 index bits 47:39 = 1, PDPT index 38:30 = 1,
// PD index 29:21 = 3, PT index 20:12 = 3, offset 0xabc.
TEST(walker, four_level_tables_built_by_hand) {
    host h;
    auto& s = h.store;
    h.remapper->set_root_table(0x10000);
    // Root entry for bus 3 at 0x10000 + 3 x 16: CTP 0x11000, P.
    s.write_u64(0x10000 + 3 * 16, 0x11000 | 1);
    // Context entry for devfn 0x08 at 0x11000 + 8 x 16: SLPTPTR 0x12000, TT 00, P;
    // hi: AW 010 (48-bit), DID 7 in bits 87:72 (hi bits 23:8).
    s.write_u64(0x11000 + 8 * 16, 0x12000 | 1);
    s.write_u64(0x11000 + 8 * 16 + 8, (7ULL << 8) | 0b010);
    s.write_u64(0x12000 + 1 * 8, 0x13000 | 3);        // PML4E: R W
    s.write_u64(0x13000 + 1 * 8, 0x14000 | 3);        // PDPE
    s.write_u64(0x14000 + 3 * 8, 0x15000 | 3);        // PDE, PS 0
    s.write_u64(0x15000 + 3 * 8, 0x2'3456'7000 | 1);  // PTE: R only

    const std::uint64_t iova = (1ULL << 39) | (1ULL << 30) | (3ULL << 21) | (3ULL << 12) | 0xabc;
    ASSERT_EQ(iova, 0x0000'0080'4060'3abcULL);
    const translation r = h.read(sid_a, iova, 0);
    ASSERT_TRUE(r.ok()) << to_string(r.fault);
    EXPECT_EQ(r.hpa, 0x2'3456'7abcULL);
    EXPECT_EQ(r.page_size, page_4k);
    EXPECT_EQ(r.did, did_a);
    EXPECT_TRUE(r.access == perm_r);
    // Root + context + PML4E + PDPE + PDE + PTE.
    EXPECT_EQ(r.memory_reads, 6u);
    // Cold: 2 ns probe, 2 x 80 ns (root, context), 2 ns IOTLB probe with the DID, 5 ns
    // paging-structure caches, 4 x 80 ns = 2 + 160 + 2 + 5 + 320 = 489 ns.
    EXPECT_EQ(r.done, 489 * ns);

    // Write to the read-only page: fault 0x5 (from the IOTLB now), recorded as a write.
    const translation w = h.write(sid_a, iova, 1000 * ns);
    EXPECT_EQ(w.fault, fault_reason::write_not_permitted);
    EXPECT_TRUE(w.iotlb_hit);
    EXPECT_EQ(w.hpa, 0u);
    ASSERT_EQ(h.faults.pending(), 1u);
    EXPECT_EQ(h.faults.front().source_id, sid_a);
    EXPECT_EQ(h.faults.front().address, iova);
    EXPECT_EQ(h.faults.front().reason, fault_reason::write_not_permitted);
    EXPECT_TRUE(h.faults.front().is_write);
}

// 3-level (39-bit) tables by hand: SLPTPTR points at a PDPT directly.
TEST(walker, three_level_tables_built_by_hand) {
    host h;
    auto& s = h.store;
    h.remapper->set_root_table(0x10000);
    s.write_u64(0x10000 + 3 * 16, 0x11000 | 1);
    s.write_u64(0x11000 + 8 * 16, 0x13000 | 1);
    s.write_u64(0x11000 + 8 * 16 + 8, (7ULL << 8) | 0b001);  // AW 001: 39-bit
    s.write_u64(0x13000 + 2 * 8, 0x14000 | 3);               // PDPE index 2
    s.write_u64(0x14000 + 0 * 8, 0x8000'0000 | 0x80 | 3);    // PDE index 0: 2 MiB page, PS
    // IOVA 0x8001_2345: PDPT index 38:30 = 2, PD index 29:21 = 0, offset in 2 MiB 0x1_2345.
    const translation r = h.write(sid_a, 0x8001'2345, 0);
    ASSERT_TRUE(r.ok()) << to_string(r.fault);
    EXPECT_EQ(r.hpa, 0x8001'2345ULL);
    EXPECT_EQ(r.page_size, page_2m);
    // Root, context, PDPE, PDE = 4 reads: 2 + 160 + 2 + 5 + 160 = 329 ns.
    EXPECT_EQ(r.memory_reads, 4u);
    EXPECT_EQ(r.done, 329 * ns);
}

struct level_case {
    std::uint8_t aw;
    unsigned levels;
    std::uint64_t page_size;
    std::uint32_t sl_reads;  // second-level entries on a cold walk
};

class every_level_and_page_size : public ::testing::TestWithParam<level_case> {};

// Leaf at level 1 (PTE), 2 (PDE.PS) or 3 (PDPE.PS): a cold walk reads levels - leaf + 1
// entries; 4-level: 4, 3, 2; 3-level: 3, 2, 1.
TEST_P(every_level_and_page_size, maps_translates_and_caches) {
    const level_case c = GetParam();
    host h;
    const std::uint64_t top = h.builder.new_domain();
    h.builder.set_context(sid_a, top, did_a, c.aw);
    const std::uint64_t iova = 3 * page_1g;  // 0xC000_0000, aligned for every size
    const std::uint64_t hpa = 5 * page_1g;   // 0x1_4000_0000
    h.builder.map(top, c.levels, iova, hpa, 2 * c.page_size, perm_rw, c.page_size);

    const std::uint64_t off = c.page_size - 8;  // last bytes of the first page
    const translation r = h.read(sid_a, iova + off, 0);
    ASSERT_TRUE(r.ok()) << to_string(r.fault);
    EXPECT_EQ(r.hpa, hpa + off);
    EXPECT_EQ(r.page_size, c.page_size);
    EXPECT_EQ(r.memory_reads, 2 + c.sl_reads);
    // 2 + 2 x 80 + 2 + 5 + sl_reads x 80 ns.
    EXPECT_EQ(r.done, (169 + 80 * c.sl_reads) * ns);

    // Same page again: an IOTLB hit, 2 ns, no memory read.
    const translation hit = h.write(sid_a, iova + 16, 10'000 * ns);
    ASSERT_TRUE(hit.ok());
    EXPECT_TRUE(hit.iotlb_hit);
    EXPECT_EQ(hit.hpa, hpa + 16);
    EXPECT_EQ(hit.memory_reads, 0u);
    EXPECT_EQ(hit.done, 10'002 * ns);

    // The second page: the paging-structure cache of the level above the leaf holds the
    // pointer, so only the leaf is read: 2 + 5 + 80 = 87 ns.
    const translation second = h.read(sid_a, iova + c.page_size, 20'000 * ns);
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second.hpa, hpa + c.page_size);
    EXPECT_EQ(second.memory_reads, 1u);
    EXPECT_EQ(second.done, 20'087 * ns);

    // Just past the mapping: not present, a read fault 0x6.
    const translation past = h.read(sid_a, iova + 2 * c.page_size, 30'000 * ns);
    EXPECT_EQ(past.fault, fault_reason::read_not_permitted);
    EXPECT_EQ(h.remapper->stats().sl_not_present, 1u);
}

INSTANTIATE_TEST_SUITE_P(walker, every_level_and_page_size,
                         ::testing::Values(level_case{vtd::aw_48bit, 4, page_4k, 4},
                                           level_case{vtd::aw_48bit, 4, page_2m, 3},
                                           level_case{vtd::aw_48bit, 4, page_1g, 2},
                                           level_case{vtd::aw_39bit, 3, page_4k, 3},
                                           level_case{vtd::aw_39bit, 3, page_2m, 2},
                                           level_case{vtd::aw_39bit, 3, page_1g, 1}));

// The calibration point (DESIGN.md §7): in a domain in use (PML4E cached), a 4 KiB page in a
// cold 1 GiB region misses by psc 5 ns + PDPE, PDE, PTE from DRAM 3 x 80 ns = 245 ns over a hit.
TEST(walker_timing, iotlb_miss_penalty_is_about_250ns) {
    host h;
    const std::uint64_t top = h.builder.new_domain();
    h.builder.set_context(sid_a, top, did_a);
    h.builder.map(top, 4, 0, 0x1'0000'0000, page_4k, perm_rw);
    h.builder.map(top, 4, 7 * page_1g, 0x1'0000'1000, page_4k, perm_rw);
    ASSERT_TRUE(h.read(sid_a, 0, 0).ok());  // warms the context cache and the PML4E cache

    const translation hit = h.read(sid_a, 0x40, 10'000 * ns);
    const translation miss = h.read(sid_a, 7 * page_1g + 0x40, 20'000 * ns);
    ASSERT_TRUE(hit.ok());
    ASSERT_TRUE(miss.ok());
    EXPECT_EQ(miss.memory_reads, 3u);
    EXPECT_EQ((miss.done - 20'000 * ns) - (hit.done - 10'000 * ns), 245 * ns);
    EXPECT_EQ(h.remapper->stats().pml4e_cache_hits, 1u);
}

// Tables the CPU has just written sit in the LLC: each read costs llc_hit_latency 20 ns.
TEST(walker_timing, walk_over_llc_resident_tables) {
    host h;
    const std::uint64_t top = h.builder.new_domain();
    h.builder.set_context(sid_a, top, did_a);
    h.builder.map(top, 4, 0x4000, 0x9000, page_4k, perm_rw);
    h.timing.warm(testing::pool_base, h.builder.pages_allocated() * page_4k);
    const translation r = h.read(sid_a, 0x4000, 0);
    ASSERT_TRUE(r.ok());
    // 2 + 2 x 20 + 2 + 5 + 4 x 20 = 129 ns.
    EXPECT_EQ(r.done, 129 * ns);
}

// One walker: a second miss arriving while the first walks waits for it.
TEST(walker_timing, walks_queue_for_a_free_walker) {
    dma_remapper_params p;
    p.walkers = 1;
    host h(p);
    const std::uint64_t top = h.builder.new_domain();
    h.builder.set_context(sid_a, top, did_a);
    h.builder.map(top, 4, 0, 4 * page_1g, 4 * page_1g, perm_rw, page_1g);
    ASSERT_TRUE(h.read(sid_a, 0, 0).ok());  // context cached; PML4E cached
    // Both at t = 10 us to different 1 GiB pages: each reads the PDPE (80 ns) after 2 + 5 ns.
    const translation a = h.read(sid_a, 1 * page_1g, 10'000 * ns);
    const translation b = h.read(sid_a, 2 * page_1g, 10'000 * ns);
    EXPECT_EQ(a.done, 10'087 * ns);
    // b's lookup ends at 10 002 ns; the walker is free at 10 087 ns: + 5 + 80 = 10 172 ns.
    EXPECT_EQ(b.done, 10'172 * ns);
    EXPECT_EQ(h.remapper->stats().walker_wait, 85 * ns);

    dma_remapper_params two = p;
    two.walkers = 2;
    host h2(two);
    const std::uint64_t top2 = h2.builder.new_domain();
    h2.builder.set_context(sid_a, top2, did_a);
    h2.builder.map(top2, 4, 0, 4 * page_1g, 4 * page_1g, perm_rw, page_1g);
    ASSERT_TRUE(h2.read(sid_a, 0, 0).ok());
    EXPECT_EQ(h2.read(sid_a, 1 * page_1g, 10'000 * ns).done, 10'087 * ns);
    // Two walkers: no queueing for a walker, but both PDPEs (indexes 1 and 2) lie in one 64 B
    // line, so on one DRAM channel: the second read's slot starts after the first's line
    // transfer (3334 ps, memory_timing's default), 10 007 ns + 3.334 ns + 80 ns.
    EXPECT_EQ(h2.read(sid_a, 2 * page_1g, 10'000 * ns).done, 10'090'334u);
    EXPECT_EQ(h2.remapper->stats().walker_wait, 0u);
}

TEST(walker, pass_through_context) {
    host h;
    h.builder.set_context(sid_a, 0, did_a, vtd::aw_48bit, vtd::translation_type::pass_through);
    const translation r = h.write(sid_a, 0x1'2345'6789, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r.pass_through);
    EXPECT_EQ(r.hpa, 0x1'2345'6789ULL);
    EXPECT_EQ(r.memory_reads, 2u);  // root + context only
    EXPECT_EQ(r.done, 162 * ns);    // 2 + 2 x 80
    const translation again = h.read(sid_a, 0x42, 1000 * ns);
    EXPECT_TRUE(again.context_hit);
    EXPECT_EQ(again.hpa, 0x42u);
    EXPECT_EQ(again.done, 1002 * ns);
}

// Permissions are ANDed down the walk: a PDE without W makes a W leaf read-only.
TEST(walker, permissions_are_anded_along_the_walk) {
    host h;
    const std::uint64_t top = h.builder.new_domain();
    h.builder.set_context(sid_a, top, did_a);
    h.builder.map(top, 4, 0x20'0000, 0x30'0000, page_4k, perm_rw);
    unsigned level = 0;
    const std::uint64_t pte = h.builder.leaf_entry_address(top, 4, 0x20'0000, &level);
    ASSERT_EQ(level, 1u);
    // The PDE is the entry that points at the PTE's table: find it through the PD.
    std::uint64_t pml4e = 0, pdpe = 0, pde_addr = 0;
    h.store.read_u64(top, pml4e);
    h.store.read_u64((pml4e & vtd::sl_addr), pdpe);
    pde_addr = (pdpe & vtd::sl_addr) + 1 * 8;  // iova bits 29:21 = 1
    std::uint64_t pde = 0;
    h.store.read_u64(pde_addr, pde);
    ASSERT_EQ(pde & vtd::sl_addr, pte & ~0xfffULL);
    h.store.write_u64(pde_addr, pde & ~vtd::sl_w);
    EXPECT_EQ(h.write(sid_a, 0x20'0010).fault, fault_reason::write_not_permitted);
    const translation r = h.read(sid_a, 0x20'0010);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r.access == perm_r);
    EXPECT_EQ(r.hpa, 0x30'0010u);
}

}  // namespace
}  // namespace iovsim::iommu
