// The guest e1000 driver against the device model, plain C++: a direct guest_context stands in
// for the vCPU (guest memory is the sparse store behind the VM's EPT; every MMIO access is a
// trapped exit straight into the device, counted). Expected register values come from Linux's
// e1000 (IMS_ENABLE_MASK = RXT0 | TXDW | RXDMT0 | RXSEQ | LSC) and the ring sizes.
#include "models/emu-nic/e1000_driver.h"

#include <gtest/gtest.h>

#include <numeric>
#include <stdexcept>

#include "models/cpu/ept.h"
#include "models/cpu/posted_interrupt.h"
#include "models/emu-nic/e1000_device.h"
#include "models/mem/sparse_store.h"

namespace iovsim::emunic {
namespace {

constexpr std::uint64_t ram_hpa = 0x1'0000'0000;
constexpr std::uint64_t ram_size = 4 << 20;
constexpr std::uint64_t bar0 = 0xfebc'0000;

class direct_guest : public cpu::guest_context {
public:
    direct_guest(mem::sparse_store& s, e1000_device& d) : m_store(s), m_dev(d) {}
    void read(std::uint64_t gpa, void* dst, std::uint32_t len) override {
        if (!m_store.read(ram_hpa + gpa, dst, len)) throw std::runtime_error("bad read");
    }
    void write(std::uint64_t gpa, const void* src, std::uint32_t len) override {
        if (!m_store.write(ram_hpa + gpa, src, len)) throw std::runtime_error("bad write");
    }
    std::uint32_t mmio_read32(std::uint64_t gpa) override {
        ++mmio_exits;
        std::uint64_t v = 0;
        m_dev.read(gpa - bar0, 4, v, 0);
        return static_cast<std::uint32_t>(v);
    }
    void mmio_write32(std::uint64_t gpa, std::uint32_t value) override {
        ++mmio_exits;
        m_dev.write(gpa - bar0, 4, value, 0);
    }
    void mmio_write64(std::uint64_t, std::uint64_t) override { throw std::logic_error("unused"); }
    std::uint32_t pio_in(std::uint16_t, unsigned) override { throw std::logic_error("unused"); }
    void pio_out(std::uint16_t, unsigned, std::uint32_t) override {
        throw std::logic_error("unused");
    }
    void compute(std::uint64_t) override {}
    void hypercall() override {}
    void wait_for_interrupt(std::uint8_t) override {
        if (irqs == 0) throw std::logic_error("waiting for an interrupt that never comes");
        --irqs;
    }
    void eoi() override { ++eois; }
    void set_packet(std::uint64_t) override {}
    tick_t now() const override { return 0; }
    unsigned vm_id() const override { return 0; }
    unsigned vcpu_id() const override { return 0; }

    unsigned mmio_exits = 0, eois = 0, irqs = 0;

private:
    mem::sparse_store& m_store;
    e1000_device& m_dev;
};

struct driver_fixture : ::testing::Test {
    mem::sparse_store store{8ull << 30};
    cpu::sparse_store_memory memory{store};
    cpu::ept map;
    std::unique_ptr<e1000_device> dev;
    std::unique_ptr<direct_guest> g;
    std::vector<std::vector<std::uint8_t>> tap;
    e1000_driver_params dp;

