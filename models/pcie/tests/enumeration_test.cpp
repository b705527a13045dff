// Host enumeration against a fake ECAM: a host bridge and two root ports on bus 0, an endpoint
// behind each port. Every expected address, bus number and register value is worked out by hand
// from the topology and the windows in the comment beside it.
#include "models/pcie/enumeration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/pcie/capabilities.h"
#include "models/pcie/config_space.h"

namespace iovsim::pcie {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = 1024 * kib;

std::uint32_t all_ones(unsigned size) { return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1; }

// Configuration space as the CPU sees it through ECAM on a host with one link per root port.
// Bus 0 functions are reached directly; a bus behind a root port is reached only if it is the
// port's secondary bus (a Type 0 request there, which only device 0 receives, as on a real
// link); anything else reads all ones and drops writes (an Unsupported Request).
class fake_ecam : public config_access {
public:
    // A function on bus 0.
    config_space& add_bus0(std::uint8_t dev, std::uint8_t fn, config_space cs) {
        auto& slot = m_bus0[key(dev, fn)];
        slot = std::make_unique<config_space>(std::move(cs));
        return *slot;
    }
    // A root port at 00:dev.0 and the functions of the device on its link.
    config_space& add_root_port(std::uint8_t dev, config_space cs) {
        config_space& port = add_bus0(dev, 0, std::move(cs));
        m_links.push_back({&port, {}});
        return port;
    }
    config_space& add_behind(const config_space& port, std::uint8_t fn, config_space cs) {
        for (auto& l : m_links) {
            if (l.port != &port) continue;
            auto& slot = l.functions[fn];
            slot = std::make_unique<config_space>(std::move(cs));
            return *slot;
        }
        throw std::logic_error("add_behind: not a root port of this fake");
    }

    std::uint32_t config_read(routing_id id, std::uint16_t offset, unsigned size) override {
        ++reads;
        config_space* cs = find(id);
        return cs ? cs->read(offset, size) : all_ones(size);
    }
    void config_write(routing_id id, std::uint16_t offset, unsigned size,
                      std::uint32_t value) override {
        ++writes;
        if (config_space* cs = find(id)) cs->write(offset, size, value);
    }

    std::uint64_t reads = 0;
    std::uint64_t writes = 0;

private:
    struct link {
        config_space* port;
        std::map<std::uint8_t, std::unique_ptr<config_space>> functions;
    };
    static int key(std::uint8_t dev, std::uint8_t fn) { return dev << 3 | fn; }

    config_space* find(routing_id id) {
        if (id.bus == 0) {
            auto it = m_bus0.find(key(id.device, id.function));
            return it == m_bus0.end() ? nullptr : it->second.get();
        }
        for (auto& l : m_links) {
            if (!l.port->bus_in_range(id.bus)) continue;
            // Only Type 0 to the secondary bus: there is no switch below a root port.
            if (id.bus != l.port->secondary_bus() || id.device != 0) return nullptr;
            auto it = l.functions.find(id.function);
            return it == l.functions.end() ? nullptr : it->second.get();
        }
        return nullptr;
    }

