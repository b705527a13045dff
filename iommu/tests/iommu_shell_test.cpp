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
#include "models/core/sc_glue.h"
#include "models/pcie/tlp.h"

namespace iovsim::iommu {
namespace {

constexpr std::uint64_t regs_base = 0xfed9'0000;
constexpr std::uint16_t device = 0x0100;  // 01:00.0

struct irq_recorder : sc_core::sc_module {
    tlm_utils::simple_target_socket<irq_recorder> socket;
    struct message {
        std::uint64_t address;
        std::uint32_t data;
    };
    std::vector<message> got;
    explicit irq_recorder(const sc_core::sc_module_name& n) : sc_module(n), socket("socket") {
        socket.register_b_transport(this, &irq_recorder::b_transport);
    }
    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time&) {
        std::uint32_t d = 0;
        std::memcpy(&d, t.get_data_ptr(), 4);
        got.push_back({t.get_address(), d});
        t.set_response_status(tlm::TLM_OK_RESPONSE);
    }
};

struct cpu_and_device : sc_core::sc_module, host_access {
    tlm_utils::simple_initiator_socket<cpu_and_device> to_regs, to_mem, dma, irq;
    std::function<void(cpu_and_device&)> program;
    sc_core::sc_time local;

    SC_HAS_PROCESS(cpu_and_device);
    explicit cpu_and_device(const sc_core::sc_module_name& n)
        : sc_module(n), to_regs("to_regs"), to_mem("to_mem"), dma("dma"), irq("irq") {
        SC_THREAD(run);
    }
    void run() { program(*this); }

    tlm::tlm_response_status access(tlm_utils::simple_initiator_socket<cpu_and_device>& s,
                                    tlm::tlm_command cmd, std::uint64_t a, void* d, unsigned n,
                                    std::uint16_t requester = 0) {
        tlm::tlm_generic_payload t;
        t.set_command(cmd);
        t.set_address(a);
        t.set_data_ptr(static_cast<unsigned char*>(d));
        t.set_data_length(n);
        t.set_streaming_width(n);
        t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        pcie::tlp_extension ext;
        ext.requester = pcie::routing_id::from_value(requester);
        t.set_extension(&ext);
        sc_core::sc_time delay = local;
        s->b_transport(t, delay);
        t.clear_extension(&ext);
        local = sc_core::SC_ZERO_TIME;
        sc_core::wait(delay);  // quantum 0: synchronize after every transaction
        return t.get_response_status();
    }
    bool is_reg(std::uint64_t a) const { return a >= regs_base && a < regs_base + 0x1000; }
    std::uint32_t read32(std::uint64_t a) override {
        std::uint32_t v = 0;
        access(is_reg(a) ? to_regs : to_mem, tlm::TLM_READ_COMMAND, a, &v, 4);
        return v;
    }
    void write32(std::uint64_t a, std::uint32_t v) override {
        access(is_reg(a) ? to_regs : to_mem, tlm::TLM_WRITE_COMMAND, a, &v, 4);
    }
    void write_mem(std::uint64_t a, const void* d, std::uint32_t n) override {
        access(to_mem, tlm::TLM_WRITE_COMMAND, a, const_cast<void*>(d), n);
    }
    tick_t now() const override { return now_ticks(local); }
    void spend(tick_t t) override { sc_core::wait(to_sc_time(t)); }
};

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
