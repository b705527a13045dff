// Stale entries are never used after an invalidation completes, and domains stay isolated.
#include <gtest/gtest.h>

#include "iommu/tests/iommu_fixture.h"

namespace iovsim::iommu {
namespace {

using testing::host;

constexpr std::uint16_t sid = 0x0200;  // 02:00.0
constexpr std::uint16_t did = 1;

struct one_domain : host {
    one_domain() {
        top = builder.new_domain();
        builder.set_context(sid, top, did);
    }
    std::uint64_t top = 0;
};

TEST(invalidation, page_selective_drops_a_remapped_page) {
    one_domain h;
    h.builder.map(h.top, 4, 0x10'0000, 0x1'0000'0000, page_4k, perm_rw);
    EXPECT_EQ(h.read(sid, 0x10'0040).hpa, 0x1'0000'0040u);
    // The driver remaps the page; until it invalidates, the cached translation is still used
    // (which shows the IOTLB is in play).
    h.builder.map(h.top, 4, 0x10'0000, 0x2'0000'0000, page_4k, perm_rw);
    EXPECT_EQ(h.read(sid, 0x10'0040).hpa, 0x1'0000'0040u);
    h.remapper->invalidate_iotlb_pages(did, 0x10'0000, 0);
    const translation r = h.read(sid, 0x10'0040);
    EXPECT_FALSE(r.iotlb_hit);
    EXPECT_EQ(r.hpa, 0x2'0000'0040u);
    EXPECT_EQ(h.remapper->stats().iotlb_inv_page, 1u);
}

TEST(invalidation, unmapped_page_faults_after_invalidation) {
    one_domain h;
    h.builder.map(h.top, 4, 0x10'0000, 0x1'0000'0000, 4 * page_4k, perm_rw);
    for (std::uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(h.read(sid, 0x10'0000 + i * page_4k).ok());
    EXPECT_EQ(h.builder.unmap(h.top, 4, 0x10'0000, 4 * page_4k), 4u);
    // AM = 2: the 4 pages from 0x10'0000.
    h.remapper->invalidate_iotlb_pages(did, 0x10'0000, 2);
    for (std::uint64_t i = 0; i < 4; ++i) {
        EXPECT_EQ(h.write(sid, 0x10'0000 + i * page_4k).fault, fault_reason::write_not_permitted);
    }
}

TEST(invalidation, superpage_dropped_by_a_4k_invalidation_inside_it) {
    one_domain h;
    h.builder.map(h.top, 4, 0x4000'0000, 0x8000'0000, page_2m, perm_rw, page_2m);
    ASSERT_TRUE(h.read(sid, 0x4000'0000).ok());
    h.builder.unmap(h.top, 4, 0x4000'0000, page_2m);
    h.remapper->invalidate_iotlb_pages(did, 0x4010'0000, 0);  // one 4 KiB page inside it
    EXPECT_EQ(h.read(sid, 0x4000'0000).fault, fault_reason::read_not_permitted);
}

TEST(invalidation, paging_structure_caches_follow_page_selective_unless_ih) {
    one_domain h;
    h.builder.map(h.top, 4, 0x20'0000, 0x1'0000'0000, page_4k, perm_rw);
    ASSERT_TRUE(h.read(sid, 0x20'0000).ok());  // caches PML4E, PDPE, PDE
    // Point the PDE at a new page table that maps the page elsewhere.
    const std::uint64_t pt = h.builder.alloc_page();
    h.store.write_u64(pt, vtd::make_sl_entry(0x3'0000'0000, perm_rw));
    std::uint64_t pml4e = 0, pdpe = 0;
    h.store.read_u64(h.top, pml4e);
    h.store.read_u64(pml4e & vtd::sl_addr, pdpe);
    const std::uint64_t pde_addr = (pdpe & vtd::sl_addr) + 1 * 8;
    h.store.write_u64(pde_addr, vtd::make_sl_entry(pt, perm_rw));
    // With IH the PDE cache keeps the old page-table pointer: the old PT is walked.
    h.remapper->invalidate_iotlb_pages(did, 0x20'0000, 0, /*ih=*/true);
    const translation kept = h.read(sid, 0x20'0000);
    EXPECT_EQ(kept.hpa, 0x1'0000'0000u);
    EXPECT_EQ(kept.memory_reads, 1u);  // only the PTE: the PDE came from its cache
    // Without IH the PDE cache entry goes too: the new PT is walked.
    h.remapper->invalidate_iotlb_pages(did, 0x20'0000, 0);
    const translation r = h.read(sid, 0x20'0000);
    EXPECT_EQ(r.hpa, 0x3'0000'0000u);
    // Every cached upper entry overlapping the invalidated page goes: the PML4E (512 GiB),
    // the PDPE (1 GiB) and the PDE (2 MiB) all cover it, so all four levels are read again.
    EXPECT_EQ(r.memory_reads, 4u);
}

TEST(invalidation, domain_selective_and_global) {
    one_domain h;
    h.builder.map(h.top, 4, 0x1000, 0x9000, page_4k, perm_rw);
    ASSERT_TRUE(h.read(sid, 0x1000).ok());
    h.builder.map(h.top, 4, 0x1000, 0xa000, page_4k, perm_rw);
    h.remapper->invalidate_iotlb_domain(did + 1);  // another domain: no effect
    EXPECT_EQ(h.read(sid, 0x1000).hpa, 0x9000u);
    h.remapper->invalidate_iotlb_domain(did);
    EXPECT_EQ(h.read(sid, 0x1000).hpa, 0xa000u);
    h.builder.map(h.top, 4, 0x1000, 0xb000, page_4k, perm_rw);
    h.remapper->invalidate_iotlb_global();
    const translation r = h.read(sid, 0x1000);
    EXPECT_EQ(r.hpa, 0xb000u);
    // Global also empties the paging-structure caches: PML4E, PDPE, PDE, PTE are read.
    EXPECT_EQ(r.memory_reads, 4u);
    EXPECT_EQ(h.remapper->stats().iotlb_inv_domain, 2u);
    EXPECT_EQ(h.remapper->stats().iotlb_inv_global, 1u);
}

TEST(invalidation, context_cache_device_domain_and_global) {
    one_domain h;
    h.builder.map(h.top, 4, 0x1000, 0x9000, page_4k, perm_rw);
    ASSERT_TRUE(h.read(sid, 0x1000).ok());
    // The device is detached: context entry cleared. Cached until invalidated.
    h.builder.clear_context(sid);
    EXPECT_TRUE(h.read(sid, 0x1000).ok());
    h.remapper->invalidate_context_device(sid);
    EXPECT_EQ(h.read(sid, 0x1000).fault, fault_reason::context_not_present);

    // Function mask 3 covers 02:00.0-7: invalidating via 02:00.5 drops 02:00.0.
    h.builder.set_context(sid, h.top, did);
    ASSERT_TRUE(h.read(sid, 0x1000).ok());
    h.builder.clear_context(sid);
    h.remapper->invalidate_context_device(sid | 5, 0);  // exact match only: 02:00.5
    EXPECT_TRUE(h.read(sid, 0x1000).ok());
    h.remapper->invalidate_context_device(sid | 5, 3);
    EXPECT_EQ(h.read(sid, 0x1000).fault, fault_reason::context_not_present);

    h.builder.set_context(sid, h.top, did);
    ASSERT_TRUE(h.read(sid, 0x1000).ok());
    h.builder.clear_context(sid);
    h.remapper->invalidate_context_domain(did);
    EXPECT_EQ(h.read(sid, 0x1000).fault, fault_reason::context_not_present);

    h.builder.set_context(sid, h.top, did);
    ASSERT_TRUE(h.read(sid, 0x1000).ok());
    h.builder.clear_context(sid);
    h.remapper->invalidate_context_global();
    EXPECT_EQ(h.read(sid, 0x1000).fault, fault_reason::context_not_present);
    EXPECT_EQ(h.remapper->stats().context_inv_device, 3u);
}

// VF 1 (VM A, domain 1) and VF 2 (VM B, domain 2). B maps IOVA 0x8000_0000 to its own memory;
// A maps only 0x1000. A DMA from A to 0x8000_0000 faults and never yields B's address.
TEST(isolation, device_in_domain_a_cannot_reach_domain_b) {
    host h;
    const std::uint16_t vf_a = 0x0381, vf_b = 0x0382;
    const std::uint64_t top_a = h.builder.new_domain();
    const std::uint64_t top_b = h.builder.new_domain();
    h.builder.set_context(vf_a, top_a, 1);
    h.builder.set_context(vf_b, top_b, 2);
    const std::uint64_t hpa_b = 0x1'8000'0000;
    h.builder.map(top_a, 4, 0x1000, 0x1'0000'0000, page_4k, perm_rw);
    h.builder.map(top_b, 4, 0x8000'0000, hpa_b, page_2m, perm_rw, page_2m);
    const std::uint64_t marker = 0x5a5a'5a5a'5a5a'5a5a;
    h.store.write_u64(hpa_b, marker);

    ASSERT_EQ(h.write(vf_b, 0x8000'0000).hpa, hpa_b);  // B's translation now in the IOTLB
    const translation a = h.write(vf_a, 0x8000'0000);
    EXPECT_EQ(a.fault, fault_reason::write_not_permitted);
    EXPECT_FALSE(a.iotlb_hit);
    EXPECT_EQ(a.hpa, 0u);
    EXPECT_EQ(a.did, 1u);
    ASSERT_EQ(h.faults.pending(), 1u);
    EXPECT_EQ(h.faults.front().source_id, vf_a);
    std::uint64_t v = 0;
    h.store.read_u64(hpa_b, v);
    EXPECT_EQ(v, marker);

    // The same IOVA mapped in both domains to different pages: each gets its own.
    h.builder.map(top_a, 4, 0x8000'0000, 0x1'2000'0000, page_4k, perm_rw);
    EXPECT_EQ(h.read(vf_a, 0x8000'0010).hpa, 0x1'2000'0010u);
    EXPECT_EQ(h.read(vf_b, 0x8000'0010).hpa, hpa_b + 0x10);
    EXPECT_EQ(h.read(vf_a, 0x8000'0010).hpa, 0x1'2000'0010u);
}

}  // namespace
}  // namespace iovsim::iommu
