#include "models/pcie/config_space.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <tuple>
#include <vector>

namespace iovsim::pcie {
namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;

function_identity test_identity() {
    // Vendor 0x1b36, device 0x0005, revision 0x02, class 0x00ff00, subsystem 0x1af4:0x1100.
    return function_identity{0x1b36, 0x0005, 0x02, 0x00ff00, 0x1af4, 0x1100, false};
}

config_space endpoint() { return config_space(header_layout::type0, test_identity()); }

config_space bridge() {
    return config_space(header_layout::type1,
                        function_identity{0x1b36, 0x000c, 0x00, 0x060400, 0, 0, false});
}

// --- Access rules ---

TEST(ConfigSpaceAccess, AcceptsOneTwoFourBytesWithinADword) {
    EXPECT_TRUE(config_space::access_ok(0x00, 4));
    EXPECT_TRUE(config_space::access_ok(0x02, 2));
    EXPECT_TRUE(config_space::access_ok(0x01, 2));  // bytes 1-2: byte enables 0110b
    EXPECT_TRUE(config_space::access_ok(0x03, 1));
    EXPECT_TRUE(config_space::access_ok(0xffc, 4));
    EXPECT_FALSE(config_space::access_ok(0x03, 2));  // bytes 3-4 cross a dword
    EXPECT_FALSE(config_space::access_ok(0x02, 4));  // crosses a dword
    EXPECT_FALSE(config_space::access_ok(0x00, 3));  // not a request size
    EXPECT_FALSE(config_space::access_ok(0x00, 8));  // the root complex splits these
    EXPECT_FALSE(config_space::access_ok(0x00, 0));
    EXPECT_FALSE(config_space::access_ok(0x1000, 1));  // past 4 KiB
}

TEST(ConfigSpaceAccess, RejectedReadReturnsAllOnesAndWriteChangesNothing) {
    config_space cs = endpoint();
    EXPECT_EQ(cs.read(0x03, 2), 0xffffu);
    EXPECT_EQ(cs.read(0x02, 4), 0xffffffffu);
    EXPECT_EQ(cs.read(0x1000, 1), 0xffu);
    // Command (0x04) holds writable bits: a rejected write across 0x03..0x04 must not touch it.
    EXPECT_FALSE(cs.write(0x03, 2, 0xffff));
    EXPECT_EQ(cs.read(cfg::command, 2), 0u);
    EXPECT_FALSE(cs.write(0x04, 8, 0xffffffff));
    EXPECT_EQ(cs.read(cfg::command, 2), 0u);
}

TEST(ConfigSpaceAccess, PartialAccessesSeeTheSameBytes) {
    config_space cs = endpoint();
    // Dword 0 = device ID << 16 | vendor ID = 0x0005'1b36, little-endian bytes 36 1b 05 00.
    EXPECT_EQ(cs.read(0x00, 4), 0x00051b36u);
    EXPECT_EQ(cs.read(0x00, 1), 0x36u);
    EXPECT_EQ(cs.read(0x01, 1), 0x1bu);
    EXPECT_EQ(cs.read(0x01, 2), 0x051bu);
    EXPECT_EQ(cs.read(0x02, 2), 0x0005u);
    // Dword 2 = class code 0x00ff00 << 8 | revision 0x02.
    EXPECT_EQ(cs.read(cfg::revision_id, 4), 0x00ff0002u);
    // Header type 0, single function; subsystem dword = 0x1100 << 16 | 0x1af4.
    EXPECT_EQ(cs.read(cfg::header_type, 1), 0x00u);
    EXPECT_EQ(cs.read(cfg::subsystem_vendor_id, 4), 0x11001af4u);
}

TEST(ConfigSpaceAccess, ByteWriteToTheHighByteOfCommand) {
    config_space cs = endpoint();
    // Byte 0x05 holds command bits 15:8; bit 10 (Interrupt Disable) is bit 2 of that byte and
    // bit 8 (SERR# Enable) bit 0: 0x05 sets both, the rest of the byte is read-only.
    EXPECT_TRUE(cs.write(cfg::command + 1, 1, 0xff));
    EXPECT_EQ(cs.read(cfg::command, 2), 0x0500u);
    EXPECT_TRUE(cs.write(cfg::command, 1, 0x06));
    EXPECT_EQ(cs.read(cfg::command, 2), 0x0506u);
}

// --- Read-only and RW1C ---

TEST(ConfigSpaceRegisters, IdentityRegistersIgnoreWrites) {
    config_space cs = endpoint();
    EXPECT_TRUE(cs.write(cfg::vendor_id, 4, 0xdeadbeef));
    EXPECT_TRUE(cs.write(cfg::revision_id, 4, 0xffffffff));
    EXPECT_TRUE(cs.write(cfg::subsystem_vendor_id, 4, 0));
    EXPECT_TRUE(cs.write(cfg::capabilities_pointer, 1, 0x80));
    EXPECT_EQ(cs.read(cfg::vendor_id, 4), 0x00051b36u);
    EXPECT_EQ(cs.read(cfg::revision_id, 4), 0x00ff0002u);
    EXPECT_EQ(cs.read(cfg::subsystem_vendor_id, 4), 0x11001af4u);
    EXPECT_EQ(cs.read(cfg::capabilities_pointer, 1), 0u);
}

TEST(ConfigSpaceRegisters, CommandWritableBitsAndGating) {
    config_space cs = endpoint();
    EXPECT_FALSE(cs.memory_space_enabled());
    EXPECT_FALSE(cs.bus_master_enabled());
    cs.write(cfg::command, 2, 0xffff);
    // Writable: memory (1), bus master (2), parity (6), SERR (8), INTx disable (10) = 0x0546.
    // I/O Space (bit 0) is hardwired 0: the function has no I/O space.
    EXPECT_EQ(cs.read(cfg::command, 2), 0x0546u);
    EXPECT_TRUE(cs.memory_space_enabled());
    EXPECT_TRUE(cs.bus_master_enabled());
    cs.write(cfg::command, 2, cfg::command_bus_master);
    EXPECT_FALSE(cs.memory_space_enabled());
    EXPECT_TRUE(cs.bus_master_enabled());
}

TEST(ConfigSpaceRegisters, StatusErrorBitsAreWriteOneToClear) {
    config_space cs = endpoint();
    // The device records Received Master Abort (13) and Signaled Target Abort (11).
    cs.set_bits(cfg::status, 2,
                cfg::status_received_master_abort | cfg::status_signaled_target_abort);
    EXPECT_EQ(cs.read(cfg::status, 2), 0x2800u);
    // Writing 0 changes nothing; writing the value back unchanged clears what is set.
    cs.write(cfg::status, 2, 0x0000);
    EXPECT_EQ(cs.read(cfg::status, 2), 0x2800u);
    cs.write(cfg::status, 2, 0x0800);  // clear bit 11 only
    EXPECT_EQ(cs.read(cfg::status, 2), 0x2000u);
    // Byte access to the high byte: bit 13 is bit 5 of byte 0x07.
    cs.write(cfg::status + 1, 1, 0x20);
    EXPECT_EQ(cs.read(cfg::status, 2), 0x0000u);
}

TEST(ConfigSpaceRegisters, CapabilitiesListBitIsReadOnly) {
    config_space cs = endpoint();
    cs.add_capability(0x09, 4);  // vendor-specific
    EXPECT_EQ(cs.read(cfg::status, 2), cfg::status_capabilities_list);
    cs.write(cfg::status, 2, 0xffff);  // all RW1C bits are clear; bit 4 is read-only
    EXPECT_EQ(cs.read(cfg::status, 2), cfg::status_capabilities_list);
}

TEST(ConfigSpaceRegisters, DefineRegisterMasksAndModelSideAccess) {
    config_space cs = endpoint();
    // A vendor register at 0xa0: bits 7:0 RW, bits 15:8 RW1C, bits 31:16 read-only, reset
    // 0x1234'0000.
    cs.define_register(0xa0, 4, 0x12340000, 0x000000ff, 0x0000ff00);
    cs.write(0xa0, 4, 0xffffffab);
    EXPECT_EQ(cs.read(0xa0, 4), 0x123400abu);
    cs.set_bits(0xa0, 4, 0x0000c000);
    EXPECT_EQ(cs.read(0xa0, 4), 0x1234c0abu);
    cs.write(0xa1, 1, 0x40);  // clear bit 14
    EXPECT_EQ(cs.read(0xa0, 4), 0x123480abu);
    cs.poke(0xa2, 2, 0x5678);  // the model may change read-only bits
    EXPECT_EQ(cs.peek(0xa0, 4), 0x567880abu);
}

TEST(ConfigSpaceRegisters, ModelSideOutOfRangeThrows) {
    config_space cs = endpoint();
    EXPECT_THROW(cs.define_register(0xffe, 4, 0, 0), std::out_of_range);
    EXPECT_THROW(cs.peek(0x1000, 1), std::out_of_range);
    EXPECT_THROW(cs.poke(0xfff, 2, 0), std::out_of_range);
    EXPECT_THROW(cs.peek(0x10, 8), std::out_of_range);
    EXPECT_THROW(cs.on_write(0xff0, 0x20, [](std::uint16_t, unsigned) {}), std::out_of_range);
}

// --- Write hooks ---

TEST(ConfigSpaceHooks, CalledForOverlappingAcceptedWritesOnly) {
    config_space cs = endpoint();
    std::vector<std::pair<std::uint16_t, unsigned>> calls;
    cs.on_write(0x06, 2, [&](std::uint16_t off, unsigned size) { calls.emplace_back(off, size); });
    cs.write(cfg::command, 2, 0x0002);  // 0x04-0x05: no overlap
    cs.write(cfg::command, 4, 0x0002);  // 0x04-0x07: overlaps
    cs.write(0x07, 1, 0);               // overlaps
    cs.write(0x05, 2, 0);               // bytes 5-6: one dword, accepted, overlaps
    cs.write(0x07, 2, 0);               // rejected: crosses into 0x08
    cs.poke(0x06, 2, 0);                // model side: no hook
    ASSERT_EQ(calls.size(), 3u);
    EXPECT_EQ(calls[0], std::make_pair(std::uint16_t{0x04}, 4u));
    EXPECT_EQ(calls[1], std::make_pair(std::uint16_t{0x07}, 1u));
    EXPECT_EQ(calls[2], std::make_pair(std::uint16_t{0x05}, 2u));
}

TEST(ConfigSpaceHooks, HookSeesTheValueAlreadyApplied) {
    config_space cs = endpoint();
    std::uint32_t seen = 0;
    cs.on_write(cfg::command, 2, [&](std::uint16_t, unsigned) { seen = cs.read(cfg::command, 2); });
    cs.write(cfg::command, 2, 0x0006);
    EXPECT_EQ(seen, 0x0006u);
}

// --- BAR sizing ---

// (size, 64-bit, prefetchable)
class BarSizing : public ::testing::TestWithParam<std::tuple<std::uint64_t, bool, bool>> {};

TEST_P(BarSizing, AllOnesReadsBackSizeMaskAndType) {
    const auto [size, is64, pref] = GetParam();
    config_space cs = endpoint();
    cs.define_bar(2, size, is64, pref);
    // Type bits: bit 0 = 0 (memory), bits 2:1 = 10b for 64-bit (0x4), bit 3 prefetchable (0x8).
    const std::uint32_t type = (is64 ? 0x4u : 0u) | (pref ? 0x8u : 0u);
    EXPECT_EQ(cs.read(0x18, 4), type);  // reset: address 0
    cs.write(0x18, 4, 0xffffffff);
    // Bits below log2(size) are hardwired 0: the low dword reads ~(size - 1), bits 3:0 the type.
    // E.g. 4 KiB: 0xfffff000; 1 GiB: 0xc0000000.
    const std::uint32_t expected_low = static_cast<std::uint32_t>(~(size - 1)) | type;
    EXPECT_EQ(cs.read(0x18, 4), expected_low);
    if (is64) {
        // Upper dword: every bit writable for sizes up to 4 GiB.
        cs.write(0x1c, 4, 0xffffffff);
        EXPECT_EQ(cs.read(0x1c, 4), 0xffffffffu);
    } else {
        cs.write(0x1c, 4, 0xffffffff);  // BAR 3 is undefined
        EXPECT_EQ(cs.read(0x1c, 4), 0u);
    }
    // Decoding the mask as software does gives the size back: ~(mask & ~0xf) + 1.
    const std::uint64_t mask =
        (is64 ? std::uint64_t{cs.read(0x1c, 4)} << 32 : 0xffffffff00000000ull) |
        (cs.read(0x18, 4) & ~0xfu);
    EXPECT_EQ(~mask + 1, size);
    EXPECT_EQ(cs.bar_size(2), size);
    EXPECT_EQ(cs.bar_is_64bit(2), is64);
    EXPECT_EQ(cs.bar_is_prefetchable(2), pref);
}

INSTANTIATE_TEST_SUITE_P(SizesFrom4KTo1G, BarSizing,
                         ::testing::Combine(::testing::Values(4 * KiB, 64 * KiB, 1 * MiB, 16 * MiB,
                                                              256 * MiB, 1 * GiB),
                                            ::testing::Bool(), ::testing::Bool()));

TEST(ConfigSpaceBars, SixteenByteBarIsTheMinimum) {
    config_space cs = endpoint();
    cs.define_bar(0, 16, false, false);
    cs.write(cfg::bar0, 4, 0xffffffff);
    EXPECT_EQ(cs.read(cfg::bar0, 4), 0xfffffff0u);
}

TEST(ConfigSpaceBars, SixtyFourBitBarAboveFourGiB) {
    config_space cs = endpoint();
    cs.define_bar(0, 8 * GiB, true, true);
    cs.write(0x10, 4, 0xffffffff);
    cs.write(0x14, 4, 0xffffffff);
    // 8 GiB = 2^33: address bits 32:0 hardwired 0. Low dword: only the type 0xc;
    // upper dword: bit 0 (address bit 32) reads 0 -> 0xfffffffe.
    EXPECT_EQ(cs.read(0x10, 4), 0x0000000cu);
    EXPECT_EQ(cs.read(0x14, 4), 0xfffffffeu);
}

TEST(ConfigSpaceBars, AddressProgrammingAndDecode) {
    config_space cs = endpoint();
    cs.define_bar(0, 64 * KiB, true, false);
    cs.define_bar(2, 1 * MiB, true, true);
    cs.define_bar(4, 4 * KiB, false, false);
    cs.assign_bar(0, 0xfe000000);
    cs.assign_bar(2, 0x8'0010'0000ull);
    // A misaligned address loses its low bits as hardware drops them: 4 KiB BAR, 0xfd001234
    // -> 0xfd001000.
    cs.assign_bar(4, 0xfd001234);
    EXPECT_EQ(cs.bar_address(0), 0xfe000000u);
    EXPECT_EQ(cs.bar_address(2), 0x800100000ull);
    EXPECT_EQ(cs.bar_address(4), 0xfd001000u);
    EXPECT_EQ(cs.bar_address(1), 0u);  // upper half of BAR 0
    EXPECT_EQ(cs.bar_size(1), 0u);
    EXPECT_EQ(cs.bar_address(5), 0u);  // undefined

    // Memory Space disabled: nothing decodes.
    EXPECT_FALSE(cs.decode(0xfe000000, 4).has_value());
    cs.write(cfg::command, 2, cfg::command_memory_space);
    EXPECT_EQ(cs.decode(0xfe000000, 4), std::make_pair(0, std::uint64_t{0}));
    // Last dword of the 64 KiB BAR: 0xfe00fffc = base + 0xfffc.
    EXPECT_EQ(cs.decode(0xfe00fffc, 4), std::make_pair(0, std::uint64_t{0xfffc}));
    EXPECT_FALSE(cs.decode(0xfe00fffe, 4).has_value());  // runs past the BAR's end
    EXPECT_FALSE(cs.decode(0xfe010000, 4).has_value());
    EXPECT_EQ(cs.decode(0x800180000ull, 64), std::make_pair(2, std::uint64_t{0x80000}));
    EXPECT_EQ(cs.decode(0xfd001ff0, 16), std::make_pair(4, std::uint64_t{0xff0}));
    EXPECT_FALSE(cs.decode(0xfd000fff, 1).has_value());
}

TEST(ConfigSpaceBars, UndefinedBarsReadZeroAndIgnoreWrites) {
    config_space cs = endpoint();
    for (std::uint16_t reg = 0x10; reg < 0x28; reg += 4) {
        cs.write(reg, 4, 0xffffffff);
        EXPECT_EQ(cs.read(reg, 4), 0u) << "BAR at 0x" << std::hex << reg;
    }
    cs.write(cfg::command, 2, cfg::command_memory_space);
    EXPECT_FALSE(cs.decode(0, 4).has_value());
}

TEST(ConfigSpaceBars, DefineBarErrors) {
    config_space cs = endpoint();
    EXPECT_THROW(cs.define_bar(6, 4 * KiB, false, false), std::invalid_argument);
    EXPECT_THROW(cs.define_bar(-1, 4 * KiB, false, false), std::invalid_argument);
    EXPECT_THROW(cs.define_bar(5, 4 * KiB, true, false), std::invalid_argument);  // no BAR 6
    EXPECT_THROW(cs.define_bar(0, 3 * KiB, false, false), std::invalid_argument);
    EXPECT_THROW(cs.define_bar(0, 8, false, false), std::invalid_argument);
    EXPECT_THROW(cs.define_bar(0, 0, false, false), std::invalid_argument);
    EXPECT_THROW(cs.define_bar(0, 4 * GiB, false, false), std::invalid_argument);
    cs.define_bar(0, 4 * KiB, true, false);
    EXPECT_THROW(cs.define_bar(0, 4 * KiB, false, false), std::invalid_argument);
    EXPECT_THROW(cs.define_bar(1, 4 * KiB, false, false), std::invalid_argument);  // upper half
    EXPECT_THROW(cs.bar_address(6), std::out_of_range);
    EXPECT_THROW(cs.bar_size(-1), std::out_of_range);
    config_space br = bridge();
    EXPECT_THROW(br.define_bar(2, 4 * KiB, false, false), std::invalid_argument);
    EXPECT_THROW(br.define_bar(1, 4 * KiB, true, false), std::invalid_argument);
}

// --- Type-1 header ---

TEST(ConfigSpaceType1, HeaderTypeAndBusNumbers) {
    config_space br = bridge();
    EXPECT_EQ(br.read(cfg::header_type, 1), 0x01u);
    EXPECT_EQ(br.bar_count(), 2);
    br.set_bus_numbers(0, 1, 3);
    // Dword 0x18: secondary latency timer (0) << 24 | subordinate << 16 | secondary << 8 | primary.
    EXPECT_EQ(br.read(0x18, 4), 0x00030100u);
    EXPECT_EQ(br.primary_bus(), 0);
    EXPECT_EQ(br.secondary_bus(), 1);
    EXPECT_EQ(br.subordinate_bus(), 3);
    EXPECT_FALSE(br.bus_in_range(0));
    EXPECT_TRUE(br.bus_in_range(1));
    EXPECT_TRUE(br.bus_in_range(3));
    EXPECT_FALSE(br.bus_in_range(4));
    br.write(cfg::secondary_latency_timer, 1, 0xff);  // read-only 0 on PCI Express
    EXPECT_EQ(br.read(cfg::secondary_latency_timer, 1), 0u);
}

TEST(ConfigSpaceType1, IoWindowIsNotImplemented) {
    config_space br = bridge();
    br.write(cfg::io_base, 2, 0xffff);
    br.write(cfg::io_base_upper, 4, 0xffffffff);
    EXPECT_EQ(br.read(cfg::io_base, 2), 0u);
    EXPECT_EQ(br.read(cfg::io_base_upper, 4), 0u);
}

TEST(ConfigSpaceType1, WindowsAreDisabledAtReset) {
    config_space br = bridge();
    br.write(cfg::command, 2, cfg::command_memory_space);
    EXPECT_FALSE(br.memory_window_nonprefetchable().has_value());
    EXPECT_FALSE(br.memory_window_prefetchable().has_value());
    EXPECT_FALSE(br.forwards_memory(0));
    EXPECT_FALSE(br.forwards_memory(0xfe000000));
    // Prefetchable Base/Limit read 1 in bits 3:0: a 64-bit window.
    EXPECT_EQ(br.read(cfg::prefetchable_memory_base, 2) & 0xf, 1u);
    EXPECT_EQ(br.read(cfg::prefetchable_memory_limit, 2) & 0xf, 1u);
}

TEST(ConfigSpaceType1, NonPrefetchableWindowForwardsAndRejects) {
    config_space br = bridge();
    br.set_memory_window(0xfe000000, 0xfe1fffff);  // 2 MiB
    // Registers hold address bits 31:20 in bits 15:4: 0xfe0 << 4 = 0xfe00, 0xfe1 << 4 = 0xfe10.
    EXPECT_EQ(br.read(cfg::memory_base, 2), 0xfe00u);
    EXPECT_EQ(br.read(cfg::memory_limit, 2), 0xfe10u);
    EXPECT_EQ(br.memory_window_nonprefetchable(), (memory_window{0xfe000000, 0xfe1fffff}));
    // Memory Space Enable off: the bridge forwards nothing.
    EXPECT_FALSE(br.forwards_memory(0xfe000000, 4));
    br.write(cfg::command, 2, cfg::command_memory_space);
    EXPECT_TRUE(br.forwards_memory(0xfe000000, 4));
    EXPECT_TRUE(br.forwards_memory(0xfe1ffffc, 4));
    EXPECT_FALSE(br.forwards_memory(0xfe1ffffe, 4));  // straddles the limit
    EXPECT_FALSE(br.forwards_memory(0xfdfffffc, 4));
    EXPECT_FALSE(br.forwards_memory(0xfe200000, 4));
    // Raw writes: bits 3:0 are read-only 0 (32-bit window).
    br.write(cfg::memory_base, 2, 0xffff);
    EXPECT_EQ(br.read(cfg::memory_base, 2), 0xfff0u);
}

TEST(ConfigSpaceType1, PrefetchableWindowIsSixtyFourBit) {
    config_space br = bridge();
    br.write(cfg::command, 2, cfg::command_memory_space);
    br.set_prefetchable_window(0x8'0000'0000ull, 0x8'3fff'ffffull);  // 1 GiB at 32 GiB
    // Base: bits 31:20 of 0x8'0000'0000 are 0 -> 0x0000 | 1 (64-bit); upper = 0x8.
    // Limit: bits 31:20 of 0x8'3fff'ffff are 0x3ff -> 0x3ff0 | 1; upper = 0x8.
    EXPECT_EQ(br.read(cfg::prefetchable_memory_base, 2), 0x0001u);
    EXPECT_EQ(br.read(cfg::prefetchable_memory_limit, 2), 0x3ff1u);
    EXPECT_EQ(br.read(cfg::prefetchable_base_upper, 4), 0x8u);
    EXPECT_EQ(br.read(cfg::prefetchable_limit_upper, 4), 0x8u);
    EXPECT_TRUE(br.forwards_memory(0x8'0000'0000ull, 64));
    EXPECT_TRUE(br.forwards_memory(0x8'3fff'ffc0ull, 64));
    EXPECT_FALSE(br.forwards_memory(0x8'4000'0000ull, 64));
    EXPECT_FALSE(br.forwards_memory(0x0'0000'0000ull, 64));  // same low bits, upper 0
    EXPECT_FALSE(br.forwards_memory(0xfe000000, 4));         // non-prefetchable still disabled
    // Disabling again.
    br.set_prefetchable_window(1, 0);
    EXPECT_FALSE(br.memory_window_prefetchable().has_value());
    EXPECT_FALSE(br.forwards_memory(0x8'0000'0000ull, 64));
}

TEST(ConfigSpaceType1, WindowErrors) {
    config_space br = bridge();
    EXPECT_THROW(br.set_memory_window(0xfe080000, 0xfe1fffff), std::invalid_argument);
    EXPECT_THROW(br.set_memory_window(0xfe000000, 0xfe1ffffe), std::invalid_argument);
    EXPECT_THROW(br.set_memory_window(0x1'0000'0000ull, 0x1'000f'ffffull), std::invalid_argument);
    EXPECT_THROW(br.set_prefetchable_window(0x8'0008'0000ull, 0x8'3fff'ffffull),
                 std::invalid_argument);
}

TEST(ConfigSpaceType1, SecondaryStatusAndBridgeControl) {
    config_space br = bridge();
    br.set_bits(cfg::secondary_status, 2, cfg::status_received_master_abort);
    br.write(cfg::secondary_status, 2, cfg::status_received_master_abort);
    EXPECT_EQ(br.read(cfg::secondary_status, 2), 0u);
    br.write(cfg::bridge_control, 2, 0xffff);
    EXPECT_EQ(br.read(cfg::bridge_control, 2), cfg::bridge_control_writable);
}

TEST(ConfigSpaceType1, Type1HelpersOnAnEndpointThrow) {
    config_space cs = endpoint();
    EXPECT_THROW(cs.forwards_memory(0), std::logic_error);
    EXPECT_THROW(cs.bus_in_range(1), std::logic_error);
    EXPECT_THROW(cs.set_bus_numbers(0, 1, 1), std::logic_error);
    EXPECT_THROW(cs.memory_window_nonprefetchable(), std::logic_error);
    EXPECT_THROW(cs.set_prefetchable_window(0, 0xfffff), std::logic_error);
    // And the type-0 registers at type-1 offsets are plain read-only bytes.
    cs.write(cfg::primary_bus_number, 4, 0xffffffff);
    EXPECT_EQ(cs.read(cfg::primary_bus_number, 4), 0u);
}

}  // namespace
}  // namespace iovsim::pcie
