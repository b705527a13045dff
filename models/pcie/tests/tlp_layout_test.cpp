// TLP wire sizes and splitting rules; every expected value worked out by hand from the spec rules
// in the comment beside it.
#include "models/pcie/tlp_layout.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <vector>

namespace iovsim::pcie {

void PrintTo(const chunk& c, std::ostream* os) {
    *os << "{0x" << std::hex << c.addr << std::dec << ", " << c.len << "}";
}

namespace {

using chunks = std::vector<chunk>;

constexpr std::uint64_t gib4 = std::uint64_t{1} << 32;

// --- DW count: ((addr & 3) + len + 3) / 4 ---

TEST(DwCount, AlignedAndUnaligned) {
    EXPECT_EQ(dw_count(0x1000, 1), 1u);    // (0 + 1 + 3) / 4 = 1
    EXPECT_EQ(dw_count(0x1003, 1), 1u);    // (3 + 1 + 3) / 4 = 1: last byte of a DW
    EXPECT_EQ(dw_count(0x1003, 2), 2u);    // (3 + 2 + 3) / 4 = 2: straddles two DWs
    EXPECT_EQ(dw_count(0x1002, 3), 2u);    // (2 + 3 + 3) / 4 = 2
    EXPECT_EQ(dw_count(0x1000, 3), 1u);    // a 1..3 byte write still carries one DW
    EXPECT_EQ(dw_count(0x1000, 64), 16u);  // 64 / 4
    EXPECT_EQ(dw_count(0x1001, 64), 17u);  // (1 + 64 + 3) / 4 = 17: unaligned start adds a DW
    EXPECT_EQ(dw_count(0x1000, 4096), 1024u);
}

TEST(DwCount, ZeroLengthThrows) { EXPECT_THROW(dw_count(0x1000, 0), std::invalid_argument); }

// --- header and wire sizes: 8 B framing + 12/16 B header + payload DWs ---

TEST(TlpSize, HeaderFollowsFourGibBoundary) {
    EXPECT_EQ(request_header_bytes(0), 12u);
    EXPECT_EQ(request_header_bytes(gib4 - 1), 12u);  // last address below 4 GiB: 3 DW
    EXPECT_EQ(request_header_bytes(gib4), 16u);      // 4 GiB and above: 4 DW
}

TEST(TlpSize, MemoryRead) {
    EXPECT_EQ(mrd_wire_bytes(0x8000'0000, 64), 20u);           // 8 + 12 (3-DW), no payload
    EXPECT_EQ(mrd_wire_bytes(gib4, 64), 24u);                  // 8 + 16 (4-DW)
    EXPECT_EQ(mrd_wire_bytes(gib4 - 4, 4), 20u);               // ends at 4 GiB, starts below: 3-DW
    EXPECT_EQ(mrd_wire_bytes(gib4 + 0x10, 4096 - 0x10), 24u);  // length does not change it
}

TEST(TlpSize, MemoryWrite) {
    EXPECT_EQ(mwr_wire_bytes(gib4 + 0x10, 64), 88u);  // 8 + 16 + 64
    EXPECT_EQ(mwr_wire_bytes(0x1000'0000, 64), 84u);  // 8 + 12 + 64
    EXPECT_EQ(mwr_wire_bytes(0x2000, 1), 24u);        // 8 + 12 + 1 DW
    EXPECT_EQ(mwr_wire_bytes(0x2002, 3), 28u);        // 8 + 12 + 2 DW ((2 + 3 + 3) / 4)
    EXPECT_EQ(mwr_wire_bytes(0x2001, 256), 280u);     // 8 + 12 + 65 DW × 4 = 260
    EXPECT_EQ(mwr_wire_bytes(gib4, 4096), 4120u);     // 8 + 16 + 4096
}

TEST(TlpSize, Completion) {
    EXPECT_EQ(cpld_wire_bytes(gib4 + 0x40, 64), 84u);  // 8 + 12 + 64: always a 3-DW header
    EXPECT_EQ(cpld_wire_bytes(0x1010, 48), 68u);       // 8 + 12 + 12 DW
    EXPECT_EQ(cpld_wire_bytes(0x1012, 46), 68u);       // (2 + 46 + 3) / 4 = 12 DW
    EXPECT_EQ(cpld_wire_bytes(0x1013, 1), 24u);        // 8 + 12 + 1 DW
    EXPECT_EQ(cpl_wire_bytes(), 20u);                  // no data: 8 + 12
}

TEST(TlpSize, IllegalTlpsThrow) {
    EXPECT_THROW(mrd_wire_bytes(0x1000, 0), std::invalid_argument);
    EXPECT_THROW(mwr_wire_bytes(0x1000, 0), std::invalid_argument);
    EXPECT_THROW(cpld_wire_bytes(0x1000, 0), std::invalid_argument);
    EXPECT_THROW(mwr_wire_bytes(0x1000, 4097), std::invalid_argument);
    EXPECT_THROW(mrd_wire_bytes(0x1000, 4097), std::invalid_argument);
    // 0xFFC + 8 = 0x1004: crosses 4 KiB.
    EXPECT_THROW(mrd_wire_bytes(0xFFC, 8), std::invalid_argument);
    EXPECT_THROW(mwr_wire_bytes(0xFFC, 8), std::invalid_argument);
    EXPECT_THROW(cpld_wire_bytes(0xFFC, 8), std::invalid_argument);
    EXPECT_NO_THROW(mwr_wire_bytes(0xFFC, 4));  // ends exactly on the boundary
    constexpr std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
    EXPECT_THROW(mwr_wire_bytes(top, 1), std::invalid_argument);  // would end at 2^64
}

// --- writes: at most MPS, never across 4 KiB ---

TEST(SplitWrite, AlignedPageAtMps256) {
    // 4096 / 256 = 16 TLPs of 256 B.
    const chunks got = split_write(0x1000, 4096, 256);
    ASSERT_EQ(got.size(), 16u);
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i], (chunk{0x1000 + 256 * i, 256}));
    }
}

TEST(SplitWrite, UnalignedStartCutsFromStart) {
    EXPECT_EQ(split_write(0x1010, 512, 256), (chunks{{0x1010, 256}, {0x1110, 256}}));
}

TEST(SplitWrite, CrossingFourKib) {
    // 0xF80..0x1000 is 128 B, then 256 at 0x1000, then 512 - 128 - 256 = 128 at 0x1100.
    EXPECT_EQ(split_write(0xF80, 512, 256), (chunks{{0xF80, 128}, {0x1000, 256}, {0x1100, 128}}));
    // MPS 4096 does not help: 0x1_0000_0FF0 + 32 crosses at 0x1_0000_1000.
    EXPECT_EQ(split_write(gib4 + 0xFF0, 32, 4096),
              (chunks{{gib4 + 0xFF0, 16}, {gib4 + 0x1000, 16}}));
}

TEST(SplitWrite, SmallAndSingle) {
    EXPECT_EQ(split_write(0x10, 1, 128), (chunks{{0x10, 1}}));
    EXPECT_EQ(split_write(0x10, 128, 128), (chunks{{0x10, 128}}));
    EXPECT_EQ(split_write(0x10, 129, 128), (chunks{{0x10, 128}, {0x90, 1}}));
}

TEST(SplitWrite, BadArgumentsThrow) {
    EXPECT_THROW(split_write(0x1000, 0, 256), std::invalid_argument);
    EXPECT_THROW(split_write(0x1000, 64, 100), std::invalid_argument);   // not a power of two
    EXPECT_THROW(split_write(0x1000, 64, 64), std::invalid_argument);    // below 128
    EXPECT_THROW(split_write(0x1000, 64, 8192), std::invalid_argument);  // above 4096
    constexpr std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
    EXPECT_THROW(split_write(top - 7, 8, 256), std::invalid_argument);  // ends at 2^64
}

// --- read requests: at most MRRS, never across 4 KiB ---

TEST(SplitRead, AtMrrs) {
    // 2048 / 512 = 4 requests.
    EXPECT_EQ(split_read(0x2000, 2048, 512),
              (chunks{{0x2000, 512}, {0x2200, 512}, {0x2400, 512}, {0x2600, 512}}));
    EXPECT_EQ(split_read(0x100, 100, 4096), (chunks{{0x100, 100}}));
}

TEST(SplitRead, CrossingFourKib) {
    // 0xE00 + 512 ends exactly at 0x1000: no extra cut.
    EXPECT_EQ(split_read(0xE00, 1024, 512), (chunks{{0xE00, 512}, {0x1000, 512}}));
    // 0xF00..0x1000 = 256, then 512, then 1024 - 256 - 512 = 256.
    EXPECT_EQ(split_read(0xF00, 1024, 512), (chunks{{0xF00, 256}, {0x1000, 512}, {0x1200, 256}}));
}

TEST(SplitRead, BadArgumentsThrow) {
    EXPECT_THROW(split_read(0x1000, 0, 512), std::invalid_argument);
    EXPECT_THROW(split_read(0x1000, 64, 3000), std::invalid_argument);
}

// --- completions: at most MPS, every one but the last ends RCB-aligned ---

TEST(SplitCompletions, AlignedFitsOne) {
    EXPECT_EQ(split_completions(0x1000, 64, 256, 64, false), (chunks{{0x1000, 64}}));
    // 4096 B at MPS 4096: one completion of 1024 DW.
    EXPECT_EQ(split_completions(0x3000, 4096, 4096, 64, false), (chunks{{0x3000, 4096}}));
}

TEST(SplitCompletions, AlignedAtMps) {
    EXPECT_EQ(split_completions(0x1000, 512, 256, 64, false),
              (chunks{{0x1000, 256}, {0x1100, 256}}));
    // MPS 128, 4096 B: 32 completions of 128 B.
    const chunks got = split_completions(0x0, 4096, 128, 128, false);
    ASSERT_EQ(got.size(), 32u);
    EXPECT_EQ(got.front(), (chunk{0x0, 128}));
    EXPECT_EQ(got.back(), (chunk{0xF80, 128}));
}

TEST(SplitCompletions, UnalignedStartShortFirst) {
    // RCB 64: 0x1010 → next boundary 0x1040 (48 B), then MPS 256 → 0x1140, then the
    // remaining 512 - 48 - 256 = 208.
    EXPECT_EQ(split_completions(0x1010, 512, 256, 64, false),
              (chunks{{0x1010, 48}, {0x1040, 256}, {0x1140, 208}}));
    // RCB 128: 0x1010 → 0x1080 (112 B), then 256 → 0x1180, then 512 - 112 - 256 = 144.
    EXPECT_EQ(split_completions(0x1010, 512, 256, 128, false),
              (chunks{{0x1010, 112}, {0x1080, 256}, {0x1180, 144}}));
}

TEST(SplitCompletions, ShorterThanRcb) {
    // 0x1010 + 20 = 0x1024 stays before the 0x1040 boundary: one completion.
    EXPECT_EQ(split_completions(0x1010, 20, 256, 64, false), (chunks{{0x1010, 20}}));
    // 0x1030 + 32 crosses 0x1040: the completer may (and this model does) cut there.
    EXPECT_EQ(split_completions(0x1030, 32, 256, 64, false), (chunks{{0x1030, 16}, {0x1040, 16}}));
}

TEST(SplitCompletions, SingleByte) {
    EXPECT_EQ(split_completions(0x103F, 1, 256, 64, false), (chunks{{0x103F, 1}}));
    EXPECT_EQ(split_completions(0x1040, 1, 256, 64, true), (chunks{{0x1040, 1}}));
}

TEST(SplitCompletions, OnePerRcb) {
    // 0x1010..0x10D8 (200 B) cut at every 64 B boundary: 48 + 64 + 64 + 24 = 200.
    EXPECT_EQ(split_completions(0x1010, 200, 256, 64, true),
              (chunks{{0x1010, 48}, {0x1040, 64}, {0x1080, 64}, {0x10C0, 24}}));
    // Aligned 512 B at RCB 128: 4 × 128.
    EXPECT_EQ(split_completions(0x2000, 512, 256, 128, true),
              (chunks{{0x2000, 128}, {0x2080, 128}, {0x2100, 128}, {0x2180, 128}}));
}

TEST(SplitCompletions, EndingAtFourKib) {
    // 0xF10..0x1000: 0xF10 → 0xF40 (48), 0xF40 + 256 = 0x1040 is past the end → 0xC0 = 192.
    EXPECT_EQ(split_completions(0xF10, 240, 256, 64, false), (chunks{{0xF10, 48}, {0xF40, 192}}));
}

TEST(SplitCompletions, BadArgumentsThrow) {
    EXPECT_THROW(split_completions(0x1000, 0, 256, 64, false), std::invalid_argument);
    EXPECT_THROW(split_completions(0x1000, 4097, 256, 64, false), std::invalid_argument);
    // 0xFC0 + 128 = 0x1040: a request never crosses 4 KiB, so neither do its completions.
    EXPECT_THROW(split_completions(0xFC0, 128, 256, 64, false), std::invalid_argument);
    EXPECT_THROW(split_completions(0x1000, 64, 256, 32, false), std::invalid_argument);
    EXPECT_THROW(split_completions(0x1000, 64, 256, 256, false), std::invalid_argument);
    EXPECT_THROW(split_completions(0x1000, 64, 200, 64, false), std::invalid_argument);
}

}  // namespace
}  // namespace iovsim::pcie
