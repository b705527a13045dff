// Jumbo frames on the platform side (nic.mtu): the queue driver's buffer size and region layout
// from the MTU (nic_queue_driver.h) and RXBUFSZ written at open (the keys' validation is in
// platform_params_test.cpp). Plain C++ only: the driver runs against a recording queue_bus.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "platform/nic_queue_driver.h"
#include "sriov-nic/nic_registers.h"

namespace iovsim::platform {
namespace {

namespace reg = nic::nic_reg;

TEST(nic_rx_buffer_bytes, two_kib_up_to_the_standard_mtu_then_the_frame_in_kib) {
    EXPECT_EQ(nic_rx_buffer_bytes(68), 2048u);
    EXPECT_EQ(nic_rx_buffer_bytes(1500), 2048u);
    // 1501 + 18 = 1519 B: one 1 KiB granule above 1024, 2048.
    EXPECT_EQ(nic_rx_buffer_bytes(1501), 2048u);
    // 2030 + 18 = 2048 B exactly; one byte more needs a third KiB.
    EXPECT_EQ(nic_rx_buffer_bytes(2030), 2048u);
    EXPECT_EQ(nic_rx_buffer_bytes(2031), 3072u);
    // 9000 + 18 = 9018 B: 8 KiB + 826 B, so 9 KiB.
    EXPECT_EQ(nic_rx_buffer_bytes(9000), 9216u);
    EXPECT_THROW(nic_rx_buffer_bytes(67), std::invalid_argument);
    EXPECT_THROW(nic_rx_buffer_bytes(9001), std::invalid_argument);
}

TEST(nic_queues_layout, standard_buffers_keep_the_512_kib_region) {
    nic_queues q;
    q.region = 0x1'0000'0000;
    EXPECT_EQ(q.buffer_bytes, 2048u);
    EXPECT_EQ(q.tx_ring(), q.region);
    EXPECT_EQ(q.rx_ring(), q.region + 0x1000);
    EXPECT_EQ(q.tx_buf(0), q.region + 0x10000);
    EXPECT_EQ(q.tx_buf(1), q.region + 0x10000 + 2048);
    EXPECT_EQ(q.rx_buf(0), q.region + 0x40000);
    EXPECT_EQ(q.region_bytes(), 0x80000u);
}

TEST(nic_queues_layout, jumbo_buffers_grow_the_region_without_overlap) {
    nic_queues q;
    q.region = 0x10'0000;
    q.buffer_bytes = nic_rx_buffer_bytes(9000);  // 9216
    // 64 buffers of 9216 B = 589,824 B = 0x90000 (already 64 KiB aligned): the TX buffers span
    // 0x10000..0xa0000, the RX buffers 0xa0000..0x130000.
    EXPECT_EQ(q.tx_buf(0), q.region + 0x10000);
    EXPECT_EQ(q.rx_buf(0), q.region + 0xa0000);
    EXPECT_EQ(q.region_bytes(), 0x130000u);
    const std::uint32_t last = nic_queue_ring - 1;
    EXPECT_LE(q.rx_ring() + nic_queue_ring * 16, q.tx_buf(0));
    EXPECT_LE(q.tx_buf(last) + q.buffer_bytes, q.rx_buf(0));
    EXPECT_LE(q.rx_buf(last) + q.buffer_bytes, q.region + q.region_bytes());
}

// The driver's accesses: register writes kept by offset, STATUS reading TX and RX active.
class recording_bus final : public queue_bus {
public:
    void mem_read(std::uint64_t, void* d, std::uint32_t n) override {
        std::fill_n(static_cast<std::uint8_t*>(d), n, 0);
    }
    void mem_write(std::uint64_t a, const void*, std::uint32_t n) override {
        writes.push_back({a, n});
    }
    std::uint32_t mmio_read32(std::uint64_t a) override {
        return a == bar0 + reg::status ? reg::status_bits::tx_active | reg::status_bits::rx_active
                                       : 0;
    }
    void mmio_write32(std::uint64_t a, std::uint32_t v) override { regs[a - bar0].push_back(v); }

    static constexpr std::uint64_t bar0 = 0xf000'0000;
    std::map<std::uint64_t, std::vector<std::uint32_t>> regs;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> writes;
};

TEST(nic_queue_driver, open_writes_rxbufsz_only_for_jumbo_buffers) {
    {
        recording_bus b;
        nic_queues q;
        q.bar0 = recording_bus::bar0;
        open_queues(b, q, "test");
        EXPECT_EQ(b.regs.count(reg::rxbufsz), 0u);  // the reset value, 2048, is right
    }
    recording_bus b;
    nic_queues q;
    q.bar0 = recording_bus::bar0;
    q.buffer_bytes = 9216;
    open_queues(b, q, "test");
    ASSERT_EQ(b.regs.count(reg::rxbufsz), 1u);
    EXPECT_EQ(b.regs[reg::rxbufsz], std::vector<std::uint32_t>{9216});
    // A 9014 B frame (9018 with FCS) fits a buffer; one more byte than a buffer does not.
    EXPECT_NO_THROW(post_tx(b, q, std::vector<std::uint8_t>(9014)));
    EXPECT_THROW(post_tx(b, q, std::vector<std::uint8_t>(9217)), std::invalid_argument);
}

}  // namespace
}  // namespace iovsim::platform