    std::map<int, std::unique_ptr<config_space>> m_bus0;
    std::vector<link> m_links;
};

config_space host_bridge() {
    function_identity id;
    id.vendor_id = 0x8086;
    id.device_id = 0x29c0;
    id.class_code = 0x060000;
    return config_space(header_layout::type0, id);
}

// Behind port A: BAR0 32-bit 4 KiB non-prefetchable, BAR2/3 64-bit 64 KiB non-prefetchable
// (MSI-X table and PBA in it); supports only MPS 128.
config_space endpoint_a() {
    endpoint_params p;
    p.identity.device_id = 0x00a0;
    p.bars = {bar_params{0, 4 * kib, false, false}, bar_params{2, 64 * kib, true, false}};
    p.msix_table_bir = 2;
    p.msix_pba_bir = 2;
    p.max_payload_supported = 128;
    return make_endpoint(p);
}

// Behind port B: BAR0/1 64-bit 2 MiB prefetchable, BAR2/3 64-bit 16 KiB prefetchable (MSI-X
// table at 0, PBA at 0x2000 of BAR2); supports MPS 512.
config_space endpoint_b() {
    endpoint_params p;
    p.identity.device_id = 0x00b0;
    p.bars = {bar_params{0, 2 * mib, true, true}, bar_params{2, 16 * kib, true, true}};
    p.msix_table_bir = 2;
    p.msix_table_offset = 0;
    p.msix_pba_bir = 2;
    p.msix_pba_offset = 0x2000;
    p.max_payload_supported = 512;
    return make_endpoint(p);
}

constexpr std::uint64_t mmio32_base = 0x8000'0000;
constexpr std::uint64_t mmio32_limit = 0xdfff'ffff;
constexpr std::uint64_t mmio64_base = 0x40'0000'0000;
constexpr std::uint64_t mmio64_limit = 0x4f'ffff'ffff;

// The windows as a platform would fill them in: base and limit, the cursor left at its default.
enumeration_params platform_params() {
    enumeration_params p;
    p.mmio32.base = mmio32_base;
    p.mmio32.limit = mmio32_limit;
    p.mmio64.base = mmio64_base;
    p.mmio64.limit = mmio64_limit;
    p.mps = 256;
    p.mrrs = 1024;  // not the 512-byte reset value, so programming it shows
    return p;
}

struct topology {
    fake_ecam ecam;
    config_space* hb;
    config_space* port_a;
    config_space* port_b;
    config_space* ep_a;
    config_space* ep_b;
    topology() {
        hb = &ecam.add_bus0(0, 0, host_bridge());
        root_port_params rp;  // supports MPS 512
        rp.port_number = 1;
        port_a = &ecam.add_root_port(1, make_root_port(rp));
        rp.port_number = 2;
        port_b = &ecam.add_root_port(2, make_root_port(rp));
        ep_a = &ecam.add_behind(*port_a, 0, endpoint_a());
        ep_b = &ecam.add_behind(*port_b, 0, endpoint_b());
    }
};

// --- the two-port topology ---

TEST(Enumeration, FindsEveryFunctionInScanOrder) {
    topology t;
    enumerator e(t.ecam, platform_params());
    const auto found = e.run();
    // Depth first: bus 0 device 0, device 1 (then bus 1 behind it), device 2 (then bus 2).
    ASSERT_EQ(found.size(), 5u);
    const routing_id expected[] = {{0, 0, 0}, {0, 1, 0}, {1, 0, 0}, {0, 2, 0}, {2, 0, 0}};
    for (std::size_t i = 0; i < found.size(); ++i) {
        EXPECT_EQ(found[i].id, expected[i]) << "entry " << i << ": " << to_string(found[i].id);
    }
    EXPECT_EQ(found[0].vendor_id, 0x8086);
    EXPECT_EQ(found[0].device_id, 0x29c0);
    EXPECT_EQ(found[0].class_code, 0x060000u);
    EXPECT_FALSE(found[0].is_bridge);
    EXPECT_TRUE(found[1].is_bridge);
    EXPECT_EQ(found[1].class_code, 0x060400u);
    EXPECT_EQ(found[2].vendor_id, 0x1b36);
    EXPECT_EQ(found[2].device_id, 0x00a0);
    EXPECT_EQ(found[2].class_code, 0x00ff00u);
    EXPECT_FALSE(found[2].is_bridge);
    EXPECT_EQ(found[4].device_id, 0x00b0);
}

TEST(Enumeration, AssignsBusNumbers) {
    topology t;
    const auto found = enumerator(t.ecam, platform_params()).run();
    // Port A gets bus 1 (the first free), nothing below it: subordinate 1. Port B gets bus 2.
    EXPECT_EQ(t.port_a->primary_bus(), 0);
    EXPECT_EQ(t.port_a->secondary_bus(), 1);
    EXPECT_EQ(t.port_a->subordinate_bus(), 1);
    EXPECT_EQ(t.port_b->primary_bus(), 0);
    EXPECT_EQ(t.port_b->secondary_bus(), 2);
    EXPECT_EQ(t.port_b->subordinate_bus(), 2);
    EXPECT_EQ(found[1].secondary_bus, 1);
    EXPECT_EQ(found[1].subordinate_bus, 1);
    EXPECT_EQ(found[3].secondary_bus, 2);
    EXPECT_EQ(found[3].subordinate_bus, 2);
}

TEST(Enumeration, PlacesNonPrefetchableBarsNaturallyAlignedInTheLowWindow) {
    topology t;
    const auto found = enumerator(t.ecam, platform_params()).run();
    // Endpoint A, from the mmio32 base 0x8000_0000 (already 1 MiB aligned for port A):
    //   BAR0, 4 KiB:  0x8000_0000, cursor -> 0x8000_1000
    //   BAR2, 64 KiB: align_up(0x8000_1000, 64 KiB) = 0x8001_0000, cursor -> 0x8002_0000
    const auto& bars = found[2].bars;
    ASSERT_EQ(bars.size(), 2u);
    EXPECT_EQ(bars[0].index, 0);
    EXPECT_EQ(bars[0].address, 0x8000'0000u);
    EXPECT_EQ(bars[0].size, 4 * kib);
    EXPECT_FALSE(bars[0].is_64bit);
    EXPECT_FALSE(bars[0].prefetchable);
    EXPECT_EQ(bars[1].index, 2);
    EXPECT_EQ(bars[1].address, 0x8001'0000u);
    EXPECT_EQ(bars[1].size, 64 * kib);
    EXPECT_TRUE(bars[1].is_64bit);
    EXPECT_FALSE(bars[1].prefetchable);
    // What the function decodes is what was reported.
    EXPECT_EQ(t.ep_a->bar_address(0), 0x8000'0000u);
    EXPECT_EQ(t.ep_a->bar_address(2), 0x8001'0000u);
    // The 64-bit BAR's upper dword holds 0 (placed below 4 GiB).
    EXPECT_EQ(t.ep_a->peek(cfg::bar0 + 12, 4), 0u);
}

TEST(Enumeration, PlacesSixtyFourBitPrefetchableBarsInTheHighWindow) {
    topology t;
    const auto found = enumerator(t.ecam, platform_params()).run();
    // Endpoint B, from the mmio64 base 0x40_0000_0000:
    //   BAR0, 2 MiB:  0x40_0000_0000, cursor -> 0x40_0020_0000
    //   BAR2, 16 KiB: 0x40_0020_0000 (already 16 KiB aligned), cursor -> 0x40_0020_4000
    const auto& bars = found[4].bars;
    ASSERT_EQ(bars.size(), 2u);
    EXPECT_EQ(bars[0].address, 0x40'0000'0000u);
    EXPECT_EQ(bars[0].size, 2 * mib);
    EXPECT_TRUE(bars[0].is_64bit);
    EXPECT_TRUE(bars[0].prefetchable);
    EXPECT_EQ(bars[1].index, 2);
    EXPECT_EQ(bars[1].address, 0x40'0020'0000u);
    EXPECT_EQ(bars[1].size, 16 * kib);
    EXPECT_EQ(t.ep_b->bar_address(0), 0x40'0000'0000u);
    EXPECT_EQ(t.ep_b->bar_address(2), 0x40'0020'0000u);
    // Upper dword of BAR0 (register 0x14): 0x40.
    EXPECT_EQ(t.ep_b->peek(cfg::bar0 + 4, 4), 0x40u);
}

TEST(Enumeration, EveryBarIsAlignedAndInsideItsWindowAndItsBridgeWindow) {
    topology t;
    const auto found = enumerator(t.ecam, platform_params()).run();
    const config_space* ports[] = {t.port_a, t.port_b};
    int checked = 0;
    for (const auto& f : found) {
        if (f.id.bus == 0) continue;
        const config_space& port = *ports[f.id.bus - 1];
        for (const auto& b : f.bars) {
            SCOPED_TRACE(to_string(f.id) + " BAR" + std::to_string(b.index));
            EXPECT_EQ(b.address % b.size, 0u);
            const bool high = b.is_64bit && b.prefetchable;
            EXPECT_GE(b.address, high ? mmio64_base : mmio32_base);
            EXPECT_LE(b.address + b.size - 1, high ? mmio64_limit : mmio32_limit);
            EXPECT_TRUE(port.forwards_memory(b.address, static_cast<std::uint32_t>(b.size)));
            ++checked;
        }
    }
    EXPECT_EQ(checked, 4);
}

TEST(Enumeration, BridgeWindowsCoverExactlyTheBarsBehindThemInWholeMegabytes) {
    topology t;
    enumerator(t.ecam, platform_params()).run();
    // Port A: its BARs end at 0x8002_0000 -> rounded up to 1 MiB: 0x8010_0000, so the window is
    // 0x8000_0000..0x800f_ffff. Nothing prefetchable behind it: that window stays disabled.
    const auto a_mem = t.port_a->memory_window_nonprefetchable();
    ASSERT_TRUE(a_mem.has_value());
    EXPECT_EQ(a_mem->base, 0x8000'0000u);
    EXPECT_EQ(a_mem->limit, 0x800f'ffffu);
    EXPECT_FALSE(t.port_a->memory_window_prefetchable().has_value());
    // Port B: nothing in mmio32 (its cursor stays at 0x8010_0000): disabled. Prefetchable BARs
    // end at 0x40_0020_4000 -> 0x40_0030_0000: window 0x40_0000_0000..0x40_002f_ffff.
    EXPECT_FALSE(t.port_b->memory_window_nonprefetchable().has_value());
    const auto b_pref = t.port_b->memory_window_prefetchable();
    ASSERT_TRUE(b_pref.has_value());
    EXPECT_EQ(b_pref->base, 0x40'0000'0000u);
    EXPECT_EQ(b_pref->limit, 0x40'002f'ffffu);
    // The raw registers (PCI-to-PCI Bridge spec §3.2.5.8/9): bits 15:4 = address bits 31:20;
    // the prefetchable ones keep their read-only 64-bit type (0x1) in bits 3:0.
    EXPECT_EQ(t.port_a->peek(cfg::memory_base, 2), 0x8000u);
    EXPECT_EQ(t.port_a->peek(cfg::memory_limit, 2), 0x8000u);
    EXPECT_EQ(t.port_b->peek(cfg::prefetchable_memory_base, 2), 0x0001u);
    EXPECT_EQ(t.port_b->peek(cfg::prefetchable_memory_limit, 2), 0x0021u);
    EXPECT_EQ(t.port_b->peek(cfg::prefetchable_base_upper, 4), 0x40u);
    EXPECT_EQ(t.port_b->peek(cfg::prefetchable_limit_upper, 4), 0x40u);
    // Neither port claims the other's BARs, nor the gap after its window.
    EXPECT_FALSE(t.port_b->forwards_memory(0x8000'0000));
    EXPECT_FALSE(t.port_a->forwards_memory(0x40'0000'0000));
    EXPECT_FALSE(t.port_a->forwards_memory(0x8010'0000));
    EXPECT_FALSE(t.port_b->forwards_memory(0x40'0030'0000));
}

TEST(Enumeration, ProgramsMpsAsTheSmallerOfPlatformAndDeviceAndMrrsAsThePlatforms) {
    topology t;
    enumerator(t.ecam, platform_params()).run();
    // Platform MPS 256: endpoint A supports 128, so it and its port get 128 (one MPS per
    // hierarchy below a root port, the smallest any of them supports, or the port would send it
    // completions it cannot take); endpoint B and its port support 512 -> 256. MRRS: the
    // platform's 1024 everywhere (reset value is 512).
    EXPECT_EQ(max_payload_size(*t.ep_a), 128u);
    EXPECT_EQ(max_payload_size(*t.ep_b), 256u);
    EXPECT_EQ(max_payload_size(*t.port_a), 128u);
    EXPECT_EQ(max_payload_size(*t.port_b), 256u);
    for (const config_space* cs : {t.ep_a, t.ep_b, t.port_a, t.port_b}) {
        EXPECT_EQ(max_read_request_size(*cs), 1024u);
    }
    // Device Control keeps its other bits: Relaxed Ordering (bit 4) and No Snoop (bit 11) set at
    // reset. Endpoint B: MPS code 1 (bits 7:5), MRRS code 3 (bits 14:12):
    // 0x0010 | 0x0800 | 1 << 5 | 3 << 12 = 0x3830.
    const std::uint16_t cap = *t.ep_b->find_capability(cap_id::pci_express);
    EXPECT_EQ(t.ep_b->peek(cap + pcie_reg::device_control, 2), 0x3830u);
}

TEST(Enumeration, EnablesMemoryBusMasterAndMsix) {
    topology t;
    // MSI-X Function Mask set beforehand: enumeration clears it.
    const std::uint16_t msix_a = *t.ep_a->find_capability(cap_id::msix);
    t.ep_a->write(msix_a + msix_reg::message_control, 2, msix_reg::function_mask);
    ASSERT_TRUE(msix_function_masked(*t.ep_a));
    enumerator(t.ecam, platform_params()).run();
    // Endpoints and bridges: Memory Space (bit 1) and Bus Master (bit 2) = 0x0006. The host
    // bridge has no BARs: Bus Master only, 0x0004.
    EXPECT_EQ(t.ep_a->command(), 0x0006);
    EXPECT_EQ(t.ep_b->command(), 0x0006);
    EXPECT_EQ(t.port_a->command(), 0x0006);
    EXPECT_EQ(t.port_b->command(), 0x0006);
    EXPECT_EQ(t.hb->command(), 0x0004);
    EXPECT_TRUE(msix_enabled(*t.ep_a));
    EXPECT_FALSE(msix_function_masked(*t.ep_a));
    EXPECT_TRUE(msix_enabled(*t.ep_b));
}

TEST(Enumeration, LeavesBusMasterAndMsixAloneWhenAskedTo) {
    topology t;
    enumeration_params p = platform_params();
    p.enable_bus_master = false;
    p.enable_msix = false;
    enumerator(t.ecam, p).run();
    EXPECT_EQ(t.ep_a->command(), cfg::command_memory_space);
    EXPECT_EQ(t.port_a->command(), cfg::command_memory_space);
    EXPECT_EQ(t.hb->command(), 0);
    EXPECT_FALSE(msix_enabled(*t.ep_a));
}

TEST(Enumeration, AnExplicitCursorIsHonoured) {
    topology t;
    enumeration_params p = platform_params();
    p.mmio32.next = 0x9000'0800;  // inside the window, not 1 MiB aligned
    enumerator(t.ecam, p).run();
    // Port A aligns the cursor to 1 MiB first: 0x9010_0000; BAR0 there, BAR2 at 0x9011_0000.
    EXPECT_EQ(t.ep_a->bar_address(0), 0x9010'0000u);
    EXPECT_EQ(t.ep_a->bar_address(2), 0x9011'0000u);
    EXPECT_EQ(t.port_a->memory_window_nonprefetchable()->base, 0x9010'0000u);
}

// --- errors ---

TEST(Enumeration, WindowTooSmallThrowsNamingTheBarAndTheWindow) {
    topology t;
    enumeration_params p = platform_params();
    // 64 KiB of mmio32: BAR0 (4 KiB) fits at 0x8000_0000; BAR2 (64 KiB) would go at
    // 0x8001_0000..0x8001_ffff, past the limit 0x8000_ffff.
    p.mmio32.limit = mmio32_base + 64 * kib - 1;
    try {
        enumerator(t.ecam, p).run();
        FAIL() << "expected std::runtime_error";
    } catch (const std::runtime_error& e) {
        EXPECT_THAT(e.what(), AllOf(HasSubstr("BAR2"), HasSubstr("01:00.0"), HasSubstr("65536"),
                                    HasSubstr("does not fit"), HasSubstr("0x80000000-0x8000ffff")));
    }
}

TEST(Enumeration, HighWindowTooSmallThrows) {
    topology t;
    enumeration_params p = platform_params();
    p.mmio64.limit = mmio64_base + 1 * mib - 1;  // endpoint B's 2 MiB BAR0 does not fit
    EXPECT_THROW(enumerator(t.ecam, p).run(), std::runtime_error);
}

// --- scanning rules ---

// A bus 0 of hand-made functions, to look at the scan alone.
config_space plain_function(std::uint16_t device_id, bool multifunction) {
    function_identity id;
    id.vendor_id = 0x1234;
    id.device_id = device_id;
    id.class_code = 0x058000;
    id.multifunction = multifunction;
    return config_space(header_layout::type0, id);
}

TEST(Enumeration, ScansFunctionsOneToSevenOnlyOfMultiFunctionDevices) {
    fake_ecam ecam;
    // 00:03: Header Type bit 7 set; functions 0, 2 and 7 present, 1 absent (a gap is allowed).
    ecam.add_bus0(3, 0, plain_function(0x30, true));
    ecam.add_bus0(3, 2, plain_function(0x32, false));
    ecam.add_bus0(3, 7, plain_function(0x37, false));
    // 00:04: single-function; a function 1 that answers anyway must not be scanned.
    ecam.add_bus0(4, 0, plain_function(0x40, false));
    ecam.add_bus0(4, 1, plain_function(0x41, false));
    // 00:05: function 0 absent, so function 1 is never looked at (PCI: fn 0 must exist).
    ecam.add_bus0(5, 1, plain_function(0x51, false));
    const auto found = enumerator(ecam, platform_params()).run();
    ASSERT_EQ(found.size(), 4u);
    EXPECT_EQ(found[0].id, (routing_id{0, 3, 0}));
    EXPECT_EQ(found[1].id, (routing_id{0, 3, 2}));
    EXPECT_EQ(found[2].id, (routing_id{0, 3, 7}));
    EXPECT_EQ(found[3].id, (routing_id{0, 4, 0}));
    EXPECT_EQ(found[2].device_id, 0x37);
}

TEST(Enumeration, MultiFunctionDeviceBehindARootPort) {
    fake_ecam ecam;
    config_space& port = ecam.add_root_port(1, make_root_port({}));
    endpoint_params f0;
    f0.identity.multifunction = true;
    f0.bars = {bar_params{0, 4 * kib, false, false}};
    f0.msix_vectors = 0;
    endpoint_params f1 = f0;
    f1.identity.multifunction = false;
    f1.identity.device_id = 0x0051;
    // Both have ARI (make_endpoint's default) and the port forwards it, so the scan follows the
    // ARI Next Function Number chain: function 0 names function 1, which ends it.
    f0.ari_next_function = 1;
    config_space& fn0 = ecam.add_behind(port, 0, make_endpoint(f0));
    config_space& fn1 = ecam.add_behind(port, 1, make_endpoint(f1));
    const auto found = enumerator(ecam, platform_params()).run();
    ASSERT_EQ(found.size(), 3u);
    EXPECT_EQ(found[1].id, (routing_id{1, 0, 0}));
    EXPECT_EQ(found[2].id, (routing_id{1, 0, 1}));
    EXPECT_EQ(found[2].device_id, 0x0051);
    // One 4 KiB BAR each, one after the other: 0x8000_0000 and 0x8000_1000; the window rounds
    // 0x8000_2000 up to 0x8010_0000.
    EXPECT_EQ(fn0.bar_address(0), 0x8000'0000u);
    EXPECT_EQ(fn1.bar_address(0), 0x8000'1000u);
    EXPECT_EQ(port.memory_window_nonprefetchable()->limit, 0x800f'ffffu);
}

TEST(Enumeration, FunctionWithoutBarsIsSkippedAndNotGivenMemorySpace) {
    fake_ecam ecam;
    config_space& port = ecam.add_root_port(1, make_root_port({}));
    endpoint_params none;
    none.bars = {};
    none.msix_vectors = 0;
    config_space& ep = ecam.add_behind(port, 0, make_endpoint(none));
    const auto found = enumerator(ecam, platform_params()).run();
    ASSERT_EQ(found.size(), 2u);
    // All six BARs read back 0 after the all-ones write: none reported, all still 0.
    EXPECT_TRUE(found[1].bars.empty());
    for (int i = 0; i < 6; ++i) EXPECT_EQ(ep.peek(cfg::bar0 + 4 * i, 4), 0u) << "BAR" << i;
    // Bus Master, but no Memory Space without a BAR; the port's windows stay disabled.
    EXPECT_EQ(ep.command(), cfg::command_bus_master);
    EXPECT_FALSE(port.memory_window_nonprefetchable().has_value());
    EXPECT_FALSE(port.memory_window_prefetchable().has_value());
}

TEST(Enumeration, EmptyRootPortGetsABusAndNoWindows) {
    fake_ecam ecam;
    config_space& a = ecam.add_root_port(1, make_root_port({}));
    config_space& b = ecam.add_root_port(2, make_root_port({}));
    ecam.add_behind(b, 0, endpoint_a());
    enumerator(ecam, platform_params()).run();
    EXPECT_EQ(a.secondary_bus(), 1);
    EXPECT_EQ(a.subordinate_bus(), 1);
    EXPECT_FALSE(a.memory_window_nonprefetchable().has_value());
    EXPECT_EQ(b.secondary_bus(), 2);
    // Endpoint A behind the second port starts from the window base as before.
    EXPECT_EQ(b.memory_window_nonprefetchable()->base, 0x8000'0000u);
}

TEST(Enumeration, EmptyHostFindsNothing) {
    fake_ecam ecam;
    const auto found = enumerator(ecam, platform_params()).run();
    EXPECT_TRUE(found.empty());
    // One Vendor ID read per device number of bus 0, nothing written.
    EXPECT_EQ(ecam.reads, 32u);
    EXPECT_EQ(ecam.writes, 0u);
}

// --- capability lookup through configuration reads ---

TEST(Enumeration, FindsCapabilitiesThroughConfigReads) {
    topology t;
    enumerator(t.ecam, platform_params()).run();
    const routing_id a{1, 0, 0};
    EXPECT_EQ(enumerator::find_capability(t.ecam, a, cap_id::msix),
              *t.ep_a->find_capability(cap_id::msix));
    EXPECT_EQ(enumerator::find_capability(t.ecam, a, cap_id::pci_express),
              *t.ep_a->find_capability(cap_id::pci_express));
    EXPECT_EQ(enumerator::find_capability(t.ecam, a, cap_id::msi), 0);
    // AER is the first extended capability, at 0x100; ARI follows it.
    EXPECT_EQ(enumerator::find_ext_capability(t.ecam, a, ext_cap_id::aer), 0x100);
    EXPECT_EQ(enumerator::find_ext_capability(t.ecam, a, ext_cap_id::ari),
              *t.ep_a->find_ext_capability(ext_cap_id::ari));
    EXPECT_EQ(enumerator::find_ext_capability(t.ecam, a, ext_cap_id::sriov), 0);
    // The host bridge has no capability list; an absent function reads all ones.
    EXPECT_EQ(enumerator::find_capability(t.ecam, {0, 0, 0}, cap_id::pci_express), 0);
    EXPECT_EQ(enumerator::find_ext_capability(t.ecam, {0, 0, 0}, ext_cap_id::aer), 0);
    EXPECT_EQ(enumerator::find_ext_capability(t.ecam, {0, 9, 0}, ext_cap_id::aer), 0);
}

}  // namespace
}  // namespace iovsim::pcie
