#include "models/mem/sparse_store.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace iovsim::mem {
namespace {

constexpr std::uint64_t gib = 1ULL << 30;

TEST(sparse_store, default_size_is_64_gib_and_starts_empty) {
    sparse_store s;
    EXPECT_EQ(s.size(), 64 * gib);
    EXPECT_EQ(s.pages_touched(), 0u);
    EXPECT_EQ(s.bytes_allocated(), 0u);
}

TEST(sparse_store, one_byte_write_allocates_one_page) {
    sparse_store s;  // 64 GiB
    const std::uint8_t b = 0xa5;
    ASSERT_TRUE(s.write(40 * gib + 123, &b, 1));
    EXPECT_EQ(s.pages_touched(), 1u);
    EXPECT_EQ(s.bytes_allocated(), 4096u);
    std::uint8_t back = 0;
    ASSERT_TRUE(s.read(40 * gib + 123, &back, 1));
    EXPECT_EQ(back, 0xa5);
    // The rest of the page reads as zeros.
    std::uint8_t neighbour = 0xff;
    ASSERT_TRUE(s.read(40 * gib + 122, &neighbour, 1));
    EXPECT_EQ(neighbour, 0);
}

TEST(sparse_store, reads_of_untouched_memory_are_zero_and_allocate_nothing) {
    sparse_store s;
    std::vector<std::uint8_t> buf(3 * 4096 + 17, 0xff);
    ASSERT_TRUE(s.read(7 * gib + 5, buf.data(), buf.size()));
    for (auto b : buf) ASSERT_EQ(b, 0);
    EXPECT_EQ(s.pages_touched(), 0u);
}

TEST(sparse_store, write_and_read_across_page_boundaries) {
    sparse_store s(1 << 20);
    // 10 bytes from 4091: 5 bytes in page 0 (4091..4095), 5 in page 1 (4096..4100).
    const std::uint8_t data[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    ASSERT_TRUE(s.write(4091, data, sizeof data));
    EXPECT_EQ(s.pages_touched(), 2u);
    EXPECT_EQ(s.bytes_allocated(), 2u * 4096);

    // Read a wider window spanning pages 0..2: 4 zeros, the 10 bytes, then zeros into the
    // untouched page 2 (which stays unallocated).
    std::vector<std::uint8_t> buf(4 + 10 + 4096, 0xff);
    ASSERT_TRUE(s.read(4087, buf.data(), buf.size()));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(buf[i], 0) << i;
    for (int i = 0; i < 10; ++i) EXPECT_EQ(buf[4 + i], i + 1) << i;
    for (std::size_t i = 14; i < buf.size(); ++i) ASSERT_EQ(buf[i], 0) << i;
    EXPECT_EQ(s.pages_touched(), 2u);
}

TEST(sparse_store, large_write_spanning_many_pages) {
    sparse_store s(1 << 20);
    std::vector<std::uint8_t> data(3 * 4096);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
    // From 100: bytes 100..12387 touch pages 0, 1, 2 and 3 (12387 / 4096 = 3).
    ASSERT_TRUE(s.write(100, data.data(), data.size()));
    EXPECT_EQ(s.pages_touched(), 4u);
    std::vector<std::uint8_t> back(data.size());
    ASSERT_TRUE(s.read(100, back.data(), back.size()));
    EXPECT_EQ(back, data);
}

TEST(sparse_store, out_of_range_access_fails_and_touches_nothing) {
    sparse_store s(8192);
    std::uint8_t buf[4] = {1, 2, 3, 4};
    EXPECT_FALSE(s.write(8190, buf, 4));  // 8190 + 4 > 8192
    EXPECT_FALSE(s.write(8192, buf, 1));
    EXPECT_FALSE(s.read(8192, buf, 1));
    // addr + len wraps past 2^64: must not look in range.
    EXPECT_FALSE(s.read(std::numeric_limits<std::uint64_t>::max(), buf, 2));
    EXPECT_FALSE(s.write(2, buf, std::numeric_limits<std::uint64_t>::max()));
    EXPECT_EQ(s.out_of_range(), 5u);
    EXPECT_EQ(s.pages_touched(), 0u);
    EXPECT_EQ(buf[0], 1);  // a failed read leaves the buffer alone

    // The last byte and a zero-length access at the end are in range.
    EXPECT_TRUE(s.write(8191, buf, 1));
    EXPECT_TRUE(s.read(8192, buf, 0));
    EXPECT_EQ(s.out_of_range(), 5u);
}

TEST(sparse_store, little_endian_fields) {
    sparse_store s(1 << 16);
    ASSERT_TRUE(s.write_u32(0x100, 0x11223344));
    std::uint8_t raw[4];
    ASSERT_TRUE(s.read(0x100, raw, 4));
    EXPECT_EQ(raw[0], 0x44);
    EXPECT_EQ(raw[1], 0x33);
    EXPECT_EQ(raw[2], 0x22);
    EXPECT_EQ(raw[3], 0x11);

    std::uint16_t h = 0;
    ASSERT_TRUE(s.read_u16(0x101, h));  // bytes 0x33, 0x22
    EXPECT_EQ(h, 0x2233);

    // A u64 straddling the page boundary at 4096.
    ASSERT_TRUE(s.write_u64(4092, 0x0102030405060708ULL));
    std::uint64_t q = 0;
    ASSERT_TRUE(s.read_u64(4092, q));
    EXPECT_EQ(q, 0x0102030405060708ULL);
    std::uint32_t hi = 0;
    ASSERT_TRUE(s.read_u32(4096, hi));  // upper half lands in the next page
    EXPECT_EQ(hi, 0x01020304u);

    ASSERT_TRUE(s.write_u16(0x200, 0xbeef));
    ASSERT_TRUE(s.read_u16(0x200, h));
    EXPECT_EQ(h, 0xbeef);
}

TEST(sparse_store, little_endian_fields_out_of_range) {
    sparse_store s(16);
    std::uint64_t q = 42;
    EXPECT_FALSE(s.read_u64(9, q));  // 9 + 8 > 16
    EXPECT_EQ(q, 42u);
    std::uint32_t d = 7;
    EXPECT_FALSE(s.read_u32(13, d));
    EXPECT_EQ(d, 7u);
    std::uint16_t h = 3;
    EXPECT_FALSE(s.read_u16(15, h));
    EXPECT_FALSE(s.write_u16(15, 1));
    EXPECT_FALSE(s.write_u32(13, 1));
    EXPECT_FALSE(s.write_u64(9, 1));
    EXPECT_EQ(s.out_of_range(), 6u);
    EXPECT_EQ(s.pages_touched(), 0u);
}

TEST(sparse_store, raw_buffer_load_and_store) {
    std::uint8_t b[8] = {};
    store_le<std::uint64_t>(b, 0x8877665544332211ULL);
    EXPECT_EQ(b[0], 0x11);
    EXPECT_EQ(b[7], 0x88);
    EXPECT_EQ(load_le<std::uint32_t>(b + 4), 0x88776655u);
    EXPECT_EQ(load_le<std::uint16_t>(b + 1), 0x3322u);
    EXPECT_EQ(load_le<std::uint64_t>(b), 0x8877665544332211ULL);
}

}  // namespace
}  // namespace iovsim::mem
