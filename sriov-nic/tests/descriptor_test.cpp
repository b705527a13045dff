#include "sriov-nic/descriptor.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace iovsim::nic {
namespace {

TEST(Descriptor, TxLayout) {
    tx_descriptor d;
    d.buffer_address = 0x0000001234567890ull;
    d.length = 1514;  // 0x05ea
    d.cmd = tx_cmd::eop | tx_cmd::rs | tx_cmd::ifcs;
    d.vlan = 0xa064;
    const descriptor_bytes_t b = d.encode();
    const descriptor_bytes_t want = {0x90, 0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x00,
                                     0xea, 0x05, 0x07, 0x00, 0x64, 0xa0, 0x00, 0x00};
    EXPECT_EQ(b, want);
    const tx_descriptor e = tx_descriptor::decode(b);
    EXPECT_EQ(e.buffer_address, d.buffer_address);
    EXPECT_EQ(e.length, 1514);
    EXPECT_EQ(e.cmd, 0x07);
    EXPECT_EQ(e.vlan, 0xa064);
    EXPECT_EQ(e.status, 0);
    // The write-back sets DD in byte 11.
    descriptor_bytes_t wb = b;
    wb[tx_descriptor::status_offset] = desc_status::dd;
    EXPECT_TRUE(tx_descriptor::decode(wb).status & desc_status::dd);
}

TEST(Descriptor, RxLayoutAndWriteBack) {
    rx_descriptor d;
    d.buffer_address = 0x100000000ull;
    d.length = 60;
    d.status = desc_status::dd | desc_status::eop | desc_status::vp;
    d.errors = rx_error::le;
    d.vlan = 7;
    const descriptor_bytes_t b = d.encode();
    const descriptor_bytes_t want = {0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                     60,   0x00, 0x00, 0x00, 0x07, 0x02, 0x07, 0x00};
    EXPECT_EQ(b, want);
    const rx_descriptor e = rx_descriptor::decode(b);
    EXPECT_EQ(e.buffer_address, d.buffer_address);
    EXPECT_EQ(e.length, 60);
    EXPECT_EQ(e.status, 0x07);
    EXPECT_EQ(e.errors, 0x02);
    EXPECT_EQ(e.vlan, 7);
    EXPECT_EQ(rx_descriptor::writeback_offset + rx_descriptor::writeback_bytes, descriptor_bytes);
}

TEST(DescriptorRing, IndexMathWrapsAround) {
    const descriptor_ring r(0x10000, 8);
    EXPECT_EQ(r.bytes(), 128u);  // 8 × 16
    EXPECT_EQ(r.next(6), 7u);
    EXPECT_EQ(r.next(7), 0u);
    EXPECT_EQ(r.advance(6, 5), 3u);  // (6 + 5) mod 8
    EXPECT_TRUE(r.empty(3, 3));
    EXPECT_EQ(r.pending(3, 3), 0u);
    EXPECT_EQ(r.free_slots(3, 3), 7u);  // one slot always empty
    // Head 6, tail 2: slots 6, 7, 0, 1 are the NIC's = (2 - 6) mod 8 = 4.
    EXPECT_EQ(r.pending(6, 2), 4u);
    EXPECT_EQ(r.free_slots(6, 2), 3u);
    // Full: tail one behind head.
    EXPECT_TRUE(r.full(3, 2));
    EXPECT_EQ(r.pending(3, 2), 7u);
    EXPECT_EQ(r.free_slots(3, 2), 0u);
    EXPECT_TRUE(r.full(0, 7));
    EXPECT_FALSE(r.full(0, 6));
    EXPECT_EQ(r.address(0), 0x10000u);
    EXPECT_EQ(r.address(7), 0x10000u + 7 * 16);
    EXPECT_TRUE(r.valid_index(7));
    EXPECT_FALSE(r.valid_index(8));
}

TEST(DescriptorRing, ConsumingAroundTheRing) {
    descriptor_ring r(0, 16);
    std::uint32_t head = 14, tail = 14;
    tail = r.advance(tail, 5);  // driver posts 5: tail = 19 mod 16 = 3
    EXPECT_EQ(tail, 3u);
    EXPECT_EQ(r.pending(head, tail), 5u);
    for (int i = 0; i < 5; ++i) head = r.next(head);  // NIC consumes 14, 15, 0, 1, 2
    EXPECT_EQ(head, 3u);
    EXPECT_TRUE(r.empty(head, tail));
}

TEST(DescriptorRing, BadGeometry) {
    EXPECT_THROW(descriptor_ring(0, 0), std::invalid_argument);
    EXPECT_THROW(descriptor_ring(0, 4), std::invalid_argument);
    EXPECT_THROW(descriptor_ring(0, 24), std::invalid_argument);
    EXPECT_THROW(descriptor_ring(0, 65536), std::invalid_argument);
    EXPECT_THROW(descriptor_ring(64, 8), std::invalid_argument);  // not 128-byte aligned
    EXPECT_NO_THROW(descriptor_ring(128, 32768));
}

}  // namespace
}  // namespace iovsim::nic
