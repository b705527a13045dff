// The IOMMU's SystemC shell in one elaboration: a CPU thread runs the host driver over the
// `regs` socket (and memory's CPU socket), then device requests go through `in`: a DMA to a
// mapped address lands in memory at the translated address; one to an unmapped address is
// aborted with a fault record, a counter and the fault event message, and memory is untouched;
// an interrupt through a posted-format IRTE sets PIR and ON in the descriptor in memory and
// sends the notification vector.
#include <gtest/gtest.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <cstring>
#include <functional>
#include <systemc>
#include <vector>

#include "iommu/driver.h"
#include "iommu/iommu.h"
#include "iommu/tests/shell_harness.h"
#include "models/core/sc_glue.h"
#include "models/pcie/tlp.h"

namespace iovsim::iommu {
namespace {

using testing::cpu_and_device;
using testing::irq_recorder;

using testing::regs_base;
constexpr std::uint16_t device = 0x0100;  // 01:00.0

TEST(IommuShell, DmaThroughTranslationFaultsAndPostedInterrupts) {
    mem::dram_map map;
    map.add({0, 8ull << 30, 0});
    mem::memory memory("memory", map);
    iommu unit("iommu", memory);
    irq_recorder apic("apic");
    cpu_and_device cpu("cpu");
    cpu.to_regs.bind(unit.regs);
    cpu.to_mem.bind(memory.cpu_socket);
    cpu.dma.bind(unit.in);
    cpu.irq.bind(unit.irq_in);
    unit.out.bind(memory.device_socket);
    unit.irq_out.bind(apic.socket);

    driver drv(cpu, memory.store());
    constexpr std::uint64_t iova = 0x10000, hpa = 0x1'0000'0000, pid = 0x6000'0040;
    bool done = false;
    cpu.program = [&](cpu_and_device& c) {
        // Before TE: requests pass untranslated.
        std::uint8_t probe[4] = {1, 2, 3, 4};
        EXPECT_EQ(c.access(c.dma, tlm::TLM_WRITE_COMMAND, 0x5000'0000, probe, 4, device),
                  tlm::TLM_OK_RESPONSE);
        EXPECT_EQ(unit.untranslated_while_disabled(), 1u);

        drv.init();
        c.write32(regs_base + reg::FEDATA_REG, 0x77);
        c.write32(regs_base + reg::FEADDR_REG, 0xfee0'5000);
        c.write32(regs_base + reg::FECTL_REG, 0);  // unmask the fault event
        const std::uint16_t did = drv.create_domain();
        drv.map(did, iova, hpa, page_4k);
        drv.attach(device, did);

        // A mapped write lands at the translated address.
        std::vector<std::uint8_t> data(64);
        for (unsigned i = 0; i < 64; ++i) data[i] = static_cast<std::uint8_t>(0xa0 + i);
        EXPECT_EQ(c.access(c.dma, tlm::TLM_WRITE_COMMAND, iova + 0x40, data.data(), 64, device),
                  tlm::TLM_OK_RESPONSE);
        std::vector<std::uint8_t> back(64);
        memory.debug_read(hpa + 0x40, back.data(), 64);
        EXPECT_EQ(back, data);
        EXPECT_EQ(unit.remapper().stats().iotlb_misses, 1u);

        // An unmapped write faults: error response, a record, the event, memory untouched.
        const std::uint64_t pages = memory.store().pages_touched();
        const std::uint64_t writes = memory.timing().stats().writes;
        EXPECT_EQ(c.access(c.dma, tlm::TLM_WRITE_COMMAND, 0x20000, data.data(), 64, device),
                  tlm::TLM_ADDRESS_ERROR_RESPONSE);
        EXPECT_EQ(memory.store().pages_touched(), pages);
        EXPECT_EQ(memory.timing().stats().writes, writes);
        EXPECT_EQ(unit.remapper().stats().faults_of(fault_reason::write_not_permitted), 1u);
        EXPECT_EQ(c.read32(regs_base + reg::FSTS_REG), reg::fsts_ppf);  // FRI = 0
        const std::uint32_t frcd_hi = c.read32(regs_base + reg::FRCD_REG + 12);
        EXPECT_EQ(frcd_hi >> 31, 1u);      // F
        EXPECT_EQ(frcd_hi >> 30 & 1, 0u);  // T = 0: a write
        EXPECT_EQ(frcd_hi & 0xff, 0x05u);  // FR: write not permitted (bits 103:96)
        EXPECT_EQ(c.read32(regs_base + reg::FRCD_REG + 8) & 0xffff, device);  // SID
        EXPECT_EQ(c.read32(regs_base + reg::FRCD_REG), 0x20000u);             // FI
        ASSERT_EQ(apic.got.size(), 1u);
        EXPECT_EQ(apic.got[0].address, 0xfee0'5000u);
        EXPECT_EQ(apic.got[0].data, 0x77u);

        // Posted interrupt: descriptor with NV 0xf2, NDST 3; IRTE 7 posts vector 0x45 there.
        const std::uint8_t nv = 0xf2;
        memory.store().write(pid + vtd::pid_nv_byte, &nv, 1);
        memory.store().write_u32(pid + vtd::pid_ndst_byte, 3);
        drv.setup_interrupt_remapping(7);
        drv.set_irte(7, make_posted_irte(pid, 0x45));
        std::uint32_t msg = 0;
        c.access(c.irq, tlm::TLM_WRITE_COMMAND, make_remappable_msi_address(7), &msg, 4, device);
        std::uint64_t pir1 = 0, on_word = 0;
        memory.store().read_u64(pid + 8, pir1);  // PIR bits 127:64 hold vector 0x45 (bit 5)
        memory.store().read_u64(pid + 32, on_word);
        EXPECT_EQ(pir1, 1ull << (0x45 - 64));
        EXPECT_EQ(on_word & 1, 1u);  // ON (bit 256)
        ASSERT_EQ(apic.got.size(), 2u);
        EXPECT_EQ(apic.got[1].address, 0xfee0'3000u);  // NDST 3
        EXPECT_EQ(apic.got[1].data, 0xf2u);            // NV
        EXPECT_EQ(unit.interrupts().stats().posted, 1u);
        done = true;
    };
    sc_core::sc_start();
    EXPECT_TRUE(done);
}

}  // namespace
}  // namespace iovsim::iommu
