#include "models/cpu/lapic.h"

#include <gtest/gtest.h>

namespace iovsim::cpu {
namespace {

TEST(Lapic, AcceptDeliverEoi) {
    lapic a;
    EXPECT_FALSE(a.deliverable());
    EXPECT_TRUE(a.accept(0x41));
    EXPECT_TRUE(a.irr(0x41));
    EXPECT_EQ(a.deliver(), 0x41);
    EXPECT_FALSE(a.irr(0x41));
    EXPECT_TRUE(a.isr(0x41));
    EXPECT_EQ(a.eoi(), 0x41);
    EXPECT_FALSE(a.isr(0x41));
    EXPECT_EQ(a.accepted(), 1u);
    EXPECT_EQ(a.delivered(), 1u);
}

TEST(Lapic, HighestPriorityFirstAndAPendingVectorIsOneRequest) {
    lapic a;
    a.accept(0x31);
    a.accept(0x52);
    a.accept(0x52);
    a.accept(0x50);
    EXPECT_EQ(a.highest_irr(), 0x52);
    EXPECT_EQ(a.deliver(), 0x52);
    // 0x50 is in class 5, the in-service class: blocked until the EOI.
    EXPECT_FALSE(a.deliver());
    EXPECT_EQ(a.eoi(), 0x52);
    EXPECT_EQ(a.deliver(), 0x50);
    EXPECT_EQ(a.eoi(), 0x50);
    EXPECT_EQ(a.deliver(), 0x31);
    EXPECT_EQ(a.eoi(), 0x31);
    EXPECT_FALSE(a.deliver());  // 0x52 was pending once, not twice
}

TEST(Lapic, HigherClassNestsAndEoiClearsTheHighestIsrBit) {
    lapic a;
    a.accept(0x30);
    EXPECT_EQ(a.deliver(), 0x30);
    a.accept(0x2f);  // class 2 < in-service class 3
    EXPECT_FALSE(a.deliver());
    a.accept(0x40);  // class 4 > 3: nests
    EXPECT_EQ(a.deliver(), 0x40);
    EXPECT_EQ(a.ppr(), 0x40);
    EXPECT_EQ(a.eoi(), 0x40);  // highest ISR bit first
    EXPECT_TRUE(a.isr(0x30));
    EXPECT_EQ(a.eoi(), 0x30);
    EXPECT_EQ(a.deliver(), 0x2f);
}

TEST(Lapic, TaskPriorityMasksLowerClasses) {
    lapic a;
    a.set_tpr(0x50);
    a.accept(0x5f);  // class 5, not above PPR class 5
    EXPECT_FALSE(a.deliver());
    a.accept(0x60);
    EXPECT_EQ(a.deliver(), 0x60);
    // PPR: the ISR class 6 is above the TPR class 5 -> 0x60.
    EXPECT_EQ(a.ppr(), 0x60);
    a.eoi();
    EXPECT_EQ(a.ppr(), 0x50);  // back to TPR
    a.set_tpr(0);
    EXPECT_EQ(a.deliver(), 0x5f);
}

TEST(Lapic, BoundaryVectors) {
    lapic a;
    EXPECT_TRUE(a.accept(16));
    EXPECT_TRUE(a.accept(255));
    EXPECT_TRUE(a.accept(64));
    EXPECT_TRUE(a.accept(63));
    EXPECT_EQ(a.deliver(), 255);
    EXPECT_EQ(a.eoi(), 255);
    EXPECT_EQ(a.deliver(), 64);
    EXPECT_EQ(a.eoi(), 64);
    EXPECT_EQ(a.deliver(), 63);
    EXPECT_EQ(a.eoi(), 63);
    EXPECT_EQ(a.deliver(), 16);
}

TEST(Lapic, IllegalVectorsAndSpuriousEoisAreCounted) {
    lapic a;
    EXPECT_FALSE(a.accept(0));
    EXPECT_FALSE(a.accept(15));
    EXPECT_FALSE(a.irr(15));
    EXPECT_EQ(a.illegal_vectors(), 2u);
    EXPECT_EQ(a.accepted(), 0u);
    EXPECT_FALSE(a.eoi());
    EXPECT_EQ(a.spurious_eois(), 1u);
}

TEST(DeliveryMode, NamesAndExitsPerMode) {
    for (delivery_mode m : {delivery_mode::exit, delivery_mode::apicv, delivery_mode::posted})
        EXPECT_EQ(parse_delivery_mode(to_string(m)), m);
    EXPECT_FALSE(parse_delivery_mode("msi"));
    EXPECT_EQ(
        interrupt_exits(delivery_mode::exit),
        (std::vector<exit_reason>{exit_reason::external_interrupt, exit_reason::apic_access}));
    EXPECT_EQ(interrupt_exits(delivery_mode::apicv),
              (std::vector<exit_reason>{exit_reason::external_interrupt}));
    EXPECT_TRUE(interrupt_exits(delivery_mode::posted).empty());
    // A halted vCPU is already out of guest mode: only an exiting EOI is left.
    EXPECT_EQ(exits_per_interrupt(delivery_mode::exit, vcpu_activity::halted), 1u);
    EXPECT_EQ(exits_per_interrupt(delivery_mode::apicv, vcpu_activity::halted), 0u);
    EXPECT_EQ(exits_per_interrupt(delivery_mode::posted, vcpu_activity::halted), 0u);
}

}  // namespace
}  // namespace iovsim::cpu