    void SetUp() override {
        map.map_ram(0, ram_hpa, ram_size);
        dev = std::make_unique<e1000_device>(e1000_params{}, map, memory);
        g = std::make_unique<direct_guest>(store, *dev);
        dev->set_tap_output(
            [this](const std::vector<std::uint8_t>& f, tick_t) { tap.push_back(f); });
        dev->set_irq([this](tick_t) { ++g->irqs; });
        dp.bar0 = bar0;
        dp.dma_base = 0x10'0000;
    }
    static std::vector<std::uint8_t> frame(std::size_t n, std::uint8_t seed) {
        std::vector<std::uint8_t> f(n);
        std::iota(f.begin(), f.end(), seed);
        const std::uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};  // the device's
        std::copy(mac, mac + 6, f.begin());
        return f;
    }
};

TEST_F(driver_fixture, OpenProgramsTheDevice) {
    e1000_driver drv(dp);
    drv.open(*g);
    EXPECT_EQ(dev->peek(reg::tdbal), 0x10'0000u);
    EXPECT_EQ(dev->peek(reg::tdlen), 128u);  // 8 descriptors x 16 bytes
    // RX ring right after the TX ring: 0x100000 + 128.
    EXPECT_EQ(dev->peek(reg::rdbal), 0x10'0080u);
    EXPECT_EQ(dev->peek(reg::rdlen), 128u);
    EXPECT_EQ(dev->peek(reg::rdh), 0u);
    EXPECT_EQ(dev->peek(reg::rdt), 7u);  // 8 descriptors, one kept empty
    EXPECT_EQ(dev->peek(reg::rctl) & rctl::en, rctl::en);
    EXPECT_EQ(dev->peek(reg::tctl) & tctl::en, tctl::en);
    EXPECT_EQ(dev->peek(reg::ims), 0x9du);  // 0x80 | 0x01 | 0x10 | 0x08 | 0x04
    EXPECT_EQ(g->irqs, 0u);
    // Layout: TX buffers after the RX ring (0x100100), RX buffers after 8 x 2048 of them.
    EXPECT_EQ(drv.tx_buffer(1), 0x10'0100u + 2048);
    EXPECT_EQ(drv.rx_buffer(0), 0x10'0100u + 8 * 2048);
    EXPECT_EQ(drv.dma_bytes(), 0x100u + 16 * 2048);
}

TEST_F(driver_fixture, RoundTripCostsAtLeastFourExits) {
    e1000_driver drv(dp);
    drv.open(*g);
    g->mmio_exits = 0;
    const auto f = frame(100, 1);
    ASSERT_TRUE(drv.xmit(*g, f));
    EXPECT_EQ(g->mmio_exits, 1u);  // TDT
    ASSERT_EQ(tap.size(), 1u);
    EXPECT_EQ(tap[0], f);
    const auto reply = frame(90, 7);
    dev->receive(reply, 0);
    // One interrupt: TXDW raised the line; RXT0 joined it while still asserted.
    EXPECT_EQ(g->irqs, 1u);
    const auto got = drv.wait_and_handle(*g);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], reply);
    // ICR, IMC, STATUS (flush), RDT (refill), IMS, STATUS (flush): 6 more, plus one EOI.
    EXPECT_EQ(g->mmio_exits, 1u + 6);
    EXPECT_EQ(g->eois, 1u);
    EXPECT_EQ(drv.stats().tx_cleaned, 1u);
    EXPECT_EQ(dev->peek(reg::rdt), 0u);  // refilled descriptor 7: tail wrapped to 0
    EXPECT_EQ(g->irqs, 0u);
}

TEST_F(driver_fixture, TxRingFullAndWrapAround) {
    e1000_driver drv(dp);
    drv.open(*g);
    // 8 descriptors, one kept empty: 7 frames fit before the driver has cleaned any.
    for (int i = 0; i < 7; ++i) ASSERT_TRUE(drv.xmit(*g, frame(64, i)));
    EXPECT_FALSE(drv.xmit(*g, frame(64, 99)));
    EXPECT_EQ(drv.stats().tx_busy, 1u);
    drv.wait_and_handle(*g);
    EXPECT_EQ(drv.stats().tx_cleaned, 7u);
    // 13 more: the ring wraps; every frame reaches the tap in order, byte for byte.
    for (int i = 7; i < 20; ++i) {
        ASSERT_TRUE(drv.xmit(*g, frame(64, i)));
        if (g->irqs > 0) drv.wait_and_handle(*g);
    }
    ASSERT_EQ(tap.size(), 20u);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(tap[i], frame(64, i)) << i;
    EXPECT_EQ(dev->peek(reg::tdh), 20u % 8);
    // RX wraps too: 20 frames, one at a time.
    for (int i = 0; i < 20; ++i) {
        dev->receive(frame(80, i), 0);
        const auto got = drv.wait_and_handle(*g);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0], frame(80, i));
    }
    EXPECT_EQ(dev->stats().rx_missed.value(), 0u);
}

TEST_F(driver_fixture, InterruptThatIsNotOursAndBadParameters) {
    e1000_driver drv(dp);
    drv.open(*g);
    g->irqs = 1;  // a shared line: ICR reads 0
    EXPECT_TRUE(drv.wait_and_handle(*g).empty());
    EXPECT_EQ(drv.stats().not_ours, 1u);
    EXPECT_THROW(drv.xmit(*g, {}), std::invalid_argument);
    EXPECT_THROW(drv.xmit(*g, std::vector<std::uint8_t>(2049)), std::invalid_argument);
    e1000_driver_params bad = dp;
    bad.tx_descriptors = 12;
    EXPECT_THROW(e1000_driver{bad}, std::invalid_argument);
    bad = dp;
    bad.rx_descriptors = 0;
    EXPECT_THROW(e1000_driver{bad}, std::invalid_argument);
    bad = dp;
    bad.rx_buffer_bytes = 3000;  // RCTL has no such size
    EXPECT_THROW(e1000_driver{bad}, std::invalid_argument);
    bad = dp;
    bad.mtu = 67;
    EXPECT_THROW(e1000_driver{bad}, std::invalid_argument);
}

TEST(E1000RxBufferLen, LinuxsChoiceForTheMtu) {
    // e1000_change_mtu (2.6-era): max_frame = mtu + 18, the smallest of 2048, 4096, 8192, 16384
    // holding it.
    EXPECT_EQ(e1000_rx_buffer_len(1500), 2048u);
    EXPECT_EQ(e1000_rx_buffer_len(2030), 2048u);  // 2048 exactly
    EXPECT_EQ(e1000_rx_buffer_len(2031), 4096u);
    EXPECT_EQ(e1000_rx_buffer_len(4078), 4096u);
    EXPECT_EQ(e1000_rx_buffer_len(4079), 8192u);
    EXPECT_EQ(e1000_rx_buffer_len(8174), 8192u);
    EXPECT_EQ(e1000_rx_buffer_len(8175), 16384u);
    EXPECT_EQ(e1000_rx_buffer_len(9000), 16384u);
}

TEST_F(driver_fixture, StandardMtuLeavesLongPacketsOff) {
    e1000_driver drv(dp);
    drv.open(*g);
    // EN | BAM | SECRC, BSIZE 00b (2048), no BSEX, no LPE: 0x04008002.
    EXPECT_EQ(dev->peek(reg::rctl), 0x0400'8002u);
    // A 1519-byte frame (1523 with FCS) is oversize for it.
    dev->receive(frame(1519, 1), 0);
    EXPECT_EQ(dev->stats().rx_oversize.value(), 1u);
    EXPECT_EQ(dev->stats().rx_frames.value(), 0u);
}

TEST_F(driver_fixture, JumboMtuSetsLongPacketEnableAndSixteenKibBuffers) {
    dp.mtu = 9000;
    dp.rx_buffer_bytes = e1000_rx_buffer_len(dp.mtu);
    dp.tx_buffer_bytes = 9014;
    e1000_driver drv(dp);
    drv.open(*g);
    // EN | LPE | BAM | BSIZE 01b | BSEX | SECRC: 0x2 | 0x20 | 0x8000 | 0x10000 | 0x02000000 |
    // 0x04000000 = 0x06018022; buffers of 1024 x 16 bytes.
    EXPECT_EQ(dev->peek(reg::rctl), 0x0601'8022u);
    EXPECT_EQ(rctl::buffer_size(dev->peek(reg::rctl)), 16384u);
    const auto request = frame(9014, 3);
    ASSERT_TRUE(drv.xmit(*g, request));
    ASSERT_EQ(tap.size(), 1u);
    EXPECT_EQ(tap[0], request);
    const auto reply = frame(9014, 9);
    dev->receive(reply, 0);
    const auto got = drv.wait_and_handle(*g);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], reply);
    EXPECT_EQ(dev->stats().rx_oversize.value(), 0u);
    // One descriptor: the whole frame in one 16 KiB buffer.
    EXPECT_EQ(dev->peek(reg::rdh), 1u);
}

}  // namespace
}  // namespace iovsim::emunic
