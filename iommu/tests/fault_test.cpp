// Every DMA-remapping fault reason (VT-d Appendix A), each from a table programmed to produce
// it; none may crash, every one is a result, a fault record and a counter.
#include <gtest/gtest.h>

#include "iommu/tests/iommu_fixture.h"

namespace iovsim::iommu {
namespace {

using testing::host;

constexpr std::uint16_t sid = 0x0510;  // 05:02.0
constexpr std::uint16_t did = 3;

// A host with a 48-bit domain for `sid` mapping IOVA 0x1000 -> 0x5000 (rw) and
// 0x2000 -> 0x6000 (read-only), 0x3000 -> 0x7000 (write-only).
struct fault_host : host {
    explicit fault_host(const dma_remapper_params& p = {}) : host(p) {
        top = builder.new_domain();
        builder.set_context(sid, top, did);
        builder.map(top, 4, 0x1000, 0x5000, page_4k, perm_rw);
        builder.map(top, 4, 0x2000, 0x6000, page_4k, perm_r);
        builder.map(top, 4, 0x3000, 0x7000, page_4k, perm_w);
    }
    // Expects `r` to be fault f, recorded as the newest record, and counted once.
    void expect_fault(const translation& r, fault_reason f, std::uint64_t iova, bool is_write) {
        EXPECT_EQ(r.fault, f) << to_string(r.fault);
        EXPECT_FALSE(r.ok());
        EXPECT_EQ(r.hpa, 0u);
        EXPECT_TRUE(r.fault_recorded);
        ASSERT_FALSE(faults.empty());
        const fault_record& rec = faults.front();
        EXPECT_EQ(rec.source_id, sid);
        EXPECT_EQ(rec.address, iova);
        EXPECT_EQ(rec.reason, f);
        EXPECT_EQ(rec.is_write, is_write);
        EXPECT_EQ(remapper->stats().faults_of(f), 1u);
        EXPECT_EQ(faults.count(f), 1u);
        faults.pop();
    }
    std::uint64_t top = 0;
};

TEST(faults, root_entry_not_present_0x1) {
    fault_host h;
    const std::uint16_t other_bus = 0x0600;  // bus 6 has no root entry
    const translation r = h.remapper->translate(other_bus, 0x1000, false, 0);
    EXPECT_EQ(r.fault, fault_reason::root_not_present);
    ASSERT_EQ(h.faults.pending(), 1u);
    EXPECT_EQ(h.faults.front().source_id, other_bus);
    EXPECT_EQ(r.memory_reads, 1u);
}

TEST(faults, context_entry_not_present_0x2) {
    fault_host h;
    // Bus 5 has a context table (sid 05:02.0 is in it); devfn 0x18 (03.0) is empty.
    const translation r = h.remapper->translate(0x0518, 0x1000, true, 0);
    EXPECT_EQ(r.fault, fault_reason::context_not_present);
    EXPECT_EQ(h.faults.front().source_id, 0x0518);
    EXPECT_TRUE(h.faults.front().is_write);
}

TEST(faults, invalid_context_programming_0x3) {
    fault_host h;
    // TT = 11 is reserved.
    h.builder.set_context(sid, h.top, did, vtd::aw_48bit, vtd::translation_type::reserved);
    h.expect_fault(h.read(sid, 0x1000), fault_reason::context_invalid, 0x1000, false);
    // AW = 011 (57-bit, 5-level) is not in SAGAW.
    h.builder.set_context(sid, h.top, did, 0b011);
    const translation r = h.read(sid, 0x1000);
    EXPECT_EQ(r.fault, fault_reason::context_invalid);
    EXPECT_EQ(h.remapper->stats().faults_of(fault_reason::context_invalid), 2u);
}

TEST(faults, address_beyond_agaw_0x4) {
    fault_host h;
    // 48-bit domain: 2^48 is the first address beyond it.
    h.expect_fault(h.read(sid, 1ULL << 48), fault_reason::address_beyond_agaw, 1ULL << 48, false);
    // A 39-bit domain: 2^39 is beyond.
    host h3;
    const std::uint64_t top = h3.builder.new_domain();
    h3.builder.set_context(sid, top, did, vtd::aw_39bit);
    EXPECT_EQ(h3.write(sid, 1ULL << 39).fault, fault_reason::address_beyond_agaw);
    // MGAW 40 limits a 48-bit domain to 40 bits.
    dma_remapper_params p;
    p.mgaw = 40;
    fault_host h40(p);
    EXPECT_EQ(h40.read(sid, 1ULL << 40).fault, fault_reason::address_beyond_agaw);
    EXPECT_EQ(h40.read(sid, 0x1000).fault, fault_reason::none);
}

TEST(faults, write_to_read_only_page_0x5) {
    fault_host h;
    h.expect_fault(h.write(sid, 0x2010), fault_reason::write_not_permitted, 0x2010, true);
    EXPECT_TRUE(h.read(sid, 0x2010).ok());
}

TEST(faults, read_of_write_only_page_0x6) {
    fault_host h;
    h.expect_fault(h.read(sid, 0x3010), fault_reason::read_not_permitted, 0x3010, false);
    EXPECT_TRUE(h.write(sid, 0x3010).ok());
}

TEST(faults, non_present_second_level_entry_is_0x5_or_0x6) {
    fault_host h;
    // 0x4000 is in the mapped page table but its PTE is 0; 0x40'0000'0000 has no PDPE.
    h.expect_fault(h.read(sid, 0x4000), fault_reason::read_not_permitted, 0x4000, false);
    const translation w = h.write(sid, 0x40'0000'0000);
    EXPECT_EQ(w.fault, fault_reason::write_not_permitted);
    EXPECT_EQ(h.remapper->stats().sl_not_present, 2u);
}

TEST(faults, second_level_table_outside_memory_0x7) {
    fault_host h;
    // SLPTPTR 16 GiB: below HAW (2^46) but past the 8 GiB of memory.
    h.builder.set_context(sid, 16ULL << 30, did);
    h.expect_fault(h.read(sid, 0x1000), fault_reason::sl_entry_access_error, 0x1000, false);
    // A PDE whose ADDR points past memory.
    fault_host h2;
    std::uint64_t pml4e = 0, pdpe = 0;
    h2.store.read_u64(h2.top, pml4e);
    h2.store.read_u64(pml4e & vtd::sl_addr, pdpe);
    h2.store.write_u64(pdpe & vtd::sl_addr, vtd::make_sl_entry(32ULL << 30, perm_rw));
    EXPECT_EQ(h2.read(sid, 0x1000).fault, fault_reason::sl_entry_access_error);
}

TEST(faults, root_table_outside_memory_0x8) {
    fault_host h;
    h.remapper->set_root_table(9ULL << 30);
    h.expect_fault(h.read(sid, 0x1000), fault_reason::root_access_error, 0x1000, false);
}

TEST(faults, context_table_outside_memory_0x9) {
    fault_host h;
    h.builder.write_root_entry(5, vtd::make_root_lo(12ULL << 30));
    h.expect_fault(h.read(sid, 0x1000), fault_reason::context_access_error, 0x1000, false);
}

TEST(faults, reserved_bits_in_root_entry_0xa) {
    fault_host h;
    // A misaligned context-table pointer 0x1234_5678 with P: bits 11:1 are reserved.
    h.builder.write_root_entry(5, 0x1234'5678 | 1);
    h.expect_fault(h.read(sid, 0x1000), fault_reason::root_reserved, 0x1000, false);
    // The upper 64 bits are reserved.
    fault_host h2;
    h2.builder.write_root_entry(
        5, vtd::make_root_lo(h2.builder.context_entry_address(sid) & ~0xfffULL), 1);
    EXPECT_EQ(h2.read(sid, 0x1000).fault, fault_reason::root_reserved);
}

TEST(faults, reserved_bits_in_context_entry_0xb) {
    fault_host h;
    // A misaligned SLPTPTR: low bits 11:4 are reserved.
    const auto c = vtd::make_context(h.top, did, vtd::aw_48bit);
    h.builder.write_context_entry(sid, c.lo | 0x230, c.hi);
    h.expect_fault(h.read(sid, 0x1000), fault_reason::context_reserved, 0x1000, false);
    // SLPTPTR at or above HAW (2^46).
    h.builder.write_context_entry(sid, c.lo | (1ULL << 50), c.hi);
    EXPECT_EQ(h.read(sid, 0x1000).fault, fault_reason::context_reserved);
    // Bits 127:88 of the context entry.
    h.builder.write_context_entry(sid, c.lo, c.hi | (1ULL << 40));
    EXPECT_EQ(h.read(sid, 0x1000).fault, fault_reason::context_reserved);
}

TEST(faults, reserved_bits_in_second_level_entry_0xc) {
    fault_host h;
    // PS in a PML4E is reserved.
    std::uint64_t pml4e = 0;
    h.store.read_u64(h.top, pml4e);
    h.store.write_u64(h.top, pml4e | vtd::sl_ps);
    h.expect_fault(h.read(sid, 0x1000), fault_reason::sl_entry_reserved, 0x1000, false);
    h.store.write_u64(h.top, pml4e);

    // A misaligned table pointer in a non-leaf entry sets bits 6:3.
    h.remapper->invalidate_iotlb_global();
    h.store.write_u64(h.top, pml4e | 0x18);
    EXPECT_EQ(h.read(sid, 0x1000).fault, fault_reason::sl_entry_reserved);
    h.store.write_u64(h.top, pml4e);

    // A 2 MiB superpage whose address is not 2 MiB aligned (bits 20:12 reserved).
    host h2;
    const std::uint64_t top = h2.builder.new_domain();
    h2.builder.set_context(sid, top, did);
    h2.builder.map(top, 4, 0, 0x20'0000, page_2m, perm_rw, page_2m);
    unsigned level = 0;
    const std::uint64_t pde = h2.builder.leaf_entry_address(top, 4, 0, &level);
    ASSERT_EQ(level, 2u);
    h2.store.write_u64(pde, vtd::make_sl_entry(0x20'1000, perm_rw, true));
    EXPECT_EQ(h2.read(sid, 0).fault, fault_reason::sl_entry_reserved);

    // A leaf address at or above HAW.
    h2.store.write_u64(pde, vtd::make_sl_entry(1ULL << 47, perm_rw, true));
    EXPECT_EQ(h2.read(sid, 0).fault, fault_reason::sl_entry_reserved);

    // A 1 GiB page where CAP.SLLPS does not offer 1 GiB pages.
    dma_remapper_params p;
    p.superpage_1g = false;
    host h3(p);
    const std::uint64_t top3 = h3.builder.new_domain();
    h3.builder.set_context(sid, top3, did);
    h3.builder.map(top3, 4, 0, 0, page_1g, perm_rw, page_1g);
    EXPECT_EQ(h3.read(sid, 0).fault, fault_reason::sl_entry_reserved);
}

TEST(faults, fpd_suppresses_recording_but_not_the_abort) {
    fault_host h;
    h.builder.set_context(sid, h.top, did, vtd::aw_48bit, vtd::translation_type::untranslated,
                          /*fpd=*/true);
    const translation r = h.write(sid, 0x2000);
    EXPECT_EQ(r.fault, fault_reason::write_not_permitted);
    EXPECT_FALSE(r.fault_recorded);
    EXPECT_TRUE(h.faults.empty());
    EXPECT_EQ(h.remapper->stats().faults_suppressed, 1u);
}

TEST(faults, full_fault_log_sets_overflow_and_drops) {
    dma_remapper_params p;
    host h(p, /*fault_records=*/2);
    for (std::uint64_t i = 0; i < 3; ++i) {
        const translation r = h.remapper->translate(0x0700, i << 12, false, 0);
        EXPECT_EQ(r.fault, fault_reason::root_not_present);
        EXPECT_EQ(r.fault_recorded, i < 2);
    }
    EXPECT_TRUE(h.faults.overflow());
    EXPECT_EQ(h.faults.recorded(), 2u);
    EXPECT_EQ(h.faults.dropped(), 1u);
    EXPECT_EQ(h.faults.count(fault_reason::root_not_present), 3u);
    EXPECT_EQ(h.faults.front().address, 0u);
    h.faults.pop();
    EXPECT_EQ(h.faults.front().address, 0x1000u);
    h.faults.pop();
    EXPECT_THROW(h.faults.pop(), std::logic_error);
    EXPECT_THROW(h.faults.front(), std::logic_error);
    h.faults.clear_overflow();
    EXPECT_FALSE(h.faults.overflow());
    EXPECT_THROW(fault_log(0), std::invalid_argument);
}

TEST(faults, bad_parameters_throw) {
    testing::host h;
    dma_remapper_params p;
    p.walkers = 0;
    EXPECT_THROW(dma_remapper(h.memory, h.faults, p), std::invalid_argument);
    p = {};
    p.mgaw = 57;
    EXPECT_THROW(dma_remapper(h.memory, h.faults, p), std::invalid_argument);
    p = {};
    p.haw = 60;
    EXPECT_THROW(dma_remapper(h.memory, h.faults, p), std::invalid_argument);
    p = {};
    p.iotlb = {64, 48, replacement::lru};
    EXPECT_THROW(dma_remapper(h.memory, h.faults, p), std::invalid_argument);
    EXPECT_THROW(h.remapper->invalidate_iotlb_pages(0, 0, 53), std::invalid_argument);
}

}  // namespace
}  // namespace iovsim::iommu
