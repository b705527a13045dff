#include "models/cpu/ept.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace iovsim::cpu {
namespace {

// Guest RAM 0..16 MiB at host 4 GiB; a 16 KiB passthrough BAR at GPA 0xF000_0000 (host
// 0xE000_0000) whose page 2 (the MSI-X table) is trapped; a 4 KiB emulated region.
class Ept : public ::testing::Test {
protected:
    void SetUp() override {
        m.map_ram(0, 0x1'0000'0000, 16 << 20);
        bar = m.add_passthrough("vf0.bar0", 0xf000'0000, 0xe000'0000, 0x4000);
        m.trap(bar, 0x2000, 0x1000);
        emu = m.add_emulated("e1000", 0xf100'0000, 0x1000);
    }
    ept m;
    int bar = -1;
    int emu = -1;
};

TEST_F(Ept, RamTranslatesToHostDram) {
    const gpa_translation t = m.translate(0x1234, 8);
    EXPECT_EQ(t.kind, gpa_kind::ram);
    EXPECT_EQ(t.hpa, 0x1'0000'1234u);
    std::uint64_t hpa = 0;
    ASSERT_TRUE(m.ram_hpa((16 << 20) - 8, 8, hpa));  // the last 8 bytes
    EXPECT_EQ(hpa, 0x1'0000'0000u + (16 << 20) - 8);
    EXPECT_FALSE(m.ram_hpa((16 << 20) - 4, 8, hpa));  // straddles the end
    EXPECT_FALSE(m.ram_hpa(0xf000'0000, 4, hpa));     // a BAR is not RAM
}

TEST_F(Ept, PassthroughBarIsMappedExceptTheTrappedPage) {
    gpa_translation t = m.translate(0xf000'0018, 4);  // a doorbell in page 0
    EXPECT_EQ(t.kind, gpa_kind::passthrough);
    EXPECT_EQ(t.hpa, 0xe000'0018u);
    EXPECT_EQ(t.region, bar);
    EXPECT_EQ(t.offset, 0x18u);
    t = m.translate(0xf000'2010, 4);  // MSI-X table entry 1's address
    EXPECT_EQ(t.kind, gpa_kind::trapped);
    EXPECT_EQ(t.offset, 0x2010u);
    EXPECT_EQ(m.translate(0xf000'3000, 4).kind, gpa_kind::passthrough);  // page 3: mapped
    // Straddling the trapped page's first byte: neither mapped nor trapped.
    EXPECT_EQ(m.translate(0xf000'1ffe, 4).kind, gpa_kind::unmapped);
}

TEST_F(Ept, EmulatedAndUnmapped) {
    const gpa_translation t = m.translate(0xf100'0818, 4);
    EXPECT_EQ(t.kind, gpa_kind::emulated);
    EXPECT_EQ(t.region, emu);
    EXPECT_EQ(t.offset, 0x818u);
    EXPECT_EQ(m.translate(0xf100'0ffe, 4).kind, gpa_kind::unmapped);  // past the end
    EXPECT_EQ(m.translate(0x8000'0000, 4).kind, gpa_kind::unmapped);
    EXPECT_EQ(m.region_name(emu), "e1000");
    EXPECT_EQ(m.region_base(bar), 0xf000'0000u);
}

TEST_F(Ept, ConfigurationMistakesThrow) {
    EXPECT_THROW(m.map_ram(0x10'0000, 0x2'0000'0000, 0x1000), std::invalid_argument);  // overlap
    EXPECT_THROW(m.add_emulated("x", 0xf000'1000, 0x10), std::invalid_argument);       // in BAR
    EXPECT_THROW(m.add_emulated("x", 0x9000'0000, 0), std::invalid_argument);          // empty
    EXPECT_THROW(m.add_emulated("x", ~std::uint64_t{0} - 4, 0x10), std::invalid_argument);
    EXPECT_THROW(m.trap(bar, 0x100, 0x1000), std::invalid_argument);   // not page aligned
    EXPECT_THROW(m.trap(bar, 0x3000, 0x2000), std::invalid_argument);  // outside the BAR
    EXPECT_THROW(m.trap(bar, 0x2000, 0x1000), std::invalid_argument);  // trapped twice
    EXPECT_THROW(m.trap(emu, 0, 0x1000), std::invalid_argument);       // not passthrough
    EXPECT_THROW(m.trap(7, 0, 0x1000), std::invalid_argument);         // no such region
}

}  // namespace
}  // namespace iovsim::cpu
