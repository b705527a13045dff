#include "models/mem/dram_map.h"

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>

namespace iovsim::mem {
namespace {

constexpr std::uint64_t gib = 1ULL << 30;

TEST(dram_map, x86_map_puts_dram_below_the_hole_and_above_4_gib) {
    // 8 GiB of DRAM, hole from 3 GiB: [0, 3 GiB) -> store 0, [4 GiB, 9 GiB) -> store 3 GiB.
    const dram_map m = x86_dram_map(8 * gib, 3 * gib);
    ASSERT_EQ(m.ranges().size(), 2u);
    EXPECT_EQ(m.store_extent(), 8 * gib);

    EXPECT_EQ(m.translate(0, 4), 0u);
    EXPECT_EQ(m.translate(3 * gib - 4, 4), 3 * gib - 4);
    EXPECT_EQ(m.translate(4 * gib, 8), 3 * gib);
    EXPECT_EQ(m.translate(9 * gib - 1, 1), 8 * gib - 1);
}

TEST(dram_map, hole_end_and_straddling_accesses_are_not_dram) {
    const dram_map m = x86_dram_map(8 * gib, 3 * gib);
    EXPECT_FALSE(m.translate(3 * gib, 1));      // first byte of the hole
    EXPECT_FALSE(m.translate(0xFEE0'0000, 4));  // interrupt window
    EXPECT_FALSE(m.translate(4 * gib - 1, 1));  // last byte of the hole
    EXPECT_FALSE(m.translate(3 * gib - 2, 4));  // runs from DRAM into the hole
    EXPECT_FALSE(m.translate(9 * gib - 4, 8));  // runs past the end
    EXPECT_FALSE(m.translate(9 * gib, 1));
    EXPECT_FALSE(m.translate(std::numeric_limits<std::uint64_t>::max(), 2));
}

TEST(dram_map, default_map_is_64_gib_with_hole_at_3_gib) {
    const dram_map m = x86_dram_map();
    EXPECT_EQ(m.store_extent(), 64 * gib);
    // 64 - 3 = 61 GiB above 4 GiB: the last byte is at 65 GiB - 1.
    EXPECT_EQ(m.translate(65 * gib - 1, 1), 64 * gib - 1);
    EXPECT_FALSE(m.translate(65 * gib, 1));
}

TEST(dram_map, bad_ranges_throw) {
    dram_map m({{0x1000, 0x1000, 0}});
    EXPECT_THROW(m.add({0x8000, 0, 0x8000}), std::invalid_argument);       // empty
    EXPECT_THROW(m.add({0x1800, 0x1000, 0x4000}), std::invalid_argument);  // host overlap
    EXPECT_THROW(m.add({0x10000, 0x1000, 0x800}), std::invalid_argument);  // store overlap
    EXPECT_THROW(m.add({std::numeric_limits<std::uint64_t>::max() - 10, 0x100, 0x10000}),
                 std::invalid_argument);  // wraps
    EXPECT_THROW(m.add({0x10000, 0x100, std::numeric_limits<std::uint64_t>::max() - 10}),
                 std::invalid_argument);  // store offset wraps
    EXPECT_EQ(m.ranges().size(), 1u);
    m.add({0x10000, 0x1000, 0x1000});  // adjacent in store offsets is fine
    EXPECT_EQ(m.translate(0x10010, 4), 0x1010u);
    EXPECT_EQ(m.store_extent(), 0x2000u);
}

TEST(dram_map, bad_x86_layout_throws) {
    EXPECT_THROW(x86_dram_map(8 * gib, 0), std::invalid_argument);
    EXPECT_THROW(x86_dram_map(8 * gib, 5 * gib), std::invalid_argument);  // hole above 4 GiB
    EXPECT_THROW(x86_dram_map(2 * gib, 3 * gib), std::invalid_argument);  // no DRAM above
}

}  // namespace
}  // namespace iovsim::mem
