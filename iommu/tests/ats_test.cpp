// ATS through the IOMMU's SystemC shell, each case in its own elaboration: a CPU thread runs the
// host driver over the `regs` socket, a device issues Translation Requests and Translated
// Requests on `in`. Expected completion bytes follow PCIe §10.2.2 (DW0 = translated address
// 63:32, DW1 = address 31:12 | S 11 | W 1 | R 0, each DW most significant byte first).
#include <gtest/gtest.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <array>
#include <cstring>
#include <functional>
#include <systemc>
#include <vector>

#include "iommu/driver.h"
#include "iommu/iommu.h"
#include "iommu/tests/shell_harness.h"
#include "models/core/sc_glue.h"
#include "models/pcie/ats_format.h"
#include "models/pcie/tlp.h"

namespace iovsim::iommu {
namespace {

using testing::cpu_and_device;
using testing::irq_recorder;

using testing::regs_base;
constexpr std::uint16_t device = 0x0100;        // 01:00.0, ATS
constexpr std::uint16_t plain_device = 0x0200;  // 02:00.0, no ATS permission
constexpr tick_t ns = ticks_per_ns;
constexpr auto tr_req = pcie::address_type::translation_request;
constexpr auto translated = pcie::address_type::translated;

// A device's ATC as the IOMMU sees it: records each Invalidate Request and when it arrived.
struct fake_atc : pcie::ats::ats_invalidation_target {
    struct request {
        pcie::ats::range range;
        tick_t at;
    };
    std::vector<request> got;
    tick_t ats_invalidate(const pcie::ats::payload& p, tick_t at) override {
        got.push_back({pcie::ats::decode_invalidate(p.data()), at});
        return at + 20 * ns;  // the device answers 20 ns after the request arrived
    }
};

struct bench {
    mem::dram_map map = [] {
        mem::dram_map m;
        m.add({0, 8ull << 30, 0});
        return m;
    }();
    mem::memory memory{"memory", map};
    iommu unit{"iommu", memory};
    irq_recorder apic{"apic"};
    cpu_and_device cpu{"cpu"};
    driver drv{cpu, memory.store()};
    bench() {
        cpu.to_regs.bind(unit.regs);
        cpu.to_mem.bind(memory.cpu_socket);
        cpu.dma.bind(unit.in);
        cpu.irq.bind(unit.irq_in);
        unit.out.bind(memory.device_socket);
        unit.irq_out.bind(apic.socket);
    }
};

constexpr std::uint64_t iova = 0x10000, hpa = 0x1'0000'0000;

TEST(IommuAts, TranslationCompletionsAndTranslatedRequests) {
    bench b;
    bool done = false;
    b.cpu.program = [&](cpu_and_device& c) {
        b.drv.init();
        const std::uint16_t did = b.drv.create_domain();
        b.drv.map_pages(did, iova, hpa, page_4k, page_4k, perm_rw);
        b.drv.map_pages(did, iova + page_4k, hpa + page_4k, page_4k, page_4k, perm_r);
        b.drv.attach(device, did, true);
        b.drv.attach(plain_device, did);
        EXPECT_TRUE(b.drv.device_tlb(device));
        EXPECT_FALSE(b.drv.device_tlb(plain_device));

        // Mapped read-write page: translated 0x1_0000_0000, R and W: 00000001 00000003.
        std::array<unsigned char, 8> e{};
        EXPECT_EQ(c.access(c.dma, tlm::TLM_READ_COMMAND, iova, e.data(), 8, device, tr_req),
                  tlm::TLM_OK_RESPONSE);
        EXPECT_EQ(e, (std::array<unsigned char, 8>{0, 0, 0, 1, 0, 0, 0, 3}));
        // Read-only page: 0x1_0000_1000 | R: 00000001 00001001.
        EXPECT_EQ(
            c.access(c.dma, tlm::TLM_READ_COMMAND, iova + page_4k, e.data(), 8, device, tr_req),
            tlm::TLM_OK_RESPONSE);
        EXPECT_EQ(e, (std::array<unsigned char, 8>{0, 0, 0, 1, 0, 0, 0x10, 0x01}));
        // Unmapped page: a successful completion with R = W = 0, and no fault.
        e.fill(0xff);
        EXPECT_EQ(c.access(c.dma, tlm::TLM_READ_COMMAND, 0x40000, e.data(), 8, device, tr_req),
                  tlm::TLM_OK_RESPONSE);
        EXPECT_EQ(e, (std::array<unsigned char, 8>{}));
        EXPECT_EQ(b.unit.remapper().stats().faults, 0u);
        EXPECT_EQ(b.unit.ats_stats().translation_completions, 3u);
        // Three requests, three IOTLB misses (each walked); none hit yet.
        EXPECT_EQ(b.unit.remapper().stats().iotlb_misses, 3u);

        // A translated write goes to its own (host) address with no IOTLB lookup.
        const std::uint64_t lookups =
            b.unit.remapper().stats().iotlb_hits + b.unit.remapper().stats().iotlb_misses;
        std::uint32_t v = 0xc0ffee;
        EXPECT_EQ(c.access(c.dma, tlm::TLM_WRITE_COMMAND, hpa + 0x40, &v, 4, device, translated),
                  tlm::TLM_OK_RESPONSE);
        std::uint32_t back = 0;
        b.memory.store().read_u32(hpa + 0x40, back);
        EXPECT_EQ(back, 0xc0ffeeu);
        EXPECT_EQ(b.unit.remapper().stats().iotlb_hits + b.unit.remapper().stats().iotlb_misses,
                  lookups);
        EXPECT_EQ(b.unit.ats_stats().translated_passed, 1u);

        // A device whose context entry is TT = 00: translated requests and translation requests
        // are blocked with fault 0xD and memory is untouched.
        const std::uint64_t writes = b.memory.timing().stats().writes;
        v = 0xbad;
        EXPECT_EQ(
            c.access(c.dma, tlm::TLM_WRITE_COMMAND, hpa + 0x80, &v, 4, plain_device, translated),
            tlm::TLM_ADDRESS_ERROR_RESPONSE);
        b.memory.store().read_u32(hpa + 0x80, back);
        EXPECT_EQ(back, 0u);
        EXPECT_EQ(b.memory.timing().stats().writes, writes);
        EXPECT_EQ(c.access(c.dma, tlm::TLM_READ_COMMAND, iova, e.data(), 8, plain_device, tr_req),
                  tlm::TLM_ADDRESS_ERROR_RESPONSE);
        EXPECT_EQ(b.unit.remapper().stats().faults_of(fault_reason::translation_blocked), 2u);
        EXPECT_EQ(c.read32(regs_base + reg::FRCD_REG + 12) & 0xff, 0x0du);  // FR of record 0
        EXPECT_EQ(b.unit.ats_stats().refused, 2u);
        // A Translation Request that is not an 8-byte read is malformed.
        EXPECT_EQ(c.access(c.dma, tlm::TLM_READ_COMMAND, iova, e.data(), 4, device, tr_req),
                  tlm::TLM_COMMAND_ERROR_RESPONSE);
        done = true;
    };
    sc_core::sc_start();
    EXPECT_TRUE(done);
}

TEST(IommuAts, StrictUnmapInvalidatesTheDeviceTlbBeforeTheWaitCompletes) {
    bench b;
    fake_atc atc;
    b.unit.attach_ats_device(device, atc);
    bool done = false;
    b.cpu.program = [&](cpu_and_device& c) {
        b.drv.init();
        const std::uint16_t did = b.drv.create_domain();
        b.drv.map_pages(did, iova, hpa, 4 * page_4k, page_4k, perm_rw);
        b.drv.attach(device, did, true);
        atc.got.clear();  // attach's context invalidation sends no Invalidate Request anyway

        const tick_t t0 = c.now();
        b.drv.unmap(did, iova + page_4k, page_4k, unmap_policy::strict);
        const tick_t t1 = c.now();
        // One Invalidate Request for exactly the unmapped page, arriving after the IQT write.
        ASSERT_EQ(atc.got.size(), 1u);
        EXPECT_EQ(atc.got[0].range.base, iova + page_4k);
        EXPECT_EQ(atc.got[0].range.size, page_4k);
        EXPECT_GT(atc.got[0].at, t0);
        // The wait completes only once the completion is back: request arrival + 20 ns device
        // + 250 ns (ats_message_latency) back, before the driver saw the status write.
        EXPECT_GE(t1, atc.got[0].at + 20 * ns + 250 * ns);
        EXPECT_EQ(b.unit.registers().stats().dev_tlb_invalidations, 1u);
        EXPECT_EQ(b.drv.stats().dev_tlb_invalidations, 1u);
        // The page now translates to nothing.
        std::array<unsigned char, 8> e{};
        e.fill(0xff);
        c.access(c.dma, tlm::TLM_READ_COMMAND, iova + page_4k, e.data(), 8, device, tr_req);
        EXPECT_EQ(e, (std::array<unsigned char, 8>{}));

        // A domain-selective flush invalidates every address of the device (size 0: 2^64).
        b.drv.invalidate_iotlb_domain(did);
        ASSERT_EQ(atc.got.size(), 2u);
        EXPECT_EQ(atc.got[1].range.size, 0u);
        done = true;
    };
    sc_core::sc_start();
    EXPECT_TRUE(done);
}

TEST(IommuAts, DeviceTlbNeedsEcapDt) {
    mem::dram_map map;
    map.add({0, 8ull << 30, 0});
    mem::memory memory("memory", map);
    iommu_params p;
    p.regs.device_tlb = false;
    iommu unit("iommu", memory, p);
    irq_recorder apic("apic");
    cpu_and_device cpu("cpu");
    cpu.to_regs.bind(unit.regs);
    cpu.to_mem.bind(memory.cpu_socket);
    cpu.dma.bind(unit.in);
    cpu.irq.bind(unit.irq_in);
    unit.out.bind(memory.device_socket);
    unit.irq_out.bind(apic.socket);
    driver drv(cpu, memory.store());
    bool done = false;
    cpu.program = [&](cpu_and_device&) {
        drv.init();
        EXPECT_EQ(drv.ecap() & 4, 0u);  // ECAP.DT clear
        const std::uint16_t did = drv.create_domain();
        EXPECT_THROW(drv.attach(device, did, true), std::runtime_error);
        done = true;
    };
    sc_core::sc_start();
    EXPECT_TRUE(done);
}

}  // namespace
}  // namespace iovsim::iommu
