#include "models/cpu/posted_interrupt.h"

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>

namespace iovsim::cpu {
namespace {

constexpr std::uint64_t pid_addr = 0x1'0000'1040;  // 64-byte aligned, above 4 GiB

class PostedInterrupt : public ::testing::Test {
protected:
    std::uint8_t byte(unsigned offset) {
        std::uint8_t b = 0;
        m_store.read(pid_addr + offset, &b, 1);
        return b;
    }

    mem::sparse_store m_store;
    sparse_store_memory m_mem{m_store};
    posted_interrupt_descriptor m_pid{m_mem, pid_addr};
};

TEST_F(PostedInterrupt, InitAndLoadWriteTheSpecLayout) {
    m_pid.init(posted_intr_vector, 0);
    // SN is bit 257: byte 32, bit 1.
    EXPECT_EQ(byte(32), 0x02);
    EXPECT_EQ(byte(34), 0xf2);  // NV, bits 279:272
    m_pid.vcpu_load(0x0a0b0c0d, posted_intr_vector);
    EXPECT_EQ(byte(32), 0x00);  // SN clear, ON clear (PIR empty)
    // NDST, bits 319:288 = bytes 36..39, little-endian.
    EXPECT_EQ(byte(36), 0x0d);
    EXPECT_EQ(byte(37), 0x0c);
    EXPECT_EQ(byte(38), 0x0b);
    EXPECT_EQ(byte(39), 0x0a);
    EXPECT_EQ(m_pid.ndst(), 0x0a0b0c0du);
    EXPECT_EQ(m_pid.nv(), 0xf2);
    EXPECT_FALSE(m_pid.sn());
    EXPECT_FALSE(m_pid.on());
}

TEST_F(PostedInterrupt, PostToARunningVcpuNotifiesOnce) {
    m_pid.init(posted_intr_vector, 0);
    m_pid.vcpu_load(3, posted_intr_vector);
    const auto first = m_pid.post(0x41);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->vector, 0xf2);
    EXPECT_EQ(first->ndst, 3u);
    // Vector 0x41 = 65: byte 8, bit 1. ON (bit 256): byte 32, bit 0.
    EXPECT_EQ(byte(8), 0x02);
    EXPECT_EQ(byte(32), 0x01);
    // ON already set: the second post only sets its PIR bit.
    EXPECT_EQ(m_pid.highest_pir(), 0x41);
    EXPECT_FALSE(m_pid.post(0x80));
    EXPECT_TRUE(m_pid.pir(0x80));
    EXPECT_EQ(m_pid.highest_pir(), 0x80);  // bit 128: byte 16, bit 0
    EXPECT_EQ(byte(16), 0x01);

    lapic apic;
    EXPECT_EQ(m_pid.sync_to_irr(apic), 2u);
    EXPECT_TRUE(apic.irr(0x41));
    EXPECT_TRUE(apic.irr(0x80));
    EXPECT_FALSE(m_pid.on());
    EXPECT_TRUE(m_pid.pir_empty());
    EXPECT_FALSE(m_pid.highest_pir());
    EXPECT_EQ(m_pid.sync_to_irr(apic), 0u);  // ON clear: nothing to do
    // The next post notifies again.
    EXPECT_TRUE(m_pid.post(0x42));
}

TEST_F(PostedInterrupt, PreemptedVcpuIsNotNotifiedUntilLoaded) {
    m_pid.init(posted_intr_vector, 0);
    m_pid.vcpu_load(1, posted_intr_vector);
    m_pid.vcpu_put_preempted();
    EXPECT_TRUE(m_pid.sn());
    EXPECT_FALSE(m_pid.post(0x41));
    EXPECT_TRUE(m_pid.pir(0x41));
    EXPECT_FALSE(m_pid.on());  // SN set: ON stays clear
    // Scheduled again on CPU 2: SN clear, and ON set because PIR holds a request.
    m_pid.vcpu_load(2, posted_intr_vector);
    EXPECT_FALSE(m_pid.sn());
    EXPECT_TRUE(m_pid.on());
    EXPECT_EQ(m_pid.ndst(), 2u);
    lapic apic;
    EXPECT_EQ(m_pid.sync_to_irr(apic), 1u);
    EXPECT_EQ(apic.deliver(), 0x41);
}

TEST_F(PostedInterrupt, BlockedVcpuIsWokenThroughTheWakeupVector) {
    m_pid.init(posted_intr_vector, 0);
    m_pid.vcpu_load(1, posted_intr_vector);
    m_pid.block(posted_intr_wakeup_vector);
    EXPECT_EQ(byte(34), 0xf1);
    const auto note = m_pid.post(0x41);
    ASSERT_TRUE(note);
    EXPECT_EQ(note->vector, 0xf1);  // the host's wake-up handler
    EXPECT_EQ(note->ndst, 1u);
    // Woken and loaded: NV back to the notification vector.
    m_pid.vcpu_load(1, posted_intr_vector);
    EXPECT_EQ(m_pid.nv(), 0xf2);
}

TEST_F(PostedInterrupt, IllegalVectorsAreDroppedOnSync) {
    m_pid.init(posted_intr_vector, 0);
    m_pid.vcpu_load(0, posted_intr_vector);
    m_pid.post(5);
    m_pid.post(0x30);
    lapic apic;
    EXPECT_EQ(m_pid.sync_to_irr(apic), 1u);
    EXPECT_EQ(apic.illegal_vectors(), 1u);
    EXPECT_TRUE(m_pid.pir_empty());
}

TEST(PostedInterruptErrors, MisalignedAndOutOfRange) {
    mem::sparse_store store(1 << 20);
    sparse_store_memory mem(store);
    EXPECT_THROW(posted_interrupt_descriptor(mem, 0x1020), std::invalid_argument);
    posted_interrupt_descriptor beyond(mem, 1 << 20);  // starts at the end of the store
    EXPECT_THROW(beyond.init(posted_intr_vector, 0), std::logic_error);
    EXPECT_THROW(beyond.post(0x41), std::logic_error);
}

TEST(PostedInterruptNdst, XapicAndX2apic) {
    EXPECT_EQ(ndst_for(3, false), 0x300u);  // xAPIC: ID in bits 15:8
    EXPECT_EQ(ndst_for(0x12345, true), 0x12345u);
}

}  // namespace
}  // namespace iovsim::cpu
