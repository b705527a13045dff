#include "iommu/caches.h"

#include <gtest/gtest.h>

#include "iommu/tests/iommu_fixture.h"

namespace iovsim::iommu {
namespace {

TEST(iotlb, lru_evicts_least_recently_used) {
    iotlb t({2, 2, replacement::lru});  // one set of two ways
    t.insert({1, 0x1000, 0xa000, page_4k, perm_rw});
    t.insert({1, 0x2000, 0xb000, page_4k, perm_rw});
    ASSERT_NE(t.lookup(1, 0x1000), nullptr);  // 0x1000 is now most recent
    t.insert({1, 0x3000, 0xc000, page_4k, perm_rw});
    EXPECT_NE(t.lookup(1, 0x1000), nullptr);
    EXPECT_EQ(t.lookup(1, 0x2000), nullptr);
    EXPECT_EQ(t.evictions(), 1u);
}

TEST(iotlb, fifo_evicts_oldest_insert) {
    iotlb t({2, 2, replacement::fifo});
    t.insert({1, 0x1000, 0xa000, page_4k, perm_rw});
    t.insert({1, 0x2000, 0xb000, page_4k, perm_rw});
    ASSERT_NE(t.lookup(1, 0x1000), nullptr);  // a hit does not refresh under FIFO
    t.insert({1, 0x3000, 0xc000, page_4k, perm_rw});
    EXPECT_EQ(t.lookup(1, 0x1000), nullptr);
    EXPECT_NE(t.lookup(1, 0x2000), nullptr);
}

TEST(iotlb, superpages_domain_tags_and_page_selective_ranges) {
    iotlb t;
    t.insert({1, 0x4000'0000, 0x8000'0000, page_1g, perm_r});
    t.insert({1, 0x20'0000, 0x60'0000, page_2m, perm_rw});
    const iotlb_entry* e = t.lookup(1, 0x7fff'ffff);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->page_size, page_1g);
    EXPECT_NE(t.lookup(1, 0x3f'ffff), nullptr);
    EXPECT_EQ(t.lookup(2, 0x3f'ffff), nullptr);  // another domain
    EXPECT_EQ(t.lookup(1, 0x40'0000), nullptr);
    // AM 9: 512 pages = 2 MiB from 0x20'0000 covers the 2 MiB entry only.
    EXPECT_EQ(t.invalidate_pages(1, 0x20'0000, 9), 1u);
    EXPECT_EQ(t.valid_entries(), 1u);
    EXPECT_EQ(t.invalidate_pages(2, 0x4000'0000, 0), 0u);
    EXPECT_EQ(t.invalidate_domain(1), 1u);
    EXPECT_THROW(iotlb({0, 1, replacement::lru}), std::invalid_argument);
    EXPECT_THROW(iotlb({8, 3, replacement::lru}), std::invalid_argument);
    EXPECT_THROW(iotlb({8, 0, replacement::lru}), std::invalid_argument);
}

TEST(paging_structure_cache, spans_and_ranges) {
    paging_structure_cache pde(2, {4, 4, replacement::lru});
    EXPECT_EQ(pde.span_shift(), 21u);
    pde.insert(1, 0x20'0000, 0x9000, perm_rw);
    EXPECT_NE(pde.lookup(1, 0x3f'ffff), nullptr);
    EXPECT_EQ(pde.lookup(1, 0x40'0000), nullptr);
    EXPECT_EQ(pde.invalidate_range(1, 0x40'0000, page_4k), 0u);
    EXPECT_EQ(pde.invalidate_range(1, 0x3f'f000, page_4k), 1u);
    EXPECT_THROW(paging_structure_cache(1, {4, 4, replacement::lru}), std::invalid_argument);
    EXPECT_THROW(paging_structure_cache(5, {4, 4, replacement::lru}), std::invalid_argument);
}

TEST(context_cache, function_mask) {
    context_cache c;
    c.insert({0x0308, 1});
    c.insert({0x030f, 1});
    // FM 2 ignores SID bits 2:1 (mask 0xfff9): 0x030c -> 0x0308 matches 0x0308, not 0x030f
    // (0x030f & 0xfff9 = 0x0309).
    EXPECT_EQ(c.invalidate_device(0x030c, 2), 1u);
    EXPECT_EQ(c.lookup(0x0308), nullptr);
    EXPECT_NE(c.lookup(0x030f), nullptr);
    // FM 1 ignores bit 2 only: 0x030b -> 0x030b, no match for 0x030f (bit 2 set, 0x030b).
    EXPECT_EQ(c.invalidate_device(0x030b, 1), 1u);
    EXPECT_THROW(c.invalidate_device(0, 4), std::invalid_argument);
}

TEST(table_builder, writes_spec_entries_and_rejects_bad_requests) {
    testing::host h;
    const std::uint64_t top = h.builder.new_domain();
    // The root table is the pool's first page; the domain's PML4 the second.
    EXPECT_EQ(h.builder.rtaddr(), testing::pool_base);
    EXPECT_EQ(top, testing::pool_base + page_4k);
    h.builder.set_context(0x0110, top, 0x1234, vtd::aw_39bit);
    std::uint64_t root = 0, lo = 0, hi = 0;
    h.store.read_u64(h.builder.rtaddr() + 1 * 16, root);
    // The bus-1 context table is the third page: CTP | P.
    EXPECT_EQ(root, (testing::pool_base + 2 * page_4k) | 1);
    h.store.read_u64(testing::pool_base + 2 * page_4k + 0x10 * 16, lo);
    h.store.read_u64(testing::pool_base + 2 * page_4k + 0x10 * 16 + 8, hi);
    EXPECT_EQ(lo, top | 1);                   // SLPTPTR, TT 00, P
    EXPECT_EQ(hi, (0x1234ULL << 8) | 0b001);  // DID bits 87:72, AW 001

    // 3 levels, 2 MiB page at IOVA 0x4060_0000: PDPT index 1, PD index 3; PD is page 4.
    h.builder.map(top, 3, 0x4060'0000, 0x1'0000'0000, page_2m, perm_r, page_2m);
    std::uint64_t pdpe = 0, pde = 0;
    h.store.read_u64(top + 1 * 8, pdpe);
    EXPECT_EQ(pdpe, (testing::pool_base + 3 * page_4k) | 3);  // R W, table pointer
    h.store.read_u64(testing::pool_base + 3 * page_4k + 3 * 8, pde);
    EXPECT_EQ(pde, 0x1'0000'0000ULL | 0x80 | 1);  // ADDR, PS, R

    EXPECT_THROW(h.builder.map(top, 3, 0x1000, 0, 0x1000, perm_rw, 0x8000), std::invalid_argument);
    EXPECT_THROW(h.builder.map(top, 5, 0x1000, 0, 0x1000, perm_rw), std::invalid_argument);
    EXPECT_THROW(h.builder.map(top, 3, 0x1800, 0, 0x1000, perm_rw), std::invalid_argument);
    EXPECT_THROW(h.builder.map(top, 3, 1ULL << 39, 0, 0x1000, perm_rw), std::invalid_argument);
    EXPECT_THROW(h.builder.map(top, 3, 0x1000, 0, 0, perm_rw), std::invalid_argument);
    // A 4 KiB page inside the 2 MiB superpage, a superpage over a table of 4 KiB pages.
    EXPECT_THROW(h.builder.map(top, 3, 0x4060'1000, 0, page_4k, perm_rw), std::logic_error);
    h.builder.map(top, 3, 0x1000, 0x5000, page_4k, perm_rw);
    EXPECT_THROW(h.builder.map(top, 3, 0, 0, page_2m, perm_rw, page_2m), std::logic_error);
    // Unmapping half of the superpage.
    EXPECT_THROW(h.builder.unmap(top, 3, 0x4060'0000, page_4k), std::logic_error);
    EXPECT_EQ(h.builder.unmap(top, 3, 0x4060'0000, page_2m), 1u);
    EXPECT_EQ(h.builder.unmap(top, 3, 0, 1ULL << 39), 1u);  // the one 4 KiB page left
    EXPECT_THROW(h.builder.unmap(top, 2, 0, page_4k), std::invalid_argument);
}

TEST(table_builder, pool_limits) {
    mem::sparse_store s(1ULL << 20);
    EXPECT_THROW(table_builder(s, 0x800, 0x1000), std::invalid_argument);
    EXPECT_THROW(table_builder(s, 0, 0), std::invalid_argument);
    EXPECT_THROW(table_builder(s, 0xff000, 0x2000), std::invalid_argument);
    table_builder b(s, 0, 2 * page_4k);  // root table + one page
    b.alloc_page();
    EXPECT_THROW(b.alloc_page(), std::runtime_error);
    EXPECT_THROW(b.context_entry_address(0x0500), std::logic_error);
}

}  // namespace
}  // namespace iovsim::iommu
