#include "traces/trace_buffer.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <variant>

namespace iovsim::traces {
namespace {

TEST(trace_buffer, declares_signals_in_order) {
    trace_buffer b;
    EXPECT_EQ(b.declare_signal("top.a", 1), 0u);
    EXPECT_EQ(b.declare_signal("top.b", 64), 1u);
    ASSERT_EQ(b.signals().size(), 2u);
    EXPECT_EQ(b.signal(1).name, "top.b");
    EXPECT_EQ(b.signal(1).width, 64u);
    EXPECT_EQ(b.signal(1).id, 1u);
    EXPECT_EQ(b.find_signal("top.a"), 0u);
    EXPECT_FALSE(b.find_signal("top.c").has_value());
}

TEST(trace_buffer, duplicate_signal_name_throws) {
    trace_buffer b;
    b.declare_signal("top.a", 1);
    EXPECT_THROW(b.declare_signal("top.a", 1), std::logic_error);
    EXPECT_THROW(b.declare_signal("top.a", 8), std::logic_error);
    EXPECT_EQ(b.signals().size(), 1u);
}

TEST(trace_buffer, width_outside_one_to_sixty_four_throws) {
    trace_buffer b;
    EXPECT_THROW(b.declare_signal("w0", 0), std::invalid_argument);
    EXPECT_THROW(b.declare_signal("w65", 65), std::invalid_argument);
    EXPECT_THROW(b.declare_signal("", 1), std::invalid_argument);
    EXPECT_TRUE(b.signals().empty());
}

TEST(trace_buffer, value_must_fit_width) {
    trace_buffer b;
    const auto bit = b.declare_signal("bit", 1);
    const auto byte = b.declare_signal("byte", 8);
    const auto word = b.declare_signal("word", 64);
    b.change(0, bit, 1);
    EXPECT_THROW(b.change(0, bit, 2), std::logic_error);  // 2 = 0b10 needs 2 bits
    b.change(0, byte, 255);                               // 2^8 - 1
    EXPECT_THROW(b.change(0, byte, 256), std::logic_error);
    b.change(0, word, ~std::uint64_t{0});
    EXPECT_EQ(b.size(), 3u);
}

TEST(trace_buffer, change_of_undeclared_signal_throws) {
    trace_buffer b;
    EXPECT_THROW(b.change(0, 0, 0), std::logic_error);
    EXPECT_THROW(b.change(0, no_signal, 0), std::logic_error);
    EXPECT_THROW(b.signal(3), std::logic_error);
    EXPECT_TRUE(b.empty());
}

TEST(trace_buffer, span_ending_before_it_begins_throws) {
    trace_buffer b;
    EXPECT_THROW(b.add_span({"t", "s", 0, 10, 9}), std::logic_error);
    b.add_span({"t", "zero length", 0, 10, 10});
    EXPECT_EQ(b.size(), 1u);
}

TEST(trace_buffer, sorted_orders_by_time_stably) {
    trace_buffer b;
    const auto s = b.declare_signal("s", 8);
    // Emitted out of order, as a loosely-timed initiator running ahead would.
    b.change(30, s, 1);                      // 0
    b.add_span({"dma", "read", 5, 10, 40});  // 1: ordered by begin = 10
    b.change(10, s, 2);                      // 2: same time as 1, emitted later
    b.add_instant({"irq", "msi", 0, 20});    // 3
    b.change(0, s, 3);                       // 4
    b.change(30, s, 4);                      // 5: same time as 0, emitted later

    const auto sorted = b.sorted();
    ASSERT_EQ(sorted.size(), 6u);
    // Expected: 4 (t=0), 1 (t=10), 2 (t=10), 3 (t=20), 0 (t=30), 5 (t=30).
    EXPECT_EQ(std::get<signal_change>(sorted[0]).value, 3u);
    EXPECT_EQ(std::get<span>(sorted[1]).name, "read");
    EXPECT_EQ(std::get<span>(sorted[1]).id, 5u);
    EXPECT_EQ(std::get<signal_change>(sorted[2]).value, 2u);
    EXPECT_EQ(std::get<instant>(sorted[3]).name, "msi");
    EXPECT_EQ(std::get<signal_change>(sorted[4]).value, 1u);
    EXPECT_EQ(std::get<signal_change>(sorted[5]).value, 4u);
    for (std::size_t i = 1; i < sorted.size(); ++i) {
        EXPECT_LE(time_of(sorted[i - 1]), time_of(sorted[i]));
    }
    // Emission order is kept alongside.
    EXPECT_EQ(std::get<signal_change>(b.events()[0]).value, 1u);
}

TEST(trace_buffer, clear_events_keeps_declarations) {
    trace_buffer b;
    const auto s = b.declare_signal("s", 1);
    b.change(0, s, 1);
    b.clear_events();
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.signals().size(), 1u);
    b.change(1, s, 0);
    EXPECT_EQ(b.size(), 1u);
}

TEST(trace_event, time_of_each_kind) {
    EXPECT_EQ(time_of(signal_change{7, 0, 0}), 7u);
    EXPECT_EQ(time_of(span{"t", "s", 0, 3, 9}), 3u);
    EXPECT_EQ(time_of(instant{"t", "i", 0, 5}), 5u);
}

}  // namespace
}  // namespace iovsim::traces
