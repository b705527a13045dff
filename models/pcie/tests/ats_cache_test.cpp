// The device's ATC and the ATS wire layouts, worked out from PCIe Base Spec §10.2.2 / §10.3.1.
#include "models/pcie/ats_cache.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "models/pcie/ats_format.h"
#include "models/pcie/capabilities.h"

namespace iovsim::pcie {
namespace {

ats::translation tr(std::uint64_t u, std::uint64_t t, std::uint64_t size = ats::page, bool r = true,
                    bool w = true) {
    return ats::translation{u, t, size, r, w};
}

TEST(AtsFormat, CompletionEntryLayout) {
    // 4 KiB, R and W, translated 0x1_2345_6000: DW0 = 0x00000001, DW1 = 0x23456000 | W | R.
    const ats::payload p = ats::encode_completion(tr(0x4000'0000, 0x1'2345'6000));
    const ats::payload want{0x00, 0x00, 0x00, 0x01, 0x23, 0x45, 0x60, 0x03};
    EXPECT_EQ(p, want);
    // 2 MiB at 0x2_0020_0000, read only: S set (bit 11), bits 19:12 all ones, bit 20 zero:
    // DW1 = 0x0020_0000 | 0xff000 | 0x800 | R = 0x002ff801.
    const ats::payload q = ats::encode_completion(tr(0, 0x2'0020'0000, 2ull << 20, true, false));
    const ats::payload want_q{0x00, 0x00, 0x00, 0x02, 0x00, 0x2f, 0xf8, 0x01};
    EXPECT_EQ(q, want_q);
    const ats::translation back = ats::decode_completion(q.data(), 0x4012'3456);
    EXPECT_EQ(back.size, 2ull << 20);
    EXPECT_EQ(back.translated, 0x2'0020'0000u);
    EXPECT_EQ(back.untranslated, 0x4000'0000u);  // 0x4012_3456 aligned down to 2 MiB
    EXPECT_TRUE(back.read);
    EXPECT_FALSE(back.write);
    // No translation: R = W = 0, all zero.
    EXPECT_EQ(ats::encode_completion(tr(0, 0x1000, ats::page, false, false)), ats::payload{});
}

TEST(AtsFormat, RangeEncoding) {
    // 8 KiB: S set, bit 12 clear.
    EXPECT_EQ(ats::encode_range(0x6000, 8192), 0x6000u | ats::bit_s);
    EXPECT_EQ(ats::decode_range(0x6000 | ats::bit_s).size, 8192u);
    EXPECT_EQ(ats::decode_range(0x6000 | ats::bit_s).base, 0x6000u);
    // 16 KiB: bit 12 set, bit 13 clear: 0x8000 | 0x1000.
    EXPECT_EQ(ats::encode_range(0x8000, 16384), 0x9000u | ats::bit_s);
    // Everything: bits 62:12 set, bit 63 clear.
    EXPECT_EQ(ats::encode_range(0, 0), 0x7fff'ffff'ffff'f000ull | ats::bit_s);
    EXPECT_EQ(ats::decode_range(0x7fff'ffff'ffff'f000ull | ats::bit_s).size, 0u);
    // Without S: one 4 KiB page.
    EXPECT_EQ(ats::decode_range(0x1234'5000).size, ats::page);
    const ats::payload inv = ats::encode_invalidate(0x4000'0000, 1ull << 30);  // 1 GiB
    const ats::range r = ats::decode_invalidate(inv.data());
    EXPECT_EQ(r.base, 0x4000'0000u);
    EXPECT_EQ(r.size, 1ull << 30);
}

TEST(AtsCache, HitMissAndPermissions) {
    ats_cache c({4});
    EXPECT_FALSE(c.lookup(0x1000, false));
    c.fill(tr(0x1000, 0x9000, ats::page, true, false));
    EXPECT_EQ(*c.lookup(0x1234, false), 0x9234u);
    EXPECT_FALSE(c.lookup(0x1234, true));  // read-only entry: a write misses
    EXPECT_FALSE(c.lookup(0x2000, false));
    c.fill(tr(0x20'0000, 0x4000'0000, 2ull << 20));  // a 2 MiB entry covers 512 pages
    EXPECT_EQ(*c.lookup(0x3f'ffff, true), 0x401f'ffffu);
    // 5 lookups: hits 0x1234 (read), 0x3fffff; misses 0x1000, 0x1234 (write), 0x2000.
    EXPECT_EQ(c.stats().lookups, 5u);
    EXPECT_EQ(c.stats().hits, 2u);
    EXPECT_EQ(c.stats().misses, 3u);
    EXPECT_EQ(c.stats().fills, 2u);
    // R = W = 0 is not cached.
    c.fill(tr(0x5000, 0, ats::page, false, false));
    EXPECT_EQ(c.size(), 2u);
}

TEST(AtsCache, LruReplacement) {
    ats_cache c({2});
    c.fill(tr(0x1000, 0xa000));
    c.fill(tr(0x2000, 0xb000));
    EXPECT_TRUE(c.lookup(0x1000, false));  // 0x1000 now most recent, 0x2000 least
    c.fill(tr(0x3000, 0xc000));            // evicts 0x2000
    EXPECT_EQ(c.stats().evictions, 1u);
    EXPECT_TRUE(c.peek(0x1000));
    EXPECT_FALSE(c.peek(0x2000));
    EXPECT_TRUE(c.peek(0x3000));
    // Refilling a page replaces its entry, no eviction.
    c.fill(tr(0x3000, 0xd000));
    EXPECT_EQ(c.stats().evictions, 1u);
    EXPECT_EQ(c.peek(0x3000)->translated, 0xd000u);
}

TEST(AtsCache, InvalidateRanges) {
    ats_cache c({8});
    c.fill(tr(0x1000, 0xa000));
    c.fill(tr(0x2000, 0xb000));
    c.fill(tr(0x3000, 0xc000));
    c.fill(tr(0x20'0000, 0x4000'0000, 2ull << 20));
    // [0x2000, 0x4000): the 8 KiB range holds pages 0x2000 and 0x3000.
    EXPECT_EQ(c.invalidate(0x2000, 8192), 2u);
    EXPECT_TRUE(c.peek(0x1000));
    EXPECT_FALSE(c.peek(0x2000));
    // A 4 KiB invalidation inside the 2 MiB entry drops the whole entry.
    EXPECT_EQ(c.invalidate(0x21'0000, ats::page), 1u);
    EXPECT_FALSE(c.peek(0x20'0000));
    EXPECT_EQ(c.invalidate_all(), 1u);
    EXPECT_EQ(c.size(), 0u);
    EXPECT_EQ(c.stats().invalidate_requests, 3u);
    EXPECT_EQ(c.stats().entries_invalidated, 4u);
}

TEST(AtsCache, Errors) {
    EXPECT_THROW(ats_cache({0}), std::invalid_argument);
    ats_cache c({2});
    EXPECT_THROW(c.fill(tr(0x1000, 0, 6144)), std::invalid_argument);  // not a power of two
    EXPECT_THROW(c.fill(tr(0x1000, 0, 2048)), std::invalid_argument);  // below 4 KiB
    EXPECT_THROW(c.fill(tr(0x1000, 0, 8192)), std::invalid_argument);  // misaligned
}

TEST(AtsCapability, EnableAndStu) {
    config_space cs = make_endpoint(endpoint_params{});
    EXPECT_THROW(ats_enabled(cs), std::logic_error);
    const std::uint16_t at = add_ats(cs, ats_params{});
    EXPECT_FALSE(ats_enabled(cs));
    cs.write(at + ats_reg::control, 2, ats_reg::enable | 2);  // STU = 2: 4 KiB << 2
    EXPECT_TRUE(ats_enabled(cs));
    EXPECT_EQ(ats_smallest_translation_unit(cs), 16384u);
    // Capability: page aligned request (bit 5), queue depth 0 (= 32).
    EXPECT_EQ(cs.read(at + ats_reg::capability, 2), ats_reg::page_aligned_request);
    EXPECT_THROW(add_ats(cs, ats_params{32, true, false}), std::invalid_argument);
    // On a VF only Enable is writable.
    config_space vf = make_endpoint(endpoint_params{});
    const std::uint16_t vat = add_ats(vf, ats_params{}, true);
    vf.write(vat + ats_reg::control, 2, ats_reg::enable | 3);
    EXPECT_EQ(ats_smallest_translation_unit(vf), 4096u);
}

}  // namespace
}  // namespace iovsim::pcie
